/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: a provisioned VM. `DIR/NAME.json` records which firmware descriptor the VM was given,
 * what the descriptor said at that moment, and where the VM's own varstore lives, so that the
 * emitters and `run` start it the same way every time (the varstore holds its keys and boot
 * entries: it is the VM's state and is never re-templated behind its back), and an audit can
 * see whether the firmware files changed since (checksums). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/descriptor.h"
#include "vsboot/sbjudge.h"

VSB_BEGIN_DECLS

/* Names become file names (NAME.json, NAME_VARS.fd) and libvirt domain names. */
#define VSB_VM_NAME_MAX 64
/* The state file is small; refuse anything absurd when loading it. */
#define VSB_VM_STATE_MAX_SIZE (256 * 1024)

typedef enum {
  VSB_VM_KEYS_NONE,     /* whatever the template holds (may be setup mode: --allow-setup-mode) */
  VSB_VM_KEYS_TEMPLATE, /* the descriptor's enrolled-keys template (distro/Microsoft keys) */
  VSB_VM_KEYS_USER,     /* the user's PK/KEK/db enrolled at provisioning */
} VsbVmKeys;
const char *vsb_vm_keys_name(VsbVmKeys keys);

typedef struct {
  char *name;
  char *uuid;              /* made at provisioning; the libvirt <uuid> */
  VsbFwArch arch;
  char *machine;           /* as requested ("q35") */
  char *machine_resolved;  /* concrete type the selection matched ("pc-q35-7.2"); never NULL */

  /* The chosen descriptor, as it was when chosen. */
  char *descriptor_path;
  char *description;       /* may be NULL */
  VsbFwDevice device;
  VsbFwFlashMode mode;     /* flash only */
  char *executable;        /* flash executable, or the memory image */
  VsbFwFormat executable_format;
  char *nvram_template;    /* split only, else NULL */
  VsbFwFormat nvram_template_format;
  guint32 features;        /* VSB_FW_FEATURE_BIT()s */
  char **unknown_features; /* never NULL */

  /* The VM's own state. varstore is NULL for stateless and memory firmware; for combined
   * flash it is the VM's read-write copy of the executable. */
  char *varstore;
  VsbFwFormat varstore_format;
  char *executable_sha256;
  char *template_sha256;   /* NULL without a template */
  VsbVmKeys keys;
  char *keys_dir;          /* absolute; VSB_VM_KEYS_USER only */
  guint microsoft;         /* Microsoft CAs vsboot added (VsbMsCertSet of mscerts.h); state
                            * file "microsoft": their ids, [] when none (absent in old files) */
  int secure_boot;         /* the varstore's VsbSecureBootMode (sbjudge.h) after provisioning,
                            * -1 when there is no varstore; state file "secure-boot": the
                            * mode's name ("user", "setup", "disabled") or null. Files written
                            * before the one vocabulary say "enabled" (read as user) and
                            * "setup-mode" (read as setup). */
  char *tpm_state_dir;     /* NULL without a TPM */
  char *created;           /* ISO 8601 UTC */
} VsbVm;

VsbVm *vsb_vm_new(void);
void vsb_vm_free(VsbVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbVm, vsb_vm_free)

static inline gboolean
vsb_vm_has_feature(const VsbVm *vm, VsbFwFeature feature)
{
  return (vm->features & VSB_FW_FEATURE_BIT(feature)) != 0;
}

/* A VM name is a file name component: 1..VSB_VM_NAME_MAX bytes of UTF-8, no '/', no NUL, not
 * starting with '.', no control characters. VSB_ERROR_INVALID saying which rule failed. */
gboolean vsb_vm_name_validate(const char *name, GError **error);
/* DIR/NAME.json */
char *vsb_vm_state_path(const char *state_dir, const char *name);
/* The socket `run` gives swtpm and QEMU's -chardev: TPM_STATE_DIR/swtpm.sock. */
char *vsb_vm_tpm_socket_path(const VsbVm *vm);

/* The state file as a JSON object (the same fields, the descriptor summary under "firmware"). */
JsonNode *vsb_vm_to_json(const VsbVm *vm);
VsbVm *vsb_vm_from_json(JsonNode *node, const char *origin, GError **error);
/* A state file's text (at most VSB_VM_STATE_MAX_SIZE bytes; origin names it in messages). */
VsbVm *vsb_vm_parse(const char *data, gsize len, const char *origin, GError **error);
/* Load DIR/NAME.json; VSB_ERROR_NOT_FOUND when the VM was never provisioned. The file is
 * opened without following a symbolic link and must be a regular file with one name, at most
 * VSB_VM_STATE_MAX_SIZE bytes; nothing it says is quoted in an error before it has shown itself
 * to be NAME's state file (JSON, "version" 1, "name" NAME). The varstore and TPM directory it
 * names must be the ones vsboot derives for NAME in DIR (VSB_ERROR_INVALID otherwise: a state
 * file naming another VM's varstore is refused). VSB_ERROR_BUSY while an interrupted
 * provisioning of NAME awaits recovery (see vsb_vm_provision). */
VsbVm *vsb_vm_load(const char *state_dir, const char *name, GError **error);

/* A state directory vsboot writes into must belong to the caller (effective uid) and be
 * writable by its owner alone: group- or other-writable (sticky bit or not) would let another
 * user replace a VM's varstore or plant the names vsboot creates. VSB_ERROR_INVALID naming the
 * mode or owner. provision and run check it; it reads nothing but the directory. */
gboolean vsb_vm_state_dir_check(const char *state_dir, GError **error);

/* What `vsboot provision` asks for. Feature names are FirmwareFeature names. */
typedef struct {
  const char *state_dir;
  const char *name;
  VsbFwArch arch;                   /* x86_64, aarch64, ...; VSB_FW_ARCH_UNKNOWN is refused */
  const char *arch_text;            /* the name the caller was given, or NULL: an unknown
                                     * architecture is refused naming it */
  const char *machine;              /* type or alias: q35, pc-q35-7.2, virt */
  const char *const *features;      /* must have; NULL-terminated or NULL */
  const char *const *no_features;   /* must lack */
  const char *const *firmware_dirs; /* search these instead of QEMU's path; NULL: the standard */
  const char *keys_dir;             /* enroll PK.crt, KEK.crt, db.crt (owner.guid) from here */
  gboolean enrolled_keys;           /* ask for the descriptor feature enrolled-keys */
  /* Microsoft CAs to add (VsbMsCertSet of mscerts.h) when microsoft_given; otherwise the 2023
   * set is added to a template that already trusts Microsoft (its KEK holds a Microsoft KEK
   * CA), so that new VMs boot media signed only by the 2023 CAs, and nothing to others. */
  guint microsoft;
  gboolean microsoft_given;
  gboolean allow_setup_mode;        /* accept a template without PK (Secure Boot not enforced) */
  gboolean tpm;                     /* prepare swtpm TPM 2.0 state next to the varstore */
  gboolean reset;                   /* replace an existing varstore (and NAME.json) */
} VsbProvisionRequest;

/* Select the firmware, give the VM its own varstore (mode 0600, reflinked or copy_file_range'd,
 * fsync'd), enroll keys, prepare the TPM, and write DIR/NAME.json. It runs in phases, each
 * with its own inputs and outputs (vm-provision.c): state (what exists at the VM's names),
 * request (the policy: keys, machine, features), select, pair (the chosen files usable
 * together), varstore (built in memory, keys enrolled in secureboot.h's one order), tpm,
 * commit. DIR must pass vsb_vm_state_dir_check(); every file is created relative to it, never
 * through a symbolic link, and only names vsboot derives for NAME are written or removed. An
 * existing VM or varstore is VSB_ERROR_EXISTS (naming what exists) unless reset; a reset is
 * VSB_ERROR_BUSY while a process (a running QEMU) holds the varstore, and refuses a state file
 * that does not load. A second provisioning of NAME while one runs is VSB_ERROR_BUSY at once (a
 * lock, DIR/.NAME.lock). The files change together through a journal (DIR/.NAME.vsb-commit;
 * the protocol is described in vm-provision.c and README): an error before the commit point
 * leaves nothing this call created, a kill at any point leaves the old or the new VM once the
 * next provisioning of NAME has run its recovery. swtpm_setup is stopped after 60 s.
 * notes (may be NULL) receives one line per decision (char*, for the report). The SHA-256 of
 * firmware files is cached in $XDG_CACHE_HOME/vsboot/sha256.json, keyed by device, inode, size,
 * mtime and ctime, so many VMs from one build hash it once. */
VsbVm *vsb_vm_provision(const VsbProvisionRequest *req, GPtrArray **notes, GError **error);

VSB_END_DECLS
