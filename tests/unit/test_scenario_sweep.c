/*
 * test_scenario_sweep - a sweep's axes from `--vary KEY=VALUES` (lists, integer ranges, ranges of
 * numbers, durations and rates with a step, items mixed, commas inside flow values and quotes) and
 * the points of a grid and of a zip. Tables of arguments with the values they must give, and of
 * broken arguments with the exact message each must get.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scenarios/scenario_sweep.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *arg, *key;
        const char *values; /* joined by " | " */
    } cases[] = {
        {"mta.postfix.default_destination_concurrency_limit=1,2,3,5", "mta.postfix.default_destination_concurrency_limit",
         "1 | 2 | 3 | 5"},
        {"k=1..4", "k", "1 | 2 | 3 | 4"},
        {"k = 3..3", "k", "3"},
        {"k=-2..2/2", "k", "-2 | 0 | 2"},
        {"k=1..8/3", "k", "1 | 4 | 7"},
        {"k=0.1..0.5/0.1", "k", "0.1 | 0.2 | 0.3 | 0.4 | 0.5"},
        {"k=60s..300s/60s", "k", "60s | 120s | 180s | 240s | 300s"},
        {"k=100ms..1s/300ms", "k", "0.1s | 0.4s | 0.7s | 1s"},
        {"k=1m..3m/1m", "k", "60s | 120s | 180s"},
        {"k=10/s..50/s/10/s", "k", "10/s | 20/s | 30/s | 40/s | 50/s"},
        {"k=1/m..3/m/1/m", "k", "0.0166666666667/s | 0.0333333333333/s | 0.05/s"},
        {"k=1..3, 10, 20..40/10", "k", "1 | 2 | 3 | 10 | 20 | 30 | 40"},
        {"k=1/concurrency,1", "k", "1/concurrency | 1"},
        {"k={dist: lognormal, median: 1ms, p99: 3ms},2ms", "k", "{dist: lognormal, median: 1ms, p99: 3ms} | 2ms"},
        {"k=[a.test, b.test],[c.test]", "k", "[a.test, b.test] | [c.test]"},
        {"k=\"x..y\",'a,b'", "k", "\"x..y\" | 'a,b'"},
        {"receivers.orange.policy[0].limit=2..3", "receivers.orange.policy[0].limit", "2 | 3"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        scenario_sweep_axis a;
        char err[512] = "";
        if (scenario_sweep_axis_parse(cases[i].arg, &a, err, sizeof(err)) != 0)
            fail_msg("'%s': %s", cases[i].arg, err);
        assert_string_equal(a.key, cases[i].key);
        char got[1024] = "";
        for (size_t j = 0; j < a.nvalues; j++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof(got) - l, "%s%s", j ? " | " : "", a.values[j]);
        }
        if (strcmp(got, cases[i].values) != 0)
            fail_msg("'%s': values %s, want %s", cases[i].arg, got, cases[i].values);
        scenario_sweep_axis_free(&a);
    }
}

static void test_broken_arguments(void **state)
{
    (void)state;
    static const struct {
        const char *arg, *msg;
    } cases[] = {
        {"k", "--vary k: expected KEY=VALUES (a --set key, then a list or a range)"},
        {"=1,2", "--vary =1,2: '' is not a --set key"},
        {"a b=1", "--vary a b=1: 'a b' is not a --set key"},
        {"k=", "--vary k=: item 1 is empty"},
        {"k=1,,2", "--vary k=1,,2: item 2 is empty"},
        {"k=1,2,", "--vary k=1,2,: item 3 is empty"},
        {"k=..3", "--vary k=..3: item 1 ('..3'): a range needs a start and an end (1..8, 60s..600s/60s)"},
        {"k=1..", "--vary k=1..: item 1 ('1..'): a range needs a start and an end (1..8, 60s..600s/60s)"},
        {"k=5..1", "--vary k=5..1: item 1 ('5..1'): the range is empty (its end is before its start)"},
        {"k=1..5/0", "--vary k=1..5/0: item 1 ('1..5/0'): the step must be more than 0"},
        {"k=1..5/-1", "--vary k=1..5/-1: item 1 ('1..5/-1'): the step must be more than 0"},
        {"k=0.1..0.5", "--vary k=0.1..0.5: item 1 ('0.1..0.5'): a range of numbers needs a step: 0.1..0.5/STEP"},
        {"k=60s..600s", "--vary k=60s..600s: item 1 ('60s..600s'): a range of durations needs a step: 60s..600s/STEP"},
        {"k=1..x", "--vary k=1..x: item 1 ('1..x'): 'x' is not an end (and /step) of integers, as the start is"},
        {"k=60s..10/s/1/s", "--vary k=60s..10/s/1/s: item 1 ('60s..10/s/1/s'): '10/s/1/s' is not an end/step of "
                            "durations, as the start is"},
        {"k=2,a..b", "--vary k=2,a..b: item 2 ('a..b'): 'a' is not an integer, a number, a duration (60s) or a rate "
                     "(10/s)"},
        {"k=1..1000000", "--vary k=1..1000000: item 1 ('1..1000000'): 1000000 values, more than the 100000 an axis "
                         "may have"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        scenario_sweep_axis a;
        char err[512] = "";
        if (scenario_sweep_axis_parse(cases[i].arg, &a, err, sizeof(err)) == 0)
            fail_msg("'%s' accepted (%zu values)", cases[i].arg, a.nvalues);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("'%s':\n got  %s\n want %s", cases[i].arg, err, cases[i].msg);
        assert_null(a.key);
        assert_null(a.values);
    }
}

/* A grid of 2 x 3: the last axis fastest; a zip of two axes of 3: the i-th values together. */
static void test_grid_and_zip(void **state)
{
    (void)state;
    scenario_sweep_axis ax[3];
    char err[512];
    assert_int_equal(scenario_sweep_axis_parse("a=1,2", &ax[0], err, sizeof(err)), 0);
    assert_int_equal(scenario_sweep_axis_parse("b=x,y,z", &ax[1], err, sizeof(err)), 0);
    assert_int_equal(scenario_sweep_axis_parse("c=10..30/10", &ax[2], err, sizeof(err)), 0);
    assert_int_equal(scenario_sweep_npoints(ax, 2, false, err, sizeof(err)), 6);
    static const size_t grid[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}};
    for (size_t p = 0; p < 6; p++) {
        size_t idx[2];
        scenario_sweep_point(ax, 2, false, p, idx);
        assert_int_equal(idx[0], grid[p][0]);
        assert_int_equal(idx[1], grid[p][1]);
    }
    assert_int_equal(scenario_sweep_npoints(ax + 1, 2, true, err, sizeof(err)), 3);
    for (size_t p = 0; p < 3; p++) {
        size_t idx[2];
        scenario_sweep_point(ax + 1, 2, true, p, idx);
        assert_int_equal(idx[0], p);
        assert_int_equal(idx[1], p);
    }
    assert_int_equal(scenario_sweep_npoints(ax, 3, true, err, sizeof(err)), 0);
    assert_string_equal(err, "--zip pairs the i-th values of every --vary, but a has 2 values and b 3");
    assert_int_equal(scenario_sweep_npoints(ax, 0, false, err, sizeof(err)), 0);
    assert_string_equal(err, "a sweep needs at least one --vary");
    scenario_sweep_axis twice[2];
    assert_int_equal(scenario_sweep_axis_parse("a=1", &twice[0], err, sizeof(err)), 0);
    assert_int_equal(scenario_sweep_axis_parse("a=2", &twice[1], err, sizeof(err)), 0);
    assert_int_equal(scenario_sweep_npoints(twice, 2, false, err, sizeof(err)), 0);
    assert_string_equal(err, "--vary a is given twice");
    for (size_t i = 0; i < 2; i++)
        scenario_sweep_axis_free(&twice[i]);
    for (size_t i = 0; i < 3; i++)
        scenario_sweep_axis_free(&ax[i]);
}

/* Seven axes of 10 values: 10^7 points, more than a sweep may have. */
static void test_grid_too_large(void **state)
{
    (void)state;
    scenario_sweep_axis ax[7];
    char err[512], arg[32];
    for (int i = 0; i < 7; i++) {
        snprintf(arg, sizeof(arg), "k%d=1..10", i);
        assert_int_equal(scenario_sweep_axis_parse(arg, &ax[i], err, sizeof(err)), 0);
    }
    assert_int_equal(scenario_sweep_npoints(ax, 6, false, err, sizeof(err)), 1000000);
    assert_int_equal(scenario_sweep_npoints(ax, 7, false, err, sizeof(err)), 0);
    assert_string_equal(err, "the grid has more than 1000000 points; vary fewer keys or fewer values, or --zip them");
    for (int i = 0; i < 7; i++)
        scenario_sweep_axis_free(&ax[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_broken_arguments),
        cmocka_unit_test(test_grid_and_zip),
        cmocka_unit_test(test_grid_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
