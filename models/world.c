/*
 * world - the simulated world of one run: traffic -> sender hosts -> receivers, and its statistics.
 *
 * Domains: every recipient domain of the traffic mix gets a global index; each is owned by the
 * receiver that lists it, or by the last receiver (the scenario's implicit accept-all "default").
 *
 * Re-sends (the login-code loop): for classes with `resend`, each message gets a tracker in a FIFO per
 * class; `after` is the same for the whole class, so deadlines come in arrival order and one calendar
 * event per class serves them all. At a deadline, an undelivered message may make the user ask again
 * (traffic_resend decides, from its own stream); the new message enters like any other.
 *
 * The number of messages in the system is tracked exactly (at every arrival and departure) so that
 * Little's law can be checked against the latency statistics; the split by queue is sampled.
 */
#include "models/world.h"
#include "sim/sim_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tracker {
    uint64_t id, resend_of;
    uint32_t resend_no;
    sim_time_t deadline;
    bool delivered;
} tracker;

typedef struct class_rt {
    uint16_t *gdomain;      /* class-local domain index -> global */
    tracker *ring;          /* FIFO of trackers, capacity a power of two */
    size_t cap, head, count;
    uint64_t base_seq;      /* sequence number of ring[head] */
    sim_event ev;
    world *w;
    uint32_t index;
} class_rt;

struct world {
    world_config cfg;
    sim_calendar *cal;
    traffic *gen;
    sim_event arrival_ev;
    char **domains;
    receiver **domain_rcv;
    size_t ndomains;
    receiver **rcv;
    size_t nrcv;
    mta_env env;
    mta_host **hosts;
    size_t nhosts;
    apppool *pool;
    size_t next_host;
    class_rt *cls;
    uint16_t *scratch;
    size_t scratch_cap;
    uint64_t in_system;
    world_stats st;
};


static void count_reason(world_stats *st, const char *key)
{
    for (size_t i = 0; i < st->nreasons; i++)
        if (strcmp(st->deferral_reasons[i].key, key) == 0) {
            st->deferral_reasons[i].n++;
            return;
        }
    st->deferral_reasons = sim_xreallocarray(st->deferral_reasons, st->nreasons + 1, sizeof(*st->deferral_reasons));
    world_count *c = &st->deferral_reasons[st->nreasons++];
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->n = 1;
}

static void in_system(world *w, sim_time_t now, int delta)
{
    w->in_system = (uint64_t)((int64_t)w->in_system + delta);
    sim_tavg_set(&w->st.q_total, now, (double)w->in_system);
    if (w->in_system > w->st.peak_total)
        w->st.peak_total = w->in_system;
}

/* ---- hooks from the senders ---- */

static void on_attempt(void *ctx, const mta_attempt_record *r)
{
    world *w = ctx;
    w->st.attempts++;
    switch (r->status) {
    case MTA_STATUS_SENT:
        w->st.rcpt_delivered++;
        break;
    case MTA_STATUS_DEFERRED:
        w->st.rcpt_deferred++;
        w->st.deferrals++;
        count_reason(&w->st, r->reason_key ? r->reason_key : "other");
        break;
    default:
        w->st.rcpt_bounced++;
    }
    if (w->cfg.observer.attempt)
        w->cfg.observer.attempt(w->cfg.observer.ctx, r);
}

static tracker *tracker_of(world *w, uint64_t tag)
{
    if (!tag)
        return NULL;
    class_rt *c = &w->cls[tag >> 48];
    uint64_t seq = (tag & 0xFFFFFFFFFFFFull) - 1;
    if (seq < c->base_seq || seq >= c->base_seq + c->count)
        return NULL;
    return &c->ring[(c->head + (seq - c->base_seq)) & (c->cap - 1)];
}

static void on_window(void *ctx, const mta_window_record *r)
{
    world *w = ctx;
    w->cfg.observer.window(w->cfg.observer.ctx, r);
}

static void on_message(void *ctx, const mta_message_record *r, uint64_t tag)
{
    world *w = ctx;
    world_class_stats *cs = &w->st.cls[r->cls];
    switch (r->outcome) {
    case MTA_OUTCOME_DELIVERED: {
        double lat = sim_time_to_sec(r->done - r->arrival);
        cs->delivered++;
        w->st.delivered++;
        sim_quantile_add(cs->latency, lat);
        sim_quantile_add(w->st.latency, lat);
        tracker *t = tracker_of(w, tag);
        if (t)
            t->delivered = true;
        break;
    }
    case MTA_OUTCOME_BOUNCED:
        cs->bounced++;
        w->st.bounced++;
        break;
    default:
        cs->queued++;
        w->st.queued++;
    }
    if (r->outcome != MTA_OUTCOME_QUEUED) {
        sim_tally_add(&cs->attempts, r->attempts);
        in_system(w, r->done, -1);
    }
    if (w->cfg.observer.message)
        w->cfg.observer.message(w->cfg.observer.ctx, r);
}

/* ---- arrivals and re-sends ---- */

static uint64_t track(world *w, const traffic_msg *m, sim_time_t now)
{
    class_rt *c = &w->cls[m->cls];
    const traffic_class_config *cc = &w->cfg.traffic->classes[m->cls];
    if (cc->resend.after <= 0 || m->resend_no >= cc->resend.max)
        return 0;
    if (c->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        tracker *nr = sim_xcalloc(ncap, sizeof(*nr));
        for (size_t i = 0; i < c->count; i++)
            nr[i] = c->ring[(c->head + i) & (c->cap - 1)];
        free(c->ring);
        c->ring = nr;
        c->cap = ncap;
        c->head = 0;
    }
    uint64_t seq = c->base_seq + c->count;
    c->ring[(c->head + c->count) & (c->cap - 1)] =
        (tracker){.id = m->id, .resend_of = m->resend_of, .resend_no = m->resend_no, .deadline = now + cc->resend.after};
    c->count++;
    if (!sim_event_pending(&c->ev))
        sim_calendar_schedule(w->cal, &c->ev, now + cc->resend.after);
    return ((uint64_t)m->cls << 48) | (seq + 1);
}

static void submit(world *w, const traffic_msg *m, sim_time_t now)
{
    if (w->scratch_cap < m->nrcpt) {
        w->scratch_cap = m->nrcpt * 2;
        w->scratch = sim_xreallocarray(w->scratch, w->scratch_cap, sizeof(*w->scratch));
    }
    for (uint32_t i = 0; i < m->nrcpt; i++)
        w->scratch[i] = w->cls[m->cls].gdomain[m->rcpt_domain[i]];
    w->st.arrived++;
    w->st.cls[m->cls].arrived++;
    if (m->resend_no > 0) {
        w->st.resent++;
        w->st.cls[m->cls].resent++;
    }
    in_system(w, now, +1);
    uint64_t tag = track(w, m, now);
    if (w->pool) {
        apppool_submit(w->pool, m, w->scratch, tag, now);
    } else {
        mta_host *h = w->hosts[w->next_host];
        w->next_host = (w->next_host + 1) % w->nhosts;
        mta_host_submit(h, m, w->scratch, tag, now);
    }
}

static void resend_fired(sim_event *ev, sim_time_t now)
{
    class_rt *c = SIM_CONTAINER_OF(ev, class_rt, ev);
    world *w = c->w;
    while (c->count && c->ring[c->head].deadline <= now) {
        tracker t = c->ring[c->head];
        c->head = (c->head + 1) & (c->cap - 1);
        c->count--;
        c->base_seq++;
        if (t.delivered)
            continue;
        traffic_msg orig = {.id = t.id, .cls = c->index, .resend_of = t.resend_of, .resend_no = t.resend_no};
        traffic_msg m;
        if (traffic_resend(w->gen, &orig, t.resend_no, now, &m))
            submit(w, &m, now);
    }
    if (c->count)
        sim_calendar_schedule(w->cal, &c->ev, c->ring[c->head].deadline);
}

static void arrival_fired(sim_event *ev, sim_time_t now)
{
    world *w = SIM_CONTAINER_OF(ev, world, arrival_ev);
    traffic_msg m;
    while (traffic_peek(w->gen) <= now && traffic_next(w->gen, &m))
        submit(w, &m, now);
    sim_time_t next = traffic_peek(w->gen);
    if (next != SIM_TIME_NEVER)
        sim_calendar_schedule(w->cal, &w->arrival_ev, next);
}

/* ---- construction ---- */

static uint16_t domain_index(world *w, const char *name)
{
    for (size_t i = 0; i < w->ndomains; i++)
        if (strcmp(w->domains[i], name) == 0)
            return (uint16_t)i;
    w->domains = sim_xreallocarray(w->domains, w->ndomains + 1, sizeof(*w->domains));
    w->domains[w->ndomains] = sim_xstrdup(name);
    return (uint16_t)w->ndomains++;
}

world *world_create(const world_config *cfg, sim_calendar *cal, char *err, size_t errlen)
{
    if (cfg->nreceivers == 0 || cfg->traffic->nclasses == 0) {
        snprintf(err, errlen, "a world needs at least one receiver and one traffic class");
        return NULL;
    }
    world *w = sim_xcalloc(1, sizeof(*w));
    w->cfg = *cfg;
    w->cal = cal;
    w->nrcv = cfg->nreceivers;
    w->rcv = sim_xcalloc(w->nrcv, sizeof(*w->rcv));
    for (size_t i = 0; i < w->nrcv; i++) {
        w->rcv[i] = receiver_create(&cfg->receivers[i], (uint32_t)i, cfg->seed, cfg->replication, err, errlen);
        if (!w->rcv[i]) {
            world_free(w);
            return NULL;
        }
    }
    const traffic_config *tc = cfg->traffic;
    w->cls = sim_xcalloc(tc->nclasses, sizeof(*w->cls));
    w->st.cls = sim_xcalloc(tc->nclasses, sizeof(*w->st.cls));
    for (size_t c = 0; c < tc->nclasses; c++) {
        w->cls[c].w = w;
        w->cls[c].index = (uint32_t)c;
        sim_event_init(&w->cls[c].ev, resend_fired);
        w->cls[c].gdomain = sim_xcalloc(tc->classes[c].ndomains, sizeof(uint16_t));
        for (size_t d = 0; d < tc->classes[c].ndomains; d++)
            w->cls[c].gdomain[d] = domain_index(w, tc->classes[c].domains[d].domain);
        w->st.cls[c].latency = sim_quantile_create();
        sim_tally_reset(&w->st.cls[c].attempts);
    }
    w->st.latency = sim_quantile_create();
    w->domain_rcv = sim_xcalloc(w->ndomains, sizeof(*w->domain_rcv));
    for (size_t d = 0; d < w->ndomains; d++) {
        w->domain_rcv[d] = w->rcv[w->nrcv - 1];
        for (size_t r = 0; r + 1 < w->nrcv; r++)
            for (size_t k = 0; k < cfg->receivers[r].ndomains; k++)
                if (strcmp(cfg->receivers[r].domains[k], w->domains[d]) == 0)
                    w->domain_rcv[d] = w->rcv[r];
    }
    w->env = (mta_env){.cal = cal, .cfg = cfg->mta, .traffic = tc, .domains = (const char *const *)w->domains,
                       .domain_rcv = w->domain_rcv, .ndomains = w->ndomains, .seed = cfg->seed,
                       .replication = cfg->replication, .ctx = w, .attempt = on_attempt,
                       .attempt_text = cfg->observer.attempt != NULL, .message_done = on_message,
                       .window = cfg->observer.window ? on_window : NULL};
    const mta_config *mc = cfg->mta;
    if (mc->kind == MTA_KIND_APPPOOL) {
        w->pool = apppool_create(&w->env, mc->nsource_ips ? mc->source_ips[0] : "192.0.2.1");
    } else {
        w->nhosts = mc->hosts ? mc->hosts : 1;
        w->hosts = sim_xcalloc(w->nhosts, sizeof(*w->hosts));
        for (size_t i = 0; i < w->nhosts; i++) {
            const char *ip = mc->nsource_ips ? mc->source_ips[i % mc->nsource_ips] : "192.0.2.1";
            w->hosts[i] = mta_host_create(&w->env, (uint32_t)i, ip);
        }
    }
    sim_time_t now = sim_calendar_now(cal);
    sim_tavg_init(&w->st.q_incoming, now, 0);
    sim_tavg_init(&w->st.q_active, now, 0);
    sim_tavg_init(&w->st.q_deferred, now, 0);
    sim_tavg_init(&w->st.q_total, now, 0);
    w->gen = traffic_create(tc, cfg->seed, cfg->replication, cfg->horizon);
    sim_event_init(&w->arrival_ev, arrival_fired);
    sim_time_t first = traffic_peek(w->gen);
    if (first != SIM_TIME_NEVER)
        sim_calendar_schedule(cal, &w->arrival_ev, first);
    return w;
}

void world_free(world *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nhosts; i++)
        mta_host_free(w->hosts[i]);
    apppool_free(w->pool);
    for (size_t i = 0; i < w->nrcv; i++)
        receiver_free(w->rcv[i]);
    if (w->cls)
        for (size_t c = 0; c < w->cfg.traffic->nclasses; c++) {
            free(w->cls[c].gdomain);
            free(w->cls[c].ring);
            sim_quantile_free(w->st.cls[c].latency);
        }
    sim_quantile_free(w->st.latency);
    for (size_t d = 0; d < w->ndomains; d++)
        free(w->domains[d]);
    if (w->gen)
        traffic_free(w->gen);
    free(w->domains);
    free(w->domain_rcv);
    free(w->hosts);
    free(w->rcv);
    free(w->cls);
    free(w->st.cls);
    free(w->st.deferral_reasons);
    free(w->scratch);
    free(w);
}

bool world_busy(const world *w) { return w->in_system > 0 || traffic_peek(w->gen) != SIM_TIME_NEVER; }
uint64_t world_in_system(const world *w) { return w->in_system; }

void world_queue_sizes(const world *w, uint64_t *incoming, uint64_t *active, uint64_t *deferred)
{
    *incoming = *active = *deferred = 0;
    if (w->pool) {
        apppool_queue_sizes(w->pool, incoming, active, deferred);
        return;
    }
    for (size_t i = 0; i < w->nhosts; i++) {
        uint64_t a, b, c;
        mta_host_queue_sizes(w->hosts[i], &a, &b, &c);
        *incoming += a;
        *active += b;
        *deferred += c;
    }
}

sim_time_t world_oldest(const world *w)
{
    if (w->pool)
        return apppool_oldest(w->pool);
    sim_time_t o = SIM_TIME_NEVER;
    for (size_t i = 0; i < w->nhosts; i++) {
        sim_time_t t = mta_host_oldest(w->hosts[i]);
        if (t < o)
            o = t;
    }
    return o;
}

void world_observe(world *w, sim_time_t now)
{
    uint64_t in, act, def;
    world_queue_sizes(w, &in, &act, &def);
    sim_tavg_set(&w->st.q_incoming, now, (double)in);
    sim_tavg_set(&w->st.q_active, now, (double)act);
    sim_tavg_set(&w->st.q_deferred, now, (double)def);
    if (in > w->st.peak_incoming)
        w->st.peak_incoming = in;
    if (act > w->st.peak_active)
        w->st.peak_active = act;
    if (def > w->st.peak_deferred)
        w->st.peak_deferred = def;
    sim_time_t oldest = world_oldest(w);
    if (oldest != SIM_TIME_NEVER && now - oldest > w->st.oldest_age_max)
        w->st.oldest_age_max = now - oldest;
}

void world_reset_stats(world *w, sim_time_t now)
{
    world_stats *st = &w->st;
    for (size_t c = 0; c < w->cfg.traffic->nclasses; c++) {
        world_class_stats *cs = &st->cls[c];
        sim_quantile *q = cs->latency;
        sim_quantile_reset(q);
        *cs = (world_class_stats){.latency = q};
        sim_tally_reset(&cs->attempts);
    }
    sim_quantile_reset(st->latency);
    st->arrived = st->resent = st->delivered = st->bounced = st->queued = st->attempts = st->deferrals = 0;
    st->rcpt_delivered = st->rcpt_bounced = st->rcpt_deferred = 0;
    st->nreasons = 0;
    sim_tavg_reset(&st->q_incoming, now);
    sim_tavg_reset(&st->q_active, now);
    sim_tavg_reset(&st->q_deferred, now);
    sim_tavg_reset(&st->q_total, now);
    st->peak_incoming = (uint64_t)st->q_incoming.value;
    st->peak_active = (uint64_t)st->q_active.value;
    st->peak_deferred = (uint64_t)st->q_deferred.value;
    st->peak_total = w->in_system;
    st->oldest_age_max = 0;
    for (size_t i = 0; i < w->nrcv; i++)
        receiver_reset_stats(w->rcv[i], now);
    for (size_t i = 0; i < w->nhosts; i++)
        mta_host_reset_stats(w->hosts[i], now);
}

void world_finish(world *w, sim_time_t now)
{
    world_observe(w, now);
    sim_tavg_set(&w->st.q_total, now, (double)w->in_system);
    for (size_t i = 0; i < w->nhosts; i++)
        mta_host_finish(w->hosts[i], now);
    if (w->pool)
        apppool_finish(w->pool, now);
    for (size_t i = 0; i < w->nrcv; i++) {
        sim_tavg_set(&w->rcv[i]->sessions, now, w->rcv[i]->sessions.value);
        sim_tavg_set(&w->rcv[i]->busy, now, w->rcv[i]->busy.value);
        sim_tavg_set(&w->rcv[i]->idle, now, w->rcv[i]->idle.value);
    }
}

const world_stats *world_get_stats(const world *w) { return &w->st; }
size_t world_nreceivers(const world *w) { return w->nrcv; }
receiver *world_receiver(world *w, size_t i) { return w->rcv[i]; }
size_t world_nhosts(const world *w) { return w->nhosts; }
mta_host *world_host(world *w, size_t i) { return i < w->nhosts ? w->hosts[i] : NULL; }
apppool *world_apppool(world *w) { return w->pool; }

void world_resources(const world *w, double *cpu_busy, uint32_t *cores, double *disk_busy, bool *disk)
{
    *cpu_busy = *disk_busy = 0;
    *cores = 0;
    *disk = w->cfg.mta->latency.disk_enabled;
    for (size_t i = 0; i < w->nhosts; i++) {
        *cpu_busy += mta_host_cpu(w->hosts[i])->busy;
        *cores += w->cfg.mta->latency.cores;
        *disk_busy += mta_host_disk(w->hosts[i])->busy;
    }
}
