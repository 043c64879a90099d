/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential: for each libvirt domain, `vsboot audit --libvirt-xml` (which works out itself
 * what libvirt will run) must agree with `vsboot audit --qemu-cmdline` on the command line a
 * real libvirtd generates for it (`virsh domxml-to-native qemu-argv`, Debian 12's libvirt 9.0
 * in a private mount namespace, tests/libvirt/libvirtd-ns.sh): same code and varstore files,
 * same SMM and secure-flash settings, same verdict, same finding ids. Needs root. Registered a
 * second time with VSB_LIBVIRT=11.3: the same against libvirt 11.3 (bookworm-backports,
 * unpacked under VSB_DEBS_ROOT and mounted over the installed libvirt in the namespace). */
#include "testutil.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"

typedef struct {
  const char *name;
  const char *arch;
  const char *os;        /* inside <os>, after <type> */
  const char *features;  /* inside <features> */
  const char *extra;     /* after </features> */
} Domain;

static const Domain domains[] = {
  { "auto-enrolled", "x86_64",
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware><nvram>@VARS@</nvram>",
    "<acpi/>", "" },
  { "auto-plain-setup-vars", "x86_64", "<nvram>@SETUP@</nvram>", "<acpi/>", "" },
  { "auto-no-secure-boot", "x86_64",
    "<firmware><feature enabled='no' name='secure-boot'/></firmware><nvram>@VARS@</nvram>",
    "<acpi/>", "" },
  { "auto-loader-secure", "x86_64", "<loader secure='yes'/><nvram>@VARS@</nvram>", "<acpi/>", "" },
  { "explicit-secure", "x86_64",
    "<loader readonly='yes' secure='yes' type='pflash'>" OVMF "OVMF_CODE_4M.secboot.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/><smm state='on'/>", "" },
  { "explicit-not-secure", "x86_64",
    "<loader readonly='yes' type='pflash'>" OVMF "OVMF_CODE_4M.secboot.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/><smm state='on'/>", "" },
  { "explicit-smm-off", "x86_64",
    "<loader readonly='yes' type='pflash'>" OVMF "OVMF_CODE_4M.secboot.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/><smm state='off'/>", "" },
  { "explicit-no-type", "x86_64",
    "<loader readonly='yes'>" OVMF "OVMF_CODE_4M.secboot.fd</loader><nvram>@VARS@</nvram>",
    "<acpi/><smm state='on'/>", "" },
  /* What libvirt does differs by version: 9.0 refuses the first and uses the second as given
   * (no SMM, no secure flash); 11.3 turns SMM (and for the second the secure flash) on from
   * the descriptor naming the file. A file no descriptor names: both refuse. */
  { "explicit-secure-no-smm", "x86_64",
    "<loader readonly='yes' secure='yes' type='pflash'>" OVMF "OVMF_CODE_4M.ms.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/>", "" },
  { "explicit-no-smm-no-secure", "x86_64",
    "<loader readonly='yes' type='pflash'>" OVMF "OVMF_CODE_4M.secboot.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/>", "" },
  { "explicit-unknown-secure-no-smm", "x86_64",
    "<loader readonly='yes' secure='yes' type='pflash'>@DIR@/copy_CODE.fd</loader>"
    "<nvram>@VARS@</nvram>", "<acpi/>", "" },
  { "explicit-nosmm-build", "x86_64",
    "<loader readonly='yes' type='pflash'>" OVMF "OVMF_CODE_4M.fd</loader><nvram>@VARS@</nvram>",
    "<acpi/>", "" },
  { "auto-direct-kernel", "x86_64",
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware><nvram>@VARS@</nvram>"
    "<kernel>@DIR@/vmlinuz</kernel><cmdline>console=ttyS0</cmdline>", "<acpi/>", "" },
  { "auto-qemu-commandline", "x86_64",
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware><nvram>@VARS@</nvram>",
    "<acpi/>",
    "<qemu:commandline><qemu:arg value='-global'/>"
    "<qemu:arg value='driver=cfi.pflash01,property=secure,value=off'/></qemu:commandline>" },
  { "aarch64-auto", "aarch64",
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware><nvram>@AAVARS@</nvram>",
    "<acpi/>", "<cpu mode='custom' match='exact'><model>cortex-a57</model></cpu>" },
};

/* Every occurrence of from in s replaced by to (newly allocated; GLib 2.66 has no
 * g_string_replace). */
static char *
replace(const char *s, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit(s, from, -1);
  return g_strjoinv(to, parts);
}

static char *
subst(const char *text, const char *dir)
{
  g_autofree char *vars = g_build_filename(dir, "guest_VARS.fd", NULL);
  g_autofree char *setup = g_build_filename(dir, "setup_VARS.fd", NULL);
  g_autofree char *aavars = g_build_filename(dir, "arm_VARS.fd", NULL);
  g_autofree char *a = replace(text, "@VARS@", vars);
  g_autofree char *b = replace(a, "@SETUP@", setup);
  g_autofree char *c = replace(b, "@AAVARS@", aavars);
  return replace(c, "@DIR@", dir);
}

static void
copy(const char *from, const char *dir, const char *name)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(from, &data, &len, NULL));
  g_autofree char *to = g_build_filename(dir, name, NULL);
  vsb_test_write_file(to, data, (gssize)len);
  g_assert_cmpint(g_chmod(to, 0600), ==, 0);
}

static JsonObject *
audit(GPtrArray *keep, const char *shell)
{
  const char *argv[] = { "sh", "-c", shell, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, &out, &err);
  g_test_message("%s -> %d\n%s%s", shell, rc, out, err);
  g_assert_cmpint(rc, <, 2);
  JsonNode *node = vsb_test_parse_json(out);
  g_ptr_array_add(keep, node);
  return json_node_get_object(node);
}

static int
cmp_strp(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
ids_of(JsonObject *report)
{
  JsonArray *f = json_object_get_array_member(report, "findings");
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  for (guint i = 0; i < json_array_get_length(f); i++) {
    const char *id = json_object_get_string_member(json_array_get_object_element(f, i), "id");
    if (strcmp(id, "varstore-from-template") != 0)
      g_ptr_array_add(ids, (gpointer)id);
  }
  g_ptr_array_sort(ids, cmp_strp);
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf(s, "%s ", (char *)ids->pdata[i]);
  return g_strdup(s->str);
}

/* VSB_LIBVIRT: "host" (the installed 9.0) or "11.3"; the harness reads LIBVIRT_ROOT. Returns
 * the version the daemon must report. */
static const char *
libvirt_under_test(void)
{
  const char *want = g_getenv("VSB_LIBVIRT");
  if (want == NULL || g_str_equal(want, "host")) {
    g_unsetenv("LIBVIRT_ROOT");
    return "9.0.0";
  }
  if (!g_str_equal(want, "11.3"))
    vsb_test_fail("VSB_LIBVIRT=%s: expected host or 11.3", want);
  const char *debs = g_getenv("VSB_DEBS_ROOT");
  g_autofree char *root = g_build_filename(debs ? debs : ".", "bookworm-backports", "root", NULL);
  g_autofree char *daemon = g_build_filename(root, "usr/sbin/libvirtd", NULL);
  if (!g_file_test(daemon, G_FILE_TEST_IS_EXECUTABLE))
    vsb_test_fail("VSB_LIBVIRT=11.3 needs %s (./dev.sh test, scripts/fetch-debs.sh)", daemon);
  g_setenv("LIBVIRT_ROOT", root, TRUE);
  return "11.3.0";
}

static void
test_differential(void)
{
  if (getuid() != 0)
    vsb_test_fail("the libvirt differential test must run as root (system libvirtd, mount namespaces)");
  vsb_test_require_tool("unshare");
  vsb_test_require_tool("virsh");
  if (!g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE))
    vsb_test_fail("/usr/sbin/libvirtd is not installed (run ./dev.sh test to install it)");
  const char *src = g_getenv("VSB_SOURCE_ROOT");
  g_assert_nonnull(src);
  g_autofree char *harness = g_build_filename(src, "tests", "libvirt", "libvirtd-ns.sh", NULL);

  g_autofree char *dir = vsb_test_tmpdir();
  copy(OVMF "OVMF_VARS_4M.ms.fd", dir, "guest_VARS.fd");
  copy(OVMF "OVMF_VARS_4M.fd", dir, "setup_VARS.fd");
  copy("/usr/share/AAVMF/AAVMF_VARS.ms.fd", dir, "arm_VARS.fd");
  copy(OVMF "OVMF_CODE_4M.secboot.fd", dir, "copy_CODE.fd");
  g_autofree char *kernel = g_build_filename(dir, "vmlinuz", NULL);
  vsb_test_write_file(kernel, "not a kernel", -1);

  /* One libvirtd for all domains: a script that asks it about each, after its version. */
  const char *want = libvirt_under_test();
  g_autoptr(GString) script = g_string_new("set -u\nvirsh version --daemon\n");
  for (gsize i = 0; i < G_N_ELEMENTS(domains); i++) {
    const Domain *d = &domains[i];
    g_autofree char *os = subst(d->os, dir);
    g_autofree char *xml = g_strdup_printf(
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
      "<name>%s</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>"
      "<os firmware='efi'><type arch='%s' machine='%s'>hvm</type>%s</os>"
      "<features>%s</features>%s<devices><emulator>/usr/bin/qemu-system-%s</emulator>"
      "<controller type='usb' model='none'/><memballoon model='none'/></devices></domain>",
      d->name, d->arch, strcmp(d->arch, "x86_64") == 0 ? "pc-q35-7.2" : "virt-7.2", os,
      d->features, d->extra, d->arch);
    /* Manual configurations carry no firmware= (libvirt refuses both together). */
    if (strstr(d->os, "<loader readonly")) {
      char *x = replace(xml, "<os firmware='efi'>", "<os>");
      g_free(xml);
      xml = x;
    }
    g_autofree char *file = g_strdup_printf("%s/%s.xml", dir, d->name);
    vsb_test_write_file(file, xml, -1);
    g_string_append_printf(script, "virsh domxml-to-native qemu-argv '%s' > '%s/%s.args' 2> '%s/%s.err'\n",
                           file, dir, d->name, dir, d->name);
    /* vsboot's audit of the XML in the namespace too: where libvirt's version decides, it asks
     * the libvirtd installed there. */
    g_string_append_printf(script, "\"$VSBOOT\" audit --libvirt-xml '%s' --firmware-dir "
                           "/usr/share/qemu/firmware --no-process-scan --json > '%s/%s.mine' "
                           "2>&1\n", file, dir, d->name);
  }
  g_autofree char *script_file = g_build_filename(dir, "ask.sh", NULL);
  vsb_test_write_file(script_file, script->str, -1);
  const char *run[] = { "bash", harness, "with", "/usr/share/qemu/firmware", "bash", script_file,
                        NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_spawn(run, NULL, &out, &err);
  g_test_message("libvirtd: exit %d\n%s%s", rc, out, err);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *running = g_strdup_printf("Running against daemon: %s\n", want);
  if (strstr(out, running) == NULL)
    vsb_test_fail("VSB_LIBVIRT asked for libvirt %s; virsh version --daemon says: %s", want, out);

  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
  for (gsize i = 0; i < G_N_ELEMENTS(domains); i++) {
    const Domain *d = &domains[i];
    g_autofree char *args_file = g_strdup_printf("%s/%s.args", dir, d->name);
    g_autofree char *args = NULL;
    g_assert_true(g_file_get_contents(args_file, &args, NULL, NULL));
    g_autofree char *sh_mine = g_strdup_printf("cat '%s/%s.mine'", dir, d->name);
    g_strstrip(args);
    if (args[0] == '\0') {
      /* libvirt refuses: vsboot must say so (libvirt-refuses), with libvirt's words. */
      g_autofree char *ef = g_strdup_printf("%s/%s.err", dir, d->name);
      g_autofree char *e = NULL;
      g_file_get_contents(ef, &e, NULL, NULL);
      JsonObject *refused = audit(keep, sh_mine);
      g_autofree char *ids = ids_of(refused);
      g_test_message("%s: libvirt refuses (%s); vsboot: %s", d->name, e, ids);
      if (strstr(ids, "libvirt-refuses") == NULL ||
          strstr(e, "Secure boot requires SMM feature enabled") == NULL)
        vsb_test_fail("libvirt refused %s (%s); vsboot found: %s", d->name, e, ids);
      continue;
    }
    /* libvirt's line: environment assignments, then the binary and its arguments. */
    int argc = 0;
    g_auto(GStrv) argv = NULL;
    g_assert_true(g_shell_parse_argv(args, &argc, &argv, NULL));
    int first = 0;
    while (first < argc && argv[first][0] != '-' && strchr(argv[first], '=') &&
           !strstr(argv[first], "qemu-system"))
      first++;
    g_autoptr(GByteArray) nul = g_byte_array_new();
    for (int a = first; a < argc; a++)
      g_byte_array_append(nul, (const guint8 *)argv[a], (guint)strlen(argv[a]) + 1);
    g_autofree char *nul_file = g_strdup_printf("%s/%s.nul", dir, d->name);
    vsb_test_write_file(nul_file, nul->data, nul->len);

    g_autofree char *sh_cmd = g_strdup_printf(
      "\"$VSBOOT\" audit --qemu-cmdline - --firmware-dir /usr/share/qemu/firmware "
      "--no-process-scan --json < '%s'", nul_file);
    JsonObject *mine = audit(keep, sh_mine);
    JsonObject *theirs = audit(keep, sh_cmd);

    JsonObject *m1 = json_object_get_object_member(mine, "model");
    JsonObject *m2 = json_object_get_object_member(theirs, "model");
    static const char *const fields[] = { "code", "varstore", "smm", "firmware-via", "kernel",
                                          "machine", NULL };
    for (const char *const *f = fields; *f; f++) {
      const char *a = json_object_get_null_member(m1, *f) ? NULL : json_object_get_string_member(m1, *f);
      const char *b = json_object_get_null_member(m2, *f) ? NULL : json_object_get_string_member(m2, *f);
      if (g_strcmp0(a, b) != 0)
        vsb_test_fail("%s: model.%s differs: vsboot reads the XML as '%s', libvirt generates '%s'",
                d->name, *f, a ? a : "(null)", b ? b : "(null)");
    }
    g_assert_cmpint(json_object_get_boolean_member(m1, "secure-flash"), ==,
                    json_object_get_boolean_member(m2, "secure-flash"));
    g_assert_cmpint(json_object_get_boolean_member(m1, "code-readonly"), ==,
                    json_object_get_boolean_member(m2, "code-readonly"));
    g_assert_cmpstr(json_object_get_string_member(mine, "verdict"), ==,
                    json_object_get_string_member(theirs, "verdict"));
    g_autofree char *i1 = ids_of(mine), *i2 = ids_of(theirs);
    g_test_message("%s: %s / %s", d->name, json_object_get_string_member(mine, "verdict"), i1);
    g_assert_cmpstr(i1, ==, i2);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/audit/libvirt/differential", test_differential);
  return g_test_run();
}
