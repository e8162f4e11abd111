/*
 * tempfail_summary - the key figures of a run as summary.json (schema: docs/results.md).
 *
 * This is where the model's statistics get their public names; `expect:` assertions and
 * `tempfail compare` address them by these paths, so renaming a key is a breaking change.
 */
#include "tempfail/tempfail.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "results/results_json.h"

static json_t *num(double v) { return results_json_real(v); }

static json_t *latency(const sim_quantile *q) { return results_json_latency(q); }

static json_t *receiver_json(receiver *r, sim_time_t end)
{
    policy_stats stats;
    receiver_stats(r, &stats);
    const policy_stats *ps = &stats;
    json_t *o = json_object();
    json_object_set_new(o, "connections", results_json_count(ps->connections));
    json_object_set_new(o, "refused", results_json_count(ps->connections_refused));
    json_object_set_new(o, "messages", results_json_count(ps->messages_accepted));
    json_object_set_new(o, "recipients", results_json_count(ps->recipients_accepted));
    json_t *replies = json_object();
    for (int code = 200; code < 600; code++)
        if (ps->replies_by_code[code]) {
            char k[8];
            snprintf(k, sizeof(k), "%d", code);
            json_object_set_new(replies, k, results_json_count(ps->replies_by_code[code]));
        }
    /* 421 is asked about so often that it is always present, as 0 when none was sent. */
    if (!json_object_get(replies, "421"))
        json_object_set_new(replies, "421", results_json_count(0));
    json_object_set_new(o, "replies", replies);
    json_t *rules = json_object();
    for (int k = 0; k < POLICY_RULE_COUNT; k++)
        if (ps->refused_by_rule[k])
            json_object_set_new(rules, policy_rule_kind_name((policy_rule_kind)k), results_json_count(ps->refused_by_rule[k]));
    json_object_set_new(o, "refused_by_rule", rules);
    json_t *s = json_object();
    json_object_set_new(s, "peak", results_json_count(r->peak));
    json_object_set_new(s, "peak_busy", results_json_count(r->peak_busy));
    json_object_set_new(s, "peak_idle", results_json_count(r->peak_idle));
    json_object_set_new(s, "mean", num(sim_tavg_mean(&r->sessions, end)));
    json_object_set_new(s, "cap", r->cap ? results_json_count(r->cap) : json_null());
    json_object_set_new(o, "sessions", s);
    json_object_set_new(o, "penalty_boxes", results_json_count(ps->penalty_boxes));
    if (ps->refused_by_rule[POLICY_RULE_CONCURRENCY_PER_IP] || ps->refused_by_rule[POLICY_RULE_CONCURRENCY_TOTAL]) {
        json_t *at = json_object();
        json_object_set_new(at, "with_idle", results_json_count(ps->cap_refused_idle));
        json_object_set_new(at, "open_max", results_json_count(ps->cap_refused_open_max));
        json_object_set_new(at, "idle_max", results_json_count(ps->cap_refused_idle_max));
        json_object_set_new(o, "cap_refusals", at);
    }
    json_t *wait = json_object();
    json_object_set_new(wait, "mean", num(r->wait.n ? r->wait.mean : 0));
    json_object_set_new(wait, "max", num(r->wait.n ? r->wait.max : 0));
    json_object_set_new(o, "wait", wait);
    return o;
}

json_t *tempfail_summary_build(const scenario *s, world *w, const sim_run_result *run,
                              const results_messages_tally *tally)
{
    const world_stats *st = world_get_stats(w);
    sim_time_t end = run->end;
    json_t *root = json_object();
    json_object_set_new(root, "scenario", json_string(s->name));
    json_object_set_new(root, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(root, "replication", json_integer(s->replication));

    json_t *sim = json_object();
    json_object_set_new(sim, "duration", num(sim_time_to_sec(s->duration)));
    json_object_set_new(sim, "warmup", num(sim_time_to_sec(s->warmup)));
    json_object_set_new(sim, "end", num(sim_time_to_sec(end)));
    json_object_set_new(sim, "events", results_json_count(run->events));
    json_object_set_new(sim, "drained", json_boolean(run->drained));
    json_object_set_new(root, "simulated", sim);

    json_t *msgs = json_object();
    json_object_set_new(msgs, "arrived", results_json_count(st->arrived));
    json_object_set_new(msgs, "resent", results_json_count(st->resent));
    json_object_set_new(msgs, "delivered", results_json_count(st->delivered));
    json_object_set_new(msgs, "bounced", results_json_count(st->bounced));
    json_object_set_new(msgs, "queued", results_json_count(st->queued));
    json_object_set_new(msgs, "attempts", results_json_count(st->attempts));
    json_object_set_new(msgs, "deferrals", results_json_count(st->deferrals));
    json_object_set_new(root, "messages", msgs);
    json_object_set_new(root, "latency", latency(st->latency));

    json_t *classes = json_object();
    for (size_t c = 0; c < s->traffic.nclasses; c++) {
        const world_class_stats *cs = &st->cls[c];
        json_t *o = json_object();
        json_object_set_new(o, "arrived", results_json_count(cs->arrived));
        json_object_set_new(o, "resent", results_json_count(cs->resent));
        json_object_set_new(o, "delivered", results_json_count(cs->delivered));
        json_object_set_new(o, "bounced", results_json_count(cs->bounced));
        json_object_set_new(o, "queued", results_json_count(cs->queued));
        json_object_set_new(o, "latency", latency(cs->latency));
        json_t *a = json_object();
        json_object_set_new(a, "mean", num(cs->attempts.n ? cs->attempts.mean : 0));
        json_object_set_new(a, "max", num(cs->attempts.n ? cs->attempts.max : 0));
        json_object_set_new(o, "attempts", a);
        json_object_set_new(classes, s->traffic.classes[c].name, o);
    }
    json_object_set_new(root, "classes", classes);

    json_t *rcv = json_object();
    for (size_t i = 0; i < world_nreceivers(w); i++) {
        receiver *r = world_receiver(w, i);
        json_object_set_new(rcv, r->cfg->name, receiver_json(r, end));
    }
    json_object_set_new(root, "receivers", rcv);

    json_t *dests = json_object();
    for (size_t h = 0; h < world_nhosts(w); h++) {
        mta_host *host = world_host(w, h);
        for (size_t i = 0; i < mta_host_ndests(host); i++) {
            mta_dest_stats *d = mta_host_dest(host, i);
            char name[512];
            tempfail_dest_name(w, h, d, name, sizeof(name));
            json_t *o = json_object();
            json_object_set_new(o, "receiver", json_string(d->rcv->cfg->name));
            json_object_set_new(o, "dead_episodes", results_json_count(d->dead_episodes));
            json_object_set_new(o, "dead_time", num(d->dead_time));
            json_t *win = json_object();
            json_object_set_new(win, "min", json_integer(d->window_min));
            json_object_set_new(win, "max", json_integer(d->window_max));
            json_object_set_new(win, "mean", num(sim_tavg_mean(&d->window_avg, end)));
            json_object_set_new(o, "window", win);
            json_object_set_new(o, "deliveries", results_json_count(d->deliveries));
            json_object_set_new(dests, name, o);
        }
    }
    json_object_set_new(root, "destinations", dests);

    json_t *reasons = json_object();
    for (size_t i = 0; i < st->nreasons; i++)
        json_object_set_new(reasons, st->deferral_reasons[i].key, results_json_count(st->deferral_reasons[i].n));
    json_object_set_new(root, "deferrals", reasons);

    json_t *q = json_object();
    json_t *peak = json_object();
    json_object_set_new(peak, "incoming", results_json_count(st->peak_incoming));
    json_object_set_new(peak, "active", results_json_count(st->peak_active));
    json_object_set_new(peak, "deferred", results_json_count(st->peak_deferred));
    json_object_set_new(peak, "total", results_json_count(st->peak_total));
    json_object_set_new(q, "peak", peak);
    json_t *mean = json_object();
    json_object_set_new(mean, "total", num(sim_tavg_mean(&st->q_total, end)));
    json_object_set_new(q, "mean", mean);
    json_object_set_new(q, "oldest", num(sim_time_to_sec(st->oldest_age_max)));
    json_object_set_new(q, "at_end", results_json_count(world_in_system(w)));
    results_messages_tally_json(tally, msgs, q);
    json_object_set_new(root, "queue", q);

    json_t *res = json_object();
    double cpu_busy, disk_busy;
    uint32_t cores;
    bool disk;
    world_resources(w, &cpu_busy, &cores, &disk_busy, &disk);
    double span = sim_time_to_sec(end - s->warmup);
    json_object_set_new(res, "cpu_utilisation", cores && span > 0 ? num(cpu_busy / (cores * span)) : json_null());
    json_object_set_new(res, "disk_utilisation", disk && span > 0 ? num(disk_busy / (world_nhosts(w) * span)) : json_null());
    json_object_set_new(root, "resources", res);
    return root;
}

void tempfail_dest_name(world *w, size_t host, const mta_dest_stats *d, char *buf, size_t len)
{
    if (world_nhosts(w) > 1)
        snprintf(buf, len, "mta%zu/%s", host + 1, d->name);
    else
        snprintf(buf, len, "%s", d->name);
}
