/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the PE/COFF reader and the Authenticode decoder: parse, describe, hash,
 * decode every signature, judge it against a tiny db/dbx, and append a certificate entry (the
 * result must parse again and keep its hash). */
#include "vsboot/authenticode.h"
#include "vsboot/guid.h"
#include "vsboot/pe.h"
#include "vsboot/siglist.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GBytes *bytes = g_bytes_new_static(data, size);
  VsbPeImage *img = vsb_pe_parse(bytes, "fuzz", NULL);
  if (img != NULL) {
    guint n;
    vsb_pe_get_sections(img, &n);
    vsb_pe_get_certificates(img, &n);
    g_free(vsb_pe_get_sbat(img));
    (void)vsb_pe_compute_checksum(img);
    guint8 h[VSB_PE_MAX_DIGEST_SIZE], h2[VSB_PE_MAX_DIGEST_SIZE];
    if (!vsb_pe_hash(img, VSB_PE_DIGEST_SHA256, h, NULL))
      __builtin_trap();

    GPtrArray *sigs = vsb_authenticode_get_signatures(img);
    g_ptr_array_unref(sigs);

    /* db: one hash entry (the image's own), dbx: a bogus hash and a bogus certificate. */
    GPtrArray *db = vsb_sig_entry_array_new(), *dbx = vsb_sig_entry_array_new();
    g_ptr_array_add(db, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, h, 32));
    guint8 zero[32] = { 0 };
    g_ptr_array_add(dbx, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, zero, 32));
    g_ptr_array_add(dbx, vsb_sig_entry_new(VSB_SIG_X509_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, zero, 32));
    VsbAuthenticodeVerdict *v = vsb_authenticode_verify(img, db, dbx, NULL);
    if (v == NULL)
      __builtin_trap();
    /* Its own hash is in db and nothing of it is in dbx: an unsigned image must be allowed. */
    gsize off, len;
    vsb_pe_get_cert_table(img, &off, &len);
    if (len == 0 && !v->allowed)
      __builtin_trap();
    vsb_authenticode_verdict_free(v);
    g_ptr_array_unref(db);
    g_ptr_array_unref(dbx);

    /* Appending keeps the image valid and, when no padding is needed, its hash. */
    static const guint8 blob[13] = { 0x30, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    GBytes *out = vsb_pe_append_certificate(img, VSB_WIN_CERT_TYPE_PKCS_SIGNED_DATA, blob,
                                            sizeof blob, NULL);
    if (out != NULL) {
      VsbPeImage *again = vsb_pe_parse(out, "fuzz-appended", NULL);
      if (again == NULL)
        __builtin_trap();
      if ((len != 0 || size % 8 == 0) &&
          (!vsb_pe_hash(again, VSB_PE_DIGEST_SHA256, h2, NULL) || memcmp(h, h2, 32) != 0))
        __builtin_trap();
      if (vsb_pe_compute_checksum(again) != vsb_pe_get_checksum(again))
        __builtin_trap();
      vsb_pe_image_free(again);
      g_bytes_unref(out);
    }
    vsb_pe_image_free(img);
  }
  g_bytes_unref(bytes);
  return 0;
}
