/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot libvirt-hook: libvirt's qemu hook (/etc/libvirt/hooks/qemu.d/vsboot). On "prepare
 * begin" of a domain that asks for Secure Boot, the domain XML on stdin is audited as libvirt
 * will start it; a finding of error severity fails the hook (exit 1), and libvirt then refuses
 * the start with the hook's stderr in its error. */
#include "cli.h"

#include "vsboot/audit.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/fwsearch.h"
#include "vsboot/libvirt-domain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_HOOKS_DIR "/etc/libvirt/hooks"

static const char hook_description[] =
  "libvirt runs /etc/libvirt/hooks/qemu.d/* (libvirt 6.5 or later) as\n"
  "  HOOK DOMAIN OPERATION SUBOP EXTRA\n"
  "with the domain XML on stdin. On 'prepare begin', a domain that asks for Secure Boot\n"
  "(<loader secure='yes'>, or the firmware feature secure-boot or enrolled-keys enabled) is\n"
  "audited as 'vsboot audit --libvirt-xml' would (other QEMU processes on its varstore\n"
  "included); when a finding has error severity, the findings are printed on stderr and the\n"
  "hook exits 1, so libvirt refuses to start the domain with that text. Every other\n"
  "operation, and a domain that does not ask for Secure Boot, passes (exit 0) at once.\n"
  "A definition that cannot be read (not XML, over 10 MiB) passes only when it cannot ask\n"
  "for Secure Boot (the word 'secure' and character references are absent); otherwise the\n"
  "start is refused. The libvirt version decides some outcomes (a <loader> naming SMM\n"
  "firmware without <smm>: 9.0 uses it as given, and refuses secure='yes'; 11.3 turns\n"
  "SMM and the secure flash on); it is asked of the installed libvirtd/virtqemud unless\n"
  "--libvirt-version is given.\n"
  "\n"
  "--install writes DIR/qemu.d/vsboot (DIR: --hooks-dir, default " DEFAULT_HOOKS_DIR "), a\n"
  "script that runs this vsboot; libvirtd reads its hooks when it starts: restart it.\n"
  "Exit status: 0 pass (or installed), 1 refuse the start, 2 bad usage.";

/* Both ways of asking for Secure Boot contain "secure"; a character reference could hide it. */
static gboolean
may_ask_secure_boot(const char *data, gsize len)
{
  return g_strstr_len(data, (gssize)len, "secure") != NULL ||
         g_strstr_len(data, (gssize)len, "&#") != NULL;
}

/* stdin up to max bytes; *over when there was more (the rest is not read). */
static GByteArray *
read_input(gsize max, gboolean *over, GError **error)
{
  g_autoptr(GByteArray) buf = g_byte_array_new();
  guint8 chunk[65536];
  *over = FALSE;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "standard input: %s", g_strerror(e));
      return NULL;
    }
    if (n == 0)
      break;
    if (buf->len + (gsize)n > max) {
      *over = TRUE;
      break;
    }
    g_byte_array_append(buf, chunk, (guint)n);
  }
  return g_steal_pointer(&buf);
}

static int
refuse(const char *domain, const char *why)
{
  g_autofree char *d = g_utf8_make_valid(domain, -1);
  fprintf(stderr, "vsboot: domain '%s' asks for Secure Boot: %s\n", d, why);
  return VSB_EXIT_NEGATIVE;
}

/* The error findings, one line each: libvirt shows the hook's stderr in its error. */
static int
report_refusal(const char *domain, const VsbAuditReport *report)
{
  g_autofree char *d = g_utf8_make_valid(domain, -1);
  fprintf(stderr, "vsboot: domain '%s' asks for Secure Boot, but it would not be enforced:\n",
          d);
  for (guint i = 0; i < report->findings->len; i++) {
    const VsbFinding *f = report->findings->pdata[i];
    if (f->severity == VSB_SEVERITY_ERROR)
      fprintf(stderr, "  %s: %s\n", f->id, f->message);
  }
  fprintf(stderr, "(vsboot audit --libvirt-xml on its definition shows evidence and fixes)\n");
  return VSB_EXIT_NEGATIVE;
}

static int
judge(const char *domain, guint64 version, gboolean json)
{
  g_autoptr(GError) error = NULL;
  gboolean over = FALSE;
  g_autoptr(GByteArray) in = read_input(VSB_LIBVIRT_DOMAIN_MAX_BYTES, &over, &error);
  if (in == NULL)
    return refuse(domain, error->message);
  const char *data = (const char *)in->data;
  g_autoptr(VsbLibvirtDomain) dom = NULL;
  if (over)
    g_set_error(&error, VSB_ERROR, VSB_ERROR_INVALID, "standard input: larger than %d bytes",
                VSB_LIBVIRT_DOMAIN_MAX_BYTES);
  else
    dom = vsb_libvirt_domain_parse(data, in->len, "domain XML (standard input)", &error);
  if (dom == NULL) {
    if (!may_ask_secure_boot(data, in->len))
      return VSB_EXIT_OK;
    g_autofree char *why = g_strdup_printf("its definition cannot be read (%s), so vsboot "
                                           "cannot show it is enforced", error->message);
    return refuse(domain, why);
  }
  if (!vsb_libvirt_domain_wants_secure_boot(dom))
    return VSB_EXIT_OK;

  g_autoptr(GPtrArray) entries = vsb_fw_search(NULL, &error);
  if (entries == NULL)
    return refuse(domain, error->message);
  VsbLibvirtResolveOptions ropts = { .libvirt_version = version };
  /* libvirt itself cannot start a KVM domain with SMM on a host whose KVM lacks SMM: probing
   * (once per start, only for such a domain) turns QEMU's late failure into vsboot's reason. */
  VsbAuditOptions aopts = { .firmware_entries = entries, .probe_host_kvm = TRUE };
  g_autofree char *source = g_strdup_printf("libvirt domain %s (hook)", dom->name ? dom->name
                                                                                 : domain);
  /* Not started yet: any QEMU on its varstore is another VM. */
  g_autoptr(VsbAuditReport) report = vsb_libvirt_domain_audit(dom, &ropts, &aopts, TRUE, source,
                                                              &error);
  if (report == NULL)
    return refuse(domain, error->message);
  if (json) {
    g_autoptr(JsonNode) node = vsb_audit_report_to_json(report);
    vsb_cli_print_json(node);
  }
  return report->enforced ? VSB_EXIT_OK : report_refusal(domain, report);
}

/* sh single quotes around s. */
static char *
sh_quote(const char *s)
{
  g_autoptr(GString) q = g_string_new("'");
  for (const char *p = s; *p; p++) {
    if (*p == '\'')
      g_string_append(q, "'\\''");
    else
      g_string_append_c(q, *p);
  }
  g_string_append_c(q, '\'');
  return g_string_free(g_steal_pointer(&q), FALSE);
}

static int
install(const char *hooks_dir)
{
  g_autoptr(GError) error = NULL;
  /* The vsboot running now, by its real path: libvirtd runs hooks with a minimal PATH. */
  g_autofree char *self = g_file_read_link("/proc/self/exe", &error);
  if (self == NULL)
    return vsb_cli_fail(g_steal_pointer(&error));
  g_autofree char *dir = g_build_filename(hooks_dir, "qemu.d", NULL);
  if (g_mkdir_with_parents(dir, 0755) != 0) {
    int e = errno;
    return vsb_cli_failf("libvirt-hook: cannot create %s: %s", dir, g_strerror(e));
  }
  g_autofree char *path = g_build_filename(dir, "vsboot", NULL);
  g_autofree char *quoted = sh_quote(self);
  g_autofree char *script = g_strdup_printf(
    "#!/bin/sh\n"
    "# vsboot's libvirt hook (vsboot-libvirt-hook(1)): libvirt refuses to start a domain that\n"
    "# asks for Secure Boot when vsboot's audit finds it would not be enforced.\n"
    "# Written by 'vsboot libvirt-hook --install'; remove this file to stop it.\n"
    "exec %s libvirt-hook \"$@\"\n", quoted);
  if (!vsb_file_write_atomic(path, script, strlen(script), 0755, FALSE, &error))
    return vsb_cli_fail(g_steal_pointer(&error));
  printf("installed %s (runs %s libvirt-hook)\n"
         "libvirtd reads its hooks when it starts: restart it (systemctl restart libvirtd, or "
         "virtqemud)\n", path, self);
  return VSB_EXIT_OK;
}

static int
libvirt_hook_run(int argc, char **argv)
{
  gboolean do_install = FALSE, json = FALSE;
  g_autofree char *hooks_dir = NULL, *version_text = NULL;
  GOptionEntry entries[] = {
    { "install", 0, 0, G_OPTION_ARG_NONE, &do_install,
      "Install the hook as DIR/qemu.d/vsboot", NULL },
    { "hooks-dir", 0, 0, G_OPTION_ARG_FILENAME, &hooks_dir,
      "libvirt's hooks directory for --install (default " DEFAULT_HOOKS_DIR ")", "DIR" },
    { "libvirt-version", 0, 0, G_OPTION_ARG_STRING, &version_text,
      "The libvirt version that starts the domain (default: ask the installed one)",
      "X.Y.Z" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print the audit report of a judged domain as JSON on stdout", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("DOMAIN OPERATION SUBOP EXTRA");
  g_option_context_set_summary(ctx, vsb_cli_libvirt_hook.summary);
  g_option_context_set_description(ctx, hook_description);
  vsb_cli_add_entries(ctx, entries, NULL);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (do_install) {
    if (argc > 1)
      return vsb_cli_failf("libvirt-hook: --install takes no arguments ('%s')", argv[1]);
    return install(hooks_dir ? hooks_dir : DEFAULT_HOOKS_DIR);
  }
  if (hooks_dir)
    return vsb_cli_failf("libvirt-hook: --hooks-dir only applies to --install");
  if (argc != 5)
    return vsb_cli_failf("libvirt-hook: expected DOMAIN OPERATION SUBOP EXTRA, as libvirt "
                         "runs its qemu hooks (see 'vsboot help libvirt-hook')");
  guint64 version = 0;
  if (version_text && !vsb_libvirt_version_parse(version_text, &version))
    return vsb_cli_failf("libvirt-hook: --libvirt-version '%s' is not X.Y.Z", version_text);
  /* Only the start is judged; everything else passes without reading its input. */
  if (strcmp(argv[2], "prepare") != 0 || strcmp(argv[3], "begin") != 0)
    return VSB_EXIT_OK;
  return judge(argv[1], version, json);
}

const VsbCliCommand vsb_cli_libvirt_hook = {
  "libvirt-hook", "libvirt's qemu hook: refuse to start unenforced Secure Boot",
  libvirt_hook_run
};
