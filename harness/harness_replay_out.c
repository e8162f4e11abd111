/*
 * harness_replay_out - the run directory of a replay from what harness_replay_track kept:
 * messages.csv, timeseries.csv and summary.json's object (harness_replay_track_write).
 *
 * One pass over the messages turns each one's records into scenario times and a timeline of queue
 * states: incoming from its arrival until its first pass through the active queue began (its
 * first record's delays a, else its "(queue active)" stamp), active until the last record of that
 * pass, deferred until the next pass began when the pass deferred a recipient, and gone when its
 * last recipient's record is in (qmgr's "removed" follows within milliseconds, but its stamp has
 * whole seconds only). Those transitions, sorted, give the queue columns at every sample instant
 * and the exact peaks; the recipient records, sorted, give delivered/bounced/deferred per
 * interval. The receivers' columns come from testsmtpd's event log, read by harness_smtpd_events
 * with its clock mapped to scenario time; its sample callback writes each row, MTA columns and
 * receivers' together.
 *
 * A stamp is put in scenario time through its host's clock offset: the largest (stamp - real
 * time) over the host's delivery records, whose real time is known to 10 ms from delay=. A syslog
 * stamp is the second truncated, so the largest difference is the closest to the true offset.
 */
#include "harness/harness_replay_track_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness_smtpd_events.h"
#include "models/mta.h"
#include "results/results_json.h"
#include "results/results_messages.h"
#include "results/results_timeseries.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"

enum { Q_INCOMING, Q_ACTIVE, Q_DEFERRED, Q_N };

typedef struct qev {
    sim_time_t t;
    int8_t q, d; /* queue, +1 entering / -1 leaving */
} qev;

typedef struct rev {
    sim_time_t t;
    size_t dest;
    harness_maillog_status st;
    bool suspended;
} rev;

typedef struct dest {
    char name[300];
    const char *receiver;
    uint32_t host;
    char domain[256];
    size_t canon;            /* the row that names the queue (a nexthop transport: its first domain's) */
    const mta_transport_config *tr;
    uint64_t deliveries, dead_episodes;
} dest;

typedef struct row {
    sim_time_t done, arrival;
    uint64_t id;
    size_t e;
} row;

typedef struct cls_stats {
    uint64_t arrived, resent, delivered, bounced, queued;
    sim_quantile *latency;
    sim_tally attempts;
} cls_stats;

typedef struct reason {
    const char *key;
    uint64_t n;
} reason;

typedef struct out {
    harness_replay_track *t;
    const scenario *s;
    double k;
    sim_time_t end;
    qev *q;
    size_t nq, capq;
    rev *r;
    size_t nr, capr;
    dest *d;
    size_t nd;
    row *arr;                /* messages by arrival (for the oldest) */
    size_t narr;
    sim_time_t *done;        /* per entry */
    /* the sweep */
    size_t qpos, rpos, apos;
    int64_t in[Q_N];
    sim_time_t oldest_max;
    results_timeseries *ts;
    int col_rcv, col_win;
    size_t nrcv;
    int wrc;
    /* the summary */
    uint64_t arrived, resent, delivered, bounced, queued, attempts, deferrals, at_end;
    sim_quantile *latency;
    cls_stats *cls;
    reason *reasons;
    size_t nreasons;
} out;

static void qpush(out *o, sim_time_t t, int q, int d)
{
    if (o->nq == o->capq) {
        o->capq = o->capq ? o->capq * 2 : 1024;
        o->q = sim_xreallocarray(o->q, o->capq, sizeof(*o->q));
    }
    o->q[o->nq++] = (qev){.t = t, .q = (int8_t)q, .d = (int8_t)d};
}

static void qmove(out *o, int *cur, int to, sim_time_t t)
{
    if (*cur == to)
        return;
    qpush(o, t, *cur, -1);
    qpush(o, t, to, +1);
    *cur = to;
}

/* The destination of host's recipient domain, as the model names its queue (transport:nexthop). */
static size_t dest_of(out *o, uint32_t host, uint32_t cls, const char *domain)
{
    const mta_config *mc = &o->s->mta;
    const char *sender = cls < o->s->traffic.nclasses ? traffic_class_sender(&o->s->traffic.classes[cls]) : "";
    const mta_transport_config *tr = &mc->transports[mta_route(mc, mta_route_listing(mc, domain), sender)];
    for (size_t i = 0; i < o->nd; i++)
        if (o->d[i].host == host && o->d[i].tr == tr && strcmp(o->d[i].domain, domain) == 0)
            return o->d[i].canon;
    char name[300], prefix[16] = "";
    if (o->t->nhosts > 1)
        snprintf(prefix, sizeof(prefix), "mta%u/", host + 1);
    snprintf(name, sizeof(name), "%s%s:%s", prefix, tr->name, tr->nexthop ? tr->nexthop : domain);
    o->d = sim_xreallocarray(o->d, o->nd + 1, sizeof(*o->d));
    dest *d = &o->d[o->nd];
    *d = (dest){.host = host, .canon = o->nd, .tr = tr};
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->domain, sizeof(d->domain), "%s", domain);
    size_t ri = scenario_receiver_for_domain(o->s, domain);
    d->receiver = ri < o->s->nreceivers ? o->s->receivers[ri].name : "default";
    /* a nexthop transport is one queue for all its domains: the first one's row counts for all */
    for (size_t i = 0; i < o->nd; i++)
        if (strcmp(o->d[i].name, name) == 0) {
            d->canon = i;
            break;
        }
    o->nd++;
    return d->canon;
}

static void count_reason(out *o, const char *key)
{
    for (size_t i = 0; i < o->nreasons; i++)
        if (strcmp(o->reasons[i].key, key) == 0) {
            o->reasons[i].n++;
            return;
        }
    o->reasons = sim_xreallocarray(o->reasons, o->nreasons + 1, sizeof(*o->reasons));
    o->reasons[o->nreasons++] = (reason){.key = key, .n = 1};
}

static const char *rcpt_domain(const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    return at ? at + 1 : rcpt;
}

/* Each host's clock offset: stamp - real time of its delivery records, the largest. */
static void clock_offsets(const harness_replay_track *t, int64_t *off, bool *have)
{
    for (size_t i = 0; i < t->n; i++) {
        const harness_replay_entry *e = &t->e[i];
        if (!e->claimed)
            continue;
        for (size_t k = 0; k < e->nrec; k++) {
            const harness_replay_rec *r = &e->rec[k];
            if (r->kind != HARNESS_MAILLOG_DELIVERY)
                continue;
            double real = (double)e->m.arrival / t->speedup + r->delay * 1e6;
            int64_t d = r->stamp - (int64_t)llround(real);
            if (!have[e->m.host] || d > off[e->m.host])
                off[e->m.host] = d;
            have[e->m.host] = true;
        }
    }
}

/* One message's records in scenario time: its queue timeline, its recipient records and its done. */
static void timeline(out *o, harness_replay_entry *e, const int64_t *off, const bool *have, size_t ei)
{
    double k = o->k;
    sim_time_t arr = e->m.arrival, cursor = arr, pass_last = arr, done = SIM_TIME_NEVER, act_hint = SIM_TIME_NEVER;
    sim_time_t last_final = SIM_TIME_NEVER, expired_at = SIM_TIME_NEVER, removed_at = SIM_TIME_NEVER;
    bool seen_active = false, pass_rec = false, pass_def = false, pass_open = false;
    int q = Q_INCOMING;
    qpush(o, arr, Q_INCOMING, +1);
    uint32_t h = e->m.host;
    for (size_t i = 0; i < e->nrec; i++) {
        const harness_replay_rec *r = &e->rec[i];
        sim_time_t st = have[h] ? (sim_time_t)llround((double)(r->stamp - off[h]) * k) : SIM_TIME_NEVER;
        if (st != SIM_TIME_NEVER && st < arr)
            st = arr;
        if (r->kind == HARNESS_MAILLOG_QUEUED) {
            if (pass_rec && pass_def)
                qmove(o, &q, Q_DEFERRED, pass_last);
            if (pass_rec)
                cursor = pass_last;
            pass_open = true;
            pass_rec = false;
            seen_active = true;
            act_hint = st;
            continue;
        }
        if (r->kind == HARNESS_MAILLOG_EXPIRED) {
            expired_at = st != SIM_TIME_NEVER && st > pass_last ? st : pass_last;
            continue;
        }
        if (r->kind == HARNESS_MAILLOG_REMOVED) {
            removed_at = st;
            continue;
        }
        if (r->kind != HARNESS_MAILLOG_DELIVERY)
            continue;
        sim_time_t rt = arr + (sim_time_t)llround(r->delay * k * 1e6);
        if (rt < arr)
            rt = arr;
        if (!seen_active || !pass_rec) {
            if (pass_rec && pass_def)
                qmove(o, &q, Q_DEFERRED, pass_last);
            if (pass_rec)
                cursor = pass_last;
            sim_time_t act = r->has_delays ? arr + (sim_time_t)llround(r->delays[0] * k * 1e6)
                                           : act_hint != SIM_TIME_NEVER ? act_hint : cursor;
            if (act < cursor)
                act = cursor;
            if (act > rt)
                act = rt;
            qmove(o, &q, Q_ACTIVE, act);
            cursor = act;
            pass_rec = true;
            pass_def = false;
            pass_last = rt;
            act_hint = SIM_TIME_NEVER;
        }
        if (rt > pass_last)
            pass_last = rt;
        if (r->status == HARNESS_MAILLOG_DEFERRED)
            pass_def = true;
        else if (last_final == SIM_TIME_NEVER || rt > last_final)
            last_final = rt;
        if (o->capr == o->nr) {
            o->capr = o->capr ? o->capr * 2 : 1024;
            o->r = sim_xreallocarray(o->r, o->capr, sizeof(*o->r));
        }
        o->r[o->nr++] = (rev){.t = rt, .dest = dest_of(o, h, e->m.cls, rcpt_domain(r->rcpt)), .st = r->status,
                              .suspended = r->status == HARNESS_MAILLOG_DEFERRED && strcmp(r->reason, "suspended") == 0};
        if (rt >= o->s->warmup) {
            o->attempts++;
            if (r->status == HARNESS_MAILLOG_DEFERRED) {
                o->deferrals++;
                count_reason(o, r->reason);
            }
        }
    }
    if (e->state != HARNESS_REPLAY_QUEUED) {
        done = expired_at != SIM_TIME_NEVER ? expired_at : last_final;
        if (done == SIM_TIME_NEVER) /* settled by "removed" alone */
            done = removed_at != SIM_TIME_NEVER && removed_at > pass_last ? removed_at : pass_last;
        if (done < cursor)
            done = cursor;
        qpush(o, done, q, -1);
    } else if (pass_rec && pass_def) {
        qmove(o, &q, Q_DEFERRED, pass_last);
    } else if (pass_open && !pass_rec) {
        sim_time_t act = act_hint != SIM_TIME_NEVER && act_hint > cursor ? act_hint : cursor;
        qmove(o, &q, Q_ACTIVE, act);
    }
    o->done[ei] = done;
}

static int cmp_qev(const void *a, const void *b)
{
    const qev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->d - y->d; /* leaving first: a hand-over at one instant makes no peak */
}

static int cmp_rev(const void *a, const void *b)
{
    const rev *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->done != y->done)
        return x->done < y->done ? -1 : 1;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_arrival(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- timeseries.csv ---- */

static void sample(void *ctx, sim_time_t now, const harness_smtpd_counts *c, size_t n)
{
    out *o = ctx;
    if (now > o->end)
        return;
    while (o->qpos < o->nq && o->q[o->qpos].t <= now) {
        o->in[o->q[o->qpos].q] += o->q[o->qpos].d;
        o->qpos++;
    }
    uint64_t del = 0, bou = 0, def = 0;
    while (o->rpos < o->nr && o->r[o->rpos].t <= now) {
        harness_maillog_status st = o->r[o->rpos++].st;
        if (st == HARNESS_MAILLOG_SENT)
            del++;
        else if (st == HARNESS_MAILLOG_DEFERRED)
            def++;
        else
            bou++;
    }
    while (o->apos < o->narr && o->done[o->arr[o->apos].e] <= now)
        o->apos++;
    double oldest = 0;
    if (o->apos < o->narr && o->arr[o->apos].arrival <= now) {
        sim_time_t age = now - o->arr[o->apos].arrival;
        oldest = sim_time_to_sec(age);
        if (age > o->oldest_max)
            o->oldest_max = age;
    }
    size_t col = 0;
    for (int q = 0; q < Q_N; q++)
        results_timeseries_set(o->ts, col++, (double)o->in[q]);
    results_timeseries_set(o->ts, col++, oldest);
    results_timeseries_set(o->ts, col++, (double)del);
    results_timeseries_set(o->ts, col++, (double)bou);
    results_timeseries_set(o->ts, col++, (double)def);
    if (c != NULL)
        harness_smtpd_events_set(o->ts, (size_t)o->col_rcv, c, n);
    else
        for (size_t i = 0; i < o->nrcv * HARNESS_SMTPD_EVENTS_NCOLS; i++)
            results_timeseries_set(o->ts, (size_t)o->col_rcv + i, 0);
    /* window.D and the resources stay empty: Postfix does not log its window */
    int rc = results_timeseries_row(o->ts, now);
    if (rc < 0 && o->wrc == 0)
        o->wrc = rc;
}

/* ---- summary.json ---- */

static json_t *receiver_json(const receiver_config *rc, const harness_smtpd_totals *tot, sim_time_t end)
{
    json_t *o = json_object();
    json_object_set_new(o, "connections", results_json_count(tot ? tot->connections : 0));
    json_object_set_new(o, "refused", results_json_count(tot ? tot->refused : 0));
    json_object_set_new(o, "messages", results_json_count(tot ? tot->messages : 0));
    json_object_set_new(o, "recipients", results_json_count(tot ? tot->recipients : 0));
    json_t *replies = json_object();
    for (int code = 200; tot && code < 600; code++)
        if (tot->replies_by_code[code]) {
            char k[8];
            snprintf(k, sizeof(k), "%d", code);
            json_object_set_new(replies, k, results_json_count(tot->replies_by_code[code]));
        }
    if (!json_object_get(replies, "421"))
        json_object_set_new(replies, "421", results_json_count(0));
    json_object_set_new(o, "replies", replies);
    json_t *rules = json_object();
    for (size_t i = 0; tot && i < tot->nrules; i++)
        json_object_set_new(rules, tot->rules[i].name, results_json_count(tot->rules[i].n));
    json_object_set_new(o, "refused_by_rule", rules);
    uint32_t cap = 0;
    for (size_t i = 0; i < rc->policy.nrules; i++)
        if (rc->policy.rules[i].kind == POLICY_RULE_CONCURRENCY_PER_IP) {
            cap = (uint32_t)rc->policy.rules[i].limit;
            break;
        }
    json_t *s = json_object();
    json_object_set_new(s, "peak", results_json_count(tot ? tot->peak : 0));
    json_object_set_new(s, "peak_busy", results_json_count(tot ? tot->peak_busy : 0));
    json_object_set_new(s, "peak_idle", results_json_count(tot ? tot->peak_idle : 0));
    json_object_set_new(s, "mean", results_json_real(tot ? sim_tavg_mean(&tot->sessions, end > tot->sessions.last_time ? end : tot->sessions.last_time) : 0));
    json_object_set_new(s, "cap", cap ? results_json_count(cap) : json_null());
    json_object_set_new(o, "sessions", s);
    /* not in testsmtpd's event log */
    json_object_set_new(o, "penalty_boxes", json_null());
    json_t *wait = json_object();
    json_object_set_new(wait, "mean", json_null());
    json_object_set_new(wait, "max", json_null());
    json_object_set_new(o, "wait", wait);
    return o;
}

static json_t *summary_build(out *o, harness_smtpd_events *ev, const results_messages_tally *tally)
{
    const scenario *s = o->s;
    harness_replay_track *t = o->t;
    json_t *root = json_object();
    json_object_set_new(root, "scenario", json_string(s->name));
    json_object_set_new(root, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(root, "replication", json_integer(s->replication));
    json_t *sim = json_object();
    json_object_set_new(sim, "duration", results_json_real(sim_time_to_sec(s->duration)));
    json_object_set_new(sim, "warmup", results_json_real(sim_time_to_sec(s->warmup)));
    json_object_set_new(sim, "end", results_json_real(sim_time_to_sec(o->end)));
    json_object_set_new(sim, "events", json_null());
    json_object_set_new(sim, "drained", json_boolean(harness_replay_track_settled(t)));
    json_object_set_new(root, "simulated", sim);

    json_t *msgs = json_object();
    json_object_set_new(msgs, "arrived", results_json_count(o->arrived));
    json_object_set_new(msgs, "resent", results_json_count(o->resent));
    json_object_set_new(msgs, "delivered", results_json_count(o->delivered));
    json_object_set_new(msgs, "bounced", results_json_count(o->bounced));
    json_object_set_new(msgs, "queued", results_json_count(o->queued));
    json_object_set_new(msgs, "attempts", results_json_count(o->attempts));
    json_object_set_new(msgs, "deferrals", results_json_count(o->deferrals));
    json_object_set_new(root, "messages", msgs);
    json_object_set_new(root, "latency", results_json_latency(o->latency));

    json_t *classes = json_object();
    for (size_t c = 0; c < s->traffic.nclasses; c++) {
        const cls_stats *cs = &o->cls[c];
        json_t *co = json_object();
        json_object_set_new(co, "arrived", results_json_count(cs->arrived));
        json_object_set_new(co, "resent", results_json_count(cs->resent));
        json_object_set_new(co, "delivered", results_json_count(cs->delivered));
        json_object_set_new(co, "bounced", results_json_count(cs->bounced));
        json_object_set_new(co, "queued", results_json_count(cs->queued));
        json_object_set_new(co, "latency", results_json_latency(cs->latency));
        json_t *a = json_object();
        json_object_set_new(a, "mean", results_json_real(cs->attempts.n ? cs->attempts.mean : 0));
        json_object_set_new(a, "max", results_json_real(cs->attempts.n ? cs->attempts.max : 0));
        json_object_set_new(co, "attempts", a);
        json_object_set_new(classes, s->traffic.classes[c].name, co);
    }
    json_object_set_new(root, "classes", classes);

    json_t *rcv = json_object();
    for (size_t i = 0; i < s->nreceivers; i++)
        json_object_set_new(rcv, s->receivers[i].name,
                            receiver_json(&s->receivers[i], ev ? harness_smtpd_events_totals(ev, i) : NULL, o->end));
    json_object_set_new(root, "receivers", rcv);

    json_t *dests = json_object();
    for (size_t i = 0; i < o->nd; i++) {
        const dest *d = &o->d[i];
        if (d->canon != i)
            continue;
        json_t *dj = json_object();
        json_object_set_new(dj, "receiver", json_string(d->receiver));
        json_object_set_new(dj, "dead_episodes", results_json_count(d->dead_episodes));
        json_object_set_new(dj, "dead_time", json_null());
        json_object_set_new(dj, "window", json_null());
        json_object_set_new(dj, "deliveries", results_json_count(d->deliveries));
        json_object_set_new(dests, d->name, dj);
    }
    json_object_set_new(root, "destinations", dests);

    json_t *reasons = json_object();
    for (size_t i = 0; i < o->nreasons; i++)
        json_object_set_new(reasons, o->reasons[i].key, results_json_count(o->reasons[i].n));
    json_object_set_new(root, "deferrals", reasons);

    /* the queue's peaks and mean, exactly, over every transition */
    int64_t in[Q_N] = {0}, peak[Q_N] = {0}, peak_total = 0;
    sim_tavg total;
    sim_tavg_init(&total, 0, 0);
    for (size_t i = 0; i < o->nq; i++) {
        const qev *e = &o->q[i];
        if (e->t > o->end)
            break;
        if (e->t >= s->warmup && total.start < s->warmup)
            sim_tavg_reset(&total, s->warmup);
        in[e->q] += e->d;
        int64_t sum = in[0] + in[1] + in[2];
        sim_tavg_set(&total, e->t > total.last_time ? e->t : total.last_time, (double)sum);
        for (int q = 0; q < Q_N; q++)
            if (in[q] > peak[q])
                peak[q] = in[q];
        if (sum > peak_total)
            peak_total = sum;
    }
    if (total.start < s->warmup && o->end >= s->warmup)
        sim_tavg_reset(&total, s->warmup);
    json_t *qj = json_object();
    json_t *pj = json_object();
    json_object_set_new(pj, "incoming", results_json_count((uint64_t)peak[Q_INCOMING]));
    json_object_set_new(pj, "active", results_json_count((uint64_t)peak[Q_ACTIVE]));
    json_object_set_new(pj, "deferred", results_json_count((uint64_t)peak[Q_DEFERRED]));
    json_object_set_new(pj, "total", results_json_count((uint64_t)peak_total));
    json_object_set_new(qj, "peak", pj);
    json_t *mj = json_object();
    json_object_set_new(mj, "total", results_json_real(sim_tavg_mean(&total, o->end > total.last_time ? o->end : total.last_time)));
    json_object_set_new(qj, "mean", mj);
    json_object_set_new(qj, "oldest", results_json_real(sim_time_to_sec(o->oldest_max)));
    json_object_set_new(qj, "at_end", results_json_count(o->at_end));
    json_object_set_new(root, "queue", qj);
    results_messages_tally_json(tally, msgs, qj);

    json_t *res = json_object();
    json_object_set_new(res, "cpu_utilisation", json_null());
    json_object_set_new(res, "disk_utilisation", json_null());
    json_object_set_new(root, "resources", res);

    json_t *rp = json_object();
    json_object_set_new(rp, "speedup", results_json_real(t->speedup));
    json_object_set_new(rp, "hosts", results_json_count(t->nhosts));
    json_object_set_new(rp, "inject_failed", results_json_count(t->c.inject_failed));
    json_object_set_new(rp, "unclaimed_lines", results_json_count(t->unclaimed_lines));
    json_object_set_new(rp, "clock_phase", results_json_real(t->clock_phase));
    if (t->qmgr_start) {
        json_t *q = json_array();
        for (uint32_t h = 0; h < t->nhosts; h++)
            json_array_append_new(q, isfinite(t->qmgr_start[h]) ? results_json_real(t->qmgr_start[h]) : json_null());
        json_object_set_new(rp, "qmgr_start", q);
    }
    json_object_set_new(root, "replay", rp);
    return root;
}

/* ---- the whole ---- */

static void out_free(out *o)
{
    free(o->q);
    free(o->r);
    free(o->d);
    free(o->arr);
    free(o->done);
    free(o->reasons);
    sim_quantile_free(o->latency);
    for (size_t c = 0; o->cls && c < o->s->traffic.nclasses; c++)
        sim_quantile_free(o->cls[c].latency);
    free(o->cls);
}

int harness_replay_track_write(harness_replay_track *t, FILE *messages_csv, FILE *timeseries_csv,
                               const char *events_path, sim_time_t events_offset, double events_scale, sim_time_t end,
                               json_t **summary,
                               char *err, size_t errlen)
{
    const scenario *s = t->s;
    *summary = NULL;
    if (errlen > 0)
        err[0] = '\0';
    out o = {.t = t, .s = s, .k = t->speedup, .end = end};
    o.done = sim_xcalloc(t->n ? t->n : 1, sizeof(*o.done));
    o.latency = sim_quantile_create();
    o.cls = sim_xcalloc(s->traffic.nclasses ? s->traffic.nclasses : 1, sizeof(*o.cls));
    for (size_t c = 0; c < s->traffic.nclasses; c++)
        o.cls[c].latency = sim_quantile_create();
    int64_t *off = sim_xcalloc(t->nhosts, sizeof(*off));
    bool *have = sim_xcalloc(t->nhosts, sizeof(*have));
    clock_offsets(t, off, have);

    /* every message's timeline; the destinations in the order their messages arrived */
    o.arr = sim_xcalloc(t->n ? t->n : 1, sizeof(*o.arr));
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].claimed)
            o.arr[o.narr++] = (row){.arrival = t->e[i].m.arrival, .id = t->e[i].m.id, .e = i};
    if (o.narr > 0)
        qsort(o.arr, o.narr, sizeof(*o.arr), cmp_arrival);
    for (size_t i = 0; i < o.narr; i++) {
        harness_replay_entry *e = &t->e[o.arr[i].e];
        dest_of(&o, e->m.host, e->m.cls, e->m.domain);
        timeline(&o, e, off, have, o.arr[i].e);
    }
    free(off);
    free(have);
    if (o.nq > 0)
        qsort(o.q, o.nq, sizeof(*o.q), cmp_qev);
    if (o.nr > 0)
        qsort(o.r, o.nr, sizeof(*o.r), cmp_rev);

    /* deliveries and dead episodes (the starts of runs of "suspended" records) per destination */
    bool *in_run = sim_xcalloc(o.nd ? o.nd : 1, sizeof(*in_run));
    for (size_t i = 0; i < o.nr; i++) {
        size_t di = o.r[i].dest;
        if (o.r[i].st == HARNESS_MAILLOG_SENT)
            o.d[di].deliveries++;
        if (o.r[i].suspended && !in_run[di])
            o.d[di].dead_episodes++;
        in_run[di] = o.r[i].suspended;
    }
    free(in_run);

    /* messages.csv, in the order the messages left (those still queued last), and the counts */
    results_messages *mw = results_messages_create(messages_csv);
    results_messages_tally tally = {.warmup = s->warmup};
    row *rows = sim_xcalloc(o.narr ? o.narr : 1, sizeof(*rows));
    for (size_t i = 0; i < o.narr; i++)
        rows[i] = (row){.done = o.done[o.arr[i].e], .arrival = o.arr[i].arrival, .id = o.arr[i].id, .e = o.arr[i].e};
    if (o.narr > 0)
        qsort(rows, o.narr, sizeof(*rows), cmp_row);
    for (size_t i = 0; i < o.narr; i++) {
        const harness_replay_entry *e = &t->e[rows[i].e];
        uint32_t c = e->m.cls < s->traffic.nclasses ? e->m.cls : 0;
        mta_outcome oc = e->state == HARNESS_REPLAY_DELIVERED ? MTA_OUTCOME_DELIVERED
                         : e->state == HARNESS_REPLAY_BOUNCED ? MTA_OUTCOME_BOUNCED
                                                              : MTA_OUTCOME_QUEUED;
        mta_message_record mr = {.msg_id = e->m.id, .queue_id = e->m.queue_id, .host = e->m.host, .cls = c,
                                 .cls_name = s->traffic.nclasses ? s->traffic.classes[c].name : "",
                                 .domain = e->m.domain, .nrcpt = e->m.nrcpt, .size = e->m.size,
                                 .arrival = e->m.arrival, .done = rows[i].done, .outcome = oc,
                                 .attempts = e->attempts, .resend_of = e->m.resend_of, .resend_no = e->m.resend_no};
        results_messages_write(mw, &mr);
        results_messages_tally_add(&tally, &mr);
        cls_stats *cs = &o.cls[c];
        if (e->m.arrival >= s->warmup) {
            o.arrived++;
            cs->arrived++;
            if (e->m.resend_no > 0) {
                o.resent++;
                cs->resent++;
            }
        }
        if (oc == MTA_OUTCOME_QUEUED) {
            o.queued++;
            cs->queued++;
            o.at_end++;
            continue;
        }
        if (mr.done < s->warmup)
            continue;
        if (oc == MTA_OUTCOME_DELIVERED) {
            double lat = sim_time_to_sec(mr.done - mr.arrival);
            o.delivered++;
            cs->delivered++;
            sim_quantile_add(o.latency, lat);
            sim_quantile_add(cs->latency, lat);
        } else {
            o.bounced++;
            cs->bounced++;
        }
        sim_tally_add(&cs->attempts, mr.attempts);
    }
    free(rows);
    int rc = results_messages_finish(mw);
    results_messages_free(mw);

    /* timeseries.csv: the MTA's columns from the timelines, the receivers' from the event log */
    o.ts = results_timeseries_create(timeseries_csv);
    static const char *const fixed[] = {"queue.incoming", "queue.active", "queue.deferred", "queue.oldest",
                                        "delivered",      "bounced",      "deferred"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        results_timeseries_add_column(o.ts, fixed[i]);
    o.nrcv = s->nreceivers;
    const char **names = sim_xcalloc(o.nrcv ? o.nrcv : 1, sizeof(*names));
    for (size_t i = 0; i < o.nrcv; i++)
        names[i] = s->receivers[i].name;
    o.col_rcv = harness_smtpd_events_add_columns(o.ts, names, o.nrcv);
    for (size_t i = 0; i < o.nd; i++) {
        char col[320];
        snprintf(col, sizeof(col), "window.%s", o.d[i].name);
        if (o.d[i].canon == i)
            results_timeseries_add_column(o.ts, col);
    }
    results_timeseries_add_column(o.ts, "cpu.utilisation");
    results_timeseries_add_column(o.ts, "disk.utilisation");
    harness_smtpd_events *ev = NULL;
    if (rc == 0 && events_path != NULL) {
        FILE *f = fopen(events_path, "r");
        if (f == NULL) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", events_path, strerror(errno));
        } else {
            ev = harness_smtpd_events_create(names, o.nrcv, s->sample_every, sample, &o);
            harness_smtpd_events_clock(ev, events_offset, events_scale);
            char e2[512] = "";
            rc = harness_smtpd_events_read(ev, f, e2, sizeof(e2));
            if (rc < 0)
                snprintf(err, errlen, "%s: %s", events_path, e2);
            else
                harness_smtpd_events_finish(ev, end);
            fclose(f);
        }
    } else if (rc == 0) {
        for (sim_time_t at = 0; at <= end; at += s->sample_every)
            sample(&o, at, NULL, 0);
    }
    free(names);
    if (rc == 0)
        rc = o.wrc ? o.wrc : results_timeseries_finish(o.ts);
    if (rc == 0)
        *summary = summary_build(&o, ev, &tally);
    else if (err[0] == '\0')
        snprintf(err, errlen, "writing: %s", strerror(-rc));
    harness_smtpd_events_free(ev);
    results_timeseries_free(o.ts);
    out_free(&o);
    return rc;
}
