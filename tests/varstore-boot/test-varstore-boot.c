/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The proof in a real boot: QEMU + OVMF (Secure Boot build, SMM, secure pflash) under TCG.
 * Keys from `vsboot keys generate`, enrolled by `vsboot vars enroll --secure-boot on` into a
 * fresh copy of Debian's empty OVMF_VARS_4M.fd: the gnu-efi payload signed with the db key runs
 * and reads SecureBoot=1 from the firmware; the same payload unsigned is denied. Then the
 * setup-mode trap: on the empty template the unsigned payload runs, and `vars show` says so. */
#include "testutil.h"

#include "vsboot/launch.h"

#include <gio/gio.h>
#include <string.h>

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define BOOT_TIMEOUT_MS 120000

static char *
payload_path(void)
{
  const char *root = g_getenv("VSB_BUILD_ROOT");
  g_assert_nonnull(root);
  char *p = g_build_filename(root, "tests", "payload", "sbtest.efi", NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("the boot-test payload %s was not built (gnu-efi missing?)", p);
  return p;
}

/* Boot vars (a private copy, the firmware writes to it) with the ESP; the verdict. */
static VsbLaunchResult *
boot(const char *dir, const char *vars_template, const char *esp)
{
  static int n;
  g_autofree char *name = g_strdup_printf("boot%d-vars.fd", n++);
  g_autofree char *vars = vsb_test_copy_file(vars_template, dir, name, 0600);
  gsize n_patterns = 0;
  const VsbBootPattern *patterns = vsb_launch_default_patterns(&n_patterns);
  VsbLaunchResult *res =
    vsb_test_boot_ovmf(OVMF_CODE, vars, esp, patterns, n_patterns, BOOT_TIMEOUT_MS);
  if (res->verdict == VSB_BOOT_VERDICT_NONE || res->verdict == VSB_BOOT_VERDICT_TIMEOUT)
    g_test_message("console:\n%s", res->log);
  return res;
}

/* `vsboot vars show FILE --json`: secure-boot.mode and .enforcing. */
static void
show_mode(const char *vars, const char *want_mode, gboolean want_enforcing)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "show", vars, "--json", NULL);
  g_assert_cmpint(rc, ==, 0);
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *sb = json_object_get_object_member(json_node_get_object(node), "secure-boot");
  g_assert_nonnull(sb);
  g_assert_cmpstr(json_object_get_string_member(sb, "mode"), ==, want_mode);
  g_assert_cmpint(json_object_get_boolean_member(sb, "enforcing"), ==, want_enforcing);
}

static void
test_enforced(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("sbsign");
  vsb_test_require_tool("mkfs.vfat");
  vsb_test_require_tool("mcopy");
  g_autofree char *payload = payload_path();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint(vsb_test_run(&out, &err, "keys", "generate", keys, "--cn", "vsboot boot test",
                               NULL), ==, 0);
  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *kek = g_build_filename(keys, "KEK.crt", NULL);
  g_autofree char *db = g_build_filename(keys, "db.crt", NULL);
  g_autofree char *db_key = g_build_filename(keys, "db.key", NULL);

  g_autofree char *vars = vsb_test_copy_file(OVMF_VARS, dir, "vars.fd", 0600);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  int rc = vsb_test_run(&out, &err, "vars", "enroll", "--in-place", vars, "--pk", pk, "--kek",
                        kek, "--db", db, "--secure-boot", "on", NULL);
  g_test_message("enroll: %s%s", out, err);
  g_assert_cmpint(rc, ==, 0);
  show_mode(vars, "user", TRUE);

  g_autofree char *signed_app = g_build_filename(dir, "sbtest-signed.efi", NULL);
  const char *sign[] = { "sbsign", "--key", db_key, "--cert", db, "--output", signed_app,
                         payload, NULL };
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_spawn(sign, NULL, NULL, &err), ==, 0);
  g_autofree char *esp_signed = vsb_test_make_esp(dir, "esp-signed.img", signed_app);
  g_autofree char *esp_unsigned = vsb_test_make_esp(dir, "esp-unsigned.img", payload);

  /* Signed with the enrolled db key: runs, and the firmware says Secure Boot is on. */
  g_autoptr(VsbLaunchResult) ran = boot(dir, vars, esp_signed);
  g_assert_cmpint(ran->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_nonnull(strstr(ran->line, "VSBOOT-PAYLOAD SecureBoot=1 SetupMode=0"));

  /* The same image unsigned: denied, and QEMU is stopped at the verdict. */
  g_autoptr(VsbLaunchResult) denied = boot(dir, vars, esp_unsigned);
  g_assert_cmpint(denied->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_assert_true(denied->killed);
  g_assert_null(strstr(denied->log, VSB_PAYLOAD_MARKER));
  g_assert_cmpfloat(denied->seconds, <, BOOT_TIMEOUT_MS / 1000.0);
}

static void
test_setup_mode_trap(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("mkfs.vfat");
  g_autofree char *payload = payload_path();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *vars = vsb_test_copy_file(OVMF_VARS, dir, "vars.fd", 0600);
  show_mode(vars, "setup", FALSE);
  g_autofree char *esp_unsigned = vsb_test_make_esp(dir, "esp-unsigned.img", payload);
  g_autoptr(VsbLaunchResult) ran = boot(dir, vars, esp_unsigned);
  /* No PK: the Secure Boot firmware runs anything. */
  g_assert_cmpint(ran->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_nonnull(strstr(ran->line, "VSBOOT-PAYLOAD SecureBoot=0 SetupMode=1"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/varstore-boot/enforced", test_enforced);
  g_test_add_func("/varstore-boot/setup-mode-trap", test_setup_mode_trap);
  return g_test_run();
}
