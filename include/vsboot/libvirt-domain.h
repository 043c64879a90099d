/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: read a libvirt domain definition for the audit, and work out what libvirt will really
 * start: the firmware files (resolving <os firmware='efi'> with the descriptors exactly as
 * libvirt's qemuFirmwareFillDomain does), the NVRAM file and the template it is created from,
 * and the QEMU arguments libvirt generates for them (qemu_command.c: -blockdev nodes with
 * -machine pflash0=/pflash1=, smm=, the cfi.pflash01 secure global, -bios for rom loaders,
 * -kernel, launch security), followed by the <qemu:commandline> extras. The audit then judges
 * that command line like any other. Emitting XML is libvirt-xml.h. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/fwsearch.h"
#include "vsboot/qemu-cmdline.h"

VSB_BEGIN_DECLS

#define VSB_LIBVIRT_DOMAIN_MAX_BYTES (10 * 1024 * 1024)
/* libvirt's system NVRAM directory (cfg->nvramDir of the privileged daemon). */
#define VSB_LIBVIRT_NVRAM_DIR "/var/lib/libvirt/qemu/nvram"

/* Tri-state attributes: -1 absent, 0 no/off, 1 yes/on. */
typedef struct {
  char *origin;           /* the file name, for messages */
  char *name;
  char *type;             /* <domain type>: kvm, qemu */
  char *arch;             /* <os><type arch> (or from <emulator>), NULL when unknown */
  char *machine;          /* <os><type machine> */
  char *firmware;         /* <os firmware>: efi, bios, NULL */
  int fw_secure_boot;     /* <os><firmware><feature name='secure-boot' enabled=...> */
  int fw_enrolled_keys;
  gboolean has_loader;
  char *loader;           /* <loader> path, NULL when not given */
  int loader_readonly, loader_secure, loader_stateless;
  char *loader_type;      /* rom, pflash */
  char *loader_format;
  gboolean has_nvram;
  char *nvram;            /* <nvram> path (or <source file>), NULL when not given */
  char *nvram_template, *nvram_format, *nvram_template_format;
  int smm;                /* <features><smm state> (present without state = on) */
  char *launch_security;  /* sev, sev-snp, tdx, s390-pv, ... */
  guint64 sev_policy;
  char *kernel, *initrd, *cmdline;
  int pm_s3, pm_s4;
  GPtrArray *qemu_args;   /* char*: <qemu:commandline><qemu:arg value> in order */
  char *loader_xml, *nvram_xml, *smm_xml, *os_xml; /* the elements, for evidence */
} VsbLibvirtDomain;

VsbLibvirtDomain *vsb_libvirt_domain_parse(const char *data, gsize len, const char *origin,
                                           GError **error);
VsbLibvirtDomain *vsb_libvirt_domain_load(const char *path, GError **error);
void vsb_libvirt_domain_free(VsbLibvirtDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbLibvirtDomain, vsb_libvirt_domain_free)

typedef struct {
  VsbQemuCmdline *cmdline;     /* what libvirt passes to QEMU (firmware part) + extras */
  char *descriptor;            /* path of the descriptor libvirt picks, or NULL */
  char *nvram_template;        /* what libvirt copies into a missing NVRAM file, or NULL */
  GPtrArray *notes;            /* char*: how each file was decided */
} VsbLibvirtResolved;

/* entries: the descriptor list (fwsearch.h) libvirt would see; nvram_dir: NULL for
 * VSB_LIBVIRT_NVRAM_DIR. VSB_ERROR_NO_MATCH with libvirt's own message when autoselection finds
 * no firmware ("Unable to find 'efi' firmware that is compatible with the current
 * configuration"); VSB_ERROR_INVALID for what libvirt refuses to define. */
VsbLibvirtResolved *vsb_libvirt_domain_resolve(const VsbLibvirtDomain *dom, GPtrArray *entries,
                                               const char *nvram_dir, GError **error);
void vsb_libvirt_resolved_free(VsbLibvirtResolved *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbLibvirtResolved, vsb_libvirt_resolved_free)

VSB_END_DECLS
