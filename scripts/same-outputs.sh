#!/usr/bin/env bash
# same-outputs.sh REV [BUILD_DIR] - does this tree's simulator write exactly what REV's did?
#
# For a change that must not change behaviour (a refactoring, a clean-up): builds REV in a temporary
# git worktree, runs every shipped scenario (the built-in default, scenarios/examples/*.yaml,
# tests/data/scenarios/*.yaml, and a few seeds, replications and --set variants) with both builds,
# with and without --maillog, and compares every file of every run directory byte for byte -
# summary, time series, messages, maillog, charts, report.html - except manifest.json, which records
# wall-clock facts. BUILD_DIR (default: build) is this tree's build. Exit 0 when everything is
# identical, 1 with the differing files listed, 2 on a usage or build error.
set -u
rev=${1:?usage: scripts/same-outputs.sh REV [BUILD_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${2:-$root/build}")
[ -x "$build/tempfail" ] || { echo "same-outputs: no $build/tempfail (build this tree first)" >&2; exit 2; }
work=$(mktemp -d /tmp/same-outputs.XXXXXX)
cleanup() { git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

git -C "$root" worktree add -q --detach "$work/base" "$rev" || exit 2
cmake -S "$work/base" -B "$work/base/build" >/dev/null && cmake --build "$work/base/build" -j"$(nproc)" >/dev/null ||
  { echo "same-outputs: $rev does not build" >&2; exit 2; }

# snapshot TEMPFAIL SRC OUT: every run into OUT/runs, then OUT/SUMS; the run directories are
# written under the same path by both builds, since report.html names its directory.
snapshot() {
  local tf=$1 src=$2 out=$3 runs=$work/runs
  rm -rf "$runs" && mkdir -p "$runs" "$out"
  run() { local n=$1; shift; (cd "$src" && "$tf" run "$@" -q --out "$runs/$n" >/dev/null 2>"$out/$n.err"); echo "$n $?" >>"$out/status"; }
  run default --maillog
  run default-nolog
  local f
  for f in $(cd "$src" && ls scenarios/examples/*.yaml tests/data/scenarios/*.yaml); do
    run "$(basename "$f" .yaml)" "$f" --maillog  # relative: outputs name the scenario file
  done
  run apppool-nolog scenarios/examples/apppool.yaml
  run default-seed7 --maillog --seed 7 --set mta.postfix.smtp_connection_cache_on_demand=no
  run default-rep3 --maillog -r 3 --set mta.postfix.default_destination_concurrency_failed_cohort_limit=3
  find "$runs" -name manifest.json -delete
  (cd "$runs" && find . -type f | sort | xargs sha256sum) >"$out/SUMS"
}

snapshot "$work/base/build/tempfail" "$work/base" "$work/before"
snapshot "$build/tempfail" "$root" "$work/after"
if diff -q "$work/before/SUMS" "$work/after/SUMS" >/dev/null && diff -q "$work/before/status" "$work/after/status" >/dev/null; then
  echo "same-outputs: identical to $rev ($(wc -l <"$work/after/SUMS") files in $(wc -l <"$work/after/status") runs)"
  exit 0
fi
echo "same-outputs: differs from $rev:"
diff "$work/before/status" "$work/after/status"
diff <(awk '{print $2, $1}' "$work/before/SUMS") <(awk '{print $2, $1}' "$work/after/SUMS") |
  awk '/^[<>]/ {print $2}' | sort -u >"$work/differ"
head -20 "$work/differ" | sed 's/^/  /'
[ "$(wc -l <"$work/differ")" -le 20 ] || echo "  ... $(wc -l <"$work/differ") files in all"
exit 1
