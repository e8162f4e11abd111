#!/usr/bin/env bash
# bench_hold.sh - the hold benchmark, tempfail's calendar against SimPy, one after the other on one core.
#
# Usage: bench_hold.sh BUILD_DIR [-n STEPS] [-m SIMPY_EVENTS] [-r REPEATS] [-c CPU]
#   BUILD_DIR     a build tree with tests/bench/bench_hold built (a release build: RelWithDebInfo)
#   -n STEPS      hold steps for bench_hold (default 20000000)
#   -m EVENTS     events for SimPy, which is ~50x slower, so fewer (default 2000000)
#   -r REPEATS    bench_hold alternates calendar and reference this many times, keeping the best
#   -c CPU        the core both are pinned to with taskset (default 0)
# PYTHON may name the interpreter; otherwise the first of python3, /usr/bin/python3 that has SimPy.
# Prints bench_hold's and SimPy's own lines, then events/s of both and the ratio tempfail/SimPy.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$1
shift
steps=20000000 simpy_events=2000000 repeats=3 cpu=0
while getopts "n:m:r:c:h" opt; do
  case $opt in
    n) steps=$OPTARG ;;
    m) simpy_events=$OPTARG ;;
    r) repeats=$OPTARG ;;
    c) cpu=$OPTARG ;;
    *) usage ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
bench=$build/tests/bench/bench_hold
[ -x "$bench" ] || { echo "bench_hold.sh: $bench not built (cmake --build $build --target bench_hold)" >&2; exit 2; }

python=
for py in ${PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 &&
     "$py" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("simpy") or u.find_spec("SimPy")))' 2>/dev/null; then
    python=$py
    break
  fi
done
[ -n "$python" ] || { echo "bench_hold.sh: no Python with SimPy (apt-get install python3-simpy3)" >&2; exit 2; }

pin=()
if command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c "$cpu")
else
  echo "bench_hold.sh: taskset not found; running unpinned" >&2
fi

echo "machine: $(uname -m), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "pinned: ${pin[*]:-no}"
c_out=$("${pin[@]}" "$bench" -n "$steps" -r "$repeats")
echo "$c_out"
py_out=$("${pin[@]}" "$python" "$here/hold_simpy.py" -n "$simpy_events")
echo "$py_out"

c_rate=$(echo "$c_out" | awk '/^tempfail calendar:/ { print $3 }')
py_rate=$(echo "$py_out" | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "events/s") print $i }')
[ -n "$c_rate" ] && [ -n "$py_rate" ] || { echo "bench_hold.sh: could not read the rates" >&2; exit 1; }
echo "tempfail: $c_rate events/s"
echo "simpy: $py_rate events/s"
awk -v c="$c_rate" -v p="$py_rate" 'BEGIN { printf "ratio tempfail/simpy: %.1f (target >= 40)\n", c / p }'
