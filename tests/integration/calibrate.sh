#!/usr/bin/env bash
# calibrate.sh - `tempfail calibrate` end to end: the calibration replays through a real Postfix
# (60 messages, defaults then max_use = 1) give every figure, positive, with how it was measured;
# the same estimate from the DIR they left, from one run directory, and from the Postfix log alone
# (which says what a log cannot tell); and bad input: a missing directory, a simulated run, a
# throttled replay (a 421 in its event log, a deferral in its log), an unreadable log - each named,
# non-zero, and nothing left running. About 30 s.
# Usage: calibrate.sh SOURCE_DIR WORK_DIR   (env TEMPFAIL; run as root, as Postfix must start)
set -uo pipefail
src=$1 work=$2
. "$src/tests/integration/checks.bash"
. "$src/tests/integration/replay.bash"

"$TEMPFAIL" calibrate --replay --messages 60 --out "$work/cal" >"$work/cal.out" 2>"$work/cal.err"
check "replay: exit 0" status_is $? 0
check "replay: both runs written" [ -s "$work/cal/default/cpu.json" -a -s "$work/cal/max_use-1/cpu.json" ]
check "replay: calibration.yaml written" [ -s "$work/cal/calibration.yaml" ]
check "replay: nothing left running" no_leftovers
# Every figure measured and positive, in the keys a scenario takes.
check "figures: all measured, positive" python3 - "$work/cal.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def secs(v):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1}[m.group(2)]
got = {}
for key in ("per_delivery", "per_message", "process_start", "connect_latency", "latency"):
    m = re.search(r"^    %s: (?:\{ dist: lognormal, median: )?([0-9.]+(?:us|ms|s))" % key, text, re.M)
    if not m:
        print("  no line for", key); sys.exit(1)
    got[key] = secs(m.group(1))
ok = all(v > 0 for v in got.values()) and got["per_delivery"] < 0.1 and got["process_start"] < 1
ok = ok and re.search(r"^    cores: [1-9]", text, re.M) and "# spread:" in text and "receivers:\n  - name: sink" in text
if not ok:
    print("  ", got); print(text)
sys.exit(0 if ok else 1)
PY
# The pasted lines load as a scenario's.
python3 - "$work/cal.out" "$work/pasted.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
mta = text[text.index("mta:\n"):text.index("receivers:\n")]
rcv = [l for l in text[text.index("receivers:\n"):].splitlines()[2:] if not l.lstrip().startswith("#")]
open(sys.argv[2], "w").write("name: pasted\nduration: 10s\ntraffic:\n  classes:\n    - name: a\n"
    "      arrivals: {process: poisson, rate: 1/s}\n      domains: {calibrate.test: 1}\n" + mta +
    "receivers:\n  - name: sink\n    domains: [calibrate.test]\n    network: {rtt: 0}\n" + "\n".join(rcv) + "\n")
PY
"$TEMPFAIL" run "$work/pasted.yaml" -q --no-plots -o "$work/pasted" >"$work/pasted.out" 2>&1
check "paste: the lines load and run" status_is $? 0
check "paste: no costless warning once calibrated" lacks "$work/pasted.out" 'costs nothing'
sed -i '/connect_latency:/d; /    latency:/d' "$work/pasted.yaml"
"$TEMPFAIL" run "$work/pasted.yaml" -q --no-plots -o "$work/pasted0" >"$work/pasted0.out" 2>&1
check "paste: without the receiver's lines, the costless warning" contains "$work/pasted0.out" 'receivers\[sink\]: costs nothing.*tempfail calibrate'

"$TEMPFAIL" calibrate "$work/cal" >"$work/again.out" 2>&1
check "DIR: exit 0" status_is $? 0
check "DIR: the same estimate" [ "$(grep -v '^# tempfail calibrate' "$work/again.out" | md5sum)" = "$(grep -v '^# tempfail calibrate' "$work/cal.out" | md5sum)" ]
"$TEMPFAIL" calibrate "$work/cal/default" >"$work/one.out" 2>&1
check "one run: exit 0" status_is $? 0
check "one run: per_delivery measured" contains "$work/one.out" '^    per_delivery: [0-9]'
check "one run: start-up by intercept or said why not" contains "$work/one.out" 'intercept\|# process_start: not measured'

"$TEMPFAIL" calibrate --maillog "$work/cal/default/maillog" >"$work/log.out" 2>&1
check "maillog: exit 0" status_is $? 0
check "maillog: 60 deliveries" contains "$work/log.out" '^# 60 messages, 60 delivery requests by [0-9]* smtp(8) processes'
check "maillog: no CPU figure" contains "$work/log.out" '# per_delivery: not measured: a log holds no CPU times'
check "maillog: no server-side figure" contains "$work/log.out" '# connect_latency: not measured: a client.s log has no server-side times'
check "maillog: says what it cannot" contains "$work/log.out" 'From a log alone'

# Bad input.
"$TEMPFAIL" calibrate "$work/nope" >"$work/e1.out" 2>&1
check "missing dir: exit 3" status_is $? 3
check "missing dir: named" contains "$work/e1.out" "$work/nope: No such file or directory"
"$TEMPFAIL" run "$work/pasted.yaml" -q --no-plots -o "$work/sim" >/dev/null 2>&1
"$TEMPFAIL" calibrate "$work/sim" >"$work/e2.out" 2>&1
check "simulated run: exit 2" status_is $? 2
check "simulated run: not a replay's" contains "$work/e2.out" "$work/sim: not a replay's run directory"
cp -r "$work/cal/default" "$work/throttled"
sed -i '0,/"event": "reply"/s/"event": "reply", "text": "220[^"]*"/"event": "reply", "text": "421 4.7.0 Too many connections"/' \
  "$work/throttled/testsmtpd.events.jsonl"
"$TEMPFAIL" calibrate "$work/throttled" >"$work/e3.out" 2>&1
check "421 in the events: exit 2" status_is $? 2
check "421 in the events: where" contains "$work/e3.out" "throttled: testsmtpd.events.jsonl line [0-9]* replied '421 4.7.0"
cp -r "$work/cal/default" "$work/deferred"
sed -n '0,/status=sent/s/status=sent (250[^)]*)/status=deferred (host said: 421 4.7.0 slow down)/p' "$work/deferred/maillog" \
  >>"$work/deferred/maillog"
"$TEMPFAIL" calibrate --maillog "$work/deferred/maillog" >"$work/e4.out" 2>&1
check "deferral in the log: exit 2" status_is $? 2
check "deferral in the log: where" contains "$work/e4.out" "deferred/maillog: throttled: line [0-9]* of the log is a deferral"
"$TEMPFAIL" calibrate --maillog "$work/none.log" >"$work/e5.out" 2>&1
check "missing log: exit 3" status_is $? 3
check "missing log: named" contains "$work/e5.out" "$work/none.log: No such file or directory"
"$TEMPFAIL" calibrate >"$work/e6.out" 2>&1
check "nothing to measure: exit 2" status_is $? 2
"$TEMPFAIL" calibrate --help >"$work/help.out" 2>&1
check "help: teaches" contains "$work/help.out" 'max_use = 1'
"$TEMPFAIL" --help >"$work/top.out" 2>&1
check "top-level help: lists calibrate" contains "$work/top.out" '^  calibrate '

checks_done calibrate
