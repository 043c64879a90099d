/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsb_cert_info_from_der (the key-less certificate reader behind `vars show`) against
 * vsb_cert_from_der (d2i_X509) on arbitrary bytes: both accept or both refuse, with the same
 * message; when both accept, the names, serial, validity and re-encoded DER are the same.
 * Any disagreement, crash or sanitizer report fails. */
#include "vsboot/siglist.h"
#include "siglist-ossl.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
same_der(GBytes *a, GBytes *b)
{
  return (a == NULL && b == NULL) || (a && b && g_bytes_equal(a, b));
}

/* Byte for byte: X509_NAME_cmp and ASN1_TIME_compare fail (-2) on some malformed values. */
static gboolean
same_name(const X509_NAME *a, const X509_NAME *b)
{
  unsigned char *da = NULL, *db = NULL;
  int na = i2d_X509_NAME(a, &da), nb = i2d_X509_NAME(b, &db);
  gboolean same = na == nb && (na <= 0 || memcmp(da, db, (size_t)na) == 0);
  OPENSSL_free(da);
  OPENSSL_free(db);
  return same;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(VsbCertInfo) info = vsb_cert_info_from_der(data, size, &e1);
  X509 *x = vsb_cert_from_der(data, size, &e2);
  if ((info == NULL) != (x == NULL))
    __builtin_trap();
  if (info == NULL) {
    if (strcmp(e1->message, e2->message) != 0)
      __builtin_trap();
    return 0;
  }
  g_autoptr(GBytes) d1 = vsb_cert_info_to_der(info);
  g_autoptr(GBytes) d2 = vsb_cert_to_der(x);
  if (!same_der(d1, d2) || !same_name(vsb_cert_info_subject(info), X509_get_subject_name(x)) ||
      !same_name(vsb_cert_info_issuer(info), X509_get_issuer_name(x)) ||
      ASN1_STRING_cmp(vsb_cert_info_serial(info), X509_get0_serialNumber(x)) != 0 ||
      ASN1_STRING_cmp(vsb_cert_info_not_before(info), X509_get0_notBefore(x)) != 0 ||
      ASN1_STRING_cmp(vsb_cert_info_not_after(info), X509_get0_notAfter(x)) != 0)
    __builtin_trap();
  X509_free(x);
  return 0;
}
