/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The edk2 flash backend: EFI_FIRMWARE_VOLUME_HEADER + VARIABLE_STORE_HEADER + variable records,
 * followed by the fault-tolerant-write (FTW) working block and spare area. Reader rules follow
 * edk2's VariableParsing.c (FindVariableEx) and the stricter checks of VirtNorFlashFvb.c; the
 * byte layout is in the project's notes on variable stores (varstore.md). */
#include "storage.h"
#include "vsboot/error.h"
#include "util/le.h"
#include "util/timetext.h"
#include "util/ucs2.h"

#include <lzma.h>
#include <string.h>

/* Sizes of the on-flash structures (PiFirmwareVolume.h, VariableFormat.h, SystemNvDataGuid.h). */
#define FV_HEADER_MIN         0x48u /* EFI_FIRMWARE_VOLUME_HEADER with one block map entry + end */
#define STORE_HEADER_SIZE     28u   /* VARIABLE_STORE_HEADER */
#define AUTH_VAR_HEADER_SIZE  VSB_AUTH_VAR_HEADER_SIZE
#define VAR_HEADER_SIZE       VSB_VAR_HEADER_SIZE
#define FTW_HEADER_SIZE       32u   /* EFI_FAULT_TOLERANT_WORKING_BLOCK_HEADER */
#define VARIABLE_DATA         0x55aau
#define VARIABLE_STORE_FORMATTED 0x5au
#define VARIABLE_STORE_HEALTHY   0xfeu
#define FVH_SIGNATURE         0x4856465fu /* "_FVH" */
#define FV_ATTRIBUTES_OVMF    0x0004feffu
#define ARMVIRT_FLASH_SIZE    ((gsize)64 << 20)
#define HEADER_ALIGN(x)       VSB_HEADER_ALIGN(x)

static const struct {
  VsbVarstoreLayout layout;
  const char *name;
  gsize fv_length;
  guint32 num_blocks, block_length;
  gsize store_size;       /* VARIABLE_STORE_HEADER.Size */
  gsize ftw_offset, ftw_size;
} layouts[] = {
  { VSB_VARSTORE_LAYOUT_OVMF_2M, "ovmf-2m", 0x20000, 0x20, 0x1000, 0xdfb8, 0xf000, 0x1000 },
  { VSB_VARSTORE_LAYOUT_OVMF_4M, "ovmf-4m", 0x84000, 0x84, 0x1000, 0x3ffb8, 0x41000, 0x1000 },
  { VSB_VARSTORE_LAYOUT_ARMVIRT, "armvirt", 0xc0000, 3, 0x40000, 0x3ffb8, 0x40000, 0x40000 },
};

const char *
vsb_varstore_layout_name(VsbVarstoreLayout layout)
{
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].layout == layout)
      return layouts[i].name;
  return layout == VSB_VARSTORE_LAYOUT_NONE ? "none" : "other";
}

static gboolean
all_bytes(const guint8 *p, gsize len, guint8 value)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != value)
      return FALSE;
  return TRUE;
}

/* CRC of an FTW working block header: over the 32 bytes with Crc = FFFFFFFF and the state byte
 * = FF (InitializeLocalWorkSpaceHeader). */
static guint32
ftw_header_crc(const guint8 *hdr)
{
  guint8 tmp[FTW_HEADER_SIZE];
  memcpy(tmp, hdr, sizeof tmp);
  vsb_put_le32(tmp + 16, 0xffffffffu);
  tmp[20] = 0xff;
  return lzma_crc32(tmp, sizeof tmp, 0);
}

/* Look for the FTW working block after the variable store, inside the volume, and report a
 * bad CRC or a non-empty write queue (an interrupted write the firmware would replay). */
static void
check_ftw(VsbVarstore *s)
{
  gsize vol_end = s->flash.vol_offset + s->flash.fv_length;
  gsize start = s->flash.vol_offset + ((s->flash.region_end - s->flash.vol_offset + 0xfffu) & ~(gsize)0xfffu);
  for (gsize off = start; off + FTW_HEADER_SIZE <= vol_end; off += 0x1000) {
    const guint8 *h = s->flash.image + off;
    if (memcmp(h, VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE.b, 16) != 0)
      continue;
    guint32 crc = vsb_le32(h + 16), want = ftw_header_crc(h);
    if (crc != want)
      vsb_storage_add_warning(s, "FTW working block at 0x%zx: header CRC 0x%08x, expected 0x%08x", off, crc,
                  want);
    if ((h[20] & 0x3) != 0x2)
      vsb_storage_add_warning(s, "FTW working block at 0x%zx: state byte 0x%02x is not 'valid'", off, h[20]);
    guint64 queue = vsb_le64(h + 24);
    gsize avail = vol_end - off - FTW_HEADER_SIZE;
    if (queue > avail) {
      vsb_storage_add_warning(s, "FTW working block at 0x%zx: WriteQueueSize 0x%" G_GINT64_MODIFIER
                  "x runs past the end of the volume", off, queue);
      queue = avail;
    }
    if (!all_bytes(h + FTW_HEADER_SIZE, (gsize)queue, 0xff)) {
      vsb_storage_add_warning(s, "FTW working block at 0x%zx: the write queue is not empty (an interrupted "
                  "write the firmware may replay over these variables)", off);
      s->flash.ftw_pending = TRUE;
    }
    /* An invalid working block makes FaultTolerantWriteDxe recover it from the spare block;
     * what a non-blank spare then replays is beyond what vsboot derives. */
    gsize spare = off + 0x1000;
    if ((crc != want || (h[20] & 0x3) != 0x2) && spare < vol_end &&
        !all_bytes(s->flash.image + spare, vol_end - spare, 0xff))
      s->flash.ftw_pending = TRUE;
    return;
  }
  vsb_storage_add_warning(s, "no FTW working block found after the variable store");
}

static gboolean
decode_name(const guint8 *p, gsize name_size, char **out, gsize off, const char *origin,
            GError **error)
{
  gsize n = name_size / 2;
  if (vsb_le16(p + 2 * (n - 1)) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable at offset 0x%zx: name (NameSize %zu) is not NUL-terminated", origin,
                off, name_size);
    return FALSE;
  }
  for (gsize i = 0; i + 1 < n; i++)
    if (vsb_le16(p + 2 * i) == 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variable at offset 0x%zx: name has a NUL at character %zu before its end "
                  "(NameSize %zu)", origin, off, i, name_size);
      return FALSE;
    }
  g_autoptr(GError) conv = NULL;
  char *name = vsb_ucs2_to_utf8(p, name_size - 2, &conv);
  if (name == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable at offset 0x%zx: name is not valid UCS-2: %s", origin, off,
                conv->message);
    return FALSE;
  }
  *out = name;
  return TRUE;
}

static gboolean pick_live(VsbVarstore *s);

/* Walk the records from first_offset; fills s->records and s->variables. */
static gboolean
parse_records(VsbVarstore *s, GError **error)
{
  const gsize hdr = s->flash.authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE;
  const gsize name_off = s->flash.authenticated ? 36 : 8; /* NameSize */
  gsize off = s->flash.first_offset;

  /* IsValidVariableHeader: the walk goes on while a header starts before the end with StartId
   * 0x55AA. A header that straddles the end is read by edk2 from beyond the store. */
  while (off < s->flash.region_end && s->flash.region_end - off >= 2 && vsb_le16(s->flash.image + off) == VARIABLE_DATA) {
    const guint8 *h = s->flash.image + off;
    if (s->flash.region_end - off < hdr) {
      vsb_storage_add_warning(s, "a variable header at 0x%zx runs past the end of the store at 0x%zx; the "
                  "firmware reads it from beyond the store", off, s->flash.region_end);
      s->flash.tail_header = TRUE;
      break;
    }
    guint8 state = h[2];
    guint32 attrs = vsb_le32(h + 4);
    guint32 name_size = vsb_le32(h + name_off), data_size = vsb_le32(h + name_off + 4);
    if (state == 0xff || attrs == 0xffffffffu || name_size == 0xffffffffu ||
        data_size == 0xffffffffu) {
      /* A header write that did not complete. NameSizeOfVariable and DataSizeOfVariable give 0
       * for it, so GetNextVariablePtr steps over the bare header and the walk goes on there. */
      vsb_storage_add_warning(s, "variable header at 0x%zx was not completely written (state 0x%02x); the "
                  "firmware skips just its header", off, state);
      off = HEADER_ALIGN(off + hdr);
      continue;
    }
    if (name_size < 4 || name_size % 2 != 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variable at offset 0x%zx: NameSize %u is %s", s->origin, off, name_size,
                  name_size % 2 ? "odd" : "less than 4 (one character and the NUL)");
      return FALSE;
    }
    gsize avail = s->flash.region_end - off - hdr;
    if ((guint64)name_size + data_size > avail) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variable at offset 0x%zx: NameSize %u + DataSize %u run past the end of "
                  "the variable store at 0x%zx", s->origin, off, name_size, data_size,
                  s->flash.region_end);
      return FALSE;
    }
    VsbVariable *v = g_new0(VsbVariable, 1);
    if (!decode_name(h + hdr, name_size, &v->name, off, s->origin, error)) {
      g_free(v);
      return FALSE;
    }
    memcpy(v->guid.b, h + hdr - 16, 16);
    v->attributes = attrs;
    if (s->flash.authenticated) {
      v->monotonic_count = vsb_le64(h + 8);
      vsb_efi_time_read(h + 16, &v->timestamp);
      v->pubkey_index = vsb_le32(h + 32);
    }
    v->data = g_bytes_new(h + hdr + name_size, data_size);
    v->state = state;
    v->offset = off;
    g_ptr_array_add(s->records, v);
    if (state != 0x3f && state != 0x3e && state != 0x3d && state != 0x3c && state != 0x7f)
      vsb_storage_add_warning(s, "variable %s at 0x%zx has an unknown state 0x%02x; skipped", v->name, off,
                  state);
    off = HEADER_ALIGN(off + hdr + name_size + data_size);
  }
  s->flash.free_offset = MIN(off, s->flash.region_end);
  if (s->flash.free_offset < s->flash.region_end && !s->flash.tail_header &&
      !all_bytes(s->flash.image + s->flash.free_offset, s->flash.region_end - s->flash.free_offset, 0xff)) {
    vsb_storage_add_warning(s, "free space at 0x%zx is not all 0xFF; the firmware will reclaim the store",
                s->flash.free_offset);
    s->flash.free_dirty = TRUE;
  }
  return pick_live(s);
}

/* The live set, as the firmware sees it after VariableWriteServiceInitialize: FindVariableEx
 * takes a name+GUID's first VAR_ADDED (0x3F) record, else its LAST in-deleted-transition (0x3E)
 * one. A dirty free area makes the driver Reclaim first, which copies every 0x3F record and
 * then promotes only the FIRST 0x3E record of a name that has none. Hash tables keep this
 * linear in the number of records. */
static gboolean
pick_live(VsbVarstore *s)
{
  g_autoptr(GHashTable) added = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) transition = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < s->records->len; i++) {
    VsbVariable *r = s->records->pdata[i];
    char g[VSB_GUID_STRING_LEN + 1];
    char *key = g_strconcat(vsb_guid_format(&r->guid, g), ":", r->name, NULL);
    g_ptr_array_add(keys, key);
    GHashTable *t = r->state == 0x3f ? added : r->state == 0x3e ? transition : NULL;
    if (t == NULL)
      continue;
    VsbVariable *first = g_hash_table_lookup(t, key);
    if (first == NULL || (r->state == 0x3e && !s->flash.free_dirty))
      g_hash_table_insert(t, g_strdup(key), r);
    if (first != NULL && r->state == 0x3f) {
      vsb_storage_add_warning(s, "variable %s at 0x%zx duplicates the one at 0x%zx; the first is used",
                  r->name, r->offset, first->offset);
      if (s->flash.duplicate == NULL)
        s->flash.duplicate = g_strdup(r->name);
    }
    else if (first != NULL)
      vsb_storage_add_warning(s, "variable %s has several in-deleted-transition records (0x%zx, 0x%zx); the "
                  "firmware uses the %s", r->name, first->offset, r->offset,
                  s->flash.free_dirty ? "first, as its reclaim promotes it" : "last");
  }
  for (guint i = 0; i < s->records->len; i++) {
    VsbVariable *r = s->records->pdata[i];
    const char *key = keys->pdata[i];
    gboolean live = r->state == 0x3f ? g_hash_table_lookup(added, key) == r
                  : r->state == 0x3e ? g_hash_table_lookup(added, key) == NULL &&
                                         g_hash_table_lookup(transition, key) == r
                                     : FALSE;
    if (live)
      g_ptr_array_add(s->variables, vsb_variable_copy(r));
  }
  return TRUE;
}

static VsbVarstoreLayout
classify(gsize fv_length, gsize store_size, guint32 nblocks, guint32 blen)
{
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].fv_length == fv_length && layouts[i].store_size == store_size)
      return layouts[i].layout;
  return VSB_VARSTORE_LAYOUT_OTHER;
}

/* What OVMF's and ArmVirt's flash drivers check before they use the volume (ValidateFvHeader
 * and InitializeVariableFvHeader in QemuFlashFvbServicesRuntimeDxe/FwBlockService.c, and
 * VirtNorFlashFvb.c): Revision 2 and the FvLength of the build; ArmVirt's driver also the store
 * Size. OVMF 2022.11 does not check the store Size: booted with a Size 0x1000 short, it kept the
 * variables and enforced (tests/sbdiff, store-size-bad). When a check fails the driver erases
 * the whole volume and writes a fresh header: every variable is gone. */
static void
judge_volume_header(VsbVarstore *s, const guint8 *fv, guint32 store_size)
{
  if (s->flash.reformat)
    return;
  const char *known = NULL;
  gsize want_size = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].fv_length == s->flash.fv_length) {
      known = layouts[i].name;
      want_size = layouts[i].layout == VSB_VARSTORE_LAYOUT_ARMVIRT ? layouts[i].store_size : 0;
    }
  if (fv[0x37] != 2)
    s->flash.reformat = g_strdup_printf("its firmware volume Revision is %u, not 2", fv[0x37]);
  else if (known == NULL)
    s->flash.reformat = g_strdup_printf("its FvLength 0x%zx matches no OVMF or ArmVirt build",
                                  s->flash.fv_length);
  else if (want_size && store_size != want_size)
    s->flash.reformat = g_strdup_printf("its store Size 0x%x is not the %s build's 0x%zx", store_size,
                                  known, want_size);
}

/* The EFI_FIRMWARE_VOLUME_HEADER at vol_offset: signature, HeaderLength, checksum, FvLength
 * against the file. Sets fv_length; *header_length for the caller. */
static gboolean
check_fv_header(VsbVarstore *s, guint16 *header_length, GError **error)
{
  const guint8 *fv = s->flash.image + s->flash.vol_offset;
  gsize room = s->flash.size - s->flash.vol_offset;
  const char *o = s->origin;
  gsize vo = s->flash.vol_offset;

  if (room < FV_HEADER_MIN) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: truncated: %zu bytes left for the firmware volume header at 0x%zx, need %u",
                o, room, vo, FV_HEADER_MIN);
    return FALSE;
  }
  if (vsb_le32(fv + 0x28) != FVH_SIGNATURE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: no \"_FVH\" signature at offset 0x%zx (firmware volume header)", o, vo + 0x28);
    return FALSE;
  }
  guint64 fv_length = vsb_le64(fv + 0x20);
  guint16 hl = vsb_le16(fv + 0x30);
  if (hl < FV_HEADER_MIN || hl % 2 != 0 || hl > room) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume HeaderLength 0x%x at offset 0x%zx is invalid", o, hl,
                vo + 0x30);
    return FALSE;
  }
  guint16 sum = vsb_le16_sum(fv, hl);
  if (sum != 0) {
    guint16 stored = vsb_le16(fv + 0x32);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume header checksum at offset 0x%zx is wrong (stored 0x%04x, "
                "expected 0x%04x)", o, vo + 0x32, stored, (guint16)(stored - sum));
    return FALSE;
  }
  if (fv_length > room) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: truncated or wrong size: the volume at 0x%zx has FvLength 0x%" G_GINT64_MODIFIER
                "x but only 0x%zx bytes follow in the file (file size 0x%zx)", o, vo, fv_length,
                room, s->flash.size);
    return FALSE;
  }
  if (fv_length < (guint64)hl + STORE_HEADER_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: FvLength 0x%" G_GINT64_MODIFIER "x at offset 0x%zx is too small for a "
                "variable store", o, fv_length, vo + 0x20);
    return FALSE;
  }
  s->flash.fv_length = (gsize)fv_length;
  *header_length = hl;
  return TRUE;
}

/* Block map: {NumBlocks, Length} pairs up to a {0,0} terminator inside the header. It must
 * cover the volume (ArmVirt maps the whole 64 MiB flash device, so it may cover more). The
 * first entry lands in *nblocks0 and *blen0. */
static gboolean
check_block_map(VsbVarstore *s, guint16 header_length, guint32 *nblocks0, guint32 *blen0,
                GError **error)
{
  const guint8 *fv = s->flash.image + s->flash.vol_offset;
  guint64 covered = 0;
  gboolean terminated = FALSE;
  *nblocks0 = *blen0 = 0;
  for (gsize bo = 0x38; bo + 8 <= header_length; bo += 8) {
    guint32 nb = vsb_le32(fv + bo), bl = vsb_le32(fv + bo + 4);
    if (nb == 0 && bl == 0) {
      terminated = TRUE;
      break;
    }
    if (nb == 0 || bl == 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: firmware volume block map entry at offset 0x%zx is invalid "
                  "(NumBlocks %u, Length 0x%x)", s->origin, s->flash.vol_offset + bo, nb, bl);
      return FALSE;
    }
    if (bo == 0x38) {
      *nblocks0 = nb;
      *blen0 = bl;
    }
    covered += (guint64)nb * bl; /* at most 2^64 / 2^32 entries: cannot overflow in a header */
  }
  if (!terminated || covered < s->flash.fv_length) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume block map at offset 0x%zx %s", s->origin,
                s->flash.vol_offset + 0x38,
                !terminated ? "has no {0,0} terminator inside HeaderLength"
                            : "covers less than FvLength");
    return FALSE;
  }
  return TRUE;
}

/* The VARIABLE_STORE_HEADER right after the FV header: signature (authenticated or plain),
 * Format and State, Size inside the volume. Sets store_offset, region_end, first_offset. */
static gboolean
check_store_header(VsbVarstore *s, guint16 header_length, guint32 *store_size, GError **error)
{
  VsbFlashImage *f = &s->flash;
  f->store_offset = f->vol_offset + header_length;
  const guint8 *sh = f->image + f->store_offset;
  if (memcmp(sh, VSB_GUID_AUTHENTICATED_VARIABLE.b, 16) == 0)
    f->authenticated = TRUE;
  else if (memcmp(sh, VSB_GUID_VARIABLE.b, 16) == 0)
    f->authenticated = FALSE;
  else {
    char buf[VSB_GUID_STRING_LEN + 1];
    VsbGuid g;
    memcpy(g.b, sh, 16);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store header at offset 0x%zx has signature %s, neither "
                "EfiAuthenticatedVariable nor EfiVariable", s->origin, f->store_offset,
                vsb_guid_format(&g, buf));
    return FALSE;
  }
  guint32 size = vsb_le32(sh + 16);
  if (sh[20] != VARIABLE_STORE_FORMATTED || sh[21] != VARIABLE_STORE_HEALTHY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store header at offset 0x%zx: Format 0x%02x / State 0x%02x, "
                "expected 0x5A / 0xFE (formatted, healthy)", s->origin, f->store_offset, sh[20],
                sh[21]);
    return FALSE;
  }
  if (size < STORE_HEADER_SIZE || size > f->fv_length - header_length) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store Size 0x%x at offset 0x%zx runs past the end of the volume "
                "(at most 0x%zx)", s->origin, size, f->store_offset + 16,
                f->fv_length - header_length);
    return FALSE;
  }
  f->region_end = f->store_offset + size;
  f->first_offset = HEADER_ALIGN(f->store_offset + STORE_HEADER_SIZE);
  *store_size = size;
  return TRUE;
}

/* The layout, and what OVMF would make of the volume header (warnings, reformat). */
static void
judge_layout(VsbVarstore *s, guint32 store_size, guint32 nblocks0, guint32 blen0)
{
  VsbFlashImage *f = &s->flash;
  f->layout = classify(f->fv_length, store_size, nblocks0, blen0);
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].layout == f->layout && f->layout != VSB_VARSTORE_LAYOUT_ARMVIRT &&
        (nblocks0 != layouts[i].num_blocks || blen0 != layouts[i].block_length)) {
      vsb_storage_add_warning(s, "block map {%u, 0x%x} differs from OVMF's {%u, 0x%x}; OVMF "
                              "reformats the store", nblocks0, blen0, layouts[i].num_blocks,
                              layouts[i].block_length);
      if (blen0 != layouts[i].block_length)
        f->reformat = g_strdup_printf("its block size 0x%x is not OVMF's 0x%x", blen0,
                                      layouts[i].block_length);
    }
  judge_volume_header(s, f->image + f->vol_offset, store_size);
  if (!f->authenticated)
    vsb_storage_add_warning(s, "the store uses non-authenticated variable headers (EfiVariable); "
                            "Secure Boot firmware needs an EfiAuthenticatedVariable store");
}

/* Parse the volume at vol_offset; every header field is checked before it is used. */
static gboolean
parse_volume(VsbVarstore *s, GError **error)
{
  guint16 header_length = 0;
  guint32 nblocks0, blen0, store_size;
  if (!check_fv_header(s, &header_length, error) ||
      !check_block_map(s, header_length, &nblocks0, &blen0, error) ||
      !check_store_header(s, header_length, &store_size, error))
    return FALSE;
  judge_layout(s, store_size, nblocks0, blen0);

  /* Bytes after the volume: padding (ArmVirt's 64 MiB file) or further volumes (OVMF.fd). */
  gsize vol_end = s->flash.vol_offset + s->flash.fv_length;
  if (vol_end < s->flash.size) {
    const guint8 *tail = s->flash.image + vol_end;
    gsize tlen = s->flash.size - vol_end;
    gboolean padding = all_bytes(tail, tlen, 0x00) || all_bytes(tail, tlen, 0xff);
    gboolean volume = tlen >= FV_HEADER_MIN && vsb_le32(tail + 0x28) == FVH_SIGNATURE;
    if (!padding && !volume) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: wrong size: 0x%zx bytes after the variable volume (which ends at 0x%zx) "
                  "are neither padding nor another firmware volume", s->origin, tlen, vol_end);
      return FALSE;
    }
  }
  if (!parse_records(s, error))
    return FALSE;
  check_ftw(s);
  return TRUE;
}

/* Find the NV volume like virt-fw-vars: 1 KiB steps, FileSystemGuid = EfiSystemNvDataFv. */
static gboolean
find_volume(const guint8 *data, gsize len, gsize *out)
{
  for (gsize off = 0; off + FV_HEADER_MIN <= len; off += 1024) {
    if (vsb_le32(data + off + 0x28) == FVH_SIGNATURE &&
        memcmp(data + off + 0x10, VSB_GUID_SYSTEM_NV_DATA_FV.b, 16) == 0) {
      *out = off;
      return TRUE;
    }
  }
  return FALSE;
}

static void build_empty_volume(guint8 *image, gsize i);

static VsbVarstore *
edk2_load(GBytes *bytes, const char *origin, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  g_autoptr(VsbVarstore) s = vsb_storage_store_new(origin ? origin : "varstore", &vsb_storage_edk2);

  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: empty file", s->origin);
    return NULL;
  }
  s->flash.size = len;
  s->flash.image = g_memdup2(data, len);
  if (!find_volume(data, len, &s->flash.vol_offset)) {
    /* A blank flash image (Debian's AAVMF_VARS.fd is 64 MiB of zeros): the firmware formats it
     * at first boot. Treat it as the empty store of the layout its size implies. */
    gboolean blank = all_bytes(data, len, 0x00) || all_bytes(data, len, 0xff);
    for (gsize i = 0; blank && i < G_N_ELEMENTS(layouts); i++) {
      gboolean fits = len == layouts[i].fv_length ||
                      (layouts[i].layout == VSB_VARSTORE_LAYOUT_ARMVIRT && len == ARMVIRT_FLASH_SIZE);
      if (!fits)
        continue;
      build_empty_volume(s->flash.image, i);
      g_autoptr(GError) inner = NULL;
      if (!parse_volume(s, &inner)) {
        g_propagate_error(error, g_steal_pointer(&inner));
        return NULL;
      }
      vsb_storage_add_warning(s, "blank flash image (all 0x%02X): no variables yet; writing it formats an "
                  "empty %s store", data[0], layouts[i].name);
      return g_steal_pointer(&s);
    }
    if (len < FV_HEADER_MIN)
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: truncated: %zu bytes, too short for a firmware volume header (%u bytes)",
                  s->origin, len, FV_HEADER_MIN);
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: no variable store: no firmware volume with FileSystemGuid "
                  "EfiSystemNvDataFv (fff12b8d-7696-4c8b-a985-2747075b4f50) and signature "
                  "\"_FVH\" at any 1 KiB boundary", s->origin);
    return NULL;
  }
  if (!parse_volume(s, error))
    return NULL;
  return g_steal_pointer(&s);
}
/* ---- empty stores ------------------------------------------------------------------------- */

/* Write the empty volume of layouts[i] at the start of image (which is 0xFF-filled up to the
 * layout's FvLength): FV header, store header, FTW working block header. */
static void
build_empty_volume(guint8 *image, gsize i)
{
  memset(image, 0xff, layouts[i].fv_length);
  guint8 *fv = image;
  memset(fv, 0, FV_HEADER_MIN);
  memcpy(fv + 0x10, VSB_GUID_SYSTEM_NV_DATA_FV.b, 16);
  vsb_put_le64(fv + 0x20, layouts[i].fv_length);
  vsb_put_le32(fv + 0x28, FVH_SIGNATURE);
  vsb_put_le32(fv + 0x2c, FV_ATTRIBUTES_OVMF);
  vsb_put_le16(fv + 0x30, FV_HEADER_MIN);
  fv[0x37] = 2; /* Revision */
  vsb_put_le32(fv + 0x38, layouts[i].num_blocks);
  vsb_put_le32(fv + 0x3c, layouts[i].block_length);
  vsb_put_le16(fv + 0x32, (guint16)(0x10000u - vsb_le16_sum(fv, FV_HEADER_MIN)));

  guint8 *sh = fv + FV_HEADER_MIN;
  memcpy(sh, VSB_GUID_AUTHENTICATED_VARIABLE.b, 16);
  vsb_put_le32(sh + 16, (guint32)layouts[i].store_size);
  sh[20] = VARIABLE_STORE_FORMATTED;
  sh[21] = VARIABLE_STORE_HEALTHY;
  memset(sh + 22, 0, 6);

  guint8 *ftw = image + layouts[i].ftw_offset;
  memcpy(ftw, VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE.b, 16);
  ftw[20] = 0xfe; /* WorkingBlockValid = 0, WorkingBlockInvalid = 1 */
  memset(ftw + 21, 0xff, 3);
  vsb_put_le64(ftw + 24, layouts[i].ftw_size - FTW_HEADER_SIZE);
  vsb_put_le32(ftw + 16, ftw_header_crc(ftw));
}

VsbVarstore *
vsb_varstore_new_empty(VsbVarstoreLayout layout, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++) {
    if (layouts[i].layout != layout)
      continue;
    /* ArmVirt: QEMU's virt machine wants the whole 64 MiB flash device; the rest is zeros,
     * as in distributions' AAVMF_VARS.fd. */
    gsize size = layout == VSB_VARSTORE_LAYOUT_ARMVIRT ? ARMVIRT_FLASH_SIZE : layouts[i].fv_length;
    guint8 *image = g_malloc0(size);
    build_empty_volume(image, i);
    g_autoptr(GBytes) b = g_bytes_new_take(image, size);
    return edk2_load(b, layouts[i].name, error);
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
              "no empty template for layout '%s'; use a template file", vsb_varstore_layout_name(layout));
  return NULL;
}

/* ---- writing ------------------------------------------------------------------------------ */

static GBytes *
edk2_serialize(const VsbVarstore *s, GError **error)
{
  const gsize hdr = s->flash.authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE;
  const gsize capacity = s->flash.region_end - s->flash.first_offset;
  gsize need = 0;
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    gboolean ok;
    gsize rs = vsb_storage_record_size(s, v, &ok);
    if (!ok || v->name[0] == '\0') {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: variable name '%s' is not valid",
                  s->origin, v->name);
      return NULL;
    }
    if (g_bytes_get_size(v->data) > G_MAXUINT32) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_NO_SPACE, "%s: variable %s is too large", s->origin,
                  v->name);
      return NULL;
    }
    need += HEADER_ALIGN(rs);
  }
  if (need > capacity) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NO_SPACE,
                "%s: the variables need %zu bytes but the %s store has room for %zu (%zu too many)",
                s->origin, need, vsb_varstore_layout_name(s->flash.layout), capacity, need - capacity);
    return NULL;
  }

  guint8 *out = g_memdup2(s->flash.image, s->flash.size);
  memset(out + s->flash.first_offset, 0xff, capacity);
  gsize off = s->flash.first_offset;
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    gsize name_size = 0;
    g_autofree guint8 *name = vsb_utf8_to_ucs2(v->name, TRUE, &name_size); /* checked above */
    gsize dlen;
    const guint8 *d = g_bytes_get_data(v->data, &dlen);
    guint8 *h = out + off;
    memset(h, 0, hdr);
    vsb_put_le16(h, VARIABLE_DATA);
    h[2] = VSB_VAR_ADDED;
    vsb_put_le32(h + 4, v->attributes);
    gsize no = 8; /* NameSize in VARIABLE_HEADER */
    if (s->flash.authenticated) {
      vsb_put_le64(h + 8, v->monotonic_count);
      vsb_efi_time_write(h + 16, &v->timestamp);
      vsb_put_le32(h + 32, v->pubkey_index);
      no = 36;
    }
    vsb_put_le32(h + no, (guint32)name_size);
    vsb_put_le32(h + no + 4, (guint32)dlen);
    memcpy(h + no + 8, v->guid.b, 16);
    memcpy(h + hdr, name, name_size);
    if (dlen)
      memcpy(h + hdr + name_size, d, dlen);
    off = HEADER_ALIGN(off + hdr + name_size + dlen);
  }
  return g_bytes_new_take(out, s->flash.size);
}

/* ---- registration ------------------------------------------------------------------------- */

/* Claims everything: it is asked last, so that what no other backend recognises gets the flash
 * reader's errors (truncated, no volume, a bad checksum) naming the offset at fault. */
static gboolean
edk2_detect(const guint8 *data, gsize len)
{
  (void)data;
  (void)len;
  return TRUE;
}

const VsbStorageBackend vsb_storage_edk2 = {
  .name = "raw",
  .detect = edk2_detect,
  .load = edk2_load,
  .serialize = edk2_serialize,
  .write = NULL,
};
