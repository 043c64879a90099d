/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Synthetic PE/COFF images for the PE tests, the fuzz seeds and the benchmark: a DOS stub, PE
 * headers (PE32 or PE32+), n sections with patterned raw data, optional .sbat text and
 * trailing bytes after the last section. Field offsets are exported so tests can corrupt
 * exactly one field. */
#pragma once

#include <glib.h>

typedef struct {
  gboolean pe32plus;        /* PE32+ (x86_64) or PE32 (i386) */
  guint n_sections;         /* at least 1 */
  gsize section_size;       /* raw bytes per section (rounded up to 0x200) */
  const char *sbat;         /* text of a .sbat section (added as the last section), or NULL */
  gsize trailing;           /* bytes after the last section (not a multiple of 8: tests padding) */
} PeGenSpec;

#define PEGEN_LFANEW 0x40
#define PEGEN_OPT (PEGEN_LFANEW + 4 + 20)

/* Offsets of fields in a generated image. */
gsize pegen_sections_offset(gboolean pe32plus); /* first section header */
gsize pegen_dirs_offset(gboolean pe32plus);     /* DataDirectory[0] */

GByteArray *pegen_build(const PeGenSpec *spec);

static inline void
pegen_put32(GByteArray *b, gsize off, guint32 v)
{
  b->data[off] = (guint8)v;
  b->data[off + 1] = (guint8)(v >> 8);
  b->data[off + 2] = (guint8)(v >> 16);
  b->data[off + 3] = (guint8)(v >> 24);
}

static inline void
pegen_put16(GByteArray *b, gsize off, guint16 v)
{
  b->data[off] = (guint8)v;
  b->data[off + 1] = (guint8)(v >> 8);
}
