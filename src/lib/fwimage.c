/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fwimage.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "json.h"
#include "tool.h"
#include "util/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

gboolean
vsb_fw_image_size(const char *path, VsbFwFormat format, guint64 *size, GError **error)
{
  struct stat st;
  if (stat(path, &st) < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO, "%s: %s",
                path, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: not a regular file", path);
    return FALSE;
  }
  /* A raw image that is really qcow2 (or the reverse) would be read as garbage by QEMU. */
  gboolean is_qcow2 = vsb_file_is_qcow2(path);
  if (is_qcow2 != (format == VSB_FW_FORMAT_QCOW2)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: the descriptor says format %s but the file is %s", path,
                vsb_fw_format_name(format), is_qcow2 ? "qcow2" : "not qcow2");
    return FALSE;
  }
  if (format == VSB_FW_FORMAT_RAW) {
    *size = (guint64)st.st_size;
    return TRUE;
  }

  /* -U: a running QEMU may hold the image; its size can still be read. */
  const char *argv[] = { "qemu-img", "info", "--output=json", "-f", "qcow2", "-U", path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  if (!vsb_tool_run(argv, &out, &err, &status, error)) {
    g_prefix_error(error, "%s: ", path);
    return FALSE;
  }
  if (status != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "qemu-img info %s failed: %s", path,
                err ? g_strstrip(err) : "");
    return FALSE;
  }
  g_autoptr(JsonNode) root = vsb_json_parse(out, out ? strlen(out) : 0, 16, "qemu-img info", NULL);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
  JsonNode *vs = o ? json_object_get_member(o, "virtual-size") : NULL;
  if (vs == NULL || !JSON_NODE_HOLDS_VALUE(vs) || json_node_get_value_type(vs) != G_TYPE_INT64 ||
      json_node_get_int(vs) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "qemu-img info %s: no virtual-size", path);
    return FALSE;
  }
  *size = (guint64)json_node_get_int(vs);
  return TRUE;
}

gboolean
vsb_fw_image_check_pair(VsbFwArch arch, const char *code, guint64 code_size, const char *vars,
                        guint64 vars_size, GError **error)
{
  if (vsb_arch_is_x86(arch)) {
    guint64 total = code_size + vars_size;
    guint64 want_vars = 0;
    if (total == 1 * MiB || total == 2 * MiB)
      want_vars = 128 * KiB;
    else if (total == 4 * MiB)
      want_vars = 528 * KiB;
    if (want_vars != 0 && vars_size == want_vars)
      return TRUE;
    const char *build = NULL;
    guint64 expect = 0;
    if (code_size == 2 * MiB - 128 * KiB)
      build = "2 MiB", expect = 128 * KiB;
    else if (code_size == 1 * MiB - 128 * KiB)
      build = "1 MiB", expect = 128 * KiB;
    else if (code_size == 4 * MiB - 528 * KiB)
      build = "4 MiB", expect = 528 * KiB;
    if (build)
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "varstore %s is %" G_GUINT64_FORMAT " bytes, but code %s (%" G_GUINT64_FORMAT
                  " bytes) is a %s OVMF build, whose varstore is %" G_GUINT64_FORMAT " bytes: "
                  "the two files do not belong together",
                  vars, vars_size, code, code_size, build, expect);
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "varstore %s (%" G_GUINT64_FORMAT " bytes) and code %s (%" G_GUINT64_FORMAT
                  " bytes) do not make a 1, 2 or 4 MiB OVMF flash with a 128 or 528 KiB "
                  "varstore: the two files do not belong together",
                  vars, vars_size, code, code_size);
    return FALSE;
  }
  if (vsb_arch_is_arm(arch)) {
    if (code_size > 64 * MiB || vars_size > 64 * MiB) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s is %" G_GUINT64_FORMAT " bytes, larger than the 64 MiB flash bank of "
                  "the virt machine",
                  code_size > 64 * MiB ? code : vars,
                  code_size > 64 * MiB ? code_size : vars_size);
      return FALSE;
    }
    if ((code_size == 64 * MiB) != (vars_size == 64 * MiB)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "varstore %s is %" G_GUINT64_FORMAT " bytes but code %s is %" G_GUINT64_FORMAT
                  " bytes: a padded ArmVirt build has 64 MiB for both, an unpadded one for "
                  "neither", vars, vars_size, code, code_size);
      return FALSE;
    }
  }
  return TRUE;
}
