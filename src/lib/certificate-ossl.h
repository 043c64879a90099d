/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the OpenSSL side of certificate.h, for libvsboot's own modules and the CLI (not
 * installed): a handle from an X509 and back, and names of a bare X509. */
#pragma once

#include "vsboot/certificate.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

/* A handle holding its own reference to x (X509_up_ref); NULL for NULL. */
VsbCertificate *vsb_certificate_new_x509(X509 *x);
/* The X509 inside (borrowed: valid while the handle is). */
X509 *vsb_certificate_get_x509(const VsbCertificate *cert);
/* The EVP_PKEY inside (borrowed). */
EVP_PKEY *vsb_private_key_get_evp(const VsbPrivateKey *key);

/* One-line RFC 2253 text of a name, UTF-8 (invalid sequences replaced: it ends up in JSON);
 * the one way vsboot shows a certificate's names. Newly allocated. */
char *vsb_x509_name_text(const X509_NAME *name);
/* A serial number as lower-case hex without leading zeros ("" when unreadable), as every
 * report shows it. Newly allocated. */
char *vsb_x509_serial_text(const ASN1_INTEGER *serial);
/* Lower-case hex SHA-256 of a certificate's DER, or NULL when it cannot be encoded. */
char *vsb_x509_sha256_text(X509 *cert);
/* The same for a certificate's subject / issuer. */
char *vsb_x509_subject(X509 *cert);
char *vsb_x509_issuer(X509 *cert);

G_END_DECLS
