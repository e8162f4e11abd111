#!/usr/bin/env bash
# interop_smtp_source.sh - Postfix's load generator smtp-source against testsmtpd: 200 messages over
# 5 parallel sessions all accepted and counted; then, under a cap of 3 connections per IP, 10
# parallel sessions from one IP must meet the configured 421 (smtp-source treats it as fatal, as the
# tool has no retry: what matters is that the refusal is the one configured and counted).
# Usage: interop_smtp_source.sh SOURCE_DIR WORK_DIR   (env TESTSMTPD: the testsmtpd binary)
set -euo pipefail
src=$1 work=$2
. "$src/tests/integration/smtpd_interop.bash"
source_bin=/usr/sbin/smtp-source
interop_require "$source_bin" "$TESTSMTPD"

rm -rf "$work"
mkdir -p "$work"
trap 'smtpd_stop || true' EXIT
write_scenario "$work/scenario.yaml" </dev/null
smtpd_start "$work" "$work/scenario.yaml" --no-tls

# 1. No policy: everything accepted.
timeout 60 "$source_bin" -s 5 -m 200 -l 2000 -M client.test -f sender@client.test -t user@example.test \
  "127.0.0.1:$SMTPD_PORT" >"$work/plain.out" 2>&1 || { cat "$work/plain.out"; interop_fail "smtp-source failed"; }
n=$(metric 'testsmtpd_messages_accepted_total{receiver="r"}')
[ "$n" = 200 ] || interop_fail "testsmtpd counted $n messages, smtp-source sent 200"
n=$(metric 'testsmtpd_connections_total{receiver="r"}')
[ "$n" = 200 ] || interop_fail "testsmtpd counted $n connections, smtp-source made 200"

# 2. Orange's cap, installed at run time: 3 per IP, idle sessions counted.
http PUT '/policy?receiver=r' '- { rule: concurrency_per_ip, limit: 3, count_idle: true, reply: "421 4.7.0 Too many connections, slow down" }' >"$work/put.out"
[ "$HTTP_STATUS" = 200 ] || { cat "$work/put.out"; interop_fail "PUT /policy: $HTTP_STATUS"; }
rc=0
timeout 60 "$source_bin" -A -d -s 10 -m 100 -M client.test -f sender@client.test -t user@example.test \
  "127.0.0.1:$SMTPD_PORT" >"$work/capped.out" 2>&1 || rc=$?
[ "$rc" != 124 ] || interop_fail "smtp-source hung under the cap"
grep -q '421 4.7.0 Too many connections, slow down' "$work/capped.out" ||
  { cat "$work/capped.out"; interop_fail "smtp-source did not see the configured 421 (exit $rc)"; }
refused=$(metric 'testsmtpd_connections_refused_total{receiver="r",rule="concurrency_per_ip"}')
[ "${refused%.*}" -ge 1 ] || interop_fail "no refusal counted"
replies=$(metric 'testsmtpd_replies_total{receiver="r",code="421"}')
[ "$replies" = "$refused" ] || interop_fail "421 replies ($replies) != refusals ($refused)"
smtpd_stop || interop_fail "testsmtpd did not stop cleanly"
echo "interop_smtp_source: 200 accepted; $refused connections refused with the configured 421 under the cap"
