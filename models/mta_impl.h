/*
 * mta_impl - the Postfix host's internals, shared by its files (and their unit tests) and by nothing
 * else (like Postfix's qmgr.h). Who owns what, as in Postfix's queue manager:
 *
 *   mta.c          messages and the queues they sit in (incoming, active, deferred), activation,
 *                  backoff, the deferred-queue scan (qmgr_message.c, qmgr_active.c, qmgr_scan.c);
 *   mta_dest.c     the destination queues: their entry lists (only this file touches them), the
 *                  concurrency window and its feedback, dead destinations, rate delays, on-demand
 *                  caching, and each transport's round robin over its destinations (qmgr_queue.c,
 *                  qmgr_entry.c, qmgr_transport.c, qmgr_defer.c);
 *   mta_deliver.c  the delivery agents: one smtp_client request per entry, their reports, the
 *                  queue-file update after delivery (qmgr_deliver.c).
 *
 * The arrows: mta.c hands recipients to mta_dest_enqueue and wakes transports with
 * mta_dest_dispatch; mta_dest.c asks for agents with mta_deliver_alloc; a ready agent takes its
 * entry with mta_dest_agent_ready and reports back with mta_dest_feedback and mta_dest_entry_done;
 * when every recipient of a message's pass is done, mta_dest.c makes the one call back into mta.c,
 * mta_msg_pass_done. Every event of the queue manager's (an agent ready or done, a timer) first
 * calls mta_qmgr_wake.
 */
#ifndef MTA_IMPL_H
#define MTA_IMPL_H

#include "models/msg_heap.h"
#include "models/msg_live.h"
#include "models/mta.h"
#include "sim/sim_pool.h"

enum { RS_PENDING = 0, RS_DEFERRED, RS_DELIVERED, RS_BOUNCED };
enum { MS_INCOMING, MS_ACTIVE, MS_DEFERRED };

typedef struct mta_rcpt {
    uint16_t domain;
    uint8_t status;
} mta_rcpt;

/* A queue file. */
typedef struct mta_msg {
    msg_live c;                    /* identity, the live list, what reports need; c.state is an
                                      MS_* queue, c.pending this active-queue pass's recipients */
    sim_time_t active_since, next_try, disk_done;
    struct mta_msg *next;          /* incoming FIFO, scan list, disk FIFO */
    mta_rcpt rcpt[];
} mta_msg;

typedef struct mta_dest mta_dest;
typedef struct mta_transport_rt mta_transport_rt;

/* A delivery request: some recipients of one message for one destination (qmgr_entry). */
typedef struct mta_entry {
    mta_msg *msg;
    mta_dest *dest;
    struct mta_entry *next;
    uint32_t nrcpt, cap;
    uint16_t *rcpt; /* indices into msg->rcpt; kept across reuse */
} mta_entry;
/* Recipient indices of a message fit mta_entry.rcpt (models/traffic.h says why the limit is there). */
_Static_assert(TRAFFIC_MAX_RCPT - 1 <= UINT16_MAX, "mta_entry.rcpt cannot index every recipient of a message");

struct mta_dest {
    mta_dest_stats st;
    char *name, *nexthop;
    mta_transport_rt *tr;
    mta_transport_params p;   /* the transport's, resolved (mta_transport_params_resolve) */
    receiver *rcv;
    mta_queue_window w;
    mta_entry *todo_head, *todo_tail;
    uint32_t todo;
    mta_dest *rnext, *rprev;  /* ring of destinations with work, per transport */
    mta_dest *hnext;          /* the host's table of destinations by (transport, nexthop) */
    uint64_t hash;
    bool in_ring, suspended, conn_load, conn_store, cache_always;
    sim_time_t last_done, dns_expires, dead_since;
    sim_event dead_timer, rate_timer;
    char dead_reason[1024];
    smtp_conn *cache;
    mta_host *host;
};

/* Agents a transport may wait for at once (QMGR_TRANSPORT_MAX_PEND). */
#define MTA_TRANSPORT_MAX_PEND 2

struct mta_transport_rt {
    const mta_transport_config *cfg;
    uint32_t busy;
    uint32_t pending;         /* agents asked for, not yet ready (qmgr_transport_alloc) */
    mta_dest *ring;           /* the next destination to serve */
    uint32_t nring;
    sim_time_t next_start;    /* transport_rate_delay */
    sim_event rate_timer;
    uint64_t pass_mark;       /* the activation that last gave it work (mta.c) */
    mta_host *host;
};

struct mta_host {
    const mta_env *env;
    uint32_t index;
    char name[16];
    char *src_ip;
    gsl_rng *rng;
    smtp_client *client;
    latency_resource cpu, disk;
    mta_transport_rt *tr;
    size_t ntr;
    mta_dest **dests;         /* in order of creation */
    size_t ndests, dests_cap;
    mta_dest **dest_table;    /* hash buckets, a power of two */
    size_t dest_table_cap;
    mta_dest **dest_of;       /* per (class, global domain): [cls * dest_stride + domain] */
    size_t dest_stride;       /* 0 when no transport routes by sender (one row for every class) */
    /* queues */
    mta_msg *disk_head, *disk_tail; /* arriving: cleanup's CPU and fsync, in arrival order */
    sim_time_t arrival_done;  /* when the last arriving message's CPU stage ends */
    sim_event disk_ev;
    mta_msg *in_head, *in_tail;
    mta_msg *scan_head, *scan_tail;
    bool scan_again, feed_deferred_next, feeding;
    msg_heap deferred;        /* deferred/: by retry time */
    uint64_t n_incoming, n_active, n_deferred;
    msg_live_list live;
    sim_event scan_ev;
    sim_time_t scan_start;    /* its deferred-queue scans: scan_start + n * queue_run_delay */
    sim_time_t qmgr_wake;     /* when qmgr's event loop last woke up (mta_qmgr_wake) */
    sim_time_t scan_due;      /* a scan whose timer is due but whose loop still sleeps: its second */
    bool scan_late;           /* ... is waiting, for scan_late_ev or the loop's next event */
    sim_event scan_late_ev;
    sim_event master_ev;      /* master(8)'s wake-up of qmgr, every MTA_MASTER_WAKEUP of its seconds */
    struct scan_item *scan_buf; /* a scan's due files, in the order it visits them (mta.c) */
    size_t scan_cap;
    /* activation: the transports one message's pass gave work to, dispatched when it is placed */
    uint64_t passes;
    mta_transport_rt **touched;
    size_t ntouched, touched_cap;
    /* pools */
    sim_pool entries;         /* mta_dest.c */
    struct mta_deliver_pool *agents; /* mta_deliver.c */
};

/* mta.c */
/* Every recipient of this active-queue pass is done: the message leaves, or goes to deferred/. */
void mta_msg_pass_done(mta_host *h, mta_msg *m, sim_time_t now);
/* qmgr's event loop wakes up at now (an I/O event or a timer): a deferred-queue scan whose second has
 * come runs first (events.c delivers timers before I/O), and the wake-up is remembered (mta.c). */
void mta_qmgr_wake(mta_host *h, sim_time_t now);
/* Reports one recipient's attempt (r: everything but the message's own fields). */
void mta_msg_attempt(mta_host *h, const mta_msg *m, uint32_t ri, mta_attempt_record *r);

/* The host's cores: a request for `service` of CPU from now, done when it returns (an idle host wakes
 * up first: latency_cpu_acquire). */
static inline sim_time_t mta_cpu_work(mta_host *h, sim_time_t now, sim_time_t service)
{
    return latency_cpu_acquire(&h->cpu, &h->env->cfg->latency, h->rng, now, service);
}

/* mta_dest.c */
void mta_dest_transport_init(mta_transport_rt *tr, const mta_transport_config *cfg, mta_host *h);
mta_dest *mta_dest_find_or_create(mta_host *h, mta_transport_rt *tr, const char *nexthop, receiver *rcv);
/* Recipient ri of message m (being activated) goes to destination d: into the message's open entry
 * for d, or a new one at the end of d's todo list. A dead destination defers it at once, without a
 * connection ("delivery temporarily suspended"). Returns true when it was queued. */
bool mta_dest_enqueue(mta_dest *d, mta_msg *m, uint32_t ri, sim_time_t now);
/* qmgr_active_drain: while the transport's destinations have room in their windows for more
 * entries than it has agents pending (at most MTA_TRANSPORT_MAX_PEND, and busy + pending within
 * maxproc), it asks for another agent (mta_deliver_alloc). */
void mta_dest_dispatch(mta_transport_rt *tr, sim_time_t now);
/* qmgr_deliver: an agent of tr is ready. The next destination in turn with room in its window hands
 * it its first waiting entry, busy from now on; NULL when none has room any more (things changed
 * since the agent was asked for), and the agent goes back idle. */
mta_entry *mta_dest_agent_ready(mta_transport_rt *tr, sim_time_t now);
/* An agent finished entry e (qmgr_deliver_update): feedback to its destination, which is then no
 * longer busy with it. hop_failed with a reason is negative feedback; !hop_failed positive. */
void mta_dest_feedback(mta_entry *e, bool hop_failed, const char *reason, sim_time_t now);
/* The entry is done: its recipients leave this pass (maybe completing the message's), and the
 * transport may start the next one. */
void mta_dest_entry_done(mta_entry *e, sim_time_t now);
void mta_dest_free(mta_dest *d);
void mta_dest_pool_init(mta_host *h);
void mta_dest_pool_free(mta_host *h);

/* mta_deliver.c */
/* Asks master for an agent of transport tr (qmgr_transport_alloc): an idle process, or a new one
 * after its start-up; when it is ready it takes an entry (mta_dest_agent_ready) and delivers it. */
void mta_deliver_alloc(mta_transport_rt *tr, sim_time_t now);
void mta_deliver_pool_init(mta_host *h); /* after h->tr; process ids from 1001 + 10000 * host index */
/* smtp(8) processes spawned so far. */
uint64_t mta_deliver_spawned(const mta_host *h);
void mta_deliver_pool_free(mta_host *h);

/* The destination queue of recipient i of m: its (transport, nexthop), as trivial-rewrite resolved
 * the recipient's domain and the message's sender (mta_host_create). */
static inline mta_dest *mta_dest_of(const mta_host *h, const mta_msg *m, uint32_t i)
{
    return h->dest_of[m->c.cls * h->dest_stride + m->rcpt[i].domain];
}

#endif
