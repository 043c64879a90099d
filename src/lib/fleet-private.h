/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to the fleet modules (fleet.c, fleet-libvirt.c, fleet-audit.c, fleet-report.c). */
#pragma once

#include "vsboot/audit.h"
#include "vsboot/fleet.h"

#include <sys/types.h>

/* One scan: what every VM's audit shares, so that N VMs cost N audits and not N setups. */
typedef struct {
  const VsbFleetOptions *opts;
  GPtrArray *entries;        /* descriptors (borrowed or owned_entries) */
  GPtrArray *owned_entries;
  GPtrArray *procs;          /* FleetProc*: the QEMU processes found */
  VsbAuditCache *cache;      /* firmware inspections shared by every VM's audit */
  VsbFleet *fleet;
} FleetScan;

typedef struct {
  int pid;
  char *name;                /* -name NAME or guest=NAME, NULL when none */
  char *uuid;                /* -uuid, NULL when none */
  dev_t dev;                 /* pflash1's file, when it has one (has_store) */
  ino_t ino;
  gboolean has_store;
  gboolean tpm;              /* -tpmdev */
  gboolean other_mnt_ns;     /* runs in another mount namespace than the scan */
  gboolean claimed;          /* it is a libvirt domain's or a state-dir VM's QEMU */
} FleetProc;

/* The audit options every VM of the scan starts from. */
void fleet_audit_options(const FleetScan *scan, VsbAuditOptions *out);

/* The single-VM audit from each source; NULL with an error when the input cannot be read or
 * parsed (the caller makes that a finding). */
VsbAuditReport *fleet_audit_libvirt_xml(FleetScan *scan, const char *xml, gsize len,
                                        const char *origin, guint64 libvirt_version,
                                        int self_pid, GError **error);
VsbAuditReport *fleet_audit_state_vm(FleetScan *scan, const char *state_dir, const char *name,
                                     int self_pid, GError **error);
VsbAuditReport *fleet_audit_process(FleetScan *scan, int pid, GError **error);

/* A VM judged not enforced because it could not be read. */
VsbFinding *fleet_failure_new(const char *what, const GError *error);

/* A new VM of the fleet; fills in the varstore facts (Microsoft CAs, dbx) from its audit. */
VsbFleetVm *fleet_vm_add(FleetScan *scan, VsbFleetSource source, const char *name,
                         const char *origin);
void fleet_vm_set_audit(VsbFleetVm *vm, VsbAuditReport *report, const char *what,
                        GError *error);

/* The QEMU of a libvirt domain: by -uuid, else by -name guest=NAME; NULL when none. */
FleetProc *fleet_proc_for_domain(FleetScan *scan, const char *name, const char *uuid);

/* libvirt: every domain of every URI (or the default one). */
gboolean fleet_scan_libvirt(FleetScan *scan, GError **error);
