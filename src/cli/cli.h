/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot CLI: the table of subcommands and the few helpers they share. The CLI only parses
 * options, calls the library and prints; it holds no logic of its own. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "util/jsonb.h"

/* Exit codes shared by every subcommand. */
enum {
  VSB_EXIT_OK = 0,       /* success; positive verdict (match, enforced, allowed) */
  VSB_EXIT_NEGATIVE = 1, /* ran fine, negative answer (no match, not enforced, denied) */
  VSB_EXIT_USAGE = 2,    /* bad usage, bad input, or could not judge */
};

typedef struct {
  const char *name;
  const char *summary;
  /* argv[0] is the subcommand's name; "--help" anywhere prints its help and returns 0. */
  int (*run)(int argc, char **argv);
} VsbCliCommand;

extern const VsbCliCommand vsb_cli_firmware;
extern const VsbCliCommand vsb_cli_vars;
extern const VsbCliCommand vsb_cli_keys;
extern const VsbCliCommand vsb_cli_pe;
extern const VsbCliCommand vsb_cli_provision;
extern const VsbCliCommand vsb_cli_qemu_args;
extern const VsbCliCommand vsb_cli_libvirt_xml;
extern const VsbCliCommand vsb_cli_run;
extern const VsbCliCommand vsb_cli_audit;
extern const VsbCliCommand vsb_cli_libvirt_hook;
extern const VsbCliCommand vsb_cli_fleet;

/* "vsboot firmware inspect ..." (cmd-firmware-inspect.c), routed from cmd-firmware.c;
 * argv[0] is "firmware inspect". */
int vsb_cli_firmware_inspect(int argc, char **argv);
/* "vsboot vars enroll ..." (cmd-vars-enroll.c), routed from cmd-vars.c; argv[0] is
 * "vars enroll". */
int vsb_cli_vars_enroll(int argc, char **argv);
/* vsb_cli_fail, with the flag hint for a store a running QEMU holds (cmd-vars.c). */
int vsb_cli_vars_fail(GError *error);

/* Print "vsboot: MESSAGE" to stderr and return VSB_EXIT_USAGE. Consumes error. */
int vsb_cli_fail(GError *error);
/* Same with a printf-style message. */
int vsb_cli_failf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Pretty-print a JSON node to stdout followed by a newline. */
void vsb_cli_print_json(JsonNode *node);
/* Members of a report object; NULL, 0 or FALSE when absent or of another type. The text
 * printers render the same JSON report that --json prints. */
const char *vsb_cli_jstr(JsonObject *o, const char *member);
gint64 vsb_cli_jint(JsonObject *o, const char *member);
gboolean vsb_cli_jbool(JsonObject *o, const char *member);
JsonArray *vsb_cli_jarr(JsonObject *o, const char *member);
JsonObject *vsb_cli_jobj(JsonObject *o, const char *member);

/* Members of a report being built, one call each: a string (JSON null when value is NULL), an
 * integer, a boolean, an array of strings. The library's one set (util/jsonb.h) under the CLI's names. */
#define vsb_cli_jset_str vsb_json_put_str
#define vsb_cli_jset_int vsb_json_put_int
#define vsb_cli_jset_bool vsb_json_put_bool
#define vsb_cli_jset_strings vsb_json_put_strings
#define vsb_cli_jset_strv vsb_json_put_strv

/* A subcommand of a command group ("vars show"). */
typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
} VsbCliSubcommand;

/* Run the subcommand argv[1] of group argv[0]: it gets argv[0] = "GROUP SUB" (so its usage
 * line and "Try 'vsboot help ...'" read right); no subcommand prints usage to stderr (exit 2),
 * --help/-h/help prints it to stdout. */
int vsb_cli_dispatch(const char *usage, const VsbCliSubcommand *subs, gsize n_subs, int argc,
                     char **argv);

/* Parse options with a GOptionContext; on error print it and return FALSE. "help_text" is the
 * description shown under the usage line. Remaining arguments are left in argc/argv. */
gboolean vsb_cli_parse(GOptionContext *ctx, int *argc, char ***argv, int *exit_code);

/* Make entries the main options of ctx. GOption lets a repeated one-value option silently
 * replace the earlier one ("--pk A --pk B" would enroll only B; "--pid 1 --pid 2" would audit
 * only 2); here every STRING, FILENAME and INT option given twice is an error naming both
 * values. notes, NULL or { "--pk", ": PK holds exactly one certificate", NULL }, adds a reason
 * to that message. Values reach the entries' arg_data only when the whole parse succeeds. */
void vsb_cli_add_entries(GOptionContext *ctx, const GOptionEntry *entries,
                         const char *const *notes);
