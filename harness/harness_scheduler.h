/*
 * harness_scheduler - a real Postfix's scheduler trace, from its log: the qmgr lines that
 * destination_concurrency_feedback_debug = yes adds (qmgr_queue.c, QMGR_LOG_WINDOW), one per
 * feedback event, as the rows of scheduler.csv a simulated run writes (results_scheduler.h), so the
 * two trajectories can be compared line by line.
 *
 * What the log says: the queue, whether the event was positive (qmgr_queue_unthrottle) or negative
 * (qmgr_queue_throttle), and the window, success, failure and fail_cohorts it left. What it does not
 * say is derived or left empty: the window before (the queue's previous line; empty for its first),
 * busy and todo (empty). The cause is "success" or "failure", or "revived" for a positive event that
 * brings a dead queue (window 0) back. The stamp has whole seconds only: times are
 * (stamp - origin) * scale in the caller's clock (a replay's scenario time, or seconds since the
 * first line for `tempfail maillog --scheduler`).
 */
#ifndef HARNESS_SCHEDULER_H
#define HARNESS_SCHEDULER_H

#include <stdint.h>

#include "harness/harness_maillog.h"
#include "results/results_scheduler.h"
#include "sim/sim_time.h"

typedef struct harness_scheduler harness_scheduler;

/* Rows go to out (borrowed); a stamp t (seconds, as harness_maillog_parse reads it) is written at
 * (t - origin) * scale seconds. */
harness_scheduler *harness_scheduler_create(results_scheduler *out, double origin, double scale);
void harness_scheduler_free(harness_scheduler *h);
/* A parsed line of host's log (0-based); lines other than HARNESS_MAILLOG_FEEDBACK are ignored.
 * Returns 0 or the writer's -errno. */
int harness_scheduler_add(harness_scheduler *h, uint32_t host, const harness_maillog_rec *r);
/* Rows written. */
uint64_t harness_scheduler_rows(const harness_scheduler *h);

#endif
