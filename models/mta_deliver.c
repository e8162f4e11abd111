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
 * transport's maxproc bounds the busy entries and pending agents, so it bounds the processes too).
 * Master spawns one process at a time per service: a process counts as available from its fork
 * until it has taken a connection, and master watches the service's socket only while none is
 * available (master_avail_listen), so qmgr's second pending request waits for the first start-up to
 * end before its own begins, unless a process comes free first. A process exits after max_use
 * requests, or after max_idle seconds without one. The idle processes of a transport form a stack
 * (the one idle the shortest takes the request), so those idle longer than max_idle are at its bottom
 * and leave together, with no timer; which idle process master's socket wakes differs in Postfix
 * (whichever wins it), which shows in the process ids of the log and in when processes reach max_use.
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

/* A transport's processes, as master keeps them for its service. */
typedef struct mta_proc_pool {
    mta_proc *v; /* the idle ones, the most recently idle on top */
    size_t n, cap;
    struct mta_agent *wait_head, *wait_tail; /* agents waiting for a process (qmgr's requests in the
                                              * socket's queue) */
    mta_proc start;                          /* a process in its start-up (start_ev pending): no
                                              * other is spawned meanwhile */
    sim_event start_ev;                      /* its start-up is over */
    mta_host *host;
} mta_proc_pool;

/* A delivery agent: asked for, then at work on one entry. */
typedef struct mta_agent {
    smtp_request req;
    mta_host *host;
    mta_transport_rt *tr;
    mta_entry *entry;
    mta_proc proc;
    struct mta_agent *wait_next; /* in its transport's queue for a process */
    uint32_t cap;        /* recipients req.rstate holds; kept across reuse */
    sim_event ready_ev;  /* the process announces it is ready for qmgr's request */
    sim_event work_ev;   /* its work after the session (cpu.per_delivery) is done */
    sim_event disk_ev;   /* the queue-file update after delivery, when the disk is modelled */
    bool hop_failed;     /* the outcome, kept for the delayed report */
} mta_agent;

struct mta_deliver_pool {
    sim_pool agents;
    mta_proc_pool *procs; /* per transport */
    uint32_t next_pid;
    uint64_t spawned;
};

/* The agent has its process, which announces itself at once when it is running (at the end of its
 * start-up), else as soon as a core is free (its own CPU for that is negligible). Always an event:
 * the notice reaches qmgr after what it is handling now. */
static void agent_has_process(mta_agent *a, mta_proc p, sim_time_t now, bool running)
{
    a->proc = p;
    sim_calendar_schedule(a->host->env->cal, &a->ready_ev,
                          running ? now : mta_cpu_work(a->host, now, 0));
}

static mta_agent *wait_pop(mta_proc_pool *pp)
{
    mta_agent *a = pp->wait_head;
    if (a && !(pp->wait_head = a->wait_next))
        pp->wait_tail = NULL;
    return a;
}

/* master_avail_listen: with requests waiting, no process idle and none starting, spawn one. */
static void pool_spawn(mta_proc_pool *pp, sim_time_t now)
{
    if (sim_event_pending(&pp->start_ev) || !pp->wait_head || pp->n)
        return;
    mta_host *h = pp->host;
    pp->start = (mta_proc){.pid = h->agents->next_pid++};
    h->agents->spawned++;
    sim_time_t start_up = latency_draw(&h->env->cfg->latency.cpu_process_start, h->rng);
    sim_calendar_schedule(h->env->cal, &pp->start_ev, mta_cpu_work(h, now, start_up));
}

/* The process is free for a request: the first waiting agent takes it, or it waits idle. */
static void pool_offer(mta_proc_pool *pp, mta_proc p, sim_time_t now, bool running)
{
    mta_agent *a = wait_pop(pp);
    if (a) {
        agent_has_process(a, p, now, running);
        return;
    }
    p.idle_since = now;
    pp->v = sim_xgrow(pp->v, &pp->cap, pp->n + 1, sizeof(*pp->v), 16);
    pp->v[pp->n++] = p;
}

static void pool_started(sim_event *ev, sim_time_t now)
{
    mta_proc_pool *pp = SIM_CONTAINER_OF(ev, mta_proc_pool, start_ev);
    pool_offer(pp, pp->start, now, true);
    pool_spawn(pp, now);
}

/* An agent asks transport tr's service for a process: an idle one, or the next one master starts. */
static void proc_get(mta_agent *a, size_t tr, sim_time_t now)
{
    mta_proc_pool *pp = &a->host->agents->procs[tr];
    sim_time_t max_idle = a->host->env->cfg->max_idle;
    if (pp->n && max_idle > 0 && now - pp->v[pp->n - 1].idle_since >= max_idle)
        pp->n = 0; /* the top idled longest but the rest: all have exited */
    if (pp->n) {
        agent_has_process(a, pp->v[--pp->n], now, false);
        return;
    }
    a->wait_next = NULL;
    if (pp->wait_tail)
        pp->wait_tail->wait_next = a;
    else
        pp->wait_head = a;
    pp->wait_tail = a;
    pool_spawn(pp, now);
}

/* The process is done with a connection from qmgr: it takes the next, or exits after max_use
 * requests (used: it had one; qmgr may also close the connection without one). */
static void proc_put(mta_host *h, size_t tr, mta_proc p, sim_time_t now, bool used)
{
    mta_proc_pool *pp = &h->agents->procs[tr];
    uint32_t max_use = h->env->cfg->max_use;
    if (used && ++p.uses >= max_use && max_use > 0)
        pool_spawn(pp, now);
    else
        pool_offer(pp, p, now, false);
}

static size_t transport_index(const mta_transport_rt *tr) { return (size_t)(tr - tr->host->tr); }

static const smtp_request_ops agent_ops;
static void agent_work_done(sim_event *ev, sim_time_t now);
static void agent_disk_done(sim_event *ev, sim_time_t now);
static void agent_ready_fired(sim_event *ev, sim_time_t now);

void mta_deliver_alloc(mta_transport_rt *tr, sim_time_t now)
{
    mta_host *h = tr->host;
    bool fresh;
    mta_agent *a = sim_pool_get(&h->agents->agents, &fresh);
    if (fresh) {
        sim_event_init(&a->ready_ev, agent_ready_fired);
        sim_event_init(&a->work_ev, agent_work_done);
        sim_event_init(&a->disk_ev, agent_disk_done);
    }
    a->host = h;
    a->tr = tr;
    a->entry = NULL;
    proc_get(a, transport_index(tr), now);
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
        sim_calendar_schedule(a->host->env->cal, &a->work_ev, mta_cpu_work(a->host, now, cpu));
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
    size_t ntr = h->ntr ? h->ntr : 1;
    h->agents->procs = sim_xcalloc(ntr, sizeof(*h->agents->procs));
    for (size_t i = 0; i < ntr; i++) {
        h->agents->procs[i].host = h;
        sim_event_init(&h->agents->procs[i].start_ev, pool_started);
    }
    h->agents->next_pid = 1001 + h->index * 10000;
}

static void agent_fini(void *obj) { free(((mta_agent *)obj)->req.rstate); }

void mta_deliver_pool_free(mta_host *h)
{
    if (!h->agents)
        return;
    sim_pool_destroy(&h->agents->agents, agent_fini);
    for (size_t i = 0; i < (h->ntr ? h->ntr : 1); i++)
        free(h->agents->procs[i].v);
    free(h->agents->procs);
    free(h->agents);
    h->agents = NULL;
}
