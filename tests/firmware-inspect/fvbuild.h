/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builders for synthetic firmware volumes (PI spec vol. 3 layouts), for the firmware-inspect
 * tests and the fv fuzzer's seed corpus. Every function returns a new GByteArray. */
#pragma once

#include <glib.h>
#include "vsboot/guid.h"

/* A section with EFI_COMMON_SECTION_HEADER (or HEADER2 when large or forced). */
GByteArray *fvb_section(guint8 type, const void *data, gsize len, gboolean header2);
/* EFI_SECTION_USER_INTERFACE holding name in UCS-2. */
GByteArray *fvb_ui(const char *name);
/* EFI_SECTION_VERSION. */
GByteArray *fvb_version(guint16 build, const char *text);
/* EFI_SECTION_PE32 with a minimal MZ/PE header for machine, followed by extra bytes. */
GByteArray *fvb_pe32(guint16 machine, const void *extra, gsize extra_len);
/* EFI_SECTION_TE with machine. */
GByteArray *fvb_te(guint16 machine);
/* Concatenate sections with 4-byte alignment; consumes the NULL-terminated list. */
GByteArray *fvb_concat(GByteArray *first, ...) G_GNUC_NULL_TERMINATED;
/* EFI_GUID_DEFINED_SECTION with edk2's LZMA custom-decompress GUID; declared == 0 writes the
 * real size into the 13-byte header, anything else lies about it. truncate > 0 cuts that many
 * bytes off the compressed stream. Consumes inner. */
GByteArray *fvb_lzma_section(GByteArray *inner, guint64 declared, gsize truncate);
/* The same with edk2's LzmaF86 GUID: x86 BCJ filter, then LZMA. Consumes inner. */
GByteArray *fvb_lzmaf86_section(GByteArray *inner);
/* GUID-defined section with another GUID (not decoded by vsboot when processing required). */
GByteArray *fvb_guided_section(const VsbGuid *guid, guint16 attributes, GByteArray *inner);
/* EFI_COMPRESSION_SECTION with CompressionType 0 (not compressed) or 1 (standard, body as is). */
GByteArray *fvb_compression_section(guint8 type, GByteArray *inner);
/* An FFS file; large: EFI_FFS_FILE_HEADER2 (FFS3 volumes only). Consumes sections. */
GByteArray *fvb_file(const char *guid, guint8 type, GByteArray *sections, gboolean large);
/* A firmware volume of the given files (NULL-terminated, consumed); fs: FFS2 or FFS3 GUID;
 * name: FvName for an extended header, or NULL. Erase polarity 1. */
GByteArray *fvb_volume(const VsbGuid *fs, const char *name, GByteArray *file, ...)
  G_GNUC_NULL_TERMINATED;
/* An FFS2 volume holding copies of one file (consumed). */
GByteArray *fvb_volume_of_copies(GByteArray *file, guint copies);
/* EFI_SECTION_FIRMWARE_VOLUME_IMAGE holding the volume (consumed). */
GByteArray *fvb_fv_section(GByteArray *volume);
/* Append b to a (consumes b). */
void fvb_append(GByteArray *a, GByteArray *b);

/* A small OVMF-like image: FVMAIN_COMPACT with an LZMA-compressed DXEFV holding a Secure Boot,
 * SMM, TPM and shell module set, an FFS3 volume with a large file, and a SECFV. */
GByteArray *fvb_sample_image(void);
/* Volumes nested depth levels deep through FV_IMAGE sections (lzma: each level compressed). */
GByteArray *fvb_nested_image(guint depth, gboolean lzma);
