#!/usr/bin/env bash
# Full-model benchmarks (not tests): one simulated day of 10 million messages across 10 receivers
# (target <= 30 s wall on one core), and resident memory per queued message at a 2-million-message
# backlog (target <= 300 bytes). Usage: tests/bench/bench_model.sh BUILD_DIR   (a Release build)
set -euo pipefail
build=${1:?usage: bench_model.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
tf=$build/tempfail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
json() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -1; }

run() { # run NAME SCENARIO: prints wall seconds and peak RSS (KB)
  taskset -c 0 /usr/bin/time -f "%e %M" -o "$out/$1.time" "$tf" run "$2" --out "$out/$1" --quiet --no-plots || [ $? -eq 1 ]
  read -r wall rss <"$out/$1.time"
  echo "$wall $rss"
}

read -r wall rss < <(run day "$here/day-10m.yaml")

arrived=$(grep -A12 '"messages": {' "$out/day/summary.json" | sed -n 's/.*"arrived": \([0-9]*\).*/\1/p')
events=$(json "$out/day/manifest.json" events)
printf 'full model, one simulated day: %s messages, %s events in %s s wall (%.2f M events/s), peak RSS %s MB\n' \
  "$arrived" "$events" "$wall" "$(echo "$events / $wall / 1000000" | bc -l)" "$((rss / 1024))"

# Baseline: the same backlog scenario with a tiny campaign, to subtract the program's own footprint.
sed 's/count: 2000000/count: 1000/' "$here/backlog.yaml" >"$out/small.yaml"
read -r _ base < <(run small "$out/small.yaml")
read -r wall rss < <(run backlog "$here/backlog.yaml")
peak=$(grep -A6 '"peak": {' "$out/backlog/summary.json" | sed -n 's/.*"total": \([0-9]*\).*/\1/p')
printf 'backlog: peak %s queued messages, peak RSS %s MB (baseline %s MB): %.0f bytes per queued message (%.0f counting the baseline)\n' \
  "$peak" "$((rss / 1024))" "$((base / 1024))" "$(echo "($rss - $base) * 1024 / $peak" | bc -l)" \
  "$(echo "$rss * 1024 / $peak" | bc -l)"
