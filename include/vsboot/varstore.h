/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: variable stores: the live variables of a VM and where they are kept. A store is read
 * from, and written back to, one of the storage backends, chosen by the file's content:
 *   - edk2 raw flash (OVMF_VARS*.fd, AAVMF/QEMU_VARS.fd, the varstore at the start of a unified
 *     OVMF.fd): validated, rebuilt compacted, written atomically; byte layout and reader rules
 *     follow edk2's VariableFormat.h / VariableParsing.c;
 *   - the same flash image as qcow2, through qemu-img;
 *   - the JSON document of QEMU's uefi-vars device (varjson.h), which has no layout, records or
 *     fixed capacity: the accessors below give VSB_VARSTORE_LAYOUT_NONE and 0 for those.
 * The backends are private (src/lib/storage.h says how to add one); locking is its own part
 * (vsb_file_is_locked, vsb_varstore_lock_edit). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/file.h"
#include "vsboot/guid.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_VARSTORE_LAYOUT_OVMF_2M,   /* 128 KiB file: OVMF 1M/2M builds */
  VSB_VARSTORE_LAYOUT_OVMF_4M,   /* 528 KiB file: OVMF 4M builds */
  VSB_VARSTORE_LAYOUT_ARMVIRT,   /* 768 KiB volume, file often padded to 64 MiB */
  VSB_VARSTORE_LAYOUT_OTHER,     /* a valid volume of another size (e.g. inside OVMF.fd) */
  VSB_VARSTORE_LAYOUT_NONE,      /* not kept in a flash image (a JSON store) */
} VsbVarstoreLayout;

const char *vsb_varstore_layout_name(VsbVarstoreLayout layout);

/* EFI variable attributes (UEFI spec 8.2). */
#define VSB_EFI_VARIABLE_NON_VOLATILE                          0x00000001u
#define VSB_EFI_VARIABLE_BOOTSERVICE_ACCESS                    0x00000002u
#define VSB_EFI_VARIABLE_RUNTIME_ACCESS                        0x00000004u
#define VSB_EFI_VARIABLE_HARDWARE_ERROR_RECORD                 0x00000008u
#define VSB_EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS            0x00000010u
#define VSB_EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS 0x00000020u
#define VSB_EFI_VARIABLE_APPEND_WRITE                          0x00000040u

/* EFI_TIME, as stored (16 bytes). */
typedef struct {
  guint16 year;
  guint8 month, day, hour, minute, second, pad1;
  guint32 nanosecond;
  gint16 timezone;
  guint8 daylight, pad2;
} VsbEfiTime;

/* The variable states edk2 writes (flash bits only go 1 -> 0). */
#define VSB_VAR_HEADER_VALID_ONLY     0x7f
#define VSB_VAR_ADDED                 0x3f
#define VSB_VAR_IN_DELETED_TRANSITION 0xfe /* AND-ed into the state */
#define VSB_VAR_DELETED               0xfd /* AND-ed into the state */

typedef struct {
  char *name;               /* UTF-8 */
  VsbGuid guid;
  guint32 attributes;
  guint64 monotonic_count;
  VsbEfiTime timestamp;     /* all zero when the variable has none */
  guint32 pubkey_index;
  GBytes *data;
  /* QEMU uefi-vars JSON's "digest" of a time-authenticated variable (the signer it was last
   * written by), kept so a JSON store round-trips; NULL when none (a flash store keeps this in
   * edk2's certdb variable instead). */
  GBytes *digest;
  /* Where it came from, for show/diagnostics; 0/0 for variables made in memory. */
  guint8 state;
  gsize offset;             /* offset of the record header in the file */
} VsbVariable;

VsbVariable *vsb_variable_new(const char *name, const VsbGuid *guid, guint32 attributes,
                              const void *data, gsize len);
VsbVariable *vsb_variable_copy(const VsbVariable *var);
void vsb_variable_free(VsbVariable *var);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbVariable, vsb_variable_free)
gboolean vsb_efi_time_is_zero(const VsbEfiTime *t);
/* "2023-03-02T20:21:35Z" style text, or NULL for a zero time. */
char *vsb_efi_time_to_string(const VsbEfiTime *t);

typedef struct _VsbVarstore VsbVarstore;

/* Read a store of any backend, recognised by its content (never its name): a qcow2 file is
 * converted through `qemu-img convert` first, a JSON document (first character '{' or '[') is
 * read as uefi-vars JSON, anything else as an edk2 flash image. Every header is validated;
 * errors carry the file name and the offset (or JSON entry) at fault. Non-fatal oddities
 * (non-empty FTW write queue, ...) are collected as warnings. */
VsbVarstore *vsb_varstore_load(const char *path, GError **error);
/* An edk2 flash image from bytes (no other backend); origin names the source in messages. */
VsbVarstore *vsb_varstore_load_bytes(GBytes *image, const char *origin, GError **error);
/* An empty store, byte-identical to Debian's OVMF_VARS.fd / OVMF_VARS_4M.fd when serialised;
 * the ArmVirt one is a 64 MiB file (the flash device QEMU's virt machine needs), zero-padded. */
VsbVarstore *vsb_varstore_new_empty(VsbVarstoreLayout layout, GError **error);
void vsb_varstore_free(VsbVarstore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbVarstore, vsb_varstore_free)

VsbVarstoreLayout vsb_varstore_get_layout(const VsbVarstore *store);
gboolean vsb_varstore_is_qcow2(const VsbVarstore *store); /* loaded from a qcow2 file */
/* The backend the store is kept in, as reports name it: "raw", "qcow2" or "json". */
const char *vsb_varstore_get_format(const VsbVarstore *store);
gsize vsb_varstore_get_file_size(const VsbVarstore *store);
gsize vsb_varstore_get_volume_offset(const VsbVarstore *store); /* where the NV volume starts */
gsize vsb_varstore_get_capacity(const VsbVarstore *store);      /* bytes for variable records */
gsize vsb_varstore_get_used(const VsbVarstore *store);          /* bytes the live set needs */
/* Warnings collected while reading (strings owned by the store). */
const char *const *vsb_varstore_get_warnings(const VsbVarstore *store);

/* Live variables in store order (VsbVariable*, owned by the store). */
GPtrArray *vsb_varstore_get_variables(const VsbVarstore *store);
/* Every record that was in the file, deleted and transitional ones included, in file order. */
GPtrArray *vsb_varstore_get_records(const VsbVarstore *store);
/* A live variable by name and GUID (guid NULL: the first with that name). */
const VsbVariable *vsb_varstore_lookup(const VsbVarstore *store, const char *name,
                                       const VsbGuid *guid);

/* Add or replace (same name and GUID); takes ownership of var. */
void vsb_varstore_set(VsbVarstore *store, VsbVariable *var);
/* Remove; FALSE when there was no such variable. guid NULL: every variable with that name. */
gboolean vsb_varstore_delete(VsbVarstore *store, const char *name, const VsbGuid *guid);

/* The whole file in the store's own format. A flash image has its variable region rebuilt
 * compacted (0xFF padding) and every byte outside it kept (a qcow2 store gives the raw image);
 * VSB_ERROR_NO_SPACE, with the sizes, when the variables do not fit. A JSON store gives its
 * JSON text. */
GBytes *vsb_varstore_serialize(const VsbVarstore *store, GError **error);
/* Serialise and write atomically in the format the store was read from (qcow2 stores are written
 * back as qcow2, JSON as JSON). Unless force, refuse with VSB_ERROR_BUSY when a running QEMU
 * holds a lock on an existing path. */
gboolean vsb_varstore_save(const VsbVarstore *store, const char *path, int mode, gboolean force,
                           GError **error);
/* The same with vsb_file_write_atomic_full's options (keep the old mode and owner, edit the
 * real file through a symlink, exclusive creation); the qcow2 path honours them too. */
gboolean vsb_varstore_save_full(const VsbVarstore *store, const char *path,
                                const VsbWriteOptions *opts, gboolean force, GError **error);

/* What the firmware does with this file at boot beyond reading its live variables (the
 * Secure Boot judgement, sbjudge.h, uses these). */
typedef struct {
  const char *reformat; /* non-NULL: OVMF's flash driver rejects the volume header and erases
                         * the whole store at boot (every variable is lost); why, owned by the store */
  gboolean reclaim;     /* the free area is not all 0xFF: the variable driver reclaims at init,
                         * which decides between in-deleted-transition records differently */
  gboolean tail_header; /* a record header straddles the store's end: the firmware reads past it */
  gboolean ftw_pending; /* the fault-tolerant-write area holds a write the firmware may replay */
  const char *duplicate; /* a variable with several live (0x3F) records, NULL when none */
} VsbVarstoreBootFacts;
void vsb_varstore_get_boot_facts(const VsbVarstore *store, VsbVarstoreBootFacts *out);
/* The first byte of a live variable's data as the firmware reads it: for DataSize 0, the byte
 * that follows the name in the file (edk2 dereferences the data pointer regardless). */
int vsb_varstore_first_data_byte(const VsbVarstore *store, const VsbVariable *var);

/* Name of a record state byte: "added", "in-deleted-transition", "deleted", "header-only", ... */
const char *vsb_variable_state_name(guint8 state);

/* Where the loaded file came from (path or origin), for messages. */
const char *vsb_varstore_get_origin(const VsbVarstore *store);
/* TRUE for an authenticated-variable store (gEfiAuthenticatedVariableGuid, 60-byte headers). */
gboolean vsb_varstore_is_authenticated(const VsbVarstore *store);
/* Offset in the file of the first variable header, and of the free space after the last record
 * as the file was loaded (before any edit). */
gsize vsb_varstore_get_first_offset(const VsbVarstore *store);
gsize vsb_varstore_get_free_offset(const VsbVarstore *store);
/* Remove every live variable (import over a template). */
void vsb_varstore_clear(VsbVarstore *store);
/* Reorder the live variables by name (code-point order), as virt-fw-vars writes them; use it
 * when byte-compatibility with virt-fw-vars output matters. */
void vsb_varstore_sort_by_name(VsbVarstore *store);

/* Locking, apart from any format (storage-lock.c). */
/* TRUE when a process (QEMU) holds a lock on the file, as QEMU's image locking does. */
gboolean vsb_file_is_locked(const char *path, GError **error);
/* For a read-modify-write of the store at path: vsboot's exclusive edit lock of the real file
 * (through a symlink; vsb_file_lock_get_path gives the real path), so that concurrent editors
 * queue instead of losing each other's changes; and, unless force, VSB_ERROR_BUSY when a
 * running QEMU holds that file. Keep the lock until the store is saved. */
VsbFileLock *vsb_varstore_lock_edit(const char *path, gboolean force, GError **error);

VSB_END_DECLS
