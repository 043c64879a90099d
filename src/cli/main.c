/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"
#include "vsb-config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const VsbCliCommand *const commands[] = {
  &vsb_cli_firmware, &vsb_cli_vars,        &vsb_cli_keys, &vsb_cli_pe,    &vsb_cli_provision,
  &vsb_cli_qemu_args, &vsb_cli_libvirt_xml, &vsb_cli_run,  &vsb_cli_audit,
  &vsb_cli_libvirt_hook,
  &vsb_cli_fleet,
};

static void
print_usage(FILE *out)
{
  fprintf(out,
          "Usage: vsboot [--version] [--help] COMMAND [ARGS...]\n"
          "\n"
          "UEFI Secure Boot for QEMU/KVM virtual machines, correct by construction.\n"
          "\n"
          "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out,
          "\n"
          "'vsboot help COMMAND [SUBCOMMAND]' shows the options of a command.\n"
          "Exit status: 0 success, 1 negative answer (no match, not enforced, denied),\n"
          "2 bad usage or input.\n");
}

static const VsbCliCommand *
find_command(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

int
main(int argc, char **argv)
{
  setlocale(LC_ALL, "");

  if (argc < 2) {
    print_usage(stderr);
    return VSB_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("vsboot %s\n", VSB_VERSION);
    return VSB_EXIT_OK;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_usage(stdout);
    return VSB_EXIT_OK;
  }
  if (strcmp(argv[1], "help") == 0) {
    if (argc < 3) {
      print_usage(stdout);
      return VSB_EXIT_OK;
    }
    const VsbCliCommand *cmd = find_command(argv[2]);
    if (cmd == NULL)
      return vsb_cli_failf("unknown command '%s'; 'vsboot --help' lists them", argv[2]);
    /* "help CMD [SUB]" is "CMD [SUB] --help". */
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    for (int i = 2; i < argc; i++)
      g_ptr_array_add(args, argv[i]);
    g_ptr_array_add(args, (char *)"--help");
    g_ptr_array_add(args, NULL);
    return cmd->run((int)args->len - 1, (char **)args->pdata);
  }

  const VsbCliCommand *cmd = find_command(argv[1]);
  if (cmd == NULL)
    return vsb_cli_failf("unknown command '%s'; 'vsboot --help' lists them", argv[1]);
  return cmd->run(argc - 1, argv + 1);
}
