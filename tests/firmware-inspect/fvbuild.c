/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fvbuild.h"

#include <lzma.h>
#include <stdarg.h>
#include <string.h>

#define FVB_LZMA_HEADER_SIZE 13 /* props[5], u64 uncompressed size */

static void
put16(guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put32(guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8)(v >> (8 * i));
}

static void
put64(guint8 *p, guint64 v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (guint8)(v >> (8 * i));
}

void
fvb_append(GByteArray *a, GByteArray *b)
{
  g_byte_array_append(a, b->data, b->len);
  g_byte_array_unref(b);
}

static void
pad_to(GByteArray *a, gsize align, guint8 fill)
{
  while (a->len % align)
    g_byte_array_append(a, &fill, 1);
}

GByteArray *
fvb_section(guint8 type, const void *data, gsize len, gboolean header2)
{
  GByteArray *s = g_byte_array_new();
  guint8 h[8];
  if (header2 || len + 4 >= 0xffffff) {
    put32(h, 0xffffff | (guint32)type << 24);
    put32(h + 4, (guint32)(len + 8));
    g_byte_array_append(s, h, 8);
  } else {
    put32(h, (guint32)(len + 4) | (guint32)type << 24);
    g_byte_array_append(s, h, 4);
  }
  if (len)
    g_byte_array_append(s, data, (guint)len);
  return s;
}

GByteArray *
fvb_ui(const char *name)
{
  glong n = 0;
  g_autofree gunichar2 *u = g_utf8_to_utf16(name, -1, NULL, &n, NULL);
  g_autoptr(GByteArray) b = g_byte_array_new();
  for (glong i = 0; i <= n; i++) {
    guint8 c[2];
    put16(c, i < n ? u[i] : 0);
    g_byte_array_append(b, c, 2);
  }
  return fvb_section(0x15, b->data, b->len, FALSE);
}

GByteArray *
fvb_version(guint16 build, const char *text)
{
  g_autoptr(GByteArray) b = g_byte_array_new();
  guint8 c[2];
  put16(c, build);
  g_byte_array_append(b, c, 2);
  for (const char *p = text;; p++) {
    put16(c, (guint8)*p);
    g_byte_array_append(b, c, 2);
    if (*p == 0)
      break;
  }
  return fvb_section(0x14, b->data, b->len, FALSE);
}

GByteArray *
fvb_pe32(guint16 machine, const void *extra, gsize extra_len)
{
  guint8 pe[0x60] = { 'M', 'Z' };
  put32(pe + 0x3c, 0x40);
  memcpy(pe + 0x40, "PE\0\0", 4);
  put16(pe + 0x44, machine);
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_byte_array_append(b, pe, sizeof pe);
  if (extra_len)
    g_byte_array_append(b, extra, (guint)extra_len);
  return fvb_section(0x10, b->data, b->len, FALSE);
}

GByteArray *
fvb_te(guint16 machine)
{
  guint8 te[0x28] = { 'V', 'Z' };
  put16(te + 2, machine);
  return fvb_section(0x12, te, sizeof te, FALSE);
}

GByteArray *
fvb_concat(GByteArray *first, ...)
{
  GByteArray *out = g_byte_array_new();
  va_list ap;
  va_start(ap, first);
  for (GByteArray *s = first; s; s = va_arg(ap, GByteArray *)) {
    pad_to(out, 4, 0);
    fvb_append(out, s);
  }
  va_end(ap);
  return out;
}

static GByteArray *
guided(const VsbGuid *guid, guint16 attributes, const guint8 *payload, gsize len)
{
  g_autoptr(GByteArray) body = g_byte_array_new();
  guint8 h[20];
  memcpy(h, guid->b, 16);
  put16(h + 16, 4 + 20); /* DataOffset from the section start */
  put16(h + 18, attributes);
  g_byte_array_append(body, h, 20);
  g_byte_array_append(body, payload, (guint)len);
  return fvb_section(0x02, body->data, body->len, FALSE);
}

GByteArray *
fvb_guided_section(const VsbGuid *guid, guint16 attributes, GByteArray *inner)
{
  GByteArray *s = guided(guid, attributes, inner->data, inner->len);
  g_byte_array_unref(inner);
  return s;
}

static GByteArray *
lzma_section(GByteArray *inner, guint64 declared, gsize truncate, gboolean x86)
{
  lzma_options_lzma opt;
  lzma_lzma_preset(&opt, 0);
  /* LzmaF86: edk2 runs the x86 BCJ converter (start offset 0) before LZMA. */
  lzma_filter filters[3] = { { LZMA_FILTER_X86, NULL }, { LZMA_FILTER_LZMA1, &opt },
                             { LZMA_VLI_UNKNOWN, NULL } };
  lzma_filter *chain = x86 ? filters : filters + 1;
  guint8 props[5];
  g_assert_cmpint(lzma_properties_encode(&filters[1], props), ==, LZMA_OK);
  lzma_stream strm = LZMA_STREAM_INIT;
  g_assert_cmpint(lzma_raw_encoder(&strm, chain), ==, LZMA_OK);
  gsize cap = inner->len + inner->len / 2 + 4096;
  g_autofree guint8 *out = g_malloc(FVB_LZMA_HEADER_SIZE + cap);
  memcpy(out, props, 5);
  put64(out + 5, declared ? declared : inner->len);
  strm.next_in = inner->data;
  strm.avail_in = inner->len;
  strm.next_out = out + FVB_LZMA_HEADER_SIZE;
  strm.avail_out = cap;
  lzma_ret r;
  do
    r = lzma_code(&strm, LZMA_FINISH);
  while (r == LZMA_OK);
  g_assert_cmpint(r, ==, LZMA_STREAM_END);
  gsize n = FVB_LZMA_HEADER_SIZE + (gsize)strm.total_out;
  lzma_end(&strm);
  g_byte_array_unref(inner);
  g_assert_cmpuint(truncate, <, n);
  return guided(x86 ? &VSB_GUID_LZMAF86_CUSTOM_DECOMPRESS : &VSB_GUID_LZMA_CUSTOM_DECOMPRESS, 0x01,
                out, n - truncate);
}

GByteArray *
fvb_lzma_section(GByteArray *inner, guint64 declared, gsize truncate)
{
  return lzma_section(inner, declared, truncate, FALSE);
}

GByteArray *
fvb_lzmaf86_section(GByteArray *inner)
{
  return lzma_section(inner, 0, 0, TRUE);
}

GByteArray *
fvb_compression_section(guint8 type, GByteArray *inner)
{
  g_autoptr(GByteArray) body = g_byte_array_new();
  guint8 h[5];
  put32(h, inner->len);
  h[4] = type;
  g_byte_array_append(body, h, 5);
  g_byte_array_append(body, inner->data, inner->len);
  g_byte_array_unref(inner);
  return fvb_section(0x01, body->data, body->len, FALSE);
}

GByteArray *
fvb_file(const char *guid_text, guint8 type, GByteArray *sections, gboolean large)
{
  VsbGuid g;
  g_assert_true(vsb_guid_parse(guid_text, &g));
  gsize hlen = large ? 32 : 24;
  guint64 size = hlen + sections->len;
  GByteArray *f = g_byte_array_sized_new((guint)size);
  guint8 h[32] = { 0 };
  memcpy(h, g.b, 16);
  h[18] = type;
  h[19] = large ? 0x01 : 0x00;
  if (large)
    put64(h + 24, size);
  else {
    h[20] = size & 0xff;
    h[21] = (size >> 8) & 0xff;
    h[22] = (size >> 16) & 0xff;
  }
  /* IntegrityCheck.Header: the header sums to 0 with State and IntegrityCheck.File at 0. */
  guint8 sum = 0;
  for (gsize i = 0; i < hlen; i++)
    sum = (guint8)(sum + h[i]);
  h[16] = (guint8)(0x100 - sum);
  h[17] = 0xaa;  /* no FFS_ATTRIB_CHECKSUM */
  h[23] = 0xf8;  /* ~(HEADER_CONSTRUCTION|HEADER_VALID|DATA_VALID), erase polarity 1 */
  g_byte_array_append(f, h, (guint)hlen);
  g_byte_array_append(f, sections->data, sections->len);
  g_byte_array_unref(sections);
  return f;
}

static GByteArray *
volume(const VsbGuid *fs, const char *name, GByteArray *files /* 8-aligned, consumed */)
{
  GByteArray *v = g_byte_array_new();
  guint8 h[0x48] = { 0 };
  g_byte_array_append(v, h, sizeof h);
  if (name) {
    VsbGuid n;
    g_assert_true(vsb_guid_parse(name, &n));
    guint8 ext[20];
    memcpy(ext, n.b, 16);
    put32(ext + 16, 20);
    g_byte_array_append(v, ext, 20);
  }
  pad_to(v, 8, 0xff);
  fvb_append(v, files);
  /* Some free space, then the length in 8-byte units. */
  for (int i = 0; i < 32; i++)
    g_byte_array_append(v, (const guint8 *)"\xff", 1);
  pad_to(v, 8, 0xff);

  guint8 *p = v->data;
  memcpy(p + 0x10, fs->b, 16);
  put64(p + 0x20, v->len);
  memcpy(p + 0x28, "_FVH", 4);
  put32(p + 0x2c, 0x0004feff);
  put16(p + 0x30, 0x48);
  put16(p + 0x34, name ? 0x48 : 0);
  p[0x37] = 2;
  put32(p + 0x38, 1);
  put32(p + 0x3c, v->len);
  guint16 sum = 0;
  for (gsize i = 0; i < 0x48; i += 2)
    sum = (guint16)(sum + (p[i] | p[i + 1] << 8));
  put16(p + 0x32, (guint16)(0x10000 - sum));
  return v;
}

GByteArray *
fvb_volume(const VsbGuid *fs, const char *name, GByteArray *file, ...)
{
  GByteArray *files = g_byte_array_new();
  va_list ap;
  va_start(ap, file);
  for (GByteArray *f = file; f; f = va_arg(ap, GByteArray *)) {
    pad_to(files, 8, 0xff);
    fvb_append(files, f);
  }
  va_end(ap);
  pad_to(files, 8, 0xff);
  return volume(fs, name, files);
}

GByteArray *
fvb_volume_of_copies(GByteArray *file, guint copies)
{
  GByteArray *files = g_byte_array_new();
  pad_to(file, 8, 0xff);
  for (guint i = 0; i < copies; i++)
    g_byte_array_append(files, file->data, file->len);
  g_byte_array_unref(file);
  return volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL, files);
}

GByteArray *
fvb_fv_section(GByteArray *volume)
{
  GByteArray *s = fvb_section(0x17, volume->data, volume->len, FALSE);
  g_byte_array_unref(volume);
  return s;
}

#define DRIVER 0x07
#define FVIMAGE 0x0b

static GByteArray *
module(const char *guid, guint8 type, const char *name, const VsbGuid *embed)
{
  return fvb_file(guid, type,
                  fvb_concat(fvb_section(0x13, "\x08", 1, FALSE) /* depex: END */,
                             fvb_pe32(0x8664, embed ? embed->b : NULL, embed ? 16 : 0),
                             fvb_ui(name), fvb_version(1, "1.0"), NULL),
                  FALSE);
}

GByteArray *
fvb_sample_image(void)
{
  /* DXEFV: modules identified by GUID and UI name as edk2 builds them. */
  GByteArray *dxefv = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, "7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1",
    module("d6a2cb7f-6a18-4e2f-b43b-9920a733700a", 0x05, "DxeCore", NULL),
    module("f80697e9-7fd6-4665-8646-88e33ef71dfc", DRIVER, "SecurityStubDxe",
           &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE),
    module("f0e6a44f-7195-41c3-ac64-54f202cd0a21", DRIVER, "SecureBootConfigDxe", NULL),
    module("7c04a583-9e3e-4f1c-ad65-e05268d0b4d1", 0x09, "Shell", NULL),
    module("fdff263d-5f68-4591-87ba-b768f445a9af", DRIVER, "Tcg2Dxe", NULL),
    module("2ec9da37-ee35-4de9-86c5-6d9a81dc38a7", DRIVER, "AmdSevDxe", NULL),
    module("23a089b3-eed5-4ac5-b2ab-43e3298c2343", 0x0a, "VariableSmm", &VSB_GUID_CERT_DB),
    module("e94f54cd-81eb-47ed-aec3-856f5dc157a9", 0x0d, "PiSmmCore", NULL),
    /* identified by UI name only (GUID unknown to vsboot) */
    module("11111111-2222-3333-4444-555555555555", DRIVER, "PiSmmIpl", NULL),
    /* an unknown module, a raw file and a freeform file */
    module("01234567-89ab-cdef-0123-456789abcdef", DRIVER, "SomethingElse", NULL),
    fvb_file("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 0x01, g_byte_array_new(), FALSE),
    fvb_file("fc510ee7-ffdc-11d4-bd41-0080c73c8881", 0x02,
             fvb_concat(fvb_section(0x19, "apriori", 7, FALSE), NULL), FALSE),
    NULL);
  /* An encapsulation zoo: uncompressed compression section, CRC32 guided section (with a
   * wrong CRC it would fail), a guided section vsboot cannot decode (a warning). */
  GByteArray *zoo = fvb_concat(
    fvb_compression_section(0, fvb_concat(fvb_te(0x8664), fvb_ui("TeModule"), NULL)),
    fvb_guided_section(&VSB_GUID_TIANO_CUSTOM_DECOMPRESS, 0x01,
                       fvb_concat(fvb_section(0x19, "xx", 2, FALSE), NULL)),
    fvb_compression_section(1, fvb_concat(fvb_section(0x19, "yy", 2, FALSE), NULL)),
    NULL);
  GByteArray *peifv = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, "6938079b-b503-4e3d-9d24-b28337a25806",
    module("52c05b14-0b98-496c-bc3b-04b50211d680", 0x04, "PeiCore", NULL),
    module("89e549b0-7cfe-449d-9ba3-10d8b2312d71", 0x06, "S3Resume2Pei", NULL),
    fvb_file("22222222-3333-4444-5555-666666666666", 0x06, zoo, FALSE), NULL);
  GByteArray *compact = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, "48db5e17-707c-472d-91cd-1613e7ef51b0",
    fvb_file("9e21fd93-9c72-4c15-8c4b-e77f1db2d792", FVIMAGE,
             fvb_concat(fvb_lzma_section(fvb_concat(fvb_fv_section(peifv),
                                                    fvb_fv_section(dxefv), NULL),
                                         0, 0),
                        NULL),
             FALSE),
    NULL);
  /* FFS3 volume with a large file (EFI_FFS_FILE_HEADER2) and a section with HEADER2. */
  GByteArray *ffs3 = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3, NULL,
    fvb_file("33333333-4444-5555-6666-777777777777", DRIVER,
             fvb_concat(fvb_section(0x19, "big", 3, TRUE), fvb_ui("LargeFile"), NULL), TRUE),
    NULL);
  GByteArray *secfv = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, "763bed0d-de9f-48f5-81f1-3e90e1b1a015",
    module("df1ccef6-f301-4a63-9661-fc6030dcc880", 0x03, "SecMain", NULL), NULL);
  GByteArray *img = g_byte_array_new();
  fvb_append(img, compact);
  fvb_append(img, ffs3);
  fvb_append(img, secfv);
  return img;
}

GByteArray *
fvb_nested_image(guint depth, gboolean lzma)
{
  GByteArray *v = fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
                             module("d6a2cb7f-6a18-4e2f-b43b-9920a733700a", 0x05, "DxeCore",
                                    NULL),
                             NULL);
  for (guint i = 0; i < depth; i++) {
    GByteArray *sec = fvb_fv_section(v);
    if (lzma)
      sec = fvb_lzma_section(fvb_concat(sec, NULL), 0, 0);
    v = fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
                   fvb_file("9e21fd93-9c72-4c15-8c4b-e77f1db2d792", FVIMAGE,
                            fvb_concat(sec, NULL), FALSE),
                   NULL);
  }
  return v;
}
