/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential test: a real libvirtd (Debian 12's, in a private mount namespace started by
 * libvirtd-ns.sh) and `vsboot firmware select` must choose the same firmware for the same
 * request over the same descriptor directory.
 *
 * For every row of the table, libvirt is asked twice: `virsh domxml-to-native qemu-argv`
 * (the executable from the pflash0 -blockdev or -bios, smm=on in -machine, the cfi.pflash01
 * secure global) and `virsh create --paused` + `virsh dumpxml` (the NVRAM template, which the
 * argv does not show: it names the per-VM copy). Both answers must agree with each other and
 * with the concrete values written in the row, and vsboot must give the same executable and
 * template, or fail where libvirt fails.
 *
 * It runs against the host's libvirt (Debian 12's 9.0) and, registered a second time with
 * VSB_LIBVIRT=11.3, against libvirt 11.3 from bookworm-backports (libvirtd-ns.h). Each row
 * states what each version does: 9.0's answer (exec/tmpl/smm, or lv_error), and for 11.3 the
 * same where 9.0 succeeds, vsboot's answer (vsb_exec, vsb_tmpl, vsb_smm) where 9.0 differs,
 * and its own error text (lv11_error) where all refuse.
 *
 * libvirt 9.0 predates three rules vsboot follows (notes/firmware-descriptors.md §2): it
 * fails on any unparsable descriptor instead of skipping it, it cannot use qcow2 descriptors
 * (and fails when one comes first instead of passing over it), and with <smm state='off'/>
 * it picks the first SMM image and then errors instead of passing over it. Those rows assert
 * libvirt's error and vsboot's answer separately, so the difference is checked, not hidden. */
#include "libvirtd-ns.h"
#include "testutil.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *name;
  const char *set;        /* debian, fedora (committed), qcow2, broken (generated) */
  const char *arch;       /* x86_64, aarch64 */
  const char *machine;    /* alias as a user writes it: q35, pc, virt */
  const char *fw;         /* efi, bios */
  const char *os_extra;   /* XML inside <os> */
  const char *feat_extra; /* XML inside <features> */
  const char *vsb_args;   /* the equivalent vsboot request, space-separated */
  /* libvirt's answer: exec NULL means libvirt fails with lv_error in its message */
  const char *exec;
  const char *tmpl;       /* NULL: no template (stateless flash, memory) */
  gboolean smm;           /* smm=on and the cfi.pflash01 secure global */
  const char *lv_error;
  /* Only for the documented differences (lv_error set, vsboot still matches): */
  const char *vsb_exec;
  const char *vsb_tmpl;
  /* libvirt 11.3: on those rows it chooses what vsboot chooses, SMM (and the secure flash) as
   * vsb_smm says; where 9.0 and vsboot both refuse (vsb_exec NULL), it refuses with lv11_error.
   * Rows where 9.0 succeeds: 11.3 chooses the same. */
  gboolean vsb_smm;
  const char *lv11_error;
} Row;

#define OVMF "/usr/share/OVMF/"
#define AAVMF "/usr/share/AAVMF/"
#define SB_ENROLLED "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>"
#define SB_ONLY                                                                                    \
  "<firmware><feature enabled='yes' name='secure-boot'/>"                                         \
  "<feature enabled='no' name='enrolled-keys'/></firmware>"
#define SB_NO "<firmware><feature enabled='no' name='secure-boot'/></firmware>"
#define SB_YES "<firmware><feature enabled='yes' name='secure-boot'/></firmware>"
#define SMM_OFF "<smm state='off'/>"
#define NO_FW "Unable to find any firmware to satisfy"
#define SMM_ERR "domain has SMM turned off but chosen firmware requires it"
/* libvirt 11.3's words where it, 9.0 and vsboot all find no firmware. */
#define NO_FW_11 "firmware that is compatible with the current configuration"

static const Row rows[] = {
  /* Debian 12's own descriptors. */
  { "sb-enrolled", "debian", "x86_64", "q35", "efi", SB_ENROLLED, "",
    "--feature enrolled-keys", OVMF "OVMF_CODE_4M.ms.fd", OVMF "OVMF_VARS_4M.ms.fd", TRUE },
  { "sb-not-enrolled", "debian", "x86_64", "q35", "efi", SB_ONLY, "",
    "--feature secure-boot --no-feature enrolled-keys", OVMF "OVMF_CODE_4M.secboot.fd",
    OVMF "OVMF_VARS_4M.fd", TRUE },
  { "sb-refused", "debian", "x86_64", "q35", "efi", SB_NO, "", "--no-feature secure-boot",
    OVMF "OVMF_CODE_4M.fd", OVMF "OVMF_VARS_4M.fd", FALSE },
  { "plain-efi", "debian", "x86_64", "q35", "efi", "", "", "", OVMF "OVMF_CODE_4M.ms.fd",
    OVMF "OVMF_VARS_4M.ms.fd", TRUE },
  { "i440fx", "debian", "x86_64", "pc", "efi", "", "", "", OVMF "OVMF_CODE_4M.fd",
    OVMF "OVMF_VARS_4M.fd", FALSE },
  { "i440fx-sb", "debian", "x86_64", "pc", "efi", SB_YES, "", "--feature secure-boot", NULL,
    NULL, FALSE, NO_FW, NULL, NULL, FALSE, NO_FW_11 },
  { "aarch64", "debian", "aarch64", "virt", "efi", "", "", "", AAVMF "AAVMF_CODE.ms.fd",
    AAVMF "AAVMF_VARS.ms.fd", FALSE },
  { "aarch64-sb-refused", "debian", "aarch64", "virt", "efi", SB_NO, "",
    "--no-feature secure-boot", AAVMF "AAVMF_CODE.fd", AAVMF "AAVMF_VARS.fd", FALSE },
  { "bios", "debian", "x86_64", "q35", "bios", "", "", "--interface bios", NULL, NULL, FALSE,
    NO_FW, NULL, NULL, FALSE, NO_FW_11 },
  /* Difference: libvirt 9.0 takes the first (SMM) image and then refuses it; 11.3 passes over
   * it as vsboot does. */
  { "smm-off", "debian", "x86_64", "q35", "efi", "", SMM_OFF, "--no-feature requires-smm", NULL,
    NULL, FALSE, SMM_ERR, OVMF "OVMF_CODE_4M.fd", OVMF "OVMF_VARS_4M.fd",
    FALSE },

  /* Fedora's layout (2M raw builds, explicit mode, stateless SEV image) + a SeaBIOS descriptor. */
  { "sb-enrolled", "fedora", "x86_64", "q35", "efi", SB_ENROLLED, "",
    "--feature enrolled-keys", OVMF "OVMF_CODE.secboot.fd", OVMF "OVMF_VARS.ms.fd", TRUE },
  { "sb-not-enrolled", "fedora", "x86_64", "q35", "efi", SB_ONLY, "",
    "--feature secure-boot --no-feature enrolled-keys", OVMF "OVMF_CODE.secboot.fd",
    OVMF "OVMF_VARS.fd", TRUE },
  { "sb-refused", "fedora", "x86_64", "q35", "efi", SB_NO, "", "--no-feature secure-boot",
    OVMF "OVMF_CODE.fd", OVMF "OVMF_VARS.fd", FALSE },
  { "plain-efi", "fedora", "x86_64", "q35", "efi", "", "", "", OVMF "OVMF_CODE.secboot.fd",
    OVMF "OVMF_VARS.ms.fd", TRUE },
  { "i440fx", "fedora", "x86_64", "pc", "efi", "", "", "", OVMF "OVMF_CODE.fd",
    OVMF "OVMF_VARS.fd", FALSE },
  { "i440fx-sb", "fedora", "x86_64", "pc", "efi", SB_YES, "", "--feature secure-boot", NULL,
    NULL, FALSE, NO_FW, NULL, NULL, FALSE, NO_FW_11 },
  { "aarch64", "fedora", "aarch64", "virt", "efi", "", "", "", AAVMF "AAVMF_CODE.fd",
    AAVMF "AAVMF_VARS.fd", FALSE },
  { "aarch64-sb", "fedora", "aarch64", "virt", "efi", SB_YES, "", "--feature secure-boot", NULL,
    NULL, FALSE, NO_FW, NULL, NULL, FALSE, NO_FW_11 },
  { "stateless", "fedora", "x86_64", "q35", "efi", "<loader stateless='yes'/>", "",
    "--mode stateless", OVMF "OVMF_CODE_4M.fd", NULL, FALSE },
  { "bios-q35", "fedora", "x86_64", "q35", "bios", "", "", "--interface bios",
    "/usr/share/seabios/bios-256k.bin", NULL, FALSE },
  { "bios-i440fx", "fedora", "x86_64", "pc", "bios", "", "", "--interface bios",
    "/usr/share/seabios/bios-256k.bin", NULL, FALSE },
  { "smm-off", "fedora", "x86_64", "q35", "efi", "", SMM_OFF, "--no-feature requires-smm", NULL,
    NULL, FALSE, SMM_ERR, OVMF "OVMF_CODE.fd", OVMF "OVMF_VARS.fd", FALSE },

  /* Difference: a qcow2 descriptor ahead of Debian's. libvirt 9.0 picks it and fails;
   * vsboot and libvirt 11.3 use it, and with --format raw pass over it (the raw pin of newer
   * libvirt).
   * Paths of @TMP@ files are filled in at run time. */
  { "qcow2-first", "qcow2", "x86_64", "q35", "efi", SB_ENROLLED, "", "--feature enrolled-keys",
    NULL, NULL, FALSE, "unsupported flash format 'qcow2'", "@TMP@/OVMF_CODE_4M.ms.qcow2",
    "@TMP@/OVMF_VARS_4M.ms.qcow2", TRUE },
  { "qcow2-first-raw", "qcow2", "x86_64", "q35", "efi", SB_ENROLLED "<loader format='raw'/>", "",
    "--feature enrolled-keys --format raw", NULL, NULL, FALSE,
    "unsupported flash format 'qcow2'", OVMF "OVMF_CODE_4M.ms.fd", OVMF "OVMF_VARS_4M.ms.fd",
    TRUE },
  /* Difference: one unparsable file beside Debian's. libvirt 9.0 fails every request;
   * vsboot reports and skips that file, libvirt 11.3 skips it. */
  { "broken-file", "broken", "x86_64", "q35", "efi", SB_ENROLLED, "", "--feature enrolled-keys",
    NULL, NULL, FALSE, "failed to get interface-types from '/usr/share/qemu/firmware/93-invalid.json'",
    OVMF "OVMF_CODE_4M.ms.fd", OVMF "OVMF_VARS_4M.ms.fd", TRUE },
};

typedef struct {
  gboolean ok;
  char *exec;
  char *tmpl;
  char *machine;
  gboolean smm;
  gboolean secure;
  char *error;
} Answer;

static void
answer_clear(Answer *a)
{
  g_free(a->exec);
  g_free(a->tmpl);
  g_free(a->machine);
  g_free(a->error);
  memset(a, 0, sizeof *a);
}

/* The one libvirtd of this program, and the directory bind-mounted over
 * /usr/share/qemu/firmware in its namespace. */
static struct {
  char *tmp;
  char *fwdir;
  char *current_set;
  VsbTestLibvirtd *libvirtd;
} ctx;

#define virsh(out, err, ...) vsb_test_libvirtd_virsh(ctx.libvirtd, out, err, __VA_ARGS__)

/* `qemu-system-ARCH -machine help` says "q35 ... (alias of pc-q35-7.2)": libvirt stores the
 * versioned name, and vsboot is given the same. */
static char *
resolve_machine(const char *arch, const char *alias)
{
  g_autofree char *bin = g_strdup_printf("qemu-system-%s", arch);
  g_autofree char *out = NULL;
  const char *argv[] = { bin, "-machine", "help", NULL };
  g_assert_cmpint(vsb_test_spawn(argv, NULL, &out, NULL), ==, 0);
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) words = g_strsplit_set(*l, " ", 2);
    if (g_strcmp0(words[0], alias) != 0)
      continue;
    const char *al = strstr(*l, "(alias of ");
    if (al == NULL)
      return g_strdup(alias);
    al += strlen("(alias of ");
    const char *end = strchr(al, ')');
    g_assert_nonnull(end);
    return g_strndup(al, (gsize)(end - al));
  }
  vsb_test_fail("%s -machine help does not list %s", bin, alias);
  return NULL;
}

static void
copy_set(const char *set)
{
  g_autofree char *src = g_build_filename(vsb_test_data_dir(), "libvirt-fw", set, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open(src, 0, &error);
  g_assert_no_error(error);
  for (const char *n = g_dir_read_name(dir); n; n = g_dir_read_name(dir)) {
    g_autofree char *from = g_build_filename(src, n, NULL);
    g_autofree char *to = g_build_filename(ctx.fwdir, n, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_file_get_contents(from, &data, &len, &error);
    g_assert_no_error(error);
    vsb_test_write_file(to, data, (gssize)len);
  }
}

static char *
subst_tmp(const char *s)
{
  if (s == NULL)
    return NULL;
  g_auto(GStrv) parts = g_strsplit(s, "@TMP@", -1);
  return g_strjoinv(ctx.tmp, parts);
}

/* Fill the firmware directory with one set; libvirt re-reads it at every request. */
static void
use_set(const char *set)
{
  if (g_strcmp0(ctx.current_set, set) == 0)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open(ctx.fwdir, 0, &error);
  g_assert_no_error(error);
  for (const char *n = g_dir_read_name(dir); n; n = g_dir_read_name(dir)) {
    g_autofree char *p = g_build_filename(ctx.fwdir, n, NULL);
    g_assert_cmpint(g_unlink(p), ==, 0);
  }
  if (g_str_equal(set, "qcow2")) {
    copy_set("debian");
    /* A Fedora-style 4M qcow2 image with enrolled keys, made from Debian's raw one. */
    const char *pairs[][2] = { { OVMF "OVMF_CODE_4M.ms.fd", "OVMF_CODE_4M.ms.qcow2" },
                               { OVMF "OVMF_VARS_4M.ms.fd", "OVMF_VARS_4M.ms.qcow2" } };
    for (gsize i = 0; i < G_N_ELEMENTS(pairs); i++) {
      g_autofree char *to = g_build_filename(ctx.tmp, pairs[i][1], NULL);
      if (g_file_test(to, G_FILE_TEST_EXISTS))
        continue;
      const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", pairs[i][0], to,
                             NULL };
      g_assert_cmpint(vsb_test_spawn(argv, NULL, NULL, NULL), ==, 0);
    }
    g_autofree char *json = g_strdup_printf(
      "{\n  \"description\": \"OVMF 4M qcow2, SB enabled, MS certs enrolled\",\n"
      "  \"interface-types\": [\"uefi\"],\n"
      "  \"mapping\": {\"device\": \"flash\", \"mode\": \"split\",\n"
      "    \"executable\": {\"filename\": \"%s/OVMF_CODE_4M.ms.qcow2\", \"format\": \"qcow2\"},\n"
      "    \"nvram-template\": {\"filename\": \"%s/OVMF_VARS_4M.ms.qcow2\", \"format\": \"qcow2\"}},\n"
      "  \"targets\": [{\"architecture\": \"x86_64\", \"machines\": [\"pc-q35-*\"]}],\n"
      "  \"features\": [\"acpi-s3\", \"enrolled-keys\", \"requires-smm\", \"secure-boot\",\n"
      "               \"verbose-dynamic\"],\n  \"tags\": []\n}\n",
      ctx.tmp, ctx.tmp);
    g_autofree char *p = g_build_filename(ctx.fwdir, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
                                          NULL);
    vsb_test_write_file(p, json, -1);
  } else if (g_str_equal(set, "broken")) {
    copy_set("debian");
    /* libvirt's own test file 93-libvirt-invalid.json */
    g_autofree char *p = g_build_filename(ctx.fwdir, "93-invalid.json", NULL);
    vsb_test_write_file(p, "{\"firmware\":{\"invalid\":true}}\n", -1);
  } else {
    copy_set(set);
  }
  g_free(ctx.current_set);
  ctx.current_set = g_strdup(set);
}

static char *
domain_xml(const Row *row, const char *name, const char *machine)
{
  /* aarch64 TCG has no default CPU model usable by libvirt. */
  const char *cpu = g_str_equal(row->arch, "aarch64")
                      ? "<cpu mode='custom' match='exact'><model>cortex-a57</model></cpu>"
                      : "";
  return g_strdup_printf(
    "<domain type='qemu'><name>%s</name>\n"
    "  <memory unit='KiB'>131072</memory><vcpu placement='static'>1</vcpu>\n"
    "  <os firmware='%s'><type arch='%s' machine='%s'>hvm</type>%s</os>\n"
    "  <features><acpi/>%s</features>%s\n"
    "  <devices><emulator>/usr/bin/qemu-system-%s</emulator>\n"
    "    <controller type='usb' model='none'/><memballoon model='none'/></devices>\n"
    "</domain>\n",
    name, row->fw, row->arch, machine, row->os_extra, row->feat_extra, cpu, row->arch);
}

/* Pick the firmware facts out of libvirt's QEMU argv. */
static void
parse_argv(const char *text, Answer *a)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *line = g_strstrip(g_strdup(text));
  g_assert_true(g_shell_parse_argv(line, NULL, &argv, &error));
  g_assert_no_error(error);
  for (char **p = argv; *p && p[1]; p++) {
    if (g_str_equal(*p, "-blockdev")) {
      g_autoptr(JsonNode) node = vsb_test_parse_json(p[1]);
      JsonObject *o = json_node_get_object(node);
      if (g_strcmp0(json_object_get_string_member_with_default(o, "node-name", ""),
                    "libvirt-pflash0-storage") == 0) {
        g_assert_null(a->exec);
        a->exec = g_strdup(json_object_get_string_member(o, "filename"));
      }
    } else if (g_str_equal(*p, "-bios")) {
      g_assert_null(a->exec);
      a->exec = g_strdup(p[1]);
    } else if (g_str_equal(*p, "-machine")) {
      g_auto(GStrv) items = g_strsplit(p[1], ",", -1);
      a->machine = g_strdup(items[0]);
      for (char **i = items; *i; i++)
        if (g_str_equal(*i, "smm=on"))
          a->smm = TRUE;
    } else if (g_str_equal(*p, "-global") &&
               g_str_equal(p[1], "driver=cfi.pflash01,property=secure,value=on")) {
      a->secure = TRUE;
    }
  }
}

static char *
xpath_string(xmlDocPtr doc, const char *expr)
{
  xmlXPathContextPtr xc = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)expr, xc);
  char *s = NULL;
  if (r && r->type == XPATH_STRING && r->stringval && r->stringval[0])
    s = g_strdup((const char *)r->stringval);
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(xc);
  return s;
}

static void
ask_libvirt(const Row *row, const char *machine, Answer *a, Answer *live)
{
  g_autofree char *name = g_strdup_printf("vsbdiff-%s-%s", row->set, row->name);
  g_autofree char *xml = domain_xml(row, name, machine);
  g_autofree char *path = g_strdup_printf("%s/%s.xml", ctx.tmp, name);
  g_autofree char *out = NULL, *err = NULL;
  vsb_test_write_file(path, xml, -1);

  int rc = virsh(&out, &err, "domxml-to-native", "qemu-argv", path, NULL);
  if (rc != 0) {
    a->ok = FALSE;
    a->error = g_steal_pointer(&err);
    return;
  }
  a->ok = TRUE;
  parse_argv(out, a);

  /* The template only shows in the live definition: create the domain paused, read it,
   * destroy it. */
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  rc = virsh(&out, &err, "create", "--paused", path, NULL);
  if (rc != 0)
    vsb_test_fail("virsh create %s failed: %s", path, err);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  rc = virsh(&out, &err, "dumpxml", name, NULL);
  g_assert_cmpint(rc, ==, 0);
  /* libvirt takes over a second to destroy a domain; do not wait for it. */
  const char *destroy[] = { "virsh", "-q", "destroy", name, NULL };
  vsb_test_libvirtd_run_async(ctx.libvirtd, destroy);
  xmlDocPtr doc = xmlReadMemory(out, (int)strlen(out), "dumpxml", NULL, XML_PARSE_NONET);
  g_assert_nonnull(doc);
  live->ok = TRUE;
  live->exec = xpath_string(doc, "string(/domain/os/loader)");
  live->tmpl = xpath_string(doc, "string(/domain/os/nvram/@template)");
  live->machine = xpath_string(doc, "string(/domain/os/type/@machine)");
  g_autofree char *smm = xpath_string(doc, "string(/domain/features/smm/@state)");
  g_autofree char *secure = xpath_string(doc, "string(/domain/os/loader/@secure)");
  live->smm = g_strcmp0(smm, "on") == 0;
  live->secure = g_strcmp0(secure, "yes") == 0;
  xmlFreeDoc(doc);
}

static void
ask_vsboot(const Row *row, const char *machine, Answer *a)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  g_auto(GStrv) extra = g_strsplit(row->vsb_args, " ", -1);
  const char *fixed[] = { "firmware", "select", "--json", "--firmware-dir", ctx.fwdir, "--arch",
                          row->arch, "--machine", machine };
  for (gsize i = 0; i < G_N_ELEMENTS(fixed); i++)
    g_ptr_array_add(args, (char *)fixed[i]);
  for (char **e = extra; *e; e++)
    if (**e)
      g_ptr_array_add(args, *e);
  g_ptr_array_add(args, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = vsb_test_runv((const char *const *)args->pdata, &out, &err);
  if (rc == 1) {
    a->ok = FALSE;
    a->error = g_steal_pointer(&err);
    return;
  }
  if (rc != 0)
    vsb_test_fail("vsboot firmware select exited %d: %s", rc, err);
  a->ok = TRUE;
  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *o = json_node_get_object(node);
  JsonObject *m = json_object_get_object_member(o, "mapping");
  g_assert_nonnull(m);
  if (json_object_has_member(m, "executable")) {
    JsonObject *e = json_object_get_object_member(m, "executable");
    a->exec = g_strdup(json_object_get_string_member(e, "filename"));
    if (json_object_has_member(m, "nvram-template")) {
      JsonObject *t = json_object_get_object_member(m, "nvram-template");
      a->tmpl = g_strdup(json_object_get_string_member(t, "filename"));
    }
  } else {
    a->exec = g_strdup(json_object_get_string_member(m, "filename"));
  }
  JsonArray *features = json_object_get_array_member(o, "features");
  g_assert_nonnull(features);
  for (guint i = 0; i < json_array_get_length(features); i++)
    if (g_strcmp0(json_array_get_string_element(features, i), "requires-smm") == 0)
      a->smm = TRUE;
}

/* libvirt 11.3 (VSB_LIBVIRT=11.3) follows the rules vsboot follows. */
static gboolean
newer_libvirt(void)
{
  return vsb_test_libvirtd_version_number(ctx.libvirtd) >= 11003000ul;
}

/* vsboot's own answer for a row whose libvirt 9.0 answer differs (vsb_exec, vsb_tmpl). */
static void
check_vsboot_choice(const Row *row, const char *machine, const Answer *vs)
{
  if (!vs->ok)
    vsb_test_fail("vsboot found nothing: %s", vs->error);
  g_autofree char *want_exec = subst_tmp(row->vsb_exec);
  g_autofree char *want_tmpl = subst_tmp(row->vsb_tmpl);
  g_assert_cmpstr(vs->exec, ==, want_exec);
  g_assert_cmpstr(vs->tmpl, ==, want_tmpl);
  if (g_str_equal(row->set, "broken")) {
    /* Skipped, but not silently: --explain names the file and what is wrong with it. */
    g_autofree char *out = NULL, *err = NULL;
    int rc = vsb_test_run(&out, &err, "firmware", "select", "--explain", "--firmware-dir",
                          ctx.fwdir, "--arch", row->arch, "--machine", machine, NULL);
    g_assert_cmpint(rc, ==, 0);
    g_autofree char *all = g_strconcat(out, err, NULL);
    const char *line = strstr(all, "93-invalid.json");
    g_assert_nonnull(line);
    g_assert_nonnull(strstr(line, "interface-types"));
  }
}

/* A row whose libvirt 9.0 answer is an error, against libvirt 11.3: where vsboot differs from
 * 9.0 (vsb_exec), 11.3 chooses exactly what vsboot chooses (with SMM as vsb_smm says); where
 * both refuse, 11.3 refuses too, with its own words (lv11_error). */
static void
check_newer(const Row *row, const char *machine, const Answer *lv, const Answer *live,
            const Answer *vs)
{
  if (row->vsb_exec == NULL) {
    if (lv->ok)
      vsb_test_fail("libvirt 11.3 chose %s where both 9.0 and vsboot refuse", lv->exec);
    if (strstr(lv->error, row->lv11_error) == NULL)
      vsb_test_fail("libvirt 11.3's error '%s' lacks '%s'", lv->error, row->lv11_error);
    if (vs->ok)
      vsb_test_fail("vsboot chose %s where libvirt fails: %s", vs->exec, lv->error);
    return;
  }
  if (!lv->ok)
    vsb_test_fail("libvirt 11.3 failed where vsboot chooses %s: %s", row->vsb_exec, lv->error);
  check_vsboot_choice(row, machine, vs);
  g_autofree char *want_exec = subst_tmp(row->vsb_exec);
  g_autofree char *want_tmpl = subst_tmp(row->vsb_tmpl);
  g_assert_cmpstr(lv->exec, ==, want_exec);
  g_assert_cmpstr(live->exec, ==, want_exec);
  g_assert_cmpstr(live->tmpl, ==, want_tmpl);
  g_assert_cmpint(lv->smm, ==, row->vsb_smm);
  g_assert_cmpint(lv->secure, ==, row->vsb_smm);
  g_assert_cmpint(live->smm, ==, row->vsb_smm);
  g_assert_cmpint(vs->smm, ==, row->vsb_smm);
}

static void
test_row(gconstpointer data)
{
  const Row *row = data;
  g_assert_cmpint(vsb_test_libvirtd_pid(ctx.libvirtd), >, 0);
  use_set(row->set);
  g_autofree char *machine = resolve_machine(row->arch, row->machine);
  Answer lv = { 0 }, live = { 0 }, vs = { 0 };
  ask_libvirt(row, machine, &lv, &live);
  ask_vsboot(row, machine, &vs);
  g_test_message("libvirt: %s %s | vsboot: %s %s", lv.ok ? lv.exec : "FAIL",
                 lv.ok ? (live.tmpl ? live.tmpl : "-") : "", vs.ok ? vs.exec : "FAIL",
                 vs.ok ? (vs.tmpl ? vs.tmpl : "-") : "");

  if (row->exec != NULL) {
    /* libvirt: the argv and the live definition agree with the row... */
    if (!lv.ok)
      vsb_test_fail("libvirt failed: %s", lv.error);
    g_assert_cmpstr(lv.exec, ==, row->exec);
    g_assert_cmpstr(lv.machine, ==, machine);
    g_assert_cmpint(lv.smm, ==, row->smm);
    g_assert_cmpint(lv.secure, ==, row->smm);
    g_assert_cmpstr(live.exec, ==, row->exec);
    g_assert_cmpstr(live.tmpl, ==, row->tmpl);
    g_assert_cmpstr(live.machine, ==, machine);
    g_assert_cmpint(live.smm, ==, row->smm);
    g_assert_cmpint(live.secure, ==, row->smm);
    /* ...and vsboot chose exactly what libvirt chose. */
    if (!vs.ok)
      vsb_test_fail("vsboot found nothing where libvirt chose %s: %s", lv.exec, vs.error);
    g_assert_cmpstr(vs.exec, ==, lv.exec);
    g_assert_cmpstr(vs.tmpl, ==, live.tmpl);
    g_assert_cmpint(vs.smm, ==, lv.smm);
  } else if (newer_libvirt()) {
    check_newer(row, machine, &lv, &live, &vs);
  } else {
    if (lv.ok)
      vsb_test_fail("libvirt %s chose %s where the row expects: %s",
                    vsb_test_libvirtd_version(ctx.libvirtd), lv.exec, row->lv_error);
    if (strstr(lv.error, row->lv_error) == NULL)
      vsb_test_fail("libvirt's error '%s' lacks '%s'", lv.error, row->lv_error);
    if (row->vsb_exec == NULL) {
      /* Both refuse. */
      if (vs.ok)
        vsb_test_fail("vsboot chose %s where libvirt fails: %s", vs.exec, lv.error);
      g_assert_nonnull(vs.error);
    } else {
      /* A documented difference: libvirt 9.0 fails, vsboot follows the newer rules. */
      check_vsboot_choice(row, machine, &vs);
    }
  }
  answer_clear(&lv);
  answer_clear(&live);
  answer_clear(&vs);
}

/* The daemon sees the fixture directory, the host does not see the daemon. */
static void
test_isolation(void)
{
  g_assert_cmpint(vsb_test_libvirtd_pid(ctx.libvirtd), >, 0);
  use_set("debian");
  g_autofree char *out = NULL;
  const char *ls[] = { "ls", "/usr/share/qemu/firmware", NULL };
  g_assert_cmpint(vsb_test_libvirtd_runv(ctx.libvirtd, ls, &out, NULL), ==, 0);
  g_assert_nonnull(strstr(out, "40-edk2-x86_64-secure-enrolled.json"));
  const char *test_sock[] = { "test", "-S", "/run/libvirt/libvirt-sock", NULL };
  g_assert_cmpint(vsb_test_libvirtd_runv(ctx.libvirtd, test_sock, NULL, NULL), ==, 0);
  /* Outside the namespace there is no socket (tmpfs mounted only inside). */
  g_assert_false(g_file_test("/run/libvirt/libvirt-sock", G_FILE_TEST_EXISTS));
}

static void
test_stop(void)
{
  int pid = vsb_test_libvirtd_pid(ctx.libvirtd);
  g_assert_cmpint(pid, >, 0);
  vsb_test_libvirtd_stop(ctx.libvirtd);
  g_assert_cmpint(vsb_test_libvirtd_pid(ctx.libvirtd), ==, 0);
  /* Gone, or a zombie waiting for its reaper. */
  g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  if (g_file_get_contents(stat_path, &stat, NULL, NULL)) {
    const char *close = strrchr(stat, ')');
    g_assert_nonnull(close);
    g_assert_cmpint(close[2], ==, 'Z');
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

  vsb_test_require_tool("qemu-img");
  vsb_test_require_tool("qemu-system-x86_64");
  vsb_test_require_tool("qemu-system-aarch64");

  g_autoptr(GError) error = NULL;
  ctx.tmp = g_dir_make_tmp("vsboot-libvirt-XXXXXX", &error);
  g_assert_no_error(error);
  ctx.fwdir = g_build_filename(ctx.tmp, "fw", NULL);
  g_assert_cmpint(g_mkdir_with_parents(ctx.fwdir, 0755), ==, 0);

  /* Started once for all rows (the QEMU capability probe takes seconds). */
  ctx.libvirtd = vsb_test_libvirtd_start(ctx.fwdir);

  g_test_add_func("/libvirt/harness/isolation", test_isolation);
  for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
    g_autofree char *path = g_strdup_printf("/libvirt/differential/%s/%s", rows[i].set,
                                            rows[i].name);
    g_test_add_data_func(path, &rows[i], test_row);
  }
  g_test_add_func("/libvirt/shutdown/stop", test_stop);
  int rc = g_test_run();

  vsb_test_libvirtd_free(ctx.libvirtd);
  const char *rm[] = { "rm", "-rf", "--", ctx.tmp, NULL };
  if (g_getenv("VSB_TEST_KEEP") == NULL)
    vsb_test_spawn(rm, NULL, NULL, NULL);
  g_free(ctx.tmp);
  g_free(ctx.fwdir);
  g_free(ctx.current_set);
  return rc;
}
