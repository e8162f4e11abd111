/*
 * test_sim_calendar - the event calendar: order by (time, scheduling order), cancel, reschedule,
 * growth, run_until, the lazy removal of the fired event, and the abort on scheduling in the past.
 *
 * The strongest test here is the model check: thousands of random operations (schedule, reschedule,
 * cancel, step, and more of the same from inside callbacks) applied both to the calendar and to a
 * naive list that finds the minimum by scanning, which must agree event for event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "expect_abort.h"
#include "sim/sim_calendar.h"

typedef struct rec_job {
    int id;
    sim_event ev;
} rec_job;

/* Fired ids in order, with the time each fired at. */
static int fired_ids[200000];
static sim_time_t fired_at[200000];
static size_t fired_n;

static void rec_fire(sim_event *ev, sim_time_t now)
{
    rec_job *job = SIM_CONTAINER_OF(ev, rec_job, ev);
    assert_false(sim_event_pending(ev));
    assert_true(fired_n < sizeof fired_ids / sizeof fired_ids[0]);
    fired_ids[fired_n] = job->id;
    fired_at[fired_n] = now;
    fired_n++;
}

/* Gives job its id and schedules it at `at`. */
static void schedule_job(sim_calendar *cal, rec_job *job, int id, sim_time_t at)
{
    job->id = id;
    sim_event_init(&job->ev, rec_fire);
    sim_calendar_schedule(cal, &job->ev, at);
}

/* Steps the calendar until it is empty; returns how many events fired (recorded in fired_ids, fired_at). */
static size_t run_all(sim_calendar *cal)
{
    fired_n = 0;
    while (sim_calendar_step(cal))
        ;
    return fired_n;
}

static void test_empty(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(0);
    assert_int_equal(sim_calendar_size(cal), 0);
    assert_int_equal(sim_calendar_now(cal), 0);
    assert_true(sim_calendar_peek_time(cal) == SIM_TIME_NEVER);
    assert_false(sim_calendar_step(cal));
    assert_int_equal(sim_calendar_run_until(cal, 5 * SIM_SEC), 0);
    assert_int_equal(sim_calendar_now(cal), 5 * SIM_SEC);
    sim_calendar_free(cal);
}

static void test_container_of(void **state)
{
    (void)state;
    rec_job job = {.id = 7};
    sim_event_init(&job.ev, rec_fire);
    assert_ptr_equal(SIM_CONTAINER_OF(&job.ev, rec_job, ev), &job);
    assert_false(sim_event_pending(&job.ev));
}

/* Table: times scheduled in this order; expected firing order by index. */
static const struct order_case {
    const char *name;
    sim_time_t times[8];
    size_t n;
    int expect[8];
} order_cases[] = {
    {"ascending", {1, 2, 3, 4}, 4, {0, 1, 2, 3}},
    {"descending", {4, 3, 2, 1}, 4, {3, 2, 1, 0}},
    {"all equal: FIFO", {5, 5, 5, 5, 5}, 5, {0, 1, 2, 3, 4}},
    {"ties among others", {9, 3, 9, 3, 0, 9}, 6, {4, 1, 3, 0, 2, 5}},
    {"zero and large", {SIM_DAY, 0, 0, SIM_HOUR}, 4, {1, 2, 3, 0}},
    /* The calendar pads its array with SIM_TIME_NEVER; real events at that time still run, in order. */
    {"at the end of time", {SIM_TIME_NEVER, 5, SIM_TIME_NEVER, SIM_TIME_NEVER, 5}, 5, {1, 4, 0, 2, 3}},
    {"four-way tie among children", {1, 7, 7, 7, 7, 7, 7, 7}, 8, {0, 1, 2, 3, 4, 5, 6, 7}},
};

static void test_order_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof order_cases / sizeof order_cases[0]; c++) {
        const struct order_case *oc = &order_cases[c];
        sim_calendar *cal = sim_calendar_create(2);
        rec_job jobs[8];
        for (size_t i = 0; i < oc->n; i++) {
            schedule_job(cal, &jobs[i], (int)i, oc->times[i]);
            assert_true(sim_event_pending(&jobs[i].ev));
        }
        if (run_all(cal) != oc->n)
            fail_msg("%s: %zu fired, %zu expected", oc->name, fired_n, oc->n);
        for (size_t i = 0; i < oc->n; i++)
            if (fired_ids[i] != oc->expect[i])
                fail_msg("%s: position %zu fired %d, expected %d", oc->name, i, fired_ids[i], oc->expect[i]);
        sim_calendar_free(cal);
    }
}

/* Rescheduling gives a new sequence number: A rescheduled to the same time now runs after B. */
static void test_reschedule_same_time_goes_last(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    rec_job a, b;
    schedule_job(cal, &a, 0, 10);
    schedule_job(cal, &b, 1, 10);
    sim_calendar_schedule(cal, &a.ev, 10);
    assert_int_equal(sim_calendar_size(cal), 2);
    assert_int_equal(run_all(cal), 2);
    assert_int_equal(fired_ids[0], 1);
    assert_int_equal(fired_ids[1], 0);
    sim_calendar_free(cal);
}

static void test_reschedule_earlier_and_later(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    rec_job jobs[50];
    for (int i = 0; i < 50; i++)
        schedule_job(cal, &jobs[i], i, 100 + i);
    sim_calendar_schedule(cal, &jobs[40].ev, 1);    /* earlier: first */
    sim_calendar_schedule(cal, &jobs[0].ev, 1000);  /* later: last */
    assert_int_equal(jobs[40].ev.time, 1);
    assert_int_equal(sim_calendar_size(cal), 50);
    assert_int_equal(sim_calendar_peek_time(cal), 1);
    assert_int_equal(run_all(cal), 50);
    assert_int_equal(fired_ids[0], 40);
    assert_int_equal(fired_ids[49], 0);
    assert_int_equal(fired_at[49], 1000);
    assert_int_equal(sim_calendar_now(cal), 1000);
    sim_calendar_free(cal);
}

static void test_cancel(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    rec_job jobs[100];
    for (int i = 0; i < 100; i++)
        schedule_job(cal, &jobs[i], i, (sim_time_t)((i * 37) % 100));
    for (int i = 0; i < 100; i += 3) {
        sim_calendar_cancel(cal, &jobs[i].ev);
        assert_false(sim_event_pending(&jobs[i].ev));
        sim_calendar_cancel(cal, &jobs[i].ev); /* idle: a no-op */
    }
    assert_int_equal(sim_calendar_size(cal), 100 - 34);
    assert_int_equal(run_all(cal), 66);
    for (size_t k = 0; k < fired_n; k++) {
        assert_true(fired_ids[k] % 3 != 0);
        if (k)
            assert_true(fired_at[k - 1] <= fired_at[k]);
    }
    sim_calendar_free(cal);
}

/* Growth from the smallest capacity to 100,000 pending events, all firing in order. */
static void test_growth_and_order(void **state)
{
    (void)state;
    enum { N = 100000 };
    sim_calendar *cal = sim_calendar_create(1);
    rec_job *jobs = malloc(N * sizeof *jobs);
    assert_non_null(jobs);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    gsl_rng_set(r, 12345);
    /* A small range makes many ties, so FIFO among equal times is exercised too. */
    for (int i = 0; i < N; i++)
        schedule_job(cal, &jobs[i], i, (sim_time_t)gsl_rng_uniform_int(r, 5000));
    assert_int_equal(sim_calendar_size(cal), N);
    fired_n = 0;
    assert_int_equal(sim_calendar_run_until(cal, SIM_TIME_NEVER), N);
    assert_int_equal(fired_n, N);
    for (size_t k = 1; k < fired_n; k++) {
        assert_true(fired_at[k - 1] <= fired_at[k]);
        if (fired_at[k - 1] == fired_at[k])
            assert_true(fired_ids[k - 1] < fired_ids[k]);
    }
    assert_int_equal(sim_calendar_now(cal), fired_at[N - 1]);
    gsl_rng_free(r);
    free(jobs);
    sim_calendar_free(cal);
}

static void test_run_until(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    rec_job jobs[5];
    const sim_time_t t[5] = {10, 20, 20, 30, 40};
    for (int i = 0; i < 5; i++)
        schedule_job(cal, &jobs[i], i, t[i]);
    fired_n = 0;
    assert_int_equal(sim_calendar_run_until(cal, 5), 0);
    assert_int_equal(sim_calendar_now(cal), 5);
    assert_int_equal(sim_calendar_run_until(cal, 20), 3);  /* the bound is inclusive */
    assert_int_equal(sim_calendar_now(cal), 20);
    assert_int_equal(sim_calendar_run_until(cal, 39), 1);
    assert_int_equal(sim_calendar_now(cal), 39);
    assert_int_equal(sim_calendar_peek_time(cal), 40);
    assert_int_equal(sim_calendar_size(cal), 1);
    /* Scheduling at now is allowed. */
    sim_calendar_schedule(cal, &jobs[0].ev, 39);
    assert_int_equal(sim_calendar_run_until(cal, SIM_TIME_NEVER), 2);
    assert_int_equal(sim_calendar_now(cal), 40);
    assert_int_equal(fired_n, 6);
    sim_calendar_free(cal);
}

/* ---- callbacks that use the calendar (the fired event's entry is removed lazily) ---- */

typedef struct chain_job {
    sim_event ev;
    sim_calendar *cal;
    int remaining;
    sim_event *other; /* scheduled or cancelled from the callback */
    sim_time_t other_at;
    size_t expect_size;
    sim_time_t expect_peek;
} chain_job;

static void chain_self(sim_event *ev, sim_time_t now)
{
    chain_job *job = SIM_CONTAINER_OF(ev, chain_job, ev);
    if (--job->remaining > 0)
        sim_calendar_schedule(job->cal, ev, now + 7);
}

/* An event rescheduling itself forever: the hold pattern. */
static void test_self_reschedule(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    chain_job job = {.cal = cal, .remaining = 1000};
    sim_event_init(&job.ev, chain_self);
    sim_calendar_schedule(cal, &job.ev, 0);
    assert_int_equal(sim_calendar_run_until(cal, SIM_TIME_NEVER), 1000);
    assert_int_equal(sim_calendar_now(cal), 999 * 7);
    assert_int_equal(sim_calendar_size(cal), 0);
    sim_calendar_free(cal);
}

static void chain_observe(sim_event *ev, sim_time_t now)
{
    chain_job *job = SIM_CONTAINER_OF(ev, chain_job, ev);
    (void)now;
    /* Before any other calendar call: the fired event must already look removed. */
    assert_int_equal(sim_calendar_size(job->cal), job->expect_size);
    assert_int_equal(sim_calendar_peek_time(job->cal), job->expect_peek);
    if (job->other) {
        if (job->other_at < 0)
            sim_calendar_cancel(job->cal, job->other);
        else
            sim_calendar_schedule(job->cal, job->other, job->other_at);
    }
}

static void test_callback_sees_consistent_calendar(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    chain_job a = {.cal = cal}, b = {.cal = cal}, c = {.cal = cal};
    sim_event_init(&a.ev, chain_observe);
    sim_event_init(&b.ev, chain_observe);
    sim_event_init(&c.ev, chain_observe);
    sim_calendar_schedule(cal, &a.ev, 10);
    sim_calendar_schedule(cal, &b.ev, 20);
    sim_calendar_schedule(cal, &c.ev, 30);
    /* a: sees b and c; reschedules c (pending) to 15. */
    a.expect_size = 2, a.expect_peek = 20, a.other = &c.ev, a.other_at = 15;
    /* c at 15: sees b; cancels b. */
    c.expect_size = 1, c.expect_peek = 20, c.other = &b.ev, c.other_at = -1;
    assert_true(sim_calendar_step(cal));
    assert_int_equal(sim_calendar_now(cal), 10);
    assert_int_equal(sim_calendar_size(cal), 2);
    assert_int_equal(sim_calendar_peek_time(cal), 15);
    assert_true(sim_calendar_step(cal));
    assert_int_equal(sim_calendar_now(cal), 15);
    assert_int_equal(sim_calendar_size(cal), 0);
    assert_false(sim_event_pending(&b.ev));
    assert_false(sim_calendar_step(cal));
    /* The last event: the callback sees an empty calendar. */
    a.expect_size = 0, a.expect_peek = SIM_TIME_NEVER, a.other = NULL;
    sim_calendar_schedule(cal, &a.ev, 16);
    assert_true(sim_calendar_step(cal));
    sim_calendar_free(cal);
}

/* ---- model check against a naive calendar ---- */

enum { MC_EVENTS = 300 };

typedef struct mc_job {
    sim_event ev;
    int id;
} mc_job;

static struct mc_state {
    sim_calendar *cal;
    gsl_rng *r;
    mc_job jobs[MC_EVENTS];
    bool pending[MC_EVENTS];
    sim_time_t time[MC_EVENTS];
    uint64_t seq[MC_EVENTS];
    uint64_t next_seq;
    int expect; /* id the next step must fire */
    uint64_t fired;
} mc;

static int mc_naive_min(void)
{
    int best = -1;
    for (int i = 0; i < MC_EVENTS; i++) {
        if (!mc.pending[i])
            continue;
        if (best < 0 || mc.time[i] < mc.time[best] ||
            (mc.time[i] == mc.time[best] && mc.seq[i] < mc.seq[best]))
            best = i;
    }
    return best;
}

static size_t mc_naive_size(void)
{
    size_t n = 0;
    for (int i = 0; i < MC_EVENTS; i++)
        n += mc.pending[i];
    return n;
}

/* One random operation, applied to both; `now` is the calendar's current time. */
static void mc_random_op(void)
{
    int id = (int)gsl_rng_uniform_int(mc.r, MC_EVENTS);
    sim_time_t now = sim_calendar_now(mc.cal);
    if (gsl_rng_uniform(mc.r) < 0.2) {
        sim_calendar_cancel(mc.cal, &mc.jobs[id].ev);
        mc.pending[id] = false;
    } else {
        /* A narrow spread of future times, with zero delays, makes many ties. */
        sim_time_t at = now + (sim_time_t)gsl_rng_uniform_int(mc.r, 50);
        sim_calendar_schedule(mc.cal, &mc.jobs[id].ev, at);
        mc.pending[id] = true;
        mc.time[id] = at;
        mc.seq[id] = mc.next_seq++;
    }
    assert_int_equal(sim_event_pending(&mc.jobs[id].ev), mc.pending[id]);
}

static void mc_fire(sim_event *ev, sim_time_t now)
{
    mc_job *job = SIM_CONTAINER_OF(ev, mc_job, ev);
    assert_int_equal(job->id, mc.expect);
    assert_int_equal(now, mc.time[job->id]);
    mc.fired++;
    /* Sometimes look first (which must see the fired event gone), then act. */
    if (gsl_rng_uniform(mc.r) < 0.3) {
        assert_int_equal(sim_calendar_size(mc.cal), mc_naive_size());
        int next = mc_naive_min();
        assert_int_equal(sim_calendar_peek_time(mc.cal), next < 0 ? SIM_TIME_NEVER : mc.time[next]);
    }
    unsigned ops = (unsigned)gsl_rng_uniform_int(mc.r, 4);
    for (unsigned k = 0; k < ops; k++)
        mc_random_op();
}

static void test_model_check(void **state)
{
    (void)state;
    memset(&mc, 0, sizeof mc);
    mc.cal = sim_calendar_create(1);
    mc.r = gsl_rng_alloc(gsl_rng_taus2);
    gsl_rng_set(mc.r, 2024);
    for (int i = 0; i < MC_EVENTS; i++) {
        mc.jobs[i].id = i;
        sim_event_init(&mc.jobs[i].ev, mc_fire);
    }
    for (int round = 0; round < 60000; round++) {
        if (gsl_rng_uniform(mc.r) < 0.45) {
            mc_random_op();
            continue;
        }
        mc.expect = mc_naive_min();
        if (mc.expect < 0) {
            assert_false(sim_calendar_step(mc.cal));
            continue;
        }
        mc.pending[mc.expect] = false;
        assert_true(sim_calendar_step(mc.cal));
        assert_int_equal(sim_calendar_size(mc.cal), mc_naive_size());
    }
    assert_true(mc.fired > 10000);
    gsl_rng_free(mc.r);
    sim_calendar_free(mc.cal);
}

/* Freeing a calendar leaves its pending events idle, so their owners can reuse them. */
static void test_free_leaves_events_idle(void **state)
{
    (void)state;
    sim_calendar *cal = sim_calendar_create(4);
    rec_job jobs[10];
    for (int i = 0; i < 10; i++)
        schedule_job(cal, &jobs[i], i, i);
    sim_calendar_free(cal);
    for (int i = 0; i < 10; i++)
        assert_false(sim_event_pending(&jobs[i].ev));
    sim_calendar_free(NULL);
}

/* ---- broken invariants abort, naming the function ---- */

static void past_schedule(void)
{
    sim_calendar *cal = sim_calendar_create(4);
    rec_job job;
    sim_event_init(&job.ev, rec_fire);
    sim_calendar_run_until(cal, 100);
    sim_calendar_schedule(cal, &job.ev, 99);
}

static void past_run_until(void)
{
    sim_calendar *cal = sim_calendar_create(4);
    sim_calendar_run_until(cal, 100);
    sim_calendar_run_until(cal, 50);
}

static void test_past_aborts(void **state)
{
    (void)state;
    expect_abort(past_schedule, "sim_calendar_schedule");
    expect_abort(past_run_until, "sim_calendar_run_until");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_container_of),
        cmocka_unit_test(test_order_table),
        cmocka_unit_test(test_reschedule_same_time_goes_last),
        cmocka_unit_test(test_reschedule_earlier_and_later),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_growth_and_order),
        cmocka_unit_test(test_run_until),
        cmocka_unit_test(test_self_reschedule),
        cmocka_unit_test(test_callback_sees_consistent_calendar),
        cmocka_unit_test(test_model_check),
        cmocka_unit_test(test_free_leaves_events_idle),
        cmocka_unit_test(test_past_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
