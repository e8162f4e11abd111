/*
 * results_maillog - the run's mail log, in Postfix 3.7's own format.
 *
 * Operators read mail logs with pflogsumm, grep and awk; a simulated run (and a replay) writes
 * lines those habits work on unchanged:
 *
 *   Jan  1 00:05:00 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>,
 *     relay=mx1.orange.test[192.0.2.10]:25, conn_use=2, delay=300, delays=0.01/0/0.06/0, dsn=4.7.0,
 *     status=deferred (host mx1.orange.test[192.0.2.10] said: 421 4.7.0 ... (in reply to RCPT TO command))
 *
 * (one line). Fields and their order are those of Postfix's log_adhoc(); conn_use appears only for
 * a reused connection; delay and the four delays are printed as Postfix prints them: at most two
 * significant digits below 10s, whole seconds from 10s, two decimals at most, trailing zeros
 * dropped ("0", "0.01", "0.12", "1.3", "12", "300"). Timestamps are syslog's ("Jan  1 00:05:00",
 * day padded with a space): the epoch (default 2026-01-01 00:00:00 UTC) plus simulated time.
 *
 * Expiry follows Postfix too: when maximal_queue_lifetime is reached the queue manager logs once
 * per message "QUEUEID: from=<SENDER>, status=expired, returned to sender", not one line per
 * recipient. An MTA_STATUS_EXPIRED attempt record therefore writes that line, once for a run of
 * records with the same host and queue id, with the writer's configured sender; a caller that
 * knows each message's sender calls results_maillog_expired() instead.
 */
#ifndef RESULTS_MAILLOG_H
#define RESULTS_MAILLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/mta_record.h"
#include "sim/sim_time.h"

/* 2026-01-01 00:00:00 UTC, in seconds since 1970. */
#define RESULTS_MAILLOG_EPOCH INT64_C(1767225600)

typedef struct results_maillog_opts {
    int64_t epoch;        /* wall-clock seconds (UTC) of simulated time 0 (a scenario's start:) */
    uint32_t qmgr_pid;    /* process id shown on postfix/qmgr lines (per host: the same) */
    const char *sender;   /* envelope sender for expiry lines from attempt records */
} results_maillog_opts;

/* epoch RESULTS_MAILLOG_EPOCH, qmgr_pid 1000, sender TRAFFIC_DEFAULT_SENDER (models/traffic.h). */
results_maillog_opts results_maillog_defaults(void);

typedef struct results_maillog results_maillog;

/* Writes to f (the caller closes it). opts NULL means the defaults; strings are copied. */
results_maillog *results_maillog_create(FILE *f, const results_maillog_opts *opts);
void results_maillog_free(results_maillog *l);

/* A delivery attempt's line. Returns 0 or -errno (sticky: the first error is kept). */
int results_maillog_attempt(results_maillog *l, const mta_attempt_record *r);
/* qmgr's "QUEUEID: from=<SENDER>, size=N, nrcpt=M (queue active)" when a message enters the
 * active queue. */
int results_maillog_arrival(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id,
                            const char *sender, uint64_t size, uint32_t nrcpt);
/* qmgr's "QUEUEID: removed" when the last recipient is done. */
int results_maillog_removed(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id);
/* qmgr's "QUEUEID: from=<SENDER>, status=expired, returned to sender". */
int results_maillog_expired(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id,
                            const char *sender);
/* Flushes. 0 or the first -errno. */
int results_maillog_finish(results_maillog *l);

/* An observer's `attempt` callback: ctx is a results_maillog (errors surface at finish). */
void results_maillog_observe(void *ctx, const mta_attempt_record *r);

/* The pieces, for tests and for the replay harness's parser to check itself against. All return
 * the length like snprintf. */
/* "Jan  1 00:05:00" */
int results_maillog_format_stamp(char *buf, size_t len, int64_t epoch, sim_time_t when);
/* A duration as Postfix's delay= (negative as 0). */
int results_maillog_format_delay(char *buf, size_t len, sim_time_t d);
/* The whole attempt line without the newline (an expired record gives the qmgr expiry line). */
int results_maillog_format_attempt(char *buf, size_t len, const results_maillog_opts *opts,
                                   const mta_attempt_record *r);

#endif
