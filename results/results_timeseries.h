/*
 * results_timeseries - timeseries.csv: a "time" column, then columns that the caller names.
 *
 * Which columns exist depends on the scenario (one group per receiver, one per destination), so
 * they are added by name at start-up, before the first row; docs/results.md fixes their order and
 * the caller adds them in that order. A row is the sample time and one double per column; NaN is an
 * empty cell ("no value"), which plotting tools show as a gap rather than a zero.
 */
#ifndef RESULTS_TIMESERIES_H
#define RESULTS_TIMESERIES_H

#include <stddef.h>
#include <stdio.h>

#include "sim/sim_time.h"

typedef struct results_timeseries results_timeseries;

/* Writes to f (the caller closes it). NULL if out of memory. */
results_timeseries *results_timeseries_create(FILE *f);
void results_timeseries_free(results_timeseries *ts);

/*
 * Adds a column; returns its index (0 = the first after "time"), -EEXIST for a name already used
 * (including "time"), -ENOMEM. Adding after the first row is a broken invariant (abort).
 */
int results_timeseries_add_column(results_timeseries *ts, const char *name);

/* A receiver's columns, simulated or replayed alike: R.sessions.busy, R.sessions.idle, then its
 * replies in the interval by class, R.replies.2xx, .421, .4xx (other 4xx), .5xx. */
enum { RESULTS_REPLY_2XX, RESULTS_REPLY_421, RESULTS_REPLY_4XX, RESULTS_REPLY_5XX, RESULTS_REPLY_NCLASS };
#define RESULTS_RECEIVER_NCOLS (2 + RESULTS_REPLY_NCLASS)
/* The class of a reply code, or -1 for none (1xx, 3xx: the 354 to DATA, nonsense). */
int results_reply_class(int code);
/* Adds receiver name's columns; returns the first one's index, or a negative errno. */
int results_timeseries_add_receiver(results_timeseries *ts, const char *name);
size_t results_timeseries_ncolumns(const results_timeseries *ts);
/* Index of a column by name, or -1. */
int results_timeseries_column(const results_timeseries *ts, const char *name);

/* Sets one value of the row being built; the values start as NaN and reset after each row. */
void results_timeseries_set(results_timeseries *ts, size_t col, double v);
/* Writes the row being built at time t (the header first, before the first row). 0 or -errno. */
int results_timeseries_row(results_timeseries *ts, sim_time_t t);
/* Writes a row from an array; n must be the column count (else abort). 0 or -errno. */
int results_timeseries_row_values(results_timeseries *ts, sim_time_t t, const double *v, size_t n);

/* Writes the header if no row was written, flushes. 0 or the first -errno. */
int results_timeseries_finish(results_timeseries *ts);

#endif
