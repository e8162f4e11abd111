#!/usr/bin/env bash
# Runs one fuzz target of tests/fuzz (or all of them) with libFuzzer for a bounded time:
#   scripts/fuzz.sh TARGET SECONDS      TARGET: scenario, policy, smtpd_session, smtpd_data, maillog, all
# Builds build-fuzz/ with clang, ASan and UBSan (-DTEMPFAIL_FUZZ=ON) the first time, starts from the
# repository's corpus (tests/fuzz/corpus/TARGET and the seeds tests/CMakeLists.txt names) and keeps
# what it finds new in build-fuzz/corpus/TARGET. A crash, leak or failed check stops it with exit 1
# and the input in build-fuzz/artifacts/TARGET/: once fixed, copy that file into
# tests/fuzz/corpus/TARGET/ so that ctest replays it from then on. The last line of each run is
# libFuzzer's summary: executions, coverage (cov: edges, ft: features) and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: scripts/fuzz.sh TARGET SECONDS (TARGET: $(targets | tr '\n' ' ')or all)" >&2; exit 2; }
targets() { ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||' | grep -v '^replay$'; }
[ $# -eq 2 ] || usage
target=$1 secs=$2
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || usage
if [ "$target" = all ]; then # every target, whatever an earlier one found; exit 1 if any failed
  failed=0
  for t in $(targets); do bash "$0" "$t" "$secs" || failed=1; done
  exit $failed
fi
targets | grep -qx "$target" || usage
command -v clang >/dev/null || { echo "scripts/fuzz.sh: clang is needed (scripts/install-deps.sh installs it)" >&2; exit 2; }
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTEMPFAIL_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$target" >/dev/null
work=build-fuzz/corpus/$target art=build-fuzz/artifacts/$target
mkdir -p "$work" "$art"
seeds=(tests/fuzz/corpus/"$target")
case $target in
  scenario) seeds+=(scenarios/examples scenarios/presets scenarios/presets/receivers scenarios/replay) ;;
esac
# libFuzzer writes new inputs into the first directory only: the work corpus, never the repository
log=build-fuzz/fuzz-$target.log
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TEMPFAIL_LIBRARY=$PWD/scenarios LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
set +e
build-fuzz/tests/"fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$art/" "$work" "${seeds[@]}" >"$log" 2>&1
st=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+\/[^ ]+).*/\1/')
if [ "$st" -ne 0 ]; then
  grep -E 'ERROR|fuzz_check|SUMMARY|Test unit written' "$log" | head -8 >&2
  echo "fuzz $target: FAILED after ${execs:-?} executions; the input is in $art/ (log: $log)" >&2
  exit 1
fi
echo "fuzz $target: ${secs} s, ${execs:-?} executions, ${cov:-?}, no failure"
