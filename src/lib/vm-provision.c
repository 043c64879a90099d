/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Provisioning a VM (vsb_vm_provision): its phases over one Provision record, and the journal
 * through which the VM's files change together. */
#define _GNU_SOURCE /* renameat2 */
#include "vsb-config.h"
#include "vsboot/vm.h"
#include "vm-private.h"
#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "filecache.h"
#include "fileio.h"
#include "fwimage.h"
#include "vsboot/fwsearch.h"
#include "vsboot/fwselect.h"
#include "vsboot/mscerts.h"
#include "qemu-probe.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "tool.h"
#include "vsboot/varstore.h"
#include "util/arch.h"
#include "util/autofd.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How a VM's files change together (provision, with or without reset). NAME.json and the
 * varstore must agree: a state file beside the varstore of another provisioning, or a varstore
 * without its state file, is a VM with the wrong keys or none at all. Two renames are never
 * one atomic step, so a provisioning is a small redo journal:
 *  1. Take the VM's lock (.NAME.lock; a second provisioning of NAME fails at once) and run
 *     recovery (6) for whatever a killed run left.
 *  2. Build every new file under its .vsb-new name, created exclusively, never through a
 *     symbolic link, fsync'd: the TPM directory (only when the VM has no TPM state yet), the
 *     varstore, the state file; then fsync the directory.
 *  3. Write the commit record (which files move, whether they replace, which old varstore
 *     name goes), fsync it and the directory: the commit point.
 *  4. Rename each .vsb-new file to its name (RENAME_NOREPLACE for a new VM), remove an old
 *     varstore of another name, fsync the directory.
 *  5. Remove the commit record, fsync the directory.
 *  6. Recovery, under the lock: with a complete commit record, redo 4 and 5 (a move whose
 *     .vsb-new file is gone was done before the kill); without one, or with a torn one,
 *     nothing at the VM's own names was touched yet: remove the .vsb-new names of this VM
 *     (regular files, or the TPM directory, owned by this user; anything else there is
 *     refused, never followed) and the torn record.
 * A kill at any point thus leaves the old pair (before 3) or the new pair (from 3 on, complete
 * once recovery ran). vsb_vm_load refuses a VM whose commit record exists: until recovery its
 * two files may disagree. */

/* ---- provisioning ------------------------------------------------------------------------ */

static void
note(GPtrArray *notes, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
note(GPtrArray *notes, const char *fmt, ...)
{
  if (notes == NULL)
    return;
  va_list ap;
  va_start(ap, fmt);
  g_ptr_array_add(notes, g_strdup_vprintf(fmt, ap));
  va_end(ap);
}

/* Checksums of firmware files are remembered per file version (filecache.h): provisioning
 * the thousandth VM from the same 4 MiB OVMF build does not hash it again. */
static char *
sha256_cached(const char *path, GError **error)
{
  char *sum = vsb_file_cache_get("sha256", path, "sha256");
  if (sum && strlen(sum) == 64)
    return sum;
  g_free(sum);
  sum = vsb_file_sha256(path, error);
  if (sum)
    vsb_file_cache_put("sha256", path, "sha256", sum);
  return sum;
}

/* PK.crt, KEK.crt, db.crt and owner.guid of a `vsboot keys generate` directory. */
typedef struct {
  X509 *cert[3];
  VsbGuid owner;
} UserKeys;

static void
user_keys_clear(UserKeys *k)
{
  for (int i = 0; i < 3; i++)
    if (k->cert[i])
      X509_free(k->cert[i]);
}

static gboolean
user_keys_load(const char *dir, UserKeys *k, GError **error)
{
  static const char *const files[3] = { "PK.crt", "KEK.crt", "db.crt" };
  memset(k, 0, sizeof *k);
  if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                "keys directory %s does not exist", dir);
    return FALSE;
  }
  for (int i = 0; i < 3; i++) {
    g_autofree char *p = g_build_filename(dir, files[i], NULL);
    k->cert[i] = vsb_cert_load(p, error);
    if (k->cert[i] == NULL) {
      user_keys_clear(k);
      return FALSE;
    }
  }
  g_autofree char *gp = g_build_filename(dir, "owner.guid", NULL);
  g_autoptr(GBytes) gb = vsb_file_read(gp, 4096, error);
  if (gb == NULL) {
    user_keys_clear(k);
    return FALSE;
  }
  g_autofree char *text = g_strndup(g_bytes_get_data(gb, NULL), g_bytes_get_size(gb));
  if (!vsb_guid_parse(g_strstrip(text), &k->owner)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a GUID", gp);
    user_keys_clear(k);
    return FALSE;
  }
  return TRUE;
}

static gboolean
collect_features(const char *const *names, VsbFwWant want, VsbFwRequest *req, GError **error)
{
  for (const char *const *n = names; n && *n; n++) {
    int f = vsb_fw_feature_from_name(*n);
    if (f < 0) {
      g_autoptr(GString) known = g_string_new(NULL);
      for (int i = 0; i < VSB_FW_FEATURE_COUNT; i++)
        g_string_append_printf(known, "%s%s", i ? ", " : "", vsb_fw_feature_name(i));
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown firmware feature '%s' (known: %s)",
                  *n, known->str);
      return FALSE;
    }
    if (req->features[f] != VSB_FW_WANT_ANY && req->features[f] != want) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "feature '%s' is both wanted and refused", *n);
      return FALSE;
    }
    req->features[f] = want;
  }
  return TRUE;
}


/* swtpm_setup normally takes well under a second; one that hangs (a stuck swtpm, a lock of
 * its own) must not hang provisioning with the VM's lock held. */
#define SWTPM_SETUP_TIMEOUT_S 60

static gboolean
run_swtpm_setup(const char *dir, gboolean certs, char **err_out, GError **error)
{
  const char *with_certs[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, "--create-ek-cert",
                               "--create-platform-cert", "--lock-nvram", NULL };
  const char *plain[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, NULL };
  g_autoptr(GError) local = NULL;
  g_autofree char *err = NULL;
  int status = -1;
  /* Dying with vsboot: a swtpm_setup that outlived a killed vsboot would go on writing into a
   * directory that recovery removes. */
  if (!vsb_tool_run_ex(certs ? with_certs : plain, NULL, SWTPM_SETUP_TIMEOUT_S * 1000,
                       VSB_TOOL_RUN_DIE_WITH_PARENT, NULL, &err, &status, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s (TPM state %s; swtpm_setup is in package "
                "swtpm-tools)", local->message, dir);
    return FALSE;
  }
  if (status != 0) {
    *err_out = g_strdup(err ? g_strstrip(err) : "");
    return FALSE;
  }
  return TRUE;
}

/* Who has the file open, or NULL: a QEMU takes OFD locks on its images (vsb_file_is_locked,
 * asked through /proc/self/fd so that it probes this very file, not whatever the name leads to
 * now); a QEMU started with locking=off, or any other process, shows as an open descriptor in
 * /proc (all of them for root, the caller's own otherwise). */
static char *
file_holder(int fd)
{
  g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", fd);
  if (vsb_file_is_locked(self, NULL))
    return g_strdup("a process holds a lock on it, as a running QEMU does");
  struct stat me;
  if (fstat(fd, &me) < 0)
    return NULL;
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
  const char *pid;
  while (proc && (pid = g_dir_read_name(proc))) {
    if (!g_ascii_isdigit(pid[0]) || g_ascii_strtoll(pid, NULL, 10) == (gint64)getpid())
      continue;
    g_autofree char *fds = g_build_filename("/proc", pid, "fd", NULL);
    g_autoptr(GDir) d = g_dir_open(fds, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
      g_autofree char *p = g_build_filename(fds, n, NULL);
      struct stat st;
      if (stat(p, &st) == 0 && vm_same_file(&st, &me)) {
        g_autofree char *comm_path = g_build_filename("/proc", pid, "comm", NULL);
        g_autoptr(GBytes) comm = vsb_file_read(comm_path, 64, NULL);
        g_autofree char *name =
          comm ? g_strndup(g_bytes_get_data(comm, NULL), g_bytes_get_size(comm)) : g_strdup("?");
        return g_strdup_printf("process %s (%s) has it open", pid, g_strstrip(name));
      }
    }
  }
  return NULL;
}

/* ---- provisioning: the plan, before any file is touched ---------------------------------- */

typedef struct {
  VsbVm *vm;
  VsbVarstore *store;      /* split: the template, the user's keys enrolled when asked */
  gboolean enrolled;       /* store holds the user's keys: written, not copied */
  char *vars_src;          /* the file a varstore is copied from */
  char *vars_base;         /* NAME_VARS.fd, ...; NULL without a varstore */
} Plan;

static void
plan_clear(Plan *p)
{
  g_clear_pointer(&p->vm, vsb_vm_free);
  g_clear_pointer(&p->store, vsb_varstore_free);
  g_clear_pointer(&p->vars_src, g_free);
  g_clear_pointer(&p->vars_base, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Plan, plan_clear)

/* The request as the selection sees it: the machine resolved, features wanted and refused,
 * and what Secure Boot implies (our keys need a Secure Boot build; on x86 Secure Boot needs
 * SMM, or the guest OS could rewrite the varstore). */
static VsbMachineResolution *
plan_request(const VsbProvisionRequest *r, VsbFwArch arch, VsbFwRequest *req, GPtrArray *notes,
             GError **error)
{
  g_autoptr(VsbMachineResolution) res = vsb_qemu_resolve_machine(arch, r->machine, error);
  if (res == NULL)
    return NULL;
  note(notes, "machine: %s", res->note);
  vsb_fw_request_init(req);
  req->arch = arch;
  req->machine = res->machine;
  req->machine_family = res->family;
  req->interface = VSB_FW_INTERFACE_UEFI;
  if (!collect_features(r->features, VSB_FW_WANT_YES, req, error) ||
      !collect_features(r->no_features, VSB_FW_WANT_NO, req, error))
    return NULL;
  VsbFwWant *f = req->features;
  if (r->enrolled_keys) {
    if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "the enrolled-keys template is both asked for and refused (enrolled-keys and no-feature "
                  "enrolled-keys contradict each other)");
      return NULL;
    }
    f[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  }
  if (r->keys_dir) {
    /* Our keys go into a Secure Boot firmware; a template without vendor keys unless the
     * user asked for them (then ours are added beside them). */
    if (f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "a keys directory enrolls Secure Boot keys, but the secure-boot feature is refused");
      return NULL;
    }
    f[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
    if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_ANY)
      f[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_NO;
  }
  if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_YES &&
      f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_ANY)
    f[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  if (vsb_arch_is_x86(arch) && f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_YES) {
    if (f[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "secure-boot without requires-smm is refused on x86: without SMM the guest "
                  "OS can rewrite the varstore and with it PK, KEK and db");
      return NULL;
    }
    if (f[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_ANY)
      note(notes, "request: secure-boot on x86 also requires requires-smm");
    f[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  }
  return g_steal_pointer(&res);
}

/* The descriptor libvirt would choose, or why none fits. */
static VsbFwSelection *
plan_select(GPtrArray *entries, const VsbFwRequest *req, GPtrArray *notes, GError **error)
{
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, req, error);
  if (sel == NULL)
    return NULL;
  if (sel->chosen == NULL) {
    g_autoptr(GString) why = g_string_new(NULL);
    for (guint i = 0; i < sel->verdicts->len; i++) {
      VsbFwVerdict *v = sel->verdicts->pdata[i];
      g_string_append_printf(why, "\n  %s: %s", v->entry->name, v->reason ? v->reason : v->reason_id);
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_NO_MATCH,
                "no firmware descriptor matches %s %s%s%s", vsb_fw_arch_name(req->arch),
                req->machine, why->len ? ":" : " (no descriptors found)", why->str);
    return NULL;
  }
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  note(notes, "firmware: %s (%s)", d->path, d->description ? d->description : "no description");
  for (guint i = 0; i < sel->verdicts->len; i++) {
    VsbFwVerdict *v = sel->verdicts->pdata[i];
    if ((int)i != sel->chosen_index && v->reason && (int)i < sel->chosen_index)
      note(notes, "skipped %s: %s", v->entry->name, v->reason);
  }
  if (d->device != VSB_FW_DEVICE_FLASH && d->device != VSB_FW_DEVICE_MEMORY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: firmware device '%s' is not something vsboot can start", d->path,
                vsb_fw_device_name(d->device));
    return NULL;
  }
  return g_steal_pointer(&sel);
}

/* The files the chosen descriptor names, and their pairing. A broken descriptor is reported,
 * not skipped: libvirt would choose it too (and fail at start); the hint says how to get past
 * it. */
static gboolean
plan_check_files(const VsbFwSelection *sel, VsbFwArch arch, GError **error)
{
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  g_autoptr(GError) local = NULL;
  g_autofree char *hint = g_strdup_printf(
    " (libvirt would choose this descriptor as well; mask it with an empty %s/firmware/%s "
    "or ask for other features)", VSB_SYSCONFDIR, sel->chosen->name);
  const char *code = vsb_fw_descriptor_code_path(d);
  VsbFwFormat code_format = d->device == VSB_FW_DEVICE_FLASH ? d->executable.format
                                                              : VSB_FW_FORMAT_RAW;
  guint64 code_size = 0, vars_size = 0;
  if (!vsb_fw_image_size(code, code_format, &code_size, &local)) {
    g_set_error(error, VSB_ERROR, local->code, "descriptor %s names firmware that cannot be "
                "used: %s%s", d->path, local->message, hint);
    return FALSE;
  }
  if (d->device != VSB_FW_DEVICE_FLASH || d->mode != VSB_FW_FLASH_MODE_SPLIT)
    return TRUE;
  const char *tpl = d->nvram_template.filename;
  if (!vsb_fw_image_size(tpl, d->nvram_template.format, &vars_size, &local)) {
    g_set_error(error, VSB_ERROR, local->code, "descriptor %s names a varstore template that "
                "cannot be used: %s%s", d->path, local->message, hint);
    return FALSE;
  }
  if (!vsb_fw_image_check_pair(arch, code, code_size, tpl, vars_size, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "descriptor %s: %s%s", d->path,
                local->message, hint);
    return FALSE;
  }
  return TRUE;
}

/* The VM as NAME.json will record it (the paths of its own files are added when they exist). */
static VsbVm *
plan_describe(const VsbProvisionRequest *r, VsbFwArch arch, const VsbMachineResolution *res,
              const VsbFwDescriptor *d)
{
  gboolean split = d->device == VSB_FW_DEVICE_FLASH && d->mode == VSB_FW_FLASH_MODE_SPLIT;
  VsbVm *vm = vsb_vm_new();
  vm->name = g_strdup(r->name);
  vm->uuid = g_uuid_string_random();
  vm->arch = arch;
  vm->machine = g_strdup(r->machine);
  vm->machine_resolved = g_strdup(res->family ? r->machine : res->machine);
  vm->descriptor_path = g_strdup(d->path);
  vm->description = g_strdup(d->description);
  vm->device = d->device;
  vm->mode = d->mode;
  vm->executable = g_strdup(vsb_fw_descriptor_code_path(d));
  vm->executable_format = d->device == VSB_FW_DEVICE_FLASH ? d->executable.format
                                                            : VSB_FW_FORMAT_RAW;
  if (split) {
    vm->nvram_template = g_strdup(d->nvram_template.filename);
    vm->nvram_template_format = d->nvram_template.format;
  }
  vm->features = d->features;
  g_strfreev(vm->unknown_features);
  vm->unknown_features = g_strdupv(d->unknown_features);
  vm->keys = r->keys_dir ? VSB_VM_KEYS_USER
                         : vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_ENROLLED_KEYS)
                             ? VSB_VM_KEYS_TEMPLATE
                             : VSB_VM_KEYS_NONE;
  if (r->keys_dir) {
    char *abs = realpath(r->keys_dir, NULL);
    vm->keys_dir = g_strdup(abs ? abs : r->keys_dir);
    free(abs);
  }
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  vm->created = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
  return vm;
}

/* Microsoft's CAs for the VM: the request's set, or by default the 2023 set for a template
 * that trusts Microsoft already (its KEK holds a Microsoft KEK CA) and no keys of the user. */
static guint
microsoft_set(const VsbProvisionRequest *r, const VsbVarstore *tpl)
{
  if (r->microsoft_given)
    return r->microsoft;
  if (tpl == NULL || r->keys_dir)
    return 0;
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(tpl);
  return ms->state[VSB_MS_KEK_2011] == VSB_MS_ENROLLED ||
         ms->state[VSB_MS_KEK_2023] == VSB_MS_ENROLLED ? VSB_MS_SET_2023 : 0;
}

/* The user's keys and Microsoft's CAs enrolled into the template in memory, in the library's
 * one enrollment order (secureboot.h). */
static gboolean
plan_enroll(const VsbProvisionRequest *r, const VsbFwDescriptor *d, gboolean split,
            const UserKeys *keys, Plan *p, GPtrArray *notes, GError **error)
{
  guint set = microsoft_set(r, p->store);
  if (r->keys_dir == NULL && set == 0)
    return TRUE;
  if (!split) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED, r->keys_dir
                ? "%s: keys can only be enrolled into a split firmware's varstore"
                : "%s: Microsoft's certificates can only be added to a split firmware's varstore",
                d->path);
    return FALSE;
  }
  g_autoptr(GPtrArray) kek = g_ptr_array_new(), db = g_ptr_array_new();
  VsbEnrollSteps steps = VSB_ENROLL_STEPS_INIT;
  steps.microsoft = set;
  if (r->keys_dir) {
    g_ptr_array_add(kek, keys->cert[1]);
    g_ptr_array_add(db, keys->cert[2]);
    steps.pk = keys->cert[0];
    steps.kek = kek;
    steps.db = db;
    steps.owner = &keys->owner;
    steps.secure_boot = 1;
  }
  g_autoptr(VsbEnroll) e = vsb_enroll_new(p->store);
  if (!vsb_enroll_apply(e, &steps, error)) {
    if (r->keys_dir)
      g_prefix_error(error, "enrolling %s into the varstore: ", r->keys_dir);
    return FALSE;
  }
  GPtrArray *changes = vsb_enroll_get_changes(e);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    note(notes, "enroll: %s %s%s%s", c->action, c->variable, c->detail ? ": " : "",
         c->detail ? c->detail : "");
  }
  p->vm->microsoft = set;
  p->enrolled = TRUE;
  return TRUE;
}

/* What goes into the VM's own varstore: the template (split, keys enrolled in memory) or the
 * whole image (combined), and whether Secure Boot would be enforced with it. */
static gboolean
plan_varstore(const VsbProvisionRequest *r, const VsbFwDescriptor *d, const UserKeys *keys,
              Plan *p, GPtrArray *notes, GError **error)
{
  gboolean split = d->device == VSB_FW_DEVICE_FLASH && d->mode == VSB_FW_FLASH_MODE_SPLIT;
  VsbFwFormat format = split ? d->nvram_template.format : d->executable.format;
  p->vars_base = vm_varstore_base(r->name, d->device, d->mode, format);
  if (p->vars_base == NULL)
    return TRUE;
  p->vm->varstore_format = format;
  p->vars_src = g_strdup(split ? d->nvram_template.filename : vsb_fw_descriptor_code_path(d));
  g_autoptr(GError) local = NULL;
  if (split) {
    p->store = vsb_varstore_load(p->vars_src, &local);
    if (p->store == NULL) {
      g_set_error(error, VSB_ERROR, local->code, "varstore template of %s: %s", d->path,
                  local->message);
      return FALSE;
    }
  }
  if (!plan_enroll(r, d, split, keys, p, notes, error))
    return FALSE;
  if (p->store == NULL)
    return TRUE;
  VsbSecureBootMode mode = vsb_secure_boot_mode(p->store);
  p->vm->secure_boot = (int)mode;
  if (mode == VSB_SB_MODE_SETUP && vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_SECURE_BOOT) &&
      !r->allow_setup_mode) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "template %s has no PK (setup mode): the firmware would verify nothing and "
                "Secure Boot would not be enforced; enroll keys, take a template with keys "
                "enrolled, or accept setup mode explicitly",
                p->vars_src);
    return FALSE;
  }
  if (mode == VSB_SB_MODE_SETUP)
    note(notes, "varstore: setup mode (no PK): Secure Boot is not enforced");
  return TRUE;
}

/* ---- provisioning: the journal (see "How a VM's files change together" above) ----------- */

/* The commit record: what moves into place, and what goes. */
typedef struct {
  gboolean reset;                 /* the moves replace what is there */
  char *vars;                     /* the varstore's name; NULL without one */
  gboolean tpm;                   /* a new NAME.tpm */
  char *remove[VM_N_VARS_NAMES];     /* old varstores of other names (reset) */
  guint n_remove;
} Record;

static void
record_clear(Record *rec)
{
  g_clear_pointer(&rec->vars, g_free);
  for (guint i = 0; i < rec->n_remove; i++)
    g_clear_pointer(&rec->remove[i], g_free);
  rec->n_remove = 0;
}

static char *
record_text(const Record *rec)
{
  GString *s = g_string_new("vsboot-commit 1\n");
  g_string_append_printf(s, "reset %d\n", rec->reset ? 1 : 0);
  if (rec->vars)
    g_string_append_printf(s, "varstore %s\n", rec->vars);
  if (rec->tpm)
    g_string_append(s, "tpm\n");
  for (guint i = 0; i < rec->n_remove; i++)
    g_string_append_printf(s, "remove %s\n", rec->remove[i]);
  g_string_append(s, "end\n");
  return g_string_free(s, FALSE);
}

/* FALSE for a torn or foreign record: then nothing was committed. Names are accepted only when
 * they are this VM's own varstore names. */
static gboolean
record_parse(const char *name, GBytes *data, Record *rec)
{
  g_autofree char *text = g_strndup(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint n = g_strv_length(lines);
  memset(rec, 0, sizeof *rec);
  if (n < 3 || strcmp(lines[0], "vsboot-commit 1") != 0 || strcmp(lines[n - 2], "end") != 0 ||
      lines[n - 1][0] != '\0')
    return FALSE;
  for (guint i = 1; i + 2 < n; i++) {
    const char *l = lines[i];
    if (strcmp(l, "reset 0") == 0 || strcmp(l, "reset 1") == 0)
      rec->reset = l[6] == '1';
    else if (strcmp(l, "tpm") == 0)
      rec->tpm = TRUE;
    else if (g_str_has_prefix(l, "varstore ") && !rec->vars && vm_is_varstore_base(name, l + 9))
      rec->vars = g_strdup(l + 9);
    else if (g_str_has_prefix(l, "remove ") && rec->n_remove < VM_N_VARS_NAMES &&
             vm_is_varstore_base(name, l + 7))
      rec->remove[rec->n_remove++] = g_strdup(l + 7);
    else {
      record_clear(rec);
      return FALSE;
    }
  }
  return TRUE;
}

static void
set_not_ours(GError **error, const StateDir *sd, const char *base, const struct stat *st)
{
  g_autofree char *shown = g_build_filename(sd->shown, base, NULL);
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
              "%s is %s of uid %u where vsboot keeps a VM's own files; vsboot never follows, "
              "replaces or removes what it did not make: remove it", shown,
              S_ISLNK(st->st_mode) ? "a symbolic link" : vsb_file_kind(st->st_mode),
              (guint)st->st_uid);
}

/* Step 4 for one file: .BASE.vsb-new becomes BASE. Done already when the temporary name is
 * gone (recovery after a kill between two moves). */
static gboolean
move_in(const StateDir *sd, const char *base, gboolean replace, gboolean dir, GError **error)
{
  g_autofree char *tmp = vm_tmp_name(base);
  struct stat st;
  if (fstatat(sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return TRUE;
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", sd->shown, tmp, g_strerror(errno));
    return FALSE;
  }
  if (!(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) || st.st_uid != geteuid()) {
    set_not_ours(error, sd, tmp, &st);
    return FALSE;
  }
  int r = replace ? renameat(sd->fd, tmp, sd->fd, base)
                  : renameat2(sd->fd, tmp, sd->fd, base, RENAME_NOREPLACE);
  if (r < 0 && !replace && errno == EINVAL && !dir) {
    /* A filesystem without RENAME_NOREPLACE: link() cannot replace either. */
    r = linkat(sd->fd, tmp, sd->fd, base, 0);
    if (r == 0)
      (void)unlinkat(sd->fd, tmp, 0);
  }
  if (r < 0) {
    int e = errno;
    g_set_error(error, VSB_ERROR, e == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
                e == EEXIST ? "%s/%s appeared while the VM was being provisioned; it is left as "
                              "it is (the new file is %s)%s"
                            : "%s/%s: cannot move %s into place: %s",
                sd->shown, base, tmp, e == EEXIST ? "" : g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

/* Remove BASE, a regular file of this user at one of the VM's own names; gone already is
 * fine. */
static gboolean
remove_own_file(const StateDir *sd, const char *base, GError **error)
{
  struct stat st;
  if (fstatat(sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT;
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    set_not_ours(error, sd, base, &st);
    return FALSE;
  }
  if (unlinkat(sd->fd, base, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, base,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

static gboolean
sync_dir(const StateDir *sd, GError **error)
{
  if (fsync(sd->fd) == 0)
    return TRUE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s: fsync failed: %s", sd->shown,
              g_strerror(errno));
  return FALSE;
}

/* Steps 4 and 5. The crash points let the tests kill vsboot between any two of them. */
static gboolean
roll_forward(const StateDir *sd, const char *name, const Record *rec, GError **error)
{
  g_autofree char *tpm = g_strconcat(name, ".tpm", NULL);
  g_autofree char *json = g_strconcat(name, ".json", NULL);
  g_autofree char *record = vm_commit_name(name);
  if (rec->tpm && !move_in(sd, tpm, FALSE, TRUE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-tpm-moved");
  if (rec->vars && !move_in(sd, rec->vars, rec->reset, FALSE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-varstore-moved");
  if (!move_in(sd, json, rec->reset, FALSE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-state-moved");
  for (guint i = 0; i < rec->n_remove; i++)
    if (!remove_own_file(sd, rec->remove[i], error))
      return FALSE;
  vsb_file_test_crash_point("vm-old-removed");
  if (!sync_dir(sd, error))
    return FALSE;
  if (unlinkat(sd->fd, record, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, record,
                g_strerror(errno));
    return FALSE;
  }
  return sync_dir(sd, error);
}

/* Step 6, without a complete record: remove this VM's temporary names, and only what is
 * plainly vsboot's there (a regular file, or for the TPM a directory, of this user). */
static gboolean
remove_uncommitted(const StateDir *sd, const char *name, guint *removed, GError **error)
{
  g_autoptr(GPtrArray) bases = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(bases, g_strconcat(name, ".tpm", NULL));
  g_ptr_array_add(bases, g_strconcat(name, ".json", NULL));
  for (guint i = 0; i < VM_N_VARS_NAMES; i++)
    g_ptr_array_add(bases, g_strconcat(name, vm_vars_suffixes[i], NULL));
  for (guint i = 0; i < bases->len; i++) {
    g_autofree char *tmp = vm_tmp_name(bases->pdata[i]);
    struct stat st;
    if (fstatat(sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", sd->shown, tmp, g_strerror(errno));
      return FALSE;
    }
    gboolean want_dir = i == 0;
    if (!(want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) || st.st_uid != geteuid()) {
      set_not_ours(error, sd, tmp, &st);
      return FALSE;
    }
    g_autofree char *path = vm_sd_at(sd, tmp);
    if (want_dir ? !vsb_dir_remove_created(path, &st, error)
                 : (unlinkat(sd->fd, tmp, 0) < 0 && errno != ENOENT)) {
      if (error && *error == NULL)
        g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot remove: %s", path,
                    g_strerror(errno));
      return FALSE;
    }
    (*removed)++;
  }
  return TRUE;
}

/* Step 6: finish (complete record) or undo (no record, or a torn one) what a killed
 * provisioning of this VM left. Runs under the VM's lock, before anything else looks. */
static gboolean
recover(const StateDir *sd, const char *name, GPtrArray *notes, GError **error)
{
  g_autofree char *record = vm_commit_name(name);
  struct stat st;
  gboolean have_record = fstatat(sd->fd, record, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (have_record) {
    g_autoptr(GBytes) data = vm_read_own_file(sd, record, 4096, &st, error);
    if (data == NULL)
      return FALSE;
    if (st.st_uid != geteuid()) {
      set_not_ours(error, sd, record, &st);
      return FALSE;
    }
    Record rec;
    if (record_parse(name, data, &rec)) {
      gboolean ok = roll_forward(sd, name, &rec, error);
      record_clear(&rec);
      if (ok)
        note(notes, "recovery: completed the interrupted provisioning of VM '%s'", name);
      return ok;
    }
  }
  guint removed = 0;
  if (!remove_uncommitted(sd, name, &removed, error))
    return FALSE;
  if (have_record && unlinkat(sd->fd, record, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, record,
                g_strerror(errno));
    return FALSE;
  }
  if (removed || have_record)
    note(notes, "recovery: removed what an interrupted provisioning of VM '%s' left (%u "
         "temporary file%s)", name, removed, removed == 1 ? "" : "s");
  return TRUE;
}

/* One provisioning's files. What it created under .vsb-new names is remembered by identity,
 * so that a failure before the commit point removes exactly that, never something else that
 * has the name by then. */
enum { MADE_TPM, MADE_VARS, MADE_JSON, MADE_N };

typedef struct {
  const StateDir *sd;
  const char *name;
  Record rec;
  char *existing[VM_N_VARS_NAMES];   /* reset: varstores there now (checked regular, ours) */
  guint n_existing;
  gboolean had_state;             /* reset: NAME.json was there */
  struct stat made_st[MADE_N];
  gboolean made[MADE_N];
  gboolean committed;
} Txn;

static void
txn_clear(Txn *t)
{
  record_clear(&t->rec);
  for (guint i = 0; i < t->n_existing; i++)
    g_clear_pointer(&t->existing[i], g_free);
  t->n_existing = 0;
}

static char *
made_base(const Txn *t, int which)
{
  switch (which) {
  case MADE_TPM:
    return g_strconcat(t->name, ".tpm", NULL);
  case MADE_VARS:
    return g_strdup(t->rec.vars);
  default:
    return g_strconcat(t->name, ".json", NULL);
  }
}

/* Record the identity of what this call just created at .BASE.vsb-new. */
static gboolean
txn_made(Txn *t, int which, GError **error)
{
  g_autofree char *base = made_base(t, which);
  g_autofree char *tmp = vm_tmp_name(base);
  if (fstatat(t->sd->fd, tmp, &t->made_st[which], AT_SYMLINK_NOFOLLOW) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", t->sd->shown, tmp,
                g_strerror(errno));
    return FALSE;
  }
  t->made[which] = TRUE;
  return TRUE;
}

/* A failure before the commit point: remove what this call made, by identity. */
static void
txn_undo(Txn *t)
{
  for (int i = 0; i < MADE_N; i++) {
    if (!t->made[i])
      continue;
    g_autofree char *base = made_base(t, i);
    g_autofree char *tmp = vm_tmp_name(base);
    g_autofree char *path = vm_sd_at(t->sd, tmp);
    struct stat st;
    if (i == MADE_TPM)
      (void)vsb_dir_remove_created(path, &t->made_st[i], NULL);
    else if (fstatat(t->sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             vm_same_file(&st, &t->made_st[i]))
      (void)unlinkat(t->sd->fd, tmp, 0);
  }
}

/* A reset must not pull the varstore from under a running VM: refused while any process holds
 * one of the varstores it would replace or remove. */
static gboolean
check_holders(const Txn *t, GError **error)
{
  for (guint i = 0; i < t->n_existing; i++) {
    const char *base = t->existing[i];
    VSB_AUTOFD fd =
      openat(t->sd->fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
      continue; /* gone: nothing holds it */
    g_autofree char *who = file_holder(fd);
    if (who) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                  "VM '%s' is running: its varstore %s/%s is in use (%s); stop the VM before "
                  "provisioning it again; nothing was changed", t->name, t->sd->shown, base, who);
      return FALSE;
    }
  }
  return TRUE;
}

/* NAME.json as it is: absent for a new VM (else what exists is said), this VM's valid state
 * file for a reset (a tampered or foreign one is refused, never acted on). */
static gboolean
check_state_file(Txn *t, gboolean reset, GError **error)
{
  g_autofree char *json = g_strconcat(t->name, ".json", NULL);
  g_autofree char *path = g_build_filename(t->sd->shown, json, NULL);
  struct stat st;
  if (fstatat(t->sd->fd, json, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return TRUE;
  g_autoptr(GError) lerr = NULL;
  g_autoptr(VsbVm) old = vm_load_at(t->sd, t->name, &lerr);
  if (reset) {
    if (old == NULL) {
      g_set_error(error, VSB_ERROR, lerr->code, "VM '%s' cannot be provisioned again: %s",
                  t->name, lerr->message);
      return FALSE;
    }
    t->had_state = TRUE;
    return TRUE;
  }
  if (old)
    g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                "VM '%s' is already provisioned (%s, created %s): firmware %s, varstore %s; "
                "the varstore holds the VM's keys and boot entries and is kept", t->name, path,
                old->created ? old->created : "?", old->descriptor_path,
                old->varstore ? old->varstore : "(none)");
  else
    /* Not even a reset goes over a state file that does not load: it is acted on only when
     * it is this VM's. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s already exists and is not a state file "
                "vsboot can use (%s); VM '%s' is not provisioned over it: remove it", path,
                lerr->message, t->name);
  return FALSE;
}

/* The VM's varstore names as they are: all absent for a new VM (one without NAME.json is an
 * interrupted or foreign provisioning, never overwritten); for a reset, regular files of this
 * user that no process holds. */
static gboolean
check_varstores(Txn *t, gboolean reset, GError **error)
{
  for (guint i = 0; i < VM_N_VARS_NAMES; i++) {
    g_autofree char *base = g_strconcat(t->name, vm_vars_suffixes[i], NULL);
    struct stat st;
    if (fstatat(t->sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (S_ISLNK(st.st_mode) || (reset && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))) {
      set_not_ours(error, t->sd, base, &st);
      return FALSE;
    }
    if (!reset) {
      g_autofree char *path = g_build_filename(t->sd->shown, base, NULL);
      g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                  "%s already exists (a varstore without %s.json: an interrupted or foreign "
                  "provisioning); it is never overwritten: remove it", path, t->name);
      return FALSE;
    }
    t->existing[t->n_existing++] = g_steal_pointer(&base);
  }
  return !reset || check_holders(t, error);
}

/* NAME.tpm: absent (a new one is made), or a TPM state directory of this user, which is kept
 * (it is the VM's identity). Anything else there (a link, a file, an empty or foreign
 * directory) vsboot did not make: refused, never used, never removed. */
static gboolean
check_tpm_dir(Txn *t, GPtrArray *notes, GError **error)
{
  g_autofree char *base = g_strconcat(t->name, ".tpm", NULL);
  g_autofree char *path = g_build_filename(t->sd->shown, base, NULL);
  struct stat st;
  if (fstatat(t->sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    t->rec.tpm = TRUE;
    return TRUE;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
    set_not_ours(error, t->sd, base, &st);
    return FALSE;
  }
  VSB_AUTOFD dfd = openat(t->sd->fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat pst;
  gboolean has_state = dfd >= 0 &&
                       fstatat(dfd, "tpm2-00.permall", &pst, AT_SYMLINK_NOFOLLOW) == 0 &&
                       S_ISREG(pst.st_mode);
  if (!has_state) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s exists but holds no TPM state (no tpm2-00.permall): vsboot did not make it, "
                "and neither uses nor removes it; remove it or move it away", path);
    return FALSE;
  }
  note(notes, "tpm: keeping the existing TPM 2.0 state in %s", path);
  return TRUE;
}

/* Step 2, TPM: a new directory made here (mkdirat: an existing name is never "ours") and
 * filled by swtpm_setup; its identity is what a failure removes. */
static gboolean
build_tpm(Txn *t, GPtrArray *notes, GError **error)
{
  if (!t->rec.tpm)
    return TRUE;
  g_autofree char *base = g_strconcat(t->name, ".tpm", NULL);
  g_autofree char *tmp = vm_tmp_name(base);
  g_autofree char *path = vm_sd_at(t->sd, tmp);
  g_autofree char *final = vm_sd_path(t->sd, base);
  if (mkdirat(t->sd->fd, tmp, 0700) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot create %s/%s: %s", t->sd->shown, tmp,
                g_strerror(errno));
    return FALSE;
  }
  if (!txn_made(t, MADE_TPM, error))
    return FALSE;
  g_autofree char *err1 = NULL, *err2 = NULL;
  gboolean ok = run_swtpm_setup(path, TRUE, &err1, error);
  if (ok) {
    note(notes, "tpm: TPM 2.0 state with EK and platform certificates in %s", final);
  } else if (error == NULL || *error == NULL) {
    /* The certificate tools need a local CA configuration; a TPM without certificates works. */
    ok = run_swtpm_setup(path, FALSE, &err2, error);
    if (ok)
      note(notes, "tpm: TPM 2.0 state in %s (no EK certificate: %s)", final, err1);
    else if (error && *error == NULL)
      g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL,
                  "swtpm_setup --tpm2 --tpmstate %s failed: %s", path, err2);
  }
  if (!ok)
    return FALSE;
  vsb_file_test_crash_point("vm-tpm-written");
  return TRUE;
}

static gboolean
copy_template(int fd, const char *path, gpointer src, GError **error)
{
  return vsb_file_copy_into_fd(src, fd, path, error);
}

/* Step 2, varstore: the user's keys written out, or the template (or combined image) copied,
 * reflinked where the filesystem can. */
static gboolean
build_varstore(Txn *t, const Plan *p, GPtrArray *notes, GError **error)
{
  if (t->rec.vars == NULL)
    return TRUE;
  g_autofree char *tmp = vm_tmp_name(t->rec.vars);
  g_autofree char *path = vm_sd_at(t->sd, tmp);
  g_autofree char *final = vm_sd_path(t->sd, t->rec.vars);
  if (p->enrolled && p->vm->varstore_format != VSB_FW_FORMAT_RAW) {
    /* qcow2 goes through qemu-img, by path: the VM's own temporary name, in a directory only
     * its owner writes, under the VM's lock. */
    if (!vsb_varstore_save(p->store, path, 0600, TRUE, error) || !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s from %s with %s%s", final, p->vars_src,
         p->vm->keys_dir ? "the keys of " : "Microsoft's certificates added",
         p->vm->keys_dir ? p->vm->keys_dir : "");
  } else if (p->enrolled) {
    g_autoptr(GBytes) bytes = vsb_varstore_serialize(p->store, error);
    VsbWriteOptions wo = { .mode = 0600, .exclusive = TRUE };
    if (bytes == NULL ||
        !vsb_file_write_atomic_full(path, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                                    &wo, error) ||
        !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s from %s with %s%s", final, p->vars_src,
         p->vm->keys_dir ? "the keys of " : "Microsoft's certificates added",
         p->vm->keys_dir ? p->vm->keys_dir : "");
  } else {
    /* The one atomic write, filled by the one copy (reflinked where the filesystem can). */
    VsbWriteOptions wo = { .mode = 0600, .exclusive = TRUE };
    if (!vsb_file_rewrite(path, &wo, copy_template, p->vars_src, error) ||
        !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s copied from %s", final, p->vars_src);
  }
  vsb_file_test_crash_point("vm-varstore-written");
  return TRUE;
}

/* Step 2, the state file; then step 3, the commit record, and steps 4-5. */
static gboolean
commit(Txn *t, const VsbVm *vm, GError **error)
{
  g_autofree char *json = g_strconcat(t->name, ".json", NULL);
  g_autofree char *json_tmp = vm_tmp_name(json);
  g_autofree char *json_path = vm_sd_at(t->sd, json_tmp);
  g_autofree char *text = vm_json_text(vm);
  VsbWriteOptions wo = { .mode = 0644, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(json_path, text, strlen(text), &wo, error) ||
      !txn_made(t, MADE_JSON, error))
    return FALSE;
  vsb_file_test_crash_point("vm-state-written");
  /* Once more just before the point of no return: a VM started since the first check. */
  if (!sync_dir(t->sd, error) || (t->rec.reset && !check_holders(t, error)))
    return FALSE;
  g_autofree char *record = vm_commit_name(t->name);
  g_autofree char *record_path = vm_sd_at(t->sd, record);
  g_autofree char *rtext = record_text(&t->rec);
  VsbWriteOptions ro = { .mode = 0600, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(record_path, rtext, strlen(rtext), &ro, error))
    return FALSE;
  t->committed = TRUE;
  vsb_file_test_crash_point("vm-committed");
  return roll_forward(t->sd, t->name, &t->rec, error);
}

/* ---- provisioning: the phases ------------------------------------------------------------ */

/* One request followed through provisioning. Each phase reads what the earlier ones made and
 * adds its own part; nothing in the state directory changes before the "tpm" phase, and what
 * that and "commit" make is undone by the journal (Txn) when a later step fails. */
typedef struct {
  /* Inputs. */
  const VsbProvisionRequest *r;
  VsbFwArch arch;
  const StateDir *sd;
  GPtrArray *notes;
  /* "request": the user's keys, and the request as the selection sees it. */
  UserKeys keys;
  VsbFwRequest req;
  VsbMachineResolution *res;
  /* "select": the descriptors and the choice among them. */
  GPtrArray *entries;
  VsbFwSelection *sel;
  /* "pair" describes the VM (plan.vm); "varstore" fills the rest of the plan. */
  Plan plan;
  /* "state" records what exists; "tpm" and "commit" write through it. */
  Txn t;
} Provision;

static void
provision_clear(Provision *pv)
{
  user_keys_clear(&pv->keys);
  g_clear_pointer(&pv->res, vsb_machine_resolution_free);
  g_clear_pointer(&pv->entries, g_ptr_array_unref);
  g_clear_pointer(&pv->sel, vsb_fw_selection_free);
  plan_clear(&pv->plan);
  txn_clear(&pv->t);
}

/* What is at the VM's names now: nothing for a new VM, this VM's own files for a reset. */
static gboolean
phase_state(Provision *pv, GError **error)
{
  return check_state_file(&pv->t, pv->r->reset, error) &&
         check_varstores(&pv->t, pv->r->reset, error);
}

/* The request policy: the user's keys loaded, the machine resolved, the features wanted. */
static gboolean
phase_request(Provision *pv, GError **error)
{
  if (pv->r->keys_dir && !user_keys_load(pv->r->keys_dir, &pv->keys, error))
    return FALSE;
  pv->res = plan_request(pv->r, pv->arch, &pv->req, pv->notes, error);
  return pv->res != NULL;
}

/* The descriptor libvirt would choose. */
static gboolean
phase_select(Provision *pv, GError **error)
{
  pv->entries = vsb_fw_search(pv->r->firmware_dirs, error);
  if (pv->entries == NULL)
    return FALSE;
  pv->sel = plan_select(pv->entries, &pv->req, pv->notes, error);
  return pv->sel != NULL;
}

/* The chosen files usable and belonging together; the VM as its state file will say. */
static gboolean
phase_pair(Provision *pv, GError **error)
{
  if (!plan_check_files(pv->sel, pv->arch, error))
    return FALSE;
  pv->plan.vm = plan_describe(pv->r, pv->arch, pv->res, pv->sel->chosen->descriptor);
  return TRUE;
}

/* The varstore's contents in memory (keys enrolled), the checksums of what the VM runs, and
 * the names of the VM's own files. */
static gboolean
phase_varstore(Provision *pv, GError **error)
{
  Plan *p = &pv->plan;
  if (!plan_varstore(pv->r, pv->sel->chosen->descriptor, &pv->keys, p, pv->notes, error))
    return FALSE;
  p->vm->executable_sha256 = sha256_cached(p->vm->executable, error);
  if (p->vm->executable_sha256 == NULL)
    return FALSE;
  if (p->vm->nvram_template) {
    p->vm->template_sha256 = sha256_cached(p->vm->nvram_template, error);
    if (p->vm->template_sha256 == NULL)
      return FALSE;
  }
  Txn *t = &pv->t;
  t->rec.vars = g_strdup(p->vars_base);
  for (guint i = 0; i < t->n_existing; i++)
    if (g_strcmp0(t->existing[i], p->vars_base) != 0)
      t->rec.remove[t->rec.n_remove++] = g_strdup(t->existing[i]);
  if (p->vars_base)
    p->vm->varstore = vm_sd_path(pv->sd, p->vars_base);
  return TRUE;
}

/* NAME.tpm: kept when it holds TPM state, else made by swtpm_setup. */
static gboolean
phase_tpm(Provision *pv, GError **error)
{
  if (!pv->r->tpm)
    return TRUE;
  g_autofree char *tpm = g_strconcat(pv->r->name, ".tpm", NULL);
  pv->plan.vm->tpm_state_dir = vm_sd_path(pv->sd, tpm);
  return check_tpm_dir(&pv->t, pv->notes, error) && build_tpm(&pv->t, pv->notes, error);
}

/* The varstore written, then the state file and the commit record (the commit point). */
static gboolean
phase_commit(Provision *pv, GError **error)
{
  return build_varstore(&pv->t, &pv->plan, pv->notes, error) &&
         commit(&pv->t, pv->plan.vm, error);
}

static const struct {
  const char *name;
  gboolean (*run)(Provision *pv, GError **error);
} phases[] = {
  { "state", phase_state },       { "request", phase_request }, { "select", phase_select },
  { "pair", phase_pair },         { "varstore", phase_varstore }, { "tpm", phase_tpm },
  { "commit", phase_commit },
};

/* Recovery of an interrupted provisioning first, then the phases in order. */
static VsbVm *
provision_locked(const VsbProvisionRequest *r, VsbFwArch arch, const StateDir *sd,
                 GPtrArray *notes, GError **error)
{
  if (!recover(sd, r->name, notes, error))
    return NULL;
  Provision pv = { .r = r, .arch = arch, .sd = sd, .notes = notes,
                   .t = { .sd = sd, .name = r->name, .rec = { .reset = r->reset } } };
  gboolean ok = TRUE;
  for (gsize i = 0; ok && i < G_N_ELEMENTS(phases); i++)
    ok = phases[i].run(&pv, error);
  Txn *t = &pv.t;
  if (!ok && !t->committed)
    txn_undo(t);
  else if (!ok)
    g_prefix_error(error, "VM '%s' was committed but not completed (the next provisioning of it "
                   "completes it): ", r->name);
  for (guint i = 0; ok && i < t->rec.n_remove; i++)
    note(notes, "reset: removed the previous varstore %s/%s", sd->path, t->rec.remove[i]);
  if (ok && t->had_state)
    note(notes, "reset: VM '%s' provisioned again; its previous varstore was replaced", r->name);
  VsbVm *vm = ok ? g_steal_pointer(&pv.plan.vm) : NULL;
  provision_clear(&pv);
  return vm;
}

VsbVm *
vsb_vm_provision(const VsbProvisionRequest *r, GPtrArray **notes_out, GError **error)
{
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  if (!vsb_vm_name_validate(r->name, error))
    return NULL;
  int arch = r->arch;
  if (arch < 0 || arch >= VSB_FW_ARCH_COUNT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "unknown architecture '%s' (aarch64, arm, i386, loongarch64, riscv64, x86_64)",
                r->arch_text ? r->arch_text : "(none)");
    return NULL;
  }
  if (r->machine == NULL || *r->machine == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no machine type given");
    return NULL;
  }
  if (r->keys_dir && r->enrolled_keys) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "a keys directory and enrolled-keys exclude each other: enroll your own keys or "
                "take the template's");
    return NULL;
  }
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!vm_state_dir_open(r->state_dir, TRUE, &sd, error))
    return NULL;
  int lock = vm_lock(&sd, r->name, error);
  if (lock < 0)
    return NULL;
  VsbVm *vm = provision_locked(r, (VsbFwArch)arch, &sd, notes, error);
  vm_unlock(&sd, r->name, lock);
  if (vm && notes_out)
    *notes_out = g_steal_pointer(&notes);
  return vm;
}
