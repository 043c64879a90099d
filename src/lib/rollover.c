/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guards around a KEK/db/dbx edit (rollover.h). */
#include "vsboot/rollover.h"
#include "vsboot/authenticode.h"
#include "vsboot/error.h"
#include "vsboot/guid.h"
#include "vsboot/mscerts.h"
#include "fileio.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"

#include <string.h>

typedef struct {
  char *name;
  const VsbPeImage *image;
  gboolean before, after, judged_after;
  char *why_after;
} BootImage;

struct _VsbBootCheck {
  GPtrArray *images; /* BootImage* */
};

static void
boot_image_free(BootImage *b)
{
  g_free(b->name);
  g_free(b->why_after);
  g_free(b);
}

void
vsb_boot_check_free(VsbBootCheck *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref(c->images);
  g_free(c);
}

/* The verdict of image against store; *why gets the deciding entry or reason. */
static gboolean
judge(const VsbVarstore *store, const VsbPeImage *image, gboolean *allowed, char **why,
      GError **error)
{
  /* An absent db or dbx (NULL) is not an empty one: the firmware treats them differently. */
  g_autoptr(GPtrArray) db = NULL;
  g_autoptr(GPtrArray) dbx = NULL;
  if (!vsb_siglist_from_store(store, "db", &db, error) ||
      !vsb_siglist_from_store(store, "dbx", &dbx, error))
    return FALSE;
  g_autoptr(VsbAuthenticodeVerdict) v = vsb_authenticode_verify(image, db, dbx, error);
  if (v == NULL)
    return FALSE;
  *allowed = v->allowed;
  g_free(*why);
  *why = v->entry_desc ? g_strdup_printf("%s: %s (%s)", v->reason, v->entry_desc,
                                         v->database ? v->database : "-")
                       : g_strdup(v->reason);
  return TRUE;
}

VsbBootCheck *
vsb_boot_check_new(const VsbVarstore *store, GPtrArray *images, const char *const *names,
                   GError **error)
{
  g_autoptr(VsbBootCheck) c = g_new0(VsbBootCheck, 1);
  c->images = g_ptr_array_new_with_free_func((GDestroyNotify)boot_image_free);
  for (guint i = 0; images && i < images->len; i++) {
    BootImage *b = g_new0(BootImage, 1);
    b->name = g_strdup(names[i]);
    b->image = images->pdata[i];
    g_ptr_array_add(c->images, b);
    g_autofree char *why = NULL;
    if (!judge(store, b->image, &b->before, &why, error)) {
      g_prefix_error(error, "%s: ", b->name);
      return NULL;
    }
  }
  return g_steal_pointer(&c);
}

gboolean
vsb_boot_check_after(VsbBootCheck *c, const VsbVarstore *store, GError **error)
{
  for (guint i = 0; i < c->images->len; i++) {
    BootImage *b = c->images->pdata[i];
    if (!judge(store, b->image, &b->after, &b->why_after, error)) {
      g_prefix_error(error, "%s: ", b->name);
      return FALSE;
    }
    b->judged_after = TRUE;
  }
  for (guint i = 0; i < c->images->len; i++) {
    BootImage *b = c->images->pdata[i];
    if (b->before && !b->after) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s verifies against the store now but would be denied after this change "
                  "(%s); nothing was written", b->name, b->why_after);
      return FALSE;
    }
  }
  return TRUE;
}

GPtrArray *
vsb_boot_check_report(const VsbBootCheck *c)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < c->images->len; i++) {
    const BootImage *b = c->images->pdata[i];
    g_ptr_array_add(out, g_strdup_printf("%s: %s before, %s after%s%s%s", b->name,
                                         b->before ? "allowed" : "denied",
                                         !b->judged_after ? "not judged"
                                           : b->after ? "allowed" : "denied",
                                         b->why_after ? " (" : "",
                                         b->why_after ? b->why_after : "",
                                         b->why_after ? ")" : ""));
  }
  return out;
}

gboolean
vsb_rollover_pca2011_revoked(const VsbVarstore *store)
{
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(store);
  return ms->state[VSB_MS_WINDOWS_2011] == VSB_MS_REVOKED;
}

gboolean
vsb_rollover_check_pca2011(gboolean revoked_before, const VsbVarstore *after, GError **error)
{
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(after);
  if (revoked_before || ms->state[VSB_MS_WINDOWS_2011] != VSB_MS_REVOKED ||
      ms->state[VSB_MS_WINDOWS_2023] == VSB_MS_ENROLLED)
    return TRUE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
              "this dbx revokes Microsoft Windows Production PCA 2011 while db lacks Windows "
              "UEFI CA 2023: no Windows boot manager would boot (Microsoft: apply "
              "DBXUpdate2024.bin only after DBUpdate2024.bin); nothing was written");
  return FALSE;
}

guint
vsb_rollover_2023_missing(const VsbVarstore *store)
{
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(store);
  guint missing = 0;
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    const VsbMsCert *old = vsb_ms_cert((VsbMsCertId)i);
    if (old->successors == 0 || ms->state[i] != VSB_MS_ENROLLED)
      continue;
    /* A revoked successor stays revoked: adding it to db would not make it trusted. */
    for (guint j = 0; j < VSB_MS_N_CERTS; j++)
      if ((old->successors & (1u << j)) && ms->state[j] == VSB_MS_ABSENT)
        missing |= 1u << j;
  }
  return missing;
}

gboolean
vsb_rollover_add(VsbVarstore *store, guint set, GPtrArray **changes, GError **error)
{
  gboolean pca_revoked_before = vsb_rollover_pca2011_revoked(store);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  if (!vsb_enroll_add_microsoft(e, set, error) ||
      !vsb_rollover_check_pca2011(pca_revoked_before, store, error))
    return FALSE;
  if (changes) {
    /* The set holds only certificates the store lacked: each one was added. */
    *changes = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
      const VsbMsCert *c = vsb_ms_cert((VsbMsCertId)i);
      if (set & (1u << i))
        g_ptr_array_add(*changes, g_strdup_printf("%s: add %s (%s)",
                                                  vsb_sb_variable_name(c->variable),
                                                  c->subject_cn, c->name));
    }
  }
  return TRUE;
}

const char *
vsb_rollover_status_name(VsbRolloverStatus status)
{
  switch (status) {
  case VSB_ROLLOVER_UP_TO_DATE: return "up-to-date";
  case VSB_ROLLOVER_NOT_MICROSOFT: return "not-microsoft";
  case VSB_ROLLOVER_WOULD_CHANGE: return "would-change";
  case VSB_ROLLOVER_CHANGED: return "changed";
  }
  return "unknown";
}

static gboolean
trusts_microsoft(const VsbVarstore *store)
{
  g_autoptr(VsbMsState) ms = vsb_secure_boot_microsoft_state(store);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    if (ms->state[i] == VSB_MS_ENROLLED)
      return TRUE;
  return FALSE;
}

gboolean
vsb_rollover_file(const char *path, gboolean dry_run, VsbRolloverStatus *status,
                  GPtrArray **changes, GError **error)
{
  if (changes)
    *changes = NULL;
  /* Load only under the edit lock and save before dropping it: a concurrent vars enroll queues
   * behind us instead of losing its change or ours, and a store a running QEMU holds is
   * refused before anything is read. A dry run only reads. */
  g_autoptr(VsbFileLock) lock = NULL;
  if (!dry_run && !(lock = vsb_varstore_lock_edit(path, FALSE, error)))
    return FALSE;
  const char *real = lock ? vsb_file_lock_get_path(lock) : path;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(real, error);
  if (store == NULL)
    return FALSE;
  guint set = vsb_rollover_2023_missing(store);
  if (set == 0) {
    *status = trusts_microsoft(store) ? VSB_ROLLOVER_UP_TO_DATE
                                      : VSB_ROLLOVER_NOT_MICROSOFT;
    if (changes)
      *changes = g_ptr_array_new_with_free_func(g_free);
    return TRUE;
  }
  g_autoptr(GPtrArray) lines = NULL;
  if (!vsb_rollover_add(store, set, &lines, error))
    return FALSE;
  if (!dry_run) {
    /* The file keeps its mode and owner (libvirt's nvram files are 0600 qemu:qemu); a lock
     * held by a running QEMU is VSB_ERROR_BUSY: its store is never written under it. */
    VsbWriteOptions wopts = { .mode = 0600, .keep_mode = TRUE };
    if (!vsb_varstore_save_full(store, real, &wopts, FALSE, error))
      return FALSE;
  }
  *status = dry_run ? VSB_ROLLOVER_WOULD_CHANGE : VSB_ROLLOVER_CHANGED;
  if (changes)
    *changes = g_steal_pointer(&lines);
  return TRUE;
}
