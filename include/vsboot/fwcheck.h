/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the strict descriptor linter behind `vsboot firmware check`, for packagers.
 * Errors: schema errors, missing files, relative file names, code and varstore sizes that do
 * not belong together, secure-boot on x86 without requires-smm, enrolled-keys without
 * secure-boot, and features the binary does not have (read from its firmware volumes).
 * Warnings: oddities that do not stop use. Notes: features the binary has but the
 * descriptor does not claim (Debian's OVMF_CODE_4M.fd carries Secure Boot without SMM). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/descriptor.h"

VSB_BEGIN_DECLS

typedef struct {
  char *path;
  GPtrArray *errors;   /* char*, each "member: what is wrong" */
  GPtrArray *warnings; /* char* */
  GPtrArray *notes;    /* char* */
} VsbFwCheckReport;

/* Check one descriptor; with d NULL, the report holds load_error (the file did not parse).
 * Inspecting the executable costs about 0.15 s for an OVMF build. */
VsbFwCheckReport *vsb_fw_check_descriptor(const char *path, const VsbFwDescriptor *d,
                                          const GError *load_error);
void vsb_fw_check_report_free(VsbFwCheckReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFwCheckReport, vsb_fw_check_report_free)

/* {"files": [{path, errors[], warnings[], notes[]}], "errors": N, "warnings": N} */
JsonNode *vsb_fw_check_reports_to_json(GPtrArray *reports /* VsbFwCheckReport* */);

VSB_END_DECLS
