/*
 * mta_impl - the Postfix host's internals, shared by its files and by nothing else (like Postfix's
 * qmgr.h): mta.c (messages, the queues, activation, backoff, the deferred scan) and mta_dest.c (the
 * per-destination queues, the concurrency scheduler and the delivery agents).
 */
#ifndef MTA_IMPL_H
#define MTA_IMPL_H

#include "models/msg_heap.h"
#include "models/mta.h"

enum { RS_PENDING = 0, RS_DEFERRED, RS_DELIVERED, RS_BOUNCED };
enum { MS_INCOMING, MS_ACTIVE, MS_DEFERRED };


typedef struct mta_rcpt {
    uint16_t domain;
    uint8_t status;
} mta_rcpt;

typedef struct mta_msg {
    uint64_t id, tag, resend_of;
    sim_time_t arrival, active_since, next_try;
    struct mta_msg *next;          /* incoming FIFO, scan list, disk FIFO */
    struct mta_msg *lprev, *lnext; /* every live message, in arrival order (oldest first) */
    sim_time_t disk_done;
    uint32_t size, nrcpt, pending, resend_no;
    uint16_t attempts, cls;
    uint8_t state;
    mta_rcpt rcpt[];
} mta_msg;

typedef struct mta_dest mta_dest;
typedef struct mta_transport_rt mta_transport_rt;

typedef struct mta_entry {
    mta_msg *msg;
    mta_dest *dest;
    struct mta_entry *next;
    uint32_t nrcpt, cap;
    uint16_t *rcpt; /* indices into msg->rcpt */
} mta_entry;

/* A delivery agent at work on one entry. */
typedef struct mta_agent {
    smtp_request req;
    mta_host *host;
    mta_entry *entry;
    uint32_t pid;
    uint32_t cap;
    struct mta_agent *next_free;
    sim_event disk_ev;   /* the queue-file update after delivery, when the disk is modelled */
    bool hop_failed;
} mta_agent;

struct mta_dest {
    mta_dest_stats st;
    char *name, *nexthop;
    mta_transport_rt *tr;
    mta_transport_params p;   /* the transport's, with destination_rate_delay's limit of 1 applied */
    receiver *rcv;
    mta_queue_window w;
    mta_entry *todo_head, *todo_tail;
    uint32_t todo;
    mta_dest *rnext, *rprev;  /* ring of destinations with work, per transport */
    bool in_ring, suspended, conn_load, conn_store, cache_always;
    sim_time_t last_done, dns_expires, dead_since;
    sim_event dead_timer, rate_timer;
    char dead_reason[1024];
    smtp_conn *cache;
    mta_host *host;
};

struct mta_transport_rt {
    const mta_transport_config *cfg;
    uint32_t busy;
    mta_dest *ring;           /* the next destination to serve */
    uint32_t nring;
    sim_time_t next_start;    /* transport_rate_delay */
    sim_event rate_timer;
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
    mta_dest **dests;
    size_t ndests;
    mta_dest **dest_of;      /* per global domain */
    /* queues */
    mta_msg *disk_head, *disk_tail;
    sim_event disk_ev;
    mta_msg *in_head, *in_tail;
    mta_msg *scan_head, *scan_tail;
    bool scan_again, feed_deferred_next, feeding;
    msg_heap deferred;       /* deferred/: by retry time */
    uint64_t n_incoming, n_active, n_deferred;
    mta_msg *live_head, *live_tail;
    sim_event scan_ev;
    /* pools; every agent and entry ever allocated is also in `all`, for the final free */
    mta_agent *free_agents;
    mta_entry *free_entries;
    mta_agent **all_agents;
    mta_entry **all_entries;
    size_t nall_agents, nall_entries, all_agents_cap, all_entries_cap;
    uint32_t *free_pids;
    size_t nfree_pids, free_pids_cap;
    uint32_t next_pid;
};

/* mta.c: messages, queues, records, helpers */
/* Allocates a pooled object and remembers it so that mta_host_free can free those still in flight. */
void *mta_remember(void ***all, size_t *n, size_t *cap, size_t size);
void mta_queue_id(const mta_host *h, uint64_t id, char *buf, size_t len);
void mta_rcpt_address(const mta_host *h, const mta_msg *m, uint32_t i, char *buf, size_t len);
const char *mta_sender_of(const mta_host *h, uint32_t cls);
void mta_emit_attempt(mta_host *h, mta_msg *m, uint32_t ri, const char *process, uint32_t pid, const char *relay,
                      uint32_t conn_use, sim_time_t when, const double delays[4], const char *dsn, mta_status status,
                      const char *reply, const char *key, const mta_dest *d);
/* Every recipient of this active-queue pass is done: the message leaves, or goes to deferred/. */
void mta_msg_pass_done(mta_host *h, mta_msg *m, sim_time_t now);

/* mta_dest.c: destination queues, the scheduler, the delivery agents */
mta_dest *mta_dest_find_or_create(mta_host *h, mta_transport_rt *tr, const char *nexthop, receiver *rcv);
/* A new entry for message m on destination d; the caller links it into d's todo list. */
mta_entry *mta_dest_entry_new(mta_host *h, mta_msg *m, mta_dest *d);
void mta_dest_entry_add_rcpt(mta_entry *e, uint16_t ri);
void mta_dest_entry_free(mta_host *h, mta_entry *e);
void mta_dest_ring_add(mta_dest *d);
/* A dead destination's recipient is deferred by the retry service, without a connection. */
void mta_dest_defer_suspended(mta_host *h, mta_msg *m, uint32_t ri, mta_dest *d, sim_time_t now);
/* Destinations with work take turns, one entry each, while the transport has agents to spare. */
void mta_dest_dispatch(mta_transport_rt *tr, sim_time_t now);
void mta_dest_transport_timer(sim_event *ev, sim_time_t now);
void mta_dest_window_changed(mta_dest *d, sim_time_t now);
void mta_dest_revive(mta_dest *d, sim_time_t now);

#endif
