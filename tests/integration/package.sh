#!/usr/bin/env bash
# The Debian package, as an operator gets it: `cpack -G DEB` in the build directory makes
# tempfail_VERSION_ARCH.deb (Section mail, Depends from the shared libraries the programs link);
# `apt-get install ./tempfail_*.deb` installs it into the machine; from PATH, `tempfail run` runs
# the built-in default and a library scenario by name from /usr/share/tempfail/scenarios,
# `testsmtpd --help` answers, `man testsmtpd` reads its page; the package is removed again, also on
# failure, and its files are gone. Needs root (exit 77 otherwise) and a machine where tempfail is
# not installed as a package already (77 too: the test must not remove someone's package).
# Usage: TEMPFAIL=BUILD/tempfail package.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL} src=$1 work=$2
[ "$(id -u)" -eq 0 ] || { echo "package: needs root to install the package (skipped)"; exit 77; }
if dpkg-query -W -f='${Status}' tempfail 2>/dev/null | grep -q "install ok installed"; then
  echo "package: a tempfail package is installed already; not touching it (skipped)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
unset TEMPFAIL_LIBRARY
build=$(cd "$(dirname "$tf")" && pwd)
installed=0
cleanup() {
  [ "$installed" = 1 ] && DEBIAN_FRONTEND=noninteractive apt-get remove -y -q tempfail >remove.log 2>&1
  return 0
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$work/pkg") >cpack.log 2>&1
check "cpack -G DEB" test $? -eq 0 || tail -5 cpack.log
deb=$(ls "$work"/pkg/tempfail_*.deb 2>/dev/null | head -1)
check "the package file: tempfail_VERSION_ARCH.deb" test -n "$deb"
[ -n "$deb" ] || { checks_done package; exit 1; }
dpkg-deb -f "$deb" Section Depends Package >fields
check "Section: mail" grep -qx "Section: mail" fields
check "Depends: the shared libraries (libyaml, GSL, libevent, jansson, OpenSSL, PLplot) and the chart driver" \
  bash -c 'd=$(grep ^Depends: fields); for l in libyaml libgsl libevent libjansson libssl libplplot plplot-driver-cairo; do
             [[ $d == *$l* ]] || { echo "  no $l in $d"; exit 1; }; done'
dpkg-deb -c "$deb" >contents
for f in ./usr/bin/tempfail ./usr/sbin/testsmtpd ./usr/share/tempfail/scenarios/presets/default.yaml \
  ./usr/share/man/man8/testsmtpd.8 ./usr/share/doc/tempfail/README.md; do
  check "the package holds $f" grep -q " $f\$" contents
done

DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >install.log 2>&1
st=$?
[ "$st" -eq 0 ] && installed=1
check "apt-get install ./tempfail_*.deb" test "$st" -eq 0 || tail -5 install.log
check "tempfail on PATH is the package's" bash -c '[ "$(command -v tempfail)" = /usr/bin/tempfail ]'
check "tempfail run: the built-in default, with its charts" \
  bash -c 'tempfail run -q -o runs/default && test -s runs/default/summary.json && test -s runs/default/window.png'
check "tempfail list: the installed library" bash -c 'tempfail list | grep -q "^incidents/strict-cap-idle "'
check "tempfail run NAME: a library scenario from /usr/share/tempfail" \
  bash -c 'tempfail run incidents/strict-cap-idle/after -q --no-plots -o runs/sci'
check "testsmtpd --help from PATH" bash -c 'testsmtpd --help | grep -q "^usage: testsmtpd --scenario FILE"'
check "man testsmtpd" bash -c '[ "$(man -w testsmtpd)" = /usr/share/man/man8/testsmtpd.8.gz ] || man -w testsmtpd | grep -q /usr/share/man/man8/testsmtpd.8'

DEBIAN_FRONTEND=noninteractive apt-get remove -y -q tempfail >remove.log 2>&1
st=$?
[ "$st" -eq 0 ] && installed=0
check "apt-get remove tempfail" test "$st" -eq 0 || tail -5 remove.log
check "... its programs are gone" bash -c '[ ! -e /usr/bin/tempfail ] && [ ! -e /usr/sbin/testsmtpd ]'
check "... and its library" test ! -e /usr/share/tempfail/scenarios/presets/default.yaml
checks_done package
