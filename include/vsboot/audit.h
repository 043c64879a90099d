/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: is Secure Boot really enforced in this VM, and if not, why not?
 *
 * The audit first builds a model of what the VM will really run — the code and varstore files
 * behind the flash devices, the machine, SMM, the cfi.pflash01 "secure" property, read-only
 * flags, the accelerator, -kernel, -snapshot, SEV/TDX — from a QEMU command line
 * (qemu-cmdline.h; libvirt domains are turned into the command line libvirt would generate by
 * libvirt-domain.h). It then maps the code file to the installed firmware descriptors (or, for a
 * file no descriptor names, inspects the binary, fv.h), reads the varstore the way OVMF will
 * (efivar.h), and reports findings. Each finding has a stable id, a severity, the evidence (the
 * argument or XML element, and file facts) and the fix. The verdict is "enforced" only when no
 * finding has error severity. Inside, the audit first builds the model of the VM from its
 * source, then runs one rule per finding id over it: the ids, their severities, summaries and
 * fixes are the rule table's (vsb_audit_rules below; `vsboot audit --list-findings` prints it).
 * An option that could change the firmware setup and is not modelled is option-unmodeled: never
 * judged as if absent. For a running process (VsbAuditOptions.pid), the files it really has
 * open are judged (varstore-replaced, firmware-replaced, process-cwd-unreadable,
 * process-files-unreadable). libvirt-refuses and libvirt-version-unknown come from a libvirt
 * domain's resolution (libvirt-domain.h), not from its command line: the table lists them
 * without a check. kvm-without-smm is about the host, not the VM: whether this host's KVM runs
 * SMM is the caller's to state or to let the audit probe (VsbAuditOptions.host_kvm,
 * probe_host_kvm); left unknown, it is a note where it decides whether the VM starts. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/qemu-cmdline.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_SEVERITY_INFO,
  VSB_SEVERITY_WARNING,
  VSB_SEVERITY_ERROR,
  VSB_SEVERITY_COUNT,
} VsbSeverity;
const char *vsb_severity_name(VsbSeverity severity); /* "info", "warning", "error" */
int vsb_severity_from_name(const char *name);       /* -1 when none */

typedef struct {
  char *id;
  VsbSeverity severity;
  char *message;   /* what is wrong and what it allows */
  char *evidence;  /* the argument / XML element and the file facts behind it */
  char *fix;       /* what to change; NULL for info */
} VsbFinding;
void vsb_finding_free(VsbFinding *finding);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFinding, vsb_finding_free)

/* The VM as the audit understood it. Strings are NULL when not applicable. */
typedef struct {
  VsbFwArch arch;          /* x86_64, aarch64, ... (vsb_fw_arch_name) */
  char *machine;           /* as given ("q35"), or QEMU's default */
  char *accel;             /* "kvm:tcg" style, "tcg" when none given */
  char *smm;               /* "on", "off", "auto" (x86 only) */
  gboolean secure_flash;   /* cfi.pflash01 secure=on in force */
  char *firmware_via;      /* "pflash", "bios", "none" */
  char *code;              /* the file executed */
  char *code_format;
  gboolean code_readonly;
  char *descriptor;        /* descriptor naming the code file, NULL when none */
  char *features_source;   /* "descriptor", "inspection", or NULL when unknown */
  gboolean fw_secure_boot, fw_requires_smm;
  char *varstore;          /* the pflash1 file */
  char *varstore_format;
  gboolean varstore_readonly;
  char *varstore_read;     /* the file whose variables were judged (libvirt: the template) */
  char *secure_boot;       /* "user" (enforcing), "setup", "disabled", NULL when unread */
  int n_pk, n_kek, n_db, n_dbx; /* -1 when unread */
  char *kernel;
  gboolean snapshot;
  char *confidential;      /* "sev", "sev-snp", "tdx" */
} VsbAuditModel;

typedef struct {
  char *source;            /* what was audited: "QEMU command line", "process 1234", FILE */
  VsbAuditModel model;
  GPtrArray *findings;     /* VsbFinding*, errors first, then warnings, then info */
  GPtrArray *notes;        /* char*: how files were resolved (libvirt autoselection, ...) */
  gboolean enforced;
} VsbAuditReport;

/* Costly facts remembered across the audits of one scan: the inspection of a code file and its
 * SHA-256, by file identity (device, inode, size, mtime, ctime), and the running QEMU processes
 * (read once: a cache serves one scan, seconds long, not a long-lived program). A fleet of
 * hundreds of VMs runs a handful of firmware builds; inflating a build's volumes is most of one
 * audit's cost, and reading every process's command line most of the rest. */
typedef struct _VsbAuditCache VsbAuditCache;
VsbAuditCache *vsb_audit_cache_new(void);
void vsb_audit_cache_free(VsbAuditCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuditCache, vsb_audit_cache_free)

/* What this host's KVM can do for a VM that asks for it (-accel kvm, <domain type='kvm'>),
 * which decides whether an SMM VM starts at all. QEMU takes the first accelerator of a list
 * that initialises: with /dev/kvm present that is KVM, even when KVM cannot run SMM, and then
 * smm=on fails ("System Management Mode not supported by this hypervisor", no fallback to a
 * later "tcg"), while smm=auto starts without SMM, where the SMM firmware stops at boot. */
typedef enum {
  VSB_HOST_KVM_UNKNOWN = 0, /* not stated and not probed */
  VSB_HOST_KVM_SMM,         /* KVM present and runs SMM */
  VSB_HOST_KVM_NO_SMM,      /* KVM present, without SMM */
  VSB_HOST_KVM_ABSENT,      /* no /dev/kvm: a later accelerator of the list, or no start */
} VsbHostKvm;
/* "unknown", "smm", "no-smm", "absent" */
const char *vsb_host_kvm_name(VsbHostKvm kvm);
int vsb_host_kvm_from_name(const char *name); /* -1 when none */
/* Ask this host: ABSENT without /dev/kvm, else starts qemu_binary (NULL: qemu-system-x86_64)
 * paused with -accel kvm and smm=on (vm-run.h vsb_kvm_can_smm) and quits it; *why gets QEMU's
 * reason when not SMM (may be NULL). An error (and UNKNOWN) only when QEMU cannot be run. */
VsbHostKvm vsb_host_kvm_probe(const char *qemu_binary, char **why, GError **error);

typedef struct {
  /* Descriptors to map firmware files to (fwsearch.h list, borrowed); NULL: QEMU's search
   * path (firmware_dirs when set). */
  GPtrArray *firmware_entries;
  const char *const *firmware_dirs;
  /* libvirt: the varstore file does not exist yet and will be copied from this template. */
  const char *varstore_template;
  /* The audited QEMU itself, left out of the search for other users of the varstore. */
  int self_pid;
  /* Without a pid, what identifies the audited VM's own running QEMU (so that a running VM is
   * not judged to share its varstore with itself): its exact arguments (after the program;
   * NULL-terminated), or its name (-name NAME or guest=NAME, as vsboot run and libvirt start
   * it). A QEMU on the same varstore that matches neither is another VM. */
  const char *const *self_args;
  const char *self_name;
  /* The command line is that of this running process (0: none): the files it has open
   * (PROC/PID/fd, matched by device and inode) are judged, not whatever is at the paths now;
   * a file replaced or deleted since its start is read through PROC/PID/fd/N and reported
   * (varstore-replaced, firmware-replaced), an fd directory that cannot be read is reported
   * (process-files-unreadable). */
  int pid;
  /* Where to look for QEMU processes (this one's open files, other users); NULL: "/proc". */
  const char *proc_root;
  gboolean no_process_scan;
  /* A provisioned VM: the SHA-256 (hex) its code file had when it was provisioned; a different
   * file now is reported (firmware-changed). NULL: not checked. */
  const char *expected_code_sha256;
  /* Shared by the audits of one fleet scan (borrowed); NULL: every audit works anew. */
  VsbAuditCache *cache;
  /* This host's KVM (kvm-without-smm). UNKNOWN (zero) and probe_host_kvm FALSE: nothing is
   * asked, and where the answer would decide whether the VM starts a note says it was not
   * checked. probe_host_kvm: when it decides (an x86 VM asking for KVM first, with SMM on or
   * SMM firmware, not a running process), the audit probes (vsb_host_kvm_probe; once per scan
   * with a cache) instead of staying unknown. */
  VsbHostKvm host_kvm;
  gboolean probe_host_kvm;
} VsbAuditOptions;

/* The rule table: one entry per finding id, in the order the rules run (the order of the
 * findings within a severity). severity is the one the finding has (where a case differs, the
 * summary says so); fix is the general fix (a finding's own fix may be more precise), NULL for
 * information. The README's and vsboot-audit(1)'s finding lists are checked against it. The
 * audit itself runs check; callers read only the four documented members. */
typedef struct VsbAuditRule VsbAuditRule;
struct VsbAuditRule {
  const char *id;
  VsbSeverity severity;
  const char *summary;  /* when the finding is reported */
  const char *fix;
  void (*check)(void *model, const VsbAuditRule *rule); /* NULL: made elsewhere */
};
/* The table, read-only; *n receives its length. */
const VsbAuditRule *vsb_audit_rules(gsize *n);
/* { "findings": [ { "id", "severity", "summary", "fix" } ] } in the table's order. */
JsonNode *vsb_audit_rules_to_json(void);
/* The entry of id, NULL when no rule has it. */
const VsbAuditRule *vsb_audit_rule_find(const char *id);

/* Judge a parsed command line. Fails only when the descriptor list cannot be read; everything
 * about the VM itself becomes findings. source names it in the report. */
VsbAuditReport *vsb_audit_cmdline(const VsbQemuCmdline *cmd, const char *source,
                                  const VsbAuditOptions *opts, GError **error);
void vsb_audit_report_free(VsbAuditReport *report);
/* Each source of a VM is one call: it builds the command line the VM runs (or will run), fills
 * in what tells the VM's own QEMU from another user of its varstore (self_args, self_name,
 * self_pid, pid), and judges it with vsb_audit_cmdline. opts (may be NULL) gives the descriptor
 * list, proc_root and no_process_scan; its other members are set by the call. NULL with an
 * error when the input itself cannot be read or parsed as QEMU or libvirt would.
 *
 * A QEMU command line as text of len bytes: shell words as a POSIX shell splits them, or
 * NUL-separated arguments (a copy of /proc/PID/cmdline). source: NULL for "QEMU command line". */
VsbAuditReport *vsb_audit_cmdline_text(const char *text, gsize len, const char *source,
                                       const VsbAuditOptions *opts, GError **error);
/* A running QEMU: PROC/PID/cmdline and the files it has open. VSB_ERROR_UNSUPPORTED when the
 * process is not qemu-system-* or qemu-kvm. */
VsbAuditReport *vsb_audit_process(int pid, const VsbAuditOptions *opts, GError **error);
/* A libvirt domain definition of len bytes (from a file, or from libvirt's API), resolved as
 * libvirt would start it (libvirt-domain.h); origin names it in messages and in the source
 * ("libvirt domain ORIGIN"). nvram_dir: NULL for VSB_LIBVIRT_NVRAM_DIR; the installed libvirt
 * is asked for its version when it decides. The resolution's notes and findings
 * (libvirt-refuses, libvirt-version-unknown) come first in the report. */
VsbAuditReport *vsb_audit_libvirt_xml(const char *xml, gsize len, const char *origin,
                                      const char *nvram_dir, const VsbAuditOptions *opts,
                                      GError **error);
/* The same, read from a file (bounded, regular files only); the path is the origin. */
VsbAuditReport *vsb_audit_libvirt_file(const char *path, const char *nvram_dir,
                                       const VsbAuditOptions *opts, GError **error);
/* A VM provisioned in state_dir: the command line vsboot run would start it with, its code
 * file's provisioned hash checked (firmware-changed). */
VsbAuditReport *vsb_audit_vm(const char *state_dir, const char *name,
                             const VsbAuditOptions *opts, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbAuditReport, vsb_audit_report_free)

/* { "source", "verdict": "enforced"|"not-enforced", "model": {...}, "findings": [ { "id",
 *   "severity", "message", "evidence", "fix" } ], "notes": [...] } */
JsonNode *vsb_audit_report_to_json(const VsbAuditReport *report);
/* TRUE when a finding with this id is in the report. */
gboolean vsb_audit_report_has(const VsbAuditReport *report, const char *id);

VSB_END_DECLS
