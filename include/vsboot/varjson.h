/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the JSON variable format of virt-firmware (virt-fw-vars --output-json) and QEMU's
 * uefi-vars device (qapi/uefi.json):
 *   {"version": 2, "variables": [{"name", "guid", "attr", "data": hex, "time": hex?, "digest"?}]}
 * python-uefivars writes "timestamp" instead of "time" and may write v1 (a bare list); both are
 * read. QEMU's "digest" is kept (VsbVariable.digest) and written back. MonotonicCount and
 * PubKeyIndex are not part of the format (0 in every OVMF store). */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/varstore.h"

VSB_BEGIN_DECLS

/* The live variables of a store, in store order ("time" for time-authenticated variables and
 * any variable with a non-zero time stamp; "digest" when the variable has one). */
JsonNode *vsb_varjson_export(const VsbVarstore *store);
/* Same as text, pretty-printed, with a trailing newline. */
char *vsb_varjson_export_text(const VsbVarstore *store);

/* Variables (VsbVariable*) from JSON text; errors name the origin and the entry at fault. */
GPtrArray *vsb_varjson_parse(const char *text, gssize len, const char *origin, GError **error);
GPtrArray *vsb_varjson_load(const char *path, GError **error);

/* Replace every variable of store (a template) with copies of vars, in their order. */
void vsb_varjson_apply(VsbVarstore *store, GPtrArray *vars);

VSB_END_DECLS
