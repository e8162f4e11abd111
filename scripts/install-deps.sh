#!/usr/bin/env bash
# Installs what tempfail needs from Debian 12's archive, skipping what is already there.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the peers the benchmarks compare against)
set -euo pipefail

# libplplot-dev + plplot-driver-cairo: the charts (PNG/SVG/PDF through cairo), fonts-dejavu-core their
# font; libpng-dev: the tests decode the PNGs; chromium: the browser test of report.html; zlib1g-dev:
# `tempfail maillog` reads rotated, compressed logs
pkgs=(build-essential cmake pkg-config libgsl-dev libyaml-dev libjansson-dev libcmocka-dev libevent-dev libssl-dev
      libplplot-dev plplot-driver-cairo fonts-dejavu-core libpng-dev chromium zlib1g-dev)
# testsmtpd's interoperability tests: swaks (with Net::SSLeay for --tls), Postfix (smtp-source, and a
# real instance the test configures in its own directory; the package's own instance stays unconfigured).
pkgs+=(swaks libnet-ssleay-perl postfix)
# jq: tests/integration/maillog.sh holds `tempfail maillog --json` against a run's summary.json
pkgs+=(jq)
# tests/integration/sweep_slurm.sh starts a private one-node Slurm cluster (its own munge key and
# socket, its own slurm.conf and ports) and runs `tempfail sweep --slurm` on it
pkgs+=(slurmctld slurmd slurm-client munge)
# clang: the libFuzzer targets of tests/fuzz (scripts/fuzz.sh; the suite runs each for a few seconds)
pkgs+=(clang libclang-rt-14-dev)
if [ "${1:-}" = "--bench" ]; then
  # redis-server: Haraka's limit plugin keeps its counters there (bench_smtpd.sh); npm fetches Haraka
  # (Debian's npm only when no npm is there: a Node.js from elsewhere brings its own).
  pkgs+=(python3-simpy3 time bc util-linux redis-server)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
# Postfix asks how to configure the system's instance: not at all (the tests run their own).
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
