/*
 * test_smtp_client - the simulated SMTP client session, driven request by request on a calendar of its
 * own: what each recipient is told, when the agent is done and whether the hop failed, the documented
 * time line of a fresh delivery, the connection cache (by destination and by server address), the DNS
 * cache, the MX walk and its limits, and timeouts.
 *
 * Every test builds a small receiver by hand: constant round trips (30 ms), no think time, a 10 ms MX
 * lookup, no TLS, so times are exact. Seeds are fixed; nothing depends on the machine's clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/smtp_client.h"
#include "sim/sim_random.h"

#include "model_fixture.h"

#define SRC "192.0.2.1"
#define SEED 20240611u
#define MAX_RCPT 8
#define MAX_MX 24
#define MS (SIM_SEC / 1000)

/* ---- a receiver and a client ---- */

typedef struct fixture {
    sim_calendar *cal;
    gsl_rng *rng;
    latency_config lat;
    char host[MAX_MX][32];
    receiver_mx_config mx[MAX_MX];
    char *domains[1];
    policy_rule_config rules[4];
    receiver_config rc;
    receiver *rcv;
    smtp_client *cl;
    mta_transport_params p;
} fixture;

/* Defaults every test starts from; adjust f->rc, f->mx, f->rules, f->lat, f->p, then fx_start. */
static void fx_init(fixture *f, size_t nmx)
{
    memset(f, 0, sizeof(*f));
    f->lat.dns_mx = sim_dist_constant(FIXTURE_DNS);
    f->domains[0] = (char *)"a.test";
    for (size_t i = 0; i < nmx; i++) {
        snprintf(f->host[i], sizeof(f->host[i]), "mx%zu.a.test", i + 1);
        f->mx[i] = (receiver_mx_config){.host = f->host[i], .preference = 10};
    }
    f->rc = fixture_receiver("a", f->domains, 1, f->mx, nmx, f->rules);
    mta_transport_params_defaults(&f->p);
    f->p.tls = false;
}

static void fx_start(fixture *f)
{
    char err[256] = "";
    f->cal = sim_calendar_create(64);
    f->rng = sim_random_stream(SEED, 0, "host/0");
    f->rcv = receiver_create(&f->rc, 0, SEED, 0, err, sizeof(err));
    if (!f->rcv)
        fail_msg("receiver_create: %s", err);
    f->cl = smtp_client_create(f->cal, SRC, &f->lat, NULL, f->rng);
}

/* A receiver with nmx MX hosts, as they come. */
static void fx_ready(fixture *f, size_t nmx)
{
    fx_init(f, nmx);
    fx_start(f);
}

static void fx_free(fixture *f)
{
    sim_calendar_free(f->cal);
    smtp_client_free(f->cl, 0);
    receiver_free(f->rcv);
    gsl_rng_free(f->rng);
}

/* cmocka's setup and teardown for the tests that want a receiver with one MX host, as it comes. */
static int setup_one_mx(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    fx_ready(f, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    free(*state);
    return 0;
}

static void run_until(fixture *f, sim_time_t t) { sim_calendar_run_until(f->cal, t); }
static void run_dry(fixture *f) { sim_calendar_run_until(f->cal, SIM_TIME_NEVER); }

static void sessions(const fixture *f, uint64_t *busy, uint64_t *idle) { policy_sessions_from(f->rcv->pol, SRC, busy, idle); }
static const policy_stats *pstats(const fixture *f) { return policy_get_stats(f->rcv->pol); }

/* ---- one delivery request and what it reported ---- */

typedef struct rcpt_seen {
    int count;
    smtp_rcpt_status status;
    sim_time_t when;
    uint32_t conn_use;
    char dsn[16], relay[160], reply[1024], reason[40];
} rcpt_seen;

typedef struct delivery {
    smtp_request req;
    uint8_t rstate[MAX_RCPT];
    rcpt_seen r[MAX_RCPT];
    int ndone;
    bool hop_failed;
    sim_time_t started, done_at;
    char why[1024];
} delivery;

static void on_outcome(void *ctx, smtp_request *req, const smtp_outcome *o)
{
    delivery *d = ctx;
    assert_true(o->rcpt < req->nrcpt);
    rcpt_seen *r = &d->r[o->rcpt];
    r->count++;
    r->status = o->status;
    r->when = o->when;
    r->conn_use = o->conn_use;
    snprintf(r->dsn, sizeof(r->dsn), "%s", o->dsn ? o->dsn : "");
    snprintf(r->relay, sizeof(r->relay), "%s", o->relay ? o->relay : "");
    snprintf(r->reply, sizeof(r->reply), "%s", o->reply ? o->reply : "");
    snprintf(r->reason, sizeof(r->reason), "%s", o->reason ? o->reason : "");
}

static void on_done(void *ctx, smtp_request *req, sim_time_t now, bool hop_failed, const char *reason)
{
    (void)req;
    delivery *d = ctx;
    d->ndone++;
    d->hop_failed = hop_failed;
    d->done_at = now;
    snprintf(d->why, sizeof(d->why), "%s", reason ? reason : "");
}

static void rcpt_address(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len)
{
    (void)ctx;
    (void)req;
    snprintf(buf, len, "u%u@a.test", i);
}

static const smtp_request_ops ops = {.outcome = on_outcome, .done = on_done, .rcpt_address = rcpt_address};

typedef struct how {
    smtp_conn **cache;
    bool load, store;
    sim_time_t *dns;
} how;

/* Starts a request of nrcpt recipients at `at` (the calendar is run up to it first). */
static void start(fixture *f, delivery *d, uint32_t nrcpt, how h, sim_time_t at)
{
    assert_true(nrcpt <= MAX_RCPT);
    run_until(f, at);
    memset(d, 0, sizeof(*d));
    d->req = (smtp_request){.ops = &ops, .ctx = d, .rcv = f->rcv, .p = &f->p, .cache = h.cache,
                            .cache_load = h.load, .cache_store = h.store, .dns_expires = h.dns,
                            .nexthop = "a.test", .sender = "s@sender.test", .size = 1250, .nrcpt = nrcpt,
                            .rstate = d->rstate};
    d->started = at;
    smtp_request_start(f->cl, &d->req, at);
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

static void assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("'%s' does not contain '%s'", s, part);
}

/* Delivered through a relay starting with `host[` (the message says what happened instead). */
static void assert_delivered_via(const rcpt_seen *r, const char *host)
{
    char want[64];
    snprintf(want, sizeof(want), "%s[", host);
    if (r->count != 1 || r->status != SMTP_RCPT_DELIVERED || strncmp(r->relay, want, strlen(want)) != 0)
        fail_msg("expected one delivery via %s, got %d outcome(s), status %d via %s (%s)", host, r->count,
                 (int)r->status, r->relay, r->reply);
}

/* One outcome with this status, enhanced code, reason key and (when given) exact log text. */
static void assert_outcome(const rcpt_seen *r, smtp_rcpt_status status, const char *dsn, const char *reason,
                           const char *reply)
{
    assert_int_equal(r->count, 1);
    assert_int_equal(r->status, status);
    assert_string_equal(r->dsn, dsn);
    assert_string_equal(r->reason, reason);
    if (reply)
        assert_string_equal(r->reply, reply);
}

/* A plain request of nrcpt recipients at time 0, run to its end. */
static void deliver(fixture *f, delivery *d, uint32_t nrcpt)
{
    start(f, d, nrcpt, (how){0}, 0);
    run_dry(f);
}

static void add_rule(fixture *f, policy_rule_config rule) { f->rules[f->rc.policy.nrules++] = rule; }

/* A delivery at time 0 that leaves its session cached in *cache; the calendar is run to 1 s. */
static void deliver_and_cache(fixture *f, delivery *d, smtp_conn **cache)
{
    start(f, d, 1, (how){.cache = cache, .store = true}, 0);
    run_until(f, 1 * SIM_SEC);
    assert_int_equal(d->r[0].status, SMTP_RCPT_DELIVERED);
}

/* ---- outcomes ---- */

static void test_accepting_receiver_gets_every_recipient(void **state)
{
    fixture *f = *state;
    delivery d;
    deliver(f, &d, 3);
    for (int i = 0; i < 3; i++) {
        assert_outcome(&d.r[i], SMTP_RCPT_DELIVERED, "2.0.0", "delivered", NULL);
        assert_string_equal(d.r[i].relay, "mx1.a.test[198.51.100.10]:25");
        assert_int_equal(d.r[i].conn_use, 1);
        assert_prefix(d.r[i].reply, "250 2.0.0 Ok: queued as ");
    }
    assert_int_equal(d.ndone, 1);
    assert_false(d.hop_failed);
    assert_int_equal(pstats(f)->messages_accepted, 1);
    assert_int_equal(pstats(f)->recipients_accepted, 3);
    /* Not cached: the client said QUIT, and the server saw the close. */
    assert_int_equal(smtp_client_open(f->cl), 0);
    assert_int_equal(pstats(f)->open_sessions, 0);
}

/* The header's time line: DNS 10, connect +30, greeting +30 (EHLO arrives), EHLO reply +15, pipelined
 * commands +15, 354 and the 1250-byte body +30 +0.1, the final reply +15 ms. */
static void test_fresh_delivery_time_line(void **state)
{
    fixture *f = *state;
    delivery d;
    start(f, &d, 1, (how){0}, 5 * SIM_SEC);
    run_dry(f);
    sim_time_t took = 10 * MS + 30 * MS + 30 * MS + 15 * MS + 15 * MS + 30 * MS + 100 + 15 * MS;
    assert_int_equal(d.r[0].when, 5 * SIM_SEC + took);
    assert_int_equal(d.done_at, 5 * SIM_SEC + took);
    assert_int_equal(d.req.t_start, 5 * SIM_SEC);
    assert_int_equal(d.req.t_setup_done, 5 * SIM_SEC + 85 * MS);
}

static void test_421_greeting_defers_all_and_fails_the_hop(void **state)
{
    fixture *f = *state;
    assert_int_equal(policy_force(f->rcv->pol, 1, "421 4.7.0 mx1.a.test Error: too many connections from " SRC), 0);
    delivery d;
    deliver(f, &d, 2);
    for (int i = 0; i < 2; i++) {
        assert_outcome(&d.r[i], SMTP_RCPT_DEFERRED, "4.7.0", "421 greeting",
                       "host mx1.a.test[198.51.100.10] refused to talk to me: "
                       "421 4.7.0 mx1.a.test Error: too many connections from " SRC);
        assert_string_equal(d.r[i].relay, "mx1.a.test[198.51.100.10]:25");
    }
    assert_int_equal(d.ndone, 1);
    assert_true(d.hop_failed);
    assert_string_equal(d.why, d.r[0].reply);
    /* The client learns it at the greeting: DNS 10 + connect 30 + half a round trip. */
    assert_int_equal(d.done_at, 55 * MS);
    assert_int_equal(pstats(f)->messages_accepted, 0);
    assert_int_equal(pstats(f)->replies_by_code[421], 1);
}

/* The receiver's cost of a new connection (connect_latency) comes before its first decision: the
 * greeting, or the 421, leaves that much later, for the accepted and the refused alike. */
static void test_connect_latency_delays_greeting_and_421(void **state)
{
    (void)state;
    for (int refuse = 0; refuse < 2; refuse++) {
        fixture f;
        fx_init(&f, 1);
        f.rc.connect_latency = sim_dist_constant(0.2);
        fx_start(&f);
        if (refuse)
            assert_int_equal(policy_force(f.rcv->pol, 1, "421 4.7.0 too many connections"), 0);
        delivery d;
        deliver(&f, &d, 1);
        if (refuse) {
            assert_true(d.hop_failed);
            assert_int_equal(d.done_at, 55 * MS + 200 * MS); /* DNS 10 + connect 30 + 200 + 15 */
        } else {
            assert_int_equal(d.r[0].status, SMTP_RCPT_DELIVERED);
            assert_int_equal(d.req.t_setup_done, 85 * MS + 200 * MS);
        }
        fx_free(&f);
    }
}

/* A 4xx to RCPT defers that recipient only; the others are delivered, and it is no hop failure. */
static void test_4xx_rcpt_defers_one_recipient(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    add_rule(&f, (policy_rule_config){.kind = POLICY_RULE_RECIPIENTS_PER_MESSAGE, .limit = 2,
                                      .reply = (char *)"452 4.5.3 Error: too many recipients"});
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 3);
    assert_int_equal(d.r[0].status, SMTP_RCPT_DELIVERED);
    assert_int_equal(d.r[1].status, SMTP_RCPT_DELIVERED);
    assert_outcome(&d.r[2], SMTP_RCPT_DEFERRED, "4.5.3", "4xx rcpt", NULL);
    assert_contains(d.r[2].reply, "said: 452 4.5.3 Error: too many recipients (in reply to RCPT TO command)");
    assert_int_equal(d.ndone, 1);
    assert_false(d.hop_failed);
    fx_free(&f);
}

/* ---- the connection cache ---- */

static void test_cached_session_is_reused_and_counted_idle(void **state)
{
    fixture *f = *state;
    smtp_conn *cache = NULL;
    delivery a, b;
    deliver_and_cache(f, &a, &cache);
    assert_int_equal(smtp_client_cached(f->cl), 1);
    assert_int_equal(smtp_client_open(f->cl), 1);
    uint64_t busy, idle;
    sessions(f, &busy, &idle);
    assert_int_equal(busy, 0);
    assert_int_equal(idle, 1); /* the receiver counts the idle cached session */

    start(f, &b, 1, (how){.cache = &cache, .load = true, .store = true}, 1 * SIM_SEC);
    run_until(f, 2 * SIM_SEC);
    assert_int_equal(b.r[0].status, SMTP_RCPT_DELIVERED);
    assert_int_equal(b.r[0].conn_use, 2);
    assert_int_equal(pstats(f)->connections, 1);
    /* No DNS and no handshake: the RSET probe, then the transaction. */
    assert_int_equal(b.r[0].when - b.started, 30 * MS + 15 * MS + 30 * MS + 100 + 15 * MS);
    assert_int_equal(smtp_client_cached(f->cl), 1);
}

/* The RSET probe of a reused session is a reply like any other: it pays the server's think time.
 * With 50 ms of think time: RSET (30 + 50), the pipelined commands (15, 50 for their replies, 30
 * for the 354's round trip, the body), the final reply (50 + 15). */
static void test_rset_probe_pays_think_time(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    f.rc.latency = sim_dist_constant(0.05);
    fx_start(&f);
    smtp_conn *cache = NULL;
    delivery a, b;
    deliver_and_cache(&f, &a, &cache);
    start(&f, &b, 1, (how){.cache = &cache, .load = true, .store = true}, 1 * SIM_SEC);
    run_until(&f, 2 * SIM_SEC);
    assert_int_equal(b.r[0].conn_use, 2);
    assert_int_equal(b.req.t_setup_done - b.started, 80 * MS);
    assert_int_equal(b.r[0].when - b.started, 80 * MS + 15 * MS + 50 * MS + 30 * MS + 100 + 50 * MS + 15 * MS);
    fx_free(&f);
}

static void test_cached_session_expires(void **state)
{
    fixture *f = *state;
    smtp_conn *cache = NULL;
    delivery a;
    deliver_and_cache(f, &a, &cache);
    sim_time_t cached_at = a.done_at;
    assert_int_equal(smtp_client_cached(f->cl), 1);
    run_until(f, cached_at + f->p.connection_cache_time_limit - 1);
    assert_int_equal(smtp_client_cached(f->cl), 1);
    run_until(f, cached_at + f->p.connection_cache_time_limit);
    assert_int_equal(smtp_client_cached(f->cl), 0);
    assert_int_equal(smtp_client_open(f->cl), 0);
    assert_null(cache);
    uint64_t busy, idle;
    sessions(f, &busy, &idle);
    assert_int_equal(busy + idle, 0);
}

/*
 * scache hands out the session cached longest ago (scache_multi.c): two sessions cached 50 ms
 * apart, one reuse at 1 s. It takes the older, so when the older one's time limit is up both are
 * still cached (the reused one again, from its new store); taking the newer would have left the
 * older to expire then.
 */
static void test_idle_sessions_are_handed_out_oldest_first(void **state)
{
    fixture *f = *state;
    smtp_conn *cache = NULL;
    delivery a, b, c;
    start(f, &a, 1, (how){.cache = &cache, .store = true}, 0);
    start(f, &b, 1, (how){.cache = &cache, .store = true}, 50 * MS);
    run_until(f, 1 * SIM_SEC);
    assert_int_equal(smtp_client_cached(f->cl), 2);
    assert_true(a.done_at < b.done_at);
    start(f, &c, 1, (how){.cache = &cache, .load = true, .store = true}, 1 * SIM_SEC);
    run_until(f, a.done_at + f->p.connection_cache_time_limit + 10 * MS);
    assert_int_equal(c.r[0].status, SMTP_RCPT_DELIVERED);
    assert_int_equal(smtp_client_cached(f->cl), 2);
    run_until(f, b.done_at + f->p.connection_cache_time_limit);
    assert_int_equal(smtp_client_cached(f->cl), 1); /* the newer one, never reused, is gone */
}

/*
 * With store_later the finished request's session waits for the owner (smtp(8) saves it in scache
 * after its logging, just before its report): a request started meanwhile connects anew; once it
 * is stored, the next one reuses it.
 */
static void test_store_later_keeps_the_session_until_stored(void **state)
{
    fixture *f = *state;
    smtp_conn *cache = NULL;
    delivery a, b, c;
    start(f, &a, 1, (how){.cache = &cache, .store = true}, 0);
    a.req.store_later = true;
    run_until(f, 1 * SIM_SEC);
    assert_int_equal(a.r[0].status, SMTP_RCPT_DELIVERED);
    assert_int_equal(smtp_client_cached(f->cl), 0);
    assert_int_equal(smtp_client_open(f->cl), 1);
    uint64_t busy, idle;
    sessions(f, &busy, &idle);
    assert_int_equal(idle, 1); /* the server sees it idle all the same */
    start(f, &b, 1, (how){.cache = &cache, .load = true, .store = true}, 1 * SIM_SEC);
    run_until(f, 1500 * MS);
    assert_int_equal(b.r[0].conn_use, 1);
    assert_int_equal(pstats(f)->connections, 2);
    smtp_request_store_session(&a.req, 1500 * MS);
    smtp_request_store_session(&a.req, 1500 * MS); /* nothing held any more: no effect */
    assert_int_equal(smtp_client_cached(f->cl), 2);
    start(f, &c, 1, (how){.cache = &cache, .load = true, .store = true}, 1600 * MS);
    run_until(f, 2 * SIM_SEC);
    assert_int_equal(c.r[0].conn_use, 2);
    assert_int_equal(pstats(f)->connections, 2);
}

/* Without cache_load a cached session stays where it is: the request opens its own. */
static void test_no_reuse_without_cache_load(void **state)
{
    fixture *f = *state;
    smtp_conn *cache = NULL;
    delivery a, b;
    deliver_and_cache(f, &a, &cache);
    start(f, &b, 1, (how){.cache = &cache, .store = false}, 1 * SIM_SEC);
    run_until(f, 2 * SIM_SEC);
    assert_int_equal(b.r[0].status, SMTP_RCPT_DELIVERED);
    assert_int_equal(b.r[0].conn_use, 1);
    assert_int_equal(pstats(f)->connections, 2);
    assert_int_equal(smtp_client_cached(f->cl), 1);
}

/* ---- DNS ---- */

static void test_dns_answer_cached_until_ttl(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    f.lat.dns_ttl = 60 * SIM_SEC;
    fx_start(&f);
    sim_time_t slot = 0;
    delivery d;
    const sim_time_t fresh = 145 * MS + 100, cached = fresh - 10 * MS;
    start(&f, &d, 1, (how){.dns = &slot}, 0);
    run_dry(&f);
    assert_int_equal(d.done_at - d.started, fresh);
    assert_int_equal(slot, 10 * MS + 60 * SIM_SEC); /* from the answer on */
    start(&f, &d, 1, (how){.dns = &slot}, 30 * SIM_SEC);
    run_dry(&f);
    assert_int_equal(d.done_at - d.started, cached);
    start(&f, &d, 1, (how){.dns = &slot}, 60 * SIM_SEC + 10 * MS);
    run_dry(&f);
    assert_int_equal(d.done_at - d.started, fresh);
    fx_free(&f);
}

static void test_dns_tempfail_defers(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    f.lat.dns_tempfail = 1.0;
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 2);
    for (int i = 0; i < 2; i++) {
        assert_outcome(&d.r[i], SMTP_RCPT_DEFERRED, "4.4.3", "dns tempfail", NULL);
        assert_string_equal(d.r[i].relay, "none");
        assert_contains(d.r[i].reply, "Name service error for name=a.test type=MX");
    }
    assert_true(d.hop_failed);
    assert_int_equal(d.done_at, 10 * MS);
    assert_int_equal(pstats(&f)->connections, 0);
    fx_free(&f);
}

/* ---- the MX walk ---- */

/* A 4xx to every RCPT: recipients go on to the next MX host until smtp_mx_session_limit (2) sessions
 * were made; the third host is never contacted. */
static void test_mx_session_limit_ends_the_walk(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    for (int i = 0; i < 3; i++)
        f.mx[i].preference = 10u * (unsigned)(i + 1);
    add_rule(&f, (policy_rule_config){.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_RCPT,
                                      .probability = 1.0, .reply = (char *)"450 4.2.0 try again later"});
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 1);
    assert_outcome(&d.r[0], SMTP_RCPT_DEFERRED, "4.2.0", "4xx rcpt", NULL);
    assert_string_equal(d.r[0].relay, "mx2.a.test[198.51.100.11]:25");
    assert_int_equal(pstats(&f)->connections, 2);
    assert_false(d.hop_failed); /* a reply to RCPT is positive feedback */
    fx_free(&f);
}

/* Refused connections count toward smtp_mx_address_limit only. */
static void test_mx_address_limit_ends_the_walk(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    for (int i = 0; i < 3; i++) {
        f.mx[i].preference = 10u * (unsigned)(i + 1);
        f.mx[i].state = RECEIVER_MX_REFUSE;
    }
    f.p.mx_address_limit = 2;
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 1);
    assert_outcome(&d.r[0], SMTP_RCPT_DEFERRED, "4.4.1", "connect refused",
                   "connect to mx2.a.test[198.51.100.11]:25: Connection refused");
    assert_string_equal(d.r[0].relay, "none");
    assert_true(d.hop_failed);
    assert_int_equal(d.done_at, 10 * MS + 2 * 30 * MS);
    fx_free(&f);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    f.mx[0].state = RECEIVER_MX_TIMEOUT;
    f.p.connect_timeout = 7 * SIM_SEC;
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 1);
    assert_outcome(&d.r[0], SMTP_RCPT_DEFERRED, "4.4.1", "connect timeout",
                   "connect to mx1.a.test[198.51.100.10]:25: Connection timed out");
    assert_int_equal(d.done_at, 10 * MS + 7 * SIM_SEC);
    assert_true(d.hop_failed);
    fx_free(&f);
}

/* A server slower than smtp_helo_timeout to greet: the client gives up at the timeout. */
static void test_greeting_timeout(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    add_rule(&f, (policy_rule_config){.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_CONNECT,
                                      .delay = 10 * SIM_SEC});
    f.p.helo_timeout = 5 * SIM_SEC;
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 2);
    for (int i = 0; i < 2; i++) {
        assert_outcome(&d.r[i], SMTP_RCPT_DEFERRED, "4.4.2", "timeout",
                       "conversation with mx1.a.test[198.51.100.10] timed out while "
                       "receiving the initial server greeting");
        assert_int_equal(d.r[i].when, 40 * MS + 5 * SIM_SEC);
    }
    assert_true(d.hop_failed);
    fx_free(&f);
}

/* Equal preferences are shuffled per delivery (smtp_randomize_addresses): both hosts go first often. */
static void test_equal_preferences_shuffled(void **state)
{
    (void)state;
    fixture f;
    fx_ready(&f, 2);
    int first[2] = {0, 0};
    for (int k = 0; k < 200; k++) {
        delivery d;
        start(&f, &d, 1, (how){0}, k * SIM_SEC);
        run_dry(&f);
        assert_int_equal(d.r[0].status, SMTP_RCPT_DELIVERED);
        first[strncmp(d.r[0].relay, "mx1.", 4) == 0 ? 0 : 1]++;
    }
    assert_int_equal(first[0] + first[1], 200);
    assert_true(first[0] > 50 && first[1] > 50);
    fx_free(&f);
}

/* Every MX host counts, however many: the most preferred of 20 is tried first. */
static void test_mx_walk_sorts_all_hosts(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 20);
    for (unsigned i = 0; i < 20; i++)
        f.mx[i].preference = 100 - i; /* mx20 is the most preferred */
    fx_start(&f);
    delivery d;
    deliver(&f, &d, 1);
    assert_delivered_via(&d.r[0], "mx20.a.test");
    fx_free(&f);
}

/*
 * smtp_reuse_addr keys idle sessions by server address: a session to one MX host is never taken for
 * another. Twenty MX hosts walked in order; the first sixteen refuse connections, so deliveries reach
 * mx17 and beyond. The receiver takes one message per session. Delivery A (destination A) leaves a
 * session to mx17 cached. Delivery B (destination B, same receiver) walks to mx17, reuses that session
 * - the right one - and gets 451, so its recipient goes on to mx18, which must be a new session to mx18
 * and not the idle one to mx17 again.
 */
static void test_reuse_keeps_server_addresses_apart(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 20);
    for (unsigned i = 0; i < 20; i++) {
        f.mx[i].preference = i;
        f.mx[i].state = i < 16 ? RECEIVER_MX_REFUSE : RECEIVER_MX_UP;
    }
    add_rule(&f, (policy_rule_config){.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 1,
                                      .reply = (char *)"451 4.7.1 one message per connection"});
    f.p.mx_address_limit = 20;
    fx_start(&f);
    smtp_conn *cache_a = NULL, *cache_b = NULL;
    delivery a, b;
    start(&f, &a, 1, (how){.cache = &cache_a, .load = true, .store = true}, 0);
    run_until(&f, 1 * SIM_SEC);
    assert_delivered_via(&a.r[0], "mx17.a.test");
    assert_int_equal(a.r[0].conn_use, 1);
    char mx17[160];
    snprintf(mx17, sizeof(mx17), "%s", a.r[0].relay);

    start(&f, &b, 1, (how){.cache = &cache_b, .load = true, .store = true}, 1 * SIM_SEC);
    run_until(&f, 2 * SIM_SEC);
    assert_delivered_via(&b.r[0], "mx18.a.test");
    assert_string_not_equal(b.r[0].relay, mx17);
    assert_int_equal(b.r[0].conn_use, 1);
    /* mx17 was reused once (its second use got the 451), mx18 opened: two sessions in all. */
    assert_int_equal(pstats(&f)->connections, 2);
    assert_int_equal(pstats(&f)->replies_by_code[451], 1);
    fx_free(&f);
}

/* An MX host's named address is what the log texts show, wherever they name the server; a host
 * naming none keeps its made-up one. */
static void test_named_mx_address_in_log_texts(void **state)
{
    (void)state;
    static const struct {
        const char *address;  /* mx1's; NULL: none named */
        receiver_mx_state st; /* mx1's state */
        bool force421;
        const char *relay, *reply;
    } cases[] = {
        {"127.64.0.1", RECEIVER_MX_UP, false, "mx1.a.test[127.64.0.1]:25", NULL},
        {"2001:db8::10", RECEIVER_MX_UP, false, "mx1.a.test[2001:db8::10]:25", NULL},
        {NULL, RECEIVER_MX_UP, false, "mx1.a.test[198.51.100.10]:25", NULL},
        {"127.64.0.1", RECEIVER_MX_UP, true, "mx1.a.test[127.64.0.1]:25",
         "host mx1.a.test[127.64.0.1] refused to talk to me: 421 4.7.0 busy"},
        {"127.64.0.1", RECEIVER_MX_REFUSE, false, "none", "connect to mx1.a.test[127.64.0.1]:25: Connection refused"},
        {"127.64.0.1", RECEIVER_MX_TIMEOUT, false, "none",
         "connect to mx1.a.test[127.64.0.1]:25: Connection timed out"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        fixture f;
        fx_init(&f, 1);
        f.mx[0].address = (char *)cases[k].address;
        f.mx[0].state = cases[k].st;
        f.p.mx_address_limit = 1;
        fx_start(&f);
        if (cases[k].force421)
            assert_int_equal(policy_force(f.rcv->pol, 1, "421 4.7.0 busy"), 0);
        delivery d;
        deliver(&f, &d, 1);
        if (strcmp(d.r[0].relay, cases[k].relay) != 0)
            fail_msg("case %zu: relay %s, want %s", k, d.r[0].relay, cases[k].relay);
        if (cases[k].reply && strcmp(d.r[0].reply, cases[k].reply) != 0)
            fail_msg("case %zu: reply '%s', want '%s'", k, d.r[0].reply, cases[k].reply);
        fx_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepting_receiver_gets_every_recipient, setup_one_mx, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_delivery_time_line, setup_one_mx, teardown),
        cmocka_unit_test_setup_teardown(test_421_greeting_defers_all_and_fails_the_hop, setup_one_mx, teardown),
        cmocka_unit_test(test_connect_latency_delays_greeting_and_421),
        cmocka_unit_test(test_4xx_rcpt_defers_one_recipient),
        cmocka_unit_test_setup_teardown(test_cached_session_is_reused_and_counted_idle, setup_one_mx, teardown),
        cmocka_unit_test(test_rset_probe_pays_think_time),
        cmocka_unit_test_setup_teardown(test_cached_session_expires, setup_one_mx, teardown),
        cmocka_unit_test_setup_teardown(test_idle_sessions_are_handed_out_oldest_first, setup_one_mx, teardown),
        cmocka_unit_test_setup_teardown(test_store_later_keeps_the_session_until_stored, setup_one_mx, teardown),
        cmocka_unit_test_setup_teardown(test_no_reuse_without_cache_load, setup_one_mx, teardown),
        cmocka_unit_test(test_dns_answer_cached_until_ttl),
        cmocka_unit_test(test_dns_tempfail_defers),
        cmocka_unit_test(test_mx_session_limit_ends_the_walk),
        cmocka_unit_test(test_mx_address_limit_ends_the_walk),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_greeting_timeout),
        cmocka_unit_test(test_equal_preferences_shuffled),
        cmocka_unit_test(test_mx_walk_sorts_all_hosts),
        cmocka_unit_test(test_reuse_keeps_server_addresses_apart),
        cmocka_unit_test(test_named_mx_address_in_log_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
