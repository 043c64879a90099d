/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: will the firmware enforce Secure Boot with this variable store?
 *
 * The judgement replicates, decision for decision, what edk2 does with the store at boot (as
 * Debian's OVMF 2022.11 and ArmVirt builds run it); vars show, the audit and pe verify all use
 * it, and tests/sbdiff boots every rule's hostile variants under OVMF to hold it to the firmware:
 *  1. OVMF's flash driver (QemuFlashFvbServicesRuntimeDxe: ValidateFvHeader,
 *     InitializeVariableFvHeader) rejects a volume whose header does not match the build
 *     (Revision, FvLength, block size; ArmVirt's also the store Size): Debian's OVMF 2022.11
 *     then stops with a CPU exception, a build that recovers erases it (setup mode).
 *  2. The variable driver runs AuthVariableLib only for an authenticated-variable store
 *     (gEfiAuthenticatedVariableGuid); with the old format no SecureBoot variable is ever made
 *     and DxeImageVerificationLib verifies nothing.
 *  3. A variable is its first VAR_ADDED record, else its last in-deleted-transition one; a dirty
 *     free area makes the driver reclaim first, which promotes the first (varstore.c).
 *  4. AuthVariableLibInitialize: SetupMode = no PK (any PK record, whatever its size or data);
 *     in user mode SecureBootEnable is read as one byte (for DataSize 0, the byte after its
 *     name) and a missing one is created = 1; SecureBoot = (that byte == 1 && user mode).
 *     CustomMode is reset, and NV copies of SecureBoot/SetupMode/AuditMode/DeployedMode do not
 *     change the computed values.
 *  5. DxeImageVerificationLib verifies an image only when SecureBoot exists and is not 0.
 * Where the file holds something whose effect vsboot does not derive (a fault-tolerant write
 * the firmware may replay, a header past the store's end, a variable with several live
 * records (OVMF did not finish booting with them), no room for the SecureBootEnable the
 * firmware must create), the verdict is "uncertain": never "enforced". */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_SB_MODE_SETUP,     /* no PK (or the store is erased at boot): the firmware verifies nothing */
  VSB_SB_MODE_USER,      /* PK present, SecureBootEnable 1: OVMF enforces */
  VSB_SB_MODE_DISABLED,  /* PK present, but SecureBoot will not be 1 */
} VsbSecureBootMode;
/* The UEFI specification's mode names, the one vocabulary of every report and the state file:
 * "setup", "user", "disabled". */
const char *vsb_secure_boot_mode_name(VsbSecureBootMode mode);
int vsb_secure_boot_mode_from_name(const char *name); /* -1 when not one of those */

typedef enum {
  VSB_SB_VERDICT_ENFORCED,
  VSB_SB_VERDICT_NOT_ENFORCED,
  VSB_SB_VERDICT_UNCERTAIN,
} VsbSbVerdict;
const char *vsb_sb_verdict_name(VsbSbVerdict verdict); /* "enforced", "not-enforced", "uncertain" */

typedef struct {
  VsbSbVerdict verdict;
  VsbSecureBootMode mode;
  int secure_boot;          /* the SecureBoot value the firmware will publish: 1, 0, -1 = none */
  int setup_mode;           /* likewise SetupMode */
  char *reason;             /* one sentence: the rule that decided, with the record's offset */
} VsbSbJudgement;

VsbSbJudgement *vsb_sb_judge(const VsbVarstore *store);
void vsb_sb_judgement_free(VsbSbJudgement *judgement);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSbJudgement, vsb_sb_judgement_free)

VSB_END_DECLS
