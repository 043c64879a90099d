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
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: %s", origin, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_steal_root(parser);
  if (root == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: no value", origin);
    return NULL;
  }
  return root;
}
