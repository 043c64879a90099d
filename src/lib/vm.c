/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A provisioned VM: the state file (NAME.json) and its JSON, the state directory and its
 * rules, loading and saving. Provisioning, its phases and its journal, is vm-provision.c. */
#include "vsboot/vm.h"
#include "vm-private.h"
#include "util/jsonb.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "json.h"
#include "vsboot/mscerts.h"
#include "qemu-probe.h"
#include "util/arch.h"
#include "util/autofd.h"
#include "util/enumname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
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
file_object(JsonBuilder *b, const char *member, const char *filename, VsbFwFormat format,
            const char *sha256)
{
  json_builder_set_member_name(b, member);
  if (filename == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_object(b);
  vsb_json_put_str(b, "filename", filename);
  vsb_json_put_str(b, "format", vsb_fw_format_name(format));
  if (sha256)
    vsb_json_put_str(b, "sha256", sha256);
  json_builder_end_object(b);
}

JsonNode *
vsb_vm_to_json(const VsbVm *vm)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, VM_STATE_VERSION);
  vsb_json_put_str(b, "name", vm->name);
  vsb_json_put_str(b, "uuid", vm->uuid);
  vsb_json_put_str(b, "arch", vsb_fw_arch_name(vm->arch));
  vsb_json_put_str(b, "machine", vm->machine);
  vsb_json_put_str(b, "machine-resolved", vm->machine_resolved);

  json_builder_set_member_name(b, "firmware");
  json_builder_begin_object(b);
  vsb_json_put_str(b, "descriptor", vm->descriptor_path);
  vsb_json_put_str(b, "description", vm->description);
  vsb_json_put_str(b, "device", vsb_fw_device_name(vm->device));
  if (vm->device == VSB_FW_DEVICE_FLASH)
    vsb_json_put_str(b, "mode", vsb_fw_flash_mode_name(vm->mode));
  file_object(b, "executable", vm->executable, vm->executable_format, vm->executable_sha256);
  file_object(b, "nvram-template", vm->nvram_template, vm->nvram_template_format,
              vm->template_sha256);
  vsb_fw_features_put_json(b, "features", vm->features, (const char *const *)vm->unknown_features);
  json_builder_end_object(b);

  file_object(b, "varstore", vm->varstore, vm->varstore_format, NULL);
  vsb_json_put_str(b, "keys", vsb_vm_keys_name(vm->keys));
  vsb_json_put_str(b, "keys-dir", vm->keys_dir);
  json_builder_set_member_name(b, "microsoft");
  json_builder_begin_array(b);
  for (int id = 0; id < VSB_MS_N_CERTS; id++)
    if (vm->microsoft & (1u << id))
      json_builder_add_string_value(b, vsb_ms_cert((VsbMsCertId)id)->name);
  json_builder_end_array(b);
  vsb_json_put_str(b, "secure-boot", vm->secure_boot < 0 ? NULL
                                  : vsb_secure_boot_mode_name((VsbSecureBootMode)vm->secure_boot));
  vsb_json_put_str(b, "tpm-state-dir", vm->tpm_state_dir);
  vsb_json_put_str(b, "created", vm->created);
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
 * How a VM's files change together is vm-provision.c's journal. */
const char *const vm_vars_suffixes[VM_N_VARS_NAMES] = { "_VARS.fd", "_VARS.qcow2", "_FW.fd", "_FW.qcow2" };

char *
vm_tmp_name(const char *base)
{
  return g_strconcat(".", base, VM_TMP_SUFFIX, NULL);
}

char *
vm_commit_name(const char *name)
{
  return g_strconcat(".", name, ".vsb-commit", NULL);
}

gboolean
vm_same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The varstore's file name for this firmware shape; NULL when it keeps no variables. */
char *
vm_varstore_base(const char *name, VsbFwDevice device, VsbFwFlashMode mode, VsbFwFormat format)
{
  if (device != VSB_FW_DEVICE_FLASH || mode == VSB_FW_FLASH_MODE_STATELESS)
    return NULL;
  return g_strdup_printf("%s_%s.%s", name, mode == VSB_FW_FLASH_MODE_COMBINED ? "FW" : "VARS",
                         format == VSB_FW_FORMAT_QCOW2 ? "qcow2" : "fd");
}

gboolean
vm_is_varstore_base(const char *name, const char *base)
{
  for (guint i = 0; i < VM_N_VARS_NAMES; i++) {
    g_autofree char *b = g_strconcat(name, vm_vars_suffixes[i], NULL);
    if (strcmp(b, base) == 0)
      return TRUE;
  }
  return FALSE;
}


void
vm_state_dir_close(StateDir *sd)
{
  if (sd->fd >= 0)
    close(sd->fd);
  sd->fd = -1;
  g_clear_pointer(&sd->path, g_free);
  g_clear_pointer(&sd->at, g_free);
}

/* The path of base as recorded in NAME.json and said in notes. */
char *
vm_sd_path(const StateDir *sd, const char *base)
{
  return g_build_filename(sd->path, base, NULL);
}

/* The path of base to operate on (see StateDir.at). */
char *
vm_sd_at(const StateDir *sd, const char *base)
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

gboolean
vm_state_dir_open(const char *state_dir, gboolean writing, StateDir *sd, GError **error)
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
    vm_state_dir_close(sd);
    return FALSE;
  }
  struct stat a, b;
  sd->at = g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), sd->fd);
  if (stat(sd->at, &a) < 0 || fstat(sd->fd, &b) < 0 || !vm_same_file(&a, &b)) {
    g_free(sd->at);
    sd->at = g_strdup(sd->path);
  }
  if (!writing)
    return TRUE;
  struct stat st;
  if (faccessat(sd->fd, ".", W_OK | X_OK, AT_EACCESS) < 0 || fstat(sd->fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "state directory %s is not writable: %s",
                state_dir, g_strerror(errno));
    vm_state_dir_close(sd);
    return FALSE;
  }
  if (!state_dir_policy(&st, state_dir, error)) {
    vm_state_dir_close(sd);
    return FALSE;
  }
  return TRUE;
}

gboolean
vsb_vm_state_dir_check(const char *state_dir, GError **error)
{
  g_auto(StateDir) sd = { -1, NULL, NULL, NULL };
  if (!vm_state_dir_open(state_dir, FALSE, &sd, error))
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
int
vm_lock(const StateDir *sd, const char *name, GError **error)
{
  g_autofree char *lname = g_strconcat(".", name, ".lock", NULL);
  g_autofree char *shown = vm_sd_path(sd, lname);
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
    if (fstatat(sd->fd, lname, &now, AT_SYMLINK_NOFOLLOW) == 0 && vm_same_file(&st, &now))
      return vsb_steal_fd(&fd);
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
              "VM '%s': %s keeps being replaced; another process is provisioning it", name,
              shown);
  return -1;
}

void
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
GBytes *
vm_read_own_file(const StateDir *sd, const char *base, gsize max, struct stat *st_out,
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
         vm_same_file(&a, &b);
}

/* A state file names only its own VM's files: a varstore or TPM directory elsewhere (another
 * VM's, a system file) would be handed to QEMU by `run` and replaced or removed by a reset. */
static gboolean
check_own_paths(const VsbVm *vm, const StateDir *sd, const char *origin, GError **error)
{
  g_autofree char *vars = vm_varstore_base(vm->name, vm->device, vm->mode, vm->varstore_format);
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

VsbVm *
vm_load_at(const StateDir *sd, const char *name, GError **error)
{
  g_autofree char *file = g_strconcat(name, ".json", NULL);
  g_autofree char *path = g_build_filename(sd->shown, file, NULL);
  g_autofree char *record = vm_commit_name(name);
  struct stat st;
  if (fstatat(sd->fd, record, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                "VM '%s' in %s has an unfinished provisioning (%s/%s): its state file and "
                "varstore may disagree until the next provisioning of '%s' completes it",
                name, sd->shown, sd->shown, record, name);
    return NULL;
  }
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) data = vm_read_own_file(sd, file, VSB_VM_STATE_MAX_SIZE, NULL, &local);
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
  if (!vm_state_dir_open(state_dir, FALSE, &sd, error))
    return NULL;
  return vm_load_at(&sd, name, error);
}

gboolean
vm_check_smm_arch(const VsbVm *vm, GError **error)
{
  if (vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM) && !vsb_arch_is_x86(vm->arch)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: firmware %s requires SMM, which only x86 machines have", vm->name,
                vm->descriptor_path);
    return FALSE;
  }
  return TRUE;
}

char *
vm_json_text(const VsbVm *vm)
{
  g_autoptr(JsonNode) node = vsb_vm_to_json(vm);
  return vsb_json_text(node);
}

