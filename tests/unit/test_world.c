/*
 * test_world - the wiring of a run: arrivals and their statistics, the re-send loop (after `after`,
 * with its probability, only for messages still undelivered, up to max), recipient domains shared by
 * classes and owned by receivers, hosts behind one source IP, and the errors of world_create.
 *
 * Worlds are built by hand from small configs: PERIODIC batches so arrival counts are exact, receivers
 * that accept everything or refuse every connection, fixed seeds, and the calendar run to fixed times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/world.h"

#include "model_fixture.h"

#define SEED 424242u
#define MAX_CLASSES 2
#define MAX_RCV 3
#define MAX_MSGS 1024

typedef struct seen_msg {
    uint64_t id, resend_of;
    uint32_t resend_no, cls;
    sim_time_t arrival, done;
    mta_outcome outcome;
} seen_msg;

typedef struct fixture {
    traffic_domain_weight dw[MAX_CLASSES][3];
    traffic_class_config cls[MAX_CLASSES];
    traffic_config tc;
    mta_transport_config tr;
    mta_config mc;
    char *rdom[MAX_RCV][3];
    char mxhost[MAX_RCV][32];
    receiver_mx_config mx[MAX_RCV];
    policy_rule_config rules[MAX_RCV][2];
    receiver_config rc[MAX_RCV];
    size_t nrc;
    char *source_ips[2];
    sim_calendar *cal;
    world *w;
    /* what the observer saw */
    uint64_t sent_to[MAX_CLASSES][3];  /* delivered recipients per class and class-local domain */
    seen_msg msgs[MAX_MSGS];
    size_t nmsgs;
} fixture;

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->tc.classes = f->cls;
    fixture_mta(&f->mc, &f->tr);
}

/* A class of `count` messages at `start`, then again every `every` (0: one batch), over domains. */
static traffic_class_config *add_class(fixture *f, const char *name, uint64_t count, sim_time_t start,
                                       sim_time_t every, const char *d1, const char *d2)
{
    size_t c = f->tc.nclasses++;
    assert_true(c < MAX_CLASSES);
    f->dw[c][0] = (traffic_domain_weight){(char *)d1, 1.0};
    f->dw[c][1] = (traffic_domain_weight){(char *)d2, 1.0};
    f->cls[c] = (traffic_class_config){
        .name = (char *)name,
        .arrivals = {.kind = TRAFFIC_PERIODIC, .count = count, .start = start, .every = every},
        .size = sim_dist_constant(1250),
        .recipients = sim_dist_constant(1),
        .domains = f->dw[c],
        .ndomains = d2 ? 2 : 1,
    };
    return &f->cls[c];
}

/* A receiver with one MX host "mx.<name>.test" that accepts everything (rules may be added). */
static receiver_config *add_receiver(fixture *f, const char *name, const char *d1, const char *d2)
{
    size_t r = f->nrc++;
    assert_true(r < MAX_RCV);
    size_t nd = 0;
    if (d1)
        f->rdom[r][nd++] = (char *)d1;
    if (d2)
        f->rdom[r][nd++] = (char *)d2;
    snprintf(f->mxhost[r], sizeof(f->mxhost[r]), "mx.%s.test", name);
    f->mx[r] = (receiver_mx_config){.host = f->mxhost[r], .preference = 10};
    f->rc[r] = fixture_receiver(name, f->rdom[r], nd, &f->mx[r], 1, f->rules[r]);
    return &f->rc[r];
}

static void on_attempt(void *ctx, const mta_attempt_record *r)
{
    fixture *f = ctx;
    if (r->status != MTA_STATUS_SENT)
        return;
    const traffic_class_config *c = &f->cls[r->cls];
    const char *at = strchr(r->rcpt, '@');
    assert_non_null(at);
    for (size_t d = 0; d < c->ndomains; d++)
        if (strcmp(at + 1, c->domains[d].domain) == 0)
            f->sent_to[r->cls][d]++;
}

static void on_message(void *ctx, const mta_message_record *r)
{
    fixture *f = ctx;
    assert_true(f->nmsgs < MAX_MSGS);
    f->msgs[f->nmsgs++] = (seen_msg){.id = r->msg_id, .resend_of = r->resend_of, .resend_no = r->resend_no,
                                     .cls = r->cls, .arrival = r->arrival, .done = r->done,
                                     .outcome = r->outcome};
}

static world_config world_cfg(fixture *f, sim_time_t horizon)
{
    return (world_config){.traffic = &f->tc, .mta = &f->mc, .receivers = f->rc, .nreceivers = f->nrc,
                          .seed = SEED, .horizon = horizon,
                          .observer = {.ctx = f, .attempt = on_attempt, .message = on_message}};
}

static void fx_start(fixture *f, sim_time_t horizon)
{
    f->cal = sim_calendar_create(256);
    world_config wc = world_cfg(f, horizon);
    char err[256] = "";
    f->w = world_create(&wc, f->cal, err, sizeof(err));
    if (!f->w)
        fail_msg("world_create: %s", err);
}

static void run_until(fixture *f, sim_time_t t) { sim_calendar_run_until(f->cal, t); }

/* Ends the run at `t`: messages still queued are reported. */
static void fx_finish(fixture *f, sim_time_t t)
{
    run_until(f, t);
    world_finish(f->w, t);
}

static void fx_free(fixture *f)
{
    sim_calendar_free(f->cal);
    world_free(f->w);
}

static const world_stats *st(const fixture *f) { return world_get_stats(f->w); }

/* ---- arrivals and statistics ---- */

static void test_stats_count_arrivals_and_deliveries(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    add_class(&f, "codes", 40, 0, 0, "a.test", NULL);
    add_class(&f, "news", 10, 1 * SIM_SEC, 0, "a.test", NULL);
    add_receiver(&f, "a", "a.test", NULL);
    fx_start(&f, 1 * SIM_HOUR);
    assert_true(world_busy(f.w));
    run_until(&f, 500 * SIM_MSEC);
    assert_int_equal(st(&f)->arrived, 40);
    run_until(&f, 10 * SIM_MIN);
    const world_stats *s = st(&f);
    assert_int_equal(s->arrived, 50);
    assert_int_equal(s->cls[0].arrived, 40);
    assert_int_equal(s->cls[1].arrived, 10);
    assert_int_equal(s->delivered, 50);
    assert_int_equal(s->cls[0].delivered, 40);
    assert_int_equal(s->cls[1].delivered, 10);
    assert_int_equal(s->resent, 0);
    assert_int_equal(s->rcpt_delivered, 50);
    assert_int_equal(s->deferrals, 0);
    assert_int_equal(sim_quantile_count(s->latency), 50);
    assert_int_equal(sim_quantile_count(s->cls[1].latency), 10);
    assert_int_equal(world_in_system(f.w), 0);
    assert_false(world_busy(f.w));
    assert_int_equal(f.nmsgs, 50);
    fx_free(&f);
}

/* The warm-up ends: counts restart, and only later arrivals are counted. */
static void test_reset_stats_restarts_counts(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    add_class(&f, "t", 5, 0, 10 * SIM_SEC, "a.test", NULL); /* 5 at 0, 10, 20, 30 s */
    add_receiver(&f, "a", "a.test", NULL);
    fx_start(&f, 35 * SIM_SEC);
    run_until(&f, 15 * SIM_SEC);
    assert_int_equal(st(&f)->arrived, 10);
    world_reset_stats(f.w, 15 * SIM_SEC);
    assert_int_equal(st(&f)->arrived, 0);
    assert_int_equal(st(&f)->delivered, 0);
    run_until(&f, 10 * SIM_MIN);
    assert_int_equal(st(&f)->arrived, 10);
    assert_int_equal(st(&f)->delivered, 10);
    assert_int_equal(f.nmsgs, 20); /* the observer saw every message */
    fx_free(&f);
}

/* ---- re-sends ---- */

/* Users ask again after `after` for messages still undelivered, and for re-sends still undelivered,
 * up to max times; delivered messages are never re-sent. */
static void test_resend_only_undelivered_up_to_max(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    traffic_class_config *ok = add_class(&f, "ok", 20, 0, 0, "ok.test", NULL);
    traffic_class_config *dead = add_class(&f, "dead", 20, 0, 0, "dead.test", NULL);
    ok->resend = dead->resend = (traffic_resend_config){.after = 60 * SIM_SEC, .probability = 1.0, .max = 2};
    add_receiver(&f, "dead", "dead.test", NULL);
    f.mx[0].state = RECEIVER_MX_REFUSE;
    add_receiver(&f, "ok", "ok.test", NULL);
    fx_start(&f, 1 * SIM_SEC);
    run_until(&f, 60 * SIM_SEC - 1);
    assert_int_equal(st(&f)->resent, 0);
    run_until(&f, 60 * SIM_SEC);
    assert_int_equal(st(&f)->resent, 20);
    run_until(&f, 120 * SIM_SEC - 1);
    assert_int_equal(st(&f)->resent, 20);
    run_until(&f, 120 * SIM_SEC);
    assert_int_equal(st(&f)->resent, 40);
    fx_finish(&f, 1 * SIM_HOUR);
    const world_stats *s = st(&f);
    assert_int_equal(s->resent, 40);
    assert_int_equal(s->cls[0].resent, 0);
    assert_int_equal(s->cls[1].resent, 40);
    assert_int_equal(s->cls[0].delivered, 20);
    assert_int_equal(s->arrived, 80);
    /* Each re-send arrived at its deadline and names its original. */
    int by_no[3] = {0, 0, 0};
    for (size_t i = 0; i < f.nmsgs; i++) {
        const seen_msg *m = &f.msgs[i];
        if (m->cls != 1)
            continue;
        assert_true(m->resend_no <= 2);
        by_no[m->resend_no]++;
        assert_int_equal(m->outcome, MTA_OUTCOME_QUEUED);
        assert_int_equal(m->arrival, (sim_time_t)m->resend_no * 60 * SIM_SEC);
        if (m->resend_no > 0) {
            assert_true(m->resend_of >= 1);
            assert_true(m->resend_of != m->id);
        }
    }
    assert_int_equal(by_no[0], 20);
    assert_int_equal(by_no[1], 20);
    assert_int_equal(by_no[2], 20);
    fx_free(&f);
}

/* With probability p, about p of the undelivered messages are re-sent (within 4 sigma; fixed seed). */
static void test_resend_probability(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    traffic_class_config *c = add_class(&f, "dead", 400, 0, 0, "dead.test", NULL);
    c->resend = (traffic_resend_config){.after = 30 * SIM_SEC, .probability = 0.25, .max = 1};
    add_receiver(&f, "dead", "dead.test", NULL);
    f.mx[0].state = RECEIVER_MX_REFUSE;
    fx_start(&f, 1 * SIM_SEC);
    run_until(&f, 10 * SIM_MIN);
    double n = (double)st(&f)->resent, expect = 400 * 0.25, sigma = sqrt(400 * 0.25 * 0.75);
    if (fabs(n - expect) > 4 * sigma)
        fail_msg("%g re-sends, expected %g +- %g", n, expect, 4 * sigma);
    assert_int_equal(st(&f)->arrived, 400 + st(&f)->resent);
    fx_free(&f);
}

/* ---- domains and receivers ---- */

/* A domain two classes share is one destination; a domain no receiver claims goes to the last one. */
static void test_domains_shared_across_classes(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    add_class(&f, "one", 60, 0, 0, "x.test", "y.test");
    add_class(&f, "two", 60, 0, 0, "y.test", "z.test");
    add_receiver(&f, "xy", "x.test", "y.test");
    add_receiver(&f, "rest", NULL, NULL);
    fx_start(&f, 1 * SIM_SEC);
    run_until(&f, 10 * SIM_MIN);
    assert_int_equal(st(&f)->delivered, 120);
    mta_host *h = world_host(f.w, 0);
    assert_int_equal(mta_host_ndests(h), 3);
    uint64_t to_y = f.sent_to[0][1] + f.sent_to[1][0];
    assert_true(f.sent_to[0][1] > 0 && f.sent_to[1][0] > 0);
    bool found_y = false, found_z = false;
    for (size_t i = 0; i < mta_host_ndests(h); i++) {
        const mta_dest_stats *d = mta_host_dest(h, i);
        if (strcmp(d->name, "smtp:y.test") == 0) {
            found_y = true;
            assert_int_equal(d->deliveries, to_y);
            assert_ptr_equal(d->rcv, world_receiver(f.w, 0));
        } else if (strcmp(d->name, "smtp:z.test") == 0) {
            found_z = true;
            assert_ptr_equal(d->rcv, world_receiver(f.w, 1));
        }
    }
    assert_true(found_y && found_z);
    policy_stats rest;
    receiver_stats(world_receiver(f.w, 1), &rest);
    assert_int_equal(rest.recipients_accepted, f.sent_to[1][1]);
    fx_free(&f);
}

/* Sessions open from one source IP, as the receiver counts them, and from each host. */
static void sessions_at(fixture *f, sim_time_t t, uint64_t *ip1, uint64_t *ip2, uint64_t *h1, uint64_t *h2)
{
    run_until(f, t);
    const policy *pol = world_receiver(f->w, 0)->pol;
    uint64_t busy, idle;
    policy_sessions_from(pol, "192.0.2.1", &busy, &idle);
    *ip1 = busy + idle;
    policy_sessions_from(pol, "192.0.2.2", &busy, &idle);
    *ip2 = busy + idle;
    *h1 = mta_host_sessions(world_host(f->w, 0), NULL);
    *h2 = mta_host_sessions(world_host(f->w, 1), NULL);
}

/* A slow receiver keeps sessions open a while; at t = 1 s both hosts have some. */
static void nat_world(fixture *f, size_t nips)
{
    fx_init(f);
    add_class(f, "t", 20, 0, 0, "a.test", NULL);
    receiver_config *r = add_receiver(f, "a", "a.test", NULL);
    r->latency = sim_dist_constant(2.0);
    f->mc.hosts = 2;
    f->source_ips[0] = (char *)"192.0.2.1";
    f->source_ips[1] = (char *)"192.0.2.2";
    f->mc.source_ips = nips ? f->source_ips : NULL;
    f->mc.nsource_ips = nips;
    fx_start(f, 1 * SIM_SEC);
}

static void test_nat_hosts_share_the_source_ip(void **state)
{
    (void)state;
    fixture f;
    nat_world(&f, 0);
    uint64_t ip1, ip2, h1, h2;
    sessions_at(&f, 1 * SIM_SEC, &ip1, &ip2, &h1, &h2);
    assert_true(h1 > 0 && h2 > 0);
    assert_int_equal(ip1, h1 + h2); /* the receiver sees both hosts as one client */
    assert_int_equal(ip2, 0);
    run_until(&f, 10 * SIM_MIN);
    assert_int_equal(st(&f)->delivered, 20);
    fx_free(&f);
}

static void test_source_ips_assigned_round_robin(void **state)
{
    (void)state;
    fixture f;
    nat_world(&f, 2);
    uint64_t ip1, ip2, h1, h2;
    sessions_at(&f, 1 * SIM_SEC, &ip1, &ip2, &h1, &h2);
    assert_true(h1 > 0 && h2 > 0);
    assert_int_equal(ip1, h1);
    assert_int_equal(ip2, h2);
    fx_free(&f);
}

/* ---- errors ---- */

static void test_create_errors(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    add_class(&f, "t", 1, 0, 0, "a.test", NULL);
    sim_calendar *cal = sim_calendar_create(16);
    char err[256] = "";
    world_config wc = world_cfg(&f, 1 * SIM_SEC);
    assert_null(world_create(&wc, cal, err, sizeof(err)));
    assert_non_null(strstr(err, "at least one receiver"));

    /* A receiver the model cannot give addresses to: its error, and no world. */
    receiver_config *r = add_receiver(&f, "big", "a.test", NULL);
    receiver_mx_config *mx = calloc(RECEIVER_MX_MAX + 1, sizeof(*mx));
    assert_non_null(mx);
    for (size_t j = 0; j <= RECEIVER_MX_MAX; j++)
        mx[j] = (receiver_mx_config){.host = (char *)"mx.big.test", .preference = 10};
    r->mx = mx;
    r->nmx = RECEIVER_MX_MAX + 1;
    wc = world_cfg(&f, 1 * SIM_SEC);
    err[0] = 0;
    assert_null(world_create(&wc, cal, err, sizeof(err)));
    assert_non_null(strstr(err, "MX hosts"));
    assert_int_equal(sim_calendar_size(cal), 0);
    free(mx);
    sim_calendar_free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_count_arrivals_and_deliveries),
        cmocka_unit_test(test_reset_stats_restarts_counts),
        cmocka_unit_test(test_resend_only_undelivered_up_to_max),
        cmocka_unit_test(test_resend_probability),
        cmocka_unit_test(test_domains_shared_across_classes),
        cmocka_unit_test(test_nat_hosts_share_the_source_ip),
        cmocka_unit_test(test_source_ips_assigned_round_robin),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
