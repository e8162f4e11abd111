#!/usr/bin/env bash
# `tempfail compare` and `tempfail plot` end to end: two known runs of tests/data/scenarios/plots.yaml
# (B raises the capped receiver's limit, so it gets fewer 421s); the table's deltas against the
# summaries; --fail-if exit codes (0 holds, 1 crossed, 2 bad threshold, 3 unreadable run); the
# comparison directory (report.html, overlay charts; by default beside run A, never in the current
# directory); `tempfail plot` redraws from the files alone.
# Usage: TEMPFAIL=path/to/tempfail compare.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"

scn=$src/tests/data/scenarios/plots.yaml
"$tf" run "$scn" --out a --quiet --set 'expect=[]'; st=$?
check "run A" status_is $st 0
"$tf" run "$scn" --out b --quiet --set 'expect=[]' --set 'receivers.capped.policy[0].limit=6'; st=$?
check "run B" status_is $st 0
for f in report.html queue.png replies.png window.png latency.png oldest.png attempts.png resources.png \
         sessions-capped.png sessions-open.png; do
  check "run drew $f" test -s "a/$f"
done

# The table: every delta as the two summaries give it.
"$tf" compare a b >cmp.out 2>cmp.err; st=$?
check "compare without thresholds exits 0" status_is $st 0
check "default comparison directory" test -s compare-a-vs-b/report.html
for f in queue.png latency.png sessions-capped.png sessions-open.png; do
  check "overlay $f" test -s "compare-a-vs-b/$f"
done
check "no colour into a pipe" bash -c "! grep -q $'\033' cmp.out"

# The default comparison directory goes beside run A, not into the current directory.
mkdir -p runs elsewhere && cp -r a runs/a && cp -r b runs/b
(cd elsewhere && "$tf" compare ../runs/a ../runs/b --no-plots >../beside.out 2>../beside.err); st=$?
check "compare from another directory exits 0" status_is $st 0
check "comparison directory beside A" test -s runs/compare-a-vs-b/report.html
check "nothing written into the current directory" bash -c '[ -z "$(ls -A elsewhere)" ]'
check "the comparison's path printed" has_text beside.out "comparison: ../runs/compare-a-vs-b/report.html"
(cd elsewhere && "$tf" compare "$PWD/../runs/b/" ../a --quiet --no-plots); st=$?
check "absolute A with a trailing slash exits 0" status_is $st 0
check "comparison beside an absolute A" test -s runs/compare-b-vs-a/report.html
check "still nothing in the current directory" bash -c '[ -z "$(ls -A elsewhere)" ]'
(cd runs/a && "$tf" compare . ../b --quiet --no-plots); st=$?
check "A given as . exits 0" status_is $st 0
check "A given as . is named by its directory" test -s runs/compare-a-vs-b/report.html
check "nothing written inside A" test ! -e runs/a/compare-.-vs-b
expected_rows() { # metric A B delta change, from the summaries, formatted as the table does
  python3 - "$@" <<'PY'
import json, sys
a = json.load(open("a/summary.json")); b = json.load(open("b/summary.json"))
def get(s, path):
    for k in path.split("."):
        s = s[k]
    return s
for m, path in [("receivers.capped.replies.421", "receivers.capped.replies.421"),
                ("receivers.capped.connections", "receivers.capped.connections"),
                ("messages.deferrals", "messages.deferrals"),
                ("queue.peak.total", "queue.peak.total")]:
    va, vb = get(a, path), get(b, path)
    d = vb - va
    ds = ("+" if d > 0 else "") + ("%g" % d)
    rel = "%+.1f%%" % (100.0 * d / abs(va)) if va else "-"
    if va and abs(d / va) < 0.0005: rel = "0%"
    print(m, "%g" % va, "%g" % vb, ds, rel)
PY
}
expected_rows >expected.txt
check "python computed the expected rows" test -s expected.txt
while read -r m va vb d rel; do
  got=$(awk -v m="$m" '$1 == m { print $1, $2, $3, $4, $5 }' cmp.out)
  check "delta row $m" test "$got" = "$m $va $vb $d $rel"
  [ "$got" = "$m $va $vb $d $rel" ] || echo "  got '$got', want '$m $va $vb $d $rel'"
done <expected.txt
check "B has fewer 421s" python3 -c "
import json; a=json.load(open('a/summary.json')); b=json.load(open('b/summary.json'))
assert b['receivers']['capped']['replies']['421'] < a['receivers']['capped']['replies']['421']"
check "table is aligned" python3 -c "
import sys
rows = [l.rstrip('\n') for l in open('cmp.out')
        if l.startswith('  ') and not l.startswith('  ok') and 'CROSSED' not in l]
assert len(set(len(r) for r in rows)) == 1, set(len(r) for r in rows)"

# Thresholds: B has fewer 421s, so '+0' holds from a to b and is crossed from b to a.
"$tf" compare a b --out c1 --quiet --fail-if 'receivers.capped.replies.421 +0' 2>c1.err; st=$?
check "threshold holds: exit 0" status_is $st 0
"$tf" compare b a --out c2 --fail-if 'capped.replies.421 +0' --fail-if 'messages.delivered -50%' >c2.out 2>c2.err; st=$?
check "threshold crossed: exit 1" status_is $st 1
check "crossed threshold named on stderr" has_text c2.err "threshold crossed: capped.replies.421 +0"
check "the holding one is not named" lacks c2.err "messages.delivered"
check "crossed threshold in the table" has_text c2.out "CROSSED"
check "crossed threshold in the report" has_text c2/report.html "CROSSED"
# A fall of half what B really fell by is crossed; one of twice as much holds.
fall=$(python3 -c "
import json
a, b = (json.load(open(d + '/summary.json'))['receivers']['capped']['replies']['421'] for d in 'ab')
print(100 * (a - b) / a)")
half=$(python3 -c "print(round($fall / 2, 1))") twice=$(python3 -c "print(round($fall * 2, 1))")
"$tf" compare a b --out c3 --quiet --fail-if "capped.replies.421 -$half%" 2>c3.err; st=$?
check "a fall of $fall% crosses '-$half%': exit 1" status_is $st 1
"$tf" compare a b --out c3b --quiet --fail-if "capped.replies.421 -$twice%" 2>c3b.err; st=$?
check "a fall of $fall% holds '-$twice%': exit 0" status_is $st 0
"$tf" compare a a --out c4 --quiet --fail-if 'login.latency.p95 +0%' --fail-if 'queue.oldest +0s' 2>c4.err; st=$?
check "a run against itself holds +0: exit 0" status_is $st 0

# Bad thresholds: exit 2, a message saying what and where, nothing written.
"$tf" compare a b --out bad1 --fail-if 'login.latency.p95 10%' 2>bad1.err; st=$?
check "threshold without a sign: exit 2" status_is $st 2
check "says what is wrong" has_text bad1.err "--fail-if 'login.latency.p95 10%': the change '10%' must start with + or -"
check "nothing written on a bad threshold" test ! -e bad1
"$tf" compare a b --out bad2 --fail-if 'login.latncy.p95 +10%' 2>bad2.err; st=$?
check "unknown metric: exit 2" status_is $st 2
check "suggests the metric" has_text bad2.err "did you mean 'login.latency.p95'"
"$tf" compare a b --fail-if 'login.latency.p95 +10q' 2>bad3.err; st=$?
check "unknown unit: exit 2" status_is $st 2
check "names the unit" has_text bad3.err "unknown unit 'q'"
"$tf" compare a 2>bad4.err; st=$?
check "one run only: exit 2" status_is $st 2
"$tf" compare a no-such-run 2>bad5.err; st=$?
check "unreadable run: exit 3" status_is $st 3
check "names the file" has_text bad5.err "no-such-run/summary.json"

# --no-plots and formats
"$tf" compare a b --out np --quiet --no-plots; st=$?
check "compare --no-plots exits 0" status_is $st 0
check "compare --no-plots: report" test -s np/report.html
check "compare --no-plots: no charts" bash -c '! ls np/*.png 2>/dev/null | grep -q .'
"$tf" compare a b --out sv --quiet --format svg; st=$?
check "compare --format svg" test -s sv/latency.svg
"$tf" run "$scn" --out nop --quiet --set 'expect=[]' --no-plots; st=$?
check "run --no-plots exits 0" status_is $st 0
check "run --no-plots: no charts" bash -c '! ls nop/*.png 2>/dev/null | grep -q .'
check "run --no-plots: report still written" test -s nop/report.html
"$tf" run "$scn" --out pf --quiet --set 'expect=[]' --plot-format gif 2>pf.err; st=$?
check "run --plot-format gif: exit 2" status_is $st 2
check "run --plot-format gif: says so" has_text pf.err "expected png, svg or pdf"

# `tempfail plot` draws the same files from the run directory alone (cairo's PNG is deterministic).
mkdir -p saved && cp a/*.png saved/ && rm a/*.png
"$tf" plot a; st=$?
check "plot exits 0" status_is $st 0
for f in saved/*.png; do
  check "plot redrew $(basename "$f") identically" cmp -s "$f" "a/$(basename "$f")"
done
"$tf" plot a --format pdf; st=$?
check "plot --format pdf" bash -c 'head -c 5 a/queue.pdf | grep -q "%PDF-"'
"$tf" plot no-such-run 2>p.err; st=$?
check "plot on a missing run: exit 3" status_is $st 3
"$tf" plot a --format gif 2>p2.err; st=$?
check "plot --format gif: exit 2" status_is $st 2

checks_done compare.sh
