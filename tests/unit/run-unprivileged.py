#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Proves that the unit suite needs no root, no QEMU and no network.

run-unprivileged.py BUILDDIR [SUITE]

Runs every test of SUITE (default "unit") that meson registered in BUILDDIR, as meson would
(its command, environment and time limit), but as user nobody (when started as root), in a new
network namespace with no interface up (root only: unshare), with a PATH from which every
qemu* program is gone, and with HOME, TMPDIR and the XDG directories fresh and owned by that
user. Prints TAP: one result per test, its output as diagnostics when it fails. A suite with no
test is a failure too: it would prove nothing.
"""
import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile


def world_executable(path):
    """Can any user run path? (Every directory on the way searchable, the file executable by
    others: root's own tools, such as a Python under /root, are not.)"""
    path = os.path.realpath(path)
    d = os.path.dirname(path)
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            return False
        d = os.path.dirname(d)
    return os.path.isfile(path) and bool(os.stat(path).st_mode & 0o001)


def system_program(cmd):
    """The test's command, its program replaced by the system's own of the same name when the
    one meson found cannot be run by another user (an interpreter in root's home)."""
    if world_executable(cmd[0]):
        return cmd
    other = shutil.which(os.path.basename(cmd[0]), path="/usr/local/bin:/usr/bin:/bin")
    return [other] + cmd[1:] if other and world_executable(other) else cmd


def needed_dirs(builddir, tests):
    """The build and source directories the tests use."""
    dirs = {os.path.realpath(builddir)}
    dirs.update(os.path.realpath(v) for t in tests for k, v in (t.get("env") or {}).items()
                if k in ("VSB_SOURCE_ROOT", "VSB_TEST_DATA") and os.path.isdir(v))
    return sorted(dirs)


def blocked_ancestor(d):
    """The first directory on the way to d that others may not enter, or None."""
    parts = d.strip("/").split("/")
    for i in range(1, len(parts)):
        p = "/" + "/".join(parts[:i])
        if not os.stat(p).st_mode & 0o001:
            return p
    return None


def shadow_path(bindir):
    """A directory of links to every program on PATH except QEMU's, first name wins."""
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            target = os.path.join(d, name)
            link = os.path.join(bindir, name)
            if name.startswith("qemu") or os.path.lexists(link):
                continue
            if os.path.isfile(target) and world_executable(target):
                os.symlink(target, link)
    return bindir


def wrapper(root, dirs):
    """The command prefix that drops root and the network; nothing when not root. A checkout
    under a directory others may not enter (a private home) is reached the way a user's own
    checkout would be: in a private mount namespace that directory is an empty tmpfs (mode
    0755) through which the checkout's directories are bound back at their own paths."""
    if not root:
        return []
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
            "--"]
    blocked = sorted({b for b in map(blocked_ancestor, dirs) if b})
    if not blocked:
        return ["unshare", "--net", "--"] + drop
    q = shlex.quote
    script = ["set -e", "mount --make-rprivate /", "keep=$(mktemp -d)"]
    for i, d in enumerate(dirs):
        script.append(f"mkdir $keep/{i} && mount --rbind {q(d)} $keep/{i}")
    script += [f"mount -t tmpfs -o mode=0755 vsb-unpriv {q(b)}" for b in blocked]
    for i, d in enumerate(dirs):
        script.append(f"mkdir -p {q(d)} && mount --rbind $keep/{i} {q(d)}")
    script.append('exec "$@"')
    return ["unshare", "--mount", "--net", "--", "sh", "-c", "\n".join(script), "sh"] + drop


def run_one(test, env, prefix):
    full_env = dict(env)
    full_env.update(test.get("env") or {})
    timeout = test.get("timeout") or 30
    try:
        cmd = system_program(test["cmd"]) if prefix else test["cmd"]
        p = subprocess.run(prefix + cmd, env=full_env, cwd=test.get("workdir") or None,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout * 3, check=False)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        return -1, out + f"\ntimed out after {timeout * 3} s"


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: run-unprivileged.py BUILDDIR [SUITE]", file=sys.stderr)
        return 2
    builddir = sys.argv[1]
    suite = sys.argv[2] if len(sys.argv) == 3 else "unit"
    with open(os.path.join(builddir, "meson-info", "intro-tests.json")) as f:
        tests = [t for t in json.load(f)
                 if any(s.split(":")[-1] == suite for s in t["suite"])]
    root = os.geteuid() == 0
    print("TAP version 13")
    dirs = needed_dirs(builddir, tests)
    unenterable = [d for d in dirs if not os.stat(d).st_mode & 0o001]
    if root and unenterable:
        print("1..1")
        print(f"not ok 1 - user nobody cannot enter {unenterable[0]}: its mode lets only its "
              "owner in")
        return 1
    print(f"1..{max(len(tests), 1)}")
    if not tests:
        print(f"not ok 1 - no test in suite {suite}")
        return 1
    scratch = tempfile.mkdtemp(prefix="vsb-unpriv-")
    try:
        home = os.path.join(scratch, "home")
        bindir = os.path.join(scratch, "bin")
        for d in (home, bindir, home + "/run"):
            os.mkdir(d, 0o700)
        shadow_path(bindir)
        os.chmod(bindir, 0o755)
        if root:
            nobody = pwd.getpwnam("nobody")
            os.chmod(scratch, 0o755)
            for d in (home, home + "/run"):
                os.chown(d, nobody.pw_uid, nobody.pw_gid)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("XDG_", "SUDO_")) and k not in ("HOME", "TMPDIR", "PATH")}
        env.update(PATH=bindir, HOME=home, TMPDIR=home, XDG_CACHE_HOME=home + "/.cache",
                   XDG_CONFIG_HOME=home + "/.config", XDG_RUNTIME_DIR=home + "/run",
                   XDG_DATA_HOME=home + "/.local/share", USER="nobody" if root else
                   os.environ.get("USER", ""))
        if shutil.which("qemu-system-x86_64", path=bindir) or shutil.which("qemu-img", path=bindir):
            print("not ok 1 - QEMU is still on the shadow PATH")
            return 1
        failed = 0
        for i, t in enumerate(tests, 1):
            rc, out = run_one(t, env, wrapper(root, dirs))
            if rc == 0:
                print(f"ok {i} - {t['name']} (as {'nobody' if root else 'this user'}, "
                      "no QEMU on PATH, no network)")
            else:
                failed += 1
                print(f"not ok {i} - {t['name']}: exit {rc}")
                for line in out.splitlines()[-40:]:
                    print(f"# {line}")
        return 1 if failed else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
