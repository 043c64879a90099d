/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: start a provisioned VM. The whole QEMU command line is the emitted firmware part
 * (qemu-argv.h) plus accelerator, memory, console and disks, so what `run` starts is what
 * `qemu-args` prints. KVM is used only where it can run the firmware: a requires-smm build
 * needs SMM, which some hosts' KVM lacks ("System Management Mode not supported by this
 * hypervisor"); that is probed by starting QEMU paused once. A run (VsbRun) owns what lives
 * exactly as long as the VM: swtpm, started and stopped with it when it has a TPM, and the
 * private directory of the ESP an EFI app boots from. Watching the console is launch.h. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/launch.h"
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
  const char *efi_app;       /* vsb_run_new only: boot this EFI binary from an ESP the run
                              * makes in its private directory (esp_image is then ignored) */
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

/* A run of vm (borrowed: it must outlive the run). vsb_run_new checks and plans as
 * vsb_vm_run_plan does and, with opts->efi_app, makes the run's private directory (mode 0700,
 * in the temporary directory) whose ESP image is on the command line; nothing is started. The
 * two ways to run make the ESP, start swtpm when the VM has a TPM (on opts->tpm_socket, or
 * vsb_vm_tpm_socket_path()), run QEMU, and stop swtpm again whatever QEMU did. Freeing the run
 * removes its private directory by the identity it was made with (a directory swapped in at
 * its name is left alone). A caller that wants Ctrl-C to stop only QEMU catches SIGINT. */
typedef struct _VsbRun VsbRun;
VsbRun *vsb_run_new(const VsbVm *vm, const VsbRunOptions *opts, GError **error);
void vsb_run_free(VsbRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbRun, vsb_run_free)
const VsbRunPlan *vsb_run_get_plan(const VsbRun *run);
/* QEMU in the foreground, as vsb_vm_run_foreground. */
int vsb_run_foreground(VsbRun *run, guint timeout_ms, gboolean *timed_out, GError **error);
/* The EFI app's boot watched (vsb_launch_watch_image: the ESP is the first disk, so its option
 * is the first the firmware tries); an error when the run has no EFI app. */
VsbLaunchResult *vsb_run_watch_efi_app(VsbRun *run, guint timeout_ms, GError **error);

/* Run argv with this process's stdin/stdout/stderr and wait; timeout_ms 0: no limit, else
 * QEMU is stopped at the limit (SIGTERM, SIGKILL 5 s later; *timed_out set). Returns QEMU's exit status (128+signal when
 * killed by one), or -1 with error when it could not be started. */
int vsb_vm_run_foreground(GPtrArray *argv, guint timeout_ms, gboolean *timed_out,
                          GError **error);

VSB_END_DECLS
