/*
 * harness_maillog_stats - what operators dig out of a Postfix log by hand, counted.
 *
 * Fed records from harness_maillog (or whole files, plain or gzip-compressed, through zlib, which
 * reads both), it keeps: every delivery attempt by status under its reason key, its recipient
 * domain, its relay and the host that logged it; the delay= of every sent recipient (latency
 * percentiles); conn_use (how often a cached connection was reused); attempts per minute; and,
 * per message (host + queue id: queue ids are unique per host only), which recipients are still
 * deferred, so that at the end of the log the queue that is left and its age can be told.
 *
 * The age of a message still deferred at the end is the delay= of its last deferral plus the time
 * from that line to the log's last line: Postfix's delay= counts from arrival, so no arrival line
 * is needed, and a log that starts in the middle of an incident still gives the right ages.
 *
 * Memory grows with the distinct keys and the messages still open, not with the lines: a message
 * is forgotten when qmgr logs "removed" (or its expiry), or when its last deferred recipient is
 * delivered. Latency keeps one double per delivered recipient.
 */
#ifndef HARNESS_MAILLOG_STATS_H
#define HARNESS_MAILLOG_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/harness_maillog.h"

/* One row of a count table: key and attempts by status. */
typedef struct harness_maillog_count {
    char *key;
    uint64_t n[HARNESS_MAILLOG_NSTATUS];
    uint64_t total;
} harness_maillog_count;

/* A table of counts by string key, in first-seen order (sort a copy to present it). */
typedef struct harness_maillog_table {
    harness_maillog_count *row;
    size_t n, cap;
    size_t *slot; /* open addressing: index + 1, 0 empty */
    size_t nslot;
} harness_maillog_table;

/* How many malformed lines are kept as "FILE:LINE" for the caller to report. */
#define HARNESS_MAILLOG_BAD_KEEP 5

typedef struct harness_maillog_stats {
    uint64_t lines, skipped, malformed, too_long;
    uint64_t attempts;                        /* delivery lines */
    uint64_t by_status[HARNESS_MAILLOG_NSTATUS];
    uint64_t queued, removed, expired;        /* qmgr lines */
    int64_t first, last;                      /* UTC seconds of the first and last record (0 without) */
    harness_maillog_table reasons, domains, relays, hosts, minutes;
    double *sent_delay;                       /* delay= of each sent recipient */
    size_t nsent, sent_cap;
    uint64_t *conn_use;                       /* conn_use[k]: attempts over a connection's k-th use */
    size_t conn_use_n;                        /* entries of conn_use (the largest k seen + 1) */
    char bad[HARNESS_MAILLOG_BAD_KEEP][512];  /* the first malformed lines, "FILE:LINE" */
    size_t nbad;
    struct harness_maillog_msgs *msgs;        /* open messages (private) */
    /* Called with every record _add counts (when set), for a caller that keeps more. */
    void (*observe)(void *ctx, const harness_maillog_rec *r);
    void *observe_ctx;
} harness_maillog_stats;

harness_maillog_stats *harness_maillog_stats_create(void);
void harness_maillog_stats_free(harness_maillog_stats *st);

/* Counts one record (any kind: a skipped or malformed one is counted as such). */
void harness_maillog_stats_add(harness_maillog_stats *st, const harness_maillog_rec *r);

/*
 * Reads a log file (gzip-compressed or not) line by line and counts each. year is the year of a
 * syslog stamp on the first line; a stamp that goes back by more than half a year moves it on
 * (a log across New Year). Returns 0, -ENOENT and the like from stat/open, -EISDIR for a directory,
 * -EINVAL for another kind of file, -EIO for a read or decompression error.
 */
int harness_maillog_stats_read(harness_maillog_stats *st, const char *path, int year);

/* The open messages with a recipient still deferred, and their ages (seconds, ascending) in a
 * new array the caller frees (NULL when none). */
size_t harness_maillog_stats_queue(const harness_maillog_stats *st, double **ages);

/* The q-quantile (0..1, nearest rank) of n sorted values; 0 when n is 0. */
double harness_maillog_quantile(const double *sorted, size_t n, double q);

/* Sorts sent_delay ascending (the percentiles read it sorted). */
void harness_maillog_stats_sort(harness_maillog_stats *st);

/* The row of key, added (zeroed) when new; rows keep their index (row - t->row) for good, so a
 * caller may keep data of its own beside them. */
harness_maillog_count *harness_maillog_table_get(harness_maillog_table *t, const char *key);
void harness_maillog_table_free(harness_maillog_table *t);

/* "2026-12-01 11:38" (UTC), with ":27" when seconds. */
void harness_maillog_format_time(char *buf, size_t len, int64_t when, bool seconds);

/* A copy of a table's rows ordered by total descending, then key ascending (free it; keys are the
 * table's). */
harness_maillog_count *harness_maillog_table_sorted(const harness_maillog_table *t);

#endif
