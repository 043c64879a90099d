#include "vsboot/fileio.h"
#include "vsboot/error.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(vsb-error-quark, vsb_error)

static gboolean
write_all(int fd, const guint8 *data, gsize len, const char *path, GError **error)
{
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: write failed: %s", path, g_strerror(errno));
      return FALSE;
    }
    data += n;
    len -= (gsize)n;
  }
  return TRUE;
}

static void
fsync_parent_dir(const char *path)
{
  g_autofree char *dir = g_path_get_dirname(path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    /* A directory fsync can fail on some filesystems; the rename itself already happened. */
    (void)fsync(fd);
    close(fd);
  }
}

gboolean
vsb_file_write_atomic(const char *path, const void *data, gsize len, int mode, gboolean exclusive,
                      GError **error)
{
  if (path == NULL || *path == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "no output file name (an empty path)");
    return FALSE;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *tmpl = g_strdup_printf("%s/.%s.vsboot-XXXXXX", dir, base);
  int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot create a temporary file in %s: %s",
                path, dir, g_strerror(errno));
    return FALSE;
  }
  if (!write_all(fd, data, len, path, error))
    goto fail;
  if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, g_strerror(errno));
    goto fail;
  }
  if (close(fd) < 0) {
    fd = -1;
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: close failed: %s", path, g_strerror(errno));
    goto fail;
  }
  fd = -1;
  if (exclusive) {
    /* link() fails with EEXIST instead of replacing: no window in which a check could race. */
    if (link(tmpl, path) < 0) {
      int e = errno;
      g_set_error(error, VSB_ERROR, e == EEXIST ? VSB_ERROR_EXISTS : VSB_ERROR_IO,
                  e == EEXIST ? "%s: already exists%s" : "%s: cannot create: %s", path,
                  e == EEXIST ? "" : g_strerror(e));
      goto fail;
    }
    g_unlink(tmpl);
  } else if (rename(tmpl, path) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: cannot replace: %s", path, g_strerror(errno));
    goto fail;
  }
  fsync_parent_dir(path);
  return TRUE;

fail:
  if (fd >= 0)
    close(fd);
  g_unlink(tmpl);
  return FALSE;
}

GBytes *
vsb_file_read(const char *path, gsize max_size, GError **error)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO, "%s: %s",
                path, g_strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) < 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, g_strerror(errno));
    close(fd);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: is a directory", path);
    close(fd);
    return NULL;
  }
  if (S_ISREG(st.st_mode) && (guint64)st.st_size > max_size) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: file is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                " bytes accepted", path, (guint64)st.st_size, max_size);
    close(fd);
    return NULL;
  }
  /* Read in a loop rather than trusting st_size: pipes and /proc files report 0. */
  g_autoptr(GByteArray) buf = g_byte_array_sized_new(S_ISREG(st.st_mode) ? (guint)st.st_size : 4096);
  guint8 chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: read failed: %s", path, g_strerror(errno));
      close(fd);
      return NULL;
    }
    if (n == 0)
      break;
    if (buf->len + (gsize)n > max_size) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "%s: more than the %" G_GSIZE_FORMAT " bytes accepted", path, max_size);
      close(fd);
      return NULL;
    }
    g_byte_array_append(buf, chunk, (guint)n);
  }
  close(fd);
  return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
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
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  ssize_t n = read(fd, magic, sizeof magic);
  close(fd);
  return n == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
}

char *
vsb_file_sha256(const char *path, GError **error)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "%s: %s", path, g_strerror(errno));
    return NULL;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  gboolean ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
  static __thread guint8 buf[1 << 17];
  while (ok) {
    ssize_t n = read(fd, buf, sizeof buf);
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
  EVP_MD_CTX_free(ctx);
  close(fd);
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
  return "not a file";
}
