#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""debian/libvsbootSOVERSION.symbols, in dpkg-gensymbols' format, from src/lib/libvsboot.sym.

  scripts/update-deb-symbols.py           rewrite the file
  scripts/update-deb-symbols.py --check   exit 1, with the difference, when it is out of date

The version script is the ABI (scripts/update-symbols.sh writes it from the public headers), so
the symbols file follows from it: a symbol already listed keeps the version that introduced it,
a new one gets this release's version, a removed one goes (until 1.0 the SONAME, and so the
package name, changes at every minor release, which is when symbols may go). The package build
(debian/rules) then holds the real library to this file with dpkg-gensymbols at check level 4.
"""
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def project_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        m = re.search(r"^\s*version\s*:\s*'([0-9]+)\.([0-9]+)\.([0-9]+)'", f.read(), re.M)
    return m.group(1), m.group(2), m.group(3)


def version_script():
    """The version node and its global symbols, in file order."""
    with open(os.path.join(ROOT, "src", "lib", "libvsboot.sym")) as f:
        text = f.read()
    node = re.search(r"^(VSBOOT_[0-9.]+) \{", text, re.M).group(1)
    glob = text.split("global:", 1)[1].split("local:", 1)[0]
    return node, re.findall(r"^\s+([A-Za-z_][A-Za-z0-9_]*);", glob, re.M)


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        print("usage: update-deb-symbols.py [--check]", file=sys.stderr)
        return 2
    major, minor, micro = project_version()
    soversion = f"0.{minor}" if major == "0" else major
    package = f"libvsboot{soversion}"
    version = f"{major}.{minor}.{micro}"
    path = os.path.join(ROOT, "debian", f"{package}.symbols")
    with open(os.path.join(ROOT, "debian", "control")) as f:
        if not re.search(rf"^Package: {re.escape(package)}$", f.read(), re.M):
            print(f"debian/control: no package {package}, which SONAME libvsboot.so.{soversion} "
                  "names (rename the library package with the SONAME)", file=sys.stderr)
            return 1
    node, symbols = version_script()
    old = {}
    old_text = ""
    if os.path.exists(path):
        with open(path) as f:
            old_text = f.read()
        for m in re.finditer(r"^ (\S+)@\S+ (\S+)$", old_text, re.M):
            old[m.group(1)] = m.group(2)
    lines = ["# SPDX-License-Identifier: LGPL-2.1-or-later",
             "# Written by scripts/update-deb-symbols.py from src/lib/libvsboot.sym; do not edit.",
             f"libvsboot.so.{soversion} {package} #MINVER#",
             "* Build-Depends-Package: libvsboot-dev",
             f" {node}@{node} {old.get(node, version)}"]
    lines += [f" {s}@{node} {old.get(s, version)}" for s in sorted(symbols)]
    new_text = "\n".join(lines) + "\n"
    if check:
        if new_text == old_text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            old_text.splitlines(True), new_text.splitlines(True), path, "from libvsboot.sym"))
        print(f"{os.path.relpath(path, ROOT)} is out of date: scripts/update-deb-symbols.py "
              "rewrites it")
        return 1
    with open(path + ".tmp", "w") as f:
        f.write(new_text)
    os.replace(path + ".tmp", path)
    print(f"update-deb-symbols: {len(symbols)} symbols under {node} in "
          f"{os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
