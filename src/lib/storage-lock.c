/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Locking, apart from any store format: whether a running QEMU holds a file (its OFD byte-range
 * image locks), and vsboot's own edit lock for a read-modify-write (fileio.h's flock). */
#define _GNU_SOURCE /* F_OFD_GETLK */
#include "storage.h"
#include "vsboot/error.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


gboolean
vsb_file_is_locked(const char *path, GError **error)
{
  /* O_NONBLOCK: probing a FIFO must not hang. vsboot's own edit lock is a flock()
   * (vsb_file_lock), which Linux keeps apart from fcntl locks, so it never shows here. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO, "%s: %s",
                path, g_strerror(errno));
    return FALSE;
  }
  /* QEMU's file-posix driver takes OFD byte-range locks at 100+ (permissions held) and 200+
   * (permissions shared). Asking whether a write lock on the whole file would conflict
   * finds any of them, shared or exclusive. */
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
  int r = fcntl(fd, F_OFD_GETLK, &fl);
  if (r < 0 && errno == EINVAL) {
    fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    r = fcntl(fd, F_GETLK, &fl);
  }
  int e = errno;
  close(fd);
  if (r < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot probe locks: %s", path, g_strerror(e));
    return FALSE;
  }
  return fl.l_type != F_UNLCK;
}

gboolean
vsb_storage_check_not_held(const char *real, GError **error)
{
  struct stat st;
  if (lstat(real, &st) < 0 || !S_ISREG(st.st_mode))
    return TRUE; /* nothing there yet, or something the writer refuses with its own message */
  g_autoptr(GError) local = NULL;
  gboolean locked = vsb_file_is_locked(real, &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (locked) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                "%s is locked by a running process (QEMU); stop the VM", real);
    return FALSE;
  }
  return TRUE;
}

VsbFileLock *
vsb_varstore_lock_edit(const char *path, gboolean force, GError **error)
{
  g_autoptr(VsbFileLock) lock = vsb_file_lock(path, TRUE, error);
  if (lock == NULL)
    return NULL;
  /* Editing a store a running VM holds would be lost or corrupt it: say so before working. */
  if (!force && !vsb_storage_check_not_held(vsb_file_lock_get_path(lock), error))
    return NULL;
  return g_steal_pointer(&lock);
}
