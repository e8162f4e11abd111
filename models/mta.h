/*
 * mta - one Postfix host: its queues (incoming, active, deferred), its queue manager (activation,
 * per-destination queues and the concurrency scheduler, feedback, dead destinations, backoff, the
 * deferred-queue scan) and its smtp(8) delivery agents with their connection cache.
 *
 * Several hosts may share a source IP (NAT): the receivers then count their sessions together, while
 * each host's scheduler only knows its own - one of the ways a "correct" Postfix config still gets 421s.
 */
#ifndef MTA_H
#define MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/latency.h"
#include "models/mta_params.h"
#include "models/mta_queue.h"
#include "models/mta_record.h"
#include "models/receiver.h"
#include "models/smtp_client.h"
#include "models/traffic.h"
#include "sim/sim_calendar.h"
#include "sim/sim_stat.h"

/* What every sender host needs from the world around it. */
typedef struct mta_env {
    sim_calendar *cal;
    const mta_config *cfg;
    const traffic_config *traffic;
    const char *const *domains;     /* global domain names */
    receiver *const *domain_rcv;    /* per domain: the receiver that owns it */
    size_t ndomains;
    uint64_t seed;
    uint32_t replication;
    /* Hooks: every attempt and every message leaving the host (tag as given to submit). */
    void *ctx;
    void (*attempt)(void *ctx, const mta_attempt_record *r);
    bool attempt_text;              /* the attempt hook reads the strings (a mail log is written); when
                                       false they may be NULL and are not formatted - the hot path of big runs */
    void (*message_done)(void *ctx, const mta_message_record *r, uint64_t tag);
    void (*window)(void *ctx, const mta_window_record *r); /* NULL: no scheduler trace */
} mta_env;

/* A destination queue as reports see it. */
typedef struct mta_dest_stats {
    const char *name;       /* "smtp:orange.test" */
    const receiver *rcv;
    int32_t window;         /* now; 0 = dead */
    uint64_t dead_episodes;
    double dead_time;       /* seconds dead */
    sim_tavg window_avg;
    int32_t window_min, window_max;
    uint64_t deliveries;    /* recipients delivered */
} mta_dest_stats;

typedef struct mta_host mta_host;

/*
 * trivial-rewrite's transport for a recipient (resolve.c, transport.c), as an index into c->transports:
 * the transport whose domains: list the recipient's domain (transport_maps; mta_route_listing finds it,
 * SIZE_MAX for none), else the one whose senders: list the envelope sender
 * (sender_dependent_default_transport_maps: the whole address first, then "@domain"; the null sender is
 * "<>"), else 0, "smtp" (default_transport). The model and the replay's reading of a real log route
 * by this one rule.
 */
size_t mta_route(const mta_config *c, size_t listed, const char *sender);
size_t mta_route_listing(const mta_config *c, const char *domain);

mta_host *mta_host_create(const mta_env *env, uint32_t index, const char *src_ip);
/* Emits a QUEUED record for every message still in the system; closes cached connections. */
void mta_host_finish(mta_host *h, sim_time_t now);
void mta_host_free(mta_host *h);

/* A message arrives (domains: global domain index per recipient). */
void mta_host_submit(mta_host *h, const traffic_msg *m, const uint16_t *domains, uint64_t tag, sim_time_t now);

/* Queue sizes now. */
void mta_host_queue_sizes(const mta_host *h, uint64_t *incoming, uint64_t *active, uint64_t *deferred);
/* Arrival time of the oldest message in the system, SIM_TIME_NEVER when empty. */
sim_time_t mta_host_oldest(const mta_host *h);
size_t mta_host_ndests(const mta_host *h);
mta_dest_stats *mta_host_dest(mta_host *h, size_t i);
latency_resource *mta_host_cpu(mta_host *h);
latency_resource *mta_host_disk(mta_host *h);
uint64_t mta_host_sessions(const mta_host *h, uint64_t *cached);
void mta_host_reset_stats(mta_host *h, sim_time_t now);

#endif
