/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QEMU command-line reader: QemuOpts/keyval details as QEMU 7.2 has them, flash resolution
 * through every syntax, -readconfig, libvirt domains, and bad input (clear errors, no crash). */
#include "testutil.h"

#include "vsboot/error.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-cmdline.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static VsbQemuCmdline *
parse_line(const char *line, GError **error)
{
  g_auto(GStrv) argv = vsb_qemu_split_cmdline(line, strlen(line), error);
  if (argv == NULL)
    return NULL;
  return vsb_qemu_cmdline_parse((const char *const *)argv, (int)g_strv_length(argv), "/base",
                                error);
}

static VsbQemuCmdline *
parse_ok(const char *line)
{
  g_autoptr(GError) error = NULL;
  VsbQemuCmdline *cmd = parse_line(line, &error);
  g_assert_no_error(error);
  g_assert_nonnull(cmd);
  return cmd;
}

static char *
parse_err(const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) cmd = parse_line(line, &error);
  g_assert_null(cmd);
  g_assert_nonnull(error);
  g_assert_true(g_error_matches(error, VSB_ERROR, error->code));
  /* Cut: a 500 KB line would flood the TAP log (meson splits it into unknown lines). */
  g_test_message("%.200s -> %.300s", line, error->message);
  return g_strdup(error->message);
}

static void
flash(const VsbQemuCmdline *cmd, guint unit, const char *file, const char *format,
      gboolean readonly)
{
  VsbQemuFlash f;
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_qemu_cmdline_get_flash(cmd, unit, &f, &error));
  g_assert_no_error(error);
  if (file == NULL) {
    g_assert_false(f.present);
  } else {
    g_assert_true(f.present);
    g_assert_cmpstr(f.file, ==, file);
    g_assert_cmpstr(f.format, ==, format);
    g_assert_cmpint(f.readonly, ==, readonly);
    g_assert_nonnull(f.evidence);
  }
  vsb_qemu_flash_clear(&f);
}

static void
test_opts(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuOpts) o = vsb_qemu_opts_parse("q35,smm=on,file=a,,b,,,noacpi,usb", "type",
                                                 FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(vsb_qemu_opts_get(o, "type"), ==, "q35");
  g_assert_cmpstr(vsb_qemu_opts_get(o, "smm"), ==, "on");
  g_assert_cmpstr(vsb_qemu_opts_get(o, "file"), ==, "a,b,");
  g_assert_cmpstr(vsb_qemu_opts_get(o, "acpi"), ==, "off");
  g_assert_cmpstr(vsb_qemu_opts_get(o, "usb"), ==, "on");
  /* Later keys win. */
  g_autoptr(VsbQemuOpts) o2 = vsb_qemu_opts_parse("smm=off,smm=on", "type", FALSE, &error);
  g_assert_cmpstr(vsb_qemu_opts_get(o2, "smm"), ==, "on");
  g_assert_null(vsb_qemu_opts_get(o2, "type"));
  /* keyval (-blockdev, -object) has no bare flags. */
  g_autoptr(VsbQemuOpts) o3 = vsb_qemu_opts_parse("driver=file,readonly", NULL, TRUE, &error);
  g_assert_null(o3);
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, "readonly"));
  g_clear_error(&error);
  g_autoptr(VsbQemuOpts) o4 = vsb_qemu_opts_parse("=x", NULL, FALSE, &error);
  g_assert_null(o4);
  g_clear_error(&error);

  gboolean b;
  g_assert_true(vsb_qemu_parse_bool("yes", &b) && b);
  g_assert_true(vsb_qemu_parse_bool("n", &b) && !b);
  g_assert_false(vsb_qemu_parse_bool("On", &b));
}

static void
test_machine_accel(void)
{
  g_autoptr(VsbQemuCmdline) c =
    parse_ok("/usr/bin/qemu-system-x86_64 -M pc -machine q35 --machine smm=off,accel=kvm:tcg "
             "-cpu host -snapshot -kernel vmlinuz -initrd initrd.img -append 'a b'");
  g_assert_cmpstr(c->binary, ==, "/usr/bin/qemu-system-x86_64");
  g_assert_cmpint(c->arch, ==, VSB_FW_ARCH_X86_64);
  g_assert_cmpstr(c->machine, ==, "q35");
  g_assert_cmpstr(vsb_qemu_opts_get(c->machine_opts, "smm"), ==, "off");
  g_assert_cmpuint(c->accels->len, ==, 2);
  g_assert_cmpstr(c->accels->pdata[0], ==, "kvm");
  g_assert_cmpstr(c->cpu, ==, "host");
  g_assert_true(c->snapshot);
  g_assert_cmpstr(c->kernel, ==, "vmlinuz");
  g_assert_cmpstr(c->append, ==, "a b");

  g_autoptr(VsbQemuCmdline) c2 = parse_ok("qemu-system-aarch64 -accel tcg -accel kvm -enable-kvm");
  g_assert_cmpint(c2->arch, ==, VSB_FW_ARCH_AARCH64);
  g_assert_cmpuint(c2->accels->len, ==, 3);
  g_assert_null(c2->machine);
}

static void
test_flash_drive(void)
{
  /* Implicit units: the lowest free one, in order; relative paths against the cwd. */
  g_autoptr(VsbQemuCmdline) c =
    parse_ok("-drive if=pflash,format=raw,readonly=on,file=code.fd "
             "-drive file=/v/vars.fd,if=pflash");
  flash(c, 0, "/base/code.fd", "raw", TRUE);
  flash(c, 1, "/v/vars.fd", NULL, FALSE);
  flash(c, 2, NULL, NULL, FALSE);

  g_autoptr(VsbQemuCmdline) c2 =
    parse_ok("-drive if=pflash,unit=1,file=/v -drive if=pflash,file=/c,readonly -pflash /x");
  flash(c2, 0, "/c", NULL, TRUE);
  flash(c2, 1, "/v", NULL, FALSE);
  flash(c2, 2, "/x", NULL, FALSE);

  g_autoptr(VsbQemuCmdline) c3 =
    parse_ok("-drive if=none,id=a,file=/a,format=qcow2,readonly=on -machine pflash0=a");
  flash(c3, 0, "/a", "qcow2", TRUE);

  /* Drive snapshot: -snapshot applies to drives before and after it. */
  g_autoptr(VsbQemuCmdline) c4 = parse_ok("-drive if=pflash,file=/a -snapshot");
  VsbQemuFlash f;
  g_assert_true(vsb_qemu_cmdline_get_flash(c4, 0, &f, NULL));
  g_assert_true(f.snapshot);
  vsb_qemu_flash_clear(&f);

  g_autofree char *e1 = parse_err("-drive if=pflash,unit=0,file=/a -drive if=pflash,unit=0,file=/b");
  g_assert_nonnull(strstr(e1, "defined twice"));
  g_autofree char *e2 = parse_err("-drive if=floppy2,file=/a");
  g_assert_nonnull(strstr(e2, "floppy2"));
  g_autofree char *e3 = parse_err("-drive if=pflash,unit=x,file=/a");
  g_assert_nonnull(strstr(e3, "unit"));
  g_autofree char *e4 = parse_err("-drive if=pflash,readonly=maybe,file=/a");
  g_assert_nonnull(strstr(e4, "readonly"));
}

static void
test_flash_blockdev(void)
{
  g_autoptr(VsbQemuCmdline) c = parse_ok(
    "-blockdev '{\"driver\":\"file\",\"filename\":\"/c.fd\",\"node-name\":\"s0\",\"auto-read-only\":true}' "
    "-blockdev '{\"node-name\":\"f0\",\"read-only\":true,\"driver\":\"qcow2\",\"file\":\"s0\"}' "
    "-blockdev '{\"node-name\":\"f1\",\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"v.fd\"}}' "
    "-machine q35,pflash0=f0,pflash1=f1");
  flash(c, 0, "/c.fd", "qcow2", TRUE);
  flash(c, 1, "/base/v.fd", "raw", FALSE);

  g_autoptr(VsbQemuCmdline) c2 =
    parse_ok("-blockdev driver=file,node-name=n,filename=/x,read-only=on -machine pflash1=n");
  flash(c2, 1, "/x", "raw", TRUE);

  /* What QEMU refuses: a missing node, a unit given twice, a loop, a node twice. */
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) c3 = parse_ok("-machine pflash0=nothing");
  VsbQemuFlash f;
  g_assert_false(vsb_qemu_cmdline_get_flash(c3, 0, &f, &error));
  g_assert_nonnull(strstr(error->message, "nothing"));
  g_clear_error(&error);
  g_autoptr(VsbQemuCmdline) c4 =
    parse_ok("-drive if=pflash,file=/a -blockdev driver=file,node-name=n,filename=/x -machine pflash0=n");
  g_assert_false(vsb_qemu_cmdline_get_flash(c4, 0, &f, &error));
  g_assert_nonnull(strstr(error->message, "twice"));
  g_clear_error(&error);
  g_autoptr(VsbQemuCmdline) c5 = parse_ok("-blockdev driver=raw,node-name=a,file=b "
                                          "-blockdev driver=raw,node-name=b,file=a -M pflash0=a");
  g_assert_false(vsb_qemu_cmdline_get_flash(c5, 0, &f, &error));
  g_assert_nonnull(strstr(error->message, "loop"));
  g_clear_error(&error);
  g_autofree char *e1 = parse_err("-blockdev driver=file,node-name=n,filename=/a "
                                  "-blockdev driver=file,node-name=n,filename=/b");
  g_assert_nonnull(strstr(e1, "duplicate node name"));
  g_autofree char *e2 = parse_err("-blockdev '{\"driver\":\"file\",'");
  g_assert_nonnull(strstr(e2, "JSON"));
  g_autofree char *e3 = parse_err("-blockdev '[1,2]'");
  g_assert_nonnull(strstr(e3, "expected '=' after parameter '[1'"));
  /* Deep nesting is refused before json-glib's recursive parser sees it. */
  GString *deep = g_string_new("-blockdev '");
  for (int i = 0; i < 100000; i++)
    g_string_append(deep, "{\"a\":");
  g_string_append_c(deep, '\'');
  g_autofree char *e5 = parse_err(deep->str);
  g_string_free(deep, TRUE);
  g_assert_nonnull(strstr(e5, "JSON nested deeper than 64 levels"));
  g_autofree char *e4 = parse_err("-blockdev driver=file,filename=/a");
  g_assert_nonnull(strstr(e4, "node-name"));
}

static void
test_globals(void)
{
  g_autoptr(VsbQemuCmdline) c =
    parse_ok("-global cfi.pflash01.secure=on -global driver=cfi.pflash01,property=secure,value=on "
             "-global ICH9-LPC.disable_s3=1");
  g_assert_cmpuint(c->globals->len, ==, 3);
  VsbQemuGlobal *g0 = c->globals->pdata[0];
  /* QEMU's sscanf("%63[^.=].%63[^=]") split: driver "cfi", property "pflash01.secure". */
  g_assert_cmpstr(g0->driver, ==, "cfi");
  g_assert_cmpstr(g0->property, ==, "pflash01.secure");
  g_assert_true(g0->short_form);
  VsbQemuGlobal *g2 = c->globals->pdata[2];
  g_assert_cmpstr(g2->driver, ==, "ICH9-LPC");
  g_assert_cmpstr(g2->property, ==, "disable_s3");
  gboolean set = FALSE;
  const char *ev = NULL;
  g_assert_true(vsb_qemu_cmdline_pflash_secure(c, &set, &ev));
  g_assert_true(set);
  g_assert_nonnull(strstr(ev, "property=secure"));

  g_autoptr(VsbQemuCmdline) c2 = parse_ok("-global cfi.pflash01.secure=on");
  g_assert_false(vsb_qemu_cmdline_pflash_secure(c2, &set, NULL));
  g_assert_false(set);
  g_autofree char *e = parse_err("-global driver=cfi.pflash01,property=secure");
  g_assert_nonnull(strstr(e, "'driver', 'property', and 'value' are required"));
}

static void
test_objects(void)
{
  g_autoptr(VsbQemuCmdline) c =
    parse_ok("-object sev-guest,id=sev0,cbitpos=47 -object '{\"qom-type\":\"tdx-guest\",\"id\":\"t\"}' "
             "-device tpm-tis,tpmdev=tpm0 -device '{\"driver\":\"virtio-blk-pci\",\"drive\":\"d\"}'");
  g_assert_cmpuint(c->objects->len, ==, 2);
  g_assert_cmpstr(((VsbQemuObject *)c->objects->pdata[0])->type, ==, "sev-guest");
  g_assert_cmpstr(((VsbQemuObject *)c->objects->pdata[1])->id, ==, "t");
  g_assert_cmpuint(c->devices->len, ==, 2);
  g_assert_cmpstr(((VsbQemuObject *)c->devices->pdata[0])->type, ==, "tpm-tis");
  g_autofree char *e = parse_err("-object id=x");
  g_assert_nonnull(strstr(e, "qom-type"));
}

static void
test_readconfig(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *cfg = g_build_filename(dir, "vm.cfg", NULL);
  vsb_test_write_file(cfg,
                      "# comment\n[machine]\n  type = \"q35\"\n  smm = \"on\"\n\n"
                      "[drive \"code\"]\n  if = \"pflash\"\n  readonly = \"on\"\n"
                      "  file = \"/c,d.fd\"\n[memory]\n  size = \"1024\"\n"
                      "[global]\n  driver = \"cfi.pflash01\"\n  property = \"secure\"\n"
                      "  value = \"on\"\n", -1);
  g_autofree char *line = g_strdup_printf("-readconfig %s -drive if=pflash,file=/v", cfg);
  g_autoptr(VsbQemuCmdline) c = parse_ok(line);
  g_assert_cmpstr(c->machine, ==, "q35");
  flash(c, 0, "/c,d.fd", NULL, TRUE);
  flash(c, 1, "/v", NULL, FALSE);
  gboolean set;
  g_assert_true(vsb_qemu_cmdline_pflash_secure(c, &set, NULL));

  static const char *const bad[] = {
    "[drive\n", "  if = \"pflash\"\n", "[drive]\n  if = pflash\n", "[drive]\n  \n",
    "[]\n", "[drive \"x]\n", "[object]\n  id = \"a\"\n", "[drive]\n  file=\"/a\"\n",
    "[global]\n  cfi.pflash01.secure = \"on\"\n", "[drive]\n  file,if = \"pflash\"\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    vsb_test_write_file(cfg, bad[i], -1);
    g_autofree char *l = g_strdup_printf("-readconfig %s", cfg);
    g_autofree char *msg = parse_err(l);
    g_assert_nonnull(strstr(msg, "vm.cfg"));
  }
  g_autofree char *missing = parse_err("-readconfig /nonexistent/vm.cfg");
  g_assert_nonnull(strstr(missing, "/nonexistent/vm.cfg"));
}

/* -set GROUP.ID.KEY=VALUE changes an option list QEMU still holds; drives are made at the end,
 * so -set decides file, interface, unit and name (each case checked against QEMU 7.2's
 * "info block"). */
static void
test_set(void)
{
  g_autoptr(VsbQemuCmdline) c = parse_ok("-drive if=pflash,unit=0,readonly=on,file=/c "
                                         "-drive if=pflash,unit=1,id=pf1,file=/a "
                                         "-set drive.pf1.file=/b");
  flash(c, 1, "/b", NULL, FALSE);
  /* Units are chosen when the drives are made: c moved to unit 1 leaves 0 to the next. */
  g_autoptr(VsbQemuCmdline) c2 = parse_ok("-drive if=pflash,readonly=on,file=/c,id=c "
                                          "-drive if=pflash,id=v,file=/v -set drive.c.unit=1");
  flash(c2, 0, "/v", NULL, FALSE);
  flash(c2, 1, "/c", NULL, TRUE);
  /* An if=none drive made a pflash drive; a drive renamed for -machine pflash1=. */
  g_autoptr(VsbQemuCmdline) c3 = parse_ok("-drive if=none,id=n,file=/n,format=raw "
                                          "-set drive.n.if=pflash -set drive.n.unit=1");
  flash(c3, 1, "/n", "raw", FALSE);
  g_autoptr(VsbQemuCmdline) c4 = parse_ok("-drive if=none,id=n,file=/n -set drive.n.id=zz "
                                          "-machine pflash1=zz");
  flash(c4, 1, "/n", NULL, FALSE);
  /* The evidence names the -set. */
  VsbQemuFlash f;
  g_assert_true(vsb_qemu_cmdline_get_flash(c, 1, &f, NULL));
  g_assert_nonnull(strstr(f.evidence, "-set drive.pf1.file=/b"));
  vsb_qemu_flash_clear(&f);

  /* -device and -global by id; JSON devices are out of -set's reach. */
  g_autoptr(VsbQemuCmdline) c5 = parse_ok("-device virtio-rng-pci,id=r -set device.r.driver=loader "
                                          "-global driver=cfi.pflash01,property=secure,value=on,id=g "
                                          "-set global.g.value=off");
  g_assert_cmpstr(((VsbQemuObject *)c5->devices->pdata[0])->type, ==, "loader");
  gboolean set = FALSE;
  g_assert_false(vsb_qemu_cmdline_pflash_secure(c5, &set, NULL));
  g_assert_true(set);
  g_autoptr(VsbQemuCmdline) c6 = parse_ok("-set accel.a.accel=kvm -set netdev.n.x=y "
                                          "-incoming defer -loadvm snap1");
  g_assert_cmpuint(c6->unmodeled->len, ==, 3);
  g_assert_nonnull(strstr(c6->unmodeled->pdata[0], "-set accel.a.accel=kvm"));
  g_assert_nonnull(strstr(c6->unmodeled->pdata[1], "migration stream"));
  g_assert_nonnull(strstr(c6->unmodeled->pdata[2], "saved VM state"));

  /* What QEMU refuses. */
  static const char *const bad[][2] = {
    { "-set drive.pf1.file=/b -drive if=pflash,id=pf1,file=/a", "there is no drive \"pf1\"" },
    { "-set machine.x.smm=off", "-set is not supported with machine" },
    { "-set object.x.y=z", "-set is not supported with object" },
    { "-set drive.pf1", "can't parse" },
    { "-set drive..file=/a", "can't parse" },
    { "-device '{\"driver\":\"virtio-rng-pci\",\"id\":\"r\"}' -set device.r.driver=loader",
      "there is no device \"r\"" },
    { "-global driver=a,property=b,value=c,id=g -set global.g.foo=1", "invalid parameter 'foo'" },
    { "-global driver=a,property=b,value=c,foo=1", "invalid parameter 'foo'" },
    { "-drive if=none,id=x,file=/a -drive if=none,id=x,file=/b", "duplicate ID 'x' for drive" },
    { "-drive if=none,id=1x,file=/a", "expects an identifier" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *e = parse_err(bad[i][0]);
    if (strstr(e, bad[i][1]) == NULL)
      vsb_test_fail("%s: expected '%s' in: %s", bad[i][0], bad[i][1], e);
  }
}

/* File names as bdrv_open reads a -drive's: "file:" is the host file, other protocols are
 * not local; what changes the bytes the flash sees is listed as unmodelled. */
static void
test_drive_files(void)
{
  g_autoptr(VsbQemuCmdline) c = parse_ok("-drive if=pflash,unit=0,file=file:rel.fd "
                                         "-drive if=pflash,unit=1,file=nbd://h/x");
  flash(c, 0, "/base/rel.fd", NULL, FALSE);
  VsbQemuFlash f;
  g_assert_true(vsb_qemu_cmdline_get_flash(c, 1, &f, NULL));
  g_assert_true(f.remote);
  g_assert_cmpstr(f.file, ==, "nbd://h/x");
  g_assert_null(f.unmodeled);
  vsb_qemu_flash_clear(&f);

  g_autoptr(VsbQemuCmdline) c2 =
    parse_ok("-drive if=pflash,unit=1,file.driver=file,file.filename=/x.fd");
  flash(c2, 1, "/x.fd", NULL, FALSE);
  /* The file protocol driver directly (no format layer), driver= as format=, and a child
   * option beside file= (each as QEMU 7.2's "info block" shows it). */
  g_autoptr(VsbQemuCmdline) c3 = parse_ok("-drive if=pflash,unit=0,driver=file,filename=/d.fd "
                                          "-drive if=pflash,unit=1,driver=qcow2,file=/q.fd "
                                          "-drive if=pflash,unit=2,file=/l.fd,file.locking=off");
  flash(c3, 0, "/d.fd", "raw", FALSE);
  flash(c3, 1, "/q.fd", "qcow2", FALSE);
  flash(c3, 2, "/l.fd", NULL, FALSE);

  static const char *const unmodeled[][2] = {
    { "-drive if=pflash,unit=1,format=raw,offset=4096,file=/v", "offset=" },
    { "-drive if=pflash,unit=1,file=json:{\"driver\":\"file\",,\"filename\":\"/v\"}", "json:" },
    { "-drive if=pflash,unit=1,file.driver=nbd,file.server.host=h", "file.driver=nbd" },
    { "-drive if=pflash,unit=1,format=luks,file=/v", "format=luks" },
    { "-drive if=pflash,unit=1,id=v,format=raw,file=/v -set drive.v.offset=4096", "offset=" },
    { "-drive if=pflash,unit=1,id=v,file=/v -set drive.v.format=vmdk", "format=vmdk" },
    { "-add-fd fd=3,set=2 -drive if=pflash,unit=1,file=/dev/fdset/2", "-add-fd" },
    { "-blockdev driver=file,node-name=f,filename=/dev/fdset/2 -machine pflash1=f", "-add-fd" },
    { "-blockdev driver=file,node-name=f,filename=/v "
      "-blockdev driver=raw,node-name=r,file=f,offset=4096 -machine pflash1=r", "offset=" },
    { "-blockdev driver=file,node-name=f,filename=/v "
      "-blockdev driver=throttle,node-name=t,file=f,throttle-group=g -machine pflash1=t",
      "driver=throttle" },
    { "-blockdev driver=nbd,node-name=n,server.type=inet,server.host=h,server.port=1 "
      "-blockdev driver=raw,node-name=r,file=n -machine pflash1=r", "driver=nbd" },
    { "-blockdev '{\"driver\":\"qcow2\",\"node-name\":\"q\",\"backing\":\"b\","
      "\"file\":{\"driver\":\"file\",\"filename\":\"/v\"}}' -machine pflash1=q", "backing=" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(unmodeled); i++) {
    g_autoptr(VsbQemuCmdline) u = parse_ok(unmodeled[i][0]);
    g_autoptr(GError) error = NULL;
    g_assert_true(vsb_qemu_cmdline_get_flash(u, 1, &f, &error));
    g_assert_no_error(error);
    g_test_message("%s -> %s", unmodeled[i][0], f.unmodeled);
    if (f.unmodeled == NULL || strstr(f.unmodeled, unmodeled[i][1]) == NULL)
      vsb_test_fail("%s: not reported as unmodeled (%s)", unmodeled[i][0],
                    f.unmodeled ? f.unmodeled : "nothing");
    vsb_qemu_flash_clear(&f);
  }
  g_autofree char *e = parse_err("-drive if=pflash,file=/a,file.filename=/b");
  g_assert_nonnull(strstr(e, "both 'file' and 'filename'"));
  g_autofree char *e2 = parse_err("-drive if=pflash,file=/a,format=raw,driver=raw");
  g_assert_nonnull(strstr(e2, "both 'format' and 'driver'"));
}

/* -bios, -kernel, -initrd and -append are machine properties in QEMU 7.2: -machine kernel=
 * boots a kernel as -kernel does, and whichever is given last wins. */
static void
test_machine_properties(void)
{
  g_autoptr(VsbQemuCmdline) c = parse_ok("-machine q35,kernel=/k,firmware=/f,append=x");
  g_assert_cmpstr(c->kernel, ==, "/k");
  g_assert_cmpstr(c->bios, ==, "/f");
  g_assert_cmpstr(c->append, ==, "x");
  g_autoptr(VsbQemuCmdline) c2 = parse_ok("-bios /b -machine firmware=/f -kernel /k1 "
                                          "-machine kernel=/k2");
  g_assert_cmpstr(c2->bios, ==, "/f");
  g_assert_cmpstr(c2->kernel, ==, "/k2");
  g_autoptr(VsbQemuCmdline) c3 = parse_ok("-machine firmware=/f -bios /b");
  g_assert_cmpstr(c3->bios, ==, "/b");
}

/* -readconfig: lines as QEMU's sscanf patterns read them; a bounded read of a regular file
 * only (/dev/zero and a FIFO are refused at once, not read for ever or waited on); QEMU's own
 * default config file unless -no-user-config. */
static void
test_readconfig_qemu_rules(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *cfg = g_build_filename(dir, "vm.cfg", NULL);
  /* The value ends at its closing quote; a key alone is key="" (QEMU accepts both). */
  vsb_test_write_file(cfg, "[drive \"v\"]\n  if = \"pflash\"\n  unit = \"1\"\n"
                           "  file = \"/a.fd\" \"/b.fd\"\n  media\n", -1);
  g_autofree char *line = g_strdup_printf("-readconfig %s -set drive.v.format=raw", cfg);
  g_autoptr(VsbQemuCmdline) c = parse_ok(line);
  flash(c, 1, "/a.fd", "raw", FALSE);

  static const char *const refused[][2] = {
    { "/dev/zero", "not a regular file" },
    { "/dev/null", "not a regular file" },
    { "@FIFO@", "not a regular file (a FIFO)" },
    { "@BIG@", "more than the 1048576 bytes accepted" },
  };
  g_autofree char *fifo = g_build_filename(dir, "cfg.fifo", NULL);
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  g_autofree char *big = g_build_filename(dir, "big.cfg", NULL);
  {
    g_autofree char *text = g_strnfill(VSB_QEMU_READCONFIG_MAX_BYTES + 10, '#');
    vsb_test_write_file(big, text, -1);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
    const char *path = strcmp(refused[i][0], "@FIFO@") == 0  ? fifo
                       : strcmp(refused[i][0], "@BIG@") == 0 ? big
                                                             : refused[i][0];
    g_autofree char *l = g_strdup_printf("-readconfig %s", path);
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *e = parse_err(l);
    gint64 ms = (g_get_monotonic_time() - t0) / 1000;
    if (strstr(e, refused[i][1]) == NULL || strstr(e, path) == NULL)
      vsb_test_fail("-readconfig %s: expected '%s' and the path in: %s", path, refused[i][1], e);
    if (ms > 2000)
      vsb_test_fail("-readconfig %s took %" G_GINT64_FORMAT " ms", path, ms);
  }

  /* The default config file: read first (a later -set reaches its drives), skipped with
   * -no-user-config, and a missing one is no error. */
  g_autofree char *user = g_build_filename(dir, "qemu.conf", NULL);
  vsb_test_write_file(user, "[drive \"u\"]\n  if = \"pflash\"\n  unit = \"1\"\n"
                            "  file = \"/user.fd\"\n", -1);
  const char *argv1[] = { "qemu-system-x86_64", "-set", "drive.u.file=/set.fd" };
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) u1 = vsb_qemu_cmdline_parse_full(argv1, 3, "/", FALSE, user, &error);
  g_assert_no_error(error);
  flash(u1, 1, "/set.fd", NULL, FALSE);
  const char *argv2[] = { "qemu-system-x86_64", "-name", "x", "-no-user-config" };
  g_autoptr(VsbQemuCmdline) u2 = vsb_qemu_cmdline_parse_full(argv2, 4, "/", FALSE, user, &error);
  g_assert_no_error(error);
  flash(u2, 1, NULL, NULL, FALSE);
  /* "-no-user-config" as another option's argument is not the option. */
  const char *argv3[] = { "qemu-system-x86_64", "-name", "-no-user-config" };
  g_autoptr(VsbQemuCmdline) u3 = vsb_qemu_cmdline_parse_full(argv3, 3, "/", FALSE, user, &error);
  g_assert_no_error(error);
  flash(u3, 1, "/user.fd", NULL, FALSE);
  g_autofree char *none = g_build_filename(dir, "none.conf", NULL);
  g_autoptr(VsbQemuCmdline) u4 = vsb_qemu_cmdline_parse_full(argv1, 1, "/", FALSE, none, &error);
  g_assert_no_error(error);
}

/* A process whose cwd cannot be read: relative names stay relative (never resolved against
 * the auditor's directory), and a relative -readconfig cannot be read at all. */
static void
test_process_cwd_unknown(void)
{
  g_autofree char *proc = vsb_test_tmpdir();
  g_autofree char *pdir = g_build_filename(proc, "4242", NULL);
  g_assert_cmpint(g_mkdir(pdir, 0755), ==, 0);
  g_autofree char *cmdline = g_build_filename(pdir, "cmdline", NULL);
  static const char args[] = "qemu-system-x86_64\0-drive\0if=pflash,unit=1,file=vars.fd\0";
  vsb_test_write_file(cmdline, args, sizeof(args) - 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) c = vsb_qemu_cmdline_parse_process(proc, 4242, &error);
  g_assert_no_error(error);
  g_assert_true(c->cwd_unknown);
  flash(c, 1, "vars.fd", NULL, FALSE);

  /* With a cwd link, against it. */
  g_autofree char *cwd = g_build_filename(pdir, "cwd", NULL);
  g_assert_cmpint(symlink("/srv/vm", cwd), ==, 0);
  g_autoptr(VsbQemuCmdline) c2 = vsb_qemu_cmdline_parse_process(proc, 4242, &error);
  g_assert_no_error(error);
  g_assert_false(c2->cwd_unknown);
  flash(c2, 1, "/srv/vm/vars.fd", NULL, FALSE);

  /* -daemonize moved it to / after opening its files: / says nothing of its names. */
  static const char args_d[] = "qemu-system-x86_64\0-daemonize\0-drive\0"
                               "if=pflash,unit=1,file=vars.fd\0";
  vsb_test_write_file(cmdline, args_d, sizeof(args_d) - 1);
  g_assert_cmpint(g_unlink(cwd), ==, 0);
  g_assert_cmpint(symlink("/", cwd), ==, 0);
  g_autoptr(VsbQemuCmdline) cd = vsb_qemu_cmdline_parse_process(proc, 4242, &error);
  g_assert_no_error(error);
  g_assert_true(cd->cwd_unknown);
  flash(cd, 1, "vars.fd", NULL, FALSE);

  static const char args2[] = "qemu-system-x86_64\0-readconfig\0vm.cfg\0";
  vsb_test_write_file(cmdline, args2, sizeof(args2) - 1);
  g_assert_cmpint(g_unlink(cwd), ==, 0);
  g_autoptr(VsbQemuCmdline) c3 = vsb_qemu_cmdline_parse_process(proc, 4242, &error);
  g_assert_null(c3);
  g_assert_nonnull(error);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, "working directory cannot be read"));
}

/* The longest lines accepted stay fast: pflash units and -set ids are found without a scan of
 * every earlier drive (30000 implicit -pflash units took minutes that way). */
static void
test_many_options(void)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; i < 10000; i++) {
    g_ptr_array_add(argv, g_strdup("-pflash"));
    g_ptr_array_add(argv, g_strdup_printf("/p%d", i));
    g_ptr_array_add(argv, g_strdup("-drive"));
    g_ptr_array_add(argv, g_strdup_printf("if=none,id=d%d,file=/x", i));
    g_ptr_array_add(argv, g_strdup("-set"));
    g_ptr_array_add(argv, g_strdup_printf("drive.d%d.file=/y%d", i, i));
  }
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbQemuCmdline) c =
    vsb_qemu_cmdline_parse((const char *const *)argv->pdata, (int)argv->len, "/", &error);
  g_assert_no_error(error);
  flash(c, 1, "/p1", NULL, FALSE);
  gint64 ms = (g_get_monotonic_time() - t0) / 1000;
  g_test_message("%u arguments: %" G_GINT64_FORMAT " ms", argv->len, ms);
  if (ms > 5000)
    vsb_test_fail("%u arguments took %" G_GINT64_FORMAT " ms", argv->len, ms);
  VsbQemuDrive *last = c->drives->pdata[c->drives->len - 1];
  g_assert_cmpstr(last->file, ==, "/y9999");

  /* As many implicit pflash units as a line can hold. */
  g_autoptr(GPtrArray) argv2 = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; i < VSB_QEMU_CMDLINE_MAX_ARGS / 2; i++) {
    g_ptr_array_add(argv2, g_strdup("-pflash"));
    g_ptr_array_add(argv2, g_strdup_printf("/p%d", i));
  }
  t0 = g_get_monotonic_time();
  g_autoptr(VsbQemuCmdline) c2 =
    vsb_qemu_cmdline_parse((const char *const *)argv2->pdata, (int)argv2->len, "/", &error);
  g_assert_no_error(error);
  flash(c2, 1, "/p1", NULL, FALSE);
  ms = (g_get_monotonic_time() - t0) / 1000;
  g_test_message("%u arguments: %" G_GINT64_FORMAT " ms", argv2->len, ms);
  if (ms > 3000)
    vsb_test_fail("%u -pflash arguments took %" G_GINT64_FORMAT " ms", argv2->len, ms);
}

static void
test_errors(void)
{
  g_autofree char *e1 = parse_err("qemu-system-x86_64 -machine=q35");
  g_assert_nonnull(strstr(e1, "does not accept '-option=value'"));
  g_assert_nonnull(strstr(e1, "-machine q35"));
  g_autofree char *e2 = parse_err("-frobnicate");
  g_assert_nonnull(strstr(e2, "not a QEMU option"));
  g_autofree char *e3 = parse_err("-drive");
  g_assert_nonnull(strstr(e3, "requires an argument"));
  g_autofree char *e4 = parse_err("-machine 'q35");
  g_assert_nonnull(strstr(e4, "cannot split"));
  g_autofree char *e5 = parse_err("   ");
  g_assert_nonnull(strstr(e5, "empty"));
  g_autofree char *e6 = parse_err("- -m 1");
  g_assert_nonnull(strstr(e6, "'-' is not a QEMU option"));
  g_autofree char *e7 = parse_err("---machine q35");
  g_assert_nonnull(strstr(e7, "'---machine' is not a QEMU option"));

  /* NUL-separated input is a /proc/PID/cmdline copy. */
  static const char nul[] = "qemu-system-x86_64\0-machine\0q35,smm=on\0";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) words = vsb_qemu_split_cmdline(nul, sizeof(nul) - 1, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_strv_length(words), ==, 3);
  g_assert_cmpstr(words[2], ==, "q35,smm=on");

  /* /proc/self/cmdline reads as this test's own argv. */
  g_auto(GStrv) self = vsb_qemu_read_proc_cmdline(NULL, getpid(), &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(self[0], "test-qemu-cmdline"));
  g_auto(GStrv) none = vsb_qemu_read_proc_cmdline(NULL, -5, &error);
  g_assert_null(none);
  g_clear_error(&error);
}

/* Arbitrary bytes: an error with a message (valid UTF-8) or a command line; never a crash. */
static void
test_random_bytes(void)
{
  static const char *const atoms[] = {
    "-machine", "-drive", "-blockdev", "-global", "-M", "--drive", "-bios", "-kernel",
    "-object", "-device", "-readconfig", "-snapshot", "-accel", "if=pflash", "unit=1", ",",
    ",,", "=", "file=", "{", "}", "\"", "'", "\\", " ", "pflash0=", "node-name=", "\xff\xfe",
    "driver=", "q35", "smm=on", "[", "]", "\n", "\t", "\x01", "-", "--", "json:{",
  };
  for (int i = 0; i < 3000; i++) {
    GString *s = g_string_new(NULL);
    int n = g_test_rand_int_range(0, 24);
    for (int j = 0; j < n; j++) {
      if (g_test_rand_int_range(0, 4) == 0)
        g_string_append_c(s, (char)g_test_rand_int_range(1, 256));
      else
        g_string_append(s, atoms[g_test_rand_int_range(0, G_N_ELEMENTS(atoms))]);
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(VsbQemuCmdline) cmd = parse_line(s->str, &error);
    if (cmd == NULL) {
      g_assert_nonnull(error);
      if (!g_utf8_validate(error->message, -1, NULL))
        vsb_test_fail("invalid UTF-8 in the message for input %s: %s", g_strescape(s->str, NULL),
                g_strescape(error->message, NULL));
    } else {
      for (guint u = 0; u < 3; u++) {
        VsbQemuFlash f;
        g_autoptr(GError) e2 = NULL;
        if (vsb_qemu_cmdline_get_flash(cmd, u, &f, &e2))
          vsb_qemu_flash_clear(&f);
        else
          g_assert_true(g_utf8_validate(e2->message, -1, NULL));
      }
    }
    g_string_free(s, TRUE);
  }
}

static void
test_libvirt_domain(void)
{
  static const char xml[] =
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
    "<name>g</name><os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='secure-boot'/><feature enabled='no' name='enrolled-keys'/></firmware>"
    "<loader secure='yes' readonly='yes'/><nvram template='/t.fd'>/n.fd</nvram>"
    "<kernel>/k</kernel></os><features><smm/></features>"
    "<launchSecurity type='sev'><policy>0x0007</policy></launchSecurity>"
    "<qemu:commandline><qemu:arg value='-snapshot'/></qemu:commandline></domain>";
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbLibvirtDomain) d = vsb_libvirt_domain_parse(xml, sizeof(xml) - 1, "d.xml", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(d->firmware, ==, "efi");
  g_assert_cmpint(d->fw_secure_boot, ==, 1);
  g_assert_cmpint(d->fw_enrolled_keys, ==, 0);
  g_assert_cmpint(d->loader_secure, ==, 1);
  g_assert_cmpint(d->loader_readonly, ==, 1);
  g_assert_null(d->loader);
  g_assert_cmpstr(d->nvram, ==, "/n.fd");
  g_assert_cmpstr(d->nvram_template, ==, "/t.fd");
  g_assert_cmpint(d->smm, ==, 1);
  g_assert_cmpstr(d->launch_security, ==, "sev");
  g_assert_cmpuint(d->sev_policy, ==, 7);
  g_assert_cmpstr(d->kernel, ==, "/k");
  g_assert_cmpuint(d->qemu_args->len, ==, 1);

  static const char *const bad[] = {
    "", "<domain", "<notdomain/>", "<domain><os firmware='uefi'/></domain>",
    "<domain><os><loader secure='maybe'/></os></domain>",
    "<domain><os><loader type='disk'/></os></domain>",
    ("<domain><os><firmware><feature enabled='yes' name='enrolled-keys'/>"
     "<feature enabled='no' name='secure-boot'/></firmware></os></domain>"),
    "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain><name>&x;</name></domain>",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(VsbLibvirtDomain) b = vsb_libvirt_domain_parse(bad[i], strlen(bad[i]), "bad.xml", &error);
    if (b) {
      /* The external entity is never loaded. */
      g_assert_true(b->name == NULL || strstr(b->name, "root:") == NULL);
      continue;
    }
    g_assert_nonnull(strstr(error->message, "bad.xml"));
    g_clear_error(&error);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/qemu-cmdline/opts", test_opts);
  g_test_add_func("/qemu-cmdline/machine-accel", test_machine_accel);
  g_test_add_func("/qemu-cmdline/flash-drive", test_flash_drive);
  g_test_add_func("/qemu-cmdline/flash-blockdev", test_flash_blockdev);
  g_test_add_func("/qemu-cmdline/globals", test_globals);
  g_test_add_func("/qemu-cmdline/objects", test_objects);
  g_test_add_func("/qemu-cmdline/readconfig", test_readconfig);
  g_test_add_func("/qemu-cmdline/set", test_set);
  g_test_add_func("/qemu-cmdline/drive-files", test_drive_files);
  g_test_add_func("/qemu-cmdline/machine-properties", test_machine_properties);
  g_test_add_func("/qemu-cmdline/readconfig-qemu-rules", test_readconfig_qemu_rules);
  g_test_add_func("/qemu-cmdline/process-cwd-unknown", test_process_cwd_unknown);
  g_test_add_func("/qemu-cmdline/many-options", test_many_options);
  g_test_add_func("/qemu-cmdline/errors", test_errors);
  g_test_add_func("/qemu-cmdline/random-bytes", test_random_bytes);
  g_test_add_func("/qemu-cmdline/libvirt-domain", test_libvirt_domain);
  return g_test_run();
}
