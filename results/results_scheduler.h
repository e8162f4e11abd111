/*
 * results_scheduler - scheduler.csv, the scheduler trace: one row per feedback event of a
 * destination's concurrency window (mta_window_record), in the order they happened.
 *
 * Columns (docs/results.md):
 *   time,host,destination,cause,old_window,new_window,busy,todo,success,failure,fail_cohorts
 * The same facts Postfix's destination_concurrency_feedback_debug = yes logs (qmgr_queue.c), so a
 * simulated run's trace and a real Postfix's (tempfail maillog --scheduler, or a replay) can be
 * laid side by side line by line. A window of 0 is a dead destination. A real Postfix's log says
 * nothing of busy and todo, nor of the window before a queue's first event: those cells are empty
 * (old_window < 0, busy or todo RESULTS_SCHEDULER_UNKNOWN).
 */
#ifndef RESULTS_SCHEDULER_H
#define RESULTS_SCHEDULER_H

#include <stdint.h>
#include <stdio.h>

#include "models/mta_record.h"

#define RESULTS_SCHEDULER_UNKNOWN UINT32_MAX

typedef struct results_scheduler results_scheduler;

/* Writes to f (the caller closes it); the header goes out with the first row. NULL on ENOMEM. */
results_scheduler *results_scheduler_create(FILE *f);
void results_scheduler_free(results_scheduler *s);
/* One row. 0 or the sticky -errno of the stream. */
int results_scheduler_write(results_scheduler *s, const mta_window_record *r);
/* The header if no row was written, then flush. 0 or -errno. */
int results_scheduler_finish(results_scheduler *s);
/* An observer's `window` callback: ctx is a results_scheduler (errors surface at finish). */
void results_scheduler_observe(void *ctx, const mta_window_record *r);

#endif
