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
#include "vsboot/audit.h"
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
  VsbFwArch arch;         /* <os><type arch> (or from <emulator>); libvirt's i686 and armv7l
                           * read as i386 and arm; VSB_FW_ARCH_UNKNOWN when absent or unknown */
  char *arch_text;        /* the name as written, NULL when absent: an architecture vsboot does
                           * not know is still named in the error that refuses it */
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

/* A libvirt version as virGetVersion and virConnectGetLibVersion give it:
 * major * 1000000 + minor * 1000 + micro (9.0.0 is 9000000). */
#define VSB_LIBVIRT_VERSION(major, minor, micro)                                                 \
  ((guint64)(major) * 1000000u + (guint64)(minor) * 1000u + (guint64)(micro))
/* Not known, and not to be asked: what depends on it is reported as not known. */
#define VSB_LIBVIRT_VERSION_UNKNOWN G_MAXUINT64

/* Ask the installed libvirt for its version: `libvirtd --version` ("libvirtd (libvirt) 9.0.0"),
 * else `virtqemud --version` (a host with only the modular daemons), in /usr/sbin, through
 * tool.h with a short time limit. how receives what answered, for a note. A program that
 * cannot be run, or prints no version, is VSB_ERROR_NOT_FOUND / VSB_ERROR_TOOL. (With a libvirt
 * connection at hand, virConnectGetLibVersion is the daemon's own answer: pass that instead.) */
gboolean vsb_libvirt_installed_version(guint64 *version, char **how, GError **error);
/* "9.0.0" -> VSB_LIBVIRT_VERSION(9, 0, 0); FALSE for anything else. */
gboolean vsb_libvirt_version_parse(const char *text, guint64 *version);
/* VSB_LIBVIRT_VERSION(9, 0, 0) -> "9.0.0"; "unknown" for VSB_LIBVIRT_VERSION_UNKNOWN. */
char *vsb_libvirt_version_text(guint64 version);

typedef struct {
  /* NULL for VSB_LIBVIRT_NVRAM_DIR. */
  const char *nvram_dir;
  /* The libvirt that will start the domain. Its behaviour differs where its version decides: a
   * manual pflash <loader> naming SMM firmware that a descriptor describes, without <smm> (or
   * with SMM on but no secure=): libvirt 9.0 uses it as given (and refuses secure='yes'
   * without SMM), 11.3 turns SMM and the secure flash on from the descriptor. 0: ask the installed libvirt (vsb_libvirt_installed_version), only when the answer
   * depends on it; VSB_LIBVIRT_VERSION_UNKNOWN: do not ask, and report such a domain as not
   * known (finding libvirt-version-unknown, an error: never "enforced" on a guess). */
  guint64 libvirt_version;
} VsbLibvirtResolveOptions;

typedef struct {
  VsbQemuCmdline *cmdline;     /* what libvirt passes to QEMU (firmware part) + extras */
  char *descriptor;            /* path of the descriptor libvirt picks, or NULL */
  char *nvram_template;        /* what libvirt copies into a missing NVRAM file, or NULL */
  GPtrArray *notes;            /* char*: how each file was decided */
  /* VsbFinding* (audit.h): what libvirt itself does with the definition that no QEMU command
   * line shows: libvirt-refuses (an error: libvirt will not define or start the domain, with
   * libvirt's own message), libvirt-version-unknown (an error: the outcome depends on a libvirt
   * version that could not be learnt). Merged into the audit by vsb_libvirt_resolved_apply. */
  GPtrArray *findings;
  guint64 libvirt_version;     /* the version the resolution modelled, 0 when none mattered */
} VsbLibvirtResolved;

/* entries: the descriptor list (fwsearch.h) libvirt would see; opts may be NULL (installed
 * libvirt asked when needed, VSB_LIBVIRT_NVRAM_DIR). VSB_ERROR_NO_MATCH with libvirt's own
 * message when autoselection finds no firmware ("Unable to find 'efi' firmware that is
 * compatible with the current configuration"); VSB_ERROR_INVALID for what vsboot cannot model
 * (an unknown loader format). What libvirt refuses and vsboot can name is a finding. */
VsbLibvirtResolved *vsb_libvirt_domain_resolve_full(const VsbLibvirtDomain *dom,
                                                    GPtrArray *entries,
                                                    const VsbLibvirtResolveOptions *opts,
                                                    GError **error);
/* The same with only nvram_dir (the installed libvirt is asked when needed). */
VsbLibvirtResolved *vsb_libvirt_domain_resolve(const VsbLibvirtDomain *dom, GPtrArray *entries,
                                               const char *nvram_dir, GError **error);
void vsb_libvirt_resolved_free(VsbLibvirtResolved *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbLibvirtResolved, vsb_libvirt_resolved_free)

/* Add the resolution's notes (first) and findings to an audit report of its command line, and
 * recompute the verdict: an error finding makes it "not enforced". */
void vsb_libvirt_resolved_apply(const VsbLibvirtResolved *res, VsbAuditReport *report);

/* Does the domain ask for Secure Boot? <loader secure='yes'>, or the firmware feature
 * secure-boot (or enrolled-keys, which libvirt only satisfies with Secure Boot firmware)
 * enabled. */
gboolean vsb_libvirt_domain_wants_secure_boot(const VsbLibvirtDomain *dom);

/* Audit a domain definition as libvirt will start it: resolve (opts), judge its command line
 * (audit_opts; firmware_entries must be set, self_name is set from the domain unless
 * not_running), apply the resolution's notes and findings. source names it in the report. */
VsbAuditReport *vsb_libvirt_domain_audit(const VsbLibvirtDomain *dom,
                                         const VsbLibvirtResolveOptions *opts,
                                         const VsbAuditOptions *audit_opts, gboolean not_running,
                                         const char *source, GError **error);

VSB_END_DECLS
