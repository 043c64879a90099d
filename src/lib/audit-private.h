/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit inside: audit-model.c builds the model of the VM (AuditCtx: the public
 * VsbAuditModel plus every fact a rule needs: the flashes, the files behind them, what a running
 * process really has open, the firmware's identity and the varstore's judgement, the other users
 * of the varstore), then audit-rules.c runs one small function per finding id over it, in the
 * order of the rule table. Rules only read the model (and the files' facts for evidence); they
 * never change it. Private to libvsboot (not installed). */
#pragma once

#include "vsboot/audit.h"
#include "vsboot/descriptor.h"
#include "vsboot/efivar.h"
#include "vsboot/varstore.h"

/* For the audit of a running process: is the file at a flash's path the one it has open? */
typedef enum {
  OPEN_SAME,       /* yes, or not a process audit, or not looked at */
  OPEN_REPLACED,   /* the process has another file open under that name (deleted, replaced) */
  OPEN_NONE,       /* nothing open under that name: moved, or replaced after a rename */
  OPEN_UNREADABLE, /* PROC/PID/fd cannot be read */
} AuditOpenState;

typedef struct {
  gboolean cwd_lost;     /* a relative path, and the process's working directory is unknown */
  AuditOpenState state;
  char *fd_path;         /* PROC/PID/fd/N of the open file (OPEN_REPLACED) */
  char *target;          /* its name as the kernel shows it */
  char *why;             /* why PROC/PID/fd cannot be read (OPEN_UNREADABLE) */
  const char *path;      /* the name on the command line */
  const char *evidence;  /* the argument it comes from */
} AuditOpen;

typedef enum {
  FW_NONE,     /* no flash 0 and no -bios */
  FW_MISSING,  /* not a local regular file */
  FW_FILE,
} AuditFwState;

/* What the varstore is, in the order the audit decides it. */
typedef enum {
  VS_NOTHING,         /* no varstore to judge (stateless firmware, unknown firmware, lost) */
  VS_COMBINED,        /* flash 0 holds the variables too */
  VS_NO_FLASH,        /* no flash 1 where the firmware needs one */
  VS_REMOTE,          /* not a local file (nbd:, json:, ...) */
  VS_TEMPLATE,        /* absent; libvirt will copy the template */
  VS_ABSENT,
  VS_NOT_REGULAR,     /* a directory, device, FIFO or socket */
  VS_FORMAT_MISMATCH, /* raw given for qcow2 or the reverse */
  VS_FILE,            /* a regular file, read as the firmware will */
} AuditVarsState;

typedef struct {
  const VsbQemuCmdline *cmd;
  const VsbAuditOptions *opts;
  GPtrArray *entries;        /* the descriptors (fwsearch.h) */
  VsbAuditReport *report;
  VsbAuditModel *m;          /* &report->model */

  /* The machine. */
  gboolean x86, arm, q35;
  const char *smm_opt;       /* -machine smm= as given */
  gboolean smm_explicit_off;
  gboolean smm_explicit_on;
  const char *secure_ev;     /* the argument that makes the flash secure, or not */
  const char *conf;          /* "sev", "sev-snp", "tdx" */
  char *conf_ev;

  /* The firmware. */
  VsbQemuFlash code, vars;
  char *bios_abs;
  const char *code_path;     /* the file judged: a running process's open one when it differs */
  AuditOpen code_open, vars_open;
  AuditFwState fw_state;
  const VsbFwDescriptor *desc;
  gboolean fw_known, fw_sb, fw_smm;
  gboolean inspected, insp_sb, insp_smm; /* the binary's own features */
  char *inspect_error;
  char *lies;                /* descriptor claims the binary contradicts */
  char *fw_ev;               /* the code file's facts (and its descriptor) */
  char *fw_full_ev;          /* the argument and fw_ev */

  /* The varstore. */
  const char *vpath;         /* flash 1's path */
  const char *vfile;         /* the file judged for it (a running process's open one) */
  gboolean vars_lost;        /* which file the VM uses is not known */
  gboolean combined;
  const VsbQemuFlash *sflash; /* the flash the variables live in, NULL when none */
  const char *spath;         /* its path */
  gboolean spath_exists;     /* a local path that exists: its file checks apply */
  gboolean spath_regular;
  gboolean spath_shipped;    /* a distribution file: a descriptor's template, or under /usr */
  AuditVarsState vs;
  gboolean vars_is_qcow2;
  const char *read_path;     /* the file whose variables are judged */
  VsbVarstore *store;
  char *store_error;         /* why read_path is not a valid store */
  VsbSecureBootState *sb;
  char *store_ev;            /* the flash's argument and read_path's facts */
  char *other_users;         /* other running QEMUs on the varstore */

  /* The host: its KVM, where it decides whether the VM starts (audit-host.c). */
  gboolean kvm_decides;
  VsbHostKvm host_kvm;
  gboolean host_kvm_probed;  /* asked now, not stated by the caller */
  char *host_kvm_why;        /* QEMU's reason, or why the probe failed */

  /* The findings, each with the table position it sorts by. */
  GArray *found;             /* AuditFound */
  int order;                 /* the position of the rule being run */
  int varstore_order;        /* the position of the first varstore rule */
} AuditCtx;

typedef struct {
  VsbFinding *finding;
  int order;
} AuditFound;

/* audit-model.c */
gboolean vsb_audit_model_build(AuditCtx *c, GError **error);
void vsb_audit_ctx_clear(AuditCtx *c);

/* audit-host.c */
void vsb_audit_model_host(AuditCtx *c);

/* audit.c */
char *vsb_audit_clean(const char *s);
void vsb_finding_put_json(JsonBuilder *b, const VsbFinding *f);
char *vsb_audit_file_facts(const char *path);
char *vsb_audit_join_ev(const char *a, const char *b);
gboolean vsb_audit_is_local_path(const char *path);
/* The rule's finding, once per id; sev < 0: the rule's severity; fix NULL: the rule's. */
void vsb_audit_emit(AuditCtx *c, const VsbAuditRule *rule, int sev, const char *evidence,
                    const char *fix, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

/* audit-rules.c */
const VsbAuditRule *vsb_audit_rule_table(gsize *n);
