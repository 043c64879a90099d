/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed authenticated-variable updates (EFI_VARIABLE_AUTHENTICATION_2): parse, verify and
 * apply them as OVMF's variable driver does. The contract, and the edk2 functions each rule
 * comes from, are in include/vsboot/authvar.h. */
#include "vsb-config.h"

#include "vsboot/authvar.h"

#include "vsboot/authenticode.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"

#include <glib/gstdio.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certificate-ossl.h"
#include "ossl-auto.h"
#include "util/enumname.h"
#include "util/le.h"
#include "util/timetext.h"
#include "util/ucs2.h"

G_DEFINE_QUARK(vsb-authvar-error-quark, vsb_authvar_error)

#define EFI_TIME_SIZE VSB_EFI_TIME_SIZE
#define WIN_CERT_HEADER_SIZE 24u  /* dwLength, wRevision, wCertificateType, CertType GUID */
#define CERT_DATA_OFFSET (EFI_TIME_SIZE + WIN_CERT_HEADER_SIZE)
#define WIN_CERT_REVISION 0x0200u
#define WIN_CERT_TYPE_EFI_GUID 0x0EF1u
#define ESL_HEADER_SIZE 28u
#define AUTH_VARIABLE_HEADER_SIZE 60u /* AUTHENTICATED_VARIABLE_HEADER */

static const char *
origin_of(const char *origin)
{
  return origin ? origin : "authenticated variable";
}

static const char *const mode_names[] = {
  [VSB_AUTHVAR_APPEND] = "append",
  [VSB_AUTHVAR_REPLACE] = "replace",
  [VSB_AUTHVAR_DELETE] = "delete",
};
VSB_ENUM_NAME_ONLY(vsb_authvar_mode, VsbAuthvarMode, mode_names, G_N_ELEMENTS(mode_names), "?")

/* ---- parsing ---------------------------------------------------------------------------- */

/* VerifyTimeBasedPayload refuses a TimeStamp whose Pad1, Nanosecond, TimeZone, Daylight or
 * Pad2 is not zero, before anything else. */
static gboolean
parse_time(const guint8 *d, VsbEfiTime *t, const char *origin, GError **error)
{
  vsb_efi_time_read(d, t);
  const char *field = NULL;
  gsize off = 0;
  if (t->pad1) { field = "Pad1"; off = 7; }
  else if (t->nanosecond) { field = "Nanosecond"; off = 8; }
  else if (t->timezone) { field = "TimeZone"; off = 12; }
  else if (t->daylight) { field = "Daylight"; off = 14; }
  else if (t->pad2) { field = "Pad2"; off = 15; }
  if (field == NULL)
    return TRUE;
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
              "%s: offset %zu: EFI_TIME %s is not 0 (edk2's VerifyTimeBasedPayload requires "
              "Pad1, Nanosecond, TimeZone, Daylight and Pad2 to be 0)", origin, off, field);
  return FALSE;
}

/* DER length octets. */
static void
der_length(GByteArray *out, gsize n)
{
  guint8 b[5];
  int k = 0;
  if (n < 0x80) {
    b[k++] = (guint8)n;
  } else {
    guint8 tmp[4];
    int m = 0;
    for (gsize v = n; v; v >>= 8)
      tmp[m++] = (guint8)v;
    b[k++] = (guint8)(0x80 | m);
    while (m)
      b[k++] = tmp[--m];
  }
  g_byte_array_append(out, b, (guint)k);
}

/* The ContentInfo { signedData, [0] SignedData } around a bare SignedData, as
 * Pkcs7Verify's WrapPkcs7Data builds it. */
static GByteArray *
wrap_signed_data(const guint8 *der, gsize len)
{
  static const guint8 oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
  g_autoptr(GByteArray) inner = g_byte_array_new();
  g_byte_array_append(inner, oid, sizeof oid);
  g_byte_array_append(inner, (const guint8 *)"\xa0", 1);
  der_length(inner, len);
  g_byte_array_append(inner, der, (guint)len);
  GByteArray *out = g_byte_array_new();
  g_byte_array_append(out, (const guint8 *)"\x30", 1);
  der_length(out, inner->len);
  g_byte_array_append(out, inner->data, inner->len);
  return out;
}

/* d2i of exactly len bytes. */
static PKCS7 *
d2i_pkcs7_exact(const guint8 *der, gsize len)
{
  const unsigned char *p = der;
  g_autoptr(PKCS7) p7 = d2i_PKCS7(NULL, &p, (long)len);
  if (p7 && (gsize)(p - der) != len)
    return NULL;
  return g_steal_pointer(&p7);
}

/* The CertData as OpenSSL's PKCS7: a ContentInfo as it is, a bare SignedData wrapped first
 * (Pkcs7Verify accepts both). Must be SignedData with detached content. */
static PKCS7 *
pkcs7_decode(const guint8 *der, gsize len, gboolean *wrapped, const char *origin,
             GError **error)
{
  ERR_set_mark();
  g_autoptr(PKCS7) p7 = d2i_pkcs7_exact(der, len);
  *wrapped = p7 != NULL;
  if (p7 == NULL) {
    g_autoptr(GByteArray) w = wrap_signed_data(der, len);
    p7 = d2i_pkcs7_exact(w->data, w->len);
  }
  ERR_pop_to_mark();
  const char *why = NULL;
  if (p7 == NULL)
    why = "is not DER PKCS#7 SignedData (with or without its ContentInfo)";
  else if (!PKCS7_type_is_signed(p7))
    why = "is a PKCS#7 ContentInfo of another type than signedData";
  else if (!PKCS7_get_detached(p7))
    why = "is a PKCS#7 SignedData with embedded content (an update signs detached data)";
  else if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) < 1)
    why = "is a PKCS#7 SignedData without a SignerInfo";
  if (why == NULL)
    return g_steal_pointer(&p7);
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
              "%s: offset %u: CertData (%zu bytes) %s", origin, CERT_DATA_OFFSET, len, why);
  return NULL;
}

/* One EFI_SIGNATURE_LIST of a buffer already checked by vsb_siglist_parse. */
typedef struct {
  gsize off;
  VsbGuid type;
  guint32 list_size, header_size, sig_size;
  gsize count;
  const guint8 *first;  /* first EFI_SIGNATURE_DATA */
} Esl;

static gboolean
esl_next(const guint8 *data, gsize len, gsize *off, Esl *l)
{
  if (*off + ESL_HEADER_SIZE > len)
    return FALSE;
  const guint8 *h = data + *off;
  l->off = *off;
  memcpy(l->type.b, h, 16);
  l->list_size = vsb_le32(h + 16);
  l->header_size = vsb_le32(h + 20);
  l->sig_size = vsb_le32(h + 24);
  if (l->list_size < ESL_HEADER_SIZE || l->list_size > len - *off || l->sig_size == 0 ||
      l->header_size > l->list_size - ESL_HEADER_SIZE)
    return FALSE;
  l->count = (l->list_size - ESL_HEADER_SIZE - l->header_size) / l->sig_size;
  l->first = h + ESL_HEADER_SIZE + l->header_size;
  *off += l->list_size;
  return TRUE;
}

/* CheckSignatureListFormat: every list of a known type with SignatureHeaderSize 0, and each
 * X.509 entry a certificate with an RSA key (RsaGetPublicKeyFromX509 must succeed). */
static gboolean
check_list_format(const guint8 *p, gsize len, gsize base, const char *origin, GError **error)
{
  gsize off = 0;
  Esl l;
  while (esl_next(p, len, &off, &l)) {
    VsbSigType type = vsb_sig_type_from_guid(&l.type);
    const char *why = NULL;
    if (type == VSB_SIG_OTHER)
      why = "has a SignatureType vsboot does not know";
    else if (l.header_size != 0)
      why = "has a SignatureHeaderSize other than 0";
    for (gsize i = 0; why == NULL && type == VSB_SIG_X509 && i < l.count; i++) {
      g_autoptr(GError) local = NULL;
      g_autoptr(X509) x = vsb_cert_from_der(l.first + i * l.sig_size + 16, l.sig_size - 16,
                                            &local);
      if (x == NULL || EVP_PKEY_get_base_id(X509_get0_pubkey(x)) != EVP_PKEY_RSA)
        why = x == NULL ? "holds an X.509 entry that is not a certificate"
                        : "holds an X.509 certificate without an RSA key";
    }
    if (why) {
      char buf[VSB_GUID_STRING_LEN + 1];
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
                  "%s: offset %zu: signature list (type %s) %s (edk2 CheckSignatureListFormat)",
                  origin, base + l.off, vsb_guid_format(&l.type, buf), why);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
parse_payload(VsbAuthvarUpdate *u, const guint8 *p, gsize len, GError **error)
{
  g_autoptr(GError) local = NULL;
  u->entries = vsb_siglist_parse(p, len, &local);
  if (u->entries == NULL) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
                "%s: payload at offset %zu is not valid signature lists: %s (offsets relative "
                "to the payload)", u->origin, u->payload_offset, local->message);
    return FALSE;
  }
  return check_list_format(p, len, u->payload_offset, u->origin, error);
}

/* What the PKCS#7 says about its signers, for reports. */
static void
describe_signers(VsbAuthvarUpdate *u, PKCS7 *p7)
{
  STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
  u->signer_count = (guint)sk_PKCS7_SIGNER_INFO_num(infos);
  PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(infos, 0);
  X509_ALGOR *alg = NULL;
  PKCS7_SIGNER_INFO_get0_algs(si, NULL, &alg, NULL);
  const ASN1_OBJECT *obj = NULL;
  if (alg)
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
  int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
  u->digest = g_strdup(nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
  ERR_set_mark();
  g_autoptr(VsbX509Stack) signers = PKCS7_get0_signers(p7, NULL, 0);
  ERR_pop_to_mark();
  if (signers && sk_X509_num(signers) > 0) {
    X509 *s = sk_X509_value(signers, 0);
    u->signer = vsb_x509_subject(s);
    u->signer_issuer = vsb_x509_issuer(s);
  }
}

static gboolean
parse_header(const guint8 *data, gsize len, const char *origin, guint32 *dw_length,
             GError **error)
{
  const char *why = NULL;
  gsize off = 0;
  if (len == 0)
    why = "is empty";
  else if (len > VSB_AUTHVAR_MAX_FILE_SIZE)
    why = "is too large for a signed variable update (limit 1 MiB)";
  else if (len < EFI_TIME_SIZE)
    why = "is truncated inside the EFI_TIME (16 bytes)";
  else if (len < CERT_DATA_OFFSET) {
    off = EFI_TIME_SIZE;
    why = "is truncated inside the WIN_CERTIFICATE_UEFI_GUID header (24 bytes)";
  }
  if (why) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
                "%s: offset %zu: the file (%zu bytes) %s", origin, off, len, why);
    return FALSE;
  }
  *dw_length = vsb_le32(data + 16);
  guint16 rev = vsb_le16(data + 20), type = vsb_le16(data + 22);
  VsbGuid ct;
  memcpy(ct.b, data + 24, 16);
  char buf[VSB_GUID_STRING_LEN + 1];
  g_autofree char *msg = NULL;
  if (*dw_length <= WIN_CERT_HEADER_SIZE)
    msg = g_strdup_printf("offset 16: WIN_CERTIFICATE dwLength %u leaves no room for the "
                          "PKCS#7 (the header alone is 24)", *dw_length);
  else if (*dw_length > len - EFI_TIME_SIZE)
    msg = g_strdup_printf("offset 16: WIN_CERTIFICATE dwLength %u runs past the end (the file "
                          "is truncated: %zu bytes from offset 16)", *dw_length,
                          len - EFI_TIME_SIZE);
  else if (rev != WIN_CERT_REVISION)
    msg = g_strdup_printf("offset 20: WIN_CERTIFICATE wRevision 0x%04x, expected 0x0200", rev);
  else if (type != WIN_CERT_TYPE_EFI_GUID)
    msg = g_strdup_printf("offset 22: WIN_CERTIFICATE wCertificateType 0x%04x, expected "
                          "0x0EF1 (WIN_CERT_TYPE_EFI_GUID)", type);
  else if (!vsb_guid_equal(&ct, &VSB_GUID_EFI_CERT_TYPE_PKCS7))
    msg = g_strdup_printf("offset 24: CertType %s is not EFI_CERT_TYPE_PKCS7_GUID "
                          "(4aafd29d-68df-49ee-8aa9-347d375665a7)", vsb_guid_format(&ct, buf));
  if (msg == NULL)
    return TRUE;
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED, "%s: %s", origin, msg);
  return FALSE;
}

VsbAuthvarUpdate *
vsb_authvar_parse(const guint8 *data, gsize len, const char *origin, GError **error)
{
  origin = origin_of(origin);
  guint32 dw_length = 0;
  if (!parse_header(data, len, origin, &dw_length, error))
    return NULL;
  g_autoptr(VsbAuthvarUpdate) u = g_new0(VsbAuthvarUpdate, 1);
  u->origin = g_strdup(origin);
  if (!parse_time(data, &u->timestamp, origin, error))
    return NULL;
  u->cert_length = dw_length;
  gsize p7_len = dw_length - WIN_CERT_HEADER_SIZE;
  g_autoptr(PKCS7) p7 = pkcs7_decode(data + CERT_DATA_OFFSET, p7_len, &u->pkcs7_wrapped,
                                     origin, error);
  if (p7 == NULL)
    return NULL;
  u->pkcs7 = g_bytes_new(data + CERT_DATA_OFFSET, p7_len);
  describe_signers(u, p7);
  u->payload_offset = EFI_TIME_SIZE + dw_length;
  u->payload = g_bytes_new(data + u->payload_offset, len - u->payload_offset);
  if (!parse_payload(u, data + u->payload_offset, len - u->payload_offset, error))
    return NULL;
  return g_steal_pointer(&u);
}

VsbAuthvarUpdate *
vsb_authvar_load(const char *path, GError **error)
{
  GStatBuf st;
  if (g_stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
      (guint64)st.st_size > VSB_AUTHVAR_MAX_FILE_SIZE) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_MALFORMED,
                "%s: the file (%" G_GUINT64_FORMAT " bytes) is too large for a signed variable "
                "update (limit 1 MiB)", path, (guint64)st.st_size);
    return NULL;
  }
  g_autoptr(GBytes) b = vsb_file_read(path, VSB_AUTHVAR_MAX_FILE_SIZE, error);
  if (b == NULL)
    return NULL;
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(b, &len);
  return vsb_authvar_parse(d, len, path, error);
}

void
vsb_authvar_update_free(VsbAuthvarUpdate *u)
{
  if (u == NULL)
    return;
  g_free(u->origin);
  if (u->pkcs7)
    g_bytes_unref(u->pkcs7);
  g_free(u->digest);
  g_free(u->signer);
  g_free(u->signer_issuer);
  if (u->payload)
    g_bytes_unref(u->payload);
  if (u->entries)
    g_ptr_array_unref(u->entries);
  g_free(u);
}

void
vsb_authvar_result_free(VsbAuthvarResult *r)
{
  if (r == NULL)
    return;
  g_free(r->variable);
  g_free(r->unverified_reason);
  g_free(r->signer);
  g_free(r->trust_variable);
  g_free(r->trust_subject);
  g_free(r);
}

/* ---- verification ----------------------------------------------------------------------- */

/* The variables edk2's ProcessVariable verifies with PK/KEK (dbr is not among them), each under
 * the GUID vsb_sb_known_guid gives it. */
static const char *const targets[] = { "PK", "KEK", "db", "dbx", "dbt" };

static gboolean
is_target(const char *name, const VsbGuid *guid)
{
  for (gsize i = 0; i < G_N_ELEMENTS(targets); i++)
    if (strcmp(targets[i], name) == 0 && vsb_guid_equal(vsb_sb_known_guid(name), guid))
      return TRUE;
  return FALSE;
}

static gboolean
is_image_db(const char *name)
{
  return strcmp(name, "db") == 0 || strcmp(name, "dbx") == 0 || strcmp(name, "dbt") == 0;
}

/* VariableName || VendorGuid || Attributes || TimeStamp || payload, as VerifyTimeBasedPayload
 * serialises them (the name without its NUL). */
static GBytes *
signed_data(const char *name, const VsbGuid *guid, guint32 attrs, const VsbEfiTime *ts,
            GBytes *payload)
{
  gsize name_len = 0;
  g_autofree guint8 *ucs2 = vsb_utf8_to_ucs2(name, FALSE, &name_len);
  GByteArray *b = g_byte_array_new();
  if (ucs2 != NULL)
    g_byte_array_append(b, ucs2, (guint)name_len);
  g_byte_array_append(b, guid->b, 16);
  guint8 a[4];
  vsb_put_le32(a, attrs);
  g_byte_array_append(b, a, 4);
  guint8 t[EFI_TIME_SIZE];
  vsb_efi_time_write(t, ts);
  g_byte_array_append(b, t, EFI_TIME_SIZE);
  gsize plen = 0;
  const guint8 *p = g_bytes_get_data(payload, &plen);
  if (plen)
    g_byte_array_append(b, p, (guint)plen);
  return g_byte_array_free_to_bytes(b);
}

/* PKCS7_verify over data. trusted NULL: the signature alone (PKCS7_NOVERIFY), to tell an
 * altered file from an untrusted signer. Otherwise Pkcs7Verify's set-up: a store holding only
 * the trusted certificate, partial chains allowed, no time checks, any purpose. */
static gboolean
pkcs7_check(PKCS7 *p7, GBytes *data, X509 *trusted)
{
  g_autoptr(X509_STORE) store = X509_STORE_new();
  int flags = PKCS7_BINARY;
  if (trusted) {
    X509_STORE_add_cert(store, trusted);
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
  } else {
    flags |= PKCS7_NOVERIFY;
  }
  gsize len = 0;
  const void *d = g_bytes_get_data(data, &len);
  g_autoptr(BIO) bio = BIO_new_mem_buf(d, (int)len);
  ERR_set_mark();
  int ok = PKCS7_verify(p7, NULL, store, bio, NULL, flags);
  ERR_pop_to_mark();
  return ok == 1;
}

static gboolean
signature_covers(const VsbAuthvarUpdate *u, PKCS7 *p7, const char *name, const VsbGuid *guid,
                 guint32 attrs)
{
  g_autoptr(GBytes) data = signed_data(name, guid, attrs, &u->timestamp, u->payload);
  return pkcs7_check(p7, data, NULL);
}

/* Why no candidate verified: signed for the other attributes, for another variable, or
 * altered. */
static void
explain_bad_signature(const VsbAuthvarUpdate *u, PKCS7 *p7, const char *name,
                      const VsbGuid *guid, guint32 asked, GError **error)
{
  static const guint32 both[] = { VSB_AUTHVAR_ATTR_APPEND, VSB_AUTHVAR_ATTR_REPLACE };
  if (asked) {
    guint32 other = asked == VSB_AUTHVAR_ATTR_APPEND ? VSB_AUTHVAR_ATTR_REPLACE
                                                     : VSB_AUTHVAR_ATTR_APPEND;
    if (signature_covers(u, p7, name, guid, other)) {
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_BAD_SIGNATURE,
                  "%s: the signature covers attributes 0x%02x (%s), not 0x%02x as asked",
                  u->origin, other, other == VSB_AUTHVAR_ATTR_APPEND ? "append" : "replace",
                  asked);
      return;
    }
  }
  for (gsize i = 0; i < G_N_ELEMENTS(targets); i++) {
    const VsbGuid *target_guid = vsb_sb_known_guid(targets[i]);
    if (strcmp(targets[i], name) == 0 && vsb_guid_equal(target_guid, guid))
      continue;
    for (gsize k = 0; k < G_N_ELEMENTS(both); k++) {
      if (!signature_covers(u, p7, targets[i], target_guid, both[k]))
        continue;
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_WRONG_VARIABLE,
                  "%s: this update is signed for the variable %s, not %s: its signature does "
                  "not verify over the name %s (apply it as %s)", u->origin, targets[i],
                  name, name, targets[i]);
      return;
    }
  }
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_BAD_SIGNATURE,
              "%s: the signature does not verify over %s's name, GUID, attributes, time stamp "
              "and payload: the file was altered (signature or payload) or is not an update "
              "of %s", u->origin, name, name);
}

/* VerifyTimeBasedPayload reads the digest algorithm at a fixed place: byte 1 must announce a
 * two-byte length (0x82) and bytes 13..21 must be the SHA-256 OID. That holds only for a bare
 * SignedData signed with SHA-256; the ContentInfo-wrapped form fails it (Pkcs7Verify would
 * accept it, but this check comes first). */
static gboolean
edk2_digest_rule(const VsbAuthvarUpdate *u, GError **error)
{
  static const guint8 sha256_oid[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(u->pkcs7, &len);
  if (len < 13 + sizeof sha256_oid ||
      ((d[1] & 0x82) == 0x82 && memcmp(d + 13, sha256_oid, sizeof sha256_oid) == 0))
    return TRUE;
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
              "%s: offset %u: edk2's VerifyTimeBasedPayload refuses this PKCS#7: %s", u->origin,
              CERT_DATA_OFFSET + 13,
              u->pkcs7_wrapped ? "it is wrapped in a ContentInfo (the firmware expects the bare "
                                 "SignedData, SHA-256 OID at byte 13)"
                               : "its digest algorithm is not SHA-256 (OID expected at byte 13)");
  return FALSE;
}

typedef struct {
  const char *var;  /* "PK" or "KEK" */
  guint index;      /* among the variable's entries */
  X509 *cert;
  GBytes *der;
} Trusted;

static void
trusted_free(Trusted *t)
{
  X509_free(t->cert);
  g_bytes_unref(t->der);
  g_free(t);
}

static void
add_trusted(GPtrArray *out, const char *var, guint index, const VsbSigEntry *e)
{
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(e->data, &len);
  g_autoptr(GError) ignored = NULL;
  X509 *x = vsb_cert_from_der(d, len, &ignored);
  if (x == NULL)
    return;
  Trusted *t = g_new0(Trusted, 1);
  t->var = var;
  t->index = index;
  t->cert = x;
  t->der = g_bytes_ref(e->data);
  g_ptr_array_add(out, t);
}

/* The certificates edk2 tries, in its order: PK's first entry (the first EFI_SIGNATURE_DATA
 * of its first list, whatever its type), then for db/dbx/dbt every X.509 entry of KEK. */
static GPtrArray *
trusted_for(const VsbVarstore *store, const char *name)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)trusted_free);
  const VsbVariable *pk = vsb_varstore_lookup(store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  g_autoptr(GError) ignored = NULL;
  if (pk) {
    gsize len = 0;
    const guint8 *d = g_bytes_get_data(pk->data, &len);
    g_autoptr(GPtrArray) e = vsb_siglist_parse(d, len, &ignored);
    if (e && e->len > 0)
      add_trusted(out, "PK", 0, e->pdata[0]);
  }
  const VsbVariable *kek = is_image_db(name) ?
    vsb_varstore_lookup(store, "KEK", &VSB_GUID_EFI_GLOBAL_VARIABLE) : NULL;
  if (kek) {
    gsize len = 0;
    const guint8 *d = g_bytes_get_data(kek->data, &len);
    g_clear_error(&ignored);
    g_autoptr(GPtrArray) e = vsb_siglist_parse(d, len, &ignored);
    for (guint i = 0; e && i < e->len; i++)
      if (((VsbSigEntry *)e->pdata[i])->type == VSB_SIG_X509)
        add_trusted(out, "KEK", i, e->pdata[i]);
  }
  return out;
}

/* Through PK, VerifyTimeBasedPayload first takes the certificate Pkcs7GetSigners returns as
 * the "top-level" one and requires it to be PK's byte for byte ("no chaining for PK").
 * Pkcs7GetSigners builds its stack with PKCS7_get0_signers (one certificate per SignerInfo) and
 * returns the one it pops last: the first signer's certificate. So PK itself must have signed. */
static gboolean
pk_signed(PKCS7 *p7, GBytes *pk_der)
{
  ERR_set_mark();
  g_autoptr(VsbX509Stack) signers = PKCS7_get0_signers(p7, NULL, PKCS7_BINARY);
  ERR_pop_to_mark();
  if (signers == NULL || sk_X509_num(signers) < 1)
    return FALSE;
  g_autoptr(VsbOsslBytes) der = NULL;
  int n = i2d_X509(sk_X509_value(signers, 0), &der);
  return n > 0 && (gsize)n == g_bytes_get_size(pk_der) &&
         memcmp(der, g_bytes_get_data(pk_der, NULL), (gsize)n) == 0;
}

static void
untrusted_error(const VsbVarstore *store, const VsbAuthvarUpdate *u, const char *name,
                GPtrArray *trusted, GError **error)
{
  const char *origin = vsb_varstore_get_origin(store);
  if (vsb_varstore_lookup(store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE) == NULL) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_UNTRUSTED,
                "%s: %s has no PK (setup mode): the firmware would write this update without "
                "checking any signature; nothing here can vouch for the signer %s", u->origin,
                origin ? origin : "the store", u->signer ? u->signer : "(not in the PKCS#7)");
    return;
  }
  g_autoptr(GString) list = g_string_new(NULL);
  for (guint i = 0; i < trusted->len; i++) {
    Trusted *t = trusted->pdata[i];
    g_autofree char *subj = vsb_x509_subject(t->cert);
    g_string_append_printf(list, "%s%s[%u] %s", i ? "; " : " (", t->var, t->index, subj);
  }
  if (list->len)
    g_string_append_c(list, ')');
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_UNTRUSTED,
              "%s: the signature is intact but its signer %s (issued by %s) is not trusted for "
              "%s by %s: it chains to none of %s%s", u->origin,
              u->signer ? u->signer : "(not in the PKCS#7)",
              u->signer_issuer ? u->signer_issuer : "?", name, origin ? origin : "the store",
              is_image_db(name) ? "PK and KEK's certificates" : "PK", list->str);
}

/* Which attributes the signature covers (asked, or append then replace), then whether its
 * signer chains to a certificate the store trusts for name (AuthVariableLib ProcessVariable:
 * db/dbx/dbt through ProcessVarWithPk then ProcessVarWithKek; KEK and PK through
 * ProcessVarWithPk). Fills r->attributes as soon as the signature is known to cover them. */
static gboolean
authenticate(const VsbVarstore *store, const VsbAuthvarUpdate *u, const char *name,
             guint32 asked, VsbAuthvarResult *r, GError **error)
{
  gsize len = 0;
  const guint8 *der = g_bytes_get_data(u->pkcs7, &len);
  gboolean wrapped = FALSE;
  g_autoptr(PKCS7) p7 = pkcs7_decode(der, len, &wrapped, u->origin, error);
  if (p7 == NULL)
    return FALSE;
  const guint32 candidates[] = { asked ? asked : VSB_AUTHVAR_ATTR_APPEND,
                                 asked ? 0 : VSB_AUTHVAR_ATTR_REPLACE };
  guint32 attrs = 0;
  for (gsize i = 0; attrs == 0 && i < G_N_ELEMENTS(candidates); i++)
    if (candidates[i] && signature_covers(u, p7, name, &r->guid, candidates[i]))
      attrs = candidates[i];
  if (attrs == 0) {
    explain_bad_signature(u, p7, name, &r->guid, asked, error);
    return FALSE;
  }
  r->attributes = attrs;
  if (!edk2_digest_rule(u, error))
    return FALSE;
  g_autoptr(GBytes) data = signed_data(name, &r->guid, attrs, &u->timestamp, u->payload);
  g_autoptr(GPtrArray) trusted = trusted_for(store, name);
  for (guint i = 0; i < trusted->len; i++) {
    Trusted *t = trusted->pdata[i];
    if (strcmp(t->var, "PK") == 0 && !pk_signed(p7, t->der))
      continue;
    if (!pkcs7_check(p7, data, t->cert))
      continue;
    r->verified = TRUE;
    r->trust_variable = g_strdup(t->var);
    r->trust_index = t->index;
    r->trust_subject = vsb_x509_subject(t->cert);
    return TRUE;
  }
  untrusted_error(store, u, name, trusted, error);
  return FALSE;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* AuthServiceInternalCompareTimeStamp / VariableCompareTimeStampInternal: TRUE when a is not
 * later than b, compared down to the second (Nanosecond, TimeZone and Daylight ignored). */
static gboolean
time_not_later(const VsbEfiTime *a, const VsbEfiTime *b)
{
  if (a->year != b->year)
    return a->year < b->year;
  if (a->month != b->month)
    return a->month < b->month;
  if (a->day != b->day)
    return a->day < b->day;
  if (a->hour != b->hour)
    return a->hour < b->hour;
  if (a->minute != b->minute)
    return a->minute < b->minute;
  return a->second <= b->second;
}

static gboolean
time_equal(const VsbEfiTime *a, const VsbEfiTime *b)
{
  guint8 x[EFI_TIME_SIZE], y[EFI_TIME_SIZE];
  vsb_efi_time_write(x, a);
  vsb_efi_time_write(y, b);
  return memcmp(x, y, EFI_TIME_SIZE) == 0;
}

/* FilterSignatureList: an entry of the update is already present when some list of the
 * variable has the same SignatureType and SignatureSize and an EFI_SIGNATURE_DATA equal to it
 * byte for byte, SignatureOwner included. */
static gboolean
entry_present(const guint8 *old, gsize old_len, const Esl *nl, const guint8 *entry)
{
  gsize off = 0;
  Esl l;
  while (esl_next(old, old_len, &off, &l)) {
    if (!vsb_guid_equal(&l.type, &nl->type) || l.sig_size != nl->sig_size)
      continue;
    for (gsize i = 0; i < l.count; i++)
      if (memcmp(l.first + i * l.sig_size, entry, l.sig_size) == 0)
        return TRUE;
  }
  return FALSE;
}

/* The stored data followed by each new list holding only its new entries (its header copied,
 * SignatureListSize corrected), as FilterSignatureList builds the appended value. */
static GBytes *
filter_append(const guint8 *old, gsize old_len, const guint8 *upd, gsize upd_len,
              guint *added, guint *present)
{
  GByteArray *out = g_byte_array_sized_new((guint)(old_len + upd_len));
  if (old_len)
    g_byte_array_append(out, old, (guint)old_len);
  gsize off = 0;
  Esl nl;
  while (esl_next(upd, upd_len, &off, &nl)) {
    gsize header_at = out->len;
    guint32 copied = 0;
    for (gsize i = 0; i < nl.count; i++) {
      const guint8 *e = nl.first + i * nl.sig_size;
      if (entry_present(old, old_len, &nl, e)) {
        (*present)++;
        continue;
      }
      if (copied++ == 0)
        g_byte_array_append(out, upd + nl.off, ESL_HEADER_SIZE + nl.header_size);
      g_byte_array_append(out, e, nl.sig_size);
      (*added)++;
    }
    if (copied) {
      guint32 size = ESL_HEADER_SIZE + nl.header_size + copied * nl.sig_size;
      guint8 *h = out->data + header_at + 16;
      for (int k = 0; k < 4; k++)
        h[k] = (guint8)(size >> (8 * k));
    }
  }
  return g_byte_array_free_to_bytes(out);
}

/* OVMF's PcdMaxAuthVariableSize, which the whole variable (header and name included) must fit
 * (0 when the build is not known from the layout). */
static gsize
max_auth_size(const VsbVarstore *store)
{
  switch (vsb_varstore_get_layout(store)) {
  case VSB_VARSTORE_LAYOUT_OVMF_2M: return 0x2800;
  case VSB_VARSTORE_LAYOUT_OVMF_4M: return 0x8400;
  default: return 0;
  }
}

static gboolean
check_size(const VsbVarstore *store, const VsbAuthvarResult *r, gsize data_len, GError **error)
{
  gsize limit = max_auth_size(store);
  gsize size = AUTH_VARIABLE_HEADER_SIZE + ((gsize)g_utf8_strlen(r->variable, -1) + 1) * 2 +
               data_len;
  if (limit == 0 || size <= limit)
    return TRUE;
  g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
              "%s: %s would be %zu bytes with its header and name; this OVMF build accepts at "
              "most %zu (PcdMaxAuthVariableSize)", vsb_varstore_get_origin(store), r->variable, size,
              limit);
  return FALSE;
}

static guint
count_entries(GBytes *data)
{
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(data, &len);
  gsize off = 0;
  Esl l;
  guint n = 0;
  while (esl_next(d, len, &off, &l))
    n += (guint)l.count;
  return n;
}

/* Preconditions edk2 checks before writing: the stored variable's attributes (UpdateVariable
 * refuses to change them), that it holds signature lists (FilterSignatureList walks it), and
 * PK's payload (CheckSignatureListFormat: at most one signature; PK holds one certificate). */
static gboolean
check_write(const VsbVariable *old, const VsbAuthvarUpdate *u, const VsbAuthvarResult *r,
            GError **error)
{
  g_autoptr(GError) local = NULL;
  if (old && old->attributes != VSB_AUTHVAR_ATTR_REPLACE) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                "%s: the stored %s has attributes 0x%02x; a signed update writes 0x27 and the "
                "firmware does not change a variable's attributes", u->origin, r->variable,
                old->attributes);
    return FALSE;
  }
  if (old) {
    gsize len = 0;
    const guint8 *d = g_bytes_get_data(old->data, &len);
    g_autoptr(GPtrArray) e = vsb_siglist_parse(d, len, &local);
    if (e == NULL) {
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                  "%s: the stored %s is not valid signature lists: %s", u->origin, r->variable,
                  local->message);
      return FALSE;
    }
  }
  /* edk2 filters duplicates only for KEK/db/dbx/dbt and would simply concatenate a second
   * certificate into PK; a PK holding two certificates breaks every later PK check
   * (VerifyTimeBasedPayload compares with the first only), so vsboot refuses the append. */
  if (strcmp(r->variable, "PK") == 0 && (r->attributes & VSB_EFI_VARIABLE_APPEND_WRITE)) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                "%s: PK is replaced, never appended to (it holds one certificate)", u->origin);
    return FALSE;
  }
  if (strcmp(r->variable, "PK") == 0 && u->entries->len > 0 &&
      (u->entries->len != 1 || ((VsbSigEntry *)u->entries->pdata[0])->type != VSB_SIG_X509)) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                "%s: a PK update must hold exactly one X.509 certificate; this one holds %u "
                "signature entries", u->origin, u->entries->len);
    return FALSE;
  }
  return TRUE;
}

/* The new value of the variable (NULL: deleted or left absent) and the result's counts, for
 * the mode the signature decided (Variable.c UpdateVariable, AuthService.c
 * VerifyTimeBasedPayload's time stamp rule). */
static gboolean
compute_write(const VsbVarstore *store, const VsbAuthvarUpdate *u, VsbAuthvarResult *r,
              VsbVariable **out, GError **error)
{
  const VsbVariable *old = vsb_varstore_lookup(store, r->variable, &r->guid);
  r->existed = old != NULL;
  if (old)
    r->time_before = old->timestamp;
  r->entries_in_update = u->entries->len;
  if (!check_write(old, u, r, error))
    return FALSE;
  gsize plen = 0;
  const guint8 *p = g_bytes_get_data(u->payload, &plen);
  /* VariableServiceSetVariable bounds the payload alone first; UpdateVariable then bounds the
   * stored data plus what FilterSignatureList left of it (checked below). */
  if (!check_size(store, r, plen, error))
    return FALSE;
  g_autoptr(GBytes) data = NULL;
  VsbEfiTime ts = u->timestamp;
  if (r->attributes & VSB_EFI_VARIABLE_APPEND_WRITE) {
    r->mode = VSB_AUTHVAR_APPEND;
    gsize olen = 0;
    const guint8 *o = old ? g_bytes_get_data(old->data, &olen) : NULL;
    data = filter_append(o, olen, p, plen, &r->entries_added, &r->entries_present);
    /* UpdateVariable: the later of the two time stamps; never backwards. */
    if (old && !time_not_later(&old->timestamp, &u->timestamp))
      ts = old->timestamp;
    if (old == NULL && plen == 0)
      g_clear_pointer(&data, g_bytes_unref);
  } else {
    if (old && time_not_later(&u->timestamp, &old->timestamp)) {
      g_autofree char *was = vsb_efi_time_to_string(&old->timestamp);
      g_autofree char *now = vsb_efi_time_to_string(&u->timestamp);
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_NOT_NEWER,
                  "%s: replacing %s needs a time stamp later than the stored %s; the update's "
                  "is %s (the firmware refuses it as a replay)", u->origin, r->variable,
                  was ? was : "0", now ? now : "0");
      return FALSE;
    }
    r->mode = plen ? VSB_AUTHVAR_REPLACE : VSB_AUTHVAR_DELETE;
    if (plen == 0 && old == NULL) {
      g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                  "%s: the update deletes %s, which the store does not have", u->origin,
                  r->variable);
      return FALSE;
    }
    if (plen) {
      data = g_bytes_ref(u->payload);
      r->entries_added = u->entries->len;
    }
  }
  if (data && !check_size(store, r, g_bytes_get_size(data), error))
    return FALSE;
  if (data) {
    r->time_after = ts;
    r->entries_after = count_entries(data);
    r->changed = old == NULL || !g_bytes_equal(old->data, data) ||
                 !time_equal(&old->timestamp, &ts);
    gsize len = 0;
    const guint8 *d = g_bytes_get_data(data, &len);
    *out = vsb_variable_new(r->variable, &r->guid, VSB_AUTHVAR_ATTR_REPLACE, d, len);
    (*out)->timestamp = ts;
  } else {
    r->changed = old != NULL;
  }
  return TRUE;
}

static VsbAuthvarResult *
run(const VsbVarstore *store, const VsbAuthvarUpdate *u, const char *name,
    const VsbGuid *guid, const VsbAuthvarOptions *opts, VsbVariable **out, GError **error)
{
  static const VsbAuthvarOptions defaults = { 0 };
  g_return_val_if_fail(store != NULL && u != NULL && name != NULL, NULL);
  opts = opts ? opts : &defaults;
  guid = guid ? guid : vsb_sb_known_guid(name);
  if (guid == NULL || !is_target(name, guid)) {
    char buf[VSB_GUID_STRING_LEN + 1];
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                "%s: %s%s%s is not a variable with signed updates (PK, KEK, db, dbx, dbt under "
                "their standard GUIDs)", u->origin, name, guid ? " " : "",
                guid ? vsb_guid_format(guid, buf) : "");
    return NULL;
  }
  if (opts->attributes && opts->attributes != VSB_AUTHVAR_ATTR_APPEND &&
      opts->attributes != VSB_AUTHVAR_ATTR_REPLACE) {
    g_set_error(error, VSB_AUTHVAR_ERROR, VSB_AUTHVAR_ERROR_REFUSED,
                "%s: attributes 0x%x: a signed update of %s is written with 0x27 (replace) or "
                "0x67 (append)", u->origin, opts->attributes, name);
    return NULL;
  }
  g_autoptr(VsbAuthvarResult) r = g_new0(VsbAuthvarResult, 1);
  r->variable = g_strdup(name);
  r->guid = *guid;
  r->signer = g_strdup(u->signer);
  g_autoptr(GError) auth_error = NULL;
  if (!authenticate(store, u, name, opts->attributes, r, &auth_error)) {
    if (!opts->unsigned_ok) {
      g_propagate_error(error, g_steal_pointer(&auth_error));
      return NULL;
    }
    /* Applied anyway, on the caller's word: say so, and keep the attributes the signature
     * covers when that much was established. */
    r->unverified_reason = g_strdup(auth_error->message);
    if (r->attributes == 0)
      r->attributes = opts->attributes ? opts->attributes : VSB_AUTHVAR_ATTR_APPEND;
  }
  if (!compute_write(store, u, r, out, error))
    return NULL;
  return g_steal_pointer(&r);
}

VsbAuthvarResult *
vsb_authvar_verify(const VsbVarstore *store, const VsbAuthvarUpdate *update, const char *name,
                   const VsbGuid *guid, const VsbAuthvarOptions *opts, GError **error)
{
  g_autoptr(VsbVariable) var = NULL;
  return run(store, update, name, guid, opts, &var, error);
}

VsbAuthvarResult *
vsb_authvar_apply(VsbVarstore *store, const VsbAuthvarUpdate *update, const char *name,
                  const VsbGuid *guid, const VsbAuthvarOptions *opts, GError **error)
{
  g_autoptr(VsbVariable) var = NULL;
  VsbAuthvarResult *r = run(store, update, name, guid, opts, &var, error);
  if (r == NULL || !r->changed)
    return r;
  if (r->mode == VSB_AUTHVAR_DELETE)
    vsb_varstore_delete(store, r->variable, &r->guid);
  else
    vsb_varstore_set(store, g_steal_pointer(&var));
  return r;
}
