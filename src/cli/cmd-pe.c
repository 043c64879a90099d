/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot pe info|hash|verify|sign: EFI binaries and their Authenticode signatures. The text
 * of info and verify is rendered from the same JSON report that --json prints. */
#include "cli.h"

#include "vsboot/authenticode.h"
#include "vsboot/efivar.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/guid.h"
#include "vsboot/pe.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
#include "vsboot/sbjudge.h"
#include "vsboot/varstore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char pe_usage[] =
  "Usage: vsboot pe SUBCOMMAND [OPTIONS]\n"
  "\n"
  "EFI binaries (PE/COFF) and their Authenticode signatures.\n"
  "\n"
  "Subcommands:\n"
  "  info IMAGE [--json]                  headers, sections, SBAT, hash, signatures\n"
  "  hash IMAGE [--digest ALG]            the Authenticode hash (sha256 by default)\n"
  "  verify IMAGE (--vars VARS | --db CERT...) [--dbx-hash HEX]... [--dbx-cert CERT]...\n"
  "                                       would OVMF run it? (exit 0 allowed, 1 denied)\n"
  "  sign IMAGE --key KEY --cert CERT [-o OUT]\n"
  "                                       add an Authenticode signature\n"
  "\n"
  "'vsboot help pe SUBCOMMAND' shows the options.\n";

static char *
hex32(guint64 v)
{
  return g_strdup_printf("0x%" G_GINT64_MODIFIER "x", v);
}

static void
add_hex(JsonBuilder *b, const char *key, guint64 v)
{
  g_autofree char *s = hex32(v);
  vsb_cli_jset_str(b, key, s);
}

static void
add_cert(JsonBuilder *b, const VsbCertificate *c)
{
  g_autofree char *subject = vsb_certificate_get_subject(c);
  g_autofree char *issuer = vsb_certificate_get_issuer(c);
  g_autofree char *nb = vsb_certificate_get_not_before(c);
  g_autofree char *na = vsb_certificate_get_not_after(c);
  g_autofree char *fph = vsb_certificate_get_sha256(c);
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "subject", subject);
  vsb_cli_jset_str(b, "issuer", issuer);
  vsb_cli_jset_str(b, "not-before", nb ? nb : "?");
  vsb_cli_jset_str(b, "not-after", na ? na : "?");
  vsb_cli_jset_str(b, "sha256", fph);
  json_builder_end_object(b);
}

static const char *
dir_name(guint i)
{
  static const char *const names[] = {
    "export", "import", "resource", "exception", "security", "basereloc", "debug", "architecture",
    "globalptr", "tls", "load-config", "bound-import", "iat", "delay-import", "clr", "reserved",
  };
  return i < G_N_ELEMENTS(names) ? names[i] : "?";
}

static void
sections_json(JsonBuilder *b, const VsbPeImage *img)
{
  json_builder_set_member_name(b, "sections");
  json_builder_begin_array(b);
  guint n;
  const VsbPeSection *secs = vsb_pe_get_sections(img, &n);
  for (guint i = 0; i < n; i++) {
    json_builder_begin_object(b);
    vsb_cli_jset_str(b, "name", secs[i].name);
    add_hex(b, "virtual-address", secs[i].virtual_address);
    add_hex(b, "virtual-size", secs[i].virtual_size);
    add_hex(b, "raw-offset", secs[i].pointer_to_raw_data);
    add_hex(b, "raw-size", secs[i].size_of_raw_data);
    add_hex(b, "characteristics", secs[i].characteristics);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static void
directories_json(JsonBuilder *b, const VsbPeImage *img)
{
  json_builder_set_member_name(b, "data-directories");
  json_builder_begin_array(b);
  for (guint i = 0; i < vsb_pe_get_n_data_directories(img); i++) {
    guint32 addr, len;
    vsb_pe_get_data_directory(img, i, &addr, &len);
    if (addr == 0 && len == 0)
      continue;
    json_builder_begin_object(b);
    vsb_cli_jset_int(b, "index", i);
    vsb_cli_jset_str(b, "name", dir_name(i));
    add_hex(b, i == VSB_PE_DIR_SECURITY ? "file-offset" : "rva", addr);
    add_hex(b, "size", len);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* The image's Authenticode hashes, each digest computed once however many signatures use it. */
typedef struct {
  gboolean have[VSB_PE_N_DIGESTS];
  guint8 hash[VSB_PE_N_DIGESTS][VSB_PE_MAX_DIGEST_SIZE];
} ImageHashes;

static gboolean
signed_hash_json(JsonBuilder *b, const VsbPeImage *img, const VsbAuthenticodeSig *s,
                 ImageHashes *ih, GError **error)
{
  gsize el;
  const guint8 *e = g_bytes_get_data(s->embedded_digest, &el);
  g_autofree char *eh = vsb_hex_encode(e, el);
  vsb_cli_jset_str(b, "signed-hash", eh);
  gboolean match = FALSE;
  if (s->digest_known) {
    if (!ih->have[s->digest] && !vsb_pe_hash(img, s->digest, ih->hash[s->digest], error))
      return FALSE;
    ih->have[s->digest] = TRUE;
    match = el == vsb_pe_digest_size(s->digest) && memcmp(e, ih->hash[s->digest], el) == 0;
  }
  vsb_cli_jset_bool(b, "hash-matches", match);
  return TRUE;
}

static gboolean
signature_json(JsonBuilder *b, const VsbPeImage *img, const VsbAuthenticodeSig *s,
               ImageHashes *ih, GError **error)
{
  json_builder_begin_object(b);
  vsb_cli_jset_int(b, "index", s->index);
  add_hex(b, "offset", s->offset);
  add_hex(b, "revision", s->revision);
  add_hex(b, "type", s->cert_type);
  vsb_cli_jset_str(b, "error", s->error);
  if (s->digest_oid) {
    vsb_cli_jset_str(b, "digest", s->digest_known ? vsb_pe_digest_name(s->digest) : s->digest_oid);
    if (s->embedded_digest && !signed_hash_json(b, img, s, ih, error))
      return FALSE;
  }
  if (s->signer) {
    json_builder_set_member_name(b, "signer");
    add_cert(b, s->signer);
    json_builder_set_member_name(b, "chain");
    json_builder_begin_array(b);
    for (guint k = 0; s->chain && k < s->chain->len; k++)
      add_cert(b, g_ptr_array_index(s->chain, k));
    json_builder_end_array(b);
    vsb_cli_jset_int(b, "certificates", s->n_certificates);
  }
  json_builder_end_object(b);
  return TRUE;
}

static gboolean
signatures_json(JsonBuilder *b, const VsbPeImage *img, GError **error)
{
  g_autoptr(GPtrArray) sigs = vsb_authenticode_get_signatures(img);
  ImageHashes ih = { { FALSE } };
  json_builder_set_member_name(b, "signatures");
  json_builder_begin_array(b);
  for (guint i = 0; i < sigs->len; i++)
    if (!signature_json(b, img, g_ptr_array_index(sigs, i), &ih, error))
      return FALSE;
  json_builder_end_array(b);
  return TRUE;
}

static void
headers_json(JsonBuilder *b, const VsbPeImage *img)
{
  gsize size;
  vsb_pe_get_data(img, &size);
  vsb_cli_jset_str(b, "file", vsb_pe_get_origin(img));
  vsb_cli_jset_int(b, "size", (gint64)size);
  vsb_cli_jset_str(b, "format", vsb_pe_is_pe32plus(img) ? "PE32+" : "PE32");
  guint16 m = vsb_pe_get_machine(img);
  g_autofree char *mraw = g_strdup_printf("0x%04x", m);
  vsb_cli_jset_str(b, "machine", vsb_pe_machine_name(m) ? vsb_pe_machine_name(m) : mraw);
  vsb_cli_jset_str(b, "machine-code", mraw);
  guint16 ss = vsb_pe_get_subsystem(img);
  g_autofree char *ssraw = g_strdup_printf("%u", ss);
  vsb_cli_jset_str(b, "subsystem", vsb_pe_subsystem_name(ss) ? vsb_pe_subsystem_name(ss) : ssraw);
  vsb_cli_jset_int(b, "subsystem-code", ss);
  add_hex(b, "entry-point", vsb_pe_get_entry_point(img));
  add_hex(b, "image-base", vsb_pe_get_image_base(img));
  add_hex(b, "size-of-headers", vsb_pe_get_size_of_headers(img));
  add_hex(b, "checksum", vsb_pe_get_checksum(img));
  add_hex(b, "checksum-computed", vsb_pe_compute_checksum(img));
}

static JsonNode *
info_report(const VsbPeImage *img, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  headers_json(b, img);
  sections_json(b, img);
  directories_json(b, img);

  g_autofree char *sbat = vsb_pe_get_sbat(img);
  vsb_cli_jset_str(b, "sbat", sbat);

  g_autofree char *h = vsb_pe_hash_hex(img, VSB_PE_DIGEST_SHA256, error);
  if (h == NULL)
    return NULL;
  json_builder_set_member_name(b, "authenticode");
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "sha256", h);
  json_builder_end_object(b);

  gsize toff, tsize;
  vsb_pe_get_cert_table(img, &toff, &tsize);
  json_builder_set_member_name(b, "certificate-table");
  if (tsize == 0) {
    json_builder_add_null_value(b);
  } else {
    json_builder_begin_object(b);
    add_hex(b, "offset", toff);
    add_hex(b, "size", tsize);
    json_builder_end_object(b);
  }

  if (!signatures_json(b, img, error))
    return NULL;
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
print_info(JsonObject *r)
{
  printf("file        %s (%" G_GINT64_FORMAT " bytes)\n", vsb_cli_jstr(r, "file"), vsb_cli_jint(r, "size"));
  printf("format      %s, machine %s, subsystem %s\n", vsb_cli_jstr(r, "format"), vsb_cli_jstr(r, "machine"),
         vsb_cli_jstr(r, "subsystem"));
  printf("entry       %s, image base %s, headers %s\n", vsb_cli_jstr(r, "entry-point"),
         vsb_cli_jstr(r, "image-base"), vsb_cli_jstr(r, "size-of-headers"));
  printf("checksum    %s (computed %s)\n", vsb_cli_jstr(r, "checksum"), vsb_cli_jstr(r, "checksum-computed"));
  printf("sha256      %s\n", vsb_cli_jstr(vsb_cli_jobj(r, "authenticode"), "sha256"));
  JsonArray *secs = vsb_cli_jarr(r, "sections");
  printf("sections    %u\n", secs ? json_array_get_length(secs) : 0);
  printf("  %-8s %-10s %-10s %-10s %-10s %s\n", "name", "vaddr", "vsize", "raw-off", "raw-size",
         "flags");
  for (guint i = 0; secs && i < json_array_get_length(secs); i++) {
    JsonObject *s = json_array_get_object_element(secs, i);
    printf("  %-8s %-10s %-10s %-10s %-10s %s\n", vsb_cli_jstr(s, "name"), vsb_cli_jstr(s, "virtual-address"),
           vsb_cli_jstr(s, "virtual-size"), vsb_cli_jstr(s, "raw-offset"), vsb_cli_jstr(s, "raw-size"),
           vsb_cli_jstr(s, "characteristics"));
  }
  const char *sbat = vsb_cli_jstr(r, "sbat");
  if (sbat) {
    printf("sbat\n");
    g_auto(GStrv) lines = g_strsplit(sbat, "\n", -1);
    for (char **l = lines; *l; l++)
      if (**l)
        printf("  %s\n", *l);
  } else {
    printf("sbat        none\n");
  }
  JsonObject *t = vsb_cli_jobj(r, "certificate-table");
  JsonArray *sigs = vsb_cli_jarr(r, "signatures");
  if (t == NULL) {
    printf("signatures  none (unsigned)\n");
    return;
  }
  printf("signatures  %u, certificate table at %s (%s bytes)\n",
         sigs ? json_array_get_length(sigs) : 0, vsb_cli_jstr(t, "offset"), vsb_cli_jstr(t, "size"));
  for (guint i = 0; sigs && i < json_array_get_length(sigs); i++) {
    JsonObject *s = json_array_get_object_element(sigs, i);
    printf("  [%" G_GINT64_FORMAT "] at %s, type %s, revision %s\n", vsb_cli_jint(s, "index"),
           vsb_cli_jstr(s, "offset"), vsb_cli_jstr(s, "type"), vsb_cli_jstr(s, "revision"));
    if (vsb_cli_jstr(s, "error"))
      printf("      error    %s\n", vsb_cli_jstr(s, "error"));
    if (vsb_cli_jstr(s, "digest"))
      printf("      digest   %s, signed hash %s\n", vsb_cli_jstr(s, "digest"),
             vsb_cli_jbool(s, "hash-matches") ? "matches the image" : "DOES NOT match the image");
    JsonObject *signer = vsb_cli_jobj(s, "signer");
    if (signer)
      printf("      signer   %s\n", vsb_cli_jstr(signer, "subject"));
    JsonArray *chain = vsb_cli_jarr(s, "chain");
    for (guint k = 0; chain && k < json_array_get_length(chain); k++) {
      JsonObject *c = json_array_get_object_element(chain, k);
      printf("      %s %s\n", k == 0 ? "issuer  " : "        ", vsb_cli_jstr(c, "issuer"));
    }
  }
}

static int
cmd_info(int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("IMAGE - headers, sections, signatures");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx, "Exit status: 0 when the image was read, 2 when it is "
                                        "not a valid PE/COFF image.");
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("pe info: expected one IMAGE; 'vsboot help pe info'");
  GError *error = NULL;
  g_autoptr(VsbPeImage) img = vsb_pe_load(argv[1], &error);
  if (img == NULL)
    return vsb_cli_fail(error);
  g_autoptr(JsonNode) report = info_report(img, &error);
  if (report == NULL)
    return vsb_cli_fail(error);
  if (json)
    vsb_cli_print_json(report);
  else
    print_info(json_node_get_object(report));
  return VSB_EXIT_OK;
}

static int
cmd_hash(int argc, char **argv)
{
  g_autofree char *digest = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "digest", 'd', 0, G_OPTION_ARG_STRING, &digest, "sha1, sha256 (default), sha384, sha512", "ALG" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("IMAGE - the Authenticode hash, as db/dbx hash entries hold it");
  vsb_cli_add_entries(ctx, entries, NULL);
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("pe hash: expected one IMAGE; 'vsboot help pe hash'");
  VsbPeDigest d = VSB_PE_DIGEST_SHA256;
  if (digest && !vsb_pe_digest_from_name(digest, &d))
    return vsb_cli_failf("pe hash: unknown --digest '%s' (sha1, sha256, sha384, sha512)", digest);
  GError *error = NULL;
  g_autoptr(VsbPeImage) img = vsb_pe_load(argv[1], &error);
  if (img == NULL)
    return vsb_cli_fail(error);
  g_autofree char *h = vsb_pe_hash_hex(img, d, &error);
  if (h == NULL)
    return vsb_cli_fail(error);
  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    vsb_cli_jset_str(b, "file", argv[1]);
    vsb_cli_jset_str(b, "digest", vsb_pe_digest_name(d));
    vsb_cli_jset_str(b, "hash", h);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    vsb_cli_print_json(root);
  } else {
    /* Only the hex, so that `--db-hash "$(vsboot pe hash IMAGE)"` works. */
    printf("%s\n", h);
  }
  return VSB_EXIT_OK;
}

/* Certificates of a file as db/dbx X.509 entries (every certificate of a PEM bundle). */
static gboolean
add_cert_entries(GPtrArray *dbase, const char *path, GError **error)
{
  g_autoptr(GPtrArray) certs = vsb_cert_load_all(path, error);
  if (certs == NULL)
    return FALSE;
  for (guint i = 0; i < certs->len; i++) {
    g_autoptr(GBytes) der = vsb_cert_to_der(g_ptr_array_index(certs, i));
    gsize len;
    const guint8 *d = g_bytes_get_data(der, &len);
    g_ptr_array_add(dbase, vsb_sig_entry_new(VSB_SIG_X509, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, d, len));
  }
  return TRUE;
}

static GPtrArray *
store_db(const VsbVarstore *store, const char *name, const char *path, GError **error)
{
  GPtrArray *entries = NULL;
  if (!vsb_siglist_from_store(store, name, &entries, error))
    g_prefix_error(error, "%s: variable ", path);
  return entries;
}

static void
print_verdict(JsonObject *r)
{
  g_autofree char *verdict = g_ascii_strup(vsb_cli_jstr(r, "verdict"), -1);
  printf("%s: %s\n", vsb_cli_jstr(r, "file"), verdict);
  printf("  reason     %s\n", vsb_cli_jstr(r, "reason"));
  if (vsb_cli_jstr(r, "entry-description"))
    printf("  %-10s %s\n", vsb_cli_jstr(r, "database"), vsb_cli_jstr(r, "entry-description"));
  printf("  sha256     %s\n", vsb_cli_jstr(r, "sha256"));
  printf("  keys       %s: db %" G_GINT64_FORMAT " entries, dbx %" G_GINT64_FORMAT " entries\n",
         vsb_cli_jstr(r, "keys-from"), vsb_cli_jint(r, "db-entries"), vsb_cli_jint(r, "dbx-entries"));
  JsonArray *sigs = vsb_cli_jarr(r, "signatures");
  for (guint i = 0; sigs && i < json_array_get_length(sigs); i++) {
    JsonObject *s = json_array_get_object_element(sigs, i);
    printf("  signature %" G_GINT64_FORMAT ": %s (%s)\n", vsb_cli_jint(s, "index"), vsb_cli_jstr(s, "status"),
           vsb_cli_jstr(s, "detail"));
  }
}

/* The db and dbx a verdict is judged against, and whether their store enforces them. */
typedef struct {
  GPtrArray *db, *dbx;
  gboolean enforcing, uncertain;
  const char *mode;
  char *sb_reason;
} VerifyKeys;

static void
verify_keys_clear(VerifyKeys *k)
{
  g_clear_pointer(&k->db, g_ptr_array_unref);
  g_clear_pointer(&k->dbx, g_ptr_array_unref);
  g_clear_pointer(&k->sb_reason, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VerifyKeys, verify_keys_clear)

static gboolean
keys_from_store(const char *vars, VerifyKeys *k, GError **error)
{
  g_autoptr(VsbVarstore) store = vsb_varstore_load(vars, error);
  if (store == NULL)
    return FALSE;
  k->db = store_db(store, "db", vars, error);
  if (*error)
    return FALSE;
  k->dbx = store_db(store, "dbx", vars, error);
  if (*error)
    return FALSE;
  /* Only the verdict is needed: the judgement alone, not the certificate report. */
  g_autoptr(VsbSbJudgement) j = vsb_sb_judge(store);
  k->enforcing = j->verdict == VSB_SB_VERDICT_ENFORCED;
  k->uncertain = j->verdict == VSB_SB_VERDICT_UNCERTAIN;
  k->mode = vsb_secure_boot_mode_name(j->mode);
  k->sb_reason = g_strdup(j->reason);
  return TRUE;
}

/* --dbx-hash values into dbx; FALSE after printing the error (*code set). */
static gboolean
add_dbx_hashes(GPtrArray *dbx, char **hashes, int *code)
{
  for (char **h = hashes; h && *h; h++) {
    /* Name the option and the value: the decoder's message alone ("not a hex digit 'n' at
     * position 0") did not say which argument it was about. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) bytes = vsb_hex_decode(*h, &error);
    if (bytes == NULL) {
      *code = vsb_cli_failf("pe verify: --dbx-hash '%s': %s (expected a SHA-256 hash: 64 hex "
                            "digits)", *h, error->message);
      return FALSE;
    }
    gsize len;
    const guint8 *d = g_bytes_get_data(bytes, &len);
    if (len != 32) {
      *code = vsb_cli_failf("pe verify: --dbx-hash '%s': %zu bytes (%zu hex digits), but a "
                            "SHA-256 hash has 32 bytes (64 hex digits)", *h, len, len * 2);
      return FALSE;
    }
    g_ptr_array_add(dbx, vsb_sig_entry_new(VSB_SIG_SHA256, &VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, d,
                                           len));
  }
  return TRUE;
}

/* --db, --dbx-cert and --dbx-hash: keys given on the command line are enforced. FALSE after
 * printing the error (*code set). */
static gboolean
keys_from_options(char **db_certs, char **dbx_hashes, char **dbx_certs, VerifyKeys *k,
                  int *code)
{
  GError *error = NULL;
  k->enforcing = TRUE;
  k->db = vsb_sig_entry_array_new();
  for (char **c = db_certs; c && *c; c++)
    if (!add_cert_entries(k->db, *c, &error)) {
      *code = vsb_cli_fail(error);
      return FALSE;
    }
  if (dbx_hashes || dbx_certs)
    k->dbx = vsb_sig_entry_array_new();
  for (char **c = dbx_certs; c && *c; c++)
    if (!add_cert_entries(k->dbx, *c, &error)) {
      *code = vsb_cli_fail(error);
      return FALSE;
    }
  return add_dbx_hashes(k->dbx, dbx_hashes, code);
}

/* Why: the keys' reason, or why the store makes it moot or unsure. */
static char *
verdict_reason(const VerifyKeys *k, const VsbAuthenticodeVerdict *v)
{
  const char *would = v->allowed ? "allowed" : "denied";
  if (k->uncertain)
    return g_strdup_printf("vsboot cannot be sure this store enforces Secure Boot (%s); with "
                           "these keys the image would be %s: %s", k->sb_reason, would,
                           v->reason);
  if (!k->enforcing)
    return g_strdup_printf("Secure Boot is not enforced by this store (%s mode): the firmware "
                           "runs any image; with these keys it would be %s: %s", k->mode, would,
                           v->reason);
  return g_strdup(v->reason);
}

static void
jset_index(JsonBuilder *b, const char *member, gint64 index)
{
  json_builder_set_member_name(b, member);
  if (index >= 0)
    json_builder_add_int_value(b, index);
  else
    json_builder_add_null_value(b);
}

static void
sig_results_json(JsonBuilder *b, const VsbAuthenticodeVerdict *v)
{
  json_builder_set_member_name(b, "signatures");
  json_builder_begin_array(b);
  for (guint i = 0; i < v->signatures->len; i++) {
    VsbAuthenticodeSigResult *r = g_ptr_array_index(v->signatures, i);
    json_builder_begin_object(b);
    vsb_cli_jset_int(b, "index", r->index);
    vsb_cli_jset_str(b, "status", r->status);
    vsb_cli_jset_str(b, "detail", r->detail);
    vsb_cli_jset_str(b, "digest", r->digest_known ? vsb_pe_digest_name(r->digest) : NULL);
    vsb_cli_jset_str(b, "image-hash", r->image_hash);
    vsb_cli_jset_bool(b, "hash-matches", r->digest_matches);
    vsb_cli_jset_str(b, "signer", r->signer);
    vsb_cli_jset_str(b, "signer-issuer", r->signer_issuer);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static JsonNode *
verdict_json(const char *file, const char *vars, const VerifyKeys *k,
             const VsbAuthenticodeVerdict *v)
{
  gboolean allowed = v->allowed || !k->enforcing;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "file", file);
  vsb_cli_jset_str(b, "verdict", k->uncertain ? "uncertain" : allowed ? "allowed" : "denied");
  g_autofree char *why = verdict_reason(k, v);
  vsb_cli_jset_str(b, "reason", why);
  vsb_cli_jset_bool(b, "enforcing", k->enforcing);
  vsb_cli_jset_str(b, "keys-verdict", v->allowed ? "allowed" : "denied");
  vsb_cli_jset_str(b, "keys-from", vars ? vars : "command line");
  vsb_cli_jset_int(b, "db-entries", k->db ? k->db->len : 0);
  vsb_cli_jset_int(b, "dbx-entries", k->dbx ? k->dbx->len : 0);
  jset_index(b, "signature", v->signature);
  vsb_cli_jset_str(b, "database", v->database);
  jset_index(b, "entry", v->entry);
  vsb_cli_jset_str(b, "entry-description", v->entry_desc);
  vsb_cli_jset_bool(b, "signed", v->is_signed);
  vsb_cli_jset_str(b, "sha256", v->sha256);
  sig_results_json(b, v);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static int
cmd_verify(int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *vars = NULL;
  g_auto(GStrv) db_certs = NULL, dbx_hashes = NULL, dbx_certs = NULL;
  GOptionEntry entries[] = {
    { "vars", 0, 0, G_OPTION_ARG_FILENAME, &vars, "Take db and dbx from this variable store", "VARS" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &db_certs, "A certificate (PEM/DER) in db (repeatable)", "CERT" },
    { "dbx-hash", 0, 0, G_OPTION_ARG_STRING_ARRAY, &dbx_hashes, "A SHA-256 image hash in dbx (repeatable)", "HEX" },
    { "dbx-cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &dbx_certs, "A certificate in dbx (repeatable)", "CERT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("IMAGE - would the firmware run it, with these db/dbx?");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx,
    "Decides as edk2's DxeImageVerificationLib does (OVMF, AAVMF): denied when the image\n"
    "hash or a signing certificate is in dbx, allowed when a signature verifies against a\n"
    "certificate in db (anywhere in the chain; dates and key usage are not checked) or the\n"
    "image hash is in db, otherwise denied. A store that is not in user mode (no PK, or\n"
    "SecureBootEnable=0) enforces nothing: every image is allowed.\n"
    "Exit status: 0 allowed, 1 denied, 2 bad input.");
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("pe verify: expected one IMAGE; 'vsboot help pe verify'");
  if ((vars != NULL) == (db_certs != NULL || dbx_hashes != NULL || dbx_certs != NULL))
    return vsb_cli_failf("pe verify: give either --vars VARS or --db/--dbx-hash/--dbx-cert");
  GError *error = NULL;
  g_auto(VerifyKeys) k = { NULL };
  if (vars ? !keys_from_store(vars, &k, &error)
           : !keys_from_options(db_certs, dbx_hashes, dbx_certs, &k, &code))
    return vars ? vsb_cli_fail(error) : code;
  g_autoptr(VsbPeImage) img = vsb_pe_load(argv[1], &error);
  if (img == NULL)
    return vsb_cli_fail(error);
  g_autoptr(VsbAuthenticodeVerdict) v = vsb_authenticode_verify(img, k.db, k.dbx, &error);
  if (v == NULL)
    return vsb_cli_fail(error);

  g_autoptr(JsonNode) root = verdict_json(argv[1], vars, &k, v);
  if (json)
    vsb_cli_print_json(root);
  else
    print_verdict(json_node_get_object(root));
  /* Uncertain is no confirmed "allowed": a script asking "will it run?" gets no yes. */
  return (v->allowed || !k.enforcing) && !k.uncertain ? VSB_EXIT_OK : VSB_EXIT_NEGATIVE;
}

static int
cmd_sign(int argc, char **argv)
{
  g_autofree char *key = NULL, *cert = NULL, *out = NULL;
  g_auto(GStrv) extra = NULL;
  GOptionEntry entries[] = {
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key, "Private key (PEM or DER)", "KEY" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "Signer certificate (PEM or DER)", "CERT" },
    { "addcert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &extra, "Intermediate certificates to include (repeatable)", "CERT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the signed image here (default: in place)", "OUT" },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new("IMAGE - add an Authenticode signature (SHA-256), as sbsign does");
  vsb_cli_add_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx,
    "An existing signature is kept: the new one is appended as a further certificate table\n"
    "entry. The output is written atomically.");
  int code;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("pe sign: expected one IMAGE; 'vsboot help pe sign'");
  if (key == NULL || cert == NULL)
    return vsb_cli_failf("pe sign: --key and --cert are required");
  GError *error = NULL;
  g_autoptr(VsbCertificate) x = vsb_certificate_load(cert, &error);
  if (x == NULL)
    return vsb_cli_fail(error);
  g_autoptr(VsbPrivateKey) pkey = vsb_private_key_load(key, &error);
  if (pkey == NULL)
    return vsb_cli_fail(error);
  g_autoptr(GPtrArray) extras =
    g_ptr_array_new_with_free_func((GDestroyNotify)vsb_certificate_unref);
  for (char **e = extra; e && *e; e++) {
    VsbCertificate *c = vsb_certificate_load(*e, &error);
    if (c == NULL)
      return vsb_cli_fail(error);
    g_ptr_array_add(extras, c);
  }
  g_autoptr(VsbPeImage) img = vsb_pe_load(argv[1], &error);
  if (img == NULL)
    return vsb_cli_fail(error);
  g_autoptr(GBytes) signed_img = vsb_authenticode_sign(img, x, pkey, extras, &error);
  if (signed_img == NULL)
    return vsb_cli_fail(error);
  const char *dest = out ? out : argv[1];
  struct stat st;
  int mode = stat(argv[1], &st) == 0 ? (int)(st.st_mode & 0777) : 0644;
  gsize len;
  const guint8 *d = g_bytes_get_data(signed_img, &len);
  if (!vsb_file_write_atomic(dest, d, len, mode, FALSE, &error))
    return vsb_cli_fail(error);
  guint n;
  vsb_pe_get_certificates(img, &n);
  g_autofree char *subject = vsb_certificate_get_subject(x);
  fprintf(stderr, "vsboot: signed %s as signature %u by %s\n", dest, n, subject);
  return VSB_EXIT_OK;
}

static int
pe_run(int argc, char **argv)
{
  static const VsbCliSubcommand subs[] = {
    { "info", cmd_info },
    { "hash", cmd_hash },
    { "verify", cmd_verify },
    { "sign", cmd_sign },
  };
  return vsb_cli_dispatch(pe_usage, subs, G_N_ELEMENTS(subs), argc, argv);
}

const VsbCliCommand vsb_cli_pe = { "pe", "EFI binaries: info, hash, verify, sign", pe_run };
