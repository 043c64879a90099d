/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's libvirt source: every domain of a URI through libvirt's client library, read
 * only, with the live definition of a running domain and the inactive one of a stopped one. */
#include "fleet-private.h"

#include "vsboot/error.h"
#include "vsboot/libvirt-domain.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Errors are read from virGetLastError into a GError; nothing is printed. */
static void
silent_error(void *data, virErrorPtr err)
{
  (void)data;
  (void)err;
}

static void set_libvirt_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
set_libvirt_error(GError **error, const char *fmt, ...)
{
  virErrorPtr e = virGetLastError();
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, VSB_ERROR, VSB_ERROR_IO, "%s: %s", what,
              e && e->message ? e->message : "libvirt gave no reason");
}

/* A <tpm> device in the definition (libvirt's parser already accepted the text). */
static gboolean
domain_has_tpm(const char *xml, gsize len)
{
  if (len > G_MAXINT)
    return FALSE;
  xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    return FALSE;
  gboolean found = FALSE;
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/devices/tpm", ctx) : NULL;
  found = r && r->nodesetval && r->nodesetval->nodeNr > 0;
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  return found;
}

static void
judge_domain(FleetScan *scan, const char *uri, guint64 version, virDomainPtr dom)
{
  const char *name = virDomainGetName(dom);
  char uuid[VIR_UUID_STRING_BUFLEN] = "";
  VsbFleetVm *vm = fleet_vm_add(scan, VSB_FLEET_LIBVIRT, name ? name : "(unnamed)", uri);
  if (virDomainGetUUIDString(dom, uuid) == 0)
    vm->uuid = g_strdup(uuid);
  vm->running = virDomainIsActive(dom) == 1;
  FleetProc *p = fleet_proc_for_domain(scan, name, vm->uuid);
  if (p) {
    p->claimed = TRUE;
    vm->pid = p->pid;
  }
  g_autofree char *what = g_strdup_printf("libvirt domain %s", vm->name);
  GError *error = NULL;
  /* What libvirt runs now for a running domain; what it will start otherwise. */
  char *xml = virDomainGetXMLDesc(dom, vm->running ? 0 : VIR_DOMAIN_XML_INACTIVE);
  if (xml == NULL) {
    set_libvirt_error(&error, "libvirt would not give the definition of %s", vm->name);
    fleet_vm_set_audit(vm, NULL, what, error);
    return;
  }
  gsize len = strlen(xml);
  vm->tpm = domain_has_tpm(xml, len);
  g_autofree char *origin = g_strdup_printf("%s (%s)", vm->name, uri);
  VsbAuditReport *r = fleet_audit_libvirt_xml(scan, xml, len, origin, version, vm->pid, &error);
  free(xml);
  fleet_vm_set_audit(vm, r, what, error);
}

/* The files a domain names are judged as this host sees them: a URI of another host's libvirt
 * (qemu+ssh://host/system) would have its paths looked up here. */
static gboolean
uri_is_local(const char *uri, GError **error)
{
  g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_NON_DNS, NULL);
  const char *host = u ? g_uri_get_host(u) : NULL;
  if (host == NULL || *host == '\0' || g_ascii_strcasecmp(host, "localhost") == 0 ||
      strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0)
    return TRUE;
  g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED,
              "libvirt URI %s names host %s: its domains' files are on that host, and vsboot "
              "judges the files of the host it runs on (run it there)", uri, host);
  return FALSE;
}

/* FALSE only for a URI that was asked for (explicit): the default one that does not answer is
 * a note. */
static gboolean
scan_uri(FleetScan *scan, const char *uri, gboolean explicit, GError **error)
{
  if (!uri_is_local(uri, error))
    return FALSE;
  virConnectPtr conn = virConnectOpenReadOnly(uri);
  if (conn == NULL) {
    GError *e = NULL;
    set_libvirt_error(&e, "libvirt URI %s cannot be opened", uri);
    if (explicit) {
      g_propagate_error(error, e);
      return FALSE;
    }
    g_ptr_array_add(scan->fleet->notes,
                    g_strdup_printf("libvirt: no libvirt domains listed: %s", e->message));
    g_error_free(e);
    return TRUE;
  }
  virConnSetErrorFunc(conn, NULL, silent_error);
  /* The daemon's own version decides what it does with some definitions (libvirt-domain.h);
   * one it will not say is not guessed. */
  unsigned long lib_version = 0;
  guint64 version = virConnectGetLibVersion(conn, &lib_version) == 0 && lib_version
                      ? (guint64)lib_version : VSB_LIBVIRT_VERSION_UNKNOWN;
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains(conn, &doms, 0);
  if (n < 0) {
    set_libvirt_error(error, "libvirt URI %s: the domains cannot be listed", uri);
    virConnectClose(conn);
    return FALSE;
  }
  for (int i = 0; i < n; i++) {
    judge_domain(scan, uri, version, doms[i]);
    virDomainFree(doms[i]);
  }
  free(doms);
  virConnectClose(conn);
  g_ptr_array_add(scan->fleet->notes, g_strdup_printf("libvirt %s: %d domain(s)", uri, n));
  return TRUE;
}

static gboolean
first_index_of(const char *const *strv, const char *s, guint index)
{
  for (guint i = 0; i < index; i++)
    if (strcmp(strv[i], s) == 0)
      return FALSE;
  return TRUE;
}

gboolean
fleet_scan_libvirt(FleetScan *scan, GError **error)
{
  const char *const *uris = scan->opts->libvirt_uris;
  if (uris == NULL || uris[0] == NULL)
    return scan_uri(scan, VSB_FLEET_DEFAULT_URI, FALSE, error);
  for (guint i = 0; uris[i]; i++) {
    /* The same URI twice would list its domains twice. */
    if (!first_index_of(uris, uris[i], i))
      continue;
    if (!scan_uri(scan, uris[i], TRUE, error))
      return FALSE;
  }
  return TRUE;
}
