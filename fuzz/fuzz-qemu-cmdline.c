/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's readers of untrusted text: a QEMU command line (shell-quoted or NUL-separated, as
 * /proc/PID/cmdline), a -readconfig file, a libvirt domain. The first byte picks the reader.
 * Every outcome must be a command line or a GError with a valid UTF-8 message. */
#include "vsboot/libvirt-domain.h"
#include "vsboot/qemu-cmdline.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(GError *error)
{
  if (error == NULL || error->message == NULL || !g_utf8_validate(error->message, -1, NULL))
    __builtin_trap();
  g_error_free(error);
}

static void
resolve(const VsbQemuCmdline *cmd)
{
  for (guint unit = 0; unit < 3; unit++) {
    VsbQemuFlash f;
    GError *error = NULL;
    if (vsb_qemu_cmdline_get_flash(cmd, unit, &f, &error)) {
      if (f.present && f.file == NULL)
        __builtin_trap();
      vsb_qemu_flash_clear(&f);
    } else {
      check_error(error);
    }
  }
  gboolean set;
  const char *ev;
  vsb_qemu_cmdline_pflash_secure(cmd, &set, &ev);
  if (set && ev == NULL)
    __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0] % 3;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  GError *error = NULL;
  if (mode == 0) {
    /* A command line as `--qemu-cmdline` or stdin gets it. */
    char **argv = vsb_qemu_split_cmdline(text, len, &error);
    if (argv == NULL) {
      check_error(error);
      return 0;
    }
    VsbQemuCmdline *cmd =
      vsb_qemu_cmdline_parse((const char *const *)argv, (int)g_strv_length(argv), "/", &error);
    if (cmd) {
      resolve(cmd);
      vsb_qemu_cmdline_free(cmd);
    } else {
      check_error(error);
    }
    g_strfreev(argv);
  } else if (mode == 1) {
    /* A -readconfig file (no file system access: parsed from memory). */
    VsbQemuCmdline *cmd = vsb_qemu_cmdline_new();
    if (vsb_qemu_readconfig_parse(cmd, text, len, "fuzz.cfg", &error))
      resolve(cmd);
    else
      check_error(error);
    vsb_qemu_cmdline_free(cmd);
  } else {
    VsbLibvirtDomain *dom = vsb_libvirt_domain_parse(text, len, "fuzz.xml", &error);
    if (dom)
      vsb_libvirt_domain_free(dom);
    else
      check_error(error);
  }
  return 0;
}
