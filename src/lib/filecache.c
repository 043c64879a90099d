/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "filecache.h"
#include "fileio.h"
#include "json.h"

#include <string.h>
#include <sys/stat.h>

/* A cache keeps at most this many files (those that still exist unchanged). */
#define CACHE_MAX_FILES 512
#define CACHE_MAX_BYTES (4 * 1024 * 1024)

static char *
cache_path(const char *cache)
{
  g_autofree char *base = g_strdup_printf("%s.json", cache);
  return g_build_filename(g_get_user_cache_dir(), "vsboot", base, NULL);
}

static char *
stat_key(const char *path)
{
  struct stat st;
  if (stat(path, &st) < 0)
    return NULL;
  return g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT
                         ":%" G_GINT64_FORMAT ".%09ld:%" G_GINT64_FORMAT ".%09ld",
                         (guint64)st.st_dev, (guint64)st.st_ino, (gint64)st.st_size,
                         (gint64)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                         (gint64)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* The "files" object of the cache, or NULL when there is no usable cache. */
static JsonObject *
load_files(const char *cache)
{
  g_autofree char *path = cache_path(cache);
  g_autoptr(GBytes) data = vsb_file_read(path, CACHE_MAX_BYTES, NULL);
  if (data == NULL)
    return NULL;
  gsize len = 0;
  const char *text = g_bytes_get_data(data, &len);
  g_autoptr(JsonNode) root = vsb_json_parse(text, len, 8, path, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
    return NULL;
  JsonNode *files = json_object_get_member(json_node_get_object(root), "files");
  if (files == NULL || !JSON_NODE_HOLDS_OBJECT(files))
    return NULL;
  return json_object_ref(json_node_get_object(files));
}

char *
vsb_file_cache_get(const char *cache, const char *path, const char *what)
{
  g_autofree char *key = stat_key(path);
  if (key == NULL)
    return NULL;
  JsonObject *files = load_files(cache);
  if (files == NULL)
    return NULL;
  char *value = NULL;
  JsonNode *e = json_object_get_member(files, path);
  if (e && JSON_NODE_HOLDS_OBJECT(e)) {
    JsonObject *eo = json_node_get_object(e);
    const char *k = json_object_get_string_member_with_default(eo, "stat", NULL);
    const char *v = json_object_get_string_member_with_default(eo, what, NULL);
    if (k && v && strcmp(k, key) == 0)
      value = g_strdup(v);
  }
  json_object_unref(files);
  return value;
}

void
vsb_file_cache_put(const char *cache, const char *path, const char *what, const char *value)
{
  g_autofree char *key = stat_key(path);
  if (key == NULL)
    return;
  JsonObject *old_files = load_files(cache);
  /* Only facts about files as they are now are carried over: entries for files since
   * removed or changed (a test's or image builder's temporary firmware copies) would make
   * every later lookup parse a larger cache for nothing. The one stat per entry is paid on a
   * miss only. */
  JsonObject *files = json_object_new();
  JsonObject *eo = NULL;
  if (old_files) {
    JsonObjectIter iter;
    const char *name;
    JsonNode *entry;
    json_object_iter_init(&iter, old_files);
    while (json_object_iter_next(&iter, &name, &entry)) {
      if (!JSON_NODE_HOLDS_OBJECT(entry) || json_object_get_size(files) >= CACHE_MAX_FILES - 1)
        continue;
      const char *stored =
        json_object_get_string_member_with_default(json_node_get_object(entry), "stat", NULL);
      g_autofree char *now = strcmp(name, path) == 0 ? g_strdup(key) : stat_key(name);
      if (stored == NULL || g_strcmp0(stored, now) != 0)
        continue;
      if (strcmp(name, path) == 0)
        eo = json_object_ref(json_node_get_object(entry));
      else
        json_object_set_member(files, name, json_node_copy(entry));
    }
    json_object_unref(old_files);
  }
  if (eo == NULL)
    eo = json_object_new();
  json_object_set_string_member(eo, "stat", key);
  json_object_set_string_member(eo, what, value);
  json_object_set_object_member(files, path, eo);

  g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
  JsonObject *ro = json_object_new();
  json_object_set_int_member(ro, "version", 1);
  json_object_set_object_member(ro, "files", files);
  json_node_take_object(root, ro);
  g_autofree char *text = json_to_string(root, FALSE);
  g_autofree char *cpath = cache_path(cache);
  g_autofree char *cdir = g_path_get_dirname(cpath);
  if (strlen(text) <= CACHE_MAX_BYTES && g_mkdir_with_parents(cdir, 0700) == 0)
    (void)vsb_file_write_atomic(cpath, text, strlen(text), 0600, FALSE, NULL);
}
