/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one architecture type is VsbFwArch (descriptor.h), named as firmware.json names it
 * ("x86_64", "i386", "aarch64", "arm", ...). This is the one place for its other spellings:
 * the PE/COFF machine of a firmware module or EFI binary, libvirt's names (i686, armv7l), the
 * name QEMU's qemu-system-ARCH binaries carry, and the family questions (x86? Arm?) that
 * decide SMM, the TPM model and pflash layout. Private to libvsboot (not installed). */
#pragma once

#include "vsboot/descriptor.h"

#include <glib.h>

/* x86_64 or i386: SMM, q35/pc, tpm-crb. */
gboolean vsb_arch_is_x86(VsbFwArch arch);
/* aarch64 or arm: the virt machine, pflash of 64 MiB. */
gboolean vsb_arch_is_arm(VsbFwArch arch);

/* The architecture of a PE/COFF Machine field; FALSE when it is none vsboot knows. Arm is
 * both 0x01c2 (Thumb mixed, what edk2 builds) and 0x01c4 (ARMNT). */
gboolean vsb_arch_from_pe_machine(guint16 machine, VsbFwArch *out);

/* The <os><type arch=...> name vsboot writes into libvirt XML: "armv7l" for arm, firmware.json's
 * word otherwise (as the emitter always wrote it). */
const char *vsb_arch_libvirt_name(VsbFwArch arch);
/* Either spelling (libvirt's or firmware.json's) to the type; -1 when unknown or NULL. */
int vsb_arch_from_any_name(const char *name);
