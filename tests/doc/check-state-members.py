#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vsboot-state(5) against a real state file: provision a VM from the host's firmware
descriptors (split flash, the shape that has every member) and require the members of NAME.json
and of its "firmware" object to be exactly the ones the MEMBERS section of
doc/vsboot-state.5.scd documents ("*name*" terms; tab-indented ones under *firmware*).
TAP output. Usage: check-state-members.py VSBOOT DOC_SOURCE_DIR"""
import json
import os
import re
import subprocess
import sys
import tempfile

vsboot, doc_dir = sys.argv[1], sys.argv[2]
results = []


def check(ok, what, diag=()):
    results.append((ok, what, list(diag)))


def documented():
    top, firmware = set(), set()
    section = None
    parent = None
    with open(os.path.join(doc_dir, "vsboot-state.5.scd"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                section = line[2:]
                continue
            if section != "MEMBERS":
                continue
            m = re.match(r"^(\t?)\*([a-z0-9-]+)\* \(", line)
            if not m:
                continue
            if m.group(1):
                if parent == "firmware":
                    firmware.add(m.group(2))
            else:
                parent = m.group(2)
                top.add(parent)
    return top, firmware


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"),
               XDG_CONFIG_HOME=os.path.join(tmp, "config"))
    state = os.path.join(tmp, "vms")
    os.mkdir(state, 0o700)
    # The host's Secure Boot firmware with keys enrolled (Debian: ovmf); split flash.
    cmd = [vsboot, "provision", "doc", "--state-dir", state, "--enrolled-keys"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        print("Bail out! %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        sys.exit(1)
    with open(os.path.join(state, "doc.json"), encoding="utf-8") as f:
        vm = json.load(f)

top_doc, fw_doc = documented()
fw = vm.get("firmware") or {}
check(fw.get("device") == "flash" and fw.get("mode") == "split",
      "the VM has split flash firmware (every member present)",
      ["firmware: %s" % json.dumps(fw)])
for what, real, doc in (("NAME.json", set(vm), top_doc), ('its "firmware"', set(fw), fw_doc)):
    diag = ["in the state file, not in vsboot-state(5): " + m for m in sorted(real - doc)]
    diag += ["in vsboot-state(5), not in the state file: " + m for m in sorted(doc - real)]
    check(not diag and real, "%s: the %d members vsboot-state(5) documents" % (what, len(real)),
          diag)

failed = 0
for i, (ok, what, diag) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    for d in diag if not ok else ():
        print("# " + d)
    failed += not ok
print("1..%d" % len(results))
sys.exit(1 if failed else 0)
