#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds with warnings as errors, runs every
# unit and integration test (the slow ones too: replays through real Postfix instances), then builds
# again under AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite once more, all but the
# tests labelled slow or package; between the two, each fuzz target runs 15 s under libFuzzer.  Set
# TEMPFAIL_SKIP_SANITIZE=1 to skip the second pass, TEMPFAIL_SKIP_FUZZ=1 the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTEMPFAIL_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# The fuzz targets replay their corpus in both passes (ctest label fuzz); here each also runs under
# libFuzzer for a bounded time, new inputs included (scripts/fuzz.sh; docs/hardening.md).
if [ "${TEMPFAIL_SKIP_FUZZ:-0}" != 1 ]; then
  bash scripts/fuzz.sh all "${TEMPFAIL_FUZZ_SECONDS:-15}"
fi

if [ "${TEMPFAIL_SKIP_SANITIZE:-0}" != 1 ]; then
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DTEMPFAIL_SANITIZE=ON -DTEMPFAIL_WERROR=ON >/dev/null
  cmake --build build-sanitize -j"$jobs"
  (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     TEMPFAIL_SANITIZED=1 ctest --output-on-failure -j"$jobs" -LE 'slow|package')
fi
