#!/usr/bin/env bash
# interop_postfix.sh - a real Postfix delivers to testsmtpd, which is what tempfail is for.
#
# The test runs its own Postfix instance (config, queue and data directories of its own, the
# package's system instance untouched): inet_interfaces 127.0.0.1 with smtpd on a free port,
# nothing local (mydestination empty), example.test routed by a transport map to testsmtpd, STARTTLS
# when offered, its log in a file (maillog_file, the postlog service) so the test can read it, and
# short backoff times so deferred mail is retried within seconds. qmgr is woken every second
# (master.cf's wakeup time, 300 s by default): a message qmgr finds still locked by the delivery
# agent that just deferred it ("skipped, still being delivered") goes back to the incoming queue for
# 60 s (qmgr_active.c), and only a wake-up or new mail scans the incoming queue again; each stage
# therefore waits up to 150 s, 60 s of it for that.
#   1. 50 messages injected with smtp-source into Postfix's smtpd: the queue drains, and testsmtpd
#      accepted exactly 50 (metrics and event log), Postfix logged 50 status=sent.
#   2. testsmtpd's policy becomes 1 connection per IP, idle ones counted (PUT /policy); 20 more
#      messages: Postfix's parallel deliveries meet the 421, log it as "host 127.0.0.1[127.0.0.1]
#      said: 421 ..." or "refused to talk to me: 421 ...", defer, retry, and still deliver every one.
#   3. The policy becomes a 421 to half the RCPTs; 20 more messages: Postfix logs "said: 421 ... (in
#      reply to RCPT TO command)", retries, and 90 in all are accepted and logged status=sent.
# Postfix is stopped and its directory removed by the EXIT trap, whatever happens.
# Usage: interop_postfix.sh SOURCE_DIR WORK_DIR   (env TESTSMTPD; run as root, as Postfix must start)
set -euo pipefail
src=$1 work=$2
. "$src/tests/integration/smtpd_interop.bash"
interop_require postfix postconf postmap postqueue /usr/sbin/smtp-source "$TESTSMTPD"
if [ "$(id -u)" -ne 0 ]; then
  [ "${CI:-}" = true ] && interop_fail "Postfix must be started as root"
  echo "SKIP: starting a Postfix instance needs root" >&2
  exit 0
fi
id postfix >/dev/null 2>&1 || interop_fail "no postfix user (is the postfix package installed?)"

rm -rf "$work"
mkdir -p "$work"
# Postfix's daemons run as the postfix user and must reach the queue: a fresh world-traversable
# directory outside the build tree, whose parents may not be.
pfx=$(mktemp -d /tmp/tempfail-postfix.XXXXXX)
chmod 755 "$pfx"
cleanup() {
  postfix -c "$pfx/etc" stop >/dev/null 2>&1 || true
  # master exits asynchronously; wait (bounded) so no daemon outlives the test.
  local i
  for i in $(seq 1 50); do
    [ -s "$pfx/queue/pid/master.pid" ] && kill -0 "$(tr -d ' ' <"$pfx/queue/pid/master.pid")" 2>/dev/null || break
    sleep 0.1
  done
  [ -f "$pfx/maillog" ] && cp "$pfx/maillog" "$work/maillog"
  rm -rf "$pfx"
  smtpd_stop || true
}
trap cleanup EXIT

write_scenario "$work/scenario.yaml" </dev/null
smtpd_start "$work" "$work/scenario.yaml"

in_port=$(interop_free_port)
mkdir -p "$pfx/etc" "$pfx/queue" "$pfx/data"
chown postfix "$pfx/data"
# master.cf: the services a relay-only instance uses, none chrooted (the queue is not a chroot jail).
cat >"$pfx/etc/master.cf" <<EOF
127.0.0.1:$in_port inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n -  0 cleanup
qmgr       unix  n - n 1 1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -  - trivial-rewrite
bounce     unix  - - n -  0 bounce
defer      unix  - - n -  0 bounce
trace      unix  - - n -  0 bounce
verify     unix  - - n -  1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -  - proxymap
proxywrite unix  - - n -  1 proxymap
smtp       unix  - - n -  - smtp
relay      unix  - - n -  - smtp
showq      unix  n - n -  - showq
error      unix  - - n -  - error
retry      unix  - - n -  - error
discard    unix  - - n -  - discard
anvil      unix  - - n -  1 anvil
scache     unix  - - n -  1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
: >"$pfx/etc/main.cf"
postconf -c "$pfx/etc" -e \
  "compatibility_level = 3.6" \
  "queue_directory = $pfx/queue" "data_directory = $pfx/data" \
  "myhostname = postfix.client.test" "mydomain = client.test" "myorigin = \$myhostname" \
  "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
  "mydestination =" "local_recipient_maps =" "relay_domains =" "mynetworks = 127.0.0.0/8" \
  "alias_maps =" "alias_database =" "biff = no" \
  "transport_maps = hash:$pfx/etc/transport" \
  "smtp_tls_security_level = may" "smtp_tls_loglevel = 1" "smtp_dns_support_level = disabled" \
  "maillog_file = $pfx/maillog" "maillog_file_prefixes = $pfx" \
  "minimal_backoff_time = 1s" "maximal_backoff_time = 2s" "queue_run_delay = 1s"
echo "example.test smtp:[127.0.0.1]:$SMTPD_PORT" >"$pfx/etc/transport"
postmap -c "$pfx/etc" "$pfx/etc/transport"
postfix -c "$pfx/etc" check
postfix -c "$pfx/etc" start >/dev/null 2>&1 || { cat "$pfx/maillog" 2>/dev/null; interop_fail "postfix start failed"; }
for i in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$in_port") 2>/dev/null && break
  sleep 0.1
done

# inject N: N messages into Postfix's smtpd, one recipient each.
inject() {
  timeout 60 /usr/sbin/smtp-source -s 5 -m "$1" -l 1000 -M client.test -f sender@client.test \
    -t user@example.test "127.0.0.1:$in_port" >"$work/inject.out" 2>&1 ||
    { cat "$work/inject.out"; interop_fail "injecting into Postfix failed"; }
}

# Waits (bounded) until Postfix's queue is empty.
drain() {
  local i q
  for i in $(seq 1 "$1"); do
    q=$(postqueue -c "$pfx/etc" -p 2>&1 | tail -1)
    case $q in *"queue is empty"*) return 0 ;; esac
    sleep 1
  done
  postqueue -c "$pfx/etc" -p | head -40 >&2
  tail -40 "$pfx/maillog" >&2
  interop_fail "Postfix's queue did not drain in $1 s"
}

# put_policy RULES: receiver r's policy becomes RULES (PUT /policy).
put_policy() {
  http PUT '/policy?receiver=r' "$1" >"$work/put.out"
  [ "$HTTP_STATUS" = 200 ] || { cat "$work/put.out"; interop_fail "PUT /policy: $HTTP_STATUS"; }
}

# deliver N SECONDS TOTAL: injects N messages, waits up to SECONDS for the queue to drain, and checks
# that testsmtpd accepted, and Postfix logged status=sent for, TOTAL messages in all.
deliver() {
  local n sent
  inject "$1"
  drain "$2"
  n=$(metric 'testsmtpd_messages_accepted_total{receiver="r"}')
  [ "$n" = "$3" ] || interop_fail "testsmtpd accepted $n messages in all, Postfix was given $3"
  sent=$(grep -c 'status=sent' "$pfx/maillog" || true)
  [ "$sent" = "$3" ] || interop_fail "Postfix logged $sent status=sent in all, expected $3"
}

# 1. No policy: every message reaches testsmtpd.
deliver 50 60 50
grep -q 'Trusted TLS connection\|Untrusted TLS connection\|Anonymous TLS connection' "$pfx/maillog" ||
  interop_fail "Postfix did not use STARTTLS with testsmtpd"

# 2. One connection per IP, idle ones counted: Postfix's parallel deliveries meet the 421.
put_policy '- { rule: concurrency_per_ip, limit: 1, count_idle: true, reply: "421 4.7.0 Too many connections, slow down" }'
deliver 20 150 70
refused=$(metric 'testsmtpd_connections_refused_total{receiver="r",rule="concurrency_per_ip"}')
[ "${refused%.*}" -ge 1 ] || interop_fail "testsmtpd refused no connection under a cap of 1"
grep -Eq 'host 127\.0\.0\.1\[127\.0\.0\.1\](:[0-9]+)? (said|refused to talk to me): 421 4\.7\.0 Too many connections, slow down' \
  "$pfx/maillog" || { grep -i 421 "$pfx/maillog" >&2 || true; interop_fail "Postfix did not log the 421"; }
logged=$(grep -cE '"event": ?"message"' "$SMTPD_LOG" || true)
[ "$logged" = 70 ] || interop_fail "testsmtpd's event log has $logged messages, expected 70"

# 3. A 421 after the greeting: Postfix logs "host ... said: 421 ... (in reply to RCPT TO command)",
#    defers, retries, and still delivers every message.
put_policy '- { rule: random_fault, stage: rcpt, probability: 0.5, reply: "421 4.7.0 Try again later, closing connection." }'
deliver 20 150 90
grep -Eq 'host 127\.0\.0\.1\[127\.0\.0\.1\](:[0-9]+)? said: 421 4\.7\.0 Try again later, closing connection\. \(in reply to RCPT TO command\)' \
  "$pfx/maillog" || { grep -i 421 "$pfx/maillog" | tail -5 >&2 || true; interop_fail "Postfix did not log the RCPT 421 as 'host ... said: 421'"; }
smtpd_stop || interop_fail "testsmtpd did not stop cleanly"
echo "interop_postfix: 90 messages delivered by Postfix, $refused connections refused with 421 and retried, RCPT 421s retried"
