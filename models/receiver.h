/*
 * receiver - a simulated receiving mail system: the domains it owns, its MX hosts, the network path to
 * it, its service capacity, and its policy (models/policy, shared with testsmtpd).
 *
 * Service: every accepted end-of-data needs one of `capacity` servers for a service time drawn from
 * `service`; beyond `capacity` concurrent messages they wait in FIFO order, so an overloaded receiver
 * slows down (an M/G/c queue; with exponential service, the Erlang-C waiting time).
 */
#ifndef RECEIVER_H
#define RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/latency.h"
#include "models/policy.h"
#include "sim/sim_stat.h"
#include "sim/sim_dist.h"
#include "sim/sim_time.h"

/* Every (receiver, MX host) pair gets an address of its own in the logs, the scenario's or a made-up
 * one; these bound how many there can be (receiver_create refuses more rather than let two servers
 * share an address). */
#define RECEIVER_MX_MAX 128  /* MX hosts per receiver */
#define RECEIVER_MAX 1024    /* receivers: index < RECEIVER_MAX */

typedef enum {
    RECEIVER_MX_UP,       /* accepts TCP connections */
    RECEIVER_MX_REFUSE,   /* TCP RST: connect fails at once */
    RECEIVER_MX_TIMEOUT,  /* no answer: connect fails after smtp_connect_timeout */
} receiver_mx_state;

typedef struct receiver_mx_config {
    char *host;           /* "mx1.orange.test" */
    uint32_t preference;  /* lower first; equal preferences are shuffled per delivery */
    receiver_mx_state state;
    char **listen;        /* testsmtpd: "127.0.0.2:2525" addresses for this MX host; NULL-terminated or NULL */
    char *address;        /* its IP address as logs show it ("127.64.0.1", "2001:db8::10", as inet_ntop
                             writes it); NULL: a made-up one (receiver_mx_default_address). The loader
                             checks that it is valid and that no two MX hosts of a run share one. */
} receiver_mx_config;

typedef struct receiver_config {
    char *name;
    char *description;
    char **domains;       /* recipient domains it owns */
    size_t ndomains;
    receiver_mx_config *mx;
    size_t nmx;           /* 1..RECEIVER_MX_MAX (default: one MX "mx.<first domain>") */
    sim_dist rtt;         /* seconds per round trip from the sender (default constant 30ms) */
    double bandwidth;     /* bytes/s for DATA transfer (default 12.5e6 = 100 Mbit/s) */
    sim_dist latency;     /* server think time added to each reply (default constant 0) */
    sim_dist connect_latency; /* from the accepted TCP connection to the server's first decision (its
                             master handing the connection to an smtpd process, the anvil query):
                             paid before the greeting or a 421 (default constant 0) */
    sim_dist service;     /* service time of one accepted message (default constant 0) */
    uint32_t capacity;    /* parallel servers for `service`; 0 = unlimited */
    bool starttls;        /* offers STARTTLS (default true) */
    policy_config policy;
} receiver_config;

/* A simulated receiver at run time. The smtp client talks to it through these wrappers, which keep
 * the receiver-side figures (sessions over time, service waits) beside the policy's own counters. */
typedef struct receiver {
    const receiver_config *cfg;
    uint32_t index;
    policy *pol;
    gsl_rng *policy_rng;      /* "policy/<name>": random faults */
    gsl_rng *net_rng;         /* "network/<name>": round trips, think times, service times */
    latency_resource service; /* `capacity` servers for end-of-data processing */
    char **mx_addr;           /* per MX host, the address logs show: cfg->mx[j].address, or a made-up one */
    uint32_t cap;             /* the first concurrency_per_ip limit (0 = none), for reports */
    sim_tavg sessions, busy, idle;
    uint64_t peak, peak_busy, peak_idle;
    sim_tally wait;           /* seconds an accepted message waited for a server */
    sim_time_t idle_timeout;  /* policy_idle_timeout */
    policy_stats base;        /* the policy's counters at the end of the warm-up */
    uint64_t queued;          /* messages it accepted, for its "queued as" ids */
} receiver;

/*
 * The address logs show for MX host j of receiver `index` when the scenario names none: made up, in
 * ranges reserved for documentation and benchmarks (RFC 5737, RFC 2544), never on a wire, and unique
 * per (index, j) for index < RECEIVER_MAX and j < RECEIVER_MX_MAX.
 */
void receiver_mx_default_address(uint32_t index, size_t j, char *buf, size_t len);

/* Returns NULL and fills err on an invalid policy, or beyond RECEIVER_MX_MAX or RECEIVER_MAX. */
receiver *receiver_create(const receiver_config *cfg, uint32_t index, uint64_t seed, uint32_t replication,
                          char *err, size_t errlen);
void receiver_free(receiver *r);

/* Policy calls; each refreshes the session figures. */
policy_session *receiver_connect(receiver *r, const char *src_ip, sim_time_t now, policy_verdict *v);
void receiver_close(receiver *r, policy_session *s, sim_time_t now);
void receiver_mail(receiver *r, policy_session *s, sim_time_t now, const char *sender, policy_verdict *v);
void receiver_reset(receiver *r, policy_session *s, sim_time_t now);
/* Counts an accept reply the policy did not decide (220, 250, 354). */
static inline void receiver_count_reply(receiver *r, int code) { policy_count_reply(r->pol, code); }
/* Draws one round-trip time for a new connection. */
sim_time_t receiver_rtt(receiver *r);
/* Draws the server's think time for one reply. */
sim_time_t receiver_think(receiver *r);
/* The server's cost of a new connection before it decides (connect_latency). */
sim_time_t receiver_connect_cost(receiver *r);
/* An accepted message arriving at end of data: returns when its processing completes. */
sim_time_t receiver_process(receiver *r, sim_time_t now);
/* The policy's counters since the end of the warm-up (open sessions: now). */
void receiver_stats(const receiver *r, policy_stats *out);
/* Restarts the receiver's averages at the end of the warm-up. */
void receiver_reset_stats(receiver *r, sim_time_t now);

#endif
