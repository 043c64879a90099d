/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot provision / qemu-args / libvirt-xml / run: a VM's own firmware and varstore, and how
 * to start it. */
#include "cli.h"

#include "vsboot/error.h"
#include "vsboot/launch.h"
#include "vsboot/libvirt-xml.h"
#include "vsboot/qemu-argv.h"
#include "qemu-probe.h"
#include "vsboot/vm.h"
#include "fileio.h"
#include "vsboot/mscerts.h"
#include "vsboot/vm-run.h"
#include "util/arch.h"

#include <glib/gstdio.h>
#include <signal.h>

#include <stdio.h>
#include <string.h>

/* Parse a command's options (params and summary as --help shows them); -1 when parsed, else
 * the exit status. */
static int
parse_options(const char *params, const char *summary, GOptionEntry *entries, int *argc,
              char ***argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new(params);
  g_option_context_set_summary(ctx, summary);
  vsb_cli_add_entries(ctx, entries, NULL);
  int code = 0;
  return vsb_cli_parse(ctx, argc, argv, &code) ? -1 : code;
}

static void
print_vm_text(const VsbVm *vm)
{
  printf("VM %s (%s %s, machine %s)\n", vm->name, vsb_fw_arch_name(vm->arch), vm->machine,
         vm->machine_resolved);
  printf("  firmware   %s\n", vm->descriptor_path);
  if (vm->description)
    printf("             %s\n", vm->description);
  if (vm->device == VSB_FW_DEVICE_FLASH)
    printf("  flash      %s mode\n", vsb_fw_flash_mode_name(vm->mode));
  else
    printf("  device     %s\n", vsb_fw_device_name(vm->device));
  printf("  code       %s (%s, sha256 %s)\n", vm->executable,
         vsb_fw_format_name(vm->executable_format), vm->executable_sha256);
  if (vm->nvram_template)
    printf("  template   %s (%s, sha256 %s)\n", vm->nvram_template,
           vsb_fw_format_name(vm->nvram_template_format), vm->template_sha256);
  if (vm->varstore)
    printf("  varstore   %s (%s)\n", vm->varstore, vsb_fw_format_name(vm->varstore_format));
  else
    printf("  varstore   none (variables are not kept)\n");
  g_autoptr(GString) feats = g_string_new(NULL);
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (vsb_vm_has_feature(vm, (VsbFwFeature)f))
      g_string_append_printf(feats, "%s%s", feats->len ? " " : "",
                             vsb_fw_feature_name((VsbFwFeature)f));
  printf("  features   %s\n", feats->len ? feats->str : "(none)");
  printf("  keys       %s%s%s\n", vsb_vm_keys_name(vm->keys), vm->keys_dir ? " from " : "",
         vm->keys_dir ? vm->keys_dir : "");
  if (vm->secure_boot >= 0)
    printf("  secure boot %s mode%s\n",
           vsb_secure_boot_mode_name((VsbSecureBootMode)vm->secure_boot),
           vm->secure_boot == VSB_SB_MODE_USER ? " (enforcing)" : "");
  if (vm->tpm_state_dir)
    printf("  tpm        TPM 2.0 state in %s\n", vm->tpm_state_dir);
  printf("  created    %s\n", vm->created ? vm->created : "?");
}

/* ---- provision --------------------------------------------------------------------------- */

/* Provision req->name. With json, *report is its report (or its name, or what exists, and the
 * error); without, its text goes to stdout (after a blank line if *printed) and the error to
 * stderr. */
static gboolean
provision_one(const VsbProvisionRequest *req, gboolean json, gboolean *printed,
              JsonNode **report)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(VsbVm) vm = vsb_vm_provision(req, &notes, &error);
  /* The library says what is wrong; the flags that change it are the CLI's to name. */
  const char *hint = NULL;
  if (vm == NULL && g_error_matches(error, VSB_ERROR, VSB_ERROR_EXISTS) && !req->reset)
    hint = "pass --reset to replace it";
  else if (vm == NULL && g_error_matches(error, VSB_ERROR, VSB_ERROR_INVALID) &&
           strstr(error->message, "(setup mode)"))
    hint = "--keys DIR, --enrolled-keys or --allow-setup-mode";
  else if (vm == NULL && req->keys_dir && req->enrolled_keys)
    hint = "--keys, --enrolled-keys";
  else if (vm == NULL && req->keys_dir && g_error_matches(error, VSB_ERROR, VSB_ERROR_NOT_FOUND) &&
           strstr(error->message, "keys directory"))
    hint = "make one with vsboot keys generate";
  if (hint) {
    char *msg = g_strdup_printf("%s (%s)", error->message, hint);
    g_free(error->message);
    error->message = msg;
  }
  if (vm == NULL) {
    if (json) {
      /* Already provisioned: also what exists, for scripts. */
      g_autoptr(VsbVm) old = g_error_matches(error, VSB_ERROR, VSB_ERROR_EXISTS)
                               ? vsb_vm_load(req->state_dir, req->name, NULL)
                               : NULL;
      JsonNode *node = old ? vsb_vm_to_json(old) : json_node_init_object(json_node_alloc(),
                                                                          json_object_new());
      JsonObject *o = json_node_get_object(node);
      if (old)
        json_object_set_boolean_member(o, "exists", TRUE);
      else
        json_object_set_string_member(o, "name", req->name);
      json_object_set_string_member(o, "error", error->message);
      *report = node;
    }
    vsb_cli_fail(error);
    return FALSE;
  }
  if (json) {
    JsonNode *node = vsb_vm_to_json(vm);
    JsonObject *o = json_node_get_object(node);
    JsonArray *na = json_array_new();
    for (guint i = 0; notes && i < notes->len; i++)
      json_array_add_string_element(na, notes->pdata[i]);
    json_object_set_array_member(o, "notes", na);
    g_autofree char *path = vsb_vm_state_path(req->state_dir, vm->name);
    json_object_set_string_member(o, "state-file", path);
    *report = node;
    return TRUE;
  }
  if (*printed)
    putchar('\n'); /* between the VMs of one run */
  *printed = TRUE;
  print_vm_text(vm);
  for (guint i = 0; notes && i < notes->len; i++)
    printf("  - %s\n", (const char *)notes->pdata[i]);
  g_autofree char *qname = vsb_shell_quote(vm->name);
  g_autofree char *qdir = vsb_shell_quote(req->state_dir);
  printf("Start it with: vsboot run %s --state-dir %s  (or: vsboot qemu-args / libvirt-xml)\n",
         qname, qdir);
  return TRUE;
}

/* What provision's command line asks for. */
typedef struct {
  char *state_dir, *arch, *machine, *keys;
  char **features, **no_features, **fw_dirs, **microsoft;
  gboolean enrolled, allow_setup, tpm, reset, json;
} ProvisionArgs;

static void
provision_args_clear(ProvisionArgs *a)
{
  g_free(a->state_dir);
  g_free(a->arch);
  g_free(a->machine);
  g_free(a->keys);
  g_strfreev(a->features);
  g_strfreev(a->no_features);
  g_strfreev(a->fw_dirs);
  g_strfreev(a->microsoft);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ProvisionArgs, provision_args_clear)

/* Parse provision's options; -1 when parsed, else the exit status. */
static int
provision_parse(int *argc, char ***argv, ProvisionArgs *a)
{
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &a->state_dir,
      "Directory holding the VMs' state (must exist and be writable)", "DIR" },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &a->arch, "Architecture: x86_64 (default), aarch64, ...",
      "ARCH" },
    { "machine", 0, 0, G_OPTION_ARG_STRING, &a->machine,
      "Machine type or alias (default q35 on x86, virt on ARM)", "TYPE" },
    { "feature", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->features,
      "The firmware must have this feature (repeatable)", "FEATURE" },
    { "no-feature", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->no_features,
      "The firmware must not have this feature (repeatable)", "FEATURE" },
    { "keys", 0, 0, G_OPTION_ARG_FILENAME, &a->keys,
      "Enroll PK.crt, KEK.crt and db.crt (owner.guid) from DIR (vsboot keys generate)", "DIR" },
    { "enrolled-keys", 0, 0, G_OPTION_ARG_NONE, &a->enrolled,
      "Use a template with keys already enrolled (distro/Microsoft keys)", NULL },
    { "microsoft", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->microsoft,
      "Add Microsoft's CA certificates: 2023 (the default for a template that trusts "
      "Microsoft), 2011, single ids, or none (repeatable); with --keys, next to the owner's "
      "keys", "SET" },
    { "allow-setup-mode", 0, 0, G_OPTION_ARG_NONE, &a->allow_setup,
      "Accept a template without PK: Secure Boot firmware that enforces nothing", NULL },
    { "tpm", 0, 0, G_OPTION_ARG_NONE, &a->tpm, "Prepare swtpm TPM 2.0 state for the VM", NULL },
    { "reset", 0, 0, G_OPTION_ARG_NONE, &a->reset,
      "Provision again, replacing the VM's varstore (its keys and boot entries are lost)", NULL },
    { "firmware-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a->fw_dirs,
      "Search descriptors here instead of QEMU's directories (repeatable, later wins)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &a->json, "Report as JSON", NULL },
    { NULL },
  };
  return parse_options("NAME...",
    "Give VM NAME its firmware and its own varstore: select the firmware from QEMU's\n"
    "descriptors as libvirt does, copy the varstore template to DIR/NAME_VARS.fd (mode 0600,\n"
    "never over an existing one), enroll keys, and record everything in DIR/NAME.json.\n"
    "Secure Boot on x86 always takes SMM firmware; a template without PK is refused unless\n"
    "keys are enrolled or --allow-setup-mode is given. Several names provision several VMs\n"
    "alike in one process: each VM is whole or absent, a failure does not stop the others,\n"
    "and the exit status is 2 if any failed.", entries, argc, argv);
}

/* The names checked (all of them before any VM is made) and the request they share; -1 when
 * fine, else the exit status. */
static int
provision_request(int argc, char **argv, const ProvisionArgs *a, VsbProvisionRequest *req)
{
  if (argc < 2)
    return vsb_cli_failf("provision: expected a VM name; try 'vsboot help provision'");
  if (a->state_dir == NULL)
    return vsb_cli_failf("provision: --state-dir DIR is required");
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (int i = 1; i < argc; i++) {
    GError *error = NULL;
    if (!vsb_vm_name_validate(argv[i], &error))
      return vsb_cli_fail(error);
    if (!g_hash_table_add(seen, argv[i]))
      return vsb_cli_failf("provision: VM name '%s' given twice", argv[i]);
  }
  const char *arch = a->arch ? a->arch : "x86_64";
  const char *m = a->machine;
  int fw_arch = vsb_fw_arch_from_name(arch);
  if (m == NULL)
    m = fw_arch >= 0 && vsb_arch_is_x86((VsbFwArch)fw_arch) ? "q35" : "virt";
  *req = (VsbProvisionRequest){
    .state_dir = a->state_dir,
    .arch = (VsbFwArch)fw_arch,
    .arch_text = arch,
    .machine = m,
    .features = (const char *const *)a->features,
    .no_features = (const char *const *)a->no_features,
    .firmware_dirs = (const char *const *)a->fw_dirs,
    .keys_dir = a->keys,
    .enrolled_keys = a->enrolled,
    .allow_setup_mode = a->allow_setup,
    .tpm = a->tpm,
    .reset = a->reset,
    .microsoft_given = a->microsoft != NULL,
  };
  for (char **ms = a->microsoft; ms && *ms; ms++) {
    VsbMsCertSet set = 0;
    GError *error = NULL;
    if (g_strcmp0(*ms, "none") != 0 && !vsb_ms_cert_set_parse(*ms, &set, &error)) {
      g_prefix_error(&error, "provision: --microsoft: ");
      return vsb_cli_fail(error);
    }
    req->microsoft |= set;
  }
  return -1;
}

static int
provision_run(int argc, char **argv)
{
  g_autofree char *prg = g_strdup_printf("vsboot %s", argv[0]);
  g_set_prgname(prg);
  g_auto(ProvisionArgs) a = { NULL };
  VsbProvisionRequest req;
  int rc = provision_parse(&argc, &argv, &a);
  if (rc < 0)
    rc = provision_request(argc, argv, &a, &req);
  if (rc >= 0)
    return rc;
  gboolean batch = argc > 2;
  g_autoptr(JsonArray) reports = json_array_new();
  guint failed = 0;
  gboolean printed = FALSE;
  for (int i = 1; i < argc; i++) {
    req.name = argv[i];
    g_autoptr(JsonNode) report = NULL;
    if (!provision_one(&req, a.json, &printed, &report))
      failed++;
    if (report)
      json_array_add_element(reports, g_steal_pointer(&report));
  }
  if (a.json && batch) {
    g_autoptr(JsonNode) node = json_node_init_array(json_node_alloc(), reports);
    vsb_cli_print_json(node);
  } else if (a.json) {
    /* One VM: its report, or on failure what exists (nothing when nothing does). */
    JsonNode *only = json_array_get_element(reports, 0);
    if (!failed || json_object_has_member(json_node_get_object(only), "exists"))
      vsb_cli_print_json(only);
  }
  if (failed && batch)
    fprintf(stderr, "vsboot: provision: %u of %d VMs failed\n", failed, argc - 1);
  return failed ? VSB_EXIT_USAGE : VSB_EXIT_OK;
}

const VsbCliCommand vsb_cli_provision = { "provision", "Give a VM its firmware and its own varstore", provision_run };

/* ---- qemu-args --------------------------------------------------------------------------- */

/* "X.Y" -> major, minor. */
static gboolean
parse_version(const char *text, guint *major, guint *minor)
{
  char *end = NULL;
  guint64 ma = g_ascii_strtoull(text, &end, 10);
  if (end == text || *end != '.' || ma > 1000)
    return FALSE;
  const char *p = end + 1;
  guint64 mi = g_ascii_strtoull(p, &end, 10);
  if (end == p || (*end != '\0' && *end != '.') || mi > 1000)
    return FALSE;
  *major = (guint)ma;
  *minor = (guint)mi;
  return TRUE;
}

static int
qemu_args_run(int argc, char **argv)
{
  g_autofree char *prg = g_strdup_printf("vsboot %s", argv[0]);
  g_set_prgname(prg);
  g_autofree char *state_dir = NULL;
  g_autofree char *version = NULL;
  gboolean json = FALSE, no_tpm = FALSE;
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "The VMs' state directory", "DIR" },
    { "qemu-version", 0, 0, G_OPTION_ARG_STRING, &version,
      "Emit for this QEMU version instead of asking qemu-system-ARCH --version "
      "(before 4.0: -drive if=pflash)", "X.Y" },
    { "no-tpm", 0, 0, G_OPTION_ARG_NONE, &no_tpm, "Leave out the TPM even when provisioned", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array of strings", NULL },
    { NULL },
  };
  int code = parse_options("NAME",
    "Print the firmware part of VM NAME's QEMU command line: -machine with smm=on and\n"
    "pflash0/pflash1 (QEMU >= 4.0, -blockdev) or -drive if=pflash (older), the cfi.pflash01\n"
    "secure global when the firmware requires SMM, -bios for memory firmware, and the TPM.\n"
    "One shell-quoted line by default.", entries, &argc, &argv);
  if (code >= 0)
    return code;
  if (argc != 2)
    return vsb_cli_failf("qemu-args: expected one VM name, got %d arguments", argc - 1);
  if (state_dir == NULL)
    return vsb_cli_failf("qemu-args: --state-dir DIR is required");
  GError *error = NULL;
  g_autoptr(VsbVm) vm = vsb_vm_load(state_dir, argv[1], &error);
  if (vm == NULL)
    return vsb_cli_fail(error);
  VsbQemuArgvOptions opts = { 0 };
  opts.no_tpm = no_tpm;
  if (version) {
    if (!parse_version(version, &opts.qemu_major, &opts.qemu_minor))
      return vsb_cli_failf("qemu-args: --qemu-version '%s' is not X.Y", version);
  } else {
    g_autofree char *bin = vsb_qemu_find_binary(vm->arch, &error);
    if (bin == NULL) {
      g_prefix_error(&error, "cannot tell which syntax to emit: ");
      g_autofree char *msg = g_strdup_printf("%s; pass --qemu-version X.Y", error->message);
      g_clear_error(&error);
      return vsb_cli_failf("%s", msg);
    }
    if (!vsb_qemu_get_version(bin, &opts.qemu_major, &opts.qemu_minor, &error))
      return vsb_cli_fail(error);
  }
  g_autoptr(GPtrArray) args = vsb_qemu_argv_build(vm, &opts, &error);
  if (args == NULL)
    return vsb_cli_fail(error);
  if (json) {
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
    JsonArray *arr = json_array_new();
    for (guint i = 0; i < args->len; i++)
      json_array_add_string_element(arr, args->pdata[i]);
    json_node_take_array(node, arr);
    vsb_cli_print_json(node);
  } else {
    g_autofree char *line = vsb_shell_join(args);
    printf("%s\n", line);
  }
  return VSB_EXIT_OK;
}

const VsbCliCommand vsb_cli_qemu_args = { "qemu-args", "The firmware part of a VM's QEMU command line", qemu_args_run };

/* ---- libvirt-xml ------------------------------------------------------------------------- */

static int
libvirt_xml_run(int argc, char **argv)
{
  g_autofree char *prg = g_strdup_printf("vsboot %s", argv[0]);
  g_set_prgname(prg);
  g_autofree char *state_dir = NULL;
  g_autofree char *style = NULL;
  g_autofree char *virt_type = NULL;
  g_autofree char *emulator = NULL;
  gboolean domain = FALSE;
  int memory = -1, vcpus = -1; /* -1: not given (the library's defaults) */
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "The VMs' state directory", "DIR" },
    { "style", 0, 0, G_OPTION_ARG_STRING, &style,
      "auto (libvirt >= 7.2 selects by feature; default), explicit (paths; libvirt >= 2.1), "
      "legacy (libvirt < 2.1: qemu:commandline)", "STYLE" },
    { "domain", 0, 0, G_OPTION_ARG_NONE, &domain, "A complete minimal <domain>", NULL },
    { "virt-type", 0, 0, G_OPTION_ARG_STRING, &virt_type,
      "<domain type=...>: kvm or qemu (TCG); default kvm only where this host's KVM can run "
      "the firmware (SMM), as run --accel auto decides", "TYPE" },
    { "memory", 0, 0, G_OPTION_ARG_INT, &memory, "Memory of the --domain in MiB (1024)", "MiB" },
    { "vcpus", 0, 0, G_OPTION_ARG_INT, &vcpus, "vCPUs of the --domain (1)", "N" },
    { "emulator", 0, 0, G_OPTION_ARG_FILENAME, &emulator,
      "<emulator> of the --domain (/usr/bin/qemu-system-ARCH)", "PATH" },
    { NULL },
  };
  int code = parse_options("NAME",
    "Print the firmware part of VM NAME's libvirt domain XML, pointing at the VM's own\n"
    "varstore, or with --domain a complete minimal domain to `virsh define`.",
    entries, &argc, &argv);
  if (code >= 0)
    return code;
  if (argc != 2)
    return vsb_cli_failf("libvirt-xml: expected one VM name, got %d arguments", argc - 1);
  if (state_dir == NULL)
    return vsb_cli_failf("libvirt-xml: --state-dir DIR is required");
  int st = vsb_libvirt_style_from_name(style ? style : "auto");
  if (st < 0)
    return vsb_cli_failf("libvirt-xml: unknown --style '%s' (auto, explicit, legacy)", style);
  if (virt_type && strcmp(virt_type, "kvm") != 0 && strcmp(virt_type, "qemu") != 0)
    return vsb_cli_failf("libvirt-xml: --virt-type must be kvm or qemu, not '%s'", virt_type);
  if (memory != -1 && (memory < 1 || memory > 16 * 1024 * 1024))
    return vsb_cli_failf("libvirt-xml: --memory %d: must be 1 to 16777216 MiB", memory);
  if (vcpus != -1 && (vcpus < 1 || vcpus > 4096))
    return vsb_cli_failf("libvirt-xml: --vcpus %d: must be 1 to 4096", vcpus);
  if (memory == -1)
    memory = 0;
  if (vcpus == -1)
    vcpus = 0;
  GError *error = NULL;
  g_autoptr(VsbVm) vm = vsb_vm_load(state_dir, argv[1], &error);
  if (vm == NULL)
    return vsb_cli_fail(error);
  /* libvirt refuses to start an SMM firmware under a KVM that lacks SMM ("System Management
   * Mode not supported by this hypervisor"): choose as run --accel auto does, and say why. */
  if (virt_type == NULL && (emulator == NULL || g_path_is_absolute(emulator))) {
    g_autofree char *binary = NULL, *accel = NULL, *note = NULL;
    binary = emulator ? g_strdup(emulator) : vsb_qemu_find_binary(vm->arch, NULL);
    if (binary && vsb_vm_choose_accel(vm, binary, VSB_ACCEL_AUTO, &accel, &note, NULL)) {
      virt_type = g_strdup(g_strcmp0(accel, "kvm") == 0 ? "kvm" : "qemu");
      fprintf(stderr, "vsboot: <domain type='%s'>: %s (--virt-type overrides)\n", virt_type,
              note);
    }
  }
  VsbLibvirtXmlOptions opts = {
    .style = (VsbLibvirtStyle)st,
    .domain = domain,
    .domain_type = virt_type,
    .memory_mib = (guint)memory,
    .vcpus = (guint)vcpus,
    .emulator = emulator,
  };
  g_autofree char *xml = vsb_libvirt_xml_build(vm, &opts, &error);
  /* The one refusal the explicit style avoids: a combined flash image under autoselection. */
  if (xml == NULL && opts.style == VSB_LIBVIRT_STYLE_AUTO && vm->device == VSB_FW_DEVICE_FLASH &&
      vm->mode == VSB_FW_FLASH_MODE_COMBINED)
    return vsb_cli_failf("%s; use --style explicit", error->message);
  if (xml == NULL)
    return vsb_cli_fail(error);
  fputs(xml, stdout);
  return VSB_EXIT_OK;
}

const VsbCliCommand vsb_cli_libvirt_xml = { "libvirt-xml", "The firmware part of a VM's libvirt domain XML", libvirt_xml_run };

/* ---- run --------------------------------------------------------------------------------- */

/* {"accelerator", "accelerator-note", "warnings", "argv", and after a watched boot "verdict",
 * "line", "seconds", "killed", "exit-status", "console"}. */
static JsonNode *
run_report_json(const VsbRunPlan *plan, const VsbLaunchResult *res)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "accelerator");
  json_builder_add_string_value(b, plan->accel);
  json_builder_set_member_name(b, "accelerator-note");
  json_builder_add_string_value(b, plan->accel_note);
  vsb_cli_jset_strings(b, "warnings", plan->warnings);
  json_builder_set_member_name(b, "argv");
  json_builder_begin_array(b);
  for (guint i = 0; i + 1 < plan->argv->len; i++)
    json_builder_add_string_value(b, plan->argv->pdata[i]);
  json_builder_end_array(b);
  if (res) {
    json_builder_set_member_name(b, "verdict");
    json_builder_add_string_value(b, vsb_boot_verdict_name(res->verdict));
    json_builder_set_member_name(b, "line");
    if (res->line)
      json_builder_add_string_value(b, res->line);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "seconds");
    json_builder_add_double_value(b, res->seconds);
    json_builder_set_member_name(b, "killed");
    json_builder_add_boolean_value(b, res->killed);
    json_builder_set_member_name(b, "exit-status");
    json_builder_add_int_value(b, res->exit_status);
    json_builder_set_member_name(b, "console");
    json_builder_add_string_value(b, res->log ? res->log : "");
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
on_signal(int sig)
{
  (void)sig;
}

/* The watched boot's verdict as the exit status: 0 when the app ran, 1 when the firmware
 * denied it, 2 on timeout, QEMU's own status when it exited without a verdict. */
static int
report_efi_app(const VsbRunPlan *plan, const VsbLaunchResult *res, gboolean json, guint ms)
{
  if (json) {
    g_autoptr(JsonNode) node = run_report_json(plan, res);
    vsb_cli_print_json(node);
  } else {
    fputs(res->log, stdout);
    if (res->log[0] && res->log[strlen(res->log) - 1] != '\n')
      fputc('\n', stdout);
  }
  fflush(stdout);
  switch (res->verdict) {
  case VSB_BOOT_VERDICT_RAN:
    fprintf(stderr, "vsboot: the EFI app ran (%s) after %.1f s\n", res->line, res->seconds);
    return VSB_EXIT_OK;
  case VSB_BOOT_VERDICT_DENIED:
    fprintf(stderr, "vsboot: the firmware denied the EFI app (%s) after %.1f s\n", res->line,
            res->seconds);
    return VSB_EXIT_NEGATIVE;
  case VSB_BOOT_VERDICT_TIMEOUT:
    fprintf(stderr, "vsboot: no verdict within %u s; QEMU stopped\n", ms / 1000);
    return VSB_EXIT_USAGE;
  default:
    fprintf(stderr, "vsboot: QEMU exited (status %d) without a verdict\n", res->exit_status);
    return res->exit_status >= 0 ? res->exit_status : VSB_EXIT_USAGE;
  }
}

/* Start the run (the library makes the ESP and starts and stops swtpm) and wait for QEMU. */
static int
run_started(VsbRun *run, gboolean efi_app, gboolean json, int timeout)
{
  /* Ctrl-C reaches QEMU (same process group) and it stops; vsboot lives on to stop swtpm
   * and remove the ESP. A handler, not SIG_IGN, which QEMU would inherit. */
  struct sigaction sa = { 0 };
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  GError *error = NULL;
  if (efi_app) {
    guint ms = (guint)(timeout ? timeout : 300) * 1000u;
    g_autoptr(VsbLaunchResult) res = vsb_run_watch_efi_app(run, ms, &error);
    if (res == NULL)
      return vsb_cli_fail(error);
    return report_efi_app(vsb_run_get_plan(run), res, json, ms);
  }
  gboolean timed_out = FALSE;
  fflush(stdout);
  int rc = vsb_run_foreground(run, (guint)timeout * 1000u, &timed_out, &error);
  if (rc < 0)
    return vsb_cli_fail(error);
  if (timed_out) {
    fprintf(stderr, "vsboot: stopped QEMU after %d s (--timeout)\n", timeout);
    return VSB_EXIT_USAGE;
  }
  return rc;
}

/* What run's command line asks for. */
typedef struct {
  char *state_dir, *cdrom, *efi_app, *accel, *serial, *qemu;
  char **disks;
  int memory, timeout;
  gboolean dry_run, json;
} RunArgs;

static void
run_args_clear(RunArgs *a)
{
  g_free(a->state_dir);
  g_free(a->cdrom);
  g_free(a->efi_app);
  g_free(a->accel);
  g_free(a->serial);
  g_free(a->qemu);
  g_strfreev(a->disks);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RunArgs, run_args_clear)

/* Parse run's options (QEMU's own arguments after "--" go to extra); -1 when parsed, else the
 * exit status. */
static int
run_parse(int *argc, char ***argv, RunArgs *a, GPtrArray *extra)
{
  GOptionEntry entries[] = {
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &a->state_dir, "The VMs' state directory", "DIR" },
    { "disk", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a->disks,
      "A virtio disk (raw or qcow2; repeatable)", "IMG" },
    { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &a->cdrom, "An ISO image on virtio-scsi", "ISO" },
    { "efi-app", 0, 0, G_OPTION_ARG_FILENAME, &a->efi_app,
      "Boot this EFI binary from a generated ESP (EFI/BOOT/BOOTX64.EFI); the console is watched "
      "and QEMU stopped as soon as it ran or was denied", "FILE" },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &a->accel,
      "kvm, tcg, or auto (default: KVM only when it can run the firmware, e.g. SMM)", "ACCEL" },
    { "memory", 0, 0, G_OPTION_ARG_INT, &a->memory, "Guest memory in MiB (512)", "MiB" },
    { "serial", 0, 0, G_OPTION_ARG_FILENAME, &a->serial, "Console: stdio (default) or a file",
      "stdio|FILE" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &a->timeout, "Stop QEMU after S seconds", "S" },
    { "qemu", 0, 0, G_OPTION_ARG_FILENAME, &a->qemu, "QEMU binary (default qemu-system-ARCH)",
      "PATH" },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &a->dry_run, "Print the command line, start nothing",
      NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &a->json,
      "With --efi-app or --dry-run: report as JSON (verdict, console line, accelerator, argv)",
      NULL },
    { NULL },
  };
  /* Everything after "--" goes to QEMU as it is. */
  for (int i = 1; i < *argc; i++) {
    if (strcmp((*argv)[i], "--") == 0) {
      for (int j = i + 1; j < *argc; j++)
        g_ptr_array_add(extra, (*argv)[j]);
      *argc = i;
      break;
    }
  }
  g_ptr_array_add(extra, NULL);
  return parse_options("NAME [-- QEMU-ARGS...]",
    "Start VM NAME in QEMU with its provisioned firmware and varstore (and swtpm when it has\n"
    "a TPM). QEMU's exit status is vsboot's (2 when --timeout stopped it). With --efi-app\n"
    "the console is watched: exit 0 when the app ran, 1 when the firmware denied it, 2 on\n"
    "timeout (default 300 s).", entries, argc, argv);
}

/* The values, checked (exit status), or -1 when they are fine. */
static int
run_check(int argc, RunArgs *a)
{
  if (argc != 2)
    return vsb_cli_failf("run: expected one VM name, got %d arguments (QEMU arguments go "
                         "after --)", argc - 1);
  if (a->state_dir == NULL)
    return vsb_cli_failf("run: --state-dir DIR is required");
  if (vsb_accel_from_name(a->accel ? a->accel : "auto") < 0)
    return vsb_cli_failf("run: --accel must be kvm, tcg or auto, not '%s'", a->accel);
  if (a->memory != -1 && (a->memory < 1 || a->memory > 16 * 1024 * 1024))
    return vsb_cli_failf("run: --memory %d: must be 1 to 16777216 MiB", a->memory);
  if (a->memory == -1)
    a->memory = 0;
  if (a->timeout < 0 || a->timeout > 7 * 24 * 3600)
    return vsb_cli_failf("run: --timeout %d: must be 0 (none) to 604800 seconds", a->timeout);
  gboolean serial_stdio = a->serial == NULL || strcmp(a->serial, "stdio") == 0;
  if (a->efi_app && !serial_stdio)
    return vsb_cli_failf("run: --efi-app watches the console, which needs --serial stdio");
  if (a->efi_app && !g_file_test(a->efi_app, G_FILE_TEST_IS_REGULAR))
    return vsb_cli_failf("run: --efi-app %s: no such file", a->efi_app);
  return -1;
}

static int
run_run(int argc, char **argv)
{
  g_autofree char *prg = g_strdup_printf("vsboot %s", argv[0]);
  g_set_prgname(prg);
  g_auto(RunArgs) a = { .memory = -1 }; /* memory -1: not given (512) */
  g_autoptr(GPtrArray) extra = g_ptr_array_new();
  int rc = run_parse(&argc, &argv, &a, extra);
  if (rc < 0)
    rc = run_check(argc, &a);
  if (rc >= 0)
    return rc;
  GError *error = NULL;
  /* QEMU writes the varstore and swtpm the TPM state: only from a directory no one else can
   * swap them in (--dry-run says so too, as run would). */
  if (!vsb_vm_state_dir_check(a.state_dir, &error))
    return vsb_cli_fail(error);
  g_autoptr(VsbVm) vm = vsb_vm_load(a.state_dir, argv[1], &error);
  if (vm == NULL)
    return vsb_cli_fail(error);
  if (a.efi_app && vm->arch != VSB_FW_ARCH_X86_64 && vm->arch != VSB_FW_ARCH_AARCH64)
    return vsb_cli_failf("run: --efi-app supports x86_64 and aarch64 VMs");
  VsbRunOptions ro = {
    .qemu_binary = a.qemu,
    .accel = (VsbAccel)vsb_accel_from_name(a.accel ? a.accel : "auto"),
    .memory_mib = (guint)a.memory,
    .disks = (const char *const *)a.disks,
    .cdrom = a.cdrom,
    .serial = a.serial,
    .extra = (const char *const *)extra->pdata,
    .efi_app = a.efi_app,
  };
  g_autoptr(VsbRun) run = vsb_run_new(vm, &ro, &error);
  if (run == NULL)
    return vsb_cli_fail(error);
  const VsbRunPlan *plan = vsb_run_get_plan(run);
  for (guint i = 0; i < plan->warnings->len; i++)
    fprintf(stderr, "vsboot: warning: %s\n", (const char *)plan->warnings->pdata[i]);
  fprintf(stderr, "vsboot: accelerator %s\n", plan->accel_note);
  g_autoptr(GPtrArray) shown = g_ptr_array_new();
  for (guint i = 0; i + 1 < plan->argv->len; i++)
    g_ptr_array_add(shown, plan->argv->pdata[i]);
  g_autofree char *line = vsb_shell_join(shown);
  if (!a.dry_run) {
    fprintf(stderr, "vsboot: %s\n", line);
    return run_started(run, a.efi_app != NULL, a.json, a.timeout);
  }
  if (a.json) {
    g_autoptr(JsonNode) node = run_report_json(plan, NULL);
    vsb_cli_print_json(node);
  } else {
    printf("%s\n", line);
  }
  return VSB_EXIT_OK;
}

const VsbCliCommand vsb_cli_run = { "run", "Start a provisioned VM in QEMU", run_run };
