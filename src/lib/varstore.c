/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edk2 variable stores: EFI_FIRMWARE_VOLUME_HEADER + VARIABLE_STORE_HEADER + variable records,
 * followed by the fault-tolerant-write (FTW) working block and spare area. Reader rules follow
 * edk2's VariableParsing.c (FindVariableEx) and the stricter checks of VirtNorFlashFvb.c; see
 * /work/shared/notes/varstore.md for the byte layout. */
#define _GNU_SOURCE /* F_OFD_GETLK */
#include "vsboot/varstore.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/json.h"
#include "vsboot/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sizes of the on-flash structures (PiFirmwareVolume.h, VariableFormat.h, SystemNvDataGuid.h). */
#define FV_HEADER_MIN         0x48u /* EFI_FIRMWARE_VOLUME_HEADER with one block map entry + end */
#define STORE_HEADER_SIZE     28u   /* VARIABLE_STORE_HEADER */
#define AUTH_VAR_HEADER_SIZE  60u   /* AUTHENTICATED_VARIABLE_HEADER */
#define VAR_HEADER_SIZE       32u   /* VARIABLE_HEADER (non-authenticated store) */
#define FTW_HEADER_SIZE       32u   /* EFI_FAULT_TOLERANT_WORKING_BLOCK_HEADER */
#define VARIABLE_DATA         0x55aau
#define VARIABLE_STORE_FORMATTED 0x5au
#define VARIABLE_STORE_HEALTHY   0xfeu
#define FVH_SIGNATURE         0x4856465fu /* "_FVH" */
#define FV_ATTRIBUTES_OVMF    0x0004feffu
#define MAX_FILE_SIZE         ((gsize)256 << 20)
#define ARMVIRT_FLASH_SIZE    ((gsize)64 << 20)

#define HEADER_ALIGN(x) (((x) + 3u) & ~(gsize)3u)

struct _VsbVarstore {
  char *origin;
  guint8 *image;          /* the whole file, as loaded (or as built for an empty store) */
  gsize size;
  gboolean qcow2;
  gboolean authenticated;
  VsbVarstoreLayout layout;
  gsize vol_offset;       /* start of the NV firmware volume */
  gsize fv_length;
  gsize store_offset;     /* VARIABLE_STORE_HEADER */
  gsize first_offset;     /* first variable header */
  gsize region_end;       /* end of the variable store (store_offset + Size) */
  gsize free_offset;      /* after the last record, as loaded */
  /* What the firmware does with the file at boot beyond its variables (vsb_varstore_get_boot_facts) */
  gboolean free_dirty;    /* bytes after the last record are not all 0xFF: edk2 reclaims at init */
  gboolean tail_header;   /* a record header straddles the store's end */
  gboolean ftw_pending;   /* the FTW write queue is not empty */
  char *reformat;         /* why OVMF's flash driver would erase the volume, NULL when it accepts it */
  char *duplicate;        /* a variable with more than one live (0x3F) record, NULL when none */
  gboolean modified;      /* the live set was edited since loading */
  GPtrArray *variables;   /* VsbVariable*, live, in store order */
  GPtrArray *records;     /* VsbVariable*, every record of the file */
  GPtrArray *warnings;    /* char*, NULL-terminated */
};

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
  return "other";
}

/* ---- little-endian access ---------------------------------------------------------------- */

static guint16
rd16(const guint8 *p)
{
  return (guint16)(p[0] | p[1] << 8);
}

static guint32
rd32(const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static guint64
rd64(const guint8 *p)
{
  return (guint64)rd32(p) | (guint64)rd32(p + 4) << 32;
}

static void
wr16(guint8 *p, guint16 v)
{
  p[0] = (guint8)v;
  p[1] = (guint8)(v >> 8);
}

static void
wr32(guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8)(v >> (8 * i));
}

static void
wr64(guint8 *p, guint64 v)
{
  wr32(p, (guint32)v);
  wr32(p + 4, (guint32)(v >> 32));
}

static void
time_read(const guint8 *p, VsbEfiTime *t)
{
  t->year = rd16(p);
  t->month = p[2];
  t->day = p[3];
  t->hour = p[4];
  t->minute = p[5];
  t->second = p[6];
  t->pad1 = p[7];
  t->nanosecond = rd32(p + 8);
  t->timezone = (gint16)rd16(p + 12);
  t->daylight = p[14];
  t->pad2 = p[15];
}

static void
time_write(guint8 *p, const VsbEfiTime *t)
{
  wr16(p, t->year);
  p[2] = t->month;
  p[3] = t->day;
  p[4] = t->hour;
  p[5] = t->minute;
  p[6] = t->second;
  p[7] = t->pad1;
  wr32(p + 8, t->nanosecond);
  wr16(p + 12, (guint16)t->timezone);
  p[14] = t->daylight;
  p[15] = t->pad2;
}

static gboolean
all_bytes(const guint8 *p, gsize len, guint8 value)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != value)
      return FALSE;
  return TRUE;
}

/* ---- variables ----------------------------------------------------------------------------- */

VsbVariable *
vsb_variable_new(const char *name, const VsbGuid *guid, guint32 attributes, const void *data,
                 gsize len)
{
  VsbVariable *v = g_new0(VsbVariable, 1);
  v->name = g_strdup(name);
  v->guid = *guid;
  v->attributes = attributes;
  v->data = g_bytes_new(data, len);
  v->state = VSB_VAR_ADDED;
  return v;
}

VsbVariable *
vsb_variable_copy(const VsbVariable *var)
{
  VsbVariable *v = g_new(VsbVariable, 1);
  *v = *var;
  v->name = g_strdup(var->name);
  v->data = var->data ? g_bytes_ref(var->data) : g_bytes_new(NULL, 0);
  return v;
}

void
vsb_variable_free(VsbVariable *var)
{
  if (var == NULL)
    return;
  g_free(var->name);
  if (var->data)
    g_bytes_unref(var->data);
  g_free(var);
}

gboolean
vsb_efi_time_is_zero(const VsbEfiTime *t)
{
  static const VsbEfiTime zero;
  return memcmp(t, &zero, sizeof zero) == 0;
}

char *
vsb_efi_time_to_string(const VsbEfiTime *t)
{
  if (vsb_efi_time_is_zero(t))
    return NULL;
  return g_strdup_printf("%04u-%02u-%02uT%02u:%02u:%02uZ", t->year, t->month, t->day, t->hour,
                         t->minute, t->second);
}

const char *
vsb_variable_state_name(guint8 state)
{
  switch (state) {
  case 0x3f: return "added";
  case 0x3e: return "in-deleted-transition";
  case 0x3d: return "deleted";
  case 0x3c: return "deleted-after-transition";
  case 0x7f: return "header-only";
  case 0xff: return "erased";
  default: return "unknown";
  }
}

/* ---- store object -------------------------------------------------------------------------- */

static VsbVarstore *
store_new(const char *origin)
{
  VsbVarstore *s = g_new0(VsbVarstore, 1);
  s->origin = g_strdup(origin);
  s->variables = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_variable_free);
  s->records = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_variable_free);
  s->warnings = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(s->warnings, NULL);
  return s;
}

void
vsb_varstore_free(VsbVarstore *store)
{
  if (store == NULL)
    return;
  g_free(store->origin);
  g_free(store->reformat);
  g_free(store->duplicate);
  g_free(store->image);
  g_ptr_array_unref(store->variables);
  g_ptr_array_unref(store->records);
  g_ptr_array_unref(store->warnings);
  g_free(store);
}

static void add_warning(VsbVarstore *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
add_warning(VsbVarstore *s, const char *fmt, ...)
{
  /* A crafted store could produce one warning per record: keep the first 100. */
  if (s->warnings->len > 100)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = s->warnings->len == 100 ? g_strdup("further warnings omitted")
                                       : g_strdup_vprintf(fmt, ap);
  va_end(ap);
  /* Keep the array NULL-terminated: overwrite the terminator, then append a new one. */
  s->warnings->pdata[s->warnings->len - 1] = msg;
  g_ptr_array_add(s->warnings, NULL);
}

/* Checksum of the FV header: 16-bit words summing to 0 (CalculateSum16). */
static guint16
fv_header_sum(const guint8 *p, gsize len)
{
  guint16 sum = 0;
  for (gsize i = 0; i + 1 < len; i += 2)
    sum = (guint16)(sum + rd16(p + i));
  return sum;
}

/* CRC of an FTW working block header: over the 32 bytes with Crc = FFFFFFFF and the state byte
 * = FF (InitializeLocalWorkSpaceHeader). */
static guint32
ftw_header_crc(const guint8 *hdr)
{
  guint8 tmp[FTW_HEADER_SIZE];
  memcpy(tmp, hdr, sizeof tmp);
  wr32(tmp + 16, 0xffffffffu);
  tmp[20] = 0xff;
  return lzma_crc32(tmp, sizeof tmp, 0);
}

/* Look for the FTW working block after the variable store, inside the volume, and report a
 * bad CRC or a non-empty write queue (an interrupted write the firmware would replay). */
static void
check_ftw(VsbVarstore *s)
{
  gsize vol_end = s->vol_offset + s->fv_length;
  gsize start = s->vol_offset + ((s->region_end - s->vol_offset + 0xfffu) & ~(gsize)0xfffu);
  for (gsize off = start; off + FTW_HEADER_SIZE <= vol_end; off += 0x1000) {
    const guint8 *h = s->image + off;
    if (memcmp(h, VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE.b, 16) != 0)
      continue;
    guint32 crc = rd32(h + 16), want = ftw_header_crc(h);
    if (crc != want)
      add_warning(s, "FTW working block at 0x%zx: header CRC 0x%08x, expected 0x%08x", off, crc,
                  want);
    if ((h[20] & 0x3) != 0x2)
      add_warning(s, "FTW working block at 0x%zx: state byte 0x%02x is not 'valid'", off, h[20]);
    guint64 queue = rd64(h + 24);
    gsize avail = vol_end - off - FTW_HEADER_SIZE;
    if (queue > avail) {
      add_warning(s, "FTW working block at 0x%zx: WriteQueueSize 0x%" G_GINT64_MODIFIER
                  "x runs past the end of the volume", off, queue);
      queue = avail;
    }
    if (!all_bytes(h + FTW_HEADER_SIZE, (gsize)queue, 0xff)) {
      add_warning(s, "FTW working block at 0x%zx: the write queue is not empty (an interrupted "
                  "write the firmware may replay over these variables)", off);
      s->ftw_pending = TRUE;
    }
    /* An invalid working block makes FaultTolerantWriteDxe recover it from the spare block;
     * what a non-blank spare then replays is beyond what vsboot derives. */
    gsize spare = off + 0x1000;
    if ((crc != want || (h[20] & 0x3) != 0x2) && spare < vol_end &&
        !all_bytes(s->image + spare, vol_end - spare, 0xff))
      s->ftw_pending = TRUE;
    return;
  }
  add_warning(s, "no FTW working block found after the variable store");
}

static gboolean
decode_name(const guint8 *p, gsize name_size, char **out, gsize off, const char *origin,
            GError **error)
{
  gsize n = name_size / 2;
  g_autofree gunichar2 *u = g_new(gunichar2, n);
  for (gsize i = 0; i < n; i++)
    u[i] = rd16(p + 2 * i);
  if (u[n - 1] != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable at offset 0x%zx: name (NameSize %zu) is not NUL-terminated", origin,
                off, name_size);
    return FALSE;
  }
  for (gsize i = 0; i + 1 < n; i++)
    if (u[i] == 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variable at offset 0x%zx: name has a NUL at character %zu before its end "
                  "(NameSize %zu)", origin, off, i, name_size);
      return FALSE;
    }
  g_autoptr(GError) conv = NULL;
  char *name = g_utf16_to_utf8(u, (glong)(n - 1), NULL, NULL, &conv);
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
  const gsize hdr = s->authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE;
  const gsize name_off = s->authenticated ? 36 : 8; /* NameSize */
  gsize off = s->first_offset;

  /* IsValidVariableHeader: the walk goes on while a header starts before the end with StartId
   * 0x55AA. A header that straddles the end is read by edk2 from beyond the store. */
  while (off < s->region_end && s->region_end - off >= 2 && rd16(s->image + off) == VARIABLE_DATA) {
    const guint8 *h = s->image + off;
    if (s->region_end - off < hdr) {
      add_warning(s, "a variable header at 0x%zx runs past the end of the store at 0x%zx; the "
                  "firmware reads it from beyond the store", off, s->region_end);
      s->tail_header = TRUE;
      break;
    }
    guint8 state = h[2];
    guint32 attrs = rd32(h + 4);
    guint32 name_size = rd32(h + name_off), data_size = rd32(h + name_off + 4);
    if (state == 0xff || attrs == 0xffffffffu || name_size == 0xffffffffu ||
        data_size == 0xffffffffu) {
      /* A header write that did not complete. NameSizeOfVariable and DataSizeOfVariable give 0
       * for it, so GetNextVariablePtr steps over the bare header and the walk goes on there. */
      add_warning(s, "variable header at 0x%zx was not completely written (state 0x%02x); the "
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
    gsize avail = s->region_end - off - hdr;
    if ((guint64)name_size + data_size > avail) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variable at offset 0x%zx: NameSize %u + DataSize %u run past the end of "
                  "the variable store at 0x%zx", s->origin, off, name_size, data_size,
                  s->region_end);
      return FALSE;
    }
    VsbVariable *v = g_new0(VsbVariable, 1);
    if (!decode_name(h + hdr, name_size, &v->name, off, s->origin, error)) {
      g_free(v);
      return FALSE;
    }
    memcpy(v->guid.b, h + hdr - 16, 16);
    v->attributes = attrs;
    if (s->authenticated) {
      v->monotonic_count = rd64(h + 8);
      time_read(h + 16, &v->timestamp);
      v->pubkey_index = rd32(h + 32);
    }
    v->data = g_bytes_new(h + hdr + name_size, data_size);
    v->state = state;
    v->offset = off;
    g_ptr_array_add(s->records, v);
    if (state != 0x3f && state != 0x3e && state != 0x3d && state != 0x3c && state != 0x7f)
      add_warning(s, "variable %s at 0x%zx has an unknown state 0x%02x; skipped", v->name, off,
                  state);
    off = HEADER_ALIGN(off + hdr + name_size + data_size);
  }
  s->free_offset = MIN(off, s->region_end);
  if (s->free_offset < s->region_end && !s->tail_header &&
      !all_bytes(s->image + s->free_offset, s->region_end - s->free_offset, 0xff)) {
    add_warning(s, "free space at 0x%zx is not all 0xFF; the firmware will reclaim the store",
                s->free_offset);
    s->free_dirty = TRUE;
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
    if (first == NULL || (r->state == 0x3e && !s->free_dirty))
      g_hash_table_insert(t, g_strdup(key), r);
    if (first != NULL && r->state == 0x3f) {
      add_warning(s, "variable %s at 0x%zx duplicates the one at 0x%zx; the first is used",
                  r->name, r->offset, first->offset);
      if (s->duplicate == NULL)
        s->duplicate = g_strdup(r->name);
    }
    else if (first != NULL)
      add_warning(s, "variable %s has several in-deleted-transition records (0x%zx, 0x%zx); the "
                  "firmware uses the %s", r->name, first->offset, r->offset,
                  s->free_dirty ? "first, as its reclaim promotes it" : "last");
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
  if (s->reformat)
    return;
  const char *known = NULL;
  gsize want_size = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].fv_length == s->fv_length) {
      known = layouts[i].name;
      want_size = layouts[i].layout == VSB_VARSTORE_LAYOUT_ARMVIRT ? layouts[i].store_size : 0;
    }
  if (fv[0x37] != 2)
    s->reformat = g_strdup_printf("its firmware volume Revision is %u, not 2", fv[0x37]);
  else if (known == NULL)
    s->reformat = g_strdup_printf("its FvLength 0x%zx matches no OVMF or ArmVirt build",
                                  s->fv_length);
  else if (want_size && store_size != want_size)
    s->reformat = g_strdup_printf("its store Size 0x%x is not the %s build's 0x%zx", store_size,
                                  known, want_size);
}

/* Parse the volume at vol_offset; every header field is checked before it is used. */
static gboolean
parse_volume(VsbVarstore *s, GError **error)
{
  const guint8 *fv = s->image + s->vol_offset;
  gsize room = s->size - s->vol_offset;
  const char *o = s->origin;
  gsize vo = s->vol_offset;

  if (room < FV_HEADER_MIN) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: truncated: %zu bytes left for the firmware volume header at 0x%zx, need %u",
                o, room, vo, FV_HEADER_MIN);
    return FALSE;
  }
  if (rd32(fv + 0x28) != FVH_SIGNATURE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: no \"_FVH\" signature at offset 0x%zx (firmware volume header)", o, vo + 0x28);
    return FALSE;
  }
  guint64 fv_length = rd64(fv + 0x20);
  guint16 header_length = rd16(fv + 0x30);
  if (header_length < FV_HEADER_MIN || header_length % 2 != 0 || header_length > room) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume HeaderLength 0x%x at offset 0x%zx is invalid", o,
                header_length, vo + 0x30);
    return FALSE;
  }
  guint16 sum = fv_header_sum(fv, header_length);
  if (sum != 0) {
    guint16 stored = rd16(fv + 0x32);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume header checksum at offset 0x%zx is wrong (stored 0x%04x, "
                "expected 0x%04x)", o, vo + 0x32, stored, (guint16)(stored - sum));
    return FALSE;
  }
  if (fv_length > room) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: truncated or wrong size: the volume at 0x%zx has FvLength 0x%" G_GINT64_MODIFIER
                "x but only 0x%zx bytes follow in the file (file size 0x%zx)", o, vo, fv_length,
                room, s->size);
    return FALSE;
  }
  if (fv_length < (guint64)header_length + STORE_HEADER_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: FvLength 0x%" G_GINT64_MODIFIER "x at offset 0x%zx is too small for a "
                "variable store", o, fv_length, vo + 0x20);
    return FALSE;
  }
  s->fv_length = (gsize)fv_length;
  /* Block map: {NumBlocks, Length} pairs up to a {0,0} terminator inside the header. It must
   * cover the volume (ArmVirt maps the whole 64 MiB flash device, so it may cover more). */
  guint64 covered = 0;
  guint32 nblocks0 = 0, blen0 = 0;
  gboolean terminated = FALSE;
  for (gsize bo = 0x38; bo + 8 <= header_length; bo += 8) {
    guint32 nb = rd32(fv + bo), bl = rd32(fv + bo + 4);
    if (nb == 0 && bl == 0) {
      terminated = TRUE;
      break;
    }
    if (nb == 0 || bl == 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: firmware volume block map entry at offset 0x%zx is invalid "
                  "(NumBlocks %u, Length 0x%x)", o, vo + bo, nb, bl);
      return FALSE;
    }
    if (bo == 0x38) {
      nblocks0 = nb;
      blen0 = bl;
    }
    covered += (guint64)nb * bl; /* at most 2^64 / 2^32 entries: cannot overflow in a header */
  }
  if (!terminated || covered < fv_length) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware volume block map at offset 0x%zx %s", o, vo + 0x38,
                !terminated ? "has no {0,0} terminator inside HeaderLength"
                            : "covers less than FvLength");
    return FALSE;
  }

  /* VARIABLE_STORE_HEADER right after the FV header. */
  s->store_offset = vo + header_length;
  const guint8 *sh = s->image + s->store_offset;
  if (memcmp(sh, VSB_GUID_AUTHENTICATED_VARIABLE.b, 16) == 0)
    s->authenticated = TRUE;
  else if (memcmp(sh, VSB_GUID_VARIABLE.b, 16) == 0)
    s->authenticated = FALSE;
  else {
    char buf[VSB_GUID_STRING_LEN + 1];
    VsbGuid g;
    memcpy(g.b, sh, 16);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store header at offset 0x%zx has signature %s, neither "
                "EfiAuthenticatedVariable nor EfiVariable", o, s->store_offset,
                vsb_guid_format(&g, buf));
    return FALSE;
  }
  guint32 store_size = rd32(sh + 16);
  if (sh[20] != VARIABLE_STORE_FORMATTED || sh[21] != VARIABLE_STORE_HEALTHY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store header at offset 0x%zx: Format 0x%02x / State 0x%02x, "
                "expected 0x5A / 0xFE (formatted, healthy)", o, s->store_offset, sh[20], sh[21]);
    return FALSE;
  }
  if (store_size < STORE_HEADER_SIZE || store_size > fv_length - header_length) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variable store Size 0x%x at offset 0x%zx runs past the end of the volume "
                "(at most 0x%" G_GINT64_MODIFIER "x)", o, store_size, s->store_offset + 16,
                fv_length - header_length);
    return FALSE;
  }
  s->region_end = s->store_offset + store_size;
  s->first_offset = HEADER_ALIGN(s->store_offset + STORE_HEADER_SIZE);
  s->layout = classify(s->fv_length, store_size, nblocks0, blen0);
  for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++)
    if (layouts[i].layout == s->layout && s->layout != VSB_VARSTORE_LAYOUT_ARMVIRT &&
        (nblocks0 != layouts[i].num_blocks || blen0 != layouts[i].block_length)) {
      add_warning(s, "block map {%u, 0x%x} differs from OVMF's {%u, 0x%x}; OVMF reformats the "
                  "store", nblocks0, blen0, layouts[i].num_blocks, layouts[i].block_length);
      if (blen0 != layouts[i].block_length)
        s->reformat = g_strdup_printf("its block size 0x%x is not OVMF's 0x%x", blen0,
                                      layouts[i].block_length);
    }
  judge_volume_header(s, fv, store_size);
  if (!s->authenticated)
    add_warning(s, "the store uses non-authenticated variable headers (EfiVariable); Secure Boot "
                "firmware needs an EfiAuthenticatedVariable store");

  /* Bytes after the volume: padding (ArmVirt's 64 MiB file) or further volumes (OVMF.fd). */
  gsize vol_end = vo + s->fv_length;
  if (vol_end < s->size) {
    const guint8 *tail = s->image + vol_end;
    gsize tlen = s->size - vol_end;
    gboolean padding = all_bytes(tail, tlen, 0x00) || all_bytes(tail, tlen, 0xff);
    gboolean volume = tlen >= FV_HEADER_MIN && rd32(tail + 0x28) == FVH_SIGNATURE;
    if (!padding && !volume) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: wrong size: 0x%zx bytes after the variable volume (which ends at 0x%zx) "
                  "are neither padding nor another firmware volume", o, tlen, vol_end);
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
    if (rd32(data + off + 0x28) == FVH_SIGNATURE &&
        memcmp(data + off + 0x10, VSB_GUID_SYSTEM_NV_DATA_FV.b, 16) == 0) {
      *out = off;
      return TRUE;
    }
  }
  return FALSE;
}

static void build_empty_volume(guint8 *image, gsize i);

VsbVarstore *
vsb_varstore_load_bytes(GBytes *bytes, const char *origin, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  g_autoptr(VsbVarstore) s = store_new(origin ? origin : "varstore");

  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: empty file", s->origin);
    return NULL;
  }
  s->size = len;
  s->image = g_memdup2(data, len);
  if (!find_volume(data, len, &s->vol_offset)) {
    /* A blank flash image (Debian's AAVMF_VARS.fd is 64 MiB of zeros): the firmware formats it
     * at first boot. Treat it as the empty store of the layout its size implies. */
    gboolean blank = all_bytes(data, len, 0x00) || all_bytes(data, len, 0xff);
    for (gsize i = 0; blank && i < G_N_ELEMENTS(layouts); i++) {
      gboolean fits = len == layouts[i].fv_length ||
                      (layouts[i].layout == VSB_VARSTORE_LAYOUT_ARMVIRT && len == ARMVIRT_FLASH_SIZE);
      if (!fits)
        continue;
      build_empty_volume(s->image, i);
      g_autoptr(GError) inner = NULL;
      if (!parse_volume(s, &inner)) {
        g_propagate_error(error, g_steal_pointer(&inner));
        return NULL;
      }
      add_warning(s, "blank flash image (all 0x%02X): no variables yet; writing it formats an "
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

/* ---- qcow2 ----------------------------------------------------------------------------------- */

static gboolean
run_tool(const char *const *argv, GError **error)
{
  g_autofree char *out = NULL, *err_text = NULL;
  int status = 0;
  if (!vsb_tool_run(argv, &out, &err_text, &status, error))
    return FALSE;
  if (status != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s failed: %s", argv[0],
                err_text ? g_strstrip(err_text) : "");
    return FALSE;
  }
  return TRUE;
}

/* A private scratch directory for qemu-img (mode 0700, random name), remembered by identity so
 * that removing it can never remove anything else (a link or directory planted meanwhile). */
typedef struct {
  char *path;
  struct stat st;
  int lock_fd; /* the flock that marks a directory next to the target as in use, or -1 */
} ScratchDir;

static gboolean
scratch_in_tmp(ScratchDir *d, const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  d->lock_fd = -1;
  d->path = g_dir_make_tmp("vsboot-XXXXXX", &local);
  if (d->path == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, local->message);
    return FALSE;
  }
  if (lstat(d->path, &d->st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", d->path, g_strerror(errno));
    (void)g_rmdir(d->path);
    g_clear_pointer(&d->path, g_free);
    return FALSE;
  }
  return TRUE;
}

static void
scratch_remove(ScratchDir *d)
{
  if (d->path != NULL)
    (void)vsb_dir_remove_created(d->path, &d->st, NULL); /* best effort, only what we made */
  if (d->lock_fd >= 0)
    close(d->lock_fd);
  d->lock_fd = -1;
  g_clear_pointer(&d->path, g_free);
}

static gboolean
is_qcow2(const guint8 *data, gsize len)
{
  return len >= 4 && memcmp(data, "QFI\xfb", 4) == 0;
}

/* A qcow2 varstore must stand alone: a backing file or an external data file (both named by
 * path inside the image) would make qemu-img read some other file, perhaps a FIFO or a secret,
 * as part of the store. Read from the header (big-endian): backing_file_offset at 8, and for
 * version 3 the incompatible-feature bit 2 (external data file) at 72. */
static gboolean
check_qcow2_standalone(const char *path, const guint8 *data, gsize len, GError **error)
{
  guint32 version = len >= 8 ? GUINT32_FROM_BE(*(const guint32 *)(const void *)(data + 4)) : 0;
  guint64 backing = 0, incompatible = 0;
  if (len >= 16)
    memcpy(&backing, data + 8, 8);
  if (version >= 3 && len >= 80)
    memcpy(&incompatible, data + 72, 8);
  backing = GUINT64_FROM_BE(backing);
  incompatible = GUINT64_FROM_BE(incompatible);
  if (backing != 0 || (incompatible & 4) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: the qcow2 image uses %s; a variable store must be a file of its own", path,
                backing != 0 ? "a backing file" : "an external data file");
    return FALSE;
  }
  return TRUE;
}

/* text with every mention of the private copy image replaced by the user's path. */
static char *
name_origin(const char *text, const char *image, const char *path)
{
  g_auto(GStrv) parts = g_strsplit(text, image, -1);
  return g_strjoinv(path, parts);
}

static void
tool_failed(GError **error, const char *path, const char *image, const char *what, int status,
            const char *err_text)
{
  g_autofree char *why = g_strstrip(name_origin(err_text ? err_text : "", image, path));
  char *nl = strchr(why, '\n');
  if (nl)
    *nl = '\0';
  g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s: %s failed (exit %d): %s", path, what,
              status, *why ? why : "no message");
}

/* `qemu-img convert` reads clusters past the end of a truncated qcow2 file as zeros, so a
 * cut-off store came out as a blank image and read as an empty store. Two cheap questions
 * first (a few milliseconds each for a store): `qemu-img check` sees metadata and clusters that
 * lie beyond the end (it reports corruptions; leaked clusters alone, exit 3, are harmless), but
 * not a cut inside the last cluster; `qemu-img map` gives where each uncompressed data extent
 * lies in the file, which must be inside it. */
static gboolean
check_qcow2(const char *path, const char *image, gint64 file_size, GError **error)
{
  const char *check[] = { "qemu-img", "check", "-f", "qcow2", "--output=json", image, NULL };
  g_autofree char *out = NULL, *err_text = NULL;
  int status = 0;
  if (!vsb_tool_run(check, &out, &err_text, &status, error))
    return FALSE;
  if (status != 0 && status != 3) {
    gint64 corruptions = 0, check_errors = 0;
    g_autoptr(JsonNode) report =
      vsb_json_parse(out, out ? strlen(out) : 0, 16, "qemu-img check", NULL);
    if (report && JSON_NODE_HOLDS_OBJECT(report)) {
      JsonObject *o = json_node_get_object(report);
      corruptions = json_object_get_int_member_with_default(o, "corruptions", 0);
      check_errors = json_object_get_int_member_with_default(o, "check-errors", 0);
    }
    if (corruptions <= 0 && check_errors <= 0) {
      /* Not even opened (a bad header): qemu-img says why on stderr. */
      tool_failed(error, path, image, "qemu-img check", status, err_text);
      return FALSE;
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: the qcow2 image is corrupt or truncated (%" G_GINT64_FORMAT " bytes; "
                "qemu-img check found %" G_GINT64_FORMAT " corruptions, %" G_GINT64_FORMAT
                " check errors)", path, file_size, corruptions, check_errors);
    return FALSE;
  }

  const char *map[] = { "qemu-img", "map", "-f", "qcow2", "--output=json", image, NULL };
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err_text, g_free);
  if (!vsb_tool_run(map, &out, &err_text, &status, error))
    return FALSE;
  g_autoptr(JsonNode) map_root =
    status == 0 ? vsb_json_parse(out, out ? strlen(out) : 0, 16, "qemu-img map", NULL) : NULL;
  if (map_root == NULL || !JSON_NODE_HOLDS_ARRAY(map_root)) {
    tool_failed(error, path, image, "qemu-img map", status, err_text);
    return FALSE;
  }
  JsonArray *extents = json_node_get_array(map_root);
  for (guint i = 0; i < json_array_get_length(extents); i++) {
    JsonNode *n = json_array_get_element(extents, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      continue;
    JsonObject *e = json_node_get_object(n);
    if (!json_object_has_member(e, "offset") || !json_object_get_boolean_member_with_default(e, "data", FALSE))
      continue; /* unallocated, zero or compressed: nothing to read at a file offset */
    gint64 off = json_object_get_int_member_with_default(e, "offset", -1);
    gint64 len = json_object_get_int_member_with_default(e, "length", -1);
    if (off < 0 || len < 0 || off > file_size || len > file_size - off) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: the qcow2 image is corrupt or truncated: %" G_GINT64_FORMAT " bytes of "
                  "data at file offset 0x%" G_GINT64_MODIFIER "x, but the file has %"
                  G_GINT64_FORMAT " bytes", path, len, off, file_size);
      return FALSE;
    }
  }
  return TRUE;
}

VsbVarstore *
vsb_varstore_load(const char *path, GError **error)
{
  g_autoptr(GBytes) bytes = vsb_file_read(path, MAX_FILE_SIZE, error);
  if (bytes == NULL)
    return NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  if (!is_qcow2(data, len))
    return vsb_varstore_load_bytes(bytes, path, error);

  /* qemu-img reads a private copy of the bytes just read and checked, never the user's path:
   * what is converted is what was validated (the path cannot be swapped for a FIFO or another
   * file meanwhile), and its image locks never touch the store, where an editor's QEMU probe
   * would take them for a running VM. */
  ScratchDir tmp = { 0 };
  if (!check_qcow2_standalone(path, data, len, error) || !scratch_in_tmp(&tmp, path, error))
    return NULL;
  g_autofree char *image = g_build_filename(tmp.path, "vars.qcow2", NULL);
  g_autofree char *raw = g_build_filename(tmp.path, "vars.raw", NULL);
  VsbWriteOptions copy = { .mode = 0600, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(image, data, len, &copy, error) ||
      !check_qcow2(path, image, (gint64)len, error)) {
    scratch_remove(&tmp);
    return NULL;
  }
  const char *argv[] = { "qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, raw, NULL };
  VsbVarstore *s = NULL;
  g_autoptr(GError) local = NULL;
  if (run_tool(argv, &local)) {
    g_autoptr(GBytes) rawbytes = vsb_file_read(raw, MAX_FILE_SIZE, error);
    if (rawbytes && (s = vsb_varstore_load_bytes(rawbytes, path, error)) != NULL)
      s->qcow2 = TRUE;
  } else {
    /* A compressed cluster cut short fails here, as a read error; say which file. */
    g_autofree char *msg = name_origin(local->message, image, path);
    g_set_error(error, local->domain, local->code, "%s: %s", path, msg);
  }
  scratch_remove(&tmp);
  return s;
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
  wr64(fv + 0x20, layouts[i].fv_length);
  wr32(fv + 0x28, FVH_SIGNATURE);
  wr32(fv + 0x2c, FV_ATTRIBUTES_OVMF);
  wr16(fv + 0x30, FV_HEADER_MIN);
  fv[0x37] = 2; /* Revision */
  wr32(fv + 0x38, layouts[i].num_blocks);
  wr32(fv + 0x3c, layouts[i].block_length);
  wr16(fv + 0x32, (guint16)(0x10000u - fv_header_sum(fv, FV_HEADER_MIN)));

  guint8 *sh = fv + FV_HEADER_MIN;
  memcpy(sh, VSB_GUID_AUTHENTICATED_VARIABLE.b, 16);
  wr32(sh + 16, (guint32)layouts[i].store_size);
  sh[20] = VARIABLE_STORE_FORMATTED;
  sh[21] = VARIABLE_STORE_HEALTHY;
  memset(sh + 22, 0, 6);

  guint8 *ftw = image + layouts[i].ftw_offset;
  memcpy(ftw, VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE.b, 16);
  ftw[20] = 0xfe; /* WorkingBlockValid = 0, WorkingBlockInvalid = 1 */
  memset(ftw + 21, 0xff, 3);
  wr64(ftw + 24, layouts[i].ftw_size - FTW_HEADER_SIZE);
  wr32(ftw + 16, ftw_header_crc(ftw));
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
    return vsb_varstore_load_bytes(b, layouts[i].name, error);
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
              "no empty template for layout '%s'; use a template file", vsb_varstore_layout_name(layout));
  return NULL;
}

/* ---- accessors ---------------------------------------------------------------------------- */

void
vsb_varstore_get_boot_facts(const VsbVarstore *s, VsbVarstoreBootFacts *out)
{
  /* An edited store is written compacted (no transition records, clean free space) with the
   * volume header and the FTW area kept as they were. */
  out->reformat = s->reformat;
  out->reclaim = s->free_dirty && !s->modified;
  out->tail_header = s->tail_header && !s->modified;
  out->ftw_pending = s->ftw_pending;
  out->duplicate = s->modified ? NULL : s->duplicate;
}

int
vsb_varstore_first_data_byte(const VsbVarstore *s, const VsbVariable *v)
{
  gsize len;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  if (len > 0)
    return d[0];
  /* DataSize 0: the firmware dereferences the data pointer anyway and reads the byte after the
   * name, which is the record's padding (copied verbatim by a reclaim) or the next header's
   * StartId or free space (never 0x01). Records made in memory are written with 0xFF padding. */
  if (v->offset == 0 || s->modified)
    return 0xff;
  const gsize hdr = s->authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE;
  const gsize name_off = s->authenticated ? 36 : 8;
  if (v->offset + hdr > s->size)
    return 0xff;
  gsize at = v->offset + hdr + rd32(s->image + v->offset + name_off);
  return at < s->size ? s->image[at] : 0xff;
}

VsbVarstoreLayout vsb_varstore_get_layout(const VsbVarstore *s) { return s->layout; }
gboolean vsb_varstore_is_qcow2(const VsbVarstore *s) { return s->qcow2; }
gsize vsb_varstore_get_file_size(const VsbVarstore *s) { return s->size; }
gsize vsb_varstore_get_volume_offset(const VsbVarstore *s) { return s->vol_offset; }
gsize vsb_varstore_get_capacity(const VsbVarstore *s) { return s->region_end - s->first_offset; }
const char *vsb_varstore_get_origin(const VsbVarstore *s) { return s->origin; }
gboolean vsb_varstore_is_authenticated(const VsbVarstore *s) { return s->authenticated; }
gsize vsb_varstore_get_first_offset(const VsbVarstore *s) { return s->first_offset; }
gsize vsb_varstore_get_free_offset(const VsbVarstore *s) { return s->free_offset; }
GPtrArray *vsb_varstore_get_variables(const VsbVarstore *s) { return s->variables; }
GPtrArray *vsb_varstore_get_records(const VsbVarstore *s) { return s->records; }

const char *const *
vsb_varstore_get_warnings(const VsbVarstore *s)
{
  return (const char *const *)s->warnings->pdata;
}

static gsize
record_size(const VsbVarstore *s, const VsbVariable *v, gboolean *ok)
{
  glong n = 0;
  g_autofree gunichar2 *u = g_utf8_to_utf16(v->name, -1, NULL, &n, NULL);
  *ok = u != NULL;
  return (s->authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE) + ((gsize)n + 1) * 2 +
         g_bytes_get_size(v->data);
}

gsize
vsb_varstore_get_used(const VsbVarstore *s)
{
  gsize used = 0;
  for (guint i = 0; i < s->variables->len; i++) {
    gboolean ok;
    used += HEADER_ALIGN(record_size(s, s->variables->pdata[i], &ok));
  }
  return used;
}

const VsbVariable *
vsb_varstore_lookup(const VsbVarstore *s, const char *name, const VsbGuid *guid)
{
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, name) == 0 && (guid == NULL || vsb_guid_equal(&v->guid, guid)))
      return v;
  }
  return NULL;
}

void
vsb_varstore_set(VsbVarstore *s, VsbVariable *var)
{
  s->modified = TRUE;
  var->state = VSB_VAR_ADDED;
  for (guint i = 0; i < s->variables->len; i++) {
    VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, var->name) == 0 && vsb_guid_equal(&v->guid, &var->guid)) {
      var->offset = 0;
      vsb_variable_free(v);
      s->variables->pdata[i] = var;
      return;
    }
  }
  var->offset = 0;
  g_ptr_array_add(s->variables, var);
}

gboolean
vsb_varstore_delete(VsbVarstore *s, const char *name, const VsbGuid *guid)
{
  gboolean found = FALSE;
  s->modified = TRUE;
  for (guint i = 0; i < s->variables->len;) {
    VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, name) == 0 && (guid == NULL || vsb_guid_equal(&v->guid, guid))) {
      g_ptr_array_remove_index(s->variables, i);
      found = TRUE;
    } else
      i++;
  }
  return found;
}

void
vsb_varstore_clear(VsbVarstore *s)
{
  s->modified = TRUE;
  g_ptr_array_set_size(s->variables, 0);
}

static gint
cmp_name(gconstpointer a, gconstpointer b)
{
  const VsbVariable *x = *(VsbVariable *const *)a, *y = *(VsbVariable *const *)b;
  return strcmp(x->name, y->name); /* UTF-8 byte order is code-point order */
}

void
vsb_varstore_sort_by_name(VsbVarstore *s)
{
  /* g_ptr_array_sort is a stable merge sort: same names keep their order. */
  s->modified = TRUE;
  g_ptr_array_sort(s->variables, cmp_name);
}

/* ---- writing ------------------------------------------------------------------------------ */

GBytes *
vsb_varstore_serialize(const VsbVarstore *s, GError **error)
{
  const gsize hdr = s->authenticated ? AUTH_VAR_HEADER_SIZE : VAR_HEADER_SIZE;
  const gsize capacity = s->region_end - s->first_offset;
  gsize need = 0;
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    gboolean ok;
    gsize rs = record_size(s, v, &ok);
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
                s->origin, need, vsb_varstore_layout_name(s->layout), capacity, need - capacity);
    return NULL;
  }

  guint8 *out = g_memdup2(s->image, s->size);
  memset(out + s->first_offset, 0xff, capacity);
  gsize off = s->first_offset;
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    glong n = 0;
    g_autofree gunichar2 *u = g_utf8_to_utf16(v->name, -1, NULL, &n, NULL);
    gsize name_size = ((gsize)n + 1) * 2;
    gsize dlen;
    const guint8 *d = g_bytes_get_data(v->data, &dlen);
    guint8 *h = out + off;
    memset(h, 0, hdr);
    wr16(h, VARIABLE_DATA);
    h[2] = VSB_VAR_ADDED;
    wr32(h + 4, v->attributes);
    gsize no = 8; /* NameSize in VARIABLE_HEADER */
    if (s->authenticated) {
      wr64(h + 8, v->monotonic_count);
      time_write(h + 16, &v->timestamp);
      wr32(h + 32, v->pubkey_index);
      no = 36;
    }
    wr32(h + no, (guint32)name_size);
    wr32(h + no + 4, (guint32)dlen);
    memcpy(h + no + 8, v->guid.b, 16);
    for (glong c = 0; c <= n; c++)
      wr16(h + hdr + 2 * c, c < n ? u[c] : 0);
    if (dlen)
      memcpy(h + hdr + name_size, d, dlen);
    off = HEADER_ALIGN(off + hdr + name_size + dlen);
  }
  return g_bytes_new_take(out, s->size);
}

/* ---- locks and saving --------------------------------------------------------------------- */

gboolean
vsb_file_is_locked(const char *path, GError **error)
{
  /* O_NONBLOCK: probing a FIFO must not hang. vsboot's own edit lock is a flock()
   * (vsb_file_lock), which Linux keeps apart from fcntl locks, so it never shows here. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO, "%s: %s",
                path, g_strerror(errno));
    return FALSE;
  }
  /* QEMU's file-posix driver takes OFD byte-range locks at 100+ (permissions held) and 200+
   * (permissions shared). Asking whether a write lock on the whole file would conflict
   * finds any of them, shared or exclusive. */
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
  int r = fcntl(fd, F_OFD_GETLK, &fl);
  if (r < 0 && errno == EINVAL) {
    fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    r = fcntl(fd, F_GETLK, &fl);
  }
  int e = errno;
  close(fd);
  if (r < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot probe locks: %s", path, g_strerror(e));
    return FALSE;
  }
  return fl.l_type != F_UNLCK;
}

/* Refuse (VSB_ERROR_BUSY) when a running QEMU holds the existing regular file real. */
static gboolean
check_not_held(const char *real, GError **error)
{
  struct stat st;
  if (lstat(real, &st) < 0 || !S_ISREG(st.st_mode))
    return TRUE; /* nothing there yet, or something the writer refuses with its own message */
  g_autoptr(GError) local = NULL;
  gboolean locked = vsb_file_is_locked(real, &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (locked) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                "%s: the file is locked by a running process (QEMU); stop the VM or force", real);
    return FALSE;
  }
  return TRUE;
}

/* qcow2: qemu-img writes into a private directory (random name, 0700) next to the target,
 * never at a name anyone could predict; the result then replaces the target by rename. */
static gboolean
save_qcow2(GBytes *bytes, const char *real, const VsbWriteOptions *opts, GError **error)
{
  ScratchDir tmp = { 0 };
  tmp.path = vsb_file_make_temp_dir_near(real, &tmp.st, &tmp.lock_fd, error);
  if (tmp.path == NULL)
    return FALSE;
  g_autofree char *raw = g_build_filename(tmp.path, "vars.raw", NULL);
  g_autofree char *out = g_build_filename(tmp.path, "vars.qcow2", NULL);
  VsbWriteOptions raw_opts = { .mode = 0600, .exclusive = TRUE };
  gboolean ok = vsb_file_write_atomic_full(raw, g_bytes_get_data(bytes, NULL),
                                           g_bytes_get_size(bytes), &raw_opts, error);
  if (ok) {
    const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o",
                           "cluster_size=4096", "-S", "4096", raw, out, NULL };
    ok = run_tool(argv, error);
  }
  if (ok) {
    vsb_file_test_crash_point("after-qcow2-convert");
    ok = vsb_file_replace_with(out, real, opts, error);
  }
  scratch_remove(&tmp);
  return ok;
}

gboolean
vsb_varstore_save_full(const VsbVarstore *s, const char *path, const VsbWriteOptions *opts,
                       gboolean force, GError **error)
{
  static const VsbWriteOptions defaults = { 0 };
  if (opts == NULL)
    opts = &defaults;
  g_autoptr(GBytes) bytes = vsb_varstore_serialize(s, error);
  if (bytes == NULL)
    return FALSE;
  /* Editing through a link: everything below works on the real file (so the private
   * directory for qemu-img is on its filesystem and the link stays a link). */
  g_autofree char *real = opts->follow_final_symlink ? vsb_file_resolve_final(path, error)
                                                     : g_strdup(path);
  if (real == NULL)
    return FALSE;
  if (!force && !check_not_held(real, error))
    return FALSE;
  if (!s->qcow2)
    return vsb_file_write_atomic_full(real, g_bytes_get_data(bytes, NULL),
                                      g_bytes_get_size(bytes), opts, error);
  return save_qcow2(bytes, real, opts, error);
}

gboolean
vsb_varstore_save(const VsbVarstore *s, const char *path, int mode, gboolean force,
                  GError **error)
{
  VsbWriteOptions opts = { .mode = (guint)mode };
  return vsb_varstore_save_full(s, path, &opts, force, error);
}
