/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/ucs2.h"
#include "util/le.h"

char *
vsb_ucs2_to_utf8(const guint8 *p, gsize bytes, GError **error)
{
  gsize units = bytes / 2;
  g_autofree gunichar2 *u = g_new0(gunichar2, units + 1);
  gsize n = 0;
  for (; n < units; n++) {
    u[n] = vsb_le16(p + 2 * n);
    if (u[n] == 0)
      break;
  }
  return g_utf16_to_utf8(u, (glong)n, NULL, NULL, error);
}

guint8 *
vsb_utf8_to_ucs2(const char *s, gboolean with_nul, gsize *bytes_out)
{
  glong n = 0;
  g_autofree gunichar2 *u = g_utf8_to_utf16(s, -1, NULL, &n, NULL);
  if (u == NULL)
    return NULL;
  gsize units = (gsize)n + (with_nul ? 1 : 0);
  guint8 *out = g_malloc0(units * 2 + 1);
  for (gsize i = 0; i < (gsize)n; i++)
    vsb_put_le16(out + 2 * i, u[i]);
  *bytes_out = units * 2;
  return out;
}
