/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: what the variables of a store mean. Decodes the types vsboot knows (booleans,
 * Boot####/BootOrder, Lang, device paths, signature lists and their certificates) and judges
 * the store's Secure Boot state the way OVMF's AuthVariableLib will at the next boot. The JSON
 * report is the single source of both `vars show` outputs. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/varstore.h"
#include "vsboot/sbjudge.h"
#include "vsboot/mscerts.h"

VSB_BEGIN_DECLS

/* "NV,BS,RT,AT" style short names of attribute bits (unknown bits as hex). */
char *vsb_efivar_attributes_text(guint32 attributes);
/* {"value": 39, "names": ["NON_VOLATILE", ...]} */
JsonNode *vsb_efivar_attributes_json(guint32 attributes);

/* An EFI device path as edk2-style text ("PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)");
 * malformed nodes end the text with "<malformed at N>" rather than failing. */
char *vsb_device_path_to_text(const guint8 *data, gsize len);

/* The decoded value of a known variable: an object with "type" (bool, uint16, boot-option,
 * boot-order, boot-number, string, device-path, signature-list) and its fields; NULL when the
 * variable's type is not known. Never fails: malformed data gives {"type": ..., "error": ...}. */
JsonNode *vsb_efivar_decode(const VsbVariable *var);

/* The well-known certificates vsboot reports by name. */
typedef struct {
  const char *id;           /* "ms-kek-ca-2011" */
  const char *name;         /* subject CN, "Microsoft Corporation KEK CA 2011" */
  const char *sha1;         /* SHA-1 of the DER, upper-case hex, or NULL when unknown */
} VsbKnownCert;


typedef struct {
  char *variable;           /* PK, KEK, db, dbx */
  char *subject;            /* one-line subject */
  char *subject_cn;
  char *sha256;             /* fingerprint, lower-case hex */
  char *not_after;          /* "2026-06-24T20:51:13Z" */
  gboolean expired;
  const VsbKnownCert *known; /* NULL when not a well-known certificate */
  gboolean fingerprint_match; /* known and the DER's SHA-1 is the published one */
} VsbSbCert;

typedef struct {
  VsbSecureBootMode mode;   /* as the firmware will compute it (sbjudge.h) */
  gboolean enforcing;       /* the judgement's verdict is "enforced" */
  VsbSbVerdict verdict;     /* enforced, not-enforced, or uncertain (never claimed enforced) */
  int secure_boot;          /* the SecureBoot value the firmware will publish; -1: none */
  char *reason;             /* the rule that decided */
  gboolean custom_mode;     /* CustomMode = 1 (the firmware resets it at boot) */
  guint n_pk, n_kek, n_db, n_dbx; /* signature entries */
  gboolean dbx_placeholder; /* dbx missing, empty, or only sha256("") */
  GPtrArray *certificates;  /* VsbSbCert*, PK, KEK, db, dbx in that order */
  GPtrArray *warnings;      /* char*; the rollover warnings of microsoft included */
  VsbMsState *microsoft;    /* which of Microsoft's CAs the store trusts (mscerts.h) */
} VsbSecureBootState;

VsbSecureBootState *vsb_secure_boot_state(const VsbVarstore *store);
/* Just the mode, as vsb_secure_boot_state() gives it, without reading any certificate. */
VsbSecureBootMode vsb_secure_boot_mode(const VsbVarstore *store);
void vsb_secure_boot_state_free(VsbSecureBootState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSecureBootState, vsb_secure_boot_state_free)
/* TRUE when a well-known certificate (by id) is enrolled in variable (NULL: any of them). */
gboolean vsb_secure_boot_has_known(const VsbSecureBootState *state, const char *id,
                                   const char *variable);
/* {"mode", "enforcing", "verdict", "secure-boot-variable", "reason", "custom-mode", "entries": {...}, "certificates": [...],
 *  "well-known": [...], "expired": [...], "dbx-placeholder", "microsoft": {"kek-2011":
 *  "enrolled"|"absent"|"revoked", ... the seven ids}, "microsoft-2011-without-successor",
 *  "warnings": [...]} */
JsonNode *vsb_secure_boot_state_to_json(const VsbSecureBootState *state);

/* The whole `vars show` report: file facts, store warnings, "variables" (live ones, or with
 * all_records every record of the file with its state; each dbx entry has "dbx-info":
 * {"kind", "filename", "company", "arch", "date"} from Microsoft's list, or null when the list
 * does not know it) and "secure-boot", which also holds
 * "dbx": vsb_dbx_explanation_to_json against the shipped dbx_info_msft_latest.json, or
 * {"entries", "error"} when that list cannot be read. */
JsonNode *vsb_varstore_report(const VsbVarstore *store, gboolean all_records);

VSB_END_DECLS
