/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot vars enroll: put PK/KEK/db/dbx into a variable store and turn Secure Boot on or off.
 * Everything is read and checked first; the store is written once, atomically, at the end. */
#include "cli.h"

#include "vsboot/authvar.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "vsboot/guid.h"
#include "vsboot/mscerts.h"
#include "vsboot/pe.h"
#include "vsboot/rollover.h"
#include "vsboot/secureboot.h"
#include "secureboot-ossl.h"
#include "vsboot/siglist.h"
#include "siglist-ossl.h"
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

/* One signed update of --kek-update/--db-update/--dbx-update, and what applying it did. */
typedef struct {
  const char *path;         /* borrowed from the option parser */
  const char *variable;     /* KEK, db, dbx */
  VsbAuthvarUpdate *update;
  VsbAuthvarResult *result; /* NULL until applied */
} Update;

static void
update_free(gpointer p)
{
  Update *u = p;
  vsb_authvar_update_free(u->update);
  if (u->result)
    vsb_authvar_result_free(u->result);
  g_free(u);
}

/* Every option of the command line, as the parser fills it. */
typedef struct {
  char *output, *in_place, *pk, *owner_text, *copy_from, *secure_boot;
  char **kek, **db, **db_hash, **dbx_hash, **dbx_cert, **copy, **del, **microsoft, **check_boot;
  char **update_paths[3];   /* --kek-update, --db-update, --dbx-update */
  gboolean force, json, unsigned_update;
} Options;

static void
options_clear(Options *o)
{
  g_free(o->output);
  g_free(o->in_place);
  g_free(o->pk);
  g_free(o->owner_text);
  g_free(o->copy_from);
  g_free(o->secure_boot);
  char **lists[] = { o->kek, o->db, o->db_hash, o->dbx_hash, o->dbx_cert, o->copy, o->del,
                     o->microsoft, o->check_boot, o->update_paths[0], o->update_paths[1],
                     o->update_paths[2] };
  for (gsize i = 0; i < G_N_ELEMENTS(lists); i++)
    g_strfreev(lists[i]);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Options, options_clear)

typedef struct _Steps Steps;
/* Everything the command line asks for, read and checked before the store is touched, and the
 * library's steps (vsb_enroll_apply, which owns the order) that point into it. */
struct _Steps {
  VsbVarstore *source;
  GPtrArray *pk_files, *kek_files, *db_files, *dbx_files; /* CertFile* */
  GPtrArray *kek, *db, *dbx;      /* X509*, borrowed from the files */
  GArray *db_hashes, *dbx_hashes; /* Sha256 */
  GPtrArray *updates;             /* Update*: KEK, then db, then dbx ones, each in given order */
  gboolean unsigned_ok;
  GPtrArray *boot_images;         /* --check-boot images (VsbPeImage*) */
  VsbGuid owner;
  guint microsoft;                /* VsbMsCertSet of --microsoft */
  VsbEnrollSteps lib;
};

static void
steps_clear(Steps *s)
{
  g_clear_pointer(&s->source, vsb_varstore_free);
  GPtrArray **arrays[] = { &s->pk_files, &s->kek_files, &s->db_files, &s->dbx_files, &s->kek,
                           &s->db, &s->dbx, &s->updates, &s->boot_images };
  for (gsize i = 0; i < G_N_ELEMENTS(arrays); i++)
    g_clear_pointer(arrays[i], g_ptr_array_unref);
  g_clear_pointer(&s->db_hashes, g_array_unref);
  g_clear_pointer(&s->dbx_hashes, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Steps, steps_clear)

/* Every certificate of every file, in order (borrowed X509*), or NULL for no files. */
static GPtrArray *
all_certs(GPtrArray *files)
{
  if (files == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; i < files->len; i++) {
    CertFile *f = files->pdata[i];
    for (guint j = 0; j < f->certs->len; j++)
      g_ptr_array_add(out, f->certs->pdata[j]);
  }
  return out;
}

/* One applied signed update, as the report gives it. */
static void
update_json(JsonBuilder *b, const char *file, const VsbAuthvarResult *r)
{
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "file", file);
  vsb_cli_jset_str(b, "variable", r->variable);
  vsb_cli_jset_str(b, "mode", vsb_authvar_mode_name(r->mode));
  vsb_cli_jset_int(b, "attributes", r->attributes);
  vsb_cli_jset_bool(b, "verified", r->verified);
  vsb_cli_jset_str(b, "unverified-reason", r->unverified_reason);
  vsb_cli_jset_str(b, "signer", r->signer);
  vsb_cli_jset_str(b, "trusted-through", r->trust_variable);
  vsb_cli_jset_str(b, "trusted-certificate", r->trust_subject);
  vsb_cli_jset_int(b, "entries-added", r->entries_added);
  vsb_cli_jset_int(b, "entries-present", r->entries_present);
  vsb_cli_jset_int(b, "entries-after", r->entries_after);
  g_autofree char *before = vsb_efi_time_to_string(&r->time_before);
  g_autofree char *after = vsb_efi_time_to_string(&r->time_after);
  vsb_cli_jset_str(b, "time-before", before);
  vsb_cli_jset_str(b, "time-after", after);
  vsb_cli_jset_bool(b, "changed", r->changed);
  json_builder_end_object(b);
}

/* What one run did, for both reports. */
typedef struct {
  const char *input, *output, *written; /* written: the real file (through a symlink) */
  const VsbVarstore *store;
  GPtrArray *changes;                   /* VsbEnrollChange*, the editor's */
  GPtrArray *updates;                   /* Update*, applied */
  GPtrArray *boot_lines, *warnings;     /* char* */
} Outcome;

static JsonNode *
report_json(const Outcome *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "input", r->input);
  vsb_cli_jset_str(b, "output", r->output);
  json_builder_set_member_name(b, "changes");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->changes->len; i++) {
    const VsbEnrollChange *c = r->changes->pdata[i];
    json_builder_begin_object(b);
    vsb_cli_jset_str(b, "action", c->action);
    vsb_cli_jset_str(b, "variable", c->variable);
    vsb_cli_jset_str(b, "guid", vsb_guid_format(&c->guid, g));
    vsb_cli_jset_str(b, "detail", c->detail);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "updates");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->updates->len; i++) {
    const Update *u = r->updates->pdata[i];
    update_json(b, u->path, u->result);
  }
  json_builder_end_array(b);
  vsb_cli_jset_strings(b, "boot-checks", r->boot_lines);
  vsb_cli_jset_strings(b, "warnings", r->warnings);
  vsb_cli_jset_int(b, "used", (gint64)vsb_varstore_get_used(r->store));
  vsb_cli_jset_int(b, "capacity", (gint64)vsb_varstore_get_capacity(r->store));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
report_text(const Outcome *r)
{
  if (g_strcmp0(r->input, r->output) == 0 && g_strcmp0(r->output, r->written) != 0)
    printf("Updated %s in place (through the symbolic link %s)\n", r->written, r->output);
  else if (g_strcmp0(r->input, r->output) == 0)
    printf("Updated %s in place\n", r->output);
  else
    printf("Wrote %s (from %s)\n", r->output, r->input);
  for (guint i = 0; i < r->changes->len; i++) {
    const VsbEnrollChange *c = r->changes->pdata[i];
    printf("  %-8s %-17s %s\n", c->action, c->variable, c->detail);
  }
  for (guint i = 0; i < r->updates->len; i++) {
    const Update *u = r->updates->pdata[i];
    const VsbAuthvarResult *res = u->result;
    printf("  %-8s %-17s %s: %u added, %u already there", "update", res->variable, u->path,
           res->entries_added, res->entries_present);
    if (res->verified)
      printf("; %s, signed by %s, trusted through %s (%s)\n", vsb_authvar_mode_name(res->mode),
             res->signer ? res->signer : "?", res->trust_variable, res->trust_subject);
    else
      printf("; %s WITHOUT a verified signature (--unsigned-update): %s\n",
             vsb_authvar_mode_name(res->mode), res->unverified_reason);
  }
  for (guint i = 0; r->boot_lines && i < r->boot_lines->len; i++)
    printf("  boot     %s\n", (const char *)r->boot_lines->pdata[i]);
  if (vsb_varstore_get_layout(r->store) == VSB_VARSTORE_LAYOUT_NONE) /* JSON: no fixed room */
    printf("Store: %s, %" G_GSIZE_FORMAT " bytes of variables as a flash store counts them\n",
           vsb_varstore_get_format(r->store), vsb_varstore_get_used(r->store));
  else
    printf("Store: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes used\n",
           vsb_varstore_get_used(r->store), vsb_varstore_get_capacity(r->store));
  for (guint i = 0; i < r->warnings->len; i++)
    fprintf(stderr, "vsboot: warning: %s\n", (const char *)r->warnings->pdata[i]);
}

/* The firmware measures PK, KEK, db and dbx into PCR 7 at every boot: a guest that seals a
 * secret to PCR 7 (BitLocker, systemd-cryptenroll --tpm2-pcrs=7) will not unseal it after the
 * change. */
static void
add_pcr7_warning(GPtrArray *changes, GPtrArray *updates, GPtrArray *warnings)
{
  gboolean changed = FALSE;
  for (guint i = 0; i < updates->len; i++)
    changed |= ((const Update *)updates->pdata[i])->result->changed;
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

/* The certificate options' files, with --pk holding exactly one certificate. */
static gboolean
read_cert_options(Steps *s, const Options *o, GError **error)
{
  char *pk_list[] = { o->pk, NULL };
  if (o->pk) {
    if (!(s->pk_files = load_cert_files(pk_list, "--pk", error)))
      return FALSE;
    CertFile *f = s->pk_files->pdata[0];
    if (f->certs->len != 1) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "--pk: %s holds %u certificates; PK takes exactly one", o->pk, f->certs->len);
      return FALSE;
    }
  }
  if ((o->kek && !(s->kek_files = load_cert_files(o->kek, "--kek", error))) ||
      (o->db && !(s->db_files = load_cert_files(o->db, "--db", error))) ||
      (o->dbx_cert && !(s->dbx_files = load_cert_files(o->dbx_cert, "--dbx-cert", error))))
    return FALSE;
  s->kek = all_certs(s->kek_files);
  s->db = all_certs(s->db_files);
  s->dbx = all_certs(s->dbx_files);
  return TRUE;
}

/* The signed updates, KEK ones first, then db, then dbx, each in the order given. */
static gboolean
read_updates(Steps *s, const Options *o, GError **error)
{
  static const char *const opts[] = { "--kek-update", "--db-update", "--dbx-update" };
  static const char *const vars[] = { "KEK", "db", "dbx" };
  s->updates = g_ptr_array_new_with_free_func(update_free);
  for (int i = 0; i < 3; i++)
    for (char **f = o->update_paths[i]; f && *f; f++) {
      VsbAuthvarUpdate *u = vsb_authvar_load(*f, error);
      if (u == NULL) {
        g_prefix_error(error, "%s: ", opts[i]);
        return FALSE;
      }
      Update *up = g_new0(Update, 1);
      *up = (Update){ .path = *f, .variable = vars[i], .update = u };
      g_ptr_array_add(s->updates, up);
    }
  return TRUE;
}

/* Read and check every input file and value into s before anything is touched. */
static gboolean
read_inputs(Steps *s, const Options *o, GError **error)
{
  if (!read_cert_options(s, o, error))
    return FALSE;
  if ((o->db_hash && !(s->db_hashes = parse_hashes(o->db_hash, "--db-hash", error))) ||
      (o->dbx_hash && !(s->dbx_hashes = parse_hashes(o->dbx_hash, "--dbx-hash", error))))
    return FALSE;
  if (!read_updates(s, o, error))
    return FALSE;
  s->boot_images = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_pe_image_free);
  for (char **f = o->check_boot; f && *f; f++) {
    VsbPeImage *img = vsb_pe_load(*f, error);
    if (img == NULL) {
      g_prefix_error(error, "--check-boot: ");
      return FALSE;
    }
    g_ptr_array_add(s->boot_images, img);
  }
  return !o->copy_from || (s->source = vsb_varstore_load(o->copy_from, error)) != NULL;
}

/* The library's step 7: each signed update verified against the store as it is at that point,
 * as the firmware would in that order (a new KEK may be what trusts the db/dbx updates). */
static gboolean
apply_updates(VsbVarstore *store, gpointer data, GError **error)
{
  Steps *s = data;
  VsbAuthvarOptions opts = { .attributes = 0, .unsigned_ok = s->unsigned_ok };
  for (guint i = 0; i < s->updates->len; i++) {
    Update *u = s->updates->pdata[i];
    if (!(u->result = vsb_authvar_apply(store, u->update, u->variable, NULL, &opts, error)))
      return FALSE;
  }
  return TRUE;
}

/* The library's steps, pointing into s (which must outlive them). */
static void
fill_lib_steps(Steps *s, const Options *o)
{
  static const VsbEnrollSteps init = VSB_ENROLL_STEPS_INIT;
  VsbEnrollSteps *l = &s->lib;
  *l = init;
  l->delete_names = (const char *const *)o->del;
  l->copy_from = s->source;
  l->copy_names = (const char *const *)o->copy;
  l->microsoft = s->microsoft;
  l->pk = s->pk_files ? ((CertFile *)s->pk_files->pdata[0])->certs->pdata[0] : NULL;
  l->kek = s->kek;
  l->db = s->db;
  l->dbx = s->dbx;
  l->db_hashes = s->db_hashes;
  l->dbx_hashes = s->dbx_hashes;
  l->updates = apply_updates;
  l->updates_data = s;
  l->secure_boot = o->secure_boot ? g_strcmp0(o->secure_boot, "on") == 0 : -1;
  l->owner = &s->owner;
}

static GOptionContext *
enroll_context(Options *o)
{
  static const char *const notes[] = {
    "--pk", ": PK holds exactly one certificate",
    NULL,
  };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "Write the result to OUT", "OUT" },
    { "in-place", 0, 0, G_OPTION_ARG_FILENAME, &o->in_place,
      "Edit FILE itself (instead of IN -o OUT)", "FILE" },
    { "pk", 0, 0, G_OPTION_ARG_FILENAME, &o->pk, "Replace PK with this certificate (PEM or DER)",
      "CERT" },
    { "kek", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->kek, "Add the certificate(s) to KEK", "CERT" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->db, "Add the certificate(s) to db", "CERT" },
    { "microsoft", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->microsoft,
      "Add Microsoft's CA certificates (shipped with vsboot) with Microsoft's owner GUID: 2023 "
      "(kek-2023, windows-2023, uefi-2023, option-rom-2023), 2011, or single ids "
      "(repeatable)", "SET" },
    { "db-hash", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->db_hash, "Add a SHA-256 image hash to db",
      "SHA256" },
    { "dbx-hash", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->dbx_hash,
      "Add a SHA-256 image hash to dbx", "SHA256" },
    { "dbx-cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->dbx_cert,
      "Add the certificate(s) to dbx", "CERT" },
    { "kek-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->update_paths[0],
      "Apply a signed KEK update (AUTH_2 file such as KEKUpdate_*.bin): its signature must "
      "verify against PK (repeatable)", "AUTH" },
    { "db-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->update_paths[1],
      "Apply a signed db update (DBUpdate*.bin): its signature must verify against KEK or PK; "
      "the signed attributes decide append or replace (repeatable)", "AUTH" },
    { "dbx-update", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->update_paths[2],
      "Apply a signed dbx update (DBXUpdate*.bin), verified like --db-update (repeatable)",
      "AUTH" },
    { "unsigned-update", 0, 0, G_OPTION_ARG_NONE, &o->unsigned_update,
      "Apply updates whose signature does not verify or whose signer the store does not trust "
      "(the report says so); an offline edit bypasses the firmware's check anyway", NULL },
    { "check-boot", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->check_boot,
      "An EFI image the VM boots: refuse the change (exit 1) if it verifies against the store "
      "now and would not after (repeatable)", "IMAGE" },
    { "owner", 0, 0, G_OPTION_ARG_STRING, &o->owner_text,
      "Owner GUID of added entries (default a0baa8a3-041d-48a8-bc87-c36d121b5e3d, "
      "OvmfEnrollDefaultKeys, as virt-fw-vars)", "GUID" },
    { "copy-from", 0, 0, G_OPTION_ARG_FILENAME, &o->copy_from,
      "Copy variables from another store (default KEK, db and dbx)", "VARSFILE" },
    { "copy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->copy, "A variable to copy with --copy-from",
      "NAME" },
    { "delete", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->del, "Delete the variable", "NAME" },
    { "secure-boot", 0, 0, G_OPTION_ARG_STRING, &o->secure_boot,
      "on: SecureBootEnable=1, CustomMode=0 and a placeholder dbx when there is none; "
      "off: SecureBootEnable=0", "on|off" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &o->force,
      "Write even when a running QEMU holds the file, or when the dbx would revoke Windows "
      "Production PCA 2011 while db lacks Windows UEFI CA 2023", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Report what changed as JSON", NULL },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new("IN -o OUT | --in-place FILE");
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
  return ctx;
}

/* The command line's shape: IN and OUT (the same file in place), and that there is work. */
static gboolean
check_usage(const Options *o, int argc, char **argv, const char **input, const char **target)
{
  if (o->in_place) {
    if (argc != 1 || o->output) {
      vsb_cli_failf("vars enroll: --in-place FILE takes no IN and no -o; "
                    "try 'vsboot help vars enroll'");
      return FALSE;
    }
    *input = *target = o->in_place;
  } else {
    if (argc != 2 || o->output == NULL) {
      vsb_cli_failf("vars enroll: expected IN -o OUT or --in-place FILE; "
                    "try 'vsboot help vars enroll'");
      return FALSE;
    }
    *input = argv[1];
    *target = o->output;
  }
  if (o->secure_boot && g_strcmp0(o->secure_boot, "on") != 0 &&
      g_strcmp0(o->secure_boot, "off") != 0) {
    vsb_cli_failf("vars enroll: --secure-boot takes on or off, not '%s'", o->secure_boot);
    return FALSE;
  }
  if (o->copy && !o->copy_from) {
    vsb_cli_failf("vars enroll: --copy needs --copy-from VARSFILE");
    return FALSE;
  }
  if (!o->pk && !o->kek && !o->db && !o->db_hash && !o->dbx_hash && !o->dbx_cert &&
      !o->update_paths[2] && !o->copy_from && !o->del && !o->secure_boot && !o->microsoft &&
      !o->update_paths[0] && !o->update_paths[1]) {
    vsb_cli_failf("vars enroll: nothing to do; give --pk, --kek, --db, --secure-boot, ...");
    return FALSE;
  }
  return TRUE;
}

/* --owner and --microsoft into s; exit status 2 (printed) on a bad value, else 0. */
static int
parse_values(Steps *s, const Options *o)
{
  s->owner = VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS;
  s->unsigned_ok = o->unsigned_update;
  if (o->owner_text && !vsb_guid_parse(o->owner_text, &s->owner))
    return vsb_cli_failf("vars enroll: --owner '%s' is not a GUID "
                         "(expected the form 8be4df61-93ca-11d2-aa0d-00e098032b8c)", o->owner_text);
  for (char **m = o->microsoft; m && *m; m++) {
    GError *error = NULL;
    VsbMsCertSet set = 0;
    if (!vsb_ms_cert_set_parse(*m, &set, &error)) {
      g_prefix_error(&error, "vars enroll: --microsoft: ");
      return vsb_cli_fail(error);
    }
    s->microsoft |= set;
  }
  return 0;
}

/* Apply the steps and the checks that may refuse them; 0, or the exit status (printed). Never
 * brick the VM: nothing is written when a boot check or Microsoft's rule says no. */
static int
enroll_checked(VsbEnroll *e, VsbVarstore *store, Steps *s, VsbBootCheck *boot, gboolean force)
{
  GError *error = NULL;
  gboolean pca_revoked_before = vsb_rollover_pca2011_revoked(store);
  if (!vsb_enroll_apply(e, &s->lib, &error))
    return fail_refused(error);
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
  return 0;
}

int
vsb_cli_vars_enroll(int argc, char **argv)
{
  g_auto(Options) o = { 0 };
  g_autoptr(GOptionContext) ctx = enroll_context(&o);
  int code = 0;
  const char *input = NULL, *target = NULL;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (!check_usage(&o, argc, argv, &input, &target))
    return VSB_EXIT_USAGE;
  g_auto(Steps) steps = { 0 };
  GError *error = NULL;
  if ((code = parse_values(&steps, &o)) != 0)
    return code;
  if (!read_inputs(&steps, &o, &error))
    return vsb_cli_fail(error);
  fill_lib_steps(&steps, &o);

  g_autoptr(VsbFileLock) lock = NULL;
  const char *save_path = target;
  g_autoptr(VsbVarstore) store =
    lock_and_load(input, target, o.in_place != NULL, o.force, &lock, &save_path, &error);
  if (store == NULL)
    return vsb_cli_vars_fail(error);
  g_autoptr(VsbBootCheck) boot = vsb_boot_check_new(store, steps.boot_images,
                                                    (const char *const *)o.check_boot, &error);
  if (boot == NULL)
    return vsb_cli_fail(error);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  if ((code = enroll_checked(e, store, &steps, boot, o.force)) != 0)
    return code;

  /* A replaced file keeps its mode and owner (a 0640 store stays 0640); a new one is 0644.
   * In place through a symlink, the real file is replaced and the link stays. */
  VsbWriteOptions wopts = { .mode = 0644, .keep_mode = TRUE,
                            .follow_final_symlink = o.in_place != NULL };
  if (!vsb_varstore_save_full(store, save_path, &wopts, o.force, &error))
    return vsb_cli_vars_fail(error);

  g_autoptr(GPtrArray) warnings = vsb_enroll_check(e);
  g_autoptr(GPtrArray) boot_lines = vsb_boot_check_report(boot);
  Outcome r = { input, target, save_path, store, vsb_enroll_get_changes(e), steps.updates,
                boot_lines, warnings };
  add_pcr7_warning(r.changes, r.updates, warnings);
  if (o.json) {
    g_autoptr(JsonNode) node = report_json(&r);
    vsb_cli_print_json(node);
  } else {
    report_text(&r);
  }
  return VSB_EXIT_OK;
}
