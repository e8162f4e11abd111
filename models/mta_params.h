/*
 * mta_params - the sending MTA's configuration, in Postfix's own parameter names and defaults
 * (reference: postfix-model.md sections 1, 6, 8). The scenario loader fills these; an operator can
 * paste `postconf -n` output into `mta.postfix:` and per-transport `<transport>_<param>` overrides.
 *
 * Two sender kinds: a Postfix MTA (the default) and an application pool (N workers, one connection
 * each, fixed retry delay) - how web applications often send, for comparison.
 */
#ifndef MTA_PARAMS_H
#define MTA_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/latency.h"
#include "sim/sim_time.h"

/* Concurrency feedback g(N)/f(N), as Postfix 3.7 has it (qmgr.h QMGR_FEEDBACK, qmgr_feedback.c): a
 * constant ("1", "1/4", "0.25") or a constant over the window ("1/concurrency"). Postfix 3.7 has no
 * other kind: its 1/sqrt(window) feedback has been compiled out since the 2.5 snapshots. */
typedef enum { MTA_FEEDBACK_CONSTANT, MTA_FEEDBACK_CONCURRENCY } mta_feedback_kind;
typedef struct mta_feedback {
    mta_feedback_kind kind;
    double value; /* in [0,1]: CONSTANT: the feedback; CONCURRENCY: the numerator (qmgr's base) */
} mta_feedback;

/* Per-transport parameters, resolved: the transport's override, else the global, else Postfix's default. */
typedef struct mta_transport_params {
    uint32_t maxproc;                          /* master.cf maxproc; default_process_limit 100 */
    uint32_t initial_destination_concurrency;  /* 5 */
    uint32_t destination_concurrency_limit;    /* 20; 0 = no limit */
    mta_feedback positive_feedback;            /* "1" */
    mta_feedback negative_feedback;            /* "1" */
    double failed_cohort_limit;                /* 1; 0 = never dead */
    uint32_t destination_recipient_limit;      /* 50; 0 = unlimited */
    sim_time_t destination_rate_delay;         /* 0 */
    sim_time_t transport_rate_delay;           /* 0 */
    /* smtp(8) client */
    bool connection_cache_on_demand;           /* smtp_connection_cache_on_demand = yes */
    char **connection_cache_destinations;      /* smtp_connection_cache_destinations (always cached); NULL-terminated */
    sim_time_t connection_cache_time_limit;    /* smtp_connection_cache_time_limit 2s (capped by connection_cache_ttl_limit 2s) */
    sim_time_t connection_reuse_time_limit;    /* smtp_connection_reuse_time_limit 300s */
    uint32_t connection_reuse_count_limit;     /* smtp_connection_reuse_count_limit 0 = none */
    uint32_t mx_address_limit;                 /* smtp_mx_address_limit 5 */
    uint32_t mx_session_limit;                 /* smtp_mx_session_limit 2 */
    sim_time_t connect_timeout;                /* smtp_connect_timeout 30s */
    sim_time_t helo_timeout;                   /* 300s (banner and EHLO reply) */
    sim_time_t mail_timeout, rcpt_timeout;     /* 300s each */
    sim_time_t data_init_timeout;              /* 120s */
    sim_time_t data_xfer_timeout;              /* 180s */
    sim_time_t data_done_timeout;              /* 600s */
    sim_time_t rset_timeout;                   /* 20s */
    sim_time_t quit_timeout;                   /* 300s */
    bool tls;                                  /* smtp_tls_security_level != none */
    bool tls_connection_reuse;                 /* smtp_tls_connection_reuse = no: a session that did
                                                  STARTTLS is never cached (smtp_proto.c) */
} mta_transport_params;

typedef struct mta_transport_config {
    char *name;                 /* "smtp" is the default transport */
    char **domains;             /* transport_maps entries routed here */
    size_t ndomains;
    char *nexthop;              /* transport_maps nexthop (relay): all its domains share one queue; NULL = per domain */
    char **senders;             /* sender_dependent_default_transport_maps entries routed here: "user@domain",
                                   "@domain", or "<>" (the null sender); lower case */
    size_t nsenders;
    mta_transport_params p;
} mta_transport_config;

typedef enum { MTA_KIND_POSTFIX, MTA_KIND_APPPOOL } mta_kind;

typedef struct mta_apppool_config {
    uint32_t workers;          /* parallel workers, one connection each */
    sim_time_t retry_delay;    /* fixed delay before a failed message is retried */
    double jitter;             /* +- fraction of retry_delay, uniform */
    uint32_t max_attempts;     /* give up (bounce) after this many; 0 = never */
    bool reuse;                /* a worker keeps its connection for the next message to the same receiver */
} mta_apppool_config;

typedef struct mta_config {
    mta_kind kind;
    uint32_t hosts;                       /* MTA hosts behind the source IP(s); traffic is split round-robin */
    char **source_ips;                    /* hosts are assigned these round-robin; default {"192.0.2.1"} */
    size_t nsource_ips;
    /* Postfix globals */
    sim_time_t queue_run_delay;           /* 300s */
    sim_time_t minimal_backoff_time;      /* 300s: message backoff floor and dead-destination time */
    sim_time_t maximal_backoff_time;      /* 4000s */
    sim_time_t maximal_queue_lifetime;    /* 5d */
    sim_time_t bounce_queue_lifetime;     /* 5d */
    uint32_t qmgr_message_active_limit;   /* 20000 */
    uint32_t qmgr_message_recipient_limit;/* 20000 */
    uint32_t max_use;                     /* 100: deliveries one smtp(8) process makes before it exits; 0 = no limit */
    sim_time_t max_idle;                  /* 100s: an idle smtp(8) process exits after this long; 0 = never */
    sim_time_t clock_tick;                /* Postfix's clock (time_t, event_time()): whole seconds, SIM_SEC.
                                             Not a parameter: the simulation a replay at K is compared with
                                             counts K seconds of scenario time to the real second
                                             (harness_speedup_mta_scenario) */
    sim_time_t clock_phase;               /* ... and its seconds begin at clock_phase + n * clock_tick (0; a
                                             replay's summary says where they fell in it) */
    sim_time_t *qmgr_start;               /* per host (nqmgr_start == hosts): when its qmgr's deferred-queue
                                             scans fall, at qmgr_start[i] + n * queue_run_delay; NULL = host
                                             0 at 0 and the others at random whole seconds (mta_qmgr_start) */
    size_t nqmgr_start;
    mta_transport_config *transports;     /* transports[0] is "smtp", the default for unmapped domains */
    size_t ntransports;
    mta_apppool_config apppool;
    latency_config latency;
} mta_config;

/* Postfix's event_time() at t: the start of its whole second (clock_tick, clock_phase) holding t. */
sim_time_t mta_postfix_second(const mta_config *c, sim_time_t t);
/*
 * Where host `host`'s deferred-queue scans fall in the cycle of queue_run_delay: c->qmgr_start[host],
 * or by default 0 for the first host and, for each other, a whole second (clock_tick) of the cycle
 * drawn from (seed, replication, "host/<i>/qmgr"): hosts behind one address were not started together,
 * and their qmgrs scan at phases of their own (qmgr.c: the first scan as qmgr starts, then every
 * queue_run_delay).
 */
sim_time_t mta_qmgr_start(const mta_config *c, uint32_t host, uint64_t seed, uint32_t replication);
/* Fills p with Postfix's defaults. */
void mta_transport_params_defaults(mta_transport_params *p);
/* Postfix's rules for a transport's concurrency, applied here and nowhere else (qmgr_transport_create):
 * the effective destination concurrency limit (1 with a destination rate delay; 0 = none), and the
 * initial window, min(initial_destination_concurrency, that limit), at least 1. */
uint32_t mta_transport_concurrency_limit(const mta_transport_params *p);
uint32_t mta_transport_initial_concurrency(const mta_transport_params *p);
/* Writes those effective values into p (idempotent), so that reports show what Postfix would run. */
void mta_transport_params_resolve(mta_transport_params *p);
/* Fills c with Postfix's defaults; no transports yet (the loader adds "smtp", transports[0]). */
void mta_config_defaults(mta_config *c);
/*
 * Reads a feedback value exactly as Postfix 3.7's qmgr_feedback_init does (mta_params.c says how).
 * Returns 0 with *out set, or -EINVAL for a value Postfix would log as "ignoring malformed or
 * unreasonable feedback" - and *out is then what Postfix uses instead: the constant 1.
 */
int mta_feedback_parse(const char *s, mta_feedback *out);
/* g(N) for a window of N >= 1 (QMGR_FEEDBACK_VAL). */
double mta_feedback_value(const mta_feedback *f, uint32_t window);
int mta_feedback_format(const mta_feedback *f, char *buf, size_t len);

#endif
