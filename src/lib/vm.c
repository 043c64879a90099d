/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* copy_file_range */
#include "vsb-config.h"
#include "vsboot/vm.h"
#include "vsboot/tool.h"
#include "util/arch.h"
#include "util/autofd.h"
#include "util/enumname.h"
#include "vsboot/filecache.h"
#include "vsboot/fwimage.h"
#include "vsboot/json.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/fwsearch.h"
#include "vsboot/fwselect.h"
#include "vsboot/mscerts.h"
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
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define VM_STATE_VERSION 1

static const char *const keys_names[] = { "none", "template", "user" };
VSB_ENUM_NAME_ONLY(vsb_vm_keys, VsbVmKeys, keys_names, VSB_VM_KEYS_USER + 1, "unknown")

VsbVm *
vsb_vm_new(void)
{
  VsbVm *vm = g_new0(VsbVm, 1);
  vm->unknown_features = g_new0(char *, 1);
  vm->secure_boot = -1;
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
  json_builder_set_member_name(b, "microsoft");
  json_builder_begin_array(b);
  for (int id = 0; id < VSB_MS_N_CERTS; id++)
    if (vm->microsoft & (1u << id))
      json_builder_add_string_value(b, vsb_ms_cert((VsbMsCertId)id)->name);
  json_builder_end_array(b);
  member_string(b, "secure-boot", vm->secure_boot < 0 ? NULL
                                  : vsb_secure_boot_mode_name((VsbSecureBootMode)vm->secure_boot));
  member_string(b, "tpm-state-dir", vm->tpm_state_dir);
  member_string(b, "created", vm->created);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* "microsoft": the ids of the Microsoft CAs vsboot added; absent in state files written before
 * the rollover support, which added none. */
static gboolean
get_microsoft(JsonObject *o, guint *out, const char *origin, GError **error)
{
  *out = 0;
  JsonNode *n = json_object_get_member(o, "microsoft");
  if (n == NULL || JSON_NODE_HOLDS_NULL(n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY(n)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: microsoft: expected an array", origin);
    return FALSE;
  }
  JsonArray *a = json_node_get_array(n);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonNode *e = json_array_get_element(a, i);
    VsbMsCertId id;
    if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING ||
        !vsb_ms_cert_lookup(json_node_get_string(e), &id)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s: microsoft[%u]: not a Microsoft certificate id", origin, i);
      return FALSE;
    }
    *out |= 1u << id;
  }
  return TRUE;
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

/* "version", "name", "uuid", "arch" and the machine. */
static gboolean
from_json_head(JsonObject *o, VsbVm *vm, const char *origin, GError **error)
{
  JsonNode *ver = json_object_get_member(o, "version");
  if (ver == NULL || !JSON_NODE_HOLDS_VALUE(ver) || json_node_get_value_type(ver) != G_TYPE_INT64 ||
      json_node_get_int(ver) != VM_STATE_VERSION) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: version: expected %d", origin,
                VM_STATE_VERSION);
    return FALSE;
  }
  int arch;
  if (!get_string(o, "", "name", TRUE, &vm->name, origin, error) ||
      !vsb_vm_name_validate(vm->name, error) ||
      !get_string(o, "", "uuid", FALSE, &vm->uuid, origin, error) ||
      !get_enum(o, "", "arch", vsb_fw_arch_from_name, &arch, origin, error) ||
      !get_string(o, "", "machine", TRUE, &vm->machine, origin, error) ||
      !get_string(o, "", "machine-resolved", TRUE, &vm->machine_resolved, origin, error))
    return FALSE;
  vm->arch = (VsbFwArch)arch;
  /* Everything below ends up in a QEMU command line or a domain's XML as it is. */
  const char *machines[] = { "machine", vm->machine, "machine-resolved", vm->machine_resolved };
  for (gsize i = 0; i < G_N_ELEMENTS(machines); i += 2) {
    g_autoptr(GError) local = NULL;
    if (!vsb_qemu_machine_name_validate(machines[i + 1], &local)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s: %s", origin, machines[i],
                  local->message);
      return FALSE;
    }
  }
  if (vm->uuid && !g_uuid_string_is_valid(vm->uuid)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: uuid: '%s' is not a UUID", origin,
                vm->uuid);
    return FALSE;
  }
  return TRUE;
}

/* "firmware.features": known ones as bits, the others kept by name. */
static gboolean
from_json_features(JsonObject *fw, VsbVm *vm, const char *origin, GError **error)
{
  JsonNode *featn = json_object_get_member(fw, "features");
  if (featn == NULL || !JSON_NODE_HOLDS_ARRAY(featn)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.features: expected an array",
                origin);
    return FALSE;
  }
  JsonArray *fa = json_node_get_array(featn);
  g_autoptr(GPtrArray) unknown = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < json_array_get_length(fa); i++) {
    JsonNode *e = json_array_get_element(fa, i);
    if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.features[%u]: expected a string",
                  origin, i);
      return FALSE;
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
  return TRUE;
}

/* "firmware": the descriptor as it was when chosen. */
static gboolean
from_json_firmware(JsonObject *o, VsbVm *vm, const char *origin, GError **error)
{
  JsonNode *fwn = json_object_get_member(o, "firmware");
  if (fwn == NULL || !JSON_NODE_HOLDS_OBJECT(fwn)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware: expected an object", origin);
    return FALSE;
  }
  JsonObject *fw = json_node_get_object(fwn);
  int device, mode = VSB_FW_FLASH_MODE_SPLIT;
  if (!get_string(fw, "firmware.", "descriptor", TRUE, &vm->descriptor_path, origin, error) ||
      !get_string(fw, "firmware.", "description", FALSE, &vm->description, origin, error) ||
      !get_enum(fw, "firmware.", "device", vsb_fw_device_from_name, &device, origin, error))
    return FALSE;
  vm->device = (VsbFwDevice)device;
  if (vm->device == VSB_FW_DEVICE_FLASH &&
      !get_enum(fw, "firmware.", "mode", vsb_fw_flash_mode_from_name, &mode, origin, error))
    return FALSE;
  vm->mode = (VsbFwFlashMode)mode;
  if (!get_file(fw, "firmware.", "executable", &vm->executable, &vm->executable_format,
                &vm->executable_sha256, origin, error) ||
      !get_file(fw, "firmware.", "nvram-template", &vm->nvram_template,
                &vm->nvram_template_format, &vm->template_sha256, origin, error))
    return FALSE;
  if (vm->executable == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: firmware.executable: missing", origin);
    return FALSE;
  }
  return from_json_features(fw, vm, origin, error);
}

/* "secure-boot": the mode's name, or null. State files written before the one vocabulary
 * (sbjudge.h) said "enabled" and "setup-mode": they still load, as user and setup. */
static gboolean
from_json_secure_boot(JsonObject *o, VsbVm *vm, const char *origin, GError **error)
{
  g_autofree char *word = NULL;
  if (!get_string(o, "", "secure-boot", FALSE, &word, origin, error))
    return FALSE;
  if (word == NULL)
    return TRUE;
  static const struct { const char *old; VsbSecureBootMode mode; } legacy[] = {
    { "enabled", VSB_SB_MODE_USER },
    { "setup-mode", VSB_SB_MODE_SETUP },
  };
  vm->secure_boot = vsb_secure_boot_mode_from_name(word);
  for (gsize i = 0; vm->secure_boot < 0 && i < G_N_ELEMENTS(legacy); i++)
    if (strcmp(word, legacy[i].old) == 0)
      vm->secure_boot = (int)legacy[i].mode;
  if (vm->secure_boot < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: secure-boot: unknown value '%s' "
                "(user, setup, disabled)", origin, word);
    return FALSE;
  }
  return TRUE;
}

/* The VM's own state: varstore, keys, Secure Boot mode, TPM, creation time, Microsoft CAs. */
static gboolean
from_json_own(JsonObject *o, VsbVm *vm, const char *origin, GError **error)
{
  g_autofree char *keys_name = NULL;
  if (!get_file(o, "", "varstore", &vm->varstore, &vm->varstore_format, NULL, origin, error) ||
      !get_string(o, "", "keys", TRUE, &keys_name, origin, error) ||
      !get_string(o, "", "keys-dir", FALSE, &vm->keys_dir, origin, error) ||
      !from_json_secure_boot(o, vm, origin, error) ||
      !get_string(o, "", "tpm-state-dir", FALSE, &vm->tpm_state_dir, origin, error) ||
      !get_string(o, "", "created", FALSE, &vm->created, origin, error))
    return FALSE;
  int keys = vsb_enum_from_name(keys_names, G_N_ELEMENTS(keys_names), keys_name);
  if (keys < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: keys: unknown value '%s'", origin,
                keys_name);
    return FALSE;
  }
  vm->keys = (VsbVmKeys)keys;
  return get_microsoft(o, &vm->microsoft, origin, error);
}

/* The files a firmware shape needs, no more, no fewer. */
static gboolean
check_shape(const VsbVm *vm, const char *origin, GError **error)
{
  gboolean needs_varstore = vm->device == VSB_FW_DEVICE_FLASH &&
                            vm->mode != VSB_FW_FLASH_MODE_STATELESS;
  if (needs_varstore != (vm->varstore != NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: varstore: %s for %s firmware", origin,
                needs_varstore ? "missing" : "unexpected",
                vm->device == VSB_FW_DEVICE_FLASH ? vsb_fw_flash_mode_name(vm->mode)
                                                  : vsb_fw_device_name(vm->device));
    return FALSE;
  }
  if ((vm->mode == VSB_FW_FLASH_MODE_SPLIT && vm->device == VSB_FW_DEVICE_FLASH) !=
      (vm->nvram_template != NULL)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: firmware.nvram-template: present exactly for split flash firmware", origin);
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
  if (!from_json_head(o, vm, origin, error) || !from_json_firmware(o, vm, origin, error) ||
      !from_json_own(o, vm, origin, error) || !check_shape(vm, origin, error))
    return NULL;
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

/* ---- the state directory ------------------------------------------------------------------ */

/* The names a VM owns in its state directory. A VM name never starts with '.', so every
 * dot-name below is vsboot's own and can belong to no other VM (no suffix is the tail of
 * another, so no two VMs' names meet either):
 *   NAME.json                   the state file
 *   NAME_VARS.fd | .qcow2       the varstore of split firmware
 *   NAME_FW.fd | .qcow2         the read-write image of combined firmware
 *   NAME.tpm/                   swtpm's state
 *   .NAME.lock                  exists while a provisioning of NAME runs (flock)
 *   .BASE.vsb-new               the next BASE (one of the first four) while it is built
 *   .NAME.vsb-commit            the commit record of a provisioning
 * The temporary names deliberately avoid fileio's ".BASE.vsboot-" pattern: that cleanup
 * removes any unlocked file of that pattern, and a committed .vsb-new file is not a leftover
 * but the half of a VM that recovery still has to move into place.
 *
 * How a VM's files change together (provision, with or without reset). NAME.json and the
 * varstore must agree: a state file beside the varstore of another provisioning, or a varstore
 * without its state file, is a VM with the wrong keys or none at all. Two renames are never
 * one atomic step, so a provisioning is a small redo journal:
 *  1. Take the VM's lock (.NAME.lock; a second provisioning of NAME fails at once) and run
 *     recovery (6) for whatever a killed run left.
 *  2. Build every new file under its .vsb-new name, created exclusively, never through a
 *     symbolic link, fsync'd: the TPM directory (only when the VM has no TPM state yet), the
 *     varstore, the state file; then fsync the directory.
 *  3. Write the commit record (which files move, whether they replace, which old varstore
 *     name goes), fsync it and the directory: the commit point.
 *  4. Rename each .vsb-new file to its name (RENAME_NOREPLACE for a new VM), remove an old
 *     varstore of another name, fsync the directory.
 *  5. Remove the commit record, fsync the directory.
 *  6. Recovery, under the lock: with a complete commit record, redo 4 and 5 (a move whose
 *     .vsb-new file is gone was done before the kill); without one, or with a torn one,
 *     nothing at the VM's own names was touched yet: remove the .vsb-new names of this VM
 *     (regular files, or the TPM directory, owned by this user; anything else there is
 *     refused, never followed) and the torn record.
 * A kill at any point thus leaves the old pair (before 3) or the new pair (from 3 on, complete
 * once recovery ran). vsb_vm_load refuses a VM whose commit record exists: until recovery its
 * two files may disagree. */
#define TMP_SUFFIX ".vsb-new"
static const char *const vars_suffixes[] = { "_VARS.fd", "_VARS.qcow2", "_FW.fd", "_FW.qcow2" };
#define N_VARS_NAMES G_N_ELEMENTS(vars_suffixes)

static char *
tmp_name(const char *base)
{
  return g_strconcat(".", base, TMP_SUFFIX, NULL);
}

static char *
commit_name(const char *name)
{
  return g_strconcat(".", name, ".vsb-commit", NULL);
}

static gboolean
same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The varstore's file name for this firmware shape; NULL when it keeps no variables. */
static char *
varstore_base(const char *name, VsbFwDevice device, VsbFwFlashMode mode, VsbFwFormat format)
{
  if (device != VSB_FW_DEVICE_FLASH || mode == VSB_FW_FLASH_MODE_STATELESS)
    return NULL;
  return g_strdup_printf("%s_%s.%s", name, mode == VSB_FW_FLASH_MODE_COMBINED ? "FW" : "VARS",
                         format == VSB_FW_FORMAT_QCOW2 ? "qcow2" : "fd");
}

static gboolean
is_varstore_base(const char *name, const char *base)
{
  for (guint i = 0; i < N_VARS_NAMES; i++) {
    g_autofree char *b = g_strconcat(name, vars_suffixes[i], NULL);
    if (strcmp(b, base) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Every operation on a VM's files goes through one descriptor of its state directory (openat,
 * mkdirat, renameat, unlinkat): the directory is resolved once, and a final name is never
 * followed as a symbolic link. path is absolute, for messages and the paths NAME.json records;
 * shown is the directory as the caller named it. */
typedef struct {
  int fd;
  char *path;
  const char *shown;
  /* For the helpers and tools that take a path (fileio's atomic writes, qemu-img,
   * swtpm_setup): /proc/PID/fd/FD, which leads to this very directory, not to whatever its
   * path names by then (an ancestor writable by someone else could swap it). path when /proc
   * is not there. */
  char *at;
} StateDir;

static void
state_dir_close(StateDir *sd)
{
  if (sd->fd >= 0)
    close(sd->fd);
  sd->fd = -1;
  g_clear_pointer(&sd->path, g_free);
  g_clear_pointer(&sd->at, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StateDir, state_dir_close)

/* The path of base as recorded in NAME.json and said in notes. */
static char *
sd_path(const StateDir *sd, const char *base)
{
  return g_build_filename(sd->path, base, NULL);
}

/* The path of base to operate on (see StateDir.at). */
static char *
sd_at(const StateDir *sd, const char *base)
{
  return g_build_filename(sd->at, base, NULL);
}

/* A state directory another user can write lets them swap a root-owned 0600 varstore for
 * their own file, or plant names vsboot is about to create; the sticky bit does not help
 * against the second. Owned by the caller, writable by the owner alone. */
static gboolean
state_dir_policy(const struct stat *st, const char *shown, GError **error)
{
  if (st->st_uid != geteuid()) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "state directory %s belongs to uid %u, not to uid %u running vsboot: its owner "
                "could replace any VM file in it; use a directory of your own",
                shown, (guint)st->st_uid, (guint)geteuid());
    return FALSE;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    const char *who = (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ? "group and others"
                      : (st->st_mode & S_IWGRP)                           ? "its group"
                                                                          : "others";
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "state directory %s has mode %04o: %s can write it, and so replace a VM's "
                "varstore or state file or plant the names vsboot creates (a sticky bit does "
                "not prevent that); it must be writable by its owner only (e.g. mode 0700)",
                shown, (guint)(st->st_mode & 07777), who);
    return FALSE;
  }
  return TRUE;
}

static gboolean
state_dir_open(const char *state_dir, gboolean writing, StateDir *sd, GError **error)
{
  sd->fd = -1;
  sd->path = NULL;
  sd->at = NULL;
  sd->shown = state_dir;
  if (state_dir == NULL || *state_dir == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no state directory given");
    return FALSE;
  }
  char *abs = realpath(state_dir, NULL);
  if (abs == NULL) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "state directory %s: %s", state_dir, g_strerror(errno));
    return FALSE;
  }
  sd->path = g_strdup(abs);
  free(abs);
  sd->fd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sd->fd < 0) {
    int e = errno;
    g_set_error(error, VSB_ERROR, e == ENOTDIR ? VSB_ERROR_INVALID : VSB_ERROR_IO,
                e == ENOTDIR ? "state directory %s is not a directory" : "state directory %s: %s",
                state_dir, g_strerror(e));
    state_dir_close(sd);
    return FALSE;
  }
  struct stat a, b;
  sd->at = g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), sd->fd);
  if (stat(sd->at, &a) < 0 || fstat(sd->fd, &b) < 0 || !same_file(&a, &b)) {
    g_free(sd->at);
    sd->at = g_strdup(sd->path);
  }
  if (!writing)
    return TRUE;
  struct stat st;
  if (faccessat(sd->fd, ".", W_OK | X_OK, AT_EACCESS) < 0 || fstat(sd->fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s is not writable: %s",
                state_dir, g_strerror(errno));
    state_dir_close(sd);
    return FALSE;
  }
  if (!state_dir_policy(&st, state_dir, error)) {
    state_dir_close(sd);
    return FALSE;
  }
  return TRUE;
}

gboolean
vsb_vm_state_dir_check(const char *state_dir, GError **error)
{
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!state_dir_open(state_dir, FALSE, &sd, error))
    return FALSE;
  struct stat st;
  if (fstat(sd.fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s: %s", state_dir,
                g_strerror(errno));
    return FALSE;
  }
  return state_dir_policy(&st, state_dir, error);
}

/* The per-VM lock: .NAME.lock, created without following a link, flock'ed without waiting
 * (a second provisioning of the same VM fails at once rather than queueing behind a slow
 * swtpm_setup), and removed by its holder before it lets go. A lock taken on a file its
 * holder has just removed locks nothing, so it is re-taken until it is on the file the name
 * leads to. vsb_file_lock() does not fit here: it locks an existing file, following a final
 * link, and a VM being provisioned has no file yet. */
static int
vm_lock(const StateDir *sd, const char *name, GError **error)
{
  g_autofree char *lname = g_strconcat(".", name, ".lock", NULL);
  g_autofree char *shown = sd_path(sd, lname);
  for (int attempt = 0; attempt < 20; attempt++) {
    VSB_AUTOFD fd =
      openat(sd->fd, lname, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
      int e = errno;
      g_set_error(error, VSB_ERROR, e == ELOOP ? VSB_ERROR_INVALID : VSB_ERROR_IO,
                  e == ELOOP ? "%s is a symbolic link where vsboot keeps the lock of VM '%s'; "
                               "vsboot never follows one: remove it"
                             : "%s: cannot create the lock of VM '%s': %s",
                  shown, name, g_strerror(e));
      return -1;
    }
    struct stat st, now;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s is not vsboot's lock of VM '%s' (%s, uid %u): remove it", shown, name,
                  vsb_file_kind(st.st_mode), (guint)st.st_uid);
      return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      int e = errno;
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                  e == EWOULDBLOCK ? "VM '%s' is being provisioned by another process right now "
                                     "(it holds %s); nothing was changed"
                                   : "VM '%s': cannot lock %s",
                  name, shown);
      return -1;
    }
    if (fstatat(sd->fd, lname, &now, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&st, &now))
      return vsb_steal_fd(&fd);
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
              "VM '%s': %s keeps being replaced; another process is provisioning it", name,
              shown);
  return -1;
}

static void
vm_unlock(const StateDir *sd, const char *name, int fd)
{
  if (fd < 0)
    return;
  g_autofree char *lname = g_strconcat(".", name, ".lock", NULL);
  (void)unlinkat(sd->fd, lname, 0);
  close(fd);
}

/* A file of vsboot's own in the state directory: opened without following a link (ELOOP is
 * named as what it is), then read with fileio's bounded, type-checked reader. */
static GBytes *
read_own_file(const StateDir *sd, const char *base, gsize max, struct stat *st_out,
              GError **error)
{
  g_autofree char *shown = g_build_filename(sd->shown, base, NULL);
  VSB_AUTOFD fd = openat(sd->fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s is a symbolic link; vsboot never follows one where it keeps its own "
                  "files: remove it", shown);
    else
      g_set_error(error, VSB_ERROR, e == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO, "%s: %s",
                  shown, g_strerror(e));
    return NULL;
  }
  struct stat st;
  GBytes *data = NULL;
  if (fstat(fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", shown, g_strerror(errno));
  } else if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    /* A second name may be a link to a file that is not vsboot's at all. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s has %u names (hard links); vsboot's own files have one: remove it", shown,
                (guint)st.st_nlink);
  } else {
    data = vsb_file_read_fd(fd, shown, max, VSB_READ_DEFAULT, error);
  }
  if (data && st_out)
    *st_out = st;
  return data;
}

/* A state file's text to a VM, where nothing the file says is repeated in a message before
 * the file has shown itself to be this VM's state file (JSON, an object, "version": 1 and
 * "name" NAME): a planted NAME.json that is some other file must not print that file. */
static VsbVm *
parse_own_state(GBytes *data, const char *origin, const char *name, GError **error)
{
  gsize len = 0;
  const char *text = g_bytes_get_data(data, &len);
  g_autoptr(GError) local = NULL;
  g_autoptr(JsonNode) root = vsb_json_parse(text, len, MAX_JSON_DEPTH, origin, &local);
  if (root == NULL) {
    const char *at = strstr(local->message, ": line ");
    guint line = 0, column = 0;
    if (at && sscanf(at, ": line %u, column %u", &line, &column) == 2)
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a vsboot state file (not JSON "
                  "at line %u, column %u)", origin, line, column);
    else
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a vsboot state file (not JSON)",
                  origin);
    return NULL;
  }
  JsonObject *o = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
  JsonNode *ver = o ? json_object_get_member(o, "version") : NULL;
  JsonNode *nm = o ? json_object_get_member(o, "name") : NULL;
  const char *why = NULL;
  if (o == NULL)
    why = "not a JSON object";
  else if (ver == NULL || !JSON_NODE_HOLDS_VALUE(ver) ||
           json_node_get_value_type(ver) != G_TYPE_INT64 ||
           json_node_get_int(ver) != VM_STATE_VERSION)
    why = "no \"version\": " G_STRINGIFY(VM_STATE_VERSION);
  else if (nm == NULL || !JSON_NODE_HOLDS_VALUE(nm) ||
           json_node_get_value_type(nm) != G_TYPE_STRING ||
           g_strcmp0(json_node_get_string(nm), name) != 0)
    why = "its name does not match the file name";
  if (why) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a vsboot state file of VM '%s' (%s)",
                origin, name, why);
    return NULL;
  }
  return vsb_vm_from_json(root, origin, error);
}

/* path is dir/want in this state directory: the same directory (by device and inode, however
 * the path spells it) and exactly the name vsboot derives. */
static gboolean
is_own_path(const StateDir *sd, const char *path, const char *want)
{
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *parent = g_path_get_dirname(path);
  struct stat a, b;
  return strcmp(base, want) == 0 && stat(parent, &a) == 0 && fstat(sd->fd, &b) == 0 &&
         same_file(&a, &b);
}

/* A state file names only its own VM's files: a varstore or TPM directory elsewhere (another
 * VM's, a system file) would be handed to QEMU by `run` and replaced or removed by a reset. */
static gboolean
check_own_paths(const VsbVm *vm, const StateDir *sd, const char *origin, GError **error)
{
  g_autofree char *vars = varstore_base(vm->name, vm->device, vm->mode, vm->varstore_format);
  g_autofree char *tpm = g_strconcat(vm->name, ".tpm", NULL);
  const char *member = NULL, *value = NULL, *want = NULL;
  if (vm->varstore && (vars == NULL || !is_own_path(sd, vm->varstore, vars))) {
    member = "varstore.filename";
    value = vm->varstore;
    want = vars;
  } else if (vm->tpm_state_dir && !is_own_path(sd, vm->tpm_state_dir, tpm)) {
    member = "tpm-state-dir";
    value = vm->tpm_state_dir;
    want = tpm;
  }
  if (member == NULL) {
    /* The right name, but a link there would hand QEMU, libvirt or swtpm some other file. */
    const char *bases[] = { vm->varstore ? vars : NULL, vm->tpm_state_dir ? tpm : NULL };
    for (guint i = 0; i < G_N_ELEMENTS(bases); i++) {
      struct stat st;
      if (bases[i] && fstatat(sd->fd, bases[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "%s/%s is a symbolic link; VM '%s''s own files are never links, and neither "
                    "QEMU nor swtpm is given one: remove it", sd->shown, bases[i], vm->name);
        return FALSE;
      }
    }
    return TRUE;
  }
  g_autofree char *own = g_build_filename(sd->shown, want ? want : "?", NULL);
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
              "%s: %s: %s is not VM '%s''s own file (%s); a state file may name only the files "
              "vsboot made for its VM in its state directory", origin, member, value, vm->name,
              own);
  return FALSE;
}

static VsbVm *
vm_load_at(const StateDir *sd, const char *name, GError **error)
{
  g_autofree char *file = g_strconcat(name, ".json", NULL);
  g_autofree char *path = g_build_filename(sd->shown, file, NULL);
  g_autofree char *record = commit_name(name);
  struct stat st;
  if (fstatat(sd->fd, record, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                "VM '%s' in %s has an unfinished provisioning (%s/%s): its state file and "
                "varstore may disagree until the next provisioning of '%s' completes it",
                name, sd->shown, sd->shown, record, name);
    return NULL;
  }
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) data = read_own_file(sd, file, VSB_VM_STATE_MAX_SIZE, NULL, &local);
  if (data == NULL) {
    if (g_error_matches(local, VSB_ERROR, VSB_ERROR_NOT_FOUND))
      g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                  "VM '%s' is not provisioned in %s (no %s); run vsboot provision first", name,
                  sd->shown, path);
    else
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  g_autoptr(VsbVm) vm = parse_own_state(data, path, name, error);
  if (vm == NULL || !check_own_paths(vm, sd, path, error))
    return NULL;
  return g_steal_pointer(&vm);
}

VsbVm *
vsb_vm_load(const char *state_dir, const char *name, GError **error)
{
  if (!vsb_vm_name_validate(name, error))
    return NULL;
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!state_dir_open(state_dir, FALSE, &sd, error))
    return NULL;
  return vm_load_at(&sd, name, error);
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

gboolean
vsb_vm_save(const VsbVm *vm, const char *state_dir, GError **error)
{
  if (!vsb_vm_name_validate(vm->name, error))
    return FALSE;
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!state_dir_open(state_dir, TRUE, &sd, error))
    return FALSE;
  int lock = vm_lock(&sd, vm->name, error);
  if (lock < 0)
    return FALSE;
  g_autofree char *record = commit_name(vm->name);
  struct stat st;
  gboolean ok = FALSE;
  if (fstatat(sd.fd, record, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY, "VM '%s' has an unfinished provisioning "
                "(%s/%s); its state file is not replaced before that completes", vm->name,
                sd.shown, record);
  } else {
    g_autofree char *file = g_strconcat(vm->name, ".json", NULL);
    g_autofree char *path = sd_at(&sd, file);
    g_autofree char *text = vm_json_text(vm);
    VsbWriteOptions wo = { .mode = 0644 };
    ok = vsb_file_write_atomic_full(path, text, strlen(text), &wo, error);
  }
  vm_unlock(&sd, vm->name, lock);
  return ok;
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
                "keys directory %s does not exist", dir);
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


/* swtpm_setup normally takes well under a second; one that hangs (a stuck swtpm, a lock of
 * its own) must not hang provisioning with the VM's lock held. */
#define SWTPM_SETUP_TIMEOUT_S 60

typedef struct {
  GMainLoop *loop;
  GAsyncResult *res;
} SetupWait;

static void
on_setup_done(GObject *src, GAsyncResult *res, gpointer data)
{
  (void)src;
  SetupWait *w = data;
  w->res = g_object_ref(res);
  g_main_loop_quit(w->loop);
}

static gboolean
on_setup_limit(gpointer data)
{
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

static gboolean
run_swtpm_setup(const char *dir, gboolean certs, char **err_out, GError **error)
{
  const char *with_certs[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, "--create-ek-cert",
                               "--create-platform-cert", "--lock-nvram", NULL };
  const char *plain[] = { "swtpm_setup", "--tpm2", "--tpmstate", dir, NULL };
  g_autoptr(GError) local = NULL;
  /* Dying with vsboot: a swtpm_setup that outlived a killed vsboot would go on writing into a
   * directory that recovery removes. */
  g_autoptr(GSubprocess) p =
    vsb_tool_spawn(certs ? with_certs : plain,
                   G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, TRUE, &local);
  if (p == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s (package swtpm-tools)", local->message);
    return FALSE;
  }
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  SetupWait w = { g_main_loop_new(ctx, FALSE), NULL };
  g_subprocess_communicate_utf8_async(p, NULL, NULL, on_setup_done, &w);
  GSource *limit = g_timeout_source_new_seconds(SWTPM_SETUP_TIMEOUT_S);
  g_source_set_callback(limit, on_setup_limit, w.loop, NULL);
  g_source_attach(limit, ctx);
  g_main_loop_run(w.loop);
  gboolean timed_out = w.res == NULL;
  if (timed_out) {
    /* Killed, its pipe closes and the pending read completes. */
    g_subprocess_force_exit(p);
    while (w.res == NULL)
      g_main_context_iteration(ctx, TRUE);
  }
  g_source_destroy(limit);
  g_source_unref(limit);
  g_autofree char *err = NULL;
  gboolean ok = g_subprocess_communicate_utf8_finish(p, w.res, NULL, &err, &local);
  g_object_unref(w.res);
  g_main_loop_unref(w.loop);
  g_main_context_pop_thread_default(ctx);
  if (timed_out) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL,
                "swtpm_setup --tpmstate %s did not finish within %d s and was stopped", dir,
                SWTPM_SETUP_TIMEOUT_S);
    return FALSE;
  }
  if (!ok) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "swtpm_setup: %s", local->message);
    return FALSE;
  }
  if (!g_subprocess_get_if_exited(p) || g_subprocess_get_exit_status(p) != 0) {
    *err_out = g_strdup(err ? g_strstrip(err) : "");
    return FALSE;
  }
  return TRUE;
}

/* Who has the file open, or NULL: a QEMU takes OFD locks on its images (vsb_file_is_locked,
 * asked through /proc/self/fd so that it probes this very file, not whatever the name leads to
 * now); a QEMU started with locking=off, or any other process, shows as an open descriptor in
 * /proc (all of them for root, the caller's own otherwise). */
static char *
file_holder(int fd)
{
  g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", fd);
  if (vsb_file_is_locked(self, NULL))
    return g_strdup("a process holds a lock on it, as a running QEMU does");
  struct stat me;
  if (fstat(fd, &me) < 0)
    return NULL;
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
  const char *pid;
  while (proc && (pid = g_dir_read_name(proc))) {
    if (!g_ascii_isdigit(pid[0]) || g_ascii_strtoll(pid, NULL, 10) == (gint64)getpid())
      continue;
    g_autofree char *fds = g_build_filename("/proc", pid, "fd", NULL);
    g_autoptr(GDir) d = g_dir_open(fds, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
      g_autofree char *p = g_build_filename(fds, n, NULL);
      struct stat st;
      if (stat(p, &st) == 0 && same_file(&st, &me)) {
        g_autofree char *comm_path = g_build_filename("/proc", pid, "comm", NULL);
        g_autoptr(GBytes) comm = vsb_file_read(comm_path, 64, NULL);
        g_autofree char *name =
          comm ? g_strndup(g_bytes_get_data(comm, NULL), g_bytes_get_size(comm)) : g_strdup("?");
        return g_strdup_printf("process %s (%s) has it open", pid, g_strstrip(name));
      }
    }
  }
  return NULL;
}

/* ---- provisioning: the plan, before any file is touched ---------------------------------- */

typedef struct {
  VsbVm *vm;
  VsbVarstore *store;      /* split: the template, the user's keys enrolled when asked */
  gboolean enrolled;       /* store holds the user's keys: written, not copied */
  char *vars_src;          /* the file a varstore is copied from */
  char *vars_base;         /* NAME_VARS.fd, ...; NULL without a varstore */
} Plan;

static void
plan_clear(Plan *p)
{
  g_clear_pointer(&p->vm, vsb_vm_free);
  g_clear_pointer(&p->store, vsb_varstore_free);
  g_clear_pointer(&p->vars_src, g_free);
  g_clear_pointer(&p->vars_base, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Plan, plan_clear)

/* The request as the selection sees it: the machine resolved, features wanted and refused,
 * and what Secure Boot implies (our keys need a Secure Boot build; on x86 Secure Boot needs
 * SMM, or the guest OS could rewrite the varstore). */
static VsbMachineResolution *
plan_request(const VsbProvisionRequest *r, VsbFwArch arch, VsbFwRequest *req, GPtrArray *notes,
             GError **error)
{
  g_autoptr(VsbMachineResolution) res = vsb_qemu_resolve_machine(arch, r->machine, error);
  if (res == NULL)
    return NULL;
  note(notes, "machine: %s", res->note);
  vsb_fw_request_init(req);
  req->arch = arch;
  req->machine = res->machine;
  req->machine_family = res->family;
  req->interface = VSB_FW_INTERFACE_UEFI;
  if (!collect_features(r->features, VSB_FW_WANT_YES, req, error) ||
      !collect_features(r->no_features, VSB_FW_WANT_NO, req, error))
    return NULL;
  VsbFwWant *f = req->features;
  if (r->enrolled_keys) {
    if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "the enrolled-keys template is both asked for and refused (enrolled-keys and no-feature "
                  "enrolled-keys contradict each other)");
      return NULL;
    }
    f[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  }
  if (r->keys_dir) {
    /* Our keys go into a Secure Boot firmware; a template without vendor keys unless the
     * user asked for them (then ours are added beside them). */
    if (f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "a keys directory enrolls Secure Boot keys, but the secure-boot feature is refused");
      return NULL;
    }
    f[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
    if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_ANY)
      f[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_NO;
  }
  if (f[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_YES &&
      f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_ANY)
    f[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  if (vsb_arch_is_x86(arch) && f[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_YES) {
    if (f[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_NO) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "secure-boot without requires-smm is refused on x86: without SMM the guest "
                  "OS can rewrite the varstore and with it PK, KEK and db");
      return NULL;
    }
    if (f[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_ANY)
      note(notes, "request: secure-boot on x86 also requires requires-smm");
    f[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  }
  return g_steal_pointer(&res);
}

/* The descriptor libvirt would choose, or why none fits. */
static VsbFwSelection *
plan_select(GPtrArray *entries, const VsbFwRequest *req, GPtrArray *notes, GError **error)
{
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, req, error);
  if (sel == NULL)
    return NULL;
  if (sel->chosen == NULL) {
    g_autoptr(GString) why = g_string_new(NULL);
    for (guint i = 0; i < sel->verdicts->len; i++) {
      VsbFwVerdict *v = sel->verdicts->pdata[i];
      g_string_append_printf(why, "\n  %s: %s", v->entry->name, v->reason ? v->reason : v->reason_id);
    }
    g_set_error(error, VSB_ERROR, VSB_ERROR_NO_MATCH,
                "no firmware descriptor matches %s %s%s%s", vsb_fw_arch_name(req->arch),
                req->machine, why->len ? ":" : " (no descriptors found)", why->str);
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
  return g_steal_pointer(&sel);
}

/* The files the chosen descriptor names, and their pairing. A broken descriptor is reported,
 * not skipped: libvirt would choose it too (and fail at start); the hint says how to get past
 * it. */
static gboolean
plan_check_files(const VsbFwSelection *sel, VsbFwArch arch, GError **error)
{
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  g_autoptr(GError) local = NULL;
  g_autofree char *hint = g_strdup_printf(
    " (libvirt would choose this descriptor as well; mask it with an empty %s/firmware/%s "
    "or ask for other features)", VSB_SYSCONFDIR, sel->chosen->name);
  const char *code = vsb_fw_descriptor_code_path(d);
  VsbFwFormat code_format = d->device == VSB_FW_DEVICE_FLASH ? d->executable.format
                                                              : VSB_FW_FORMAT_RAW;
  guint64 code_size = 0, vars_size = 0;
  if (!vsb_fw_image_size(code, code_format, &code_size, &local)) {
    g_set_error(error, VSB_ERROR, local->code, "descriptor %s names firmware that cannot be "
                "used: %s%s", d->path, local->message, hint);
    return FALSE;
  }
  if (d->device != VSB_FW_DEVICE_FLASH || d->mode != VSB_FW_FLASH_MODE_SPLIT)
    return TRUE;
  const char *tpl = d->nvram_template.filename;
  if (!vsb_fw_image_size(tpl, d->nvram_template.format, &vars_size, &local)) {
    g_set_error(error, VSB_ERROR, local->code, "descriptor %s names a varstore template that "
                "cannot be used: %s%s", d->path, local->message, hint);
    return FALSE;
  }
  if (!vsb_fw_image_check_pair(arch, code, code_size, tpl, vars_size, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "descriptor %s: %s%s", d->path,
                local->message, hint);
    return FALSE;
  }
  return TRUE;
}

/* The VM as NAME.json will record it (the paths of its own files are added when they exist). */
static VsbVm *
plan_describe(const VsbProvisionRequest *r, VsbFwArch arch, const VsbMachineResolution *res,
              const VsbFwDescriptor *d)
{
  gboolean split = d->device == VSB_FW_DEVICE_FLASH && d->mode == VSB_FW_FLASH_MODE_SPLIT;
  VsbVm *vm = vsb_vm_new();
  vm->name = g_strdup(r->name);
  vm->uuid = g_uuid_string_random();
  vm->arch = arch;
  vm->machine = g_strdup(r->machine);
  vm->machine_resolved = g_strdup(res->family ? r->machine : res->machine);
  vm->descriptor_path = g_strdup(d->path);
  vm->description = g_strdup(d->description);
  vm->device = d->device;
  vm->mode = d->mode;
  vm->executable = g_strdup(vsb_fw_descriptor_code_path(d));
  vm->executable_format = d->device == VSB_FW_DEVICE_FLASH ? d->executable.format
                                                            : VSB_FW_FORMAT_RAW;
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
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  vm->created = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
  return vm;
}

/* Microsoft's CAs for the VM: the request's set, or by default the 2023 set for a template
 * that trusts Microsoft already (its KEK holds a Microsoft KEK CA) and no keys of the user. */
static guint
microsoft_set(const VsbProvisionRequest *r, const VsbVarstore *tpl)
{
  if (r->microsoft_given)
    return r->microsoft;
  if (tpl == NULL || r->keys_dir)
    return 0;
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(tpl);
  return ms->state[VSB_MS_KEK_2011] == VSB_MS_ENROLLED ||
         ms->state[VSB_MS_KEK_2023] == VSB_MS_ENROLLED ? VSB_MS_SET_2023 : 0;
}

/* The user's keys and Microsoft's CAs enrolled into the template in memory, in the library's
 * one enrollment order (secureboot.h). */
static gboolean
plan_enroll(const VsbProvisionRequest *r, const VsbFwDescriptor *d, gboolean split,
            const UserKeys *keys, Plan *p, GPtrArray *notes, GError **error)
{
  guint set = microsoft_set(r, p->store);
  if (r->keys_dir == NULL && set == 0)
    return TRUE;
  if (!split) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED, r->keys_dir
                ? "%s: keys can only be enrolled into a split firmware's varstore"
                : "%s: Microsoft's certificates can only be added to a split firmware's varstore",
                d->path);
    return FALSE;
  }
  g_autoptr(GPtrArray) kek = g_ptr_array_new(), db = g_ptr_array_new();
  VsbEnrollSteps steps = VSB_ENROLL_STEPS_INIT;
  steps.microsoft = set;
  if (r->keys_dir) {
    g_ptr_array_add(kek, keys->cert[1]);
    g_ptr_array_add(db, keys->cert[2]);
    steps.pk = keys->cert[0];
    steps.kek = kek;
    steps.db = db;
    steps.owner = &keys->owner;
    steps.secure_boot = 1;
  }
  g_autoptr(VsbEnroll) e = vsb_enroll_new(p->store);
  if (!vsb_enroll_apply(e, &steps, error)) {
    if (r->keys_dir)
      g_prefix_error(error, "enrolling %s into the varstore: ", r->keys_dir);
    return FALSE;
  }
  GPtrArray *changes = vsb_enroll_get_changes(e);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    note(notes, "enroll: %s %s%s%s", c->action, c->variable, c->detail ? ": " : "",
         c->detail ? c->detail : "");
  }
  p->vm->microsoft = set;
  p->enrolled = TRUE;
  return TRUE;
}

/* What goes into the VM's own varstore: the template (split, keys enrolled in memory) or the
 * whole image (combined), and whether Secure Boot would be enforced with it. */
static gboolean
plan_varstore(const VsbProvisionRequest *r, const VsbFwDescriptor *d, const UserKeys *keys,
              Plan *p, GPtrArray *notes, GError **error)
{
  gboolean split = d->device == VSB_FW_DEVICE_FLASH && d->mode == VSB_FW_FLASH_MODE_SPLIT;
  VsbFwFormat format = split ? d->nvram_template.format : d->executable.format;
  p->vars_base = varstore_base(r->name, d->device, d->mode, format);
  if (p->vars_base == NULL)
    return TRUE;
  p->vm->varstore_format = format;
  p->vars_src = g_strdup(split ? d->nvram_template.filename : vsb_fw_descriptor_code_path(d));
  g_autoptr(GError) local = NULL;
  if (split) {
    p->store = vsb_varstore_load(p->vars_src, &local);
    if (p->store == NULL) {
      g_set_error(error, VSB_ERROR, local->code, "varstore template of %s: %s", d->path,
                  local->message);
      return FALSE;
    }
  }
  if (!plan_enroll(r, d, split, keys, p, notes, error))
    return FALSE;
  if (p->store == NULL)
    return TRUE;
  VsbSecureBootMode mode = vsb_secure_boot_mode(p->store);
  p->vm->secure_boot = (int)mode;
  if (mode == VSB_SB_MODE_SETUP && vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_SECURE_BOOT) &&
      !r->allow_setup_mode) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "template %s has no PK (setup mode): the firmware would verify nothing and "
                "Secure Boot would not be enforced; enroll keys, take a template with keys "
                "enrolled, or accept setup mode explicitly",
                p->vars_src);
    return FALSE;
  }
  if (mode == VSB_SB_MODE_SETUP)
    note(notes, "varstore: setup mode (no PK): Secure Boot is not enforced");
  return TRUE;
}

/* ---- provisioning: the journal (see "How a VM's files change together" above) ----------- */

/* The commit record: what moves into place, and what goes. */
typedef struct {
  gboolean reset;                 /* the moves replace what is there */
  char *vars;                     /* the varstore's name; NULL without one */
  gboolean tpm;                   /* a new NAME.tpm */
  char *remove[N_VARS_NAMES];     /* old varstores of other names (reset) */
  guint n_remove;
} Record;

static void
record_clear(Record *rec)
{
  g_clear_pointer(&rec->vars, g_free);
  for (guint i = 0; i < rec->n_remove; i++)
    g_clear_pointer(&rec->remove[i], g_free);
  rec->n_remove = 0;
}

static char *
record_text(const Record *rec)
{
  GString *s = g_string_new("vsboot-commit 1\n");
  g_string_append_printf(s, "reset %d\n", rec->reset ? 1 : 0);
  if (rec->vars)
    g_string_append_printf(s, "varstore %s\n", rec->vars);
  if (rec->tpm)
    g_string_append(s, "tpm\n");
  for (guint i = 0; i < rec->n_remove; i++)
    g_string_append_printf(s, "remove %s\n", rec->remove[i]);
  g_string_append(s, "end\n");
  return g_string_free(s, FALSE);
}

/* FALSE for a torn or foreign record: then nothing was committed. Names are accepted only when
 * they are this VM's own varstore names. */
static gboolean
record_parse(const char *name, GBytes *data, Record *rec)
{
  g_autofree char *text = g_strndup(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint n = g_strv_length(lines);
  memset(rec, 0, sizeof *rec);
  if (n < 3 || strcmp(lines[0], "vsboot-commit 1") != 0 || strcmp(lines[n - 2], "end") != 0 ||
      lines[n - 1][0] != '\0')
    return FALSE;
  for (guint i = 1; i + 2 < n; i++) {
    const char *l = lines[i];
    if (strcmp(l, "reset 0") == 0 || strcmp(l, "reset 1") == 0)
      rec->reset = l[6] == '1';
    else if (strcmp(l, "tpm") == 0)
      rec->tpm = TRUE;
    else if (g_str_has_prefix(l, "varstore ") && !rec->vars && is_varstore_base(name, l + 9))
      rec->vars = g_strdup(l + 9);
    else if (g_str_has_prefix(l, "remove ") && rec->n_remove < N_VARS_NAMES &&
             is_varstore_base(name, l + 7))
      rec->remove[rec->n_remove++] = g_strdup(l + 7);
    else {
      record_clear(rec);
      return FALSE;
    }
  }
  return TRUE;
}

static void
set_not_ours(GError **error, const StateDir *sd, const char *base, const struct stat *st)
{
  g_autofree char *shown = g_build_filename(sd->shown, base, NULL);
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
              "%s is %s of uid %u where vsboot keeps a VM's own files; vsboot never follows, "
              "replaces or removes what it did not make: remove it", shown,
              S_ISLNK(st->st_mode) ? "a symbolic link" : vsb_file_kind(st->st_mode),
              (guint)st->st_uid);
}

/* Step 4 for one file: .BASE.vsb-new becomes BASE. Done already when the temporary name is
 * gone (recovery after a kill between two moves). */
static gboolean
move_in(const StateDir *sd, const char *base, gboolean replace, gboolean dir, GError **error)
{
  g_autofree char *tmp = tmp_name(base);
  struct stat st;
  if (fstatat(sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return TRUE;
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", sd->shown, tmp, g_strerror(errno));
    return FALSE;
  }
  if (!(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) || st.st_uid != geteuid()) {
    set_not_ours(error, sd, tmp, &st);
    return FALSE;
  }
  int r = replace ? renameat(sd->fd, tmp, sd->fd, base)
                  : renameat2(sd->fd, tmp, sd->fd, base, RENAME_NOREPLACE);
  if (r < 0 && !replace && errno == EINVAL && !dir) {
    /* A filesystem without RENAME_NOREPLACE: link() cannot replace either. */
    r = linkat(sd->fd, tmp, sd->fd, base, 0);
    if (r == 0)
      (void)unlinkat(sd->fd, tmp, 0);
  }
  if (r < 0) {
    int e = errno;
    g_set_error(error, VSB_ERROR, e == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
                e == EEXIST ? "%s/%s appeared while the VM was being provisioned; it is left as "
                              "it is (the new file is %s)%s"
                            : "%s/%s: cannot move %s into place: %s",
                sd->shown, base, tmp, e == EEXIST ? "" : g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

/* Remove BASE, a regular file of this user at one of the VM's own names; gone already is
 * fine. */
static gboolean
remove_own_file(const StateDir *sd, const char *base, GError **error)
{
  struct stat st;
  if (fstatat(sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT;
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    set_not_ours(error, sd, base, &st);
    return FALSE;
  }
  if (unlinkat(sd->fd, base, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, base,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

static gboolean
sync_dir(const StateDir *sd, GError **error)
{
  if (fsync(sd->fd) == 0)
    return TRUE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s: fsync failed: %s", sd->shown,
              g_strerror(errno));
  return FALSE;
}

/* Steps 4 and 5. The crash points let the tests kill vsboot between any two of them. */
static gboolean
roll_forward(const StateDir *sd, const char *name, const Record *rec, GError **error)
{
  g_autofree char *tpm = g_strconcat(name, ".tpm", NULL);
  g_autofree char *json = g_strconcat(name, ".json", NULL);
  g_autofree char *record = commit_name(name);
  if (rec->tpm && !move_in(sd, tpm, FALSE, TRUE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-tpm-moved");
  if (rec->vars && !move_in(sd, rec->vars, rec->reset, FALSE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-varstore-moved");
  if (!move_in(sd, json, rec->reset, FALSE, error))
    return FALSE;
  vsb_file_test_crash_point("vm-state-moved");
  for (guint i = 0; i < rec->n_remove; i++)
    if (!remove_own_file(sd, rec->remove[i], error))
      return FALSE;
  vsb_file_test_crash_point("vm-old-removed");
  if (!sync_dir(sd, error))
    return FALSE;
  if (unlinkat(sd->fd, record, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, record,
                g_strerror(errno));
    return FALSE;
  }
  return sync_dir(sd, error);
}

/* Step 6, without a complete record: remove this VM's temporary names, and only what is
 * plainly vsboot's there (a regular file, or for the TPM a directory, of this user). */
static gboolean
remove_uncommitted(const StateDir *sd, const char *name, guint *removed, GError **error)
{
  g_autoptr(GPtrArray) bases = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(bases, g_strconcat(name, ".tpm", NULL));
  g_ptr_array_add(bases, g_strconcat(name, ".json", NULL));
  for (guint i = 0; i < N_VARS_NAMES; i++)
    g_ptr_array_add(bases, g_strconcat(name, vars_suffixes[i], NULL));
  for (guint i = 0; i < bases->len; i++) {
    g_autofree char *tmp = tmp_name(bases->pdata[i]);
    struct stat st;
    if (fstatat(sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", sd->shown, tmp, g_strerror(errno));
      return FALSE;
    }
    gboolean want_dir = i == 0;
    if (!(want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) || st.st_uid != geteuid()) {
      set_not_ours(error, sd, tmp, &st);
      return FALSE;
    }
    g_autofree char *path = sd_at(sd, tmp);
    if (want_dir ? !vsb_dir_remove_created(path, &st, error)
                 : (unlinkat(sd->fd, tmp, 0) < 0 && errno != ENOENT)) {
      if (error && *error == NULL)
        g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot remove: %s", path,
                    g_strerror(errno));
      return FALSE;
    }
    (*removed)++;
  }
  return TRUE;
}

/* Step 6: finish (complete record) or undo (no record, or a torn one) what a killed
 * provisioning of this VM left. Runs under the VM's lock, before anything else looks. */
static gboolean
recover(const StateDir *sd, const char *name, GPtrArray *notes, GError **error)
{
  g_autofree char *record = commit_name(name);
  struct stat st;
  gboolean have_record = fstatat(sd->fd, record, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (have_record) {
    g_autoptr(GBytes) data = read_own_file(sd, record, 4096, &st, error);
    if (data == NULL)
      return FALSE;
    if (st.st_uid != geteuid()) {
      set_not_ours(error, sd, record, &st);
      return FALSE;
    }
    Record rec;
    if (record_parse(name, data, &rec)) {
      gboolean ok = roll_forward(sd, name, &rec, error);
      record_clear(&rec);
      if (ok)
        note(notes, "recovery: completed the interrupted provisioning of VM '%s'", name);
      return ok;
    }
  }
  guint removed = 0;
  if (!remove_uncommitted(sd, name, &removed, error))
    return FALSE;
  if (have_record && unlinkat(sd->fd, record, 0) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", sd->shown, record,
                g_strerror(errno));
    return FALSE;
  }
  if (removed || have_record)
    note(notes, "recovery: removed what an interrupted provisioning of VM '%s' left (%u "
         "temporary file%s)", name, removed, removed == 1 ? "" : "s");
  return TRUE;
}

/* One provisioning's files. What it created under .vsb-new names is remembered by identity,
 * so that a failure before the commit point removes exactly that, never something else that
 * has the name by then. */
enum { MADE_TPM, MADE_VARS, MADE_JSON, MADE_N };

typedef struct {
  const StateDir *sd;
  const char *name;
  Record rec;
  char *existing[N_VARS_NAMES];   /* reset: varstores there now (checked regular, ours) */
  guint n_existing;
  gboolean had_state;             /* reset: NAME.json was there */
  struct stat made_st[MADE_N];
  gboolean made[MADE_N];
  gboolean committed;
} Txn;

static void
txn_clear(Txn *t)
{
  record_clear(&t->rec);
  for (guint i = 0; i < t->n_existing; i++)
    g_clear_pointer(&t->existing[i], g_free);
  t->n_existing = 0;
}

static char *
made_base(const Txn *t, int which)
{
  switch (which) {
  case MADE_TPM:
    return g_strconcat(t->name, ".tpm", NULL);
  case MADE_VARS:
    return g_strdup(t->rec.vars);
  default:
    return g_strconcat(t->name, ".json", NULL);
  }
}

/* Record the identity of what this call just created at .BASE.vsb-new. */
static gboolean
txn_made(Txn *t, int which, GError **error)
{
  g_autofree char *base = made_base(t, which);
  g_autofree char *tmp = tmp_name(base);
  if (fstatat(t->sd->fd, tmp, &t->made_st[which], AT_SYMLINK_NOFOLLOW) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", t->sd->shown, tmp,
                g_strerror(errno));
    return FALSE;
  }
  t->made[which] = TRUE;
  return TRUE;
}

/* A failure before the commit point: remove what this call made, by identity. */
static void
txn_undo(Txn *t)
{
  for (int i = 0; i < MADE_N; i++) {
    if (!t->made[i])
      continue;
    g_autofree char *base = made_base(t, i);
    g_autofree char *tmp = tmp_name(base);
    g_autofree char *path = sd_at(t->sd, tmp);
    struct stat st;
    if (i == MADE_TPM)
      (void)vsb_dir_remove_created(path, &t->made_st[i], NULL);
    else if (fstatat(t->sd->fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             same_file(&st, &t->made_st[i]))
      (void)unlinkat(t->sd->fd, tmp, 0);
  }
}

/* A reset must not pull the varstore from under a running VM: refused while any process holds
 * one of the varstores it would replace or remove. */
static gboolean
check_holders(const Txn *t, GError **error)
{
  for (guint i = 0; i < t->n_existing; i++) {
    const char *base = t->existing[i];
    VSB_AUTOFD fd =
      openat(t->sd->fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
      continue; /* gone: nothing holds it */
    g_autofree char *who = file_holder(fd);
    if (who) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                  "VM '%s' is running: its varstore %s/%s is in use (%s); stop the VM before "
                  "provisioning it again; nothing was changed", t->name, t->sd->shown, base, who);
      return FALSE;
    }
  }
  return TRUE;
}

/* NAME.json as it is: absent for a new VM (else what exists is said), this VM's valid state
 * file for a reset (a tampered or foreign one is refused, never acted on). */
static gboolean
check_state_file(Txn *t, gboolean reset, GError **error)
{
  g_autofree char *json = g_strconcat(t->name, ".json", NULL);
  g_autofree char *path = g_build_filename(t->sd->shown, json, NULL);
  struct stat st;
  if (fstatat(t->sd->fd, json, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return TRUE;
  g_autoptr(GError) lerr = NULL;
  g_autoptr(VsbVm) old = vm_load_at(t->sd, t->name, &lerr);
  if (reset) {
    if (old == NULL) {
      g_set_error(error, VSB_ERROR, lerr->code, "VM '%s' cannot be provisioned again: %s",
                  t->name, lerr->message);
      return FALSE;
    }
    t->had_state = TRUE;
    return TRUE;
  }
  if (old)
    g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                "VM '%s' is already provisioned (%s, created %s): firmware %s, varstore %s; "
                "the varstore holds the VM's keys and boot entries and is kept", t->name, path,
                old->created ? old->created : "?", old->descriptor_path,
                old->varstore ? old->varstore : "(none)");
  else
    /* Not even a reset goes over a state file that does not load: it is acted on only when
     * it is this VM's. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s already exists and is not a state file "
                "vsboot can use (%s); VM '%s' is not provisioned over it: remove it", path,
                lerr->message, t->name);
  return FALSE;
}

/* The VM's varstore names as they are: all absent for a new VM (one without NAME.json is an
 * interrupted or foreign provisioning, never overwritten); for a reset, regular files of this
 * user that no process holds. */
static gboolean
check_varstores(Txn *t, gboolean reset, GError **error)
{
  for (guint i = 0; i < N_VARS_NAMES; i++) {
    g_autofree char *base = g_strconcat(t->name, vars_suffixes[i], NULL);
    struct stat st;
    if (fstatat(t->sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (S_ISLNK(st.st_mode) || (reset && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))) {
      set_not_ours(error, t->sd, base, &st);
      return FALSE;
    }
    if (!reset) {
      g_autofree char *path = g_build_filename(t->sd->shown, base, NULL);
      g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS,
                  "%s already exists (a varstore without %s.json: an interrupted or foreign "
                  "provisioning); it is never overwritten: remove it", path, t->name);
      return FALSE;
    }
    t->existing[t->n_existing++] = g_steal_pointer(&base);
  }
  return !reset || check_holders(t, error);
}

/* NAME.tpm: absent (a new one is made), or a TPM state directory of this user, which is kept
 * (it is the VM's identity). Anything else there (a link, a file, an empty or foreign
 * directory) vsboot did not make: refused, never used, never removed. */
static gboolean
check_tpm_dir(Txn *t, GPtrArray *notes, GError **error)
{
  g_autofree char *base = g_strconcat(t->name, ".tpm", NULL);
  g_autofree char *path = g_build_filename(t->sd->shown, base, NULL);
  struct stat st;
  if (fstatat(t->sd->fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    t->rec.tpm = TRUE;
    return TRUE;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
    set_not_ours(error, t->sd, base, &st);
    return FALSE;
  }
  VSB_AUTOFD dfd = openat(t->sd->fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat pst;
  gboolean has_state = dfd >= 0 &&
                       fstatat(dfd, "tpm2-00.permall", &pst, AT_SYMLINK_NOFOLLOW) == 0 &&
                       S_ISREG(pst.st_mode);
  if (!has_state) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s exists but holds no TPM state (no tpm2-00.permall): vsboot did not make it, "
                "and neither uses nor removes it; remove it or move it away", path);
    return FALSE;
  }
  note(notes, "tpm: keeping the existing TPM 2.0 state in %s", path);
  return TRUE;
}

/* Step 2, TPM: a new directory made here (mkdirat: an existing name is never "ours") and
 * filled by swtpm_setup; its identity is what a failure removes. */
static gboolean
build_tpm(Txn *t, GPtrArray *notes, GError **error)
{
  if (!t->rec.tpm)
    return TRUE;
  g_autofree char *base = g_strconcat(t->name, ".tpm", NULL);
  g_autofree char *tmp = tmp_name(base);
  g_autofree char *path = sd_at(t->sd, tmp);
  g_autofree char *final = sd_path(t->sd, base);
  if (mkdirat(t->sd->fd, tmp, 0700) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot create %s/%s: %s", t->sd->shown, tmp,
                g_strerror(errno));
    return FALSE;
  }
  if (!txn_made(t, MADE_TPM, error))
    return FALSE;
  g_autofree char *err1 = NULL, *err2 = NULL;
  gboolean ok = run_swtpm_setup(path, TRUE, &err1, error);
  if (ok) {
    note(notes, "tpm: TPM 2.0 state with EK and platform certificates in %s", final);
  } else if (error == NULL || *error == NULL) {
    /* The certificate tools need a local CA configuration; a TPM without certificates works. */
    ok = run_swtpm_setup(path, FALSE, &err2, error);
    if (ok)
      note(notes, "tpm: TPM 2.0 state in %s (no EK certificate: %s)", final, err1);
    else if (error && *error == NULL)
      g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL,
                  "swtpm_setup --tpm2 --tpmstate %s failed: %s", path, err2);
  }
  if (!ok)
    return FALSE;
  vsb_file_test_crash_point("vm-tpm-written");
  return TRUE;
}

static gboolean
copy_template(int fd, const char *path, gpointer src, GError **error)
{
  return vsb_file_copy_into_fd(src, fd, path, error);
}

/* Step 2, varstore: the user's keys written out, or the template (or combined image) copied,
 * reflinked where the filesystem can. */
static gboolean
build_varstore(Txn *t, const Plan *p, GPtrArray *notes, GError **error)
{
  if (t->rec.vars == NULL)
    return TRUE;
  g_autofree char *tmp = tmp_name(t->rec.vars);
  g_autofree char *path = sd_at(t->sd, tmp);
  g_autofree char *final = sd_path(t->sd, t->rec.vars);
  if (p->enrolled && p->vm->varstore_format != VSB_FW_FORMAT_RAW) {
    /* qcow2 goes through qemu-img, by path: the VM's own temporary name, in a directory only
     * its owner writes, under the VM's lock. */
    if (!vsb_varstore_save(p->store, path, 0600, TRUE, error) || !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s from %s with %s%s", final, p->vars_src,
         p->vm->keys_dir ? "the keys of " : "Microsoft's certificates added",
         p->vm->keys_dir ? p->vm->keys_dir : "");
  } else if (p->enrolled) {
    g_autoptr(GBytes) bytes = vsb_varstore_serialize(p->store, error);
    VsbWriteOptions wo = { .mode = 0600, .exclusive = TRUE };
    if (bytes == NULL ||
        !vsb_file_write_atomic_full(path, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                                    &wo, error) ||
        !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s from %s with %s%s", final, p->vars_src,
         p->vm->keys_dir ? "the keys of " : "Microsoft's certificates added",
         p->vm->keys_dir ? p->vm->keys_dir : "");
  } else {
    /* The one atomic write, filled by the one copy (reflinked where the filesystem can). */
    VsbWriteOptions wo = { .mode = 0600, .exclusive = TRUE };
    if (!vsb_file_rewrite(path, &wo, copy_template, p->vars_src, error) ||
        !txn_made(t, MADE_VARS, error))
      return FALSE;
    note(notes, "varstore: %s copied from %s", final, p->vars_src);
  }
  vsb_file_test_crash_point("vm-varstore-written");
  return TRUE;
}

/* Step 2, the state file; then step 3, the commit record, and steps 4-5. */
static gboolean
commit(Txn *t, const VsbVm *vm, GError **error)
{
  g_autofree char *json = g_strconcat(t->name, ".json", NULL);
  g_autofree char *json_tmp = tmp_name(json);
  g_autofree char *json_path = sd_at(t->sd, json_tmp);
  g_autofree char *text = vm_json_text(vm);
  VsbWriteOptions wo = { .mode = 0644, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(json_path, text, strlen(text), &wo, error) ||
      !txn_made(t, MADE_JSON, error))
    return FALSE;
  vsb_file_test_crash_point("vm-state-written");
  /* Once more just before the point of no return: a VM started since the first check. */
  if (!sync_dir(t->sd, error) || (t->rec.reset && !check_holders(t, error)))
    return FALSE;
  g_autofree char *record = commit_name(t->name);
  g_autofree char *record_path = sd_at(t->sd, record);
  g_autofree char *rtext = record_text(&t->rec);
  VsbWriteOptions ro = { .mode = 0600, .exclusive = TRUE };
  if (!vsb_file_write_atomic_full(record_path, rtext, strlen(rtext), &ro, error))
    return FALSE;
  t->committed = TRUE;
  vsb_file_test_crash_point("vm-committed");
  return roll_forward(t->sd, t->name, &t->rec, error);
}

/* ---- provisioning: the phases ------------------------------------------------------------ */

/* One request followed through provisioning. Each phase reads what the earlier ones made and
 * adds its own part; nothing in the state directory changes before the "tpm" phase, and what
 * that and "commit" make is undone by the journal (Txn) when a later step fails. */
typedef struct {
  /* Inputs. */
  const VsbProvisionRequest *r;
  VsbFwArch arch;
  const StateDir *sd;
  GPtrArray *notes;
  /* "request": the user's keys, and the request as the selection sees it. */
  UserKeys keys;
  VsbFwRequest req;
  VsbMachineResolution *res;
  /* "select": the descriptors and the choice among them. */
  GPtrArray *entries;
  VsbFwSelection *sel;
  /* "pair" describes the VM (plan.vm); "varstore" fills the rest of the plan. */
  Plan plan;
  /* "state" records what exists; "tpm" and "commit" write through it. */
  Txn t;
} Provision;

static void
provision_clear(Provision *pv)
{
  user_keys_clear(&pv->keys);
  g_clear_pointer(&pv->res, vsb_machine_resolution_free);
  g_clear_pointer(&pv->entries, g_ptr_array_unref);
  g_clear_pointer(&pv->sel, vsb_fw_selection_free);
  plan_clear(&pv->plan);
  txn_clear(&pv->t);
}

/* What is at the VM's names now: nothing for a new VM, this VM's own files for a reset. */
static gboolean
phase_state(Provision *pv, GError **error)
{
  return check_state_file(&pv->t, pv->r->reset, error) &&
         check_varstores(&pv->t, pv->r->reset, error);
}

/* The request policy: the user's keys loaded, the machine resolved, the features wanted. */
static gboolean
phase_request(Provision *pv, GError **error)
{
  if (pv->r->keys_dir && !user_keys_load(pv->r->keys_dir, &pv->keys, error))
    return FALSE;
  pv->res = plan_request(pv->r, pv->arch, &pv->req, pv->notes, error);
  return pv->res != NULL;
}

/* The descriptor libvirt would choose. */
static gboolean
phase_select(Provision *pv, GError **error)
{
  pv->entries = vsb_fw_search(pv->r->firmware_dirs, error);
  if (pv->entries == NULL)
    return FALSE;
  pv->sel = plan_select(pv->entries, &pv->req, pv->notes, error);
  return pv->sel != NULL;
}

/* The chosen files usable and belonging together; the VM as its state file will say. */
static gboolean
phase_pair(Provision *pv, GError **error)
{
  if (!plan_check_files(pv->sel, pv->arch, error))
    return FALSE;
  pv->plan.vm = plan_describe(pv->r, pv->arch, pv->res, pv->sel->chosen->descriptor);
  return TRUE;
}

/* The varstore's contents in memory (keys enrolled), the checksums of what the VM runs, and
 * the names of the VM's own files. */
static gboolean
phase_varstore(Provision *pv, GError **error)
{
  Plan *p = &pv->plan;
  if (!plan_varstore(pv->r, pv->sel->chosen->descriptor, &pv->keys, p, pv->notes, error))
    return FALSE;
  p->vm->executable_sha256 = sha256_cached(p->vm->executable, error);
  if (p->vm->executable_sha256 == NULL)
    return FALSE;
  if (p->vm->nvram_template) {
    p->vm->template_sha256 = sha256_cached(p->vm->nvram_template, error);
    if (p->vm->template_sha256 == NULL)
      return FALSE;
  }
  Txn *t = &pv->t;
  t->rec.vars = g_strdup(p->vars_base);
  for (guint i = 0; i < t->n_existing; i++)
    if (g_strcmp0(t->existing[i], p->vars_base) != 0)
      t->rec.remove[t->rec.n_remove++] = g_strdup(t->existing[i]);
  if (p->vars_base)
    p->vm->varstore = sd_path(pv->sd, p->vars_base);
  return TRUE;
}

/* NAME.tpm: kept when it holds TPM state, else made by swtpm_setup. */
static gboolean
phase_tpm(Provision *pv, GError **error)
{
  if (!pv->r->tpm)
    return TRUE;
  g_autofree char *tpm = g_strconcat(pv->r->name, ".tpm", NULL);
  pv->plan.vm->tpm_state_dir = sd_path(pv->sd, tpm);
  return check_tpm_dir(&pv->t, pv->notes, error) && build_tpm(&pv->t, pv->notes, error);
}

/* The varstore written, then the state file and the commit record (the commit point). */
static gboolean
phase_commit(Provision *pv, GError **error)
{
  return build_varstore(&pv->t, &pv->plan, pv->notes, error) &&
         commit(&pv->t, pv->plan.vm, error);
}

static const struct {
  const char *name;
  gboolean (*run)(Provision *pv, GError **error);
} phases[] = {
  { "state", phase_state },       { "request", phase_request }, { "select", phase_select },
  { "pair", phase_pair },         { "varstore", phase_varstore }, { "tpm", phase_tpm },
  { "commit", phase_commit },
};

/* Recovery of an interrupted provisioning first, then the phases in order. */
static VsbVm *
provision_locked(const VsbProvisionRequest *r, VsbFwArch arch, const StateDir *sd,
                 GPtrArray *notes, GError **error)
{
  if (!recover(sd, r->name, notes, error))
    return NULL;
  Provision pv = { .r = r, .arch = arch, .sd = sd, .notes = notes,
                   .t = { .sd = sd, .name = r->name, .rec = { .reset = r->reset } } };
  gboolean ok = TRUE;
  for (gsize i = 0; ok && i < G_N_ELEMENTS(phases); i++)
    ok = phases[i].run(&pv, error);
  Txn *t = &pv.t;
  if (!ok && !t->committed)
    txn_undo(t);
  else if (!ok)
    g_prefix_error(error, "VM '%s' was committed but not completed (the next provisioning of it "
                   "completes it): ", r->name);
  for (guint i = 0; ok && i < t->rec.n_remove; i++)
    note(notes, "reset: removed the previous varstore %s/%s", sd->path, t->rec.remove[i]);
  if (ok && t->had_state)
    note(notes, "reset: VM '%s' provisioned again; its previous varstore was replaced", r->name);
  VsbVm *vm = ok ? g_steal_pointer(&pv.plan.vm) : NULL;
  provision_clear(&pv);
  return vm;
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
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no machine type given");
    return NULL;
  }
  if (r->keys_dir && r->enrolled_keys) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "a keys directory and enrolled-keys exclude each other: enroll your own keys or "
                "take the template's");
    return NULL;
  }
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!state_dir_open(r->state_dir, TRUE, &sd, error))
    return NULL;
  int lock = vm_lock(&sd, r->name, error);
  if (lock < 0)
    return NULL;
  VsbVm *vm = provision_locked(r, (VsbFwArch)arch, &sd, notes, error);
  vm_unlock(&sd, r->name, lock);
  if (vm && notes_out)
    *notes_out = g_steal_pointer(&notes);
  return vm;
}
