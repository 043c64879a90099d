/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The qcow2 backend: an edk2 flash image inside qcow2, read and written through qemu-img (tool.h,
 * with its time limit). The flash bytes themselves are the edk2 backend's. */
#include "storage.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "json.h"
#include "tool.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
run_tool(const char *const *argv, GError **error)
{
  g_autofree char *out = NULL, *err_text = NULL;
  int status = 0;
  if (!vsb_tool_run(argv, &out, &err_text, &status, error))
    return FALSE;
  if (status != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s failed: %s", argv[0],
                err_text ? g_strstrip(err_text) : "");
    return FALSE;
  }
  return TRUE;
}

/* A private scratch directory for qemu-img (mode 0700, random name), remembered by identity so
 * that removing it can never remove anything else (a link or directory planted meanwhile). */
typedef struct {
  char *path;
  struct stat st;
  int lock_fd; /* the flock that marks a directory next to the target as in use, or -1 */
} ScratchDir;

static gboolean
scratch_in_tmp(ScratchDir *d, const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  d->lock_fd = -1;
  d->path = g_dir_make_tmp("vsboot-XXXXXX", &local);
  if (d->path == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, local->message);
    return FALSE;
  }
  if (lstat(d->path, &d->st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", d->path, g_strerror(errno));
    (void)g_rmdir(d->path);
    g_clear_pointer(&d->path, g_free);
    return FALSE;
  }
  return TRUE;
}

static void
scratch_remove(ScratchDir *d)
{
  if (d->path != NULL)
    (void)vsb_dir_remove_created(d->path, &d->st, NULL); /* best effort, only what we made */
  if (d->lock_fd >= 0)
    close(d->lock_fd);
  d->lock_fd = -1;
  g_clear_pointer(&d->path, g_free);
}

static gboolean
qcow2_detect(const guint8 *data, gsize len)
{
  return len >= 4 && memcmp(data, "QFI\xfb", 4) == 0;
}

/* A qcow2 varstore must stand alone: a backing file or an external data file (both named by
 * path inside the image) would make qemu-img read some other file, perhaps a FIFO or a secret,
 * as part of the store. Read from the header (big-endian): backing_file_offset at 8, and for
 * version 3 the incompatible-feature bit 2 (external data file) at 72. */
static gboolean
check_qcow2_standalone(const char *path, const guint8 *data, gsize len, GError **error)
{
  guint32 version = len >= 8 ? GUINT32_FROM_BE(*(const guint32 *)(const void *)(data + 4)) : 0;
  guint64 backing = 0, incompatible = 0;
  if (len >= 16)
    memcpy(&backing, data + 8, 8);
  if (version >= 3 && len >= 80)
    memcpy(&incompatible, data + 72, 8);
  backing = GUINT64_FROM_BE(backing);
  incompatible = GUINT64_FROM_BE(incompatible);
  if (backing != 0 || (incompatible & 4) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: the qcow2 image uses %s; a variable store must be a file of its own", path,
                backing != 0 ? "a backing file" : "an external data file");
    return FALSE;
  }
  return TRUE;
}

/* text with every mention of the private copy image replaced by the user's path. */
static char *
name_origin(const char *text, const char *image, const char *path)
{
  g_auto(GStrv) parts = g_strsplit(text, image, -1);
  return g_strjoinv(path, parts);
}

static void
tool_failed(GError **error, const char *path, const char *image, const char *what, int status,
            const char *err_text)
{
  g_autofree char *why = g_strstrip(name_origin(err_text ? err_text : "", image, path));
  char *nl = strchr(why, '\n');
  if (nl)
    *nl = '\0';
  g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s: %s failed (exit %d): %s", path, what,
              status, *why ? why : "no message");
}

/* `qemu-img convert` reads clusters past the end of a truncated qcow2 file as zeros, so a
 * cut-off store came out as a blank image and read as an empty store. Two cheap questions
 * first (a few milliseconds each for a store): `qemu-img check` sees metadata and clusters that
 * lie beyond the end (it reports corruptions; leaked clusters alone, exit 3, are harmless), but
 * not a cut inside the last cluster; `qemu-img map` gives where each uncompressed data extent
 * lies in the file, which must be inside it. */
static gboolean
check_qcow2(const char *path, const char *image, gint64 file_size, GError **error)
{
  const char *check[] = { "qemu-img", "check", "-f", "qcow2", "--output=json", image, NULL };
  g_autofree char *out = NULL, *err_text = NULL;
  int status = 0;
  if (!vsb_tool_run(check, &out, &err_text, &status, error))
    return FALSE;
  if (status != 0 && status != 3) {
    gint64 corruptions = 0, check_errors = 0;
    g_autoptr(JsonNode) report =
      vsb_json_parse(out, out ? strlen(out) : 0, 16, "qemu-img check", NULL);
    if (report && JSON_NODE_HOLDS_OBJECT(report)) {
      JsonObject *o = json_node_get_object(report);
      corruptions = json_object_get_int_member_with_default(o, "corruptions", 0);
      check_errors = json_object_get_int_member_with_default(o, "check-errors", 0);
    }
    if (corruptions <= 0 && check_errors <= 0) {
      /* Not even opened (a bad header): qemu-img says why on stderr. */
      tool_failed(error, path, image, "qemu-img check", status, err_text);
      return FALSE;
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: the qcow2 image is corrupt or truncated (%" G_GINT64_FORMAT " bytes; "
                "qemu-img check found %" G_GINT64_FORMAT " corruptions, %" G_GINT64_FORMAT
                " check errors)", path, file_size, corruptions, check_errors);
    return FALSE;
  }

  const char *map[] = { "qemu-img", "map", "-f", "qcow2", "--output=json", image, NULL };
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err_text, g_free);
  if (!vsb_tool_run(map, &out, &err_text, &status, error))
    return FALSE;
  g_autoptr(JsonNode) map_root =
    status == 0 ? vsb_json_parse(out, out ? strlen(out) : 0, 16, "qemu-img map", NULL) : NULL;
  if (map_root == NULL || !JSON_NODE_HOLDS_ARRAY(map_root)) {
    tool_failed(error, path, image, "qemu-img map", status, err_text);
    return FALSE;
  }
  JsonArray *extents = json_node_get_array(map_root);
  for (guint i = 0; i < json_array_get_length(extents); i++) {
    JsonNode *n = json_array_get_element(extents, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      continue;
    JsonObject *e = json_node_get_object(n);
    if (!json_object_has_member(e, "offset") || !json_object_get_boolean_member_with_default(e, "data", FALSE))
      continue; /* unallocated, zero or compressed: nothing to read at a file offset */
    gint64 off = json_object_get_int_member_with_default(e, "offset", -1);
    gint64 len = json_object_get_int_member_with_default(e, "length", -1);
    if (off < 0 || len < 0 || off > file_size || len > file_size - off) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: the qcow2 image is corrupt or truncated: %" G_GINT64_FORMAT " bytes of "
                  "data at file offset 0x%" G_GINT64_MODIFIER "x, but the file has %"
                  G_GINT64_FORMAT " bytes", path, len, off, file_size);
      return FALSE;
    }
  }
  return TRUE;
}

static VsbVarstore *
qcow2_load(GBytes *bytes, const char *path, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);

  /* qemu-img reads a private copy of the bytes just read and checked, never the user's path:
   * what is converted is what was validated (the path cannot be swapped for a FIFO or another
   * file meanwhile), and its image locks never touch the store, where an editor's QEMU probe
   * would take them for a running VM. */
  ScratchDir tmp = { 0 };
  if (!check_qcow2_standalone(path, data, len, error) || !scratch_in_tmp(&tmp, path, error))
    return NULL;
  g_autofree char *image = g_build_filename(tmp.path, "vars.qcow2", NULL);
  g_autofree char *raw = g_build_filename(tmp.path, "vars.raw", NULL);
  VsbWriteOptions copy = { .mode = 0600, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(image, data, len, &copy, error) ||
      !check_qcow2(path, image, (gint64)len, error)) {
    scratch_remove(&tmp);
    return NULL;
  }
  const char *argv[] = { "qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, raw, NULL };
  VsbVarstore *s = NULL;
  g_autoptr(GError) local = NULL;
  if (run_tool(argv, &local)) {
    g_autoptr(GBytes) rawbytes = vsb_file_read(raw, VSB_STORAGE_MAX_FILE_SIZE, error);
    if (rawbytes && (s = vsb_storage_edk2.load(rawbytes, path, error)) != NULL)
      s->backend = &vsb_storage_qcow2;
  } else {
    /* A compressed cluster cut short fails here, as a read error; say which file. */
    g_autofree char *msg = name_origin(local->message, image, path);
    g_set_error(error, local->domain, local->code, "%s: %s", path, msg);
  }
  scratch_remove(&tmp);
  return s;
}


/* qcow2: qemu-img writes into a private directory (random name, 0700) next to the target,
 * never at a name anyone could predict; the result then replaces the target by rename. */
static gboolean
qcow2_write(GBytes *bytes, const char *real, const VsbWriteOptions *opts, GError **error)
{
  ScratchDir tmp = { 0 };
  tmp.path = vsb_file_make_temp_dir_near(real, &tmp.st, &tmp.lock_fd, error);
  if (tmp.path == NULL)
    return FALSE;
  g_autofree char *raw = g_build_filename(tmp.path, "vars.raw", NULL);
  g_autofree char *out = g_build_filename(tmp.path, "vars.qcow2", NULL);
  VsbWriteOptions raw_opts = { .mode = 0600, .exclusive = TRUE };
  gboolean ok = vsb_file_write_atomic_full(raw, g_bytes_get_data(bytes, NULL),
                                           g_bytes_get_size(bytes), &raw_opts, error);
  if (ok) {
    const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o",
                           "cluster_size=4096", "-S", "4096", raw, out, NULL };
    ok = run_tool(argv, error);
  }
  if (ok) {
    vsb_file_test_crash_point("after-qcow2-convert");
    ok = vsb_file_replace_with(out, real, opts, error);
  }
  scratch_remove(&tmp);
  return ok;
}

/* The flash bytes are the edk2 backend's; only where they are kept differs. */
static GBytes *
qcow2_serialize(const VsbVarstore *store, GError **error)
{
  return vsb_storage_edk2.serialize(store, error);
}

const VsbStorageBackend vsb_storage_qcow2 = {
  .name = "qcow2",
  .detect = qcow2_detect,
  .load = qcow2_load,
  .serialize = qcow2_serialize,
  .write = qcow2_write,
};
