#include "vsboot/json.h"
#include "vsboot/error.h"

#include <string.h>

/* Brackets outside strings only: a guard in front of the parser, not a parser. */
static gboolean
nesting_ok(const char *data, gsize len, guint max_depth, gsize *where)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        *where = i;
        return FALSE;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return TRUE;
}

/* json-glib's scanner also takes escapes JSON does not have (octal "\651") and decodes them
 * into bytes that are not UTF-8; such a string would be written back as text no JSON reader
 * accepts. */
static gboolean
strings_valid(JsonNode *node)
{
  switch (json_node_get_node_type(node)) {
  case JSON_NODE_OBJECT: {
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    json_object_iter_init(&iter, json_node_get_object(node));
    while (json_object_iter_next(&iter, &name, &member))
      if (!g_utf8_validate(name, -1, NULL) || !strings_valid(member))
        return FALSE;
    return TRUE;
  }
  case JSON_NODE_ARRAY: {
    JsonArray *a = json_node_get_array(node);
    for (guint i = 0; i < json_array_get_length(a); i++)
      if (!strings_valid(json_array_get_element(a, i)))
        return FALSE;
    return TRUE;
  }
  case JSON_NODE_VALUE:
    if (json_node_get_value_type(node) == G_TYPE_STRING)
      return g_utf8_validate(json_node_get_string(node), -1, NULL);
    return TRUE;
  case JSON_NODE_NULL:
    return TRUE;
  }
  return TRUE;
}

JsonNode *
vsb_json_parse(const char *data, gsize len, guint max_depth, const char *origin, GError **error)
{
  gsize where = 0;
  if (data == NULL || len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: empty", origin);
    return NULL;
  }
  if (len > G_MAXSSIZE || memchr(data, '\0', len) != NULL ||
      !g_utf8_validate(data, (gssize)len, NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON (not UTF-8 text)", origin);
    return NULL;
  }
  if (!nesting_ok(data, len, max_depth, &where)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: JSON nested deeper than %u levels at byte %" G_GSIZE_FORMAT, origin,
                max_depth, where);
    return NULL;
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_data(parser, data, (gssize)len, &local)) {
    /* json-glib quotes the offending token cut at a byte count, which can split a UTF-8
     * sequence; an error message must stay text. */
    g_autofree char *why = g_utf8_make_valid(local->message, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: %s", origin, why);
    return NULL;
  }
  JsonNode *root = json_parser_steal_root(parser);
  if (root == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: no value", origin);
    return NULL;
  }
  if (!strings_valid(root)) {
    json_node_unref(root);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: not JSON: a string escapes to invalid UTF-8", origin);
    return NULL;
  }
  return root;
}
