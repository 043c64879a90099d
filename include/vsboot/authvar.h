/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: signed authenticated-variable updates (EFI_VARIABLE_AUTHENTICATION_2, the ".auth" /
 * ".bin" files Microsoft publishes: DBUpdate*.bin, DBXUpdate*.bin, KEKUpdate_*.bin), parsed,
 * verified and applied to a variable store the way OVMF's variable driver does when the guest
 * calls SetVariable() with them (edk2 SecurityPkg/Library/AuthVariableLib: AuthVariableLib.c
 * ProcessVariable, AuthService.c ProcessVarWithPk / ProcessVarWithKek / VerifyTimeBasedPayload
 * / CheckSignatureListFormat, CryptoPkg Pkcs7Verify; MdeModulePkg Variable.c UpdateVariable and
 * its FilterSignatureList for appends).
 *
 * File layout (UEFI spec 8.2.2), every field checked with bounds, errors naming the offset:
 *   0   EFI_TIME TimeStamp (16 bytes; Pad1, Nanosecond, TimeZone, Daylight, Pad2 must be 0)
 *   16  WIN_CERTIFICATE_UEFI_GUID: u32 dwLength (covers 16..16+dwLength), u16 wRevision 0x0200,
 *       u16 wCertificateType 0x0EF1 (WIN_CERT_TYPE_EFI_GUID), CertType EFI_CERT_TYPE_PKCS7_GUID
 *   40  CertData: DER PKCS#7 SignedData, detached (bare, or inside its ContentInfo: both parse,
 *       but edk2's VerifyTimeBasedPayload accepts only the bare form, see ERROR_REFUSED)
 *   16+dwLength  payload: EFI_SIGNATURE_LISTs (empty: a delete when written without APPEND)
 *
 * What is signed: VariableName (UCS-2 LE, no NUL) || VendorGuid || Attributes (u32 LE) ||
 * TimeStamp || payload. The attributes are those of the SetVariable() call, so the same file
 * verifies either as an append (0x67 = NV|BS|RT|TIME_BASED_AUTH|APPEND_WRITE, as Microsoft signs
 * every object it publishes) or as a replace (0x27), never both: which one the signature covers
 * decides what the update does.
 *
 * Who may sign (edk2 ProcessVariable): db, dbx and dbt are tried with PK first, then with every
 * X.509 entry of KEK; KEK and PK with PK only. Through PK, edk2 also requires the (first)
 * signer's certificate to be PK's certificate byte for byte (VerifyTimeBasedPayload with
 * Pkcs7GetSigners: "no chaining for PK"). Through KEK, a trusted certificate may be an
 * intermediate: the chain from the signer may end at it (X509_V_FLAG_PARTIAL_CHAIN). Validity
 * dates and key usage/EKU are not checked (X509_V_FLAG_NO_CHECK_TIME, X509_PURPOSE_ANY), exactly
 * as edk2's Pkcs7Verify sets up OpenSSL; like edk2 (PKCS7_verify), every SignerInfo must verify
 * and chain to the one trusted certificate being tried; the certificates tried are reported.
 * A store without PK is in setup mode: the firmware would write the update without checking
 * any signature; vsboot refuses it as untrusted unless the caller passes unsigned_ok.
 *
 * Writing (MdeModulePkg Variable.c UpdateVariable):
 *   - append: only signature entries not already in the variable are added, each new list
 *     keeping its header with the entries that remain (FilterSignatureList). An entry is a
 *     duplicate when an existing list has the same SignatureType and SignatureSize and an entry
 *     with the same bytes, SignatureOwner INCLUDED: edk2 compares the whole EFI_SIGNATURE_DATA,
 *     so the same hash under another owner is added again. Entries repeated inside the update
 *     itself are not filtered (edk2 does not). The time stamp becomes the later of the stored one
 *     and the update's; it never moves backwards (compared to the second as edk2 does: on a tie
 *     the update's, whose Nanosecond is 0, is kept). A missing variable is created.
 *   - replace: the update's time stamp must be later than the stored one (AuthService.c
 *     AuthServiceInternalCompareTimeStamp: compared to the second, nanoseconds ignored; equal is
 *     refused as a replay); the payload replaces the data and the time stamp is the update's.
 *     An empty payload deletes the variable (for PK: the store returns to setup mode).
 * The variable keeps attributes 0x27 (APPEND_WRITE is never stored). The store is changed only
 * when every check passes; otherwise it is untouched and an error says why. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/guid.h"
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

/* Refusals have their own domain so that a caller can tell them apart (the CLI maps them to
 * its exit statuses); the message names the file, the offset or the variable at fault. */
#define VSB_AUTHVAR_ERROR (vsb_authvar_error_quark())
GQuark vsb_authvar_error_quark(void);

typedef enum {
  /* The file is not a well-formed AUTH_2 update: empty, truncated, larger than
   * VSB_AUTHVAR_MAX_FILE_SIZE, dwLength past the end, wrong wRevision / wCertificateType /
   * CertType, CertData not a PKCS#7 SignedData, payload not valid signature lists (or a type,
   * header or certificate edk2's CheckSignatureListFormat rejects), EFI_TIME padding not zero. */
  VSB_AUTHVAR_ERROR_MALFORMED,
  /* The PKCS#7 signature does not verify over this variable's name, GUID, attributes, time
   * stamp and payload: the file was altered (signature or payload), or it was signed for other
   * attributes than the ones asked for. */
  VSB_AUTHVAR_ERROR_BAD_SIGNATURE,
  /* The signature is intact but was made for another variable (e.g. a dbx update applied as
   * db); the message names the variable it verifies for. */
  VSB_AUTHVAR_ERROR_WRONG_VARIABLE,
  /* The signature is intact but its signer does not chain to any certificate the store trusts
   * for this variable (or the store has no PK: setup mode). */
  VSB_AUTHVAR_ERROR_UNTRUSTED,
  /* A replace whose time stamp is not later than the stored variable's (replay protection). */
  VSB_AUTHVAR_ERROR_NOT_NEWER,
  /* Anything else the firmware refuses: not a variable with signed updates (only PK, KEK, db,
   * dbx, dbt), attributes that are not 0x27/0x67, a stored variable with other attributes, a PK
   * payload that is not exactly one X.509 certificate or an append to PK, a PKCS#7 that edk2's
   * VerifyTimeBasedPayload turns away (digest not SHA-256, or the ContentInfo-wrapped form:
   * edk2 checks the SHA-256 OID at byte 13 of the bare SignedData), a result larger than
   * OVMF's PcdMaxAuthVariableSize (0x2800 bytes in 2M builds, 0x8400 in 4M builds, header and
   * name included). */
  VSB_AUTHVAR_ERROR_REFUSED,
} VsbAuthvarError;

/* Files larger than this are refused before they are read (the largest dbx update is ~25 KiB;
 * OVMF 4M takes variables up to 33 KiB). */
#define VSB_AUTHVAR_MAX_FILE_SIZE (1024u * 1024u)

/* The attributes an update can be signed for. */
#define VSB_AUTHVAR_ATTR_REPLACE 0x27u /* NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS */
#define VSB_AUTHVAR_ATTR_APPEND  0x67u /* the same | APPEND_WRITE */

/* A parsed update, without any store: enough for a report ("what does this file hold?"). */
typedef struct {
  char *origin;              /* file name or caller's origin, for messages */
  VsbEfiTime timestamp;      /* the descriptor's EFI_TIME */
  guint32 cert_length;       /* WIN_CERTIFICATE dwLength */
  GBytes *pkcs7;             /* CertData exactly as in the file (offset 40) */
  gboolean pkcs7_wrapped;    /* CertData is a ContentInfo around the SignedData */
  char *digest;              /* the SignerInfo digest algorithm, OpenSSL's short name
                              * ("SHA256", ...), or "unknown" */
  guint signer_count;        /* SignerInfos in the PKCS#7 */
  char *signer;              /* RFC 2253 subject of the (first) signer's certificate, or NULL
                              * when the PKCS#7 does not carry it */
  char *signer_issuer;       /* its issuer, or NULL */
  gsize payload_offset;      /* 16 + dwLength */
  GBytes *payload;           /* the EFI_SIGNATURE_LISTs as in the file (maybe empty) */
  GPtrArray *entries;        /* VsbSigEntry* (siglist.h) parsed from payload, in order */
} VsbAuthvarUpdate;

/* Parse data (len bytes) strictly; origin names it in messages (NULL: "authenticated
 * variable"). No signature is checked here. VSB_AUTHVAR_ERROR_MALFORMED on any defect. */
VsbAuthvarUpdate *vsb_authvar_parse(const guint8 *data, gsize len, const char *origin,
                                    GError **error);
/* Read and parse a file (VSB_ERROR_IO when it cannot be read; a file over
 * VSB_AUTHVAR_MAX_FILE_SIZE is MALFORMED, "file too large", and is not read). */
VsbAuthvarUpdate *vsb_authvar_load(const char *path, GError **error);
void vsb_authvar_update_free(VsbAuthvarUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuthvarUpdate, vsb_authvar_update_free)

typedef struct {
  /* 0: try VSB_AUTHVAR_ATTR_APPEND, then VSB_AUTHVAR_ATTR_REPLACE, and do what the signature
   * covers. Otherwise exactly one of the two: an update signed for the other is refused with
   * BAD_SIGNATURE (the message says which attributes it was signed for). */
  guint32 attributes;
  /* Apply even when the signature does not verify or its signer is not trusted (the result's
   * verified is then FALSE and unverified_reason holds the refusal). Malformed files and the
   * rules of writing (time stamps, PK holding one certificate, sizes) are still enforced. With
   * attributes 0 and no verifying signature, the update is applied as an append. */
  gboolean unsigned_ok;
} VsbAuthvarOptions;

typedef enum {
  VSB_AUTHVAR_APPEND,        /* entries added to the variable (or variable created) */
  VSB_AUTHVAR_REPLACE,       /* the variable's data replaced (or variable created) */
  VSB_AUTHVAR_DELETE,        /* a replace with an empty payload: the variable removed */
} VsbAuthvarMode;

/* "append", "replace", "delete". */
const char *vsb_authvar_mode_name(VsbAuthvarMode mode);

/* What an update did (or would do). */
typedef struct {
  char *variable;            /* "db", "dbx", "KEK", "PK", "dbt" */
  VsbGuid guid;
  VsbAuthvarMode mode;
  guint32 attributes;        /* the attributes the signature covers (0x67 or 0x27); with an
                              * unverified update, the ones it was applied with */
  gboolean verified;         /* the signature verified and chained to a trusted entry */
  char *unverified_reason;   /* unsigned_ok only: why it did not verify, else NULL */
  char *signer;              /* subject of the signer certificate, or NULL */
  char *trust_variable;      /* "PK" or "KEK": where the trusted certificate is, or NULL */
  guint trust_index;         /* index of that entry among the variable's signature entries */
  char *trust_subject;       /* subject of that trusted certificate */
  gboolean existed;          /* the variable was in the store before */
  guint entries_in_update;   /* signature entries in the payload */
  guint entries_added;       /* appended (append) or written (replace) */
  guint entries_present;     /* append: already in the variable, skipped */
  guint entries_after;       /* entries in the variable afterwards (0 after a delete) */
  VsbEfiTime time_before;    /* stored time stamp before (zero when there was no variable) */
  VsbEfiTime time_after;     /* afterwards (zero after a delete) */
  gboolean changed;          /* the store's variable differs (data or time stamp) */
} VsbAuthvarResult;

void vsb_authvar_result_free(VsbAuthvarResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuthvarResult, vsb_authvar_result_free)

/* Verify update as variable name under guid (NULL: its well-known GUID, see
 * vsb_sb_known_guid) against store, and work out what writing it would do; the store is not
 * changed. NULL with a VSB_AUTHVAR_ERROR when the firmware would refuse it. opts may be NULL
 * (attributes 0, unsigned_ok FALSE). */
VsbAuthvarResult *vsb_authvar_verify(const VsbVarstore *store, const VsbAuthvarUpdate *update,
                                     const char *name, const VsbGuid *guid,
                                     const VsbAuthvarOptions *opts, GError **error);
/* The same, then write the variable into store (vsb_varstore_set / vsb_varstore_delete) when
 * it changes. Applying an update a second time changes nothing (changed FALSE) for an append;
 * for a replace it is refused (NOT_NEWER). */
VsbAuthvarResult *vsb_authvar_apply(VsbVarstore *store, const VsbAuthvarUpdate *update,
                                    const char *name, const VsbGuid *guid,
                                    const VsbAuthvarOptions *opts, GError **error);

VSB_END_DECLS
