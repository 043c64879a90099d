#include "cli.h"

/* Placeholder until its issue lands. */
static int
pe_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_pe = { "pe", "EFI binaries: info, hash, verify, sign", pe_run };

