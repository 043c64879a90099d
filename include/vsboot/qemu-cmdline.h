/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: read a QEMU command line the way QEMU reads it, to learn which firmware, varstore,
 * machine and flash settings a VM really gets. Options follow QEMU 7.2's rules: "-opt" and
 * "--opt" are the same, "-opt=value" does not exist, option lists are QemuOpts/keyval
 * ("key=value,key=value", ",," for a comma, an implied first key for -machine/-accel/-device/
 * -object, bare "key"/"nokey" flags for QemuOpts), -blockdev also takes JSON, and -readconfig
 * files are read ([drive], [machine], [global], [device], [object], [accel] groups), as is
 * QEMU's default config file (/etc/qemu/qemu.conf) unless -no-user-config. -set GROUP.ID.KEY=
 * VALUE changes a -drive, -device or -global option list by id, and -drive lists become drives
 * only after the whole line is read (as QEMU creates them): a -set after a -drive changes the
 * file, unit or interface the drive gets. What could change the flash but is not modelled (a
 * json: file name, offset=/size=, a filter driver between flash and file, -set on -accel) is
 * listed in "unmodeled" rather than ignored.
 * The emitting side (vsboot's own command lines) is qemu-argv.h. */
#pragma once

#include "vsboot/descriptor.h"
#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

/* Input limits: larger inputs are refused with a clear error rather than parsed. */
#define VSB_QEMU_CMDLINE_MAX_ARGS 65536
#define VSB_QEMU_CMDLINE_MAX_BYTES (4 * 1024 * 1024)
#define VSB_QEMU_READCONFIG_MAX_BYTES (1024 * 1024)
/* QEMU 7.2 reads this before the second pass over its options unless -no-user-config. */
#define VSB_QEMU_USER_CONFIG "/etc/qemu/qemu.conf"

/* One key=value option list, in order; later duplicates win on lookup. */
typedef struct {
  GPtrArray *keys;   /* char* */
  GPtrArray *values; /* char* */
} VsbQemuOpts;

const char *vsb_qemu_opts_get(const VsbQemuOpts *opts, const char *key); /* last; NULL if absent */

typedef struct {
  char *interface;   /* if=: "pflash", "none", "ide" (QEMU's default), ... */
  int unit;          /* resolved as QEMU resolves it (lowest free unit when not given) */
  char *id;          /* id= (also the BlockBackend name -machine pflashN= may name) */
  char *file;        /* file= ("file:" prefix removed) or file.filename=, NULL when absent */
  gboolean remote;   /* file names a protocol (nbd:, json:, ...), not a local path */
  char *unmodeled;   /* what about this drive vsboot does not follow, NULL when nothing */
  char *format;      /* format=, NULL when absent (QEMU probes, raw in practice) */
  gboolean readonly;
  gboolean snapshot; /* snapshot=on, or the global -snapshot */
  char *evidence;    /* the option as given, with where it came from */
} VsbQemuDrive;

typedef struct {
  char *node_name;   /* NULL for an inline (nameless) child */
  char *driver;
  char *file_ref;    /* file=NODE: the child node by name */
  int file_child;    /* index of an inline child in the blockdev list, or -1 */
  char *filename;    /* filename= of protocol drivers */
  gboolean read_only;
  gboolean auto_read_only;
  char *unmodeled;   /* options that change the bytes the node exposes (offset=, backing=) or
                      * a driver vsboot does not model; NULL when none */
  char *evidence;
} VsbQemuBlockdev;

typedef struct {
  char *driver;      /* as QEMU splits it: "cfi.pflash01.secure=on" gives driver "cfi" */
  char *property;
  char *value;
  gboolean short_form; /* written as driver.property=value */
  char *id;          /* id= of the long form (what -set global.ID finds), NULL when none */
  char *evidence;
} VsbQemuGlobal;

typedef struct {
  char *type;        /* -object qom-type / -device driver */
  char *id;
  VsbQemuOpts *props;
  gboolean json;     /* given as JSON: QEMU keeps it out of reach of -set */
  char *evidence;
} VsbQemuObject;

typedef struct {
  char *binary;      /* argv[0] when the line starts with a program, else NULL */
  VsbFwArch arch;    /* from the binary name (qemu-system-x86_64), else VSB_FW_ARCH_UNKNOWN */
  char *machine;     /* -machine type (as written, e.g. "q35"), NULL = QEMU's default */
  VsbQemuOpts *machine_opts; /* every -machine/-M key, merged in order */
  char *machine_evidence;
  GPtrArray *accels;         /* char*: "kvm", "tcg", ... in the order QEMU tries them */
  char *accel_evidence;
  GPtrArray *drives;         /* VsbQemuDrive* */
  GPtrArray *blockdevs;      /* VsbQemuBlockdev* */
  GPtrArray *globals;        /* VsbQemuGlobal* */
  GPtrArray *objects;        /* VsbQemuObject* (-object) */
  GPtrArray *devices;        /* VsbQemuObject* (-device) */
  char *bios, *bios_evidence;
  char *kernel, *kernel_evidence;
  char *initrd;
  char *append;
  char *cpu;
  gboolean snapshot;
  char *snapshot_evidence;
  GPtrArray *readconfig;     /* char*: the config files read */
  char *cwd;                 /* base for relative paths (NULL: the current directory) */
  gboolean cwd_unknown;      /* a process whose working directory could not be read: relative
                              * paths stay relative (never resolved against ours) */
  gboolean no_user_config;   /* -no-user-config given */
  GPtrArray *unmodeled;      /* char*: options that could change the firmware setup but are
                              * not modelled, each with where it came from and why */
  GPtrArray *drive_defs;     /* internal: the -drive option lists, turned into drives at the end */
  GHashTable *ids;           /* internal: "GROUP\x1fID" -> the option list -set finds by id */
} VsbQemuCmdline;

VsbQemuCmdline *vsb_qemu_cmdline_new(void);
void vsb_qemu_cmdline_free(VsbQemuCmdline *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbQemuCmdline, vsb_qemu_cmdline_free)

/* Parse an argument vector. When argv[0] does not start with '-' it is the program (QEMU itself
 * treats a later bare word as the first hard disk). cwd (may be NULL) resolves relative paths
 * and -readconfig files. Errors (VSB_ERROR_PARSE) name the argument index and what is wrong. */
VsbQemuCmdline *vsb_qemu_cmdline_parse(const char *const *argv, int argc, const char *cwd,
                                       GError **error);
/* The same with QEMU's default config file: read user_config (NULL: VSB_QEMU_USER_CONFIG) when
 * it exists and the line has no -no-user-config, before the arguments, as QEMU does. cwd NULL
 * with cwd_unknown TRUE: relative paths cannot be resolved and are left relative. */
VsbQemuCmdline *vsb_qemu_cmdline_parse_full(const char *const *argv, int argc, const char *cwd,
                                            gboolean cwd_unknown, const char *user_config,
                                            GError **error);
/* A running process: PROC/PID/cmdline parsed against PROC/PID/cwd (proc_root NULL: "/proc");
 * an unreadable cwd, a removed one, or "/" after -daemonize (which moves there once its files
 * are open) gives cwd_unknown, not our own directory. */
VsbQemuCmdline *vsb_qemu_cmdline_parse_process(const char *proc_root, int pid, GError **error);
/* Parse more arguments into cmd (no program name); origins read "PREFIXargument N" with N
 * counted from first_index. */
gboolean vsb_qemu_cmdline_parse_args(VsbQemuCmdline *cmd, const char *const *argv, int argc,
                                     const char *origin_prefix, int first_index, GError **error);
/* Add one option ("machine", "q35,smm=on"; value NULL for flags) to a command line being built,
 * with origin naming where it came from in messages ("argument 3", "domain.xml <loader>"). */
gboolean vsb_qemu_cmdline_add(VsbQemuCmdline *cmd, const char *name, const char *value,
                              const char *origin, GError **error);

/* Read a -readconfig file's text into cmd (name is used in messages). */
gboolean vsb_qemu_readconfig_parse(VsbQemuCmdline *cmd, const char *data, gsize len,
                                   const char *name, GError **error);

/* A shell-quoted line (`--qemu-cmdline 'ARGS'`) into words, as a POSIX shell would split it.
 * Text containing NUL bytes is taken as NUL-separated (a copy of /proc/PID/cmdline). */
char **vsb_qemu_split_cmdline(const char *text, gsize len, GError **error);
/* /proc/PID/cmdline into its arguments; proc_root NULL means "/proc". */
char **vsb_qemu_read_proc_cmdline(const char *proc_root, int pid, GError **error);

/* Split a QemuOpts list ("q35,smm=on"), implied_key naming the first key when the first item has
 * no '=' (NULL: none). keyval (strict) refuses bare flags as -blockdev/-object do. */
VsbQemuOpts *vsb_qemu_opts_parse(const char *text, const char *implied_key, gboolean keyval,
                                 GError **error);
void vsb_qemu_opts_free(VsbQemuOpts *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbQemuOpts, vsb_qemu_opts_free)
/* QEMU's booleans: on/yes/true/y and off/no/false/n. */
gboolean vsb_qemu_parse_bool(const char *text, gboolean *out);

/* What backs flash unit 0 (code) or 1 (varstore), following -drive if=pflash, -pflash, and
 * -machine pflashN= through -drive if=none ids or -blockdev node chains (format node -> file
 * node -> filename). present FALSE when nothing is attached. Errors for what QEMU refuses:
 * a node that does not exist, a unit given twice, a reference loop. */
typedef struct {
  gboolean present;
  char *file;        /* absolute when it could be made absolute */
  char *format;      /* "raw", "qcow2", or NULL when QEMU would probe */
  gboolean readonly;
  gboolean snapshot;
  gboolean remote;   /* file is a protocol (nbd:, json:...), not a local path */
  char *unmodeled;   /* what along the way vsboot does not model (offset=, json:, a filter
                      * driver); NULL when the file is exactly what the flash shows */
  char *evidence;
} VsbQemuFlash;
gboolean vsb_qemu_cmdline_get_flash(const VsbQemuCmdline *cmd, guint unit, VsbQemuFlash *out,
                                    GError **error);
void vsb_qemu_flash_clear(VsbQemuFlash *flash);

/* The effective value of the cfi.pflash01 "secure" property (-global, both forms; the last
 * setting wins). *set FALSE when nothing sets it (QEMU's default: off). evidence may be NULL. */
gboolean vsb_qemu_cmdline_pflash_secure(const VsbQemuCmdline *cmd, gboolean *set,
                                        const char **evidence);
/* A path made absolute against cmd->cwd (newly allocated). */
char *vsb_qemu_cmdline_abspath(const VsbQemuCmdline *cmd, const char *path);

VSB_END_DECLS
