/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/guid.h"

#include <string.h>

/* Written as the text form's fields so that they can be checked against the specs by eye. */
#define GUID_INIT(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7)                                      \
  {{ (d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff, ((d1) >> 24) & 0xff, (d2) & 0xff,       \
     ((d2) >> 8) & 0xff, (d3) & 0xff, ((d3) >> 8) & 0xff, b0, b1, b2, b3, b4, b5, b6, b7 }}

const VsbGuid VSB_GUID_EFI_GLOBAL_VARIABLE =
  GUID_INIT(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c);
const VsbGuid VSB_GUID_EFI_IMAGE_SECURITY_DATABASE =
  GUID_INIT(0xd719b2cb, 0x3d3a, 0x4596, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f);
const VsbGuid VSB_GUID_SECURE_BOOT_ENABLE_DISABLE =
  GUID_INIT(0xf0a30bc7, 0xaf08, 0x4556, 0x99, 0xc4, 0x00, 0x10, 0x09, 0xc9, 0x3a, 0x44);
const VsbGuid VSB_GUID_CUSTOM_MODE_ENABLE =
  GUID_INIT(0xc076ec0c, 0x7028, 0x4399, 0xa0, 0x72, 0x71, 0xee, 0x5c, 0x44, 0x8b, 0x9f);
const VsbGuid VSB_GUID_VENDOR_KEYS_NV =
  GUID_INIT(0x9073e4e0, 0x60ec, 0x4b6e, 0x99, 0x03, 0x4c, 0x22, 0x3c, 0x26, 0x0f, 0x3c);
const VsbGuid VSB_GUID_CERT_DB =
  GUID_INIT(0xd9bee56e, 0x75dc, 0x49d9, 0xb4, 0xd7, 0xb5, 0x34, 0x21, 0x0f, 0x63, 0x7a);
const VsbGuid VSB_GUID_SYSTEM_NV_DATA_FV =
  GUID_INIT(0xfff12b8d, 0x7696, 0x4c8b, 0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50);
const VsbGuid VSB_GUID_AUTHENTICATED_VARIABLE =
  GUID_INIT(0xaaf32c78, 0x947b, 0x439a, 0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92);
const VsbGuid VSB_GUID_VARIABLE =
  GUID_INIT(0xddcf3616, 0x3275, 0x4164, 0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d);
const VsbGuid VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE =
  GUID_INIT(0x9e58292b, 0x7c68, 0x497d, 0xa0, 0xce, 0x65, 0x00, 0xfd, 0x9f, 0x1b, 0x95);
const VsbGuid VSB_GUID_EFI_CERT_X509 =
  GUID_INIT(0xa5c059a1, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72);
const VsbGuid VSB_GUID_EFI_CERT_SHA1 =
  GUID_INIT(0x826ca512, 0xcf10, 0x4ac9, 0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd);
const VsbGuid VSB_GUID_EFI_CERT_SHA256 =
  GUID_INIT(0xc1c41626, 0x504c, 0x4092, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28);
const VsbGuid VSB_GUID_EFI_CERT_SHA384 =
  GUID_INIT(0xff3e5307, 0x9fd0, 0x48c9, 0x85, 0xf1, 0x8a, 0xd5, 0x6c, 0x70, 0x1e, 0x01);
const VsbGuid VSB_GUID_EFI_CERT_SHA512 =
  GUID_INIT(0x093e0fae, 0xa6c4, 0x4f50, 0x9f, 0x1b, 0xd4, 0x1e, 0x2b, 0x89, 0xc1, 0x9a);
const VsbGuid VSB_GUID_EFI_CERT_RSA2048 =
  GUID_INIT(0x3c5766e8, 0x269c, 0x4e34, 0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6);
const VsbGuid VSB_GUID_EFI_CERT_X509_SHA256 =
  GUID_INIT(0x3bd2a492, 0x96c0, 0x4079, 0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed);
const VsbGuid VSB_GUID_EFI_CERT_X509_SHA384 =
  GUID_INIT(0x7076876e, 0x80c2, 0x4ee6, 0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b);
const VsbGuid VSB_GUID_EFI_CERT_X509_SHA512 =
  GUID_INIT(0x446dbf63, 0x2502, 0x4cda, 0xbc, 0xfa, 0x24, 0x65, 0xd2, 0xb0, 0xfe, 0x9d);
const VsbGuid VSB_GUID_EFI_CERT_TYPE_PKCS7 =
  GUID_INIT(0x4aafd29d, 0x68df, 0x49ee, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7);
const VsbGuid VSB_GUID_MICROSOFT_VENDOR =
  GUID_INIT(0x77fa9abd, 0x0359, 0x4d32, 0xbd, 0x60, 0x28, 0xf4, 0xe7, 0x8f, 0x78, 0x4b);
const VsbGuid VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS =
  GUID_INIT(0xa0baa8a3, 0x041d, 0x48a8, 0xbc, 0x87, 0xc3, 0x6d, 0x12, 0x1b, 0x5e, 0x3d);
const VsbGuid VSB_GUID_SHIM_LOCK =
  GUID_INIT(0x605dab50, 0xe046, 0x4300, 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23);
const VsbGuid VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2 =
  GUID_INIT(0x8c8ce578, 0x8a3d, 0x4f1c, 0x99, 0x35, 0x89, 0x61, 0x85, 0xc3, 0x2d, 0xd3);
const VsbGuid VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3 =
  GUID_INIT(0x5473c07a, 0x3dcb, 0x4dca, 0xbd, 0x6f, 0x1e, 0x96, 0x89, 0xe7, 0x34, 0x9a);
const VsbGuid VSB_GUID_LZMA_CUSTOM_DECOMPRESS =
  GUID_INIT(0xee4e5898, 0x3914, 0x4259, 0x9d, 0x6e, 0xdc, 0x7b, 0xd7, 0x94, 0x03, 0xcf);
const VsbGuid VSB_GUID_LZMAF86_CUSTOM_DECOMPRESS =
  GUID_INIT(0xd42ae6bd, 0x1352, 0x4bfb, 0x90, 0x9a, 0xca, 0x72, 0xa6, 0xea, 0xe8, 0x89);
const VsbGuid VSB_GUID_TIANO_CUSTOM_DECOMPRESS =
  GUID_INIT(0xa31280ad, 0x481e, 0x41b6, 0x95, 0xe8, 0x12, 0x7f, 0x4c, 0x98, 0x47, 0x79);
const VsbGuid VSB_GUID_BROTLI_CUSTOM_DECOMPRESS =
  GUID_INIT(0x3d532050, 0x5cda, 0x4fd0, 0x87, 0x9e, 0x0f, 0x7f, 0x63, 0x0d, 0x5a, 0xfb);
const VsbGuid VSB_GUID_EFI_CRC32_GUIDED_SECTION =
  GUID_INIT(0xfc1bcdb0, 0x7d31, 0x49aa, 0x93, 0x6a, 0xa4, 0x60, 0x0d, 0x9d, 0xd0, 0x83);
const VsbGuid VSB_GUID_OVMF_TABLE_FOOTER =
  GUID_INIT(0x96b582de, 0x1fb2, 0x45f7, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d);
const VsbGuid VSB_GUID_SEV_ES_RESET_BLOCK =
  GUID_INIT(0x00f771de, 0x1a7e, 0x4fcb, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e);
const VsbGuid VSB_GUID_SEV_HASH_TABLE_BLOCK =
  GUID_INIT(0x7255371f, 0x3a3b, 0x4b04, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54);
const VsbGuid VSB_GUID_SEV_SECRET_BLOCK =
  GUID_INIT(0x4c2eb361, 0x7d9b, 0x4cc3, 0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94);
const VsbGuid VSB_GUID_OVMF_SEV_METADATA_OFFSET =
  GUID_INIT(0xdc886566, 0x984a, 0x4798, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc);
const VsbGuid VSB_GUID_TDX_METADATA_OFFSET =
  GUID_INIT(0xe47a6535, 0x984a, 0x4798, 0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2);

static const struct {
  const char *name;
  const VsbGuid *guid;
} known_guids[] = {
  { "EfiGlobalVariable", &VSB_GUID_EFI_GLOBAL_VARIABLE },
  { "EfiImageSecurityDatabase", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE },
  { "EfiSecureBootEnableDisable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE },
  { "EfiCustomModeEnable", &VSB_GUID_CUSTOM_MODE_ENABLE },
  { "EfiVendorKeysNv", &VSB_GUID_VENDOR_KEYS_NV },
  { "EfiCertDb", &VSB_GUID_CERT_DB },
  { "EfiSystemNvDataFv", &VSB_GUID_SYSTEM_NV_DATA_FV },
  { "EfiAuthenticatedVariable", &VSB_GUID_AUTHENTICATED_VARIABLE },
  { "EfiVariable", &VSB_GUID_VARIABLE },
  { "EdkiiWorkingBlockSignature", &VSB_GUID_EDKII_WORKING_BLOCK_SIGNATURE },
  { "EfiCertX509", &VSB_GUID_EFI_CERT_X509 },
  { "EfiCertSha1", &VSB_GUID_EFI_CERT_SHA1 },
  { "EfiCertSha256", &VSB_GUID_EFI_CERT_SHA256 },
  { "EfiCertSha384", &VSB_GUID_EFI_CERT_SHA384 },
  { "EfiCertSha512", &VSB_GUID_EFI_CERT_SHA512 },
  { "EfiCertRsa2048", &VSB_GUID_EFI_CERT_RSA2048 },
  { "EfiCertX509Sha256", &VSB_GUID_EFI_CERT_X509_SHA256 },
  { "EfiCertX509Sha384", &VSB_GUID_EFI_CERT_X509_SHA384 },
  { "EfiCertX509Sha512", &VSB_GUID_EFI_CERT_X509_SHA512 },
  { "EfiCertTypePkcs7", &VSB_GUID_EFI_CERT_TYPE_PKCS7 },
  { "MicrosoftVendor", &VSB_GUID_MICROSOFT_VENDOR },
  { "OvmfEnrollDefaultKeys", &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS },
  { "ShimLock", &VSB_GUID_SHIM_LOCK },
  { "EfiFirmwareFileSystem2", &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2 },
  { "EfiFirmwareFileSystem3", &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3 },
  { "LzmaCustomDecompress", &VSB_GUID_LZMA_CUSTOM_DECOMPRESS },
  { "LzmaF86CustomDecompress", &VSB_GUID_LZMAF86_CUSTOM_DECOMPRESS },
  { "TianoCustomDecompress", &VSB_GUID_TIANO_CUSTOM_DECOMPRESS },
  { "BrotliCustomDecompress", &VSB_GUID_BROTLI_CUSTOM_DECOMPRESS },
  { "EfiCrc32GuidedSectionExtraction", &VSB_GUID_EFI_CRC32_GUIDED_SECTION },
  { "OvmfTableFooter", &VSB_GUID_OVMF_TABLE_FOOTER },
  { "SevEsResetBlock", &VSB_GUID_SEV_ES_RESET_BLOCK },
  { "SevHashTableBlock", &VSB_GUID_SEV_HASH_TABLE_BLOCK },
  { "SevSecretBlock", &VSB_GUID_SEV_SECRET_BLOCK },
  { "OvmfSevMetadataOffset", &VSB_GUID_OVMF_SEV_METADATA_OFFSET },
  { "TdxMetadataOffset", &VSB_GUID_TDX_METADATA_OFFSET },
};

static int
hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

gboolean
vsb_guid_parse(const char *text, VsbGuid *out)
{
  /* Text order of the 16 bytes: Data1 (4, LE), Data2 (2, LE), Data3 (2, LE), Data4 (8). */
  static const int byte_index[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
  gsize len;
  gboolean braced;
  VsbGuid g;
  int nbyte = 0;

  if (text == NULL)
    return FALSE;
  len = strlen(text);
  braced = len == VSB_GUID_STRING_LEN + 2 && text[0] == '{' && text[len - 1] == '}';
  if (braced)
    text++;
  else if (len != VSB_GUID_STRING_LEN)
    return FALSE;

  for (int i = 0; i < VSB_GUID_STRING_LEN;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return FALSE;
      i++;
      continue;
    }
    int hi = hexval(text[i]), lo = hexval(text[i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    g.b[byte_index[nbyte++]] = (guint8)(hi << 4 | lo);
    i += 2;
  }
  *out = g;
  return TRUE;
}

char *
vsb_guid_format(const VsbGuid *g, char buf[VSB_GUID_STRING_LEN + 1])
{
  const guint8 *b = g->b;
  g_snprintf(buf, VSB_GUID_STRING_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
  return buf;
}

char *
vsb_guid_to_string(const VsbGuid *guid)
{
  char buf[VSB_GUID_STRING_LEN + 1];
  return g_strdup(vsb_guid_format(guid, buf));
}

gboolean
vsb_guid_equal(const VsbGuid *a, const VsbGuid *b)
{
  return memcmp(a->b, b->b, sizeof a->b) == 0;
}

const char *
vsb_guid_known_name(const VsbGuid *guid)
{
  for (gsize i = 0; i < G_N_ELEMENTS(known_guids); i++)
    if (vsb_guid_equal(known_guids[i].guid, guid))
      return known_guids[i].name;
  return NULL;
}

gboolean
vsb_guid_lookup(const char *name_or_text, VsbGuid *out)
{
  if (name_or_text == NULL)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(known_guids); i++)
    if (g_ascii_strcasecmp(known_guids[i].name, name_or_text) == 0) {
      *out = *known_guids[i].guid;
      return TRUE;
    }
  return vsb_guid_parse(name_or_text, out);
}
