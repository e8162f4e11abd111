/*
 * test_smtpd_session - testsmtpd's protocol engine, driven in-process.
 *
 * The dialogue files (tests/dialogues, format in tests/dialogues/README.md) are the main cases:
 * each runs twice through smtpd_session with fake ops and a fake clock, once with the client's
 * writes fed whole and once a byte at a time (the command and DATA scanners must not care where a
 * read ends). The runner acts as a live client would: a reply is read when it is expected, and when
 * the engine holds one (a tarpit) the clock runs to its due time; %quiet checks that nothing came
 * meanwhile. Besides the replies, every run checks the engine's side contracts: the reply events
 * spell exactly the bytes written, every reply is counted once in the policy's replies_by_code,
 * every 354 ends in one eom or one discard, and the policy session is closed at free.
 *
 * Then tests of what a dialogue cannot reach: the server's timeout, a storage failure, the recipient
 * limit, busy/idle bookkeeping, a failed TLS start, a receiver changed under an open session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <openssl/evp.h>

#include "models/policy.h"
#include "scenarios/scenario.h"
#include "testsmtpd/smtpd_session.h"

#define DIALOGUES TEMPFAIL_SOURCE_DIR "/tests/dialogues"
#define T0 (10 * SIM_SEC)

/* ---- fake ops: what the server would do ---- */

typedef struct fake {
    char *out;              /* bytes written */
    size_t len, cap, rd;    /* rd: how far the client has read */
    char *ev;               /* the reply events, rebuilt as wire bytes */
    size_t evlen, evcap;
    int replies;            /* reply events */
    int connects, closes_ev, tls_ev;
    int close_rule;         /* rule of the "close" event */
    bool ev_busy;           /* the state the "busy"/"idle" events say */
    char states[64];        /* those events in order: 'B', 'I' (the first 63) */
    size_t nstates;
    bool closed, silent;
    int close_calls;
    bool tls_pending;       /* starttls() was called and tls_started not yet */
    int starttls_rc;
    EVP_MD_CTX *sha;
    bool in_msg;            /* body since the last eom/discard */
    uint64_t body_len;
    int body_calls;
    int messages, discards, opened;
    uint64_t last_size;
    char last_sha[65];
    int eom_rc;
    char last_sender[256];
    size_t last_nrcpt;
} fake;

static void buf_add(char **b, size_t *len, size_t *cap, const char *d, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        *b = realloc(*b, c);
        assert_non_null(*b);
        *cap = c;
    }
    memcpy(*b + *len, d, n);
    *len += n;
    (*b)[*len] = 0;
}

static void f_write(void *ctx, const char *d, size_t n)
{
    fake *f = ctx;
    assert_false(f->closed);
    buf_add(&f->out, &f->len, &f->cap, d, n);
}

static void f_close(void *ctx, bool silent)
{
    fake *f = ctx;
    f->closed = true;
    f->silent = silent;
    f->close_calls++;
}

static int f_starttls(void *ctx)
{
    fake *f = ctx;
    f->tls_pending = true;
    return f->starttls_rc;
}

static void f_body(void *ctx, const char *d, size_t n)
{
    fake *f = ctx;
    if (!f->in_msg) {
        f->in_msg = true;
        f->body_len = 0;
        EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL);
    }
    assert_true(n > 0);
    f->body_len += n;
    f->body_calls++;
    EVP_DigestUpdate(f->sha, d, n);
}

static int f_eom(void *ctx, const char *sender, const char *const *rcpts, size_t nrcpt, uint64_t size)
{
    fake *f = ctx;
    if (!f->in_msg) { /* an empty message */
        EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL);
        f->body_len = 0;
    }
    unsigned char md[32];
    unsigned int mdl = 0;
    EVP_DigestFinal_ex(f->sha, md, &mdl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(f->last_sha + 2 * i, 3, "%02x", md[i]);
    assert_int_equal(f->body_len, size);
    f->in_msg = false;
    f->last_size = size;
    snprintf(f->last_sender, sizeof(f->last_sender), "%s", sender);
    f->last_nrcpt = nrcpt;
    for (size_t i = 0; i < nrcpt; i++)
        assert_non_null(rcpts[i]);
    f->messages++;
    return f->eom_rc;
}

static void f_discard(void *ctx)
{
    fake *f = ctx;
    f->in_msg = false;
    f->discards++;
}

static void f_event(void *ctx, const char *type, const char *text, int rule)
{
    fake *f = ctx;
    (void)rule;
    if (strcmp(type, "connect") == 0)
        f->connects++;
    else if (strcmp(type, "close") == 0) {
        f->closes_ev++;
        f->close_rule = rule;
    }
    else if (strcmp(type, "tls") == 0)
        f->tls_ev++;
    else if (strcmp(type, "busy") == 0 || strcmp(type, "idle") == 0) {
        /* a change only: never busy twice in a row, never idle before busy */
        bool busy = type[0] == 'b';
        assert_true(busy != f->ev_busy);
        assert_null(text);
        f->ev_busy = busy;
        if (f->nstates + 1 < sizeof(f->states))
            f->states[f->nstates++] = busy ? 'B' : 'I';
    }
    else if (strcmp(type, "reply") == 0) {
        assert_non_null(text);
        f->replies++;
        for (const char *p = text;;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            buf_add(&f->ev, &f->evlen, &f->evcap, p, n);
            buf_add(&f->ev, &f->evlen, &f->evcap, "\r\n", 2);
            if (!nl)
                break;
            p = nl + 1;
        }
    }
}

static const smtpd_ops fake_ops = {
    .write = f_write,
    .close = f_close,
    .starttls = f_starttls,
    .body = f_body,
    .eom = f_eom,
    .event = f_event,
    .discard = f_discard,
};

static void fake_init(fake *f)
{
    memset(f, 0, sizeof(*f));
    f->sha = EVP_MD_CTX_new();
    assert_non_null(f->sha);
}

static void fake_clear(fake *f)
{
    free(f->out);
    free(f->ev);
    EVP_MD_CTX_free(f->sha);
}

/* ---- the receivers of tests/dialogues/receivers.yaml ---- */

static scenario *receivers;

typedef struct rig {
    const receiver_config *cfg;
    gsl_rng *rng;
    policy *pol;
    const char **domains;
    smtpd_receiver rcv;
} rig;

static int rig_open(rig *r, const char *name, char *why, size_t whylen)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < receivers->nreceivers; i++)
        if (strcmp(receivers->receivers[i].name, name) == 0)
            r->cfg = &receivers->receivers[i];
    if (r->cfg == NULL) {
        snprintf(why, whylen, "no receiver '%s' in receivers.yaml", name);
        return -1;
    }
    r->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r->rng, 42);
    char err[256];
    r->pol = policy_create(&r->cfg->policy, r->rng, err, sizeof(err));
    if (r->pol == NULL) {
        snprintf(why, whylen, "receiver %s: %s", name, err);
        gsl_rng_free(r->rng);
        return -1;
    }
    r->domains = calloc(r->cfg->ndomains + 1, sizeof(*r->domains));
    assert_non_null(r->domains);
    for (size_t i = 0; i < r->cfg->ndomains; i++)
        r->domains[i] = r->cfg->domains[i];
    r->rcv = (smtpd_receiver){.name = r->cfg->name,
                              .hostname = r->cfg->policy.hostname,
                              .domains = r->domains,
                              .pol = r->pol,
                              .tls_available = r->cfg->starttls};
    return 0;
}

static void rig_close(rig *r)
{
    policy_free(r->pol);
    gsl_rng_free(r->rng);
    free(r->domains);
}

/* ---- the dialogue runner ---- */

typedef struct run {
    const char *file;
    int line;
    bool bytewise;          /* feed one byte at a time */
    rig rig;
    bool have_rig;
    fake f;
    smtpd_session *s;
    sim_time_t now;
    char *q;                /* client bytes the engine has not consumed yet */
    size_t qlen, qcap;
    char why[2048];
} run;

static int dlg_fail(run *r, const char *fmt, ...)
{
    char msg[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(r->why, sizeof(r->why), "%s:%d: %s%s", r->file, r->line, msg, r->bytewise ? " (fed byte by byte)" : "");
    return -1;
}

static void pump(run *r)
{
    size_t off = 0;
    while (off < r->qlen && !smtpd_session_closed(r->s) && smtpd_session_paused_until(r->s) == 0) {
        size_t n = r->bytewise ? 1 : r->qlen - off;
        size_t used = smtpd_session_feed(r->s, r->q + off, n, r->now);
        assert_true(used <= n);
        off += used;
        if (used < n)
            break;
    }
    if (off > 0) {
        memmove(r->q, r->q + off, r->qlen - off);
        r->qlen -= off;
    }
}

static void send_bytes(run *r, const char *d, size_t n)
{
    buf_add(&r->q, &r->qlen, &r->qcap, d, n);
    pump(r);
}

/* The delayed reply is due: the clock runs to it, as a client waiting on the socket. */
static void resume(run *r)
{
    r->now = smtpd_session_paused_until(r->s);
    smtpd_session_resume(r->s, r->now);
    pump(r);
}

static void advance(run *r, sim_time_t d)
{
    sim_time_t target = r->now + d;
    while (smtpd_session_paused_until(r->s) != 0 && smtpd_session_paused_until(r->s) <= target)
        resume(r);
    r->now = target;
}

/* The next reply line (without CR LF) into line, or -1. */
static int next_line(run *r, char *line, size_t cap)
{
    for (;;) {
        const char *p = r->f.out + r->f.rd;
        const char *crlf = r->f.len > r->f.rd ? strstr(p, "\r\n") : NULL;
        if (crlf != NULL) {
            size_t n = (size_t)(crlf - p);
            if (memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL)
                return dlg_fail(r, "a reply line with a bare CR or LF: '%.*s'", (int)n, p);
            if (n >= cap)
                return dlg_fail(r, "reply line too long (%zu)", n);
            memcpy(line, p, n);
            line[n] = 0;
            r->f.rd += n + 2;
            return 0;
        }
        if (r->f.len > r->f.rd)
            return dlg_fail(r, "unterminated reply '%s'", p);
        if (smtpd_session_paused_until(r->s) == 0 || smtpd_session_closed(r->s))
            return dlg_fail(r, "no reply%s", smtpd_session_closed(r->s) ? " (the server closed the connection)" : "");
        resume(r);
    }
}

static int unescape(run *r, const char *in, char *out, size_t *outlen)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'r': out[n++] = '\r'; break;
        case 'n': out[n++] = '\n'; break;
        case '0': out[n++] = 0; break;
        case 't': out[n++] = '\t'; break;
        case '\\': out[n++] = '\\'; break;
        case 'x': {
            char h[3] = {p[1], p[1] ? p[2] : 0, 0};
            char *end;
            long v = strtol(h, &end, 16);
            if (h[0] == 0 || h[1] == 0 || *end != 0)
                return dlg_fail(r, "bad \\x escape");
            out[n++] = (char)v;
            p += 2;
            break;
        }
        default:
            return dlg_fail(r, "unknown escape '\\%c'", *p ? *p : '0');
        }
    }
    *outlen = n;
    return 0;
}

static int check_all_read(run *r, const char *when)
{
    if (r->f.rd < r->f.len) {
        const char *p = r->f.out + r->f.rd;
        return dlg_fail(r, "unexpected reply %s: '%.*s'", when, (int)strcspn(p, "\r\n"), p);
    }
    return 0;
}

static int start(run *r)
{
    if (r->s != NULL)
        return 0;
    if (!r->have_rig) {
        if (rig_open(&r->rig, "test", r->why, sizeof(r->why)) < 0)
            return -1;
        r->have_rig = true;
    }
    r->s = smtpd_session_create(&r->rig.rcv, NULL, &fake_ops, &r->f, "127.0.0.1", r->now);
    assert_non_null(r->s);
    return 0;
}

static int step(run *r, char *ln)
{
    size_t l = strlen(ln);
    while (l > 0 && (ln[l - 1] == '\n' || ln[l - 1] == '\r'))
        ln[--l] = 0;
    if (l == 0 || ln[0] == '#')
        return 0;
    if (strncmp(ln, "%receiver ", 10) == 0) {
        if (r->s != NULL || r->have_rig)
            return dlg_fail(r, "%%receiver must come first");
        if (rig_open(&r->rig, ln + 10, r->why, sizeof(r->why)) < 0)
            return dlg_fail(r, "%s", r->why);
        r->have_rig = true;
        return 0;
    }
    if (start(r) < 0)
        return -1;
    char *arg = l > 2 ? ln + 3 : ln + l;
    if (strncmp(ln, "C:", 2) == 0) {
        send_bytes(r, arg, strlen(arg));
        send_bytes(r, "\r\n", 2);
    } else if (strncmp(ln, "C>", 2) == 0) {
        char *b = malloc(l + 1);
        size_t n = 0;
        assert_non_null(b);
        int rc = unescape(r, arg, b, &n);
        if (rc == 0)
            send_bytes(r, b, n);
        free(b);
        return rc;
    } else if (strncmp(ln, "C*", 2) == 0) {
        char *end;
        long n = strtol(arg, &end, 10);
        if (n <= 0 || *end != ' ')
            return dlg_fail(r, "C* needs a count and a text");
        for (long i = 0; i < n; i++) {
            send_bytes(r, end + 1, strlen(end + 1));
            send_bytes(r, "\r\n", 2);
        }
    } else if (strncmp(ln, "S:", 2) == 0 || strncmp(ln, "S~", 2) == 0) {
        char got[4096];
        if (next_line(r, got, sizeof(got)) < 0)
            return dlg_fail(r, "expected '%s': %s", arg, strchr(r->why, ' ') + 1);
        if (ln[1] == ':') {
            if (strncmp(got, arg, strlen(arg)) != 0)
                return dlg_fail(r, "expected '%s', got '%s'", arg, got);
        } else {
            regex_t re;
            if (regcomp(&re, arg, REG_EXTENDED | REG_NOSUB) != 0)
                return dlg_fail(r, "bad regex '%s'", arg);
            int m = regexec(&re, got, 0, NULL, 0);
            regfree(&re);
            if (m != 0)
                return dlg_fail(r, "expected a match of '%s', got '%s'", arg, got);
        }
    } else if (strcmp(ln, "%starttls") == 0) {
        if (check_all_read(r, "before the TLS handshake") < 0)
            return -1;
        if (!r->f.tls_pending)
            return dlg_fail(r, "the server did not start TLS");
        if (r->qlen != 0)
            return dlg_fail(r, "%zu plaintext bytes after STARTTLS were kept", r->qlen);
        r->f.tls_pending = false;
        smtpd_session_tls_started(r->s);
    } else if (strcmp(ln, "%close") == 0) {
        while (!smtpd_session_closed(r->s) && smtpd_session_paused_until(r->s) != 0)
            resume(r);
        if (check_all_read(r, "before the close") < 0)
            return -1;
        if (!smtpd_session_closed(r->s) || !r->f.closed)
            return dlg_fail(r, "the server did not close the connection");
    } else if (strncmp(ln, "%sleep ", 7) == 0 || strncmp(ln, "%quiet ", 7) == 0) {
        sim_time_t d;
        if (scenario_parse_duration(ln + 7, &d) < 0)
            return dlg_fail(r, "bad duration '%s'", ln + 7);
        size_t before = r->f.len;
        bool closed = r->f.closed;
        advance(r, d);
        if (ln[1] == 'q' && (r->f.len != before || r->f.closed != closed))
            return dlg_fail(r, "the server was not quiet for %s: '%.*s'%s", ln + 7,
                            (int)strcspn(r->f.out + before, "\r\n"), r->f.out + before,
                            r->f.closed != closed ? " and closed" : "");
    } else if (strncmp(ln, "%message ", 9) == 0) {
        char sha[80] = "";
        unsigned long long size;
        int k = sscanf(ln + 9, "%llu %79s", &size, sha);
        if (k < 1)
            return dlg_fail(r, "%%message needs a size");
        if (r->f.messages == 0)
            return dlg_fail(r, "no message was accepted");
        if (r->f.last_size != size)
            return dlg_fail(r, "message size %llu, expected %llu", (unsigned long long)r->f.last_size, size);
        if (k == 2 && strcmp(sha, r->f.last_sha) != 0)
            return dlg_fail(r, "message sha256 %s, expected %s", r->f.last_sha, sha);
    } else {
        return dlg_fail(r, "unknown line '%s'", ln);
    }
    return 0;
}

/* The side contracts, once the session is freed. */
static int check_books(run *r)
{
    if (check_all_read(r, "at the end") < 0)
        return -1;
    if (r->f.evlen != r->f.len || (r->f.len && memcmp(r->f.ev, r->f.out, r->f.len) != 0))
        return dlg_fail(r, "the reply events do not spell the bytes written");
    if (r->f.connects != 1 || r->f.closes_ev != 1 || r->f.close_calls > 1)
        return dlg_fail(r, "connect/close events %d/%d, close calls %d", r->f.connects, r->f.closes_ev, r->f.close_calls);
    const policy_stats *st = policy_get_stats(r->rig.pol);
    uint64_t counted = 0;
    for (size_t c = 0; c < 600; c++)
        counted += st->replies_by_code[c];
    if (counted != (uint64_t)r->f.replies)
        return dlg_fail(r, "%d replies sent, %llu counted by the policy", r->f.replies, (unsigned long long)counted);
    if (st->open_sessions != 0 || st->open_busy != 0 || st->open_idle != 0)
        return dlg_fail(r, "the policy session was not closed");
    if (r->f.in_msg)
        return dlg_fail(r, "a message got body() but neither eom nor discard");
    return 0;
}

static int run_dialogue(run *r, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return dlg_fail(r, "cannot open: %s", strerror(errno));
    char *ln = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&ln, &cap, fp) > 0) {
        r->line++;
        rc = step(r, ln);
    }
    free(ln);
    fclose(fp);
    if (rc == 0 && r->s == NULL)
        rc = dlg_fail(r, "empty dialogue");
    if (r->s != NULL) {
        r->line++;
        smtpd_session_free(r->s, r->now);
        r->s = NULL;
        if (rc == 0)
            rc = check_books(r);
    }
    return rc;
}

static void test_dialogue(void **state)
{
    const char *name = *state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", DIALOGUES, name);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        run r = {.file = name, .bytewise = bytewise, .now = T0};
        fake_init(&r.f);
        int rc = run_dialogue(&r, path);
        fake_clear(&r.f);
        free(r.q);
        if (r.have_rig)
            rig_close(&r.rig);
        if (rc != 0)
            fail_msg("%s", r.why);
    }
}

/* ---- engine tests beyond the dialogues ---- */

typedef struct solo {
    rig rig;
    fake f;
    smtpd_session *s;
} solo;

static void solo_open(solo *o, const char *receiver, const smtpd_limits *lim)
{
    char why[256];
    assert_int_equal(rig_open(&o->rig, receiver, why, sizeof(why)), 0);
    fake_init(&o->f);
    o->s = smtpd_session_create(&o->rig.rcv, lim, &fake_ops, &o->f, "192.0.2.9", T0);
    assert_non_null(o->s);
}

static void solo_close(solo *o)
{
    if (o->s != NULL)
        smtpd_session_free(o->s, T0);
    fake_clear(&o->f);
    rig_close(&o->rig);
}

static void solo_send(solo *o, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(smtpd_session_feed(o->s, text, n, T0), n);
}

/* The last reply line written. */
static const char *solo_last(solo *o)
{
    static char line[1024];
    assert_true(o->f.len >= 2);
    size_t end = o->f.len - 2, b = end;
    while (b > 0 && o->f.out[b - 1] != '\n')
        b--;
    snprintf(line, sizeof(line), "%.*s", (int)(end - b), o->f.out + b);
    return line;
}

static void test_timeout(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    smtpd_session_timeout(o.s, T0 + SIM_MIN);
    assert_string_equal(solo_last(&o), "421 4.4.2 mx.test Error: timeout exceeded");
    assert_true(smtpd_session_closed(o.s));
    assert_true(o.f.closed);
    assert_false(o.f.silent);
    assert_int_equal(smtpd_session_feed(o.s, "NOOP\r\n", 6, T0), 0);
    solo_close(&o);
}

static void test_timeout_drops_delayed_reply(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "tarpit", NULL);
    assert_int_equal(o.f.len, 0);
    assert_int_equal(smtpd_session_paused_until(o.s), T0 + SIM_SEC);
    assert_int_equal(smtpd_session_feed(o.s, "EHLO c\r\n", 8, T0), 0); /* nothing read during a tarpit */
    smtpd_session_timeout(o.s, T0 + SIM_SEC / 2);
    assert_string_equal(o.f.out, "421 4.4.2 mx.tarpit.test Error: timeout exceeded\r\n");
    assert_int_equal(smtpd_session_paused_until(o.s), 0);
    solo_close(&o);
}

/* A tarpitted reply is never written before its due time, however early the server asks. */
static void test_resume_before_due_keeps_the_reply(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "tarpit", NULL);
    assert_int_equal(smtpd_session_paused_until(o.s), T0 + SIM_SEC);
    static const sim_time_t early[] = {0, SIM_SEC / 2, SIM_SEC - 1};
    for (size_t k = 0; k < sizeof(early) / sizeof(early[0]); k++) {
        smtpd_session_resume(o.s, T0 + early[k]);
        assert_int_equal(o.f.len, 0);
        assert_int_equal(smtpd_session_paused_until(o.s), T0 + SIM_SEC);
    }
    smtpd_session_resume(o.s, T0 + SIM_SEC);
    assert_true(o.f.len > 0);
    assert_int_equal(strncmp(o.f.out, "220 ", 4), 0);
    assert_int_equal(smtpd_session_paused_until(o.s), 0);
    solo_close(&o);
}

/* A message's envelope for receiver "test", up to its content; a session's first transaction; the next one
 * in the same session. */
#define ENVELOPE "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n"
#define UP_TO_CONTENT "EHLO c\r\n" ENVELOPE
static const char *const transaction = UP_TO_CONTENT "hello\r\n.\r\n";
static const char *const next_transaction = ENVELOPE "hello\r\n.\r\n";

static void test_storage_failure(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    o.f.eom_rc = -EIO;
    solo_send(&o, transaction);
    assert_string_equal(solo_last(&o), "451 4.3.0 Error: queue file write error");
    assert_int_equal(o.f.messages, 1);
    assert_false(smtpd_session_closed(o.s));
    o.f.eom_rc = 0;
    solo_send(&o, next_transaction);
    assert_memory_equal(solo_last(&o), "250 2.0.0 Ok: queued as ", 24);
    assert_int_equal(o.f.last_nrcpt, 1);
    assert_string_equal(o.f.last_sender, "a@b.test");
    solo_close(&o);
}

static void test_recipient_limit(void **state)
{
    (void)state;
    smtpd_limits lim = {.max_recipients = 2, .max_errors = 3};
    solo o;
    solo_open(&o, "test", &lim);
    solo_send(&o, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    for (int i = 0; i < 5; i++) { /* 452 is no protocol error: three of them do not end the session */
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "RCPT TO:<r%d@example.test>\r\n", i);
        solo_send(&o, cmd);
        assert_string_equal(solo_last(&o), i < 2 ? "250 2.1.5 Ok" : "452 4.5.3 Error: too many recipients");
    }
    assert_false(smtpd_session_closed(o.s));
    solo_send(&o, "DATA\r\nx\r\n.\r\n");
    assert_int_equal(o.f.last_nrcpt, 2);
    solo_close(&o);
}

static void test_queue_ids_differ(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, transaction);
    char first[1024];
    snprintf(first, sizeof(first), "%s", solo_last(&o));
    solo_send(&o, next_transaction);
    assert_int_equal(strlen(first), strlen("250 2.0.0 Ok: queued as ") + 14);
    assert_string_not_equal(first, solo_last(&o));
    solo_close(&o);
}

/* Queue ids count on from the process's start (smtpd_session_id_base), so a restart never repeats
 * one: the n-th message of a process started at t gets t + n, in 14 hex digits. */
static void test_queue_ids_from_base(void **state)
{
    (void)state;
    smtpd_session_id_base(0x123456789ABCull);
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, transaction);
    assert_string_equal(solo_last(&o), "250 2.0.0 Ok: queued as 00123456789ABD");
    solo_send(&o, next_transaction);
    assert_string_equal(solo_last(&o), "250 2.0.0 Ok: queued as 00123456789ABE");
    solo_close(&o);
    smtpd_session_id_base(0);
}

/* Every reply is printable US-ASCII of at most 512 octets a line with its CR LF, whatever it echoes:
 * control and 8-bit bytes become '?' (a bare CR cannot start a second reply line), and a relay
 * refusal built from a 900-byte address is cut at 510. */
static void test_replies_bounded(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, "EHLO c\r\nMAIL FROM:<a@b.test> X=\x1b[31m\rEVIL\x7f\xff\r\n");
    assert_string_equal(solo_last(&o), "555 5.5.4 Unsupported option: X=?[31m?EVIL??");
    char rcpt[1100];
    memset(rcpt, 'x', 900);
    snprintf(rcpt + 900, sizeof(rcpt) - 900, "@elsewhere.test>\r\n");
    solo_send(&o, "MAIL FROM:<a@b.test>\r\n");
    size_t before = o.f.len;
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "RCPT TO:<%s", rcpt);
    solo_send(&o, cmd);
    const char *line = solo_last(&o);
    assert_int_equal(strlen(line), 510);
    assert_memory_equal(line, "554 5.7.1 <xxx", 14);
    for (size_t i = before; i < o.f.len; i++) {
        unsigned char ch = (unsigned char)o.f.out[i];
        assert_true((ch >= 0x20 && ch < 0x7f) || ch == '\r' || ch == '\n');
    }
    solo_close(&o);
}

/* Content is streamed in runs, not line by line and never gathered: one body call per run. */
static void test_body_streamed_in_runs(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, UP_TO_CONTENT);
    size_t n = 0;
    char *msg = malloc(3000 * 10 + 8);
    assert_non_null(msg);
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(msg + n, 11, "line %03d\r\n", i % 1000);
    memcpy(msg + n, ".\r\n", 3);
    assert_int_equal(smtpd_session_feed(o.s, msg, n + 3, T0), n + 3);
    free(msg);
    assert_int_equal(o.f.body_calls, 1);
    assert_int_equal(o.f.last_size, n);
    solo_close(&o);
}

/* The policy sees the session busy until its first transaction ends, idle between transactions. */
static void test_busy_idle(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    uint64_t busy, idle;
    policy_sessions_from(o.rig.pol, "192.0.2.9", &busy, &idle);
    assert_true(busy == 1 && idle == 0);
    assert_true(smtpd_session_in_data(o.s));
    assert_string_equal(o.f.states, "B");
    solo_send(&o, transaction);
    policy_sessions_from(o.rig.pol, "192.0.2.9", &busy, &idle);
    assert_true(busy == 0 && idle == 1);
    assert_false(smtpd_session_in_data(o.s));
    assert_string_equal(o.f.states, "BI");
    solo_send(&o, "MAIL FROM:<a@b.test>\r\n");
    policy_sessions_from(o.rig.pol, "192.0.2.9", &busy, &idle);
    assert_true(busy == 1 && idle == 0);
    assert_true(smtpd_session_in_data(o.s));
    assert_string_equal(o.f.states, "BIB");
    solo_send(&o, "RSET\r\n");
    policy_sessions_from(o.rig.pol, "192.0.2.9", &busy, &idle);
    assert_true(busy == 0 && idle == 1);
    assert_string_equal(o.f.states, "BIBI");
    solo_send(&o, "RSET\r\n"); /* already idle: no event */
    assert_string_equal(o.f.states, "BIBI");
    smtpd_session_free(o.s, T0);
    o.s = NULL;
    policy_sessions_from(o.rig.pol, "192.0.2.9", &busy, &idle);
    assert_true(busy == 0 && idle == 0);
    solo_close(&o);
}

/* A session closed by the client in the middle of DATA: the partial message is discarded. */
static void test_free_in_data_discards(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    solo_send(&o, UP_TO_CONTENT "partial\r\n");
    assert_true(o.f.in_msg);
    smtpd_session_free(o.s, T0);
    o.s = NULL;
    assert_int_equal(o.f.discards, 1);
    assert_int_equal(o.f.messages, 0);
    solo_close(&o);
}

static void test_starttls_failure_closes(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    o.f.starttls_rc = -EPROTO;
    const char *cmds = "EHLO c\r\nSTARTTLS\r\nNOOP\r\n";
    assert_int_equal(smtpd_session_feed(o.s, cmds, strlen(cmds), T0), strlen(cmds) - 6); /* NOOP unread */
    assert_string_equal(solo_last(&o), "220 2.0.0 Ready to start TLS");
    assert_true(smtpd_session_closed(o.s));
    solo_close(&o);
}

/* The server may point its receiver at a new policy (a reload): an open session keeps its own. */
static void test_receiver_copied(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "test", NULL);
    policy *old = o.rig.rcv.pol;
    o.rig.rcv.pol = NULL;
    o.rig.rcv.hostname = "changed.test";
    solo_send(&o, "HELO c\r\n");
    assert_string_equal(solo_last(&o), "250 mx.test");
    o.rig.rcv.pol = old;
    solo_close(&o);
}

/* A silent close (messages_per_session, silent) writes nothing; the close event names the rule. */
static void test_silent_close_names_rule(void **state)
{
    (void)state;
    solo o;
    solo_open(&o, "onemsg", NULL);
    solo_send(&o, "HELO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@onemsg.test>\r\nDATA\r\nhi\r\n.\r\n");
    size_t before = o.f.len;
    const char *mail = "MAIL FROM:<a@b.test>\r\nNOOP\r\n";
    assert_int_equal(smtpd_session_feed(o.s, mail, strlen(mail), T0), strlen(mail) - 6);
    assert_int_equal(o.f.len, before);
    assert_true(o.f.closed && o.f.silent);
    assert_int_equal(o.f.close_rule, 0);
    solo_close(&o);
}

/* A multi-line verdict (here a forced one) goes out as one reply of several CR LF lines. */
static void test_forced_multiline(void **state)
{
    (void)state;
    char why[256];
    rig g;
    assert_int_equal(rig_open(&g, "test", why, sizeof(why)), 0);
    assert_int_equal(policy_force(g.pol, 1, "421-4.7.0 first line\n421 4.7.0 second line"), 0);
    fake f;
    fake_init(&f);
    smtpd_session *s = smtpd_session_create(&g.rcv, NULL, &fake_ops, &f, "192.0.2.9", T0);
    assert_string_equal(f.out, "421-4.7.0 first line\r\n421 4.7.0 second line\r\n");
    assert_true(f.closed);
    smtpd_session_free(s, T0);
    assert_int_equal(f.replies, 1);
    fake_clear(&f);
    rig_close(&g);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    scenario_error err;
    receivers = scenario_load_receivers_file(DIALOGUES "/receivers.yaml", &err);
    if (receivers == NULL) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    DIR *d = opendir(DIALOGUES);
    if (d == NULL) {
        perror(DIALOGUES);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".dlg") == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);

    static const struct CMUnitTest engine[] = {
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_drops_delayed_reply),
        cmocka_unit_test(test_resume_before_due_keeps_the_reply),
        cmocka_unit_test(test_storage_failure),
        cmocka_unit_test(test_recipient_limit),
        cmocka_unit_test(test_queue_ids_differ),
        cmocka_unit_test(test_queue_ids_from_base),
        cmocka_unit_test(test_replies_bounded),
        cmocka_unit_test(test_body_streamed_in_runs),
        cmocka_unit_test(test_busy_idle),
        cmocka_unit_test(test_free_in_data_discards),
        cmocka_unit_test(test_starttls_failure_closes),
        cmocka_unit_test(test_receiver_copied),
        cmocka_unit_test(test_silent_close_names_rule),
        cmocka_unit_test(test_forced_multiline),
    };
    size_t ne = sizeof(engine) / sizeof(engine[0]);
    struct CMUnitTest *tests = calloc(n + ne, sizeof(*tests));
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){.name = names[i], .test_func = test_dialogue, .initial_state = names[i]};
    memcpy(tests + n, engine, sizeof(engine));
    int rc = n == 0 ? 1 : _cmocka_run_group_tests("smtpd_session", tests, n + ne, NULL, NULL);
    if (n == 0)
        fprintf(stderr, "no dialogue files in %s\n", DIALOGUES);
    free(tests);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    scenario_free(receivers);
    return rc;
}
