/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot fleet against a real libvirtd (tests/libvirt/libvirtd-ns.h, root), run inside the
 * daemon's namespace: defined and running domains are listed with source "libvirt" (a running
 * one with its QEMU's pid, and that QEMU is not listed again as a process), the state-dir VM a
 * domain was emitted from is that domain, a domain whose definition vsboot cannot parse is a
 * vm-unreadable finding while the others are still judged, and the rollover leaves the running
 * domain's NVRAM byte-identical while it writes the stopped one's. */
#include "libvirtd-ns.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *dir, *state;
  VsbTestLibvirtd *libvirtd;
} Ctx;

static Ctx ctx;

/* Provision NAME in the state dir and define it in libvirt from `vsboot libvirt-xml --domain`
 * (with SMM on, as libvirt 9.0 wants for a secure loader). */
/* virt_type: libvirt-xml's --virt-type (NULL: its own choice for this host). */
static void
define_vm(const char *name, const char *const *provision_args, const char *virt_type)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  const char *head[] = { "provision", name, "--state-dir", ctx.state };
  for (gsize i = 0; i < G_N_ELEMENTS(head); i++)
    g_ptr_array_add(argv, (gpointer)head[i]);
  for (const char *const *a = provision_args; *a; a++)
    g_ptr_array_add(argv, (gpointer)*a);
  g_ptr_array_add(argv, NULL);
  g_autofree char *err = NULL, *xml = NULL, *xerr = NULL;
  if (vsb_test_runv((const char *const *)argv->pdata, NULL, &err) != 0)
    vsb_test_fail("provision %s: %s", name, err);
  if (vsb_test_run(&xml, &xerr, "libvirt-xml", name, "--state-dir", ctx.state, "--domain",
                   virt_type ? "--virt-type" : NULL, virt_type, NULL) != 0)
    vsb_test_fail("libvirt-xml %s: %s", name, xerr);
  if (strstr(xml, "<smm") == NULL) {
    g_autofree char *with = NULL;
    g_auto(GStrv) parts = g_strsplit(xml, "<features>", 2);
    with = g_strjoinv("<features>\n    <smm state=\"on\"/>", parts);
    g_free(xml);
    xml = g_steal_pointer(&with);
  }
  g_autofree char *file = g_strdup_printf("%s/%s.xml", ctx.dir, name);
  vsb_test_write_file(file, xml, -1);
  g_autofree char *verr = NULL;
  if (vsb_test_libvirtd_virsh(ctx.libvirtd, NULL, &verr, "define", file, NULL) != 0)
    vsb_test_fail("virsh define %s: %s", name, verr);
}

/* Does this host's KVM run SMM? Asked of QEMU itself, so that the expectation holds on any
 * host: QEMU says "System Management Mode not supported by this hypervisor" where it does not. */
static gboolean
host_kvm_runs_smm(void)
{
  const char *argv[] = { "timeout", "5", "qemu-system-x86_64", "-accel", "kvm", "-machine",
                         "q35,smm=on", "-nodefaults", "-display", "none", "-S", NULL };
  g_autofree char *err = NULL;
  int rc = vsb_test_spawn(argv, NULL, NULL, &err);
  if (rc == 124)
    return TRUE;
  g_assert_nonnull(strstr(err, "System Management Mode not supported by this hypervisor"));
  return FALSE;
}

static JsonNode *
fleet_json(int *rc, const char *const *extra)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  const char *head[] = { vsb_test_vsboot(), "fleet", "--libvirt", "qemu:///system",
                         "--state-dir", ctx.state, "--json" };
  for (gsize i = 0; i < G_N_ELEMENTS(head); i++)
    g_ptr_array_add(argv, (gpointer)head[i]);
  for (const char *const *a = extra; a && *a; a++)
    g_ptr_array_add(argv, (gpointer)*a);
  g_ptr_array_add(argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  *rc = vsb_test_libvirtd_runv(ctx.libvirtd, (const char *const *)argv->pdata, &out, &err);
  if (*rc >= 2)
    vsb_test_fail("fleet exited %d: %s", *rc, err);
  return vsb_test_parse_json(out);
}

static JsonObject *
find_vm(JsonNode *root, const char *name, guint *count)
{
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  JsonObject *found = NULL;
  *count = 0;
  for (guint i = 0; i < json_array_get_length(vms); i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    if (strcmp(json_object_get_string_member(vm, "name"), name) == 0) {
      found = vm;
      (*count)++;
    }
  }
  return found;
}

static gboolean
has_finding(JsonObject *vm, const char *id)
{
  JsonArray *f = json_object_get_array_member(vm, "findings");
  for (guint i = 0; i < json_array_get_length(f); i++)
    if (strcmp(json_object_get_string_member(json_array_get_object_element(f, i), "id"), id) == 0)
      return TRUE;
  return FALSE;
}

static gchar *
sha256_of(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

static void
test_fleet_libvirt(void)
{
  const char *good[] = { "--enrolled-keys", NULL };
  const char *old[] = { "--enrolled-keys", "--microsoft", "none", NULL };
  const char *setup[] = { "--no-feature", "enrolled-keys", "--allow-setup-mode", NULL };
  define_vm("lv-run", old, NULL);
  define_vm("lv-good", good, NULL);
  define_vm("lv-old", old, NULL);
  define_vm("lv-setup", setup, NULL);
  /* Asking for KVM with SMM: it starts only where this host's KVM runs SMM, which the fleet
   * asks QEMU (kvm-without-smm). */
  define_vm("lv-kvm", good, "kvm");
  /* A definition libvirt keeps but vsboot cannot parse as QEMU would: an option QEMU does not
   * know, passed through <qemu:commandline>. */
  g_autofree char *odd = g_build_filename(ctx.dir, "lv-odd.xml", NULL);
  vsb_test_write_file(odd,
    "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    "  <name>lv-odd</name>\n  <memory unit='MiB'>64</memory>\n"
    "  <os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>\n"
    "  <features><acpi/><smm state='on'/></features>\n"
    "  <qemu:commandline><qemu:arg value='-no-such-option'/></qemu:commandline>\n"
    "</domain>\n", -1);
  g_autofree char *verr = NULL;
  if (vsb_test_libvirtd_virsh(ctx.libvirtd, NULL, &verr, "define", odd, NULL) != 0)
    vsb_test_fail("virsh define lv-odd: %s", verr);
  g_clear_pointer(&verr, g_free);
  if (vsb_test_libvirtd_virsh(ctx.libvirtd, NULL, &verr, "start", "lv-run", "--paused",
                              NULL) != 0)
    vsb_test_fail("virsh start lv-run: %s", verr);

  int rc = 0;
  g_autoptr(JsonNode) root = fleet_json(&rc, NULL);
  g_assert_cmpint(rc, ==, 1);
  guint n = 0;
  JsonObject *run = find_vm(root, "lv-run", &n);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpstr(json_object_get_string_member(run, "source"), ==, "libvirt");
  g_assert_true(json_object_get_boolean_member(run, "running"));
  g_assert_false(has_finding(run, "varstore-shared"));
  g_assert_false(has_finding(run, "vm-unreadable"));
  gint64 pid = json_object_get_int_member(run, "pid");
  g_assert_cmpint(pid, >, 0);
  /* Its QEMU is the domain, not another VM. */
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  for (guint i = 0; i < json_array_get_length(vms); i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    JsonNode *p = json_object_get_member(vm, "pid");
    if (vm != run && p && JSON_NODE_HOLDS_VALUE(p) && json_node_get_int(p) == pid)
      vsb_test_fail("QEMU %" G_GINT64_FORMAT " is listed twice", pid);
  }
  const char *defined[] = { "lv-good", "lv-old", "lv-setup", "lv-odd", "lv-kvm" };
  for (gsize i = 0; i < G_N_ELEMENTS(defined); i++) {
    JsonObject *vm = find_vm(root, defined[i], &n);
    if (n != 1)
      vsb_test_fail("%s listed %u times", defined[i], n);
    g_assert_cmpstr(json_object_get_string_member(vm, "source"), ==, "libvirt");
    g_assert_false(json_object_get_boolean_member(vm, "running"));
  }
  g_assert_cmpstr(json_object_get_string_member(find_vm(root, "lv-good", &n), "verdict"), ==,
                  "enforced");
  g_assert_true(has_finding(find_vm(root, "lv-setup", &n), "varstore-setup-mode"));
  gboolean smm = host_kvm_runs_smm();
  g_assert_cmpint(has_finding(find_vm(root, "lv-kvm", &n), "kvm-without-smm"), ==, !smm);
  JsonObject *o = find_vm(root, "lv-odd", &n);
  g_assert_cmpstr(json_object_get_string_member(o, "verdict"), ==, "not-enforced");
  g_assert_true(has_finding(o, "vm-unreadable"));

  /* The rollover: the stopped domain's NVRAM is written, the running one's is pending. */
  g_autofree char *run_vars = g_build_filename(ctx.state, "lv-run_VARS.fd", NULL);
  g_autofree char *old_vars = g_build_filename(ctx.state, "lv-old_VARS.fd", NULL);
  g_autofree char *h_run = sha256_of(run_vars), *h_old = sha256_of(old_vars);
  const char *apply[] = { "--rollover", "2023", "--apply", NULL };
  g_autoptr(JsonNode) ap = fleet_json(&rc, apply);
  JsonObject *ro_run = json_object_get_object_member(find_vm(ap, "lv-run", &n), "rollover");
  JsonObject *ro_old = json_object_get_object_member(find_vm(ap, "lv-old", &n), "rollover");
  g_assert_cmpstr(json_object_get_string_member(ro_run, "status"), ==, "pending");
  g_assert_cmpstr(json_object_get_string_member(ro_old, "status"), ==, "changed");
  g_autofree char *h_run2 = sha256_of(run_vars), *h_old2 = sha256_of(old_vars);
  g_assert_cmpstr(h_run2, ==, h_run);
  g_assert_cmpstr(h_old2, !=, h_old);
  vsb_test_libvirtd_virsh(ctx.libvirtd, NULL, NULL, "destroy", "lv-run", NULL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (getuid() != 0)
    vsb_test_fail("the libvirt test must run as root (system libvirtd, mount namespaces)");
  vsb_test_require_tool("virsh");
  vsb_test_require_tool("qemu-system-x86_64");
  g_autoptr(GError) error = NULL;
  ctx.dir = g_dir_make_tmp("vsboot-fleet-libvirt-XXXXXX", &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_chmod(ctx.dir, 0755), ==, 0);
  ctx.state = g_build_filename(ctx.dir, "state", NULL);
  g_autofree char *fw = g_build_filename(ctx.dir, "fw", NULL);
  g_assert_cmpint(g_mkdir(ctx.state, 0700), ==, 0);
  g_assert_cmpint(g_mkdir(fw, 0755), ==, 0);
  vsb_test_copy_dir("/usr/share/qemu/firmware", fw);
  ctx.libvirtd = vsb_test_libvirtd_start(fw);
  g_test_add_func("/fleet/libvirt", test_fleet_libvirt);
  int r = g_test_run();
  vsb_test_libvirtd_free(ctx.libvirtd);
  const char *rm[] = { "rm", "-rf", "--", ctx.dir, NULL };
  if (g_getenv("VSB_TEST_KEEP") == NULL)
    vsb_test_spawn(rm, NULL, NULL, NULL);
  g_free(ctx.state);
  g_free(ctx.dir);
  return r;
}
