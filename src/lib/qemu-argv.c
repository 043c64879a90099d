/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/qemu-argv.h"
#include "qemu-argv-private.h"
#include "vm-private.h"
#include "vsboot/error.h"
#include "filecache.h"
#include "vsboot/fv.h"
#include "util/arch.h"
#include "util/jsonb.h"

#include <string.h>

/* Compact JSON text of a -blockdev node. */
static char *
node_json(JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  return json_generator_to_data(gen, NULL);
}

static char *
storage_node(const char *filename, const char *node_name, gboolean read_only_code)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "driver", "file");
  vsb_json_put_str(b, "filename", filename);
  vsb_json_put_str(b, "node-name", node_name);
  if (read_only_code) {
    /* As libvirt: the protocol node opens read-only as the format node above it needs. */
    vsb_json_put_bool(b, "auto-read-only", TRUE);
    vsb_json_put_str(b, "discard", "unmap");
  } else {
    vsb_json_put_bool(b, "read-only", FALSE);
  }
  json_builder_end_object(b);
  return node_json(b);
}

static char *
format_node(const char *node_name, VsbFwFormat format, gboolean read_only, const char *file_node)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "node-name", node_name);
  vsb_json_put_bool(b, "read-only", read_only);
  vsb_json_put_str(b, "driver", vsb_fw_format_name(format));
  vsb_json_put_str(b, "file", file_node);
  json_builder_end_object(b);
  return node_json(b);
}

static void
add(GPtrArray *args, const char *a)
{
  g_ptr_array_add(args, g_strdup(a));
}

static void
add_take(GPtrArray *args, char *a)
{
  g_ptr_array_add(args, a);
}

char *
vsb_qemu_opt_escape(const char *value)
{
  GString *s = g_string_sized_new(strlen(value) + 8);
  for (const char *p = value; *p; p++) {
    if (*p == ',')
      g_string_append_c(s, ',');
    g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

/* One flash unit in the pre-4.0 syntax. */
static char *
drive_arg(guint unit, const char *file, VsbFwFormat format, gboolean read_only)
{
  g_autofree char *esc = vsb_qemu_opt_escape(file);
  return g_strdup_printf("if=pflash,unit=%u,format=%s%s,file=%s", unit, vsb_fw_format_name(format),
                         read_only ? ",readonly=on" : "", esc);
}

/* -blockdev nodes for one flash unit; returns the node name to give -machine pflashN=. */
static const char *
blockdev_args(GPtrArray *args, guint unit, const char *file, VsbFwFormat format,
              gboolean read_only)
{
  const char *storage = unit == 0 ? VSB_QEMU_PFLASH0_STORAGE : VSB_QEMU_PFLASH1_STORAGE;
  const char *fmt = unit == 0 ? VSB_QEMU_PFLASH0_FORMAT : VSB_QEMU_PFLASH1_FORMAT;
  if (read_only) {
    /* Code: file node + read-only format node, as libvirt. */
    add(args, "-blockdev");
    add_take(args, storage_node(file, storage, TRUE));
    add(args, "-blockdev");
    add_take(args, format_node(fmt, format, TRUE, storage));
    return fmt;
  }
  add(args, "-blockdev");
  add_take(args, storage_node(file, storage, FALSE));
  if (format == VSB_FW_FORMAT_RAW)
    return storage; /* raw needs no format layer (libvirt >= 9.x does the same) */
  add(args, "-blockdev");
  add_take(args, format_node(fmt, format, FALSE, storage));
  return fmt;
}

/* One pflash unit: a -blockdev pair named in -machine (pflash[unit]), or an old-style -drive
 * (into flash) for QEMU before 4. */
static void
pflash_args(GPtrArray *args, GPtrArray *flash, const char **pflash, gboolean blockdev,
            guint unit, const char *path, VsbFwFormat format, gboolean readonly)
{
  if (blockdev) {
    pflash[unit] = blockdev_args(args, unit, path, format, readonly);
  } else {
    g_ptr_array_add(flash, g_strdup("-drive"));
    g_ptr_array_add(flash, drive_arg(unit, path, format, readonly));
  }
}

/* The firmware's flash units: code read-only (or the VM's combined copy read-write), then
 * the split varstore. Memory-mapped firmware has none. */
static gboolean
firmware_args(const VsbVm *vm, gboolean blockdev, GPtrArray *args, GPtrArray *flash,
              const char **pflash, GError **error)
{
  if (vm->device == VSB_FW_DEVICE_MEMORY)
    return TRUE; /* SEV/TDX images are loaded into memory as a BIOS ROM; pflash does not work */
  if (vm->device != VSB_FW_DEVICE_FLASH) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "%s: firmware device '%s' (%s) cannot be given to QEMU as firmware by vsboot",
                vm->name, vsb_fw_device_name(vm->device), vm->descriptor_path);
    return FALSE;
  }
  gboolean combined = vm->mode == VSB_FW_FLASH_MODE_COMBINED;
  gboolean split = vm->mode == VSB_FW_FLASH_MODE_SPLIT;
  if ((combined || split) && vm->varstore == NULL) {
    /* Combined: the VM's own read-write copy of code+vars is the only flash. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                combined ? "%s: combined firmware but no per-VM copy recorded"
                         : "%s: split firmware but no varstore recorded", vm->name);
    return FALSE;
  }
  if (combined)
    pflash_args(args, flash, pflash, blockdev, 0, vm->varstore, vm->varstore_format, FALSE);
  else
    pflash_args(args, flash, pflash, blockdev, 0, vm->executable, vm->executable_format, TRUE);
  if (split)
    pflash_args(args, flash, pflash, blockdev, 1, vm->varstore, vm->varstore_format, FALSE);
  return TRUE;
}

/* The file cache (filecache.h) and its key for vsb_firmware_needs_s3_off. */
#define S3_CACHE "firmware"
#define S3_CACHE_WHAT "x64-pei-smm"

gboolean
vsb_fv_image_needs_s3_off(const VsbFvImage *image)
{
  /* requires-smm from the image: the SMM variable stack of an SMM_REQUIRE build. */
  const VsbFvFeature *smm = vsb_fv_image_get_feature(image, "requires-smm");
  return smm && smm->present && vsb_fv_image_get_pei_arch(image) == VSB_FW_ARCH_X86_64;
}

gboolean
vsb_firmware_needs_s3_off(const char *path)
{
  g_autofree char *cached = vsb_file_cache_get(S3_CACHE, path, S3_CACHE_WHAT);
  if (cached)
    return strcmp(cached, "yes") == 0;
  /* Reading the volumes inflates ~13 MiB (0.1 s); the cache spares it on every later emit. */
  g_autoptr(VsbFvImage) image = vsb_fv_inspect_file(path, NULL, NULL);
  if (image == NULL)
    return FALSE;
  gboolean needs = vsb_fv_image_needs_s3_off(image);
  vsb_file_cache_put(S3_CACHE, path, S3_CACHE_WHAT, needs ? "yes" : "no");
  return needs;
}

static gboolean
machine_is_q35(const char *m)
{
  return m && (strcmp(m, "q35") == 0 || g_str_has_prefix(m, "pc-q35-"));
}

gboolean
vsb_vm_needs_s3_off(const VsbVm *vm)
{
  /* OVMF's SMM builds run on q35 only, where the ICH9 LPC bridge is what advertises S3; the
   * image QEMU maps is the VM's own copy for combined flash. */
  if (!vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM) || !vsb_arch_is_x86(vm->arch) ||
      vm->device != VSB_FW_DEVICE_FLASH ||
      !machine_is_q35(vm->machine_resolved ? vm->machine_resolved : vm->machine))
    return FALSE;
  const char *code = vm->mode == VSB_FW_FLASH_MODE_COMBINED && vm->varstore ? vm->varstore
                                                                             : vm->executable;
  return code && vsb_firmware_needs_s3_off(code);
}

static void
tpm_args(const VsbVm *vm, const VsbQemuArgvOptions *opts, GPtrArray *args)
{
  if (vm->tpm_state_dir == NULL || opts->no_tpm)
    return;
  g_autofree char *sock = opts->tpm_socket ? g_strdup(opts->tpm_socket)
                                           : vsb_vm_tpm_socket_path(vm);
  g_autofree char *esc = vsb_qemu_opt_escape(sock);
  add(args, "-chardev");
  add_take(args, g_strdup_printf("socket,id=chrtpm,path=%s", esc));
  add(args, "-tpmdev");
  add(args, "emulator,id=tpm0,chardev=chrtpm");
  add(args, "-device");
  add(args, vsb_arch_is_x86(vm->arch) ? "tpm-crb,tpmdev=tpm0" : "tpm-tis-device,tpmdev=tpm0");
}

GPtrArray *
vsb_qemu_argv_build(const VsbVm *vm, const VsbQemuArgvOptions *opts, GError **error)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  gboolean smm = vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM);
  if (!vm_check_smm_arch(vm, error))
    return NULL;
  g_autoptr(GPtrArray) flash = g_ptr_array_new_with_free_func(g_free);
  const char *pflash[2] = { NULL, NULL };
  if (!firmware_args(vm, opts->qemu_major >= 4, args, flash, pflash, error))
    return NULL;

  g_autofree char *mtype = vsb_qemu_opt_escape(vm->machine_resolved ? vm->machine_resolved
                                                                    : vm->machine);
  g_autoptr(GString) machine = g_string_new(mtype);
  if (smm)
    g_string_append(machine, ",smm=on");
  for (guint i = 0; i < 2; i++)
    if (pflash[i])
      g_string_append_printf(machine, ",pflash%u=%s", i, pflash[i]);
  add(args, "-machine");
  add_take(args, g_string_free(g_steal_pointer(&machine), FALSE));
  for (guint i = 0; i < flash->len; i++)
    add(args, flash->pdata[i]);
  if (vm->device == VSB_FW_DEVICE_MEMORY) {
    add(args, "-bios");
    add(args, vm->executable);
  }
  if (smm && vm->device == VSB_FW_DEVICE_FLASH) {
    /* Only SMM code may then write the flash: the OS cannot rewrite PK/KEK/db directly. */
    add(args, "-global");
    add(args, "driver=cfi.pflash01,property=secure,value=on");
  }
  if (vsb_vm_needs_s3_off(vm)) {
    /* An X64-PEI SMM OVMF (Debian's 2M OVMF_CODE.secboot.fd) hangs silently in PEI while QEMU
     * advertises S3 (edk2 S3Verification, before 2023.05); libvirt's <pm><suspend-to-mem
     * enabled='no'/> is this very option. The guest only loses suspend-to-RAM. */
    add(args, "-global");
    add(args, "ICH9-LPC.disable_s3=1");
  }
  tpm_args(vm, opts, args);
  return g_steal_pointer(&args);
}

static gboolean
shell_safe(const char *w)
{
  if (*w == '\0')
    return FALSE;
  for (const char *p = w; *p; p++)
    if (!(g_ascii_isalnum(*p) || strchr("_./,:=@%+-", *p)))
      return FALSE;
  return TRUE;
}

char *
vsb_shell_quote(const char *word)
{
  if (shell_safe(word))
    return g_strdup(word);
  GString *s = g_string_new("'");
  for (const char *p = word; *p; p++) {
    if (*p == '\'')
      g_string_append(s, "'\\''");
    else
      g_string_append_c(s, *p);
  }
  g_string_append_c(s, '\'');
  return g_string_free(s, FALSE);
}

char *
vsb_shell_join(GPtrArray *args)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < args->len; i++) {
    g_autofree char *q = vsb_shell_quote(args->pdata[i]);
    if (i)
      g_string_append_c(s, ' ');
    g_string_append(s, q);
  }
  return g_string_free(s, FALSE);
}
