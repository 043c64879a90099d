/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: firmware image files as QEMU maps them into flash. One rule set for provisioning,
 * `firmware check` and the audit: a code file and a varstore file must be the two halves of
 * one build, or the firmware silently keeps its variables in RAM and nothing persists. */
#pragma once

#include <glib.h>
#include "vsboot/descriptor.h"

G_BEGIN_DECLS

/* The size the guest sees: the file size for raw, the virtual size for qcow2 (`qemu-img info`).
 * A file whose content is not of the stated format (qcow2 magic or not) is refused. */
gboolean vsb_fw_image_size(const char *path, VsbFwFormat format, guint64 *size, GError **error);

/* Whether code and varstore sizes belong to one build of the firmware for arch.
 * OVMF (x86): code + varstore make a 1, 2 or 4 MiB flash, the varstore being 128 KiB (1M/2M
 * builds) or 528 KiB (4M builds). ArmVirt: both 64 MiB banks padded, or neither, and neither
 * larger. Other architectures are not judged. VSB_ERROR_INVALID says which size was expected. */
gboolean vsb_fw_image_check_pair(VsbFwArch arch, const char *code, guint64 code_size,
                                 const char *vars, guint64 vars_size, GError **error);

G_END_DECLS
