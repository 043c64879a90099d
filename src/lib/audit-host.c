/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's side of the audit: can this host's KVM run SMM? Asked only where the answer
 * decides whether the VM starts (kvm-without-smm), and probed only when the caller allows it:
 * the probe starts QEMU, which a fleet of a thousand VMs must not do per VM. */
#include "audit-private.h"
#include "inspect-cache.h"

#include "vsboot/vm-run.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char *const host_kvm_names[] = { "unknown", "smm", "no-smm", "absent" };

const char *
vsb_host_kvm_name(VsbHostKvm kvm)
{
  return (guint)kvm < G_N_ELEMENTS(host_kvm_names) ? host_kvm_names[kvm] : "unknown";
}

int
vsb_host_kvm_from_name(const char *name)
{
  for (guint i = 0; name && i < G_N_ELEMENTS(host_kvm_names); i++)
    if (strcmp(name, host_kvm_names[i]) == 0)
      return (int)i;
  return -1;
}

VsbHostKvm
vsb_host_kvm_probe(const char *qemu_binary, char **why, GError **error)
{
  /* Without /dev/kvm QEMU would fail for that reason alone, which says nothing about SMM. */
  if (access("/dev/kvm", F_OK) != 0 && errno == ENOENT) {
    if (why)
      *why = g_strdup("/dev/kvm does not exist");
    return VSB_HOST_KVM_ABSENT;
  }
  g_autofree char *reason = NULL;
  g_autoptr(GError) local = NULL;
  gboolean smm = vsb_kvm_can_smm(qemu_binary ? qemu_binary : "qemu-system-x86_64", &reason,
                                 &local);
  if (local) {
    g_propagate_prefixed_error(error, g_steal_pointer(&local),
                               "asking whether this host's KVM runs SMM: ");
    return VSB_HOST_KVM_UNKNOWN;
  }
  if (why)
    *why = g_steal_pointer(&reason);
  return smm ? VSB_HOST_KVM_SMM : VSB_HOST_KVM_NO_SMM;
}

/* Does the host's KVM decide whether this VM starts? QEMU uses the first accelerator that
 * initialises, so only KVM first matters; a running process evidently started. */
static gboolean
kvm_decides(const AuditCtx *c)
{
  const VsbQemuCmdline *cmd = c->cmd;
  if (!c->x86 || c->opts->pid != 0 || cmd->accels->len == 0 ||
      strcmp(cmd->accels->pdata[0], "kvm") != 0)
    return FALSE;
  return c->smm_explicit_on || (c->smm_opt == NULL || strcmp(c->smm_opt, "auto") == 0
                                  ? c->fw_known && c->fw_smm : FALSE);
}

/* The host's KVM as stated, probed (when allowed and decisive) or unknown, with a note where
 * unknown decides the verdict. Runs after the firmware is known (fw_smm). */
void
vsb_audit_model_host(AuditCtx *c)
{
  c->host_kvm = c->opts->host_kvm;
  c->kvm_decides = kvm_decides(c);
  if (!c->kvm_decides)
    return;
  if (c->host_kvm == VSB_HOST_KVM_UNKNOWN && c->opts->probe_host_kvm) {
    g_autoptr(GError) perr = NULL;
    c->host_kvm = vsb_audit_cache_host_kvm(c->opts->cache, NULL, &c->host_kvm_why, &perr);
    if (perr)
      c->host_kvm_why = g_strdup(perr->message);
    c->host_kvm_probed = c->host_kvm != VSB_HOST_KVM_UNKNOWN;
  }
  if (c->host_kvm != VSB_HOST_KVM_UNKNOWN)
    return;
  g_ptr_array_add(c->report->notes, g_strdup_printf(
    "the VM asks for KVM with %s, and whether this host's KVM runs SMM is unknown (%s): "
    "where it does not, %s; the verdict holds only where it does",
    c->smm_explicit_on ? "smm=on" : "SMM firmware and smm=auto",
    c->host_kvm_why ? c->host_kvm_why : "not stated and not probed",
    c->smm_explicit_on ? "QEMU refuses to start"
                       : "QEMU starts without SMM and the firmware stops at boot"));
}
