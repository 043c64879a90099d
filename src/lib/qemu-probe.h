/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: what the installed QEMU says about itself. Firmware descriptors list machine globs
 * over canonical names ("pc-q35-*"), while users say "q35"; QEMU's "-machine help" is the only
 * authority on what an alias currently means. What a QEMU binary prints is cached per binary
 * (filecache.h): a replaced binary is asked again. */
#pragma once

#include <glib.h>
#include "vsboot/descriptor.h"

G_BEGIN_DECLS

/* "qemu-system-ARCH" for a descriptor architecture (i386 -> qemu-system-i386, ...). */
char *vsb_qemu_binary_name(VsbFwArch arch);
/* Full path of qemu-system-ARCH found in PATH; VSB_ERROR_NOT_FOUND when absent. */
char *vsb_qemu_find_binary(VsbFwArch arch, GError **error);

typedef struct {
  char *name;        /* "pc-q35-7.2" or an alias "q35" */
  char *alias_of;    /* for an alias: the canonical name; else NULL */
  char *description;
  gboolean is_default;
} VsbQemuMachine;
void vsb_qemu_machine_free(VsbQemuMachine *m);

/* Parse the output of "qemu-system-ARCH -machine help" (exposed for tests). */
GPtrArray *vsb_qemu_parse_machine_help(const char *text);
/* Run "BINARY -machine help" and parse it: VsbQemuMachine*, QEMU's order. */
GPtrArray *vsb_qemu_list_machines(const char *binary, GError **error);

typedef struct {
  char *machine;    /* canonical name, or a family glob when family is set */
  gboolean family;  /* alias resolved without QEMU: "q35" -> "pc-q35-*" */
  char *binary;     /* the QEMU asked, or NULL */
  char *note;       /* one line saying how the name was obtained */
} VsbMachineResolution;
void vsb_machine_resolution_free(VsbMachineResolution *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbMachineResolution, vsb_machine_resolution_free)

/* A machine type name as QEMU spells them (letters, digits, '.', '_', '-'): anything else,
 * a ',' above all, would add options to the -machine argument it is emitted into. */
gboolean vsb_qemu_machine_name_validate(const char *machine, GError **error);

/* Turn what the user typed into what descriptors are matched against (the name is validated
 * first). A versioned name
 * ("pc-q35-7.2", "virt-7.2") is used as is without running QEMU. Otherwise, with
 * qemu-system-ARCH in PATH, an alias becomes its target ("q35" -> "pc-q35-7.2") and any other
 * name stays as is; without QEMU the known aliases become families (q35 -> pc-q35-*, pc ->
 * pc-i440fx-*, virt -> virt-*). Fails only if QEMU exists but cannot be run. */
VsbMachineResolution *vsb_qemu_resolve_machine(VsbFwArch arch, const char *machine,
                                               GError **error);

/* "QEMU emulator version 7.2.22 (Debian ...)" -> 7, 2. */
gboolean vsb_qemu_get_version(const char *binary, guint *major, guint *minor, GError **error);

G_END_DECLS
