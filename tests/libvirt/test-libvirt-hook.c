/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vsboot libvirt-hook` in a real libvirtd (the namespace harness, libvirtd-ns.h, run against
 * the host's libvirt 9.0 and, as libvirt-hook-11.3, against libvirt 11.3): installed with
 * `libvirt-hook --install` into the daemon's private /etc/libvirt/hooks, it makes `virsh start`
 * of a Secure Boot domain whose varstore is in setup mode, or held by another QEMU, fail with
 * vsboot's finding in libvirt's error, while the good domain, a domain that does not ask for
 * Secure Boot, and the domain `vsboot libvirt-xml --domain` emits (no options) start. A running
 * domain's `virsh dumpxml` audits as enforced (its own QEMU is not another user of its
 * varstore). A manual <loader secure='yes'> naming SMM firmware without <smm> is what each
 * version makes of it: 9.0 refuses it, and vsboot says it will not start; 11.3 turns SMM on
 * from the descriptor, and vsboot judges it with smm=on. The firmware directory is the host's
 * own, as on this host with no options. */
#include "libvirtd-ns.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"
#define FWDIR "/usr/share/qemu/firmware"

static struct {
  char *tmp;
  char *hooks;
  VsbTestLibvirtd *libvirtd;
} ctx;

#define virsh(out, err, ...) vsb_test_libvirtd_virsh(ctx.libvirtd, out, err, __VA_ARGS__)

static gboolean
is_11_3(void)
{
  return vsb_test_libvirtd_version_number(ctx.libvirtd) >= 11003000ul;
}

/* A minimal TCG q35 domain with a manual loader; vars is copied to the domain's own NVRAM. */
static char *
write_domain(const char *name, const char *loader_attrs, const char *code, const char *vars,
             const char *features)
{
  g_autofree char *base = g_strdup_printf("%s_VARS.fd", name);
  g_autofree char *own = vsb_test_copy_file(vars, ctx.tmp, base, 0600);
  g_autofree char *xml = g_strdup_printf(
    "<domain type='qemu'><name>%s</name>\n"
    "  <memory unit='KiB'>262144</memory><vcpu>1</vcpu>\n"
    "  <os><type arch='x86_64' machine='q35'>hvm</type>\n"
    "    <loader readonly='yes' type='pflash'%s>%s</loader><nvram>%s</nvram></os>\n"
    "  <features><acpi/>%s</features>\n"
    "  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <controller type='usb' model='none'/><memballoon model='none'/></devices>\n"
    "</domain>\n",
    name, loader_attrs, code, own, features);
  char *path = g_strdup_printf("%s/%s.xml", ctx.tmp, name);
  vsb_test_write_file(path, xml, -1);
  return path;
}

static void
define(const char *xml)
{
  g_autofree char *err = NULL;
  if (virsh(NULL, &err, "define", xml, NULL) != 0)
    vsb_test_fail("virsh define %s: %s", xml, err);
}

static void
assert_state(const char *name, const char *want)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(virsh(&out, NULL, "domstate", name, NULL), ==, 0);
  g_strstrip(out);
  g_assert_cmpstr(out, ==, want);
}

/* `vsboot audit --libvirt-xml` inside the namespace (the daemon's firmware directory and
 * libvirt version) of the running domain's `virsh dumpxml`; returns the report, exit in *rc. */
static JsonNode *
audit_live(const char *name, int *rc)
{
  g_autofree char *xml = NULL;
  g_assert_cmpint(virsh(&xml, NULL, "dumpxml", name, NULL), ==, 0);
  g_autofree char *path = g_strdup_printf("%s/%s.live.xml", ctx.tmp, name);
  vsb_test_write_file(path, xml, -1);
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { vsb_test_vsboot(), "audit", "--libvirt-xml", path, "--json", NULL };
  *rc = vsb_test_libvirtd_runv(ctx.libvirtd, argv, &out, &err);
  if (*rc != 0 && *rc != 1)
    vsb_test_fail("vsboot audit --libvirt-xml %s exited %d: %s", path, *rc, err);
  return vsb_test_parse_json(out);
}

static gboolean
has_finding(JsonNode *report, const char *id)
{
  JsonArray *f = json_object_get_array_member(json_node_get_object(report), "findings");
  for (guint i = 0; i < json_array_get_length(f); i++)
    if (g_strcmp0(json_object_get_string_member(json_array_get_object_element(f, i), "id"),
                  id) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_enforced_while_running(const char *name)
{
  int rc = 0;
  g_autoptr(JsonNode) report = audit_live(name, &rc);
  JsonObject *o = json_node_get_object(report);
  if (rc != 0) {
    g_autofree char *text = json_to_string(report, TRUE);
    vsb_test_fail("running domain %s not judged enforced: %s", name, text);
  }
  g_assert_cmpstr(json_object_get_string_member(o, "verdict"), ==, "enforced");
  g_assert_false(has_finding(report, "varstore-shared"));
}

static void
test_installed(void)
{
  g_autofree char *path = g_build_filename(ctx.hooks, "qemu.d", "vsboot", NULL);
  struct stat st;
  g_assert_cmpint(g_lstat(path, &st), ==, 0);
  g_assert_true(S_ISREG(st.st_mode));
  g_assert_cmpint(st.st_mode & 07777, ==, 0755);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_assert_true(g_str_has_prefix(text, "#!/bin/sh\n"));
  g_autofree char *exec = g_strdup_printf("exec '%s' libvirt-hook \"$@\"", vsb_test_vsboot());
  g_assert_nonnull(strstr(text, exec));
  /* Again: the file is replaced, not refused. */
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "libvirt-hook", "--install", "--hooks-dir",
                               ctx.hooks, NULL), ==, 0);
}

static void
test_refuses_setup_mode(void)
{
  g_autofree char *xml = write_domain("sb-setup", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                      OVMF "OVMF_VARS_4M.fd", "<smm state='on'/>");
  define(xml);
  g_autofree char *out = NULL, *err = NULL;
  int rc = virsh(&out, &err, "start", "sb-setup", NULL);
  g_test_message("virsh start: %s", err);
  g_assert_cmpint(rc, !=, 0);
  /* libvirt's error carries the hook's words. */
  g_assert_nonnull(strstr(err, "vsboot: domain 'sb-setup' asks for Secure Boot"));
  g_assert_nonnull(strstr(err, "varstore-setup-mode"));
  assert_state("sb-setup", "shut off");
}

static void
test_starts_good(void)
{
  g_autofree char *xml = write_domain("sb-good", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                      OVMF "OVMF_VARS_4M.ms.fd", "<smm state='on'/>");
  define(xml);
  g_autofree char *err = NULL;
  if (virsh(NULL, &err, "start", "sb-good", NULL) != 0)
    vsb_test_fail("virsh start sb-good: %s", err);
  assert_state("sb-good", "running");
  assert_enforced_while_running("sb-good");
  g_assert_cmpint(virsh(NULL, NULL, "destroy", "sb-good", NULL), ==, 0);
}

/* A paused QEMU outside libvirt holding vars as its flash; waits until it has the file open. */
static GPid
start_other_qemu(const char *vars)
{
  g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *argv[] = {
    "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg", "-S", "-nodefaults",
    "-display", "none", "-monitor", "none", "-serial", "none", "-name", "guest=other",
    "-global", "driver=cfi.pflash01,property=secure,value=on",
    "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE_4M.ms.fd",
    "-drive", nv, NULL,
  };
  GPid pid = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                              NULL, NULL, &pid, &error));
  g_assert_no_error(error);
  g_autofree char *fd_dir = g_strdup_printf("/proc/%d/fd", (int)pid);
  for (int i = 0; i < 100; i++) {
    g_autoptr(GDir) d = g_dir_open(fd_dir, 0, NULL);
    for (const char *n = d ? g_dir_read_name(d) : NULL; n; n = g_dir_read_name(d)) {
      g_autofree char *l = g_build_filename(fd_dir, n, NULL);
      g_autofree char *t = g_file_read_link(l, NULL);
      if (g_strcmp0(t, vars) == 0)
        return pid;
    }
    g_usleep(100000);
  }
  vsb_test_fail("QEMU %d never opened %s", (int)pid, vars);
  return 0;
}

/* Another VM's QEMU on the domain's varstore: a domain not yet started has no QEMU of its own,
 * so the hook refuses the start (varstore-shared). */
static void
test_refuses_shared_varstore(void)
{
  g_autofree char *xml = write_domain("sb-shared", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                      OVMF "OVMF_VARS_4M.ms.fd", "<smm state='on'/>");
  define(xml);
  g_autofree char *vars = g_strdup_printf("%s/sb-shared_VARS.fd", ctx.tmp);
  GPid pid = start_other_qemu(vars);
  g_autofree char *err = NULL;
  int rc = virsh(NULL, &err, "start", "sb-shared", NULL);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  g_spawn_close_pid(pid);
  g_test_message("virsh start: %s", err);
  g_assert_cmpint(rc, !=, 0);
  g_assert_nonnull(strstr(err, "vsboot: domain 'sb-shared' asks for Secure Boot"));
  g_assert_nonnull(strstr(err, "varstore-shared"));
  assert_state("sb-shared", "shut off");
}

/* No Secure Boot asked for: the hook lets even a setup-mode store start. */
static void
test_passes_without_secure_boot(void)
{
  g_autofree char *xml = write_domain("plain", "", OVMF "OVMF_CODE_4M.fd",
                                      OVMF "OVMF_VARS_4M.fd", "");
  define(xml);
  g_autofree char *err = NULL;
  if (virsh(NULL, &err, "start", "plain", NULL) != 0)
    vsb_test_fail("virsh start plain: %s", err);
  assert_state("plain", "running");
  g_assert_cmpint(virsh(NULL, NULL, "destroy", "plain", NULL), ==, 0);
}

/* What the README shows, with no options: provision, libvirt-xml --domain, define, start. On
 * this host KVM has no SMM, so the domain is type qemu; the hook judges it and lets it start. */
static void
test_emitted_domain_starts(void)
{
  g_autofree char *state = g_build_filename(ctx.tmp, "vms", NULL);
  g_assert_cmpint(g_mkdir(state, 0700), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  const char *prov[] = { vsb_test_vsboot(), "provision", "emitted", "--state-dir", state,
                         "--enrolled-keys", NULL };
  if (vsb_test_libvirtd_runv(ctx.libvirtd, prov, &out, &err) != 0)
    vsb_test_fail("vsboot provision: %s", err);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *emit[] = { vsb_test_vsboot(), "libvirt-xml", "emitted", "--state-dir", state,
                         "--domain", NULL };
  if (vsb_test_libvirtd_runv(ctx.libvirtd, emit, &out, &err) != 0)
    vsb_test_fail("vsboot libvirt-xml --domain: %s", err);
  g_test_message("libvirt-xml: %s", err);
  g_autofree char *path = g_build_filename(ctx.tmp, "emitted.xml", NULL);
  vsb_test_write_file(path, out, -1);
  define(path);
  g_clear_pointer(&err, g_free);
  if (virsh(NULL, &err, "start", "emitted", NULL) != 0)
    vsb_test_fail("virsh start of the emitted domain: %s", err);
  assert_state("emitted", "running");
  assert_enforced_while_running("emitted");
  g_assert_cmpint(virsh(NULL, NULL, "destroy", "emitted", NULL), ==, 0);
}

/* <domain type='kvm'> with SMM, on a host whose KVM cannot run SMM (QEMU itself is asked
 * here: it stops at once with its message, or stays paused until timeout ends it): libvirt's
 * start would fail in QEMU; the hook probes the host and refuses it first, naming the fix. */
static void
test_refuses_kvm_without_smm(void)
{
  const char *probe[] = { "timeout", "5", "qemu-system-x86_64", "-accel", "kvm", "-machine",
                          "q35,smm=on", "-nodefaults", "-display", "none", "-S", NULL };
  g_autofree char *qerr = NULL;
  int qrc = vsb_test_spawn(probe, NULL, NULL, &qerr);
  g_test_message("QEMU with -accel kvm and smm=on: exit %d: %s", qrc, qerr);
  g_autofree char *path = write_domain("sb-kvm", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                       OVMF "OVMF_VARS_4M.ms.fd", "<smm state='on'/>");
  g_autofree char *xml = NULL;
  g_assert_true(g_file_get_contents(path, &xml, NULL, NULL));
  g_auto(GStrv) parts = g_strsplit(xml, "<domain type='qemu'>", 2);
  g_assert_cmpuint(g_strv_length(parts), ==, 2);
  g_autofree char *kvm = g_strjoinv("<domain type='kvm'>", parts);
  vsb_test_write_file(path, kvm, -1);
  define(path);
  g_autofree char *err = NULL;
  int rc = virsh(NULL, &err, "start", "sb-kvm", NULL);
  g_test_message("virsh start: %s", err);
  if (qrc == 124) { /* this host's KVM runs SMM */
    g_assert_cmpint(rc, ==, 0);
    g_assert_cmpint(virsh(NULL, NULL, "destroy", "sb-kvm", NULL), ==, 0);
    return;
  }
  g_assert_nonnull(strstr(qerr, "System Management Mode not supported by this hypervisor"));
  g_assert_cmpint(rc, !=, 0);
  g_assert_nonnull(strstr(err, "vsboot: domain 'sb-kvm' asks for Secure Boot"));
  g_assert_nonnull(strstr(err, "kvm-without-smm"));
  assert_state("sb-kvm", "shut off");
}

/* A manual <loader secure='yes'> without <smm>: 9.0 refuses, 11.3 turns SMM on. */
static void
test_secure_without_smm(void)
{
  g_autofree char *xml = write_domain("no-smm", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                      OVMF "OVMF_VARS_4M.ms.fd", "");
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { vsb_test_vsboot(), "audit", "--libvirt-xml", xml, "--json", NULL };
  int rc = vsb_test_libvirtd_runv(ctx.libvirtd, argv, &out, &err);
  g_autoptr(JsonNode) report = vsb_test_parse_json(out);
  JsonObject *model = json_object_get_object_member(json_node_get_object(report), "model");
  g_autofree char *lerr = NULL;
  int lrc = virsh(NULL, &lerr, "define", xml, NULL);
  if (!is_11_3()) {
    g_assert_cmpint(lrc, !=, 0);
    g_assert_nonnull(strstr(lerr, "Secure boot requires SMM feature enabled"));
    g_assert_cmpint(rc, ==, 1);
    g_assert_true(has_finding(report, "libvirt-refuses"));
    return;
  }
  if (lrc != 0)
    vsb_test_fail("libvirt 11.3 refused <loader secure='yes'> without <smm>: %s", lerr);
  g_clear_pointer(&lerr, g_free);
  if (virsh(NULL, &lerr, "start", "no-smm", NULL) != 0)
    vsb_test_fail("virsh start no-smm: %s", lerr);
  g_autofree char *live = NULL;
  g_assert_cmpint(virsh(&live, NULL, "dumpxml", "no-smm", NULL), ==, 0);
  g_assert_nonnull(strstr(live, "<smm state='on'/>"));
  g_assert_cmpint(rc, ==, 0);
  g_assert_cmpstr(json_object_get_string_member(model, "smm"), ==, "on");
  g_assert_false(has_finding(report, "libvirt-refuses"));
  g_assert_false(has_finding(report, "libvirt-version-unknown"));
  g_assert_cmpint(virsh(NULL, NULL, "destroy", "no-smm", NULL), ==, 0);
}

/* The hook by hand, with input libvirt would never send. */
static int
hook_sh(const char *input_cmd, const char *args, char **err)
{
  g_autofree char *line = g_strdup_printf("%s | '%s' libvirt-hook %s", input_cmd,
                                          vsb_test_vsboot(), args);
  const char *argv[] = { "sh", "-c", line, NULL };
  return vsb_test_spawn(argv, NULL, NULL, err);
}

static void
test_odd_input(void)
{
  g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
  /* Other operations pass without reading. */
  g_assert_cmpint(hook_sh("echo garbage", "d started begin -", &e1), ==, 0);
  /* Not XML, and cannot ask for Secure Boot: passes. */
  g_assert_cmpint(hook_sh("echo garbage", "d prepare begin -", &e2), ==, 0);
  /* Not XML, but it might ask for Secure Boot: refused, saying why. */
  g_assert_cmpint(hook_sh("printf \"<domain><os><loader secure='yes'\"", "d prepare begin -",
                          &e3), ==, 1);
  g_assert_nonnull(strstr(e3, "cannot be read"));
  /* Over the size bound: refused when "secure" occurs, passed when it cannot. */
  g_assert_cmpint(hook_sh("yes secure | head -c 11000000", "d prepare begin -", &e4), ==, 1);
  g_assert_nonnull(strstr(e4, "larger than"));
  g_assert_cmpint(hook_sh("head -c 11000000 /dev/zero", "d prepare begin -", &e5), ==, 0);
  /* Not libvirt's calling convention. */
  g_assert_cmpint(hook_sh("true", "d prepare", &e6), ==, 2);
}

/* --json: the report of a judged domain on stdout, the same audit as the text. */
static void
test_json(void)
{
  g_autofree char *xml = write_domain("json-good", " secure='yes'", OVMF "OVMF_CODE_4M.ms.fd",
                                      OVMF "OVMF_VARS_4M.ms.fd", "<smm state='on'/>");
  g_autofree char *line = g_strdup_printf("'%s' libvirt-hook --json json-good prepare begin - "
                                          "< '%s'", vsb_test_vsboot(), xml);
  const char *argv[] = { "sh", "-c", line, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_spawn(argv, NULL, &out, &err), ==, 0);
  g_autoptr(JsonNode) report = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(report);
  g_assert_cmpstr(json_object_get_string_member(o, "verdict"), ==, "enforced");
  g_assert_cmpstr(err, ==, "");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  vsb_test_require_tool("qemu-system-x86_64");
  g_autoptr(GError) error = NULL;
  ctx.tmp = g_dir_make_tmp("vsboot-hook-XXXXXX", &error);
  g_assert_no_error(error);
  ctx.hooks = g_build_filename(ctx.tmp, "hooks", NULL);
  g_autofree char *out = NULL, *err = NULL;
  if (vsb_test_run(&out, &err, "libvirt-hook", "--install", "--hooks-dir", ctx.hooks, NULL) != 0)
    vsb_test_fail("vsboot libvirt-hook --install: %s", err);
  /* Hooks are read when libvirtd starts: installed first. */
  ctx.libvirtd = vsb_test_libvirtd_start_with_hooks(FWDIR, ctx.hooks);

  g_test_add_func("/libvirt/hook/installed", test_installed);
  g_test_add_func("/libvirt/hook/refuses-setup-mode", test_refuses_setup_mode);
  g_test_add_func("/libvirt/hook/starts-good", test_starts_good);
  g_test_add_func("/libvirt/hook/refuses-shared-varstore", test_refuses_shared_varstore);
  g_test_add_func("/libvirt/hook/passes-without-secure-boot", test_passes_without_secure_boot);
  g_test_add_func("/libvirt/hook/emitted-domain-starts", test_emitted_domain_starts);
  g_test_add_func("/libvirt/hook/refuses-kvm-without-smm", test_refuses_kvm_without_smm);
  g_test_add_func("/libvirt/hook/secure-without-smm", test_secure_without_smm);
  g_test_add_func("/libvirt/hook/odd-input", test_odd_input);
  g_test_add_func("/libvirt/hook/json", test_json);
  int rc = g_test_run();

  vsb_test_libvirtd_free(ctx.libvirtd);
  const char *rm[] = { "rm", "-rf", "--", ctx.tmp, NULL };
  if (g_getenv("VSB_TEST_KEEP") == NULL)
    vsb_test_spawn(rm, NULL, NULL, NULL);
  g_free(ctx.tmp);
  g_free(ctx.hooks);
  return rc;
}
