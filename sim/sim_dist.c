/*
 * sim_dist - sampling, moments and descriptions of the distributions a scenario can name.
 *
 * Sampling is GSL's (gsl_ran_*), so a distribution draws the same numbers from the same stream on
 * every machine GSL supports. Means and medians are the closed forms, so a manifest can say what a
 * scenario asked for without sampling it, and the tests can check the samplers against them.
 *
 * Lognormals are written the way operators think of latencies, by median and 99th percentile; the
 * description prints them back in that form so a manifest reads like the scenario that produced it.
 */
#include "sim/sim_dist.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"

#include <stdbool.h>
#include <stdint.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>


static double dist_z99(void)
{
    return gsl_cdf_ugaussian_Pinv(0.99);
}

sim_dist sim_dist_constant(double v)
{
    return (sim_dist){.kind = SIM_DIST_CONSTANT, .a = v};
}

sim_dist sim_dist_lognormal_median_p99(double median, double p99)
{
    /* The loader checks user input; reaching here with nonsense is a bug upstream. p99 == median is
     * allowed and gives sigma 0, a lognormal that is really a constant. */
    if (!(median > 0) || !(p99 >= median) || !isfinite(p99))
        sim_panic("sim_dist_lognormal_median_p99", "needs p99 >= median > 0");
    return (sim_dist){.kind = SIM_DIST_LOGNORMAL, .a = log(median), .b = log(p99 / median) / dist_z99()};
}

double sim_dist_sample(const sim_dist *d, gsl_rng *r)
{
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return d->a;
    case SIM_DIST_UNIFORM:
        return gsl_ran_flat(r, d->a, d->b);
    case SIM_DIST_EXPONENTIAL:
        return d->a * sim_dist_exp1(r);
    case SIM_DIST_LOGNORMAL:
        return gsl_ran_lognormal(r, d->a, d->b);
    case SIM_DIST_GAMMA:
        return gsl_ran_gamma(r, d->a, d->b);
    case SIM_DIST_PARETO:
        return gsl_ran_pareto(r, d->a, d->b);
    case SIM_DIST_EMPIRICAL:
        return d->values[gsl_rng_uniform_int(r, d->n)];
    }
    sim_panic("sim_dist_sample", "unknown kind");
    return 0;
}

double sim_dist_mean(const sim_dist *d)
{
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return d->a;
    case SIM_DIST_UNIFORM:
        return (d->a + d->b) / 2;
    case SIM_DIST_EXPONENTIAL:
        return d->a;
    case SIM_DIST_LOGNORMAL:
        return exp(d->a + d->b * d->b / 2);
    case SIM_DIST_GAMMA:
        return d->a * d->b;
    case SIM_DIST_PARETO:
        return d->a > 1 ? d->a * d->b / (d->a - 1) : INFINITY;
    case SIM_DIST_EMPIRICAL: {
        double sum = 0;
        for (size_t i = 0; i < d->n; i++)
            sum += d->values[i];
        return d->n ? sum / (double)d->n : NAN;
    }
    }
    sim_panic("sim_dist_mean", "unknown kind");
    return 0;
}

double sim_dist_median(const sim_dist *d)
{
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
    case SIM_DIST_UNIFORM:
        return sim_dist_mean(d); /* symmetric: the median is the mean */
    case SIM_DIST_EXPONENTIAL:
        return d->a * M_LN2;
    case SIM_DIST_LOGNORMAL:
        return exp(d->a);
    case SIM_DIST_GAMMA:
        return gsl_cdf_gamma_Pinv(0.5, d->a, d->b);
    case SIM_DIST_PARETO:
        return d->b * pow(2.0, 1.0 / d->a);
    case SIM_DIST_EMPIRICAL:
        /* The conventional sample median: the middle value, or the mean of the two middle ones. */
        if (d->n == 0)
            return NAN;
        if (d->n % 2)
            return d->values[d->n / 2];
        return (d->values[d->n / 2 - 1] + d->values[d->n / 2]) / 2;
    }
    sim_panic("sim_dist_median", "unknown kind");
    return 0;
}

int sim_dist_empirical(sim_dist *d, double *values, size_t n)
{
    if (n == 0 || !values)
        return -EINVAL;
    /* NaN has no place in a sorted array, and an infinite sample has no mean. */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return -EINVAL;
    sim_sort_doubles(values, n);
    *d = (sim_dist){.kind = SIM_DIST_EMPIRICAL, .values = values, .n = n};
    return 0;
}

void sim_dist_free(sim_dist *d)
{
    if (!d)
        return;
    free(d->values);
    d->values = NULL;
    d->n = 0;
}

void sim_dist_scale(sim_dist *d, double k)
{
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
    case SIM_DIST_EXPONENTIAL:
        d->a *= k;
        return;
    case SIM_DIST_UNIFORM:
        d->a *= k;
        d->b *= k;
        return;
    case SIM_DIST_LOGNORMAL: /* ln(k x) = ln k + ln x */
        d->a += log(k);
        return;
    case SIM_DIST_GAMMA:
    case SIM_DIST_PARETO:
        d->b *= k;
        return;
    case SIM_DIST_EMPIRICAL:
        for (size_t i = 0; i < d->n; i++)
            d->values[i] *= k;
        return;
    }
}

sim_dist sim_dist_copy(const sim_dist *d)
{
    sim_dist c = *d;
    c.values = NULL;
    if (d->kind != SIM_DIST_EMPIRICAL)
        return c;
    if (d->n && d->values) {
        c.values = sim_xreallocarray(NULL, d->n, sizeof *c.values);
        memcpy(c.values, d->values, d->n * sizeof *c.values);
    } else {
        c.n = 0;
    }
    return c;
}

int sim_dist_describe(const sim_dist *d, char *buf, size_t len)
{
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return snprintf(buf, len, "constant(%g)", d->a);
    case SIM_DIST_UNIFORM:
        return snprintf(buf, len, "uniform(min=%g, max=%g)", d->a, d->b);
    case SIM_DIST_EXPONENTIAL:
        return snprintf(buf, len, "exponential(mean=%g)", d->a);
    case SIM_DIST_LOGNORMAL:
        return snprintf(buf, len, "lognormal(median=%g, p99=%g)", exp(d->a), exp(d->a + d->b * dist_z99()));
    case SIM_DIST_GAMMA:
        return snprintf(buf, len, "gamma(shape=%g, scale=%g)", d->a, d->b);
    case SIM_DIST_PARETO:
        return snprintf(buf, len, "pareto(alpha=%g, min=%g)", d->a, d->b);
    case SIM_DIST_EMPIRICAL:
        if (d->n == 0)
            return snprintf(buf, len, "empirical(n=0)");
        return snprintf(buf, len, "empirical(n=%zu, min=%g, median=%g, max=%g)", d->n, d->values[0],
                        sim_dist_median(d), d->values[d->n - 1]);
    }
    return snprintf(buf, len, "unknown(%d)", (int)d->kind);
}

/* ---- the exponential ziggurat (Marsaglia & Tsang, J. Stat. Software 5(8), 2000) ---- */

static uint32_t zig_k[256];
static double zig_w[256], zig_f[256];
static bool zig_ready;

/* The 256 layers of equal area under exp(-x); computed once, the same on every machine (IEEE doubles). */
static void zig_setup(void)
{
    const double m2 = 4294967296.0;
    double de = 7.697117470131487, te = de, ve = 3.949659822581572e-3;
    double q = ve / exp(-de);
    zig_k[0] = (uint32_t)((de / q) * m2);
    zig_k[1] = 0;
    zig_w[0] = q / m2;
    zig_w[255] = de / m2;
    zig_f[0] = 1.0;
    zig_f[255] = exp(-de);
    for (int i = 254; i >= 1; i--) {
        de = -log(ve / de + exp(-de));
        zig_k[i + 1] = (uint32_t)((de / te) * m2);
        te = de;
        zig_f[i] = exp(-de);
        zig_w[i] = de / m2;
    }
    zig_ready = true;
}

double sim_dist_exp1(gsl_rng *r)
{
    if (!zig_ready)
        zig_setup();
    for (;;) {
        uint32_t j = (uint32_t)gsl_rng_get(r);
        unsigned i = j & 255;
        double x = j * zig_w[i];
        if (j < zig_k[i])
            return x; /* inside the layer's rectangle: the common case */
        if (i == 0)
            return 7.69711747013104972 - log(gsl_rng_uniform_pos(r)); /* the tail */
        if (zig_f[i] + gsl_rng_uniform(r) * (zig_f[i - 1] - zig_f[i]) < exp(-x))
            return x; /* in the wedge */
    }
}
