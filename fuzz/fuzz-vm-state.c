/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A VM state file (DIR/NAME.json) on arbitrary bytes. When it parses, its JSON form must parse
 * again to the same JSON, and every emitter (QEMU arguments in both syntaxes, libvirt XML in
 * every style, fragment and domain) must either produce output or fail with a message. */
#include "vsboot/libvirt-xml.h"
#include "vsboot/qemu-argv.h"
#include "vsboot/vm.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
to_text(const VsbVm *vm)
{
  JsonNode *n = vsb_vm_to_json(vm);
  char *t = json_to_string(n, FALSE);
  json_node_unref(n);
  return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  VsbVm *vm = vsb_vm_parse((const char *)data, size, "fuzz.json", &error);
  if (vm == NULL) {
    if (error == NULL || error->message == NULL)
      __builtin_trap();
    g_error_free(error);
    return 0;
  }
  char *t1 = to_text(vm);
  VsbVm *again = vsb_vm_parse(t1, strlen(t1), "again.json", &error);
  if (again == NULL)
    __builtin_trap();
  char *t2 = to_text(again);
  if (strcmp(t1, t2) != 0)
    __builtin_trap();

  static const guint versions[][2] = { { 7, 2 }, { 3, 1 } };
  for (gsize i = 0; i < G_N_ELEMENTS(versions); i++) {
    VsbQemuArgvOptions o = { .qemu_major = versions[i][0], .qemu_minor = versions[i][1] };
    GPtrArray *args = vsb_qemu_argv_build(vm, &o, &error);
    if (args) {
      char *line = vsb_shell_join(args);
      g_free(line);
      g_ptr_array_unref(args);
    } else {
      if (error == NULL || error->message == NULL)
        __builtin_trap();
      g_clear_error(&error);
    }
  }
  for (int style = VSB_LIBVIRT_STYLE_AUTO; style <= VSB_LIBVIRT_STYLE_LEGACY; style++) {
    for (int domain = 0; domain < 2; domain++) {
      VsbLibvirtXmlOptions o = { .style = (VsbLibvirtStyle)style, .domain = domain };
      char *xml = vsb_libvirt_xml_build(vm, &o, &error);
      if (xml == NULL) {
        if (error == NULL || error->message == NULL)
          __builtin_trap();
        g_clear_error(&error);
      }
      g_free(xml);
    }
  }
  g_free(t1);
  g_free(t2);
  vsb_vm_free(again);
  vsb_vm_free(vm);
  return 0;
}
