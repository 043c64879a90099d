/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the OpenSSL side of siglist.h, for libvsboot's own modules, the CLI and tests. Not
 * installed: no public header carries an OpenSSL type. Public callers use certificate.h:
 * VsbCertificate handles and DER. */
#pragma once

#include "vsboot/siglist.h"

#include <openssl/x509.h>

G_BEGIN_DECLS

/* A certificate in PEM or DER, from a file; errors name the file and what is wrong. */
X509 *vsb_cert_load(const char *path, GError **error);
X509 *vsb_cert_from_der(const guint8 *der, gsize len, GError **error);
GBytes *vsb_cert_to_der(X509 *cert);
/* Every certificate of a PEM file (one or more CERTIFICATE blocks) or the one of a DER file. */
GPtrArray *vsb_cert_load_all(const char *path, GError **error); /* X509*, freed with X509_free */

/* What a DER certificate says about itself (names, serial, validity), read without decoding
 * its public key: OpenSSL 3's d2i_X509 turns the subjectPublicKeyInfo into an EVP_PKEY on the
 * way, which was most of the cost of `vars show`, and describing a certificate needs none of
 * it. Accepts exactly what vsb_cert_from_der accepts and fails with the same message. */
typedef struct VsbCertInfo VsbCertInfo;
VsbCertInfo *vsb_cert_info_from_der(const guint8 *der, gsize len, GError **error);
void vsb_cert_info_free(VsbCertInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCertInfo, vsb_cert_info_free)
/* What vsb_cert_to_der writes for the X509 of the same DER: the TBSCertificate as read, the
 * rest re-encoded (so not always the bytes given). NULL when OpenSSL cannot encode it. */
GBytes *vsb_cert_info_to_der(const VsbCertInfo *info);
/* Owned by info. */
const X509_NAME *vsb_cert_info_subject(const VsbCertInfo *info);
const X509_NAME *vsb_cert_info_issuer(const VsbCertInfo *info);
const ASN1_INTEGER *vsb_cert_info_serial(const VsbCertInfo *info);
const ASN1_TIME *vsb_cert_info_not_before(const VsbCertInfo *info);
const ASN1_TIME *vsb_cert_info_not_after(const VsbCertInfo *info);

G_END_DECLS
