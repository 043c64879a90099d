/* vsboot: running the external tools vsboot relies on (qemu-img, qemu-system-ARCH) and keeping
 * what they print, so that every caller reports a tool that is missing, killed or failing the
 * same way. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Run argv (argv[0] looked up in PATH) with stdin closed; hand back its stdout and stderr as
 * text and its exit status (-1 when a signal ended it). FALSE (VSB_ERROR_TOOL, naming argv[0])
 * only when it could not be run or read; a non-zero status is the caller's to judge. */
gboolean vsb_tool_run(const char *const *argv, char **out, char **err, int *status,
                      GError **error);

G_END_DECLS
