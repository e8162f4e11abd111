/*
 * world - everything a simulated run contains, wired together: the traffic generator, the sender
 * hosts (Postfix hosts or an application pool), the receivers, and the statistics the results are made
 * of. The run controller (sim/) owns the calendar and the clock; the world only reacts to events.
 */
#ifndef WORLD_H
#define WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/apppool.h"
#include "models/mta.h"
#include "models/receiver.h"
#include "models/traffic.h"
#include "sim/sim_calendar.h"
#include "sim/sim_stat.h"

typedef struct world_config {
    const traffic_config *traffic;
    const mta_config *mta;
    const receiver_config *receivers; /* the last one owns every domain no other claims */
    size_t nreceivers;
    uint64_t seed;
    uint32_t replication;
    sim_time_t horizon;               /* arrivals stop here */
    mta_observer observer;            /* the results writers (may be empty) */
} world_config;

typedef struct world_class_stats {
    uint64_t arrived, resent, delivered, bounced, queued;
    sim_quantile *latency;            /* seconds from arrival to delivery, delivered messages */
    sim_tally attempts;               /* attempts of messages that left the system */
} world_class_stats;

/* A counted reason (deferral keys, reply codes). */
typedef struct world_count {
    char key[40];
    uint64_t n;
} world_count;

typedef struct world_stats {
    world_class_stats *cls;           /* per class */
    sim_quantile *latency;            /* all classes */
    uint64_t arrived, resent, delivered, bounced, queued, attempts, deferrals;
    uint64_t rcpt_delivered, rcpt_bounced, rcpt_deferred; /* recipient outcomes (cumulative) */
    world_count *deferral_reasons;
    size_t nreasons;
    sim_tavg q_incoming, q_active, q_deferred, q_total;
    uint64_t peak_incoming, peak_active, peak_deferred, peak_total;
    sim_time_t oldest_age_max;        /* largest age of the oldest queued message seen at a sample */
} world_stats;

typedef struct world world;

world *world_create(const world_config *cfg, sim_calendar *cal, char *err, size_t errlen);
void world_free(world *w);

/* Arrivals left to come, or messages in the system. */
bool world_busy(const world *w);
uint64_t world_in_system(const world *w);
/* Refreshes queue figures (call at samples and at the end). */
void world_observe(world *w, sim_time_t now);
/* The warm-up is over: statistics restart. */
void world_reset_stats(world *w, sim_time_t now);
/* The run is over: messages still queued are reported as such. */
void world_finish(world *w, sim_time_t now);

const world_stats *world_get_stats(const world *w);
size_t world_nreceivers(const world *w);
receiver *world_receiver(world *w, size_t i);
size_t world_nhosts(const world *w);
mta_host *world_host(world *w, size_t i);   /* NULL for an application pool */
apppool *world_apppool(world *w);           /* NULL for Postfix hosts */
void world_queue_sizes(const world *w, uint64_t *incoming, uint64_t *active, uint64_t *deferred);
sim_time_t world_oldest(const world *w);
/* CPU and disk busy server-seconds and server counts, summed over hosts (for utilisation). */
void world_resources(const world *w, double *cpu_busy, uint32_t *cores, double *disk_busy, bool *disk);

#endif
