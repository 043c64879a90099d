/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot firmware list|show|select|check through the CLI: JSON parsed and asserted, exit
 * codes, --explain text, the user (XDG) layer over the host's real descriptors. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

static char *fedora_share, *fedora_etc;

static int
run_fedora(char **out, char **err, const char *const *args)
{
  g_autoptr(GPtrArray) a = g_ptr_array_new();
  for (const char *const *p = args; *p; p++)
    g_ptr_array_add(a, (char *)*p);
  g_ptr_array_add(a, "--firmware-dir");
  g_ptr_array_add(a, fedora_share);
  g_ptr_array_add(a, "--firmware-dir");
  g_ptr_array_add(a, fedora_etc);
  g_ptr_array_add(a, NULL);
  return vsb_test_runv((const char *const *)a->pdata, out, err);
}

/* Run vsboot with a modified environment (name=value pairs replace or add). */
static int
run_env(const char *const *env_overrides, char **out, char **err, const char *const *args)
{
  g_auto(GStrv) env = g_get_environ();
  for (const char *const *e = env_overrides; *e; e++) {
    g_auto(GStrv) kv = g_strsplit(*e, "=", 2);
    env = g_environ_setenv(env, kv[0], kv[1], TRUE);
  }
  g_autoptr(GPtrArray) a = g_ptr_array_new();
  g_ptr_array_add(a, (char *)vsb_test_vsboot());
  for (const char *const *p = args; *p; p++)
    g_ptr_array_add(a, (char *)*p);
  g_ptr_array_add(a, NULL);
  int code = vsb_test_spawn((const char *const *)a->pdata, (const char *const *)env, out, err);
  g_assert_cmpint(code, <, 128);
  return code;
}

static void
test_help(void)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "select"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, NULL, "help", "firmware", "select", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "vsboot firmware select"));
  g_assert_true(strstr(out, "vsboot\nextension") != NULL || strstr(out, "vsboot extension") != NULL);
  g_assert_nonnull(strstr(out, "--no-feature requires-smm means SMM off"));
  const char *subs[] = { "list", "show", "check" };
  for (gsize i = 0; i < G_N_ELEMENTS(subs); i++) {
    g_clear_pointer(&out, g_free);
    g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", subs[i], "--help", NULL), ==, 0);
    g_assert_nonnull(strstr(out, "--firmware-dir"));
  }
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", NULL), ==, 2);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "frobnicate", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "unknown subcommand 'frobnicate'"));
}

static void
test_list_json(void)
{
  g_autofree char *out = NULL;
  const char *args[] = { "firmware", "list", "--json", NULL };
  g_assert_cmpint(run_fedora(&out, NULL, args), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  JsonArray *dirs = json_object_get_array_member(o, "directories");
  g_assert_cmpuint(json_array_get_length(dirs), ==, 2);
  g_assert_cmpstr(json_array_get_string_element(dirs, 1), ==, fedora_etc);
  JsonArray *entries = json_object_get_array_member(o, "entries");
  g_assert_cmpuint(json_array_get_length(entries), ==, 19);
  JsonObject *first = json_array_get_object_element(entries, 0);
  g_assert_cmpstr(json_object_get_string_member(first, "name"), ==, "20-bios.json");
  g_assert_cmpstr(json_object_get_string_member(first, "kind"), ==, "descriptor");
  JsonObject *d = json_object_get_object_member(first, "descriptor");
  JsonObject *m = json_object_get_object_member(d, "mapping");
  g_assert_cmpstr(json_object_get_string_member(m, "device"), ==, "memory");
  g_assert_cmpstr(json_object_get_string_member(m, "filename"), ==, "/usr/share/seabios/bios-256k.bin");
  JsonObject *last = json_array_get_object_element(entries, 18);
  g_assert_cmpstr(json_object_get_string_member(last, "kind"), ==, "mask");
  JsonArray *ov = json_object_get_array_member(last, "overrides");
  g_autofree char *masked = g_build_filename(fedora_share, "92-masked.json", NULL);
  g_assert_cmpstr(json_array_get_string_element(ov, 0), ==, masked);

  /* --arch filter */
  g_clear_pointer(&out, g_free);
  const char *arm[] = { "firmware", "list", "--json", "--arch", "aarch64", NULL };
  g_assert_cmpint(run_fedora(&out, NULL, arm), ==, 0);
  g_autoptr(JsonNode) root2 = vsb_test_parse_json(out);
  JsonArray *e2 = json_object_get_array_member(json_node_get_object(root2), "entries");
  g_assert_cmpuint(json_array_get_length(e2), ==, 5); /* 4 aarch64 + the mask */
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(e2, 0), "name"), ==,
                  "50-edk2-aarch64-qcow2.json");

  /* text */
  g_clear_pointer(&out, g_free);
  const char *txt[] = { "firmware", "list", NULL };
  g_assert_cmpint(run_fedora(&out, NULL, txt), ==, 0);
  g_assert_nonnull(strstr(out, "19. "));
  g_assert_nonnull(strstr(out, "masks "));
  g_assert_nonnull(strstr(out, "acpi(unknown)"));

  g_autofree char *err = NULL;
  const char *bad[] = { "firmware", "list", "--arch", "sparc", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, bad), ==, 2);
  g_assert_nonnull(strstr(err, "unknown architecture 'sparc'"));
}

static void
test_show(void)
{
  g_autofree char *out = NULL;
  const char *args[] = { "firmware", "show", "--json", "31-edk2-ovmf-2m-raw-x64-sb-enrolled", NULL };
  g_assert_cmpint(run_fedora(&out, NULL, args), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  JsonObject *m = json_object_get_object_member(o, "mapping");
  g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(m, "nvram-template"), "filename"),
                  ==, "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd");
  JsonArray *targets = json_object_get_array_member(o, "targets");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(targets, 0), "architecture"),
                  ==, "x86_64");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "warnings")), ==, 0);

  /* by file, with a warning */
  g_clear_pointer(&out, g_free);
  g_autofree char *la = g_build_filename(fedora_share, "50-edk2-loongarch64.json", NULL);
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "show", la, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "target:      loongarch64 virt virt-*"));
  g_assert_nonnull(strstr(out, "warning:     features[0]: unknown feature 'acpi' kept"));

  g_autofree char *err = NULL;
  const char *masked[] = { "firmware", "show", "92-masked", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, masked), ==, 2);
  g_assert_nonnull(strstr(err, "masked"));
  g_clear_pointer(&err, g_free);
  const char *none[] = { "firmware", "show", "99-nothing", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, none), ==, 2);
  g_assert_nonnull(strstr(err, "no firmware descriptor named '99-nothing'"));
  g_clear_pointer(&err, g_free);
  g_autofree char *bad = g_build_filename(vsb_test_data_dir(), "firmware/bad/13-unknown-device.json", NULL);
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "show", bad, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "mapping.device: unknown device 'cdrom'"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "show", NULL), ==, 2);
}

static JsonObject *
select_json(JsonNode **keep, int expect, const char *const *extra)
{
  g_autoptr(GPtrArray) a = g_ptr_array_new();
  g_ptr_array_add(a, "firmware");
  g_ptr_array_add(a, "select");
  g_ptr_array_add(a, "--json");
  for (const char *const *p = extra; *p; p++)
    g_ptr_array_add(a, (char *)*p);
  g_ptr_array_add(a, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int code = run_fedora(&out, &err, (const char *const *)a->pdata);
  if (code != expect)
    vsb_test_fail("exit %d, expected %d; stderr: %s", code, expect, err);
  *keep = vsb_test_parse_json(out);
  return json_node_get_object(*keep);
}

static const char *
exe_of(JsonObject *o)
{
  JsonObject *m = json_object_get_object_member(o, "mapping");
  return json_object_get_string_member(json_object_get_object_member(m, "executable"), "filename");
}

static void
test_select_conformance(void)
{
  g_autoptr(JsonNode) a = NULL, b = NULL, c = NULL, d = NULL, d2 = NULL;
  const char *ea[] = { "--arch", "x86_64", "--machine", "pc-q35-10.0", "--feature", "enrolled-keys",
                       "--format", "raw", NULL };
  JsonObject *oa = select_json(&a, 0, ea);
  g_assert_true(g_str_has_suffix(json_object_get_string_member(oa, "path"), "/31-edk2-ovmf-2m-raw-x64-sb-enrolled.json"));
  g_assert_cmpstr(exe_of(oa), ==, "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd");
  g_assert_cmpstr(json_object_get_string_member(oa, "description"), ==, "OVMF for x86_64, 2M, raw, SB, SMM, MS keys enrolled");
  JsonArray *f = json_object_get_array_member(oa, "features");
  g_assert_cmpuint(json_array_get_length(f), ==, 5);
  g_assert_cmpstr(json_array_get_string_element(f, 1), ==, "enrolled-keys");
  g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(oa, "interface-types"), 0), ==, "uefi");
  g_assert_false(json_object_has_member(oa, "candidates")); /* only with --explain */

  const char *eb[] = { "--arch", "x86_64", "--machine", "pc-q35-10.0", "--no-feature", "requires-smm",
                       "--format", "raw", NULL };
  g_assert_cmpstr(exe_of(select_json(&b, 0, eb)), ==, "/usr/share/edk2/ovmf/OVMF_CODE.fd");
  const char *ec[] = { "--arch", "x86_64", "--machine", "pc-q35-10.0", "--mode", "stateless", NULL };
  JsonObject *oc = select_json(&c, 0, ec);
  g_assert_cmpstr(exe_of(oc), ==, "/usr/share/edk2/ovmf/OVMF.amdsev.fd");
  JsonObject *mc = json_object_get_object_member(oc, "mapping");
  g_assert_cmpstr(json_object_get_string_member(mc, "mode"), ==, "stateless");
  g_assert_false(json_object_has_member(mc, "nvram-template"));
  const char *ed[] = { "--arch", "aarch64", "--machine", "virt-10.0", "--format", "raw", NULL };
  g_assert_cmpstr(exe_of(select_json(&d, 0, ed)), ==, "/usr/share/edk2/aarch64/QEMU_EFI-silent-pflash.raw");
  const char *ed2[] = { "--arch", "aarch64", "--machine", "virt-10.0", NULL };
  g_assert_cmpstr(exe_of(select_json(&d2, 0, ed2)), ==, "/usr/share/edk2/aarch64/QEMU_EFI-silent-pflash.qcow2");
}

static void
test_select_exit_codes(void)
{
  g_autofree char *out = NULL, *err = NULL;
  /* E: impossible request -> 2 with libvirt's message */
  const char *e1[] = { "firmware", "select", "--arch", "x86_64", "--machine", "pc-q35-10.0",
                       "--feature", "enrolled-keys", "--no-feature", "secure-boot", NULL };
  g_assert_cmpint(run_fedora(&out, &err, e1), ==, 2);
  g_assert_nonnull(strstr(err, "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled"));
  g_clear_pointer(&err, g_free);
  g_clear_pointer(&out, g_free);
  /* E: loader path nothing has -> 1, explanation on stderr, nothing on stdout */
  const char *e2[] = { "firmware", "select", "--arch", "x86_64", "--machine", "pc-q35-10.0",
                       "--loader", "/path/to/OVMF_CODE.fd", NULL };
  g_assert_cmpint(run_fedora(&out, &err, e2), ==, 1);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "no firmware matches"));
  g_assert_nonnull(strstr(err, "51-edk2-ovmf-2m-raw-x64-nosb.json"));
  g_assert_nonnull(strstr(err, "rejected [loader-path]: executable is /usr/share/edk2/ovmf/OVMF_CODE.fd, not /path/to/OVMF_CODE.fd"));
  g_clear_pointer(&err, g_free);
  /* usage errors -> 2 */
  const char *u1[] = { "firmware", "select", "--arch", "x86_64", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, u1), ==, 2);
  g_assert_nonnull(strstr(err, "--arch and --machine are required"));
  g_clear_pointer(&err, g_free);
  const char *u2[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--feature", "secure-bot", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, u2), ==, 2);
  g_assert_nonnull(strstr(err, "unknown feature 'secure-bot'"));
  g_clear_pointer(&err, g_free);
  const char *u3[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--feature", "acpi-s3", "--no-feature", "acpi-s3", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, u3), ==, 2);
  g_clear_pointer(&err, g_free);
  const char *u4[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--mode", "rw", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, u4), ==, 2);
  g_clear_pointer(&err, g_free);
  const char *u5[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--bogus", NULL };
  g_assert_cmpint(run_fedora(NULL, &err, u5), ==, 2);
  g_clear_pointer(&err, g_free);
  const char *u6[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--firmware-dir", "/nonexistent/dir", NULL };
  g_assert_cmpint(vsb_test_runv(u6, NULL, &err), ==, 2);
  g_assert_nonnull(strstr(err, "/nonexistent/dir"));
  g_clear_pointer(&err, g_free);
  /* no match with --json: the selection object on stdout, chosen null */
  g_clear_pointer(&out, g_free);
  const char *n1[] = { "firmware", "select", "--json", "--arch", "x86_64", "--machine", "pc-i440fx-10.0",
                       "--feature", "secure-boot", NULL };
  g_assert_cmpint(run_fedora(&out, &err, n1), ==, 1);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  g_assert_true(json_object_get_null_member(o, "chosen"));
  JsonArray *cand = json_object_get_array_member(o, "candidates");
  JsonObject *c1 = json_array_get_object_element(cand, 1);
  g_assert_cmpstr(json_object_get_string_member(c1, "verdict"), ==, "target");
}

/* Runs of spaces become one, so column padding does not matter. */
static char *
squeeze(const char *s)
{
  GString *o = g_string_new(NULL);
  for (const char *p = s; *p; p++)
    if (!(*p == ' ' && o->len && o->str[o->len - 1] == ' '))
      g_string_append_c(o, *p);
  return g_string_free(o, FALSE);
}

static void
test_select_explain(void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "firmware", "select", "--arch", "x86_64", "--machine", "pc-q35-10.0",
                         "--feature", "secure-boot", "--no-feature", "enrolled-keys",
                         "--format", "raw", "--explain", NULL };
  g_assert_cmpint(run_fedora(&out, &err, args), ==, 0);
  g_autofree char *sq = squeeze(out);
  g_assert_nonnull(strstr(sq, "machine: pc-q35-10.0 is a versioned machine type; used as is\n"));
  g_assert_nonnull(strstr(sq, "\n 20-bios.json rejected [interface]: interface bios, not uefi\n"));
  g_assert_nonnull(strstr(sq, "\n 30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json rejected [unwanted-feature]: has feature enrolled-keys, which is refused\n"));
  g_assert_nonnull(strstr(sq, "\n 40-edk2-ovmf-4m-qcow2-x64-sb.json rejected [format]: executable format qcow2, not raw\n"));
  g_assert_nonnull(strstr(sq, "\n=> 41-edk2-ovmf-2m-raw-x64-sb.json chosen: first match in precedence order\n"));
  g_assert_nonnull(strstr(sq, "\n 59-combined.json rejected [unwanted-feature]: has feature enrolled-keys, which is refused\n"));
  g_assert_nonnull(strstr(sq, "\n 51-edk2-ovmf-2m-raw-x64-nosb.json rejected [missing-feature]: lacks feature secure-boot, which is wanted\n"));
  g_assert_nonnull(strstr(sq, "\n 92-masked.json rejected [masked]: empty file: masks "));
  g_assert_nonnull(strstr(out, "\n  executable:  /usr/share/edk2/ovmf/OVMF_CODE.secboot.fd (raw)\n"));
  g_assert_nonnull(strstr(out, "\n  template:    /usr/share/edk2/ovmf/OVMF_VARS.fd (raw)\n"));
  /* every descriptor gets a line */
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  guint verdict_lines = 0;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix(*l, "   ") || g_str_has_prefix(*l, "=> "))
      verdict_lines++;
  g_assert_cmpuint(verdict_lines, ==, 19);

  /* --explain --json adds the candidates to the descriptor object */
  g_clear_pointer(&out, g_free);
  const char *j[] = { "firmware", "select", "--json", "--explain", "--arch", "x86_64", "--machine",
                      "pc-q35-10.0", "--feature", "secure-boot", "--no-feature", "enrolled-keys", NULL };
  g_assert_cmpint(run_fedora(&out, NULL, j), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "path"), "/40-edk2-ovmf-4m-qcow2-x64-sb.json"));
  JsonArray *cand = json_object_get_array_member(o, "candidates");
  g_assert_cmpuint(json_array_get_length(cand), ==, 19);
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(cand, 3), "verdict"), ==, "chosen");
  g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(cand, 18), "verdict"), ==, "masked");
}

/* Without qemu-system-* in PATH, q35 stands for pc-q35-*. With it, it is resolved. */
static void
test_select_alias(void)
{
  g_autofree char *empty = vsb_test_tmpdir();
  g_autofree char *path_env = g_strdup_printf("PATH=%s", empty);
  const char *env[] = { path_env, NULL };
  const char *args[] = { "firmware", "select", "--arch", "x86_64", "--machine", "q35", "--feature",
                         "enrolled-keys", "--format", "raw", "--explain", "--firmware-dir",
                         fedora_share, "--firmware-dir", fedora_etc, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint(run_env(env, &out, NULL, args), ==, 0);
  g_assert_nonnull(strstr(out, "qemu-system-x86_64 is not installed; q35 stands for the family pc-q35-*"));
  g_assert_nonnull(strstr(out, "=> 31-edk2-ovmf-2m-raw-x64-sb-enrolled.json"));

  vsb_test_require_tool("qemu-system-x86_64");
  g_clear_pointer(&out, g_free);
  const char *env2[] = { "VSB_UNUSED=1", NULL };
  g_assert_cmpint(run_env(env2, &out, NULL, args), ==, 0);
  g_assert_nonnull(strstr(out, "q35 is an alias of pc-q35-"));
  g_assert_nonnull(strstr(out, "-machine help)"));
}

/* The user's layer ($XDG_CONFIG_HOME/qemu/firmware) over the host's real Debian descriptors. */
static void
test_xdg_layer_over_host(void)
{
  g_autofree char *xdg = g_build_filename(vsb_test_data_dir(), "firmware/debian/xdg", NULL);
  g_autofree char *xdg_env = g_strdup_printf("XDG_CONFIG_HOME=%s", xdg);
  const char *env[] = { xdg_env, NULL };
  g_autofree char *out = NULL, *err = NULL;
  const char *list[] = { "firmware", "list", "--json", NULL };
  g_assert_cmpint(run_env(env, &out, NULL, list), ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(root);
  JsonArray *dirs = json_object_get_array_member(o, "directories");
  g_autofree char *xdg_fw = g_build_filename(xdg, "qemu", "firmware", NULL);
  g_assert_cmpstr(json_array_get_string_element(dirs, 0), ==, "/usr/share/qemu/firmware");
  g_assert_cmpstr(json_array_get_string_element(dirs, 2), ==, xdg_fw);
  JsonArray *entries = json_object_get_array_member(o, "entries");
  JsonObject *first = json_array_get_object_element(entries, 0);
  g_assert_cmpstr(json_object_get_string_member(first, "name"), ==, "10-local.json");
  gboolean saw_mask = FALSE;
  for (guint i = 0; i < json_array_get_length(entries); i++) {
    JsonObject *e = json_array_get_object_element(entries, i);
    if (strcmp(json_object_get_string_member(e, "name"), "40-edk2-x86_64-secure-enrolled.json") == 0) {
      g_assert_cmpstr(json_object_get_string_member(e, "kind"), ==, "mask");
      g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(e, "overrides"), 0), ==,
                      "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json");
      saw_mask = TRUE;
    }
  }
  g_assert_true(saw_mask);

  /* With Debian's enrolled image masked by the user, nothing has enrolled keys any more. */
  g_clear_pointer(&out, g_free);
  const char *sel[] = { "firmware", "select", "--arch", "x86_64", "--machine", "pc-q35-7.2",
                        "--feature", "secure-boot", "--feature", "enrolled-keys", NULL };
  g_assert_cmpint(run_env(env, &out, &err, sel), ==, 1);
  g_assert_nonnull(strstr(err, "40-edk2-x86_64-secure-enrolled.json"));
  g_assert_nonnull(strstr(err, "rejected [masked]"));
  /* Plain UEFI: the user's 10-local.json comes first. */
  g_clear_pointer(&out, g_free);
  const char *plain[] = { "firmware", "select", "--json", "--arch", "x86_64", "--machine", "pc-q35-7.2", NULL };
  g_assert_cmpint(run_env(env, &out, NULL, plain), ==, 0);
  g_autoptr(JsonNode) p = vsb_test_parse_json(out);
  g_assert_cmpstr(exe_of(json_node_get_object(p)), ==, "/home/user/ovmf/OVMF_CODE.fd");
  /* Secure Boot: the host's 50-edk2-x86_64-secure (Debian 4M build). */
  g_clear_pointer(&out, g_free);
  const char *sb[] = { "firmware", "select", "--json", "--arch", "x86_64", "--machine", "pc-q35-7.2",
                       "--feature", "secure-boot", NULL };
  g_assert_cmpint(run_env(env, &out, NULL, sb), ==, 0);
  g_autoptr(JsonNode) s = vsb_test_parse_json(out);
  g_assert_cmpstr(exe_of(json_node_get_object(s)), ==, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
}

/* ---- check ---- */

static void
write_image(const char *path, gsize size)
{
  g_autofree guint8 *buf = g_malloc0(size);
  vsb_test_write_file(path, buf, (gssize)size);
}

static char *
write_descriptor(const char *dir, const char *name, const char *exe, const char *vars,
                 const char *fmt, const char *features, const char *arch)
{
  g_autofree char *text = g_strdup_printf(
    "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\","
    "\"executable\":{\"filename\":\"%s\",\"format\":\"%s\"},"
    "\"nvram-template\":{\"filename\":\"%s\",\"format\":\"%s\"}},"
    "\"targets\":[{\"architecture\":\"%s\",\"machines\":[\"*\"]}],\"features\":[%s]}",
    exe, fmt, vars, fmt, arch, features);
  char *path = g_build_filename(dir, name, NULL);
  vsb_test_write_file(path, text, -1);
  return path;
}

static JsonObject *
check_json(JsonNode **keep, int expect, const char *file)
{
  g_autofree char *out = NULL;
  int code = vsb_test_run(&out, NULL, "firmware", "check", "--json", file, NULL);
  g_assert_cmpint(code, ==, expect);
  *keep = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(*keep);
  return json_array_get_object_element(json_object_get_array_member(o, "files"), 0);
}

static gboolean
has_message(JsonObject *file, const char *kind, const char *needle)
{
  JsonArray *a = json_object_get_array_member(file, kind);
  for (guint i = 0; i < json_array_get_length(a); i++)
    if (strstr(json_array_get_string_element(a, i), needle))
      return TRUE;
  return FALSE;
}

static void
test_check(void)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *code2m = g_build_filename(dir, "CODE_2M.fd", NULL);
  g_autofree char *code4m = g_build_filename(dir, "CODE_4M.fd", NULL);
  g_autofree char *vars2m = g_build_filename(dir, "VARS_2M.fd", NULL);
  g_autofree char *vars4m = g_build_filename(dir, "VARS_4M.fd", NULL);
  write_image(code2m, 1966080);
  write_image(code4m, 3653632);
  write_image(vars2m, 131072);
  write_image(vars4m, 540672);
  const char sb_smm[] = "\"requires-smm\",\"secure-boot\"";

  /* good pairs */
  g_autofree char *ok2 = write_descriptor(dir, "ok2.json", code2m, vars2m, "raw", sb_smm, "x86_64");
  g_autoptr(JsonNode) n1 = NULL;
  JsonObject *f1 = check_json(&n1, 0, ok2);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(f1, "errors")), ==, 0);
  g_autofree char *ok4 = write_descriptor(dir, "ok4.json", code4m, vars4m, "raw", sb_smm, "x86_64");
  g_autoptr(JsonNode) n2 = NULL;
  check_json(&n2, 0, ok4);

  /* 2M code with a 4M varstore template */
  g_autofree char *mix = write_descriptor(dir, "mix.json", code2m, vars4m, "raw", sb_smm, "x86_64");
  g_autoptr(JsonNode) n3 = NULL;
  JsonObject *f3 = check_json(&n3, 1, mix);
  g_assert_true(has_message(f3, "errors", "is 540672 bytes, but code"));
  g_assert_true(has_message(f3, "errors", "(1966080 bytes) is a 2 MiB OVMF build, whose varstore is 131072 bytes"));

  /* qcow2 pair, sizes through qemu-img: 4M code with a 2M template */
  g_autofree char *qcode = g_build_filename(dir, "CODE_4M.qcow2", NULL);
  g_autofree char *qvars = g_build_filename(dir, "VARS_2M.qcow2", NULL);
  const char *c1[] = { "qemu-img", "create", "-q", "-f", "qcow2", qcode, "3653632", NULL };
  const char *c2[] = { "qemu-img", "create", "-q", "-f", "qcow2", qvars, "131072", NULL };
  g_assert_cmpint(vsb_test_spawn(c1, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint(vsb_test_spawn(c2, NULL, NULL, NULL), ==, 0);
  g_autofree char *qmix = write_descriptor(dir, "qmix.json", qcode, qvars, "qcow2", sb_smm, "x86_64");
  g_autoptr(JsonNode) n4 = NULL;
  JsonObject *f4 = check_json(&n4, 1, qmix);
  g_assert_true(has_message(f4, "errors", "is 131072 bytes, but code"));
  g_assert_true(has_message(f4, "errors", "(3653632 bytes) is a 4 MiB OVMF build, whose varstore is 540672 bytes"));
  /* a raw file declared qcow2 */
  g_autofree char *liar = write_descriptor(dir, "liar.json", code4m, vars4m, "qcow2", sb_smm, "x86_64");
  g_autoptr(JsonNode) n5 = NULL;
  JsonObject *f5 = check_json(&n5, 1, liar);
  g_assert_true(has_message(f5, "errors", "the descriptor says format qcow2 but the file is not qcow2"));

  /* secure-boot on x86 without requires-smm; enrolled-keys without secure-boot */
  g_autofree char *nosmm = write_descriptor(dir, "nosmm.json", code4m, vars4m, "raw", "\"secure-boot\"", "x86_64");
  g_autoptr(JsonNode) n6 = NULL;
  JsonObject *f6 = check_json(&n6, 1, nosmm);
  g_assert_true(has_message(f6, "errors", "secure-boot on x86 without requires-smm"));
  /* the same on aarch64 is fine (no SMM there) */
  g_autofree char *arm = write_descriptor(dir, "arm.json", code4m, vars4m, "raw", "\"secure-boot\"", "aarch64");
  g_autoptr(JsonNode) n7 = NULL;
  check_json(&n7, 0, arm);
  g_autofree char *keys = write_descriptor(dir, "keys.json", code4m, vars4m, "raw", "\"enrolled-keys\"", "x86_64");
  g_autoptr(JsonNode) n8 = NULL;
  JsonObject *f8 = check_json(&n8, 1, keys);
  g_assert_true(has_message(f8, "errors", "enrolled-keys without secure-boot"));

  /* missing files; unknown feature is a warning only */
  g_autofree char *gone = write_descriptor(dir, "gone.json", "/nonexistent/CODE.fd", vars4m, "raw",
                                           "\"requires-smm\",\"secure-boot\",\"x-future\"", "x86_64");
  g_autoptr(JsonNode) n9 = NULL;
  JsonObject *f9 = check_json(&n9, 1, gone);
  g_assert_true(has_message(f9, "errors", "mapping.executable: /nonexistent/CODE.fd"));
  g_assert_true(has_message(f9, "warnings", "unknown feature 'x-future'"));

  /* relative path */
  g_autofree char *rel = write_descriptor(dir, "rel.json", "OVMF_CODE.fd", vars4m, "raw", sb_smm, "x86_64");
  g_autoptr(JsonNode) n11 = NULL;
  JsonObject *f11 = check_json(&n11, 1, rel);
  g_assert_true(has_message(f11, "errors", "mapping.executable.filename: 'OVMF_CODE.fd' is not an absolute path"));
  /* requires-smm on i440fx: a warning (the helper writes machines ["*"], so edit one) */
  g_autofree char *i440 = g_build_filename(dir, "i440fx.json", NULL);
  g_autofree char *i440_text = g_strdup_printf(
    "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\","
    "\"executable\":{\"filename\":\"%s\",\"format\":\"raw\"},"
    "\"nvram-template\":{\"filename\":\"%s\",\"format\":\"raw\"}},"
    "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"pc-i440fx-*\",\"pc-q35-*\"]}],"
    "\"features\":[\"requires-smm\",\"secure-boot\"]}", code4m, vars4m);
  vsb_test_write_file(i440, i440_text, -1);
  g_autoptr(JsonNode) n12 = NULL;
  JsonObject *f12 = check_json(&n12, 0, i440);
  g_assert_true(has_message(f12, "warnings", "requires-smm with machine 'pc-i440fx-*'"));

  /* Claims against the real binaries: Debian's OVMF_CODE_4M.fd has no SMM stack, AAVMF is an
   * aarch64 build; the 4M non-secboot build carries Secure Boot without claiming it. */
  g_autofree char *smm_liar = write_descriptor(dir, "smm-liar.json", "/usr/share/OVMF/OVMF_CODE_4M.fd",
                                               "/usr/share/OVMF/OVMF_VARS_4M.fd", "raw", sb_smm, "x86_64");
  g_autoptr(JsonNode) n13 = NULL;
  JsonObject *f13 = check_json(&n13, 1, smm_liar);
  g_assert_true(has_message(f13, "errors", "claims 'requires-smm', but the binary /usr/share/OVMF/OVMF_CODE_4M.fd lacks it"));
  g_assert_false(has_message(f13, "errors", "claims 'secure-boot'"));
  g_autofree char *wrong_arch = write_descriptor(dir, "wrong-arch.json", "/usr/share/AAVMF/AAVMF_CODE.fd",
                                                 "/usr/share/AAVMF/AAVMF_VARS.fd", "raw", "\"secure-boot\"", "x86_64");
  g_autoptr(JsonNode) n14 = NULL;
  JsonObject *f14 = check_json(&n14, 1, wrong_arch);
  g_assert_true(has_message(f14, "errors", "the binary is built for aarch64, but no target names that architecture"));
  g_autoptr(JsonNode) n15 = NULL;
  JsonObject *f15 = check_json(&n15, 0, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
  g_assert_true(has_message(f15, "notes", "the binary has 'secure-boot', which the descriptor does not claim"));
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(f15, "warnings")), ==, 0);
  /* zero-filled stand-ins are not firmware: a warning, not a crash */
  g_assert_true(has_message(f1, "warnings", "cannot inspect the binary, features not checked"));

  /* schema error */
  g_autofree char *bad = g_build_filename(vsb_test_data_dir(), "firmware/bad/11-wrong-type.json", NULL);
  g_autoptr(JsonNode) n10 = NULL;
  JsonObject *f10 = check_json(&n10, 1, bad);
  g_assert_true(has_message(f10, "errors", "interface-types: expected an array, got a string"));

  /* the host's real Debian x86 descriptors and images are consistent */
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "check",
                               "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json",
                               "/usr/share/qemu/firmware/60-edk2-x86_64.json", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "40-edk2-x86_64-secure-enrolled.json: ok\n"));
  g_assert_nonnull(strstr(out, "2 files checked: 0 errors, 0 warnings\n"));

  /* a path that cannot be read is bad input (2), not a lint error (1), even beside a good one */
  g_autofree char *err = NULL;
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(vsb_test_run(&out, &err, "firmware", "check",
                               "/usr/share/qemu/firmware/60-edk2-x86_64.json",
                               "/nonexistent.json", NULL), ==, 2);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "cannot read /nonexistent.json: No such file or directory"));
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(&out, &err, "firmware", "check", "--json", "/tmp", NULL), ==, 2);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "/tmp: is a directory, not a descriptor"));

  /* no FILE: the active descriptors of the given dirs (the mask is not checked) */
  g_clear_pointer(&out, g_free);
  g_autofree char *dbx = g_build_filename(vsb_test_data_dir(), "firmware/debian/xdg/qemu/firmware", NULL);
  g_assert_cmpint(vsb_test_run(&out, NULL, "firmware", "check", "--firmware-dir", dbx, NULL), ==, 1);
  g_assert_nonnull(strstr(out, "README: error: "));
  g_assert_nonnull(strstr(out, "10-local.json: error: mapping.executable: /home/user/ovmf/OVMF_CODE.fd"));
  g_assert_null(strstr(out, "40-edk2-x86_64-secure-enrolled"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  fedora_share = g_build_filename(vsb_test_data_dir(), "firmware/fedora/usr/share/qemu/firmware", NULL);
  fedora_etc = g_build_filename(vsb_test_data_dir(), "firmware/fedora/etc/qemu/firmware", NULL);
  g_test_add_func("/firmware-cli/help", test_help);
  g_test_add_func("/firmware-cli/list-json", test_list_json);
  g_test_add_func("/firmware-cli/show", test_show);
  g_test_add_func("/firmware-cli/select-conformance", test_select_conformance);
  g_test_add_func("/firmware-cli/select-exit-codes", test_select_exit_codes);
  g_test_add_func("/firmware-cli/select-explain", test_select_explain);
  g_test_add_func("/firmware-cli/select-alias", test_select_alias);
  g_test_add_func("/firmware-cli/xdg-layer-over-host", test_xdg_layer_over_host);
  g_test_add_func("/firmware-cli/check", test_check);
  int rc = g_test_run();
  g_free(fedora_share);
  g_free(fedora_etc);
  return rc;
}
