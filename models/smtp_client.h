/*
 * smtp_client - the simulated SMTP client session: what one Postfix smtp(8) delivery agent does with
 * one delivery request (postfix-model.md sections 3, 4, 6, 8), and what an application worker does with
 * one message.
 *
 * A request names a receiver, some recipients, the message size and the transport's parameters. The
 * client reuses a cached connection when allowed, else looks up the MX hosts (through a per-destination
 * DNS cache slot the owner keeps), walks them in preference order (equal preferences shuffled) within
 * smtp_mx_address_limit and smtp_mx_session_limit, and speaks SMTP: greeting, EHLO, STARTTLS (round
 * trips plus CPU on the host's cores), pipelined MAIL/RCPT/DATA, the content, end of data. The
 * receiver's policy is asked at the instant each command reaches the server, so the shared engine sees
 * time move forward just as testsmtpd does.
 *
 * Outcomes are reported per recipient as soon as the server has decided them (with the time the client
 * learns them), and once per request when the agent is done, with the "hop status" Postfix uses for
 * negative feedback: set only when the final server failed as a site (connect, greeting, EHLO, lost
 * connection, timeout) and no session of the request completed a transaction.
 *
 * After a completed transaction the connection is cached (no QUIT) when the owner asked for it and the
 * reuse limits allow; it stays open, idle, and counted by the receiver until it is reused or expires.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

#include "models/latency.h"
#include "models/mta_params.h"
#include "models/receiver.h"
#include "sim/sim_calendar.h"

typedef struct smtp_client smtp_client;
typedef struct smtp_conn smtp_conn;
typedef struct smtp_request smtp_request;

typedef enum { SMTP_RCPT_DELIVERED, SMTP_RCPT_DEFERRED, SMTP_RCPT_BOUNCED } smtp_rcpt_status;

/* What a recipient got; strings valid during the callback. */
typedef struct smtp_outcome {
    uint32_t rcpt;        /* index within the request */
    smtp_rcpt_status status;
    sim_time_t when;      /* when the client learns it */
    const char *dsn;
    const char *reply;    /* the log text inside Postfix's parentheses */
    const char *relay;    /* "mx1.orange.test[198.51.100.10]:25" or "none" */
    uint32_t conn_use;
    const char *reason;   /* short deferral key for statistics ("421 greeting", "4xx rcpt", ...) */
} smtp_outcome;

typedef struct smtp_request_ops {
    void (*outcome)(void *ctx, smtp_request *req, const smtp_outcome *o);
    /* The agent is done. hop_failed: negative feedback with `reason` (Postfix's hop_status). */
    void (*done)(void *ctx, smtp_request *req, sim_time_t now, bool hop_failed, const char *reason);
    /* Writes recipient i's address (the receiver's greylisting sees it). */
    void (*rcpt_address)(void *ctx, const smtp_request *req, uint32_t i, char *buf, size_t len);
} smtp_request_ops;

typedef enum {
    SMTP_ST_IDLE, SMTP_ST_DNS, SMTP_ST_CONNFAIL, SMTP_ST_CONNECT, SMTP_ST_EHLO, SMTP_ST_MAIL, SMTP_ST_EOD,
    SMTP_ST_DONE, SMTP_ST_SITEFAIL, SMTP_ST_RESTART
} smtp_state;

/* Embedded by the owner (a queue entry, a worker); fill the public part, then smtp_request_start. */
struct smtp_request {
    /* set by the owner */
    const smtp_request_ops *ops;
    void *ctx;
    receiver *rcv;
    const mta_transport_params *p;
    smtp_conn **cache;       /* the owner's cache list for this destination, or NULL: no caching */
    bool cache_load;         /* may reuse a cached connection */
    bool cache_store;        /* cache the connection after a completed transaction */
    bool store_later;        /* ... not at once: when the owner calls smtp_request_store_session */
    sim_time_t *dns_expires; /* the destination's DNS cache slot */
    const char *nexthop;     /* for messages ("orange.test") */
    const char *sender;
    uint32_t size;
    uint32_t nrcpt;
    uint8_t *rstate;         /* nrcpt bytes of scratch owned by the owner */
    /* timings the owner reads for delays=a/b/c/d */
    sim_time_t t_start, t_setup_done;
    /* private */
    sim_event ev;
    smtp_state state;
    smtp_client *cl;
    smtp_conn *conn;
    smtp_conn *held;         /* a session to cache at smtp_request_store_session (store_later) */
    uint8_t order[RECEIVER_MX_MAX]; /* MX hosts in the order tried */
    uint8_t norder, next_addr, addr_count, sess_count;
    bool final, completed_session, dns_ok, connect_refused;
    uint32_t accepted;       /* recipients accepted in the current transaction */
    char reason[1024];       /* the last site failure, for leftover recipients */
    const char *reason_key;
    const char *fail_dsn;
    char dsn_buf[16];
    char fail_relay[160];    /* the host of the last site failure, "none" for connect/DNS failures */
};

smtp_client *smtp_client_create(sim_calendar *cal, const char *src_ip, const latency_config *lat,
                                latency_resource *cpu, gsl_rng *rng);
/* Whether outcome texts (reply, relay) are wanted; without them only status, dsn and reason key are
 * filled, which saves formatting on the hot path when no mail log is written. Default true. */
void smtp_client_set_text(smtp_client *cl, bool text);
/* Closes every cached connection (at the end of a run) and frees the client. */
void smtp_client_free(smtp_client *cl, sim_time_t now);

void smtp_request_start(smtp_client *cl, smtp_request *req, sim_time_t now);
/* With store_later, the session a finished request left reusable goes to the cache now (smtp(8)
 * saves it in scache after its logging and queue-file marks, just before its report: smtp_xfer,
 * then smtp_cleanup_session). No session: nothing. Until then no other request can take it, and
 * the server sees it idle. */
void smtp_request_store_session(smtp_request *req, sim_time_t now);
/* Closes the cached connections of one destination (a dead destination forgets them). */
void smtp_client_flush_cache(smtp_client *cl, smtp_conn **cache, sim_time_t now);
/* Connections open now (busy and cached). */
uint64_t smtp_client_open(const smtp_client *cl);
uint64_t smtp_client_cached(const smtp_client *cl);

#endif
