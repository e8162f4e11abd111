/*
 * latency - the sending host's latencies and shared resources: DNS MX lookups (with tempfails and a
 * TTL cache), TLS handshakes (round trips plus CPU time on the host's cores), and the queue disk
 * (writes and fsyncs through one shared device with a service-time distribution).
 *
 * CPU and disk are shared FIFO servers: when many deliveries want them at once they queue, which is
 * what makes delivery bursty under contention (seeds: "disk I/O latency causing queue file contention").
 * An idle machine is also slower to start work than a busy one (its cores in deep idle states, or a
 * virtual machine's CPUs descheduled by the host): cpu.wakeup, after cpu.wakeup_after of quiet. It is
 * what draws sessions that complete a few milliseconds apart together, cycle after cycle: the first
 * to complete after the quiet pays it, the others do not (docs/validation.md).
 */
#ifndef LATENCY_H
#define LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "sim/sim_dist.h"
#include "sim/sim_time.h"

typedef struct latency_config {
    /* DNS */
    sim_dist dns_mx;               /* seconds per MX+A lookup (cache miss) */
    double dns_tempfail;           /* probability a lookup tempfails ("Host or domain name not found...try again") */
    sim_time_t dns_ttl;            /* cache lifetime of a successful lookup; 0 = no cache */
    /* TLS (client side: smtp_tls_security_level may/encrypt and the receiver offers STARTTLS) */
    bool tls;                      /* the MTA uses STARTTLS when offered */
    uint32_t tls_round_trips;      /* extra round trips for STARTTLS + handshake (default 2) */
    sim_dist tls_cpu;              /* seconds of CPU per handshake on the sending host */
    uint32_t cores;                /* the sending host's cores (shared by all the CPU below); 0 = unlimited */
    /* The host's own work, on the same cores (master(8), qmgr(8), smtp(8), scache, smtpd(8), cleanup(8)): */
    sim_dist cpu_per_delivery;     /* seconds per delivery request: qmgr's selection and the agent's
                                      work around the SMTP session (queue file read, status report) */
    sim_dist cpu_per_message;      /* seconds per arriving message: smtpd + cleanup (before the fsync) */
    sim_dist cpu_process_start;    /* seconds to spawn an smtp(8) process (fork, exec, configuration read) */
    sim_dist cpu_wakeup;           /* seconds more a CPU request takes when the cores have all been idle
                                      for cpu_wakeup_after: an idle machine waking up */
    sim_time_t cpu_wakeup_after;
    /* Disk */
    bool disk_enabled;             /* false = instantaneous disk */
    sim_dist disk_fsync;           /* seconds per queue-file write+fsync on the shared disk */
    uint32_t disk_writes_per_message; /* fsyncs on arrival (cleanup) ; default 1 */
    uint32_t disk_writes_per_delivery;/* fsyncs per delivery attempt that changes the queue file; default 1 */
} latency_config;

/*
 * A shared first-come-first-served resource with `servers` identical servers (CPU cores, the queue
 * disk, a receiver's processing slots). Service times are known on arrival, so the completion time is
 * computed at once from the servers' free times (a min-heap): no events, and exact FCFS for an M/G/c
 * queue in arrival order. servers == 0 means unlimited: no waiting.
 */
typedef struct latency_resource {
    uint32_t servers;
    sim_time_t *free_at;   /* min-heap of each server's free time */
    double busy;           /* server-seconds of service granted (for utilisation) */
    double wait;           /* total seconds requests waited */
    uint64_t requests;
    sim_time_t last_done;  /* the latest completion granted: every server is idle from then on */
} latency_resource;

void latency_resource_init(latency_resource *r, uint32_t servers);
void latency_resource_destroy(latency_resource *r);
/* A request arriving at now needing `service`: returns its completion time; *start when it began. */
sim_time_t latency_resource_acquire(latency_resource *r, sim_time_t now, sim_time_t service, sim_time_t *start);

/* The host's cores (latency_config's cores, cpu_wakeup): a request of `service` seconds arriving at
 * now, which costs cpu_wakeup more when every core has been idle for cpu_wakeup_after; returns its
 * completion time. */
sim_time_t latency_cpu_acquire(latency_resource *cpu, const latency_config *c, gsl_rng *rng, sim_time_t now,
                               sim_time_t service);

/* Draws an MX lookup: fills *delay; returns false when the lookup tempfails. */
bool latency_dns_lookup(const latency_config *c, gsl_rng *rng, sim_time_t *delay);
/* Draws a duration from a distribution in seconds (negative draws clamp to 0). */
sim_time_t latency_draw(const sim_dist *d, gsl_rng *rng);

#endif
