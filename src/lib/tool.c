/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tool.h"
#include "vsboot/error.h"

#include <gio/gio.h>
#include <signal.h>
#include <sys/prctl.h>

static void
die_with_parent(gpointer data)
{
  (void)data;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

GSubprocess *
vsb_tool_spawn(const char *const *argv, GSubprocessFlags flags, gboolean with_parent,
               GError **error)
{
  g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(flags);
  if (with_parent)
    g_subprocess_launcher_set_child_setup(l, die_with_parent, NULL, NULL);
  GSubprocess *p = g_subprocess_launcher_spawnv(l, argv, &local);
  if (p == NULL)
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot run %s: %s", argv[0], local->message);
  return p;
}

typedef struct {
  GAsyncResult *result; /* set when communicate finished (or was cancelled) */
  gboolean timed_out;
} RunState;

static void
communicated(GObject *source, GAsyncResult *res, gpointer data)
{
  RunState *s = data;
  s->result = g_object_ref(res);
}

static gboolean
expired(gpointer data)
{
  RunState *s = data;
  s->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Communicate with p on a private main context until it finishes or timeout_ms pass; on
 * expiry kill it (SIGKILL: a hung tool may ignore SIGTERM), cancel the reads (a grandchild
 * could hold the pipes open) and reap it. */
static gboolean
communicate_bounded(GSubprocess *p, const char *input, guint timeout_ms, char **out, char **err,
                    gboolean *timed_out, GError **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_autoptr(GCancellable) cancel = g_cancellable_new();
  RunState s = { NULL, FALSE };
  g_main_context_push_thread_default(ctx);
  g_subprocess_communicate_utf8_async(p, input, cancel, communicated, &s);
  GSource *timer = g_timeout_source_new(timeout_ms);
  g_source_set_callback(timer, expired, &s, NULL);
  g_source_attach(timer, ctx);
  while (s.result == NULL && !s.timed_out)
    g_main_context_iteration(ctx, TRUE);
  if (s.result == NULL) {
    g_subprocess_force_exit(p);
    g_cancellable_cancel(cancel);
    while (s.result == NULL)
      g_main_context_iteration(ctx, TRUE);
  }
  gboolean ok = g_subprocess_communicate_utf8_finish(p, s.result, out, err, error);
  if (s.timed_out && s.result != NULL)
    (void)g_subprocess_wait(p, NULL, NULL);
  g_source_destroy(timer);
  g_source_unref(timer);
  g_object_unref(s.result);
  g_main_context_pop_thread_default(ctx);
  *timed_out = s.timed_out;
  return ok;
}

gboolean
vsb_tool_run_ex(const char *const *argv, const char *input, guint timeout_ms,
                VsbToolRunFlags run_flags, char **out, char **err, int *status, GError **error)
{
  g_autoptr(GError) local = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  if (input != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  g_autoptr(GSubprocess) p =
    vsb_tool_spawn(argv, flags, (run_flags & VSB_TOOL_RUN_DIE_WITH_PARENT) != 0, error);
  if (p == NULL)
    return FALSE;
  if (timeout_ms == 0)
    timeout_ms = VSB_TOOL_TIMEOUT_MS;
  gboolean timed_out = FALSE;
  gboolean ok = communicate_bounded(p, input, timeout_ms, out, err, &timed_out, &local);
  if (timed_out) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s: still running after %u.%03u s; killed",
                argv[0], timeout_ms / 1000, timeout_ms % 1000);
    return FALSE;
  }
  if (!ok) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s: %s", argv[0], local->message);
    return FALSE;
  }
  *status = g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p) : -1;
  return TRUE;
}

gboolean
vsb_tool_run_with_input(const char *const *argv, const char *input, guint timeout_ms, char **out,
                        char **err, int *status, GError **error)
{
  return vsb_tool_run_ex(argv, input, timeout_ms, VSB_TOOL_RUN_DEFAULT, out, err, status, error);
}

gboolean
vsb_tool_run_full(const char *const *argv, guint timeout_ms, char **out, char **err, int *status,
                  GError **error)
{
  return vsb_tool_run_with_input(argv, NULL, timeout_ms, out, err, status, error);
}

gboolean
vsb_tool_run(const char *const *argv, char **out, char **err, int *status, GError **error)
{
  return vsb_tool_run_full(argv, 0, out, err, status, error);
}
