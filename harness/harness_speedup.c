/*
 * harness_speedup - a Postfix configuration at K times real speed (see harness_speedup.h).
 */
#include "harness/harness_speedup.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "sim/sim_time.h"

/* One timer: t / k rounded to whole seconds; 0 stays 0 (a timer that is off). */
static int scale(sim_time_t *t, double k, double back, const char *where, const char *name, char *err, size_t errlen)
{
    if (*t <= 0)
        return 0;
    double exact = (double)*t / k; /* microseconds */
    double secs = floor(exact / SIM_SEC + 0.5);
    char was[48], is[48], runs[48];
    sim_time_format(was, sizeof(was), *t);
    sim_time_format(is, sizeof(is), (sim_time_t)llround(exact));
    sim_time_format(runs, sizeof(runs), (sim_time_t)secs * SIM_SEC);
    /* The largest speedup that keeps this timer at 5 s or more always stays within 10%. */
    double kmax = floor((double)*t / (5.0 * SIM_SEC));
    if (secs < 1) {
        snprintf(err, errlen,
                 "%s%s: %s / %g is %s, which Postfix, counting whole seconds, runs as 0s; use a speedup of at most %g",
                 where, name, was, k, is, kmax >= 1 ? kmax : 1);
        return -1;
    }
    double moved = fabs(secs * SIM_SEC - exact) / exact;
    if (moved > HARNESS_SPEEDUP_TOLERANCE) {
        snprintf(err, errlen,
                 "%s%s: %s / %g is %s, which Postfix, counting whole seconds, runs as %s (%.0f%% off); use a speedup "
                 "of at most %g",
                 where, name, was, k, is, runs, 100 * moved, kmax >= 1 ? kmax : 1);
        return -1;
    }
    *t = (sim_time_t)llround(secs * back * SIM_SEC);
    return 0;
}

/* back: 1 for the real Postfix's seconds, k for the same rounding in scenario time. */
static int speedup(mta_config *m, double k, double back, bool tls_everywhere, char *err, size_t errlen)
{
    if (!(k >= 1) || !isfinite(k)) {
        snprintf(err, errlen, "speedup: %g is not a number of at least 1", k);
        return -1;
    }
    const struct {
        sim_time_t *t;
        const char *name;
    } global[] = {
        {&m->queue_run_delay, "queue_run_delay"},
        {&m->minimal_backoff_time, "minimal_backoff_time"},
        {&m->maximal_backoff_time, "maximal_backoff_time"},
        {&m->maximal_queue_lifetime, "maximal_queue_lifetime"},
        {&m->bounce_queue_lifetime, "bounce_queue_lifetime"},
        {&m->max_idle, "max_idle"},
    };
    for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
        if (scale(global[i].t, k, back, "", global[i].name, err, errlen) < 0)
            return -1;
    for (size_t t = 0; t < m->ntransports; t++) {
        mta_transport_params *p = &m->transports[t].p;
        /* The connection cache's limits matter only where sessions can be cached. */
        bool caches = p->connection_cache_on_demand ||
                      (p->connection_cache_destinations && p->connection_cache_destinations[0]);
        /* ... and a session that did STARTTLS is never cached without smtp_tls_connection_reuse. */
        if (tls_everywhere && p->tls && m->latency.tls && !p->tls_connection_reuse)
            caches = false;
        sim_time_t off = 0; /* stands in for the cache limits of a transport that never caches */
        const struct {
            sim_time_t *t;
            const char *name;
        } per[] = {
            {&p->destination_rate_delay, "destination_rate_delay"},
            {&p->transport_rate_delay, "transport_rate_delay"},
            {caches ? &p->connection_cache_time_limit : &off, "smtp_connection_cache_time_limit"},
            {caches ? &p->connection_reuse_time_limit : &off, "smtp_connection_reuse_time_limit"},
            {&p->connect_timeout, "smtp_connect_timeout"},
            {&p->helo_timeout, "smtp_helo_timeout"},
            {&p->mail_timeout, "smtp_mail_timeout"},
            {&p->rcpt_timeout, "smtp_rcpt_timeout"},
            {&p->data_init_timeout, "smtp_data_init_timeout"},
            {&p->data_xfer_timeout, "smtp_data_xfer_timeout"},
            {&p->data_done_timeout, "smtp_data_done_timeout"},
            {&p->rset_timeout, "smtp_rset_timeout"},
            {&p->quit_timeout, "smtp_quit_timeout"},
        };
        char where[160];
        snprintf(where, sizeof(where), "mta.transports.%s: ", m->transports[t].name);
        for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++)
            if (scale(per[i].t, k, back, where, per[i].name, err, errlen) < 0)
                return -1;
    }
    return 0;
}

int harness_speedup_mta(mta_config *m, double k, bool tls_everywhere, char *err, size_t errlen)
{
    return speedup(m, k, 1, tls_everywhere, err, errlen);
}

int harness_speedup_mta_scenario(mta_config *m, double k, bool tls_everywhere, char *err, size_t errlen)
{
    int rc = speedup(m, k, k, tls_everywhere, err, errlen);
    if (rc == 0) /* Postfix's clock still ticks once a real second: K seconds of scenario time */
        m->clock_tick = (sim_time_t)llround(k * SIM_SEC);
    return rc;
}

void harness_speedup_costs(scenario *s, double k)
{
    latency_config *l = &s->mta.latency;
    sim_dist_scale(&l->cpu_per_delivery, k);
    sim_dist_scale(&l->cpu_per_message, k);
    sim_dist_scale(&l->cpu_process_start, k);
    sim_dist_scale(&l->cpu_wakeup, k);
    l->cpu_wakeup_after = (sim_time_t)llround((double)l->cpu_wakeup_after * k); /* the host's real quiet */
    sim_dist_scale(&l->tls_cpu, k);
    for (size_t i = 0; i < s->nreceivers; i++) {
        sim_dist_scale(&s->receivers[i].connect_latency, k);
        sim_dist_scale(&s->receivers[i].latency, k);
    }
}

bool harness_speedup_tls_everywhere(const scenario *s)
{
    for (size_t i = 0; i < s->nreceivers; i++)
        if (!s->receivers[i].starttls && (i + 1 < s->nreceivers || s->receivers[i].ndomains > 0))
            return false;
    return true;
}
