/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sbvariants: write hostile-but-valid variants of Debian's OVMF variable stores, byte by byte,
 * for the differential test of vsboot's Secure Boot verdict against the firmware (test-sbdiff).
 *
 *   sbvariants [--snakeoil F] [--empty F] [--ms2m F] OUTDIR
 *
 * writes OUTDIR/NAME.fd for every variant and OUTDIR/variants.json (name, file, base, layout,
 * what changes, sha256). It never goes through vsboot's writer: the point is records vsboot's
 * writer refuses (duplicates, odd states, DataSize 0, an all-ones header, a wrong store GUID).
 *
 * The store is parsed into its record list (every record, deleted ones too, as the bytes say),
 * the variant edits the list or the headers, and the region is laid out again: records from
 * 0x64, each header 4-aligned with 0xFF padding, 0xFF up to the end of the store; everything
 * outside [0x64, 0x48 + Size) (the FV header, the NV event log, the FTW blocks) is the base's. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#define FV_HDR_LEN 0x48
#define STORE_HDR_END 0x64
#define AUTH_HDR_LEN 60
#define PLAIN_HDR_LEN 32

#define GUID_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define GUID_IMAGE_DB "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
#define GUID_SBE "f0a30bc7-af08-4556-99c4-001009c93a44"
#define GUID_CUSTOM "c076ec0c-7028-4399-a072-71ee5c448b9f"
#define GUID_PLAIN_STORE "ddcf3616-3275-4164-98b6-fe85707ffe7d"

typedef struct {
  gboolean all_ones;   /* StartId 0x55AA and every other header byte 0xFF, no name or data */
  guint8 state, reserved;
  guint32 attributes;
  guint64 monotonic;
  guint8 timestamp[16];
  guint32 pubkey_index;
  guint32 name_size, data_size; /* as written in the header */
  guint8 guid[16];
  GByteArray *name;    /* raw UCS-2 bytes, name_size of them normally */
  GByteArray *data;    /* raw bytes, data_size of them normally */
  GByteArray *pad;     /* bytes after the data up to the next header; NULL: 0xFF */
} Rec;

typedef struct {
  GByteArray *file;    /* the whole base file; the region is rewritten on save */
  guint32 store_size;  /* VARIABLE_STORE_HEADER.Size of the base */
  gboolean auth;       /* write 60-byte (auth) or 32-byte (plain) headers */
  GPtrArray *recs;     /* Rec* */
  gssize dirty_at;     /* >= 0: bytes 00 written this far past the last record */
} Store;

static void
rec_free(gpointer p)
{
  Rec *r = p;
  if (r->name)
    g_byte_array_unref(r->name);
  if (r->data)
    g_byte_array_unref(r->data);
  if (r->pad)
    g_byte_array_unref(r->pad);
  g_free(r);
}

static guint32
get32(const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static void
put16(guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put32(guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static void
put64(guint8 *p, guint64 v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

/* EFI GUID text to its 16 bytes (first three fields little-endian). */
static void
guid_bytes(const char *text, guint8 out[16])
{
  unsigned a, b, c, d[8];
  if (sscanf(text, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &a, &b, &c, &d[0], &d[1], &d[2],
             &d[3], &d[4], &d[5], &d[6], &d[7]) != 11)
    g_error("bad GUID %s", text);
  put32(out, a);
  put16(out + 4, (guint16)b);
  put16(out + 6, (guint16)c);
  for (int i = 0; i < 8; i++)
    out[8 + i] = (guint8)d[i];
}

static GByteArray *
ucs2(const char *ascii)
{
  GByteArray *a = g_byte_array_new();
  for (const char *p = ascii;; p++) {
    guint8 ch[2] = { (guint8)*p, 0 };
    g_byte_array_append(a, ch, 2);
    if (*p == 0)
      break;
  }
  return a;
}

static GByteArray *
bytes(const void *p, gsize n)
{
  GByteArray *a = g_byte_array_sized_new((guint)n);
  g_byte_array_append(a, p, (guint)n);
  return a;
}

static Store *
store_load(const char *path)
{
  g_autoptr(GError) error = NULL;
  gchar *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, &error))
    g_error("%s", error->message);
  Store *s = g_new0(Store, 1);
  s->file = g_byte_array_new_take((guint8 *)data, len);
  s->auth = TRUE;
  s->dirty_at = -1;
  s->recs = g_ptr_array_new_with_free_func(rec_free);
  const guint8 *f = s->file->data;
  if (len < 0x1000 || memcmp(f + 0x28, "_FVH", 4) != 0)
    g_error("%s: not an FV", path);
  s->store_size = get32(f + 0x58);
  gsize end = FV_HDR_LEN + (gsize)s->store_size;
  if (end > len)
    g_error("%s: store size beyond the file", path);
  gsize off = STORE_HDR_END;
  while (off + AUTH_HDR_LEN <= end && f[off] == 0xaa && f[off + 1] == 0x55) {
    const guint8 *h = f + off;
    Rec *r = g_new0(Rec, 1);
    r->state = h[2];
    r->reserved = h[3];
    r->attributes = get32(h + 4);
    r->monotonic = (guint64)get32(h + 8) | (guint64)get32(h + 12) << 32;
    memcpy(r->timestamp, h + 16, 16);
    r->pubkey_index = get32(h + 32);
    r->name_size = get32(h + 36);
    r->data_size = get32(h + 40);
    memcpy(r->guid, h + 44, 16);
    if (off + AUTH_HDR_LEN + (gsize)r->name_size + r->data_size > end)
      g_error("%s: record at 0x%zx overruns the store", path, off);
    r->name = bytes(h + AUTH_HDR_LEN, r->name_size);
    r->data = bytes(h + AUTH_HDR_LEN + r->name_size, r->data_size);
    g_ptr_array_add(s->recs, r);
    off = (off + AUTH_HDR_LEN + r->name_size + r->data_size + 3) & ~(gsize)3;
  }
  return s;
}

static void
store_free(Store *s)
{
  g_byte_array_unref(s->file);
  g_ptr_array_unref(s->recs);
  g_free(s);
}

/* The FV header checksum made right again (after an edit of another field). */
static void
fv_fix_checksum(Store *s)
{
  guint8 *f = s->file->data;
  put16(f + 0x32, 0);
  guint16 sum = 0;
  for (int i = 0; i < FV_HDR_LEN; i += 2)
    sum = (guint16)(sum + (f[i] | f[i + 1] << 8));
  put16(f + 0x32, (guint16)(0x10000 - sum));
}

/* Lay the records out again; the bytes of the variant. */
static GBytes *
store_save(Store *s)
{
  GByteArray *out = g_byte_array_sized_new(s->file->len);
  g_byte_array_append(out, s->file->data, s->file->len);
  guint8 *f = out->data;
  gsize end = FV_HDR_LEN + (gsize)s->store_size;
  memset(f + STORE_HDR_END, 0xff, end - STORE_HDR_END);
  gsize off = STORE_HDR_END;
  gsize hlen = s->auth ? AUTH_HDR_LEN : PLAIN_HDR_LEN;
  for (guint i = 0; i < s->recs->len; i++) {
    Rec *r = s->recs->pdata[i];
    gsize need = hlen + r->name->len + r->data->len + (r->pad ? r->pad->len : 0) + 3;
    if (off + need > end)
      g_error("variant does not fit the store");
    guint8 *h = f + off;
    h[0] = 0xaa;
    h[1] = 0x55;
    if (r->all_ones) {
      off += hlen; /* the rest is 0xFF already; edk2 steps over it by the header size */
      continue;
    }
    h[2] = r->state;
    h[3] = r->reserved;
    put32(h + 4, r->attributes);
    if (s->auth) {
      put64(h + 8, r->monotonic);
      memcpy(h + 16, r->timestamp, 16);
      put32(h + 32, r->pubkey_index);
      put32(h + 36, r->name_size);
      put32(h + 40, r->data_size);
      memcpy(h + 44, r->guid, 16);
    } else {
      put32(h + 8, r->name_size);
      put32(h + 12, r->data_size);
      memcpy(h + 16, r->guid, 16);
    }
    gsize p = off + hlen;
    memcpy(f + p, r->name->data, r->name->len);
    p += r->name->len;
    memcpy(f + p, r->data->data, r->data->len);
    p += r->data->len;
    if (r->pad) {
      memcpy(f + p, r->pad->data, r->pad->len);
      p += r->pad->len;
    }
    off = (p + 3) & ~(gsize)3;
  }
  if (s->dirty_at >= 0) {
    if (off + (gsize)s->dirty_at + 16 > end)
      g_error("no room for the dirty bytes");
    memset(f + off + s->dirty_at, 0x00, 16);
  }
  return g_byte_array_free_to_bytes(out);
}

static Rec *
rec_new(const char *name, const char *guid, guint32 attributes, const void *data, gsize len)
{
  Rec *r = g_new0(Rec, 1);
  r->state = 0x3f;
  r->attributes = attributes;
  r->name = ucs2(name);
  r->name_size = r->name->len;
  r->data = bytes(data, len);
  r->data_size = (guint32)len;
  guid_bytes(guid, r->guid);
  return r;
}

static Rec *
rec_copy(const Rec *o)
{
  Rec *r = g_memdup2(o, sizeof *r);
  r->name = bytes(o->name->data, o->name->len);
  r->data = bytes(o->data->data, o->data->len);
  r->pad = o->pad ? bytes(o->pad->data, o->pad->len) : NULL;
  return r;
}

static gboolean
rec_is(const Rec *r, const char *name, const char *guid)
{
  guint8 g[16];
  guid_bytes(guid, g);
  g_autoptr(GByteArray) n = ucs2(name);
  return !r->all_ones && memcmp(r->guid, g, 16) == 0 && r->name->len == n->len &&
         memcmp(r->name->data, n->data, n->len) == 0;
}

/* Index of the live (0x3F) record name/guid; fails when there is none. */
static guint
live(Store *s, const char *name, const char *guid)
{
  for (guint i = 0; i < s->recs->len; i++) {
    Rec *r = s->recs->pdata[i];
    if (r->state == 0x3f && rec_is(r, name, guid))
      return i;
  }
  g_error("no live %s in the base", name);
}

static Rec *
live_rec(Store *s, const char *name, const char *guid)
{
  return s->recs->pdata[live(s, name, guid)];
}

static void
set_data(Rec *r, const void *data, gsize len)
{
  g_byte_array_set_size(r->data, 0);
  g_byte_array_append(r->data, data, (guint)len);
  r->data_size = (guint32)len;
}

static Rec *
sbe(guint8 state, guint8 value)
{
  Rec *r = rec_new("SecureBootEnable", GUID_SBE, 0x03, &value, 1);
  r->state = state;
  return r;
}

/* The SecureBootEnable record replaced, at its place, by the given records. */
static void
replace_sbe(Store *s, Rec *a, Rec *b)
{
  guint i = live(s, "SecureBootEnable", GUID_SBE);
  g_ptr_array_remove_index(s->recs, i);
  if (b)
    g_ptr_array_insert(s->recs, i, b);
  g_ptr_array_insert(s->recs, i, a);
}

static void
sbe_value(Store *s, guint8 v)
{
  set_data(live_rec(s, "SecureBootEnable", GUID_SBE), &v, 1);
}

/* ---- the variants ---- */

static void v_none(Store *s) { (void)s; }
static void v_sbe_0(Store *s) { sbe_value(s, 0); }
static void v_sbe_2(Store *s) { sbe_value(s, 2); }
static void v_sbe_ff(Store *s) { sbe_value(s, 0xff); }

static void
sbe_size0(Store *s, guint8 pad)
{
  Rec *r = live_rec(s, "SecureBootEnable", GUID_SBE);
  set_data(r, NULL, 0);
  guint8 p[2] = { pad, 0xff };
  r->pad = bytes(p, 2);
}
static void v_sbe_size0_padff(Store *s) { sbe_size0(s, 0xff); }
static void v_sbe_size0_pad01(Store *s) { sbe_size0(s, 0x01); }

static void
v_sbe_size2(Store *s)
{
  guint8 d[2] = { 1, 0 };
  set_data(live_rec(s, "SecureBootEnable", GUID_SBE), d, 2);
}

static void
v_sbe_missing(Store *s)
{
  g_ptr_array_remove_index(s->recs, live(s, "SecureBootEnable", GUID_SBE));
}

static void v_sbe_attr07(Store *s) { live_rec(s, "SecureBootEnable", GUID_SBE)->attributes = 0x07; }
static void v_sbe_attr27(Store *s) { live_rec(s, "SecureBootEnable", GUID_SBE)->attributes = 0x27; }

static void v_dup3f_1_0(Store *s) { replace_sbe(s, sbe(0x3f, 1), sbe(0x3f, 0)); }
static void v_dup3f_0_1(Store *s) { replace_sbe(s, sbe(0x3f, 0), sbe(0x3f, 1)); }
static void v_dup3e_1_0(Store *s) { replace_sbe(s, sbe(0x3e, 1), sbe(0x3e, 0)); }
static void v_dup3e_0_1(Store *s) { replace_sbe(s, sbe(0x3e, 0), sbe(0x3e, 1)); }
static void v_dup3e_1_0_dirty(Store *s) { v_dup3e_1_0(s); s->dirty_at = 0x100; }
static void v_dup3e_0_1_dirty(Store *s) { v_dup3e_0_1(s); s->dirty_at = 0x100; }
static void v_3f0_3e1(Store *s) { replace_sbe(s, sbe(0x3f, 0), sbe(0x3e, 1)); }
static void v_3e0_3f1(Store *s) { replace_sbe(s, sbe(0x3e, 0), sbe(0x3f, 1)); }
static void v_3e0(Store *s) { replace_sbe(s, sbe(0x3e, 0), NULL); }
static void v_3e0_dirty(Store *s) { v_3e0(s); s->dirty_at = 0x100; }

static void
sbe0_state(Store *s, guint8 state)
{
  replace_sbe(s, sbe(state, 0), NULL);
}
static void v_sbe0_7f(Store *s) { sbe0_state(s, 0x7f); }
static void v_sbe0_3d(Store *s) { sbe0_state(s, 0x3d); }
static void v_sbe0_3c(Store *s) { sbe0_state(s, 0x3c); }
static void v_sbe0_1f(Store *s) { sbe0_state(s, 0x1f); }
static void v_sbe0_00(Store *s) { sbe0_state(s, 0x00); }

static void pk_state(Store *s, guint8 st) { live_rec(s, "PK", GUID_GLOBAL)->state = st; }
static void v_pk_3c(Store *s) { pk_state(s, 0x3c); }
static void v_pk_3e(Store *s) { pk_state(s, 0x3e); }
static void v_pk_7f(Store *s) { pk_state(s, 0x7f); }
static void v_pk_1f(Store *s) { pk_state(s, 0x1f); }
static void v_pk_size0(Store *s) { set_data(live_rec(s, "PK", GUID_GLOBAL), NULL, 0); }

static void
v_pk_garbage(Store *s)
{
  guint8 g[64];
  for (guint i = 0; i < sizeof g; i++)
    g[i] = (guint8)(i * 37 + 11);
  set_data(live_rec(s, "PK", GUID_GLOBAL), g, sizeof g);
}

static void
v_pk_wrong_guid(Store *s)
{
  guid_bytes(GUID_IMAGE_DB, live_rec(s, "PK", GUID_GLOBAL)->guid);
}

static void
v_pk_lowercase(Store *s)
{
  Rec *r = live_rec(s, "PK", GUID_GLOBAL);
  r->name->data[0] = 'p';
  r->name->data[2] = 'k';
}

/* Two live PK records: a garbage one first, then the real one. */
static void
v_pk_dup(Store *s)
{
  guint i = live(s, "PK", GUID_GLOBAL);
  Rec *c = rec_copy(s->recs->pdata[i]);
  guint8 g[16] = { 0xde, 0xad, 0xbe, 0xef };
  set_data(c, g, sizeof g);
  g_ptr_array_insert(s->recs, i, c);
}

static void
v_custommode_1(Store *s)
{
  guint8 one = 1;
  set_data(live_rec(s, "CustomMode", GUID_CUSTOM), &one, 1);
}

static void
plant(Store *s, const char *name, guint8 value)
{
  g_ptr_array_add(s->recs, rec_new(name, GUID_GLOBAL, 0x07, &value, 1));
}

static void
v_nv_modes_odd(Store *s)
{
  plant(s, "SetupMode", 1);
  plant(s, "SecureBoot", 0);
  plant(s, "AuditMode", 1);
  plant(s, "DeployedMode", 0xff);
}
static void v_nv_secureboot_1_sbe0(Store *s) { sbe_value(s, 0); plant(s, "SecureBoot", 1); }
static void
v_nv_auditmode_1_sbe0(Store *s)
{
  sbe_value(s, 0);
  plant(s, "AuditMode", 1);
  plant(s, "DeployedMode", 1);
}

static void
v_empty_nv_secureboot_1(Store *s)
{
  plant(s, "SecureBoot", 1);
  plant(s, "SetupMode", 0);
}

static void
allones_before(Store *s, guint i)
{
  Rec *r = g_new0(Rec, 1);
  r->all_ones = TRUE;
  r->name = g_byte_array_new();
  r->data = g_byte_array_new();
  g_ptr_array_insert(s->recs, i, r);
}
static void v_allones_before_pk(Store *s) { allones_before(s, live(s, "PK", GUID_GLOBAL)); }

static void
v_allones_then_sbe0(Store *s)
{
  sbe_value(s, 0);
  allones_before(s, live(s, "SecureBootEnable", GUID_SBE));
}

static void
v_plain_store(Store *s)
{
  s->auth = FALSE;
  guid_bytes(GUID_PLAIN_STORE, s->file->data + FV_HDR_LEN);
}

static void v_fv_checksum(Store *s) { s->file->data[0x32] ^= 0x01; }
static void v_fv_length(Store *s) { put32(s->file->data + 0x20, 0x80000); fv_fix_checksum(s); }
static void v_fv_blockmap(Store *s)
{
  /* 0x42 blocks of 0x2000: the same FvLength, a block size the FVB driver refuses. */
  put32(s->file->data + 0x38, 0x42);
  put32(s->file->data + 0x3c, 0x2000);
  fv_fix_checksum(s);
}
static void v_fv_fsguid(Store *s)
{
  s->file->data[0x10] ^= 0xff;
  fv_fix_checksum(s);
}
static void v_fv_revision(Store *s) { s->file->data[0x37] = 1; fv_fix_checksum(s); }
static void v_store_size(Store *s) { put32(s->file->data + 0x58, s->store_size - 0x1000); }

static void
v_ftw_corrupt(Store *s)
{
  /* The working block follows the NV event log, one 4 KiB block after the store region. */
  gsize ftw = FV_HDR_LEN + (gsize)s->store_size + 0x1000;
  if (ftw + 32 > s->file->len || s->file->data[ftw] != 0x2b)
    g_error("no FTW working block header at 0x%zx", ftw);
  s->file->data[ftw + 2] ^= 0xff;  /* the signature GUID */
  s->file->data[ftw + 16] ^= 0xff; /* and its CRC */
}

static void
drop(Store *s, const char *name, const char *guid)
{
  live_rec(s, name, guid)->state = 0x3c;
}
static void v_db_empty(Store *s) { set_data(live_rec(s, "db", GUID_IMAGE_DB), NULL, 0); }
static void v_dbx_removed(Store *s) { drop(s, "dbx", GUID_IMAGE_DB); }
static void v_kek_removed(Store *s) { drop(s, "KEK", GUID_GLOBAL); }

/* Empty template plus the snakeoil PK record (copied from that file): PK only. */
static Store *snakeoil_base;
static void
v_empty_pk_only(Store *s)
{
  g_ptr_array_add(s->recs, rec_copy(live_rec(snakeoil_base, "PK", GUID_GLOBAL)));
}
static void v_empty_sbe_1(Store *s) { g_ptr_array_add(s->recs, sbe(0x3f, 1)); }
static void
v_empty_pk_sbe_0(Store *s)
{
  v_empty_pk_only(s);
  g_ptr_array_add(s->recs, sbe(0x3f, 0));
}

typedef enum { BASE_SNAKEOIL, BASE_EMPTY, BASE_MS2M } Base;

typedef struct {
  const char *name;
  Base base;
  const char *changes;
  void (*edit)(Store *);
} Variant;

static const Variant variants[] = {
  { "snakeoil-base", BASE_SNAKEOIL,
    "the snakeoil store as Debian ships it, laid out again (control: PK/KEK/db enrolled, "
    "SecureBootEnable=1)", v_none },
  { "sbe-value-0", BASE_SNAKEOIL, "SecureBootEnable = 0", v_sbe_0 },
  { "sbe-value-2", BASE_SNAKEOIL, "SecureBootEnable = 2", v_sbe_2 },
  { "sbe-value-ff", BASE_SNAKEOIL, "SecureBootEnable = 0xFF", v_sbe_ff },
  { "sbe-datasize-0-pad-ff", BASE_SNAKEOIL,
    "SecureBootEnable with DataSize 0; the byte after the name is 0xFF", v_sbe_size0_padff },
  { "sbe-datasize-0-pad-01", BASE_SNAKEOIL,
    "SecureBootEnable with DataSize 0; the byte after the name is 0x01", v_sbe_size0_pad01 },
  { "sbe-datasize-2", BASE_SNAKEOIL, "SecureBootEnable with DataSize 2, data 01 00", v_sbe_size2 },
  { "sbe-missing", BASE_SNAKEOIL,
    "no SecureBootEnable record at all (PK enrolled)", v_sbe_missing },
  { "sbe-attr-07", BASE_SNAKEOIL,
    "SecureBootEnable = 1 with attributes 0x07 (NV|BS|RT)", v_sbe_attr07 },
  { "sbe-attr-27", BASE_SNAKEOIL,
    "SecureBootEnable = 1 with attributes 0x27 (NV|BS|RT|AT)", v_sbe_attr27 },
  { "sbe-dup-3f-1-then-0", BASE_SNAKEOIL,
    "two live (0x3F) SecureBootEnable records: 1, then 0", v_dup3f_1_0 },
  { "sbe-dup-3f-0-then-1", BASE_SNAKEOIL,
    "two live (0x3F) SecureBootEnable records: 0, then 1", v_dup3f_0_1 },
  { "sbe-dup-3e-1-then-0", BASE_SNAKEOIL,
    "two in-deleted-transition (0x3E) SecureBootEnable records: 1, then 0; free space clean",
    v_dup3e_1_0 },
  { "sbe-dup-3e-0-then-1", BASE_SNAKEOIL,
    "two 0x3E SecureBootEnable records: 0, then 1; free space clean", v_dup3e_0_1 },
  { "sbe-dup-3e-1-then-0-dirty", BASE_SNAKEOIL,
    "two 0x3E SecureBootEnable records: 1, then 0; 16 zero bytes in the free space "
    "(reclaim at init)", v_dup3e_1_0_dirty },
  { "sbe-dup-3e-0-then-1-dirty", BASE_SNAKEOIL,
    "two 0x3E SecureBootEnable records: 0, then 1; 16 zero bytes in the free space "
    "(reclaim at init)", v_dup3e_0_1_dirty },
  { "sbe-3f-0-then-3e-1", BASE_SNAKEOIL, "SecureBootEnable 0x3F = 0, then 0x3E = 1", v_3f0_3e1 },
  { "sbe-3e-0-then-3f-1", BASE_SNAKEOIL, "SecureBootEnable 0x3E = 0, then 0x3F = 1", v_3e0_3f1 },
  { "sbe-3e-0", BASE_SNAKEOIL,
    "the only SecureBootEnable record is 0x3E (in deleted transition) = 0; free space clean",
    v_3e0 },
  { "sbe-3e-0-dirty", BASE_SNAKEOIL,
    "the only SecureBootEnable record is 0x3E = 0; 16 zero bytes in the free space "
    "(reclaim at init)", v_3e0_dirty },
  { "sbe-0-state-7f", BASE_SNAKEOIL,
    "the only SecureBootEnable record = 0 with state 0x7F (header valid only)", v_sbe0_7f },
  { "sbe-0-state-3d", BASE_SNAKEOIL,
    "the only SecureBootEnable record = 0 with state 0x3D (deleted)", v_sbe0_3d },
  { "sbe-0-state-3c", BASE_SNAKEOIL,
    "the only SecureBootEnable record = 0 with state 0x3C (deleted after transition)", v_sbe0_3c },
  { "sbe-0-state-1f", BASE_SNAKEOIL,
    "the only SecureBootEnable record = 0 with unknown state 0x1F", v_sbe0_1f },
  { "sbe-0-state-00", BASE_SNAKEOIL,
    "the only SecureBootEnable record = 0 with state 0x00", v_sbe0_00 },
  { "pk-state-3c", BASE_SNAKEOIL, "PK removed: its only record has state 0x3C", v_pk_3c },
  { "pk-state-3e", BASE_SNAKEOIL,
    "PK's only record has state 0x3E (in deleted transition)", v_pk_3e },
  { "pk-state-7f", BASE_SNAKEOIL, "PK's only record has state 0x7F (header valid only)", v_pk_7f },
  { "pk-state-1f", BASE_SNAKEOIL, "PK's only record has unknown state 0x1F", v_pk_1f },
  { "pk-datasize-0", BASE_SNAKEOIL, "PK record with DataSize 0", v_pk_size0 },
  { "pk-garbage", BASE_SNAKEOIL, "PK holds 64 bytes that are not a signature list", v_pk_garbage },
  { "pk-wrong-guid", BASE_SNAKEOIL,
    "the PK record under the image-security-database GUID instead of the global one",
    v_pk_wrong_guid },
  { "pk-lowercase", BASE_SNAKEOIL, "the PK record named \"pk\"", v_pk_lowercase },
  { "pk-dup", BASE_SNAKEOIL,
    "two live PK records: 16 garbage bytes first, then the real PK", v_pk_dup },
  { "custommode-1", BASE_SNAKEOIL, "CustomMode = 1", v_custommode_1 },
  { "nv-modes-odd", BASE_SNAKEOIL,
    "NV variables planted: SetupMode=1, SecureBoot=0, AuditMode=1, DeployedMode=0xFF "
    "(global GUID, attributes 0x07)", v_nv_modes_odd },
  { "nv-secureboot-1-sbe-0", BASE_SNAKEOIL,
    "SecureBootEnable = 0 and NV SecureBoot = 1 planted", v_nv_secureboot_1_sbe0 },
  { "nv-auditmode-1-sbe-0", BASE_SNAKEOIL,
    "SecureBootEnable = 0 and NV AuditMode = 1, DeployedMode = 1 planted", v_nv_auditmode_1_sbe0 },
  { "allones-before-pk", BASE_SNAKEOIL,
    "a header with StartId 0x55AA and every other byte 0xFF (State 0xFF) right before PK; "
    "the records follow it", v_allones_before_pk },
  { "allones-then-sbe-0", BASE_SNAKEOIL,
    "SecureBootEnable = 0, placed right after an all-ones header (State 0xFF)",
    v_allones_then_sbe0 },
  { "plain-store", BASE_SNAKEOIL,
    "the snakeoil records in the non-authenticated format: store GUID gEfiVariableGuid, "
    "32-byte headers", v_plain_store },
  { "fv-checksum-bad", BASE_SNAKEOIL, "FV header checksum wrong (low bit flipped)", v_fv_checksum },
  { "fv-length-bad", BASE_SNAKEOIL,
    "FvLength 0x80000 instead of 0x84000 (checksum fixed)", v_fv_length },
  { "fv-blockmap-bad", BASE_SNAKEOIL,
    "BlockMap 0x42 x 0x2000 instead of 0x84 x 0x1000 (checksum fixed)", v_fv_blockmap },
  { "fv-fsguid-bad", BASE_SNAKEOIL,
    "FV FileSystemGuid first byte flipped (checksum fixed)", v_fv_fsguid },
  { "fv-revision-bad", BASE_SNAKEOIL,
    "FV Revision 1 instead of 2 (checksum fixed)", v_fv_revision },
  { "store-size-bad", BASE_SNAKEOIL,
    "VARIABLE_STORE_HEADER.Size 0x1000 smaller than the region", v_store_size },
  { "ftw-header-corrupt", BASE_SNAKEOIL,
    "FTW working block header: signature GUID and CRC bytes flipped", v_ftw_corrupt },
  { "db-empty", BASE_SNAKEOIL, "db with DataSize 0", v_db_empty },
  { "dbx-removed", BASE_SNAKEOIL, "dbx removed (state 0x3C)", v_dbx_removed },
  { "kek-removed", BASE_SNAKEOIL, "KEK removed (state 0x3C)", v_kek_removed },
  { "empty-base", BASE_EMPTY, "the empty 4M template (control: setup mode)", v_none },
  { "empty-pk-only", BASE_EMPTY,
    "empty template plus the snakeoil PK record: no KEK, db, SecureBootEnable", v_empty_pk_only },
  { "empty-pk-sbe-0", BASE_EMPTY,
    "empty template plus the snakeoil PK record and SecureBootEnable = 0", v_empty_pk_sbe_0 },
  { "empty-sbe-1", BASE_EMPTY, "empty template plus SecureBootEnable = 1 (no PK)", v_empty_sbe_1 },
  { "empty-nv-secureboot-1", BASE_EMPTY,
    "empty template plus NV SecureBoot = 1, SetupMode = 0 planted", v_empty_nv_secureboot_1 },
  { "ms2m-base", BASE_MS2M,
    "the 2M OVMF_VARS.ms.fd (Microsoft keys, 2M layout) laid out again (control)", v_none },
};

int
main(int argc, char **argv)
{
  const char *snakeoil = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd";
  const char *empty = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  const char *ms2m = "/usr/share/OVMF/OVMF_VARS.ms.fd";
  GOptionEntry entries[] = {
    { "snakeoil", 0, 0, G_OPTION_ARG_FILENAME, &snakeoil, "4M store with snakeoil keys", "F" },
    { "empty", 0, 0, G_OPTION_ARG_FILENAME, &empty, "empty 4M store", "F" },
    { "ms2m", 0, 0, G_OPTION_ARG_FILENAME, &ms2m, "2M store with Microsoft keys", "F" },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("OUTDIR - write the Secure Boot store variants");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
    fprintf(stderr, "usage: sbvariants [--snakeoil F] [--empty F] [--ms2m F] OUTDIR\n");
    return 2;
  }
  const char *outdir = argv[1];
  if (g_mkdir_with_parents(outdir, 0755) != 0)
    g_error("cannot create %s", outdir);
  const char *base_path[] = { snakeoil, empty, ms2m };
  const char *base_name[] = { "OVMF_VARS_4M.snakeoil.fd", "OVMF_VARS_4M.fd", "OVMF_VARS.ms.fd" };
  snakeoil_base = store_load(snakeoil);

  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "variants");
  json_builder_begin_array(b);
  for (gsize i = 0; i < G_N_ELEMENTS(variants); i++) {
    const Variant *v = &variants[i];
    Store *s = store_load(base_path[v->base]);
    v->edit(s);
    g_autoptr(GBytes) out = store_save(s);
    store_free(s);
    g_autofree char *file = g_strdup_printf("%s.fd", v->name);
    g_autofree char *path = g_build_filename(outdir, file, NULL);
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(out, &len);
    if (!g_file_set_contents(path, (const char *)data, (gssize)len, &error))
      g_error("%s", error->message);
    g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, v->name);
    json_builder_set_member_name(b, "base");
    json_builder_add_string_value(b, base_name[v->base]);
    json_builder_set_member_name(b, "layout");
    json_builder_add_string_value(b, v->base == BASE_MS2M ? "2m" : "4m");
    json_builder_set_member_name(b, "changes");
    json_builder_add_string_value(b, v->changes);
    json_builder_set_member_name(b, "sha256");
    json_builder_add_string_value(b, sum);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  json_generator_set_root(gen, root);
  g_autofree char *json_path = g_build_filename(outdir, "variants.json", NULL);
  if (!json_generator_to_file(gen, json_path, &error))
    g_error("%s", error->message);
  store_free(snakeoil_base);
  printf("%zu variants in %s\n", G_N_ELEMENTS(variants), outdir);
  return 0;
}
