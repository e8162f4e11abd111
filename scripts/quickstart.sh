#!/usr/bin/env bash
# One command from a fresh Debian 12 machine: install what is missing, build, and run the built-in
# default scenario (a retry storm against a provider with a strict per-IP cap) into runs/default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
# The default's expect: lines describe the storm (exit 1 would mean it did not form); the fix is
# scenarios/examples/dedicated-transport.yaml.
./build/tempfail run --out runs/default "$@"
echo "results: runs/default (summary.json, timeseries.csv, messages.csv, manifest.json, report.html)"
