#!/usr/bin/env bash
# The arrows of the house (DESIGN.md, docs/internals.md), checked on the source tree: every
# `#include "x/..."` of a .c/.h in sim/ models/ scenarios/ results/ harness/ tempfail/ testsmtpd/ must
# name its own folder or one below it:
#
#   sim/ <- models/ <- scenarios/ <- results/ <- harness/ <- programs (tempfail/, testsmtpd/)
#
# The two programs are side by side: neither includes the other. And models/ stays a world of state
# machines: no socket or network header, no wall clock (time(), clock_gettime(), gettimeofday()), no
# printing (printf, puts, anything naming stdout or stderr; snprintf into a buffer is fine).
#
# Before it trusts a clean answer on the tree, the checker is run on a small tree of known offences
# written into WORK_DIR, and must name each of them, file:line, and nothing else: a checker that
# cannot fail passes every tree.
# Usage: layers.sh SOURCE_DIR WORK_DIR
set -u
src=$1 work=$2
src=$(cd "$src" && pwd) || exit 1
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
empty() { [ ! -s "$1" ] || { sed 's/^/  /' "$1"; return 1; }; }
has() { grep -qF -- "$2" "$1" || { echo "  '$2' not in $1:"; sed 's/^/    /' "$1"; return 1; }; }
same() { cmp -s "$1" "$2" || { echo "  want:"; sed 's/^/    /' "$1"; echo "  got:"; sed 's/^/    /' "$3"; return 1; }; }

folders="sim models scenarios results harness tempfail testsmtpd"

# scan ROOT: one line per offence, "file:line: what", on stdout.
scan() (
  cd "$1" || exit 1
  files=$(for d in $folders; do [ -d "$d" ] && find "$d" -type f \( -name '*.c' -o -name '*.h' \); done | sort)
  [ -n "$files" ] || exit 0
  # shellcheck disable=SC2086
  awk '
    BEGIN {
      rank["sim"] = 0; rank["models"] = 1; rank["scenarios"] = 2; rank["results"] = 3
      rank["harness"] = 4; rank["tempfail"] = 5; rank["testsmtpd"] = 5
      arrows = "sim/ <- models/ <- scenarios/ <- results/ <- harness/ <- tempfail/, testsmtpd/"
    }
    FNR == 1 { in_comment = 0; split(FILENAME, part, "/"); layer = part[1] }
    # The line with comments and the contents of string and character literals removed, so that a
    # word in a comment or a message is not taken for a call. Block comments span lines.
    function code(line,   out, i, n, c, q) {
      out = ""; i = 1; n = length(line)
      while (i <= n) {
        if (in_comment) {
          c = index(substr(line, i), "*/")
          if (c == 0) return out
          i += c + 1; in_comment = 0; out = out " "; continue
        }
        c = substr(line, i, 2)
        if (c == "/*") { in_comment = 1; i += 2; continue }
        if (c == "//") return out
        c = substr(line, i, 1)
        if (c == "\"" || c == "\047") {
          q = c; out = out q; i++
          while (i <= n) {
            c = substr(line, i, 1)
            if (c == "\\") { i += 2; continue }
            if (c == q) break
            i++
          }
          out = out q; i++; continue
        }
        out = out c; i++
      }
      return out
    }
    function shown_line(   l) { l = $0; sub(/^[ \t]+/, "", l); return l }
    function report(what) { printf "%s:%d: %s\n", FILENAME, FNR, what }
    {
      line = $0
      c = code(line)
      if (c ~ /^[ \t]*#[ \t]*include/) {
        if (!match(line, /[<"][^<>"]*[>"]/)) next
        target = substr(line, RSTART + 1, RLENGTH - 2)
        quoted = substr(line, RSTART, 1) == "\""
        slash = index(target, "/")
        top = slash ? substr(target, 1, slash - 1) : ""
        shown = substr(line, RSTART, RLENGTH)
        if (top in rank) {
          if (rank[top] > rank[layer] || (rank[top] == rank[layer] && top != layer))
            report("#include " shown ": " layer "/ may not include " top "/ (" arrows ")")
        } else if (quoted && slash) {
          report("#include " shown ": " top "/ is not a folder of the house (" arrows ")")
        }
        if (layer == "models" && !quoted &&
            (target == "sys/socket.h" || target == "sys/un.h" || target == "netdb.h" ||
             top == "netinet" || top == "arpa" || top == "event2"))
          report("#include " shown ": models/ knows nothing of sockets")
        next
      }
      if (layer != "models") next
      if (c ~ /(^|[^A-Za-z0-9_.>])(time|clock_gettime|gettimeofday)[ \t]*\(/)
        report("models/ reads no wall clock (time, clock_gettime, gettimeofday): " shown_line())
      if (c ~ /(^|[^A-Za-z0-9_.>])(printf|vprintf|puts|putchar|perror)[ \t]*\(/ ||
          c ~ /(^|[^A-Za-z0-9_])(stdout|stderr)([^A-Za-z0-9_]|$)/)
        report("models/ never prints: " shown_line())
    }
  ' $files
)

# 1. The checker on known offences: each one named, file:line, and the innocent lines not.
bad=$work/bad
mkdir -p "$bad"/sim "$bad"/models "$bad"/scenarios "$bad"/results "$bad"/tempfail "$bad"/testsmtpd
cat >"$bad"/sim/sim_up.h <<'EOF'
#include "sim/sim_time.h"
#include "models/world.h"
EOF
cat >"$bad"/models/up.c <<'EOF'
#include "models/world.h"
#include "sim/sim_run.h"
#include "scenarios/scenario.h"
  #  include "results/results_dir.h"
/* #include "tempfail/tempfail.h" is only a comment */
#include "tests/helper.h"
EOF
cat >"$bad"/models/net.c <<'EOF'
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
static long now(void) { return (long)time(NULL); }
static void mono(struct timespec *ts) { clock_gettime(CLOCK_MONOTONIC, ts); }
static void say(void) { printf("hello\n"); }
static void shout(void) { fprintf(stderr, "oops\n"); }
static void line(void) { puts("x"); }
static void out(void) { fputs("x", stdout); }
static void fine(char *b, size_t n, sim_time_t t) { snprintf(b, n, "printf(%s) time(0)", "stderr"); }
/* a comment may say time(), printf() and stderr */
static sim_time_t next_time(sim_time_t t) { return t + 1; } // puts( in a comment
static int member(struct clock *k) { return k->time(k) + k.time(k); }
/* a block comment
   spanning lines: printf("x"); time(NULL);
*/
EOF
cat >"$bad"/scenarios/ok.c <<'EOF'
#include "scenarios/scenario.h"
#include "models/world.h"
#include "sim/sim_time.h"
#include "results/results_expect.h"
EOF
cat >"$bad"/results/ok.c <<'EOF'
#include "results/results_dir.h"
#include "scenarios/scenario.h"
#include "models/mta_record.h"
#include "harness/replay.h"
EOF
cat >"$bad"/tempfail/side.c <<'EOF'
#include "tempfail/tempfail.h"
#include "results/results_dir.h"
#include "testsmtpd/smtpd_server.h"
EOF
cat >"$bad"/testsmtpd/side.c <<'EOF'
#include "testsmtpd/smtpd_server.h"
#include "models/policy.h"
#include "tempfail/tempfail.h"
EOF
scan "$bad" >bad.out 2>bad.err
cut -d: -f1,2 bad.out >bad.got
cat >bad.want <<'EOF'
models/net.c:2
models/net.c:3
models/net.c:4
models/net.c:5
models/net.c:6
models/net.c:7
models/net.c:8
models/net.c:9
models/net.c:10
models/net.c:11
models/up.c:3
models/up.c:4
models/up.c:6
results/ok.c:4
scenarios/ok.c:4
sim/sim_up.h:2
tempfail/side.c:3
testsmtpd/side.c:3
EOF
check "the checker names every known offence and nothing else" same bad.want bad.got bad.out
check "the checker itself ran cleanly" empty bad.err
check "an offence names the include and the rule" \
  has bad.out 'sim/sim_up.h:2: #include "models/world.h": sim/ may not include models/'
check "programs do not include each other" \
  has bad.out 'tempfail/side.c:3: #include "testsmtpd/smtpd_server.h": tempfail/ may not include testsmtpd/'

# 2. The tree itself.
scan "$src" >tree.out 2>tree.err
check "the tree was scanned" test -s "$src/models/policy.c"
check "the source tree keeps the arrows" empty tree.out
check "the tree was scanned cleanly" empty tree.err

checks_done layers.sh
