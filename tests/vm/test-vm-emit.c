/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The emitters on VMs made in memory: exact QEMU arguments for every firmware shape and both
 * syntaxes, libvirt XML for every style (validated by virt-xml-validate), the state file's
 * JSON round trip, and VM name rules. */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/libvirt-xml.h"
#include "vsboot/qemu-argv.h"
#include "qemu-argv-private.h"
#include "vsboot/vm.h"
#include "vsboot/mscerts.h"
#include "vsboot/vm-run.h"

#include <string.h>
#include <unistd.h>

static VsbVm *
make_vm(VsbFwArch arch, VsbFwFlashMode mode, VsbFwFormat format, gboolean smm)
{
  VsbVm *vm = vsb_vm_new();
  vm->name = g_strdup("guest");
  vm->uuid = g_strdup("63840878-0deb-4095-97e6-fc444d9bc9fa");
  vm->arch = arch;
  gboolean x86 = arch == VSB_FW_ARCH_X86_64;
  vm->machine = g_strdup(x86 ? "q35" : "virt");
  vm->machine_resolved = g_strdup(x86 ? "pc-q35-7.2" : "virt-7.2");
  vm->descriptor_path = g_strdup("/usr/share/qemu/firmware/50-test.json");
  vm->device = VSB_FW_DEVICE_FLASH;
  vm->mode = mode;
  const char *ext = format == VSB_FW_FORMAT_QCOW2 ? "qcow2" : "fd";
  vm->executable = g_strdup_printf("/fw/CODE.%s", ext);
  vm->executable_format = format;
  vm->executable_sha256 = g_strdup("00");
  if (mode == VSB_FW_FLASH_MODE_SPLIT) {
    vm->nvram_template = g_strdup_printf("/fw/VARS.%s", ext);
    vm->nvram_template_format = format;
    vm->varstore = g_strdup_printf("/state/guest_VARS.%s", ext);
    vm->varstore_format = format;
  } else if (mode == VSB_FW_FLASH_MODE_COMBINED) {
    vm->varstore = g_strdup_printf("/state/guest_FW.%s", ext);
    vm->varstore_format = format;
  }
  vm->features = VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_SECURE_BOOT);
  if (smm)
    vm->features |= VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_REQUIRES_SMM);
  vm->created = g_strdup("2026-11-23T17:00:00Z");
  return vm;
}

static char *
argv_line(const VsbVm *vm, guint major, guint minor)
{
  VsbQemuArgvOptions o = { .qemu_major = major, .qemu_minor = minor };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) a = vsb_qemu_argv_build(vm, &o, &error);
  g_assert_no_error(error);
  return vsb_shell_join(a);
}

static void
test_argv_split_smm_blockdev(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_cmpstr(line, ==,
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/fw/CODE.fd\",\"node-name\":"
    "\"vsboot-pflash0-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}' "
    "-blockdev '{\"node-name\":\"vsboot-pflash0-format\",\"read-only\":true,\"driver\":\"raw\","
    "\"file\":\"vsboot-pflash0-storage\"}' "
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/state/guest_VARS.fd\",\"node-name\":"
    "\"vsboot-pflash1-storage\",\"read-only\":false}' "
    "-machine pc-q35-7.2,smm=on,pflash0=vsboot-pflash0-format,pflash1=vsboot-pflash1-storage "
    "-global driver=cfi.pflash01,property=secure,value=on");
  /* 4.0 is the first version with -machine pflash0= */
  g_autofree char *at4 = argv_line(vm, 4, 0);
  g_assert_cmpstr(at4, ==, line);
}

static void
test_argv_split_smm_drive(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_autofree char *line = argv_line(vm, 3, 1);
  g_assert_cmpstr(line, ==,
    "-machine pc-q35-7.2,smm=on "
    "-drive if=pflash,unit=0,format=raw,readonly=on,file=/fw/CODE.fd "
    "-drive if=pflash,unit=1,format=raw,file=/state/guest_VARS.fd "
    "-global driver=cfi.pflash01,property=secure,value=on");
}

static void
test_argv_drive_escapes_commas(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                FALSE);
  g_free(vm->varstore);
  vm->varstore = g_strdup("/state/a,b 'c'/guest_VARS.fd");
  g_autofree char *line = argv_line(vm, 2, 12);
  g_assert_cmpstr(line, ==,
    "-machine pc-q35-7.2 "
    "-drive if=pflash,unit=0,format=raw,readonly=on,file=/fw/CODE.fd "
    "-drive 'if=pflash,unit=1,format=raw,file=/state/a,,b '\\''c'\\''/guest_VARS.fd'");
}

static void
test_argv_stateless(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_STATELESS,
                                VSB_FW_FORMAT_RAW, FALSE);
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_cmpstr(line, ==,
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/fw/CODE.fd\",\"node-name\":"
    "\"vsboot-pflash0-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}' "
    "-blockdev '{\"node-name\":\"vsboot-pflash0-format\",\"read-only\":true,\"driver\":\"raw\","
    "\"file\":\"vsboot-pflash0-storage\"}' "
    "-machine pc-q35-7.2,pflash0=vsboot-pflash0-format");
  g_autofree char *old = argv_line(vm, 3, 1);
  g_assert_cmpstr(old, ==,
                  "-machine pc-q35-7.2 -drive if=pflash,unit=0,format=raw,readonly=on,file=/fw/CODE.fd");
}

static void
test_argv_combined(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_COMBINED,
                                VSB_FW_FORMAT_RAW, TRUE);
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_cmpstr(line, ==,
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/state/guest_FW.fd\",\"node-name\":"
    "\"vsboot-pflash0-storage\",\"read-only\":false}' "
    "-machine pc-q35-7.2,smm=on,pflash0=vsboot-pflash0-storage "
    "-global driver=cfi.pflash01,property=secure,value=on");
  g_autofree char *old = argv_line(vm, 3, 1);
  g_assert_cmpstr(old, ==,
    "-machine pc-q35-7.2,smm=on -drive if=pflash,unit=0,format=raw,file=/state/guest_FW.fd "
    "-global driver=cfi.pflash01,property=secure,value=on");
}

static void
test_argv_memory(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_STATELESS,
                                VSB_FW_FORMAT_RAW, FALSE);
  vm->device = VSB_FW_DEVICE_MEMORY;
  g_free(vm->executable);
  vm->executable = g_strdup("/fw/OVMF.inteltdx.fd");
  vm->features = VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_INTEL_TDX);
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_cmpstr(line, ==, "-machine pc-q35-7.2 -bios /fw/OVMF.inteltdx.fd");
}

static void
test_argv_qcow2(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT,
                                VSB_FW_FORMAT_QCOW2, TRUE);
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_cmpstr(line, ==,
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/fw/CODE.qcow2\",\"node-name\":"
    "\"vsboot-pflash0-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}' "
    "-blockdev '{\"node-name\":\"vsboot-pflash0-format\",\"read-only\":true,\"driver\":\"qcow2\","
    "\"file\":\"vsboot-pflash0-storage\"}' "
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/state/guest_VARS.qcow2\",\"node-name\":"
    "\"vsboot-pflash1-storage\",\"read-only\":false}' "
    "-blockdev '{\"node-name\":\"vsboot-pflash1-format\",\"read-only\":false,\"driver\":"
    "\"qcow2\",\"file\":\"vsboot-pflash1-storage\"}' "
    "-machine pc-q35-7.2,smm=on,pflash0=vsboot-pflash0-format,pflash1=vsboot-pflash1-format "
    "-global driver=cfi.pflash01,property=secure,value=on");
  g_autofree char *old = argv_line(vm, 3, 1);
  g_assert_nonnull(strstr(old, "-drive if=pflash,unit=1,format=qcow2,file=/state/guest_VARS.qcow2"));
}

static void
test_argv_aarch64_tpm(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_AARCH64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                FALSE);
  vm->tpm_state_dir = g_strdup("/state/guest.tpm");
  g_autofree char *line = argv_line(vm, 7, 2);
  g_assert_null(strstr(line, "smm"));
  g_assert_null(strstr(line, "cfi.pflash01"));
  g_assert_nonnull(strstr(line, "-machine virt-7.2,pflash0=vsboot-pflash0-format,"
                                "pflash1=vsboot-pflash1-storage "));
  g_assert_true(g_str_has_suffix(line,
    " -chardev socket,id=chrtpm,path=/state/guest.tpm/swtpm.sock "
    "-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis-device,tpmdev=tpm0"));

  g_autoptr(VsbVm) x = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                               TRUE);
  x->tpm_state_dir = g_strdup("/state/guest.tpm");
  g_autofree char *xl = argv_line(x, 7, 2);
  g_assert_true(g_str_has_suffix(xl, " -device tpm-crb,tpmdev=tpm0"));
  VsbQemuArgvOptions o = { .qemu_major = 7, .qemu_minor = 2, .no_tpm = TRUE };
  g_autoptr(GPtrArray) a = vsb_qemu_argv_build(x, &o, NULL);
  g_autofree char *nl = vsb_shell_join(a);
  g_assert_null(strstr(nl, "tpm"));
}

static void
test_argv_refuses(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_AARCH64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  VsbQemuArgvOptions o = { .qemu_major = 7, .qemu_minor = 2 };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_qemu_argv_build(vm, &o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "SMM"));
  /* The libvirt emitter refuses the same VM with the same words. */
  g_autofree char *argv_refusal = g_strdup(error->message);
  g_clear_error(&error);
  VsbLibvirtXmlOptions xo = { .style = VSB_LIBVIRT_STYLE_EXPLICIT };
  g_assert_null(vsb_libvirt_xml_build(vm, &xo, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
  g_assert_cmpstr(error->message, ==, argv_refusal);
  g_clear_error(&error);
  vm->features = 0;
  vm->device = VSB_FW_DEVICE_KERNEL;
  g_assert_null(vsb_qemu_argv_build(vm, &o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
}

static void
test_shell_quote(void)
{
  const char *cases[][2] = {
    { "plain-word_1.0,x=y:z/@%+", "plain-word_1.0,x=y:z/@%+" },
    { "", "''" },
    { "a b", "'a b'" },
    { "it's", "'it'\\''s'" },
    { "{\"a\":1}", "'{\"a\":1}'" },
    { "$HOME", "'$HOME'" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *q = vsb_shell_quote(cases[i][0]);
    g_assert_cmpstr(q, ==, cases[i][1]);
  }
}

/* ---- libvirt XML -------------------------------------------------------------------------- */

static char *
xml_of(const VsbVm *vm, VsbLibvirtStyle style, gboolean domain)
{
  VsbLibvirtXmlOptions o = { .style = style, .domain = domain, .domain_type = "qemu" };
  g_autoptr(GError) error = NULL;
  char *xml = vsb_libvirt_xml_build(vm, &o, &error);
  g_assert_no_error(error);
  return xml;
}

static void
validate(const char *xml)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "domain.xml", NULL);
  vsb_test_write_file(path, xml, -1);
  const char *argv[] = { "virt-xml-validate", path, "domain", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, &out, &err);
  if (rc != 0)
    vsb_test_fail("virt-xml-validate rejects:\n%s\n%s%s", xml, out, err);
}

static void
test_xml_auto(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  vm->tpm_state_dir = g_strdup("/state/guest.tpm");
  g_autofree char *frag = xml_of(vm, VSB_LIBVIRT_STYLE_AUTO, FALSE);
  g_assert_cmpstr(frag, ==,
    "<os firmware=\"efi\">\n"
    "  <type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>\n"
    "  <firmware>\n"
    "    <feature enabled=\"no\" name=\"enrolled-keys\"/>\n"
    "    <feature enabled=\"yes\" name=\"secure-boot\"/>\n"
    "  </firmware>\n"
    "  <loader secure=\"yes\"/>\n"
    "  <nvram>/state/guest_VARS.fd</nvram>\n"
    "</os>\n"
    "<devices>\n"
    "  <tpm model=\"tpm-crb\">\n"
    "    <backend type=\"emulator\" version=\"2.0\"/>\n"
    "  </tpm>\n"
    "</devices>\n");
  g_autofree char *dom = xml_of(vm, VSB_LIBVIRT_STYLE_AUTO, TRUE);
  g_assert_nonnull(strstr(dom, "<domain type=\"qemu\">\n  <name>guest</name>\n"
                               "  <uuid>63840878-0deb-4095-97e6-fc444d9bc9fa</uuid>\n"));
  g_assert_nonnull(strstr(dom, "<features>\n    <acpi/>\n  </features>"));
  g_assert_nonnull(strstr(dom, "<emulator>/usr/bin/qemu-system-x86_64</emulator>"));
  validate(dom);
}

static void
test_xml_explicit(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_autofree char *frag = xml_of(vm, VSB_LIBVIRT_STYLE_EXPLICIT, FALSE);
  g_assert_cmpstr(frag, ==,
    "<os>\n"
    "  <type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>\n"
    "  <loader readonly=\"yes\" secure=\"yes\" type=\"pflash\">/fw/CODE.fd</loader>\n"
    "  <nvram template=\"/fw/VARS.fd\">/state/guest_VARS.fd</nvram>\n"
    "</os>\n"
    "<features>\n"
    "  <smm state=\"on\"/>\n"
    "</features>\n");
  g_autofree char *dom = xml_of(vm, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(dom, "<features>\n    <acpi/>\n    <smm state=\"on\"/>\n  </features>"));
  validate(dom);

  /* Without SMM: secure='no', no <smm>. */
  g_autoptr(VsbVm) plain = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT,
                                   VSB_FW_FORMAT_RAW, FALSE);
  g_autofree char *pf = xml_of(plain, VSB_LIBVIRT_STYLE_EXPLICIT, FALSE);
  g_assert_nonnull(strstr(pf, "<loader readonly=\"yes\" secure=\"no\" type=\"pflash\">"));
  g_assert_null(strstr(pf, "smm"));
}

static void
test_xml_legacy(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_autofree char *frag = xml_of(vm, VSB_LIBVIRT_STYLE_LEGACY, FALSE);
  g_assert_cmpstr(frag, ==,
    "<os>\n"
    "  <type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>\n"
    "  <loader readonly=\"yes\" type=\"pflash\">/fw/CODE.fd</loader>\n"
    "  <nvram template=\"/fw/VARS.fd\">/state/guest_VARS.fd</nvram>\n"
    "</os>\n"
    "<qemu:commandline xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\">\n"
    "  <qemu:arg value=\"-global\"/>\n"
    "  <qemu:arg value=\"driver=cfi.pflash01,property=secure,value=on\"/>\n"
    "  <qemu:arg value=\"-machine\"/>\n"
    "  <qemu:arg value=\"smm=on\"/>\n"
    "</qemu:commandline>\n");
  g_autofree char *dom = xml_of(vm, VSB_LIBVIRT_STYLE_LEGACY, TRUE);
  g_assert_true(g_str_has_prefix(dom, "<domain xmlns:qemu=\"http://libvirt.org/schemas/domain/"
                                      "qemu/1.0\" type=\"qemu\">"));
  g_assert_nonnull(strstr(dom, "  <qemu:commandline>\n    <qemu:arg value=\"-global\"/>"));
  validate(dom);

  /* What the legacy style cannot say. */
  g_autoptr(VsbVm) q = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_QCOW2,
                               TRUE);
  VsbLibvirtXmlOptions o = { .style = VSB_LIBVIRT_STYLE_LEGACY };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_libvirt_xml_build(q, &o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
  g_assert_nonnull(strstr(error->message, "qcow2"));
  g_clear_error(&error);
  g_autoptr(VsbVm) s = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_STATELESS,
                               VSB_FW_FORMAT_RAW, FALSE);
  g_assert_null(vsb_libvirt_xml_build(s, &o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);
}

static void
test_xml_shapes(void)
{
  /* qcow2: format attributes (libvirt >= 9.2; not in this host's 9.0 schema). */
  g_autoptr(VsbVm) q = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_QCOW2,
                               TRUE);
  g_autofree char *qx = xml_of(q, VSB_LIBVIRT_STYLE_EXPLICIT, FALSE);
  g_assert_nonnull(strstr(qx, "<loader readonly=\"yes\" secure=\"yes\" type=\"pflash\" "
                              "format=\"qcow2\">/fw/CODE.qcow2</loader>"));
  g_assert_nonnull(strstr(qx, "<nvram template=\"/fw/VARS.qcow2\" templateFormat=\"qcow2\" "
                              "format=\"qcow2\">/state/guest_VARS.qcow2</nvram>"));
  g_autofree char *qa = xml_of(q, VSB_LIBVIRT_STYLE_AUTO, FALSE);
  g_assert_nonnull(strstr(qa, "<loader secure=\"yes\" format=\"qcow2\"/>"));
  g_assert_nonnull(strstr(qa, "<nvram format=\"qcow2\">/state/guest_VARS.qcow2</nvram>"));

  /* stateless */
  g_autoptr(VsbVm) s = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_STATELESS,
                               VSB_FW_FORMAT_RAW, FALSE);
  g_autofree char *sx = xml_of(s, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(sx, "<loader readonly=\"yes\" secure=\"no\" type=\"pflash\" "
                              "stateless=\"yes\">/fw/CODE.fd</loader>"));
  g_assert_null(strstr(sx, "<nvram"));
  validate(sx);
  g_autofree char *sa = xml_of(s, VSB_LIBVIRT_STYLE_AUTO, TRUE);
  g_assert_nonnull(strstr(sa, "<loader stateless=\"yes\"/>"));
  validate(sa);

  /* combined: explicit only */
  g_autoptr(VsbVm) c = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_COMBINED,
                               VSB_FW_FORMAT_RAW, TRUE);
  g_autofree char *cx = xml_of(c, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(cx, "<loader readonly=\"no\" secure=\"yes\" type=\"pflash\">"
                              "/state/guest_FW.fd</loader>"));
  validate(cx);
  VsbLibvirtXmlOptions o = { .style = VSB_LIBVIRT_STYLE_AUTO };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_libvirt_xml_build(c, &o, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED);

  /* memory (-bios) */
  g_autoptr(VsbVm) m = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_STATELESS,
                               VSB_FW_FORMAT_RAW, FALSE);
  m->device = VSB_FW_DEVICE_MEMORY;
  g_autofree char *mx = xml_of(m, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(mx, "<loader type=\"rom\">/fw/CODE.fd</loader>"));
  validate(mx);

  /* aarch64 with a TPM: tpm-tis (libvirt makes it tpm-tis-device), a 64-bit CPU. */
  g_autoptr(VsbVm) arm = make_vm(VSB_FW_ARCH_AARCH64, VSB_FW_FLASH_MODE_SPLIT,
                                 VSB_FW_FORMAT_RAW, FALSE);
  arm->tpm_state_dir = g_strdup("/state/guest.tpm");
  g_autofree char *ax = xml_of(arm, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(ax, "<type arch=\"aarch64\" machine=\"virt-7.2\">hvm</type>"));
  g_assert_nonnull(strstr(ax, "<tpm model=\"tpm-tis\">"));
  g_assert_nonnull(strstr(ax, "<cpu mode=\"maximum\"/>"));
  g_assert_nonnull(strstr(ax, "<emulator>/usr/bin/qemu-system-aarch64</emulator>"));
  g_assert_null(strstr(ax, "smm"));
  validate(ax);
}

static void
test_xml_escapes(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_free(vm->varstore);
  vm->varstore = g_strdup("/state/a&b<c>/guest_VARS.fd");
  g_autofree char *x = xml_of(vm, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_nonnull(strstr(x, ">/state/a&amp;b&lt;c&gt;/guest_VARS.fd</nvram>"));
  validate(x);
}

/* ---- state file and names ------------------------------------------------------------------ */

static void
test_json_roundtrip(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  vm->keys = VSB_VM_KEYS_USER;
  vm->keys_dir = g_strdup("/keys");
  vm->secure_boot = VSB_SB_MODE_USER;
  vm->tpm_state_dir = g_strdup("/state/guest.tpm");
  vm->template_sha256 = g_strdup("11");
  g_strfreev(vm->unknown_features);
  vm->unknown_features = g_strsplit("future-feature", ",", -1);
  g_autoptr(JsonNode) node = vsb_vm_to_json(vm);
  g_autofree char *text = json_to_string(node, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVm) back = vsb_vm_from_json(node, "mem", &error);
  g_assert_no_error(error);
  g_autoptr(JsonNode) node2 = vsb_vm_to_json(back);
  g_autofree char *text2 = json_to_string(node2, TRUE);
  g_assert_cmpstr(text, ==, text2);
  g_assert_cmpstr(back->varstore, ==, "/state/guest_VARS.fd");
  g_assert_true(vsb_vm_has_feature(back, VSB_FW_FEATURE_REQUIRES_SMM));
  g_assert_cmpstr(back->unknown_features[0], ==, "future-feature");
  g_assert_nonnull(strstr(text, "\"features\" : [\n      \"requires-smm\",\n      \"secure-boot\",\n"
                                "      \"future-feature\"\n    ]"));
  g_assert_nonnull(strstr(text, "\"secure-boot\" : \"user\""));

  /* The one vocabulary (sbjudge.h): state files written before it still load, "enabled" as
   * user and "setup-mode" as setup, and are written back in the new words; an unknown word is
   * refused naming the member. */
  static const char *const words[][2] = {
    { "enabled", "user" }, { "setup-mode", "setup" }, { "disabled", "disabled" },
    { "user", "user" }, { "setup", "setup" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
    g_autoptr(JsonNode) n = json_from_string(text, NULL);
    json_object_set_string_member(json_node_get_object(n), "secure-boot", words[i][0]);
    g_autoptr(VsbVm) v = vsb_vm_from_json(n, "old.json", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vsb_secure_boot_mode_name((VsbSecureBootMode)v->secure_boot), ==,
                    words[i][1]);
    g_autoptr(JsonNode) out = vsb_vm_to_json(v);
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(out), "secure-boot"), ==,
                    words[i][1]);
  }
  {
    g_autoptr(JsonNode) n = json_from_string(text, NULL);
    json_object_set_null_member(json_node_get_object(n), "secure-boot");
    g_autoptr(VsbVm) v = vsb_vm_from_json(n, "none.json", &error);
    g_assert_no_error(error);
    g_assert_cmpint(v->secure_boot, ==, -1);
    json_object_set_string_member(json_node_get_object(n), "secure-boot", "on");
    g_autoptr(VsbVm) bad_word = vsb_vm_from_json(n, "on.json", &error);
    g_assert_null(bad_word);
    g_assert_nonnull(strstr(error->message, "on.json: secure-boot: unknown value 'on'"));
    g_clear_error(&error);
  }

  /* Broken state files name the member at fault. */
  const char *bad[][2] = {
    { "{\"version\":2}", "version" },
    { "[]", "expected a JSON object" },
    { "{\"version\":1,\"name\":\"a/b\"}", "contains '/'" },
    { "{\"version\":1,\"name\":\"a\",\"arch\":\"vax\",\"machine\":\"m\"}", "arch: unknown value 'vax'" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(JsonNode) n = json_from_string(bad[i][0], NULL);
    g_autoptr(VsbVm) v = vsb_vm_from_json(n, "bad.json", &error);
    g_assert_null(v);
    g_assert_nonnull(error);
    if (strstr(error->message, bad[i][1]) == NULL)
      vsb_test_fail("'%s' does not say '%s'", error->message, bad[i][1]);
    g_clear_error(&error);
  }
  /* "microsoft": the ids of the CAs vsboot added; anything else is refused, naming it. */
  back->microsoft = (1u << VSB_MS_KEK_2023) | (1u << VSB_MS_UEFI_2023);
  g_autoptr(JsonNode) ms_node = vsb_vm_to_json(back);
  g_autoptr(VsbVm) ms_back = vsb_vm_from_json(ms_node, "mem", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(ms_back->microsoft, ==, back->microsoft);
  JsonObject *mo = json_node_get_object(ms_node);
  json_object_set_string_member(mo, "microsoft", "2023");
  g_assert_null(vsb_vm_from_json(ms_node, "bad.json", &error));
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, "microsoft: expected an array"));
  g_clear_error(&error);
  JsonArray *ids = json_array_new();
  json_array_add_string_element(ids, "kek-2022");
  json_object_set_array_member(mo, "microsoft", ids);
  g_assert_null(vsb_vm_from_json(ms_node, "bad.json", &error));
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, "microsoft[0]: not a Microsoft certificate id"));
  g_clear_error(&error);

  /* A varstore on a stateless VM is a contradiction. */
  JsonObject *o = json_node_get_object(node);
  JsonObject *fw = json_object_get_object_member(o, "firmware");
  json_object_set_string_member(fw, "mode", "stateless");
  g_autoptr(VsbVm) v = vsb_vm_from_json(node, "bad.json", &error);
  g_assert_null(v);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "varstore: unexpected for stateless firmware"));
}

static void
test_names(void)
{
  const char *good[] = { "vm", "web-01", "a.b", "Ünïcode", "x_y" };
  for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(vsb_vm_name_validate(good[i], NULL));
  struct {
    const char *name;
    const char *why;
  } bad[] = {
    { "", "empty" },      { "a/b", "'/'" },         { "..", "starts with '.'" },
    { "../x", "'/'" },    { ".hidden", "starts with '.'" }, { "a\nb", "control" },
    { "\xff\xfe", "UTF-8" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(vsb_vm_name_validate(bad[i].name, &error));
    g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
    if (strstr(error->message, bad[i].why) == NULL)
      vsb_test_fail("'%s' does not say '%s'", error->message, bad[i].why);
  }
  char long_name[VSB_VM_NAME_MAX + 2];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[VSB_VM_NAME_MAX + 1] = '\0';
  g_assert_false(vsb_vm_name_validate(long_name, NULL));
  long_name[VSB_VM_NAME_MAX] = '\0';
  g_assert_true(vsb_vm_name_validate(long_name, NULL));
}

/* Without --virt-type, <domain type> is kvm only where this host's KVM runs the firmware's
 * SMM (libvirt would otherwise refuse to start it), and the choice is explained. */
static void
test_virt_type_auto(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  g_autofree char *dir = vsb_test_tmpdir();
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "sb", "--state-dir", dir,
                               "--enrolled-keys", "--microsoft", "none", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "libvirt-xml", "sb", "--state-dir", dir, "--domain",
                               NULL), ==, 0);
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  gboolean can = access("/dev/kvm", R_OK | W_OK) == 0 &&
                 vsb_kvm_can_smm("qemu-system-x86_64", &why, &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(out, can ? "<domain type=\"kvm\">" : "<domain type=\"qemu\">"));
  g_assert_nonnull(strstr(err, can ? "<domain type='kvm'>" : "<domain type='qemu'>"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "libvirt-xml", "sb", "--state-dir", dir, "--domain",
                               "--virt-type", "kvm", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "<domain type=\"kvm\">"));
}

/* S3 off is decided from the image: Debian's 2M SMM build has an X64 PEI (it hangs while S3
 * is advertised), the 4M SMM build an IA32 PEI, the 2M build without SMM needs no SMM at all;
 * an image vsboot cannot read as firmware volumes gets nothing. */
static void
test_argv_s3(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_free(vm->executable);
  vm->executable = g_strdup("/usr/share/OVMF/OVMF_CODE.secboot.fd");
  g_autofree char *m2 = argv_line(vm, 7, 2);
  g_assert_nonnull(strstr(m2, " -global ICH9-LPC.disable_s3=1"));
  /* Asked again, the answer comes from the file cache: the same. */
  g_autofree char *again = argv_line(vm, 3, 1);
  g_assert_nonnull(strstr(again, " -global ICH9-LPC.disable_s3=1"));
  /* Only q35 has the ICH9 LPC bridge (and SMM builds of OVMF boot only there). */
  g_free(vm->machine_resolved);
  vm->machine_resolved = g_strdup("pc-i440fx-7.2");
  g_autofree char *pc = argv_line(vm, 7, 2);
  g_assert_null(strstr(pc, "disable_s3"));
  g_free(vm->machine_resolved);
  vm->machine_resolved = g_strdup("pc-q35-7.2");
  g_free(vm->executable);
  vm->executable = g_strdup("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  g_autofree char *m4 = argv_line(vm, 7, 2);
  g_assert_null(strstr(m4, "disable_s3"));
  g_free(vm->executable);
  vm->executable = g_strdup("/fw/CODE.fd");
  g_autofree char *absent = argv_line(vm, 7, 2);
  g_assert_null(strstr(absent, "disable_s3"));
  g_assert_true(vsb_firmware_needs_s3_off("/usr/share/OVMF/OVMF_CODE.secboot.fd"));
  g_assert_false(vsb_firmware_needs_s3_off("/usr/share/OVMF/OVMF_CODE.fd"));
  g_assert_false(vsb_firmware_needs_s3_off("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"));
  g_assert_false(vsb_firmware_needs_s3_off("/usr/share/OVMF/OVMF_VARS.fd"));
}

/* The same rule in the libvirt XML: <pm><suspend-to-mem enabled='no'/>, which libvirt turns into
 * -global ICH9-LPC.disable_s3=1 on q35 (tests/vm/vm-libvirt checks libvirt's command line), in
 * every style, and valid for libvirt's schema; the 4M build gets no <pm>. */
static void
test_xml_s3(void)
{
  g_autoptr(VsbVm) vm = make_vm(VSB_FW_ARCH_X86_64, VSB_FW_FLASH_MODE_SPLIT, VSB_FW_FORMAT_RAW,
                                TRUE);
  g_free(vm->executable);
  vm->executable = g_strdup("/usr/share/OVMF/OVMF_CODE.secboot.fd");
  for (int style = VSB_LIBVIRT_STYLE_AUTO; style <= VSB_LIBVIRT_STYLE_LEGACY; style++) {
    g_autofree char *frag = xml_of(vm, style, FALSE);
    g_assert_nonnull(strstr(frag, "<pm>\n  <suspend-to-mem enabled=\"no\"/>\n</pm>"));
    g_autofree char *dom = xml_of(vm, style, TRUE);
    g_assert_nonnull(strstr(dom, "<suspend-to-mem enabled=\"no\"/>"));
    validate(dom);
  }
  g_free(vm->executable);
  vm->executable = g_strdup("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  g_autofree char *m4 = xml_of(vm, VSB_LIBVIRT_STYLE_EXPLICIT, TRUE);
  g_assert_null(strstr(m4, "<pm>"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  vsb_test_require_tool("virt-xml-validate");
  g_test_add_func("/vm/argv/split-smm-blockdev", test_argv_split_smm_blockdev);
  g_test_add_func("/vm/argv/split-smm-drive", test_argv_split_smm_drive);
  g_test_add_func("/vm/argv/drive-escapes", test_argv_drive_escapes_commas);
  g_test_add_func("/vm/argv/stateless", test_argv_stateless);
  g_test_add_func("/vm/argv/combined", test_argv_combined);
  g_test_add_func("/vm/argv/memory", test_argv_memory);
  g_test_add_func("/vm/argv/qcow2", test_argv_qcow2);
  g_test_add_func("/vm/argv/aarch64-tpm", test_argv_aarch64_tpm);
  g_test_add_func("/vm/argv/refuses", test_argv_refuses);
  g_test_add_func("/vm/argv/s3", test_argv_s3);
  g_test_add_func("/vm/argv/shell-quote", test_shell_quote);
  g_test_add_func("/vm/xml/auto", test_xml_auto);
  g_test_add_func("/vm/xml/explicit", test_xml_explicit);
  g_test_add_func("/vm/xml/legacy", test_xml_legacy);
  g_test_add_func("/vm/xml/shapes", test_xml_shapes);
  g_test_add_func("/vm/xml/escapes", test_xml_escapes);
  g_test_add_func("/vm/xml/s3", test_xml_s3);
  g_test_add_func("/vm/state/json-roundtrip", test_json_roundtrip);
  g_test_add_func("/vm/state/names", test_names);
  g_test_add_func("/vm/xml/virt-type-auto", test_virt_type_auto);
  return g_test_run();
}
