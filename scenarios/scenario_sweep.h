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

#define SCENARIO_SWEEP_MAX_VALUES 100000   /* per axis */
#define SCENARIO_SWEEP_MAX_POINTS 1000000  /* per sweep */

typedef struct scenario_sweep_axis {
    char *key;
    char **values;
    size_t nvalues;
} scenario_sweep_axis;

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
