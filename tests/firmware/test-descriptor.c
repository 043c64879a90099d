/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Descriptor parsing: the whole schema, JSON round trips, and precise errors for bad files. */
#include "testutil.h"

#include "vsboot/descriptor.h"
#include "vsboot/error.h"

#include <string.h>

static char *
fixture(const char *rel)
{
  return g_build_filename(vsb_test_data_dir(), "firmware", rel, NULL);
}

static VsbFwDescriptor *
load_ok(const char *rel)
{
  g_autofree char *path = fixture(rel);
  g_autoptr(GError) error = NULL;
  VsbFwDescriptor *d = vsb_fw_descriptor_load(path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(d);
  return d;
}

static char *
load_error(const char *rel, int expected_code)
{
  g_autofree char *path = fixture(rel);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_load(path, &error);
  g_assert_null(d);
  g_assert_error(error, VSB_ERROR, expected_code);
  /* Every message names the file. */
  g_assert_true(g_str_has_prefix(error->message, path));
  return g_strdup(error->message + strlen(path));
}

static void
test_enums(void)
{
  for (int i = 0; i < VSB_FW_FEATURE_COUNT; i++)
    g_assert_cmpint(vsb_fw_feature_from_name(vsb_fw_feature_name((VsbFwFeature)i)), ==, i);
  g_assert_cmpint(vsb_fw_feature_from_name("host-uefi-vars"), ==, VSB_FW_FEATURE_HOST_UEFI_VARS);
  g_assert_cmpint(vsb_fw_feature_from_name("amd-sev-snp"), ==, VSB_FW_FEATURE_AMD_SEV_SNP);
  g_assert_cmpint(vsb_fw_feature_from_name("acpi"), ==, -1);
  g_assert_cmpint(vsb_fw_arch_from_name("loongarch64"), ==, VSB_FW_ARCH_LOONGARCH64);
  g_assert_cmpint(vsb_fw_arch_from_name("ppc64"), ==, -1);
  g_assert_cmpint(vsb_fw_interface_from_name("openfirmware"), ==, VSB_FW_INTERFACE_OPENFIRMWARE);
  g_assert_cmpint(vsb_fw_device_from_name("igvm"), ==, VSB_FW_DEVICE_IGVM);
  g_assert_cmpint(vsb_fw_flash_mode_from_name("stateless"), ==, VSB_FW_FLASH_MODE_STATELESS);
  g_assert_cmpint(vsb_fw_format_from_name("qcow2"), ==, VSB_FW_FORMAT_QCOW2);
  g_assert_cmpint(vsb_fw_format_from_name(NULL), ==, -1);
  g_assert_cmpstr(vsb_fw_device_name((VsbFwDevice)99), ==, "(invalid)");
}

static void
test_fedora_split_qcow2(void)
{
  g_autoptr(VsbFwDescriptor) d =
    load_ok("fedora/usr/share/qemu/firmware/30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json");
  g_assert_cmpstr(d->name, ==, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json");
  g_assert_cmpuint(d->n_interfaces, ==, 1);
  g_assert_cmpint(d->interfaces[0], ==, VSB_FW_INTERFACE_UEFI);
  g_assert_cmpint(d->device, ==, VSB_FW_DEVICE_FLASH);
  g_assert_cmpint(d->mode, ==, VSB_FW_FLASH_MODE_SPLIT);
  g_assert_true(d->mode_explicit);
  g_assert_cmpstr(d->executable.filename, ==, "/usr/share/edk2/ovmf/OVMF_CODE_4M.secboot.qcow2");
  g_assert_cmpint(d->executable.format, ==, VSB_FW_FORMAT_QCOW2);
  g_assert_cmpstr(d->nvram_template.filename, ==,
                  "/usr/share/edk2/ovmf/OVMF_VARS_4M.secboot.qcow2");
  g_assert_cmpint(d->nvram_template.format, ==, VSB_FW_FORMAT_QCOW2);
  g_assert_cmpuint(d->targets->len, ==, 1);
  const VsbFwTarget *t = d->targets->pdata[0];
  g_assert_cmpint(t->architecture, ==, VSB_FW_ARCH_X86_64);
  g_assert_cmpuint(g_strv_length(t->machines), ==, 1);
  g_assert_cmpstr(t->machines[0], ==, "pc-q35-*");
  g_assert_cmphex(d->features, ==,
                  VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_ACPI_S3) |
                    VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_ENROLLED_KEYS) |
                    VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_REQUIRES_SMM) |
                    VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_SECURE_BOOT) |
                    VSB_FW_FEATURE_BIT(VSB_FW_FEATURE_VERBOSE_DYNAMIC));
  g_assert_cmpuint(g_strv_length(d->unknown_features), ==, 0);
  /* tags are ignored and produce no warning */
  g_assert_cmpuint(g_strv_length(d->warnings), ==, 0);
  g_assert_true(vsb_fw_descriptor_supports(d, VSB_FW_ARCH_X86_64, "pc-q35-7.2"));
  g_assert_false(vsb_fw_descriptor_supports(d, VSB_FW_ARCH_X86_64, "pc-i440fx-7.2"));
  g_assert_false(vsb_fw_descriptor_supports(d, VSB_FW_ARCH_I386, "pc-q35-7.2"));
  g_assert_true(vsb_fw_descriptor_supports(d, VSB_FW_ARCH_X86_64, NULL));
}

static void
test_debian_no_mode(void)
{
  g_autoptr(VsbFwDescriptor) d =
    load_ok("debian/usr/share/qemu/firmware/60-edk2-x86_64.json");
  g_assert_cmpint(d->mode, ==, VSB_FW_FLASH_MODE_SPLIT);
  g_assert_false(d->mode_explicit);
  g_assert_cmpstr(vsb_fw_descriptor_code_path(d), ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  const VsbFwTarget *t = d->targets->pdata[0];
  g_assert_cmpuint(g_strv_length(t->machines), ==, 2);
  g_assert_cmpstr(t->machines[0], ==, "pc-i440fx-*");
  g_assert_true(vsb_fw_descriptor_supports(d, VSB_FW_ARCH_X86_64, "pc-i440fx-2.12"));
}

static void
test_stateless_memory_combined(void)
{
  g_autoptr(VsbFwDescriptor) sev = load_ok("fedora/usr/share/qemu/firmware/60-edk2-ovmf-x64-amdsev.json");
  g_assert_cmpint(sev->mode, ==, VSB_FW_FLASH_MODE_STATELESS);
  g_assert_null(sev->nvram_template.filename);
  g_assert_true(vsb_fw_descriptor_has_feature(sev, VSB_FW_FEATURE_AMD_SEV_SNP));
  g_assert_false(vsb_fw_descriptor_has_feature(sev, VSB_FW_FEATURE_SECURE_BOOT));

  g_autoptr(VsbFwDescriptor) tdx = load_ok("fedora/usr/share/qemu/firmware/60-edk2-ovmf-x64-inteltdx.json");
  g_assert_true(vsb_fw_descriptor_has_feature(tdx, VSB_FW_FEATURE_INTEL_TDX));

  g_autoptr(VsbFwDescriptor) mv = load_ok("fedora/usr/share/qemu/firmware/50-edk2-ovmf-x64-microvm.json");
  g_assert_cmpint(mv->device, ==, VSB_FW_DEVICE_MEMORY);
  g_assert_cmpstr(mv->filename, ==, "/usr/share/edk2/ovmf/MICROVM.fd");
  g_assert_cmpstr(vsb_fw_descriptor_code_path(mv), ==, "/usr/share/edk2/ovmf/MICROVM.fd");
  g_assert_cmphex(mv->features, ==, 0);

  g_autoptr(VsbFwDescriptor) comb = load_ok("fedora/usr/share/qemu/firmware/90-combined.json");
  g_assert_cmpint(comb->mode, ==, VSB_FW_FLASH_MODE_COMBINED);
  g_assert_cmpstr(comb->executable.filename, ==, "/usr/share/edk2/ovmf/OVMF.secboot.fd");

  g_autoptr(VsbFwDescriptor) bios = load_ok("fedora/usr/share/qemu/firmware/91-bios.json");
  g_assert_cmpint(bios->interfaces[0], ==, VSB_FW_INTERFACE_BIOS);
  g_assert_cmpuint(bios->targets->len, ==, 2);
  g_assert_true(vsb_fw_descriptor_supports(bios, VSB_FW_ARCH_I386, "pc-i440fx-7.2"));

  g_autoptr(VsbFwDescriptor) arm = load_ok("fedora/usr/share/qemu/firmware/53-edk2-aarch64-verbose-raw.json");
  g_assert_true(vsb_fw_descriptor_supports(arm, VSB_FW_ARCH_AARCH64, "virt-7.2"));
  g_assert_true(vsb_fw_descriptor_has_feature(arm, VSB_FW_FEATURE_VERBOSE_STATIC));
}

static void
test_other_devices(void)
{
  g_autoptr(VsbFwDescriptor) k = load_ok("schema/kernel.json");
  g_assert_cmpint(k->device, ==, VSB_FW_DEVICE_KERNEL);
  g_assert_cmpstr(k->filename, ==, "/usr/share/qemu/vmlinuz");
  g_autoptr(VsbFwDescriptor) i = load_ok("schema/igvm.json");
  g_assert_cmpint(i->device, ==, VSB_FW_DEVICE_IGVM);
  g_assert_true(vsb_fw_descriptor_has_feature(i, VSB_FW_FEATURE_HOST_UEFI_VARS));
  g_autoptr(VsbFwDescriptor) o = load_ok("schema/openfirmware.json");
  g_assert_cmpuint(o->n_interfaces, ==, 2);
  g_assert_cmpint(o->interfaces[0], ==, VSB_FW_INTERFACE_OPENFIRMWARE);
  g_assert_cmpint(o->interfaces[1], ==, VSB_FW_INTERFACE_UBOOT);
}

static void
test_unknown_feature_kept(void)
{
  /* libvirt's loongarch64 file: no description, the old feature name "acpi". */
  g_autoptr(VsbFwDescriptor) d = load_ok("fedora/usr/share/qemu/firmware/50-edk2-loongarch64.json");
  g_assert_null(d->description);
  g_assert_false(d->mode_explicit);
  g_assert_cmphex(d->features, ==, 0);
  g_assert_cmpuint(g_strv_length(d->unknown_features), ==, 1);
  g_assert_cmpstr(d->unknown_features[0], ==, "acpi");
  g_assert_cmpuint(g_strv_length(d->warnings), ==, 1);
  g_assert_nonnull(strstr(d->warnings[0], "features[0]: unknown feature 'acpi'"));
  g_autoptr(JsonNode) node = vsb_fw_descriptor_to_json(d);
  JsonArray *f = json_object_get_array_member(json_node_get_object(node), "features");
  g_assert_cmpuint(json_array_get_length(f), ==, 1);
  g_assert_cmpstr(json_array_get_string_element(f, 0), ==, "acpi");
}

/* Serialise, parse the serialised form again: every field survives; the form is canonical. */
static void
test_round_trip(void)
{
  const char *files[] = {
    "fedora/usr/share/qemu/firmware/30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
    "fedora/usr/share/qemu/firmware/50-edk2-loongarch64.json",
    "fedora/usr/share/qemu/firmware/50-edk2-ovmf-x64-microvm.json",
    "fedora/usr/share/qemu/firmware/60-edk2-ovmf-x64-amdsev.json",
    "fedora/usr/share/qemu/firmware/90-combined.json",
    "fedora/usr/share/qemu/firmware/91-bios.json",
    "debian/usr/share/qemu/firmware/40-edk2-aarch64-secure-enrolled.json",
    "schema/kernel.json",
    "schema/igvm.json",
    "schema/openfirmware.json",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(VsbFwDescriptor) d = load_ok(files[i]);
    g_autoptr(JsonNode) n1 = vsb_fw_descriptor_to_json(d);
    g_autofree char *t1 = json_to_string(n1, FALSE);
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbFwDescriptor) again = vsb_fw_descriptor_parse(t1, strlen(t1), d->path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(again->device, ==, d->device);
    g_assert_cmphex(again->features, ==, d->features);
    g_assert_cmpuint(again->targets->len, ==, d->targets->len);
    g_autoptr(JsonNode) n2 = vsb_fw_descriptor_to_json(again);
    g_autofree char *t2 = json_to_string(n2, FALSE);
    g_assert_cmpstr(t1, ==, t2);
  }
  /* The shape: mode always present for flash; filename for the others. */
  g_autoptr(VsbFwDescriptor) d = load_ok("debian/usr/share/qemu/firmware/60-edk2-x86_64.json");
  g_autoptr(JsonNode) n = vsb_fw_descriptor_to_json(d);
  JsonObject *o = json_node_get_object(n);
  g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "path"), "/60-edk2-x86_64.json"));
  JsonObject *m = json_object_get_object_member(o, "mapping");
  g_assert_cmpstr(json_object_get_string_member(m, "device"), ==, "flash");
  g_assert_cmpstr(json_object_get_string_member(m, "mode"), ==, "split");
  JsonObject *exe = json_object_get_object_member(m, "executable");
  g_assert_cmpstr(json_object_get_string_member(exe, "filename"), ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  g_assert_cmpstr(json_object_get_string_member(exe, "format"), ==, "raw");
  JsonObject *tmpl = json_object_get_object_member(m, "nvram-template");
  g_assert_cmpstr(json_object_get_string_member(tmpl, "filename"), ==, "/usr/share/OVMF/OVMF_VARS_4M.fd");
  g_assert_false(json_object_has_member(o, "tags"));
}

static void
test_bad_files(void)
{
  struct {
    const char *file;
    int code;
    const char *message; /* after "PATH" */
  } cases[] = {
    { "bad/10-not-json.json", VSB_ERROR_PARSE, ": not JSON: " },
    { "bad/11-wrong-type.json", VSB_ERROR_INVALID, ": interface-types: expected an array, got a string" },
    { "bad/12-missing-mapping.json", VSB_ERROR_INVALID, ": mapping: missing member" },
    { "bad/13-unknown-device.json", VSB_ERROR_INVALID, ": mapping.device: unknown device 'cdrom'" },
    { "bad/14-unknown-arch.json", VSB_ERROR_INVALID, ": targets[0].architecture: unknown architecture 'sparc64'" },
    { "bad/15-missing-template.json", VSB_ERROR_INVALID, ": mapping.nvram-template: missing member" },
    { "bad/16-bad-format.json", VSB_ERROR_INVALID, ": mapping.executable.format: unknown format 'vmdk'" },
    { "bad/17-machine-not-string.json", VSB_ERROR_INVALID, ": targets[0].machines[1]: expected a string, got a number" },
    { "bad/18-unknown-interface.json", VSB_ERROR_INVALID, ": interface-types[0]: unknown interface 'efi'" },
    { "bad/19-top-level-array.json", VSB_ERROR_INVALID, ": expected a JSON object at the top level, got an array" },
    { "bad/20-empty.json", VSB_ERROR_PARSE, ": empty file" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *msg = load_error(cases[i].file, cases[i].code);
    if (!g_str_has_prefix(msg, cases[i].message))
      vsb_test_fail("%s: got '%s', expected prefix '%s'", cases[i].file, msg, cases[i].message);
  }
}

static void
test_parse_errors_in_memory(void)
{
  struct {
    const char *json;
    const char *message;
  } cases[] = {
    { "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\",\"mode\":\"split\","
      "\"executable\":{\"filename\":\"/a\"},\"nvram-template\":{\"filename\":\"/b\",\"format\":\"raw\"}},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}],\"features\":[]}",
      "d.json: mapping.executable.format: missing member" },
    { "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\",\"mode\":\"rw\","
      "\"executable\":{\"filename\":\"/a\",\"format\":\"raw\"}},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}],\"features\":[]}",
      "d.json: mapping.mode: unknown flash mode 'rw'" },
    { "{\"interface-types\":[],\"mapping\":{\"device\":\"memory\",\"filename\":\"/a\"},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}],\"features\":[]}",
      "d.json: interface-types: empty array" },
    { "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\",\"filename\":\"\"},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}],\"features\":[]}",
      "d.json: mapping.filename: empty string" },
    { "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\",\"filename\":\"/a\"},"
      "\"targets\":[],\"features\":[]}",
      "d.json: targets: empty array" },
    { "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\",\"filename\":\"/a\"},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}]}",
      "d.json: features: missing member" },
    { "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\",\"filename\":\"/a\"},"
      "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"]}],\"features\":[true]}",
      "d.json: features[0]: expected a string, got a boolean" },
    { "{\"description\":7,\"interface-types\":[\"bios\"]}",
      "d.json: description: expected a string, got a number" },
    { "{\"interface-types\":[\"bios\"],\"mapping\":[]}", "d.json: mapping: expected an object, got an array" },
    { "\"just a string\"", "d.json: expected a JSON object at the top level, got a string" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbFwDescriptor) d =
      vsb_fw_descriptor_parse(cases[i].json, strlen(cases[i].json), "d.json", &error);
    g_assert_null(d);
    g_assert_nonnull(error);
    if (!g_str_has_prefix(error->message, cases[i].message))
      vsb_test_fail("case %zu: got '%s', expected '%s'", i, error->message, cases[i].message);
  }
  /* Binary junk with NUL bytes is reported, not crashed on. */
  static const char junk[] = { '{', 0, '\xff', '}' };
  g_autoptr(GError) error = NULL;
  g_assert_null(vsb_fw_descriptor_parse(junk, sizeof junk, "junk", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
}

static void
test_warnings(void)
{
  const char *json =
    "{\"interface-types\":[\"uefi\",\"uefi\"],\"mapping\":{\"device\":\"flash\",\"mode\":\"stateless\","
    "\"executable\":{\"filename\":\"/a\",\"format\":\"raw\"},"
    "\"nvram-template\":{\"filename\":\"/b\",\"format\":\"raw\"}},"
    "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"*\"],\"extra\":1}],"
    "\"features\":[\"verbose-dynamic\",\"verbose-static\",\"x-new\",\"x-new\"],\"tags\":{}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_parse(json, strlen(json), NULL, &error);
  g_assert_no_error(error);
  g_assert_null(d->path);
  g_assert_cmpuint(d->n_interfaces, ==, 1); /* duplicates dropped */
  g_assert_null(d->nvram_template.filename);
  g_assert_cmpuint(g_strv_length(d->unknown_features), ==, 1);
  g_autofree char *all = g_strjoinv("|", d->warnings);
  g_assert_nonnull(strstr(all, "mapping.nvram-template: ignored in stateless mode"));
  g_assert_nonnull(strstr(all, "targets[0].extra: unknown member ignored"));
  g_assert_nonnull(strstr(all, "unknown feature 'x-new'"));
  g_assert_nonnull(strstr(all, "verbose-dynamic and verbose-static are exclusive"));
  g_assert_cmpuint(g_strv_length(d->warnings), ==, 4);
}

/* 2 MiB of garbage is refused by size before any parsing; so is a valid file over 1 MiB. */
static void
test_size_limit(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *garbage = g_build_filename(dir, "garbage.json", NULL);
  gsize n = 2 * 1024 * 1024;
  g_autofree guint8 *buf = g_malloc(n);
  GRand *r = g_rand_new_with_seed(42);
  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8)g_rand_int(r);
  g_rand_free(r);
  vsb_test_write_file(garbage, buf, (gssize)n);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_load(garbage, &error);
  g_assert_null(d);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "garbage.json: larger than the 1048576-byte limit"));
  g_clear_error(&error);

  /* A valid descriptor padded with spaces: 1 MiB parses, 1 MiB + 1 does not. */
  const char *body = "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\","
                     "\"filename\":\"/a\"},\"targets\":[{\"architecture\":\"x86_64\","
                     "\"machines\":[\"*\"]}],\"features\":[]}";
  gsize big = VSB_FW_DESCRIPTOR_MAX_SIZE;
  g_autofree char *padded = g_malloc(big + 1);
  memset(padded, ' ', big + 1);
  memcpy(padded, body, strlen(body));
  g_autofree char *p1 = g_build_filename(dir, "exact.json", NULL);
  vsb_test_write_file(p1, padded, (gssize)big);
  g_autoptr(VsbFwDescriptor) ok = vsb_fw_descriptor_load(p1, &error);
  g_assert_no_error(error);
  g_assert_nonnull(ok);
  g_autofree char *p2 = g_build_filename(dir, "over.json", NULL);
  vsb_test_write_file(p2, padded, (gssize)big + 1);
  g_autoptr(VsbFwDescriptor) over = vsb_fw_descriptor_load(p2, &error);
  g_assert_null(over);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_null(vsb_fw_descriptor_parse(padded, big + 1, "mem", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
}

/* json-glib recurses per nesting level: a megabyte of '[' must be refused, not crash. */
static void
test_deep_nesting(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "deep.json", NULL);
  gsize n = VSB_FW_DESCRIPTOR_MAX_SIZE;
  g_autofree char *buf = g_malloc(n);
  memset(buf, '[', n);
  vsb_test_write_file(path, buf, (gssize)n);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_load(path, &error);
  g_assert_null(d);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "deep.json: JSON nested deeper than 64 levels at byte 64"));
  g_clear_error(&error);
  /* Brackets inside strings do not count; 64 real levels are allowed (and then rejected by
   * the schema, not the guard). */
  GString *s = g_string_new("{\"description\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\",\"tags\":");
  for (int i = 0; i < 63; i++)
    g_string_append_c(s, '[');
  for (int i = 0; i < 63; i++)
    g_string_append_c(s, ']');
  g_string_append_c(s, '}');
  g_autoptr(VsbFwDescriptor) d2 = vsb_fw_descriptor_parse(s->str, s->len, "ok.json", &error);
  g_assert_null(d2);
  g_assert_nonnull(strstr(error->message, "ok.json: interface-types: missing member"));
  g_string_free(s, TRUE);
  /* The CLI says so and exits 2. */
  g_autofree char *err = NULL;
  g_assert_cmpint(vsb_test_run(NULL, &err, "firmware", "show", path, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "nested deeper than 64 levels"));
}

static void
test_missing_file(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbFwDescriptor) d = vsb_fw_descriptor_load("/nonexistent/x.json", &error);
  g_assert_null(d);
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, "/nonexistent/x.json"));
  g_clear_error(&error);
  g_autofree char *dir = vsb_test_tmpdir();
  g_assert_null(vsb_fw_descriptor_load(dir, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "is a directory, not a descriptor"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/descriptor/enums", test_enums);
  g_test_add_func("/descriptor/fedora-split-qcow2", test_fedora_split_qcow2);
  g_test_add_func("/descriptor/debian-no-mode", test_debian_no_mode);
  g_test_add_func("/descriptor/stateless-memory-combined", test_stateless_memory_combined);
  g_test_add_func("/descriptor/kernel-igvm-openfirmware", test_other_devices);
  g_test_add_func("/descriptor/unknown-feature-kept", test_unknown_feature_kept);
  g_test_add_func("/descriptor/round-trip", test_round_trip);
  g_test_add_func("/descriptor/bad-files", test_bad_files);
  g_test_add_func("/descriptor/parse-errors", test_parse_errors_in_memory);
  g_test_add_func("/descriptor/warnings", test_warnings);
  g_test_add_func("/descriptor/size-limit", test_size_limit);
  g_test_add_func("/descriptor/deep-nesting", test_deep_nesting);
  g_test_add_func("/descriptor/missing-file", test_missing_file);
  return g_test_run();
}
