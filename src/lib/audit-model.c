/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's model of a VM, built once from its command line before any rule runs: the
 * machine, the flashes and the files behind them (for a running process, the ones it really
 * has open), what the firmware is (descriptor and binary), what the varstore is and what the
 * firmware will make of it, and which other QEMU processes use it. */
#include "audit-private.h"
#include "util/procpid.h"
#include "inspect-cache.h"
#include "util/arch.h"

#include "fileio.h"
#include "vsboot/fv.h"
#include "vsboot/fwselect.h"
#include "vsboot/mscerts.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  return (opts->self_args && same_args(argv, opts->self_args)) ||
         (opts->self_name && has_name(argv, opts->self_name));
}

/* Does QEMU process pid (another VM) have this file (device, inode) as its varstore? */
static gboolean
process_uses_varstore(const char *proc, long pid, const struct stat *mine)
{
  g_autoptr(VsbQemuCmdline) cmd = vsb_qemu_cmdline_parse_process(proc, (int)pid, NULL);
  if (cmd == NULL)
    return FALSE;
  VsbQemuFlash fl;
  if (!vsb_qemu_cmdline_get_flash(cmd, 1, &fl, NULL))
    return FALSE;
  struct stat st;
  /* A relative name whose cwd is unknown would be looked up in ours: skipped. */
  gboolean same = fl.present && fl.file && g_path_is_absolute(fl.file) &&
                  stat(fl.file, &st) == 0 && st.st_dev == mine->st_dev &&
                  st.st_ino == mine->st_ino;
  vsb_qemu_flash_clear(&fl);
  return same;
}

/* Process pid (argv) is another QEMU whose varstore is this file: say so in found. */
static void
check_user(GString *found, const char *proc, long pid, char **argv, const VsbAuditOptions *opts,
           const struct stat *mine)
{
  if (argv == NULL || argv[0] == NULL || is_audited_vm(argv, opts))
    return;
  g_autofree char *base = g_path_get_basename(argv[0]);
  if (strstr(base, "qemu") == NULL && strcmp(base, "kvm") != 0)
    return;
  if (process_uses_varstore(proc, pid, mine))
    g_string_append_printf(found, "%sprocess %ld (%s)", found->len ? ", " : "", pid, base);
}

/* Other running QEMU processes whose varstore (flash 1) is the same file. */
static char *
other_users(const char *varstore, const VsbAuditOptions *opts)
{
  struct stat mine;
  if (stat(varstore, &mine) != 0)
    return NULL;
  const char *proc = opts->proc_root ? opts->proc_root : "/proc";
  g_autoptr(GString) found = g_string_new(NULL);
  int self = (int)getpid();
  if (opts->cache) {
    /* The QEMU processes as the cache read them once for all the audits of a scan. */
    GPtrArray *procs = vsb_audit_cache_qemu_processes(opts->cache, proc);
    for (guint i = 0; i < procs->len; i++) {
      const VsbAuditProcess *p = procs->pdata[i];
      if (p->pid != self && p->pid != opts->self_pid)
        check_user(found, proc, p->pid, p->argv, opts, &mine);
    }
    return found->len ? g_strdup(found->str) : NULL;
  }
  g_autoptr(GDir) dir = g_dir_open(proc, 0, NULL);
  if (dir == NULL)
    return NULL;
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    int pid = vsb_proc_entry_pid(name);
    if (pid == 0 || pid == self || pid == opts->self_pid)
      continue;
    g_auto(GStrv) argv = vsb_qemu_read_proc_cmdline(proc, pid, NULL);
    check_user(found, proc, pid, argv, opts, &mine);
  }
  return found->len ? g_strdup(found->str) : NULL;
}

static gboolean
machine_is_q35(const char *m)
{
  return m && (strcmp(m, "q35") == 0 || g_str_has_prefix(m, "pc-q35-"));
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
      *evidence = vsb_audit_join_ev(cmd->machine_evidence, o->evidence);
    return t;
  }
  return NULL;
}

/* Architecture, machine, accelerator, SMM, the secure flash, confidential computing. */
static void
model_machine(AuditCtx *c)
{
  const VsbQemuCmdline *cmd = c->cmd;
  VsbAuditModel *m = c->m;
  VsbFwArch arch = cmd->arch;
  if (arch == VSB_FW_ARCH_UNKNOWN)
    arch = (cmd->machine && g_str_has_prefix(cmd->machine, "virt")) ? VSB_FW_ARCH_AARCH64
                                                                     : VSB_FW_ARCH_X86_64;
  m->arch = arch;
  c->x86 = vsb_arch_is_x86(arch);
  c->arm = vsb_arch_is_arm(arch);
  m->machine = vsb_audit_clean(cmd->machine ? cmd->machine : c->x86 ? "pc" : "(none)");
  if (cmd->accels->len) {
    g_autoptr(GString) s = g_string_new(NULL);
    for (guint i = 0; i < cmd->accels->len; i++)
      g_string_append_printf(s, "%s%s", i ? ":" : "", (char *)cmd->accels->pdata[i]);
    m->accel = vsb_audit_clean(s->str);
  } else {
    m->accel = g_strdup("tcg");
  }
  c->q35 = machine_is_q35(cmd->machine);
  c->smm_opt = vsb_qemu_opts_get(cmd->machine_opts, "smm");
  gboolean smm_on = TRUE;
  if (c->smm_opt && strcmp(c->smm_opt, "auto") != 0) {
    gboolean v = TRUE;
    if (vsb_qemu_parse_bool(c->smm_opt, &v)) {
      smm_on = v;
      c->smm_explicit_off = !v;
      c->smm_explicit_on = v;
    }
  }
  if (c->x86)
    m->smm = g_strdup(c->smm_opt == NULL || strcmp(c->smm_opt, "auto") == 0 ? "auto"
                      : smm_on ? "on" : "off");
  gboolean secure_set = FALSE;
  m->secure_flash = vsb_qemu_cmdline_pflash_secure(cmd, &secure_set, &c->secure_ev);
  c->conf = confidential_type(cmd, &c->conf_ev);
  m->confidential = g_strdup(c->conf);
  m->snapshot = cmd->snapshot;
  m->kernel = vsb_audit_clean(cmd->kernel);
}

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

/* Walk PROC/PID/fd: is the file at o->path open, or which file is open under its name? */
static void
process_open_file(const char *proc, int pid, AuditOpen *o)
{
  g_autofree char *fd_dir = g_strdup_printf("%s/%d/fd", proc, pid);
  g_autoptr(GError) derr = NULL;
  g_autoptr(GDir) dir = g_dir_open(fd_dir, 0, &derr);
  if (dir == NULL) {
    o->why = g_strdup(derr->message);
    o->state = OPEN_UNREADABLE;
    return;
  }
  struct stat want;
  gboolean have = stat(o->path, &want) == 0;
  g_autofree char *canon = canonical_name(o->path);
  g_autofree char *deleted = g_strconcat(canon, " (deleted)", NULL);
  o->state = OPEN_NONE;
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    g_autofree char *link = g_build_filename(fd_dir, name, NULL);
    struct stat st;
    if (stat(link, &st) != 0)
      continue;
    g_autofree char *t = g_file_read_link(link, NULL);
    if (have && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
      g_clear_pointer(&o->fd_path, g_free);
      g_clear_pointer(&o->target, g_free);
      o->state = OPEN_SAME;
      return;
    }
    if (o->state == OPEN_NONE && t &&
        (strcmp(t, canon) == 0 || strcmp(t, deleted) == 0 || strcmp(t, o->path) == 0)) {
      o->fd_path = g_steal_pointer(&link);
      o->target = g_steal_pointer(&t);
      o->state = OPEN_REPLACED;
    }
  }
}

/* For a flash's file: is its relative name lost with the process's cwd, and (a running
 * process) which file does the process really have open? */
static void
model_open(AuditCtx *c, AuditOpen *o, const char *path, gboolean remote, const char *evidence,
           gboolean is_flash)
{
  o->path = path;
  o->evidence = evidence;
  o->state = OPEN_SAME;
  o->cwd_lost = c->cmd->cwd_unknown && path && !remote && !g_path_is_absolute(path);
  if (o->cwd_lost || !is_flash || c->opts->pid <= 0 || path == NULL ||
      !vsb_audit_is_local_path(path))
    return;
  const char *proc = c->opts->proc_root ? c->opts->proc_root : "/proc";
  process_open_file(proc, c->opts->pid, o);
}

/* Flash 0, else -bios, else QEMU's default; for a process, the code file it has open (a
 * package upgrade may have replaced the one at the path). Only flash stays open: QEMU reads a
 * -bios image into ROM at start and closes it. */
static void
model_code(AuditCtx *c)
{
  const VsbQemuCmdline *cmd = c->cmd;
  VsbAuditModel *m = c->m;
  c->bios_abs = vsb_qemu_cmdline_abspath(cmd, cmd->bios);
  const char *code_path = NULL;
  if (c->code.present) {
    m->firmware_via = g_strdup("pflash");
    code_path = c->code.file;
    m->code_readonly = c->code.readonly;
    m->code_format = g_strdup(c->code.format);
  } else if (cmd->bios) {
    m->firmware_via = g_strdup("bios");
    code_path = c->bios_abs;
    m->code_readonly = TRUE;
  } else {
    m->firmware_via = g_strdup("none");
  }
  m->code = vsb_audit_clean(code_path);
  model_open(c, &c->code_open, code_path, c->code.remote,
             c->code.present ? c->code.evidence : cmd->bios_evidence, c->code.present);
  c->code_path = c->code_open.state == OPEN_REPLACED ? c->code_open.fd_path : code_path;
}

/* Descriptor claims the binary contradicts: "'requires-smm' (evidence), ...". */
static char *
contradicted_claims(const VsbFwDescriptor *desc, const VsbFvImage *img)
{
  g_autoptr(GPtrArray) claimed = g_ptr_array_new();
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (desc->features & VSB_FW_FEATURE_BIT(f))
      g_ptr_array_add(claimed, (gpointer)vsb_fw_feature_name((VsbFwFeature)f));
  g_ptr_array_add(claimed, NULL);
  g_autoptr(GPtrArray) checks =
    vsb_fv_image_check_claims(img, (const char *const *)claimed->pdata);
  g_autoptr(GString) lies = g_string_new(NULL);
  for (guint i = 0; checks && i < checks->len; i++) {
    const VsbFvClaimCheck *ck = checks->pdata[i];
    if (ck->claim == VSB_FV_CLAIM_FALSE)
      g_string_append_printf(lies, "%s'%s' (%s)", lies->len ? ", " : "", ck->feature,
                             ck->evidence ? ck->evidence : "absent");
  }
  return lies->len ? g_strdup(lies->str) : NULL;
}

/* The binary has the last word: a descriptor only says what a packager claims (Debian's
 * OVMF_CODE_4M.fd has Secure Boot without SMM although its descriptor says nothing of it; a
 * descriptor could also claim SMM a build does not have). */
static void
model_inspect(AuditCtx *c)
{
  VsbAuditModel *m = c->m;
  g_autoptr(GError) ierr = NULL;
  g_autoptr(VsbFvImage) owned = NULL;
  const VsbFvImage *img = c->opts->cache
                            ? vsb_audit_cache_inspect(c->opts->cache, c->code_path, &ierr)
                            : (owned = vsb_fv_inspect_file(c->code_path, NULL, &ierr));
  if (img == NULL) {
    c->inspect_error = g_strdup(ierr->message);
    return;
  }
  c->inspected = TRUE;
  c->insp_sb = vsb_fv_image_has_feature(img, "secure-boot");
  c->insp_smm = vsb_fv_image_has_feature(img, "requires-smm");
  if (!c->desc) {
    c->fw_known = TRUE;
    c->fw_sb = c->insp_sb;
    c->fw_smm = c->insp_smm;
    m->features_source = g_strdup("inspection");
    return;
  }
  c->lies = contradicted_claims(c->desc, img);
  if (c->insp_sb != c->fw_sb || c->insp_smm != c->fw_smm) {
    if (c->insp_sb && !c->fw_sb)
      g_ptr_array_add(c->report->notes,
                      g_strdup_printf("%s: the descriptor claims no secure-boot, but the binary "
                                      "has Secure Boot support%s",
                                      m->code, c->insp_smm ? "" : " without SMM"));
    c->fw_sb = c->insp_sb;
    c->fw_smm = c->insp_smm;
    g_free(m->features_source);
    m->features_source = g_strdup("inspection");
  }
}

/* What the firmware is: its descriptor, and the binary's own features. */
static void
model_firmware(AuditCtx *c)
{
  VsbAuditModel *m = c->m;
  if (c->code_path == NULL) {
    c->fw_state = FW_NONE;
  } else if (!vsb_audit_is_local_path(c->code_path) ||
             !g_file_test(c->code_path, G_FILE_TEST_IS_REGULAR)) {
    c->fw_state = FW_MISSING;
  } else {
    c->fw_state = FW_FILE;
    c->fw_ev = vsb_audit_file_facts(c->code_path);
    c->desc = descriptor_for_code(c->entries, c->code_path);
    if (c->desc) {
      c->fw_known = TRUE;
      c->fw_sb = vsb_fw_descriptor_has_feature(c->desc, VSB_FW_FEATURE_SECURE_BOOT);
      c->fw_smm = vsb_fw_descriptor_has_feature(c->desc, VSB_FW_FEATURE_REQUIRES_SMM);
      m->descriptor = vsb_audit_clean(c->desc->path);
      m->features_source = g_strdup("descriptor");
      char *e2 = g_strdup_printf("%s; descriptor %s", c->fw_ev, m->descriptor);
      g_free(c->fw_ev);
      c->fw_ev = e2;
    }
    model_inspect(c);
  }
  m->fw_secure_boot = c->fw_sb;
  m->fw_requires_smm = c->fw_smm;
  const char *fw_where = c->code.present ? c->code.evidence : c->cmd->bios_evidence;
  c->fw_full_ev = vsb_audit_join_ev(fw_where, c->fw_ev);
}

/* One flash holding code and variables: a combined descriptor, or a unified image such as
 * Debian's OVMF.fd (a variable store at the start of the file). */
static gboolean
is_combined(const AuditCtx *c)
{
  if (!c->code.present || c->vars.present)
    return FALSE;
  if (c->desc && c->desc->mode == VSB_FW_FLASH_MODE_COMBINED)
    return TRUE;
  if (c->code_path == NULL || !g_file_test(c->code_path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  g_autoptr(VsbVarstore) embedded = vsb_varstore_load(c->code_path, NULL);
  return embedded != NULL;
}

/* What flash 1 is, and so which file's variables are judged. */
static void
model_vars_state(AuditCtx *c)
{
  gboolean stateless = c->desc && c->desc->mode == VSB_FW_FLASH_MODE_STATELESS;
  const VsbQemuFlash *vars = &c->vars;
  c->vs = VS_NOTHING;
  if (c->combined) {
    c->vs = VS_COMBINED;
    c->read_path = c->code_path;
  } else if (c->code.present && !vars->present && !stateless && c->fw_known) {
    c->vs = VS_NO_FLASH;
  } else if (!vars->present || c->vars_lost) {
    /* Nothing to judge; when lost, a finding says why. */
  } else if (!vsb_audit_is_local_path(c->vpath)) {
    c->vs = VS_REMOTE;
  } else if (!g_file_test(c->vfile, G_FILE_TEST_EXISTS)) {
    c->vs = c->opts->varstore_template ? VS_TEMPLATE : VS_ABSENT;
    if (c->opts->varstore_template)
      c->read_path = c->opts->varstore_template;
  } else if (!g_file_test(c->vfile, G_FILE_TEST_IS_REGULAR)) {
    c->vs = VS_NOT_REGULAR;
  } else {
    /* The format QEMU is told must be the file's: a qcow2 file read as raw shows the firmware
     * the container's bytes, a raw file opened as qcow2 does not open at all. */
    c->vars_is_qcow2 = vsb_file_is_qcow2(c->vfile);
    const char *fmt = vars->format;
    if (fmt && ((strcmp(fmt, "raw") == 0 && c->vars_is_qcow2) ||
                (strcmp(fmt, "qcow2") == 0 && !c->vars_is_qcow2))) {
      c->vs = VS_FORMAT_MISMATCH;
    } else {
      c->vs = VS_FILE;
      c->read_path = c->vfile;
    }
  }
}

/* The varstore: which flash and file, what state it is in, who else uses it. */
static void
model_varstore(AuditCtx *c)
{
  VsbAuditModel *m = c->m;
  c->vpath = c->vars.present ? c->vars.file : NULL;
  m->varstore = vsb_audit_clean(c->vpath);
  model_open(c, &c->vars_open, c->vpath, c->vars.remote, c->vars.evidence, c->vars.present);
  c->vars_lost = c->vars.present &&
                 (c->vars_open.cwd_lost || c->vars_open.state == OPEN_NONE);
  c->vfile = c->vars_open.state == OPEN_REPLACED ? c->vars_open.fd_path : c->vpath;
  m->varstore_format = g_strdup(c->vars.format);
  m->varstore_readonly = c->vars.readonly;
  c->combined = is_combined(c);
  if (c->combined) {
    /* The store is flash 0 itself. */
    g_free(m->varstore);
    m->varstore = vsb_audit_clean(c->code_path);
    m->varstore_readonly = c->code.readonly;
    g_ptr_array_add(c->report->notes, g_strdup_printf("%s holds code and variables in one "
                                                      "flash (combined image)", m->code));
  }
  c->sflash = c->combined ? &c->code : c->vars.present ? &c->vars : NULL;
  c->spath = c->combined ? c->code_path : c->vpath;
  model_vars_state(c);
  m->varstore_read = vsb_audit_clean(c->read_path);

  c->spath_exists = c->sflash && c->spath && vsb_audit_is_local_path(c->spath) &&
                    g_file_test(c->spath, G_FILE_TEST_EXISTS);
  struct stat st;
  c->spath_regular = c->spath_exists && stat(c->spath, &st) == 0 && S_ISREG(st.st_mode);
  c->spath_shipped = c->spath_exists &&
                     (is_template(c->entries, c->spath) || g_str_has_prefix(c->spath, "/usr/"));
  if (c->spath_exists && !c->spath_shipped && !c->opts->no_process_scan)
    c->other_users = other_users(c->spath, c->opts);
}

/* The variables, read the way the firmware will read them, and one judgement for every
 * command (sbjudge.h): what edk2 will decide at boot. */
static void
model_store(AuditCtx *c)
{
  VsbAuditModel *m = c->m;
  if (c->read_path == NULL)
    return;
  g_autoptr(GError) verr = NULL;
  c->store = vsb_varstore_load(c->read_path, &verr);
  g_autofree char *facts = vsb_audit_file_facts(c->read_path);
  c->store_ev = vsb_audit_join_ev(c->vars.present ? c->vars.evidence : c->code.evidence, facts);
  if (c->store == NULL) {
    c->store_error = g_strdup(verr->message);
    return;
  }
  VsbSecureBootState *sb = c->sb = vsb_secure_boot_state(c->store);
  m->secure_boot = g_strdup(sb->verdict == VSB_SB_VERDICT_UNCERTAIN
                              ? "uncertain" : vsb_secure_boot_mode_name(sb->mode));
  m->n_pk = (int)sb->n_pk;
  m->n_kek = (int)sb->n_kek;
  m->n_db = (int)sb->n_db;
  m->n_dbx = (int)sb->n_dbx;
}

gboolean
vsb_audit_model_build(AuditCtx *c, GError **error)
{
  c->m->n_pk = c->m->n_kek = c->m->n_db = c->m->n_dbx = -1;
  model_machine(c);
  g_autoptr(GError) ferr = NULL;
  if (!vsb_qemu_cmdline_get_flash(c->cmd, 0, &c->code, &ferr) ||
      !vsb_qemu_cmdline_get_flash(c->cmd, 1, &c->vars, &ferr)) {
    g_propagate_error(error, g_steal_pointer(&ferr));
    return FALSE;
  }
  model_code(c);
  model_firmware(c);
  model_varstore(c);
  model_store(c);
  vsb_audit_model_host(c);
  return TRUE;
}

static void
open_clear(AuditOpen *o)
{
  g_free(o->fd_path);
  g_free(o->target);
  g_free(o->why);
}

void
vsb_audit_ctx_clear(AuditCtx *c)
{
  g_free(c->conf_ev);
  vsb_qemu_flash_clear(&c->code);
  vsb_qemu_flash_clear(&c->vars);
  g_free(c->bios_abs);
  open_clear(&c->code_open);
  open_clear(&c->vars_open);
  g_free(c->inspect_error);
  g_free(c->lies);
  g_free(c->fw_ev);
  g_free(c->fw_full_ev);
  g_clear_pointer(&c->store, vsb_varstore_free);
  g_free(c->store_error);
  g_clear_pointer(&c->sb, vsb_secure_boot_state_free);
  g_free(c->store_ev);
  g_free(c->other_users);
  g_free(c->host_kvm_why);
  if (c->found)
    g_array_unref(c->found);
}
