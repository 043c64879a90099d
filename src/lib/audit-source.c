/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's sources: each one is turned into the QEMU command line the VM runs (or will run),
 * together with what tells the VM's own QEMU from another user of its varstore, and then judged
 * by vsb_audit_cmdline. The CLI and the fleet call these; neither builds a VM itself. */
#include "vsboot/audit.h"
#include "vsboot/error.h"
#include "vsboot/fwsearch.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-argv.h"
#include "vsboot/qemu-cmdline.h"
#include "qemu-probe.h"
#include "vsboot/vm.h"

#include <string.h>

VsbAuditReport *
vsb_audit_cmdline_text(const char *text, gsize len, const char *source,
                       const VsbAuditOptions *opts, GError **error)
{
  g_auto(GStrv) words = vsb_qemu_split_cmdline(text, len, error);
  if (words == NULL)
    return NULL;
  g_autoptr(VsbQemuCmdline) cmd =
    vsb_qemu_cmdline_parse((const char *const *)words, (int)g_strv_length(words), NULL, error);
  if (cmd == NULL)
    return NULL;
  VsbAuditOptions o = { 0 };
  if (opts)
    o = *opts;
  /* The running VM whose line this is is not "another user" of its varstore. */
  o.self_args = (const char *const *)(words[0] && words[0][0] != '-' ? words + 1 : words);
  return vsb_audit_cmdline(cmd, source ? source : "QEMU command line", &o, error);
}

/* The executable of process pid: PROC/PID/exe when it may be read (another user's process needs
 * privilege), else its argv[0]. A binary replaced by an upgrade reads "PATH (deleted)". */
static char *
process_executable(const char *proc, int pid, const char *argv0)
{
  g_autofree char *link = g_strdup_printf("%s/%d/exe", proc, pid);
  g_autofree char *exe = g_file_read_link(link, NULL);
  if (exe == NULL)
    return g_strdup(argv0 ? argv0 : "");
  if (g_str_has_suffix(exe, " (deleted)"))
    exe[strlen(exe) - strlen(" (deleted)")] = '\0';
  return g_steal_pointer(&exe);
}

static gboolean
is_qemu_executable(const char *path)
{
  g_autofree char *base = g_path_get_basename(path);
  return (g_str_has_prefix(base, "qemu-system-") && base[strlen("qemu-system-")] != '\0') ||
         strcmp(base, "qemu-kvm") == 0;
}

VsbAuditReport *
vsb_audit_process(int pid, const VsbAuditOptions *opts, GError **error)
{
  const char *proc = opts && opts->proc_root ? opts->proc_root : "/proc";
  g_auto(GStrv) words = vsb_qemu_read_proc_cmdline(opts ? opts->proc_root : NULL, pid, error);
  if (words == NULL)
    return NULL;
  /* Is it QEMU at all? Asked before its arguments are read as QEMU's, or any other process
   * (pid 1, say) is refused for its first option ("'--firecracker-init' is not a QEMU option")
   * instead of for what it is. */
  g_autofree char *exe = process_executable(proc, pid, words[0]);
  if (!is_qemu_executable(exe)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "process %d is not QEMU (%s): not a qemu-system-* or qemu-kvm binary", pid, exe);
    return NULL;
  }
  /* Relative paths against its own cwd (or left unresolved when that cannot be read), and the
   * files it really has open are judged. */
  g_autoptr(VsbQemuCmdline) cmd =
    vsb_qemu_cmdline_parse_process(opts ? opts->proc_root : NULL, pid, error);
  if (cmd == NULL)
    return NULL;
  VsbAuditOptions o = { 0 };
  if (opts)
    o = *opts;
  o.self_pid = pid;
  o.pid = pid;
  g_autofree char *source = g_strdup_printf("process %d", pid);
  return vsb_audit_cmdline(cmd, source, &o, error);
}

/* A parsed domain: resolved as libvirt would start it (the installed libvirt asked when its
 * version decides), judged, and the resolution's notes and findings (libvirt-refuses, ...) put
 * first in the report (libvirt-domain.h). */
static VsbAuditReport *
audit_domain(const VsbLibvirtDomain *dom, const char *nvram_dir, const VsbAuditOptions *opts,
             GError **error)
{
  VsbAuditOptions o = { 0 };
  if (opts)
    o = *opts;
  g_autoptr(GPtrArray) own_entries = NULL;
  if (o.firmware_entries == NULL) {
    own_entries = vsb_fw_search(o.firmware_dirs, error);
    if (own_entries == NULL)
      return NULL;
    o.firmware_entries = own_entries;
  }
  VsbLibvirtResolveOptions ropts = { .nvram_dir = nvram_dir };
  g_autofree char *source = g_strdup_printf("libvirt domain %s", dom->origin);
  /* libvirt starts the domain as -name guest=NAME: its own QEMU is not another user. */
  return vsb_libvirt_domain_audit(dom, &ropts, &o, FALSE, source, error);
}

VsbAuditReport *
vsb_audit_libvirt_xml(const char *xml, gsize len, const char *origin, const char *nvram_dir,
                      const VsbAuditOptions *opts, GError **error)
{
  g_autoptr(VsbLibvirtDomain) dom = vsb_libvirt_domain_parse(xml, len, origin, error);
  if (dom == NULL)
    return NULL;
  return audit_domain(dom, nvram_dir, opts, error);
}

VsbAuditReport *
vsb_audit_libvirt_file(const char *path, const char *nvram_dir, const VsbAuditOptions *opts,
                       GError **error)
{
  g_autoptr(VsbLibvirtDomain) dom = vsb_libvirt_domain_load(path, error);
  if (dom == NULL)
    return NULL;
  return audit_domain(dom, nvram_dir, opts, error);
}

/* The command line vsboot run would start the VM with (its TPM left out: it does not change
 * the firmware setup), for the QEMU installed now (7.2's when none is found). */
static VsbQemuCmdline *
cmdline_for_vm(const VsbVm *vm, GError **error)
{
  VsbQemuArgvOptions aopts = { 0 };
  aopts.qemu_major = 7;
  aopts.qemu_minor = 2;
  g_autofree char *binary = vsb_qemu_find_binary(vm->arch, NULL);
  if (binary)
    vsb_qemu_get_version(binary, &aopts.qemu_major, &aopts.qemu_minor, NULL);
  aopts.no_tpm = TRUE;
  g_autoptr(GPtrArray) args = vsb_qemu_argv_build(vm, &aopts, error);
  if (args == NULL)
    return NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(argv, vsb_qemu_binary_name(vm->arch));
  for (guint i = 0; i < args->len; i++)
    g_ptr_array_add(argv, g_strdup(args->pdata[i]));
  return vsb_qemu_cmdline_parse((const char *const *)argv->pdata, (int)argv->len, NULL, error);
}

VsbAuditReport *
vsb_audit_vm(const char *state_dir, const char *name, const VsbAuditOptions *opts,
             GError **error)
{
  g_autoptr(VsbVm) vm = vsb_vm_load(state_dir, name, error);
  if (vm == NULL)
    return NULL;
  g_autoptr(VsbQemuCmdline) cmd = cmdline_for_vm(vm, error);
  if (cmd == NULL)
    return NULL;
  VsbAuditOptions o = { 0 };
  if (opts)
    o = *opts;
  o.expected_code_sha256 = vm->executable_sha256;
  /* vsboot run starts the VM as -name guest=NAME. */
  o.self_name = name;
  g_autofree char *source = g_strdup_printf("provisioned VM %s", name);
  return vsb_audit_cmdline(cmd, source, &o, error);
}
