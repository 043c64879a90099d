/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json.h"
#include "vsboot/error.h"

#include <stdio.h>
#include <string.h>

static gboolean
hex4(const char *p, gsize len, guint *value)
{
  if (len < 4)
    return FALSE;
  *value = 0;
  for (int k = 0; k < 4; k++) {
    if (!g_ascii_isxdigit(p[k]))
      return FALSE;
    *value = *value * 16 + (guint)g_ascii_xdigit_value(p[k]);
  }
  return TRUE;
}

/* The escape whose text (after the backslash) starts at p: NULL and its length when JSON has
 * it, else what is wrong. A UTF-16 surrogate must come in a pair: alone it is no character,
 * and json-glib then reports an "unterminated string" that is not. */
static char *
escape_fault(const char *p, gsize len, gsize *skip)
{
  unsigned char e = (unsigned char)p[0];
  if (e != 'u') {
    if (e != 0 && strchr("\"\\/bfnrt", e)) {
      *skip = 1;
      return NULL;
    }
    g_autofree char *which = e > 0x20 && e < 0x7f
      ? g_strdup_printf("'\\%c' is not a JSON escape", e)
      : g_strdup("a backslash before a character JSON cannot escape");
    return g_strdup_printf("%s (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", which);
  }
  guint unit, low;
  if (!hex4(p + 1, len - 1, &unit))
    return g_strdup("'\\u' without four hex digits");
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return g_strdup_printf("'\\u%04X' is the second half of a UTF-16 surrogate pair, alone", unit);
  if (unit >= 0xd800 && unit <= 0xdbff) {
    if (len < 11 || p[5] != '\\' || p[6] != 'u' || !hex4(p + 7, len - 7, &low) ||
        low < 0xdc00 || low > 0xdfff)
      return g_strdup_printf("'\\u%04X' is the first half of a UTF-16 surrogate pair, alone",
                             unit);
    *skip = 11;
    return NULL;
  }
  *skip = 5;
  return NULL;
}

/* A guard in front of the parser, not a parser: it walks brackets outside strings (json-glib
 * recurses once per level, so a megabyte of '[' would exhaust the stack) and the lexical rules
 * of strings that json-glib does not enforce (RFC 8259, section 7: no raw control characters,
 * only the escapes JSON has, surrogates in pairs). QEMU's JSON reader refuses all three and
 * libvirt's (yajl) the first two, so a descriptor or -blockdev that vsboot accepted and they
 * refused would be judged as something they never run. It also remembers where an unclosed
 * string opened, which json-glib reports only at the end. */
typedef struct {
  guint line, column;         /* of the current byte, both from 1 */
  guint open_line, open_column; /* of the last string opened */
  gboolean in_string;
  gboolean escaped_nul;         /* a "\u0000" somewhere: nul_free must find where */
} JsonScan;

static gboolean
guard_scan(const char *data, gsize len, guint max_depth, const char *origin, JsonScan *scan,
           GError **error)
{
  guint depth = 0;
  *scan = (JsonScan){ .line = 1, .column = 0 };
  for (gsize i = 0; i < len; i++) {
    unsigned char b = (unsigned char)data[i];
    scan->column++; /* bytes, as json-glib counts them, so that one message has one unit */
    if (scan->in_string) {
      if (b < 0x20) {
        const char *short_escape = b != 0 ? strchr("\b\f\n\r\t", b) : NULL;
        g_autofree char *escaped = short_escape
          ? g_strdup_printf("\\%c", "bfnrt"[short_escape - "\b\f\n\r\t"])
          : g_strdup_printf("\\u%04X", b);
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                    "%s: not JSON: line %u, column %u: a raw control character U+%04X in the "
                    "string opened at line %u, column %u (JSON writes it as %s)", origin,
                    scan->line, scan->column, b, scan->open_line, scan->open_column, escaped);
        return FALSE;
      }
      if (b == '"') {
        scan->in_string = FALSE;
      } else if (b == '\\' && i + 1 < len) {
        gsize skip = 0; /* bytes after the backslash that belong to the escape */
        g_autofree char *what = escape_fault(data + i + 1, len - i - 1, &skip);
        if (what) {
          g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: line %u, column %u: %s",
                      origin, scan->line, scan->column, what);
          return FALSE;
        }
        if (skip == 5 && memcmp(data + i + 2, "0000", 4) == 0)
          scan->escaped_nul = TRUE;
        i += skip;
        scan->column += (guint)skip;
      }
      continue;
    }
    if (b == '\n') {
      scan->line++;
      scan->column = 0;
    } else if (b == '"') {
      scan->in_string = TRUE;
      scan->open_line = scan->line;
      scan->open_column = scan->column;
    } else if (b == '[' || b == '{') {
      if (++depth > max_depth) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                    "%s: JSON nested deeper than %u levels at byte %" G_GSIZE_FORMAT, origin,
                    max_depth, i);
        return FALSE;
      }
    } else if ((b == ']' || b == '}') && depth > 0) {
      depth--;
    }
  }
  return TRUE;
}

/* json-glib's message, made one line of text that names the place as "line L, column C" and,
 * for an unclosed string, where it opened. */
static char *
parser_message(const char *raw, const JsonScan *scan)
{
  g_autofree char *msg = g_utf8_make_valid(raw, -1);
  const char *rest = msg;
  guint line = 0, column = 0;
  int used = 0;
  if (sscanf(msg, "<data>:%u:%u: Parse error: %n", &line, &column, &used) == 2 && used > 0)
    rest = msg + used;
  GString *out = g_string_new(NULL);
  if (used > 0)
    g_string_append_printf(out, "line %u, column %u: ", line, column);
  for (const char *p = rest; *p; p++) {
    unsigned char b = (unsigned char)*p;
    if (b >= 0x20 && b != 0x7f) {
      g_string_append_c(out, (char)b);
      continue;
    }
    if (b == '\n')
      g_string_append(out, "\\n");
    else if (b == '\t')
      g_string_append(out, "\\t");
    else if (b == '\r')
      g_string_append(out, "\\r");
    else
      g_string_append_printf(out, "\\x%02x", b);
  }
  if (strstr(rest, "unterminated string") && scan->in_string)
    g_string_append_printf(out, " (the string opened at line %u, column %u is never closed)",
                           scan->open_line, scan->open_column);
  return g_string_free(out, FALSE);
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
 * it holds an escaped NUL, "\u0000" (guard_scan has refused every escape JSON does not have). */
static gboolean
string_has_nul(const char *text, gsize len, gsize *i)
{
  gboolean nul = FALSE;
  gsize k = *i + 1;
  while (k < len && text[k] != '"') {
    if (text[k] == '\\') {
      k++;
      if (k + 4 < len && text[k] == 'u' && memcmp(text + k + 1, "0000", 4) == 0)
        nul = TRUE;
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
        return TRUE; /* cannot happen: guard_scan bounded the depth before the parse */
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
  if (data == NULL || len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON: empty", origin);
    return NULL;
  }
  if (len > G_MAXSSIZE || memchr(data, '\0', len) != NULL ||
      !g_utf8_validate(data, (gssize)len, NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not JSON (not UTF-8 text)", origin);
    return NULL;
  }
  JsonScan scan;
  if (!guard_scan(data, len, max_depth, origin, &scan, error))
    return NULL;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_data(parser, data, (gssize)len, &local)) {
    /* json-glib quotes the offending token cut at a byte count, which can split a UTF-8
     * sequence, and as it is, line breaks included; an error message must stay one line of
     * text. */
    g_autofree char *why = parser_message(local->message, &scan);
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
  if (scan.escaped_nul && !nul_free(data, len, max_depth, origin, error)) {
    json_node_unref(root);
    return NULL;
  }
  return root;
}
