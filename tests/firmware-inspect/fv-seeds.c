/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fv-seeds DIR: the small synthetic volumes that seed fuzz/fuzz-fv.c (fuzz/corpus/fv/). */
#include "fvbuild.h"

#include <stdio.h>

static void
save(const char *dir, const char *name, GByteArray *a)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(path, (const char *)a->data, a->len, &error)) {
    fprintf(stderr, "%s\n", error->message);
    exit(1);
  }
  g_byte_array_unref(a);
}

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: fv-seeds DIR\n");
    return 2;
  }
  save(argv[1], "sample", fvb_sample_image());
  save(argv[1], "nested3", fvb_nested_image(3, FALSE));
  save(argv[1], "nested2-lzma", fvb_nested_image(2, TRUE));
  save(argv[1], "ffs3-large",
       fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM3, NULL,
                  fvb_file("33333333-4444-5555-6666-777777777777", 0x07,
                           fvb_concat(fvb_section(0x19, "big", 3, TRUE), fvb_ui("Large"), NULL),
                           TRUE),
                  NULL));
  save(argv[1], "lzma-claims-big",
       fvb_volume(&VSB_GUID_EFI_FIRMWARE_FILE_SYSTEM2, NULL,
                  fvb_file("66666666-7777-8888-9999-aaaaaaaaaaaa", 0x0b,
                           fvb_concat(fvb_lzma_section(fvb_concat(fvb_ui("t"), NULL),
                                                       (guint64)1 << 33, 0), NULL),
                           FALSE),
                  NULL));
  return 0;
}
