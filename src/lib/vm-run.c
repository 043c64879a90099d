/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/vm-run.h"
#include "vsboot/error.h"
#include "fileio.h"
#include "tool.h"
#include "vsboot/qemu-argv.h"
#include "qemu-probe.h"
#include "vsboot/varstore.h"
#include "util/arch.h"
#include "util/enumname.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const accel_names[] = { "auto", "kvm", "tcg" };

int
vsb_accel_from_name(const char *name)
{
  return vsb_enum_from_name(accel_names, G_N_ELEMENTS(accel_names), name);
}

void
vsb_run_plan_free(VsbRunPlan *plan)
{
  if (plan == NULL)
    return;
  if (plan->argv)
    g_ptr_array_unref(plan->argv);
  if (plan->warnings)
    g_ptr_array_unref(plan->warnings);
  g_free(plan->binary);
  g_free(plan->accel);
  g_free(plan->accel_note);
  g_free(plan);
}

gboolean
vsb_kvm_can_smm(const char *qemu_binary, char **why, GError **error)
{
  const char *argv[] = { qemu_binary, "-accel", "kvm", "-machine", "q35,smm=on", "-nodefaults",
                         "-display", "none", "-S", "-qmp", "stdio", NULL };
  /* QMP answers the capabilities negotiation, then quit stops the paused VM at once; the
   * shared runner bounds it in time like every other tool. */
  const char *qmp = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  if (!vsb_tool_run_with_input(argv, qmp, 0, &out, &err, &status, error))
    return FALSE;
  if (status == 0)
    return TRUE;
  if (why) {
    /* The last line of stderr carries QEMU's reason; warnings come before it. */
    g_auto(GStrv) lines = g_strsplit(err ? g_strstrip(err) : "", "\n", -1);
    guint n = g_strv_length(lines);
    *why = g_strdup(n ? lines[n - 1] : "QEMU failed without a message");
  }
  return FALSE;
}

static gboolean
need_file(const char *what, const char *path, GError **error)
{
  struct stat st;
  if (stat(path, &st) < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "%s %s: %s", what, path, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s %s: not a file", what, path);
    return FALSE;
  }
  return TRUE;
}

/* A VM's own file, which QEMU or swtpm will write: itself, not a symbolic link to something
 * else (vsb_vm_load checked the name; this is what is at it now), and the caller's. */
static gboolean
need_own_file(const char *what, const char *path, gboolean dir, GError **error)
{
  struct stat st;
  if (lstat(path, &st) < 0) {
    g_set_error(error, VSB_ERROR, errno == ENOENT ? VSB_ERROR_NOT_FOUND : VSB_ERROR_IO,
                "%s %s: %s", what, path, g_strerror(errno));
    return FALSE;
  }
  g_autofree char *why = NULL;
  if (S_ISLNK(st.st_mode))
    why = g_strdup("a symbolic link; QEMU and swtpm would write wherever it leads");
  else if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    why = g_strdup_printf("%s, not what vsboot made", vsb_file_kind(st.st_mode));
  else if (st.st_uid != geteuid())
    why = g_strdup_printf("belongs to uid %u, not to this user", (guint)st.st_uid);
  if (why) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s %s: %s", what, path, why);
    return FALSE;
  }
  return TRUE;
}

static void
add(GPtrArray *a, const char *s)
{
  g_ptr_array_add(a, g_strdup(s));
}

static gboolean choose_accel(const VsbVm *vm, const VsbRunOptions *opts, VsbRunPlan *plan,
                             GError **error);

gboolean
vsb_vm_choose_accel(const VsbVm *vm, const char *qemu_binary, VsbAccel want, char **accel,
                    char **note, GError **error)
{
  VsbRunOptions opts = { .accel = want };
  VsbRunPlan plan = { .binary = (char *)qemu_binary };
  if (!choose_accel(vm, &opts, &plan, error))
    return FALSE;
  *accel = plan.accel;
  *note = plan.accel_note;
  return TRUE;
}

/* The accelerator: as asked, or (auto) KVM only where it can run this firmware. */
static gboolean
choose_accel(const VsbVm *vm, const VsbRunOptions *opts, VsbRunPlan *plan, GError **error)
{
  gboolean smm = vsb_vm_has_feature(vm, VSB_FW_FEATURE_REQUIRES_SMM) && vsb_arch_is_x86(vm->arch);
  if (opts->accel == VSB_ACCEL_KVM) {
    plan->accel = g_strdup("kvm");
    plan->accel_note = g_strdup("KVM: as asked");
  } else if (opts->accel == VSB_ACCEL_TCG) {
    plan->accel = g_strdup("tcg");
    plan->accel_note = g_strdup("TCG: as asked");
  } else {
#if defined(__x86_64__) || defined(__i386__)
    gboolean host_matches = vsb_arch_is_x86(vm->arch);
#elif defined(__aarch64__)
    gboolean host_matches = vm->arch == VSB_FW_ARCH_AARCH64;
#else
    gboolean host_matches = FALSE;
#endif
    if (!host_matches) {
      plan->accel = g_strdup("tcg");
      plan->accel_note = g_strdup_printf("TCG: KVM cannot run %s guests on this host",
                                         vsb_fw_arch_name(vm->arch));
    } else if (access("/dev/kvm", R_OK | W_OK) != 0) {
      plan->accel = g_strdup("tcg");
      plan->accel_note = g_strdup_printf("TCG: /dev/kvm is not usable (%s)", g_strerror(errno));
    } else if (smm) {
      g_autofree char *why = NULL;
      g_autoptr(GError) perr = NULL;
      gboolean can = vsb_kvm_can_smm(plan->binary, &why, &perr);
      if (perr) {
        g_propagate_error(error, g_steal_pointer(&perr));
        return FALSE;
      }
      if (can) {
        plan->accel = g_strdup("kvm");
        plan->accel_note = g_strdup("KVM: it runs SMM, which this firmware requires");
      } else {
        plan->accel = g_strdup("tcg");
        plan->accel_note = g_strdup_printf("TCG: this firmware requires SMM and KVM here "
                                           "cannot run it (%s)", why);
      }
    } else {
      plan->accel = g_strdup("kvm");
      plan->accel_note = g_strdup("KVM: /dev/kvm is usable");
    }
  }
  return TRUE;
}

/* The VM's files and the run's disks: present, the VM's own, the varstore not locked by a
 * running QEMU; a firmware changed since provisioning is a warning. */
static gboolean
plan_check_files(const VsbVm *vm, const VsbRunOptions *opts, VsbRunPlan *plan, GError **error)
{
  if (!need_file("firmware code of VM", vm->executable, error))
    return FALSE;
  if (vm->varstore) {
    if (!need_own_file("varstore of VM", vm->varstore, FALSE, error))
      return FALSE;
    g_autoptr(GError) lerr = NULL;
    if (vsb_file_is_locked(vm->varstore, &lerr)) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_BUSY,
                  "VM '%s' is already running: a QEMU holds a lock on its varstore %s", vm->name,
                  vm->varstore);
      return FALSE;
    }
  }
  if (vm->tpm_state_dir && !need_own_file("TPM state of VM", vm->tpm_state_dir, TRUE, error))
    return FALSE;
  if (vm->executable_sha256) {
    g_autofree char *now = vsb_file_sha256(vm->executable, NULL);
    if (now && strcmp(now, vm->executable_sha256) != 0)
      g_ptr_array_add(plan->warnings,
                      g_strdup_printf("firmware code %s changed since provisioning (sha256 %s, "
                                      "was %s)", vm->executable, now, vm->executable_sha256));
  }
  for (const char *const *d = opts->disks; d && *d; d++)
    if (!need_file("disk", *d, error))
      return FALSE;
  return opts->cdrom == NULL || need_file("cdrom", opts->cdrom, error);
}

/* The QEMU binary (asked for, or qemu-system-ARCH) and its version. */
static gboolean
plan_find_qemu(const VsbVm *vm, const VsbRunOptions *opts, VsbRunPlan *plan, guint *major,
               guint *minor, GError **error)
{
  if (opts->qemu_binary) {
    plan->binary = g_find_program_in_path(opts->qemu_binary);
    if (plan->binary == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "QEMU binary %s not found",
                  opts->qemu_binary);
      return FALSE;
    }
  } else {
    g_autoptr(GError) lerr = NULL;
    plan->binary = vsb_qemu_find_binary(vm->arch, &lerr);
    if (plan->binary == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "cannot start VM '%s': %s", vm->name,
                  lerr->message);
      return FALSE;
    }
  }
  return vsb_qemu_get_version(plan->binary, major, minor, error);
}

/* The disks: the ESP first (what the firmware boots), then the user's, then the CD-ROM. */
static void
add_disks(GPtrArray *a, const VsbRunOptions *opts)
{
  guint n = 0;
  if (opts->esp_image) {
    g_autofree char *esc = vsb_qemu_opt_escape(opts->esp_image);
    add(a, "-drive");
    g_ptr_array_add(a, g_strdup_printf("file=%s,if=none,id=disk%u,format=raw", esc, n));
    add(a, "-device");
    g_ptr_array_add(a, g_strdup_printf("virtio-blk-pci,drive=disk%u,bootindex=%u", n, n + 1));
    n++;
  }
  for (const char *const *d = opts->disks; d && *d; d++) {
    g_autofree char *esc = vsb_qemu_opt_escape(*d);
    add(a, "-drive");
    g_ptr_array_add(a, g_strdup_printf("file=%s,if=none,id=disk%u,format=%s", esc, n,
                                       vsb_file_is_qcow2(*d) ? "qcow2" : "raw"));
    add(a, "-device");
    g_ptr_array_add(a, g_strdup_printf("virtio-blk-pci,drive=disk%u", n));
    n++;
  }
  if (opts->cdrom) {
    g_autofree char *esc = vsb_qemu_opt_escape(opts->cdrom);
    add(a, "-device");
    add(a, "virtio-scsi-pci,id=scsi0");
    add(a, "-drive");
    g_ptr_array_add(a, g_strdup_printf("file=%s,if=none,id=cd0,media=cdrom,readonly=on,"
                                       "format=raw", esc));
    add(a, "-device");
    add(a, "scsi-cd,drive=cd0,bus=scsi0.0");
  }
}

/* The whole command line: the firmware part exactly as qemu-args prints it, then the rest of
 * the machine. */
static gboolean
plan_argv(const VsbVm *vm, const VsbRunOptions *opts, guint major, guint minor, VsbRunPlan *plan,
          GError **error)
{
  VsbQemuArgvOptions qo = { .qemu_major = major, .qemu_minor = minor,
                            .tpm_socket = opts->tpm_socket };
  g_autoptr(GPtrArray) fw = vsb_qemu_argv_build(vm, &qo, error);
  if (fw == NULL)
    return FALSE;
  GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
  plan->argv = a;
  add(a, plan->binary);
  g_autofree char *esc_name = vsb_qemu_opt_escape(vm->name);
  g_ptr_array_add(a, g_strdup("-name"));
  g_ptr_array_add(a, g_strdup_printf("guest=%s", esc_name));
  for (guint i = 0; i < fw->len; i++)
    add(a, fw->pdata[i]);
  add(a, "-accel");
  add(a, plan->accel);
  if (!vsb_arch_is_x86(vm->arch)) {
    /* QEMU's default ARM CPU is 32-bit. */
    add(a, "-cpu");
    add(a, strcmp(plan->accel, "kvm") == 0 ? "host" : "max");
  }
  add(a, "-m");
  g_ptr_array_add(a, g_strdup_printf("%u", opts->memory_mib ? opts->memory_mib : 512));
  add(a, "-nodefaults");
  add(a, "-display");
  add(a, "none");
  add(a, "-serial");
  if (opts->serial == NULL || strcmp(opts->serial, "stdio") == 0) {
    add(a, "stdio");
  } else {
    /* The legacy chardev syntax takes the rest of the text as the file name. */
    g_ptr_array_add(a, g_strdup_printf("file:%s", opts->serial));
  }
  add(a, "-monitor");
  add(a, "none");
  add_disks(a, opts);
  for (const char *const *e = opts->extra; e && *e; e++)
    add(a, *e);
  g_ptr_array_add(a, NULL);
  return TRUE;
}

VsbRunPlan *
vsb_vm_run_plan(const VsbVm *vm, const VsbRunOptions *opts, GError **error)
{
  g_autoptr(VsbRunPlan) plan = g_new0(VsbRunPlan, 1);
  plan->warnings = g_ptr_array_new_with_free_func(g_free);
  guint major = 0, minor = 0;
  if (!plan_check_files(vm, opts, plan, error) ||
      !plan_find_qemu(vm, opts, plan, &major, &minor, error) ||
      !choose_accel(vm, opts, plan, error) ||
      !plan_argv(vm, opts, major, minor, plan, error))
    return NULL;
  return g_steal_pointer(&plan);
}

/* QEMU and swtpm go when vsboot goes (killed, or its terminal closed), not linger. */
static GSubprocess *
spawn(const char *const *argv, GSubprocessFlags flags, GError **error)
{
  return vsb_tool_spawn(argv, flags, TRUE, error);
}

/* ---- swtpm ------------------------------------------------------------------------------- */

/* A stale control socket of an earlier swtpm goes; anything else at its name is not ours. */
static gboolean
unlink_socket(const char *path, GError **error)
{
  struct stat st;
  if (lstat(path, &st) < 0)
    return TRUE;
  if (!S_ISSOCK(st.st_mode)) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s is %s, not swtpm's socket; vsboot does not remove it", path,
                S_ISLNK(st.st_mode) ? "a symbolic link" : vsb_file_kind(st.st_mode));
    return FALSE;
  }
  if (unlink(path) < 0 && errno != ENOENT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", path, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

struct _VsbSwtpm {
  GSubprocess *proc;
  char *socket;
};

VsbSwtpm *
vsb_swtpm_start(const char *state_dir, const char *socket_path, GError **error)
{
  struct sockaddr_un sun;
  if (strlen(socket_path) >= sizeof sun.sun_path) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "TPM socket path %s is longer than a Unix socket allows (%zu bytes); use a "
                "shorter state directory", socket_path, sizeof sun.sun_path - 1);
    return NULL;
  }
  if (strchr(state_dir, ',') || strchr(socket_path, ',')) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "swtpm cannot take paths with ',' (%s)", state_dir);
    return NULL;
  }
  if (!need_own_file("TPM state", state_dir, TRUE, error))
    return NULL;
  g_autofree char *tpmstate = g_strdup_printf("dir=%s,mode=0600", state_dir);
  g_autofree char *ctrl = g_strdup_printf("type=unixio,path=%s,mode=0600", socket_path);
  if (!unlink_socket(socket_path, error))
    return NULL;
  const char *argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", tpmstate, "--ctrl", ctrl,
                         "--terminate", NULL };
  g_autoptr(GError) local = NULL;
  GSubprocess *p = spawn(argv, G_SUBPROCESS_FLAGS_STDIN_INHERIT, &local);
  if (p == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s (package swtpm)", local->message);
    return NULL;
  }
  /* Ready when the control socket exists. */
  for (int i = 0; i < 200; i++) {
    if (g_file_test(socket_path, G_FILE_TEST_EXISTS)) {
      VsbSwtpm *t = g_new0(VsbSwtpm, 1);
      t->proc = p;
      t->socket = g_strdup(socket_path);
      return t;
    }
    if (g_subprocess_get_identifier(p) == NULL)
      break;
    g_usleep(25 * 1000);
  }
  g_subprocess_force_exit(p);
  g_subprocess_wait(p, NULL, NULL);
  g_object_unref(p);
  g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "swtpm did not create %s within 5 s",
              socket_path);
  return NULL;
}

void
vsb_swtpm_stop(VsbSwtpm *t)
{
  if (t == NULL)
    return;
  /* GLib's worker reaps the child; the identifier is gone once it has. */
  if (g_subprocess_get_identifier(t->proc)) {
    g_subprocess_send_signal(t->proc, SIGTERM);
    for (int i = 0; i < 200 && g_subprocess_get_identifier(t->proc); i++)
      g_usleep(10 * 1000);
    if (g_subprocess_get_identifier(t->proc))
      g_subprocess_force_exit(t->proc);
  }
  g_subprocess_wait(t->proc, NULL, NULL);
  g_object_unref(t->proc);
  (void)unlink_socket(t->socket, NULL);
  g_free(t->socket);
  g_free(t);
}

/* ---- foreground -------------------------------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  gboolean timed_out;
  GSubprocess *proc;
  GSource *kill;
} Wait;

static void
on_child_exit(GObject *src, GAsyncResult *res, gpointer data)
{
  Wait *w = data;
  g_subprocess_wait_finish(G_SUBPROCESS(src), res, NULL);
  g_main_loop_quit(w->loop);
}

static gboolean
on_kill(gpointer data)
{
  Wait *w = data;
  g_subprocess_force_exit(w->proc);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timeout(gpointer data)
{
  Wait *w = data;
  w->timed_out = TRUE;
  /* QEMU stops cleanly on SIGTERM (flushing its images); SIGKILL if it does not in 5 s. */
  g_subprocess_send_signal(w->proc, SIGTERM);
  w->kill = g_timeout_source_new_seconds(5);
  g_source_set_callback(w->kill, on_kill, w, NULL);
  g_source_attach(w->kill, g_main_context_get_thread_default());
  return G_SOURCE_REMOVE;
}

int
vsb_vm_run_foreground(GPtrArray *argv, guint timeout_ms, gboolean *timed_out, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocess) p = spawn((const char *const *)argv->pdata,
                                   G_SUBPROCESS_FLAGS_STDIN_INHERIT, &local);
  if (p == NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return -1;
  }
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  Wait w = { g_main_loop_new(ctx, FALSE), FALSE, p, NULL };
  g_subprocess_wait_async(p, NULL, on_child_exit, &w);
  GSource *t = NULL;
  if (timeout_ms) {
    t = g_timeout_source_new(timeout_ms);
    g_source_set_callback(t, on_timeout, &w, NULL);
    g_source_attach(t, ctx);
  }
  g_main_loop_run(w.loop);
  if (t) {
    g_source_destroy(t);
    g_source_unref(t);
  }
  if (w.kill) {
    g_source_destroy(w.kill);
    g_source_unref(w.kill);
  }
  g_main_loop_unref(w.loop);
  g_main_context_pop_thread_default(ctx);
  if (timed_out)
    *timed_out = w.timed_out;
  if (g_subprocess_get_if_exited(p))
    return g_subprocess_get_exit_status(p);
  if (g_subprocess_get_if_signaled(p))
    return 128 + g_subprocess_get_term_sig(p);
  return -1;
}

/* ---- a run: the VM's lifetimes --------------------------------------------------------- */

struct _VsbRun {
  const VsbVm *vm;
  VsbRunPlan *plan;
  char *efi_app;
  char *tmpdir;           /* the private directory, NULL without an EFI app */
  struct stat tmpdir_st;  /* its identity when made */
  char *esp;              /* tmpdir/esp.img */
  char *tpm_socket;
  VsbSwtpm *tpm;
};

VsbRun *
vsb_run_new(const VsbVm *vm, const VsbRunOptions *opts, GError **error)
{
  g_autoptr(VsbRun) run = g_new0(VsbRun, 1);
  run->vm = vm;
  run->tpm_socket = opts->tpm_socket ? g_strdup(opts->tpm_socket) : vsb_vm_tpm_socket_path(vm);
  VsbRunOptions o = *opts;
  if (opts->efi_app) {
    run->efi_app = g_strdup(opts->efi_app);
    run->tmpdir = g_dir_make_tmp("vsboot-run-XXXXXX", error);
    if (run->tmpdir == NULL)
      return NULL;
    if (lstat(run->tmpdir, &run->tmpdir_st) != 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", run->tmpdir, g_strerror(errno));
      g_clear_pointer(&run->tmpdir, g_free);
      return NULL;
    }
    run->esp = g_build_filename(run->tmpdir, "esp.img", NULL);
    o.esp_image = run->esp;
  }
  run->plan = vsb_vm_run_plan(vm, &o, error);
  return run->plan ? g_steal_pointer(&run) : NULL;
}

void
vsb_run_free(VsbRun *run)
{
  if (run == NULL)
    return;
  g_clear_pointer(&run->tpm, vsb_swtpm_stop);
  if (run->tmpdir)
    (void)vsb_dir_remove_created(run->tmpdir, &run->tmpdir_st, NULL);
  g_clear_pointer(&run->plan, vsb_run_plan_free);
  g_free(run->efi_app);
  g_free(run->tmpdir);
  g_free(run->esp);
  g_free(run->tpm_socket);
  g_free(run);
}

const VsbRunPlan *
vsb_run_get_plan(const VsbRun *run)
{
  return run->plan;
}

/* What QEMU needs beside it, just before it starts: the ESP and swtpm. */
static gboolean
run_start(VsbRun *run, GError **error)
{
  if (run->efi_app &&
      !vsb_launch_make_esp(run->esp, run->efi_app, run->vm->arch, error))
    return FALSE;
  if (run->vm->tpm_state_dir && run->tpm == NULL) {
    run->tpm = vsb_swtpm_start(run->vm->tpm_state_dir, run->tpm_socket, error);
    if (run->tpm == NULL)
      return FALSE;
  }
  return TRUE;
}

int
vsb_run_foreground(VsbRun *run, guint timeout_ms, gboolean *timed_out, GError **error)
{
  if (!run_start(run, error))
    return -1;
  int rc = vsb_vm_run_foreground(run->plan->argv, timeout_ms, timed_out, error);
  g_clear_pointer(&run->tpm, vsb_swtpm_stop);
  return rc;
}

VsbLaunchResult *
vsb_run_watch_efi_app(VsbRun *run, guint timeout_ms, GError **error)
{
  if (run->efi_app == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "VM '%s': this run boots no EFI app",
                run->vm->name);
    return NULL;
  }
  if (!run_start(run, error))
    return NULL;
  /* The verdict comes from the firmware's words about the app's own boot option (the ESP is
   * the first disk, so the first option the BDS tries), never from a later option's refusal:
   * a shim that returns without GRUB, or GRUB waiting at its prompt, ran. */
  VsbLaunchResult *res =
    vsb_launch_watch_image((const char *const *)run->plan->argv->pdata, NULL, timeout_ms, error);
  g_clear_pointer(&run->tpm, vsb_swtpm_stop);
  return res;
}
