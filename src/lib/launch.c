/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QEMU under watch: spawn, read the serial console from its stdout, stop at the verdict. */
#include "vsboot/launch.h"
#include "vsboot/descriptor.h"
#include "util/autofd.h"
#include "util/enumname.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "tool.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const verdict_names[] = { "none", "timeout", "ran", "denied" };
VSB_ENUM_NAME_ONLY(vsb_boot_verdict, VsbBootVerdict, verdict_names, VSB_BOOT_VERDICT_DENIED + 1,
                   "?")

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

/* The read loop both watchers share: every complete console line goes to on_line, which
 * returns TRUE once the verdict is in res; on_tick is asked whenever the console has been quiet
 * until the time it last asked to be woken (*wake_us, 0 for never). */
typedef gboolean (*LineFunc)(VsbLaunchResult *res, const char *line, gint64 now,
                             gint64 *wake_us, gpointer data);
typedef gboolean (*TickFunc)(VsbLaunchResult *res, gint64 now, gint64 *wake_us, gpointer data);

static gboolean
feed_line(VsbLaunchResult *res, const char *p, gsize len, gint64 now, gint64 *wake,
          LineFunc on_line, gpointer data)
{
  if (len == 0)
    return FALSE;
  g_autofree char *line = clean_line(p, len);
  return on_line(res, line, now, wake, data);
}

static VsbLaunchResult *
watch(const char *const *argv, guint timeout_ms, LineFunc on_line, TickFunc on_tick,
      gpointer data, GError **error)
{
  g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
  gint64 start = g_get_monotonic_time();
  /* Through the one spawner: stdin a pipe nobody writes (QEMU's -serial stdio must not read the
   * caller's terminal), the console on stdout with stderr merged into it, and the QEMU dies
   * with the process watching it instead of running on unwatched until its own timeout. */
  g_autoptr(GSubprocess) proc = vsb_tool_spawn(
    argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
    G_SUBPROCESS_FLAGS_STDERR_MERGE, TRUE, error);
  if (proc == NULL)
    return NULL;
  GInputStream *out = g_subprocess_get_stdout_pipe(proc);
  int fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(out));

  VsbLaunchResult *res = g_new0(VsbLaunchResult, 1);
  res->exit_status = -1;
  GString *log = g_string_new(NULL);
  gsize line_start = 0;
  gint64 deadline = start + (gint64)timeout_ms * 1000, wake = 0;
  gboolean decided = FALSE, eof = FALSE;

  while (!decided && !eof) {
    gint64 now = g_get_monotonic_time();
    if (wake && now >= wake && on_tick && (decided = on_tick(res, now, &wake, data)))
      break;
    if (now >= deadline) {
      res->verdict = VSB_BOOT_VERDICT_TIMEOUT;
      break;
    }
    gint64 until = wake ? MIN(wake, deadline) : deadline;
    GPollFD pfd = { fd, G_IO_IN | G_IO_HUP | G_IO_ERR, 0 };
    gint wait_ms = (gint)CLAMP((until - now + 999) / 1000, 0, G_MAXINT);
    int r = g_poll(&pfd, 1, wait_ms);
    if (r <= 0)
      continue; /* EINTR or a time limit: the loop head decides */
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
    now = g_get_monotonic_time();
    for (gsize i = old_len; i < log->len && !decided; i++) {
      if (log->str[i] == '\n' || log->str[i] == '\r') {
        decided = feed_line(res, log->str + line_start, i - line_start, now, &wake, on_line,
                            data);
        line_start = i + 1;
      }
    }
    if (eof && !decided)
      decided = feed_line(res, log->str + line_start, log->len - line_start, now, &wake,
                          on_line, data);
  }

  if ((decided || res->verdict == VSB_BOOT_VERDICT_TIMEOUT) && !eof) {
    g_subprocess_force_exit(proc);
    res->killed = TRUE;
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

typedef struct {
  const VsbBootPattern *patterns;
  gsize n;
} PatternWatch;

static gboolean
pattern_line(VsbLaunchResult *res, const char *line, gint64 now, gint64 *wake_us, gpointer data)
{
  const PatternWatch *w = data;
  for (gsize i = 0; i < w->n; i++) {
    if (w->patterns[i].text && strstr(line, w->patterns[i].text)) {
      res->verdict = w->patterns[i].verdict;
      res->line = g_strdup(line);
      return TRUE;
    }
  }
  return FALSE;
}

VsbLaunchResult *
vsb_launch_watch(const char *const *argv, const VsbBootPattern *patterns, gsize n_patterns,
                 guint timeout_ms, GError **error)
{
  PatternWatch w = { patterns, n_patterns };
  return watch(argv, timeout_ms, pattern_line, NULL, &w, error);
}

/* ---- the verdict on one boot option ----------------------------------------------------------- */

/* A line of OVMF/ArmVirt's PlatformBmPrintScLib (StatusCodeHandler.c), which reports every boot
 * option the BDS tries: `BdsDxe: loading Boot0001 "desc" from PATH`, `starting ...`,
 * `failed to load ...: STATUS`, `failed to start ...: STATUS`. */
typedef enum { BDS_NONE, BDS_LOADING, BDS_STARTING, BDS_LOAD_FAILED, BDS_START_FAILED } BdsEvent;

static BdsEvent
bds_parse(const char *line, char option[9], const char **status)
{
  static const struct { const char *verb; BdsEvent ev; } verbs[] = {
    { "loading ", BDS_LOADING }, { "starting ", BDS_STARTING },
    { "failed to load ", BDS_LOAD_FAILED }, { "failed to start ", BDS_START_FAILED },
  };
  const char *p = strstr(line, "BdsDxe: ");
  if (p == NULL)
    return BDS_NONE;
  p += strlen("BdsDxe: ");
  for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++) {
    gsize vl = strlen(verbs[i].verb);
    if (strncmp(p, verbs[i].verb, vl) != 0 || strncmp(p + vl, "Boot", 4) != 0 ||
        strlen(p + vl) < 8)
      continue;
    g_strlcpy(option, p + vl, 9);
    const char *colon = g_strrstr(p, ": ");
    *status = colon ? colon + 2 : "";
    return verbs[i].ev;
  }
  return BDS_NONE;
}

typedef struct {
  const VsbImageWatch *w;
  char option[9];       /* the image's option ("Boot0001"), "" until the BDS names it */
  gint64 started_at;    /* when "starting" was printed for it, 0 before */
  char *started_line;
} ImageWatch;

static gboolean
image_decide(VsbLaunchResult *res, VsbBootVerdict verdict, const char *line, const char *why)
{
  res->verdict = verdict;
  res->line = why ? g_strdup_printf("%s (%s)", line, why) : g_strdup(line);
  return TRUE;
}

static gboolean
image_line(VsbLaunchResult *res, const char *line, gint64 now, gint64 *wake_us, gpointer data)
{
  ImageWatch *iw = data;
  if (strstr(line, VSB_PAYLOAD_MARKER))
    return image_decide(res, VSB_BOOT_VERDICT_RAN, line, NULL);
  for (gsize i = 0; i < iw->w->n_ran; i++)
    if (iw->w->ran[i] && strstr(line, iw->w->ran[i]))
      return image_decide(res, VSB_BOOT_VERDICT_RAN, line, NULL);
  char option[9];
  const char *status = NULL;
  BdsEvent ev = bds_parse(line, option, &status);
  if (ev == BDS_NONE)
    return FALSE;
  if (iw->option[0] == '\0' &&
      (iw->w->option_match == NULL || strstr(line, iw->w->option_match) != NULL))
    g_strlcpy(iw->option, option, sizeof iw->option);
  if (strcmp(option, iw->option) != 0) {
    /* The BDS went on to another option: the image's one returned without a refusal. */
    if (iw->started_at)
      return image_decide(res, VSB_BOOT_VERDICT_RAN, iw->started_line,
                          "the firmware started it; it returned and the next option was tried");
    return FALSE;
  }
  gboolean refused = strstr(status, "Access Denied") || strstr(status, "Security Violation");
  switch (ev) {
  case BDS_STARTING:
    /* OVMF can print "starting" and then "failed to start ...: Security Violation" for the
     * same option, so the verdict waits for the settle time. */
    iw->started_at = now;
    *wake_us = now + (gint64)iw->w->settle_ms * 1000;
    g_free(iw->started_line);
    iw->started_line = g_strdup(line);
    return FALSE;
  case BDS_LOAD_FAILED:
  case BDS_START_FAILED:
    if (refused)
      return image_decide(res, VSB_BOOT_VERDICT_DENIED, line, NULL);
    if (ev == BDS_START_FAILED)
      return image_decide(res, VSB_BOOT_VERDICT_RAN, line,
                          "the firmware ran it; the image itself returned an error");
    return image_decide(res, VSB_BOOT_VERDICT_NONE, line, "the image could not be loaded");
  default:
    return FALSE;
  }
}

static gboolean
image_tick(VsbLaunchResult *res, gint64 now, gint64 *wake_us, gpointer data)
{
  ImageWatch *iw = data;
  *wake_us = 0;
  if (iw->started_at && now - iw->started_at >= (gint64)iw->w->settle_ms * 1000)
    return image_decide(res, VSB_BOOT_VERDICT_RAN, iw->started_line,
                        "started, and not refused within the settle time");
  return FALSE;
}

VsbLaunchResult *
vsb_launch_watch_image(const char *const *argv, const VsbImageWatch *w, guint timeout_ms,
                       GError **error)
{
  VsbImageWatch defaults = { NULL, VSB_IMAGE_SETTLE_MS, NULL, 0 };
  ImageWatch iw = { w ? w : &defaults, "", 0, NULL };
  VsbLaunchResult *res = watch(argv, timeout_ms, image_line, image_tick, &iw, error);
  g_free(iw.started_line);
  return res;
}

/* mkfs.vfat and mtools through the shared runner (a time limit, one way to report failure). */
static gboolean
run_tool(const char *const *argv, GError **error)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  if (!vsb_tool_run(argv, &out, &err, &status, error))
    return FALSE;
  if (status != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s failed (exit %d): %s", argv[0], status,
                g_strstrip(err && *err ? err : out ? out : ""));
    return FALSE;
  }
  return TRUE;
}

gboolean
vsb_launch_make_esp(const char *image_path, const char *efi_app, VsbFwArch arch,
                    GError **error)
{
  /* UEFI's removable-media file names for the two architectures run --efi-app boots. */
  const char *boot_name = arch == VSB_FW_ARCH_X86_64    ? "BOOTX64.EFI"
                          : arch == VSB_FW_ARCH_AARCH64 ? "BOOTAA64.EFI"
                                                        : NULL;
  if (boot_name == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
                "no removable-media boot file name for architecture '%s'", vsb_fw_arch_name(arch));
    return FALSE;
  }
  struct stat st;
  VSB_AUTOFD app_fd = vsb_file_open_regular(efi_app, &st, error);
  if (app_fd < 0)
    return FALSE;
  /* FAT12/16 with room to spare: 4 MiB, or the app plus 2 MiB. */
  guint64 kib = MAX((guint64)4096, (guint64)st.st_size / 1024 + 2048);
  g_autofree char *size_text = g_strdup_printf("%" G_GUINT64_FORMAT, kib);
  g_autofree char *dest = g_strdup_printf("::/EFI/BOOT/%s", boot_name);
  /* The image is built in a private random-named directory beside the target (nothing at a
   * predictable name, nothing followed), then renamed over it. */
  vsb_file_clean_leftovers(image_path);
  struct stat dir_st;
  VSB_AUTOFD lock_fd = -1;
  g_autofree char *dir = vsb_file_make_temp_dir_near(image_path, &dir_st, &lock_fd, error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *tmp = g_build_filename(dir, "esp.img", NULL);
  const char *mkfs[] = { "mkfs.vfat", "-C", "-n", "ESP", tmp, size_text, NULL };
  /* mtools refuses the geometry mkfs.vfat picks for small images unless told not to check. */
  const char *mmd[] = { "env", "MTOOLS_SKIP_CHECK=1", "mmd", "-i", tmp, "::/EFI", "::/EFI/BOOT",
                        NULL };
  const char *mcopy[] = { "env", "MTOOLS_SKIP_CHECK=1", "mcopy", "-i", tmp, efi_app, dest, NULL };
  VsbWriteOptions opts = { .mode = 0644 };
  gboolean ok = run_tool(mkfs, error) && run_tool(mmd, error) && run_tool(mcopy, error) &&
                vsb_file_replace_with(tmp, image_path, &opts, error);
  g_autoptr(GError) cleanup = NULL;
  vsb_dir_remove_created(dir, &dir_st, ok ? &cleanup : NULL);
  return ok;
}
