/*
 * msg_live - what every sender keeps of a message while it is in the system, and what it reports of
 * it: the Postfix model (mta.c) and the application pool (apppool.c) alike.
 *
 * A sender embeds a msg_live in its own message type and keeps its live messages on a msg_live_list
 * in arrival order, so the oldest is at the head (the "oldest message" figure) and everything still
 * queued at the end of a run can be reported. The two reports - one attempt record per recipient per
 * delivery attempt, one message record when a message leaves - are filled here from these fields, so
 * both senders write the very same results.
 */
#ifndef MSG_LIVE_H
#define MSG_LIVE_H

#include <stdint.h>

#include "models/mta.h"

typedef struct msg_live {
    uint64_t id, tag, resend_of;
    sim_time_t arrival;
    struct msg_live *lprev, *lnext; /* the live list, oldest first */
    uint32_t size, nrcpt, resend_no;
    uint32_t attempts;              /* delivery attempts so far */
    uint16_t cls;
    /* The sender's own bookkeeping, kept here where it fills what would be padding (a Postfix queue
     * file stays at 104 bytes plus its recipients): */
    uint8_t state;                  /* where the message is */
    uint32_t pending;               /* recipients of the current pass not yet done */
} msg_live;

typedef struct msg_live_list {
    msg_live *head, *tail;
} msg_live_list;

/* Fills m from the generated message (tag as the world gave it; arrival now) and appends it. */
void msg_live_add(msg_live_list *l, msg_live *m, const traffic_msg *tm, uint64_t tag, sim_time_t now);
void msg_live_remove(msg_live_list *l, msg_live *m);
/* Arrival of the oldest live message, SIM_TIME_NEVER when none. */
sim_time_t msg_live_oldest(const msg_live_list *l);

/* Hands r to the attempt hook, for recipient ri (whose domain is `domain`) of m, sent from `host`:
 * fills the queue id, recipient address (only when the hook reads text), host, arrival and class. */
void msg_live_attempt(const mta_env *env, uint32_t host, const msg_live *m, uint32_t ri, const char *domain,
                      mta_attempt_record *r);
/* Hands the message record to the done hook: the message left with `outcome` at now (or is still
 * queued: MTA_OUTCOME_QUEUED). first_domain is its first recipient's domain. */
void msg_live_done(const mta_env *env, uint32_t host, const msg_live *m, const char *first_domain, sim_time_t now,
                   mta_outcome outcome);

#endif
