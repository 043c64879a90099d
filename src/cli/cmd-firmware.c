#include "cli.h"

/* Placeholder until its issue lands. */
static int
firmware_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_firmware = { "firmware", "Firmware descriptors: list, show, select, check, inspect", firmware_run };

