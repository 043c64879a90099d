/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: EFI_SIGNATURE_LIST data (PK, KEK, db, dbx, MokList), certificates in them, and
 * EFI_VARIABLE_AUTHENTICATION_2 payloads such as Microsoft's dbxupdate.bin. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/guid.h"
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_SIG_X509,
  VSB_SIG_SHA1,
  VSB_SIG_SHA256,
  VSB_SIG_SHA384,
  VSB_SIG_SHA512,
  VSB_SIG_X509_SHA256,
  VSB_SIG_X509_SHA384,
  VSB_SIG_X509_SHA512,
  VSB_SIG_RSA2048,
  VSB_SIG_OTHER,
} VsbSigType;

typedef struct {
  VsbSigType type;
  VsbGuid type_guid;    /* the list's SignatureType */
  VsbGuid owner;        /* SignatureOwner */
  GBytes *data;         /* the signature data: DER certificate, hash, ... */
} VsbSigEntry;

/* Entries of a concatenation of EFI_SIGNATURE_LISTs, in order. Every list header is checked
 * (sizes, alignment to the entry size); errors name the offset. */
GPtrArray *vsb_siglist_parse(const guint8 *data, gsize len, GError **error);
/* The one reader of a store's signature database (every caller: the Secure Boot state, the
 * boot checks, pe verify --vars): the entries of the live variable name (PK and KEK under
 * the global GUID, any other name under the image-security-database GUID: db, dbx, dbt, dbr).
 * TRUE with *entries NULL when the variable does not exist, which the firmware treats
 * differently from an empty list; FALSE with an error "NAME: what is wrong at which offset"
 * when it is malformed. */
gboolean vsb_siglist_from_store(const VsbVarstore *store, const char *name, GPtrArray **entries,
                                GError **error);
/* One EFI_SIGNATURE_LIST per X.509 entry and one shared list per hash type, as edk2 and
 * virt-fw-vars lay them out. */
GBytes *vsb_siglist_build(GPtrArray *entries /* VsbSigEntry* */);
VsbSigEntry *vsb_sig_entry_new(VsbSigType type, const VsbGuid *owner, const void *data, gsize len);
void vsb_sig_entry_free(VsbSigEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSigEntry, vsb_sig_entry_free)
const char *vsb_sig_type_name(VsbSigType type);
/* The SignatureType GUID of a type (NULL for VSB_SIG_OTHER), and the type of a GUID. */
const VsbGuid *vsb_sig_type_guid(VsbSigType type);
VsbSigType vsb_sig_type_from_guid(const VsbGuid *guid);
/* Bytes of signature data a type requires (hash length, ...); 0 when it varies (X.509, other). */
gsize vsb_sig_type_data_size(VsbSigType type);
/* A deep copy; and the entries of a GPtrArray built with this free function. */
VsbSigEntry *vsb_sig_entry_copy(const VsbSigEntry *entry);
GPtrArray *vsb_sig_entry_array_new(void);

/* EFI_VARIABLE_AUTHENTICATION_2: the time stamp, the PKCS#7 blob and the payload after it. */
typedef struct {
  guint8 timestamp[16];  /* EFI_TIME as stored */
  GBytes *pkcs7;
  GBytes *payload;
} VsbAuth2;
VsbAuth2 *vsb_auth2_parse(const guint8 *data, gsize len, GError **error);
void vsb_auth2_free(VsbAuth2 *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuth2, vsb_auth2_free)

VSB_END_DECLS
