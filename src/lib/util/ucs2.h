/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place for UCS-2 (little-endian UTF-16 as UEFI stores it: variable names, load option
 * descriptions, firmware user-interface and version sections) to and from UTF-8. Private to
 * libvsboot (not installed). */
#pragma once

#include <glib.h>

/* UTF-8 of the little-endian UCS-2 text in the first bytes bytes of p, up to its first NUL
 * (or the end; an odd last byte is ignored). NULL (error set when error is not NULL, with the
 * converter's reason) when it is not valid UTF-16, e.g. an unpaired surrogate. */
char *vsb_ucs2_to_utf8(const guint8 *p, gsize bytes, GError **error);

/* Little-endian UCS-2 of the UTF-8 text s, with a terminating NUL when with_nul; *bytes_out
 * receives its length in bytes. NULL when s is not valid UTF-8. */
guint8 *vsb_utf8_to_ucs2(const char *s, gboolean with_nul, gsize *bytes_out);
