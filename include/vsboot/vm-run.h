/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: start a provisioned VM. The whole QEMU command line is the emitted firmware part
 * (qemu-argv.h) plus accelerator, memory, console and disks, so what `run` starts is what
 * `qemu-args` prints. KVM is used only where it can run the firmware: a requires-smm build
 * needs SMM, which some hosts' KVM lacks ("System Management Mode not supported by this
 * hypervisor"); that is probed by starting QEMU paused once. swtpm is started and stopped
 * with the VM when it has a TPM. Watching the console for a verdict is launch.h. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/vm.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_ACCEL_AUTO, /* KVM when it can run this firmware, else TCG */
  VSB_ACCEL_KVM,
  VSB_ACCEL_TCG,
} VsbAccel;
int vsb_accel_from_name(const char *name); /* -1 when unknown */

typedef struct {
  const char *qemu_binary;   /* NULL: qemu-system-ARCH from PATH */
  VsbAccel accel;
  guint memory_mib;          /* 0: 512 */
  const char *const *disks;  /* virtio disks, format from the file's magic (qcow2 or raw) */
  const char *cdrom;         /* an ISO on virtio-scsi */
  const char *esp_image;     /* a FAT image to boot from (first disk) */
  const char *serial;        /* NULL or "stdio": the console on stdout; else a file */
  const char *tpm_socket;    /* NULL: vsb_vm_tpm_socket_path() when the VM has a TPM */
  const char *const *extra;  /* appended as they are */
} VsbRunOptions;

typedef struct {
  GPtrArray *argv;           /* char*: binary first, NULL-terminated for spawning */
  char *binary;
  char *accel;               /* "kvm" or "tcg" */
  char *accel_note;          /* why that accelerator */
  GPtrArray *warnings;       /* char*: firmware changed since provisioning, ... */
} VsbRunPlan;

void vsb_run_plan_free(VsbRunPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRunPlan, vsb_run_plan_free)

/* Check the VM's files (present; varstore not locked by a running QEMU), find QEMU and its
 * version, choose the accelerator and build the command line. VSB_ERROR_TOOL when QEMU is
 * missing, VSB_ERROR_NOT_FOUND when firmware files vanished, VSB_ERROR_BUSY when running. */
VsbRunPlan *vsb_vm_run_plan(const VsbVm *vm, const VsbRunOptions *opts, GError **error);

/* The accelerator for vm as `run` chooses it (want AUTO: KVM only where it can run this
 * firmware, e.g. SMM; qemu_binary is the QEMU to probe with): "kvm" or "tcg" in *accel and the
 * reason in *note, both newly allocated. */
gboolean vsb_vm_choose_accel(const VsbVm *vm, const char *qemu_binary, VsbAccel want,
                             char **accel, char **note, GError **error);
/* Can this host's KVM run a guest with SMM? Starts `BINARY -accel kvm -machine q35,smm=on -S`
 * and quits it through QMP. FALSE with *why (QEMU's message) when not; an error only when
 * QEMU cannot be run at all. */
gboolean vsb_kvm_can_smm(const char *qemu_binary, char **why, GError **error);

/* swtpm serving the VM's TPM state on a control socket, for the lifetime of the VM. */
typedef struct _VsbSwtpm VsbSwtpm;
VsbSwtpm *vsb_swtpm_start(const char *state_dir, const char *socket_path, GError **error);
/* Stop it (SIGTERM, then SIGKILL after a grace period) and remove the socket. */
void vsb_swtpm_stop(VsbSwtpm *tpm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbSwtpm, vsb_swtpm_stop)

/* Run argv with this process's stdin/stdout/stderr and wait; timeout_ms 0: no limit, else
 * QEMU is stopped at the limit (SIGTERM, SIGKILL 5 s later; *timed_out set). Returns QEMU's exit status (128+signal when
 * killed by one), or -1 with error when it could not be started. */
int vsb_vm_run_foreground(GPtrArray *argv, guint timeout_ms, gboolean *timed_out,
                          GError **error);

VSB_END_DECLS
