/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot firmware inspect FILE [--json] [--files]: what a firmware code image really contains.
 * All the reading is in the library (vsboot/fv.h); this prints its report. */
#include "cli.h"

#include "vsboot/fv.h"

#include <stdio.h>
#include <string.h>

static const char *
fs_name(const VsbGuid *g)
{
  if (vsb_guid_equal(g, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2))
    return "ffs2";
  if (vsb_guid_equal(g, &VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3))
    return "ffs3";
  if (vsb_guid_equal(g, &VSB_GUID_SYSTEM_NV_DATA_FV))
    return "nvdata";
  return "other";
}

static char *
file_label(const VsbFvFile *f)
{
  if (f->ui_name)
    return g_strdup(f->ui_name);
  if (f->module)
    return g_strdup(f->module->name);
  return vsb_guid_to_string(&f->name);
}

/* Known modules by group, in file order, each name once. */
static GPtrArray *
modules_in_group(const VsbFvImage *image, VsbFvGroup group)
{
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *files = vsb_fv_image_get_files(image);
  for (guint i = 0; i < files->len; i++) {
    const VsbFvFile *f = g_ptr_array_index(files, i);
    if (f->module == NULL || f->module->group != group)
      continue;
    char *label = file_label(f);
    gboolean dup = FALSE;
    for (guint k = 0; k < names->len && !dup; k++)
      dup = strcmp(g_ptr_array_index(names, k), label) == 0;
    if (dup)
      g_free(label);
    else
      g_ptr_array_add(names, label);
  }
  return names;
}

static const VsbFvGroup report_groups[] = {
  VSB_FV_GROUP_SMM, VSB_FV_GROUP_VARIABLE, VSB_FV_GROUP_SECURE_BOOT, VSB_FV_GROUP_TPM,
  VSB_FV_GROUP_CONFIDENTIAL, VSB_FV_GROUP_SHELL, VSB_FV_GROUP_NETWORK,
};

#define STR vsb_cli_jset_str
#define INT vsb_cli_jset_int
#define BOOL vsb_cli_jset_bool

static void
features_json(JsonBuilder *b, const VsbFvImage *image)
{
  json_builder_set_member_name(b, "features");
  json_builder_begin_object(b);
  GPtrArray *features = vsb_fv_image_get_features(image);
  for (guint i = 0; i < features->len; i++) {
    const VsbFvFeature *f = g_ptr_array_index(features, i);
    json_builder_set_member_name(b, f->name);
    json_builder_begin_object(b);
    BOOL(b, "present", f->present);
    BOOL(b, "descriptor-feature", f->descriptor_feature);
    STR(b, "evidence", f->evidence);
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
}

static void
varstore_json(JsonBuilder *b, const VsbFvImage *image)
{
  VsbFvVarstoreSource source;
  const char *reason;
  gsize vs = vsb_fv_image_get_varstore_size(image, &source, &reason);
  json_builder_set_member_name(b, "varstore");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "size");
  if (vs)
    json_builder_add_int_value(b, (gint64)vs);
  else
    json_builder_add_null_value(b);
  STR(b, "source", vsb_fv_varstore_source_name(source));
  STR(b, "reason", reason);
  json_builder_end_object(b);
}

static void
modules_json(JsonBuilder *b, const VsbFvImage *image)
{
  json_builder_set_member_name(b, "modules");
  json_builder_begin_object(b);
  for (gsize i = 0; i < G_N_ELEMENTS(report_groups); i++) {
    g_autoptr(GPtrArray) names = modules_in_group(image, report_groups[i]);
    vsb_cli_jset_strings(b, vsb_fv_group_name(report_groups[i]), names);
  }
  json_builder_end_object(b);
}

static void
volume_json(JsonBuilder *b, const VsbFvVolume *v, GPtrArray *files)
{
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  INT(b, "index", v->index);
  INT(b, "offset", (gint64)v->offset);
  INT(b, "length", (gint64)v->length);
  STR(b, "file-system", fs_name(&v->fs_guid));
  STR(b, "file-system-guid", vsb_guid_format(&v->fs_guid, g));
  STR(b, "name", v->has_name ? vsb_guid_format(&v->name, g) : NULL);
  STR(b, "fdf-name", v->known_name);
  INT(b, "depth", v->depth);
  const VsbFvFile *pf = v->parent_file >= 0 ? g_ptr_array_index(files, v->parent_file) : NULL;
  STR(b, "parent-file", pf ? vsb_guid_format(&pf->name, g) : NULL);
  BOOL(b, "compressed", v->compressed);
  INT(b, "files", v->nfiles);
  json_builder_end_object(b);
}

static void
ovmf_table_json(JsonBuilder *b, const VsbFvImage *image)
{
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_set_member_name(b, "ovmf-table");
  json_builder_begin_array(b);
  GPtrArray *table = vsb_fv_image_get_ovmf_table(image);
  for (guint i = 0; i < table->len; i++) {
    const VsbFvOvmfTableEntry *e = g_ptr_array_index(table, i);
    json_builder_begin_object(b);
    STR(b, "guid", vsb_guid_format(&e->guid, g));
    STR(b, "name", e->name);
    INT(b, "offset", (gint64)e->offset);
    INT(b, "length", (gint64)e->length);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static void
file_json(JsonBuilder *b, const VsbFvFile *f)
{
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  STR(b, "guid", vsb_guid_format(&f->name, g));
  STR(b, "name", f->ui_name);
  STR(b, "type", vsb_fv_file_type_name(f->type));
  INT(b, "volume", f->volume);
  INT(b, "offset", (gint64)f->offset);
  INT(b, "size", (gint64)f->size);
  STR(b, "version", f->version);
  INT(b, "machine", f->machine);
  json_builder_set_member_name(b, "module");
  if (f->module) {
    json_builder_begin_object(b);
    STR(b, "name", f->module->name);
    STR(b, "group", vsb_fv_group_name(f->module->group));
    STR(b, "inf", f->module->source);
    json_builder_end_object(b);
  } else {
    json_builder_add_null_value(b);
  }
  json_builder_end_object(b);
}

static JsonNode *
build_json(const char *path, const VsbFvImage *image, gboolean with_files)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  STR(b, "file", path);
  INT(b, "size", (gint64)vsb_fv_image_get_size(image));
  STR(b, "architecture", vsb_fv_arch_name(vsb_fv_image_get_arch(image)));
  STR(b, "pei-architecture", vsb_fv_arch_name(vsb_fv_image_get_pei_arch(image)));
  INT(b, "decompressed", (gint64)vsb_fv_image_get_decompressed(image));
  features_json(b, image);
  varstore_json(b, image);
  modules_json(b, image);

  json_builder_set_member_name(b, "volumes");
  json_builder_begin_array(b);
  GPtrArray *volumes = vsb_fv_image_get_volumes(image);
  GPtrArray *files = vsb_fv_image_get_files(image);
  for (guint i = 0; i < volumes->len; i++)
    volume_json(b, g_ptr_array_index(volumes, i), files);
  json_builder_end_array(b);
  ovmf_table_json(b, image);

  INT(b, "file-count", files->len);
  if (with_files) {
    json_builder_set_member_name(b, "files");
    json_builder_begin_array(b);
    for (guint i = 0; i < files->len; i++)
      file_json(b, g_ptr_array_index(files, i));
    json_builder_end_array(b);
  }

  vsb_cli_jset_strv(b, "warnings", vsb_fv_image_get_warnings(image));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
print_text(const char *path, const VsbFvImage *image, gboolean with_files)
{
  GPtrArray *volumes = vsb_fv_image_get_volumes(image);
  GPtrArray *files = vsb_fv_image_get_files(image);
  char g[VSB_GUID_STRING_LEN + 1];
  int arch = vsb_fv_image_get_arch(image), pei = vsb_fv_image_get_pei_arch(image);
  g_autofree char *pei_note = pei >= 0 && pei != arch
                                ? g_strdup_printf(" (PEI phase %s)", vsb_fv_arch_name(pei))
                                : g_strdup("");
  printf("%s: %s firmware%s, %zu bytes, %u volumes, %u files, %zu bytes decompressed\n", path,
         vsb_fv_arch_name(arch), pei_note, vsb_fv_image_get_size(image), volumes->len,
         files->len, vsb_fv_image_get_decompressed(image));

  printf("\nFeatures:\n");
  GPtrArray *features = vsb_fv_image_get_features(image);
  for (guint i = 0; i < features->len; i++) {
    const VsbFvFeature *f = g_ptr_array_index(features, i);
    printf("  %-25s %-3s  %s\n", f->name, f->present ? "yes" : "no", f->evidence);
  }

  VsbFvVarstoreSource source;
  const char *reason;
  gsize vs = vsb_fv_image_get_varstore_size(image, &source, &reason);
  if (vs)
    printf("\nVarstore: %zu bytes (0x%zx, %zu KiB), %s: %s\n", vs, vs, vs / 1024,
           vsb_fv_varstore_source_name(source), reason);
  else
    printf("\nVarstore: %s\n", reason);

  printf("\nModules:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(report_groups); i++) {
    g_autoptr(GPtrArray) names = modules_in_group(image, report_groups[i]);
    g_ptr_array_add(names, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)names->pdata);
    printf("  %-24s %s\n", vsb_fv_group_name(report_groups[i]), *list ? list : "-");
  }

  printf("\nVolumes:\n");
  for (guint i = 0; i < volumes->len; i++) {
    const VsbFvVolume *v = g_ptr_array_index(volumes, i);
    printf("  #%u %*s%s at 0x%zx, 0x%" G_GINT64_MODIFIER "x bytes, %s", v->index, (int)v->depth,
           "", v->known_name ? v->known_name : "volume", v->offset, v->length,
           fs_name(&v->fs_guid));
    if (v->has_name)
      printf(" %s", vsb_guid_format(&v->name, g));
    if (v->parent_file >= 0) {
      const VsbFvFile *pf = g_ptr_array_index(files, v->parent_file);
      printf(", in file %s", vsb_guid_format(&pf->name, g));
    }
    if (v->compressed)
      printf(", LZMA-compressed");
    printf(", %u files\n", v->nfiles);
  }

  GPtrArray *table = vsb_fv_image_get_ovmf_table(image);
  if (table->len) {
    printf("\nOVMF reset-vector table:\n");
    for (guint i = 0; i < table->len; i++) {
      const VsbFvOvmfTableEntry *e = g_ptr_array_index(table, i);
      printf("  %s %s (%zu bytes at 0x%zx)\n", vsb_guid_format(&e->guid, g),
             e->name ? e->name : "unknown", e->length, e->offset);
    }
  }

  if (with_files) {
    printf("\nFiles:\n");
    for (guint i = 0; i < files->len; i++) {
      const VsbFvFile *f = g_ptr_array_index(files, i);
      g_autofree char *group =
        f->module ? g_strdup_printf(" [%s]", vsb_fv_group_name(f->module->group)) : NULL;
      printf("  vol %-2u 0x%08zx %-36s %-22s %8" G_GINT64_MODIFIER "u  %s%s\n", f->volume,
             f->offset, vsb_guid_format(&f->name, g), vsb_fv_file_type_name(f->type), f->size,
             f->ui_name ? f->ui_name : (f->module ? f->module->name : "-"), group ? group : "");
    }
  }

  const char *const *w = vsb_fv_image_get_warnings(image);
  if (*w) {
    printf("\nWarnings:\n");
    for (; *w; w++)
      printf("  %s\n", *w);
  }
}

int
vsb_cli_firmware_inspect(int argc, char **argv)
{
  gboolean json = FALSE, with_files = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "files", 0, 0, G_OPTION_ARG_NONE, &with_files, "List every FFS file", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("FILE - what a firmware code image really contains");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(
    ctx,
    "Reads the firmware volumes of an OVMF/AAVMF code image (FFS files, sections, LZMA-\n"
    "compressed and nested volumes) and reports the features the build really has: SMM,\n"
    "Secure Boot (image verification, authenticated variables), TPM, AMD SEV / Intel TDX,\n"
    "the UEFI shell, the network stack, and the varstore size it expects, each with the\n"
    "modules that prove it.\n"
    "\n"
    "Exit status: 0 inspected, 2 bad usage or not a readable firmware image.");
  int code = VSB_EXIT_OK;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("firmware inspect: expected one FILE (try 'vsboot help firmware "
                         "inspect')");
  const char *path = argv[1];
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFvImage) image = vsb_fv_inspect_file(path, NULL, &error);
  if (image == NULL)
    return vsb_cli_fail(g_steal_pointer(&error));
  if (json) {
    g_autoptr(JsonNode) node = build_json(path, image, with_files);
    vsb_cli_print_json(node);
  } else {
    print_text(path, image, with_files);
  }
  return VSB_EXIT_OK;
}
