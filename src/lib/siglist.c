/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EFI_SIGNATURE_LIST (MdePkg/Include/Guid/ImageAuthentication.h, packed):
 *   SignatureType GUID, u32 SignatureListSize, u32 SignatureHeaderSize, u32 SignatureSize,
 *   header[SignatureHeaderSize], then entries of SignatureSize = {SignatureOwner GUID, data}. */
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "util/osslerr.h"
#include "util/le.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#define ESL_HEADER_SIZE 28u
#define WIN_CERT_TYPE_EFI_GUID 0x0ef1u
#define WIN_CERT_REVISION 0x0200u

static const struct {
  VsbSigType type;
  const char *name;
  const VsbGuid *guid;
  gsize data_size;
} sig_types[] = {
  { VSB_SIG_X509, "x509", &VSB_GUID_EFI_CERT_X509, 0 },
  { VSB_SIG_SHA1, "sha1", &VSB_GUID_EFI_CERT_SHA1, 20 },
  { VSB_SIG_SHA256, "sha256", &VSB_GUID_EFI_CERT_SHA256, 32 },
  { VSB_SIG_SHA384, "sha384", &VSB_GUID_EFI_CERT_SHA384, 48 },
  { VSB_SIG_SHA512, "sha512", &VSB_GUID_EFI_CERT_SHA512, 64 },
  /* EFI_CERT_X509_SHA*: the hash of the TBSCertificate, then an EFI_TIME of revocation. */
  { VSB_SIG_X509_SHA256, "x509-sha256", &VSB_GUID_EFI_CERT_X509_SHA256, 32 + 16 },
  { VSB_SIG_X509_SHA384, "x509-sha384", &VSB_GUID_EFI_CERT_X509_SHA384, 48 + 16 },
  { VSB_SIG_X509_SHA512, "x509-sha512", &VSB_GUID_EFI_CERT_X509_SHA512, 64 + 16 },
  { VSB_SIG_RSA2048, "rsa2048", &VSB_GUID_EFI_CERT_RSA2048, 256 },
};

const char *
vsb_sig_type_name(VsbSigType type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(sig_types); i++)
    if (sig_types[i].type == type)
      return sig_types[i].name;
  return "other";
}

const VsbGuid *
vsb_sig_type_guid(VsbSigType type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(sig_types); i++)
    if (sig_types[i].type == type)
      return sig_types[i].guid;
  return NULL;
}

VsbSigType
vsb_sig_type_from_guid(const VsbGuid *guid)
{
  for (gsize i = 0; i < G_N_ELEMENTS(sig_types); i++)
    if (vsb_guid_equal(sig_types[i].guid, guid))
      return sig_types[i].type;
  return VSB_SIG_OTHER;
}

gsize
vsb_sig_type_data_size(VsbSigType type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(sig_types); i++)
    if (sig_types[i].type == type)
      return sig_types[i].data_size;
  return 0;
}

VsbSigEntry *
vsb_sig_entry_new(VsbSigType type, const VsbGuid *owner, const void *data, gsize len)
{
  VsbSigEntry *e = g_new0(VsbSigEntry, 1);
  e->type = type;
  const VsbGuid *tg = vsb_sig_type_guid(type);
  if (tg)
    e->type_guid = *tg;
  if (owner)
    e->owner = *owner;
  e->data = g_bytes_new(data, len);
  return e;
}

VsbSigEntry *
vsb_sig_entry_copy(const VsbSigEntry *entry)
{
  VsbSigEntry *e = g_new(VsbSigEntry, 1);
  *e = *entry;
  e->data = g_bytes_ref(entry->data);
  return e;
}

void
vsb_sig_entry_free(VsbSigEntry *entry)
{
  if (entry == NULL)
    return;
  if (entry->data)
    g_bytes_unref(entry->data);
  g_free(entry);
}

GPtrArray *
vsb_sig_entry_array_new(void)
{
  return g_ptr_array_new_with_free_func((GDestroyNotify)vsb_sig_entry_free);
}

GPtrArray *
vsb_siglist_parse(const guint8 *data, gsize len, GError **error)
{
  g_autoptr(GPtrArray) out = vsb_sig_entry_array_new();
  gsize off = 0;
  while (off < len) {
    gsize left = len - off;
    if (left < ESL_HEADER_SIZE) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "signature list at offset %zu: %zu bytes left, too short for a header (28)",
                  off, left);
      return NULL;
    }
    const guint8 *h = data + off;
    guint32 list_size = vsb_le32(h + 16), header_size = vsb_le32(h + 20), sig_size = vsb_le32(h + 24);
    if (list_size < ESL_HEADER_SIZE || list_size > left) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "signature list at offset %zu: SignatureListSize %u %s", off, list_size,
                  list_size < ESL_HEADER_SIZE ? "is smaller than its header"
                                              : "runs past the end of the data");
      return NULL;
    }
    gsize body = list_size - ESL_HEADER_SIZE;
    if (header_size > body) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "signature list at offset %zu: SignatureHeaderSize %u runs past the list", off,
                  header_size);
      return NULL;
    }
    body -= header_size;
    if (sig_size < 16 || body % sig_size != 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "signature list at offset %zu: SignatureSize %u %s", off, sig_size,
                  sig_size < 16 ? "is smaller than the owner GUID (16)"
                                : "does not divide the list's entries evenly");
      return NULL;
    }
    VsbGuid type_guid;
    memcpy(type_guid.b, h, 16);
    VsbSigType type = vsb_sig_type_from_guid(&type_guid);
    gsize want = vsb_sig_type_data_size(type);
    if (want && sig_size != 16 + want) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "signature list at offset %zu: SignatureSize %u is wrong for %s (expected %zu)",
                  off, sig_size, vsb_sig_type_name(type), 16 + want);
      return NULL;
    }
    const guint8 *p = h + ESL_HEADER_SIZE + header_size;
    for (gsize i = 0; i < body / sig_size; i++, p += sig_size) {
      VsbSigEntry *e = g_new0(VsbSigEntry, 1);
      e->type = type;
      e->type_guid = type_guid;
      memcpy(e->owner.b, p, 16);
      e->data = g_bytes_new(p + 16, sig_size - 16);
      g_ptr_array_add(out, e);
    }
    off += list_size;
  }
  return g_steal_pointer(&out);
}

gboolean
vsb_siglist_from_store(const VsbVarstore *store, const char *name, GPtrArray **entries,
                       GError **error)
{
  gboolean global = strcmp(name, "PK") == 0 || strcmp(name, "KEK") == 0;
  const VsbVariable *v = vsb_varstore_lookup(store, name, global ? &VSB_GUID_EFI_GLOBAL_VARIABLE
                                                          : &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE);
  *entries = NULL;
  if (v == NULL)
    return TRUE;
  gsize len;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  if (!(*entries = vsb_siglist_parse(d, len, error))) {
    g_prefix_error(error, "%s: ", name);
    return FALSE;
  }
  return TRUE;
}

static void
append_list_header(GByteArray *out, const VsbGuid *type, guint32 sig_size)
{
  guint8 h[ESL_HEADER_SIZE];
  memcpy(h, type->b, 16);
  vsb_put_le32(h + 16, ESL_HEADER_SIZE); /* patched as entries are added */
  vsb_put_le32(h + 20, 0);
  vsb_put_le32(h + 24, sig_size);
  g_byte_array_append(out, h, sizeof h);
}

GBytes *
vsb_siglist_build(GPtrArray *entries)
{
  g_autoptr(GByteArray) out = g_byte_array_new();
  /* Group first so that each shared list is contiguous: a hash entry joins the first list of
   * its type; lists keep the position of their first entry. */
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
  for (guint i = 0; entries && i < entries->len; i++) {
    const VsbSigEntry *e = entries->pdata[i];
    gsize dlen = g_bytes_get_size(e->data);
    GPtrArray *grp = NULL;
    if (e->type != VSB_SIG_X509) {
      for (guint g = 0; g < groups->len && grp == NULL; g++) {
        GPtrArray *cand = groups->pdata[g];
        const VsbSigEntry *f = cand->pdata[0];
        if (f->type != VSB_SIG_X509 && vsb_guid_equal(&f->type_guid, &e->type_guid) &&
            g_bytes_get_size(f->data) == dlen)
          grp = cand;
      }
    }
    if (grp == NULL) {
      grp = g_ptr_array_new();
      g_ptr_array_add(groups, grp);
    }
    g_ptr_array_add(grp, (gpointer)e);
  }
  for (guint g = 0; g < groups->len; g++) {
    GPtrArray *grp = groups->pdata[g];
    const VsbSigEntry *f = grp->pdata[0];
    gsize start = out->len;
    guint32 sig_size = (guint32)(16 + g_bytes_get_size(f->data));
    append_list_header(out, &f->type_guid, sig_size);
    for (guint i = 0; i < grp->len; i++) {
      const VsbSigEntry *e = grp->pdata[i];
      gsize dlen;
      const guint8 *d = g_bytes_get_data(e->data, &dlen);
      g_byte_array_append(out, e->owner.b, 16);
      if (dlen)
        g_byte_array_append(out, d, (guint)dlen);
    }
    vsb_put_le32(out->data + start + 16, (guint32)(out->len - start));
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* ---- certificates --------------------------------------------------------------------------- */

X509 *
vsb_cert_from_der(const guint8 *der, gsize len, GError **error)
{
  const unsigned char *p = der;
  if (len == 0 || len > G_MAXLONG) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "empty certificate");
    return NULL;
  }
  X509 *cert = d2i_X509(NULL, &p, (long)len);
  if (cert == NULL) {
    g_autofree char *why = vsb_ossl_error_take(TRUE);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "not a DER X.509 certificate (%s)", why);
    return NULL;
  }
  if ((gsize)(p - der) != len) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "DER X.509 certificate of %zu bytes is followed by %zu stray bytes",
                (gsize)(p - der), len - (gsize)(p - der));
    X509_free(cert);
    return NULL;
  }
  return cert;
}

GBytes *
vsb_cert_to_der(X509 *cert)
{
  unsigned char *der = NULL;
  int n = i2d_X509(cert, &der);
  if (n <= 0)
    return NULL;
  GBytes *b = g_bytes_new(der, (gsize)n);
  OPENSSL_free(der);
  return b;
}

static gboolean
looks_like_pem(const guint8 *d, gsize len)
{
  static const char marker[] = "-----BEGIN ";
  for (gsize i = 0; i + sizeof marker - 1 <= len; i++)
    if (memcmp(d + i, marker, sizeof marker - 1) == 0)
      return TRUE;
  return FALSE;
}

GPtrArray *
vsb_cert_load_all(const char *path, GError **error)
{
  g_autoptr(GBytes) bytes = vsb_file_read(path, 16 << 20, error);
  if (bytes == NULL)
    return NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data(bytes, &len);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: empty file, not a certificate", path);
    return NULL;
  }
  if (!looks_like_pem(d, len)) {
    g_autoptr(GError) local = NULL;
    X509 *c = vsb_cert_from_der(d, len, &local);
    if (c == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: not a certificate: no PEM block, and %s", path, local->message);
      return NULL;
    }
    g_ptr_array_add(out, c);
    return g_steal_pointer(&out);
  }
  BIO *bio = BIO_new_mem_buf(d, (int)MIN(len, (gsize)G_MAXINT));
  for (;;) {
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long dlen = 0;
    if (!PEM_read_bio(bio, &name, &header, &der, &dlen)) {
      ERR_clear_error();
      break;
    }
    gboolean is_cert = strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
    if (is_cert) {
      g_autoptr(GError) local = NULL;
      X509 *c = vsb_cert_from_der(der, (gsize)dlen, &local);
      if (c == NULL) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: PEM block %u: %s", path,
                    out->len + 1, local->message);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        BIO_free(bio);
        return NULL;
      }
      g_ptr_array_add(out, c);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
  }
  BIO_free(bio);
  if (out->len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: not a certificate: no valid \"-----BEGIN CERTIFICATE-----\" block", path);
    return NULL;
  }
  return g_steal_pointer(&out);
}

X509 *
vsb_cert_load(const char *path, GError **error)
{
  g_autoptr(GPtrArray) all = vsb_cert_load_all(path, error);
  if (all == NULL)
    return NULL;
  if (all->len > 1) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: holds %u certificates; give one certificate per file", path, all->len);
    return NULL;
  }
  X509 *c = all->pdata[0];
  X509_up_ref(c);
  return c;
}

/* ---- certificate fields without the key ----------------------------------------------------
 * RFC 5280 Certificate with OpenSSL's ASN.1 template machinery: the same field templates as
 * crypto/x509/x_x509.c (X509_CINF), except that subjectPublicKeyInfo is the plain
 * SEQUENCE { AlgorithmIdentifier, BIT STRING } of X509_PUBKEY_INTERNAL, without the
 * X509_PUBKEY callback that decodes the key (a decoding OpenSSL 3.0 lets fail silently, so a
 * certificate is accepted by both or by neither). Anything this cannot read is handed to
 * vsb_cert_from_der, so failures keep its exact message. */

typedef struct {
  X509_ALGOR *algorithm;
  ASN1_BIT_STRING *subject_public_key;
} VsbAsn1Spki;

ASN1_SEQUENCE(VsbAsn1Spki) = {
  ASN1_SIMPLE(VsbAsn1Spki, algorithm, X509_ALGOR),
  ASN1_SIMPLE(VsbAsn1Spki, subject_public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(VsbAsn1Spki)

typedef struct {
  ASN1_INTEGER *version;
  ASN1_INTEGER *serial_number;
  X509_ALGOR *signature;
  X509_NAME *issuer;
  X509_VAL *validity;
  X509_NAME *subject;
  VsbAsn1Spki *subject_public_key_info;
  ASN1_BIT_STRING *issuer_unique_id;
  ASN1_BIT_STRING *subject_unique_id;
  STACK_OF(X509_EXTENSION) *extensions;
  ASN1_ENCODING enc; /* kept as read, as X509_CINF does, so that i2d writes what i2d_X509 does */
} VsbAsn1Tbs;

ASN1_SEQUENCE_enc(VsbAsn1Tbs, enc, 0) = {
  ASN1_EXP_OPT(VsbAsn1Tbs, version, ASN1_INTEGER, 0),
  ASN1_SIMPLE(VsbAsn1Tbs, serial_number, ASN1_INTEGER),
  ASN1_SIMPLE(VsbAsn1Tbs, signature, X509_ALGOR),
  ASN1_SIMPLE(VsbAsn1Tbs, issuer, X509_NAME),
  ASN1_SIMPLE(VsbAsn1Tbs, validity, X509_VAL),
  ASN1_SIMPLE(VsbAsn1Tbs, subject, X509_NAME),
  ASN1_SIMPLE(VsbAsn1Tbs, subject_public_key_info, VsbAsn1Spki),
  ASN1_IMP_OPT(VsbAsn1Tbs, issuer_unique_id, ASN1_BIT_STRING, 1),
  ASN1_IMP_OPT(VsbAsn1Tbs, subject_unique_id, ASN1_BIT_STRING, 2),
  ASN1_EXP_SEQUENCE_OF_OPT(VsbAsn1Tbs, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END_ref(VsbAsn1Tbs, VsbAsn1Tbs)

typedef struct {
  VsbAsn1Tbs *tbs_certificate;
  X509_ALGOR *signature_algorithm;
  ASN1_BIT_STRING *signature_value;
} VsbAsn1Cert;

ASN1_SEQUENCE(VsbAsn1Cert) = {
  ASN1_SIMPLE(VsbAsn1Cert, tbs_certificate, VsbAsn1Tbs),
  ASN1_SIMPLE(VsbAsn1Cert, signature_algorithm, X509_ALGOR),
  ASN1_SIMPLE(VsbAsn1Cert, signature_value, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(VsbAsn1Cert)

struct VsbCertInfo {
  VsbAsn1Cert *cert; /* read here */
  X509 *x509;        /* or, should OpenSSL ever accept what the templates above refuse, its */
};

VsbCertInfo *
vsb_cert_info_from_der(const guint8 *der, gsize len, GError **error)
{
  if (len > 0 && len <= G_MAXLONG) {
    const unsigned char *p = der;
    VsbAsn1Cert *c = (VsbAsn1Cert *)ASN1_item_d2i(NULL, &p, (long)len,
                                                  ASN1_ITEM_rptr(VsbAsn1Cert));
    if (c && (gsize)(p - der) == len) {
      VsbCertInfo *info = g_new0(VsbCertInfo, 1);
      info->cert = c;
      return info;
    }
    ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(VsbAsn1Cert));
    /* Not ERR_set_mark around the fast path: its first use sets up the error machinery, a
     * tenth of a `vars show`. vsb_cert_from_der below reports its own last error. */
    ERR_clear_error();
  }
  X509 *x = vsb_cert_from_der(der, len, error);
  if (x == NULL)
    return NULL;
  VsbCertInfo *info = g_new0(VsbCertInfo, 1);
  info->x509 = x;
  return info;
}

void
vsb_cert_info_free(VsbCertInfo *info)
{
  if (info == NULL)
    return;
  ASN1_item_free((ASN1_VALUE *)info->cert, ASN1_ITEM_rptr(VsbAsn1Cert));
  X509_free(info->x509);
  g_free(info);
}

GBytes *
vsb_cert_info_to_der(const VsbCertInfo *info)
{
  if (info->x509)
    return vsb_cert_to_der(info->x509);
  unsigned char *der = NULL;
  int n = ASN1_item_i2d((const ASN1_VALUE *)info->cert, &der, ASN1_ITEM_rptr(VsbAsn1Cert));
  if (n <= 0)
    return NULL;
  GBytes *b = g_bytes_new(der, (gsize)n);
  OPENSSL_free(der);
  return b;
}

const X509_NAME *
vsb_cert_info_subject(const VsbCertInfo *info)
{
  return info->cert ? info->cert->tbs_certificate->subject : X509_get_subject_name(info->x509);
}

const X509_NAME *
vsb_cert_info_issuer(const VsbCertInfo *info)
{
  return info->cert ? info->cert->tbs_certificate->issuer : X509_get_issuer_name(info->x509);
}

const ASN1_INTEGER *
vsb_cert_info_serial(const VsbCertInfo *info)
{
  return info->cert ? info->cert->tbs_certificate->serial_number
                    : X509_get0_serialNumber(info->x509);
}

const ASN1_TIME *
vsb_cert_info_not_before(const VsbCertInfo *info)
{
  return info->cert ? info->cert->tbs_certificate->validity->notBefore
                    : X509_get0_notBefore(info->x509);
}

const ASN1_TIME *
vsb_cert_info_not_after(const VsbCertInfo *info)
{
  return info->cert ? info->cert->tbs_certificate->validity->notAfter
                    : X509_get0_notAfter(info->x509);
}

/* ---- EFI_VARIABLE_AUTHENTICATION_2 ------------------------------------------------------------ */

VsbAuth2 *
vsb_auth2_parse(const guint8 *data, gsize len, GError **error)
{
  /* EFI_TIME (16), WIN_CERTIFICATE {u32 dwLength, u16 wRevision, u16 wCertificateType},
   * CertType GUID, CertData (PKCS#7); dwLength covers the WIN_CERTIFICATE_UEFI_GUID. */
  if (len < 16 + 24) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "authenticated variable: %zu bytes, too short for EFI_TIME and "
                "WIN_CERTIFICATE_UEFI_GUID (40)", len);
    return NULL;
  }
  guint32 dw_length = vsb_le32(data + 16);
  guint16 revision = (guint16)(data[20] | data[21] << 8);
  guint16 cert_type = (guint16)(data[22] | data[23] << 8);
  if (dw_length < 24 || dw_length > len - 16) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "authenticated variable: WIN_CERTIFICATE dwLength %u at offset 16 %s", dw_length,
                dw_length < 24 ? "is smaller than its header (24)" : "runs past the end of the data");
    return NULL;
  }
  if (revision != WIN_CERT_REVISION || cert_type != WIN_CERT_TYPE_EFI_GUID) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "authenticated variable: WIN_CERTIFICATE revision 0x%04x type 0x%04x at offset "
                "20, expected 0x0200 / 0x0EF1 (WIN_CERT_TYPE_EFI_GUID)", revision, cert_type);
    return NULL;
  }
  VsbGuid ct;
  memcpy(ct.b, data + 24, 16);
  if (!vsb_guid_equal(&ct, &VSB_GUID_EFI_CERT_TYPE_PKCS7)) {
    char buf[VSB_GUID_STRING_LEN + 1];
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "authenticated variable: CertType %s at offset 24 is not EFI_CERT_TYPE_PKCS7_GUID",
                vsb_guid_format(&ct, buf));
    return NULL;
  }
  VsbAuth2 *a = g_new0(VsbAuth2, 1);
  memcpy(a->timestamp, data, 16);
  a->pkcs7 = g_bytes_new(data + 40, dw_length - 24);
  a->payload = g_bytes_new(data + 16 + dw_length, len - 16 - dw_length);
  return a;
}

void
vsb_auth2_free(VsbAuth2 *auth)
{
  if (auth == NULL)
    return;
  if (auth->pkcs7)
    g_bytes_unref(auth->pkcs7);
  if (auth->payload)
    g_bytes_unref(auth->payload);
  g_free(auth);
}
