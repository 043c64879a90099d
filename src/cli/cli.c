#include "cli.h"

#include <stdio.h>
#include <string.h>

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
vsb_cli_take_single(const char *option_name, const char *value, gpointer data, GError **error)
{
  for (VsbCliSingleOption *o = data; o->long_name; o++) {
    if (g_strcmp0(option_name, o->long_name) != 0 && g_strcmp0(option_name, o->short_name) != 0)
      continue;
    if (*o->slot) {
      g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                  "%s given twice ('%s', then '%s'); it takes one value%s", o->long_name,
                  *o->slot, value, o->why ? o->why : "");
      return FALSE;
    }
    *o->slot = g_strdup(value);
    return TRUE;
  }
  g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s: unexpected option", option_name);
  return FALSE;
}

void
vsb_cli_set_main_entries(GOptionContext *ctx, const GOptionEntry *entries,
                         VsbCliSingleOption *singles)
{
  GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, singles, NULL);
  g_option_group_add_entries(group, entries);
  g_option_context_set_main_group(ctx, group);
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

int
vsb_cli_dispatch(const char *usage, const VsbCliSubcommand *subs, gsize n_subs, int argc,
                 char **argv)
{
  const char *group = argv[0];
  if (argc < 2) {
    fputs(usage, stderr);
    return VSB_EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
    fputs(usage, stdout);
    return VSB_EXIT_OK;
  }
  for (gsize i = 0; i < n_subs; i++) {
    if (strcmp(sub, subs[i].name) != 0)
      continue;
    g_autofree char *name = g_strdup_printf("%s %s", group, sub);
    g_autofree char **args = g_new0(char *, (gsize)argc);
    args[0] = name;
    for (int k = 2; k < argc; k++)
      args[k - 1] = argv[k];
    g_autofree char *prg = g_strdup_printf("vsboot %s", name);
    g_set_prgname(prg);
    return subs[i].run(argc - 1, args);
  }
  g_autoptr(GString) names = g_string_new(NULL);
  for (gsize i = 0; i < n_subs; i++)
    g_string_append_printf(names, "%s%s", i ? ", " : "", subs[i].name);
  return vsb_cli_failf("%s: unknown subcommand '%s' (%s)", group, sub, names->str);
}

const char *
vsb_cli_jstr(JsonObject *o, const char *member)
{
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

gint64
vsb_cli_jint(JsonObject *o, const char *member)
{
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;
}

gboolean
vsb_cli_jbool(JsonObject *o, const char *member)
{
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_boolean(n);
}

JsonArray *
vsb_cli_jarr(JsonObject *o, const char *member)
{
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

JsonObject *
vsb_cli_jobj(JsonObject *o, const char *member)
{
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}
