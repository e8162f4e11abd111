/*
 * mta - a Postfix host: queues, queue manager and delivery agents (postfix-model.md sections 2-7).
 *
 * Life of a message:
 *   submit    cleanup writes and fsyncs the queue file through the shared disk, then the file is in
 *             incoming/ (disk completions are FIFO, so one event serves the whole disk queue);
 *   activate  the queue manager moves files into the active queue while it holds fewer than
 *             qmgr_message_active_limit, alternating between incoming and the current deferred scan;
 *             each recipient is resolved to a destination queue (transport, nexthop) and grouped into
 *             entries of at most destination_recipient_limit recipients; a dead destination defers its
 *             recipients at once, without a connection ("delivery temporarily suspended");
 *   deliver   per transport, destinations with work take turns (round robin) while window > busy and
 *             the transport has fewer than maxproc agents busy; an agent (smtp_client) delivers the
 *             entry and reports per recipient and once per entry (feedback);
 *   done      when every recipient of this pass is done, the message leaves (delivered or bounced) or
 *             goes to deferred/ with backoff clamp(age, minimal_backoff_time, maximal_backoff_time);
 *             it is retried only when a deferred-queue scan (every queue_run_delay) finds it due; a
 *             message older than maximal_queue_lifetime after a deferring attempt is returned.
 *
 * On-demand connection caching follows qmgr_entry_select: a destination starts asking agents to
 * cache after back-to-back deliveries (one finished within the current second of the clock) and stops
 * storing when it has neither concurrent nor back-to-back deliveries; once enabled, agents keep trying
 * cached sessions first.
 *
 * Simplifications (docs/internals.md): the deferred scan visits due files in order of their retry
 * time (Postfix walks its hashed directories); in-memory recipient limits other than the active-queue
 * limit are not modelled; a transport's maxproc caps its busy agents directly (master's backlog).
 */
#include "models/mta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/msg_heap.h"
#include "sim/sim_random.h"

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

static void die(const char *fn, const char *what)
{
    fprintf(stderr, "%s: %s\n", fn, what);
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("mta", "out of memory");
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p)
        die("mta", "out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        die("mta", "out of memory");
    return d;
}

/* Postfix-looking queue ids: ten hex digits derived from host and message id. */
static void queue_id(const mta_host *h, uint64_t id, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    uint64_t x = id * 0x9E3779B97F4A7C15ull + h->index * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    if (len < 11) {
        buf[0] = 0;
        return;
    }
    for (int i = 9; i >= 0; i--, x >>= 4) /* by hand: one per message leaving the system */
        buf[i] = hex[x & 15];
    buf[10] = 0;
}

static size_t put_u64(char *out, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++)
        out[k] = d[n - 1 - k];
    return n;
}

/* "u<id>@domain", "u<id>.<i>@domain": built by hand, as the policy asks for it at every RCPT. */
static void rcpt_address(const mta_host *h, const mta_msg *m, uint32_t i, char *buf, size_t len)
{
    const char *dom = h->env->domains[m->rcpt[i].domain];
    size_t dl = strlen(dom);
    if (len < dl + 48) {
        snprintf(buf, len, "u%llu@%s", (unsigned long long)m->id, dom);
        return;
    }
    size_t n = 0;
    buf[n++] = 'u';
    n += put_u64(buf + n, m->id);
    if (i > 0) {
        buf[n++] = '.';
        n += put_u64(buf + n, i);
    }
    buf[n++] = '@';
    memcpy(buf + n, dom, dl + 1);
}

static const char *class_name(const mta_host *h, uint32_t cls) { return h->env->traffic->classes[cls].name; }

static const char *sender_of(const mta_host *h, uint32_t cls)
{
    const char *s = h->env->traffic->classes[cls].sender;
    return s ? s : "noreply@tempfail.test";
}

/* ---- records ---- */

static void emit_attempt(mta_host *h, mta_msg *m, uint32_t ri, const char *process, uint32_t pid,
                         const char *relay, uint32_t conn_use, sim_time_t when, const double delays[4],
                         const char *dsn, mta_status status, const char *reply, const char *key, const mta_dest *d)
{
    if (!h->env->attempt)
        return;
    char qid[16] = "", rcpt[320] = "";
    if (h->env->attempt_text) {
        queue_id(h, m->id, qid, sizeof(qid));
        rcpt_address(h, m, ri, rcpt, sizeof(rcpt));
    }
    mta_attempt_record r = {.when = when, .host = h->index, .process = process, .pid = pid, .queue_id = qid,
                            .rcpt = rcpt, .relay = relay, .conn_use = conn_use, .arrival = m->arrival,
                            .dsn = dsn, .status = status, .reply = reply, .reason_key = key,
                            .destination = d ? d->name : "", .cls = m->cls};
    memcpy(r.delays, delays, sizeof(r.delays));
    h->env->attempt(h->env->ctx, &r);
}

static void msg_free(mta_host *h, mta_msg *m)
{
    if (m->lprev)
        m->lprev->lnext = m->lnext;
    else
        h->live_head = m->lnext;
    if (m->lnext)
        m->lnext->lprev = m->lprev;
    else
        h->live_tail = m->lprev;
    free(m);
}

static void msg_leave(mta_host *h, mta_msg *m, sim_time_t now, mta_outcome outcome)
{
    if (h->env->message_done) {
        char qid[16];
        queue_id(h, m->id, qid, sizeof(qid));
        mta_message_record r = {.msg_id = m->id, .queue_id = qid, .host = h->index, .cls = m->cls,
                                .cls_name = class_name(h, m->cls), .domain = h->env->domains[m->rcpt[0].domain],
                                .nrcpt = m->nrcpt, .size = m->size, .arrival = m->arrival,
                                .done = outcome == MTA_OUTCOME_QUEUED ? SIM_TIME_NEVER : now, .outcome = outcome,
                                .attempts = m->attempts, .resend_of = m->resend_of, .resend_no = m->resend_no};
        h->env->message_done(h->env->ctx, &r, m->tag);
    }
}

/* ---- scheduling ---- */

static void dispatch(mta_transport_rt *tr, sim_time_t now);

static void ring_add(mta_dest *d)
{
    if (d->in_ring)
        return;
    mta_transport_rt *tr = d->tr;
    d->in_ring = true;
    tr->nring++;
    if (!tr->ring) {
        d->rnext = d->rprev = d;
        tr->ring = d;
    } else { /* insert just before the cursor: served last in this round */
        d->rnext = tr->ring;
        d->rprev = tr->ring->rprev;
        d->rprev->rnext = d;
        tr->ring->rprev = d;
    }
}

static void ring_remove(mta_dest *d)
{
    if (!d->in_ring)
        return;
    mta_transport_rt *tr = d->tr;
    d->in_ring = false;
    tr->nring--;
    if (d->rnext == d) {
        tr->ring = NULL;
    } else {
        d->rprev->rnext = d->rnext;
        d->rnext->rprev = d->rprev;
        if (tr->ring == d)
            tr->ring = d->rnext;
    }
    d->rnext = d->rprev = NULL;
}

static void window_changed(mta_dest *d, sim_time_t now)
{
    d->st.window = d->w.window;
    sim_tavg_set(&d->st.window_avg, now, d->w.window);
    if (d->w.window < d->st.window_min)
        d->st.window_min = d->w.window;
    if (d->w.window > d->st.window_max)
        d->st.window_max = d->w.window;
}

/* Remembers a pooled object so that mta_host_free can free those still in flight. */
static void *remember(void ***all, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *all = xrealloc(*all, *cap * sizeof(**all));
    }
    return (*all)[(*n)++] = xcalloc(1, size);
}

static mta_entry *entry_new(mta_host *h, mta_msg *m, mta_dest *d)
{
    mta_entry *e = h->free_entries;
    if (e)
        h->free_entries = e->next;
    else
        e = remember((void ***)&h->all_entries, &h->nall_entries, &h->all_entries_cap, sizeof(*e));
    e->msg = m;
    e->dest = d;
    e->next = NULL;
    e->nrcpt = 0;
    return e;
}

static void entry_add_rcpt(mta_entry *e, uint16_t ri)
{
    if (e->nrcpt == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->rcpt = xrealloc(e->rcpt, e->cap * sizeof(*e->rcpt));
    }
    e->rcpt[e->nrcpt++] = ri;
}

static void entry_free(mta_host *h, mta_entry *e)
{
    e->next = h->free_entries;
    h->free_entries = e;
}

static void msg_pass_done(mta_host *h, mta_msg *m, sim_time_t now);
static void feed(mta_host *h, sim_time_t now);

/* A dead destination's recipients are deferred by the retry service, without a connection. */
static void defer_suspended(mta_host *h, mta_msg *m, uint32_t ri, mta_dest *d, sim_time_t now)
{
    char reply[1100] = "";
    if (h->env->attempt_text)
        snprintf(reply, sizeof(reply), "delivery temporarily suspended: %s", d->dead_reason);
    double delays[4] = {sim_time_to_sec(m->active_since - m->arrival), sim_time_to_sec(now - m->active_since), 0, 0};
    m->rcpt[ri].status = RS_DEFERRED;
    emit_attempt(h, m, ri, "retry", 0, "none", 0, now, delays, "4.4.1", MTA_STATUS_DEFERRED, reply, "suspended", d);
}

static void dest_die(mta_dest *d, sim_time_t now, const char *reason)
{
    mta_host *h = d->host;
    snprintf(d->dead_reason, sizeof(d->dead_reason), "%s", reason);
    d->st.dead_episodes++;
    d->dead_since = now;
    d->conn_load = d->conn_store = false; /* queue->dflags = 0 */
    window_changed(d, now);
    sim_calendar_schedule(h->env->cal, &d->dead_timer, now + h->env->cfg->minimal_backoff_time);
    /* qmgr_defer_todo: everything waiting for this destination is deferred now. */
    mta_entry *e = d->todo_head;
    d->todo_head = d->todo_tail = NULL;
    d->todo = 0;
    ring_remove(d);
    while (e) {
        mta_entry *next = e->next;
        mta_msg *m = e->msg;
        for (uint32_t k = 0; k < e->nrcpt; k++)
            defer_suspended(h, m, e->rcpt[k], d, now);
        m->pending -= e->nrcpt;
        entry_free(h, e);
        if (m->pending == 0)
            msg_pass_done(h, m, now);
        e = next;
    }
}

static void dest_revive(mta_dest *d, sim_time_t now)
{
    sim_calendar_cancel(d->host->env->cal, &d->dead_timer);
    d->st.dead_time += sim_time_to_sec(now - d->dead_since);
    mta_queue_unthrottle(&d->w, &d->p);
    window_changed(d, now);
}

static void dead_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, dead_timer);
    dest_revive(d, now);
    if (d->todo == 0 && d->w.busy == 0) {
        /* Postfix deletes the empty queue; the next mail starts a fresh one. */
        mta_queue_window_init(&d->w, &d->p);
        d->last_done = 0;
        d->conn_load = d->conn_store = false;
        window_changed(d, now);
    }
    dispatch(d->tr, now);
}

static void rate_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, rate_timer);
    d->suspended = false;
    dispatch(d->tr, now);
}

static void transport_timer_fired(sim_event *ev, sim_time_t now)
{
    dispatch(SIM_CONTAINER_OF(ev, mta_transport_rt, rate_timer), now);
}

/* qmgr_entry_select's on-demand caching decision, with Postfix's one-second clock. */
static void cache_flags(mta_dest *d, sim_time_t now)
{
    if (d->cache_always) {
        d->conn_load = d->conn_store = true;
        return;
    }
    if (!d->p.connection_cache_on_demand)
        return;
    bool back_to_back = d->last_done > 0 && d->last_done / SIM_SEC + 1 >= now / SIM_SEC;
    if (!d->conn_store) {
        if (back_to_back)
            d->conn_load = d->conn_store = true;
    } else if (!(d->w.busy > 1 || back_to_back)) {
        d->conn_store = false;
    }
}

static uint32_t pid_get(mta_host *h)
{
    if (h->nfree_pids)
        return h->free_pids[--h->nfree_pids];
    return h->next_pid++;
}

static void pid_put(mta_host *h, uint32_t pid)
{
    if (h->nfree_pids == h->free_pids_cap) {
        h->free_pids_cap = h->free_pids_cap ? h->free_pids_cap * 2 : 64;
        h->free_pids = xrealloc(h->free_pids, h->free_pids_cap * sizeof(*h->free_pids));
    }
    h->free_pids[h->nfree_pids++] = pid;
}

static const smtp_request_ops agent_ops;
static void agent_disk_done(sim_event *ev, sim_time_t now);

static void start_entry(mta_dest *d, sim_time_t now)
{
    mta_host *h = d->host;
    mta_entry *e = d->todo_head;
    d->todo_head = e->next;
    if (!d->todo_head)
        d->todo_tail = NULL;
    d->todo--;
    d->w.busy++;
    d->tr->busy++;
    cache_flags(d, now);

    mta_agent *a = h->free_agents;
    if (a)
        h->free_agents = a->next_free;
    else {
        a = remember((void ***)&h->all_agents, &h->nall_agents, &h->all_agents_cap, sizeof(*a));
        sim_event_init(&a->disk_ev, agent_disk_done);
    }
    if (a->cap < e->nrcpt) {
        a->req.rstate = xrealloc(a->req.rstate, e->nrcpt);
        a->cap = e->nrcpt;
    }
    a->host = h;
    a->entry = e;
    a->pid = pid_get(h);
    smtp_request *r = &a->req;
    r->ops = &agent_ops;
    r->ctx = a;
    r->rcv = d->rcv;
    r->p = &d->p;
    r->cache = &d->cache;
    r->cache_load = d->conn_load;
    r->cache_store = d->conn_store;
    r->dns_expires = &d->dns_expires;
    r->nexthop = d->nexthop;
    r->sender = sender_of(h, e->msg->cls);
    r->size = e->msg->size;
    r->nrcpt = e->nrcpt;
    smtp_request_start(h->client, r, now);
}

static bool may_start(const mta_dest *d)
{
    return !d->suspended && d->w.window > 0 && (uint32_t)d->w.window > d->w.busy && d->todo > 0;
}

/* Destinations with work take turns, one entry each, while the transport has agents to spare. */
static void dispatch(mta_transport_rt *tr, sim_time_t now)
{
    const mta_transport_params *tp = &tr->cfg->p;
    uint32_t idle_steps = 0;
    while (tr->ring && tr->busy < tp->maxproc && idle_steps < tr->nring) {
        if (tp->transport_rate_delay > 0 && now < tr->next_start) {
            if (!sim_event_pending(&tr->rate_timer))
                sim_calendar_schedule(tr->host->env->cal, &tr->rate_timer, tr->next_start);
            return;
        }
        mta_dest *d = tr->ring;
        tr->ring = d->rnext;
        if (!may_start(d)) {
            idle_steps++;
            continue;
        }
        idle_steps = 0;
        start_entry(d, now);
        if (d->todo == 0)
            ring_remove(d);
        if (tp->transport_rate_delay > 0)
            tr->next_start = now + tp->transport_rate_delay;
    }
}

/* ---- message flow ---- */

static void activate(mta_host *h, mta_msg *m, sim_time_t now)
{
    m->state = MS_ACTIVE;
    m->active_since = now;
    m->attempts++;
    h->n_active++;
    m->pending = 0;
    /* Group this pass's recipients into entries per destination, at most recipient_limit each. */
    mta_entry *made[8];
    uint32_t nmade = 0;
    mta_transport_rt *touched[8];
    uint32_t ntouched = 0;
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        if (m->rcpt[i].status == RS_DELIVERED || m->rcpt[i].status == RS_BOUNCED)
            continue;
        m->rcpt[i].status = RS_PENDING;
        mta_dest *d = h->dest_of[m->rcpt[i].domain];
        if (d->w.window == 0) {
            defer_suspended(h, m, i, d, now);
            continue;
        }
        mta_entry *e = NULL;
        uint32_t limit = d->p.destination_recipient_limit;
        for (uint32_t k = 0; k < nmade; k++)
            if (made[k]->dest == d && (limit == 0 || made[k]->nrcpt < limit)) {
                e = made[k];
                break;
            }
        if (!e) {
            e = entry_new(h, m, d);
            if (d->todo_tail)
                d->todo_tail->next = e;
            else
                d->todo_head = e;
            d->todo_tail = e;
            d->todo++;
            ring_add(d);
            if (nmade < 8)
                made[nmade++] = e;
            bool seen = false;
            for (uint32_t k = 0; k < ntouched; k++)
                seen |= touched[k] == d->tr;
            if (!seen && ntouched < 8)
                touched[ntouched++] = d->tr;
        }
        entry_add_rcpt(e, (uint16_t)i);
        m->pending++;
    }
    if (m->pending == 0) {
        msg_pass_done(h, m, now);
        return;
    }
    for (uint32_t k = 0; k < ntouched; k++)
        dispatch(touched[k], now);
}

static void feed(mta_host *h, sim_time_t now)
{
    /* A message can leave the active queue while being activated (a dead destination defers it at
     * once), which calls feed again: the running loop will see the room, so just return. */
    if (h->feeding)
        return;
    h->feeding = true;
    uint32_t limit = h->env->cfg->qmgr_message_active_limit;
    while (h->n_active < limit && (h->in_head || h->scan_head)) {
        mta_msg *m;
        bool from_deferred = h->scan_head && (h->feed_deferred_next || !h->in_head);
        if (from_deferred) {
            m = h->scan_head;
            h->scan_head = m->next;
            if (!h->scan_head)
                h->scan_tail = NULL;
            h->n_deferred--;
        } else {
            m = h->in_head;
            h->in_head = m->next;
            if (!h->in_head)
                h->in_tail = NULL;
            h->n_incoming--;
        }
        h->feed_deferred_next = !from_deferred;
        m->next = NULL;
        activate(h, m, now);
    }
    h->feeding = false;
    if (!h->scan_head && h->scan_again) {
        h->scan_again = false;
        sim_calendar_schedule(h->env->cal, &h->scan_ev, now); /* the re-requested scan runs now */
    }
}

static void msg_pass_done(mta_host *h, mta_msg *m, sim_time_t now)
{
    h->n_active--;
    bool deferred = false, bounced = false;
    for (uint32_t i = 0; i < m->nrcpt; i++) {
        deferred |= m->rcpt[i].status == RS_DEFERRED;
        bounced |= m->rcpt[i].status == RS_BOUNCED;
    }
    const mta_config *c = h->env->cfg;
    if (deferred && now - m->arrival >= c->maximal_queue_lifetime) {
        /* Too old: the deferred recipients are returned to the sender. */
        char reply[64];
        snprintf(reply, sizeof(reply), "message too old");
        double delays[4] = {sim_time_to_sec(m->active_since - m->arrival), 0, 0, 0};
        for (uint32_t i = 0; i < m->nrcpt; i++)
            if (m->rcpt[i].status == RS_DEFERRED) {
                m->rcpt[i].status = RS_BOUNCED;
                emit_attempt(h, m, i, "qmgr", 0, "none", 0, now, delays, "4.4.7", MTA_STATUS_EXPIRED, reply,
                             "expired", h->dest_of[m->rcpt[i].domain]);
            }
        deferred = false;
        bounced = true;
    }
    if (deferred) {
        sim_time_t age = now - m->arrival, delay = age;
        if (delay < c->minimal_backoff_time)
            delay = c->minimal_backoff_time;
        if (delay > c->maximal_backoff_time)
            delay = c->maximal_backoff_time;
        m->next_try = now + delay;
        m->state = MS_DEFERRED;
        h->n_deferred++;
        msg_heap_push(&h->deferred, m->next_try, m->id, m);
    } else {
        msg_leave(h, m, now, bounced ? MTA_OUTCOME_BOUNCED : MTA_OUTCOME_DELIVERED);
        msg_free(h, m);
    }
    feed(h, now);
}

/* The deferred-queue scan: every queue_run_delay, due files join the feed (a running scan is re-run). */
static void scan_fired(sim_event *ev, sim_time_t now)
{
    mta_host *h = SIM_CONTAINER_OF(ev, mta_host, scan_ev);
    sim_time_t next = (now / h->env->cfg->queue_run_delay + 1) * h->env->cfg->queue_run_delay;
    if (h->scan_head) {
        h->scan_again = true;
    } else {
        while (msg_heap_top_time(&h->deferred) <= now + SIM_SEC) {
            mta_msg *m = msg_heap_pop(&h->deferred);
            m->next = NULL;
            if (h->scan_tail)
                h->scan_tail->next = m;
            else
                h->scan_head = m;
            h->scan_tail = m;
        }
        feed(h, now);
    }
    if (!sim_event_pending(&h->scan_ev))
        sim_calendar_schedule(h->env->cal, &h->scan_ev, next);
}

static void incoming_add(mta_host *h, mta_msg *m, sim_time_t now)
{
    m->state = MS_INCOMING;
    m->next = NULL;
    if (h->in_tail)
        h->in_tail->next = m;
    else
        h->in_head = m;
    h->in_tail = m;
    feed(h, now);
}

static void disk_fired(sim_event *ev, sim_time_t now)
{
    mta_host *h = SIM_CONTAINER_OF(ev, mta_host, disk_ev);
    while (h->disk_head && h->disk_head->disk_done <= now) {
        mta_msg *m = h->disk_head;
        h->disk_head = m->next;
        if (!h->disk_head)
            h->disk_tail = NULL;
        incoming_add(h, m, now);
    }
    if (h->disk_head)
        sim_calendar_schedule(h->env->cal, &h->disk_ev, h->disk_head->disk_done);
}

void mta_host_submit(mta_host *h, const traffic_msg *tm, const uint16_t *domains, uint64_t tag, sim_time_t now)
{
    mta_msg *m = malloc(sizeof(*m) + tm->nrcpt * sizeof(mta_rcpt));
    if (!m)
        die("mta_host_submit", "out of memory");
    memset(m, 0, sizeof(*m));
    m->id = tm->id;
    m->tag = tag;
    m->resend_of = tm->resend_of;
    m->resend_no = tm->resend_no;
    m->arrival = now;
    m->size = tm->size;
    m->nrcpt = tm->nrcpt;
    m->cls = (uint16_t)tm->cls;
    for (uint32_t i = 0; i < tm->nrcpt; i++)
        m->rcpt[i] = (mta_rcpt){.domain = domains[i], .status = RS_PENDING};
    m->lprev = h->live_tail;
    if (h->live_tail)
        h->live_tail->lnext = m;
    else
        h->live_head = m;
    h->live_tail = m;
    h->n_incoming++;
    const latency_config *lat = &h->env->cfg->latency;
    if (!lat->disk_enabled) {
        incoming_add(h, m, now);
        return;
    }
    sim_time_t service = 0;
    for (uint32_t k = 0; k < lat->disk_writes_per_message; k++)
        service += latency_draw(&lat->disk_fsync, h->rng);
    m->disk_done = latency_resource_acquire(&h->disk, now, service, NULL);
    m->state = MS_INCOMING;
    if (h->disk_tail)
        h->disk_tail->next = m;
    else {
        h->disk_head = m;
        sim_calendar_schedule(h->env->cal, &h->disk_ev, m->disk_done);
    }
    h->disk_tail = m;
}

/* ---- the agent's reports ---- */

static void agent_rcpt_address(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len)
{
    (void)req;
    mta_agent *a = ctx;
    rcpt_address(a->host, a->entry->msg, a->entry->rcpt[i], buf, len);
}

static void agent_outcome(void *ctx, smtp_request *req, const smtp_outcome *o)
{
    mta_agent *a = ctx;
    mta_host *h = a->host;
    mta_entry *e = a->entry;
    mta_msg *m = e->msg;
    uint32_t ri = e->rcpt[o->rcpt];
    mta_status st;
    switch (o->status) {
    case SMTP_RCPT_DELIVERED:
        m->rcpt[ri].status = RS_DELIVERED;
        st = MTA_STATUS_SENT;
        e->dest->st.deliveries++;
        break;
    case SMTP_RCPT_BOUNCED:
        m->rcpt[ri].status = RS_BOUNCED;
        st = MTA_STATUS_BOUNCED;
        break;
    default:
        m->rcpt[ri].status = RS_DEFERRED;
        st = MTA_STATUS_DEFERRED;
    }
    sim_time_t setup = req->t_setup_done > o->when ? o->when : req->t_setup_done;
    double delays[4] = {sim_time_to_sec(m->active_since - m->arrival), sim_time_to_sec(req->t_start - m->active_since),
                        sim_time_to_sec(setup - req->t_start), sim_time_to_sec(o->when - setup)};
    emit_attempt(h, m, ri, "smtp", a->pid, o->relay, o->conn_use, o->when, delays, o->dsn, st, o->reply, o->reason,
                 e->dest);
}

static void agent_finished(mta_agent *a, sim_time_t now, bool hop_failed, const char *reason);

static void agent_disk_done(sim_event *ev, sim_time_t now)
{
    mta_agent *a = SIM_CONTAINER_OF(ev, mta_agent, disk_ev);
    agent_finished(a, now, a->hop_failed, a->req.reason);
}

/* The agent is done with the entry. With a modelled disk it first updates the queue file (marking the
 * recipients done) through the shared disk, and the queue manager hears of it only then. */
static void agent_done(void *ctx, smtp_request *req, sim_time_t now, bool hop_failed, const char *reason)
{
    mta_agent *a = ctx;
    const latency_config *lat = &a->host->env->cfg->latency;
    if (lat->disk_enabled && lat->disk_writes_per_delivery > 0) {
        sim_time_t service = 0;
        for (uint32_t k = 0; k < lat->disk_writes_per_delivery; k++)
            service += latency_draw(&lat->disk_fsync, a->host->rng);
        a->hop_failed = hop_failed;
        if (reason != req->reason) /* keep the reason where the delayed call can find it */
            snprintf(req->reason, sizeof(req->reason), "%s", reason);
        sim_calendar_schedule(a->host->env->cal, &a->disk_ev,
                              latency_resource_acquire(&a->host->disk, now, service, NULL));
        return;
    }
    agent_finished(a, now, hop_failed, reason);
}

static void agent_finished(mta_agent *a, sim_time_t now, bool hop_failed, const char *reason)
{
    mta_host *h = a->host;
    mta_entry *e = a->entry;
    mta_dest *d = e->dest;
    mta_msg *m = e->msg;

    /* Feedback first, with this entry still counted as busy (qmgr_deliver_update). */
    if (hop_failed && reason[0]) {
        if (d->w.window > 0 && mta_queue_throttle(&d->w, &d->p))
            dest_die(d, now, reason);
        else
            window_changed(d, now);
    } else if (!hop_failed) {
        if (d->w.window == 0)
            dest_revive(d, now); /* an in-flight delivery succeeded: the destination lives */
        else
            mta_queue_unthrottle(&d->w, &d->p);
        window_changed(d, now);
    }
    d->w.busy--;
    d->tr->busy--;
    d->last_done = now;
    if (d->p.destination_rate_delay > 0) {
        if (d->w.window == 0)
            dest_revive(d, now);
        d->suspended = true;
        sim_calendar_schedule(h->env->cal, &d->rate_timer, now + d->p.destination_rate_delay);
    }
    pid_put(h, a->pid);
    a->next_free = h->free_agents;
    h->free_agents = a;

    m->pending -= e->nrcpt;
    entry_free(h, e);
    if (m->pending == 0)
        msg_pass_done(h, m, now);
    dispatch(d->tr, now);
}

static const smtp_request_ops agent_ops = {
    .outcome = agent_outcome, .done = agent_done, .rcpt_address = agent_rcpt_address};

/* ---- construction ---- */

static mta_dest *dest_find_or_create(mta_host *h, mta_transport_rt *tr, const char *nexthop, receiver *rcv)
{
    for (size_t i = 0; i < h->ndests; i++)
        if (h->dests[i]->tr == tr && strcmp(h->dests[i]->nexthop, nexthop) == 0)
            return h->dests[i];
    mta_dest *d = xcalloc(1, sizeof(*d));
    char name[512];
    snprintf(name, sizeof(name), "%s:%s", tr->cfg->name, nexthop);
    d->name = xstrdup(name);
    d->nexthop = xstrdup(nexthop);
    d->tr = tr;
    d->host = h;
    d->rcv = rcv;
    d->p = tr->cfg->p;
    if (d->p.destination_rate_delay > 0)
        d->p.destination_concurrency_limit = 1; /* Postfix forces concurrency 1 with a rate delay */
    for (char **c = d->p.connection_cache_destinations; c && *c; c++)
        if (strcmp(*c, nexthop) == 0)
            d->cache_always = true;
    mta_queue_window_init(&d->w, &d->p);
    sim_event_init(&d->dead_timer, dead_timer_fired);
    sim_event_init(&d->rate_timer, rate_timer_fired);
    d->st.name = d->name;
    d->st.rcv = rcv;
    d->st.window = d->w.window;
    d->st.window_min = d->st.window_max = d->w.window;
    sim_tavg_init(&d->st.window_avg, 0, d->w.window);
    h->dests = xrealloc(h->dests, (h->ndests + 1) * sizeof(*h->dests));
    h->dests[h->ndests++] = d;
    return d;
}

mta_host *mta_host_create(const mta_env *env, uint32_t index, const char *src_ip)
{
    mta_host *h = xcalloc(1, sizeof(*h));
    h->env = env;
    h->index = index;
    snprintf(h->name, sizeof(h->name), "mta%u", index + 1);
    h->src_ip = xstrdup(src_ip);
    char stream[64];
    snprintf(stream, sizeof(stream), "host/%u", index);
    h->rng = sim_random_stream(env->seed, env->replication, stream);
    const mta_config *c = env->cfg;
    if (latency_resource_init(&h->cpu, c->latency.cores) != 0 || latency_resource_init(&h->disk, 1) != 0)
        die("mta_host_create", "out of memory");
    h->client = smtp_client_create(env->cal, src_ip, &c->latency, c->latency.cores ? &h->cpu : NULL, h->rng);
    smtp_client_set_text(h->client, env->attempt_text);
    h->ntr = c->ntransports;
    h->tr = xcalloc(h->ntr, sizeof(*h->tr));
    for (size_t i = 0; i < h->ntr; i++) {
        h->tr[i].cfg = &c->transports[i];
        h->tr[i].host = h;
        sim_event_init(&h->tr[i].rate_timer, transport_timer_fired);
    }
    h->dest_of = xcalloc(env->ndomains, sizeof(*h->dest_of));
    for (size_t di = 0; di < env->ndomains; di++) {
        const char *dom = env->domains[di];
        size_t t = 0; /* transports[0] is "smtp", the default */
        for (size_t i = 1; i < h->ntr; i++)
            for (size_t k = 0; k < c->transports[i].ndomains; k++)
                if (strcmp(c->transports[i].domains[k], dom) == 0)
                    t = i;
        const char *nexthop = c->transports[t].nexthop ? c->transports[t].nexthop : dom;
        h->dest_of[di] = dest_find_or_create(h, &h->tr[t], nexthop, env->domain_rcv[di]);
    }
    sim_event_init(&h->disk_ev, disk_fired);
    sim_event_init(&h->scan_ev, scan_fired);
    h->next_pid = 1001 + index * 10000;
    /* qmgr starts with a deferred-queue scan, then one every queue_run_delay. */
    sim_calendar_schedule(env->cal, &h->scan_ev, sim_calendar_now(env->cal));
    return h;
}

void mta_host_finish(mta_host *h, sim_time_t now)
{
    for (mta_msg *m = h->live_head; m; m = m->lnext)
        msg_leave(h, m, now, MTA_OUTCOME_QUEUED);
    for (size_t i = 0; i < h->ndests; i++) {
        mta_dest *d = h->dests[i];
        if (d->w.window == 0)
            d->st.dead_time += sim_time_to_sec(now - d->dead_since);
        sim_tavg_set(&d->st.window_avg, now, d->w.window);
    }
}

void mta_host_free(mta_host *h)
{
    if (!h)
        return;
    for (mta_msg *m = h->live_head, *n; m; m = n) {
        n = m->lnext;
        free(m);
    }
    for (size_t i = 0; i < h->ndests; i++) {
        free(h->dests[i]->name);
        free(h->dests[i]->nexthop);
        free(h->dests[i]);
    }
    for (size_t i = 0; i < h->nall_entries; i++) {
        free(h->all_entries[i]->rcpt);
        free(h->all_entries[i]);
    }
    for (size_t i = 0; i < h->nall_agents; i++) {
        free(h->all_agents[i]->req.rstate);
        free(h->all_agents[i]);
    }
    free(h->all_entries);
    free(h->all_agents);
    smtp_client_free(h->client, 0);
    latency_resource_destroy(&h->cpu);
    latency_resource_destroy(&h->disk);
    gsl_rng_free(h->rng);
    free(h->dests);
    free(h->dest_of);
    free(h->tr);
    msg_heap_free(&h->deferred);
    free(h->free_pids);
    free(h->src_ip);
    free(h);
}

void mta_host_queue_sizes(const mta_host *h, uint64_t *incoming, uint64_t *active, uint64_t *deferred)
{
    *incoming = h->n_incoming;
    *active = h->n_active;
    *deferred = h->n_deferred;
}

sim_time_t mta_host_oldest(const mta_host *h) { return h->live_head ? h->live_head->arrival : SIM_TIME_NEVER; }
size_t mta_host_ndests(const mta_host *h) { return h->ndests; }
mta_dest_stats *mta_host_dest(mta_host *h, size_t i) { return &h->dests[i]->st; }
latency_resource *mta_host_cpu(mta_host *h) { return &h->cpu; }
latency_resource *mta_host_disk(mta_host *h) { return &h->disk; }

uint64_t mta_host_sessions(const mta_host *h, uint64_t *cached)
{
    if (cached)
        *cached = smtp_client_cached(h->client);
    return smtp_client_open(h->client);
}

void mta_host_reset_stats(mta_host *h, sim_time_t now)
{
    for (size_t i = 0; i < h->ndests; i++) {
        mta_dest_stats *s = &h->dests[i]->st;
        sim_tavg_reset(&s->window_avg, now);
        s->window_min = s->window_max = s->window;
        s->dead_episodes = 0;
        s->dead_time = 0;
        s->deliveries = 0;
        if (h->dests[i]->w.window == 0)
            h->dests[i]->dead_since = now;
    }
}
