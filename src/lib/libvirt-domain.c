/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/libvirt-domain.h"
#include "vsboot/error.h"
#include "fileio.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include "vsboot/fwselect.h"
#include "qemu-probe.h"
#include "util/arch.h"
#include "tool.h"

#include <stdio.h>

#include <json-glib/json-glib.h>
#include <string.h>

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

void
vsb_libvirt_domain_free(VsbLibvirtDomain *d)
{
  if (d == NULL)
    return;
  g_free(d->origin);
  g_free(d->name);
  g_free(d->type);
  g_free(d->arch_text);
  g_free(d->machine);
  g_free(d->firmware);
  g_free(d->loader);
  g_free(d->loader_type);
  g_free(d->loader_format);
  g_free(d->nvram);
  g_free(d->nvram_template);
  g_free(d->nvram_format);
  g_free(d->nvram_template_format);
  g_free(d->launch_security);
  g_free(d->kernel);
  g_free(d->initrd);
  g_free(d->cmdline);
  if (d->qemu_args)
    g_ptr_array_unref(d->qemu_args);
  g_free(d->loader_xml);
  g_free(d->nvram_xml);
  g_free(d->smm_xml);
  g_free(d->os_xml);
  g_free(d);
}

/* The string value of an XPath expression, NULL when empty. */
static char *
xp_string(xmlXPathContextPtr ctx, const char *expr)
{
  g_autofree char *full = g_strdup_printf("string(%s)", expr);
  xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)full, ctx);
  char *res = NULL;
  if (obj && obj->type == XPATH_STRING && obj->stringval && obj->stringval[0])
    res = g_strdup((const char *)obj->stringval);
  xmlXPathFreeObject(obj);
  if (res)
    g_strstrip(res);
  if (res && res[0] == '\0')
    g_clear_pointer(&res, g_free);
  return res;
}

static xmlNodePtr
xp_node(xmlXPathContextPtr ctx, const char *expr)
{
  xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
  xmlNodePtr n = NULL;
  if (obj && obj->type == XPATH_NODESET && obj->nodesetval && obj->nodesetval->nodeNr > 0)
    n = obj->nodesetval->nodeTab[0];
  xmlXPathFreeObject(obj);
  return n;
}

/* The element as XML text (one line), for evidence. */
static char *
node_text(xmlDocPtr doc, xmlNodePtr n)
{
  if (n == NULL)
    return NULL;
  xmlBufferPtr buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, n, 0, 0);
  char *s = g_strdup((const char *)xmlBufferContent(buf));
  xmlBufferFree(buf);
  for (char *p = s; *p; p++)
    if (*p == '\n')
      *p = ' ';
  return s;
}

/* yes/no (or on/off) attribute into -1/0/1; anything else is an error naming the element. */
static gboolean
tristate(const char *value, const char *what, int *out, GError **error)
{
  if (value == NULL) {
    *out = -1;
    return TRUE;
  }
  if (strcmp(value, "yes") == 0 || strcmp(value, "on") == 0) {
    *out = 1;
    return TRUE;
  }
  if (strcmp(value, "no") == 0 || strcmp(value, "off") == 0) {
    *out = 0;
    return TRUE;
  }
  g_autofree char *v = g_utf8_make_valid(value, -1);
  g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: expected yes or no, not '%s'", what, v);
  return FALSE;
}

/* The well-formed document, its root a <domain>; libxml2's own words otherwise. */
static xmlDocPtr
read_document(const char *data, gsize len, const char *origin, GError **error)
{
  if (len > VSB_LIBVIRT_DOMAIN_MAX_BYTES || len > G_MAXINT) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: larger than %d bytes", origin,
                VSB_LIBVIRT_DOMAIN_MAX_BYTES);
    return NULL;
  }
  /* No network, no entity substitution, no DTD loading. */
  xmlDocPtr doc = xmlReadMemory(data, (int)len, origin, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL) {
    const xmlError *e = xmlGetLastError();
    g_autofree char *msg = e && e->message ? g_utf8_make_valid(e->message, -1) : NULL;
    if (msg)
      g_strstrip(msg);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: not well-formed XML%s%s (line %d)",
                origin, msg ? ": " : "", msg ? msg : "", e ? e->line : 0);
    return NULL;
  }
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (root == NULL || strcmp((const char *)root->name, "domain") != 0) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: the root element is not <domain>",
                origin);
    xmlFreeDoc(doc);
    return NULL;
  }
  return doc;
}

/* The strings of the definition, and its elements as text for evidence. */
static void
read_strings(VsbLibvirtDomain *d, xmlDocPtr doc, xmlXPathContextPtr ctx)
{
  d->name = xp_string(ctx, "/domain/name");
  d->type = xp_string(ctx, "/domain/@type");
  d->arch_text = xp_string(ctx, "/domain/os/type/@arch");
  d->machine = xp_string(ctx, "/domain/os/type/@machine");
  d->firmware = xp_string(ctx, "/domain/os/@firmware");
  d->loader = xp_string(ctx, "/domain/os/loader");
  d->has_loader = xp_node(ctx, "/domain/os/loader") != NULL;
  d->loader_type = xp_string(ctx, "/domain/os/loader/@type");
  d->loader_format = xp_string(ctx, "/domain/os/loader/@format");
  d->has_nvram = xp_node(ctx, "/domain/os/nvram") != NULL;
  d->nvram = xp_string(ctx, "/domain/os/nvram/text()");
  if (d->nvram == NULL)
    d->nvram = xp_string(ctx, "/domain/os/nvram/source/@file");
  d->nvram_template = xp_string(ctx, "/domain/os/nvram/@template");
  d->nvram_format = xp_string(ctx, "/domain/os/nvram/@format");
  d->nvram_template_format = xp_string(ctx, "/domain/os/nvram/@templateFormat");
  d->launch_security = xp_string(ctx, "/domain/launchSecurity/@type");
  d->kernel = xp_string(ctx, "/domain/os/kernel");
  d->initrd = xp_string(ctx, "/domain/os/initrd");
  d->cmdline = xp_string(ctx, "/domain/os/cmdline");
  d->loader_xml = node_text(doc, xp_node(ctx, "/domain/os/loader"));
  d->nvram_xml = node_text(doc, xp_node(ctx, "/domain/os/nvram"));
  d->smm_xml = node_text(doc, xp_node(ctx, "/domain/features/smm"));
  d->os_xml = node_text(doc, xp_node(ctx, "/domain/os"));
  if (d->arch_text == NULL) {
    /* No <type arch>: libvirt takes the emulator's. */
    g_autofree char *emu = xp_string(ctx, "/domain/devices/emulator");
    const char *p = emu ? strstr(emu, "qemu-system-") : NULL;
    if (p)
      d->arch_text = g_strdup(p + strlen("qemu-system-"));
  }
  /* libvirt says i686 and armv7l where firmware.json says i386 and arm. */
  d->arch = (VsbFwArch)vsb_arch_from_any_name(d->arch_text);
}

/* The yes/no and on/off attributes, <smm> (present without state = on), the SEV policy. */
static gboolean
read_switches(VsbLibvirtDomain *d, xmlXPathContextPtr ctx, GError **error)
{
  static const struct {
    const char *xpath, *what;
    gsize offset;
  } attrs[] = {
    { "/domain/os/firmware/feature[@name='secure-boot']/@enabled",
      "<firmware><feature name='secure-boot' enabled>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, fw_secure_boot) },
    { "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled",
      "<firmware><feature name='enrolled-keys' enabled>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, fw_enrolled_keys) },
    { "/domain/os/loader/@readonly", "<loader readonly>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, loader_readonly) },
    { "/domain/os/loader/@secure", "<loader secure>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, loader_secure) },
    { "/domain/os/loader/@stateless", "<loader stateless>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, loader_stateless) },
    { "/domain/pm/suspend-to-mem/@enabled", "<pm><suspend-to-mem enabled>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, pm_s3) },
    { "/domain/pm/suspend-to-disk/@enabled", "<pm><suspend-to-disk enabled>",
      G_STRUCT_OFFSET(VsbLibvirtDomain, pm_s4) },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
    g_autofree char *v = xp_string(ctx, attrs[i].xpath);
    if (!tristate(v, attrs[i].what, G_STRUCT_MEMBER_P(d, attrs[i].offset), error))
      return FALSE;
  }
  d->smm = -1;
  if (xp_node(ctx, "/domain/features/smm")) {
    g_autofree char *st = xp_string(ctx, "/domain/features/smm/@state");
    if (!tristate(st ? st : "on", "<features><smm state>", &d->smm, error))
      return FALSE;
  }
  g_autofree char *pol = d->launch_security ? xp_string(ctx, "/domain/launchSecurity/policy")
                                            : NULL;
  if (pol) {
    char *end = NULL;
    d->sev_policy = g_ascii_strtoull(pol, &end, 0);
    if (end == pol || *end != '\0') {
      g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                  "<launchSecurity><policy> '%s' is not a number", pol);
      return FALSE;
    }
  }
  return TRUE;
}

static void
read_qemu_args(VsbLibvirtDomain *d, xmlXPathContextPtr ctx)
{
  xmlXPathObjectPtr obj =
    xmlXPathEvalExpression((const xmlChar *)"/domain/qemu:commandline/qemu:arg/@value", ctx);
  if (obj && obj->type == XPATH_NODESET && obj->nodesetval) {
    for (int i = 0; i < obj->nodesetval->nodeNr; i++) {
      xmlChar *v = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);
      g_ptr_array_add(d->qemu_args, g_strdup(v ? (const char *)v : ""));
      xmlFree(v);
    }
  }
  xmlXPathFreeObject(obj);
}

/* What libvirt itself refuses to parse. */
static gboolean
check_values(const VsbLibvirtDomain *d, const char *origin, GError **error)
{
  if (d->firmware && strcmp(d->firmware, "efi") != 0 && strcmp(d->firmware, "bios") != 0) {
    g_autofree char *v = g_utf8_make_valid(d->firmware, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: <os firmware='%s'>: expected efi or bios",
                origin, v);
    return FALSE;
  }
  if (d->loader_type && strcmp(d->loader_type, "rom") != 0 &&
      strcmp(d->loader_type, "pflash") != 0) {
    g_autofree char *v = g_utf8_make_valid(d->loader_type, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: <loader type='%s'>: expected rom or pflash",
                origin, v);
    return FALSE;
  }
  if (d->fw_enrolled_keys == 1 && d->fw_secure_boot == 0) {
    /* libvirt's own parse error. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: firmware feature 'enrolled-keys' cannot be enabled when firmware feature "
                "'secure-boot' is disabled", origin);
    return FALSE;
  }
  return TRUE;
}

VsbLibvirtDomain *
vsb_libvirt_domain_parse(const char *data, gsize len, const char *origin, GError **error)
{
  xmlDocPtr doc = read_document(data, len, origin, error);
  if (doc == NULL)
    return NULL;
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathRegisterNs(ctx, (const xmlChar *)"qemu", (const xmlChar *)QEMU_NS);
  g_autoptr(VsbLibvirtDomain) d = g_new0(VsbLibvirtDomain, 1);
  d->origin = g_strdup(origin);
  d->qemu_args = g_ptr_array_new_with_free_func(g_free);
  read_strings(d, doc, ctx);
  gboolean ok = read_switches(d, ctx, error);
  if (ok)
    read_qemu_args(d, ctx);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  if (!ok) {
    g_prefix_error(error, "%s: ", origin);
    return NULL;
  }
  if (!check_values(d, origin, error))
    return NULL;
  return g_steal_pointer(&d);
}

VsbLibvirtDomain *
vsb_libvirt_domain_load(const char *path, GError **error)
{
  /* A regular file, read with the domain's size bound (a FIFO or /dev/zero is refused at once). */
  g_autoptr(GBytes) bytes = vsb_file_read(path, VSB_LIBVIRT_DOMAIN_MAX_BYTES, error);
  if (bytes == NULL)
    return NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data(bytes, &len);
  return vsb_libvirt_domain_parse(data, len, path, error);
}

void
vsb_libvirt_resolved_free(VsbLibvirtResolved *res)
{
  if (res == NULL)
    return;
  if (res->findings)
    g_ptr_array_unref(res->findings);
  vsb_qemu_cmdline_free(res->cmdline);
  g_free(res->descriptor);
  g_free(res->nvram_template);
  if (res->notes)
    g_ptr_array_unref(res->notes);
  g_free(res);
}

static char *
json_node_text(JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  return json_generator_to_data(gen, NULL);
}

/* libvirt's -blockdev pair for a flash: storage (file) node, and a format node above it
 * (code always; NVRAM only when qcow2). Returns the node name -machine pflashN= names. */
static gboolean
add_flash_blockdevs(VsbQemuCmdline *cmd, guint unit, const char *path, const char *format,
                    gboolean readonly, const char *origin, char **top, GError **error)
{
  g_autofree char *storage = g_strdup_printf("libvirt-pflash%u-storage", unit);
  g_autofree char *fmtnode = g_strdup_printf("libvirt-pflash%u-format", unit);
  gboolean need_format = unit == 0 || (format && strcmp(format, "raw") != 0);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "driver");
  json_builder_add_string_value(b, "file");
  json_builder_set_member_name(b, "filename");
  json_builder_add_string_value(b, path);
  json_builder_set_member_name(b, "node-name");
  json_builder_add_string_value(b, storage);
  if (need_format) {
    json_builder_set_member_name(b, "auto-read-only");
    json_builder_add_boolean_value(b, TRUE);
  } else {
    json_builder_set_member_name(b, "read-only");
    json_builder_add_boolean_value(b, readonly);
  }
  json_builder_end_object(b);
  g_autofree char *j1 = json_node_text(b);
  if (!vsb_qemu_cmdline_add(cmd, "blockdev", j1, origin, error))
    return FALSE;
  if (!need_format) {
    *top = g_steal_pointer(&storage);
    return TRUE;
  }
  g_autoptr(JsonBuilder) f = json_builder_new();
  json_builder_begin_object(f);
  json_builder_set_member_name(f, "node-name");
  json_builder_add_string_value(f, fmtnode);
  json_builder_set_member_name(f, "read-only");
  json_builder_add_boolean_value(f, readonly);
  json_builder_set_member_name(f, "driver");
  json_builder_add_string_value(f, format ? format : "raw");
  json_builder_set_member_name(f, "file");
  json_builder_add_string_value(f, storage);
  json_builder_end_object(f);
  g_autofree char *j2 = json_node_text(f);
  if (!vsb_qemu_cmdline_add(cmd, "blockdev", j2, origin, error))
    return FALSE;
  *top = g_steal_pointer(&fmtnode);
  return TRUE;
}

static char *
opt_escape(const char *v)
{
  GString *s = g_string_new(NULL);
  for (const char *p = v; *p; p++) {
    if (*p == ',')
      g_string_append_c(s, ',');
    g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

/* What resolution decides about the firmware, step by step (XML, then autoselection). */
typedef struct {
  const VsbLibvirtDomain *dom;
  const VsbLibvirtResolveOptions *opts;
  VsbLibvirtResolved *res;
  int farch;
  const char *machine;
  char *loader, *loader_type, *loader_format, *nvram_template;
  int readonly, secure, smm;
  gboolean stateless;
  const VsbFwDescriptor *manual_desc; /* the descriptor naming a manual <loader>'s file */
} Fw;

static void
fw_clear(Fw *fw)
{
  g_free(fw->loader);
  g_free(fw->loader_type);
  g_free(fw->loader_format);
  g_free(fw->nvram_template);
}

static void
add_libvirt_finding(VsbLibvirtResolved *res, const char *id, const char *evidence,
                    const char *fix, char *message)
{
  VsbFinding *f = g_new0(VsbFinding, 1);
  f->id = g_strdup(id);
  f->severity = VSB_SEVERITY_ERROR;
  f->message = message;
  f->evidence = g_strdup(evidence ? evidence : "");
  f->fix = g_strdup(fix);
  g_ptr_array_add(res->findings, f);
}

/* The architecture (libvirt's names mapped to firmware.json's) and default machine. */
static gboolean
resolve_arch(Fw *fw, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  fw->farch = dom->arch_text ? dom->arch : VSB_FW_ARCH_X86_64;
  fw->res->cmdline->arch = fw->farch;
  if (fw->farch < 0) {
    g_autofree char *v = g_utf8_make_valid(dom->arch_text, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED, "%s: architecture '%s' is not one "
                "vsboot audits", dom->origin, v);
    return FALSE;
  }
  fw->machine = dom->machine;
  if (fw->machine == NULL)
    fw->machine = (fw->farch == VSB_FW_ARCH_AARCH64 || fw->farch == VSB_FW_ARCH_ARM) ? "virt"
                                                                                     : "pc";
  return TRUE;
}

/* A descriptor naming the same file as a manual <loader> supplies the template for a missing
 * NVRAM file (every libvirt), and on libvirt 11.3 its SMM features too (manual_loader_rules). */
static void
manual_loader_template(Fw *fw, GPtrArray *entries)
{
  for (guint i = 0; entries && i < entries->len; i++) {
    VsbFwEntry *e = entries->pdata[i];
    if (e->kind != VSB_FW_ENTRY_DESCRIPTOR || e->descriptor->device != VSB_FW_DEVICE_FLASH)
      continue;
    if (!vsb_fw_paths_equal(e->descriptor->executable.filename, fw->loader))
      continue;
    if (fw->nvram_template == NULL && e->descriptor->nvram_template.filename)
      fw->nvram_template = g_strdup(e->descriptor->nvram_template.filename);
    g_ptr_array_add(fw->res->notes, g_strdup_printf("firmware: the <loader> names the file of "
                                                    "descriptor %s", e->descriptor->path));
    fw->manual_desc = e->descriptor;
    break;
  }
}

/* The firmware request libvirt's qemuFirmwareMatchDomain makes of the definition. */
static gboolean
autoselect_request(Fw *fw, VsbFwRequest *req, VsbMachineResolution *mr, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  vsb_fw_request_init(req);
  req->arch = fw->farch;
  req->machine = mr ? mr->machine : fw->machine;
  req->machine_family = mr ? mr->family : FALSE;
  req->interface = strcmp(dom->firmware, "efi") == 0 ? VSB_FW_INTERFACE_UEFI
                                                     : VSB_FW_INTERFACE_BIOS;
  VsbFwWant *ft = req->features;
  if (dom->fw_secure_boot >= 0)
    ft[VSB_FW_FEATURE_SECURE_BOOT] = dom->fw_secure_boot ? VSB_FW_WANT_YES : VSB_FW_WANT_NO;
  if (dom->fw_enrolled_keys >= 0)
    ft[VSB_FW_FEATURE_ENROLLED_KEYS] = dom->fw_enrolled_keys ? VSB_FW_WANT_YES : VSB_FW_WANT_NO;
  if (fw->smm == 0 || fw->secure == 0)
    ft[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_NO;
  else if (fw->secure == 1)
    ft[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
  if (dom->pm_s3 == 1)
    ft[VSB_FW_FEATURE_ACPI_S3] = VSB_FW_WANT_YES;
  if (dom->pm_s4 == 1)
    ft[VSB_FW_FEATURE_ACPI_S4] = VSB_FW_WANT_YES;
  const char *ls = dom->launch_security;
  if (ls && strcmp(ls, "sev") == 0) {
    ft[VSB_FW_FEATURE_AMD_SEV] = VSB_FW_WANT_YES;
    if (dom->sev_policy & 0x4)
      ft[VSB_FW_FEATURE_AMD_SEV_ES] = VSB_FW_WANT_YES;
  } else if (ls && strcmp(ls, "sev-snp") == 0) {
    ft[VSB_FW_FEATURE_AMD_SEV_SNP] = VSB_FW_WANT_YES;
  } else if (ls && strcmp(ls, "tdx") == 0) {
    ft[VSB_FW_FEATURE_INTEL_TDX] = VSB_FW_WANT_YES;
  }
  if (fw->loader_type)
    req->device = strcmp(fw->loader_type, "rom") == 0 ? VSB_FW_DEVICE_MEMORY : VSB_FW_DEVICE_FLASH;
  if (fw->stateless)
    req->mode = VSB_FW_FLASH_MODE_STATELESS;
  /* libvirt pins existing autoselected definitions to raw when no format is given. */
  const char *fmt = fw->loader_format          ? fw->loader_format
                    : dom->nvram_template_format ? dom->nvram_template_format
                                                 : dom->nvram_format;
  req->format = VSB_FW_FORMAT_RAW;
  if (fmt) {
    req->format = vsb_fw_format_from_name(fmt);
    if (req->format < 0) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: Unsupported loader format '%s'",
                  dom->origin, fmt);
      return FALSE;
    }
  }
  req->loader = fw->loader;
  req->nvram_template = fw->nvram_template;
  return TRUE;
}

/* What the chosen descriptor sets in the definition (qemuFirmwareFillDomain). */
static void
apply_descriptor(Fw *fw, const VsbFwDescriptor *desc)
{
  fw->res->descriptor = g_strdup(desc->path);
  g_ptr_array_add(fw->res->notes, g_strdup_printf("firmware: libvirt picks descriptor %s",
                                                  desc->path));
  if (desc->device == VSB_FW_DEVICE_FLASH) {
    g_free(fw->loader_type);
    fw->loader_type = g_strdup("pflash");
    g_free(fw->loader_format);
    fw->loader_format = g_strdup(vsb_fw_format_name(desc->executable.format));
    fw->readonly = desc->mode == VSB_FW_FLASH_MODE_COMBINED ? 0 : 1;
    fw->stateless = desc->mode == VSB_FW_FLASH_MODE_STATELESS;
    g_free(fw->loader);
    fw->loader = g_strdup(desc->executable.filename);
    if (desc->mode == VSB_FW_FLASH_MODE_SPLIT && fw->nvram_template == NULL)
      fw->nvram_template = g_strdup(desc->nvram_template.filename);
  } else if (desc->device == VSB_FW_DEVICE_MEMORY) {
    g_free(fw->loader_type);
    fw->loader_type = g_strdup("rom");
    g_free(fw->loader);
    fw->loader = g_strdup(desc->filename);
  }
  if (vsb_fw_descriptor_has_feature(desc, VSB_FW_FEATURE_REQUIRES_SMM)) {
    fw->smm = 1;
    fw->secure = 1;
  }
}

static gboolean
autoselect(Fw *fw, GPtrArray *entries, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  g_autoptr(VsbMachineResolution) mr = vsb_qemu_resolve_machine(fw->farch, fw->machine, NULL);
  if (mr && mr->note)
    g_ptr_array_add(fw->res->notes, g_strdup_printf("machine: %s", mr->note));
  VsbFwRequest req;
  if (!autoselect_request(fw, &req, mr, error))
    return FALSE;
  g_autoptr(GError) serr = NULL;
  g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, &req, &serr);
  if (sel == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: %s", dom->origin, serr->message);
    return FALSE;
  }
  if (sel->chosen == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_NO_MATCH,
                "%s: Unable to find '%s' firmware that is compatible with the current "
                "configuration (as libvirt would report)", dom->origin, dom->firmware);
    return FALSE;
  }
  apply_descriptor(fw, sel->chosen->descriptor);
  return TRUE;
}

/* The version deciding the behaviour: the caller's, or the installed libvirt's (asked once). */
static guint64
libvirt_version_for(Fw *fw)
{
  guint64 v = fw->opts->libvirt_version;
  if (v == 0) {
    g_autoptr(GError) verr = NULL;
    g_autofree char *how = NULL;
    if (vsb_libvirt_installed_version(&v, &how, &verr))
      g_ptr_array_add(fw->res->notes, g_strdup_printf("libvirt: version %u.%u.%u (%s)",
                                                      (unsigned)(v / 1000000),
                                                      (unsigned)(v / 1000 % 1000),
                                                      (unsigned)(v % 1000), how));
    else {
      g_ptr_array_add(fw->res->notes, g_strdup_printf("libvirt: version not known: %s",
                                                      verr->message));
      v = VSB_LIBVIRT_VERSION_UNKNOWN;
    }
  }
  fw->res->libvirt_version = v;
  return v;
}

/* libvirt 11.3 fills a manual pflash <loader> from the descriptor naming its file when that
 * firmware requires SMM, unless <loader secure='no'>: <smm> absent becomes on, and then an
 * absent secure= becomes yes (the secure flash); <smm state='off'/> stays off, without the
 * secure flash. libvirt 9.0 uses the <loader> as given. Both checked with the real daemons
 * (virsh domxml-to-native, tests/audit/test-audit-libvirt.c). FALSE: the version in between
 * was not checked, and a libvirt-version-unknown finding says so. */
static gboolean
manual_descriptor_fill(Fw *fw, const char *evidence)
{
  const VsbLibvirtDomain *dom = fw->dom;
  const VsbFwDescriptor *desc = fw->manual_desc;
  if (desc == NULL || g_strcmp0(dom->loader_type, "pflash") != 0 || fw->secure == 0 ||
      !vsb_fw_descriptor_has_feature(desc, VSB_FW_FEATURE_REQUIRES_SMM) ||
      !(fw->smm == -1 || (fw->smm == 1 && fw->secure == -1)))
    return TRUE;
  guint64 v = libvirt_version_for(fw);
  g_autofree char *vt = vsb_libvirt_version_text(v);
  if (v != VSB_LIBVIRT_VERSION_UNKNOWN && v < VSB_LIBVIRT_VERSION(9, 1, 0))
    return TRUE;
  if (v == VSB_LIBVIRT_VERSION_UNKNOWN || v < VSB_LIBVIRT_VERSION(11, 3, 0)) {
    add_libvirt_finding(fw->res, "libvirt-version-unknown", evidence,
                        "set <smm state='on'/> and <loader secure='yes'> explicitly",
                        g_strdup_printf("the <loader> names SMM firmware (descriptor %s) without "
                                        "saying <smm> or secure=: libvirt 9.0 uses it as given, "
                                        "11.3 turns SMM and the secure flash on; what libvirt "
                                        "%s does is not known to vsboot", desc->path, vt));
    return FALSE;
  }
  if (fw->smm == -1)
    fw->smm = 1;
  if (fw->secure == -1)
    fw->secure = 1;
  g_ptr_array_add(fw->res->notes,
                  g_strdup_printf("smm: libvirt %s applies descriptor %s to the <loader>: SMM "
                                  "on, secure flash %s", vt, desc->path,
                                  fw->secure == 1 ? "on" : "as given"));
  return TRUE;
}

/* What libvirt makes of a manual <loader> (x86: SMM is x86's; elsewhere nothing was checked,
 * and the audit judges the result). First the 11.3 descriptor fill, then libvirt's own check
 * (qemu_validate.c), the same in 9.0 and 11.3: <loader secure='yes'> without SMM on is
 * refused ("Secure boot requires SMM feature enabled"), at define and at start. Autoselected
 * firmware (<os firmware='efi'>) gets SMM from its descriptor instead. */
static void
manual_loader_rules(Fw *fw)
{
  const VsbLibvirtDomain *dom = fw->dom;
  if (dom->firmware != NULL || !dom->has_loader)
    return;
  if (fw->farch != VSB_FW_ARCH_X86_64 && fw->farch != VSB_FW_ARCH_I386)
    return;
  const char *ev = dom->loader_xml ? dom->loader_xml : "<loader>";
  g_autofree char *evidence = g_strdup_printf("%s %s", ev,
                                              dom->smm_xml ? dom->smm_xml : "(no <smm>)");
  if (!manual_descriptor_fill(fw, evidence) || fw->secure != 1 || fw->smm == 1)
    return;
  guint64 v = fw->res->libvirt_version;
  g_autofree char *who = v != 0 && v != VSB_LIBVIRT_VERSION_UNKNOWN
                           ? g_strdup_printf("libvirt %u.%u.%u", (unsigned)(v / 1000000),
                                             (unsigned)(v / 1000 % 1000), (unsigned)(v % 1000))
                           : g_strdup("libvirt");
  add_libvirt_finding(fw->res, "libvirt-refuses", evidence,
                      "add <smm state='on'/> to <features>",
                      g_strdup_printf("%s refuses this domain (\"Secure boot requires SMM "
                                      "feature enabled\"): it will not start", who));
}

/* The per-VM NVRAM file (libvirt's default name when <nvram> gives none) as -blockdev nodes. */
static gboolean
add_nvram(Fw *fw, char **vars_node, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  const char *origin_os = dom->os_xml ? dom->os_xml : "<os>";
  g_autofree char *nv = g_strdup(dom->nvram);
  gboolean qcow2 = (dom->nvram_format && strcmp(dom->nvram_format, "qcow2") == 0) ||
                   (fw->loader_format && strcmp(fw->loader_format, "qcow2") == 0);
  if (nv == NULL)
    nv = g_strdup_printf("%s/%s_VARS.%s", fw->opts->nvram_dir ? fw->opts->nvram_dir
                                                               : VSB_LIBVIRT_NVRAM_DIR,
                         dom->name ? dom->name : "guest", qcow2 ? "qcow2" : "fd");
  const char *nvfmt = dom->nvram_format            ? dom->nvram_format
                      : dom->nvram_template_format ? dom->nvram_template_format
                                                   : fw->loader_format;
  const char *nv_origin = dom->nvram_xml ? dom->nvram_xml : origin_os;
  if (!add_flash_blockdevs(fw->res->cmdline, 1, nv, nvfmt, FALSE, nv_origin, vars_node, error))
    return FALSE;
  if (!g_file_test(nv, G_FILE_TEST_EXISTS)) {
    g_ptr_array_add(fw->res->notes,
                    g_strdup_printf("nvram: %s does not exist yet; libvirt creates it from %s at "
                                    "start", nv, fw->nvram_template ? fw->nvram_template
                                                                    : "(no template)"));
    fw->res->nvram_template = g_strdup(fw->nvram_template);
  }
  return TRUE;
}

/* -machine as libvirt builds it (with the flash nodes and launch security), then -accel. */
static gboolean
emit_machine(Fw *fw, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  VsbQemuCmdline *cmd = fw->res->cmdline;
  const char *origin_os = dom->os_xml ? dom->os_xml : "<os>";
  g_autoptr(GString) m = g_string_new(NULL);
  g_autofree char *mach = opt_escape(fw->machine);
  g_string_append(m, mach);
  if (fw->smm >= 0)
    g_string_append_printf(m, ",smm=%s", fw->smm ? "on" : "off");
  g_autofree char *code_node = NULL, *vars_node = NULL;
  if (fw->loader && strcmp(fw->loader_type, "pflash") == 0) {
    const char *origin = dom->loader_xml ? dom->loader_xml : origin_os;
    if (!add_flash_blockdevs(cmd, 0, fw->loader, fw->loader_format, fw->readonly != 0, origin,
                             &code_node, error))
      return FALSE;
    g_string_append_printf(m, ",pflash0=%s", code_node);
    if (!fw->stateless && fw->readonly != 0) {
      if (!add_nvram(fw, &vars_node, error))
        return FALSE;
      g_string_append_printf(m, ",pflash1=%s", vars_node);
    }
  }
  const char *ls = dom->launch_security;
  const char *otype = ls == NULL                   ? NULL
                      : strcmp(ls, "sev") == 0     ? "sev-guest"
                      : strcmp(ls, "sev-snp") == 0 ? "sev-snp-guest"
                      : strcmp(ls, "tdx") == 0     ? "tdx-guest"
                                                   : NULL;
  if (otype) {
    g_autofree char *o = g_strdup_printf("%s,id=lsec0", otype);
    if (!vsb_qemu_cmdline_add(cmd, "object", o, "<launchSecurity>", error))
      return FALSE;
    g_string_append(m, ",confidential-guest-support=lsec0");
  }
  g_autofree char *mev = g_strdup_printf("%s%s%s", origin_os, dom->smm_xml ? " " : "",
                                         dom->smm_xml ? dom->smm_xml : "");
  if (!vsb_qemu_cmdline_add(cmd, "machine", m->str, mev, error))
    return FALSE;
  if (dom->type) {
    const char *accel = strcmp(dom->type, "kvm") == 0 ? "kvm" : "tcg";
    g_autofree char *aev = g_strdup_printf("<domain type='%s'>", dom->type);
    if (!vsb_qemu_cmdline_add(cmd, "accel", accel, aev, error))
      return FALSE;
  }
  return TRUE;
}

/* The secure global, -bios, direct kernel boot and <qemu:commandline> extras. */
static gboolean
emit_rest(Fw *fw, GError **error)
{
  const VsbLibvirtDomain *dom = fw->dom;
  VsbQemuCmdline *cmd = fw->res->cmdline;
  const char *origin_os = dom->os_xml ? dom->os_xml : "<os>";
  gboolean pflash = fw->loader && strcmp(fw->loader_type, "pflash") == 0;
  if (fw->secure == 1 && pflash &&
      !vsb_qemu_cmdline_add(cmd, "global", "driver=cfi.pflash01,property=secure,value=on",
                            dom->loader_xml ? dom->loader_xml : "<loader secure='yes'>", error))
    return FALSE;
  /* <pm><suspend-to-mem enabled='no'/> is libvirt's -global ICH9-LPC.disable_s3=1 on q35 (an
   * SMM OVMF with an X64 PEI needs it: audit smm-s3-hang). */
  const char *mt = fw->machine;
  if (dom->pm_s3 == 0 && mt && (strcmp(mt, "q35") == 0 || g_str_has_prefix(mt, "pc-q35-")) &&
      !vsb_qemu_cmdline_add(cmd, "global", "ICH9-LPC.disable_s3=1",
                            "<pm><suspend-to-mem enabled='no'/>", error))
    return FALSE;
  if (fw->loader && strcmp(fw->loader_type, "rom") == 0 &&
      !vsb_qemu_cmdline_add(cmd, "bios", fw->loader,
                            dom->loader_xml ? dom->loader_xml : origin_os, error))
    return FALSE;
  if (dom->kernel) {
    if (!vsb_qemu_cmdline_add(cmd, "kernel", dom->kernel, "<os><kernel>", error))
      return FALSE;
    if (dom->initrd && !vsb_qemu_cmdline_add(cmd, "initrd", dom->initrd, "<os><initrd>", error))
      return FALSE;
    if (dom->cmdline && !vsb_qemu_cmdline_add(cmd, "append", dom->cmdline, "<os><cmdline>", error))
      return FALSE;
  }
  if (dom->qemu_args->len > 0) {
    if (!vsb_qemu_cmdline_parse_args(cmd, (const char *const *)dom->qemu_args->pdata,
                                     (int)dom->qemu_args->len, "<qemu:commandline> ", 1, error))
      return FALSE;
    g_ptr_array_add(fw->res->notes, g_strdup_printf("<qemu:commandline>: %u extra arguments "
                                                    "appended", dom->qemu_args->len));
  }
  return TRUE;
}

VsbLibvirtResolved *
vsb_libvirt_domain_resolve_full(const VsbLibvirtDomain *dom, GPtrArray *entries,
                                const VsbLibvirtResolveOptions *opts, GError **error)
{
  static const VsbLibvirtResolveOptions defaults = { 0 };
  g_autoptr(VsbLibvirtResolved) res = g_new0(VsbLibvirtResolved, 1);
  res->notes = g_ptr_array_new_with_free_func(g_free);
  res->findings = g_ptr_array_new_with_free_func((GDestroyNotify)vsb_finding_free);
  res->cmdline = vsb_qemu_cmdline_new();
  Fw fw = { .dom = dom, .opts = opts ? opts : &defaults, .res = res };
  fw.loader = g_strdup(dom->loader);
  fw.loader_type = g_strdup(dom->loader_type);
  fw.loader_format = g_strdup(dom->loader_format);
  fw.nvram_template = g_strdup(dom->nvram_template);
  fw.readonly = dom->loader_readonly;
  fw.secure = dom->loader_secure;
  fw.stateless = dom->loader_stateless == 1;
  fw.smm = dom->smm;

  gboolean ok = resolve_arch(&fw, error);
  if (ok && dom->firmware == NULL && dom->has_loader && fw.loader)
    manual_loader_template(&fw, entries);
  if (ok && dom->firmware != NULL)
    ok = autoselect(&fw, entries, error);
  if (ok) {
    manual_loader_rules(&fw);
    /* <loader> without type= is a ROM (-bios), even with <nvram> (libvirt 9.0). */
    if (fw.loader && fw.loader_type == NULL)
      fw.loader_type = g_strdup("rom");
  }
  ok = ok && emit_machine(&fw, error) && emit_rest(&fw, error);
  fw_clear(&fw);
  return ok ? g_steal_pointer(&res) : NULL;
}

VsbLibvirtResolved *
vsb_libvirt_domain_resolve(const VsbLibvirtDomain *dom, GPtrArray *entries,
                           const char *nvram_dir, GError **error)
{
  VsbLibvirtResolveOptions opts = { .nvram_dir = nvram_dir };
  return vsb_libvirt_domain_resolve_full(dom, entries, &opts, error);
}

void
vsb_libvirt_resolved_apply(const VsbLibvirtResolved *res, VsbAuditReport *report)
{
  for (guint i = 0; i < res->notes->len; i++)
    g_ptr_array_insert(report->notes, (gint)i, g_strdup(res->notes->pdata[i]));
  /* Errors lead the report's findings; these are errors and go first. */
  for (guint i = 0; i < res->findings->len; i++) {
    const VsbFinding *f = res->findings->pdata[i];
    if (vsb_audit_report_has(report, f->id))
      continue;
    VsbFinding *c = g_new0(VsbFinding, 1);
    c->id = g_strdup(f->id);
    c->severity = f->severity;
    c->message = g_strdup(f->message);
    c->evidence = g_strdup(f->evidence);
    c->fix = g_strdup(f->fix);
    g_ptr_array_insert(report->findings, (gint)i, c);
    if (f->severity == VSB_SEVERITY_ERROR)
      report->enforced = FALSE;
  }
}

gboolean
vsb_libvirt_domain_wants_secure_boot(const VsbLibvirtDomain *dom)
{
  return dom->loader_secure == 1 || dom->fw_secure_boot == 1 || dom->fw_enrolled_keys == 1;
}

VsbAuditReport *
vsb_libvirt_domain_audit(const VsbLibvirtDomain *dom, const VsbLibvirtResolveOptions *opts,
                         const VsbAuditOptions *audit_opts, gboolean not_running,
                         const char *source, GError **error)
{
  g_autoptr(VsbLibvirtResolved) res = vsb_libvirt_domain_resolve_full(
    dom, audit_opts->firmware_entries, opts, error);
  if (res == NULL)
    return NULL;
  VsbAuditOptions o = *audit_opts;
  o.varstore_template = res->nvram_template;
  /* libvirt starts the domain as -name guest=NAME; a domain about to start has no QEMU yet,
   * so any QEMU on its varstore is another VM. */
  if (!not_running && o.self_name == NULL)
    o.self_name = dom->name;
  VsbAuditReport *report = vsb_audit_cmdline(res->cmdline, source, &o, error);
  if (report)
    vsb_libvirt_resolved_apply(res, report);
  return report;
}

/* "libvirtd (libvirt) 9.0.0" or "virtqemud (libvirt) 11.3.0": the last word. */
gboolean
vsb_libvirt_version_parse(const char *text, guint64 *version)
{
  unsigned a = 0, b = 0, c = 0;
  char tail = 0;
  if (text == NULL || sscanf(text, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || b > 999 || c > 999)
    return FALSE;
  *version = VSB_LIBVIRT_VERSION(a, b, c);
  return TRUE;
}

char *
vsb_libvirt_version_text(guint64 v)
{
  if (v == VSB_LIBVIRT_VERSION_UNKNOWN || v == 0)
    return g_strdup("unknown");
  return g_strdup_printf("%u.%u.%u", (unsigned)(v / 1000000), (unsigned)(v / 1000 % 1000),
                         (unsigned)(v % 1000));
}

gboolean
vsb_libvirt_installed_version(guint64 *version, char **how, GError **error)
{
  /* libvirtd first: where both are installed they come from one libvirt build. */
  static const char *const daemons[] = { "/usr/sbin/libvirtd", "/usr/sbin/virtqemud" };
  for (gsize i = 0; i < G_N_ELEMENTS(daemons); i++) {
    if (!g_file_test(daemons[i], G_FILE_TEST_IS_EXECUTABLE))
      continue;
    const char *argv[] = { daemons[i], "--version", NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    if (!vsb_tool_run_full(argv, 10000, &out, &err, &status, error))
      return FALSE;
    g_strstrip(out);
    const char *word = strrchr(out, ' ');
    if (status != 0 || !vsb_libvirt_version_parse(word ? word + 1 : out, version)) {
      g_autofree char *shown = g_utf8_make_valid(out, 200);
      g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s --version printed no version "
                  "(exit status %d): '%s'", daemons[i], status, shown);
      return FALSE;
    }
    *how = g_strdup_printf("%s --version", daemons[i]);
    return TRUE;
  }
  g_set_error(error, VSB_ERROR, VSB_ERROR_NOT_FOUND, "no libvirt daemon installed "
              "(/usr/sbin/libvirtd, /usr/sbin/virtqemud)");
  return FALSE;
}
