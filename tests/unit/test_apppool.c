/*
 * test_apppool - the application-pool sender: its workers bound how many messages are in flight, a
 * deferred message waits out retry_delay and is tried again, max_attempts bounces it, a message's
 * recipients are delivered one receiver at a time, and `reuse` keeps a worker's connection open (and
 * counted by the receiver) for its next message.
 *
 * The pool is driven through apppool.h with a hand-built environment: receivers with constant round
 * trips (30 ms) and a 10 ms MX lookup, no TLS, so times are exact; fixed seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "models/apppool.h"

#include "model_fixture.h"

#define SEED 99u
#define SRC "192.0.2.1"
#define MS (SIM_SEC / 1000)
#define MAX_SEEN 256

typedef struct seen_attempt {
    sim_time_t when;
    mta_status status;
    uint32_t pid, conn_use;
    char rcpt[64];
} seen_attempt;

typedef struct seen_msg {
    uint64_t id;
    mta_outcome outcome;
    uint32_t attempts;
    sim_time_t done;
} seen_msg;

typedef struct fixture {
    sim_calendar *cal;
    mta_transport_config tr;
    mta_config mc;
    traffic_domain_weight dw;
    traffic_class_config cls;
    traffic_config tc;
    char *rdom[2][1];
    char mxhost[2][32];
    receiver_mx_config mx[2];
    policy_rule_config rules[2][1];
    receiver_config rc[2];
    receiver *rcv[2];
    const char *domains[2];
    receiver *domain_rcv[2];
    mta_env env;
    apppool *a;
    seen_attempt att[MAX_SEEN];
    size_t natt;
    seen_msg msgs[MAX_SEEN];
    size_t nmsgs;
} fixture;

static void on_attempt(void *ctx, const mta_attempt_record *r)
{
    fixture *f = ctx;
    assert_true(f->natt < MAX_SEEN);
    seen_attempt *s = &f->att[f->natt++];
    *s = (seen_attempt){.when = r->when, .status = r->status, .pid = r->pid, .conn_use = r->conn_use};
    snprintf(s->rcpt, sizeof(s->rcpt), "%s", r->rcpt);
}

static void on_message(void *ctx, const mta_message_record *r, uint64_t tag)
{
    (void)tag;
    fixture *f = ctx;
    assert_true(f->nmsgs < MAX_SEEN);
    f->msgs[f->nmsgs++] = (seen_msg){.id = r->msg_id, .outcome = r->outcome, .attempts = r->attempts, .done = r->done};
}

/* Two receivers, a (a.test) and b (b.test), accepting everything; a pool of `workers`. */
static void fx_init(fixture *f, uint32_t workers)
{
    memset(f, 0, sizeof(*f));
    fixture_mta(&f->mc, &f->tr);
    f->mc.kind = MTA_KIND_APPPOOL;
    f->mc.apppool.workers = workers;
    f->mc.apppool.retry_delay = 60 * SIM_SEC;
    f->dw = (traffic_domain_weight){(char *)"a.test", 1.0};
    f->cls = (traffic_class_config){.name = (char *)"t", .size = sim_dist_constant(1250),
                                    .recipients = sim_dist_constant(1), .domains = &f->dw, .ndomains = 1};
    f->tc = (traffic_config){&f->cls, 1};
    static const char *const names[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        snprintf(f->mxhost[i], sizeof(f->mxhost[i]), "mx.%s.test", names[i]);
        f->rdom[i][0] = (char *)(i ? "b.test" : "a.test");
        f->mx[i] = (receiver_mx_config){.host = f->mxhost[i], .preference = 10};
        f->rc[i] = fixture_receiver(names[i], f->rdom[i], 1, &f->mx[i], 1, f->rules[i]);
        f->domains[i] = f->rdom[i][0];
    }
}

static void fx_start(fixture *f)
{
    f->cal = sim_calendar_create(64);
    for (int i = 0; i < 2; i++) {
        char err[256] = "";
        f->rcv[i] = receiver_create(&f->rc[i], (uint32_t)i, SEED, 0, err, sizeof(err));
        if (!f->rcv[i])
            fail_msg("receiver_create: %s", err);
        f->domain_rcv[i] = f->rcv[i];
    }
    f->env = (mta_env){.cal = f->cal, .cfg = &f->mc, .traffic = &f->tc, .domains = f->domains,
                       .domain_rcv = f->domain_rcv, .ndomains = 2, .seed = SEED, .ctx = f,
                       .attempt = on_attempt, .attempt_text = true, .message_done = on_message};
    f->a = apppool_create(&f->env, SRC);
}

static void fx_free(fixture *f)
{
    sim_calendar_free(f->cal);
    apppool_free(f->a);
    for (int i = 0; i < 2; i++)
        receiver_free(f->rcv[i]);
}

static void run_until(fixture *f, sim_time_t t) { sim_calendar_run_until(f->cal, t); }

/* Submits message `id` at `at` with recipients in the given domains (0 = a.test, 1 = b.test). */
static void submit(fixture *f, uint64_t id, sim_time_t at, const uint16_t *domains, uint32_t nrcpt)
{
    run_until(f, at);
    traffic_msg m = {.id = id, .cls = 0, .arrival = at, .size = 1250, .nrcpt = nrcpt,
                     .rcpt_domain = (uint16_t *)domains};
    apppool_submit(f->a, &m, domains, 0, at);
}

static const uint16_t to_a[1] = {0};

static void sizes(const fixture *f, uint64_t *waiting, uint64_t *busy, uint64_t *retry)
{
    apppool_queue_sizes(f->a, waiting, busy, retry);
}

/* A fresh delivery to a: DNS 10, connect 30, EHLO 30, its reply 15, commands 15, body 30.1, reply 15 ms. */
static const sim_time_t FRESH = 145 * MS + 100;

static void test_workers_bound_concurrency(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    fx_start(&f);
    for (uint64_t id = 1; id <= 10; id++)
        submit(&f, id, 0, to_a, 1);
    uint64_t waiting, busy, retry;
    sizes(&f, &waiting, &busy, &retry);
    assert_int_equal(busy, 3);
    assert_int_equal(waiting, 7);
    assert_int_equal(retry, 0);
    uint64_t max_busy = 0;
    for (sim_time_t t = 0; t < 2 * SIM_SEC; t += 5 * MS) {
        run_until(&f, t);
        sizes(&f, &waiting, &busy, &retry);
        if (busy > max_busy)
            max_busy = busy;
        assert_int_equal(waiting + busy + f.nmsgs, 10);
        if (t == 100 * MS) /* after the MX lookups: a connection per worker */
            assert_int_equal(apppool_sessions(f.a, NULL), 3);
    }
    assert_int_equal(max_busy, 3);
    assert_int_equal(f.nmsgs, 10);
    /* In waves of three: by the end of the first delivery, three messages are done. */
    size_t first_wave = 0;
    for (size_t i = 0; i < f.nmsgs; i++) {
        assert_int_equal(f.msgs[i].outcome, MTA_OUTCOME_DELIVERED);
        first_wave += f.msgs[i].done <= FRESH;
    }
    assert_int_equal(first_wave, 3);
    /* Three worker processes did all the work. */
    for (size_t i = 0; i < f.natt; i++)
        assert_true(f.att[i].pid >= 2001 && f.att[i].pid <= 2003);
    assert_int_equal(apppool_oldest(f.a), SIM_TIME_NEVER);
    fx_free(&f);
}

static void test_deferral_retried_after_delay(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 2);
    fx_start(&f);
    assert_int_equal(policy_force(f.rcv[0]->pol, 1, "421 4.7.0 mx.a.test busy, try later"), 0);
    submit(&f, 1, 0, to_a, 1);
    run_until(&f, 30 * SIM_SEC);
    assert_int_equal(f.natt, 1);
    assert_int_equal(f.att[0].status, MTA_STATUS_DEFERRED);
    sim_time_t deferred_at = f.att[0].when;
    assert_int_equal(deferred_at, 55 * MS); /* DNS 10 + connect 30 + the 421 back 15 */
    uint64_t waiting, busy, retry;
    sizes(&f, &waiting, &busy, &retry);
    assert_int_equal(retry, 1);
    assert_int_equal(busy + waiting, 0);
    assert_int_equal(apppool_oldest(f.a), 0);
    run_until(&f, deferred_at + 60 * SIM_SEC - 1);
    assert_int_equal(f.natt, 1);
    run_until(&f, 5 * SIM_MIN);
    assert_int_equal(f.natt, 2);
    assert_int_equal(f.att[1].status, MTA_STATUS_SENT);
    assert_int_equal(f.nmsgs, 1);
    assert_int_equal(f.msgs[0].outcome, MTA_OUTCOME_DELIVERED);
    assert_int_equal(f.msgs[0].attempts, 2);
    assert_int_equal(f.msgs[0].done, deferred_at + 60 * SIM_SEC + FRESH);
    fx_free(&f);
}

static void test_max_attempts_bounces(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    f.mx[0].state = RECEIVER_MX_REFUSE;
    f.mc.apppool.max_attempts = 3;
    f.mc.apppool.retry_delay = 10 * SIM_SEC;
    fx_start(&f);
    submit(&f, 1, 0, to_a, 1);
    run_until(&f, 10 * SIM_MIN);
    assert_int_equal(f.natt, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f.att[i].status, MTA_STATUS_DEFERRED);
    assert_int_equal(f.nmsgs, 1);
    assert_int_equal(f.msgs[0].outcome, MTA_OUTCOME_BOUNCED);
    assert_int_equal(f.msgs[0].attempts, 3);
    uint64_t waiting, busy, retry;
    sizes(&f, &waiting, &busy, &retry);
    assert_int_equal(waiting + busy + retry, 0);
    fx_free(&f);
}

/* One message to a, b, a: one request per receiver, each recipient delivered once. */
static void test_message_delivered_per_receiver(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 1);
    fx_start(&f);
    static const uint16_t mixed[3] = {0, 1, 0};
    submit(&f, 7, 0, mixed, 3);
    run_until(&f, 1 * SIM_MIN);
    assert_int_equal(f.natt, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f.att[i].status, MTA_STATUS_SENT);
    /* a's recipients first, in one transaction; then b's. */
    assert_string_equal(f.att[0].rcpt, "u7@a.test");
    assert_string_equal(f.att[1].rcpt, "u7.2@a.test");
    assert_int_equal(f.att[0].when, f.att[1].when);
    assert_string_equal(f.att[2].rcpt, "u7.1@b.test");
    assert_true(f.att[2].when > f.att[1].when);
    policy_stats sa, sb;
    receiver_stats(f.rcv[0], &sa);
    receiver_stats(f.rcv[1], &sb);
    assert_int_equal(sa.messages_accepted, 1);
    assert_int_equal(sa.recipients_accepted, 2);
    assert_int_equal(sb.messages_accepted, 1);
    assert_int_equal(sb.recipients_accepted, 1);
    assert_int_equal(f.nmsgs, 1);
    assert_int_equal(f.msgs[0].outcome, MTA_OUTCOME_DELIVERED);
    assert_int_equal(f.msgs[0].attempts, 1);
    fx_free(&f);
}

/* With reuse a worker's second message to the same receiver goes over its open connection, which the
 * receiver counts as an idle session in between; without, each message connects anew. */
static void reuse_run(bool reuse, uint32_t *second_use, uint64_t *connections, uint64_t *idle_between)
{
    fixture f;
    fx_init(&f, 1);
    f.mc.apppool.reuse = reuse;
    fx_start(&f);
    submit(&f, 1, 0, to_a, 1);
    run_until(&f, 1 * SIM_SEC);
    uint64_t busy;
    policy_sessions_from(f.rcv[0]->pol, SRC, &busy, idle_between);
    submit(&f, 2, 1 * SIM_SEC, to_a, 1);
    run_until(&f, 2 * SIM_SEC);
    assert_int_equal(f.natt, 2);
    assert_int_equal(f.att[1].status, MTA_STATUS_SENT);
    *second_use = f.att[1].conn_use;
    policy_stats s;
    receiver_stats(f.rcv[0], &s);
    *connections = s.connections;
    fx_free(&f);
}

static void test_reuse_keeps_the_connection(void **state)
{
    (void)state;
    uint32_t use;
    uint64_t conns, idle;
    reuse_run(true, &use, &conns, &idle);
    assert_int_equal(use, 2);
    assert_int_equal(conns, 1);
    assert_int_equal(idle, 1);
    reuse_run(false, &use, &conns, &idle);
    assert_int_equal(use, 1);
    assert_int_equal(conns, 2);
    assert_int_equal(idle, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_bound_concurrency),
        cmocka_unit_test(test_deferral_retried_after_delay),
        cmocka_unit_test(test_max_attempts_bounces),
        cmocka_unit_test(test_message_delivered_per_receiver),
        cmocka_unit_test(test_reuse_keeps_the_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
