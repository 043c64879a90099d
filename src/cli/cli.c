/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

#include <errno.h>
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
  g_autofree char *text = vsb_json_text(node);
  fputs(text, stdout);
}

typedef struct {
  char *long_name; /* "--pid" */
  char short_name; /* 'o' or 0 */
  GOptionArg arg;  /* G_OPTION_ARG_STRING, _FILENAME or _INT */
  gpointer arg_data;
  char *value;     /* as given, NULL until seen */
  gint number;     /* G_OPTION_ARG_INT, parsed */
  const char *note;
} OnceOption;

static void
once_option_free(OnceOption *o)
{
  g_free(o->long_name);
  g_free(o->value);
  g_free(o);
}

static gboolean
parse_int(const char *option_name, const char *value, gint *out, GError **error)
{
  char *end = NULL;
  errno = 0;
  gint64 v = g_ascii_strtoll(value, &end, 0);
  if (end == value || *end != '\0') {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Cannot parse integer value '%s' for %s", value, option_name);
    return FALSE;
  }
  if (errno == ERANGE || v < G_MININT || v > G_MAXINT) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Integer value '%s' for %s out of range", value, option_name);
    return FALSE;
  }
  *out = (gint)v;
  return TRUE;
}

static gboolean
take_once(const char *option_name, const char *value, gpointer data, GError **error)
{
  GPtrArray *options = data;
  for (guint i = 0; i < options->len; i++) {
    OnceOption *o = options->pdata[i];
    gboolean is_short = option_name[0] == '-' && option_name[1] == o->short_name &&
                        o->short_name != 0 && option_name[2] == '\0';
    if (!is_short && strcmp(option_name, o->long_name) != 0)
      continue;
    if (o->value) {
      g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                  "%s given twice ('%s', then '%s'); it takes one value%s", o->long_name,
                  o->value, value, o->note ? o->note : "");
      return FALSE;
    }
    if (o->arg == G_OPTION_ARG_INT && !parse_int(o->long_name, value, &o->number, error))
      return FALSE;
    o->value = g_strdup(value);
    return TRUE;
  }
  g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s: unexpected option", option_name);
  return FALSE;
}

static gboolean
store_once(GOptionContext *ctx, GOptionGroup *group, gpointer data, GError **error)
{
  (void)ctx;
  (void)group;
  (void)error;
  GPtrArray *options = data;
  for (guint i = 0; i < options->len; i++) {
    OnceOption *o = options->pdata[i];
    if (o->value == NULL)
      continue;
    if (o->arg == G_OPTION_ARG_INT) {
      *(gint *)o->arg_data = o->number;
    } else {
      /* As GOption does: what was there (a default, maybe static) is not ours to free. */
      *(char **)o->arg_data = g_strdup(o->value);
    }
  }
  return TRUE;
}

void
vsb_cli_add_entries(GOptionContext *ctx, const GOptionEntry *entries, const char *const *notes)
{
  GPtrArray *options = g_ptr_array_new_with_free_func((GDestroyNotify)once_option_free);
  gsize n = 0;
  while (entries[n].long_name)
    n++;
  g_autofree GOptionEntry *copy = g_new0(GOptionEntry, n + 1);
  for (gsize i = 0; i < n; i++) {
    copy[i] = entries[i];
    GOptionArg arg = entries[i].arg;
    if (arg != G_OPTION_ARG_STRING && arg != G_OPTION_ARG_FILENAME && arg != G_OPTION_ARG_INT)
      continue;
    OnceOption *o = g_new0(OnceOption, 1);
    o->long_name = g_strconcat("--", entries[i].long_name, NULL);
    o->short_name = entries[i].short_name;
    o->arg = arg;
    o->arg_data = entries[i].arg_data;
    for (const char *const *p = notes; p && p[0] && p[1]; p += 2)
      if (strcmp(p[0], o->long_name) == 0)
        o->note = p[1];
    g_ptr_array_add(options, o);
    copy[i].arg = G_OPTION_ARG_CALLBACK;
    copy[i].arg_data = (gpointer)take_once;
    if (arg == G_OPTION_ARG_FILENAME)
      copy[i].flags |= G_OPTION_FLAG_FILENAME;
  }
  GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, options,
                                            (GDestroyNotify)g_ptr_array_unref);
  g_option_group_set_parse_hooks(group, NULL, store_once);
  g_option_group_add_entries(group, copy);
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
