/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enrollment over hostile existing data: the input is the current value of db and dbx and, at
 * the same time, a signed dbx update. Every operation must either succeed with signature lists
 * that parse again, or fail cleanly. */
#include "vsboot/guid.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
must_parse(const VsbVarstore *store, const char *name)
{
  const VsbVariable *v = vsb_varstore_lookup(store, name, NULL);
  if (v == NULL)
    return;
  GError *error = NULL;
  GPtrArray *entries = vsb_siglist_parse(g_bytes_get_data(v->data, NULL),
                                         g_bytes_get_size(v->data), &error);
  if (entries == NULL)
    __builtin_trap(); /* an edit produced lists that do not parse */
  g_ptr_array_unref(entries);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* One empty store for the whole run, emptied for each input (making one means parsing the
   * whole image, which would dominate the run time). */
  static VsbVarstore *store;
  if (store == NULL && (store = vsb_varstore_new_empty(VSB_VARSTORE_LAYOUT_OVMF_2M, NULL)) == NULL)
    __builtin_trap();
  vsb_varstore_clear(store);
  vsb_varstore_set(store, vsb_variable_new("db", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE,
                                           VSB_SB_AUTH_ATTRIBUTES, data, size));
  VsbEnroll *e = vsb_enroll_new(store);
  guint8 hash[32];
  memset(hash, 0x5a, sizeof hash);
  GError *error = NULL;
  /* Valid existing lists get the hash; invalid ones are refused untouched. */
  gboolean ok = vsb_enroll_add_hash(e, VSB_SB_DB, hash, &VSB_GUID_MICROSOFT_VENDOR, &error);
  if (ok)
    must_parse(store, "db");
  g_clear_error(&error);
  if (vsb_enroll_apply_dbx_update(e, data, size, "fuzz", &error)) {
    must_parse(store, "dbx");
    if (vsb_enroll_add_hash(e, VSB_SB_DBX, hash, &VSB_GUID_MICROSOFT_VENDOR, &error))
      must_parse(store, "dbx");
  }
  g_clear_error(&error);
  vsb_enroll_set_secure_boot(e, TRUE, NULL);
  GPtrArray *warnings = vsb_enroll_check(e);
  g_ptr_array_unref(warnings);
  vsb_enroll_free(e);
  return 0;
}
