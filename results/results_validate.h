/*
 * results_validate - the agreement between simulated runs and real replays of one scenario, on the
 * figures a retry storm is made of (`tempfail validate`, docs/validation.md).
 *
 * Figures, each read from summary.json (the same names in both worlds):
 *   421s            the 421 replies of every receiver (receivers.*.replies.421, summed)
 *   first_attempt   messages.first_attempt_deferral_rate
 *   suspended       deferrals.suspended: "delivery temporarily suspended" (dead destination)
 *   drain           queue.drained_at: when the last message left
 *   p50, p95        latency.p50, latency.p95 (every class)
 *   peak_sessions   receivers.*.sessions.peak, the largest over the receivers
 * For each: mean, standard deviation, min and max over the simulated runs (several seeds), the mean,
 * min and max over the replays (a real Postfix varies from run to run), and the relative difference
 * (replay - simulation) / simulation. A figure with a tolerance passes when |difference| <=
 * tolerance; when the simulation's mean is 0, the replay's must be 0 too. A tolerance may instead be
 * absolute, in percentage points ("first_attempt=5pp"): |replay - simulation| <= 0.05, for a rate. A figure missing from either side with a tolerance fails: a check that cannot be
 * made must not pass.
 */
#ifndef RESULTS_VALIDATE_H
#define RESULTS_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define RESULTS_VALIDATE_NFIG 7

typedef struct results_validate_fig {
    const char *key;          /* "421s", "first_attempt", ... (the --tolerance names) */
    const char *what;         /* for people: "421 replies" */
    bool duration;            /* seconds */
    double sim_mean, sim_sd, sim_min, sim_max; /* NaN when no simulated run has it */
    double real_mean, real_min, real_max; /* NaN when no replay has it */
    size_t nsim, nreal;       /* runs that had the figure */
    double tolerance;         /* a fraction (0.25), or NaN: reported, not checked */
    bool absolute;            /* the tolerance bounds |replay - simulation| itself (percentage points) */
    double diff;              /* (real - sim) / sim; NaN when sim is 0 or a side is missing */
    bool pass;
} results_validate_fig;

typedef struct results_validate {
    results_validate_fig fig[RESULTS_VALIDATE_NFIG];
    size_t failed;            /* figures with a tolerance that failed */
} results_validate;

/* The figure keys, in table order, and the default tolerances (421s 25%, first_attempt 25%,
 * drain 20%; the others are reported). */
void results_validate_init(results_validate *v);
/* "421s=25%", "drain=0.2" or "first_attempt=5pp": sets a tolerance. 0, or -EINVAL with err naming the
 * key or value. */
int results_validate_tolerance(results_validate *v, const char *text, char *err, size_t errlen);
/* Computes every figure from the summaries. */
void results_validate_compute(results_validate *v, const json_t *const *sim, size_t nsim, const json_t *const *real,
                              size_t nreal);
/* One figure of one summary (NaN when absent), as compute reads it. */
double results_validate_value(const json_t *summary, const char *key);
/* The table, aligned, one line per figure, and a last line saying how many failed. */
void results_validate_print(FILE *out, const results_validate *v, size_t nsim, size_t nreal);
/* The table as JSON (for validation.json). */
json_t *results_validate_json(const results_validate *v);

#endif
