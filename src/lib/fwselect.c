/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/fwselect.h"
#include "vsboot/error.h"
#include "util/jsonb.h"

#include <stdlib.h>
#include <string.h>

void
vsb_fw_request_init(VsbFwRequest *req)
{
  memset(req, 0, sizeof(*req));
  req->arch = VSB_FW_ARCH_X86_64;
  req->interface = VSB_FW_ANY;
  req->device = VSB_FW_ANY;
  req->mode = VSB_FW_ANY;
  req->format = VSB_FW_ANY;
}

gboolean
vsb_fw_paths_equal(const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  char *ra = realpath(a, NULL);
  char *rb = realpath(b, NULL);
  gboolean eq = strcmp(ra ? ra : a, rb ? rb : b) == 0;
  free(ra);
  free(rb);
  return eq;
}

/* Can pattern p match some string that starts with prefix s? (A family "pc-q35-" against a
 * descriptor glob.) Patterns are short; the recursion is bounded by their length. */
static gboolean
glob_can_match_prefix(const char *p, const char *s, int depth)
{
  if (depth > 256)
    return FALSE;
  if (*s == '\0')
    return TRUE; /* any rest of a glob matches some string */
  if (*p == '\0')
    return FALSE;
  if (*p == '*')
    return glob_can_match_prefix(p + 1, s, depth + 1) || glob_can_match_prefix(p, s + 1, depth + 1);
  if (*p == '?' || *p == *s)
    return glob_can_match_prefix(p + 1, s + 1, depth + 1);
  return FALSE;
}

static gboolean
target_matches(const VsbFwDescriptor *d, const VsbFwRequest *req)
{
  if (!req->machine_family)
    return vsb_fw_descriptor_supports(d, req->arch, req->machine);
  /* A family is "PREFIX*": it matches when some machine of the family could match. */
  g_autofree char *prefix = g_strdup(req->machine);
  char *star = strchr(prefix, '*');
  if (star)
    *star = '\0';
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    if (t->architecture != req->arch)
      continue;
    for (char **m = t->machines; *m; m++)
      if (glob_can_match_prefix(*m, prefix, 0))
        return TRUE;
  }
  return FALSE;
}

static gboolean
reject(const char **id_out, char **reason_out, int *feature_out, const char *id, int feature,
       char *reason)
{
  if (id_out)
    *id_out = id;
  if (feature_out)
    *feature_out = feature;
  if (reason_out)
    *reason_out = reason;
  else
    g_free(reason);
  return FALSE;
}

static const char *
interfaces_text(const VsbFwDescriptor *d, char buf[64])
{
  buf[0] = '\0';
  for (guint i = 0; i < d->n_interfaces; i++) {
    if (i)
      g_strlcat(buf, ",", 64);
    g_strlcat(buf, vsb_fw_interface_name(d->interfaces[i]), 64);
  }
  return buf;
}

/* Check one feature; returns FALSE (with the reason) when the request's wish is not met. */
static gboolean
check_feature(const VsbFwDescriptor *d, const VsbFwRequest *req, VsbFwFeature f,
              const char **id, char **reason, int *feature)
{
  gboolean has = vsb_fw_descriptor_has_feature(d, f);
  if (req->features[f] == VSB_FW_WANT_YES && !has)
    return reject(id, reason, feature, "missing-feature", f,
                  g_strdup_printf("lacks feature %s, which is wanted", vsb_fw_feature_name(f)));
  if (req->features[f] == VSB_FW_WANT_NO && has)
    return reject(id, reason, feature, "unwanted-feature", f,
                  g_strdup_printf("has feature %s, which is refused", vsb_fw_feature_name(f)));
  return TRUE;
}

/* Where a rejection is reported: the caller's optional outputs of vsb_fw_match. */
typedef struct {
  const char **id;
  char **reason;
  int *feature;
} Why;

/* 1. interface: any position in interface-types counts. */
static gboolean
match_interface(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  char ibuf[64];
  if (req->interface == VSB_FW_ANY) {
    if (!vsb_fw_descriptor_has_interface(d, VSB_FW_INTERFACE_UEFI) &&
        !vsb_fw_descriptor_has_interface(d, VSB_FW_INTERFACE_BIOS))
      return reject(w->id, w->reason, w->feature, "interface", -1,
                    g_strdup_printf("interface %s is neither uefi nor bios",
                                    interfaces_text(d, ibuf)));
  } else if (!vsb_fw_descriptor_has_interface(d, (VsbFwInterface)req->interface)) {
    return reject(w->id, w->reason, w->feature, "interface", -1,
                  g_strdup_printf("interface %s, not %s", interfaces_text(d, ibuf),
                                  vsb_fw_interface_name((VsbFwInterface)req->interface)));
  }
  return TRUE;
}

/* 2. paths (virFileComparePaths). */
static gboolean
match_paths(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  if (req->loader) {
    const char *code = vsb_fw_descriptor_code_path(d);
    if ((d->device != VSB_FW_DEVICE_FLASH && d->device != VSB_FW_DEVICE_MEMORY) ||
        !vsb_fw_paths_equal(req->loader, code))
      return reject(w->id, w->reason, w->feature, "loader-path", -1,
                    g_strdup_printf("executable is %s, not %s", code, req->loader));
  }
  if (req->nvram_template) {
    if (d->device != VSB_FW_DEVICE_FLASH || d->mode != VSB_FW_FLASH_MODE_SPLIT)
      return reject(w->id, w->reason, w->feature, "template-path", -1,
                    g_strdup_printf("has no NVRAM template, and %s was asked for",
                                    req->nvram_template));
    if (!vsb_fw_paths_equal(req->nvram_template, d->nvram_template.filename))
      return reject(w->id, w->reason, w->feature, "template-path", -1,
                    g_strdup_printf("NVRAM template is %s, not %s", d->nvram_template.filename,
                                    req->nvram_template));
  }
  return TRUE;
}

/* 3. architecture + machine glob. */
static gboolean
match_target(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  if (target_matches(d, req))
    return TRUE;
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    g_autofree char *m = g_strjoinv(",", t->machines);
    g_string_append_printf(s, "%s%s %s", i ? "; " : "", vsb_fw_arch_name(t->architecture), m);
  }
  return reject(w->id, w->reason, w->feature, "target", -1,
                g_strdup_printf("targets %s; not %s %s%s", s->str, vsb_fw_arch_name(req->arch),
                                req->machine, req->machine_family ? " (family)" : ""));
}

/* Each feature of a list, in order; the first the request's wish is not met for rejects. */
static gboolean
match_features(const VsbFwDescriptor *d, const VsbFwRequest *req, const VsbFwFeature *list,
               gsize n, const Why *w)
{
  for (gsize i = 0; i < n; i++)
    if (!check_feature(d, req, list[i], w->id, w->reason, w->feature))
      return FALSE;
  return TRUE;
}

/* 4. S3/S4. */
static gboolean
match_acpi(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  static const VsbFwFeature acpi[] = { VSB_FW_FEATURE_ACPI_S3, VSB_FW_FEATURE_ACPI_S4 };
  return match_features(d, req, acpi, G_N_ELEMENTS(acpi), w);
}

/* 5. secure-boot, enrolled-keys. */
static gboolean
match_secure_boot(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  static const VsbFwFeature sb[] = { VSB_FW_FEATURE_SECURE_BOOT, VSB_FW_FEATURE_ENROLLED_KEYS };
  return match_features(d, req, sb, G_N_ELEMENTS(sb), w);
}

/* 6. SMM: wanted = smm=on with a secure flash, which only firmware requiring SMM accepts;
 * refused = smm=off, which firmware requiring SMM cannot run with. */
static gboolean
match_smm(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  gboolean smm = vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_REQUIRES_SMM);
  if (req->features[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_NO && smm)
    return reject(w->id, w->reason, w->feature, "smm", VSB_FW_FEATURE_REQUIRES_SMM,
                  g_strdup("requires SMM, which is turned off"));
  if (req->features[VSB_FW_FEATURE_REQUIRES_SMM] == VSB_FW_WANT_YES && !smm)
    return reject(w->id, w->reason, w->feature, "smm", VSB_FW_FEATURE_REQUIRES_SMM,
                  g_strdup("does not require SMM, and an SMM-only (secure) flash was asked for"));
  return TRUE;
}

/* 7./8. device, mode, formats. */
static gboolean
match_device(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  if (req->device != VSB_FW_ANY && (int)d->device != req->device)
    return reject(w->id, w->reason, w->feature, "device", -1,
                  g_strdup_printf("device %s, not %s", vsb_fw_device_name(d->device),
                                  vsb_fw_device_name((VsbFwDevice)req->device)));
  switch (d->device) {
  case VSB_FW_DEVICE_FLASH:
    if (req->mode != VSB_FW_ANY && (int)d->mode != req->mode)
      return reject(w->id, w->reason, w->feature, "mode", -1,
                    g_strdup_printf("flash mode %s, not %s", vsb_fw_flash_mode_name(d->mode),
                                    vsb_fw_flash_mode_name((VsbFwFlashMode)req->mode)));
    if (req->format != VSB_FW_ANY && (int)d->executable.format != req->format)
      return reject(w->id, w->reason, w->feature, "format", -1,
                    g_strdup_printf("executable format %s, not %s",
                                    vsb_fw_format_name(d->executable.format),
                                    vsb_fw_format_name((VsbFwFormat)req->format)));
    if (d->mode == VSB_FW_FLASH_MODE_SPLIT && req->format != VSB_FW_ANY &&
        (int)d->nvram_template.format != req->format)
      return reject(w->id, w->reason, w->feature, "template-format", -1,
                    g_strdup_printf("NVRAM template format %s, not %s",
                                    vsb_fw_format_name(d->nvram_template.format),
                                    vsb_fw_format_name((VsbFwFormat)req->format)));
    break;
  case VSB_FW_DEVICE_MEMORY:
    /* -bios: read-only, no NVRAM; only "stateless" describes it. */
    if (req->mode != VSB_FW_ANY && req->mode != VSB_FW_FLASH_MODE_STATELESS)
      return reject(w->id, w->reason, w->feature, "mode", -1,
                    g_strdup_printf("memory-mapped (stateless, no NVRAM), not %s",
                                    vsb_fw_flash_mode_name((VsbFwFlashMode)req->mode)));
    break;
  case VSB_FW_DEVICE_KERNEL:
  case VSB_FW_DEVICE_IGVM:
  default:
    /* libvirt cannot use these (it fails to parse such files), so neither does selection. */
    return reject(w->id, w->reason, w->feature, "device", -1,
                  g_strdup_printf("device %s is not selectable (libvirt knows flash and memory)",
                                  vsb_fw_device_name(d->device)));
  }
  return TRUE;
}

/* 9. confidential computing. */
static gboolean
match_confidential(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  static const VsbFwFeature cc[] = { VSB_FW_FEATURE_AMD_SEV, VSB_FW_FEATURE_AMD_SEV_ES,
                                     VSB_FW_FEATURE_AMD_SEV_SNP, VSB_FW_FEATURE_INTEL_TDX };
  return match_features(d, req, cc, G_N_ELEMENTS(cc), w);
}

/* 10. the rest (vsboot extension; libvirt ignores them). */
static gboolean
match_rest(const VsbFwDescriptor *d, const VsbFwRequest *req, const Why *w)
{
  static const VsbFwFeature rest[] = { VSB_FW_FEATURE_VERBOSE_DYNAMIC,
                                       VSB_FW_FEATURE_VERBOSE_STATIC,
                                       VSB_FW_FEATURE_HOST_UEFI_VARS };
  return match_features(d, req, rest, G_N_ELEMENTS(rest), w);
}

/* libvirt's rules in libvirt's order (fwselect.h): the first that rejects names the reason. */
static gboolean (*const match_steps[])(const VsbFwDescriptor *, const VsbFwRequest *,
                                      const Why *) = {
  match_interface,
  match_paths,
  match_target,
  match_acpi,
  match_secure_boot,
  match_smm,
  match_device,
  match_confidential,
  match_rest,
};

gboolean
vsb_fw_match(const VsbFwDescriptor *d, const VsbFwRequest *req, const char **id, char **reason,
             int *feature)
{
  if (id)
    *id = NULL;
  if (reason)
    *reason = NULL;
  if (feature)
    *feature = -1;
  const Why w = { id, reason, feature };
  for (gsize i = 0; i < G_N_ELEMENTS(match_steps); i++)
    if (!match_steps[i](d, req, &w))
      return FALSE;
  return TRUE;
}

static void
verdict_free(gpointer p)
{
  VsbFwVerdict *v = p;
  g_free(v->reason);
  g_free(v);
}

void
vsb_fw_selection_free(VsbFwSelection *sel)
{
  if (sel == NULL)
    return;
  g_ptr_array_unref(sel->verdicts);
  g_free(sel);
}

VsbFwSelection *
vsb_fw_select(GPtrArray *entries, const VsbFwRequest *req, GError **error)
{
  if (req->machine == NULL || *req->machine == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "a machine type is needed");
    return NULL;
  }
  if ((int)req->arch < 0 || req->arch >= VSB_FW_ARCH_COUNT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "unknown architecture");
    return NULL;
  }
  if (req->features[VSB_FW_FEATURE_ENROLLED_KEYS] == VSB_FW_WANT_YES &&
      req->features[VSB_FW_FEATURE_SECURE_BOOT] == VSB_FW_WANT_NO) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "firmware feature 'enrolled-keys' cannot be enabled when firmware feature "
                "'secure-boot' is disabled");
    return NULL;
  }
  if ((req->loader && !g_path_is_absolute(req->loader)) ||
      (req->nvram_template && !g_path_is_absolute(req->nvram_template))) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "loader and template paths must be absolute: '%s'",
                req->loader && !g_path_is_absolute(req->loader) ? req->loader
                                                                 : req->nvram_template);
    return NULL;
  }

  VsbFwSelection *sel = g_new0(VsbFwSelection, 1);
  sel->verdicts = g_ptr_array_new_with_free_func(verdict_free);
  sel->chosen_index = -1;
  for (guint i = 0; i < entries->len; i++) {
    VsbFwEntry *e = entries->pdata[i];
    VsbFwVerdict *v = g_new0(VsbFwVerdict, 1);
    v->entry = e;
    v->feature = -1;
    if (e->kind == VSB_FW_ENTRY_MASK) {
      v->reason_id = "masked";
      v->reason = e->overrides && e->overrides[0]
                    ? g_strdup_printf("empty file: masks %s", e->overrides[0])
                    : g_strdup("empty file: masks nothing, ignored");
    } else if (e->kind == VSB_FW_ENTRY_INVALID) {
      v->reason_id = "invalid";
      v->reason = g_strdup_printf("not usable: %s", e->error ? e->error->message : "invalid");
    } else if (vsb_fw_match(e->descriptor, req, &v->reason_id, &v->reason, &v->feature)) {
      if (sel->chosen == NULL) {
        sel->chosen = e;
        sel->chosen_index = (int)i;
        v->reason_id = "chosen";
        v->reason = g_strdup("chosen: first match in precedence order");
      } else {
        v->reason_id = "later";
        v->reason = g_strdup_printf("would match, but %s comes first", sel->chosen->name);
      }
    }
    g_ptr_array_add(sel->verdicts, v);
  }
  return sel;
}

JsonNode *
vsb_fw_selection_to_json(const VsbFwSelection *sel, const VsbFwRequest *req)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "chosen");
  if (sel->chosen)
    json_builder_add_value(b, vsb_fw_descriptor_to_json(sel->chosen->descriptor));
  else
    json_builder_add_null_value(b);

  json_builder_set_member_name(b, "request");
  json_builder_begin_object(b);
  vsb_json_put_str(b, "architecture", vsb_fw_arch_name(req->arch));
  vsb_json_put_str(b, "machine", req->machine);
  vsb_json_put_bool(b, "machine-family", req->machine_family);
  /* VSB_FW_ANY (no wish): null. */
  vsb_json_put_str(b, "interface", req->interface == VSB_FW_ANY
                                       ? NULL
                                       : vsb_fw_interface_name((VsbFwInterface)req->interface));
  json_builder_set_member_name(b, "features");
  json_builder_begin_object(b);
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++) {
    if (req->features[f] == VSB_FW_WANT_ANY)
      continue;
    vsb_json_put_bool(b, vsb_fw_feature_name((VsbFwFeature)f), req->features[f] == VSB_FW_WANT_YES);
  }
  json_builder_end_object(b);
  vsb_json_put_str(b, "mode", req->mode == VSB_FW_ANY
                                  ? NULL
                                  : vsb_fw_flash_mode_name((VsbFwFlashMode)req->mode));
  vsb_json_put_str(b, "format",
                   req->format == VSB_FW_ANY ? NULL : vsb_fw_format_name((VsbFwFormat)req->format));
  json_builder_set_member_name(b, "loader");
  if (req->loader)
    json_builder_add_string_value(b, req->loader);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "template");
  if (req->nvram_template)
    json_builder_add_string_value(b, req->nvram_template);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);

  json_builder_set_member_name(b, "candidates");
  json_builder_begin_array(b);
  for (guint i = 0; i < sel->verdicts->len; i++) {
    const VsbFwVerdict *v = sel->verdicts->pdata[i];
    json_builder_begin_object(b);
    vsb_json_put_str(b, "name", v->entry->name);
    vsb_json_put_str(b, "path", v->entry->path);
    vsb_json_put_str(b, "verdict", v->reason_id);
    vsb_json_put_str(b, "reason", v->reason);
    if (v->feature >= 0) {
      vsb_json_put_str(b, "feature", vsb_fw_feature_name((VsbFwFeature)v->feature));
    }
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
