/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: QEMU firmware descriptors (qemu docs/interop/firmware.json), one `Firmware` object per
 * file. Parsing is as strict as libvirt where libvirt rejects a file (unknown interface, device
 * or architecture, missing members, wrong types, > 1 MiB) and as lenient where it is lenient
 * (unknown features are kept, "tags" is ignored), so that vsboot uses exactly the files libvirt
 * would use. Things a packager should fix but that do not stop use are collected as warnings. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>

VSB_BEGIN_DECLS

/* libvirt refuses larger descriptor files; so do we. */
#define VSB_FW_DESCRIPTOR_MAX_SIZE (1024 * 1024)

/* Parse/format helpers for every enum below: *_name() never returns NULL for a valid value;
 * *_from_name() returns -1 for an unknown name. */

typedef enum {
  VSB_FW_INTERFACE_BIOS,
  VSB_FW_INTERFACE_OPENFIRMWARE,
  VSB_FW_INTERFACE_UBOOT,
  VSB_FW_INTERFACE_UEFI,
  VSB_FW_INTERFACE_COUNT
} VsbFwInterface;
const char *vsb_fw_interface_name(VsbFwInterface iface);
int vsb_fw_interface_from_name(const char *name);

typedef enum {
  VSB_FW_DEVICE_FLASH,  /* pflash: executable (+ NVRAM template, split mode) */
  VSB_FW_DEVICE_MEMORY, /* -bios FILE */
  VSB_FW_DEVICE_KERNEL, /* -kernel FILE (libvirt cannot use it) */
  VSB_FW_DEVICE_IGVM,   /* -object igvm-cfg,file=FILE (QEMU 10.1; libvirt cannot use it) */
  VSB_FW_DEVICE_COUNT
} VsbFwDevice;
const char *vsb_fw_device_name(VsbFwDevice device);
int vsb_fw_device_from_name(const char *name);

typedef enum {
  VSB_FW_FLASH_MODE_SPLIT,     /* shared read-only code + per-VM copy of the template */
  VSB_FW_FLASH_MODE_COMBINED,  /* per-VM read-write copy of one image holding code and vars */
  VSB_FW_FLASH_MODE_STATELESS, /* read-only code, no variable persistence */
  VSB_FW_FLASH_MODE_COUNT
} VsbFwFlashMode;
const char *vsb_fw_flash_mode_name(VsbFwFlashMode mode);
int vsb_fw_flash_mode_from_name(const char *name);

typedef enum {
  VSB_FW_FORMAT_RAW,
  VSB_FW_FORMAT_QCOW2,
  VSB_FW_FORMAT_COUNT
} VsbFwFormat;
const char *vsb_fw_format_name(VsbFwFormat format);
int vsb_fw_format_from_name(const char *name);

/* FirmwareArchitecture (older schemas used SysEmuTarget; these are the values ever used). */
typedef enum {
  VSB_FW_ARCH_AARCH64,
  VSB_FW_ARCH_ARM,
  VSB_FW_ARCH_I386,
  VSB_FW_ARCH_LOONGARCH64,
  VSB_FW_ARCH_RISCV64,
  VSB_FW_ARCH_X86_64,
  VSB_FW_ARCH_COUNT,
  /* None known: an unnamed or unknown architecture (what vsb_fw_arch_from_name returns as -1).
   * Last and negative so no other value moves; it also makes the enum type signed. */
  VSB_FW_ARCH_UNKNOWN = -1
} VsbFwArch;
const char *vsb_fw_arch_name(VsbFwArch arch);
int vsb_fw_arch_from_name(const char *name);

/* FirmwareFeature; also bit numbers in VsbFwDescriptor.features (use VSB_FW_FEATURE_BIT). */
typedef enum {
  VSB_FW_FEATURE_ACPI_S3,
  VSB_FW_FEATURE_ACPI_S4,
  VSB_FW_FEATURE_AMD_SEV,
  VSB_FW_FEATURE_AMD_SEV_ES,
  VSB_FW_FEATURE_AMD_SEV_SNP,
  VSB_FW_FEATURE_INTEL_TDX,
  VSB_FW_FEATURE_ENROLLED_KEYS,
  VSB_FW_FEATURE_REQUIRES_SMM,
  VSB_FW_FEATURE_SECURE_BOOT,
  VSB_FW_FEATURE_VERBOSE_DYNAMIC,
  VSB_FW_FEATURE_VERBOSE_STATIC,
  VSB_FW_FEATURE_HOST_UEFI_VARS,
  VSB_FW_FEATURE_COUNT
} VsbFwFeature;
#define VSB_FW_FEATURE_BIT(f) (1u << (f))
const char *vsb_fw_feature_name(VsbFwFeature feature);
int vsb_fw_feature_from_name(const char *name);
/* A feature set as descriptors and the VM state file write it: member is an array of the names
 * of the VSB_FW_FEATURE_BIT()s in features (in enum order), then the unknown ones kept as read. */
void vsb_fw_features_put_json(JsonBuilder *b, const char *member, guint32 features,
                              const char *const *unknown);

typedef struct {
  char *filename; /* as written in the descriptor (absolute in practice) */
  VsbFwFormat format;
} VsbFwFile;

typedef struct {
  VsbFwArch architecture;
  char **machines; /* glob patterns ('*', '?'), NULL-terminated, never NULL */
} VsbFwTarget;

typedef struct {
  char *path;        /* the descriptor file as given/found */
  char *name;        /* its basename: the precedence key */
  char *description; /* NULL when absent */

  VsbFwInterface interfaces[VSB_FW_INTERFACE_COUNT]; /* file order, most native first, no dups */
  guint n_interfaces;

  VsbFwDevice device;
  /* device == FLASH */
  VsbFwFlashMode mode;       /* absent in the file means split */
  gboolean mode_explicit;    /* "mode" was present */
  VsbFwFile executable;
  VsbFwFile nvram_template;  /* split only; filename NULL otherwise */
  /* device == MEMORY, KERNEL, IGVM */
  char *filename;

  GPtrArray *targets;        /* VsbFwTarget*, at least one */
  guint32 features;          /* VSB_FW_FEATURE_BIT() of the known features */
  char **unknown_features;   /* names not known to vsboot, file order; never NULL */
  char **warnings;           /* non-fatal findings (unknown feature, ignored member); never NULL */
} VsbFwDescriptor;

/* Read and parse one descriptor file (at most VSB_FW_DESCRIPTOR_MAX_SIZE). An empty file is
 * not a descriptor (it masks one; see fwsearch.h) and fails with VSB_ERROR_PARSE. Errors name
 * the file and the JSON member at fault: "FILE: mapping.executable.format: expected a string". */
VsbFwDescriptor *vsb_fw_descriptor_load(const char *path, GError **error);
/* Same from memory; path is used for messages and stored in ->path (may be NULL). */
VsbFwDescriptor *vsb_fw_descriptor_parse(const char *data, gsize len, const char *path,
                                         GError **error);

VsbFwDescriptor *vsb_fw_descriptor_ref(VsbFwDescriptor *desc);
void vsb_fw_descriptor_unref(VsbFwDescriptor *desc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFwDescriptor, vsb_fw_descriptor_unref)

static inline gboolean
vsb_fw_descriptor_has_feature(const VsbFwDescriptor *desc, VsbFwFeature feature)
{
  return (desc->features & VSB_FW_FEATURE_BIT(feature)) != 0;
}
gboolean vsb_fw_descriptor_has_interface(const VsbFwDescriptor *desc, VsbFwInterface iface);
/* The file QEMU executes: the flash executable, or the memory/kernel/igvm filename. */
const char *vsb_fw_descriptor_code_path(const VsbFwDescriptor *desc);
/* TRUE when a target has this architecture and one of its globs matches machine exactly as
 * libvirt does (g_pattern_match_simple). machine NULL: the architecture alone decides. */
gboolean vsb_fw_descriptor_supports(const VsbFwDescriptor *desc, VsbFwArch arch,
                                    const char *machine);

/* The JSON object: { "path", "description", "interface-types", "mapping": { "device", "mode",
 * "executable": {filename, format}, "nvram-template": {...} | "filename" }, "targets":
 * [{architecture, machines}], "features": [known in enum order..., unknown in file order...] }.
 * "mode" is always written for flash (as libvirt does); "path"/"description" only when set. */
JsonNode *vsb_fw_descriptor_to_json(const VsbFwDescriptor *desc);

VSB_END_DECLS
