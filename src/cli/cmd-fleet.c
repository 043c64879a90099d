/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot fleet: every VM of the host (libvirt, state directories, other QEMU processes),
 * judged by the single-VM audit; Prometheus metrics; the 2023 CA rollover over all of them. */
#include "cli.h"

#include "vsboot/error.h"
#include "vsboot/fleet.h"
#include "vsboot/fwsearch.h"
#include "vsboot/libvirt-domain.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>

#define TABLE_WIDTH 80

static const char fleet_description[] =
  "Find every VM of this host and judge each with the audit (vsboot-audit(1)):\n"
  "  - libvirt domains (--libvirt URI, repeatable; without it qemu:///system when its\n"
  "    daemon answers, a note otherwise): the live definition of a running domain, the\n"
  "    inactive one of a stopped domain;\n"
  "  - every NAME.json of each --state-dir DIR;\n"
  "  - every other running QEMU (unless --no-processes). A QEMU that runs a libvirt\n"
  "    domain (same -uuid or -name guest=NAME) or a state-dir VM (same name and varstore)\n"
  "    is that VM, listed once.\n"
  "A VM that cannot be read is a finding (vm-unreadable); the others are still judged.\n"
  "--prometheus FILE writes node_exporter's textfile format atomically.\n"
  "--rollover 2023 lists per VM what adding the Microsoft 2023 CAs would change (a dry\n"
  "run); with --apply it writes stopped VMs' varstores, each whole or untouched, and\n"
  "lists running VMs as pending.\n"
  "Exit status: 0 every VM enforced (with --rollover: nothing left to add); 1 a VM is\n"
  "not enforced (with --rollover: a VM would change, is pending or failed); 2 bad usage\n"
  "or input: a given libvirt URI that cannot be opened, an unreadable state directory,\n"
  "a --prometheus FILE that cannot be written (then nothing is written).";

/* ---- text ------------------------------------------------------------------------------ */

/* s cut or padded to width characters (UTF-8 names count by character, not byte). */
static void
put_cell(GString *line, const char *text, guint width)
{
  /* A name from a process's command line may hold anything: control characters would break
   * the row. */
  g_autofree char *s = g_utf8_make_valid(text, -1);
  for (char *p = s; *p; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      *p = '?';
  glong n = g_utf8_strlen(s, -1);
  if ((guint)n > width) {
    g_autofree char *cut = g_utf8_substring(s, 0, width - 1);
    g_string_append_printf(line, "%s~", cut);
  } else {
    g_string_append(line, s);
    for (glong i = n; i < (glong)width; i++)
      g_string_append_c(line, ' ');
  }
  g_string_append_c(line, ' ');
}

/* "PREFIX text" wrapped at TABLE_WIDTH with a hanging indent of four; a word longer than a
 * line (a path) is cut across lines. */
static void
print_wrapped(const char *prefix, const char *text)
{
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  g_autoptr(GString) line = g_string_new(prefix);
  g_auto(GStrv) words = g_strsplit(valid, " ", -1);
  for (char **w = words; *w; w++) {
    const char *word = *w;
    for (;;) {
      glong len = g_utf8_strlen(line->str, -1), wl = g_utf8_strlen(word, -1);
      gboolean sep = line->len > 0 && line->str[line->len - 1] != ' ';
      if (len + sep + wl <= TABLE_WIDTH) {
        if (sep)
          g_string_append_c(line, ' ');
        g_string_append(line, word);
        break;
      }
      if (len > 4 && wl <= TABLE_WIDTH - 4) {
        printf("%s\n", line->str);
        g_string_assign(line, "    ");
        continue;
      }
      /* Too long for any line: fill this one and carry the rest. */
      glong room = TABLE_WIDTH - len - sep;
      if (room <= 0) {
        printf("%s\n", line->str);
        g_string_assign(line, "    ");
        continue;
      }
      if (sep)
        g_string_append_c(line, ' ');
      const char *cut = g_utf8_offset_to_pointer(word, room);
      g_string_append_len(line, word, cut - word);
      printf("%s\n", line->str);
      g_string_assign(line, "    ");
      word = cut;
    }
  }
  printf("%s\n", line->str);
}

static const char *
ms_column(JsonObject *vm)
{
  if (!json_object_has_member(vm, "microsoft") ||
      JSON_NODE_HOLDS_NULL(json_object_get_member(vm, "microsoft")))
    return "-";
  if (vsb_cli_jbool(vm, "rollover-needed"))
    return "2011";
  if (vsb_cli_jbool(vm, "microsoft-2023"))
    return "2023";
  return "none";
}

static guint
count_errors(JsonObject *vm)
{
  JsonArray *f = vsb_cli_jarr(vm, "findings");
  guint n = 0;
  for (guint i = 0; f && i < json_array_get_length(f); i++)
    n += g_strcmp0(vsb_cli_jstr(json_array_get_object_element(f, i), "severity"), "error") == 0;
  return n;
}

static void
print_row(JsonObject *vm, const char *last)
{
  g_autoptr(GString) line = g_string_new(NULL);
  put_cell(line, vsb_cli_jstr(vm, "name"), 16);
  put_cell(line, vsb_cli_jstr(vm, "source"), 9);
  put_cell(line, vsb_cli_jbool(vm, "running") ? "yes" : "no", 3);
  put_cell(line, vsb_cli_jstr(vm, "verdict"), 12);
  const char *mode = vsb_cli_jstr(vm, "secure-boot");
  put_cell(line, mode ? mode : "-", 8);
  put_cell(line, ms_column(vm), 4);
  JsonNode *dbx = json_object_get_member(vm, "dbx-entries");
  g_autofree char *dbx_text = dbx && JSON_NODE_HOLDS_VALUE(dbx)
                                ? g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(dbx))
                                : g_strdup("-");
  put_cell(line, dbx_text, 4);
  put_cell(line, vsb_cli_jbool(vm, "tpm") ? "yes" : "no", 3);
  g_string_append(line, last);
  printf("%s\n", line->str);
}

static void
print_notes(JsonObject *root)
{
  JsonArray *notes = vsb_cli_jarr(root, "notes");
  for (guint i = 0; notes && i < json_array_get_length(notes); i++)
    print_wrapped("note: ", json_array_get_string_element(notes, i));
}

static void
print_fleet(JsonObject *root)
{
  JsonArray *vms = vsb_cli_jarr(root, "vms");
  guint n = vms ? json_array_get_length(vms) : 0;
  if (n > 0) {
    printf("%-16s %-9s %-3s %-12s %-8s %-4s %-4s %-3s %s\n", "NAME", "SOURCE", "RUN",
           "VERDICT", "MODE", "MS", "DBX", "TPM", "ERRORS");
    for (guint i = 0; i < n; i++) {
      JsonObject *vm = json_array_get_object_element(vms, i);
      g_autofree char *errors = g_strdup_printf("%u", count_errors(vm));
      print_row(vm, errors);
    }
  }
  gboolean header = FALSE;
  for (guint i = 0; i < n; i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    JsonArray *f = vsb_cli_jarr(vm, "findings");
    gboolean named = FALSE;
    for (guint j = 0; f && j < json_array_get_length(f); j++) {
      JsonObject *fo = json_array_get_object_element(f, j);
      if (g_strcmp0(vsb_cli_jstr(fo, "severity"), "error") != 0)
        continue;
      if (!header)
        printf("\nWhy not enforced:\n");
      header = TRUE;
      if (!named) {
        /* The name in a cell of its own width: a process's -name can be of any length. */
        g_autoptr(GString) who = g_string_new("  ");
        put_cell(who, vsb_cli_jstr(vm, "name"), TABLE_WIDTH - 16);
        g_string_truncate(who, who->len - 1);
        while (who->len > 0 && who->str[who->len - 1] == ' ')
          g_string_truncate(who, who->len - 1);
        printf("%s (%s):\n", who->str, vsb_cli_jstr(vm, "source"));
        named = TRUE;
      }
      g_autofree char *what = g_strdup_printf("%s: %s", vsb_cli_jstr(fo, "id"),
                                              vsb_cli_jstr(fo, "message"));
      print_wrapped("    ", what);
    }
  }
  printf("\n%u VM(s): %" G_GINT64_FORMAT " enforced, %" G_GINT64_FORMAT " not enforced "
         "(scan %.2f s)\n", n, vsb_cli_jint(root, "enforced"), vsb_cli_jint(root, "not-enforced"),
         json_node_get_double(json_object_get_member(root, "scan-seconds")));
  print_notes(root);
}

static void
print_rollover(JsonObject *root)
{
  JsonObject *ro = vsb_cli_jobj(root, "rollover");
  JsonArray *vms = vsb_cli_jarr(root, "vms");
  guint n = vms ? json_array_get_length(vms) : 0;
  printf("Rollover to the Microsoft 2023 CAs (%s):\n",
         vsb_cli_jbool(ro, "apply") ? "stopped VMs written"
                                    : "dry run; --apply writes stopped VMs");
  printf("%-16s %-9s %-3s %-12s %-8s %-4s %-4s %-3s %s\n", "NAME", "SOURCE", "RUN", "VERDICT",
         "MODE", "MS", "DBX", "TPM", "ROLLOVER");
  for (guint i = 0; i < n; i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    JsonObject *r = vsb_cli_jobj(vm, "rollover");
    print_row(vm, vsb_cli_jstr(r, "status"));
    JsonArray *changes = vsb_cli_jarr(r, "changes");
    for (guint j = 0; changes && j < json_array_get_length(changes); j++)
      print_wrapped("    ", json_array_get_string_element(changes, j));
    if (vsb_cli_jstr(r, "error"))
      print_wrapped("    ", vsb_cli_jstr(r, "error"));
  }
  printf("\n");
  print_wrapped("Reminder: ", vsb_cli_jstr(ro, "reminder"));
  print_notes(root);
}

/* ---- the command ----------------------------------------------------------------------- */

/* libvirt prints the errors of virConnectOpen itself unless the program has a handler; the
 * fleet reports them through GError (exit 2, naming the URI), so the CLI silences the print. */
static void
silent_libvirt_error(void *data, virErrorPtr err)
{
  (void)data;
  (void)err;
}

/* The rollover of every VM, added to the fleet's JSON: vms[i].rollover, and "rollover" with
 * the reminder. Returns whether any VM still needs it (would change, pending, failed). */
static gboolean
add_rollover(JsonNode *root, const VsbFleet *fleet, gboolean apply)
{
  g_autoptr(GPtrArray) ros = vsb_fleet_rollover(fleet, apply);
  gboolean open = FALSE;
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  for (guint i = 0; i < ros->len; i++) {
    const VsbFleetRollover *ro = ros->pdata[i];
    const char *state = vsb_fleet_rollover_state(ro);
    open |= strcmp(state, "would-change") == 0 || strcmp(state, "pending") == 0 ||
            strcmp(state, "failed") == 0;
    json_object_set_member(json_array_get_object_element(vms, i), "rollover",
                           vsb_fleet_rollover_to_json(ro));
  }
  JsonObject *r = json_object_new();
  json_object_set_string_member(r, "target", "2023");
  json_object_set_boolean_member(r, "apply", apply);
  json_object_set_string_member(r, "reminder", vsb_fleet_rollover_reminder());
  json_object_set_object_member(json_node_get_object(root), "rollover", r);
  return open;
}

static int
fleet_run(int argc, char **argv)
{
  g_auto(GStrv) uris = NULL, state_dirs = NULL, firmware_dirs = NULL;
  g_autofree char *prometheus = NULL, *rollover = NULL, *nvram_dir = NULL;
  gboolean json = FALSE, no_processes = FALSE, no_libvirt = FALSE, apply = FALSE;
  GOptionEntry entries[] = {
    { "libvirt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &uris,
      "List this libvirt URI's domains (repeatable; default qemu:///system when it answers)",
      "URI" },
    { "no-libvirt", 0, 0, G_OPTION_ARG_NONE, &no_libvirt, "Do not ask libvirt at all", NULL },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &state_dirs,
      "List every VM provisioned in DIR (repeatable)", "DIR" },
    { "no-processes", 0, 0, G_OPTION_ARG_NONE, &no_processes,
      "Do not look at running QEMU processes", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "prometheus", 0, 0, G_OPTION_ARG_FILENAME, &prometheus,
      "Write node_exporter textfile metrics to FILE (atomically)", "FILE" },
    { "rollover", 0, 0, G_OPTION_ARG_STRING, &rollover,
      "Show what adding the Microsoft CAs of this generation would change (2023)", "2023" },
    { "apply", 0, 0, G_OPTION_ARG_NONE, &apply,
      "With --rollover: write stopped VMs' varstores", NULL },
    { "firmware-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &firmware_dirs,
      "Descriptor directory instead of QEMU's search path (repeatable)", "DIR" },
    { "nvram-dir", 0, 0, G_OPTION_ARG_FILENAME, &nvram_dir,
      "libvirt's NVRAM directory (default " VSB_LIBVIRT_NVRAM_DIR ")", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx, vsb_cli_fleet.summary);
  g_option_context_set_description(ctx, fleet_description);
  vsb_cli_add_entries(ctx, entries, NULL);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc > 1)
    return vsb_cli_failf("fleet: unexpected argument '%s'", argv[1]);
  if (rollover && strcmp(rollover, "2023") != 0)
    return vsb_cli_failf("fleet: --rollover: '%s' is not a CA generation vsboot rolls over "
                         "to (2023)", rollover);
  if (apply && rollover == NULL)
    return vsb_cli_failf("fleet: --apply needs --rollover 2023");
  /* Without the process scan a running state-dir VM would look stopped. */
  if (apply && no_processes)
    return vsb_cli_failf("fleet: --apply needs the process scan (a running VM must be known "
                         "to be left alone): drop --no-processes");
  if (no_libvirt && uris)
    return vsb_cli_failf("fleet: --no-libvirt and --libvirt exclude each other");

  GError *error = NULL;
  g_autoptr(GPtrArray) fw_entries = vsb_fw_search((const char *const *)firmware_dirs, &error);
  if (fw_entries == NULL)
    return vsb_cli_fail(error);
  virSetErrorFunc(NULL, silent_libvirt_error);
  VsbFleetOptions opts = {
    .libvirt_uris = (const char *const *)uris,
    .no_libvirt = no_libvirt,
    .state_dirs = (const char *const *)state_dirs,
    .no_processes = no_processes,
    .firmware_entries = fw_entries,
    .nvram_dir = nvram_dir,
  };
  g_autoptr(VsbFleet) fleet = vsb_fleet_scan(&opts, &error);
  if (fleet == NULL)
    return vsb_cli_fail(error);
  if (prometheus && !vsb_fleet_write_prometheus(fleet, prometheus, &error))
    return vsb_cli_fail(error);
  g_autoptr(JsonNode) root = vsb_fleet_to_json(fleet);
  gboolean open = rollover && add_rollover(root, fleet, apply);
  if (json)
    vsb_cli_print_json(root);
  else if (rollover)
    print_rollover(json_node_get_object(root));
  else
    print_fleet(json_node_get_object(root));
  if (rollover)
    return open ? VSB_EXIT_NEGATIVE : VSB_EXIT_OK;
  return fleet->n_enforced == fleet->vms->len ? VSB_EXIT_OK : VSB_EXIT_NEGATIVE;
}

const VsbCliCommand vsb_cli_fleet = { "fleet",
                                      "Every VM of this host: audit, metrics, CA rollover",
                                      fleet_run };
