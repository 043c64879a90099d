/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the firmware part of a QEMU command line for a provisioned VM, built as libvirt
 * builds it (qemu_command.c): -blockdev nodes + -machine pflash0=/pflash1= from QEMU 4.0 on,
 * -drive if=pflash before; smm=on and the cfi.pflash01 "secure" global whenever the firmware
 * requires SMM (without them a requires-smm build hangs, or its varstore is writable by the OS
 * and Secure Boot can be undone from the guest), and S3 off (-global ICH9-LPC.disable_s3=1) for
 * an SMM OVMF whose PEI phase is X64, which edk2 before 2023.05 stops in PEI while S3 is offered.
 * Parsing command lines is qemu-cmdline.h. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/vm.h"

VSB_BEGIN_DECLS

/* Node names of the -blockdev syntax (libvirt uses "libvirt-pflash0-storage" etc.). */
#define VSB_QEMU_PFLASH0_STORAGE "vsboot-pflash0-storage"
#define VSB_QEMU_PFLASH0_FORMAT  "vsboot-pflash0-format"
#define VSB_QEMU_PFLASH1_STORAGE "vsboot-pflash1-storage"
#define VSB_QEMU_PFLASH1_FORMAT  "vsboot-pflash1-format"

typedef struct {
  guint qemu_major, qemu_minor; /* the QEMU that will run it: picks -blockdev (>= 4.0) or -drive */
  const char *tpm_socket;       /* NULL: vsb_vm_tpm_socket_path() when the VM has a TPM */
  gboolean no_tpm;              /* leave the TPM out even when provisioned */
} VsbQemuArgvOptions;

/* The arguments (char*, without the binary): -machine TYPE[,smm=on][,pflash0=..,pflash1=..],
 * the flash/-bios arguments, the secure-flash global, the S3 global (the code image is read
 * for it, once per file version: an image that cannot be read gets none), and the TPM. Fails with
 * VSB_ERROR_UNSUPPORTED for what vsboot does not start (kernel/igvm devices, SMM off x86). */
GPtrArray *vsb_qemu_argv_build(const VsbVm *vm, const VsbQemuArgvOptions *opts, GError **error);

/* One line, each argument quoted for a POSIX shell only when it needs it. */
char *vsb_shell_join(GPtrArray *args);
/* Quote one word for a POSIX shell (unchanged when it is safe as it is). */
char *vsb_shell_quote(const char *word);
/* Value for a -drive/-device option list: ',' doubled, as QEMU's option parser expects. */
char *vsb_qemu_opt_escape(const char *value);

VSB_END_DECLS
