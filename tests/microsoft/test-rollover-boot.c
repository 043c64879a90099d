/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rollover, proven by booting OVMF (Secure Boot build, SMM, secure pflash) under TCG:
 *  - the owner's PK, Microsoft's KEK 2K CA 2023 and only Microsoft UEFI CA 2023 in db (all by
 *    `vars enroll --microsoft`): Debian's shim, signed by both the 2011 and the 2023 UEFI CA,
 *    boots and starts Debian's GRUB;
 *  - the same store with only Windows UEFI CA 2023 in db: shim is denied;
 *  - a payload signed with the owner's db key runs; a dbx update that revokes its hash, signed
 *    with the owner's KEK key (efitools' sign-efi-sig-list, as an owner would make it) and
 *    applied by `vars enroll --dbx-update` after verification against KEK: denied. */
#include "testutil.h"

#include "vsboot/launch.h"

#include <string.h>

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define SHIM "/usr/lib/shim/shimx64.efi.signed"
#define GRUB "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
#define BOOT_TIMEOUT_MS 180000

static void
run_ok(const char *const *argv)
{
  g_autofree char *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, NULL, &err);
  if (rc != 0)
    vsb_test_fail("%s: exit %d: %s", argv[0], rc, err);
}

/* An ESP holding shim as the removable-media loader and GRUB beside it, where shim looks. */
static char *
shim_esp(const char *dir)
{
  char *img = g_build_filename(dir, "esp-shim.img", NULL);
  const char *mkfs[] = { "mkfs.vfat", "-C", "-n", "ESP", img, "16384", NULL };
  run_ok(mkfs);
  const char *mmd[] = { "env", "MTOOLS_SKIP_CHECK=1", "mmd", "-i", img, "::/EFI", "::/EFI/BOOT",
                        NULL };
  run_ok(mmd);
  const char *cp_shim[] = { "env", "MTOOLS_SKIP_CHECK=1", "mcopy", "-i", img, SHIM,
                            "::/EFI/BOOT/BOOTX64.EFI", NULL };
  run_ok(cp_shim);
  const char *cp_grub[] = { "env", "MTOOLS_SKIP_CHECK=1", "mcopy", "-i", img, GRUB,
                            "::/EFI/BOOT/grubx64.efi", NULL };
  run_ok(cp_grub);
  return img;
}

static VsbLaunchResult *
boot(const char *vars, const char *esp, const VsbBootPattern *pats, gsize n)
{
  return vsb_test_boot_ovmf(OVMF_CODE, vars, esp, pats, n, BOOT_TIMEOUT_MS);
}

/* PK of our own, Microsoft's KEK 2023, and the given Microsoft db CA only. */
static char *
store_with(const char *dir, const char *name, const char *pk, const char *db_ca)
{
  char *vars = vsb_test_copy_file(OVMF_VARS, dir, name, 0600);
  g_autofree char *err = NULL;
  int rc = vsb_test_run(NULL, &err, "vars", "enroll", "--in-place", vars, "--pk", pk,
                        "--microsoft", "kek-2023", "--microsoft", db_ca, "--secure-boot", "on",
                        NULL);
  if (rc != 0)
    vsb_test_fail("enroll %s: exit %d: %s", db_ca, rc, err);
  return vars;
}

static void
test_shim_uefi_ca_2023(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, "--cn", "rollover", NULL),
                  ==, 0);
  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *esp = shim_esp(dir);
  g_autofree char *uefi = store_with(dir, "uefi.fd", pk, "uefi-2023");
  const VsbBootPattern grub[] = {
    { "Welcome to GRUB", VSB_BOOT_VERDICT_RAN },
    { "GNU GRUB", VSB_BOOT_VERDICT_RAN },
    { "Verification failed", VSB_BOOT_VERDICT_DENIED },
    { "Access Denied", VSB_BOOT_VERDICT_DENIED },
    { "Security Violation", VSB_BOOT_VERDICT_DENIED },
  };
  g_autoptr(VsbLaunchResult) ran = boot(uefi, esp, grub, G_N_ELEMENTS(grub));
  if (ran->verdict != VSB_BOOT_VERDICT_RAN)
    vsb_test_fail("shim under UEFI CA 2023 did not start GRUB: %s\n%s",
                  vsb_boot_verdict_name(ran->verdict), ran->log);
  /* Only the Windows CA: the firmware refuses shim itself. */
  g_autofree char *win = store_with(dir, "windows.fd", pk, "windows-2023");
  g_autoptr(VsbLaunchResult) denied = boot(win, esp, NULL, 0);
  if (denied->verdict != VSB_BOOT_VERDICT_DENIED)
    vsb_test_fail("shim under Windows UEFI CA 2023 only: %s\n%s",
                  vsb_boot_verdict_name(denied->verdict), denied->log);
}

static char *
payload_path(void)
{
  char *p = g_build_filename(g_getenv("VSB_BUILD_ROOT"), "tests", "payload", "sbtest.efi", NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("the boot-test payload %s was not built", p);
  return p;
}

static void
test_dbx_update_revokes(void)
{
  vsb_test_require_tool("sign-efi-sig-list");
  vsb_test_require_tool("hash-to-efi-sig-list");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "keys", "generate", keys, "--cn", "rollover", NULL),
                  ==, 0);
  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *kek = g_build_filename(keys, "KEK.crt", NULL);
  g_autofree char *kek_key = g_build_filename(keys, "KEK.key", NULL);
  g_autofree char *db = g_build_filename(keys, "db.crt", NULL);
  g_autofree char *db_key = g_build_filename(keys, "db.key", NULL);
  g_autofree char *vars = vsb_test_copy_file(OVMF_VARS, dir, "vars.fd", 0600);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "vars", "enroll", "--in-place", vars, "--pk", pk,
                               "--kek", kek, "--db", db, "--secure-boot", "on", NULL), ==, 0);
  g_autofree char *payload = payload_path();
  g_autofree char *signed_app = g_build_filename(dir, "sbtest-signed.efi", NULL);
  const char *sign[] = { "sbsign", "--key", db_key, "--cert", db, "--output", signed_app,
                         payload, NULL };
  run_ok(sign);
  g_autofree char *esp = vsb_test_make_esp(dir, "esp.img", signed_app);
  g_autofree char *copy1 = vsb_test_copy_file(vars, dir, "boot1.fd", 0600);
  g_autoptr(VsbLaunchResult) ran = boot(copy1, esp, NULL, 0);
  g_assert_cmpint(ran->verdict, ==, VSB_BOOT_VERDICT_RAN);

  /* The owner revokes the payload: its Authenticode hash in a dbx update signed by KEK. */
  g_autofree char *esl = g_build_filename(dir, "hash.esl", NULL);
  g_autofree char *auth = g_build_filename(dir, "dbx.auth", NULL);
  const char *h2e[] = { "hash-to-efi-sig-list", signed_app, esl, NULL };
  run_ok(h2e);
  const char *s2a[] = { "sign-efi-sig-list", "-a", "-t", "2026-12-01 00:00:00", "-k", kek_key,
                        "-c", kek, "dbx", esl, auth, NULL };
  run_ok(s2a);
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "enroll", "--in-place", vars, "--dbx-update", auth,
                        NULL);
  if (rc != 0)
    vsb_test_fail("the owner's dbx update: exit %d: %s", rc, err);
  g_assert_nonnull(strstr(out, "trusted through KEK"));
  g_autofree char *copy2 = vsb_test_copy_file(vars, dir, "boot2.fd", 0600);
  g_autoptr(VsbLaunchResult) denied = boot(copy2, esp, NULL, 0);
  if (denied->verdict != VSB_BOOT_VERDICT_DENIED)
    vsb_test_fail("the revoked payload: %s\n%s", vsb_boot_verdict_name(denied->verdict),
                  denied->log);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_autofree char *data = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "data", NULL);
  g_setenv("VSB_DATA_DIR", data, TRUE);
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("mkfs.vfat");
  vsb_test_require_tool("mcopy");
  vsb_test_require_tool("sbsign");
  g_test_add_func("/rollover-boot/shim-uefi-ca-2023", test_shim_uefi_ca_2023);
  g_test_add_func("/rollover-boot/dbx-update-revokes", test_dbx_update_revokes);
  return g_test_run();
}
