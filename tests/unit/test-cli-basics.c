/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testutil.h"

#include <string.h>

static void
test_version(void)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "--version", NULL), ==, 0);
  g_assert_true(g_str_has_prefix(out, "vsboot "));
}

static void
test_help(void)
{
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "firmware"));
  g_assert_nonnull(strstr(out, "vars"));
}

static void
test_bad_usage(void)
{
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "no-such-command", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "unknown command 'no-such-command'"));
  g_clear_pointer(&err, g_free);
  const char *no_args[] = { NULL };
  g_assert_cmpint(vsb_test_runv(no_args, NULL, &err), ==, 2);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "help", "no-such-command", NULL), ==, 2);
}

/* Every one-value option given twice is refused, whatever the command; GOption alone would let
 * the last one win silently. */
static void
test_repeated_option(void)
{
  static const struct {
    const char *args[12];
    const char *want;
  } cases[] = {
    { { "audit", "--pid", "1", "--pid", "2" }, "--pid given twice ('1', then '2')" },
    { { "audit", "--qemu-cmdline", "-m 1", "--qemu-cmdline", "-m 2" },
      "--qemu-cmdline given twice ('-m 1', then '-m 2')" },
    { { "firmware", "select", "--arch", "x86_64", "--arch", "aarch64" },
      "--arch given twice ('x86_64', then 'aarch64')" },
    { { "provision", "vm", "--machine", "q35", "--machine", "pc" }, "--machine given twice" },
    { { "run", "vm", "--timeout", "5", "--timeout", "6" }, "--timeout given twice ('5', then '6')" },
    { { "keys", "generate", "k", "--cn", "A", "--cn", "B" }, "--cn given twice ('A', then 'B')" },
    { { "pe", "sign", "x.efi", "-o", "a", "--output", "b" }, "--output given twice ('a', then 'b')" },
    { { "vars", "enroll", "in.fd", "--pk", "a", "--pk", "b" },
      "--pk given twice ('a', then 'b'); it takes one value: PK holds exactly one certificate" },
    { { "run", "vm", "--memory", "lots" }, "Cannot parse integer value 'lots' for --memory" },
    { { "audit", "--pid", "99999999999" }, "Integer value '99999999999' for --pid out of range" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *err = NULL;
    int rc = vsb_test_runv(cases[i].args, NULL, &err);
    g_test_message("%s ... -> %d: %s", cases[i].args[0], rc, err);
    g_assert_cmpint(rc, ==, 2);
    if (strstr(err, cases[i].want) == NULL)
      vsb_test_fail("expected \"%s\" in:\n%s", cases[i].want, err);
  }
  /* The options are still listed with their argument names. */
  g_autofree char *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, NULL, "audit", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "--pid=PID"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/cli/version", test_version);
  g_test_add_func("/cli/help", test_help);
  g_test_add_func("/cli/bad-usage", test_bad_usage);
  g_test_add_func("/cli/repeated-option", test_repeated_option);
  return g_test_run();
}
