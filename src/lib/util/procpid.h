/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one reading of a /proc directory entry as a process: a name that is a whole positive
 * decimal number fitting an int is a pid; "self", "sys" and the like are not. Private to
 * libvsboot (not installed). */
#pragma once

#include <glib.h>
#include <stdlib.h>

/* name's pid, or 0 when name is not a process's directory. */
static inline int
vsb_proc_entry_pid(const char *name)
{
  char *end = NULL;
  long pid = strtol(name, &end, 10);
  if (end == name || *end != '\0' || pid <= 0 || pid > G_MAXINT)
    return 0;
  return (int)pid;
}
