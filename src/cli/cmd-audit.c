/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot audit: is Secure Boot really enforced in this VM, and if not, why not? */
#include "cli.h"

#include "vsboot/audit.h"
#include "vsboot/error.h"
#include "vsboot/fwsearch.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-cmdline.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char audit_description[] =
  "Judge from what the VM will really run — the QEMU arguments or the libvirt domain, the\n"
  "firmware files behind them (mapped to the installed descriptors, or inspected), and the\n"
  "varstore's contents — whether Secure Boot is enforced. Give exactly one of:\n"
  "  --qemu-cmdline 'ARGS'   a QEMU command line ('-' reads it from stdin; NUL-separated\n"
  "                          input such as a copy of /proc/PID/cmdline is accepted)\n"
  "  --pid PID               a running QEMU (/proc/PID/cmdline; the files it has open\n"
  "                          are judged, not whatever is at their paths now)\n"
  "  --libvirt-xml FILE      a libvirt domain definition (autoselection or explicit form)\n"
  "  NAME --state-dir DIR    a VM provisioned by 'vsboot provision'\n"
  "\n"
  "Every finding has a stable id, a severity, the evidence and the fix. The verdict is\n"
  "'enforced' only when no finding has error severity. --list-findings lists every id\n"
  "with its severity, when it is reported and its fix.\n"
  "Whether a VM that asks for KVM with SMM starts depends on this host's KVM: it is probed\n"
  "(QEMU started paused) only then, or stated with --host-kvm (kvm-without-smm).\n"
  "Exit status: 0 enforced; 1 not enforced: any finding of error severity, also a file\n"
  "the command line names that is missing or unusable (QEMU would not start, so nothing is\n"
  "enforced); 2 could not judge: the input itself cannot be read, or cannot be parsed as\n"
  "QEMU parses it (an unknown option, -opt=value, a flash unit given twice, an unreadable\n"
  "-readconfig file), a domain libvirt would not define, a process that is not QEMU.";

static char *
read_stdin(gsize *len, GError **error)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new(STDIN_FILENO, FALSE);
  g_autoptr(GByteArray) buf = g_byte_array_new();
  guint8 chunk[65536];
  for (;;) {
    gssize n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, error);
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    if (buf->len + (gsize)n > VSB_QEMU_CMDLINE_MAX_BYTES) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "standard input: command line longer than %d bytes", VSB_QEMU_CMDLINE_MAX_BYTES);
      return NULL;
    }
    g_byte_array_append(buf, chunk, (guint)n);
  }
  *len = buf->len;
  g_byte_array_append(buf, (const guint8 *)"", 1);
  return (char *)g_byte_array_free(g_steal_pointer(&buf), FALSE);
}

static void
print_text(const VsbAuditReport *r)
{
  const VsbAuditModel *m = &r->model;
  printf("Audit of %s: Secure Boot is %s\n", r->source, r->enforced ? "ENFORCED" : "NOT ENFORCED");
  printf("  machine:   %s (%s", m->machine, vsb_fw_arch_name(m->arch));
  if (m->smm)
    printf(", smm %s", m->smm);
  printf(", accel %s)\n", m->accel);
  printf("  firmware:  %s via %s%s\n", m->code ? m->code : "(none)", m->firmware_via,
         m->code && m->firmware_via && strcmp(m->firmware_via, "pflash") == 0
           ? (m->code_readonly ? ", read-only" : ", WRITABLE") : "");
  if (m->code)
    printf("             %s; Secure Boot %s, SMM %s (%s)\n",
           m->descriptor ? m->descriptor : "no descriptor", m->fw_secure_boot ? "yes" : "no",
           m->fw_requires_smm ? "required" : "not required",
           m->features_source ? m->features_source : "unknown");
  if (m->varstore || m->varstore_read)
    printf("  varstore:  %s%s, secure flash %s\n", m->varstore ? m->varstore : "(none)",
           m->varstore_readonly ? " (read-only)" : "", m->secure_flash ? "on" : "off");
  /* Say so when the variables came from another file (a template, a running process's open
   * store). */
  if (m->varstore_read && m->varstore && strcmp(m->varstore_read, m->varstore) != 0)
    printf("             variables read from %s\n", m->varstore_read);
  if (m->secure_boot)
    printf("             %s%s: PK %d, KEK %d, db %d, dbx %d entries\n",
           m->secure_boot, strcmp(m->secure_boot, "user") == 0 ? " mode (enforcing)" : " mode",
           m->n_pk, m->n_kek, m->n_db, m->n_dbx);
  if (m->kernel)
    printf("  kernel:    %s (direct kernel boot)\n", m->kernel);
  if (m->confidential)
    printf("  confidential guest: %s\n", m->confidential);
  for (guint i = 0; i < r->notes->len; i++)
    printf("  note: %s\n", (char *)r->notes->pdata[i]);
  if (r->findings->len == 0) {
    printf("No findings.\n");
    return;
  }
  printf("Findings:\n");
  for (guint i = 0; i < r->findings->len; i++) {
    const VsbFinding *f = r->findings->pdata[i];
    printf("  %-7s %s: %s\n", vsb_severity_name(f->severity), f->id, f->message);
    if (f->evidence && f->evidence[0])
      printf("          evidence: %s\n", f->evidence);
    if (f->fix)
      printf("          fix: %s\n", f->fix);
  }
}

/* The rule table: every finding id, its severity, when it is reported and its fix. */
static int
list_findings(gboolean json)
{
  if (json) {
    g_autoptr(JsonNode) node = vsb_audit_rules_to_json();
    vsb_cli_print_json(node);
    return VSB_EXIT_OK;
  }
  gsize n = 0;
  const VsbAuditRule *rules = vsb_audit_rules(&n);
  for (gsize i = 0; i < n; i++) {
    printf("%s (%s)\n  %s\n", rules[i].id, vsb_severity_name(rules[i].severity),
           rules[i].summary);
    if (rules[i].fix)
      printf("  fix: %s\n", rules[i].fix);
  }
  return VSB_EXIT_OK;
}

typedef struct {
  char *qemu_cmdline, *libvirt_xml, *state_dir, *nvram_dir, *host_kvm;
  char **firmware_dirs;
  int pid;
  gboolean json, no_scan, list;
} AuditArgs;

static void
audit_args_clear(AuditArgs *a)
{
  g_free(a->qemu_cmdline);
  g_free(a->libvirt_xml);
  g_free(a->state_dir);
  g_free(a->nvram_dir);
  g_free(a->host_kvm);
  g_strfreev(a->firmware_dirs);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AuditArgs, audit_args_clear)

/* Exactly one source, and the options that belong to it. */
static int
check_source(const AuditArgs *a, const char *name)
{
  if (a->list) {
    if (a->qemu_cmdline || a->pid || a->libvirt_xml || name || a->state_dir || a->nvram_dir ||
        a->firmware_dirs || a->no_scan || a->host_kvm)
      return vsb_cli_failf("audit: --list-findings takes no VM and no option but --json");
    return VSB_EXIT_OK;
  }
  int given = (a->qemu_cmdline != NULL) + (a->pid != 0) + (a->libvirt_xml != NULL) +
              (name != NULL);
  if (given != 1)
    return vsb_cli_failf("audit: give exactly one of --qemu-cmdline, --pid, --libvirt-xml or "
                         "NAME --state-dir DIR (see 'vsboot help audit')");
  if (name && a->state_dir == NULL)
    return vsb_cli_failf("audit: NAME needs --state-dir DIR");
  if (a->state_dir && name == NULL)
    return vsb_cli_failf("audit: --state-dir needs the VM's NAME");
  if (a->nvram_dir && a->libvirt_xml == NULL)
    return vsb_cli_failf("audit: --nvram-dir only applies to --libvirt-xml");
  if (a->host_kvm && strcmp(a->host_kvm, "probe") != 0 && vsb_host_kvm_from_name(a->host_kvm) < 0)
    return vsb_cli_failf("audit: --host-kvm '%s': give probe, smm, no-smm, absent or unknown",
                         a->host_kvm);
  return VSB_EXIT_OK;
}

/* One library call per source. */
static VsbAuditReport *
audit_source(const AuditArgs *a, const char *name, const VsbAuditOptions *opts, GError **error)
{
  if (a->qemu_cmdline && strcmp(a->qemu_cmdline, "-") == 0) {
    gsize len = 0;
    g_autofree char *text = read_stdin(&len, error);
    if (text == NULL)
      return NULL;
    VsbAuditReport *report =
      vsb_audit_cmdline_text(text, len, "QEMU command line (standard input)", opts, error);
    /* A text line that does not parse is most often `ps` output, which has lost the quoting
     * of every -blockdev/-object JSON argument: say where an exact line comes from. */
    if (report == NULL && memchr(text, '\0', len) == NULL)
      g_prefix_error(error, "audit: the command line on standard input does not parse as QEMU's "
                     "(text from ps loses its quoting; give the process's own NUL-separated "
                     "line, 'vsboot audit --qemu-cmdline - < /proc/PID/cmdline', or --pid PID): ");
    return report;
  }
  if (a->qemu_cmdline)
    return vsb_audit_cmdline_text(a->qemu_cmdline, strlen(a->qemu_cmdline), NULL, opts, error);
  if (a->pid) {
    VsbAuditReport *report = vsb_audit_process(a->pid, opts, error);
    /* The library says what the process is; the CLI says which command refused it. */
    if (report == NULL && g_error_matches(*error, VSB_ERROR, VSB_ERROR_UNSUPPORTED))
      g_prefix_error(error, "audit: ");
    return report;
  }
  if (a->libvirt_xml)
    return vsb_audit_libvirt_file(a->libvirt_xml, a->nvram_dir, opts, error);
  return vsb_audit_vm(a->state_dir, name, opts, error);
}

static int
audit_run(int argc, char **argv)
{
  g_auto(AuditArgs) a = { 0 };
  GOptionEntry entries[] = {
    /* FILENAME: the bytes as given, whatever the locale (paths need not be UTF-8). */
    { "qemu-cmdline", 0, 0, G_OPTION_ARG_FILENAME, &a.qemu_cmdline,
      "Audit this QEMU command line ('-': read it from standard input)", "'ARGS'" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &a.pid, "Audit the running QEMU process PID", "PID" },
    { "libvirt-xml", 0, 0, G_OPTION_ARG_FILENAME, &a.libvirt_xml,
      "Audit a libvirt domain definition", "FILE" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.state_dir,
      "Directory of provisioned VMs (with NAME)", "DIR" },
    { "firmware-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a.firmware_dirs,
      "Descriptor directory instead of QEMU's search path (repeatable)", "DIR" },
    { "nvram-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.nvram_dir,
      "libvirt's NVRAM directory (default " VSB_LIBVIRT_NVRAM_DIR ")", "DIR" },
    { "host-kvm", 0, 0, G_OPTION_ARG_STRING, &a.host_kvm,
      "This host's KVM: probe (default: start QEMU when it decides), smm, no-smm, absent, "
      "unknown", "WHAT" },
    { "no-process-scan", 0, 0, G_OPTION_ARG_NONE, &a.no_scan,
      "Do not look for other running QEMU processes using the same varstore", NULL },
    { "list-findings", 0, 0, G_OPTION_ARG_NONE, &a.list,
      "List every finding id: severity, when it is reported, fix", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &a.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("[NAME]");
  g_option_context_set_summary(ctx, vsb_cli_audit.summary);
  g_option_context_set_description(ctx, audit_description);
  vsb_cli_add_entries(ctx, entries, NULL);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;

  const char *name = argc >= 2 ? argv[1] : NULL;
  if (argc > 2)
    return vsb_cli_failf("audit: unexpected argument '%s'", argv[2]);
  if ((code = check_source(&a, name)) != VSB_EXIT_OK)
    return code;
  if (a.list)
    return list_findings(a.json);

  GError *error = NULL;
  g_autoptr(GPtrArray) fw_entries =
    vsb_fw_search((const char *const *)a.firmware_dirs, &error);
  if (fw_entries == NULL)
    return vsb_cli_fail(error);
  VsbAuditOptions opts = { 0 };
  opts.firmware_entries = fw_entries;
  opts.no_process_scan = a.no_scan;
  /* Probe by default: a question the user did not answer is asked of the host, but only when
   * it decides whether the VM starts (the probe starts QEMU). */
  if (a.host_kvm == NULL || strcmp(a.host_kvm, "probe") == 0)
    opts.probe_host_kvm = TRUE;
  else
    opts.host_kvm = (VsbHostKvm)vsb_host_kvm_from_name(a.host_kvm);
  g_autoptr(VsbAuditReport) report = audit_source(&a, name, &opts, &error);
  if (report == NULL)
    return vsb_cli_fail(error);
  if (a.json) {
    g_autoptr(JsonNode) node = vsb_audit_report_to_json(report);
    vsb_cli_print_json(node);
  } else {
    print_text(report);
  }
  return report->enforced ? VSB_EXIT_OK : VSB_EXIT_NEGATIVE;
}

const VsbCliCommand vsb_cli_audit = { "audit", "Is Secure Boot really enforced in this VM, and if not, why not?", audit_run };
