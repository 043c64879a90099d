/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one convention for an enum's names: a table indexed by the value, and the functions
 * generated from it by one macro, so that adding a value touches only the enum and its table
 * (a table one entry short fails to build: its size is checked against the count). Private to
 * libvsboot (not installed).
 *
 *   static const char *const mode_names[VSB_MODE_COUNT] = { "split", "combined" };
 *   VSB_ENUM_NAMES(vsb_mode, VsbMode, mode_names, VSB_MODE_COUNT, "(invalid)")
 *
 * defines  const char *vsb_mode_name(VsbMode v)         the table's name, or the fallback
 *          int vsb_mode_from_name(const char *name)     the value, or -1 (also for NULL)
 * VSB_ENUM_NAME_ONLY defines only the first, for enums nobody parses. */
#pragma once

#include <glib.h>
#include <string.h>

static inline const char *
vsb_enum_name(const char *const *names, int count, int value, const char *fallback)
{
  if (value < 0 || value >= count || names[value] == NULL)
    return fallback;
  return names[value];
}

static inline int
vsb_enum_from_name(const char *const *names, int count, const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < count; i++)
    if (names[i] != NULL && strcmp(names[i], name) == 0)
      return i;
  return -1;
}

#define VSB_ENUM_NAME_ONLY(prefix, type, table, count, fallback)                                 \
  G_STATIC_ASSERT(G_N_ELEMENTS(table) == (count));                                               \
  const char *prefix##_name(type v) { return vsb_enum_name(table, (int)(count), (int)v, fallback); }

#define VSB_ENUM_NAMES(prefix, type, table, count, fallback)                                     \
  VSB_ENUM_NAME_ONLY(prefix, type, table, count, fallback)                                       \
  int prefix##_from_name(const char *name) { return vsb_enum_from_name(table, (int)(count), name); }
