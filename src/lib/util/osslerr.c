/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/osslerr.h"

#include <openssl/err.h>

char *
vsb_ossl_error_take(gboolean reason_only)
{
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0)
    return g_strdup(reason_only ? "unknown reason" : "unknown OpenSSL error");
  const char *reason = reason_only ? ERR_reason_error_string(e) : NULL;
  if (reason)
    return g_strdup(reason);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return g_strdup(buf);
}
