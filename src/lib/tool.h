/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: running the external tools vsboot relies on (qemu-img, qemu-system-ARCH) and keeping
 * what they print, so that every caller reports a tool that is missing, killed, hung or failing
 * the same way. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

/* How long vsb_tool_run lets a tool run. qemu-img on a varstore and the qemu-system probes
 * take well under a second; a tool still running after this is stuck (an NFS hang, a FIFO it
 * opened, a broken build) and must not hang vsboot. */
#define VSB_TOOL_TIMEOUT_MS 60000

/* Run argv (argv[0] looked up in PATH) with stdin /dev/null; hand back its stdout and stderr
 * as text and its exit status (-1 when a signal ended it). FALSE (VSB_ERROR_TOOL, naming
 * argv[0]) when it could not be run or read, or ran longer than VSB_TOOL_TIMEOUT_MS (it is
 * then killed with SIGKILL and reaped); a non-zero status is the caller's to judge. */
gboolean vsb_tool_run(const char *const *argv, char **out, char **err, int *status,
                      GError **error);
/* The same with an explicit time limit in milliseconds (0: VSB_TOOL_TIMEOUT_MS). */
gboolean vsb_tool_run_full(const char *const *argv, guint timeout_ms, char **out, char **err,
                           int *status, GError **error);

/* The same with input written to its stdin (then closed); input NULL: stdin is /dev/null. For
 * tools driven over stdin, such as a QMP probe of qemu-system. */
gboolean vsb_tool_run_with_input(const char *const *argv, const char *input, guint timeout_ms,
                                 char **out, char **err, int *status, GError **error);

/* How vsb_tool_run_ex runs a tool. With DIE_WITH_PARENT the tool gets SIGTERM when vsboot dies
 * (PR_SET_PDEATHSIG, as vsb_tool_spawn's die_with_parent): for a tool that writes into files a
 * later recovery removes (swtpm_setup filling a new TPM state directory), which must not go on
 * writing after the vsboot that started it was killed. */
typedef enum {
  VSB_TOOL_RUN_DEFAULT = 0,
  VSB_TOOL_RUN_DIE_WITH_PARENT = 1 << 0,
} VsbToolRunFlags;
/* vsb_tool_run_with_input with flags; out and err may be NULL (what the tool printed there is
 * read and dropped). */
gboolean vsb_tool_run_ex(const char *const *argv, const char *input, guint timeout_ms,
                         VsbToolRunFlags flags, char **out, char **err, int *status,
                         GError **error);

/* The one way libvsboot starts a process it does not run to completion at once (QEMU under
 * watch, swtpm beside a VM, swtpm_setup): argv[0] looked up in PATH, flags as GIO takes them,
 * and with die_with_parent the child gets SIGTERM when vsboot dies (it must not outlive the VM
 * it serves). NULL with VSB_ERROR_TOOL "cannot run ARGV0: REASON" when it cannot start. */
GSubprocess *vsb_tool_spawn(const char *const *argv, GSubprocessFlags flags,
                            gboolean die_with_parent, GError **error);

G_END_DECLS
