/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private: how a variable store is kept in a file. VsbVarstore (varstore.h) is the model: the
 * live variables, the records they came from, warnings, and what was edited. A storage backend
 * turns a file's bytes into that model and the model back into bytes:
 *
 *   storage-edk2.c   edk2 raw flash (OVMF 2M/4M, ArmVirt, the store inside a unified OVMF.fd)
 *   storage-qcow2.c  the same flash image inside qcow2, through qemu-img (tool.h, time limit)
 *   storage-json.c   the JSON document of vars export/import (QEMU uefi-vars, virt-firmware)
 *   storage-lock.c   locking, apart from any format: QEMU's image locks and vsboot's edit lock
 *
 * The registry (storage.c) lists the backends in the order autodetection asks them; the first
 * whose detect() claims the content (never the file name) loads it, and the edk2 backend, last,
 * takes what no other claims so that a damaged flash image gets the flash reader's error.
 *
 * Adding a backend (AWS uefi-data, QEMU's uefi-vars jsonfile variants): write storage-NAME.c
 * defining one `const VsbStorageBackend vsb_storage_NAME` (detect, load, serialize, write) and
 * list it in storage.c's registry, before edk2. Nothing else changes: the model, the Secure
 * Boot judgement and the CLI only see VsbVarstore. */
#pragma once

#include "vsboot/varstore.h"

typedef struct _VsbStorageBackend VsbStorageBackend;

struct _VsbStorageBackend {
  const char *name;        /* the report's "format": "raw", "qcow2", "json" */
  /* TRUE when the content is this backend's (a magic number, a first character). */
  gboolean (*detect)(const guint8 *data, gsize len);
  /* A new store from the file's bytes; origin (the path) names the file in messages. */
  VsbVarstore *(*load)(GBytes *bytes, const char *origin, GError **error);
  /* The whole file for the store's live variables. */
  GBytes *(*serialize)(const VsbVarstore *store, GError **error);
  /* Put bytes at real (a resolved path no running QEMU holds); NULL: an atomic write of the
   * bytes as they are. */
  gboolean (*write)(GBytes *bytes, const char *real, const VsbWriteOptions *opts, GError **error);
};

extern const VsbStorageBackend vsb_storage_edk2;
extern const VsbStorageBackend vsb_storage_qcow2;
extern const VsbStorageBackend vsb_storage_json;

/* The backend autodetection picks for this content (never NULL: edk2 takes the rest). */
const VsbStorageBackend *vsb_storage_detect(const guint8 *data, gsize len);

/* Where a store kept in a flash image has what (all zero for other backends). Filled by the
 * edk2 reader; the boot facts (vsb_varstore_get_boot_facts) come from here. */
typedef struct {
  guint8 *image;          /* the whole file, as loaded (or as built for an empty store) */
  gsize size;
  gboolean authenticated;
  VsbVarstoreLayout layout;
  gsize vol_offset;       /* start of the NV firmware volume */
  gsize fv_length;
  gsize store_offset;     /* VARIABLE_STORE_HEADER */
  gsize first_offset;     /* first variable header */
  gsize region_end;       /* end of the variable store (store_offset + Size) */
  gsize free_offset;      /* after the last record, as loaded */
  gboolean free_dirty;    /* bytes after the last record are not all 0xFF: edk2 reclaims at init */
  gboolean tail_header;   /* a record header straddles the store's end */
  gboolean ftw_pending;   /* the FTW write queue is not empty */
  char *reformat;         /* why OVMF's flash driver would erase the volume, NULL when it accepts it */
  char *duplicate;        /* a variable with more than one live (0x3F) record, NULL when none */
} VsbFlashImage;

struct _VsbVarstore {
  char *origin;
  const VsbStorageBackend *backend;
  VsbFlashImage flash;
  gboolean modified;      /* the live set was edited since loading */
  GPtrArray *variables;   /* VsbVariable*, live, in store order */
  GPtrArray *records;     /* VsbVariable*, every record of the file */
  GPtrArray *warnings;    /* char*, NULL-terminated */
};

VsbVarstore *vsb_storage_store_new(const char *origin, const VsbStorageBackend *backend);
void vsb_storage_add_warning(VsbVarstore *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Sizes of edk2's variable headers, which also measure what a variable costs in any store. */
#define VSB_AUTH_VAR_HEADER_SIZE 60u /* AUTHENTICATED_VARIABLE_HEADER */
#define VSB_VAR_HEADER_SIZE      32u /* VARIABLE_HEADER (non-authenticated store) */
#define VSB_HEADER_ALIGN(x) (((x) + 3u) & ~(gsize)3u)
/* What a variable takes in an edk2 store of this store's header size, before alignment; *ok is
 * FALSE when its name does not convert to UCS-2. */
gsize vsb_storage_record_size(const VsbVarstore *s, const VsbVariable *v, gboolean *ok);

/* The most a variable store file may be before it is read (ArmVirt's are 64 MiB). */
#define VSB_STORAGE_MAX_FILE_SIZE ((gsize)256 << 20)

/* Refuse (VSB_ERROR_BUSY) when a running QEMU holds the existing regular file real. */
gboolean vsb_storage_check_not_held(const char *real, GError **error);
