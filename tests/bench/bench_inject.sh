#!/usr/bin/env bash
# bench_inject.sh - the replay's injector against Postfix's own load generator, into a real Postfix.
#
# Usage: bench_inject.sh BUILD_DIR [-m MESSAGES] [-c CONNS] [-l SIZE] [-r ROUNDS]
#   BUILD_DIR  a release build (RelWithDebInfo or Release) with tests/bench/bench_inject
#   -m         messages per run (default 20000)
#   -c         parallel connections (default 8)
#   -l         message size in bytes (default 1000)
#   -r         rounds; each round runs bench_inject then smtp-source (default 2: A B A B)
# Run as root (Postfix's master must start as root).
#
# A private Postfix instance, none of the system's: its own config, queue and data directories and
# log file in a fresh directory under /tmp, smtpd on 127.0.0.1 at a free port, nothing local
# (mydestination empty), every message routed to discard(8) (default_transport and relay_transport),
# so the queue empties without any network and what is measured is Postfix's smtpd and cleanup
# taking the mail in. Both loads reuse their sessions (smtp-source -d; the injector always does) and
# send one recipient per message; the injector's SIZE counts its headers, smtp-source's -l only the
# payload after its own few headers, so smtp-source's messages are slightly larger. A run's rate is
# its messages over the wall time it took to have them all accepted; the queue is drained between
# runs. Postfix is stopped on exit, whatever happens, and its master waited for.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd)
shift
messages=20000 conns=8 size=1000 rounds=2
while getopts "m:c:l:r:h" opt; do
  case $opt in
    m) messages=$OPTARG ;;
    c) conns=$OPTARG ;;
    l) size=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) usage ;;
  esac
done

inject=$build/tests/bench/bench_inject
source_bin=/usr/sbin/smtp-source
for f in "$inject" "$source_bin" /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/postqueue; do
  [ -x "$f" ] || { echo "bench_inject.sh: $f missing (build the project; install postfix)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench_inject.sh: run as root: Postfix's master must start as root" >&2; exit 2; }
id postfix >/dev/null 2>&1 || { echo "bench_inject.sh: no postfix user (install postfix)" >&2; exit 2; }

# Postfix's daemons run as the postfix user and must reach the queue: a world-traversable directory.
pfx=$(mktemp -d /tmp/bench-inject.XXXXXX)
chmod 755 "$pfx"
cleanup() {
  postfix -c "$pfx/etc" stop >/dev/null 2>&1 || true
  local i pid
  for i in $(seq 1 100); do
    pid=$(tr -d ' ' <"$pfx/queue/pid/master.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$pfx"
}
trap cleanup EXIT

free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "bench_inject.sh: no free port" >&2
  exit 1
}
port=$(free_port)

mkdir -p "$pfx/etc" "$pfx/queue" "$pfx/data"
chown postfix "$pfx/data"
# master.cf by hand: the services an instance that only takes mail in and discards it uses, none
# chrooted (the queue is not a chroot jail).
cat >"$pfx/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n -  0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n -  - trivial-rewrite
bounce     unix  - - n -  0 bounce
defer      unix  - - n -  0 bounce
trace      unix  - - n -  0 bounce
verify     unix  - - n -  1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -  - proxymap
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
  "myhostname = bench-mta.test" "mydomain = bench.test" "myorigin = \$myhostname" \
  "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
  "mydestination =" "local_recipient_maps =" "relay_domains =" "mynetworks = 127.0.0.0/8" \
  "alias_maps =" "alias_database =" "biff = no" \
  "default_transport = discard" "relay_transport = discard" "in_flow_delay = 0" \
  "maillog_file = $pfx/maillog" "maillog_file_prefixes = $pfx"
postfix -c "$pfx/etc" check
postfix -c "$pfx/etc" start >/dev/null 2>&1 || { cat "$pfx/maillog" 2>/dev/null; echo "bench_inject.sh: postfix start failed" >&2; exit 1; }
for i in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# Waits (bounded) until Postfix's queue is empty, so each run starts from the same state.
drain() {
  local i
  for i in $(seq 1 300); do
    case $(postqueue -c "$pfx/etc" -p 2>&1 | tail -1) in *"queue is empty"*) return 0 ;; esac
    sleep 0.5
  done
  echo "bench_inject.sh: Postfix's queue did not drain" >&2
  exit 1
}

now() { date +%s.%N; }

# rate SECONDS: messages per second.
rate() { awk -v n="$messages" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

run_inject() {
  local out
  out=$("$inject" "127.0.0.1:$port" "$messages" "$conns" "$size") || { echo "$out"; echo "bench_inject.sh: bench_inject failed" >&2; exit 1; }
  echo "  $out" >&2
  awk '{ for (i = 1; i <= NF; i++) if ($(i + 1) == "msg/s,") print $i }' <<<"$out"
}

run_source() {
  local t0 t1
  t0=$(now)
  timeout 600 "$source_bin" -d -s "$conns" -m "$messages" -l "$size" -M client.test -f bench@client.test \
    -t user@example.test "127.0.0.1:$port" || { echo "bench_inject.sh: smtp-source failed" >&2; exit 1; }
  t1=$(now)
  local s
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  echo "  smtp-source: $messages messages of $size bytes over $conns connections in $s s: $(rate "$s") msg/s" >&2
  rate "$s"
}

echo "bench_inject.sh: Postfix $(postconf -d -h mail_version) on 127.0.0.1:$port, $messages messages of $size bytes, $conns connections, $rounds rounds" >&2
inj_rates=() src_rates=()
for r in $(seq 1 "$rounds"); do
  drain
  inj_rates+=("$(run_inject)")
  drain
  src_rates+=("$(run_source)")
done
drain
accepted=$(grep -c "postfix/discard.*status=sent" "$pfx/maillog" || true)
want=$((2 * rounds * messages))
[ "$accepted" -eq "$want" ] || { echo "bench_inject.sh: Postfix discarded $accepted messages, expected $want" >&2; exit 1; }

best() { printf '%s\n' "$@" | sort -n | tail -1; }
bi=$(best "${inj_rates[@]}") bs=$(best "${src_rates[@]}")
echo "injector:    ${inj_rates[*]} msg/s (best $bi)"
echo "smtp-source: ${src_rates[*]} msg/s (best $bs)"
awk -v a="$bi" -v b="$bs" 'BEGIN { printf "ratio injector/smtp-source (best of each): %.2f\n", a / b }'
