#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvsboot as a program outside the tree gets it: from a `meson install --destdir` tree.

  scripts/check-install.py BUILDDIR [WORKDIR]

Installs BUILDDIR into WORKDIR/destdir, then builds against that tree only, through
`pkg-config vsboot` with PKG_CONFIG_SYSROOT_DIR: every installed public header on its own (an
installed header that includes one that is not installed fails here, naming both; and no
header is installed that <vsboot/vsboot.h> does not include), and
examples/provision-and-audit.c, which it then runs: select firmware, provision a VM, audit it,
Secure Boot enforced. The sysroot is the host's own tree with the destdir laid over it (links),
so the flags of glib and json-glib, which the host provides, stay valid under it.
Prints TAP; WORKDIR (default: a temporary directory) is removed unless given.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
results = []


def report(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}")
    if not ok:
        for line in detail.splitlines()[-30:]:
            print(f"# {line}")


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return p.returncode, p.stdout


def overlay(sysroot, real, over):
    """sysroot = real with over laid on top: a directory in both is made and merged, anything
    else is a link to the one that has it (over wins)."""
    os.makedirs(sysroot, exist_ok=True)
    names = set(os.listdir(over))
    for name in names:
        o, r, s = (os.path.join(d, name) for d in (over, real, sysroot))
        if os.path.isdir(o) and not os.path.islink(o) and os.path.isdir(r):
            overlay(s, r, o)
        else:
            os.symlink(o, s)
    for name in os.listdir(real):
        if name not in names:
            os.symlink(os.path.join(real, name), os.path.join(sysroot, name))


def build_options(builddir):
    code, out = run(["meson", "introspect", "--buildoptions", builddir])
    if code != 0:
        raise SystemExit(f"meson introspect {builddir}: {out}")
    opts = {o["name"]: o["value"] for o in json.loads(out)}
    prefix = opts["prefix"]
    return {k: os.path.join(prefix, opts[k]) for k in ("libdir", "includedir", "datadir")}


def check(builddir, work):
    dirs = build_options(builddir)
    destdir = os.path.join(work, "destdir")
    code, out = run(["meson", "install", "-C", builddir, "--destdir", destdir, "--no-rebuild",
                     "--quiet"])
    report(f"meson install --destdir {destdir}", code == 0, out)
    if code != 0:
        return
    sysroot = os.path.join(work, "sysroot")
    overlay(sysroot, "/", destdir)
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=sysroot,
               PKG_CONFIG_PATH=sysroot + dirs["libdir"] + "/pkgconfig")
    code, flags = run(["pkg-config", "--cflags", "--libs", "vsboot"], env=env)
    report("pkg-config vsboot from the installed vsboot.pc", code == 0, flags)
    if code != 0:
        return
    flags = flags.split()
    headers = sorted(os.listdir(destdir + dirs["includedir"] + "/vsboot"))
    bad = []
    for h in headers:
        code, out = run(["cc", "-fsyntax-only", "-Wall", "-Werror", "-x", "c", "-"] + flags,
                        input=f"#include <vsboot/{h}>\n", env=env)
        if code != 0:
            first = [l for l in out.splitlines() if "error" in l][:1] or out.splitlines()[-1:]
            bad.append(f"vsboot/{h}: {first[0] if first else out}")
    report(f"each of the {len(headers)} installed headers compiles on its own", not bad,
           "\n".join(bad))
    # Nothing is installed that the umbrella header does not bring in: the API is one header.
    code, out = run(["cc", "-M", "-x", "c", "-"] + flags, input="#include <vsboot/vsboot.h>\n",
                    env=env)
    incdir = sysroot + dirs["includedir"] + "/vsboot/"
    used = {os.path.basename(w) for w in out.replace("\\\n", " ").split()
            if w.startswith(incdir)}
    extra = sorted(set(headers) - used)
    report("every installed header is part of <vsboot/vsboot.h>", code == 0 and not extra,
           out if code else "installed but not included by vsboot.h: " + " ".join(extra))
    exe = os.path.join(work, "provision-and-audit")
    code, out = run(["cc", "-Wall", "-Werror", "-o", exe,
                     os.path.join(ROOT, "examples", "provision-and-audit.c")] + flags, env=env)
    report("the example compiles and links with pkg-config vsboot", code == 0, out)
    if code != 0:
        return
    run_env = dict(os.environ, LD_LIBRARY_PATH=sysroot + dirs["libdir"],
                   VSB_DATA_DIR=destdir + dirs["datadir"] + "/vsboot")
    code, out = run(["ldd", exe], env=run_env)
    lib = sysroot + dirs["libdir"] + "/libvsboot.so"
    report("the example runs with the installed libvsboot", lib in out, out)
    code, out = run([exe, os.path.join(work, "vms")], env=run_env)
    print("\n".join("# " + line for line in out.splitlines()))
    report("the example selects, provisions and audits: Secure Boot enforced",
           code == 0 and "verdict: Secure Boot enforced" in out, out)


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: check-install.py BUILDDIR [WORKDIR]", file=sys.stderr)
        return 2
    builddir = os.path.abspath(sys.argv[1])
    work = sys.argv[2] if len(sys.argv) == 3 else tempfile.mkdtemp(prefix="vsb-install-")
    print("TAP version 13")
    try:
        check(builddir, work)
    finally:
        if len(sys.argv) == 2:
            shutil.rmtree(work, ignore_errors=True)
    print(f"1..{len(results)}")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
