/*
 * sim_dist - the probability distributions a scenario can name.
 *
 * A distribution yields doubles in the base unit of the quantity it describes: seconds for latencies
 * and service times, bytes for sizes, a plain count for recipients. The scenario loader converts units
 * ("20ms", "4KB") before filling a sim_dist, so the models never see unit strings.
 */
#ifndef SIM_DIST_H
#define SIM_DIST_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

typedef enum {
    SIM_DIST_CONSTANT,    /* a = value */
    SIM_DIST_UNIFORM,     /* [a, b) */
    SIM_DIST_EXPONENTIAL, /* a = mean */
    SIM_DIST_LOGNORMAL,   /* a = mu, b = sigma of ln(x); see sim_dist_lognormal_median_p99 */
    SIM_DIST_GAMMA,       /* a = shape k, b = scale theta (mean k*theta) */
    SIM_DIST_PARETO,      /* a = shape alpha, b = scale x_m (minimum) */
    SIM_DIST_EMPIRICAL,   /* values[n]: samples drawn uniformly with replacement */
} sim_dist_kind;

typedef struct sim_dist {
    sim_dist_kind kind;
    double a, b;
    double *values; /* EMPIRICAL only; owned, sorted ascending */
    size_t n;
} sim_dist;

/* Convenience constructors (no allocation). */
sim_dist sim_dist_constant(double v);
/* Lognormal with the given median and 99th percentile (p99 > median > 0): mu = ln(median),
 * sigma = ln(p99/median) / z(0.99). This is the form operators think in ("median 20ms, p99 400ms"). */
sim_dist sim_dist_lognormal_median_p99(double median, double p99);

double sim_dist_sample(const sim_dist *d, gsl_rng *r);
/*
 * A standard exponential variate (mean 1) by Marsaglia and Tsang's ziggurat: one 32-bit draw and a
 * table look-up in 98% of the calls, no logarithm - the hot path of every Poisson arrival and of the
 * hold benchmark. r must produce 32-bit outputs (gsl_rng_taus2, as sim_random_stream returns).
 */
double sim_dist_exp1(gsl_rng *r);
/* Analytic mean (empirical: sample mean; Pareto with alpha <= 1: INFINITY). */
double sim_dist_mean(const sim_dist *d);
/* Analytic median. */
double sim_dist_median(const sim_dist *d);
/* Takes ownership of values (sorts them). Returns 0, or -EINVAL if n == 0 or a value is not finite;
 * on error d is unchanged and values still belong to the caller. */
int sim_dist_empirical(sim_dist *d, double *values, size_t n);
/* Frees the empirical values, if any; the struct itself belongs to the caller. */
void sim_dist_free(sim_dist *d);
/* Multiplies every draw by k > 0 (a change of time unit): the same shape, k times the values. */
void sim_dist_scale(sim_dist *d, double k);
/* Deep copy (duplicates empirical values). */
sim_dist sim_dist_copy(const sim_dist *d);
/* "lognormal(median=0.02, p99=0.4)"-style description for manifests and error messages. */
int sim_dist_describe(const sim_dist *d, char *buf, size_t len);

#endif
