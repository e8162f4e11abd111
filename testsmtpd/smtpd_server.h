/*
 * smtpd_server - testsmtpd's network side: a libevent loop with one listener per address, a
 * bufferevent per connection feeding the protocol engine (smtpd_session), timers for delayed replies
 * and timeouts, and the per-receiver state (policy generations, counters).
 *
 * Receivers. Each receiver of the scenario keeps its own policy (models/policy), so its own counters
 * and its own view of who is connected; every listener belongs to one receiver. A policy change
 * (SIGHUP, PUT /policy) makes a new *generation*: new connections get it, open ones keep the policy
 * they started with until they close (a reference count keeps it alive), and the counters of a
 * retired generation are added to the receiver's, so the figures never go backwards.
 *
 * Bounds. At most max_sessions connections are open; beyond, a connection gets "421 4.3.2 HOST Error:
 * too many connections" and is closed before anything is allocated for it. Input is read only up to a
 * high-water mark per connection, and message bodies stream to the store, so memory per session is
 * bounded whatever the client sends.
 */
#ifndef SMTPD_SERVER_H
#define SMTPD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "models/policy.h"
#include "models/receiver.h"
#include "sim/sim_time.h"
#include "testsmtpd/smtpd_addr.h"
#include "testsmtpd/smtpd_log.h"
#include "testsmtpd/smtpd_session.h"
#include "testsmtpd/smtpd_store.h"

struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

typedef struct smtpd_server_config {
    smtpd_limits limits;
    uint32_t max_sessions;       /* default 20000 */
    sim_time_t idle_timeout;     /* between transactions (default 300s; a policy idle_timeout shortens it) */
    sim_time_t command_timeout;  /* waiting for the next command or data inside a transaction (300s) */
    SSL_CTX *tls;                /* NULL: STARTTLS not offered */
    smtpd_log *log;              /* NULL: no event log */
    smtpd_store *store;          /* required */
    /* How much faster than real time the policy clock runs (1 when 0): a replay at --speedup K
     * runs the scenario's policy times (windows, delays, idle timeouts) K times faster, and the
     * event log's "t" is scenario time. The server's own timeouts above stay real. */
    double clock_rate;
} smtpd_server_config;

void smtpd_server_config_defaults(smtpd_server_config *c);

typedef struct smtpd_server smtpd_server;

/* Counters of one receiver: the policy's (over every generation) and the server's own. */
typedef struct smtpd_server_stats {
    policy_stats p;
    uint64_t over_max_sessions;  /* connections refused by --max-sessions (in p.connections too) */
} smtpd_server_stats;

/* One listening socket, as the ready file reports it. */
typedef struct smtpd_server_listener_info {
    const char *receiver;
    const char *mxhost;
    char addr[64];               /* bound "ADDR:PORT" ("[::1]:2525" for IPv6) */
} smtpd_server_listener_info;

smtpd_server *smtpd_server_create(struct event_base *base, const smtpd_server_config *cfg);
/* Closes every connection (silently) and listener. */
void smtpd_server_free(smtpd_server *srv);

/*
 * Adds a receiver: name, domains, hostname (rc->policy.hostname), policy, STARTTLS (rc->starttls and a
 * TLS context). seed seeds its random faults. Returns its index, or -1 with a message.
 */
int smtpd_server_add_receiver(smtpd_server *srv, const receiver_config *rc, uint64_t seed, char *err, size_t errlen);
size_t smtpd_server_nreceivers(const smtpd_server *srv);
int smtpd_server_find_receiver(const smtpd_server *srv, const char *name);
const char *smtpd_server_receiver_name(const smtpd_server *srv, size_t i);
const char *smtpd_server_receiver_hostname(const smtpd_server *srv, size_t i);
const char *smtpd_server_receiver_preset(const smtpd_server *srv, size_t i);

/*
 * Listens on addr ("127.0.0.2:2525", "[::1]:0") for receiver i, greeting as its hostname; mxhost names
 * the MX host in the ready file. Non-loopback addresses are refused unless allow_remote. Returns 0,
 * -EINVAL (bad or non-loopback address, message in err), or another negative errno (bind/listen).
 */
int smtpd_server_listen(smtpd_server *srv, size_t i, const char *mxhost, const char *addr, bool allow_remote,
                        char *err, size_t errlen);
size_t smtpd_server_nlisteners(const smtpd_server *srv);
void smtpd_server_listener(const smtpd_server *srv, size_t k, smtpd_server_listener_info *out);

/* Replaces receiver i's policy for new connections. Returns 0, or -EINVAL with the engine's message. */
int smtpd_server_set_policy(smtpd_server *srv, size_t i, const policy_config *cfg, char *err, size_t errlen);
/* The next n connections to receiver i get reply (policy_force). 0 or -EINVAL. */
int smtpd_server_force(smtpd_server *srv, size_t i, uint64_t n, const char *reply);
void smtpd_server_stats_get(const smtpd_server *srv, size_t i, smtpd_server_stats *out);
/* Open connections, all receivers. */
uint64_t smtpd_server_sessions(const smtpd_server *srv);

/* The server's clock: monotonic microseconds since smtpd_server_create, times the clock rate (what
 * the policies and the log see). */
sim_time_t smtpd_server_now(const smtpd_server *srv);
/* Where that clock starts: CLOCK_MONOTONIC nanoseconds at smtpd_server_create (the ready file's
 * "clock" line, so that a harness can put the log's times on its own clock). */
int64_t smtpd_server_clock_origin(const smtpd_server *srv);

#endif
