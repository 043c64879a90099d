/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/jsonb.h"

void
vsb_json_put_str(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

void
vsb_json_put_int(JsonBuilder *b, const char *member, gint64 value)
{
  json_builder_set_member_name(b, member);
  json_builder_add_int_value(b, value);
}

void
vsb_json_put_bool(JsonBuilder *b, const char *member, gboolean value)
{
  json_builder_set_member_name(b, member);
  json_builder_add_boolean_value(b, value);
}

void
vsb_json_put_strings(JsonBuilder *b, const char *member, const GPtrArray *list)
{
  json_builder_set_member_name(b, member);
  json_builder_begin_array(b);
  for (guint i = 0; list && i < list->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(list, i));
  json_builder_end_array(b);
}

void
vsb_json_put_strv(JsonBuilder *b, const char *member, const char *const *strv)
{
  json_builder_set_member_name(b, member);
  json_builder_begin_array(b);
  for (const char *const *s = strv; s && *s; s++)
    json_builder_add_string_value(b, *s);
  json_builder_end_array(b);
}

char *
vsb_json_text(JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, node);
  g_autofree char *text = json_generator_to_data(gen, NULL);
  return g_strconcat(text, "\n", NULL);
}
