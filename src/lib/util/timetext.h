/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place for time as vsboot shows it and stores it: ISO 8601 UTC text
 * ("2023-06-13T18:08:21Z") from a struct tm, an ASN.1 time of a certificate or an EFI_TIME of a
 * variable, and the 16-byte EFI_TIME layout (UEFI 2.10, 8.3) read and written. Every report
 * prints the same shape whichever source the time came from. Private to libvsboot (not
 * installed). */
#pragma once

#include "vsboot/varstore.h"

#include <glib.h>
#include <openssl/asn1.h>
#include <time.h>

#define VSB_EFI_TIME_SIZE 16

/* "YYYY-MM-DDTHH:MM:SSZ" of a broken-down UTC time (tm_year since 1900, tm_mon from 0). */
char *vsb_time_text_tm(const struct tm *tm);
/* The same for a certificate's notBefore/notAfter; when t is NULL or not a valid time, a copy
 * of fallback (what the caller shows for "no time", e.g. "?"), or NULL when fallback is. */
char *vsb_time_text_asn1(const ASN1_TIME *t, const char *fallback);
/* The same for an EFI_TIME; NULL for the all-zero time (a variable without a timestamp). */
char *vsb_time_text_efi(const VsbEfiTime *t);

/* EFI_TIME from / to its 16 little-endian bytes, padding fields kept. */
void vsb_efi_time_read(const guint8 *p, VsbEfiTime *t);
void vsb_efi_time_write(guint8 *p, const VsbEfiTime *t);
