/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's verdicts, confirmed by real boots under QEMU/TCG with Debian's OVMF. Every case
 * first audits the exact QEMU command line it then boots:
 *   - enforced (SMM build, smm=on, secure flash, enrolled .ms.fd varstore): the unsigned
 *     payload is denied;
 *   - setup-mode varstore: the unsigned payload runs (SecureBoot=0 SetupMode=1);
 *   - -bios: QEMU refuses the 4 MiB split code outright; the 2 MiB non-SMM code starts with
 *     variables in RAM, in setup mode, and runs the unsigned payload;
 *   - -kernel: with Secure Boot enforcing (the kernel's EFI stub says so), a kernel whose
 *     signer is not in db boots through fw_cfg (OVMF's legacy Linux loader takes over when
 *     verification fails), while the same kernel from the disk is denied; a plain unsigned PE
 *     given as -kernel does not run (the legacy loader needs a bzImage);
 *   - no secure flash: a signed EFI application (standing for any code running after the
 *     firmware) deletes PK by programming the varstore flash directly; Secure Boot is gone at
 *     the next boot, where the unsigned payload runs. With the secure flash the same write is
 *     refused by QEMU and PK survives. */
#include "testutil.h"

#include "vsboot/launch.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define OVMF "/usr/share/OVMF/"
#define CODE_4M_SB OVMF "OVMF_CODE_4M.secboot.fd"
#define BOOT_TIMEOUT_MS 180000
#define SECURE_GLOBAL "driver=cfi.pflash01,property=secure,value=on"

static char *
build_file(const char *sub, const char *name)
{
  const char *root = g_getenv("VSB_BUILD_ROOT");
  g_assert_nonnull(root);
  char *p = g_build_filename(root, "tests", sub, name, NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("%s was not built (gnu-efi missing?)", p);
  return p;
}

/* QEMU arguments for a q35 TCG VM; NULL entries in extra are skipped. */
static GPtrArray *
vm_argv(const char *const *firmware, const char *esp)
{
  GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
  const char *head[] = { "qemu-system-x86_64", "-accel", "tcg", "-m", "512", NULL };
  for (const char *const *p = head; *p; p++)
    g_ptr_array_add(a, g_strdup(*p));
  for (const char *const *p = firmware; *p; p++)
    g_ptr_array_add(a, g_strdup(*p));
  if (esp) {
    g_ptr_array_add(a, g_strdup("-drive"));
    g_ptr_array_add(a, g_strdup_printf("if=none,id=esp,format=raw,file=%s", esp));
    g_ptr_array_add(a, g_strdup("-device"));
    g_ptr_array_add(a, g_strdup("virtio-blk-pci,drive=esp,bootindex=0"));
  }
  const char *tail[] = { "-display", "none", "-vga", "none", "-monitor", "none", "-serial",
                         "stdio", "-net", "none", "-no-reboot", NULL };
  for (const char *const *p = tail; *p; p++)
    g_ptr_array_add(a, g_strdup(*p));
  g_ptr_array_add(a, NULL);
  return a;
}

/* `vsboot audit --qemu-cmdline` on exactly these arguments: the verdict, and each expected id
 * present. */
static void
audit_expect(GPtrArray *argv, gboolean enforced, const char *const *ids)
{
  g_autoptr(GString) line = g_string_new(NULL);
  for (guint i = 0; i + 1 < argv->len; i++) {
    g_autofree char *q = g_shell_quote(argv->pdata[i]);
    g_string_append_printf(line, "%s%s", i ? " " : "", q);
  }
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "audit", "--qemu-cmdline", line->str, "--json",
                        "--firmware-dir", "/usr/share/qemu/firmware", NULL);
  g_test_message("audit of %s: exit %d\n%s%s", line->str, rc, out, err);
  g_assert_cmpint(rc, ==, enforced ? 0 : 1);
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *root = json_node_get_object(node);
  g_assert_cmpstr(json_object_get_string_member(root, "verdict"), ==,
                  enforced ? "enforced" : "not-enforced");
  JsonArray *findings = json_object_get_array_member(root, "findings");
  for (const char *const *id = ids; id && *id; id++) {
    gboolean found = FALSE;
    for (guint i = 0; i < json_array_get_length(findings); i++)
      found |= strcmp(json_object_get_string_member(json_array_get_object_element(findings, i),
                                                    "id"), *id) == 0;
    if (!found)
      vsb_test_fail("the audit did not report %s", *id);
  }
}

static VsbLaunchResult *
boot(GPtrArray *argv, const VsbBootPattern *extra, gsize n_extra)
{
  gsize n_def = 0;
  const VsbBootPattern *def = vsb_launch_default_patterns(&n_def);
  g_autoptr(GArray) pats = g_array_new(FALSE, FALSE, sizeof(VsbBootPattern));
  g_array_append_vals(pats, extra, (guint)n_extra);
  g_array_append_vals(pats, def, (guint)n_def);
  g_autoptr(GError) error = NULL;
  VsbLaunchResult *res = vsb_launch_watch((const char *const *)argv->pdata,
                                          (const VsbBootPattern *)(void *)pats->data, pats->len,
                                          BOOT_TIMEOUT_MS, &error);
  g_assert_no_error(error);
  g_test_message("verdict %s after %.1f s: %s", vsb_boot_verdict_name(res->verdict),
                 res->seconds, res->line ? res->line : "(no line)");
  if (res->verdict == VSB_BOOT_VERDICT_NONE || res->verdict == VSB_BOOT_VERDICT_TIMEOUT)
    g_test_message("console:\n%s", res->log);
  return res;
}

static const char *
secure_boot_mode(const char *vars)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "vars", "show", vars, "--json", NULL), ==, 0);
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *sb = json_object_get_object_member(json_node_get_object(node), "secure-boot");
  const char *mode = json_object_get_string_member(sb, "mode");
  return g_intern_string(mode);
}

static void
require_tools(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("mkfs.vfat");
  vsb_test_require_tool("mcopy");
}

static void
test_enforced_denies(void)
{
  require_tools();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *payload = build_file("payload", "sbtest.efi");
  g_autofree char *vars = vsb_test_copy_file(OVMF "OVMF_VARS_4M.ms.fd", dir, "vm_VARS.fd", 0600);
  g_autofree char *esp = vsb_test_make_esp(dir, "esp.img", payload);
  g_autofree char *code = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", CODE_4M_SB);
  g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *fw[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                       "-drive", nv, NULL };
  g_autoptr(GPtrArray) argv = vm_argv(fw, esp);
  audit_expect(argv, TRUE, (const char *const[]){ "dbx-placeholder", NULL });
  g_autoptr(VsbLaunchResult) res = boot(argv, NULL, 0);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_assert_null(strstr(res->log, VSB_PAYLOAD_MARKER));
}

static void
test_setup_mode_runs(void)
{
  require_tools();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *payload = build_file("payload", "sbtest.efi");
  g_autofree char *vars = vsb_test_copy_file(OVMF "OVMF_VARS_4M.fd", dir, "vm_VARS.fd", 0600);
  g_autofree char *esp = vsb_test_make_esp(dir, "esp.img", payload);
  g_autofree char *code = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", CODE_4M_SB);
  g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *fw[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                       "-drive", nv, NULL };
  g_autoptr(GPtrArray) argv = vm_argv(fw, esp);
  audit_expect(argv, FALSE, (const char *const[]){ "varstore-setup-mode", NULL });
  g_autoptr(VsbLaunchResult) res = boot(argv, NULL, 0);
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_nonnull(strstr(res->line, "VSBOOT-PAYLOAD SecureBoot=0 SetupMode=1"));
}

static void
test_bios(void)
{
  require_tools();
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *payload = build_file("payload", "sbtest.efi");
  g_autofree char *esp = vsb_test_make_esp(dir, "esp.img", payload);

  /* The 4 MiB split code as -bios: the audit says so, and QEMU does not even start. */
  const char *fw4[] = { "-machine", "q35,smm=on", "-bios", CODE_4M_SB, NULL };
  g_autoptr(GPtrArray) argv4 = vm_argv(fw4, esp);
  audit_expect(argv4, FALSE, (const char *const[]){ "firmware-via-bios", NULL });
  g_autoptr(VsbLaunchResult) r4 = boot(argv4, NULL, 0);
  g_assert_cmpint(r4->verdict, ==, VSB_BOOT_VERDICT_NONE);
  g_assert_cmpint(r4->exit_status, !=, 0);
  g_assert_nonnull(strstr(r4->log, "could not load PC BIOS"));

  /* The 2 MiB code (no descriptor in Debian, Secure Boot without SMM) as -bios: no varstore,
   * variables in RAM, setup mode: the unsigned payload runs. */
  const char *fw2[] = { "-machine", "q35", "-bios", OVMF "OVMF_CODE.fd", NULL };
  g_autoptr(GPtrArray) argv2 = vm_argv(fw2, esp);
  audit_expect(argv2, FALSE,
               (const char *const[]){ "firmware-via-bios", "secure-boot-without-smm",
                                      "firmware-unknown-provenance", NULL });
  g_autoptr(VsbLaunchResult) r2 = boot(argv2, NULL, 0);
  g_assert_cmpint(r2->verdict, ==, VSB_BOOT_VERDICT_RAN);
  g_assert_nonnull(strstr(r2->line, "VSBOOT-PAYLOAD SecureBoot=0 SetupMode=1"));
}

static void
test_direct_kernel(void)
{
  require_tools();
  const char *kernel = "/boot/vmlinuz-6.1.0-56-amd64";
  g_autofree char *found = NULL;
  if (!g_file_test(kernel, G_FILE_TEST_IS_REGULAR)) {
    /* Whatever Debian kernel is installed (dev.sh installs linux-image-amd64). */
    found = g_file_read_link("/vmlinuz", NULL);
    g_assert_nonnull(found);
    if (!g_path_is_absolute(found)) {
      char *abs = g_build_filename("/", found, NULL);
      g_free(found);
      found = abs;
    }
    kernel = found;
  }
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *vars = vsb_test_copy_file(OVMF "OVMF_VARS_4M.ms.fd", dir, "vm_VARS.fd", 0600);
  g_autofree char *code = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", CODE_4M_SB);
  g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const VsbBootPattern linux_ran[] = { { "Linux version", VSB_BOOT_VERDICT_RAN } };

  /* Debian's kernel is signed by Debian, whose CA is not in this db (Microsoft's only): from
   * the disk, the firmware refuses it. */
  g_autofree char *esp = vsb_test_make_esp(dir, "esp.img", kernel);
  const char *fw[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                       "-drive", nv, NULL };
  g_autoptr(GPtrArray) disk = vm_argv(fw, esp);
  audit_expect(disk, TRUE, NULL);
  g_autoptr(VsbLaunchResult) denied = boot(disk, linux_ran, G_N_ELEMENTS(linux_ran));
  g_assert_cmpint(denied->verdict, ==, VSB_BOOT_VERDICT_DENIED);

  /* The same kernel with -kernel, Secure Boot still enforcing: it boots. */
  const char *fwk[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                        "-drive", nv, "-kernel", kernel, "-append", "console=ttyS0 panic=-1",
                        NULL };
  g_autoptr(GPtrArray) direct = vm_argv(fwk, NULL);
  audit_expect(direct, FALSE, (const char *const[]){ "direct-kernel-boot", NULL });
  g_autoptr(VsbLaunchResult) ran = boot(direct, linux_ran, G_N_ELEMENTS(linux_ran));
  g_assert_cmpint(ran->verdict, ==, VSB_BOOT_VERDICT_RAN);
  /* The kernel's own EFI stub confirms the firmware was enforcing. */
  g_assert_nonnull(strstr(ran->log, "UEFI Secure Boot is enabled"));

  /* What the bypass needs: a Linux bzImage. The unsigned gnu-efi payload (a plain PE) given
   * as -kernel fails verification and the legacy loader cannot load it either: BDS finds
   * nothing to boot, and the payload never runs. */
  g_autofree char *payload = build_file("payload", "sbtest.efi");
  const char *fwp[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                        "-drive", nv, "-kernel", payload, NULL };
  g_autoptr(GPtrArray) pe = vm_argv(fwp, NULL);
  audit_expect(pe, FALSE, (const char *const[]){ "direct-kernel-boot", NULL });
  const VsbBootPattern nothing[] = {
    { "No bootable option or device was found", VSB_BOOT_VERDICT_DENIED },
  };
  g_autoptr(VsbLaunchResult) none = boot(pe, nothing, G_N_ELEMENTS(nothing));
  g_assert_cmpint(none->verdict, ==, VSB_BOOT_VERDICT_DENIED);
  g_assert_null(strstr(none->log, VSB_PAYLOAD_MARKER));
}

/* One boot of the signed flash writer; returns the marker line. */
static char *
flashwrite_boot(const char *dir, const char *vars, const char *esp, gboolean secure,
                gboolean expect_enforced)
{
  g_autofree char *code = g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", CODE_4M_SB);
  g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  const char *fw_secure[] = { "-machine", "q35,smm=on", "-global", SECURE_GLOBAL, "-drive", code,
                              "-drive", nv, NULL };
  const char *fw_plain[] = { "-machine", "q35,smm=on", "-drive", code, "-drive", nv, NULL };
  g_autoptr(GPtrArray) argv = vm_argv(secure ? fw_secure : fw_plain, esp);
  audit_expect(argv, expect_enforced,
               secure ? NULL : (const char *const[]){ "varstore-not-secure", NULL });
  const VsbBootPattern marker[] = { { "VSBOOT-FLASHWRITE", VSB_BOOT_VERDICT_RAN } };
  g_autoptr(VsbLaunchResult) res = boot(argv, marker, G_N_ELEMENTS(marker));
  g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
  return g_ascii_strdown(res->line, -1); /* gnu-efi prints hex in upper case */
}

static void
test_flash_not_secure(void)
{
  require_tools();
  vsb_test_require_tool("sbsign");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *payload = build_file("payload", "sbtest.efi");
  g_autofree char *writer = build_file("audit", "flashwrite.efi");
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "keys", "generate", keys, "--cn", "vsboot audit test",
                               NULL), ==, 0);
  g_autofree char *pk = g_build_filename(keys, "PK.crt", NULL);
  g_autofree char *kek = g_build_filename(keys, "KEK.crt", NULL);
  g_autofree char *db = g_build_filename(keys, "db.crt", NULL);
  g_autofree char *db_key = g_build_filename(keys, "db.key", NULL);
  g_autofree char *signed_writer = g_build_filename(dir, "flashwrite-signed.efi", NULL);
  const char *sign[] = { "sbsign", "--key", db_key, "--cert", db, "--output", signed_writer,
                         writer, NULL };
  g_assert_cmpint(vsb_test_spawn(sign, NULL, NULL, NULL), ==, 0);
  g_autofree char *esp_writer = vsb_test_make_esp(dir, "esp-writer.img", signed_writer);
  g_autofree char *esp_unsigned = vsb_test_make_esp(dir, "esp-unsigned.img", payload);

  for (int secure = 1; secure >= 0; secure--) {
    g_autofree char *name = g_strdup_printf("%s_VARS.fd", secure ? "secure" : "plain");
    g_autofree char *vars = vsb_test_copy_file(OVMF "OVMF_VARS_4M.fd", dir, name, 0600);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(vsb_test_run(&out, &err, "vars", "enroll", "--in-place", vars, "--pk", pk,
                                 "--kek", kek, "--db", db, "--secure-boot", "on", NULL), ==, 0);
    g_assert_cmpstr(secure_boot_mode(vars), ==, "user");

    g_autofree char *line = flashwrite_boot(dir, vars, esp_writer, secure, secure);
    g_test_message("%s flash: %s", secure ? "secure" : "plain", line);
    if (secure) {
      /* QEMU refused the write from outside SMM: PK is intact, Secure Boot stays on. */
      g_assert_nonnull(strstr(line, "state-before=3f state-after=3f"));
      g_assert_cmpstr(secure_boot_mode(vars), ==, "user");
    } else {
      /* The guest deleted PK by writing the flash: the store is in setup mode now ... */
      g_assert_nonnull(strstr(line, "state-before=3f state-after=3c"));
      g_assert_cmpstr(secure_boot_mode(vars), ==, "setup");
      /* ... and at the next boot the unsigned payload runs. */
      g_autofree char *code =
        g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", CODE_4M_SB);
      g_autofree char *nv = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
      const char *fw[] = { "-machine", "q35,smm=on", "-drive", code, "-drive", nv, NULL };
      g_autoptr(GPtrArray) argv = vm_argv(fw, esp_unsigned);
      audit_expect(argv, FALSE,
                   (const char *const[]){ "varstore-not-secure", "varstore-setup-mode", NULL });
      g_autoptr(VsbLaunchResult) res = boot(argv, NULL, 0);
      g_assert_cmpint(res->verdict, ==, VSB_BOOT_VERDICT_RAN);
      g_assert_nonnull(strstr(res->line, "VSBOOT-PAYLOAD SecureBoot=0 SetupMode=1"));
    }
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/audit/boot/enforced-denies-unsigned", test_enforced_denies);
  g_test_add_func("/audit/boot/setup-mode-runs-unsigned", test_setup_mode_runs);
  g_test_add_func("/audit/boot/bios", test_bios);
  g_test_add_func("/audit/boot/direct-kernel-bypasses-enforcement", test_direct_kernel);
  g_test_add_func("/audit/boot/flash-not-secure", test_flash_not_secure);
  return g_test_run();
}
