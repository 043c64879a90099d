/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/libvirt-domain.h"
#include "vsboot/error.h"
#include "vsboot/fileio.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include "vsboot/fwselect.h"
#include "vsboot/qemu-probe.h"

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
  g_free(d->arch);
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

VsbLibvirtDomain *
vsb_libvirt_domain_parse(const char *data, gsize len, const char *origin, GError **error)
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
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathRegisterNs(ctx, (const xmlChar *)"qemu", (const xmlChar *)QEMU_NS);

  g_autoptr(VsbLibvirtDomain) d = g_new0(VsbLibvirtDomain, 1);
  d->origin = g_strdup(origin);
  d->qemu_args = g_ptr_array_new_with_free_func(g_free);
  d->name = xp_string(ctx, "/domain/name");
  d->type = xp_string(ctx, "/domain/@type");
  d->arch = xp_string(ctx, "/domain/os/type/@arch");
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

  gboolean ok = TRUE;
  g_autofree char *sb = xp_string(ctx, "/domain/os/firmware/feature[@name='secure-boot']/@enabled");
  g_autofree char *ek = xp_string(ctx, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled");
  g_autofree char *ro = xp_string(ctx, "/domain/os/loader/@readonly");
  g_autofree char *sec = xp_string(ctx, "/domain/os/loader/@secure");
  g_autofree char *stl = xp_string(ctx, "/domain/os/loader/@stateless");
  g_autofree char *s3 = xp_string(ctx, "/domain/pm/suspend-to-mem/@enabled");
  g_autofree char *s4 = xp_string(ctx, "/domain/pm/suspend-to-disk/@enabled");
  ok = ok && tristate(sb, "<firmware><feature name='secure-boot' enabled>", &d->fw_secure_boot, error);
  ok = ok && tristate(ek, "<firmware><feature name='enrolled-keys' enabled>", &d->fw_enrolled_keys, error);
  ok = ok && tristate(ro, "<loader readonly>", &d->loader_readonly, error);
  ok = ok && tristate(sec, "<loader secure>", &d->loader_secure, error);
  ok = ok && tristate(stl, "<loader stateless>", &d->loader_stateless, error);
  ok = ok && tristate(s3, "<pm><suspend-to-mem enabled>", &d->pm_s3, error);
  ok = ok && tristate(s4, "<pm><suspend-to-disk enabled>", &d->pm_s4, error);
  if (ok) {
    if (xp_node(ctx, "/domain/features/smm")) {
      g_autofree char *st = xp_string(ctx, "/domain/features/smm/@state");
      ok = tristate(st ? st : "on", "<features><smm state>", &d->smm, error);
    } else {
      d->smm = -1;
    }
  }
  if (ok && d->launch_security) {
    g_autofree char *pol = xp_string(ctx, "/domain/launchSecurity/policy");
    if (pol) {
      char *end = NULL;
      d->sev_policy = g_ascii_strtoull(pol, &end, 0);
      if (end == pol || *end != '\0') {
        g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE,
                    "%s: <launchSecurity><policy> '%s' is not a number", origin, pol);
        ok = FALSE;
      }
    }
  }
  if (ok && d->arch == NULL) {
    g_autofree char *emu = xp_string(ctx, "/domain/devices/emulator");
    if (emu) {
      const char *p = strstr(emu, "qemu-system-");
      if (p)
        d->arch = g_strdup(p + strlen("qemu-system-"));
    }
  }
  if (ok) {
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
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  if (!ok) {
    if (error && *error && !g_str_has_prefix((*error)->message, origin))
      g_prefix_error(error, "%s: ", origin);
    return NULL;
  }
  if (d->firmware && strcmp(d->firmware, "efi") != 0 && strcmp(d->firmware, "bios") != 0) {
    g_autofree char *v = g_utf8_make_valid(d->firmware, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: <os firmware='%s'>: expected efi or bios",
                origin, v);
    return NULL;
  }
  if (d->loader_type && strcmp(d->loader_type, "rom") != 0 &&
      strcmp(d->loader_type, "pflash") != 0) {
    g_autofree char *v = g_utf8_make_valid(d->loader_type, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_PARSE, "%s: <loader type='%s'>: expected rom or pflash",
                origin, v);
    return NULL;
  }
  if (d->fw_enrolled_keys == 1 && d->fw_secure_boot == 0) {
    /* libvirt's own parse error. */
    g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID,
                "%s: firmware feature 'enrolled-keys' cannot be enabled when firmware feature "
                "'secure-boot' is disabled", origin);
    return NULL;
  }
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

VsbLibvirtResolved *
vsb_libvirt_domain_resolve(const VsbLibvirtDomain *dom, GPtrArray *entries,
                           const char *nvram_dir, GError **error)
{
  g_autoptr(VsbLibvirtResolved) res = g_new0(VsbLibvirtResolved, 1);
  res->notes = g_ptr_array_new_with_free_func(g_free);
  res->cmdline = vsb_qemu_cmdline_new();
  VsbQemuCmdline *cmd = res->cmdline;
  const char *origin_os = dom->os_xml ? dom->os_xml : "<os>";

  const char *arch = dom->arch ? dom->arch : "x86_64";
  /* libvirt says i686 and armv7l where firmware.json says i386 and arm. */
  if (strcmp(arch, "i686") == 0)
    arch = "i386";
  else if (strcmp(arch, "armv7l") == 0)
    arch = "arm";
  cmd->arch = g_strdup(arch);
  int farch = vsb_fw_arch_from_name(arch);
  if (farch < 0) {
    g_autofree char *v = g_utf8_make_valid(arch, -1);
    g_set_error(error, VSB_ERROR, VSB_ERROR_UNSUPPORTED, "%s: architecture '%s' is not one "
                "vsboot audits", dom->origin, v);
    return NULL;
  }
  const char *machine = dom->machine;
  if (machine == NULL)
    machine = (farch == VSB_FW_ARCH_AARCH64 || farch == VSB_FW_ARCH_ARM) ? "virt" : "pc";

  /* The firmware libvirt will use. */
  char *loader = NULL, *loader_type = NULL, *loader_format = NULL, *nvram_template = NULL;
  int readonly = dom->loader_readonly, secure = dom->loader_secure;
  gboolean stateless = dom->loader_stateless == 1;
  int smm = dom->smm;
  loader = g_strdup(dom->loader);
  loader_type = g_strdup(dom->loader_type);
  loader_format = g_strdup(dom->loader_format);
  nvram_template = g_strdup(dom->nvram_template);

  gboolean autoselect = dom->firmware != NULL;
  gboolean manual = !autoselect && dom->has_loader;
  if (manual && loader) {
    /* A manual <loader> is used as given: libvirt 9.0 (Debian 12) applies no descriptor
     * features to it (no smm=, no secure global unless the XML says so; checked with
     * `virsh domxml-to-native`). A descriptor naming the same file only supplies the template
     * for a missing NVRAM file. */
    for (guint i = 0; entries && i < entries->len; i++) {
      VsbFwEntry *e = entries->pdata[i];
      if (e->kind != VSB_FW_ENTRY_DESCRIPTOR || e->descriptor->device != VSB_FW_DEVICE_FLASH)
        continue;
      if (!vsb_fw_paths_equal(e->descriptor->executable.filename, loader))
        continue;
      if (nvram_template == NULL && e->descriptor->nvram_template.filename)
        nvram_template = g_strdup(e->descriptor->nvram_template.filename);
      g_ptr_array_add(res->notes, g_strdup_printf("firmware: the <loader> is used as given; "
                                                  "descriptor %s names the same file",
                                                  e->descriptor->path));
      break;
    }
  }
  if (autoselect) {
    g_autoptr(VsbMachineResolution) mr = vsb_qemu_resolve_machine(farch, machine, NULL);
    VsbFwRequest req;
    vsb_fw_request_init(&req);
    req.arch = farch;
    req.machine = mr ? mr->machine : machine;
    req.machine_family = mr ? mr->family : FALSE;
    if (mr && mr->note)
      g_ptr_array_add(res->notes, g_strdup_printf("machine: %s", mr->note));
    req.interface = strcmp(dom->firmware, "efi") == 0 ? VSB_FW_INTERFACE_UEFI
                                                      : VSB_FW_INTERFACE_BIOS;
    if (dom->fw_secure_boot >= 0)
      req.features[VSB_FW_FEATURE_SECURE_BOOT] = dom->fw_secure_boot ? VSB_FW_WANT_YES : VSB_FW_WANT_NO;
    if (dom->fw_enrolled_keys >= 0)
      req.features[VSB_FW_FEATURE_ENROLLED_KEYS] = dom->fw_enrolled_keys ? VSB_FW_WANT_YES : VSB_FW_WANT_NO;
    if (smm == 0 || secure == 0)
      req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_NO;
    else if (secure == 1)
      req.features[VSB_FW_FEATURE_REQUIRES_SMM] = VSB_FW_WANT_YES;
    if (dom->pm_s3 == 1)
      req.features[VSB_FW_FEATURE_ACPI_S3] = VSB_FW_WANT_YES;
    if (dom->pm_s4 == 1)
      req.features[VSB_FW_FEATURE_ACPI_S4] = VSB_FW_WANT_YES;
    if (dom->launch_security) {
      if (strcmp(dom->launch_security, "sev") == 0) {
        req.features[VSB_FW_FEATURE_AMD_SEV] = VSB_FW_WANT_YES;
        if (dom->sev_policy & 0x4)
          req.features[VSB_FW_FEATURE_AMD_SEV_ES] = VSB_FW_WANT_YES;
      } else if (strcmp(dom->launch_security, "sev-snp") == 0) {
        req.features[VSB_FW_FEATURE_AMD_SEV_SNP] = VSB_FW_WANT_YES;
      } else if (strcmp(dom->launch_security, "tdx") == 0) {
        req.features[VSB_FW_FEATURE_INTEL_TDX] = VSB_FW_WANT_YES;
      }
    }
    if (loader_type)
      req.device = strcmp(loader_type, "rom") == 0 ? VSB_FW_DEVICE_MEMORY : VSB_FW_DEVICE_FLASH;
    if (stateless)
      req.mode = VSB_FW_FLASH_MODE_STATELESS;
    /* libvirt pins existing autoselected definitions to raw when no format is given. */
    const char *fmt = loader_format ? loader_format
                      : dom->nvram_template_format ? dom->nvram_template_format
                      : dom->nvram_format;
    if (fmt) {
      req.format = vsb_fw_format_from_name(fmt);
      if (req.format < 0) {
        g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: Unsupported loader format '%s'",
                    dom->origin, fmt);
        goto fail;
      }
    } else if (autoselect) {
      req.format = VSB_FW_FORMAT_RAW;
    }
    req.loader = loader;
    req.nvram_template = nvram_template;
    g_autoptr(GError) serr = NULL;
    g_autoptr(VsbFwSelection) sel = vsb_fw_select(entries, &req, &serr);
    if (sel == NULL) {
      g_set_error(error, VSB_ERROR, VSB_ERROR_INVALID, "%s: %s", dom->origin, serr->message);
      goto fail;
    }
    if (sel->chosen) {
      const VsbFwDescriptor *desc = sel->chosen->descriptor;
      res->descriptor = g_strdup(desc->path);
      g_ptr_array_add(res->notes, g_strdup_printf("firmware: libvirt picks descriptor %s",
                                                  desc->path));
      if (desc->device == VSB_FW_DEVICE_FLASH) {
        g_free(loader_type);
        loader_type = g_strdup("pflash");
        g_free(loader_format);
        loader_format = g_strdup(vsb_fw_format_name(desc->executable.format));
        readonly = desc->mode == VSB_FW_FLASH_MODE_COMBINED ? 0 : 1;
        stateless = desc->mode == VSB_FW_FLASH_MODE_STATELESS;
        g_free(loader);
        loader = g_strdup(desc->executable.filename);
        if (desc->mode == VSB_FW_FLASH_MODE_SPLIT && nvram_template == NULL)
          nvram_template = g_strdup(desc->nvram_template.filename);
      } else if (desc->device == VSB_FW_DEVICE_MEMORY) {
        g_free(loader_type);
        loader_type = g_strdup("rom");
        g_free(loader);
        loader = g_strdup(desc->filename);
      }
      if (vsb_fw_descriptor_has_feature(desc, VSB_FW_FEATURE_REQUIRES_SMM)) {
        smm = 1;
        secure = 1;
      }
    } else {
      g_set_error(error, VSB_ERROR, VSB_ERROR_NO_MATCH,
                  "%s: Unable to find '%s' firmware that is compatible with the current "
                  "configuration (as libvirt would report)", dom->origin, dom->firmware);
      goto fail;
    }
  }
  /* <loader> without type= is a ROM (-bios), even with <nvram> (libvirt 9.0). */
  if (loader && loader_type == NULL)
    loader_type = g_strdup("rom");

  /* -machine as libvirt builds it, then -accel. */
  {
    g_autoptr(GString) m = g_string_new(NULL);
    g_autofree char *mach = opt_escape(machine);
    g_string_append(m, mach);
    if (smm >= 0)
      g_string_append_printf(m, ",smm=%s", smm ? "on" : "off");
    g_autofree char *code_node = NULL, *vars_node = NULL;
    if (loader && strcmp(loader_type, "pflash") == 0) {
      g_autofree char *origin = g_strdup_printf("%s", dom->loader_xml ? dom->loader_xml : origin_os);
      if (!add_flash_blockdevs(cmd, 0, loader, loader_format, readonly != 0, origin, &code_node,
                               error))
        goto fail;
      g_string_append_printf(m, ",pflash0=%s", code_node);
      if (!stateless && readonly != 0) {
        char *nv = g_strdup(dom->nvram);
        if (nv == NULL)
          nv = g_strdup_printf("%s/%s_VARS.%s", nvram_dir ? nvram_dir : VSB_LIBVIRT_NVRAM_DIR,
                               dom->name ? dom->name : "guest",
                               (dom->nvram_format && strcmp(dom->nvram_format, "qcow2") == 0) ||
                                   (loader_format && strcmp(loader_format, "qcow2") == 0)
                                 ? "qcow2" : "fd");
        const char *nvfmt = dom->nvram_format ? dom->nvram_format
                            : dom->nvram_template_format ? dom->nvram_template_format
                            : loader_format;
        g_autofree char *nv_origin =
          g_strdup_printf("%s", dom->nvram_xml ? dom->nvram_xml : origin_os);
        gboolean ok = add_flash_blockdevs(cmd, 1, nv, nvfmt, FALSE, nv_origin, &vars_node, error);
        if (ok && !g_file_test(nv, G_FILE_TEST_EXISTS)) {
          g_ptr_array_add(res->notes,
                          g_strdup_printf("nvram: %s does not exist yet; libvirt creates it from "
                                          "%s at start", nv, nvram_template ? nvram_template
                                                                            : "(no template)"));
          res->nvram_template = g_strdup(nvram_template);
        }
        g_free(nv);
        if (!ok)
          goto fail;
        g_string_append_printf(m, ",pflash1=%s", vars_node);
      }
    }
    if (dom->launch_security) {
      const char *otype = strcmp(dom->launch_security, "sev") == 0       ? "sev-guest"
                          : strcmp(dom->launch_security, "sev-snp") == 0 ? "sev-snp-guest"
                          : strcmp(dom->launch_security, "tdx") == 0     ? "tdx-guest"
                                                                         : NULL;
      if (otype) {
        g_autofree char *o = g_strdup_printf("%s,id=lsec0", otype);
        if (!vsb_qemu_cmdline_add(cmd, "object", o, "<launchSecurity>", error))
          goto fail;
        g_string_append(m, ",confidential-guest-support=lsec0");
      }
    }
    g_autofree char *mev = g_strdup_printf("%s%s%s", origin_os, dom->smm_xml ? " " : "",
                                           dom->smm_xml ? dom->smm_xml : "");
    if (!vsb_qemu_cmdline_add(cmd, "machine", m->str, mev, error))
      goto fail;
    if (dom->type) {
      const char *accel = strcmp(dom->type, "kvm") == 0 ? "kvm" : "tcg";
      g_autofree char *aev = g_strdup_printf("<domain type='%s'>", dom->type);
      if (!vsb_qemu_cmdline_add(cmd, "accel", accel, aev, error))
        goto fail;
    }
  }
  if (secure == 1 && loader && strcmp(loader_type, "pflash") == 0) {
    if (!vsb_qemu_cmdline_add(cmd, "global", "driver=cfi.pflash01,property=secure,value=on",
                              dom->loader_xml ? dom->loader_xml : "<loader secure='yes'>", error))
      goto fail;
  }
  if (loader && strcmp(loader_type, "rom") == 0) {
    if (!vsb_qemu_cmdline_add(cmd, "bios", loader,
                              dom->loader_xml ? dom->loader_xml : origin_os, error))
      goto fail;
  }
  if (dom->kernel) {
    if (!vsb_qemu_cmdline_add(cmd, "kernel", dom->kernel, "<os><kernel>", error))
      goto fail;
    if (dom->initrd && !vsb_qemu_cmdline_add(cmd, "initrd", dom->initrd, "<os><initrd>", error))
      goto fail;
    if (dom->cmdline && !vsb_qemu_cmdline_add(cmd, "append", dom->cmdline, "<os><cmdline>", error))
      goto fail;
  }
  if (dom->qemu_args->len > 0) {
    if (!vsb_qemu_cmdline_parse_args(cmd, (const char *const *)dom->qemu_args->pdata,
                                     (int)dom->qemu_args->len, "<qemu:commandline> ", 1, error))
      goto fail;
    g_ptr_array_add(res->notes, g_strdup_printf("<qemu:commandline>: %u extra arguments appended",
                                                dom->qemu_args->len));
  }
  g_free(loader);
  g_free(loader_type);
  g_free(loader_format);
  g_free(nvram_template);
  return g_steal_pointer(&res);
fail:
  g_free(loader);
  g_free(loader_type);
  g_free(loader_format);
  g_free(nvram_template);
  return NULL;
}
