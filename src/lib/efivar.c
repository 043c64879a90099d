/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decoding of known EFI variables and the Secure Boot judgement (AuthVariableLibInitialize:
 * SetupMode = no PK; SecureBoot = user mode and SecureBootEnable != 0, a missing
 * SecureBootEnable being created as 1). */
#include "vsboot/efivar.h"
#include "efivar-ossl.h"
#include "certificate-ossl.h"
#include "util/jsonb.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "util/le.h"
#include "util/ucs2.h"

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <string.h>

static const struct {
  guint32 bit;
  const char *shortname, *name;
} attr_names[] = {
  { VSB_EFI_VARIABLE_NON_VOLATILE, "NV", "NON_VOLATILE" },
  { VSB_EFI_VARIABLE_BOOTSERVICE_ACCESS, "BS", "BOOTSERVICE_ACCESS" },
  { VSB_EFI_VARIABLE_RUNTIME_ACCESS, "RT", "RUNTIME_ACCESS" },
  { VSB_EFI_VARIABLE_HARDWARE_ERROR_RECORD, "HR", "HARDWARE_ERROR_RECORD" },
  { VSB_EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS, "AW", "AUTHENTICATED_WRITE_ACCESS" },
  { VSB_EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS, "AT",
    "TIME_BASED_AUTHENTICATED_WRITE_ACCESS" },
  { VSB_EFI_VARIABLE_APPEND_WRITE, "AP", "APPEND_WRITE" },
};

char *
vsb_efivar_attributes_text(guint32 attributes)
{
  GString *s = g_string_new(NULL);
  guint32 rest = attributes;
  for (gsize i = 0; i < G_N_ELEMENTS(attr_names); i++)
    if (attributes & attr_names[i].bit) {
      g_string_append_printf(s, "%s%s", s->len ? "," : "", attr_names[i].shortname);
      rest &= ~attr_names[i].bit;
    }
  if (rest)
    g_string_append_printf(s, "%s0x%x", s->len ? "," : "", rest);
  if (s->len == 0)
    g_string_append(s, "-");
  return g_string_free(s, FALSE);
}

JsonNode *
vsb_efivar_attributes_json(guint32 attributes)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "value");
  json_builder_add_int_value(b, attributes);
  json_builder_set_member_name(b, "names");
  json_builder_begin_array(b);
  guint32 rest = attributes;
  for (gsize i = 0; i < G_N_ELEMENTS(attr_names); i++)
    if (attributes & attr_names[i].bit) {
      json_builder_add_string_value(b, attr_names[i].name);
      rest &= ~attr_names[i].bit;
    }
  if (rest) {
    g_autofree char *hex = g_strdup_printf("0x%x", rest);
    json_builder_add_string_value(b, hex);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* ---- device paths (UEFI spec ch. 10; text as edk2's DevicePathToText) ------------------------ */

static char *
guid_at(const guint8 *p)
{
  VsbGuid g;
  memcpy(g.b, p, 16);
  const char *known = vsb_guid_known_name(&g);
  return known ? g_strdup(known) : vsb_guid_to_string(&g);
}

/* A UCS-2 string up to its NUL or the end; "?" when it does not convert (a report never fails). */
static char *
ucs2_to_utf8(const guint8 *p, gsize bytes)
{
  char *s = vsb_ucs2_to_utf8(p, bytes, NULL);
  return s ? s : g_strdup("?");
}

/* A hardware (type 1) node as edk2 prints it; FALSE for a subtype vsboot does not name. */
static gboolean
hardware_node(GString *s, guint8 sub, const guint8 *d, gsize n)
{
  if (sub == 1 && n >= 2) {
    g_string_append_printf(s, "Pci(0x%x,0x%x)", d[1], d[0]);
    return TRUE;
  }
  return FALSE;
}

/* An ACPI (type 2) node as edk2 prints it; FALSE for a subtype vsboot does not name. */
static gboolean
acpi_node(GString *s, guint8 sub, const guint8 *d, gsize n)
{
  if (sub == 1 && n >= 8) {
    guint32 hid = vsb_le32(d), uid = vsb_le32(d + 4);
    if (hid == 0x0a0341d0 || hid == 0x0a0841d0)
      g_string_append_printf(s, "PciRoot(0x%x)", uid);
    else if ((hid & 0xffff) == 0x41d0 && (hid >> 16) == 0x0501)
      g_string_append_printf(s, "Serial(0x%x)", uid);
    else if ((hid & 0xffff) == 0x41d0 && (hid >> 16) == 0x0303)
      g_string_append_printf(s, "Keyboard(0x%x)", uid);
    else if ((hid & 0xffff) == 0x41d0) /* compressed EISA id "PNP" */
      g_string_append_printf(s, "Acpi(PNP%04X,0x%x)", hid >> 16, uid);
    else
      g_string_append_printf(s, "Acpi(0x%08x,0x%x)", hid, uid);
    return TRUE;
  }
  return FALSE;
}

/* A messaging (type 3) node as edk2 prints it; FALSE for a subtype vsboot does not name. */
static gboolean
messaging_node(GString *s, guint8 sub, const guint8 *d, gsize n)
{
  if (sub == 1 && n >= 4) {
    g_string_append_printf(s, "Ata(%s,%s,0x%x)", d[0] ? "Secondary" : "Primary",
                           d[1] ? "Slave" : "Master", vsb_le16(d + 2));
    return TRUE;
  }
  if (sub == 2 && n >= 4) {
    g_string_append_printf(s, "Scsi(0x%x,0x%x)", vsb_le16(d), vsb_le16(d + 2));
    return TRUE;
  }
  if (sub == 5 && n >= 2) {
    g_string_append_printf(s, "USB(0x%x,0x%x)", d[0], d[1]);
    return TRUE;
  }
  if (sub == 11 && n >= 33) {
    gsize len = d[32] == 0 || d[32] == 1 ? 6 : 32;
    g_autofree char *hex = vsb_hex_encode(d, len);
    g_string_append_printf(s, "MAC(%s,0x%x)", hex, d[32]);
    return TRUE;
  }
  if (sub == 12 && n >= 15) {
    g_string_append_printf(s, "IPv4(%u.%u.%u.%u)", d[4], d[5], d[6], d[7]);
    return TRUE;
  }
  if (sub == 13) {
    g_string_append(s, "IPv6()");
    return TRUE;
  }
  if (sub == 14 && n >= 15) {
    guint64 baud = (guint64)vsb_le32(d + 4) | (guint64)vsb_le32(d + 8) << 32;
    g_string_append_printf(s, "Uart(%" G_GUINT64_FORMAT ",%u,%u,%u)", baud, d[12], d[13], d[14]);
    return TRUE;
  }
  if (sub == 15 && n >= 7) {
    g_string_append_printf(s, "UsbClass(0x%x,0x%x,0x%x,0x%x,0x%x)", vsb_le16(d), vsb_le16(d + 2), d[4],
                           d[5], d[6]);
    return TRUE;
  }
  if (sub == 18 && n >= 6) {
    g_string_append_printf(s, "Sata(0x%x,0x%x,0x%x)", vsb_le16(d), vsb_le16(d + 2), vsb_le16(d + 4));
    return TRUE;
  }
  if (sub == 23 && n >= 12) {
    g_string_append_printf(s, "NVMe(0x%x)", vsb_le32(d));
    return TRUE;
  }
  if (sub == 24) {
    g_autofree char *uri = g_strndup((const char *)d, n);
    g_string_append_printf(s, "Uri(%s)", uri);
    return TRUE;
  }
  return FALSE;
}

/* A media (type 4) node as edk2 prints it; FALSE for a subtype vsboot does not name. */
static gboolean
media_node(GString *s, guint8 sub, const guint8 *d, gsize n)
{
  if (sub == 1 && n >= 38) {
    guint32 part = vsb_le32(d);
    guint8 sigtype = d[37];
    if (sigtype == 2) {
      VsbGuid g;
      memcpy(g.b, d + 20, 16);
      g_autofree char *gs = vsb_guid_to_string(&g);
      g_string_append_printf(s, "HD(%u,GPT,%s)", part, gs);
    } else
      g_string_append_printf(s, "HD(%u,%s,0x%08x)", part, sigtype == 1 ? "MBR" : "?", vsb_le32(d + 20));
    return TRUE;
  }
  if (sub == 2 && n >= 4) {
    g_string_append_printf(s, "CDROM(0x%x)", vsb_le32(d));
    return TRUE;
  }
  if (sub == 4) {
    g_autofree char *path = ucs2_to_utf8(d, n);
    g_string_append(s, path);
    return TRUE;
  }
  if (sub == 8 && n >= 20) {
    g_string_append_printf(s, "Offset(0x%" G_GINT64_MODIFIER "x,0x%" G_GINT64_MODIFIER "x)",
                           (guint64)vsb_le32(d + 4) | (guint64)vsb_le32(d + 8) << 32,
                           (guint64)vsb_le32(d + 12) | (guint64)vsb_le32(d + 16) << 32);
    return TRUE;
  }
  return FALSE;
}

/* The nodes that are just a GUID (vendor nodes without their vendor data, firmware volumes and
 * files), named the same way whatever their type. */
static const struct {
  guint8 type, sub;
  const char *name;
} guid_nodes[] = {
  { 1, 4, "VenHw" }, { 3, 10, "VenMsg" }, { 4, 3, "VenMedia" }, { 4, 6, "FvFile" }, { 4, 7, "Fv" },
};

static gboolean
guid_node(GString *s, guint8 type, guint8 sub, const guint8 *d, gsize n)
{
  for (gsize i = 0; i < G_N_ELEMENTS(guid_nodes); i++)
    if (guid_nodes[i].type == type && guid_nodes[i].sub == sub && n >= 16) {
      g_autofree char *g = guid_at(d);
      g_string_append_printf(s, "%s(%s)", guid_nodes[i].name, g);
      return TRUE;
    }
  return FALSE;
}

static void
node_text(GString *s, guint8 type, guint8 sub, const guint8 *d, gsize n)
{
  /* d points after the 4-byte node header; n is the node's payload size. */
  gboolean named = guid_node(s, type, sub, d, n);
  switch (named ? 0 : type) {
  case 1: named = hardware_node(s, sub, d, n); break;
  case 2: named = acpi_node(s, sub, d, n); break;
  case 3: named = messaging_node(s, sub, d, n); break;
  case 4: named = media_node(s, sub, d, n); break;
  case 5:
    if (sub == 1) {
      g_string_append(s, "BBS()");
      named = TRUE;
    }
    break;
  }
  if (!named)
    g_string_append_printf(s, "Path(%u,%u)", type, sub);
}

char *
vsb_device_path_to_text(const guint8 *data, gsize len)
{
  GString *s = g_string_new(NULL);
  gsize off = 0;
  gboolean need_sep = FALSE;
  while (off < len) {
    if (len - off < 4) {
      g_string_append_printf(s, "<malformed at %zu>", off);
      break;
    }
    guint8 type = data[off], sub = data[off + 1];
    guint16 nlen = vsb_le16(data + off + 2);
    if (nlen < 4 || nlen > len - off) {
      g_string_append_printf(s, "<malformed at %zu>", off);
      break;
    }
    if (type == 0x7f) {
      if (sub == 0xff)
        break;
      g_string_append(s, ","); /* end of one instance, another follows */
      need_sep = FALSE;
      off += nlen;
      continue;
    }
    if (need_sep)
      g_string_append_c(s, '/');
    node_text(s, type, sub, data + off + 4, nlen - 4u);
    need_sep = TRUE;
    off += nlen;
  }
  return g_string_free(s, FALSE);
}

/* ---- certificates ------------------------------------------------------------------------- */

static const VsbKnownCert known_certs[] = {
  { "ms-kek-ca-2011", "Microsoft Corporation KEK CA 2011", "31590BFD89C9D74ED087DFAC66334B3931254B30" },
  { "ms-kek-2k-ca-2023", "Microsoft Corporation KEK 2K CA 2023", "459AB6FB5E284D272D5E3E6ABC8ED663829D632B" },
  { "ms-windows-pca-2011", "Microsoft Windows Production PCA 2011", "580A6F4CC4E4B669B9EBDC1B2B3E087B80D0678D" },
  { "ms-uefi-ca-2011", "Microsoft Corporation UEFI CA 2011", "46DEF63B5CE61CF8BA0DE2E6639C1019D0ED14F3" },
  { "ms-uefi-ca-2023", "Microsoft UEFI CA 2023", "B5EEB4A6706048073F0ED296E7F580A790B59EAA" },
  { "windows-uefi-ca-2023", "Windows UEFI CA 2023", "45A0FA32604773C82433C3B7D59E7466B3AC0C67" },
  { "ms-option-rom-uefi-ca-2023", "Microsoft Option ROM UEFI CA 2023", NULL },
};

/* Certificate names are whatever the issuer encoded: take ownership of s and return it as
 * UTF-8 (invalid sequences replaced), since it ends up in JSON. */
static char *
valid_utf8(char *s)
{
  if (g_utf8_validate(s, -1, NULL))
    return s;
  char *v = g_utf8_make_valid(s, -1);
  g_free(s);
  return v;
}

static char *
name_cn(const X509_NAME *name)
{
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0)
    return NULL;
  ASN1_STRING *a = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char *utf8 = NULL;
  int n = ASN1_STRING_to_UTF8(&utf8, a);
  if (n < 0)
    return NULL;
  char *s = g_strndup((const char *)utf8, (gsize)n);
  OPENSSL_free(utf8);
  return valid_utf8(s);
}

static char *
asn1_time_text(const ASN1_TIME *t)
{
  struct tm tm;
  if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
    return NULL;
  return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* GLib's checksum, not EVP: a fingerprint of a 1 KiB certificate is not worth the start of
 * OpenSSL's provider machinery (its first EVP fetch costs more than `vars show` otherwise). */
static char *
digest_hex(GChecksumType type, const guint8 *d, gsize len, gboolean upper)
{
  char *hex = g_compute_checksum_for_data(type, d, len);
  if (upper) {
    char *u = g_ascii_strup(hex, -1);
    g_free(hex);
    return u;
  }
  return hex;
}

static const VsbKnownCert *
known_by_cn(const char *cn)
{
  for (gsize i = 0; cn && i < G_N_ELEMENTS(known_certs); i++)
    if (strcmp(known_certs[i].name, cn) == 0)
      return &known_certs[i];
  return NULL;
}

const char *
vsb_known_cert_name(X509 *cert)
{
  g_autofree char *cn = name_cn(X509_get_subject_name(cert));
  const VsbKnownCert *k = known_by_cn(cn);
  return k ? k->name : NULL;
}

/* What the reports say of one certificate, worked out once per report: the same DER is shown
 * in its variable's value and again in the Secure Boot summary (and in every old record with
 * --all). */
typedef struct {
  char *error;      /* not a certificate: vsb_cert_from_der's message, and nothing else is set */
  char *subject;
  char *issuer;
  char *cn;
  char *serial;     /* lower-case hex */
  char *not_before;
  char *not_after;
  gboolean expired;
  /* Fingerprints of the DER i2d_X509 writes back (vsb_cert_describe has always hashed that),
   * and of the DER as stored (the Secure Boot summary); the same unless the stored DER is
   * not canonical. */
  char *sha256, *sha1;
  char *stored_sha256, *stored_sha1;
} CertFacts;

static void
cert_facts_free(CertFacts *f)
{
  g_free(f->error);
  g_free(f->subject);
  g_free(f->issuer);
  g_free(f->cn);
  g_free(f->serial);
  g_free(f->not_before);
  g_free(f->not_after);
  g_free(f->sha256);
  g_free(f->sha1);
  g_free(f->stored_sha256);
  g_free(f->stored_sha1);
  g_free(f);
}

/* written: the DER i2d_X509 gives, or NULL when it failed (no fingerprints). */
static CertFacts *
cert_facts_new(const X509_NAME *subject, const X509_NAME *issuer, const ASN1_INTEGER *serial,
               const ASN1_TIME *not_before, const ASN1_TIME *not_after, GBytes *written)
{
  CertFacts *f = g_new0(CertFacts, 1);
  f->subject = vsb_x509_name_text(subject);
  f->issuer = vsb_x509_name_text(issuer);
  f->cn = name_cn(subject);
  f->not_before = asn1_time_text(not_before);
  f->not_after = asn1_time_text(not_after);
  f->expired = not_after && X509_cmp_current_time(not_after) < 0;
  if (written) {
    gsize n;
    const guint8 *d = g_bytes_get_data(written, &n);
    f->sha256 = digest_hex(G_CHECKSUM_SHA256, d, n, FALSE);
    f->sha1 = digest_hex(G_CHECKSUM_SHA1, d, n, TRUE);
  }
  f->serial = vsb_x509_serial_text(serial);
  return f;
}

static JsonNode *
cert_facts_to_json(const CertFacts *f)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  const VsbKnownCert *k = known_by_cn(f->cn);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "subject");
  json_builder_add_string_value(b, f->subject);
  json_builder_set_member_name(b, "subject-cn");
  json_builder_add_string_value(b, f->cn);
  json_builder_set_member_name(b, "issuer");
  json_builder_add_string_value(b, f->issuer);
  json_builder_set_member_name(b, "serial");
  json_builder_add_string_value(b, f->serial);
  json_builder_set_member_name(b, "not-before");
  json_builder_add_string_value(b, f->not_before);
  json_builder_set_member_name(b, "not-after");
  json_builder_add_string_value(b, f->not_after);
  json_builder_set_member_name(b, "expired");
  json_builder_add_boolean_value(b, f->expired);
  json_builder_set_member_name(b, "sha256");
  json_builder_add_string_value(b, f->sha256);
  json_builder_set_member_name(b, "known");
  if (k) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, k->id);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, k->name);
    json_builder_set_member_name(b, "fingerprint-match");
    json_builder_add_boolean_value(b, k->sha1 && f->sha1 && strcmp(k->sha1, f->sha1) == 0);
    json_builder_end_object(b);
  } else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

JsonNode *
vsb_cert_describe(X509 *cert)
{
  g_autoptr(GBytes) der = vsb_cert_to_der(cert);
  CertFacts *f = cert_facts_new(X509_get_subject_name(cert), X509_get_issuer_name(cert),
                                X509_get0_serialNumber(cert), X509_get0_notBefore(cert),
                                X509_get0_notAfter(cert), der);
  JsonNode *n = cert_facts_to_json(f);
  cert_facts_free(f);
  return n;
}

/* The certificates of one report by DER (GBytes -> CertFacts). Read with
 * vsb_cert_info_from_der, which leaves the public key alone: d2i_X509 decoding it, twice for
 * every certificate, was most of the time of `vars show`. */
static GHashTable *
cert_cache_new(void)
{
  return g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                               (GDestroyNotify)cert_facts_free);
}

static const CertFacts *
cert_facts_of(GHashTable *cache, GBytes *der)
{
  CertFacts *f = g_hash_table_lookup(cache, der);
  if (f)
    return f;
  gsize len;
  const guint8 *d = g_bytes_get_data(der, &len);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbCertInfo) info = vsb_cert_info_from_der(d, len, &error);
  if (info) {
    g_autoptr(GBytes) written = vsb_cert_info_to_der(info);
    f = cert_facts_new(vsb_cert_info_subject(info), vsb_cert_info_issuer(info),
                       vsb_cert_info_serial(info), vsb_cert_info_not_before(info),
                       vsb_cert_info_not_after(info), written);
    if (written && f->sha256 && g_bytes_equal(written, der)) {
      f->stored_sha256 = g_strdup(f->sha256);
      f->stored_sha1 = g_strdup(f->sha1);
    } else {
      f->stored_sha256 = digest_hex(G_CHECKSUM_SHA256, d, len, FALSE);
      f->stored_sha1 = digest_hex(G_CHECKSUM_SHA1, d, len, TRUE);
    }
  } else {
    f = g_new0(CertFacts, 1);
    f->error = g_strdup(error->message);
  }
  g_hash_table_insert(cache, g_bytes_ref(der), f);
  return f;
}

/* ---- variable decoding ---------------------------------------------------------------------- */

static gboolean
is_hex4(const char *s)
{
  for (int i = 0; i < 4; i++)
    if (!g_ascii_isxdigit(s[i]))
      return FALSE;
  return s[4] == '\0';
}

static JsonNode *
error_value(const char *type, const char *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", type);
  vsb_json_put_str(b, "error", msg);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
decode_bool(const guint8 *d, gsize len)
{
  if (len != 1)
    return error_value("bool", "expected 1 byte");
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "bool");
  json_builder_set_member_name(b, "value");
  json_builder_add_boolean_value(b, d[0] != 0);
  json_builder_set_member_name(b, "raw");
  json_builder_add_int_value(b, d[0]);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
decode_u16(const char *type, const guint8 *d, gsize len, gboolean as_boot)
{
  if (len != 2)
    return error_value(type, "expected 2 bytes");
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", type);
  json_builder_set_member_name(b, "value");
  if (as_boot) {
    g_autofree char *s = g_strdup_printf("Boot%04X", vsb_le16(d));
    json_builder_add_string_value(b, s);
  } else
    json_builder_add_int_value(b, vsb_le16(d));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
decode_order(const char *prefix, const guint8 *d, gsize len)
{
  if (len % 2)
    return error_value("boot-order", "odd size");
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "boot-order");
  json_builder_set_member_name(b, "value");
  json_builder_begin_array(b);
  for (gsize i = 0; i + 1 < len; i += 2) {
    g_autofree char *s = g_strdup_printf("%s%04X", prefix, vsb_le16(d + i));
    json_builder_add_string_value(b, s);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
decode_string(const guint8 *d, gsize len)
{
  gsize n = 0;
  while (n < len && d[n])
    n++;
  g_autofree char *s = g_strndup((const char *)d, n);
  if (!g_utf8_validate(s, -1, NULL))
    return error_value("string", "not ASCII text");
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "string");
  vsb_json_put_str(b, "value", s);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static JsonNode *
decode_device_path(const guint8 *d, gsize len)
{
  g_autofree char *text = vsb_device_path_to_text(d, len);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "device-path");
  vsb_json_put_str(b, "value", text);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* EFI_LOAD_OPTION: u32 Attributes, u16 FilePathListLength, Description (UCS-2, NUL),
 * FilePathList, OptionalData. */
static JsonNode *
decode_load_option(const guint8 *d, gsize len)
{
  if (len < 6 + 2)
    return error_value("boot-option", "shorter than an EFI_LOAD_OPTION");
  guint32 attrs = vsb_le32(d);
  guint16 fpl = vsb_le16(d + 4);
  gsize off = 6, end = 6;
  while (end + 1 < len && vsb_le16(d + end) != 0)
    end += 2;
  if (end + 1 >= len)
    return error_value("boot-option", "description is not NUL-terminated");
  g_autofree char *desc = ucs2_to_utf8(d + off, end - off + 2);
  off = end + 2;
  if (fpl > len - off)
    return error_value("boot-option", "FilePathListLength runs past the end");
  g_autofree char *path = vsb_device_path_to_text(d + off, fpl);
  off += fpl;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "boot-option");
  vsb_json_put_str(b, "description", desc);
  json_builder_set_member_name(b, "active");
  json_builder_add_boolean_value(b, (attrs & 1) != 0);
  json_builder_set_member_name(b, "attributes");
  json_builder_add_int_value(b, attrs);
  vsb_json_put_str(b, "device-path", path);
  if (off < len) {
    g_autofree char *hex = vsb_hex_encode(d + off, len - off);
    vsb_json_put_str(b, "optional-data", hex);
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* What names dbx entries in the report: Microsoft's list and the architecture preferred when
 * a hash is listed for several. */
typedef struct {
  const VsbDbxInfo *info;
  const char *arch;
} DbxNames;

static void
add_dbx_name(JsonBuilder *b, const VsbSigEntry *e, const DbxNames *names)
{
  const VsbDbxRecord *r = vsb_dbx_info_lookup(names->info, e->type, e->data, names->arch);
  json_builder_set_member_name(b, "dbx-info");
  if (r == NULL) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_object(b);
  vsb_json_put_str(b, "kind", r->kind);
  vsb_json_put_str(b, "filename", r->filename);
  vsb_json_put_str(b, "company", r->company);
  vsb_json_put_str(b, "arch", r->arch);
  vsb_json_put_str(b, "date", r->date);
  json_builder_end_object(b);
}

/* names: for dbx entries only (NULL otherwise). */
static void
add_sig_entry(JsonBuilder *b, const VsbSigEntry *e, GHashTable *certs, const DbxNames *names)
{
  char buf[VSB_GUID_STRING_LEN + 1];
  gsize dlen;
  const guint8 *d = g_bytes_get_data(e->data, &dlen);
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", e->type == VSB_SIG_OTHER ? vsb_guid_format(&e->type_guid, buf)
                                              : vsb_sig_type_name(e->type));
  vsb_json_put_str(b, "owner", vsb_guid_format(&e->owner, buf));
  vsb_json_put_str(b, "owner-name", vsb_guid_known_name(&e->owner));
  if (e->type == VSB_SIG_X509) {
    const CertFacts *f = cert_facts_of(certs, e->data);
    json_builder_set_member_name(b, "certificate");
    if (f->error == NULL) {
      json_builder_add_value(b, cert_facts_to_json(f));
    } else {
      json_builder_add_null_value(b);
      vsb_json_put_str(b, "error", f->error);
    }
  } else {
    g_autofree char *hex = vsb_hex_encode(d, dlen);
    vsb_json_put_str(b, "hash", hex);
  }
  if (names)
    add_dbx_name(b, e, names);
  json_builder_end_object(b);
}

static JsonNode *
decode_siglist(const guint8 *d, gsize len, GHashTable *certs, const DbxNames *names)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = vsb_siglist_parse(d, len, &error);
  if (entries == NULL)
    return error_value("signature-list", error->message);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "type", "signature-list");
  json_builder_set_member_name(b, "entries");
  json_builder_begin_array(b);
  for (guint i = 0; i < entries->len; i++)
    add_sig_entry(b, entries->pdata[i], certs, names);
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static gboolean
is_siglist_var(const VsbVariable *v)
{
  const VsbGuid *g = &v->guid;
  if (vsb_guid_equal(g, &VSB_GUID_EFI_GLOBAL_VARIABLE))
    return strcmp(v->name, "PK") == 0 || strcmp(v->name, "KEK") == 0 ||
           strcmp(v->name, "PKDefault") == 0 || strcmp(v->name, "KEKDefault") == 0 ||
           strcmp(v->name, "dbDefault") == 0 || strcmp(v->name, "dbxDefault") == 0;
  if (vsb_guid_equal(g, &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE))
    return strcmp(v->name, "db") == 0 || strcmp(v->name, "dbx") == 0 ||
           strcmp(v->name, "dbt") == 0 || strcmp(v->name, "dbr") == 0;
  if (vsb_guid_equal(g, &VSB_GUID_SHIM_LOCK))
    return g_str_has_prefix(v->name, "MokList");
  return FALSE;
}

/* names: Microsoft's list to name dbx entries with, or NULL. */
static JsonNode *
efivar_decode(const VsbVariable *v, GHashTable *certs, const DbxNames *names)
{
  gsize len;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  const char *n = v->name;
  if (is_siglist_var(v)) {
    g_autoptr(GHashTable) own = certs ? NULL : cert_cache_new();
    gboolean dbx = strcmp(v->name, "dbx") == 0 &&
                   vsb_guid_equal(&v->guid, &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE);
    return decode_siglist(d, len, certs ? certs : own, dbx && names && names->info ? names : NULL);
  }
  if ((vsb_guid_equal(&v->guid, &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE) &&
       strcmp(n, "SecureBootEnable") == 0) ||
      (vsb_guid_equal(&v->guid, &VSB_GUID_CUSTOM_MODE_ENABLE) && strcmp(n, "CustomMode") == 0) ||
      (vsb_guid_equal(&v->guid, &VSB_GUID_VENDOR_KEYS_NV) && strcmp(n, "VendorKeysNv") == 0))
    return decode_bool(d, len);
  if (!vsb_guid_equal(&v->guid, &VSB_GUID_EFI_GLOBAL_VARIABLE))
    return NULL;
  if (strcmp(n, "SecureBoot") == 0 || strcmp(n, "SetupMode") == 0 ||
      strcmp(n, "AuditMode") == 0 || strcmp(n, "DeployedMode") == 0 ||
      strcmp(n, "VendorKeys") == 0)
    return decode_bool(d, len);
  if ((g_str_has_prefix(n, "Boot") && is_hex4(n + 4)) ||
      (g_str_has_prefix(n, "Driver") && is_hex4(n + 6)) ||
      (g_str_has_prefix(n, "SysPrep") && is_hex4(n + 7)))
    return decode_load_option(d, len);
  if (strcmp(n, "BootOrder") == 0)
    return decode_order("Boot", d, len);
  if (strcmp(n, "DriverOrder") == 0)
    return decode_order("Driver", d, len);
  if (strcmp(n, "BootNext") == 0 || strcmp(n, "BootCurrent") == 0)
    return decode_u16("boot-number", d, len, TRUE);
  if (strcmp(n, "Timeout") == 0)
    return decode_u16("uint16", d, len, FALSE);
  if (strcmp(n, "Lang") == 0 || strcmp(n, "PlatformLang") == 0 || strcmp(n, "LangCodes") == 0 ||
      strcmp(n, "PlatformLangCodes") == 0)
    return decode_string(d, len);
  if (strcmp(n, "ConIn") == 0 || strcmp(n, "ConOut") == 0 || strcmp(n, "ErrOut") == 0 ||
      strcmp(n, "ConInDev") == 0 || strcmp(n, "ConOutDev") == 0 || strcmp(n, "ErrOutDev") == 0)
    return decode_device_path(d, len);
  return NULL;
}

JsonNode *
vsb_efivar_decode(const VsbVariable *v)
{
  return efivar_decode(v, NULL, NULL);
}

/* ---- Secure Boot state ------------------------------------------------------------------------ */

static void
sb_cert_free(VsbSbCert *c)
{
  g_free(c->variable);
  g_free(c->subject);
  g_free(c->subject_cn);
  g_free(c->sha256);
  g_free(c->not_after);
  g_free(c);
}

void
vsb_secure_boot_state_free(VsbSecureBootState *st)
{
  if (st == NULL)
    return;
  g_ptr_array_unref(st->certificates);
  g_ptr_array_unref(st->warnings);
  vsb_ms_state_free(st->microsoft);
  g_free(st->reason);
  g_free(st);
}

static void
warn(VsbSecureBootState *st, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
warn(VsbSecureBootState *st, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_ptr_array_add(st->warnings, g_strdup_vprintf(fmt, ap));
  va_end(ap);
}

/* Entries of a signature-list variable, or NULL (absent) with a warning when malformed. */
static GPtrArray *
sig_entries(VsbSecureBootState *st, const VsbVarstore *store, const char *name)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *e = NULL;
  if (!vsb_siglist_from_store(store, name, &e, &error))
    warn(st, "%s (the firmware will not use it as intended)", error->message);
  return e;
}

static void
collect_certs(VsbSecureBootState *st, const char *variable, GPtrArray *entries,
              GHashTable *certs)
{
  for (guint i = 0; entries && i < entries->len; i++) {
    const VsbSigEntry *e = entries->pdata[i];
    if (e->type != VSB_SIG_X509)
      continue;
    const CertFacts *f = cert_facts_of(certs, e->data);
    if (f->error) {
      warn(st, "%s entry %u is not a valid certificate: %s", variable, i, f->error);
      continue;
    }
    VsbSbCert *sc = g_new0(VsbSbCert, 1);
    sc->variable = g_strdup(variable);
    sc->subject = g_strdup(f->subject);
    sc->subject_cn = g_strdup(f->cn);
    sc->sha256 = g_strdup(f->stored_sha256);
    sc->not_after = g_strdup(f->not_after);
    sc->expired = f->expired;
    sc->known = known_by_cn(sc->subject_cn);
    if (sc->known && sc->known->sha1)
      sc->fingerprint_match = strcmp(f->stored_sha1, sc->known->sha1) == 0;
    if (sc->expired)
      warn(st, "%s: certificate \"%s\" expired on %s (the firmware ignores expiry: it still "
           "verifies with it)", variable,
           sc->subject_cn ? sc->subject_cn : sc->subject, sc->not_after ? sc->not_after : "?");
    g_ptr_array_add(st->certificates, sc);
  }
}

VsbSecureBootMode
vsb_secure_boot_mode(const VsbVarstore *store)
{
  g_autoptr(VsbSbJudgement) j = vsb_sb_judge(store);
  return j->mode;
}

static VsbSecureBootState *
secure_boot_state(const VsbVarstore *store, GHashTable *certs)
{
  VsbSecureBootState *st = g_new0(VsbSecureBootState, 1);
  st->certificates = g_ptr_array_new_with_free_func((GDestroyNotify)sb_cert_free);
  st->warnings = g_ptr_array_new_with_free_func(g_free);

  const VsbVariable *pk = vsb_varstore_lookup(store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  const VsbVariable *cm = vsb_varstore_lookup(store, "CustomMode", &VSB_GUID_CUSTOM_MODE_ENABLE);

  g_autoptr(GPtrArray) pk_e = sig_entries(st, store, "PK");
  g_autoptr(GPtrArray) kek_e = sig_entries(st, store, "KEK");
  g_autoptr(GPtrArray) db_e = sig_entries(st, store, "db");
  g_autoptr(GPtrArray) dbx_e = sig_entries(st, store, "dbx");
  st->n_pk = pk_e ? pk_e->len : 0;
  st->n_kek = kek_e ? kek_e->len : 0;
  st->n_db = db_e ? db_e->len : 0;
  st->n_dbx = dbx_e ? dbx_e->len : 0;

  g_autoptr(VsbSbJudgement) j = vsb_sb_judge(store);
  st->mode = j->mode;
  st->verdict = j->verdict;
  st->enforcing = j->verdict == VSB_SB_VERDICT_ENFORCED;
  st->secure_boot = j->secure_boot;
  st->reason = g_strdup(j->reason);
  st->custom_mode = cm && g_bytes_get_size(cm->data) >= 1 &&
                    ((const guint8 *)g_bytes_get_data(cm->data, NULL))[0] != 0;

  if (st->verdict == VSB_SB_VERDICT_UNCERTAIN)
    warn(st, "vsboot cannot be sure the firmware enforces Secure Boot: %s", j->reason);
  else if (st->mode == VSB_SB_MODE_SETUP)
    warn(st, "setup mode: %s; any code can also enroll its own keys", j->reason);
  else if (!st->enforcing)
    warn(st, "Secure Boot is off: %s", j->reason);
  if (pk && st->n_pk != 1)
    warn(st, "PK holds %u entries; it should hold exactly one certificate", st->n_pk);
  if (st->mode != VSB_SB_MODE_SETUP && st->n_db == 0)
    warn(st, "db is empty: no signed binary can boot");
  if (st->custom_mode)
    warn(st, "CustomMode is 1 (the firmware resets it to 0 at boot)");

  /* dbx: absent, empty or only the placeholder sha256 of nothing = no revocations at all. */
  static const guint8 sha256_empty[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
  };
  gboolean placeholder = TRUE;
  for (guint i = 0; dbx_e && i < dbx_e->len; i++) {
    const VsbSigEntry *e = dbx_e->pdata[i];
    gsize dl;
    const guint8 *dd = g_bytes_get_data(e->data, &dl);
    if (!(e->type == VSB_SIG_SHA256 && dl == 32 && memcmp(dd, sha256_empty, 32) == 0))
      placeholder = FALSE;
  }
  st->dbx_placeholder = placeholder;
  if (placeholder && st->mode != VSB_SB_MODE_SETUP)
    warn(st, "dbx %s: nothing is revoked (apply a dbx update such as Microsoft's dbxupdate.bin)",
         st->n_dbx ? "holds only the placeholder hash (sha256 of nothing)"
                   : (dbx_e ? "is empty" : "is missing"));

  collect_certs(st, "PK", pk_e, certs);
  collect_certs(st, "KEK", kek_e, certs);
  collect_certs(st, "db", db_e, certs);
  collect_certs(st, "dbx", dbx_e, certs);

  /* The 2023 rollover: Microsoft's CAs by exact DER, not by CN (a look-alike certificate
   * verifies nothing Microsoft signed). */
  st->microsoft = vsb_secure_boot_microsoft_state(store);
  for (guint i = 0; i < st->microsoft->warnings->len; i++)
    warn(st, "%s", (const char *)st->microsoft->warnings->pdata[i]);
  return st;
}

VsbSecureBootState *
vsb_secure_boot_state(const VsbVarstore *store)
{
  g_autoptr(GHashTable) certs = cert_cache_new();
  return secure_boot_state(store, certs);
}

gboolean
vsb_secure_boot_has_known(const VsbSecureBootState *st, const char *id, const char *variable)
{
  for (guint i = 0; i < st->certificates->len; i++) {
    const VsbSbCert *c = st->certificates->pdata[i];
    if (c->known && (id == NULL || strcmp(c->known->id, id) == 0) &&
        (variable == NULL || strcmp(c->variable, variable) == 0))
      return TRUE;
  }
  return FALSE;
}

JsonNode *
vsb_secure_boot_state_to_json(const VsbSecureBootState *st)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "mode", vsb_secure_boot_mode_name(st->mode));
  json_builder_set_member_name(b, "enforcing");
  json_builder_add_boolean_value(b, st->enforcing);
  vsb_json_put_str(b, "verdict", vsb_sb_verdict_name(st->verdict));
  json_builder_set_member_name(b, "secure-boot-variable");
  if (st->secure_boot < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_int_value(b, st->secure_boot);
  vsb_json_put_str(b, "reason", st->reason);
  json_builder_set_member_name(b, "custom-mode");
  json_builder_add_boolean_value(b, st->custom_mode);
  json_builder_set_member_name(b, "entries");
  json_builder_begin_object(b);
  const char *names[] = { "PK", "KEK", "db", "dbx" };
  guint counts[] = { st->n_pk, st->n_kek, st->n_db, st->n_dbx };
  for (int i = 0; i < 4; i++) {
    json_builder_set_member_name(b, names[i]);
    json_builder_add_int_value(b, counts[i]);
  }
  json_builder_end_object(b);
  json_builder_set_member_name(b, "dbx-placeholder");
  json_builder_add_boolean_value(b, st->dbx_placeholder);
  json_builder_set_member_name(b, "certificates");
  json_builder_begin_array(b);
  for (guint i = 0; i < st->certificates->len; i++) {
    const VsbSbCert *c = st->certificates->pdata[i];
    json_builder_begin_object(b);
    vsb_json_put_str(b, "variable", c->variable);
    vsb_json_put_str(b, "subject", c->subject);
    vsb_json_put_str(b, "subject-cn", c->subject_cn);
    vsb_json_put_str(b, "sha256", c->sha256);
    vsb_json_put_str(b, "not-after", c->not_after);
    json_builder_set_member_name(b, "expired");
    json_builder_add_boolean_value(b, c->expired);
    vsb_json_put_str(b, "known", c->known ? c->known->id : NULL);
    json_builder_set_member_name(b, "fingerprint-match");
    json_builder_add_boolean_value(b, c->fingerprint_match);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "well-known");
  json_builder_begin_array(b);
  for (guint i = 0; i < st->certificates->len; i++) {
    const VsbSbCert *c = st->certificates->pdata[i];
    if (!c->known)
      continue;
    json_builder_begin_object(b);
    vsb_json_put_str(b, "id", c->known->id);
    vsb_json_put_str(b, "name", c->known->name);
    vsb_json_put_str(b, "variable", c->variable);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "expired");
  json_builder_begin_array(b);
  for (guint i = 0; i < st->certificates->len; i++) {
    const VsbSbCert *c = st->certificates->pdata[i];
    if (c->expired)
      json_builder_add_string_value(b, c->subject_cn ? c->subject_cn : c->subject);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "microsoft");
  json_builder_add_value(b, vsb_ms_state_to_json(st->microsoft));
  json_builder_set_member_name(b, "microsoft-2011-without-successor");
  json_builder_add_boolean_value(b, st->microsoft->missing_successor);
  vsb_json_put_strings(b, "warnings", st->warnings);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* ---- the report -------------------------------------------------------------------------------- */

static void
add_variable(JsonBuilder *b, const VsbVariable *v, gboolean live, GHashTable *certs,
             const DbxNames *names)
{
  char buf[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  vsb_json_put_str(b, "name", v->name);
  vsb_json_put_str(b, "guid", vsb_guid_format(&v->guid, buf));
  vsb_json_put_str(b, "guid-name", vsb_guid_known_name(&v->guid));
  json_builder_set_member_name(b, "attributes");
  json_builder_add_value(b, vsb_efivar_attributes_json(v->attributes));
  json_builder_set_member_name(b, "size");
  json_builder_add_int_value(b, (gint64)g_bytes_get_size(v->data));
  g_autofree char *ts = vsb_efi_time_to_string(&v->timestamp);
  vsb_json_put_str(b, "timestamp", ts);
  vsb_json_put_str(b, "state", vsb_variable_state_name(v->state));
  json_builder_set_member_name(b, "live");
  json_builder_add_boolean_value(b, live);
  json_builder_set_member_name(b, "offset");
  if (v->offset)
    json_builder_add_int_value(b, (gint64)v->offset);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "value");
  JsonNode *val = efivar_decode(v, certs, names);
  if (val)
    json_builder_add_value(b, val);
  else
    json_builder_add_null_value(b);
  if (val == NULL) {
    /* Unknown type: the first bytes, enough to recognise it. */
    gsize len;
    const guint8 *d = g_bytes_get_data(v->data, &len);
    g_autofree char *hex = vsb_hex_encode(d, MIN(len, (gsize)32));
    vsb_json_put_str(b, "data-head", hex);
  }
  json_builder_end_object(b);
}

/* The dbx explained by Microsoft's list. Only the report reads the list: the Secure Boot state
 * serves audit and pe verify, which need none of it. Without the list, the report still says
 * how many entries there are and why nothing more. */
static JsonNode *
dbx_report(const VsbVarstore *store, VsbSecureBootState *st, const VsbDbxInfo *info,
           const GError *error)
{
  if (info) {
    g_autoptr(VsbDbxExplanation) ex = vsb_dbx_explain(info, store);
    /* A placeholder dbx already has its warning (nothing is revoked). */
    if (ex->arch && ex->missing && !st->dbx_placeholder)
      warn(st, "dbx is older than Microsoft's latest list: it lacks %u of "
           "the %u %s entries of dbx_info_msft_latest.json (apply Microsoft's current dbx update "
           "for %s)", ex->missing, ex->latest, ex->arch, ex->arch);
    return vsb_dbx_explanation_to_json(ex);
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "entries");
  json_builder_add_int_value(b, st->n_dbx);
  vsb_json_put_str(b, "error", error->message);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

JsonNode *
vsb_varstore_report(const VsbVarstore *store, gboolean all_records)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(GHashTable) certs = cert_cache_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbDbxInfo) info = vsb_dbx_info_load(NULL, &error);
  DbxNames names = { info, vsb_dbx_arch_for_layout(vsb_varstore_get_layout(store)) };
  json_builder_begin_object(b);
  vsb_json_put_str(b, "file", vsb_varstore_get_origin(store));
  vsb_json_put_str(b, "layout", vsb_varstore_layout_name(vsb_varstore_get_layout(store)));
  vsb_json_put_str(b, "format", vsb_varstore_get_format(store));
  json_builder_set_member_name(b, "authenticated");
  json_builder_add_boolean_value(b, vsb_varstore_is_authenticated(store));
  json_builder_set_member_name(b, "file-size");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_file_size(store));
  json_builder_set_member_name(b, "volume-offset");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_volume_offset(store));
  json_builder_set_member_name(b, "capacity");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_capacity(store));
  json_builder_set_member_name(b, "used");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_used(store));
  json_builder_set_member_name(b, "free-offset");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_free_offset(store));
  json_builder_set_member_name(b, "records");
  json_builder_add_int_value(b, vsb_varstore_get_records(store)->len);
  json_builder_set_member_name(b, "store-warnings");
  json_builder_begin_array(b);
  for (const char *const *w = vsb_varstore_get_warnings(store); *w; w++)
    json_builder_add_string_value(b, *w);
  json_builder_end_array(b);

  json_builder_set_member_name(b, "variables");
  json_builder_begin_array(b);
  if (all_records) {
    GPtrArray *recs = vsb_varstore_get_records(store);
    GPtrArray *live = vsb_varstore_get_variables(store);
    g_autoptr(GHashTable) live_offsets = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < live->len; i++) {
      const VsbVariable *v = live->pdata[i];
      if (v->offset)
        g_hash_table_add(live_offsets, GSIZE_TO_POINTER(v->offset));
    }
    for (guint i = 0; i < recs->len; i++) {
      const VsbVariable *r = recs->pdata[i];
      add_variable(b, r, g_hash_table_contains(live_offsets, GSIZE_TO_POINTER(r->offset)),
                   certs, &names);
    }
    /* Variables added in memory since loading have no record yet. */
    GPtrArray *vars = vsb_varstore_get_variables(store);
    for (guint i = 0; i < vars->len; i++) {
      const VsbVariable *v = vars->pdata[i];
      if (v->offset == 0)
        add_variable(b, v, TRUE, certs, &names);
    }
  } else {
    GPtrArray *vars = vsb_varstore_get_variables(store);
    for (guint i = 0; i < vars->len; i++)
      add_variable(b, vars->pdata[i], TRUE, certs, &names);
  }
  json_builder_end_array(b);

  g_autoptr(VsbSecureBootState) st = secure_boot_state(store, certs);
  JsonNode *dbx = dbx_report(store, st, info, error); /* first: it may add a warning */
  JsonNode *sb = vsb_secure_boot_state_to_json(st);
  json_object_set_member(json_node_get_object(sb), "dbx", dbx);
  json_builder_set_member_name(b, "secure-boot");
  json_builder_add_value(b, sb);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
