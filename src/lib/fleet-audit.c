/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's way into the single-VM audit: one call per source of a VM, each building the
 * command line the VM runs and judging it with vsb_audit_cmdline, with the setup (descriptors,
 * QEMU versions) shared by the whole scan. */
#include "fleet-private.h"

#include "vsboot/error.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-argv.h"
#include "vsboot/qemu-cmdline.h"
#include "vsboot/qemu-probe.h"
#include "vsboot/vm.h"

void
fleet_audit_options(const FleetScan *scan, VsbAuditOptions *out)
{
  *out = (VsbAuditOptions){ 0 };
  out->firmware_entries = scan->entries;
  out->proc_root = scan->opts->proc_root;
  out->no_process_scan = scan->opts->no_processes;
}

VsbAuditReport *
fleet_audit_libvirt_xml(FleetScan *scan, const char *xml, gsize len, const char *origin,
                        int self_pid, GError **error)
{
  g_autoptr(VsbLibvirtDomain) dom = vsb_libvirt_domain_parse(xml, len, origin, error);
  if (dom == NULL)
    return NULL;
  g_autoptr(VsbLibvirtResolved) res =
    vsb_libvirt_domain_resolve(dom, scan->entries, scan->opts->nvram_dir, error);
  if (res == NULL)
    return NULL;
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  opts.varstore_template = res->nvram_template;
  /* libvirt starts the domain as -name guest=NAME: that QEMU is this VM, not another user of
   * its varstore. */
  opts.self_name = dom->name;
  opts.self_pid = self_pid;
  g_autofree char *source = g_strdup_printf("libvirt domain %s", origin);
  VsbAuditReport *r = vsb_audit_cmdline(res->cmdline, source, &opts, error);
  if (r)
    for (guint i = 0; i < res->notes->len; i++)
      g_ptr_array_insert(r->notes, (gint)i, g_strdup(res->notes->pdata[i]));
  return r;
}

/* The QEMU version that decides -blockdev or -drive, asked once per architecture per scan. */
static void
qemu_version(FleetScan *scan, VsbFwArch arch, VsbQemuArgvOptions *aopts)
{
  g_autofree char *key = vsb_qemu_binary_name(arch);
  gpointer v;
  if (!g_hash_table_lookup_extended(scan->qemu_versions, key, NULL, &v)) {
    guint major = 7, minor = 2;
    g_autofree char *binary = vsb_qemu_find_binary(arch, NULL);
    if (binary)
      vsb_qemu_get_version(binary, &major, &minor, NULL);
    v = GUINT_TO_POINTER(major << 16 | minor);
    g_hash_table_insert(scan->qemu_versions, g_steal_pointer(&key), v);
  }
  aopts->qemu_major = GPOINTER_TO_UINT(v) >> 16;
  aopts->qemu_minor = GPOINTER_TO_UINT(v) & 0xffff;
}

VsbAuditReport *
fleet_audit_state_vm(FleetScan *scan, const char *state_dir, const char *name, int self_pid,
                     GError **error)
{
  g_autoptr(VsbVm) vm = vsb_vm_load(state_dir, name, error);
  if (vm == NULL)
    return NULL;
  VsbQemuArgvOptions aopts = { 0 };
  qemu_version(scan, vm->arch, &aopts);
  aopts.no_tpm = TRUE;
  g_autoptr(GPtrArray) args = vsb_qemu_argv_build(vm, &aopts, error);
  if (args == NULL)
    return NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(argv, vsb_qemu_binary_name(vm->arch));
  for (guint i = 0; i < args->len; i++)
    g_ptr_array_add(argv, g_strdup(args->pdata[i]));
  g_autoptr(VsbQemuCmdline) cmd =
    vsb_qemu_cmdline_parse((const char *const *)argv->pdata, (int)argv->len, NULL, error);
  if (cmd == NULL)
    return NULL;
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  opts.expected_code_sha256 = vm->executable_sha256;
  /* vsboot run starts the VM as -name guest=NAME. */
  opts.self_name = name;
  opts.self_pid = self_pid;
  g_autofree char *source = g_strdup_printf("provisioned VM %s", name);
  return vsb_audit_cmdline(cmd, source, &opts, error);
}

VsbAuditReport *
fleet_audit_process(FleetScan *scan, int pid, GError **error)
{
  /* Relative paths against its own cwd, and the files it really has open are judged. */
  g_autoptr(VsbQemuCmdline) cmd =
    vsb_qemu_cmdline_parse_process(scan->opts->proc_root, pid, error);
  if (cmd == NULL)
    return NULL;
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  opts.self_pid = pid;
  opts.pid = pid;
  g_autofree char *source = g_strdup_printf("process %d", pid);
  return vsb_audit_cmdline(cmd, source, &opts, error);
}
