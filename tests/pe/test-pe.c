/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot pe: the PE reader, the Authenticode hash, signing and verification, cross-checked on
 * the same files with sbsign/sbverify (sbsigntool), pesign and osslsigncode, and judged on
 * Debian's own signed binaries against Debian's OVMF varstores. */
#include "testutil.h"
#include "pe-fixtures.h"
#include "pegen.h"

#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#define SHIM_SIGNED "/usr/lib/shim/shimx64.efi.signed"
#define SHIM_UNSIGNED "/usr/lib/shim/shimx64.efi"
#define GRUB_SIGNED "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
#define MS_VARS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define BLANK_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define MS_UEFI_CA_2011 "CN=Microsoft Corporation UEFI CA 2011"

static char *
kernel_image(void)
{
  g_autoptr(GDir) d = g_dir_open("/boot", 0, NULL);
  g_assert_nonnull(d);
  const char *n;
  while ((n = g_dir_read_name(d)))
    if (g_str_has_prefix(n, "vmlinuz-") && g_str_has_suffix(n, "-amd64"))
      return g_build_filename("/boot", n, NULL);
  vsb_test_fail("no signed Debian kernel in /boot (install linux-image-amd64; ./dev.sh deps)");
  return NULL;
}

/* One set of keys for the whole program (RSA generation is the slow part). */
static PeKeys *the_keys;
static char *the_keys_dir;

static const PeKeys *
shared_keys(void)
{
  if (the_keys == NULL) {
    g_autoptr(GError) error = NULL;
    the_keys_dir = g_dir_make_tmp("vsboot-pe-keys-XXXXXX", &error);
    g_assert_no_error(error);
    the_keys = pe_keys_new(the_keys_dir);
  }
  return the_keys;
}

static void
drop_shared_keys(void)
{
  if (the_keys_dir) {
    const char *argv[] = { "rm", "-rf", "--", the_keys_dir, NULL };
    vsb_test_spawn(argv, NULL, NULL, NULL);
  }
  pe_keys_free(the_keys);
  g_free(the_keys_dir);
}

static JsonNode *
run_json(int expect, const char *const *args)
{
  g_autoptr(GPtrArray) a = g_ptr_array_new();
  for (const char *const *p = args; *p; p++)
    g_ptr_array_add(a, (char *)*p);
  g_ptr_array_add(a, (char *)"--json");
  g_ptr_array_add(a, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_runv((const char *const *)a->pdata, &out, &err);
  if (rc != expect)
    vsb_test_fail("vsboot %s %s: exit %d, expected %d\n%s%s", args[0], args[1], rc, expect, out, err);
  return vsb_test_parse_json(out);
}

static const char *
jstr(JsonNode *n, const char *k)
{
  return json_object_get_string_member(json_node_get_object(n), k);
}

static char *
vsboot_hash(const char *file, const char *digest)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "pe", "hash", file, "--digest", digest, NULL), ==, 0);
  /* Nothing but the hex digits and a newline. */
  g_assert_true(g_str_has_suffix(out, "\n"));
  return g_strstrip(g_strdup(out));
}

static char *
pesign_hash(const char *file)
{
  vsb_test_require_tool("pesign");
  const char *argv[] = { "pesign", "-h", "-i", file, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_spawn(argv, NULL, &out, &err), ==, 0);
  g_assert_true(g_str_has_prefix(out, "hash: "));
  return g_strstrip(g_strdup(out + 6));
}

static int
sbverify(const char *cert, const char *file)
{
  vsb_test_require_tool("sbverify");
  const char *argv[] = { "sbverify", "--cert", cert, file, NULL };
  return vsb_test_spawn(argv, NULL, NULL, NULL);
}

static void
sbsign(const char *key, const char *cert, const char *in, const char *out)
{
  vsb_test_require_tool("sbsign");
  const char *argv[] = { "sbsign", "--key", key, "--cert", cert, "--output", out, in, NULL };
  g_autofree char *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, NULL, &err);
  if (rc != 0)
    vsb_test_fail("sbsign failed: %s", err);
}

static void
vsb_sign(const char *key, const char *cert, const char *in, const char *out)
{
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "pe", "sign", in, "--key", key, "--cert", cert, "-o", out, NULL);
  if (rc != 0)
    vsb_test_fail("vsboot pe sign failed: %s", err);
}

static int
verify_db(const char *file, const char *db_cert)
{
  return vsb_test_run(NULL, NULL, "pe", "verify", file, "--db", db_cert, NULL);
}

static gsize
secdir_offset(void)
{
  return pegen_dirs_offset(TRUE) + 8 * 4;
}

/* ---- info and hash ---- */

static void
test_info_synthetic(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  for (int plus = 0; plus <= 1; plus++) {
    g_autofree char *img = pe_write_synthetic(dir, plus ? "a64.efi" : "a32.efi", plus, 13);
    const char *args[] = { "pe", "info", img, NULL };
    g_autoptr(JsonNode) r = run_json(0, args);
    JsonObject *o = json_node_get_object(r);
    g_assert_cmpstr(jstr(r, "format"), ==, plus ? "PE32+" : "PE32");
    g_assert_cmpstr(jstr(r, "machine"), ==, plus ? "x86_64" : "i386");
    g_assert_cmpstr(jstr(r, "subsystem"), ==, "EFI application");
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(o, "sections")), ==, 4);
    g_assert_nonnull(strstr(jstr(r, "sbat"), "vsboot,1,vsboot tests,vsboot,0.1"));
    g_assert_true(json_object_get_null_member(o, "certificate-table"));
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(o, "signatures")), ==, 0);
    /* The hash covers the 13 bytes after the last section, as pesign's does. */
    g_autofree char *ph = pesign_hash(img);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "authenticode"),
                                                  "sha256"), ==, ph);
  }
}

static void
test_info_shim(void)
{
  const char *args[] = { "pe", "info", SHIM_SIGNED, NULL };
  g_autoptr(JsonNode) r = run_json(0, args);
  JsonObject *o = json_node_get_object(r);
  g_assert_cmpstr(jstr(r, "machine"), ==, "x86_64");
  g_assert_nonnull(strstr(jstr(r, "sbat"), "shim.debian,"));
  /* Microsoft's signing service sets a correct PE checksum. */
  g_assert_cmpstr(jstr(r, "checksum"), ==, jstr(r, "checksum-computed"));
  JsonArray *sigs = json_object_get_array_member(o, "signatures");
  g_assert_cmpint(json_array_get_length(sigs), >=, 1);
  JsonObject *s0 = json_array_get_object_element(sigs, 0);
  g_assert_cmpstr(json_object_get_string_member(s0, "digest"), ==, "sha256");
  g_assert_true(json_object_get_boolean_member(s0, "hash-matches"));
  JsonObject *signer = json_object_get_object_member(s0, "signer");
  g_assert_nonnull(strstr(json_object_get_string_member(signer, "subject"),
                          "CN=Microsoft Windows UEFI Driver Publisher"));
  g_assert_true(g_str_has_prefix(json_object_get_string_member(signer, "issuer"), MS_UEFI_CA_2011));
  JsonArray *chain = json_object_get_array_member(s0, "chain");
  g_assert_cmpint(json_array_get_length(chain), >=, 2);
  g_assert_true(g_str_has_prefix(json_object_get_string_member(
                                   json_array_get_object_element(chain, 1), "subject"),
                                 MS_UEFI_CA_2011));
}

/* vsboot's hash equals pesign's on synthetic and real images; osslsigncode agrees on the
 * digest of the real signatures; the other digests are computed too. */
static void
test_hash_crosscheck(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *kernel = kernel_image();
  g_autofree char *syn = pe_write_synthetic(dir, "s.efi", TRUE, 0);
  const char *files[] = { syn, SHIM_UNSIGNED, SHIM_SIGNED, GRUB_SIGNED, kernel };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autofree char *mine = vsboot_hash(files[i], "sha256");
    g_autofree char *theirs = pesign_hash(files[i]);
    g_assert_cmpstr(mine, ==, theirs);
    g_assert_cmpint(strlen(mine), ==, 64);
  }
  /* osslsigncode reads a single-entry certificate table only: grub and the kernel. */
  vsb_test_require_tool("osslsigncode");
  for (gsize i = 3; i < G_N_ELEMENTS(files); i++) {
    const char *argv[] = { "osslsigncode", "verify", "-in", files[i], NULL };
    g_autofree char *out = NULL;
    vsb_test_spawn(argv, NULL, &out, NULL);
    const char *p = strstr(out, "Calculated message digest : ");
    g_assert_nonnull(p);
    g_autofree char *want = g_ascii_strdown(p + strlen("Calculated message digest : "), 64);
    g_autofree char *mine = vsboot_hash(files[i], "sha256");
    g_assert_cmpstr(mine, ==, want);
  }
  g_autofree char *h1 = vsboot_hash(syn, "sha1");
  g_autofree char *h384 = vsboot_hash(syn, "sha384");
  g_autofree char *h512 = vsboot_hash(syn, "sha512");
  g_assert_cmpint(strlen(h1), ==, 40);
  g_assert_cmpint(strlen(h384), ==, 96);
  g_assert_cmpint(strlen(h512), ==, 128);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "hash", syn, "--digest", "md5", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "unknown --digest 'md5'"));
}

/* A SHA-512 signature made by osslsigncode: vsboot hashes with the signature's digest. */
static void
test_sha512_signature(void)
{
  vsb_test_require_tool("osslsigncode");
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  g_autofree char *out = g_build_filename(dir, "s512.efi", NULL);
  const char *argv[] = { "osslsigncode", "sign", "-h", "sha512", "-certs", k->leaf_crt,
                         "-key", k->leaf_key, "-in", img, "-out", out, NULL };
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_spawn(argv, NULL, NULL, &err), ==, 0);
  const char *args[] = { "pe", "info", out, NULL };
  g_autoptr(JsonNode) r = run_json(0, args);
  JsonObject *s0 = json_array_get_object_element(
    json_object_get_array_member(json_node_get_object(r), "signatures"), 0);
  g_assert_cmpstr(json_object_get_string_member(s0, "digest"), ==, "sha512");
  g_assert_true(json_object_get_boolean_member(s0, "hash-matches"));
  g_autofree char *h512 = vsboot_hash(out, "sha512");
  g_assert_cmpstr(json_object_get_string_member(s0, "signed-hash"), ==, h512);
  g_assert_cmpint(verify_db(out, k->ca_crt), ==, 0);
  g_assert_cmpint(verify_db(out, k->other_crt), ==, 1);
}

/* ---- signing, cross-checked with sbsigntool ---- */

static void
test_sign_sbverify(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  for (int plus = 0; plus <= 1; plus++) {
    /* 13 trailing bytes: the image must be padded to 8 before the table, and the padding signed. */
    g_autofree char *img = pe_write_synthetic(dir, "u.efi", plus, 13);
    g_autofree char *out = g_build_filename(dir, "v.efi", NULL);
    vsb_sign(k->leaf_key, k->leaf_crt, img, out);
    g_assert_cmpint(sbverify(k->leaf_crt, out), ==, 0);
    g_assert_cmpint(sbverify(k->ca_crt, out), ==, 0);
    g_assert_cmpint(sbverify(k->other_crt, out), !=, 0);
    g_assert_cmpint(verify_db(out, k->leaf_crt), ==, 0);
    g_assert_cmpint(verify_db(out, k->ca_crt), ==, 0);
    g_assert_cmpint(verify_db(out, k->other_crt), ==, 1);
    /* Same hash as sbsign computes for the same input: both pad, both sign that. */
    g_autofree char *sb = g_build_filename(dir, "sb.efi", NULL);
    sbsign(k->leaf_key, k->leaf_crt, img, sb);
    g_autofree char *h1 = vsboot_hash(out, "sha256");
    g_autofree char *h2 = vsboot_hash(sb, "sha256");
    g_autofree char *h3 = pesign_hash(out);
    g_assert_cmpstr(h1, ==, h2);
    g_assert_cmpstr(h1, ==, h3);
    /* Structure: one 8-byte aligned entry at the end, checksum correct, same size as sbsign's. */
    const char *args[] = { "pe", "info", out, NULL };
    g_autoptr(JsonNode) r = run_json(0, args);
    JsonObject *o = json_node_get_object(r);
    g_assert_cmpstr(jstr(r, "checksum"), ==, jstr(r, "checksum-computed"));
    JsonObject *t = json_object_get_object_member(o, "certificate-table");
    guint64 toff = g_ascii_strtoull(json_object_get_string_member(t, "offset"), NULL, 16);
    guint64 tsize = g_ascii_strtoull(json_object_get_string_member(t, "size"), NULL, 16);
    g_assert_cmpuint(toff % 8, ==, 0);
    g_assert_cmpuint(tsize % 8, ==, 0);
    g_assert_cmpint(json_object_get_int_member(o, "size"), ==, (gint64)(toff + tsize));
    struct stat st1, st2;
    g_assert_cmpint(g_stat(out, &st1), ==, 0);
    g_assert_cmpint(g_stat(sb, &st2), ==, 0);
    g_assert_cmpint(st1.st_size, ==, st2.st_size);
    JsonObject *s0 = json_array_get_object_element(json_object_get_array_member(o, "signatures"), 0);
    g_assert_cmpstr(json_object_get_string_member(s0, "revision"), ==, "0x200");
    g_assert_cmpstr(json_object_get_string_member(s0, "type"), ==, "0x2");
  }
}

/* --addcert puts the issuer into the PKCS#7: info shows the chain leaf -> CA. */
static void
test_sign_addcert(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  g_autofree char *out = g_build_filename(dir, "c.efi", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "sign", img, "--key", k->leaf_key, "--cert",
                               k->leaf_crt, "--addcert", k->ca_crt, "-o", out, NULL), ==, 0);
  const char *args[] = { "pe", "info", out, NULL };
  g_autoptr(JsonNode) r = run_json(0, args);
  JsonObject *s0 = json_array_get_object_element(
    json_object_get_array_member(json_node_get_object(r), "signatures"), 0);
  g_assert_cmpint(json_object_get_int_member(s0, "certificates"), ==, 2);
  JsonArray *chain = json_object_get_array_member(s0, "chain");
  g_assert_cmpint(json_array_get_length(chain), ==, 2);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(chain, 1), "subject"),
                  ==, "O=vsboot tests,CN=vsboot test CA");
  g_assert_cmpint(sbverify(k->ca_crt, out), ==, 0);
  g_assert_cmpint(verify_db(out, k->ca_crt), ==, 0);
}

static void
test_sbsign_then_vsboot_verify(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  const char *inputs[] = { SHIM_UNSIGNED, NULL };
  g_autofree char *syn = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  inputs[1] = syn;
  for (gsize i = 0; i < G_N_ELEMENTS(inputs); i++) {
    g_autofree char *out = g_build_filename(dir, "sb.efi", NULL);
    sbsign(k->leaf_key, k->leaf_crt, inputs[i], out);
    const char *args[] = { "pe", "verify", out, "--db", k->ca_crt, NULL };
    g_autoptr(JsonNode) r = run_json(0, args);
    g_assert_cmpstr(jstr(r, "verdict"), ==, "allowed");
    g_assert_cmpstr(jstr(r, "database"), ==, "db");
    g_assert_cmpstr(jstr(r, "entry-description"), ==, "O=vsboot tests,CN=vsboot test CA");
    g_assert_cmpint(json_object_get_int_member(json_node_get_object(r), "signature"), ==, 0);
    const char *args2[] = { "pe", "verify", out, "--db", k->other_crt, NULL };
    g_autoptr(JsonNode) r2 = run_json(1, args2);
    g_assert_cmpstr(jstr(r2, "verdict"), ==, "denied");
    /* The digest sbsign signed is the image hash vsboot computes. */
    const char *args3[] = { "pe", "info", out, NULL };
    g_autoptr(JsonNode) info = run_json(0, args3);
    JsonObject *s0 = json_array_get_object_element(
      json_object_get_array_member(json_node_get_object(info), "signatures"), 0);
    g_autofree char *h = vsboot_hash(out, "sha256");
    g_assert_cmpstr(json_object_get_string_member(s0, "signed-hash"), ==, h);
  }
}

/* A second signature is appended, both stay valid for sbverify and for vsboot. */
static void
test_append_signature(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 5);
  g_autofree char *one = g_build_filename(dir, "one.efi", NULL);
  g_autofree char *two = g_build_filename(dir, "two.efi", NULL);
  sbsign(k->leaf_key, k->leaf_crt, img, one);
  g_autofree char *h_one = vsboot_hash(one, "sha256");
  vsb_sign(k->other_key, k->other_crt, one, two);
  g_autofree char *h_two = vsboot_hash(two, "sha256");
  g_assert_cmpstr(h_one, ==, h_two);
  const char *args[] = { "pe", "info", two, NULL };
  g_autoptr(JsonNode) r = run_json(0, args);
  JsonArray *sigs = json_object_get_array_member(json_node_get_object(r), "signatures");
  g_assert_cmpint(json_array_get_length(sigs), ==, 2);
  for (guint i = 0; i < 2; i++) {
    JsonObject *s = json_array_get_object_element(sigs, i);
    g_assert_true(json_object_get_boolean_member(s, "hash-matches"));
    guint64 off = g_ascii_strtoull(json_object_get_string_member(s, "offset"), NULL, 16);
    g_assert_cmpuint(off % 8, ==, 0);
  }
  g_assert_cmpstr(jstr(r, "checksum"), ==, jstr(r, "checksum-computed"));
  g_assert_cmpint(sbverify(k->leaf_crt, two), ==, 0);
  const char *a1[] = { "pe", "verify", two, "--db", k->other_crt, NULL };
  g_autoptr(JsonNode) v1 = run_json(0, a1);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(v1), "signature"), ==, 1);
  const char *a0[] = { "pe", "verify", two, "--db", k->ca_crt, NULL };
  g_autoptr(JsonNode) v0 = run_json(0, a0);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(v0), "signature"), ==, 0);
  /* In place, a third time. */
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "sign", two, "--key", k->leaf_key, "--cert",
                               k->leaf_crt, NULL), ==, 0);
  g_autoptr(JsonNode) r3 = run_json(0, args);
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(json_node_get_object(r3),
                                                                     "signatures")), ==, 3);
  g_assert_cmpint(sbverify(k->leaf_crt, two), ==, 0);
  /* A key that does not match the certificate is refused, the file untouched. */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "sign", two, "--key", k->other_key, "--cert",
                               k->leaf_crt, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "does not belong to the certificate"));
  g_autoptr(JsonNode) r4 = run_json(0, args);
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(json_node_get_object(r4),
                                                                     "signatures")), ==, 3);
}

/* ---- the decision rules ---- */

static void
test_verify_rules(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  g_autofree char *s = g_build_filename(dir, "s.efi", NULL);
  vsb_sign(k->leaf_key, k->leaf_crt, img, s);
  g_autofree char *h = vsboot_hash(s, "sha256");

  /* dbx hash beats a db certificate. */
  const char *a1[] = { "pe", "verify", s, "--db", k->ca_crt, "--dbx-hash", h, NULL };
  g_autoptr(JsonNode) r1 = run_json(1, a1);
  g_assert_cmpstr(jstr(r1, "database"), ==, "dbx");
  g_assert_nonnull(strstr(jstr(r1, "entry-description"), h));
  /* A bad --dbx-hash is named with its value, and the length a SHA-256 hash needs. */
  {
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint(vsb_test_run(&out, &err, "pe", "verify", s, "--db", k->ca_crt,
                                 "--dbx-hash", "nothex", NULL), ==, 2);
    g_assert_cmpstr(out, ==, "");
    g_assert_nonnull(strstr(err, "--dbx-hash 'nothex': "));
    g_assert_nonnull(strstr(err, "64 hex digits"));
    g_clear_pointer(&err, g_free);
    g_clear_pointer(&out, g_free);
    g_assert_cmpint(vsb_test_run(&out, &err, "pe", "verify", s, "--db", k->ca_crt,
                                 "--dbx-hash", "abcd", NULL), ==, 2);
    g_assert_nonnull(strstr(err, "--dbx-hash 'abcd': 2 bytes (4 hex digits), but a SHA-256 "
                                 "hash has 32 bytes (64 hex digits)"));
  }
  /* A certificate of the chain in dbx. */
  const char *a2[] = { "pe", "verify", s, "--db", k->ca_crt, "--dbx-cert", k->ca_crt, NULL };
  g_autoptr(JsonNode) r2 = run_json(1, a2);
  g_assert_cmpstr(jstr(r2, "database"), ==, "dbx");
  g_assert_cmpstr(jstr(r2, "entry-description"), ==, "O=vsboot tests,CN=vsboot test CA");
  /* An unrelated dbx certificate changes nothing. */
  const char *a3[] = { "pe", "verify", s, "--db", k->ca_crt, "--dbx-cert", k->other_crt, NULL };
  g_autoptr(JsonNode) r3 = run_json(0, a3);
  g_assert_cmpstr(jstr(r3, "verdict"), ==, "allowed");
  /* Unsigned image: denied unless its hash is in db (through a varstore). */
  const char *a4[] = { "pe", "verify", img, "--db", k->ca_crt, NULL };
  g_autoptr(JsonNode) r4 = run_json(1, a4);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(r4), "signed"));
  g_autofree char *uh = vsboot_hash(img, "sha256");
  g_autofree char *vars = g_build_filename(dir, "vars.fd", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", BLANK_VARS, "-o", vars, "--pk", k->ca_crt,
                        "--kek", k->ca_crt, "--db-hash", uh, "--secure-boot", "on", NULL);
  if (rc != 0)
    vsb_test_fail("vars enroll: %s", err);
  const char *a5[] = { "pe", "verify", img, "--vars", vars, NULL };
  g_autoptr(JsonNode) r5 = run_json(0, a5);
  g_assert_cmpstr(jstr(r5, "database"), ==, "db");
  g_assert_true(g_str_has_suffix(jstr(r5, "entry-description"), uh));
  /* A signature does not change the Authenticode hash: the signed copy, whose signature
   * chains to nothing in that db, is allowed by the same hash entry. */
  const char *a6[] = { "pe", "verify", s, "--vars", vars, NULL };
  g_autoptr(JsonNode) r6 = run_json(0, a6);
  g_assert_nonnull(strstr(jstr(r6, "reason"), "sha256 hash is in db"));
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(r6), "signature"), ==, 0);

  /* edk2 ignores validity dates and extended key usage. */
  g_autofree char *e = g_build_filename(dir, "e.efi", NULL);
  vsb_sign(k->expired_key, k->expired_crt, img, e);
  g_assert_cmpint(verify_db(e, k->ca_crt), ==, 0);
  g_autofree char *m = g_build_filename(dir, "m.efi", NULL);
  vsb_sign(k->email_key, k->email_crt, img, m);
  g_assert_cmpint(verify_db(m, k->ca_crt), ==, 0);
  /* The leaf itself in db (a partial chain) is enough. */
  g_assert_cmpint(verify_db(s, k->leaf_crt), ==, 0);

  /* A modified image no longer matches its signature. */
  gchar *data;
  gsize len;
  g_assert_true(g_file_get_contents(s, &data, &len, NULL));
  data[0x600] ^= 1; /* inside .text */
  g_autofree char *t = g_build_filename(dir, "t.efi", NULL);
  vsb_test_write_file(t, data, (gssize)len);
  g_free(data);
  const char *a7[] = { "pe", "verify", t, "--db", k->ca_crt, NULL };
  g_autoptr(JsonNode) r7 = run_json(1, a7);
  g_assert_nonnull(strstr(jstr(r7, "reason"), "does not match the image"));
  g_assert_cmpint(sbverify(k->ca_crt, t), !=, 0);
}

/* SHA-256 of a certificate's TBSCertificate, as dbx X509_SHA256 entries hold it. */
static void
tbs_sha256(const char *pem, guint8 out[32])
{
  FILE *f = fopen(pem, "r");
  g_assert_nonnull(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  g_assert_nonnull(x);
  unsigned char *der = NULL;
  int len = i2d_X509(x, &der);
  g_assert_cmpint(len, >, 0);
  const unsigned char *p = der;
  long l;
  int tag, cls;
  ASN1_get_object(&p, &l, &tag, &cls, len); /* Certificate SEQUENCE */
  const unsigned char *tbs = p;
  ASN1_get_object(&p, &l, &tag, &cls, len - (p - der)); /* TBSCertificate */
  unsigned int n = 0;
  EVP_Digest(tbs, (size_t)(p - tbs) + (size_t)l, out, &n, EVP_sha256(), NULL);
  g_assert_cmpuint(n, ==, 32);
  OPENSSL_free(der);
  X509_free(x);
}

/* A store whose dbx holds one X509_SHA256 entry (hash + zero revocation time). */
static char *
store_with_dbx_tbs(const char *dir, const char *name, const PeKeys *k, const char *revoked_pem)
{
  g_autofree char *base = g_build_filename(dir, "base.fd", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", BLANK_VARS, "-o", base, "--pk", k->ca_crt,
                        "--kek", k->ca_crt, "--db", k->ca_crt, "--secure-boot", "on", NULL);
  if (rc != 0)
    vsb_test_fail("vars enroll: %s", err);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(base, &error);
  g_assert_no_error(error);
  guint8 data[48] = { 0 };
  tbs_sha256(revoked_pem, data);
  g_autoptr(GPtrArray) entries = vsb_sig_entry_array_new();
  g_ptr_array_add(entries, vsb_sig_entry_new(VSB_SIG_X509_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, data, sizeof data));
  g_autoptr(GBytes) esl = vsb_siglist_build(entries);
  gsize len;
  const guint8 *d = g_bytes_get_data(esl, &len);
  vsb_varstore_set(store, vsb_variable_new("dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE, 0x27, d, len));
  char *path = g_build_filename(dir, name, NULL);
  g_assert_true(vsb_varstore_save(store, path, 0644, FALSE, &error));
  g_assert_no_error(error);
  return path;
}

/* The UEFI form of a signature, WIN_CERTIFICATE_UEFI_GUID with EFI_CERT_TYPE_PKCS7_GUID, is
 * accepted as edk2 accepts it. */
static void
test_verify_uefi_guid_cert(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  g_autofree char *s = g_build_filename(dir, "s.efi", NULL);
  vsb_sign(k->leaf_key, k->leaf_crt, img, s);
  gchar *data;
  gsize len;
  g_assert_true(g_file_get_contents(s, &data, &len, NULL));
  g_autoptr(GByteArray) b = g_byte_array_new_take((guint8 *)data, len);
  gsize dir_off = secdir_offset();
  guint32 off = b->data[dir_off] | b->data[dir_off + 1] << 8 | b->data[dir_off + 2] << 16 |
                (guint32)b->data[dir_off + 3] << 24;
  guint32 dw = b->data[off] | b->data[off + 1] << 8 | b->data[off + 2] << 16 |
               (guint32)b->data[off + 3] << 24;
  g_autoptr(GByteArray) p7 = g_byte_array_new();
  g_byte_array_append(p7, b->data + off + 8, dw - 8);
  g_byte_array_set_size(b, off);
  guint32 ndw = 8 + 16 + p7->len;
  guint8 hdr[8] = { ndw & 0xff, (ndw >> 8) & 0xff, (ndw >> 16) & 0xff, ndw >> 24, 0x00, 0x02, 0xf1, 0x0e };
  g_byte_array_append(b, hdr, 8);
  g_byte_array_append(b, VSB_GUID_EFI_CERT_TYPE_PKCS7.b, 16);
  g_byte_array_append(b, p7->data, p7->len);
  while (b->len % 8)
    g_byte_array_append(b, (const guint8 *)"", 1);
  pegen_put32(b, dir_off + 4, b->len - off);
  g_autofree char *g = g_build_filename(dir, "guid.efi", NULL);
  vsb_test_write_file(g, b->data, b->len);
  const char *a[] = { "pe", "info", g, NULL };
  g_autoptr(JsonNode) r = run_json(0, a);
  JsonObject *s0 = json_array_get_object_element(
    json_object_get_array_member(json_node_get_object(r), "signatures"), 0);
  g_assert_cmpstr(json_object_get_string_member(s0, "type"), ==, "0xef1");
  g_assert_true(json_object_get_boolean_member(s0, "hash-matches"));
  g_assert_cmpint(verify_db(g, k->ca_crt), ==, 0);
  g_assert_cmpint(verify_db(g, k->other_crt), ==, 1);
}

/* Revocation by certificate hash: the signer's (denies) and the db certificate's own (the
 * signature no longer counts). */
static void
test_verify_dbx_tbs(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *img = pe_write_synthetic(dir, "u.efi", TRUE, 0);
  g_autofree char *s = g_build_filename(dir, "s.efi", NULL);
  vsb_sign(k->leaf_key, k->leaf_crt, img, s);

  g_autofree char *leaf_revoked = store_with_dbx_tbs(dir, "leaf-revoked.fd", k, k->leaf_crt);
  const char *a1[] = { "pe", "verify", s, "--vars", leaf_revoked, NULL };
  g_autoptr(JsonNode) r1 = run_json(1, a1);
  g_assert_cmpstr(jstr(r1, "database"), ==, "dbx");
  g_assert_nonnull(strstr(jstr(r1, "reason"), "TBS hash is in dbx"));
  g_assert_true(g_str_has_prefix(jstr(r1, "entry-description"), "x509-sha256:"));

  g_autofree char *ca_revoked = store_with_dbx_tbs(dir, "ca-revoked.fd", k, k->ca_crt);
  const char *a2[] = { "pe", "verify", s, "--vars", ca_revoked, NULL };
  g_autoptr(JsonNode) r2 = run_json(1, a2);
  JsonObject *s0 = json_array_get_object_element(
    json_object_get_array_member(json_node_get_object(r2), "signatures"), 0);
  g_assert_cmpstr(json_object_get_string_member(s0, "status"), ==, "not-allowed");
  g_assert_nonnull(strstr(json_object_get_string_member(s0, "detail"), "hash is in dbx"));

  /* An unrelated certificate's hash changes nothing. */
  g_autofree char *other_revoked = store_with_dbx_tbs(dir, "other-revoked.fd", k, k->other_crt);
  const char *a3[] = { "pe", "verify", s, "--vars", other_revoked, NULL };
  g_autoptr(JsonNode) r3 = run_json(0, a3);
  g_assert_cmpstr(jstr(r3, "verdict"), ==, "allowed");
}

/* Debian's binaries against Debian's stores: what OVMF decides (see test-pe-boot for the
 * boot that confirms it). */
static void
test_verify_debian(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  g_autofree char *kernel = kernel_image();

  const char *a1[] = { "pe", "verify", SHIM_SIGNED, "--vars", MS_VARS, NULL };
  g_autoptr(JsonNode) r1 = run_json(0, a1);
  g_assert_cmpstr(jstr(r1, "verdict"), ==, "allowed");
  g_assert_true(g_str_has_prefix(jstr(r1, "entry-description"), MS_UEFI_CA_2011));
  g_assert_cmpstr(jstr(r1, "database"), ==, "db");

  const char *denied[] = { GRUB_SIGNED, kernel, SHIM_UNSIGNED };
  for (gsize i = 0; i < G_N_ELEMENTS(denied); i++) {
    const char *a[] = { "pe", "verify", denied[i], "--vars", MS_VARS, NULL };
    g_autoptr(JsonNode) r = run_json(1, a);
    g_assert_cmpstr(jstr(r, "verdict"), ==, "denied");
    g_assert_true(json_object_get_boolean_member(json_node_get_object(r), "enforcing"));
    if (i < 2) {
      /* Signed by Debian, whose CA is trusted through shim's vendor certificate, not db. */
      JsonObject *s0 = json_array_get_object_element(
        json_object_get_array_member(json_node_get_object(r), "signatures"), 0);
      g_assert_cmpstr(json_object_get_string_member(s0, "status"), ==, "not-allowed");
      g_assert_true(json_object_get_boolean_member(s0, "hash-matches"));
      g_assert_nonnull(strstr(json_object_get_string_member(s0, "signer-issuer"),
                              "CN=Debian Secure Boot CA"));
    }
  }

  /* A store with only the user's own keys: Microsoft's shim is denied, the user's own
   * signature on it allowed. */
  g_autofree char *own = g_build_filename(dir, "own.fd", NULL);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", BLANK_VARS, "-o", own, "--pk", k->ca_crt,
                        "--kek", k->ca_crt, "--db", k->ca_crt, "--secure-boot", "on", NULL);
  if (rc != 0)
    vsb_test_fail("vars enroll: %s", err);
  const char *a2[] = { "pe", "verify", SHIM_SIGNED, "--vars", own, NULL };
  g_autoptr(JsonNode) r2 = run_json(1, a2);
  g_assert_cmpstr(jstr(r2, "verdict"), ==, "denied");
  g_autofree char *mine = g_build_filename(dir, "shim-mine.efi", NULL);
  vsb_sign(k->leaf_key, k->leaf_crt, SHIM_SIGNED, mine);
  const char *a3[] = { "pe", "verify", mine, "--vars", own, NULL };
  g_autoptr(JsonNode) r3 = run_json(0, a3);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(r3), "signature"), >=, 1);
  /* The Microsoft signatures still verify under the Microsoft store after adding ours. */
  const char *a4[] = { "pe", "verify", mine, "--vars", MS_VARS, NULL };
  g_autoptr(JsonNode) r4 = run_json(0, a4);
  g_assert_cmpint(json_object_get_int_member(json_node_get_object(r4), "signature"), ==, 0);

  /* The blank store is in setup mode: nothing is enforced. */
  const char *a5[] = { "pe", "verify", SHIM_UNSIGNED, "--vars", BLANK_VARS, NULL };
  g_autoptr(JsonNode) r5 = run_json(0, a5);
  g_assert_false(json_object_get_boolean_member(json_node_get_object(r5), "enforcing"));
  g_assert_cmpstr(jstr(r5, "keys-verdict"), ==, "denied");
}

/* ---- malformed input ---- */

typedef struct {
  const char *name;
  void (*mutate)(GByteArray *b);
  const char *message;
} Mutation;

static gsize sec0(void) { return pegen_sections_offset(TRUE); }
static gsize secdir(void) { return pegen_dirs_offset(TRUE) + 8 * 4; }

static void m_lfanew(GByteArray *b) { pegen_put32(b, 0x3c, 0x7ffffff0); }
static void m_magic(GByteArray *b) { pegen_put16(b, PEGEN_OPT, 0x30b); }
static void m_ndirs(GByteArray *b) { pegen_put32(b, pegen_dirs_offset(TRUE) - 4, 0x10000000); }
static void m_nsect(GByteArray *b) { pegen_put16(b, PEGEN_LFANEW + 6, 0xffff); }
static void m_overlap(GByteArray *b) { pegen_put32(b, sec0() + 40 + 20, 0x400 + 0x200); }
static void m_past_end(GByteArray *b) { pegen_put32(b, sec0() + 40 + 16, 0x7fff0000); }
static void m_into_headers(GByteArray *b) { pegen_put32(b, sec0() + 20, 0x10); }
static void m_cert_past_end(GByteArray *b) { pegen_put32(b, secdir(), b->len - 8); pegen_put32(b, secdir() + 4, 0x1000); }
static void m_cert_not_end(GByteArray *b) { pegen_put32(b, secdir(), b->len - 64); pegen_put32(b, secdir() + 4, 32); }
static void m_cert_in_sections(GByteArray *b) { pegen_put32(b, secdir(), 0x400); pegen_put32(b, secdir() + 4, b->len - 0x400); }
static void m_headers(GByteArray *b) { pegen_put32(b, PEGEN_OPT + 60, 0x7fffffff); }
static void m_truncate(GByteArray *b) { g_byte_array_set_size(b, 400); }
static void m_empty(GByteArray *b) { g_byte_array_set_size(b, 0); }
static void m_mz(GByteArray *b) { b->data[0] = 'X'; }

/* A WIN_CERTIFICATE whose dwLength runs past the table. */
static void
m_cert_len(GByteArray *b)
{
  gsize off = b->len;
  guint8 zero[16] = { 0 };
  g_byte_array_append(b, zero, 16);
  pegen_put32(b, secdir(), (guint32)off);
  pegen_put32(b, secdir() + 4, 16);
  pegen_put32(b, off, 0x7fffffff);
}

static void
test_malformed(void)
{
  const Mutation muts[] = {
    { "lfanew", m_lfanew, "e_lfanew at offset 0x3c points to 0x7ffffff0" },
    { "magic", m_magic, "neither PE32 (0x10b) nor PE32+ (0x20b)" },
    { "ndirs", m_ndirs, "NumberOfRvaAndSizes" },
    { "nsect", m_nsect, "NumberOfSections" },
    { "overlap", m_overlap, "overlap in the file" },
    { "past-end", m_past_end, "runs past the end of the file" },
    { "into-headers", m_into_headers, "overlaps the headers" },
    { "cert-past-end", m_cert_past_end, "certificate table at" },
    { "cert-not-end", m_cert_not_end, "is not at the end of the file" },
    { "cert-in-sections", m_cert_in_sections, "overlaps the headers or section data" },
    { "cert-len", m_cert_len, "dwLength 2147483647" },
    { "headers", m_headers, "SizeOfHeaders 0x7fffffff" },
    { "truncate", m_truncate, "section table" },
    { "empty", m_empty, "too small for a DOS header" },
    { "mz", m_mz, "no DOS header" },
  };
  g_autofree char *dir = vsb_test_tmpdir();
  for (gsize i = 0; i < G_N_ELEMENTS(muts); i++) {
    PeGenSpec spec = { .pe32plus = TRUE, .n_sections = 3, .section_size = 0x200 };
    g_autoptr(GByteArray) b = pegen_build(&spec);
    muts[i].mutate(b);
    g_autofree char *path = g_strdup_printf("%s/%s.efi", dir, muts[i].name);
    vsb_test_write_file(path, b->data, b->len);
    const char *cmds[][2] = { { "info", NULL }, { "hash", NULL }, { "verify", "--db" } };
    for (gsize c = 0; c < G_N_ELEMENTS(cmds); c++) {
      g_autofree char *err = NULL;
      int rc = cmds[c][1] ? vsb_test_run(NULL, &err, "pe", cmds[c][0], path, "--dbx-hash",
                                         "00000000000000000000000000000000000000000000000000000000000000ff", NULL)
                          : vsb_test_run(NULL, &err, "pe", cmds[c][0], path, NULL);
      if (rc != 2 || strstr(err, muts[i].message) == NULL)
        vsb_test_fail("%s: pe %s: exit %d, stderr: %s (expected '%s')", muts[i].name, cmds[c][0], rc,
                err, muts[i].message);
      g_assert_true(g_str_has_prefix(err, "vsboot: "));
    }
  }
  /* Signing a malformed image fails the same way and writes nothing. */
  const PeKeys *k = shared_keys();
  g_autofree char *bad = g_strdup_printf("%s/overlap.efi", dir);
  g_autofree char *out = g_strdup_printf("%s/never.efi", dir);
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "sign", bad, "--key", k->leaf_key, "--cert",
                               k->leaf_crt, "-o", out, NULL), ==, 2);
  g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "info", "/nonexistent.efi", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "/nonexistent.efi"));
}

/* Garbage where the PKCS#7 blob should be: reported, judged denied, no crash. */
static void
test_garbage_pkcs7(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const PeKeys *k = shared_keys();
  PeGenSpec spec = { .pe32plus = TRUE, .n_sections = 2, .section_size = 0x200 };
  const guint8 shapes[][48] = {
    /* random-looking bytes */
    { 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03 },
    /* a SEQUENCE header with the long-form length edk2 wants, then nothing sensible; byte 32
     * holds the SHA-256 OID so edk2 (and vsboot) go on to parse it */
    { 0x30, 0x82, 0x00, 0x2c, [32] = 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(shapes); i++) {
    g_autoptr(GByteArray) b = pegen_build(&spec);
    gsize off = b->len;
    guint8 hdr[8] = { 8 + 48, 0, 0, 0, 0x00, 0x02, 0x02, 0x00 };
    g_byte_array_append(b, hdr, 8);
    g_byte_array_append(b, shapes[i], 48);
    pegen_put32(b, secdir(), (guint32)off);
    pegen_put32(b, secdir() + 4, 56);
    g_autofree char *path = g_strdup_printf("%s/g%zu.efi", dir, i);
    vsb_test_write_file(path, b->data, b->len);
    const char *a[] = { "pe", "info", path, NULL };
    g_autoptr(JsonNode) r = run_json(0, a);
    JsonObject *s0 = json_array_get_object_element(
      json_object_get_array_member(json_node_get_object(r), "signatures"), 0);
    g_assert_nonnull(strstr(json_object_get_string_member(s0, "error"), "not a DER PKCS#7"));
    const char *v[] = { "pe", "verify", path, "--db", k->ca_crt, NULL };
    g_autoptr(JsonNode) vr = run_json(1, v);
    g_assert_cmpstr(jstr(vr, "verdict"), ==, "denied");
    /* With a dbx, edk2 counts unreadable signers as forbidden. */
    const char *v2[] = { "pe", "verify", path, "--db", k->ca_crt, "--dbx-cert", k->other_crt, NULL };
    g_autoptr(JsonNode) vr2 = run_json(1, v2);
    if (i == 1)
      g_assert_nonnull(strstr(jstr(vr2, "reason"), "signers cannot be read"));
  }
}

static void
test_help(void)
{
  const char *subs[] = { "info", "hash", "verify", "sign" };
  for (gsize i = 0; i < G_N_ELEMENTS(subs); i++) {
    g_autofree char *out = NULL;
    g_assert_cmpint(vsb_test_run(&out, NULL, "help", "pe", subs[i], NULL), ==, 0);
    g_assert_nonnull(strstr(out, "vsboot pe"));
  }
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "pe", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "verify IMAGE"));
  g_assert_cmpint(vsb_test_run(NULL, &err, "pe", "verify", SHIM_SIGNED, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "either --vars"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pe/info/synthetic", test_info_synthetic);
  g_test_add_func("/pe/info/shim", test_info_shim);
  g_test_add_func("/pe/hash/crosscheck", test_hash_crosscheck);
  g_test_add_func("/pe/sign/sha512-osslsigncode", test_sha512_signature);
  g_test_add_func("/pe/sign/sbverify", test_sign_sbverify);
  g_test_add_func("/pe/sign/addcert", test_sign_addcert);
  g_test_add_func("/pe/sign/sbsign-verify", test_sbsign_then_vsboot_verify);
  g_test_add_func("/pe/sign/append", test_append_signature);
  g_test_add_func("/pe/verify/rules", test_verify_rules);
  g_test_add_func("/pe/verify/uefi-guid-cert", test_verify_uefi_guid_cert);
  g_test_add_func("/pe/verify/dbx-tbs", test_verify_dbx_tbs);
  g_test_add_func("/pe/verify/debian", test_verify_debian);
  g_test_add_func("/pe/malformed/headers", test_malformed);
  g_test_add_func("/pe/malformed/pkcs7", test_garbage_pkcs7);
  g_test_add_func("/pe/cli/help", test_help);
  int rc = g_test_run();
  drop_shared_keys();
  return rc;
}
