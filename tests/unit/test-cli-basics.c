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

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/cli/version", test_version);
  g_test_add_func("/cli/help", test_help);
  g_test_add_func("/cli/bad-usage", test_bad_usage);
  return g_test_run();
}
