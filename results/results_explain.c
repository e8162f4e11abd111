/*
 * results_explain - the rules of `tempfail explain` (results_explain.h; docs/explain.md describes
 * each, the figures it reads and the incident it names).
 *
 * Figures are read by their summary.json names through results_expect_resolve, the resolver expect:
 * lines use, so a rule and an assertion about the same figure read the same number. Time series are
 * read per sample: a "during the refusals" figure is taken over the samples whose interval had one.
 */
#include "results/results_explain.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/mta.h"
#include "results/results_expect.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"
#include "sim/sim_time.h"

/* ---- reading ---- */

static double fig(const results_rundir *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double fig(const results_rundir *rd, const char *fmt, ...)
{
    char path[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    double v;
    return results_expect_resolve(rd->summary, path, &v) == 0 ? v : NAN;
}

static double fig0(const results_rundir *rd, const char *fmt, const char *a, const char *b)
{
    double v = fig(rd, fmt, a, b);
    return isnan(v) ? 0 : v;
}

static void when(char *b, size_t len, double sec)
{
    if (isnan(sec)) {
        snprintf(b, len, "-");
        return;
    }
    sim_time_format(b, len, (sim_time_t)llround(sec * (double)SIM_SEC));
}

static const receiver_config *rcv_cfg(const scenario *s, const char *name)
{
    for (size_t i = 0; s && i < s->nreceivers; i++)
        if (strcmp(s->receivers[i].name, name) == 0)
            return &s->receivers[i];
    return NULL;
}

static const policy_rule_config *rule_of(const receiver_config *r, policy_rule_kind k)
{
    for (size_t i = 0; r && i < r->policy.nrules; i++)
        if (r->policy.rules[i].kind == k)
            return &r->policy.rules[i];
    return NULL;
}

/* A destination's transport, from its name "mta2/slowmx:orange.test". */
static const mta_transport_config *dest_transport(const scenario *s, const char *dest)
{
    const char *p = strchr(dest, '/');
    const char *name = p && p < strchr(dest, ':') ? p + 1 : dest;
    size_t len = strcspn(name, ":");
    for (size_t t = 0; s && t < s->mta.ntransports; t++)
        if (strlen(s->mta.transports[t].name) == len && strncmp(s->mta.transports[t].name, name, len) == 0)
            return &s->mta.transports[t];
    return NULL;
}

/* Postfix's largest concurrency limit over the destinations to receiver rcv; 0 when none is known. */
static int rcv_limit(const results_rundir *rd, const scenario *s, const char *rcv)
{
    json_t *dests = json_object_get(rd->summary, "destinations");
    const char *name;
    json_t *d;
    int lim = 0;
    json_object_foreach(dests, name, d)
    {
        const char *r = json_string_value(json_object_get(d, "receiver"));
        const mta_transport_config *t = dest_transport(s, name);
        if (r && t && strcmp(r, rcv) == 0 && (int)t->p.destination_concurrency_limit > lim)
            lim = (int)t->p.destination_concurrency_limit;
    }
    return lim;
}

static results_explain_finding *add(results_explain *e, const char *rule, const char *incident, double first)
{
    if (e->n >= RESULTS_EXPLAIN_MAX)
        return NULL;
    results_explain_finding *f = &e->f[e->n++];
    memset(f, 0, sizeof(*f));
    f->rule = rule;
    f->incident = incident;
    f->first = first;
    return f;
}

/* The start of the first sample interval in which receiver r sent a 421; NaN when none did. */
static double first_421(const results_rundir *rd, const char *r)
{
    char c421[300];
    snprintf(c421, sizeof(c421), "%s.replies.421", r);
    int k = results_rundir_column(rd, c421);
    for (size_t row = 0; k >= 0 && row < rd->nrow; row++)
        if (results_rundir_value(rd, row, k) > 0)
            return row ? rd->time[row - 1] : 0;
    return NAN;
}

/* ---- the rules ---- */

/* idle-cap: a cap that counts idle cached sessions refused connections while idle ones were open.
 * The evidence is the receiver's own count at each refusal (summary.json cap_refusals); a run
 * without it (a replay's receiver) is read from the time series' samples around the refusals. */
static void rule_idle_cap(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const policy_rule_config *cap = rule_of(rcv_cfg(s, r), POLICY_RULE_CONCURRENCY_PER_IP);
    double refused = fig0(rd, "receivers.%s.refused_by_rule.concurrency_per_ip%s", r, "");
    double with_idle = fig(rd, "receivers.%s.cap_refusals.with_idle", r);
    double first = first_421(rd, r);
    double open = fig(rd, "receivers.%s.cap_refusals.open_max", r);
    double idle = fig(rd, "receivers.%s.cap_refusals.idle_max", r);
    bool exact = !isnan(with_idle);
    /* A replay's receiver counts no idle sessions at a refusal, and its "idle" sessions include those
     * waiting on a held reply: the evidence there is that accepted sessions carried more than one
     * message each, so Postfix cached sessions (and a cached session waits idle for its next). */
    double accepted = fig0(rd, "receivers.%s.connections%s", r, "") - fig0(rd, "receivers.%s.refused%s", r, "");
    double msgs = fig0(rd, "receivers.%s.messages%s", r, "");
    /* exact: idle sessions were open at 5% of the refusals at least (else they are not the cause) */
    if (!cap || !cap->count_idle || refused <= 0 || (exact && with_idle < 0.05 * refused) ||
        (!exact && !(accepted > 0 && msgs > accepted)))
        return;
    char t[64];
    when(t, sizeof(t), first);
    results_explain_finding *f = add(e, "idle-cap", "strict-cap-idle", first);
    if (!f)
        return;
    int len = snprintf(f->text, sizeof(f->text),
                       "%s refused %.0f connections at the greeting (first by %s) for its cap of %llu sessions per "
                       "IP, a cap that counts idle cached sessions: ",
                       r, refused, t, (unsigned long long)cap->limit);
    if (len > 0 && (size_t)len < sizeof(f->text))
        snprintf(f->text + len, sizeof(f->text) - (size_t)len,
                 exact ? "%.0f of them (%.0f%%) while idle cached sessions were open, up to %.0f sessions open at a "
                         "refusal, %.0f of them idle. A session Postfix keeps for reuse is a socket to the receiver."
                       : "Postfix cached its sessions (%.0f accepted sessions carried %.0f messages), and a session "
                         "it keeps for reuse is a socket to the receiver while it waits for the next message.",
                 exact ? with_idle : accepted, exact ? 100 * with_idle / refused : msgs, open, idle);
    snprintf(f->evidence, sizeof(f->evidence),
             exact ? "summary.json receivers.%s.refused_by_rule.concurrency_per_ip, .cap_refusals (the receiver's "
                     "count at each refusal); scenario.yaml count_idle"
                   : "summary.json receivers.%s.refused_by_rule.concurrency_per_ip, .connections, .refused, "
                     ".messages; scenario.yaml count_idle",
             r);
}

/* over-cap: Postfix kept its own limit, the receiver still saw more sessions than its cap. */
static void rule_over_cap(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const policy_rule_config *cap = rule_of(rcv_cfg(s, r), POLICY_RULE_CONCURRENCY_PER_IP);
    double peak = fig0(rd, "receivers.%s.sessions.peak%s", r, "");
    double peak_idle = fig0(rd, "receivers.%s.sessions.peak_idle%s", r, "");
    int lim = rcv_limit(rd, s, r);
    if (!cap || !cap->count_idle || s->mta.hosts > 1 || lim <= 0 || (uint64_t)lim > cap->limit ||
        peak <= (double)cap->limit)
        return;
    results_explain_finding *f = add(e, "over-cap", "upgrade-hidden-limit", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "%s saw up to %.0f sessions from one address against its cap of %llu, although Postfix never ran "
             "more than %d deliveries to it at once (its concurrency limit): the rest were cached sessions waiting "
             "for reuse (up to %.0f idle) and the retries of refused mail arriving beside them. The limit Postfix "
             "obeys and the sessions the receiver counts are not the same number.",
             r, peak, (unsigned long long)cap->limit, lim, peak_idle);
    snprintf(f->evidence, sizeof(f->evidence),
             "summary.json receivers.%s.sessions.peak, .peak_idle; scenario.yaml destination_concurrency_limit "
             "and the cap",
             r);
}

/* A replay's windows: Postfix logs a window only in qmgr's feedback lines, which a replay keeps as
 * scheduler.csv, per queue named by its next hop ("[127.64.0.1]:40473"): the largest new window of
 * the queues whose address is one of the receiver's MX hosts. */
typedef struct sched_max {
    const receiver_config *rc;
    double max;
} sched_max;

static void sched_row(void *ctx, const char *const *cells)
{
    sched_max *m = ctx;
    const char *a = cells[0] + (cells[0][0] == '[');
    size_t len = strcspn(a, "]");
    for (size_t j = 0; j < m->rc->nmx; j++) {
        const char *mx = m->rc->mx[j].address;
        if (mx && strlen(mx) == len && strncmp(mx, a, len) == 0 && strtod(cells[1], NULL) > m->max)
            m->max = strtod(cells[1], NULL);
    }
}

static double replay_window_max(const char *dir, const receiver_config *rc)
{
    static const char *const cols[] = {"destination", "new_window"};
    char path[4200], err[256];
    snprintf(path, sizeof(path), "%s/scheduler.csv", dir);
    sched_max m = {rc, 0};
    if (!rc || access(path, R_OK) != 0 || results_rundir_each_row(dir, "scheduler.csv", cols, 2, sched_row, &m, err,
                                                                  sizeof(err)) != 0)
        return 0;
    return m.max;
}

/* window-over-cap: Postfix ran more deliveries at once than the receiver allows sessions. */
static void rule_window_over_cap(results_explain *e, const char *dir, const results_rundir *rd, const scenario *s,
                                 const char *r)
{
    const policy_rule_config *cap = rule_of(rcv_cfg(s, r), POLICY_RULE_CONCURRENCY_PER_IP);
    double refused = fig0(rd, "receivers.%s.refused_by_rule.concurrency_per_ip%s", r, "");
    if (!cap || refused <= 0)
        return;
    json_t *dests = json_object_get(rd->summary, "destinations");
    const char *name, *worst = NULL;
    json_t *d;
    double wmax = 0;
    json_object_foreach(dests, name, d)
    {
        const char *dr = json_string_value(json_object_get(d, "receiver"));
        double w = json_number_value(json_object_get(json_object_get(d, "window"), "max"));
        if (dr && strcmp(dr, r) == 0 && w > wmax) {
            wmax = w;
            worst = name;
        }
    }
    bool replay = false;
    if (!worst) { /* a replay: no window in summary.json, qmgr's own in scheduler.csv */
        json_object_foreach(dests, name, d)
        {
            const char *dr = json_string_value(json_object_get(d, "receiver"));
            if (!worst && dr && strcmp(dr, r) == 0 && json_is_null(json_object_get(d, "window")))
                worst = name;
        }
        wmax = worst ? replay_window_max(dir, rcv_cfg(s, r)) : 0;
        replay = true;
    }
    if (!worst || wmax <= (double)cap->limit)
        return;
    results_explain_finding *f = add(e, "window-over-cap", "login-codes", NAN);
    if (!f)
        return;
    const mta_transport_config *t = dest_transport(s, worst);
    snprintf(f->text, sizeof(f->text),
             "Postfix's concurrency window for %s reached %.0f deliveries at once (initial concurrency %u, limit "
             "%u) against %s's cap of %llu sessions per IP: every delivery beyond the cap was refused (%.0f "
             "refusals), and more concurrency meant more refusals, not more mail.",
             worst, wmax, t ? t->p.initial_destination_concurrency : 0, t ? t->p.destination_concurrency_limit : 0, r,
             (unsigned long long)cap->limit, refused);
    if (replay)
        snprintf(f->evidence, sizeof(f->evidence),
                 "scheduler.csv new_window (qmgr's feedback lines) of the queues to %s's MX addresses; summary.json "
                 "receivers.%s.refused_by_rule.concurrency_per_ip; scenario.yaml the transport's concurrency",
                 r, r);
    else
        snprintf(f->evidence, sizeof(f->evidence),
                 "summary.json destinations.%s.window.max, receivers.%s.refused_by_rule.concurrency_per_ip; "
                 "scenario.yaml the transport's concurrency",
                 worst, r);
}

/* dead-destination: failed cohorts declared a destination dead; its mail waited for a queue scan. */
static void rule_dead(results_explain *e, const results_rundir *rd, const scenario *s)
{
    json_t *dests = json_object_get(rd->summary, "destinations");
    const char *name;
    json_t *d;
    double suspended = fig(rd, "deferrals.suspended");
    json_object_foreach(dests, name, d)
    {
        double eps = json_number_value(json_object_get(d, "dead_episodes"));
        if (!(eps > 0))
            continue;
        char col[400];
        snprintf(col, sizeof(col), "window.%s", name);
        int c = results_rundir_column(rd, col);
        double first = NAN;
        for (size_t row = 0; c >= 0 && row < rd->nrow && isnan(first); row++)
            if (results_rundir_value(rd, row, c) == 0)
                first = rd->time[row];
        const mta_transport_config *t = dest_transport(s, name);
        char t1[80] = "", dt[80];
        if (!isnan(first)) { /* a replay has no window column: when is unknown */
            char w[64];
            when(w, sizeof(w), first);
            snprintf(t1, sizeof(t1), " (first by %s)", w);
        }
        json_t *jdt = json_object_get(d, "dead_time");
        dt[0] = 0;
        if (json_is_number(jdt)) { /* null in a replay: Postfix does not log how long */
            char w[64];
            when(w, sizeof(w), json_number_value(jdt));
            snprintf(dt, sizeof(dt), ", %s in all", w);
        }
        results_explain_finding *f = add(e, "dead-destination", "strict-cap-idle", first);
        if (!f)
            return;
        snprintf(f->text, sizeof(f->text),
                 "%s was declared dead %.0f time%s%s%s: a cohort of failed sessions (a 421 at "
                 "the greeting is one) reached the failed cohort limit of %g, and while a destination is dead "
                 "its mail is deferred without a try (\"delivery temporarily suspended\": %.0f deferrals in the run) "
                 "until a deferred-queue scan after minimal_backoff_time.",
                 name, eps, eps == 1 ? "" : "s", t1, dt, t ? t->p.failed_cohort_limit : 1.0, isnan(suspended) ? 0 : suspended);
        snprintf(f->evidence, sizeof(f->evidence),
                 "summary.json destinations.%s.dead_episodes, .dead_time, deferrals.suspended; timeseries.csv "
                 "window.%s = 0",
                 name, name);
    }
}

/* resend-loop: users who waited asked again, and their requests are more load. */
static void rule_resend(results_explain *e, const results_rundir *rd, const scenario *s)
{
    for (size_t i = 0; s && i < s->traffic.nclasses; i++) {
        const char *c = s->traffic.classes[i].name;
        double resent = fig0(rd, "classes.%s.resent%s", c, ""), arrived = fig0(rd, "classes.%s.arrived%s", c, "");
        double orig = arrived - resent;
        if (resent <= 0 || orig <= 0 || resent < 0.01 * orig)
            continue;
        results_explain_finding *f = add(e, "resend-loop", "login-codes", NAN);
        if (!f)
            return;
        snprintf(f->text, sizeof(f->text),
                 "%.0f times a user of %s waited too long and asked for another message, adding %.1f%% to its "
                 "%.0f messages: each late message makes more, which queue behind the late ones.",
                 resent, c, 100 * resent / orig, orig);
        snprintf(f->evidence, sizeof(f->evidence), "summary.json classes.%s.resent, .arrived", c);
    }
}

/* penalty-retry: the receiver blocked the host, and a short retry schedule brought the backlog back. */
static void rule_penalty(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const policy_rule_config *box = rule_of(rcv_cfg(s, r), POLICY_RULE_PENALTY_BOX);
    double boxes = fig0(rd, "receivers.%s.penalty_boxes%s", r, "");
    if (!box || boxes <= 0 || (s->mta.queue_run_delay >= 300 * SIM_SEC && s->mta.minimal_backoff_time >= 300 * SIM_SEC))
        return;
    char w[64], dur[64], q[64], mb[64];
    sim_time_format(w, sizeof(w), box->window);
    sim_time_format(dur, sizeof(dur), box->duration);
    sim_time_format(q, sizeof(q), s->mta.queue_run_delay);
    sim_time_format(mb, sizeof(mb), s->mta.minimal_backoff_time);
    results_explain_finding *f = add(e, "penalty-retry", "retry-tuning", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "%s blocked this host %.0f times (%llu refusals within %s put it in the box for %s; %.0f connections "
             "refused while boxed). With queue_run_delay %s and minimal_backoff_time %s, shorter than Postfix's "
             "300 s, the deferred backlog came back as soon as each block lifted, was refused again, and earned "
             "the next block: the receiver counts the retries.",
             r, boxes, (unsigned long long)box->limit, w, dur,
             fig0(rd, "receivers.%s.refused_by_rule.penalty_box%s", r, ""), q, mb);
    snprintf(f->evidence, sizeof(f->evidence),
             "summary.json receivers.%s.penalty_boxes, .refused_by_rule.penalty_box; scenario.yaml queue_run_delay, "
             "minimal_backoff_time",
             r);
}

/* shared-ip: several MTA hosts leave from one address and the receiver counts them together. */
static void rule_shared_ip(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const policy_rule_config *cap = rule_of(rcv_cfg(s, r), POLICY_RULE_CONCURRENCY_PER_IP);
    double refused = fig0(rd, "receivers.%s.refused_by_rule.concurrency_per_ip%s", r, "");
    if (!cap || refused <= 0 || s->mta.hosts < 2 || s->mta.nsource_ips >= s->mta.hosts)
        return;
    int lim = rcv_limit(rd, s, r);
    results_explain_finding *f = add(e, "shared-ip", "nat-shared-ip", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "%u MTA hosts leave from %zu address%s (%s%s), and %s counts sessions per address: up to %.0f sessions "
             "against its cap of %llu, while each host kept its own limit of %d. %.0f connections were refused: "
             "the hosts' limits add up at the receiver.",
             s->mta.hosts, s->mta.nsource_ips, s->mta.nsource_ips == 1 ? "" : "es", s->mta.source_ips[0],
             s->mta.nsource_ips > 1 ? ", ..." : "", r, fig0(rd, "receivers.%s.sessions.peak%s", r, ""),
             (unsigned long long)cap->limit, lim, refused);
    snprintf(f->evidence, sizeof(f->evidence),
             "scenario.yaml mta.hosts, mta.source_ips; summary.json receivers.%s.sessions.peak, "
             ".refused_by_rule.concurrency_per_ip",
             r);
}

/* The largest p95 latency of a class, and its name. */
static double worst_p95(const results_rundir *rd, const scenario *s, const char **cls)
{
    double w = NAN;
    for (size_t i = 0; s && i < s->traffic.nclasses; i++) {
        double v = fig(rd, "classes.%s.latency.p95", s->traffic.classes[i].name);
        if (!isnan(v) && (isnan(w) || v > w)) {
            w = v;
            *cls = s->traffic.classes[i].name;
        }
    }
    return w;
}

/* slow-dns: uncached MX lookups that take long keep deliveries waiting before any session. */
static void rule_slow_dns(results_explain *e, const results_rundir *rd, const scenario *s)
{
    const latency_config *l = &s->mta.latency;
    double mean = sim_dist_mean(&l->dns_mx);
    const char *cls = NULL;
    double p95 = worst_p95(rd, s, &cls);
    if (!(mean >= 0.1) || l->dns_ttl >= 60 * SIM_SEC || !(p95 >= 10))
        return;
    char ttl[64], pt[64];
    sim_time_format(ttl, sizeof(ttl), l->dns_ttl);
    when(pt, sizeof(pt), p95);
    results_explain_finding *f = add(e, "slow-dns", "slow-dns", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "Every delivery looked up its MX hosts first (dns.ttl %s: nothing cached), and a lookup took %.0f ms on "
             "average (median %.0f ms): a delivery holds one of Postfix's concurrency slots while it waits, with no "
             "session open, so the slots fill with waiting and mail queues (%s's p95 %s) while the receivers see "
             "fewer sessions than Postfix allows.",
             ttl, 1000 * mean, 1000 * sim_dist_median(&l->dns_mx), cls, pt);
    snprintf(f->evidence, sizeof(f->evidence),
             "scenario.yaml mta.dns.mx_lookup, mta.dns.ttl; summary.json classes.%s.latency.p95", cls);
}

/* disk-stalls: a queue disk whose fsyncs stall; deliveries come out in bursts that trip a rate limit. */
static void rule_disk(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const latency_config *l = &s->mta.latency;
    const policy_rule_config *rate = rule_of(rcv_cfg(s, r), POLICY_RULE_CONNECTION_RATE_PER_IP);
    double refused = fig0(rd, "receivers.%s.refused_by_rule.connection_rate_per_ip%s", r, "");
    double mean = sim_dist_mean(&l->disk_fsync);
    if (!l->disk_enabled || !(mean >= 0.02) || !rate || refused <= 0)
        return;
    char c[300];
    snprintf(c, sizeof(c), "%s.replies.2xx", r);
    int k = results_rundir_column(rd, c);
    double most = 0, dt = rd->nrow > 1 ? rd->time[1] - rd->time[0] : 0;
    for (size_t row = 0; k >= 0 && row < rd->nrow; row++)
        if (results_rundir_value(rd, row, k) > most)
            most = results_rundir_value(rd, row, k);
    char w[64], iv[64];
    sim_time_format(w, sizeof(w), rate->window);
    when(iv, sizeof(iv), dt);
    results_explain_finding *f = add(e, "disk-stalls", "disk-bursts", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "The queue disk's fsync took %.0f ms on average (median %.1f ms): a stall holds back the queue files "
             "behind it, and when it clears the held mail leaves at once. %s allows %llu connections per %s and "
             "refused %.0f; its busiest %s interval carried %.0f replies of 2xx, the bursts the stalls made.",
             1000 * mean, 1000 * sim_dist_median(&l->disk_fsync), r, (unsigned long long)rate->limit, w, refused, iv,
             most);
    snprintf(f->evidence, sizeof(f->evidence),
             "scenario.yaml mta.disk.fsync; summary.json receivers.%s.refused_by_rule.connection_rate_per_ip; "
             "timeseries.csv %s.replies.2xx",
             r, r);
}

/* greylist-wait: greylisted first contacts wait for a queue scan that comes long after the delay. */
static void rule_greylist(results_explain *e, const results_rundir *rd, const scenario *s, const char *r)
{
    const policy_rule_config *g = rule_of(rcv_cfg(s, r), POLICY_RULE_GREYLIST);
    double n = fig0(rd, "receivers.%s.refused_by_rule.greylist%s", r, "");
    if (!g || n <= 0 || s->mta.queue_run_delay * 2 <= g->delay)
        return;
    char d[64], q[64], m[64];
    sim_time_format(d, sizeof(d), g->delay);
    sim_time_format(q, sizeof(q), s->mta.queue_run_delay);
    sim_time_format(m, sizeof(m), s->mta.minimal_backoff_time);
    results_explain_finding *f = add(e, "greylist-wait", "greylisting", NAN);
    if (!f)
        return;
    snprintf(f->text, sizeof(f->text),
             "%s greylisted %.0f deliveries (come back after %s). Postfix retries a deferred message only at a "
             "deferred-queue scan (every %s) and no sooner than minimal_backoff_time (%s): first-contact mail "
             "waits the greylist delay and then up to a whole scan interval more.",
             r, n, d, q, m);
    snprintf(f->evidence, sizeof(f->evidence),
             "summary.json receivers.%s.refused_by_rule.greylist; scenario.yaml the greylist delay, "
             "queue_run_delay, minimal_backoff_time",
             r);
}

/* ---- head-of-line: a class waiting behind another's mass in one destination queue ---- */

typedef struct hol_msg {
    double arrival, done;   /* done: INFINITY while still queued */
    uint32_t cls, queue;
} hol_msg;

typedef struct hol_ctx {
    const scenario *s;
    hol_msg *m;
    size_t n, cap;
    char **queues;
    size_t nq;
} hol_ctx;

static uint32_t hol_queue(hol_ctx *h, const char *name)
{
    for (size_t i = 0; i < h->nq; i++)
        if (strcmp(h->queues[i], name) == 0)
            return (uint32_t)i;
    h->queues = sim_xreallocarray(h->queues, h->nq + 1, sizeof(*h->queues));
    h->queues[h->nq] = sim_xstrdup(name);
    return (uint32_t)h->nq++;
}

static void hol_row(void *ctx, const char *const *cells)
{
    hol_ctx *h = ctx;
    const scenario *s = h->s;
    uint32_t cls = UINT32_MAX;
    for (size_t i = 0; i < s->traffic.nclasses; i++)
        if (strcmp(s->traffic.classes[i].name, cells[0]) == 0)
            cls = (uint32_t)i;
    if (cls == UINT32_MAX)
        return;
    /* the message's queue as the model names it: host/transport:nexthop (mta_route, the one rule) */
    const mta_config *mc = &s->mta;
    size_t t = mta_route(mc, mta_route_listing(mc, cells[1]), traffic_class_sender(&s->traffic.classes[cls]));
    char q[600];
    snprintf(q, sizeof(q), "%s%s%s:%s", mc->hosts > 1 ? cells[2] : "", mc->hosts > 1 ? "/" : "",
             mc->transports[t].name, mc->transports[t].nexthop ? mc->transports[t].nexthop : cells[1]);
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4096;
        h->m = sim_xreallocarray(h->m, h->cap, sizeof(*h->m));
    }
    double a = strtod(cells[3], NULL), d = cells[4][0] ? strtod(cells[4], NULL) : INFINITY;
    h->m[h->n++] = (hol_msg){a, d, cls, hol_queue(h, q)};
}

static void rule_head_of_line(results_explain *e, const char *dir, const scenario *s, char *err, size_t errlen,
                              int *rc)
{
    static const char *const cols[] = {"class", "domain", "host", "arrival", "done"};
    hol_ctx h = {.s = s};
    if (results_rundir_each_row(dir, "messages.csv", cols, 5, hol_row, &h, err, errlen) != 0) {
        *rc = -1;
        goto out;
    }
    size_t nc = s->traffic.nclasses;
    for (uint32_t q = 0; q < h.nq; q++) {
        size_t *count = sim_xcalloc(nc, sizeof(*count));
        for (size_t i = 0; i < h.n; i++)
            if (h.m[i].queue == q)
                count[h.m[i].cls]++;
        uint32_t b = 0;
        for (uint32_t c = 1; c < nc; c++)
            if (count[c] > count[b])
                b = c;
        for (uint32_t a = 0; a < nc; a++) {
            if (a == b || !count[a] || count[b] < 2 * count[a])
                continue;
            /* a's latency in this queue, and how many of b's were in it when a's slowest arrived
             * (arrived by then, not done: sorted arrivals and dones, counted by binary search) */
            double *lat = sim_xcalloc(count[a], sizeof(*lat));
            double *barr = sim_xcalloc(count[b], sizeof(*barr)), *bdone = sim_xcalloc(count[b], sizeof(*bdone));
            size_t k = 0, nb = 0, ahead = 0;
            for (size_t i = 0; i < h.n; i++)
                if (h.m[i].queue == q && h.m[i].cls == a)
                    lat[k++] = h.m[i].done - h.m[i].arrival;
                else if (h.m[i].queue == q && h.m[i].cls == b) {
                    barr[nb] = h.m[i].arrival;
                    bdone[nb++] = h.m[i].done;
                }
            sim_sort_doubles(lat, k);
            sim_sort_doubles(barr, nb);
            sim_sort_doubles(bdone, nb);
            double p95 = lat[(size_t)ceil(0.95 * (double)k) - 1], p50 = lat[(k - 1) / 2];
            bool slow = p95 >= 30 && p95 >= 10 * p50 + 5;
            for (size_t i = 0; slow && i < h.n; i++)
                if (h.m[i].queue == q && h.m[i].cls == a && h.m[i].done - h.m[i].arrival >= p95) {
                    double t = h.m[i].arrival;
                    size_t in = sim_sorted_count_le(barr, nb, t) - sim_sorted_count_le(bdone, nb, t);
                    if (in > ahead)
                        ahead = in;
                }
            free(lat);
            free(barr);
            free(bdone);
            if (!slow || ahead < 10)
                continue;
            const traffic_class_config *bc = &s->traffic.classes[b];
            bool periodic = bc->arrivals.kind == TRAFFIC_PERIODIC;
            results_explain_finding *f = add(e, "head-of-line", periodic ? "batch-job" : "bulk-and-transactional", NAN);
            if (!f)
                break;
            char pt[64], every[64] = "";
            when(pt, sizeof(pt), isinf(p95) ? NAN : p95);
            if (periodic)
                sim_time_format(every, sizeof(every), bc->arrivals.every);
            int len = snprintf(f->text, sizeof(f->text),
                               "%s mail waited behind up to %zu %s messages in the one queue they shared, %s "
                               "(%zu messages of %s, %zu of %s): a destination queue is served in order, so the "
                               "p95 of %s there was %s against a median of %.1f s.",
                               s->traffic.classes[a].name, ahead, bc->name, h.queues[q], count[b], bc->name, count[a],
                               s->traffic.classes[a].name, s->traffic.classes[a].name, pt, isinf(p50) ? 0 : p50);
            if (periodic && len > 0 && (size_t)len < sizeof(f->text))
                snprintf(f->text + len, sizeof(f->text) - (size_t)len, " %s sends %llu messages at once every %s.",
                         bc->name, (unsigned long long)bc->arrivals.count, every);
            snprintf(f->evidence, sizeof(f->evidence),
                     "messages.csv class, domain, arrival, done (the queue from scenario.yaml's transports); %s's "
                     "messages in the system when %s's slowest arrived",
                     bc->name, s->traffic.classes[a].name);
        }
        free(count);
    }
out:
    for (size_t i = 0; i < h.nq; i++)
        free(h.queues[i]);
    free(h.queues);
    free(h.m);
}

/* No rule matched: the refusals there were, so that "nothing found" is never read as "nothing refused". */
static void unexplained(results_explain *e, const results_rundir *rd)
{
    json_t *rcvs = json_object_get(rd->summary, "receivers");
    const char *r, *k;
    json_t *v, *n;
    size_t len = 0;
    json_object_foreach(rcvs, r, v)
    {
        json_t *by = json_object_get(v, "refused_by_rule");
        if (!json_object_size(by) || len >= sizeof(e->note))
            continue;
        int w = snprintf(e->note + len, sizeof(e->note) - len, "%s%s refused", len ? "; " : "No rule matched these refusals: ", r);
        const char *sep = " ";
        json_object_foreach(by, k, n)
        {
            if (w > 0 && len + (size_t)w < sizeof(e->note))
                len += (size_t)w;
            w = snprintf(e->note + len, sizeof(e->note) - len, "%s%lld by %s", sep, (long long)json_integer_value(n), k);
            sep = ", ";
        }
        if (w > 0 && len + (size_t)w < sizeof(e->note))
            len += (size_t)w;
    }
    if (len && len + 80 < sizeof(e->note))
        snprintf(e->note + len, sizeof(e->note) - len,
                 " (summary.json receivers.*.refused_by_rule); none of the patterns in docs/explain.md fits them");
}

int results_explain_run(const char *dir, const results_rundir *rd, const scenario *s, results_explain *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!s) {
        snprintf(out->note, sizeof(out->note),
                 "scenario.yaml could not be loaded: the rules that read the configuration were skipped");
        return 0;
    }
    json_t *rcvs = json_object_get(rd->summary, "receivers");
    const char *r;
    json_t *v;
    json_object_foreach(rcvs, r, v) rule_window_over_cap(out, dir, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_shared_ip(out, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_idle_cap(out, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_over_cap(out, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_penalty(out, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_disk(out, rd, s, r);
    json_object_foreach(rcvs, r, v) rule_greylist(out, rd, s, r);
    rule_dead(out, rd, s);
    rule_slow_dns(out, rd, s);
    int rc = 0;
    rule_head_of_line(out, dir, s, err, errlen, &rc);
    rule_resend(out, rd, s);
    if (out->n == 0)
        unexplained(out, rd);
    return rc;
}
