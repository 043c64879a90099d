/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot fleet with real parts: VMs provisioned from the host's OVMF by vsboot provision,
 * paused QEMU processes for the process scan, promtool for the metrics. Other QEMU processes
 * may run on the machine meanwhile (other test programs): assertions about processes look at
 * the ones started here, by pid. */
#include "testutil.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"

/* A state directory with VMs: good (Debian's Microsoft keys plus the 2023 CAs), old (the 2011
 * CAs alone: the rollover has work), setup (no PK), nosb (firmware without Secure Boot). */
static char *
make_state_dir(const char *dir)
{
  char *state = g_build_filename(dir, "state", NULL);
  g_assert_cmpint(g_mkdir(state, 0700), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "good", "--state-dir", state,
                               "--enrolled-keys", NULL), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "old", "--state-dir", state,
                               "--enrolled-keys", "--microsoft", "none", NULL), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "setup", "--state-dir", state,
                               "--no-feature", "enrolled-keys", "--allow-setup-mode", NULL), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "nosb", "--state-dir", state,
                               "--no-feature", "secure-boot", NULL), ==, 0);
  return state;
}

static JsonNode *
fleet_json(int *rc, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (gpointer) "fleet");
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add(argv, (gpointer)*a);
  g_ptr_array_add(argv, (gpointer) "--json");
  g_ptr_array_add(argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  *rc = vsb_test_runv((const char *const *)argv->pdata, &out, &err);
  if (*rc >= 2)
    vsb_test_fail("fleet exited %d: %s", *rc, err);
  return vsb_test_parse_json(out);
}

static JsonObject *
find_vm(JsonNode *root, const char *source, const char *name)
{
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  for (guint i = 0; i < json_array_get_length(vms); i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    if (strcmp(json_object_get_string_member(vm, "source"), source) == 0 &&
        strcmp(json_object_get_string_member(vm, "name"), name) == 0)
      return vm;
  }
  return NULL;
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

/* Every VM has the members the issue names, of the right types. */
static void
check_shape(JsonNode *root)
{
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  for (guint i = 0; i < json_array_get_length(vms); i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    g_assert_nonnull(json_object_get_string_member(vm, "name"));
    const char *src = json_object_get_string_member(vm, "source");
    g_assert_true(g_strv_contains((const char *const[]){ "libvirt", "state-dir", "process",
                                                         NULL }, src));
    g_assert_true(JSON_NODE_HOLDS_VALUE(json_object_get_member(vm, "running")));
    const char *v = json_object_get_string_member(vm, "verdict");
    g_assert_true(strcmp(v, "enforced") == 0 || strcmp(v, "not-enforced") == 0);
    JsonArray *f = json_object_get_array_member(vm, "findings");
    for (guint j = 0; j < json_array_get_length(f); j++) {
      JsonObject *fo = json_array_get_object_element(f, j);
      g_assert_nonnull(json_object_get_string_member(fo, "id"));
      g_assert_nonnull(json_object_get_string_member(fo, "severity"));
    }
    g_assert_true(json_object_has_member(vm, "microsoft"));
    g_assert_true(json_object_has_member(vm, "dbx-entries"));
    g_assert_true(json_object_has_member(vm, "tpm"));
    g_assert_true(json_object_has_member(vm, "firmware"));
    g_assert_true(json_object_has_member(vm, "secure-boot"));
  }
}

/* State-dir VMs good and bad: verdicts, Microsoft state, the JSON shape, exit status; a state
 * file that does not load is a finding and the others are still judged. */
static void
test_state_dirs(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *state = make_state_dir(dir);
  int rc = 0;
  const char *args[] = { "--no-libvirt", "--no-processes", "--state-dir", state, NULL };
  g_autoptr(JsonNode) root = fleet_json(&rc, args);
  check_shape(root);
  g_assert_cmpint(rc, ==, 1);
  JsonObject *good = find_vm(root, "state-dir", "good"), *old = find_vm(root, "state-dir", "old");
  JsonObject *setup = find_vm(root, "state-dir", "setup"), *nosb = find_vm(root, "state-dir", "nosb");
  g_assert_nonnull(good);
  g_assert_cmpstr(json_object_get_string_member(good, "verdict"), ==, "enforced");
  g_assert_true(json_object_get_boolean_member(good, "microsoft-2023"));
  g_assert_false(json_object_get_boolean_member(good, "running"));
  g_assert_cmpint(json_object_get_int_member(good, "dbx-entries"), >=, 1);
  g_assert_cmpstr(json_object_get_string_member(old, "verdict"), ==, "enforced");
  g_assert_true(json_object_get_boolean_member(old, "rollover-needed"));
  g_assert_true(has_finding(old, "microsoft-2023-missing"));
  g_assert_cmpstr(json_object_get_string_member(setup, "verdict"), ==, "not-enforced");
  g_assert_true(has_finding(setup, "varstore-setup-mode"));
  g_assert_cmpstr(json_object_get_string_member(nosb, "verdict"), ==, "not-enforced");
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                    json_node_get_object(root), "vms")), ==, 4);
  /* The same directory twice, once through a trailing "/.": listed once. */
  g_autofree char *again = g_build_filename(state, ".", NULL);
  const char *twice[] = { "--no-libvirt", "--no-processes", "--state-dir", state, "--state-dir",
                          again, NULL };
  g_autoptr(JsonNode) r0 = fleet_json(&rc, twice);
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                    json_node_get_object(r0), "vms")), ==, 4);

  /* The fleet's findings are the single-VM audit's (its firmware inspections shared across
   * VMs change nothing). */
  const char *names[] = { "good", "old", "setup", "nosb" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *aout = NULL;
    const char *audit[] = { "audit", names[i], "--state-dir", state, "--no-process-scan",
                            "--json", NULL };
    vsb_test_runv(audit, &aout, NULL);
    g_autoptr(JsonNode) an = vsb_test_parse_json(aout);
    JsonArray *af = json_object_get_array_member(json_node_get_object(an), "findings");
    JsonArray *ff = json_object_get_array_member(find_vm(root, "state-dir", names[i]),
                                                 "findings");
    g_assert_cmpuint(json_array_get_length(af), ==, json_array_get_length(ff));
    for (guint j = 0; j < json_array_get_length(af); j++)
      g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(af, j), "id"),
                      ==,
                      json_object_get_string_member(json_array_get_object_element(ff, j), "id"));
  }

  /* Only the good VM: exit 0. */
  g_autofree char *two = g_build_filename(dir, "two", NULL);
  g_assert_cmpint(g_mkdir(two, 0700), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "a", "--state-dir", two,
                               "--enrolled-keys", NULL), ==, 0);
  const char *args2[] = { "--no-libvirt", "--no-processes", "--state-dir", two, NULL };
  g_autoptr(JsonNode) r2 = fleet_json(&rc, args2);
  g_assert_cmpint(rc, ==, 0);

  /* A broken state file: a finding for that VM; the good one is still enforced. */
  g_autofree char *broken = g_build_filename(two, "broken.json", NULL);
  vsb_test_write_file(broken, "{\"version\": 1,", -1);
  g_autoptr(JsonNode) r3 = fleet_json(&rc, args2);
  g_assert_cmpint(rc, ==, 1);
  JsonObject *b = find_vm(r3, "state-dir", "broken");
  g_assert_nonnull(b);
  g_assert_true(has_finding(b, "vm-unreadable"));
  g_assert_cmpstr(json_object_get_string_member(find_vm(r3, "state-dir", "a"), "verdict"), ==,
                  "enforced");
}

/* The table fits 80 columns, even with a 64-character name and a long finding. */
static void
test_table_width(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *state = make_state_dir(dir);
  const char *longname = "a-very-long-virtual-machine-name-that-goes-on-and-on-for-64-byte";
  g_assert_cmpint(strlen(longname), ==, 64);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", longname, "--state-dir", state,
                               "--no-feature", "enrolled-keys", "--allow-setup-mode", NULL), ==, 0);
  g_autofree char *out = NULL;
  for (int rollover = 0; rollover < 2; rollover++) {
    g_clear_pointer(&out, g_free);
    const char *args[] = { "fleet", "--no-libvirt", "--no-processes", "--state-dir", state,
                           rollover ? "--rollover" : NULL, "2023", NULL };
    g_assert_cmpint(vsb_test_runv(args, &out, NULL), ==, 1);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l; l++)
      if (g_utf8_strlen(*l, -1) > 80)
        vsb_test_fail("line wider than 80 columns (%ld): %s", g_utf8_strlen(*l, -1), *l);
    g_assert_nonnull(strstr(out, "a-very-long-vir~"));
  }
  g_assert_nonnull(strstr(out, "PCR 7"));
  g_assert_nonnull(strstr(out, "BitLocker"));
}

/* --prometheus: promtool accepts the file; the metrics and labels are there, a name with a
 * quote and a backslash is escaped; an unwritable path is exit 2 with nothing written. */
static void
test_prometheus(void)
{
  vsb_test_require_tool("promtool");
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *state = make_state_dir(dir);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "q\"uo\\te", "--state-dir", state,
                               "--enrolled-keys", NULL), ==, 0);
  g_autofree char *prom = g_build_filename(dir, "vsboot.prom", NULL);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "fleet", "--no-libvirt", "--no-processes",
                               "--state-dir", state, "--prometheus", prom, NULL), ==, 1);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(prom, &text, NULL, NULL));
  g_autofree char *cmd = g_strdup_printf("promtool check metrics < '%s'", prom);
  const char *sh[] = { "sh", "-c", cmd, NULL };
  g_autofree char *pout = NULL, *perr = NULL;
  int rc = vsb_test_spawn(sh, NULL, &pout, &perr);
  if (rc != 0)
    vsb_test_fail("promtool check metrics: %d\n%s%s\n%s", rc, pout, perr, text);
  g_assert_nonnull(strstr(text, "# TYPE vsboot_vm_secure_boot_enforced gauge"));
  g_assert_nonnull(strstr(text, "vsboot_vm_secure_boot_enforced{vm=\"good\",source=\"state-dir\",uuid=\""));
  g_assert_nonnull(strstr(text, "vsboot_vm_microsoft_ca_2023{vm=\"old\",source=\"state-dir\""));
  g_assert_nonnull(strstr(text, "vsboot_vm_dbx_entries{vm=\"good\""));
  g_assert_nonnull(strstr(text, "vsboot_vm_findings{vm=\"setup\",source=\"state-dir\""));
  g_assert_nonnull(strstr(text, "severity=\"error\"} 1"));
  g_assert_nonnull(strstr(text, "vm=\"q\\\"uo\\\\te\""));
  g_assert_nonnull(strstr(text, "\nvsboot_fleet_scan_seconds "));

  /* Unwritable: a missing directory, and a directory in the file's place. Exit 2, the
   * existing file untouched, no temporary file left. */
  g_autofree char *missing = g_build_filename(dir, "no-such-dir", "vsboot.prom", NULL);
  g_autofree char *err = NULL, *out = NULL;
  g_assert_cmpint(vsb_test_run(&out, &err, "fleet", "--no-libvirt", "--no-processes",
                               "--state-dir", state, "--prometheus", missing, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "no-such-dir"));
  g_assert_cmpstr(out, ==, "");
  g_autofree char *asdir = g_build_filename(dir, "adir", NULL);
  g_assert_cmpint(g_mkdir(asdir, 0700), ==, 0);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "fleet", "--no-libvirt", "--no-processes",
                               "--state-dir", state, "--prometheus", asdir, NULL), ==, 2);
  g_assert_nonnull(strstr(err, "directory"));
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while ((n = g_dir_read_name(d)))
    if (strstr(n, ".vsboot-"))
      vsb_test_fail("a temporary file was left behind: %s", n);
}

/* An explicit libvirt URI that does not answer: exit 2 naming it, no table, no "0 VMs". */
static void
test_libvirt_unreachable(void)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "fleet", "--libvirt", "qemu+tcp://127.0.0.1:1/system",
                        "--no-processes", NULL);
  g_assert_cmpint(rc, ==, 2);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "qemu+tcp://127.0.0.1:1/system"));
  g_assert_null(strstr(err, "libvirt: XML-RPC error")); /* libvirt's own print is silenced */
  g_assert_cmpint((int)(strchr(err, '\n') - err) + 1, ==, (int)strlen(err)); /* one line */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "fleet", "--libvirt", "test:///no/such/file.xml",
                               "--no-processes", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "test:///no/such/file.xml"));
  /* A local daemon's socket that is not there. */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "fleet", "--libvirt",
                               "qemu:///system?socket=/nonexistent/libvirt-sock",
                               "--no-processes", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "/nonexistent/libvirt-sock"));
  /* Another host's libvirt: its domains' files are not this host's to judge. */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(vsb_test_run(NULL, &err, "fleet", "--libvirt", "qemu+ssh://elsewhere/system",
                               "--no-processes", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "elsewhere"));
  /* Usage errors. */
  g_assert_cmpint(vsb_test_run(NULL, NULL, "fleet", "--rollover", "2011", NULL), ==, 2);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "fleet", "--apply", NULL), ==, 2);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "fleet", "--rollover", "2023", "--apply",
                               "--no-processes", NULL), ==, 2);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "fleet", "--state-dir", "/nonexistent-vsboot-dir",
                               "--no-libvirt", "--no-processes", NULL), ==, 2);
}

/* libvirt's test driver (test:///FILE, through the same client library and API as a daemon):
 * its domains are listed with source libvirt, once even when the URI is given twice. */
static void
test_libvirt_test_driver(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *state = make_state_dir(dir);
  g_autofree char *xml = g_build_filename(dir, "node.xml", NULL);
  g_autoptr(GString) node = g_string_new("<node>\n");
  const char *stores[] = { "good", "setup" };
  for (gsize i = 0; i < G_N_ELEMENTS(stores); i++)
    g_string_append_printf(node,
      "<domain type='test'><name>t-%s</name><memory>65536</memory><os>"
      "<type arch='x86_64' machine='pc-q35-7.2'>hvm</type>"
      "<loader readonly='yes' secure='yes' type='pflash'>" OVMF "OVMF_CODE_4M.secboot.fd"
      "</loader><nvram>%s/%s_VARS.fd</nvram></os><features><acpi/><smm state='on'/>"
      "</features></domain>\n", stores[i], state, stores[i]);
  g_string_append(node, "</node>\n");
  vsb_test_write_file(xml, node->str, -1);
  g_autofree char *uri = g_strconcat("test://", xml, NULL);
  int rc = 0;
  const char *args[] = { "--libvirt", uri, "--libvirt", uri, "--no-processes", NULL };
  g_autoptr(JsonNode) root = fleet_json(&rc, args);
  check_shape(root);
  g_assert_cmpint(rc, ==, 1);
  g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                    json_node_get_object(root), "vms")), ==, 2);
  JsonObject *good = find_vm(root, "libvirt", "t-good"), *setup = find_vm(root, "libvirt", "t-setup");
  g_assert_cmpstr(json_object_get_string_member(good, "verdict"), ==, "enforced");
  g_assert_true(json_object_get_boolean_member(good, "running"));
  g_assert_true(has_finding(setup, "varstore-setup-mode"));
}

/* Wait until pid (QEMU itself, after exec) has path open read-write, at most 10 s. */
static void
wait_open(GPid pid, const char *path)
{
  for (int i = 0; i < 100; i++) {
    g_autofree char *fd_dir = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) d = g_dir_open(fd_dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
      g_autofree char *l = g_build_filename(fd_dir, n, NULL);
      g_autofree char *t = g_file_read_link(l, NULL);
      if (t && strcmp(t, path) == 0)
        return;
    }
    g_usleep(100000);
  }
  vsb_test_fail("QEMU %d did not open %s within 10 s", pid, path);
}

/* Start a state-dir VM paused, with the command line vsboot run gives it (-name guest=NAME). */
static GPid
start_vm(const char *dir, const char *state, const char *name, const char *const *extra)
{
  g_autofree char *plan = NULL;
  g_assert_cmpint(vsb_test_run(&plan, NULL, "run", name, "--state-dir", state, "--dry-run",
                               "--accel", "tcg", "--json", NULL), ==, 0);
  g_autoptr(JsonNode) pn = vsb_test_parse_json(plan);
  JsonArray *a = json_object_get_array_member(json_node_get_object(pn), "argv");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < json_array_get_length(a); i++)
    g_ptr_array_add(argv, g_strdup(json_array_get_string_element(a, i)));
  g_ptr_array_add(argv, g_strdup("-S"));
  for (const char *const *e = extra; e && *e; e++)
    g_ptr_array_add(argv, g_strdup(*e));
  g_ptr_array_add(argv, NULL);
  GPid pid = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async(dir, (char **)argv->pdata, NULL,
                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                              NULL, NULL, &pid, &error));
  g_assert_no_error(error);
  g_autofree char *file = g_strconcat(name, "_VARS.fd", NULL);
  g_autofree char *vars = g_build_filename(state, file, NULL);
  wait_open(pid, vars);
  return pid;
}

static void
stop_vm(GPid pid)
{
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  g_spawn_close_pid(pid);
}

static JsonObject *
find_pid(JsonNode *root, GPid pid, guint *count)
{
  JsonArray *vms = json_object_get_array_member(json_node_get_object(root), "vms");
  JsonObject *found = NULL;
  *count = 0;
  for (guint i = 0; i < json_array_get_length(vms); i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    JsonNode *p = json_object_get_member(vm, "pid");
    if (p && JSON_NODE_HOLDS_VALUE(p) && json_node_get_int(p) == pid) {
      found = vm;
      (*count)++;
    }
  }
  return found;
}

static gchar *
sha256_of(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &data, &len, NULL));
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

/* A running state-dir VM is that VM (running, its pid), listed once; a second QEMU of another
 * name on a copy of a varstore is a process VM. The rollover: a dry run changes no byte;
 * --apply writes the stopped VM and leaves the running one pending and byte-identical. */
static void
test_running_and_rollover(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *state = make_state_dir(dir);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "oldrun", "--state-dir", state,
                               "--enrolled-keys", "--microsoft", "none", NULL), ==, 0);
  g_assert_cmpint(vsb_test_run(NULL, NULL, "provision", "held", "--state-dir", state,
                               "--enrolled-keys", "--microsoft", "none", NULL), ==, 0);
  GPid vm = start_vm(dir, state, "oldrun", NULL);
  /* Another QEMU: the same firmware, its own copy of a store, a name no state dir knows. */
  g_autofree char *stray = g_build_filename(dir, "stray_VARS.fd", NULL);
  g_autofree char *src = g_build_filename(state, "good_VARS.fd", NULL);
  g_free(vsb_test_copy_file(src, NULL, stray, 0600));
  g_autofree char *drive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", stray);
  const char *qargv[] = { "qemu-system-x86_64", "-name", "guest=stray-vm", "-machine",
                          "q35,smm=on", "-accel", "tcg", "-S", "-nodefaults", "-display", "none",
                          "-global", "driver=cfi.pflash01,property=secure,value=on", "-drive",
                          "if=pflash,format=raw,unit=0,readonly=on,file=" OVMF
                          "OVMF_CODE_4M.secboot.fd", "-drive", drive, NULL };
  GPid other = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async(dir, (char **)qargv, NULL,
                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                              NULL, NULL, &other, &error));
  g_assert_no_error(error);
  wait_open(other, stray);
  /* A QEMU under another name on held's own varstore: the scan cannot tell it is held's, but
   * its lock on the file still keeps --apply off it. */
  g_autofree char *held_vars = g_build_filename(state, "held_VARS.fd", NULL);
  g_autofree char *held_drive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s",
                                                held_vars);
  qargv[2] = "guest=intruder";
  qargv[G_N_ELEMENTS(qargv) - 2] = held_drive;
  GPid intruder = 0;
  g_assert_true(g_spawn_async(dir, (char **)qargv, NULL,
                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                              NULL, NULL, &intruder, &error));
  g_assert_no_error(error);
  wait_open(intruder, held_vars);
  g_autofree char *h_held = sha256_of(held_vars);

  int rc = 0;
  const char *args[] = { "--no-libvirt", "--state-dir", state, NULL };
  g_autoptr(JsonNode) root = fleet_json(&rc, args);
  check_shape(root);
  guint n = 0;
  JsonObject *r = find_pid(root, vm, &n);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpstr(json_object_get_string_member(r, "source"), ==, "state-dir");
  g_assert_cmpstr(json_object_get_string_member(r, "name"), ==, "oldrun");
  g_assert_true(json_object_get_boolean_member(r, "running"));
  g_assert_false(has_finding(r, "varstore-shared"));
  g_assert_cmpstr(json_object_get_string_member(r, "verdict"), ==, "enforced");
  JsonObject *o = find_pid(root, other, &n);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpstr(json_object_get_string_member(o, "source"), ==, "process");
  g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "stray-vm");
  g_assert_cmpstr(json_object_get_string_member(o, "verdict"), ==, "enforced");

  /* The rollover, dry run: no byte changes anywhere. */
  g_autofree char *old_vars = g_build_filename(state, "old_VARS.fd", NULL);
  g_autofree char *run_vars = g_build_filename(state, "oldrun_VARS.fd", NULL);
  g_autofree char *good_vars = g_build_filename(state, "good_VARS.fd", NULL);
  g_autofree char *h_old = sha256_of(old_vars), *h_run = sha256_of(run_vars);
  g_autofree char *h_good = sha256_of(good_vars);
  const char *dry[] = { "--no-libvirt", "--state-dir", state, "--rollover", "2023", NULL };
  g_autoptr(JsonNode) d = fleet_json(&rc, dry);
  g_assert_cmpint(rc, ==, 1);
  JsonObject *dro = json_object_get_object_member(find_vm(d, "state-dir", "old"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(dro, "status"), ==, "would-change");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(dro, "changes")), ==, 4);
  /* A store that trusts no Microsoft CA gets none: the rollover never adds trust. */
  JsonObject *dsetup = json_object_get_object_member(find_vm(d, "state-dir", "setup"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(dsetup, "status"), ==, "not-microsoft");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(dsetup, "changes")), ==, 0);
  g_autofree char *h1 = sha256_of(old_vars), *h2 = sha256_of(run_vars);
  g_assert_cmpstr(h1, ==, h_old);
  g_assert_cmpstr(h2, ==, h_run);

  /* --apply: the stopped VM is written, the running one pending and untouched. */
  const char *apply[] = { "--no-libvirt", "--state-dir", state, "--rollover", "2023", "--apply",
                          NULL };
  g_autoptr(JsonNode) ap = fleet_json(&rc, apply);
  g_assert_cmpint(rc, ==, 1);
  JsonObject *aold = json_object_get_object_member(find_vm(ap, "state-dir", "old"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(aold, "status"), ==, "changed");
  JsonObject *arun = json_object_get_object_member(find_vm(ap, "state-dir", "oldrun"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(arun, "status"), ==, "pending");
  JsonObject *agood = json_object_get_object_member(find_vm(ap, "state-dir", "good"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(agood, "status"), ==, "up-to-date");
  g_autofree char *h3 = sha256_of(old_vars), *h4 = sha256_of(run_vars);
  g_autofree char *h5 = sha256_of(good_vars);
  g_assert_cmpstr(h3, !=, h_old);
  g_assert_cmpstr(h4, ==, h_run);
  g_assert_cmpstr(h5, ==, h_good);
  JsonObject *held = find_vm(ap, "state-dir", "held");
  g_assert_true(has_finding(held, "varstore-shared"));
  JsonObject *aheld = json_object_get_object_member(held, "rollover");
  g_assert_cmpstr(json_object_get_string_member(aheld, "status"), ==, "failed");
  g_autofree char *h6 = sha256_of(held_vars);
  g_assert_cmpstr(h6, ==, h_held);
  stop_vm(intruder);
  g_autofree char *shown = NULL;
  const char *show[] = { "vars", "show", old_vars, "--json", NULL };
  g_assert_cmpint(vsb_test_runv(show, &shown, NULL), ==, 0);
  g_assert_nonnull(strstr(shown, "\"windows-2023\" : \"enrolled\""));
  struct stat st;
  g_assert_cmpint(stat(old_vars, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 07777, ==, 0600);

  /* Once stopped, the pending VM is carried over too, and a second run has nothing to do. */
  stop_vm(vm);
  g_autoptr(JsonNode) ap2 = fleet_json(&rc, apply);
  JsonObject *arun2 = json_object_get_object_member(find_vm(ap2, "state-dir", "oldrun"),
                                                    "rollover");
  g_assert_cmpstr(json_object_get_string_member(arun2, "status"), ==, "changed");
  g_autoptr(JsonNode) ap3 = fleet_json(&rc, apply);
  JsonObject *aold3 = json_object_get_object_member(find_vm(ap3, "state-dir", "old"), "rollover");
  g_assert_cmpstr(json_object_get_string_member(aold3, "status"), ==, "up-to-date");
  stop_vm(other);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  vsb_test_require_tool("qemu-system-x86_64");
  g_test_add_func("/fleet/state-dirs", test_state_dirs);
  g_test_add_func("/fleet/table-width", test_table_width);
  g_test_add_func("/fleet/prometheus", test_prometheus);
  g_test_add_func("/fleet/libvirt-unreachable", test_libvirt_unreachable);
  g_test_add_func("/fleet/libvirt-test-driver", test_libvirt_test_driver);
  g_test_add_func("/fleet/running-and-rollover", test_running_and_rollover);
  return g_test_run();
}
