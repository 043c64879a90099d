/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot boot-test payload: a minimal EFI application that reports what the firmware says about
 * Secure Boot, on the console (OVMF mirrors ConOut to the serial port), then powers the machine
 * off so QEMU exits. The boot test looks for the marker line; the firmware only gets to run this
 * code when it accepted the image. */
#include <efi.h>
#include <efilib.h>

#define MARKER L"VSBOOT-PAYLOAD"

/* A one-byte global variable (SecureBoot, SetupMode) as a number, or -1 when it is absent. */
static INTN
read_u8_var(CHAR16 *name)
{
  EFI_GUID global = EFI_GLOBAL_VARIABLE;
  UINT8 value = 0;
  UINTN size = sizeof(value);
  UINT32 attributes = 0;
  EFI_STATUS status = uefi_call_wrapper(RT->GetVariable, 5, name, &global, &attributes, &size,
                                        &value);
  if (EFI_ERROR(status) || size != 1)
    return -1;
  return value;
}

EFI_STATUS
/* crt0-efi-x86_64 calls this with the SysV ABI after relocating the image. */
efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
  InitializeLib(image, system_table);

  INTN secure_boot = read_u8_var(L"SecureBoot");
  INTN setup_mode = read_u8_var(L"SetupMode");
  /* One line, so the watcher sees it complete: marker, then the values. */
  Print(L"\r\n" MARKER L" SecureBoot=%d SetupMode=%d\r\n", secure_boot, setup_mode);

  uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
  return EFI_SUCCESS;
}
