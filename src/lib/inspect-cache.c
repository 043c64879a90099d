/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit's cache of costly firmware facts (audit.h, inspect-cache.h). A fleet judges
 * hundreds of VMs that run a handful of firmware builds; inflating a build's compressed
 * volumes to inspect it is most of one audit's CPU time, and hashing it most of the rest. */
#include "inspect-cache.h"
#include "util/procpid.h"

#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/qemu-cmdline.h"

#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <sys/stat.h>

struct _VsbAuditCache {
  GHashTable *images;  /* identity -> VsbFvImage* */
  GHashTable *errors;  /* identity -> char*: why it could not be inspected */
  GHashTable *sha256;  /* identity -> char* */
  char *proc;          /* the /proc procs was read from */
  GPtrArray *procs;    /* VsbAuditProcess*, NULL until asked */
  GHashTable *kvm;     /* QEMU binary -> KvmAnswer*: the host's KVM, probed once */
};

static void
process_free(VsbAuditProcess *p)
{
  g_strfreev(p->argv);
  g_free(p);
}

typedef struct {
  VsbHostKvm kvm;
  char *why;
} KvmAnswer;

static void
kvm_answer_free(KvmAnswer *a)
{
  g_free(a->why);
  g_free(a);
}

VsbAuditCache *
vsb_audit_cache_new(void)
{
  VsbAuditCache *c = g_new0(VsbAuditCache, 1);
  c->images = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify)vsb_fv_image_free);
  c->errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  c->sha256 = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  c->kvm = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                 (GDestroyNotify)kvm_answer_free);
  return c;
}

void
vsb_audit_cache_free(VsbAuditCache *c)
{
  if (c == NULL)
    return;
  g_hash_table_unref(c->images);
  g_hash_table_unref(c->errors);
  g_hash_table_unref(c->sha256);
  g_hash_table_unref(c->kvm);
  g_free(c->proc);
  if (c->procs)
    g_ptr_array_unref(c->procs);
  g_free(c);
}

/* The file's identity now, or NULL when it cannot be stat()ed (then nothing is cached). */
static char *
identity(const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return NULL;
  return g_strdup_printf("%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", (uintmax_t)st.st_dev,
                         (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                         st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

static gboolean
unchanged(const char *path, const char *before)
{
  g_autofree char *after = identity(path);
  return before && after && g_str_equal(before, after);
}

const VsbFvImage *
vsb_audit_cache_inspect(VsbAuditCache *c, const char *path, GError **error)
{
  g_autofree char *key = identity(path);
  if (key) {
    const VsbFvImage *img = g_hash_table_lookup(c->images, key);
    const char *why = g_hash_table_lookup(c->errors, key);
    if (img)
      return img;
    if (why) {
      g_set_error_literal(error, VSB_ERROR, VSB_ERROR_INVALID, why);
      return NULL;
    }
  }
  GError *e = NULL;
  VsbFvImage *img = vsb_fv_inspect_file(path, NULL, &e);
  /* Remembered only when the file is the one that was stat()ed before the work. */
  gboolean keep = unchanged(path, key);
  if (img == NULL) {
    if (keep)
      g_hash_table_insert(c->errors, g_steal_pointer(&key), g_strdup(e->message));
    g_propagate_error(error, e);
    return NULL;
  }
  if (!keep) {
    /* Not cacheable, but the caller borrows: keep it under a key no stat() will make. */
    g_free(key);
    key = g_strdup_printf("uncached:%u", g_hash_table_size(c->images));
  }
  g_hash_table_insert(c->images, g_steal_pointer(&key), img);
  return img;
}

char *
vsb_audit_cache_sha256(VsbAuditCache *c, const char *path, GError **error)
{
  g_autofree char *key = identity(path);
  const char *known = key ? g_hash_table_lookup(c->sha256, key) : NULL;
  if (known)
    return g_strdup(known);
  char *sum = vsb_file_sha256(path, error);
  if (sum && unchanged(path, key))
    g_hash_table_insert(c->sha256, g_steal_pointer(&key), g_strdup(sum));
  return sum;
}

static gboolean
looks_like_qemu(char **argv)
{
  if (argv == NULL || argv[0] == NULL)
    return FALSE;
  g_autofree char *base = g_path_get_basename(argv[0]);
  return strstr(base, "qemu") != NULL || strcmp(base, "kvm") == 0;
}

GPtrArray *
vsb_audit_cache_qemu_processes(VsbAuditCache *c, const char *proc)
{
  if (c->procs && g_strcmp0(c->proc, proc) == 0)
    return c->procs;
  if (c->procs)
    g_ptr_array_unref(c->procs);
  g_free(c->proc);
  c->proc = g_strdup(proc);
  c->procs = g_ptr_array_new_with_free_func((GDestroyNotify)process_free);
  g_autoptr(GDir) dir = g_dir_open(proc, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir))) {
    int pid = vsb_proc_entry_pid(name);
    if (pid == 0)
      continue;
    char **argv = vsb_qemu_read_proc_cmdline(proc, pid, NULL);
    if (!looks_like_qemu(argv)) {
      g_strfreev(argv);
      continue;
    }
    VsbAuditProcess *p = g_new0(VsbAuditProcess, 1);
    p->pid = pid;
    p->argv = argv;
    g_ptr_array_add(c->procs, p);
  }
  return c->procs;
}

/* Starting QEMU costs a fraction of a second; the answer is the host's, the same for every VM
 * of a scan. A failure to run QEMU is not remembered (the next audit tries again). */
VsbHostKvm
vsb_audit_cache_host_kvm(VsbAuditCache *c, const char *qemu_binary, char **why, GError **error)
{
  const char *key = qemu_binary ? qemu_binary : "";
  const KvmAnswer *known = c ? g_hash_table_lookup(c->kvm, key) : NULL;
  if (known == NULL) {
    g_autofree char *reason = NULL;
    VsbHostKvm kvm = vsb_host_kvm_probe(qemu_binary, &reason, error);
    if (kvm == VSB_HOST_KVM_UNKNOWN || c == NULL) {
      if (why)
        *why = g_steal_pointer(&reason);
      return kvm;
    }
    KvmAnswer *a = g_new0(KvmAnswer, 1);
    a->kvm = kvm;
    a->why = g_steal_pointer(&reason);
    g_hash_table_insert(c->kvm, g_strdup(key), a);
    known = a;
  }
  if (why)
    *why = g_strdup(known->why);
  return known->kvm;
}
