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
 * The scheduler side (destination queues, feedback, dead destinations, agents) is mta_dest.c.
 *
 * Simplifications (docs/internals.md): the deferred scan visits due files in order of their retry
 * time (Postfix walks its hashed directories); in-memory recipient limits other than the active-queue
 * limit are not modelled; a transport's maxproc caps its busy agents directly (master's backlog).
 */
#include "models/mta_impl.h"
#include "sim/sim_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_random.h"

void mta_queue_id(const mta_host *h, uint64_t id, char *buf, size_t len)
{
    mta_record_queue_id(h->index, id, buf, len);
}

void mta_rcpt_address(const mta_host *h, const mta_msg *m, uint32_t i, char *buf, size_t len)
{
    mta_record_rcpt(m->id, i, h->env->domains[m->rcpt[i].domain], buf, len);
}

static const char *class_name(const mta_host *h, uint32_t cls) { return h->env->traffic->classes[cls].name; }

const char *mta_sender_of(const mta_host *h, uint32_t cls)
{
    const char *s = h->env->traffic->classes[cls].sender;
    return s ? s : "noreply@tempfail.test";
}

/* Remembers a pooled object so that mta_host_free can free those still in flight. */
void *mta_remember(void ***all, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *all = sim_xrealloc(*all, *cap * sizeof(**all));
    }
    return (*all)[(*n)++] = sim_xcalloc(1, size);
}

/* ---- records ---- */

void mta_emit_attempt(mta_host *h, mta_msg *m, uint32_t ri, const char *process, uint32_t pid,
                         const char *relay, uint32_t conn_use, sim_time_t when, const double delays[4],
                         const char *dsn, mta_status status, const char *reply, const char *key, const mta_dest *d)
{
    if (!h->env->attempt)
        return;
    char qid[16] = "", rcpt[320] = "";
    if (h->env->attempt_text) {
        mta_queue_id(h, m->id, qid, sizeof(qid));
        mta_rcpt_address(h, m, ri, rcpt, sizeof(rcpt));
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
        mta_queue_id(h, m->id, qid, sizeof(qid));
        mta_message_record r = {.msg_id = m->id, .queue_id = qid, .host = h->index, .cls = m->cls,
                                .cls_name = class_name(h, m->cls), .domain = h->env->domains[m->rcpt[0].domain],
                                .nrcpt = m->nrcpt, .size = m->size, .arrival = m->arrival,
                                .done = outcome == MTA_OUTCOME_QUEUED ? SIM_TIME_NEVER : now, .outcome = outcome,
                                .attempts = m->attempts, .resend_of = m->resend_of, .resend_no = m->resend_no};
        h->env->message_done(h->env->ctx, &r, m->tag);
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
            mta_dest_defer_suspended(h, m, i, d, now);
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
            e = mta_dest_entry_new(h, m, d);
            if (d->todo_tail)
                d->todo_tail->next = e;
            else
                d->todo_head = e;
            d->todo_tail = e;
            d->todo++;
            mta_dest_ring_add(d);
            if (nmade < 8)
                made[nmade++] = e;
            bool seen = false;
            for (uint32_t k = 0; k < ntouched; k++)
                seen |= touched[k] == d->tr;
            if (!seen && ntouched < 8)
                touched[ntouched++] = d->tr;
        }
        mta_dest_entry_add_rcpt(e, (uint16_t)i);
        m->pending++;
    }
    if (m->pending == 0) {
        mta_msg_pass_done(h, m, now);
        return;
    }
    for (uint32_t k = 0; k < ntouched; k++)
        mta_dest_dispatch(touched[k], now);
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

void mta_msg_pass_done(mta_host *h, mta_msg *m, sim_time_t now)
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
                mta_emit_attempt(h, m, i, "qmgr", 0, "none", 0, now, delays, "4.4.7", MTA_STATUS_EXPIRED, reply,
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
    mta_msg *m = sim_xmalloc(sizeof(*m) + tm->nrcpt * sizeof(mta_rcpt));
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

mta_host *mta_host_create(const mta_env *env, uint32_t index, const char *src_ip)
{
    mta_host *h = sim_xcalloc(1, sizeof(*h));
    h->env = env;
    h->index = index;
    snprintf(h->name, sizeof(h->name), "mta%u", index + 1);
    h->src_ip = sim_xstrdup(src_ip);
    char stream[64];
    snprintf(stream, sizeof(stream), "host/%u", index);
    h->rng = sim_random_stream(env->seed, env->replication, stream);
    const mta_config *c = env->cfg;
    latency_resource_init(&h->cpu, c->latency.cores);
    latency_resource_init(&h->disk, 1);
    h->client = smtp_client_create(env->cal, src_ip, &c->latency, c->latency.cores ? &h->cpu : NULL, h->rng);
    smtp_client_set_text(h->client, env->attempt_text);
    h->ntr = c->ntransports;
    h->tr = sim_xcalloc(h->ntr, sizeof(*h->tr));
    for (size_t i = 0; i < h->ntr; i++) {
        h->tr[i].cfg = &c->transports[i];
        h->tr[i].host = h;
        sim_event_init(&h->tr[i].rate_timer, mta_dest_transport_timer);
    }
    h->dest_of = sim_xcalloc(env->ndomains, sizeof(*h->dest_of));
    for (size_t di = 0; di < env->ndomains; di++) {
        const char *dom = env->domains[di];
        size_t t = 0; /* transports[0] is "smtp", the default */
        for (size_t i = 1; i < h->ntr; i++)
            for (size_t k = 0; k < c->transports[i].ndomains; k++)
                if (strcmp(c->transports[i].domains[k], dom) == 0)
                    t = i;
        const char *nexthop = c->transports[t].nexthop ? c->transports[t].nexthop : dom;
        h->dest_of[di] = mta_dest_find_or_create(h, &h->tr[t], nexthop, env->domain_rcv[di]);
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

