/*
 * mta_deliver - the delivery agents of a Postfix host (qmgr_deliver.c and the smtp(8) processes):
 * each entry the scheduler selects becomes one smtp_client request, made by an agent with a process
 * id of its own; the agent reports every recipient's outcome as it learns it, and once per entry
 * whether the site failed (the hop status that decides the feedback).
 *
 * With a modelled disk the agent first updates the queue file (marking its recipients done) through
 * the shared disk, and the queue manager hears of the delivery only then.
 *
 * Process ids are reused as agents free up (last freed, first reused), so the mail log shows a
 * steady set of smtp[pid] processes as Postfix's master would keep.
 */
#include "models/mta_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "sim/sim_mem.h"

/* A delivery agent at work on one entry. */
typedef struct mta_agent {
    smtp_request req;
    mta_host *host;
    mta_entry *entry;
    uint32_t pid;
    uint32_t cap;        /* recipients req.rstate holds; kept across reuse */
    sim_event disk_ev;   /* the queue-file update after delivery, when the disk is modelled */
    bool hop_failed;
} mta_agent;

struct mta_deliver_pool {
    sim_pool agents;
    uint32_t *free_pids;
    size_t nfree_pids, free_pids_cap;
    uint32_t next_pid;
};

static uint32_t pid_get(struct mta_deliver_pool *p)
{
    if (p->nfree_pids)
        return p->free_pids[--p->nfree_pids];
    return p->next_pid++;
}

static void pid_put(struct mta_deliver_pool *p, uint32_t pid)
{
    p->free_pids = sim_xgrow(p->free_pids, &p->free_pids_cap, p->nfree_pids + 1, sizeof(*p->free_pids), 64);
    p->free_pids[p->nfree_pids++] = pid;
}

static const smtp_request_ops agent_ops;
static void agent_disk_done(sim_event *ev, sim_time_t now);

void mta_deliver_start(mta_dest *d, mta_entry *e, sim_time_t now)
{
    mta_host *h = d->host;
    bool fresh;
    mta_agent *a = sim_pool_get(&h->agents->agents, &fresh);
    if (fresh)
        sim_event_init(&a->disk_ev, agent_disk_done);
    if (a->cap < e->nrcpt) {
        a->req.rstate = sim_xrealloc(a->req.rstate, e->nrcpt);
        a->cap = e->nrcpt;
    }
    a->host = h;
    a->entry = e;
    a->pid = pid_get(h->agents);
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
    smtp_request_start(h->client, r, now);
}

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
    mta_attempt_record r = {.when = o->when, .process = "smtp", .pid = a->pid, .relay = o->relay,
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
    mta_dest_feedback(e, hop_failed, reason, now);
    pid_put(h->agents, a->pid);
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
    h->agents->next_pid = 1001 + h->index * 10000;
}

static void agent_fini(void *obj) { free(((mta_agent *)obj)->req.rstate); }

void mta_deliver_pool_free(mta_host *h)
{
    if (!h->agents)
        return;
    sim_pool_destroy(&h->agents->agents, agent_fini);
    free(h->agents->free_pids);
    free(h->agents);
    h->agents = NULL;
}
