#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The man pages and the CLI cannot drift: for every command and subcommand that `vsboot --help`
# and `vsboot COMMAND --help` list, every option its --help shows is documented in the OPTIONS
# section of its page (doc/vsboot-COMMAND.1.scd, under "## COMMAND SUB" for a command group),
# and every option documented there exists in --help. Short options count as well as long ones;
# -h/--help, which every command takes, is documented once in vsboot(1). Also: every command has
# a built page and is listed in vsboot(1), every "## COMMAND SUB" section is a real subcommand,
# and the options vsboot(1) documents are the ones `vsboot` itself takes.
# TAP output. Usage: check-man-options.sh VSBOOT DOC_SOURCE_DIR DOC_BUILD_DIR
set -u
VSBOOT=$1
SRC=$2
BUILT=$3

n=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { sed 's/^/# /'; }

# Long and short options (one per line, sorted) in the option table of a --help text: lines
# "  -o, --output=OUT  ..." or "  --json  ...". -h and --help are left out.
help_options() {
  sed -n 's/^ \{1,\}\(-[A-Za-z], \)\{0,1\}\(--[A-Za-z0-9][A-Za-z0-9-]*\).*/\1\2/p' |
    tr ',' '\n' | tr -d ' ' | grep -v '^$' | grep -v -x -e '-h' -e '--help' | LC_ALL=C sort -u
}

# The subcommands of a group's --help text: the first word of each line indented by exactly two
# spaces after "Subcommands:".
help_subcommands() {
  awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^[^ ]/ { on = 0 }'
}

# The option terms of a page's OPTIONS section: lines that start with "*-" there. With SECTION
# ("firmware list"), only those under "## SECTION". One option (short or long) per line.
man_options() { # FILE [SECTION]
  awk -v want="${2-}" '
    /^# / { on = ($0 == "# OPTIONS"); sub_ = ""; next }
    on && /^## / { sub_ = substr($0, 4); next }
    on && /^\*-/ && sub_ == want {
      line = $0
      gsub(/[*_\\]/, "", line)
      n = split(line, w, /[ ,=|\[\]]+/)
      for (i = 1; i <= n; i++) if (w[i] ~ /^--?[A-Za-z0-9]/) print w[i]
    }' "$1" | grep -v -x -e '-h' -e '--help' | LC_ALL=C sort -u
}

# The "## ..." headings of a page's OPTIONS section.
man_sections() {
  awk '/^# / { on = ($0 == "# OPTIONS"); next } on && /^## / { print substr($0, 4) }' "$1"
}

# compare WHAT HELP_FILE MAN_FILE: both directions, with the difference as diagnostics.
compare() {
  LC_ALL=C comm -23 "$2" "$3" > "$tmp/missing"
  LC_ALL=C comm -13 "$2" "$3" > "$tmp/extra"
  if [ ! -s "$2" ] && [ ! -s "$3" ]; then
    ok "$1: no options besides --help, none documented"
  elif [ -s "$tmp/missing" ] || [ -s "$tmp/extra" ]; then
    not_ok "$1: --help and the man page differ"
    sed 's/^/in --help, not in the man page: /' "$tmp/missing" | diag
    sed 's/^/in the man page, not in --help: /' "$tmp/extra" | diag
  else
    ok "$1: $(wc -l < "$2" | tr -d ' ') options agree"
  fi
}

"$VSBOOT" --help > "$tmp/main.help" 2>&1 || { echo "Bail out! $VSBOOT --help failed"; exit 1; }
awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^[^ ]/ { on = 0 }' \
  "$tmp/main.help" > "$tmp/commands"
if [ -s "$tmp/commands" ]; then
  ok "vsboot --help lists $(wc -l < "$tmp/commands" | tr -d ' ') commands"
else
  not_ok "vsboot --help lists no commands"
  diag < "$tmp/main.help"
fi

# vsboot(1): the top-level options, each of which must work, and every command listed.
man_options "$SRC/vsboot.1.scd" > "$tmp/main.man"
printf '%s\n' -V --version | LC_ALL=C sort -u > "$tmp/main.opts"
compare "vsboot" "$tmp/main.opts" "$tmp/main.man"
for o in -h --help -V --version; do
  if "$VSBOOT" "$o" > /dev/null 2>&1; then ok "vsboot $o exits 0"; else not_ok "vsboot $o exits 0"; fi
done
grep -q -e '^\*--help\*' -e '^\*-h\*, \*--help\*' "$SRC/vsboot.1.scd" &&
  ok "vsboot(1) documents -h, --help" || not_ok "vsboot(1) documents -h, --help"
[ -f "$BUILT/vsboot.1" ] && ok "vsboot.1 is built" || not_ok "vsboot.1 is built"
[ -f "$BUILT/vsboot-state.5" ] && ok "vsboot-state.5 is built" || not_ok "vsboot-state.5 is built"

while read -r cmd; do
  page="$SRC/vsboot-$cmd.1.scd"
  if ! [ -f "$page" ]; then
    not_ok "$cmd: no man page $page"
    continue
  fi
  [ -f "$BUILT/vsboot-$cmd.1" ] && ok "$cmd: vsboot-$cmd.1 is built" ||
    not_ok "$cmd: vsboot-$cmd.1 is built (add it to doc/meson.build)"
  awk '/^# /{ on = ($0 == "# COMMANDS"); next } on' "$SRC/vsboot.1.scd" |
    grep -q "^\*$cmd\*" && ok "$cmd: listed in vsboot(1)" || not_ok "$cmd: listed in vsboot(1)"

  "$VSBOOT" "$cmd" --help < /dev/null > "$tmp/cmd.help" 2>&1
  man_sections "$page" > "$tmp/sections"
  if grep -q '^Subcommands:' "$tmp/cmd.help"; then
    help_subcommands < "$tmp/cmd.help" > "$tmp/subs"
    if ! [ -s "$tmp/subs" ]; then
      not_ok "$cmd: its --help lists no subcommands"
      continue
    fi
    while read -r sub; do
      if ! grep -q -x "$cmd $sub" "$tmp/sections"; then
        not_ok "$cmd $sub: no \"## $cmd $sub\" in the OPTIONS section of $page"
        continue
      fi
      if ! "$VSBOOT" "$cmd" "$sub" --help < /dev/null > "$tmp/sub.help" 2>&1; then
        not_ok "$cmd $sub --help exits 0"
        diag < "$tmp/sub.help"
        continue
      fi
      help_options < "$tmp/sub.help" > "$tmp/help.opts"
      man_options "$page" "$cmd $sub" > "$tmp/man.opts"
      compare "$cmd $sub" "$tmp/help.opts" "$tmp/man.opts"
    done < "$tmp/subs"
    # A section for a subcommand that does not exist documents nothing real.
    while read -r sect; do
      s=${sect#"$cmd "}
      if [ "$s" = "$sect" ] || ! grep -q -x "$s" "$tmp/subs"; then
        not_ok "$cmd: \"## $sect\" in $page is not a subcommand of '$cmd'"
      fi
    done < "$tmp/sections"
  else
    if [ -s "$tmp/sections" ]; then
      not_ok "$cmd: has no subcommands, but $page has \"## ...\" option sections"
    fi
    help_options < "$tmp/cmd.help" > "$tmp/help.opts"
    man_options "$page" > "$tmp/man.opts"
    compare "$cmd" "$tmp/help.opts" "$tmp/man.opts"
  fi
done < "$tmp/commands"

echo "1..$n"
[ "$failed" -eq 0 ]
