#!/usr/bin/env bash
# `tempfail maillog` on the maillog of simulated runs, plain and gzipped: its counts agree with the
# run's own summary.json (attempts, sent, deferrals by reason, latency within the log's rounding,
# the queue left at the horizon); and bad input: a missing file or a directory (exit 3, path named),
# garbage and Postfix-looking lines that do not parse (counted, FILE:LINE on stderr).
# Usage: TEMPFAIL=path/to/tempfail maillog.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"

# jq -e FILTER with the run's summary as $s: the check passes when the filter is true.
holds() { jq -e "$2" "$1" >/dev/null || { echo "  $2 false for $1"; return 1; }; }
agree() { jq -e --slurpfile s "$2/summary.json" "$3" "$1" >/dev/null || { echo "  $3 false for $1"; return 1; }; }

# Three runs: the default retry storm (421 greetings, suspended destinations; TLS sessions cached, as
# with smtp_tls_connection_reuse, so that the log has conn_use > 1), a greylisting receiver
# (4xx after RCPT TO), and the storm cut at 25 minutes, as its newsletter burst ends (a burst past the
# duration is an error), so some mail is left deferred.
"$tf" run --maillog --no-plots -q --out storm --set duration=30m --set mta.postfix.smtp_tls_connection_reuse=yes 2>/dev/null
"$tf" run "$src/scenarios/examples/greylist.yaml" --maillog --no-plots -q --out grey 2>/dev/null
"$tf" run --maillog --no-plots -q --out cut --set duration=25m --set until=horizon 2>/dev/null
for r in storm grey cut; do
  check "$r wrote its maillog" test -s $r/maillog
  "$tf" maillog $r/maillog --json >$r.json 2>$r.err; st=$?
  check "$r: maillog exits 0" status_is $st 0
  check "$r: nothing malformed" agree $r.json $r '.lines.malformed == 0 and .lines.skipped == 0'
  check "$r: attempts agree" agree $r.json $r '.attempts.total == $s[0].messages.attempts'
  check "$r: deferrals agree" agree $r.json $r '.attempts.deferred == $s[0].messages.deferrals'
  check "$r: sent agrees with delivered" agree $r.json $r '.attempts.sent == $s[0].messages.delivered'
  check "$r: deferrals by reason agree" agree $r.json $r '.deferred_by_reason == $s[0].deferrals'
  # delay= has two significant digits: the percentiles agree to the log's rounding.
  check "$r: latency p50 agrees" agree $r.json $r \
    '((.latency.p50 - $s[0].latency.p50) | fabs) <= 0.06 * $s[0].latency.p50 + 0.01'
  check "$r: latency max agrees" agree $r.json $r \
    '((.latency.max - $s[0].latency.max) | fabs) <= 0.06 * $s[0].latency.max + 0.01'
  gzip -c $r/maillog >$r.maillog.gz
  "$tf" maillog $r.maillog.gz --json >$r.gz.json 2>/dev/null; st=$?
  check "$r: gzipped exits 0" status_is $st 0
  check "$r: gzipped gives the same figures" cmp -s $r.json $r.gz.json
done
check "storm has 421 greetings" agree storm.json storm '.deferred_by_reason."421 greeting" > 0'
check "storm has suspended deferrals" agree storm.json storm '.deferred_by_reason.suspended > 0'
check "grey has 4xx rcpt" agree grey.json grey '.deferred_by_reason."4xx rcpt" > 0'
check "storm: nothing left at the end" agree storm.json storm '.queue_left.count == 0'
check "cut: mail left deferred" agree cut.json cut \
  '.queue_left.count > 0 and .queue_left.count <= $s[0].messages.queued'
check "storm: busiest minutes listed" agree storm.json storm '(.busiest_minutes | length) == 10'
check "storm: conn_use counted" agree storm.json storm '(.conn_use."1" // 0) > 0 and (.conn_use."2" // 0) > 0'

# Several files at once: two rotated files count as one log.
head -n 1000 storm/maillog >part1 && tail -n +1001 storm/maillog | gzip -c >part2.gz
"$tf" maillog part1 part2.gz --json >parts.json 2>/dev/null
check "two files count as one" cmp -s storm.json parts.json

# --scenario: a starting scenario from the log; run, it gives back the traffic within 5%, hour by
# hour (greylist: 2/s for 2h), and names the throttling receiver with its reply texts.
within5() { jq -e -n --argjson a "$1" --argjson b "$2" '(($a - $b) | fabs) <= 0.05 * $b' >/dev/null ||
  { echo "  $1 not within 5% of $2"; return 1; }; }
for r in storm grey; do
  "$tf" maillog $r/maillog --scenario $r.yaml >/dev/null 2>$r.scen.err; st=$?
  check "$r: --scenario exits 0" status_is $st 0
  check "$r: --scenario wrote it" test -s $r.yaml
  check "$r: no temporary left" bash -c "! ls $r.yaml.tmp-* 2>/dev/null | grep -q ."
  "$tf" run $r.yaml --no-plots -q --out $r.again 2>/dev/null; st=$?
  check "$r: the scenario runs" status_is $st 0
  check "$r: arrivals within 5%" within5 "$(jq .messages.arrived $r.again/summary.json)" \
    "$(jq .messages.arrived $r/summary.json)"
done
check "grey: one step per hour" test "$(grep -c '{ at: ' grey.yaml)" -eq 2
for rate in $(sed -n 's/.*rate: \([0-9.]*\)\/h.*/\1/p' grey.yaml); do
  check "grey: hourly rate $rate/h within 5% of 7200/h" within5 "$rate" 7200
done
check "storm: a receiver for orange.test" has_text storm.yaml 'domains: ["orange.test"]'
check "storm: its MX hosts" has_text storm.yaml '{ host: "mx1.orange.test" }'
check "storm: its reply text" has_text storm.yaml "421 greeting | host mx1.orange.test"
check "storm: no receiver for gmail.test" lacks storm.yaml 'domains: ["gmail.test"]'
printf 'nothing\n' >empty.log
"$tf" maillog empty.log --scenario none.yaml >/dev/null 2>e8; st=$?
check "--scenario of a log without mail exits 3" status_is $st 3
check "--scenario of a log without mail says so" has_text e8 "no messages"
check "--scenario of a log without mail writes nothing" test ! -e none.yaml

# The human table.
"$tf" maillog storm/maillog --top 3 >storm.txt 2>storm.txt.err; st=$?
check "table exits 0" status_is $st 0
check "table has reasons" has_text storm.txt "421 greeting"
check "table has destinations" has_text storm.txt "orange.test"
check "table has latency" contains storm.txt "^latency (sent)"
check "table has busiest minutes" has_text storm.txt "Busiest minutes"
check "table is quiet on stderr" test ! -s storm.txt.err

# Garbage: lines not from Postfix are skipped; lines that claim to be delivery reports and do
# not parse are counted and named FILE:LINE.
{ head -n 5 storm/maillog
  echo "this is not a log line"
  echo "Dec  1 11:38:27 mx1 postfix/smtp[3]: C1: to=<l@b.test>, relay=x, delay=abc, status=sent (x)"
  head -c 20000 /dev/zero | tr '\0' x; echo
  tail -n 5 storm/maillog; } >garbage.log
"$tf" maillog garbage.log --json >garbage.json 2>garbage.err; st=$?
check "garbage exits 0" status_is $st 0
check "garbage: the good lines counted" holds garbage.json '.attempts.total == 10'
check "garbage: the bad ones too" holds garbage.json '.lines.malformed == 2 and .lines.too_long == 1 and .lines.skipped == 1'
check "garbage: FILE:LINE named" has_text garbage.err "garbage.log:7"
check "garbage: the long line named" has_text garbage.err "garbage.log:8"

# Bad input: exit 3 with the path named; a bad command line exits 2.
"$tf" maillog missing.log 2>e1 >/dev/null; st=$?
check "missing file exits 3" status_is $st 3
check "missing file named" has_text e1 "missing.log: No such file or directory"
mkdir adir
"$tf" maillog adir 2>e2 >/dev/null; st=$?
check "directory exits 3" status_is $st 3
check "directory named" has_text e2 "adir: Is a directory"
"$tf" maillog /dev/null 2>e3 >/dev/null; st=$?
check "not a regular file exits 3" status_is $st 3
check "not a regular file said" has_text e3 "not a regular file"
printf 'not gzip at all, but named so' | gzip -c | head -c 20 >cut.gz
"$tf" maillog cut.gz 2>e4 >/dev/null; st=$?
check "truncated .gz exits 3" status_is $st 3
"$tf" maillog 2>e5 >/dev/null; st=$?
check "no file exits 2" status_is $st 2
"$tf" maillog storm/maillog --top x 2>e6 >/dev/null; st=$?
check "bad --top exits 2" status_is $st 2
"$tf" maillog --bogus storm/maillog 2>e7 >/dev/null; st=$?
check "unknown option exits 2" status_is $st 2
"$tf" maillog --help >help.txt; st=$?
check "--help exits 0" status_is $st 0
check "--help teaches the reasons" has_text help.txt "421 greeting"
"$tf" help >h.txt
check "tempfail help lists maillog" has_text h.txt "maillog FILE..."

checks_done maillog
