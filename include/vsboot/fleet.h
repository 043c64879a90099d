/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: every VM of a host, found and judged by the single-VM audit (audit.h).
 *
 * Three sources, each VM listed once:
 *  - libvirt domains, through libvirt's client library (read-only connection): the live
 *    definition of a running domain, the inactive one of a stopped domain;
 *  - vsboot state directories: every DIR/NAME.json;
 *  - every other running QEMU (PROC/PID/cmdline).
 * A QEMU process belongs to a libvirt domain when its -uuid or -name guest=NAME is the
 * domain's, and to a state-dir VM when its -name is the VM's and its pflash1 is the VM's
 * varstore (same device and inode); it is then that VM (running), not another one.
 * A VM that cannot be read (a domain whose XML libvirt will not give or vsboot cannot parse, a
 * state file that does not load, a process that vanished) is judged not enforced with a
 * finding saying why; the others are still judged. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/audit.h"
#include "vsboot/mscerts.h"
#include "vsboot/rollover.h"

VSB_BEGIN_DECLS

/* The URI tried when no libvirt URI is given; a daemon that does not answer is a note. */
#define VSB_FLEET_DEFAULT_URI "qemu:///system"

typedef enum {
  VSB_FLEET_LIBVIRT,
  VSB_FLEET_STATE_DIR,
  VSB_FLEET_PROCESS,
} VsbFleetSource;
const char *vsb_fleet_source_name(VsbFleetSource source); /* "libvirt", "state-dir", "process" */

typedef struct {
  char *name;
  VsbFleetSource source;
  char *origin;            /* the libvirt URI, the state directory, or "/proc" */
  char *uuid;              /* NULL when unknown (a QEMU without -uuid) */
  gboolean running;
  int pid;                 /* its QEMU, 0 when none was found */
  VsbAuditReport *audit;   /* NULL when the VM could not be read (then failure says why) */
  VsbFinding *failure;     /* id "vm-unreadable", error severity; NULL when audited */
  gboolean enforced;
  /* From the varstore the audit judged (NULL / -1 when it could not be read). */
  VsbMsState *microsoft;
  int dbx_entries;
  gboolean tpm;            /* a TPM is configured (state file, <tpm>, -tpmdev) */
  /* The file a rollover would write: the state-dir varstore or libvirt's <nvram>; NULL for
   * processes and for a store not created yet (libvirt copies the template at start). */
  char *writable_store;
} VsbFleetVm;

/* 1 when the store trusts a Microsoft 2023 CA and no 2011 CA lacks its successor. */
gboolean vsb_fleet_vm_microsoft_2023(const VsbFleetVm *vm);
/* 1 when a Microsoft 2011 CA the store trusts lacks a 2023 successor. */
gboolean vsb_fleet_vm_rollover_needed(const VsbFleetVm *vm);

typedef struct {
  /* libvirt URIs to list (each must answer: an error otherwise); NULL or empty:
   * VSB_FLEET_DEFAULT_URI when its daemon answers, else no libvirt source (a note says so).
   * no_libvirt: none at all. */
  const char *const *libvirt_uris;
  gboolean no_libvirt;
  const char *const *state_dirs;
  gboolean no_processes;   /* no process scan, neither for VMs nor in their audits */
  const char *proc_root;   /* NULL: "/proc" */
  GPtrArray *firmware_entries; /* descriptors (fwsearch.h, borrowed); NULL: QEMU's path */
  const char *nvram_dir;   /* libvirt's, NULL: VSB_LIBVIRT_NVRAM_DIR */
} VsbFleetOptions;

typedef struct {
  GPtrArray *vms;          /* VsbFleetVm*, sorted by source, then name */
  GPtrArray *notes;        /* char*: sources tried, skipped, how processes were matched */
  double scan_seconds;
  guint n_enforced;
} VsbFleet;

/* Find and judge every VM. Fails (no partial fleet) only on bad input: a given libvirt URI
 * that cannot be opened or listed (libvirt's message, naming the URI), a state directory that
 * cannot be read, a descriptor list that cannot be read. libvirt's own error reporting is
 * taken per connection (virConnSetErrorFunc); errors of virConnectOpen itself are printed by
 * libvirt's default handler unless the program has set one (the CLI sets a silent one). */
VsbFleet *vsb_fleet_scan(const VsbFleetOptions *opts, GError **error);
void vsb_fleet_free(VsbFleet *fleet);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFleet, vsb_fleet_free)

/* {"vms": [{"name", "source", "origin", "uuid", "running", "pid", "verdict": "enforced" |
 *  "not-enforced", "findings": [{"id", "severity", "message", "evidence", "fix"}],
 *  "firmware": {"code", "descriptor", "via"}, "secure-boot": "user"|"setup"|"disabled"|null,
 *  "microsoft": {"kek-2011": "enrolled", ...} | null, "microsoft-2023", "rollover-needed",
 *  "dbx-entries" (null when unread), "tpm", "varstore", "notes": [the audit's notes]}],
 *  "enforced", "not-enforced",
 *  "scan-seconds", "notes": [...]} */
JsonNode *vsb_fleet_to_json(const VsbFleet *fleet);

/* node_exporter's textfile-collector format: HELP and TYPE lines, per VM
 * vsboot_vm_secure_boot_enforced, vsboot_vm_microsoft_ca_2023,
 * vsboot_vm_microsoft_rollover_needed, vsboot_vm_dbx_entries (when read),
 * vsboot_vm_findings{severity=error|warning|info}, vsboot_vm_running, labelled vm, source and
 * uuid (values escaped, made valid UTF-8; a label set that would repeat gets " #2"), and
 * vsboot_fleet_vms, vsboot_fleet_scan_seconds. */
char *vsb_fleet_to_prometheus(const VsbFleet *fleet);
/* The same written atomically to path (mode 0644; a temporary file next to it renamed over
 * it): a reader never sees half a file, and on an error nothing is left behind. */
gboolean vsb_fleet_write_prometheus(const VsbFleet *fleet, const char *path, GError **error);

/* ---- rollover at scale ----------------------------------------------------------------- */

typedef enum {
  VSB_FLEET_RO_DONE,       /* rollover.h status says what (up-to-date, would-change, ...) */
  VSB_FLEET_RO_PENDING,    /* running: its store is never written; stop it and run again */
  VSB_FLEET_RO_NO_STORE,   /* nothing to write: no varstore, or libvirt has not created it */
  VSB_FLEET_RO_FAILED,     /* the store could not be read or written (error says why) */
} VsbFleetRolloverKind;

typedef struct {
  VsbFleetRolloverKind kind;
  VsbRolloverStatus status;/* for DONE */
  GPtrArray *changes;      /* char*: what was (or would be) added */
  char *error;             /* FAILED, and the reason for NO_STORE */
} VsbFleetRollover;

/* "up-to-date", "not-microsoft", "would-change", "changed", "pending", "no-store", "failed" */
const char *vsb_fleet_rollover_state(const VsbFleetRollover *ro);

/* For every VM of fleet, the rollover to the 2023 CAs (rollover.h, vsb_rollover_file): a dry
 * run unless apply. Stopped VMs only are written, each whole or untouched; a running VM is
 * pending. Returns VsbFleetRollover*, one per fleet->vms entry, in the same order. */
GPtrArray *vsb_fleet_rollover(const VsbFleet *fleet, gboolean apply);
void vsb_fleet_rollover_free(VsbFleetRollover *ro);
/* {"status", "changes": [...], "error"} */
JsonNode *vsb_fleet_rollover_to_json(const VsbFleetRollover *ro);
/* The reminder every rollover report carries: PCR 7, BitLocker. */
const char *vsb_fleet_rollover_reminder(void);

VSB_END_DECLS
