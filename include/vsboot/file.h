/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the two file types the API hands over: how a file is written (vsb_varstore_save_full)
 * and the edit lock of a file (vsb_varstore_lock_edit). Every write of libvsboot is atomic (a
 * temporary file next to the target, fsync, rename, fsync of the directory); the lock is an
 * advisory flock() of the real file, independent of the locks QEMU takes. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

typedef struct {
  /* Permission bits of a new file (and of a replaced one unless keep_mode); 0 means 0644. */
  guint mode;
  /* Replacing an existing file: keep its permission bits and (as far as permitted) its owner
   * and group instead of applying mode. */
  gboolean keep_mode;
  /* Fail with VSB_ERROR_EXISTS if path exists (checked atomically: the finished file is
   * linked into place, which cannot replace anything). */
  gboolean exclusive;
  /* path may be a symlink (chain): replace the regular file it finally names, keeping the
   * link; a dangling link is refused (VSB_ERROR_NOT_FOUND), nothing is created through it.
   * Without it an existing symlink at path is refused (VSB_ERROR_INVALID): replacing the link
   * itself would leave the file the user meant unchanged. */
  gboolean follow_final_symlink;
} VsbWriteOptions;

/* An advisory lock held for a read-modify-write of one file: load after taking it, save
 * before dropping it. */
typedef struct _VsbFileLock VsbFileLock;
/* The real path that is locked (symlinks of the final component resolved): read and write it. */
const char *vsb_file_lock_get_path(const VsbFileLock *lock);
void vsb_file_unlock(VsbFileLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbFileLock, vsb_file_unlock)

VSB_END_DECLS
