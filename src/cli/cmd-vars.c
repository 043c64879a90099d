#include "cli.h"

/* Placeholder until its issue lands. */
static int
vars_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_vars = { "vars", "Variable stores: show, enroll, export, import", vars_run };

