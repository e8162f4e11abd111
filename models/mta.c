/*
 * mta - a Postfix host: queues, queue manager and delivery agents (postfix-model.md sections 2-7).
 *
 * Life of a message:
 *   submit    smtpd and cleanup work on the host's cores (cpu.per_message), cleanup writes and fsyncs
 *             the queue file through the shared disk, then the file is in incoming/ (files reach it
 *             in arrival order, so one event serves the whole arrival queue);
 *   activate  the queue manager moves files into the active queue while it holds fewer than
 *             qmgr_message_active_limit, alternating between incoming and the current deferred scan;
 *             each recipient is resolved to a destination queue (transport, nexthop) and grouped into
 *             entries of at most destination_recipient_limit recipients; a dead destination defers its
 *             recipients at once, without a connection ("delivery temporarily suspended");
 *   deliver   per transport, qmgr asks for agents (at most two pending) while its destinations have
 *             room in their windows and fewer than maxproc agents are busy or pending; a ready agent
 *             takes the next destination's first entry in turn (round robin), delivers it
 *             (smtp_client) and reports per recipient and once per entry (feedback);
 *   done      when every recipient of this pass is done, the message leaves (delivered or bounced) or
 *             goes to deferred/ with backoff clamp(age, minimal_backoff_time, maximal_backoff_time);
 *             it is retried only when a deferred-queue scan (every queue_run_delay) finds it due; a
 *             message older than maximal_queue_lifetime after a deferring attempt is returned.
 *
 * The scheduler side (destination queues, their entries, feedback, dead destinations) is
 * mta_dest.c, the delivery agents mta_deliver.c (mta_impl.h says who owns what).
 *
 * Simplifications (docs/internals.md): the deferred scan visits due files in order of their retry
 * time (Postfix walks its hashed directories); in-memory recipient limits other than the active-queue
 * limit are not modelled; a transport's maxproc caps its busy and pending agents directly (master's
 * backlog).
 */
#include "models/mta_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_hash.h"
#include "sim/sim_mem.h"
#include "sim/sim_random.h"

void mta_msg_attempt(mta_host *h, const mta_msg *m, uint32_t ri, mta_attempt_record *r)
{
    msg_live_attempt(h->env, h->index, &m->c, ri, h->env->domains[m->rcpt[ri].domain], r);
}

static void msg_leave(mta_host *h, mta_msg *m, sim_time_t now, mta_outcome outcome)
{
    msg_live_done(h->env, h->index, &m->c, h->env->domains[m->rcpt[0].domain], now, outcome);
}

static void msg_free(mta_host *h, mta_msg *m)
{
    msg_live_remove(&h->live, &m->c);
    free(m);
}

/* ---- message flow ---- */

/* The queue manager takes a message into the active queue: each recipient still to do goes to its
 * destination queue, and every transport given work is woken once its last recipient is placed. */
static void activate(mta_host *h, mta_msg *m, sim_time_t now)
{
    m->c.state = MS_ACTIVE;
    m->active_since = now;
    m->c.attempts++;
    h->n_active++;
    m->c.pending = 0;
    uint64_t pass = ++h->passes;
    size_t base = h->ntouched; /* a dispatch below may activate another message: its pass stacks above */
    for (uint32_t i = 0; i < m->c.nrcpt; i++) {
        if (m->rcpt[i].status == RS_DELIVERED || m->rcpt[i].status == RS_BOUNCED)
            continue;
        m->rcpt[i].status = RS_PENDING;
        mta_dest *d = mta_dest_of(h, m, i);
        if (!mta_dest_enqueue(d, m, i, now))
            continue;
        m->c.pending++;
        if (d->tr->pass_mark != pass) {
            d->tr->pass_mark = pass;
            h->touched = sim_xgrow(h->touched, &h->touched_cap, h->ntouched + 1, sizeof(*h->touched), 8);
            h->touched[h->ntouched++] = d->tr;
        }
    }
    if (m->c.pending == 0) {
        h->ntouched = base;
        mta_msg_pass_done(h, m, now);
        return;
    }
    for (size_t k = base; k < h->ntouched; k++)
        mta_dest_dispatch(h->touched[k], now);
    h->ntouched = base;
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
    for (uint32_t i = 0; i < m->c.nrcpt; i++) {
        deferred |= m->rcpt[i].status == RS_DEFERRED;
        bounced |= m->rcpt[i].status == RS_BOUNCED;
    }
    const mta_config *c = h->env->cfg;
    if (deferred && now - m->c.arrival >= c->maximal_queue_lifetime) {
        /* Too old: the deferred recipients are returned to the sender. */
        for (uint32_t i = 0; i < m->c.nrcpt; i++)
            if (m->rcpt[i].status == RS_DEFERRED) {
                m->rcpt[i].status = RS_BOUNCED;
                mta_attempt_record r = {.when = now, .process = "qmgr", .relay = "none",
                                        .delays = {sim_time_to_sec(m->active_since - m->c.arrival), 0, 0, 0},
                                        .dsn = "4.4.7", .status = MTA_STATUS_EXPIRED, .reply = "message too old",
                                        .reason_key = "expired", .destination = mta_dest_of(h, m, i)->name};
                mta_msg_attempt(h, m, i, &r);
            }
        deferred = false;
        bounced = true;
    }
    if (deferred) {
        /* qmgr_active_done_3_generic and qmgr_active_defer, in Postfix's whole seconds: the file's
         * mtime becomes event_time() + clamp(event_time() - create_time). */
        sim_time_t secs = mta_postfix_second(c, now);
        sim_time_t age = secs - mta_postfix_second(c, m->c.arrival), delay = age;
        if (delay < c->minimal_backoff_time)
            delay = c->minimal_backoff_time;
        if (delay > c->maximal_backoff_time)
            delay = c->maximal_backoff_time;
        m->next_try = secs + delay;
        m->c.state = MS_DEFERRED;
        h->n_deferred++;
        msg_heap_push(&h->deferred, m->next_try, m->c.id, m);
    } else {
        msg_leave(h, m, now, bounced ? MTA_OUTCOME_BOUNCED : MTA_OUTCOME_DELIVERED);
        msg_free(h, m);
    }
    feed(h, now);
}

/*
 * The order a scan visits the due files in: Postfix walks deferred/ as the file system lists it
 * (qmgr_scan.c, scan_dir.c: the hashed subdirectory of the queue id's first character, then the
 * files in it), neither by arrival nor by retry time - which of the messages retried together meets
 * the receiver first, and so whose backoff doubles again. An ext4 directory lists by a hash of the
 * names: the model orders by a hash of the subdirectory, then of the queue id.
 */
typedef struct scan_item {
    uint64_t key;
    mta_msg *m;
} scan_item;

static int scan_item_cmp(const void *a, const void *b)
{
    uint64_t x = ((const scan_item *)a)->key, y = ((const scan_item *)b)->key;
    return x < y ? -1 : x > y;
}

static uint64_t scan_key(const mta_host *h, const mta_msg *m)
{
    char qid[16], dir[2];
    mta_record_queue_id(h->index, m->c.id, qid, sizeof(qid));
    dir[0] = qid[0];
    dir[1] = 0;
    return (sim_hash_str(SIM_HASH_INIT, dir) & 0xFFFF000000000000ull) | (sim_hash_str(SIM_HASH_INIT, qid) >> 16);
}

/* The deferred-queue scan, run: due files join the feed (a running scan is re-run), and the timer
 * is set for the next, queue_run_delay after the second this one was due in. */
static void scan_run(mta_host *h, sim_time_t now, sim_time_t due)
{
    sim_time_t d = h->env->cfg->queue_run_delay;
    sim_time_t next = h->scan_start + ((due - h->scan_start) / d + 1) * d;
    if (h->scan_head) {
        h->scan_again = true;
    } else {
        /* qmgr_active_feed: a file is due unless its mtime > time() + 1, in whole seconds */
        const mta_config *c = h->env->cfg;
        size_t n = 0;
        while (msg_heap_top_time(&h->deferred) <= mta_postfix_second(c, now) + c->clock_tick) {
            mta_msg *m = msg_heap_pop(&h->deferred);
            h->scan_buf = sim_xgrow(h->scan_buf, &h->scan_cap, n + 1, sizeof(*h->scan_buf), 64);
            h->scan_buf[n++] = (scan_item){scan_key(h, m), m};
        }
        if (n > 1)
            qsort(h->scan_buf, n, sizeof(*h->scan_buf), scan_item_cmp);
        for (size_t i = 0; i < n; i++) {
            mta_msg *m = h->scan_buf[i].m;
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

/*
 * The scan's timer comes due. Postfix's timers count whole seconds (events.c): the loop, last awake at
 * w, slept timer->when - time() seconds, so it wakes at the due second plus w's fraction of its own
 * second - unless another event wakes it first (mta_qmgr_wake). A busy qmgr scans on the second; an
 * idle one up to a second late, and files it defers then are stamped with the next second.
 */
static void scan_fired(sim_event *ev, sim_time_t now)
{
    mta_host *h = SIM_CONTAINER_OF(ev, mta_host, scan_ev);
    sim_time_t frac = h->qmgr_wake - mta_postfix_second(h->env->cfg, h->qmgr_wake);
    if (h->qmgr_wake < now && frac > 0) {
        h->scan_due = now;
        h->scan_late = true;
        sim_calendar_schedule(h->env->cal, &h->scan_late_ev, now + frac);
        return;
    }
    h->qmgr_wake = now;
    scan_run(h, now, now);
}

/* The late scan's own wake-up: the same as any other event of qmgr's (mta_qmgr_wake runs it). */
static void scan_late_fired(sim_event *ev, sim_time_t now) { mta_qmgr_wake(SIM_CONTAINER_OF(ev, mta_host, scan_late_ev), now); }

/*
 * master(8) wakes qmgr every 300 s (master.cf's wakeup column for qmgr, 300 in Postfix's and the
 * replay's master.cf), from when it started qmgr: a trigger that starts an incoming scan - empty
 * here, where files reach the active queue as they arrive - and wakes qmgr's loop. Its timer is
 * taken to fire on the second (master's own loop is not modelled): a due deferred-queue scan then
 * runs on its second, which bounds how far an idle qmgr's scans drift through their fractions.
 */
#define MTA_MASTER_WAKEUP 300

static void master_fired(sim_event *ev, sim_time_t now)
{
    mta_host *h = SIM_CONTAINER_OF(ev, mta_host, master_ev);
    mta_qmgr_wake(h, now);
    sim_calendar_schedule(h->env->cal, &h->master_ev, now + MTA_MASTER_WAKEUP * h->env->cfg->clock_tick);
}

void mta_qmgr_wake(mta_host *h, sim_time_t now)
{
    if (h->scan_late && now >= h->scan_due) {
        sim_calendar_cancel(h->env->cal, &h->scan_late_ev);
        h->scan_late = false;
        h->qmgr_wake = now;
        scan_run(h, now, h->scan_due);
    }
    h->qmgr_wake = now;
}

/* cleanup's trigger: a new file in incoming/ wakes qmgr */
static void incoming_add(mta_host *h, mta_msg *m, sim_time_t now)
{
    mta_qmgr_wake(h, now);
    m->c.state = MS_INCOMING;
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
    msg_live_add(&h->live, &m->c, tm, tag, now);
    for (uint32_t i = 0; i < tm->nrcpt; i++)
        m->rcpt[i] = (mta_rcpt){.domain = domains[i], .status = RS_PENDING};
    h->n_incoming++;
    const latency_config *lat = &h->env->cfg->latency;
    sim_time_t cpu = latency_draw(&lat->cpu_per_message, h->rng), ready = now;
    if (cpu > 0) {
        /* smtpd + cleanup on the host's cores; files reach incoming/ in the order they arrived */
        ready = mta_cpu_work(h, now, cpu);
        if (ready < h->arrival_done)
            ready = h->arrival_done;
        h->arrival_done = ready;
    } else if (!lat->disk_enabled) {
        incoming_add(h, m, now);
        return;
    }
    if (lat->disk_enabled) {
        sim_time_t service = 0;
        for (uint32_t k = 0; k < lat->disk_writes_per_message; k++)
            service += latency_draw(&lat->disk_fsync, h->rng);
        ready = latency_resource_acquire(&h->disk, ready, service, NULL);
    }
    m->disk_done = ready;
    m->c.state = MS_INCOMING;
    if (h->disk_tail)
        h->disk_tail->next = m;
    else {
        h->disk_head = m;
        sim_calendar_schedule(h->env->cal, &h->disk_ev, m->disk_done);
    }
    h->disk_tail = m;
}

/* transport_maps: the transport of each of the world's domains - the transport that lists it (smtp
 * included: an explicit "domain smtp:" entry pins the domain there whatever its sender), else SIZE_MAX (none: the sender decides, below). A hash of the domain names keeps this linear in
 * the sizes of the map and the world, which may both hold thousands of domains. */
static size_t *transport_of_domains(const mta_env *env)
{
    const mta_config *c = env->cfg;
    size_t *tr_of = sim_xcalloc(env->ndomains, sizeof(*tr_of));
    for (size_t di = 0; di < env->ndomains; di++)
        tr_of[di] = SIZE_MAX;
    size_t cap = 16;
    while (cap < env->ndomains * 2)
        cap *= 2;
    size_t *slot = sim_xcalloc(cap, sizeof(*slot)); /* domain index + 1; 0 = empty */
    for (size_t di = 0; di < env->ndomains; di++) {
        size_t k = sim_hash_str(SIM_HASH_INIT, env->domains[di]) & (cap - 1);
        while (slot[k])
            k = (k + 1) & (cap - 1);
        slot[k] = di + 1;
    }
    for (size_t t = 0; t < c->ntransports; t++)
        for (size_t i = 0; i < c->transports[t].ndomains; i++) {
            const char *dom = c->transports[t].domains[i];
            for (size_t k = sim_hash_str(SIM_HASH_INIT, dom) & (cap - 1); slot[k]; k = (k + 1) & (cap - 1))
                if (strcmp(env->domains[slot[k] - 1], dom) == 0) {
                    tr_of[slot[k] - 1] = t;
                    break;
                }
        }
    free(slot);
    return tr_of;
}

size_t mta_route(const mta_config *c, size_t listed, const char *sender)
{
    if (listed != SIZE_MAX)
        return listed;
    const char *at = strrchr(sender, '@');
    for (int pass = 0; pass < 2; pass++)
        for (size_t t = 0; t < c->ntransports; t++)
            for (size_t i = 0; i < c->transports[t].nsenders; i++) {
                const char *e = c->transports[t].senders[i];
                if (pass == 0 ? (sender[0] ? strcasecmp(e, sender) == 0 : strcmp(e, "<>") == 0)
                              : (at && e[0] == '@' && strcasecmp(e, at) == 0))
                    return t;
            }
    return 0;
}

size_t mta_route_listing(const mta_config *c, const char *domain)
{
    for (size_t t = 0; t < c->ntransports; t++)
        for (size_t i = 0; i < c->transports[t].ndomains; i++)
            if (strcasecmp(c->transports[t].domains[i], domain) == 0)
                return t;
    return SIZE_MAX;
}

/* Whether any transport routes by sender: then each class has its own column of destinations. */
static bool routes_by_sender(const mta_config *c)
{
    for (size_t t = 0; t < c->ntransports; t++)
        if (c->transports[t].nsenders)
            return true;
    return false;
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
    for (size_t i = 0; i < h->ntr; i++)
        mta_dest_transport_init(&h->tr[i], &c->transports[i], h);
    mta_dest_pool_init(h);
    mta_deliver_pool_init(h);
    /* trivial-rewrite's resolution, once per (class, domain): transport_maps by the recipient's domain
     * first, then the sender's transport, then the default */
    size_t *tr_of = transport_of_domains(env);
    bool bys = routes_by_sender(c);
    size_t ncls = bys ? env->traffic->nclasses : 1;
    h->dest_stride = ncls > 1 ? env->ndomains : 0;
    h->dest_of = sim_xcalloc(ncls * env->ndomains, sizeof(*h->dest_of));
    for (size_t ci = 0; ci < ncls; ci++) {
        const char *sender = bys ? traffic_class_sender(&env->traffic->classes[ci]) : "";
        for (size_t di = 0; di < env->ndomains; di++) {
            size_t tri = mta_route(c, tr_of[di], sender);
            const mta_transport_config *t = &c->transports[tri];
            const char *nexthop = t->nexthop ? t->nexthop : env->domains[di];
            h->dest_of[ci * env->ndomains + di] = mta_dest_find_or_create(h, &h->tr[tri], nexthop, env->domain_rcv[di]);
        }
    }
    free(tr_of);
    sim_event_init(&h->disk_ev, disk_fired);
    sim_event_init(&h->scan_ev, scan_fired);
    sim_event_init(&h->scan_late_ev, scan_late_fired);
    /* qmgr starts with a deferred-queue scan, then one every queue_run_delay: this host's at its own
     * phase of that cycle (mta_qmgr_start). */
    h->scan_start = sim_calendar_now(env->cal) + mta_qmgr_start(c, index, env->seed, env->replication);
    sim_calendar_schedule(env->cal, &h->scan_ev, h->scan_start);
    sim_event_init(&h->master_ev, master_fired);
    sim_calendar_schedule(env->cal, &h->master_ev, h->scan_start + MTA_MASTER_WAKEUP * c->clock_tick);
    return h;
}

void mta_host_finish(mta_host *h, sim_time_t now)
{
    for (msg_live *l = h->live.head; l; l = l->lnext)
        msg_leave(h, SIM_CONTAINER_OF(l, mta_msg, c), now, MTA_OUTCOME_QUEUED);
    for (size_t i = 0; i < h->ndests; i++) {
        mta_dest *d = h->dests[i];
        if (mta_queue_dead(&d->w))
            d->st.dead_time += sim_time_to_sec(now - d->dead_since);
        sim_tavg_set(&d->st.window_avg, now, d->w.window);
    }
}

void mta_host_free(mta_host *h)
{
    if (!h)
        return;
    for (msg_live *l = h->live.head, *n; l; l = n) {
        n = l->lnext;
        free(SIM_CONTAINER_OF(l, mta_msg, c));
    }
    for (size_t i = 0; i < h->ndests; i++)
        mta_dest_free(h->dests[i]);
    mta_dest_pool_free(h);
    mta_deliver_pool_free(h);
    smtp_client_free(h->client, 0);
    latency_resource_destroy(&h->cpu);
    latency_resource_destroy(&h->disk);
    gsl_rng_free(h->rng);
    free(h->dests);
    free(h->dest_table);
    free(h->touched);
    free(h->scan_buf);
    free(h->dest_of);
    free(h->tr);
    msg_heap_free(&h->deferred);
    free(h->src_ip);
    free(h);
}

void mta_host_queue_sizes(const mta_host *h, uint64_t *incoming, uint64_t *active, uint64_t *deferred)
{
    *incoming = h->n_incoming;
    *active = h->n_active;
    *deferred = h->n_deferred;
}

sim_time_t mta_host_oldest(const mta_host *h) { return msg_live_oldest(&h->live); }
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
        if (mta_queue_dead(&h->dests[i]->w))
            h->dests[i]->dead_since = now;
    }
}

