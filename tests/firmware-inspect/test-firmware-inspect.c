/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot firmware inspect: Debian's real OVMF/AAVMF builds against their descriptors and
 * README, synthetic volumes for every construct the reader handles, and hostile input. */
#include "testutil.h"
#include "fvbuild.h"

#include "vsboot/error.h"
#include "vsboot/fv.h"
#include "vsboot/fwsearch.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define OVMF "/usr/share/OVMF/"
#define AAVMF "/usr/share/AAVMF/"
#define DESCRIPTORS "/usr/share/qemu/firmware/"

/* ---- helpers ------------------------------------------------------------------------- */

static VsbFvImage *
inspect(const char *path)
{
  g_autoptr(GError) error = NULL;
  VsbFvImage *img = vsb_fv_inspect_file(path, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(img);
  return img;
}

static void
assert_feature(const VsbFvImage *img, const char *name, gboolean present)
{
  const VsbFvFeature *f = vsb_fv_image_get_feature(img, name);
  g_assert_nonnull(f);
  if (f->present != present)
    vsb_test_fail("feature %s: expected %s, got %s (%s)", name, present ? "present" : "absent",
            f->present ? "present" : "absent", f->evidence);
}

static void
assert_module(const VsbFvImage *img, const char *name, gboolean present)
{
  const VsbFvFile *f = vsb_fv_image_find_module(img, name);
  if ((f != NULL) != present)
    vsb_test_fail("module %s: expected %s", name, present ? "present" : "absent");
}

static void
assert_varstore(const VsbFvImage *img, gsize size, VsbFvVarstoreSource source)
{
  VsbFvVarstoreSource s;
  const char *reason = NULL;
  g_assert_cmpuint(vsb_fv_image_get_varstore_size(img, &s, &reason), ==, size);
  g_assert_cmpint(s, ==, source);
  g_assert_nonnull(reason);
}

static char *
write_tmp(const char *dir, const char *name, const void *data, gsize len)
{
  char *path = g_build_filename(dir, name, NULL);
  vsb_test_write_file(path, data, (gssize)len);
  return path;
}

/* The CLI must refuse the file with exit 2 and a message containing what. */
static void
assert_cli_rejects(const char *path, const char *what)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "firmware", "inspect", path, NULL);
  if (rc != 2 || strstr(err, what) == NULL)
    vsb_test_fail("firmware inspect %s: exit %d, stderr '%s' (want exit 2 and '%s')", path, rc, err,
            what);
  g_assert_cmpstr(out, ==, "");
}

static GBytes *
to_bytes(GByteArray *a)
{
  return g_byte_array_free_to_bytes(a);
}

/* ---- Debian's builds --------------------------------------------------------------------- */

static void
test_ovmf_4m_secboot(void)
{
  g_autoptr(VsbFvImage) img = inspect(OVMF "OVMF_CODE_4M.secboot.fd");
  g_assert_cmpint(vsb_fv_image_get_arch(img), ==, VSB_FW_ARCH_X86_64);
  /* Debian's 4M images are OvmfPkgIa32X64: 32-bit PEI for S3 with SMM (changelog, LP #1903681). */
  g_assert_cmpint(vsb_fv_image_get_pei_arch(img), ==, VSB_FW_ARCH_I386);
  g_assert_cmpuint(vsb_fv_image_get_size(img), ==, 0x37c000);
  /* FVMAIN_COMPACT with PEIFV and DXEFV inside one LZMA section, then SECFV. */
  GPtrArray *vols = vsb_fv_image_get_volumes(img);
  g_assert_cmpuint(vols->len, ==, 4);
  const char *names[] = { "FVMAIN_COMPACT", "PEIFV", "DXEFV", "SECFV" };
  for (guint i = 0; i < 4; i++) {
    const VsbFvVolume *v = g_ptr_array_index(vols, i);
    g_assert_cmpstr(v->known_name, ==, names[i]);
    g_assert_cmpint(v->compressed, ==, i == 1 || i == 2);
  }
  g_assert_cmpuint(vsb_fv_image_get_decompressed(img), >, 8 << 20);
  assert_feature(img, "smm", TRUE);
  assert_feature(img, "requires-smm", TRUE);
  assert_feature(img, "secure-boot", TRUE);
  assert_feature(img, "authenticated-variables", TRUE);
  assert_feature(img, "tpm2", TRUE);
  assert_feature(img, "amd-sev", TRUE);
  assert_feature(img, "amd-sev-es", TRUE);
  assert_feature(img, "intel-tdx", FALSE);
  assert_feature(img, "acpi-s3", TRUE);
  assert_feature(img, "shell", TRUE);
  assert_feature(img, "network", TRUE);
  const char *smm[] = { "PiSmmIpl", "PiSmmCore", "SmmAccess2Dxe", "SmmAccessPei",
                        "SmmControl2Dxe", "SmmLockBox", "CpuS3DataDxe", "PiSmmCpuDxeSmm",
                        "VariableSmm", "VariableSmmRuntimeDxe", "FvbServicesSmm" };
  for (gsize i = 0; i < G_N_ELEMENTS(smm); i++)
    assert_module(img, smm[i], TRUE);
  assert_module(img, "VariableRuntimeDxe", FALSE);
  assert_module(img, "SecureBootConfigDxe", TRUE);
  assert_module(img, "Tcg2Dxe", TRUE);
  assert_module(img, "7c04a583-9e3e-4f1c-ad65-e05268d0b4d1", TRUE); /* Shell by FILE_GUID */
  /* The stub links DxeImageVerificationLib; the SMM variable driver AuthVariableLib. */
  const VsbFvFile *stub = vsb_fv_image_find_module(img, "SecurityStubDxe");
  g_assert_true(stub->evidence & VSB_FV_EVIDENCE_IMAGE_SECURITY_DB);
  g_assert_cmpint(stub->machine, ==, 0x8664);
  g_assert_true(vsb_fv_image_find_module(img, "VariableSmm")->evidence & VSB_FV_EVIDENCE_CERT_DB);
  /* SEV blocks of the reset vector. */
  GPtrArray *table = vsb_fv_image_get_ovmf_table(img);
  g_assert_cmpuint(table->len, >=, 3);
  assert_varstore(img, 0x84000, VSB_FV_VARSTORE_CODE_SIZE);
  g_assert_null(vsb_fv_image_get_warnings(img)[0]);
}

static void
test_ovmf_4m(void)
{
  /* README.Debian: "While this image technically supports Secure Boot, it does so without
   * requiring SMM support from QEMU". */
  g_autoptr(VsbFvImage) img = inspect(OVMF "OVMF_CODE_4M.fd");
  g_assert_cmpint(vsb_fv_image_get_arch(img), ==, VSB_FW_ARCH_X86_64);
  assert_feature(img, "secure-boot", TRUE);
  assert_feature(img, "authenticated-variables", TRUE);
  assert_feature(img, "smm", FALSE);
  assert_feature(img, "requires-smm", FALSE);
  assert_module(img, "SecureBootConfigDxe", TRUE);
  assert_module(img, "VariableRuntimeDxe", TRUE);
  assert_module(img, "VariableSmm", FALSE);
  assert_module(img, "PiSmmCore", FALSE);
  assert_module(img, "SmmLockBox", FALSE);
  assert_feature(img, "amd-sev", TRUE);
  assert_feature(img, "tpm2", TRUE);
  assert_varstore(img, 0x84000, VSB_FV_VARSTORE_CODE_SIZE);
}

static void
test_ovmf_2m(void)
{
  g_autoptr(VsbFvImage) plain = inspect(OVMF "OVMF_CODE.fd");
  g_assert_cmpuint(vsb_fv_image_get_size(plain), ==, 0x1e0000);
  assert_feature(plain, "secure-boot", TRUE);
  assert_feature(plain, "smm", FALSE);
  assert_feature(plain, "requires-smm", FALSE);
  assert_varstore(plain, 0x20000, VSB_FV_VARSTORE_CODE_SIZE);

  /* The 2M images stay OvmfPkgX64 (64-bit PEI), which also carries TdxDxe and the TDX and
   * SEV-SNP metadata blocks in the reset vector; the Ia32X64 4M images do not. */
  g_assert_cmpint(vsb_fv_image_get_pei_arch(plain), ==, VSB_FW_ARCH_X86_64);
  assert_feature(plain, "intel-tdx", TRUE);
  assert_feature(plain, "amd-sev-snp", TRUE);
  g_autoptr(VsbFvImage) m4 = inspect(OVMF "OVMF_CODE_4M.fd");
  assert_feature(m4, "intel-tdx", FALSE);
  assert_feature(m4, "amd-sev-snp", FALSE);

  g_autoptr(VsbFvImage) sb = inspect(OVMF "OVMF_CODE.secboot.fd");
  assert_feature(sb, "secure-boot", TRUE);
  assert_feature(sb, "smm", TRUE);
  assert_feature(sb, "requires-smm", TRUE);
  assert_module(sb, "VariableSmm", TRUE);
  assert_varstore(sb, 0x20000, VSB_FV_VARSTORE_CODE_SIZE);
}

static void
test_aavmf(void)
{
  g_autoptr(VsbFvImage) img = inspect(AAVMF "AAVMF_CODE.fd");
  g_assert_cmpint(vsb_fv_image_get_arch(img), ==, VSB_FW_ARCH_AARCH64);
  g_assert_cmpuint(vsb_fv_image_get_size(img), ==, 64 << 20); /* padded */
  GPtrArray *vols = vsb_fv_image_get_volumes(img);
  g_assert_cmpuint(vols->len, ==, 2);
  g_assert_cmpuint(((VsbFvVolume *)g_ptr_array_index(vols, 0))->offset, ==, 0x1000);
  g_assert_cmpstr(((VsbFvVolume *)g_ptr_array_index(vols, 1))->known_name, ==, "FvMain");
  /* qemu-efi-aarch64's README: technically supports Secure Boot, without SMM. */
  assert_feature(img, "secure-boot", TRUE);
  assert_feature(img, "smm", FALSE);
  assert_feature(img, "requires-smm", FALSE);
  assert_feature(img, "amd-sev", FALSE);
  assert_feature(img, "acpi-s3", FALSE);
  assert_feature(img, "tpm2", TRUE);
  assert_module(img, "VariableRuntimeDxe", TRUE);
  assert_module(img, "SecureBootConfigDxe", TRUE);
  assert_varstore(img, 0xc0000, VSB_FV_VARSTORE_ARMVIRT);
  g_assert_cmpuint(vsb_fv_image_get_ovmf_table(img)->len, ==, 0);
}

/* A unified image (what OVMF.fd is: the varstore volume in front of the code) built from
 * Debian's split files: the varstore size is then read, not inferred. */
static void
test_unified(void)
{
  const struct {
    const char *vars, *code;
    gsize size;
  } cases[] = {
    { OVMF "OVMF_VARS_4M.ms.fd", OVMF "OVMF_CODE_4M.secboot.fd", 0x84000 },
    { OVMF "OVMF_VARS.fd", OVMF "OVMF_CODE.fd", 0x20000 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *vars = NULL, *code = NULL;
    gsize vlen = 0, clen = 0;
    g_assert_true(g_file_get_contents(cases[i].vars, &vars, &vlen, NULL));
    g_assert_true(g_file_get_contents(cases[i].code, &code, &clen, NULL));
    g_assert_cmpuint(vlen, ==, cases[i].size);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, (guint8 *)vars, (guint)vlen);
    g_byte_array_append(a, (guint8 *)code, (guint)clen);
    g_assert_cmpuint(a->len, ==, i == 0 ? 4u << 20 : 2u << 20);
    g_autoptr(GBytes) b = to_bytes(a);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(b, "unified", NULL, &error);
    g_assert_no_error(error);
    assert_varstore(img, cases[i].size, VSB_FV_VARSTORE_EMBEDDED);
    assert_feature(img, "secure-boot", TRUE);
    assert_feature(img, "requires-smm", i == 0);
    g_assert_cmpuint(vsb_fv_image_get_ovmf_table(img)->len, >=, 3);
  }
}

/* What a code file is, read without the reader under test: the machine types of the PE and TE
 * headers in its uncompressed bytes (SEC, and PEI where it is not compressed). A 64-bit
 * machine names the architecture; 32-bit ARM code alone is 32-bit ARM firmware (qemu-efi-arm's
 * AAVMF32); IA32 code alone is x86 firmware whose DXE phase, compressed, may be X64 (Debian's
 * 4M OvmfPkgIa32X64 builds), so both are accepted there and the descriptors pin it below. */
static void
expected_arch(const char *path, int *arch, int *alt)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  gboolean seen[4] = { FALSE }; /* IA32, X64, ARM, AARCH64 */
  const guint16 machines[4] = { 0x014c, 0x8664, 0x01c2, 0xaa64 };
  for (gsize i = 0; i + 0x40 <= len; i++) {
    guint16 m = 0;
    if (data[i] == 'M' && data[i + 1] == 'Z') {
      guint32 lfanew;
      memcpy(&lfanew, data + i + 0x3c, 4);
      lfanew = GUINT32_FROM_LE(lfanew);
      if (lfanew > 0 && lfanew < 0x1000 && i + lfanew + 6 <= len &&
          memcmp(data + i + lfanew, "PE\0\0", 4) == 0)
        m = (guint16)((guint8)data[i + lfanew + 4] | (guint8)data[i + lfanew + 5] << 8);
    } else if (data[i] == 'V' && data[i + 1] == 'Z') {
      m = (guint16)((guint8)data[i + 2] | (guint8)data[i + 3] << 8);
    }
    for (guint k = 0; k < 4; k++)
      seen[k] |= m == machines[k];
  }
  *alt = -1;
  if (seen[1])
    *arch = VSB_FW_ARCH_X86_64;
  else if (seen[3])
    *arch = VSB_FW_ARCH_AARCH64;
  else if (seen[2])
    *arch = VSB_FW_ARCH_ARM;
  else if (seen[0]) {
    *arch = VSB_FW_ARCH_I386;
    *alt = VSB_FW_ARCH_X86_64;
  } else
    vsb_test_fail("%s: no PE or TE image of a known machine in its uncompressed bytes", path);
}

/* Every OVMF/AAVMF code file this host has is read without error, symlinks like targets, and
 * judged by what it is, not by which packages the host happens to have (qemu-efi-arm puts
 * 32-bit ARM builds beside the AArch64 ones in the same directory). */
static void
test_every_debian_file(void)
{
  const char *dirs[] = { OVMF, AAVMF };
  guint n = 0, x64 = 0, aarch64 = 0;
  for (gsize d = 0; d < G_N_ELEMENTS(dirs); d++) {
    g_autoptr(GDir) dir = g_dir_open(dirs[d], 0, NULL);
    g_assert_nonnull(dir);
    const char *name;
    while ((name = g_dir_read_name(dir))) {
      g_autofree char *path = g_build_filename(dirs[d], name, NULL);
      gboolean code = strstr(name, "_CODE") != NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(VsbFvImage) img = vsb_fv_inspect_file(path, NULL, &error);
      if (!code) {
        /* Variable stores: a clear refusal, not a report. Debian's AAVMF_VARS.fd and
         * AAVMF32_VARS.fd are 64 MiB of zeros (ArmVirtQemu formats the store at first boot):
         * no volume at all. */
        g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
        g_autofree char *head = NULL;
        gsize hlen = 0;
        g_assert_true(g_file_get_contents(path, &head, &hlen, NULL));
        gboolean zeros = hlen > 0 && head[0] == 0 && memcmp(head, head + 1, hlen - 1) == 0;
        if (strstr(error->message, zeros ? "not a firmware image" : "variable store") == NULL)
          vsb_test_fail("%s: %s", path, error->message);
        continue;
      }
      g_assert_no_error(error);
      n++;
      int arch, alt;
      expected_arch(path, &arch, &alt);
      int got = vsb_fv_image_get_arch(img);
      if (got != arch && got != alt)
        vsb_test_fail("%s: arch %d, its code says %d", path, got, arch);
      gboolean x86 = got == VSB_FW_ARCH_X86_64 || got == VSB_FW_ARCH_I386;
      x64 += got == VSB_FW_ARCH_X86_64;
      aarch64 += got == VSB_FW_ARCH_AARCH64;
      gboolean secboot = strstr(name, ".secboot") || (x86 && (strstr(name, ".ms") ||
                                                             strstr(name, ".snakeoil")));
      assert_feature(img, "secure-boot", TRUE); /* every Debian build has the SB stack */
      assert_feature(img, "requires-smm", x86 && secboot);
    }
  }
  /* ovmf and qemu-efi-aarch64 are test dependencies: 7 OVMF (3 symlinks), 3 AAVMF (2). */
  g_assert_cmpuint(x64, >=, 7);
  g_assert_cmpuint(aarch64, >=, 3);
  g_test_message("%u code files inspected", n);
}

/* The descriptors' features agree with the binaries: no descriptor claims a feature its
 * executable lacks; the only undeclared one that matters is Secure Boot without SMM. */
static void
test_descriptors_agree(void)
{
  g_autoptr(GDir) dir = g_dir_open(DESCRIPTORS, 0, NULL);
  g_assert_nonnull(dir);
  const char *name;
  guint checked = 0, missing = 0;
  while ((name = g_dir_read_name(dir))) {
    if (!g_str_has_suffix(name, ".json"))
      continue;
    g_autofree char *path = g_build_filename(DESCRIPTORS, name, NULL);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_autoptr(JsonNode) root = vsb_test_parse_json(text);
    JsonObject *o = json_node_get_object(root);
    const char *exe = json_object_get_string_member(
      json_object_get_object_member(json_object_get_object_member(o, "mapping"), "executable"),
      "filename");
    JsonArray *feats = json_object_get_array_member(o, "features");
    g_autoptr(GPtrArray) claimed = g_ptr_array_new();
    for (guint i = 0; i < json_array_get_length(feats); i++)
      g_ptr_array_add(claimed, (char *)json_array_get_string_element(feats, i));
    g_ptr_array_add(claimed, NULL);

    if (!g_file_test(exe, G_FILE_TEST_EXISTS)) {
      /* Debian 12's 50-edk2-aarch64-secure.json names AAVMF_CODE.secboot.fd, which the
       * package does not ship. */
      g_assert_cmpstr(name, ==, "50-edk2-aarch64-secure.json");
      g_assert_cmpstr(exe, ==, AAVMF "AAVMF_CODE.secboot.fd");
      missing++;
      continue;
    }
    g_autoptr(VsbFvImage) img = inspect(exe);
    /* The descriptor says what the file is for: its first target's architecture. */
    const char *want_arch = json_object_get_string_member(
      json_array_get_object_element(json_object_get_array_member(o, "targets"), 0),
      "architecture");
    int got = vsb_fv_image_get_arch(img);
    if (got < 0 || g_strcmp0(vsb_fw_arch_name((VsbFwArch)got), want_arch) != 0)
      vsb_test_fail("%s: %s is for %s, inspect says arch %d", name, exe, want_arch, got);
    g_autoptr(GPtrArray) checks =
      vsb_fv_image_check_claims(img, (const char *const *)claimed->pdata);
    g_assert_cmpuint(checks->len, >=, 6);
    for (guint i = 0; i < checks->len; i++) {
      const VsbFvClaimCheck *c = g_ptr_array_index(checks, i);
      if (c->claim == VSB_FV_CLAIM_FALSE)
        vsb_test_fail("%s claims %s but %s lacks it: %s", name, c->feature, exe, c->evidence);
      gboolean want_undeclared_sb = g_str_has_prefix(name, "60-");
      if (strcmp(c->feature, "secure-boot") == 0)
        g_assert_cmpint(c->claim, ==,
                        want_undeclared_sb ? VSB_FV_CLAIM_UNDECLARED : VSB_FV_CLAIM_OK);
      if (strcmp(c->feature, "requires-smm") == 0) {
        g_assert_cmpint(c->claim, ==, VSB_FV_CLAIM_OK);
        g_assert_cmpint(c->present, ==, strstr(name, "x86_64-secure") != NULL);
      }
    }
    checked++;
  }
  /* Debian 12's ovmf and qemu-efi-aarch64 (test dependencies) describe 5 files that exist;
   * qemu-efi-arm, where installed, adds one. */
  g_assert_cmpuint(checked, >=, 5);
  g_assert_cmpuint(missing, ==, 1);
}

/* The host's own descriptors through the default search path (Debian's ovmf package, a test
 * dependency). */
static void
test_host_search(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) host = vsb_fw_search(NULL, &error);
  g_assert_no_error(error);
  VsbFwEntry *e = vsb_fw_search_find(host, "40-edk2-x86_64-secure-enrolled");
  g_assert_nonnull(e);
  g_assert_cmpint(e->kind, ==, VSB_FW_ENTRY_DESCRIPTOR);
  g_assert_cmpstr(e->descriptor->executable.filename, ==, OVMF "OVMF_CODE_4M.ms.fd");
}

/* The README passage the undeclared secure-boot above corresponds to. */
static void
test_readme(void)
{
  g_autofree char *text = NULL;
  const char *plain = "/usr/share/doc/ovmf/README.Debian";
  if (g_file_test(plain, G_FILE_TEST_EXISTS)) {
    g_assert_true(g_file_get_contents(plain, &text, NULL, NULL));
  } else {
    const char *argv[] = { "zcat", "/usr/share/doc/ovmf/README.Debian.gz", NULL };
    g_assert_cmpint(vsb_test_spawn(argv, NULL, &text, NULL), ==, 0);
  }
  const char *entry = strstr(text, "\nOVMF_CODE_4M.fd\n");
  g_assert_nonnull(entry);
  const char *next = strstr(entry + 1, "\nOVMF_CODE_4M.ms.fd\n");
  g_assert_nonnull(next);
  g_autofree char *para = g_strndup(entry, (gsize)(next - entry));
  g_assert_nonnull(strstr(para, "technically supports Secure Boot"));
  g_assert_nonnull(strstr(para, "without requiring SMM"));
  g_autoptr(VsbFvImage) img = inspect(OVMF "OVMF_CODE_4M.fd");
  assert_feature(img, "secure-boot", TRUE);
  assert_feature(img, "requires-smm", FALSE);
}

static void
test_cli_json(void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "firmware", "inspect", "--json", "--files",
                               OVMF "OVMF_CODE_4M.secboot.fd", NULL), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  g_assert_cmpstr(json_object_get_string_member(o, "architecture"), ==, "x86_64");
  JsonObject *f = json_object_get_object_member(o, "features");
  g_assert_true(json_object_get_boolean_member(
    json_object_get_object_member(f, "secure-boot"), "present"));
  g_assert_true(json_object_get_boolean_member(
    json_object_get_object_member(f, "requires-smm"), "present"));
  JsonObject *vs = json_object_get_object_member(o, "varstore");
  g_assert_cmpint(json_object_get_int_member(vs, "size"), ==, 0x84000);
  g_assert_cmpstr(json_object_get_string_member(vs, "source"), ==, "code-size");
  JsonArray *smm = json_object_get_array_member(json_object_get_object_member(o, "modules"),
                                                "smm");
  gboolean lockbox = FALSE;
  for (guint i = 0; i < json_array_get_length(smm); i++)
    lockbox |= g_strcmp0(json_array_get_string_element(smm, i), "SmmLockBox") == 0;
  g_assert_true(lockbox);
  JsonArray *files = json_object_get_array_member(o, "files");
  g_assert_cmpuint(json_array_get_length(files), ==, json_object_get_int_member(o, "file-count"));
  g_assert_cmpuint(json_array_get_length(files), >, 100);

  /* Text form from the same data. */
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "inspect", OVMF "OVMF_CODE_4M.fd", NULL),
                  ==, 0);
  g_assert_nonnull(strstr(out, "x86_64 firmware"));
  g_assert_true(g_regex_match_simple("secure-boot +yes", out, 0, 0));
  g_assert_true(g_regex_match_simple("requires-smm +no", out, 0, 0));
  g_assert_nonnull(strstr(out, "Varstore: 540672 bytes"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "inspect", "--files",
                               OVMF "OVMF_CODE_4M.secboot.fd", NULL), ==, 0);
  g_assert_true(g_regex_match_simple("SMM_CORE +[0-9]+  PiSmmCore \\[smm\\]\n", out, 0, 0));
  g_assert_true(g_regex_match_simple("DRIVER +[0-9]+  SecureBootConfigDxe \\[secure-boot\\]\n",
                                     out, 0, 0));
}

static void
test_cli_usage(void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "inspect", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "--files"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "help", "firmware", "inspect", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "--json"));
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "inspect", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "expected one FILE"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "inspect", "--bogus", "x", NULL), ==, 2);
}

static double
cpu_seconds(void)
{
  return (double)clock() / CLOCKS_PER_SEC;
}

static void
test_performance(void)
{
  /* Well under a second for a 4 MB OVMF (LZMA inflates ~13 MB). Measured as CPU time, which
   * a loaded machine does not inflate; sanitizer builds are allowed more. */
#if defined(__SANITIZE_ADDRESS__)
  const double limit = 5.0;
#else
  const double limit = 1.0;
#endif
  g_autoptr(GTimer) t = g_timer_new();
  double c0 = cpu_seconds();
  g_autoptr(VsbFvImage) img = inspect(OVMF "OVMF_CODE_4M.secboot.fd");
  double cpu = cpu_seconds() - c0;
  g_test_message("OVMF_CODE_4M.secboot.fd inspected in %.3f s CPU, %.3f s wall", cpu,
                 g_timer_elapsed(t, NULL));
  g_assert_cmpfloat(cpu, <, limit);
  assert_feature(img, "secure-boot", TRUE);
  g_timer_start(t);
  c0 = cpu_seconds();
  g_autoptr(VsbFvImage) aa = inspect(AAVMF "AAVMF_CODE.fd");
  cpu = cpu_seconds() - c0;
  g_test_message("AAVMF_CODE.fd (64 MiB) inspected in %.3f s CPU, %.3f s wall", cpu,
                 g_timer_elapsed(t, NULL));
  g_assert_cmpfloat(cpu, <, limit);
  assert_feature(aa, "secure-boot", TRUE);
}

/* ---- synthetic volumes ------------------------------------------------------------------- */

static void
test_synthetic_sample(void)
{
  g_autoptr(GBytes) b = to_bytes(fvb_sample_image());
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(b, "sample", NULL, &error);
  g_assert_no_error(error);
  GPtrArray *vols = vsb_fv_image_get_volumes(img);
  g_assert_cmpuint(vols->len, ==, 5);
  const VsbFvVolume *v1 = g_ptr_array_index(vols, 1), *v2 = g_ptr_array_index(vols, 2),
                    *v3 = g_ptr_array_index(vols, 3);
  g_assert_cmpstr(v1->known_name, ==, "PEIFV");
  g_assert_true(v1->compressed);
  g_assert_cmpuint(v1->depth, ==, 3);
  g_assert_cmpstr(v2->known_name, ==, "DXEFV");
  g_assert_cmpuint(v2->nfiles, ==, 12);
  g_assert_true(vsb_guid_equal(&v3->fs_guid, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3));
  g_assert_false(v3->has_name);

  assert_feature(img, "secure-boot", TRUE);
  assert_feature(img, "authenticated-variables", TRUE);
  assert_feature(img, "smm", TRUE);
  assert_feature(img, "requires-smm", TRUE);
  assert_feature(img, "shell", TRUE);
  assert_feature(img, "tpm2", TRUE);
  assert_feature(img, "amd-sev", TRUE);
  assert_feature(img, "amd-sev-es", FALSE); /* no reset-vector table */
  assert_feature(img, "acpi-s3", TRUE);
  assert_feature(img, "network", FALSE);
  g_assert_cmpint(vsb_fv_image_get_arch(img), ==, VSB_FW_ARCH_X86_64);

  const VsbFvFile *ipl = vsb_fv_image_find_module(img, "PiSmmIpl");
  g_assert_nonnull(ipl);
  g_assert_nonnull(ipl->module); /* known by its UI name although the GUID is not edk2's */
  g_assert_cmpint(ipl->module->group, ==, VSB_FV_GROUP_SMM);
  const VsbFvFile *other = vsb_fv_image_find_module(img, "SomethingElse");
  g_assert_null(other->module);
  g_assert_cmpstr(other->version, ==, "1.0");
  g_assert_cmpuint(other->build_number, ==, 1);
  g_assert_true(other->has_depex);
  const VsbFvFile *te = vsb_fv_image_find_module(img, "TeModule");
  g_assert_cmpint(te->machine, ==, 0x8664);
  const VsbFvFile *large = vsb_fv_image_find_module(img, "LargeFile");
  g_assert_nonnull(large);
  g_assert_true(large->attributes & 0x01);
  g_assert_nonnull(vsb_fv_image_find_module(img, "DxeAprioriFile"));

  /* Tiano-compressed and unknown-GUID sections are reported, not decoded. */
  const char *const *w = vsb_fv_image_get_warnings(img);
  g_assert_nonnull(w[0]);
  g_assert_nonnull(w[1]);
  g_assert_null(w[2]);
  g_assert_nonnull(strstr(w[0], "TianoCustomDecompress"));
  g_assert_nonnull(strstr(w[1], "EFI standard"));

  /* A descriptor that claims what is absent. */
  const char *claims[] = { "intel-tdx", "secure-boot", NULL };
  g_autoptr(GPtrArray) checks = vsb_fv_image_check_claims(img, claims);
  guint falses = 0;
  for (guint i = 0; i < checks->len; i++) {
    const VsbFvClaimCheck *c = g_ptr_array_index(checks, i);
    if (c->claim == VSB_FV_CLAIM_FALSE) {
      g_assert_cmpstr(c->feature, ==, "intel-tdx");
      falses++;
    }
    if (strcmp(c->feature, "requires-smm") == 0)
      g_assert_cmpint(c->claim, ==, VSB_FV_CLAIM_UNDECLARED);
  }
  g_assert_cmpuint(falses, ==, 1);

  /* Same through the CLI. */
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(GByteArray) again = fvb_sample_image();
  g_autofree char *path = write_tmp(dir, "sample.fd", again->data, again->len);
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "inspect", "--files", path, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "LargeFile"));
  g_assert_nonnull(strstr(out, "Warnings:"));
}

static void
test_nesting_within_limit(void)
{
  /* Depth counts volumes and encapsulating section streams: OVMF reaches 4, an LZMA level
   * costs 3, a plain FV_IMAGE level 2; the default limit is 16. */
  g_autoptr(GBytes) b = to_bytes(fvb_nested_image(5, TRUE));
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(b, "nested", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vsb_fv_image_get_volumes(img)->len, ==, 6);
  g_autoptr(GBytes) c = to_bytes(fvb_nested_image(7, FALSE));
  g_autoptr(VsbFvImage) img2 = vsb_fv_inspect_bytes(c, "nested", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(vsb_fv_image_get_volumes(img2)->len, ==, 8);
}

/* LzmaF86 (x86 BCJ + LZMA): a PE32 with call/jmp opcodes survives the round trip. */
static void
test_lzmaf86(void)
{
  guint8 code[4096];
  for (gsize i = 0; i < sizeof code; i++)
    code[i] = (i % 7 == 0) ? 0xe8 : (guint8)(i * 13); /* E8 = CALL rel32 */
  memcpy(code, VSB_GUID_EFI_IMAGE_SECURITY_DATABASE.b, 16);
  /* The file name starts E8 00 00 00 00: the BCJ encoder rewrites it, so unless the decoder
   * undoes the filter the file header checksum fails. */
  GByteArray *stub = fvb_file("000000e8-0000-1000-8000-000000000001", 0x07,
                              fvb_concat(fvb_pe32(0x8664, code, sizeof code),
                                         fvb_ui("SecurityStubDxe"), NULL),
                              FALSE);
  GByteArray *inner = fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL, stub, NULL);
  GByteArray *outer = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
    fvb_file("9e21fd93-9c72-4c15-8c4b-e77f1db2d792", 0x0b,
             fvb_concat(fvb_lzmaf86_section(fvb_concat(fvb_fv_section(inner), NULL)), NULL),
             FALSE),
    NULL);
  g_autoptr(GBytes) b = to_bytes(outer);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(b, "f86", NULL, &error);
  g_assert_no_error(error);
  const VsbFvFile *f = vsb_fv_image_find_module(img, "SecurityStubDxe");
  g_assert_nonnull(f);
  g_assert_true(f == vsb_fv_image_find_module(img, "000000e8-0000-1000-8000-000000000001"));
  g_assert_true(((const VsbFvVolume *)g_ptr_array_index(vsb_fv_image_get_volumes(img), 1))
                  ->compressed);
  g_assert_cmpuint(f->image_size, ==, 0x60 + sizeof code);
  assert_feature(img, "secure-boot", TRUE);
}

/* ---- bad input ----------------------------------------------------------------------- */

static void
test_bad_not_firmware(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  const char *text = "This is not firmware.\n";
  g_autofree char *t = write_tmp(dir, "text.fd", text, strlen(text));
  assert_cli_rejects(t, "not a firmware image");
  g_autofree char *e = write_tmp(dir, "empty.fd", "", 0);
  assert_cli_rejects(e, "empty file");
  /* 256 KiB of deterministic garbage, with _FVH signatures sprinkled in. */
  g_autoptr(GRand) r = g_rand_new_with_seed(5);
  g_autofree guint8 *junk = g_malloc(256 << 10);
  for (gsize i = 0; i < (256u << 10); i++)
    junk[i] = (guint8)g_rand_int(r);
  for (gsize i = 0x28; i + 4 < (256u << 10); i += 0x1000)
    memcpy(junk + i, "_FVH", 4);
  g_autofree char *j = write_tmp(dir, "garbage.fd", junk, 256 << 10);
  assert_cli_rejects(j, "not a firmware image");
  assert_cli_rejects(OVMF "OVMF_VARS_4M.fd", "variable store");
  assert_cli_rejects("/nonexistent/OVMF_CODE.fd", "cannot read");
  /* Files that cannot be mapped are refused by kind (mmap() said "No such device"). */
  g_autofree char *want_dir = g_strdup_printf("%s: not a regular file (a directory)", dir);
  assert_cli_rejects(dir, want_dir);
  assert_cli_rejects("/dev/null", "/dev/null: not a regular file (a character device)");
  g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  assert_cli_rejects(fifo, "fifo: not a regular file (a FIFO)"); /* and does not block */
}

static void
test_bad_truncated(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  /* Debian's 4M code cut to 1 MiB: FVMAIN_COMPACT says 0x348000 bytes. */
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(OVMF "OVMF_CODE_4M.fd", &data, &len, NULL));
  g_autofree char *cut = write_tmp(dir, "cut.fd", data, 1 << 20);
  /* Lengths after "0x" are hex (FvLength once printed 0x3440640, its decimal value). */
  assert_cli_rejects(cut, "FvLength 0x348000 but only 0x100000 bytes remain (truncated volume)");
  /* Debian's 4M Secure Boot code one byte short: the last volume (NV-data at 0x348000). */
  g_autofree char *sbdata = NULL;
  g_assert_true(g_file_get_contents(OVMF "OVMF_CODE_4M.secboot.fd", &sbdata, &len, NULL));
  g_assert_cmpuint(len, ==, 0x37c000);
  g_autofree char *short1 = write_tmp(dir, "short1.fd", sbdata, len - 1);
  assert_cli_rejects(short1, "at offset 0x348000: FvLength 0x34000 but only 0x33fff bytes "
                             "remain (truncated volume)");

  /* A file whose size runs past its volume, a section past its file. */
  g_autoptr(GByteArray) img = fvb_sample_image();
  g_autoptr(GByteArray) copy = g_byte_array_new();
  g_byte_array_append(copy, img->data, img->len);
  copy->data[0x60 + 20] = 0xff; /* first file's Size[0..2] */
  copy->data[0x60 + 21] = 0xff;
  copy->data[0x60 + 22] = 0x7f;
  copy->data[0x60 + 16] = (guint8)(copy->data[0x60 + 16] - 0xff - 0xff - 0x7f +
                                   img->data[0x60 + 20] + img->data[0x60 + 21] +
                                   img->data[0x60 + 22]); /* keep the header checksum right */
  g_autofree char *f = write_tmp(dir, "file-past-end.fd", copy->data, copy->len);
  assert_cli_rejects(f, "has size 0x7fffff but the volume ends 0x");

  GByteArray *sec = fvb_concat(fvb_ui("X"), NULL);
  sec->data[0] = 0xf0; /* section size 0xf0 in a file of a few bytes */
  g_autoptr(GByteArray) bad = fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
                                         fvb_file("44444444-5555-6666-7777-888888888888", 0x07,
                                                  sec, FALSE),
                                         NULL);
  g_autofree char *s = write_tmp(dir, "section-past-end.fd", bad->data, bad->len);
  assert_cli_rejects(s, "only 0x");

  /* A truncated LZMA stream. */
  g_autoptr(GByteArray) lz = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
    fvb_file("55555555-6666-7777-8888-999999999999", 0x0b,
             fvb_concat(fvb_lzma_section(fvb_concat(fvb_section(0x19, data, 200000, FALSE),
                                                    NULL),
                                         0, 4000),
                        NULL),
             FALSE),
    NULL);
  g_autofree char *l = write_tmp(dir, "lzma-cut.fd", lz->data, lz->len);
  assert_cli_rejects(l, "LZMA section");
}

static void
test_bad_headers(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(GByteArray) img = fvb_sample_image();
  /* Extended header offset beyond the volume (checksum fixed up). */
  g_autoptr(GByteArray) a = g_byte_array_new();
  g_byte_array_append(a, img->data, img->len);
  a->data[0x34] = 0xf0;
  a->data[0x35] = 0xff;
  guint16 sum = 0;
  a->data[0x32] = a->data[0x33] = 0;
  for (int i = 0; i < 0x48; i += 2)
    sum = (guint16)(sum + (a->data[i] | a->data[i + 1] << 8));
  a->data[0x32] = (guint8)((0x10000 - sum) & 0xff);
  a->data[0x33] = (guint8)((0x10000 - sum) >> 8);
  g_autofree char *p = write_tmp(dir, "ext.fd", a->data, a->len);
  assert_cli_rejects(p, "ExtHeaderOffset");
  /* A file header with a bad checksum. */
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_byte_array_append(b, img->data, img->len);
  b->data[0x60 + 16] ^= 0x55;
  g_autofree char *q = write_tmp(dir, "ffs-sum.fd", b->data, b->len);
  assert_cli_rejects(q, "header checksum");
}

static void
test_bad_nested_too_deep(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(GByteArray) deep = fvb_nested_image(40, FALSE);
  g_autofree char *p = write_tmp(dir, "deep.fd", deep->data, deep->len);
  assert_cli_rejects(p, "levels deep");
  g_autoptr(GByteArray) deep_lzma = fvb_nested_image(12, TRUE); /* 3 levels per step */
  g_autofree char *q = write_tmp(dir, "deep-lzma.fd", deep_lzma->data, deep_lzma->len);
  assert_cli_rejects(q, "levels deep");

  g_autoptr(GBytes) bytes = to_bytes(fvb_nested_image(3, FALSE));
  VsbFvLimits lim = { .max_depth = 4 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(bytes, "x", &lim, &error);
  g_assert_null(img);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
}

static void
test_bad_decompression_bomb(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  /* An LZMA header that claims 8 GiB. */
  g_autoptr(GByteArray) claim = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
    fvb_file("66666666-7777-8888-9999-aaaaaaaaaaaa", 0x0b,
             fvb_concat(fvb_lzma_section(fvb_concat(fvb_ui("tiny"), NULL),
                                         G_GUINT64_CONSTANT(8) << 30, 0),
                        NULL),
             FALSE),
    NULL);
  g_autofree char *p = write_tmp(dir, "claims-8g.fd", claim->data, claim->len);
  assert_cli_rejects(p, "decompression bomb");

  /* Real bombs: three sections of 100 MiB of zeros, 15 KiB compressed each. Two inflate,
   * the third would pass the default 256 MiB total. */
  g_autoptr(GByteArray) zeros = g_byte_array_sized_new(100 << 20);
  g_byte_array_set_size(zeros, 100 << 20);
  memset(zeros->data, 0, zeros->len);
  GByteArray *one = fvb_lzma_section(fvb_concat(fvb_section(0x19, zeros->data, zeros->len,
                                                            FALSE), NULL), 0, 0);
  g_assert_cmpuint(one->len, <, 64 << 10);
  GByteArray *two = g_byte_array_new(), *three = g_byte_array_new();
  g_byte_array_append(two, one->data, one->len);
  g_byte_array_append(three, one->data, one->len);
  g_autoptr(GByteArray) bomb = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
    fvb_file("77777777-8888-9999-aaaa-bbbbbbbbbbbb", 0x0b, fvb_concat(one, two, three, NULL),
             FALSE),
    NULL);
  g_assert_cmpuint(bomb->len, <, 64 << 10);
  g_autofree char *q = write_tmp(dir, "bomb.fd", bomb->data, bomb->len);
  assert_cli_rejects(q, "decompression limit");

  /* The same with a small library limit fails on the first section already. */
  g_autoptr(GBytes) bytes = g_bytes_new(bomb->data, bomb->len);
  VsbFvLimits lim = { .max_decompressed = 1 << 20 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(bytes, "bomb", &lim, &error);
  g_assert_null(img);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "1048576-byte decompression limit"));
}

/* Inflation must not turn into unbounded bookkeeping: 1 MiB of unknown 4-byte sections gives
 * a bounded list of warnings; a volume of 70000 empty files is refused. */
static void
test_bad_bookkeeping_bombs(void)
{
  g_autoptr(GByteArray) secs = g_byte_array_new();
  for (guint i = 0; i < (1u << 20) / 4; i++)
    g_byte_array_append(secs, (const guint8 *)"\x04\x00\x00\x07", 4); /* type 0x07 */
  GByteArray *copy = g_byte_array_new();
  g_byte_array_append(copy, secs->data, secs->len);
  GByteArray *v = fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
                             fvb_file("88888888-9999-aaaa-bbbb-cccccccccccc", 0x07,
                                      fvb_concat(fvb_lzma_section(copy, 0, 0), NULL), FALSE),
                             NULL);
  g_autoptr(GBytes) b = to_bytes(v);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_bytes(b, "warnings", NULL, &error);
  g_assert_no_error(error);
  guint n = g_strv_length((char **)vsb_fv_image_get_warnings(img));
  g_assert_cmpuint(n, ==, 65);
  g_assert_nonnull(strstr(vsb_fv_image_get_warnings(img)[64], "suppressed"));

  GByteArray *many = fvb_volume_of_copies(
    fvb_file("99999999-aaaa-bbbb-cccc-dddddddddddd", 0x01, g_byte_array_new(), FALSE), 70000);
  GByteArray *outer = fvb_volume(
    &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
    fvb_file("9e21fd93-9c72-4c15-8c4b-e77f1db2d792", 0x0b,
             fvb_concat(fvb_lzma_section(fvb_concat(fvb_fv_section(many), NULL), 0, 0), NULL),
             FALSE),
    NULL);
  g_assert_cmpuint(outer->len, <, 64 << 10);
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *p = write_tmp(dir, "many-files.fd", outer->data, outer->len);
  g_byte_array_unref(outer);
  assert_cli_rejects(p, "more than 65536 FFS files");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/firmware-inspect/debian/ovmf-4m-secboot", test_ovmf_4m_secboot);
  g_test_add_func("/firmware-inspect/debian/ovmf-4m", test_ovmf_4m);
  g_test_add_func("/firmware-inspect/debian/ovmf-2m", test_ovmf_2m);
  g_test_add_func("/firmware-inspect/debian/aavmf", test_aavmf);
  g_test_add_func("/firmware-inspect/debian/every-file", test_every_debian_file);
  g_test_add_func("/firmware-inspect/debian/unified", test_unified);
  g_test_add_func("/firmware-inspect/debian/descriptors-agree", test_descriptors_agree);
  g_test_add_func("/firmware-inspect/debian/host-search", test_host_search);
  g_test_add_func("/firmware-inspect/debian/readme", test_readme);
  g_test_add_func("/firmware-inspect/cli/json", test_cli_json);
  g_test_add_func("/firmware-inspect/cli/usage", test_cli_usage);
  g_test_add_func("/firmware-inspect/performance", test_performance);
  g_test_add_func("/firmware-inspect/synthetic/sample", test_synthetic_sample);
  g_test_add_func("/firmware-inspect/synthetic/nesting", test_nesting_within_limit);
  g_test_add_func("/firmware-inspect/synthetic/lzmaf86", test_lzmaf86);
  g_test_add_func("/firmware-inspect/bad/not-firmware", test_bad_not_firmware);
  g_test_add_func("/firmware-inspect/bad/truncated", test_bad_truncated);
  g_test_add_func("/firmware-inspect/bad/headers", test_bad_headers);
  g_test_add_func("/firmware-inspect/bad/nested-too-deep", test_bad_nested_too_deep);
  g_test_add_func("/firmware-inspect/bad/decompression-bomb", test_bad_decompression_bomb);
  g_test_add_func("/firmware-inspect/bad/bookkeeping-bombs", test_bad_bookkeeping_bombs);
  return g_test_run();
}
