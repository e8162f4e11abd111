#!/usr/bin/env bash
# bench_smtpd.sh - testsmtpd's speed and memory, side by side with Postfix's smtp-sink and Haraka.
#
# Usage: bench_smtpd.sh BUILD_DIR [-s SESSIONS] [-m MESSAGES] [-l LENGTH] [-H HARAKA_MESSAGES]
#                       [-n IDLE_CONNECTIONS] [-a ACTIVE_SESSIONS] [-t SECONDS] [-i MS] [-r REPEATS] [-x]
#   BUILD_DIR  a release build (RelWithDebInfo) with testsmtpd and tests/bench/bench_smtpd_load
#   -s -m -l   smtp-source's parallel sessions, messages and body length (default 20, 100000, 1000)
#   -H         messages for Haraka, which is slower (default 20000; its rate is what is compared)
#   -n         idle connections held for the memory figure (default 10000)
#   -a -t      active sessions and seconds of the latency run (default 1000, 10)
#   -i         each active session sends a command every MS milliseconds (default 100: 10,000/s
#              in all with 1000 sessions)
#   -r         rounds of the throughput runs; each server keeps its best (default 3)
#   -x         skip Haraka (no npm, no redis-server)
# HARAKA_DIR may name a directory where Haraka and haraka-plugin-limit are (or will be) installed
# with npm; by default a temporary one (a fresh install each run).
#
# Load: smtp-source -d (each session sends its messages over one connection, as Postfix's connection
# cache does) from 127.0.0.1, to each server in turn (all are up; -r rounds, best kept), measured by
# the wall time smtp-source takes to have all its messages accepted:
#   1. smtp-sink (Postfix's test sink: the floor of what an SMTP server can cost);
#   2. testsmtpd, no policy;                                     target: >= 1.0 x smtp-sink
#   3. testsmtpd, a per-IP cap and three rate rules (which the load never exceeds, so every message is
#      accepted and what is measured is the bookkeeping);      target: >= 0.8 x smtp-sink
#   4. Haraka (single process) with its limit plugin configured the same way (concurrency, connection
#      rate, recipient rate; Redis on loopback holds its counters); target: testsmtpd >= 2 x Haraka.
# Then testsmtpd (with the policy, cap 300 per IP) holding IDLE connections from 127.0.0.10.. (200 per
# source): resident memory (target <= 64 MB); and ACTIVE sessions running transactions at 10 commands
# per second each (-i): reply latency p50/p99 (target p99 <= 2 ms). Everything started is stopped on exit.
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd)
shift
sessions=20 messages=100000 length=1000 haraka_messages=20000 idle=10000 active=1000 secs=10 interval=100 haraka=1
repeats=3
while getopts "s:m:l:H:n:a:t:i:r:xh" opt; do
  case $opt in
    s) sessions=$OPTARG ;;
    m) messages=$OPTARG ;;
    l) length=$OPTARG ;;
    H) haraka_messages=$OPTARG ;;
    n) idle=$OPTARG ;;
    a) active=$OPTARG ;;
    t) secs=$OPTARG ;;
    i) interval=$OPTARG ;;
    r) repeats=$OPTARG ;;
    x) haraka=0 ;;
    *) usage ;;
  esac
done

testsmtpd=$build/testsmtpd
load=$build/tests/bench/bench_smtpd_load
source_bin=/usr/sbin/smtp-source
sink_bin=/usr/sbin/smtp-sink
for f in "$testsmtpd" "$load" "$source_bin" "$sink_bin"; do
  [ -x "$f" ] || { echo "bench_smtpd.sh: $f missing (build the project; scripts/install-deps.sh --bench)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/bench-smtpd.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Stops one background process started here (and forgets it).
stop_pid() {
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=() q
  for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  pids=("${keep[@]}")
}

free_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

wait_listen() {
  local i
  for i in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench_smtpd.sh: nothing listens on port $1 after 30 s" >&2
  exit 1
}

# rate NAME PORT MESSAGES PID: runs smtp-source against the port; prints messages/s (wall clock) and
# the server's CPU microseconds per message (user + system, from /proc: on a shared machine the
# wall-clock rate moves with the neighbours' load, the CPU cost much less).
rate() {
  local name=$1 port=$2 n=$3 pid=$4 t0 t1 c0 c1
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  timeout 600 "$source_bin" -d -s "$sessions" -m "$n" -l "$length" -M client.test -f sender@client.test \
    -t user@example.test "127.0.0.1:$port" >"$tmp/$name.source.out" 2>&1 ||
    { cat "$tmp/$name.source.out" >&2; echo "bench_smtpd.sh: smtp-source against $name failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f %.1f\n", n / (b - a), c * 1e6 / hz / n }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

policy_yaml='    policy:
      - { rule: concurrency_per_ip, limit: CAP, count_idle: true }
      - { rule: connection_rate_per_ip, limit: 1000000/h }
      - { rule: message_rate_per_ip, limit: 1000000/h }
      - { rule: recipient_rate_per_ip, limit: 1000000/h }'

# start_testsmtpd NAME [CAP]: a receivers-only scenario (with the policy when CAP is given); sets
# SMTPD_PID and SMTPD_PORT.
start_testsmtpd() {
  local name=$1 cap=${2:-} i
  {
    echo "receivers:"
    echo "  - name: r"
    echo "    domains: [example.test]"
    echo "    mx: [ { host: mx.example.test, listen: [\"127.0.0.1:0\"] } ]"
    [ -z "$cap" ] || echo "${policy_yaml//CAP/$cap}"
  } >"$tmp/$name.yaml"
  "$testsmtpd" --scenario "$tmp/$name.yaml" --ready-file "$tmp/$name.ready" --max-sessions 20000 \
    2>"$tmp/$name.stderr" &
  SMTPD_PID=$!
  pids+=("$SMTPD_PID")
  for i in $(seq 1 200); do
    [ -s "$tmp/$name.ready" ] && break
    sleep 0.1
  done
  [ -s "$tmp/$name.ready" ] || { cat "$tmp/$name.stderr" >&2; echo "bench_smtpd.sh: testsmtpd did not start" >&2; exit 1; }
  SMTPD_PORT=$(awk '$1 == "smtp" { n = split($4, a, ":"); print a[n]; exit }' "$tmp/$name.ready")
}

rss_kb() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
echo "== load: smtp-source -d -s $sessions -l $length, $messages messages (Haraka: $haraka_messages)"

# Every server is started first; then the load goes to each in turn, REPEATS rounds, and each keeps its
# best round: on a shared machine the best round is the one least disturbed by others.
port=$(free_port)
"$sink_bin" -u nobody 127.0.0.1:"$port" 1024 >/dev/null 2>&1 &
sink_pid=$!
pids+=("$sink_pid")
wait_listen "$port"
start_testsmtpd plain
plain_port=$SMTPD_PORT plain_pid=$SMTPD_PID
start_testsmtpd policy 50
policy_port=$SMTPD_PORT policy_pid=$SMTPD_PID

if [ "$haraka" = 1 ]; then
  for t in node npm redis-server redis-cli; do
    command -v "$t" >/dev/null || { echo "bench_smtpd.sh: $t missing (scripts/install-deps.sh --bench), or pass -x" >&2; exit 2; }
  done
  hdir=${HARAKA_DIR:-$tmp/haraka}
  mkdir -p "$hdir"
  if [ ! -x "$hdir/node_modules/.bin/haraka" ] || [ ! -d "$hdir/node_modules/haraka-plugin-limit" ]; then
    (cd "$hdir" && timeout 600 npm install --no-audit --no-fund Haraka haraka-plugin-limit >"$tmp/npm.log" 2>&1) ||
      { tail -20 "$tmp/npm.log" >&2; echo "bench_smtpd.sh: npm install Haraka failed" >&2; exit 1; }
  fi
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
  pids+=("$!")
  wait_listen "$rport"
  hk=$tmp/haraka-config
  rm -rf "$hk"
  "$hdir/node_modules/.bin/haraka" -i "$hk" >/dev/null 2>&1
  hport=$(free_port)
  printf 'listen=127.0.0.1:%s\nnodes=0\n' "$hport" >"$hk/config/smtp.ini"
  printf 'redis\nlimit\nrcpt_to.in_host_list\nqueue/discard\n' >"$hk/config/plugins"
  echo example.test >"$hk/config/host_list"
  printf '[main]\nlevel=warn\n' >"$hk/config/log.ini"
  printf '[server]\nhost=127.0.0.1\nport=%s\n' "$rport" >"$hk/config/redis.ini"
  # The same rules as testsmtpd's: 50 connections per IP, connection and recipient rates per IP.
  cat >"$hk/config/limit.ini" <<EOF
[redis]
host=127.0.0.1
port=$rport
[concurrency]
enabled=true
max=50
[rate_conn]
enabled=true
127=1000000/1h
default=1000000/1h
[rate_rcpt_host]
enabled=true
127=1000000/1h
default=1000000/1h
[rate_rcpt_sender]
enabled=false
[rate_rcpt]
enabled=false
[rate_rcpt_null]
enabled=false
[recipients]
enabled=false
[unrecognized_commands]
enabled=false
[errors]
enabled=false
EOF
  (cd "$hk" && YES_REALLY_DO_DISCARD=1 exec "$hdir/node_modules/.bin/haraka" -c "$hk" >"$tmp/haraka.log" 2>&1) &
  haraka_pid=$!
  pids+=("$haraka_pid")
  wait_listen "$hport"
  sleep 1 # its Redis connection
fi

# Per server: the best wall-clock rate and the lowest CPU cost over the rounds.
declare -A wall cpu
line=
measure() { # NAME PORT MESSAGES PID; appends to $line (not in a subshell: it keeps the books)
  local r w c
  r=$(rate "$1" "$2" "$3" "$4")
  w=${r% *} c=${r#* }
  awk -v a="${wall[$1]:-0}" -v b="$w" 'BEGIN { exit !(b > a) }' && wall[$1]=$w
  awk -v a="${cpu[$1]:-1e18}" -v b="$c" 'BEGIN { exit !(b < a) }' && cpu[$1]=$c
  line="$line${line:+, }$1 $w msg/s ($c us CPU/msg)"
}
for r in $(seq 1 "$repeats"); do
  line=
  measure smtp-sink "$port" "$messages" "$sink_pid"
  measure testsmtpd "$plain_port" "$messages" "$plain_pid"
  measure testsmtpd+policy "$policy_port" "$messages" "$policy_pid"
  [ "$haraka" = 1 ] && measure haraka+limit "$hport" "$haraka_messages" "$haraka_pid"
  echo "round $r: $line"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() { printf '%-20s %7s msg/s  %6s us CPU/msg\n' "$1" "${wall[$1]}" "${cpu[$1]}"; }
row smtp-sink
row testsmtpd
row testsmtpd+policy
[ "$haraka" = 1 ] && row haraka+limit
echo "testsmtpd / smtp-sink:         rate $(ratio "${wall[testsmtpd]}" "${wall[smtp-sink]}"), CPU efficiency $(ratio "${cpu[smtp-sink]}" "${cpu[testsmtpd]}") (target >= 1.0)"
echo "testsmtpd+policy / smtp-sink:  rate $(ratio "${wall[testsmtpd+policy]}" "${wall[smtp-sink]}"), CPU efficiency $(ratio "${cpu[smtp-sink]}" "${cpu[testsmtpd+policy]}") (target >= 0.8)"
if [ "$haraka" = 1 ]; then
  keys=$(redis-cli -p "$rport" -n 4 dbsize 2>/dev/null || echo "?")
  [ "$keys" != 0 ] || echo "warning: Haraka's limit plugin stored no counters in Redis" >&2
  echo "testsmtpd+policy / Haraka:     rate $(ratio "${wall[testsmtpd+policy]}" "${wall[haraka+limit]}"), CPU efficiency $(ratio "${cpu[haraka+limit]}" "${cpu[testsmtpd+policy]}") (target >= 2)"
fi
for p in "${pids[@]}"; do stop_pid "$p"; done

# 5. Idle connections: resident memory.
start_testsmtpd idle 300
base=$(rss_kb "$SMTPD_PID" VmRSS)
"$load" idle -a "127.0.0.1:$SMTPD_PORT" -n "$idle" -p 200 -f 10 -t 5 >"$tmp/idle.out" 2>&1 &
load_pid=$!
pids+=("$load_pid")
for i in $(seq 1 1200); do
  grep -q '^ready' "$tmp/idle.out" && break
  kill -0 "$load_pid" 2>/dev/null || { cat "$tmp/idle.out" >&2; exit 1; }
  sleep 0.1
done
grep -q '^ready' "$tmp/idle.out" || { echo "bench_smtpd.sh: idle connections not set up in 120 s" >&2; exit 1; }
sleep 1
held=$(rss_kb "$SMTPD_PID" VmRSS)
peak=$(rss_kb "$SMTPD_PID" VmHWM)
wait "$load_pid" || true
stop_pid "$SMTPD_PID"
echo "idle: $(grep '^connections' "$tmp/idle.out")"
echo "testsmtpd RSS               $((base / 1024)) MB at start, $((held / 1024)) MB holding $idle idle connections (peak $((peak / 1024)) MB; target <= 64 MB)"

# 6. Latency at ACTIVE sessions, REPEATS runs (each reported; the least disturbed is the figure).
start_testsmtpd latency 300
echo "latency, $active active sessions, one command per $interval ms each:"
best_p99=
for r in $(seq 1 "$repeats"); do
  "$load" latency -a "127.0.0.1:$SMTPD_PORT" -n "$active" -p 200 -f 10 -t "$secs" -i "$interval" >"$tmp/latency.out" 2>&1 ||
    { cat "$tmp/latency.out" >&2; echo "bench_smtpd.sh: latency run failed" >&2; exit 1; }
  echo "  run $r: $(grep -h '^replies' "$tmp/latency.out"); $(grep -h '^latency' "$tmp/latency.out")"
  p99=$(sed -n 's/.* p99=\([0-9.]*\) .*/\1/p' "$tmp/latency.out")
  if [ -z "$best_p99" ] || awk -v a="$p99" -v b="$best_p99" 'BEGIN { exit !(a < b) }'; then best_p99=$p99; fi
done
stop_pid "$SMTPD_PID"
echo "  best p99 $best_p99 ms (target <= 2 ms)"
