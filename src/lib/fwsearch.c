/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/fwsearch.h"
#include "vsboot/error.h"
#include "vsb-config.h"
#include "util/jsonb.h"
#include "util/enumname.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

char **
vsb_fw_search_default_dirs(void)
{
  const char *xdg = g_getenv("XDG_CONFIG_HOME");
  g_autofree char *config = NULL;
  if (xdg && *xdg)
    config = g_strdup(xdg);
  else
    config = g_build_filename(g_get_home_dir(), ".config", NULL);
  char **dirs = g_new0(char *, 4);
  dirs[0] = g_build_filename(VSB_DATADIR, "firmware", NULL);
  dirs[1] = g_build_filename(VSB_SYSCONFDIR, "firmware", NULL);
  dirs[2] = g_build_filename(config, "qemu", "firmware", NULL);
  return dirs;
}

static const char *const entry_kind_names[] = {
  [VSB_FW_ENTRY_DESCRIPTOR] = "descriptor",
  [VSB_FW_ENTRY_INVALID] = "invalid",
  [VSB_FW_ENTRY_MASK] = "mask",
};
VSB_ENUM_NAME_ONLY(vsb_fw_entry_kind, VsbFwEntryKind, entry_kind_names,
                   G_N_ELEMENTS(entry_kind_names), "(invalid)")

void
vsb_fw_entry_free(VsbFwEntry *e)
{
  if (e == NULL)
    return;
  g_free(e->name);
  g_free(e->path);
  g_free(e->dir);
  vsb_fw_descriptor_unref(e->descriptor);
  g_clear_error(&e->error);
  g_strfreev(e->overrides);
  g_free(e);
}

/* A candidate file before parsing: the winner of one basename, with what it overrode. */
typedef struct {
  char *path;
  char *dir;
  gboolean regular;
  goffset size;
  int stat_errno;
  GPtrArray *overrides; /* char* */
} Candidate;

static void
candidate_free(gpointer p)
{
  Candidate *c = p;
  g_free(c->path);
  g_free(c->dir);
  g_ptr_array_unref(c->overrides);
  g_free(c);
}

static gboolean
scan_dir(GHashTable *table, const char *dir, gboolean must_exist, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open(dir, 0, &local);
  if (d == NULL) {
    if (!must_exist && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    if (!must_exist && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
      return TRUE;
    g_set_error(error, VSB_ERROR,
                g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? VSB_ERROR_NOT_FOUND
                                                                         : VSB_ERROR_IO,
                "firmware directory %s: %s", dir, local->message);
    return FALSE;
  }
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL) {
    if (name[0] == '.')
      continue;
    g_autofree char *path = g_build_filename(dir, name, NULL);
    struct stat st;
    int serr = 0;
    if (stat(path, &st) != 0)
      serr = errno;
    else if (S_ISDIR(st.st_mode))
      continue; /* libvirt keeps regular files only; a directory is not a candidate */
    Candidate *c = g_new0(Candidate, 1);
    c->path = g_steal_pointer(&path);
    c->dir = g_strdup(dir);
    c->stat_errno = serr;
    c->regular = serr == 0 && S_ISREG(st.st_mode);
    c->size = serr == 0 ? st.st_size : 0;
    c->overrides = g_ptr_array_new_with_free_func(g_free);
    Candidate *old = g_hash_table_lookup(table, name);
    if (old) {
      /* What the old one overrode, this one overrides too (general first). */
      for (guint i = 0; i < old->overrides->len; i++)
        g_ptr_array_add(c->overrides, g_strdup(old->overrides->pdata[i]));
      g_ptr_array_add(c->overrides, g_strdup(old->path));
    }
    if (!c->regular && serr == 0) {
      /* A FIFO, socket or device: libvirt ignores it; so do we, without hiding anything. */
      candidate_free(c);
      continue;
    }
    g_hash_table_replace(table, g_strdup(name), c);
  }
  return TRUE;
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char **
strv_from_ptr_array(GPtrArray *arr)
{
  char **v = g_new0(char *, arr->len + 1);
  for (guint i = 0; i < arr->len; i++)
    v[i] = g_strdup(arr->pdata[i]);
  return v;
}

GPtrArray *
vsb_fw_search(const char *const *dirs, GError **error)
{
  g_auto(GStrv) defaults = NULL;
  gboolean explicit_dirs = dirs != NULL;
  if (!explicit_dirs) {
    defaults = vsb_fw_search_default_dirs();
    dirs = (const char *const *)defaults;
  }
  g_autoptr(GHashTable) table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                       candidate_free);
  for (const char *const *d = dirs; *d; d++)
    if (!scan_dir(table, *d, explicit_dirs, error))
      return NULL;

  g_autofree const char **names = (const char **)g_hash_table_get_keys_as_array(table, NULL);
  guint n = g_hash_table_size(table);
  qsort(names, n, sizeof(char *), compare_names);

  GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_fw_entry_free);
  for (guint i = 0; i < n; i++) {
    Candidate *c = g_hash_table_lookup(table, names[i]);
    VsbFwEntry *e = g_new0(VsbFwEntry, 1);
    e->name = g_strdup(names[i]);
    e->path = g_strdup(c->path);
    e->dir = g_strdup(c->dir);
    e->overrides = strv_from_ptr_array(c->overrides);
    if (c->stat_errno != 0) {
      e->kind = VSB_FW_ENTRY_INVALID;
      e->error = g_error_new(VSB_ERROR, VSB_ERROR_IO, "%s: %s", c->path,
                             g_strerror(c->stat_errno));
    } else if (c->size == 0) {
      e->kind = VSB_FW_ENTRY_MASK;
    } else {
      GError *perr = NULL;
      e->descriptor = vsb_fw_descriptor_load(c->path, &perr);
      if (e->descriptor) {
        e->kind = VSB_FW_ENTRY_DESCRIPTOR;
      } else {
        e->kind = VSB_FW_ENTRY_INVALID;
        e->error = perr;
      }
    }
    g_ptr_array_add(entries, e);
  }
  return entries;
}

VsbFwEntry *
vsb_fw_search_find(GPtrArray *entries, const char *name)
{
  g_autofree char *with_json = g_str_has_suffix(name, ".json") ? NULL
                                                               : g_strconcat(name, ".json", NULL);
  for (guint i = 0; i < entries->len; i++) {
    VsbFwEntry *e = entries->pdata[i];
    if (strcmp(e->name, name) == 0 || (with_json && strcmp(e->name, with_json) == 0))
      return e;
  }
  return NULL;
}

JsonNode *
vsb_fw_entry_to_json(const VsbFwEntry *e)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "name", e->name);
  vsb_json_put_str(b, "path", e->path);
  vsb_json_put_str(b, "kind", vsb_fw_entry_kind_name(e->kind));
  json_builder_set_member_name(b, "overrides");
  json_builder_begin_array(b);
  for (char **o = e->overrides; o && *o; o++)
    json_builder_add_string_value(b, *o);
  json_builder_end_array(b);
  if (e->kind == VSB_FW_ENTRY_INVALID) {
    vsb_json_put_str(b, "error", e->error ? e->error->message : "invalid");
  }
  if (e->descriptor) {
    json_builder_set_member_name(b, "descriptor");
    json_builder_add_value(b, vsb_fw_descriptor_to_json(e->descriptor));
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
