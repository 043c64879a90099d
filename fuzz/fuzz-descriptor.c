/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The descriptor parser on arbitrary bytes. When a file parses, its JSON form must parse again
 * to the same JSON, and selection over it must not crash for a few typical requests. */
#include "vsboot/descriptor.h"
#include "vsboot/fwselect.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  VsbFwDescriptor *d = vsb_fw_descriptor_parse((const char *)data, size, "fuzz.json", &error);
  if (d == NULL) {
    if (error == NULL || error->message == NULL)
      __builtin_trap();
    g_error_free(error);
    return 0;
  }
  JsonNode *n1 = vsb_fw_descriptor_to_json(d);
  char *t1 = json_to_string(n1, FALSE);
  VsbFwDescriptor *again = vsb_fw_descriptor_parse(t1, strlen(t1), "fuzz.json", &error);
  if (again == NULL)
    __builtin_trap();
  JsonNode *n2 = vsb_fw_descriptor_to_json(again);
  char *t2 = json_to_string(n2, FALSE);
  if (strcmp(t1, t2) != 0 || again->features != d->features || again->device != d->device)
    __builtin_trap();

  static const char *const machines[] = { "pc-q35-7.2", "pc-i440fx-7.2", "virt-7.2", "microvm" };
  for (int arch = 0; arch < VSB_FW_ARCH_COUNT; arch++) {
    for (gsize m = 0; m < G_N_ELEMENTS(machines); m++) {
      VsbFwRequest req;
      vsb_fw_request_init(&req);
      req.arch = (VsbFwArch)arch;
      req.machine = machines[m];
      req.machine_family = m == 0 && arch == VSB_FW_ARCH_I386;
      req.features[VSB_FW_FEATURE_SECURE_BOOT] = (VsbFwWant)(m % 3);
      req.loader = m == 1 ? "/usr/share/OVMF/OVMF_CODE_4M.fd" : NULL;
      const char *id = NULL;
      char *reason = NULL;
      int feature = -1;
      if (!vsb_fw_match(d, &req, &id, &reason, &feature) && (id == NULL || reason == NULL))
        __builtin_trap();
      g_free(reason);
    }
  }
  g_free(t1);
  g_free(t2);
  json_node_unref(n1);
  json_node_unref(n2);
  vsb_fw_descriptor_unref(again);
  vsb_fw_descriptor_unref(d);
  return 0;
}
