#!/usr/bin/env bash
# docs/tutorial.md does what it says: its ```sh blocks run, in order, in a fresh directory with
# tempfail on PATH, each command with the exit status the page gives it; the charts and files it
# points at exist; and every figure it quotes is the run's own (read from summary.json, points.csv
# or explain's output) and appears in the page as quoted, so a model change that moves a figure
# fails here until the page is updated.
# Usage: TEMPFAIL=path/to/tempfail tutorial.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work/bin" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
export TEMPFAIL_LIBRARY=$src/scenarios
ln -s "$(cd "$(dirname "$tf")" && pwd)/$(basename "$tf")" bin/tempfail
export PATH=$work/bin:$PATH
page=$src/docs/tutorial.md

# the commands of the page's sh blocks, one per line (continuations joined)
awk '/^```sh$/ {on=1; next} /^```$/ {on=0} on' "$page" | sed ':a;/\\$/{N;s/\\\n//;ba}' >commands
want_status=(0 0 0 1 1 0 0 0) # storm, explain, sweep, impatient (its expect: fails), reuse (too), explain, fix, compare
check "the page has its ${#want_status[@]} commands" test "$(wc -l <commands)" -eq ${#want_status[@]}
i=0
while IFS= read -r cmd; do
  bash -c "$cmd" >"out.$i" 2>"err.$i" </dev/null; st=$?
  check "command $((i + 1)): exit ${want_status[$i]}: ${cmd:0:70}" status_is $st "${want_status[$i]}" ||
    tail -5 "err.$i"
  i=$((i + 1))
done <commands

for f in report.html window.png sessions-orange.png queue.png attempts.png; do
  check "runs/storm/$f is there" test -s "runs/storm/$f"
done
check "compare wrote its report" test -s runs/compare-storm-vs-fix/report.html

says() { # FILE TEXT: TEXT in FILE's text with its lines joined (explain wraps its output)
  tr -s ' \n' '  ' <"$1" | grep -qF -- "$2" || { echo "  '$2' not in $1"; return 1; }
}
# figure RUN_FILE EXPR VALUE QUOTED: EXPR (python over d, the JSON) is VALUE, and the page says QUOTED
figure() {
  local file=$1 expr=$2 value=$3 quoted=$4 got
  got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$file" "$expr") ||
    return 1
  [ "$got" = "$value" ] || { echo "  $file: $expr is $got, the page says $value"; return 1; }
  tr -s ' \n' '  ' <"$page" | grep -qF -- "$quoted" || { echo "  the page does not say '$quoted'"; return 1; }
}
S=runs/storm/summary.json
o='d["receivers"]["orange"]'
dst='d["destinations"]["smtp:orange.test"]'
check "storm: 421s" figure $S "$o[\"replies\"][\"421\"]" 12973 "**12973** connections with 421"
check "storm: connections, messages" figure $S "($o[\"connections\"], $o[\"messages\"])" "(22122, 9149)" \
  "**22122** connections for **9149** messages"
check "storm: dead episodes, dead time" figure $S "($dst[\"dead_episodes\"], int($dst[\"dead_time\"] // 60))" \
  "(81, 360)" "declared dead **81** times, for **6h00m** in all"
check "storm: the codes' p95" figure $S 'int(d["classes"]["transactional"]["latency"]["p95"])' 8911 "**2h28m31s**"
check "storm: re-sends" figure $S 'd["messages"]["resent"]' 1021 "asked for **1021** new codes"
check "storm: still queued" figure $S 'd["messages"]["queued"]' 379 "**379** messages are still queued"
check "storm: the window's top" figure $S "$dst[\"window\"][\"max\"]" 9 "reached **9** deliveries at once"
check "storm: attempts" figure $S 'd["messages"]["attempts"]' 173566 "attempts went from 173566"
check "explain: the window over the cap" says out.1 "Postfix's concurrency window for smtp:orange.test reached 9 deliveries at once"
check "explain: the first death" says out.1 "declared dead 81 times (first by 15m10s)"

# the sweep's points, in the page's table
sweep_rows() {
  python3 - "$page" <<'EOF'
import csv, sys
rows = {}
for r in csv.DictReader(open("runs/concurrency/points.csv")):
    lim = r.get("destination_concurrency_limit") or r.get("mta.transports.orange.destination_concurrency_limit")
    rows[lim] = (round(float(r["receivers.orange.replies.421.mean"])), round(float(r["receivers.orange.messages.mean"])))
page = open(sys.argv[1]).read()
want = {"1": (50, 9528), "2": (316, 9528), "3": (390, 9528), "5": (12995, 9198), "10": (12973, 9149)}
assert rows == want, rows
for lim, (r421, msgs) in want.items():
    assert "| %s | %d | %d |" % (lim, r421, msgs) in page, lim
EOF
}
check "sweep: every point's 421s and messages as in the page's table" sweep_rows

I=runs/impatient/summary.json
check "impatient: attempts" figure $I 'd["messages"]["attempts"]' 9209087 "**9209087**"
check "impatient: 421s" figure $I "$o[\"replies\"][\"421\"]" 21328 "12973 to **21328**"
check "impatient: dead episodes" figure $I "$dst[\"dead_episodes\"]" 1424 "81 to **1424**"
check "impatient: queued" figure $I 'd["messages"]["queued"]' 4551 "**4551** messages are"

R=runs/reuse/summary.json
check "reuse: connections" figure $R "$o[\"connections\"]" 1156 "orange sees **1156** connections instead of 9918"
check "reuse: drained" figure $R 'int(d["queue"]["drained_at"] // 60)' 101 "drains in **1h41m**"
check "reuse: peak sessions" figure $R "$o[\"sessions\"][\"peak\"]" 5 "up to **5** sessions"
check "reuse: refusals with idle sessions open" figure $R \
  "($o[\"cap_refusals\"][\"with_idle\"], $o[\"refused_by_rule\"][\"concurrency_per_ip\"])" "(14, 14)" \
  "**14 of them (100%)**"
check "reuse: explain says so" bash -c 'tr -s " \n" "  " <out.5 | grep -qF "14 of them (100%) while idle cached sessions were open"'
check "the sweep's limit 3: 9918 connections" \
  python3 -c 'import csv; r=[x for x in csv.DictReader(open("runs/concurrency/sweep.csv")) if x["point"]=="2"][0]; assert r["receivers.orange.connections"]=="9918", r["receivers.orange.connections"]'

F=runs/fix/summary.json
check "fix: no 421" figure $F "$o[\"replies\"][\"421\"]" 0 "**0** 421s"
check "fix: connections" figure $F "$o[\"connections\"]" 600 "**600** connections to orange"
check "fix: drained at the last arrival" figure $F 'int(d["queue"]["drained_at"])' 3600 "empty at **1h00m00s**"
check "fix: no re-send" figure $F 'd["messages"]["resent"]' 0 "column reads **0**"
checks_done tutorial
