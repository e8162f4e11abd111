/*
 * mta_record - what the sending side reports as it works: one record per recipient per delivery
 * attempt (a line of Postfix's mail log) and one per message when it leaves the system (a row of
 * messages.csv). The models only fill these and hand them to an observer; results/ writes them. Both
 * the Postfix model and the application pool produce them, and so will the replay harness from a real
 * Postfix log, which is what lets one results format serve every world.
 */
#ifndef MTA_RECORD_H
#define MTA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

typedef enum {
    MTA_STATUS_SENT,
    MTA_STATUS_DEFERRED,
    MTA_STATUS_BOUNCED,   /* a 5xx reply */
    MTA_STATUS_EXPIRED,   /* maximal_queue_lifetime reached: "status=expired, returned to sender" */
} mta_status;

/* One recipient's outcome of one delivery attempt. Strings are valid during the callback only. */
typedef struct mta_attempt_record {
    sim_time_t when;         /* when the outcome was known */
    uint32_t host;           /* MTA host index (0-based); logs as "mta1", "mta2", ... */
    const char *process;     /* "smtp", "error", "retry" (suspended destination), "qmgr" (expiry) */
    uint32_t pid;            /* simulated delivery-agent process id */
    const char *queue_id;    /* Postfix-style queue id, e.g. "3F2A1B00C4" */
    const char *rcpt;        /* "u17@orange.test" */
    const char *relay;       /* "mx1.orange.test[192.0.2.10]:25", or "none" */
    uint32_t conn_use;       /* 1 = fresh connection, n = its nth use (logged when > 1) */
    sim_time_t arrival;      /* message arrival: delay = when - arrival */
    /* Postfix delays=a/b/c/d: a before the active queue, b in the active queue until the agent
     * started, c connection set-up (DNS, connect, greeting, EHLO, TLS), d transmission. Seconds. */
    double delays[4];
    const char *dsn;         /* "2.0.0", "4.7.0", ... */
    mta_status status;
    const char *reply;       /* text inside the parentheses: "250 2.0.0 Ok: queued as ABC",
                                "host mx1.orange.test[192.0.2.10] said: 421 4.7.0 ... (in reply to RCPT TO command)",
                                "delivery temporarily suspended: ...", "connect to ...: Connection timed out" */
    const char *reason_key;  /* short key for statistics: "delivered", "421 greeting", "4xx rcpt", "suspended", ... */
    const char *destination; /* the scheduler's queue, "smtp:orange.test" */
    uint32_t cls;            /* class of the message */
} mta_attempt_record;

typedef enum {
    MTA_OUTCOME_DELIVERED, /* every recipient accepted */
    MTA_OUTCOME_BOUNCED,   /* some recipient bounced or expired */
    MTA_OUTCOME_QUEUED,    /* still queued when the run ended */
} mta_outcome;

/* A message leaving the system (or still queued at the end). */
typedef struct mta_message_record {
    uint64_t msg_id;
    const char *queue_id;
    uint32_t host;
    uint32_t cls;            /* class index */
    const char *cls_name;
    const char *domain;      /* first recipient's domain */
    uint32_t nrcpt;
    uint32_t size;
    sim_time_t arrival;
    sim_time_t done;         /* last recipient delivered/bounced; SIM_TIME_NEVER when queued */
    mta_outcome outcome;
    uint32_t attempts;       /* delivery attempts (suspended-destination deferrals count) */
    uint64_t resend_of;      /* 0, or the id of the message this one re-sends */
    uint32_t resend_no;
} mta_message_record;

/*
 * One feedback event of a destination's concurrency window, as Postfix's
 * destination_concurrency_feedback_debug logs them (qmgr_queue.c: qmgr_queue_unthrottle and
 * qmgr_queue_throttle), and the other events that set a window: a queue made or made again, a
 * dead queue revived by its timer. The scheduler trace (scheduler.csv) is a row per record.
 */
typedef struct mta_window_record {
    sim_time_t when;
    uint32_t host;
    const char *destination; /* "smtp:orange.test" */
    const char *cause;       /* "success", "failure" (negative feedback), "new queue", "revived" */
    int32_t old_window, new_window; /* 0 = dead */
    uint32_t busy, todo;     /* entries in delivery (the reporting one included) and waiting */
    double success, failure, fail_cohorts; /* the feedback accumulators after the event */
} mta_window_record;

typedef struct mta_observer {
    void *ctx;
    void (*attempt)(void *ctx, const mta_attempt_record *r);
    void (*message)(void *ctx, const mta_message_record *r);
    void (*window)(void *ctx, const mta_window_record *r); /* NULL: no scheduler trace */
} mta_observer;

/* Postfix-looking queue id: ten hex digits derived from the sending host's index and the message id
 * (len >= 11). The same for every kind of sender, so logs and messages.csv join on it. */
void mta_record_queue_id(uint32_t host, uint64_t msg_id, char *buf, size_t len);
/* The recipient's address: "u<id>@domain" for the first, "u<id>.<i>@domain" after. Built by hand: the
 * policy asks for it at every RCPT. */
void mta_record_rcpt(uint64_t msg_id, uint32_t i, const char *domain, char *buf, size_t len);

const char *mta_status_name(mta_status s);   /* "sent", "deferred", "bounced", "expired" */
const char *mta_outcome_name(mta_outcome o); /* "delivered", "bounced", "queued" */

#endif
