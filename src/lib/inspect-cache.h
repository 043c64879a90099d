/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the library: what a VsbAuditCache (audit.h) remembers across audits. Entries are keyed
 * by the file's identity (device, inode, size, mtime and ctime in nanoseconds) taken before and
 * after the work: a file replaced meanwhile is worked on anew and not remembered. */
#pragma once

#include "vsboot/audit.h"
#include "vsboot/fv.h"

G_BEGIN_DECLS

/* vsb_fv_inspect_file(path, NULL, error) once per file identity; the image belongs to the
 * cache (valid while it lives). A failure is remembered too (the same error again). */
const VsbFvImage *vsb_audit_cache_inspect(VsbAuditCache *cache, const char *path,
                                          GError **error);
/* vsb_file_sha256(path, error) once per file identity (newly allocated). */
char *vsb_audit_cache_sha256(VsbAuditCache *cache, const char *path, GError **error);

G_END_DECLS
