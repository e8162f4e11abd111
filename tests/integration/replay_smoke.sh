#!/usr/bin/env bash
# replay_smoke.sh - a quick `tempfail replay` through a real Postfix, and what goes wrong.
#
# A small scenario (30 messages to a receiver with no policy and one with a 4xx to a third of the
# RCPTs) replayed at speedup 4: every message accounted for exactly once (messages.csv, Postfix's
# status=sent lines, testsmtpd's accepted messages), the run directory complete and drawable, the
# deferrals in the summary as Postfix logged them. Then: a key Postfix cannot express (exit 2, the
# key named), a speedup that distorts a timer (exit 2), a testsmtpd that never listens (exit 3,
# named, stopped), an address taken (exit 3, named), Ctrl-C during a replay (exit 3, no run
# directory, nothing left running), not root (exit 3, says so). Quick enough for the sanitizer pass.
# Usage: replay_smoke.sh SOURCE_DIR WORK_DIR   (env TEMPFAIL; run as root, as Postfix must start)
set -uo pipefail
src=$1 work=$2
. "$src/tests/integration/checks.bash"
. "$src/tests/integration/replay.bash"

cat >"$work/smoke.yaml" <<'YAML'
name: replay-smoke
seed: 5
duration: 10s
until: drained
sample_every: 1s
traffic:
  classes:
    - name: mail
      arrivals: { process: burst, count: 30, over: 10s }
      size: 2KB
      domains: { plain.test: 2, flaky.test: 1 }
receivers:
  - name: plain
    domains: [plain.test]
  - name: flaky
    domains: [flaky.test]
    policy:
      - { rule: random_fault, stage: rcpt, probability: 0.3, reply: "451 4.3.0 try again later" }
mta:
  postfix:
    queue_run_delay: 8s
    minimal_backoff_time: 8s
    maximal_backoff_time: 16s
    smtp_connection_cache_on_demand: no
YAML
"$TEMPFAIL" replay "$work/smoke.yaml" --mta postfix --speedup 4 -q -o "$work/run" >"$work/run.out" 2>&1
check "smoke: replay exit 0" status_is $? 0
r=$work/run
n=$(json "$r/summary.json" 'd["messages"]["arrived"]' 2>/dev/null || echo 0)
check "smoke: 30 messages" [ "$n" -eq 30 ]
check "smoke: one row each" [ "$(($(wc -l <"$r/messages.csv") - 1))" -eq 30 ]
check "smoke: unique queue ids" [ "$(tail -n +2 "$r/messages.csv" | cut -d, -f2 | sort -u | wc -l)" -eq 30 ]
check "smoke: all delivered" [ "$(json "$r/summary.json" 'd["messages"]["delivered"]')" -eq 30 ]
check "smoke: one status=sent each" [ "$(grep -c 'status=sent' "$r/maillog")" -eq 30 ]
check "smoke: testsmtpd accepted each once" [ "$(grep -c '"event": *"message"' "$r/testsmtpd.events.jsonl")" -eq 30 ]
deferred=$(grep -c 'status=deferred' "$r/maillog")
check "smoke: the deferrals Postfix logged" [ "$(json "$r/summary.json" 'd["messages"]["deferrals"]')" -eq "$deferred" ]
check "smoke: 4xx at RCPT" [ "$(json "$r/summary.json" 'd["deferrals"].get("4xx rcpt", 0)')" -eq "$deferred" ]
check "smoke: the replay's figures" [ "$(json "$r/summary.json" 'd["replay"]["speedup"]')" = 4 ]
for f in summary.json manifest.json scenario.yaml timeseries.csv scheduler.csv report.html queue.png sessions-plain.png \
  postfix-mta1.main.cf testsmtpd.events.jsonl; do
  check "smoke: $f written" [ -s "$r/$f" ]
done
check "smoke: nothing left running" no_leftovers
"$TEMPFAIL" compare "$r" "$r" -o "$work/cmp" >/dev/null 2>&1
check "smoke: compare reads a replay" status_is $? 0
# The real scheduler trace: qmgr's feedback lines as scheduler.csv, the same rows as
# `tempfail maillog --scheduler` reads from the log (but for the clock).
check "smoke: qmgr's feedback events traced" [ "$(($(wc -l <"$r/scheduler.csv") - 1))" -gt 0 ]
check "smoke: one per feedback line" [ "$(($(wc -l <"$r/scheduler.csv") - 1))" -eq "$(grep -c 'qmgr_queue_[a-z]*throttle: queue' "$r/maillog")" ]
"$TEMPFAIL" maillog "$r/maillog" --scheduler "$work/sched.csv" >/dev/null 2>&1
check "smoke: maillog --scheduler reads them too" status_is $? 0
check "smoke: the same rows" [ "$(cut -d, -f2- "$work/sched.csv" | md5sum)" = "$(cut -d, -f2- "$r/scheduler.csv" | md5sum)" ]
# The replay's own log, read back as a scenario: the traffic it carried (rate x span within 5% of
# the 30 messages, the domain mix exactly as injected).
"$TEMPFAIL" maillog "$r/maillog" --scenario "$work/from-log.yaml" >/dev/null 2>&1
check "smoke: maillog --scenario on a replay's log" status_is $? 0
check "smoke: its traffic within 5%" python3 - "$work/from-log.yaml" "$r/messages.csv" <<'PY'
import re, sys, csv
text = open(sys.argv[1]).read()
rate = float(re.search(r"rate: ([0-9.]+)/h", text).group(1))
span = float(re.search(r"^duration: ([0-9.]+)s", text, re.M).group(1))
n = rate * span / 3600
rows = list(csv.DictReader(open(sys.argv[2])))
doms = {d: int(c) for d, c in re.findall(r'"([a-z.]+)": (\d+)', text)}
want = {}
for row in rows:
    want[row["domain"]] = want.get(row["domain"], 0) + 1
ok = abs(n - len(rows)) <= 0.05 * len(rows) and doms == want
if not ok:
    print(f"  {n:.1f} messages from rate x span (want {len(rows)}), domains {doms} (want {want})")
sys.exit(0 if ok else 1)
PY

# --mta external: an operator's own Postfix (here a private one, made from a replay's kept
# configuration with the transport map --print-transport prints) gets the same traffic; its log is
# read from the file it writes.
"$TEMPFAIL" replay "$work/smoke.yaml" --mta postfix --speedup 4 -q --keep-work -o "$work/kept" >"$work/kept.out" 2>&1
kept=$(sed -n 's/.*work directory (configuration, logs) is //p' "$work/kept.out")
check "external: a replay keeps its work directory on request" [ -d "$kept/mta1/etc" ]
pfx=$(mktemp -d /tmp/tempfail-replay.external.XXXXXX)
chmod 755 "$pfx"
stop_external() { postfix -c "$pfx/etc" stop >/dev/null 2>&1 || true; }
trap 'stop_external; replay_cleanup' EXIT
mkdir -p "$pfx/etc" "$pfx/queue" "$pfx/data"
chown postfix "$pfx/data"
sed "s|$kept/mta1|$pfx|g" "$kept/mta1/etc/main.cf" >"$pfx/etc/main.cf"
cp "$kept/mta1/etc/master.cf" "$pfx/etc/master.cf"
"$TEMPFAIL" replay "$work/smoke.yaml" --print-transport | grep -v '^#' >"$pfx/etc/transport"
inject=$(awk '$2 == "inet" && $1 ~ /^127\./ {print $1}' "$pfx/etc/master.cf")
postfix -c "$pfx/etc" start >/dev/null 2>&1
check "external: the operator's Postfix started" postfix -c "$pfx/etc" status
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/${inject%:*}/${inject##*:}") 2>/dev/null && break; sleep 0.1; done
: >>"$pfx/maillog"
"$TEMPFAIL" replay "$work/smoke.yaml" --mta external --inject "$inject" --log "$pfx/maillog" --speedup 4 -q \
  -o "$work/ext" >"$work/ext.out" 2>&1
check "external: replay exit 0" status_is $? 0
check "external: 30 messages, all delivered" [ "$(json "$work/ext/summary.json" 'd["messages"]["delivered"]' 2>/dev/null)" = 30 ]
check "external: one row each" [ "$(($(wc -l <"$work/ext/messages.csv") - 1))" -eq 30 ]
check "external: the mta is named" [ "$(json "$work/ext/summary.json" 'd["replay"]["mta"]')" = external ]
check "external: this replay's part of the log kept" [ "$(grep -c 'status=sent' "$work/ext/maillog")" -eq 30 ]
stop_external

# What goes wrong.
sc=$work/smoke.yaml
"$TEMPFAIL" replay "$sc" --mta postfix --speedup 2 --set mta.postfix.smtp_connect_timeout=2.5s -q -o "$work/bad1" \
  >"$work/bad1.out" 2>&1
check "inexpressible: exit 2" status_is $? 2
check "inexpressible: names the key" contains "$work/bad1.out" 'smtp_connect_timeout'
check "inexpressible: no run directory" [ ! -e "$work/bad1" ]

"$TEMPFAIL" replay "$sc" --mta postfix --speedup 20 -q -o "$work/bad2" >"$work/bad2.out" 2>&1
check "distorting speedup: exit 2" status_is $? 2
check "distorting speedup: names the timer" contains "$work/bad2.out" 'use a speedup of at most'

printf '#!/bin/sh\nexec sleep 600\n' >"$work/mute-testsmtpd"
chmod 755 "$work/mute-testsmtpd"
"$TEMPFAIL" replay "$sc" --mta postfix --speedup 2 --testsmtpd "$work/mute-testsmtpd" -q -o "$work/bad3" \
  >"$work/bad3.out" 2>&1
check "mute testsmtpd: exit 3" status_is $? 3
check "mute testsmtpd: says so" contains "$work/bad3.out" 'did not listen within'
check "mute testsmtpd: stopped" [ -z "$(pgrep -f "$work/mute-testsmtpd")" ]
check "mute testsmtpd: no run directory" [ ! -e "$work/bad3" ]

# --mta external listens on fixed addresses: one taken is an error naming it.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.64.0.1", 2525)); s.listen(1); open(sys.argv[1], "w").close(); time.sleep(60)' "$work/taken" &
holder=$!
for i in $(seq 1 50); do [ -e "$work/taken" ] && break; sleep 0.1; done
: >"$work/external.log"
"$TEMPFAIL" replay "$sc" --mta external --inject 127.0.0.1:9 --log "$work/external.log" -q -o "$work/bad4" \
  >"$work/bad4.out" 2>&1
check "address taken: exit 3" status_is $? 3
check "address taken: names it" contains "$work/bad4.out" '127.64.0.1:2525.*Address already in use'
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

"$TEMPFAIL" replay "$sc" --print-transport >"$work/transport.out"
check "print-transport: the routing lines" contains "$work/transport.out" '^plain.test	smtp:\[127.64.0.1\]:2525$'

# Ctrl-C in the middle: everything stopped, no run directory.
"$TEMPFAIL" replay "$sc" --mta postfix --speedup 2 -q -o "$work/int" >"$work/int.out" 2>&1 &
pid=$!
# Once its testsmtpd runs, Postfix starts and injection begins within a few seconds.
for i in $(seq 1 200); do pgrep -P "$pid" -f testsmtpd >/dev/null && break; sleep 0.1; done
sleep 3
kill -INT "$pid"
wait "$pid"
check "Ctrl-C: exit 3" status_is $? 3
check "Ctrl-C: says so" contains "$work/int.out" 'interrupted'
check "Ctrl-C: no run directory" [ ! -e "$work/int" ]
check "Ctrl-C: nothing left running" no_leftovers

if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$TEMPFAIL" replay "$sc" --mta postfix -q -o /tmp/nobody-replay.$$ \
    >"$work/nonroot.out" 2>&1
  check "not root: exit 3" status_is $? 3
  check "not root: says so" contains "$work/nonroot.out" 'needs root'
fi

checks_done replay_smoke
