#!/usr/bin/env bash
# interop_swaks.sh - swaks, a real SMTP client from Debian, delivers to testsmtpd in plaintext and
# with STARTTLS (testsmtpd's self-signed certificate made at start); both must exit 0 and both
# messages be counted. Then a policy refusal: swaks against a forced 421 must fail and show the 421.
# Usage: interop_swaks.sh SOURCE_DIR WORK_DIR   (env TESTSMTPD: the testsmtpd binary)
set -euo pipefail
src=$1 work=$2
. "$src/tests/integration/smtpd_interop.bash"
interop_require swaks "$TESTSMTPD"
perl -MNet::SSLeay -e 1 2>/dev/null || interop_require libnet-ssleay-perl

rm -rf "$work"
mkdir -p "$work"
trap 'smtpd_stop || true' EXIT
write_scenario "$work/scenario.yaml" </dev/null
smtpd_start "$work" "$work/scenario.yaml"

swaks_to() {
  swaks --server 127.0.0.1 --port "$SMTPD_PORT" --from sender@client.test --to user@example.test \
    --helo client.test --timeout 20 "$@"
}

swaks_to >"$work/plain.out" 2>&1 || { cat "$work/plain.out"; interop_fail "swaks (plaintext) failed"; }
grep -q '^<-  250 2.0.0 Ok: queued as' "$work/plain.out" || { cat "$work/plain.out"; interop_fail "no queued reply"; }

swaks_to --tls >"$work/tls.out" 2>&1 || { cat "$work/tls.out"; interop_fail "swaks --tls failed"; }
grep -q 'TLS started' "$work/tls.out" || { cat "$work/tls.out"; interop_fail "swaks --tls did not start TLS"; }
grep -q '^<~  250 2.0.0 Ok: queued as' "$work/tls.out" || { cat "$work/tls.out"; interop_fail "no queued reply under TLS"; }

n=$(metric 'testsmtpd_messages_accepted_total{receiver="r"}')
[ "$n" = 2 ] || interop_fail "testsmtpd counted $n messages, swaks sent 2"

# A forced 421 at connect: swaks must report the failure and show the reply.
http POST '/force?receiver=r&n=1' '421 4.7.0 Try again later' >/dev/null
[ "$HTTP_STATUS" = 200 ] || interop_fail "POST /force: $HTTP_STATUS"
if swaks_to >"$work/refused.out" 2>&1; then
  cat "$work/refused.out"
  interop_fail "swaks succeeded against a forced 421"
fi
grep -q '421 4.7.0 Try again later' "$work/refused.out" || { cat "$work/refused.out"; interop_fail "swaks did not see the 421"; }
n=$(metric 'testsmtpd_messages_accepted_total{receiver="r"}')
[ "$n" = 2 ] || interop_fail "testsmtpd counted $n messages after the refusal, expected 2"

# The event log saw the TLS session.
grep -q '"tls"' "$SMTPD_LOG" || interop_fail "no tls event in the log"
smtpd_stop || interop_fail "testsmtpd did not stop cleanly"
echo "interop_swaks: plaintext, STARTTLS and a forced 421 as expected"
