/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsb_launch_watch_image on real boots: the verdict on one image comes from the firmware's words
 * about that image's boot option, never from a later option. OVMF (Secure Boot build, SMM,
 * secure pflash) under TCG, with Debian's real shim and GRUB:
 *  - Debian's shim (signed by Microsoft's UEFI CA 2011) under Debian's Microsoft-keys store
 *    runs: it finds no GRUB and returns Not Found, and the BDS then refuses its own shell with
 *    "Security Violation", which is not about shim;
 *  - the same shim under a store with only the owner's keys (Debian's snakeoil) is refused;
 *  - GRUB signed with that store's db key runs and waits at "grub>" (no newline): the verdict
 *    comes within seconds of the firmware starting it, not at the time limit. */
#include "testutil.h"

#include "vsboot/launch.h"

#include <string.h>

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define VARS_MS "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
#define VARS_SNAKEOIL "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
#define SHIM "/usr/lib/shim/shimx64.efi.signed"
#define GRUB "/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"
#define SNAKEOIL_KEY "/usr/share/ovmf/PkKek-1-snakeoil.key"
#define SNAKEOIL_CERT "/usr/share/ovmf/PkKek-1-snakeoil.pem"
#define BOOT_TIMEOUT_MS 120000

static VsbLaunchResult *
boot_image(const char *dir, const char *vars_template, const char *app)
{
  static int n;
  g_autofree char *vars_name = g_strdup_printf("vars%d.fd", n);
  g_autofree char *esp_name = g_strdup_printf("esp%d.img", n++);
  g_autofree char *vars = vsb_test_copy_file(vars_template, dir, vars_name, 0600);
  g_autofree char *esp = vsb_test_make_esp(dir, esp_name, app);
  return vsb_test_boot_ovmf(OVMF_CODE, vars, esp, NULL, 0, BOOT_TIMEOUT_MS);
}

static void
require_boot_tools(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("mkfs.vfat");
  vsb_test_require_tool("mcopy");
}

static void
test_shim_microsoft_keys(void)
{
  require_boot_tools();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(VsbLaunchResult) res = boot_image(dir, VARS_MS, SHIM);
  if (res->verdict != VSB_BOOT_VERDICT_RAN)
    vsb_test_fail("shim under Microsoft's keys: %s\n%s", vsb_boot_verdict_name(res->verdict),
                  res->log);
  /* Decided either by shim's return ("failed to start Boot0001 ...: Not Found") or by the
   * settle time after "starting Boot0001", whichever a loaded TCG host reaches first. */
  g_assert_nonnull(strstr(res->line, "Boot0001"));
  g_assert_null(strstr(res->line, "Security Violation"));
}

static void
test_shim_own_keys(void)
{
  require_boot_tools();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autoptr(VsbLaunchResult) res = boot_image(dir, VARS_SNAKEOIL, SHIM);
  if (res->verdict != VSB_BOOT_VERDICT_DENIED)
    vsb_test_fail("shim under the owner's keys: %s\n%s", vsb_boot_verdict_name(res->verdict),
                  res->log);
  g_assert_nonnull(strstr(res->line, "Boot0001"));
  g_assert_null(strstr(res->log, "grubx64.efi"));
}

static void
test_grub_db_key(void)
{
  require_boot_tools();
  vsb_test_require_tool("sbsign");
  vsb_test_require_tool("openssl");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *key = g_build_filename(dir, "db.key", NULL);
  g_autofree char *grub = g_build_filename(dir, "grubx64-signed.efi", NULL);
  const char *unlock[] = { "openssl", "pkey", "-in", SNAKEOIL_KEY, "-passin", "pass:snakeoil",
                           "-out", key, NULL };
  g_assert_cmpint(vsb_test_spawn(unlock, NULL, NULL, NULL), ==, 0);
  const char *sign[] = { "sbsign", "--key", key, "--cert", SNAKEOIL_CERT, "--output", grub,
                         GRUB, NULL };
  g_assert_cmpint(vsb_test_spawn(sign, NULL, NULL, NULL), ==, 0);
  g_autoptr(VsbLaunchResult) res = boot_image(dir, VARS_SNAKEOIL, grub);
  if (res->verdict != VSB_BOOT_VERDICT_RAN)
    vsb_test_fail("GRUB signed with the db key: %s\n%s", vsb_boot_verdict_name(res->verdict),
                  res->log);
  g_assert_nonnull(strstr(res->line, "starting Boot0001"));
  g_assert_nonnull(strstr(res->log, "GNU GRUB"));
  /* Decided by the settle time after "starting", not by the time limit. */
  g_assert_cmpfloat(res->seconds, <, BOOT_TIMEOUT_MS / 1000.0 / 2);
  /* The unsigned GRUB is refused by the same store. */
  g_autoptr(VsbLaunchResult) unsigned_res = boot_image(dir, VARS_SNAKEOIL, GRUB);
  g_assert_cmpint(unsigned_res->verdict, ==, VSB_BOOT_VERDICT_DENIED);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/image-boot/shim-microsoft-keys", test_shim_microsoft_keys);
  g_test_add_func("/image-boot/shim-own-keys", test_shim_own_keys);
  g_test_add_func("/image-boot/grub-db-key", test_grub_db_key);
  return g_test_run();
}
