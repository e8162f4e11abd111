/*
 * results_json - deterministic JSON output (summary.json, manifest.json).
 *
 * jansson builds the tree; this module prints it: keys sorted bytewise, 2-space indent, one value
 * per line, reals through results_fmt_double (so 7200.0 prints as 7200 and 0.1 + 0.2 as 0.3, never
 * 1e+20 or 0.30000000000000004), a final newline. The same tree always gives the same bytes, which
 * is what lets two runs with one seed be compared with cmp(1).
 */
#ifndef RESULTS_JSON_H
#define RESULTS_JSON_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim_stat.h"

/* Writes v to f. Returns 0 or -errno (ENOMEM, or the stream's write error). */
int results_json_write(FILE *f, const json_t *v);

/* The same text in a malloc'd string (free it), NULL if out of memory. */
char *results_json_dumps(const json_t *v);

/* A real for the tree; NaN and infinities become null, which JSON can hold and jansson's reals
 * cannot. Never NULL unless out of memory. */
json_t *results_json_real(double v);
/* A count for the tree (jansson's integers are signed). */
json_t *results_json_count(uint64_t v);
/* A latency object of summary.json from a sketch: mean, p50, p95, p99, max (null when empty) and
 * count. A simulated run and a replay build theirs with this one function. */
json_t *results_json_latency(const sim_quantile *q);

#endif
