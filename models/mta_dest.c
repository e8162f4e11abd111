/*
 * mta_dest - the scheduler side of a Postfix host: the per-destination queues (qmgr_queue) and their
 * entry lists (qmgr_entry: this file alone touches them), the round robin over a transport's
 * destinations within its process limit (qmgr_transport), the feedback each finished delivery gives
 * (mta_queue.c's arithmetic), dead destinations and their timer (qmgr_defer), destination and
 * transport rate delays, and on-demand connection caching.
 *
 * On-demand connection caching follows qmgr_entry_select: a destination starts asking agents to
 * cache after back-to-back deliveries (one finished within the current second of the clock) and stops
 * storing when it has neither concurrent nor back-to-back deliveries; once enabled, agents keep trying
 * cached sessions first.
 *
 * Destinations are found by (transport, nexthop) through a hash table, since a host resolves every
 * recipient domain of the world to one when it starts.
 */
#include "models/mta_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_hash.h"
#include "sim/sim_mem.h"

/* ---- the transport's ring of destinations with work ---- */

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

/* After a feedback event or a new window: the statistics, and the scheduler trace's row. */
static void window_changed(mta_dest *d, sim_time_t now, const char *cause, int32_t old)
{
    const mta_env *env = d->host->env;
    if (env->window) {
        mta_window_record r = {.when = now, .host = d->host->index, .destination = d->name, .cause = cause,
                               .old_window = old, .new_window = d->w.window, .busy = d->w.busy, .todo = d->todo,
                               .success = d->w.success, .failure = d->w.failure,
                               .fail_cohorts = d->w.fail_cohorts};
        env->window(env->ctx, &r);
    }
    d->st.window = d->w.window;
    sim_tavg_set(&d->st.window_avg, now, d->w.window);
    if (d->w.window < d->st.window_min)
        d->st.window_min = d->w.window;
    if (d->w.window > d->st.window_max)
        d->st.window_max = d->w.window;
}

/* ---- entries ---- */

static void entry_fini(void *obj) { free(((mta_entry *)obj)->rcpt); }

static mta_entry *entry_create(mta_dest *d, mta_msg *m)
{
    mta_entry *e = sim_pool_get(&d->host->entries, NULL);
    e->msg = m;
    e->dest = d;
    e->next = NULL;
    e->nrcpt = 0;
    if (d->todo_tail)
        d->todo_tail->next = e;
    else
        d->todo_head = e;
    d->todo_tail = e;
    d->todo++;
    ring_add(d);
    return e;
}

static void entry_add_rcpt(mta_entry *e, uint16_t ri)
{
    if (e->nrcpt == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->rcpt = sim_xreallocarray(e->rcpt, e->cap, sizeof(*e->rcpt));
    }
    e->rcpt[e->nrcpt++] = ri;
}

/* The entry's recipients are done for this pass; the message learns when all of its are. */
static void entry_release(mta_entry *e, sim_time_t now)
{
    mta_msg *m = e->msg;
    mta_host *h = e->dest->host;
    m->c.pending -= e->nrcpt;
    sim_pool_put(&h->entries, e);
    if (m->c.pending == 0)
        mta_msg_pass_done(h, m, now);
}

/* A dead destination's recipient is deferred by the retry service, without a connection. */
static void defer_suspended(mta_dest *d, mta_msg *m, uint32_t ri, sim_time_t now)
{
    char reply[1100] = "";
    if (d->host->env->attempt_text)
        snprintf(reply, sizeof(reply), "delivery temporarily suspended: %s", d->dead_reason);
    m->rcpt[ri].status = RS_DEFERRED;
    mta_attempt_record r = {.when = now, .process = "retry", .relay = "none",
                            .delays = {sim_time_to_sec(m->active_since - m->c.arrival),
                                       sim_time_to_sec(now - m->active_since), 0, 0},
                            .dsn = "4.4.1", .status = MTA_STATUS_DEFERRED, .reply = reply, .reason_key = "suspended",
                            .destination = d->name};
    mta_msg_attempt(d->host, m, ri, &r);
}

bool mta_dest_enqueue(mta_dest *d, mta_msg *m, uint32_t ri, sim_time_t now)
{
    if (mta_queue_dead(&d->w)) {
        defer_suspended(d, m, ri, now);
        return false;
    }
    /* An activation places all of a message's recipients before anything is dispatched, so the
     * message's open entry for d, if any, is the last on d's list. */
    mta_entry *e = d->todo_tail;
    uint32_t limit = d->p.destination_recipient_limit;
    if (!e || e->msg != m || (limit > 0 && e->nrcpt >= limit))
        e = entry_create(d, m);
    entry_add_rcpt(e, (uint16_t)ri);
    return true;
}

/* qmgr_defer_todo: everything waiting for a destination that just died is deferred now. */
static void defer_todo(mta_dest *d, sim_time_t now)
{
    mta_entry *e = d->todo_head;
    d->todo_head = d->todo_tail = NULL;
    d->todo = 0;
    ring_remove(d);
    while (e) {
        mta_entry *next = e->next;
        for (uint32_t k = 0; k < e->nrcpt; k++)
            defer_suspended(d, e->msg, e->rcpt[k], now);
        entry_release(e, now);
        e = next;
    }
}

/* ---- dead destinations, rate delays ---- */

static void dest_die(mta_dest *d, sim_time_t now, const char *reason, int32_t old)
{
    snprintf(d->dead_reason, sizeof(d->dead_reason), "%s", reason);
    d->st.dead_episodes++;
    d->dead_since = now;
    d->conn_load = d->conn_store = false; /* queue->dflags = 0 */
    window_changed(d, now, "failure", old);
    sim_calendar_schedule(d->host->env->cal, &d->dead_timer, now + d->host->env->cfg->minimal_backoff_time);
    defer_todo(d, now);
}

static void dest_revive(mta_dest *d, sim_time_t now, const char *cause)
{
    sim_calendar_cancel(d->host->env->cal, &d->dead_timer);
    d->st.dead_time += sim_time_to_sec(now - d->dead_since);
    mta_queue_unthrottle(&d->w, &d->p);
    window_changed(d, now, cause, 0);
}

/*
 * qmgr_queue_done: Postfix deletes an in-core queue that has nothing to do, nothing in delivery and
 * is neither dead nor suspended (qmgr_entry_done, after every entry it is done with; and when a dead
 * queue's timer ends), and the next message for the destination gets a new one: the initial window,
 * no feedback, no fail cohorts, last_done 0 (so on-demand caching starts off again: a delivery
 * that follows one which emptied the queue is not "back to back"). The destination's statistics go
 * on.
 */
static void dest_discard_if_empty(mta_dest *d, sim_time_t now)
{
    if (d->todo || d->w.busy || d->suspended || mta_queue_dead(&d->w))
        return;
    int32_t old = d->w.window;
    mta_queue_window_init(&d->w, &d->p);
    d->last_done = 0;
    d->conn_load = d->conn_store = false;
    window_changed(d, now, "new queue", old);
}

static void dead_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, dead_timer);
    mta_qmgr_wake(d->host, now);
    dest_revive(d, now, "revived");
    dest_discard_if_empty(d, now); /* the timer's end deletes an empty queue too */
    mta_dest_dispatch(d->tr, now);
}

static void rate_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_dest *d = SIM_CONTAINER_OF(ev, mta_dest, rate_timer);
    mta_qmgr_wake(d->host, now);
    d->suspended = false;
    mta_dest_dispatch(d->tr, now);
}

static void transport_timer_fired(sim_event *ev, sim_time_t now)
{
    mta_qmgr_wake(SIM_CONTAINER_OF(ev, mta_transport_rt, rate_timer)->host, now);
    mta_dest_dispatch(SIM_CONTAINER_OF(ev, mta_transport_rt, rate_timer), now);
}

/* ---- scheduling ---- */

/* qmgr_entry_select's on-demand caching decision, with Postfix's one-second clock. */
static void cache_flags(mta_dest *d, sim_time_t now)
{
    if (d->cache_always) {
        d->conn_load = d->conn_store = true;
        return;
    }
    if (!d->p.connection_cache_on_demand)
        return;
    const mta_config *c = d->host->env->cfg;
    bool back_to_back = d->last_done > 0 &&
                        mta_postfix_second(c, d->last_done) + c->clock_tick >= mta_postfix_second(c, now);
    if (!d->conn_store) {
        if (back_to_back)
            d->conn_load = d->conn_store = true;
    } else if (!(d->w.busy > 1 || back_to_back)) {
        d->conn_store = false;
    }
}

/* qmgr_entry_select: the first waiting entry goes to the delivery agent that is ready for it. */
static mta_entry *entry_select(mta_dest *d, sim_time_t now)
{
    mta_entry *e = d->todo_head;
    d->todo_head = e->next;
    if (!d->todo_head)
        d->todo_tail = NULL;
    d->todo--;
    d->w.busy++;
    d->tr->busy++;
    cache_flags(d, now);
    return e;
}

static bool may_start(const mta_dest *d)
{
    return !d->suspended && !mta_queue_dead(&d->w) && (uint32_t)d->w.window > d->w.busy && d->todo > 0;
}

/*
 * qmgr_transport_select: the transport wants one more agent when its ready queues have more room
 * (window - busy, at most their todo) than it has agents pending. A queue above its window (after
 * negative feedback) takes room away, as Postfix's signed sum does.
 */
static bool transport_wants_agent(const mta_transport_rt *tr)
{
    int64_t need = (int64_t)tr->pending + 1;
    const mta_dest *d = tr->ring;
    for (uint32_t k = 0; k < tr->nring; k++, d = d->rnext) {
        if (d->suspended || mta_queue_dead(&d->w))
            continue;
        int64_t room = (int64_t)d->w.window - (int64_t)d->w.busy;
        if ((need -= room < (int64_t)d->todo ? room : (int64_t)d->todo) <= 0)
            return true;
    }
    return false;
}

void mta_dest_dispatch(mta_transport_rt *tr, sim_time_t now)
{
    const mta_transport_params *tp = &tr->cfg->p;
    while (tr->ring && tr->pending < MTA_TRANSPORT_MAX_PEND && tr->busy + tr->pending < tp->maxproc &&
           transport_wants_agent(tr)) {
        if (tp->transport_rate_delay > 0) { /* one agent at a time, the delay apart (RATE_LOCK) */
            if (tr->pending > 0)
                return;
            if (now < tr->next_start) {
                if (!sim_event_pending(&tr->rate_timer))
                    sim_calendar_schedule(tr->host->env->cal, &tr->rate_timer, tr->next_start);
                return;
            }
            tr->next_start = now + tp->transport_rate_delay;
        }
        tr->pending++;
        mta_deliver_alloc(tr, now);
    }
}

mta_entry *mta_dest_agent_ready(mta_transport_rt *tr, sim_time_t now)
{
    tr->pending--;
    for (uint32_t steps = 0; tr->ring && steps < tr->nring; steps++) {
        mta_dest *d = tr->ring;
        tr->ring = d->rnext;
        if (!may_start(d))
            continue;
        mta_entry *e = entry_select(d, now);
        if (d->todo == 0)
            ring_remove(d);
        return e;
    }
    return NULL;
}

/* ---- what a finished delivery tells the queue ---- */

void mta_dest_feedback(mta_entry *e, bool hop_failed, const char *reason, sim_time_t now)
{
    mta_dest *d = e->dest;
    int32_t old = d->w.window;
    /* Feedback first, with this entry still counted as busy (qmgr_deliver_update). */
    if (hop_failed && reason[0]) {
        if (mta_queue_dead(&d->w))
            ; /* a dead queue takes no negative feedback */
        else if (mta_queue_throttle(&d->w, &d->p))
            dest_die(d, now, reason, old);
        else
            window_changed(d, now, "failure", old);
    } else if (!hop_failed) {
        if (mta_queue_dead(&d->w)) {
            dest_revive(d, now, "success"); /* an in-flight delivery succeeded: the destination lives */
        } else {
            mta_queue_unthrottle(&d->w, &d->p);
            window_changed(d, now, "success", old);
        }
    }
    d->w.busy--;
    d->tr->busy--;
    d->last_done = now;
    if (d->p.destination_rate_delay > 0) {
        if (mta_queue_dead(&d->w))
            dest_revive(d, now, "revived");
        d->suspended = true;
        sim_calendar_schedule(d->host->env->cal, &d->rate_timer, now + d->p.destination_rate_delay);
    }
}

void mta_dest_entry_done(mta_entry *e, sim_time_t now)
{
    mta_dest *d = e->dest;
    entry_release(e, now);
    dest_discard_if_empty(d, now);
    mta_dest_dispatch(d->tr, now);
}

/* ---- construction ---- */

void mta_dest_transport_init(mta_transport_rt *tr, const mta_transport_config *cfg, mta_host *h)
{
    tr->cfg = cfg;
    tr->host = h;
    sim_event_init(&tr->rate_timer, transport_timer_fired);
}

static uint64_t dest_hash(const mta_transport_rt *tr, const char *nexthop)
{
    return sim_hash_str(SIM_HASH_INIT ^ (uint64_t)(uintptr_t)tr, nexthop);
}

static void table_insert(mta_host *h, mta_dest *d)
{
    size_t b = d->hash & (h->dest_table_cap - 1);
    d->hnext = h->dest_table[b];
    h->dest_table[b] = d;
}

mta_dest *mta_dest_find_or_create(mta_host *h, mta_transport_rt *tr, const char *nexthop, receiver *rcv)
{
    uint64_t hash = dest_hash(tr, nexthop);
    if (h->dest_table_cap)
        for (mta_dest *d = h->dest_table[hash & (h->dest_table_cap - 1)]; d; d = d->hnext)
            if (d->hash == hash && d->tr == tr && strcmp(d->nexthop, nexthop) == 0)
                return d;
    mta_dest *d = sim_xcalloc(1, sizeof(*d));
    char name[512];
    snprintf(name, sizeof(name), "%s:%s", tr->cfg->name, nexthop);
    d->name = sim_xstrdup(name);
    d->nexthop = sim_xstrdup(nexthop);
    d->hash = hash;
    d->tr = tr;
    d->host = h;
    d->rcv = rcv;
    d->p = tr->cfg->p;
    mta_transport_params_resolve(&d->p);
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
    h->dests = sim_xgrow(h->dests, &h->dests_cap, h->ndests + 1, sizeof(*h->dests), 16);
    h->dests[h->ndests++] = d;
    if (h->ndests * 2 > h->dest_table_cap) { /* keep chains short: rebuild at half load */
        free(h->dest_table);
        h->dest_table_cap = h->dest_table_cap ? h->dest_table_cap * 2 : 64;
        h->dest_table = sim_xcalloc(h->dest_table_cap, sizeof(*h->dest_table));
        for (size_t i = 0; i < h->ndests; i++)
            table_insert(h, h->dests[i]);
    } else {
        table_insert(h, d);
    }
    return d;
}

void mta_dest_free(mta_dest *d)
{
    free(d->name);
    free(d->nexthop);
    free(d);
}

void mta_dest_pool_init(mta_host *h) { sim_pool_init(&h->entries, sizeof(mta_entry)); }
void mta_dest_pool_free(mta_host *h) { sim_pool_destroy(&h->entries, entry_fini); }
