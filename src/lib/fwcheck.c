/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/fwcheck.h"
#include "vsboot/error.h"
#include "vsboot/fv.h"
#include "fwimage.h"
#include "util/jsonb.h"

#include <string.h>

static gboolean
targets_arch(const VsbFwDescriptor *d, VsbFwArch a, VsbFwArch b)
{
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    if (t->architecture == a || t->architecture == b)
      return TRUE;
  }
  return FALSE;
}

static gboolean
targets_x86(const VsbFwDescriptor *d)
{
  return targets_arch(d, VSB_FW_ARCH_X86_64, VSB_FW_ARCH_I386);
}

static void
check_sizes(const VsbFwDescriptor *d, VsbFwCheckReport *r)
{
  GError *error = NULL;
  if (d->device != VSB_FW_DEVICE_FLASH) {
    if (!g_file_test(d->filename, G_FILE_TEST_EXISTS))
      g_ptr_array_add(r->errors, g_strdup_printf("mapping.filename: %s: no such file", d->filename));
    return;
  }
  guint64 code_size = 0, vars_size = 0;
  gboolean have_code = vsb_fw_image_size(d->executable.filename, d->executable.format,
                                         &code_size, &error);
  if (!have_code) {
    g_ptr_array_add(r->errors, g_strdup_printf("mapping.executable: %s", error->message));
    g_clear_error(&error);
  }
  if (d->mode != VSB_FW_FLASH_MODE_SPLIT)
    return;
  if (!vsb_fw_image_size(d->nvram_template.filename, d->nvram_template.format, &vars_size,
                         &error)) {
    g_ptr_array_add(r->errors, g_strdup_printf("mapping.nvram-template: %s", error->message));
    g_clear_error(&error);
    return;
  }
  if (!have_code)
    return;
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    if (!vsb_fw_image_check_pair(t->architecture, d->executable.filename, code_size,
                                 d->nvram_template.filename, vars_size, &error)) {
      g_ptr_array_add(r->errors, g_strdup_printf("mapping: %s", error->message));
      g_clear_error(&error);
      return;
    }
  }
}

/* What the binary really contains, against what the descriptor claims. */
static void
check_binary(const VsbFwDescriptor *d, VsbFwCheckReport *r)
{
  gboolean uefi = FALSE;
  for (guint i = 0; i < d->n_interfaces; i++)
    uefi |= d->interfaces[i] == VSB_FW_INTERFACE_UEFI;
  const char *code = vsb_fw_descriptor_code_path(d);
  const char *member = d->device == VSB_FW_DEVICE_FLASH ? "mapping.executable" : "mapping.filename";
  /* Only edk2 builds have firmware volumes to read; qcow2 would need a conversion first. */
  if (!uefi || code == NULL || !g_file_test(code, G_FILE_TEST_IS_REGULAR))
    return;
  if (d->device == VSB_FW_DEVICE_FLASH && d->executable.format != VSB_FW_FORMAT_RAW) {
    g_ptr_array_add(r->notes, g_strdup_printf("%s: qcow2 image: features not compared with "
                                              "the binary", member));
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) img = vsb_fv_inspect_file(code, NULL, &error);
  if (img == NULL) {
    g_ptr_array_add(r->warnings, g_strdup_printf("%s: cannot inspect the binary, features not "
                                                 "checked: %s", member, error->message));
    return;
  }
  int arch = vsb_fv_image_get_arch(img);
  if (arch >= 0 && !targets_arch(d, (VsbFwArch)arch, (VsbFwArch)arch))
    g_ptr_array_add(r->errors, g_strdup_printf("targets: the binary is built for %s, but no target "
                                               "names that architecture",
                                               vsb_fw_arch_name((VsbFwArch)arch)));

  g_autoptr(GPtrArray) claimed = g_ptr_array_new();
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (vsb_fw_descriptor_has_feature(d, (VsbFwFeature)f))
      g_ptr_array_add(claimed, (gpointer)vsb_fw_feature_name((VsbFwFeature)f));
  g_ptr_array_add(claimed, NULL);
  g_autoptr(GPtrArray) checks = vsb_fv_image_check_claims(img, (const char *const *)claimed->pdata);
  for (guint i = 0; i < checks->len; i++) {
    const VsbFvClaimCheck *c = checks->pdata[i];
    if (c->claim == VSB_FV_CLAIM_FALSE)
      g_ptr_array_add(r->errors, g_strdup_printf("features: claims '%s', but the binary %s lacks "
                                                 "it (%s)", c->feature, code, c->evidence));
    else if (c->claim == VSB_FV_CLAIM_UNDECLARED)
      g_ptr_array_add(r->notes, g_strdup_printf("features: the binary has '%s', which the "
                                                "descriptor does not claim (%s)", c->feature,
                                                c->evidence));
  }
}

static void
lint_descriptor(const VsbFwDescriptor *d, VsbFwCheckReport *r)
{
  for (char **w = d->warnings; *w; w++)
    g_ptr_array_add(r->warnings, g_strdup(*w));

  check_sizes(d, r);

  /* QEMU and libvirt take the names as they are: a relative one depends on the cwd. */
  const char *names[] = { d->device == VSB_FW_DEVICE_FLASH ? "mapping.executable.filename"
                                                            : "mapping.filename",
                          "mapping.nvram-template.filename" };
  const char *files[] = { vsb_fw_descriptor_code_path(d), d->nvram_template.filename };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++)
    if (files[i] && !g_path_is_absolute(files[i]))
      g_ptr_array_add(r->errors, g_strdup_printf("%s: '%s' is not an absolute path", names[i],
                                                 files[i]));

  gboolean sb = vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_SECURE_BOOT);
  gboolean smm = vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_REQUIRES_SMM);
  gboolean has_vars = d->device == VSB_FW_DEVICE_FLASH && d->mode != VSB_FW_FLASH_MODE_STATELESS;
  if (sb && !smm && targets_x86(d) && has_vars)
    g_ptr_array_add(r->errors, g_strdup(
      "features: secure-boot on x86 without requires-smm: the varstore flash is then writable "
      "by the guest OS, which can undo Secure Boot"));
  if (smm && !sb && targets_x86(d))
    g_ptr_array_add(r->warnings, g_strdup(
      "features: requires-smm without secure-boot (libvirt warns: invalid set of features)"));
  if (smm) {
    /* OVMF's SMM builds need the ICH9 (q35) chipset; i440fx cannot boot them. */
    for (guint i = 0; i < d->targets->len; i++) {
      const VsbFwTarget *t = d->targets->pdata[i];
      for (char **m = t->machines; *m; m++)
        if (g_str_has_prefix(*m, "pc-i440fx") || strcmp(*m, "pc") == 0)
          g_ptr_array_add(r->warnings, g_strdup_printf(
            "targets: requires-smm with machine '%s'; SMM builds of OVMF run on q35 only", *m));
    }
  }
  if (smm && !targets_x86(d))
    g_ptr_array_add(r->warnings, g_strdup("features: requires-smm on a non-x86 target"));
  if (vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_ENROLLED_KEYS) && !sb)
    g_ptr_array_add(r->errors, g_strdup("features: enrolled-keys without secure-boot"));
  if (vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_HOST_UEFI_VARS) &&
      d->device == VSB_FW_DEVICE_FLASH && d->mode != VSB_FW_FLASH_MODE_STATELESS)
    g_ptr_array_add(r->warnings, g_strdup(
      "features: host-uefi-vars with a flash varstore (the spec asks for mode stateless)"));

  check_binary(d, r);
}

VsbFwCheckReport *
vsb_fw_check_descriptor(const char *path, const VsbFwDescriptor *d, const GError *load_error)
{
  VsbFwCheckReport *r = g_new0(VsbFwCheckReport, 1);
  r->path = g_strdup(path);
  r->errors = g_ptr_array_new_with_free_func(g_free);
  r->warnings = g_ptr_array_new_with_free_func(g_free);
  r->notes = g_ptr_array_new_with_free_func(g_free);
  if (d)
    lint_descriptor(d, r);
  else
    g_ptr_array_add(r->errors, g_strdup(load_error ? load_error->message : "invalid"));
  return r;
}

void
vsb_fw_check_report_free(VsbFwCheckReport *r)
{
  if (r == NULL)
    return;
  g_free(r->path);
  g_ptr_array_unref(r->errors);
  g_ptr_array_unref(r->warnings);
  g_ptr_array_unref(r->notes);
  g_free(r);
}

JsonNode *
vsb_fw_check_reports_to_json(GPtrArray *reports)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  guint n_err = 0, n_warn = 0;
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "files");
  json_builder_begin_array(b);
  for (guint i = 0; i < reports->len; i++) {
    VsbFwCheckReport *r = reports->pdata[i];
    n_err += r->errors->len;
    n_warn += r->warnings->len;
    json_builder_begin_object(b);
    vsb_json_put_str(b, "path", r->path);
    vsb_json_put_strings(b, "errors", r->errors);
    vsb_json_put_strings(b, "warnings", r->warnings);
    vsb_json_put_strings(b, "notes", r->notes);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  vsb_json_put_int(b, "errors", n_err);
  vsb_json_put_int(b, "warnings", n_warn);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
