/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/qemu-cmdline.h"
#include "vsboot/descriptor.h"
#include "json.h"
#include "vsboot/error.h"
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Small helpers */

/* Text for messages: valid UTF-8, control characters escaped, long strings cut. */
static char *
show(const char *s)
{
  if (s == NULL)
    return g_strdup("(null)");
  g_autofree char *valid = g_utf8_make_valid(s, -1);
  GString *out = g_string_new(NULL);
  glong n = 0;
  for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (++n > 200) {
      g_string_append(out, "...");
      break;
    }
    if (c < 0x20 || c == 0x7f)
      g_string_append_printf(out, "\\x%02x", (unsigned)c);
    else
      g_string_append_unichar(out, c);
  }
  return g_string_free(out, FALSE);
}

static VsbQemuOpts *
opts_new(void)
{
  VsbQemuOpts *o = g_new0(VsbQemuOpts, 1);
  o->keys = g_ptr_array_new_with_free_func(g_free);
  o->values = g_ptr_array_new_with_free_func(g_free);
  return o;
}

void
vsb_qemu_opts_free(VsbQemuOpts *opts)
{
  if (opts == NULL)
    return;
  g_ptr_array_unref(opts->keys);
  g_ptr_array_unref(opts->values);
  g_free(opts);
}

static void
opts_add(VsbQemuOpts *o, const char *key, const char *value)
{
  g_ptr_array_add(o->keys, g_strdup(key));
  g_ptr_array_add(o->values, g_strdup(value));
}

const char *
vsb_qemu_opts_get(const VsbQemuOpts *opts, const char *key)
{
  if (opts == NULL)
    return NULL;
  for (guint i = opts->keys->len; i > 0; i--)
    if (strcmp(opts->keys->pdata[i - 1], key) == 0)
      return opts->values->pdata[i - 1];
  return NULL;
}

gboolean
vsb_qemu_parse_bool(const char *text, gboolean *out)
{
  static const char *const yes[] = { "on", "yes", "true", "y" };
  static const char *const no[] = { "off", "no", "false", "n" };
  for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
    if (strcmp(text, yes[i]) == 0) {
      *out = TRUE;
      return TRUE;
    }
    if (strcmp(text, no[i]) == 0) {
      *out = FALSE;
      return TRUE;
    }
  }
  return FALSE;
}

/* A value up to the next single ',' (",," is a literal comma), as QEMU's get_opt_value. */
static const char *
get_value(const char *p, char **value)
{
  GString *v = g_string_new(NULL);
  for (;;) {
    if (*p == '\0')
      break;
    if (*p == ',') {
      if (p[1] == ',') {
        g_string_append_c(v, ',');
        p += 2;
        continue;
      }
      break;
    }
    g_string_append_c(v, *p++);
  }
  *value = g_string_free(v, FALSE);
  return p;
}

VsbQemuOpts *
vsb_qemu_opts_parse(const char *text, const char *implied_key, gboolean keyval, GError **error)
{
  g_autoptr(VsbQemuOpts) o = opts_new();
  const char *p = text;
  gboolean first = TRUE;
  while (*p) {
    size_t len = strcspn(p, "=,");
    g_autofree char *key = NULL, *value = NULL;
    if (p[len] != '=') {
      if (first && implied_key) {
        key = g_strdup(implied_key);
        p = get_value(p, &value);
      } else if (keyval) {
        g_autofree char *raw = g_strndup(p, len);
        g_autofree char *k = show(raw);
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                    "expected '=' after parameter '%s'", k);
        return NULL;
      } else {
        /* A bare flag: "key" is key=on, "nokey" is key=off. */
        key = g_strndup(p, len);
        p += len;
        if (g_str_has_prefix(key, "no") && key[2] != '\0') {
          memmove(key, key + 2, strlen(key + 2) + 1);
          value = g_strdup("off");
        } else {
          value = g_strdup("on");
        }
      }
    } else {
      key = g_strndup(p, len);
      p = get_value(p + len + 1, &value);
    }
    if (key[0] == '\0') {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "empty parameter name");
      return NULL;
    }
    opts_add(o, key, value);
    first = FALSE;
    if (*p == ',')
      p++;
  }
  return g_steal_pointer(&o);
}

/* JSON object -> dotted keys ("file.filename"), booleans as on/off, as keyval would see them. */
static gboolean
flatten_json(JsonNode *node, const char *prefix, VsbQemuOpts *o, int depth, GError **error)
{
  if (depth > 32) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "JSON nested too deeply");
    return FALSE;
  }
  switch (json_node_get_node_type(node)) {
  case JSON_NODE_OBJECT: {
    JsonObject *obj = json_node_get_object(node);
    g_autoptr(GList) members = json_object_get_members(obj);
    for (GList *l = members; l; l = l->next) {
      const char *name = l->data;
      g_autofree char *key = prefix ? g_strdup_printf("%s.%s", prefix, name) : g_strdup(name);
      if (!flatten_json(json_object_get_member(obj, name), key, o, depth + 1, error))
        return FALSE;
    }
    return TRUE;
  }
  case JSON_NODE_ARRAY: {
    JsonArray *arr = json_node_get_array(node);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
      g_autofree char *key = g_strdup_printf("%s.%u", prefix ? prefix : "", i);
      if (!flatten_json(json_array_get_element(arr, i), key, o, depth + 1, error))
        return FALSE;
    }
    return TRUE;
  }
  case JSON_NODE_NULL:
    return TRUE;
  case JSON_NODE_VALUE: {
    if (prefix == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "expected a JSON object");
      return FALSE;
    }
    GType t = json_node_get_value_type(node);
    g_autofree char *v = NULL;
    if (t == G_TYPE_BOOLEAN)
      v = g_strdup(json_node_get_boolean(node) ? "on" : "off");
    else if (t == G_TYPE_INT64)
      v = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
    else if (t == G_TYPE_DOUBLE)
      v = g_strdup_printf("%g", json_node_get_double(node));
    else
      v = g_strdup(json_node_get_string(node));
    opts_add(o, prefix, v ? v : "");
    return TRUE;
  }
  }
  return TRUE;
}

/* "-blockdev {...}" / "-object {...}" / "-device {...}" or the key=value form. */
static VsbQemuOpts *
parse_json_or_keyval(const char *text, const char *implied_key, gboolean keyval, GError **error)
{
  if (text[0] != '{')
    return vsb_qemu_opts_parse(text, implied_key, keyval, error);
  /* QEMU's own JSON parser stops at 1024 levels; no real option nests beyond a few. */
  g_autoptr(JsonNode) root = vsb_json_parse(text, strlen(text), 64, "JSON option", error);
  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "expected a JSON object");
    return NULL;
  }
  g_autoptr(VsbQemuOpts) o = opts_new();
  if (!flatten_json(root, NULL, o, 0, error))
    return NULL;
  return g_steal_pointer(&o);
}

/* ---------------------------------------------------------------------------------------------
 * The command line model */

static void
drive_free(gpointer p)
{
  VsbQemuDrive *d = p;
  g_free(d->interface);
  g_free(d->id);
  g_free(d->file);
  g_free(d->unmodeled);
  g_free(d->format);
  g_free(d->evidence);
  g_free(d);
}

/* A -drive option list as QEMU keeps it until it creates the drives after the whole command
 * line is read: -set may still change any key, and the unit of a pflash drive is only chosen
 * then (the lowest one free at that moment). */
typedef struct {
  VsbQemuOpts *opts;
  char *qemu_id;   /* the QemuOpts id -set finds it by (a later -set drive.X.id= renames the
                    * drive, not this) */
  char *iface;     /* forced by -pflash, -hda, ...; NULL: if= */
  int index;       /* forced by -hda..-hdd, -cdrom; else -1 */
  char *file;      /* forced by -pflash, -hda, a bare word */
  char *evidence;
} DriveDef;

static void
drive_def_free(gpointer p)
{
  DriveDef *d = p;
  vsb_qemu_opts_free(d->opts);
  g_free(d->qemu_id);
  g_free(d->iface);
  g_free(d->file);
  g_free(d->evidence);
  g_free(d);
}

static void
blockdev_free(gpointer p)
{
  VsbQemuBlockdev *b = p;
  g_free(b->node_name);
  g_free(b->driver);
  g_free(b->file_ref);
  g_free(b->filename);
  g_free(b->unmodeled);
  g_free(b->evidence);
  g_free(b);
}

static void
global_free(gpointer p)
{
  VsbQemuGlobal *g = p;
  g_free(g->driver);
  g_free(g->property);
  g_free(g->value);
  g_free(g->id);
  g_free(g->evidence);
  g_free(g);
}

static void
object_free(gpointer p)
{
  VsbQemuObject *o = p;
  g_free(o->type);
  g_free(o->id);
  vsb_qemu_opts_free(o->props);
  g_free(o->evidence);
  g_free(o);
}

VsbQemuCmdline *
vsb_qemu_cmdline_new(void)
{
  VsbQemuCmdline *c = g_new0(VsbQemuCmdline, 1);
  c->arch = VSB_FW_ARCH_UNKNOWN;
  c->machine_opts = opts_new();
  c->accels = g_ptr_array_new_with_free_func(g_free);
  c->drives = g_ptr_array_new_with_free_func(drive_free);
  c->blockdevs = g_ptr_array_new_with_free_func(blockdev_free);
  c->globals = g_ptr_array_new_with_free_func(global_free);
  c->objects = g_ptr_array_new_with_free_func(object_free);
  c->devices = g_ptr_array_new_with_free_func(object_free);
  c->readconfig = g_ptr_array_new_with_free_func(g_free);
  c->unmodeled = g_ptr_array_new_with_free_func(g_free);
  c->drive_defs = g_ptr_array_new_with_free_func(drive_def_free);
  c->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return c;
}

void
vsb_qemu_cmdline_free(VsbQemuCmdline *c)
{
  if (c == NULL)
    return;
  g_free(c->binary);
  g_free(c->machine);
  vsb_qemu_opts_free(c->machine_opts);
  g_free(c->machine_evidence);
  g_ptr_array_unref(c->accels);
  g_free(c->accel_evidence);
  g_ptr_array_unref(c->drives);
  g_ptr_array_unref(c->blockdevs);
  g_ptr_array_unref(c->globals);
  g_ptr_array_unref(c->objects);
  g_ptr_array_unref(c->devices);
  g_free(c->bios);
  g_free(c->bios_evidence);
  g_free(c->kernel);
  g_free(c->kernel_evidence);
  g_free(c->initrd);
  g_free(c->append);
  g_free(c->cpu);
  g_free(c->snapshot_evidence);
  g_ptr_array_unref(c->readconfig);
  g_ptr_array_unref(c->unmodeled);
  g_ptr_array_unref(c->drive_defs);
  g_hash_table_unref(c->ids);
  g_free(c->cwd);
  g_free(c);
}

char *
vsb_qemu_cmdline_abspath(const VsbQemuCmdline *cmd, const char *path)
{
  if (path == NULL)
    return NULL;
  if (g_path_is_absolute(path))
    return g_strdup(path);
  /* Never against our own directory when the process's could not be read. */
  if (cmd->cwd_unknown)
    return g_strdup(path);
  if (cmd->cwd)
    return g_build_filename(cmd->cwd, path, NULL);
  g_autofree char *cwd = g_get_current_dir();
  return g_build_filename(cwd, path, NULL);
}

static char *
evidence(const char *origin, const char *name, const char *value)
{
  g_autofree char *v = value ? show(value) : NULL;
  g_autofree char *o = show(origin);
  if (v)
    return g_strdup_printf("-%s %s (%s)", name, v, o);
  return g_strdup_printf("-%s (%s)", name, o);
}

/* ---------------------------------------------------------------------------------------------
 * Options QEMU 7.2 knows. Every option not listed as a flag takes an argument. */

static const char *const flag_options[] = {
  "h", "help", "version", "snapshot", "nographic", "portrait", "full-screen", "win2k-hack",
  "no-fd-bootchk", "no-acpi", "no-hpet", "enable-kvm", "xen-attach", "xen-domid-restrict",
  "no-reboot", "no-shutdown", "daemonize", "only-migratable", "nodefaults", "no-user-config",
  "S", "s", "singlestep", "preconfig", "mem-prealloc", "audio-help", "usb",
  "enable-sync-profile", "async-teardown", "alt-grab", "ctrl-grab", "no-quit", "no-frame",
  "sdl", "curses", "enable-fips", "semihosting", "old-param", "no-kvm",
};

static const char *const arg_options[] = {
  "machine", "M", "cpu", "accel", "smp", "numa", "add-fd", "set", "global", "boot", "m",
  "mem-path", "k", "audio", "audiodev", "device", "name", "uuid", "fda", "fdb", "hda", "hdb",
  "hdc", "hdd", "cdrom", "blockdev", "drive", "mtdblock", "sd", "pflash", "fsdev", "virtfs",
  "virtfs_synth", "iscsi", "usbdevice", "display", "spice", "vga", "vnc", "rotate", "acpitable",
  "smbios", "netdev", "nic", "net", "chardev", "tpmdev", "bios", "kernel", "append", "initrd",
  "dtb", "compat", "fw_cfg", "serial", "parallel", "monitor", "qmp", "qmp-pretty", "mon",
  "debugcon", "pidfile", "overcommit", "gdb", "d", "D", "dfilter", "seed", "L", "xen-domid",
  "action", "loadvm", "option-rom", "rtc", "icount", "watchdog", "watchdog-action", "echr",
  "incoming", "chroot", "runas", "sandbox", "readconfig", "trace", "plugin", "msg",
  "dump-vmstate", "object", "g", "semihosting-config", "prom-env", "qtest", "qtest-log",
  "tb-size", "soundhw", "bt", "mem-size", "xen-create", "xen-domid", "writeconfig", "qmp-pretty",
};

/* 1: takes an argument, 0: a flag, -1: unknown. */
static int
option_kind(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(flag_options); i++)
    if (strcmp(flag_options[i], name) == 0)
      return 0;
  for (gsize i = 0; i < G_N_ELEMENTS(arg_options); i++)
    if (strcmp(arg_options[i], name) == 0)
      return 1;
  return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Options the audit cares about */

static gboolean
get_bool(const VsbQemuOpts *o, const char *key, gboolean dflt, gboolean *out, GError **error)
{
  const char *v = vsb_qemu_opts_get(o, key);
  if (v == NULL) {
    *out = dflt;
    return TRUE;
  }
  if (!vsb_qemu_parse_bool(v, out)) {
    g_autofree char *s = show(v);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "parameter '%s' expects 'on' or 'off', not '%s'", key, s);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_unit(const char *text, const char *key, int *out, GError **error)
{
  char *end = NULL;
  errno = 0;
  gint64 v = g_ascii_strtoll(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < 0 || v > 1000) {
    g_autofree char *s = show(text);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s '%s' is not a valid number", key, s);
    return FALSE;
  }
  *out = (int)v;
  return TRUE;
}

/* Options of a block node that change which bytes the device sees, beyond the file itself:
 * raw's window into the file, a qcow2's backing or external data file, encryption. */
static gboolean
key_changes_bytes(const char *key)
{
  static const char *const keys[] = { "offset", "size", "backing", "data-file", "encrypt" };
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    gsize n = strlen(keys[i]);
    if (strncmp(key, keys[i], n) == 0 && (key[n] == '\0' || key[n] == '.'))
      return TRUE;
  }
  return FALSE;
}

static void
append_reason(char **reasons, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
append_reason(char **reasons, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *r = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  char *joined = *reasons ? g_strdup_printf("%s; %s", *reasons, r) : g_strdup(r);
  g_free(*reasons);
  *reasons = joined;
}

/* QEMU's path_has_protocol(): a ':' before any '/'. */
static gboolean
has_protocol(const char *path)
{
  return path[strcspn(path, ":/")] == ':';
}

static gboolean
is_protocol_driver(const char *driver)
{
  return strcmp(driver, "file") == 0 || strcmp(driver, "host_device") == 0;
}

/* The file behind a -drive, as QEMU 7.2 reads one: file= is a legacy file name ("file:X" is
 * the host file X, any other "proto:" is not a local file); file.filename= (with file.locking=
 * and such beside file=) names the child's file literally; driver=file,filename= opens the file
 * with no format layer. driver= is format='s other name. */
static gboolean
drive_file(VsbQemuDrive *d, const VsbQemuOpts *o, const char *forced, GError **error)
{
  const char *file = forced ? forced : vsb_qemu_opts_get(o, "file");
  const char *fname = vsb_qemu_opts_get(o, "file.filename");
  const char *fdrv = vsb_qemu_opts_get(o, "file.driver");
  const char *drv = vsb_qemu_opts_get(o, "driver"), *filename = vsb_qemu_opts_get(o, "filename");
  const char *fmt = vsb_qemu_opts_get(o, "format");
  if ((file && fname) || (fmt && drv)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "can't specify both '%s' and '%s' (QEMU "
                "refuses this)", fmt && drv ? "format" : "file", fmt && drv ? "driver" : "filename");
    return FALSE;
  }
  for (guint i = 0; i < o->keys->len; i++) {
    const char *k = o->keys->pdata[i];
    if (key_changes_bytes(k) || (g_str_has_prefix(k, "file.") && key_changes_bytes(k + 5)))
      append_reason(&d->unmodeled, "%s= changes which bytes the flash sees", k);
  }
  gboolean direct = drv && is_protocol_driver(drv);
  if (drv && !direct)
    fmt = drv;
  if (fmt && strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0)
    append_reason(&d->unmodeled, "format=%s is neither raw nor qcow2", fmt);
  /* A protocol node attached directly: the flash sees the file's bytes, as raw would. */
  d->format = g_strdup(direct ? "raw" : fmt);
  if (fdrv && !is_protocol_driver(fdrv))
    append_reason(&d->unmodeled, "file.driver=%s: a protocol vsboot does not follow", fdrv);
  if (fname || (direct && filename)) {
    d->file = g_strdup(fname ? fname : filename);
  } else if (file) {
    if (g_str_has_prefix(file, "/dev/fdset/"))
      append_reason(&d->unmodeled, "%s: a descriptor passed with -add-fd, not that path", file);
    gboolean strip = has_protocol(file) && g_str_has_prefix(file, "file:");
    d->file = g_strdup(strip ? file + 5 : file);
    d->remote = !strip && has_protocol(file);
    if (g_str_has_prefix(file, "json:"))
      append_reason(&d->unmodeled, "a json: file name (a whole block graph in the name)");
  } else if (fdrv || filename) {
    /* Something is opened, but not a file vsboot can name. */
    append_reason(&d->unmodeled, "no file vsboot can follow (driver=%s, file.driver=%s)",
                  drv ? drv : "(none)", fdrv ? fdrv : "(none)");
    d->file = g_strdup("(unmodelled block driver)");
    d->remote = TRUE;
  }
  if (d->file && fdrv && !is_protocol_driver(fdrv))
    d->remote = TRUE;
  return TRUE;
}

/* The pflash units taken so far (unit -> its drive), and the lowest unit that may be free:
 * units are only ever taken, so the search for the lowest free one never goes back (a long
 * line of -pflash options costs linear time, not quadratic). */
typedef struct {
  GHashTable *taken;
  int lowest_free;
} PflashUnits;

/* The unit QEMU's drive_new gives a pflash drive: the one asked for (refused when taken), or
 * the lowest not yet taken by the drives created before it. */
static gboolean
pflash_unit(PflashUnits *u, int *unit, const char *ev, GError **error)
{
  if (*unit >= 0) {
    const VsbQemuDrive *d = g_hash_table_lookup(u->taken, GINT_TO_POINTER(*unit));
    if (d) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "drive with if=pflash unit=%d is defined twice (by %s and %s); QEMU "
                  "refuses this", *unit, d->evidence, ev);
      return FALSE;
    }
    return TRUE;
  }
  while (g_hash_table_contains(u->taken, GINT_TO_POINTER(u->lowest_free)))
    u->lowest_free++;
  *unit = u->lowest_free;
  return TRUE;
}

static gboolean
known_interface(const char *name)
{
  static const char *const known_if[] = { "none", "ide", "scsi", "floppy", "pflash", "mtd",
                                          "sd", "virtio", "xen" };
  for (gsize i = 0; i < G_N_ELEMENTS(known_if); i++)
    if (strcmp(known_if[i], name) == 0)
      return TRUE;
  return FALSE;
}

/* One drive from its option list as it stands after every -set, appended to done. */
static gboolean
drive_create(GPtrArray *done, PflashUnits *units, const DriveDef *def, gboolean global_snapshot,
             GError **error)
{
  const VsbQemuOpts *o = def->opts;
  const char *ifname = def->iface ? def->iface : vsb_qemu_opts_get(o, "if");
  if (ifname == NULL)
    ifname = "ide";
  if (!known_interface(ifname)) {
    g_autofree char *s = show(ifname);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "unsupported bus type '%s'", s);
    return FALSE;
  }
  int unit = def->index;
  const char *v;
  if (unit < 0 && (v = vsb_qemu_opts_get(o, "index")) && !parse_unit(v, "index", &unit, error))
    return FALSE;
  if (unit < 0 && (v = vsb_qemu_opts_get(o, "unit")) && !parse_unit(v, "unit", &unit, error))
    return FALSE;
  gboolean pflash = strcmp(ifname, "pflash") == 0;
  if (pflash && !pflash_unit(units, &unit, def->evidence, error))
    return FALSE;
  gboolean ro = FALSE, snap = global_snapshot, ro2 = FALSE;
  if (!get_bool(o, "readonly", FALSE, &ro, error) || !get_bool(o, "read-only", FALSE, &ro2, error) ||
      !get_bool(o, "snapshot", global_snapshot, &snap, error))
    return FALSE;
  VsbQemuDrive *d = g_new0(VsbQemuDrive, 1);
  d->interface = g_strdup(ifname);
  d->unit = unit;
  /* The BlockBackend is named by the last id= (-set drive.X.id=Y renames it). */
  d->id = g_strdup(vsb_qemu_opts_get(o, "id"));
  if (!drive_file(d, o, def->file, error)) {
    drive_free(d);
    return FALSE;
  }
  d->readonly = ro || ro2;
  d->snapshot = snap;
  d->evidence = g_strdup(def->evidence);
  g_ptr_array_add(done, d);
  if (pflash)
    g_hash_table_insert(units->taken, GINT_TO_POINTER(unit), d);
  return TRUE;
}

/* The drives QEMU creates once the command line is read, in the order their lists were given. */
static GPtrArray *
resolve_drives(const VsbQemuCmdline *cmd, GError **error)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func(drive_free);
  g_autoptr(GHashTable) taken = g_hash_table_new(NULL, NULL);
  PflashUnits units = { taken, 0 };
  for (guint i = 0; i < cmd->drive_defs->len; i++) {
    const DriveDef *def = cmd->drive_defs->pdata[i];
    g_autoptr(GError) local = NULL;
    if (!drive_create(done, &units, def, cmd->snapshot, &local)) {
      g_set_error(error, VSB_ERROR, local->code, "%s: %s", def->evidence, local->message);
      return NULL;
    }
  }
  return g_steal_pointer(&done);
}

/* QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
static gboolean
id_wellformed(const char *id)
{
  if (!g_ascii_isalpha(id[0]))
    return FALSE;
  for (const char *p = id + 1; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
check_new_id(const char *id, const char *group, gboolean taken, GError **error)
{
  g_autofree char *s = show(id);
  if (!id_wellformed(id)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "parameter 'id' expects an identifier, not '%s'",
                s);
    return FALSE;
  }
  if (taken) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "duplicate ID '%s' for %s (QEMU refuses this)",
                s, group);
    return FALSE;
  }
  return TRUE;
}

/* The option lists -set can reach, by group and QemuOpts id (a hash: a line of thousands of
 * ids stays linear). */
static gpointer
id_lookup(const VsbQemuCmdline *cmd, const char *group, const char *id)
{
  g_autofree char *key = g_strconcat(group, "\x1f", id, NULL);
  return g_hash_table_lookup(cmd->ids, key);
}

static void
id_insert(VsbQemuCmdline *cmd, const char *group, const char *id, gpointer list)
{
  g_hash_table_insert(cmd->ids, g_strconcat(group, "\x1f", id, NULL), list);
}

static DriveDef *
find_drive_def(const VsbQemuCmdline *cmd, const char *id)
{
  return id_lookup(cmd, "drive", id);
}

/* A -drive (or -pflash, -hda, a bare word) option list, kept until the end; o is taken. */
static gboolean
add_drive(VsbQemuCmdline *cmd, VsbQemuOpts *o, const char *file, const char *iface,
          int index, const char *ev, GError **error)
{
  g_autoptr(VsbQemuOpts) owned = o;
  const char *id = vsb_qemu_opts_get(o, "id");
  if (id && !check_new_id(id, "drive", find_drive_def(cmd, id) != NULL, error))
    return FALSE;
  if (cmd->drive_defs->len >= VSB_QEMU_CMDLINE_MAX_ARGS) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "too many drives");
    return FALSE;
  }
  DriveDef *d = g_new0(DriveDef, 1);
  d->opts = g_steal_pointer(&owned);
  d->qemu_id = g_strdup(id);
  d->iface = g_strdup(iface);
  d->index = index;
  d->file = g_strdup(file);
  d->evidence = g_strdup(ev);
  g_ptr_array_add(cmd->drive_defs, d);
  if (id)
    id_insert(cmd, "drive", id, d);
  return TRUE;
}

/* Blockdev nodes from flattened keys under prefix ("" or "file."); returns the node's index. */
static int
add_blockdev_node(VsbQemuCmdline *cmd, const VsbQemuOpts *o, const char *prefix, const char *ev,
                  int depth, GError **error)
{
  if (depth > 16) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "-blockdev children nested too deeply");
    return -1;
  }
  g_autofree char *k_driver = g_strconcat(prefix, "driver", NULL);
  g_autofree char *k_node = g_strconcat(prefix, "node-name", NULL);
  g_autofree char *k_file = g_strconcat(prefix, "file", NULL);
  g_autofree char *k_filep = g_strconcat(prefix, "file.", NULL);
  g_autofree char *k_fname = g_strconcat(prefix, "filename", NULL);
  g_autofree char *k_ro = g_strconcat(prefix, "read-only", NULL);
  g_autofree char *k_aro = g_strconcat(prefix, "auto-read-only", NULL);

  const char *driver = vsb_qemu_opts_get(o, k_driver);
  if (driver == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "parameter '%sdriver' is missing", prefix);
    return -1;
  }
  gboolean ro, aro;
  if (!get_bool(o, k_ro, FALSE, &ro, error) || !get_bool(o, k_aro, FALSE, &aro, error))
    return -1;
  int child = -1;
  gboolean inline_child = FALSE;
  for (guint i = 0; i < o->keys->len; i++)
    inline_child |= g_str_has_prefix(o->keys->pdata[i], k_filep);
  if (inline_child) {
    child = add_blockdev_node(cmd, o, k_filep, ev, depth + 1, error);
    if (child < 0)
      return -1;
  }
  VsbQemuBlockdev *b = g_new0(VsbQemuBlockdev, 1);
  b->node_name = g_strdup(vsb_qemu_opts_get(o, k_node));
  b->driver = g_strdup(driver);
  b->file_ref = inline_child ? NULL : g_strdup(vsb_qemu_opts_get(o, k_file));
  b->file_child = child;
  b->filename = g_strdup(vsb_qemu_opts_get(o, k_fname));
  b->read_only = ro;
  b->auto_read_only = aro;
  b->evidence = g_strdup(ev);
  /* What this node does to the bytes on their way from the file to the flash. */
  static const char *const plain[] = { "file", "host_device", "raw", "qcow2" };
  gboolean known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(plain); i++)
    known |= strcmp(plain[i], driver) == 0;
  if (!known)
    append_reason(&b->unmodeled, "driver=%s between the flash and its file", driver);
  for (guint i = 0; i < o->keys->len; i++) {
    const char *k = o->keys->pdata[i];
    if (g_str_has_prefix(k, prefix) && !g_str_has_prefix(k, k_filep) &&
        key_changes_bytes(k + strlen(prefix)))
      append_reason(&b->unmodeled, "%s= changes which bytes the flash sees", k);
  }
  if (b->filename && g_str_has_prefix(b->filename, "/dev/fdset/"))
    append_reason(&b->unmodeled, "%s: a descriptor passed with -add-fd, not that path",
                  b->filename);
  if (b->node_name) {
    for (guint i = 0; i < cmd->blockdevs->len; i++) {
      VsbQemuBlockdev *other = cmd->blockdevs->pdata[i];
      if (other->node_name && strcmp(other->node_name, b->node_name) == 0) {
        g_autofree char *s = show(b->node_name);
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "duplicate node name '%s'", s);
        blockdev_free(b);
        return -1;
      }
    }
  }
  g_ptr_array_add(cmd->blockdevs, b);
  return (int)cmd->blockdevs->len - 1;
}

static gboolean
global_key(const char *key)
{
  return strcmp(key, "driver") == 0 || strcmp(key, "property") == 0 || strcmp(key, "value") == 0;
}

static VsbQemuGlobal *
find_global(const VsbQemuCmdline *cmd, const char *id)
{
  return id_lookup(cmd, "global", id);
}

/* JSON devices are never entered: QEMU 7.2 keeps them out of the QemuOpts -set searches. */
static VsbQemuObject *
find_device(const VsbQemuCmdline *cmd, const char *id)
{
  return id_lookup(cmd, "device", id);
}

static gboolean
add_global(VsbQemuCmdline *cmd, const char *value, const char *ev, GError **error)
{
  /* qemu_global_option(): sscanf("%63[^.=].%63[^=]%n") first, QemuOpts after. */
  size_t d = strcspn(value, ".=");
  if (d >= 1 && d <= 63 && value[d] == '.') {
    const char *prop = value + d + 1;
    size_t m = strcspn(prop, "=");
    if (m >= 1 && m <= 63 && prop[m] == '=') {
      VsbQemuGlobal *g = g_new0(VsbQemuGlobal, 1);
      g->driver = g_strndup(value, d);
      g->property = g_strndup(prop, m);
      g->value = g_strdup(prop + m + 1);
      g->short_form = TRUE;
      g->evidence = g_strdup(ev);
      g_ptr_array_add(cmd->globals, g);
      return TRUE;
    }
  }
  g_autoptr(VsbQemuOpts) o = vsb_qemu_opts_parse(value, NULL, FALSE, error);
  if (o == NULL)
    return FALSE;
  /* QEMU's global list knows these keys only (id is the list's own). */
  for (guint i = 0; i < o->keys->len; i++) {
    const char *k = o->keys->pdata[i];
    if (!global_key(k) && strcmp(k, "id") != 0) {
      g_autofree char *s = show(k);
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "invalid parameter '%s'", s);
      return FALSE;
    }
  }
  const char *drv = vsb_qemu_opts_get(o, "driver"), *prop = vsb_qemu_opts_get(o, "property"),
             *val = vsb_qemu_opts_get(o, "value"), *id = vsb_qemu_opts_get(o, "id");
  if (!drv || !prop || !val) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                "options 'driver', 'property', and 'value' are required");
    return FALSE;
  }
  if (id && !check_new_id(id, "global", find_global(cmd, id) != NULL, error))
    return FALSE;
  VsbQemuGlobal *g = g_new0(VsbQemuGlobal, 1);
  g->driver = g_strdup(drv);
  g->property = g_strdup(prop);
  g->value = g_strdup(val);
  g->id = g_strdup(id);
  g->evidence = g_strdup(ev);
  g_ptr_array_add(cmd->globals, g);
  if (id)
    id_insert(cmd, "global", id, g);
  return TRUE;
}

static gboolean read_config(VsbQemuCmdline *cmd, const char *path, const char *origin,
                            GError **error);

static gboolean
add_accels(VsbQemuCmdline *cmd, const char *list, const char *ev)
{
  g_auto(GStrv) parts = g_strsplit(list, ":", -1);
  for (char **p = parts; *p; p++)
    if (**p)
      g_ptr_array_add(cmd->accels, g_strdup(*p));
  g_free(cmd->accel_evidence);
  cmd->accel_evidence = g_strdup(ev);
  return TRUE;
}

static void
set_with_evidence(char **field, char **field_ev, const char *value, const char *ev)
{
  g_free(*field);
  *field = g_strdup(value);
  if (field_ev) {
    g_free(*field_ev);
    *field_ev = g_strdup(ev);
  }
}

/* -machine/-M. QEMU 7.2 keeps -bios, -kernel, -initrd and -append as the machine's firmware,
 * kernel, initrd and append properties, so "-machine kernel=X" is -kernel X: whichever comes
 * last wins. */
static gboolean
add_machine(VsbQemuCmdline *cmd, const char *value, const char *ev, GError **error)
{
  g_autoptr(VsbQemuOpts) o = vsb_qemu_opts_parse(value, "type", FALSE, error);
  if (o == NULL)
    return FALSE;
  for (guint i = 0; i < o->keys->len; i++) {
    const char *k = o->keys->pdata[i], *v = o->values->pdata[i];
    opts_add(cmd->machine_opts, k, v);
    if (strcmp(k, "type") == 0)
      set_with_evidence(&cmd->machine, NULL, v, ev);
    else if (strcmp(k, "accel") == 0)
      add_accels(cmd, v, ev);
    else if (strcmp(k, "firmware") == 0)
      set_with_evidence(&cmd->bios, &cmd->bios_evidence, v, ev);
    else if (strcmp(k, "kernel") == 0)
      set_with_evidence(&cmd->kernel, &cmd->kernel_evidence, v, ev);
    else if (strcmp(k, "initrd") == 0)
      set_with_evidence(&cmd->initrd, NULL, v, ev);
    else if (strcmp(k, "append") == 0)
      set_with_evidence(&cmd->append, NULL, v, ev);
  }
  if (cmd->machine_evidence) {
    char *joined = g_strdup_printf("%s; %s", cmd->machine_evidence, ev);
    g_free(cmd->machine_evidence);
    cmd->machine_evidence = joined;
  } else {
    cmd->machine_evidence = g_strdup(ev);
  }
  return TRUE;
}

static gboolean
add_object(VsbQemuCmdline *cmd, gboolean is_obj, const char *value, const char *ev,
           GError **error)
{
  const char *tkey = is_obj ? "qom-type" : "driver";
  g_autoptr(VsbQemuOpts) o = parse_json_or_keyval(value, tkey, is_obj, error);
  if (o == NULL)
    return FALSE;
  const char *type = vsb_qemu_opts_get(o, tkey);
  if (type == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "parameter '%s' is missing", tkey);
    return FALSE;
  }
  gboolean json = value[0] == '{';
  const char *id = vsb_qemu_opts_get(o, "id");
  /* -set finds a -device by its QemuOpts id; JSON devices are not QemuOpts in QEMU 7.2. */
  if (!is_obj && !json && id && !check_new_id(id, "device", find_device(cmd, id) != NULL, error))
    return FALSE;
  VsbQemuObject *obj = g_new0(VsbQemuObject, 1);
  obj->type = g_strdup(type);
  obj->id = g_strdup(id);
  obj->props = g_steal_pointer(&o);
  obj->json = json;
  obj->evidence = g_strdup(ev);
  g_ptr_array_add(is_obj ? cmd->objects : cmd->devices, obj);
  if (!is_obj && !json && id)
    id_insert(cmd, "device", id, obj);
  return TRUE;
}

/* -set GROUP.ID.KEY=VALUE, split as QEMU's qemu_set_option() splits it
 * (sscanf "%63[^.].%63[^.].%63[^=]%n" and then '='). */
static gboolean
split_set(const char *value, char **group, char **id, char **key, const char **val)
{
  const char *p = value;
  char **parts[] = { group, id, key };
  const char *stops[] = { ".", ".", "=" };
  for (int i = 0; i < 3; i++) {
    size_t n = strcspn(p, stops[i]);
    if (n == 0 || n > 63 || p[n] != stops[i][0])
      return FALSE;
    *parts[i] = g_strndup(p, n);
    p += n + 1;
  }
  *val = p;
  return TRUE;
}

static void
append_set_evidence(char **field, const char *ev)
{
  char *joined = g_strdup_printf("%s; %s", *field, ev);
  g_free(*field);
  *field = joined;
}

static gboolean
set_global(VsbQemuGlobal *g, const char *key, const char *val, const char *ev, GError **error)
{
  if (!global_key(key)) {
    g_autofree char *s = show(key);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "invalid parameter '%s'", s);
    return FALSE;
  }
  char **field = key[0] == 'd' ? &g->driver : key[0] == 'p' ? &g->property : &g->value;
  g_free(*field);
  *field = g_strdup(val);
  append_set_evidence(&g->evidence, ev);
  return TRUE;
}

/* -set: changes an option list QEMU still holds. -drive lists become drives only after the
 * whole command line is read, so a -set after a -drive decides its file, unit or interface. */
static gboolean
add_set(VsbQemuCmdline *cmd, const char *value, const char *ev, GError **error)
{
  g_autofree char *group = NULL, *id = NULL, *key = NULL;
  const char *val = NULL;
  g_autofree char *sv = show(value);
  if (!split_set(value, &group, &id, &key, &val)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "can't parse: \"%s\"", sv);
    return FALSE;
  }
  static const char *const not_qemuopts[] = { "object", "audiodev", "machine", "smp-opts",
                                               "boot-opts" };
  for (gsize i = 0; i < G_N_ELEMENTS(not_qemuopts); i++)
    if (strcmp(group, not_qemuopts[i]) == 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "-set is not supported with %s", group);
      return FALSE;
    }
  g_autofree char *sg = show(group), *si = show(id);
  if (strcmp(group, "drive") == 0) {
    DriveDef *d = find_drive_def(cmd, id);
    if (d == NULL)
      goto not_defined;
    opts_add(d->opts, key, val);
    append_set_evidence(&d->evidence, ev);
    return TRUE;
  }
  if (strcmp(group, "device") == 0) {
    VsbQemuObject *d = find_device(cmd, id);
    if (d == NULL)
      goto not_defined;
    opts_add(d->props, key, val);
    if (strcmp(key, "driver") == 0)
      set_with_evidence(&d->type, NULL, val, NULL);
    append_set_evidence(&d->evidence, ev);
    return TRUE;
  }
  if (strcmp(group, "global") == 0) {
    VsbQemuGlobal *g = find_global(cmd, id);
    if (g == NULL)
      goto not_defined;
    return set_global(g, key, val, ev, error);
  }
  /* The accelerator decides whether smm=auto gives SMM; vsboot keeps no -accel ids. */
  if (strcmp(group, "accel") == 0)
    g_ptr_array_add(cmd->unmodeled,
                    g_strdup_printf("%s: changes an -accel option list, which vsboot does not "
                                    "follow (the accelerator decides SMM under smm=auto)", ev));
  /* Other groups (netdev, chardev, ...) hold nothing that backs or configures the flash. */
  return TRUE;
not_defined:
  g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "there is no %s \"%s\" defined", sg, si);
  return FALSE;
}

static gboolean
add_option(VsbQemuCmdline *cmd, const char *name, const char *value, const char *origin,
           GError **error)
{
  g_autofree char *ev = evidence(origin, name, value);

  if (strcmp(name, "machine") == 0 || strcmp(name, "M") == 0)
    return add_machine(cmd, value, ev, error);
  if (strcmp(name, "accel") == 0) {
    g_autoptr(VsbQemuOpts) o = vsb_qemu_opts_parse(value, "accel", FALSE, error);
    if (o == NULL)
      return FALSE;
    const char *a = vsb_qemu_opts_get(o, "accel");
    if (a == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "no accelerator selected");
      return FALSE;
    }
    return add_accels(cmd, a, ev);
  }
  if (strcmp(name, "enable-kvm") == 0)
    return add_accels(cmd, "kvm", ev);
  if (strcmp(name, "drive") == 0) {
    VsbQemuOpts *o = vsb_qemu_opts_parse(value, NULL, FALSE, error);
    return o && add_drive(cmd, o, NULL, NULL, -1, ev, error);
  }
  if (strcmp(name, "pflash") == 0)
    return add_drive(cmd, opts_new(), value, "pflash", -1, ev, error);
  if (strcmp(name, "hda") == 0 || strcmp(name, "hdb") == 0 || strcmp(name, "hdc") == 0 ||
      strcmp(name, "hdd") == 0 || strcmp(name, "cdrom") == 0) {
    int index = strcmp(name, "cdrom") == 0 ? 2 : name[2] - 'a';
    return add_drive(cmd, opts_new(), value, "ide", index, ev, error);
  }
  if (strcmp(name, "blockdev") == 0) {
    g_autoptr(VsbQemuOpts) o = parse_json_or_keyval(value, NULL, TRUE, error);
    if (o == NULL)
      return FALSE;
    if (vsb_qemu_opts_get(o, "node-name") == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "-blockdev needs a node-name");
      return FALSE;
    }
    return add_blockdev_node(cmd, o, "", ev, 0, error) >= 0;
  }
  if (strcmp(name, "global") == 0)
    return add_global(cmd, value, ev, error);
  if (strcmp(name, "set") == 0)
    return add_set(cmd, value, ev, error);
  if (strcmp(name, "object") == 0 || strcmp(name, "device") == 0)
    return add_object(cmd, name[0] == 'o', value, ev, error);
  if (strcmp(name, "bios") == 0)
    set_with_evidence(&cmd->bios, &cmd->bios_evidence, value, ev);
  else if (strcmp(name, "kernel") == 0)
    set_with_evidence(&cmd->kernel, &cmd->kernel_evidence, value, ev);
  else if (strcmp(name, "initrd") == 0)
    set_with_evidence(&cmd->initrd, NULL, value, ev);
  else if (strcmp(name, "append") == 0)
    set_with_evidence(&cmd->append, NULL, value, ev);
  else if (strcmp(name, "cpu") == 0)
    set_with_evidence(&cmd->cpu, NULL, value, ev);
  else if (strcmp(name, "snapshot") == 0) {
    /* -snapshot applies to every drive, given before it or after: drives are made at the end. */
    set_with_evidence(&cmd->snapshot_evidence, NULL, ev, NULL);
    cmd->snapshot = TRUE;
  } else if (strcmp(name, "no-user-config") == 0) {
    cmd->no_user_config = TRUE;
  } else if (strcmp(name, "incoming") == 0 || strcmp(name, "loadvm") == 0) {
    /* Guest RAM, and with it what both flash devices hold, comes from the migration stream or
     * the snapshot (and is written back to the varstore file), not from the files. */
    g_ptr_array_add(cmd->unmodeled,
                    g_strdup_printf("%s: the flash contents come from %s, not from the files",
                                    ev, name[0] == 'i' ? "the migration stream"
                                                       : "the saved VM state"));
  } else if (strcmp(name, "readconfig") == 0)
    return read_config(cmd, value, ev, error);
  return TRUE; /* an option that has no bearing on firmware or Secure Boot */
}

gboolean
vsb_qemu_cmdline_add(VsbQemuCmdline *cmd, const char *name, const char *value,
                     const char *origin, GError **error)
{
  int kind = option_kind(name);
  if (kind < 0) {
    g_autofree char *n = show(name);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: unknown QEMU option '-%s'", origin, n);
    return FALSE;
  }
  if (kind == 1 && value == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: -%s requires an argument", origin, name);
    return FALSE;
  }
  g_autoptr(GError) local = NULL;
  if (!add_option(cmd, name, kind == 1 ? value : NULL, origin, &local)) {
    g_autofree char *v = show(value);
    if (local->domain == VSB_ERROR && local->code == VSB_ERROR_IO)
      g_propagate_error(error, g_steal_pointer(&local));
    else
      g_set_error(error, VSB_ERROR, local->code, "%s: -%s %s: %s", origin, name, v,
                  local->message);
    return FALSE;
  }
  return TRUE;
}

static VsbFwArch
arch_from_binary(const char *binary)
{
  g_autofree char *base = g_path_get_basename(binary);
  const char *p = strstr(base, "qemu-system-");
  if (p) {
    const char *a = p + strlen("qemu-system-");
    /* QEMU's qemu-system-ARCH names are firmware.json's: the one architecture type. */
    return (VsbFwArch)vsb_fw_arch_from_name(a);
  }
  if (strcmp(base, "qemu-kvm") == 0 || strcmp(base, "kvm") == 0) {
#if defined(__x86_64__)
    return VSB_FW_ARCH_X86_64;
#elif defined(__aarch64__)
    return VSB_FW_ARCH_AARCH64;
#endif
  }
  return VSB_FW_ARCH_UNKNOWN;
}

gboolean
vsb_qemu_cmdline_parse_args(VsbQemuCmdline *cmd, const char *const *argv, int argc,
                            const char *origin_prefix, int first_index, GError **error)
{
  if (argc < 0 || argc > VSB_QEMU_CMDLINE_MAX_ARGS) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "too many arguments (%d; at most %d)", argc,
                VSB_QEMU_CMDLINE_MAX_ARGS);
    return FALSE;
  }
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    g_autofree char *origin = g_strdup_printf("%sargument %d", origin_prefix ? origin_prefix : "",
                                              i + first_index);
    if (a[0] != '-') {
      /* QEMU takes a bare word as the first hard disk image. */
      g_autofree char *ev = evidence(origin, "hda", a);
      if (!add_drive(cmd, opts_new(), a, "ide", 0, ev, error))
        return FALSE;
      continue;
    }
    const char *name = a + 1;
    if (name[0] == '-')
      name++;
    int kind = option_kind(name);
    if (kind < 0) {
      g_autofree char *s = show(a);
      const char *eq = strchr(name, '=');
      if (eq && eq != name) {
        g_autofree char *opt = g_strndup(name, (gsize)(eq - name));
        if (option_kind(opt) >= 0) {
          g_autofree char *o = show(opt), *v = show(eq + 1);
          g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                      "%s: '%s': QEMU does not accept '-option=value'; it would stop with "
                      "\"invalid option\" (write '-%s %s')", origin, s, o, v);
          return FALSE;
        }
      }
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: '%s' is not a QEMU option", origin, s);
      return FALSE;
    }
    const char *value = NULL;
    if (kind == 1) {
      if (i + 1 >= argc) {
        g_autofree char *s = show(a);
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: '%s' requires an argument", origin, s);
        return FALSE;
      }
      value = argv[++i];
    }
    if (!vsb_qemu_cmdline_add(cmd, name, value, origin, error))
      return FALSE;
  }
  /* The drives as QEMU creates them, now that no later -set can change them: errors such as
   * a unit given twice belong to reading the command line. */
  GPtrArray *drives = resolve_drives(cmd, error);
  if (drives == NULL)
    return FALSE;
  g_ptr_array_unref(cmd->drives);
  cmd->drives = drives;
  return TRUE;
}

/* QEMU's first pass: is the flag option among the options (not inside an option's argument)? */
static gboolean
has_flag_option(const char *const *argv, int argc, const char *option)
{
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-')
      continue;
    const char *name = a[1] == '-' ? a + 2 : a + 1;
    if (strcmp(name, option) == 0)
      return TRUE;
    if (option_kind(name) == 1)
      i++;
  }
  return FALSE;
}

VsbQemuCmdline *
vsb_qemu_cmdline_parse_full(const char *const *argv, int argc, const char *cwd,
                            gboolean cwd_unknown, const char *user_config, GError **error)
{
  g_autoptr(VsbQemuCmdline) cmd = vsb_qemu_cmdline_new();
  cmd->cwd = g_strdup(cwd);
  cmd->cwd_unknown = cwd == NULL && cwd_unknown;
  int i = 0;
  if (argc > 0 && argv[0][0] != '-') {
    cmd->binary = g_strdup(argv[0]);
    cmd->arch = arch_from_binary(argv[0]);
    i = 1;
  }
  /* QEMU reads its default config file before the options (a missing file is no error):
   * its [drive] or [global] groups count like -readconfig's. */
  if (argc >= i && !has_flag_option(argv + i, argc - i, "no-user-config")) {
    const char *path = user_config ? user_config : VSB_QEMU_USER_CONFIG;
    if (g_file_test(path, G_FILE_TEST_EXISTS) &&
        !read_config(cmd, path, "QEMU's default config file, read without -no-user-config",
                     error))
      return NULL;
  }
  if (!vsb_qemu_cmdline_parse_args(cmd, argv + i, argc - i, NULL, i, error))
    return NULL;
  return g_steal_pointer(&cmd);
}

VsbQemuCmdline *
vsb_qemu_cmdline_parse(const char *const *argv, int argc, const char *cwd, GError **error)
{
  return vsb_qemu_cmdline_parse_full(argv, argc, cwd, FALSE, NULL, error);
}

VsbQemuCmdline *
vsb_qemu_cmdline_parse_process(const char *proc_root, int pid, GError **error)
{
  g_auto(GStrv) words = vsb_qemu_read_proc_cmdline(proc_root, pid, error);
  if (words == NULL)
    return NULL;
  /* Relative paths are the process's, never ours: without its cwd they stay unresolved. */
  g_autofree char *cwd_link = g_strdup_printf("%s/%d/cwd", proc_root ? proc_root : "/proc", pid);
  g_autofree char *cwd = g_file_read_link(cwd_link, NULL);
  /* A removed directory reads "PATH (deleted)": PATH is no longer where relative names lead.
   * Nor is "/" for -daemonize, which changes there after opening every file. */
  int argc = (int)g_strv_length(words);
  if (cwd && (!g_path_is_absolute(cwd) || g_str_has_suffix(cwd, " (deleted)") ||
              has_flag_option((const char *const *)words + 1, argc - 1, "daemonize")))
    g_clear_pointer(&cwd, g_free);
  return vsb_qemu_cmdline_parse_full((const char *const *)words, argc, cwd, cwd == NULL, NULL,
                                     error);
}

/* ---------------------------------------------------------------------------------------------
 * -readconfig: QEMU's ini-like format (util/qemu-config.c qemu_config_parse) */

/* Option names QEMU knows are made of these; anything else (a ',' or '=' that would split into
 * other keys when the group is handed on as an option list) QEMU refuses as an unknown
 * parameter or group. */
static gboolean
config_name_ok(const char *name)
{
  if (name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static gboolean
apply_group(VsbQemuCmdline *cmd, const char *group, const char *id, VsbQemuOpts *o,
            const char *origin, GError **error)
{
  if (group == NULL)
    return TRUE;
  if (!config_name_ok(group)) {
    g_autofree char *s = show(group);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: there is no option group '%s'", origin, s);
    return FALSE;
  }
  for (guint i = 0; i < o->keys->len; i++) {
    const char *k = o->keys->pdata[i];
    if (!config_name_ok(k) ||
        (strcmp(group, "global") == 0 && !global_key(k) && strcmp(k, "id") != 0)) {
      g_autofree char *s = show(k);
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: [%s]: invalid parameter '%s'", origin,
                  group, s);
      return FALSE;
    }
  }
  static const char *const groups[] = { "drive", "machine", "global", "device", "object",
                                        "accel", NULL };
  if (!g_strv_contains(groups, group))
    return TRUE; /* memory, smp-opts, chardev, ...: nothing that backs or configures flash */
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i <= o->keys->len; i++) {
    const char *k = i == 0 ? "id" : o->keys->pdata[i - 1];
    const char *v = i == 0 ? id : o->values->pdata[i - 1];
    if (v == NULL)
      continue;
    g_string_append_printf(s, "%s%s=", s->len ? "," : "", k);
    for (const char *p = v; *p; p++) {
      if (*p == ',')
        g_string_append_c(s, ',');
      g_string_append_c(s, *p);
    }
  }
  if (strcmp(group, "object") == 0 || strcmp(group, "device") == 0) {
    const char *k = group[0] == 'o' ? "qom-type" : "driver";
    if (vsb_qemu_opts_get(o, k) == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: [%s] has no '%s'", origin, group, k);
      return FALSE;
    }
  }
  return vsb_qemu_cmdline_add(cmd, group, s->str, origin, error);
}

static gboolean
read_config(VsbQemuCmdline *cmd, const char *path, const char *origin, GError **error)
{
  if (cmd->readconfig->len >= 16) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "too many -readconfig files");
    return FALSE;
  }
  g_autofree char *abs = vsb_qemu_cmdline_abspath(cmd, path);
  g_autofree char *shown = show(abs);
  if (!g_path_is_absolute(abs)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO,
                "%s: -readconfig %s: a relative name, and the process's working directory "
                "cannot be read", origin, shown);
    return FALSE;
  }
  /* Bounded, and only a regular file: /dev/zero would never end and a FIFO would block (QEMU
   * itself stops at /dev/zero's first line and waits on a FIFO for a writer). */
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) bytes = vsb_file_read(abs, VSB_QEMU_READCONFIG_MAX_BYTES, &local);
  if (bytes == NULL) {
    g_autofree char *m = show(local->message);
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", origin, m);
    return FALSE;
  }
  g_ptr_array_add(cmd->readconfig, g_strdup(abs));
  gsize len = 0;
  const char *data = g_bytes_get_data(bytes, &len);
  return vsb_qemu_readconfig_parse(cmd, data ? data : "", len, abs, error);
}

/* One line as QEMU's fgets(line, 1024, fp) hands it over: through '\n', or 1023 bytes. */
static char *
config_line(const char *data, gsize len, gsize *pos)
{
  gsize start = *pos, n = 0;
  while (start + n < len && n < 1023)
    if (data[start + n++] == '\n')
      break;
  *pos = start + n;
  return g_strndup(data + start, n);
}

/* Each line is read with the very sscanf patterns of QEMU 7.2's qemu_config_foreach(), so a
 * value ends at its closing quote and whatever follows is ignored exactly where QEMU ignores
 * it, and "key=\"v\"" without spaces fails where QEMU fails. */
gboolean
vsb_qemu_readconfig_parse(VsbQemuCmdline *cmd, const char *data, gsize len, const char *name,
                          GError **error)
{
  g_autofree char *shown = show(name);
  if (memchr(data, '\0', len) != NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not a QEMU config file (NUL byte)",
                shown);
    return FALSE;
  }
  char group[64] = "", id[64], arg[64], value[1024];
  g_autofree char *cur_group = NULL, *cur_id = NULL, *group_origin = NULL;
  g_autoptr(VsbQemuOpts) o = NULL;
  gsize pos = 0;
  for (guint lno = 1; pos < len; lno++) {
    g_autofree char *line = config_line(data, len, &pos);
    g_autofree char *origin = g_strdup_printf("%s:%u", shown, lno);
    if (line[0] == '\n' || line[0] == '#')
      continue;
    if (line[0] == '[') {
      int n = sscanf(line, "[%63s \"%63[^\"]\"]", group, id);
      if (n == 2 || sscanf(line, "[%63[^]]]", group) == 1) {
        if (!apply_group(cmd, cur_group, cur_id, o, group_origin, error))
          return FALSE;
        g_free(cur_group);
        g_free(cur_id);
        g_free(group_origin);
        cur_group = g_strdup(group);
        cur_id = n == 2 ? g_strdup(id) : NULL;
        group_origin = g_strdup(origin);
        g_clear_pointer(&o, vsb_qemu_opts_free);
        o = opts_new();
        continue;
      }
    }
    value[0] = '\0';
    if (sscanf(line, " %63s = \"%1023[^\"]\"", arg, value) == 2 ||
        sscanf(line, " %63s = \"\"", arg) == 1) {
      if (o == NULL) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: no group defined", origin);
        return FALSE;
      }
      opts_add(o, arg, value);
      continue;
    }
    g_autofree char *s = show(line);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: parse error in '%s'", origin, s);
    return FALSE;
  }
  return apply_group(cmd, cur_group, cur_id, o, group_origin, error);
}

/* ---------------------------------------------------------------------------------------------
 * Splitting */

char **
vsb_qemu_split_cmdline(const char *text, gsize len, GError **error)
{
  if (len > VSB_QEMU_CMDLINE_MAX_BYTES) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "command line too long (%" G_GSIZE_FORMAT " bytes; at most %d)", len,
                VSB_QEMU_CMDLINE_MAX_BYTES);
    return NULL;
  }
  if (memchr(text, '\0', len) != NULL) {
    /* NUL-terminated words; a final NUL ends the last one. */
    GPtrArray *words = g_ptr_array_new();
    gsize start = 0;
    for (gsize i = 0; i < len; i++) {
      if (text[i] == '\0') {
        g_ptr_array_add(words, g_strndup(text + start, i - start));
        start = i + 1;
      }
    }
    if (start < len)
      g_ptr_array_add(words, g_strndup(text + start, len - start));
    g_ptr_array_add(words, NULL);
    return (char **)g_ptr_array_free(words, FALSE);
  }
  g_autofree char *copy = g_strndup(text, len);
  g_strstrip(copy);
  if (copy[0] == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "the command line is empty");
    return NULL;
  }
  int argc = 0;
  char **argv = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_shell_parse_argv(copy, &argc, &argv, &local)) {
    g_autofree char *m = show(local->message);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "cannot split the command line: %s", m);
    return NULL;
  }
  return argv;
}

char **
vsb_qemu_read_proc_cmdline(const char *proc_root, int pid, GError **error)
{
  if (pid <= 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "invalid process id %d", pid);
    return NULL;
  }
  g_autofree char *path = g_strdup_printf("%s/%d/cmdline", proc_root ? proc_root : "/proc", pid);
  /* Bounded like every reader: /proc files say size 0, so the bound is what limits the read. */
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) bytes = vsb_file_read(path, VSB_QEMU_CMDLINE_MAX_BYTES, &local);
  if (bytes == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND, "process %d: %s", pid, local->message);
    return NULL;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(bytes, &len);
  if (len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "process %d has an empty command line (a kernel thread or a zombie)", pid);
    return NULL;
  }
  /* NUL-terminated words; a final NUL ends the last one. */
  GPtrArray *words = g_ptr_array_new();
  gsize start = 0;
  for (gsize i = 0; i < len; i++) {
    if (data[i] == '\0') {
      g_ptr_array_add(words, g_strndup(data + start, i - start));
      start = i + 1;
    }
  }
  if (start < len)
    g_ptr_array_add(words, g_strndup(data + start, len - start));
  g_ptr_array_add(words, NULL);
  return (char **)g_ptr_array_free(words, FALSE);
}

/* ---------------------------------------------------------------------------------------------
 * Resolution */

void
vsb_qemu_flash_clear(VsbQemuFlash *flash)
{
  g_free(flash->file);
  g_free(flash->format);
  g_free(flash->unmodeled);
  g_free(flash->evidence);
  memset(flash, 0, sizeof(*flash));
}

static VsbQemuBlockdev *
find_node(const VsbQemuCmdline *cmd, const char *name)
{
  for (guint i = 0; i < cmd->blockdevs->len; i++) {
    VsbQemuBlockdev *b = cmd->blockdevs->pdata[i];
    if (b->node_name && strcmp(b->node_name, name) == 0)
      return b;
  }
  return NULL;
}

static void
append_evidence(GString *s, const char *ev)
{
  if (strstr(s->str, ev))
    return;
  if (s->len)
    g_string_append(s, "; ");
  g_string_append(s, ev);
}

static gboolean
follow_node(const VsbQemuCmdline *cmd, VsbQemuBlockdev *b, VsbQemuFlash *out, GString *ev,
            GError **error)
{
  gboolean ro = FALSE;
  for (int depth = 0; b != NULL; depth++) {
    if (depth > 16) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "-blockdev chain too long or a loop");
      return FALSE;
    }
    append_evidence(ev, b->evidence);
    ro |= b->read_only;
    if (b->unmodeled)
      append_reason(&out->unmodeled, "%s", b->unmodeled);
    if (strcmp(b->driver, "raw") == 0 || strcmp(b->driver, "qcow2") == 0) {
      if (out->format == NULL)
        out->format = g_strdup(b->driver);
    }
    if (b->filename) {
      /* Only the file protocols' filename is a local path (gluster's, say, is not). */
      out->remote = !is_protocol_driver(b->driver);
      out->file = out->remote ? g_strdup(b->filename)
                              : vsb_qemu_cmdline_abspath(cmd, b->filename);
      break;
    }
    if (b->file_child >= 0) {
      b = cmd->blockdevs->pdata[b->file_child];
    } else if (b->file_ref) {
      VsbQemuBlockdev *next = find_node(cmd, b->file_ref);
      if (next == NULL) {
        g_autofree char *s = show(b->file_ref);
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "%s: no -blockdev with node-name '%s'", b->evidence, s);
        return FALSE;
      }
      b = next;
    } else {
      /* nbd, iscsi, null-co...: something backs the flash, but no file vsboot can name. */
      append_reason(&out->unmodeled, "driver=%s has no file vsboot can follow", b->driver);
      out->file = g_strdup_printf("(a %s node)", b->driver);
      out->remote = TRUE;
      break;
    }
  }
  out->readonly = ro;
  /* A protocol node attached directly is read as raw bytes. */
  if (out->format == NULL)
    out->format = g_strdup("raw");
  return TRUE;
}

/* A protocol name (nbd:, json:) stays as written: it is not a path to make absolute. */
static void
drive_to_flash(const VsbQemuCmdline *cmd, const VsbQemuDrive *d, VsbQemuFlash *out)
{
  out->present = TRUE;
  out->file = d->remote ? g_strdup(d->file) : vsb_qemu_cmdline_abspath(cmd, d->file);
  out->remote = d->remote;
  out->format = g_strdup(d->format);
  out->readonly = d->readonly;
  out->snapshot = d->snapshot;
  out->unmodeled = g_strdup(d->unmodeled);
}

gboolean
vsb_qemu_cmdline_get_flash(const VsbQemuCmdline *cmd, guint unit, VsbQemuFlash *out,
                           GError **error)
{
  memset(out, 0, sizeof(*out));
  g_autoptr(GString) ev = g_string_new(NULL);
  /* Made afresh: options may have been added since the last full parse. */
  g_autoptr(GPtrArray) drives = resolve_drives(cmd, error);
  if (drives == NULL)
    return FALSE;
  VsbQemuDrive *legacy = NULL;
  for (guint i = 0; i < drives->len; i++) {
    VsbQemuDrive *d = drives->pdata[i];
    if (strcmp(d->interface, "pflash") == 0 && d->unit == (int)unit)
      legacy = d;
  }
  g_autofree char *key = g_strdup_printf("pflash%u", unit);
  const char *ref = vsb_qemu_opts_get(cmd->machine_opts, key);
  if (legacy && ref) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "flash %u is given twice: by %s and by -machine %s=; QEMU refuses this", unit,
                legacy->evidence, key);
    return FALSE;
  }
  if (legacy) {
    drive_to_flash(cmd, legacy, out);
    out->evidence = g_strdup(legacy->evidence);
    if (legacy->file == NULL) {
      vsb_qemu_flash_clear(out);
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: the pflash drive has no file",
                  legacy->evidence);
      return FALSE;
    }
    return TRUE;
  }
  if (ref == NULL)
    return TRUE;
  g_autofree char *refs = show(ref);
  g_autofree char *mev = g_strdup_printf("-machine %s=%s", key, refs);
  g_string_append(ev, mev);
  /* A BlockBackend name (-drive if=none,id=) comes first, then a node name. */
  for (guint i = 0; i < drives->len; i++) {
    VsbQemuDrive *d = drives->pdata[i];
    if (d->id && strcmp(d->id, ref) == 0) {
      if (strcmp(d->interface, "none") != 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "%s names drive '%s', which is already attached to if=%s", mev, refs,
                    d->interface);
        return FALSE;
      }
      if (d->file == NULL) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                    "%s: drive '%s' has no file (QEMU: the device needs media)", mev, refs);
        return FALSE;
      }
      drive_to_flash(cmd, d, out);
      append_evidence(ev, d->evidence);
      out->evidence = g_strdup(ev->str);
      return TRUE;
    }
  }
  VsbQemuBlockdev *b = find_node(cmd, ref);
  if (b == NULL) {
    g_autofree char *s = show(ref);
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "-machine %s=%s: no -drive id or -blockdev node-name '%s'", key, s, s);
    return FALSE;
  }
  out->present = TRUE;
  if (!follow_node(cmd, b, out, ev, error)) {
    vsb_qemu_flash_clear(out);
    return FALSE;
  }
  out->evidence = g_strdup(ev->str);
  return TRUE;
}

gboolean
vsb_qemu_cmdline_pflash_secure(const VsbQemuCmdline *cmd, gboolean *set, const char **ev)
{
  gboolean value = FALSE;
  *set = FALSE;
  if (ev)
    *ev = NULL;
  for (guint i = 0; i < cmd->globals->len; i++) {
    VsbQemuGlobal *g = cmd->globals->pdata[i];
    if (strcmp(g->driver, "cfi.pflash01") != 0 || strcmp(g->property, "secure") != 0)
      continue;
    gboolean v;
    if (!vsb_qemu_parse_bool(g->value, &v))
      continue; /* QEMU stops at start; the audit reports the global itself */
    value = v;
    *set = TRUE;
    if (ev)
      *ev = g->evidence;
  }
  return value;
}
