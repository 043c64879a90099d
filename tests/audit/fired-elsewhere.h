/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The finding ids that test-audit-table.c's cases cannot make fire (they need a running QEMU
 * process, a fake /proc, a provisioned VM whose firmware changed, or a libvirt version other
 * than the installed one), and the test-audit-cli.c case that does: test-audit-table checks
 * that every id of the audit's rule table fires in one of its cases or is listed here, and
 * test-audit-cli checks that each case listed here really produced its id. */
#pragma once

typedef struct {
  const char *id;
  const char *test; /* the g_test path in test-audit-cli */
} VsbFiredElsewhere;

static const VsbFiredElsewhere vsb_audit_fired_elsewhere[] = {
  { "varstore-replaced", "/audit/cli/pid-replaced-varstore" },
  { "firmware-replaced", "/audit/cli/pid-replaced-code" },
  { "process-cwd-unreadable", "/audit/cli/pid-cwd-unreadable" },
  { "process-files-unreadable", "/audit/cli/pid-cwd-unreadable" },
  /* A provisioned VM whose code file changed after provisioning. */
  { "firmware-changed", "/audit/cli/vm-firmware-changed" },
  /* The version of the libvirt that will start the domain is the installed one in the CLI. */
  { "libvirt-version-unknown", "/audit/cli/libvirt-version-unknown" },
};
