/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the firmware part of a libvirt domain for a provisioned VM, in three styles, each
 * pointing libvirt at the VM's own varstore (so the keys enrolled at provisioning stay in
 * force):
 *   auto      <os firmware='efi'> + <firmware><feature/></firmware>: libvirt (>= 7.2) picks the
 *             descriptor itself; the features named are exactly the chosen descriptor's, so
 *             libvirt's first match is the same file. <loader secure='yes'/> when SMM.
 *   explicit  <loader readonly='yes' secure='yes' type='pflash'>CODE</loader>,
 *             <nvram template=...>VARS</nvram>, <smm state='on'/> (libvirt >= 2.1; format
 *             attributes, needed for qcow2 only, from libvirt 9.2).
 *   legacy    libvirt < 2.1, which knew neither secure= nor <smm>: loader + nvram, and
 *             <qemu:commandline> appending "-global driver=cfi.pflash01,property=secure,value=on
 *             -machine smm=on" (QEMU merges repeated -machine options into one).
 * Built with libxml2's tree API. Reading domain XML back is the audit's business. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>
#include "vsboot/vm.h"

VSB_BEGIN_DECLS

#define VSB_LIBVIRT_QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

typedef enum {
  VSB_LIBVIRT_STYLE_AUTO,
  VSB_LIBVIRT_STYLE_EXPLICIT,
  VSB_LIBVIRT_STYLE_LEGACY,
} VsbLibvirtStyle;
int vsb_libvirt_style_from_name(const char *name); /* -1 when unknown */

typedef struct {
  VsbLibvirtStyle style;
  gboolean domain;          /* a complete minimal <domain>, else the fragments to paste */
  const char *domain_type;  /* <domain type=...>: "kvm" (NULL) or "qemu" (TCG) */
  guint memory_mib;         /* 0: 1024 */
  guint vcpus;              /* 0: 1 */
  const char *emulator;     /* NULL: /usr/bin/qemu-system-ARCH */
} VsbLibvirtXmlOptions;

/* The XML text. Without domain: the <os>, <features>, TPM <devices> and <qemu:commandline>
 * elements one after the other (each well-formed, to paste into an existing domain).
 * VSB_ERROR_UNSUPPORTED for what the style cannot express (e.g. qcow2 or stateless firmware
 * in the legacy style, combined flash with auto selection). */
char *vsb_libvirt_xml_build(const VsbVm *vm, const VsbLibvirtXmlOptions *opts, GError **error);

VSB_END_DECLS
