/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet (fleet.h): enumerate the VMs of every source, tell each QEMU process to the VM it
 * runs, and judge every VM with the single-VM audit. */
#include "fleet-private.h"
#include "util/procpid.h"

#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "vsboot/fwsearch.h"
#include "vsboot/qemu-cmdline.h"
#include "vsboot/varstore.h"
#include "vsboot/vm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
vsb_fleet_source_name(VsbFleetSource source)
{
  switch (source) {
  case VSB_FLEET_LIBVIRT: return "libvirt";
  case VSB_FLEET_STATE_DIR: return "state-dir";
  case VSB_FLEET_PROCESS: return "process";
  }
  return "unknown";
}

VsbFinding *
fleet_failure_new(const char *what, const GError *error)
{
  VsbFinding *f = g_new0(VsbFinding, 1);
  f->id = g_strdup("vm-unreadable");
  f->severity = VSB_SEVERITY_ERROR;
  f->message = g_strdup_printf("%s could not be judged, so nothing about its Secure Boot is "
                               "known: %s", what, error ? error->message : "no reason given");
  f->evidence = g_strdup(error ? error->message : "");
  f->fix = g_strdup("make its definition readable and valid, then audit it again");
  return f;
}

static void
fleet_vm_free(VsbFleetVm *vm)
{
  g_free(vm->name);
  g_free(vm->origin);
  g_free(vm->uuid);
  vsb_audit_report_free(vm->audit);
  vsb_finding_free(vm->failure);
  if (vm->microsoft)
    vsb_ms_state_free(vm->microsoft);
  g_free(vm->writable_store);
  g_free(vm);
}

void
vsb_fleet_free(VsbFleet *fleet)
{
  if (fleet == NULL)
    return;
  g_ptr_array_unref(fleet->vms);
  g_ptr_array_unref(fleet->notes);
  g_free(fleet);
}

gboolean
vsb_fleet_vm_microsoft_2023(const VsbFleetVm *vm)
{
  if (vm->microsoft == NULL || vm->microsoft->missing_successor)
    return FALSE;
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    if ((VSB_MS_SET_2023 & (1u << i)) && vm->microsoft->state[i] == VSB_MS_ENROLLED)
      return TRUE;
  return FALSE;
}

gboolean
vsb_fleet_vm_rollover_needed(const VsbFleetVm *vm)
{
  return vm->microsoft && vm->microsoft->missing_successor;
}

VsbFleetVm *
fleet_vm_add(FleetScan *scan, VsbFleetSource source, const char *name, const char *origin)
{
  VsbFleetVm *vm = g_new0(VsbFleetVm, 1);
  vm->source = source;
  vm->name = g_strdup(name);
  vm->origin = g_strdup(origin);
  vm->dbx_entries = -1;
  g_ptr_array_add(scan->fleet->vms, vm);
  return vm;
}

static gboolean
is_regular(const char *path)
{
  struct stat st;
  return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The Microsoft CA state of the store the audit judged: read once more, here, because the
 * audit report keeps counts, not the store. */
void
fleet_vm_set_audit(VsbFleetVm *vm, VsbAuditReport *report, const char *what, GError *error)
{
  if (report == NULL) {
    vm->failure = fleet_failure_new(what, error);
    vm->enforced = FALSE;
    g_clear_error(&error);
    return;
  }
  vm->audit = report;
  vm->enforced = report->enforced;
  const VsbAuditModel *m = &report->model;
  vm->dbx_entries = m->n_dbx;
  if (m->varstore_read && m->secure_boot) {
    g_autoptr(VsbVarstore) store = vsb_varstore_load(m->varstore_read, NULL);
    if (store)
      vm->microsoft = vsb_secure_boot_microsoft_state(store);
  }
  /* A rollover writes only the VM's own store, never a template libvirt would copy. */
  if (vm->source != VSB_FLEET_PROCESS && m->varstore && is_regular(m->varstore) &&
      (m->varstore_read == NULL || strcmp(m->varstore_read, m->varstore) == 0))
    vm->writable_store = g_strdup(m->varstore);
}

/* ---- processes ------------------------------------------------------------------------- */

static void
fleet_proc_free(FleetProc *p)
{
  g_free(p->name);
  g_free(p->uuid);
  g_free(p);
}

static gboolean
is_qemu_argv0(const char *argv0)
{
  g_autofree char *base = g_path_get_basename(argv0);
  return (g_str_has_prefix(base, "qemu-system-") && base[strlen("qemu-system-")] != '\0') ||
         strcmp(base, "qemu-kvm") == 0;
}

/* -name NAME or -name guest=NAME,... (QemuOpts: ",," is a comma in the value). */
static void
proc_identity(FleetProc *p, char **argv)
{
  for (char **a = argv + 1; a[0]; a++) {
    if (a[1] == NULL)
      break;
    const char *opt = a[0][0] == '-' && a[0][1] == '-' ? a[0] + 1 : a[0];
    if (strcmp(opt, "-name") == 0) {
      g_autoptr(VsbQemuOpts) o = vsb_qemu_opts_parse(a[1], "guest", FALSE, NULL);
      const char *v = o ? vsb_qemu_opts_get(o, "guest") : NULL;
      g_free(p->name);
      p->name = v ? g_strdup(v) : NULL;
    } else if (strcmp(opt, "-uuid") == 0) {
      g_free(p->uuid);
      p->uuid = g_ascii_strdown(a[1], -1);
    }
  }
  for (char **a = argv + 1; a[0]; a++)
    if (strcmp(a[0], "-tpmdev") == 0 || strcmp(a[0], "--tpmdev") == 0)
      p->tpm = TRUE;
}

/* The process's mount namespace differs from ours: the paths on its command line name files
 * of its own view (a container, a private /tmp). */
static gboolean
other_mount_ns(const char *proc, int pid)
{
  g_autofree char *mine_link = g_build_filename(proc, "self", "ns", "mnt", NULL);
  g_autofree char *pid_dir = g_strdup_printf("%d", pid);
  g_autofree char *its_link = g_build_filename(proc, pid_dir, "ns", "mnt", NULL);
  g_autofree char *mine = g_file_read_link(mine_link, NULL);
  g_autofree char *its = g_file_read_link(its_link, NULL);
  return mine && its && strcmp(mine, its) != 0;
}

static FleetProc *
read_proc(const char *proc, int pid)
{
  g_auto(GStrv) argv = vsb_qemu_read_proc_cmdline(proc, pid, NULL);
  if (argv == NULL || argv[0] == NULL || !is_qemu_argv0(argv[0]))
    return NULL;
  FleetProc *p = g_new0(FleetProc, 1);
  p->pid = pid;
  p->other_mnt_ns = other_mount_ns(proc, pid);
  proc_identity(p, argv);
  g_autoptr(VsbQemuCmdline) cmd = vsb_qemu_cmdline_parse_process(proc, pid, NULL);
  VsbQemuFlash fl = { 0 };
  struct stat st;
  if (cmd && vsb_qemu_cmdline_get_flash(cmd, 1, &fl, NULL) && fl.present && fl.file &&
      g_path_is_absolute(fl.file) && stat(fl.file, &st) == 0) {
    p->has_store = TRUE;
    p->dev = st.st_dev;
    p->ino = st.st_ino;
  }
  vsb_qemu_flash_clear(&fl);
  return p;
}

static void
scan_processes(FleetScan *scan)
{
  const char *proc = scan->opts->proc_root ? scan->opts->proc_root : "/proc";
  g_autoptr(GDir) dir = g_dir_open(proc, 0, NULL);
  if (dir == NULL) {
    g_ptr_array_add(scan->fleet->notes,
                    g_strdup_printf("processes: %s cannot be read: no running QEMU listed", proc));
    return;
  }
  const char *entry;
  int self = (int)getpid();
  while ((entry = g_dir_read_name(dir))) {
    int pid = vsb_proc_entry_pid(entry);
    if (pid == 0 || pid == self)
      continue;
    FleetProc *p = read_proc(proc, pid);
    if (p)
      g_ptr_array_add(scan->procs, p);
  }
}

FleetProc *
fleet_proc_for_domain(FleetScan *scan, const char *name, const char *uuid)
{
  for (guint i = 0; i < scan->procs->len; i++) {
    FleetProc *p = scan->procs->pdata[i];
    if (uuid && p->uuid && g_ascii_strcasecmp(uuid, p->uuid) == 0)
      return p;
  }
  for (guint i = 0; i < scan->procs->len; i++) {
    FleetProc *p = scan->procs->pdata[i];
    if (!p->claimed && name && p->name && strcmp(name, p->name) == 0)
      return p;
  }
  return NULL;
}

/* A state-dir VM's QEMU: its name and its very varstore file. */
static FleetProc *
proc_for_state_vm(FleetScan *scan, const char *name, const char *varstore)
{
  struct stat st;
  if (varstore == NULL || stat(varstore, &st) != 0)
    return NULL;
  for (guint i = 0; i < scan->procs->len; i++) {
    FleetProc *p = scan->procs->pdata[i];
    if (!p->claimed && p->name && strcmp(p->name, name) == 0 && p->has_store &&
        p->dev == st.st_dev && p->ino == st.st_ino)
      return p;
  }
  return NULL;
}

/* ---- state directories ----------------------------------------------------------------- */

/* The libvirt domain whose own varstore is this file (device and inode), or NULL. */
static const VsbFleetVm *
libvirt_vm_with_store(FleetScan *scan, const char *varstore)
{
  struct stat mine, st;
  if (varstore == NULL || stat(varstore, &mine) != 0)
    return NULL;
  for (guint i = 0; i < scan->fleet->vms->len; i++) {
    const VsbFleetVm *vm = scan->fleet->vms->pdata[i];
    if (vm->source == VSB_FLEET_LIBVIRT && vm->writable_store &&
        stat(vm->writable_store, &st) == 0 && st.st_dev == mine.st_dev &&
        st.st_ino == mine.st_ino)
      return vm;
  }
  return NULL;
}

static void
judge_state_vm(FleetScan *scan, const char *dir, const char *name)
{
  VsbFleetVm *vm = fleet_vm_add(scan, VSB_FLEET_STATE_DIR, name, dir);
  GError *error = NULL;
  g_autoptr(VsbVm) state = vsb_vm_load(dir, name, &error);
  if (state == NULL) {
    g_autofree char *what = g_strdup_printf("the state file of %s", name);
    fleet_vm_set_audit(vm, NULL, what, error);
    return;
  }
  const VsbFleetVm *same = libvirt_vm_with_store(scan, state->varstore);
  if (same) {
    /* vsboot libvirt-xml gives the domain the state-dir varstore: one VM, which libvirt
     * starts, listed once as the domain. */
    g_ptr_array_add(scan->fleet->notes,
                    g_strdup_printf("state-dir %s: %s is libvirt domain %s (the same varstore)",
                                    dir, name, same->name));
    g_ptr_array_remove(scan->fleet->vms, vm);
    return;
  }
  vm->uuid = g_strdup(state->uuid);
  vm->tpm = state->tpm_state_dir != NULL;
  FleetProc *p = proc_for_state_vm(scan, name, state->varstore);
  if (p) {
    p->claimed = TRUE;
    vm->running = TRUE;
    vm->pid = p->pid;
  }
  VsbAuditReport *r = fleet_audit_state_vm(scan, dir, name, vm->pid, &error);
  g_autofree char *what = g_strdup_printf("provisioned VM %s", name);
  fleet_vm_set_audit(vm, r, what, error);
}

/* The same directory given twice (or under two names) is listed once. */
static gboolean
same_dir_before(const char *const *dirs, guint index)
{
  struct stat a, b;
  if (stat(dirs[index], &a) != 0)
    return FALSE;
  for (guint i = 0; i < index; i++)
    if (stat(dirs[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
      return TRUE;
  return FALSE;
}

static gboolean
scan_state_dir(FleetScan *scan, guint index, GError **error)
{
  const char *dir = scan->opts->state_dirs[index];
  if (same_dir_before(scan->opts->state_dirs, index)) {
    g_ptr_array_add(scan->fleet->notes,
                    g_strdup_printf("state-dir %s: given before, listed once", dir));
    return TRUE;
  }
  g_autoptr(GDir) d = g_dir_open(dir, 0, error);
  if (d == NULL) {
    g_prefix_error(error, "state directory %s: ", dir);
    return FALSE;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *entry;
  while ((entry = g_dir_read_name(d)))
    if (entry[0] != '.' && g_str_has_suffix(entry, ".json") && strlen(entry) > 5)
      g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 5));
  guint before = scan->fleet->vms->len;
  for (guint i = 0; i < names->len; i++)
    judge_state_vm(scan, dir, names->pdata[i]);
  g_ptr_array_add(scan->fleet->notes,
                  g_strdup_printf("state-dir %s: %u VM(s)", dir, scan->fleet->vms->len - before));
  return TRUE;
}

/* ---- the scan -------------------------------------------------------------------------- */

static void
judge_other_processes(FleetScan *scan)
{
  const char *proc = scan->opts->proc_root ? scan->opts->proc_root : "/proc";
  guint n = 0;
  for (guint i = 0; i < scan->procs->len; i++) {
    FleetProc *p = scan->procs->pdata[i];
    if (p->claimed)
      continue;
    g_autofree char *fallback = g_strdup_printf("pid %d", p->pid);
    /* A name from another process's command line is arbitrary bytes. */
    g_autofree char *name = g_utf8_make_valid(p->name ? p->name : fallback, -1);
    VsbFleetVm *vm = fleet_vm_add(scan, VSB_FLEET_PROCESS, name, proc);
    vm->uuid = g_strdup(p->uuid);
    vm->running = TRUE;
    vm->pid = p->pid;
    vm->tpm = p->tpm;
    GError *error = NULL;
    VsbAuditReport *r = fleet_audit_process(scan, p->pid, &error);
    g_auto(GStrv) still = r ? NULL : vsb_qemu_read_proc_cmdline(proc, p->pid, NULL);
    if (r == NULL && (still == NULL || still[0] == NULL)) {
      /* It exited (or is a zombie) since the scan found it: no VM any more, not a finding. */
      g_ptr_array_add(scan->fleet->notes,
                      g_strdup_printf("processes: QEMU %d exited during the scan", p->pid));
      g_ptr_array_remove(scan->fleet->vms, vm);
      g_clear_error(&error);
      continue;
    }
    g_autofree char *what = g_strdup_printf("process %d", p->pid);
    fleet_vm_set_audit(vm, r, what, error);
    if (p->other_mnt_ns && vm->audit)
      g_ptr_array_insert(vm->audit->notes, 0,
                         g_strdup_printf("process %d runs in another mount namespace: the "
                                         "paths on its command line were looked up in this "
                                         "one, the files it has open are its own", p->pid));
    n++;
  }
  g_ptr_array_add(scan->fleet->notes,
                  g_strdup_printf("processes: %u QEMU process(es), %u not a libvirt domain's or "
                                  "a state-dir VM's", scan->procs->len, n));
}

static int
vm_compare(gconstpointer a, gconstpointer b)
{
  const VsbFleetVm *x = *(VsbFleetVm *const *)a, *y = *(VsbFleetVm *const *)b;
  if (x->source != y->source)
    return (int)x->source - (int)y->source;
  int c = strcmp(x->origin, y->origin);
  return c ? c : strcmp(x->name, y->name);
}

static void
scan_clear(FleetScan *scan)
{
  if (scan->owned_entries)
    g_ptr_array_unref(scan->owned_entries);
  g_ptr_array_unref(scan->procs);
  vsb_audit_cache_free(scan->cache);
}

VsbFleet *
vsb_fleet_scan(const VsbFleetOptions *opts, GError **error)
{
  gint64 start = g_get_monotonic_time();
  FleetScan scan = { .opts = opts };
  scan.entries = opts->firmware_entries;
  if (scan.entries == NULL && !(scan.entries = scan.owned_entries = vsb_fw_search(NULL, error)))
    return NULL;
  scan.procs = g_ptr_array_new_with_free_func((GDestroyNotify)fleet_proc_free);
  scan.cache = vsb_audit_cache_new();
  g_autoptr(VsbFleet) fleet = g_new0(VsbFleet, 1);
  fleet->vms = g_ptr_array_new_with_free_func((GDestroyNotify)fleet_vm_free);
  fleet->notes = g_ptr_array_new_with_free_func(g_free);
  scan.fleet = fleet;
  /* Processes first: every source claims its own QEMU, and what is left is another VM. */
  if (!opts->no_processes)
    scan_processes(&scan);
  else
    g_ptr_array_add(fleet->notes, g_strdup("processes: not scanned (running state comes from "
                                           "libvirt alone)"));
  gboolean ok = opts->no_libvirt || fleet_scan_libvirt(&scan, error);
  for (guint i = 0; ok && opts->state_dirs && opts->state_dirs[i]; i++)
    ok = scan_state_dir(&scan, i, error);
  if (ok && !opts->no_processes)
    judge_other_processes(&scan);
  scan_clear(&scan);
  if (!ok)
    return NULL;
  g_ptr_array_sort(fleet->vms, vm_compare);
  for (guint i = 0; i < fleet->vms->len; i++)
    fleet->n_enforced += ((VsbFleetVm *)fleet->vms->pdata[i])->enforced;
  fleet->scan_seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
  return g_steal_pointer(&fleet);
}
