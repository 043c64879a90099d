/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON import/export of variables (virt-firmware efijson.py, QEMU hw/uefi/var-service-json.c). */
#include "vsboot/varjson.h"
#include "storage.h"
#include "json.h"
#include "util/jsonb.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "util/timetext.h"

#include <string.h>

#define EFI_TIME_SIZE VSB_EFI_TIME_SIZE

JsonNode *
vsb_varjson_export(const VsbVarstore *store)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  GPtrArray *vars = vsb_varstore_get_variables(store);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, 2);
  json_builder_set_member_name(b, "variables");
  json_builder_begin_array(b);
  for (guint i = 0; i < vars->len; i++) {
    const VsbVariable *v = vars->pdata[i];
    char buf[VSB_GUID_STRING_LEN + 1];
    gsize len;
    const guint8 *d = g_bytes_get_data(v->data, &len);
    g_autofree char *hex = vsb_hex_encode(d, len);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, v->name);
    json_builder_set_member_name(b, "guid");
    json_builder_add_string_value(b, vsb_guid_format(&v->guid, buf));
    json_builder_set_member_name(b, "attr");
    json_builder_add_int_value(b, v->attributes);
    json_builder_set_member_name(b, "data");
    json_builder_add_string_value(b, hex);
    /* As virt-fw-vars: a variable without a time stamp (certdb, VendorKeysNv) has no "time";
     * import reads its absence as zero, so nothing is lost. */
    if (!vsb_efi_time_is_zero(&v->timestamp)) {
      guint8 t[EFI_TIME_SIZE];
      vsb_efi_time_write(t, &v->timestamp);
      g_autofree char *th = vsb_hex_encode(t, sizeof t);
      json_builder_set_member_name(b, "time");
      json_builder_add_string_value(b, th);
    }
    if (v->digest) {
      g_autofree char *dh = vsb_hex_encode(g_bytes_get_data(v->digest, NULL),
                                           g_bytes_get_size(v->digest));
      json_builder_set_member_name(b, "digest");
      json_builder_add_string_value(b, dh);
    }
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

char *
vsb_varjson_export_text(const VsbVarstore *store)
{
  g_autoptr(JsonNode) root = vsb_varjson_export(store);
  return vsb_json_text(root);
}

static const char *
member_string(JsonObject *o, const char *key, gboolean required, const char *origin, guint idx,
              GError **error)
{
  JsonNode *n = json_object_get_member(o, key);
  if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
    if (required)
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u]: \"%s\" is missing",
                  origin, idx, key);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u]: \"%s\" is not a string",
                origin, idx, key);
    return NULL;
  }
  return json_node_get_string(n);
}

static VsbVariable *
parse_entry(JsonNode *node, const char *origin, guint idx, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u] is not an object", origin,
                idx);
    return NULL;
  }
  JsonObject *o = json_node_get_object(node);
  GError *local = NULL;
  const char *name = member_string(o, "name", TRUE, origin, idx, &local);
  const char *guid_text = name ? member_string(o, "guid", TRUE, origin, idx, &local) : NULL;
  const char *data_text = guid_text ? member_string(o, "data", TRUE, origin, idx, &local) : NULL;
  if (local) {
    g_propagate_error(error, local);
    return NULL;
  }
  const char *time_text = member_string(o, "time", FALSE, origin, idx, &local);
  if (!local && time_text == NULL)
    time_text = member_string(o, "timestamp", FALSE, origin, idx, &local);
  if (local) {
    g_propagate_error(error, local);
    return NULL;
  }
  if (name[0] == '\0' || !g_utf8_validate(name, -1, NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u]: empty or invalid name",
                origin, idx);
    return NULL;
  }
  VsbGuid guid;
  if (!vsb_guid_parse(guid_text, &guid)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u] (%s): bad guid \"%s\"",
                origin, idx, name, guid_text);
    return NULL;
  }
  JsonNode *an = json_object_get_member(o, "attr");
  if (an == NULL || !JSON_NODE_HOLDS_VALUE(an) || json_node_get_value_type(an) != G_TYPE_INT64 ||
      json_node_get_int(an) < 0 || json_node_get_int(an) > G_MAXUINT32) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: variables[%u] (%s): \"attr\" is missing or not a 32-bit unsigned integer",
                origin, idx, name);
    return NULL;
  }
  g_autoptr(GError) herr = NULL;
  g_autoptr(GBytes) data = vsb_hex_decode(data_text, &herr);
  if (data == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u] (%s): \"data\": %s", origin,
                idx, name, herr->message);
    return NULL;
  }
  VsbVariable *v = vsb_variable_new(name, &guid, (guint32)json_node_get_int(an),
                                    g_bytes_get_data(data, NULL), g_bytes_get_size(data));
  if (time_text) {
    g_autoptr(GBytes) t = vsb_hex_decode(time_text, &herr);
    if (t == NULL || g_bytes_get_size(t) != EFI_TIME_SIZE) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: variables[%u] (%s): \"time\" must be 16 bytes of EFI_TIME in hex", origin,
                  idx, name);
      vsb_variable_free(v);
      return NULL;
    }
    vsb_efi_time_read(g_bytes_get_data(t, NULL), &v->timestamp);
  }
  const char *digest_text = member_string(o, "digest", FALSE, origin, idx, &local);
  if (local) {
    g_propagate_error(error, local);
    vsb_variable_free(v);
    return NULL;
  }
  if (digest_text && !(v->digest = vsb_hex_decode(digest_text, &herr))) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: variables[%u] (%s): \"digest\": %s",
                origin, idx, name, herr->message);
    vsb_variable_free(v);
    return NULL;
  }
  return v;
}

/* A varstore export nests three levels deep. */
#define VARJSON_MAX_DEPTH 16

GPtrArray *
vsb_varjson_parse(const char *text, gssize len, const char *origin, GError **error)
{
  gsize text_len = len < 0 ? (text ? strlen(text) : 0) : (gsize)len;
  g_autoptr(JsonNode) root = vsb_json_parse(text, text_len, VARJSON_MAX_DEPTH, origin, error);
  if (root == NULL)
    return NULL;
  JsonArray *list = NULL;
  if (root && JSON_NODE_HOLDS_ARRAY(root))
    list = json_node_get_array(root); /* version 1: a bare list */
  else if (root && JSON_NODE_HOLDS_OBJECT(root)) {
    JsonObject *o = json_node_get_object(root);
    JsonNode *ver = json_object_get_member(o, "version");
    if (ver && (!JSON_NODE_HOLDS_VALUE(ver) || json_node_get_value_type(ver) != G_TYPE_INT64 ||
                (json_node_get_int(ver) != 1 && json_node_get_int(ver) != 2))) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                  "%s: unsupported \"version\" (1 and 2 are known)", origin);
      return NULL;
    }
    JsonNode *vars = json_object_get_member(o, "variables");
    if (vars && JSON_NODE_HOLDS_ARRAY(vars))
      list = json_node_get_array(vars);
  }
  if (list == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: expected {\"version\": 2, \"variables\": [...]} or a list of variables",
                origin);
    return NULL;
  }
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_variable_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    VsbVariable *v = parse_entry(json_array_get_element(list, i), origin, i, error);
    if (v == NULL)
      return NULL;
    /* A hash of name and GUID: a document of a million variables stays linear. */
    char g[VSB_GUID_STRING_LEN + 1];
    char *key = g_strconcat(vsb_guid_format(&v->guid, g), ":", v->name, NULL);
    gpointer first;
    if (g_hash_table_lookup_extended(seen, key, NULL, &first)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s: variables[%u] (%s) repeats variables[%u] (same name and guid)", origin,
                  i, v->name, GPOINTER_TO_UINT(first));
      g_free(key);
      vsb_variable_free(v);
      return NULL;
    }
    g_hash_table_insert(seen, key, GUINT_TO_POINTER(i));
    g_ptr_array_add(out, v);
  }
  return g_steal_pointer(&out);
}

GPtrArray *
vsb_varjson_load(const char *path, GError **error)
{
  g_autoptr(GBytes) b = vsb_file_read(path, 64 << 20, error);
  if (b == NULL)
    return NULL;
  gsize len;
  const char *d = g_bytes_get_data(b, &len);
  return vsb_varjson_parse(len ? d : "", (gssize)len, path, error);
}

void
vsb_varjson_apply(VsbVarstore *store, GPtrArray *vars)
{
  vsb_varstore_clear(store);
  /* vsb_varstore_set looks for the name and GUID among those already set: only a variable
   * seen before needs it (vsb_varjson_parse gives none), so a large document stays linear. */
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < vars->len; i++) {
    VsbVariable *v = vsb_variable_copy(vars->pdata[i]);
    char g[VSB_GUID_STRING_LEN + 1];
    char *key = g_strconcat(vsb_guid_format(&v->guid, g), ":", v->name, NULL);
    if (!g_hash_table_add(seen, key)) {
      vsb_varstore_set(store, v);
      continue;
    }
    v->state = VSB_VAR_ADDED;
    v->offset = 0;
    g_ptr_array_add(store->variables, v);
  }
}
