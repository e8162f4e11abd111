/*
 * mta_deliver - the delivery agents of a Postfix host (qmgr_deliver.c and the smtp(8) processes):
 * each entry the scheduler selects becomes one smtp_client request, made by an agent with a process
 * id of its own; the agent reports every recipient's outcome as it learns it, and once per entry
 * whether the site failed (the hop status that decides the feedback).
 *
 * The queue manager asks for an agent (qmgr_transport_alloc, at most MTA_TRANSPORT_MAX_PEND pending
 * per transport) and chooses the entry only when the agent announces it is ready (qmgr_deliver),
 * with the windows as they are then: the entry is busy from that moment. The process must run to
 * announce itself, so the announcement waits for a free core (the host's cores serve CPU requests
 * in order), after the start-up when master had to spawn it (cpu.process_start, which counts against
 * no window). The session starts at once. When it is over, the agent's own work for the request
 * (cpu.per_delivery: logging the outcome, marking its recipients done, the report to qmgr, and qmgr's
 * and scache's share) runs on the host's cores while the entry is still busy; with a modelled disk
 * the queue-file update follows, through the shared disk; the queue manager hears of the delivery
 * only then. A replay shows why the work goes after the session: the five agents of a retry round
 * connect within about a millisecond, where five per_delivery shares before their sessions would
 * take 2.6 ms on two cores (docs/validation.md, the SCHEDULER_README experiment).
 *
 * The agents are processes, as master(8) keeps them (master_spawn.c, master_avail.c, single_server.c):
 * per transport, an idle process takes the next request; when none is idle, master spawns one (the
 * transport's maxproc bounds the busy entries and pending agents, so it bounds the processes too). A
 * process exits after max_use requests, or after max_idle seconds without one. The idle processes of
 * a transport form a stack (the one idle the shortest takes the request), so those idle longer than
 * max_idle are at its bottom and leave together, with no timer; which idle process master's socket
 * wakes differs in Postfix, but only the process ids in the log show it.
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

/* A delivery agent: asked for, then at work on one entry. */
typedef struct mta_agent {
    smtp_request req;
    mta_host *host;
    mta_transport_rt *tr;
    mta_entry *entry;
    mta_proc proc;
    uint32_t cap;        /* recipients req.rstate holds; kept across reuse */
    sim_event ready_ev;  /* the process announces it is ready for qmgr's request */
    sim_event work_ev;   /* its work after the session (cpu.per_delivery) is done */
    sim_event disk_ev;   /* the queue-file update after delivery, when the disk is modelled */
    bool hop_failed;     /* the outcome, kept for the delayed report */
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

/* The process is done with a connection from qmgr: it waits for the next, or exits after max_use
 * requests (used: it had one; qmgr may also close the connection without one). */
static void proc_put(mta_host *h, size_t tr, mta_proc p, sim_time_t now, bool used)
{
    uint32_t max_use = h->env->cfg->max_use;
    if (used && ++p.uses >= max_use && max_use > 0)
        return;
    mta_proc_stack *s = &h->agents->idle[tr];
    p.idle_since = now;
    s->v = sim_xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v), 16);
    s->v[s->n++] = p;
}

static size_t transport_index(const mta_transport_rt *tr) { return (size_t)(tr - tr->host->tr); }

static const smtp_request_ops agent_ops;
static void agent_work_done(sim_event *ev, sim_time_t now);
static void agent_disk_done(sim_event *ev, sim_time_t now);
static void agent_ready_fired(sim_event *ev, sim_time_t now);

void mta_deliver_alloc(mta_transport_rt *tr, sim_time_t now)
{
    mta_host *h = tr->host;
    bool fresh, spawned;
    mta_agent *a = sim_pool_get(&h->agents->agents, &fresh);
    if (fresh) {
        sim_event_init(&a->ready_ev, agent_ready_fired);
        sim_event_init(&a->work_ev, agent_work_done);
        sim_event_init(&a->disk_ev, agent_disk_done);
    }
    a->host = h;
    a->tr = tr;
    a->entry = NULL;
    a->proc = proc_get(h, transport_index(tr), now, &spawned);
    /* The process must run to announce itself: a new one after its start-up, an idle one as soon as
     * a core is free (its own CPU for that is negligible). Always an event: the notice reaches qmgr
     * after what it is handling now. */
    sim_time_t start_up = spawned ? latency_draw(&h->env->cfg->latency.cpu_process_start, h->rng) : 0;
    sim_calendar_schedule(h->env->cal, &a->ready_ev, latency_resource_acquire(&h->cpu, now, start_up, NULL));
}

/* The entry's request: the SMTP session starts at once. */
static void agent_deliver(mta_agent *a, mta_entry *e, sim_time_t now)
{
    mta_host *h = a->host;
    mta_dest *d = e->dest;
    if (a->cap < e->nrcpt) {
        a->req.rstate = sim_xrealloc(a->req.rstate, e->nrcpt);
        a->cap = e->nrcpt;
    }
    a->entry = e;
    smtp_request *r = &a->req;
    r->ops = &agent_ops;
    r->ctx = a;
    r->rcv = d->rcv;
    r->p = &d->p;
    r->cache = &d->cache;
    r->cache_load = d->conn_load;
    r->cache_store = d->conn_store;
    r->store_later = true; /* after the agent's work (agent_finished) */
    r->dns_expires = &d->dns_expires;
    r->nexthop = d->nexthop;
    r->sender = traffic_class_sender(&h->env->traffic->classes[e->msg->c.cls]);
    r->size = e->msg->c.size;
    r->nrcpt = e->nrcpt;
    smtp_request_start(h->client, r, now);
}

static void agent_ready_fired(sim_event *ev, sim_time_t now)
{
    mta_agent *a = SIM_CONTAINER_OF(ev, mta_agent, ready_ev);
    mta_host *h = a->host;
    mta_transport_rt *tr = a->tr;
    mta_qmgr_wake(h, now);
    mta_entry *e = mta_dest_agent_ready(tr, now);
    if (e) {
        agent_deliver(a, e, now);
    } else {
        proc_put(h, transport_index(tr), a->proc, now, false);
        sim_pool_put(&h->agents->agents, a);
    }
    mta_dest_dispatch(tr, now);
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

/* The agent's work is done: its reusable session goes to scache (smtp_cleanup_session), then the
 * queue manager hears of the delivery (the outcome kept in a->hop_failed and a->req.reason):
 * feedback, the agent is free, the entry is done. */
static void agent_finished(mta_agent *a, sim_time_t now)
{
    mta_host *h = a->host;
    mta_entry *e = a->entry;
    smtp_request_store_session(&a->req, now);
    mta_qmgr_wake(h, now);
    mta_dest_feedback(e, a->hop_failed, a->req.reason, now);
    proc_put(h, transport_index(a->tr), a->proc, now, true);
    sim_pool_put(&h->agents->agents, a);
    mta_dest_entry_done(e, now);
}

static void agent_disk_done(sim_event *ev, sim_time_t now)
{
    agent_finished(SIM_CONTAINER_OF(ev, mta_agent, disk_ev), now);
}

/* The work is done: with a modelled disk the queue file is updated next, then qmgr hears. */
static void agent_after_work(mta_agent *a, sim_time_t now)
{
    const latency_config *lat = &a->host->env->cfg->latency;
    if (lat->disk_enabled && lat->disk_writes_per_delivery > 0) {
        sim_time_t service = 0;
        for (uint32_t k = 0; k < lat->disk_writes_per_delivery; k++)
            service += latency_draw(&lat->disk_fsync, a->host->rng);
        sim_calendar_schedule(a->host->env->cal, &a->disk_ev,
                              latency_resource_acquire(&a->host->disk, now, service, NULL));
        return;
    }
    agent_finished(a, now);
}

static void agent_work_done(sim_event *ev, sim_time_t now) { agent_after_work(SIM_CONTAINER_OF(ev, mta_agent, work_ev), now); }

/* The session is over: the agent's own work for the request (cpu.per_delivery) runs on the host's
 * cores, and the entry stays busy until its report reaches qmgr. */
static void agent_done(void *ctx, smtp_request *req, sim_time_t now, bool hop_failed, const char *reason)
{
    mta_agent *a = ctx;
    a->hop_failed = hop_failed;
    if (reason != req->reason) /* keep the reason where the delayed report can find it */
        snprintf(req->reason, sizeof(req->reason), "%s", reason);
    sim_time_t cpu = latency_draw(&a->host->env->cfg->latency.cpu_per_delivery, a->host->rng);
    if (cpu > 0)
        sim_calendar_schedule(a->host->env->cal, &a->work_ev, latency_resource_acquire(&a->host->cpu, now, cpu, NULL));
    else
        agent_after_work(a, now);
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
