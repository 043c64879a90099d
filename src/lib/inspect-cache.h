/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the library: what a VsbAuditCache (audit.h) remembers across audits. File facts are keyed
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

/* A process whose program looks like QEMU (its argv[0]'s base name holds "qemu", or is
 * "kvm"), as the audit's search for other users of a varstore filters them. */
typedef struct {
  int pid;
  char **argv;
} VsbAuditProcess;
/* Those of proc (a /proc), read at the first call and kept (VsbAuditProcess*, owned by the
 * cache): a cache serves one scan of a few seconds, and every VM's audit asks. */
GPtrArray *vsb_audit_cache_qemu_processes(VsbAuditCache *cache, const char *proc);

/* vsb_host_kvm_probe(qemu_binary, why, error) once per binary (cache may be NULL: every call
 * probes); *why newly allocated. */
VsbHostKvm vsb_audit_cache_host_kvm(VsbAuditCache *cache, const char *qemu_binary, char **why,
                                    GError **error);

G_END_DECLS
