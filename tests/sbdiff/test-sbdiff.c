/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential test of vsboot's Secure Boot verdict against the real firmware.
 *
 * tests/data/sbvariants/ holds hostile-but-valid variants of Debian's OVMF stores (made by
 * tests/sbdiff/sbvariants, committed xz-compressed) and MANIFEST.json: for each, what it
 * changes and what OVMF did with it when the fixtures were made. This test
 *   1. decompresses every fixture with xz and checks its sha256 against the manifest;
 *   2. boots each one under QEMU/TCG exactly as tests/varstore-boot does (Secure Boot OVMF
 *      CODE of the store's layout, q35 with SMM, secure pflash, a private copy of the store)
 *      with the UNSIGNED payload on an ESP, two boots at a time, and requires the firmware to
 *      give the manifest's result again (so the fixtures stay truthful): ran (the payload's
 *      marker, with the SecureBoot/SetupMode values it read), denied (BdsDxe refused the boot
 *      option of the ESP), or timeout/exited;
 *   3. asks vsboot about the same store: `vars show --json` (secure-boot.enforcing and mode),
 *      `audit --qemu-cmdline -` with the boot's command line, and `pe verify PAYLOAD --vars`.
 *      vsboot must say enforced (all three) if and only if the firmware denied the payload.
 * One test case per variant, each judged in a subprocess (g_test_trap_subprocess), so one
 * variant's failure names it and does not stop the others.
 *
 * Recording (how MANIFEST.json was made): VSB_SBDIFF_RECORD=OUT.json VSB_SBDIFF_SOURCE=DIR,
 * where DIR is sbvariants' output; every variant is booted once and OUT.json gets the
 * generator's entries plus the firmware results. No checks run in that mode:
 *   build/tests/sbdiff/sbvariants /tmp/v
 *   VSB_SBDIFF_RECORD=tests/data/sbvariants/MANIFEST.json VSB_SBDIFF_SOURCE=/tmp/v \
 *     VSB_BUILD_ROOT=build VSBOOT=build/src/cli/vsboot VSB_TEST_DATA=tests/data \
 *     build/tests/sbdiff/test-sbdiff
 *   (cd /tmp/v && for f in *.fd; do xz -9 -c $f > "$OLDPWD"/tests/data/sbvariants/$f.xz; done) */
#include "testutil.h"

#include "vsboot/launch.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CODE_4M "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
#define CODE_2M "/usr/share/OVMF/OVMF_CODE.secboot.fd"
/* Boots that should reach a verdict (ran, denied, crashed) get BOOT_TIMEOUT_MS: they stop at
 * it, 3-30 s under TCG depending on the load of the machine. Some variants hang the firmware
 * silently; a variant the manifest records as "timeout" (no verdict in RECORD_TIMEOUT_MS when
 * recorded) is checked again with the shorter HANG_CHECK_MS: still no verdict by then, where
 * every working variant has long decided. */
#define BOOT_TIMEOUT_MS 120000
#define RECORD_TIMEOUT_MS 90000
#define HANG_CHECK_MS 30000
#define N_PARALLEL 2
/* -vga none: the ESP's virtio-blk is the first device after the host bridge. */
#define ESP_DEVICE_PATH "PciRoot(0x0)/Pci(0x1,0x0)"

typedef struct {
  char *name, *layout, *changes, *sha256;
  JsonObject *entry;      /* the manifest's (or generator's) object */
  char *want_result;      /* manifest firmware.result (NULL when recording) */
  gint64 want_sb, want_sm;
  char *check_vars;       /* pristine private copy that vsboot reads */
  char *boot_vars;        /* private copy the firmware boots (and writes) */
  /* filled by the boot worker */
  gboolean booted;
  char *result;           /* ran, denied, denied-elsewhere, crashed, timeout, exited */
  gint64 sb, sm;          /* from the payload's line, -2 when it did not run */
  char *line, *log, *cmdline;
  double seconds;
} Variant;

static GPtrArray *variants; /* Variant* */
static char *workdir;
static char *payload;
static char *esp[N_PARALLEL];
static gboolean recording;
static GMutex lock;
static GCond cond;
static guint next_boot;

static char *
payload_path(void)
{
  const char *root = g_getenv("VSB_BUILD_ROOT");
  g_assert_nonnull(root);
  char *p = g_build_filename(root, "tests", "payload", "sbtest.efi", NULL);
  if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
    vsb_test_fail("the boot-test payload %s was not built (gnu-efi missing?)", p);
  return p;
}

static char *
file_sha256(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, &len, &error))
    vsb_test_fail("%s", error->message);
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

/* The QEMU argv of a boot, as test-varstore-boot.c builds it. */
static GStrv
boot_argv(const Variant *v, const char *vars, const char *esp_image)
{
  const char *code = g_str_equal(v->layout, "2m") ? CODE_2M : CODE_4M;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_autofree char *code_drive =
    g_strdup_printf("if=pflash,format=raw,unit=0,readonly=on,file=%s", code);
  g_autofree char *vars_drive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  g_autofree char *esp_drive = g_strdup_printf("if=none,id=esp,format=raw,file=%s", esp_image);
  const char *const argv[] = {
    "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg", "-m", "256",
    "-global", "driver=cfi.pflash01,property=secure,value=on",
    "-drive", code_drive, "-drive", vars_drive,
    "-drive", esp_drive, "-device", "virtio-blk-pci,drive=esp,bootindex=0",
    "-display", "none", "-vga", "none", "-monitor", "none", "-serial", "stdio", "-net", "none",
    "-no-reboot", NULL,
  };
  g_strv_builder_addv(b, (const char **)argv);
  /* Debian's 2M SMM build stays silent under QEMU 7.2 unless S3 is off (as libvirt turns it
   * off with <pm><suspend-to-mem enabled='no'/>); the 4M build boots either way. */
  if (g_str_equal(v->layout, "2m")) {
    g_strv_builder_add(b, "-global");
    g_strv_builder_add(b, "ICH9-LPC.disable_s3=1");
  }
  return g_strv_builder_end(b);
}

/* Boot one variant (called from a worker thread: no g_assert, no vsb_test_fail here). */
static void
boot_variant(Variant *v, const char *esp_image)
{
  g_auto(GStrv) argv = boot_argv(v, v->boot_vars, esp_image);
  gsize n_default = 0;
  const VsbBootPattern *defaults = vsb_launch_default_patterns(&n_default);
  /* The default patterns, plus the firmware's CPU exception dump: a crash is decided at once
   * (verdict NONE with a line) instead of waiting for the timeout. */
  g_autofree VsbBootPattern *patterns = g_new0(VsbBootPattern, n_default + 1);
  memcpy(patterns, defaults, n_default * sizeof *patterns);
  patterns[n_default] = (VsbBootPattern){ "!!!! X64 Exception", VSB_BOOT_VERDICT_NONE };
  gsize n_patterns = n_default + 1;
  g_autoptr(GError) error = NULL;
  guint timeout_ms = recording ? RECORD_TIMEOUT_MS
                     : g_strcmp0(v->want_result, "timeout") == 0 ? HANG_CHECK_MS
                                                                 : BOOT_TIMEOUT_MS;
  g_autoptr(VsbLaunchResult) res =
    vsb_launch_watch((const char *const *)argv, patterns, n_patterns, timeout_ms, &error);
  char *result;
  gint64 sb = -2, sm = -2;
  if (res == NULL) {
    result = g_strdup_printf("qemu-failed: %s", error->message);
  } else if (res->verdict == VSB_BOOT_VERDICT_RAN) {
    const char *m = strstr(res->line, VSB_PAYLOAD_MARKER " SecureBoot=");
    int a = -2, b = -2;
    if (m && sscanf(m, VSB_PAYLOAD_MARKER " SecureBoot=%d SetupMode=%d", &a, &b) == 2) {
      result = g_strdup("ran");
      sb = a;
      sm = b;
    } else {
      result = g_strdup("ran-unparsed");
    }
  } else if (res->verdict == VSB_BOOT_VERDICT_DENIED) {
    /* Denied only counts for the boot option that carries the payload. */
    result = g_strdup(strstr(res->line, ESP_DEVICE_PATH) ? "denied" : "denied-elsewhere");
  } else if (res->verdict == VSB_BOOT_VERDICT_TIMEOUT) {
    result = g_strdup("timeout");
  } else if (res->line && strstr(res->line, "X64 Exception")) {
    result = g_strdup("crashed");
  } else {
    result = g_strdup("exited");
  }
  g_mutex_lock(&lock);
  v->result = result;
  v->sb = sb;
  v->sm = sm;
  v->cmdline = g_strjoinv(" ", argv);
  if (res) {
    v->line = g_strdup(res->line ? res->line : "");
    v->log = g_strdup(res->log);
    v->seconds = res->seconds;
  } else {
    v->line = g_strdup("");
    v->log = g_strdup("");
  }
  v->booted = TRUE;
  g_cond_broadcast(&cond);
  g_mutex_unlock(&lock);
}

static gpointer
boot_worker(gpointer data)
{
  const char *esp_image = data;
  for (;;) {
    g_mutex_lock(&lock);
    guint i = next_boot++;
    g_mutex_unlock(&lock);
    if (i >= variants->len)
      return NULL;
    boot_variant(variants->pdata[i], esp_image);
  }
}

static Variant *
wait_booted(Variant *v)
{
  g_mutex_lock(&lock);
  while (!v->booted)
    g_cond_wait(&cond, &lock);
  g_mutex_unlock(&lock);
  return v;
}

static const char *
str_member(JsonObject *o, const char *name)
{
  if (o == NULL || !json_object_has_member(o, name))
    return NULL;
  JsonNode *n = json_object_get_member(o, name);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

static gint64
int_member(JsonObject *o, const char *name, gint64 dflt)
{
  if (o == NULL || !json_object_has_member(o, name))
    return dflt;
  JsonNode *n = json_object_get_member(o, name);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return dflt;
  return json_node_get_int(n);
}

static JsonNode *
load_json(const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &text, NULL, &error))
    vsb_test_fail("%s", error->message);
  return vsb_test_parse_json(text);
}

/* Variants from a manifest (or the generator's variants.json when recording). */
static void
load_variants(JsonNode *root, gboolean need_firmware)
{
  JsonArray *a = json_object_get_array_member(json_node_get_object(root), "variants");
  if (a == NULL || json_array_get_length(a) == 0)
    vsb_test_fail("the manifest lists no variants");
  variants = g_ptr_array_new();
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    Variant *v = g_new0(Variant, 1);
    v->entry = json_object_ref(o);
    v->name = g_strdup(str_member(o, "name"));
    v->layout = g_strdup(str_member(o, "layout"));
    v->changes = g_strdup(str_member(o, "changes"));
    v->sha256 = g_strdup(str_member(o, "sha256"));
    if (!v->name || !v->layout || !v->changes || !v->sha256)
      vsb_test_fail("manifest entry %u lacks name, layout, changes or sha256", i);
    JsonObject *fw = json_object_has_member(o, "firmware")
                       ? json_object_get_object_member(o, "firmware") : NULL;
    v->want_result = g_strdup(str_member(fw, "result"));
    v->want_sb = int_member(fw, "secure-boot", -2);
    v->want_sm = int_member(fw, "setup-mode", -2);
    if (need_firmware && v->want_result == NULL)
      vsb_test_fail("manifest entry %s has no firmware.result", v->name);
    v->check_vars = g_strdup_printf("%s/check/%s.fd", workdir, v->name);
    v->boot_vars = g_strdup_printf("%s/boot/%s.fd", workdir, v->name);
    g_ptr_array_add(variants, v);
  }
}

/* The two private copies of every variant, from the xz fixtures (checked against the
 * manifest's sha256) or, when recording, from the generator's output directory. */
static void
prepare_stores(const char *source_dir, gboolean compressed)
{
  g_autofree char *check = g_build_filename(workdir, "check", NULL);
  g_autofree char *boot = g_build_filename(workdir, "boot", NULL);
  g_assert_cmpint(g_mkdir(check, 0700), ==, 0);
  g_assert_cmpint(g_mkdir(boot, 0700), ==, 0);
  for (guint i = 0; i < variants->len; i++) {
    Variant *v = variants->pdata[i];
    if (compressed) {
      g_autofree char *xz_name = g_strdup_printf("%s.fd.xz", v->name);
      g_autofree char *xz_src = g_build_filename(source_dir, xz_name, NULL);
      g_autofree char *xz_copy = g_strdup_printf("%s.xz", v->check_vars);
      g_free(vsb_test_copy_file(xz_src, NULL, xz_copy, 0600));
      const char *unxz[] = { "xz", "-d", "-q", xz_copy, NULL };
      g_autofree char *err = NULL;
      if (vsb_test_spawn(unxz, NULL, NULL, &err) != 0)
        vsb_test_fail("xz -d %s failed: %s", xz_copy, err);
      g_assert_cmpint(g_chmod(v->check_vars, 0600), ==, 0);
    } else {
      g_autofree char *fd_name = g_strdup_printf("%s.fd", v->name);
      g_autofree char *src = g_build_filename(source_dir, fd_name, NULL);
      g_free(vsb_test_copy_file(src, NULL, v->check_vars, 0600));
    }
    g_autofree char *sum = file_sha256(v->check_vars);
    if (!g_str_equal(sum, v->sha256))
      vsb_test_fail("fixture %s: sha256 %s, the manifest says %s", v->name, sum, v->sha256);
    g_free(vsb_test_copy_file(v->check_vars, NULL, v->boot_vars, 0600));
  }
}

static void
start_boots(void)
{
  for (int k = 0; k < N_PARALLEL; k++) {
    g_autofree char *name = g_strdup_printf("esp%d.img", k);
    esp[k] = vsb_test_make_esp(workdir, name, payload);
  }
  for (int k = 0; k < N_PARALLEL; k++)
    g_thread_unref(g_thread_new("boot", boot_worker, esp[k]));
}

static char *
firmware_text(const char *result, gint64 sb, gint64 sm)
{
  if (g_str_equal(result, "ran"))
    return g_strdup_printf("ran (SecureBoot=%" G_GINT64_FORMAT " SetupMode=%" G_GINT64_FORMAT
                           ")", sb, sm);
  return g_strdup(result);
}

/* ---- the per-variant check (runs in the test subprocess) ---- */

/* The subprocess runs quiet (-q: its g_test_message lines are dropped), so what it has to say
 * also goes to workdir/result/NAME.notes, which the parent prints as TAP comments. */
static const Variant *current;

static void note(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void
note(const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  g_autofree char *text = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_test_message("%s", text);
  g_autofree char *path = g_strdup_printf("%s/result/%s.notes", workdir, current->name);
  FILE *f = fopen(path, "a");
  if (f) {
    fprintf(f, "%s\n", text);
    fclose(f);
  }
}

#define check_fail(...)                                                                    \
  do {                                                                                     \
    g_autofree char *msg_ = g_strdup_printf(__VA_ARGS__);                                  \
    note("FAILED: %s", msg_);                                                              \
    vsb_test_fail("%s", msg_);                                                             \
  } while (0)

typedef struct {
  gboolean enforced;
  char *text;
} Claim;

/* vars show VARS --json: enforced when secure-boot.enforcing is true and the judgement is
 * not marked uncertain (secure-boot.verdict "uncertain", or a "certain": false or an
 * "uncertain" mode/certainty). A store vsboot refuses to read (exit 2) claims nothing. */
static Claim
claim_show(const char *vars)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "vars", "show", vars, "--json", NULL);
  if (rc != 0)
    return (Claim){ FALSE, g_strdup_printf("exit %d: %s", rc, g_strstrip(err)) };
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *root = json_node_get_object(node);
  JsonObject *sb = json_object_has_member(root, "secure-boot")
                     ? json_object_get_object_member(root, "secure-boot") : NULL;
  if (sb == NULL)
    return (Claim){ FALSE, g_strdup("no secure-boot object") };
  const char *mode = str_member(sb, "mode");
  gboolean enforcing = json_object_has_member(sb, "enforcing") &&
                       json_object_get_boolean_member(sb, "enforcing");
  gboolean uncertain = FALSE;
  if (json_object_has_member(sb, "certain") && !json_object_get_boolean_member(sb, "certain"))
    uncertain = TRUE;
  const char *certainty = str_member(sb, "certainty");
  const char *verdict = str_member(sb, "verdict");
  if (g_strcmp0(mode, "uncertain") == 0 || g_strcmp0(certainty, "uncertain") == 0 ||
      g_strcmp0(verdict, "uncertain") == 0)
    uncertain = TRUE;
  return (Claim){ enforcing && !uncertain,
                  g_strdup_printf("mode %s, enforcing %s%s%s%s", mode ? mode : "(none)",
                                  enforcing ? "true" : "false", verdict ? ", verdict " : "",
                                  verdict ? verdict : "", uncertain ? " (uncertain)" : "") };
}

/* audit --qemu-cmdline - with the boot's command line on stdin. */
static Claim
claim_audit(const char *cmdline)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
    G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawn(
    l, &error, vsb_test_vsboot(), "audit", "--qemu-cmdline", "-", "--no-process-scan", "--json",
    NULL);
  if (p == NULL)
    vsb_test_fail("cannot run vsboot audit: %s", error->message);
  g_autofree char *out = NULL, *err = NULL;
  if (!g_subprocess_communicate_utf8(p, cmdline, NULL, &out, &err, &error))
    vsb_test_fail("vsboot audit: %s", error->message);
  if (err && (strstr(err, "ERROR: AddressSanitizer") || strstr(err, "runtime error:")))
    vsb_test_fail("sanitizer report from vsboot audit:\n%s", err);
  if (!g_subprocess_get_if_exited(p))
    vsb_test_fail("vsboot audit died of a signal");
  int rc = g_subprocess_get_exit_status(p);
  if (rc == 2)
    return (Claim){ FALSE, g_strdup_printf("exit 2: %s", err ? g_strstrip(err) : "") };
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *root = json_node_get_object(node);
  const char *verdict = str_member(root, "verdict");
  GString *ids = g_string_new(NULL);
  JsonArray *findings = json_object_has_member(root, "findings")
                          ? json_object_get_array_member(root, "findings") : NULL;
  for (guint i = 0; findings && i < json_array_get_length(findings); i++) {
    JsonObject *f = json_array_get_object_element(findings, i);
    if (g_strcmp0(str_member(f, "severity"), "error") == 0)
      g_string_append_printf(ids, "%s%s", ids->len ? "," : "", str_member(f, "id"));
  }
  gboolean enforced = rc == 0 && g_strcmp0(verdict, "enforced") == 0;
  Claim c = { enforced, g_strdup_printf("%s (exit %d%s%s)", verdict ? verdict : "(none)", rc,
                                        ids->len ? ", errors " : "", ids->str) };
  g_string_free(ids, TRUE);
  return c;
}

/* pe verify PAYLOAD --vars VARS --json: the unsigned payload denied = enforced. */
static Claim
claim_pe_verify(const char *vars)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_run(&out, &err, "pe", "verify", payload, "--vars", vars, "--json", NULL);
  if (rc == 2)
    return (Claim){ FALSE, g_strdup_printf("exit 2: %s", g_strstrip(err)) };
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  const char *verdict = str_member(json_node_get_object(node), "verdict");
  return (Claim){ rc == 1 && g_strcmp0(verdict, "denied") == 0,
                  g_strdup_printf("%s (exit %d)", verdict ? verdict : "(none)", rc) };
}

static void
check_variant(Variant *v)
{
  current = v;
  /* The boot result, as the parent wrote it. */
  g_autofree char *path = g_strdup_printf("%s/result/%s", workdir, v->name);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) error = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error))
    vsb_test_fail("%s: %s", path, error->message);
  g_autofree char *result = g_key_file_get_string(kf, "boot", "result", NULL);
  gint64 sb = g_key_file_get_int64(kf, "boot", "secure-boot", NULL);
  gint64 sm = g_key_file_get_int64(kf, "boot", "setup-mode", NULL);
  g_autofree char *line = g_key_file_get_string(kf, "boot", "line", NULL);
  g_autofree char *cmdline = g_key_file_get_string(kf, "boot", "cmdline", NULL);
  g_autofree char *logfile = g_strdup_printf("%s/result/%s.log", workdir, v->name);
  g_assert_nonnull(result);
  g_assert_nonnull(cmdline);

  g_autofree char *got = firmware_text(result, sb, sm);
  g_autofree char *want = firmware_text(v->want_result, v->want_sb, v->want_sm);
  note("%s: %s", v->name, v->changes);
  note("firmware: %s; manifest: %s; line: %s", got, want, line ? line : "");
  if (!g_str_equal(got, want)) {
    g_autofree char *log = NULL;
    g_file_get_contents(logfile, &log, NULL, NULL);
    check_fail("%s: the firmware now gives %s, the manifest says %s\nconsole:\n%s", v->name,
               got, want, log ? log : "");
  }

  /* The audit reads the pristine copy: same command line, the store path swapped. */
  g_autofree char *audit_cmdline = NULL;
  {
    g_auto(GStrv) parts = g_strsplit(cmdline, v->boot_vars, -1);
    audit_cmdline = g_strjoinv(v->check_vars, parts);
  }
  Claim show = claim_show(v->check_vars);
  Claim audit = claim_audit(audit_cmdline);
  Claim pe = claim_pe_verify(v->check_vars);
  g_autofree char *summary =
    g_strdup_printf("vars show: %s; audit: %s; pe verify: %s", show.text, audit.text, pe.text);
  note("%s", summary);
  gboolean denied = g_str_equal(result, "denied");
  gboolean all = show.enforced && audit.enforced && pe.enforced;
  gboolean any = show.enforced || audit.enforced || pe.enforced;
  g_autofree char *show_text = show.text, *audit_text = audit.text, *pe_text = pe.text;
  if (denied && !all)
    check_fail("%s: the firmware denied the unsigned payload, vsboot does not say enforced: %s",
               v->name, summary);
  if (!denied && any)
    check_fail("%s: the firmware did not deny the unsigned payload (%s), vsboot says enforced: "
               "%s", v->name, got, summary);
}

static void
write_result(Variant *v)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_key_file_set_string(kf, "boot", "result", v->result);
  g_key_file_set_int64(kf, "boot", "secure-boot", v->sb);
  g_key_file_set_int64(kf, "boot", "setup-mode", v->sm);
  g_key_file_set_string(kf, "boot", "line", v->line);
  g_key_file_set_string(kf, "boot", "cmdline", v->cmdline);
  g_autofree char *path = g_strdup_printf("%s/result/%s", workdir, v->name);
  g_autoptr(GError) error = NULL;
  g_assert_true(g_key_file_save_to_file(kf, path, &error));
  g_autofree char *logfile = g_strdup_printf("%s.log", path);
  vsb_test_write_file(logfile, v->log, -1);
}

static void
test_variant(gconstpointer data)
{
  Variant *v = (Variant *)data;
  if (g_test_subprocess()) {
    check_variant(v);
    return;
  }
  wait_booted(v);
  g_test_message("%s booted in %.1f s", v->name, v->seconds);
  write_result(v);
  g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  /* The child's notes carry the detail (printed for every variant: the firmware's result and
   * vsboot's three answers); its stderr the error of anything else that failed. */
  g_autofree char *notes_path = g_strdup_printf("%s/result/%s.notes", workdir, v->name);
  g_autofree char *notes = NULL;
  g_file_get_contents(notes_path, &notes, NULL, NULL);
  g_auto(GStrv) lines = g_strsplit(notes ? notes : "", "\n", -1);
  gboolean passed = g_test_trap_has_passed();
  const char *why = NULL;
  for (char **l = lines; *l; l++) {
    if (**l)
      g_test_message("%s", *l);
    if (g_str_has_prefix(*l, "FAILED: "))
      why = *l + 8;
  }
  if (!passed)
    g_test_fail_printf("%s", why ? why : "the check of this variant failed (error on stderr)");
}

/* Recording: boot every generator output once, write the manifest with the results. */
static int
record(const char *out_path, const char *source_dir)
{
  g_autofree char *vj = g_build_filename(source_dir, "variants.json", NULL);
  g_autoptr(JsonNode) root = load_json(vj);
  load_variants(root, FALSE);
  prepare_stores(source_dir, FALSE);
  start_boots();
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "note");
  json_builder_add_string_value(
    b, "Made by tests/sbdiff/sbvariants; firmware = what OVMF 2022.11 (Debian, "
       "OVMF_CODE*.secboot.fd, QEMU 7.2 TCG, q35 SMM) did with the unsigned payload: "
       "ran (with the SecureBoot/SetupMode values the payload read; -1 = absent), denied "
       "(BdsDxe refused the ESP's boot option), crashed (CPU exception dump on the console), "
       "timeout (no verdict in 90 s: a silent hang), exited. Checked again by test-sbdiff. "
       "The 2M OVMF_CODE.secboot.fd boots under QEMU 7.2 only with ICH9-LPC.disable_s3=1, "
       "which the 2M boots add.");
  json_builder_set_member_name(b, "variants");
  json_builder_begin_array(b);
  for (guint i = 0; i < variants->len; i++) {
    Variant *v = wait_booted(variants->pdata[i]);
    fprintf(stderr, "%-34s %5.1f s  %s  %s\n", v->name, v->seconds, v->result, v->line);
    json_builder_begin_object(b);
    for (const char *const *m = (const char *const[]){ "name", "base", "layout", "changes",
                                                       "sha256", NULL }; *m; m++) {
      json_builder_set_member_name(b, *m);
      json_builder_add_string_value(b, str_member(v->entry, *m));
    }
    json_builder_set_member_name(b, "file");
    g_autofree char *file = g_strdup_printf("%s.fd.xz", v->name);
    json_builder_add_string_value(b, file);
    json_builder_set_member_name(b, "firmware");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "result");
    json_builder_add_string_value(b, v->result);
    if (g_str_equal(v->result, "ran")) {
      json_builder_set_member_name(b, "secure-boot");
      json_builder_add_int_value(b, v->sb);
      json_builder_set_member_name(b, "setup-mode");
      json_builder_add_int_value(b, v->sm);
    }
    json_builder_set_member_name(b, "line");
    json_builder_add_string_value(b, v->line);
    json_builder_end_object(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  g_autoptr(JsonNode) out = json_builder_get_root(b);
  json_generator_set_root(gen, out);
  g_autoptr(GError) error = NULL;
  if (!json_generator_to_file(gen, out_path, &error))
    vsb_test_fail("%s", error->message);
  return 0;
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  const char *rec = g_getenv("VSB_SBDIFF_RECORD");
  gboolean child = g_test_subprocess();
  if (!child) {
    /* A variant that fails (g_test_fail_printf after its subprocess) must not stop the others:
     * this also turns off GLib's bail-out after the first failed test case. */
    g_test_set_nonfatal_assertions();
    for (const char *const *t = (const char *const[]){ "qemu-system-x86_64", "xz", "mkfs.vfat",
                                                       "mcopy", "mmd", NULL }; *t; t++)
      vsb_test_require_tool(*t);
    g_autoptr(GError) error = NULL;
    workdir = g_dir_make_tmp("vsboot-sbdiff-XXXXXX", &error);
    g_assert_no_error(error);
    /* The test subprocesses find the boot results here (set before any thread starts). */
    g_setenv("VSB_SBDIFF_WORK", workdir, TRUE);
    g_autofree char *results = g_build_filename(workdir, "result", NULL);
    g_assert_cmpint(g_mkdir(results, 0700), ==, 0);
  } else {
    workdir = g_strdup(g_getenv("VSB_SBDIFF_WORK"));
    g_assert_nonnull(workdir);
  }
  payload = payload_path();

  if (rec && !child) {
    const char *source = g_getenv("VSB_SBDIFF_SOURCE");
    if (source == NULL)
      vsb_test_fail("VSB_SBDIFF_RECORD needs VSB_SBDIFF_SOURCE (sbvariants' output)");
    recording = TRUE;
    int rc = record(rec, source);
    if (!g_getenv("VSB_TEST_KEEP")) {
      const char *rm[] = { "rm", "-rf", "--", workdir, NULL };
      vsb_test_spawn(rm, NULL, NULL, NULL);
    }
    return rc;
  }

  g_autofree char *data = g_build_filename(vsb_test_data_dir(), "sbvariants", NULL);
  g_autofree char *manifest = g_build_filename(data, "MANIFEST.json", NULL);
  g_autoptr(JsonNode) root = load_json(manifest);
  load_variants(root, TRUE);
  if (!child) {
    prepare_stores(data, TRUE);
    start_boots();
  }
  for (guint i = 0; i < variants->len; i++) {
    Variant *v = variants->pdata[i];
    g_autofree char *path = g_strdup_printf("/sbdiff/%s", v->name);
    g_test_add_data_func(path, v, test_variant);
  }
  int rc = g_test_run();
  if (!child) {
    /* Boots of variants no test case waited for (-p, -s) finish before their files go. */
    for (guint i = 0; i < variants->len; i++)
      wait_booted(variants->pdata[i]);
  }
  if (!child && !g_getenv("VSB_TEST_KEEP")) {
    const char *rm[] = { "rm", "-rf", "--", workdir, NULL };
    vsb_test_spawn(rm, NULL, NULL, NULL);
  }
  return rc;
}
