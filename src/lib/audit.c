/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit: build the model of the VM (audit-model.c), run every rule of the table on it
 * (audit-rules.c), sort the findings, and give the report as text-ready data and as JSON. */
#include "audit-private.h"
#include "util/enumname.h"
#include "util/jsonb.h"

#include "fileio.h"
#include "vsboot/fwsearch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const severity_names[VSB_SEVERITY_COUNT] = { "info", "warning", "error" };
VSB_ENUM_NAMES(vsb_severity, VsbSeverity, severity_names, VSB_SEVERITY_COUNT, "unknown")

void
vsb_finding_free(VsbFinding *f)
{
  if (f == NULL)
    return;
  g_free(f->id);
  g_free(f->message);
  g_free(f->evidence);
  g_free(f->fix);
  g_free(f);
}

static void
model_clear(VsbAuditModel *m)
{
  g_free(m->machine);
  g_free(m->accel);
  g_free(m->smm);
  g_free(m->firmware_via);
  g_free(m->code);
  g_free(m->code_format);
  g_free(m->descriptor);
  g_free(m->features_source);
  g_free(m->varstore);
  g_free(m->varstore_format);
  g_free(m->varstore_read);
  g_free(m->secure_boot);
  g_free(m->kernel);
  g_free(m->confidential);
}

void
vsb_audit_report_free(VsbAuditReport *r)
{
  if (r == NULL)
    return;
  g_free(r->source);
  model_clear(&r->model);
  g_ptr_array_unref(r->findings);
  g_ptr_array_unref(r->notes);
  g_free(r);
}

gboolean
vsb_audit_report_has(const VsbAuditReport *r, const char *id)
{
  for (guint i = 0; i < r->findings->len; i++)
    if (strcmp(((VsbFinding *)r->findings->pdata[i])->id, id) == 0)
      return TRUE;
  return FALSE;
}

/* Text safe for reports: valid UTF-8, no control characters. */
char *
vsb_audit_clean(const char *s)
{
  if (s == NULL)
    return NULL;
  char *v = g_utf8_make_valid(s, -1);
  for (char *p = v; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return v;
}

void
vsb_audit_emit(AuditCtx *c, const VsbAuditRule *rule, int sev, const char *evidence,
               const char *fix, const char *fmt, ...)
{
  if (vsb_audit_report_has(c->report, rule->id))
    return;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  VsbFinding *f = g_new0(VsbFinding, 1);
  f->id = g_strdup(rule->id);
  f->severity = sev < 0 ? rule->severity : (VsbSeverity)sev;
  f->message = vsb_audit_clean(msg);
  f->evidence = vsb_audit_clean(evidence ? evidence : "");
  f->fix = vsb_audit_clean(fix ? fix : rule->fix);
  g_ptr_array_add(c->report->findings, f);
  AuditFound found = { f, c->order };
  g_array_append_val(c->found, found);
}

/* File facts for evidence: "FILE (N bytes, mode 0644, 1 link)". */
char *
vsb_audit_file_facts(const char *path)
{
  struct stat st;
  g_autofree char *p = vsb_audit_clean(path);
  if (stat(path, &st) != 0)
    return g_strdup_printf("%s (%s)", p, g_strerror(errno));
  if (!S_ISREG(st.st_mode))
    return g_strdup_printf("%s (%s, mode %04o)", p, vsb_file_kind(st.st_mode),
                           (unsigned)(st.st_mode & 07777));
  return g_strdup_printf("%s (%lld bytes, mode %04o, %lu link%s)", p, (long long)st.st_size,
                         (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink,
                         st.st_nlink == 1 ? "" : "s");
}

char *
vsb_audit_join_ev(const char *a, const char *b)
{
  if (a && b)
    return g_strdup_printf("%s; %s", a, b);
  return g_strdup(a ? a : b ? b : "");
}

gboolean
vsb_audit_is_local_path(const char *path)
{
  /* "nbd:...", "json:{...}", "iscsi://..." are not files vsboot can open. */
  if (path == NULL || path[0] != '/')
    return FALSE;
  return TRUE;
}

const VsbAuditRule *
vsb_audit_rules(gsize *n)
{
  return vsb_audit_rule_table(n);
}

const VsbAuditRule *
vsb_audit_rule_find(const char *id)
{
  gsize n = 0;
  const VsbAuditRule *rules = vsb_audit_rule_table(&n);
  for (gsize i = 0; id && i < n; i++)
    if (strcmp(rules[i].id, id) == 0)
      return &rules[i];
  return NULL;
}

JsonNode *
vsb_audit_rules_to_json(void)
{
  gsize n = 0;
  const VsbAuditRule *rules = vsb_audit_rule_table(&n);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "findings");
  json_builder_begin_array(b);
  for (gsize i = 0; i < n; i++) {
    json_builder_begin_object(b);
    vsb_json_put_str(b, "id", rules[i].id);
    vsb_json_put_str(b, "severity", vsb_severity_name(rules[i].severity));
    vsb_json_put_str(b, "summary", rules[i].summary);
    vsb_json_put_str(b, "fix", rules[i].fix);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* Errors first, then warnings, then info; within a severity, in the order of the rules. */
static int
found_cmp(gconstpointer pa, gconstpointer pb)
{
  const AuditFound *a = pa, *b = pb;
  if (a->finding->severity != b->finding->severity)
    return (int)b->finding->severity - (int)a->finding->severity;
  return a->order - b->order;
}

static void
sort_findings(AuditCtx *c)
{
  VsbAuditReport *r = c->report;
  /* g_array_sort is not stable; the emission sequence breaks ties. */
  g_autoptr(GArray) seq = g_array_sized_new(FALSE, FALSE, sizeof(AuditFound), c->found->len);
  for (guint i = 0; i < c->found->len; i++) {
    AuditFound f = g_array_index(c->found, AuditFound, i);
    f.order = f.order * 1000 + (int)i;
    g_array_append_val(seq, f);
  }
  g_array_sort(seq, found_cmp);
  g_ptr_array_set_free_func(r->findings, NULL);
  g_ptr_array_set_size(r->findings, 0);
  g_ptr_array_set_free_func(r->findings, (GDestroyNotify)vsb_finding_free);
  for (guint i = 0; i < seq->len; i++)
    g_ptr_array_add(r->findings, g_array_index(seq, AuditFound, i).finding);
  r->enforced = TRUE;
  for (guint i = 0; i < r->findings->len; i++)
    if (((VsbFinding *)r->findings->pdata[i])->severity == VSB_SEVERITY_ERROR)
      r->enforced = FALSE;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AuditCtx, vsb_audit_ctx_clear)

VsbAuditReport *
vsb_audit_cmdline(const VsbQemuCmdline *cmd, const char *source, const VsbAuditOptions *opts,
                  GError **error)
{
  static const VsbAuditOptions no_opts = { 0 };
  if (opts == NULL)
    opts = &no_opts;
  g_autoptr(GPtrArray) own_entries = NULL;
  GPtrArray *entries = opts->firmware_entries;
  if (entries == NULL) {
    own_entries = vsb_fw_search(opts->firmware_dirs, error);
    if (own_entries == NULL)
      return NULL;
    entries = own_entries;
  }
  g_autoptr(VsbAuditReport) r = g_new0(VsbAuditReport, 1);
  r->source = vsb_audit_clean(source ? source : "QEMU command line");
  r->findings = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_finding_free);
  r->notes = g_ptr_array_new_with_free_func(g_free);

  g_auto(AuditCtx) c = { 0 };
  c.cmd = cmd;
  c.opts = opts;
  c.entries = entries;
  c.report = r;
  c.m = &r->model;
  c.found = g_array_new(FALSE, FALSE, sizeof(AuditFound));
  if (!vsb_audit_model_build(&c, error))
    return NULL;
  gsize n = 0;
  const VsbAuditRule *rules = vsb_audit_rule_table(&n);
  c.varstore_order = (int)(vsb_audit_rule_find("varstore-replaced") - rules);
  for (gsize i = 0; i < n; i++) {
    c.order = (int)i;
    if (rules[i].check)
      rules[i].check(&c, &rules[i]);
  }
  sort_findings(&c);
  return g_steal_pointer(&r);
}

/* A count, null when unread (-1). */
static void
put_count(JsonBuilder *b, const char *key, int v)
{
  if (v < 0) {
    json_builder_set_member_name(b, key);
    json_builder_add_null_value(b);
  } else {
    vsb_json_put_int(b, key, v);
  }
}

/* A finding as the report and the fleet write it: { id, severity, message, evidence, fix }. */
void
vsb_finding_put_json(JsonBuilder *b, const VsbFinding *f)
{
  json_builder_begin_object(b);
  vsb_json_put_str(b, "id", f->id);
  vsb_json_put_str(b, "severity", vsb_severity_name(f->severity));
  vsb_json_put_str(b, "message", f->message);
  vsb_json_put_str(b, "evidence", f->evidence);
  vsb_json_put_str(b, "fix", f->fix);
  json_builder_end_object(b);
}

JsonNode *
vsb_audit_report_to_json(const VsbAuditReport *r)
{
  const VsbAuditModel *m = &r->model;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  vsb_json_put_str(b, "source", r->source);
  vsb_json_put_str(b, "verdict", r->enforced ? "enforced" : "not-enforced");
  json_builder_set_member_name(b, "model");
  json_builder_begin_object(b);
  vsb_json_put_str(b, "arch", vsb_fw_arch_name(m->arch));
  vsb_json_put_str(b, "machine", m->machine);
  vsb_json_put_str(b, "accel", m->accel);
  vsb_json_put_str(b, "smm", m->smm);
  vsb_json_put_bool(b, "secure-flash", m->secure_flash);
  vsb_json_put_str(b, "firmware-via", m->firmware_via);
  vsb_json_put_str(b, "code", m->code);
  vsb_json_put_str(b, "code-format", m->code_format);
  vsb_json_put_bool(b, "code-readonly", m->code_readonly);
  vsb_json_put_str(b, "descriptor", m->descriptor);
  vsb_json_put_str(b, "features-source", m->features_source);
  vsb_json_put_bool(b, "firmware-secure-boot", m->fw_secure_boot);
  vsb_json_put_bool(b, "firmware-requires-smm", m->fw_requires_smm);
  vsb_json_put_str(b, "varstore", m->varstore);
  vsb_json_put_str(b, "varstore-format", m->varstore_format);
  vsb_json_put_bool(b, "varstore-readonly", m->varstore_readonly);
  vsb_json_put_str(b, "varstore-read", m->varstore_read);
  vsb_json_put_str(b, "secure-boot", m->secure_boot);
  put_count(b, "pk", m->n_pk);
  put_count(b, "kek", m->n_kek);
  put_count(b, "db", m->n_db);
  put_count(b, "dbx", m->n_dbx);
  vsb_json_put_str(b, "kernel", m->kernel);
  vsb_json_put_bool(b, "snapshot", m->snapshot);
  vsb_json_put_str(b, "confidential", m->confidential);
  json_builder_end_object(b);
  json_builder_set_member_name(b, "findings");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->findings->len; i++)
    vsb_finding_put_json(b, r->findings->pdata[i]);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "notes");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->notes->len; i++) {
    g_autofree char *n = vsb_audit_clean(r->notes->pdata[i]);
    json_builder_add_string_value(b, n);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}
