/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: Secure Boot enrollment into a variable store, offline. Entries are written exactly as
 * virt-fw-vars writes them (raw EFI_SIGNATURE_LISTs, no AUTH_2 descriptor; attributes 0x27 for
 * PK/KEK/db/dbx and 0x03 for SecureBootEnable/CustomMode; one X.509 list per certificate and
 * one shared SHA-256 list), because the stored time stamp is what later signed updates are
 * compared against (AuthService.c refuses an update that is not newer). Time stamps, as
 * virt-fw-vars sets them, only move forward:
 *   - adding a certificate: the latest notBefore among the variable's certificates;
 *   - replacing PK: 2010-01-01, then the certificate's notBefore;
 *   - the placeholder dbx: 2010-01-01;
 *   - adding a hash: now (UTC);
 *   - a signed dbx update: the update's own time stamp.
 * Every operation either changes the store as described or leaves it untouched with an error. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/certificate.h"
#include "vsboot/guid.h"
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_SB_PK,
  VSB_SB_KEK,
  VSB_SB_DB,
  VSB_SB_DBX,
} VsbSbVariable;

/* "PK", "KEK", "db", "dbx", and their GUIDs (EFI_GLOBAL_VARIABLE / IMAGE_SECURITY_DATABASE). */
const char *vsb_sb_variable_name(VsbSbVariable var);
const VsbGuid *vsb_sb_variable_guid(VsbSbVariable var);
/* The GUID a well-known Secure Boot variable lives under (PK, KEK, db, dbx, dbt, dbr,
 * SecureBootEnable, CustomMode, VendorKeysNv, certdb), or NULL. */
const VsbGuid *vsb_sb_known_guid(const char *name);

#define VSB_SB_AUTH_ATTRIBUTES 0x27u /* NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE */
#define VSB_SB_BOOL_ATTRIBUTES 0x03u /* NV | BS */

/* One thing an enrollment did, for reports. */
typedef struct {
  char *action;      /* "set", "add", "skip", "replace", "create", "copy", "delete" */
  char *variable;    /* "KEK", ... */
  VsbGuid guid;      /* the variable's GUID */
  char *detail;      /* certificate subject, hash, value, source, reason */
} VsbEnrollChange;

typedef struct _VsbEnroll VsbEnroll;

/* An editor over store (borrowed; it must outlive the editor). */
VsbEnroll *vsb_enroll_new(VsbVarstore *store);
void vsb_enroll_free(VsbEnroll *enroll);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbEnroll, vsb_enroll_free)

/* The "now" stamped on hash additions; by default the clock when the editor was made. */
void vsb_enroll_set_now(VsbEnroll *enroll, const VsbEfiTime *now);
/* What was done so far, in order (VsbEnrollChange*, owned by the editor). */
GPtrArray *vsb_enroll_get_changes(const VsbEnroll *enroll);

/* Replace PK with one X.509 list holding cert. */
gboolean vsb_enroll_set_pk_certificate(VsbEnroll *enroll, const VsbCertificate *cert,
                                       const VsbGuid *owner, GError **error);
/* Append cert to KEK, db or dbx as its own X.509 list; a certificate already there (same DER)
 * is skipped and reported as "skip". */
gboolean vsb_enroll_add_certificate(VsbEnroll *enroll, VsbSbVariable var,
                                    const VsbCertificate *cert, const VsbGuid *owner,
                                    GError **error);

/* Add Microsoft's CA certificates of set (a VsbMsCertSet of mscerts.h: bit (1 << id) per
 * certificate), each with Microsoft's owner GUID into the variable it belongs in (KEK or db),
 * KEK first. The shipped files are read and checked against their compiled SHA-256 before
 * anything changes; a certificate already there (same DER) is skipped, so a second run changes
 * nothing. */
gboolean vsb_enroll_add_microsoft(VsbEnroll *enroll, guint set, GError **error);
/* Add a SHA-256 image hash to db or dbx, into the variable's first SHA-256 list (made when
 * there is none); a hash already there is skipped. */
gboolean vsb_enroll_add_hash(VsbEnroll *enroll, VsbSbVariable var, const guint8 sha256[32],
                             const VsbGuid *owner, GError **error);
/* Replace dbx with the signature lists of a signed update (EFI_VARIABLE_AUTHENTICATION_2 with
 * a PKCS#7 WIN_CERTIFICATE_UEFI_GUID, as Microsoft's dbxupdate.bin), keeping its time stamp.
 * origin names the file in messages. The signature is not verified: the firmware never sees
 * it, the store is written directly. */
gboolean vsb_enroll_apply_dbx_update(VsbEnroll *enroll, const guint8 *data, gsize len,
                                     const char *origin, GError **error);
/* Copy the variable name (under its well-known GUID, else the first of that name) from another
 * store, replacing ours. Missing in from: an error when required, else reported as "skip". */
gboolean vsb_enroll_copy(VsbEnroll *enroll, const VsbVarstore *from, const char *name,
                         gboolean required, GError **error);
/* Delete every variable called name; VSB_ERROR_NOT_FOUND when there is none. */
gboolean vsb_enroll_delete(VsbEnroll *enroll, const char *name, GError **error);
/* on: the placeholder dbx (one SHA-256 entry of the empty string, owner OvmfEnrollDefaultKeys)
 * when there is no dbx, SecureBootEnable=1, CustomMode=0. off: SecureBootEnable=0. Note that
 * OVMF enforces whenever PK is present and SecureBootEnable is not 0 (AuthVariableLib.c). */
gboolean vsb_enroll_set_secure_boot(VsbEnroll *enroll, gboolean on, GError **error);

/* What is wrong with the result though every step succeeded (strings, newly allocated array):
 * Secure Boot switched on without a PK (setup mode: nothing is verified), an authenticated
 * variable larger than OVMF accepts in an update (PcdMaxAuthVariableSize: 0x2800 bytes in
 * 2M builds, 0x8400 in 4M builds, header and name included), PK without exactly one
 * certificate. */
GPtrArray *vsb_enroll_check(const VsbEnroll *enroll);

/* <0, 0, >0 ordering by date and time (zone and daylight ignored, as virt-fw-vars does). */
int vsb_efi_time_compare(const VsbEfiTime *a, const VsbEfiTime *b);

VSB_END_DECLS
