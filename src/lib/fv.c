/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Firmware volumes of a code image: see include/vsboot/fv.h. Struct layouts and constants are
 * those of the PI spec vol. 3 as spelled in MdePkg/Include/Pi/PiFirmwareVolume.h and
 * PiFirmwareFile.h; all fields are little-endian and read byte by byte (no unaligned casts). */
#define _GNU_SOURCE /* memmem */
#include "vsboot/fv.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "util/arch.h"
#include "util/autofd.h"
#include "util/le.h"
#include "util/ucs2.h"
#include "util/enumname.h"

#include <gio/gio.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- PI spec constants ---------------------------------------------------------------- */

/* EFI_FIRMWARE_VOLUME_HEADER */
/* Largest file vsb_fv_inspect_file maps: flash banks are at most 64 MiB. */
#define FV_MAX_FILE_SIZE ((gsize)256 << 20)
#define FVH_OFF_FS_GUID 0x10
#define FVH_OFF_LENGTH 0x20
#define FVH_OFF_SIGNATURE 0x28
#define FVH_OFF_ATTRIBUTES 0x2c
#define FVH_OFF_HEADER_LENGTH 0x30
#define FVH_OFF_CHECKSUM 0x32
#define FVH_OFF_EXT_HEADER_OFFSET 0x34
#define FVH_OFF_REVISION 0x37
#define FVH_OFF_BLOCK_MAP 0x38
#define FVH_MIN_SIZE 0x48 /* header with one block map entry and the terminator */
#define EFI_FVB2_ERASE_POLARITY 0x00000800u
#define EFI_FVH_REVISION 0x02
/* EFI_FIRMWARE_VOLUME_EXT_HEADER: FvName, ExtHeaderSize */
#define FV_EXT_HEADER_SIZE 20

/* EFI_FFS_FILE_HEADER / EFI_FFS_FILE_HEADER2 */
#define FFS_HEADER_SIZE 24
#define FFS_HEADER2_SIZE 32
#define FFS_ATTRIB_LARGE_FILE 0x01
#define FFS_ATTRIB_CHECKSUM 0x40
#define FFS_FIXED_CHECKSUM 0xaa
#define EFI_FILE_HEADER_CONSTRUCTION 0x01
#define EFI_FILE_HEADER_VALID 0x02
#define EFI_FILE_DATA_VALID 0x04
#define EFI_FILE_MARKED_FOR_UPDATE 0x08
#define EFI_FILE_DELETED 0x10
#define EFI_FILE_HEADER_INVALID 0x20

#define EFI_FV_FILETYPE_RAW 0x01
#define EFI_FV_FILETYPE_FFS_PAD 0xf0

/* EFI_SECTION_TYPE */
#define EFI_SECTION_COMPRESSION 0x01
#define EFI_SECTION_GUID_DEFINED 0x02
#define EFI_SECTION_DISPOSABLE 0x03
#define EFI_SECTION_PE32 0x10
#define EFI_SECTION_PIC 0x11
#define EFI_SECTION_TE 0x12
#define EFI_SECTION_DXE_DEPEX 0x13
#define EFI_SECTION_VERSION 0x14
#define EFI_SECTION_USER_INTERFACE 0x15
#define EFI_SECTION_COMPATIBILITY16 0x16
#define EFI_SECTION_FIRMWARE_VOLUME_IMAGE 0x17
#define EFI_SECTION_FREEFORM_SUBTYPE_GUID 0x18
#define EFI_SECTION_RAW 0x19
#define EFI_SECTION_PEI_DEPEX 0x1b
#define EFI_SECTION_MM_DEPEX 0x1c
/* EFI_COMPRESSION_SECTION.CompressionType */
#define EFI_NOT_COMPRESSED 0x00
#define EFI_STANDARD_COMPRESSION 0x01
/* EFI_GUID_DEFINED_SECTION.Attributes */
#define EFI_GUIDED_SECTION_PROCESSING_REQUIRED 0x01

/* LZMA "alone" header in front of edk2's LzmaCompress output: 5 property bytes, u64 size. */
#define LZMA_HEADER_SIZE 13

/* ---- well-known edk2 modules ----------------------------------------------------------- */

#define G_CORE VSB_FV_GROUP_CORE
#define G_SMM VSB_FV_GROUP_SMM
#define G_VAR VSB_FV_GROUP_VARIABLE
#define G_SB VSB_FV_GROUP_SECURE_BOOT
#define G_TPM VSB_FV_GROUP_TPM
#define G_CC VSB_FV_GROUP_CONFIDENTIAL
#define G_SHELL VSB_FV_GROUP_SHELL
#define G_NET VSB_FV_GROUP_NETWORK
#define G_OTHER VSB_FV_GROUP_OTHER

/* FILE_GUIDs as the modules' .inf files in tianocore/edk2 give them. */
static const VsbFvModule known_modules[] = {
#include "fv-modules.inc"
};

const VsbFvModule *
vsb_fv_module_lookup(const VsbGuid *guid, const char *ui_name)
{
  if (guid) {
    char text[VSB_GUID_STRING_LEN + 1];
    vsb_guid_format(guid, text);
    for (gsize i = 0; i < G_N_ELEMENTS(known_modules); i++)
      if (strcmp(known_modules[i].guid, text) == 0)
        return &known_modules[i];
  }
  if (ui_name)
    for (gsize i = 0; i < G_N_ELEMENTS(known_modules); i++)
      if (strcmp(known_modules[i].name, ui_name) == 0)
        return &known_modules[i];
  return NULL;
}

static const char *const group_names[] = {
  [VSB_FV_GROUP_CORE] = "core",
  [VSB_FV_GROUP_SMM] = "smm",
  [VSB_FV_GROUP_VARIABLE] = "variables",
  [VSB_FV_GROUP_SECURE_BOOT] = "secure-boot",
  [VSB_FV_GROUP_TPM] = "tpm",
  [VSB_FV_GROUP_CONFIDENTIAL] = "confidential-computing",
  [VSB_FV_GROUP_SHELL] = "shell",
  [VSB_FV_GROUP_NETWORK] = "network",
  [VSB_FV_GROUP_OTHER] = "other",
};
VSB_ENUM_NAME_ONLY(vsb_fv_group, VsbFvGroup, group_names, G_N_ELEMENTS(group_names), "other")

const char *
vsb_fv_arch_name(int arch)
{
  return arch < 0 ? "unknown" : vsb_fw_arch_name((VsbFwArch)arch);
}

static int
arch_from_machine(guint16 machine)
{
  VsbFwArch arch;
  return vsb_arch_from_pe_machine(machine, &arch) ? (int)arch : -1;
}

const char *
vsb_fv_file_type_name(guint8 type)
{
  static const char *const names[] = {
    [0x01] = "RAW", [0x02] = "FREEFORM", [0x03] = "SECURITY_CORE", [0x04] = "PEI_CORE",
    [0x05] = "DXE_CORE", [0x06] = "PEIM", [0x07] = "DRIVER", [0x08] = "COMBINED_PEIM_DRIVER",
    [0x09] = "APPLICATION", [0x0a] = "SMM", [0x0b] = "FIRMWARE_VOLUME_IMAGE",
    [0x0c] = "COMBINED_SMM_DXE", [0x0d] = "SMM_CORE", [0x0e] = "MM_STANDALONE",
    [0x0f] = "MM_CORE_STANDALONE",
  };
  static const char *const hex[16] = { "0x00", "0x10", "0x20", "0x30", "0x40", "0x50", "0x60",
                                       "0x70", "0x80", "0x90", "0xa0", "0xb0", "0xc0", "0xd0",
                                       "0xe0", "0xf0" };
  if (type < G_N_ELEMENTS(names) && names[type])
    return names[type];
  if (type == EFI_FV_FILETYPE_FFS_PAD)
    return "FFS_PAD";
  if (type >= 0xc0 && type <= 0xdf)
    return "OEM";
  if (type >= 0xe0 && type <= 0xef)
    return "DEBUG";
  if (type >= 0xf1)
    return "FFS";
  return hex[type >> 4]; /* reserved range; the high nibble is enough to tell */
}

static const char *const varstore_source_names[] = {
  [VSB_FV_VARSTORE_UNKNOWN] = "unknown",
  [VSB_FV_VARSTORE_EMBEDDED] = "embedded",
  [VSB_FV_VARSTORE_CODE_SIZE] = "code-size",
  [VSB_FV_VARSTORE_ARMVIRT] = "armvirt-layout",
};
VSB_ENUM_NAME_ONLY(vsb_fv_varstore_source, VsbFvVarstoreSource, varstore_source_names,
                   G_N_ELEMENTS(varstore_source_names), "unknown")

/* ---- the image ------------------------------------------------------------------------- */

struct _VsbFvImage {
  char *origin;
  gsize size;
  VsbFvLimits limits;
  gsize decompressed;
  int arch;     /* VsbFwArch, -1 unknown */
  int pei_arch; /* VsbFwArch, -1 unknown */
  GPtrArray *volumes;   /* VsbFvVolume* */
  GPtrArray *files;     /* VsbFvFile* */
  GPtrArray *table;     /* VsbFvOvmfTableEntry* */
  GPtrArray *features;  /* VsbFvFeature* */
  GPtrArray *warnings;  /* char*, NULL-terminated */
  gsize varstore_size;
  VsbFvVarstoreSource varstore_source;
  char *varstore_reason;
  guint nv_volumes;
  gsize nv_volume_length;
};

static void
file_free(gpointer p)
{
  VsbFvFile *f = p;
  g_free(f->ui_name);
  g_free(f->version);
  g_free(f);
}

static void
feature_free(gpointer p)
{
  VsbFvFeature *f = p;
  g_free(f->evidence);
  g_free(f);
}

void
vsb_fv_image_free(VsbFvImage *image)
{
  if (image == NULL)
    return;
  g_free(image->origin);
  g_ptr_array_unref(image->volumes);
  g_ptr_array_unref(image->files);
  g_ptr_array_unref(image->table);
  g_ptr_array_unref(image->features);
  g_ptr_array_unref(image->warnings);
  g_free(image->varstore_reason);
  g_free(image);
}

/* Bounds on what a hostile image can make us record (an LZMA section inflating to 256 MiB of
 * 4-byte sections must not become 64 million warnings). OVMF has ~160 files, 4 volumes. */
#define MAX_FILES 65536
#define MAX_VOLUMES 4096
#define MAX_WARNINGS 64

static void G_GNUC_PRINTF(2, 3)
warn(VsbFvImage *image, const char *fmt, ...)
{
  guint n = image->warnings->len - 1;
  if (n > MAX_WARNINGS)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = n == MAX_WARNINGS ? g_strdup_printf("%s: further warnings suppressed",
                                                  image->origin)
                                : g_strdup_vprintf(fmt, ap);
  va_end(ap);
  /* Keep the array NULL-terminated for vsb_fv_image_get_warnings(). */
  g_ptr_array_insert(image->warnings, (gint)n, msg);
}

/* ---- readers --------------------------------------------------------------------------- */

static inline gsize
align_up(gsize v, gsize a)
{
  return (v + (a - 1)) & ~(a - 1);
}

/* Where we are, for messages: "OVMF_CODE.fd: volume 2 (in file 9e21fd93-...)". */
typedef struct {
  VsbFvImage *image;
  guint volume;         /* current volume index */
  gint file;            /* current file index, -1 outside files */
} Ctx;

static char *
where(const Ctx *ctx)
{
  if (ctx->file >= 0) {
    const VsbFvFile *f = g_ptr_array_index(ctx->image->files, ctx->file);
    char g[VSB_GUID_STRING_LEN + 1];
    return g_strdup_printf("%s: volume %u, file %s at offset 0x%zx", ctx->image->origin,
                           f->volume, vsb_guid_format(&f->name, g), f->offset);
  }
  return g_strdup_printf("%s: volume %u", ctx->image->origin, ctx->volume);
}

/* The error of a bad image: code and the place (where) before the message. */
static gboolean G_GNUC_PRINTF(4, 0)
vfail(const Ctx *ctx, GError **error, int code, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  g_autofree char *w = where(ctx);
  g_set_error(error, VSB_ERROR, code, "%s: %s", w, msg);
  return FALSE;
}

/* Malformed: VSB_ERROR_PARSE. */
static gboolean G_GNUC_PRINTF(3, 4)
fail(const Ctx *ctx, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(ctx, error, VSB_ERROR_PARSE, fmt, ap);
  va_end(ap);
  return FALSE;
}

/* Beyond a limit vsboot sets (depth, decompressed size): VSB_ERROR_INVALID. */
static gboolean G_GNUC_PRINTF(3, 4)
fail_limit(const Ctx *ctx, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(ctx, error, VSB_ERROR_INVALID, fmt, ap);
  va_end(ap);
  return FALSE;
}

static gboolean parse_volume(Ctx *ctx, const guint8 *data, gsize len, gsize offset, guint depth,
                             gboolean compressed, gint parent_file, gsize *fv_length,
                             GError **error);
static gboolean parse_sections(Ctx *ctx, const guint8 *data, gsize len, guint depth,
                               gboolean compressed, GError **error);

static guint8
sum8(const guint8 *p, gsize len)
{
  guint8 s = 0;
  for (gsize i = 0; i < len; i++)
    s = (guint8)(s + p[i]);
  return s;
}

/* A plausible volume header at data (len bytes available)? Only the fixed fields and the
 * checksum; the caller then parses it strictly. */
static gboolean
looks_like_volume(const guint8 *data, gsize len)
{
  if (len < FVH_MIN_SIZE || memcmp(data + FVH_OFF_SIGNATURE, "_FVH", 4) != 0)
    return FALSE;
  guint16 hlen = vsb_le16(data + FVH_OFF_HEADER_LENGTH);
  if (hlen < FVH_MIN_SIZE || hlen > len || (hlen & 1))
    return FALSE;
  return vsb_le16_sum(data, hlen) == 0;
}

/* ---- LZMA ------------------------------------------------------------------------------ */

/* edk2's LzmaCompress output: the 13-byte "alone" header (properties, dictionary size, u64
 * uncompressed size), then raw LZMA1 data without end marker. Decoded with liblzma's raw LZMA1
 * decoder; the dictionary is clamped to the output size (it can never reach further back), so
 * a hostile header cannot make us allocate more than the output itself. x86: LzmaF86 adds the
 * x86 BCJ filter, which edk2 runs with start offset 0, as liblzma does by default. */
static guint8 *
lzma_inflate(Ctx *ctx, const guint8 *in, gsize in_len, gboolean x86, gsize *out_len,
             GError **error)
{
  VsbFvImage *image = ctx->image;
  if (in_len < LZMA_HEADER_SIZE) {
    fail(ctx, error, "LZMA section data is %zu bytes, shorter than its 13-byte header", in_len);
    return NULL;
  }
  guint64 declared = vsb_le64(in + 5);
  gsize budget = image->limits.max_decompressed - image->decompressed;
  if (declared == G_MAXUINT64) {
    fail(ctx, error, "LZMA section does not declare its uncompressed size");
    return NULL;
  }
  if (declared > budget) {
    fail_limit(ctx, error,
               "LZMA section declares %" G_GUINT64_FORMAT " uncompressed bytes, more than the "
               "%zu bytes left of the %zu-byte decompression limit (decompression bomb?)",
               declared, budget, image->limits.max_decompressed);
    return NULL;
  }

  lzma_filter filters[3] = { { 0 } };
  guint nf = 0;
  if (x86)
    filters[nf++] = (lzma_filter){ .id = LZMA_FILTER_X86, .options = NULL };
  filters[nf] = (lzma_filter){ .id = LZMA_FILTER_LZMA1, .options = NULL };
  if (lzma_properties_decode(&filters[nf], NULL, in, 5) != LZMA_OK) {
    fail(ctx, error, "LZMA section has invalid properties 0x%02x", in[0]);
    return NULL;
  }
  lzma_options_lzma *opt = filters[nf].options;
  guint32 want_dict = declared < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (guint32)MIN(declared, G_MAXUINT32);
  if (opt->dict_size > want_dict)
    opt->dict_size = want_dict;
  filters[nf + 1].id = LZMA_VLI_UNKNOWN;

  gsize n = (gsize)declared;
  guint8 *out = g_try_malloc(n ? n : 1);
  if (out == NULL) {
    free(opt);
    fail_limit(ctx, error, "cannot allocate %zu bytes for an LZMA section", n);
    return NULL;
  }
  lzma_stream strm = LZMA_STREAM_INIT;
  lzma_ret ret = lzma_raw_decoder(&strm, filters);
  free(opt);
  if (ret != LZMA_OK) {
    g_free(out);
    fail(ctx, error, "cannot start the LZMA decoder (liblzma error %d)", (int)ret);
    return NULL;
  }
  strm.next_in = in + LZMA_HEADER_SIZE;
  strm.avail_in = in_len - LZMA_HEADER_SIZE;
  strm.next_out = out;
  strm.avail_out = n;
  while (strm.avail_out > 0) {
    ret = lzma_code(&strm, LZMA_FINISH);
    if (ret == LZMA_STREAM_END || ret != LZMA_OK)
      break;
  }
  gsize produced = n - strm.avail_out;
  lzma_end(&strm);
  if (produced != n) {
    g_free(out);
    if (ret == LZMA_OK || ret == LZMA_STREAM_END || ret == LZMA_BUF_ERROR)
      fail(ctx, error,
           "LZMA section decodes to %zu bytes, not the %" G_GUINT64_FORMAT " it declares "
           "(truncated or corrupt)", produced, declared);
    else
      fail(ctx, error, "LZMA section is corrupt after %zu of %" G_GUINT64_FORMAT
           " bytes (liblzma error %d)", produced, declared, (int)ret);
    return NULL;
  }
  image->decompressed += n;
  *out_len = n;
  return out;
}

/* ---- sections -------------------------------------------------------------------------- */

static VsbFvFile *
current_file(Ctx *ctx)
{
  return ctx->file >= 0 ? g_ptr_array_index(ctx->image->files, ctx->file) : NULL;
}

static void
note_image(Ctx *ctx, guint8 type, const guint8 *p, gsize len)
{
  VsbFvFile *f = current_file(ctx);
  if (f == NULL)
    return;
  guint16 machine = 0;
  if (type == EFI_SECTION_TE) {
    if (len >= 4 && p[0] == 'V' && p[1] == 'Z')
      machine = vsb_le16(p + 2);
  } else if (len >= 0x40 && p[0] == 'M' && p[1] == 'Z') {
    guint32 pe = vsb_le32(p + 0x3c);
    if (pe <= len - 6 && memcmp(p + pe, "PE\0\0", 4) == 0)
      machine = vsb_le16(p + pe + 4);
  }
  if (machine)
    f->machine = machine;
  f->image_size += len;
  /* Libraries linked into a driver leave their GUIDs in its data: the evidence that, e.g.,
   * DxeImageVerificationLib is part of SecurityStubDxe. */
  if (memmem(p, len, VSB_GUID_EFI_IMAGE_SECURITY_DATABASE.b, 16))
    f->evidence |= VSB_FV_EVIDENCE_IMAGE_SECURITY_DB;
  if (memmem(p, len, VSB_GUID_CERT_DB.b, 16))
    f->evidence |= VSB_FV_EVIDENCE_CERT_DB;
}

static gboolean
parse_guided(Ctx *ctx, const guint8 *sec, gsize size, gsize hlen, guint depth,
             gboolean compressed, GError **error)
{
  VsbFvImage *image = ctx->image;
  if (size - hlen < 20)
    return fail(ctx, error, "GUID-defined section of %zu bytes is too short for its header",
                size);
  VsbGuid guid;
  memcpy(guid.b, sec + hlen, 16);
  guint16 data_offset = vsb_le16(sec + hlen + 16);
  guint16 attributes = vsb_le16(sec + hlen + 18);
  if (data_offset < hlen + 20 || data_offset > size)
    return fail(ctx, error, "GUID-defined section: DataOffset 0x%x outside 0x%zx..0x%zx",
                data_offset, hlen + 20, size);
  const guint8 *payload = sec + data_offset;
  gsize plen = size - data_offset;
  char gbuf[VSB_GUID_STRING_LEN + 1];

  gboolean lzma = vsb_guid_equal(&guid, &VSB_GUID_LZMA_CUSTOM_DECOMPRESS);
  gboolean lzma86 = vsb_guid_equal(&guid, &VSB_GUID_LZMAF86_CUSTOM_DECOMPRESS);
  if (lzma || lzma86) {
    gsize out_len = 0;
    guint8 *out = lzma_inflate(ctx, payload, plen, lzma86, &out_len, error);
    if (out == NULL)
      return FALSE;
    gboolean ok = parse_sections(ctx, out, out_len, depth + 1, TRUE, error);
    g_free(out);
    return ok;
  }
  if (vsb_guid_equal(&guid, &VSB_GUID_EFI_CRC32_GUIDED_SECTION)) {
    /* EFI_CRC32_GUIDED_SECTION_HEADER: the CRC32 follows the GUID-defined header. */
    if (data_offset < hlen + 24)
      return fail(ctx, error, "CRC32 GUID-defined section has no room for its CRC");
    guint32 want = vsb_le32(sec + hlen + 20);
    guint32 got = lzma_crc32(payload, plen, 0);
    if (want != got)
      return fail(ctx, error, "CRC32 GUID-defined section: CRC 0x%08x, data gives 0x%08x",
                  want, got);
    return parse_sections(ctx, payload, plen, depth + 1, compressed, error);
  }
  if (!(attributes & EFI_GUIDED_SECTION_PROCESSING_REQUIRED))
    return parse_sections(ctx, payload, plen, depth + 1, compressed, error);
  const char *name = vsb_guid_known_name(&guid);
  warn(image, "%s: GUID-defined section %s (%s) not decoded; its contents are not inspected",
       image->origin, vsb_guid_format(&guid, gbuf), name ? name : "unknown encoding");
  return TRUE;
}

/* An EFI_SECTION_COMPRESSION body at section offset off. */
static gboolean
parse_compression(Ctx *ctx, const guint8 *body, gsize blen, gsize off, guint depth,
                  gboolean compressed, GError **error)
{
  VsbFvImage *image = ctx->image;
  if (blen < 5)
    return fail(ctx, error, "compression section at 0x%zx is too short", off);
  guint32 ulen = vsb_le32(body);
  guint8 ctype = body[4];
  if (ctype == EFI_NOT_COMPRESSED) {
    if (ulen > blen - 5)
      return fail(ctx, error, "uncompressed compression section at 0x%zx claims %u bytes "
                  "of %zu", off, ulen, blen - 5);
    if (!parse_sections(ctx, body + 5, ulen, depth + 1, compressed, error))
      return FALSE;
  } else if (ctype == EFI_STANDARD_COMPRESSION) {
    /* EFI/Tiano compression: OVMF and ArmVirtQemu do not use it (their FDFs compress
     * with LZMA only), so vsboot does not carry a decoder for it. */
    warn(image, "%s: section compressed with the EFI standard algorithm (%u bytes) not "
         "decoded; its contents are not inspected", image->origin, ulen);
  } else {
    return fail(ctx, error, "compression section at 0x%zx has unknown CompressionType %u",
                off, ctype);
  }
  return TRUE;
}

/* One section of size bytes (header of hlen bytes included) at section offset off. */
static gboolean
parse_section(Ctx *ctx, const guint8 *sec, gsize size, gsize hlen, gsize off, guint depth,
              gboolean compressed, GError **error)
{
  VsbFvImage *image = ctx->image;
  guint8 type = sec[3];
  const guint8 *body = sec + hlen;
  gsize blen = size - hlen;
  VsbFvFile *f = current_file(ctx);

  switch (type) {
  case EFI_SECTION_COMPRESSION:
    return parse_compression(ctx, body, blen, off, depth, compressed, error);
  case EFI_SECTION_GUID_DEFINED:
    if (!parse_guided(ctx, sec, size, hlen, depth, compressed, error))
      return FALSE;
    break;
  case EFI_SECTION_PE32:
  case EFI_SECTION_PIC:
  case EFI_SECTION_TE:
    note_image(ctx, type, body, blen);
    break;
  case EFI_SECTION_DXE_DEPEX:
  case EFI_SECTION_PEI_DEPEX:
  case EFI_SECTION_MM_DEPEX:
    if (f)
      f->has_depex = TRUE;
    break;
  case EFI_SECTION_VERSION:
    if (blen < 2)
      return fail(ctx, error, "version section at 0x%zx is too short", off);
    if (f && f->version == NULL) {
      f->build_number = vsb_le16(body);
      f->version = vsb_ucs2_to_utf8(body + 2, blen - 2, NULL);
      if (f->version == NULL)
        return fail(ctx, error, "version section at 0x%zx is not valid UCS-2", off);
    }
    break;
  case EFI_SECTION_USER_INTERFACE:
    if (f && f->ui_name == NULL) {
      f->ui_name = vsb_ucs2_to_utf8(body, blen, NULL);
      if (f->ui_name == NULL)
        return fail(ctx, error, "user-interface section at 0x%zx is not valid UCS-2", off);
    }
    break;
  case EFI_SECTION_FIRMWARE_VOLUME_IMAGE: {
    gsize fvlen = 0;
    if (!parse_volume(ctx, body, blen, 0, depth + 1, compressed, ctx->file, &fvlen, error))
      return FALSE;
    break;
  }
  case EFI_SECTION_FREEFORM_SUBTYPE_GUID:
    if (blen < 16)
      return fail(ctx, error, "freeform-subtype section at 0x%zx is too short", off);
    break;
  case EFI_SECTION_DISPOSABLE:
  case EFI_SECTION_COMPATIBILITY16:
  case EFI_SECTION_RAW:
    break;
  case 0x00:
    return fail(ctx, error, "section at offset 0x%zx has the invalid type 0 (not a section "
                "stream)", off);
  default:
    warn(image, "%s: section of unknown type 0x%02x skipped", image->origin, type);
    break;
  }
  return TRUE;
}

/* The size and header length of the section at section offset off, avail bytes left. */
static gboolean
section_header(Ctx *ctx, const guint8 *sec, gsize avail, gsize off, gsize *size_out,
               gsize *hlen_out, GError **error)
{
  if (avail < 4)
    return fail(ctx, error, "truncated section header at section offset 0x%zx", off);
  gsize size = vsb_le24(sec);
  gsize hlen = 4;
  if (size == 0xffffff) {
    if (avail < 8)
      return fail(ctx, error, "truncated EFI_COMMON_SECTION_HEADER2 at section offset 0x%zx",
                  off);
    size = vsb_le32(sec + 4);
    hlen = 8;
  }
  if (size < hlen)
    return fail(ctx, error, "section at offset 0x%zx has size %zu, less than its header", off,
                size);
  if (size > avail)
    return fail(ctx, error,
                "section (type 0x%02x) at offset 0x%zx has size 0x%zx but only 0x%zx bytes "
                "remain (truncated)", sec[3], off, size, avail);
  *size_out = size;
  *hlen_out = hlen;
  return TRUE;
}

static gboolean
parse_sections(Ctx *ctx, const guint8 *data, gsize len, guint depth, gboolean compressed,
               GError **error)
{
  VsbFvImage *image = ctx->image;
  if (depth > image->limits.max_depth)
    return fail_limit(ctx, error, "sections nested more than %u levels deep",
                      image->limits.max_depth);
  gsize off = 0;
  while (off < len) {
    off = align_up(off, 4);
    if (off >= len)
      break;
    gsize size = 0, hlen = 0;
    if (!section_header(ctx, data + off, len - off, off, &size, &hlen, error) ||
        !parse_section(ctx, data + off, size, hlen, off, depth, compressed, error))
      return FALSE;
    off += size;
  }
  return TRUE;
}

/* ---- files and volumes ----------------------------------------------------------------- */

static gboolean
file_has_sections(guint8 type)
{
  return type >= 0x02 && type <= 0x0f;
}

/* The size and header length of the FFS file header h at volume offset off, avail bytes
 * left in the volume. */
static gboolean
file_header(Ctx *ctx, const guint8 *h, gsize avail, gsize off, gboolean ffs3, guint64 *size_out,
            gsize *hlen_out, GError **error)
{
  guint8 attr = h[19];
  gsize hlen = FFS_HEADER_SIZE;
  guint64 size = vsb_le24(h + 20);
  if (attr & FFS_ATTRIB_LARGE_FILE) {
    if (!ffs3)
      return fail(ctx, error, "file at offset 0x%zx is a large file, which only FFS3 "
                  "volumes may hold", off);
    if (avail < FFS_HEADER2_SIZE)
      return fail(ctx, error, "truncated EFI_FFS_FILE_HEADER2 at offset 0x%zx", off);
    size = vsb_le64(h + 24);
    hlen = FFS_HEADER2_SIZE;
  }
  if (size < hlen)
    return fail(ctx, error, "file at offset 0x%zx has size %" G_GUINT64_FORMAT
                ", less than its header", off, size);
  if (size > avail)
    return fail(ctx, error, "file at offset 0x%zx has size 0x%" G_GINT64_MODIFIER "x"
                " but the volume ends 0x%zx bytes later (truncated)", off, size, avail);
  *size_out = size;
  *hlen_out = hlen;
  return TRUE;
}

static gboolean
check_file_sums(Ctx *ctx, const guint8 *h, gsize hlen, guint64 size, gsize off, GError **error)
{
  guint8 attr = h[19];
  /* IntegrityCheck.Checksum.Header: the header sums to 0 with State and File taken as 0. */
  guint8 hs = (guint8)(sum8(h, hlen) - h[23] - h[17]);
  if (hs != 0)
    return fail(ctx, error, "file at offset 0x%zx: header checksum does not add up (sum "
                "0x%02x)", off, hs);
  if (attr & FFS_ATTRIB_CHECKSUM) {
    if ((guint8)(sum8(h + hlen, (gsize)size - hlen) + h[17]) != 0)
      return fail(ctx, error, "file at offset 0x%zx: data checksum does not add up", off);
  } else if (h[17] != FFS_FIXED_CHECKSUM) {
    return fail(ctx, error, "file at offset 0x%zx: IntegrityCheck.File is 0x%02x, not 0xAA",
                off, h[17]);
  }
  return TRUE;
}

static gboolean
parse_files(Ctx *ctx, const guint8 *fv, gsize fvlen, gsize first, guint8 erase, gboolean ffs3,
            guint depth, gboolean compressed, GError **error)
{
  VsbFvImage *image = ctx->image;
  VsbFvVolume *vol = g_ptr_array_index(image->volumes, ctx->volume);
  gsize off = align_up(first, 8);
  while (off < fvlen && fvlen - off >= FFS_HEADER_SIZE) {
    const guint8 *h = fv + off;
    gboolean blank = TRUE;
    for (gsize i = 0; i < FFS_HEADER_SIZE && blank; i++)
      blank = h[i] == erase;
    if (blank)
      break; /* free space up to the end of the volume */

    guint8 type = h[18], attr = h[19];
    guint8 state = erase ? (guint8)~h[23] : h[23];
    guint64 size = 0;
    gsize hlen = 0;
    if (!file_header(ctx, h, fvlen - off, off, ffs3, &size, &hlen, error))
      return FALSE;

    /* The highest state bit set says where the file is in its life (PI vol. 3 2.2.3). */
    guint8 live = state & (EFI_FILE_HEADER_CONSTRUCTION | EFI_FILE_HEADER_VALID |
                           EFI_FILE_DATA_VALID | EFI_FILE_MARKED_FOR_UPDATE | EFI_FILE_DELETED |
                           EFI_FILE_HEADER_INVALID);
    gboolean valid = live != 0 && (g_bit_nth_msf(live, -1) == 2 || g_bit_nth_msf(live, -1) == 3);
    if (!valid) {
      if (!(live & EFI_FILE_HEADER_VALID) || (live & EFI_FILE_HEADER_INVALID))
        break; /* a header being written: nothing reliable follows */
      off = align_up(off + (gsize)size, 8);
      continue; /* deleted */
    }

    if (!check_file_sums(ctx, h, hlen, size, off, error))
      return FALSE;

    if (type == EFI_FV_FILETYPE_FFS_PAD) { /* padding for the next file's alignment */
      off = align_up(off + (gsize)size, 8);
      continue;
    }

    if (image->files->len >= MAX_FILES)
      return fail_limit(ctx, error, "more than %u FFS files in the image", MAX_FILES);
    VsbFvFile *f = g_new0(VsbFvFile, 1);
    f->volume = ctx->volume;
    f->offset = off;
    memcpy(f->name.b, h, 16);
    f->type = type;
    f->attributes = attr;
    f->size = size;
    g_ptr_array_add(image->files, f);
    vol->nfiles++;

    if (file_has_sections(type)) {
      gint saved = ctx->file;
      ctx->file = (gint)image->files->len - 1;
      gboolean ok = parse_sections(ctx, h + hlen, (gsize)size - hlen, depth + 1, compressed,
                                   error);
      ctx->file = saved;
      if (!ok)
        return FALSE;
    }
    f->module = vsb_fv_module_lookup(&f->name, f->ui_name);
    if (f->machine && image->arch < 0)
      image->arch = arch_from_machine(f->machine);
    if (f->machine && (type == 0x05 /* DXE_CORE */))
      image->arch = arch_from_machine(f->machine);
    if (f->machine && (type == 0x04 /* PEI_CORE */))
      image->pei_arch = arch_from_machine(f->machine);

    gsize next = off + (gsize)size;
    if (next < off)
      break;
    off = align_up(next, 8);
  }
  return TRUE;
}

/* FvNameGuid of the volumes in OvmfPkg's and ArmVirtPkg's .fdf files. */
static const char *
volume_known_name(const VsbGuid *guid)
{
  static const struct {
    const char *guid, *name;
  } names[] = {
    { "763bed0d-de9f-48f5-81f1-3e90e1b1a015", "SECFV" },
    { "6938079b-b503-4e3d-9d24-b28337a25806", "PEIFV" },
    { "7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1", "DXEFV" },
    { "48db5e17-707c-472d-91cd-1613e7ef51b0", "FVMAIN_COMPACT" },
    { "ae047c6d-bce9-426c-ae03-a68e3b8a0488", "NCCFV" },
    { "64074afe-340a-4be6-94ba-91b5b4d0f71e", "FvMain" },
  };
  char text[VSB_GUID_STRING_LEN + 1];
  vsb_guid_format(guid, text);
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
    if (strcmp(names[i].guid, text) == 0)
      return names[i].name;
  return NULL;
}

static gboolean
parse_volume(Ctx *ctx, const guint8 *data, gsize len, gsize offset, guint depth,
             gboolean compressed, gint parent_file, gsize *fv_length, GError **error)
{
  VsbFvImage *image = ctx->image;
  if (depth > image->limits.max_depth)
    return fail_limit(ctx, error, "firmware volumes nested more than %u levels deep",
                      image->limits.max_depth);
  const guint8 *fv = data + offset;
  gsize avail = len - offset;
  if (avail < FVH_MIN_SIZE)
    return fail(ctx, error, "firmware volume at offset 0x%zx: only %zu bytes, less than a "
                "volume header", offset, avail);
  if (memcmp(fv + FVH_OFF_SIGNATURE, "_FVH", 4) != 0)
    return fail(ctx, error, "firmware volume at offset 0x%zx: no _FVH signature", offset);
  guint16 hlen = vsb_le16(fv + FVH_OFF_HEADER_LENGTH);
  if (hlen < FVH_MIN_SIZE || (hlen & 1) || hlen > avail)
    return fail(ctx, error, "firmware volume at offset 0x%zx: HeaderLength 0x%x is invalid",
                offset, hlen);
  if (vsb_le16_sum(fv, hlen) != 0)
    return fail(ctx, error, "firmware volume at offset 0x%zx: header checksum does not add up",
                offset);
  guint64 fvlen = vsb_le64(fv + FVH_OFF_LENGTH);
  if (fvlen < hlen)
    return fail(ctx, error, "firmware volume at offset 0x%zx: FvLength 0x%" G_GINT64_MODIFIER "x"
                " is smaller than its header", offset, fvlen);
  if (fvlen > avail)
    return fail(ctx, error, "firmware volume at offset 0x%zx: FvLength 0x%" G_GINT64_MODIFIER "x"
                " but only 0x%zx bytes remain (truncated volume)", offset, fvlen, avail);

  if (image->volumes->len >= MAX_VOLUMES)
    return fail_limit(ctx, error, "more than %u firmware volumes in the image", MAX_VOLUMES);
  VsbFvVolume *vol = g_new0(VsbFvVolume, 1);
  vol->index = image->volumes->len;
  vol->parent_file = parent_file;
  vol->depth = depth;
  vol->offset = offset;
  vol->length = fvlen;
  memcpy(vol->fs_guid.b, fv + FVH_OFF_FS_GUID, 16);
  vol->attributes = vsb_le32(fv + FVH_OFF_ATTRIBUTES);
  vol->revision = fv[FVH_OFF_REVISION];
  vol->compressed = compressed;
  g_ptr_array_add(image->volumes, vol);
  *fv_length = (gsize)fvlen;

  Ctx sub = { image, vol->index, -1 };

  /* Block map: {NumBlocks, Length} pairs up to a {0, 0} terminator inside the header. */
  gboolean terminated = FALSE;
  for (gsize b = FVH_OFF_BLOCK_MAP; b + 8 <= hlen; b += 8)
    if (vsb_le32(fv + b) == 0 && vsb_le32(fv + b + 4) == 0) {
      terminated = TRUE;
      break;
    }
  if (!terminated)
    return fail(&sub, error, "block map is not terminated within HeaderLength 0x%x", hlen);

  gsize first = hlen;
  guint16 ext = vsb_le16(fv + FVH_OFF_EXT_HEADER_OFFSET);
  if (ext != 0) {
    if (ext < hlen || (guint64)ext + FV_EXT_HEADER_SIZE > fvlen)
      return fail(&sub, error, "ExtHeaderOffset 0x%x is outside the volume", ext);
    guint32 ext_size = vsb_le32(fv + ext + 16);
    if (ext_size < FV_EXT_HEADER_SIZE || (guint64)ext + ext_size > fvlen)
      return fail(&sub, error, "extended header at 0x%x has invalid ExtHeaderSize %u", ext,
                  ext_size);
    vol->has_name = TRUE;
    memcpy(vol->name.b, fv + ext, 16);
    vol->known_name = volume_known_name(&vol->name);
    first = (gsize)ext + ext_size;
  }

  gboolean ffs2 = vsb_guid_equal(&vol->fs_guid, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2);
  gboolean ffs3 = vsb_guid_equal(&vol->fs_guid, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3);
  if (vsb_guid_equal(&vol->fs_guid, &VSB_GUID_SYSTEM_NV_DATA_FV)) {
    image->nv_volumes++;
    image->nv_volume_length = MAX(image->nv_volume_length, (gsize)fvlen);
    return TRUE;
  }
  if (!ffs2 && !ffs3) {
    char g[VSB_GUID_STRING_LEN + 1];
    warn(image, "%s: volume %u has file system %s, not FFS; its contents are not inspected",
         image->origin, vol->index, vsb_guid_format(&vol->fs_guid, g));
    return TRUE;
  }
  guint8 erase = (vol->attributes & EFI_FVB2_ERASE_POLARITY) ? 0xff : 0x00;
  return parse_files(&sub, fv, (gsize)fvlen, first, erase, ffs3, depth, compressed, error);
}

/* OVMF's GUIDed table ends 0x20 bytes before the end of the image (the reset vector page):
 * footer GUID at end-0x30, table length at end-0x32, entries {data, u16 len, GUID} walked
 * backwards (OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.nasm.inc). */
static void
parse_ovmf_table(VsbFvImage *image, const guint8 *data, gsize len)
{
  if (len < 0x32)
    return;
  gsize footer = len - 0x30;
  if (memcmp(data + footer, VSB_GUID_OVMF_TABLE_FOOTER.b, 16) != 0)
    return;
  gsize table_len = vsb_le16(data + footer - 2);
  gsize end = len - 0x20;
  if (table_len < 18 || table_len > end) {
    warn(image, "%s: OVMF table footer has an invalid length %zu", image->origin, table_len);
    return;
  }
  gsize start = end - table_len;
  gsize cur = footer - 2; /* just past the last entry */
  while (cur > start) {
    if (cur - start < 18) {
      warn(image, "%s: OVMF table entry at 0x%zx is truncated", image->origin, cur);
      return;
    }
    gsize elen = vsb_le16(data + cur - 18);
    if (elen < 18 || elen > cur - start) {
      warn(image, "%s: OVMF table entry before 0x%zx has an invalid length %zu", image->origin,
           cur, elen);
      return;
    }
    VsbFvOvmfTableEntry *e = g_new0(VsbFvOvmfTableEntry, 1);
    memcpy(e->guid.b, data + cur - 16, 16);
    e->name = vsb_guid_known_name(&e->guid);
    e->offset = cur - elen;
    e->length = elen - 18;
    g_ptr_array_add(image->table, e);
    cur -= elen;
  }
}

/* ---- features -------------------------------------------------------------------------- */

const VsbFvFile *
vsb_fv_image_find_module(const VsbFvImage *image, const char *name)
{
  VsbGuid g;
  gboolean by_guid = vsb_guid_parse(name, &g);
  for (guint i = 0; i < image->files->len; i++) {
    const VsbFvFile *f = g_ptr_array_index(image->files, i);
    if (by_guid ? vsb_guid_equal(&f->name, &g)
                : ((f->ui_name && strcmp(f->ui_name, name) == 0) ||
                   (f->module && strcmp(f->module->name, name) == 0)))
      return f;
  }
  return NULL;
}

static const VsbFvOvmfTableEntry *
table_find(const VsbFvImage *image, const VsbGuid *guid)
{
  for (guint i = 0; i < image->table->len; i++) {
    const VsbFvOvmfTableEntry *e = g_ptr_array_index(image->table, i);
    if (vsb_guid_equal(&e->guid, guid))
      return e;
  }
  return NULL;
}

/* Adds the names of the given modules that are present to ev; returns how many were. */
static guint
collect(const VsbFvImage *image, GString *ev, const char *const *names)
{
  guint n = 0;
  for (; *names; names++) {
    if (vsb_fv_image_find_module(image, *names)) {
      g_string_append_printf(ev, "%s%s", ev->len ? ", " : "", *names);
      n++;
    }
  }
  return n;
}

static void
add_feature(VsbFvImage *image, const char *name, gboolean descriptor, gboolean present,
            GString *ev, const char *absent_text)
{
  VsbFvFeature *f = g_new0(VsbFvFeature, 1);
  f->name = name;
  f->descriptor_feature = descriptor;
  f->present = present;
  if (present || absent_text == NULL)
    f->evidence = g_strdup(ev->len ? ev->str : "");
  else if (ev->len)
    f->evidence = g_strdup_printf("%s; found: %s", absent_text, ev->str);
  else
    f->evidence = g_strdup(absent_text);
  g_ptr_array_add(image->features, f);
  g_string_truncate(ev, 0);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
smm_features(VsbFvImage *image, GString *ev)
{
  /* SMM: the SMM core with its IPL (traditional) or Standalone MM. */
  gboolean smm_core = collect(image, ev, NAMES("PiSmmIpl", "PiSmmCore", "StandaloneMmIplPei",
                                               "StandaloneMmCore")) >= 2;
  collect(image, ev, NAMES("SmmAccess2Dxe", "SmmAccessPei", "SmmControl2Dxe", "PiSmmCpuDxeSmm",
                           "SmmLockBox", "CpuS3DataDxe", "CpuHotplugSmm"));
  add_feature(image, "smm", FALSE, smm_core, ev, "no SMM core (PiSmmCore/StandaloneMmCore)");

  /* requires-smm: the variable driver lives in SMM; such builds stop when QEMU has no SMM. */
  guint var_smm = collect(image, ev, NAMES("VariableSmm", "VariableStandaloneMm"));
  collect(image, ev, NAMES("VariableSmmRuntimeDxe", "FvbServicesSmm", "FaultTolerantWriteSmm",
                           "SmmFaultTolerantWriteDxe"));
  gboolean var_dxe_present = vsb_fv_image_find_module(image, "VariableRuntimeDxe") != NULL;
  gboolean requires_smm = smm_core && var_smm > 0;
  if (!requires_smm && var_dxe_present)
    g_string_append_printf(ev, "%sVariableRuntimeDxe (variables outside SMM)",
                           ev->len ? ", " : "");
  add_feature(image, "requires-smm", TRUE, requires_smm, ev,
              "no SMM variable driver (VariableSmm)");
}

static void
secure_boot_features(VsbFvImage *image, GString *ev)
{
  /* Secure Boot: DxeImageVerificationLib linked into SecurityStubDxe (it alone there refers
   * to db/dbx), plus the SecureBootConfigDxe setup page. */
  const VsbFvFile *stub = vsb_fv_image_find_module(image, "SecurityStubDxe");
  gboolean verify = stub && (stub->evidence & VSB_FV_EVIDENCE_IMAGE_SECURITY_DB);
  if (verify)
    g_string_append(ev, "SecurityStubDxe links DxeImageVerificationLib "
                        "(refers to gEfiImageSecurityDatabaseGuid)");
  guint sbcfg = collect(image, ev, NAMES("SecureBootConfigDxe", "EnrollDefaultKeys",
                                         "SecureBootDefaultKeysDxe", "IgvmSecureBootDxe"));
  add_feature(image, "secure-boot", TRUE, verify, ev,
              stub ? "SecurityStubDxe without DxeImageVerificationLib (no db/dbx reference)"
                   : "no SecurityStubDxe");
  (void)sbcfg;

  /* Authenticated variables: AuthVariableLib (refers to gEfiCertDbGuid) in the driver. */
  const char *vars[] = { "VariableSmm", "VariableStandaloneMm", "VariableRuntimeDxe", NULL };
  gboolean auth = FALSE;
  for (const char *const *v = vars; *v; v++) {
    const VsbFvFile *f = vsb_fv_image_find_module(image, *v);
    if (f && (f->evidence & VSB_FV_EVIDENCE_CERT_DB)) {
      g_string_append_printf(ev, "%s%s links AuthVariableLib (refers to gEfiCertDbGuid)",
                             ev->len ? ", " : "", *v);
      auth = TRUE;
    }
  }
  add_feature(image, "authenticated-variables", FALSE, auth, ev,
              "no variable driver refers to gEfiCertDbGuid (AuthVariableLibNull)");
}

static void
tpm_features(VsbFvImage *image, GString *ev)
{
  /* TPM. */
  gboolean tpm2 = collect(image, ev, NAMES("Tcg2Dxe", "Tcg2Pei")) > 0;
  collect(image, ev, NAMES("Tcg2ConfigPei", "Tcg2ConfigDxe", "Tcg2PlatformDxe",
                           "Tcg2PlatformPei", "TpmMmioSevDecryptPei"));
  add_feature(image, "tpm2", FALSE, tpm2, ev, "no Tcg2Dxe/Tcg2Pei");
  gboolean tpm12 = collect(image, ev, NAMES("TcgDxe", "TcgPei", "Tcg12ConfigPei")) > 0;
  add_feature(image, "tpm12", FALSE, tpm12, ev, "no TcgDxe/TcgPei");
  gboolean mor = collect(image, ev, NAMES("TcgMor", "TcgMorLockSmm")) > 0;
  add_feature(image, "memory-overwrite-request", FALSE, mor, ev, "no TcgMor");
}

static void
confidential_features(VsbFvImage *image, GString *ev)
{
  /* AMD SEV / Intel TDX: the drivers and the reset-vector metadata the hypervisor reads. */
  gboolean sev = collect(image, ev, NAMES("AmdSevDxe")) > 0;
  collect(image, ev, NAMES("SecretPei", "SecretDxe", "BlobVerifierLibSevHashes", "IoMmuDxe"));
  if (table_find(image, &VSB_GUID_SEV_SECRET_BLOCK))
    g_string_append_printf(ev, "%sSevSecretBlock", ev->len ? ", " : "");
  add_feature(image, "amd-sev", TRUE, sev, ev, "no AmdSevDxe");
  gboolean sev_es = sev && table_find(image, &VSB_GUID_SEV_ES_RESET_BLOCK) != NULL;
  if (table_find(image, &VSB_GUID_SEV_ES_RESET_BLOCK))
    g_string_append(ev, "SevEsResetBlock in the reset-vector table");
  add_feature(image, "amd-sev-es", TRUE, sev_es, ev, "no SEV-ES reset block in the reset vector");
  gboolean snp = sev && table_find(image, &VSB_GUID_OVMF_SEV_METADATA_OFFSET) != NULL;
  if (table_find(image, &VSB_GUID_OVMF_SEV_METADATA_OFFSET))
    g_string_append(ev, "OvmfSevMetadata (SNP launch metadata) in the reset-vector table");
  add_feature(image, "amd-sev-snp", TRUE, snp, ev, "no SEV metadata in the reset vector");
  gboolean tdx_dxe = collect(image, ev, NAMES("TdxDxe")) > 0;
  gboolean tdx_meta = table_find(image, &VSB_GUID_TDX_METADATA_OFFSET) != NULL;
  if (tdx_meta)
    g_string_append_printf(ev, "%sTDX metadata in the reset-vector table", ev->len ? ", " : "");
  collect(image, ev, NAMES("TdTcg2Dxe", "TdxHelper"));
  add_feature(image, "intel-tdx", TRUE, tdx_dxe && tdx_meta, ev,
              "no TdxDxe with TDX metadata");
}

static void
boot_features(VsbFvImage *image, GString *ev)
{
  /* S3 resume (x86). */
  gboolean s3 = collect(image, ev, NAMES("S3Resume2Pei")) > 0;
  collect(image, ev, NAMES("BootScriptExecutorDxe", "S3SaveStateDxe"));
  add_feature(image, "acpi-s3", TRUE, s3, ev, "no S3Resume2Pei");

  /* The UEFI shell: ShellPkg's Shell.inf FILE_GUID 7c04a583-9e3e-4f1c-ad65-e05268d0b4d1. */
  gboolean shell = collect(image, ev, NAMES("Shell")) > 0;
  if (!shell && vsb_fv_image_find_module(image, "7c04a583-9e3e-4f1c-ad65-e05268d0b4d1")) {
    g_string_append(ev, "7c04a583-9e3e-4f1c-ad65-e05268d0b4d1 (Shell)");
    shell = TRUE;
  }
  add_feature(image, "shell", FALSE, shell, ev, "no UEFI Shell application");
}

static void
network_features(VsbFvImage *image, GString *ev)
{
  /* Network stack (NetworkPkg) and what rides on it. */
  gboolean net = collect(image, ev, NAMES("SnpDxe", "MnpDxe", "Ip4Dxe", "Ip6Dxe", "TcpDxe",
                                          "UefiPxeBcDxe", "VirtioNetDxe")) > 0;
  add_feature(image, "network", FALSE, net, ev, "no NetworkPkg drivers");
  gboolean http = collect(image, ev, NAMES("HttpBootDxe", "HttpDxe", "DnsDxe")) > 0;
  add_feature(image, "http-boot", FALSE, http, ev, "no HttpBootDxe");
  gboolean tls = collect(image, ev, NAMES("TlsDxe", "TlsAuthConfigDxe")) > 0;
  add_feature(image, "tls", FALSE, tls, ev, "no TlsDxe");
  gboolean iscsi = collect(image, ev, NAMES("IScsiDxe")) > 0;
  add_feature(image, "iscsi", FALSE, iscsi, ev, "no IScsiDxe");
}

/* Each group adds its features in report order; ev is the evidence of the one being built
 * (add_feature takes and clears it). */
static void
derive_features(VsbFvImage *image)
{
  g_autoptr(GString) ev = g_string_new(NULL);
  smm_features(image, ev);
  secure_boot_features(image, ev);
  tpm_features(image, ev);
  confidential_features(image, ev);
  boot_features(image, ev);
  network_features(image, ev);
}

/* ---- varstore size --------------------------------------------------------------------- */

static void
derive_varstore(VsbFvImage *image)
{
  if (image->nv_volumes > 0) {
    image->varstore_size = image->nv_volume_length;
    image->varstore_source = VSB_FV_VARSTORE_EMBEDDED;
    image->varstore_reason = g_strdup_printf(
      "the file holds an NV-data volume (gEfiSystemNvDataFvGuid) of 0x%zx bytes",
      image->nv_volume_length);
    return;
  }
  /* The split OVMF code image is the flash device minus the varstore in front of it
   * (OvmfPkg/Include/Fdf/OvmfPkgDefines.fdf.inc: CODE_SIZE = FW_SIZE - VARS_SIZE). */
  static const struct {
    gsize code, vars;
    const char *build;
  } ovmf[] = {
    { 0x0e0000, 0x20000, "FD_SIZE_1MB: 0x100000 flash, 0xE0000 code" },
    { 0x1e0000, 0x20000, "FD_SIZE_2MB: 0x200000 flash, 0x1E0000 code" },
    { 0x37c000, 0x84000, "FD_SIZE_4MB: 0x400000 flash, 0x37C000 code" },
  };
  gboolean x86 = image->arch >= 0 && vsb_arch_is_x86((VsbFwArch)image->arch);
  if (x86) {
    for (gsize i = 0; i < G_N_ELEMENTS(ovmf); i++)
      if (image->size == ovmf[i].code) {
        image->varstore_size = ovmf[i].vars;
        image->varstore_source = VSB_FV_VARSTORE_CODE_SIZE;
        image->varstore_reason = g_strdup_printf(
          "inferred, not read: a 0x%zx-byte code image is OVMF's %s, whose varstore is 0x%zx "
          "bytes (OvmfPkgDefines.fdf.inc)", ovmf[i].code, ovmf[i].build, ovmf[i].vars);
        return;
      }
    image->varstore_reason = g_strdup_printf(
      "unknown: no NV-data volume in the file and a code size (0x%zx) that matches no OVMF "
      "flash layout", image->size);
    return;
  }
  if (image->arch >= 0 && vsb_arch_is_arm((VsbFwArch)image->arch)) {
    image->varstore_size = 0xc0000;
    image->varstore_source = VSB_FV_VARSTORE_ARMVIRT;
    image->varstore_reason = g_strdup(
      "inferred, not read: ArmVirtQemu keeps its variables in the second flash device, whose "
      "store is 0xC0000 bytes (ArmVirtPkg/VarStore.fdf.inc); the file may be padded to 64 MiB");
    return;
  }
  image->varstore_reason = g_strdup("unknown: no NV-data volume and an unknown architecture");
}

/* ---- entry points ---------------------------------------------------------------------- */

VsbFvImage *
vsb_fv_inspect_bytes(GBytes *bytes, const char *origin, const VsbFvLimits *limits,
                     GError **error)
{
  g_autoptr(VsbFvImage) image = g_new0(VsbFvImage, 1);
  image->arch = image->pei_arch = -1;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  image->origin = g_strdup(origin ? origin : "firmware image");
  image->size = len;
  image->limits.max_depth = limits && limits->max_depth ? limits->max_depth
                                                        : VSB_FV_DEFAULT_MAX_DEPTH;
  image->limits.max_decompressed = limits && limits->max_decompressed
                                     ? limits->max_decompressed
                                     : VSB_FV_DEFAULT_MAX_DECOMPRESSED;
  image->volumes = g_ptr_array_new_with_free_func(g_free);
  image->files = g_ptr_array_new_with_free_func(file_free);
  image->table = g_ptr_array_new_with_free_func(g_free);
  image->features = g_ptr_array_new_with_free_func(feature_free);
  image->warnings = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(image->warnings, NULL);

  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: empty file, not a firmware image",
                image->origin);
    return NULL;
  }

  /* Volumes sit back to back, 8-byte aligned or better (AAVMF starts at 0x1000 after a jump
   * stub). Find each candidate header, parse it strictly, continue after it. */
  Ctx ctx = { image, 0, -1 };
  gsize pos = 0;
  while (len >= FVH_MIN_SIZE && pos <= len - FVH_MIN_SIZE) {
    const guint8 *sig = memmem(data + pos + FVH_OFF_SIGNATURE,
                               len - pos - FVH_OFF_SIGNATURE, "_FVH", 4);
    if (sig == NULL)
      break;
    gsize o = (gsize)(sig - data) - FVH_OFF_SIGNATURE;
    if ((o & 7) != 0 || !looks_like_volume(data + o, len - o)) {
      pos = o + 1;
      continue;
    }
    gsize fvlen = 0;
    ctx.volume = image->volumes->len;
    if (!parse_volume(&ctx, data, len, o, 0, FALSE, -1, &fvlen, error))
      return NULL;
    pos = o + MAX(fvlen, (gsize)8);
  }

  guint ffs_volumes = 0;
  for (guint i = 0; i < image->volumes->len; i++) {
    const VsbFvVolume *v = g_ptr_array_index(image->volumes, i);
    if (vsb_guid_equal(&v->fs_guid, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2) ||
        vsb_guid_equal(&v->fs_guid, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3))
      ffs_volumes++;
  }
  if (ffs_volumes == 0) {
    if (image->nv_volumes > 0)
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: holds a variable store (NV-data volume) and no firmware code; "
                  "'vsboot vars' reads variable stores", image->origin);
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: not a firmware image: no firmware volume (_FVH header with a valid "
                  "checksum) holding FFS files", image->origin);
    return NULL;
  }

  parse_ovmf_table(image, data, len);
  derive_features(image);
  derive_varstore(image);
  return g_steal_pointer(&image);
}

VsbFvImage *
vsb_fv_inspect_file(const char *path, const VsbFvLimits *limits, GError **error)
{
  /* Only a regular file can be mapped: a directory or /dev/null made GLib's mmap() fail
   * with messages that named neither the file nor the problem, and a FIFO must not block.
   * The shared opener refuses both; a firmware image is at most a 64 MiB flash bank, so a
   * far larger (or sparse) file is refused by its size before any byte is scanned. */
  struct stat st;
  g_autoptr(GError) oerr = NULL;
  VSB_AUTOFD fd = vsb_file_open_regular(path, &st, &oerr);
  if (fd < 0) {
    if (g_error_matches(oerr, VSB_ERROR, VSB_ERROR_INVALID))
      g_propagate_error(error, g_steal_pointer(&oerr));
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot read %s", oerr->message);
    return NULL;
  }
  if ((guint64)st.st_size > FV_MAX_FILE_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: file is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                " bytes accepted for a firmware image", path, (guint64)st.st_size,
                FV_MAX_FILE_SIZE);
    return NULL;
  }
  g_autoptr(GError) local = NULL;
  /* The mapping holds its own reference: fd is closed on return as always. */
  g_autoptr(GMappedFile) map = g_mapped_file_new_from_fd(fd, FALSE, &local);
  if (map == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot read %s: %s", path, local->message);
    return NULL;
  }
  g_autoptr(GBytes) bytes = g_mapped_file_get_bytes(map);
  return vsb_fv_inspect_bytes(bytes, path, limits, error);
}

/* ---- accessors ------------------------------------------------------------------------- */

gsize
vsb_fv_image_get_size(const VsbFvImage *image)
{
  return image->size;
}

int
vsb_fv_image_get_arch(const VsbFvImage *image)
{
  return image->arch;
}

int
vsb_fv_image_get_pei_arch(const VsbFvImage *image)
{
  return image->pei_arch;
}

gsize
vsb_fv_image_get_decompressed(const VsbFvImage *image)
{
  return image->decompressed;
}

GPtrArray *
vsb_fv_image_get_volumes(const VsbFvImage *image)
{
  return image->volumes;
}

GPtrArray *
vsb_fv_image_get_files(const VsbFvImage *image)
{
  return image->files;
}

GPtrArray *
vsb_fv_image_get_ovmf_table(const VsbFvImage *image)
{
  return image->table;
}

GPtrArray *
vsb_fv_image_get_features(const VsbFvImage *image)
{
  return image->features;
}

const char *const *
vsb_fv_image_get_warnings(const VsbFvImage *image)
{
  return (const char *const *)image->warnings->pdata;
}

const VsbFvFeature *
vsb_fv_image_get_feature(const VsbFvImage *image, const char *name)
{
  for (guint i = 0; i < image->features->len; i++) {
    const VsbFvFeature *f = g_ptr_array_index(image->features, i);
    if (strcmp(f->name, name) == 0)
      return f;
  }
  return NULL;
}

gboolean
vsb_fv_image_has_feature(const VsbFvImage *image, const char *name)
{
  const VsbFvFeature *f = vsb_fv_image_get_feature(image, name);
  return f && f->present;
}

gsize
vsb_fv_image_get_varstore_size(const VsbFvImage *image, VsbFvVarstoreSource *source,
                               const char **reason)
{
  if (source)
    *source = image->varstore_source;
  if (reason)
    *reason = image->varstore_reason;
  return image->varstore_size;
}

GPtrArray *
vsb_fv_image_check_claims(const VsbFvImage *image, const char *const *claimed)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < image->features->len; i++) {
    const VsbFvFeature *f = g_ptr_array_index(image->features, i);
    if (!f->descriptor_feature)
      continue;
    VsbFvClaimCheck *c = g_new0(VsbFvClaimCheck, 1);
    c->feature = f->name;
    c->present = f->present;
    c->claimed = claimed && g_strv_contains(claimed, f->name);
    c->evidence = f->evidence;
    c->claim = c->claimed == c->present ? VSB_FV_CLAIM_OK
               : c->claimed           ? VSB_FV_CLAIM_FALSE
                                      : VSB_FV_CLAIM_UNDECLARED;
    g_ptr_array_add(out, c);
  }
  return out;
}
