/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Offline Secure Boot enrollment with virt-fw-vars' semantics (virt/firmware/efi/efivar.py,
 * siglist.py): raw signature lists, forward-only time stamps, fixed attributes. */
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "certificate-ossl.h"
#include "certificate-ossl.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/mscerts.h"
#include "mscerts-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "util/le.h"
#include "util/timetext.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <string.h>

#define ESL_HEADER_SIZE 28u
#define SHA256_SIG_SIZE (16u + 32u)

struct _VsbEnroll {
  VsbVarstore *store;
  VsbEfiTime now;
  GPtrArray *changes; /* VsbEnrollChange* */
  /* DER (GBytes) -> notBefore (VsbEfiTime*): decoding a certificate is the costly part of an
   * enrollment (OpenSSL 3 decodes the public key through its provider framework). */
  GHashTable *not_before;
};

static const char *const sb_names[] = { "PK", "KEK", "db", "dbx" };

const char *
vsb_sb_variable_name(VsbSbVariable var)
{
  return (unsigned)var < G_N_ELEMENTS(sb_names) ? sb_names[var] : "?";
}

const VsbGuid *
vsb_sb_variable_guid(VsbSbVariable var)
{
  return (var == VSB_SB_PK || var == VSB_SB_KEK) ? &VSB_GUID_EFI_GLOBAL_VARIABLE
                                                 : &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
}

const VsbGuid *
vsb_sb_known_guid(const char *name)
{
  static const struct {
    const char *name;
    const VsbGuid *guid;
  } known[] = {
    { "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE },
    { "KEK", &VSB_GUID_EFI_GLOBAL_VARIABLE },
    { "db", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE },
    { "dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE },
    { "dbt", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE },
    { "dbr", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE },
    { "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE },
    { "CustomMode", &VSB_GUID_CUSTOM_MODE_ENABLE },
    { "VendorKeysNv", &VSB_GUID_VENDOR_KEYS_NV },
    { "certdb", &VSB_GUID_CERT_DB },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
    if (g_strcmp0(known[i].name, name) == 0)
      return known[i].guid;
  return NULL;
}

/* ---- time ---- */

static const VsbEfiTime initial_time = { .year = 2010, .month = 1, .day = 1 };

gboolean
vsb_efi_time_from_asn1(const ASN1_TIME *t, VsbEfiTime *out)
{
  struct tm tm;
  memset(out, 0, sizeof *out);
  if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
    return FALSE;
  out->year = (guint16)(tm.tm_year + 1900);
  out->month = (guint8)(tm.tm_mon + 1);
  out->day = (guint8)tm.tm_mday;
  out->hour = (guint8)tm.tm_hour;
  out->minute = (guint8)tm.tm_min;
  out->second = (guint8)tm.tm_sec;
  return TRUE;
}

int
vsb_efi_time_compare(const VsbEfiTime *a, const VsbEfiTime *b)
{
#define CMP(f)                                                                                     \
  if (a->f != b->f)                                                                                \
    return a->f < b->f ? -1 : 1;
  CMP(year) CMP(month) CMP(day) CMP(hour) CMP(minute) CMP(second) CMP(nanosecond)
#undef CMP
  return 0;
}

/* virt-fw-vars' update_time: only time-authenticated variables carry one, and it only moves
 * forward. */
static void
time_forward(VsbVariable *var, const VsbEfiTime *ts)
{
  if (!(var->attributes & VSB_EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS))
    return;
  if (vsb_efi_time_is_zero(&var->timestamp) || vsb_efi_time_compare(&var->timestamp, ts) < 0) {
    var->timestamp = *ts;
    /* Written as virt-fw-vars writes EFI_TIME: no zone, no daylight flags. */
    var->timestamp.timezone = 0;
    var->timestamp.daylight = 0;
    var->timestamp.pad1 = 0;
    var->timestamp.pad2 = 0;
  }
}

/* ---- editor ---- */

static void
change_free(gpointer p)
{
  VsbEnrollChange *c = p;
  g_free(c->action);
  g_free(c->variable);
  g_free(c->detail);
  g_free(c);
}

static void
record(VsbEnroll *e, const char *action, const char *variable, const VsbGuid *guid,
       const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void
record(VsbEnroll *e, const char *action, const char *variable, const VsbGuid *guid,
       const char *fmt, ...)
{
  VsbEnrollChange *c = g_new0(VsbEnrollChange, 1);
  c->action = g_strdup(action);
  c->variable = g_strdup(variable);
  c->guid = *guid;
  va_list ap;
  va_start(ap, fmt);
  c->detail = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_ptr_array_add(e->changes, c);
}

VsbEnroll *
vsb_enroll_new(VsbVarstore *store)
{
  VsbEnroll *e = g_new0(VsbEnroll, 1);
  e->store = store;
  e->changes = g_ptr_array_new_with_free_func(change_free);
  e->not_before = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                        (GDestroyNotify)g_bytes_unref, g_free);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  e->now.year = (guint16)g_date_time_get_year(now);
  e->now.month = (guint8)g_date_time_get_month(now);
  e->now.day = (guint8)g_date_time_get_day_of_month(now);
  e->now.hour = (guint8)g_date_time_get_hour(now);
  e->now.minute = (guint8)g_date_time_get_minute(now);
  e->now.second = (guint8)g_date_time_get_second(now);
  e->now.nanosecond = (guint32)g_date_time_get_microsecond(now) * 1000u;
  return e;
}

void
vsb_enroll_free(VsbEnroll *e)
{
  if (e == NULL)
    return;
  g_ptr_array_unref(e->changes);
  g_hash_table_unref(e->not_before);
  g_free(e);
}

void
vsb_enroll_set_now(VsbEnroll *e, const VsbEfiTime *now)
{
  e->now = *now;
}

GPtrArray *
vsb_enroll_get_changes(const VsbEnroll *e)
{
  return e->changes;
}

/* ---- helpers over signature-list data ---- */

/* A copy of the live variable (name, guid) to edit, or a new empty one with attrs. The data of
 * an existing signature database is checked first so that a broken one is reported, not
 * extended. */
static VsbVariable *
var_for_edit(VsbEnroll *e, const char *name, const VsbGuid *guid, guint32 attrs,
             gboolean sigdb, GError **error)
{
  const VsbVariable *old = vsb_varstore_lookup(e->store, name, guid);
  if (old == NULL)
    return vsb_variable_new(name, guid, attrs, NULL, 0);
  if (sigdb) {
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(old->data, &len);
    g_autoptr(GError) local = NULL;
    g_autoptr(GPtrArray) entries = vsb_siglist_parse(data, len, &local);
    if (entries == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "existing variable %s in %s is not a valid signature database: %s", name,
                  vsb_varstore_get_origin(e->store), local->message);
      return NULL;
    }
  }
  return vsb_variable_copy(old);
}

static GBytes *
append_bytes(GBytes *a, GBytes *b)
{
  gsize alen = 0, blen = 0;
  const guint8 *ad = g_bytes_get_data(a, &alen);
  const guint8 *bd = g_bytes_get_data(b, &blen);
  guint8 *buf = g_malloc(alen + blen + 1);
  if (alen)
    memcpy(buf, ad, alen);
  if (blen)
    memcpy(buf + alen, bd, blen);
  return g_bytes_new_take(buf, alen + blen);
}

/* Remember the notBefore of a certificate already decoded. */
static void
remember_not_before(VsbEnroll *e, GBytes *der, X509 *cert)
{
  VsbEfiTime nb;
  if (vsb_efi_time_from_asn1(X509_get0_notBefore(cert), &nb))
    g_hash_table_replace(e->not_before, g_bytes_ref(der), g_memdup2(&nb, sizeof nb));
}

/* The latest notBefore of the X.509 entries in data (zero when there is none). */
/* A variable's signature entries (VsbSigEntry*); none when its data does not parse. */
static GPtrArray *
entries_of(GBytes *data)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(data, &len);
  GPtrArray *entries = vsb_siglist_parse(p, len, NULL);
  return entries ? entries : g_ptr_array_new();
}

static VsbEfiTime
latest_not_before(VsbEnroll *e, GBytes *data)
{
  VsbEfiTime latest = { 0 };
  g_autoptr(GPtrArray) entries = entries_of(data);
  for (guint i = 0; i < entries->len; i++) {
    VsbSigEntry *en = entries->pdata[i];
    if (en->type != VSB_SIG_X509)
      continue;
    const VsbEfiTime *known = g_hash_table_lookup(e->not_before, en->data);
    if (known == NULL) {
      gsize dlen = 0;
      const guint8 *der = g_bytes_get_data(en->data, &dlen);
      X509 *cert = vsb_cert_from_der(der, dlen, NULL);
      if (cert)
        remember_not_before(e, en->data, cert);
      X509_free(cert);
      known = g_hash_table_lookup(e->not_before, en->data);
    }
    if (known && (vsb_efi_time_is_zero(&latest) || vsb_efi_time_compare(&latest, known) < 0))
      latest = *known;
  }
  return latest;
}

static gboolean
has_entry(GBytes *data, VsbSigType type, GBytes *sig)
{
  g_autoptr(GPtrArray) entries = entries_of(data);
  for (guint i = 0; i < entries->len; i++) {
    VsbSigEntry *en = entries->pdata[i];
    if (en->type == type && g_bytes_equal(en->data, sig))
      return TRUE;
  }
  return FALSE;
}

/* One EFI_SIGNATURE_LIST holding one entry. */
static GBytes *
single_list(VsbSigType type, const VsbGuid *owner, GBytes *sig)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(sig, &len);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(
    (GDestroyNotify)vsb_sig_entry_free);
  g_ptr_array_add(entries, vsb_sig_entry_new(type, owner, p, len));
  return vsb_siglist_build(entries);
}

/* data with one more SHA-256 entry: inside the first SHA-256 list (SignatureSize 48), or in a
 * new list at the end, as virt-fw-vars' get_siglist does. data was validated already. */
static GBytes *
add_sha256_entry(GBytes *data, const VsbGuid *owner, const guint8 hash[32])
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(data, &len);
  gsize off = 0;
  while (off + ESL_HEADER_SIZE <= len) {
    guint32 list_size = vsb_le32(p + off + 16);
    guint32 header_size = vsb_le32(p + off + 20);
    guint32 sig_size = vsb_le32(p + off + 24);
    if (list_size < ESL_HEADER_SIZE || list_size > len - off)
      break; /* not reached for validated data */
    VsbGuid type;
    memcpy(type.b, p + off, 16);
    if (vsb_guid_equal(&type, &VSB_GUID_EFI_CERT_SHA256) && sig_size == SHA256_SIG_SIZE &&
        list_size <= G_MAXUINT32 - SHA256_SIG_SIZE) {
      gsize end = off + list_size;
      guint8 *buf = g_malloc(len + SHA256_SIG_SIZE);
      memcpy(buf, p, end);
      memcpy(buf + end, owner->b, 16);
      memcpy(buf + end + 16, hash, 32);
      memcpy(buf + end + SHA256_SIG_SIZE, p + end, len - end);
      vsb_put_le32(buf + off + 16, list_size + SHA256_SIG_SIZE);
      (void)header_size;
      return g_bytes_new_take(buf, len + SHA256_SIG_SIZE);
    }
    off += list_size;
  }
  g_autoptr(GBytes) sig = g_bytes_new(hash, 32);
  g_autoptr(GBytes) list = single_list(VSB_SIG_SHA256, owner, sig);
  return append_bytes(data, list);
}

/* ---- operations ---- */

static gboolean
check_var(VsbSbVariable var, gboolean allow_pk, GError **error)
{
  if ((unsigned)var > VSB_SB_DBX || (!allow_pk && var == VSB_SB_PK)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "cannot add entries to %s this way",
                vsb_sb_variable_name(var));
    return FALSE;
  }
  return TRUE;
}

/* which's variable (a signature database), copied for adding sig of type, what naming it in the
 * record; NULL when it already holds sig (recorded as skipped, *present set) or on error. */
static VsbVariable *
sigdb_for_add(VsbEnroll *e, VsbSbVariable which, VsbSigType type, GBytes *sig, const char *what,
              gboolean *present, GError **error)
{
  const char *name = vsb_sb_variable_name(which);
  const VsbGuid *guid = vsb_sb_variable_guid(which);
  *present = FALSE;
  g_autoptr(VsbVariable) var = var_for_edit(e, name, guid, VSB_SB_AUTH_ATTRIBUTES, TRUE, error);
  if (var && has_entry(var->data, type, sig)) {
    record(e, "skip", name, guid, "%s (already present)", what);
    *present = TRUE;
    return NULL;
  }
  return g_steal_pointer(&var);
}

gboolean
vsb_enroll_set_pk(VsbEnroll *e, X509 *cert, const VsbGuid *owner, GError **error)
{
  const char *name = "PK";
  const VsbGuid *guid = &VSB_GUID_EFI_GLOBAL_VARIABLE;
  g_autoptr(VsbVariable) var = var_for_edit(e, name, guid, VSB_SB_AUTH_ATTRIBUTES, FALSE, error);
  if (var == NULL)
    return FALSE;
  gboolean existed = vsb_varstore_lookup(e->store, name, guid) != NULL;
  g_autoptr(GBytes) der = vsb_cert_to_der(cert);
  remember_not_before(e, der, cert);
  g_autoptr(GBytes) list = single_list(VSB_SIG_X509, owner, der);
  g_bytes_unref(var->data);
  var->data = g_steal_pointer(&list);
  /* sigdb_clear then sigdb_add_cert. */
  time_forward(var, &initial_time);
  VsbEfiTime nb = latest_not_before(e, var->data);
  if (!vsb_efi_time_is_zero(&nb))
    time_forward(var, &nb);
  g_autofree char *subject = vsb_x509_subject(cert);
  char og[VSB_GUID_STRING_LEN + 1];
  record(e, existed ? "replace" : "set", name, guid, "%s (owner %s)", subject,
         vsb_guid_format(owner, og));
  vsb_varstore_set(e->store, g_steal_pointer(&var));
  return TRUE;
}

gboolean
vsb_enroll_add_cert(VsbEnroll *e, VsbSbVariable which, X509 *cert, const VsbGuid *owner,
                    GError **error)
{
  if (!check_var(which, FALSE, error))
    return FALSE;
  g_autoptr(GBytes) der = vsb_cert_to_der(cert);
  g_autofree char *subject = vsb_x509_subject(cert);
  gboolean present;
  g_autoptr(VsbVariable) var = sigdb_for_add(e, which, VSB_SIG_X509, der, subject, &present,
                                             error);
  if (var == NULL)
    return present;
  remember_not_before(e, der, cert);
  g_autoptr(GBytes) list = single_list(VSB_SIG_X509, owner, der);
  GBytes *data = append_bytes(var->data, list);
  g_bytes_unref(var->data);
  var->data = data;
  VsbEfiTime nb = latest_not_before(e, var->data);
  if (!vsb_efi_time_is_zero(&nb))
    time_forward(var, &nb);
  char og[VSB_GUID_STRING_LEN + 1];
  record(e, "add", var->name, &var->guid, "%s (owner %s)", subject, vsb_guid_format(owner, og));
  vsb_varstore_set(e->store, g_steal_pointer(&var));
  return TRUE;
}

gboolean
vsb_enroll_add_microsoft(VsbEnroll *e, guint set, GError **error)
{
  /* Every certificate is loaded (and its fingerprint checked) before the first is added, so
   * a missing or altered data file leaves the store untouched. */
  X509 *certs[VSB_MS_N_CERTS] = { NULL };
  gboolean ok = TRUE;
  for (int id = 0; id < VSB_MS_N_CERTS && ok; id++)
    if (set & (1u << id))
      ok = (certs[id] = vsb_ms_cert_load((VsbMsCertId)id, error)) != NULL;
  for (int pass = 0; pass < 2 && ok; pass++) {
    VsbSbVariable want = pass == 0 ? VSB_SB_KEK : VSB_SB_DB;
    for (int id = 0; id < VSB_MS_N_CERTS && ok; id++)
      if (certs[id] && vsb_ms_cert((VsbMsCertId)id)->variable == want)
        ok = vsb_enroll_add_cert(e, want, certs[id], vsb_ms_owner_guid(), error);
  }
  for (int id = 0; id < VSB_MS_N_CERTS; id++)
    X509_free(certs[id]);
  return ok;
}

gboolean
vsb_enroll_add_hash(VsbEnroll *e, VsbSbVariable which, const guint8 sha256[32],
                    const VsbGuid *owner, GError **error)
{
  if (which != VSB_SB_DB && which != VSB_SB_DBX) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "hashes go into db or dbx, not %s",
                vsb_sb_variable_name(which));
    return FALSE;
  }
  g_autofree char *hex = vsb_hex_encode(sha256, 32);
  g_autofree char *what = g_strdup_printf("sha256 %s", hex);
  g_autoptr(GBytes) sig = g_bytes_new(sha256, 32);
  gboolean present;
  g_autoptr(VsbVariable) var = sigdb_for_add(e, which, VSB_SIG_SHA256, sig, what, &present, error);
  if (var == NULL)
    return present;
  GBytes *data = add_sha256_entry(var->data, owner, sha256);
  g_bytes_unref(var->data);
  var->data = data;
  time_forward(var, &e->now);
  char og[VSB_GUID_STRING_LEN + 1];
  record(e, "add", var->name, &var->guid, "%s (owner %s)", what, vsb_guid_format(owner, og));
  vsb_varstore_set(e->store, g_steal_pointer(&var));
  return TRUE;
}

gboolean
vsb_enroll_apply_dbx_update(VsbEnroll *e, const guint8 *data, gsize len, const char *origin,
                            GError **error)
{
  /* vsb_auth2_parse insists on WIN_CERT_TYPE_EFI_GUID with EFI_CERT_TYPE_PKCS7_GUID. */
  g_autoptr(GError) local = NULL;
  g_autoptr(VsbAuth2) auth = vsb_auth2_parse(data, len, &local);
  if (auth == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s", origin, local->message);
    return FALSE;
  }
  gsize plen = 0;
  const guint8 *payload = auth->payload ? g_bytes_get_data(auth->payload, &plen) : NULL;
  if (plen == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: the update holds no signature lists after its signature", origin);
    return FALSE;
  }
  g_autoptr(GPtrArray) entries = vsb_siglist_parse(payload, plen, &local);
  if (entries == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: payload at offset %" G_GSIZE_FORMAT
                ": %s", origin, len - plen, local->message);
    return FALSE;
  }

  VsbEfiTime ts;
  vsb_efi_time_read(auth->timestamp, &ts);
  /* virt-fw-vars keeps microseconds and drops zone and daylight. */
  ts.nanosecond = ts.nanosecond / 1000u * 1000u;
  ts.pad1 = ts.daylight = ts.pad2 = 0;
  ts.timezone = 0;
  if (ts.year != 0 && (ts.month < 1 || ts.month > 12 || ts.day < 1 || ts.day > 31 ||
                       ts.hour > 23 || ts.minute > 59 || ts.second > 59 ||
                       ts.nanosecond > 999999999u)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: offset 0: the time stamp %u-%u-%u %u:%u:%u is not a valid EFI_TIME", origin,
                ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second);
    return FALSE;
  }

  const char *name = "dbx";
  const VsbGuid *guid = &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
  gboolean existed = vsb_varstore_lookup(e->store, name, guid) != NULL;
  VsbVariable *var = vsb_variable_new(name, guid, VSB_SB_AUTH_ATTRIBUTES, payload, plen);
  if (ts.year != 0)
    var->timestamp = ts;
  g_autofree char *when = vsb_efi_time_to_string(&var->timestamp);
  record(e, existed ? "replace" : "set", name, guid,
         "%u entries from the signed update %s (time stamp %s)", entries->len, origin,
         when ? when : "none");
  vsb_varstore_set(e->store, var);
  return TRUE;
}

gboolean
vsb_enroll_copy(VsbEnroll *e, const VsbVarstore *from, const char *name, gboolean required,
                GError **error)
{
  const VsbGuid *guid = vsb_sb_known_guid(name);
  const VsbVariable *src = vsb_varstore_lookup(from, name, guid);
  if (src == NULL) {
    if (required) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND, "%s has no variable %s to copy",
                  vsb_varstore_get_origin(from), name);
      return FALSE;
    }
    record(e, "skip", name, guid ? guid : &VSB_GUID_EFI_GLOBAL_VARIABLE, "not in %s",
           vsb_varstore_get_origin(from));
    return TRUE;
  }
  gboolean existed = vsb_varstore_lookup(e->store, name, &src->guid) != NULL;
  VsbVariable *copy = vsb_variable_copy(src);
  copy->offset = 0;
  record(e, "copy", name, &src->guid, "%" G_GSIZE_FORMAT " bytes from %s%s",
         g_bytes_get_size(src->data), vsb_varstore_get_origin(from),
         existed ? ", replacing ours" : "");
  vsb_varstore_set(e->store, copy);
  return TRUE;
}

gboolean
vsb_enroll_delete(VsbEnroll *e, const char *name, GError **error)
{
  const VsbVariable *v = vsb_varstore_lookup(e->store, name, NULL);
  if (v == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND, "%s has no variable %s to delete",
                vsb_varstore_get_origin(e->store), name);
    return FALSE;
  }
  VsbGuid guid = v->guid;
  vsb_varstore_delete(e->store, name, NULL);
  record(e, "delete", name, &guid, "deleted");
  return TRUE;
}

static void
set_bool(VsbEnroll *e, const char *name, const VsbGuid *guid, gboolean value)
{
  const VsbVariable *old = vsb_varstore_lookup(e->store, name, guid);
  guint8 byte = value ? 1 : 0;
  VsbVariable *var;
  if (old) {
    var = vsb_variable_copy(old);
    g_bytes_unref(var->data);
    var->data = g_bytes_new(&byte, 1);
  } else {
    var = vsb_variable_new(name, guid, VSB_SB_BOOL_ATTRIBUTES, &byte, 1);
  }
  time_forward(var, &e->now);
  record(e, old ? "set" : "create", name, guid, "%u", byte);
  vsb_varstore_set(e->store, var);
}

gboolean
vsb_enroll_set_secure_boot(VsbEnroll *e, gboolean on, GError **error)
{
  if (!on) {
    set_bool(e, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE, FALSE);
    return TRUE;
  }
  const VsbGuid *dbx_guid = &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE;
  if (vsb_varstore_lookup(e->store, "dbx", dbx_guid) == NULL) {
    /* add_dummy_dbx: sha256("") with the OvmfEnrollDefaultKeys owner, as EnrollDefaultKeys. */
    guint8 empty_hash[32];
    unsigned int n = 0;
    EVP_Digest("", 0, empty_hash, &n, EVP_sha256(), NULL);
    g_autoptr(GBytes) sig = g_bytes_new(empty_hash, sizeof empty_hash);
    g_autoptr(GBytes) list = single_list(VSB_SIG_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, sig);
    gsize len = 0;
    const guint8 *p = g_bytes_get_data(list, &len);
    VsbVariable *var = vsb_variable_new("dbx", dbx_guid, VSB_SB_AUTH_ATTRIBUTES, p, len);
    time_forward(var, &initial_time);
    record(e, "create", "dbx", dbx_guid, "placeholder: sha256 of the empty string");
    vsb_varstore_set(e->store, var);
  }
  set_bool(e, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE, TRUE);
  set_bool(e, "CustomMode", &VSB_GUID_CUSTOM_MODE_ENABLE, FALSE);
  (void)error;
  return TRUE;
}

/* ---- the fixed order ---- */

static gboolean
add_certs(VsbEnroll *e, VsbSbVariable var, GPtrArray *certs, const VsbGuid *owner,
          GError **error)
{
  for (guint i = 0; certs && i < certs->len; i++)
    if (!vsb_enroll_add_cert(e, var, certs->pdata[i], owner, error))
      return FALSE;
  return TRUE;
}

static gboolean
add_hashes(VsbEnroll *e, VsbSbVariable var, GArray *hashes, const VsbGuid *owner,
           GError **error)
{
  for (guint i = 0; hashes && i < hashes->len; i++)
    if (!vsb_enroll_add_hash(e, var, (const guint8 *)hashes->data + (gsize)i * 32, owner, error))
      return FALSE;
  return TRUE;
}

/* Deleting and copying come first: they start from what the caller wants kept. */
static gboolean
apply_delete_copy(VsbEnroll *e, const VsbEnrollSteps *s, GError **error)
{
  for (const char *const *d = s->delete_names; d && *d; d++)
    if (!vsb_enroll_delete(e, *d, error))
      return FALSE;
  if (s->copy_from == NULL)
    return TRUE;
  static const char *const defaults[] = { "KEK", "db", "dbx", NULL };
  const char *const *names = s->copy_names ? s->copy_names : defaults;
  for (const char *const *n = names; *n; n++)
    if (!vsb_enroll_copy(e, s->copy_from, *n, s->copy_names != NULL, error))
      return FALSE;
  return TRUE;
}

gboolean
vsb_enroll_apply(VsbEnroll *e, const VsbEnrollSteps *s, GError **error)
{
  static const VsbGuid zero;
  const VsbGuid *owner = s->owner ? s->owner : &zero;
  if (!apply_delete_copy(e, s, error))
    return FALSE;
  if (s->pk && !vsb_enroll_set_pk(e, s->pk, owner, error))
    return FALSE;
  if (s->microsoft && !vsb_enroll_add_microsoft(e, s->microsoft, error))
    return FALSE;
  if (!add_certs(e, VSB_SB_KEK, s->kek, owner, error) ||
      !add_certs(e, VSB_SB_DB, s->db, owner, error) ||
      !add_hashes(e, VSB_SB_DB, s->db_hashes, owner, error))
    return FALSE;
  if (s->updates && !s->updates(e->store, s->updates_data, error))
    return FALSE;
  if (!add_certs(e, VSB_SB_DBX, s->dbx, owner, error) ||
      !add_hashes(e, VSB_SB_DBX, s->dbx_hashes, owner, error))
    return FALSE;
  return s->secure_boot < 0 || vsb_enroll_set_secure_boot(e, s->secure_boot != 0, error);
}

/* ---- checks ---- */

#define AUTH_VARIABLE_HEADER_SIZE 60u

GPtrArray *
vsb_enroll_check(const VsbEnroll *e)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  const VsbVariable *pk = vsb_varstore_lookup(e->store, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE);
  const VsbVariable *sbe =
    vsb_varstore_lookup(e->store, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  gboolean sbe_on = sbe && g_bytes_get_size(sbe->data) >= 1 &&
                    ((const guint8 *)g_bytes_get_data(sbe->data, NULL))[0] != 0;
  if (pk == NULL && sbe_on)
    g_ptr_array_add(out, g_strdup("SecureBootEnable is 1 but there is no PK: the firmware is in "
                                  "setup mode and verifies nothing; enroll a PK"));
  if (pk) {
    g_autoptr(GPtrArray) entries = vsb_siglist_parse(g_bytes_get_data(pk->data, NULL),
                                                     g_bytes_get_size(pk->data), NULL);
    if (entries == NULL || entries->len != 1 ||
        ((VsbSigEntry *)entries->pdata[0])->type != VSB_SIG_X509)
      g_ptr_array_add(out, g_strdup("PK should hold exactly one X.509 certificate"));
  }

  gsize limit = 0;
  const char *build = NULL;
  switch (vsb_varstore_get_layout(e->store)) {
  case VSB_VARSTORE_LAYOUT_OVMF_2M: limit = 0x2800; build = "OVMF 2M"; break;
  case VSB_VARSTORE_LAYOUT_OVMF_4M: limit = 0x8400; build = "OVMF 4M"; break;
  default: break;
  }
  GPtrArray *vars = vsb_varstore_get_variables(e->store);
  for (guint i = 0; limit && i < vars->len; i++) {
    const VsbVariable *v = vars->pdata[i];
    if (!(v->attributes & VSB_EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS))
      continue;
    glong units = g_utf8_strlen(v->name, -1);
    gsize size = AUTH_VARIABLE_HEADER_SIZE + ((gsize)units + 1) * 2 + g_bytes_get_size(v->data);
    if (size > limit)
      g_ptr_array_add(out, g_strdup_printf(
        "%s is %" G_GSIZE_FORMAT " bytes with its header; %s builds accept at most %" G_GSIZE_FORMAT
        " (PcdMaxAuthVariableSize), so the firmware will refuse any signed update of it; use "
        "the 4M layout", v->name, size, build, limit));
  }
  return out;
}

/* The public forms of the two above, for callers that hold certificates as handles. */
gboolean
vsb_enroll_set_pk_certificate(VsbEnroll *enroll, const VsbCertificate *cert,
                              const VsbGuid *owner, GError **error)
{
  return vsb_enroll_set_pk(enroll, vsb_certificate_get_x509(cert), owner, error);
}

gboolean
vsb_enroll_add_certificate(VsbEnroll *enroll, VsbSbVariable var, const VsbCertificate *cert,
                           const VsbGuid *owner, GError **error)
{
  return vsb_enroll_add_cert(enroll, var, vsb_certificate_get_x509(cert), owner, error);
}
