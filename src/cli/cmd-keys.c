/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot keys: a PK/KEK/db hierarchy of one's own. */
#include "cli.h"

#include "vsboot/guid.h"
#include "vsboot/keys.h"

#include <stdio.h>
#include <string.h>

static JsonNode *
key_set_json(const VsbKeySet *set)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  char guid[VSB_GUID_STRING_LEN + 1];
  json_builder_begin_object(b);
  vsb_cli_jset_str(b, "directory", set->dir);
  vsb_cli_jset_str(b, "owner", vsb_guid_format(&set->owner, guid));
  vsb_cli_jset_str(b, "owner-file", set->owner_path);
  vsb_cli_jset_int(b, "bits", set->bits);
  json_builder_set_member_name(b, "keys");
  json_builder_begin_array(b);
  for (int i = 0; i < VSB_KEY_N_ROLES; i++) {
    const VsbKeyPair *p = &set->pairs[i];
    json_builder_begin_object(b);
    vsb_cli_jset_str(b, "name", vsb_key_role_name(p->role));
    vsb_cli_jset_str(b, "key", p->key_path);
    vsb_cli_jset_str(b, "certificate", p->cert_path);
    vsb_cli_jset_str(b, "subject", p->subject);
    vsb_cli_jset_str(b, "serial", p->serial);
    vsb_cli_jset_str(b, "not-before", p->not_before);
    vsb_cli_jset_str(b, "not-after", p->not_after);
    vsb_cli_jset_str(b, "sha256", p->sha256);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
key_set_print(const VsbKeySet *set)
{
  char guid[VSB_GUID_STRING_LEN + 1];
  printf("Generated RSA-%u Secure Boot keys in %s\n", set->bits, set->dir);
  printf("  owner GUID  %s (%s)\n", vsb_guid_format(&set->owner, guid), set->owner_path);
  for (int i = 0; i < VSB_KEY_N_ROLES; i++) {
    const VsbKeyPair *p = &set->pairs[i];
    printf("  %-4s %s\n", vsb_key_role_name(p->role), p->subject);
    printf("       key %s, certificate %s\n", p->key_path, p->cert_path);
    printf("       valid %s .. %s, sha256 %s\n", p->not_before, p->not_after, p->sha256);
  }
  printf("Enroll with: vsboot vars enroll VARS -o OUT --owner %s --pk %s --kek %s --db %s "
         "--secure-boot on\n",
         guid, set->pairs[VSB_KEY_PK].cert_path, set->pairs[VSB_KEY_KEK].cert_path,
         set->pairs[VSB_KEY_DB].cert_path);
  printf("Sign images with: sbsign --key %s --cert %s IMAGE\n", set->pairs[VSB_KEY_DB].key_path,
         set->pairs[VSB_KEY_DB].cert_path);
}

static int
keys_generate(int argc, char **argv)
{
  g_autofree char *cn = NULL;
  int bits = 2048;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "cn", 0, 0, G_OPTION_ARG_STRING, &cn,
      "Common-name prefix of the certificates: \"NAME PK\", \"NAME KEK\", \"NAME db\" "
      "(default vsboot)", "NAME" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &bits, "RSA key size: 2048 (default), 3072 or 4096",
      "BITS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Report as JSON", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("DIR");
  g_option_context_set_summary(ctx,
    "Generate PK, KEK and db RSA key pairs with self-signed certificates (SHA-256, ten years)\n"
    "and a random owner GUID into DIR: PK.key PK.crt KEK.key KEK.crt db.key db.crt owner.guid.\n"
    "Private keys are written with mode 0600. Existing files are never overwritten.");
  vsb_cli_add_entries(ctx, entries, NULL);
  int code = 0;
  if (!vsb_cli_parse(ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vsb_cli_failf("keys generate: expected one directory, got %d arguments; "
                         "try 'vsboot help keys generate'", argc - 1);
  if (bits != 2048 && bits != 3072 && bits != 4096)
    return vsb_cli_failf("keys generate: --bits %d is not supported: use 2048, 3072 or 4096",
                         bits);

  GError *error = NULL;
  g_autoptr(VsbKeySet) set = vsb_keys_generate(argv[1], cn, (guint)bits, &error);
  if (set == NULL)
    return vsb_cli_fail(error);
  if (json) {
    g_autoptr(JsonNode) node = key_set_json(set);
    vsb_cli_print_json(node);
  } else {
    key_set_print(set);
  }
  return VSB_EXIT_OK;
}

static void
keys_usage(FILE *out)
{
  fprintf(out,
          "Usage: vsboot keys SUBCOMMAND [OPTIONS]\n"
          "\n"
          "Secure Boot key pairs.\n"
          "\n"
          "Subcommands:\n"
          "  generate DIR   PK, KEK and db key pairs, self-signed certificates and an owner GUID\n");
}

static int
keys_run(int argc, char **argv)
{
  if (argc < 2) {
    keys_usage(stderr);
    return VSB_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    keys_usage(stdout);
    return VSB_EXIT_OK;
  }
  if (strcmp(argv[1], "generate") == 0) {
    /* The subcommand sees itself as "keys generate" in messages. */
    argv[1] = (char *)"keys generate";
    return keys_generate(argc - 1, argv + 1);
  }
  return vsb_cli_failf("keys: unknown subcommand '%s'; 'vsboot help keys' lists them", argv[1]);
}

const VsbCliCommand vsb_cli_keys = { "keys", "Secure Boot key pairs: generate", keys_run };
