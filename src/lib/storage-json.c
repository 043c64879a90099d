/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON backend: a store kept as the JSON document of vars export/import, which QEMU's
 * uefi-vars device reads and writes (-device uefi-vars-x64,jsonfile=) and virt-firmware and
 * python-uefivars speak (varjson.h has the format). It holds the live variables and nothing
 * else: no records, no layout, no fixed capacity, no boot facts of a flash driver. */
#include "storage.h"
#include "vsboot/varjson.h"

#include <string.h>

/* A JSON document's first character, after white space, opens an object or a list (version 1
 * of the format is a bare list). A flash image starts with its volume's 16 zero bytes, a qcow2
 * image with "QFI\xfb". */
static gboolean
json_detect(const guint8 *data, gsize len)
{
  gsize i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
    i++;
  return i < len && (data[i] == '{' || data[i] == '[');
}

static VsbVarstore *
json_load(GBytes *bytes, const char *origin, GError **error)
{
  gsize len;
  const char *text = g_bytes_get_data(bytes, &len);
  g_autoptr(GPtrArray) vars = vsb_varjson_parse(len ? text : "", (gssize)len, origin, error);
  if (vars == NULL)
    return NULL;
  VsbVarstore *s = vsb_storage_store_new(origin, &vsb_storage_json);
  /* Time stamps are kept (the "time" member), as an authenticated store keeps them. */
  s->flash.authenticated = TRUE;
  for (guint i = 0; i < vars->len; i++)
    g_ptr_array_add(s->variables, vsb_variable_copy(vars->pdata[i]));
  return s;
}

static GBytes *
json_serialize(const VsbVarstore *store, GError **error)
{
  (void)error;
  char *text = vsb_varjson_export_text(store);
  return g_bytes_new_take(text, strlen(text));
}

const VsbStorageBackend vsb_storage_json = {
  .name = "json",
  .detect = json_detect,
  .load = json_load,
  .serialize = json_serialize,
  .write = NULL,
};
