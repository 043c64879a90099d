/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one way libvsboot closes a file descriptor it owns: VSB_AUTOFD declares an int that is
 * closed on every return path (GLib's g_autofd needs 2.76; Debian 12 has 2.74). errno survives
 * the close, so a failure path can still report it. Private to libvsboot (not installed).
 *
 *   VSB_AUTOFD fd = open(path, O_RDONLY | O_CLOEXEC);
 *   ...  return vsb_steal_fd(&fd);     hand it on instead of closing */
#pragma once

#include <errno.h>
#include <unistd.h>

static inline void
vsb_close_fd(int *fd)
{
  if (*fd >= 0) {
    int e = errno;
    (void)close(*fd);
    errno = e;
    *fd = -1;
  }
}

static inline int
vsb_steal_fd(int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#define VSB_AUTOFD __attribute__((cleanup(vsb_close_fd))) int
