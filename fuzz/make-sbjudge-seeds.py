#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Seeds for fuzz-sbjudge: Debian's 2M OVMF_VARS.ms.fd (PK, KEK, db, SecureBootEnable) and
variations at the places the Secure Boot judgement decides: duplicate and in-transition
SecureBootEnable records, a dirty free area, a DataSize 0 SecureBootEnable, no PK.
Usage: make-sbjudge-seeds.py /usr/share/OVMF/OVMF_VARS.ms.fd OUTDIR"""
import struct, sys, os

SBE_GUID = bytes.fromhex("c70ba3f008af564599c4001009c93a44")
GLOBAL = bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c")

def records(img):
    store = struct.unpack_from("<H", img, 0x30)[0]
    end = store + struct.unpack_from("<I", img, store + 16)[0]
    p = (store + 28 + 3) & ~3
    while p + 60 <= end and img[p:p + 2] == b"\xaa\x55":
        ns, ds = struct.unpack_from("<II", img, p + 36)
        yield p, ns, ds, bytes(img[p + 60:p + 60 + ns]).decode("utf-16-le").rstrip("\0"), bytes(img[p + 44:p + 60])
        p = (p + 60 + ns + ds + 3) & ~3
    yield p, 0, 0, None, None

def record(name, guid, attrs, data, state=0x3F):
    n = (name + "\0").encode("utf-16-le")
    h = struct.pack("<HBBIQ16sII I16s", 0x55AA, state, 0, attrs, 0, b"\0" * 16, 0, len(n), len(data), guid)
    r = h + n + data
    return r + b"\xff" * (-len(r) % 4)

def main(src, out):
    base = bytearray(open(src, "rb").read())
    recs = list(records(base))
    free = recs[-1][0]
    live = {(name, g): p for p, ns, ds, name, g in recs[:-1] if base[p + 2] == 0x3F}
    sbe = live[("SecureBootEnable", SBE_GUID)]
    pk = live[("PK", GLOBAL)]
    os.makedirs(out, exist_ok=True)
    def put(name, img):
        open(os.path.join(out, name), "wb").write(bytes(img))
    put("ms-2m.bin", base)
    v = bytearray(base); v[sbe + 2] = 0x3E
    extra = record("SecureBootEnable", SBE_GUID, 3, b"\x00", 0x3E)
    v[free:free + len(extra)] = extra
    put("sbe-two-transition.bin", v)
    w = bytearray(v); w[free + len(extra) + 64] = 0x00
    put("sbe-two-transition-dirty.bin", w)
    z = bytearray(base); z[sbe + 2] = 0x3C
    extra = record("SecureBootEnable", SBE_GUID, 3, b"")
    z[free:free + len(extra)] = extra
    put("sbe-datasize-0.bin", z)
    n = bytearray(base); n[pk + 2] = 0x3C
    put("no-pk.bin", n)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
