/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place that turns OpenSSL's error queue into the text of a message: the last (most
 * specific) error, the queue cleared so that a later message does not pick up a stale one.
 * Private to libvsboot (not installed). */
#pragma once

#include <glib.h>

/* The last queued error as OpenSSL's one-line text ("error:...:reason"), or with reason_only
 * just its reason ("too long"), for messages that already say what was being read. When the
 * queue is empty: "unknown OpenSSL error" (reason_only: "unknown reason"). Newly allocated. */
char *vsb_ossl_error_take(gboolean reason_only);
