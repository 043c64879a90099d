/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "certificate-ossl.h"
#include "ossl-auto.h"
#include "util/osslerr.h"
#include "util/timetext.h"
#include "vsboot/efivar.h"
#include "efivar-ossl.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

struct _VsbCertificate {
  gint ref;
  X509 *x509;
};

struct _VsbPrivateKey {
  EVP_PKEY *pkey;
};

VsbCertificate *
vsb_certificate_new_x509(X509 *x)
{
  if (x == NULL || X509_up_ref(x) != 1)
    return NULL;
  VsbCertificate *c = g_new0(VsbCertificate, 1);
  c->ref = 1;
  c->x509 = x;
  return c;
}

X509 *
vsb_certificate_get_x509(const VsbCertificate *cert)
{
  return cert->x509;
}

/* The loaders of siglist.h already give the errors the CLI has always shown; the handle only
 * takes over their X509. */
static VsbCertificate *
take_x509(X509 *x)
{
  g_autoptr(X509) owned = x;
  return owned ? vsb_certificate_new_x509(owned) : NULL;
}

VsbCertificate *
vsb_certificate_new_from_der(const guint8 *der, gsize len, GError **error)
{
  return take_x509(vsb_cert_from_der(der, len, error));
}

VsbCertificate *
vsb_certificate_load(const char *path, GError **error)
{
  return take_x509(vsb_cert_load(path, error));
}

GPtrArray *
vsb_certificate_load_all(const char *path, GError **error)
{
  g_autoptr(GPtrArray) x509s = vsb_cert_load_all(path, error);
  if (x509s == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_full(x509s->len, (GDestroyNotify)vsb_certificate_unref);
  for (guint i = 0; i < x509s->len; i++)
    g_ptr_array_add(out, vsb_certificate_new_x509(g_ptr_array_index(x509s, i)));
  return out;
}

VsbCertificate *
vsb_certificate_ref(VsbCertificate *cert)
{
  g_atomic_int_inc(&cert->ref);
  return cert;
}

void
vsb_certificate_unref(VsbCertificate *cert)
{
  if (cert == NULL || !g_atomic_int_dec_and_test(&cert->ref))
    return;
  X509_free(cert->x509);
  g_free(cert);
}

GBytes *
vsb_certificate_get_der(const VsbCertificate *cert)
{
  return vsb_cert_to_der(cert->x509);
}

char *
vsb_x509_name_text(const X509_NAME *name)
{
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  if (bio == NULL)
    return g_strdup("");
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char *p = NULL;
  long n = BIO_get_mem_data(bio, &p);
  return g_utf8_make_valid(p ? p : "", n > 0 ? n : 0);
}

char *
vsb_x509_serial_text(const ASN1_INTEGER *serial)
{
  g_autoptr(BIGNUM) bn = ASN1_INTEGER_to_BN(serial, NULL);
  g_autoptr(VsbOsslString) hex = bn ? BN_bn2hex(bn) : NULL;
  return g_ascii_strdown(hex ? hex : "", -1);
}

char *
vsb_x509_subject(X509 *cert)
{
  return vsb_x509_name_text(X509_get_subject_name(cert));
}

char *
vsb_x509_issuer(X509 *cert)
{
  return vsb_x509_name_text(X509_get_issuer_name(cert));
}

char *
vsb_certificate_get_subject(const VsbCertificate *cert)
{
  return vsb_x509_subject(cert->x509);
}

char *
vsb_certificate_get_issuer(const VsbCertificate *cert)
{
  return vsb_x509_issuer(cert->x509);
}

char *
vsb_x509_sha256_text(X509 *cert)
{
  guint8 md[32];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != sizeof md) {
    ERR_clear_error();
    return NULL;
  }
  return vsb_hex_encode(md, len);
}

char *
vsb_certificate_get_sha256(const VsbCertificate *cert)
{
  return vsb_x509_sha256_text(cert->x509);
}

char *
vsb_certificate_get_not_before(const VsbCertificate *cert)
{
  return vsb_time_text_asn1(X509_get0_notBefore(cert->x509), NULL);
}

char *
vsb_certificate_get_not_after(const VsbCertificate *cert)
{
  return vsb_time_text_asn1(X509_get0_notAfter(cert->x509), NULL);
}

JsonNode *
vsb_certificate_describe(const VsbCertificate *cert)
{
  return vsb_cert_describe(cert->x509);
}

const char *
vsb_certificate_known_name(const VsbCertificate *cert)
{
  return vsb_known_cert_name(cert->x509);
}

gboolean
vsb_certificate_equal(const VsbCertificate *a, const VsbCertificate *b)
{
  return X509_cmp(a->x509, b->x509) == 0;
}

/* ---- private keys ---- */

static EVP_PKEY *
parse_private_key(const guint8 *data, gsize len)
{
  if (len > G_MAXINT)
    return NULL;
  g_autoptr(BIO) bio = BIO_new_mem_buf(data, (int)len);
  EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  if (key == NULL) {
    ERR_clear_error();
    const guint8 *p = data;
    key = d2i_AutoPrivateKey(NULL, &p, (long)len);
  }
  return key;
}

VsbPrivateKey *
vsb_private_key_load(const char *path, GError **error)
{
  g_autoptr(GBytes) bytes = vsb_file_read(path, 1 << 20, error);
  if (bytes == NULL)
    return NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  EVP_PKEY *pkey = parse_private_key(data, len);
  if (pkey == NULL) {
    g_autofree char *why = vsb_ossl_error_take(FALSE);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: not a PEM or DER private key (or it is encrypted): %s", path, why);
    return NULL;
  }
  VsbPrivateKey *key = g_new0(VsbPrivateKey, 1);
  key->pkey = pkey;
  return key;
}

void
vsb_private_key_free(VsbPrivateKey *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free(key->pkey);
  g_free(key);
}

EVP_PKEY *
vsb_private_key_get_evp(const VsbPrivateKey *key)
{
  return key->pkey;
}

gboolean
vsb_private_key_matches(const VsbPrivateKey *key, const VsbCertificate *cert)
{
  gboolean ok = X509_check_private_key(cert->x509, key->pkey) == 1;
  ERR_clear_error();
  return ok;
}
