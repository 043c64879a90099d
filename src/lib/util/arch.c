/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/arch.h"

#include <string.h>

gboolean
vsb_arch_is_x86(VsbFwArch arch)
{
  return arch == VSB_FW_ARCH_X86_64 || arch == VSB_FW_ARCH_I386;
}

gboolean
vsb_arch_is_arm(VsbFwArch arch)
{
  return arch == VSB_FW_ARCH_AARCH64 || arch == VSB_FW_ARCH_ARM;
}

gboolean
vsb_arch_from_pe_machine(guint16 machine, VsbFwArch *out)
{
  switch (machine) {
  case 0x014c: *out = VSB_FW_ARCH_I386; return TRUE;
  case 0x8664: *out = VSB_FW_ARCH_X86_64; return TRUE;
  case 0x01c2:
  case 0x01c4: *out = VSB_FW_ARCH_ARM; return TRUE;
  case 0xaa64: *out = VSB_FW_ARCH_AARCH64; return TRUE;
  case 0x5064: *out = VSB_FW_ARCH_RISCV64; return TRUE;
  case 0x6264: *out = VSB_FW_ARCH_LOONGARCH64; return TRUE;
  default: return FALSE;
  }
}

const char *
vsb_arch_libvirt_name(VsbFwArch arch)
{
  switch (arch) {
  case VSB_FW_ARCH_ARM: return "armv7l";
  default: return vsb_fw_arch_name(arch);
  }
}

int
vsb_arch_from_any_name(const char *name)
{
  if (name == NULL)
    return -1;
  if (strcmp(name, "i686") == 0)
    return VSB_FW_ARCH_I386;
  if (strcmp(name, "armv7l") == 0)
    return VSB_FW_ARCH_ARM;
  return vsb_fw_arch_from_name(name);
}
