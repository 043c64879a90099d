/* vsboot: reading untrusted JSON. json-glib's parser recurses once per nesting level, so a
 * megabyte of '[' would exhaust the stack; every JSON input goes through this guard first. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Parse text as JSON after checking that it is UTF-8 without NUL bytes and nests at most
 * max_depth levels (brackets outside strings). VSB_ERROR_PARSE names origin and the byte. */
JsonNode *vsb_json_parse(const char *data, gsize len, guint max_depth, const char *origin,
                         GError **error);

G_END_DECLS
