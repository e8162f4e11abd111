#!/usr/bin/env bash
# tempfail sweep and tune, end to end on the built-in retry storm (shortened to 30 minutes): the same
# tables whatever --jobs is; a sweep killed with SIGKILL and finished with --resume; three shards
# merged equal to the sweep run whole; --summaries-only; --until-ci's sequential sampling; a sweep:
# block; confidence intervals that cover a known mean at about their nominal 95%; bad command lines
# and bad merges with their messages and exit 2; and tune's recommendation, whose main.cf, master.cf
# and transport lines, imported with `tempfail import`, reproduce the winning run to the byte.
# Usage: TEMPFAIL=path/to/tempfail sweep.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"

orange=(--set duration=30m --set 'mta.transports.orange.domains=[orange.test]')
grid=(--vary mta.transports.orange.destination_concurrency_limit=1..3
      --vary 'mta.transports.orange.smtp_connection_cache_destinations=[],[orange.test]')
tables=(sweep.csv points.csv differences.csv)
same_tables() { # DIR_A DIR_B
  local f
  for f in "${tables[@]}"; do cmp "$1/$f" "$2/$f" || return 1; done
}

# --jobs 1 and --jobs 2: the same files to the byte.
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -j 1 -q --no-plots -o j1 >j1.out 2>&1; st=$?
check "sweep -j 1 exits 0" status_is $st 0
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -j 2 -q -o j2 >j2.out 2>&1; st=$?
check "sweep -j 2 exits 0" status_is $st 0
check "jobs 1 and 2: the same tables" same_tables j1 j2
check "sweep.csv: one row per run" test "$(wc -l <j1/sweep.csv)" -eq 19
check "points.csv: one row per point" test "$(wc -l <j1/points.csv)" -eq 7
check "points.csv has the interval" contains j1/points.csv "transactional.latency.p95.ci95_low"
check "every run directory" test "$(ls -d j1/runs/p*-r* | wc -l)" -eq 18
check "a run directory is a whole run" test -s j1/runs/p000005-r0002/messages.csv
check "a heat map for two keys" test -s j2/heatmap-transactional.latency.p95.png
check "a chart per figure and key" test -s j2/sweep-transactional.latency.p95-mta.transports.orange.destination_concurrency_limit.png
check "report.html" has_text j2/report.html "smtp_connection_cache_destinations"
check "no charts with --no-plots" bash -c '! ls j1/*.png 2>/dev/null | grep -q .'
check "replication r has one seed across points" test \
  "$(awk -F, 'NR > 1 { print $4 "," $5 }' j1/sweep.csv | sort -u | wc -l)" -eq 3

# kill -9 in the middle, then --resume: the same tables as the sweep never interrupted.
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -j 1 -q --no-plots -o killed >/dev/null 2>&1 &
pid=$!
for _ in $(seq 400); do
  [ "$(ls -d killed/runs/p*-r* 2>/dev/null | wc -l)" -ge 4 ] && break
  sleep 0.05
done
pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
check "killed mid-sweep (some runs, not all)" test "$(ls -d killed/runs/p*-r* 2>/dev/null | wc -l)" -lt 18
check "a killed sweep has no sweep.csv" test ! -e killed/sweep.csv
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -j 2 -q --no-plots -o killed >/dev/null 2>&1; st=$?
check "without --resume a started sweep is refused" status_is $st 2
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -j 2 -q --no-plots -o killed --resume >resume.out 2>&1; st=$?
check "--resume exits 0" status_is $st 0
check "--resume: the same tables" same_tables j1 killed
check "--resume leaves no partial run directory" bash -c '! ls -d killed/runs/*.partial-* 2>/dev/null | grep -q .'
"$tf" sweep "${orange[@]}" --vary mta.transports.orange.destination_concurrency_limit=1..4 -R 3 -q --no-plots \
  -o killed --resume >other.out 2>&1; st=$?
check "--resume of another sweep is refused" status_is $st 2
check "... saying so" has_text other.out "killed"

# Three shards, merged: the sweep run whole.
for i in 0 1 2; do
  "$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -q --no-plots --shard $i/3 -o shard$i >/dev/null 2>&1 ||
    echo "shard $i failed"
done
"$tf" sweep merge shard2 shard0 shard1 --no-plots -o merged >merge.out 2>&1; st=$?
check "merge exits 0" status_is $st 0
check "3 shards merged: the same tables" same_tables j1 merged
check "merged holds every run" test "$(ls -d merged/runs/p*-r* | wc -l)" -eq 18
"$tf" sweep merge shard0 shard1 -o merge-missing >missing.out 2>&1; st=$?
check "merge with a shard missing exits 2" status_is $st 2
check "... naming it" has_text missing.out "shard 2/3 is missing (2 of 3 given)"
"$tf" sweep merge shard0 shard0 shard1 -o merge-twice >twice.out 2>&1; st=$?
check "merge with a shard twice exits 2" status_is $st 2
check "... naming it" has_text twice.out "are both shard 0/3"
"$tf" sweep "${orange[@]}" --vary mta.transports.orange.destination_concurrency_limit=1..2 -R 3 -q --no-plots \
  --shard 2/3 -o shard-other >/dev/null 2>&1
"$tf" sweep merge shard0 shard1 shard-other -o merge-other >other-merge.out 2>&1; st=$?
check "merge of shards of different sweeps exits 2" status_is $st 2
check "... saying so" has_text other-merge.out "are shards of different sweeps"

# --summaries-only: the same tables, only the summaries kept.
"$tf" sweep "${orange[@]}" "${grid[@]}" -R 3 -q --no-plots --summaries-only -o summaries >/dev/null 2>&1; st=$?
check "--summaries-only exits 0" status_is $st 0
check "--summaries-only: the same tables" same_tables j1 summaries
check "--summaries-only keeps summary.json" test -s summaries/runs/p000003-r0001/summary.json
check "--summaries-only drops messages.csv" test ! -e summaries/runs/p000003-r0001/messages.csv

# --until-ci: replications are added until the interval is narrow enough, or the maximum.
"$tf" sweep "${orange[@]}" --vary mta.transports.orange.destination_concurrency_limit=1..3 -R 2 \
  --until-ci receivers.orange.replies.421=60 --max-replications 12 -q --no-plots -o until >until.out 2>&1; st=$?
check "--until-ci exits 0" status_is $st 0
check "--until-ci: each point narrow enough or at the maximum" awk -F, '
  NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "replications") n = i; if ($i == "receivers.orange.replies.421.ci95_low") lo = i; if ($i == "receivers.orange.replies.421.ci95_high") hi = i } next }
  { if (!($(hi) - $(lo) < 60 || $(n) == 12)) bad = 1; if ($(n) > 2) grew = 1 }
  END { exit bad || !grew || !n || !lo }' until/points.csv

# A sweep: block in the scenario says what --vary would.
cat >block.yaml <<'EOF'
name: block
duration: 30m
traffic:
  classes:
    - { name: transactional, arrivals: { process: poisson, rate: 1/s }, domains: { orange.test: 1 } }
receivers:
  - name: orange
    domains: [orange.test]
    mx: [{ host: mx.orange.test }]
    policy:
      - { rule: concurrency_per_ip, limit: 2 }
mta:
  transports:
    orange: { domains: [orange.test] }
sweep:
  vary:
    mta.transports.orange.destination_concurrency_limit: 1..3
  replications: 2
expect:
  - transactional.latency.p95 < 60s
EOF
"$tf" sweep block.yaml -q --no-plots -o block >block.out 2>&1; st=$?
check "a sweep: block runs" status_is $st 0
check "a sweep: block: 3 points of 2" test "$(wc -l <block/sweep.csv)" -eq 7
"$tf" sweep block.yaml --vary mta.transports.orange.destination_concurrency_limit=1,2 -R 1 -q --no-plots \
  -o block-vary >/dev/null 2>&1
check "--vary replaces the block's vary: and -R its replications" test "$(wc -l <block-vary/sweep.csv)" -eq 3

# Confidence intervals with a known answer: Poisson arrivals at 1/s for 100 s, so messages.arrived
# has mean 100. Forty points (base seeds 1..40) of 5 replications: the 95% interval of the mean
# should cover 100 in about 38 of them (34 or fewer happens with probability under 1%). The seeds are
# fixed, so the count is the same on every machine.
cat >poisson.yaml <<'EOF'
name: poisson
duration: 100s
traffic:
  classes:
    - { name: a, arrivals: { process: poisson, rate: 1/s }, domains: { x.test: 1 } }
receivers:
  - { name: x, domains: [x.test], mx: [{ host: mx.x.test }] }
EOF
"$tf" sweep poisson.yaml --vary seed=1..40 -R 5 -q --no-plots --summaries-only -o poisson >poisson.out 2>&1; st=$?
check "the coverage sweep exits 0" status_is $st 0
covered=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "messages.arrived.ci95_low") lo = i; if ($i == "messages.arrived.ci95_high") hi = i } next }
  { if ($(lo) <= 100 && 100 <= $(hi)) c++ } END { print c + 0 }' poisson/points.csv)
echo "95% intervals covering the true mean: $covered of 40"
check "95% intervals cover the known mean at about their rate ($covered of 40)" test "$covered" -ge 35 -a "$covered" -le 40
check "the intervals are not degenerate" awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "messages.arrived.sd") s = i; next }
  { if ($(s) + 0 <= 0) bad = 1 } END { exit bad || !s }' poisson/points.csv

# Bad command lines: exit 2, a message naming what is wrong, nothing written.
bad() { # NAME WANT_TEXT ARGS...
  local name=$1 want=$2; shift 2
  "$tf" "$@" -o bad-out >bad.out 2>&1; local st=$?
  check "$name: exit 2" status_is $st 2
  check "$name: message" has_text bad.out "$want"
  check "$name: nothing written" test ! -e bad-out
}
bad "nothing varied" "what to vary? (--vary KEY=VALUES" sweep
bad "empty range" "the range is empty (its end is before its start)" sweep --vary k=3..1
bad "unknown key" "mta.transports.orange.no_such_key" sweep "${orange[@]}" --vary mta.transports.orange.no_such_key=1,2
bad "bad value" "destination_concurrency_limit" sweep "${orange[@]}" --vary mta.transports.orange.destination_concurrency_limit=1,x
bad "zip of unequal axes" "--zip pairs the i-th values of every --vary, but" sweep --vary seed=1,2 --vary duration=1h,2h,3h --zip
bad "key varied twice" "--vary seed is given twice" sweep --vary seed=1,2 --vary seed=3
bad "bad shard" "--shard: expected I/N with 0 <= I < N" sweep --vary seed=1,2 --shard 3/3
bad "bad --until-ci" "expected METRIC=WIDTH" sweep --vary seed=1,2 --until-ci latency.p95
bad "zero replications" "--replications" sweep --vary seed=1,2 -R 0
bad "--minimize on sweep" "that is \`tempfail tune\`'s" sweep --vary seed=1,2 --minimize latency.p95
# a figure no run has is known only after the first runs: exit 2, the nearest name, no recommendation
"$tf" tune --set duration=30m --vary seed=1,2 -R 1 -q --no-plots --minimize transactional.latncy.p95 -o typo >typo.out 2>&1
check "tune of an unknown figure: exit 2" status_is $? 2
check "tune of an unknown figure: the nearest name" has_text typo.out "no run of the sweep has this figure (did you mean 'transactional.latency.p95'?)"
check "tune of an unknown figure: no recommendation" test ! -e typo/main.cf

# tune on the default retry storm (its whole 2 hours): orange's concurrency 1..6 and its session caching. The recommendation's
# expect: passes, and its lines, imported, reproduce the winning run to the byte.
# The service level to meet is given: the default's own expect: lines describe its storm.
"$tf" tune --set 'expect=[receivers.orange.replies.421 == 0, transactional.latency.p95 < 60s]' \
  --set 'mta.transports.orange.domains=[orange.test]' --set mta.transports.orange.smtp_tls_connection_reuse=yes \
  --vary mta.transports.orange.destination_concurrency_limit=1..6 \
  --vary 'mta.transports.orange.smtp_connection_cache_destinations=[],[orange.test]' -R 2 --no-plots \
  -o tune >tune.out 2>tune.err; st=$?
check "tune exits 0 (a recommendation)" status_is $st 0
check "tune names a winner" contains tune.out "^Recommended"
check "tune names the runner-up" contains tune.out "[Rr]unner-up"
check "tune explains why" contains tune.out "^Why"
check "tune prints main.cf lines" has_text tune.out "main.cf"
check "tune prints a master.cf entry" contains tune.out "unix  *-  *-  *n  *-  *-  *smtp"
for f in main.cf master.cf transport recommendation.txt; do check "tune wrote $f" test -s "tune/$f"; done
winner=$(sed -n 's/^Recommended: point \([0-9]*\).*/\1/p' tune.out | head -1)
check "the winner's point is printed" test -n "$winner"
wdir=$(printf 'tune/runs/p%06d-r0000' "${winner:-0}")
check "the winner's expect: passed" grep -q '"pass": true' "$wdir/summary.json"
check "... and nothing failed" lacks "$wdir/summary.json" '"pass": false'
"$tf" import tune/main.cf tune/master.cf tune/transport >imported.yaml 2>import.err; st=$?
check "tempfail import reads tune's files" status_is $st 0
# the winner's scenario, with its mta: section replaced by the imported one
awk '/^mta:/ { skip = 1; next } skip && /^[^ #]/ { skip = 0 } !skip' "$wdir/scenario.yaml" >pasted.yaml
sed -n '/^mta:/,$p' imported.yaml >>pasted.yaml
seed=$(sed -n 's/^  "seed": \([0-9]*\),*/\1/p' "$wdir/summary.json" | head -1)
"$tf" run pasted.yaml --seed "${seed:-0}" --no-plots -q -o pasted-run >pasted.out 2>&1; st=$?
check "the pasted configuration runs and passes" status_is $st 0
check "the pasted configuration reproduces the winner" cmp "$wdir/summary.json" pasted-run/summary.json

checks_done sweep
