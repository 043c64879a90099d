/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the OpenSSL side of efivar.h, for libvsboot's own modules, the CLI and tests. Not
 * installed: no public header carries an OpenSSL type. Public callers use
 * vsb_certificate_describe and vsb_certificate_known_name. */
#pragma once

#include "vsboot/efivar.h"

#include <openssl/x509.h>

G_BEGIN_DECLS

/* One X.509 certificate: subject, issuer, serial, not-before, not-after, sha256, expired and,
 * for well-known certificates, "known" (their name). */
JsonNode *vsb_cert_describe(X509 *cert);
/* Name of a well-known certificate (by subject CN, see vsb_known_cert_*), or NULL. */
const char *vsb_known_cert_name(X509 *cert);

G_END_DECLS
