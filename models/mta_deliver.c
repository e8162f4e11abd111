/*
 * mta_deliver - the delivery agents of a Postfix host (qmgr_deliver.c and the smtp(8) processes):
 * each entry the scheduler selects becomes one smtp_client request, made by an agent with a process
 * id of its own; the agent reports every recipient's outcome as it learns it, and once per entry
 * whether the site failed (the hop status that decides the feedback).
 *
 * With a modelled disk the agent first updates the queue file (marking its recipients done) through
 * the shared disk, and the queue manager hears of the delivery only then.
 *
 * The agents are processes, as master(8) keeps them (master_spawn.c, master_avail.c, single_server.c):
 * per transport, an idle process takes the next request; when none is idle, master spawns one (the
 * transport's maxproc bounds the busy entries, so it bounds the processes too). A process exits after
 * max_use deliveries, or after max_idle seconds without one. The entry is busy from the moment the
 * queue manager hands it over: a spawn's start-up (cpu.process_start) and the request's own work on
 * the host (cpu.per_delivery) run on the host's cores before the SMTP session starts, and count
 * against the destination's window all along. The idle processes of a transport form a stack (the
 * one idle the shortest takes the request), so those idle longer than max_idle are at its bottom
 * and leave together, with no timer; which idle process master's socket wakes differs in Postfix,
 * but only the process ids in the log show it.
 */
#include "models/mta_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "sim/sim_mem.h"

/* An smtp(8) process. */
typedef struct mta_proc {
    uint32_t pid;
    uint32_t uses;          /* deliveries made */
    sim_time_t idle_since;
} mta_proc;

/* A transport's idle processes, the most recently idle on top. */
typedef struct mta_proc_stack {
    mta_proc *v;
    size_t n, cap;
} mta_proc_stack;

/* A delivery agent at work on one entry. */
typedef struct mta_agent {
    smtp_request req;
    mta_host *host;
    mta_entry *entry;
    mta_proc proc;
    uint32_t cap;        /* recipients req.rstate holds; kept across reuse */
    sim_event start_ev;  /* the session starts after the process start-up and the request's CPU */
    sim_event disk_ev;   /* the queue-file update after delivery, when the disk is modelled */
    bool hop_failed;
} mta_agent;

struct mta_deliver_pool {
    sim_pool agents;
    mta_proc_stack *idle; /* per transport */
    uint32_t next_pid;
    uint64_t spawned;
};

/* An idle process of transport tr, or a new one (*spawned). */
static mta_proc proc_get(mta_host *h, size_t tr, sim_time_t now, bool *spawned)
{
    mta_proc_stack *s = &h->agents->idle[tr];
    sim_time_t max_idle = h->env->cfg->max_idle;
    if (s->n && max_idle > 0 && now - s->v[s->n - 1].idle_since >= max_idle)
        s->n = 0; /* the top idled longest but the rest: all have exited */
    *spawned = s->n == 0;
    if (s->n)
        return s->v[--s->n];
    h->agents->spawned++;
    return (mta_proc){.pid = h->agents->next_pid++};
}

/* The process is done with a request: it waits for the next, or exits after max_use. */
static void proc_put(mta_host *h, size_t tr, mta_proc p, sim_time_t now)
{
    uint32_t max_use = h->env->cfg->max_use;
    if (++p.uses >= max_use && max_use > 0)
        return;
    mta_proc_stack *s = &h->agents->idle[tr];
    p.idle_since = now;
    s->v = sim_xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v), 16);
    s->v[s->n++] = p;
}

static size_t transport_index(const mta_dest *d) { return (size_t)(d->tr - d->host->tr); }

static const smtp_request_ops agent_ops;
static void agent_disk_done(sim_event *ev, sim_time_t now);

static void agent_start_fired(sim_event *ev, sim_time_t now)
{
    mta_agent *a = SIM_CONTAINER_OF(ev, mta_agent, start_ev);
    mta_qmgr_wake(a->host, now); /* the agent is ready for qmgr's request */
    smtp_request_start(a->host->client, &a->req, now);
}

void mta_deliver_start(mta_dest *d, mta_entry *e, sim_time_t now)
{
    mta_host *h = d->host;
    bool fresh, spawned;
    mta_agent *a = sim_pool_get(&h->agents->agents, &fresh);
    if (fresh) {
        sim_event_init(&a->disk_ev, agent_disk_done);
        sim_event_init(&a->start_ev, agent_start_fired);
    }
    if (a->cap < e->nrcpt) {
        a->req.rstate = sim_xrealloc(a->req.rstate, e->nrcpt);
        a->cap = e->nrcpt;
    }
    a->host = h;
    a->entry = e;
    a->proc = proc_get(h, transport_index(d), now, &spawned);
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
    r->sender = traffic_class_sender(&h->env->traffic->classes[e->msg->c.cls]);
    r->size = e->msg->c.size;
    r->nrcpt = e->nrcpt;
    const latency_config *lat = &h->env->cfg->latency;
    sim_time_t cpu = latency_draw(&lat->cpu_per_delivery, h->rng);
    if (spawned)
        cpu += latency_draw(&lat->cpu_process_start, h->rng);
    if (cpu == 0) {
        smtp_request_start(h->client, r, now);
        return;
    }
    sim_calendar_schedule(h->env->cal, &a->start_ev, latency_resource_acquire(&h->cpu, now, cpu, NULL));
}

uint64_t mta_deliver_spawned(const mta_host *h) { return h->agents->spawned; }

/* ---- the agent's reports ---- */

static void agent_rcpt_address(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len)
{
    (void)req;
    mta_agent *a = ctx;
    const mta_msg *m = a->entry->msg;
    uint32_t ri = a->entry->rcpt[i];
    mta_record_rcpt(m->c.id, ri, a->host->env->domains[m->rcpt[ri].domain], buf, len);
}

static void agent_outcome(void *ctx, smtp_request *req, const smtp_outcome *o)
{
    mta_agent *a = ctx;
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
    mta_attempt_record r = {.when = o->when, .process = "smtp", .pid = a->proc.pid, .relay = o->relay,
                            .conn_use = o->conn_use,
                            .delays = {sim_time_to_sec(m->active_since - m->c.arrival),
                                       sim_time_to_sec(req->t_start - m->active_since),
                                       sim_time_to_sec(setup - req->t_start), sim_time_to_sec(o->when - setup)},
                            .dsn = o->dsn, .status = st, .reply = o->reply, .reason_key = o->reason,
                            .destination = e->dest->name};
    mta_msg_attempt(a->host, m, ri, &r);
}

/* The queue manager hears of the delivery: feedback, the agent is free, the entry is done. */
static void agent_finished(mta_agent *a, sim_time_t now, bool hop_failed, const char *reason)
{
    mta_host *h = a->host;
    mta_entry *e = a->entry;
    mta_qmgr_wake(h, now);
    mta_dest_feedback(e, hop_failed, reason, now);
    proc_put(h, transport_index(e->dest), a->proc, now);
    sim_pool_put(&h->agents->agents, a);
    mta_dest_entry_done(e, now);
}

static void agent_disk_done(sim_event *ev, sim_time_t now)
{
    mta_agent *a = SIM_CONTAINER_OF(ev, mta_agent, disk_ev);
    agent_finished(a, now, a->hop_failed, a->req.reason);
}

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

static const smtp_request_ops agent_ops = {
    .outcome = agent_outcome, .done = agent_done, .rcpt_address = agent_rcpt_address};

/* ---- the pool ---- */

void mta_deliver_pool_init(mta_host *h)
{
    h->agents = sim_xcalloc(1, sizeof(*h->agents));
    sim_pool_init(&h->agents->agents, sizeof(mta_agent));
    h->agents->idle = sim_xcalloc(h->ntr ? h->ntr : 1, sizeof(*h->agents->idle));
    h->agents->next_pid = 1001 + h->index * 10000;
}

static void agent_fini(void *obj) { free(((mta_agent *)obj)->req.rstate); }

void mta_deliver_pool_free(mta_host *h)
{
    if (!h->agents)
        return;
    sim_pool_destroy(&h->agents->agents, agent_fini);
    for (size_t i = 0; i < (h->ntr ? h->ntr : 1); i++)
        free(h->agents->idle[i].v);
    free(h->agents->idle);
    free(h->agents);
    h->agents = NULL;
}
