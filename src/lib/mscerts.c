/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Microsoft's Secure Boot certificates and dbx description (mscerts.h). */
#include "vsboot/mscerts.h"
#include "mscerts-ossl.h"
#include "siglist-ossl.h"
#include "util/jsonb.h"
#include "vsboot/error.h"
#include "filecache.h"
#include "fileio.h"
#include "json.h"

#include "data/vsb-data-config.h"

#include <string.h>
#include <sys/stat.h>

#define BIT(id) (1u << (id))

/* The SHA-256 values are those of the files Microsoft publishes in microsoft/secureboot_objects
 * (the copies shipped in data/microsoft); the TBS hashes were computed from the same files,
 * and the test microsoft-data recomputes both from the shipped copies. */
static const VsbMsCert ms_certs[VSB_MS_N_CERTS] = {
  { VSB_MS_KEK_2011, "kek-2011", "Microsoft Corporation KEK CA 2011",
    "microsoft-corporation-kek-ca-2011.der", VSB_SB_KEK,
    "a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503",
    "2bcb1c28e5337cbdf3e0b613b89d6a624c94e982fa0fc5d9889be7ee568e30be", "2026-06-24",
    BIT(VSB_MS_KEK_2023) },
  { VSB_MS_KEK_2023, "kek-2023", "Microsoft Corporation KEK 2K CA 2023",
    "microsoft-corporation-kek-2k-ca-2023.der", VSB_SB_KEK,
    "3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d",
    "74d7f2928ff88d7a7f23873f24e38b969c54f5b49ec9107e18fb5a045aa998f2", "2038-03-02", 0 },
  { VSB_MS_WINDOWS_2011, "windows-2011", "Microsoft Windows Production PCA 2011",
    "microsoft-windows-production-pca-2011.der", VSB_SB_DB,
    "e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961",
    "4e80be107c860de896384b3eff50504dc2d76ac7151df3102a4450637a032146", "2026-10-19",
    BIT(VSB_MS_WINDOWS_2023) },
  { VSB_MS_WINDOWS_2023, "windows-2023", "Windows UEFI CA 2023", "windows-uefi-ca-2023.der",
    VSB_SB_DB, "076f1fea90ac29155ebf77c17682f75f1fdd1be196da302dc8461e350a9ae330",
    "81f29e98d32c6e606766cad3d83879a74c777e89ba8a9811cc8a81778dd629f8", "2035-06-13", 0 },
  { VSB_MS_UEFI_2011, "uefi-2011", "Microsoft Corporation UEFI CA 2011",
    "microsoft-corporation-uefi-ca-2011.der", VSB_SB_DB,
    "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507",
    "9589b8c95168f79243f61922faa5990de0a4866de928736fed658ea7bff1a5e2", "2026-06-27",
    BIT(VSB_MS_UEFI_2023) | BIT(VSB_MS_OPTION_ROM_2023) },
  { VSB_MS_UEFI_2023, "uefi-2023", "Microsoft UEFI CA 2023", "microsoft-uefi-ca-2023.der",
    VSB_SB_DB, "f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901",
    "9a35484e640c7592c1ce3c29bf109970242d0b656c38294273bdbeae2f60b9b7", "2038-06-13", 0 },
  { VSB_MS_OPTION_ROM_2023, "option-rom-2023", "Microsoft Option ROM UEFI CA 2023",
    "microsoft-option-rom-uefi-ca-2023.der", VSB_SB_DB,
    "e5be3e64c6e66a281457ecdece0d6d0787577aad2a3a0144262c10c14ba8d8f1",
    "293bbccb3f97e64feb5df62627f77ef1b114fc5ef8a7c07f63e05de12c500e41", "2038-10-26", 0 },
};

/* What a store lacking the successor will refuse, for the warning. */
static const char *const missing_effect[VSB_MS_N_CERTS] = {
  [VSB_MS_KEK_2011] = "db and dbx updates Microsoft signs with its 2023 KEK will be refused",
  [VSB_MS_WINDOWS_2011] = "Windows boot media signed only by the 2023 CA will be refused",
  [VSB_MS_UEFI_2011] = "third-party loaders (shim, ...) and option ROMs signed only by the 2023 "
                       "CAs will be refused",
};

const VsbMsCert *
vsb_ms_cert(VsbMsCertId id)
{
  g_return_val_if_fail((guint)id < VSB_MS_N_CERTS, NULL);
  return &ms_certs[id];
}

gboolean
vsb_ms_cert_lookup(const char *name, VsbMsCertId *out)
{
  for (guint i = 0; name && i < VSB_MS_N_CERTS; i++)
    if (strcmp(ms_certs[i].name, name) == 0) {
      *out = ms_certs[i].id;
      return TRUE;
    }
  return FALSE;
}

const VsbGuid *
vsb_ms_owner_guid(void)
{
  return &VSB_GUID_MICROSOFT_VENDOR;
}

/* ---- shipped files -------------------------------------------------------------------------- */

char *
vsb_data_dir(void)
{
  const char *env = g_getenv("VSB_DATA_DIR");
  if (env && *env)
    return g_strdup(env);
  /* The installed copy first; an uninstalled build has none and reads its source tree. */
  g_autofree char *installed = g_build_filename(VSB_PKGDATADIR, "microsoft", NULL);
  if (g_file_test(installed, G_FILE_TEST_IS_DIR))
    return g_strdup(VSB_PKGDATADIR);
  return g_strdup(VSB_SOURCE_DATADIR);
}

static char *
data_path(const char *file)
{
  g_autofree char *dir = vsb_data_dir();
  return g_build_filename(dir, "microsoft", file, NULL);
}

GBytes *
vsb_ms_cert_der(VsbMsCertId id, GError **error)
{
  const VsbMsCert *c = vsb_ms_cert(id);
  g_return_val_if_fail(c != NULL, NULL);
  g_autofree char *path = data_path(c->file);
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND,
                "%s: missing (vsboot's data directory is %s; set VSB_DATA_DIR to use another)",
                path, VSB_PKGDATADIR);
    return NULL;
  }
  /* A certificate is a few KiB; anything larger is not the shipped file. */
  g_autoptr(GBytes) der = vsb_file_read(path, 64 * 1024, error);
  if (der == NULL)
    return NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data(der, &len);
  g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, d, len);
  if (strcmp(sum, c->sha256) != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: SHA-256 %s is not the published %s of %s (a damaged or substituted file)",
                path, sum, c->sha256, c->subject_cn);
    return NULL;
  }
  return g_steal_pointer(&der);
}

X509 *
vsb_ms_cert_load(VsbMsCertId id, GError **error)
{
  g_autoptr(GBytes) der = vsb_ms_cert_der(id, error);
  if (der == NULL)
    return NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data(der, &len);
  return vsb_cert_from_der(d, len, error);
}

/* ---- sets ----------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  VsbMsCertSet set;
} set_names[] = {
  { "2023", VSB_MS_SET_2023 },
  { "2011", VSB_MS_SET_2011 },
};

static char *
valid_set_names(void)
{
  GString *s = g_string_new(NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(set_names); i++)
    g_string_append_printf(s, "%s%s", s->len ? ", " : "", set_names[i].name);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    g_string_append_printf(s, ", %s", ms_certs[i].name);
  return g_string_free(s, FALSE);
}

gboolean
vsb_ms_cert_set_parse(const char *text, VsbMsCertSet *out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit(text ? text : "", ",", -1);
  VsbMsCertSet set = 0;
  /* An empty text names no set: refused like an unknown name, not taken as "nothing". */
  if (parts[0] == NULL) {
    g_strfreev(parts);
    parts = g_new0(char *, 2);
    parts[0] = g_strdup("");
  }
  for (char **p = parts; *p; p++) {
    const char *name = g_strstrip(*p);
    gboolean found = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(set_names) && !found; i++)
      if (strcmp(name, set_names[i].name) == 0) {
        set |= set_names[i].set;
        found = TRUE;
      }
    VsbMsCertId id;
    if (!found && vsb_ms_cert_lookup(name, &id)) {
      set |= BIT(id);
      found = TRUE;
    }
    if (!found) {
      g_autofree char *valid = valid_set_names();
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "unknown Microsoft certificate set '%s' in '%s' (valid: %s; several separated "
                  "by commas)", name, text ? text : "", valid);
      return FALSE;
    }
  }
  *out = set;
  return TRUE;
}

/* ---- what a store trusts --------------------------------------------------------------------- */

const char *
vsb_ms_cert_state_name(VsbMsCertState state)
{
  switch (state) {
  case VSB_MS_ENROLLED:
    return "enrolled";
  case VSB_MS_REVOKED:
    return "revoked";
  case VSB_MS_ABSENT:
  default:
    return "absent";
  }
}

void
vsb_ms_state_free(VsbMsState *st)
{
  if (st == NULL)
    return;
  g_ptr_array_unref(st->warnings);
  g_free(st);
}

/* Entries of a signature-list variable; NULL when absent or malformed (the Secure Boot state
 * already warns about the latter). */
static GPtrArray *
store_entries(const VsbVarstore *store, VsbSbVariable var)
{
  const VsbVariable *v =
    vsb_varstore_lookup(store, vsb_sb_variable_name(var), vsb_sb_variable_guid(var));
  if (v == NULL)
    return NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data(v->data, &len);
  return vsb_siglist_parse(d, len, NULL);
}

static char *
entry_sha256(const VsbSigEntry *e)
{
  gsize len;
  const guint8 *d = g_bytes_get_data(e->data, &len);
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, d, len);
}

/* The certificates (bit mask of ids) among entries' X.509 entries, by the SHA-256 of the DER:
 * the same subject with other bytes is another certificate, and verifies nothing Microsoft
 * signed. */
static guint
certs_in(GPtrArray *entries)
{
  guint found = 0;
  for (guint i = 0; entries && i < entries->len; i++) {
    const VsbSigEntry *e = entries->pdata[i];
    if (e->type != VSB_SIG_X509)
      continue;
    g_autofree char *sum = entry_sha256(e);
    for (guint c = 0; c < VSB_MS_N_CERTS; c++)
      if (strcmp(sum, ms_certs[c].sha256) == 0)
        found |= BIT(c);
  }
  return found;
}

/* The certificates dbx revokes, in any of the three forms the firmware checks: the
 * certificate, the SHA-256 of its DER, or EFI_CERT_X509_SHA256 (the TBSCertificate's SHA-256
 * followed by the time of revocation). Each entry is hashed or encoded once: a current dbx
 * holds hundreds. */
static guint
certs_revoked(GPtrArray *dbx)
{
  guint found = certs_in(dbx);
  for (guint i = 0; dbx && i < dbx->len; i++) {
    const VsbSigEntry *e = dbx->pdata[i];
    gsize len;
    const guint8 *d = g_bytes_get_data(e->data, &len);
    gboolean tbs = e->type == VSB_SIG_X509_SHA256;
    if (!(e->type == VSB_SIG_SHA256 && len == 32) && !(tbs && len >= 32))
      continue;
    g_autofree char *hex = vsb_hex_encode(d, 32);
    for (guint c = 0; c < VSB_MS_N_CERTS; c++)
      if (strcmp(hex, tbs ? ms_certs[c].tbs_sha256 : ms_certs[c].sha256) == 0)
        found |= BIT(c);
  }
  return found;
}

static void
warn_missing_successor(VsbMsState *st, const VsbMsCert *old)
{
  GString *missing = g_string_new(NULL);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    if ((old->successors & BIT(i)) && st->state[i] != VSB_MS_ENROLLED)
      g_string_append_printf(missing, "%s%s (%s)", missing->len ? " and " : "",
                             ms_certs[i].subject_cn, vsb_ms_cert_state_name(st->state[i]));
  if (missing->len == 0) {
    g_string_free(missing, TRUE);
    return;
  }
  st->missing_successor = TRUE;
  g_ptr_array_add(st->warnings,
                  g_strdup_printf("%s holds %s (%s, valid until %s) without its successor %s: %s",
                                  vsb_sb_variable_name(old->variable), old->subject_cn, old->name,
                                  old->expires, missing->str, missing_effect[old->id]));
  g_string_free(missing, TRUE);
}

VsbMsState *
vsb_secure_boot_microsoft_state(const VsbVarstore *store)
{
  VsbMsState *st = g_new0(VsbMsState, 1);
  st->warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) kek = store_entries(store, VSB_SB_KEK);
  g_autoptr(GPtrArray) db = store_entries(store, VSB_SB_DB);
  g_autoptr(GPtrArray) dbx = store_entries(store, VSB_SB_DBX);
  guint in_kek = certs_in(kek), in_db = certs_in(db), revoked = certs_revoked(dbx);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    guint in_var = ms_certs[i].variable == VSB_SB_KEK ? in_kek : in_db;
    if (revoked & BIT(i))
      st->state[i] = VSB_MS_REVOKED;
    else if (in_var & BIT(i))
      st->state[i] = VSB_MS_ENROLLED;
    else
      st->state[i] = VSB_MS_ABSENT;
  }
  for (guint i = 0; i < VSB_MS_N_CERTS; i++)
    if (ms_certs[i].successors && st->state[i] == VSB_MS_ENROLLED)
      warn_missing_successor(st, &ms_certs[i]);
  return st;
}

JsonNode *
vsb_ms_state_to_json(const VsbMsState *st)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  for (guint i = 0; i < VSB_MS_N_CERTS; i++) {
    json_builder_set_member_name(b, ms_certs[i].name);
    json_builder_add_string_value(b, vsb_ms_cert_state_name(st->state[i]));
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* ---- dbx_info_msft_latest.json --------------------------------------------------------------- */

/* The shipped list is 400 KB; ten times that leaves room for years of additions. */
#define DBX_INFO_MAX_SIZE (4 * 1024 * 1024)
#define DBX_INFO_MAX_DEPTH 8

struct _VsbDbxInfo {
  gint refs;
  GStringChunk *strings;   /* every string of the records, each distinct one once */
  GPtrArray *records;      /* VsbDbxRecord*, owned */
  GHashTable *images;      /* GBytes SHA-256 -> GPtrArray of records (one per arch listing it) */
  GHashTable *certs;       /* GBytes SHA-1 thumbprint -> record */
  GHashTable *svns;        /* GBytes 32-byte SVN value -> record */
  GHashTable *arch_hashes; /* arch -> GPtrArray of GBytes, in the list's order */
};

static void
dbx_info_free(VsbDbxInfo *info)
{
  g_hash_table_unref(info->images);
  g_hash_table_unref(info->certs);
  g_hash_table_unref(info->svns);
  g_hash_table_unref(info->arch_hashes);
  g_ptr_array_unref(info->records);
  g_string_chunk_free(info->strings);
  g_free(info);
}

VsbDbxInfo *
vsb_dbx_info_ref(VsbDbxInfo *info)
{
  g_atomic_int_inc(&info->refs);
  return info;
}

void
vsb_dbx_info_unref(VsbDbxInfo *info)
{
  if (info && g_atomic_int_dec_and_test(&info->refs))
    dbx_info_free(info);
}

static VsbDbxInfo *
dbx_info_new(void)
{
  VsbDbxInfo *info = g_new0(VsbDbxInfo, 1);
  info->refs = 1;
  info->strings = g_string_chunk_new(16 * 1024);
  info->records = g_ptr_array_new_with_free_func(g_free);
  info->images = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                       (GDestroyNotify)g_ptr_array_unref);
  info->certs = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                      NULL);
  info->svns = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                     NULL);
  info->arch_hashes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify)g_ptr_array_unref);
  return info;
}

/* A string member, or NULL when missing or not a string. */
static const char *
member_str(JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member(o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

static VsbDbxRecord *
add_record(VsbDbxInfo *info, const char *kind, const char *arch, const char *company,
           const char *filename, const char *date)
{
  VsbDbxRecord *r = g_new0(VsbDbxRecord, 1);
  r->kind = kind;
  r->arch = arch ? g_string_chunk_insert_const(info->strings, arch) : NULL;
  /* Microsoft's names carry stray blanks (" Ciscso Systems Inc."): count them as written. */
  g_autofree char *co = g_strstrip(g_strdup(company ? company : ""));
  r->company = g_string_chunk_insert_const(info->strings, *co ? co : "Unknown");
  r->filename = filename ? g_string_chunk_insert_const(info->strings, filename) : NULL;
  r->date = date ? g_string_chunk_insert_const(info->strings, date) : NULL;
  g_ptr_array_add(info->records, r);
  return r;
}

/* The hex member decoded to exactly want bytes, or an error naming where it is. */
static GBytes *
hex_member(JsonObject *o, const char *name, gsize want, const char *origin, const char *where,
           GError **error)
{
  const char *text = member_str(o, name);
  g_autoptr(GBytes) b = text ? vsb_hex_decode(text, NULL) : NULL;
  if (b == NULL || g_bytes_get_size(b) != want) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s.%s: expected %zu bytes in hex",
                origin, where, name, want);
    return NULL;
  }
  return g_steal_pointer(&b);
}

/* The records also go, as lines, into the compact copy the user's cache keeps (NULL: none):
 * "A arch" opens an architecture's list, "I hash company filename date" is one of its images,
 * "C thumbprint value date" a certificate, "S value filename date" an SVN. Fields are tab-
 * separated; a string is "=" and its g_strescape() text, a missing one is empty. */
static void
cache_field(GString *c, const char *value)
{
  g_string_append_c(c, '\t');
  if (value) {
    g_autofree char *e = g_strescape(value, NULL);
    g_string_append_c(c, '=');
    g_string_append(c, e);
  }
}

static void
cache_line(GString *c, char tag, GBytes *key, const char *a, const char *b, const char *d)
{
  if (c == NULL)
    return;
  g_string_append_c(c, tag);
  if (key) {
    g_autofree char *hex = vsb_hex_encode(g_bytes_get_data(key, NULL), g_bytes_get_size(key));
    g_string_append_c(c, '\t');
    g_string_append(c, hex);
  }
  if (tag != 'A') {
    cache_field(c, a);
    cache_field(c, b);
  } else
    cache_field(c, a);
  if (tag == 'I')
    cache_field(c, d);
  g_string_append_c(c, '\n');
}

/* An architecture's list of image hashes (interned arch; the hashes are the table's). */
static GPtrArray *
add_arch(VsbDbxInfo *info, const char *arch, const char **interned)
{
  *interned = g_string_chunk_insert_const(info->strings, arch);
  GPtrArray *hashes = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  g_hash_table_replace(info->arch_hashes, (char *)*interned, hashes);
  return hashes;
}

/* One image record of arch; takes hash. */
static void
add_image(VsbDbxInfo *info, const char *arch, GPtrArray *hashes, GBytes *hash,
          const char *company, const char *filename, const char *date)
{
  VsbDbxRecord *r = add_record(info, "image", arch, company, filename, date);
  g_ptr_array_add(hashes, hash);
  GPtrArray *same = g_hash_table_lookup(info->images, hash);
  if (same == NULL) {
    same = g_ptr_array_new();
    g_hash_table_insert(info->images, g_bytes_ref(hash), same);
  }
  g_ptr_array_add(same, r);
}

/* A certificate (by SHA-1 thumbprint) or SVN record; takes key. */
static void
add_other(VsbDbxInfo *info, gboolean cert, GBytes *key, const char *value, const char *date)
{
  VsbDbxRecord *r = cert ? add_record(info, "certificate", NULL, "Microsoft", value, date)
                         : add_record(info, "svn", NULL, "Microsoft", value, date);
  g_hash_table_replace(cert ? info->certs : info->svns, key, r);
}

/* Element i of list, which must be an object; where names it in the error. */
static JsonObject *
element_object(JsonArray *list, guint i, const char *origin, const char *where, GError **error)
{
  JsonNode *n = json_array_get_element(list, i);
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s: expected an object", origin, where);
    return NULL;
  }
  return json_node_get_object(n);
}

static gboolean
load_image_list(VsbDbxInfo *info, const char *arch, JsonArray *list, const char *origin,
                GString *cache, GError **error)
{
  const char *a;
  GPtrArray *hashes = add_arch(info, arch, &a);
  cache_line(cache, 'A', NULL, arch, NULL, NULL);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    g_autofree char *where = g_strdup_printf("images.%s[%u]", arch, i);
    JsonObject *o = element_object(list, i, origin, where, error);
    if (o == NULL)
      return FALSE;
    /* dbx holds Authenticode SHA-256 hashes only; another hash type could never match. */
    if (g_strcmp0(member_str(o, "hashType"), "SHA256") != 0)
      continue;
    GBytes *hash = hex_member(o, "authenticodeHash", 32, origin, where, error);
    if (hash == NULL)
      return FALSE;
    const char *company = member_str(o, "companyName"), *file = member_str(o, "filename");
    const char *date = member_str(o, "dateOfAddition");
    cache_line(cache, 'I', hash, company, file, date);
    add_image(info, a, hashes, hash, company, file, date);
  }
  return TRUE;
}

/* certificates[] and svns[]: Microsoft's own objects (its Windows PCA, its boot manager SVNs);
 * the list names no company for them. */
static gboolean
load_others(VsbDbxInfo *info, JsonObject *root, const char *member, const char *origin,
            GString *cache, GError **error)
{
  gboolean certs = strcmp(member, "certificates") == 0;
  JsonNode *n = json_object_get_member(root, member);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY(n)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: %s: expected an array", origin, member);
    return FALSE;
  }
  JsonArray *list = json_node_get_array(n);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    g_autofree char *where = g_strdup_printf("%s[%u]", member, i);
    JsonObject *o = element_object(list, i, origin, where, error);
    if (o == NULL)
      return FALSE;
    GBytes *key = certs ? hex_member(o, "thumbprint", 20, origin, where, error)
                        : hex_member(o, "value", 32, origin, where, error);
    if (key == NULL)
      return FALSE;
    const char *value = member_str(o, certs ? "value" : "filename");
    const char *date = member_str(o, certs ? "dateOfAddition" : "dateOfLastChange");
    cache_line(cache, certs ? 'C' : 'S', key, value, date, NULL);
    add_other(info, certs, key, value, date);
  }
  return TRUE;
}

static VsbDbxInfo *
dbx_info_parse(const char *path, GString *cache, GError **error)
{
  g_autoptr(GBytes) data = vsb_file_read(path, DBX_INFO_MAX_SIZE, error);
  if (data == NULL)
    return NULL;
  gsize len;
  const char *text = g_bytes_get_data(data, &len);
  g_autoptr(JsonNode) root = vsb_json_parse(text, len, DBX_INFO_MAX_DEPTH, path, error);
  if (root == NULL)
    return NULL;
  JsonNode *images = JSON_NODE_HOLDS_OBJECT(root)
                       ? json_object_get_member(json_node_get_object(root), "images") : NULL;
  if (images == NULL || !JSON_NODE_HOLDS_OBJECT(images)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "%s: not Microsoft's dbx description (no \"images\" object)", path);
    return NULL;
  }
  VsbDbxInfo *info = dbx_info_new();
  JsonObject *io = json_node_get_object(images);
  g_autoptr(GList) archs = json_object_get_members(io);
  gboolean ok = TRUE;
  for (GList *l = archs; l && ok; l = l->next) {
    JsonNode *list = json_object_get_member(io, l->data);
    if (!JSON_NODE_HOLDS_ARRAY(list)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: images.%s: expected an array", path,
                  (const char *)l->data);
      ok = FALSE;
    } else
      ok = load_image_list(info, l->data, json_node_get_array(list), path, cache, error);
  }
  JsonObject *ro = json_node_get_object(root);
  ok = ok && load_others(info, ro, "certificates", path, cache, error) &&
       load_others(info, ro, "svns", path, cache, error);
  if (!ok) {
    vsb_dbx_info_unref(info);
    return NULL;
  }
  return info;
}

/* ---- the compact copy in the user's cache ---- */

/* json-glib takes about 90 million instructions over the list's 400 KB (the tree, the strict
 * string checks, freeing the tree): nearly all of a `vars show`, and every show needs the list
 * (even a placeholder dbx is compared with the latest list). So the records the parse yields
 * are kept as text in the user's cache (filecache.h: keyed by the list file's device, inode,
 * size and times, so a changed list is never mistaken for the old one), which reads back in a
 * tenth of that. A copy that does not read back exactly is no copy: the list is parsed. */
#define DBX_CACHE "dbx-info"
#define DBX_CACHE_WHAT "records-v1"

/* A field of a cached line: NULL for an empty field, the unescaped string after "=". */
static gboolean
cached_field(const char *field, char **out)
{
  *out = NULL;
  if (*field == '\0')
    return TRUE;
  if (*field != '=')
    return FALSE;
  *out = g_strcompress(field + 1);
  return TRUE;
}

static GBytes *
cached_key(const char *hex, gsize want)
{
  GBytes *b = vsb_hex_decode(hex, NULL);
  if (b && g_bytes_get_size(b) != want)
    g_clear_pointer(&b, g_bytes_unref);
  return b;
}

/* One line of the copy into info; FALSE when it is not exactly what cache_line writes. */
static gboolean
cached_line(VsbDbxInfo *info, char **f, const char **arch, GPtrArray **hashes)
{
  guint n = g_strv_length(f);
  g_autofree char *a = NULL, *b = NULL, *d = NULL;
  if (strcmp(f[0], "A") == 0) {
    if (n != 2 || !cached_field(f[1], &a) || a == NULL)
      return FALSE;
    *hashes = add_arch(info, a, arch);
    return TRUE;
  }
  gboolean image = strcmp(f[0], "I") == 0, cert = strcmp(f[0], "C") == 0;
  if (!image && !cert && strcmp(f[0], "S") != 0)
    return FALSE;
  if (n != (image ? 5u : 4u) || !cached_field(f[2], &a) || !cached_field(f[3], &b) ||
      (image && !cached_field(f[4], &d)))
    return FALSE;
  GBytes *key = cached_key(f[1], cert ? 20 : 32);
  if (key == NULL || (image && *hashes == NULL)) {
    if (key)
      g_bytes_unref(key);
    return FALSE;
  }
  if (image)
    add_image(info, *arch, *hashes, key, a, b, d);
  else
    add_other(info, cert, key, a, b);
  return TRUE;
}

static VsbDbxInfo *
dbx_info_from_cache(const char *path)
{
  g_autofree char *text = vsb_file_cache_get(DBX_CACHE, path, DBX_CACHE_WHAT);
  if (text == NULL)
    return NULL;
  VsbDbxInfo *info = dbx_info_new();
  const char *arch = NULL;
  GPtrArray *hashes = NULL;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    if (**l == '\0' && l[1] == NULL)
      break; /* after the last newline */
    g_auto(GStrv) f = g_strsplit(*l, "\t", -1);
    if (!cached_line(info, f, &arch, &hashes)) {
      vsb_dbx_info_unref(info);
      return NULL;
    }
  }
  return info;
}

/* The list, from the cached copy when it is there, else parsed (and the copy kept). */
static VsbDbxInfo *
dbx_info_read(const char *path, GError **error)
{
  VsbDbxInfo *info = dbx_info_from_cache(path);
  if (info)
    return info;
  g_autoptr(GString) cache = g_string_new(NULL);
  info = dbx_info_parse(path, cache, error);
  if (info)
    vsb_file_cache_put(DBX_CACHE, path, DBX_CACHE_WHAT, cache->str);
  return info;
}

/* One parse per process and file: the list is 400 KB, and json-glib takes milliseconds over
 * it, which a fleet reporting on many stores would otherwise pay for each. */
static GMutex dbx_cache_lock;
static VsbDbxInfo *dbx_cache_info;
static char *dbx_cache_key;

VsbDbxInfo *
vsb_dbx_info_load(const char *path, GError **error)
{
  g_autofree char *p = path ? g_strdup(path) : data_path("dbx_info_msft_latest.json");
  struct stat st;
  g_autofree char *key = NULL;
  if (stat(p, &st) == 0)
    key = g_strdup_printf("%s:%ju:%ju:%jd:%jd.%09ld", p, (uintmax_t)st.st_dev,
                          (uintmax_t)st.st_ino, (intmax_t)st.st_size,
                          (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  g_mutex_lock(&dbx_cache_lock);
  VsbDbxInfo *hit = key && g_strcmp0(key, dbx_cache_key) == 0 ? vsb_dbx_info_ref(dbx_cache_info)
                                                               : NULL;
  g_mutex_unlock(&dbx_cache_lock);
  if (hit)
    return hit;
  VsbDbxInfo *info = dbx_info_read(p, error);
  if (info == NULL || key == NULL)
    return info;
  g_mutex_lock(&dbx_cache_lock);
  if (dbx_cache_info)
    vsb_dbx_info_unref(dbx_cache_info);
  g_free(dbx_cache_key);
  dbx_cache_info = vsb_dbx_info_ref(info);
  dbx_cache_key = g_steal_pointer(&key);
  g_mutex_unlock(&dbx_cache_lock);
  return info;
}

const VsbDbxRecord *
vsb_dbx_info_lookup(const VsbDbxInfo *info, VsbSigType type, GBytes *data, const char *arch)
{
  if (type == VSB_SIG_SHA256) {
    GPtrArray *same = g_hash_table_lookup(info->images, data);
    for (guint i = 0; same && i < same->len; i++) {
      const VsbDbxRecord *r = same->pdata[i];
      if (arch && strcmp(r->arch, arch) == 0)
        return r;
    }
    if (same)
      return same->pdata[0];
    return g_hash_table_lookup(info->svns, data);
  }
  if (type == VSB_SIG_X509) {
    gsize len;
    const guint8 *d = g_bytes_get_data(data, &len);
    guint8 sha1[20];
    gsize n = sizeof sha1;
    g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(ck, d, len);
    g_checksum_get_digest(ck, sha1, &n);
    g_autoptr(GBytes) key = g_bytes_new(sha1, sizeof sha1);
    return g_hash_table_lookup(info->certs, key);
  }
  return NULL;
}

GPtrArray *
vsb_dbx_info_hashes(const VsbDbxInfo *info, const char *arch)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  GPtrArray *hashes = arch ? g_hash_table_lookup(info->arch_hashes, arch) : NULL;
  for (guint i = 0; hashes && i < hashes->len; i++)
    g_ptr_array_add(out, g_bytes_ref(hashes->pdata[i]));
  return out;
}

const char *
vsb_dbx_arch_for_layout(VsbVarstoreLayout layout)
{
  switch (layout) {
  case VSB_VARSTORE_LAYOUT_OVMF_2M:
  case VSB_VARSTORE_LAYOUT_OVMF_4M:
    return "x64";
  case VSB_VARSTORE_LAYOUT_ARMVIRT:
    return "aarch64";
  default:
    return NULL;
  }
}

/* ---- explaining a store's dbx ---------------------------------------------------------------- */

void
vsb_dbx_explanation_free(VsbDbxExplanation *ex)
{
  if (ex == NULL)
    return;
  g_hash_table_unref(ex->by_company);
  g_hash_table_unref(ex->by_arch);
  g_hash_table_unref(ex->by_kind);
  g_free(ex->newest);
  g_free(ex);
}

static void
count(GHashTable *t, const char *key)
{
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(t, key));
  g_hash_table_replace(t, g_strdup(key), GUINT_TO_POINTER(n + 1));
}

VsbDbxExplanation *
vsb_dbx_explain(const VsbDbxInfo *info, const VsbVarstore *store)
{
  VsbDbxExplanation *ex = g_new0(VsbDbxExplanation, 1);
  ex->by_company = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  ex->by_arch = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  ex->by_kind = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  ex->arch = vsb_dbx_arch_for_layout(vsb_varstore_get_layout(store));
  g_autoptr(GPtrArray) dbx = store_entries(store, VSB_SB_DBX);
  g_autoptr(GHashTable) present = g_hash_table_new(g_bytes_hash, g_bytes_equal);
  ex->entries = dbx ? dbx->len : 0;
  for (guint i = 0; dbx && i < dbx->len; i++) {
    const VsbSigEntry *e = dbx->pdata[i];
    if (e->type == VSB_SIG_SHA256)
      g_hash_table_add(present, e->data);
    const VsbDbxRecord *r = vsb_dbx_info_lookup(info, e->type, e->data, ex->arch);
    if (r == NULL)
      continue;
    ex->known++;
    count(ex->by_company, r->company);
    count(ex->by_kind, r->kind);
    if (r->arch)
      count(ex->by_arch, r->arch);
    /* Dates are ISO 8601 ("2026-04-09"): they order as strings. */
    if (r->date && g_strcmp0(r->date, ex->newest) > 0) {
      g_free(ex->newest);
      ex->newest = g_strdup(r->date);
    }
  }
  GPtrArray *latest = ex->arch ? g_hash_table_lookup(info->arch_hashes, ex->arch) : NULL;
  ex->latest = latest ? latest->len : 0;
  for (guint i = 0; latest && i < latest->len; i++)
    if (!g_hash_table_contains(present, latest->pdata[i]))
      ex->missing++;
  return ex;
}

static void
add_counts(JsonBuilder *b, const char *name, GHashTable *t)
{
  g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(t), (GCompareFunc)strcmp);
  json_builder_set_member_name(b, name);
  json_builder_begin_object(b);
  for (GList *l = keys; l; l = l->next) {
    json_builder_set_member_name(b, l->data);
    json_builder_add_int_value(b, GPOINTER_TO_UINT(g_hash_table_lookup(t, l->data)));
  }
  json_builder_end_object(b);
}

static void
add_int_or_null(JsonBuilder *b, const char *name, gboolean has, guint value)
{
  json_builder_set_member_name(b, name);
  if (has)
    json_builder_add_int_value(b, value);
  else
    json_builder_add_null_value(b);
}

JsonNode *
vsb_dbx_explanation_to_json(const VsbDbxExplanation *ex)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_int_or_null(b, "entries", TRUE, ex->entries);
  add_int_or_null(b, "known", TRUE, ex->known);
  add_counts(b, "by-company", ex->by_company);
  add_counts(b, "by-arch", ex->by_arch);
  add_counts(b, "by-kind", ex->by_kind);
  vsb_json_put_str(b, "newest", ex->newest);
  vsb_json_put_str(b, "arch", ex->arch);
  add_int_or_null(b, "latest", ex->arch != NULL, ex->latest);
  add_int_or_null(b, "missing-from-latest", ex->arch != NULL, ex->missing);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
