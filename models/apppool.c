/*
 * apppool - a pool of application workers sending directly (see apppool.h).
 *
 * A worker delivers one message at a time: its recipients grouped by receiver, one SMTP request per
 * group, in turn. Recipients that were deferred make the whole message wait retry_delay (+- jitter)
 * before any worker picks it up again; after max_attempts the deferred recipients bounce. With `reuse`
 * a worker keeps its connection open for its next message to the same receiver, as connection-pooling
 * libraries do - and the receiver counts those idle connections too.
 */
#include "models/apppool.h"
#include "sim/sim_mem.h"

#include <stdlib.h>
#include <string.h>

#include "models/msg_heap.h"
#include "models/msg_live.h"
#include "sim/sim_random.h"

enum { AS_PENDING = 0, AS_DEFERRED, AS_DELIVERED, AS_BOUNCED };

typedef struct app_msg {
    msg_live c;            /* identity, the live list, what reports need */
    sim_time_t retry_at, started;
    struct app_msg *next;
    uint16_t *domain;
    uint8_t *status;
} app_msg;

typedef struct app_worker {
    smtp_request req;
    apppool *pool;
    app_msg *msg;
    uint32_t pid;
    uint32_t group_rcv;   /* receiver index of the group in flight */
    uint32_t *map;        /* request recipient -> message recipient */
    uint32_t cap;
    smtp_conn *cache;     /* its own pooled connection */
    receiver *cache_rcv;
    struct app_worker *next_idle;
} app_worker;

struct apppool {
    const mta_env *env;
    smtp_client *client;
    gsl_rng *rng;
    mta_transport_params p;
    app_worker *workers;
    uint32_t nworkers;
    app_worker *idle;
    app_msg *ready_head, *ready_tail;
    msg_heap retry;       /* waiting out the retry delay, by retry time */
    sim_event retry_ev;
    msg_live_list live;
    uint64_t waiting, busy;
    sim_time_t *dns_expires; /* per receiver, indexed by receiver index */
    size_t ndns;
};


/* The pool is host 0 of the run: its queue ids are those an mta1 would give. */
enum { APP_HOST = 0 };

static void ready_push(apppool *a, app_msg *m)
{
    m->next = NULL;
    if (a->ready_tail)
        a->ready_tail->next = m;
    else
        a->ready_head = m;
    a->ready_tail = m;
    a->waiting++;
}

static void leave(apppool *a, app_msg *m, sim_time_t now, mta_outcome o)
{
    msg_live_done(a->env, APP_HOST, &m->c, a->env->domains[m->domain[0]], now, o);
}

static void msg_free(apppool *a, app_msg *m)
{
    msg_live_remove(&a->live, &m->c);
    free(m->domain);
    free(m->status);
    free(m);
}

static const smtp_request_ops worker_ops;
static void work(apppool *a, sim_time_t now);

/* Starts the next group of pending recipients (those of one receiver); false when none is left. */
static bool start_group(app_worker *w, sim_time_t now)
{
    apppool *a = w->pool;
    app_msg *m = w->msg;
    int first = -1;
    for (uint32_t i = 0; i < m->c.nrcpt; i++)
        if (m->status[i] == AS_PENDING) {
            first = (int)i;
            break;
        }
    if (first < 0)
        return false;
    receiver *rcv = a->env->domain_rcv[m->domain[first]];
    if (w->cap < m->c.nrcpt) {
        w->map = sim_xreallocarray(w->map, m->c.nrcpt, sizeof(*w->map));
        w->req.rstate = sim_xrealloc(w->req.rstate, m->c.nrcpt);
        w->cap = m->c.nrcpt;
    }
    uint32_t n = 0;
    for (uint32_t i = (uint32_t)first; i < m->c.nrcpt; i++)
        if (m->status[i] == AS_PENDING && a->env->domain_rcv[m->domain[i]] == rcv)
            w->map[n++] = i;
    /* A pooled connection to another receiver is of no use now. */
    if (w->cache && w->cache_rcv != rcv)
        smtp_client_flush_cache(a->client, &w->cache, now);
    smtp_request *r = &w->req;
    r->ops = &worker_ops;
    r->ctx = w;
    r->rcv = rcv;
    r->p = &a->p;
    bool reuse = a->env->cfg->apppool.reuse;
    r->cache = reuse ? &w->cache : NULL;
    r->cache_load = r->cache_store = reuse;
    w->cache_rcv = rcv;
    r->dns_expires = &a->dns_expires[rcv->index];
    r->nexthop = a->env->domains[m->domain[first]];
    r->sender = traffic_class_sender(&a->env->traffic->classes[m->c.cls]);
    r->size = m->c.size;
    r->nrcpt = n;
    smtp_request_start(a->client, r, now);
    return true;
}

static void msg_done(apppool *a, app_msg *m, sim_time_t now)
{
    bool deferred = false, bounced = false;
    for (uint32_t i = 0; i < m->c.nrcpt; i++) {
        deferred |= m->status[i] == AS_DEFERRED;
        bounced |= m->status[i] == AS_BOUNCED;
    }
    const mta_apppool_config *c = &a->env->cfg->apppool;
    if (deferred && c->max_attempts > 0 && m->c.attempts >= c->max_attempts) {
        for (uint32_t i = 0; i < m->c.nrcpt; i++)
            if (m->status[i] == AS_DEFERRED)
                m->status[i] = AS_BOUNCED;
        deferred = false;
        bounced = true;
    }
    if (deferred) {
        double f = 1.0;
        if (c->jitter > 0)
            f += c->jitter * (2 * gsl_rng_uniform(a->rng) - 1);
        m->retry_at = now + sim_time_from_sec(sim_time_to_sec(c->retry_delay) * f);
        for (uint32_t i = 0; i < m->c.nrcpt; i++)
            if (m->status[i] == AS_DEFERRED)
                m->status[i] = AS_PENDING;
        msg_heap_push(&a->retry, m->retry_at, m->c.id, m);
        sim_time_t first = msg_heap_top_time(&a->retry);
        if (!sim_event_pending(&a->retry_ev) || a->retry_ev.time > first)
            sim_calendar_schedule(a->env->cal, &a->retry_ev, first);
        return;
    }
    leave(a, m, now, bounced ? MTA_OUTCOME_BOUNCED : MTA_OUTCOME_DELIVERED);
    msg_free(a, m);
}

static void worker_outcome(void *ctx, smtp_request *req, const smtp_outcome *o)
{
    app_worker *w = ctx;
    apppool *a = w->pool;
    app_msg *m = w->msg;
    uint32_t ri = w->map[o->rcpt];
    mta_status st = o->status == SMTP_RCPT_DELIVERED ? MTA_STATUS_SENT
                    : o->status == SMTP_RCPT_BOUNCED ? MTA_STATUS_BOUNCED
                                                     : MTA_STATUS_DEFERRED;
    m->status[ri] = o->status == SMTP_RCPT_DELIVERED ? AS_DELIVERED : o->status == SMTP_RCPT_BOUNCED ? AS_BOUNCED : AS_DEFERRED;
    sim_time_t setup = req->t_setup_done > o->when ? o->when : req->t_setup_done;
    mta_attempt_record r = {.when = o->when, .process = "app", .pid = w->pid, .relay = o->relay,
                            .conn_use = o->conn_use,
                            .delays = {sim_time_to_sec(m->started - m->c.arrival), sim_time_to_sec(req->t_start - m->started),
                                       sim_time_to_sec(setup - req->t_start), sim_time_to_sec(o->when - setup)},
                            .dsn = o->dsn, .status = st, .reply = o->reply, .reason_key = o->reason,
                            .destination = req->rcv->cfg->name};
    msg_live_attempt(a->env, APP_HOST, &m->c, ri, a->env->domains[m->domain[ri]], &r);
}

static void worker_done(void *ctx, smtp_request *req, sim_time_t now, bool hop_failed, const char *reason)
{
    (void)req;
    (void)hop_failed;
    (void)reason;
    app_worker *w = ctx;
    apppool *a = w->pool;
    /* Recipients of the group that got no outcome stay pending only if the request never saw them. */
    if (start_group(w, now))
        return;
    app_msg *m = w->msg;
    w->msg = NULL;
    a->busy--;
    w->next_idle = a->idle;
    a->idle = w;
    msg_done(a, m, now);
    work(a, now);
}

static void worker_rcpt_address(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len)
{
    (void)req;
    app_worker *w = ctx;
    const app_msg *m = w->msg;
    uint32_t ri = w->map[i];
    mta_record_rcpt(m->c.id, ri, w->pool->env->domains[m->domain[ri]], buf, len);
}

static const smtp_request_ops worker_ops = {
    .outcome = worker_outcome, .done = worker_done, .rcpt_address = worker_rcpt_address};

static void work(apppool *a, sim_time_t now)
{
    while (a->idle && a->ready_head) {
        app_worker *w = a->idle;
        a->idle = w->next_idle;
        app_msg *m = a->ready_head;
        a->ready_head = m->next;
        if (!a->ready_head)
            a->ready_tail = NULL;
        a->waiting--;
        a->busy++;
        m->c.attempts++;
        m->started = now;
        w->msg = m;
        /* A deferred recipient may already have been marked in this pass by an earlier group; all
         * pending ones start afresh. */
        if (!start_group(w, now)) {
            w->msg = NULL;
            a->busy--;
            w->next_idle = a->idle;
            a->idle = w;
            msg_done(a, m, now);
        }
    }
}

static void retry_fired(sim_event *ev, sim_time_t now)
{
    apppool *a = SIM_CONTAINER_OF(ev, apppool, retry_ev);
    while (msg_heap_top_time(&a->retry) <= now)
        ready_push(a, msg_heap_pop(&a->retry));
    if (a->retry.n)
        sim_calendar_schedule(a->env->cal, &a->retry_ev, msg_heap_top_time(&a->retry));
    work(a, now);
}

apppool *apppool_create(const mta_env *env, const char *src_ip)
{
    apppool *a = sim_xcalloc(1, sizeof(*a));
    a->env = env;
    a->rng = sim_random_stream(env->seed, env->replication, "apppool");
    a->client = smtp_client_create(env->cal, src_ip, &env->cfg->latency, NULL, a->rng);
    smtp_client_set_text(a->client, env->attempt_text);
    a->p = env->cfg->transports[0].p;
    a->p.connection_cache_time_limit = 300 * SIM_SEC; /* a pooled connection waits for the worker's next message */
    a->nworkers = env->cfg->apppool.workers ? env->cfg->apppool.workers : 1;
    a->workers = sim_xcalloc(a->nworkers, sizeof(*a->workers));
    for (uint32_t i = a->nworkers; i-- > 0;) {
        app_worker *w = &a->workers[i];
        w->pool = a;
        w->pid = 2001 + i;
        w->next_idle = a->idle;
        a->idle = w;
    }
    size_t nrcv = 0;
    for (size_t i = 0; i < env->ndomains; i++)
        if (env->domain_rcv[i]->index + 1 > nrcv)
            nrcv = env->domain_rcv[i]->index + 1;
    a->ndns = nrcv;
    a->dns_expires = sim_xcalloc((nrcv ? nrcv : 1), sizeof(*a->dns_expires));
    sim_event_init(&a->retry_ev, retry_fired);
    return a;
}

void apppool_submit(apppool *a, const traffic_msg *tm, const uint16_t *domains, uint64_t tag, sim_time_t now)
{
    app_msg *m = sim_xcalloc(1, sizeof(*m));
    msg_live_add(&a->live, &m->c, tm, tag, now);
    m->domain = sim_xcalloc(tm->nrcpt, sizeof(*m->domain));
    m->status = sim_xcalloc(1, tm->nrcpt);
    memcpy(m->domain, domains, tm->nrcpt * sizeof(*m->domain));
    ready_push(a, m);
    work(a, now);
}

void apppool_queue_sizes(const apppool *a, uint64_t *waiting, uint64_t *busy, uint64_t *retry)
{
    *waiting = a->waiting;
    *busy = a->busy;
    *retry = a->retry.n;
}

sim_time_t apppool_oldest(const apppool *a) { return msg_live_oldest(&a->live); }

uint64_t apppool_sessions(const apppool *a, uint64_t *cached)
{
    if (cached)
        *cached = smtp_client_cached(a->client);
    return smtp_client_open(a->client);
}

void apppool_finish(apppool *a, sim_time_t now)
{
    for (msg_live *l = a->live.head; l; l = l->lnext)
        leave(a, SIM_CONTAINER_OF(l, app_msg, c), now, MTA_OUTCOME_QUEUED);
}

void apppool_free(apppool *a)
{
    if (!a)
        return;
    for (msg_live *l = a->live.head, *n; l; l = n) {
        n = l->lnext;
        app_msg *m = SIM_CONTAINER_OF(l, app_msg, c);
        free(m->domain);
        free(m->status);
        free(m);
    }
    for (uint32_t i = 0; i < a->nworkers; i++) {
        free(a->workers[i].map);
        free(a->workers[i].req.rstate);
    }
    smtp_client_free(a->client, 0);
    gsl_rng_free(a->rng);
    free(a->workers);
    msg_heap_free(&a->retry);
    free(a->dns_expires);
    free(a);
}
