/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: PE/COFF images (EFI applications, drivers, the EFI-stub kernel) as Secure Boot sees
 * them: headers, sections, data directories, the attribute certificate table, the .sbat
 * section, and the Authenticode image hash computed as edk2's DxeImageVerificationLib
 * (HashPeImage), sbsigntool and the Microsoft PE/COFF specification do.
 *
 * The reader is strict: every offset and size is checked against the file before use, and an
 * image whose sections overlap each other or the headers, run past the end of the file, or
 * whose certificate table is not the last thing in the file is refused with an error naming
 * the field and offset. Such files are either broken or built to make different verifiers
 * disagree about what was signed. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

/* IMAGE_FILE_HEADER.Machine values of interest. */
#define VSB_PE_MACHINE_I386    0x014c
#define VSB_PE_MACHINE_ARMNT   0x01c4
#define VSB_PE_MACHINE_AMD64   0x8664
#define VSB_PE_MACHINE_ARM64   0xaa64
#define VSB_PE_MACHINE_RISCV64 0x5064
#define VSB_PE_MACHINE_LOONGARCH64 0x6264

/* Data directory indexes (PE/COFF spec 3.4.3). */
#define VSB_PE_DIR_SECURITY 4  /* file offset + size of the attribute certificate table */
#define VSB_PE_DIR_BASERELOC 5

/* WIN_CERTIFICATE (PE/COFF spec 4.7, UEFI spec 32.2.4). */
#define VSB_WIN_CERT_REVISION_2_0        0x0200
#define VSB_WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
#define VSB_WIN_CERT_TYPE_EFI_PKCS115    0x0ef0
#define VSB_WIN_CERT_TYPE_EFI_GUID       0x0ef1

/* Digests an Authenticode signature can name; edk2 knows these four (mHash[]). */
typedef enum {
  VSB_PE_DIGEST_SHA1,
  VSB_PE_DIGEST_SHA256,
  VSB_PE_DIGEST_SHA384,
  VSB_PE_DIGEST_SHA512,
  VSB_PE_N_DIGESTS,
} VsbPeDigest;

const char *vsb_pe_digest_name(VsbPeDigest digest);   /* "sha256" */
gsize vsb_pe_digest_size(VsbPeDigest digest);          /* 32 */
gboolean vsb_pe_digest_from_name(const char *name, VsbPeDigest *out);
#define VSB_PE_MAX_DIGEST_SIZE 64

typedef struct {
  char name[9];               /* NUL-terminated; "/4"-style long names are kept as written */
  guint32 virtual_size;
  guint32 virtual_address;
  guint32 size_of_raw_data;
  guint32 pointer_to_raw_data;
  guint32 characteristics;
} VsbPeSection;

typedef struct {
  gsize offset;               /* of the WIN_CERTIFICATE header in the file */
  guint32 length;             /* dwLength: header + bCertificate, without the padding */
  guint16 revision;           /* wRevision */
  guint16 type;               /* wCertificateType */
  const guint8 *data;         /* bCertificate (points into the image) */
  gsize data_len;
} VsbPeCertificate;

typedef struct _VsbPeImage VsbPeImage;

/* Map and parse a file (mmap: hashing a large image reads it once). */
VsbPeImage *vsb_pe_load(const char *path, GError **error);
/* Parse bytes (referenced, not copied); origin names the source in messages. */
VsbPeImage *vsb_pe_parse(GBytes *bytes, const char *origin, GError **error);
void vsb_pe_image_free(VsbPeImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbPeImage, vsb_pe_image_free)

const char *vsb_pe_get_origin(const VsbPeImage *image);
const guint8 *vsb_pe_get_data(const VsbPeImage *image, gsize *len);
guint16 vsb_pe_get_machine(const VsbPeImage *image);
const char *vsb_pe_machine_name(guint16 machine);     /* "x86_64", or NULL when unknown */
gboolean vsb_pe_is_pe32plus(const VsbPeImage *image);  /* optional header magic 0x20b */
guint16 vsb_pe_get_subsystem(const VsbPeImage *image);
const char *vsb_pe_subsystem_name(guint16 subsystem); /* "EFI application", or NULL */
guint64 vsb_pe_get_image_base(const VsbPeImage *image);
guint32 vsb_pe_get_entry_point(const VsbPeImage *image);
guint32 vsb_pe_get_size_of_headers(const VsbPeImage *image);
guint32 vsb_pe_get_checksum(const VsbPeImage *image);        /* as stored */
guint32 vsb_pe_compute_checksum(const VsbPeImage *image);    /* what it should be */
/* Offset of the CheckSum field and of the security data-directory entry (0 when the optional
 * header has fewer than 5 directories). */
gsize vsb_pe_get_checksum_offset(const VsbPeImage *image);
gsize vsb_pe_get_security_dir_offset(const VsbPeImage *image);

const VsbPeSection *vsb_pe_get_sections(const VsbPeImage *image, guint *n_sections);
guint32 vsb_pe_get_n_data_directories(const VsbPeImage *image);
/* FALSE when the optional header has no such entry. */
gboolean vsb_pe_get_data_directory(const VsbPeImage *image, guint index, guint32 *rva_or_offset,
                                   guint32 *size);

/* The certificate table: where it is (offset 0 and size 0 when the image is unsigned) and its
 * entries in order. Entries are walked as edk2 does (8-byte aligned); a table whose entries do
 * not fill it exactly is an error at parse time. */
void vsb_pe_get_cert_table(const VsbPeImage *image, gsize *offset, gsize *size);
const VsbPeCertificate *vsb_pe_get_certificates(const VsbPeImage *image, guint *n_certs);

/* The text of the .sbat section (up to its VirtualSize, trailing NULs dropped), or NULL. */
char *vsb_pe_get_sbat(const VsbPeImage *image);

/* The Authenticode image hash (PE/COFF spec Appendix A; edk2 HashPeImage): the headers
 * without CheckSum and the security directory entry, sections with raw data in order of
 * PointerToRawData, then any data after SUM_OF_BYTES_HASHED up to the certificate table.
 * out must hold vsb_pe_digest_size(digest) bytes. */
gboolean vsb_pe_hash(const VsbPeImage *image, VsbPeDigest digest, guint8 *out, GError **error);
/* Same, as lower-case hex (newly allocated). */
char *vsb_pe_hash_hex(const VsbPeImage *image, VsbPeDigest digest, GError **error);

/* The file with a new certificate table entry appended: the image is padded with zeros to
 * 8 bytes when unsigned, an existing table is padded to 8, the entry (revision 2.0, the
 * given type) is added 8-byte aligned, the security directory updated and the PE checksum
 * recomputed. The Authenticode hash of the result equals that of the input unless padding
 * was added (sign a padded copy: an unsigned image whose size is not a multiple of 8). */
GBytes *vsb_pe_append_certificate(const VsbPeImage *image, guint16 cert_type,
                                  const guint8 *cert, gsize cert_len, GError **error);

VSB_END_DECLS
