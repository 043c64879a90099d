/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH */
#include "fileio.h"
#include "vsboot/error.h"
#include "ossl-auto.h"
#include "util/autofd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(vsb-error-quark, vsb_error)

/* How many symlinks in a row a final-component resolution follows, as the kernel (ELOOP). */
#define MAX_LINKS 40
/* Nesting depth vsb_dir_remove_created descends to; vsboot's own directories are flat. */
#define MAX_REMOVE_DEPTH 32
/* The read/write fallback of a copy moves this much at a time. */
#define COPY_CHUNK (1 << 17) /* also what a hash reads at a time */

void
vsb_file_test_crash_point(const char *where)
{
  /* The single place the crash-injection hook is read: tests kill vsboot at a precise step
   * of a write and check what is left on disk. */
  const char *want = g_getenv("VSB_TEST_CRASH_AT");
  if (want != NULL && g_strcmp0(want, where) == 0)
    raise(SIGKILL);
}

static int
errno_code(int e)
{
  return e == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO;
}

gboolean
vsb_fd_write_all(int fd, const void *data, gsize len, const char *name, GError **error)
{
  const guint8 *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: write failed: %s", name, g_strerror(errno));
      return FALSE;
    }
    p += n;
    len -= (gsize)n;
  }
  return TRUE;
}

/* The data part of copy_into_fd once a reflink was refused: copy_file_range (in-kernel, and
 * still a CoW copy where the filesystem can), else read and write. */
static gboolean
copy_data(int in, int dst_fd, const char *src, const char *dst, GError **error)
{
  gboolean cfr = TRUE;
  g_autofree char *buf = NULL;
  for (;;) {
    ssize_t n;
    if (cfr) {
      n = copy_file_range(in, NULL, dst_fd, NULL, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                    errno == EINVAL) && lseek(dst_fd, 0, SEEK_CUR) == 0) {
        cfr = FALSE;
        continue;
      }
    } else {
      if (buf == NULL)
        buf = g_malloc(COPY_CHUNK);
      n = read(in, buf, COPY_CHUNK);
      if (n > 0 && !vsb_fd_write_all(dst_fd, buf, (gsize)n, dst, error))
        return FALSE;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "copying %s to %s: %s", src, dst,
                  g_strerror(errno));
      return FALSE;
    }
    if (n == 0)
      return TRUE;
  }
}

gboolean
vsb_file_copy_into_fd(const char *src, int dst_fd, const char *dst, GError **error)
{
  /* A regular file, opened without blocking (a FIFO at the source's path must not hang). */
  VSB_AUTOFD in = vsb_file_open_regular(src, NULL, error);
  if (in < 0)
    return FALSE;
  if (ioctl(dst_fd, FICLONE, in) == 0)
    return TRUE;
  return copy_data(in, dst_fd, src, dst, error);
}

/* ---- resolving the target ------------------------------------------------------------------ */

/* Follow symlinks of the final component of path (not of the directories: the parent path may
 * legitimately contain links and is used as given) until it names something that is not a
 * link, or does not exist. Returns the path to operate on. */
static char *
resolve_final_links(const char *path, GError **error)
{
  g_autofree char *cur = g_strdup(path);
  for (int i = 0; i <= MAX_LINKS; i++) {
    struct stat st;
    if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
      return g_steal_pointer(&cur);
    g_autofree char *target = g_file_read_link(cur, NULL);
    if (target == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot read the symbolic link: %s", cur,
                  g_strerror(errno));
      return NULL;
    }
    if (!g_path_is_absolute(target)) {
      g_autofree char *dir = g_path_get_dirname(cur);
      g_autofree char *joined =
        strcmp(dir, ".") == 0 ? g_strdup(target) : g_build_filename(dir, target, NULL);
      g_free(cur);
      cur = g_steal_pointer(&joined);
    } else {
      g_free(cur);
      cur = g_steal_pointer(&target);
    }
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: too many levels of symbolic links",
              path);
  return NULL;
}

char *
vsb_file_resolve_final(const char *path, GError **error)
{
  return resolve_final_links(path, error);
}

/* Split path into an open directory fd and the final name; refuses names that are not a file
 * name ("", ".", "..", a trailing '/'). */
static int
open_parent(const char *path, char **base_out, GError **error)
{
  g_autofree char *base = g_path_get_basename(path);
  if (*path == '\0' || g_str_has_suffix(path, "/") || g_strcmp0(base, ".") == 0 ||
      g_strcmp0(base, "..") == 0 || g_strcmp0(base, "/") == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "'%s' does not name a file", path);
    return -1;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot open the directory %s: %s",
                path, dir, g_strerror(errno));
    return -1;
  }
  *base_out = g_steal_pointer(&base);
  return dfd;
}

/* What is at dfd/base now: FALSE with the error when it must not be replaced. *exists tells
 * whether there is anything. */
static gboolean
check_existing(int dfd, const char *base, const char *path, gboolean exclusive,
               struct stat *st, gboolean *exists, GError **error)
{
  *exists = FALSE;
  if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return TRUE;
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, g_strerror(errno));
    return FALSE;
  }
  *exists = TRUE;
  if (exclusive) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_EXISTS, "%s: already exists", path);
    return FALSE;
  }
  if (S_ISLNK(st->st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: is a symbolic link; not replacing the link (name the file it points to)",
                path);
    return FALSE;
  }
  if (!S_ISREG(st->st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: not a regular file (%s); not "
                "replacing it", path, vsb_file_kind(st->st_mode));
    return FALSE;
  }
  return TRUE;
}

/* ---- temporary names ------------------------------------------------------------------------- */

static char *
temp_name(const char *base)
{
  /* Random, so nobody can plant a link or file at the name beforehand. */
  return g_strdup_printf(".%s" VSB_FILE_TEMP_INFIX "%08x%08x", base, g_random_int(),
                         g_random_int());
}

/* A temporary file for base in dfd, locked (flock) to mark its creator alive. With O_TMPFILE
 * the file has no name until published (*name_out NULL); a crash leaves nothing. */
static int
create_temp(int dfd, const char *base, const char *path, char **name_out, GError **error)
{
  *name_out = NULL;
  int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    /* No O_TMPFILE here (old kernel, some filesystems): a random name created exclusively,
     * never through an existing link. */
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
      g_autofree char *name = temp_name(base);
      fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0)
        *name_out = g_steal_pointer(&name);
      else if (errno != EEXIST)
        break;
    }
  }
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot create a temporary file: %s", path,
                g_strerror(errno));
    return -1;
  }
  (void)flock(fd, LOCK_EX | LOCK_NB); /* fresh file: nobody else can hold it */
  return fd;
}

/* Give an O_TMPFILE file the name name in dfd (linkat cannot replace: EEXIST when taken). */
static int
link_tmpfile(int fd, int dfd, const char *name)
{
  char proc[64];
  g_snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  if (errno != ENOENT)
    return -1;
  /* No /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH, so only a fallback). */
  return linkat(fd, "", dfd, name, AT_EMPTY_PATH);
}

/* Mode and owner of the new file: the old file's when keeping them, else opts->mode. chown
 * comes first because it clears set-id bits. */
static gboolean
apply_metadata(int fd, const VsbWriteOptions *opts, const struct stat *old, gboolean exists,
               const char *path, GError **error)
{
  mode_t mode = opts && opts->mode ? opts->mode : 0644;
  if (opts && opts->keep_mode && exists) {
    struct stat mine;
    if (fstat(fd, &mine) == 0 && (mine.st_uid != old->st_uid || mine.st_gid != old->st_gid) &&
        fchown(fd, old->st_uid, old->st_gid) < 0) {
      /* Not root: the owner cannot be given away, but the group can be kept when we are a
       * member of it. Anything else stays ours (documented). */
      (void)fchown(fd, (uid_t)-1, old->st_gid);
    }
    mode = old->st_mode & 07777;
  }
  if (fchmod(fd, mode) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot set the mode: %s", path,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

/* ---- removing what we created ---------------------------------------------------------------- */

static gboolean remove_created_at(int dfd, const char *name, const struct stat *created,
                                  const char *path, int depth, GError **error);

static gboolean
same_file(const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Names in the directory, collected first: unlinking while readdir() walks is unspecified. */
static GPtrArray *
list_names(int dfd)
{
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  VSB_AUTOFD copy = dup(dfd);
  DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
  if (d == NULL)
    return names;
  (void)vsb_steal_fd(&copy); /* the DIR owns it now */
  rewinddir(d);
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL)
    if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, ".."))
      g_ptr_array_add(names, g_strdup(ent->d_name));
  closedir(d); /* closes copy */
  return names;
}

static gboolean
remove_contents(int dfd, const struct stat *top, const char *path, int depth, GError **error)
{
  g_autoptr(GPtrArray) names = list_names(dfd);
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    struct stat st;
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: %s", path, n, g_strerror(errno));
      return FALSE;
    }
    if (S_ISDIR(st.st_mode)) {
      /* Only directories on the same filesystem: never descend into a mount point. */
      if (st.st_dev != top->st_dev) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "%s/%s: on another filesystem (a mount point); not removing it", path, n);
        return FALSE;
      }
      g_autofree char *sub = g_build_filename(path, n, NULL);
      if (!remove_created_at(dfd, n, &st, sub, depth + 1, error))
        return FALSE;
    } else if (unlinkat(dfd, n, 0) < 0 && errno != ENOENT) {
      /* A symlink is removed as a link: unlinkat never follows it. */
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s/%s: cannot remove: %s", path, n,
                  g_strerror(errno));
      return FALSE;
    }
  }
  return TRUE;
}

/* Remove dfd/name, a directory that must still be created (same device and inode). */
static gboolean
remove_created_at(int dfd, const char *name, const struct stat *created, const char *path,
                  int depth, GError **error)
{
  if (depth > MAX_REMOVE_DEPTH) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: nested too deep; not removing it",
                path);
    return FALSE;
  }
  VSB_AUTOFD fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno_code(errno), "%s: %s", path,
                errno == ELOOP || errno == ENOTDIR ? "not a plain directory; not removing it"
                                                   : g_strerror(errno));
    return FALSE;
  }
  if (fstat(fd, &st) < 0 || !same_file(&st, created)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: not the directory that was created (replaced?); not removing it", path);
    return FALSE;
  }
  if (!remove_contents(fd, &st, path, depth, error))
    return FALSE;
  if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot remove: %s", path, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

gboolean
vsb_dir_remove_created(const char *path, const struct stat *created, GError **error)
{
  g_autofree char *base = NULL;
  VSB_AUTOFD dfd = open_parent(path, &base, error);
  if (dfd < 0)
    return FALSE;
  return remove_created_at(dfd, base, created, path, 0, error);
}

/* Leftovers of killed writers of base in dfd: ours by name and owner, and no longer locked by
 * a live creator (the flock died with it). */
static void
clean_leftovers_at(int dfd, const char *base)
{
  g_autofree char *prefix = g_strdup_printf(".%s" VSB_FILE_TEMP_INFIX, base);
  g_autoptr(GPtrArray) names = list_names(dfd);
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    if (!g_str_has_prefix(n, prefix))
      continue;
    VSB_AUTOFD fd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st, again;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
        !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) || flock(fd, LOCK_EX | LOCK_NB) < 0)
      continue;
    /* Still the same entry (not renamed into place meanwhile and reused)? */
    if (fstatat(dfd, n, &again, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&st, &again))
      continue;
    if (S_ISDIR(st.st_mode))
      (void)remove_created_at(dfd, n, &st, n, 0, NULL);
    else
      (void)unlinkat(dfd, n, 0);
  }
}

void
vsb_file_clean_leftovers(const char *path)
{
  g_autofree char *base = NULL;
  VSB_AUTOFD dfd = open_parent(path, &base, NULL);
  if (dfd >= 0)
    clean_leftovers_at(dfd, base);
}

/* ---- atomic writes ----------------------------------------------------------------------------- */

static gboolean
link_failed(const char *path, GError **error)
{
  g_set_error(error, VSB_ERROR, errno == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
              "%s: %s", path, errno == EEXIST ? "already exists" : g_strerror(errno));
  return FALSE;
}

/* Put the finished temporary file at base: linked (exclusive: cannot replace anything) or
 * renamed over the old file. *tmpname is NULL afterwards when nothing is left to remove. */
static gboolean
publish(int fd, int dfd, char **tmpname, const char *base, const char *path, gboolean exclusive,
        GError **error)
{
  if (*tmpname == NULL && exclusive)
    return link_tmpfile(fd, dfd, base) == 0 || link_failed(path, error);
  for (int attempt = 0; *tmpname == NULL && attempt < 100; attempt++) {
    g_autofree char *name = temp_name(base);
    if (link_tmpfile(fd, dfd, name) == 0)
      *tmpname = g_steal_pointer(&name);
    else if (errno != EEXIST)
      break;
  }
  if (*tmpname == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot name the temporary file: %s", path,
                g_strerror(errno));
    return FALSE;
  }
  vsb_file_test_crash_point("before-rename");
  if (exclusive) {
    if (linkat(dfd, *tmpname, dfd, base, 0) < 0)
      return link_failed(path, error);
    (void)unlinkat(dfd, *tmpname, 0);
    g_clear_pointer(tmpname, g_free);
    return TRUE;
  }
  if (renameat(dfd, *tmpname, dfd, base) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot replace: %s", path, g_strerror(errno));
    return FALSE;
  }
  g_clear_pointer(tmpname, g_free);
  return TRUE;
}

/* The path to write and its parent directory, after the option checks. */
static int
prepare_target(const char *path, const VsbWriteOptions *opts, char **real_out, char **base_out,
               struct stat *old, gboolean *exists, GError **error)
{
  if (path == NULL || *path == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no output file name (an empty path)");
    return -1;
  }
  g_autofree char *real = opts->follow_final_symlink ? resolve_final_links(path, error)
                                                     : g_strdup(path);
  if (real == NULL)
    return -1;
  g_autofree char *base = NULL;
  VSB_AUTOFD dfd = open_parent(real, &base, error);
  if (dfd < 0)
    return -1;
  if (!check_existing(dfd, base, real, opts->exclusive, old, exists, error))
    return -1;
  /* Through a link, only an existing file is edited: a dangling link (planted, or stale) must
   * not make vsboot create whatever file it names. */
  if (!*exists && strcmp(real, path) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                "%s: a symbolic link to %s, which does not exist; not creating it", path, real);
    return -1;
  }
  *real_out = g_steal_pointer(&real);
  *base_out = g_steal_pointer(&base);
  return vsb_steal_fd(&dfd);
}

gboolean
vsb_file_rewrite(const char *path, const VsbWriteOptions *opts, VsbWriteFunc write_contents,
                 gpointer data, GError **error)
{
  static const VsbWriteOptions defaults = { 0 };
  if (opts == NULL)
    opts = &defaults;
  g_autofree char *real = NULL, *base = NULL, *tmpname = NULL;
  struct stat old;
  gboolean exists = FALSE;
  VSB_AUTOFD dfd = prepare_target(path, opts, &real, &base, &old, &exists, error);
  if (dfd < 0)
    return FALSE;
  clean_leftovers_at(dfd, base);
  VSB_AUTOFD fd = create_temp(dfd, base, real, &tmpname, error);
  if (fd < 0)
    return FALSE;
  gboolean ok = write_contents(fd, real, data, error) &&
                apply_metadata(fd, opts, &old, exists, real, error);
  if (ok && fsync(fd) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: fsync failed: %s", real, g_strerror(errno));
    ok = FALSE;
  }
  if (ok)
    vsb_file_test_crash_point("after-temp-write");
  ok = ok && publish(fd, dfd, &tmpname, base, real, opts->exclusive, error);
  if (tmpname != NULL)
    (void)unlinkat(dfd, tmpname, 0);
  /* A directory fsync can fail on some filesystems; the rename itself already happened. */
  if (ok)
    (void)fsync(dfd);
  return ok;
}

typedef struct {
  const void *data;
  gsize len;
} Buffer;

static gboolean
write_buffer(int fd, const char *path, gpointer data, GError **error)
{
  const Buffer *b = data;
  return vsb_fd_write_all(fd, b->data, b->len, path, error);
}

gboolean
vsb_file_write_atomic_full(const char *path, const void *data, gsize len,
                           const VsbWriteOptions *opts, GError **error)
{
  Buffer b = { data, len };
  return vsb_file_rewrite(path, opts, write_buffer, &b, error);
}

gboolean
vsb_file_write_atomic(const char *path, const void *data, gsize len, int mode, gboolean exclusive,
                      GError **error)
{
  VsbWriteOptions opts = { .mode = (guint)mode, .exclusive = exclusive };
  return vsb_file_write_atomic_full(path, data, len, &opts, error);
}

char *
vsb_file_make_temp_dir_near(const char *path, struct stat *st, int *lock_fd, GError **error)
{
  g_autofree char *base = NULL;
  VSB_AUTOFD dfd = open_parent(path, &base, error);
  if (dfd < 0)
    return NULL;
  clean_leftovers_at(dfd, base); /* a killed qemu-img conversion left its directory */
  for (int attempt = 0; attempt < 100; attempt++) {
    g_autofree char *name = temp_name(base);
    if (mkdirat(dfd, name, 0700) < 0) {
      if (errno == EEXIST)
        continue;
      break;
    }
    VSB_AUTOFD fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
      break;
    g_autofree char *dir = g_path_get_dirname(path);
    *lock_fd = vsb_steal_fd(&fd);
    return g_build_filename(dir, name, NULL);
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot create a temporary directory: %s",
              path, g_strerror(errno));
  return NULL;
}

gboolean
vsb_file_replace_with(const char *temp, const char *target, const VsbWriteOptions *opts,
                      GError **error)
{
  static const VsbWriteOptions defaults = { 0 };
  if (opts == NULL)
    opts = &defaults;
  g_autofree char *real = NULL, *base = NULL;
  struct stat old, st;
  gboolean exists = FALSE;
  VSB_AUTOFD dfd = prepare_target(target, opts, &real, &base, &old, &exists, error);
  if (dfd < 0)
    return FALSE;
  VSB_AUTOFD fd = open(temp, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: the new file is gone or not a regular "
                "file: %s", temp, fd < 0 ? g_strerror(errno) : vsb_file_kind(st.st_mode));
    return FALSE;
  }
  if (!apply_metadata(fd, opts, &old, exists, real, error))
    return FALSE;
  if (fsync(fd) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: fsync failed: %s", temp, g_strerror(errno));
    return FALSE;
  }
  vsb_file_test_crash_point("before-rename");
  int r = opts->exclusive ? linkat(AT_FDCWD, temp, dfd, base, 0)
                          : renameat(AT_FDCWD, temp, dfd, base);
  if (r < 0) {
    g_set_error(error, VSB_ERROR, errno == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
                "%s: cannot replace: %s", real, g_strerror(errno));
    return FALSE;
  }
  if (opts->exclusive)
    (void)unlink(temp);
  (void)fsync(dfd);
  return TRUE;
}

/* ---- locking ------------------------------------------------------------------------------------ */

struct _VsbFileLock {
  int fd;
  char *path;
};

/* Open the real file (never through a link: O_NOFOLLOW) and try the lock once. 1 held,
 * 0 busy, -1 error. *fd_out is the open fd in the first two cases. */
static int
try_lock(const char *real, gboolean exclusive, int *fd_out, struct stat *st, GError **error)
{
  VSB_AUTOFD fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno_code(errno), "%s: cannot lock: %s", real,
                g_strerror(errno));
    return -1;
  }
  if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: not a regular file (%s)", real,
                vsb_file_kind(st->st_mode));
    return -1;
  }
  int held = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0;
  if (!held && errno != EWOULDBLOCK && errno != EINTR) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot lock: %s", real, g_strerror(errno));
    return -1;
  }
  *fd_out = vsb_steal_fd(&fd);
  return held;
}

VsbFileLock *
vsb_file_lock_full(const char *path, gboolean exclusive, guint timeout_ms, GError **error)
{
  g_autofree char *real = resolve_final_links(path, error);
  if (real == NULL)
    return NULL;
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  gulong delay_us = 1000;
  for (;;) {
    struct stat st, now;
    VSB_AUTOFD fd = -1;
    int held = try_lock(real, exclusive, &fd, &st, error);
    if (held < 0)
      return NULL;
    /* A writer that held the lock replaced the file by rename: our lock is then on the old
     * inode and protects nothing. Only a lock on what the path names now counts. */
    if (held && lstat(real, &now) == 0 && same_file(&st, &now)) {
      VsbFileLock *lock = g_new0(VsbFileLock, 1);
      lock->fd = vsb_steal_fd(&fd);
      lock->path = g_steal_pointer(&real);
      return lock;
    }
    if (held)
      continue; /* fd closes here, dropping the stale lock; the new file is tried at once */
    if (g_get_monotonic_time() >= deadline) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                  "%s: another process is editing the file (it holds the vsboot edit lock); "
                  "gave up after %u ms", real, timeout_ms);
      return NULL;
    }
    /* Poll with a growing, jittered delay: flock() has no timed wait, and a blocked
     * editor must be able to give up rather than hang behind a stuck one. */
    g_usleep(delay_us + g_random_int_range(0, (gint32)delay_us));
    delay_us = MIN(delay_us * 2, 50000);
  }
}

VsbFileLock *
vsb_file_lock(const char *path, gboolean exclusive, GError **error)
{
  return vsb_file_lock_full(path, exclusive, VSB_FILE_LOCK_WAIT_MS, error);
}

const char *
vsb_file_lock_get_path(const VsbFileLock *lock)
{
  return lock->path;
}

void
vsb_file_unlock(VsbFileLock *lock)
{
  if (lock == NULL)
    return;
  vsb_close_fd(&lock->fd); /* closing the only fd of the open file releases the flock */
  g_free(lock->path);
  g_free(lock);
}

/* ---- reading ------------------------------------------------------------------------------------ */

static gboolean
is_stream(mode_t mode)
{
  return S_ISFIFO(mode) || S_ISCHR(mode) || S_ISSOCK(mode);
}

static gboolean
check_kind(const char *path, mode_t mode, VsbReadFlags flags, GError **error)
{
  if (S_ISREG(mode) || ((flags & VSB_READ_ALLOW_STREAM) && is_stream(mode)))
    return TRUE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: not a regular file (%s)", path,
              vsb_file_kind(mode));
  return FALSE;
}

static int
open_checked(const char *path, struct stat *st, VsbReadFlags flags, GError **error)
{
  struct stat pre;
  /* Refuse a device or FIFO before opening it: opening some devices has side effects. */
  if (stat(path, &pre) == 0 && !check_kind(path, pre.st_mode, flags, error))
    return -1;
  VSB_AUTOFD fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno_code(errno), "%s: %s", path, g_strerror(errno));
    return -1;
  }
  if (fstat(fd, st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, g_strerror(errno));
    return -1;
  }
  if (!check_kind(path, st->st_mode, flags, error))
    return -1;
  /* Reads of what we accepted should block as usual (a pipe the caller asked for). */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0)
    (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  int out = fd;
  fd = -1;
  return out;
}

int
vsb_file_open_regular(const char *path, struct stat *st, GError **error)
{
  struct stat local;
  return open_checked(path, st ? st : &local, VSB_READ_DEFAULT, error);
}

static void
too_big(GError **error, const char *name, guint64 size, gsize max_size)
{
  if (size)
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: file is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                " bytes accepted", name, size, max_size);
  else
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: more than the %" G_GSIZE_FORMAT " bytes accepted", name, max_size);
}

GBytes *
vsb_file_read_fd(int fd, const char *name, gsize max_size, VsbReadFlags flags, GError **error)
{
  struct stat st;
  if (fstat(fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", name, g_strerror(errno));
    return NULL;
  }
  if (!check_kind(name, st.st_mode, flags, error))
    return NULL;
  if (S_ISREG(st.st_mode) && (guint64)st.st_size > max_size) {
    too_big(error, name, (guint64)st.st_size, max_size); /* refused without reading a byte */
    return NULL;
  }
  /* Never read more than max_size + 1 bytes: st_size is only a hint (pipes and /proc report
   * 0, a file may grow under us), and one byte more proves "too big". */
  gsize limit = max_size == G_MAXSIZE ? max_size : max_size + 1;
  gsize cap = S_ISREG(st.st_mode) ? MIN((gsize)st.st_size + 1, limit) : MIN(limit, 65536);
  g_autofree guint8 *buf = g_malloc(MAX(cap, 1));
  gsize have = 0;
  while (have < limit) {
    if (have == cap) {
      cap = MIN(limit, cap * 2);
      buf = g_realloc(buf, cap);
    }
    ssize_t n = read(fd, buf + have, cap - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: read failed: %s", name, g_strerror(errno));
      return NULL;
    }
    if (n == 0)
      break;
    have += (gsize)n;
  }
  if (have > max_size) {
    too_big(error, name, 0, max_size);
    return NULL;
  }
  return g_bytes_new_take(g_realloc(g_steal_pointer(&buf), MAX(have, 1)), have);
}

GBytes *
vsb_file_read_full(const char *path, gsize max_size, VsbReadFlags flags, GError **error)
{
  struct stat st;
  VSB_AUTOFD fd = open_checked(path, &st, flags, error);
  if (fd < 0)
    return NULL;
  return vsb_file_read_fd(fd, path, max_size, flags, error);
}

GBytes *
vsb_file_read(const char *path, gsize max_size, GError **error)
{
  return vsb_file_read_full(path, max_size, VSB_READ_DEFAULT, error);
}

char *
vsb_hex_encode(const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc(len * 2 + 1);
  for (gsize i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  out[len * 2] = '\0';
  return out;
}

GBytes *
vsb_hex_decode(const char *text, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new();
  int hi = -1;
  const char *p = text;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    p += 2;
  for (; *p; p++) {
    if (g_ascii_isspace(*p))
      continue;
    int v = g_ascii_xdigit_value(*p);
    if (v < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "not a hex digit '%c' at position %ld", *p,
                  (long)(p - text));
      return NULL;
    }
    if (hi < 0)
      hi = v;
    else {
      guint8 b = (guint8)(hi << 4 | v);
      g_byte_array_append(out, &b, 1);
      hi = -1;
    }
  }
  if (hi >= 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "odd number of hex digits");
    return NULL;
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

gboolean
vsb_file_is_qcow2(const char *path)
{
  guint8 magic[4] = { 0 };
  VSB_AUTOFD fd = vsb_file_open_regular(path, NULL, NULL);
  if (fd < 0)
    return FALSE;
  ssize_t n = read(fd, magic, sizeof magic);
  return n == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
}

char *
vsb_file_sha256(const char *path, GError **error)
{
  VSB_AUTOFD fd = vsb_file_open_regular(path, NULL, error);
  if (fd < 0)
    return NULL;
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
  gboolean ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
  g_autofree guint8 *buf = g_malloc(COPY_CHUNK);
  while (ok) {
    ssize_t n = read(fd, buf, COPY_CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: read failed: %s", path, g_strerror(errno));
      ok = FALSE;
      break;
    }
    if (n == 0)
      break;
    ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
  }
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (ok)
    ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
  if (!ok) {
    if (error && *error == NULL)
      g_set_error(error, VSB_ERROR, VSB_ERROR_FAILED, "%s: SHA-256 failed", path);
    return NULL;
  }
  return vsb_hex_encode(md, mdlen);
}

const char *
vsb_file_kind(mode_t mode)
{
  if (S_ISREG(mode))
    return "a regular file";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a file";
}
