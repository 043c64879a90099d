/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot audit: is Secure Boot really enforced in this VM, and if not, why not? */
#include "cli.h"

#include "vsboot/audit.h"
#include "vsboot/descriptor.h"
#include "vsboot/error.h"
#include "vsboot/fwsearch.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-argv.h"
#include "vsboot/qemu-cmdline.h"
#include "vsboot/qemu-probe.h"
#include "vsboot/vm.h"

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
  "'enforced' only when no finding has error severity.\n"
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
  printf("  machine:   %s (%s", m->machine, m->arch);
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

/* The executable of process pid: /proc/PID/exe when it may be read (another user's
 * process needs privilege), else its argv[0]. A binary replaced by an upgrade reads
 * "PATH (deleted)". */
static char *
process_executable(int pid, const char *argv0)
{
  g_autofree char *link = g_strdup_printf("/proc/%d/exe", pid);
  g_autofree char *exe = g_file_read_link(link, NULL);
  if (exe == NULL)
    return g_strdup(argv0 ? argv0 : "");
  if (g_str_has_suffix(exe, " (deleted)"))
    exe[strlen(exe) - strlen(" (deleted)")] = '\0';
  return g_steal_pointer(&exe);
}

static gboolean
is_qemu_executable(const char *path)
{
  g_autofree char *base = g_path_get_basename(path);
  return (g_str_has_prefix(base, "qemu-system-") && base[strlen("qemu-system-")] != '\0') ||
         strcmp(base, "qemu-kvm") == 0;
}

static VsbQemuCmdline *
cmdline_for_vm(const char *state_dir, const char *name, char **code_sha256, GError **error)
{
  g_autoptr(VsbVm) vm = vsb_vm_load(state_dir, name, error);
  if (vm == NULL)
    return NULL;
  *code_sha256 = g_strdup(vm->executable_sha256);
  VsbQemuArgvOptions aopts = { 0 };
  aopts.qemu_major = 7;
  aopts.qemu_minor = 2;
  g_autofree char *binary = vsb_qemu_find_binary(vm->arch, NULL);
  if (binary)
    vsb_qemu_get_version(binary, &aopts.qemu_major, &aopts.qemu_minor, NULL);
  aopts.no_tpm = TRUE;
  g_autoptr(GPtrArray) args = vsb_qemu_argv_build(vm, &aopts, error);
  if (args == NULL)
    return NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(argv, vsb_qemu_binary_name(vm->arch));
  for (guint i = 0; i < args->len; i++)
    g_ptr_array_add(argv, g_strdup(args->pdata[i]));
  return vsb_qemu_cmdline_parse((const char *const *)argv->pdata, (int)argv->len, NULL, error);
}

static int
audit_run(int argc, char **argv)
{
  g_autofree char *qemu_cmdline = NULL, *libvirt_xml = NULL, *state_dir = NULL,
                  *nvram_dir = NULL;
  g_auto(GStrv) firmware_dirs = NULL;
  int pid = 0;
  gboolean json = FALSE, no_scan = FALSE;
  GOptionEntry entries[] = {
    /* FILENAME: the bytes as given, whatever the locale (paths need not be UTF-8). */
    { "qemu-cmdline", 0, 0, G_OPTION_ARG_FILENAME, &qemu_cmdline,
      "Audit this QEMU command line ('-': read it from standard input)", "'ARGS'" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &pid, "Audit the running QEMU process PID", "PID" },
    { "libvirt-xml", 0, 0, G_OPTION_ARG_FILENAME, &libvirt_xml,
      "Audit a libvirt domain definition", "FILE" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Directory of provisioned VMs (with NAME)", "DIR" },
    { "firmware-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &firmware_dirs,
      "Descriptor directory instead of QEMU's search path (repeatable)", "DIR" },
    { "nvram-dir", 0, 0, G_OPTION_ARG_FILENAME, &nvram_dir,
      "libvirt's NVRAM directory (default " VSB_LIBVIRT_NVRAM_DIR ")", "DIR" },
    { "no-process-scan", 0, 0, G_OPTION_ARG_NONE, &no_scan,
      "Do not look for other running QEMU processes using the same varstore", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
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
  int given = (qemu_cmdline != NULL) + (pid != 0) + (libvirt_xml != NULL) + (name != NULL);
  if (given != 1)
    return vsb_cli_failf("audit: give exactly one of --qemu-cmdline, --pid, --libvirt-xml or "
                         "NAME --state-dir DIR (see 'vsboot help audit')");
  if (name && state_dir == NULL)
    return vsb_cli_failf("audit: NAME needs --state-dir DIR");
  if (state_dir && name == NULL)
    return vsb_cli_failf("audit: --state-dir needs the VM's NAME");
  if (nvram_dir && libvirt_xml == NULL)
    return vsb_cli_failf("audit: --nvram-dir only applies to --libvirt-xml");

  GError *error = NULL;
  g_autoptr(GPtrArray) fw_entries = vsb_fw_search((const char *const *)firmware_dirs, &error);
  if (fw_entries == NULL)
    return vsb_cli_fail(error);

  VsbAuditOptions opts = { 0 };
  g_auto(GStrv) self_args = NULL;
  g_autofree char *self_name = NULL;
  opts.firmware_entries = fw_entries;
  opts.no_process_scan = no_scan;
  g_autoptr(VsbQemuCmdline) cmd = NULL;
  g_autoptr(VsbLibvirtResolved) res = NULL;
  g_autofree char *source = NULL;
  g_autofree char *code_sha256 = NULL;

  if (qemu_cmdline) {
    g_autofree char *text = NULL;
    gsize len = 0;
    if (strcmp(qemu_cmdline, "-") == 0) {
      text = read_stdin(&len, &error);
      if (text == NULL)
        return vsb_cli_fail(error);
      source = g_strdup("QEMU command line (standard input)");
    } else {
      text = g_strdup(qemu_cmdline);
      len = strlen(text);
      source = g_strdup("QEMU command line");
    }
    g_auto(GStrv) words = vsb_qemu_split_cmdline(text, len, &error);
    if (words == NULL)
      return vsb_cli_fail(error);
    cmd = vsb_qemu_cmdline_parse((const char *const *)words, (int)g_strv_length(words), NULL,
                                 &error);
    /* The running VM whose line this is is not "another user" of its varstore. */
    self_args = g_strdupv(words[0] && words[0][0] != '-' ? words + 1 : words);
    opts.self_args = (const char *const *)self_args;
  } else if (pid) {
    g_auto(GStrv) words = vsb_qemu_read_proc_cmdline(NULL, pid, &error);
    if (words == NULL)
      return vsb_cli_fail(error);
    /* Is it QEMU at all? Asked before its arguments are read as QEMU's, or any other
     * process (pid 1, say) is refused for its first option ("'--firecracker-init' is not a
     * QEMU option") instead of for what it is. */
    g_autofree char *exe = process_executable(pid, words[0]);
    if (!is_qemu_executable(exe))
      return vsb_cli_failf("audit: process %d is not QEMU (%s): not a qemu-system-* or "
                           "qemu-kvm binary", pid, exe);
    /* Relative paths against its own cwd (or left unresolved when that cannot be read), and
     * the files it really has open are judged. */
    cmd = vsb_qemu_cmdline_parse_process(NULL, pid, &error);
    opts.self_pid = pid;
    opts.pid = pid;
    source = g_strdup_printf("process %d", pid);
  } else if (libvirt_xml) {
    g_autoptr(VsbLibvirtDomain) dom = vsb_libvirt_domain_load(libvirt_xml, &error);
    if (dom == NULL)
      return vsb_cli_fail(error);
    res = vsb_libvirt_domain_resolve(dom, fw_entries, nvram_dir, &error);
    if (res == NULL)
      return vsb_cli_fail(error);
    cmd = g_steal_pointer(&res->cmdline);
    opts.varstore_template = res->nvram_template;
    /* libvirt starts the domain as -name guest=NAME. */
    self_name = g_strdup(dom->name);
    opts.self_name = self_name;
    source = g_strdup_printf("libvirt domain %s", libvirt_xml);
  } else {
    cmd = cmdline_for_vm(state_dir, name, &code_sha256, &error);
    opts.expected_code_sha256 = code_sha256;
    /* vsboot run starts the VM as -name guest=NAME. */
    opts.self_name = name;
    source = g_strdup_printf("provisioned VM %s", name);
  }
  if (cmd == NULL)
    return vsb_cli_fail(error);

  g_autoptr(VsbAuditReport) report = vsb_audit_cmdline(cmd, source, &opts, &error);
  if (report == NULL)
    return vsb_cli_fail(error);
  if (res)
    for (guint i = 0; i < res->notes->len; i++)
      g_ptr_array_insert(report->notes, (gint)i, g_strdup(res->notes->pdata[i]));
  if (json) {
    g_autoptr(JsonNode) node = vsb_audit_report_to_json(report);
    vsb_cli_print_json(node);
  } else {
    print_text(report);
  }
  return report->enforced ? VSB_EXIT_OK : VSB_EXIT_NEGATIVE;
}

const VsbCliCommand vsb_cli_audit = { "audit", "Is Secure Boot really enforced in this VM, and if not, why not?", audit_run };
