/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the firmware-volume reader (src/lib/fv.c): any byte string must give
 * a report or a GError, never a crash, a leak or runaway memory. Seeds: small synthetic
 * volumes from tests/firmware-inspect/fv-seeds.c (FFS2/FFS3, LZMA, nesting). */
#include "vsboot/fv.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* A small inflation budget keeps each run fast; the code paths are the same. */
  const VsbFvLimits limits = { .max_depth = 16, .max_decompressed = 4 << 20 };
  GBytes *bytes = g_bytes_new_static(data, size);
  GError *error = NULL;
  VsbFvImage *image = vsb_fv_inspect_bytes(bytes, "fuzz", &limits, &error);
  if (image) {
    /* Walk what the report prints. */
    GPtrArray *files = vsb_fv_image_get_files(image);
    for (guint i = 0; i < files->len; i++) {
      const VsbFvFile *f = g_ptr_array_index(files, i);
      (void)vsb_fv_file_type_name(f->type);
    }
    const char *claims[] = { "secure-boot", "requires-smm", NULL };
    GPtrArray *checks = vsb_fv_image_check_claims(image, claims);
    g_ptr_array_unref(checks);
    VsbFvVarstoreSource src;
    const char *reason;
    (void)vsb_fv_image_get_varstore_size(image, &src, &reason);
    vsb_fv_image_free(image);
  } else if (error == NULL || error->message == NULL) {
    __builtin_trap(); /* a failure must say why */
  }
  g_clear_error(&error);
  g_bytes_unref(bytes);
  return 0;
}
