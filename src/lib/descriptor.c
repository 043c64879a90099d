/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/descriptor.h"
#include "json.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "util/enumname.h"
#include "util/jsonb.h"

#include <string.h>
#include <sys/stat.h>

static const char *const interface_names[VSB_FW_INTERFACE_COUNT] = {
  "bios", "openfirmware", "uboot", "uefi",
};
static const char *const device_names[VSB_FW_DEVICE_COUNT] = {
  "flash", "memory", "kernel", "igvm",
};
static const char *const mode_names[VSB_FW_FLASH_MODE_COUNT] = {
  "split", "combined", "stateless",
};
static const char *const format_names[VSB_FW_FORMAT_COUNT] = { "raw", "qcow2" };
static const char *const arch_names[VSB_FW_ARCH_COUNT] = {
  "aarch64", "arm", "i386", "loongarch64", "riscv64", "x86_64",
};
static const char *const feature_names[VSB_FW_FEATURE_COUNT] = {
  "acpi-s3",     "acpi-s4",      "amd-sev",         "amd-sev-es",     "amd-sev-snp",
  "intel-tdx",   "enrolled-keys", "requires-smm",   "secure-boot",    "verbose-dynamic",
  "verbose-static", "host-uefi-vars",
};

VSB_ENUM_NAMES(vsb_fw_interface, VsbFwInterface, interface_names, VSB_FW_INTERFACE_COUNT,
               "(invalid)")
VSB_ENUM_NAMES(vsb_fw_device, VsbFwDevice, device_names, VSB_FW_DEVICE_COUNT,
               "(invalid)")
VSB_ENUM_NAMES(vsb_fw_flash_mode, VsbFwFlashMode, mode_names, VSB_FW_FLASH_MODE_COUNT,
               "(invalid)")
VSB_ENUM_NAMES(vsb_fw_format, VsbFwFormat, format_names, VSB_FW_FORMAT_COUNT,
               "(invalid)")
VSB_ENUM_NAMES(vsb_fw_arch, VsbFwArch, arch_names, VSB_FW_ARCH_COUNT,
               "(invalid)")
VSB_ENUM_NAMES(vsb_fw_feature, VsbFwFeature, feature_names, VSB_FW_FEATURE_COUNT,
               "(invalid)")

/* ---- lifetime ---------------------------------------------------------------------------- */

static void
target_free(gpointer p)
{
  VsbFwTarget *t = p;
  g_strfreev(t->machines);
  g_free(t);
}

static void
descriptor_clear(gpointer p)
{
  VsbFwDescriptor *d = p;
  g_free(d->path);
  g_free(d->name);
  g_free(d->description);
  g_free(d->executable.filename);
  g_free(d->nvram_template.filename);
  g_free(d->filename);
  if (d->targets)
    g_ptr_array_unref(d->targets);
  g_strfreev(d->unknown_features);
  g_strfreev(d->warnings);
}

VsbFwDescriptor *
vsb_fw_descriptor_ref(VsbFwDescriptor *desc)
{
  return g_atomic_rc_box_acquire(desc);
}

void
vsb_fw_descriptor_unref(VsbFwDescriptor *desc)
{
  if (desc)
    g_atomic_rc_box_release_full(desc, descriptor_clear);
}

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct {
  const char *file; /* for messages */
} Ctx;

static const char *
node_type_name(JsonNode *node)
{
  if (node == NULL)
    return "nothing";
  switch (JSON_NODE_TYPE(node)) {
  case JSON_NODE_OBJECT: return "an object";
  case JSON_NODE_ARRAY: return "an array";
  case JSON_NODE_NULL: return "null";
  case JSON_NODE_VALUE: {
    GType t = json_node_get_value_type(node);
    if (t == G_TYPE_STRING)
      return "a string";
    if (t == G_TYPE_BOOLEAN)
      return "a boolean";
    return "a number";
  }
  }
  return "something else";
}

static gboolean G_GNUC_PRINTF(4, 5)
fail(const Ctx *ctx, GError **error, const char *member, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (member && *member)
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: %s: %s", ctx->file, member, msg);
  else
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: %s", ctx->file, msg);
  return FALSE;
}

/* parent's member key (NULL when absent: an error unless optional); member names it. */
static JsonNode *
get_member(const Ctx *ctx, JsonObject *parent, const char *key, const char *member,
           gboolean optional, GError **error)
{
  JsonNode *n = json_object_get_member(parent, key);
  if (n == NULL && !optional)
    fail(ctx, error, member, "missing member");
  return n;
}

static JsonObject *
get_object(const Ctx *ctx, JsonObject *parent, const char *key, const char *member,
           GError **error)
{
  JsonNode *n = get_member(ctx, parent, key, member, FALSE, error);
  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    fail(ctx, error, member, "expected an object, got %s", node_type_name(n));
    return NULL;
  }
  return json_node_get_object(n);
}

static JsonArray *
get_array(const Ctx *ctx, JsonObject *parent, const char *key, const char *member,
          gboolean optional, GError **error)
{
  JsonNode *n = get_member(ctx, parent, key, member, optional, error);
  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY(n)) {
    fail(ctx, error, member, "expected an array, got %s", node_type_name(n));
    return NULL;
  }
  return json_node_get_array(n);
}

static const char *
node_string(const Ctx *ctx, JsonNode *n, const char *member, GError **error)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
    fail(ctx, error, member, "expected a string, got %s", node_type_name(n));
    return NULL;
  }
  return json_node_get_string(n);
}

static const char *
get_string(const Ctx *ctx, JsonObject *parent, const char *key, const char *member,
           gboolean optional, GError **error)
{
  JsonNode *n = get_member(ctx, parent, key, member, optional, error);
  return n ? node_string(ctx, n, member, error) : NULL;
}

static const char *
get_nonempty_string(const Ctx *ctx, JsonObject *parent, const char *key, const char *member,
                    GError **error)
{
  const char *s = get_string(ctx, parent, key, member, FALSE, error);
  if (s && *s == '\0') {
    fail(ctx, error, member, "empty string");
    return NULL;
  }
  return s;
}

static void
warn_unknown_members(GPtrArray *warnings, JsonObject *obj, const char *prefix,
                     const char *const *known)
{
  g_autoptr(GList) members = json_object_get_members(obj);
  for (GList *l = members; l; l = l->next) {
    const char *k = l->data;
    if (!g_strv_contains(known, k))
      g_ptr_array_add(warnings, g_strdup_printf("%s%s: unknown member ignored", prefix, k));
  }
}

static gboolean
parse_flash_file(const Ctx *ctx, JsonObject *mapping, const char *key, VsbFwFile *out,
                 GPtrArray *warnings, GError **error)
{
  g_autofree char *member = g_strdup_printf("mapping.%s", key);
  JsonObject *o = get_object(ctx, mapping, key, member, error);
  if (o == NULL)
    return FALSE;
  g_autofree char *fn_member = g_strdup_printf("%s.filename", member);
  g_autofree char *fmt_member = g_strdup_printf("%s.format", member);
  const char *fn = get_nonempty_string(ctx, o, "filename", fn_member, error);
  if (fn == NULL)
    return FALSE;
  const char *fmt = get_string(ctx, o, "format", fmt_member, FALSE, error);
  if (fmt == NULL)
    return FALSE;
  int f = vsb_fw_format_from_name(fmt);
  if (f < 0)
    return fail(ctx, error, fmt_member, "unknown format '%s' (expected raw or qcow2)", fmt);
  static const char *const known[] = { "filename", "format", NULL };
  g_autofree char *prefix = g_strdup_printf("%s.", member);
  warn_unknown_members(warnings, o, prefix, known);
  out->filename = g_strdup(fn);
  out->format = (VsbFwFormat)f;
  return TRUE;
}

static gboolean
parse_mapping(const Ctx *ctx, JsonObject *root, VsbFwDescriptor *d, GPtrArray *warnings,
              GError **error)
{
  JsonObject *m = get_object(ctx, root, "mapping", "mapping", error);
  if (m == NULL)
    return FALSE;
  const char *dev = get_string(ctx, m, "device", "mapping.device", FALSE, error);
  if (dev == NULL)
    return FALSE;
  int device = vsb_fw_device_from_name(dev);
  if (device < 0)
    return fail(ctx, error, "mapping.device",
                "unknown device '%s' (expected flash, memory, kernel or igvm)", dev);
  d->device = (VsbFwDevice)device;

  if (d->device != VSB_FW_DEVICE_FLASH) {
    const char *fn = get_nonempty_string(ctx, m, "filename", "mapping.filename", error);
    if (fn == NULL)
      return FALSE;
    d->filename = g_strdup(fn);
    static const char *const known[] = { "device", "filename", NULL };
    warn_unknown_members(warnings, m, "mapping.", known);
    return TRUE;
  }

  d->mode = VSB_FW_FLASH_MODE_SPLIT;
  if (json_object_has_member(m, "mode")) {
    const char *mode = get_string(ctx, m, "mode", "mapping.mode", FALSE, error);
    if (mode == NULL)
      return FALSE;
    int v = vsb_fw_flash_mode_from_name(mode);
    if (v < 0)
      return fail(ctx, error, "mapping.mode",
                  "unknown flash mode '%s' (expected split, combined or stateless)", mode);
    d->mode = (VsbFwFlashMode)v;
    d->mode_explicit = TRUE;
  }
  if (!parse_flash_file(ctx, m, "executable", &d->executable, warnings, error))
    return FALSE;
  if (d->mode == VSB_FW_FLASH_MODE_SPLIT) {
    if (!parse_flash_file(ctx, m, "nvram-template", &d->nvram_template, warnings, error))
      return FALSE;
  } else if (json_object_has_member(m, "nvram-template")) {
    /* libvirt ignores it; QEMU's schema only allows it for split. */
    g_ptr_array_add(warnings, g_strdup_printf("mapping.nvram-template: ignored in %s mode",
                                              vsb_fw_flash_mode_name(d->mode)));
  }
  static const char *const known[] = { "device", "mode", "executable", "nvram-template", NULL };
  warn_unknown_members(warnings, m, "mapping.", known);
  return TRUE;
}

static gboolean
parse_targets(const Ctx *ctx, JsonObject *root, VsbFwDescriptor *d, GPtrArray *warnings,
              GError **error)
{
  JsonArray *arr = get_array(ctx, root, "targets", "targets", FALSE, error);
  if (arr == NULL)
    return FALSE;
  guint n = json_array_get_length(arr);
  if (n == 0)
    return fail(ctx, error, "targets", "empty array (at least one target is needed)");
  for (guint i = 0; i < n; i++) {
    g_autofree char *member = g_strdup_printf("targets[%u]", i);
    JsonNode *tn = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(tn))
      return fail(ctx, error, member, "expected an object, got %s", node_type_name(tn));
    JsonObject *t = json_node_get_object(tn);
    g_autofree char *arch_member = g_strdup_printf("%s.architecture", member);
    const char *arch = get_string(ctx, t, "architecture", arch_member, FALSE, error);
    if (arch == NULL)
      return FALSE;
    int a = vsb_fw_arch_from_name(arch);
    if (a < 0)
      return fail(ctx, error, arch_member, "unknown architecture '%s'", arch);
    g_autofree char *mach_member = g_strdup_printf("%s.machines", member);
    JsonArray *machines = get_array(ctx, t, "machines", mach_member, FALSE, error);
    if (machines == NULL)
      return FALSE;
    guint nm = json_array_get_length(machines);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint j = 0; j < nm; j++) {
      g_autofree char *m_member = g_strdup_printf("%s[%u]", mach_member, j);
      const char *s = node_string(ctx, json_array_get_element(machines, j), m_member, error);
      if (s == NULL)
        return FALSE;
      g_strv_builder_add(b, s);
    }
    if (nm == 0)
      g_ptr_array_add(warnings, g_strdup_printf("%s: empty; this target matches no machine",
                                                mach_member));
    static const char *const known[] = { "architecture", "machines", NULL };
    g_autofree char *prefix = g_strdup_printf("%s.", member);
    warn_unknown_members(warnings, t, prefix, known);
    VsbFwTarget *target = g_new0(VsbFwTarget, 1);
    target->architecture = (VsbFwArch)a;
    target->machines = g_strv_builder_end(b);
    g_ptr_array_add(d->targets, target);
  }
  return TRUE;
}

static gboolean
parse_features(const Ctx *ctx, JsonObject *root, VsbFwDescriptor *d, GPtrArray *warnings,
               GError **error)
{
  JsonArray *arr = get_array(ctx, root, "features", "features", FALSE, error);
  if (arr == NULL)
    return FALSE;
  g_autoptr(GStrvBuilder) unknown = g_strv_builder_new();
  g_autoptr(GPtrArray) seen = g_ptr_array_new();
  guint n = json_array_get_length(arr);
  for (guint i = 0; i < n; i++) {
    g_autofree char *member = g_strdup_printf("features[%u]", i);
    const char *s = node_string(ctx, json_array_get_element(arr, i), member, error);
    if (s == NULL)
      return FALSE;
    int f = vsb_fw_feature_from_name(s);
    if (f >= 0) {
      d->features |= VSB_FW_FEATURE_BIT(f);
      continue;
    }
    gboolean dup = FALSE;
    for (guint k = 0; k < seen->len; k++)
      if (strcmp(seen->pdata[k], s) == 0)
        dup = TRUE;
    if (dup)
      continue;
    g_ptr_array_add(seen, (gpointer)s);
    g_strv_builder_add(unknown, s);
    g_ptr_array_add(warnings, g_strdup_printf("%s: unknown feature '%s' kept", member, s));
  }
  d->unknown_features = g_strv_builder_end(unknown);
  return TRUE;
}

static gboolean
parse_interfaces(const Ctx *ctx, JsonObject *root, VsbFwDescriptor *d, GError **error)
{
  JsonArray *arr = get_array(ctx, root, "interface-types", "interface-types", FALSE, error);
  if (arr == NULL)
    return FALSE;
  guint n = json_array_get_length(arr);
  if (n == 0)
    return fail(ctx, error, "interface-types", "empty array");
  for (guint i = 0; i < n; i++) {
    g_autofree char *member = g_strdup_printf("interface-types[%u]", i);
    const char *s = node_string(ctx, json_array_get_element(arr, i), member, error);
    if (s == NULL)
      return FALSE;
    int v = vsb_fw_interface_from_name(s);
    if (v < 0)
      return fail(ctx, error, member,
                  "unknown interface '%s' (expected bios, openfirmware, uboot or uefi)", s);
    if (!vsb_fw_descriptor_has_interface(d, (VsbFwInterface)v))
      d->interfaces[d->n_interfaces++] = (VsbFwInterface)v;
  }
  return TRUE;
}

/* A descriptor nests five levels deep. */
#define MAX_JSON_DEPTH 64

VsbFwDescriptor *
vsb_fw_descriptor_parse(const char *data, gsize len, const char *path, GError **error)
{
  Ctx ctx = { path ? path : "(descriptor)" };
  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: empty file (an empty file masks a descriptor; it is not one)", ctx.file);
    return NULL;
  }
  if (len > VSB_FW_DESCRIPTOR_MAX_SIZE) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: %" G_GSIZE_FORMAT " bytes, larger than the %d-byte limit for a descriptor",
                ctx.file, len, VSB_FW_DESCRIPTOR_MAX_SIZE);
    return NULL;
  }
  g_autoptr(JsonNode) root_node = vsb_json_parse(data, len, MAX_JSON_DEPTH, ctx.file, error);
  if (root_node == NULL)
    return NULL;
  if (root_node == NULL || !JSON_NODE_HOLDS_OBJECT(root_node)) {
    fail(&ctx, error, NULL, "expected a JSON object at the top level, got %s",
         node_type_name(root_node));
    return NULL;
  }
  JsonObject *root = json_node_get_object(root_node);

  g_autoptr(VsbFwDescriptor) d = g_atomic_rc_box_new0(VsbFwDescriptor);
  d->targets = g_ptr_array_new_with_free_func(target_free);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  if (path) {
    d->path = g_strdup(path);
    d->name = g_path_get_basename(path);
  }

  if (json_object_has_member(root, "description")) {
    const char *desc = get_string(&ctx, root, "description", "description", FALSE, error);
    if (desc == NULL)
      return NULL;
    d->description = g_strdup(desc);
  }
  if (!parse_interfaces(&ctx, root, d, error) || !parse_mapping(&ctx, root, d, warnings, error) ||
      !parse_targets(&ctx, root, d, warnings, error) ||
      !parse_features(&ctx, root, d, warnings, error))
    return NULL;
  /* "tags" is debug information for humans; the spec says management software must ignore
   * it, and libvirt does not even look at its type. */
  static const char *const known[] = { "description", "interface-types", "mapping", "targets",
                                       "features",    "tags",            NULL };
  warn_unknown_members(warnings, root, "", known);

  if (vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_VERBOSE_DYNAMIC) &&
      vsb_fw_descriptor_has_feature(d, VSB_FW_FEATURE_VERBOSE_STATIC))
    g_ptr_array_add(warnings,
                    g_strdup("features: verbose-dynamic and verbose-static are exclusive"));

  g_ptr_array_add(warnings, NULL);
  d->warnings = (char **)g_ptr_array_steal(warnings, NULL);
  return g_steal_pointer(&d);
}

VsbFwDescriptor *
vsb_fw_descriptor_load(const char *path, GError **error)
{
  if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: is a directory, not a descriptor",
                path);
    return NULL;
  }
  /* A FIFO, device or socket is a file that cannot be read as a descriptor (an I/O error, as
   * for a missing file), never a size problem; the reader would not block on it either. */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: not a regular file (%s)", path,
                vsb_file_kind(st.st_mode));
    return NULL;
  }
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) bytes = vsb_file_read(path, VSB_FW_DESCRIPTOR_MAX_SIZE, &local);
  if (bytes == NULL) {
    if (g_error_matches(local, VSB_ERROR, VSB_ERROR_INVALID))
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s: larger than the %d-byte limit for a descriptor", path,
                  VSB_FW_DESCRIPTOR_MAX_SIZE);
    else
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(bytes, &len);
  return vsb_fw_descriptor_parse(data ? data : "", len, path, error);
}

/* ---- queries ----------------------------------------------------------------------------- */

gboolean
vsb_fw_descriptor_has_interface(const VsbFwDescriptor *desc, VsbFwInterface iface)
{
  for (guint i = 0; i < desc->n_interfaces; i++)
    if (desc->interfaces[i] == iface)
      return TRUE;
  return FALSE;
}

const char *
vsb_fw_descriptor_code_path(const VsbFwDescriptor *desc)
{
  return desc->device == VSB_FW_DEVICE_FLASH ? desc->executable.filename : desc->filename;
}

gboolean
vsb_fw_descriptor_supports(const VsbFwDescriptor *desc, VsbFwArch arch, const char *machine)
{
  for (guint i = 0; i < desc->targets->len; i++) {
    const VsbFwTarget *t = desc->targets->pdata[i];
    if (t->architecture != arch)
      continue;
    if (machine == NULL)
      return TRUE;
    for (char **m = t->machines; *m; m++)
      if (g_pattern_match_simple(*m, machine))
        return TRUE;
  }
  return FALSE;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void
add_file(JsonBuilder *b, const char *key, const VsbFwFile *f)
{
  json_builder_set_member_name(b, key);
  json_builder_begin_object(b);
  vsb_json_put_str(b, "filename", f->filename);
  vsb_json_put_str(b, "format", vsb_fw_format_name(f->format));
  json_builder_end_object(b);
}

void
vsb_fw_features_put_json(JsonBuilder *b, const char *member, guint32 features,
                         const char *const *unknown)
{
  json_builder_set_member_name(b, member);
  json_builder_begin_array(b);
  for (int f = 0; f < VSB_FW_FEATURE_COUNT; f++)
    if (features & VSB_FW_FEATURE_BIT(f))
      json_builder_add_string_value(b, vsb_fw_feature_name((VsbFwFeature)f));
  for (const char *const *u = unknown; u && *u; u++)
    json_builder_add_string_value(b, *u);
  json_builder_end_array(b);
}

JsonNode *
vsb_fw_descriptor_to_json(const VsbFwDescriptor *d)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable();
  json_builder_begin_object(b);
  if (d->path) {
    vsb_json_put_str(b, "path", d->path);
  }
  if (d->description) {
    vsb_json_put_str(b, "description", d->description);
  }
  json_builder_set_member_name(b, "interface-types");
  json_builder_begin_array(b);
  for (guint i = 0; i < d->n_interfaces; i++)
    json_builder_add_string_value(b, vsb_fw_interface_name(d->interfaces[i]));
  json_builder_end_array(b);

  json_builder_set_member_name(b, "mapping");
  json_builder_begin_object(b);
  vsb_json_put_str(b, "device", vsb_fw_device_name(d->device));
  if (d->device == VSB_FW_DEVICE_FLASH) {
    vsb_json_put_str(b, "mode", vsb_fw_flash_mode_name(d->mode));
    add_file(b, "executable", &d->executable);
    if (d->mode == VSB_FW_FLASH_MODE_SPLIT && d->nvram_template.filename)
      add_file(b, "nvram-template", &d->nvram_template);
  } else {
    vsb_json_put_str(b, "filename", d->filename);
  }
  json_builder_end_object(b);

  json_builder_set_member_name(b, "targets");
  json_builder_begin_array(b);
  for (guint i = 0; i < d->targets->len; i++) {
    const VsbFwTarget *t = d->targets->pdata[i];
    json_builder_begin_object(b);
    vsb_json_put_str(b, "architecture", vsb_fw_arch_name(t->architecture));
    vsb_json_put_strv(b, "machines", (const char *const *)t->machines);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);

  vsb_fw_features_put_json(b, "features", d->features, (const char *const *)d->unknown_features);

  json_builder_end_object(b);
  return json_builder_get_root(b);
}
