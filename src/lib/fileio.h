/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: file helpers every module shares, so that every file vsboot reads or writes gets the
 * same rules:
 *  - writes are atomic: a temporary file with a random name created inside the target's
 *    directory (O_TMPFILE where the filesystem has it), fsync, rename, fsync of the directory;
 *    on any failure (or a crash) the target is untouched;
 *  - the final path component is never followed as a symlink unless the caller asks to edit
 *    through the link (then the real file is replaced and the link kept);
 *  - reads are bounded and type-checked: only regular files, the size checked before reading,
 *    a FIFO never blocks;
 *  - read-modify-write editors serialise on an advisory lock of the real file. */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include "vsboot/file.h"
#include <sys/types.h>

G_BEGIN_DECLS

/* ---- writing ---------------------------------------------------------------------------- */

/* VsbWriteOptions: see vsboot/file.h (public: vsb_varstore_save_full takes them). */

/* Writes the new contents into fd: a fresh, empty temporary file next to path, open for
 * reading and writing; path (the real file being replaced) is for messages. FALSE with error
 * abandons the write and the target stays as it was. */
typedef gboolean (*VsbWriteFunc)(int fd, const char *path, gpointer data, GError **error);

/* The one atomic write: every other writer is a callback of this one (as libvirt's
 * virFileRewrite and systemd's copy_file_atomic_full). The temporary file is made next to the
 * target, write_contents fills it, then mode/owner, fsync, rename (or link for exclusive) and
 * an fsync of the directory follow, with the rules of vsb_file_write_atomic_full below. */
gboolean vsb_file_rewrite(const char *path, const VsbWriteOptions *opts,
                          VsbWriteFunc write_contents, gpointer data, GError **error);

/* Replace (or create) path with data as opts say (opts NULL: mode 0644, nothing else). An
 * existing path that is not a regular file (directory, FIFO, device, socket) is refused with
 * VSB_ERROR_INVALID naming its kind; nothing is written then. */
gboolean vsb_file_write_atomic_full(const char *path, const void *data, gsize len,
                                    const VsbWriteOptions *opts, GError **error);
/* The same with only mode and exclusive (existing symlinks refused). */
gboolean vsb_file_write_atomic(const char *path, const void *data, gsize len, int mode,
                               gboolean exclusive, GError **error);

/* The one write loop: all of len bytes to fd (short writes and EINTR retried); VSB_ERROR_IO
 * naming name otherwise. */
gboolean vsb_fd_write_all(int fd, const void *data, gsize len, const char *name, GError **error);

/* The one file copy: the regular file src (opened as vsb_file_open_regular does: a FIFO is
 * refused, never waited on) into the open, empty dst_fd: a reflink first (no data copied),
 * then copy_file_range, then read and write. dst names dst_fd in messages. */
gboolean vsb_file_copy_into_fd(const char *src, int dst_fd, const char *dst, GError **error);

/* path with the symlinks of its final component followed (directories are left as given):
 * the file an edit through a link must replace. path itself when it is not a link or does
 * not exist; VSB_ERROR_INVALID for a loop. */
char *vsb_file_resolve_final(const char *path, GError **error);

/* Prefix of every temporary name vsboot creates next to a target TARGET: ".TARGET.vsboot-".
 * While its creator runs, each such file or directory is flock()ed; one that is not locked is
 * a leftover of a killed process and the next write to TARGET removes it. */
#define VSB_FILE_TEMP_INFIX ".vsboot-"

/* Remove leftovers of killed writers next to path (see VSB_FILE_TEMP_INFIX). Best effort:
 * never fails, never touches anything still locked or anything not named for path. */
void vsb_file_clean_leftovers(const char *path);

/* A private directory inside the directory of path, named .BASE.vsboot-RANDOM, mode 0700,
 * locked (flock) as a temporary name as long as it lives. st receives its identity for
 * vsb_dir_remove_created(); *lock_fd receives the lock's fd (close it after removing). */
char *vsb_file_make_temp_dir_near(const char *path, struct stat *st, int *lock_fd,
                                  GError **error);

/* Replace the regular file at target with the regular file at temp (same directory) by rename,
 * after applying mode/owner as vsb_file_write_atomic_full would (opts may be NULL) and an
 * fsync; the parent directory is fsynced too. Used when a tool (qemu-img) wrote the file. */
gboolean vsb_file_replace_with(const char *temp, const char *target,
                               const VsbWriteOptions *opts, GError **error);

/* Remove a directory tree the caller created, identified by created (st_dev/st_ino as the
 * caller recorded them at creation). Nothing is followed: symlinks inside are removed as
 * links, subdirectories are entered only when they are plain directories on the same device
 * (verified by the fd opened O_NOFOLLOW), and path itself must still be the directory that was
 * created (else VSB_ERROR_INVALID and nothing is removed). */
gboolean vsb_dir_remove_created(const char *path, const struct stat *created, GError **error);

/* ---- locking ---------------------------------------------------------------------------- */

/* An advisory lock for read-modify-write of one file. It is a flock() on the REAL file (a
 * final symlink is resolved; the file is opened O_NOFOLLOW), which on Linux is independent of
 * the OFD byte-range locks QEMU takes, so vsb_file_is_locked() keeps seeing only QEMU's (or
 * another program's) fcntl locks, never ours. Because writers replace the file by rename, the
 * lock is re-taken until it is held on the inode the path names right now.
 *
 * It WAITS: a second editor polls for up to VSB_FILE_LOCK_WAIT_MS and then fails with
 * VSB_ERROR_BUSY (naming the file); an update is never lost silently. Load the file only after
 * taking the lock, save before dropping it. */
/* VsbFileLock: see vsboot/file.h (public: vsb_varstore_lock_edit returns one). */

#define VSB_FILE_LOCK_WAIT_MS 30000

VsbFileLock *vsb_file_lock(const char *path, gboolean exclusive, GError **error);
/* timeout_ms 0: try once (VSB_ERROR_BUSY at once when held). */
VsbFileLock *vsb_file_lock_full(const char *path, gboolean exclusive, guint timeout_ms,
                                GError **error);

/* ---- reading ---------------------------------------------------------------------------- */

typedef enum {
  VSB_READ_DEFAULT = 0,
  /* Also accept a FIFO/pipe or character device (stdin given as a path like /dev/stdin),
   * read (blocking) until EOF; still at most max_size bytes. Only for callers that explicitly
   * read a stream. */
  VSB_READ_ALLOW_STREAM = 1 << 0,
} VsbReadFlags;

/* Read a whole regular file. Opened O_RDONLY|O_NONBLOCK (a FIFO never hangs the open), then
 * anything but a regular file is refused with VSB_ERROR_INVALID ("PATH: not a regular file
 * (a FIFO)"), a file larger than max_size is refused from its size before any byte is read,
 * and at most max_size+1 bytes are ever read (a file growing under us is refused too). */
GBytes *vsb_file_read(const char *path, gsize max_size, GError **error);
GBytes *vsb_file_read_full(const char *path, gsize max_size, VsbReadFlags flags,
                           GError **error);
/* Read an already open descriptor (e.g. 0 for stdin) the same way, name for messages. */
GBytes *vsb_file_read_fd(int fd, const char *name, gsize max_size, VsbReadFlags flags,
                         GError **error);
/* Open path for reading as vsb_file_read does and check it is a regular file; the fd (with
 * O_NONBLOCK cleared) or -1 with the error. st (may be NULL) receives its fstat. */
int vsb_file_open_regular(const char *path, struct stat *st, GError **error);

/* TRUE when the file is a regular file starting with the qcow2 magic ("QFI\xfb"); FALSE also
 * when unreadable or not a regular file (never blocks on a FIFO). */
gboolean vsb_file_is_qcow2(const char *path);
/* What a stat mode is, for messages: "a regular file", "a directory", "a FIFO", ... */
const char *vsb_file_kind(mode_t mode);
/* Lower-case hex SHA-256 of a regular file's contents, read in one streaming pass. */
char *vsb_file_sha256(const char *path, GError **error);

/* Lower-case hex of len bytes. */
char *vsb_hex_encode(const guint8 *data, gsize len);
/* Hex text (whitespace ignored, optional "0x") to bytes; VSB_ERROR_PARSE with the position. */
GBytes *vsb_hex_decode(const char *text, GError **error);

/* Test hook: when $VSB_TEST_CRASH_AT equals where, the process kills itself with SIGKILL.
 * The one place that reads the variable; points: "after-temp-write", "before-rename",
 * "after-qcow2-convert". */
void vsb_file_test_crash_point(const char *where);

G_END_DECLS
