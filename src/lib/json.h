/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: reading untrusted JSON. json-glib's parser recurses once per nesting level, so a
 * megabyte of '[' would exhaust the stack; every JSON input goes through this guard first. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Parse text as JSON after checking that it is UTF-8 without NUL bytes, nests at most
 * max_depth levels (brackets outside strings), and that its strings keep JSON's rules (no raw
 * control characters, only JSON's escapes, surrogates in pairs, no escaped NUL). Every
 * VSB_ERROR_PARSE message is one line naming origin and the place (line and column, byte, or
 * member path). */
JsonNode *vsb_json_parse(const char *data, gsize len, guint max_depth, const char *origin,
                         GError **error);

G_END_DECLS
