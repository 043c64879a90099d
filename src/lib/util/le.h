/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place for little-endian integers in on-disk and on-wire formats (PE/COFF, firmware
 * volumes, edk2 variable stores, EFI_TIME, signature lists, authenticated variables): every
 * UEFI structure is little-endian whatever the host is, so a field is read byte by byte and
 * never through a cast of a possibly unaligned pointer. Private to libvsboot (not installed).
 * The caller has checked that the bytes exist. */
#pragma once

#include <glib.h>

static inline guint16
vsb_le16(const guint8 *p)
{
  return (guint16)(p[0] | p[1] << 8);
}

/* The 24-bit sizes of firmware file and section headers. */
static inline guint32
vsb_le24(const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16;
}

static inline guint32
vsb_le32(const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static inline guint64
vsb_le64(const guint8 *p)
{
  return (guint64)vsb_le32(p) | (guint64)vsb_le32(p + 4) << 32;
}

static inline void
vsb_put_le16(guint8 *p, guint16 v)
{
  p[0] = (guint8)v;
  p[1] = (guint8)(v >> 8);
}

static inline void
vsb_put_le32(guint8 *p, guint32 v)
{
  vsb_put_le16(p, (guint16)v);
  vsb_put_le16(p + 2, (guint16)(v >> 16));
}

static inline void
vsb_put_le64(guint8 *p, guint64 v)
{
  vsb_put_le32(p, (guint32)v);
  vsb_put_le32(p + 4, (guint32)(v >> 32));
}

/* The 16-bit sum of the little-endian words of len bytes (edk2's CalculateSum16; an odd last
 * byte is not summed): a firmware volume header is valid when it is 0. */
static inline guint16
vsb_le16_sum(const guint8 *p, gsize len)
{
  guint16 sum = 0;
  for (gsize i = 0; i + 1 < len; i += 2)
    sum = (guint16)(sum + vsb_le16(p + i));
  return sum;
}
