/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: firmware selection, as libvirt's qemuFirmwareMatchDomain() does it: the descriptors
 * are tried in precedence order (fwsearch.h) and the first one no rule rejects is chosen. The
 * rules run in libvirt's order, so the first reason reported for a rejected descriptor is the
 * one libvirt would hit first:
 *   interface; loader/template path; architecture + machine glob; acpi-s3/acpi-s4;
 *   secure-boot, enrolled-keys; requires-smm (SMM on/off); device, flash mode, formats;
 *   amd-sev, amd-sev-es, amd-sev-snp, intel-tdx; other features (a vsboot extension).
 * A feature "wanted" must be present. A feature "refused" must be absent; libvirt only knows
 * this for secure-boot, enrolled-keys and requires-smm (refused = SMM off), vsboot extends it
 * to every feature. requires-smm wanted = SMM on with a secure (SMM-only) varstore flash. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/descriptor.h"
#include "vsboot/fwsearch.h"

VSB_BEGIN_DECLS

typedef enum {
  VSB_FW_WANT_ANY = 0, /* no opinion */
  VSB_FW_WANT_YES,
  VSB_FW_WANT_NO,
} VsbFwWant;

#define VSB_FW_ANY (-1)

typedef struct {
  VsbFwArch arch;
  /* Canonical machine name ("pc-q35-7.2"), or a family pattern ("pc-q35-*") when machine_family
   * is set (see qemu-probe.h: an alias that could not be resolved). Required. */
  const char *machine;
  gboolean machine_family;
  int interface;                         /* VsbFwInterface or VSB_FW_ANY (= uefi or bios) */
  VsbFwWant features[VSB_FW_FEATURE_COUNT];
  int device;                            /* VsbFwDevice or VSB_FW_ANY */
  int mode;                              /* VsbFwFlashMode or VSB_FW_ANY (flash implied) */
  int format;                            /* VsbFwFormat or VSB_FW_ANY: executable and template */
  const char *loader;                    /* executable/filename path, or NULL */
  const char *nvram_template;            /* template path (split implied), or NULL */
} VsbFwRequest;

/* A request that wants nothing in particular (all VSB_FW_ANY); arch and machine still needed. */
void vsb_fw_request_init(VsbFwRequest *req);

typedef struct {
  VsbFwEntry *entry;   /* borrowed from the list given to vsb_fw_select() */
  /* Stable id: "chosen"; "later" (acceptable, but an earlier one was chosen); "masked";
   * "invalid"; "interface", "loader-path", "template-path", "target", "missing-feature",
   * "unwanted-feature", "smm", "device", "mode", "format", "template-format". */
  const char *reason_id;
  char *reason;        /* human text, one line */
  int feature;         /* VsbFwFeature for *-feature / smm reasons, else -1 */
} VsbFwVerdict;

typedef struct {
  GPtrArray *verdicts;        /* VsbFwVerdict*, one per entry, list order */
  VsbFwEntry *chosen;         /* NULL when nothing matched */
  int chosen_index;           /* index in verdicts, or -1 */
} VsbFwSelection;

/* Run the rules over every entry. Fails only for an impossible request (VSB_ERROR_INVALID:
 * enrolled-keys wanted with secure-boot refused, as libvirt refuses it; a path that is not
 * absolute); no match is a selection with chosen == NULL. The list must outlive the result. */
VsbFwSelection *vsb_fw_select(GPtrArray *entries, const VsbFwRequest *req, GError **error);
void vsb_fw_selection_free(VsbFwSelection *sel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFwSelection, vsb_fw_selection_free)

/* Would this one descriptor be accepted? On rejection, reason_id/reason (either may be NULL)
 * say why (reason is newly allocated). */
gboolean vsb_fw_match(const VsbFwDescriptor *desc, const VsbFwRequest *req,
                      const char **reason_id, char **reason, int *feature);

/* virFileComparePaths: equal after resolving symlinks, each path falling back to itself when it
 * cannot be resolved (missing file). */
gboolean vsb_fw_paths_equal(const char *a, const char *b);

/* { "chosen": descriptor JSON or null, "request": {...}, "candidates": [ { "name", "path",
 * "verdict": reason_id, "reason", ("feature") } ... ] } */
JsonNode *vsb_fw_selection_to_json(const VsbFwSelection *sel, const VsbFwRequest *req);

VSB_END_DECLS
