/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot audit, table-driven: each QEMU command line or libvirt domain must produce exactly the
 * listed finding ids and verdict. Fixtures are copies of Debian's /usr/share/OVMF and
 * /usr/share/AAVMF files made per test in a scratch directory (OVMF_VARS_4M.ms.fd: keys
 * enrolled, Secure Boot on; OVMF_VARS_4M.fd: setup mode), edited with the varstore API where a
 * case needs a variant (SecureBootEnable=0, no db, no dbx). Descriptors are Debian's own
 * (/usr/share/qemu/firmware) plus, for the SeaBIOS case, the memory descriptor in
 * tests/data/audit/firmware. */
#include "testutil.h"

#include "fired-elsewhere.h"

#include "vsboot/audit.h"
#include "vsboot/guid.h"
#include "vsboot/varstore.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVMF "/usr/share/OVMF/"
#define AAVMF "/usr/share/AAVMF/"

typedef enum { QEMU, XML, VM } Kind;

typedef struct {
  const char *name;
  Kind kind;
  const char *text;     /* command line or domain XML, with @PLACEHOLDERS@ */
  const char *ids;      /* the exact finding ids, space-separated, any order */
  gboolean enforced;
  const char *extra_fw_dir; /* a descriptor dir under tests/data/audit, searched after Debian's */
  /* The host's KVM as --host-kvm states it; NULL: "smm". Always stated, never probed: the
   * expectations come from the inputs, not from the host the tests run on. */
  const char *host_kvm;
} Case;

/* The configuration vsboot qemu-args emits (checked against the real output in /vm/ cases). */
#define GOOD_FLASH                                                                              \
  "-global driver=cfi.pflash01,property=secure,value=on "                                      \
  "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "                                \
  "-drive if=pflash,format=raw,unit=1,file=@VARS@"

#define XML_HEAD                                                                                \
  "<domain type='kvm'><name>guest</name><memory unit='KiB'>1048576</memory>"
#define XML_TAIL "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>"

static const Case cases[] = {
  /* ---- correct configurations: enforced (Debian's .ms.fd has only the placeholder dbx) */
  { "good-drive", QEMU, "qemu-system-x86_64 -machine q35,smm=on -accel tcg " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-blockdev-json", QEMU,
    "qemu-system-x86_64 "
    "-blockdev '{\"driver\":\"file\",\"filename\":\"@CODE@\",\"node-name\":\"c-st\",\"auto-read-only\":true}' "
    "-blockdev '{\"node-name\":\"c-fmt\",\"read-only\":true,\"driver\":\"raw\",\"file\":\"c-st\"}' "
    "-blockdev '{\"driver\":\"file\",\"filename\":\"@VARS@\",\"node-name\":\"v-st\",\"read-only\":false}' "
    "-machine pc-q35-7.2,smm=on,pflash0=c-fmt,pflash1=v-st "
    "-global driver=cfi.pflash01,property=secure,value=on",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-blockdev-keyval-inline-child", QEMU,
    "-M q35 -machine smm=on "
    "-blockdev driver=raw,node-name=code,read-only=on,file.driver=file,file.filename=@CODE@ "
    "-blockdev node-name=vars,driver=file,filename=@VARS@ "
    "-machine pflash0=code,pflash1=vars -global driver=cfi.pflash01,property=secure,value=on",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-drive-ifnone-double-dash", QEMU,
    "--machine type=q35,smm=on --enable-kvm "
    "--drive if=none,id=fw,format=raw,readonly=on,file=@CODE@ "
    "--drive if=none,id=nv,format=raw,file=@VARS@ --machine pflash0=fw,pflash1=nv "
    "--global driver=cfi.pflash01,property=secure,value=on",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-implicit-units", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,readonly=on,file=@CODE@ -drive if=pflash,format=raw,file=@VARS@",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-pflash-option", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly,file=@CODE@ -pflash @VARS@",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-readconfig", QEMU, "qemu-system-x86_64 -readconfig @CFG_GOOD@", "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-comma-in-path", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_COMMA_ESCAPED@",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "good-hardlinked-warning-only", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_LINK@",
    "dbx-placeholder varstore-hardlinked microsoft-2023-missing", TRUE },
  { "good-snapshot-warning-only", QEMU, "-snapshot -machine q35,smm=on " GOOD_FLASH,
    "dbx-placeholder snapshot-mode microsoft-2023-missing", TRUE },
  { "good-readonly-varstore-warning-only", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,readonly=on,file=@VARS@",
    "dbx-placeholder varstore-readonly microsoft-2023-missing", TRUE },
  { "aarch64-enforced-with-warning", QEMU,
    "qemu-system-aarch64 -machine virt -cpu max "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" AAVMF "AAVMF_CODE.ms.fd "
    "-drive if=pflash,format=raw,unit=1,file=@AAVMF_VARS@",
    "aarch64-no-smm dbx-placeholder microsoft-2023-missing", TRUE },

  /* ---- firmware */
  { "bios-beside-flash", QEMU,
    "qemu-system-x86_64 -machine q35,smm=on -bios /usr/share/seabios/bios-256k.bin " GOOD_FLASH,
    "bios-ignored dbx-placeholder microsoft-2023-missing", TRUE },
  { "bios-split-build", QEMU, "-machine q35,smm=on -bios " OVMF "OVMF_CODE.secboot.fd",
    "firmware-via-bios firmware-unknown-provenance", FALSE },
  { "bios-unified-ovmf", QEMU, "-machine q35 -bios /usr/share/qemu/OVMF.fd",
    "firmware-via-bios secure-boot-without-smm firmware-unknown-provenance", FALSE },
  { "unified-ovmf-own-copy", QEMU, "-machine q35 -drive if=pflash,format=raw,file=@UNIFIED@",
    "secure-boot-without-smm varstore-setup-mode firmware-unknown-provenance", FALSE },
  { "unified-ovmf-system-file", QEMU,
    "-machine q35 -drive if=pflash,format=raw,file=/usr/share/qemu/OVMF.fd",
    "secure-boot-without-smm varstore-setup-mode varstore-shared firmware-unknown-provenance",
    FALSE },
  { "no-uefi-firmware", QEMU, "-machine q35,smm=on -m 1G", "no-uefi-firmware", FALSE },
  { "seabios-descriptor", QEMU, "-machine q35 -bios /usr/share/seabios/bios-256k.bin",
    "firmware-no-secure-boot", FALSE, "firmware" },
  { "firmware-missing", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@DIR@/no-such-code.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "firmware-missing dbx-placeholder microsoft-2023-missing", FALSE },
  { "secure-boot-without-smm", QEMU,
    "-machine q35 -drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE_4M.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "secure-boot-without-smm dbx-placeholder microsoft-2023-missing", FALSE },
  { "unknown-provenance", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE_COPY@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", TRUE },
  /* A descriptor claiming SMM for a build without it: the binary decides. */
  { "descriptor-claims-smm-falsely", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE_4M.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "descriptor-mismatch secure-boot-without-smm dbx-placeholder microsoft-2023-missing", FALSE, "lying" },
  { "unknown-firmware", QEMU, "-machine q35 -bios @DIR@/random.bin", "firmware-unknown", FALSE },

  /* ---- machine, SMM, secure flash, code */
  { "machine-pc", QEMU, "-machine pc,smm=on " GOOD_FLASH, "machine-not-q35 dbx-placeholder microsoft-2023-missing", FALSE },
  { "machine-default", QEMU, GOOD_FLASH, "machine-not-q35 dbx-placeholder microsoft-2023-missing", FALSE },
  { "smm-off", QEMU, "-machine q35,smm=off " GOOD_FLASH, "smm-off dbx-placeholder microsoft-2023-missing", FALSE },
  { "smm-auto-under-kvm", QEMU, "-machine q35 -accel kvm " GOOD_FLASH,
    "smm-auto dbx-placeholder microsoft-2023-missing", TRUE },
  { "smm-auto-under-tcg", QEMU, "-machine q35 -accel tcg " GOOD_FLASH, "dbx-placeholder microsoft-2023-missing", TRUE },
  /* ---- the host's KVM: QEMU takes KVM whenever /dev/kvm opens, SMM or not */
  { "kvm-smm-on-host-without-smm", QEMU, "-machine q35,smm=on -accel kvm " GOOD_FLASH,
    "kvm-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "no-smm" },
  { "kvm-smm-on-host-with-smm", QEMU, "-machine q35,smm=on -accel kvm " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "smm" },
  { "kvm-smm-on-host-unknown", QEMU, "-machine q35,smm=on -accel kvm " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "unknown" },
  { "tcg-smm-on-host-without-smm", QEMU, "-machine q35,smm=on -accel tcg " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "no-smm" },
  { "tcg-smm-on-host-without-kvm", QEMU, "-machine q35,smm=on -accel tcg " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "absent" },
  { "kvm-smm-auto-host-without-smm", QEMU, "-machine q35 -enable-kvm " GOOD_FLASH,
    "smm-auto kvm-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "no-smm" },
  { "kvm-tcg-host-without-smm", QEMU, "-machine q35,smm=on,accel=kvm:tcg " GOOD_FLASH,
    "kvm-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "no-smm" },
  { "kvm-tcg-host-without-kvm", QEMU, "-machine q35,smm=on,accel=kvm:tcg " GOOD_FLASH,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "absent" },
  { "kvm-alone-host-without-kvm", QEMU, "-machine q35,smm=on -accel kvm " GOOD_FLASH,
    "kvm-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "absent" },
  { "kvm-smm-off-non-smm-firmware", QEMU,
    "-machine q35,smm=off -accel kvm "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE_4M.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "secure-boot-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "no-smm" },
  { "xml-kvm-host-without-smm", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>@CODE@</loader>"
    "<nvram template='" OVMF "OVMF_VARS_4M.ms.fd'>@VARS@</nvram></os>"
    "<features><acpi/><smm state='on'/></features>" XML_TAIL,
    "kvm-without-smm dbx-placeholder microsoft-2023-missing", FALSE, NULL, "no-smm" },
  { "xml-qemu-host-without-smm", XML,
    "<domain type='qemu'><name>guest</name><memory unit='KiB'>1048576</memory>"
    "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>@CODE@</loader>"
    "<nvram template='" OVMF "OVMF_VARS_4M.ms.fd'>@VARS@</nvram></os>"
    "<features><acpi/><smm state='on'/></features>" XML_TAIL,
    "dbx-placeholder microsoft-2023-missing", TRUE, NULL, "no-smm" },
  { "smm-off-flag-form", QEMU, "-machine q35,nosmm " GOOD_FLASH, "smm-off dbx-placeholder microsoft-2023-missing", FALSE },
  { "not-secure", QEMU,
    "-machine q35,smm=on -drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "global-short-form-ignored", QEMU,
    "-machine q35,smm=on -global cfi.pflash01.secure=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@",
    "varstore-not-secure global-ignored dbx-placeholder microsoft-2023-missing", FALSE },
  { "secure-overridden-later", QEMU,
    "-machine q35,smm=on " GOOD_FLASH " -global driver=cfi.pflash01,property=secure,value=off",
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "code-writable", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,file=@CODE@ -drive if=pflash,format=raw,unit=1,file=@VARS@",
    "code-writable dbx-placeholder microsoft-2023-missing", FALSE },

  /* ---- the varstore file */
  { "varstore-missing-flash", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@",
    "varstore-missing", FALSE },
  { "varstore-missing-file", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@DIR@/nonexistent_VARS.fd",
    "varstore-missing", FALSE },
  /* Not a regular file: one finding, no "2 names" from a directory's link count, no o+w
   * from /dev/null's mode. */
  { "varstore-directory", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@DIR@",
    "varstore-unreadable", FALSE },
  { "varstore-char-device", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=/dev/null",
    "varstore-unreadable", FALSE },
  { "varstore-template-shared", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=" OVMF "OVMF_VARS_4M.ms.fd",
    "varstore-shared dbx-placeholder microsoft-2023-missing", FALSE },
  { "world-writable", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_WW@",
    "varstore-world-writable dbx-placeholder microsoft-2023-missing", FALSE },
  /* The store's directory is writable by others: the store can be swapped while the VM is off. */
  { "state-dir-writable", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_WWDIR@",
    "state-dir-writable dbx-placeholder microsoft-2023-missing", FALSE },
  /* A pending fault-tolerant write the firmware may replay over the variables: uncertain. */
  { "secure-boot-uncertain", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_FTW@",
    "secure-boot-uncertain dbx-placeholder microsoft-2023-missing", FALSE },
  /* The 2023 CAs next to the 2011 ones: no rollover warning. */
  { "microsoft-2023-present", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_2023@",
    "dbx-placeholder", TRUE },
  { "snapshot-drive-option", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,snapshot=on,file=@VARS@",
    "snapshot-mode dbx-placeholder microsoft-2023-missing", TRUE },
  { "varstore-invalid", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_JUNK@",
    "varstore-invalid", FALSE },
  /* A blank (all-zero) flash is formatted empty by the firmware: setup mode. */
  { "varstore-blank", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_ZERO@",
    "varstore-setup-mode", FALSE },
  /* Debian's 2M SMM build (X64 PEI) hangs while S3 is offered; vsboot qemu-args turns it off. */
  { "smm-s3-hang", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE.secboot.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_2M@",
    "smm-s3-hang firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", FALSE },
  { "smm-s3-off", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE.secboot.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_2M@ -global ICH9-LPC.disable_s3=1",
    "firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", TRUE },
  { "smm-s3-on-again", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=" OVMF "OVMF_CODE.secboot.fd "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_2M@ -global ICH9-LPC.disable_s3=1 "
    "-global driver=ICH9-LPC,property=disable_s3,value=0",
    "smm-s3-hang firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", FALSE },
  { "size-mismatch", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_2M@",
    "size-mismatch dbx-placeholder microsoft-2023-missing", FALSE },

  { "varstore-qcow2", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=qcow2,unit=1,file=@VARS_QCOW2@",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "varstore-qcow2-read-as-raw", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_QCOW2@",
    "format-mismatch", FALSE },
  { "varstore-raw-opened-as-qcow2", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=qcow2,unit=1,file=@VARS@",
    "format-mismatch", FALSE },

  /* ---- the variables */
  { "setup-mode", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_SETUP@",
    "varstore-setup-mode", FALSE },
  { "secure-boot-disabled", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_DISABLED@",
    "secure-boot-disabled dbx-placeholder microsoft-2023-missing", FALSE },
  { "db-empty", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_NODB@",
    "db-empty dbx-placeholder microsoft-2023-missing", TRUE },
  { "dbx-empty", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS_NODBX@",
    "dbx-empty microsoft-2023-missing", TRUE },

  /* ---- direct kernel boot, confidential guests */
  { "direct-kernel-boot", QEMU, "-machine q35,smm=on " GOOD_FLASH " -kernel @DIR@/vmlinuz -append console=ttyS0",
    "direct-kernel-boot dbx-placeholder microsoft-2023-missing", FALSE },
  { "direct-kernel-boot-sev", QEMU,
    "-machine q35,smm=on,confidential-guest-support=sev0 "
    "-object sev-guest,id=sev0,cbitpos=47,reduced-phys-bits=1 " GOOD_FLASH
    " -kernel @DIR@/vmlinuz",
    "direct-kernel-boot direct-kernel-boot-confidential confidential-guest dbx-placeholder microsoft-2023-missing", FALSE },
  { "tdx-json-object", QEMU,
    "-machine q35,smm=on,memory-encryption=tdx0 -object '{\"qom-type\":\"tdx-guest\",\"id\":\"tdx0\"}' "
    GOOD_FLASH " -kernel @DIR@/vmlinuz",
    "direct-kernel-boot direct-kernel-boot-confidential confidential-guest dbx-placeholder microsoft-2023-missing", FALSE },

  /* ---- options that change which file backs the flash after the -drive that names it
   * (each checked against QEMU 7.2's "info block"/"info qtree") */
  { "set-drive-file", QEMU,
    "-machine q35,smm=on " GOOD_FLASH ",id=pf1 -set drive.pf1.file=@VARS_SETUP@",
    "varstore-setup-mode", FALSE },
  { "set-drive-file-prefix", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=file:@VARS_SETUP@",
    "varstore-setup-mode", FALSE },
  { "set-drive-if-swaps-varstore", QEMU,
    "-machine q35,smm=on " GOOD_FLASH ",id=a -drive if=none,id=b,format=raw,file=@VARS_SETUP@ "
    "-set drive.a.if=none -set drive.b.if=pflash -set drive.b.unit=1",
    "varstore-setup-mode", FALSE },
  { "set-drive-none-made-pflash", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=none,id=nv,format=raw,file=@VARS@ -set drive.nv.if=pflash -set drive.nv.unit=1",
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "set-global-secure-off", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on,id=sec "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,file=@VARS@ -set global.sec.value=off",
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "set-device-becomes-loader", QEMU,
    "-machine q35,smm=on " GOOD_FLASH " -device virtio-rng-pci,id=rng -set device.rng.driver=loader",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },
  { "readconfig-drive-set", QEMU, "-readconfig @CFG_GOOD@ -set drive.vars.file=@VARS_SETUP@",
    "varstore-setup-mode", FALSE },
  { "readconfig-global-machine-pflash", QEMU,
    "-blockdev driver=file,node-name=c-st,filename=@CODE@,read-only=on "
    "-blockdev driver=raw,node-name=c-fmt,file=c-st,read-only=on "
    "-blockdev driver=file,node-name=v-st,filename=@VARS@ "
    "-blockdev driver=raw,node-name=v-fmt,file=v-st -readconfig @CFG_MACHINE@",
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "machine-pflash1-blockdev-chain-setup", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-blockdev '{\"driver\":\"file\",\"filename\":\"@CODE@\",\"node-name\":\"c\",\"read-only\":true}' "
    "-blockdev driver=file,node-name=good,filename=@VARS@ "
    "-blockdev driver=file,node-name=setup,filename=@VARS_SETUP@ "
    "-blockdev driver=raw,node-name=v-fmt,file=setup -machine pflash0=c,pflash1=v-fmt",
    "varstore-setup-mode", FALSE },
  { "machine-kernel-property", QEMU, "-machine q35,smm=on,kernel=@DIR@/vmlinuz " GOOD_FLASH,
    "direct-kernel-boot dbx-placeholder microsoft-2023-missing", FALSE },
  /* What could change the firmware setup but is not modelled: never silently enforced. */
  { "unmodeled-raw-offset", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive if=pflash,format=raw,unit=1,offset=0,file=@VARS@",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },
  { "unmodeled-json-filename", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-drive 'if=pflash,format=raw,unit=1,file=json:{\"driver\":\"file\",,\"filename\":\"@VARS@\"}'",
    "option-unmodeled varstore-unreadable", FALSE },
  { "unmodeled-nbd-node", QEMU,
    "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=@CODE@ "
    "-blockdev driver=nbd,node-name=n,server.type=inet,server.host=localhost,server.port=10809 "
    "-blockdev driver=raw,node-name=v,file=n -machine pflash1=v",
    "option-unmodeled varstore-unreadable", FALSE },
  { "unmodeled-pflash-global", QEMU,
    "-machine q35,smm=on " GOOD_FLASH " -global driver=cfi.pflash01,property=num-blocks,value=8",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },
  { "unmodeled-generic-loader", QEMU,
    "-machine q35,smm=on " GOOD_FLASH " -device loader,file=@DIR@/vmlinuz,cpu-num=0",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },
  { "unmodeled-incoming", QEMU, "-machine q35,smm=on " GOOD_FLASH " -incoming defer",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },
  { "unmodeled-set-accel", QEMU,
    "-machine q35,smm=on " GOOD_FLASH " -accel kvm,id=a -set accel.a.accel=tcg",
    "option-unmodeled dbx-placeholder microsoft-2023-missing", FALSE },

  /* ---- libvirt: autoselection, resolved with Debian's descriptors as libvirt would */
  { "xml-auto-enrolled", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/><feature enabled='yes' name='secure-boot'/></firmware>"
    "<loader secure='yes'/></os><features><acpi/></features>" XML_TAIL,
    "varstore-from-template dbx-placeholder microsoft-2023-missing", TRUE },
  { "xml-auto-plain-efi", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>" XML_TAIL,
    "varstore-from-template dbx-placeholder microsoft-2023-missing", TRUE },
  { "xml-auto-no-secboot", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='no' name='secure-boot'/></firmware></os>" XML_TAIL,
    "varstore-from-template secure-boot-without-smm varstore-setup-mode", FALSE },
  { "xml-auto-smm-off", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>"
    "<features><smm state='off'/></features>" XML_TAIL,
    "varstore-from-template secure-boot-without-smm varstore-setup-mode", FALSE },
  { "xml-auto-existing-nvram", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>"
    "<nvram>@VARS_SETUP@</nvram></os>" XML_TAIL,
    "varstore-setup-mode", FALSE },
  /* Debian's 2M SMM build: libvirt offers S3 unless <pm> turns it off. */
  { "xml-explicit-2m-s3", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>" OVMF "OVMF_CODE.secboot.fd</loader>"
    "<nvram template='" OVMF "OVMF_VARS.ms.fd'>@VARS_2M@</nvram></os>"
    "<features><acpi/><smm state='on'/></features>" XML_TAIL,
    "smm-s3-hang firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-explicit-2m-s3-off", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>" OVMF "OVMF_CODE.secboot.fd</loader>"
    "<nvram template='" OVMF "OVMF_VARS.ms.fd'>@VARS_2M@</nvram></os>"
    "<features><acpi/><smm state='on'/></features>"
    "<pm><suspend-to-mem enabled='no'/></pm>" XML_TAIL,
    "firmware-unknown-provenance dbx-placeholder microsoft-2023-missing", TRUE },
  { "xml-explicit-good", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>@CODE@</loader>"
    "<nvram template='" OVMF "OVMF_VARS_4M.ms.fd'>@VARS@</nvram></os>"
    "<features><acpi/><smm state='on'/></features>" XML_TAIL,
    "dbx-placeholder microsoft-2023-missing", TRUE },
  { "xml-explicit-not-secure", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' type='pflash'>@CODE@</loader><nvram>@VARS@</nvram></os>"
    "<features><smm state='on'/></features>" XML_TAIL,
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-explicit-smm-off", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' type='pflash'>@CODE@</loader><nvram>@VARS@</nvram></os>"
    "<features><smm state='off'/></features>" XML_TAIL,
    "smm-off varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-explicit-secure-smm-off", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes' secure='yes' type='pflash'>@CODE@</loader><nvram>@VARS@</nvram></os>"
    "<features><smm state='off'/></features>" XML_TAIL,
    "libvirt-refuses smm-off dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-loader-without-type-is-rom", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader readonly='yes'>@CODE@</loader><nvram>@VARS@</nvram></os>"
    "<features><smm state='on'/></features>" XML_TAIL,
    "firmware-via-bios", FALSE },
  { "xml-rom-loader", XML,
    XML_HEAD "<os><type arch='x86_64' machine='q35'>hvm</type>"
    "<loader type='rom'>" OVMF "OVMF_CODE.secboot.fd</loader></os>" XML_TAIL,
    "firmware-via-bios firmware-unknown-provenance smm-auto", FALSE },
  { "xml-direct-kernel", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>"
    "<nvram>@VARS@</nvram><kernel>@DIR@/vmlinuz</kernel><cmdline>console=ttyS0</cmdline></os>" XML_TAIL,
    "direct-kernel-boot dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-qemu-commandline-undoes-secure", XML,
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>guest</name>"
    "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware><nvram>@VARS@</nvram></os>"
    "<qemu:commandline><qemu:arg value='-global'/>"
    "<qemu:arg value='driver=cfi.pflash01,property=secure,value=off'/></qemu:commandline></domain>",
    "varstore-not-secure dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-sev-kernel", XML,
    XML_HEAD "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>"
    "<nvram>@VARS@</nvram><kernel>@DIR@/vmlinuz</kernel></os>"
    "<launchSecurity type='sev'><policy>0x0003</policy><cbitpos>47</cbitpos></launchSecurity>" XML_TAIL,
    "direct-kernel-boot direct-kernel-boot-confidential confidential-guest dbx-placeholder microsoft-2023-missing", FALSE },
  { "xml-aarch64-auto", XML,
    "<domain type='qemu'><name>arm</name><os firmware='efi'><type arch='aarch64' machine='virt'>hvm</type>"
    "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware></os></domain>",
    "varstore-from-template aarch64-no-smm dbx-placeholder microsoft-2023-missing", TRUE },

  /* ---- what vsboot itself provisions and emits */
  { "vm-provisioned-enrolled", VM, "--enrolled-keys", "dbx-placeholder", TRUE },
  { "vm-qemu-args-blockdev", QEMU, "@QEMU_ARGS@", "dbx-placeholder", TRUE },
  { "vm-qemu-args-legacy-drive", QEMU, "@QEMU_ARGS_31@", "dbx-placeholder", TRUE },
};

/* ------------------------------------------------------------------------------------------ */

static char *
copy_file(const char *from, const char *to, int mode)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(from, &data, &len, &error));
  vsb_test_write_file(to, data, (gssize)len);
  g_assert_cmpint(g_chmod(to, mode), ==, 0);
  return g_strdup(to);
}

/* A copy of the enrolled 4M template, changed by edit. */
static char *
edited_vars(const char *dir, const char *name, void (*edit)(VsbVarstore *))
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) store = vsb_varstore_load(OVMF "OVMF_VARS_4M.ms.fd", &error);
  g_assert_no_error(error);
  edit(store);
  g_assert_true(vsb_varstore_save(store, path, 0600, FALSE, &error));
  g_assert_no_error(error);
  return g_steal_pointer(&path);
}

static void
edit_disable(VsbVarstore *s)
{
  guint8 zero = 0;
  vsb_varstore_set(s, vsb_variable_new("SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE,
                                       0x03, &zero, 1));
}

static void
edit_no_db(VsbVarstore *s)
{
  g_assert_true(vsb_varstore_delete(s, "db", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE));
}

static void
edit_no_dbx(VsbVarstore *s)
{
  g_assert_true(vsb_varstore_delete(s, "dbx", &VSB_GUID_EFI_IMAGE_SECURITY_DATABASE));
}

static char *
qemu_args_for(const char *dir, const char *version)
{
  g_autofree char *state = g_build_filename(dir, "state", NULL);
  if (!g_file_test(state, G_FILE_TEST_IS_DIR)) {
    g_assert_cmpint(g_mkdir(state, 0755), ==, 0);
    g_autofree char *out = NULL, *err = NULL;
    int rc = vsb_test_run(&out, &err, "provision", "vm", "--state-dir", state, "--enrolled-keys",
                          "--firmware-dir", "/usr/share/qemu/firmware", NULL);
    g_test_message("provision: %s%s", out, err);
    g_assert_cmpint(rc, ==, 0);
  }
  g_autofree char *out = NULL, *err = NULL;
  int rc = version ? vsb_test_run(&out, &err, "qemu-args", "vm", "--state-dir", state,
                                  "--qemu-version", version, NULL)
                   : vsb_test_run(&out, &err, "qemu-args", "vm", "--state-dir", state, NULL);
  g_assert_cmpint(rc, ==, 0);
  g_strstrip(out);
  g_test_message("qemu-args%s%s: %s", version ? " --qemu-version " : "", version ? version : "",
                 out);
  /* -blockdev for QEMU >= 4.0, -drive if=pflash before. */
  g_assert_nonnull(strstr(out, version ? "-drive if=pflash" : "-blockdev"));
  return g_strdup_printf("qemu-system-x86_64 -accel tcg %s", out);
}

/* The value of @KEY@, making its file in dir on first use. */
static char *
placeholder(const char *key, const char *dir)
{
  g_autofree char *p = NULL;
#define IN_DIR(name) (p = g_build_filename(dir, name, NULL))
  if (strcmp(key, "DIR") == 0)
    return g_strdup(dir);
  if (strcmp(key, "CODE") == 0)
    return g_strdup(OVMF "OVMF_CODE_4M.secboot.fd");
  if (strcmp(key, "CODE_COPY") == 0)
    return copy_file(OVMF "OVMF_CODE_4M.secboot.fd", IN_DIR("my-ovmf-code.fd"), 0644);
  if (strcmp(key, "VARS") == 0)
    return copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("guest_VARS.fd"), 0600);
  if (strcmp(key, "VARS_QCOW2") == 0) {
    vsb_test_require_tool("qemu-img");
    const char *conv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                           OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("q_VARS.qcow2"), NULL };
    g_assert_cmpint(vsb_test_spawn(conv, NULL, NULL, NULL), ==, 0);
    return g_steal_pointer(&p);
  }
  if (strcmp(key, "UNIFIED") == 0)
    return copy_file("/usr/share/qemu/OVMF.fd", IN_DIR("vm-OVMF.fd"), 0600);
  if (strcmp(key, "VARS_SETUP") == 0)
    return copy_file(OVMF "OVMF_VARS_4M.fd", IN_DIR("setup_VARS.fd"), 0600);
  if (strcmp(key, "VARS_2M") == 0)
    return copy_file(OVMF "OVMF_VARS.ms.fd", IN_DIR("2m_VARS.fd"), 0600);
  if (strcmp(key, "VARS_WW") == 0)
    return copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("ww_VARS.fd"), 0666);
  if (strcmp(key, "VARS_WWDIR") == 0) {
    g_autofree char *shared = g_build_filename(dir, "shared-dir", NULL);
    g_assert_cmpint(g_mkdir(shared, 0700), ==, 0);
    g_assert_cmpint(chmod(shared, 0777), ==, 0);
    return copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("shared-dir/vm_VARS.fd"), 0600);
  }
  if (strcmp(key, "VARS_FTW") == 0) {
    /* A byte in the FTW write queue (4M layout: working block at 0x41000, queue after its
     * 32-byte header): an interrupted write the firmware would replay. */
    char *f = copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("ftw_VARS.fd"), 0600);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(f, &data, &len, NULL));
    data[0x41000 + 0x20] = 0x00;
    vsb_test_write_file(f, data, (gssize)len);
    return f;
  }
  if (strcmp(key, "VARS_2023") == 0) {
    char *f = copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("ms2023_VARS.fd"), 0600);
    g_autofree char *data_dir = g_build_filename(g_getenv("VSB_SOURCE_ROOT"), "data", NULL);
    g_autofree char *env = g_strdup_printf("VSB_DATA_DIR=%s", data_dir);
    const char *argv[] = { vsb_test_vsboot(), "vars", "enroll", "--in-place", f, "--microsoft",
                           "2023", NULL };
    const char *envp[] = { env, NULL };
    g_assert_cmpint(vsb_test_spawn(argv, envp, NULL, NULL), ==, 0);
    return f;
  }
  if (strcmp(key, "VARS_COMMA_ESCAPED") == 0) {
    g_free(copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("a,b_VARS.fd"), 0600));
    g_autofree char *esc = g_build_filename(dir, "a,,b_VARS.fd", NULL);
    return g_steal_pointer(&esc);
  }
  if (strcmp(key, "VARS_LINK") == 0) {
    char *f = copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("linked_VARS.fd"), 0600);
    g_autofree char *other = g_build_filename(dir, "other-vm_VARS.fd", NULL);
    g_assert_cmpint(link(f, other), ==, 0);
    return f;
  }
  if (strcmp(key, "VARS_ZERO") == 0) {
    g_autofree guint8 *zero = g_malloc0(540672);
    vsb_test_write_file(IN_DIR("zero_VARS.fd"), zero, 540672);
    return g_steal_pointer(&p);
  }
  if (strcmp(key, "VARS_JUNK") == 0) {
    g_autofree guint8 *junk = g_malloc(540672);
    for (gsize i = 0; i < 540672; i++)
      junk[i] = (guint8)g_test_rand_int();
    vsb_test_write_file(IN_DIR("junk_VARS.fd"), junk, 540672);
    return g_steal_pointer(&p);
  }
  if (strcmp(key, "VARS_DISABLED") == 0)
    return edited_vars(dir, "disabled_VARS.fd", edit_disable);
  if (strcmp(key, "VARS_NODB") == 0)
    return edited_vars(dir, "nodb_VARS.fd", edit_no_db);
  if (strcmp(key, "VARS_NODBX") == 0)
    return edited_vars(dir, "nodbx_VARS.fd", edit_no_dbx);
  if (strcmp(key, "AAVMF_VARS") == 0)
    return copy_file(AAVMF "AAVMF_VARS.ms.fd", IN_DIR("arm_VARS.fd"), 0600);
  if (strcmp(key, "CFG_GOOD") == 0) {
    g_autofree char *vars = copy_file(OVMF "OVMF_VARS_4M.ms.fd", IN_DIR("cfg_VARS.fd"), 0600);
    g_autofree char *text = g_strdup_printf(
      "# qemu config file\n\n[machine]\n  type = \"q35\"\n  smm = \"on\"\n\n"
      "[global]\n  driver = \"cfi.pflash01\"\n  property = \"secure\"\n  value = \"on\"\n\n"
      "[drive]\n  if = \"pflash\"\n  format = \"raw\"\n  unit = \"0\"\n  readonly = \"on\"\n"
      "  file = \"%s\"\n\n[drive \"vars\"]\n  if = \"pflash\"\n  format = \"raw\"\n"
      "  unit = \"1\"\n  file = \"%s\"\n",
      OVMF "OVMF_CODE_4M.secboot.fd", vars);
    g_free(p);
    vsb_test_write_file(IN_DIR("vm.cfg"), text, -1);
    return g_steal_pointer(&p);
  }
  if (strcmp(key, "CFG_MACHINE") == 0) {
    /* [machine] names the -blockdev nodes; [global] turns the secure flash off again. */
    vsb_test_write_file(IN_DIR("machine.cfg"),
                        "[machine]\n  type = \"q35\"\n  smm = \"on\"\n  pflash0 = \"c-fmt\"\n"
                        "  pflash1 = \"v-fmt\"\n\n[global]\n  driver = \"cfi.pflash01\"\n"
                        "  property = \"secure\"\n  value = \"on\"\n\n[global]\n"
                        "  driver = \"cfi.pflash01\"\n  property = \"secure\"\n"
                        "  value = \"off\"\n", -1);
    return g_steal_pointer(&p);
  }
  if (strcmp(key, "QEMU_ARGS") == 0)
    return qemu_args_for(dir, NULL);
  if (strcmp(key, "QEMU_ARGS_31") == 0)
    return qemu_args_for(dir, "3.1");
  vsb_test_fail("unknown placeholder @%s@", key);
#undef IN_DIR
}

static char *
expand(const char *text, const char *dir)
{
  GString *out = g_string_new(NULL);
  const char *p = text;
  while (*p) {
    const char *at = strchr(p, '@');
    const char *end = at ? strchr(at + 1, '@') : NULL;
    if (at == NULL || end == NULL) {
      g_string_append(out, p);
      break;
    }
    g_string_append_len(out, p, at - p);
    g_autofree char *key = g_strndup(at + 1, (gsize)(end - at - 1));
    g_autofree char *value = placeholder(key, dir);
    g_string_append(out, value);
    p = end + 1;
  }
  return g_string_free(out, FALSE);
}

static int
cmp_str(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
normalise(GPtrArray *ids)
{
  g_ptr_array_sort(ids, cmp_str);
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf(s, "%s%s", i ? " " : "", (char *)ids->pdata[i]);
  return g_strdup(s->str);
}

static void
run_case(gconstpointer data)
{
  const Case *c = data;
  g_autofree char *dir = vsb_test_tmpdir();
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *extra = c->extra_fw_dir
                             ? g_build_filename(vsb_test_data_dir(), "audit", c->extra_fw_dir, NULL)
                             : NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup("audit"));

  if (strcmp(c->name, "unknown-firmware") == 0) {
    guint8 junk[65536];
    for (gsize i = 0; i < sizeof(junk); i++)
      junk[i] = (guint8)g_test_rand_int();
    g_autofree char *f = g_build_filename(dir, "random.bin", NULL);
    vsb_test_write_file(f, junk, sizeof(junk));
  }
  if (strstr(c->text, "vmlinuz")) {
    g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
    vsb_test_write_file(k, "not a kernel", -1);
  }

  if (c->kind == QEMU) {
    g_autofree char *line = expand(c->text, dir);
    g_test_message("command line: %s", line);
    g_ptr_array_add(args, g_strdup("--qemu-cmdline"));
    g_ptr_array_add(args, g_steal_pointer(&line));
  } else if (c->kind == XML) {
    g_autofree char *xml = expand(c->text, dir);
    g_autofree char *file = g_build_filename(dir, "domain.xml", NULL);
    vsb_test_write_file(file, xml, -1);
    g_test_message("domain: %s", xml);
    g_ptr_array_add(args, g_strdup("--libvirt-xml"));
    g_ptr_array_add(args, g_strdup(file));
    g_ptr_array_add(args, g_strdup("--nvram-dir"));
    g_ptr_array_add(args, g_strdup(dir));
  } else {
    g_autofree char *state = g_build_filename(dir, "state", NULL);
    g_assert_cmpint(g_mkdir(state, 0755), ==, 0);
    g_assert_cmpint(vsb_test_run(&out, &err, "provision", "vm", "--state-dir", state, c->text,
                                 "--firmware-dir", "/usr/share/qemu/firmware", NULL), ==, 0);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    g_ptr_array_add(args, g_strdup("vm"));
    g_ptr_array_add(args, g_strdup("--state-dir"));
    g_ptr_array_add(args, g_steal_pointer(&state));
  }
  g_ptr_array_add(args, g_strdup("--firmware-dir"));
  g_ptr_array_add(args, g_strdup("/usr/share/qemu/firmware"));
  if (extra) {
    g_ptr_array_add(args, g_strdup("--firmware-dir"));
    g_ptr_array_add(args, g_strdup(extra));
  }
  g_ptr_array_add(args, g_strdup("--host-kvm"));
  g_ptr_array_add(args, g_strdup(c->host_kvm ? c->host_kvm : "smm"));
  g_ptr_array_add(args, g_strdup("--no-process-scan"));
  g_ptr_array_add(args, g_strdup("--json"));
  g_ptr_array_add(args, NULL);
  int rc = vsb_test_runv((const char *const *)args->pdata, &out, &err);
  g_test_message("exit %d\n%s%s", rc, out, err);
  g_assert_cmpint(rc, ==, c->enforced ? 0 : 1);

  g_autoptr(JsonNode) node = vsb_test_parse_json(out);
  JsonObject *root = json_node_get_object(node);
  g_assert_cmpstr(json_object_get_string_member(root, "verdict"), ==,
                  c->enforced ? "enforced" : "not-enforced");
  JsonArray *findings = json_object_get_array_member(root, "findings");
  g_autoptr(GPtrArray) got = g_ptr_array_new();
  for (guint i = 0; i < json_array_get_length(findings); i++) {
    JsonObject *f = json_array_get_object_element(findings, i);
    /* Every finding is complete: id, severity, message, evidence; a fix unless info. */
    const char *sev = json_object_get_string_member(f, "severity");
    g_assert_true(g_strv_contains((const char *const[]){ "error", "warning", "info", NULL }, sev));
    g_assert_cmpuint(strlen(json_object_get_string_member(f, "message")), >, 10);
    g_assert_nonnull(json_object_get_string_member(f, "evidence"));
    if (strcmp(sev, "info") != 0)
      g_assert_nonnull(json_object_get_string_member(f, "fix"));
    g_ptr_array_add(got, (gpointer)json_object_get_string_member(f, "id"));
  }
  g_autofree char *got_s = normalise(got);
  g_auto(GStrv) want_v = g_strsplit(c->ids, " ", -1);
  g_autoptr(GPtrArray) want = g_ptr_array_new();
  for (char **w = want_v; *w; w++)
    if (**w)
      g_ptr_array_add(want, *w);
  g_autofree char *want_s = normalise(want);
  g_assert_cmpstr(got_s, ==, want_s);

  /* The text form says the same. */
  g_ptr_array_remove_index(args, args->len - 2); /* --json */
  g_autofree char *text = NULL;
  int rc2 = vsb_test_runv((const char *const *)args->pdata, &text, NULL);
  g_assert_cmpint(rc2, ==, rc);
  g_assert_nonnull(strstr(text, c->enforced ? "Secure Boot is ENFORCED" : "Secure Boot is NOT ENFORCED"));
  for (guint i = 0; i < want->len; i++)
    g_assert_nonnull(strstr(text, want->pdata[i]));
}

static gboolean
case_fires(const char *id)
{
  for (gsize j = 0; j < G_N_ELEMENTS(cases); j++) {
    g_auto(GStrv) ids = g_strsplit(cases[j].ids, " ", -1);
    if (g_strv_contains((const char *const *)ids, id))
      return TRUE;
  }
  return FALSE;
}

/* Every finding id of the audit's rule table fires in at least one case above (run_case
 * asserts each case's exact ids), or in the test-audit-cli case fired-elsewhere.h names for it;
 * and every id the cases expect is one the table has. */
static void
test_coverage(void)
{
  gsize n = 0;
  const VsbAuditRule *rules = vsb_audit_rules(&n);
  g_assert_cmpuint(n, >=, 40);
  for (gsize i = 0; i < n; i++) {
    gboolean elsewhere = FALSE;
    for (gsize k = 0; k < G_N_ELEMENTS(vsb_audit_fired_elsewhere); k++)
      elsewhere |= strcmp(vsb_audit_fired_elsewhere[k].id, rules[i].id) == 0;
    if (!case_fires(rules[i].id) && !elsewhere)
      vsb_test_fail("no case makes %s fire: add a row to cases[] (or a test-audit-cli case "
                    "listed in fired-elsewhere.h)", rules[i].id);
    g_assert_nonnull(rules[i].summary);
    g_assert_true(rules[i].fix != NULL || rules[i].severity == VSB_SEVERITY_INFO);
  }
  for (gsize k = 0; k < G_N_ELEMENTS(vsb_audit_fired_elsewhere); k++)
    g_assert_nonnull(vsb_audit_rule_find(vsb_audit_fired_elsewhere[k].id));
  for (gsize j = 0; j < G_N_ELEMENTS(cases); j++) {
    g_auto(GStrv) ids = g_strsplit(cases[j].ids, " ", -1);
    for (char **id = ids; *id; id++)
      if (**id && vsb_audit_rule_find(*id) == NULL)
        vsb_test_fail("case %s expects %s, which no rule has", cases[j].name, *id);
  }
  g_assert_cmpuint(G_N_ELEMENTS(cases), >=, 25);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/audit/table/coverage", test_coverage);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *path = g_strdup_printf("/audit/table/%s", cases[i].name);
    g_test_add_data_func(path, &cases[i], run_case);
  }
  return g_test_run();
}
