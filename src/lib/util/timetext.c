/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/timetext.h"
#include "util/le.h"

#include <string.h>

char *
vsb_time_text_tm(const struct tm *tm)
{
  return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm->tm_year + 1900, tm->tm_mon + 1,
                         tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
}

char *
vsb_time_text_asn1(const ASN1_TIME *t, const char *fallback)
{
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
    return g_strdup(fallback);
  return vsb_time_text_tm(&tm);
}

char *
vsb_time_text_efi(const VsbEfiTime *t)
{
  static const VsbEfiTime zero;
  if (memcmp(t, &zero, sizeof zero) == 0)
    return NULL;
  return g_strdup_printf("%04u-%02u-%02uT%02u:%02u:%02uZ", t->year, t->month, t->day, t->hour,
                         t->minute, t->second);
}

void
vsb_efi_time_read(const guint8 *p, VsbEfiTime *t)
{
  t->year = vsb_le16(p);
  t->month = p[2];
  t->day = p[3];
  t->hour = p[4];
  t->minute = p[5];
  t->second = p[6];
  t->pad1 = p[7];
  t->nanosecond = vsb_le32(p + 8);
  t->timezone = (gint16)vsb_le16(p + 12);
  t->daylight = p[14];
  t->pad2 = p[15];
}

void
vsb_efi_time_write(guint8 *p, const VsbEfiTime *t)
{
  vsb_put_le16(p, t->year);
  p[2] = t->month;
  p[3] = t->day;
  p[4] = t->hour;
  p[5] = t->minute;
  p[6] = t->second;
  p[7] = t->pad1;
  vsb_put_le32(p + 8, t->nanosecond);
  vsb_put_le16(p + 12, (guint16)t->timezone);
  p[14] = t->daylight;
  p[15] = t->pad2;
}
