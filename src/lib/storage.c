/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry of storage backends and the autodetection of a store's format by its content. */
#include "storage.h"

/* In the order autodetection asks them: the ones with a sure sign first (qcow2's magic number,
 * JSON's opening bracket), the edk2 flash reader last, as it takes whatever is left. A new
 * backend goes before edk2. */
static const VsbStorageBackend *const registry[] = {
  &vsb_storage_qcow2,
  &vsb_storage_json,
  &vsb_storage_edk2,
};

const VsbStorageBackend *
vsb_storage_detect(const guint8 *data, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS(registry); i++)
    if (registry[i]->detect(data, len))
      return registry[i];
  return &vsb_storage_edk2;
}
