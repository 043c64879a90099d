/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Machine alias resolution with the real qemu-system-x86_64/aarch64, and without QEMU. */
#include "testutil.h"

#include "vsboot/error.h"
#include "qemu-probe.h"

#include <string.h>

static const char machine_help[] =
  "Supported machines are:\n"
  "microvm              microvm (i386)\n"
  "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n"
  "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n"
  "q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n"
  "pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n"
  "none                 empty machine\n";

static void
test_parse_help(void)
{
  g_autoptr(GPtrArray) m = vsb_qemu_parse_machine_help(machine_help);
  g_assert_cmpuint(m->len, ==, 6);
  VsbQemuMachine *pc = m->pdata[1];
  g_assert_cmpstr(pc->name, ==, "pc");
  g_assert_cmpstr(pc->alias_of, ==, "pc-i440fx-7.2");
  g_assert_false(pc->is_default);
  VsbQemuMachine *def = m->pdata[2];
  g_assert_null(def->alias_of);
  g_assert_true(def->is_default);
  VsbQemuMachine *q35 = m->pdata[3];
  g_assert_cmpstr(q35->alias_of, ==, "pc-q35-7.2");
  g_autoptr(GPtrArray) empty = vsb_qemu_parse_machine_help("");
  g_assert_cmpuint(empty->len, ==, 0);
  g_autoptr(GPtrArray) junk = vsb_qemu_parse_machine_help("x (alias of \n(alias of )\n");
  g_assert_cmpuint(junk->len, ==, 2);
  g_assert_null(((VsbQemuMachine *)junk->pdata[0])->alias_of);
}

static void
test_version(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  g_autoptr(GError) error = NULL;
  g_autofree char *bin = vsb_qemu_find_binary(VSB_FW_ARCH_X86_64, &error);
  g_assert_no_error(error);
  guint major = 0, minor = 0;
  g_assert_true(vsb_qemu_get_version(bin, &major, &minor, &error));
  g_assert_no_error(error);
  /* Cross-check with the text QEMU prints. */
  const char *argv[] = { bin, "--version", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_spawn(argv, NULL, &out, NULL), ==, 0);
  g_autofree char *expect = g_strdup_printf("QEMU emulator version %u.%u.", major, minor);
  g_assert_true(g_str_has_prefix(out, expect));
  g_assert_cmpuint(major, >=, 7);

  g_assert_false(vsb_qemu_get_version("/bin/false", &major, &minor, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
  g_clear_error(&error);
  g_assert_false(vsb_qemu_get_version("/nonexistent/qemu", &major, &minor, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_TOOL);
}

static void
test_resolve_real(void)
{
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("qemu-system-aarch64");
  g_autoptr(GError) error = NULL;
  g_autofree char *bin = vsb_qemu_find_binary(VSB_FW_ARCH_X86_64, &error);
  guint major = 0, minor = 0;
  g_assert_true(vsb_qemu_get_version(bin, &major, &minor, &error));

  /* Debian's QEMU: each alias points at the newest versioned type, i.e. QEMU's own version. */
  g_autoptr(VsbMachineResolution) q35 = vsb_qemu_resolve_machine(VSB_FW_ARCH_X86_64, "q35", &error);
  g_assert_no_error(error);
  g_autofree char *want_q35 = g_strdup_printf("pc-q35-%u.%u", major, minor);
  g_assert_cmpstr(q35->machine, ==, want_q35);
  g_assert_false(q35->family);
  g_assert_cmpstr(q35->binary, ==, bin);
  g_assert_nonnull(strstr(q35->note, "alias of"));

  g_autoptr(VsbMachineResolution) pc = vsb_qemu_resolve_machine(VSB_FW_ARCH_X86_64, "pc", &error);
  g_autofree char *want_pc = g_strdup_printf("pc-i440fx-%u.%u", major, minor);
  g_assert_cmpstr(pc->machine, ==, want_pc);

  g_autoptr(VsbMachineResolution) virt = vsb_qemu_resolve_machine(VSB_FW_ARCH_AARCH64, "virt", &error);
  g_assert_no_error(error);
  g_autofree char *want_virt = g_strdup_printf("virt-%u.%u", major, minor);
  g_assert_cmpstr(virt->machine, ==, want_virt);

  /* Not an alias: used as is (after asking). */
  g_autoptr(VsbMachineResolution) mv = vsb_qemu_resolve_machine(VSB_FW_ARCH_X86_64, "microvm", &error);
  g_assert_cmpstr(mv->machine, ==, "microvm");
  g_assert_false(mv->family);
  g_assert_nonnull(mv->binary);

  /* Versioned: QEMU is not even run. */
  g_autoptr(VsbMachineResolution) v = vsb_qemu_resolve_machine(VSB_FW_ARCH_X86_64, "pc-q35-6.2", &error);
  g_assert_cmpstr(v->machine, ==, "pc-q35-6.2");
  g_assert_null(v->binary);

  g_autoptr(GPtrArray) list = vsb_qemu_list_machines(bin, &error);
  g_assert_no_error(error);
  gboolean found = FALSE;
  for (guint i = 0; i < list->len; i++) {
    VsbQemuMachine *m = list->pdata[i];
    if (strcmp(m->name, want_q35) == 0)
      found = TRUE;
  }
  g_assert_true(found);

  g_assert_null(vsb_qemu_resolve_machine(VSB_FW_ARCH_X86_64, "", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
}

static void
test_resolve_without_qemu(void)
{
  g_autofree char *old_path = g_strdup(g_getenv("PATH"));
  g_autofree char *empty = vsb_test_tmpdir();
  g_setenv("PATH", empty, TRUE);
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_qemu_find_binary(VSB_FW_ARCH_X86_64, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "qemu-system-x86_64"));
  g_clear_error(&error);

  struct {
    VsbFwArch arch;
    const char *in, *out;
    gboolean family;
  } cases[] = {
    { VSB_FW_ARCH_X86_64, "q35", "pc-q35-*", TRUE },
    { VSB_FW_ARCH_I386, "q35", "pc-q35-*", TRUE },
    { VSB_FW_ARCH_X86_64, "pc", "pc-i440fx-*", TRUE },
    { VSB_FW_ARCH_AARCH64, "virt", "virt-*", TRUE },
    { VSB_FW_ARCH_RISCV64, "virt", "virt-*", TRUE },
    { VSB_FW_ARCH_X86_64, "virt", "virt", FALSE },
    { VSB_FW_ARCH_X86_64, "microvm", "microvm", FALSE },
    { VSB_FW_ARCH_X86_64, "pc-q35-7.2", "pc-q35-7.2", FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(VsbMachineResolution) r = vsb_qemu_resolve_machine(cases[i].arch, cases[i].in, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(r->machine, ==, cases[i].out);
    g_assert_cmpint(r->family, ==, cases[i].family);
    g_assert_null(r->binary);
  }
  g_setenv("PATH", old_path, TRUE);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/qemu-probe/parse-help", test_parse_help);
  g_test_add_func("/qemu-probe/version", test_version);
  g_test_add_func("/qemu-probe/resolve-real", test_resolve_real);
  g_test_add_func("/qemu-probe/resolve-without-qemu", test_resolve_without_qemu);
  return g_test_run();
}
