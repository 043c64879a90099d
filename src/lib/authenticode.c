/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/authenticode.h"
#include "certificate-ossl.h"
#include "ossl-auto.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/guid.h"
#include "vsboot/siglist.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#define SPC_INDIRECT_DATA_OID "1.3.6.1.4.1.311.2.1.4"
#define SPC_PE_IMAGE_DATA_OID "1.3.6.1.4.1.311.2.1.15"

/* SpcIndirectDataContent (Authenticode PE spec): { data SpcAttributeTypeAndOptionalValue,
 * messageDigest DigestInfo }. */
typedef struct {
  ASN1_OBJECT *type;
  ASN1_TYPE *value;
} VSB_SPC_ATTR;

ASN1_SEQUENCE(VSB_SPC_ATTR) = {
  ASN1_SIMPLE(VSB_SPC_ATTR, type, ASN1_OBJECT),
  ASN1_OPT(VSB_SPC_ATTR, value, ASN1_ANY),
} static_ASN1_SEQUENCE_END(VSB_SPC_ATTR)

typedef struct {
  X509_ALGOR *alg;
  ASN1_OCTET_STRING *digest;
} VSB_DIGEST_INFO;

ASN1_SEQUENCE(VSB_DIGEST_INFO) = {
  ASN1_SIMPLE(VSB_DIGEST_INFO, alg, X509_ALGOR),
  ASN1_SIMPLE(VSB_DIGEST_INFO, digest, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(VSB_DIGEST_INFO)

typedef struct {
  VSB_SPC_ATTR *data;
  VSB_DIGEST_INFO *digest;
} VSB_SPC_INDIRECT;

ASN1_SEQUENCE(VSB_SPC_INDIRECT) = {
  ASN1_SIMPLE(VSB_SPC_INDIRECT, data, VSB_SPC_ATTR),
  ASN1_SIMPLE(VSB_SPC_INDIRECT, digest, VSB_DIGEST_INFO),
} static_ASN1_SEQUENCE_END(VSB_SPC_INDIRECT)

/* SpcPeImageData { flags SpcPeImageFlags (empty BIT STRING), file [0] SpcLink { file [2]
 * SpcString { unicode [0] "<<<Obsolete>>>" } } }, byte for byte what sbsign writes. */
static const guint8 spc_pe_image_data[] = {
  0x30, 0x25, 0x03, 0x01, 0x00, 0xa0, 0x20, 0xa2, 0x1e, 0x80, 0x1c, 0x00, 0x3c, 0x00,
  0x3c, 0x00, 0x3c, 0x00, 0x4f, 0x00, 0x62, 0x00, 0x73, 0x00, 0x6f, 0x00, 0x6c, 0x00,
  0x65, 0x00, 0x74, 0x00, 0x65, 0x00, 0x3e, 0x00, 0x3e, 0x00, 0x3e,
};

/* The digest OIDs edk2 looks for at byte 32 of the PKCS#7 blob (DxeImageVerificationLib
 * mHashOidValue; SHA-224 is listed there but cannot be computed, so it is skipped). */
static const struct {
  VsbPeDigest digest;
  gboolean usable;
  guint8 len;
  guint8 oid[9];
} edk2_oids[] = {
  { VSB_PE_DIGEST_SHA1, TRUE, 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1a } },
  { VSB_PE_DIGEST_SHA1, FALSE, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04 } },
  { VSB_PE_DIGEST_SHA256, TRUE, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 } },
  { VSB_PE_DIGEST_SHA384, TRUE, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 } },
  { VSB_PE_DIGEST_SHA512, TRUE, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 } },
};

static char *
openssl_reason(void)
{
  unsigned long e = ERR_peek_last_error();
  char buf[256];
  if (e == 0) {
    ERR_clear_error();
    return g_strdup("unknown OpenSSL error");
  }
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return g_strdup(buf);
}

static char *
obj_to_text(const ASN1_OBJECT *obj)
{
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return g_strdup(buf);
}

void
vsb_authenticode_sig_free(VsbAuthenticodeSig *sig)
{
  if (sig == NULL)
    return;
  if (sig->pkcs7)
    g_bytes_unref(sig->pkcs7);
  g_free(sig->error);
  g_free(sig->digest_oid);
  g_free(sig->content_type);
  if (sig->embedded_digest)
    g_bytes_unref(sig->embedded_digest);
  if (sig->chain)
    g_ptr_array_unref(sig->chain);
  vsb_certificate_unref(sig->signer);
  g_free(sig);
}

/* The PKCS#7 blob inside a certificate table entry, the way edk2 finds it. */
static const guint8 *
entry_pkcs7(const VsbPeCertificate *c, gsize *len)
{
  if (c->type == VSB_WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
    *len = c->data_len;
    return c->data;
  }
  if (c->type == VSB_WIN_CERT_TYPE_EFI_GUID && c->data_len > 16 &&
      memcmp(c->data, VSB_GUID_EFI_CERT_TYPE_PKCS7.b, 16) == 0) {
    *len = c->data_len - 16;
    return c->data + 16;
  }
  return NULL;
}

/* The digest algorithm and the signed image hash of a SpcIndirectDataContent; FALSE with
 * sig->error set when it does not decode. */
static gboolean
decode_indirect(VsbAuthenticodeSig *sig, const ASN1_TYPE *other)
{
  if (other == NULL || other->type != V_ASN1_SEQUENCE || other->value.sequence == NULL) {
    sig->error = g_strdup("SpcIndirectDataContent is not a SEQUENCE");
    return FALSE;
  }
  const guint8 *ip = ASN1_STRING_get0_data(other->value.sequence);
  long ilen = ASN1_STRING_length(other->value.sequence);
  VSB_SPC_INDIRECT *idc =
    (VSB_SPC_INDIRECT *)ASN1_item_d2i(NULL, &ip, ilen, ASN1_ITEM_rptr(VSB_SPC_INDIRECT));
  if (idc == NULL) {
    g_autofree char *why = openssl_reason();
    sig->error = g_strdup_printf("SpcIndirectDataContent does not decode (%s)", why);
    return FALSE;
  }
  sig->digest_oid = obj_to_text(idc->digest->alg->algorithm);
  int nid = OBJ_obj2nid(idc->digest->alg->algorithm);
  sig->digest_known = TRUE;
  switch (nid) {
  case NID_sha1: sig->digest = VSB_PE_DIGEST_SHA1; break;
  case NID_sha256: sig->digest = VSB_PE_DIGEST_SHA256; break;
  case NID_sha384: sig->digest = VSB_PE_DIGEST_SHA384; break;
  case NID_sha512: sig->digest = VSB_PE_DIGEST_SHA512; break;
  default: sig->digest_known = FALSE; break;
  }
  sig->embedded_digest = g_bytes_new(ASN1_STRING_get0_data(idc->digest->digest),
                                     (gsize)ASN1_STRING_length(idc->digest->digest));
  ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(VSB_SPC_INDIRECT));
  return TRUE;
}

/* The signer, then the issuer of each certificate as long as the PKCS#7 holds it (at most 16,
 * never one twice), as handles that outlive the PKCS#7. */
static void
build_chain(VsbAuthenticodeSig *sig, X509 *signer, STACK_OF(X509) *certs)
{
  X509 *chain[16];
  guint n = 0;
  chain[n++] = signer;
  X509 *cur = signer;
  while (n < G_N_ELEMENTS(chain) && X509_check_issued(cur, cur) != X509_V_OK) {
    X509 *next = NULL;
    for (int i = 0; i < sk_X509_num(certs) && next == NULL; i++) {
      X509 *c = sk_X509_value(certs, i);
      if (c != cur && X509_check_issued(c, cur) == X509_V_OK)
        next = c;
    }
    gboolean seen = FALSE;
    for (guint k = 0; next != NULL && k < n; k++)
      seen |= chain[k] == next;
    if (next == NULL || seen)
      break;
    chain[n++] = cur = next;
  }
  sig->signer = vsb_certificate_new_x509(signer);
  sig->chain = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_certificate_unref);
  for (guint k = 0; k < n; k++)
    g_ptr_array_add(sig->chain, vsb_certificate_new_x509(chain[k]));
  ERR_clear_error();
}

static PKCS7 *
parse_pkcs7(const guint8 *der, gsize len)
{
  const guint8 *p = der;
  return len <= G_MAXINT ? d2i_PKCS7(NULL, &p, (long)len) : NULL;
}

static void
decode_sig(VsbAuthenticodeSig *sig, const guint8 *der, gsize len)
{
  g_autoptr(PKCS7) p7 = parse_pkcs7(der, len);
  if (p7 == NULL) {
    g_autofree char *why = openssl_reason();
    sig->error = len > G_MAXINT ? g_strdup("PKCS#7 blob too large")
                                : g_strdup_printf("not a DER PKCS#7 structure (%s)", why);
    return;
  }
  if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL || p7->d.sign->contents == NULL) {
    sig->error = g_strdup("PKCS#7 is not SignedData with content");
    return;
  }
  PKCS7 *contents = p7->d.sign->contents;
  sig->content_type = contents->type ? obj_to_text(contents->type) : g_strdup("");
  if (g_strcmp0(sig->content_type, SPC_INDIRECT_DATA_OID) != 0) {
    sig->error = g_strdup_printf("content type is %s, not SpcIndirectDataContent (%s)",
                                 sig->content_type, SPC_INDIRECT_DATA_OID);
    return;
  }
  if (!decode_indirect(sig, contents->d.other))
    return;
  g_autoptr(VsbX509Stack) signers = PKCS7_get0_signers(p7, NULL, PKCS7_BINARY);
  if (signers == NULL || sk_X509_num(signers) == 0) {
    ERR_clear_error();
    sig->error = g_strdup("the signer's certificate is not in the PKCS#7 structure");
    return;
  }
  sig->n_certificates = (guint)MAX(sk_X509_num(p7->d.sign->cert), 0);
  build_chain(sig, sk_X509_value(signers, 0), p7->d.sign->cert);
}

GPtrArray *
vsb_authenticode_get_signatures(const VsbPeImage *image)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_authenticode_sig_free);
  guint n;
  const VsbPeCertificate *certs = vsb_pe_get_certificates(image, &n);
  for (guint i = 0; i < n; i++) {
    VsbAuthenticodeSig *sig = g_new0(VsbAuthenticodeSig, 1);
    sig->index = i;
    sig->offset = certs[i].offset;
    sig->revision = certs[i].revision;
    sig->cert_type = certs[i].type;
    gsize len = 0;
    const guint8 *der = entry_pkcs7(&certs[i], &len);
    if (der == NULL) {
      sig->error = g_strdup_printf("certificate type 0x%04x holds no PKCS#7 signature",
                                   certs[i].type);
    } else {
      sig->pkcs7 = g_bytes_new(der, len);
      decode_sig(sig, der, len);
    }
    g_ptr_array_add(out, sig);
  }
  return out;
}

/* ---- verification, following DxeImageVerificationLib ---- */

static VsbSigType
hash_sig_type(VsbPeDigest d)
{
  switch (d) {
  case VSB_PE_DIGEST_SHA1: return VSB_SIG_SHA1;
  case VSB_PE_DIGEST_SHA256: return VSB_SIG_SHA256;
  case VSB_PE_DIGEST_SHA384: return VSB_SIG_SHA384;
  case VSB_PE_DIGEST_SHA512: return VSB_SIG_SHA512;
  default: return VSB_SIG_OTHER;
  }
}

/* IsSignatureFoundInDatabase: the index of a hash entry of that type equal to hash, or -1. */
static int
find_hash(const GPtrArray *dbase, VsbPeDigest d, const guint8 *hash)
{
  if (dbase == NULL)
    return -1;
  gsize n = vsb_pe_digest_size(d);
  for (guint i = 0; i < dbase->len; i++) {
    const VsbSigEntry *e = g_ptr_array_index(dbase, i);
    gsize len;
    const guint8 *data = g_bytes_get_data(e->data, &len);
    if (e->type == hash_sig_type(d) && len == n && memcmp(data, hash, n) == 0)
      return (int)i;
  }
  return -1;
}

/* IsCertHashFoundInDbx: the index of an X509_SHA256/384/512 entry equal to the hash of the
 * certificate's TBSCertificate, or -1. */
static int
find_tbs_hash(const GPtrArray *dbx, X509 *cert)
{
  if (dbx == NULL)
    return -1;
  /* The TBSCertificate bytes as encoded in the certificate (edk2 X509GetTBSCert). */
  unsigned char *der = NULL;
  int der_len = i2d_X509(cert, &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return -1;
  }
  const unsigned char *q = der, *tbs;
  long olen, tlen;
  int tag, cls;
  if ((ASN1_get_object(&q, &olen, &tag, &cls, der_len) & 0x80) || tag != V_ASN1_SEQUENCE) {
    ERR_clear_error();
    OPENSSL_free(der);
    return -1;
  }
  tbs = q;
  if ((ASN1_get_object(&q, &tlen, &tag, &cls, der_len - (q - der)) & 0x80) ||
      tag != V_ASN1_SEQUENCE) {
    ERR_clear_error();
    OPENSSL_free(der);
    return -1;
  }
  gsize tbs_len = (gsize)(q - tbs) + (gsize)tlen;
  int found = -1;
  for (guint i = 0; i < dbx->len && found < 0; i++) {
    const VsbSigEntry *e = g_ptr_array_index(dbx, i);
    const EVP_MD *md = e->type == VSB_SIG_X509_SHA256   ? EVP_sha256()
                       : e->type == VSB_SIG_X509_SHA384 ? EVP_sha384()
                       : e->type == VSB_SIG_X509_SHA512 ? EVP_sha512()
                                                         : NULL;
    if (md == NULL)
      continue;
    guint8 dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    gsize len;
    const guint8 *data = g_bytes_get_data(e->data, &len);
    /* The entry is the hash followed by a revocation time (EFI_CERT_X509_SHA256). */
    if (EVP_Digest(tbs, tbs_len, dig, &dlen, md, NULL) == 1 && len >= dlen &&
        memcmp(data, dig, dlen) == 0)
      found = (int)i;
  }
  OPENSSL_free(der);
  return found;
}

/* The SpcIndirectDataContent of a SignedData: the SEQUENCE's content without its tag and
 * length, which is what the signer digested. NULL when p7 is not Authenticode. */
static const guint8 *
indirect_content(PKCS7 *p7, gsize *len)
{
  if (!PKCS7_type_is_signed(p7) || PKCS7_get_detached(p7))
    return NULL;
  PKCS7 *contents = p7->d.sign->contents;
  if (contents == NULL || contents->type == NULL)
    return NULL;
  g_autofree char *ctype = obj_to_text(contents->type);
  ASN1_TYPE *other = contents->d.other;
  if (strcmp(ctype, SPC_INDIRECT_DATA_OID) != 0 || other == NULL ||
      other->type != V_ASN1_SEQUENCE || other->value.sequence == NULL)
    return NULL;
  const guint8 *c = ASN1_STRING_get0_data(other->value.sequence);
  gsize clen = (gsize)ASN1_STRING_length(other->value.sequence), content_size, hdr;
  if (clen < 2)
    return NULL;
  if ((c[1] & 0x80) == 0) {
    content_size = c[1] & 0x7f;
    hdr = 2;
  } else if ((c[1] & 0x81) == 0x81 && clen >= 3) {
    content_size = c[2];
    hdr = 3;
  } else if ((c[1] & 0x82) == 0x82 && clen >= 4) {
    content_size = ((gsize)c[2] << 8) | c[3];
    hdr = 4;
  } else {
    return NULL;
  }
  if (hdr + content_size > clen)
    return NULL;
  *len = content_size;
  return c + hdr;
}

/* AuthenticodeVerify + Pkcs7Verify: does the signature verify with `anchor` as the one
 * trusted certificate, for an image whose hash is `hash`? */
static gboolean
authenticode_verify(const guint8 *auth, gsize auth_len, X509 *anchor, const guint8 *hash,
                    gsize hash_len)
{
  g_autoptr(PKCS7) p7 = parse_pkcs7(auth, auth_len);
  gsize content_size = 0;
  const guint8 *content = p7 ? indirect_content(p7, &content_size) : NULL;
  /* edk2 compares the last HashSize bytes of the content with the image hash. */
  if (content == NULL || content_size < hash_len ||
      memcmp(content + content_size - hash_len, hash, hash_len) != 0) {
    ERR_clear_error();
    return FALSE;
  }
  g_autoptr(X509_STORE) store = X509_STORE_new();
  g_autoptr(BIO) bio = BIO_new_mem_buf(content, (int)content_size);
  gboolean ok = store && bio && X509_STORE_add_cert(store, anchor);
  if (ok) {
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
    ok = PKCS7_verify(p7, NULL, store, bio, NULL, PKCS7_BINARY) == 1;
  }
  ERR_clear_error();
  return ok;
}

/* HashPeImageByType: the digest edk2 will use for this blob, from the OID at byte 32. */
static gboolean
edk2_digest(const guint8 *auth, gsize len, VsbPeDigest *out, const char **why)
{
  if (len > 1 && (auth[1] & 0x82) != 0x82) {
    *why = "its DER length is not in the two-byte long form edk2 requires";
    return FALSE;
  }
  for (guint i = 0; i < G_N_ELEMENTS(edk2_oids); i++) {
    if (len < 32u + edk2_oids[i].len || memcmp(auth + 32, edk2_oids[i].oid, edk2_oids[i].len) != 0)
      continue;
    if (!edk2_oids[i].usable) {
      *why = "its digest (SHA-224) is not one edk2 computes";
      return FALSE;
    }
    *out = edk2_oids[i].digest;
    return TRUE;
  }
  *why = "edk2 finds no digest algorithm it knows at byte 32 of the PKCS#7 blob";
  return FALSE;
}

/* An X.509 entry of db or dbx as an X509, or NULL when it is none or does not decode (edk2
 * skips such an entry). */
static X509 *
entry_x509(const VsbSigEntry *e)
{
  if (e->type != VSB_SIG_X509)
    return NULL;
  gsize len;
  const guint8 *der = g_bytes_get_data(e->data, &len);
  X509 *x = len <= G_MAXLONG ? d2i_X509(NULL, &der, (long)len) : NULL;
  ERR_clear_error();
  return x;
}

static char *
entry_description(const VsbSigEntry *e)
{
  gsize len;
  const guint8 *data = g_bytes_get_data(e->data, &len);
  if (e->type == VSB_SIG_X509) {
    g_autoptr(X509) x = entry_x509(e);
    return x ? vsb_x509_subject(x) : g_strdup("X.509 certificate (undecodable)");
  }
  g_autofree char *hex = vsb_hex_encode(data, len);
  return g_strdup_printf("%s:%s", vsb_sig_type_name(e->type), hex);
}

static void
sig_result_free(VsbAuthenticodeSigResult *r)
{
  g_free(r->status);
  g_free(r->detail);
  g_free(r->image_hash);
  g_free(r->signer);
  g_free(r->signer_issuer);
  g_free(r);
}

void
vsb_authenticode_verdict_free(VsbAuthenticodeVerdict *v)
{
  if (v == NULL)
    return;
  g_free(v->reason);
  g_free(v->entry_desc);
  g_free(v->sha256);
  if (v->signatures)
    g_ptr_array_unref(v->signatures);
  g_free(v);
}

/* One verification: the databases, each digest of the image computed at most once, the verdict
 * being built, and whether a signature or hash has already allowed the image. */
typedef struct {
  const VsbPeImage *image;
  const GPtrArray *db, *dbx;
  gboolean have[VSB_PE_N_DIGESTS];
  guint8 hash[VSB_PE_N_DIGESTS][VSB_PE_MAX_DIGEST_SIZE];
  VsbAuthenticodeVerdict *v;
  gboolean verified;
} Verify;

/* One signature under judgement: its PKCS#7 blob, edk2's digest for it and the image hash in
 * that digest, and the result the report shows. */
typedef struct {
  guint index;
  const guint8 *auth;
  gsize auth_len;
  VsbPeDigest d;
  const guint8 *h;
  gsize hlen;
  VsbAuthenticodeSigResult *r;
} SigCheck;

typedef enum { SIG_NEXT, SIG_DECIDED, SIG_ERROR } SigOutcome;

static const guint8 *
cached_hash(Verify *vf, VsbPeDigest d, GError **error)
{
  if (!vf->have[d]) {
    if (!vsb_pe_hash(vf->image, d, vf->hash[d], error))
      return NULL;
    vf->have[d] = TRUE;
  }
  return vf->hash[d];
}

static void
decide(VsbAuthenticodeVerdict *v, gboolean allowed, int sig, const char *database,
       const GPtrArray *dbase, int entry, char *reason)
{
  v->allowed = allowed;
  v->signature = sig;
  v->database = database;
  v->entry = entry;
  g_free(v->entry_desc);
  v->entry_desc = (dbase && entry >= 0) ? entry_description(g_ptr_array_index(dbase, entry)) : NULL;
  g_free(v->reason);
  v->reason = reason;
}

static void
set_status(VsbAuthenticodeSigResult *r, const char *status, char *detail)
{
  g_free(r->status);
  g_free(r->detail);
  r->status = g_strdup(status);
  r->detail = detail;
}

/* An unsigned image: every digest edk2 can compute, strongest first; dbx wins, db must match. */
static gboolean
verify_unsigned(Verify *vf, GError **error)
{
  int allowed_entry = -1;
  VsbPeDigest allowed_digest = VSB_PE_DIGEST_SHA256;
  for (int d = VSB_PE_DIGEST_SHA512; d >= (int)VSB_PE_DIGEST_SHA1; d--) {
    const guint8 *h = cached_hash(vf, (VsbPeDigest)d, error);
    if (h == NULL)
      return FALSE;
    int k = find_hash(vf->dbx, (VsbPeDigest)d, h);
    if (k >= 0) {
      decide(vf->v, FALSE, -1, "dbx", vf->dbx, k,
             g_strdup_printf("the image is unsigned and its %s hash is in dbx (entry %d)",
                             vsb_pe_digest_name((VsbPeDigest)d), k));
      return TRUE;
    }
    k = find_hash(vf->db, (VsbPeDigest)d, h);
    if (k >= 0 && allowed_entry < 0) {
      allowed_entry = k;
      allowed_digest = (VsbPeDigest)d;
    }
  }
  if (allowed_entry >= 0)
    decide(vf->v, TRUE, -1, "db", vf->db, allowed_entry,
           g_strdup_printf("the image is unsigned and its %s hash is in db (entry %d)",
                           vsb_pe_digest_name(allowed_digest), allowed_entry));
  else
    decide(vf->v, FALSE, -1, NULL, NULL, -1,
           g_strdup("the image is unsigned and its hash is not in db"));
  return TRUE;
}

/* IsForbiddenByDbx: TRUE when dbx denies the image through this signature (the verdict is
 * then decided): it verifies against a dbx certificate, its signers cannot be read, or a
 * signer's TBS hash is in dbx. */
static gboolean
forbidden_by_dbx(Verify *vf, SigCheck *sc)
{
  const GPtrArray *dbx = vf->dbx;
  for (guint k = 0; k < dbx->len; k++) {
    g_autoptr(X509) x = entry_x509(g_ptr_array_index(dbx, k));
    if (x == NULL || !authenticode_verify(sc->auth, sc->auth_len, x, sc->h, sc->hlen))
      continue;
    set_status(sc->r, "forbidden", g_strdup_printf("verifies against certificate %u in dbx", k));
    decide(vf->v, FALSE, (int)sc->index, "dbx", dbx, (int)k,
           g_strdup_printf("signature %u chains to a certificate in dbx (entry %u)", sc->index, k));
    return TRUE;
  }
  g_autoptr(PKCS7) p7 = parse_pkcs7(sc->auth, sc->auth_len);
  g_autoptr(VsbX509Stack) signers =
    p7 && PKCS7_type_is_signed(p7) ? PKCS7_get0_signers(p7, NULL, PKCS7_BINARY) : NULL;
  ERR_clear_error();
  if (signers == NULL || sk_X509_num(signers) == 0) {
    set_status(sc->r, "forbidden",
               g_strdup("its signer certificates cannot be read (edk2 treats this as "
                        "forbidden when dbx exists)"));
    decide(vf->v, FALSE, (int)sc->index, NULL, NULL, -1,
           g_strdup_printf("signature %u is malformed: its signers cannot be read, which "
                           "edk2 treats as forbidden by dbx", sc->index));
    return TRUE;
  }
  int hit = -1;
  for (int s = 0; s < sk_X509_num(signers) && hit < 0; s++)
    hit = find_tbs_hash(dbx, sk_X509_value(signers, s));
  if (hit < 0)
    return FALSE;
  set_status(sc->r, "forbidden",
             g_strdup_printf("its signer certificate's hash is in dbx (entry %d)", hit));
  decide(vf->v, FALSE, (int)sc->index, "dbx", dbx, hit,
         g_strdup_printf("the certificate that made signature %u is revoked: its TBS hash is "
                         "in dbx (entry %d)", sc->index, hit));
  return TRUE;
}

/* IsAllowedByDb: the first db certificate the signature verifies against decides; it allows
 * unless its own TBS hash is in dbx. The db entry, -2 for a revoked one, -1 for none. */
static int
allowed_by_db(Verify *vf, SigCheck *sc)
{
  for (guint k = 0; k < vf->db->len; k++) {
    g_autoptr(X509) x = entry_x509(g_ptr_array_index(vf->db, k));
    if (x == NULL || !authenticode_verify(sc->auth, sc->auth_len, x, sc->h, sc->hlen))
      continue;
    int revoked = find_tbs_hash(vf->dbx, x);
    if (revoked < 0) {
      vf->verified = TRUE;
      decide(vf->v, TRUE, (int)sc->index, "db", vf->db, (int)k,
             g_strdup_printf("signature %u verifies against a certificate in db (entry %u)",
                             sc->index, k));
      return (int)k;
    }
    set_status(sc->r, "not-allowed",
               g_strdup_printf("verifies against db certificate %u, but that certificate's "
                               "hash is in dbx (entry %d)", k, revoked));
    return -2;
  }
  return -1;
}

/* The report's words for a signature nothing denied or allowed by hash. */
static void
describe_undecided(const Verify *vf, SigCheck *sc, int db_cert)
{
  VsbAuthenticodeSigResult *r = sc->r;
  if (db_cert >= 0) {
    set_status(r, "allowed", g_strdup_printf("verifies against certificate %d in db", db_cert));
  } else if (vf->verified) {
    set_status(r, "not-checked",
               g_strdup("not revoked by dbx; db was not consulted (an earlier signature "
                        "already allowed the image)"));
  } else if (!r->digest_matches) {
    set_status(r, "not-allowed", g_strdup_printf("the signed %s digest does not match the image",
                                                 vsb_pe_digest_name(sc->d)));
  } else if (r->signer) {
    set_status(r, "not-allowed",
               g_strdup_printf("signed by %s, issued by %s: it does not verify against any "
                               "certificate in db", r->signer, r->signer_issuer));
  } else {
    set_status(r, "not-allowed", g_strdup("it does not verify against any certificate in db"));
  }
}

/* What the report says about the signature before it is judged: whether its signed digest is
 * the image's, and who signed it. */
static void
describe_signature(SigCheck *sc)
{
  g_autoptr(VsbAuthenticodeSig) sig = g_new0(VsbAuthenticodeSig, 1);
  decode_sig(sig, sc->auth, sc->auth_len);
  gsize elen = 0;
  const guint8 *e = sig->embedded_digest ? g_bytes_get_data(sig->embedded_digest, &elen) : NULL;
  sc->r->digest_matches = e != NULL && elen == sc->hlen && memcmp(e, sc->h, sc->hlen) == 0;
  if (sig->signer) {
    sc->r->signer = vsb_certificate_get_subject(sig->signer);
    sc->r->signer_issuer = vsb_certificate_get_issuer(sig->signer);
  }
}

/* One entry of the certificate table, in edk2's order: dbx by certificate, db by certificate,
 * then the image hash in this signature's digest (dbx denies, db allows). */
static SigOutcome
check_signature(Verify *vf, const VsbPeCertificate *cert, SigCheck *sc, GError **error)
{
  VsbAuthenticodeSigResult *r = sc->r;
  sc->auth = entry_pkcs7(cert, &sc->auth_len);
  const char *why = NULL;
  if (sc->auth == NULL) {
    set_status(r, "skipped", g_strdup_printf("certificate type 0x%04x holds no PKCS#7 "
                                             "signature", cert->type));
    return SIG_NEXT;
  }
  if (!edk2_digest(sc->auth, sc->auth_len, &sc->d, &why)) {
    set_status(r, "skipped", g_strdup_printf("signature skipped: %s", why));
    return SIG_NEXT;
  }
  r->digest_known = TRUE;
  r->digest = sc->d;
  sc->h = cached_hash(vf, sc->d, error);
  if (sc->h == NULL)
    return SIG_ERROR;
  sc->hlen = vsb_pe_digest_size(sc->d);
  r->image_hash = vsb_hex_encode(sc->h, sc->hlen);
  describe_signature(sc);

  if (vf->dbx != NULL && forbidden_by_dbx(vf, sc))
    return SIG_DECIDED;
  int db_cert = !vf->verified && vf->db != NULL ? allowed_by_db(vf, sc) : -1;

  int k = find_hash(vf->dbx, sc->d, sc->h);
  if (k >= 0) {
    const char *dn = vsb_pe_digest_name(sc->d);
    set_status(r, "forbidden", g_strdup_printf("the image's %s hash is in dbx (entry %d)", dn, k));
    decide(vf->v, FALSE, (int)sc->index, "dbx", vf->dbx, k,
           g_strdup_printf("the image's %s hash is in dbx (entry %d)", dn, k));
    return SIG_DECIDED;
  }
  k = vf->verified ? -1 : find_hash(vf->db, sc->d, sc->h);
  if (k >= 0) {
    const char *dn = vsb_pe_digest_name(sc->d);
    vf->verified = TRUE;
    set_status(r, "allowed", g_strdup_printf("the image's %s hash is in db (entry %d)", dn, k));
    decide(vf->v, TRUE, (int)sc->index, "db", vf->db, k,
           g_strdup_printf("the image's %s hash is in db (entry %d)", dn, k));
  } else if (r->status == NULL) {
    describe_undecided(vf, sc, db_cert);
  }
  return SIG_NEXT;
}

/* No signature allowed the image: the reason names the first one that was checked. */
static void
decide_unverified(VsbAuthenticodeVerdict *v)
{
  VsbAuthenticodeSigResult *first = NULL;
  for (guint i = 0; i < v->signatures->len && first == NULL; i++) {
    VsbAuthenticodeSigResult *r = g_ptr_array_index(v->signatures, i);
    if (g_strcmp0(r->status, "skipped") != 0)
      first = r;
  }
  if (first == NULL)
    decide(v, FALSE, -1, NULL, NULL, -1,
           g_strdup("no signature in the certificate table could be checked"));
  else if (!first->digest_matches)
    decide(v, FALSE, (int)first->index, NULL, NULL, -1,
           g_strdup_printf("signature %u does not match the image (the signed digest "
                           "differs from the image's %s hash)",
                           first->index, vsb_pe_digest_name(first->digest)));
  else
    decide(v, FALSE, v->signatures->len == 1 ? 0 : -1, NULL, NULL, -1,
           g_strdup("no signature verifies against a certificate in db and the image hash "
                    "is not in db"));
}

VsbAuthenticodeVerdict *
vsb_authenticode_verify(const VsbPeImage *image, const GPtrArray *db, const GPtrArray *dbx,
                        GError **error)
{
  g_autoptr(VsbAuthenticodeVerdict) v = g_new0(VsbAuthenticodeVerdict, 1);
  v->signatures = g_ptr_array_new_with_free_func((GDestroyNotify)sig_result_free);
  v->signature = -1;
  v->entry = -1;
  Verify vf = { .image = image, .db = db, .dbx = dbx, .v = v };
  const guint8 *h256 = cached_hash(&vf, VSB_PE_DIGEST_SHA256, error);
  if (h256 == NULL)
    return NULL;
  v->sha256 = vsb_hex_encode(h256, 32);

  gsize cert_off, cert_size;
  vsb_pe_get_cert_table(image, &cert_off, &cert_size);
  v->is_signed = cert_size != 0;
  if (!v->is_signed)
    return verify_unsigned(&vf, error) ? g_steal_pointer(&v) : NULL;

  guint n;
  const VsbPeCertificate *certs = vsb_pe_get_certificates(image, &n);
  for (guint i = 0; i < n; i++) {
    SigCheck sc = { .index = i, .r = g_new0(VsbAuthenticodeSigResult, 1) };
    sc.r->index = i;
    g_ptr_array_add(v->signatures, sc.r);
    SigOutcome o = check_signature(&vf, &certs[i], &sc, error);
    if (o == SIG_ERROR)
      return NULL;
    if (o == SIG_DECIDED)
      return g_steal_pointer(&v);
  }
  if (!vf.verified)
    decide_unverified(v);
  return g_steal_pointer(&v);
}

/* ---- signing ---- */

static GBytes *
build_indirect_data(const guint8 *hash, gsize hash_len)
{
  VSB_SPC_INDIRECT *idc = (VSB_SPC_INDIRECT *)ASN1_item_new(ASN1_ITEM_rptr(VSB_SPC_INDIRECT));
  idc->data->type = OBJ_txt2obj(SPC_PE_IMAGE_DATA_OID, 1);
  idc->data->value = ASN1_TYPE_new();
  ASN1_STRING *seq = ASN1_STRING_new();
  ASN1_STRING_set(seq, spc_pe_image_data, sizeof spc_pe_image_data);
  ASN1_TYPE_set(idc->data->value, V_ASN1_SEQUENCE, seq);
  X509_ALGOR_set0(idc->digest->alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
  ASN1_OCTET_STRING_set(idc->digest->digest, hash, (int)hash_len);
  unsigned char *der = NULL;
  int len = ASN1_item_i2d((ASN1_VALUE *)idc, &der, ASN1_ITEM_rptr(VSB_SPC_INDIRECT));
  ASN1_item_free((ASN1_VALUE *)idc, ASN1_ITEM_rptr(VSB_SPC_INDIRECT));
  if (len <= 0)
    return NULL;
  GBytes *b = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return b;
}

/* The SpcIndirectDataContent as the content of p7, in place of the placeholder data content
 * PKCS7_sign made (OpenSSL signs only its own content types). */
static gboolean
set_indirect_content(PKCS7 *p7, const guint8 *idc_der, gsize idc_len)
{
  g_autoptr(PKCS7) inner = PKCS7_new();
  g_autoptr(ASN1_TYPE) t = ASN1_TYPE_new();
  g_autoptr(ASN1_STRING) s = ASN1_STRING_new();
  ASN1_OBJECT *type = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
  if (inner == NULL || t == NULL || s == NULL || type == NULL ||
      !ASN1_STRING_set(s, idc_der, (int)idc_len)) {
    ASN1_OBJECT_free(type);
    return FALSE;
  }
  ASN1_TYPE_set(t, V_ASN1_SEQUENCE, g_steal_pointer(&s));
  inner->type = type;
  inner->d.other = g_steal_pointer(&t);
  if (!PKCS7_set_content(p7, inner))
    return FALSE;
  inner = NULL; /* p7 owns it now */
  return TRUE;
}

/* A SignedData over the DER SpcIndirectDataContent idc (the signer digests its content, without
 * tag and length) by cert/key, with extra_certs for the chain. */
static PKCS7 *
sign_indirect_data(GBytes *idc, X509 *cert, EVP_PKEY *key, const GPtrArray *extra_certs)
{
  gsize idc_len = 0;
  const guint8 *idc_der = idc ? g_bytes_get_data(idc, &idc_len) : NULL;
  g_autoptr(ASN1_OBJECT) idc_obj = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
  if (idc_der == NULL || idc_len < 4 || idc_obj == NULL)
    return NULL;
  gsize hdr = (idc_der[1] & 0x80) ? 2 + (idc_der[1] & 0x7f) : 2;
  g_autoptr(PKCS7) p7 = PKCS7_sign(NULL, NULL, NULL, NULL, PKCS7_BINARY | PKCS7_PARTIAL);
  PKCS7_SIGNER_INFO *si =
    p7 ? PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(), PKCS7_BINARY) : NULL;
  if (si == NULL)
    return NULL;
  for (guint i = 0; extra_certs && i < extra_certs->len; i++)
    if (!PKCS7_add_certificate(p7, vsb_certificate_get_x509(g_ptr_array_index(extra_certs, i))))
      return NULL;
  if (!PKCS7_content_new(p7, NID_pkcs7_data) ||
      !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_dup(idc_obj)))
    return NULL;
  g_autoptr(VsbBioChain) bio = PKCS7_dataInit(p7, NULL);
  if (bio == NULL || BIO_write(bio, idc_der + hdr, (int)(idc_len - hdr)) != (int)(idc_len - hdr) ||
      !PKCS7_dataFinal(p7, bio) || !set_indirect_content(p7, idc_der, idc_len))
    return NULL;
  return g_steal_pointer(&p7);
}

GBytes *
vsb_authenticode_sign(const VsbPeImage *image, const VsbCertificate *cert,
                      const VsbPrivateKey *key, const GPtrArray *extra_certs, GError **error)
{
  const char *origin = vsb_pe_get_origin(image);
  if (!vsb_private_key_matches(key, cert)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: the private key does not belong to the certificate", origin);
    return NULL;
  }
  if (vsb_pe_get_security_dir_offset(image) == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: the optional header has no security directory entry", origin);
    return NULL;
  }
  /* An unsigned image is first zero-padded to 8 bytes: the padding is hashed and signed. */
  g_autoptr(VsbPeImage) padded = NULL;
  gsize size, cert_off, cert_size;
  const guint8 *data = vsb_pe_get_data(image, &size);
  vsb_pe_get_cert_table(image, &cert_off, &cert_size);
  if (cert_size == 0 && size % 8 != 0) {
    gsize psize = (size + 7) & ~(gsize)7;
    guint8 *p = g_malloc0(psize);
    memcpy(p, data, size);
    g_autoptr(GBytes) pb = g_bytes_new_take(p, psize);
    padded = vsb_pe_parse(pb, origin, error);
    if (padded == NULL)
      return NULL;
    image = padded;
  }
  guint8 hash[32];
  if (!vsb_pe_hash(image, VSB_PE_DIGEST_SHA256, hash, error))
    return NULL;
  g_autoptr(GBytes) idc = build_indirect_data(hash, sizeof hash);
  g_autoptr(PKCS7) p7 = sign_indirect_data(idc, vsb_certificate_get_x509(cert),
                                           vsb_private_key_get_evp(key), extra_certs);
  g_autoptr(VsbOsslBytes) p7der = NULL;
  int p7len = p7 ? i2d_PKCS7(p7, &p7der) : 0;
  if (p7len <= 0) {
    g_autofree char *why = openssl_reason();
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: signing failed in OpenSSL: %s", origin,
                why);
    return NULL;
  }
  return vsb_pe_append_certificate(image, VSB_WIN_CERT_TYPE_PKCS_SIGNED_DATA, p7der,
                                   (gsize)p7len, error);
}
