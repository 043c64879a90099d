#include "cli.h"

#include <stdio.h>

int
vsb_cli_fail(GError *error)
{
  fprintf(stderr, "vsboot: %s\n", error ? error->message : "unknown error");
  g_clear_error(&error);
  return VSB_EXIT_USAGE;
}

int
vsb_cli_failf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "vsboot: %s\n", msg);
  return VSB_EXIT_USAGE;
}

void
vsb_cli_print_json(JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, node);
  g_autofree char *text = json_generator_to_data(gen, NULL);
  fputs(text, stdout);
  fputc('\n', stdout);
}

gboolean
vsb_cli_parse(GOptionContext *ctx, int *argc, char ***argv, int *exit_code)
{
  g_autoptr(GError) error = NULL;
  /* Options may follow positional arguments; "--" ends option parsing. */
  g_option_context_set_strict_posix(ctx, FALSE);
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    fprintf(stderr, "vsboot: %s\n", error->message);
    fprintf(stderr, "Try 'vsboot help %s'.\n", (*argv)[0]);
    *exit_code = VSB_EXIT_USAGE;
    return FALSE;
  }
  return TRUE;
}
