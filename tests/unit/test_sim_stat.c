/*
 * test_sim_stat - tallies (and the mean's confidence interval), time-weighted averages, and the
 * quantile sketch measured against exact quantiles of sorted data from several distributions; merge,
 * reset and the CDF.
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

#include <gsl/gsl_randist.h>

#include "expect_abort.h"
#include "sim/sim_random.h"
#include "sim/sim_stat.h"

#define ACCURACY 0.005
/* Room for rounding in the bucket arithmetic on top of the 0.5% bound. */
#define SLACK 1e-9

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* ---- tally ---- */

static void test_tally_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double x[6];
        size_t n;
        double mean, var, min, max;
    } cases[] = {
        {"one value", {4}, 1, 4, 0, 4, 4},
        {"two", {1, 3}, 2, 2, 2, 1, 3},
        {"textbook", {2, 4, 4, 4, 5, 5}, 6, 4, 1.2, 2, 5},
        {"negative", {-1, -2, -3}, 3, -2, 1, -3, -1},
        /* A large mean and a tiny spread: sum-of-squares would lose the variance entirely. */
        {"large offset", {1e9 + 0.001, 1e9 + 0.002, 1e9 + 0.003}, 3, 1e9 + 0.002, 1e-6, 1e9 + 0.001, 1e9 + 0.003},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sim_tally t;
        sim_tally_reset(&t);
        for (size_t i = 0; i < cases[c].n; i++)
            sim_tally_add(&t, cases[c].x[i]);
        if (t.n != cases[c].n || fabs(t.mean - cases[c].mean) > 1e-9 * fabs(cases[c].mean) + 1e-12 ||
            fabs(sim_tally_variance(&t) - cases[c].var) > 1e-3 * cases[c].var + 1e-12 ||
            t.min != cases[c].min || t.max != cases[c].max)
            fail_msg("%s: n=%llu mean=%.12g var=%.12g min=%g max=%g", cases[c].name,
                     (unsigned long long)t.n, t.mean, sim_tally_variance(&t), t.min, t.max);
    }
}

static void test_tally_empty_and_zeroed(void **state)
{
    (void)state;
    sim_tally t;
    sim_tally_reset(&t);
    assert_int_equal(t.n, 0);
    assert_true(isnan(t.min) && isnan(t.max));
    assert_true(sim_tally_variance(&t) == 0);
    /* A zeroed struct (static storage) behaves like a reset one: min is not stuck at 0. */
    sim_tally z = {0};
    sim_tally_add(&z, 5);
    sim_tally_add(&z, 7);
    assert_true(z.min == 5 && z.max == 7 && z.sum == 12 && z.mean == 6);
    /* Reset at the end of warm-up forgets what came before. */
    sim_tally_reset(&z);
    sim_tally_add(&z, 100);
    assert_true(z.n == 1 && z.min == 100 && z.mean == 100 && z.sum == 100);
}

/* The mean's confidence interval by Student's t: known answers (t quantiles from tables), then the
 * coverage: of 4000 intervals from 5 normal draws each, about 95% hold the true mean. */
static void test_tally_confidence_interval(void **state)
{
    (void)state;
    static const struct {
        double x[6];
        size_t n;
        double level, halfwidth;
    } cases[] = {
        {{0, 2}, 2, 0.95, 12.7062047362},                   /* t(0.975, 1) x sqrt(2 / 2) */
        {{2, 4, 4, 4, 5, 5}, 6, 0.95, 2.57058183661 * sqrt(0.2)}, /* t(0.975, 5) x sqrt(1.2 / 6) */
        {{2, 4, 4, 4, 5, 5}, 6, 0.90, 2.01504837333 * sqrt(0.2)},
        {{7, 7, 7}, 3, 0.95, 0},                            /* no spread: a point */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sim_tally t;
        sim_tally_reset(&t);
        for (size_t i = 0; i < cases[c].n; i++)
            sim_tally_add(&t, cases[c].x[i]);
        double h = sim_tally_ci_halfwidth(&t, cases[c].level);
        if (!(fabs(h - cases[c].halfwidth) <= 1e-9 * cases[c].halfwidth + 1e-12))
            fail_msg("case %zu: half-width %.12g, want %.12g", c, h, cases[c].halfwidth);
    }
    sim_tally one = {0};
    sim_tally_add(&one, 1);
    assert_true(isnan(sim_tally_ci_halfwidth(&one, 0.95))); /* one replication: no interval */
    sim_tally_add(&one, 2);
    assert_true(isnan(sim_tally_ci_halfwidth(&one, 1.0)));
    assert_true(isnan(sim_tally_ci_halfwidth(&one, 0)));

    gsl_rng *r = sim_random_stream(42, 0, "ci coverage");
    size_t held = 0, trials = 4000;
    for (size_t k = 0; k < trials; k++) {
        sim_tally t = {0};
        for (int i = 0; i < 5; i++)
            sim_tally_add(&t, 3 + gsl_ran_gaussian(r, 2));
        held += fabs(t.mean - 3) <= sim_tally_ci_halfwidth(&t, 0.95);
    }
    gsl_rng_free(r);
    double coverage = (double)held / (double)trials;
    if (!(coverage > 0.94 && coverage < 0.96)) /* 3 standard errors of 0.0034 */
        fail_msg("coverage %.4f of 95%% intervals", coverage);
}

/* ---- time-weighted average ---- */

static void test_tavg(void **state)
{
    (void)state;
    sim_tavg a;
    sim_tavg_init(&a, 0, 2);
    assert_true(sim_tavg_mean(&a, 0) == 2); /* empty interval: the current value */
    assert_true(sim_tavg_mean(&a, 5 * SIM_SEC) == 2);
    sim_tavg_set(&a, 10 * SIM_SEC, 4);
    /* 2 for 10 s, then 4 up to now = 20 s, counted without another set. */
    assert_true(fabs(sim_tavg_mean(&a, 20 * SIM_SEC) - 3) < 1e-12);
    assert_true(a.max == 4);
    sim_tavg_add(&a, 20 * SIM_SEC, -4); /* down to 0 */
    assert_true(a.value == 0);
    assert_true(fabs(sim_tavg_mean(&a, 40 * SIM_SEC) - 1.5) < 1e-12);
    /* Several changes at one instant contribute nothing but the last value. */
    sim_tavg_set(&a, 40 * SIM_SEC, 100);
    sim_tavg_set(&a, 40 * SIM_SEC, 6);
    assert_true(fabs(sim_tavg_mean(&a, 40 * SIM_SEC) - 1.5) < 1e-12);
    assert_true(a.max == 100);
    /* Warm-up ends: averaging restarts at now, keeping the current value, and max restarts too. */
    sim_tavg_reset(&a, 50 * SIM_SEC);
    assert_true(a.value == 6 && a.max == 6 && a.start == 50 * SIM_SEC);
    assert_true(fabs(sim_tavg_mean(&a, 60 * SIM_SEC) - 6) < 1e-12);
    sim_tavg_set(&a, 60 * SIM_SEC, 2);
    assert_true(fabs(sim_tavg_mean(&a, 70 * SIM_SEC) - 4) < 1e-12);
}

static int cmp_time(const void *pa, const void *pb)
{
    sim_time_t a = *(const sim_time_t *)pa, b = *(const sim_time_t *)pb;
    return (a > b) - (a < b);
}

/* Little's law as an identity: when every job has left by T, the time-weighted mean number present over
 * [0, T] times T equals the sum of the times the jobs stayed. */
static void test_tavg_littles_law(void **state)
{
    (void)state;
    enum { JOBS = 20000 };
    gsl_rng *r = sim_random_stream(11, 0, "little");
    sim_time_t *ev = malloc(2 * JOBS * sizeof *ev);
    assert_non_null(ev);
    sim_time_t t = 0;
    double stay_sum = 0;
    for (int i = 0; i < JOBS; i++) {
        t += sim_time_from_sec(gsl_ran_exponential(r, 0.5));
        sim_time_t stay = sim_time_from_sec(gsl_ran_exponential(r, 2.0));
        stay_sum += sim_time_to_sec(stay);
        ev[2 * i] = t * 2;                  /* arrival: even */
        ev[2 * i + 1] = (t + stay) * 2 + 1; /* departure: odd */
    }
    gsl_rng_free(r);
    qsort(ev, 2 * JOBS, sizeof *ev, cmp_time);
    sim_tavg len;
    sim_tavg_init(&len, 0, 0);
    for (int i = 0; i < 2 * JOBS; i++)
        sim_tavg_add(&len, ev[i] >> 1, (ev[i] & 1) ? -1 : +1);
    sim_time_t end = ev[2 * JOBS - 1] >> 1;
    assert_true(len.value == 0);
    double area = sim_tavg_mean(&len, end) * sim_time_to_sec(end);
    if (fabs(area - stay_sum) > 1e-9 * stay_sum)
        fail_msg("mean x T = %.9f, sum of stays %.9f", area, stay_sum);
    /* About 4 present on average (arrival rate 2/s x 2 s), and at some point many more. */
    assert_true(fabs(sim_tavg_mean(&len, end) - 4) < 0.2);
    assert_true(len.max > 10);
    free(ev);
}

/* ---- quantile sketch ---- */

/* The exact lower quantile: the ceil(p n)-th smallest, the minimum for p = 0. */
static double exact_quantile(const double *sorted, size_t n, double p)
{
    double r = p * (double)n;
    size_t k = (size_t)ceil(r - r * 4e-16);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

/* Fraction of sorted values <= x. */
static double exact_cdf(const double *sorted, size_t n, double x)
{
    return (double)sim_sorted_count_le(sorted, n, x) / (double)n;
}

typedef double (*draw_fn)(gsl_rng *r);
static double draw_uniform(gsl_rng *r) { return gsl_rng_uniform(r); }
static double draw_exponential(gsl_rng *r) { return gsl_ran_exponential(r, 30.0); }
static double draw_lognormal(gsl_rng *r) { return gsl_ran_lognormal(r, log(0.02), 1.29); }
static double draw_pareto(gsl_rng *r) { return gsl_ran_pareto(r, 1.1, 1000.0); }
static double draw_constant(gsl_rng *r) { (void)r; return 42.0; }
static double draw_ties(gsl_rng *r) { return (double)gsl_rng_uniform_int(r, 20); } /* includes 0 */
static double draw_decades(gsl_rng *r) { return pow(10.0, gsl_ran_flat(r, -12, 11)); }
static double draw_mostly_zero(gsl_rng *r) { return gsl_rng_uniform(r) < 0.6 ? 0.0 : gsl_ran_exponential(r, 1e-3); }

static const struct dist_case {
    const char *name;
    draw_fn draw;
} dist_cases[] = {
    {"uniform(0,1)", draw_uniform},
    {"exponential(30)", draw_exponential},
    {"lognormal(20ms, sigma 1.29)", draw_lognormal},
    {"pareto(1.1, 1000)", draw_pareto},
    {"constant", draw_constant},
    {"integers 0..19", draw_ties},
    {"1e-12 .. 1e11", draw_decades},
    {"60% zeros", draw_mostly_zero},
};

static const double probes[] = {0, 1e-4, 0.001, 0.01, 0.07, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1};

enum { QN = 100000 };

static double *fill(sim_quantile *q, draw_fn draw, uint32_t rep, size_t n)
{
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    gsl_rng *r = sim_random_stream(77, rep, "quantile");
    for (size_t i = 0; i < n; i++) {
        x[i] = draw(r);
        if (q)
            sim_quantile_add(q, x[i]);
    }
    gsl_rng_free(r);
    return x;
}

static void check_quantiles(const char *name, const sim_quantile *q, const double *sorted, size_t n)
{
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        double p = probes[k], want = exact_quantile(sorted, n, p), got = sim_quantile_get(q, p);
        if (want < 1e-9) {
            /* The zero bucket: absolute error below its bound. */
            if (!(fabs(got - want) < 1e-9))
                fail_msg("%s: p=%g: %.9g, exact %.9g", name, p, got, want);
            continue;
        }
        double err = fabs(got - want) / want;
        if (!(err <= ACCURACY + SLACK))
            fail_msg("%s: p=%g: %.9g, exact %.9g, relative error %.5f%%", name, p, got, want, 100 * err);
    }
}

static void test_quantile_accuracy(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dist_cases / sizeof dist_cases[0]; c++) {
        sim_quantile *q = sim_quantile_create();
        double *x = fill(q, dist_cases[c].draw, (uint32_t)c, QN);
        double sum = 0;
        for (size_t i = 0; i < QN; i++)
            sum += x[i];
        qsort(x, QN, sizeof *x, cmp_double);
        check_quantiles(dist_cases[c].name, q, x, QN);
        assert_int_equal(sim_quantile_count(q), QN);
        assert_true(sim_quantile_min(q) == x[0]);
        assert_true(sim_quantile_max(q) == x[QN - 1]);
        assert_true(sim_quantile_get(q, 0) == x[0]);
        assert_true(sim_quantile_get(q, 1) == x[QN - 1]);
        assert_true(fabs(sim_quantile_mean(q) - sum / QN) <= 1e-12 * fabs(sum / QN));
        free(x);
        sim_quantile_free(q);
    }
}

/* Small counts, where the rank arithmetic matters most: every rank of 1..7 values. */
static void test_quantile_small(void **state)
{
    (void)state;
    static const double v[] = {5, 1, 4, 2, 3, 7, 6};
    for (size_t n = 1; n <= 7; n++) {
        sim_quantile *q = sim_quantile_create();
        double sorted[7];
        for (size_t i = 0; i < n; i++) {
            sim_quantile_add(q, v[i]);
            sorted[i] = v[i];
        }
        qsort(sorted, n, sizeof *sorted, cmp_double);
        for (size_t k = 1; k <= n; k++) {
            /* Any p in ((k-1)/n, k/n] asks for the k-th smallest. */
            double ps[2] = {(double)k / (double)n, ((double)k - 0.5) / (double)n};
            for (int j = 0; j < 2; j++) {
                double got = sim_quantile_get(q, ps[j]);
                if (!(fabs(got - sorted[k - 1]) <= ACCURACY * sorted[k - 1] + SLACK))
                    fail_msg("n=%zu p=%g: %g, want %g", n, ps[j], got, sorted[k - 1]);
            }
        }
        sim_quantile_free(q);
    }
}

static void test_quantile_empty(void **state)
{
    (void)state;
    sim_quantile *q = sim_quantile_create();
    assert_int_equal(sim_quantile_count(q), 0);
    assert_true(isnan(sim_quantile_get(q, 0.5)));
    assert_true(isnan(sim_quantile_mean(q)));
    assert_true(isnan(sim_quantile_min(q)) && isnan(sim_quantile_max(q)));
    assert_true(sim_quantile_cdf(q, 1.0) == 0);
    sim_quantile_free(q);
    sim_quantile_free(NULL);
}

/* Merging per-class sketches gives exactly the sketch of all the data. */
static void test_quantile_merge(void **state)
{
    (void)state;
    sim_quantile *all = sim_quantile_create(), *merged = sim_quantile_create();
    sim_quantile *part[3] = {sim_quantile_create(), sim_quantile_create(), sim_quantile_create()};
    /* Three parts with very different ranges, so the merge must grow the destination both ways. */
    draw_fn draws[3] = {draw_exponential, draw_pareto, draw_mostly_zero};
    double *xs[3];
    for (int k = 0; k < 3; k++) {
        xs[k] = fill(part[k], draws[k], 100 + (uint32_t)k, QN / 3);
        for (size_t i = 0; i < QN / 3; i++)
            sim_quantile_add(all, xs[k][i]);
    }
    sim_quantile_merge(merged, part[1]); /* into an empty sketch */
    sim_quantile_merge(merged, part[0]);
    sim_quantile_merge(merged, part[2]);
    sim_quantile *empty = sim_quantile_create();
    sim_quantile_merge(merged, empty); /* an empty source changes nothing */
    assert_int_equal(sim_quantile_count(merged), sim_quantile_count(all));
    assert_true(sim_quantile_min(merged) == sim_quantile_min(all));
    assert_true(sim_quantile_max(merged) == sim_quantile_max(all));
    assert_true(fabs(sim_quantile_mean(merged) - sim_quantile_mean(all)) <= 1e-12 * sim_quantile_mean(all));
    for (int k = 0; k <= 1000; k++) {
        double p = k / 1000.0;
        assert_true(sim_quantile_get(merged, p) == sim_quantile_get(all, p));
    }
    double *sorted = malloc(3 * (QN / 3) * sizeof *sorted);
    assert_non_null(sorted);
    for (int k = 0; k < 3; k++)
        memcpy(sorted + k * (QN / 3), xs[k], (QN / 3) * sizeof *sorted);
    qsort(sorted, 3 * (QN / 3), sizeof *sorted, cmp_double);
    check_quantiles("merged", merged, sorted, 3 * (QN / 3));
    free(sorted);
    for (int k = 0; k < 3; k++) {
        free(xs[k]);
        sim_quantile_free(part[k]);
    }
    sim_quantile_free(empty);
    sim_quantile_free(all);
    sim_quantile_free(merged);
}

/* After a reset (end of warm-up) only later observations count. */
static void test_quantile_reset(void **state)
{
    (void)state;
    sim_quantile *q = sim_quantile_create();
    double *warm = fill(q, draw_pareto, 1, QN / 2);
    sim_quantile_reset(q);
    assert_int_equal(sim_quantile_count(q), 0);
    assert_true(isnan(sim_quantile_get(q, 0.5)));
    double *x = fill(q, draw_uniform, 2, QN);
    qsort(x, QN, sizeof *x, cmp_double);
    check_quantiles("after reset", q, x, QN);
    assert_true(sim_quantile_max(q) == x[QN - 1]);
    assert_true(sim_quantile_cdf(q, 1.0) == 1);
    free(warm);
    free(x);
    sim_quantile_free(q);
}

static void test_quantile_cdf(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dist_cases / sizeof dist_cases[0]; c++) {
        const char *name = dist_cases[c].name;
        sim_quantile *q = sim_quantile_create();
        double *x = fill(q, dist_cases[c].draw, 50 + (uint32_t)c, QN);
        qsort(x, QN, sizeof *x, cmp_double);
        double lo = x[0], hi = x[QN - 1];
        assert_true(sim_quantile_cdf(q, hi) == 1);
        if (lo > 0)
            assert_true(sim_quantile_cdf(q, lo * 0.5) == 0);
        /* Monotone, and between the exact CDF at x shifted by the bucket error either way. */
        double prev = 0;
        for (int k = 0; k <= 2000; k++) {
            double v = lo + (hi - lo) * pow(k / 2000.0, 4); /* dense near the bottom */
            double f = sim_quantile_cdf(q, v);
            if (f < prev)
                fail_msg("%s: cdf(%g) = %g < cdf of a smaller value %g", name, v, f, prev);
            prev = f;
            if (v < 1e-9)
                continue;
            double below = exact_cdf(x, QN, v / (1 + ACCURACY) * (1 - SLACK));
            double above = exact_cdf(x, QN, v / (1 - ACCURACY) * (1 + SLACK));
            if (f < below || f > above)
                fail_msg("%s: cdf(%g) = %g outside [%g, %g]", name, v, f, below, above);
        }
        /* cdf and get agree: get(p) is the smallest reported value whose cdf reaches p. */
        for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
            double p = probes[k], v = sim_quantile_get(q, p);
            if (sim_quantile_cdf(q, v) < p)
                fail_msg("%s: cdf(get(%g)) = %g", name, p, sim_quantile_cdf(q, v));
            if (p > 0 && v > lo && sim_quantile_cdf(q, v * (1 - 1e-12)) >= p)
                fail_msg("%s: get(%g) = %g is not the smallest value reaching p", name, p, v);
        }
        free(x);
        sim_quantile_free(q);
    }
}

/* Same data, same answers: no dependence on anything but the values. */
static void test_quantile_deterministic(void **state)
{
    (void)state;
    sim_quantile *a = sim_quantile_create(), *b = sim_quantile_create();
    double *x = fill(a, draw_lognormal, 9, QN);
    /* The same values in reverse order. */
    for (size_t i = QN; i-- > 0;)
        sim_quantile_add(b, x[i]);
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++)
        assert_true(sim_quantile_get(a, probes[k]) == sim_quantile_get(b, probes[k]));
    free(x);
    sim_quantile_free(a);
    sim_quantile_free(b);
}

/* A negative or non-finite value is a model bug: abort, naming the function. */
static void add_negative(void)
{
    sim_quantile *q = sim_quantile_create();
    sim_quantile_add(q, -1);
}

static void add_nan(void)
{
    sim_quantile *q = sim_quantile_create();
    sim_quantile_add(q, NAN);
}

static void tavg_backwards(void)
{
    sim_tavg a;
    sim_tavg_init(&a, 100, 1);
    sim_tavg_set(&a, 99, 2);
}

static void test_invariants_abort(void **state)
{
    (void)state;
    expect_abort(add_negative, "sim_quantile_add");
    expect_abort(add_nan, "sim_quantile_add");
    expect_abort(tavg_backwards, "sim_tavg_set");
}

/* Exact order statistics: a sort, and counts at or below a value (ties and the ends included). */
static void test_sorted(void **state)
{
    (void)state;
    double v[] = {3, 1, 2, 2, -1, 5};
    sim_sort_doubles(v, 6);
    static const double want[] = {-1, 1, 2, 2, 3, 5};
    for (size_t i = 0; i < 6; i++)
        assert_true(v[i] == want[i]);
    static const struct {
        double t;
        size_t n;
    } cases[] = {{-2, 0}, {-1, 1}, {0, 1}, {2, 4}, {2.5, 4}, {5, 6}, {9, 6}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(sim_sorted_count_le(v, 6, cases[i].t), cases[i].n);
    assert_int_equal(sim_sorted_count_le(v, 0, 1), 0);
    sim_sort_doubles(v, 0); /* nothing to do, no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally_table),
        cmocka_unit_test(test_tally_empty_and_zeroed),
        cmocka_unit_test(test_tally_confidence_interval),
        cmocka_unit_test(test_tavg),
        cmocka_unit_test(test_tavg_littles_law),
        cmocka_unit_test(test_quantile_accuracy),
        cmocka_unit_test(test_quantile_small),
        cmocka_unit_test(test_quantile_empty),
        cmocka_unit_test(test_quantile_merge),
        cmocka_unit_test(test_quantile_reset),
        cmocka_unit_test(test_quantile_cdf),
        cmocka_unit_test(test_quantile_deterministic),
        cmocka_unit_test(test_invariants_abort),
        cmocka_unit_test(test_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
