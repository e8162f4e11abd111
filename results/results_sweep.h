/*
 * results_sweep - the tables of a sweep directory (`tempfail sweep`), built from the summary.json
 * of every run: one sweep is points (a combination of the varied keys' values) times replications.
 *
 *   sweep.csv        one row per point and replication: the point's values, the seed and replication,
 *                    whether its expect: passed, and every figure of its summary.json flattened to a
 *                    column ("classes.transactional.latency.p95"; true/false as 1/0, null empty)
 *   points.csv       one row per point: how many replications, the share whose expect: passed, and per
 *                    figure its mean, standard deviation, 95% confidence interval of the mean by
 *                    Student's t, min and max
 *   differences.csv  per point after the first and per key figure: the mean difference from the point
 *                    before it (in a grid, one step of the last key), its 95% interval paired by
 *                    replication (common random numbers: replication r of every point sees the same
 *                    arrivals), the interval the same runs would give if they were independent, and the
 *                    variance reduction (var(X) + var(Y)) / var(X - Y)
 *
 * The columns are the union of every summary's figures, sorted, and every row is written in point
 * order, so the files depend only on the runs, never on the order they finished in or on how many
 * ran at once: a sweep with --jobs 1, with --jobs 8 and one merged from shards are the same to the
 * byte. Summaries are read through a callback, twice (once for the columns, once for the rows), so a
 * sweep of a million runs is never held in memory; what the charts and the report need (the key
 * figures' statistics per point) is kept.
 */
#ifndef RESULTS_SWEEP_H
#define RESULTS_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenarios/scenario_sweep.h"

/* A figure's statistics over a point's replications; NAN where undefined (ci_half with n < 2). */
typedef struct results_sweep_stat {
    size_t n;
    double mean, sd, ci_half, min, max;
} results_sweep_stat;

/* A key figure's difference from the point before (differences.csv). */
typedef struct results_sweep_diff {
    size_t n;               /* replications both points have */
    double mean, ci_paired, ci_independent, reduction;
} results_sweep_diff;

typedef struct results_sweep_def {
    const scenario_sweep_axis *axes;
    size_t naxes;
    bool zip;
    size_t npoints;
    /* The key figures, as expect: names them ("transactional.latency.p95"): differences.csv, the
     * charts and the report. */
    const char *const *figures;
    size_t nfigures;
    /* Point p's replications: how many there are, and replication r's summary (a new reference,
     * NULL with err set when it cannot be read). */
    uint32_t (*nreps)(void *ctx, size_t point);
    json_t *(*summary)(void *ctx, size_t point, uint32_t rep, char *err, size_t errlen);
    void *ctx;
} results_sweep_def;

typedef struct results_sweep results_sweep;

/*
 * Reads every summary and writes sweep.csv, points.csv and differences.csv to the three files.
 * Returns the tables' figures for the charts and the report, or NULL with err saying which summary
 * could not be read or which file could not be written.
 */
results_sweep *results_sweep_write(const results_sweep_def *def, FILE *sweep_csv, FILE *points_csv,
                                   FILE *differences_csv, char *err, size_t errlen);
void results_sweep_free(results_sweep *rs);

const results_sweep_def *results_sweep_get_def(const results_sweep *rs);
/* Key figure k at point p over its replications. */
const results_sweep_stat *results_sweep_key_stat(const results_sweep *rs, size_t p, size_t k);
/* Key figure k's difference of point p from point p - 1 (p >= 1). */
const results_sweep_diff *results_sweep_key_diff(const results_sweep *rs, size_t p, size_t k);
/* The share of point p's replications whose expect: passed; NAN when the scenario has none. */
double results_sweep_pass_fraction(const results_sweep *rs, size_t p);
/* Whether every replication of point p passed (false without an expect:). */
bool results_sweep_all_passed(const results_sweep *rs, size_t p);
/* The median variance reduction over every point's key figures where it is defined; NAN when none. */
double results_sweep_median_reduction(const results_sweep *rs);

/* Every number of summary as (flattened name, value) pairs, in the order of the tree; a new object
 * {"classes.transactional.latency.p95": 12.3, ...} (null for null, 1/0 for booleans). */
json_t *results_sweep_flatten(const json_t *summary);

/* Whether every assertion of summary's expect: passed: 1, 0, or -1 when it has none. */
int results_sweep_expect_passed(const json_t *summary);

#endif
