/*
 * harness_smtpd_events - testsmtpd's event log, read back as the receivers' columns of timeseries.csv.
 *
 * A replay's time series has to say what a simulated run's says about each receiver: sessions open,
 * busy and idle, at each sample instant, and the replies of each interval by class. testsmtpd logs
 * every session's "busy" and "idle" where its protocol engine changes state as the policy engine
 * counts it (testsmtpd/smtpd_log.h), so this reader counts sessions from those events alone and never
 * re-implements the engine: a session is open from its "busy" to its "close", busy or idle as its last
 * such event said; one refused before its policy saw it (connect, reply, close) is never open, as the
 * policy never counted it either.
 *
 * Replies: every "reply" event, the greeting included, by the code its text starts with, in the
 * classes of results_reply_class (results_timeseries.h), as a simulated run sorts the policy's
 * replies_by_code: 2xx (200-299), 421, other 4xx, 5xx; 1xx and 3xx (the 354 to DATA) are in none.
 * A reply the policy decided but that never went out (a tarpitted one dropped by a timeout or a
 * close) is in testsmtpd's counters and not in its log.
 *
 * Sampling uses the log's own clock "t" (seconds since testsmtpd started): a sample at every multiple
 * of `every` from 0, each showing every event with t <= its instant, replies counted since the
 * previous sample. The caller names the receivers (the scenario's, in its order: the column order);
 * a line about another receiver is an error, as are a malformed line, a line longer than
 * HARNESS_SMTPD_EVENTS_LINE_MAX, t going back, and busy/idle/connect events that contradict each
 * other. Errors name the line number.
 *
 * A replay runs faster than the scenario: harness_smtpd_events_clock maps the log's clock to the
 * caller's (scenario time = offset + t * scale), and sampling then happens in the caller's clock.
 *
 * Totals for summary.json (harness_smtpd_events_totals), per receiver, as the policy engine counts
 * them in a simulated run: connections ("connect" events), refused (sessions whose first reply is
 * 4xx/5xx, or that close silently before any reply), messages and recipients accepted (a 2xx reply
 * to the end of data, after a "message" event; the 2xx replies to RCPT TO of that transaction),
 * replies by code, refusals by the "rule" a reply names, the peaks of sessions open (all, busy,
 * idle) at any event and their time average.
 *
 * Memory: the receivers and the sessions open at once (an open-addressing table keyed by session id).
 */
#ifndef HARNESS_SMTPD_EVENTS_H
#define HARNESS_SMTPD_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "results/results_timeseries.h"
#include "sim/sim_stat.h"
#include "sim/sim_time.h"

/* testsmtpd writes lines of at most 8192 bytes with the newline (smtpd_log.c, SMTPD_LOG_LINE). */
#define HARNESS_SMTPD_EVENTS_LINE_MAX 8192

/* Reply classes and the columns per receiver are the run directory's (results_timeseries.h). */
#define HARNESS_SMTPD_NCLASS RESULTS_REPLY_NCLASS
#define HARNESS_SMTPD_EVENTS_NCOLS RESULTS_RECEIVER_NCOLS

/* One receiver at one sample instant. */
typedef struct harness_smtpd_counts {
    uint64_t busy, idle;                      /* sessions open at the instant */
    uint64_t replies[HARNESS_SMTPD_NCLASS];   /* since the previous sample */
} harness_smtpd_counts;

/* Called at each sample instant with one harness_smtpd_counts per receiver, in the caller's order. */
typedef void (*harness_smtpd_sample_fn)(void *ctx, sim_time_t t, const harness_smtpd_counts *c, size_t n);

typedef struct harness_smtpd_events harness_smtpd_events;

/* names: the receivers (copied); every > 0. */
harness_smtpd_events *harness_smtpd_events_create(const char *const *names, size_t n, sim_time_t every,
                                                  harness_smtpd_sample_fn fn, void *ctx);
void harness_smtpd_events_free(harness_smtpd_events *ev);

/* Maps the log's t (seconds) to offset + t * scale in the caller's clock (scale > 0), which the
 * samples and the totals' time average use. Call it before the first line; without it, offset 0 and
 * scale 1. A line mapped before 0 counts in the sample at 0. */
void harness_smtpd_events_clock(harness_smtpd_events *ev, sim_time_t offset, double scale);

/* A receiver's refusals decided by one rule (the event's "rule"). */
typedef struct harness_smtpd_rule_count {
    char name[48];
    uint64_t n;
} harness_smtpd_rule_count;

/* One receiver's figures over the whole log. */
typedef struct harness_smtpd_totals {
    uint64_t connections, refused, messages, recipients;
    uint64_t replies_by_code[600];            /* replies whose code is 200..599 */
    harness_smtpd_rule_count *rules;          /* in first-seen order */
    size_t nrules;
    uint64_t peak, peak_busy, peak_idle;      /* sessions open at once */
    sim_tavg sessions;                        /* sessions open over time (caller's clock, from 0) */
} harness_smtpd_totals;

/* Receiver i's totals (i < n of create); valid until free. */
const harness_smtpd_totals *harness_smtpd_events_totals(const harness_smtpd_events *ev, size_t i);

/*
 * One line of the log (without or with its '\n'); counts the line. Samples due before its t are
 * taken first. Returns 0, or -EINVAL with "line N: why" in err (cap bytes).
 */
int harness_smtpd_events_line(harness_smtpd_events *ev, const char *line, size_t len, char *err, size_t cap);
/* Every line of f. 0, -EINVAL (err as above) or a negative errno from reading. */
int harness_smtpd_events_read(harness_smtpd_events *ev, FILE *f, char *err, size_t cap);
/* Takes the samples due up to end (inclusive): the end of the replay. */
void harness_smtpd_events_finish(harness_smtpd_events *ev, sim_time_t end);

/*
 * The receivers' columns of timeseries.csv, named as a simulated run names them; returns the index
 * of the first (the caller adds its own columns around them in docs/results.md's order), or the
 * negative errno of results_timeseries_add_column.
 */
int harness_smtpd_events_add_columns(results_timeseries *ts, const char *const *names, size_t n);
/* Sets those columns, from col0, from a sample's counts. */
void harness_smtpd_events_set(results_timeseries *ts, size_t col0, const harness_smtpd_counts *c, size_t n);

#endif
