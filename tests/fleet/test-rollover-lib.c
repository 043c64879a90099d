/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rollover operation of rollover.h on Debian's OVMF stores: the 2023 CAs a store lacks are
 * exactly the successors of the 2011 CAs it trusts (never trust it did not have), adding them
 * leaves nothing missing, and vsb_rollover_file writes nothing in a dry run and is idempotent. */
#include "testutil.h"

#include "vsboot/mscerts.h"
#include "vsboot/rollover.h"
#include "vsboot/secureboot.h"
#include "vsboot/varstore.h"

#include <string.h>
#include <sys/stat.h>

#define OVMF "/usr/share/OVMF/"
#define BIT(id) (1u << (id))

static void
test_missing(void)
{
  g_autoptr(GError) error = NULL;
  /* Debian's Microsoft store: KEK CA 2011, Windows Production PCA 2011, UEFI CA 2011. */
  g_autoptr(VsbVarstore) ms = vsb_varstore_load(OVMF "OVMF_VARS_4M.ms.fd", &error);
  g_assert_no_error(error);
  g_assert_cmphex(vsb_rollover_2023_missing(ms), ==, VSB_MS_SET_2023);
  /* No Microsoft CA at all: nothing to add. */
  g_autoptr(VsbVarstore) blank = vsb_varstore_load(OVMF "OVMF_VARS_4M.fd", &error);
  g_assert_no_error(error);
  g_assert_cmphex(vsb_rollover_2023_missing(blank), ==, 0);
  /* A store that trusts the KEK CA and the Windows PCA only: their successors, and neither
   * UEFI CA 2023 nor the Option ROM CA (the store never trusted third-party UEFI code). */
  g_autoptr(VsbEnroll) e = vsb_enroll_new(blank);
  g_assert_true(vsb_enroll_add_microsoft(e, BIT(VSB_MS_KEK_2011) | BIT(VSB_MS_WINDOWS_2011),
                                         &error));
  g_assert_no_error(error);
  guint want = BIT(VSB_MS_KEK_2023) | BIT(VSB_MS_WINDOWS_2023);
  g_assert_cmphex(vsb_rollover_2023_missing(blank), ==, want);
  g_autoptr(GPtrArray) changes = NULL;
  g_assert_true(vsb_rollover_add(blank, want, &changes, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(changes->len, ==, 2);
  g_assert_nonnull(strstr(changes->pdata[0], "KEK: add Microsoft Corporation KEK 2K CA 2023"));
  g_assert_nonnull(strstr(changes->pdata[1], "db: add Windows UEFI CA 2023"));
  g_assert_cmphex(vsb_rollover_2023_missing(blank), ==, 0);
  g_autoptr(VsbMsState) st = vsb_secure_boot_microsoft_state(blank);
  g_assert_false(st->missing_successor);
  g_assert_cmpint(st->state[VSB_MS_UEFI_2023], ==, VSB_MS_ABSENT);
}

static void
test_file(void)
{
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *path = vsb_test_copy_file(OVMF "OVMF_VARS_4M.ms.fd", dir, "vm_VARS.fd", 0640);
  g_autofree char *before = NULL, *after = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &before, &len, NULL));
  g_autoptr(GError) error = NULL;
  VsbRolloverStatus status;
  g_autoptr(GPtrArray) dry = NULL;
  g_assert_true(vsb_rollover_file(path, TRUE, &status, &dry, &error));
  g_assert_no_error(error);
  g_assert_cmpint(status, ==, VSB_ROLLOVER_WOULD_CHANGE);
  g_assert_cmpuint(dry->len, ==, 4);
  gsize len2 = 0;
  g_assert_true(g_file_get_contents(path, &after, &len2, NULL));
  g_assert_true(len == len2 && memcmp(before, after, len) == 0);
  g_autoptr(GPtrArray) done = NULL;
  g_assert_true(vsb_rollover_file(path, FALSE, &status, &done, &error));
  g_assert_no_error(error);
  g_assert_cmpint(status, ==, VSB_ROLLOVER_CHANGED);
  g_assert_cmpuint(done->len, ==, 4);
  struct stat st;
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 07777, ==, 0640);
  g_autoptr(GPtrArray) again = NULL;
  g_assert_true(vsb_rollover_file(path, FALSE, &status, &again, &error));
  g_assert_cmpint(status, ==, VSB_ROLLOVER_UP_TO_DATE);
  g_assert_cmpuint(again->len, ==, 0);
  /* A file that is not a varstore: an error naming it, nothing written. */
  g_autofree char *junk = g_build_filename(dir, "junk.fd", NULL);
  vsb_test_write_file(junk, "not a varstore", -1);
  g_assert_false(vsb_rollover_file(junk, FALSE, &status, NULL, &error));
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, "junk.fd"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rollover/missing", test_missing);
  g_test_add_func("/rollover/file", test_file);
  return g_test_run();
}
