/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: discovery of firmware descriptors, exactly as QEMU's firmware.json specifies and
 * libvirt implements it. Directories go from general to specific; a file in a more specific
 * directory replaces the same-named (basename) file of a more general one, and an empty file
 * masks it. All names are then sorted with strcmp(), and that order is the precedence order.
 * Dot-files and non-regular files are skipped; there is no ".json" filter (libvirt has none).
 * A file that does not parse stays in the list with its reason, so it can be shown, and is
 * never used; it does not stop the others. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/descriptor.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_FW_ENTRY_DESCRIPTOR, /* parsed; usable */
  VSB_FW_ENTRY_INVALID,    /* could not be read or parsed: see error */
  VSB_FW_ENTRY_MASK,       /* an empty file: hides the same-named files of earlier dirs */
} VsbFwEntryKind;

typedef struct {
  VsbFwEntryKind kind;
  char *name;                   /* basename; the sort key */
  char *path;                   /* the file that won (for a mask: the empty file) */
  char *dir;                    /* the directory it was found in */
  VsbFwDescriptor *descriptor;  /* kind == DESCRIPTOR only */
  GError *error;                /* kind == INVALID only: path and reason */
  /* Same-named files of earlier (more general) directories this entry replaced or, for a
   * mask, hid; general first. Never NULL. */
  char **overrides;
} VsbFwEntry;

/* The default directories, general to specific: QEMU's data dir, its sysconf dir (both set at
 * build time, normally /usr/share/qemu/firmware and /etc/qemu/firmware), then
 * $XDG_CONFIG_HOME/qemu/firmware ($HOME/.config when XDG_CONFIG_HOME is unset or empty). */
char **vsb_fw_search_default_dirs(void);

/* Build the list. dirs NULL means the defaults, which may be missing; explicit dirs (later
 * override earlier, like the defaults) must exist (VSB_ERROR_NOT_FOUND otherwise). Unreadable
 * or invalid files become INVALID entries; only a failure to list a directory is an error.
 * Returns a GPtrArray of VsbFwEntry* in precedence order, freeing its elements. */
GPtrArray *vsb_fw_search(const char *const *dirs, GError **error);

/* Find an entry by basename, with or without a trailing ".json"; NULL if none. */
VsbFwEntry *vsb_fw_search_find(GPtrArray *entries, const char *name);

const char *vsb_fw_entry_kind_name(VsbFwEntryKind kind); /* "descriptor", "invalid", "mask" */
void vsb_fw_entry_free(VsbFwEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFwEntry, vsb_fw_entry_free)

/* One entry as JSON: { "name", "path", "kind", "overrides": [...], "error" (invalid only),
 * "descriptor" (vsb_fw_descriptor_to_json, descriptors only) }. */
JsonNode *vsb_fw_entry_to_json(const VsbFwEntry *entry);

VSB_END_DECLS
