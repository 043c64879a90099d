/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared helpers of the g_test programs: run the vsboot CLI, make scratch directories, insist
 * on the real tools. A missing tool fails the test; it never skips. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "vsboot/launch.h"

/* Fail the test with a message that may span lines: the detail goes out as TAP comments ("# "
 * per line) and only the first line as the error, so meson's TAP parser never sees stray
 * lines (a g_error with a console log in it broke the TAP stream). */
void vsb_test_fail(const char *format, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

/* Path of the vsboot binary under test ($VSBOOT, set by meson). */
const char *vsb_test_vsboot(void);
/* Directory of committed fixtures ($VSB_TEST_DATA). */
const char *vsb_test_data_dir(void);

/* Run vsboot with the NULL-terminated arguments; returns its exit status (or 128+signal) and
 * hands back stdout/stderr (either may be NULL). A crash or sanitizer report fails the test. */
/* Copy the regular files of directory from into the existing directory to (one level). */
void vsb_test_copy_dir(const char *from, const char *to);
int vsb_test_run(char **out, char **err, const char *arg1, ...) G_GNUC_NULL_TERMINATED;
int vsb_test_runv(const char *const *args, char **out, char **err);
/* Run any program (argv[0] looked up in PATH); same return convention. */
int vsb_test_spawn(const char *const *argv, const char *const *envp, char **out, char **err);

/* A fresh directory removed (recursively) when the test ends. */
char *vsb_test_tmpdir(void);
/* Fail the test at once when the tool is not in PATH. */
void vsb_test_require_tool(const char *tool);
/* Parse JSON text or fail the test. */
JsonNode *vsb_test_parse_json(const char *text);
/* Copy from to the path dir/name (dir NULL: name is the path) with mode; returns the path. */
char *vsb_test_copy_file(const char *from, const char *dir, const char *name, int mode);
/* An ESP image dir/name holding app as EFI/BOOT/BOOTX64.EFI; returns its path. */
char *vsb_test_make_esp(const char *dir, const char *name, const char *app);
/* Boot x86 OVMF CODE (its 4M Secure Boot build when NULL) with vars (booted in place: the
 * firmware writes to it) and esp on the first virtio disk, as Secure Boot wants it: q35 with
 * SMM, secure pflash, TCG, the serial console watched. patterns NULL: the verdict on the
 * ESP's image (vsb_launch_watch_image), else the first pattern seen. Logs the verdict. */
VsbLaunchResult *vsb_test_boot_ovmf(const char *code, const char *vars, const char *esp,
                                    const VsbBootPattern *patterns, gsize n_patterns,
                                    guint timeout_ms);
/* dir/tr.qcow2: raw converted to qcow2 by qemu-img, cut to its first 100000 bytes (qemu-img
 * convert would fill the missing clusters with zeros: a store that reads as blank). */
char *vsb_test_truncated_qcow2(const char *dir, const char *raw);
/* Write a file or fail the test. */
void vsb_test_write_file(const char *path, const void *data, gssize len);
