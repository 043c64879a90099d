/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provision-and-audit: the job libvsboot does, through its public API alone.
 *
 *   provision-and-audit STATE_DIR [NAME]
 *
 * 1. Selects, from the host's QEMU firmware descriptors, the x86_64 q35 firmware with Secure
 *    Boot, SMM and keys enrolled, as libvirt would pick it, with every other file's reason.
 * 2. Provisions VM NAME (default "example") in STATE_DIR (made mode 0700 if missing): its own
 *    varstore copied from that firmware's template, and DIR/NAME.json.
 * 3. Audits the provisioned VM and prints the verdict and the findings.
 * Exit status: 0 Secure Boot enforced, 1 not enforced (or no such firmware), 2 an error.
 *
 * Build it against an installed libvsboot:
 *   cc -o provision-and-audit provision-and-audit.c $(pkg-config --cflags --libs vsboot)
 */
#include <vsboot/vsboot.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#if !VSB_CHECK_VERSION(0, 1, 0)
#error "libvsboot 0.1.0 or later is needed"
#endif

/* The wishes of both steps: Secure Boot enforced by SMM, with keys already enrolled. */
static const char *const wanted[] = { "secure-boot", "requires-smm", NULL };

/* Step 1: what the selection says, and the descriptor it chose (NULL: none fits). */
static char *
select_firmware(GError **error)
{
  g_autoptr(GPtrArray) entries = vsb_fw_search(NULL, error);
  if (entries == NULL)
    return NULL;
  VsbFwRequest req;
  vsb_fw_request_init(&req);
  req.arch = VSB_FW_ARCH_X86_64;
  req.machine = "pc-q35-*"; /* any q35 version: no QEMU is asked which one "q35" means */
  req.machine_family = TRUE;
  req.features[VSB_FW_FEATURE_SECURE_BOOT] = VSB_FW_WANT_YES;
  req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = VSB_FW_WANT_YES;
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, &req, error);
  if (sel == NULL)
    return NULL;
  for (guint i = 0; i < sel->verdicts->len; i++) {
    const VsbFwVerdict *v = g_ptr_array_index(sel->verdicts, i);
    printf("  %-40s %-16s %s\n", v->entry->name, v->reason_id, v->reason ? v->reason : "");
  }
  if (sel->chosen == NULL)
    return NULL;
  return g_strdup(vsb_fw_descriptor_code_path(sel->chosen->descriptor));
}

/* Step 3: the audit's verdict and its findings, errors first. */
static int
audit(const char *state_dir, const char *name, GError **error)
{
  g_autoptr(VsbAuditReport) report = vsb_audit_vm(state_dir, name, NULL, error);
  if (report == NULL)
    return 2;
  for (guint i = 0; i < report->findings->len; i++) {
    const VsbFinding *f = g_ptr_array_index(report->findings, i);
    printf("  %-7s %-28s %s\n", vsb_severity_name(f->severity), f->id, f->message);
  }
  printf("verdict: Secure Boot %s (varstore mode %s, %d db and %d dbx entries)\n",
         report->enforced ? "enforced" : "NOT enforced",
         report->model.secure_boot ? report->model.secure_boot : "unread", report->model.n_db,
         report->model.n_dbx);
  return report->enforced ? 0 : 1;
}

int
main(int argc, char **argv)
{
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s STATE_DIR [NAME]\n", argv[0]);
    return 2;
  }
  const char *state_dir = argv[1], *name = argc == 3 ? argv[2] : "example";
  g_autoptr(GError) error = NULL;
  printf("libvsboot %s (built against %s)\n", vsb_version(), VSB_VERSION_STRING);

  printf("1. firmware for an x86_64 q35 VM with Secure Boot, SMM and keys enrolled:\n");
  g_autofree char *code = select_firmware(&error);
  if (code == NULL) {
    fprintf(stderr, "provision-and-audit: %s\n",
            error ? error->message : "no installed firmware fits");
    return error ? 2 : 1;
  }
  printf("  chosen: %s\n", code);

  printf("2. provision VM '%s' in %s:\n", name, state_dir);
  if (g_mkdir_with_parents(state_dir, 0700) != 0) {
    fprintf(stderr, "provision-and-audit: %s: %s\n", state_dir, g_strerror(errno));
    return 2;
  }
  VsbProvisionRequest req = {
    .state_dir = state_dir,
    .name = name,
    .arch = VSB_FW_ARCH_X86_64,
    .machine = "q35",
    .features = wanted,
    .enrolled_keys = TRUE,
  };
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(VsbVm) vm = vsb_vm_provision(&req, &notes, &error);
  if (vm == NULL) {
    fprintf(stderr, "provision-and-audit: %s\n", error->message);
    return 2;
  }
  for (guint i = 0; notes && i < notes->len; i++)
    printf("  %s\n", (const char *)g_ptr_array_index(notes, i));
  printf("  varstore %s, code %s%s\n", vm->varstore, vm->executable,
         vsb_fw_paths_equal(vm->executable, code) ? " (the selected file)" : "");

  printf("3. audit:\n");
  int rc = audit(state_dir, name, &error);
  if (rc == 2)
    fprintf(stderr, "provision-and-audit: %s\n", error->message);
  return rc;
}
