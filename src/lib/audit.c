/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/audit.h"
#include "vsboot/fwimage.h"
#include "vsboot/descriptor.h"
#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/fv.h"
#include "vsboot/fwselect.h"
#include "vsboot/fwsearch.h"
#include "vsboot/mscerts.h"
#include "vsboot/varstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
vsb_severity_name(VsbSeverity s)
{
  switch (s) {
  case VSB_SEVERITY_INFO: return "info";
  case VSB_SEVERITY_WARNING: return "warning";
  case VSB_SEVERITY_ERROR: return "error";
  }
  return "unknown";
}

static void
finding_free(gpointer p)
{
  VsbFinding *f = p;
  g_free(f->id);
  g_free(f->message);
  g_free(f->evidence);
  g_free(f->fix);
  g_free(f);
}

static void
model_clear(VsbAuditModel *m)
{
  g_free(m->arch);
  g_free(m->machine);
  g_free(m->accel);
  g_free(m->smm);
  g_free(m->firmware_via);
  g_free(m->code);
  g_free(m->code_format);
  g_free(m->descriptor);
  g_free(m->features_source);
  g_free(m->varstore);
  g_free(m->varstore_format);
  g_free(m->varstore_read);
  g_free(m->secure_boot);
  g_free(m->kernel);
  g_free(m->confidential);
}

void
vsb_audit_report_free(VsbAuditReport *r)
{
  if (r == NULL)
    return;
  g_free(r->source);
  model_clear(&r->model);
  g_ptr_array_unref(r->findings);
  g_ptr_array_unref(r->notes);
  g_free(r);
}

gboolean
vsb_audit_report_has(const VsbAuditReport *r, const char *id)
{
  for (guint i = 0; i < r->findings->len; i++)
    if (strcmp(((VsbFinding *)r->findings->pdata[i])->id, id) == 0)
      return TRUE;
  return FALSE;
}

/* Text safe for reports: valid UTF-8, no control characters. */
static char *
clean(const char *s)
{
  if (s == NULL)
    return NULL;
  char *v = g_utf8_make_valid(s, -1);
  for (char *p = v; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return v;
}

static void add_finding(VsbAuditReport *r, const char *id, VsbSeverity sev, const char *evidence,
                        const char *fix, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static void
add_finding(VsbAuditReport *r, const char *id, VsbSeverity sev, const char *evidence,
            const char *fix, const char *fmt, ...)
{
  if (vsb_audit_report_has(r, id))
    return;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  VsbFinding *f = g_new0(VsbFinding, 1);
  f->id = g_strdup(id);
  f->severity = sev;
  f->message = clean(msg);
  f->evidence = clean(evidence ? evidence : "");
  f->fix = clean(fix);
  g_ptr_array_add(r->findings, f);
}

/* File facts for evidence: "FILE (N bytes, mode 0644, 1 link)". */
static char *
file_facts(const char *path)
{
  struct stat st;
  g_autofree char *p = clean(path);
  if (stat(path, &st) != 0)
    return g_strdup_printf("%s (%s)", p, g_strerror(errno));
  if (!S_ISREG(st.st_mode))
    return g_strdup_printf("%s (%s, mode %04o)", p, vsb_file_kind(st.st_mode),
                           (unsigned)(st.st_mode & 07777));
  return g_strdup_printf("%s (%lld bytes, mode %04o, %lu link%s)", p, (long long)st.st_size,
                         (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink,
                         st.st_nlink == 1 ? "" : "s");
}

static char *
join_ev(const char *a, const char *b)
{
  if (a && b)
    return g_strdup_printf("%s; %s", a, b);
  return g_strdup(a ? a : b ? b : "");
}

static gboolean
is_local_path(const char *path)
{
  /* "nbd:...", "json:{...}", "iscsi://..." are not files vsboot can open. */
  if (path == NULL || path[0] != '/')
    return FALSE;
  return TRUE;
}

/* The descriptor (first in precedence order) whose executable/filename is this file. */
static const VsbFwDescriptor *
descriptor_for_code(GPtrArray *entries, const char *path)
{
  for (guint i = 0; entries && i < entries->len; i++) {
    VsbFwEntry *e = entries->pdata[i];
    if (e->kind != VSB_FW_ENTRY_DESCRIPTOR)
      continue;
    const char *code = vsb_fw_descriptor_code_path(e->descriptor);
    if (code && vsb_fw_paths_equal(code, path))
      return e->descriptor;
  }
  return NULL;
}

static gboolean
is_template(GPtrArray *entries, const char *path)
{
  for (guint i = 0; entries && i < entries->len; i++) {
    VsbFwEntry *e = entries->pdata[i];
    if (e->kind != VSB_FW_ENTRY_DESCRIPTOR || e->descriptor->nvram_template.filename == NULL)
      continue;
    if (vsb_fw_paths_equal(e->descriptor->nvram_template.filename, path))
      return TRUE;
  }
  return FALSE;
}

/* Is the running command line argv (after its program) exactly want? */
static gboolean
same_args(char **argv, const char *const *want)
{
  char **a = argv + 1;
  for (; *a && *want; a++, want++)
    if (strcmp(*a, *want) != 0)
      return FALSE;
  return *a == NULL && *want == NULL;
}

/* -name NAME, -name guest=NAME[,...] */
static gboolean
has_name(char **argv, const char *name)
{
  for (char **a = argv + 1; a[0] && a[1]; a++) {
    if (strcmp(a[0], "-name") != 0 && strcmp(a[0], "--name") != 0)
      continue;
    const char *v = g_str_has_prefix(a[1], "guest=") ? a[1] + strlen("guest=") : a[1];
    gsize n = strlen(name);
    if (strncmp(v, name, n) == 0 && (v[n] == '\0' || v[n] == ','))
      return TRUE;
  }
  return FALSE;
}

/* The audited VM's own QEMU, found by its arguments or its name (audit.h). */
static gboolean
is_audited_vm(char **argv, const VsbAuditOptions *opts)
{
  return opts && ((opts->self_args && same_args(argv, opts->self_args)) ||
                  (opts->self_name && has_name(argv, opts->self_name)));
}

/* Other running QEMU processes whose varstore (flash 1) is the same file. */
static char *
other_users(const char *varstore, const VsbAuditOptions *opts)
{
  struct stat mine;
  if (stat(varstore, &mine) != 0)
    return NULL;
  const char *proc = opts && opts->proc_root ? opts->proc_root : "/proc";
  g_autoptr(GDir) dir = g_dir_open(proc, 0, NULL);
  if (dir == NULL)
    return NULL;
  g_autoptr(GString) found = g_string_new(NULL);
  const char *name;
  int self = (int)getpid();
  while ((name = g_dir_read_name(dir))) {
    char *end = NULL;
    long pid = strtol(name, &end, 10);
    if (end == name || *end != '\0' || pid <= 0 || pid > G_MAXINT)
      continue;
    if ((int)pid == self || (opts && (int)pid == opts->self_pid))
      continue;
    g_auto(GStrv) argv = vsb_qemu_read_proc_cmdline(proc, (int)pid, NULL);
    if (argv == NULL || argv[0] == NULL || is_audited_vm(argv, opts))
      continue;
    g_autofree char *base = g_path_get_basename(argv[0]);
    if (strstr(base, "qemu") == NULL && strcmp(base, "kvm") != 0)
      continue;
    g_autoptr(VsbQemuCmdline) cmd = vsb_qemu_cmdline_parse_process(proc, (int)pid, NULL);
    if (cmd == NULL)
      continue;
    VsbQemuFlash fl;
    if (!vsb_qemu_cmdline_get_flash(cmd, 1, &fl, NULL))
      continue;
    struct stat st;
    /* A relative name whose cwd is unknown would be looked up in ours: skipped. */
    if (fl.present && fl.file && g_path_is_absolute(fl.file) && stat(fl.file, &st) == 0 &&
        st.st_dev == mine.st_dev &&
        st.st_ino == mine.st_ino)
      g_string_append_printf(found, "%sprocess %ld (%s)", found->len ? ", " : "", pid, base);
    vsb_qemu_flash_clear(&fl);
  }
  return found->len ? g_strdup(found->str) : NULL;
}

static gboolean
machine_is_q35(const char *m)
{
  return m && (strcmp(m, "q35") == 0 || g_str_has_prefix(m, "pc-q35-"));
}

static gboolean
arch_is_x86(const char *a)
{
  return a && (strcmp(a, "x86_64") == 0 || strcmp(a, "i386") == 0);
}

/* The SEV/TDX object the machine links to, if any. */
static const char *
confidential_type(const VsbQemuCmdline *cmd, char **evidence)
{
  const char *ref = vsb_qemu_opts_get(cmd->machine_opts, "confidential-guest-support");
  if (ref == NULL)
    ref = vsb_qemu_opts_get(cmd->machine_opts, "memory-encryption");
  if (ref == NULL)
    return NULL;
  for (guint i = 0; i < cmd->objects->len; i++) {
    VsbQemuObject *o = cmd->objects->pdata[i];
    if (o->id == NULL || strcmp(o->id, ref) != 0)
      continue;
    const char *t = strcmp(o->type, "sev-guest") == 0       ? "sev"
                    : strcmp(o->type, "sev-snp-guest") == 0 ? "sev-snp"
                    : strcmp(o->type, "tdx-guest") == 0     ? "tdx"
                                                            : NULL;
    if (t && evidence)
      *evidence = join_ev(cmd->machine_evidence, o->evidence);
    return t;
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * What the command line says but the model does not follow */

/* Devices that put code or data into the guest outside the firmware: the generic loader can
 * load an image anywhere and start a CPU at it, so the firmware's checks never run. */
static gboolean
device_bypasses_firmware(const char *type)
{
  return strcmp(type, "loader") == 0 || strcmp(type, "guest-loader") == 0;
}

static void add_reason(GString *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
add_reason(GString *s, const char *fmt, ...)
{
  if (s->len)
    g_string_append(s, "; ");
  va_list ap;
  va_start(ap, fmt);
  g_string_append_vprintf(s, fmt, ap);
  va_end(ap);
}

/* One option-unmodeled finding listing everything that could change the firmware setup but is
 * not modelled: never silently judged as if it were absent. */
static void
unmodeled_findings(VsbAuditReport *r, const VsbQemuCmdline *cmd, const VsbQemuFlash *code,
                   const VsbQemuFlash *vars)
{
  g_autoptr(GString) ev = g_string_new(NULL);
  for (guint i = 0; i < cmd->unmodeled->len; i++)
    add_reason(ev, "%s", (const char *)cmd->unmodeled->pdata[i]);
  if (code->present && code->unmodeled)
    add_reason(ev, "flash 0 (%s): %s", code->evidence, code->unmodeled);
  if (vars->present && vars->unmodeled)
    add_reason(ev, "flash 1 (%s): %s", vars->evidence, vars->unmodeled);
  for (guint i = 0; i < cmd->devices->len; i++) {
    const VsbQemuObject *d = cmd->devices->pdata[i];
    if (device_bypasses_firmware(d->type))
      add_reason(ev, "%s: device '%s' loads images into the guest outside the firmware", d->evidence,
                d->type);
  }
  /* secure is the one cfi.pflash01 property modelled; the others (drive, num-blocks, width,
   * ...) change what the flash holds or how it is mapped. */
  for (guint i = 0; i < cmd->globals->len; i++) {
    const VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (strcmp(g->driver, "cfi.pflash01") == 0 && strcmp(g->property, "secure") != 0)
      add_reason(ev, "%s: cfi.pflash01 property '%s'", g->evidence, g->property);
  }
  if (ev->len)
    add_finding(r, "option-unmodeled", VSB_SEVERITY_ERROR, ev->str,
                "drop the option, or judge this VM by hand: vsboot does not know what the "
                "firmware really gets with it",
                "the command line has options that can change which firmware or varstore the "
                "VM really gets, or bypass the firmware, and vsboot does not model them: it "
                "cannot say Secure Boot is enforced");
}

/* ---------------------------------------------------------------------------------------------
 * A running process: the files it really has open */

typedef enum {
  OPEN_SAME,       /* the file at the path is the one the process has open */
  OPEN_REPLACED,   /* the process has another file open under that name (deleted, replaced) */
  OPEN_NONE,       /* nothing open under that name: moved, or replaced after a rename */
  OPEN_UNREADABLE, /* PROC/PID/fd cannot be read */
} OpenState;

/* The path as the kernel shows an open file's name: symlinks resolved; for a file that no
 * longer exists, its directory's resolved path and its name. */
static char *
canonical_name(const char *path)
{
  g_autofree char *real = realpath(path, NULL);
  if (real)
    return g_strdup(real);
  g_autofree char *dir = g_path_get_dirname(path), *base = g_path_get_basename(path);
  g_autofree char *rdir = realpath(dir, NULL);
  return g_build_filename(rdir ? rdir : dir, base, NULL);
}

/* Walk PROC/PID/fd: is the file at path open, or which file open under its name? *fd_path
 * receives PROC/PID/fd/N of the open file (OPEN_SAME, OPEN_REPLACED), *target its name. */
static OpenState
process_open_file(const char *proc, int pid, const char *path, char **fd_path, char **target,
                  char **why)
{
  g_autofree char *fd_dir = g_strdup_printf("%s/%d/fd", proc, pid);
  g_autoptr(GError) derr = NULL;
  g_autoptr(GDir) dir = g_dir_open(fd_dir, 0, &derr);
  if (dir == NULL) {
    *why = g_strdup(derr->message);
    return OPEN_UNREADABLE;
  }
  struct stat want;
  gboolean have = stat(path, &want) == 0;
  g_autofree char *canon = canonical_name(path);
  g_autofree char *deleted = g_strconcat(canon, " (deleted)", NULL);
  OpenState state = OPEN_NONE;
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    g_autofree char *link = g_build_filename(fd_dir, name, NULL);
    struct stat st;
    if (stat(link, &st) != 0)
      continue;
    g_autofree char *t = g_file_read_link(link, NULL);
    if (have && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
      g_free(*fd_path);
      g_free(*target);
      *fd_path = g_steal_pointer(&link);
      *target = g_steal_pointer(&t);
      return OPEN_SAME;
    }
    if (state == OPEN_NONE && t && (strcmp(t, canon) == 0 || strcmp(t, deleted) == 0 ||
                                    strcmp(t, path) == 0)) {
      *fd_path = g_steal_pointer(&link);
      *target = g_steal_pointer(&t);
      state = OPEN_REPLACED;
    }
  }
  return state;
}

/* For the audit of a running process: the file to judge for a flash's path. NULL: the path
 * itself; else PROC/PID/fd/N of the file the process really has open. *unknown: nothing
 * trustworthy can be read (the finding says why). */
static char *
judged_file(VsbAuditReport *r, const VsbAuditOptions *opts, const char *path,
            const char *evidence, gboolean is_varstore, gboolean *unknown)
{
  *unknown = FALSE;
  if (opts->pid <= 0 || path == NULL || !is_local_path(path))
    return NULL;
  const char *proc = opts->proc_root ? opts->proc_root : "/proc";
  g_autofree char *fd_path = NULL, *target = NULL, *why = NULL;
  OpenState s = process_open_file(proc, opts->pid, path, &fd_path, &target, &why);
  const char *id = is_varstore ? "varstore-replaced" : "firmware-replaced";
  const char *what = is_varstore ? "varstore" : "firmware code file";
  g_autofree char *facts = file_facts(path);
  if (s == OPEN_SAME)
    return NULL;
  if (s == OPEN_UNREADABLE) {
    g_autofree char *ev = g_strdup_printf("%s; %s", evidence, why);
    add_finding(r, "process-files-unreadable", VSB_SEVERITY_ERROR, ev,
                "run the audit as root or as the user the QEMU process runs as",
                "the files process %d has open cannot be read, so vsboot cannot tell whether "
                "the files at these paths are the ones the VM uses (a file replaced after the "
                "start would be judged instead of the one in use)", opts->pid);
    return NULL;
  }
  if (s == OPEN_NONE) {
    g_autofree char *ev = g_strdup_printf("%s; path now: %s", evidence, facts);
    add_finding(r, id, VSB_SEVERITY_ERROR, ev,
                "restart the VM so that it uses the file at its path, then audit again",
                "process %d has no file open under the %s's path: the file was moved or "
                "replaced after the start, and vsboot cannot tell which %s the VM uses",
                opts->pid, what, what);
    *unknown = TRUE;
    return NULL;
  }
  g_autofree char *open_facts = file_facts(fd_path);
  g_autofree char *ev = g_strdup_printf("%s; open: %s -> %s; path now: %s", evidence,
                                        open_facts, target, facts);
  add_finding(r, id, is_varstore ? VSB_SEVERITY_ERROR : VSB_SEVERITY_WARNING, ev,
              is_varstore ? "restart the VM from the store you mean it to use (and keep only "
                            "one file for it), then audit again"
                          : "restart the VM to run the firmware now installed",
              "process %d has a different file open than the one now at the %s's path (%s): "
              "the open one is judged%s", opts->pid, what, target,
              is_varstore ? "; what the VM writes is lost with it, and its next start uses "
                            "the other file"
                          : ", as it is what the VM runs");
  return g_steal_pointer(&fd_path);
}

/* A relative path of a process whose working directory could not be read: which file it
 * names is unknown, and guessing with our own directory could judge a different file. */
static gboolean
cwd_lost(VsbAuditReport *r, const VsbQemuCmdline *cmd, const char *path, gboolean remote,
         const char *evidence)
{
  if (!cmd->cwd_unknown || path == NULL || remote || g_path_is_absolute(path))
    return FALSE;
  add_finding(r, "process-cwd-unreadable", VSB_SEVERITY_ERROR, evidence,
              "run the audit as root or as the user the QEMU process runs as (or give QEMU "
              "absolute paths)",
              "the process's working directory cannot be read (or no longer leads where its "
              "relative names did: removed, or '/' after -daemonize), so the relative path "
              "'%s' cannot be resolved: vsboot cannot tell which file it names", path);
  return TRUE;
}

/* Every directory on the varstore's path: one another user can write lets them swap the store
 * (or a directory above it) for a setup-mode one while the VM is off. The store's own directory
 * must be writable by nobody else at all; an ancestor only with the sticky bit and root's
 * ownership, which stop others from renaming what is not theirs (/tmp). */
static void
dir_writable_findings(VsbAuditReport *r, const char *path, const char *evidence)
{
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  g_autofree char *dir = g_path_get_dirname(abs);
  struct stat fst;
  uid_t owner = lstat(abs, &fst) == 0 ? fst.st_uid : 0;
  for (gboolean parent = TRUE;; parent = FALSE) {
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
      gboolean writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
      gboolean sticky_root = (st.st_mode & S_ISVTX) && st.st_uid == 0;
      gboolean foreign = st.st_uid != 0 && st.st_uid != owner;
      if ((parent && (writable || foreign)) || (!parent && writable && !sticky_root)) {
        g_autofree char *ev = g_strdup_printf("%s; directory %s: mode %04o, owner uid %u",
                                              evidence, dir, (unsigned)(st.st_mode & 07777),
                                              (unsigned)st.st_uid);
        add_finding(r, "state-dir-writable", VSB_SEVERITY_ERROR, ev,
                    "chmod go-w the directory (and chown it to the varstore's owner or root)",
                    "the directory %s on the varstore's path can be changed by another user: "
                    "they can swap the varstore for a setup-mode one while the VM is off", dir);
        return;
      }
    }
    if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
      return;
    char *up = g_path_get_dirname(dir);
    g_free(dir);
    dir = up;
  }
}

VsbAuditReport *
vsb_audit_cmdline(const VsbQemuCmdline *cmd, const char *source, const VsbAuditOptions *opts,
                  GError **error)
{
  static const VsbAuditOptions no_opts = { 0 };
  if (opts == NULL)
    opts = &no_opts;
  g_autoptr(GPtrArray) own_entries = NULL;
  GPtrArray *entries = opts->firmware_entries;
  if (entries == NULL) {
    own_entries = vsb_fw_search(opts->firmware_dirs, error);
    if (own_entries == NULL)
      return NULL;
    entries = own_entries;
  }

  g_autoptr(VsbAuditReport) r = g_new0(VsbAuditReport, 1);
  r->source = clean(source ? source : "QEMU command line");
  r->findings = g_ptr_array_new_with_free_func(finding_free);
  r->notes = g_ptr_array_new_with_free_func(g_free);
  VsbAuditModel *m = &r->model;
  m->n_pk = m->n_kek = m->n_db = m->n_dbx = -1;

  /* Architecture and machine. */
  const char *arch = cmd->arch;
  if (arch == NULL)
    arch = (cmd->machine && g_str_has_prefix(cmd->machine, "virt")) ? "aarch64" : "x86_64";
  m->arch = g_strdup(arch);
  gboolean x86 = arch_is_x86(arch);
  gboolean arm = strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm") == 0;
  m->machine = clean(cmd->machine ? cmd->machine : x86 ? "pc" : "(none)");
  if (cmd->accels->len) {
    g_autoptr(GString) a = g_string_new(NULL);
    for (guint i = 0; i < cmd->accels->len; i++)
      g_string_append_printf(a, "%s%s", i ? ":" : "", (char *)cmd->accels->pdata[i]);
    m->accel = clean(a->str);
  } else {
    m->accel = g_strdup("tcg");
  }
  gboolean q35 = machine_is_q35(cmd->machine);
  const char *smm_opt = vsb_qemu_opts_get(cmd->machine_opts, "smm");
  gboolean smm_on = TRUE, smm_explicit_off = FALSE;
  if (smm_opt && strcmp(smm_opt, "auto") != 0) {
    gboolean v = TRUE;
    if (vsb_qemu_parse_bool(smm_opt, &v)) {
      smm_on = v;
      smm_explicit_off = !v;
    }
  }
  if (x86)
    m->smm = g_strdup(smm_opt == NULL || strcmp(smm_opt, "auto") == 0 ? "auto"
                      : smm_on ? "on" : "off");
  const char *secure_ev = NULL;
  gboolean secure_set = FALSE;
  m->secure_flash = vsb_qemu_cmdline_pflash_secure(cmd, &secure_set, &secure_ev);
  g_autofree char *conf_ev = NULL;
  const char *conf = confidential_type(cmd, &conf_ev);
  m->confidential = g_strdup(conf);
  m->snapshot = cmd->snapshot;

  if (x86 && !q35)
    add_finding(r, "machine-not-q35", VSB_SEVERITY_ERROR,
                cmd->machine_evidence ? cmd->machine_evidence : "no -machine: QEMU's default is pc (i440fx)",
                "use -machine q35,smm=on",
                "the machine type is %s, not q35: OVMF's SMM-protected variable store, and so "
                "Secure Boot that the guest OS cannot undo, needs q35", m->machine);

  /* Globals QEMU silently ignores: "cfi.pflash01.secure=on" names the class "cfi". */
  for (guint i = 0; i < cmd->globals->len; i++) {
    VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (g->short_form && strcmp(g->driver, "cfi") == 0 && g_str_has_prefix(g->property, "pflash01.")) {
      add_finding(r, "global-ignored", VSB_SEVERITY_WARNING, g->evidence,
                  "write -global driver=cfi.pflash01,property=secure,value=on",
                  "QEMU splits '-global %s.%s=%s' at the first dot: driver 'cfi', property "
                  "'%s'; no device class is called 'cfi', so QEMU only warns (\"global %s.%s "
                  "has invalid class name\") and the flash is NOT made secure",
                  g->driver, g->property, g->value, g->property, g->driver, g->property);
    }
    if (strcmp(g->driver, "cfi.pflash01") == 0 && strcmp(g->property, "secure") == 0) {
      gboolean v;
      if (!vsb_qemu_parse_bool(g->value, &v))
        add_finding(r, "global-ignored", VSB_SEVERITY_ERROR, g->evidence,
                    "use value=on", "'%s' is not a boolean: QEMU refuses to start", g->value);
    }
  }

  /* Firmware: flash 0, else -bios, else QEMU's default. */
  VsbQemuFlash code = { 0 }, vars = { 0 };
  g_autoptr(GError) ferr = NULL;
  if (!vsb_qemu_cmdline_get_flash(cmd, 0, &code, &ferr) ||
      !vsb_qemu_cmdline_get_flash(cmd, 1, &vars, &ferr)) {
    vsb_qemu_flash_clear(&code);
    vsb_qemu_flash_clear(&vars);
    g_propagate_error(error, g_steal_pointer(&ferr));
    return NULL;
  }
  unmodeled_findings(r, cmd, &code, &vars);
  const char *code_path = NULL;
  g_autofree char *bios_abs = vsb_qemu_cmdline_abspath(cmd, cmd->bios);
  if (code.present) {
    m->firmware_via = g_strdup("pflash");
    code_path = code.file;
    m->code_readonly = code.readonly;
    m->code_format = g_strdup(code.format);
    if (cmd->bios) {
      if (arm) {
        add_finding(r, "bios-ignored", VSB_SEVERITY_ERROR, cmd->bios_evidence, "drop -bios",
                    "both -bios and flash 0 are given: QEMU's virt machine refuses to start");
      } else {
        add_finding(r, "bios-ignored", VSB_SEVERITY_INFO, cmd->bios_evidence, "drop -bios",
                    "-bios is ignored: flash 0 holds the firmware");
      }
    }
  } else if (cmd->bios) {
    m->firmware_via = g_strdup("bios");
    code_path = bios_abs;
    m->code_readonly = TRUE;
  } else {
    m->firmware_via = g_strdup("none");
  }
  m->code = clean(code_path);
  /* A running process: the code it has open, which a package upgrade may have replaced. Only
   * flash stays open: QEMU reads a -bios image into ROM at start and closes it. */
  gboolean code_unknown = FALSE;
  g_autofree char *code_open = NULL;
  if (!cwd_lost(r, cmd, code_path, code.remote, code.present ? code.evidence : cmd->bios_evidence)
      && code.present)
    code_open = judged_file(r, opts, code_path, code.evidence, FALSE, &code_unknown);
  if (code_open)
    code_path = code_open;

  /* What the firmware is. */
  const VsbFwDescriptor *desc = NULL;
  gboolean fw_known = FALSE, fw_sb = FALSE, fw_smm = FALSE;
  g_autofree char *fw_ev = NULL;
  if (code_path == NULL) {
    add_finding(r, "no-uefi-firmware", VSB_SEVERITY_ERROR,
                "no -bios, no flash 0 (-drive if=pflash / -machine pflash0=)",
                "give the Secure Boot firmware as flash 0 (read-only) and a private varstore as "
                "flash 1, e.g. from 'vsboot qemu-args'",
                "no UEFI firmware is given: QEMU boots its default firmware (SeaBIOS on x86), "
                "which has no Secure Boot");
  } else if (!is_local_path(code_path) || !g_file_test(code_path, G_FILE_TEST_IS_REGULAR)) {
    g_autofree char *facts = file_facts(code_path);
    g_autofree char *ev = join_ev(code.present ? code.evidence : cmd->bios_evidence, facts);
    add_finding(r, "firmware-missing", VSB_SEVERITY_ERROR, ev, "point at an installed firmware file",
                "the firmware file cannot be read: QEMU will not start, and vsboot cannot tell "
                "what it contains");
  } else {
    fw_ev = file_facts(code_path);
    desc = descriptor_for_code(entries, code_path);
    if (desc) {
      fw_known = TRUE;
      fw_sb = vsb_fw_descriptor_has_feature(desc, VSB_FW_FEATURE_SECURE_BOOT);
      fw_smm = vsb_fw_descriptor_has_feature(desc, VSB_FW_FEATURE_REQUIRES_SMM);
      m->descriptor = clean(desc->path);
      m->features_source = g_strdup("descriptor");
      char *e2 = g_strdup_printf("%s; descriptor %s", fw_ev, m->descriptor);
      g_free(fw_ev);
      fw_ev = e2;
    }
    /* The binary has the last word: a descriptor only says what a packager claims (Debian's
     * OVMF_CODE_4M.fd has Secure Boot without SMM although its descriptor says nothing of
     * it; a descriptor could also claim SMM a build does not have). */
    g_autoptr(GError) ierr = NULL;
    g_autoptr(VsbFvImage) img = vsb_fv_inspect_file(code_path, NULL, &ierr);
    if (img) {
      gboolean sb = vsb_fv_image_has_feature(img, "secure-boot");
      gboolean smm = vsb_fv_image_has_feature(img, "requires-smm");
      if (!desc) {
        fw_known = TRUE;
        fw_sb = sb;
        fw_smm = smm;
        m->features_source = g_strdup("inspection");
        add_finding(r, "firmware-unknown-provenance", VSB_SEVERITY_WARNING, fw_ev,
                    "use a firmware file an installed descriptor names (a distribution "
                    "package), or add a descriptor for it",
                    "no installed firmware descriptor names this file, so nothing vouches for "
                    "what it is; vsboot inspected the binary: Secure Boot %s, SMM %s",
                    sb ? "present" : "absent", smm ? "required" : "not required");
      } else {
        /* Claims the binary contradicts. */
        g_autoptr(GPtrArray) claimed = g_ptr_array_new();
        for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
          if (desc->features & VSB_FW_FEATURE_BIT(f))
            g_ptr_array_add(claimed, (gpointer)vsb_fw_feature_name((VsbFwFeature)f));
        g_ptr_array_add(claimed, NULL);
        g_autoptr(GPtrArray) checks =
          vsb_fv_image_check_claims(img, (const char *const *)claimed->pdata);
        g_autoptr(GString) lies = g_string_new(NULL);
        for (guint i = 0; checks && i < checks->len; i++) {
          const VsbFvClaimCheck *c = checks->pdata[i];
          if (c->claim == VSB_FV_CLAIM_FALSE)
            g_string_append_printf(lies, "%s'%s' (%s)", lies->len ? ", " : "", c->feature,
                                   c->evidence ? c->evidence : "absent");
        }
        if (lies->len) {
          g_autofree char *ev = g_strdup_printf("%s; the binary lacks %s", fw_ev, lies->str);
          add_finding(r, "descriptor-mismatch", VSB_SEVERITY_WARNING, ev,
                      "fix or remove the descriptor (vsboot firmware check)",
                      "the descriptor claims features this binary does not have; libvirt "
                      "selects firmware by those claims, vsboot judges by the binary");
        }
        if (sb != fw_sb || smm != fw_smm) {
          if (sb && !fw_sb)
            g_ptr_array_add(r->notes,
                            g_strdup_printf("%s: the descriptor claims no secure-boot, but the "
                                            "binary has Secure Boot support%s",
                                            m->code, smm ? "" : " without SMM"));
          fw_sb = sb;
          fw_smm = smm;
          g_free(m->features_source);
          m->features_source = g_strdup("inspection");
        }
      }
    } else if (!desc) {
      g_autofree char *ev = join_ev(fw_ev, ierr->message);
      add_finding(r, "firmware-unknown", VSB_SEVERITY_ERROR, ev,
                  "use the firmware of a distribution package with a descriptor",
                  "no descriptor names this firmware and it cannot be inspected: whether it "
                  "has Secure Boot is unknown");
    }
  }
  m->fw_secure_boot = fw_sb;
  m->fw_requires_smm = fw_smm;
  if (opts->expected_code_sha256 && code_path && g_file_test(code_path, G_FILE_TEST_IS_REGULAR)) {
    g_autoptr(GError) herr = NULL;
    /* Streamed through the shared non-blocking regular-file opener. */
    g_autofree char *sum = vsb_file_sha256(code_path, &herr);
    if (sum) {
      if (g_ascii_strcasecmp(sum, opts->expected_code_sha256) != 0) {
        g_autofree char *ev = g_strdup_printf("%s; sha256 %s now, %s when provisioned", fw_ev,
                                              sum, opts->expected_code_sha256);
        add_finding(r, "firmware-changed", VSB_SEVERITY_WARNING, ev,
                    "check the package update, then provision again (vsboot provision --reset "
                    "keeps nothing) or accept the new build",
                    "the firmware code file changed since the VM was provisioned (a package "
                    "update, or a replaced file): the VM runs a build nobody chose for it");
      }
    }
  }
  const char *fw_where = code.present ? code.evidence : cmd->bios_evidence;
  g_autofree char *fw_full_ev = join_ev(fw_where, fw_ev);

  if (fw_known) {
    if (!fw_sb) {
      add_finding(r, "firmware-no-secure-boot", VSB_SEVERITY_ERROR, fw_full_ev,
                  x86 ? "use OVMF_CODE_4M.secboot.fd (or the descriptor with requires-smm and "
                        "secure-boot)"
                      : "use the Secure Boot build (AAVMF_CODE.secboot.fd / .ms.fd)",
                  "this firmware build has no Secure Boot support: nothing is verified");
    } else if (x86 && !fw_smm) {
      add_finding(r, "secure-boot-without-smm", VSB_SEVERITY_ERROR, fw_full_ev,
                  "use the SMM build (OVMF_CODE_4M.secboot.fd) with -machine q35,smm=on and "
                  "-global driver=cfi.pflash01,property=secure,value=on",
                  "this firmware has Secure Boot but no SMM: the variable store is ordinary "
                  "flash the guest OS can write, so a compromised guest kernel can replace PK, "
                  "db or dbx and undo Secure Boot");
    } else if (arm) {
      add_finding(r, "aarch64-no-smm", VSB_SEVERITY_WARNING, fw_full_ev,
                  "no fix on Arm: treat Secure Boot as protection against code that cannot "
                  "write the flash (bootloaders, unsigned kernels), not against a compromised "
                  "guest kernel",
                  "Arm has no SMM: the varstore flash is writable by the guest OS, so Secure "
                  "Boot protects only against code that cannot write the flash");
    }
    if (fw_smm && x86) {
      if (smm_explicit_off)
        add_finding(r, "smm-off", VSB_SEVERITY_ERROR, cmd->machine_evidence,
                    "use -machine q35,smm=on",
                    "the firmware requires SMM but the machine has smm=off: the SMM build "
                    "stops early in boot (and without SMM nothing protects the varstore)");
      if ((smm_opt == NULL || strcmp(smm_opt, "auto") == 0) && cmd->accels->len > 0 &&
          strcmp(cmd->accels->pdata[0], "kvm") == 0)
        add_finding(r, "smm-auto", VSB_SEVERITY_WARNING,
                    cmd->machine_evidence ? cmd->machine_evidence : cmd->accel_evidence,
                    "add smm=on to -machine (libvirt: <smm state='on'/>)",
                    "SMM is left to 'auto': under KVM, QEMU turns it on only when the host's "
                    "KVM supports SMM, and otherwise silently runs without it, where this SMM "
                    "firmware stops at boot; with smm=on QEMU refuses to start instead");
      if (!m->secure_flash && code.present)
        add_finding(r, "varstore-not-secure", VSB_SEVERITY_ERROR,
                    secure_ev ? secure_ev : "no -global driver=cfi.pflash01,property=secure,value=on",
                    "add -global driver=cfi.pflash01,property=secure,value=on (libvirt: "
                    "<loader secure='yes'>)",
                    "the flash is not marked secure: QEMU lets code outside SMM (the guest OS) "
                    "write the varstore directly, bypassing the SMM variable driver's "
                    "authentication, so PK/KEK/db/dbx can be rewritten from the guest");
    }
    if (m->firmware_via && strcmp(m->firmware_via, "bios") == 0 &&
        (desc == NULL || desc->device == VSB_FW_DEVICE_FLASH)) {
      struct stat bs;
      gboolean refused = x86 && stat(code_path, &bs) == 0 && (bs.st_size % 65536) != 0;
      add_finding(r, "firmware-via-bios", VSB_SEVERITY_ERROR, fw_full_ev,
                  "map the code read-only as flash 0 and a private varstore copy as flash 1 "
                  "(-drive if=pflash,unit=0,readonly=on,... -drive if=pflash,unit=1,...)",
                  "pflash firmware is loaded with -bios (as ROM): there is no writable "
                  "varstore flash, so OVMF keeps variables in RAM, starting empty (setup mode) "
                  "at every boot, and Secure Boot is never enabled%s",
                  refused ? "; this file's size is not a multiple of 64 KiB, so QEMU refuses "
                            "it (\"could not load PC BIOS\") and the VM does not start at all"
                          : "");
    }
  }

  /* Code flash writable. */
  if (code.present && !code.readonly && (vars.present || (desc && desc->mode == VSB_FW_FLASH_MODE_SPLIT))) {
    g_autofree char *ev = join_ev(code.evidence, fw_ev);
    add_finding(r, "code-writable", VSB_SEVERITY_ERROR, ev, "add readonly=on to flash 0",
                "the firmware code flash is writable: the guest can rewrite the firmware "
                "(and with it the Secure Boot checks), and the change is written back to the "
                "shared code file");
  }

  /* The varstore. */
  const char *vpath = vars.present ? vars.file : NULL;
  m->varstore = clean(vpath);
  /* vfile: the file whose variables are judged; for a running process, the one it has open. */
  gboolean vars_lost = vars.present && cwd_lost(r, cmd, vpath, vars.remote, vars.evidence);
  g_autofree char *vars_open = NULL;
  if (vars.present && !vars_lost)
    vars_open = judged_file(r, opts, vpath, vars.evidence, TRUE, &vars_lost);
  const char *vfile = vars_open ? vars_open : vpath;
  m->varstore_format = g_strdup(vars.format);
  m->varstore_readonly = vars.readonly;
  /* One flash holding code and variables: a combined descriptor, or a unified image such as
   * Debian's OVMF.fd (a variable store at the start of the file). */
  gboolean combined = code.present && !vars.present && desc && desc->mode == VSB_FW_FLASH_MODE_COMBINED;
  if (code.present && !vars.present && !combined && code_path &&
      g_file_test(code_path, G_FILE_TEST_IS_REGULAR)) {
    g_autoptr(VsbVarstore) embedded = vsb_varstore_load(code_path, NULL);
    combined = embedded != NULL;
  }
  if (combined) {
    /* The store is flash 0 itself. */
    g_free(m->varstore);
    m->varstore = clean(code_path);
    m->varstore_readonly = code.readonly;
    g_ptr_array_add(r->notes, g_strdup_printf("%s holds code and variables in one flash "
                                              "(combined image)", m->code));
  }
  /* The flash and file the variables live in, for the file checks below. */
  const VsbQemuFlash *sflash = combined ? &code : vars.present ? &vars : NULL;
  const char *spath = combined ? code_path : vpath;
  gboolean stateless = desc && desc->mode == VSB_FW_FLASH_MODE_STATELESS;
  const char *read_path = NULL;
  if (combined) {
    read_path = code_path;
  } else if (code.present && !vars.present && !stateless && fw_known) {
    add_finding(r, "varstore-missing", VSB_SEVERITY_ERROR, code.evidence,
                "give the VM its own copy of the varstore template as flash 1",
                "there is no varstore flash (flash 1): OVMF keeps variables in RAM, starting "
                "empty (setup mode) at every boot, so Secure Boot is off");
  } else if (vars.present && vars_lost) {
    /* A finding says why: which file the VM uses is not known, so none is judged. */
  } else if (vars.present) {
    if (!is_local_path(vpath)) {
      add_finding(r, "varstore-unreadable", VSB_SEVERITY_ERROR, vars.evidence,
                  "audit a local copy", "the varstore is not a local file vsboot can read");
    } else if (!g_file_test(vfile, G_FILE_TEST_EXISTS)) {
      if (opts->varstore_template) {
        read_path = opts->varstore_template;
        add_finding(r, "varstore-from-template", VSB_SEVERITY_INFO, vars.evidence, NULL,
                    "the varstore does not exist yet; libvirt will create it from %s, whose "
                    "variables are judged", opts->varstore_template);
      } else {
        g_autofree char *facts = file_facts(vpath);
        g_autofree char *ev = join_ev(vars.evidence, facts);
        add_finding(r, "varstore-missing", VSB_SEVERITY_ERROR, ev,
                    "copy the template (e.g. OVMF_VARS_4M.ms.fd) to this path, mode 0600",
                    "the varstore file does not exist: QEMU will not start");
      }
    } else if (!g_file_test(vfile, G_FILE_TEST_IS_REGULAR)) {
      /* A directory, device, FIFO or socket: QEMU cannot use a directory as a flash image,
       * and vsboot judges only the variables of a regular file. */
      struct stat st;
      const char *kind = stat(vfile, &st) != 0 ? "not a file" : vsb_file_kind(st.st_mode);
      g_autofree char *facts = file_facts(vfile);
      g_autofree char *ev = join_ev(vars.evidence, facts);
      add_finding(r, "varstore-unreadable", VSB_SEVERITY_ERROR, ev,
                  "give flash 1 a regular file: a copy of the varstore template, mode 0600",
                  "the varstore is not a regular file (%s): %s", kind,
                  strcmp(kind, "a directory") == 0
                    ? "QEMU cannot open a directory as flash and will not start"
                    : "vsboot reads only regular files and cannot judge the variables in it");
    } else {
      read_path = vfile;
      /* The format QEMU is told must be the file's: a qcow2 file read as raw shows the
       * firmware the container's bytes, a raw file opened as qcow2 does not open at all. */
      gboolean is_qcow2 = vsb_file_is_qcow2(vfile);
      const char *fmt = vars.format;
      if (fmt && ((strcmp(fmt, "raw") == 0 && is_qcow2) || (strcmp(fmt, "qcow2") == 0 && !is_qcow2))) {
        g_autofree char *facts = file_facts(vfile);
        g_autofree char *ev = join_ev(vars.evidence, facts);
        add_finding(r, "format-mismatch", VSB_SEVERITY_ERROR, ev,
                    is_qcow2 ? "use format=qcow2 for this file" : "use format=raw for this file",
                    "the varstore is %s but QEMU is told format=%s: %s",
                    is_qcow2 ? "a qcow2 image" : "not a qcow2 image", fmt,
                    is_qcow2 ? "the firmware sees the qcow2 container's bytes, finds no valid "
                               "store and formats an empty one (setup mode), overwriting the file"
                             : "QEMU cannot open it and does not start");
        read_path = NULL;
      }
    }
  }
  m->varstore_read = clean(read_path);

  if (sflash && spath && is_local_path(spath) && g_file_test(spath, G_FILE_TEST_EXISTS)) {
    struct stat st;
    g_autofree char *facts = file_facts(spath);
    g_autofree char *ev = join_ev(sflash->evidence, facts);
    /* Modes and link counts say something only of a regular file (a directory's link count
     * is its number of subdirectories plus two, not of names). */
    if (stat(spath, &st) == 0 && S_ISREG(st.st_mode)) {
      if (st.st_mode & S_IWOTH)
        add_finding(r, "varstore-world-writable", VSB_SEVERITY_ERROR, ev, "chmod 0600 the varstore",
                    "the varstore is world-writable: any local user can replace PK, db or dbx "
                    "while the VM is off");
      if (st.st_nlink > 1)
        add_finding(r, "varstore-hardlinked", VSB_SEVERITY_WARNING, ev,
                    "give every VM its own copy (cp, not ln)",
                    "the varstore file has %lu names (hard links): another VM or tool may use "
                    "the same variables", (unsigned long)st.st_nlink);
    }
    if (stat(spath, &st) == 0 && S_ISREG(st.st_mode))
      dir_writable_findings(r, spath, sflash->evidence);
    if (is_template(entries, spath) || g_str_has_prefix(spath, "/usr/")) {
      add_finding(r, "varstore-shared", VSB_SEVERITY_ERROR, ev,
                  "copy the file to a per-VM file and use the copy",
                  "the varstore is a distribution file itself: every VM using it shares "
                  "(and %s) the same variables", sflash->readonly ? "cannot save" : "rewrites");
    } else if (!opts->no_process_scan) {
      g_autofree char *users = other_users(spath, opts);
      if (users) {
        g_autofree char *ev2 = g_strdup_printf("%s; also used by %s", ev, users);
        add_finding(r, "varstore-shared", VSB_SEVERITY_ERROR, ev2,
                    "give every VM its own copy of the template",
                    "another running QEMU uses the same varstore: each VM can change the other's "
                    "Secure Boot keys, and their writes corrupt each other");
      }
    }
    if (sflash->readonly)
      add_finding(r, "varstore-readonly", VSB_SEVERITY_WARNING, sflash->evidence,
                  "map the varstore read-write (readonly=off)",
                  "the varstore flash is read-only: the firmware cannot save variables (boot "
                  "entries, dbx updates)");
    if (sflash->snapshot)
      add_finding(r, "snapshot-mode", VSB_SEVERITY_WARNING,
                  cmd->snapshot_evidence ? cmd->snapshot_evidence : sflash->evidence,
                  "drop -snapshot (or snapshot=on) for the varstore",
                  "snapshot mode: writes to the varstore go to a temporary overlay and are "
                  "discarded at exit, so dbx updates and key changes never persist");
  }

  if (read_path) {
    g_autoptr(GError) verr = NULL;
    g_autoptr(VsbVarstore) store = vsb_varstore_load(read_path, &verr);
    g_autofree char *facts = file_facts(read_path);
    g_autofree char *ev = join_ev(vars.present ? vars.evidence : code.evidence, facts);
    if (store == NULL) {
      g_autofree char *ev2 = join_ev(ev, verr->message);
      add_finding(r, "varstore-invalid", VSB_SEVERITY_ERROR, ev2,
                  "start again from a copy of the template",
                  "the varstore is not a valid edk2 variable store: Debian's OVMF 2022.11 stops "
                  "at boot with a CPU exception, a build that recovers formats it empty "
                  "(setup mode)");
    } else {
      g_autoptr(VsbSecureBootState) sb = vsb_secure_boot_state(store);
      /* One judgement for every command (sbjudge.h): what edk2 will decide at boot. */
      m->secure_boot = g_strdup(sb->verdict == VSB_SB_VERDICT_UNCERTAIN
                                  ? "uncertain" : vsb_secure_boot_mode_name(sb->mode));
      m->n_pk = (int)sb->n_pk;
      m->n_kek = (int)sb->n_kek;
      m->n_db = (int)sb->n_db;
      m->n_dbx = (int)sb->n_dbx;
      g_autofree char *why = g_strdup_printf("%s: any unsigned binary boots", sb->reason);
      if (sb->verdict == VSB_SB_VERDICT_UNCERTAIN)
        add_finding(r, "secure-boot-uncertain", VSB_SEVERITY_ERROR, ev,
                    "start again from a copy of the template and enroll keys into it",
                    "%s", sb->reason);
      else if (sb->mode == VSB_SB_MODE_SETUP)
        add_finding(r, "varstore-setup-mode", VSB_SEVERITY_ERROR, ev,
                    "enroll keys: vsboot vars enroll, or start from OVMF_VARS_4M.ms.fd", "%s", why);
      else if (!sb->enforcing)
        add_finding(r, "secure-boot-disabled", VSB_SEVERITY_ERROR, ev,
                    "set SecureBootEnable to exactly 1 in an authenticated store "
                    "(vsboot vars enroll --secure-boot)", "%s", why);
      if (sb->mode != VSB_SB_MODE_SETUP) {
        if (sb->n_db == 0)
          add_finding(r, "db-empty", VSB_SEVERITY_WARNING, ev,
                      "enroll the certificate(s) your boot chain is signed with into db",
                      "db is empty: nothing signed can boot (Secure Boot is enforced, but "
                      "only by refusing everything)");
        if (sb->n_dbx == 0)
          add_finding(r, "dbx-empty", VSB_SEVERITY_WARNING, ev,
                      "apply the current UEFI revocation list (vsboot vars enroll --dbx-update "
                      "dbxupdate.bin)",
                      "dbx is empty: revoked boot loaders (e.g. those BlackLotus abuses) still "
                      "boot");
        else if (sb->dbx_placeholder)
          add_finding(r, "dbx-placeholder", VSB_SEVERITY_WARNING, ev,
                      "apply the current UEFI revocation list (dbxupdate.bin)",
                      "dbx holds only the placeholder hash (sha256 of nothing): no revoked boot "
                      "loader is blocked");
        /* The 2011 CAs expired in 2026; media signed only by their 2023 successors (new
         * Windows boot managers, new shims) are refused where db lacks those. */
        const VsbMsState *ms = sb->microsoft; /* worked out with the rest of the state */
        if (ms && ms->missing_successor) {
          g_autoptr(GString) which_s = g_string_new(NULL);
          for (guint i = 0; i < ms->warnings->len; i++)
            g_string_append_printf(which_s, "%s%s", i ? "; " : "",
                                   (const char *)ms->warnings->pdata[i]);
          const char *which = which_s->str;
          add_finding(r, "microsoft-2023-missing", VSB_SEVERITY_WARNING, ev,
                      "with the VM stopped: vsboot vars enroll --in-place VARSTORE --microsoft 2023",
                      "the varstore trusts Microsoft's 2011 CAs but not their 2023 successors: "
                      "boot media signed only by the 2023 CAs will be refused (%s)", which);
        }
      }
      /* Code and varstore sizes (x86 OVMF; ArmVirt has a fixed layout). */
      if (code_path && vars.present && read_path == vfile && !combined) {
        struct stat cs;
        guint64 vsize = vsb_varstore_get_file_size(store);
        VsbVarstoreLayout lay = vsb_varstore_get_layout(store);
        gboolean qcow = (code.format && strcmp(code.format, "qcow2") == 0);
        if (!qcow && stat(code_path, &cs) == 0) {
          gboolean ok = TRUE;
          if (x86)
            ok = vsb_fw_image_check_pair(VSB_FW_ARCH_X86_64, m->code, (guint64)cs.st_size,
                                         m->varstore, vsize, NULL);
          else if (arm)
            ok = lay == VSB_VARSTORE_LAYOUT_ARMVIRT;
          if (!ok) {
            g_autofree char *ev2 = g_strdup_printf("code %s: %lld bytes; varstore %s: %" G_GUINT64_FORMAT
                                                   " bytes (%s layout)", m->code, (long long)cs.st_size,
                                                   m->varstore, vsize, vsb_varstore_layout_name(lay));
            add_finding(r, "size-mismatch", VSB_SEVERITY_ERROR, ev2,
                        "use the varstore template that belongs to this code build (4M code: "
                        "OVMF_VARS_4M*.fd; 2M code: OVMF_VARS.fd)",
                        "the code and varstore sizes do not belong together: the firmware does "
                        "not find its store where it expects it, falls back to variables in RAM "
                        "(setup mode at every boot) and nothing is persisted");
          }
        }
      }
    }
  }

  /* Direct kernel boot. */
  if (cmd->kernel) {
    m->kernel = clean(cmd->kernel);
    add_finding(r, "direct-kernel-boot", VSB_SEVERITY_ERROR, cmd->kernel_evidence,
                "boot the kernel from the guest's disk through the signed chain (shim, "
                "grub/systemd-boot) instead of -kernel",
                "-kernel: the kernel comes through fw_cfg, and OVMF falls back to its legacy "
                "Linux loader when the image fails verification, so an unsigned kernel runs "
                "although Secure Boot is enforced");
    if (conf)
      add_finding(r, "direct-kernel-boot-confidential", VSB_SEVERITY_ERROR,
                  conf_ev ? conf_ev : cmd->kernel_evidence,
                  "do not use -kernel with SEV/TDX; boot from the (measured) disk",
                  "direct kernel boot in a %s guest: the host chooses the kernel, initrd and "
                  "command line, which the guest cannot verify through Secure Boot", conf);
  }
  if (conf)
    add_finding(r, "confidential-guest", VSB_SEVERITY_INFO, conf_ev, NULL,
                "confidential guest (%s): the host cannot read guest memory", conf);

  vsb_qemu_flash_clear(&code);
  vsb_qemu_flash_clear(&vars);

  /* Errors first, then warnings, then info; stable within a severity. */
  g_autoptr(GPtrArray) sorted = g_ptr_array_new_with_free_func(finding_free);
  for (int sev = VSB_SEVERITY_ERROR; sev >= VSB_SEVERITY_INFO; sev--)
    for (guint i = 0; i < r->findings->len; i++) {
      VsbFinding *f = r->findings->pdata[i];
      if ((int)f->severity == sev)
        g_ptr_array_add(sorted, f);
    }
  g_ptr_array_set_free_func(r->findings, NULL);
  g_ptr_array_unref(r->findings);
  r->findings = g_steal_pointer(&sorted);
  r->enforced = TRUE;
  for (guint i = 0; i < r->findings->len; i++)
    if (((VsbFinding *)r->findings->pdata[i])->severity == VSB_SEVERITY_ERROR)
      r->enforced = FALSE;
  return g_steal_pointer(&r);
}

static void
add_str(JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name(b, key);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void
add_int(JsonBuilder *b, const char *key, int v)
{
  json_builder_set_member_name(b, key);
  if (v < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_int_value(b, v);
}

static void
add_bool(JsonBuilder *b, const char *key, gboolean v)
{
  json_builder_set_member_name(b, key);
  json_builder_add_boolean_value(b, v);
}

JsonNode *
vsb_audit_report_to_json(const VsbAuditReport *r)
{
  const VsbAuditModel *m = &r->model;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_str(b, "source", r->source);
  add_str(b, "verdict", r->enforced ? "enforced" : "not-enforced");
  json_builder_set_member_name(b, "model");
  json_builder_begin_object(b);
  add_str(b, "arch", m->arch);
  add_str(b, "machine", m->machine);
  add_str(b, "accel", m->accel);
  add_str(b, "smm", m->smm);
  add_bool(b, "secure-flash", m->secure_flash);
  add_str(b, "firmware-via", m->firmware_via);
  add_str(b, "code", m->code);
  add_str(b, "code-format", m->code_format);
  add_bool(b, "code-readonly", m->code_readonly);
  add_str(b, "descriptor", m->descriptor);
  add_str(b, "features-source", m->features_source);
  add_bool(b, "firmware-secure-boot", m->fw_secure_boot);
  add_bool(b, "firmware-requires-smm", m->fw_requires_smm);
  add_str(b, "varstore", m->varstore);
  add_str(b, "varstore-format", m->varstore_format);
  add_bool(b, "varstore-readonly", m->varstore_readonly);
  add_str(b, "varstore-read", m->varstore_read);
  add_str(b, "secure-boot", m->secure_boot);
  add_int(b, "pk", m->n_pk);
  add_int(b, "kek", m->n_kek);
  add_int(b, "db", m->n_db);
  add_int(b, "dbx", m->n_dbx);
  add_str(b, "kernel", m->kernel);
  add_bool(b, "snapshot", m->snapshot);
  add_str(b, "confidential", m->confidential);
  json_builder_end_object(b);
  json_builder_set_member_name(b, "findings");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->findings->len; i++) {
    VsbFinding *f = r->findings->pdata[i];
    json_builder_begin_object(b);
    add_str(b, "id", f->id);
    add_str(b, "severity", vsb_severity_name(f->severity));
    add_str(b, "message", f->message);
    add_str(b, "evidence", f->evidence);
    add_str(b, "fix", f->fix);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "notes");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->notes->len; i++) {
    g_autofree char *n = clean(r->notes->pdata[i]);
    json_builder_add_string_value(b, n);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
