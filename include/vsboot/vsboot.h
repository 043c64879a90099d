/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the whole public API of libvsboot, UEFI Secure Boot for QEMU/KVM virtual machines.
 * A program includes this one header and links with `pkg-config --cflags --libs vsboot`.
 * Every header listed here is installed; nothing else is API. No OpenSSL or libxml2 type
 * appears in it: certificates and signatures are handed over as DER bytes or opaque handles.
 *
 * Until 1.0 the ABI may change at any minor release; the SONAME (libvsboot.so.0.MINOR) and
 * the symbol version (VSBOOT_0.MINOR) change with it. */
#pragma once

#include "vsboot/export.h"
#include "vsboot/version.h"
#include "vsboot/error.h"
#include "vsboot/guid.h"
#include "vsboot/file.h"

/* Firmware: descriptors, search, selection, lint, volumes. */
#include "vsboot/descriptor.h"
#include "vsboot/fwsearch.h"
#include "vsboot/fwselect.h"
#include "vsboot/fwcheck.h"
#include "vsboot/fv.h"

/* Variable stores, their variables and the Secure Boot state. */
#include "vsboot/varstore.h"
#include "vsboot/varjson.h"
#include "vsboot/siglist.h"
#include "vsboot/efivar.h"
#include "vsboot/sbjudge.h"
#include "vsboot/mscerts.h"
#include "vsboot/secureboot.h"
#include "vsboot/authvar.h"
#include "vsboot/rollover.h"
#include "vsboot/keys.h"

/* PE images and their Authenticode signatures. */
#include "vsboot/pe.h"
#include "vsboot/certificate.h"
#include "vsboot/authenticode.h"

/* Virtual machines: state, emitters, launch. */
#include "vsboot/vm.h"
#include "vsboot/vm-run.h"
#include "vsboot/qemu-argv.h"
#include "vsboot/libvirt-xml.h"
#include "vsboot/launch.h"

/* The audit and the readers it judges. */
#include "vsboot/qemu-cmdline.h"
#include "vsboot/libvirt-domain.h"
#include "vsboot/audit.h"
#include "vsboot/fleet.h"
