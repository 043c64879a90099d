/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testutil.h"
#include "vsboot/launch.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

void
vsb_test_fail(const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  g_autofree char *text = g_strdup_vprintf(format, ap);
  va_end(ap);
  const char *nl = strchr(text, '\n');
  if (nl == NULL)
    g_error("%s", text);
  g_test_message("%s", text);
  g_error("%.*s (the whole message is above)", (int)(nl - text), text);
}

const char *
vsb_test_vsboot(void)
{
  const char *p = g_getenv("VSBOOT");
  g_assert_nonnull(p);
  return p;
}

const char *
vsb_test_data_dir(void)
{
  const char *p = g_getenv("VSB_TEST_DATA");
  g_assert_nonnull(p);
  return p;
}

int
vsb_test_spawn(const char *const *argv, const char *const *envp, char **out, char **err)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *o = NULL, *e = NULL;
  int status = 0;
  if (!g_spawn_sync(NULL, (char **)argv, (char **)envp, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e,
                    &status, &error))
    vsb_test_fail("cannot run %s: %s", argv[0], error->message);
  int code;
  if (WIFEXITED(status))
    code = WEXITSTATUS(status);
  else
    code = 128 + WTERMSIG(status);
  if (e && (strstr(e, "ERROR: AddressSanitizer") || strstr(e, "runtime error:") ||
            strstr(e, "ERROR: LeakSanitizer")))
    vsb_test_fail("sanitizer report from %s:\n%s", argv[0], e);
  if (out)
    *out = g_steal_pointer(&o);
  if (err)
    *err = g_steal_pointer(&e);
  return code;
}

int
vsb_test_runv(const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)vsb_test_vsboot());
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add(argv, (char *)*a);
  g_ptr_array_add(argv, NULL);
  int code = vsb_test_spawn((const char *const *)argv->pdata, NULL, out, err);
  /* The CLI must never die of a signal, whatever the input. */
  g_assert_cmpint(code, <, 128);
  return code;
}

int
vsb_test_run(char **out, char **err, const char *arg1, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  va_list ap;
  va_start(ap, arg1);
  for (const char *a = arg1; a; a = va_arg(ap, const char *))
    g_ptr_array_add(args, (char *)a);
  va_end(ap);
  g_ptr_array_add(args, NULL);
  return vsb_test_runv((const char *const *)args->pdata, out, err);
}

static void
remove_tree(gpointer data)
{
  char *dir = data;
  const char *argv[] = { "rm", "-rf", "--", dir, NULL };
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(dir);
}

char *
vsb_test_tmpdir(void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("vsboot-test-XXXXXX", &error);
  g_assert_no_error(error);
  if (g_getenv("VSB_TEST_KEEP") == NULL)
    g_test_queue_destroy(remove_tree, g_strdup(dir));
  return dir;
}

void
vsb_test_require_tool(const char *tool)
{
  g_autofree char *path = g_find_program_in_path(tool);
  if (path == NULL)
    vsb_test_fail("required tool '%s' is not installed (run ./dev.sh test to install it)", tool);
}

JsonNode *
vsb_test_parse_json(const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string(text, &error);
  if (node == NULL)
    vsb_test_fail("not JSON (%s):\n%s", error ? error->message : "empty", text);
  return node;
}

void
vsb_test_write_file(const char *path, const void *data, gssize len)
{
  g_autoptr(GError) error = NULL;
  if (len < 0)
    len = (gssize)strlen(data);
  g_file_set_contents(path, data, len, &error);
  g_assert_no_error(error);
}

char *
vsb_test_copy_file(const char *from, const char *dir, const char *name, int mode)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_file_get_contents(from, &data, &len, &error);
  g_assert_no_error(error);
  char *to = dir ? g_build_filename(dir, name, NULL) : g_strdup(name);
  vsb_test_write_file(to, data, (gssize)len);
  g_assert_cmpint(g_chmod(to, mode), ==, 0);
  return to;
}

char *
vsb_test_truncated_qcow2(const char *dir, const char *raw)
{
  vsb_test_require_tool("qemu-img");
  g_autofree char *whole = g_build_filename(dir, "whole.qcow2", NULL);
  const char *conv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, whole, NULL };
  g_assert_cmpint(vsb_test_spawn(conv, NULL, NULL, NULL), ==, 0);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(whole, &data, &len, NULL));
  g_assert_cmpuint(len, >, 100000);
  g_unlink(whole);
  char *cut = g_build_filename(dir, "tr.qcow2", NULL);
  vsb_test_write_file(cut, data, 100000);
  return cut;
}

VsbLaunchResult *
vsb_test_boot_ovmf(const char *code, const char *vars, const char *esp,
                   const VsbBootPattern *patterns, gsize n_patterns, guint timeout_ms)
{
  g_autofree char *code_drive = g_strdup_printf(
    "if=pflash,format=raw,unit=0,readonly=on,file=%s",
    code ? code : "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  g_autofree char *vars_drive = g_strdup_printf("if=pflash,format=raw,unit=1,file=%s", vars);
  g_autofree char *esp_drive = g_strdup_printf("if=none,id=esp,format=raw,file=%s", esp);
  const char *argv[] = {
    "qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg", "-m", "256",
    "-global", "driver=cfi.pflash01,property=secure,value=on",
    "-drive", code_drive, "-drive", vars_drive,
    "-drive", esp_drive, "-device", "virtio-blk-pci,drive=esp,bootindex=0",
    "-display", "none", "-vga", "none", "-monitor", "none", "-serial", "stdio", "-net", "none",
    "-no-reboot", NULL,
  };
  g_autoptr(GError) error = NULL;
  VsbLaunchResult *res =
    patterns ? vsb_launch_watch(argv, patterns, n_patterns, timeout_ms, &error)
             : vsb_launch_watch_image(argv, NULL, timeout_ms, &error);
  g_assert_no_error(error);
  g_test_message("verdict %s after %.1f s: %s", vsb_boot_verdict_name(res->verdict),
                 res->seconds, res->line ? res->line : "(no line)");
  return res;
}

char *
vsb_test_make_esp(const char *dir, const char *name, const char *app)
{
  char *img = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(vsb_launch_make_esp(img, app, VSB_FW_ARCH_X86_64, &error));
  g_assert_no_error(error);
  return img;
}

void
vsb_test_copy_dir(const char *from, const char *to)
{
  g_autoptr(GDir) d = g_dir_open(from, 0, NULL);
  g_assert_nonnull(d);
  const char *n;
  while ((n = g_dir_read_name(d))) {
    g_autofree char *src = g_build_filename(from, n, NULL);
    g_autofree char *dst = g_build_filename(to, n, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(src, &data, &len, NULL));
    vsb_test_write_file(dst, data, (gssize)len);
  }
}
