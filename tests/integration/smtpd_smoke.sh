#!/usr/bin/env bash
# testsmtpd end to end, smoke level: start it on ephemeral loopback ports, read the ready file, run
# one SMTP transaction over bash's /dev/tcp, check the Maildir, the event log, /metrics and /stats,
# a per-IP cap, /force and /policy, SIGHUP (new policy for new connections), SIGTERM (clean exit 0),
# and the exit status of bad command lines, bad scenarios and a busy port.
# Usage: TESTSMTPD=path/to/testsmtpd smtpd_smoke.sh SOURCE_DIR WORK_DIR
set -u
tsd=${TESTSMTPD:?set TESTSMTPD to the testsmtpd binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
pid="" watchdog=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  fi
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
  exec 3>&- 4>&- 6>&- 7>&- 8>&- 9>&- 2>/dev/null
}
trap cleanup EXIT
equals() { [ "$1" = "$2" ] || { echo "  got '$1', want '$2'"; return 1; }; }

write_receivers() { # write_receivers LIMIT
  cat >receivers.yaml <<EOF
receivers:
  - name: test
    hostname: mx.test
    domains: [example.test]
    mx: [{host: mx.test, listen: 127.0.0.1:0}]
    policy:
      - {rule: concurrency_per_ip, limit: $1, reply: "421 4.7.0 Too many connections, slow down"}
  - name: other
    domains: [other.test]
    mx: [{host: mx1.other.test, listen: 127.0.0.1:0}]
EOF
}
write_receivers 2

"$tsd" --scenario receivers.yaml --ready-file ready --http 127.0.0.1:0 --log events.jsonl --maildir md \
  2>server.err &
pid=$!
# A watchdog, in case this script is killed before its trap runs; stopping it stops its sleep too.
( trap 'kill "$sp" 2>/dev/null; exit 0' TERM; sleep 120 & sp=$!; wait "$sp"; kill -KILL "$pid" 2>/dev/null ) \
  >/dev/null 2>&1 &
watchdog=$!
for _ in $(seq 50); do [ -s ready ] && break; sleep 0.1; done
check "ready file written" test -s ready
smtp=$(awk '$1 == "smtp" && $2 == "test" {print $4}' ready) http=$(awk '$1 == "http" {print $2}' ready)
check "ready: smtp line" bash -c "grep -Eq '^smtp test mx.test 127\.0\.0\.1:[0-9]+$' ready"
check "ready: second receiver" bash -c "grep -Eq '^smtp other mx1.other.test 127\.0\.0\.1:[0-9]+$' ready"
check "ready: http line" bash -c "grep -Eq '^http 127\.0\.0\.1:[0-9]+$' ready"
[ -n "$smtp" ] && [ -n "$http" ] || { echo "FAIL: no listeners; server said:"; cat server.err; exit 1; }
sport=${smtp##*:} hport=${http##*:}

# SMTP over /dev/tcp. reply FD: the next complete reply (its last line), multi-line replies joined.
reply() {
  local fd=$1 line all=""
  while IFS= read -r -t 5 line <&"$fd"; do
    line=${line%$'\r'}; all+="$line"$'\n'
    [ "${line:3:1}" = "-" ] || break
  done
  printf '%s' "$all"
}
say() { printf '%s\r\n' "$2" >&"$1"; }
expect() { # expect FD PREFIX [NAME]
  local got; got=$(reply "$1")
  case "$got" in *"$2"*) passes=$((passes+1)) ;; *) echo "FAIL: ${3:-$2}: got '$got'"; fails=$((fails+1)) ;; esac
}
http_get() { # http_get PATH: the body
  exec 9<>"/dev/tcp/127.0.0.1/$hport"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&9
  timeout 5 cat <&9 | sed '1,/^\r$/d'
  exec 9>&-
}
http_send() { # http_send METHOD PATH BODY: "STATUS body"
  exec 9<>"/dev/tcp/127.0.0.1/$hport"
  printf '%s %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&9
  timeout 5 cat <&9 | tr -d '\r' | awk 'NR == 1 {s = $2} /^$/ {b = 1; next} b {print s, $0}'
  exec 9>&-
}

exec 3<>"/dev/tcp/127.0.0.1/$sport"
expect 3 "220 mx.test ESMTP testsmtpd" "greeting"
say 3 "EHLO client.test"
got=$(reply 3)
check "EHLO offers STARTTLS" grep -q "250-STARTTLS\|250 STARTTLS" <<<"$got"
check "EHLO offers PIPELINING" grep -q "250-PIPELINING" <<<"$got"
say 3 "MAIL FROM:<sender@client.test>"; expect 3 "250 2.1.0 Ok"
say 3 "RCPT TO:<user@example.test>"; expect 3 "250 2.1.5 Ok"
say 3 "RCPT TO:<user@elsewhere.test>"; expect 3 "554 5.7.1" "relay refused"
say 3 "DATA"; expect 3 "354 "
printf 'Subject: smoke\r\n\r\nhello from the smoke test\r\n..a stuffed dot\r\n.\r\n' >&3
expect 3 "250 2.0.0 Ok: queued as " "message accepted"
say 3 "MAIL FROM:<sender@client.test>"; expect 3 "250 2.1.0 Ok" "second MAIL"
say 3 "RSET"; expect 3 "250 2.0.0 Ok" "RSET"
say 3 "QUIT"; expect 3 "221 2.0.0 Bye"
exec 3>&-

check "one message in the Maildir" equals "$(ls md/new | wc -l)" 1
msg=$(ls md/new/* 2>/dev/null | head -1)
check "message content, dot-unstuffed" contains "$msg" "^.a stuffed dot"
sum=$(sha256sum "$msg" | cut -d' ' -f1)
size=$(stat -c %s "$msg")
check "event log: message hash and size match the Maildir" \
  grep -q "\"event\": \"message\", \"size\": $size, \"sha256\": \"$sum\"" events.jsonl
check "event log: connect" contains events.jsonl '"event": "connect"'
check "event log: commands" contains events.jsonl '"event": "command", "text": "MAIL FROM:<sender@client.test>"'
check "event log: close" contains events.jsonl '"event": "close"'
# The policy's view of the session: busy from connect, idle after the data, busy at MAIL, idle at RSET.
for _ in $(seq 50); do grep -q '"session": 1,.*"event": "close"' events.jsonl && break; sleep 0.1; done
states=$(grep '"session": 1,' events.jsonl | grep -o '"event": "\(connect\|busy\|idle\|close\)"' | cut -d'"' -f4 | tr '\n' ' ')
check "event log: busy and idle of a transaction, then MAIL and RSET" equals "$states" "connect busy idle busy idle close "

# A cap of 2 per IP: the third concurrent connection gets the configured 421 and is closed.
exec 3<>"/dev/tcp/127.0.0.1/$sport"; expect 3 "220 " "first of three"
exec 4<>"/dev/tcp/127.0.0.1/$sport"; expect 4 "220 " "second of three"
exec 6<>"/dev/tcp/127.0.0.1/$sport"; expect 6 "421 4.7.0 Too many connections, slow down" "third refused"
check "refused connection closed" bash -c "! IFS= read -r -t 5 line <&6"
exec 6>&-
check "event log: the rule that refused" \
  grep -q '"event": "reply", "rule": "concurrency_per_ip", "text": "421 4.7.0 Too many connections, slow down"' events.jsonl

http_get /metrics >metrics.txt
check "metrics: connections" contains metrics.txt '^testsmtpd_connections_total{receiver="test"} 4$'
check "metrics: refused by rule" \
  contains metrics.txt '^testsmtpd_connections_refused_total{receiver="test",rule="concurrency_per_ip"} 1$'
check "metrics: messages" contains metrics.txt '^testsmtpd_messages_accepted_total{receiver="test"} 1$'
check "metrics: recipients" contains metrics.txt '^testsmtpd_recipients_accepted_total{receiver="test"} 1$'
check "metrics: 421 replies" contains metrics.txt '^testsmtpd_replies_total{receiver="test",code="421"} 1$'
check "metrics: open sessions" contains metrics.txt '^testsmtpd_sessions_open{receiver="test",state="busy"} 2$'
http_get /stats >stats.json
check "stats: JSON figures" contains stats.json '"test":{"connections":4,"refused":1,"refused_by_rule":{"concurrency_per_ip":1'
check "stats: sessions" contains stats.json '"sessions":{"busy":2,"idle":0}'
exec 3>&- 4>&-

# Control: a bad policy is refused with the loader's message; /force decides the next connection.
check "PUT /policy: bad rule is a 400 naming it" equals "$(http_send PUT '/policy?receiver=test' '- {rule: tarpt}')" \
  "400 PUT /policy:1:10: policy[0].rule: unknown rule 'tarpt' (did you mean 'tarpit'?)"
check "PUT /policy: unknown receiver" equals "$(http_send PUT '/policy?receiver=nope' '[]')" "400 unknown receiver 'nope'"
check "POST /force" equals "$(http_send POST '/force?receiver=test&n=1' '421 4.7.0 Try again later')" "200 ok"
bad=$(http_send POST '/force?receiver=test&n=1' 'hello')
check "POST /force: bad reply is a 400" equals "${bad:0:25}" "400 expected a reply line"
exec 3<>"/dev/tcp/127.0.0.1/$sport"; expect 3 "421 4.7.0 Try again later" "forced reply"; exec 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$sport"; expect 3 "220 " "force used up"; exec 3>&-

# SIGHUP: the file now allows 3; new connections get the new policy.
write_receivers 3
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "reloaded" server.err && break; sleep 0.1; done
check "SIGHUP reloads" contains server.err "2 of 2 receivers' policies reloaded"
sleep 0.2
exec 3<>"/dev/tcp/127.0.0.1/$sport"; expect 3 "220 " "after HUP: first"
exec 4<>"/dev/tcp/127.0.0.1/$sport"; expect 4 "220 " "after HUP: second"
exec 6<>"/dev/tcp/127.0.0.1/$sport"; expect 6 "220 " "after HUP: third (new limit 3)"
exec 7<>"/dev/tcp/127.0.0.1/$sport"; expect 7 "421 4.7.0 Too many connections" "after HUP: fourth refused"
exec 3>&- 4>&- 6>&- 7>&-
echo "receivers: [" >receivers.yaml
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "policies kept" server.err && break; sleep 0.1; done
check "SIGHUP with a broken file keeps the policies" contains server.err "SIGHUP: policies kept: receivers.yaml:"
check "still serving after a failed reload" bash -c "exec 3<>/dev/tcp/127.0.0.1/$sport && IFS= read -r -t 5 l <&3 && [[ \$l == 220* ]]"
http_get /metrics >metrics2.txt
check "counters survive policy changes" contains metrics2.txt '^testsmtpd_connections_refused_total{receiver="test",rule="concurrency_per_ip"} 2$'

# STARTTLS with a real client, when there is one: the message arrives, the 221 comes back over TLS.
if command -v swaks >/dev/null; then
  timeout 30 swaks --server 127.0.0.1 --port "$sport" --to user@example.test --from s@client.test -tls \
    >swaks.out 2>&1
  check "STARTTLS transaction (swaks)" contains swaks.out "<~  250 2.0.0 Ok: queued as"
  check "221 over TLS before the close" contains swaks.out "<~  221 2.0.0 Bye"
  check "event log: tls" contains events.jsonl '"event": "tls"'
  check "two messages in the Maildir" equals "$(ls md/new | wc -l)" 2
else
  echo "note: swaks not installed; STARTTLS not exercised here"
fi
other=$(awk '$1 == "smtp" && $2 == "other" {print $4}' ready)
exec 3<>"/dev/tcp/127.0.0.1/${other##*:}"; expect 3 "220 mx1.other.test ESMTP" "second receiver greets as its MX"
say 3 "EHLO c"; reply 3 >/dev/null
say 3 "MAIL FROM:<a@c>"; expect 3 "250 2.1.0"
say 3 "RCPT TO:<user@example.test>"; expect 3 "554 5.7.1" "second receiver does not relay the first's domain"
exec 3>&-
http_get /metrics >metrics3.txt
check "receivers keep their own counters" contains metrics3.txt '^testsmtpd_connections_total{receiver="other"} 1$'

# SIGTERM: a clean stop, exit 0, the log complete.
kill -TERM "$pid"
st=0
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running 5s after SIGTERM"; fails=$((fails+1)); else
  wait "$pid"; st=$?; check "SIGTERM: exit 0" equals "$st" 0; fi
pid=""
check "log lines are whole JSON objects" bash -c "! grep -v '^{.*}$' events.jsonl"

# Bad input: exit 2 with the loader's message; a port in use: exit 3; no stray listener either way.
write_receivers 2
printf 'receivers:\n  - name: t\n    domains: [t.test]\n    mx: [{host: mx.t.test, listen: 127.0.0.1:0}]\n    policy: [{rule: concurrency_per_ip}]\n' >bad.yaml
timeout 10 "$tsd" --scenario bad.yaml >out 2>err; st=$?
check "bad scenario: exit 2" equals "$st" 2
check "bad scenario: file:line:col" contains err "bad.yaml:5:"
timeout 10 "$tsd" --scenario receivers.yaml --max-sessions lots >out 2>err; st=$?
check "bad option value: exit 2" equals "$st" 2
timeout 10 "$tsd" --scenario receivers.yaml --listen test=192.0.2.1:25 >out 2>err; st=$?
check "non-loopback refused: exit 2" equals "$st" 2
check "non-loopback: says why" contains err "not a loopback address"
printf 'receivers:\n  - name: t\n    domains: [t.test]\n' >nolisten.yaml
timeout 10 "$tsd" --scenario nolisten.yaml >out 2>err; st=$?
check "no listen address: exit 2" equals "$st" 2
python3 - "$work/busy.port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(5)
EOF
holder=$!
for _ in $(seq 50); do [ -s busy.port ] && break; sleep 0.1; done
timeout 10 "$tsd" --scenario receivers.yaml --listen "test=127.0.0.1:$(cat busy.port)" >out 2>err; st=$?
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
check "port in use: exit 3" equals "$st" 3
check "version" bash -c "timeout 5 '$tsd' --version | grep -q '^testsmtpd '"

checks_done smtpd_smoke
