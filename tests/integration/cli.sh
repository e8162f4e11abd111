#!/usr/bin/env bash
# The tempfail command line, end to end: the default scenario, the run directory, determinism,
# --maillog, expect exit codes, and bad input (clear message, exit 2 or 3, nothing half-written).
# Usage: TEMPFAIL=path/to/tempfail cli.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"

# The built-in default: a retry storm; its expect lines describe the storm, so they hold (exit 0).
"$tf" run --out a --maillog >a.out 2>a.err; st=$?
check "default exits 0 (its expect: lines, the storm, hold)" status_is $st 0
for f in manifest.json summary.json timeseries.csv messages.csv scenario.yaml maillog; do
  check "default wrote $f" test -s "a/$f"
done
check "no partial directory left" bash -c '! ls -d a.partial-* 2>/dev/null | grep -q .'
check "summary reports 421s" grep -Eq '"421": [1-9]' a/summary.json
check "summary reports dead destinations" grep -Eq '"dead_episodes": [1-9]' a/summary.json
check "human summary printed" contains a.out "orange"
check "maillog has Postfix deferrals" contains a/maillog "status=deferred (host mx"
check "maillog has deliveries" contains a/maillog "status=sent (250 2.0.0"
check "maillog has suspended destinations" contains a/maillog "delivery temporarily suspended"
check "messages.csv header" contains a/messages.csv "id,queue_id,host,class,domain"
check "timeseries has sessions" contains a/timeseries.csv "orange.sessions.idle"

# Determinism: same seed, byte-identical files (the manifest alone holds wall-clock figures).
"$tf" run --out b --maillog >/dev/null 2>&1
for f in summary.json timeseries.csv messages.csv scenario.yaml maillog; do
  check "deterministic $f" cmp -s "a/$f" "b/$f"
done
"$tf" run --out c --seed 7 --quiet >/dev/null 2>&1
check "another seed differs" bash -c '! cmp -s a/messages.csv c/messages.csv'

# A scenario whose expectations hold exits 0; --set changes values.
cat >ok.yaml <<'Y'
name: calm
duration: 5m
traffic:
  classes:
    - name: t
      arrivals: { process: poisson, rate: 2/s }
      domains: { calm.test: 1 }
expect:
  - receivers.default.replies.421 == 0
  - t.latency.p95 < 10s
Y
"$tf" run ok.yaml --out ok --quiet; st=$?
check "passing expect exits 0" status_is $st 0
"$tf" run ok.yaml --out ok2 --quiet --set 'expect=["t.latency.p95 < 1us"]' 2>ok2.err; st=$?
check "--set expect failing exits 1" status_is $st 1

# Bad input: a clear message naming what and where, exit 2, no run directory.
"$tf" run --bogus 2>e1 >/dev/null; st=$?
check "unknown option exits 2" status_is $st 2
"$tf" run missing.yaml --out m 2>e2 >/dev/null; st=$?
check "missing file exits 2" status_is $st 2
check "missing file named" contains e2 "missing.yaml"
check "no directory for a bad scenario" test ! -e m
printf 'name: x\ntraffic:\n  classes:\n    - name: t\n      arivals: { process: poisson, rate: 1/s }\n      domains: { a.test: 1 }\n' >typo.yaml
"$tf" run typo.yaml --out t 2>e3 >/dev/null; st=$?
check "typo exits 2" status_is $st 2
check "typo located and suggested" contains e3 "typo.yaml:5:7"
check "typo suggestion" contains e3 "did you mean 'arrivals'"
"$tf" run ok.yaml --set nosuchkey=1 --out s 2>e4 >/dev/null; st=$?
check "--set unknown key exits 2" status_is $st 2
"$tf" run ok.yaml --seed -3 2>e5 >/dev/null; st=$?
check "bad seed exits 2" status_is $st 2
touch afile
"$tf" run ok.yaml --out afile/sub --quiet 2>e6 >/dev/null; st=$?
check "unwritable run directory exits 3" status_is $st 3
"$tf" help >h.out; st=$?
check "help exits 0" status_is $st 0
check "help teaches run" contains h.out "tempfail run"
"$tf" run --help >rh.out; check "run --help lists --set" contains rh.out "--set KEY=VALUE"

checks_done cli.sh
