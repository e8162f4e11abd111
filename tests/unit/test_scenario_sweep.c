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

#include "scenarios/scenario.h"
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

/* A scenario's sweep: block: axes as a string or a list of items, zip, replications, until_ci and
 * minimize; a run of the scenario ignores it, a sweep reads it. */
#define BASE "name: t\ntraffic:\n  classes:\n    - {name: a, arrivals: {process: burst, count: 5, over: 20s}, domains: {x.test: 1}}\n"
#define SWEEP_SCENARIO(BLOCK) BASE BLOCK

static scenario *load_sweep(const char *text, scenario_error *err)
{
    return scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, err);
}

static void test_sweep_block(void **state)
{
    (void)state;
    static const char text[] = SWEEP_SCENARIO(
        "sweep:\n"
        "  vary:\n"
        "    mta.transports.orange.destination_concurrency_limit: 1..3\n"
        "    mta.transports.orange.smtp_connection_cache_on_demand: [yes, no]\n"
        "    mta.postfix.minimal_backoff_time: [60s..180s/60s, 600s]\n"
        "  replications: 7\n"
        "  until_ci: {metric: transactional.latency.p95, width: 5s, max: 40}\n"
        "  minimize: latency.p95\n");
    scenario_error err = {{0}};
    scenario *sc = load_sweep(text, &err);
    if (!sc)
        fail_msg("%s", err.message);
    assert_non_null(sc->sweep);
    const scenario_sweep *w = sc->sweep;
    assert_int_equal(w->naxes, 3);
    assert_string_equal(w->axes[0].key, "mta.transports.orange.destination_concurrency_limit");
    assert_int_equal(w->axes[0].nvalues, 3);
    assert_string_equal(w->axes[0].values[2], "3");
    assert_int_equal(w->axes[1].nvalues, 2);
    assert_string_equal(w->axes[1].values[1], "no");
    assert_int_equal(w->axes[2].nvalues, 4);
    assert_string_equal(w->axes[2].values[0], "60s");
    assert_string_equal(w->axes[2].values[3], "600s");
    assert_false(w->zip);
    assert_int_equal(w->replications, 7);
    assert_string_equal(w->until_metric, "transactional.latency.p95");
    assert_true(w->until_width == 5.0);
    assert_int_equal(w->until_max, 40);
    assert_string_equal(w->minimize, "latency.p95");
    char e2[256];
    assert_int_equal(scenario_sweep_npoints(w->axes, w->naxes, w->zip, e2, sizeof(e2)), 24);
    scenario_free(sc);

    sc = load_sweep(SWEEP_SCENARIO("sweep: {vary: {a: '1,2', b: 'x,y'}, zip: true}\n"), &err);
    if (!sc)
        fail_msg("%s", err.message);
    assert_true(sc->sweep->zip);
    assert_int_equal(sc->sweep->replications, 0);
    assert_null(sc->sweep->until_metric);
    assert_int_equal(scenario_sweep_npoints(sc->sweep->axes, 2, true, e2, sizeof(e2)), 2);
    scenario_free(sc);

    sc = load_sweep(SWEEP_SCENARIO(""), &err);
    if (!sc)
        fail_msg("%s", err.message);
    assert_null(sc->sweep);
    scenario_free(sc);
}

/* Broken sweep: blocks, each with the exact message (file:line:col: path: what). */
static void test_sweep_block_broken(void **state)
{
    (void)state;
    static const struct {
        const char *block, *message;
    } cases[] = {
        {"sweep: 3\n", "t.yaml:5:8: sweep: expected a mapping (vary:, zip:, replications:, until_ci:, minimize:), got '3'"},
        {"sweep: {zip: true}\n", "t.yaml:5:8: sweep: missing required key 'vary'"},
        {"sweep: {vary: {}}\n", "t.yaml:5:15: sweep.vary: expected at least one key to vary"},
        {"sweep: {vary: [a, b]}\n", "t.yaml:5:15: sweep.vary: expected a mapping of --set keys to values, like { mta.postfix.queue_run_delay: 60s..300s/60s }, got a list"},
        {"sweep: {vary: {k: 3..1}}\n", "t.yaml:5:19: sweep.vary.k: --vary k=3..1: item 1 ('3..1'): the range is empty (its end is before its start)"},
        {"sweep: {vary: {k: []}}\n", "t.yaml:5:19: sweep.vary.k: expected at least one value"},
        {"sweep: {vary: {k: [1, {a: b}]}}\n", "t.yaml:5:23: sweep.vary.k[1]: expected a value or a range, got a mapping"},
        {"sweep: {vary: {k: 1..3}, replications: 0}\n", "t.yaml:5:40: sweep.replications: must be at least 1, got 0"},
        {"sweep: {vary: {k: 1..3}, replications: 200000}\n", "t.yaml:5:40: sweep.replications: at most 100000 replications"},
        {"sweep: {vary: {k: 1..3}, zip: maybe}\n", "t.yaml:5:31: sweep.zip: expected yes or no, got 'maybe'"},
        {"sweep: {vary: {a: '1,2', b: '1,2,3'}, zip: true}\n", "t.yaml:5:8: sweep: --zip pairs the i-th values of every --vary, but a has 2 values and b 3"},
        {"sweep: {vary: {k: 1..3}, until_ci: {metric: latency.p95}}\n", "t.yaml:5:36: sweep.until_ci: missing required key 'width'"},
        {"sweep: {vary: {k: 1..3}, until_ci: {metric: latency.p95, width: -5s}}\n", "t.yaml:5:65: sweep.until_ci.width: expected a positive width in the figure's unit (5s, 0.01, 2%), got '-5s'"},
        {"sweep: {vary: {k: 1..3}, until_ci: {metric: latency.p95, width: 5s, max: 0}}\n", "t.yaml:5:74: sweep.until_ci.max: must be at least 1, got 0"},
        {"sweep: {vary: {k: 1..3}, until_ci: 5s}\n", "t.yaml:5:36: sweep.until_ci: expected a mapping like { metric: transactional.latency.p95, width: 5s, max: 50 }, got '5s'"},
        {"sweep: {vary: {k: 1..3}, step: 2}\n", "t.yaml:5:26: sweep.step: unknown key 'step' (valid keys: vary, zip, replications, until_ci, minimize)"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char text[512];
        snprintf(text, sizeof(text), BASE "%s", cases[i].block);
        scenario_error err = {{0}};
        scenario *sc = load_sweep(text, &err);
        if (sc) {
            scenario_free(sc);
            fail_msg("'%s' loaded", cases[i].block);
        }
        if (strcmp(err.message, cases[i].message) != 0)
            fail_msg("'%s': got '%s', want '%s'", cases[i].block, err.message, cases[i].message);
    }
}

/* --until-ci METRIC=WIDTH. */
static void test_until_ci(void **state)
{
    (void)state;
    scenario_sweep s = {0};
    char err[512];
    assert_int_equal(scenario_sweep_until_parse("transactional.latency.p95=5s", &s, err, sizeof(err)), 0);
    assert_string_equal(s.until_metric, "transactional.latency.p95");
    assert_true(s.until_width == 5.0);
    assert_int_equal(scenario_sweep_until_parse("messages.delivered_share=2%", &s, err, sizeof(err)), 0);
    assert_true(s.until_width > 0.0199 && s.until_width < 0.0201);
    static const struct {
        const char *arg, *message;
    } bad[] = {
        {"latency.p95", "--until-ci latency.p95: expected METRIC=WIDTH, like transactional.latency.p95=5s"},
        {"=5s", "--until-ci =5s: expected METRIC=WIDTH, like transactional.latency.p95=5s"},
        {"latency.p95=0", "--until-ci latency.p95=0: expected a positive width in the figure's unit (5s, 0.01, 2%), got '0'"},
        {"latency.p95=fast", "--until-ci latency.p95=fast: expected a positive width in the figure's unit (5s, 0.01, 2%), got 'fast'"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(scenario_sweep_until_parse(bad[i].arg, &s, err, sizeof(err)), -1);
        if (strcmp(err, bad[i].message) != 0)
            fail_msg("'%s': got '%s', want '%s'", bad[i].arg, err, bad[i].message);
    }
    scenario_sweep_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_broken_arguments),
        cmocka_unit_test(test_grid_and_zip),
        cmocka_unit_test(test_grid_too_large),
        cmocka_unit_test(test_sweep_block),
        cmocka_unit_test(test_sweep_block_broken),
        cmocka_unit_test(test_until_ci),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
