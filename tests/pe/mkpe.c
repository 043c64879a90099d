/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsb-mkpe: write a synthetic PE image (see pegen.h); used by bench/pe-verify.sh and to make the
 * fuzz seeds. */
#include "pegen.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
  gboolean pe32 = FALSE;
  gint sections = 2;
  gint64 size = 4096, trailing = 0;
  char *sbat = NULL;
  GOptionEntry entries[] = {
    { "pe32", 0, 0, G_OPTION_ARG_NONE, &pe32, "PE32 (i386) instead of PE32+ (x86_64)", NULL },
    { "sections", 'n', 0, G_OPTION_ARG_INT, &sections, "Number of sections", "N" },
    { "size", 's', 0, G_OPTION_ARG_INT64, &size, "Raw bytes per section", "BYTES" },
    { "trailing", 't', 0, G_OPTION_ARG_INT64, &trailing, "Bytes after the last section", "BYTES" },
    { "sbat", 0, 0, G_OPTION_ARG_STRING, &sbat, "Add a .sbat section with this text", "TEXT" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new("OUT - write a synthetic PE image");
  g_option_context_add_main_entries(ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || sections < 1 ||
      size < 1 || trailing < 0) {
    fprintf(stderr, "vsb-mkpe: %s\n", error ? error->message : "usage: vsb-mkpe [OPTIONS] OUT");
    return 2;
  }
  g_option_context_free(ctx);
  PeGenSpec spec = { .pe32plus = !pe32, .n_sections = (guint)sections, .section_size = (gsize)size,
                     .sbat = sbat, .trailing = (gsize)trailing };
  GByteArray *b = pegen_build(&spec);
  if (!g_file_set_contents(argv[1], (const char *)b->data, b->len, &error)) {
    fprintf(stderr, "vsb-mkpe: %s\n", error->message);
    return 2;
  }
  g_byte_array_unref(b);
  g_free(sbat);
  return 0;
}
