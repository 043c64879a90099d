/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Secure Boot judgement: edk2's boot-time decisions over a loaded store (see sbjudge.h for
 * the rules and where in edk2 each comes from). */
#include "vsboot/sbjudge.h"
#include "vsboot/guid.h"
#include "util/enumname.h"

#include <stdarg.h>

/* AUTHENTICATED_VARIABLE_HEADER + L"SecureBootEnable" + one byte, 4-aligned; plus a margin for
 * the hardware-error share of the store that UpdateVariable keeps apart (PcdHwErrStorageSize). */
#define SBE_RECORD_SIZE 96u
#define SBE_ROOM_MARGIN 0x1000u

/* Indexed by VsbSecureBootMode and VsbSbVerdict. */
static const char *const mode_names[] = { "setup", "user", "disabled" };
VSB_ENUM_NAMES(vsb_secure_boot_mode, VsbSecureBootMode, mode_names, VSB_SB_MODE_DISABLED + 1,
               "unknown")
static const char *const verdict_names[] = { "enforced", "not-enforced", "uncertain" };
VSB_ENUM_NAME_ONLY(vsb_sb_verdict, VsbSbVerdict, verdict_names, VSB_SB_VERDICT_UNCERTAIN + 1,
                   "unknown")

void
vsb_sb_judgement_free(VsbSbJudgement *j)
{
  if (j == NULL)
    return;
  g_free(j->reason);
  g_free(j);
}

static VsbSbJudgement *judged(VsbSbVerdict verdict, VsbSecureBootMode mode, int secure_boot,
                              int setup_mode, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static VsbSbJudgement *
judged(VsbSbVerdict verdict, VsbSecureBootMode mode, int secure_boot, int setup_mode,
       const char *fmt, ...)
{
  VsbSbJudgement *j = g_new0(VsbSbJudgement, 1);
  j->verdict = verdict;
  j->mode = mode;
  j->secure_boot = secure_boot;
  j->setup_mode = setup_mode;
  va_list ap;
  va_start(ap, fmt);
  j->reason = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  return j;
}

/* Rule 4 in user mode: the SecureBootEnable byte decides. */
static VsbSbJudgement *
judge_user_mode(const VsbVarstore *store, const VsbVariable *pk)
{
  const VsbVariable *sbe =
    vsb_varstore_lookup(store, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  if (sbe == NULL) {
    /* The firmware creates SecureBootEnable = 1; if that write fails, AuthVariableLibInitialize
     * returns before it makes SecureBoot, and nothing is verified. */
    gsize room = vsb_varstore_get_capacity(store) - MIN(vsb_varstore_get_used(store),
                                                        vsb_varstore_get_capacity(store));
    if (room < SBE_RECORD_SIZE + SBE_ROOM_MARGIN)
      return judged(VSB_SB_VERDICT_UNCERTAIN, VSB_SB_MODE_USER, -1, 0,
                    "PK is enrolled but SecureBootEnable is missing, and with %zu bytes free the "
                    "firmware may fail to create it, in which case it verifies nothing", room);
    return judged(VSB_SB_VERDICT_ENFORCED, VSB_SB_MODE_USER, 1, 0,
                  "PK is enrolled and SecureBootEnable is missing, which the firmware creates "
                  "as 1 in user mode");
  }
  int value = vsb_varstore_first_data_byte(store, sbe);
  gsize size = g_bytes_get_size(sbe->data);
  g_autofree char *where = sbe->offset ? g_strdup_printf(" (record at 0x%zx)", sbe->offset)
                                       : g_strdup("");
  if (value == 1)
    return judged(VSB_SB_VERDICT_ENFORCED, VSB_SB_MODE_USER, 1, 0,
                  "PK is enrolled and SecureBootEnable%s reads 1%s", where,
                  size == 0 ? " (DataSize 0: the firmware reads the byte after its name)" : "");
  return judged(VSB_SB_VERDICT_NOT_ENFORCED, VSB_SB_MODE_DISABLED, 0, 0,
                "SecureBootEnable%s reads 0x%02x%s; the firmware enables Secure Boot only for "
                "exactly 1", where, value,
                size == 0 ? " (DataSize 0: the firmware reads the byte after its name)" : "");
}

VsbSbJudgement *
vsb_sb_judge(const VsbVarstore *store)
{
  VsbVarstoreBootFacts facts;
  vsb_varstore_get_boot_facts(store, &facts);
  if (facts.reformat)
    return judged(VSB_SB_VERDICT_NOT_ENFORCED, VSB_SB_MODE_SETUP, 0, 1,
                  "OVMF's flash driver rejects this volume (%s): Debian's OVMF 2022.11 then "
                  "stops at boot with a CPU exception (tests/sbdiff), and a build that recovers "
                  "erases the store and starts in setup mode; either way nothing is enforced",
                  facts.reformat);
  if (facts.ftw_pending)
    return judged(VSB_SB_VERDICT_UNCERTAIN, VSB_SB_MODE_DISABLED, -1, -1,
                  "the fault-tolerant-write area holds a write the firmware may replay over the "
                  "variables at boot; vsboot does not derive its result");
  if (facts.duplicate)
    return judged(VSB_SB_VERDICT_UNCERTAIN, VSB_SB_MODE_DISABLED, -1, -1,
                  "variable %s has several live (0x3F) records; OVMF 2022.11 did not finish "
                  "booting with such stores (tests/sbdiff: duplicate SecureBootEnable or PK)",
                  facts.duplicate);
  if (facts.tail_header)
    return judged(VSB_SB_VERDICT_UNCERTAIN, VSB_SB_MODE_DISABLED, -1, -1,
                  "a variable header runs past the end of the store; the firmware reads it from "
                  "memory beyond the store");
  if (!vsb_varstore_is_authenticated(store))
    return judged(VSB_SB_VERDICT_NOT_ENFORCED, VSB_SB_MODE_DISABLED, -1, -1,
                  "the store uses the non-authenticated variable format: the variable driver "
                  "runs without AuthVariableLib, no SecureBoot variable exists, and no image is "
                  "verified");
  const VsbVariable *pk = vsb_varstore_lookup(store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  if (pk == NULL)
    return judged(VSB_SB_VERDICT_NOT_ENFORCED, VSB_SB_MODE_SETUP, 0, 1,
                  "no PK (no live PK record): the firmware is in setup mode and verifies nothing");
  return judge_user_mode(store, pk);
}
