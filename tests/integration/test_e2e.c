/*
 * End-to-end tests of the simulator: whole scenarios, loaded from YAML and run in-process, checked
 * against what Postfix does and against queueing theory.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "models/world.h"
#include "scenarios/scenario.h"
#include "sim/sim_calendar.h"
#include "sim/sim_run.h"

/* What a test wants to see of the attempts. */
typedef struct capture {
    sim_time_t times[64];
    size_t n;
    uint64_t hash; /* FNV-1a over every attempt's fields: two identical runs give the same hash */
} capture;

static void hash_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ull;
    }
}

static void on_attempt(void *ctx, const mta_attempt_record *r)
{
    capture *c = ctx;
    if (c->n < 64 && (strcmp(r->process, "smtp") == 0 || strcmp(r->process, "app") == 0))
        c->times[c->n++] = r->when;
    hash_bytes(&c->hash, &r->when, sizeof(r->when));
    hash_bytes(&c->hash, r->rcpt, strlen(r->rcpt));
    hash_bytes(&c->hash, r->reply, strlen(r->reply));
    hash_bytes(&c->hash, r->relay, strlen(r->relay));
}

typedef struct run {
    scenario *s;
    sim_calendar *cal;
    world *w;
    sim_run_result rr;
    capture cap;
} run;

static bool busy(void *ctx) { return world_busy(ctx); }

/* Loads yaml (with --set style edits, if any), builds the world and runs it to the end. */
static void run_with_sets(run *r, const char *yaml, const char *const *sets, size_t nsets)
{
    memset(r, 0, sizeof(*r));
    r->cap.hash = 0xcbf29ce484222325ull;
    scenario_error err;
    r->s = scenario_load_text(yaml, strlen(yaml), "test.yaml", sets, nsets, &err);
    if (!r->s)
        fail_msg("scenario: %s", err.message);
    r->cal = sim_calendar_create(1024);
    world_config wc = {.traffic = &r->s->traffic, .mta = &r->s->mta, .receivers = r->s->receivers,
                       .nreceivers = r->s->nreceivers, .seed = r->s->seed, .replication = r->s->replication,
                       .horizon = r->s->duration, .observer = {.ctx = &r->cap, .attempt = on_attempt}};
    char werr[256];
    r->w = world_create(&wc, r->cal, werr, sizeof(werr));
    if (!r->w)
        fail_msg("world: %s", werr);
    sim_run_config rc = {.horizon = r->s->duration, .until_drained = r->s->until_drained,
                         .drain_cap = r->s->drain_cap, .ctx = r->w, .busy = busy};
    sim_run(r->cal, &rc, &r->rr);
    world_finish(r->w, r->rr.end);
}

static void run_text(run *r, const char *yaml) { run_with_sets(r, yaml, NULL, 0); }

static void run_free(run *r)
{
    sim_calendar_free(r->cal); /* first: it leaves the world's pending events idle */
    world_free(r->w);
    scenario_free(r->s);
}

static receiver *receiver_named(world *w, const char *name)
{
    for (size_t i = 0; i < world_nreceivers(w); i++)
        if (strcmp(world_receiver(w, i)->cfg->name, name) == 0)
            return world_receiver(w, i);
    fail_msg("no receiver %s", name);
    return NULL;
}

static uint64_t dead_episodes(world *w)
{
    uint64_t n = 0;
    for (size_t h = 0; h < world_nhosts(w); h++)
        for (size_t i = 0; i < mta_host_ndests(world_host(w, h)); i++)
            n += mta_host_dest(world_host(w, h), i)->dead_episodes;
    return n;
}

#define ORANGE_TRAFFIC                                                                                         \
    "seed: 3\n"                                                                                                \
    "duration: 10m\n"                                                                                          \
    "traffic:\n"                                                                                               \
    "  classes:\n"                                                                                             \
    "    - name: t\n"                                                                                          \
    "      arrivals: { process: poisson, rate: 10/s }\n"                                                       \
    "      domains: { orange.test: 1, wanadoo.test: 1 }\n"                                                     \
    "receivers:\n"                                                                                             \
    "  - name: orange\n"                                                                                       \
    "    domains: [orange.test, wanadoo.test]\n"                                                               \
    "    mx: [ { host: mx1.orange.test, preference: 10 } ]\n"                                                  \
    "    network: { rtt: 30ms }\n"                                                                             \
    "    latency: 100ms\n"                                                                                     \
    "    policy:\n"                                                                                            \
    "      - { rule: concurrency_per_ip, limit: 3, count_idle: true,\n"                                        \
    "          reply: \"421 4.7.0 Too many connections, slow down\" }\n"

/* One message to a receiver that answers every RCPT with 450: deferred at each attempt, until the test's
 * retry limit or queue lifetime ends it. */
#define ONE_STUCK_MESSAGE                                                                                      \
    "traffic:\n"                                                                                               \
    "  classes:\n"                                                                                             \
    "    - name: one\n"                                                                                        \
    "      arrivals: { process: periodic, count: 1, every: 100d }\n"                                           \
    "      domains: { stuck.test: 1 }\n"                                                                       \
    "receivers:\n"                                                                                             \
    "  - name: stuck\n"                                                                                        \
    "    domains: [stuck.test]\n"                                                                              \
    "    policy:\n"                                                                                            \
    "      - { rule: random_fault, stage: rcpt, probability: 1, reply: \"450 4.2.0 Try again later\" }\n"

/* A receiver allowing 3 sessions per IP, counting idle ones, for two of its domains together (as Orange
 * counts orange.fr and wanadoo.fr): with Postfix's defaults each domain is a destination with its own
 * window of 5 and its own cached sessions - 421s, and a destination declared dead. */
static void test_cap3_postfix_defaults_get_421_and_dead(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: cap3-defaults\n" ORANGE_TRAFFIC);
    policy_stats ps;
    receiver_stats(receiver_named(r.w, "orange"), &ps);
    assert_true(ps.replies_by_code[421] > 0);
    assert_true(ps.refused_by_rule[POLICY_RULE_CONCURRENCY_PER_IP] > 0);
    assert_true(dead_episodes(r.w) > 0);
    assert_true(receiver_named(r.w, "orange")->peak > 3); /* the 4th session reached it, and was refused */
    run_free(&r);
}

/* The operator's fix: a dedicated transport whose one nexthop carries both domains (so Postfix counts
 * them together, as the receiver does), concurrency 2, and no connection caching. */
static void test_cap3_dedicated_transport_no_421(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: cap3-fixed\n" ORANGE_TRAFFIC
                 "mta:\n"
                 "  postfix: { smtp_connection_cache_on_demand: no }\n"
                 "  transports:\n"
                 "    slowmx: { domains: [orange.test, wanadoo.test], nexthop: orange.test,\n"
                 "              destination_concurrency_limit: 2 }\n");
    policy_stats ps;
    receiver_stats(receiver_named(r.w, "orange"), &ps);
    assert_int_equal(ps.replies_by_code[421], 0);
    assert_int_equal(dead_episodes(r.w), 0);
    assert_true(ps.messages_accepted > 1500);
    assert_true(receiver_named(r.w, "orange")->peak <= 3);
    run_free(&r);
}

/* Little's law on an unthrottled run: mean number in system = arrival rate x mean time in system. */
static void test_littles_law(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: little\n"
                 "seed: 11\n"
                 "duration: 2h\n"
                 "until: drained\n"
                 "traffic:\n"
                 "  classes:\n"
                 "    - name: t\n"
                 "      arrivals: { process: poisson, rate: 40/s }\n"
                 "      domains: { a.test: 1, b.test: 2 }\n"
                 "receivers:\n"
                 "  - name: a\n"
                 "    domains: [a.test, b.test]\n"
                 "    network: { rtt: { dist: lognormal, median: 40ms, p99: 300ms } }\n"
                 "    latency: { dist: exponential, mean: 20ms }\n");
    const world_stats *st = world_get_stats(r.w);
    assert_true(r.rr.drained);
    assert_int_equal(st->delivered, st->arrived);
    double T = sim_time_to_sec(r.rr.end);
    double L = sim_tavg_mean(&st->q_total, r.rr.end);
    double lambda = (double)st->arrived / T;
    double W = sim_quantile_mean(st->latency);
    /* The sketch's mean is exact (sum/count); only the edge of the run separates the two sides. */
    if (fabs(L - lambda * W) / L > 0.01)
        fail_msg("L = %g, lambda*W = %g (lambda %g, W %g)", L, lambda * W, lambda, W);
    run_free(&r);
}

/* Erlang C: probability of waiting in an M/M/c queue with offered load a = lambda/mu. */
static double erlang_c(unsigned c, double a)
{
    double sum = 0, term = 1;
    for (unsigned k = 0; k < c; k++) {
        sum += term;
        term *= a / (k + 1);
    }
    double top = term * c / (c - a); /* term is now a^c / c! */
    return top / (sum + top);
}

/* A receiver of capacity c under Poisson load, with nothing else in the way, is an M/M/c queue. */
static void test_receiver_capacity_matches_erlang_c(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: erlang\n"
                 "seed: 5\n"
                 "duration: 200000s\n"
                 "traffic:\n"
                 "  classes:\n"
                 "    - name: t\n"
                 "      arrivals: { process: poisson, rate: 3/s }\n"
                 "      domains: { e.test: 1 }\n"
                 "mta:\n"
                 "  postfix: { default_destination_concurrency_limit: 0, initial_destination_concurrency: 1000,\n"
                 "             default_process_limit: 100000, smtp_tls_security_level: none }\n"
                 "receivers:\n"
                 "  - name: e\n"
                 "    domains: [e.test]\n"
                 "    network: { rtt: 0s }\n"
                 "    service: { dist: exponential, mean: 1s }\n"
                 "    capacity: 5\n");
    receiver *e = receiver_named(r.w, "e");
    /* Load 0.6: far enough from saturation that 600,000 messages pin the mean wait within about 2%
     * (seeds 1-6 land within 3.3%); the tolerance is 5%. */
    double lambda = 3, mu = 1;
    unsigned c = 5;
    double wq = erlang_c(c, lambda / mu) / (c * mu - lambda);
    if (fabs(e->wait.mean - wq) / wq > 0.05)
        fail_msg("mean wait %g s, Erlang C says %g s (n = %llu)", e->wait.mean, wq, (unsigned long long)e->wait.n);
    run_free(&r);
}

/* One message that is always deferred (450 to RCPT: no negative feedback, so no dead destination):
 * retried at 300, 600, 1200, 2400, 4800 s, then every 4000 s, each at the next deferred-queue scan. */
static void test_backoff_schedule_defaults(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: backoff\n"
                 "duration: 5h\n" ONE_STUCK_MESSAGE);
    static const double want[] = {0, 300, 600, 1200, 2400, 4800, 9000, 13200, 17400};
    size_t nwant = sizeof(want) / sizeof(want[0]);
    if (r.cap.n != nwant)
        fail_msg("%zu attempts, want %zu", r.cap.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        double t = sim_time_to_sec(r.cap.times[i]);
        if (fabs(t - want[i]) > 2)
            fail_msg("attempt %zu at %.3f s, want about %.0f s", i, t, want[i]);
    }
    run_free(&r);
}

/* Same scenario and seed: the very same attempts; another seed: different ones. */
static void test_determinism(void **state)
{
    (void)state;
    const char *yaml = "name: det\n" ORANGE_TRAFFIC;
    run a, b;
    run_text(&a, yaml);
    run_text(&b, yaml);
    assert_true(a.cap.hash == b.cap.hash);
    assert_int_equal(a.rr.events, b.rr.events);
    uint64_t h = a.cap.hash;
    run_free(&a);
    run_free(&b);
    run c;
    const char *sets[] = {"seed=4"};
    run_with_sets(&c, yaml, sets, 1);
    assert_int_equal(c.s->seed, 4);
    assert_true(c.cap.hash != h);
    run_free(&c);
}

/* A campaign to a receiver that refuses every connection: the destination dies, and every message of
 * the campaign is deferred at once without a connection - in one pass of the queue manager, without
 * recursing per message (this used to overflow the stack). */
static void test_campaign_to_closed_receiver(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: closed\n"
                 "duration: 20m\n"
                 "traffic:\n"
                 "  classes:\n"
                 "    - name: campaign\n"
                 "      arrivals: { process: burst, count: 150000, start: 0s, over: 1s }\n"
                 "      domains: { closed.test: 1 }\n"
                 "receivers:\n"
                 "  - name: closed\n"
                 "    domains: [closed.test]\n"
                 "    policy:\n"
                 "      - { rule: random_fault, stage: connect, probability: 1, reply: \"421 4.7.0 Service refused\" }\n");
    const world_stats *st = world_get_stats(r.w);
    assert_int_equal(st->arrived, 150000);
    assert_int_equal(st->delivered, 0);
    assert_int_equal(st->queued, 150000);
    assert_true(dead_episodes(r.w) >= 1);
    assert_true(st->peak_deferred == 0 || st->deferrals >= 150000);
    run_free(&r);
}

static uint64_t reason_count(world *w, const char *key)
{
    const world_stats *st = world_get_stats(w);
    for (size_t i = 0; i < st->nreasons; i++)
        if (strcmp(st->deferral_reasons[i].key, key) == 0)
            return st->deferral_reasons[i].n;
    return 0;
}

/* A tarpit longer than smtp_mail_timeout: the client gives up, nothing is delivered, and the site
 * failure is negative feedback (the destination dies). */
static void test_tarpit_beyond_mail_timeout(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: tarpit\n"
                 "duration: 30m\n"
                 "traffic:\n"
                 "  classes:\n"
                 "    - name: t\n"
                 "      arrivals: { process: poisson, rate: 1/s }\n"
                 "      domains: { slow.test: 1 }\n"
                 "receivers:\n"
                 "  - name: slow\n"
                 "    domains: [slow.test]\n"
                 "    policy:\n"
                 "      - { rule: tarpit, stage: mail, delay: 400s }\n");
    const world_stats *st = world_get_stats(r.w);
    assert_int_equal(st->delivered, 0);
    assert_true(reason_count(r.w, "timeout") > 0);
    assert_true(dead_episodes(r.w) > 0);
    run_free(&r);
}

/* The queue disk: one fsync of 10 ms when a message arrives and one when its delivery is recorded; at
 * 20 messages/s the disk is busy 20 x 20 ms = 40% of the time. */
static void test_disk_writes_per_message_and_delivery(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: disk\n"
                 "seed: 9\n"
                 "duration: 1h\n"
                 "traffic:\n"
                 "  classes:\n"
                 "    - name: t\n"
                 "      arrivals: { process: poisson, rate: 20/s }\n"
                 "      domains: { d.test: 1 }\n"
                 "mta:\n"
                 "  disk: { fsync: 10ms, writes_per_message: 1, writes_per_delivery: 1 }\n");
    double cpu, disk;
    uint32_t cores;
    bool has_disk;
    world_resources(r.w, &cpu, &cores, &disk, &has_disk);
    assert_true(has_disk);
    double util = disk / sim_time_to_sec(r.rr.end);
    if (fabs(util - 0.40) > 0.02)
        fail_msg("disk utilisation %g, want 0.40", util);
    run_free(&r);
}

/* The application pool: a fixed retry delay, no scheduler, and a bounce after max_attempts. */
static void test_apppool_fixed_retries(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: app\n"
                 "duration: 1h\n" ONE_STUCK_MESSAGE
                 "mta:\n"
                 "  kind: apppool\n"
                 "  apppool: { workers: 4, retry_delay: 60s, jitter: 0, max_attempts: 5 }\n");
    assert_int_equal(r.cap.n, 5);
    /* The delay runs from the end of an attempt (a fraction of a second of SMTP). */
    for (size_t i = 1; i < r.cap.n; i++) {
        double gap = sim_time_to_sec(r.cap.times[i] - r.cap.times[i - 1]);
        if (gap < 60 || gap > 61)
            fail_msg("attempts %zu and %zu are %.3f s apart, want 60 s and the attempt's own time", i - 1, i, gap);
    }
    const world_stats *st = world_get_stats(r.w);
    assert_int_equal(st->bounced, 1);
    assert_int_equal(world_nhosts(r.w), 0);
    assert_non_null(world_apppool(r.w));
    run_free(&r);
}

/* maximal_queue_lifetime: a message still deferred after an attempt past its lifetime is returned. */
static void test_queue_lifetime_bounces(void **state)
{
    (void)state;
    run r;
    run_text(&r, "name: lifetime\n"
                 "duration: 3h\n" ONE_STUCK_MESSAGE
                 "mta:\n"
                 "  postfix: { maximal_queue_lifetime: 1h }\n");
    const world_stats *st = world_get_stats(r.w);
    assert_int_equal(st->bounced, 1);
    assert_int_equal(st->queued, 0);
    /* Attempts near 0, 300, 600, 1200 and 2400 s find it younger than 1 h; the one at 4800 s defers it
     * again, the expiry check after that attempt finds it too old, and it is returned. */
    assert_int_equal(r.cap.n, 6);
    assert_true(fabs(sim_time_to_sec(r.cap.times[5]) - 4800) < 2);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap3_postfix_defaults_get_421_and_dead),
        cmocka_unit_test(test_cap3_dedicated_transport_no_421),
        cmocka_unit_test(test_littles_law),
        cmocka_unit_test(test_receiver_capacity_matches_erlang_c),
        cmocka_unit_test(test_backoff_schedule_defaults),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_campaign_to_closed_receiver),
        cmocka_unit_test(test_tarpit_beyond_mail_timeout),
        cmocka_unit_test(test_disk_writes_per_message_and_delivery),
        cmocka_unit_test(test_apppool_fixed_retries),
        cmocka_unit_test(test_queue_lifetime_bounces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
