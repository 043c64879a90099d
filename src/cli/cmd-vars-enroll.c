/* vsboot vars enroll: put PK/KEK/db/dbx into a variable store and turn Secure Boot on or off.
 * Everything is read and checked first; the store is written once, atomically, at the end. */
#include "cli.h"

#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include "vsboot/guid.h"
#include "vsboot/mscerts.h"
#include "vsboot/secureboot.h"
#include "vsboot/siglist.h"
#include "vsboot/varstore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_UPDATE_SIZE (4u << 20)

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

static JsonNode *
report_json(const char *input, const char *output, const VsbVarstore *store, GPtrArray *changes,
            GPtrArray *warnings)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  char g[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "input");
  json_builder_add_string_value(b, input);
  json_builder_set_member_name(b, "output");
  json_builder_add_string_value(b, output);
  json_builder_set_member_name(b, "changes");
  json_builder_begin_array(b);
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "action");
    json_builder_add_string_value(b, c->action);
    json_builder_set_member_name(b, "variable");
    json_builder_add_string_value(b, c->variable);
    json_builder_set_member_name(b, "guid");
    json_builder_add_string_value(b, vsb_guid_format(&c->guid, g));
    json_builder_set_member_name(b, "detail");
    json_builder_add_string_value(b, c->detail);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "warnings");
  json_builder_begin_array(b);
  for (guint i = 0; i < warnings->len; i++)
    json_builder_add_string_value(b, warnings->pdata[i]);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "used");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_used(store));
  json_builder_set_member_name(b, "capacity");
  json_builder_add_int_value(b, (gint64)vsb_varstore_get_capacity(store));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
report_text(const char *input, const char *output, const char *written, const VsbVarstore *store,
            GPtrArray *changes, GPtrArray *warnings)
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
  printf("Store: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes used\n",
         vsb_varstore_get_used(store), vsb_varstore_get_capacity(store));
  for (guint i = 0; i < warnings->len; i++)
    fprintf(stderr, "vsboot: warning: %s\n", (const char *)warnings->pdata[i]);
}

/* The firmware measures PK, KEK, db and dbx into PCR 7 at every boot: a guest that seals a
 * secret to PCR 7 (BitLocker, systemd-cryptenroll --tpm2-pcrs=7) will not unseal it after the
 * change. */
static void
add_pcr7_warning(GPtrArray *changes, GPtrArray *warnings)
{
  for (guint i = 0; i < changes->len; i++) {
    const VsbEnrollChange *c = changes->pdata[i];
    if (g_strcmp0(c->action, "skip") == 0 || vsb_sb_known_guid(c->variable) == NULL ||
        !(g_str_equal(c->variable, "PK") || g_str_equal(c->variable, "KEK") ||
          g_str_equal(c->variable, "db") || g_str_equal(c->variable, "dbx")))
      continue;
    g_ptr_array_add(warnings, g_strdup(
      "PK/KEK/db/dbx changed: what the firmware measures into PCR 7 changes, so BitLocker or "
      "any TPM-sealed secret in the guest will ask for recovery at the next boot unless it is "
      "suspended first (manage-bde -protectors -disable C: -RebootCount 1)"));
    return;
  }
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
    if (!(*lock = vsb_file_lock(target, TRUE, error)))
      return NULL;
    *save_path = vsb_file_lock_get_path(*lock);
    if (in_place)
      load_path = *save_path;
  }
  /* Editing a store a running VM holds would be lost or corrupt it: say so before working. */
  if (!force && lstat(*save_path, &st) == 0 && S_ISREG(st.st_mode)) {
    gboolean locked = vsb_file_is_locked(*save_path, error);
    if (error && *error)
      return NULL;
    if (locked) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY, "%s is locked by a running process (QEMU); "
                  "stop the VM, or pass --force to write anyway", target);
      return NULL;
    }
  }
  return vsb_varstore_load(load_path, error);
}

/* Everything the command line asks for, read and checked before the store is touched. The
 * loaded inputs are owned (steps_clear); the strings belong to the option parser. */
typedef struct {
  char **del;
  VsbVarstore *source;
  char **copy;
  GPtrArray *pk_files, *kek_files, *db_files, *dbx_files;
  GArray *db_hashes, *dbx_hashes;
  GBytes *update;
  const char *dbx_update;
  gboolean secure_boot, sb_on;
  VsbGuid owner;
  guint microsoft;    /* VsbMsCertSet of --microsoft */
} Steps;

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
  g_clear_pointer(&s->update, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Steps, steps_clear)

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
  if (s->dbx_update && !(s->update = vsb_file_read(s->dbx_update, MAX_UPDATE_SIZE, error)))
    return FALSE;
  return !copy_from || (s->source = vsb_varstore_load(copy_from, error)) != NULL;
}

/* The steps, in their fixed order, whatever the command line's order. */
static gboolean
apply_steps(VsbEnroll *e, const Steps *s, GError **error)
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
  if (s->update) {
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(s->update, &len);
    if (!vsb_enroll_apply_dbx_update(e, data, len, s->dbx_update, error))
      return FALSE;
  }
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
  g_autofree char *dbx_update = NULL, *copy_from = NULL, *secure_boot = NULL;
  g_auto(GStrv) kek = NULL, db = NULL, db_hash = NULL, dbx_hash = NULL, dbx_cert = NULL;
  g_auto(GStrv) copy = NULL, del = NULL, microsoft = NULL;
  gboolean force = FALSE, json = FALSE;
  static const char *const notes[] = {
    "--pk", ": PK holds exactly one certificate",
    "--dbx-update", ": a signed update replaces dbx as a whole",
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
    { "dbx-update", 0, 0, G_OPTION_ARG_FILENAME, &dbx_update,
      "Replace dbx with a signed update (AUTH_2 file such as dbxupdate.bin), keeping its time "
      "stamp", "AUTHFILE" },
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
      "Write even when a running QEMU holds the file", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Report what changed as JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("IN -o OUT | --in-place FILE");
  g_option_context_set_summary(ctx,
    "Enroll Secure Boot keys into an edk2 variable store, offline, as virt-fw-vars does\n"
    "(raw signature lists, one X.509 list per certificate, attributes 0x27, forward-only\n"
    "time stamps). Steps run in this order, whatever the command line says: --delete,\n"
    "--copy-from, --pk, --kek, --db, --db-hash, --dbx-update, --dbx-cert, --dbx-hash,\n"
    "--secure-boot. --microsoft comes right after --pk. Everything is checked before anything is written; the output is written\n"
    "atomically, or not at all.");
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
      !del && !secure_boot && !microsoft)
    return vsb_cli_failf("vars enroll: nothing to do; give --pk, --kek, --db, --secure-boot, ...");

  g_auto(Steps) steps = {
    .del = del, .copy = copy, .dbx_update = dbx_update, .secure_boot = secure_boot != NULL,
    .sb_on = sb_on, .owner = VSB_GUID_OVMF_ENROLL_DEFAULT_KEYS,
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
    return vsb_cli_fail(error);
  g_autoptr(VsbEnroll) e = vsb_enroll_new(store);
  if (!apply_steps(e, &steps, &error))
    return vsb_cli_fail(error);

  /* A replaced file keeps its mode and owner (a 0640 store stays 0640); a new one is 0644.
   * In place through a symlink, the real file is replaced and the link stays. */
  VsbWriteOptions wopts = { .mode = 0644, .keep_mode = TRUE, .follow_final_symlink = in_place != NULL };
  if (!vsb_varstore_save_full(store, save_path, &wopts, force, &error))
    return vsb_cli_fail(error);

  GPtrArray *changes = vsb_enroll_get_changes(e);
  g_autoptr(GPtrArray) warnings = vsb_enroll_check(e);
  add_pcr7_warning(changes, warnings);
  if (json) {
    g_autoptr(JsonNode) node = report_json(input, target, store, changes, warnings);
    vsb_cli_print_json(node);
  } else {
    report_text(input, target, save_path, store, changes, warnings);
  }
  return VSB_EXIT_OK;
}
