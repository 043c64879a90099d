/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The varstore reader/writer, signature lists, decoding and JSON against Debian's real stores
 * (/usr/share/OVMF, /usr/share/AAVMF) and fixtures made here by corrupting them. Offsets and
 * hashes are the ones in the varstore notes (verified against Debian 12's files). */
#include "testutil.h"
#include "vsboot/efivar.h"
#include "efivar-ossl.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/varjson.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <lzma.h>
#include <string.h>

#define OVMF "/usr/share/OVMF/"
#define AAVMF "/usr/share/AAVMF/"

static GBytes *
read_file(const char *path)
{
  g_autoptr(GError) error = NULL;
  GBytes *b = vsb_file_read(path, 128 << 20, &error);
  g_assert_no_error(error);
  return b;
}

static VsbVarstore *
load_ok(const char *path)
{
  g_autoptr(GError) error = NULL;
  VsbVarstore *s = vsb_varstore_load(path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(s);
  return s;
}

static char *
sha256_of(GBytes *b)
{
  return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);
}

static guint
count_state(VsbVarstore *s, guint8 state)
{
  GPtrArray *r = vsb_varstore_get_records(s);
  guint n = 0;
  for (guint i = 0; i < r->len; i++)
    n += ((VsbVariable *)r->pdata[i])->state == state;
  return n;
}

/* ---- empty layouts ---------------------------------------------------------------------------- */

static void
test_empty_layouts(void)
{
  static const struct {
    VsbVarstoreLayout layout;
    const char *sha256, *debian;
  } cases[] = {
    { VSB_VARSTORE_LAYOUT_OVMF_2M, "6ed987af3a3c155be71665f510eae3e007eda9b8b94afd59d45e91c4a11565cc", OVMF "OVMF_VARS.fd" },
    { VSB_VARSTORE_LAYOUT_OVMF_4M, "5d2ac383371b408398accee7ec27c8c09ea5b74a0de0ceea6513388b15be5d1e", OVMF "OVMF_VARS_4M.fd" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbVarstore) s = vsb_varstore_new_empty(cases[i].layout, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 0);
    g_assert_null(vsb_varstore_get_warnings(s)[0]);
    g_autoptr(GBytes) b = vsb_varstore_serialize(s, &error);
    g_assert_no_error(error);
    g_autofree char *sum = sha256_of(b);
    g_assert_cmpstr(sum, ==, cases[i].sha256);
    g_autoptr(GBytes) deb = read_file(cases[i].debian);
    g_assert_true(g_bytes_equal(b, deb));
  }
  /* ArmVirt: a 0xC0000 volume in a 64 MiB file, FV checksum 0x0928, FTW at 0x40000 with CRC 0x86C6E75B. */
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_ARMVIRT, &error);
  g_assert_no_error(error);
  g_autoptr(GBytes) b = vsb_varstore_serialize(s, &error);
  gsize len;
  const guint8 *d = g_bytes_get_data(b, &len);
  g_assert_cmpuint(len, ==, 64u << 20);
  for (gsize k = 0xc0000; k < len; k += 4093)
    g_assert_cmpuint(d[k], ==, 0);
  g_assert_cmpuint(d[0xbffff], ==, 0xff);
  g_assert_cmpuint(d[0x32] | d[0x33] << 8, ==, 0x0928);
  g_assert_cmpuint(d[0x40010] | d[0x40011] << 8 | d[0x40012] << 16 | (guint32)d[0x40013] << 24, ==,
                   0x86c6e75bu);
  g_assert_cmpuint(vsb_varstore_get_capacity(s), ==, 0x40000 - 0x64);
  /* 4M header bytes, test vector 2. */
  g_autoptr(VsbVarstore) s4 = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_4M, &error);
  g_autoptr(GBytes) b4 = vsb_varstore_serialize(s4, &error);
  g_autofree char *hex = vsb_hex_encode(g_bytes_get_data(b4, NULL), 0x64);
  g_assert_cmpstr(hex, ==,
                  "00000000000000000000000000000000" "8d2bf1ff96768b4ca9852747075b4f50"
                  "0040080000000000" "5f465648fffe0400" "4800afb800000002"
                  "8400000000100000" "0000000000000000" "782cf3aa7b949a43a1802e144ec37792"
                  "b8ff0300" "5afe0000" "00000000");
  g_autofree char *ftw = vsb_hex_encode((const guint8 *)g_bytes_get_data(b4, NULL) + 0x41000, 32);
  g_assert_cmpstr(ftw, ==, "2b29589e687c7d49a0ce6500fd9f1b952caf2c64feffffffe00f000000000000");
}

/* ---- Debian's firmware-written stores -------------------------------------------------------- */

static void
test_read_snakeoil(void)
{
  g_autoptr(VsbVarstore) s = load_ok(OVMF "OVMF_VARS_4M.snakeoil.fd");
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, VSB_VARSTORE_LAYOUT_OVMF_4M);
  g_assert_cmpuint(vsb_varstore_get_file_size(s), ==, 0x84000);
  g_assert_cmpuint(vsb_varstore_get_first_offset(s), ==, 0x64);
  g_assert_cmpuint(vsb_varstore_get_free_offset(s), ==, 0x4a54);
  g_assert_cmpuint(vsb_varstore_get_records(s)->len, ==, 57);
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 31);
  g_assert_cmpuint(count_state(s, 0x3c), ==, 25);
  g_assert_cmpuint(count_state(s, 0x3d), ==, 1);
  g_assert_null(vsb_varstore_get_warnings(s)[0]);

  const VsbVariable *pk = vsb_varstore_lookup(s, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_assert_nonnull(pk);
  g_assert_cmpuint(pk->offset, ==, 0x455c);
  g_assert_cmpuint(pk->attributes, ==, 0x27);
  g_assert_cmpuint(g_bytes_get_size(pk->data), ==, 935);
  /* Same name, wrong GUID: not found (keyed by name and GUID). */
  g_assert_null(vsb_varstore_lookup(s, "PK", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE));
  /* The live CustomMode is the last record, not the deleted ones before it. */
  const VsbVariable *cm = vsb_varstore_lookup(s, "CustomMode", &VSB_GUID_CUSTOM_MODE_ENABLE);
  g_assert_cmpuint(cm->offset, ==, 0x4a00);
  /* Test vector 4: SecureBootEnable = 1 at 0x49A0. */
  const VsbVariable *sbe =
    vsb_varstore_lookup(s, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  g_assert_cmpuint(sbe->offset, ==, 0x49a0);
  g_assert_cmpuint(((const guint8 *)g_bytes_get_data(sbe->data, NULL))[0], ==, 1);

  g_autoptr(VsbSecureBootState) st = vsb_secure_boot_state(s);
  g_assert_cmpint(st->mode, ==, VSB_SB_MODE_USER);
  g_assert_true(st->enforcing);
  g_assert_cmpuint(st->n_pk, ==, 1);
  g_assert_cmpuint(st->n_kek, ==, 1);
  g_assert_cmpuint(st->n_db, ==, 1);
  g_assert_true(st->dbx_placeholder);
  g_assert_false(vsb_secure_boot_has_known(st, NULL, NULL));
  g_assert_cmpint(vsb_secure_boot_mode(s), ==, VSB_SB_MODE_USER);

  /* SecureBootEnable = 0 with the PK kept: disabled, by both the cheap and the full reader. */
  VsbVariable *copy = vsb_variable_copy(sbe);
  g_bytes_unref(copy->data);
  copy->data = g_bytes_new("\0", 1);
  vsb_varstore_set(s, copy);
  g_assert_cmpint(vsb_secure_boot_mode(s), ==, VSB_SB_MODE_DISABLED);
  g_autoptr(VsbSecureBootState) off = vsb_secure_boot_state(s);
  g_assert_cmpint(off->mode, ==, VSB_SB_MODE_DISABLED);
  g_assert_false(off->enforcing);
  /* No PK: setup mode, whatever SecureBootEnable says. */
  g_assert_true(vsb_varstore_delete(s, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE));
  g_assert_cmpint(vsb_secure_boot_mode(s), ==, VSB_SB_MODE_SETUP);
}

static void
check_ms_store(const char *path, VsbVarstoreLayout layout)
{
  g_autoptr(VsbVarstore) s = load_ok(path);
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, layout);
  g_assert_cmpuint(vsb_varstore_get_free_offset(s), ==, 0x5998);
  g_assert_cmpuint(vsb_varstore_get_records(s)->len, ==, 57);
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 31);
  const VsbVariable *pk = vsb_varstore_lookup(s, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_assert_cmpuint(pk->offset, ==, 0x545c);
  g_autoptr(VsbSecureBootState) st = vsb_secure_boot_state(s);
  g_assert_cmpstr(vsb_secure_boot_mode_name(st->mode), ==, "user");
  g_assert_true(st->enforcing);
  g_assert_cmpuint(st->n_kek, ==, 2);
  g_assert_cmpuint(st->n_db, ==, 2);
  g_assert_true(vsb_secure_boot_has_known(st, "ms-kek-ca-2011", "KEK"));
  g_assert_true(vsb_secure_boot_has_known(st, "ms-windows-pca-2011", "db"));
  g_assert_true(vsb_secure_boot_has_known(st, "ms-uefi-ca-2011", "db"));
  g_assert_false(vsb_secure_boot_has_known(st, "ms-uefi-ca-2023", NULL));
  g_assert_false(vsb_secure_boot_has_known(st, "ms-kek-2k-ca-2023", NULL));
  g_assert_false(vsb_secure_boot_has_known(st, "windows-uefi-ca-2023", NULL));
  guint known = 0;
  for (guint i = 0; i < st->certificates->len; i++) {
    VsbSbCert *c = st->certificates->pdata[i];
    if (c->known) {
      known++;
      g_assert_true(c->fingerprint_match);
      /* KEK CA 2011 ran out on 2026-06-24, UEFI CA 2011 on 2026-06-27, PCA 2011 on
       * 2026-10-19: after those dates the report must call them expired. */
      g_autoptr(GDateTime) now = g_date_time_new_now_utc();
      if (g_date_time_get_year(now) >= 2027)
        g_assert_true(c->expired);
    }
  }
  g_assert_cmpuint(known, ==, 3);
  g_assert_true(st->dbx_placeholder);
  gboolean dbx_warned = FALSE;
  for (guint i = 0; i < st->warnings->len; i++)
    dbx_warned |= strstr(st->warnings->pdata[i], "placeholder") != NULL;
  g_assert_true(dbx_warned);
}

static void
test_read_ms(void)
{
  check_ms_store(OVMF "OVMF_VARS_4M.ms.fd", VSB_VARSTORE_LAYOUT_OVMF_4M);
  check_ms_store(OVMF "OVMF_VARS.ms.fd", VSB_VARSTORE_LAYOUT_OVMF_2M);
}

static void
test_read_aavmf(void)
{
  g_autoptr(VsbVarstore) s = load_ok(AAVMF "AAVMF_VARS.ms.fd");
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, VSB_VARSTORE_LAYOUT_ARMVIRT);
  g_assert_cmpuint(vsb_varstore_get_file_size(s), ==, 64u << 20);
  g_assert_cmpuint(vsb_varstore_get_records(s)->len, ==, 29);
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 22);
  g_assert_cmpuint(vsb_varstore_get_free_offset(s), ==, 0x2638);
  g_assert_cmpuint(vsb_varstore_lookup(s, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE)->offset, ==, 0x20fc);
  g_assert_null(vsb_varstore_get_warnings(s)[0]);
  g_autoptr(VsbSecureBootState) st = vsb_secure_boot_state(s);
  g_assert_cmpint(st->mode, ==, VSB_SB_MODE_USER);
  g_assert_true(vsb_secure_boot_has_known(st, "ms-kek-ca-2011", "KEK"));

  /* Round trip keeps the 64 MiB of padding and the firmware's own FV header. */
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(out), ==, 64u << 20);
  g_autoptr(GBytes) orig = read_file(AAVMF "AAVMF_VARS.ms.fd");
  g_assert_cmpmem(g_bytes_get_data(out, NULL), 0x64, g_bytes_get_data(orig, NULL), 0x64);

  /* Debian's blank AAVMF_VARS.fd (64 MiB of zeros): an empty ArmVirt store in setup mode. */
  g_autoptr(VsbVarstore) blank = load_ok(AAVMF "AAVMF_VARS.fd");
  g_assert_cmpint(vsb_varstore_get_layout(blank), ==, VSB_VARSTORE_LAYOUT_ARMVIRT);
  g_assert_cmpuint(vsb_varstore_get_variables(blank)->len, ==, 0);
  g_assert_nonnull(strstr(vsb_varstore_get_warnings(blank)[0], "blank"));
  g_autoptr(VsbSecureBootState) bst = vsb_secure_boot_state(blank);
  g_assert_cmpint(bst->mode, ==, VSB_SB_MODE_SETUP);
  g_assert_false(bst->enforcing);
}

static void
test_read_unified(void)
{
  /* Debian's unified OVMF.fd: the 2M varstore at offset 0, then the code volumes. */
  g_autoptr(VsbVarstore) s = load_ok("/usr/share/ovmf/OVMF.fd");
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, VSB_VARSTORE_LAYOUT_OVMF_2M);
  g_assert_cmpuint(vsb_varstore_get_volume_offset(s), ==, 0);
  g_assert_cmpuint(vsb_varstore_get_file_size(s), ==, 2u << 20);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  g_autoptr(GBytes) orig = read_file("/usr/share/ovmf/OVMF.fd");
  g_assert_true(g_bytes_equal(out, orig));

  /* The volume found at a non-zero 1 KiB step: 4 KiB of 0xFF, then a 2M store. */
  g_autoptr(GBytes) empty2m = read_file(OVMF "OVMF_VARS.fd");
  g_autoptr(GByteArray) shifted = g_byte_array_new();
  guint8 ff[4096];
  memset(ff, 0xff, sizeof ff);
  g_byte_array_append(shifted, ff, sizeof ff);
  g_byte_array_append(shifted, g_bytes_get_data(empty2m, NULL), (guint)g_bytes_get_size(empty2m));
  g_autoptr(GBytes) sb = g_bytes_new(shifted->data, shifted->len);
  g_autoptr(VsbVarstore) s2 = vsb_varstore_load_bytes(sb, "shifted", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vsb_varstore_get_volume_offset(s2), ==, 4096);
  g_assert_cmpuint(vsb_varstore_get_first_offset(s2), ==, 4096 + 0x64);
}

static void
test_read_plain(void)
{
  /* A non-authenticated store (EfiVariable, 32-byte headers), from the fuzz seeds (made by
   * tests/data/varstore/make-fuzz-seeds.py out of the snakeoil store's records). */
  g_autofree char *p = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "fuzz", "corpus", "varstore",
                                        "small-plain.bin", NULL);
  g_autoptr(VsbVarstore) s = load_ok(p);
  g_assert_false(vsb_varstore_is_authenticated(s));
  g_assert_cmpint(vsb_varstore_get_layout(s), ==, VSB_VARSTORE_LAYOUT_OTHER);
  g_assert_cmpuint(vsb_varstore_get_records(s)->len, ==, 4);
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 2);
  const VsbVariable *b1 = vsb_varstore_lookup(s, "Boot0001", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_assert_nonnull(b1);
  g_assert_cmpuint(g_bytes_get_size(b1->data), ==, 110);
  g_assert_cmpuint(b1->offset, ==, 0x64 + 56 /* CustomMode */ + 52 /* certdb */);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  g_assert_no_error(error);
  g_autoptr(VsbVarstore) again = vsb_varstore_load_bytes(out, "again", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vsb_varstore_get_free_offset(again), ==, 0x64 + 52 + (32 + 18 + 110));
}

/* ---- round trips and editing ------------------------------------------------------------------ */

static void
assert_same_variables(VsbVarstore *a, VsbVarstore *b)
{
  GPtrArray *va = vsb_varstore_get_variables(a), *vb = vsb_varstore_get_variables(b);
  g_assert_cmpuint(va->len, ==, vb->len);
  for (guint i = 0; i < va->len; i++) {
    const VsbVariable *x = va->pdata[i], *y = vb->pdata[i];
    g_assert_cmpstr(x->name, ==, y->name);
    g_assert_true(vsb_guid_equal(&x->guid, &y->guid));
    g_assert_cmpuint(x->attributes, ==, y->attributes);
    g_assert_true(g_bytes_equal(x->data, y->data));
    g_assert_cmpmem(&x->timestamp, sizeof x->timestamp, &y->timestamp, sizeof y->timestamp);
  }
}

static void
test_round_trip(void)
{
  const char *files[] = { OVMF "OVMF_VARS_4M.ms.fd", OVMF "OVMF_VARS.ms.fd",
                          OVMF "OVMF_VARS_4M.snakeoil.fd", OVMF "OVMF_VARS_4M.fd",
                          AAVMF "AAVMF_VARS.snakeoil.fd" };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbVarstore) s = load_ok(files[i]);
    g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
    g_assert_no_error(error);
    g_autoptr(VsbVarstore) again = vsb_varstore_load_bytes(out, "again", &error);
    g_assert_no_error(error);
    assert_same_variables(s, again);
    /* Compacted: no deleted records left, free space right after the live set. */
    g_assert_cmpuint(vsb_varstore_get_records(again)->len, ==, vsb_varstore_get_variables(s)->len);
    g_assert_cmpuint(vsb_varstore_get_free_offset(again), ==, 0x64 + vsb_varstore_get_used(s));
    g_assert_null(vsb_varstore_get_warnings(again)[0]);
    /* A second pass is the identity; bytes outside the region are the file's. */
    g_autoptr(GBytes) out2 = vsb_varstore_serialize(again, &error);
    g_assert_true(g_bytes_equal(out, out2));
    g_autoptr(GBytes) orig = read_file(files[i]);
    gsize end = 0x48 + (vsb_varstore_get_layout(s) == VSB_VARSTORE_LAYOUT_OVMF_2M ? 0xdfb8 : 0x3ffb8);
    const guint8 *o = g_bytes_get_data(orig, NULL), *n = g_bytes_get_data(out, NULL);
    g_assert_cmpmem(o, 0x64, n, 0x64);
    g_assert_cmpmem(o + end, g_bytes_get_size(orig) - end, n + end, g_bytes_get_size(out) - end);
    /* Pad and free bytes are 0xFF. */
    for (gsize k = vsb_varstore_get_free_offset(again); k < end; k++)
      g_assert_cmpuint(n[k], ==, 0xff);
  }
}

static void
test_edit(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_2M, &error);
  VsbGuid other;
  g_assert_true(vsb_guid_parse("11111111-2222-3333-4444-555555555555", &other));
  vsb_varstore_set(s, vsb_variable_new("Test", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "abc", 3));
  vsb_varstore_set(s, vsb_variable_new("Test", &other, 3, "xy", 2));
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 2);
  /* Same name+GUID replaces in place. */
  vsb_varstore_set(s, vsb_variable_new("Test", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "abcd", 4));
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 2);
  g_assert_cmpuint(g_bytes_get_size(vsb_varstore_lookup(s, "Test", &VSB_GUID_EFI_GLOBAL_VARIABLE)->data), ==, 4);
  g_assert_cmpuint(g_bytes_get_size(vsb_varstore_lookup(s, "Test", &other)->data), ==, 2);
  /* Record sizes: 60 + 10 + 4 = 74 -> 76; 60 + 10 + 2 = 72. */
  g_assert_cmpuint(vsb_varstore_get_used(s), ==, 76 + 72);
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  g_assert_no_error(error);
  const guint8 *d = g_bytes_get_data(out, NULL);
  g_assert_cmpuint(d[0x64], ==, 0xaa);
  g_assert_cmpuint(d[0x65], ==, 0x55);
  g_assert_cmpuint(d[0x66], ==, 0x3f);
  g_assert_cmpuint(d[0x64 + 74], ==, 0xff); /* pad */
  g_assert_cmpuint(d[0x64 + 75], ==, 0xff);
  g_assert_cmpuint(d[0x64 + 76], ==, 0xaa); /* next header, 4-byte aligned */
  g_autoptr(VsbVarstore) back = vsb_varstore_load_bytes(out, "edit", &error);
  g_assert_no_error(error);
  assert_same_variables(s, back);

  g_assert_true(vsb_varstore_delete(s, "Test", &other));
  g_assert_false(vsb_varstore_delete(s, "Test", &other));
  g_assert_null(vsb_varstore_lookup(s, "Test", &other));
  g_assert_true(vsb_varstore_delete(s, "Test", NULL));
  g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 0);

  /* Overflow: 57244 bytes of room in the 2M layout. */
  g_autofree guint8 *big = g_malloc0(60000);
  vsb_varstore_set(s, vsb_variable_new("Big", &other, 3, big, 60000));
  g_autoptr(GBytes) none = vsb_varstore_serialize(s, &error);
  g_assert_null(none);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NO_SPACE);
  g_assert_nonnull(strstr(error->message, "60068"));
  g_assert_nonnull(strstr(error->message, "57244"));
  g_clear_error(&error);
  /* Exactly full is fine: 57244 - 60 - 8 ("Big\0") = 57176. */
  vsb_varstore_set(s, vsb_variable_new("Big", &other, 3, big, 57176));
  g_autoptr(GBytes) full = vsb_varstore_serialize(s, &error);
  g_assert_no_error(error);
  g_assert_nonnull(full);

  /* Ordering like virt-fw-vars. */
  g_autoptr(VsbVarstore) s2 = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_4M, &error);
  vsb_varstore_set(s2, vsb_variable_new("db", &other, 3, "1", 1));
  vsb_varstore_set(s2, vsb_variable_new("PK", &other, 3, "1", 1));
  vsb_varstore_set(s2, vsb_variable_new("KEK", &other, 3, "1", 1));
  vsb_varstore_sort_by_name(s2);
  GPtrArray *v2 = vsb_varstore_get_variables(s2);
  g_assert_cmpstr(((VsbVariable *)v2->pdata[0])->name, ==, "KEK");
  g_assert_cmpstr(((VsbVariable *)v2->pdata[1])->name, ==, "PK");
  g_assert_cmpstr(((VsbVariable *)v2->pdata[2])->name, ==, "db");
}

/* Build a store holding A (data "1") then B (data "2") under one GUID, then rename B to A in
 * the bytes: two records of the same variable. */
static GByteArray *
two_copies(guint8 state_first, guint8 state_second)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_2M, &error);
  vsb_varstore_set(s, vsb_variable_new("A", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "1", 1));
  vsb_varstore_set(s, vsb_variable_new("B", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "2", 1));
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  GByteArray *a = g_byte_array_new();
  g_byte_array_append(a, g_bytes_get_data(out, NULL), (guint)g_bytes_get_size(out));
  /* record 1 at 0x64: 60 + 4 + 1 = 65 -> next at 0x64 + 68 = 0xa8 */
  g_assert_cmpuint(a->data[0xa8], ==, 0xaa);
  a->data[0xa8 + 60] = 'A';
  a->data[0x66] = state_first;
  a->data[0xa8 + 2] = state_second;
  return a;
}

static const char *
live_data(GByteArray *a)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = g_bytes_new(a->data, a->len);
  g_autoptr(VsbVarstore) s = vsb_varstore_load_bytes(b, "copies", &error);
  g_assert_no_error(error);
  GPtrArray *v = vsb_varstore_get_variables(s);
  if (v->len == 0)
    return "none";
  g_assert_cmpuint(v->len, ==, 1);
  return ((const guint8 *)g_bytes_get_data(((VsbVariable *)v->pdata[0])->data, NULL))[0] == '1' ? "1" : "2";
}

static void
test_states(void)
{
  /* 0x3E (in deleted transition) counts only when no 0x3F copy exists (FindVariableEx). */
  g_autoptr(GByteArray) a = two_copies(0x3e, 0x3f);
  g_assert_cmpstr(live_data(a), ==, "2");
  g_autoptr(GByteArray) b = two_copies(0x3e, 0x7f);
  g_assert_cmpstr(live_data(b), ==, "1");
  g_autoptr(GByteArray) c = two_copies(0x3c, 0x3f);
  g_assert_cmpstr(live_data(c), ==, "2");
  g_autoptr(GByteArray) d = two_copies(0x3d, 0x3c);
  g_assert_cmpstr(live_data(d), ==, "none");
  /* Two live copies: the first one counts, with a warning. */
  g_autoptr(GByteArray) dup = two_copies(0x3f, 0x3f);
  g_assert_cmpstr(live_data(dup), ==, "1");
  g_autoptr(GBytes) db = g_bytes_new(dup->data, dup->len);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) ds = vsb_varstore_load_bytes(db, "dup", &error);
  g_assert_nonnull(strstr(vsb_varstore_get_warnings(ds)[0], "duplicates"));
  /* An all-ones state with StartId 0x55AA (interrupted header write) ends the list. */
  g_autoptr(GByteArray) e = two_copies(0x3f, 0xff);
  g_assert_cmpstr(live_data(e), ==, "1");
  /* The list also ends at a StartId that is not 0x55AA. */
  g_autoptr(GByteArray) f = two_copies(0x3d, 0x3f);
  f->data[0xa8] = 0x00;
  g_assert_cmpstr(live_data(f), ==, "none");
}

/* ---- bad input --------------------------------------------------------------------------------- */

static void
expect_parse_error(GByteArray *a, const char *what1, const char *what2)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = g_bytes_new(a->data, a->len);
  g_autoptr(VsbVarstore) s = vsb_varstore_load_bytes(b, "bad.fd", &error);
  g_assert_null(s);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  if (g_test_verbose())
    g_printerr("%s\n", error->message);
  g_assert_nonnull(strstr(error->message, "bad.fd"));
  g_assert_nonnull(strstr(error->message, what1));
  if (what2)
    g_assert_nonnull(strstr(error->message, what2));
}

static GByteArray *
file_bytes(const char *path)
{
  g_autoptr(GBytes) b = read_file(path);
  GByteArray *a = g_byte_array_new();
  g_byte_array_append(a, g_bytes_get_data(b, NULL), (guint)g_bytes_get_size(b));
  return a;
}

static void
put32(guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8)(v >> (8 * i));
}

static void
test_bad_input(void)
{
  /* Truncated 4M store. */
  g_autoptr(GByteArray) t = file_bytes(OVMF "OVMF_VARS_4M.ms.fd");
  g_byte_array_set_size(t, 0x40000);
  expect_parse_error(t, "FvLength 0x84000", "0x40000");
  /* Too short for any header. */
  g_byte_array_set_size(t, 40);
  expect_parse_error(t, "truncated", NULL);
  /* Empty. */
  g_byte_array_set_size(t, 0);
  expect_parse_error(t, "empty", NULL);
  /* Wrong size: garbage after the volume. */
  g_autoptr(GByteArray) w = file_bytes(OVMF "OVMF_VARS.ms.fd");
  g_byte_array_append(w, (const guint8 *)"junk", 4);
  expect_parse_error(w, "wrong size", "0x20000");
  /* Broken FV checksum (Attributes changed). */
  g_autoptr(GByteArray) c = file_bytes(OVMF "OVMF_VARS_4M.ms.fd");
  c->data[0x2c] ^= 0x01;
  expect_parse_error(c, "checksum", "0x32");
  /* Not a store at all. */
  g_autoptr(GByteArray) g = g_byte_array_new();
  for (int i = 0; i < 8192; i++) {
    guint8 x = (guint8)(i * 37 + 11);
    g_byte_array_append(g, &x, 1);
  }
  expect_parse_error(g, "EfiSystemNvDataFv", NULL);
  /* Store Size running past the volume (checksum does not cover the store header). */
  g_autoptr(GByteArray) sz = file_bytes(OVMF "OVMF_VARS.ms.fd");
  put32(sz->data + 0x58, 0x30000);
  expect_parse_error(sz, "Size 0x30000", "0x58");
  /* Variable DataSize running past the end (PK's, at 0x545C + 40). */
  g_autoptr(GByteArray) ds = file_bytes(OVMF "OVMF_VARS_4M.ms.fd");
  put32(ds->data + 0x545c + 40, 0x7ffffff0);
  expect_parse_error(ds, "offset 0x545c", "run past the end");
  /* NameSize + DataSize overflowing 32 bits. */
  put32(ds->data + 0x545c + 36, 0xfffffff0);
  expect_parse_error(ds, "offset 0x545c", NULL);
  /* Name without terminator: PK's "PK\0" -> "PKX". */
  g_autoptr(GByteArray) nt = file_bytes(OVMF "OVMF_VARS_4M.ms.fd");
  nt->data[0x545c + 60 + 4] = 'X';
  expect_parse_error(nt, "offset 0x545c", "not NUL-terminated");
  /* Odd NameSize. */
  g_autoptr(GByteArray) on = file_bytes(OVMF "OVMF_VARS_4M.ms.fd");
  put32(on->data + 0x545c + 36, 5);
  expect_parse_error(on, "offset 0x545c", "NameSize 5 is odd");
  /* Bad store signature. */
  g_autoptr(GByteArray) sg = file_bytes(OVMF "OVMF_VARS_4M.fd");
  sg->data[0x48] ^= 0xff;
  expect_parse_error(sg, "signature", "0x48");
  /* Not healthy. */
  g_autoptr(GByteArray) hl = file_bytes(OVMF "OVMF_VARS_4M.fd");
  hl->data[0x5d] = 0x00;
  expect_parse_error(hl, "State 0x00", NULL);

  /* Non-fatal: bad FTW CRC and a non-empty write queue are warnings. */
  g_autoptr(GByteArray) ftw = file_bytes(OVMF "OVMF_VARS_4M.fd");
  ftw->data[0x41000 + 0x40] = 0x12;
  ftw->data[0x41010] ^= 1;
  g_autoptr(GBytes) fb = g_bytes_new(ftw->data, ftw->len);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) fs = vsb_varstore_load_bytes(fb, "ftw", &error);
  g_assert_no_error(error);
  const char *const *warn = vsb_varstore_get_warnings(fs);
  g_assert_nonnull(warn[0]);
  g_assert_nonnull(strstr(warn[0], "CRC"));
  g_assert_nonnull(warn[1]);
  g_assert_nonnull(strstr(warn[1], "write queue is not empty"));
}

/* ---- signature lists, certificates, AUTH_2 ----------------------------------------------------- */

static void
test_siglist(void)
{
  /* Test vector 5: the placeholder dbx, 76 bytes. */
  static const guint8 empty_sha256[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
  };
  g_autoptr(GPtrArray) e = vsb_sig_entry_array_new();
  g_ptr_array_add(e, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS,
                                       empty_sha256, 32));
  g_autoptr(GBytes) esl = vsb_siglist_build(e);
  g_autofree char *hex = vsb_hex_encode(g_bytes_get_data(esl, NULL), g_bytes_get_size(esl));
  g_assert_cmpstr(hex, ==,
                  "2616c4c14c509240aca941f936934328" "4c000000" "00000000" "30000000"
                  "a3a8baa01d04a848bc87c36d121b5e3d"
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* Hashes share one list; certificates get one each. */
  g_ptr_array_add(e, vsb_sig_entry_new(VSB_SIG_X509, &VSB_GUID_MICROSOFT_VENDOR, "\x30\x03\x02\x01\x01", 5));
  g_ptr_array_add(e, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_MICROSOFT_VENDOR, empty_sha256, 32));
  g_autoptr(GBytes) mixed = vsb_siglist_build(e);
  g_assert_cmpuint(g_bytes_get_size(mixed), ==, (28 + 2 * 48) + (28 + 16 + 5));
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) back = vsb_siglist_parse(g_bytes_get_data(mixed, NULL), g_bytes_get_size(mixed), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(back->len, ==, 3);
  g_assert_cmpint(((VsbSigEntry *)back->pdata[2])->type, ==, VSB_SIG_X509);

  /* Malformed lists: errors name the offset. */
  const guint8 *m = g_bytes_get_data(esl, NULL);
  g_autoptr(GPtrArray) cut = vsb_siglist_parse(m, 60, &error);
  g_assert_null(cut);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "offset 0"));
  g_clear_error(&error);
  guint8 bad[76];
  memcpy(bad, m, 76);
  put32(bad + 24, 40); /* SignatureSize wrong for SHA256 */
  g_autoptr(GPtrArray) bs = vsb_siglist_parse(bad, 76, &error);
  g_assert_null(bs);
  g_assert_nonnull(strstr(error->message, "SignatureSize"));
  g_clear_error(&error);
  g_autoptr(GByteArray) two = g_byte_array_new();
  g_byte_array_append(two, m, 76);
  g_byte_array_append(two, bad, 76);
  g_autoptr(GPtrArray) bs2 = vsb_siglist_parse(two->data, two->len, &error);
  g_assert_null(bs2);
  g_assert_nonnull(strstr(error->message, "offset 76"));
}

static void
test_certs(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(GError) error = NULL;
  /* Real certificates from Debian's ms store, written as DER and as PEM. */
  g_autoptr(VsbVarstore) s = load_ok(OVMF "OVMF_VARS_4M.ms.fd");
  const VsbVariable *kek = vsb_varstore_lookup(s, "KEK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_autoptr(GPtrArray) e = vsb_siglist_parse(g_bytes_get_data(kek->data, NULL),
                                             g_bytes_get_size(kek->data), &error);
  g_assert_no_error(error);
  GBytes *der = ((VsbSigEntry *)e->pdata[1])->data;
  g_autofree char *derp = g_build_filename(dir, "kek.der", NULL);
  vsb_test_write_file(derp, g_bytes_get_data(der, NULL), (gssize)g_bytes_get_size(der));
  X509 *c = vsb_cert_load(derp, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vsb_known_cert_name(c), ==, "Microsoft Corporation KEK CA 2011");
  g_autoptr(JsonNode) desc = vsb_cert_describe(c);
  JsonObject *o = json_node_get_object(desc);
  g_assert_cmpstr(json_object_get_string_member(o, "serial"), ==, "610ad188000000000003");
  g_assert_cmpstr(json_object_get_string_member(o, "not-after"), ==, "2026-06-24T20:51:29Z");
  g_assert_true(json_object_get_boolean_member(
    json_object_get_object_member(o, "known"), "fingerprint-match"));
  /* PEM of the same, twice in one file: load_all gives both, load refuses. */
  g_autofree char *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  g_autofree char *pem = g_strdup_printf("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", b64);
  g_autofree char *pemp = g_build_filename(dir, "kek.pem", NULL);
  vsb_test_write_file(pemp, pem, -1);
  X509 *c2 = vsb_cert_load(pemp, &error);
  g_assert_no_error(error);
  g_assert_cmpint(X509_cmp(c, c2), ==, 0);
  X509_free(c2);
  X509_free(c);
  g_autofree char *pem2 = g_strconcat(pem, pem, NULL);
  vsb_test_write_file(pemp, pem2, -1);
  g_autoptr(GPtrArray) all = vsb_cert_load_all(pemp, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(all->len, ==, 2);

  /* Garbage certificates: each a clear error naming the file. */
  static const struct {
    const char *content;
    gssize len;
    const char *expect;
  } bad[] = {
    { "", 0, "empty" },
    { "hello, I am not a certificate\n", -1, "not a certificate" },
    { "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", -1, "PEM block 1" },
    { "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", -1, "no valid" },
    { "\x30\x82\x05\x00\x30", 5, "not a DER X.509" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *p = g_build_filename(dir, "bad.crt", NULL);
    vsb_test_write_file(p, bad[i].content, bad[i].len);
    X509 *x = vsb_cert_load(p, &error);
    g_assert_null(x);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
    g_assert_nonnull(strstr(error->message, "bad.crt"));
    g_assert_nonnull(strstr(error->message, bad[i].expect));
    g_clear_error(&error);
  }
  /* DER with trailing junk. */
  g_autoptr(GByteArray) junk = g_byte_array_new();
  g_byte_array_append(junk, g_bytes_get_data(der, NULL), (guint)g_bytes_get_size(der));
  g_byte_array_append(junk, (const guint8 *)"xx", 2);
  X509 *x = vsb_cert_from_der(junk->data, junk->len, &error);
  g_assert_null(x);
  g_assert_nonnull(strstr(error->message, "stray"));
}

static void
test_auth2(void)
{
  /* EFI_TIME 2010-03-06 19:17:21, WIN_CERTIFICATE_UEFI_GUID with 5 bytes of "PKCS#7",
   * then a payload (the dbx ESL). */
  static const guint8 empty_sha256[32] = { 0xe3, 0xb0 };
  g_autoptr(GPtrArray) e = vsb_sig_entry_array_new();
  g_ptr_array_add(e, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_MICROSOFT_VENDOR, empty_sha256, 32));
  g_autoptr(GBytes) esl = vsb_siglist_build(e);
  g_autoptr(GByteArray) a = g_byte_array_new();
  guint8 t[16] = { 0xda, 0x07, 3, 6, 19, 17, 21 };
  g_byte_array_append(a, t, 16);
  guint8 wc[24];
  put32(wc, 24 + 5);
  wc[4] = 0x00;
  wc[5] = 0x02;
  wc[6] = 0xf1;
  wc[7] = 0x0e;
  memcpy(wc + 8, VSB_GUID_EFI_CERT_TYPE_PKCS7.b, 16);
  g_byte_array_append(a, wc, 24);
  g_byte_array_append(a, (const guint8 *)"PKCS7", 5);
  g_byte_array_append(a, g_bytes_get_data(esl, NULL), (guint)g_bytes_get_size(esl));
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbAuth2) au = vsb_auth2_parse(a->data, a->len, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(au->timestamp[0] | au->timestamp[1] << 8, ==, 2010);
  g_assert_cmpmem(g_bytes_get_data(au->pkcs7, NULL), g_bytes_get_size(au->pkcs7), "PKCS7", 5);
  g_assert_true(g_bytes_equal(au->payload, esl));
  /* dwLength past the end; wrong certificate type. */
  put32(a->data + 16, 100000);
  g_assert_null(vsb_auth2_parse(a->data, a->len, &error));
  g_assert_nonnull(strstr(error->message, "dwLength"));
  g_clear_error(&error);
  put32(a->data + 16, 29);
  a->data[22] = 0x02;
  g_assert_null(vsb_auth2_parse(a->data, a->len, &error));
  g_assert_nonnull(strstr(error->message, "0x0EF1"));
}

/* ---- decoding and the report ------------------------------------------------------------------- */

/* The nodes that are only a GUID read the same in every node type; one too short for its GUID
 * stays a generic Path(type,subtype). */
static void
test_device_path_guid_nodes(void)
{
  static const guint8 guid[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                   0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01 };
  static const guint8 nodes[][2] = { { 1, 4 }, { 3, 10 }, { 4, 3 }, { 4, 7 }, { 4, 6 } };
  g_autoptr(GByteArray) p = g_byte_array_new();
  for (gsize i = 0; i < G_N_ELEMENTS(nodes); i++) {
    guint8 h[4] = { nodes[i][0], nodes[i][1], 20, 0 };
    g_byte_array_append(p, h, 4);
    g_byte_array_append(p, guid, 16);
  }
  static const guint8 short_venhw[] = { 1, 4, 8, 0, 1, 2, 3, 4 }, end[] = { 0x7f, 0xff, 4, 0 };
  g_byte_array_append(p, short_venhw, sizeof short_venhw);
  g_byte_array_append(p, end, sizeof end);
  VsbGuid g;
  memcpy(g.b, guid, 16);
  g_autofree char *gs = vsb_guid_to_string(&g);
  g_autofree char *want = g_strdup_printf("VenHw(%s)/VenMsg(%s)/VenMedia(%s)/Fv(%s)/FvFile(%s)"
                                          "/Path(1,4)", gs, gs, gs, gs, gs);
  g_autofree char *text = vsb_device_path_to_text(p->data, p->len);
  g_assert_cmpstr(text, ==, want);
}

static void
test_decode(void)
{
  g_autoptr(VsbVarstore) s = load_ok(OVMF "OVMF_VARS_4M.ms.fd");
  const VsbVariable *b1 = vsb_varstore_lookup(s, "Boot0001", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_autoptr(JsonNode) n = vsb_efivar_decode(b1);
  JsonObject *o = json_node_get_object(n);
  g_assert_cmpstr(json_object_get_string_member(o, "type"), ==, "boot-option");
  g_assert_cmpstr(json_object_get_string_member(o, "description"), ==, "UEFI QEMU HARDDISK QM00001 ");
  g_assert_cmpstr(json_object_get_string_member(o, "device-path"), ==,
                  "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)");
  g_assert_true(json_object_get_boolean_member(o, "active"));
  const VsbVariable *lang = vsb_varstore_lookup(s, "PlatformLang", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_autoptr(JsonNode) ln = vsb_efivar_decode(lang);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(ln), "value"), ==, "en");
  const VsbVariable *sbe = vsb_varstore_lookup(s, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  g_autoptr(JsonNode) sn = vsb_efivar_decode(sbe);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(sn), "value"));
  const VsbVariable *dbx = vsb_varstore_lookup(s, "dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE);
  g_autoptr(JsonNode) dn = vsb_efivar_decode(dbx);
  JsonArray *ent = json_object_get_array_member(json_node_get_object(dn), "entries");
  g_assert_cmpuint(json_array_get_length(ent), ==, 1);
  JsonObject *e0 = json_array_get_object_element(ent, 0);
  g_assert_cmpstr(json_object_get_string_member(e0, "type"), ==, "sha256");
  g_assert_cmpstr(json_object_get_string_member(e0, "owner-name"), ==, "OvmfEnrollDefaultKeys");
  g_assert_cmpstr(json_object_get_string_member(e0, "hash"), ==,
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* BootOrder and BootNext by hand. */
  VsbVariable *bo = vsb_variable_new("BootOrder", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "\x01\x00\x0a\x00", 4);
  g_autoptr(JsonNode) bon = vsb_efivar_decode(bo);
  JsonArray *order = json_object_get_array_member(json_node_get_object(bon), "value");
  g_assert_cmpstr(json_array_get_string_element(order, 0), ==, "Boot0001");
  g_assert_cmpstr(json_array_get_string_element(order, 1), ==, "Boot000A");
  vsb_variable_free(bo);
  /* A malformed load option decodes to an error, not a crash. */
  VsbVariable *bad = vsb_variable_new("Boot0009", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, "\x01\x00\x00\x00\xff\xff\x41\x00\x00\x00", 10);
  g_autoptr(JsonNode) badn = vsb_efivar_decode(bad);
  g_assert_nonnull(json_object_get_string_member(json_node_get_object(badn), "error"));
  vsb_variable_free(bad);
  g_autofree char *at = vsb_efivar_attributes_text(0x27);
  g_assert_cmpstr(at, ==, "NV,BS,RT,AT");
}

static void
test_report(void)
{
  g_autoptr(VsbVarstore) s = load_ok(OVMF "OVMF_VARS_4M.snakeoil.fd");
  g_autoptr(JsonNode) r = vsb_varstore_report(s, FALSE);
  JsonObject *o = json_node_get_object(r);
  JsonArray *vars = json_object_get_array_member(o, "variables");
  g_assert_cmpuint(json_array_get_length(vars), ==, 31);
  gboolean found_pk = FALSE;
  for (guint i = 0; i < json_array_get_length(vars); i++) {
    JsonObject *v = json_array_get_object_element(vars, i);
    if (strcmp(json_object_get_string_member(v, "name"), "PK") != 0)
      continue;
    found_pk = TRUE;
    g_assert_cmpstr(json_object_get_string_member(v, "guid"), ==, "8be4df61-93ca-11d2-aa0d-00e098032b8c");
    g_assert_cmpstr(json_object_get_string_member(v, "guid-name"), ==, "EfiGlobalVariable");
    g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(v, "attributes"), "value"), ==, 0x27);
    g_assert_cmpint(json_object_get_int_member(v, "size"), ==, 935);
    g_assert_cmpint(json_object_get_int_member(v, "offset"), ==, 0x455c);
    g_assert_cmpstr(json_object_get_string_member(v, "state"), ==, "added");
    g_assert_nonnull(json_object_get_string_member(v, "timestamp"));
    JsonObject *val = json_object_get_object_member(v, "value");
    g_assert_cmpstr(json_object_get_string_member(val, "type"), ==, "signature-list");
  }
  g_assert_true(found_pk);
  JsonObject *sb = json_object_get_object_member(o, "secure-boot");
  g_assert_cmpstr(json_object_get_string_member(sb, "mode"), ==, "user");
  g_assert_true(json_object_get_boolean_member(sb, "enforcing"));

  g_autoptr(JsonNode) all = vsb_varstore_report(s, TRUE);
  JsonArray *recs = json_object_get_array_member(json_node_get_object(all), "variables");
  g_assert_cmpuint(json_array_get_length(recs), ==, 57);
  JsonObject *first = json_array_get_object_element(recs, 0);
  g_assert_cmpstr(json_object_get_string_member(first, "state"), ==, "deleted-after-transition");
  g_assert_false(json_object_get_boolean_member(first, "live"));
}

/* ---- JSON import/export ------------------------------------------------------------------------ */

static void
test_json_round_trip(void)
{
  const char *files[] = { OVMF "OVMF_VARS_4M.ms.fd", OVMF "OVMF_VARS_4M.snakeoil.fd",
                          OVMF "OVMF_VARS_4M.fd", OVMF "OVMF_VARS.ms.fd" };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbVarstore) s = load_ok(files[i]);
    g_autoptr(GBytes) direct = vsb_varstore_serialize(s, &error);
    g_autofree char *text = vsb_varjson_export_text(s);
    g_autoptr(GPtrArray) vars = vsb_varjson_parse(text, -1, "export.json", &error);
    g_assert_no_error(error);
    g_autoptr(VsbVarstore) tmpl = load_ok(files[i]);
    vsb_varjson_apply(tmpl, vars);
    g_autoptr(GBytes) via_json = vsb_varstore_serialize(tmpl, &error);
    g_assert_no_error(error);
    g_assert_true(g_bytes_equal(direct, via_json));
    /* Over the empty template of the same layout: the same bytes too (Debian's stores keep
     * pristine FTW areas). */
    g_autoptr(VsbVarstore) empty = vsb_varstore_new_empty(vsb_varstore_get_layout(s), &error);
    vsb_varjson_apply(empty, vars);
    g_autoptr(GBytes) via_empty = vsb_varstore_serialize(empty, &error);
    g_assert_true(g_bytes_equal(direct, via_empty));
  }
  /* python-uefivars style: "timestamp" instead of "time", and v1 as a bare list. */
  const char *puv =
    "[{\"name\":\"PK\",\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":39,"
    "\"data\":\"00ff\",\"timestamp\":\"de070a1f0b0f25000000000000000000\",\"digest\":\"00\"}]";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) v = vsb_varjson_parse(puv, -1, "puv.json", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(v->len, ==, 1);
  VsbVariable *pk = v->pdata[0];
  g_assert_cmpuint(pk->timestamp.year, ==, 2014);
  g_assert_cmpuint(pk->timestamp.month, ==, 10);
  g_assert_cmpuint(pk->timestamp.second, ==, 37);
  /* Errors name the entry. */
  static const struct {
    const char *json, *expect;
  } bad[] = {
    { "{", "not JSON" },
    { "{\"version\":3,\"variables\":[]}", "version" },
    { "{\"version\":2,\"variables\":[{\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7,\"data\":\"\"}]}", "variables[0]: \"name\" is missing" },
    { "{\"version\":2,\"variables\":[{\"name\":\"X\",\"guid\":\"nope\",\"attr\":7,\"data\":\"\"}]}", "bad guid" },
    { "{\"version\":2,\"variables\":[{\"name\":\"X\",\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7,\"data\":\"zz\"}]}", "\"data\"" },
    { "{\"version\":2,\"variables\":[{\"name\":\"X\",\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":\"7\",\"data\":\"\"}]}", "\"attr\"" },
    { "{\"version\":2,\"variables\":[{\"name\":\"X\",\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7,\"data\":\"\",\"time\":\"00\"}]}", "\"time\"" },
  };
#define PKG "\"guid\":\"8be4df61-93ca-11d2-aa0d-00e098032b8c\",\"attr\":7"
  /* json-glib ends its strings at a NUL: every string member holding one is refused, by entry
   * and member, instead of being cut short ("Fo\u0000o" imported as "Fo"). */
  static const struct {
    const char *json, *expect;
  } nul[] = {
    { "{\"version\":2,\"variables\":[{\"name\":\"A\"," PKG ",\"data\":\"00\"},"
      "{\"name\":\"Fo\\u0000o\"," PKG ",\"data\":\"00\"}]}",
      "bad.json: variables[1]: \"name\" contains a NUL character" },
    { "[{\"name\":\"Fo\\u0000o\"," PKG ",\"data\":\"00\"}]",
      "bad.json: [0]: \"name\" contains a NUL character" },
    /* json-glib's octal "\0" is no JSON escape: refused before it could become a NUL. */
    { "[{\"name\":\"Fo\\0o\"," PKG ",\"data\":\"00\"}]",
      "bad.json: not JSON: line 1, column 13: '\\0' is not a JSON escape" },
    { "{\"version\":2,\"variables\":[{\"name\":\"F\"," PKG ",\"data\":\"00\\u0000ff\"}]}",
      "variables[0]: \"data\" contains a NUL character" },
    { "{\"version\":2,\"variables\":[{\"name\":\"F\",\"guid\":"
      "\"8be4df61-93ca-11d2-aa0d-00e098032b8c\\u0000x\",\"attr\":7,\"data\":\"00\"}]}",
      "variables[0]: \"guid\" contains a NUL character" },
    { "{\"version\":2,\"variables\":[{\"name\":\"F\"," PKG ",\"data\":\"00\","
      "\"time\":\"e8070b17000000000000000000000000\\u0000\"}]}",
      "variables[0]: \"time\" contains a NUL character" },
    { "{\"version\":2,\"variables\":[{\"name\":\"F\"," PKG ",\"data\":\"00\","
      "\"timestamp\":\"e8070b17000000000000000000000000\\u0000\"}]}",
      "variables[0]: \"timestamp\" contains a NUL character" },
    { "{\"version\":2,\"variables\":[{\"name\":\"F\"," PKG ",\"data\":\"00\","
      "\"timestamp\":\"e8070b17000000000000000000000000\\000\"}]}",
      "'\\0' is not a JSON escape" },
    { "{\"version\":2,\"variables\":[{\"name\\u0000x\":\"F\"," PKG ",\"data\":\"00\"}]}",
      "bad.json: the member name at byte 27 contains a NUL character" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(nul); i++) {
    g_autoptr(GPtrArray) r = vsb_varjson_parse(nul[i].json, -1, "bad.json", &error);
    g_assert_null(r);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, nul[i].expect));
    g_clear_error(&error);
  }
  /* An escaped backslash before "u0000" is text, not a NUL. */
  {
    g_autoptr(GPtrArray) r = vsb_varjson_parse(
      "[{\"name\":\"Fo\\\\u0000o\"," PKG ",\"data\":\"00\"}]", -1, "ok.json", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(((VsbVariable *)r->pdata[0])->name, ==, "Fo\\u0000o");
  }
#undef PKG
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GPtrArray) r = vsb_varjson_parse(bad[i].json, -1, "bad.json", &error);
    g_assert_null(r);
    g_assert_nonnull(strstr(error->message, "bad.json"));
    g_assert_nonnull(strstr(error->message, bad[i].expect));
    g_clear_error(&error);
  }
  /* json-glib recurses per level: a megabyte of '[' must be refused, not crash the stack. */
  g_autofree char *deep = g_strnfill(1 << 20, '[');
  g_autoptr(GPtrArray) r = vsb_varjson_parse(deep, -1, "deep.json", &error);
  g_assert_null(r);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "deep.json: JSON nested deeper than 16 levels at byte 16"));
  g_clear_error(&error);
}

/* ---- blank images -------------------------------------------------------------------------------- */

/* An image of all 0x00 or all 0xFF of exactly a store size reads as that layout's empty store
 * (the firmware formats a blank flash at first boot); other sizes are refused. */
static void
test_blank(void)
{
  static const struct {
    gsize size;
    VsbVarstoreLayout layout;
  } sizes[] = {
    { 0x20000, VSB_VARSTORE_LAYOUT_OVMF_2M },
    { 0x84000, VSB_VARSTORE_LAYOUT_OVMF_4M },
    { 0xc0000, VSB_VARSTORE_LAYOUT_ARMVIRT },
    { 64 << 20, VSB_VARSTORE_LAYOUT_ARMVIRT },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
    for (int fill = 0; fill < 2; fill++) {
      g_autoptr(GError) error = NULL;
      guint8 *img = g_malloc(sizes[i].size);
      memset(img, fill ? 0xff : 0x00, sizes[i].size);
      g_autoptr(GBytes) b = g_bytes_new_take(img, sizes[i].size);
      g_autoptr(VsbVarstore) s = vsb_varstore_load_bytes(b, "blank.fd", &error);
      g_assert_no_error(error);
      g_assert_cmpint(vsb_varstore_get_layout(s), ==, sizes[i].layout);
      g_assert_cmpuint(vsb_varstore_get_variables(s)->len, ==, 0);
      g_assert_nonnull(strstr(vsb_varstore_get_warnings(s)[0],
                              fill ? "blank flash image (all 0xFF)" : "blank flash image (all 0x00)"));
    }
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) odd = g_bytes_new_take(g_malloc0(0x30000), 0x30000);
  g_autoptr(VsbVarstore) s = vsb_varstore_load_bytes(odd, "zeros.fd", &error);
  g_assert_null(s);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "zeros.fd: no variable store"));
}

/* ---- qcow2 -------------------------------------------------------------------------------------- */

static void
test_qcow2(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *q = g_build_filename(dir, "vars.qcow2", NULL);
  const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                         OVMF "OVMF_VARS_4M.ms.fd", q, NULL };
  g_assert_cmpint(vsb_test_spawn(argv, NULL, NULL, NULL), ==, 0);
  g_autoptr(VsbVarstore) s = load_ok(q);
  g_assert_true(vsb_varstore_is_qcow2(s));
  g_autoptr(VsbVarstore) raw = load_ok(OVMF "OVMF_VARS_4M.ms.fd");
  assert_same_variables(s, raw);
  /* Edit and write back: still qcow2, with the edit. */
  VsbGuid g;
  vsb_guid_parse("11111111-2222-3333-4444-555555555555", &g);
  vsb_varstore_set(s, vsb_variable_new("Hello", &g, 7, "hi", 2));
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_varstore_save(s, q, 0600, FALSE, &error));
  g_assert_no_error(error);
  g_autoptr(GBytes) b = read_file(q);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), 4, "QFI\xfb", 4);
  g_autoptr(VsbVarstore) back = load_ok(q);
  g_assert_nonnull(vsb_varstore_lookup(back, "Hello", &g));
  g_assert_cmpuint(vsb_varstore_get_variables(back)->len, ==, 32);
  /* A broken qcow2 is a clear error, not a crash. */
  g_autofree char *bq = g_build_filename(dir, "bad.qcow2", NULL);
  vsb_test_write_file(bq, "QFI\xfb\0\0\0\3garbage", 15);
  g_autoptr(VsbVarstore) bad = vsb_varstore_load(bq, &error);
  g_assert_null(bad);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
  g_clear_error(&error);
  /* A truncated qcow2: `qemu-img convert` alone reads the missing clusters as zeros, which
   * looked like a blank store. Cut inside the metadata or L2 tables (qemu-img check finds
   * corruptions) and inside the data extent (only qemu-img map's file offsets show it). */
  g_autofree char *full = g_build_filename(dir, "ms.qcow2", NULL);
  const char *conv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                         OVMF "OVMF_VARS_4M.ms.fd", full, NULL };
  g_assert_cmpint(vsb_test_spawn(conv, NULL, NULL, NULL), ==, 0);
  g_autoptr(GBytes) fb = read_file(full);
  g_autofree char *map_out = NULL;
  const char *map[] = { "qemu-img", "map", "-f", "qcow2", "--output=json", full, NULL };
  g_assert_cmpint(vsb_test_spawn(map, NULL, &map_out, NULL), ==, 0);
  g_autoptr(JsonNode) mroot = vsb_test_parse_json(map_out);
  JsonObject *ext = json_array_get_object_element(json_node_get_array(mroot), 0);
  g_assert_cmpint(json_object_get_int_member(ext, "length"), ==, 0x84000);
  gsize data_end = (gsize)(json_object_get_int_member(ext, "offset") + 0x84000);
  g_assert_cmpuint(data_end, <=, g_bytes_get_size(fb));
  static const struct {
    gsize cut;
    const char *expect;
  } cuts[] = {
    { 1000, "qemu-img check found" },
    { 100000, "qemu-img check found" },
    { 200000, "qemu-img check found" },
    { 0, "bytes of data at file offset" }, /* data_end - 1 */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cuts); i++) {
    gsize cut = cuts[i].cut ? cuts[i].cut : data_end - 1;
    g_autofree char *tq = g_build_filename(dir, "trunc.qcow2", NULL);
    vsb_test_write_file(tq, g_bytes_get_data(fb, NULL), (gssize)cut);
    g_autoptr(VsbVarstore) t = vsb_varstore_load(tq, &error);
    g_assert_null(t);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, tq));
    g_assert_nonnull(strstr(error->message, "qcow2 image is corrupt or truncated"));
    g_assert_nonnull(strstr(error->message, cuts[i].expect));
    g_clear_error(&error);
  }
  /* Cutting only padding after the data loses nothing: still read. */
  g_autofree char *padcut = g_build_filename(dir, "padcut.qcow2", NULL);
  vsb_test_write_file(padcut, g_bytes_get_data(fb, NULL), (gssize)data_end);
  g_autoptr(VsbVarstore) pc = load_ok(padcut);
  assert_same_variables(pc, raw);
}

/* ---- saving ------------------------------------------------------------------------------------- */

static void
test_save(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *p = g_build_filename(dir, "VARS.fd", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_2M, &error);
  g_assert_true(vsb_varstore_save(s, p, 0600, FALSE, &error));
  g_assert_no_error(error);
  g_assert_false(vsb_file_is_locked(p, &error));
  g_assert_no_error(error);
  /* Overflow: refused, file untouched. */
  g_autofree guint8 *big = g_malloc0(70000);
  vsb_varstore_set(s, vsb_variable_new("Big", &VSB_GUID_EFI_GLOBAL_VARIABLE, 7, big, 70000));
  g_assert_false(vsb_varstore_save(s, p, 0600, FALSE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NO_SPACE);
  g_clear_error(&error);
  g_autoptr(GBytes) now = read_file(p);
  g_autofree char *sum = sha256_of(now);
  g_assert_cmpstr(sum, ==, "6ed987af3a3c155be71665f510eae3e007eda9b8b94afd59d45e91c4a11565cc");
  /* Not locked; missing file is an error. */
  g_autofree char *missing = g_build_filename(dir, "missing.fd", NULL);
  g_assert_false(vsb_file_is_locked(missing, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
}

/* Autodetection by content, never by name: qcow2 magic, JSON's first character after white
 * space, else the flash reader (whose errors a damaged image keeps); each store is written
 * back in its own format. */
static void
test_autodetect(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *fd_named_json = g_build_filename(dir, "flash.json", NULL);
  g_autofree char *json_named_fd = g_build_filename(dir, "store.fd", NULL);
  g_autofree char *q = g_build_filename(dir, "vars.bin", NULL);
  g_free(vsb_test_copy_file(OVMF "OVMF_VARS_4M.ms.fd", NULL, fd_named_json, 0644));
  const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                         OVMF "OVMF_VARS_4M.ms.fd", q, NULL };
  g_assert_cmpint(vsb_test_spawn(argv, NULL, NULL, NULL), ==, 0);
  g_autoptr(VsbVarstore) raw = load_ok(fd_named_json);
  g_assert_cmpstr(vsb_varstore_get_format(raw), ==, "raw");
  g_autoptr(VsbVarstore) qc = load_ok(q);
  g_assert_cmpstr(vsb_varstore_get_format(qc), ==, "qcow2");
  g_autofree char *text = vsb_varjson_export_text(raw);
  g_autofree char *padded = g_strconcat(" \n\t", text, NULL);
  vsb_test_write_file(json_named_fd, padded, -1);
  g_autoptr(VsbVarstore) js = load_ok(json_named_fd);
  g_assert_cmpstr(vsb_varstore_get_format(js), ==, "json");
  g_assert_cmpint(vsb_varstore_get_layout(js), ==, VSB_VARSTORE_LAYOUT_NONE);
  g_assert_cmpuint(vsb_varstore_get_capacity(js), ==, 0);
  g_assert_cmpuint(vsb_varstore_get_records(js)->len, ==, 0);
  assert_same_variables(js, raw);
  /* Written back as JSON, as export writes it. */
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_varstore_save(js, json_named_fd, 0644, FALSE, &error));
  g_assert_no_error(error);
  g_autofree char *back = NULL;
  g_assert_true(g_file_get_contents(json_named_fd, &back, NULL, NULL));
  g_assert_cmpstr(back, ==, text);
  /* An empty v1 list is an empty store; a '{' that is no JSON is a JSON error; 16 zero bytes
   * are the flash reader's. */
  vsb_test_write_file(json_named_fd, "[]", -1);
  g_autoptr(VsbVarstore) empty = load_ok(json_named_fd);
  g_assert_cmpuint(vsb_varstore_get_variables(empty)->len, ==, 0);
  vsb_test_write_file(json_named_fd, "{ nope", -1);
  g_assert_null(vsb_varstore_load(json_named_fd, &error));
  g_assert_nonnull(strstr(error->message, "not JSON"));
  g_clear_error(&error);
  static const guint8 zeros[16];
  vsb_test_write_file(json_named_fd, zeros, sizeof zeros);
  g_assert_null(vsb_varstore_load(json_named_fd, &error));
  g_assert_nonnull(strstr(error->message, "truncated"));
}

/* The one reader of a store's signature databases: absent, malformed (named), and read. */
static void
test_siglist_from_store(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_load(OVMF "OVMF_VARS_4M.ms.fd", &error);
  g_assert_no_error(error);
  GPtrArray *e = NULL;
  g_assert_true(vsb_siglist_from_store(s, "dbt", &e, &error));
  g_assert_null(e);
  g_assert_true(vsb_siglist_from_store(s, "KEK", &e, &error));
  g_assert_cmpuint(e->len, ==, 2);
  g_ptr_array_unref(e);
  g_assert_true(vsb_siglist_from_store(s, "db", &e, &error));
  g_assert_cmpuint(e->len, ==, 2);
  g_ptr_array_unref(e);
  static const guint8 bad[] = { 1, 2, 3 };
  vsb_varstore_set(s, vsb_variable_new("dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE, 0x27, bad,
                                       sizeof bad));
  g_assert_false(vsb_siglist_from_store(s, "dbx", &e, &error));
  g_assert_null(e);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_true(g_str_has_prefix(error->message, "dbx: signature list at offset 0"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/varstore/empty-layouts", test_empty_layouts);
  g_test_add_func("/varstore/read-snakeoil", test_read_snakeoil);
  g_test_add_func("/varstore/read-ms", test_read_ms);
  g_test_add_func("/varstore/read-aavmf", test_read_aavmf);
  g_test_add_func("/varstore/read-unified", test_read_unified);
  g_test_add_func("/varstore/read-plain", test_read_plain);
  g_test_add_func("/varstore/round-trip", test_round_trip);
  g_test_add_func("/varstore/edit", test_edit);
  g_test_add_func("/varstore/states", test_states);
  g_test_add_func("/varstore/bad-input", test_bad_input);
  g_test_add_func("/varstore/siglist", test_siglist);
  g_test_add_func("/varstore/certs", test_certs);
  g_test_add_func("/varstore/auth2", test_auth2);
  g_test_add_func("/varstore/decode", test_decode);
  g_test_add_func("/varstore/device-path-guid-nodes", test_device_path_guid_nodes);
  g_test_add_func("/varstore/report", test_report);
  g_test_add_func("/varstore/json-round-trip", test_json_round_trip);
  g_test_add_func("/varstore/blank", test_blank);
  g_test_add_func("/varstore/qcow2", test_qcow2);
  g_test_add_func("/varstore/save", test_save);
  g_test_add_func("/varstore/siglist-from-store", test_siglist_from_store);
  g_test_add_func("/varstore/autodetect", test_autodetect);
  return g_test_run();
}
