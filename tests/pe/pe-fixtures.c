/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pe-fixtures.h"
#include "pegen.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

static EVP_PKEY *
new_key(void)
{
  EVP_PKEY *k = EVP_RSA_gen(2048);
  g_assert_nonnull(k);
  return k;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  g_assert_nonnull(ext);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/* A certificate for key, issued by (issuer, issuer_key) or self-signed when issuer is NULL;
 * valid from now+start_days to now+end_days. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, gboolean ca,
          const char *eku, long start_days, long end_days, long serial)
{
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), start_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x), end_days * 86400);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"vsboot tests", -1,
                             -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x, key);
  X509 *iss = issuer ? issuer : x;
  add_ext(x, iss, NID_subject_key_identifier, "hash");
  add_ext(x, iss, NID_authority_key_identifier, "keyid");
  add_ext(x, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, iss, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (eku)
    add_ext(x, iss, NID_ext_key_usage, eku);
  g_assert_cmpint(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), >, 0);
  return x;
}

static void
write_pair(const char *dir, const char *stem, X509 *x, EVP_PKEY *k, char **crt, char **key)
{
  *crt = g_strdup_printf("%s/%s.crt", dir, stem);
  *key = g_strdup_printf("%s/%s.key", dir, stem);
  FILE *f = fopen(*crt, "w");
  g_assert_nonnull(f);
  PEM_write_X509(f, x);
  fclose(f);
  f = fopen(*key, "w");
  g_assert_nonnull(f);
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
}

PeKeys *
pe_keys_new(const char *dir)
{
  PeKeys *k = g_new0(PeKeys, 1);
  k->dir = g_strdup(dir);
  EVP_PKEY *ca_key = new_key(), *leaf_key = new_key(), *other_key = new_key();
  EVP_PKEY *exp_key = new_key(), *mail_key = new_key();
  X509 *ca = make_cert("vsboot test CA", ca_key, NULL, NULL, TRUE, NULL, -1, 3650, 1);
  X509 *leaf = make_cert("vsboot test signer", leaf_key, ca, ca_key, FALSE, "codeSigning", -1,
                         365, 2);
  X509 *other = make_cert("vsboot unrelated signer", other_key, NULL, NULL, FALSE,
                          "codeSigning", -1, 365, 3);
  X509 *expired = make_cert("vsboot expired signer", exp_key, ca, ca_key, FALSE, "codeSigning",
                            -400, -30, 4);
  X509 *mail = make_cert("vsboot e-mail signer", mail_key, ca, ca_key, FALSE, "emailProtection",
                         -1, 365, 5);
  write_pair(dir, "ca", ca, ca_key, &k->ca_crt, &k->ca_key);
  write_pair(dir, "leaf", leaf, leaf_key, &k->leaf_crt, &k->leaf_key);
  write_pair(dir, "other", other, other_key, &k->other_crt, &k->other_key);
  write_pair(dir, "expired", expired, exp_key, &k->expired_crt, &k->expired_key);
  write_pair(dir, "email", mail, mail_key, &k->email_crt, &k->email_key);
  X509_free(ca);
  X509_free(leaf);
  X509_free(other);
  X509_free(expired);
  X509_free(mail);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(leaf_key);
  EVP_PKEY_free(other_key);
  EVP_PKEY_free(exp_key);
  EVP_PKEY_free(mail_key);
  return k;
}

void
pe_keys_free(PeKeys *k)
{
  if (!k)
    return;
  g_free(k->dir);
  g_free(k->ca_crt);
  g_free(k->ca_key);
  g_free(k->leaf_crt);
  g_free(k->leaf_key);
  g_free(k->other_crt);
  g_free(k->other_key);
  g_free(k->expired_crt);
  g_free(k->expired_key);
  g_free(k->email_crt);
  g_free(k->email_key);
  g_free(k);
}

char *
pe_write_synthetic(const char *dir, const char *name, gboolean pe32plus, gsize trailing)
{
  PeGenSpec spec = { .pe32plus = pe32plus, .n_sections = 3, .section_size = 5000,
                     .sbat = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
                             "vsboot,1,vsboot tests,vsboot,0.1,https://example.invalid\n",
                     .trailing = trailing };
  g_autoptr(GByteArray) b = pegen_build(&spec);
  char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_file_set_contents(path, (const char *)b->data, b->len, &error);
  g_assert_no_error(error);
  return path;
}
