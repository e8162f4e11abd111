# smtpd_interop.bash - sourced by the interop_*.sh tests: start and stop testsmtpd, read its
# metrics, find tools, pick free ports. Not a test itself (ctest runs only *.sh).
#
# The interop tests run the real clients Debian ships (swaks, Postfix's smtp-source, Postfix itself)
# against the built testsmtpd. Everything they start is stopped by an EXIT trap, whatever fails, and
# every wait is bounded. HTTP is spoken through bash's /dev/tcp so the tests need no curl.

# Postfix's commands live in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

# Tools come from scripts/install-deps.sh. A developer without them gets a skip (exit 0) with the
# reason; CI (CI=true) must have them, so there a missing tool fails the test.
interop_require() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null 2>&1 && [ ! -x "$t" ]; then
      if [ "${CI:-}" = true ]; then
        echo "FAIL: $t is missing (scripts/install-deps.sh installs it)" >&2
        exit 1
      fi
      echo "SKIP: $t is missing (run scripts/install-deps.sh)" >&2
      exit 0
    fi
  done
}

interop_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A TCP port on 127.0.0.1 nobody listens on (checked by trying to connect; a small race remains).
interop_free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  interop_fail "no free port found"
}

# smtpd_start DIR SCENARIO [ARGS...]: starts $TESTSMTPD with a ready file, an event log and HTTP in
# DIR and waits (bounded) until it listens. Sets SMTPD_PID, SMTPD_PORT (the first listener),
# SMTPD_HTTP (port), SMTPD_LOG.
smtpd_start() {
  local dir=$1 scenario=$2
  shift 2
  rm -f "$dir/ready"
  SMTPD_LOG=$dir/events.log
  "$TESTSMTPD" --scenario "$scenario" --ready-file "$dir/ready" --log "$SMTPD_LOG" \
    --http 127.0.0.1:0 "$@" 2>>"$dir/testsmtpd.stderr" &
  SMTPD_PID=$!
  local i
  for i in $(seq 1 200); do
    [ -s "$dir/ready" ] && break
    kill -0 "$SMTPD_PID" 2>/dev/null || { cat "$dir/testsmtpd.stderr" >&2; SMTPD_PID=; interop_fail "testsmtpd exited at start"; }
    sleep 0.1
  done
  [ -s "$dir/ready" ] || interop_fail "testsmtpd wrote no ready file in 20 s"
  SMTPD_PORT=$(awk '$1 == "smtp" { n = split($4, a, ":"); print a[n]; exit }' "$dir/ready")
  SMTPD_HTTP=$(awk '$1 == "http" { n = split($2, a, ":"); print a[n]; exit }' "$dir/ready")
  [ -n "$SMTPD_PORT" ] && [ -n "$SMTPD_HTTP" ] || interop_fail "ready file without smtp/http lines: $(cat "$dir/ready")"
}

# SIGTERM, up to 5 s, then SIGKILL. Returns testsmtpd's exit status (non-zero if it had to be killed).
smtpd_stop() {
  [ -n "${SMTPD_PID:-}" ] || return 0
  local pid=$SMTPD_PID i rc=0
  SMTPD_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 137
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return $rc
}

# http METHOD PATH [BODY]: the response body on stdout; the status code in HTTP_STATUS.
http() {
  local method=$1 path=$2 body=${3:-} resp
  exec 5<>"/dev/tcp/127.0.0.1/$SMTPD_HTTP" || interop_fail "cannot connect to the HTTP endpoint"
  printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$method" "$path" "${#body}" "$body" >&5
  resp=$(timeout 10 cat <&5)
  exec 5<&-
  HTTP_STATUS=$(printf '%s' "$resp" | head -1 | awk '{ print $2 }')
  printf '%s' "$resp" | sed '1,/^\r\{0,1\}$/d'
}

# metric SAMPLE: the value of one Prometheus sample, e.g. 'testsmtpd_messages_accepted_total{receiver="r"}';
# 0 when the sample is absent (counters not yet touched).
metric() {
  local v
  v=$(http GET /metrics | awk -v s="$1" 'index($0, s " ") == 1 { print $2; exit }')
  echo "${v:-0}"
}

# wait_metric SAMPLE VALUE SECONDS: waits (bounded) until the sample reaches VALUE.
wait_metric() {
  local i v
  for i in $(seq 1 $(($3 * 10))); do
    v=$(metric "$1")
    [ "${v%.*}" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A receivers-only scenario: receiver r, domain example.test, listening on 127.0.0.1:0, with the
# policy lines given on stdin (YAML list items indented six spaces; none for no policy).
write_scenario() {
  local file=$1 policy
  policy=$(cat)
  {
    echo "receivers:"
    echo "  - name: r"
    echo "    domains: [example.test]"
    echo "    mx: [ { host: mx.example.test, listen: [\"127.0.0.1:0\"] } ]"
    if [ -n "$policy" ]; then
      echo "    policy:"
      echo "$policy"
    fi
  } >"$file"
}
