#!/usr/bin/env bash
# `cmake --install` into a private prefix: tempfail in bin, testsmtpd in sbin, the library in
# share/tempfail/scenarios, testsmtpd(8), the documents; the installed tempfail finds the installed
# library (not the source tree's: a scenario removed from the prefix is gone from its list while the
# build directory's tempfail still lists it), runs the built-in default and a library scenario by
# name, and testsmtpd answers --help.
# Usage: TEMPFAIL=BUILD/tempfail install.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
unset TEMPFAIL_LIBRARY
build=$(cd "$(dirname "$tf")" && pwd)
p=$work/prefix
cmake --install "$build" --prefix "$p" >install.log 2>&1
check "cmake --install into a prefix" test $? -eq 0 || tail -5 install.log
check "bin/tempfail" test -x "$p/bin/tempfail"
check "sbin/testsmtpd" test -x "$p/sbin/testsmtpd"
check "the library: share/tempfail/scenarios/presets/default.yaml" test -f "$p/share/tempfail/scenarios/presets/default.yaml"
check "... the incidents" test -f "$p/share/tempfail/scenarios/incidents/strict-cap-idle/after.yaml"
check "testsmtpd(8)" test -f "$p/share/man/man8/testsmtpd.8"
check "the documents" test -f "$p/share/doc/tempfail/scenario.md" -a -f "$p/share/doc/tempfail/README.md"
check "installed tempfail lists the library" bash -c '"$1/bin/tempfail" list | grep -q "^examples/greylist "' _ "$p"
rm "$p/share/tempfail/scenarios/examples/greylist.yaml"
check "... the installed library, not the source tree's" bash -c '! "$1/bin/tempfail" list | grep -q "^examples/greylist "' _ "$p"
check "... while the build directory's tempfail reads the source tree" \
  bash -c '"$1" list | grep -q "^examples/greylist "' _ "$tf"
check "installed tempfail runs the built-in default" bash -c 'cd "$2" && "$1/bin/tempfail" run -q --no-plots -o runs/d' _ "$p" "$work"
check "installed tempfail shows a library scenario by name, its use: presets resolved" \
  bash -c '"$1/bin/tempfail" show examples/providers | grep -q "rule: concurrency_per_ip"' _ "$p"
check "installed tempfail runs it (a summary, whatever its expect: says of 2 minutes)" \
  bash -c 'cd "$2" && "$1/bin/tempfail" run examples/providers -q --no-plots -o runs/p --set duration=2m;
           [ $? -le 1 ] && [ -s runs/p/summary.json ]' _ "$p" "$work"
check "installed testsmtpd --help" bash -c '"$1/sbin/testsmtpd" --help | grep -q "^usage: testsmtpd --scenario FILE"' _ "$p"
checks_done install
