#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Make the small seed inputs of fuzz/fuzz-varstore.c from Debian's OVMF_VARS_4M.snakeoil.fd:
cut-down variable volumes (FvLength 0x3000) holding a few real records in several states,
so that every seed stays far below 64 KiB. Usage: make-fuzz-seeds.py OUTDIR"""
import struct, sys, zlib

SRC = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
NVDATA = bytes.fromhex("8d2bf1ff96768b4ca9852747075b4f50")
AUTH = bytes.fromhex("782cf3aa7b949a43a1802e144ec37792")
PLAIN = bytes.fromhex("1636cfdd75326441 98b6fe85707ffe7d".replace(" ", ""))
FTW = bytes.fromhex("2b29589e687c7d49a0ce6500fd9f1b95")

def records(img, offsets):
    out = []
    for off in offsets:
        ns, ds = struct.unpack_from("<II", img, off + 36)
        out.append(img[off:off + 60 + ns + ds])
    return out

def volume(recs, auth=True, fv_len=0x3000, region=0x2000):
    v = bytearray(b"\xff" * fv_len)
    hdr = bytearray(0x48)
    hdr[0x10:0x20] = NVDATA
    struct.pack_into("<QIIHHHBB", hdr, 0x20, fv_len, 0x4856465F, 0x0004FEFF, 0x48, 0, 0, 0, 2)
    struct.pack_into("<IIII", hdr, 0x38, fv_len // 0x1000, 0x1000, 0, 0)
    s = sum(struct.unpack("<36H", bytes(hdr))) & 0xFFFF
    struct.pack_into("<H", hdr, 0x32, (0x10000 - s) & 0xFFFF)
    v[0:0x48] = hdr
    v[0x48:0x64] = (AUTH if auth else PLAIN) + struct.pack("<IBBHI", region - 0x48, 0x5A, 0xFE, 0, 0)
    off = 0x64
    for r in recs:
        v[off:off + len(r)] = r
        off = (off + len(r) + 3) & ~3
    assert off <= region
    ftw = bytearray(FTW + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff" + struct.pack("<Q", 0x1000 - 32))
    crc = zlib.crc32(bytes(ftw))
    struct.pack_into("<I", ftw, 16, crc)
    ftw[20] = 0xFE
    v[region:region + 32] = ftw
    return bytes(v)

def plain(recs):
    # Re-encode auth records (60-byte headers) as 32-byte non-authenticated ones.
    out = []
    for r in recs:
        ns, ds = struct.unpack_from("<II", r, 36)
        out.append(r[0:8] + r[36:60] + r[60:])
    return out

img = open(SRC, "rb").read()
# CustomMode (deleted), certdb, Boot0001, BootOrder (0x3D), PK, SecureBootEnable, CustomMode.
sel = records(img, [0x64, 0xB8, 0x3A4C, 0x3B08, 0x455C, 0x49A0, 0x4A00])
outdir = sys.argv[1]
open(outdir + "/small-store.bin", "wb").write(volume(sel))
open(outdir + "/small-at-1k.bin", "wb").write(b"\xff" * 1024 + volume(sel))
open(outdir + "/small-plain.bin", "wb").write(volume(plain(sel[:4]), auth=False))
open(outdir + "/small-empty.bin", "wb").write(volume([]))
# A 0x3E record whose 0x3F copy follows, and one with no copy.
t = [bytearray(x) for x in records(img, [0x49A0, 0x49A0, 0x4A00])]
t[0][2] = 0x3E
t[2][2] = 0x3E
open(outdir + "/small-transition.bin", "wb").write(volume([bytes(x) for x in t]))
