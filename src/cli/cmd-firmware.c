/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot firmware list|show|select|check|inspect: QEMU firmware descriptors. */
#include "cli.h"

#include "vsboot/descriptor.h"
#include "vsboot/error.h"
#include "vsboot/fwcheck.h"
#include "vsboot/fwsearch.h"
#include "vsboot/fwselect.h"
#include "qemu-probe.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char firmware_usage[] =
  "Usage: vsboot firmware SUBCOMMAND [OPTIONS]\n"
  "\n"
  "QEMU firmware descriptors (/usr/share/qemu/firmware, /etc/qemu/firmware,\n"
  "$XDG_CONFIG_HOME/qemu/firmware): which firmware is installed, and which one libvirt\n"
  "would pick for a VM.\n"
  "\n"
  "Subcommands:\n"
  "  list      every descriptor in precedence order, with what masked or replaced what\n"
  "  show      one descriptor, by file or by name\n"
  "  select    choose firmware for a VM as libvirt does, and say why\n"
  "  check     lint descriptors strictly (for packagers)\n"
  "  inspect   look inside a firmware image\n"
  "\n"
  "'vsboot help firmware SUBCOMMAND' shows its options.\n";

/* Shared option: --firmware-dir DIR (repeatable) replaces the default directories. */
static GOptionEntry *
dir_entry(char ***dirs)
{
  static GOptionEntry e[2];
  e[0] = (GOptionEntry){ "firmware-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL,
                         "Search DIR instead of the default directories (repeatable; later "
                         "ones override earlier ones)",
                         "DIR" };
  e[0].arg_data = dirs;
  e[1] = (GOptionEntry){ NULL };
  return e;
}

static GPtrArray *
load_entries(char **dirs, GError **error)
{
  return vsb_fw_search((const char *const *)dirs, error);
}

static char *
dirs_text(char **dirs)
{
  if (dirs)
    return g_strjoinv(", ", dirs);
  g_auto(GStrv) def = vsb_fw_search_default_dirs();
  return g_strjoinv(", ", def);
}

static char *
features_text(const VsbFwDescriptor *d)
{
  GString *s = g_string_new(NULL);
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (d->features & VSB_FW_FEATURE_BIT(f))
      g_string_append_printf(s, "%s%s", s->len ? " " : "", vsb_fw_feature_name((VsbFwFeature)f));
  for (char **u = d->unknown_features; *u; u++)
    g_string_append_printf(s, "%s%s(unknown)", s->len ? " " : "", *u);
  if (s->len == 0)
    g_string_append(s, "(none)");
  return g_string_free(s, FALSE);
}

static void
print_descriptor_details(FILE *out, const VsbFwDescriptor *d, const char *indent)
{
  GString *ifs = g_string_new(NULL);
  for (guint i = 0; i < d->n_interfaces; i++)
    g_string_append_printf(ifs, "%s%s", i ? "," : "", vsb_fw_interface_name(d->interfaces[i]));
  if (d->description)
    fprintf(out, "%sdescription: %s\n", indent, d->description);
  fprintf(out, "%sinterface:   %s\n", indent, ifs->str);
  g_string_free(ifs, TRUE);
  if (d->device == VSB_FW_DEVICE_FLASH) {
    fprintf(out, "%smapping:     flash, mode %s\n", indent, vsb_fw_flash_mode_name(d->mode));
    fprintf(out, "%sexecutable:  %s (%s)\n", indent, d->executable.filename,
            vsb_fw_format_name(d->executable.format));
    if (d->nvram_template.filename)
      fprintf(out, "%stemplate:    %s (%s)\n", indent, d->nvram_template.filename,
              vsb_fw_format_name(d->nvram_template.format));
  } else {
    fprintf(out, "%smapping:     %s\n", indent, vsb_fw_device_name(d->device));
    fprintf(out, "%sfilename:    %s\n", indent, d->filename);
  }
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    g_autofree char *m = g_strjoinv(" ", t->machines);
    fprintf(out, "%starget:      %s %s\n", indent, vsb_fw_arch_name(t->architecture), m);
  }
  g_autofree char *feat = features_text(d);
  fprintf(out, "%sfeatures:    %s\n", indent, feat);
}

/* ---- list ---------------------------------------------------------------------------------- */

static int
cmd_list(int argc, char **argv)
{
  g_auto(GStrv) dirs = NULL;
  g_autofree char *arch_name = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch_name,
      "Only descriptors for this architecture (masks and invalid files are always shown)",
      "ARCH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("- firmware descriptors in precedence order");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, dir_entry(&dirs), NULL);
  g_option_context_set_description(ctx,
    "Lists every descriptor file in precedence order (sorted by file name across the\n"
    "directories), saying which file replaced or masked which. Files that do not parse are\n"
    "listed with the reason and never used.\n");
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc > 1)
    return vsb_cli_failf("firmware list: unexpected argument '%s'", argv[1]);
  int arch = -1;
  if (arch_name && (arch = vsb_fw_arch_from_name(arch_name)) < 0)
    return vsb_cli_failf("unknown architecture '%s' (aarch64, arm, i386, loongarch64, riscv64, "
                         "x86_64)", arch_name);
  GError *error = NULL;
  g_autoptr(GPtrArray) list = load_entries(dirs, &error);
  if (list == NULL)
    return vsb_cli_fail(error);

  g_autoptr(GPtrArray) shown = g_ptr_array_new();
  for (guint i = 0; i < list->len; i++) {
    VsbFwEntry *e = list->pdata[i];
    if (arch >= 0 && e->descriptor && !vsb_fw_descriptor_supports(e->descriptor, arch, NULL))
      continue;
    g_ptr_array_add(shown, e);
  }

  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    g_auto(GStrv) def = dirs ? NULL : vsb_fw_search_default_dirs();
    vsb_cli_jset_strv(b, "directories", (const char *const *)(dirs ? dirs : def));
    json_builder_set_member_name(b, "entries");
    json_builder_begin_array(b);
    for (guint i = 0; i < shown->len; i++)
      json_builder_add_value(b, vsb_fw_entry_to_json(shown->pdata[i]));
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    vsb_cli_print_json(root);
    return VSB_EXIT_OK;
  }

  g_autofree char *dt = dirs_text(dirs);
  printf("Firmware descriptors in precedence order (from %s):\n", dt);
  if (shown->len == 0)
    printf("  (none)\n");
  for (guint i = 0; i < shown->len; i++) {
    VsbFwEntry *e = shown->pdata[i];
    printf("%2u. %s\n", i + 1, e->path);
    for (char **o = e->overrides; *o; o++)
      printf("      %s %s\n", e->kind == VSB_FW_ENTRY_MASK ? "masks" : "replaces", *o);
    if (e->kind == VSB_FW_ENTRY_MASK) {
      if (e->overrides[0] == NULL)
        printf("      empty file (masks nothing)\n");
      continue;
    }
    if (e->kind == VSB_FW_ENTRY_INVALID) {
      printf("      INVALID, skipped: %s\n", e->error->message);
      continue;
    }
    print_descriptor_details(stdout, e->descriptor, "      ");
  }
  return VSB_EXIT_OK;
}

/* ---- show ---------------------------------------------------------------------------------- */

static int
cmd_show(int argc, char **argv)
{
  g_auto(GStrv) dirs = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("FILE|NAME - one firmware descriptor");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, dir_entry(&dirs), NULL);
  g_option_context_set_description(ctx,
    "FILE is a path to a descriptor (anything containing '/', or an existing file); NAME is\n"
    "the file name of an active descriptor (\".json\" may be left out), e.g.\n"
    "'vsboot firmware show 50-edk2-x86_64-secure'.\n");
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("firmware show: expected one FILE or NAME (see 'vsboot help firmware show')");
  const char *arg = argv[1];
  GError *error = NULL;
  g_autoptr(VsbFwDescriptor) d = NULL;
  g_autoptr(GPtrArray) list = NULL;
  if (strchr(arg, '/') || g_file_test(arg, G_FILE_TEST_EXISTS)) {
    d = vsb_fw_descriptor_load(arg, &error);
    if (d == NULL)
      return vsb_cli_fail(error);
  } else {
    list = load_entries(dirs, &error);
    if (list == NULL)
      return vsb_cli_fail(error);
    VsbFwEntry *e = vsb_fw_search_find(list, arg);
    if (e == NULL)
      return vsb_cli_failf("no firmware descriptor named '%s' (see 'vsboot firmware list')", arg);
    if (e->kind == VSB_FW_ENTRY_MASK)
      return vsb_cli_failf("%s is masked by the empty file %s", arg, e->path);
    if (e->kind == VSB_FW_ENTRY_INVALID)
      return vsb_cli_failf("%s", e->error->message);
    d = vsb_fw_descriptor_ref(e->descriptor);
  }

  if (json) {
    g_autoptr(JsonNode) node = vsb_fw_descriptor_to_json(d);
    JsonArray *w = json_array_new();
    for (char **s = d->warnings; *s; s++)
      json_array_add_string_element(w, *s);
    json_object_set_array_member(json_node_get_object(node), "warnings", w);
    vsb_cli_print_json(node);
    return VSB_EXIT_OK;
  }
  printf("%s\n", d->path);
  print_descriptor_details(stdout, d, "  ");
  for (char **s = d->warnings; *s; s++)
    printf("  warning:     %s\n", *s);
  return VSB_EXIT_OK;
}

/* ---- select -------------------------------------------------------------------------------- */

static gboolean
set_wants(VsbFwRequest *req, char **names, VsbFwWant want, GError **error)
{
  for (char **n = names; n && *n; n++) {
    int f = vsb_fw_feature_from_name(*n);
    if (f < 0) {
      GString *all = g_string_new(NULL);
      for (int i = 0; i < VSB_FW_FEATURE_COUNT; i++)
        g_string_append_printf(all, "%s%s", i ? ", " : "", vsb_fw_feature_name((VsbFwFeature)i));
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown feature '%s' (known: %s)", *n,
                  all->str);
      g_string_free(all, TRUE);
      return FALSE;
    }
    if (req->features[f] != VSB_FW_WANT_ANY && req->features[f] != want) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "feature '%s' is both wanted (--feature) and refused (--no-feature)", *n);
      return FALSE;
    }
    req->features[f] = want;
  }
  return TRUE;
}

static void
print_explanation(FILE *out, const VsbFwSelection *sel, const VsbMachineResolution *res)
{
  fprintf(out, "machine: %s\n", res->note);
  gsize width = 0;
  for (guint i = 0; i < sel->verdicts->len; i++) {
    const VsbFwVerdict *v = sel->verdicts->pdata[i];
    width = MAX(width, strlen(v->entry->name));
  }
  for (guint i = 0; i < sel->verdicts->len; i++) {
    const VsbFwVerdict *v = sel->verdicts->pdata[i];
    const char *mark = strcmp(v->reason_id, "chosen") == 0 ? "=>" : "  ";
    if (strcmp(v->reason_id, "chosen") == 0 || strcmp(v->reason_id, "later") == 0)
      fprintf(out, "%s %-*s  %s\n", mark, (int)width, v->entry->name, v->reason);
    else
      fprintf(out, "%s %-*s  rejected [%s]: %s\n", mark, (int)width, v->entry->name,
              v->reason_id, v->reason);
  }
  if (sel->verdicts->len == 0)
    fprintf(out, "   (no descriptors found)\n");
}

static const char select_help[] =
  "Descriptors are tried in precedence order and the first one that no rule rejects is\n"
  "chosen. The rules are libvirt's (qemuFirmwareMatchDomain), in its order: interface;\n"
  "loader/template path (symlinks resolved); architecture + machine glob; acpi-s3/s4;\n"
  "secure-boot, enrolled-keys; SMM; flash mode and format; amd-sev*, intel-tdx.\n"
  "\n"
  "Features: acpi-s3 acpi-s4 amd-sev amd-sev-es amd-sev-snp intel-tdx enrolled-keys\n"
  "requires-smm secure-boot verbose-dynamic verbose-static host-uefi-vars.\n"
  "--feature F: the firmware must have F. --no-feature F: it must lack F; libvirt knows\n"
  "this only for secure-boot and enrolled-keys, for any other feature it is a vsboot\n"
  "extension. --feature requires-smm means SMM on with an SMM-only varstore flash (the\n"
  "firmware must require SMM); --no-feature requires-smm means SMM off (it must not).\n"
  "--feature enrolled-keys with --no-feature secure-boot is refused, as libvirt does.\n"
  "\n"
  "A machine alias (q35, pc, virt) is resolved with 'qemu-system-ARCH -machine help';\n"
  "without that binary it stands for its family (pc-q35-*, pc-i440fx-*, virt-*).\n"
  "Unlike libvirt for existing domains, no raw format is pinned: use --format raw.\n"
  "\n"
  "Exit status: 0 a match (printed), 1 no match (the explanation goes to stderr),\n"
  "2 bad usage or input.\n";

/* The options of firmware select, as given. */
typedef struct {
  char *arch, *machine, *iface, *mode, *format, *loader, *template;
  char **want, **refuse;
} SelectOptions;

static void
select_options_clear(SelectOptions *o)
{
  g_free(o->arch);
  g_free(o->machine);
  g_free(o->iface);
  g_free(o->mode);
  g_free(o->format);
  g_free(o->loader);
  g_free(o->template);
  g_strfreev(o->want);
  g_strfreev(o->refuse);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SelectOptions, select_options_clear)

/* The request the options describe (machine not yet resolved); FALSE after printing the error
 * (*code set). */
static gboolean
request_from_options(const SelectOptions *o, VsbFwRequest *req, int *code)
{
  vsb_fw_request_init(req);
  int v;
  if ((v = vsb_fw_arch_from_name(o->arch)) < 0) {
    *code = vsb_cli_failf("unknown architecture '%s' (aarch64, arm, i386, loongarch64, riscv64, "
                          "x86_64)", o->arch);
    return FALSE;
  }
  req->arch = (VsbFwArch)v;
  req->interface = VSB_FW_INTERFACE_UEFI;
  if (o->iface && (req->interface = vsb_fw_interface_from_name(o->iface)) < 0) {
    *code = vsb_cli_failf("unknown interface '%s' (uefi, bios, openfirmware, uboot)", o->iface);
    return FALSE;
  }
  if (o->mode && (req->mode = vsb_fw_flash_mode_from_name(o->mode)) < 0) {
    *code = vsb_cli_failf("unknown mode '%s' (split, combined, stateless)", o->mode);
    return FALSE;
  }
  if (o->format && (req->format = vsb_fw_format_from_name(o->format)) < 0) {
    *code = vsb_cli_failf("unknown format '%s' (raw, qcow2)", o->format);
    return FALSE;
  }
  GError *error = NULL;
  if (!set_wants(req, o->want, VSB_FW_WANT_YES, &error) ||
      !set_wants(req, o->refuse, VSB_FW_WANT_NO, &error)) {
    *code = vsb_cli_fail(error);
    return FALSE;
  }
  req->loader = o->loader;
  req->nvram_template = o->template;
  return TRUE;
}

/* The chosen descriptor, as JSON or text, with the explanation when asked for. */
static int
print_chosen(const VsbFwSelection *sel, const VsbFwRequest *req, const VsbMachineResolution *res,
             gboolean json, gboolean explain)
{
  const VsbFwDescriptor *d = sel->chosen->descriptor;
  if (json) {
    g_autoptr(JsonNode) node = vsb_fw_descriptor_to_json(d);
    if (explain) {
      g_autoptr(JsonNode) full = vsb_fw_selection_to_json(sel, req);
      JsonObject *fo = json_node_get_object(full);
      JsonObject *o = json_node_get_object(node);
      json_object_set_member(o, "request", json_node_copy(json_object_get_member(fo, "request")));
      json_object_set_member(o, "candidates",
                             json_node_copy(json_object_get_member(fo, "candidates")));
      json_object_set_string_member(o, "machine-note", res->note);
    }
    vsb_cli_print_json(node);
    return VSB_EXIT_OK;
  }
  if (explain) {
    print_explanation(stdout, sel, res);
    printf("\n");
  }
  printf("%s\n", d->path);
  print_descriptor_details(stdout, d, "  ");
  return VSB_EXIT_OK;
}

static int
cmd_select(int argc, char **argv)
{
  g_auto(GStrv) dirs = NULL;
  g_auto(SelectOptions) o = { NULL };
  gboolean explain = FALSE, json = FALSE;
  GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &o.arch, "Guest architecture (required)", "ARCH" },
    { "machine", 0, 0, G_OPTION_ARG_STRING, &o.machine,
      "Machine type, e.g. q35, pc-q35-7.2, virt (required)", "M" },
    { "interface", 0, 0, G_OPTION_ARG_STRING, &o.iface, "uefi (default) or bios", "IF" },
    { "feature", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.want, "Firmware must have feature F", "F" },
    { "no-feature", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.refuse, "Firmware must lack feature F",
      "F" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &o.mode, "Flash mode: split, combined or stateless",
      "MODE" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &o.format, "Image format: raw or qcow2", "FMT" },
    { "loader", 0, 0, G_OPTION_ARG_FILENAME, &o.loader, "The executable must be this file",
      "PATH" },
    { "template", 0, 0, G_OPTION_ARG_FILENAME, &o.template,
      "The NVRAM template must be this file", "PATH" },
    { "explain", 0, 0, G_OPTION_ARG_NONE, &explain,
      "Give every descriptor's verdict: the first rule that rejected it, or chosen", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("- choose firmware as libvirt does");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, dir_entry(&dirs), NULL);
  g_option_context_set_description(ctx, select_help);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc > 1)
    return vsb_cli_failf("firmware select: unexpected argument '%s'", argv[1]);
  if (o.arch == NULL || o.machine == NULL)
    return vsb_cli_failf("firmware select: --arch and --machine are required");

  VsbFwRequest req;
  if (!request_from_options(&o, &req, &code))
    return code;
  GError *error = NULL;
  g_autoptr(VsbMachineResolution) res = vsb_qemu_resolve_machine(req.arch, o.machine, &error);
  if (res == NULL)
    return vsb_cli_fail(error);
  req.machine = res->machine;
  req.machine_family = res->family;

  g_autoptr(GPtrArray) list = load_entries(dirs, &error);
  if (list == NULL)
    return vsb_cli_fail(error);
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(list, &req, &error);
  if (sel == NULL)
    return vsb_cli_fail(error);
  if (sel->chosen != NULL)
    return print_chosen(sel, &req, res, json, explain);
  if (json) {
    g_autoptr(JsonNode) node = vsb_fw_selection_to_json(sel, &req);
    vsb_cli_print_json(node);
  }
  fprintf(stderr, "vsboot: no firmware matches (%s %s, %s)\n", o.arch, req.machine,
          vsb_fw_interface_name((VsbFwInterface)req.interface));
  print_explanation(stderr, sel, res);
  return VSB_EXIT_NEGATIVE;
}

/* ---- check --------------------------------------------------------------------------------- */

static int
cmd_check(int argc, char **argv)
{
  g_auto(GStrv) dirs = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("[FILE...] - lint firmware descriptors");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_add_main_entries(ctx, dir_entry(&dirs), NULL);
  g_option_context_set_description(ctx,
    "A strict linter for packagers. Errors: schema errors, missing files, code and varstore\n"
    "template sizes that are not halves of one build (OVMF: code + varstore make a 1, 2 or\n"
    "4 MiB flash with a 128 or 528 KiB varstore; ArmVirt: both 64 MiB banks or neither; qcow2\n"
    "sizes via 'qemu-img info'), relative file names, secure-boot on x86 without requires-smm,\n"
    "enrolled-keys without secure-boot, and features the binary lacks (its firmware volumes\n"
    "are read, as 'firmware inspect' does). Warnings: unknown features or members,\n"
    "requires-smm without secure-boot or with an i440fx machine glob, a UEFI binary that cannot\n"
    "be inspected. Notes: features the binary has but the descriptor does not claim.\n"
    "Without FILE, the host's active descriptors are checked (masked files are not).\n"
    "\n"
    "Exit status: 0 no errors (warnings allowed), 1 errors found, 2 bad usage or a FILE\n"
    "that cannot be read.\n");
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;

  g_autoptr(GPtrArray) reports =
    g_ptr_array_new_with_free_func((GDestroyNotify)vsb_fw_check_report_free);
  GError *error = NULL;
  if (argc > 1) {
    /* A path that cannot be read is bad input (exit 2, nothing printed on stdout); only a
     * descriptor that reads is linted, and its errors, schema ones included, are exit 1. */
    for (int i = 1; i < argc; i++) {
      g_autoptr(GError) lerr = NULL;
      if (g_file_test(argv[i], G_FILE_TEST_IS_DIR))
        return vsb_cli_failf("firmware check: %s: is a directory, not a descriptor", argv[i]);
      g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_load(argv[i], &lerr);
      if (d == NULL && (g_error_matches(lerr, VSB_ERROR, VSB_ERROR_NOT_FOUND) ||
                        g_error_matches(lerr, VSB_ERROR, VSB_ERROR_IO)))
        return vsb_cli_failf("firmware check: cannot read %s", lerr->message);
      g_ptr_array_add(reports, vsb_fw_check_descriptor(argv[i], d, lerr));
    }
  } else {
    g_autoptr(GPtrArray) list = load_entries(dirs, &error);
    if (list == NULL)
      return vsb_cli_fail(error);
    for (guint i = 0; i < list->len; i++) {
      VsbFwEntry *e = list->pdata[i];
      if (e->kind == VSB_FW_ENTRY_MASK)
        continue;
      g_ptr_array_add(reports, vsb_fw_check_descriptor(e->path, e->descriptor, e->error));
    }
  }

  guint n_err = 0, n_warn = 0;
  for (guint i = 0; i < reports->len; i++) {
    VsbFwCheckReport *r = reports->pdata[i];
    n_err += r->errors->len;
    n_warn += r->warnings->len;
  }
  if (json) {
    g_autoptr(JsonNode) root = vsb_fw_check_reports_to_json(reports);
    vsb_cli_print_json(root);
  } else {
    for (guint i = 0; i < reports->len; i++) {
      VsbFwCheckReport *r = reports->pdata[i];
      for (guint k = 0; k < r->errors->len; k++)
        printf("%s: error: %s\n", r->path, (char *)r->errors->pdata[k]);
      for (guint k = 0; k < r->warnings->len; k++)
        printf("%s: warning: %s\n", r->path, (char *)r->warnings->pdata[k]);
      if (r->errors->len == 0 && r->warnings->len == 0)
        printf("%s: ok\n", r->path);
      for (guint k = 0; k < r->notes->len; k++)
        printf("%s: note: %s\n", r->path, (char *)r->notes->pdata[k]);
    }
    printf("%u file%s checked: %u error%s, %u warning%s\n", reports->len,
           reports->len == 1 ? "" : "s", n_err, n_err == 1 ? "" : "s", n_warn,
           n_warn == 1 ? "" : "s");
  }
  return n_err ? VSB_EXIT_NEGATIVE : VSB_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int
firmware_run(int argc, char **argv)
{
  static const VsbCliSubcommand subs[] = {
    { "list", cmd_list },
    { "show", cmd_show },
    { "select", cmd_select },
    { "check", cmd_check },
    { "inspect", vsb_cli_firmware_inspect }, /* cmd-firmware-inspect.c */
  };
  return vsb_cli_dispatch(firmware_usage, subs, G_N_ELEMENTS(subs), argc, argv);
}

const VsbCliCommand vsb_cli_firmware = { "firmware", "Firmware descriptors: list, show, select, check, inspect", firmware_run };
