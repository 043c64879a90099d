/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The variable-store model: live variables, the records they came from and what was edited,
 * apart from how the store is kept in a file (storage.h lists the backends: edk2 raw flash,
 * qcow2, JSON; storage-lock.c the locking). Loading asks the registry which backend the
 * content is; saving writes with the backend the store came from. */
#include "storage.h"
#include "vsboot/error.h"
#include "util/le.h"
#include "util/timetext.h"
#include "fileio.h"

#include <string.h>

/* ---- variables ----------------------------------------------------------------------------- */

VsbVariable *
vsb_variable_new(const char *name, const VsbGuid *guid, guint32 attributes, const void *data,
                 gsize len)
{
  VsbVariable *v = g_new0(VsbVariable, 1);
  v->name = g_strdup(name);
  v->guid = *guid;
  v->attributes = attributes;
  v->data = g_bytes_new(data, len);
  v->state = VSB_VAR_ADDED;
  return v;
}

VsbVariable *
vsb_variable_copy(const VsbVariable *var)
{
  VsbVariable *v = g_new(VsbVariable, 1);
  *v = *var;
  v->name = g_strdup(var->name);
  v->data = var->data ? g_bytes_ref(var->data) : g_bytes_new(NULL, 0);
  v->digest = var->digest ? g_bytes_ref(var->digest) : NULL;
  return v;
}

void
vsb_variable_free(VsbVariable *var)
{
  if (var == NULL)
    return;
  g_free(var->name);
  if (var->data)
    g_bytes_unref(var->data);
  if (var->digest)
    g_bytes_unref(var->digest);
  g_free(var);
}

gboolean
vsb_efi_time_is_zero(const VsbEfiTime *t)
{
  static const VsbEfiTime zero;
  return memcmp(t, &zero, sizeof zero) == 0;
}

char *
vsb_efi_time_to_string(const VsbEfiTime *t)
{
  return vsb_time_text_efi(t); /* the one EFI_TIME text (util/timetext.h) */
}

const char *
vsb_variable_state_name(guint8 state)
{
  switch (state) {
  case 0x3f: return "added";
  case 0x3e: return "in-deleted-transition";
  case 0x3d: return "deleted";
  case 0x3c: return "deleted-after-transition";
  case 0x7f: return "header-only";
  case 0xff: return "erased";
  default: return "unknown";
  }
}

/* ---- store object -------------------------------------------------------------------------- */

VsbVarstore *
vsb_storage_store_new(const char *origin, const VsbStorageBackend *backend)
{
  VsbVarstore *s = g_new0(VsbVarstore, 1);
  s->origin = g_strdup(origin);
  s->backend = backend;
  s->variables = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_variable_free);
  s->records = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_variable_free);
  s->warnings = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(s->warnings, NULL);
  return s;
}

void
vsb_varstore_free(VsbVarstore *store)
{
  if (store == NULL)
    return;
  g_free(store->origin);
  g_free(store->flash.reformat);
  g_free(store->flash.duplicate);
  g_free(store->flash.image);
  g_ptr_array_unref(store->variables);
  g_ptr_array_unref(store->records);
  g_ptr_array_unref(store->warnings);
  g_free(store);
}

void
vsb_storage_add_warning(VsbVarstore *s, const char *fmt, ...)
{
  /* A crafted store could produce one warning per record: keep the first 100. */
  if (s->warnings->len > 100)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = s->warnings->len == 100 ? g_strdup("further warnings omitted")
                                       : g_strdup_vprintf(fmt, ap);
  va_end(ap);
  /* Keep the array NULL-terminated: overwrite the terminator, then append a new one. */
  s->warnings->pdata[s->warnings->len - 1] = msg;
  g_ptr_array_add(s->warnings, NULL);
}

/* ---- loading ----------------------------------------------------------------------------- */

VsbVarstore *
vsb_varstore_load(const char *path, GError **error)
{
  g_autoptr(GBytes) bytes = vsb_file_read(path, VSB_STORAGE_MAX_FILE_SIZE, error);
  if (bytes == NULL)
    return NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  return vsb_storage_detect(data, len)->load(bytes, path, error);
}

VsbVarstore *
vsb_varstore_load_bytes(GBytes *bytes, const char *origin, GError **error)
{
  return vsb_storage_edk2.load(bytes, origin, error);
}

/* ---- accessors ---------------------------------------------------------------------------- */

void
vsb_varstore_get_boot_facts(const VsbVarstore *s, VsbVarstoreBootFacts *out)
{
  /* An edited store is written compacted (no transition records, clean free space) with the
   * volume header and the FTW area kept as they were. */
  out->reformat = s->flash.reformat;
  out->reclaim = s->flash.free_dirty && !s->modified;
  out->tail_header = s->flash.tail_header && !s->modified;
  out->ftw_pending = s->flash.ftw_pending;
  out->duplicate = s->modified ? NULL : s->flash.duplicate;
}

int
vsb_varstore_first_data_byte(const VsbVarstore *s, const VsbVariable *v)
{
  gsize len;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  if (len > 0)
    return d[0];
  /* DataSize 0: the firmware dereferences the data pointer anyway and reads the byte after the
   * name, which is the record's padding (copied verbatim by a reclaim) or the next header's
   * StartId or free space (never 0x01). Records made in memory are written with 0xFF padding. */
  const VsbFlashImage *f = &s->flash;
  if (v->offset == 0 || s->modified || f->image == NULL)
    return 0xff;
  const gsize hdr = f->authenticated ? VSB_AUTH_VAR_HEADER_SIZE : VSB_VAR_HEADER_SIZE;
  const gsize name_off = f->authenticated ? 36 : 8;
  if (v->offset + hdr + 4 > f->size)
    return 0xff;
  const guint8 *ns = f->image + v->offset + name_off;
  gsize at = v->offset + hdr + vsb_le32(ns);
  return at < f->size ? f->image[at] : 0xff;
}

/* A store kept elsewhere than in a flash image (JSON) has no layout, file offsets or fixed
 * capacity: those read as VSB_VARSTORE_LAYOUT_NONE and 0. */
VsbVarstoreLayout vsb_varstore_get_layout(const VsbVarstore *s) { return s->flash.image ? s->flash.layout : VSB_VARSTORE_LAYOUT_NONE; }
gboolean vsb_varstore_is_qcow2(const VsbVarstore *s) { return s->backend == &vsb_storage_qcow2; }
const char *vsb_varstore_get_format(const VsbVarstore *s) { return s->backend->name; }
gsize vsb_varstore_get_file_size(const VsbVarstore *s) { return s->flash.size; }
gsize vsb_varstore_get_volume_offset(const VsbVarstore *s) { return s->flash.vol_offset; }
gsize vsb_varstore_get_capacity(const VsbVarstore *s) { return s->flash.region_end - s->flash.first_offset; }
const char *vsb_varstore_get_origin(const VsbVarstore *s) { return s->origin; }
gboolean vsb_varstore_is_authenticated(const VsbVarstore *s) { return s->flash.authenticated; }
gsize vsb_varstore_get_first_offset(const VsbVarstore *s) { return s->flash.first_offset; }
gsize vsb_varstore_get_free_offset(const VsbVarstore *s) { return s->flash.free_offset; }
GPtrArray *vsb_varstore_get_variables(const VsbVarstore *s) { return s->variables; }
GPtrArray *vsb_varstore_get_records(const VsbVarstore *s) { return s->records; }

const char *const *
vsb_varstore_get_warnings(const VsbVarstore *s)
{
  return (const char *const *)s->warnings->pdata;
}

/* What the variable takes in an edk2 store: header, UCS-2 name with its NUL, data (the name
 * may not convert: *ok FALSE). */
gsize
vsb_storage_record_size(const VsbVarstore *s, const VsbVariable *v, gboolean *ok)
{
  glong n = 0;
  g_autofree gunichar2 *u = g_utf8_to_utf16(v->name, -1, NULL, &n, NULL);
  *ok = u != NULL;
  return (s->flash.authenticated ? VSB_AUTH_VAR_HEADER_SIZE : VSB_VAR_HEADER_SIZE) + ((gsize)n + 1) * 2 +
         g_bytes_get_size(v->data);
}

gsize
vsb_varstore_get_used(const VsbVarstore *s)
{
  gsize used = 0;
  for (guint i = 0; i < s->variables->len; i++) {
    gboolean ok;
    used += VSB_HEADER_ALIGN(vsb_storage_record_size(s, s->variables->pdata[i], &ok));
  }
  return used;
}

const VsbVariable *
vsb_varstore_lookup(const VsbVarstore *s, const char *name, const VsbGuid *guid)
{
  for (guint i = 0; i < s->variables->len; i++) {
    const VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, name) == 0 && (guid == NULL || vsb_guid_equal(&v->guid, guid)))
      return v;
  }
  return NULL;
}

void
vsb_varstore_set(VsbVarstore *s, VsbVariable *var)
{
  s->modified = TRUE;
  var->state = VSB_VAR_ADDED;
  for (guint i = 0; i < s->variables->len; i++) {
    VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, var->name) == 0 && vsb_guid_equal(&v->guid, &var->guid)) {
      var->offset = 0;
      vsb_variable_free(v);
      s->variables->pdata[i] = var;
      return;
    }
  }
  var->offset = 0;
  g_ptr_array_add(s->variables, var);
}

gboolean
vsb_varstore_delete(VsbVarstore *s, const char *name, const VsbGuid *guid)
{
  gboolean found = FALSE;
  s->modified = TRUE;
  for (guint i = 0; i < s->variables->len;) {
    VsbVariable *v = s->variables->pdata[i];
    if (strcmp(v->name, name) == 0 && (guid == NULL || vsb_guid_equal(&v->guid, guid))) {
      g_ptr_array_remove_index(s->variables, i);
      found = TRUE;
    } else
      i++;
  }
  return found;
}

void
vsb_varstore_clear(VsbVarstore *s)
{
  s->modified = TRUE;
  g_ptr_array_set_size(s->variables, 0);
}

static gint
cmp_name(gconstpointer a, gconstpointer b)
{
  const VsbVariable *x = *(VsbVariable *const *)a, *y = *(VsbVariable *const *)b;
  return strcmp(x->name, y->name); /* UTF-8 byte order is code-point order */
}

void
vsb_varstore_sort_by_name(VsbVarstore *s)
{
  /* g_ptr_array_sort is a stable merge sort: same names keep their order. */
  s->modified = TRUE;
  g_ptr_array_sort(s->variables, cmp_name);
}

GBytes *
vsb_varstore_serialize(const VsbVarstore *s, GError **error)
{
  return s->backend->serialize(s, error);
}

gboolean
vsb_varstore_save_full(const VsbVarstore *s, const char *path, const VsbWriteOptions *opts,
                       gboolean force, GError **error)
{
  static const VsbWriteOptions defaults = { 0 };
  if (opts == NULL)
    opts = &defaults;
  g_autoptr(GBytes) bytes = vsb_varstore_serialize(s, error);
  if (bytes == NULL)
    return FALSE;
  /* Editing through a link: everything below works on the real file (so a backend's private
   * directory is on its filesystem and the link stays a link). */
  g_autofree char *real = opts->follow_final_symlink ? vsb_file_resolve_final(path, error)
                                                     : g_strdup(path);
  if (real == NULL)
    return FALSE;
  if (!force && !vsb_storage_check_not_held(real, error))
    return FALSE;
  if (s->backend->write == NULL)
    return vsb_file_write_atomic_full(real, g_bytes_get_data(bytes, NULL),
                                      g_bytes_get_size(bytes), opts, error);
  return s->backend->write(bytes, real, opts, error);
}

gboolean
vsb_varstore_save(const VsbVarstore *s, const char *path, int mode, gboolean force,
                  GError **error)
{
  VsbWriteOptions opts = { .mode = (guint)mode };
  return vsb_varstore_save_full(s, path, &opts, force, error);
}
