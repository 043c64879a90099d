/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to libvsboot (not installed): what vm.c (the state file, the state directory, loading
 * and saving) shares with vm-provision.c (provisioning: its phases and its journal). */
#pragma once

#include "vsboot/vm.h"

#include <glib.h>
#include <sys/stat.h>

/* A file being built is .BASE.vsb-new; the varstore names a VM may own (NAME + suffix). */
#define VM_TMP_SUFFIX ".vsb-new"
#define VM_N_VARS_NAMES 4
extern const char *const vm_vars_suffixes[VM_N_VARS_NAMES];

/* Every operation on a VM's files goes through one descriptor of its state directory (openat,
 * mkdirat, renameat, unlinkat): the directory is resolved once, and a final name is never
 * followed as a symbolic link. path is absolute, for messages and the paths NAME.json records;
 * shown is the directory as the caller named it. */
typedef struct {
  int fd;
  char *path;
  const char *shown;
  /* For the helpers and tools that take a path (fileio's atomic writes, qemu-img,
   * swtpm_setup): /proc/PID/fd/FD, which leads to this very directory, not to whatever its
   * path names by then (an ancestor writable by someone else could swap it). path when /proc
   * is not there. */
  char *at;
} StateDir;

/* Open DIR (absolute path kept, checked by the state directory policy when writing). */
gboolean vm_state_dir_open(const char *state_dir, gboolean writing, StateDir *sd, GError **error);
void vm_state_dir_close(StateDir *sd);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StateDir, vm_state_dir_close)
/* DIR/BASE by the directory's path (for what is recorded and shown), and by its descriptor's
 * /proc path (for helpers that take a path). */
char *vm_sd_path(const StateDir *sd, const char *base);
char *vm_sd_at(const StateDir *sd, const char *base);

/* .BASE.vsb-new, .NAME.vsb-commit */
char *vm_tmp_name(const char *base);
char *vm_commit_name(const char *name);
gboolean vm_same_file(const struct stat *a, const struct stat *b);
/* The varstore's file name for a firmware shape (NULL: it keeps no variables); whether base is
 * one of NAME's varstore names. */
char *vm_varstore_base(const char *name, VsbFwDevice device, VsbFwFlashMode mode,
                       VsbFwFormat format);
gboolean vm_is_varstore_base(const char *name, const char *base);

/* The VM's lock, .NAME.lock (a descriptor, or -1 with error), and its release. */
int vm_lock(const StateDir *sd, const char *name, GError **error);
void vm_unlock(const StateDir *sd, const char *name, int fd);
/* One of vsboot's own files in DIR: never through a link, one name, at most max bytes. */
GBytes *vm_read_own_file(const StateDir *sd, const char *base, gsize max, struct stat *st_out,
                         GError **error);
/* NAME's state file in an open DIR, as vsb_vm_load; and a state file's text. */
VsbVm *vm_load_at(const StateDir *sd, const char *name, GError **error);
char *vm_json_text(const VsbVm *vm);
/* FALSE with an error when vm's firmware requires SMM on a machine that has none (non-x86):
 * the one refusal both emitters (QEMU argv, libvirt XML) give. */
gboolean vm_check_smm_arch(const VsbVm *vm, GError **error);
