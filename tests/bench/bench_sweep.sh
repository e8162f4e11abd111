#!/usr/bin/env bash
# bench_sweep.sh - tempfail sweep's speed (a benchmark, not a test).
#
# Usage: bench_sweep.sh BUILD_DIR [-p POINTS] [-n TINY_RUNS] [-r ROUNDS]
#   BUILD_DIR  a Release build
#   -p         points of the throughput sweep (default 12, 3 replications each: 36 runs)
#   -n         runs of the overhead sweep (default 500)
#   -r         rounds; each figure is the median of its rounds (default 3)
#
# 1. Throughput: the built-in retry storm shortened to 30 minutes (about 0.1 s a run), a sweep of
#    orange's destination_concurrency_limit over -p values, 3 replications, with --jobs 1 and --jobs 2
#    in turn (A B A B); points per second of each and their ratio.        target: >= 1.8 x on 2 cores
# 2. Per-run overhead: a scenario of one message (its simulation costs microseconds), a sweep of -n
#    seeds with --jobs 1 --summaries-only: wall time per run is what a run costs besides simulating
#    (process start, scenario load, summary, the sweep's bookkeeping).       target: < 5 ms a run
#    Side by side: the same runs as a shell loop of `tempfail run` would do them (the way a sweep is
#    done without tempfail sweep), per run.
set -euo pipefail
build=${1:?usage: bench_sweep.sh BUILD_DIR [-p POINTS] [-n TINY_RUNS] [-r ROUNDS]}
shift
points=12 tiny=500 rounds=3
while getopts p:n:r: o; do
  case $o in
    p) points=$OPTARG ;; n) tiny=$OPTARG ;; r) rounds=$OPTARG ;;
    *) echo "usage: bench_sweep.sh BUILD_DIR [-p POINTS] [-n TINY_RUNS] [-r ROUNDS]" >&2; exit 2 ;;
  esac
done
tf=$build/tempfail
[ -x "$tf" ] || { echo "bench_sweep.sh: no tempfail in $build" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

storm=(--set duration=30m --set 'mta.transports.orange.domains=[orange.test]'
       --vary "mta.transports.orange.destination_concurrency_limit=1..$points" -R 3 -q --no-plots --summaries-only)
sweep_wall() { # JOBS: wall seconds of the storm sweep
  rm -rf "$out/s"
  local t0; t0=$(now)
  "$tf" sweep "${storm[@]}" -j "$1" -o "$out/s" >/dev/null
  echo "$(now) - $t0" | bc -l
}
: >"$out/j1" && : >"$out/j2" && : >"$out/ratio"
for _ in $(seq "$rounds"); do
  a=$(sweep_wall 1) b=$(sweep_wall 2)
  echo "$a" >>"$out/j1"; echo "$b" >>"$out/j2"; echo "$a / $b" | bc -l >>"$out/ratio"
done
w1=$(median <"$out/j1") w2=$(median <"$out/j2") r=$(median <"$out/ratio")
printf 'throughput: %d points x 3 replications of the 30-minute retry storm: --jobs 1 %.2f s (%.1f points/s), --jobs 2 %.2f s (%.1f points/s): %.2f x\n' \
  "$points" "$w1" "$(echo "$points / $w1" | bc -l)" "$w2" "$(echo "$points / $w2" | bc -l)" "$r"

cat >"$out/tiny.yaml" <<'EOF'
name: tiny
duration: 1s
traffic:
  classes:
    - { name: a, arrivals: { process: burst, count: 1, over: 1s }, domains: { x.test: 1 } }
receivers:
  - { name: x, domains: [x.test], mx: [{ host: mx.x.test }] }
EOF
: >"$out/sweep" && : >"$out/loop"
for _ in $(seq "$rounds"); do
  rm -rf "$out/t" "$out/l"
  t0=$(now)
  "$tf" sweep "$out/tiny.yaml" --vary "seed=1..$tiny" -R 1 -j 1 -q --no-plots --summaries-only -o "$out/t" >/dev/null
  echo "($(now) - $t0) * 1000 / $tiny" | bc -l >>"$out/sweep"
  mkdir -p "$out/l"
  t0=$(now)
  for s in $(seq "$tiny"); do "$tf" run "$out/tiny.yaml" --seed "$s" -q --no-plots -o "$out/l/$s" >/dev/null; done
  echo "($(now) - $t0) * 1000 / $tiny" | bc -l >>"$out/loop"
done
printf 'overhead: %d one-message runs with --jobs 1 --summaries-only: %.2f ms a run (a shell loop of tempfail run: %.2f ms a run)\n' \
  "$tiny" "$(median <"$out/sweep")" "$(median <"$out/loop")"
