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

/* An observer's `message` callback: ctx is a results_messages (errors surface at finish). */
void results_messages_observe(void *ctx, const mta_message_record *r);

#endif
