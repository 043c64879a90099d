#include "cli.h"

/* Placeholder until its issue lands. */
static int
provision_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_provision = { "provision", "Give a VM its firmware and its own varstore", provision_run };

static int
qemu_args_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_qemu_args = { "qemu-args", "The firmware part of a VM's QEMU command line", qemu_args_run };

static int
libvirt_xml_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_libvirt_xml = { "libvirt-xml", "The firmware part of a VM's libvirt domain XML", libvirt_xml_run };

static int
run_run(int argc, char **argv)
{
  return vsb_cli_failf("%s: not implemented yet", argv[0]);
}

const VsbCliCommand vsb_cli_run = { "run", "Start a provisioned VM in QEMU", run_run };

