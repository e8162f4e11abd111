#!/usr/bin/env bash
# Hostile input, end to end (docs/hardening.md has the table this test holds):
#   tempfail: a scenario nested 80,000 levels deep, an alias bomb through --set, /dev/zero as a
#   scenario and as a data file, a FIFO, a rate in exponent notation and one past its bound, a run
#   that would hold more messages than its memory guard allows (exit 2, nothing written), and the
#   partial directories of killed runs (removed when their process is gone, kept while it lives);
#   testsmtpd: control bytes and 8-bit bytes in what a reply echoes, a relay refusal built from a
#   1000-byte address (every reply line printable and within 512 bytes), 100 KB of HTTP headers, a
#   body over 256 KB,
#   a hostile PUT /policy while an SMTP session goes on (its replies keep coming within 100 ms),
#   queue ids across a restart, and the tmp/ files of a delivery killed midway.
# Usage: TEMPFAIL=... TESTSMTPD=... hardening.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL} tsd=${TESTSMTPD:?set TESTSMTPD} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  fi
  pid=""
}
trap stop EXIT

# ---- tempfail ----
fails_with() { # STATUS TEXT CMD...: exit STATUS within 20 s, TEXT on stderr
  local want=$1 text=$2 st
  shift 2
  timeout 20 "$@" >cmd.out 2>cmd.err </dev/null
  st=$?
  [ "$st" -eq "$want" ] || { echo "  exit $st, want $want:"; head -3 cmd.err; return 1; }
  grep -qF -- "$text" cmd.err || { echo "  '$text' not in:"; head -3 cmd.err; return 1; }
}
python3 -c 'import sys; sys.stdout.write("name: deep\ntraffic: " + "[" * 80000 + "]" * 80000 + "\n")' >deep.yaml
check "a scenario nested 80,000 deep: exit 2, file:line:col" \
  fails_with 2 "deep.yaml:2:73: nested deeper than 64 levels" "$tf" run deep.yaml -o runs/deep
bomb='description=[&a [x,x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b],'
bomb+=' &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]]'
check "an alias bomb through --set: exit 2, said so" \
  fails_with 2 "expands to more than 100000 values through its aliases" "$tf" run --set "$bomb" -o runs/bomb
# the same bomb in a file: walked once per node, not once per path (it took 15 s to be refused)
python3 -c '
s = "name: b\nx0: &a0 [l,l,l,l,l,l,l,l,l,l]\n"
for i in range(1, 9):
    s += "x%d: &a%d [%s]\n" % (i, i, ",".join(["*a%d" % (i - 1)] * 10))
print(s, end="")' >bomb.yaml
check "an alias bomb in a file: refused within 5 s, at its first unknown key" \
  bash -c 'timeout 5 "$1" run bomb.yaml -o runs/bombfile 2>&1 | grep -q "bomb.yaml:2:1: x0: unknown key"' _ "$tf"
check "tempfail run /dev/zero: refused at once" fails_with 2 "/dev/zero: not a regular file (a character device)" \
  "$tf" run /dev/zero -o runs/zero
mkfifo fifo.yaml
check "a FIFO: refused, not waited on" fails_with 2 "fifo.yaml: not a regular file (a pipe)" "$tf" run fifo.yaml
cat >datafile.yaml <<'EOF'
name: datafile
duration: 1m
traffic:
  classes:
    - { name: a, arrivals: { process: poisson, rate: 1/s }, domains: { x.test: 1 },
        size: { dist: empirical, file: /dev/zero } }
EOF
check "a data file naming /dev/zero: refused at once" \
  fails_with 2 "'/dev/zero': not a regular file (a character device)" "$tf" run datafile.yaml
check "rate: 1e12/s: exponent notation, named" \
  fails_with 2 "'1e12/s': a number in exponent notation is not accepted" \
  "$tf" run --set 'traffic.classes[0].arrivals.rate=1e12/s' -o runs/e12
check "rate: 2000000/s: past the bound, named" fails_with 2 "is above the highest rate accepted, 1000000/s" \
  "$tf" run --set 'traffic.classes[0].arrivals.rate=2000000/s' -o runs/2m

# the memory guard: 20,000 newsletter messages at once against a bound of 5000
check "a run past --max-queue: exit 2, said so" fails_with 2 "more than 5000 messages in the system at once" \
  "$tf" run --max-queue 5000 -q --no-plots -o runs/guard
check "... and nothing written" bash -c '! ls -d runs/guard runs/guard.partial-* 2>/dev/null'

# partial directories: one of a process that is gone goes, one of a live process stays
sleep 30 & live=$!
(exit 0) & gone=$!
wait "$gone"
mkdir -p runs/old.partial-$gone runs/busy.partial-$live && head -c 100000 /dev/urandom >runs/old.partial-$gone/big
"$tf" run -q --no-plots -o runs/fresh >/dev/null 2>&1
check "a partial directory whose process is gone: removed" test ! -e runs/old.partial-$gone
check "a partial directory of a live process: kept" test -d runs/busy.partial-$live
kill "$live" 2>/dev/null

# ---- testsmtpd ----
cat >receivers.yaml <<'EOF'
receivers:
  - name: test
    hostname: mx.test
    domains: [example.test]
    mx: [{host: mx.test, listen: 127.0.0.1:0}]
EOF
start() { # start testsmtpd on ephemeral ports with the Maildir md; sets smtp and http
  rm -f ready
  "$tsd" --scenario receivers.yaml --ready-file ready --http 127.0.0.1:0 --maildir md 2>>server.err &
  pid=$!
  for _ in $(seq 50); do [ -s ready ] && break; sleep 0.1; done
  smtp=$(awk '$1 == "smtp" {print $4}' ready) http=$(awk '$1 == "http" {print $2}' ready)
  [ -n "$smtp" ] && [ -n "$http" ]
}
# a stale tmp/ file of a killed delivery (a pid that is gone, this host) and a live one's
mkdir -p md/tmp md/new md/cur
host=$(hostname | tr '/:' '__')
: >"md/tmp/1700000000.M1P$gone""Q1.$host"
: >"md/tmp/1700000000.M1P$$""Q1.$host"
check "testsmtpd starts" start
check "tmp/: the killed delivery's file removed" test ! -e "md/tmp/1700000000.M1P$gone""Q1.$host"
check "tmp/: a live process's file kept" test -e "md/tmp/1700000000.M1P$$""Q1.$host"
check "... said so on stderr" has_text server.err "removed 1 unfinished deliveries from md/tmp"

cat >client.py <<'EOF'
import socket, sys, time, json
host, port = sys.argv[2].rsplit(":", 1)
def conn():
    s = socket.create_connection((host, int(port)), timeout=10)
    f = s.makefile("rb")
    reply(f)
    return s, f
def reply(f):
    lines = []
    while True:
        l = f.readline()
        if not l:
            raise SystemExit("connection closed")
        lines.append(l)
        if l[3:4] != b"-":
            return lines
def clean(lines):
    for l in lines:
        assert l.endswith(b"\r\n") and len(l) <= 512, (len(l), l[:80])
        body = l[:-2]
        assert all(0x20 <= b < 0x7f for b in body), body
def cmd(s, f, line):
    s.sendall(line + b"\r\n")
    r = reply(f)
    clean(r)
    return r
what = sys.argv[1]
if what == "echo":
    s, f = conn()
    cmd(s, f, b"EHLO c.test")
    r = cmd(s, f, b"MAIL FROM:<a@c.test> X=\x1b[31m\rEVIL\x7f\xff\xc3\xa9")
    assert r[0].startswith(b"555 5.5.4 Unsupported option: X=?[31m?EVIL????"), r
    r = cmd(s, f, b"NOOP")   # one reply per command: the CR made no second line
    assert r == [b"250 2.0.0 Ok\r\n"], r
    print("ok")
elif what == "relay":
    s, f = conn()
    cmd(s, f, b"EHLO c.test")
    cmd(s, f, b"MAIL FROM:<a@c.test>")
    r = cmd(s, f, b"RCPT TO:<" + b"x" * 900 + b"@elsewhere.test>")
    assert r[0].startswith(b"554 5.7.1 <xxx"), r
    print(len(r[0]))
elif what == "ids":
    ids = []
    s, f = conn()
    cmd(s, f, b"EHLO c.test")
    for i in range(3):
        cmd(s, f, b"MAIL FROM:<a@c.test>")
        cmd(s, f, b"RCPT TO:<u@example.test>")
        cmd(s, f, b"DATA")
        r = cmd(s, f, b"Subject: x\r\n\r\nhello\r\n.")
        ids.append(r[0].split()[-1].decode())
    print(" ".join(ids))
elif what == "stall":
    # an SMTP session goes on while a hostile PUT /policy (200 KB nested 100,000 deep) arrives
    hhost, hport = sys.argv[3].rsplit(":", 1)
    s, f = conn()
    cmd(s, f, b"EHLO c.test")
    body = b"[" * 100000 + b"]" * 100000
    h = socket.create_connection((hhost, int(hport)), timeout=10)
    h.sendall(b"PUT /policy?receiver=test HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    worst, t_end = 0.0, time.monotonic() + 1.5
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        cmd(s, f, b"NOOP")
        worst = max(worst, time.monotonic() - t0)
    h.settimeout(10)
    resp = b""
    while True:
        d = h.recv(65536)
        if not d:
            break
        resp += d
    print("%.3f %s" % (worst, resp.split(b"\r\n")[0].decode()))
    print(resp.split(b"\r\n\r\n", 1)[-1][:200].decode(errors="replace"))
EOF
check "an echo with ESC, a bare CR, DEL and 8-bit bytes: printable, one reply" python3 client.py echo "$smtp"
relay_len=$(python3 client.py relay "$smtp" 2>relay.err)
check "a relay refusal from a 900-byte address: one line within 512 bytes ($relay_len)" \
  bash -c '[ -n "$1" ] && [ "$1" -le 512 ]' _ "$relay_len"
python3 client.py stall "$smtp" "$http" >stall.out 2>stall.err
check "a hostile PUT /policy: 400 with the loader's message" has_text stall.out "nested deeper than 64 levels"
check "... SMTP replies kept coming within 100 ms" \
  bash -c 'w=$(head -1 stall.out | cut -d" " -f1); [ -n "$w" ] && awk -v w="$w" "BEGIN {exit !(w < 0.1)}"' ||
  cat stall.out stall.err
http_refused() { # WHAT: sends an oversized request (headers or body) and wants anything but a 200
  python3 - "$http" "$1" <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
if sys.argv[2] == "headers":  # 100 KB of headers
    req = b"GET /stats HTTP/1.0\r\n" + (b"X-Junk: " + b"j" * 1000 + b"\r\n") * 100 + b"\r\n"
else:                         # a 1.3 MB policy body
    body = b"- {rule: tarpit, stage: connect, delay: 1s}\n" * 30000
    req = b"PUT /policy?receiver=test HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body
s = socket.create_connection((host, int(port)), timeout=10)
resp = b""
try:
    s.sendall(req)
except OSError:
    pass
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        resp += d
except OSError:
    pass
status = resp.split(b"\r\n")[0]
assert b" 200 " not in status, status
print(status.decode() or "closed")
EOF
}
check "100 KB of HTTP headers: refused" http_refused headers
check "a PUT /policy body over 256 KB: refused" http_refused body
check "... and the server still answers" bash -c 'exec 9<>"/dev/tcp/${1%:*}/${1##*:}"; printf "GET /stats HTTP/1.0\r\n\r\n" >&9; timeout 5 head -1 <&9 | grep -q " 200 "' _ "$http"

first=$(python3 client.py ids "$smtp")
stop
check "testsmtpd restarts" start
second=$(python3 client.py ids "$smtp")
check "queue ids: 6 ids, all different across the restart ($first / $second)" \
  bash -c '[ "$(echo $1 $2 | wc -w)" -eq 6 ] && [ "$(echo $1 $2 | tr " " "\n" | sort -u | wc -l)" -eq 6 ]' _ \
  "$first" "$second"
stop
checks_done hardening
