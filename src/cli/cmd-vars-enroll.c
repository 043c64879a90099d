/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot vars enroll: put PK/KEK/db/dbx into a variable store and turn Secure Boot on or off.
 * Everything is read and checked first; the store is written once, atomically, at the end. */
#include "cli.h"

#include "vsboot/authvar.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/guid.h"
#include "vsboot/mscerts.h"
#include "vsboot/pe.h"
#include "vsboot/rollover.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  char *path;
  GPtrArray *certs; /* X509* */
} CertFile;

static void
cert_file_free(gpointer p)
{
  CertFile *f = p;
  g_free(f->path);
  if (f->certs)
    g_ptr_array_unref(f->certs);
  g_free(f);
}

/* Load every file of paths (all certificates of each); NULL with the error on the first bad one. */
static GPtrArray *
load_cert_files(char **paths, const char *option, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(cert_file_free);
  for (char **p = paths; p && *p; p++) {
    g_autoptr(GError) local = NULL;
    GPtrArray *certs = vsb_cert_load_all(*p, &local);
    if (certs == NULL) {
      g_set_error(error, VSB_ERROR, local->code, "%s: %s", option, local->message);
      g_ptr_array_unref(out);
      return NULL;
    }
    CertFile *f = g_new0(CertFile, 1);
    f->path = g_strdup(*p);
    f->certs = certs;
    g_ptr_array_add(out, f);
  }
  return out;
}

typedef struct {
  guint8 h[32];
} Sha256;

static GArray *
parse_hashes(char **texts, const char *option, GError **error)
{
  GArray *out = g_array_new(FALSE, FALSE, sizeof(Sha256));
  for (char **t = texts; t && *t; t++) {
    g_autoptr(GError) local = NULL;
    g_autoptr(GBytes) bytes = vsb_hex_decode(*t, &local);
    if (bytes == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s '%s': not a SHA-256 hash: %s", option,
                  *t, local->message);
      g_array_unref(out);
      return NULL;
    }
    if (g_bytes_get_size(bytes) != 32) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "%s '%s': not a SHA-256 hash: %" G_GSIZE_FORMAT " bytes, expected 32 "
                  "(64 hex digits)", option, *t, g_bytes_get_size(bytes));
      g_array_unref(out);
      return NULL;
    }
    Sha256 h;
    memcpy(h.h, g_bytes_get_data(bytes, NULL), 32);
    g_array_append_val(out, h);
  }
  return out;
}

static gboolean
add_cert_files(VsbEnroll *e, VsbSbVariable var, GPtrArray *files, const VsbGuid *owner,
               GError **error)
{
  for (guint i = 0; files && i < files->len; i++) {
    CertFile *f = files->pdata[i];
    for (guint j = 0; j < f->certs->len; j++)
      if (!vsb_enroll_add_cert(e, var, f->certs->pdata[j], owner, error))
        return FALSE;
  }
  return TRUE;
}

typedef struct _Steps Steps;
/* Everything the command line asks for, read and checked before the store is touched. The
 * loaded inputs are owned (steps_clear); the strings belong to the option parser. */
struct _Steps {
  char **del;
  VsbVarstore *source;
  char **copy;
  GPtrArray *pk_files, *kek_files, *db_files, *dbx_files;
  GArray *db_hashes, *dbx_hashes;
  /* Signed updates, KEK, db, dbx (VsbAuthvarUpdate*), and what applying them did. */
  GPtrArray *updates[3];
  char **update_paths[3];
  GPtrArray *results;       /* VsbAuthvarResult* */
  GPtrArray *result_files;  /* char* (borrowed), parallel to results */
  gboolean unsigned_ok;
  /* --check-boot images (VsbPeImage*) and their names (borrowed). */
  GPtrArray *boot_images;
  char **boot_names;
  gboolean secure_boot, sb_on;
  VsbGuid owner;
  guint microsoft;    /* VsbMsCertSet of --microsoft */
};

static void
steps_clear(Steps *s)
{
  g_clear_pointer(&s->source, vsb_varstore_free);
  g_clear_pointer(&s->pk_files, g_ptr_array_unref);
  g_clear_pointer(&s->kek_files, g_ptr_array_unref);
  g_clear_pointer(&s->db_files, g_ptr_array_unref);
  g_clear_pointer(&s->dbx_files, g_ptr_array_unref);
  g_clear_pointer(&s->db_hashes, g_array_unref);
  g_clear_pointer(&s->dbx_hashes, g_array_unref);
  for (int i = 0; i < 3; i++)
    g_clear_pointer(&s->updates[i], g_ptr_array_unref);
  g_clear_pointer(&s->results, g_ptr_array_unref);
  g_clear_pointer(&s->result_files, g_ptr_array_unref);
  g_clear_pointer(&s->boot_images, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Steps, steps_clear)

static void
add_string(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void
add_int(JsonBuilder *b, const char *member, gint64 value)
{
  json_builder_set_member_name(b, member);
  json_builder_add_int_value(b, value);
}

static void
add_strings(JsonBuilder *b, const char *member, GPtrArray *strings)
{
  json_builder_set_member_name(b, member);
  json_builder_begin_array(b);
  for (guint i = 0; strings && i < strings->len; i++)
    json_builder_add_string_value(b, strings->pdata[i]);
  json_builder_end_array(b);
}

/* One applied signed update, as the report gives it. */
static void
update_json(JsonBuilder *b, const char *file, const VsbAuthvarResult *r)
{
  json_builder_begin_object(b);
  add_string(b, "file", file);
  add_string(b, "variable", r->variable);
  add_string(b, "mode", vsb_authvar_mode_name(r->mode));
  add_int(b, "attributes", r->attributes);
  json_builder_set_member_name(b, "verified");
  json_builder_add_boolean_value(b, r->verified);
  add_string(b, "unverified-reason", r->unverified_reason);
  add_string(b, "signer", r->signer);
  add_string(b, "trusted-through", r->trust_variable);
  add_string(b, "trusted-certificate", r->trust_subject);
  add_int(b, "entries-added", r->entries_added);
  add_int(b, "entries-present", r->entries_present);
  add_int(b, "entries-after", r->entries_after);
  g_autofree char *before = vsb_efi_time_to_string(&r->time_before);
  g_autofree char *after = vsb_efi_time_to_string(&r->time_after);
  add_string(b, "time-before", before);
  add_string(b, "time-after", after);
  json_builder_set_member_name(b, "changed");
  json_builder_add_boolean_value(b, r->changed);
  json_builder_end_object(b);
}

static JsonNode *
report_json(const char *input, const char *output, const VsbVarstore *store, GPtrArray *changes,
            const Steps *steps, GPtrArray *boot_lines, GPtrArray *warnings)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  add_string(b, "input", input);
  add_string(b, "output", output);
  json_builder_set_member_name(b, "changes");
  json_builder_begin_array(b);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    json_builder_begin_object(b);
    add_string(b, "action", c->action);
    add_string(b, "variable", c->variable);
    add_string(b, "guid", vsb_guid_format(&c->guid, g));
    add_string(b, "detail", c->detail);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "updates");
  json_builder_begin_array(b);
  for (guint i = 0; steps->results && i < steps->results->len; i++)
    update_json(b, steps->result_files->pdata[i], steps->results->pdata[i]);
  json_builder_end_array(b);
  add_strings(b, "boot-checks", boot_lines);
  add_strings(b, "warnings", warnings);
  add_int(b, "used", (gint64)vsb_varstore_get_used(store));
  add_int(b, "capacity", (gint64)vsb_varstore_get_capacity(store));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
report_text(const char *input, const char *output, const char *written, const VsbVarstore *store,
            GPtrArray *changes, const Steps *steps, GPtrArray *boot_lines, GPtrArray *warnings)
{
  if (g_strcmp0(input, output) == 0 && g_strcmp0(output, written) != 0)
    printf("Updated %s in place (through the symbolic link %s)\n", written, output);
  else if (g_strcmp0(input, output) == 0)
    printf("Updated %s in place\n", output);
  else
    printf("Wrote %s (from %s)\n", output, input);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    printf("  %-8s %-17s %s\n", c->action, c->variable, c->detail);
  }
  for (guint i = 0; steps->results && i < steps->results->len; i++) {
    const VsbAuthvarResult *r = steps->results->pdata[i];
    printf("  %-8s %-17s %s: %u added, %u already there", "update", r->variable,
           (const char *)steps->result_files->pdata[i], r->entries_added, r->entries_present);
    if (r->verified)
      printf("; %s, signed by %s, trusted through %s (%s)\n", vsb_authvar_mode_name(r->mode),
             r->signer ? r->signer : "?", r->trust_variable, r->trust_subject);
    else
      printf("; %s WITHOUT a verified signature (--unsigned-update): %s\n",
             vsb_authvar_mode_name(r->mode), r->unverified_reason);
  }
  for (guint i = 0; boot_lines && i < boot_lines->len; i++)
    printf("  boot     %s\n", (const char *)boot_lines->pdata[i]);
  if (vsb_varstore_get_layout(store) == VSB_VARSTORE_LAYOUT_NONE) /* JSON: no fixed room */
    printf("Store: %s, %" G_GSIZE_FORMAT " bytes of variables as a flash store counts them\n",
           vsb_varstore_get_format(store), vsb_varstore_get_used(store));
  else
    printf("Store: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes used\n",
           vsb_varstore_get_used(store), vsb_varstore_get_capacity(store));
  for (guint i = 0; i < warnings->len; i++)
    fprintf(stderr, "vsboot: warning: %s\n", (const char *)warnings->pdata[i]);
}

/* The firmware measures PK, KEK, db and dbx into PCR 7 at every boot: a guest that seals a
 * secret to PCR 7 (BitLocker, systemd-cryptenroll --tpm2-pcrs=7) will not unseal it after the
 * change. */
static void
add_pcr7_warning(GPtrArray *changes, GPtrArray *results, GPtrArray *warnings)
{
  gboolean changed = FALSE;
  for (guint i = 0; results && i < results->len; i++)
    changed |= ((VsbAuthvarResult *)results->pdata[i])->changed;
  for (guint i = 0; i < changes->len && !changed; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    changed = g_strcmp0(c->action, "skip") != 0 &&
              (g_str_equal(c->variable, "PK") || g_str_equal(c->variable, "KEK") ||
               g_str_equal(c->variable, "db") || g_str_equal(c->variable, "dbx"));
  }
  if (changed)
    g_ptr_array_add(warnings, g_strdup(
      "PK/KEK/db/dbx changed: what the firmware measures into PCR 7 changes, so BitLocker or "
      "any TPM-sealed secret in the guest will ask for recovery at the next boot unless it is "
      "suspended first (manage-bde -protectors -disable C: -RebootCount 1)"));
}

/* A refusal of the change itself (a signed update the firmware would refuse, a boot check):
 * exit 1, a negative answer; a malformed input file: exit 2. Nothing is written either way. */
static int
fail_refused(GError *error)
{
  gboolean negative = error->domain == VSB_AUTHVAR_ERROR &&
                      error->code != VSB_AUTHVAR_ERROR_MALFORMED;
  fprintf(stderr, "vsboot: %s; nothing was written\n", error->message);
  g_error_free(error);
  return negative ? VSB_EXIT_NEGATIVE : VSB_EXIT_USAGE;
}

/* Read-modify-write: take the edit lock of the real file before the load and keep it (in
 * *lock) until after the save, so that concurrent editors queue instead of losing each other's
 * changes. --in-place FILE is locked (through a symlink: the real file, whose path lands in
 * *save_path); for -o, OUT is locked when it exists (IN may be OUT). */
static VsbVarstore *
lock_and_load(const char *input, const char *target, gboolean in_place, gboolean force,
              VsbFileLock **lock, const char **save_path, GError **error)
{
  const char *load_path = input;
  struct stat st;
  *save_path = target;
  if (in_place || (lstat(target, &st) == 0 && S_ISREG(st.st_mode))) {
    if (!(*lock = vsb_varstore_lock_edit(target, force, error)))
      return NULL;
    *save_path = vsb_file_lock_get_path(*lock);
    if (in_place)
      load_path = *save_path;
  }
  return vsb_varstore_load(load_path, error);
}

/* Read and check every input file and value into s before anything is touched. */
static gboolean
read_inputs(Steps *s, const char *pk, char **kek, char **db, char **dbx_cert, char **db_hash,
            char **dbx_hash, const char *copy_from, GError **error)
{
  char *pk_list[] = { (char *)pk, NULL };
  if (pk) {
    if (!(s->pk_files = load_cert_files(pk_list, "--pk", error)))
      return FALSE;
    CertFile *f = s->pk_files->pdata[0];
    if (f->certs->len != 1) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "--pk: %s holds %u certificates; PK takes exactly one", pk, f->certs->len);
      return FALSE;
    }
  }
  if ((kek && !(s->kek_files = load_cert_files(kek, "--kek", error))) ||
      (db && !(s->db_files = load_cert_files(db, "--db", error))) ||
      (dbx_cert && !(s->dbx_files = load_cert_files(dbx_cert, "--dbx-cert", error))))
    return FALSE;
  if ((db_hash && !(s->db_hashes = parse_hashes(db_hash, "--db-hash", error))) ||
      (dbx_hash && !(s->dbx_hashes = parse_hashes(dbx_hash, "--dbx-hash", error))))
    return FALSE;
  static const char *const update_opts[] = { "--kek-update", "--db-update", "--dbx-update" };
  for (int i = 0; i < 3; i++) {
    s->updates[i] = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_authvar_update_free);
    for (char **f = s->update_paths[i]; f && *f; f++) {
      VsbAuthvarUpdate *u = vsb_authvar_load(*f, error);
      if (u == NULL) {
        g_prefix_error(error, "%s: ", update_opts[i]);
        return FALSE;
      }
      g_ptr_array_add(s->updates[i], u);
    }
  }
  s->boot_images = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_pe_image_free);
  for (char **f = s->boot_names; f && *f; f++) {
    VsbPeImage *img = vsb_pe_load(*f, error);
    if (img == NULL) {
      g_prefix_error(error, "--check-boot: ");
      return FALSE;
    }
    g_ptr_array_add(s->boot_images, img);
  }
  return !copy_from || (s->source = vsb_varstore_load(copy_from, error)) != NULL;
}

/* The signed updates, KEK first (a new KEK may be what trusts the db/dbx updates), each
 * verified against the store as it is at that point, as the firmware would in that order. */
static gboolean
apply_updates(VsbVarstore *store, Steps *s, GError **error)
{
  static const char *const names[] = { "KEK", "db", "dbx" };
  VsbAuthvarOptions opts = { .attributes = 0, .unsigned_ok = s->unsigned_ok };
  s->results = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_authvar_result_free);
  s->result_files = g_ptr_array_new();
  for (int i = 0; i < 3; i++) {
    for (guint j = 0; j < s->updates[i]->len; j++) {
      VsbAuthvarResult *r =
        vsb_authvar_apply(store, s->updates[i]->pdata[j], names[i], NULL, &opts, error);
      if (r == NULL)
        return FALSE;
      g_ptr_array_add(s->results, r);
      g_ptr_array_add(s->result_files, s->update_paths[i][j]);
    }
  }
  return TRUE;
}

/* The steps, in their fixed order, whatever the command line's order. */
static gboolean
apply_steps(VsbEnroll *e, VsbVarstore *store, Steps *s, GError **error)
{
  for (char **d = s->del; d && *d; d++)
    if (!vsb_enroll_delete(e, *d, error))
      return FALSE;
  if (s->source) {
    static const char *const defaults[] = { "KEK", "db", "dbx", NULL };
    const char *const *names = s->copy ? (const char *const *)s->copy : defaults;
    for (const char *const *n = names; *n; n++)
      if (!vsb_enroll_copy(e, s->source, *n, s->copy != NULL, error))
        return FALSE;
  }
  if (s->pk_files) {
    CertFile *f = s->pk_files->pdata[0];
    if (!vsb_enroll_set_pk(e, f->certs->pdata[0], &s->owner, error))
      return FALSE;
  }
  if (s->microsoft && !vsb_enroll_add_microsoft(e, s->microsoft, error))
    return FALSE;
  if (!add_cert_files(e, VSB_SB_KEK, s->kek_files, &s->owner, error) ||
      !add_cert_files(e, VSB_SB_DB, s->db_files, &s->owner, error))
    return FALSE;
  for (guint i = 0; s->db_hashes && i < s->db_hashes->len; i++)
    if (!vsb_enroll_add_hash(e, VSB_SB_DB, g_array_index(s->db_hashes, Sha256, i).h, &s->owner,
                             error))
      return FALSE;
  if (!apply_updates(store, s, error))
    return FALSE;
  if (!add_cert_files(e, VSB_SB_DBX, s->dbx_files, &s->owner, error))
    return FALSE;
  for (guint i = 0; s->dbx_hashes && i < s->dbx_hashes->len; i++)
    if (!vsb_enroll_add_hash(e, VSB_SB_DBX, g_array_index(s->dbx_hashes, Sha256, i).h, &s->owner,
                             error))
      return FALSE;
  return !s->secure_boot || vsb_enroll_set_secure_boot(e, s->sb_on, error);
}

int
vsb_cli_vars_enroll(int argc, char **argv)
{
  g_autofree char *output = NULL, *in_place = NULL, *pk = NULL, *owner_text = NULL;
  g_autofree char *copy_from = NULL, *secure_boot = NULL;
  g_auto(GStrv) kek = NULL, db = NULL, db_hash = NULL, dbx_hash = NULL, dbx_cert = NULL;
  g_auto(GStrv) copy = NULL, del = NULL, microsoft = NULL, check_boot = NULL;
  g_auto(GStrv) kek_update = NULL, db_update = NULL, dbx_update = NULL;
  gboolean force = FALSE, json = FALSE, unsigned_update = FALSE;
  static const char *const notes[] = {
    "--pk", ": PK holds exactly one certificate",
    NULL,
  };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write the result to OUT", "OUT" },
    { "in-place", 0, 0, G_OPTION_ARG_FILENAME, &in_place, "Edit FILE itself (instead of IN -o OUT)",
      "FILE" },
    { "pk", 0, 0, G_OPTION_ARG_FILENAME, &pk, "Replace PK with this certificate (PEM or DER)",
      "CERT" },
    { "kek", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &kek, "Add the certificate(s) to KEK", "CERT" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &db, "Add the certificate(s) to db", "CERT" },
    { "microsoft", 0, 0, G_OPTION_ARG_STRING_ARRAY, &microsoft,
      "Add Microsoft's CA certificates (shipped with vsboot) with Microsoft's owner GUID: 2023 "
      "(kek-2023, windows-2023, uefi-2023, option-rom-2023), 2011, or single ids "
      "(repeatable)", "SET" },
    { "db-hash", 0, 0, G_OPTION_ARG_STRING_ARRAY, &db_hash, "Add a SHA-256 image hash to db",
      "SHA256" },
    { "dbx-hash", 0, 0, G_OPTION_ARG_STRING_ARRAY, &dbx_hash, "Add a SHA-256 image hash to dbx",
      "SHA256" },
    { "dbx-cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &dbx_cert, "Add the certificate(s) to dbx",
      "CERT" },
    { "kek-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &kek_update,
      "Apply a signed KEK update (AUTH_2 file such as KEKUpdate_*.bin): its signature must "
      "verify against PK (repeatable)", "AUTH" },
    { "db-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &db_update,
      "Apply a signed db update (DBUpdate*.bin): its signature must verify against KEK or PK; "
      "the signed attributes decide append or replace (repeatable)", "AUTH" },
    { "dbx-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &dbx_update,
      "Apply a signed dbx update (DBXUpdate*.bin), verified like --db-update (repeatable)",
      "AUTH" },
    { "unsigned-update", 0, 0, G_OPTION_ARG_NONE, &unsigned_update,
      "Apply updates whose signature does not verify or whose signer the store does not trust "
      "(the report says so); an offline edit bypasses the firmware's check anyway", NULL },
    { "check-boot", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &check_boot,
      "An EFI image the VM boots: refuse the change (exit 1) if it verifies against the store "
      "now and would not after (repeatable)", "IMAGE" },
    { "owner", 0, 0, G_OPTION_ARG_STRING, &owner_text,
      "Owner GUID of added entries (default a0baa8a3-041d-48a8-bc87-c36d121b5e3d, "
      "OvmfEnrollDefaultKeys, as virt-fw-vars)", "GUID" },
    { "copy-from", 0, 0, G_OPTION_ARG_FILENAME, &copy_from,
      "Copy variables from another store (default KEK, db and dbx)", "VARSFILE" },
    { "copy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &copy, "A variable to copy with --copy-from",
      "NAME" },
    { "delete", 0, 0, G_OPTION_ARG_STRING_ARRAY, &del, "Delete the variable", "NAME" },
    { "secure-boot", 0, 0, G_OPTION_ARG_STRING, &secure_boot,
      "on: SecureBootEnable=1, CustomMode=0 and a placeholder dbx when there is none; "
      "off: SecureBootEnable=0", "on|off" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Write even when a running QEMU holds the file, or when the dbx would revoke Windows "
      "Production PCA 2011 while db lacks Windows UEFI CA 2023", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Report what changed as JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("IN -o OUT | --in-place FILE");
  g_option_context_set_summary(ctx,
    "Enroll Secure Boot keys into an edk2 variable store, offline, as virt-fw-vars does\n"
    "(raw signature lists, one X.509 list per certificate, attributes 0x27, forward-only\n"
    "time stamps). Steps run in this order, whatever the command line says: --delete,\n"
    "--copy-from, --pk, --microsoft, --kek, --db, --db-hash, --kek-update, --db-update,\n"
    "--dbx-update, --dbx-cert, --dbx-hash, --secure-boot. Signed updates are verified as the\n"
    "firmware verifies them (db/dbx against KEK or PK, KEK against PK) and never move a time\n"
    "stamp backwards. Everything is checked before anything is written; the output is written\n"
    "atomically, or not at all.\n"
    "\n"
    "The Microsoft 2023 CA rollover, VM stopped: 1. look: vsboot vars show VARS (which\n"
    "Microsoft CAs it trusts, how old its dbx is); 2. add the 2023 CAs: --in-place VARS\n"
    "--microsoft 2023 --check-boot LOADER; 3. apply Microsoft's signed updates: --db-update\n"
    "DBUpdate2024.bin --dbx-update DBXUpdate.amd64.bin --check-boot LOADER; 4. check it\n"
    "still boots: vsboot pe verify LOADER --vars VARS. Any KEK/db/dbx change alters PCR 7:\n"
    "suspend BitLocker first.");
  vsb_cli_add_entries(ctx, entries, notes);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;

  /* Usage. */
  const char *input;
  const char *target;
  if (in_place) {
    if (argc != 1 || output)
      return vsb_cli_failf("vars enroll: --in-place FILE takes no IN and no -o; "
                           "try 'vsboot help vars enroll'");
    input = target = in_place;
  } else {
    if (argc != 2 || output == NULL)
      return vsb_cli_failf("vars enroll: expected IN -o OUT or --in-place FILE; "
                           "try 'vsboot help vars enroll'");
    input = argv[1];
    target = output;
  }
  gboolean sb_on = FALSE;
  if (secure_boot) {
    if (g_strcmp0(secure_boot, "on") == 0)
      sb_on = TRUE;
    else if (g_strcmp0(secure_boot, "off") != 0)
      return vsb_cli_failf("vars enroll: --secure-boot takes on or off, not '%s'", secure_boot);
  }
  if (copy && !copy_from)
    return vsb_cli_failf("vars enroll: --copy needs --copy-from VARSFILE");
  if (!pk && !kek && !db && !db_hash && !dbx_hash && !dbx_cert && !dbx_update && !copy_from &&
      !del && !secure_boot && !microsoft && !kek_update && !db_update)
    return vsb_cli_failf("vars enroll: nothing to do; give --pk, --kek, --db, --secure-boot, ...");

  g_auto(Steps) steps = {
    .del = del, .copy = copy, .secure_boot = secure_boot != NULL, .sb_on = sb_on,
    .owner = VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS, .unsigned_ok = unsigned_update,
    .update_paths = { kek_update, db_update, dbx_update }, .boot_names = check_boot,
  };
  if (owner_text && !vsb_guid_parse(owner_text, &steps.owner))
    return vsb_cli_failf("vars enroll: --owner '%s' is not a GUID "
                         "(expected the form 8be4df61-93ca-11d2-aa0d-00e098032b8c)", owner_text);
  GError *error = NULL;
  for (char **m = microsoft; m && *m; m++) {
    VsbMsCertSet set = 0;
    if (!vsb_ms_cert_set_parse(*m, &set, &error)) {
      g_prefix_error(&error, "vars enroll: --microsoft: ");
      return vsb_cli_fail(error);
    }
    steps.microsoft |= set;
  }
  if (!read_inputs(&steps, pk, kek, db, dbx_cert, db_hash, dbx_hash, copy_from, &error))
    return vsb_cli_fail(error);

  g_autoptr(VsbFileLock) lock = NULL;
  const char *save_path = target;
  g_autoptr(VsbVarstore) store =
    lock_and_load(input, target, in_place != NULL, force, &lock, &save_path, &error);
  if (store == NULL)
    return vsb_cli_vars_fail(error);
  g_autoptr(VsbBootCheck) boot = vsb_boot_check_new(store, steps.boot_images,
                                                    (const char *const *)check_boot, &error);
  if (boot == NULL)
    return vsb_cli_fail(error);
  gboolean pca_revoked_before = vsb_rollover_pca2011_revoked(store);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  if (!apply_steps(e, store, &steps, &error))
    return fail_refused(error);
  /* Never brick the VM: nothing is written when a boot check or Microsoft's rule says no. */
  if (!vsb_boot_check_after(boot, store, &error)) {
    fprintf(stderr, "vsboot: refused: %s\n", error->message);
    g_clear_error(&error);
    return VSB_EXIT_NEGATIVE;
  }
  if (!force && !vsb_rollover_check_pca2011(pca_revoked_before, store, &error)) {
    fprintf(stderr, "vsboot: refused: %s (pass --force to write anyway)\n", error->message);
    g_clear_error(&error);
    return VSB_EXIT_NEGATIVE;
  }

  /* A replaced file keeps its mode and owner (a 0640 store stays 0640); a new one is 0644.
   * In place through a symlink, the real file is replaced and the link stays. */
  VsbWriteOptions wopts = { .mode = 0644, .keep_mode = TRUE, .follow_final_symlink = in_place != NULL };
  if (!vsb_varstore_save_full(store, save_path, &wopts, force, &error))
    return vsb_cli_vars_fail(error);

  GPtrArray *changes = vsb_enroll_get_changes(e);
  g_autoptr(GPtrArray) warnings = vsb_enroll_check(e);
  add_pcr7_warning(changes, steps.results, warnings);
  g_autoptr(GPtrArray) boot_lines = vsb_boot_check_report(boot);
  if (json) {
    g_autoptr(JsonNode) node = report_json(input, target, store, changes, &steps, boot_lines,
                                           warnings);
    vsb_cli_print_json(node);
  } else {
    report_text(input, target, save_path, store, changes, &steps, boot_lines, warnings);
  }
  return VSB_EXIT_OK;
}
