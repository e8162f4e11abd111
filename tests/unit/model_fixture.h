/*
 * model_fixture - the small hand-built configurations the model tests share (test_smtp_client,
 * test_world, test_apppool, test_receiver): a receiver with constant 30 ms round trips, no think or
 * service time, and a Postfix config with its one "smtp" transport, no TLS and a 10 ms MX lookup - so
 * the times a test sees are exact.
 */
#ifndef MODEL_FIXTURE_H
#define MODEL_FIXTURE_H

#include "models/mta_params.h"
#include "models/receiver.h"

#define FIXTURE_RTT 0.030 /* seconds per round trip */
#define FIXTURE_DNS 0.010 /* seconds per MX lookup */

/* Strings and arrays are borrowed; the policy's host name is the first MX host. */
static inline receiver_config fixture_receiver(const char *name, char **domains, size_t ndomains,
                                               receiver_mx_config *mx, size_t nmx, policy_rule_config *rules)
{
    return (receiver_config){.name = (char *)name, .domains = domains, .ndomains = ndomains, .mx = mx, .nmx = nmx,
                             .rtt = sim_dist_constant(FIXTURE_RTT), .bandwidth = 12.5e6,
                             .latency = sim_dist_constant(0), .service = sim_dist_constant(0),
                             .policy = {.rules = rules, .preset = (char *)"postfix", .hostname = mx[0].host}};
}

/* Postfix's defaults with tr as the one transport. */
static inline void fixture_mta(mta_config *mc, mta_transport_config *tr)
{
    mta_config_defaults(mc);
    *tr = (mta_transport_config){.name = (char *)"smtp"};
    mta_transport_params_defaults(&tr->p);
    tr->p.tls = false;
    mc->transports = tr;
    mc->ntransports = 1;
    mc->latency.dns_mx = sim_dist_constant(FIXTURE_DNS);
}

#endif
