/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: X.509 certificates and private keys as opaque handles. The API hands certificates
 * over as these or as DER bytes, never as OpenSSL objects, so a program does not depend on the
 * OpenSSL libvsboot was built with. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>

VSB_BEGIN_DECLS

/* A parsed X.509 certificate; reference-counted, immutable. */
typedef struct _VsbCertificate VsbCertificate;

/* A certificate from its DER bytes; errors (VSB_ERROR_PARSE) say why it does not decode. */
VsbCertificate *vsb_certificate_new_from_der(const guint8 *der, gsize len, GError **error);
/* The first certificate of a PEM or DER file; errors name the file. */
VsbCertificate *vsb_certificate_load(const char *path, GError **error);
/* Every certificate of a PEM file (one or more CERTIFICATE blocks) or the one of a DER file,
 * as VsbCertificate* (the array frees them). */
GPtrArray *vsb_certificate_load_all(const char *path, GError **error);
VsbCertificate *vsb_certificate_ref(VsbCertificate *cert);
void vsb_certificate_unref(VsbCertificate *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbCertificate, vsb_certificate_unref)

/* The DER encoding (as it was read). */
GBytes *vsb_certificate_get_der(const VsbCertificate *cert);
/* One-line RFC 2253 names of the subject and the issuer (newly allocated, valid UTF-8). */
char *vsb_certificate_get_subject(const VsbCertificate *cert);
char *vsb_certificate_get_issuer(const VsbCertificate *cert);
/* Lower-case hex SHA-256 of the DER encoding (newly allocated). */
char *vsb_certificate_get_sha256(const VsbCertificate *cert);
/* notBefore and notAfter as "YYYY-MM-DDTHH:MM:SSZ", or NULL when the field is unreadable.
 * The firmware does not check them (see authenticode.h); they are for reports. */
char *vsb_certificate_get_not_before(const VsbCertificate *cert);
char *vsb_certificate_get_not_after(const VsbCertificate *cert);
/* What `vsboot vars show` reports for a certificate: subject, issuer, serial, not-before,
 * not-after, sha256, expired and, for a well-known one, "known" (its name). */
JsonNode *vsb_certificate_describe(const VsbCertificate *cert);
/* The name vsboot knows a well-known certificate by (by subject CN), or NULL. */
const char *vsb_certificate_known_name(const VsbCertificate *cert);
/* TRUE when the DER encodings are identical. */
gboolean vsb_certificate_equal(const VsbCertificate *a, const VsbCertificate *b);

/* A private key (RSA or EC) for signing. */
typedef struct _VsbPrivateKey VsbPrivateKey;

/* An unencrypted PEM or DER private key file (errors name the file). */
VsbPrivateKey *vsb_private_key_load(const char *path, GError **error);
void vsb_private_key_free(VsbPrivateKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbPrivateKey, vsb_private_key_free)
/* TRUE when key is the private half of cert's public key. */
gboolean vsb_private_key_matches(const VsbPrivateKey *key, const VsbCertificate *cert);

VSB_END_DECLS
