#!/usr/bin/env bash
# tempfail import, end to end: --generate writes the files of a private Postfix instance for each
# shipped Postfix scenario, the real postconf reads them without a warning (`postconf -c DIR -n` and
# `-M`), importing them (or postconf's output of them) gives back an mta: section with no warning,
# and the command's exit codes: 0, 2 for a bad command line or configuration (file:line), 3 for I/O.
# Without postconf the Postfix checks are skipped with a message, unless CI=true (then they fail).
# Usage: TEMPFAIL=path/to/tempfail import.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
PATH=$PATH:/usr/sbin:/usr/local/sbin

postconf_ok=yes
if ! command -v postconf >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: postconf is missing (scripts/install-deps.sh installs postfix)" >&2
    exit 1
  fi
  echo "SKIP: postconf is missing: the generated files are not checked by Postfix" >&2
  postconf_ok=no
fi

"$tf" import --help >help.out 2>&1; st=$?
check "--help exits 0" status_is $st 0
check "--help shows the usage" has_text help.out "Usage: tempfail import MAIN_CF [MASTER_CF [TRANSPORT]]"
"$tf" --help >top.out 2>&1
check "tempfail --help lists import" has_text top.out "import MAIN_CF"

for sc in "$src/scenarios/presets/default.yaml" "$src"/scenarios/examples/*.yaml; do
  name=$(basename "$sc" .yaml)
  if grep -q '^ *kind: apppool' "$sc"; then
    "$tf" import --generate "$sc" "gen-$name" >gen.out 2>gen.err; st=$?
    check "$name: an application pool is not a Postfix (exit 2)" status_is $st 2
    check "$name: the message names mta.kind" has_text gen.err "mta.kind: apppool"
    continue
  fi
  "$tf" import --generate "$sc" "gen-$name" >gen.out 2>gen.err; st=$?
  check "$name: --generate exits 0" status_is $st 0
  for f in main.cf master.cf transport; do
    check "$name: wrote $f" test -s "gen-$name/$f"
  done
  check "$name: no temporary file left" bash -c "! ls gen-$name/*.tmp 2>/dev/null | grep -q ."
  check "$name: DNS off" has_text "gen-$name/main.cf" "smtp_dns_support_level = disabled"
  check "$name: texthash map" has_text "gen-$name/main.cf" "transport_maps = texthash:$PWD/gen-$name/transport"
  "$tf" import "gen-$name/main.cf" "gen-$name/master.cf" "gen-$name/transport" >"$name.yaml" 2>"$name.err"; st=$?
  check "$name: importing the generated files exits 0" status_is $st 0
  check "$name: ... with no warning" test ! -s "$name.err"
  check "$name: ... into an mta: section" has_text "$name.yaml" "mta:"
  if [ $postconf_ok = yes ]; then
    postconf -c "gen-$name" -n >"$name.n" 2>"$name.n.err"; st=$?
    check "$name: postconf -n reads main.cf" status_is $st 0
    check "$name: postconf -n has no warning" test ! -s "$name.n.err"
    postconf -c "gen-$name" -M >"$name.M" 2>"$name.M.err"; st=$?
    check "$name: postconf -M reads master.cf" status_is $st 0
    check "$name: postconf -M has no warning" test ! -s "$name.M.err"
    # postconf prints the parameters sorted, and loses the #tempfail: marks of main.cf: the same
    # section comes back, in another order, with warnings for the instance's own parameters.
    "$tf" import "$name.n" "$name.M" "gen-$name/transport" >"$name.pc.yaml" 2>"$name.pc.err"; st=$?
    check "$name: importing postconf's output exits 0" status_is $st 0
    check "$name: ... and says what the model does not use" has_text "$name.pc.err" \
      "myhostname: not used by the model"
    norm() { sed 's/   # .*//' "$1" | sort; }
    check "$name: ... the same section as from the files" cmp -s <(norm "$name.yaml") <(norm "$name.pc.yaml")
  fi
done

# greylist.yaml's MX host listens on 127.0.0.2: the default receiver gets the next address.
check "listen: addresses are used" has_text gen-greylist/transport "grey.test	smtp:[127.0.0.2]:2525"
check "assigned addresses avoid them" has_text gen-greylist/transport "*	smtp:[127.0.0.3]:2525"

# An operator's main.cf on stdin, to --out.
printf 'myhostname = mx.example\ndefault_destination_concurrency_limit = 4\n' >op.cf
"$tf" import - --out op.yaml <op.cf >op.out 2>op.err; st=$?
check "stdin import exits 0" status_is $st 0
check "--out written" has_text op.yaml 'default_destination_concurrency_limit: "4"'
check "nothing on stdout with --out" test ! -s op.out
check "unused parameter warned about" has_text op.err "tempfail import: warning: stdin:1: myhostname: not used by the model"

# Exit codes.
"$tf" import >u.out 2>u.err; st=$?
check "no argument: exit 2" status_is $st 2
check "no argument: says what is expected" has_text u.err "expected MAIN_CF [MASTER_CF [TRANSPORT]]"
"$tf" import a b c d >u.out 2>u.err; st=$?
check "four arguments: exit 2" status_is $st 2
"$tf" import --bogus op.cf >u.out 2>u.err; st=$?
check "unknown option: exit 2" status_is $st 2
"$tf" import --generate "$src/scenarios/examples/greylist.yaml" >u.out 2>u.err; st=$?
check "--generate without DIR: exit 2" status_is $st 2
"$tf" import no-such-main.cf >u.out 2>u.err; st=$?
check "missing file: exit 3" status_is $st 3
check "missing file: named" has_text u.err "no-such-main.cf: No such file or directory"
printf 'queue_run_delay = 1s\nqueue_run_delay 2s\n' >bad.cf
"$tf" import bad.cf >u.out 2>u.err; st=$?
check "bad main.cf: exit 2" status_is $st 2
check "bad main.cf: file:line and the reason" has_text u.err "bad.cf:2: expected 'name = value', got 'queue_run_delay 2s'"
check "bad main.cf: no YAML" test ! -s u.out
printf 'smtp unix - - n - x smtp\n' >bad.master
"$tf" import op.cf bad.master >u.out 2>u.err; st=$?
check "bad master.cf: exit 2" status_is $st 2
check "bad master.cf: file:line and the reason" has_text u.err "bad.master:1: smtp: maxproc must be a number or '-', got 'x'"
"$tf" import --generate "$src/scenarios/examples/greylist.yaml" gen-bad \
  --set mta.postfix.smtp_connect_timeout=1500ms >u.out 2>u.err; st=$?
check "inexpressible scenario: exit 2" status_is $st 2
check "inexpressible scenario: names the key" has_text u.err \
  "mta.postfix.smtp_connect_timeout: 1.5s: Postfix counts this parameter in whole seconds"
: >ro && chmod 444 ro
"$tf" import --generate "$src/scenarios/examples/greylist.yaml" ro/x >u.out 2>u.err; st=$?
check "unwritable directory: exit 3" status_is $st 3

checks_done import
