/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place for a member of a JSON report being built: name and value in one call, a NULL
 * string as JSON null (a report shows an absent value as null, never as a missing member or an
 * empty string). Used by the library's *_to_json and, through cli.h, by every CLI report.
 * Private to libvsboot (not installed). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>


void vsb_json_put_str(JsonBuilder *b, const char *member, const char *value);
void vsb_json_put_int(JsonBuilder *b, const char *member, gint64 value);
void vsb_json_put_bool(JsonBuilder *b, const char *member, gboolean value);
/* An array of the strings (char *) in list; NULL list: an empty array. */
void vsb_json_put_strings(JsonBuilder *b, const char *member, const GPtrArray *list);
/* The same for a NULL-terminated string vector; NULL strv: an empty array. */
void vsb_json_put_strv(JsonBuilder *b, const char *member, const char *const *strv);
/* node as vsboot writes JSON for a person or a file (a report, a state file, an exported store):
 * pretty with a 2-space indent and a final newline. Newly allocated. (Compact one-line text,
 * e.g. inside a command-line argument, is json-glib's json_to_string(node, FALSE).) */
char *vsb_json_text(JsonNode *node);
