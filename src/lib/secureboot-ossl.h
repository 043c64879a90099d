/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the OpenSSL side of secureboot.h, for libvsboot's own modules, the CLI and tests. Not
 * installed: no public header carries an OpenSSL type. Public callers enroll certificates as
 * VsbCertificate handles (vsb_enroll_set_pk_certificate, vsb_enroll_add_certificate). */
#pragma once

#include "vsboot/secureboot.h"

#include <openssl/x509.h>

G_BEGIN_DECLS

/* Replace PK with one X.509 list holding cert. */
gboolean vsb_enroll_set_pk(VsbEnroll *enroll, X509 *cert, const VsbGuid *owner, GError **error);
/* Append cert to KEK, db or dbx as its own X.509 list; a certificate already there (same DER)
 * is skipped and reported as "skip". */
gboolean vsb_enroll_add_cert(VsbEnroll *enroll, VsbSbVariable var, X509 *cert,
                             const VsbGuid *owner, GError **error);

/* Everything one enrollment does. vsb_enroll_apply runs it in this one fixed order, whatever
 * order the caller gathered it in, so that every caller (vars enroll, provision) enrolls alike:
 *   1. delete_names: every variable of each name deleted;
 *   2. copy_from: copy_names (NULL: KEK, db and dbx, each skipped when copy_from lacks it;
 *      named ones are required) copied over ours;
 *   3. pk: PK replaced;
 *   4. microsoft: Microsoft's CAs (a VsbMsCertSet of mscerts.h), KEK first;
 *   5. kek, then db: certificates appended (X509*, borrowed), each as its own list;
 *   6. db_hashes: SHA-256 image hashes added to db;
 *   7. updates: the caller's signed (AUTH_2) updates, verified against the store as it is at
 *      this point (a new KEK may be what trusts them; a signed dbx update precedes local dbx
 *      entries), through a callback so that this module does not depend on authvar.h;
 *   8. dbx: certificates, then dbx_hashes;
 *   9. secure_boot: 1 on, 0 off (vsb_enroll_set_secure_boot), -1 left as it is.
 * Hashes are GArrays of 32-byte elements. Every step that is NULL, 0 or empty is skipped; owner
 * is the owner GUID of every certificate and hash but Microsoft's (NULL: the zero GUID). The
 * first failing step stops it with its error; the store may then hold the earlier steps (work
 * on a copy, or do not save it). */
typedef gboolean (*VsbEnrollUpdatesFunc)(VsbVarstore *store, gpointer user_data, GError **error);

typedef struct {
  const char *const *delete_names;
  const VsbVarstore *copy_from;
  const char *const *copy_names;
  X509 *pk;
  guint microsoft;
  GPtrArray *kek, *db, *dbx;          /* X509* */
  GArray *db_hashes, *dbx_hashes;     /* guint8[32] */
  VsbEnrollUpdatesFunc updates;
  gpointer updates_data;
  int secure_boot;
  const VsbGuid *owner;
} VsbEnrollSteps;

/* The steps with nothing to do (secure_boot -1). */
#define VSB_ENROLL_STEPS_INIT { .secure_boot = -1 }

gboolean vsb_enroll_apply(VsbEnroll *enroll, const VsbEnrollSteps *steps, GError **error);

/* The X.509 notBefore as EFI_TIME (nanoseconds, zone and daylight zero). */
gboolean vsb_efi_time_from_asn1(const ASN1_TIME *t, VsbEfiTime *out);

G_END_DECLS
