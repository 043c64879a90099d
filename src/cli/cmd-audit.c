#include "cli.h"

/* Placeholder until its issue lands. */
static int
audit_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_audit = { "audit", "Is Secure Boot really enforced in this VM, and if not, why not?", audit_run };

