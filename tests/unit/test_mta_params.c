/*
 * test_mta_params - concurrency feedback values read as Postfix 3.7's qmgr_feedback_init reads them:
 * every accepted form with the feedback it gives, and every form Postfix ignores (its warning
 * "ignoring malformed or unreasonable feedback", then 1) - among them "1/sqrt_concurrency", which
 * 3.7 has compiled out. The cases are Postfix's sscanf() formats worked through by hand; the
 * scenario loader's warning text is in test_scenario_load. And each host's phase of the deferred-queue
 * scans (mta_qmgr_start).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "models/mta_params.h"

#define CONST MTA_FEEDBACK_CONSTANT
#define CONC MTA_FEEDBACK_CONCURRENCY

static void test_feedback_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        mta_feedback_kind kind;
        double value;
    } cases[] = {
        /* a number: strtod's syntax, in [0, 1] */
        {"1", CONST, 1},
        {"0", CONST, 0},
        {"0.125", CONST, 0.125},
        {".5", CONST, 0.5},
        {"+0.5", CONST, 0.5},
        {"1e-1", CONST, 0.1},
        {"0x0.8", CONST, 0.5},
        {"-0", CONST, 0},
        {" 0.5", CONST, 0.5}, /* %lf skips leading blanks */
        /* what follows a number, unless it is a '/', is ignored: sscanf stops at one conversion */
        {"0.5 ", CONST, 0.5},
        {"1x", CONST, 1},
        {"0.5abc", CONST, 0.5},
        {"1 concurrency", CONST, 1},
        {"1concurrency", CONST, 1},
        {"1 .5", CONST, 1},
        /* number/number: the quotient, bounded after the division */
        {"1/4", CONST, 0.25},
        {"1/8", CONST, 0.125},
        {"2/4", CONST, 0.5},
        {"0.5/2", CONST, 0.25},
        {"0.25/0.5", CONST, 0.5},
        {"0/1", CONST, 0},
        {"0/0.5", CONST, 0},
        {"5/5", CONST, 1},
        {"1/0x10", CONST, 0.0625},
        {"1/+2", CONST, 0.5},
        {"1 / 4", CONST, 0.25}, /* blanks around the '/' */
        {"1/ 4", CONST, 0.25},
        {"1 /4", CONST, 0.25},
        {"1/2.0000000000000000000000000000", CONST, 0.5}, /* a 30-character denominator */
        /* number/concurrency, the number in [0, 1]; the word in any case */
        {"1/concurrency", CONC, 1},
        {"0.5/concurrency", CONC, 0.5},
        {"0/concurrency", CONC, 0},
        {"1/ concurrency", CONC, 1},
        {"1 / concurrency", CONC, 1},
        {"1/Concurrency", CONC, 1},
        {"1/CONCURRENCY", CONC, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mta_feedback f = {CONC, -5};
        int rc = mta_feedback_parse(cases[i].text, &f);
        if (rc != 0 || f.kind != cases[i].kind || f.value != cases[i].value)
            fail_msg("'%s': rc %d kind %d value %g, want 0 kind %d value %g", cases[i].text, rc, (int)f.kind, f.value,
                     (int)cases[i].kind, cases[i].value);
    }
}

static void test_feedback_ignored_uses_1(void **state)
{
    (void)state;
    static const char *const cases[] = {
        /* the inverse square root of the 2.5 snapshots: not in 3.7's name table */
        "1/sqrt_concurrency", "0.5/sqrt_concurrency",
        /* out of [0, 1], before or after the division */
        "2", "-1", "1.0000001", "-0.5", "inf", "nan", "1e400", "1/0.5", "3/2", "2/concurrency", "-1/concurrency",
        "1.5/concurrency",
        /* denominators outside [1/INT_MAX, INT_MAX], numerators outside [0, INT_MAX] */
        "1/0", "0/0", "1/-2", "1/1e-10", "0/1e-10", "1/3e9", "3e9/4e9", "-1/2",
        /* not a number, or a number with something after the denominator */
        "", "   ", "abc", "concurrency", "/2", "/concurrency", "1/", "1 /", "1/abc", "1//2", "1/2/3", "1/8x",
        "1/8 ", "1/concurrency ", "1/concurrencyx", "1/concurrency x", "1/2 3",
        "1/2.00000000000000000000000000000", /* 31 characters after the '/' */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mta_feedback f = {CONC, -5};
        int rc = mta_feedback_parse(cases[i], &f);
        if (rc != -EINVAL || f.kind != CONST || f.value != 1)
            fail_msg("'%s': rc %d kind %d value %g, want -EINVAL and the constant 1", cases[i], rc, (int)f.kind,
                     f.value);
    }
}

/* QMGR_FEEDBACK_VAL: a constant is itself at any window; number/concurrency is divided by it. */
static void test_feedback_value(void **state)
{
    (void)state;
    mta_feedback f;
    assert_int_equal(mta_feedback_parse("1/4", &f), 0);
    assert_true(mta_feedback_value(&f, 1) == 0.25 && mta_feedback_value(&f, 20) == 0.25);
    assert_int_equal(mta_feedback_parse("1/concurrency", &f), 0);
    assert_true(mta_feedback_value(&f, 1) == 1 && mta_feedback_value(&f, 4) == 0.25);
    assert_int_equal(mta_feedback_parse("0.5/concurrency", &f), 0);
    assert_true(mta_feedback_value(&f, 5) == 0.1);
    /* what Postfix 3.7 runs with when told 1/sqrt_concurrency: 1 at every window, not 1/sqrt(N) */
    assert_int_equal(mta_feedback_parse("1/sqrt_concurrency", &f), -EINVAL);
    assert_true(mta_feedback_value(&f, 4) == 1 && mta_feedback_value(&f, 16) == 1);
}

/*
 * Each host's phase of the deferred-queue scans: the list when the scenario gives one; by default the
 * first host at 0 and the others at whole seconds of the cycle, drawn from the seed - the same for the
 * same (seed, replication, host), spread over the cycle, and 0 when the cycle is under two seconds.
 */
static void test_qmgr_start(void **state)
{
    (void)state;
    mta_config c;
    mta_config_defaults(&c);
    c.queue_run_delay = 20 * SIM_SEC;
    assert_int_equal(mta_qmgr_start(&c, 0, 1, 0), 0);
    bool seen[20] = {false};
    size_t distinct = 0;
    for (uint32_t h = 1; h <= 200; h++) {
        sim_time_t p = mta_qmgr_start(&c, h, 1, 0);
        assert_true(p >= 0 && p < c.queue_run_delay);
        assert_int_equal(p % SIM_SEC, 0);
        assert_int_equal(p, mta_qmgr_start(&c, h, 1, 0));
        if (!seen[p / SIM_SEC]) {
            seen[p / SIM_SEC] = true;
            distinct++;
        }
    }
    assert_true(distinct >= 15); /* 200 draws from 20 seconds */
    size_t differ = 0;
    for (uint32_t h = 1; h <= 50; h++)
        differ += mta_qmgr_start(&c, h, 1, 0) != mta_qmgr_start(&c, h, 1, 1);
    assert_true(differ > 25); /* another replication, other phases */
    c.clock_tick = 2 * SIM_SEC; /* a replay at speedup 2: Postfix's second is 2 s of scenario time */
    for (uint32_t h = 1; h <= 50; h++)
        assert_int_equal(mta_qmgr_start(&c, h, 7, 0) % (2 * SIM_SEC), 0);
    c.queue_run_delay = SIM_SEC + SIM_SEC / 2;
    c.clock_tick = SIM_SEC;
    assert_int_equal(mta_qmgr_start(&c, 3, 1, 0), 0);
    sim_time_t given[2] = {0, 7 * SIM_SEC};
    c.qmgr_start = given;
    c.nqmgr_start = 2;
    assert_int_equal(mta_qmgr_start(&c, 1, 1, 0), 7 * SIM_SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_accepted),
        cmocka_unit_test(test_feedback_ignored_uses_1),
        cmocka_unit_test(test_feedback_value),
        cmocka_unit_test(test_qmgr_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
