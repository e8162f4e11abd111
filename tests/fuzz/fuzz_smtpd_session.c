/*
 * fuzz_smtpd_session - testsmtpd's protocol engine on whole dialogues, TLS state included.
 *
 * The first byte chooses the receiver (a plain one; one with STARTTLS and a policy that tarpits,
 * greylists and caps recipients; one with small line and message limits) and whether the TLS
 * handshake succeeds. The rest is what the client sends, in chunks cut at every 0xFF byte; each cut
 * advances the clock by a second, and completes a pending STARTTLS handshake. Pending delays are
 * let run out (resume), as the server's timer would.
 *
 * Whatever the input: every reply is whole lines of printable US-ASCII ending in CR LF, at most 512
 * bytes each (RFC 5321 4.2, 4.5.3.1.5); nothing is written after the close; every 354 is followed by
 * exactly one end of message or discard; plaintext after an accepted STARTTLS is never answered
 * before the handshake (CVE-2011-0411); the session's memory is freed (ASan).
 */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "fuzz.h"
#include "models/policy.h"
#include "scenarios/scenario.h"
#include "testsmtpd/smtpd_session.h"

static const char receivers_yaml[] =
    "name: fuzz\n"
    "traffic:\n  classes:\n    - { name: a, arrivals: { process: poisson, rate: 1/s }, domains: { a.test: 1 } }\n"
    "receivers:\n"
    "  - { name: plain, hostname: mx.plain.test, domains: [a.test], starttls: no }\n"
    "  - name: strict\n"
    "    hostname: mx.strict.test\n"
    "    domains: [b.test, c.test]\n"
    "    starttls: yes\n"
    "    policy:\n"
    "      - { rule: tarpit, stage: rcpt, delay: 2s }\n"
    "      - { rule: greylist, delay: 5s, reply: \"450 4.2.0 <%r>: Recipient address rejected: Greylisted for %d "
    "seconds by %h\" }\n"
    "      - { rule: recipients_per_message, limit: 3 }\n"
    "      - { rule: messages_per_session, limit: 2 }\n";

typedef struct fz {
    bool closed, in_message, tls_pending, tls_fail;
    size_t writes_after_close;
} fz;

static void f_write(void *ctx, const char *data, size_t len)
{
    fz *f = ctx;
    fuzz_check(!f->closed, "a write after the close");
    fuzz_check(!f->tls_pending, "a reply to plaintext after STARTTLS");
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\n') {
            fuzz_check(i > start && data[i - 1] == '\r', "a line not ended by CR LF");
            fuzz_check(i + 1 - start <= 512, "a reply line of %zu bytes", i + 1 - start);
            fuzz_check(i + 1 - start >= 5, "a reply line of %zu bytes", i + 1 - start);
            start = i + 1;
        } else if (!(ch == '\r' && i + 1 < len && data[i + 1] == '\n')) {
            fuzz_check(ch >= 0x20 && ch < 0x7f, "byte 0x%02x in a reply", ch);
        }
    }
    fuzz_check(start == len, "a reply that does not end with CR LF");
}
static void f_close(void *ctx, bool silent)
{
    (void)silent;
    ((fz *)ctx)->closed = true;
}
static int f_starttls(void *ctx)
{
    fz *f = ctx;
    f->tls_pending = true;
    return 0;
}
static void f_body(void *ctx, const char *data, size_t len)
{
    (void)data;
    (void)len;
    fuzz_check(((fz *)ctx)->in_message, "content outside a message");
}
static int f_eom(void *ctx, const char *sender, const char *const *rcpts, size_t nrcpt, uint64_t size)
{
    (void)sender;
    (void)rcpts;
    (void)size;
    fz *f = ctx;
    fuzz_check(nrcpt > 0, "a message without recipients");
    f->in_message = false;
    return 0;
}
static void f_discard(void *ctx) { ((fz *)ctx)->in_message = false; }
static void f_event(void *ctx, const char *type, const char *text, int rule)
{
    (void)rule;
    fz *f = ctx;
    if (strcmp(type, "reply") == 0 && text && strncmp(text, "354", 3) == 0) {
        fuzz_check(!f->in_message, "a second 354 before the end of the first message");
        f->in_message = true;
    }
}

static const smtpd_ops ops = {.write = f_write, .close = f_close, .starttls = f_starttls, .body = f_body,
                              .eom = f_eom, .event = f_event, .discard = f_discard};

static scenario *sc;

static void setup(void)
{
    if (sc)
        return;
    scenario_error err;
    sc = scenario_load_text(receivers_yaml, sizeof(receivers_yaml) - 1, "fuzz.yaml", NULL, 0, &err);
    fuzz_check(sc != NULL, "%s", err.message);
}

/* Lets a pending delay run out, as the server's timer does. */
static void settle(smtpd_session *s, sim_time_t *now)
{
    while (!smtpd_session_closed(s) && smtpd_session_paused_until(s)) {
        if (smtpd_session_paused_until(s) > *now)
            *now = smtpd_session_paused_until(s);
        smtpd_session_resume(s, *now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 100000)
        return 0;
    setup();
    const receiver_config *rc = &sc->receivers[data[0] % 3 == 0 ? 0 : 1];
    smtpd_limits lim = {0};
    if (data[0] % 3 == 2)
        lim = (smtpd_limits){.max_line = 64, .max_text_line = 80, .max_message = 300, .max_recipients = 2,
                             .max_errors = 4};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, data[0]);
    char why[256];
    policy *pol = policy_create(&rc->policy, rng, why, sizeof(why));
    fuzz_check(pol != NULL, "%s", why);
    const char *domains[4] = {0};
    for (size_t i = 0; i < rc->ndomains && i < 3; i++)
        domains[i] = rc->domains[i];
    smtpd_receiver r = {.name = rc->name, .hostname = rc->policy.hostname, .domains = domains, .pol = pol,
                        .tls_available = rc->starttls};
    fz f = {.tls_fail = (data[0] & 0x80) != 0};
    sim_time_t now = SIM_SEC;
    smtpd_session *s = smtpd_session_create(&r, &lim, &ops, &f, "192.0.2.7", now);
    fuzz_check(s != NULL, "out of memory");
    settle(s, &now);
    size_t pos = 1;
    while (pos < size && !smtpd_session_closed(s)) {
        const uint8_t *cut = memchr(data + pos, 0xFF, size - pos);
        size_t end = cut ? (size_t)(cut - data) : size;
        size_t off = pos;
        while (off < end && !smtpd_session_closed(s)) {
            size_t used = smtpd_session_feed(s, (const char *)data + off, end - off, now);
            off += used;
            if (smtpd_session_paused_until(s))
                settle(s, &now);
            else if (used == 0)
                break;
        }
        pos = end + 1;
        now += SIM_SEC;
        if (f.tls_pending && !smtpd_session_closed(s)) { /* the handshake, at the cut */
            f.tls_pending = false;
            if (f.tls_fail)
                break;
            smtpd_session_tls_started(s);
        }
    }
    if (!smtpd_session_closed(s) && data[size - 1] == 0xFF)
        smtpd_session_timeout(s, now);
    f.tls_pending = false;
    smtpd_session_free(s, now);
    fuzz_check(!f.in_message, "a 354 with neither an end of message nor a discard");
    policy_free(pol);
    gsl_rng_free(rng);
    return 0;
}
