/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot vars show|export|import (enroll lives in cmd-vars-enroll.c). The text of `show` is
 * rendered from the same JSON report that --json prints. */
#include "cli.h"

#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/mscerts.h"
#include "vsboot/varjson.h"
#include "vsboot/varstore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char vars_usage[] =
  "Usage: vsboot vars SUBCOMMAND [OPTIONS]\n"
  "\n"
  "Variable stores: edk2 flash images (OVMF_VARS*.fd, AAVMF/QEMU_VARS.fd, unified OVMF.fd;\n"
  "raw or qcow2) and QEMU uefi-vars JSON stores, recognised by their content.\n"
  "\n"
  "Subcommands:\n"
  "  show FILE [--json] [--all]          variables, decoded, and the Secure Boot state\n"
  "  export FILE [--json] [-o OUT]       variables as virt-firmware/QEMU uefi-vars JSON\n"
  "  import JSON -o OUT (--template T | --layout 2m|4m|armvirt)\n"
  "                                      build a store from JSON over a template\n"
  "  enroll IN -o OUT | --in-place FILE  enroll PK/KEK/db/dbx, turn Secure Boot on or off\n"
  "\n"
  "'vsboot help vars SUBCOMMAND' shows the options.\n";

/* ---- text rendering of the report ----------------------------------------------------------- */

static void
print_cert(JsonObject *c, const char *indent)
{
  printf("%ssubject  %s\n", indent, vsb_cli_jstr(c, "subject"));
  printf("%sissuer   %s\n", indent, vsb_cli_jstr(c, "issuer"));
  printf("%sserial   %s\n", indent, vsb_cli_jstr(c, "serial"));
  printf("%svalid    %s to %s%s\n", indent, vsb_cli_jstr(c, "not-before"), vsb_cli_jstr(c, "not-after"),
         vsb_cli_jbool(c, "expired") ? "  (expired)" : "");
  printf("%ssha256   %s\n", indent, vsb_cli_jstr(c, "sha256"));
  JsonObject *k = vsb_cli_jobj(c, "known");
  if (k)
    printf("%sknown    %s%s\n", indent, vsb_cli_jstr(k, "name"),
           vsb_cli_jbool(k, "fingerprint-match") ? " (fingerprint matches)" : "");
}

static void
print_value(JsonObject *var)
{
  JsonObject *val = vsb_cli_jobj(var, "value");
  if (val == NULL) {
    const char *head = vsb_cli_jstr(var, "data-head");
    if (head && *head)
      printf("      data %s%s\n", head, vsb_cli_jint(var, "size") > 32 ? "..." : "");
    return;
  }
  const char *type = vsb_cli_jstr(val, "type");
  const char *err = vsb_cli_jstr(val, "error");
  if (err) {
    printf("      malformed %s: %s\n", type, err);
    return;
  }
  if (g_strcmp0(type, "bool") == 0)
    printf("      %s\n", vsb_cli_jbool(val, "value") ? "true" : "false");
  else if (g_strcmp0(type, "uint16") == 0)
    printf("      %" G_GINT64_FORMAT "\n", vsb_cli_jint(val, "value"));
  else if (g_strcmp0(type, "string") == 0 || g_strcmp0(type, "boot-number") == 0 ||
           g_strcmp0(type, "device-path") == 0)
    printf("      %s\n", vsb_cli_jstr(val, "value"));
  else if (g_strcmp0(type, "boot-order") == 0) {
    JsonArray *a = vsb_cli_jarr(val, "value");
    printf("     ");
    for (guint i = 0; a && i < json_array_get_length(a); i++)
      printf(" %s", json_array_get_string_element(a, i));
    printf("\n");
  } else if (g_strcmp0(type, "boot-option") == 0) {
    printf("      \"%s\"%s\n", vsb_cli_jstr(val, "description"), vsb_cli_jbool(val, "active") ? "" : " (inactive)");
    printf("      %s\n", vsb_cli_jstr(val, "device-path"));
  } else if (g_strcmp0(type, "signature-list") == 0) {
    JsonArray *a = vsb_cli_jarr(val, "entries");
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
      JsonObject *e = json_array_get_object_element(a, i);
      const char *on = vsb_cli_jstr(e, "owner-name");
      printf("      %s, owner %s%s%s%s\n", vsb_cli_jstr(e, "type"), vsb_cli_jstr(e, "owner"), on ? " (" : "",
             on ? on : "", on ? ")" : "");
      JsonObject *c = vsb_cli_jobj(e, "certificate");
      if (c)
        print_cert(c, "        ");
      else if (vsb_cli_jstr(e, "error"))
        printf("        not a valid certificate: %s\n", vsb_cli_jstr(e, "error"));
      else if (vsb_cli_jstr(e, "hash"))
        printf("        %s\n", vsb_cli_jstr(e, "hash"));
    }
  }
}

/* "by-company": {"Microsoft": 173, ...} as "Microsoft 173, SecureStar 39, ..." (largest first,
 * at most max names: the JSON lists them all). */
static gint
count_desc(gconstpointer a, gconstpointer b, gpointer obj)
{
  const char *ka = *(const char *const *)a, *kb = *(const char *const *)b;
  gint64 na = vsb_cli_jint(obj, ka), nb = vsb_cli_jint(obj, kb);
  return na != nb ? (na < nb ? 1 : -1) : strcmp(ka, kb);
}

static void
print_counts(const char *label, JsonObject *counts, guint max)
{
  g_autoptr(GList) keys = counts ? json_object_get_members(counts) : NULL;
  if (keys == NULL)
    return;
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  for (GList *l = keys; l; l = l->next)
    g_ptr_array_add(names, l->data);
  g_ptr_array_sort_with_data(names, count_desc, counts);
  printf("    %s:", label);
  for (guint i = 0; i < names->len && i < max; i++)
    printf("%s %s %" G_GINT64_FORMAT, i ? "," : "", (const char *)names->pdata[i],
           vsb_cli_jint(counts, names->pdata[i]));
  if (names->len > max)
    printf(" and %u more (--json lists them)", names->len - max);
  printf("\n");
}

/* The 2023 rollover ("microsoft": which of Microsoft's CAs the store trusts) and the dbx as
 * Microsoft's list explains it ("dbx"). */
static void
print_microsoft(JsonObject *sb)
{
  JsonObject *ms = vsb_cli_jobj(sb, "microsoft");
  if (ms)
    printf("  Microsoft CAs:\n");
  for (guint i = 0; ms && i < VSB_MS_N_CERTS; i++) {
    const VsbMsCert *c = vsb_ms_cert((VsbMsCertId)i);
    printf("    %-16s %-9s %-4s %s\n", c->name, vsb_cli_jstr(ms, c->name),
           vsb_sb_variable_name(c->variable), c->subject_cn);
  }
  JsonObject *dbx = vsb_cli_jobj(sb, "dbx");
  if (dbx == NULL)
    return;
  if (vsb_cli_jstr(dbx, "error")) {
    printf("  dbx: %" G_GINT64_FORMAT " entries, not explained: %s\n", vsb_cli_jint(dbx, "entries"),
           vsb_cli_jstr(dbx, "error"));
    return;
  }
  const char *newest = vsb_cli_jstr(dbx, "newest");
  printf("  dbx: %" G_GINT64_FORMAT " entries, %" G_GINT64_FORMAT
         " known to Microsoft's list%s%s\n", vsb_cli_jint(dbx, "entries"),
         vsb_cli_jint(dbx, "known"), newest ? ", newest added " : "", newest ? newest : "");
  print_counts("by company", vsb_cli_jobj(dbx, "by-company"), 8);
  print_counts("by architecture", vsb_cli_jobj(dbx, "by-arch"), 8);
  print_counts("by kind", vsb_cli_jobj(dbx, "by-kind"), 8);
  const char *arch = vsb_cli_jstr(dbx, "arch");
  if (arch)
    printf("    Microsoft's latest %s list: %" G_GINT64_FORMAT " entries, %" G_GINT64_FORMAT
           " of them not in this dbx\n", arch, vsb_cli_jint(dbx, "latest"),
           vsb_cli_jint(dbx, "missing-from-latest"));
}

static void
print_report(JsonObject *r, gboolean all)
{
  JsonArray *vars = vsb_cli_jarr(r, "variables");
  guint nvars = vars ? json_array_get_length(vars) : 0;
  if (g_strcmp0(vsb_cli_jstr(r, "layout"), "none") == 0) /* JSON: no flash image, no capacity */
    printf("%s: %s store, %" G_GINT64_FORMAT " bytes of variables as a flash store counts them\n",
           vsb_cli_jstr(r, "file"), vsb_cli_jstr(r, "format"), vsb_cli_jint(r, "used"));
  else
    printf("%s: %s layout, %s%s, %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes used, %"
           G_GINT64_FORMAT " records in the file\n",
           vsb_cli_jstr(r, "file"), vsb_cli_jstr(r, "layout"), vsb_cli_jstr(r, "format"),
           vsb_cli_jbool(r, "authenticated") ? "" : ", non-authenticated store",
           vsb_cli_jint(r, "used"), vsb_cli_jint(r, "capacity"), vsb_cli_jint(r, "records"));
  JsonArray *sw = vsb_cli_jarr(r, "store-warnings");
  for (guint i = 0; sw && i < json_array_get_length(sw); i++)
    printf("warning: %s\n", json_array_get_string_element(sw, i));

  JsonObject *sb = vsb_cli_jobj(r, "secure-boot");
  const char *verdict = vsb_cli_jstr(sb, "verdict");
  printf("\nSecure Boot: %s mode, %s\n", vsb_cli_jstr(sb, "mode"),
         vsb_cli_jbool(sb, "enforcing") ? "enforcing"
         : g_strcmp0(verdict, "uncertain") == 0 ? "UNCERTAIN (not claimed enforced)"
                                                : "NOT enforcing");
  if (vsb_cli_jbool(sb, "enforcing")) /* otherwise the first warning says why */
    printf("  why: %s\n", vsb_cli_jstr(sb, "reason"));
  JsonObject *ent = vsb_cli_jobj(sb, "entries");
  printf("  entries: PK %" G_GINT64_FORMAT ", KEK %" G_GINT64_FORMAT ", db %" G_GINT64_FORMAT
         ", dbx %" G_GINT64_FORMAT "\n", vsb_cli_jint(ent, "PK"), vsb_cli_jint(ent, "KEK"), vsb_cli_jint(ent, "db"),
         vsb_cli_jint(ent, "dbx"));
  JsonArray *wk = vsb_cli_jarr(sb, "well-known");
  for (guint i = 0; wk && i < json_array_get_length(wk); i++) {
    JsonObject *k = json_array_get_object_element(wk, i);
    printf("  %-4s %s\n", vsb_cli_jstr(k, "variable"), vsb_cli_jstr(k, "name"));
  }
  print_microsoft(sb);
  JsonArray *w = vsb_cli_jarr(sb, "warnings");
  for (guint i = 0; w && i < json_array_get_length(w); i++)
    printf("  warning: %s\n", json_array_get_string_element(w, i));

  printf("\n%s (%u):\n", all ? "Records" : "Variables", nvars);
  for (guint i = 0; i < nvars; i++) {
    JsonObject *v = json_array_get_object_element(vars, i);
    JsonObject *attrs = vsb_cli_jobj(v, "attributes");
    g_autofree char *at = vsb_efivar_attributes_text((guint32)vsb_cli_jint(attrs, "value"));
    const char *gn = vsb_cli_jstr(v, "guid-name");
    JsonNode *off = json_object_get_member(v, "offset");
    g_autofree char *offs = off && JSON_NODE_HOLDS_VALUE(off)
                              ? g_strdup_printf("0x%05" G_GINT64_MODIFIER "x", json_node_get_int(off))
                              : g_strdup("new    ");
    printf("  %s %s%-22s %s%s%s%s %s %" G_GINT64_FORMAT " bytes%s%s%s%s\n", offs,
           all ? (vsb_cli_jbool(v, "live") ? "  live  " : "  dead  ") : "", vsb_cli_jstr(v, "name"),
           vsb_cli_jstr(v, "guid"), gn ? " (" : "", gn ? gn : "", gn ? ")" : "", at, vsb_cli_jint(v, "size"),
           vsb_cli_jstr(v, "timestamp") ? " time " : "", vsb_cli_jstr(v, "timestamp") ? vsb_cli_jstr(v, "timestamp") : "",
           all ? " state " : "", all ? vsb_cli_jstr(v, "state") : "");
    print_value(v);
  }
}

/* ---- subcommands ------------------------------------------------------------------------------ */

/* The library says what is wrong; the flag that overrides it is the CLI's to name. */
int
vsb_cli_vars_fail(GError *error)
{
  if (g_error_matches(error, VSB_ERROR, VSB_ERROR_BUSY)) {
    char *msg = g_strconcat(error->message, ", or pass --force to write anyway", NULL);
    g_free(error->message);
    error->message = msg;
  }
  return vsb_cli_fail(error);
}

static int
cmd_show(int argc, char **argv)
{
  gboolean json = FALSE, all = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Every record of the file, deleted ones included", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("FILE - variables and Secure Boot state");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx,
    "Secure Boot modes: user (PK enrolled, SecureBootEnable not 0: OVMF enforces), setup (no\n"
    "PK: nothing is verified), disabled (PK enrolled, SecureBootEnable = 0).\n"
    "Exit status: 0 when the store was read, 2 when it is not a valid variable store.");
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("vars show: expected one FILE; 'vsboot help vars show'");
  GError *error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(argv[1], &error);
  if (store == NULL)
    return vsb_cli_fail(error);
  g_autoptr(JsonNode) report = vsb_varstore_report(store, all);
  if (json)
    vsb_cli_print_json(report);
  else
    print_report(json_node_get_object(report), all);
  return VSB_EXIT_OK;
}

/* An output that replaces a file keeps that file's mode and owner; a new one is 0644. A
 * symlink (or anything but a regular file) at OUT is refused by the writer, never replaced. */
static const VsbWriteOptions output_options = { .mode = 0644, .keep_mode = TRUE };

static int
cmd_export(int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output (the only format; accepted for clarity)", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write to OUT (atomically) instead of stdout", "OUT" },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("FILE - variables as virt-firmware / QEMU uefi-vars JSON");
  vsb_cli_add_entries(ctx, entries, NULL);
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("vars export: expected one FILE; 'vsboot help vars export'");
  GError *error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(argv[1], &error);
  if (store == NULL)
    return vsb_cli_fail(error);
  g_autofree char *text = vsb_varjson_export_text(store);
  if (out == NULL || strcmp(out, "-") == 0) {
    fputs(text, stdout);
    return VSB_EXIT_OK;
  }
  if (!vsb_file_write_atomic_full(out, text, strlen(text), &output_options, &error))
    return vsb_cli_fail(error);
  return VSB_EXIT_OK;
}

static int
cmd_import(int argc, char **argv)
{
  g_autofree char *out = NULL, *tmpl = NULL, *layout = NULL;
  gboolean force = FALSE, sort = FALSE;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The store to write (required)", "OUT" },
    { "template", 't', 0, G_OPTION_ARG_FILENAME, &tmpl, "Store whose layout and bytes outside the variables are kept", "T" },
    { "layout", 0, 0, G_OPTION_ARG_STRING, &layout, "Start from an empty store of this layout instead", "2m|4m|armvirt" },
    { "sort-by-name", 0, 0, G_OPTION_ARG_NONE, &sort, "Order variables by name, as virt-fw-vars does", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Write even if a running QEMU holds OUT", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("JSON - build a store from JSON variables");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx,
    "The template's variables are replaced by the JSON's (in the JSON's order); every byte\n"
    "outside the variable region (volume header, FTW area) is kept. A qcow2 template gives a\n"
    "qcow2 output.");
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("vars import: expected one JSON file; 'vsboot help vars import'");
  if (out == NULL)
    return vsb_cli_failf("vars import: -o OUT is required");
  if ((tmpl == NULL) == (layout == NULL))
    return vsb_cli_failf("vars import: give exactly one of --template T and --layout 2m|4m|armvirt");
  GError *error = NULL;
  g_autoptr(VsbVarstore) store = NULL;
  if (tmpl) {
    store = vsb_varstore_load(tmpl, &error);
    /* A JSON template would only give the JSON back: import builds a flash image. */
    if (store && vsb_varstore_get_layout(store) == VSB_VARSTORE_LAYOUT_NONE)
      return vsb_cli_failf("vars import: %s: no variable store to import into: it is a %s "
                           "document, and a template must be a flash image (raw or qcow2)",
                           tmpl, vsb_varstore_get_format(store));
  } else {
    VsbVarstoreLayout l;
    if (strcmp(layout, "2m") == 0)
      l = VSB_VARSTORE_LAYOUT_OVMF_2M;
    else if (strcmp(layout, "4m") == 0)
      l = VSB_VARSTORE_LAYOUT_OVMF_4M;
    else if (strcmp(layout, "armvirt") == 0)
      l = VSB_VARSTORE_LAYOUT_ARMVIRT;
    else
      return vsb_cli_failf("vars import: unknown --layout '%s' (2m, 4m, armvirt)", layout);
    store = vsb_varstore_new_empty(l, &error);
  }
  if (store == NULL)
    return vsb_cli_fail(error);
  g_autoptr(GPtrArray) vars = vsb_varjson_load(argv[1], &error);
  if (vars == NULL)
    return vsb_cli_fail(error);
  vsb_varjson_apply(store, vars);
  if (sort)
    vsb_varstore_sort_by_name(store);
  if (!vsb_varstore_save_full(store, out, &output_options, force, &error))
    return vsb_cli_vars_fail(error);
  return VSB_EXIT_OK;
}

static int
vars_run(int argc, char **argv)
{
  static const VsbCliSubcommand subs[] = {
    { "show", cmd_show },
    { "export", cmd_export },
    { "import", cmd_import },
    { "enroll", vsb_cli_vars_enroll }, /* cmd-vars-enroll.c */
  };
  return vsb_cli_dispatch(vars_usage, subs, G_N_ELEMENTS(subs), argc, argv);
}

const VsbCliCommand vsb_cli_vars = { "vars", "Variable stores: show, enroll, export, import", vars_run };
