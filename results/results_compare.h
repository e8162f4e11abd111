/*
 * results_compare - two runs side by side: their key figures with absolute and relative deltas,
 * and the thresholds (`--fail-if 'transactional.latency.p95 +10%'`) that let a CI job refuse a
 * configuration change that makes a figure worse.
 *
 * Metrics are addressed exactly as `expect:` addresses them (results_expect_resolve): dotted paths
 * into summary.json, with the class and receiver shorthands.
 *
 * A threshold is "METRIC CHANGE", the change being a sign and an amount:
 *   +10%    B may be at most 10% above A      (fails when B > A + 10% of |A|)
 *   -5%     B may be at most 5% below A       (fails when B < A - 5% of |A|; for "more is better")
 *   +30s    B may be at most 30 seconds above A (any duration: 250ms, 5m, 2h)
 *   +100    B may be at most 100 above A (a plain number, in the metric's unit)
 * A metric without a value in either run (a class that delivered nothing) crosses its threshold: a
 * guard that cannot be checked must not pass.
 */
#ifndef RESULTS_COMPARE_H
#define RESULTS_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One key figure of both runs. */
typedef struct results_compare_row {
    char metric[256];   /* as `expect:` and --fail-if write it */
    double a, b;        /* NaN: no value in that run */
    bool duration;      /* seconds, printed as durations */
    int better;         /* +1: higher is better, -1: lower is better, 0: neither */
} results_compare_row;

typedef struct results_compare {
    size_t n, cap;
    results_compare_row *rows;
} results_compare;

/* The key figures of summaries a and b (classes, receivers and destinations of either; a receiver's
 * or destination's figure that is 0 in both runs is left out). NULL if out of memory. */
results_compare *results_compare_create(const json_t *a, const json_t *b);
void results_compare_free(results_compare *c);

/* b - a, and (b - a) / |a| (NaN when a is 0 or either is missing). */
double results_compare_delta(const results_compare_row *r);
double results_compare_relative(const results_compare_row *r);

/* The relative change for people: "+10.8%", "0%" (under 0.05%), "new" (A is 0, B is not), "-". */
void results_compare_fmt_relative(char *buf, size_t len, const results_compare_row *r);

/* A value for people: a duration ("1m02.5s") or a number; "-" when NaN. With sign, a leading '+'
 * for positive values (deltas). */
void results_compare_fmt(char *buf, size_t len, double v, bool duration, bool sign);

/* Whether a metric is measured in seconds and reads best as a duration: latencies, ages, dead
 * time, waits, the simulated end (the same rule as the human report's expect lines). */
bool results_compare_is_duration(const char *metric);

typedef struct results_threshold {
    char text[512];      /* as given */
    char metric[256];
    double amount;       /* >= 0: a fraction (0.1 for 10%), or an absolute amount (seconds for durations) */
    bool relative;
    int sign;            /* +1: B may not rise above the bound; -1: B may not fall below it */
} results_threshold;

/*
 * Parses "METRIC +10%" (see the top of this file). 0, or -EINVAL with err saying what is wrong:
 *   "'latency.p95 10%': the change must start with + or - (+10% allows B to be at most 10% above A)"
 */
int results_threshold_parse(const char *text, results_threshold *t, char *err, size_t errlen);

/* The outcome of one threshold. */
typedef struct results_threshold_result {
    char text[512];       /* the threshold as given */
    char metric[256];
    double a, b, bound;   /* NaN when a run has no value */
    bool crossed;
    char message[1024];   /* what was found, for the terminal and the report */
} results_threshold_result;

/*
 * Checks t against the summaries. 0 (out filled; out->crossed says whether it failed), or -ENOENT
 * when the metric names nothing in either summary, -EINVAL when it names something that is not a
 * number: err then says so and suggests the nearest metric.
 */
int results_threshold_check(const results_threshold *t, const json_t *a, const json_t *b, results_threshold_result *out,
                            char *err, size_t errlen);

/*
 * The side-by-side table: metric, A, B, delta, relative delta; aligned, rows with no value in
 * either run left out. color: ANSI colour for deltas (green better, red worse) - only on a terminal.
 */
void results_compare_print(FILE *out, const results_compare *c, const char *name_a, const char *name_b, bool color);

#endif
