# replay.bash - sourced by the replay tests (replay.sh, replay_smoke.sh) after checks.bash, with src
# and work set: skips without root (fails in CI), gives a fresh work directory, removes at exit the
# work directories the test's replays kept (a failed replay keeps its own, for the post-mortem), and
# the helpers they share. Not a test itself (ctest runs only *.sh).
if [ "$(id -u)" -ne 0 ]; then
  [ "${CI:-}" = true ] && { echo "FAIL: the replay tests must run as root in CI"; exit 1; }
  echo "SKIP: starting Postfix instances needs root" >&2
  exit 0
fi
command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || { echo "FAIL: postfix is not installed"; exit 1; }
# One replay test at a time on a machine, and none beside a replay run under the same lock
# (docs/replay.md): the clean-up and the leftover checks below look at every replay's directories
# and processes, and a concurrent one would be swept away or counted as left over.
# The test runs again under the lock (-o: the Postfix daemons it starts do not inherit it).
if [ -z "${TEMPFAIL_REPLAY_LOCKED:-}" ]; then
  export TEMPFAIL_REPLAY_LOCKED=1
  exec flock -o -w 3600 -E 75 /tmp/tempfail-replay.lock bash "$0" "$@"
fi
rm -rf "$work"
mkdir -p "$work"
ls -d /tmp/tempfail-replay.* >"$work/before" 2>/dev/null
replay_cleanup() { ls -d /tmp/tempfail-replay.* 2>/dev/null | grep -vxFf "$work/before" | xargs -r rm -rf; }
trap replay_cleanup EXIT
export NO_COLOR=1

# Processes of a replay still running: Postfix's (MAIL_CONFIG names an instance of a replay's work
# directory) or testsmtpd's (its arguments do).
leftovers() {
  grep -lsa 'MAIL_CONFIG=/tmp/tempfail-replay\.' /proc/[0-9]*/environ >/dev/null 2>&1 ||
    pgrep -f 'testsmtpd.*tempfail-replay\.' >/dev/null 2>&1
}
no_leftovers() { ! leftovers || { echo "  processes left running:"; pgrep -af 'tempfail-replay\.|postfix'; return 1; }; }

# json FILE EXPR: EXPR (Python, the file's object as d) evaluated and printed.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
