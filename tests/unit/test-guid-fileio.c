/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testutil.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/guid.h"
#include "json.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static void
test_guid_roundtrip(void)
{
  VsbGuid g;
  char buf[VSB_GUID_STRING_LEN + 1];
  g_assert_true(vsb_guid_parse("8BE4DF61-93CA-11D2-AA0D-00E098032B8C", &g));
  g_assert_true(vsb_guid_equal(&g, &VSB_GUID_EFI_GLOBAL_VARIABLE));
  /* On-disk byte order: Data1..3 little-endian (varstore.md test vector 6: 61dfe48bca93d211...). */
  static const guint8 disk[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                   0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
  g_assert_cmpmem(g.b, 16, disk, 16);
  g_assert_cmpstr(vsb_guid_format(&g, buf), ==, "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  g_assert_cmpstr(vsb_guid_known_name(&g), ==, "EfiGlobalVariable");
  g_assert_true(vsb_guid_parse("{d719b2cb-3d3a-4596-a3bc-dad00e67656f}", &g));
  g_assert_true(vsb_guid_equal(&g, &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE));
  g_assert_true(vsb_guid_lookup("MicrosoftVendor", &g));
  g_assert_cmpstr(vsb_guid_format(&g, buf), ==, "77fa9abd-0359-4d32-bd60-28f4e78f784b");
}

static void
test_guid_bad(void)
{
  VsbGuid g;
  const char *bad[] = { "", "8be4df61", "8be4df61-93ca-11d2-aa0d-00e098032b8", "8be4df61x93ca-11d2-aa0d-00e098032b8c",
                        "8be4df61-93ca-11d2-aa0d-00e098032b8cc", "zbe4df61-93ca-11d2-aa0d-00e098032b8c",
                        "{8be4df61-93ca-11d2-aa0d-00e098032b8c", NULL };
  for (int i = 0; bad[i]; i++)
    g_assert_false(vsb_guid_parse(bad[i], &g));
  g_assert_false(vsb_guid_parse(NULL, &g));
  g_assert_false(vsb_guid_lookup("NoSuchName", &g));
}

static void
test_atomic_write(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "f.bin", NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;

  /* `-o ""` reaches here: an error that says so, not one about "." or a temp file. */
  g_assert_false(vsb_file_write_atomic("", "one", 3, 0600, TRUE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_assert_cmpstr(error->message, ==, "no output file name (an empty path)");
  g_clear_error(&error);

  g_assert_true(vsb_file_write_atomic(path, "one", 3, 0600, TRUE, &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  /* Exclusive creation refuses an existing file and leaves it alone. */
  g_assert_false(vsb_file_write_atomic(path, "two", 3, 0600, TRUE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_EXISTS);
  g_clear_error(&error);
  g_autoptr(GBytes) b = vsb_file_read(path, 100, &error);
  g_assert_no_error(error);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "one", 3);
  /* Replacement works and leaves no temporary file behind. */
  g_assert_true(vsb_file_write_atomic(path, "three", 5, 0644, FALSE, &error));
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  int n = 0;
  while (g_dir_read_name(d))
    n++;
  g_assert_cmpint(n, ==, 1);
  /* A directory that does not exist: clear error, nothing created. */
  g_autofree char *bad = g_build_filename(dir, "nope", "f.bin", NULL);
  g_assert_false(vsb_file_write_atomic(bad, "x", 1, 0600, FALSE, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "nope"));
}

static void
test_read_limits(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "big", NULL);
  g_autoptr(GError) error = NULL;
  vsb_test_write_file(path, "0123456789", 10);
  g_assert_null(vsb_file_read(path, 9, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_null(vsb_file_read(dir, 9, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_INVALID);
  g_clear_error(&error);
  g_autofree char *missing = g_build_filename(dir, "missing", NULL);
  g_assert_null(vsb_file_read(missing, 9, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
}

static void
test_hex(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = vsb_hex_decode("0xDEad be ef", &error);
  g_assert_no_error(error);
  g_autofree char *s = vsb_hex_encode(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
  g_assert_cmpstr(s, ==, "deadbeef");
  g_assert_null(vsb_hex_decode("abc", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
  g_clear_error(&error);
  g_assert_null(vsb_hex_decode("zz", &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
}

static void
test_sha256_qcow2(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *f = g_build_filename(dir, "abc", NULL);
  g_autoptr(GError) error = NULL;
  vsb_test_write_file(f, "abc", 3);
  g_autofree char *sum = vsb_file_sha256(f, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(sum, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_false(vsb_file_is_qcow2(f));
  g_autofree char *q = g_build_filename(dir, "q", NULL);
  vsb_test_write_file(q, "QFI\xfb\0\0\0\3", 8);
  g_assert_true(vsb_file_is_qcow2(q));
  g_autofree char *missing = g_build_filename(dir, "missing", NULL);
  g_assert_false(vsb_file_is_qcow2(missing));
  g_assert_null(vsb_file_sha256(missing, &error));
  g_assert_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "missing"));
}

static void
test_json_bounds(void)
{
  g_autoptr(GError) error = NULL;
  const char ok[] = "{\"a\": [1, \"\\u00e9\"]}";
  g_autoptr(JsonNode) n = vsb_json_parse(ok, strlen(ok), 4, "ok.json", &error);
  g_assert_no_error(error);
  g_assert_nonnull(n);
  /* Every escape JSON has, a surrogate pair among them. */
  const char escapes[] = "[\"\\b\\f\\n\\r\\t\\/\\\\\\\"\\u00e9\\uD83D\\uDE00\"]";
  g_autoptr(JsonNode) e = vsb_json_parse(escapes, strlen(escapes), 4, "ok.json", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(json_array_get_string_element(json_node_get_array(e), 0), ==,
                  "\b\f\n\r\t/\\\"\xc3\xa9\xf0\x9f\x98\x80");
  /* An escaped backslash before "u0000" is text, not a NUL. */
  const char text[] = "{\"a\": \"\\\\u0000\"}";
  g_autoptr(JsonNode) t = vsb_json_parse(text, strlen(text), 4, "ok.json", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(json_object_get_string_member(json_node_get_object(t), "a"), ==, "\\u0000");
  static const struct {
    const char *text, *expect;
  } bad[] = {
    { "[[[[[1]]]]]", "bad.json: JSON nested deeper than 4 levels at byte 4" },
    /* json-glib takes octal escapes (into bytes that are not UTF-8); JSON has none. */
    { "{\"a\": \"cee\\6513388\"}", "line 1, column 11: '\\6' is not a JSON escape (JSON has" },
    { "{\"\\651\": 1}", "bad.json: not JSON: line 1, column 3: '\\6' is not a JSON escape" },
    /* What json-glib lets through and QEMU and libvirt refuse, named with its place. */
    { "{\"a\":\n  \"x\ty\"}", "line 2, column 5: a raw control character U+0009 in the string "
                            "opened at line 2, column 3 (JSON writes it as \\t)" },
    { "[\"\x01\"]", "line 1, column 3: a raw control character U+0001 in the string opened at "
                  "line 1, column 2 (JSON writes it as \\u0001)" },
    { "[\"a\\q\"]", "line 1, column 4: '\\q' is not a JSON escape" },
    { "[\"\\u12\"]", "line 1, column 3: '\\u' without four hex digits" },
    { "[\"\\uD800\\u0041\"]", "'\\uD800' is the first half of a UTF-16 surrogate pair, alone" },
    { "[\"\\udc00\"]", "'\\uDC00' is the second half of a UTF-16 surrogate pair, alone" },
    { "[\"\\\xc3\xa9\"]", "a backslash before a character JSON cannot escape" },
    /* json-glib says where the input ended; the message also says where the string opened,
     * and stays one line. */
    { "{\"\xc3\xa9\": \"ab\\\"", "line 1, column 13: scanner: unterminated string constant (the "
                                   "string opened at line 1, column 8 is never closed)" },
    { "{\"a\": x}", "bad.json: not JSON: line 1, column 7: unexpected identifier" },
    { "{\"a\": \"\xff\"}", "not UTF-8 text" },
    { "{", "bad.json: not JSON: " },
    /* json-glib cuts the quoted token inside the U+FFFD (found by fuzz-qemu-cmdline). */
    { "{\"a\":1,\"fie-drive if=none,id=a,file=a,file=\xef\xbf\xbd\"}", "expected character" },
    { "", "bad.json: not JSON: empty" },
    /* json-glib would cut these strings at the NUL; every reader is told where it is. */
    { "{\"mapping\": {\"filename\": \"/a\\u0000b\"}}",
      "bad.json: mapping: \"filename\" contains a NUL character (\\u0000)" },
    { "{\"features\": [\"a\", \"b\\u0000\"]}", "bad.json: features[1] contains a NUL character" },
    /* json-glib would take "\0" as an octal NUL; JSON has no such escape. */
    { "{\"features\": [\"a\", \"b\\0\"]}", "line 1, column 22: '\\0' is not a JSON escape" },
    { "{\"a\": [{\"b\": {\"c\": \"\\u0000\"}}]}", "bad.json: a[0].b: \"c\" contains a NUL" },
    { "{\"k\\u0000\": 1}", "bad.json: the member name at byte 1 contains a NUL character" },
    { "\"x\\u0000\"", "bad.json: the document contains a NUL character" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(JsonNode) b = vsb_json_parse(bad[i].text, strlen(bad[i].text), 4, "bad.json", &error);
    g_assert_null(b);
    g_assert_error(error, VSB_ERROR, VSB_ERROR_PARSE);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_null(strchr(error->message, '\n'));
    if (strstr(error->message, bad[i].expect) == NULL)
      vsb_test_fail("case %" G_GSIZE_FORMAT ": '%s' lacks '%s'", i, error->message, bad[i].expect);
    g_clear_error(&error);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/guid/roundtrip", test_guid_roundtrip);
  g_test_add_func("/guid/bad", test_guid_bad);
  g_test_add_func("/fileio/atomic-write", test_atomic_write);
  g_test_add_func("/fileio/read-limits", test_read_limits);
  g_test_add_func("/fileio/hex", test_hex);
  g_test_add_func("/fileio/sha256-qcow2", test_sha256_qcow2);
  g_test_add_func("/json/bounds", test_json_bounds);
  return g_test_run();
}
