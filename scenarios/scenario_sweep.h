/*
 * scenario_sweep - the axes of a sweep (`tempfail sweep --vary KEY=VALUES`): each is a `--set` key
 * and the values it takes, and the points of the sweep are every combination of them (a grid) or the
 * i-th value of every axis together (a zip). VALUES is a comma-separated list whose items are values
 * or ranges: a value as `--set` takes it ("3", "1/concurrency", "{dist: lognormal, ...}": commas
 * inside brackets, braces or quotes do not separate items), an integer range "1..8", or a range with
 * a step of numbers, durations or rates ("0.1..0.5/0.1", "60s..600s/60s", "10/s..50/s/10/s"), both
 * ends included. A range's values are written back in the units the scenario reads (seconds, per
 * second), so each point is a list of plain `--set KEY=VALUE` overrides.
 */
#ifndef SCENARIO_SWEEP_H
#define SCENARIO_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCENARIO_SWEEP_MAX_VALUES 100000   /* per axis */
#define SCENARIO_SWEEP_MAX_POINTS 1000000  /* per sweep */

typedef struct scenario_sweep_axis {
    char *key;
    char **values;
    size_t nvalues;
} scenario_sweep_axis;

/*
 * A whole sweep, as a scenario's `sweep:` block writes it (docs/sweeps.md) or the command line
 * (--vary, --zip, --replications, --until-ci, --minimize) says it:
 *   sweep:
 *     vary: { mta.transports.orange.destination_concurrency_limit: 1..6, KEY: [yes, no] }
 *     zip: false
 *     replications: 5
 *     until_ci: { metric: transactional.latency.p95, width: 5s, max: 50 }
 *     minimize: transactional.latency.p95
 */
typedef struct scenario_sweep {
    scenario_sweep_axis *axes;
    size_t naxes;
    bool zip;
    uint32_t replications;  /* 0: not said (the command's default) */
    char *until_metric;     /* until_ci: the figure (an expect: metric name); NULL: none */
    double until_width;     /* ... the full width its 95% interval must come under, in the metric's unit */
    uint32_t until_max;     /* ... the most replications a point gets; 0: not said */
    char *minimize;         /* tune's figure; NULL: not said */
} scenario_sweep;

#define SCENARIO_SWEEP_MAX_REPLICATIONS 100000

/* Appends axis a (moved: *a is left empty) to s. */
void scenario_sweep_add_axis(scenario_sweep *s, scenario_sweep_axis *a);
/* "METRIC=WIDTH" (--until-ci) into s's until_metric and until_width; 0, or -1 with a message. */
int scenario_sweep_until_parse(const char *arg, scenario_sweep *s, char *err, size_t errlen);
/* Frees what s holds and empties it (s itself is the caller's). */
void scenario_sweep_clear(scenario_sweep *s);

/* Parses "KEY=VALUES" into *out; 0, or -1 with a message in err that names the item at fault. */
int scenario_sweep_axis_parse(const char *arg, scenario_sweep_axis *out, char *err, size_t errlen);
void scenario_sweep_axis_free(scenario_sweep_axis *a);

/* How many points the axes make: the product of their lengths (a grid) or their common length (a
 * zip); 0 with a message in err when a zip's axes differ in length, a key is varied twice, or the
 * sweep would pass SCENARIO_SWEEP_MAX_POINTS. */
size_t scenario_sweep_npoints(const scenario_sweep_axis *axes, size_t naxes, bool zip, char *err, size_t errlen);

/* Point p's value index on every axis (idx[naxes]); in a grid the last axis varies fastest. */
void scenario_sweep_point(const scenario_sweep_axis *axes, size_t naxes, bool zip, size_t p, size_t *idx);

#endif
