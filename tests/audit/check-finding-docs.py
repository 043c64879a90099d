#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The audit's finding lists cannot drift from its rule table (`vsboot audit --list-findings
# --json`): the README's findings table is generated from it (one row per id, in the table's
# order, with its severity and summary) and must equal what it generates, and the FINDINGS
# section of doc/vsboot-audit.1.scd lists exactly the table's ids, each under its severity
# ("Errors:", "Warnings:", "Information:"). TAP output.
# Usage: check-finding-docs.py VSBOOT SOURCE_ROOT [--write]  (--write regenerates the README
# table in place, for after a rule was added or changed)
import json
import re
import subprocess
import sys

vsboot, root = sys.argv[1], sys.argv[2]
write = "--write" in sys.argv[3:]
readme_path = root + "/README.md"
man_path = root + "/doc/vsboot-audit.1.scd"

n = 0
failed = 0


def ok(cond, what, diag=""):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, what))
    if not cond:
        failed += 1
        for line in diag.splitlines():
            print("# " + line)


out = subprocess.run([vsboot, "audit", "--list-findings", "--json"], check=True,
                     capture_output=True, text=True, timeout=60).stdout
rules = json.loads(out)["findings"]
ids = [r["id"] for r in rules]
ok(len(ids) == len(set(ids)) and len(ids) >= 40, "the rule table has %d distinct ids" % len(ids))

# The text form lists the same ids, in the same order.
text = subprocess.run([vsboot, "audit", "--list-findings"], check=True, capture_output=True,
                      text=True, timeout=60).stdout
text_ids = re.findall(r"^([a-z0-9-]+) \((?:error|warning|info)\)$", text, re.M)
ok(text_ids == ids, "--list-findings text and JSON list the same ids")

# README: the table after "**Findings**", generated from the rule table.
HEADER = "| id | severity | when |\n|---|---|---|\n"
readme = open(readme_path, encoding="utf-8").read()
start = readme.find(HEADER, readme.find("**Findings**"))
ok(start >= 0, "README has the findings table")
end = start + len(HEADER)
while readme.startswith("|", end):
    end = readme.index("\n", end) + 1
# Markdown would read <loader ...> as HTML: element names are code.
want = HEADER + "".join("| `%s` | %s | %s |\n" % (r["id"], r["severity"],
                                                  re.sub(r"(<[^>]*>)", r"`\1`", r["summary"]))
                        for r in rules)
if write and readme[start:end] != want:
    readme = readme[:start] + want + readme[end:]
    open(readme_path, "w", encoding="utf-8").write(readme)
    end = start + len(want)
have = readme[start:end]
have_ids = re.findall(r"^\| `([^`]+)` \|", have, re.M)
ok(set(have_ids) - set(ids) == set(), "README lists no id the table lacks",
   " ".join(sorted(set(have_ids) - set(ids))))
ok(set(ids) - set(have_ids) == set(), "README lists every id of the table",
   " ".join(sorted(set(ids) - set(have_ids))))
ok(have == want, "README's findings table is the one the rule table generates "
   "(regenerate: check-finding-docs.py VSBOOT SOURCE_ROOT --write)",
   "\n".join(sorted(set(have.splitlines()) ^ set(want.splitlines()))))

# The man page: "Errors: a, b, ..., z." and so on in its FINDINGS section.
man = open(man_path, encoding="utf-8").read()
section = man.split("# FINDINGS", 1)[1].split("\n# ", 1)[0]
listed = {}
for word, sev in (("Errors", "error"), ("Warnings", "warning"), ("Information", "info")):
    m = re.search(r"^%s: ([^.]*)\." % word, section, re.M | re.S)
    ok(m is not None, "vsboot-audit(1) has a '%s:' list" % word)
    for item in (m.group(1) if m else "").split(","):
        listed[item.strip()] = sev
ok(set(listed) - set(ids) == set(), "vsboot-audit(1) lists no id the table lacks",
   " ".join(sorted(set(listed) - set(ids))))
ok(set(ids) - set(listed) == set(), "vsboot-audit(1) lists every id of the table",
   " ".join(sorted(set(ids) - set(listed))))
wrong = ["%s: %s in the page, %s in the table" % (r["id"], listed[r["id"]], r["severity"])
         for r in rules if r["id"] in listed and listed[r["id"]] != r["severity"]]
ok(not wrong, "vsboot-audit(1) lists each id under its severity", "\n".join(wrong))

print("1..%d" % n)
sys.exit(1 if failed else 0)
