/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keys and certificates for the PE tests, made with OpenSSL at run time: a CA, a code-signing
 * leaf issued by it, an unrelated self-signed signer, an expired leaf and a leaf without the
 * code-signing EKU. Written as PEM into dir. */
#pragma once

#include <glib.h>

typedef struct {
  char *dir;
  char *ca_crt, *ca_key;
  char *leaf_crt, *leaf_key;
  char *other_crt, *other_key;
  char *expired_crt, *expired_key;
  char *email_crt, *email_key; /* EKU emailProtection only */
} PeKeys;

PeKeys *pe_keys_new(const char *dir);
void pe_keys_free(PeKeys *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeKeys, pe_keys_free)

/* Write a synthetic image (pegen) to dir/name and return its path. */
char *pe_write_synthetic(const char *dir, const char *name, gboolean pe32plus, gsize trailing);
