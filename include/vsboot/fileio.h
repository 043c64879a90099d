/* vsboot: file helpers every module shares. Writes are atomic: temporary file in the same
 * directory, fsync, rename, fsync of the directory; on any failure the target is untouched. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Replace (or create) path with data. mode is applied to the new file (e.g. 0600, 0644).
 * With exclusive, fail with VSB_ERROR_EXISTS if path already exists (checked atomically by
 * linking the finished temporary file into place rather than renaming it). */
gboolean vsb_file_write_atomic(const char *path, const void *data, gsize len, int mode,
                               gboolean exclusive, GError **error);

/* Read a whole file, refusing files larger than max_size (VSB_ERROR_INVALID, with the sizes). */
GBytes *vsb_file_read(const char *path, gsize max_size, GError **error);

/* TRUE when the file starts with the qcow2 magic ("QFI\xfb"); FALSE also when unreadable. */
gboolean vsb_file_is_qcow2(const char *path);
/* What a stat mode is, for messages: "a regular file", "a directory", "a FIFO", ... */
const char *vsb_file_kind(mode_t mode);
/* Lower-case hex SHA-256 of the file's contents, read in one streaming pass. */
char *vsb_file_sha256(const char *path, GError **error);

/* Lower-case hex of len bytes. */
char *vsb_hex_encode(const guint8 *data, gsize len);
/* Hex text (whitespace ignored, optional "0x") to bytes; VSB_ERROR_PARSE with the position. */
GBytes *vsb_hex_decode(const char *text, GError **error);

G_END_DECLS
