/*
 * results_messages - messages.csv, one row per message, from mta_message_record.
 *
 * Columns (docs/results.md):
 *   id,queue_id,host,class,domain,nrcpt,size,arrival,done,outcome,attempts,latency,resend_of,resend_no
 * host is the MTA's name as the mail log writes it ("mta1" for host 0), so rows join with maillog
 * lines and with a real replay's log. Times are seconds with microsecond precision; done and
 * latency are empty while the message is queued. outcome is "delivered", "bounced" or "queued".
 */
#ifndef RESULTS_MESSAGES_H
#define RESULTS_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "models/mta_record.h"

typedef struct results_messages results_messages;

/* Writes to f (the caller closes it); the header goes out with the first row. NULL on ENOMEM. */
results_messages *results_messages_create(FILE *f);
void results_messages_free(results_messages *m);

/* One row. Returns 0 or the sticky -errno of the stream. */
int results_messages_write(results_messages *m, const mta_message_record *r);
/* The header if no row was written, then flush. 0 or -errno. */
int results_messages_finish(results_messages *m);

/*
 * Figures both worlds derive from their message records by one rule, so a simulated run and a
 * replay compare (docs/results.md): a message counts from the end of the warm-up (it left at or
 * after `warmup`, or it is still queued). Its first attempt did not deliver it when it had an
 * attempt and not exactly one attempt that delivered it (attempts > 1, or one attempt and bounced
 * or still queued). drained_at is the last `done` of all messages, warm-up included.
 */
typedef struct results_messages_tally {
    sim_time_t warmup;
    uint64_t with_attempt;     /* counted messages with at least one attempt */
    uint64_t first_deferred;   /* of which the first attempt did not deliver */
    uint64_t queued;           /* messages still queued (any time) */
    sim_time_t last_done;      /* 0 until a message leaves */
} results_messages_tally;

void results_messages_tally_add(results_messages_tally *t, const mta_message_record *r);
/* Sets messages.first_attempt_deferred and .first_attempt_deferral_rate (null without a counted
 * attempt) in messages, and queue.drained_at (null while a message is queued) in queue. */
void results_messages_tally_json(const results_messages_tally *t, json_t *messages, json_t *queue);

/* An observer's `message` callback: ctx is a results_messages (errors surface at finish). */
void results_messages_observe(void *ctx, const mta_message_record *r);

#endif
