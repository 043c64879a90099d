/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/guid.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = g_strndup((const char *)data, size);
  VsbGuid g;
  if (vsb_guid_lookup(text, &g)) {
    char buf[VSB_GUID_STRING_LEN + 1];
    VsbGuid again;
    vsb_guid_format(&g, buf);
    if (!vsb_guid_parse(buf, &again) || !vsb_guid_equal(&g, &again))
      __builtin_trap();
  }
  g_free(text);
  return 0;
}
