/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the library: the firmware facts both emitters (qemu-argv.c, libvirt-xml.c) and the
 * audit act on, derived from the code image itself rather than from its descriptor. */
#pragma once

#include <glib.h>
#include "vsboot/fv.h"
#include "vsboot/vm.h"

G_BEGIN_DECLS

/* TRUE when the code image at path is an OVMF built with SMM_REQUIRE whose PEI phase is X64
 * (OvmfPkgX64.dsc, such as Debian's 2M OVMF_CODE.secboot.fd), read from its firmware volumes
 * (the SMM variable driver, the PEI core's PE machine) and remembered per file identity in the
 * file cache. Before edk2-stable202305 such a build's PlatformPei (S3Verification) stops in a
 * dead loop, printing nothing on the serial console, whenever QEMU advertises ACPI S3, because
 * S3Resume2Pei could not resume X64 PEI with SMM; it starts only with S3 off. An image that
 * cannot be read as firmware volumes is not known to be one: FALSE. */
gboolean vsb_firmware_needs_s3_off(const char *path);
/* The same fact of an image already inspected (the audit's cache holds one per file). */
gboolean vsb_fv_image_needs_s3_off(const VsbFvImage *image);

/* Whether the VM's firmware is such a build on a q35 machine with SMM: the emitters then turn
 * S3 off (QEMU: -global ICH9-LPC.disable_s3=1; libvirt: <pm><suspend-to-mem enabled='no'/>). */
gboolean vsb_vm_needs_s3_off(const VsbVm *vm);

G_END_DECLS
