/*
 * harness_maillog - one line of a real Postfix log, as a record.
 *
 * Operators keep their mail logs in many shapes, and the same Postfix line sits behind all of them:
 *
 *   Dec  1 11:38:27 mx1 postfix/smtp[31998]: 3F2A1B00C4: to=<u@orange.test>, ...    syslog, journalctl -o short
 *   Dec 01 11:38:27 mx1 postfix/smtp[31998]: ...                                    Postfix's maillog_file
 *   2026-12-01T11:38:27.123456+00:00 mx1 postfix/smtp[31998]: ...                   rsyslog's RFC 3339 stamps
 *   2026-12-01T11:38:27+0000 mx1 postfix/smtp[31998]: ...                           journalctl -o short-iso
 *
 * The parser reads the stamp (a syslog stamp has no year: the caller says which; an ISO stamp's
 * offset is applied, so every time is UTC seconds since 1970), the host, the tag ANY/SERVICE[PID]
 * (any syslog_name: postfix, postfix-out, ...) and then the part Postfix itself wrote. Of that it
 * keeps what a delivery report is made of, as log_adhoc.c writes it:
 *
 *   QUEUEID: to=<RCPT>[, orig_to=<ADDR>], relay=R[, conn_use=N], delay=D[, delays=a/b/c/d][, dsn=X.Y.Z]
 *            [, tls=...], status=sent|deferred|bounced|expired (TEXT)
 *
 * (Postfix 2.x lines without delays= or dsn= parse too; unknown fields are stepped over), and the
 * queue manager's "QUEUEID: from=<S>, size=N, nrcpt=M (queue active)", "QUEUEID: removed" and
 * "QUEUEID: from=<S>, status=expired, returned to sender".
 *
 * A record also gets the simulator's reason key (models/smtp_client.c names them) from its reply
 * text, so a real log and a simulated run count deferrals under the same names: "421 greeting" for
 * "refused to talk to me: 421 ...", "421 rcpt" / "4xx rcpt" for "said: ... (in reply to RCPT TO
 * command)", "connect refused", "lost connection", "timeout", "suspended", ...
 *
 * Three answers: a record, "not a line of interest" (anything else a syslog holds, and Postfix's
 * own chatter: connect from, warnings, cleanup's message-id), or "malformed": the line claims to be
 * a Postfix delivery report (a tag and QUEUEID: to=<) but does not parse.
 */
#ifndef HARNESS_MAILLOG_H
#define HARNESS_MAILLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HARNESS_MAILLOG_SKIP = 0,  /* not a line of interest */
    HARNESS_MAILLOG_MALFORMED, /* looks like a delivery report, does not parse */
    HARNESS_MAILLOG_DELIVERY,  /* QUEUEID: to=<...>, ... status=... (...) */
    HARNESS_MAILLOG_QUEUED,    /* qmgr: QUEUEID: from=<...>, size=N, nrcpt=M (queue active) */
    HARNESS_MAILLOG_REMOVED,   /* qmgr: QUEUEID: removed */
    HARNESS_MAILLOG_EXPIRED,   /* qmgr: QUEUEID: from=<...>, status=expired, returned to sender */
    HARNESS_MAILLOG_FEEDBACK,  /* qmgr with destination_concurrency_feedback_debug = yes:
                                  "qmgr_queue_unthrottle: queue NAME: limit L window W success S
                                  failure F fail_cohorts C" (or qmgr_queue_throttle) */
} harness_maillog_kind;

typedef enum {
    HARNESS_MAILLOG_SENT = 0,
    HARNESS_MAILLOG_DEFERRED,
    HARNESS_MAILLOG_BOUNCED,
    HARNESS_MAILLOG_EXPIRED_RCPT, /* a to=<> line with status=expired: Postfix logs expiry once
                                     per message (qmgr, HARNESS_MAILLOG_EXPIRED), but such a line
                                     is read rather than called malformed */
    HARNESS_MAILLOG_NSTATUS
} harness_maillog_status;

/* Lines longer than this (without the newline) are malformed: no real Postfix line comes close,
 * since Postfix truncates its own log records to 2000 bytes of text. */
#define HARNESS_MAILLOG_LINE_MAX 8192

/* One parsed line. Strings are copied and truncated to their arrays (NUL-terminated); reply points
 * into the line given to the parser and holds reply_len bytes (not terminated). */
typedef struct harness_maillog_rec {
    harness_maillog_kind kind;
    int64_t when;            /* UTC seconds since 1970 */
    int32_t usec;            /* fraction of the second, when the stamp has one; else 0 */
    bool has_year;           /* an ISO stamp (a syslog one took the caller's year) */
    char host[64];           /* the syslog host field */
    char tag[64];            /* "postfix/smtp", "postfix-out/error", ... without [pid] */
    char queue_id[32];
    char rcpt[256];          /* to=<> */
    char orig_to[256];       /* orig_to=<>, "" without */
    char from[256];          /* from=<> (queued, expired) */
    char relay[256];         /* "mx1.orange.test[192.0.2.10]:25", "none" */
    char dsn[16];            /* "4.7.0"; "" on a Postfix 2.2 line */
    uint32_t conn_use;       /* 1 without conn_use= */
    bool has_delays;
    double delay;            /* delay=, seconds */
    double delays[4];        /* delays=a/b/c/d */
    uint64_t size;           /* queued: size= */
    uint32_t nrcpt;          /* queued: nrcpt= */
    harness_maillog_status status;
    /* feedback: the queue ("smtp:orange.test", "capped:[127.64.0.1]:2525" in relay), after one
     * feedback event: positive (unthrottle) or negative (throttle), and the window it left */
    bool positive;
    int32_t limit, window;   /* window 0: dead */
    double success, failure, fail_cohorts;
    const char *reason;      /* the simulator's reason key: "delivered", "421 greeting", ... */
    const char *reply;
    size_t reply_len;
} harness_maillog_rec;

/*
 * Parses line (len bytes, without the newline; it need not be NUL-terminated) into *r. A syslog
 * stamp has no year: year gives it (a caller reading a file across New Year moves it on). Returns
 * r->kind.
 */
harness_maillog_kind harness_maillog_parse(const char *line, size_t len, int year, harness_maillog_rec *r);

/* The reason key of a status and its reply text (the classification parse applies). */
const char *harness_maillog_reason(harness_maillog_status st, const char *reply, size_t len);

/* "sent", "deferred", "bounced", "expired". */
const char *harness_maillog_status_name(harness_maillog_status st);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12): no time zone, no locale. */
int64_t harness_maillog_days(int year, int month, int day);

#endif
