/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The varstore reader on arbitrary bytes: load, and when that succeeds, build the report,
 * serialise, and load the result again; both loads must agree on every live variable and the
 * rebuilt store must hold nothing but them. Bytes that autodetection takes for a JSON store go
 * through the JSON backend the same way. Any crash, sanitizer report or disagreement fails. */
#include "vsboot/efivar.h"
#include "vsboot/varjson.h"
#include "vsboot/varstore.h"
#include "storage.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(VsbVarstore *a, VsbVarstore *b)
{
  GPtrArray *va = vsb_varstore_get_variables(a), *vb = vsb_varstore_get_variables(b);
  if (va->len != vb->len || vsb_varstore_get_records(b)->len != vb->len)
    __builtin_trap();
  for (guint i = 0; i < va->len; i++) {
    const VsbVariable *x = va->pdata[i], *y = vb->pdata[i];
    if (strcmp(x->name, y->name) != 0 || !vsb_guid_equal(&x->guid, &y->guid) ||
        x->attributes != y->attributes || !g_bytes_equal(x->data, y->data))
      __builtin_trap();
    if (vsb_varstore_is_authenticated(a) &&
        (memcmp(&x->timestamp, &y->timestamp, sizeof x->timestamp) != 0 ||
         x->monotonic_count != y->monotonic_count || x->pubkey_index != y->pubkey_index))
      __builtin_trap();
  }
}

static gboolean
same_bytes(GBytes *a, GBytes *b)
{
  return (a == NULL && b == NULL) || (a && b && g_bytes_equal(a, b));
}

/* A JSON store: load, report, write back, load again: the same variables, time stamps and
 * digests, in the same order. */
static void
fuzz_json(GBytes *in)
{
  GError *error = NULL;
  VsbVarstore *s = vsb_storage_json.load(in, "fuzz.json", &error);
  if (s == NULL) {
    if (error == NULL || error->message == NULL)
      __builtin_trap();
    g_error_free(error);
    return;
  }
  json_node_unref(vsb_varstore_report(s, TRUE));
  GBytes *out = vsb_varstore_serialize(s, &error);
  VsbVarstore *again = out ? vsb_storage_json.load(out, "again.json", &error) : NULL;
  if (again == NULL)
    __builtin_trap();
  GPtrArray *va = vsb_varstore_get_variables(s), *vb = vsb_varstore_get_variables(again);
  if (va->len != vb->len)
    __builtin_trap();
  for (guint i = 0; i < va->len; i++) {
    const VsbVariable *x = va->pdata[i], *y = vb->pdata[i];
    if (strcmp(x->name, y->name) != 0 || !vsb_guid_equal(&x->guid, &y->guid) ||
        x->attributes != y->attributes || !g_bytes_equal(x->data, y->data) ||
        memcmp(&x->timestamp, &y->timestamp, sizeof x->timestamp) != 0 ||
        !same_bytes(x->digest, y->digest))
      __builtin_trap();
  }
  vsb_varstore_free(again);
  g_bytes_unref(out);
  vsb_varstore_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (vsb_storage_detect(data, size) == &vsb_storage_json) {
    GBytes *json = g_bytes_new_static(data, size);
    fuzz_json(json);
    g_bytes_unref(json);
  }
  GBytes *in = g_bytes_new_static(data, size);
  GError *error = NULL;
  VsbVarstore *s = vsb_varstore_load_bytes(in, "fuzz", &error);
  if (s == NULL) {
    if (error == NULL || error->message == NULL)
      __builtin_trap();
    g_error_free(error);
    g_bytes_unref(in);
    return 0;
  }
  JsonNode *report = vsb_varstore_report(s, TRUE);
  json_node_unref(report);
  GBytes *out = vsb_varstore_serialize(s, &error);
  if (out == NULL)
    __builtin_trap(); /* the live set was read from the region, so it fits again */
  if (g_bytes_get_size(out) != size)
    __builtin_trap();
  VsbVarstore *again = vsb_varstore_load_bytes(out, "again", &error);
  if (again == NULL)
    __builtin_trap();
  check_same(s, again);
  /* JSON export -> import over the loaded store: the same bytes again. */
  char *text = vsb_varjson_export_text(s);
  GPtrArray *vars = vsb_varjson_parse(text, -1, "fuzz.json", &error);
  if (vars == NULL)
    __builtin_trap();
  /* The JSON format has no MonotonicCount or PubKeyIndex (0 in every real store). */
  gboolean exact = TRUE;
  GPtrArray *live = vsb_varstore_get_variables(s);
  for (guint i = 0; i < live->len; i++) {
    const VsbVariable *v = live->pdata[i];
    exact &= v->monotonic_count == 0 && v->pubkey_index == 0;
  }
  vsb_varjson_apply(again, vars);
  GBytes *out2 = vsb_varstore_serialize(again, &error);
  if (out2 == NULL || (exact && !g_bytes_equal(out, out2)))
    __builtin_trap();
  g_bytes_unref(out2);
  g_ptr_array_unref(vars);
  g_free(text);
  vsb_varstore_free(again);
  g_bytes_unref(out);
  vsb_varstore_free(s);
  g_bytes_unref(in);
  return 0;
}
