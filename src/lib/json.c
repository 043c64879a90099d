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

/* Scan the string whose opening quote is at text[*i]; leave *i on the closing quote. TRUE when
 * it holds an escaped NUL: "\u0000", or json-glib's octal "\0" / "\000". */
static gboolean
string_has_nul(const char *text, gsize len, gsize *i)
{
  gboolean nul = FALSE;
  gsize k = *i + 1;
  while (k < len && text[k] != '"') {
    if (text[k] != '\\') {
      k++;
      continue;
    }
    k++;
    if (k + 4 < len && text[k] == 'u' && memcmp(text + k + 1, "0000", 4) == 0) {
      nul = TRUE;
    } else if (k < len && text[k] >= '0' && text[k] <= '7') {
      guint v = 0, n = 0;
      while (n < 3 && k < len && text[k] >= '0' && text[k] <= '7') {
        v = v * 8 + (guint)(text[k++] - '0');
        n++;
      }
      if ((v & 0xff) == 0)
        nul = TRUE;
      continue;
    }
    k++;
  }
  *i = k;
  return nul;
}

typedef struct {
  gboolean array;  /* '[' rather than '{' */
  guint index;     /* arrays: element number */
  const char *key; /* objects: the member being read (raw text, without quotes) */
  gsize key_len;
} JsonLevel;

/* json-glib hands strings back NUL-terminated, so an escaped NUL silently cuts a string there:
 * a variable "Fo\u0000o" would import as "Fo", a path "/a\u0000b" would name "/a". The parsed
 * tree no longer knows, so after a successful parse this follows the (now well-formed) text
 * beside it -- containers, commas and strings: a guard, not a parser -- and names the first
 * string holding a NUL by where it is ("variables[1]: \"name\""). */
static gboolean
nul_free(const char *text, gsize len, guint max_depth, const char *origin, GError **error)
{
  g_autofree JsonLevel *stack = g_new0(JsonLevel, max_depth + 1);
  guint depth = 0;
  for (gsize i = 0; i < len; i++) {
    char c = text[i];
    if (c == '{' || c == '[') {
      if (depth > max_depth)
        return TRUE; /* cannot happen: nesting_ok bounded the depth before the parse */
      stack[depth++] = (JsonLevel){ .array = c == '[' };
    } else if (c == '}' || c == ']') {
      if (depth)
        depth--;
    } else if (c == ',') {
      if (depth && stack[depth - 1].array)
        stack[depth - 1].index++;
    } else if (c == '"') {
      gsize start = i + 1;
      gboolean nul = string_has_nul(text, len, &i);
      gsize end = i, k = i + 1;
      while (k < len && g_ascii_isspace(text[k]))
        k++;
      JsonLevel *top = depth ? &stack[depth - 1] : NULL;
      if (top && !top->array && k < len && text[k] == ':') { /* a member name */
        if (nul) {
          g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                      "%s: the member name at byte %" G_GSIZE_FORMAT " contains a NUL character",
                      origin, start - 1);
          return FALSE;
        }
        top->key = text + start;
        top->key_len = end - start;
      } else if (nul) {
        /* The path to the string's container, then the member or element it is. */
        g_autoptr(GString) where = g_string_new(NULL);
        for (guint d = 0; d + 1 < depth; d++) {
          if (stack[d].array)
            g_string_append_printf(where, "[%u]", stack[d].index);
          else
            g_string_append_printf(where, "%s%.*s", where->len ? "." : "", (int)stack[d].key_len,
                                   stack[d].key);
        }
        if (top == NULL)
          g_string_append(where, "the document");
        else if (top->array)
          g_string_append_printf(where, "[%u]", top->index);
        else
          g_string_append_printf(where, "%s\"%.*s\"", where->len ? ": " : "", (int)top->key_len,
                                 top->key);
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                    "%s: %s contains a NUL character (\\u0000), which would cut it short",
                    origin, where->str);
        return FALSE;
      }
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
  if (!nul_free(data, len, max_depth, origin, error)) {
    json_node_unref(root);
    return NULL;
  }
  return root;
}
