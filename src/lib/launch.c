/* QEMU under watch: spawn, read the serial console from its stdout, stop at the verdict. */
#include "vsboot/launch.h"
#include "vsboot/error.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

const char *
vsb_boot_verdict_name(VsbBootVerdict verdict)
{
  switch (verdict) {
  case VSB_BOOT_VERDICT_NONE: return "none";
  case VSB_BOOT_VERDICT_TIMEOUT: return "timeout";
  case VSB_BOOT_VERDICT_RAN: return "ran";
  case VSB_BOOT_VERDICT_DENIED: return "denied";
  }
  return "?";
}

static const VsbBootPattern default_patterns[] = {
  { VSB_PAYLOAD_MARKER, VSB_BOOT_VERDICT_RAN },
  /* BdsDxe: "failed to load Boot0001 ... : Access Denied" / "... : Security Violation"
   * (EFI_STATUS text of the image verification result, MdeModulePkg BmBoot.c). */
  { "Access Denied", VSB_BOOT_VERDICT_DENIED },
  { "Security Violation", VSB_BOOT_VERDICT_DENIED },
};

const VsbBootPattern *
vsb_launch_default_patterns(gsize *n_out)
{
  *n_out = G_N_ELEMENTS(default_patterns);
  return default_patterns;
}

void
vsb_launch_result_free(VsbLaunchResult *result)
{
  if (result == NULL)
    return;
  g_free(result->line);
  g_free(result->log);
  g_free(result);
}

/* The line without ANSI/VT100 escape sequences (the firmware clears the screen, moves the
 * cursor and sets colours) and other control bytes. */
static char *
clean_line(const char *p, gsize len)
{
  GString *s = g_string_sized_new(len);
  for (gsize i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == 0x1b) {
      /* ESC [ params final, or ESC + one byte. */
      if (i + 1 < len && p[i + 1] == '[') {
        i += 2;
        while (i < len && !((unsigned char)p[i] >= 0x40 && (unsigned char)p[i] <= 0x7e))
          i++;
      } else {
        i++;
      }
      continue;
    }
    if (c < 0x20 && c != '\t')
      continue;
    g_string_append_c(s, (char)c);
  }
  return g_string_free(s, FALSE);
}

static gboolean
match_line(VsbLaunchResult *res, const char *p, gsize len, const VsbBootPattern *patterns,
           gsize n_patterns)
{
  if (len == 0)
    return FALSE;
  g_autofree char *line = clean_line(p, len);
  for (gsize i = 0; i < n_patterns; i++) {
    if (patterns[i].text && strstr(line, patterns[i].text)) {
      res->verdict = patterns[i].verdict;
      res->line = g_steal_pointer(&line);
      return TRUE;
    }
  }
  return FALSE;
}

VsbLaunchResult *
vsb_launch_watch(const char *const *argv, const VsbBootPattern *patterns, gsize n_patterns,
                 guint timeout_ms, GError **error)
{
  g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
    G_SUBPROCESS_FLAGS_STDERR_MERGE);
  gint64 start = g_get_monotonic_time();
  g_autoptr(GSubprocess) proc = g_subprocess_launcher_spawnv(launcher, argv, &local);
  if (proc == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot start %s: %s", argv[0],
                local->message);
    return NULL;
  }
  GInputStream *out = g_subprocess_get_stdout_pipe(proc);
  int fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(out));

  VsbLaunchResult *res = g_new0(VsbLaunchResult, 1);
  res->exit_status = -1;
  GString *log = g_string_new(NULL);
  gsize line_start = 0;
  gint64 deadline = start + (gint64)timeout_ms * 1000;
  gboolean decided = FALSE, eof = FALSE;

  while (!decided && !eof) {
    gint64 now = g_get_monotonic_time();
    if (now >= deadline) {
      res->verdict = VSB_BOOT_VERDICT_TIMEOUT;
      break;
    }
    GPollFD pfd = { fd, G_IO_IN | G_IO_HUP | G_IO_ERR, 0 };
    gint wait_ms = (gint)MIN((deadline - now + 999) / 1000, G_MAXINT);
    int r = g_poll(&pfd, 1, wait_ms);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      continue; /* timeout: the loop head decides */
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0) {
      eof = TRUE;
      n = 0;
    }
    gsize old_len = log->len;
    g_string_append_len(log, buf, n);
    for (gsize i = old_len; i < log->len && !decided; i++) {
      if (log->str[i] == '\n' || log->str[i] == '\r') {
        decided = match_line(res, log->str + line_start, i - line_start, patterns, n_patterns);
        line_start = i + 1;
      }
    }
    if (eof && !decided)
      decided = match_line(res, log->str + line_start, log->len - line_start, patterns,
                           n_patterns);
  }

  if (decided || res->verdict == VSB_BOOT_VERDICT_TIMEOUT) {
    if (!eof) {
      g_subprocess_force_exit(proc);
      res->killed = TRUE;
    }
  }
  g_subprocess_wait(proc, NULL, NULL);
  if (!res->killed && g_subprocess_get_if_exited(proc))
    res->exit_status = g_subprocess_get_exit_status(proc);
  if (!decided && res->verdict != VSB_BOOT_VERDICT_TIMEOUT)
    res->verdict = VSB_BOOT_VERDICT_NONE;
  res->seconds = (double)(g_get_monotonic_time() - start) / 1e6;
  res->log = g_string_free(log, FALSE);
  return res;
}

static gboolean
run_tool(const char *const *argv, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_setenv(launcher, "MTOOLS_SKIP_CHECK", "1", TRUE);
  g_autoptr(GSubprocess) proc = g_subprocess_launcher_spawnv(launcher, argv, &local);
  g_autofree char *output = NULL;
  if (proc == NULL || !g_subprocess_communicate_utf8(proc, NULL, NULL, &output, NULL, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot run %s: %s", argv[0], local->message);
    return FALSE;
  }
  if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s failed: %s", argv[0],
                output ? g_strstrip(output) : "");
    return FALSE;
  }
  return TRUE;
}

gboolean
vsb_launch_make_esp(const char *image_path, const char *efi_app, const char *arch,
                    GError **error)
{
  const char *boot_name;
  if (arch == NULL || g_strcmp0(arch, "x86_64") == 0)
    boot_name = "BOOTX64.EFI";
  else if (g_strcmp0(arch, "aarch64") == 0)
    boot_name = "BOOTAA64.EFI";
  else {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "no removable-media boot file name for architecture '%s'", arch);
    return FALSE;
  }
  GStatBuf st;
  if (g_stat(efi_app, &st) != 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: not a readable file", efi_app);
    return FALSE;
  }
  /* FAT12/16 with room to spare: 4 MiB, or the app plus 2 MiB. */
  guint64 kib = MAX((guint64)4096, (guint64)st.st_size / 1024 + 2048);
  g_autofree char *size_text = g_strdup_printf("%" G_GUINT64_FORMAT, kib);
  g_autofree char *tmp = g_strdup_printf("%s.tmp-%d", image_path, (int)getpid());
  g_autofree char *dest = g_strdup_printf("::/EFI/BOOT/%s", boot_name);
  g_unlink(tmp);

  const char *mkfs[] = { "mkfs.vfat", "-C", "-n", "ESP", tmp, size_text, NULL };
  const char *mmd[] = { "mmd", "-i", tmp, "::/EFI", "::/EFI/BOOT", NULL };
  const char *mcopy[] = { "mcopy", "-i", tmp, efi_app, dest, NULL };
  if (!run_tool(mkfs, error) || !run_tool(mmd, error) || !run_tool(mcopy, error)) {
    g_unlink(tmp);
    return FALSE;
  }
  if (g_rename(tmp, image_path) != 0) {
    int e = errno;
    g_unlink(tmp);
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "cannot rename %s to %s: %s", tmp, image_path,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}
