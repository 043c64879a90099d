/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qemu-probe.h"
#include "filecache.h"
#include "vsboot/error.h"
#include "tool.h"
#include "util/arch.h"

#include <stdlib.h>
#include <string.h>

char *
vsb_qemu_binary_name(VsbFwArch arch)
{
  return g_strdup_printf("qemu-system-%s", vsb_fw_arch_name(arch));
}

char *
vsb_qemu_find_binary(VsbFwArch arch, GError **error)
{
  g_autofree char *name = vsb_qemu_binary_name(arch);
  char *path = g_find_program_in_path(name);
  if (path == NULL)
    g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND, "%s is not installed (not in PATH)",
                name);
  return path;
}

void
vsb_qemu_machine_free(VsbQemuMachine *m)
{
  if (m == NULL)
    return;
  g_free(m->name);
  g_free(m->alias_of);
  g_free(m->description);
  g_free(m);
}

GPtrArray *
vsb_qemu_parse_machine_help(const char *text)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_qemu_machine_free);
  g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
  for (char **l = lines; *l; l++) {
    const char *line = *l;
    /* "Supported machines are:" and blank lines; machine lines start with the name. */
    if (*line == '\0' || g_ascii_isspace(*line) || g_str_has_suffix(line, ":"))
      continue;
    const char *sp = line;
    while (*sp && !g_ascii_isspace(*sp))
      sp++;
    VsbQemuMachine *m = g_new0(VsbQemuMachine, 1);
    m->name = g_strndup(line, (gsize)(sp - line));
    g_autofree char *rest = g_strstrip(g_strdup(sp));
    const char *alias = strstr(rest, "(alias of ");
    if (alias) {
      const char *start = alias + strlen("(alias of ");
      const char *end = strchr(start, ')');
      if (end && end > start)
        m->alias_of = g_strndup(start, (gsize)(end - start));
    }
    m->is_default = strstr(rest, "(default)") != NULL;
    m->description = g_strdup(rest);
    g_ptr_array_add(out, m);
  }
  return out;
}

static char *
run_capture(const char *binary, const char *arg1, const char *arg2, GError **error)
{
  const char *argv[] = { binary, arg1, arg2, NULL };
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  if (!vsb_tool_run(argv, &out, &err, &status, error))
    return NULL;
  if (status != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s %s%s%s failed: %s", binary, arg1,
                arg2 ? " " : "", arg2 ? arg2 : "", err ? g_strstrip(err) : "");
    g_free(out);
    return NULL;
  }
  return out;
}

/* What "BINARY ARG1 [ARG2]" printed, from the cache while the binary is unchanged. */
static char *
run_capture_cached(const char *binary, const char *arg1, const char *arg2, GError **error)
{
  g_autofree char *what = g_strdup_printf("%s%s%s", arg1, arg2 ? " " : "", arg2 ? arg2 : "");
  char *out = vsb_file_cache_get("qemu", binary, what);
  if (out)
    return out;
  out = run_capture(binary, arg1, arg2, error);
  if (out)
    vsb_file_cache_put("qemu", binary, what, out);
  return out;
}

GPtrArray *
vsb_qemu_list_machines(const char *binary, GError **error)
{
  g_autofree char *out = run_capture_cached(binary, "-machine", "help", error);
  if (out == NULL)
    return NULL;
  GPtrArray *machines = vsb_qemu_parse_machine_help(out);
  if (machines->len == 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s -machine help listed no machines", binary);
    g_ptr_array_unref(machines);
    return NULL;
  }
  return machines;
}

void
vsb_machine_resolution_free(VsbMachineResolution *res)
{
  if (res == NULL)
    return;
  g_free(res->machine);
  g_free(res->binary);
  g_free(res->note);
  g_free(res);
}

/* "NAME-MAJOR.MINOR" (pc-q35-7.2, virt-7.2, pc-i440fx-2.12): already canonical. */
static gboolean
is_versioned(const char *machine)
{
  const char *dash = strrchr(machine, '-');
  if (dash == NULL || dash[1] == '\0')
    return FALSE;
  const char *p = dash + 1;
  gboolean dot = FALSE, digit = FALSE;
  for (; *p; p++) {
    if (g_ascii_isdigit(*p))
      digit = TRUE;
    else if (*p == '.' && digit && !dot)
      dot = TRUE;
    else
      return FALSE;
  }
  return digit && dot;
}

static const char *
family_of(VsbFwArch arch, const char *machine)
{
  gboolean x86 = vsb_arch_is_x86(arch);
  if (x86 && strcmp(machine, "q35") == 0)
    return "pc-q35-*";
  if (x86 && strcmp(machine, "pc") == 0)
    return "pc-i440fx-*";
  if (!x86 && strcmp(machine, "virt") == 0)
    return "virt-*";
  return NULL;
}

gboolean
vsb_qemu_machine_name_validate(const char *machine, GError **error)
{
  if (machine == NULL || *machine == '\0') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "empty machine type");
    return FALSE;
  }
  for (const char *p = machine; *p; p++) {
    if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-') {
      g_autofree char *shown = g_utf8_make_valid(machine, -1);
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                  "machine type '%s': character '%c' at %d is not allowed (a QEMU machine type "
                  "has letters, digits, '.', '_' and '-' only)", shown,
                  g_ascii_isprint(*p) ? *p : '?', (int)(p - machine));
      return FALSE;
    }
  }
  return TRUE;
}

VsbMachineResolution *
vsb_qemu_resolve_machine(VsbFwArch arch, const char *machine, GError **error)
{
  if (!vsb_qemu_machine_name_validate(machine, error))
    return NULL;
  g_autoptr(VsbMachineResolution) res = g_new0(VsbMachineResolution, 1);
  if (is_versioned(machine)) {
    res->machine = g_strdup(machine);
    res->note = g_strdup_printf("%s is a versioned machine type; used as is", machine);
    return g_steal_pointer(&res);
  }
  res->binary = vsb_qemu_find_binary(arch, NULL);
  if (res->binary) {
    g_autoptr(GPtrArray) machines = vsb_qemu_list_machines(res->binary, error);
    if (machines == NULL)
      return NULL;
    for (guint i = 0; i < machines->len; i++) {
      VsbQemuMachine *m = machines->pdata[i];
      if (strcmp(m->name, machine) == 0 && m->alias_of) {
        res->machine = g_strdup(m->alias_of);
        res->note = g_strdup_printf("%s is an alias of %s (%s -machine help)", machine,
                                    m->alias_of, res->binary);
        return g_steal_pointer(&res);
      }
    }
    res->machine = g_strdup(machine);
    res->note = g_strdup_printf("%s is not an alias for %s; used as is", machine, res->binary);
    return g_steal_pointer(&res);
  }
  const char *family = family_of(arch, machine);
  if (family) {
    res->machine = g_strdup(family);
    res->family = TRUE;
    g_autofree char *bin = vsb_qemu_binary_name(arch);
    res->note = g_strdup_printf("%s is not installed; %s stands for the family %s", bin, machine,
                                family);
  } else {
    res->machine = g_strdup(machine);
    res->note = g_strdup_printf("%s used as is (no QEMU to resolve it)", machine);
  }
  return g_steal_pointer(&res);
}

gboolean
vsb_qemu_get_version(const char *binary, guint *major, guint *minor, GError **error)
{
  g_autofree char *out = run_capture_cached(binary, "--version", NULL, error);
  if (out == NULL)
    return FALSE;
  const char *p = strstr(out, "version ");
  if (p == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s --version: no version in '%s'", binary,
                g_strstrip(out));
    return FALSE;
  }
  p += strlen("version ");
  char *end = NULL;
  guint64 ma = g_ascii_strtoull(p, &end, 10);
  if (end == p || *end != '.') {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s --version: cannot read '%s'", binary, p);
    return FALSE;
  }
  const char *q = end + 1;
  guint64 mi = g_ascii_strtoull(q, &end, 10);
  if (end == q || ma > 1000 || mi > 1000) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s --version: cannot read '%s'", binary, p);
    return FALSE;
  }
  if (major)
    *major = (guint)ma;
  if (minor)
    *minor = (guint)mi;
  return TRUE;
}
