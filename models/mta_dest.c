/*
 * mta_dest - the scheduler side of a Postfix host: per-destination queues (qmgr_queue), the round
 * robin over destinations within a transport's process limit, the feedback each finished delivery
 * gives (mta_queue.c's arithmetic), dead destinations and their timer, destination and transport rate
 * delays, on-demand connection caching, and the delivery agents (smtp_client requests) themselves.
 *
 * On-demand connection caching follows qmgr_entry_select: a destination starts asking agents to
 * cache after back-to-back deliveries (one finished within the current second of the clock) and stops
 * storing when it has neither concurrent nor back-to-back deliveries; once enabled, agents keep trying
 * cached sessions first.
 */
#include "models/mta_impl.h"
#include "sim/sim_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scheduling ---- */


void mta_dest_ring_add(mta_dest *d)
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

void mta_dest_window_changed(mta_dest *d, sim_time_t now)
{
    d->st.window = d->w.window;
    sim_tavg_set(&d->st.window_avg, now, d->w.window);
    if (d->w.window < d->st.window_min)
        d->st.window_min = d->w.window;
    if (d->w.window > d->st.window_max)
        d->st.window_max = d->w.window;
}


mta_entry *mta_dest_entry_new(mta_host *h, mta_msg *m, mta_dest *d)
{
    mta_entry *e = h->free_entries;
    if (e)
        h->free_entries = e->next;
    else
        e = mta_remember((void ***)&h->all_entries, &h->nall_entries, &h->all_entries_cap, sizeof(*e));
    e->msg = m;
    e->dest = d;
    e->next = NULL;
    e->nrcpt = 0;
    return e;
}

void mta_dest_entry_add_rcpt(mta_entry *e, uint16_t ri)
{
    if (e->nrcpt == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->rcpt = sim_xrealloc(e->rcpt, e->cap * sizeof(*e->rcpt));
    }
    e->rcpt[e->nrcpt++] = ri;
}

void mta_dest_entry_free(mta_host *h, mta_entry *e)
{
    e->next = h->free_entries;
    h->free_entries = e;
}


/* A dead destination's recipients are deferred by the retry service, without a connection. */
void mta_dest_defer_suspended(mta_host *h, mta_msg *m, uint32_t ri, mta_dest *d, sim_time_t now)
{
    char reply[1100] = "";
    if (h->env->attempt_text)
        snprintf(reply, sizeof(reply), "delivery temporarily suspended: %s", d->dead_reason);
    double delays[4] = {sim_time_to_sec(m->active_since - m->arrival), sim_time_to_sec(now - m->active_since), 0, 0};
    m->rcpt[ri].status = RS_DEFERRED;
    mta_emit_attempt(h, m, ri, "retry", 0, "none", 0, now, delays, "4.4.1", MTA_STATUS_DEFERRED, reply, "suspended", d);
}

static void dest_die(mta_dest *d, sim_time_t now, const char *reason)
{
    mta_host *h = d->host;
    snprintf(d->dead_reason, sizeof(d->dead_reason), "%s", reason);
    d->st.dead_episodes++;
    d->dead_since = now;
    d->conn_load = d->conn_store = false; /* queue->dflags = 0 */
    mta_dest_window_changed(d, now);
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
            mta_dest_defer_suspended(h, m, e->rcpt[k], d, now);
        m->pending -= e->nrcpt;
        mta_dest_entry_free(h, e);
        if (m->pending == 0)
            mta_msg_pass_done(h, m, now);
        e = next;
    }
}

void mta_dest_revive(mta_dest *d, sim_time_t now)
{
    sim_calendar_cancel(d->host->env->cal, &d->dead_timer);
    d->st.dead_time += sim_time_to_sec(now - d->dead_since);
    mta_queue_unthrottle(&d->w, &d->p);
    mta_dest_window_changed(d, now);
}

static void dead_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, dead_timer);
    mta_dest_revive(d, now);
    if (d->todo == 0 && d->w.busy == 0) {
        /* Postfix deletes the empty queue; the next mail starts a fresh one. */
        mta_queue_window_init(&d->w, &d->p);
        d->last_done = 0;
        d->conn_load = d->conn_store = false;
        mta_dest_window_changed(d, now);
    }
    mta_dest_dispatch(d->tr, now);
}

static void rate_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, rate_timer);
    d->suspended = false;
    mta_dest_dispatch(d->tr, now);
}

void mta_dest_transport_timer(sim_event *ev, sim_time_t now)
{
    mta_dest_dispatch(SIM_CONTAINER_OF(ev, mta_transport_rt, rate_timer), now);
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
        h->free_pids = sim_xrealloc(h->free_pids, h->free_pids_cap * sizeof(*h->free_pids));
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
        a = mta_remember((void ***)&h->all_agents, &h->nall_agents, &h->all_agents_cap, sizeof(*a));
        sim_event_init(&a->disk_ev, agent_disk_done);
    }
    if (a->cap < e->nrcpt) {
        a->req.rstate = sim_xrealloc(a->req.rstate, e->nrcpt);
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
    r->sender = mta_sender_of(h, e->msg->cls);
    r->size = e->msg->size;
    r->nrcpt = e->nrcpt;
    smtp_request_start(h->client, r, now);
}

static bool may_start(const mta_dest *d)
{
    return !d->suspended && d->w.window > 0 && (uint32_t)d->w.window > d->w.busy && d->todo > 0;
}

/* Destinations with work take turns, one entry each, while the transport has agents to spare. */
void mta_dest_dispatch(mta_transport_rt *tr, sim_time_t now)
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

/* ---- the agent's reports ---- */

static void agent_rcpt_address(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len)
{
    (void)req;
    mta_agent *a = ctx;
    mta_rcpt_address(a->host, a->entry->msg, a->entry->rcpt[i], buf, len);
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
    mta_emit_attempt(h, m, ri, "smtp", a->pid, o->relay, o->conn_use, o->when, delays, o->dsn, st, o->reply, o->reason,
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
            mta_dest_window_changed(d, now);
    } else if (!hop_failed) {
        if (d->w.window == 0)
            mta_dest_revive(d, now); /* an in-flight delivery succeeded: the destination lives */
        else
            mta_queue_unthrottle(&d->w, &d->p);
        mta_dest_window_changed(d, now);
    }
    d->w.busy--;
    d->tr->busy--;
    d->last_done = now;
    if (d->p.destination_rate_delay > 0) {
        if (d->w.window == 0)
            mta_dest_revive(d, now);
        d->suspended = true;
        sim_calendar_schedule(h->env->cal, &d->rate_timer, now + d->p.destination_rate_delay);
    }
    pid_put(h, a->pid);
    a->next_free = h->free_agents;
    h->free_agents = a;

    m->pending -= e->nrcpt;
    mta_dest_entry_free(h, e);
    if (m->pending == 0)
        mta_msg_pass_done(h, m, now);
    mta_dest_dispatch(d->tr, now);
}

static const smtp_request_ops agent_ops = {
    .outcome = agent_outcome, .done = agent_done, .rcpt_address = agent_rcpt_address};

/* ---- construction ---- */

mta_dest *mta_dest_find_or_create(mta_host *h, mta_transport_rt *tr, const char *nexthop, receiver *rcv)
{
    for (size_t i = 0; i < h->ndests; i++)
        if (h->dests[i]->tr == tr && strcmp(h->dests[i]->nexthop, nexthop) == 0)
            return h->dests[i];
    mta_dest *d = sim_xcalloc(1, sizeof(*d));
    char name[512];
    snprintf(name, sizeof(name), "%s:%s", tr->cfg->name, nexthop);
    d->name = sim_xstrdup(name);
    d->nexthop = sim_xstrdup(nexthop);
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
    h->dests = sim_xrealloc(h->dests, (h->ndests + 1) * sizeof(*h->dests));
    h->dests[h->ndests++] = d;
    return d;
}
