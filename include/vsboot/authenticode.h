/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: Authenticode signatures of PE images, judged the way the firmware judges them.
 *
 * Verification reproduces edk2's DxeImageVerificationHandler (SecurityPkg/Library/
 * DxeImageVerificationLib) and AuthenticodeVerify/Pkcs7Verify (CryptoPkg BaseCryptLib) step
 * by step, so that the verdict is the one OVMF reaches at LoadImage():
 *   - an unsigned image is allowed only when one of its SHA-1/256/384/512 hashes is in db and
 *     none is in dbx;
 *   - for each WIN_CERTIFICATE holding PKCS#7 (in table order), the digest algorithm is the
 *     OID at byte 32 of the PKCS#7 blob, as edk2 reads it; the image is hashed with it;
 *   - denied if the signature verifies against an X.509 certificate in dbx, if a signer
 *     certificate's TBS hash is an X509_SHA256/384/512 entry of dbx, or if the image hash is
 *     in dbx; with a dbx present, a PKCS#7 blob whose signers cannot be read also denies;
 *   - allowed if the signature verifies against an X.509 certificate in db (the embedded
 *     SpcIndirectDataContent digest must equal the image hash; the chain may end at any
 *     certificate that is in db — X509_V_FLAG_PARTIAL_CHAIN —, validity dates and key usage
 *     are not checked) whose own TBS hash is not in dbx, or if the image hash is in db;
 *   - otherwise denied.
 * Time-stamp exemptions through dbt (a revoked certificate with a revocation time and a
 * counter-signature older than it) are not evaluated: such a certificate counts as revoked,
 * which is what edk2 does when there is no dbt.
 *
 * Signing makes the signature sbsign makes: PKCS#7 SignedData over SpcIndirectDataContent
 * (SPC_PE_IMAGE_DATA, SHA-256 image digest), signed attributes contentType, signingTime,
 * SMIMECapabilities and messageDigest (OpenSSL's defaults, which Debian's sbsign keeps), the
 * signer certificate included; appended as a further WIN_CERTIFICATE. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/certificate.h"
#include "vsboot/pe.h"

VSB_BEGIN_DECLS

/* One entry of the certificate table, decoded as far as it goes. */
typedef struct {
  guint index;               /* position in the certificate table */
  gsize offset;              /* of its WIN_CERTIFICATE header */
  guint16 revision;
  guint16 cert_type;
  GBytes *pkcs7;             /* the DER PKCS#7 blob; NULL for entries that hold none */
  char *error;               /* why it could not be decoded (then the fields below are unset) */
  gboolean digest_known;     /* SpcIndirectDataContent names a digest vsboot knows */
  VsbPeDigest digest;
  char *digest_oid;          /* the digest algorithm as written (dotted OID) */
  GBytes *embedded_digest;   /* the image hash the signer signed */
  char *content_type;        /* "1.3.6.1.4.1.311.2.1.4" for Authenticode */
  VsbCertificate *signer;    /* the signer's certificate, from the PKCS#7 */
  GPtrArray *chain;          /* VsbCertificate*: the signer, then each issuer the PKCS#7 holds */
  guint n_certificates;      /* certificates in the PKCS#7 (the chain and any others) */
} VsbAuthenticodeSig;

void vsb_authenticode_sig_free(VsbAuthenticodeSig *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuthenticodeSig, vsb_authenticode_sig_free)

/* Every entry of the image's certificate table (VsbAuthenticodeSig*), decoded; an entry that
 * is not valid PKCS#7 has error set rather than failing the call. */
GPtrArray *vsb_authenticode_get_signatures(const VsbPeImage *image);

/* What became of one signature during verification. */
typedef struct {
  guint index;               /* certificate table entry */
  char *status;              /* "skipped", "forbidden", "allowed", "not-allowed" */
  char *detail;              /* one sentence */
  gboolean digest_known;
  VsbPeDigest digest;
  char *image_hash;          /* hex, in that digest */
  gboolean digest_matches;   /* the embedded digest equals the image hash */
  char *signer;              /* subject of the signer's certificate, or NULL */
  char *signer_issuer;       /* its issuer */
} VsbAuthenticodeSigResult;

typedef struct {
  gboolean allowed;
  char *reason;              /* one sentence naming what decided */
  int signature;             /* certificate table entry that decided, or -1 */
  const char *database;      /* "db", "dbx" or NULL */
  int entry;                 /* index of the deciding entry in that database, or -1 */
  char *entry_desc;          /* the entry: certificate subject, or "sha256:HEX" */
  gboolean is_signed;
  char *sha256;              /* the image's SHA-256 Authenticode hash, hex */
  GPtrArray *signatures;     /* VsbAuthenticodeSigResult* */
} VsbAuthenticodeVerdict;

void vsb_authenticode_verdict_free(VsbAuthenticodeVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuthenticodeVerdict, vsb_authenticode_verdict_free)

/* Judge image against db and dbx (VsbSigEntry* arrays, see siglist.h). NULL stands for a
 * variable that does not exist, which edk2 treats differently from an empty one. Fails only
 * when the judgement cannot be made (OpenSSL failure). */
VsbAuthenticodeVerdict *vsb_authenticode_verify(const VsbPeImage *image, const GPtrArray *db,
                                                const GPtrArray *dbx, GError **error);

/* The image with a new SHA-256 Authenticode signature by cert/key appended (extra_certs,
 * VsbCertificate*, may be NULL: added to the PKCS#7 as intermediates). Refuses a key that
 * does not match the certificate (certificate.h loads both). */
GBytes *vsb_authenticode_sign(const VsbPeImage *image, const VsbCertificate *cert,
                              const VsbPrivateKey *key, const GPtrArray *extra_certs,
                              GError **error);

VSB_END_DECLS
