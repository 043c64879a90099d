#include "vsboot/tool.h"
#include "vsboot/error.h"

#include <gio/gio.h>

gboolean
vsb_tool_run(const char *const *argv, char **out, char **err, int *status, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                         G_SUBPROCESS_FLAGS_STDERR_PIPE, &local);
  if (p == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot run %s: %s", argv[0], local->message);
    return FALSE;
  }
  if (!g_subprocess_communicate_utf8(p, NULL, NULL, out, err, &local)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s: %s", argv[0], local->message);
    return FALSE;
  }
  *status = g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p) : -1;
  return TRUE;
}
