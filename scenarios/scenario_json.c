/*
 * scenario_json - the resolved scenario as JSON, for the run manifest.
 *
 * A run directory must say exactly what was simulated, not what the file said: the YAML leaves most
 * parameters to their defaults, and a per-transport value may come from any of four places. So the
 * manifest carries every field after resolution, keyed by the scenario's own names (main.cf names for
 * transports, rule parameter names for policies), in base units: times in seconds, sizes in bytes,
 * rates per second. Two runs can then be compared field by field (`tempfail compare`).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "scenarios/scenario_conv.h"

static json_t *scenario_json_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *scenario_json_time(sim_time_t t)
{
    return json_real(sim_time_to_sec(t));
}

static json_t *scenario_json_strv(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; v && (n == (size_t)-1 ? v[i] != NULL : i < n); i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *scenario_json_dist(const sim_dist *d)
{
    /* z(0.99), to report the p99 of a lognormal given as mu/sigma */
    const double z99 = 2.3263478740408408;
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return json_pack("{s:s, s:f}", "dist", "constant", "value", d->a);
    case SIM_DIST_UNIFORM:
        return json_pack("{s:s, s:f, s:f}", "dist", "uniform", "min", d->a, "max", d->b);
    case SIM_DIST_EXPONENTIAL:
        return json_pack("{s:s, s:f}", "dist", "exponential", "mean", d->a);
    case SIM_DIST_LOGNORMAL:
        return json_pack("{s:s, s:f, s:f, s:f, s:f}", "dist", "lognormal", "mu", d->a, "sigma", d->b, "median",
                         exp(d->a), "p99", exp(d->a + z99 * d->b));
    case SIM_DIST_GAMMA:
        return json_pack("{s:s, s:f, s:f, s:f}", "dist", "gamma", "shape", d->a, "scale", d->b, "mean", d->a * d->b);
    case SIM_DIST_PARETO:
        return json_pack("{s:s, s:f, s:f}", "dist", "pareto", "shape", d->a, "min", d->b);
    case SIM_DIST_EMPIRICAL: {
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < d->n; i++) {
            sum += d->values[i];
            lo = d->values[i] < lo ? d->values[i] : lo;
            hi = d->values[i] > hi ? d->values[i] : hi;
        }
        return json_pack("{s:s, s:I, s:f, s:f, s:f}", "dist", "empirical", "n", (json_int_t)d->n, "min",
                         d->n ? lo : 0.0, "max", d->n ? hi : 0.0, "mean", d->n ? sum / (double)d->n : 0.0);
    }
    }
    return json_null();
}

static json_t *scenario_json_arrivals(const traffic_arrivals *a)
{
    json_t *o = json_pack("{s:s}", "process", traffic_process_names[a->kind]);
    switch (a->kind) {
    case TRAFFIC_POISSON:
        json_object_set_new(o, "rate", json_real(a->rate));
        break;
    case TRAFFIC_SCHEDULE: {
        json_t *steps = json_array();
        for (size_t i = 0; i < a->nsteps; i++)
            json_array_append_new(steps, json_pack("{s:o, s:f}", "at", scenario_json_time(a->steps[i].at), "rate",
                                                   a->steps[i].rate));
        json_object_set_new(o, "steps", steps);
        json_object_set_new(o, "period", scenario_json_time(a->period));
        break;
    }
    case TRAFFIC_BURST:
        json_object_set_new(o, "count", json_integer((json_int_t)a->count));
        json_object_set_new(o, "start", scenario_json_time(a->start));
        json_object_set_new(o, "over", scenario_json_time(a->over));
        break;
    case TRAFFIC_PERIODIC:
        json_object_set_new(o, "count", json_integer((json_int_t)a->count));
        json_object_set_new(o, "every", scenario_json_time(a->every));
        json_object_set_new(o, "start", scenario_json_time(a->start));
        break;
    case TRAFFIC_TRACE:
        json_object_set_new(o, "arrivals", json_integer((json_int_t)a->ntimes));
        json_object_set_new(o, "first", scenario_json_time(a->ntimes ? a->times[0] : 0));
        json_object_set_new(o, "last", scenario_json_time(a->ntimes ? a->times[a->ntimes - 1] : 0));
        break;
    }
    return o;
}

static json_t *scenario_json_traffic(const traffic_config *t)
{
    json_t *classes = json_array();
    for (size_t i = 0; i < t->nclasses; i++) {
        const traffic_class_config *k = &t->classes[i];
        json_t *domains = json_object();
        for (size_t j = 0; j < k->ndomains; j++)
            json_object_set_new(domains, k->domains[j].domain, json_real(k->domains[j].weight));
        json_array_append_new(
            classes, json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:o, s:f, s:I}, s:o}", "name", k->name, "arrivals",
                               scenario_json_arrivals(&k->arrivals), "size", scenario_json_dist(&k->size),
                               "recipients", scenario_json_dist(&k->recipients), "domains", domains, "resend", "after",
                               scenario_json_time(k->resend.after), "probability", k->resend.probability, "max",
                               (json_int_t)k->resend.max, "sender", scenario_json_str(k->sender)));
    }
    return json_pack("{s:o}", "classes", classes);
}

static json_t *scenario_json_feedback(const mta_feedback *f)
{
    char buf[64];
    mta_feedback_format(f, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *scenario_json_transport(const mta_transport_config *t)
{
    const mta_transport_params *p = &t->p;
    json_t *o = json_object();
    json_object_set_new(o, "domains", scenario_json_strv(t->domains, t->ndomains));
    json_object_set_new(o, "senders", scenario_json_strv(t->senders, t->nsenders));
    json_object_set_new(o, "nexthop", scenario_json_str(t->nexthop));
    json_object_set_new(o, "maxproc", json_integer(p->maxproc));
    json_object_set_new(o, "initial_destination_concurrency", json_integer(p->initial_destination_concurrency));
    json_object_set_new(o, "destination_concurrency_limit", json_integer(p->destination_concurrency_limit));
    json_object_set_new(o, "destination_concurrency_positive_feedback", scenario_json_feedback(&p->positive_feedback));
    json_object_set_new(o, "destination_concurrency_negative_feedback", scenario_json_feedback(&p->negative_feedback));
    json_object_set_new(o, "destination_concurrency_failed_cohort_limit", json_real(p->failed_cohort_limit));
    json_object_set_new(o, "destination_recipient_limit", json_integer(p->destination_recipient_limit));
    json_object_set_new(o, "destination_rate_delay", scenario_json_time(p->destination_rate_delay));
    json_object_set_new(o, "transport_rate_delay", scenario_json_time(p->transport_rate_delay));
    json_object_set_new(o, "smtp_connection_cache_on_demand", json_boolean(p->connection_cache_on_demand));
    json_object_set_new(o, "smtp_connection_cache_destinations",
                        scenario_json_strv(p->connection_cache_destinations, (size_t)-1));
    json_object_set_new(o, "smtp_connection_cache_time_limit", scenario_json_time(p->connection_cache_time_limit));
    json_object_set_new(o, "smtp_connection_reuse_time_limit", scenario_json_time(p->connection_reuse_time_limit));
    json_object_set_new(o, "smtp_connection_reuse_count_limit", json_integer(p->connection_reuse_count_limit));
    json_object_set_new(o, "smtp_mx_address_limit", json_integer(p->mx_address_limit));
    json_object_set_new(o, "smtp_mx_session_limit", json_integer(p->mx_session_limit));
    json_object_set_new(o, "smtp_connect_timeout", scenario_json_time(p->connect_timeout));
    json_object_set_new(o, "smtp_helo_timeout", scenario_json_time(p->helo_timeout));
    json_object_set_new(o, "smtp_mail_timeout", scenario_json_time(p->mail_timeout));
    json_object_set_new(o, "smtp_rcpt_timeout", scenario_json_time(p->rcpt_timeout));
    json_object_set_new(o, "smtp_data_init_timeout", scenario_json_time(p->data_init_timeout));
    json_object_set_new(o, "smtp_data_xfer_timeout", scenario_json_time(p->data_xfer_timeout));
    json_object_set_new(o, "smtp_data_done_timeout", scenario_json_time(p->data_done_timeout));
    json_object_set_new(o, "smtp_rset_timeout", scenario_json_time(p->rset_timeout));
    json_object_set_new(o, "smtp_quit_timeout", scenario_json_time(p->quit_timeout));
    json_object_set_new(o, "tls", json_boolean(p->tls));
    return o;
}

static json_t *scenario_json_mta(const mta_config *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(m->kind == MTA_KIND_APPPOOL ? "apppool" : "postfix"));
    json_object_set_new(o, "hosts", json_integer(m->hosts));
    json_object_set_new(o, "source_ips", scenario_json_strv(m->source_ips, m->nsource_ips));
    if (m->qmgr_start) {
        json_t *a = json_array();
        for (size_t i = 0; i < m->nqmgr_start; i++)
            json_array_append_new(a, scenario_json_time(m->qmgr_start[i]));
        json_object_set_new(o, "qmgr_start", a);
    } else {
        json_object_set_new(o, "qmgr_start", json_string("random"));
    }
    json_object_set_new(
        o, "postfix",
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o}", "queue_run_delay", scenario_json_time(m->queue_run_delay),
                  "minimal_backoff_time", scenario_json_time(m->minimal_backoff_time), "maximal_backoff_time",
                  scenario_json_time(m->maximal_backoff_time), "maximal_queue_lifetime",
                  scenario_json_time(m->maximal_queue_lifetime), "bounce_queue_lifetime",
                  scenario_json_time(m->bounce_queue_lifetime), "qmgr_message_active_limit",
                  (json_int_t)m->qmgr_message_active_limit, "qmgr_message_recipient_limit",
                  (json_int_t)m->qmgr_message_recipient_limit, "max_use", (json_int_t)m->max_use, "max_idle",
                  scenario_json_time(m->max_idle)));
    json_t *tr = json_object();
    for (size_t i = 0; i < m->ntransports; i++)
        json_object_set_new(tr, m->transports[i].name, scenario_json_transport(&m->transports[i]));
    json_object_set_new(o, "transports", tr);
    const mta_apppool_config *a = &m->apppool;
    json_object_set_new(o, "apppool",
                        json_pack("{s:I, s:o, s:f, s:I, s:b}", "workers", (json_int_t)a->workers, "retry_delay",
                                  scenario_json_time(a->retry_delay), "jitter", a->jitter, "max_attempts",
                                  (json_int_t)a->max_attempts, "reuse", a->reuse));
    const latency_config *l = &m->latency;
    json_object_set_new(o, "dns",
                        json_pack("{s:o, s:f, s:o}", "mx_lookup", scenario_json_dist(&l->dns_mx), "tempfail",
                                  l->dns_tempfail, "ttl", scenario_json_time(l->dns_ttl)));
    json_object_set_new(o, "tls",
                        json_pack("{s:b, s:I, s:o}", "enabled", l->tls, "round_trips", (json_int_t)l->tls_round_trips,
                                  "cpu", scenario_json_dist(&l->tls_cpu)));
    json_object_set_new(o, "cpu",
                        json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "cores", (json_int_t)l->cores, "per_delivery",
                                  scenario_json_dist(&l->cpu_per_delivery), "per_message",
                                  scenario_json_dist(&l->cpu_per_message), "process_start",
                                  scenario_json_dist(&l->cpu_process_start), "wakeup",
                                  scenario_json_dist(&l->cpu_wakeup), "wakeup_after",
                                  scenario_json_time(l->cpu_wakeup_after)));
    json_object_set_new(o, "disk",
                        json_pack("{s:b, s:o, s:I, s:I}", "enabled", l->disk_enabled, "fsync",
                                  scenario_json_dist(&l->disk_fsync), "writes_per_message",
                                  (json_int_t)l->disk_writes_per_message, "writes_per_delivery",
                                  (json_int_t)l->disk_writes_per_delivery));
    return o;
}

static json_t *scenario_json_rule(const policy_rule_config *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "rule", json_string(policy_rule_kind_name(r->kind)));
    switch (r->kind) {
    case POLICY_RULE_CONCURRENCY_PER_IP:
    case POLICY_RULE_CONCURRENCY_TOTAL:
        json_object_set_new(o, "limit", json_integer((json_int_t)r->limit));
        json_object_set_new(o, "count_idle", json_boolean(r->count_idle));
        break;
    case POLICY_RULE_CONNECTION_RATE_PER_IP:
    case POLICY_RULE_MESSAGE_RATE_PER_IP:
    case POLICY_RULE_RECIPIENT_RATE_PER_IP:
        json_object_set_new(o, "limit", json_integer((json_int_t)r->limit));
        json_object_set_new(o, "window", scenario_json_time(r->window));
        break;
    case POLICY_RULE_MESSAGES_PER_SESSION:
        json_object_set_new(o, "limit", json_integer((json_int_t)r->limit));
        json_object_set_new(o, "silent", json_boolean(r->silent));
        break;
    case POLICY_RULE_RECIPIENTS_PER_MESSAGE:
        json_object_set_new(o, "limit", json_integer((json_int_t)r->limit));
        break;
    case POLICY_RULE_GREYLIST:
        json_object_set_new(o, "delay", scenario_json_time(r->delay));
        json_object_set_new(o, "retry_window", scenario_json_time(r->duration));
        json_object_set_new(o, "auto_allow", json_integer(r->auto_allow));
        break;
    case POLICY_RULE_TARPIT:
        json_object_set_new(o, "stage", json_string(policy_stage_name(r->stage)));
        json_object_set_new(o, "delay", scenario_json_time(r->delay));
        break;
    case POLICY_RULE_RANDOM_FAULT:
        json_object_set_new(o, "stage", json_string(policy_stage_name(r->stage)));
        json_object_set_new(o, "probability", json_real(r->probability));
        break;
    case POLICY_RULE_PENALTY_BOX:
        json_object_set_new(o, "violations", json_integer((json_int_t)r->limit));
        json_object_set_new(o, "within", scenario_json_time(r->window));
        json_object_set_new(o, "duration", scenario_json_time(r->duration));
        break;
    case POLICY_RULE_IDLE_TIMEOUT:
        json_object_set_new(o, "timeout", scenario_json_time(r->duration));
        break;
    default:
        break;
    }
    json_object_set_new(o, "reply", scenario_json_str(r->reply));
    json_object_set_new(o, "close", json_boolean(r->close));
    return o;
}

/* index: the receiver's, for the made-up address of an MX host that names none (as the logs show it). */
static json_t *scenario_json_receiver(const receiver_config *r, uint32_t index)
{
    static const char *const states[] = {"up", "refuse", "timeout"};
    json_t *mx = json_array();
    for (size_t i = 0; i < r->nmx; i++) {
        char made[40];
        receiver_mx_default_address(index, i, made, sizeof(made));
        json_array_append_new(mx, json_pack("{s:s, s:s, s:I, s:s, s:o}", "host", r->mx[i].host, "address",
                                            r->mx[i].address ? r->mx[i].address : made, "preference",
                                            (json_int_t)r->mx[i].preference, "state", states[r->mx[i].state],
                                            "listen", scenario_json_strv(r->mx[i].listen, (size_t)-1)));
    }
    json_t *rules = json_array();
    for (size_t i = 0; i < r->policy.nrules; i++)
        json_array_append_new(rules, scenario_json_rule(&r->policy.rules[i]));
    return json_pack("{s:s, s:o, s:o, s:o, s:{s:o, s:f}, s:o, s:o, s:o, s:I, s:b, s:o, s:o, s:o}", "name", r->name,
                     "description", scenario_json_str(r->description), "domains",
                     scenario_json_strv(r->domains, r->ndomains), "mx", mx, "network", "rtt",
                     scenario_json_dist(&r->rtt), "bandwidth", r->bandwidth, "latency", scenario_json_dist(&r->latency),
                     "connect_latency", scenario_json_dist(&r->connect_latency),
                     "service", scenario_json_dist(&r->service), "capacity", (json_int_t)r->capacity, "starttls",
                     r->starttls, "preset", scenario_json_str(r->policy.preset), "hostname",
                     scenario_json_str(r->policy.hostname), "policy", rules);
}

json_t *scenario_to_json(const scenario *s)
{
    char start[32];
    time_t t = (time_t)s->start;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(start, sizeof(start), "%Y-%m-%d %H:%M:%S", &tm);
    else
        snprintf(start, sizeof(start), "%lld", (long long)s->start);

    json_t *o = json_object();
    json_object_set_new(o, "name", scenario_json_str(s->name));
    json_object_set_new(o, "description", scenario_json_str(s->description));
    json_object_set_new(o, "source", scenario_json_str(s->source));
    json_object_set_new(o, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(o, "replication", json_integer(s->replication));
    json_object_set_new(o, "duration", scenario_json_time(s->duration));
    json_object_set_new(o, "until", json_string(s->until_drained ? "drained" : "horizon"));
    json_object_set_new(o, "drain_cap", scenario_json_time(s->drain_cap));
    json_object_set_new(o, "warmup", scenario_json_time(s->warmup));
    json_object_set_new(o, "sample_every", scenario_json_time(s->sample_every));
    json_object_set_new(o, "start", json_string(start));
    json_object_set_new(o, "traffic", scenario_json_traffic(&s->traffic));
    json_object_set_new(o, "mta", scenario_json_mta(&s->mta));
    json_t *rs = json_array();
    for (size_t i = 0; i < s->nreceivers; i++)
        json_array_append_new(rs, scenario_json_receiver(&s->receivers[i], (uint32_t)i));
    json_object_set_new(o, "receivers", rs);
    json_t *ex = json_array();
    for (size_t i = 0; i < s->nexpect; i++)
        json_array_append_new(ex, json_pack("{s:s, s:s, s:s, s:f}", "assertion", s->expect[i].text, "metric",
                                            s->expect[i].metric, "op", scenario_expect_op_name(s->expect[i].op),
                                            "value", s->expect[i].value));
    json_object_set_new(o, "expect", ex);
    json_object_set_new(o, "warnings", scenario_json_strv(s->warnings, s->nwarnings));
    return o;
}
