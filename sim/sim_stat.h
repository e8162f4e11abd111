/*
 * sim_stat - statistics collected during a run.
 *
 * - sim_tally: count, mean, variance (Welford), min, max of observations, and the mean's confidence
 *   interval (Student's t: replications of a run are few).
 * - sim_tavg: a time-weighted average of a piecewise-constant quantity (queue length, open sessions),
 *   with its maximum. Little's law and utilisations come from these.
 * - sim_quantile: a bounded-error quantile sketch: logarithmic buckets give every quantile within a
 *   relative error of 0.5% (DDSketch-style), in fixed memory, deterministically, for any number of
 *   samples. Exact quantiles over ten million latencies would cost 80 MB; this costs a few KB.
 *
 * All support a reset at the end of the warm-up period, after which only later observations count.
 */
#ifndef SIM_STAT_H
#define SIM_STAT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

typedef struct sim_tally {
    uint64_t n;
    double mean, m2, min, max, sum;
} sim_tally;

/* Empties the tally (min and max become NAN until the first add); a zeroed struct is empty too. */
void sim_tally_reset(sim_tally *t);
void sim_tally_add(sim_tally *t, double x);
double sim_tally_variance(const sim_tally *t); /* sample variance; 0 when n < 2 */
/* Half the width of the mean's two-sided confidence interval at level (0.95: 95%), by Student's t
 * with n - 1 degrees of freedom: the mean is within mean +- this; NAN when n < 2. */
double sim_tally_ci_halfwidth(const sim_tally *t, double level);
/* Student's t quantile of a two-sided interval at level with df degrees of freedom (level 0.95, df 4:
 * 2.776); NAN when df < 1 or level is not in (0, 1). */
double sim_student_t(double level, double df);

typedef struct sim_tavg {
    sim_time_t start;     /* when averaging began (run start or end of warm-up) */
    sim_time_t last_time; /* when value last changed */
    double value;         /* current value */
    double area;          /* integral of value dt since start, up to last_time, in value*seconds */
    double max;           /* maximum value since start */
} sim_tavg;

void sim_tavg_init(sim_tavg *a, sim_time_t now, double value);
void sim_tavg_set(sim_tavg *a, sim_time_t now, double value);
static inline void sim_tavg_add(sim_tavg *a, sim_time_t now, double delta) { sim_tavg_set(a, now, a->value + delta); }
double sim_tavg_mean(const sim_tavg *a, sim_time_t now);
/* Restarts averaging at now, keeping the current value (warm-up end). */
void sim_tavg_reset(sim_tavg *a, sim_time_t now);

typedef struct sim_quantile sim_quantile;

/* Values must be >= 0 (latencies, sizes); values below 1e-9 are counted in a zero bucket. */
sim_quantile *sim_quantile_create(void);
void sim_quantile_free(sim_quantile *q);
void sim_quantile_add(sim_quantile *q, double x);
/* p in [0,1]; NAN when empty. Within 0.5% relative error of the exact (lower) quantile. */
double sim_quantile_get(const sim_quantile *q, double p);
uint64_t sim_quantile_count(const sim_quantile *q);
/* Exact smallest and largest observations; NAN when empty. */
double sim_quantile_min(const sim_quantile *q);
double sim_quantile_max(const sim_quantile *q);
double sim_quantile_mean(const sim_quantile *q);
void sim_quantile_reset(sim_quantile *q);
/* Adds every observation of src into dst (per-class sketches into an overall one). */
void sim_quantile_merge(sim_quantile *dst, const sim_quantile *src);
/* Fraction of observations <= x (for CDF plots); 0 when empty. */
double sim_quantile_cdf(const sim_quantile *q, double x);

/* Exact order statistics over a few values held in memory (not for a run's millions: sim_quantile). */
/* Sorts v[0..n) ascending. */
void sim_sort_doubles(double *v, size_t n);
/* The number of values of the sorted v[0..n) at or below t (the first index above t). */
size_t sim_sorted_count_le(const double *v, size_t n, double t);

#endif
