# checks.bash - sourced by the shell integration tests: count named checks and close with the
# "N passed, N failed" line (exit status 1 when any failed). Not a test itself (ctest runs only *.sh).
#
#   check NAME COMMAND...    the command must succeed; NAME is printed when it does not
#   status_is GOT WANT       an exit status
#   contains FILE REGEX      grep -q (a basic regular expression)
#   has_text FILE TEXT       the text, literally (grep -F)
#   lacks FILE TEXT          the text, literally, is absent
#   checks_done NAME         prints "NAME: N passed, N failed" and returns whether all passed
fails=0 passes=0
check() {
  local name=$1; shift
  if "$@"; then passes=$((passes+1)); else echo "FAIL: $name"; fails=$((fails+1)); fi
}
status_is() { [ "$1" -eq "$2" ] || { echo "  exit status $1, want $2"; return 1; }; }
contains() { grep -q -- "$2" "$1" || { echo "  '$2' not in $1:"; head -5 "$1"; return 1; }; }
has_text() { grep -qF -- "$2" "$1" || { echo "  '$2' not in $1:"; head -5 "$1"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1" || { echo "  '$2' unexpectedly in $1"; return 1; }; }
checks_done() {
  echo "$1: $passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
