/*
 * latency - shared resources and the sending host's latency draws.
 *
 * The resource is the classic trick for FCFS servers whose service times are known on arrival: the
 * request takes the server that frees first, so its start and completion follow at once and nothing
 * needs an event. Busy time is credited when the request is granted, so a utilisation read between two
 * instants counts service that is already committed (the smear is at most one service time).
 */
#include "models/latency.h"
#include "sim/sim_mem.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>

void latency_resource_init(latency_resource *r, uint32_t servers)
{
    *r = (latency_resource){.servers = servers};
    if (servers > 0)
        r->free_at = sim_xcalloc(servers, sizeof(*r->free_at));
}

void latency_resource_destroy(latency_resource *r)
{
    free(r->free_at);
    r->free_at = NULL;
}

sim_time_t latency_resource_acquire(latency_resource *r, sim_time_t now, sim_time_t service, sim_time_t *start)
{
    r->requests++;
    r->busy += sim_time_to_sec(service);
    if (r->servers == 0) {
        if (start)
            *start = now;
        if (now + service > r->last_done)
            r->last_done = now + service;
        return now + service;
    }
    sim_time_t *h = r->free_at;
    sim_time_t begin = h[0] > now ? h[0] : now;
    sim_time_t done = begin + service;
    r->wait += sim_time_to_sec(begin - now);
    /* Replace the root with the new free time and sift it down. */
    uint32_t i = 0, n = r->servers;
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        sim_time_t v = done;
        if (l < n && h[l] < v)
            m = l, v = h[l];
        if (l + 1 < n && h[l + 1] < v)
            m = l + 1;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = done;
    if (done > r->last_done)
        r->last_done = done;
    if (start)
        *start = begin;
    return done;
}

sim_time_t latency_draw(const sim_dist *d, gsl_rng *rng)
{
    if (d->kind == SIM_DIST_CONSTANT)
        return d->a > 0 ? sim_time_from_sec(d->a) : 0;
    double s = sim_dist_sample(d, rng);
    return s > 0 && isfinite(s) ? sim_time_from_sec(s) : 0;
}

bool latency_dns_lookup(const latency_config *c, gsl_rng *rng, sim_time_t *delay)
{
    *delay = latency_draw(&c->dns_mx, rng);
    return !(c->dns_tempfail > 0 && gsl_rng_uniform(rng) < c->dns_tempfail);
}

sim_time_t latency_cpu_acquire(latency_resource *cpu, const latency_config *c, gsl_rng *rng, sim_time_t now,
                               sim_time_t service)
{
    if (now - cpu->last_done >= c->cpu_wakeup_after)
        service += latency_draw(&c->cpu_wakeup, rng);
    return latency_resource_acquire(cpu, now, service, NULL);
}
