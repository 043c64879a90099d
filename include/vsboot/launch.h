/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: start QEMU and judge a boot by what appears on the serial console. The proof that
 * Secure Boot is enforced is a real boot: an image the firmware must refuse is refused, and one
 * it must run prints a marker. QEMU is stopped as soon as the verdict is on the console, so a
 * test never waits for a timeout to learn the answer. */
#pragma once

#include "vsboot/descriptor.h"
#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

typedef enum {
  VSB_BOOT_VERDICT_NONE,     /* QEMU exited by itself and no pattern appeared */
  VSB_BOOT_VERDICT_TIMEOUT,  /* no pattern within the time limit; QEMU was killed */
  VSB_BOOT_VERDICT_RAN,      /* the payload's marker line appeared: the firmware ran it */
  VSB_BOOT_VERDICT_DENIED,   /* the firmware refused an image ("Access Denied", ...) */
} VsbBootVerdict;

const char *vsb_boot_verdict_name(VsbBootVerdict verdict); /* "none", "timeout", "ran", ... */

/* A console line containing text decides verdict. */
typedef struct {
  const char *text;
  VsbBootVerdict verdict;
} VsbBootPattern;

/* The marker the vsboot test payload prints ("VSBOOT-PAYLOAD SecureBoot=1 SetupMode=0"). */
#define VSB_PAYLOAD_MARKER "VSBOOT-PAYLOAD"

/* The payload marker plus the texts OVMF/ArmVirt's BDS prints when DxeImageVerificationLib
 * rejects an image ("Access Denied", "Security Violation"); n_out gets the count. */
const VsbBootPattern *vsb_launch_default_patterns(gsize *n_out);

typedef struct {
  VsbBootVerdict verdict;
  char *line;          /* the console line that decided (escape sequences removed), or NULL */
  char *log;           /* everything QEMU wrote to stdout and stderr */
  double seconds;      /* from start to verdict or exit */
  gboolean killed;     /* vsboot stopped QEMU (verdict or timeout) */
  int exit_status;     /* QEMU's exit code when it exited by itself, else -1 */
} VsbLaunchResult;

void vsb_launch_result_free(VsbLaunchResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbLaunchResult, vsb_launch_result_free)

/* Run argv (a QEMU command line that sends the serial console to stdout: -serial stdio,
 * -display none, -monitor none) and match every complete console line against patterns, the
 * first match deciding. QEMU is killed at the verdict or after timeout_ms, and gets SIGTERM if
 * the thread watching it dies first (it never runs on unwatched). An error only when QEMU
 * cannot be started (VSB_ERROR_TOOL). */
VsbLaunchResult *vsb_launch_watch(const char *const *argv, const VsbBootPattern *patterns,
                              gsize n_patterns, guint timeout_ms, GError **error);

/* Did the firmware run one image? The verdict comes from the firmware's own words about the
 * boot option that carries it (OVMF/ArmVirt's `BdsDxe: loading|starting|failed to load|failed
 * to start BootNNNN "desc" from PATH[: STATUS]` lines), never from a later option:
 *  - "failed to load" or "failed to start" ending in Access Denied / Security Violation: DENIED;
 *  - "failed to start" with another status (shim without GRUB returns Not Found): RAN;
 *  - "starting" and then, within settle_ms, no refusal for that option: RAN (OVMF may print
 *    "starting" before a refusal, which follows at once), as is the BDS moving on to another
 *    option after "starting";
 *  - the payload marker or one of the ran texts anywhere: RAN;
 *  - "failed to load" with another status: NONE, with that line.
 * The image's option is the first the BDS names whose line contains option_match (a device
 * path piece such as "Pci(0x3,0x0)"), or the first it names at all when option_match is NULL. */
#define VSB_IMAGE_SETTLE_MS 3000
typedef struct {
  const char *option_match;
  guint settle_ms;
  const char *const *ran;   /* further texts that mean the image itself runs ("grub>") */
  gsize n_ran;
} VsbImageWatch;

/* As vsb_launch_watch, with the verdict on one image; w NULL: the defaults above. */
VsbLaunchResult *vsb_launch_watch_image(const char *const *argv, const VsbImageWatch *w,
                                        guint timeout_ms, GError **error);

/* A FAT image at image_path holding efi_app as the removable-media boot file
 * EFI/BOOT/BOOTX64.EFI (x86_64) or EFI/BOOT/BOOTAA64.EFI (aarch64), made with
 * mkfs.vfat and mtools. Written beside the target and renamed into place. */
gboolean vsb_launch_make_esp(const char *image_path, const char *efi_app, VsbFwArch arch,
                             GError **error);

VSB_END_DECLS
