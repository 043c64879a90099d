/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: a Secure Boot key hierarchy of one's own. PK, KEK and db RSA key pairs with
 * self-signed X.509 certificates and an owner GUID, for users who do not want to trust a
 * vendor's PK. The db key is what signs boot images (sbsign --key db.key --cert db.crt). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/guid.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_KEY_PK,
  VSB_KEY_KEK,
  VSB_KEY_DB,
  VSB_KEY_N_ROLES,
} VsbKeyRole;

/* "PK", "KEK", "db": also the file name stem (PK.key, PK.crt, ...). */
const char *vsb_key_role_name(VsbKeyRole role);

typedef struct {
  VsbKeyRole role;
  char *key_path;      /* PEM PKCS#8 private key, mode 0600 */
  char *cert_path;     /* PEM certificate, mode 0644 */
  char *subject;       /* one-line RFC 2253 subject, "CN=<name> PK" */
  char *serial;        /* hex */
  char *not_before;    /* "2026-11-23T17:20:00Z" */
  char *not_after;
  char *sha256;        /* fingerprint of the DER certificate, lower-case hex */
} VsbKeyPair;

typedef struct {
  char *dir;
  char *common_name;
  guint bits;
  VsbGuid owner;       /* random version-4 GUID, also written to DIR/owner.guid */
  char *owner_path;
  VsbKeyPair pairs[VSB_KEY_N_ROLES];
} VsbKeySet;

/* Generate PK, KEK and db (RSA of 2048, 3072 or 4096 bits; SHA-256 signatures; valid for
 * ten years from now; random 128-bit serial) and an owner GUID into dir, which is created
 * when missing. Certificates: "<common_name> PK" / "KEK" / "db" (common_name NULL: "vsboot";
 * a blank one is refused); PK and KEK are CA
 * certificates (keyCertSign), db is a code-signing leaf (digitalSignature, codeSigning).
 * Refuses (VSB_ERROR_EXISTS) when any of the seven files already exists; on failure no file
 * of the set is left behind. */
VsbKeySet *vsb_keys_generate(const char *dir, const char *common_name, guint bits,
                             GError **error);
void vsb_key_set_free(VsbKeySet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbKeySet, vsb_key_set_free)

VSB_END_DECLS
