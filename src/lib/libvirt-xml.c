/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/libvirt-xml.h"
#include "qemu-argv-private.h"
#include "vsboot/error.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include "qemu-probe.h"
#include "util/arch.h"
#include "vm-private.h"

#include <string.h>

static const char *const style_names[] = { "auto", "explicit", "legacy" };

int
vsb_libvirt_style_from_name(const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS(style_names); i++)
    if (g_strcmp0(name, style_names[i]) == 0)
      return (int)i;
  return -1;
}

#define X(s) ((const xmlChar *)(s))

static xmlNodePtr
child(xmlNodePtr parent, const char *name, const char *text)
{
  /* xmlNewTextChild escapes the content ('&' in a path stays a character). */
  return xmlNewTextChild(parent, NULL, X(name), text ? X(text) : NULL);
}

static void
prop(xmlNodePtr node, const char *name, const char *value)
{
  xmlNewProp(node, X(name), X(value));
}

static const char *
machine_of(const VsbVm *vm)
{
  return vm->machine_resolved ? vm->machine_resolved : vm->machine;
}

static gboolean
format_unsupported(const VsbVm *vm, VsbLibvirtStyle style, GError **error)
{
  gboolean qcow2 = vm->executable_format == VSB_FW_FORMAT_QCOW2 ||
                   (vm->nvram_template && vm->nvram_template_format == VSB_FW_FORMAT_QCOW2) ||
                   (vm->varstore && vm->varstore_format == VSB_FW_FORMAT_QCOW2);
  if (qcow2 && style == VSB_LIBVIRT_STYLE_LEGACY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: qcow2 firmware (%s) needs libvirt 9.2 or later; the legacy style is for "
                "libvirt before 2.1", vm->name, vm->descriptor_path);
    return TRUE;
  }
  return FALSE;
}

/* <os> for libvirt's autoselection: firmware='efi' with the descriptor's features, and what
 * they leave open pinned on <loader>. */
static gboolean
build_os_auto(xmlNodePtr os, const VsbVm *vm, GError **error)
{
  gboolean smm = vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM);
  gboolean split = vm->device == VSB_FW_DEVICE_FLASH && vm->mode == VSB_FW_FLASH_MODE_SPLIT;
  gboolean qcow2 = vm->executable_format == VSB_FW_FORMAT_QCOW2;
  if (vm->device == VSB_FW_DEVICE_FLASH && vm->mode == VSB_FW_FLASH_MODE_COMBINED) {
    /* libvirt would map the descriptor's shared image read-write. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: combined flash cannot be auto-selected without libvirt writing to the "
                "shared image %s (the explicit style names it read-only)", vm->name,
                vm->executable);
    return FALSE;
  }
  prop(os, "firmware", "efi");
  xmlNodePtr fw = child(os, "firmware", NULL);
  static const VsbFwFeature named[] = { VSB_FW_FEATURE_ENROLLED_KEYS,
                                        VSB_FW_FEATURE_SECURE_BOOT };
  for (guint i = 0; i < G_N_ELEMENTS(named); i++) {
    xmlNodePtr f = child(fw, "feature", NULL);
    prop(f, "enabled", vsb_vm_has_feature(vm, named[i]) ? "yes" : "no");
    prop(f, "name", vsb_fw_feature_name(named[i]));
  }
  /* Pin what the features alone leave open, so libvirt's first match is our descriptor. */
  gboolean stateless = vm->device == VSB_FW_DEVICE_FLASH &&
                       vm->mode == VSB_FW_FLASH_MODE_STATELESS;
  if (smm || stateless || vm->device == VSB_FW_DEVICE_MEMORY || qcow2) {
    xmlNodePtr loader = child(os, "loader", NULL);
    if (vm->device == VSB_FW_DEVICE_MEMORY)
      prop(loader, "type", "rom");
    if (smm)
      prop(loader, "secure", "yes");
    if (stateless)
      prop(loader, "stateless", "yes");
    if (qcow2)
      prop(loader, "format", "qcow2");
  }
  if (split) {
    /* The VM's own varstore: libvirt uses an existing NVRAM file as it is. */
    xmlNodePtr nvram = child(os, "nvram", vm->varstore);
    if (vm->varstore_format == VSB_FW_FORMAT_QCOW2)
      prop(nvram, "format", "qcow2");
  }
  return TRUE;
}

/* <os> with the paths spelled out (explicit and legacy styles). */
static gboolean
build_os_paths(xmlNodePtr os, const VsbVm *vm, VsbLibvirtStyle style, GError **error)
{
  gboolean smm = vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM);
  gboolean split = vm->device == VSB_FW_DEVICE_FLASH && vm->mode == VSB_FW_FLASH_MODE_SPLIT;
  gboolean qcow2 = vm->executable_format == VSB_FW_FORMAT_QCOW2;
  xmlNodePtr loader;
  if (vm->device == VSB_FW_DEVICE_MEMORY) {
    loader = child(os, "loader", vm->executable);
    prop(loader, "type", "rom");
    return TRUE;
  }
  if (vm->mode == VSB_FW_FLASH_MODE_COMBINED) {
    loader = child(os, "loader", vm->varstore);
    prop(loader, "readonly", "no");
  } else {
    loader = child(os, "loader", vm->executable);
    prop(loader, "readonly", "yes");
  }
  if (style == VSB_LIBVIRT_STYLE_EXPLICIT)
    prop(loader, "secure", smm ? "yes" : "no");
  prop(loader, "type", "pflash");
  if (vm->mode == VSB_FW_FLASH_MODE_STATELESS) {
    if (style == VSB_LIBVIRT_STYLE_LEGACY) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                  "%s: stateless firmware needs libvirt 8.6 or later; the legacy style is for "
                  "libvirt before 2.1", vm->name);
      return FALSE;
    }
    prop(loader, "stateless", "yes");
  }
  if (qcow2 || (vm->mode == VSB_FW_FLASH_MODE_COMBINED &&
                vm->varstore_format == VSB_FW_FORMAT_QCOW2))
    prop(loader, "format", vsb_fw_format_name(vm->mode == VSB_FW_FLASH_MODE_COMBINED
                                                  ? vm->varstore_format
                                                  : vm->executable_format));
  if (split) {
    xmlNodePtr nvram = child(os, "nvram", vm->varstore);
    prop(nvram, "template", vm->nvram_template);
    /* Format attributes only where needed: libvirt before 9.2 rejects them. */
    if (vm->nvram_template_format == VSB_FW_FORMAT_QCOW2 ||
        vm->varstore_format == VSB_FW_FORMAT_QCOW2) {
      prop(nvram, "templateFormat", vsb_fw_format_name(vm->nvram_template_format));
      prop(nvram, "format", vsb_fw_format_name(vm->varstore_format));
    }
  }
  return TRUE;
}

/* <os> content for each style. Returns FALSE with error for what the style cannot say. */
static gboolean
build_os(xmlNodePtr os, const VsbVm *vm, VsbLibvirtStyle style, GError **error)
{
  xmlNodePtr type = child(os, "type", "hvm");
  prop(type, "arch", vsb_arch_libvirt_name(vm->arch));
  prop(type, "machine", machine_of(vm));

  if (vm->device != VSB_FW_DEVICE_FLASH && vm->device != VSB_FW_DEVICE_MEMORY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: libvirt cannot use '%s' firmware (%s)", vm->name,
                vsb_fw_device_name(vm->device), vm->descriptor_path);
    return FALSE;
  }
  if (format_unsupported(vm, style, error))
    return FALSE;

  return style == VSB_LIBVIRT_STYLE_AUTO ? build_os_auto(os, vm, error)
                                         : build_os_paths(os, vm, style, error);
}

static void
build_features(xmlNodePtr features, const VsbVm *vm, VsbLibvirtStyle style, gboolean domain)
{
  if (domain)
    child(features, "acpi", NULL);
  if (style == VSB_LIBVIRT_STYLE_EXPLICIT && vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM)) {
    xmlNodePtr smm = child(features, "smm", NULL);
    prop(smm, "state", "on");
  }
}

static void
build_tpm(xmlNodePtr devices, const VsbVm *vm)
{
  xmlNodePtr tpm = child(devices, "tpm", NULL);
  /* libvirt turns tpm-tis into tpm-tis-device on the ARM virt machine. */
  prop(tpm, "model", vsb_arch_is_x86(vm->arch) ? "tpm-crb" : "tpm-tis");
  xmlNodePtr backend = child(tpm, "backend", NULL);
  prop(backend, "type", "emulator");
  prop(backend, "version", "2.0");
}

/* <qemu:commandline>; ns NULL: a standalone element declaring the namespace itself. */
static xmlNodePtr
build_qemu_commandline(xmlNsPtr ns)
{
  xmlNodePtr cl = xmlNewNode(NULL, X("commandline"));
  if (ns == NULL)
    ns = xmlNewNs(cl, X(VSB_LIBVIRT_QEMU_NS), X("qemu"));
  xmlSetNs(cl, ns);
  static const char *const args[] = { "-global", "driver=cfi.pflash01,property=secure,value=on",
                                      "-machine", "smm=on" };
  for (guint i = 0; i < G_N_ELEMENTS(args); i++) {
    xmlNodePtr arg = xmlNewChild(cl, ns, X("arg"), NULL);
    xmlNewProp(arg, X("value"), X(args[i]));
  }
  return cl;
}

static void
dump(GString *out, xmlDocPtr doc, xmlNodePtr node)
{
  xmlBufferPtr buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, node, 0, 1);
  g_string_append_len(out, (const char *)xmlBufferContent(buf), xmlBufferLength(buf));
  g_string_append_c(out, '\n');
  xmlBufferFree(buf);
}

/* A --domain's name, UUID, memory and vCPUs. */
static void
build_domain_head(xmlNodePtr root, const VsbVm *vm, const VsbLibvirtXmlOptions *opts)
{
  prop(root, "type", opts->domain_type ? opts->domain_type : "kvm");
  child(root, "name", vm->name);
  if (vm->uuid)
    child(root, "uuid", vm->uuid);
  g_autofree char *mem = g_strdup_printf("%u", opts->memory_mib ? opts->memory_mib : 1024);
  xmlNodePtr memory = child(root, "memory", mem);
  prop(memory, "unit", "MiB");
  g_autofree char *vcpus = g_strdup_printf("%u", opts->vcpus ? opts->vcpus : 1);
  child(root, "vcpu", vcpus);
}

/* <devices>: a --domain's emulator and serial console, and the TPM when provisioned. */
static void
build_devices(xmlNodePtr devices, const VsbVm *vm, const VsbLibvirtXmlOptions *opts)
{
  if (opts->domain) {
    g_autofree char *bin = vsb_qemu_binary_name(vm->arch);
    g_autofree char *emulator = opts->emulator ? g_strdup(opts->emulator)
                                               : g_build_filename("/usr/bin", bin, NULL);
    child(devices, "emulator", emulator);
    xmlNodePtr serial = child(devices, "serial", NULL);
    prop(serial, "type", "pty");
    prop(child(serial, "target", NULL), "port", "0");
    xmlNodePtr console = child(devices, "console", NULL);
    prop(console, "type", "pty");
    xmlNodePtr target = child(console, "target", NULL);
    prop(target, "type", "serial");
    prop(target, "port", "0");
  }
  if (vm->tpm_state_dir)
    build_tpm(devices, vm);
}

char *
vsb_libvirt_xml_build(const VsbVm *vm, const VsbLibvirtXmlOptions *opts, GError **error)
{
  VsbLibvirtStyle style = opts->style;
  gboolean smm = vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM);
  gboolean legacy_cl = style == VSB_LIBVIRT_STYLE_LEGACY && smm &&
                       vm->device == VSB_FW_DEVICE_FLASH;
  if (!vm_check_smm_arch(vm, error))
    return NULL;
  /* libvirt's schema takes only an absolute path (absFilePath); "" would be an empty element
   * that no libvirt accepts. */
  if (opts->emulator && !g_path_is_absolute(opts->emulator)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "emulator: '%s' is not an absolute path (libvirt requires one)", opts->emulator);
    return NULL;
  }
  if ((guint)style > VSB_LIBVIRT_STYLE_LEGACY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown libvirt XML style %d", style);
    return NULL;
  }

  xmlDocPtr doc = xmlNewDoc(X("1.0"));
  xmlNodePtr root = xmlNewNode(NULL, X(opts->domain ? "domain" : "fragment"));
  xmlDocSetRootElement(doc, root);
  xmlNsPtr qemu_ns = NULL;
  if (legacy_cl && opts->domain)
    qemu_ns = xmlNewNs(root, X(VSB_LIBVIRT_QEMU_NS), X("qemu"));

  GString *out = g_string_new(NULL);
  gboolean ok = FALSE;

  if (opts->domain)
    build_domain_head(root, vm, opts);
  xmlNodePtr os = child(root, "os", NULL);
  if (!build_os(os, vm, style, error))
    goto out;
  xmlNodePtr features = child(root, "features", NULL);
  build_features(features, vm, style, opts->domain);
  if (features->children == NULL) {
    xmlUnlinkNode(features);
    xmlFreeNode(features);
    features = NULL;
  }
  if (opts->domain && !vsb_arch_is_x86(vm->arch)) {
    /* QEMU's default ARM CPU is 32-bit; a 64-bit UEFI needs a 64-bit CPU. */
    xmlNodePtr cpu = child(root, "cpu", NULL);
    gboolean kvm = opts->domain_type == NULL || strcmp(opts->domain_type, "kvm") == 0;
    prop(cpu, "mode", kvm ? "host-passthrough" : "maximum");
  }
  if (vsb_vm_needs_s3_off(vm)) {
    /* libvirt's -global ICH9-LPC.disable_s3=1, as qemu-args emits it: an SMM OVMF with an X64
     * PEI stops in PEI while S3 is offered (qemu-argv-private.h). */
    xmlNodePtr pm = child(root, "pm", NULL);
    prop(child(pm, "suspend-to-mem", NULL), "enabled", "no");
  }
  if (opts->domain || vm->tpm_state_dir)
    build_devices(child(root, "devices", NULL), vm, opts);

  if (opts->domain) {
    if (legacy_cl)
      xmlAddChild(root, build_qemu_commandline(qemu_ns));
    dump(out, doc, root);
  } else {
    for (xmlNodePtr n = root->children; n; n = n->next)
      dump(out, doc, n);
    if (legacy_cl) {
      xmlNodePtr cl = build_qemu_commandline(NULL);
      dump(out, doc, cl);
      xmlFreeNode(cl);
    }
  }
  ok = TRUE;

out:
  xmlFreeDoc(doc);
  if (!ok) {
    g_string_free(out, TRUE);
    return NULL;
  }
  return g_string_free(out, FALSE);
}
