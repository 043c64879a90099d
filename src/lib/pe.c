/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/pe.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "util/le.h"
#include "util/arch.h"
#include "util/autofd.h"
#include "ossl-auto.h"

#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest EFI binary vsb_pe_load maps. PE32 sizes are 32-bit and real images (shim, GRUB,
 * a UKI with its initrd) stay far below this; a huge or sparse file is refused by its size
 * instead of being hashed for minutes. */
#define PE_MAX_FILE_SIZE ((gsize)1 << 30)

/* Byte offsets inside the headers (PE/COFF spec 3.3, 3.4). */
#define DOS_HEADER_SIZE 64
#define DOS_E_LFANEW 0x3c
#define FILE_HEADER_SIZE 20
#define PE32_MAGIC 0x10b
#define PE32PLUS_MAGIC 0x20b
#define OPT_CHECKSUM 64
#define OPT_SUBSYSTEM 68
#define OPT_SIZE_OF_HEADERS 60
#define OPT_ENTRY_POINT 16
#define PE32_DATA_DIRS 96      /* == size of the PE32 optional header without directories */
#define PE32PLUS_DATA_DIRS 112
#define MAX_DATA_DIRS 16
#define SECTION_HEADER_SIZE 40
#define WIN_CERT_HEADER_SIZE 8

struct _VsbPeImage {
  char *origin;
  GBytes *bytes;
  GMappedFile *mapped;
  const guint8 *data;
  gsize size;

  gsize pe_offset;            /* "PE\0\0" */
  guint16 machine;
  guint16 characteristics;
  gboolean pe32plus;
  gsize opt_offset;
  guint16 subsystem;
  guint64 image_base;
  guint32 entry_point;
  guint32 size_of_headers;
  guint32 checksum;
  guint32 n_dirs;
  gsize dirs_offset;
  VsbPeSection *sections;
  guint n_sections;
  guint64 sum_of_bytes_hashed;
  gsize cert_offset;
  gsize cert_size;
  GArray *certs;              /* VsbPeCertificate */
};

static const struct {
  const char *name;
  const char *ossl;
  gsize size;
} digests[VSB_PE_N_DIGESTS] = {
  [VSB_PE_DIGEST_SHA1] = { "sha1", "SHA1", 20 },
  [VSB_PE_DIGEST_SHA256] = { "sha256", "SHA256", 32 },
  [VSB_PE_DIGEST_SHA384] = { "sha384", "SHA384", 48 },
  [VSB_PE_DIGEST_SHA512] = { "sha512", "SHA512", 64 },
};

const char *
vsb_pe_digest_name(VsbPeDigest digest)
{
  return digest < VSB_PE_N_DIGESTS ? digests[digest].name : "unknown";
}

gsize
vsb_pe_digest_size(VsbPeDigest digest)
{
  return digest < VSB_PE_N_DIGESTS ? digests[digest].size : 0;
}

gboolean
vsb_pe_digest_from_name(const char *name, VsbPeDigest *out)
{
  for (guint i = 0; i < VSB_PE_N_DIGESTS; i++) {
    if (g_ascii_strcasecmp(name, digests[i].name) == 0 ||
        g_ascii_strcasecmp(name, digests[i].ossl) == 0) {
      *out = (VsbPeDigest)i;
      return TRUE;
    }
  }
  return FALSE;
}

#define FAIL(...)                                                                          \
  do {                                                                                     \
    g_autofree char *msg_ = g_strdup_printf(__VA_ARGS__);                                  \
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s", image->origin, msg_);          \
    return FALSE;                                                                          \
  } while (0)

static int
cmp_section_by_raw(gconstpointer a, gconstpointer b)
{
  const VsbPeSection *x = *(const VsbPeSection *const *)a, *y = *(const VsbPeSection *const *)b;
  if (x->pointer_to_raw_data != y->pointer_to_raw_data)
    return x->pointer_to_raw_data < y->pointer_to_raw_data ? -1 : 1;
  return 0;
}

/* DOS header, PE signature and COFF file header: the section count and optional header size. */
static gboolean
parse_file_header(VsbPeImage *image, guint16 *n_sections_out, guint16 *opt_size_out,
                  GError **error)
{
  const guint8 *d = image->data;
  gsize size = image->size;

  if (size < DOS_HEADER_SIZE)
    FAIL("%zu bytes is too small for a DOS header (64 bytes)", size);
  if (d[0] != 'M' || d[1] != 'Z')
    FAIL("no DOS header: bytes 0-1 are %02x %02x, not \"MZ\"", d[0], d[1]);
  guint32 lfanew = vsb_le32(d + DOS_E_LFANEW);
  if ((guint64)lfanew + 4 + FILE_HEADER_SIZE + 2 > size)
    FAIL("e_lfanew at offset 0x3c points to 0x%x, past the end of the file (%zu bytes)", lfanew,
         size);
  if (memcmp(d + lfanew, "PE\0\0", 4) != 0)
    FAIL("no PE signature at offset 0x%x (e_lfanew)", lfanew);
  image->pe_offset = lfanew;
  const guint8 *fh = d + lfanew + 4;
  image->machine = vsb_le16(fh);
  guint16 n_sections = vsb_le16(fh + 2);
  guint16 opt_size = vsb_le16(fh + 16);
  *n_sections_out = n_sections;
  *opt_size_out = opt_size;
  image->characteristics = vsb_le16(fh + 18);
  image->opt_offset = lfanew + 4 + FILE_HEADER_SIZE;
  if ((guint64)image->opt_offset + opt_size > size)
    FAIL("optional header at 0x%zx (SizeOfOptionalHeader %u) runs past the end of the file "
         "(%zu bytes)",
         image->opt_offset, opt_size, size);
  if (opt_size < 2)
    FAIL("SizeOfOptionalHeader at 0x%zx is %u: no optional header", image->pe_offset + 20,
         opt_size);
  return TRUE;
}

/* The optional header: PE32 or PE32+, the fields vsboot reports, the data directories. */
static gboolean
parse_optional_header(VsbPeImage *image, guint16 opt_size, GError **error)
{
  const guint8 *d = image->data;
  const guint8 *opt = d + image->opt_offset;
  guint16 magic = vsb_le16(opt);
  gsize fixed;
  if (magic == PE32_MAGIC) {
    image->pe32plus = FALSE;
    fixed = PE32_DATA_DIRS;
  } else if (magic == PE32PLUS_MAGIC) {
    image->pe32plus = TRUE;
    fixed = PE32PLUS_DATA_DIRS;
  } else {
    FAIL("optional header magic at 0x%zx is 0x%x, neither PE32 (0x10b) nor PE32+ (0x20b)",
         image->opt_offset, magic);
  }
  if (opt_size < fixed)
    FAIL("SizeOfOptionalHeader %u is smaller than the %s optional header (%zu bytes)", opt_size,
         image->pe32plus ? "PE32+" : "PE32", fixed);
  image->entry_point = vsb_le32(opt + OPT_ENTRY_POINT);
  image->image_base = image->pe32plus ? vsb_le64(opt + 24) : vsb_le32(opt + 28);
  image->size_of_headers = vsb_le32(opt + OPT_SIZE_OF_HEADERS);
  image->checksum = vsb_le32(opt + OPT_CHECKSUM);
  image->subsystem = vsb_le16(opt + OPT_SUBSYSTEM);
  image->n_dirs = vsb_le32(opt + fixed - 4);
  if (image->n_dirs > MAX_DATA_DIRS)
    FAIL("NumberOfRvaAndSizes at 0x%zx is %u; at most 16 data directories exist",
         image->opt_offset + fixed - 4, image->n_dirs);
  /* edk2 (PeCoffLoaderGetPeHeader) insists the optional header is exactly this long. */
  if (opt_size != fixed + 8u * image->n_dirs)
    FAIL("SizeOfOptionalHeader is %u but NumberOfRvaAndSizes %u needs %zu", opt_size,
         image->n_dirs, fixed + 8u * image->n_dirs);
  image->dirs_offset = image->opt_offset + fixed;

  return TRUE;
}

static gboolean
parse_section_table(VsbPeImage *image, guint16 n_sections, guint16 opt_size, GError **error)
{
  const guint8 *d = image->data;
  gsize size = image->size;
  gsize sec_offset = image->opt_offset + opt_size;
  guint64 sec_end = (guint64)sec_offset + (guint64)n_sections * SECTION_HEADER_SIZE;
  if (n_sections == 0)
    FAIL("NumberOfSections is 0");
  if (sec_end > size)
    FAIL("section table at 0x%zx with %u entries (NumberOfSections) runs past the end of the "
         "file (%zu bytes)",
         sec_offset, n_sections, size);
  if (image->size_of_headers > size)
    FAIL("SizeOfHeaders 0x%x is past the end of the file (%zu bytes)", image->size_of_headers,
         size);
  if (image->size_of_headers < sec_end)
    FAIL("SizeOfHeaders 0x%x ends inside the section table (which ends at 0x%" G_GINT64_MODIFIER
         "x)",
         image->size_of_headers, sec_end);
  image->n_sections = n_sections;
  image->sections = g_new0(VsbPeSection, n_sections);
  for (guint i = 0; i < n_sections; i++) {
    const guint8 *s = d + sec_offset + (gsize)i * SECTION_HEADER_SIZE;
    VsbPeSection *sec = &image->sections[i];
    memcpy(sec->name, s, 8);
    sec->name[8] = '\0';
    for (int k = 0; k < 8 && sec->name[k]; k++)
      if (!g_ascii_isprint(sec->name[k]))
        sec->name[k] = '?';
    sec->virtual_size = vsb_le32(s + 8);
    sec->virtual_address = vsb_le32(s + 12);
    sec->size_of_raw_data = vsb_le32(s + 16);
    sec->pointer_to_raw_data = vsb_le32(s + 20);
    sec->characteristics = vsb_le32(s + 36);
  }

  return TRUE;
}

/* Raw data of the sections: inside the file, after the headers, no two sharing bytes.
 * *raw_end receives where the last of them (or the headers) ends. */
static gboolean
check_section_data(VsbPeImage *image, guint64 *raw_end_out, GError **error)
{
  gsize size = image->size;
  guint n_sections = image->n_sections;
  g_autofree const VsbPeSection **sorted = g_new(const VsbPeSection *, n_sections);
  guint n_raw = 0;
  guint64 sum = image->size_of_headers;
  for (guint i = 0; i < n_sections; i++) {
    const VsbPeSection *sec = &image->sections[i];
    if (sec->size_of_raw_data == 0)
      continue;
    guint64 end = (guint64)sec->pointer_to_raw_data + sec->size_of_raw_data;
    if (end > size)
      FAIL("section %u (%s): raw data 0x%x+0x%x runs past the end of the file (%zu bytes)", i,
           sec->name, sec->pointer_to_raw_data, sec->size_of_raw_data, size);
    if (sec->pointer_to_raw_data < image->size_of_headers)
      FAIL("section %u (%s): raw data at 0x%x overlaps the headers (SizeOfHeaders 0x%x)", i,
           sec->name, sec->pointer_to_raw_data, image->size_of_headers);
    sorted[n_raw++] = sec;
    sum += sec->size_of_raw_data;
  }
  qsort(sorted, n_raw, sizeof *sorted, cmp_section_by_raw);
  guint64 raw_end = image->size_of_headers;
  for (guint i = 0; i < n_raw; i++) {
    if (i > 0 && sorted[i]->pointer_to_raw_data <
                     (guint64)sorted[i - 1]->pointer_to_raw_data + sorted[i - 1]->size_of_raw_data)
      FAIL("sections %s (raw 0x%x+0x%x) and %s (raw 0x%x+0x%x) overlap in the file",
           sorted[i - 1]->name, sorted[i - 1]->pointer_to_raw_data,
           sorted[i - 1]->size_of_raw_data, sorted[i]->name, sorted[i]->pointer_to_raw_data,
           sorted[i]->size_of_raw_data);
    raw_end = MAX(raw_end, (guint64)sorted[i]->pointer_to_raw_data + sorted[i]->size_of_raw_data);
  }
  image->sum_of_bytes_hashed = sum;

  *raw_end_out = raw_end;
  return TRUE;
}

/* Attribute certificate table: the security directory holds a file offset, not an RVA. */
static gboolean
parse_cert_table(VsbPeImage *image, guint64 raw_end, GError **error)
{
  const guint8 *d = image->data;
  gsize size = image->size;
  image->certs = g_array_new(FALSE, TRUE, sizeof(VsbPeCertificate));
  if (image->n_dirs > VSB_PE_DIR_SECURITY) {
    gsize dir = image->dirs_offset + 8 * VSB_PE_DIR_SECURITY;
    if (dir + 8 > image->size_of_headers)
      FAIL("the security directory entry at 0x%zx lies outside SizeOfHeaders (0x%x)", dir,
           image->size_of_headers);
    guint32 off = vsb_le32(d + dir), len = vsb_le32(d + dir + 4);
    if (len != 0) {
      guint64 end = (guint64)off + len;
      if (end > size)
        FAIL("certificate table at 0x%x+0x%x (security directory) runs past the end of the "
             "file (%zu bytes)",
             off, len, size);
      if (end != size)
        FAIL("certificate table at 0x%x+0x%x is not at the end of the file (%zu bytes): %"
             G_GUINT64_FORMAT " bytes follow it",
             off, len, size, size - end);
      if (off < raw_end)
        FAIL("certificate table at 0x%x overlaps the headers or section data (which end at "
             "0x%" G_GINT64_MODIFIER "x)",
             off, raw_end);
      image->cert_offset = off;
      image->cert_size = len;
      /* Walk the entries the way DxeImageVerificationHandler does. */
      gsize pos = off;
      while (pos < end) {
        gsize left = end - pos;
        if (left <= WIN_CERT_HEADER_SIZE)
          FAIL("certificate table: %zu stray bytes at 0x%zx after the last entry", left, pos);
        guint32 dw = vsb_le32(d + pos);
        gsize pad = (8 - (dw & 7)) & 7;
        if (dw <= WIN_CERT_HEADER_SIZE)
          FAIL("certificate table entry at 0x%zx: dwLength %u is too small", pos, dw);
        if (left < dw || left - dw < pad)
          FAIL("certificate table entry at 0x%zx: dwLength %u (+%zu padding) runs past the end "
               "of the table (%zu bytes left)",
               pos, dw, pad, left);
        if (image->certs->len >= 256)
          FAIL("certificate table at 0x%x has more than 256 entries", off);
        VsbPeCertificate c = {
          .offset = pos,
          .length = dw,
          .revision = vsb_le16(d + pos + 4),
          .type = vsb_le16(d + pos + 6),
          .data = d + pos + WIN_CERT_HEADER_SIZE,
          .data_len = dw - WIN_CERT_HEADER_SIZE,
        };
        g_array_append_val(image->certs, c);
        pos += dw + pad;
      }
    }
  }
  return TRUE;
}

static gboolean
parse_headers(VsbPeImage *image, GError **error)
{
  guint16 n_sections, opt_size;
  guint64 raw_end;
  return parse_file_header(image, &n_sections, &opt_size, error) &&
         parse_optional_header(image, opt_size, error) &&
         parse_section_table(image, n_sections, opt_size, error) &&
         check_section_data(image, &raw_end, error) && parse_cert_table(image, raw_end, error);
}

static VsbPeImage *
image_new(const char *origin)
{
  VsbPeImage *image = g_new0(VsbPeImage, 1);
  image->origin = g_strdup(origin);
  return image;
}

VsbPeImage *
vsb_pe_parse(GBytes *bytes, const char *origin, GError **error)
{
  g_autoptr(VsbPeImage) image = image_new(origin ? origin : "PE image");
  image->bytes = g_bytes_ref(bytes);
  image->data = g_bytes_get_data(bytes, &image->size);
  if (!parse_headers(image, error))
    return NULL;
  return g_steal_pointer(&image);
}

VsbPeImage *
vsb_pe_load(const char *path, GError **error)
{
  /* Only a regular file is mapped (opened without blocking: a FIFO gave a hang, a device
   * garbage), and only up to PE_MAX_FILE_SIZE. */
  struct stat st;
  VSB_AUTOFD fd = vsb_file_open_regular(path, &st, error);
  if (fd < 0)
    return NULL;
  if ((guint64)st.st_size > PE_MAX_FILE_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: file is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                " bytes accepted for an EFI binary", path, (guint64)st.st_size, PE_MAX_FILE_SIZE);
    return NULL;
  }
  g_autoptr(GError) local = NULL;
  /* The mapping keeps its own reference: fd is closed on return as always. */
  GMappedFile *mf = g_mapped_file_new_from_fd(fd, FALSE, &local);
  if (mf == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot read: %s", path, local->message);
    return NULL;
  }
  g_autoptr(VsbPeImage) image = image_new(path);
  image->mapped = mf;
  image->data = (const guint8 *)g_mapped_file_get_contents(mf);
  image->size = g_mapped_file_get_length(mf);
  if (image->data == NULL)
    image->data = (const guint8 *)"";
  if (!parse_headers(image, error))
    return NULL;
  return g_steal_pointer(&image);
}

void
vsb_pe_image_free(VsbPeImage *image)
{
  if (image == NULL)
    return;
  g_free(image->origin);
  if (image->bytes)
    g_bytes_unref(image->bytes);
  if (image->mapped)
    g_mapped_file_unref(image->mapped);
  g_free(image->sections);
  if (image->certs)
    g_array_unref(image->certs);
  g_free(image);
}

const char *vsb_pe_get_origin(const VsbPeImage *image) { return image->origin; }

const guint8 *
vsb_pe_get_data(const VsbPeImage *image, gsize *len)
{
  if (len)
    *len = image->size;
  return image->data;
}

guint16 vsb_pe_get_machine(const VsbPeImage *image) { return image->machine; }
gboolean vsb_pe_is_pe32plus(const VsbPeImage *image) { return image->pe32plus; }
guint16 vsb_pe_get_subsystem(const VsbPeImage *image) { return image->subsystem; }
guint64 vsb_pe_get_image_base(const VsbPeImage *image) { return image->image_base; }
guint32 vsb_pe_get_entry_point(const VsbPeImage *image) { return image->entry_point; }
guint32 vsb_pe_get_size_of_headers(const VsbPeImage *image) { return image->size_of_headers; }
guint32 vsb_pe_get_checksum(const VsbPeImage *image) { return image->checksum; }
gsize vsb_pe_get_checksum_offset(const VsbPeImage *image) { return image->opt_offset + OPT_CHECKSUM; }

gsize
vsb_pe_get_security_dir_offset(const VsbPeImage *image)
{
  return image->n_dirs > VSB_PE_DIR_SECURITY ? image->dirs_offset + 8 * VSB_PE_DIR_SECURITY : 0;
}

const char *
vsb_pe_machine_name(guint16 machine)
{
  VsbFwArch arch;
  return vsb_arch_from_pe_machine(machine, &arch) ? vsb_fw_arch_name(arch) : NULL;
}

const char *
vsb_pe_subsystem_name(guint16 subsystem)
{
  switch (subsystem) {
  case 10: return "EFI application";
  case 11: return "EFI boot service driver";
  case 12: return "EFI runtime driver";
  case 13: return "EFI ROM";
  case 1: return "native";
  case 2: return "Windows GUI";
  case 3: return "Windows console";
  default: return NULL;
  }
}

const VsbPeSection *
vsb_pe_get_sections(const VsbPeImage *image, guint *n_sections)
{
  *n_sections = image->n_sections;
  return image->sections;
}

guint32 vsb_pe_get_n_data_directories(const VsbPeImage *image) { return image->n_dirs; }

gboolean
vsb_pe_get_data_directory(const VsbPeImage *image, guint index, guint32 *rva_or_offset,
                          guint32 *size)
{
  if (index >= image->n_dirs)
    return FALSE;
  const guint8 *p = image->data + image->dirs_offset + 8 * index;
  if (rva_or_offset)
    *rva_or_offset = vsb_le32(p);
  if (size)
    *size = vsb_le32(p + 4);
  return TRUE;
}

void
vsb_pe_get_cert_table(const VsbPeImage *image, gsize *offset, gsize *size)
{
  if (offset)
    *offset = image->cert_offset;
  if (size)
    *size = image->cert_size;
}

const VsbPeCertificate *
vsb_pe_get_certificates(const VsbPeImage *image, guint *n_certs)
{
  *n_certs = image->certs->len;
  return (const VsbPeCertificate *)image->certs->data;
}

char *
vsb_pe_get_sbat(const VsbPeImage *image)
{
  for (guint i = 0; i < image->n_sections; i++) {
    const VsbPeSection *sec = &image->sections[i];
    if (strcmp(sec->name, ".sbat") != 0)
      continue;
    gsize len = sec->size_of_raw_data;
    if (len == 0)
      return g_strdup("");
    if (sec->virtual_size != 0 && sec->virtual_size < len)
      len = sec->virtual_size;
    const char *p = (const char *)image->data + sec->pointer_to_raw_data;
    while (len > 0 && p[len - 1] == '\0')
      len--;
    return g_utf8_make_valid(p, (gssize)len);
  }
  return NULL;
}

gboolean
vsb_pe_hash(const VsbPeImage *image, VsbPeDigest digest, guint8 *out, GError **error)
{
  if (digest >= VSB_PE_N_DIGESTS) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown digest %d", (int)digest);
    return FALSE;
  }
  const guint8 *d = image->data;
  gsize cks = vsb_pe_get_checksum_offset(image);
  gsize sec_dir = vsb_pe_get_security_dir_offset(image);
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
  const EVP_MD *md = digest == VSB_PE_DIGEST_SHA1     ? EVP_sha1()
                    : digest == VSB_PE_DIGEST_SHA256 ? EVP_sha256()
                    : digest == VSB_PE_DIGEST_SHA384 ? EVP_sha384()
                                                     : EVP_sha512();
  gboolean ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;
  /* Headers, without CheckSum and the certificate table's directory entry. */
  ok = ok && EVP_DigestUpdate(ctx, d, cks) == 1;
  if (sec_dir == 0) {
    ok = ok && EVP_DigestUpdate(ctx, d + cks + 4, image->size_of_headers - (cks + 4)) == 1;
  } else {
    ok = ok && EVP_DigestUpdate(ctx, d + cks + 4, sec_dir - (cks + 4)) == 1;
    ok = ok && EVP_DigestUpdate(ctx, d + sec_dir + 8, image->size_of_headers - (sec_dir + 8)) == 1;
  }
  /* Sections in file order (stable for equal offsets, as edk2's insertion sort). */
  g_autofree const VsbPeSection **sorted = g_new(const VsbPeSection *, image->n_sections);
  guint n = 0;
  for (guint i = 0; i < image->n_sections; i++)
    if (image->sections[i].size_of_raw_data != 0)
      sorted[n++] = &image->sections[i];
  qsort(sorted, n, sizeof *sorted, cmp_section_by_raw);
  for (guint i = 0; ok && i < n; i++)
    ok = EVP_DigestUpdate(ctx, d + sorted[i]->pointer_to_raw_data, sorted[i]->size_of_raw_data) == 1;
  /* Whatever follows SUM_OF_BYTES_HASHED, up to the certificate table. */
  guint64 sum = image->sum_of_bytes_hashed;
  if (ok && image->size > sum + image->cert_size)
    ok = EVP_DigestUpdate(ctx, d + sum, image->size - image->cert_size - sum) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
  if (!ok)
    g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: %s hashing failed in OpenSSL",
                image->origin, digests[digest].name);
  return ok;
}

char *
vsb_pe_hash_hex(const VsbPeImage *image, VsbPeDigest digest, GError **error)
{
  guint8 buf[VSB_PE_MAX_DIGEST_SIZE];
  if (!vsb_pe_hash(image, digest, buf, error))
    return NULL;
  return vsb_hex_encode(buf, digests[digest].size);
}

/* PE checksum: 16-bit one's-complement sum of the file with CheckSum taken as zero, plus the
 * file length (as imagehlp's CheckSumMappedFile and sbsigntool compute it). */
static guint32
pe_checksum(const guint8 *d, gsize size, gsize cks)
{
  guint64 sum = 0;
  gsize i = 0;
  for (; i + 1 < size; i += 2)
    sum += vsb_le16(d + i);
  if (i < size)
    sum += d[i];
  /* Take the CheckSum field out again (it is 2-aligned in any image we accept or not: handle
   * both cases byte-wise). */
  for (gsize k = cks; k < cks + 4 && k < size; k++)
    sum -= (guint64)d[k] << ((k & 1) ? 8 : 0);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint32)sum + (guint32)size;
}

guint32
vsb_pe_compute_checksum(const VsbPeImage *image)
{
  return pe_checksum(image->data, image->size, vsb_pe_get_checksum_offset(image));
}

GBytes *
vsb_pe_append_certificate(const VsbPeImage *image, guint16 cert_type, const guint8 *cert,
                          gsize cert_len, GError **error)
{
  gsize sec_dir = vsb_pe_get_security_dir_offset(image);
  if (sec_dir == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: the optional header has no security directory entry "
                "(NumberOfRvaAndSizes %u), so a signature cannot be recorded",
                image->origin, image->n_dirs);
    return NULL;
  }
  if (cert_len > G_MAXUINT32 - 16) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: signature too large", image->origin);
    return NULL;
  }
  gsize base = image->cert_size ? image->cert_offset : image->size; /* start of table */
  gsize base_padded = image->cert_size ? base : (base + 7) & ~(gsize)7;
  guint32 dw = (guint32)(WIN_CERT_HEADER_SIZE + cert_len);
  gsize entry = ((gsize)dw + 7) & ~(gsize)7;
  gsize table_size = image->cert_size + entry;
  if (table_size > G_MAXUINT32 || base_padded > G_MAXUINT32) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: the certificate table would exceed 4 GiB", image->origin);
    return NULL;
  }
  gsize total = base_padded + table_size;
  guint8 *out = g_malloc0(total);
  memcpy(out, image->data, image->cert_size ? base + image->cert_size : base);
  guint8 *e = out + base_padded + image->cert_size;
  vsb_put_le32(e, dw);
  e[4] = VSB_WIN_CERT_REVISION_2_0 & 0xff;
  e[5] = VSB_WIN_CERT_REVISION_2_0 >> 8;
  e[6] = cert_type & 0xff;
  e[7] = cert_type >> 8;
  memcpy(e + WIN_CERT_HEADER_SIZE, cert, cert_len);
  vsb_put_le32(out + sec_dir, (guint32)base_padded);
  vsb_put_le32(out + sec_dir + 4, (guint32)table_size);
  gsize cks = vsb_pe_get_checksum_offset(image);
  vsb_put_le32(out + cks, 0);
  vsb_put_le32(out + cks, pe_checksum(out, total, cks));
  return g_bytes_new_take(out, total);
}
