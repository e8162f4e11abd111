/*
 * receiver - a simulated receiving mail system around the shared policy engine.
 *
 * The receiver adds what the policy does not decide: where it is (round-trip times), how long it
 * thinks before each reply, and how fast it processes accepted mail with a limited number of servers.
 * Everything random draws from the receiver's own streams, so adding a receiver to a scenario does not
 * change what the others do.
 */
#include "models/receiver.h"
#include "sim/sim_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_random.h"

static void refresh(receiver *r, sim_time_t now)
{
    const policy_stats *st = policy_get_stats(r->pol);
    uint64_t busy = st->open_busy, idle = st->open_idle, all = busy + idle;
    sim_tavg_set(&r->sessions, now, (double)all);
    sim_tavg_set(&r->busy, now, (double)busy);
    sim_tavg_set(&r->idle, now, (double)idle);
    if (all > r->peak)
        r->peak = all;
    if (busy > r->peak_busy)
        r->peak_busy = busy;
    if (idle > r->peak_idle)
        r->peak_idle = idle;
}

/*
 * The made-up address of MX host j of receiver `index`. The first 8 MX hosts of the first 60 receivers
 * keep the addresses they have always had, in the documentation ranges of RFC 5737 (198.51.100.10-249,
 * then 203.0.113.10-249). Every other pair gets one of its own in the benchmarking range
 * 198.18.0.0/15 of RFC 2544: RECEIVER_MX_MAX per receiver, RECEIVER_MAX receivers, which fill it.
 */
void receiver_mx_default_address(uint32_t index, size_t j, char *buf, size_t len)
{
    unsigned n = 10 + index * 8 + (unsigned)j;
    if (j < 8 && n < 250) {
        snprintf(buf, len, "198.51.100.%u", n);
    } else if (j < 8 && n < 490) {
        snprintf(buf, len, "203.0.113.%u", n - 240);
    } else {
        unsigned off = index * RECEIVER_MX_MAX + (unsigned)j;
        snprintf(buf, len, "198.%u.%u.%u", 18 + off / 65536, off / 256 % 256, off % 256);
    }
}

receiver *receiver_create(const receiver_config *cfg, uint32_t index, uint64_t seed, uint32_t replication,
                          char *err, size_t errlen)
{
    const char *why = cfg->nmx > RECEIVER_MX_MAX ? "MX hosts" : index >= RECEIVER_MAX ? "receivers" : NULL;
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "receiver %s: at most %d %s are modelled (each MX host gets an address of its own)",
                     cfg->name, cfg->nmx > RECEIVER_MX_MAX ? RECEIVER_MX_MAX : RECEIVER_MAX, why);
        return NULL;
    }
    receiver *r = sim_xcalloc(1, sizeof(*r));
    r->cfg = cfg;
    r->index = index;
    char name[256];
    snprintf(name, sizeof(name), "policy/%s", cfg->name);
    r->policy_rng = sim_random_stream(seed, replication, name);
    snprintf(name, sizeof(name), "network/%s", cfg->name);
    r->net_rng = sim_random_stream(seed, replication, name);
    r->pol = policy_create(&cfg->policy, r->policy_rng, err, errlen);
    latency_resource_init(&r->service, cfg->capacity);
    if (!r->pol) {
        receiver_free(r);
        return NULL;
    }
    for (size_t i = 0; i < cfg->policy.nrules; i++)
        if (cfg->policy.rules[i].kind == POLICY_RULE_CONCURRENCY_PER_IP) {
            r->cap = (uint32_t)cfg->policy.rules[i].limit;
            break;
        }
    r->idle_timeout = policy_idle_timeout(r->pol);
    r->mx_addr = sim_xcalloc(cfg->nmx, sizeof(char *));
    for (size_t j = 0; j < cfg->nmx; j++) {
        char buf[32];
        receiver_mx_default_address(index, j, buf, sizeof(buf));
        r->mx_addr[j] = sim_xstrdup(cfg->mx[j].address ? cfg->mx[j].address : buf);
    }
    sim_tavg_init(&r->sessions, 0, 0);
    sim_tavg_init(&r->busy, 0, 0);
    sim_tavg_init(&r->idle, 0, 0);
    sim_tally_reset(&r->wait);
    return r;
}

void receiver_free(receiver *r)
{
    if (!r)
        return;
    if (r->mx_addr)
        for (size_t j = 0; j < r->cfg->nmx; j++)
            free(r->mx_addr[j]);
    free(r->mx_addr);
    latency_resource_destroy(&r->service);
    policy_free(r->pol);
    if (r->policy_rng)
        gsl_rng_free(r->policy_rng);
    if (r->net_rng)
        gsl_rng_free(r->net_rng);
    free(r);
}

policy_session *receiver_connect(receiver *r, const char *src_ip, sim_time_t now, policy_verdict *v)
{
    policy_session *s = policy_connect(r->pol, src_ip, now, v);
    if (v->code == 0 && !v->silent)
        policy_count_reply(r->pol, 220);
    refresh(r, now);
    return s;
}

void receiver_close(receiver *r, policy_session *s, sim_time_t now)
{
    policy_close(r->pol, s, now);
    refresh(r, now);
}

void receiver_mail(receiver *r, policy_session *s, sim_time_t now, const char *sender, policy_verdict *v)
{
    policy_mail(r->pol, s, now, sender, v);
    refresh(r, now);
}

void receiver_reset(receiver *r, policy_session *s, sim_time_t now)
{
    policy_reset(r->pol, s, now);
    refresh(r, now);
}

sim_time_t receiver_rtt(receiver *r) { return latency_draw(&r->cfg->rtt, r->net_rng); }

sim_time_t receiver_think(receiver *r) { return latency_draw(&r->cfg->latency, r->net_rng); }

sim_time_t receiver_connect_cost(receiver *r) { return latency_draw(&r->cfg->connect_latency, r->net_rng); }

sim_time_t receiver_process(receiver *r, sim_time_t now)
{
    sim_time_t service = latency_draw(&r->cfg->service, r->net_rng), start;
    sim_time_t done = latency_resource_acquire(&r->service, now, service, &start);
    sim_tally_add(&r->wait, sim_time_to_sec(start - now));
    return done;
}

void receiver_stats(const receiver *r, policy_stats *out)
{
    const policy_stats *now = policy_get_stats(r->pol);
    *out = *now;
    out->connections -= r->base.connections;
    out->connections_refused -= r->base.connections_refused;
    for (int k = 0; k < POLICY_RULE_COUNT; k++)
        out->refused_by_rule[k] -= r->base.refused_by_rule[k];
    out->messages_accepted -= r->base.messages_accepted;
    out->recipients_accepted -= r->base.recipients_accepted;
    for (int c = 0; c < 600; c++)
        out->replies_by_code[c] -= r->base.replies_by_code[c];
    out->penalty_boxes -= r->base.penalty_boxes;
    out->cap_refused_idle -= r->base.cap_refused_idle;
}

void receiver_reset_stats(receiver *r, sim_time_t now)
{
    policy_reset_maxima(r->pol);
    r->base = *policy_get_stats(r->pol);
    sim_tavg_reset(&r->sessions, now);
    sim_tavg_reset(&r->busy, now);
    sim_tavg_reset(&r->idle, now);
    sim_tally_reset(&r->wait);
    r->peak = (uint64_t)r->sessions.value;
    r->peak_busy = (uint64_t)r->busy.value;
    r->peak_idle = (uint64_t)r->idle.value;
}
