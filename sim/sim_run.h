/*
 * sim_run - run control: how long a run lasts, when statistics start, when samples are taken, and the
 * progress line.
 *
 * A run ends at the horizon (`duration:`), or with `until: drained` when nothing is left to do - no
 * arrival to come, no message in the system - but never later than the safety cap. Statistics before
 * the warm-up are discarded (the warm-up callback resets them). Samples are taken every sample_every
 * of simulated time. On a terminal, a progress line on stderr shows simulated time, % done, events/s and
 * the queue; it is erased at the end and never printed when stderr is not a terminal.
 */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim_calendar.h"

typedef struct sim_run_config {
    sim_time_t horizon;
    bool until_drained;
    sim_time_t drain_cap;     /* absolute simulated time limit with until_drained */
    sim_time_t warmup;        /* 0 = none */
    sim_time_t sample_every;  /* 0 = no samples */
    bool progress;            /* show the progress line (the caller checks isatty) */
    void *ctx;
    bool (*busy)(void *ctx);                        /* anything left to do? (drain) */
    void (*sample)(void *ctx, sim_time_t now);      /* at each sample instant */
    void (*warmup_end)(void *ctx, sim_time_t now);
    uint64_t (*queue)(void *ctx);                   /* for the progress line, and the guard below */
    uint64_t max_queue;       /* stop when queue() passes it (the run's memory guard); 0 = no guard */
} sim_run_config;

typedef struct sim_run_result {
    sim_time_t end;           /* simulated time the run stopped */
    uint64_t events;          /* model events run (samples and warm-up excluded) */
    bool drained;             /* with until_drained: it did drain */
    bool capped;              /* with until_drained: it hit the cap first */
    double wall;              /* wall-clock seconds */
    bool overflow;            /* stopped by max_queue, at end: the results are not a run's */
} sim_run_result;

void sim_run(sim_calendar *cal, const sim_run_config *cfg, sim_run_result *out);

#endif
