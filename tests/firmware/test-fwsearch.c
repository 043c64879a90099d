/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery: precedence across directories, replacement, masks, invalid files kept aside. */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/fwsearch.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *
fixture(const char *rel)
{
  return g_build_filename(vsb_test_data_dir(), "firmware", rel, NULL);
}

static GPtrArray *
search_fixture(const char *const *rels)
{
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);
  for (const char *const *r = rels; *r; r++)
    g_ptr_array_add(dirs, fixture(*r));
  g_ptr_array_add(dirs, NULL);
  g_autoptr(GError) error = NULL;
  GPtrArray *list = vsb_fw_search((const char *const *)dirs->pdata, &error);
  g_assert_no_error(error);
  return list;
}

/* libvirt's testFWPrecedence list (tests/qemufirmwaretest.c), over the Fedora-like tree. */
static void
test_libvirt_precedence(void)
{
  const char *dirs[] = { "fedora/usr/share/qemu/firmware", "fedora/etc/qemu/firmware", NULL };
  g_autoptr(GPtrArray) list = search_fixture(dirs);
  static const char *const expected[] = {
    "etc/qemu/firmware/20-bios.json",
    "usr/share/qemu/firmware/30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
    "usr/share/qemu/firmware/31-edk2-ovmf-2m-raw-x64-sb-enrolled.json",
    "usr/share/qemu/firmware/40-edk2-ovmf-4m-qcow2-x64-sb.json",
    "usr/share/qemu/firmware/41-edk2-ovmf-2m-raw-x64-sb.json",
    "usr/share/qemu/firmware/50-edk2-aarch64-qcow2.json",
    "usr/share/qemu/firmware/50-edk2-loongarch64.json",
    "usr/share/qemu/firmware/50-edk2-ovmf-4m-qcow2-x64-nosb.json",
    "usr/share/qemu/firmware/50-edk2-ovmf-x64-microvm.json",
    "usr/share/qemu/firmware/51-edk2-aarch64-raw.json",
    "usr/share/qemu/firmware/51-edk2-ovmf-2m-raw-x64-nosb.json",
    "usr/share/qemu/firmware/52-edk2-aarch64-verbose-qcow2.json",
    "usr/share/qemu/firmware/53-edk2-aarch64-verbose-raw.json",
    "etc/qemu/firmware/59-combined.json",
    "usr/share/qemu/firmware/60-edk2-ovmf-x64-amdsev.json",
    "usr/share/qemu/firmware/60-edk2-ovmf-x64-inteltdx.json",
    "usr/share/qemu/firmware/90-combined.json",
    "usr/share/qemu/firmware/91-bios.json",
  };
  g_autofree char *root = fixture("fedora");
  guint k = 0;
  for (guint i = 0; i < list->len; i++) {
    VsbFwEntry *e = list->pdata[i];
    if (e->kind != VSB_FW_ENTRY_DESCRIPTOR)
      continue;
    g_assert_cmpuint(k, <, G_N_ELEMENTS(expected));
    g_autofree char *want = g_build_filename(root, expected[k], NULL);
    g_assert_cmpstr(e->path, ==, want);
    g_assert_nonnull(e->descriptor);
    g_assert_null(e->error);
    k++;
  }
  g_assert_cmpuint(k, ==, G_N_ELEMENTS(expected));
  /* 92-masked.json is hidden by the empty file in etc, and the only other entry. */
  g_assert_cmpuint(list->len, ==, G_N_ELEMENTS(expected) + 1);
  VsbFwEntry *mask = list->pdata[list->len - 1];
  g_assert_cmpint(mask->kind, ==, VSB_FW_ENTRY_MASK);
  g_assert_cmpstr(mask->name, ==, "92-masked.json");
  g_assert_null(mask->descriptor);
  g_assert_cmpuint(g_strv_length(mask->overrides), ==, 1);
  g_autofree char *masked = fixture("fedora/usr/share/qemu/firmware/92-masked.json");
  g_assert_cmpstr(mask->overrides[0], ==, masked);
  /* The symlink 20-bios.json in etc is its own name; its content is 91-bios. */
  VsbFwEntry *first = list->pdata[0];
  g_assert_cmpstr(first->name, ==, "20-bios.json");
  g_assert_cmpstr(first->descriptor->filename, ==, "/usr/share/seabios/bios-256k.bin");
  g_assert_cmpuint(g_strv_length(first->overrides), ==, 0);
  g_assert_true(vsb_fw_search_find(list, "91-bios") == list->pdata[17]);
  g_assert_true(vsb_fw_search_find(list, "91-bios.json") == list->pdata[17]);
  g_assert_null(vsb_fw_search_find(list, "91-bios.js"));
}

/* Debian-like tree with an admin layer and a user layer. */
static void
test_layers(void)
{
  const char *dirs[] = { "debian/usr/share/qemu/firmware", "debian/etc/qemu/firmware",
                         "debian/xdg/qemu/firmware", NULL };
  g_autoptr(GPtrArray) list = search_fixture(dirs);
  static const struct {
    const char *name;
    VsbFwEntryKind kind;
    const char *dir;
    guint n_overrides;
  } expected[] = {
    { "10-local.json", VSB_FW_ENTRY_DESCRIPTOR, "debian/xdg/qemu/firmware", 1 },
    { "40-edk2-aarch64-secure-enrolled.json", VSB_FW_ENTRY_DESCRIPTOR, "debian/usr/share/qemu/firmware", 0 },
    { "40-edk2-x86_64-secure-enrolled.json", VSB_FW_ENTRY_MASK, "debian/xdg/qemu/firmware", 1 },
    { "50-edk2-aarch64-secure.json", VSB_FW_ENTRY_DESCRIPTOR, "debian/usr/share/qemu/firmware", 0 },
    { "50-edk2-x86_64-secure.json", VSB_FW_ENTRY_DESCRIPTOR, "debian/etc/qemu/firmware", 1 },
    { "60-edk2-aarch64.json", VSB_FW_ENTRY_MASK, "debian/etc/qemu/firmware", 1 },
    { "60-edk2-x86_64.json", VSB_FW_ENTRY_DESCRIPTOR, "debian/usr/share/qemu/firmware", 0 },
    { "README", VSB_FW_ENTRY_INVALID, "debian/xdg/qemu/firmware", 0 },
  };
  g_assert_cmpuint(list->len, ==, G_N_ELEMENTS(expected)); /* .hidden.json skipped */
  for (guint i = 0; i < list->len; i++) {
    VsbFwEntry *e = list->pdata[i];
    g_autofree char *dir = fixture(expected[i].dir);
    g_assert_cmpstr(e->name, ==, expected[i].name);
    g_assert_cmpint(e->kind, ==, expected[i].kind);
    g_assert_cmpstr(e->dir, ==, dir);
    g_assert_cmpuint(g_strv_length(e->overrides), ==, expected[i].n_overrides);
  }
  VsbFwEntry *local = list->pdata[0];
  g_autofree char *admin_local = fixture("debian/etc/qemu/firmware/10-local.json");
  g_assert_cmpstr(local->overrides[0], ==, admin_local);
  g_assert_cmpstr(local->descriptor->executable.filename, ==, "/home/user/ovmf/OVMF_CODE.fd");
  VsbFwEntry *admin = list->pdata[4];
  g_assert_cmpstr(admin->descriptor->executable.filename, ==, "/usr/share/OVMF/OVMF_CODE.secboot.fd");
  VsbFwEntry *readme = list->pdata[7];
  g_assert_error(readme->error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(readme->error->message, "README: not JSON"));

  /* JSON form of an entry. */
  g_autoptr(JsonNode) n = vsb_fw_entry_to_json(list->pdata[2]);
  JsonObject *o = json_node_get_object(n);
  g_assert_cmpstr(json_object_get_string_member(o, "kind"), ==, "mask");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "overrides")), ==, 1);
  g_assert_false(json_object_has_member(o, "descriptor"));
}

/* A replaced file records the whole chain, general first; a mask in the middle is undone. */
static void
test_override_chain(void)
{
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *a = g_build_filename(tmp, "a", NULL);
  g_autofree char *b = g_build_filename(tmp, "b", NULL);
  g_autofree char *c = g_build_filename(tmp, "c", NULL);
  g_mkdir(a, 0755);
  g_mkdir(b, 0755);
  g_mkdir(c, 0755);
  g_autofree char *good = fixture("bad/30-good.json");
  g_autofree char *text = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(good, &text, &len, NULL));
  g_autofree char *fa = g_build_filename(a, "50-x.json", NULL);
  g_autofree char *fb = g_build_filename(b, "50-x.json", NULL);
  g_autofree char *fc = g_build_filename(c, "50-x.json", NULL);
  vsb_test_write_file(fa, text, (gssize)len);
  vsb_test_write_file(fb, "", 0);
  vsb_test_write_file(fc, text, (gssize)len);
  /* A dangling symlink is an invalid entry; a directory is ignored. */
  g_autofree char *dangling = g_build_filename(a, "60-dangling.json", NULL);
  g_assert_cmpint(symlink("/nonexistent/target.json", dangling), ==, 0);
  g_autofree char *subdir = g_build_filename(a, "70-dir.json", NULL);
  g_mkdir(subdir, 0755);

  const char *dirs[] = { a, b, c, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = vsb_fw_search(dirs, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  VsbFwEntry *x = list->pdata[0];
  g_assert_cmpint(x->kind, ==, VSB_FW_ENTRY_DESCRIPTOR);
  g_assert_cmpstr(x->path, ==, fc);
  g_assert_cmpuint(g_strv_length(x->overrides), ==, 2);
  g_assert_cmpstr(x->overrides[0], ==, fa);
  g_assert_cmpstr(x->overrides[1], ==, fb);
  VsbFwEntry *d = list->pdata[1];
  g_assert_cmpint(d->kind, ==, VSB_FW_ENTRY_INVALID);
  g_assert_nonnull(strstr(d->error->message, "60-dangling.json"));

  /* Only a and b: the mask wins. */
  const char *two[] = { a, b, NULL };
  g_autoptr(GPtrArray) masked = vsb_fw_search(two, &error);
  g_assert_no_error(error);
  g_assert_cmpint(((VsbFwEntry *)masked->pdata[0])->kind, ==, VSB_FW_ENTRY_MASK);

  /* An explicit directory must exist. */
  g_autofree char *missing = g_build_filename(tmp, "missing", NULL);
  const char *bad[] = { a, missing, NULL };
  g_autoptr(GPtrArray) none = vsb_fw_search(bad, &error);
  g_assert_null(none);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, missing));
}

/* Bad files never stop the good one; 2 MiB of garbage is just one more invalid entry. */
static void
test_bad_dir(void)
{
  g_autofree char *tmp = vsb_test_tmpdir();
  g_autofree char *src = fixture("bad");
  g_autoptr(GDir) dir = g_dir_open(src, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *from = g_build_filename(src, name, NULL);
    g_autofree char *to = g_build_filename(tmp, name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(from, &text, &len, NULL));
    vsb_test_write_file(to, text, (gssize)len);
  }
  gsize n = 2 * 1024 * 1024;
  g_autofree guint8 *junk = g_malloc(n);
  for (gsize i = 0; i < n; i++)
    junk[i] = (guint8)(i * 7919u >> 3);
  g_autofree char *big = g_build_filename(tmp, "25-garbage.json", NULL);
  vsb_test_write_file(big, junk, (gssize)n);

  const char *dirs[] = { tmp, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = vsb_fw_search(dirs, &error);
  g_assert_no_error(error);
  guint invalid = 0, masks = 0, good = 0;
  for (guint i = 0; i < list->len; i++) {
    VsbFwEntry *e = list->pdata[i];
    if (e->kind == VSB_FW_ENTRY_INVALID) {
      invalid++;
      g_assert_true(g_str_has_prefix(e->error->message, e->path));
    } else if (e->kind == VSB_FW_ENTRY_MASK) {
      masks++;
    } else {
      good++;
      g_assert_cmpstr(e->name, ==, "30-good.json");
    }
  }
  g_assert_cmpuint(invalid, ==, 11); /* 10 bad files + garbage */
  g_assert_cmpuint(masks, ==, 1);
  g_assert_cmpuint(good, ==, 1);
  VsbFwEntry *g = vsb_fw_search_find(list, "25-garbage");
  g_assert_nonnull(strstr(g->error->message, "1048576-byte limit"));
}

static void
test_default_dirs(void)
{
  g_autofree char *old_xdg = g_strdup(g_getenv("XDG_CONFIG_HOME"));
  g_setenv("XDG_CONFIG_HOME", "/tmp/xdg-test", TRUE);
  g_auto(GStrv) dirs = vsb_fw_search_default_dirs();
  g_assert_cmpuint(g_strv_length(dirs), ==, 3);
  g_assert_cmpstr(dirs[0], ==, "/usr/share/qemu/firmware");
  g_assert_cmpstr(dirs[1], ==, "/etc/qemu/firmware");
  g_assert_cmpstr(dirs[2], ==, "/tmp/xdg-test/qemu/firmware");
  g_setenv("XDG_CONFIG_HOME", "", TRUE);
  g_auto(GStrv) dirs2 = vsb_fw_search_default_dirs();
  g_autofree char *home = g_build_filename(g_get_home_dir(), ".config/qemu/firmware", NULL);
  g_assert_cmpstr(dirs2[2], ==, home);
  if (old_xdg)
    g_setenv("XDG_CONFIG_HOME", old_xdg, TRUE);
  else
    g_unsetenv("XDG_CONFIG_HOME");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fwsearch/libvirt-precedence", test_libvirt_precedence);
  g_test_add_func("/fwsearch/layers", test_layers);
  g_test_add_func("/fwsearch/override-chain", test_override_chain);
  g_test_add_func("/fwsearch/bad-dir", test_bad_dir);
  g_test_add_func("/fwsearch/default-dirs", test_default_dirs);
  return g_test_run();
}
