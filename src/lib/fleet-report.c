/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's reports: JSON, Prometheus text, and the rollover over every VM. */
#include "fleet-private.h"
#include "audit-private.h"

#include "vsboot/error.h"
#include "fileio.h"
#include "util/jsonb.h"

#include <string.h>

static void
add_vm_firmware(JsonBuilder *b, const VsbFleetVm *vm)
{
  const VsbAuditModel *m = vm->audit ? &vm->audit->model : NULL;
  json_builder_set_member_name(b, "firmware");
  if (m == NULL) {
    json_builder_add_null_value(b);
  } else {
    json_builder_begin_object(b);
    vsb_json_put_str(b, "code", m->code);
    vsb_json_put_str(b, "descriptor", m->descriptor);
    vsb_json_put_str(b, "via", m->firmware_via);
    json_builder_end_object(b);
  }
  vsb_json_put_str(b, "secure-boot", m ? m->secure_boot : NULL);
  vsb_json_put_str(b, "varstore", m ? m->varstore : NULL);
}

static void
add_vm(JsonBuilder *b, const VsbFleetVm *vm)
{
  json_builder_begin_object(b);
  vsb_json_put_str(b, "name", vm->name);
  vsb_json_put_str(b, "source", vsb_fleet_source_name(vm->source));
  vsb_json_put_str(b, "origin", vm->origin);
  vsb_json_put_str(b, "uuid", vm->uuid);
  vsb_json_put_bool(b, "running", vm->running);
  json_builder_set_member_name(b, "pid");
  if (vm->pid)
    json_builder_add_int_value(b, vm->pid);
  else
    json_builder_add_null_value(b);
  vsb_json_put_str(b, "verdict", vm->enforced ? "enforced" : "not-enforced");
  json_builder_set_member_name(b, "findings");
  json_builder_begin_array(b);
  if (vm->failure)
    vsb_finding_put_json(b, vm->failure);
  for (guint i = 0; vm->audit && i < vm->audit->findings->len; i++)
    vsb_finding_put_json(b, vm->audit->findings->pdata[i]);
  json_builder_end_array(b);
  add_vm_firmware(b, vm);
  json_builder_set_member_name(b, "microsoft");
  if (vm->microsoft)
    json_builder_add_value(b, vsb_ms_state_to_json(vm->microsoft));
  else
    json_builder_add_null_value(b);
  vsb_json_put_bool(b, "microsoft-2023", vsb_fleet_vm_microsoft_2023(vm));
  vsb_json_put_bool(b, "rollover-needed", vsb_fleet_vm_rollover_needed(vm));
  json_builder_set_member_name(b, "dbx-entries");
  if (vm->dbx_entries >= 0)
    json_builder_add_int_value(b, vm->dbx_entries);
  else
    json_builder_add_null_value(b);
  vsb_json_put_bool(b, "tpm", vm->tpm);
  vsb_json_put_strings(b, "notes", vm->audit ? vm->audit->notes : NULL);
  json_builder_end_object(b);
}

JsonNode *
vsb_fleet_to_json(const VsbFleet *fleet)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "vms");
  json_builder_begin_array(b);
  for (guint i = 0; i < fleet->vms->len; i++)
    add_vm(b, fleet->vms->pdata[i]);
  json_builder_end_array(b);
  vsb_json_put_int(b, "enforced", fleet->n_enforced);
  vsb_json_put_int(b, "not-enforced", fleet->vms->len - fleet->n_enforced);
  json_builder_set_member_name(b, "scan-seconds");
  json_builder_add_double_value(b, fleet->scan_seconds);
  vsb_json_put_strings(b, "notes", fleet->notes);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* ---- Prometheus ------------------------------------------------------------------------ */

/* A label value: valid UTF-8 with \\, \" and \n escaped (the exposition format's rules). */
static void
append_label(GString *s, const char *key, const char *value)
{
  g_autofree char *valid = g_utf8_make_valid(value ? value : "", -1);
  g_string_append_printf(s, "%s=\"", key);
  for (const char *p = valid; *p; p++) {
    if (*p == '\\')
      g_string_append(s, "\\\\");
    else if (*p == '"')
      g_string_append(s, "\\\"");
    else if (*p == '\n')
      g_string_append(s, "\\n");
    else
      g_string_append_c(s, *p);
  }
  g_string_append_c(s, '"');
}

/* Every VM's label set, each unique: a second VM with the same name, source and uuid (two
 * processes without -uuid) gets " #2" on its name, or the series would collide. */
static GPtrArray *
vm_labels(const VsbFleet *fleet)
{
  GPtrArray *labels = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < fleet->vms->len; i++) {
    const VsbFleetVm *vm = fleet->vms->pdata[i];
    g_autofree char *name = g_strdup(vm->name);
    for (guint n = 2;; n++) {
      g_autoptr(GString) s = g_string_new(NULL);
      append_label(s, "vm", name);
      g_string_append_c(s, ',');
      append_label(s, "source", vsb_fleet_source_name(vm->source));
      g_string_append_c(s, ',');
      append_label(s, "uuid", vm->uuid);
      if (!g_hash_table_contains(seen, s->str)) {
        g_hash_table_add(seen, g_strdup(s->str));
        g_ptr_array_add(labels, g_string_free(g_steal_pointer(&s), FALSE));
        break;
      }
      g_free(name);
      name = g_strdup_printf("%s #%u", vm->name, n);
    }
  }
  return labels;
}

static void
metric_head(GString *s, const char *name, const char *help)
{
  g_string_append_printf(s, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static guint
count_severity(const VsbFleetVm *vm, VsbSeverity sev)
{
  guint n = vm->failure && vm->failure->severity == sev;
  for (guint i = 0; vm->audit && i < vm->audit->findings->len; i++)
    n += ((VsbFinding *)vm->audit->findings->pdata[i])->severity == sev;
  return n;
}

static void
vm_metric(GString *s, const VsbFleet *fleet, GPtrArray *labels, const char *name,
          const char *help, int (*value)(const VsbFleetVm *))
{
  metric_head(s, name, help);
  for (guint i = 0; i < fleet->vms->len; i++) {
    int v = value(fleet->vms->pdata[i]);
    if (v >= 0)
      g_string_append_printf(s, "%s{%s} %d\n", name, (char *)labels->pdata[i], v);
  }
}

static int m_enforced(const VsbFleetVm *vm) { return vm->enforced; }
static int m_ms2023(const VsbFleetVm *vm) { return vsb_fleet_vm_microsoft_2023(vm); }
static int m_rollover(const VsbFleetVm *vm) { return vsb_fleet_vm_rollover_needed(vm); }
static int m_dbx(const VsbFleetVm *vm) { return vm->dbx_entries; }
static int m_running(const VsbFleetVm *vm) { return vm->running; }

char *
vsb_fleet_to_prometheus(const VsbFleet *fleet)
{
  g_autoptr(GPtrArray) labels = vm_labels(fleet);
  GString *s = g_string_new(NULL);
  vm_metric(s, fleet, labels, "vsboot_vm_secure_boot_enforced",
            "1 when vsboot's audit judges Secure Boot enforced in the VM (no error finding)",
            m_enforced);
  vm_metric(s, fleet, labels, "vsboot_vm_microsoft_ca_2023",
            "1 when the VM's varstore trusts the Microsoft 2023 CAs succeeding every 2011 CA "
            "it trusts", m_ms2023);
  vm_metric(s, fleet, labels, "vsboot_vm_microsoft_rollover_needed",
            "1 when a Microsoft 2011 CA the VM trusts lacks its 2023 successor", m_rollover);
  vm_metric(s, fleet, labels, "vsboot_vm_dbx_entries",
            "Entries in the VM's dbx (absent when the varstore could not be read)", m_dbx);
  vm_metric(s, fleet, labels, "vsboot_vm_running", "1 when the VM's QEMU is running",
            m_running);
  metric_head(s, "vsboot_vm_findings", "Audit findings of the VM, by severity");
  static const VsbSeverity sevs[] = { VSB_SEVERITY_ERROR, VSB_SEVERITY_WARNING,
                                      VSB_SEVERITY_INFO };
  for (guint i = 0; i < fleet->vms->len; i++)
    for (guint j = 0; j < G_N_ELEMENTS(sevs); j++)
      g_string_append_printf(s, "vsboot_vm_findings{%s,severity=\"%s\"} %u\n",
                             (char *)labels->pdata[i], vsb_severity_name(sevs[j]),
                             count_severity(fleet->vms->pdata[i], sevs[j]));
  metric_head(s, "vsboot_fleet_vms", "VMs vsboot found on the host");
  g_string_append_printf(s, "vsboot_fleet_vms %u\n", fleet->vms->len);
  metric_head(s, "vsboot_fleet_scan_seconds", "Seconds the last vsboot fleet scan took");
  g_string_append_printf(s, "vsboot_fleet_scan_seconds %.6f\n", fleet->scan_seconds);
  return g_string_free(s, FALSE);
}

gboolean
vsb_fleet_write_prometheus(const VsbFleet *fleet, const char *path, GError **error)
{
  g_autofree char *text = vsb_fleet_to_prometheus(fleet);
  VsbWriteOptions wopts = { .mode = 0644 };
  if (!vsb_file_write_atomic_full(path, text, strlen(text), &wopts, error)) {
    g_prefix_error(error, "metrics file: ");
    return FALSE;
  }
  return TRUE;
}

/* ---- rollover at scale ----------------------------------------------------------------- */

const char *
vsb_fleet_rollover_reminder(void)
{
  return "Adding CAs to KEK and db changes what the firmware measures into PCR 7: a guest "
         "that seals a secret to PCR 7 (Windows BitLocker, systemd-cryptenroll "
         "--tpm2-pcrs=7) asks for its recovery key at the next boot. Suspend BitLocker in the "
         "guest first (manage-bde -protectors -disable C: -RebootCount 1), and have the "
         "recovery keys at hand.";
}

void
vsb_fleet_rollover_free(VsbFleetRollover *ro)
{
  if (ro == NULL)
    return;
  if (ro->changes)
    g_ptr_array_unref(ro->changes);
  g_free(ro->error);
  g_free(ro);
}

const char *
vsb_fleet_rollover_state(const VsbFleetRollover *ro)
{
  switch (ro->kind) {
  case VSB_FLEET_RO_DONE: return vsb_rollover_status_name(ro->status);
  case VSB_FLEET_RO_PENDING: return "pending";
  case VSB_FLEET_RO_NO_STORE: return "no-store";
  case VSB_FLEET_RO_FAILED: return "failed";
  }
  return "unknown";
}

static VsbFleetRollover *
rollover_vm(const VsbFleetVm *vm, gboolean apply)
{
  VsbFleetRollover *ro = g_new0(VsbFleetRollover, 1);
  ro->changes = g_ptr_array_new_with_free_func(g_free);
  if (vm->failure) {
    ro->kind = VSB_FLEET_RO_FAILED;
    ro->error = g_strdup("the VM could not be read (see its finding)");
    return ro;
  }
  if (vm->writable_store == NULL) {
    /* Nothing vsboot may write; what the audit read still says whether it is needed. */
    if (vm->microsoft && !vsb_fleet_vm_rollover_needed(vm)) {
      ro->kind = VSB_FLEET_RO_DONE;
      ro->status = vsb_fleet_vm_microsoft_2023(vm) ? VSB_ROLLOVER_UP_TO_DATE
                                                   : VSB_ROLLOVER_NOT_MICROSOFT;
      return ro;
    }
    ro->kind = vm->running ? VSB_FLEET_RO_PENDING : VSB_FLEET_RO_NO_STORE;
    ro->error = g_strdup(vm->source == VSB_FLEET_PROCESS
                           ? "a QEMU that no state directory or libvirt domain describes: "
                             "vsboot does not write its varstore"
                           : vm->running ? "running: its varstore is not written"
                                         : "no varstore of its own yet (libvirt creates it "
                                           "from the template at the first start)");
    return ro;
  }
  GError *error = NULL;
  GPtrArray *changes = NULL;
  /* A running VM's store is only looked at (a dry run), never written. */
  gboolean dry = !apply || vm->running;
  if (!vsb_rollover_file(vm->writable_store, dry, &ro->status, &changes, &error)) {
    ro->kind = VSB_FLEET_RO_FAILED;
    ro->error = g_strdup(error->message);
    g_error_free(error);
    return ro;
  }
  g_ptr_array_unref(ro->changes);
  ro->changes = changes;
  ro->kind = VSB_FLEET_RO_DONE;
  if (vm->running && ro->status == VSB_ROLLOVER_WOULD_CHANGE)
    ro->kind = VSB_FLEET_RO_PENDING;
  return ro;
}

GPtrArray *
vsb_fleet_rollover(const VsbFleet *fleet, gboolean apply)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_fleet_rollover_free);
  for (guint i = 0; i < fleet->vms->len; i++)
    g_ptr_array_add(out, rollover_vm(fleet->vms->pdata[i], apply));
  return out;
}

JsonNode *
vsb_fleet_rollover_to_json(const VsbFleetRollover *ro)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "status", vsb_fleet_rollover_state(ro));
  vsb_json_put_strings(b, "changes", ro->changes);
  vsb_json_put_str(b, "error", ro->error);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
