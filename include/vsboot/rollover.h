/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: changing KEK/db/dbx without bricking the VM. Two guards a caller runs around an edit
 * of a store (vars enroll, fleet rollover):
 *  - boot checks: EFI images the VM boots (shim, GRUB, the Windows boot manager), judged
 *    against the store's db and dbx as the firmware's DxeImageVerificationLib does
 *    (authenticode.h), before and after; an image that verified before and not after is a
 *    refusal naming the image and the db/dbx entry that now decides against it;
 *  - Microsoft's warning about DBXUpdate2024.bin: a dbx that newly revokes Microsoft Windows
 *    Production PCA 2011 while db lacks Windows UEFI CA 2023 stops every Windows boot manager
 *    from booting (both signed before 2024 and, lacking the new CA, after).
 * Both refusals are VSB_ERROR_INVALID and leave deciding what to write to the caller. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/pe.h"
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

typedef struct _VsbBootCheck VsbBootCheck;

/* Judge every image (VsbPeImage*, borrowed; names[i] is how messages call it) against store as
 * it is now. Fails only when an image cannot be judged (malformed db/dbx, OpenSSL failure). */
VsbBootCheck *vsb_boot_check_new(const VsbVarstore *store, GPtrArray *images,
                                 const char *const *names, GError **error);
void vsb_boot_check_free(VsbBootCheck *check);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbBootCheck, vsb_boot_check_free)
/* Judge the images again against the edited store: FALSE (VSB_ERROR_INVALID) when one that was
 * allowed before is denied now, naming it and the entry that denies it. */
gboolean vsb_boot_check_after(VsbBootCheck *check, const VsbVarstore *store, GError **error);
/* One line per image: "NAME: allowed before, allowed after (db entry 3 ...)". */
GPtrArray *vsb_boot_check_report(const VsbBootCheck *check);

/* TRUE when going from a store whose Windows Production PCA 2011 was not revoked
 * (pca2011_revoked_before FALSE) to after would revoke it while after lacks Windows UEFI CA
 * 2023 in db: VSB_ERROR_INVALID saying so. */
gboolean vsb_rollover_check_pca2011(gboolean pca2011_revoked_before, const VsbVarstore *after,
                                    GError **error);
/* Whether store's dbx revokes Windows Production PCA 2011 now. */
gboolean vsb_rollover_pca2011_revoked(const VsbVarstore *store);

/* ---- adding the 2023 CAs (vars enroll --microsoft, fleet --rollover 2023) ------------------ */

/* The Microsoft 2023 CAs store lacks: the 2023 successors (VsbMsCert.successors) of every 2011
 * CA it trusts (enrolled, not revoked) that are not enrolled already. A store that trusts no
 * Microsoft CA gets none: the rollover carries existing trust forward and never adds trust in
 * Microsoft to a VM that had none. A VsbMsCertSet of mscerts.h. */
guint vsb_rollover_2023_missing(const VsbVarstore *store);

/* Add set (a VsbMsCertSet) to store as `vars enroll --microsoft` does (vsb_enroll_add_microsoft:
 * Microsoft's owner GUID, KEK first, the shipped DER files checked against their compiled
 * SHA-256) and apply Microsoft's PCA 2011 rule (vsb_rollover_check_pca2011). set must hold
 * only certificates the store lacks (vsb_rollover_2023_missing). changes (may be NULL) receives
 * one line per certificate ("KEK: add Microsoft Corporation KEK 2K CA 2023 (kek-2023)"). On an error the store may be half-edited: callers edit a copy, or discard it. */
gboolean vsb_rollover_add(VsbVarstore *store, guint set, GPtrArray **changes, GError **error);

typedef enum {
  VSB_ROLLOVER_UP_TO_DATE,   /* nothing to add */
  VSB_ROLLOVER_NOT_MICROSOFT,/* trusts no Microsoft CA: nothing is added */
  VSB_ROLLOVER_WOULD_CHANGE, /* a dry run that found something to add */
  VSB_ROLLOVER_CHANGED,      /* written */
} VsbRolloverStatus;
const char *vsb_rollover_status_name(VsbRolloverStatus status);
/* "up-to-date", "not-microsoft", "would-change", "changed" */

/* The rollover of one varstore file, whole or not at all: unless dry_run, the edit lock of the
 * real file is taken (vsb_varstore_lock_edit: a file a running QEMU holds is VSB_ERROR_BUSY and
 * is never written), the store is loaded, the missing 2023 CAs are added and, unless dry_run,
 * the file is replaced atomically keeping its mode and owner (vsb_varstore_save_full). changes as vsb_rollover_add. Untouched on every error and in a dry run. */
gboolean vsb_rollover_file(const char *path, gboolean dry_run, VsbRolloverStatus *status,
                           GPtrArray **changes, GError **error);

VSB_END_DECLS
