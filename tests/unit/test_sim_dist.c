/*
 * test_sim_dist - the distributions: closed-form means and medians, samplers that agree with them,
 * empirical distributions, copy/free, and descriptions.
 *
 * Each kind draws 200,000 samples from a fixed stream; the sample mean and median must lie within a
 * tolerance of sim_dist_mean/median, which in turn must equal values worked out by hand (so a sampler
 * and a formula that are wrong in the same way still fail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_dist.h"
#include "sim/sim_random.h"

enum { SAMPLES = 200000 };

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void expect_close(const char *what, const char *name, double got, double want, double rel)
{
    double err = want == 0 ? fabs(got) : fabs(got - want) / fabs(want);
    if (!(err <= rel))
        fail_msg("%s: %s = %.9g, expected %.9g (relative error %.3g > %.3g)", name, what, got, want, err, rel);
}

static const struct kind_case {
    const char *name;
    sim_dist d;
    double mean, median;   /* worked out by hand */
    double mean_tol, median_tol; /* relative, for the sample statistics */
} kind_cases[] = {
    {"constant", {.kind = SIM_DIST_CONSTANT, .a = 0.5}, 0.5, 0.5, 1e-12, 1e-12},
    {"uniform", {.kind = SIM_DIST_UNIFORM, .a = 1, .b = 3}, 2, 2, 0.01, 0.01},
    {"exponential", {.kind = SIM_DIST_EXPONENTIAL, .a = 2}, 2, 1.3862943611198906, 0.01, 0.01},
    /* median 20 ms, p99 400 ms: sigma = ln(20)/z(0.99) = 1.28774..., mean = median * exp(sigma^2/2) */
    {"lognormal", {.kind = SIM_DIST_LOGNORMAL, .a = -3.912023005428146, .b = 1.287740456611262},
     0.045826843193029494, 0.02, 0.03, 0.01},
    /* shape 2: the median solves 1 - e^-x (1 + x) = 1/2, x = 1.67834699..., times scale 1.5 */
    {"gamma", {.kind = SIM_DIST_GAMMA, .a = 2, .b = 1.5}, 3, 2.5175204850249912, 0.01, 0.01},
    /* alpha 3, minimum 2: mean alpha x_m/(alpha - 1), median x_m 2^(1/alpha) */
    {"pareto", {.kind = SIM_DIST_PARETO, .a = 3, .b = 2}, 3, 2.5198420997897464, 0.02, 0.01},
};

static void test_kinds_table(void **state)
{
    (void)state;
    double *x = malloc(SAMPLES * sizeof *x);
    assert_non_null(x);
    for (size_t c = 0; c < sizeof kind_cases / sizeof kind_cases[0]; c++) {
        const struct kind_case *kc = &kind_cases[c];
        expect_close("sim_dist_mean", kc->name, sim_dist_mean(&kc->d), kc->mean, 1e-9);
        expect_close("sim_dist_median", kc->name, sim_dist_median(&kc->d), kc->median, 1e-9);
        gsl_rng *r = sim_random_stream(1, 0, kc->name);
        double sum = 0;
        for (int i = 0; i < SAMPLES; i++) {
            x[i] = sim_dist_sample(&kc->d, r);
            sum += x[i];
        }
        gsl_rng_free(r);
        qsort(x, SAMPLES, sizeof *x, cmp_double);
        expect_close("sample mean", kc->name, sum / SAMPLES, kc->mean, kc->mean_tol);
        expect_close("sample median", kc->name, (x[SAMPLES / 2 - 1] + x[SAMPLES / 2]) / 2, kc->median,
                     kc->median_tol);
    }
    free(x);
}

/* The operator's form: the sampled median and 99th percentile come back as given. */
static void test_lognormal_median_p99(void **state)
{
    (void)state;
    static const struct {
        double median, p99;
    } cases[] = {{0.02, 0.4}, {0.0004, 0.008}, {4096, 40960}, {1, 1.5}};
    double *x = malloc(SAMPLES * sizeof *x);
    assert_non_null(x);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sim_dist d = sim_dist_lognormal_median_p99(cases[c].median, cases[c].p99);
        assert_int_equal(d.kind, SIM_DIST_LOGNORMAL);
        expect_close("median", "lognormal_median_p99", sim_dist_median(&d), cases[c].median, 1e-12);
        gsl_rng *r = sim_random_stream(9, (uint32_t)c, "lognormal");
        for (int i = 0; i < SAMPLES; i++)
            x[i] = sim_dist_sample(&d, r);
        gsl_rng_free(r);
        qsort(x, SAMPLES, sizeof *x, cmp_double);
        expect_close("sample median", "lognormal_median_p99", x[SAMPLES / 2], cases[c].median, 0.02);
        expect_close("sample p99", "lognormal_median_p99", x[SAMPLES * 99 / 100], cases[c].p99, 0.03);
    }
    free(x);
    /* p99 == median degenerates to a constant. */
    sim_dist flat = sim_dist_lognormal_median_p99(3, 3);
    assert_true(flat.b == 0);
}

static void test_pareto_heavy_tail_mean(void **state)
{
    (void)state;
    sim_dist d = {.kind = SIM_DIST_PARETO, .a = 1, .b = 5};
    assert_true(isinf(sim_dist_mean(&d)));
    d.a = 0.5;
    assert_true(isinf(sim_dist_mean(&d)));
    d.a = 2;
    expect_close("mean", "pareto", sim_dist_mean(&d), 10, 1e-12);
}

static double *dup_values(const double *v, size_t n)
{
    double *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, v, n * sizeof *p);
    return p;
}

static void test_empirical(void **state)
{
    (void)state;
    static const double v[] = {10, 1, 3, 2};
    sim_dist d = {0};
    assert_int_equal(sim_dist_empirical(&d, dup_values(v, 4), 4), 0);
    assert_int_equal(d.kind, SIM_DIST_EMPIRICAL);
    assert_int_equal(d.n, 4);
    for (size_t i = 1; i < d.n; i++)
        assert_true(d.values[i - 1] <= d.values[i]);
    expect_close("mean", "empirical", sim_dist_mean(&d), 4, 1e-12);
    expect_close("median", "empirical", sim_dist_median(&d), 2.5, 1e-12);
    /* Draws hit only the given values, each about a quarter of the time. */
    gsl_rng *r = sim_random_stream(1, 0, "empirical");
    int counts[4] = {0};
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++) {
        double x = sim_dist_sample(&d, r);
        sum += x;
        int k = x == 1 ? 0 : x == 2 ? 1 : x == 3 ? 2 : x == 10 ? 3 : -1;
        assert_true(k >= 0);
        counts[k]++;
    }
    gsl_rng_free(r);
    for (int k = 0; k < 4; k++)
        expect_close("frequency", "empirical", counts[k] / (double)SAMPLES, 0.25, 0.02);
    expect_close("sample mean", "empirical", sum / SAMPLES, 4, 0.01);
    sim_dist_free(&d);
    assert_null(d.values);
    assert_int_equal(d.n, 0);

    sim_dist odd = {0};
    assert_int_equal(sim_dist_empirical(&odd, dup_values(v, 3), 3), 0);
    expect_close("median", "empirical odd", sim_dist_median(&odd), 3, 1e-12);
    sim_dist_free(&odd);
}

static void test_empirical_rejects(void **state)
{
    (void)state;
    sim_dist d = sim_dist_constant(7);
    double one = 1;
    assert_int_equal(sim_dist_empirical(&d, &one, 0), -EINVAL);
    assert_int_equal(sim_dist_empirical(&d, NULL, 3), -EINVAL);
    double bad[3] = {1, NAN, 2};
    assert_int_equal(sim_dist_empirical(&d, bad, 3), -EINVAL);
    double inf[2] = {INFINITY, 2};
    assert_int_equal(sim_dist_empirical(&d, inf, 2), -EINVAL);
    /* Nothing changed: d is still the constant, and the arrays were not touched or taken. */
    assert_int_equal(d.kind, SIM_DIST_CONSTANT);
    assert_true(d.a == 7);
    assert_true(bad[0] == 1 && isnan(bad[1]) && bad[2] == 2);
}

static void test_copy_free(void **state)
{
    (void)state;
    static const double v[] = {5, 4, 3, 2, 1};
    sim_dist d = {0};
    assert_int_equal(sim_dist_empirical(&d, dup_values(v, 5), 5), 0);
    sim_dist c = sim_dist_copy(&d);
    assert_int_equal(c.kind, SIM_DIST_EMPIRICAL);
    assert_int_equal(c.n, 5);
    assert_ptr_not_equal(c.values, d.values);
    assert_memory_equal(c.values, d.values, 5 * sizeof(double));
    sim_dist_free(&d); /* the copy outlives the original */
    expect_close("median", "copy", sim_dist_median(&c), 3, 1e-12);
    sim_dist_free(&c);
    sim_dist_free(&c); /* idempotent */

    sim_dist g = {.kind = SIM_DIST_GAMMA, .a = 2, .b = 3};
    sim_dist gc = sim_dist_copy(&g);
    assert_int_equal(gc.kind, SIM_DIST_GAMMA);
    assert_true(gc.a == 2 && gc.b == 3 && gc.values == NULL);
    sim_dist_free(&gc); /* no values: harmless */
}

/* Scaling by k multiplies every draw by k: the same stream of draws, each k times as large (the
 * median and the mean follow), for every kind. */
static void test_scale(void **state)
{
    (void)state;
    static const double v[] = {1, 2, 3};
    sim_dist e = {0};
    assert_int_equal(sim_dist_empirical(&e, dup_values(v, 3), 3), 0);
    sim_dist ds[] = {sim_dist_constant(0.5), {.kind = SIM_DIST_UNIFORM, .a = 1, .b = 2},
                     {.kind = SIM_DIST_EXPONENTIAL, .a = 0.1}, sim_dist_lognormal_median_p99(0.02, 0.4),
                     {.kind = SIM_DIST_GAMMA, .a = 2, .b = 3}, {.kind = SIM_DIST_PARETO, .a = 2.5, .b = 1}, e};
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        sim_dist s = sim_dist_copy(&ds[i]);
        sim_dist_scale(&s, 4);
        gsl_rng *r1 = gsl_rng_alloc(gsl_rng_taus2), *r2 = gsl_rng_alloc(gsl_rng_taus2);
        for (int n = 0; n < 100; n++) {
            double x = sim_dist_sample(&ds[i], r1), y = sim_dist_sample(&s, r2);
            expect_close("scaled draw", "x4", y, 4 * x, 1e-9);
        }
        expect_close("median", "x4", sim_dist_median(&s), 4 * sim_dist_median(&ds[i]), 1e-9);
        gsl_rng_free(r1);
        gsl_rng_free(r2);
        sim_dist_free(&s);
    }
    sim_dist_free(&e);
}

static void test_describe(void **state)
{
    (void)state;
    static const double v[] = {3, 1, 2};
    sim_dist emp = {0};
    assert_int_equal(sim_dist_empirical(&emp, dup_values(v, 3), 3), 0);
    const struct {
        sim_dist d;
        const char *want;
    } cases[] = {
        {sim_dist_constant(0.5), "constant(0.5)"},
        {{.kind = SIM_DIST_UNIFORM, .a = 1, .b = 3}, "uniform(min=1, max=3)"},
        {{.kind = SIM_DIST_EXPONENTIAL, .a = 0.25}, "exponential(mean=0.25)"},
        {sim_dist_lognormal_median_p99(0.02, 0.4), "lognormal(median=0.02, p99=0.4)"},
        {{.kind = SIM_DIST_GAMMA, .a = 2, .b = 1.5}, "gamma(shape=2, scale=1.5)"},
        {{.kind = SIM_DIST_PARETO, .a = 1.2, .b = 1000}, "pareto(alpha=1.2, min=1000)"},
        {emp, "empirical(n=3, min=1, median=2, max=3)"},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = sim_dist_describe(&cases[i].d, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    /* Like snprintf: truncates, terminates, and returns the length it needed. */
    char small[8];
    int n = sim_dist_describe(&cases[3].d, small, sizeof small);
    assert_int_equal(n, strlen(cases[3].want));
    assert_string_equal(small, "lognorm");
    assert_int_equal(sim_dist_describe(&cases[3].d, NULL, 0), strlen(cases[3].want));
    sim_dist_free(&emp);
}

/* Same stream, same draws: a distribution adds no hidden state. */
static void test_deterministic(void **state)
{
    (void)state;
    sim_dist d = sim_dist_lognormal_median_p99(0.02, 0.4);
    gsl_rng *a = sim_random_stream(5, 0, "x"), *b = sim_random_stream(5, 0, "x");
    for (int i = 0; i < 1000; i++)
        assert_true(sim_dist_sample(&d, a) == sim_dist_sample(&d, b));
    gsl_rng_free(a);
    gsl_rng_free(b);
}

/* The ziggurat exponential: mean and variance 1, and P(X > t) = exp(-t) across the layers, in the
 * wedges and in the tail beyond the last layer (t > 7.697), within 4 standard errors. */
static void test_exp1_ziggurat(void **state)
{
    (void)state;
    gsl_rng *r = sim_random_stream(77, 0, "exp1");
    enum { N = 4000000 };
    static const double ts[] = {0.1, 0.5, 1, 2, 4, 7.697, 9};
    uint64_t above[sizeof(ts) / sizeof(ts[0])] = {0};
    double sum = 0, sum2 = 0;
    for (int k = 0; k < N; k++) {
        double x = sim_dist_exp1(r);
        assert_true(x >= 0 && isfinite(x));
        sum += x;
        sum2 += x * x;
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
            above[i] += x > ts[i];
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    if (fabs(mean - 1) > 4 * sqrt(1.0 / N) || fabs(var - 1) > 4 * sqrt(8.0 / N))
        fail_msg("mean %g, variance %g", mean, var);
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        double p = exp(-ts[i]), got = (double)above[i] / N, se = sqrt(p * (1 - p) / N);
        if (fabs(got - p) > 4 * se)
            fail_msg("P(X > %g) = %g, want %g (4 se = %g)", ts[i], got, p, 4 * se);
    }
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_table),
        cmocka_unit_test(test_lognormal_median_p99),
        cmocka_unit_test(test_pareto_heavy_tail_mean),
        cmocka_unit_test(test_empirical),
        cmocka_unit_test(test_empirical_rejects),
        cmocka_unit_test(test_copy_free),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_exp1_ziggurat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
