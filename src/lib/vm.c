#define _GNU_SOURCE /* copy_file_range */
#include "vsboot/vm.h"
#include "vsboot/filecache.h"
#include "vsboot/fwimage.h"
#include "vsboot/json.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/fwsearch.h"
#include "vsboot/fwselect.h"
#include "vsboot/qemu-probe.h"
#include "vsboot/varstore.h"
#include "vsboot/efivar.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define VM_STATE_VERSION 1

static const char *const keys_names[] = { "none", "template", "user" };

const char *
vsb_vm_keys_name(VsbVmKeys keys)
{
  return (guint)keys < G_N_ELEMENTS(keys_names) ? keys_names[keys] : "unknown";
}

static int
vm_keys_from_name(const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS(keys_names); i++)
    if (g_strcmp0(name, keys_names[i]) == 0)
      return (int)i;
  return -1;
}

VsbVm *
vsb_vm_new(void)
{
  VsbVm *vm = g_new0(VsbVm, 1);
  vm->unknown_features = g_new0(char *, 1);
  return vm;
}

void
vsb_vm_free(VsbVm *vm)
{
  if (vm == NULL)
    return;
  g_free(vm->name);
  g_free(vm->uuid);
  g_free(vm->machine);
  g_free(vm->machine_resolved);
  g_free(vm->descriptor_path);
  g_free(vm->description);
  g_free(vm->executable);
  g_free(vm->nvram_template);
  g_strfreev(vm->unknown_features);
  g_free(vm->varstore);
  g_free(vm->executable_sha256);
  g_free(vm->template_sha256);
  g_free(vm->keys_dir);
  g_free(vm->secure_boot);
  g_free(vm->tpm_state_dir);
  g_free(vm->created);
  g_free(vm);
}

gboolean
vsb_vm_name_validate(const char *name, GError **error)
{
  const char *why = NULL;
  if (name == NULL || *name == '\0')
    why = "it is empty";
  else if (strlen(name) > VSB_VM_NAME_MAX)
    why = "it is longer than " G_STRINGIFY(VSB_VM_NAME_MAX) " bytes";
  else if (!g_utf8_validate(name, -1, NULL))
    why = "it is not valid UTF-8";
  else if (strchr(name, '/'))
    why = "it contains '/'";
  else if (name[0] == '.')
    why = "it starts with '.' (hidden files, '.' and '..')";
  else {
    for (const char *p = name; *p; p++)
      if ((guchar)*p < 0x20 || *p == 0x7f) {
        why = "it contains a control character";
        break;
      }
  }
  if (why) {
    g_autofree char *shown = name ? g_strescape(name, NULL) : g_strdup("(none)");
    if (strlen(shown) > 80)
      strcpy(shown + 77, "...");
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "invalid VM name \"%s\": %s; a name becomes a file name in the state "
                "directory", shown, why);
    return FALSE;
  }
  return TRUE;
}

char *
vsb_vm_state_path(const char *state_dir, const char *name)
{
  g_autofree char *file = g_strconcat(name, ".json", NULL);
  return g_build_filename(state_dir, file, NULL);
}

char *
vsb_vm_tpm_socket_path(const VsbVm *vm)
{
  if (vm->tpm_state_dir == NULL)
    return NULL;
  return g_build_filename(vm->tpm_state_dir, "swtpm.sock", NULL);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void
member_string(JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name(b, name);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void
file_object(JsonBuilder *b, const char *member, const char *filename, VsbFwFormat format,
            const char *sha256)
{
  json_builder_set_member_name(b, member);
  if (filename == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_object(b);
  member_string(b, "filename", filename);
  member_string(b, "format", vsb_fw_format_name(format));
  if (sha256)
    member_string(b, "sha256", sha256);
  json_builder_end_object(b);
}

JsonNode *
vsb_vm_to_json(const VsbVm *vm)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, VM_STATE_VERSION);
  member_string(b, "name", vm->name);
  member_string(b, "uuid", vm->uuid);
  member_string(b, "arch", vsb_fw_arch_name(vm->arch));
  member_string(b, "machine", vm->machine);
  member_string(b, "machine-resolved", vm->machine_resolved);

  json_builder_set_member_name(b, "firmware");
  json_builder_begin_object(b);
  member_string(b, "descriptor", vm->descriptor_path);
  member_string(b, "description", vm->description);
  member_string(b, "device", vsb_fw_device_name(vm->device));
  if (vm->device == VSB_FW_DEVICE_FLASH)
    member_string(b, "mode", vsb_fw_flash_mode_name(vm->mode));
  file_object(b, "executable", vm->executable, vm->executable_format, vm->executable_sha256);
  file_object(b, "nvram-template", vm->nvram_template, vm->nvram_template_format,
              vm->template_sha256);
  json_builder_set_member_name(b, "features");
  json_builder_begin_array(b);
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (vsb_vm_has_feature(vm, (VsbFwFeature)f))
      json_builder_add_string_value(b, vsb_fw_feature_name((VsbFwFeature)f));
  for (char **u = vm->unknown_features; u && *u; u++)
    json_builder_add_string_value(b, *u);
  json_builder_end_array(b);
  json_builder_end_object(b);

  file_object(b, "varstore", vm->varstore, vm->varstore_format, NULL);
  member_string(b, "keys", vsb_vm_keys_name(vm->keys));
  member_string(b, "keys-dir", vm->keys_dir);
  member_string(b, "secure-boot", vm->secure_boot);
  member_string(b, "tpm-state-dir", vm->tpm_state_dir);
  member_string(b, "created", vm->created);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* Typed member access with errors naming the member. */
static gboolean
get_string(JsonObject *o, const char *prefix, const char *member, gboolean required, char **out,
           const char *origin, GError **error)
{
  JsonNode *n = json_object_get_member(o, member);
  if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
    if (required) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s%s: missing", origin, prefix, member);
      return FALSE;
    }
    *out = NULL;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s%s: expected a string", origin, prefix,
                member);
    return FALSE;
  }
  *out = g_strdup(json_node_get_string(n));
  return TRUE;
}

static gboolean
get_enum(JsonObject *o, const char *prefix, const char *member, int (*from_name)(const char *),
         int *out, const char *origin, GError **error)
{
  g_autofree char *s = NULL;
  if (!get_string(o, prefix, member, TRUE, &s, origin, error))
    return FALSE;
  int v = from_name(s);
  if (v < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s%s: unknown value '%s'", origin, prefix,
                member, s);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static gboolean
get_file(JsonObject *o, const char *prefix, const char *member, char **filename, VsbFwFormat *format,
         char **sha256, const char *origin, GError **error)
{
  JsonNode *n = json_object_get_member(o, member);
  *filename = NULL;
  if (sha256)
    *sha256 = NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL(n))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s%s: expected an object", origin, prefix,
                member);
    return FALSE;
  }
  JsonObject *fo = json_node_get_object(n);
  g_autofree char *p = g_strconcat(prefix, member, ".", NULL);
  int fmt;
  if (!get_string(fo, p, "filename", TRUE, filename, origin, error) ||
      !get_enum(fo, p, "format", vsb_fw_format_from_name, &fmt, origin, error))
    return FALSE;
  *format = (VsbFwFormat)fmt;
  if (sha256 && !get_string(fo, p, "sha256", FALSE, sha256, origin, error))
    return FALSE;
  if (!g_path_is_absolute(*filename)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %sfilename: '%s' is not absolute", origin,
                p, *filename);
    return FALSE;
  }
  return TRUE;
}

VsbVm *
vsb_vm_from_json(JsonNode *node, const char *origin, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: expected a JSON object", origin);
    return NULL;
  }
  JsonObject *o = json_node_get_object(node);
  g_autoptr(VsbVm) vm = vsb_vm_new();
  JsonNode *ver = json_object_get_member(o, "version");
  if (ver == NULL || !JSON_NODE_HOLDS_VALUE(ver) || json_node_get_value_type(ver) != G_TYPE_INT64 ||
      json_node_get_int(ver) != VM_STATE_VERSION) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: version: expected %d", origin,
                VM_STATE_VERSION);
    return NULL;
  }
  int arch, device, mode = VSB_FW_FLASH_MODE_SPLIT, keys;
  if (!get_string(o, "", "name", TRUE, &vm->name, origin, error) ||
      !vsb_vm_name_validate(vm->name, error) ||
      !get_string(o, "", "uuid", FALSE, &vm->uuid, origin, error) ||
      !get_enum(o, "", "arch", vsb_fw_arch_from_name, &arch, origin, error) ||
      !get_string(o, "", "machine", TRUE, &vm->machine, origin, error) ||
      !get_string(o, "", "machine-resolved", TRUE, &vm->machine_resolved, origin, error))
    return NULL;
  vm->arch = (VsbFwArch)arch;
  /* Everything below ends up in a QEMU command line or a domain's XML as it is. */
  const char *machines[] = { "machine", vm->machine, "machine-resolved", vm->machine_resolved };
  for (gsize i = 0; i < G_N_ELEMENTS(machines); i += 2) {
    g_autoptr(GError) local = NULL;
    if (!vsb_qemu_machine_name_validate(machines[i + 1], &local)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s: %s", origin, machines[i],
                  local->message);
      return NULL;
    }
  }
  if (vm->uuid && !g_uuid_string_is_valid(vm->uuid)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: uuid: '%s' is not a UUID", origin,
                vm->uuid);
    return NULL;
  }

  JsonNode *fwn = json_object_get_member(o, "firmware");
  if (fwn == NULL || !JSON_NODE_HOLDS_OBJECT(fwn)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware: expected an object", origin);
    return NULL;
  }
  JsonObject *fw = json_node_get_object(fwn);
  if (!get_string(fw, "firmware.", "descriptor", TRUE, &vm->descriptor_path, origin, error) ||
      !get_string(fw, "firmware.", "description", FALSE, &vm->description, origin, error) ||
      !get_enum(fw, "firmware.", "device", vsb_fw_device_from_name, &device, origin, error))
    return NULL;
  vm->device = (VsbFwDevice)device;
  if (vm->device == VSB_FW_DEVICE_FLASH &&
      !get_enum(fw, "firmware.", "mode", vsb_fw_flash_mode_from_name, &mode, origin, error))
    return NULL;
  vm->mode = (VsbFwFlashMode)mode;
  if (!get_file(fw, "firmware.", "executable", &vm->executable, &vm->executable_format,
                &vm->executable_sha256, origin, error) ||
      !get_file(fw, "firmware.", "nvram-template", &vm->nvram_template,
                &vm->nvram_template_format, &vm->template_sha256, origin, error))
    return NULL;
  if (vm->executable == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.executable: missing", origin);
    return NULL;
  }
  JsonNode *featn = json_object_get_member(fw, "features");
  if (featn == NULL || !JSON_NODE_HOLDS_ARRAY(featn)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.features: expected an array",
                origin);
    return NULL;
  }
  JsonArray *fa = json_node_get_array(featn);
  g_autoptr(GPtrArray) unknown = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < json_array_get_length(fa); i++) {
    JsonNode *e = json_array_get_element(fa, i);
    if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.features[%u]: expected a string",
                  origin, i);
      return NULL;
    }
    int f = vsb_fw_feature_from_name(json_node_get_string(e));
    if (f >= 0)
      vm->features |= VSB_FW_FEATURE_BIT(f);
    else
      g_ptr_array_add(unknown, g_strdup(json_node_get_string(e)));
  }
  g_ptr_array_set_free_func(unknown, NULL);
  g_ptr_array_add(unknown, NULL);
  g_strfreev(vm->unknown_features);
  vm->unknown_features = (char **)g_ptr_array_free(g_steal_pointer(&unknown), FALSE);

  g_autofree char *keys_name = NULL;
  if (!get_file(o, "", "varstore", &vm->varstore, &vm->varstore_format, NULL, origin, error) ||
      !get_string(o, "", "keys", TRUE, &keys_name, origin, error) ||
      !get_string(o, "", "keys-dir", FALSE, &vm->keys_dir, origin, error) ||
      !get_string(o, "", "secure-boot", FALSE, &vm->secure_boot, origin, error) ||
      !get_string(o, "", "tpm-state-dir", FALSE, &vm->tpm_state_dir, origin, error) ||
      !get_string(o, "", "created", FALSE, &vm->created, origin, error))
    return NULL;
  keys = vm_keys_from_name(keys_name);
  if (keys < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: keys: unknown value '%s'", origin,
                keys_name);
    return NULL;
  }
  vm->keys = (VsbVmKeys)keys;
  gboolean needs_varstore = vm->device == VSB_FW_DEVICE_FLASH &&
                            vm->mode != VSB_FW_FLASH_MODE_STATELESS;
  if (needs_varstore != (vm->varstore != NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: varstore: %s for %s firmware", origin,
                needs_varstore ? "missing" : "unexpected",
                vm->device == VSB_FW_DEVICE_FLASH ? vsb_fw_flash_mode_name(vm->mode)
                                                  : vsb_fw_device_name(vm->device));
    return NULL;
  }
  if ((vm->mode == VSB_FW_FLASH_MODE_SPLIT && vm->device == VSB_FW_DEVICE_FLASH) !=
      (vm->nvram_template != NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware.nvram-template: present exactly for split flash firmware", origin);
    return NULL;
  }
  return g_steal_pointer(&vm);
}

/* A state file nests four levels. */
#define MAX_JSON_DEPTH 32

VsbVm *
vsb_vm_parse(const char *data, gsize len, const char *origin, GError **error)
{
  if (len > VSB_VM_STATE_MAX_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: %" G_GSIZE_FORMAT " bytes, more than "
                "the %d bytes a state file may have", origin, len, VSB_VM_STATE_MAX_SIZE);
    return NULL;
  }
  g_autoptr(JsonNode) root = vsb_json_parse(data, len, MAX_JSON_DEPTH, origin, error);
  if (root == NULL)
    return NULL;
  return vsb_vm_from_json(root, origin, error);
}

VsbVm *
vsb_vm_load(const char *state_dir, const char *name, GError **error)
{
  if (!vsb_vm_name_validate(name, error))
    return NULL;
  g_autofree char *path = vsb_vm_state_path(state_dir, name);
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) data = vsb_file_read(path, VSB_VM_STATE_MAX_SIZE, &local);
  if (data == NULL) {
    if (g_error_matches(local, VSB_ERROR, VSB_ERROR_NOT_FOUND))
      g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                  "VM '%s' is not provisioned in %s (no %s); run vsboot provision first", name,
                  state_dir, path);
    else
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  gsize len = 0;
  const char *text = g_bytes_get_data(data, &len);
  VsbVm *vm = vsb_vm_parse(text, len, path, error);
  if (vm && strcmp(vm->name, name) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: name: '%s' does not match the file name",
                path, vm->name);
    vsb_vm_free(vm);
    return NULL;
  }
  return vm;
}

static char *
vm_json_text(const VsbVm *vm)
{
  g_autoptr(JsonNode) node = vsb_vm_to_json(vm);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, node);
  char *text = json_generator_to_data(gen, NULL);
  char *with_nl = g_strconcat(text, "\n", NULL);
  g_free(text);
  return with_nl;
}

static gboolean
vm_save(const VsbVm *vm, const char *state_dir, gboolean exclusive, GError **error)
{
  g_autofree char *path = vsb_vm_state_path(state_dir, vm->name);
  g_autofree char *text = vm_json_text(vm);
  return vsb_file_write_atomic(path, text, strlen(text), 0644, exclusive, error);
}

gboolean
vsb_vm_save(const VsbVm *vm, const char *state_dir, GError **error)
{
  if (!vsb_vm_name_validate(vm->name, error))
    return FALSE;
  return vm_save(vm, state_dir, FALSE, error);
}

/* ---- provisioning ------------------------------------------------------------------------ */

static void
note(GPtrArray *notes, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
note(GPtrArray *notes, const char *fmt, ...)
{
  if (notes == NULL)
    return;
  va_list ap;
  va_start(ap, fmt);
  g_ptr_array_add(notes, g_strdup_vprintf(fmt, ap));
  va_end(ap);
}

/* Checksums of firmware files are remembered per file version (filecache.h): provisioning
 * the thousandth VM from the same 4 MiB OVMF build does not hash it again. */
static char *
sha256_cached(const char *path, GError **error)
{
  char *sum = vsb_file_cache_get("sha256", path, "sha256");
  if (sum && strlen(sum) == 64)
    return sum;
  g_free(sum);
  sum = vsb_file_sha256(path, error);
  if (sum)
    vsb_file_cache_put("sha256", path, "sha256", sum);
  return sum;
}

/* Copy src into the open, empty file dst_fd: reflink first (no data copied, CoW), then
 * copy_file_range (in-kernel), then read/write. */
static gboolean
copy_into(const char *src, int dst_fd, const char *dst, GError **error)
{
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "%s: %s", src, g_strerror(errno));
    return FALSE;
  }
  gboolean ok = FALSE;
  if (ioctl(dst_fd, FICLONE, in) == 0) {
    ok = TRUE;
    goto out;
  }
  gboolean cfr = TRUE;
  for (;;) {
    ssize_t n;
    if (cfr) {
      n = copy_file_range(in, NULL, dst_fd, NULL, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                    errno == EINVAL) && lseek(dst_fd, 0, SEEK_CUR) == 0) {
        cfr = FALSE;
        continue;
      }
    } else {
      static __thread char buf[1 << 17];
      n = read(in, buf, sizeof buf);
      if (n > 0) {
        ssize_t off = 0;
        while (off < n) {
          ssize_t w = write(dst_fd, buf + off, (size_t)(n - off));
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0) {
            g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: write failed: %s", dst,
                        g_strerror(errno));
            goto out;
          }
          off += w;
        }
      }
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "copying %s to %s: %s", src, dst,
                  g_strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
  }
  ok = TRUE;
out:
  close(in);
  return ok;
}

/* A temporary file in dir, mode 0600, for a file that will be linked into place. */
static int
make_temp(const char *dir, const char *base, char **tmp_path, GError **error)
{
  g_autofree char *tmpl = g_strdup_printf("%s/.%s.vsboot-XXXXXX", dir, base);
  int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot create a file in %s: %s", dir,
                g_strerror(errno));
    return -1;
  }
  *tmp_path = g_steal_pointer(&tmpl);
  return fd;
}

/* Move a finished temporary file to path: link() when it must not exist (EEXIST is the
 * exclusivity check, free of races), rename() when replacing. */
static gboolean
commit_temp(const char *tmp, const char *path, gboolean replace, GError **error)
{
  if (replace) {
    if (rename(tmp, path) < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot replace: %s", path,
                  g_strerror(errno));
      return FALSE;
    }
    return TRUE;
  }
  if (link(tmp, path) < 0) {
    int e = errno;
    g_set_error(error, VSB_ERROR, e == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
                e == EEXIST ? "%s already exists; it is a VM's varstore and is never overwritten "
                              "(pass --reset to replace it)"
                            : "%s: cannot create: %s",
                path, g_strerror(e));
    return FALSE;
  }
  g_unlink(tmp);
  return TRUE;
}

static gboolean
fsync_close(int fd, const char *path, GError **error)
{
  if (fsync(fd) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: fsync failed: %s", path, g_strerror(errno));
    close(fd);
    return FALSE;
  }
  if (close(fd) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: close failed: %s", path, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

/* The state directory: absolute, existing, a directory, writable. */
static char *
check_state_dir(const char *state_dir, GError **error)
{
  if (state_dir == NULL || *state_dir == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no state directory given (--state-dir)");
    return NULL;
  }
  char *abs = realpath(state_dir, NULL);
  if (abs == NULL) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "state directory %s: %s", state_dir, g_strerror(errno));
    return NULL;
  }
  struct stat st;
  if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "state directory %s is not a directory",
                state_dir);
    free(abs);
    return NULL;
  }
  if (access(abs, W_OK | X_OK) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s is not writable: %s",
                state_dir, g_strerror(errno));
    free(abs);
    return NULL;
  }
  char *ret = g_strdup(abs);
  free(abs);
  return ret;
}

static const char *
secure_boot_word(VsbSecureBootMode mode)
{
  switch (mode) {
  case VSB_SB_MODE_USER:
    return "enabled";
  case VSB_SB_MODE_DISABLED:
    return "disabled";
  default:
    return "setup-mode";
  }
}

/* PK.crt, KEK.crt, db.crt and owner.guid of a `vsboot keys generate` directory. */
typedef struct {
  X509 *cert[3];
  VsbGuid owner;
} UserKeys;

static void
user_keys_clear(UserKeys *k)
{
  for (int i = 0; i < 3; i++)
    if (k->cert[i])
      X509_free(k->cert[i]);
}

static gboolean
user_keys_load(const char *dir, UserKeys *k, GError **error)
{
  static const char *const files[3] = { "PK.crt", "KEK.crt", "db.crt" };
  memset(k, 0, sizeof *k);
  if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                "keys directory %s does not exist (make one with vsboot keys generate)", dir);
    return FALSE;
  }
  for (int i = 0; i < 3; i++) {
    g_autofree char *p = g_build_filename(dir, files[i], NULL);
    k->cert[i] = vsb_cert_load(p, error);
    if (k->cert[i] == NULL) {
      user_keys_clear(k);
      return FALSE;
    }
  }
  g_autofree char *gp = g_build_filename(dir, "owner.guid", NULL);
  g_autoptr(GBytes) gb = vsb_file_read(gp, 4096, error);
  if (gb == NULL) {
    user_keys_clear(k);
    return FALSE;
  }
  g_autofree char *text = g_strndup(g_bytes_get_data(gb, NULL), g_bytes_get_size(gb));
  if (!vsb_guid_parse(g_strstrip(text), &k->owner)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a GUID", gp);
    user_keys_clear(k);
    return FALSE;
  }
  return TRUE;
}

static gboolean
enroll_user_keys(VsbVarstore *store, const UserKeys *k, GPtrArray *notes, GError **error)
{
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  if (!vsb_enroll_set_pk(e, k->cert[0], &k->owner, error) ||
      !vsb_enroll_add_cert(e, VSB_SB_KEK, k->cert[1], &k->owner, error) ||
      !vsb_enroll_add_cert(e, VSB_SB_DB, k->cert[2], &k->owner, error) ||
      !vsb_enroll_set_secure_boot(e, TRUE, error))
    return FALSE;
  GPtrArray *changes = vsb_enroll_get_changes(e);
  for (guint i = 0; i < changes->len; i++) {
    VsbEnrollChange *c = changes->pdata[i];
    note(notes, "enroll: %s %s%s%s", c->action, c->variable, c->detail ? ": " : "",
         c->detail ? c->detail : "");
  }
  return TRUE;
}

static gboolean
run_swtpm_setup(const char *dir, gboolean certs, char **err_out, GError **error)
{
  const char *with_certs[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, "--create-ek-cert",
                               "--create-platform-cert", "--lock-nvram", NULL };
  const char *plain[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, NULL };
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv(certs ? with_certs : plain,
                                               G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                 G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                               &local);
  if (p == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot run swtpm_setup (package swtpm-tools): %s",
                local->message);
    return FALSE;
  }
  g_autofree char *err = NULL;
  if (!g_subprocess_communicate_utf8(p, NULL, NULL, NULL, &err, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "swtpm_setup: %s", local->message);
    return FALSE;
  }
  if (!g_subprocess_get_if_exited(p) || g_subprocess_get_exit_status(p) != 0) {
    *err_out = g_strdup(err ? g_strstrip(err) : "");
    return FALSE;
  }
  return TRUE;
}

/* TPM 2.0 state for the VM; an existing state is kept (it is the VM's identity). */
static gboolean
prepare_tpm(const char *dir, gboolean *created, GPtrArray *notes, GError **error)
{
  *created = FALSE;
  g_autofree char *permall = g_build_filename(dir, "tpm2-00.permall", NULL);
  if (g_file_test(permall, G_FILE_TEST_EXISTS)) {
    note(notes, "tpm: keeping the existing TPM 2.0 state in %s", dir);
    return TRUE;
  }
  if (g_mkdir(dir, 0700) < 0 && errno != EEXIST) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot create %s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  *created = TRUE;
  g_autofree char *err1 = NULL, *err2 = NULL;
  if (run_swtpm_setup(dir, TRUE, &err1, error)) {
    note(notes, "tpm: TPM 2.0 state with EK and platform certificates in %s", dir);
    return TRUE;
  }
  if (error && *error)
    return FALSE;
  /* The certificate tools need a local CA configuration; a TPM without certificates works. */
  if (run_swtpm_setup(dir, FALSE, &err2, error)) {
    note(notes, "tpm: TPM 2.0 state in %s (no EK certificate: %s)", dir, err1);
    return TRUE;
  }
  if (error && *error == NULL)
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "swtpm_setup --tpm2 --tpmstate %s failed: %s",
                dir, err2);
  return FALSE;
}

static void
remove_tree(const char *dir)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (d) {
    const char *n;
    while ((n = g_dir_read_name(d))) {
      g_autofree char *p = g_build_filename(dir, n, NULL);
      g_unlink(p);
    }
  }
  g_rmdir(dir);
}

static gboolean
collect_features(const char *const *names, VsbFwWant want, VsbFwRequest *req, GError **error)
{
  for (const char *const *n = names; n && *n; n++) {
    int f = vsb_fw_feature_from_name(*n);
    if (f < 0) {
      g_autoptr(GString) known = g_string_new(NULL);
      for (int i = 0; i < VSB_FW_FEATURE_COUNT; i++)
        g_string_append_printf(known, "%s%s", i ? ", " : "", vsb_fw_feature_name(i));
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown firmware feature '%s' (known: %s)",
                  *n, known->str);
      return FALSE;
    }
    if (req->features[f] != VSB_FW_WANT_ANY && req->features[f] != want) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "feature '%s' is both wanted and refused", *n);
      return FALSE;
    }
    req->features[f] = want;
  }
  return TRUE;
}

static char *
varstore_file_name(const char *name, const VsbFwDescriptor *d, VsbFwFormat *format)
{
  if (d->device != VSB_FW_DEVICE_FLASH || d->mode == VSB_FW_FLASH_MODE_STATELESS)
    return NULL;
  if (d->mode == VSB_FW_FLASH_MODE_COMBINED) {
    *format = d->executable.format;
    return g_strdup_printf("%s_FW.%s", name, *format == VSB_FW_FORMAT_QCOW2 ? "qcow2" : "fd");
  }
  *format = d->nvram_template.format;
  return g_strdup_printf("%s_VARS.%s", name, *format == VSB_FW_FORMAT_QCOW2 ? "qcow2" : "fd");
}

static gboolean
exists_nofollow(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

/* What a provisioning made so far, for the caller to undo on failure. */
typedef struct {
  char *tmp_vars;       /* the new varstore before it is moved into place */
  char *vars_path;
  gboolean vars_committed;
  char *backup;         /* reset: a link to the varstore being replaced */
  char *tpm_dir;
  gboolean tpm_created;
} ProvisionState;

static VsbVm *
provision(const VsbProvisionRequest *r, int arch, const char *dir, const UserKeys *keys_in,
          ProvisionState *st, GPtrArray *notes, GError **error)
{
  g_autoptr(GError) local = NULL;
  const UserKeys *kp = keys_in;
  /* The request. */
  g_autoptr(VsbMachineResolution) res = vsb_qemu_resolve_machine((VsbFwArch)arch, r->machine,
                                                                 error);
  if (res == NULL)
    return NULL;
  note(notes, "machine: %s", res->note);
  VsbFwRequest req;
  vsb_fw_request_init(&req);
  req.arch = (VsbFwArch)arch;
  req.machine = res->machine;
  req.machine_family = res->family;
  req.interface = VSB_FW_INTERFACE_UEFI;
  if (!collect_features(r->features, VSB_FW_WANT_YES, &req, error) ||
      !collect_features(r->no_features, VSB_FW_WANT_NO, &req, error))
    return NULL;
  if (r->enrolled_keys) {
    if (req.features[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "--enrolled-keys and --no-feature enrolled-keys contradict each other");
      return NULL;
    }
    req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  }
  if (r->keys_dir) {
    /* Our keys go into a Secure Boot firmware; a template without vendor keys unless the
     * user asked for them (then ours are added beside them). */
    if (req.features[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "--keys enrolls Secure Boot keys, but --no-feature secure-boot was given");
      return NULL;
    }
    req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
    if (req.features[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_ANY)
      req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_NO;
  }
  if (req.features[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_YES &&
      req.features[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_ANY)
    req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  if ((arch == VSB_FW_ARCH_X86_64 || arch == VSB_FW_ARCH_I386) &&
      req.features[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_YES) {
    /* Without SMM the guest OS can write the varstore flash and undo Secure Boot. */
    if (req.features[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "secure-boot without requires-smm is refused on x86: without SMM the guest "
                  "OS can rewrite the varstore and with it PK, KEK and db");
      return NULL;
    }
    if (req.features[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_ANY)
      note(notes, "request: secure-boot on x86 also requires requires-smm");
    req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  }

  /* Selection. */
  g_autoptr(GPtrArray) entries = vsb_fw_search(r->firmware_dirs, error);
  if (entries == NULL)
    return NULL;
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, &req, error);
  if (sel == NULL)
    return NULL;
  if (sel->chosen == NULL) {
    g_autoptr(GString) why = g_string_new(NULL);
    for (guint i = 0; i < sel->verdicts->len; i++) {
      VsbFwVerdict *v = sel->verdicts->pdata[i];
      g_string_append_printf(why, "\n  %s: %s", v->entry->name, v->reason ? v->reason : v->reason_id);
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_NO_MATCH,
                "no firmware descriptor matches %s %s%s%s", vsb_fw_arch_name(req.arch),
                req.machine, why->len ? ":" : " (no descriptors found)", why->str);
    return NULL;
  }
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  note(notes, "firmware: %s (%s)", d->path, d->description ? d->description : "no description");
  for (guint i = 0; i < sel->verdicts->len; i++) {
    VsbFwVerdict *v = sel->verdicts->pdata[i];
    if ((int)i != sel->chosen_index && v->reason && (int)i < sel->chosen_index)
      note(notes, "skipped %s: %s", v->entry->name, v->reason);
  }
  if (d->device != VSB_FW_DEVICE_FLASH && d->device != VSB_FW_DEVICE_MEMORY) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: firmware device '%s' is not something vsboot can start", d->path,
                vsb_fw_device_name(d->device));
    return NULL;
  }

  /* The files it names, and their pairing. A broken descriptor is reported, not skipped:
   * libvirt would choose it too (and fail at start); the hint says how to get past it. */
  g_autofree char *hint = g_strdup_printf(
    " (libvirt would choose this descriptor as well; mask it with an empty /etc/qemu/firmware/%s "
    "or ask for other features)", sel->chosen->name);
  const char *code = vsb_fw_descriptor_code_path(d);
  VsbFwFormat code_format = d->device == VSB_FW_DEVICE_FLASH ? d->executable.format
                                                              : VSB_FW_FORMAT_RAW;
  guint64 code_size = 0, vars_size = 0;
  if (!vsb_fw_image_size(code, code_format, &code_size, &local)) {
    g_set_error(error, VSB_ERROR, local->code, "descriptor %s names firmware that cannot be "
                "used: %s%s", d->path, local->message, hint);
    return NULL;
  }
  gboolean split = d->device == VSB_FW_DEVICE_FLASH && d->mode == VSB_FW_FLASH_MODE_SPLIT;
  if (split) {
    if (!vsb_fw_image_size(d->nvram_template.filename, d->nvram_template.format, &vars_size, &local)) {
      g_set_error(error, VSB_ERROR, local->code, "descriptor %s names a varstore template that "
                  "cannot be used: %s%s", d->path, local->message, hint);
      return NULL;
    }
    if (!vsb_fw_image_check_pair(req.arch, code, code_size, d->nvram_template.filename, vars_size, &local)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "descriptor %s: %s%s", d->path,
                  local->message, hint);
      return NULL;
    }
  }

  g_autoptr(VsbVm) vm = vsb_vm_new();
  vm->name = g_strdup(r->name);
  vm->uuid = g_uuid_string_random();
  vm->arch = req.arch;
  vm->machine = g_strdup(r->machine);
  vm->machine_resolved = g_strdup(res->family ? r->machine : res->machine);
  vm->descriptor_path = g_strdup(d->path);
  vm->description = g_strdup(d->description);
  vm->device = d->device;
  vm->mode = d->mode;
  vm->executable = g_strdup(code);
  vm->executable_format = code_format;
  if (split) {
    vm->nvram_template = g_strdup(d->nvram_template.filename);
    vm->nvram_template_format = d->nvram_template.format;
  }
  vm->features = d->features;
  g_strfreev(vm->unknown_features);
  vm->unknown_features = g_strdupv(d->unknown_features);
  vm->keys = r->keys_dir ? VSB_VM_KEYS_USER
                         : vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_ENROLLED_KEYS)
                             ? VSB_VM_KEYS_TEMPLATE
                             : VSB_VM_KEYS_NONE;
  if (r->keys_dir) {
    char *abs = realpath(r->keys_dir, NULL);
    vm->keys_dir = g_strdup(abs ? abs : r->keys_dir);
    free(abs);
  }

  /* The VM's own varstore, built in a temporary file and moved into place at the end. */
  VsbFwFormat vars_format = VSB_FW_FORMAT_RAW;
  g_autofree char *vars_name = varstore_file_name(r->name, d, &vars_format);
  if (vars_name) {
    const char *src = split ? d->nvram_template.filename : code;
    st->vars_path = g_build_filename(dir, vars_name, NULL);
    g_autoptr(VsbVarstore) store = NULL;
    if (split) {
      store = vsb_varstore_load(src, &local);
      if (store == NULL) {
        g_set_error(error, VSB_ERROR, local->code, "varstore template of %s: %s", d->path,
                    local->message);
        return NULL;
      }
    }
    if (r->keys_dir) {
      if (!split) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                    "%s: keys can only be enrolled into a split firmware's varstore", d->path);
        return NULL;
      }
      if (!enroll_user_keys(store, kp, notes, &local)) {
        g_set_error(error, VSB_ERROR, local->code, "enrolling %s into the varstore: %s",
                    r->keys_dir, local->message);
        return NULL;
      }
    }
    if (store) {
      VsbSecureBootMode mode = vsb_secure_boot_mode(store);
      vm->secure_boot = g_strdup(secure_boot_word(mode));
      if (mode == VSB_SB_MODE_SETUP &&
          vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_SECURE_BOOT) && !r->allow_setup_mode) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "template %s has no PK (setup mode): the firmware would verify nothing and "
                    "Secure Boot would not be enforced; enroll keys (--keys DIR), take a "
                    "template with keys (--enrolled-keys), or accept it (--allow-setup-mode)",
                    src);
        return NULL;
      }
      if (mode == VSB_SB_MODE_SETUP)
        note(notes, "varstore: setup mode (no PK): Secure Boot is not enforced");
    }

    int fd = make_temp(dir, vars_name, &st->tmp_vars, error);
    if (fd < 0)
      return NULL;
    if (r->keys_dir && vars_format == VSB_FW_FORMAT_RAW) {
      g_autoptr(GBytes) bytes = vsb_varstore_serialize(store, &local);
      gsize len = 0;
      const guint8 *p = bytes ? g_bytes_get_data(bytes, &len) : NULL;
      gboolean ok = bytes != NULL;
      while (ok && len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0) {
          g_set_error(&local, VSB_ERROR, VSB_ERROR_IO, "%s: write failed: %s", st->tmp_vars,
                      g_strerror(errno));
          ok = FALSE;
          break;
        }
        p += w;
        len -= (gsize)w;
      }
      if (!ok) {
        close(fd);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
      }
      note(notes, "varstore: %s from %s with the keys of %s", st->vars_path, src, vm->keys_dir);
    } else if (r->keys_dir) {
      /* qcow2: let the varstore module write the image format. */
      close(fd);
      if (!vsb_varstore_save(store, st->tmp_vars, 0600, TRUE, error))
        return NULL;
      fd = open(st->tmp_vars, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", st->tmp_vars, g_strerror(errno));
        return NULL;
      }
      note(notes, "varstore: %s from %s with the keys of %s", st->vars_path, src, vm->keys_dir);
    } else {
      if (!copy_into(src, fd, st->tmp_vars, error)) {
        close(fd);
        return NULL;
      }
      note(notes, "varstore: %s copied from %s", st->vars_path, src);
    }
    if (!fsync_close(fd, st->tmp_vars, error))
      return NULL;
    vm->varstore = g_strdup(st->vars_path);
    vm->varstore_format = vars_format;
  }

  /* Checksums of what the VM runs. */
  vm->executable_sha256 = sha256_cached(code, error);
  if (vm->executable_sha256 == NULL)
    return NULL;
  if (split) {
    vm->template_sha256 = sha256_cached(d->nvram_template.filename, error);
    if (vm->template_sha256 == NULL)
      return NULL;
  }

  if (r->tpm) {
    g_autofree char *tname = g_strconcat(r->name, ".tpm", NULL);
    st->tpm_dir = g_build_filename(dir, tname, NULL);
    if (!prepare_tpm(st->tpm_dir, &st->tpm_created, notes, error))
      return NULL;
    vm->tpm_state_dir = g_strdup(st->tpm_dir);
  }

  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  vm->created = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");

  /* Commit: the varstore into place (exclusively unless resetting), then NAME.json last. A
   * reset keeps a link to the varstore it replaces until NAME.json is written, to put it back
   * if that fails. */
  if (st->tmp_vars) {
    if (r->reset && exists_nofollow(st->vars_path)) {
      g_autofree char *base = g_path_get_basename(st->vars_path);
      g_autofree char *bk = g_strdup_printf("%s/.%s.vsboot-old-XXXXXX", dir, base);
      int bfd = g_mkstemp_full(bk, O_RDWR | O_CLOEXEC, 0600);
      if (bfd < 0 || (close(bfd), g_unlink(bk) < 0) || link(st->vars_path, bk) < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot keep the old varstore aside: %s",
                    st->vars_path, g_strerror(errno));
        return NULL;
      }
      st->backup = g_steal_pointer(&bk);
    }
    if (!commit_temp(st->tmp_vars, st->vars_path, r->reset, error))
      return NULL;
    g_clear_pointer(&st->tmp_vars, g_free);
    st->vars_committed = TRUE;
  }
  /* Writing NAME.json fsyncs the directory, which also makes the varstore's link durable. */
  if (!vm_save(vm, dir, !r->reset, error))
    return NULL;
  return g_steal_pointer(&vm);
}

VsbVm *
vsb_vm_provision(const VsbProvisionRequest *r, GPtrArray **notes_out, GError **error)
{
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  if (!vsb_vm_name_validate(r->name, error))
    return NULL;
  int arch = r->arch ? vsb_fw_arch_from_name(r->arch) : -1;
  if (arch < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "unknown architecture '%s' (aarch64, arm, i386, loongarch64, riscv64, x86_64)",
                r->arch ? r->arch : "(none)");
    return NULL;
  }
  if (r->machine == NULL || *r->machine == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no machine type given (--machine)");
    return NULL;
  }
  if (r->keys_dir && r->enrolled_keys) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "--keys and --enrolled-keys exclude each other: enroll your own keys or take "
                "the template's");
    return NULL;
  }
  g_autofree char *dir = check_state_dir(r->state_dir, error);
  if (dir == NULL)
    return NULL;

  /* Refuse before any work when the VM already exists. */
  g_autofree char *json_path = vsb_vm_state_path(dir, r->name);
  if (!r->reset && exists_nofollow(json_path)) {
    g_autoptr(GError) lerr = NULL;
    g_autoptr(VsbVm) old = vsb_vm_load(dir, r->name, &lerr);
    if (old)
      g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                  "VM '%s' is already provisioned (%s, created %s): firmware %s, varstore %s; "
                  "the varstore holds the VM's keys and boot entries and is kept (pass --reset "
                  "to replace it)",
                  r->name, json_path, old->created ? old->created : "?", old->descriptor_path,
                  old->varstore ? old->varstore : "(none)");
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                  "%s already exists (%s); pass --reset to provision VM '%s' again", json_path,
                  lerr->message, r->name);
    return NULL;
  }
  if (!r->reset) {
    static const char *const suffixes[] = { "_VARS.fd", "_VARS.qcow2", "_FW.fd", "_FW.qcow2" };
    for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
      g_autofree char *f = g_strconcat(r->name, suffixes[i], NULL);
      g_autofree char *p = g_build_filename(dir, f, NULL);
      if (exists_nofollow(p)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                    "%s already exists (a varstore without %s: an interrupted or foreign "
                    "provisioning); it is never overwritten: remove it or pass --reset",
                    p, json_path);
        return NULL;
      }
    }
  }

  UserKeys keys = { { NULL } };
  if (r->keys_dir && !user_keys_load(r->keys_dir, &keys, error))
    return NULL;
  /* A reset replaces the varstore; one of another name (format or mode changed) goes after. */
  g_autoptr(VsbVm) old = r->reset ? vsb_vm_load(dir, r->name, NULL) : NULL;
  ProvisionState st = { NULL };
  VsbVm *vm = provision(r, arch, dir, &keys, &st, notes, error);
  if (vm && old && old->varstore && g_strcmp0(old->varstore, vm->varstore) != 0) {
    g_autofree char *odir = g_path_get_dirname(old->varstore);
    if (strcmp(odir, dir) == 0 && g_unlink(old->varstore) == 0)
      note(notes, "reset: removed the previous varstore %s", old->varstore);
  }
  if (vm && old)
    note(notes, "reset: VM '%s' provisioned again; its previous varstore was replaced", r->name);
  if (vm == NULL) {
    /* Leave nothing this call made; a failed reset keeps the old varstore. */
    if (st.tmp_vars)
      g_unlink(st.tmp_vars);
    if (st.vars_committed && st.backup)
      (void)rename(st.backup, st.vars_path);
    else if (st.vars_committed)
      g_unlink(st.vars_path);
    if (st.tpm_created)
      remove_tree(st.tpm_dir);
  }
  if (st.backup)
    g_unlink(st.backup);
  g_free(st.tmp_vars);
  g_free(st.vars_path);
  g_free(st.backup);
  g_free(st.tpm_dir);
  user_keys_clear(&keys);
  if (vm && notes_out)
    *notes_out = g_steal_pointer(&notes);
  return vm;
}
