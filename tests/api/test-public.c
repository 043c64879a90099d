/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public API as an outside program sees it: only <vsboot/vsboot.h>, linked with the shared
 * libvsboot (a private function would not link). Certificates and keys cross the API as
 * handles and DER; a PE signed through it verifies against db holding its certificate. */
#include <vsboot/vsboot.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *
data_path(const char *name)
{
  const char *dir = g_getenv("VSB_TEST_DATA");
  g_assert_nonnull(dir);
  return g_build_filename(dir, "certs", name, NULL);
}

static void
test_version(void)
{
  g_autofree char *want = g_strdup_printf("%d.%d.%d", VSB_VERSION_MAJOR, VSB_VERSION_MINOR,
                                          VSB_VERSION_MICRO);
  g_assert_cmpstr(vsb_version(), ==, want);
  g_assert_cmpstr(VSB_VERSION_STRING, ==, want);
  guint major, minor, micro;
  vsb_version_get(&major, &minor, &micro);
  g_assert_cmpuint(major, ==, VSB_VERSION_MAJOR);
  g_assert_cmpuint(minor, ==, VSB_VERSION_MINOR);
  g_assert_cmpuint(micro, ==, VSB_VERSION_MICRO);
  g_assert_true(VSB_CHECK_VERSION(0, 0, 1));
  g_assert_false(VSB_CHECK_VERSION(VSB_VERSION_MAJOR + 1, 0, 0));
}

/* Microsoft's UEFI CA 2011, against what `openssl x509 -noout -dates -fingerprint -sha256
 * -nameopt RFC2253` prints for the same file. */
static void
test_certificate(void)
{
  g_autofree char *path = data_path("MicrosoftCorporationUEFICA2011.pem");
  GError *error = NULL;
  g_autoptr(VsbCertificate) c = vsb_certificate_load(path, &error);
  g_assert_no_error(error);
  g_autofree char *subject = vsb_certificate_get_subject(c);
  g_autofree char *issuer = vsb_certificate_get_issuer(c);
  g_autofree char *sha = vsb_certificate_get_sha256(c);
  g_autofree char *nb = vsb_certificate_get_not_before(c);
  g_autofree char *na = vsb_certificate_get_not_after(c);
  g_assert_cmpstr(subject, ==, "CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,"
                               "L=Redmond,ST=Washington,C=US");
  g_assert_nonnull(strstr(issuer, "CN=Microsoft Corporation Third Party Marketplace Root"));
  g_assert_cmpstr(sha, ==, "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507");
  g_assert_cmpstr(nb, ==, "2011-06-27T21:22:45Z");
  g_assert_cmpstr(na, ==, "2026-06-27T21:32:45Z");

  /* DER in, the same DER out; the SHA-256 is of exactly those bytes. */
  g_autoptr(GBytes) der = vsb_certificate_get_der(c);
  g_autofree char *dsha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, der);
  g_assert_cmpstr(dsha, ==, sha);
  gsize len;
  const guint8 *d = g_bytes_get_data(der, &len);
  g_autoptr(VsbCertificate) again = vsb_certificate_new_from_der(d, len, &error);
  g_assert_no_error(error);
  g_assert_true(vsb_certificate_equal(c, again));
  VsbCertificate *ref = vsb_certificate_ref(again);
  vsb_certificate_unref(ref);

  /* The report vars show prints, and the name vsboot knows it by. */
  g_autoptr(JsonNode) desc = vsb_certificate_describe(c);
  JsonObject *o = json_node_get_object(desc);
  g_assert_cmpstr(json_object_get_string_member(o, "subject"), ==, subject);
  g_assert_cmpstr(json_object_get_string_member(o, "sha256"), ==, sha);
  g_assert_cmpstr(vsb_certificate_known_name(c), ==, "Microsoft Corporation UEFI CA 2011");

  /* A PEM bundle: every certificate, in order. */
  g_autofree char *pem1 = NULL, *pem2 = NULL;
  g_autofree char *path2 = data_path("MicrosoftUEFICA2023.pem");
  g_assert_true(g_file_get_contents(path, &pem1, NULL, NULL));
  g_assert_true(g_file_get_contents(path2, &pem2, NULL, NULL));
  g_autofree char *bundle_text = g_strconcat(pem1, pem2, NULL);
  g_autofree char *bundle = NULL;
  int fd = g_file_open_tmp("vsb-api-XXXXXX.pem", &bundle, &error);
  g_assert_no_error(error);
  close(fd);
  g_assert_true(g_file_set_contents(bundle, bundle_text, -1, NULL));
  g_autoptr(GPtrArray) all = vsb_certificate_load_all(bundle, &error);
  g_unlink(bundle);
  g_assert_no_error(error);
  g_assert_cmpuint(all->len, ==, 2);
  g_assert_true(vsb_certificate_equal(g_ptr_array_index(all, 0), c));
  g_autofree char *second = vsb_certificate_get_subject(g_ptr_array_index(all, 1));
  g_assert_nonnull(strstr(second, "CN=Microsoft UEFI CA 2023"));

  g_assert_null(vsb_certificate_new_from_der(d, len / 2, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_clear_error(&error);
}

static void
run(const char *const *argv)
{
  GError *error = NULL;
  int status = 0;
  g_autofree char *err = NULL;
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
               NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("%s failed: %s", argv[0], err);
}

static GPtrArray *
db_of(const VsbCertificate *cert)
{
  GPtrArray *db = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_sig_entry_free);
  if (cert) {
    g_autoptr(GBytes) der = vsb_certificate_get_der(cert);
    gsize len;
    const guint8 *d = g_bytes_get_data(der, &len);
    g_ptr_array_add(db, vsb_sig_entry_new(VSB_SIG_X509, &VSB_GUID_MICROSOFT_VENDOR, d, len));
  }
  return db;
}

/* Sign a synthetic PE (vsb-mkpe) with a key and certificate openssl made, read the signature
 * back and judge it, all through handles. */
static void
test_sign_verify(void)
{
  g_autofree char *dir = g_dir_make_tmp("vsb-api-XXXXXX", NULL);
  g_autofree char *key = g_build_filename(dir, "k.pem", NULL);
  g_autofree char *crt = g_build_filename(dir, "c.pem", NULL);
  g_autofree char *key2 = g_build_filename(dir, "k2.pem", NULL);
  g_autofree char *pe = g_build_filename(dir, "a.efi", NULL);
  run((const char *[]){ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=vsboot api test", "-days", "1", "-keyout", key, "-out", crt, NULL });
  run((const char *[]){ "openssl", "genpkey", "-algorithm", "RSA", "-out", key2, NULL });
  run((const char *[]){ g_getenv("VSB_MKPE"), pe, NULL });

  GError *error = NULL;
  g_autoptr(VsbCertificate) cert = vsb_certificate_load(crt, &error);
  g_assert_no_error(error);
  g_autoptr(VsbPrivateKey) pkey = vsb_private_key_load(key, &error);
  g_assert_no_error(error);
  g_autoptr(VsbPrivateKey) other = vsb_private_key_load(key2, &error);
  g_assert_no_error(error);
  g_assert_true(vsb_private_key_matches(pkey, cert));
  g_assert_false(vsb_private_key_matches(other, cert));
  g_autoptr(VsbPeImage) img = vsb_pe_load(pe, &error);
  g_assert_no_error(error);

  g_assert_null(vsb_authenticode_sign(img, cert, other, NULL, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);
  g_autoptr(GBytes) signed_bytes = vsb_authenticode_sign(img, cert, pkey, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(VsbPeImage) signed_img = vsb_pe_parse(signed_bytes, "signed", &error);
  g_assert_no_error(error);

  g_autoptr(GPtrArray) sigs = vsb_authenticode_get_signatures(signed_img);
  g_assert_cmpuint(sigs->len, ==, 1);
  VsbAuthenticodeSig *s = g_ptr_array_index(sigs, 0);
  g_assert_null(s->error);
  g_assert_true(vsb_certificate_equal(s->signer, cert));
  g_assert_cmpuint(s->chain->len, ==, 1);
  g_assert_cmpuint(s->n_certificates, ==, 1);
  g_assert_true(s->digest_known && s->digest == VSB_PE_DIGEST_SHA256);

  g_autoptr(GPtrArray) db = db_of(cert);
  g_autoptr(GPtrArray) empty = db_of(NULL);
  g_autoptr(VsbAuthenticodeVerdict) yes = vsb_authenticode_verify(signed_img, db, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(yes->allowed);
  g_assert_cmpstr(yes->database, ==, "db");
  g_assert_cmpstr(yes->entry_desc, ==, "CN=vsboot api test");
  g_autoptr(VsbAuthenticodeVerdict) no = vsb_authenticode_verify(signed_img, empty, db, &error);
  g_assert_no_error(error);
  g_assert_false(no->allowed);
  g_assert_cmpstr(no->database, ==, "dbx");

  const char *files[] = { key, crt, key2, pe };
  for (guint i = 0; i < G_N_ELEMENTS(files); i++)
    g_unlink(files[i]);
  g_rmdir(dir);
}

/* Enrollment through handles: a PK and a db certificate into an empty 4M store (as vsboot
 * makes it, byte-identical to OVMF's), a second add of the same certificate skipped. No
 * firmware package is needed: this suite runs anywhere. */
static void
test_enroll(void)
{
  g_autofree char *path = data_path("MicrosoftCorporationUEFICA2011.pem");
  g_autofree char *pk_path = data_path("RedHatSecureBootPKKEKkey1.pem");
  GError *error = NULL;
  g_autoptr(VsbCertificate) ca = vsb_certificate_load(path, &error);
  g_assert_no_error(error);
  g_autoptr(VsbCertificate) pk = vsb_certificate_load(pk_path, &error);
  g_assert_no_error(error);
  g_autoptr(VsbVarstore) store = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_4M, &error);
  g_assert_no_error(error);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  g_assert_true(vsb_enroll_set_pk_certificate(e, pk, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, &error));
  g_assert_no_error(error);
  for (int i = 0; i < 2; i++) {
    g_assert_true(vsb_enroll_add_certificate(e, VSB_SB_DB, ca, &VSB_GUID_MICROSOFT_VENDOR, &error));
    g_assert_no_error(error);
  }
  GPtrArray *changes = vsb_enroll_get_changes(e);
  g_assert_cmpuint(changes->len, ==, 3);
  const VsbEnrollChange *c0 = g_ptr_array_index(changes, 0);
  const VsbEnrollChange *c2 = g_ptr_array_index(changes, 2);
  g_assert_cmpstr(c0->variable, ==, "PK");
  g_assert_cmpstr(c2->variable, ==, "db");
  g_assert_cmpstr(c2->action, ==, "skip");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/version", test_version);
  g_test_add_func("/api/certificate", test_certificate);
  g_test_add_func("/api/sign-verify", test_sign_verify);
  g_test_add_func("/api/enroll", test_enroll);
  return g_test_run();
}
