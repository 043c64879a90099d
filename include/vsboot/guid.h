/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: EFI GUIDs, in their on-disk (mixed-endian) byte order, and the well-known ones by name. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

/* Bytes exactly as EFI_GUID lies in memory and on flash: Data1..Data3 little-endian. */
typedef struct {
  guint8 b[16];
} VsbGuid;

#define VSB_GUID_STRING_LEN 36

/* "8be4df61-93ca-11d2-aa0d-00e098032b8c" (case-insensitive, optional braces) -> bytes. */
gboolean vsb_guid_parse(const char *text, VsbGuid *out);
/* Lower-case canonical text into buf (at least VSB_GUID_STRING_LEN + 1 bytes). */
char *vsb_guid_format(const VsbGuid *guid, char buf[VSB_GUID_STRING_LEN + 1]);
char *vsb_guid_to_string(const VsbGuid *guid); /* newly allocated */
gboolean vsb_guid_equal(const VsbGuid *a, const VsbGuid *b);
/* The spec name of a well-known GUID ("EfiGlobalVariable"), or NULL. */
const char *vsb_guid_known_name(const VsbGuid *guid);
/* A GUID from its spec name or its text form. */
gboolean vsb_guid_lookup(const char *name_or_text, VsbGuid *out);

/* Well-known GUIDs (edk2 MdePkg.dec, SecurityPkg.dec, OvmfPkg.dec, UEFI spec). */
extern const VsbGuid VSB_GUID_EFI_GLOBAL_VARIABLE;            /* 8be4df61-93ca-11d2-aa0d-00e098032b8c */
extern const VsbGuid VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;    /* d719b2cb-3d3a-4596-a3bc-dad00e67656f */
extern const VsbGuid VSB_GUID_SECURE_BOOT_ENABLE_DISABLE;     /* f0a30bc7-af08-4556-99c4-001009c93a44 */
extern const VsbGuid VSB_GUID_CUSTOM_MODE_ENABLE;             /* c076ec0c-7028-4399-a072-71ee5c448b9f */
extern const VsbGuid VSB_GUID_VENDOR_KEYS_NV;                 /* 9073e4e0-60ec-4b6e-9903-4c223c260f3c */
extern const VsbGuid VSB_GUID_CERT_DB;                        /* d9bee56e-75dc-49d9-b4d7-b534210f637a */
extern const VsbGuid VSB_GUID_SYSTEM_NV_DATA_FV;              /* fff12b8d-7696-4c8b-a985-2747075b4f50 */
extern const VsbGuid VSB_GUID_AUTHENTICATED_VARIABLE;         /* aaf32c78-947b-439a-a180-2e144ec37792 */
extern const VsbGuid VSB_GUID_VARIABLE;                       /* ddcf3616-3275-4164-98b6-fe85707ffe7d */
extern const VsbGuid VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE;  /* 9e58292b-7c68-497d-a0ce-6500fd9f1b95 */
extern const VsbGuid VSB_GUID_EFI_CERT_X509;                  /* a5c059a1-94e4-4aa7-87b5-ab155c2bf072 */
extern const VsbGuid VSB_GUID_EFI_CERT_SHA1;                  /* 826ca512-cf10-4ac9-b187-be01496631bd */
extern const VsbGuid VSB_GUID_EFI_CERT_SHA256;                /* c1c41626-504c-4092-aca9-41f936934328 */
extern const VsbGuid VSB_GUID_EFI_CERT_SHA384;                /* ff3e5307-9fd0-48c9-85f1-8ad56c701e01 */
extern const VsbGuid VSB_GUID_EFI_CERT_SHA512;                /* 093e0fae-a6c4-4f50-9f1b-d41e2b89c19a */
extern const VsbGuid VSB_GUID_EFI_CERT_RSA2048;               /* 3c5766e8-269c-4e34-aa14-ed776e85b3b6 */
extern const VsbGuid VSB_GUID_EFI_CERT_X509_SHA256;           /* 3bd2a492-96c0-4079-b420-fcf98ef103ed */
extern const VsbGuid VSB_GUID_EFI_CERT_X509_SHA384;           /* 7076876e-80c2-4ee6-aad2-28b349a6865b */
extern const VsbGuid VSB_GUID_EFI_CERT_X509_SHA512;           /* 446dbf63-2502-4cda-bcfa-2465d2b0fe9d */
extern const VsbGuid VSB_GUID_EFI_CERT_TYPE_PKCS7;            /* 4aafd29d-68df-49ee-8aa9-347d375665a7 */
extern const VsbGuid VSB_GUID_MICROSOFT_VENDOR;               /* 77fa9abd-0359-4d32-bd60-28f4e78f784b */
extern const VsbGuid VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS;       /* a0baa8a3-041d-48a8-bc87-c36d121b5e3d */
extern const VsbGuid VSB_GUID_SHIM_LOCK;                      /* 605dab50-e046-4300-abb6-3dd810dd8b23 */

/* Firmware volumes and sections (MdePkg Pi/PiFirmwareVolume.h, MdeModulePkg.dec, OvmfPkg
 * ResetVector/Ia16/ResetVectorVtf0.nasm.inc). */
extern const VsbGuid VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2;      /* 8c8ce578-8a3d-4f1c-9935-896185c32dd3 */
extern const VsbGuid VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3;      /* 5473c07a-3dcb-4dca-bd6f-1e9689e7349a */
extern const VsbGuid VSB_GUID_LZMA_CUSTOM_DECOMPRESS;         /* ee4e5898-3914-4259-9d6e-dc7bd79403cf */
extern const VsbGuid VSB_GUID_LZMAF86_CUSTOM_DECOMPRESS;      /* d42ae6bd-1352-4bfb-909a-ca72a6eae889 */
extern const VsbGuid VSB_GUID_TIANO_CUSTOM_DECOMPRESS;        /* a31280ad-481e-41b6-95e8-127f4c984779 */
extern const VsbGuid VSB_GUID_BROTLI_CUSTOM_DECOMPRESS;       /* 3d532050-5cda-4fd0-879e-0f7f630d5afb */
extern const VsbGuid VSB_GUID_EFI_CRC32_GUIDED_SECTION;       /* fc1bcdb0-7d31-49aa-936a-a4600d9dd083 */
extern const VsbGuid VSB_GUID_OVMF_TABLE_FOOTER;              /* 96b582de-1fb2-45f7-baea-a366c55a082d */
extern const VsbGuid VSB_GUID_SEV_ES_RESET_BLOCK;             /* 00f771de-1a7e-4fcb-890e-68c77e2fb44e */
extern const VsbGuid VSB_GUID_SEV_HASH_TABLE_BLOCK;           /* 7255371f-3a3b-4b04-927b-1da6efa8d454 */
extern const VsbGuid VSB_GUID_SEV_SECRET_BLOCK;               /* 4c2eb361-7d9b-4cc3-8081-127c90d3d294 */
extern const VsbGuid VSB_GUID_OVMF_SEV_METADATA_OFFSET;       /* dc886566-984a-4798-a75e-5585a7bf67cc */
extern const VsbGuid VSB_GUID_TDX_METADATA_OFFSET;            /* e47a6535-984a-4798-865e-4685a7bf8ec2 */

VSB_END_DECLS
