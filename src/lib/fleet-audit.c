/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's way into the single-VM audit (audit.h): one call per source of a VM, with the
 * descriptor list shared by the whole scan and the VM's own QEMU, when the scan found it,
 * named by its pid (never "another user" of the VM's varstore). */
#include "fleet-private.h"

#include "vsboot/libvirt-domain.h"

void
fleet_audit_options(const FleetScan *scan, VsbAuditOptions *out)
{
  *out = (VsbAuditOptions){ 0 };
  out->firmware_entries = scan->entries;
  out->proc_root = scan->opts->proc_root;
  out->no_process_scan = scan->opts->no_processes;
  out->cache = scan->cache;
  /* Whether this host's KVM runs SMM decides whether a KVM VM with SMM starts at all
   * (kvm-without-smm); the audit asks QEMU only where it decides, once per scan (the cache). */
  out->probe_host_kvm = TRUE;
}

VsbAuditReport *
fleet_audit_libvirt_xml(FleetScan *scan, const char *xml, gsize len, const char *origin,
                        guint64 libvirt_version, int self_pid, GError **error)
{
  g_autoptr(VsbLibvirtDomain) dom = vsb_libvirt_domain_parse(xml, len, origin, error);
  if (dom == NULL)
    return NULL;
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  opts.self_pid = self_pid;
  /* The daemon that will start the domain said its version (virConnectGetLibVersion): the
   * installed libvirt is not asked, per domain, again. */
  VsbLibvirtResolveOptions ropts = { .nvram_dir = scan->opts->nvram_dir,
                                     .libvirt_version = libvirt_version };
  g_autofree char *source = g_strdup_printf("libvirt domain %s", origin);
  return vsb_libvirt_domain_audit(dom, &ropts, &opts, FALSE, source, error);
}

VsbAuditReport *
fleet_audit_state_vm(FleetScan *scan, const char *state_dir, const char *name, int self_pid,
                     GError **error)
{
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  opts.self_pid = self_pid;
  return vsb_audit_vm(state_dir, name, &opts, error);
}

VsbAuditReport *
fleet_audit_process(FleetScan *scan, int pid, GError **error)
{
  VsbAuditOptions opts;
  fleet_audit_options(scan, &opts);
  return vsb_audit_process(pid, &opts, error);
}
