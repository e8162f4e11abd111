/*
 * test_smtp_client - the simulated SMTP client session, driven request by request on a calendar of its
 * own: the MX walk over many hosts and the cache of idle sessions by server address.
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
#include <string.h>

#include "models/smtp_client.h"
#include "sim/sim_random.h"

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
    f->lat.dns_mx = sim_dist_constant(0.010);
    f->domains[0] = (char *)"a.test";
    for (size_t i = 0; i < nmx; i++) {
        snprintf(f->host[i], sizeof(f->host[i]), "mx%zu.a.test", i + 1);
        f->mx[i] = (receiver_mx_config){.host = f->host[i], .preference = 10};
    }
    f->rc = (receiver_config){.name = (char *)"a", .domains = f->domains, .ndomains = 1, .mx = f->mx, .nmx = nmx,
                              .rtt = sim_dist_constant(0.030), .bandwidth = 12.5e6,
                              .latency = sim_dist_constant(0), .service = sim_dist_constant(0),
                              .policy = {.rules = f->rules, .preset = (char *)"postfix", .hostname = (char *)"mx1.a.test"}};
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

static void fx_free(fixture *f)
{
    sim_calendar_free(f->cal);
    smtp_client_free(f->cl, 0);
    receiver_free(f->rcv);
    gsl_rng_free(f->rng);
}

static void run_until(fixture *f, sim_time_t t) { sim_calendar_run_until(f->cal, t); }
static void run_dry(fixture *f) { sim_calendar_run_until(f->cal, SIM_TIME_NEVER); }

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

/* Delivered through a relay starting with `host[` (the message says what happened instead). */
static void assert_delivered_via(const rcpt_seen *r, const char *host)
{
    char want[64];
    snprintf(want, sizeof(want), "%s[", host);
    if (r->count != 1 || r->status != SMTP_RCPT_DELIVERED || strncmp(r->relay, want, strlen(want)) != 0)
        fail_msg("expected one delivery via %s, got %d outcome(s), status %d via %s (%s)", host, r->count,
                 (int)r->status, r->relay, r->reply);
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
    start(&f, &d, 1, (how){0}, 0);
    run_dry(&f);
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
    f.rules[0] = (policy_rule_config){.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 1,
                                      .reply = (char *)"451 4.7.1 one message per connection"};
    f.rc.policy.nrules = 1;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_walk_sorts_all_hosts),
        cmocka_unit_test(test_reuse_keeps_server_addresses_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
