#include "cli.h"

/* Placeholder until its issue lands. */
static int
keys_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_keys = { "keys", "Secure Boot key pairs: generate", keys_run };

