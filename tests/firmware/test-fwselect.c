/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Selection: libvirt's rules in libvirt's order, checked against libvirt's own conformance
 * cases (qemuxmlconfdata firmware-auto-*) over the Fedora-like descriptor set. */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/fwselect.h"

#include <string.h>
#include <unistd.h>

static GPtrArray *fedora;

static GPtrArray *
load_fedora(void)
{
  g_autofree char *a = g_build_filename(vsb_test_data_dir(), "firmware/fedora/usr/share/qemu/firmware", NULL);
  g_autofree char *b = g_build_filename(vsb_test_data_dir(), "firmware/fedora/etc/qemu/firmware", NULL);
  const char *dirs[] = { a, b, NULL };
  g_autoptr(GError) error = NULL;
  GPtrArray *list = vsb_fw_search(dirs, &error);
  g_assert_no_error(error);
  return list;
}

static void
x86_request(VsbFwRequest *req)
{
  vsb_fw_request_init(req);
  req->arch = VSB_FW_ARCH_X86_64;
  req->machine = "pc-q35-10.0";
  req->interface = VSB_FW_INTERFACE_UEFI;
}

static VsbFwSelection *
select_ok(const VsbFwRequest *req)
{
  g_autoptr(GError) error = NULL;
  VsbFwSelection *sel = vsb_fw_select(fedora, req, &error);
  g_assert_no_error(error);
  g_assert_nonnull(sel);
  g_assert_cmpuint(sel->verdicts->len, ==, fedora->len);
  return sel;
}

static const char *
chosen_name(const VsbFwSelection *sel)
{
  return sel->chosen ? sel->chosen->name : NULL;
}

static const VsbFwVerdict *
verdict(const VsbFwSelection *sel, const char *name)
{
  for (guint i = 0; i < sel->verdicts->len; i++) {
    const VsbFwVerdict *v = sel->verdicts->pdata[i];
    if (strcmp(v->entry->name, name) == 0)
      return v;
  }
  vsb_test_fail("no verdict for %s", name);
  return NULL;
}

/* A. enrolled-keys, raw pinned (existing domain): 20-bios (interface), 30 (qcow2), 31 wins. */
static void
test_enrolled_keys(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_cmpstr(chosen_name(sel), ==, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json");
  g_assert_cmpint(sel->chosen_index, ==, 2);
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  g_assert_cmpstr(d->executable.filename, ==, "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd");
  g_assert_cmpstr(d->nvram_template.filename, ==, "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd");
  g_assert_cmpstr(verdict(sel, "20-bios.json")->reason_id, ==, "interface");
  g_assert_cmpstr(verdict(sel, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json")->reason_id, ==, "format");
  g_assert_cmpstr(verdict(sel, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json")->reason_id, ==, "chosen");
  /* 40: rejected for lacking enrolled-keys (rule 5), before its format (rule 7). */
  const VsbFwVerdict *v40 = verdict(sel, "40-edk2-ovmf-4m-qcow2-x64-sb.json");
  g_assert_cmpstr(v40->reason_id, ==, "missing-feature");
  g_assert_cmpint(v40->feature, ==, VSB_FW_FEATURE_ENROLLED_KEYS);
  g_assert_cmpstr(verdict(sel, "50-edk2-aarch64-qcow2.json")->reason_id, ==, "target");
  /* 59-combined also has enrolled-keys and is raw: acceptable, but later. */
  g_assert_cmpstr(verdict(sel, "59-combined.json")->reason_id, ==, "later");
  g_assert_cmpstr(verdict(sel, "92-masked.json")->reason_id, ==, "masked");

  /* As a new definition (no format pinned) libvirt's ABI analogue picks 30. */
  req.format = VSB_FW_ANY;
  g_autoptr(VsbFwSelection) abi = select_ok(&req);
  g_assert_cmpstr(chosen_name(abi), ==, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json");
}

/* B. SMM off: every requires-smm image is rejected; 51 (2M raw, no SB) wins. */
static void
test_smm_off(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_NO;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_cmpstr(chosen_name(sel), ==, "51-edk2-ovmf-2m-raw-x64-nosb.json");
  g_assert_cmpstr(sel->chosen->descriptor->executable.filename, ==, "/usr/share/edk2/ovmf/OVMF_CODE.fd");
  const char *smm[] = { "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
                        "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json",
                        "40-edk2-ovmf-4m-qcow2-x64-sb.json", "41-edk2-ovmf-2m-raw-x64-sb.json" };
  for (gsize i = 0; i < G_N_ELEMENTS(smm); i++) {
    const VsbFwVerdict *v = verdict(sel, smm[i]);
    g_assert_cmpstr(v->reason_id, ==, "smm");
    g_assert_cmpint(v->feature, ==, VSB_FW_FEATURE_REQUIRES_SMM);
  }
  g_assert_cmpstr(verdict(sel, "50-edk2-ovmf-4m-qcow2-x64-nosb.json")->reason_id, ==, "format");
  g_assert_cmpstr(verdict(sel, "50-edk2-ovmf-x64-microvm.json")->reason_id, ==, "target");

  /* efi-no-secboot: secure-boot refused picks the same image. */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_NO;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) nosb = select_ok(&req);
  g_assert_cmpstr(chosen_name(nosb), ==, "51-edk2-ovmf-2m-raw-x64-nosb.json");
  g_assert_cmpstr(verdict(nosb, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json")->reason_id, ==, "unwanted-feature");
}

/* C. stateless: the AMD SEV image. */
static void
test_stateless(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.mode = VSB_FW_FLASH_MODE_STATELESS;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_cmpstr(chosen_name(sel), ==, "60-edk2-ovmf-x64-amdsev.json");
  g_assert_cmpstr(sel->chosen->descriptor->executable.filename, ==, "/usr/share/edk2/ovmf/OVMF.amdsev.fd");
  g_assert_cmpstr(verdict(sel, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json")->reason_id, ==, "mode");
  g_assert_cmpstr(verdict(sel, "59-combined.json")->reason_id, ==, "mode");
  g_assert_cmpstr(verdict(sel, "60-edk2-ovmf-x64-inteltdx.json")->reason_id, ==, "later");

  /* TDX and SEV-SNP by feature. */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_INTEL_TDX] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) tdx = select_ok(&req);
  g_assert_cmpstr(chosen_name(tdx), ==, "60-edk2-ovmf-x64-inteltdx.json");
  x86_request(&req);
  req.features[VSB_FW_FEATURE_AMD_SEV_SNP] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) snp = select_ok(&req);
  g_assert_cmpstr(chosen_name(snp), ==, "60-edk2-ovmf-x64-amdsev.json");
  /* plain amd-sev: the first SEV-capable image, the 4M qcow2 nosb build */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_AMD_SEV] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) sev = select_ok(&req);
  g_assert_cmpstr(chosen_name(sev), ==, "50-edk2-ovmf-4m-qcow2-x64-nosb.json");
  g_assert_cmpstr(verdict(sev, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json")->reason_id, ==, "missing-feature");
}

/* D. aarch64 virt: raw pinned -> 51-edk2-aarch64-raw; new definition -> 50 qcow2. */
static void
test_aarch64(void)
{
  VsbFwRequest req;
  vsb_fw_request_init(&req);
  req.arch = VSB_FW_ARCH_AARCH64;
  req.machine = "virt-10.0";
  req.interface = VSB_FW_INTERFACE_UEFI;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_cmpstr(chosen_name(sel), ==, "51-edk2-aarch64-raw.json");
  g_assert_cmpstr(sel->chosen->descriptor->executable.filename, ==,
                  "/usr/share/edk2/aarch64/QEMU_EFI-silent-pflash.raw");
  req.format = VSB_FW_ANY;
  g_autoptr(VsbFwSelection) abi = select_ok(&req);
  g_assert_cmpstr(chosen_name(abi), ==, "50-edk2-aarch64-qcow2.json");
  /* verbose-static wanted: 52 */
  req.features[VSB_FW_FEATURE_VERBOSE_STATIC] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) verbose = select_ok(&req);
  g_assert_cmpstr(chosen_name(verbose), ==, "52-edk2-aarch64-verbose-qcow2.json");
  /* loongarch64 with the "virt" glob (no version) */
  vsb_fw_request_init(&req);
  req.arch = VSB_FW_ARCH_LOONGARCH64;
  req.machine = "virt";
  g_autoptr(VsbFwSelection) la = select_ok(&req);
  g_assert_cmpstr(chosen_name(la), ==, "50-edk2-loongarch64.json");
}

/* E. errors: impossible request; a loader path nothing has. */
static void
test_errors(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_NO;
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwSelection) none = vsb_fw_select(fedora, &req, &error);
  g_assert_null(none);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_cmpstr(error->message, ==,
                  "firmware feature 'enrolled-keys' cannot be enabled when firmware feature "
                  "'secure-boot' is disabled");
  g_clear_error(&error);

  x86_request(&req);
  req.loader = "/path/to/OVMF_CODE.fd";
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_null(sel->chosen);
  g_assert_cmpint(sel->chosen_index, ==, -1);
  const VsbFwVerdict *v = verdict(sel, "51-edk2-ovmf-2m-raw-x64-nosb.json");
  g_assert_cmpstr(v->reason_id, ==, "loader-path");
  g_assert_cmpstr(v->reason, ==, "executable is /usr/share/edk2/ovmf/OVMF_CODE.fd, not /path/to/OVMF_CODE.fd");

  x86_request(&req);
  req.loader = "relative/OVMF_CODE.fd";
  g_autoptr(VsbFwSelection) rel = vsb_fw_select(fedora, &req, &error);
  g_assert_null(rel);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);

  x86_request(&req);
  req.machine = NULL;
  g_assert_null(vsb_fw_select(fedora, &req, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
}

/* More of libvirt's firmware-auto-* cases. */
static void
test_more_cases(void)
{
  VsbFwRequest req;
  /* efi-secboot, raw: first SB image that is raw */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) sb = select_ok(&req);
  g_assert_cmpstr(chosen_name(sb), ==, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json");
  /* efi-no-enrolled-keys, raw */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_NO;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) nokeys = select_ok(&req);
  g_assert_cmpstr(chosen_name(nokeys), ==, "41-edk2-ovmf-2m-raw-x64-sb.json");
  /* efi-loader-secure (SMM on with secure flash), raw */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) secure = select_ok(&req);
  g_assert_cmpstr(chosen_name(secure), ==, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json");
  g_assert_cmpstr(verdict(secure, "51-edk2-ovmf-2m-raw-x64-nosb.json")->reason_id, ==, "smm");
  /* i440fx: no SB image targets it */
  x86_request(&req);
  req.machine = "pc-i440fx-10.0";
  req.format = VSB_FW_FORMAT_RAW;
  g_autoptr(VsbFwSelection) pc = select_ok(&req);
  g_assert_cmpstr(chosen_name(pc), ==, "51-edk2-ovmf-2m-raw-x64-nosb.json");
  g_assert_cmpstr(verdict(pc, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json")->reason_id, ==, "target");
  /* bios: the etc symlink 20-bios comes first */
  x86_request(&req);
  req.interface = VSB_FW_INTERFACE_BIOS;
  g_autoptr(VsbFwSelection) bios = select_ok(&req);
  g_assert_cmpstr(chosen_name(bios), ==, "20-bios.json");
  g_assert_cmpstr(verdict(bios, "91-bios.json")->reason_id, ==, "later");
  /* bios on i686 q35 too */
  x86_request(&req);
  req.arch = VSB_FW_ARCH_I386;
  req.interface = VSB_FW_INTERFACE_BIOS;
  g_autoptr(VsbFwSelection) i686 = select_ok(&req);
  g_assert_cmpstr(chosen_name(i686), ==, "20-bios.json");
  /* microvm: memory-mapped image */
  x86_request(&req);
  req.machine = "microvm";
  g_autoptr(VsbFwSelection) mv = select_ok(&req);
  g_assert_cmpstr(chosen_name(mv), ==, "50-edk2-ovmf-x64-microvm.json");
  /* microvm has no NVRAM: asking for split rejects it */
  req.mode = VSB_FW_FLASH_MODE_SPLIT;
  g_autoptr(VsbFwSelection) mvsplit = select_ok(&req);
  g_assert_null(mvsplit->chosen);
  g_assert_cmpstr(verdict(mvsplit, "50-edk2-ovmf-x64-microvm.json")->reason_id, ==, "mode");
  /* combined: the etc symlink 59-combined */
  x86_request(&req);
  req.mode = VSB_FW_FLASH_MODE_COMBINED;
  g_autoptr(VsbFwSelection) comb = select_ok(&req);
  g_assert_cmpstr(chosen_name(comb), ==, "59-combined.json");
  /* template path given: split with that template */
  x86_request(&req);
  req.nvram_template = "/usr/share/edk2/ovmf/OVMF_VARS.fd";
  g_autoptr(VsbFwSelection) tp = select_ok(&req);
  g_assert_cmpstr(chosen_name(tp), ==, "41-edk2-ovmf-2m-raw-x64-sb.json");
  g_assert_cmpstr(verdict(tp, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json")->reason_id, ==, "template-path");
  g_assert_cmpstr(verdict(tp, "60-edk2-ovmf-x64-amdsev.json")->reason_id, ==, "template-path");
  /* loader path: exactly that executable */
  x86_request(&req);
  req.loader = "/usr/share/edk2/ovmf/OVMF_CODE.fd";
  g_autoptr(VsbFwSelection) lp = select_ok(&req);
  g_assert_cmpstr(chosen_name(lp), ==, "51-edk2-ovmf-2m-raw-x64-nosb.json");
  /* acpi-s4 wanted: only SeaBIOS has it, and uefi is asked: nothing */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_ACPI_S4] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) s4 = select_ok(&req);
  g_assert_null(s4->chosen);
  /* refusing verbose-dynamic (vsboot extension): every UEFI image for q35 has it */
  x86_request(&req);
  req.features[VSB_FW_FEATURE_VERBOSE_DYNAMIC] = VSB_FW_WANT_NO;
  g_autoptr(VsbFwSelection) quiet = select_ok(&req);
  g_assert_null(quiet->chosen);
  g_assert_cmpstr(verdict(quiet, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json")->reason_id, ==, "unwanted-feature");
  /* interface ANY accepts bios too */
  x86_request(&req);
  req.interface = VSB_FW_ANY;
  g_autoptr(VsbFwSelection) any = select_ok(&req);
  g_assert_cmpstr(chosen_name(any), ==, "20-bios.json");
}

/* An alias that could not be resolved stands for its family. */
static void
test_family(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.machine = "pc-q35-*";
  req.machine_family = TRUE;
  req.format = VSB_FW_FORMAT_RAW;
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_assert_cmpstr(chosen_name(sel), ==, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json");
  x86_request(&req);
  req.machine = "pc-i440fx-*";
  req.machine_family = TRUE;
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) pc = select_ok(&req);
  g_assert_null(pc->chosen);
  g_assert_cmpstr(verdict(pc, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json")->reason_id, ==, "target");

  /* Glob corner cases through vsb_fw_match on a synthetic descriptor. */
  const char *json =
    "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"memory\",\"filename\":\"/a\"},"
    "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"pc-q35-7.?\",\"microvm-*\"]}],"
    "\"features\":[]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_parse(json, strlen(json), "g.json", &error);
  g_assert_no_error(error);
  x86_request(&req);
  req.machine = "pc-q35-7.2";
  g_assert_true(vsb_fw_match(d, &req, NULL, NULL, NULL));
  req.machine = "pc-q35-7.10";
  g_assert_false(vsb_fw_match(d, &req, NULL, NULL, NULL));
  req.machine = "pc-q35-*";
  req.machine_family = TRUE;
  g_assert_true(vsb_fw_match(d, &req, NULL, NULL, NULL));
  req.machine = "pc-i440fx-*";
  const char *id = NULL;
  char *reason = NULL;
  int feature = 0;
  g_assert_false(vsb_fw_match(d, &req, &id, &reason, &feature));
  g_assert_cmpstr(id, ==, "target");
  g_assert_cmpint(feature, ==, -1);
  g_assert_nonnull(strstr(reason, "pc-i440fx-* (family)"));
  g_free(reason);
}

static void
test_paths_equal(void)
{
  g_assert_true(vsb_fw_paths_equal("/nonexistent/a", "/nonexistent/a"));
  g_assert_false(vsb_fw_paths_equal("/nonexistent/a", "/nonexistent/b"));
  g_assert_false(vsb_fw_paths_equal(NULL, "/x"));
  /* As Debian ships them (OVMF_CODE_4M.ms.fd a symlink to OVMF_CODE_4M.secboot.fd), but made
   * here: the unit suite does not depend on the host's firmware packages. */
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *code = g_build_filename(tmp, "OVMF_CODE_4M.fd", NULL);
  g_autofree char *secboot = g_build_filename(tmp, "OVMF_CODE_4M.secboot.fd", NULL);
  g_autofree char *ms = g_build_filename(tmp, "OVMF_CODE_4M.ms.fd", NULL);
  g_autofree char *base = g_path_get_basename(tmp);
  g_autofree char *dotdot = g_build_filename(tmp, "..", base, "OVMF_CODE_4M.fd", NULL);
  vsb_test_write_file(code, "code", 4);
  vsb_test_write_file(secboot, "secboot", 7);
  g_assert_cmpint(symlink("OVMF_CODE_4M.secboot.fd", ms), ==, 0);
  g_assert_true(vsb_fw_paths_equal(ms, secboot));
  g_assert_true(vsb_fw_paths_equal(dotdot, code));
  g_assert_false(vsb_fw_paths_equal(code, secboot));
  g_autofree char *link = g_build_filename(tmp, "code.fd", NULL);
  g_assert_cmpint(symlink(code, link), ==, 0);
  g_assert_true(vsb_fw_paths_equal(link, code));
}

static void
test_selection_json(void)
{
  VsbFwRequest req;
  x86_request(&req);
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_NO;
  g_autoptr(VsbFwSelection) sel = select_ok(&req);
  g_autoptr(JsonNode) n = vsb_fw_selection_to_json(sel, &req);
  JsonObject *o = json_node_get_object(n);
  JsonObject *chosen = json_object_get_object_member(o, "chosen");
  g_assert_true(g_str_has_suffix(json_object_get_string_member(chosen, "path"),
                                 "/40-edk2-ovmf-4m-qcow2-x64-sb.json"));
  JsonObject *r = json_object_get_object_member(o, "request");
  g_assert_cmpstr(json_object_get_string_member(r, "machine"), ==, "pc-q35-10.0");
  JsonObject *f = json_object_get_object_member(r, "features");
  g_assert_true(json_object_get_boolean_member(f, "secure-boot"));
  g_assert_false(json_object_get_boolean_member(f, "enrolled-keys"));
  JsonArray *c = json_object_get_array_member(o, "candidates");
  g_assert_cmpuint(json_array_get_length(c), ==, 19);
  JsonObject *c1 = json_array_get_object_element(c, 1);
  g_assert_cmpstr(json_object_get_string_member(c1, "verdict"), ==, "unwanted-feature");
  g_assert_cmpstr(json_object_get_string_member(c1, "feature"), ==, "enrolled-keys");
  JsonObject *c3 = json_array_get_object_element(c, 3);
  g_assert_cmpstr(json_object_get_string_member(c3, "verdict"), ==, "chosen");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  fedora = load_fedora();
  g_test_add_func("/fwselect/A-enrolled-keys", test_enrolled_keys);
  g_test_add_func("/fwselect/B-smm-off", test_smm_off);
  g_test_add_func("/fwselect/C-stateless", test_stateless);
  g_test_add_func("/fwselect/D-aarch64", test_aarch64);
  g_test_add_func("/fwselect/E-errors", test_errors);
  g_test_add_func("/fwselect/more-cases", test_more_cases);
  g_test_add_func("/fwselect/family", test_family);
  g_test_add_func("/fwselect/paths-equal", test_paths_equal);
  g_test_add_func("/fwselect/json", test_selection_json);
  int rc = g_test_run();
  g_ptr_array_unref(fedora);
  return rc;
}
