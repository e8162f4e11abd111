/*
 * scenario_fixes - the `fixes:` block: this scenario is the fix of another one (an incident's
 * after.yaml fixes its before.yaml), and the figure the fix is about must be better by a stated
 * margin, seed for seed. `tempfail incident` runs both over seeds 1..N and checks it:
 *
 *   fixes:
 *     before: before.yaml               # the broken configuration, relative to this file
 *     metric: transactional.latency.p95 # the figure the story is about (an expect: metric)
 *     lower_by: 5x                      # after <= before / 5 in every seed; "60s": after <= before - 60
 *     seeds: 5                          # seeds 1..5 (the default)
 *
 * `higher_by` is the same for figures where more is better (deliveries). `tempfail run` ignores the
 * block, as it ignores `sweep:`.
 */
#ifndef SCENARIO_FIXES_H
#define SCENARIO_FIXES_H

#include <stdbool.h>
#include <stdint.h>

#define SCENARIO_FIXES_MAX_SEEDS 1000

typedef struct scenario_fixes {
    char *before;   /* as written: a path relative to the scenario's directory, or a library name */
    char *metric;
    bool higher;    /* higher_by: more is better */
    bool ratio;     /* by is a factor ("5x"), else a difference in the metric's unit */
    double by;
    uint32_t seeds; /* 1..seeds */
} scenario_fixes;

/* Whether after beats before by f's margin. */
bool scenario_fixes_holds(const scenario_fixes *f, double before, double after);
void scenario_fixes_clear(scenario_fixes *f);

#endif
