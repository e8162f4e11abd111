/*
 * results_expect - checks a scenario's `expect:` assertions against the run's summary.
 *
 * A metric is a dotted path into summary.json ("receivers.orange.replies.421"). Two shorthands
 * (docs/results.md): a first component that names a class stands for classes.<name>
 * ("transactional.latency.p95"), one that names a receiver for receivers.<name>
 * ("orange.sessions.peak"). A top-level key of the summary wins over a class of the same name, and
 * a class over a receiver. Numeric components ("421") are object keys, or indexes into arrays.
 * Names that contain dots (destinations are "smtp:mx.example.test") are matched whole: at each
 * level the longest run of components that names a key is taken first.
 *
 * Comparisons are exact except == and !=, which allow a relative 1e-9 so that a figure computed by
 * a different summation order still equals what was written. true/false count as 1/0.
 *
 * A metric that does not resolve fails its assertion with a message that names the line and the
 * nearest existing metric:
 *   expect line 12: unknown metric 'transactional.latncy.p95' (did you mean 'transactional.latency.p95'?)
 */
#ifndef RESULTS_EXPECT_H
#define RESULTS_EXPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "scenarios/scenario.h"

typedef struct results_expect_result {
    double value;     /* the metric's value; NaN when it has none */
    bool pass;
    char error[512];  /* "" when the metric resolved to a number; else why it did not */
} results_expect_result;

/* "<", "<=", ">", ">=", "==", "!=" */
const char *results_expect_op_name(scenario_expect_op op);
bool results_expect_compare(scenario_expect_op op, double value, double bound);

/*
 * Resolves metric to a number. 0; -ENOENT: no such path; -EINVAL: the path names something that
 * is not a number (an object, a string); -ENODATA: it is null (no value in this run, e.g. the
 * latency of a class that delivered nothing).
 */
int results_expect_resolve(const json_t *summary, const char *metric, double *value);

/* The existing numeric metric nearest to metric (edit distance, shorthand forms included), if one
 * is close enough to be a plausible typo. 0 and buf filled, or -ENOENT. */
int results_expect_suggest(const json_t *summary, const char *metric, char *buf, size_t len);

/*
 * Evaluates items[0..n) into out[0..n) and stores the results in summary's "expect" array
 * (replacing it): { "assertion": text, "value": number or null, "pass": bool, ["error": text] }.
 * Returns the number of assertions that failed (errors included), or -ENOMEM.
 */
int results_expect_eval(json_t *summary, const scenario_expect *items, size_t n, results_expect_result *out);

#endif
