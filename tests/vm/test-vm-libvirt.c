/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt XML vsboot emits, given to a real libvirtd (9.0 here, in a private mount
 * namespace: tests/libvirt/libvirtd-ns.h): `virsh define` accepts it, and `virsh
 * domxml-to-native qemu-argv` gives QEMU the same firmware code, the same (the VM's own)
 * varstore, smm=on and the secure flash as `vsboot qemu-args` for the same VM -- both command
 * lines read by vsboot's QEMU command-line reader. For the auto, explicit and legacy styles,
 * for a VM with our own keys (key-less Secure Boot template) and one with Microsoft's; an
 * aarch64 `virt` VM with AAVMF (no SMM, no secure flash on either side); and a VM on Debian's 2M
 * SMM build, whose X64 PEI needs S3 off: <pm><suspend-to-mem enabled='no'/> must give QEMU the
 * same -global ICH9-LPC.disable_s3=1 as qemu-args (and no other VM gets it). */
#include "testutil.h"
#include "libvirtd-ns.h"

#include "vsboot/qemu-cmdline.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static struct {
  char *dir;
  char *state;
  VsbTestLibvirtd *libvirtd;
} ctx;

typedef struct {
  const char *vm;
  const char *style;
  const char *code;  /* the executable libvirt must pick */
  gboolean smm;      /* smm=on and the secure flash expected (x86) or absent (Arm) */
  gboolean s3_off;   /* -global ICH9-LPC.disable_s3=1 expected */
} Row;

static const Row rows[] = {
  { "own-keys", "auto", "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", TRUE },
  { "own-keys", "explicit", "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", TRUE },
  { "own-keys", "legacy", "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", TRUE },
  { "ms-keys", "auto", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", TRUE },
  { "ms-keys", "explicit", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", TRUE },
  { "arm-ms-keys", "auto", "/usr/share/AAVMF/AAVMF_CODE.ms.fd", FALSE },
  { "arm-ms-keys", "explicit", "/usr/share/AAVMF/AAVMF_CODE.ms.fd", FALSE },
  /* Spelled out only: libvirt's autoselection would take the 4M build for the same features. */
  { "m2", "explicit", "/usr/share/OVMF/OVMF_CODE.secboot.fd", TRUE, TRUE },
  { "m2", "legacy", "/usr/share/OVMF/OVMF_CODE.secboot.fd", TRUE, TRUE },
};

static void
assert_contains(const char *text, const char *what)
{
  if (text == NULL || strstr(text, what) == NULL)
    vsb_test_fail("expected \"%s\" in:\n%s", what, text ? text : "(null)");
}

static char *
file_sha256(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

typedef struct {
  char *code, *vars, *code_format, *vars_format;
  gboolean code_ro, vars_ro;
  gboolean smm, secure;
  gboolean s3_off;
} Firmware;

static void
firmware_clear(Firmware *f)
{
  g_free(f->code);
  g_free(f->vars);
  g_free(f->code_format);
  g_free(f->vars_format);
}

/* What QEMU gets, read from a command line (env assignments before the binary skipped). */
static void
read_firmware(char **words, const char *origin, Firmware *fw)
{
  char **w = words;
  while (*w && strchr(*w, '=') && **w != '-' && **w != '/')
    w++;
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) cmd = vsb_qemu_cmdline_parse((const char *const *)w,
                                                         (int)g_strv_length(w), NULL, &error);
  if (cmd == NULL)
    vsb_test_fail("%s: %s", origin, error->message);
  VsbQemuFlash f0 = { 0 }, f1 = { 0 };
  g_assert_true(vsb_qemu_cmdline_get_flash(cmd, 0, &f0, &error));
  g_assert_no_error(error);
  g_assert_true(vsb_qemu_cmdline_get_flash(cmd, 1, &f1, &error));
  g_assert_no_error(error);
  if (!f0.present || !f1.present)
    vsb_test_fail("%s: flash units missing", origin);
  fw->code = g_strdup(f0.file);
  fw->vars = g_strdup(f1.file);
  fw->code_format = g_strdup(f0.format);
  fw->vars_format = g_strdup(f1.format);
  fw->code_ro = f0.readonly;
  fw->vars_ro = f1.readonly;
  vsb_qemu_flash_clear(&f0);
  vsb_qemu_flash_clear(&f1);
  fw->smm = g_strcmp0(vsb_qemu_opts_get(cmd->machine_opts, "smm"), "on") == 0;
  gboolean set = FALSE;
  fw->secure = vsb_qemu_cmdline_pflash_secure(cmd, &set, NULL) && set;
  /* The last ICH9-LPC.disable_s3 wins, in either -global form. */
  for (guint i = 0; i < cmd->globals->len; i++) {
    const VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (strcmp(g->driver, "ICH9-LPC") == 0 && strcmp(g->property, "disable_s3") == 0)
      fw->s3_off = g_ascii_strtoull(g->value, NULL, 0) != 0;
  }
}

static void
test_row(gconstpointer data)
{
  const Row *row = data;
  g_autofree char *vars = g_strdup_printf("%s/%s_VARS.fd", ctx.state, row->vm);
  g_autofree char *before = file_sha256(vars);

  /* vsboot's own command line. */
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "qemu-args", row->vm, "--state-dir", ctx.state, "--json",
                        NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) root = vsb_test_parse_json(out);
  JsonArray *a = json_node_get_array(root);
  g_autoptr(GPtrArray) ours_argv = g_ptr_array_new();
  for (guint i = 0; i < json_array_get_length(a); i++)
    g_ptr_array_add(ours_argv, (char *)json_array_get_string_element(a, i));
  g_ptr_array_add(ours_argv, NULL);
  Firmware ours = { 0 };
  read_firmware((char **)ours_argv->pdata, "vsboot qemu-args", &ours);

  /* libvirt's, from the emitted domain. */
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(&out, &err, "libvirt-xml", row->vm, "--state-dir", ctx.state, "--style",
                    row->style, "--domain", "--virt-type", "qemu", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *xml = g_strdup_printf("%s/%s-%s.xml", ctx.dir, row->vm, row->style);
  vsb_test_write_file(xml, out, -1);
  g_autofree char *vout = NULL, *verr = NULL;
  rc = vsb_test_libvirtd_virsh(ctx.libvirtd, &vout, &verr, "define", xml, NULL);
  if (rc != 0)
    vsb_test_fail("virsh define %s failed: %s\n%s", xml, verr, out);
  g_clear_pointer(&vout, g_free);
  g_clear_pointer(&verr, g_free);
  rc = vsb_test_libvirtd_virsh(ctx.libvirtd, &vout, &verr, "domxml-to-native", "qemu-argv",
                               "--domain", row->vm, NULL);
  if (rc != 0)
    vsb_test_fail("virsh domxml-to-native failed: %s", verr);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) words = vsb_qemu_split_cmdline(vout, strlen(vout), &error);
  g_assert_no_error(error);
  Firmware theirs = { 0 };
  read_firmware(words, "virsh domxml-to-native", &theirs);

  /* The same firmware, the same varstore, SMM and the secure flash. */
  g_assert_cmpstr(theirs.code, ==, row->code);
  g_assert_cmpstr(ours.code, ==, row->code);
  g_assert_cmpstr(theirs.vars, ==, vars);
  g_assert_cmpstr(ours.vars, ==, vars);
  g_assert_cmpstr(theirs.code_format, ==, ours.code_format);
  g_assert_cmpstr(theirs.vars_format, ==, ours.vars_format);
  g_assert_true(theirs.code_ro && ours.code_ro);
  g_assert_true(!theirs.vars_ro && !ours.vars_ro);
  g_assert_cmpint(ours.smm, ==, row->smm);
  g_assert_cmpint(theirs.smm, ==, row->smm);
  g_assert_cmpint(ours.secure, ==, row->smm);
  g_assert_cmpint(theirs.secure, ==, row->smm);
  g_assert_cmpint(ours.s3_off, ==, row->s3_off);
  g_assert_cmpint(theirs.s3_off, ==, row->s3_off);
  if (strcmp(row->style, "legacy") == 0)
    assert_contains(vout, "-global driver=cfi.pflash01,property=secure,value=on -machine smm=on");

  /* The persistent definition names our varstore (libvirt 9.0 resolves firmware='efi' to
   * a loader path at start, so only the explicit styles name the code there). */
  g_clear_pointer(&vout, g_free);
  rc = vsb_test_libvirtd_virsh(ctx.libvirtd, &vout, NULL, "dumpxml", row->vm, NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autofree char *nv = g_strdup_printf(">%s</nvram>", vars);
  assert_contains(vout, nv);
  g_autofree char *ld = g_strdup_printf(">%s</loader>", row->code);
  if (strcmp(row->style, "auto") != 0)
    assert_contains(vout, ld);
  else
    assert_contains(vout, "<os firmware='efi'>");

  /* Gone again, keeping the VM's varstore; libvirt did not touch it. */
  g_clear_pointer(&verr, g_free);
  rc = vsb_test_libvirtd_virsh(ctx.libvirtd, NULL, &verr, "undefine", row->vm, "--keep-nvram",
                               NULL);
  if (rc != 0)
    vsb_test_fail("virsh undefine: %s", verr);
  g_autofree char *after = file_sha256(vars);
  g_assert_cmpstr(after, ==, before);
  firmware_clear(&ours);
  firmware_clear(&theirs);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (getuid() != 0)
    vsb_test_fail("the libvirt test must run as root (system libvirtd, mount namespaces)");
  vsb_test_require_tool("virsh");
  vsb_test_require_tool("unshare");
  vsb_test_require_tool("nsenter");
  vsb_test_require_tool("qemu-system-x86_64");

  g_autoptr(GError) error = NULL;
  ctx.dir = g_dir_make_tmp("vsboot-vm-libvirt-XXXXXX", &error);
  g_assert_no_error(error);
  ctx.state = g_build_filename(ctx.dir, "state", NULL);
  g_autofree char *fw = g_build_filename(ctx.dir, "fw", NULL);
  g_autofree char *keys = g_build_filename(ctx.dir, "keys", NULL);
  g_assert_cmpint(g_mkdir(ctx.state, 0700), ==, 0);
  g_assert_cmpint(g_mkdir(fw, 0755), ==, 0);
  /* libvirt sees the same descriptors vsboot selects from. */
  vsb_test_copy_dir("/usr/share/qemu/firmware", fw);

  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "keys", "generate", keys, NULL), ==, 0);
  g_clear_pointer(&err, g_free);
  int rc = vsb_test_run(NULL, &err, "provision", "own-keys", "--state-dir", ctx.state, "--keys",
                        keys, NULL);
  if (rc != 0)
    vsb_test_fail("provision own-keys: %s", err);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "ms-keys", "--state-dir", ctx.state,
                    "--enrolled-keys", NULL);
  if (rc != 0)
    vsb_test_fail("provision ms-keys: %s", err);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "arm-ms-keys", "--state-dir", ctx.state, "--arch",
                    "aarch64", "--enrolled-keys", NULL);
  if (rc != 0)
    vsb_test_fail("provision arm-ms-keys: %s", err);

  /* Debian's 2M SMM build, described in a directory of its own for vsboot's selection. */
  g_autofree char *fw2m = g_build_filename(ctx.dir, "fw-2m", NULL);
  g_assert_cmpint(g_mkdir(fw2m, 0755), ==, 0);
  g_autofree char *d2m = g_build_filename(fw2m, "50-edk2-x86_64-2m-secure.json", NULL);
  vsb_test_write_file(
    d2m,
    "{ \"interface-types\": [\"uefi\"], \"mapping\": { \"device\": \"flash\", "
    "\"executable\": { \"filename\": \"/usr/share/OVMF/OVMF_CODE.secboot.fd\", \"format\": "
    "\"raw\" }, \"nvram-template\": { \"filename\": \"/usr/share/OVMF/OVMF_VARS.fd\", "
    "\"format\": \"raw\" } }, \"targets\": [ { \"architecture\": \"x86_64\", \"machines\": "
    "[\"pc-q35-*\"] } ], \"features\": [\"acpi-s3\", \"requires-smm\", \"secure-boot\"], "
    "\"tags\": [] }\n",
    -1);
  g_clear_pointer(&err, g_free);
  rc = vsb_test_run(NULL, &err, "provision", "m2", "--state-dir", ctx.state, "--firmware-dir",
                    fw2m, "--keys", keys, NULL);
  if (rc != 0)
    vsb_test_fail("provision m2: %s", err);

  ctx.libvirtd = vsb_test_libvirtd_start(fw);
  for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
    g_autofree char *path = g_strdup_printf("/vm/libvirt/%s/%s", rows[i].vm, rows[i].style);
    g_test_add_data_func(path, &rows[i], test_row);
  }
  int r = g_test_run();
  vsb_test_libvirtd_free(ctx.libvirtd);
  const char *rm[] = { "rm", "-rf", "--", ctx.dir, NULL };
  if (g_getenv("VSB_TEST_KEEP") == NULL)
    vsb_test_spawn(rm, NULL, NULL, NULL);
  g_free(ctx.state);
  g_free(ctx.dir);
  return r;
}
