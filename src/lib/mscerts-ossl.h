/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the OpenSSL side of mscerts.h, for libvsboot's own modules, the CLI and tests. Not
 * installed: no public header carries an OpenSSL type. Public callers use vsb_ms_cert_der, or
 * vsb_certificate_new_from_der on it. */
#pragma once

#include "vsboot/mscerts.h"

#include <openssl/x509.h>

G_BEGIN_DECLS

/* The same, decoded. */
X509 *vsb_ms_cert_load(VsbMsCertId id, GError **error);

G_END_DECLS
