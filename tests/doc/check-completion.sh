#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion, through bash's own completion interface: the completion file is sourced
# in this non-interactive bash, COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT are set as readline
# sets them, the function `complete -p vsboot` names is called, and COMPREPLY is checked.
# Against the CLI: for every command and subcommand its --help lists, the options completed
# are exactly those --help shows (and the same ones take a value); for every option whose value
# completes from a fixed set, that set is the one the CLI's own error message lists, or every
# value in it is accepted and a bogus one refused. Then commands, subcommands, values given
# every way bash splits them, files, directories and VM names. TAP output.
# Usage: check-completion.sh VSBOOT COMPLETION_FILE
set -u
VSBOOT=$(realpath "$1")
COMPLETION=$(realpath "$2")

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { sed 's/^/# /'; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# Under a regular file: no command given this path can create anything.
: > "$tmp/file"
NOPE=$tmp/file/none
cd "$tmp" || exit 1
# The CLI runs below keep their caches and find no user descriptors here.
export XDG_CACHE_HOME=$tmp/cache XDG_CONFIG_HOME=$tmp/config

# shellcheck disable=SC1090
if ! source "$COMPLETION"; then
  echo "Bail out! cannot source $COMPLETION"
  exit 1
fi
spec=$(complete -p vsboot 2> /dev/null)
func=$(sed -n 's/.*-F \([^ ]*\) .*/\1/p' <<< "$spec")
if [[ -n $func ]] && declare -F "$func" > /dev/null; then
  ok "complete -p vsboot: $spec"
else
  echo "Bail out! $COMPLETION registers no completion function for vsboot ($spec)"
  exit 1
fi

# comp WORD...: what completing the last WORD (maybe empty) of "WORD..." offers, one per line,
# sorted. The words are given as readline would split them (COMP_WORDBREAKS: "--a=b" is
# "--a" "=" "b").
comp() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMP_TYPE=9
  COMP_KEY=9
  COMPREPLY=()
  "$func" vsboot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2> "$tmp/comp.err"
  if [[ -s $tmp/comp.err ]]; then
    echo "stderr: $(cat "$tmp/comp.err")"
  fi
  ((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort -u
}

# expect WHAT "WANTED WORDS" WORD...: completing WORD... offers exactly the wanted words.
expect() {
  local what=$1 want got
  want=$(printf '%s\n' $2 | grep -v '^$' | LC_ALL=C sort -u)
  shift 2
  got=$(comp "$@")
  if [[ $got == "$want" ]]; then
    ok "$what"
  else
    not_ok "$what"
    { echo "completing: vsboot ${*:2}"; echo "wanted:"; echo "$want"; echo "got:"; echo "$got"; } | diag
  fi
}

# Options (short and long) in a --help text's option table, one per line; "=" marks those that
# take a value. -h is not completed (--help is).
help_options() {
  sed -n 's/^ \{1,\}\(-[A-Za-z], \)\{0,1\}\(--[A-Za-z0-9][A-Za-z0-9-]*\)\(=\)\{0,1\}.*/\1\2\3/p' |
    tr ',' '\n' | tr -d ' ' | grep -v '^$' | grep -v -x -e '-h'
}

# ---- commands and subcommands, against the CLI ------------------------------------------------

"$VSBOOT" --help > "$tmp/main.help" 2>&1 < /dev/null
commands=$(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^[^ ]/ { on = 0 }' \
  "$tmp/main.help")
[[ -n $commands ]] || { echo "Bail out! vsboot --help lists no commands"; exit 1; }
expect "vsboot <TAB>: every command and help" "$commands help" vsboot ''
expect "vsboot -<TAB>: --help --version" "--help --version" vsboot -
expect "vsboot help <TAB>: every command" "$commands" vsboot help ''

for cmd in $commands; do
  "$VSBOOT" "$cmd" --help > "$tmp/cmd.help" 2>&1 < /dev/null
  if grep -q '^Subcommands:' "$tmp/cmd.help"; then
    subs=$(awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^[^ ]/ { on = 0 }' \
      "$tmp/cmd.help")
    expect "vsboot $cmd <TAB>: its subcommands" "$subs" vsboot "$cmd" ''
    expect "vsboot help $cmd <TAB>: its subcommands" "$subs" vsboot help "$cmd" ''
    keys=$(for s in $subs; do echo "$cmd:$s"; done)
  else
    keys=$cmd
  fi
  for key in $keys; do
    words=(${key/:/ })
    "$VSBOOT" "${words[@]}" --help > "$tmp/help" 2>&1 < /dev/null
    help_options < "$tmp/help" | LC_ALL=C sort -u > "$tmp/help.values"
    tr -d '=' < "$tmp/help.values" | LC_ALL=C sort -u > "$tmp/help.opts"
    comp vsboot "${words[@]}" - > "$tmp/comp.opts"
    if cmp -s "$tmp/help.opts" "$tmp/comp.opts"; then
      ok "vsboot ${words[*]} -<TAB>: the $(wc -l < "$tmp/help.opts") options of its --help"
    else
      not_ok "vsboot ${words[*]} -<TAB>: the options of its --help"
      { LC_ALL=C comm -23 "$tmp/help.opts" "$tmp/comp.opts" | sed 's/^/not completed: /'
        LC_ALL=C comm -13 "$tmp/help.opts" "$tmp/comp.opts" | sed 's/^/not in --help: /'; } | diag
    fi
    # Which long options take a value: the completion's table against --help's "=ARG".
    # (An option named again in the help's description, without "=ARG", takes the value too.)
    grep -- '^--' "$tmp/help.values" | LC_ALL=C sort -u |
      awk '{ o[NR] = $0; s[$0] = 1 } END { for (i = 1; i <= NR; i++) if (!((o[i] "=") in s)) print o[i] }' \
      > "$tmp/help.long"
    _vsboot_options "${words[*]}" | tr ' ' '\n' | grep -- '^--' | LC_ALL=C sort -u > "$tmp/comp.long"
    if cmp -s "$tmp/help.long" "$tmp/comp.long"; then
      ok "vsboot ${words[*]}: the same options take a value"
    else
      not_ok "vsboot ${words[*]}: the same options take a value (\"=\": takes one)"
      diff "$tmp/help.long" "$tmp/comp.long" | diag
    fi
  done
done

# ---- values from a fixed set, against the CLI --------------------------------------------------

# values OPTION WORD...: the values completed for OPTION after "vsboot WORD...".
values() { local opt=$1; shift; comp vsboot "$@" "$opt" ''; }

# check_set OPTION REFUSAL "CMD ARG..." [list [BOGUS]]: the values completed for OPTION (in CMD)
# are all accepted (the CLI's message does not match REFUSAL) and a bogus one is refused; with
# "list", they are also exactly the values the refusal lists in parentheses.
check_set() {
  local opt=$1 refusal=$2 list=${4-} bogus=${5-bogus-value} v bad=
  read -r -a cmdline <<< "$3"
  local got
  got=$(values "$opt" "${cmdline[@]}")
  if [[ -z $got ]]; then
    not_ok "$opt in '${cmdline[*]}': no values completed"
    return
  fi
  "$VSBOOT" "${cmdline[@]}" "$opt" "$bogus" > /dev/null 2> "$tmp/err" < /dev/null
  if ! grep -q -e "$refusal" "$tmp/err"; then
    not_ok "$opt $bogus is refused with '$refusal'"
    diag < "$tmp/err"
    return
  fi
  for v in $got; do
    "$VSBOOT" "${cmdline[@]}" "$opt" "$v" > /dev/null 2> "$tmp/err.v" < /dev/null
    grep -q -e "$refusal" "$tmp/err.v" && bad+=" $v"
  done
  if [[ -n $bad ]]; then
    not_ok "$opt: every completed value is accepted"
    echo "refused:$bad" | diag
    return
  fi
  if [[ $list == list ]]; then
    local want
    want=$(sed -n 's/.*bogus-value[^(]*(\(.*\))[^)]*$/\1/p' "$tmp/err" |
      sed -e 's/^known: //' -e 's/^valid: //' -e 's/;.*//' | tr ',' '\n' | tr -d ' ' |
      grep -v '^$' | LC_ALL=C sort -u)
    if [[ $want != "$got" ]]; then
      not_ok "$opt: the values completed are the ones the CLI lists"
      { echo "CLI: $(cat "$tmp/err")"; echo "completed:"; echo "$got"; } | diag
      return
    fi
  fi
  ok "$opt ($(echo $got | tr ' ' ',')): accepted by '${cmdline[*]}'${list:+, exactly the list of the CLI}"
}

sel="firmware select --arch x86_64 --machine q35 --firmware-dir $NOPE"
check_set --arch 'unknown architecture' "firmware list --firmware-dir $NOPE" list
check_set --arch 'unknown architecture' "provision x --state-dir $NOPE" list
check_set --interface 'unknown interface' "$sel" list
check_set --mode 'unknown mode' "$sel" list
check_set --format 'unknown format' "$sel" list
check_set --feature 'unknown feature' "$sel" list
check_set --no-feature 'unknown feature' "$sel" list
check_set --style 'unknown --style' "libvirt-xml x --state-dir $NOPE" list
check_set --virt-type 'virt-type must be' "libvirt-xml x --state-dir $NOPE"
check_set --accel 'accel must be' "run x --state-dir $NOPE"
check_set --digest 'unknown --digest' "pe hash $NOPE" list
check_set --layout 'unknown --layout' "vars import $NOPE -o $NOPE" list
check_set --secure-boot 'secure-boot takes' "vars enroll $NOPE -o $NOPE"
check_set --microsoft 'unknown Microsoft certificate set' "vars enroll $NOPE -o $NOPE" list
check_set --microsoft 'unknown Microsoft certificate set' "provision x --state-dir $NOPE"
expect "provision --microsoft n<TAB>: none" "none" vsboot provision x --microsoft n
expect "vars enroll --microsoft n<TAB>: nothing" "" vsboot vars enroll IN -o OUT --microsoft n
check_set --bits 'is not supported' "keys generate $NOPE" '' 1

# ---- how values, files, directories and names complete -----------------------------------------

mkdir "$tmp/vms" "$tmp/keys"
: > "$tmp/vms/web.json"
: > "$tmp/vms/db.json"
: > "$tmp/vms/web_VARS.fd"
: > "$tmp/store.fd"
arches='aarch64 arm i386 loongarch64 riscv64 x86_64'
expect "--arch <TAB>" "$arches" vsboot firmware select --arch ''
expect "--arch x<TAB>" "x86_64" vsboot firmware select --arch x
expect "--arch=<TAB> (split at '=')" "$arches" vsboot firmware select --arch =
expect "--arch=x<TAB> (split at '=')" "x86_64" vsboot firmware select --arch = x
expect "--arch=a<TAB> (one word)" "--arch=aarch64 --arch=arm" vsboot provision --arch=a
expect "-d sha5<TAB> (short option)" "sha512" vsboot pe hash img.efi -d sha5
expect "--microsoft 2023,kek<TAB> (comma list)" "2023,kek-2011 2023,kek-2023" \
  vsboot vars enroll IN -o OUT --microsoft 2023,kek
expect "--accel after other options" "auto kvm tcg" vsboot run web --state-dir /x --memory 512 --accel ''
expect "--serial st<TAB>: stdio or a file" "stdio store.fd" vsboot run web --serial st
expect "--machine: no fixed set" "" vsboot firmware select --machine ''
expect "vsboot vars en<TAB>" "enroll" vsboot vars en
expect "vsboot fi<TAB>" "firmware" vsboot 'fi'
expect "option after a file" "--all" vsboot vars show store.fd --a
expect "a value is not an option" "" vsboot vars enroll IN -o OUT --owner -
expect "options of a value-taking option's command" "--json" vsboot audit --pid 1 --js

expect "files: vars show FILE" "$tmp/store.fd" vsboot vars show "$tmp/st"
expect "files: --pk CERT" "$tmp/store.fd" vsboot vars enroll IN -o OUT --pk "$tmp/st"
expect "files: -o OUT" "$tmp/store.fd" vsboot vars enroll IN -o "$tmp/st"
expect "files: after -- (QEMU's arguments)" "$tmp/store.fd" vsboot run web --state-dir "$tmp/vms" -- "$tmp/st"
expect "directories only: --state-dir" "$tmp/vms" vsboot provision web --state-dir "$tmp/v"
expect "directories only: keys generate DIR" "$tmp/keys" vsboot keys generate "$tmp/k"
expect "VM names from --state-dir" "db web" vsboot run --state-dir "$tmp/vms" ''
: > "$tmp/vms/my vm.json"
if [[ $(comp vsboot run --state-dir "$tmp/vms" m) == "my vm" ]]; then
  ok "a VM name with a space is one word"
else
  not_ok "a VM name with a space is one word"
fi
rm "$tmp/vms/my vm.json"
expect "VM names from --state-dir=DIR (split at '=')" "web" vsboot audit --state-dir = "$tmp/vms" w
expect "VM names from --state-dir=DIR (one word)" "web" vsboot qemu-args --state-dir="$tmp/vms" w
expect "VM names after another option's value" "db web" \
  vsboot libvirt-xml --state-dir "$tmp/vms" --style explicit ''
expect "one VM name only" "" vsboot qemu-args web --state-dir "$tmp/vms" ''
expect "no VM names without --state-dir" "" vsboot run ''
expect "provision NAME is new: nothing" "" vsboot provision --state-dir "$tmp/vms" ''

echo "1..$n"
[[ $failed -eq 0 ]]
