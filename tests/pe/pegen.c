/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pegen.h"

#include <string.h>

#define FILE_ALIGN 0x200
#define SECT_ALIGN 0x1000

static gsize
align(gsize v, gsize a)
{
  return (v + a - 1) & ~(a - 1);
}

gsize
pegen_dirs_offset(gboolean pe32plus)
{
  return PEGEN_OPT + (pe32plus ? 112 : 96);
}

gsize
pegen_sections_offset(gboolean pe32plus)
{
  return pegen_dirs_offset(pe32plus) + 16 * 8;
}

GByteArray *
pegen_build(const PeGenSpec *spec)
{
  guint nsec = MAX(spec->n_sections, 1u) + (spec->sbat ? 1 : 0);
  gsize sec_hdrs = pegen_sections_offset(spec->pe32plus);
  gsize headers = align(sec_hdrs + 40 * (gsize)nsec, FILE_ALIGN);
  gsize raw = align(MAX(spec->section_size, 1u), FILE_ALIGN);
  gsize sbat_raw = spec->sbat ? align(strlen(spec->sbat) + 1, FILE_ALIGN) : 0;
  gsize total = headers + raw * (nsec - (spec->sbat ? 1 : 0)) + sbat_raw + spec->trailing;
  GByteArray *b = g_byte_array_sized_new((guint)total);
  g_byte_array_set_size(b, (guint)total);
  memset(b->data, 0, total);

  b->data[0] = 'M';
  b->data[1] = 'Z';
  pegen_put32(b, 0x3c, PEGEN_LFANEW);
  memcpy(b->data + PEGEN_LFANEW, "PE\0\0", 4);
  gsize fh = PEGEN_LFANEW + 4;
  pegen_put16(b, fh, spec->pe32plus ? 0x8664 : 0x014c);
  pegen_put16(b, fh + 2, (guint16)nsec);
  pegen_put32(b, fh + 4, 0x5f5e1000); /* TimeDateStamp */
  pegen_put16(b, fh + 16, (guint16)(pegen_sections_offset(spec->pe32plus) - PEGEN_OPT));
  pegen_put16(b, fh + 18, spec->pe32plus ? 0x0206 : 0x0306);

  gsize o = PEGEN_OPT;
  pegen_put16(b, o, spec->pe32plus ? 0x20b : 0x10b);
  b->data[o + 2] = 2; /* linker version */
  pegen_put32(b, o + 4, (guint32)raw);              /* SizeOfCode */
  pegen_put32(b, o + 16, SECT_ALIGN);                /* AddressOfEntryPoint */
  pegen_put32(b, o + 20, SECT_ALIGN);                /* BaseOfCode */
  if (spec->pe32plus) {
    pegen_put32(b, o + 24, 0x00400000);             /* ImageBase (u64) */
  } else {
    pegen_put32(b, o + 28, 0x00400000);
  }
  pegen_put32(b, o + 32, SECT_ALIGN);
  pegen_put32(b, o + 36, FILE_ALIGN);
  gsize image_size = SECT_ALIGN + (gsize)nsec * align(MAX(raw, sbat_raw), SECT_ALIGN);
  pegen_put32(b, o + 56, (guint32)image_size);       /* SizeOfImage */
  pegen_put32(b, o + 60, (guint32)headers);          /* SizeOfHeaders */
  pegen_put16(b, o + 68, 10);                        /* EFI application */
  gsize nd = pegen_dirs_offset(spec->pe32plus) - 4;
  pegen_put32(b, nd, 16);                            /* NumberOfRvaAndSizes */

  gsize pos = headers;
  guint32 rva = SECT_ALIGN;
  for (guint i = 0; i < nsec; i++) {
    gboolean is_sbat = spec->sbat && i == nsec - 1;
    gsize s = sec_hdrs + 40 * (gsize)i;
    const char *name = is_sbat ? ".sbat" : i == 0 ? ".text" : i == 1 ? ".data" : ".rdata";
    memcpy(b->data + s, name, strlen(name));
    gsize r = is_sbat ? sbat_raw : raw;
    pegen_put32(b, s + 8, (guint32)(is_sbat ? strlen(spec->sbat) : r)); /* VirtualSize */
    pegen_put32(b, s + 12, rva);
    pegen_put32(b, s + 16, (guint32)r);
    pegen_put32(b, s + 20, (guint32)pos);
    pegen_put32(b, s + 36, i == 0 ? 0x60000020 : 0x40000040);
    if (is_sbat) {
      memcpy(b->data + pos, spec->sbat, strlen(spec->sbat));
    } else {
      guint32 x = 0x9e3779b9u * (i + 1);
      for (gsize k = 0; k < r; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b->data[pos + k] = (guint8)x;
      }
    }
    pos += r;
    rva += (guint32)align(r, SECT_ALIGN);
  }
  for (gsize k = 0; k < spec->trailing; k++)
    b->data[pos + k] = (guint8)(0xa5 ^ k);
  return b;
}
