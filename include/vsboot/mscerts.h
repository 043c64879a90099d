/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: Microsoft's Secure Boot objects, for carrying VMs through the 2023 CA rollover.
 *
 * The seven Microsoft CA certificates a store may trust (KEK CA 2011 expired 2026-06-24, UEFI CA
 * 2011 2026-06-27, Windows Production PCA 2011 2026-10-19; new boot media are signed only by
 * the 2023 CAs) are shipped as data (datadir/vsboot/microsoft/, one DER file each) and checked,
 * whenever they are read, against SHA-256 values compiled into the library. Which of them a
 * store trusts is worked out from those compiled fingerprints alone, so it needs no data file.
 * Microsoft's description of every dbx entry (dbx_info_msft_latest.json) explains a dbx.
 *
 * Data directory: $VSB_DATA_DIR when set, else the installed datadir/vsboot when it holds
 * microsoft/, else the source tree's data/ (an uninstalled build). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/guid.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_MS_KEK_2011,        /* Microsoft Corporation KEK CA 2011 (KEK) */
  VSB_MS_KEK_2023,        /* Microsoft Corporation KEK 2K CA 2023 (KEK) */
  VSB_MS_WINDOWS_2011,    /* Microsoft Windows Production PCA 2011 (db) */
  VSB_MS_WINDOWS_2023,    /* Windows UEFI CA 2023 (db) */
  VSB_MS_UEFI_2011,       /* Microsoft Corporation UEFI CA 2011 (db) */
  VSB_MS_UEFI_2023,       /* Microsoft UEFI CA 2023 (db) */
  VSB_MS_OPTION_ROM_2023, /* Microsoft Option ROM UEFI CA 2023 (db) */
  VSB_MS_N_CERTS,
} VsbMsCertId;

typedef struct {
  VsbMsCertId id;
  const char *name;        /* "kek-2011": the id users type and the JSON key */
  const char *subject_cn;  /* "Microsoft Corporation KEK CA 2011" */
  const char *file;        /* "microsoft-corporation-kek-ca-2011.der" in the data directory */
  VsbSbVariable variable;  /* where it belongs: VSB_SB_KEK or VSB_SB_DB */
  const char *sha256;      /* of the DER, lower-case hex (Microsoft's published file) */
  const char *tbs_sha256;  /* of its TBSCertificate: how an X509_SHA256 dbx entry names it */
  const char *expires;     /* notAfter date, "2026-06-24" */
  guint successors;        /* 2011 CAs: bit mask (1u << id) of the 2023 CAs replacing it */
} VsbMsCert;

/* The table entry of an id, and the id of a name ("kek-2011"; FALSE when unknown). */
const VsbMsCert *vsb_ms_cert(VsbMsCertId id);
gboolean vsb_ms_cert_lookup(const char *name, VsbMsCertId *out);
/* Microsoft's owner GUID for its entries, 77fa9abd-0359-4d32-bd60-28f4e78f784b. */
const VsbGuid *vsb_ms_owner_guid(void);

/* The data directory as described above (newly allocated; it may not exist). */
char *vsb_data_dir(void);
/* The DER of a shipped certificate, read from the data directory and refused
 * (VSB_ERROR_INVALID, naming the file and both fingerprints) unless its SHA-256 is the
 * compiled one; VSB_ERROR_NOT_FOUND names the path when it is missing. */
GBytes *vsb_ms_cert_der(VsbMsCertId id, GError **error);

/* Sets of certificates, as bit masks of (1u << id). */
typedef guint VsbMsCertSet;
#define VSB_MS_SET_2023                                                                      \
  ((1u << VSB_MS_KEK_2023) | (1u << VSB_MS_WINDOWS_2023) | (1u << VSB_MS_UEFI_2023) |        \
   (1u << VSB_MS_OPTION_ROM_2023))
#define VSB_MS_SET_2011                                                                      \
  ((1u << VSB_MS_KEK_2011) | (1u << VSB_MS_WINDOWS_2011) | (1u << VSB_MS_UEFI_2011))
/* A comma-separated list of set names ("2023", "2011") and certificate ids ("uefi-2023"), as
 * the enroll option takes it; VSB_ERROR_INVALID lists every valid name. */
gboolean vsb_ms_cert_set_parse(const char *text, VsbMsCertSet *out, GError **error);

/* ---- what a store trusts ---------------------------------------------------------------- */

typedef enum {
  VSB_MS_ABSENT,   /* not in its variable (a certificate with the same CN but other bytes
                    * does not count: it is not the CA Microsoft signs with) */
  VSB_MS_ENROLLED, /* the exact DER is an X.509 entry of its variable (KEK or db) */
  VSB_MS_REVOKED,  /* dbx holds it: as X.509, the SHA-256 of its DER, or the X509_SHA256 hash
                    * of its TBSCertificate. Revoked wins over enrolled, as in the firmware. */
} VsbMsCertState;

const char *vsb_ms_cert_state_name(VsbMsCertState state); /* "absent", "enrolled", "revoked" */

typedef struct {
  VsbMsCertState state[VSB_MS_N_CERTS];
  /* A 2011 CA is enrolled while one of its 2023 successors is not: media signed only by the
   * 2023 CA will be refused (KEK CA 2011 -> KEK 2K CA 2023; Windows Production PCA 2011 ->
   * Windows UEFI CA 2023; UEFI CA 2011 -> UEFI CA 2023 and Option ROM UEFI CA 2023). */
  gboolean missing_successor;
  GPtrArray *warnings; /* char*, one per 2011 CA lacking a successor */
} VsbMsState;

/* Never fails: a malformed KEK/db/dbx counts as holding nothing (vsb_secure_boot_state
 * warns about it). */
VsbMsState *vsb_secure_boot_microsoft_state(const VsbVarstore *store);
void vsb_ms_state_free(VsbMsState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbMsState, vsb_ms_state_free)
/* {"kek-2011": "enrolled", ...}: exactly the seven ids. */
JsonNode *vsb_ms_state_to_json(const VsbMsState *state);

/* ---- explaining dbx ----------------------------------------------------------------------- */

/* dbx_info_msft_latest.json, indexed. Loaded once per file (path, size, mtime) and shared. */
typedef struct _VsbDbxInfo VsbDbxInfo;
/* path NULL: the shipped list in the data directory. */
VsbDbxInfo *vsb_dbx_info_load(const char *path, GError **error);
VsbDbxInfo *vsb_dbx_info_ref(VsbDbxInfo *info);
void vsb_dbx_info_unref(VsbDbxInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbDbxInfo, vsb_dbx_info_unref)

/* One described dbx entry (owned by the VsbDbxInfo). */
typedef struct {
  const char *kind;     /* "image" (an Authenticode SHA-256), "certificate", "svn" */
  const char *arch;     /* images: "x64", "ia32", "aarch64", "arm"; else NULL */
  const char *company;  /* images: companyName; certificates and SVNs: "Microsoft" */
  const char *filename; /* what it revokes */
  const char *date;     /* dateOfAddition (SVNs: dateOfLastChange), "2026-04-09" */
} VsbDbxRecord;

/* What the list says of a dbx entry (type and data as in the signature list; X.509 entries are
 * matched by the SHA-1 thumbprint the list gives); arch (may be NULL) is preferred when a hash
 * is listed for several. NULL when the list does not know it. */
const VsbDbxRecord *vsb_dbx_info_lookup(const VsbDbxInfo *info, VsbSigType type, GBytes *data,
                                        const char *arch);
/* The Authenticode SHA-256 hashes (32 bytes each) listed for arch, in the list's order (a new
 * array; empty for an arch the list does not have). */
GPtrArray *vsb_dbx_info_hashes(const VsbDbxInfo *info, const char *arch); /* GBytes* */

/* The list an architecture of store is compared with: "x64" for OVMF layouts, "aarch64"
 * (Microsoft's name for arm64) for ArmVirt, NULL for others. */
const char *vsb_dbx_arch_for_layout(VsbVarstoreLayout layout);

typedef struct {
  guint entries;          /* dbx entries in the store */
  guint known;            /* of them, described by the list */
  GHashTable *by_company; /* char* -> count (GUINT_TO_POINTER): each known entry once */
  GHashTable *by_arch;    /* char* -> count: known images, by the arch of the record used */
  GHashTable *by_kind;    /* "image", "certificate", "svn" -> count */
  char *newest;           /* date of the newest known entry, NULL when none is known */
  const char *arch;       /* the list compared with (vsb_dbx_arch_for_layout), or NULL */
  guint latest;           /* images the list holds for arch */
  guint missing;          /* of them, not in the store's dbx */
} VsbDbxExplanation;

/* Never fails: a malformed dbx counts as empty. */
VsbDbxExplanation *vsb_dbx_explain(const VsbDbxInfo *info, const VsbVarstore *store);
void vsb_dbx_explanation_free(VsbDbxExplanation *ex);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbDbxExplanation, vsb_dbx_explanation_free)
/* {"entries", "known", "by-company": {...}, "by-arch": {...}, "by-kind": {...}, "newest",
 *  "arch", "latest", "missing-from-latest"} (objects sorted by key; arch/newest null when
 *  unknown, missing-from-latest null when arch is). */
JsonNode *vsb_dbx_explanation_to_json(const VsbDbxExplanation *ex);

VSB_END_DECLS
