/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: what an OVMF/AAVMF code image really contains.
 *
 * Descriptors (firmware.json) only say what a distribution claims about a binary. This module
 * reads the binary itself: the firmware volumes (EFI_FIRMWARE_VOLUME_HEADER with its extended
 * header, PI spec vol. 3 / MdePkg Pi/PiFirmwareVolume.h), the FFS files in them (FFS2 and FFS3
 * large files, Pi/PiFirmwareFile.h) and their sections, opening LZMA-compressed (edk2's
 * LzmaCustomDecompress GUID, decoded by liblzma) and nested volumes. It names the edk2 modules
 * it finds (by UI section and FILE_GUID) and derives the features a descriptor may claim, each
 * with its evidence, so the audit and `firmware check` can tell when a descriptor lies.
 *
 * Untrusted input: every length and offset is checked against its container, nesting is
 * bounded, and all decompression together is bounded, so a hostile file gets a GError
 * (VSB_ERROR_PARSE, VSB_ERROR_INVALID for limits) naming the offset at fault. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/descriptor.h"
#include "vsboot/guid.h"

VSB_BEGIN_DECLS

/* Bounds against hostile images. Depth counts volumes and encapsulating section streams
 * (OVMF reaches 4: FVMAIN_COMPACT, its file, the LZMA section, DXEFV's files); OVMF inflates
 * ~13 MiB. Beyond these, an image may hold at most 65536 files and 4096 volumes, and at most
 * 64 warnings are kept. */
#define VSB_FV_DEFAULT_MAX_DEPTH 16
#define VSB_FV_DEFAULT_MAX_DECOMPRESSED ((gsize)256 << 20)

typedef struct {
  guint max_depth;         /* nested volumes + encapsulation sections; 0 = default */
  gsize max_decompressed;  /* bytes all decompressions may produce together; 0 = default */
} VsbFvLimits;

/* Architectures are VsbFwArch (descriptor.h), the one type for them; an image's is -1 when no
 * core module of a known PE machine was found. Its name for reports: firmware.json's word
 * ("x86_64", "aarch64", ...), or "unknown" for -1. */
const char *vsb_fv_arch_name(int arch);

/* What a module is for; groups the report and feeds the features. */
typedef enum {
  VSB_FV_GROUP_CORE,
  VSB_FV_GROUP_SMM,
  VSB_FV_GROUP_VARIABLE,
  VSB_FV_GROUP_SECURE_BOOT,
  VSB_FV_GROUP_TPM,
  VSB_FV_GROUP_CONFIDENTIAL,  /* AMD SEV, Intel TDX */
  VSB_FV_GROUP_SHELL,
  VSB_FV_GROUP_NETWORK,
  VSB_FV_GROUP_OTHER,
} VsbFvGroup;
const char *vsb_fv_group_name(VsbFvGroup group); /* "smm", "secure-boot", ... */

/* A well-known edk2 module: BASE_NAME (what the UI section says) and FILE_GUID. */
typedef struct {
  const char *name;
  const char *guid;       /* FILE_GUID text, from the module's .inf */
  VsbFvGroup group;
  const char *source;     /* the .inf in edk2 */
} VsbFvModule;
/* By GUID first, then by UI name; NULL when unknown. */
const VsbFvModule *vsb_fv_module_lookup(const VsbGuid *guid, const char *ui_name);

typedef struct {
  guint index;            /* in vsb_fv_image_get_volumes() */
  gint parent_file;       /* FFS file (index) whose section held it; -1 at the top level */
  guint depth;            /* 0 for a volume found in the file itself */
  gsize offset;           /* top level: in the file; nested: in the parent's section data */
  guint64 length;         /* FvLength */
  VsbGuid fs_guid;        /* FileSystemGuid: FFS2, FFS3, NV data, ... */
  gboolean has_name;
  VsbGuid name;           /* FvName from EFI_FIRMWARE_VOLUME_EXT_HEADER */
  const char *known_name; /* edk2's [FV.NAME] for a known FvName ("DXEFV"), or NULL */
  guint32 attributes;
  guint8 revision;
  gboolean compressed;    /* reached through a decompression */
  guint nfiles;           /* live FFS files in it */
} VsbFvVolume;

/* Bits of VsbFvFile.evidence: GUIDs found in the module's code or data. */
#define VSB_FV_EVIDENCE_IMAGE_SECURITY_DB 0x1u /* gEfiImageSecurityDatabaseGuid (db/dbx) */
#define VSB_FV_EVIDENCE_CERT_DB           0x2u /* gEfiCertDbGuid: AuthVariableLib */

typedef struct {
  guint volume;           /* index of the volume holding it */
  gsize offset;           /* of the file header in that volume */
  VsbGuid name;           /* the FFS file name = the module's FILE_GUID */
  guint8 type;            /* EFI_FV_FILETYPE_* */
  guint8 attributes;
  guint64 size;           /* whole file, header included */
  char *ui_name;          /* EFI_SECTION_USER_INTERFACE, UTF-8; NULL if none */
  char *version;          /* EFI_SECTION_VERSION string; NULL if none */
  guint16 build_number;
  guint16 machine;        /* PE32/TE machine of its image section; 0 if none */
  gsize image_size;       /* bytes of its PE32/TE section data */
  gboolean has_depex;
  guint32 evidence;       /* VSB_FV_EVIDENCE_* */
  const VsbFvModule *module; /* the known edk2 module, or NULL */
} VsbFvFile;
/* "DRIVER", "PEIM", "FIRMWARE_VOLUME_IMAGE", "SMM", ... (edk2's spelling); "0xNN" else. */
const char *vsb_fv_file_type_name(guint8 type);

/* One entry of OVMF's GUIDed table at the end of the image (SEV/TDX metadata, ...). */
typedef struct {
  VsbGuid guid;
  const char *name;       /* "SevEsResetBlock", "TdxMetadataOffset", ... or NULL */
  gsize offset;           /* of its data in the file */
  gsize length;           /* of its data */
} VsbFvOvmfTableEntry;

typedef enum {
  VSB_FV_VARSTORE_UNKNOWN,
  VSB_FV_VARSTORE_EMBEDDED,   /* an NV-data volume in the same file (unified OVMF.fd) */
  VSB_FV_VARSTORE_CODE_SIZE,  /* inferred from the OVMF code size (OvmfPkgDefines.fdf.inc) */
  VSB_FV_VARSTORE_ARMVIRT,    /* ArmVirtQemu's fixed layout (ArmVirtPkg/VarStore.fdf.inc) */
} VsbFvVarstoreSource;
const char *vsb_fv_varstore_source_name(VsbFvVarstoreSource source);

/* A feature the binary does or does not have, with the evidence either way. Names follow
 * firmware.json where it has one ("secure-boot", "requires-smm", "amd-sev", "amd-sev-es",
 * "amd-sev-snp", "intel-tdx", "acpi-s3"); the others are vsboot's ("smm", "tpm2", "shell",
 * "network", "authenticated-variables", ...). */
typedef struct {
  const char *name;
  gboolean present;
  char *evidence;
  gboolean descriptor_feature; /* a firmware.json feature name that vsboot can judge */
} VsbFvFeature;

typedef struct _VsbFvImage VsbFvImage;

/* Inspect a code image (OVMF_CODE*.fd, AAVMF_CODE*.fd, unified OVMF.fd, QEMU_EFI.fd). Files
 * with no FFS volume at all (e.g. a variable store) are VSB_ERROR_PARSE. limits may be NULL. */
VsbFvImage *vsb_fv_inspect_file(const char *path, const VsbFvLimits *limits, GError **error);
VsbFvImage *vsb_fv_inspect_bytes(GBytes *data, const char *origin, const VsbFvLimits *limits,
                                 GError **error);
void vsb_fv_image_free(VsbFvImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFvImage, vsb_fv_image_free)

gsize vsb_fv_image_get_size(const VsbFvImage *image);
int vsb_fv_image_get_arch(const VsbFvImage *image); /* of the DXE core: VsbFwArch or -1 */
/* Of the PEI core: i386 in OvmfPkgIa32X64 builds (Debian's 4M OVMF, for S3 with SMM). */
int vsb_fv_image_get_pei_arch(const VsbFvImage *image);
gsize vsb_fv_image_get_decompressed(const VsbFvImage *image); /* bytes inflated */
GPtrArray *vsb_fv_image_get_volumes(const VsbFvImage *image);  /* VsbFvVolume*, owned */
GPtrArray *vsb_fv_image_get_files(const VsbFvImage *image);    /* VsbFvFile*, owned */
GPtrArray *vsb_fv_image_get_ovmf_table(const VsbFvImage *image); /* VsbFvOvmfTableEntry* */
GPtrArray *vsb_fv_image_get_features(const VsbFvImage *image); /* VsbFvFeature*, owned */
/* Things read but not decoded (e.g. a section in a compression vsboot does not implement). */
const char *const *vsb_fv_image_get_warnings(const VsbFvImage *image);
/* The first live file that is the named module (by GUID or UI name), or NULL. */
const VsbFvFile *vsb_fv_image_find_module(const VsbFvImage *image, const char *name);
const VsbFvFeature *vsb_fv_image_get_feature(const VsbFvImage *image, const char *name);
gboolean vsb_fv_image_has_feature(const VsbFvImage *image, const char *name);

/* The size of the variable store this build expects, 0 when unknown; *source and *reason say
 * how it was found (reason is owned by the image). */
gsize vsb_fv_image_get_varstore_size(const VsbFvImage *image, VsbFvVarstoreSource *source,
                                     const char **reason);

/* Judge a descriptor's "features" list against the binary, for every feature the inspection
 * can decide (VsbFvFeature.descriptor_feature). */
typedef enum {
  VSB_FV_CLAIM_OK,         /* claimed and present, or neither */
  VSB_FV_CLAIM_FALSE,      /* claimed, but the binary lacks it: the descriptor lies */
  VSB_FV_CLAIM_UNDECLARED, /* present but not claimed (Debian's OVMF_CODE_4M.fd: SB w/o SMM) */
} VsbFvClaim;

typedef struct {
  const char *feature;     /* static */
  VsbFvClaim claim;
  gboolean claimed;
  gboolean present;
  const char *evidence;    /* owned by the image */
} VsbFvClaimCheck;

/* One VsbFvClaimCheck (g_free) per judgeable feature, in a fixed order. */
GPtrArray *vsb_fv_image_check_claims(const VsbFvImage *image, const char *const *claimed);

VSB_END_DECLS
