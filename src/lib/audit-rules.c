/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's rules: one small function per finding id, run over the model (audit-private.h)
 * in the order of the table at the end, which also carries each id's severity, summary and
 * fix. Adding a finding is one function and one table entry (and a test case that makes it
 * fire: tests/audit checks that every id in the table has one). */
#include "audit-private.h"
#include "qemu-argv-private.h"
#include "inspect-cache.h"

#include "fileio.h"
#include "fwimage.h"
#include "vsboot/mscerts.h"

#include <string.h>
#include <sys/stat.h>

#define EMIT(...) vsb_audit_emit(c, rule, -1, __VA_ARGS__)

/* ---- the command line */

static void
machine_not_q35(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->x86 || c->q35)
    return;
  EMIT(c->cmd->machine_evidence ? c->cmd->machine_evidence
                                : "no -machine: QEMU's default is pc (i440fx)",
       NULL,
       "the machine type is %s, not q35: OVMF's SMM-protected variable store, and so Secure "
       "Boot that the guest OS cannot undo, needs q35", c->m->machine);
}

/* Globals QEMU silently ignores: "cfi.pflash01.secure=on" names the class "cfi"; a secure
 * value that is not a boolean stops QEMU. */
static void
global_ignored(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  for (guint i = 0; i < c->cmd->globals->len; i++) {
    VsbQemuGlobal *g = c->cmd->globals->pdata[i];
    if (g->short_form && strcmp(g->driver, "cfi") == 0 &&
        g_str_has_prefix(g->property, "pflash01."))
      EMIT(g->evidence, NULL,
           "QEMU splits '-global %s.%s=%s' at the first dot: driver 'cfi', property '%s'; no "
           "device class is called 'cfi', so QEMU only warns (\"global %s.%s has invalid class "
           "name\") and the flash is NOT made secure",
           g->driver, g->property, g->value, g->property, g->driver, g->property);
    gboolean v;
    if (strcmp(g->driver, "cfi.pflash01") == 0 && strcmp(g->property, "secure") == 0 &&
        !vsb_qemu_parse_bool(g->value, &v))
      vsb_audit_emit(c, rule, VSB_SEVERITY_ERROR, g->evidence, "use value=on",
                     "'%s' is not a boolean: QEMU refuses to start", g->value);
  }
}

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

/* One finding listing everything that could change the firmware setup but is not modelled:
 * never silently judged as if it were absent. */
static void
option_unmodeled(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const VsbQemuCmdline *cmd = c->cmd;
  g_autoptr(GString) ev = g_string_new(NULL);
  for (guint i = 0; i < cmd->unmodeled->len; i++)
    add_reason(ev, "%s", (const char *)cmd->unmodeled->pdata[i]);
  if (c->code.present && c->code.unmodeled)
    add_reason(ev, "flash 0 (%s): %s", c->code.evidence, c->code.unmodeled);
  if (c->vars.present && c->vars.unmodeled)
    add_reason(ev, "flash 1 (%s): %s", c->vars.evidence, c->vars.unmodeled);
  for (guint i = 0; i < cmd->devices->len; i++) {
    const VsbQemuObject *d = cmd->devices->pdata[i];
    if (device_bypasses_firmware(d->type))
      add_reason(ev, "%s: device '%s' loads images into the guest outside the firmware",
                 d->evidence, d->type);
  }
  /* secure is the one cfi.pflash01 property modelled; the others (drive, num-blocks, width,
   * ...) change what the flash holds or how it is mapped. */
  for (guint i = 0; i < cmd->globals->len; i++) {
    const VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (strcmp(g->driver, "cfi.pflash01") == 0 && strcmp(g->property, "secure") != 0)
      add_reason(ev, "%s: cfi.pflash01 property '%s'", g->evidence, g->property);
  }
  if (ev->len)
    EMIT(ev->str, NULL,
         "the command line has options that can change which firmware or varstore the VM "
         "really gets, or bypass the firmware, and vsboot does not model them: it cannot say "
         "Secure Boot is enforced");
}

/* ---- the firmware */

static void
bios_ignored(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->code.present || c->cmd->bios == NULL)
    return;
  if (c->arm)
    vsb_audit_emit(c, rule, VSB_SEVERITY_ERROR, c->cmd->bios_evidence, NULL,
                   "both -bios and flash 0 are given: QEMU's virt machine refuses to start");
  else
    EMIT(c->cmd->bios_evidence, NULL, "-bios is ignored: flash 0 holds the firmware");
}

/* A running process's findings about the varstore's file sort with the varstore's. */
static const AuditOpen *
open_at_fault(AuditCtx *c, gboolean (*fault)(const AuditOpen *))
{
  if (fault(&c->code_open))
    return &c->code_open;
  if (fault(&c->vars_open)) {
    c->order = c->varstore_order;
    return &c->vars_open;
  }
  return NULL;
}

static gboolean
cwd_lost(const AuditOpen *o)
{
  return o->cwd_lost;
}

/* A relative path of a process whose working directory could not be read: which file it names
 * is unknown, and guessing with our own directory could judge a different file. */
static void
process_cwd_unreadable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const AuditOpen *o = open_at_fault(c, cwd_lost);
  if (o)
    EMIT(o->evidence, NULL,
         "the process's working directory cannot be read (or no longer leads where its "
         "relative names did: removed, or '/' after -daemonize), so the relative path '%s' "
         "cannot be resolved: vsboot cannot tell which file it names", o->path);
}

static gboolean
fds_unreadable(const AuditOpen *o)
{
  return o->state == OPEN_UNREADABLE;
}

static void
process_files_unreadable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const AuditOpen *o = open_at_fault(c, fds_unreadable);
  if (o == NULL)
    return;
  g_autofree char *ev = g_strdup_printf("%s; %s", o->evidence, o->why);
  EMIT(ev, NULL,
       "the files process %d has open cannot be read, so vsboot cannot tell whether the files "
       "at these paths are the ones the VM uses (a file replaced after the start would be "
       "judged instead of the one in use)", c->opts->pid);
}

/* The file at a flash's path is not the one the process has open (firmware-replaced,
 * varstore-replaced). */
static void
replaced(AuditCtx *c, const VsbAuditRule *rule, const AuditOpen *o, gboolean is_varstore)
{
  const char *what = is_varstore ? "varstore" : "firmware code file";
  /* Only a flash whose file was looked up among the process's open files has a verdict here
   * (with -bios and no flash, the varstore has no path at all). */
  if (o->state != OPEN_NONE && o->state != OPEN_REPLACED)
    return;
  g_autofree char *facts = vsb_audit_file_facts(o->path);
  if (o->state == OPEN_NONE) {
    g_autofree char *ev = g_strdup_printf("%s; path now: %s", o->evidence, facts);
    vsb_audit_emit(c, rule, VSB_SEVERITY_ERROR, ev,
                   "restart the VM so that it uses the file at its path, then audit again",
                   "process %d has no file open under the %s's path: the file was moved or "
                   "replaced after the start, and vsboot cannot tell which %s the VM uses",
                   c->opts->pid, what, what);
    return;
  }
  g_autofree char *open_facts = vsb_audit_file_facts(o->fd_path);
  g_autofree char *ev = g_strdup_printf("%s; open: %s -> %s; path now: %s", o->evidence,
                                        open_facts, o->target, facts);
  EMIT(ev, NULL,
       "process %d has a different file open than the one now at the %s's path (%s): the open "
       "one is judged%s", c->opts->pid, what, o->target,
       is_varstore ? "; what the VM writes is lost with it, and its next start uses the other "
                     "file"
                   : ", as it is what the VM runs");
}

static void
firmware_replaced(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  replaced(c, rule, &c->code_open, FALSE);
}

static void
no_uefi_firmware(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_state == FW_NONE)
    EMIT("no -bios, no flash 0 (-drive if=pflash / -machine pflash0=)", NULL,
         "no UEFI firmware is given: QEMU boots its default firmware (SeaBIOS on x86), which "
         "has no Secure Boot");
}

static void
firmware_missing(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_state != FW_MISSING)
    return;
  g_autofree char *facts = vsb_audit_file_facts(c->code_path);
  g_autofree char *ev =
    vsb_audit_join_ev(c->code.present ? c->code.evidence : c->cmd->bios_evidence, facts);
  EMIT(ev, NULL, "the firmware file cannot be read: QEMU will not start, and vsboot cannot "
                 "tell what it contains");
}

static void
firmware_unknown_provenance(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_state == FW_FILE && c->inspected && c->desc == NULL)
    EMIT(c->fw_ev, NULL,
         "no installed firmware descriptor names this file, so nothing vouches for what it is; "
         "vsboot inspected the binary: Secure Boot %s, SMM %s",
         c->insp_sb ? "present" : "absent", c->insp_smm ? "required" : "not required");
}

static void
descriptor_mismatch(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_state != FW_FILE || c->desc == NULL || c->lies == NULL)
    return;
  g_autofree char *ev = g_strdup_printf("%s; the binary lacks %s", c->fw_ev, c->lies);
  EMIT(ev, NULL, "the descriptor claims features this binary does not have; libvirt selects "
                 "firmware by those claims, vsboot judges by the binary");
}

static void
firmware_unknown(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_state != FW_FILE || c->inspected || c->desc)
    return;
  g_autofree char *ev = vsb_audit_join_ev(c->fw_ev, c->inspect_error);
  EMIT(ev, NULL, "no descriptor names this firmware and it cannot be inspected: whether it has "
                 "Secure Boot is unknown");
}

static void
firmware_changed(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const char *want = c->opts->expected_code_sha256;
  if (want == NULL || c->code_path == NULL ||
      !g_file_test(c->code_path, G_FILE_TEST_IS_REGULAR))
    return;
  /* Streamed through the shared non-blocking regular-file opener. */
  g_autofree char *sum = c->opts->cache ? vsb_audit_cache_sha256(c->opts->cache, c->code_path, NULL)
                                        : vsb_file_sha256(c->code_path, NULL);
  if (sum == NULL || g_ascii_strcasecmp(sum, want) == 0)
    return;
  g_autofree char *ev =
    g_strdup_printf("%s; sha256 %s now, %s when provisioned", c->fw_ev, sum, want);
  EMIT(ev, NULL, "the firmware code file changed since the VM was provisioned (a package "
                 "update, or a replaced file): the VM runs a build nobody chose for it");
}

static void
firmware_no_secure_boot(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_known && !c->fw_sb)
    EMIT(c->fw_full_ev,
         c->x86 ? "use OVMF_CODE_4M.secboot.fd (or the descriptor with requires-smm and "
                  "secure-boot)"
                : "use the Secure Boot build (AAVMF_CODE.secboot.fd / .ms.fd)",
         "this firmware build has no Secure Boot support: nothing is verified");
}

static void
secure_boot_without_smm(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_known && c->fw_sb && c->x86 && !c->fw_smm)
    EMIT(c->fw_full_ev, NULL,
         "this firmware has Secure Boot but no SMM: the variable store is ordinary flash the "
         "guest OS can write, so a compromised guest kernel can replace PK, db or dbx and undo "
         "Secure Boot");
}

static void
aarch64_no_smm(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->fw_known && c->fw_sb && !c->x86 && c->arm)
    EMIT(c->fw_full_ev, NULL,
         "Arm has no SMM: the varstore flash is writable by the guest OS, so Secure Boot "
         "protects only against code that cannot write the flash");
}

/* SMM firmware on x86: the machine must give it SMM and a secure flash. */
static gboolean
smm_firmware(const AuditCtx *c)
{
  return c->fw_known && c->fw_smm && c->x86;
}

static void
smm_off(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (smm_firmware(c) && c->smm_explicit_off)
    EMIT(c->cmd->machine_evidence, NULL,
         "the firmware requires SMM but the machine has smm=off: the SMM build stops early in "
         "boot (and without SMM nothing protects the varstore)");
}

/* The last -global ICH9-LPC.disable_s3 given (QEMU applies them in order), or NULL. */
static const VsbQemuGlobal *
s3_global(const VsbQemuCmdline *cmd)
{
  const VsbQemuGlobal *last = NULL;
  for (guint i = 0; i < cmd->globals->len; i++) {
    const VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (strcmp(g->driver, "ICH9-LPC") == 0 && strcmp(g->property, "disable_s3") == 0)
      last = g;
  }
  return last;
}

/* An SMM OVMF with an X64 PEI (Debian's 2M OVMF_CODE.secboot.fd) dead-loops in PlatformPei
 * while the ICH9 bridge offers S3 (edk2 before 2023.05): the code image is read for it, as the
 * emitters read it (qemu-argv-private.h). */
static void
smm_s3_hang(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!smm_firmware(c) || !c->q35 || c->smm_explicit_off || !c->code.present ||
      c->fw_state != FW_FILE)
    return;
  /* A fleet scan's cache already holds the image the model inspected. */
  const VsbFvImage *img =
    c->opts->cache ? vsb_audit_cache_inspect(c->opts->cache, c->code_path, NULL) : NULL;
  if (img ? !vsb_fv_image_needs_s3_off(img) : !vsb_firmware_needs_s3_off(c->code_path))
    return;
  const VsbQemuGlobal *g = s3_global(c->cmd);
  if (g && g_ascii_strtoull(g->value, NULL, 0) != 0)
    return;
  EMIT(g ? g->evidence : c->fw_full_ev, NULL,
       "this SMM build's PEI phase is X64 and the machine offers S3: its PlatformPei stops in a "
       "dead loop (S3Verification, edk2 before 2023.05) before printing anything, so the VM "
       "never boots");
}

static void
smm_auto(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const VsbQemuCmdline *cmd = c->cmd;
  if (!smm_firmware(c) || (c->smm_opt && strcmp(c->smm_opt, "auto") != 0) ||
      cmd->accels->len == 0 || strcmp(cmd->accels->pdata[0], "kvm") != 0)
    return;
  EMIT(cmd->machine_evidence ? cmd->machine_evidence : cmd->accel_evidence, NULL,
       "SMM is left to 'auto': under KVM, QEMU turns it on only when the host's KVM supports "
       "SMM, and otherwise silently runs without it, where this SMM firmware stops at boot; "
       "with smm=on QEMU refuses to start instead");
}

/* Whether it starts at all on this host: QEMU takes KVM when /dev/kvm opens, even a KVM
 * without SMM, and does not fall back to a later accelerator when SMM then fails. */
static void
kvm_without_smm(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const VsbQemuCmdline *cmd = c->cmd;
  gboolean no_smm = c->host_kvm == VSB_HOST_KVM_NO_SMM;
  if (!c->kvm_decides || !(no_smm || (c->host_kvm == VSB_HOST_KVM_ABSENT &&
                                      cmd->accels->len == 1)))
    return;
  g_autofree char *host = g_strdup_printf(
    "this host: %s (%s%s%s)", no_smm ? "KVM without SMM" : "no KVM",
    c->host_kvm_probed ? "probed" : "as stated", c->host_kvm_why ? ": " : "",
    c->host_kvm_why ? c->host_kvm_why : "");
  g_autofree char *ev = vsb_audit_join_ev(
    cmd->accel_evidence, c->smm_explicit_on ? cmd->machine_evidence : c->fw_ev);
  g_autofree char *full = vsb_audit_join_ev(ev, host);
  if (!no_smm)
    EMIT(full, NULL,
         "the VM asks for KVM alone and this host has no KVM: QEMU will not start on this "
         "host (\"failed to initialize kvm\"), so the VM does not run at all");
  else if (c->smm_explicit_on)
    EMIT(full, NULL,
         "the VM asks for KVM with SMM on, and this host's KVM cannot run SMM: it will not "
         "start on this host (QEMU: \"System Management Mode not supported by this "
         "hypervisor\"; a later accelerator such as tcg is not tried)");
  else
    EMIT(full, NULL,
         "the VM asks for KVM with SMM left to auto, and this host's KVM cannot run SMM: QEMU "
         "starts without SMM and this SMM firmware stops at boot, so it will not start on this "
         "host");
}

static void
varstore_not_secure(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (smm_firmware(c) && !c->m->secure_flash && c->code.present)
    EMIT(c->secure_ev ? c->secure_ev : "no -global driver=cfi.pflash01,property=secure,value=on",
         NULL,
         "the flash is not marked secure: QEMU lets code outside SMM (the guest OS) write the "
         "varstore directly, bypassing the SMM variable driver's authentication, so "
         "PK/KEK/db/dbx can be rewritten from the guest");
}

static void
firmware_via_bios(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->fw_known || strcmp(c->m->firmware_via, "bios") != 0 ||
      (c->desc && c->desc->device != VSB_FW_DEVICE_FLASH))
    return;
  struct stat bs;
  gboolean refused = c->x86 && stat(c->code_path, &bs) == 0 && (bs.st_size % 65536) != 0;
  EMIT(c->fw_full_ev, NULL,
       "pflash firmware is loaded with -bios (as ROM): there is no writable varstore flash, so "
       "OVMF keeps variables in RAM, starting empty (setup mode) at every boot, and Secure Boot "
       "is never enabled%s",
       refused ? "; this file's size is not a multiple of 64 KiB, so QEMU refuses it (\"could "
                 "not load PC BIOS\") and the VM does not start at all"
               : "");
}

static void
code_writable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->code.present || c->code.readonly ||
      !(c->vars.present || (c->desc && c->desc->mode == VSB_FW_FLASH_MODE_SPLIT)))
    return;
  g_autofree char *ev = vsb_audit_join_ev(c->code.evidence, c->fw_ev);
  EMIT(ev, NULL, "the firmware code flash is writable: the guest can rewrite the firmware (and "
                 "with it the Secure Boot checks), and the change is written back to the shared "
                 "code file");
}

/* ---- the varstore: which file */

static void
varstore_replaced(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  replaced(c, rule, &c->vars_open, TRUE);
}

static void
varstore_missing(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->vs == VS_NO_FLASH) {
    EMIT(c->code.evidence, NULL,
         "there is no varstore flash (flash 1): OVMF keeps variables in RAM, starting empty "
         "(setup mode) at every boot, so Secure Boot is off");
  } else if (c->vs == VS_ABSENT) {
    g_autofree char *facts = vsb_audit_file_facts(c->vpath);
    g_autofree char *ev = vsb_audit_join_ev(c->vars.evidence, facts);
    EMIT(ev, "copy the template (e.g. OVMF_VARS_4M.ms.fd) to this path, mode 0600",
         "the varstore file does not exist: QEMU will not start");
  }
}

static void
varstore_unreadable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->vs == VS_REMOTE) {
    EMIT(c->vars.evidence, "audit a local copy",
         "the varstore is not a local file vsboot can read");
    return;
  }
  if (c->vs != VS_NOT_REGULAR)
    return;
  /* A directory, device, FIFO or socket: QEMU cannot use a directory as a flash image, and
   * vsboot judges only the variables of a regular file. */
  struct stat st;
  const char *kind = stat(c->vfile, &st) != 0 ? "not a file" : vsb_file_kind(st.st_mode);
  g_autofree char *facts = vsb_audit_file_facts(c->vfile);
  g_autofree char *ev = vsb_audit_join_ev(c->vars.evidence, facts);
  EMIT(ev, NULL, "the varstore is not a regular file (%s): %s", kind,
       strcmp(kind, "a directory") == 0
         ? "QEMU cannot open a directory as flash and will not start"
         : "vsboot reads only regular files and cannot judge the variables in it");
}

static void
varstore_from_template(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->vs == VS_TEMPLATE)
    EMIT(c->vars.evidence, NULL,
         "the varstore does not exist yet; libvirt will create it from %s, whose variables are "
         "judged", c->opts->varstore_template);
}

static void
format_mismatch(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->vs != VS_FORMAT_MISMATCH)
    return;
  gboolean q = c->vars_is_qcow2;
  g_autofree char *facts = vsb_audit_file_facts(c->vfile);
  g_autofree char *ev = vsb_audit_join_ev(c->vars.evidence, facts);
  EMIT(ev, q ? "use format=qcow2 for this file" : "use format=raw for this file",
       "the varstore is %s but QEMU is told format=%s: %s",
       q ? "a qcow2 image" : "not a qcow2 image", c->vars.format,
       q ? "the firmware sees the qcow2 container's bytes, finds no valid store and formats an "
           "empty one (setup mode), overwriting the file"
         : "QEMU cannot open it and does not start");
}

/* ---- the varstore: its file and who else uses it. The evidence: the flash's argument and
 * the file's facts. */

static char *
store_file_ev(const AuditCtx *c)
{
  g_autofree char *facts = vsb_audit_file_facts(c->spath);
  return vsb_audit_join_ev(c->sflash->evidence, facts);
}

static void
varstore_world_writable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  struct stat st;
  /* Modes and link counts say something only of a regular file (a directory's link count is
   * its number of subdirectories plus two, not of names). */
  if (!c->spath_regular || stat(c->spath, &st) != 0 || !(st.st_mode & S_IWOTH))
    return;
  g_autofree char *ev = store_file_ev(c);
  EMIT(ev, NULL, "the varstore is world-writable: any local user can replace PK, db or dbx "
                 "while the VM is off");
}

static void
varstore_hardlinked(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  struct stat st;
  if (!c->spath_regular || stat(c->spath, &st) != 0 || st.st_nlink <= 1)
    return;
  g_autofree char *ev = store_file_ev(c);
  EMIT(ev, NULL, "the varstore file has %lu names (hard links): another VM or tool may use the "
                 "same variables", (unsigned long)st.st_nlink);
}

/* Every directory on the varstore's path: one another user can write lets them swap the store
 * (or a directory above it) for a setup-mode one while the VM is off. The store's own directory
 * must be writable by nobody else at all; an ancestor only with the sticky bit and root's
 * ownership, which stop others from renaming what is not theirs (/tmp). */
static void
state_dir_writable(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->spath_regular)
    return;
  g_autofree char *abs = g_canonicalize_filename(c->spath, NULL);
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
                                              c->sflash->evidence, dir,
                                              (unsigned)(st.st_mode & 07777),
                                              (unsigned)st.st_uid);
        EMIT(ev, NULL, "the directory %s on the varstore's path can be changed by another "
                       "user: they can swap the varstore for a setup-mode one while the VM is "
                       "off", dir);
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

static void
varstore_shared(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (!c->spath_exists)
    return;
  g_autofree char *ev = store_file_ev(c);
  if (c->spath_shipped) {
    EMIT(ev, "copy the file to a per-VM file and use the copy",
         "the varstore is a distribution file itself: every VM using it shares (and %s) the "
         "same variables", c->sflash->readonly ? "cannot save" : "rewrites");
  } else if (c->other_users) {
    g_autofree char *ev2 = g_strdup_printf("%s; also used by %s", ev, c->other_users);
    EMIT(ev2, NULL,
         "another running QEMU uses the same varstore: each VM can change the other's Secure "
         "Boot keys, and their writes corrupt each other");
  }
}

static void
varstore_readonly(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->spath_exists && c->sflash->readonly)
    EMIT(c->sflash->evidence, NULL,
         "the varstore flash is read-only: the firmware cannot save variables (boot entries, "
         "dbx updates)");
}

static void
snapshot_mode(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->spath_exists && c->sflash->snapshot)
    EMIT(c->cmd->snapshot_evidence ? c->cmd->snapshot_evidence : c->sflash->evidence, NULL,
         "snapshot mode: writes to the varstore go to a temporary overlay and are discarded at "
         "exit, so dbx updates and key changes never persist");
}

/* ---- the varstore: its variables, as the firmware will judge them */

static void
varstore_invalid(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->read_path == NULL || c->store)
    return;
  g_autofree char *ev = vsb_audit_join_ev(c->store_ev, c->store_error);
  EMIT(ev, NULL, "the varstore is not a valid edk2 variable store: Debian's OVMF 2022.11 stops "
                 "at boot with a CPU exception, a build that recovers formats it empty (setup "
                 "mode)");
}

static void
secure_boot_uncertain(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->sb && c->sb->verdict == VSB_SB_VERDICT_UNCERTAIN)
    EMIT(c->store_ev, NULL, "%s", c->sb->reason);
}

static void
varstore_setup_mode(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->sb && c->sb->verdict != VSB_SB_VERDICT_UNCERTAIN && c->sb->mode == VSB_SB_MODE_SETUP)
    EMIT(c->store_ev, NULL, "%s: any unsigned binary boots", c->sb->reason);
}

static void
secure_boot_disabled(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->sb && c->sb->verdict != VSB_SB_VERDICT_UNCERTAIN && c->sb->mode != VSB_SB_MODE_SETUP &&
      !c->sb->enforcing)
    EMIT(c->store_ev, NULL, "%s: any unsigned binary boots", c->sb->reason);
}

/* Keys are enrolled (not setup mode): what they allow and refuse. */
static gboolean
keys_enrolled(const AuditCtx *c)
{
  return c->sb && c->sb->mode != VSB_SB_MODE_SETUP;
}

static void
db_empty(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (keys_enrolled(c) && c->sb->n_db == 0)
    EMIT(c->store_ev, NULL, "db is empty: nothing signed can boot (Secure Boot is enforced, but "
                            "only by refusing everything)");
}

static void
dbx_empty(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (keys_enrolled(c) && c->sb->n_dbx == 0)
    EMIT(c->store_ev, NULL, "dbx is empty: revoked boot loaders (e.g. those BlackLotus abuses) "
                            "still boot");
}

static void
dbx_placeholder(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (keys_enrolled(c) && c->sb->n_dbx != 0 && c->sb->dbx_placeholder)
    EMIT(c->store_ev, NULL, "dbx holds only the placeholder hash (sha256 of nothing): no "
                            "revoked boot loader is blocked");
}

/* The 2011 CAs expired in 2026; media signed only by their 2023 successors (new Windows boot
 * managers, new shims) are refused where db lacks those. */
static void
microsoft_2023_missing(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  const VsbMsState *ms = keys_enrolled(c) ? c->sb->microsoft : NULL;
  if (ms == NULL || !ms->missing_successor)
    return;
  g_autoptr(GString) which = g_string_new(NULL);
  for (guint i = 0; i < ms->warnings->len; i++)
    g_string_append_printf(which, "%s%s", i ? "; " : "", (const char *)ms->warnings->pdata[i]);
  EMIT(c->store_ev, NULL,
       "the varstore trusts Microsoft's 2011 CAs but not their 2023 successors: boot media "
       "signed only by the 2023 CAs will be refused (%s)", which->str);
}

/* Code and varstore sizes (x86 OVMF; ArmVirt has a fixed layout). */
static void
size_mismatch(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  struct stat cs;
  if (c->store == NULL || c->code_path == NULL || !c->vars.present || c->vs != VS_FILE ||
      (c->code.format && strcmp(c->code.format, "qcow2") == 0) || stat(c->code_path, &cs) != 0)
    return;
  guint64 vsize = vsb_varstore_get_file_size(c->store);
  VsbVarstoreLayout lay = vsb_varstore_get_layout(c->store);
  gboolean ok = TRUE;
  if (c->x86)
    ok = vsb_fw_image_check_pair(VSB_FW_ARCH_X86_64, c->m->code, (guint64)cs.st_size,
                                 c->m->varstore, vsize, NULL);
  else if (c->arm)
    ok = lay == VSB_VARSTORE_LAYOUT_ARMVIRT;
  if (ok)
    return;
  g_autofree char *ev = g_strdup_printf("code %s: %lld bytes; varstore %s: %" G_GUINT64_FORMAT
                                        " bytes (%s layout)", c->m->code, (long long)cs.st_size,
                                        c->m->varstore, vsize, vsb_varstore_layout_name(lay));
  EMIT(ev, NULL, "the code and varstore sizes do not belong together: the firmware does not "
                 "find its store where it expects it, falls back to variables in RAM (setup "
                 "mode at every boot) and nothing is persisted");
}

/* ---- how the guest boots */

static void
direct_kernel_boot(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->cmd->kernel)
    EMIT(c->cmd->kernel_evidence, NULL,
         "-kernel: the kernel comes through fw_cfg, and OVMF falls back to its legacy Linux "
         "loader when the image fails verification, so an unsigned kernel runs although Secure "
         "Boot is enforced");
}

static void
direct_kernel_boot_confidential(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->cmd->kernel && c->conf)
    EMIT(c->conf_ev ? c->conf_ev : c->cmd->kernel_evidence, NULL,
         "direct kernel boot in a %s guest: the host chooses the kernel, initrd and command "
         "line, which the guest cannot verify through Secure Boot", c->conf);
}

static void
confidential_guest(void *model, const VsbAuditRule *rule)
{
  AuditCtx *c = model;
  if (c->conf)
    EMIT(c->conf_ev, NULL, "confidential guest (%s): the host cannot read guest memory",
         c->conf);
}

#define E VSB_SEVERITY_ERROR
#define W VSB_SEVERITY_WARNING
#define I VSB_SEVERITY_INFO

/* In the order the rules run: within a severity, findings are listed in this order (a running
 * process's findings about the varstore's file sort with varstore-replaced). An entry without
 * a check is a finding made elsewhere, listed for the documentation and the fleet. */
static const VsbAuditRule rules[] = {
  /* Made by a libvirt domain's resolution (libvirt-domain.h: what libvirt itself does with the
   * definition, which no command line shows) and put first in the report: no check here. */
  { "libvirt-refuses", E,
    "libvirt itself will not define or start the domain (<loader secure='yes'> with SMM off, "
    "or without <smm> where libvirt does not turn SMM on: 9.0 never does, 11.3 for a file a "
    "descriptor of SMM firmware names)",
    "add <smm state='on'/> to <features>", NULL },
  { "libvirt-version-unknown", E,
    "what libvirt does with the domain depends on its version, which could not be learnt or "
    "was not checked (between 9.0 and 11.3): never judged on a guess",
    "add <smm state='on'/> to <features>", NULL },
  { "machine-not-q35", E,
    "an x86 machine other than q35 (also QEMU's default, pc): OVMF's SMM-protected varstore "
    "needs q35",
    "use -machine q35,smm=on", machine_not_q35 },
  { "global-ignored", W,
    "-global cfi.pflash01.secure=on: QEMU splits it at the first dot, driver 'cfi', and only "
    "warns, so the flash is not secure (an error when the secure value is not a boolean: QEMU "
    "refuses to start)",
    "write -global driver=cfi.pflash01,property=secure,value=on", global_ignored },
  { "option-unmodeled", E,
    "an option that could change which file backs the flash, or bypass the firmware, that "
    "vsboot does not model (offset=/size=/backing= on the flash's nodes, a json: name, a "
    "filter driver, nbd, -add-fd, -incoming, -loadvm, -device loader, a cfi.pflash01 global "
    "other than secure): never judged as if absent",
    "drop the option, or judge this VM by hand: vsboot does not know what the firmware really "
    "gets with it",
    option_unmodeled },
  { "bios-ignored", I,
    "-bios beside flash 0: ignored (an error on Arm's virt machine, which refuses to start)",
    "drop -bios", bios_ignored },
  { "process-cwd-unreadable", E,
    "a running process: a relative path, and the process's working directory cannot be read "
    "(or was removed, or is / after -daemonize)",
    "run the audit as root or as the user the QEMU process runs as (or give QEMU absolute "
    "paths)",
    process_cwd_unreadable },
  { "process-files-unreadable", E,
    "a running process: its open files (/proc/PID/fd) cannot be read",
    "run the audit as root or as the user the QEMU process runs as", process_files_unreadable },
  { "firmware-replaced", W,
    "a running process: the code file was replaced since the start (a package upgrade): the "
    "open, running one is judged (an error when nothing is open under its name)",
    "restart the VM to run the firmware now installed", firmware_replaced },
  { "no-uefi-firmware", E,
    "no flash 0 and no -bios: QEMU's default firmware (SeaBIOS on x86), without Secure Boot",
    "give the Secure Boot firmware as flash 0 (read-only) and a private varstore as flash 1, "
    "e.g. from 'vsboot qemu-args'",
    no_uefi_firmware },
  { "firmware-missing", E, "the firmware code file cannot be read: QEMU will not start",
    "point at an installed firmware file", firmware_missing },
  { "firmware-unknown-provenance", W,
    "no installed descriptor names the code file: the binary is inspected instead",
    "use a firmware file an installed descriptor names (a distribution package), or add a "
    "descriptor for it",
    firmware_unknown_provenance },
  { "descriptor-mismatch", W,
    "the descriptor claims a feature the binary lacks (e.g. requires-smm): the binary decides",
    "fix or remove the descriptor (vsboot firmware check)", descriptor_mismatch },
  { "firmware-unknown", E,
    "no descriptor names the code file and it is not a firmware volume: whether it has Secure "
    "Boot is unknown",
    "use the firmware of a distribution package with a descriptor", firmware_unknown },
  { "firmware-changed", W,
    "a provisioned VM's code file no longer has the SHA-256 recorded at provisioning",
    "check the package update, then provision again (vsboot provision --reset keeps nothing) "
    "or accept the new build",
    firmware_changed },
  { "firmware-no-secure-boot", E, "the firmware build has no Secure Boot",
    "use the Secure Boot build (x86: OVMF_CODE_4M.secboot.fd; Arm: AAVMF_CODE.secboot.fd)",
    firmware_no_secure_boot },
  { "secure-boot-without-smm", E,
    "x86 Secure Boot firmware without SMM: the guest OS can rewrite the varstore",
    "use the SMM build (OVMF_CODE_4M.secboot.fd) with -machine q35,smm=on and -global "
    "driver=cfi.pflash01,property=secure,value=on",
    secure_boot_without_smm },
  { "aarch64-no-smm", W, "Arm has no SMM: the guest OS can write the varstore flash",
    "no fix on Arm: treat Secure Boot as protection against code that cannot write the flash "
    "(bootloaders, unsigned kernels), not against a compromised guest kernel",
    aarch64_no_smm },
  { "smm-off", E, "SMM firmware with smm=off: it stops early in boot",
    "use -machine q35,smm=on", smm_off },
  { "smm-s3-hang", E,
    "S3 offered to an SMM OVMF whose PEI is X64: it stops early in boot",
    "add -global ICH9-LPC.disable_s3=1 (libvirt: <pm><suspend-to-mem enabled='no'/>), as vsboot "
    "qemu-args does, or use a build whose PEI is IA32 (OVMF_CODE_4M.secboot.fd)",
    smm_s3_hang },
  { "smm-auto", W,
    "SMM firmware under KVM with smm left to auto: off without a word where KVM lacks SMM",
    "add smm=on to -machine (libvirt: <smm state='on'/>)", smm_auto },
  { "kvm-without-smm", E,
    "the VM asks for KVM first with SMM on (or SMM firmware and smm=auto) and this host's KVM "
    "cannot run SMM, or there is no KVM and no other accelerator: it will not start on this "
    "host (only with the host's KVM stated or probed; unknown is a note)",
    "use TCG (libvirt: <domain type='qemu'>; QEMU: -accel tcg), or a host whose KVM runs SMM",
    kvm_without_smm },
  { "varstore-not-secure", E,
    "SMM firmware without the cfi.pflash01 secure=on property: the guest OS can write the "
    "varstore directly",
    "add -global driver=cfi.pflash01,property=secure,value=on (libvirt: <loader "
    "secure='yes'>)",
    varstore_not_secure },
  { "firmware-via-bios", E,
    "split pflash firmware given as -bios (ROM): no varstore, setup mode at every boot (QEMU "
    "refuses the 4 MiB code outright)",
    "map the code read-only as flash 0 and a private varstore copy as flash 1 (-drive "
    "if=pflash,unit=0,readonly=on,... -drive if=pflash,unit=1,...)",
    firmware_via_bios },
  { "code-writable", E, "flash 0 is not read-only: the guest can rewrite the firmware",
    "add readonly=on to flash 0", code_writable },
  { "varstore-replaced", E,
    "a running process has another varstore open than the file now at the path (replaced, "
    "deleted: the open one is judged), or none under that name (moved: nothing is judged)",
    "restart the VM from the store you mean it to use (and keep only one file for it), then "
    "audit again",
    varstore_replaced },
  { "varstore-missing", E,
    "no varstore flash (flash 1), or its file does not exist",
    "give the VM its own copy of the varstore template as flash 1", varstore_missing },
  { "varstore-unreadable", E,
    "the varstore is not a local regular file (a directory, a device, a URL)",
    "give flash 1 a regular file: a copy of the varstore template, mode 0600",
    varstore_unreadable },
  { "varstore-from-template", I,
    "libvirt will create the missing NVRAM file from a template, whose variables are judged",
    NULL, varstore_from_template },
  { "format-mismatch", E,
    "a qcow2 varstore given as format=raw (reformatted by the firmware), or the reverse (QEMU "
    "refuses it)",
    "give the file's own format", format_mismatch },
  { "varstore-world-writable", E, "the varstore file is world-writable (mode o+w)",
    "chmod 0600 the varstore", varstore_world_writable },
  { "varstore-hardlinked", W, "the varstore is a regular file with more than one name",
    "give every VM its own copy (cp, not ln)", varstore_hardlinked },
  { "state-dir-writable", E,
    "a directory on the varstore's path can be changed by another user (the store's own "
    "directory writable by group or others or owned by another user; an ancestor writable "
    "without root's sticky bit)",
    "chmod go-w the directory (and chown it to the varstore's owner or root)",
    state_dir_writable },
  { "varstore-shared", E,
    "the varstore is a distribution template or file (under /usr), or another running QEMU "
    "uses it (the audited VM's own QEMU is not another: known by its pid, by the very same "
    "arguments, or by its name, -name guest=NAME, as vsboot run and libvirt start it)",
    "give every VM its own copy of the template", varstore_shared },
  { "varstore-readonly", W, "the varstore flash is read-only: nothing is saved",
    "map the varstore read-write (readonly=off)", varstore_readonly },
  { "snapshot-mode", W,
    "-snapshot or snapshot=on: varstore writes are discarded at exit",
    "drop -snapshot (or snapshot=on) for the varstore", snapshot_mode },
  { "varstore-invalid", E, "the varstore is not a valid edk2 variable store",
    "start again from a copy of the template", varstore_invalid },
  { "secure-boot-uncertain", E,
    "vsboot cannot derive what the firmware will decide from the store (see \"How the Secure "
    "Boot verdict is derived\" in the README)",
    "start again from a copy of the template and enroll keys into it", secure_boot_uncertain },
  { "varstore-setup-mode", E,
    "the firmware will be in setup mode (no PK, or a volume it erases): any unsigned binary "
    "boots",
    "enroll keys: vsboot vars enroll, or start from OVMF_VARS_4M.ms.fd", varstore_setup_mode },
  { "secure-boot-disabled", E,
    "PK is enrolled but SecureBoot will not be 1 (SecureBootEnable not exactly 1, a "
    "non-authenticated store)",
    "set SecureBootEnable to exactly 1 in an authenticated store (vsboot vars enroll "
    "--secure-boot)",
    secure_boot_disabled },
  { "db-empty", W, "db is empty: nothing signed can boot",
    "enroll the certificate(s) your boot chain is signed with into db", db_empty },
  { "dbx-empty", W, "dbx is empty: revoked boot loaders still boot",
    "apply the current UEFI revocation list (vsboot vars enroll --dbx-update dbxupdate.bin)",
    dbx_empty },
  { "dbx-placeholder", W, "dbx holds only the placeholder hash, sha256 of nothing",
    "apply the current UEFI revocation list (dbxupdate.bin)", dbx_placeholder },
  { "microsoft-2023-missing", W,
    "the store trusts a Microsoft 2011 CA without its 2023 successor: media signed only by the "
    "2023 CAs are refused",
    "with the VM stopped: vsboot vars enroll --in-place VARSTORE --microsoft 2023",
    microsoft_2023_missing },
  { "size-mismatch", E,
    "code and varstore sizes of different builds: variables are not persisted",
    "use the varstore template that belongs to this code build (4M code: OVMF_VARS_4M*.fd; 2M "
    "code: OVMF_VARS.fd)",
    size_mismatch },
  { "direct-kernel-boot", E,
    "-kernel: OVMF falls back to its legacy Linux loader when the image fails verification, "
    "so an unsigned kernel runs",
    "boot the kernel from the guest's disk through the signed chain (shim, grub/systemd-boot) "
    "instead of -kernel",
    direct_kernel_boot },
  { "direct-kernel-boot-confidential", E,
    "-kernel in an SEV/TDX guest: the host chooses what the guest boots",
    "do not use -kernel with SEV/TDX; boot from the (measured) disk",
    direct_kernel_boot_confidential },
  { "confidential-guest", I, "the guest is confidential (SEV, SEV-SNP, TDX)", NULL,
    confidential_guest },
};

#undef E
#undef W
#undef I

const VsbAuditRule *
vsb_audit_rule_table(gsize *n)
{
  *n = G_N_ELEMENTS(rules);
  return rules;
}
