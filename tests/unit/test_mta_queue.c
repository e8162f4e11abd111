/*
 * Tests of the concurrency window arithmetic against the trajectories read from Postfix's source
 * (postfix-model.md section 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "models/mta_queue.h"

static mta_transport_params params(void)
{
    mta_transport_params p;
    mta_transport_params_defaults(&p);
    return p;
}

static mta_queue_window window_of(const mta_transport_params *p)
{
    mta_queue_window w;
    mta_queue_window_init(&w, p);
    return w;
}

/* Feeds consecutive failures (busy = 1 each time) and records the window after each; -1 = dead.
 * The feedback is read as Postfix reads it: a value it ignores runs as 1. */
static void failures(const char *negative, int n, const int *expected)
{
    mta_transport_params p = params();
    (void)mta_feedback_parse(negative, &p.negative_feedback);
    mta_queue_window w = window_of(&p);
    assert_int_equal(w.window, 5);
    for (int i = 0; i < n; i++) {
        w.busy = 1;
        bool died = mta_queue_throttle(&w, &p);
        int got = died ? -1 : w.window;
        assert_int_equal(got, expected[i]);
        if (died)
            assert_true(mta_queue_dead(&w));
    }
}

static void test_defaults_5_3_2_dead(void **state)
{
    (void)state;
    static const int want[] = {3, 2, -1};
    failures("1", 3, want);
}

static void test_one_over_concurrency(void **state)
{
    (void)state;
    static const int want[] = {4, 4, 4, 3, -1};
    failures("1/concurrency", 5, want);
}

/* Postfix 3.7 has no 1/sqrt_concurrency (qmgr.h: #if 0): it warns and uses 1, so the window goes
 * the defaults' way, 5 -> 3 -> 2 -> dead, not 5 -> 4 -> 3 -> 3 -> dead as 1/sqrt(N) would. */
static void test_sqrt_concurrency_is_the_default(void **state)
{
    (void)state;
    static const int want[] = {3, 2, -1};
    failures("1/sqrt_concurrency", 3, want);
}

static void test_window_one_dies_at_once(void **state)
{
    (void)state;
    mta_transport_params p = params();
    p.initial_destination_concurrency = 1;
    mta_queue_window w = window_of(&p);
    assert_true(mta_queue_throttle(&w, &p));
}

static void test_cohort_limit_zero_never_dead(void **state)
{
    (void)state;
    mta_transport_params p = params();
    p.failed_cohort_limit = 0;
    mta_queue_window w = window_of(&p);
    for (int i = 0; i < 50; i++)
        assert_false(mta_queue_throttle(&w, &p));
    assert_int_equal(w.window, 1);
}

/* Positive feedback: window grows by 1 per success while window < busy + init, up to the limit. */
static void test_positive_growth(void **state)
{
    (void)state;
    static const struct {
        const char *positive;
        uint32_t busy;
        int successes;
        int want;
    } cases[] = {
        {"1", 5, 1, 6},            /* one step per success */
        {"1", 5, 10, 10},          /* capped at busy + initial = 10 */
        {"1", 20, 100, 20},        /* capped at the limit 20 */
        {"1/2", 20, 4, 7},         /* a step at the end of every 2 successes */
        {"1/concurrency", 20, 6, 6}, /* 1/5 per success: the step comes after 5 (+ half-step hysteresis) */
        {"1/sqrt_concurrency", 5, 1, 6}, /* ignored by Postfix 3.7: one step per success, as "1" */
        {"2", 5, 1, 6},                  /* out of range: ignored, 1 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mta_transport_params p;
        mta_transport_params_defaults(&p);
        (void)mta_feedback_parse(cases[i].positive, &p.positive_feedback);
        mta_queue_window w = window_of(&p);
        for (int k = 0; k < cases[i].successes; k++) {
            w.busy = cases[i].busy;
            mta_queue_unthrottle(&w, &p);
        }
        if (w.window != cases[i].want)
            fail_msg("case %zu (%s): window %d, want %d", i, cases[i].positive, w.window, cases[i].want);
    }
}

/* A failure resets nothing of the window's growth credit except via failure; a success resets cohorts. */
static void test_success_resets_cohorts(void **state)
{
    (void)state;
    mta_transport_params p = params();
    mta_queue_window w = window_of(&p);
    w.busy = 1;
    mta_queue_throttle(&w, &p); /* 5 -> 3, cohorts 0.2 */
    mta_queue_throttle(&w, &p); /* 3 -> 2, cohorts 0.53 */
    mta_queue_unthrottle(&w, &p);
    assert_true(w.fail_cohorts == 0);
    assert_false(mta_queue_throttle(&w, &p)); /* not dead: the cohort count started again */
}

/* Revival: a dead queue comes back at busy (a positive result from an in-flight entry) or init. */
static void test_revival(void **state)
{
    (void)state;
    mta_transport_params p = params();
    mta_queue_window w = window_of(&p);
    w.busy = 1;
    while (!mta_queue_throttle(&w, &p))
        ;
    assert_int_equal(w.window, 0);
    w.busy = 0; /* the dead timer fired with nothing in flight */
    mta_queue_unthrottle(&w, &p);
    assert_int_equal(w.window, 5);

    while (!mta_queue_throttle(&w, &p))
        ;
    w.busy = 2; /* an in-flight entry succeeded */
    mta_queue_unthrottle(&w, &p);
    assert_int_equal(w.window, 2);
}

static void test_initial_clamped_to_limit(void **state)
{
    (void)state;
    mta_transport_params p = params();
    p.destination_concurrency_limit = 2;
    mta_queue_window w = window_of(&p);
    assert_int_equal(w.window, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_5_3_2_dead),   cmocka_unit_test(test_one_over_concurrency),
        cmocka_unit_test(test_sqrt_concurrency_is_the_default),
        cmocka_unit_test(test_window_one_dies_at_once), cmocka_unit_test(test_cohort_limit_zero_never_dead),
        cmocka_unit_test(test_positive_growth),       cmocka_unit_test(test_success_resets_cohorts),
        cmocka_unit_test(test_revival),               cmocka_unit_test(test_initial_clamped_to_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
