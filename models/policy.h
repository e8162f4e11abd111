/*
 * policy - the receiver policy engine: what a receiver replies to each SMTP event.
 *
 * This is the one piece of code the simulator and testsmtpd share (DESIGN.md principle 1). It knows
 * nothing of sockets or clocks: every call takes `now` (simulated time in the simulator, the monotonic
 * clock in testsmtpd) and the source address as a string. It keeps the state a real receiver keeps
 * across connections: open sessions per source IP (busy and idle), rate windows, greylist triplets,
 * violation counts and the penalty box.
 *
 * A policy is an ordered list of rules. At each stage the rules that apply to it are checked in order;
 * the first that rejects decides the reply. Tarpit delays of every matching rule add up. A reject from
 * any rule counts as a violation for the penalty box.
 *
 * Sessions: policy_connect opens one (even when it rejects: the caller then closes it with
 * policy_close, as the TCP connection exists until then). A session is *busy* while a mail transaction
 * or its set-up is in progress and *idle* between transactions once one has completed (a cached
 * connection, in Postfix's terms). Rules with count_idle = false count only busy sessions.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

#include "sim/sim_time.h"

typedef enum {
    POLICY_STAGE_CONNECT, /* before the greeting: a reject replaces the 220 banner */
    POLICY_STAGE_HELO,    /* EHLO or HELO */
    POLICY_STAGE_MAIL,
    POLICY_STAGE_RCPT,
    POLICY_STAGE_DATA,    /* the DATA command (before 354) */
    POLICY_STAGE_EOD,     /* end of data: the "." */
    POLICY_STAGE_COUNT
} policy_stage;

typedef enum {
    POLICY_RULE_CONCURRENCY_PER_IP,      /* limit, count_idle: at CONNECT */
    POLICY_RULE_CONCURRENCY_TOTAL,       /* limit, count_idle: at CONNECT */
    POLICY_RULE_CONNECTION_RATE_PER_IP,  /* limit per window: at CONNECT (counts attempts, as anvil) */
    POLICY_RULE_MESSAGE_RATE_PER_IP,     /* limit per window: at MAIL */
    POLICY_RULE_RECIPIENT_RATE_PER_IP,   /* limit per window: at RCPT */
    POLICY_RULE_MESSAGES_PER_SESSION,    /* limit: at MAIL after `limit` accepted messages; silent => close without reply */
    POLICY_RULE_RECIPIENTS_PER_MESSAGE,  /* limit: at RCPT beyond `limit` (452) */
    POLICY_RULE_GREYLIST,                /* delay, retry_window, auto_allow: at RCPT */
    POLICY_RULE_TARPIT,                  /* stage, delay: adds delay before the reply */
    POLICY_RULE_RANDOM_FAULT,            /* stage, probability, reply */
    POLICY_RULE_PENALTY_BOX,             /* violations within window -> every CONNECT rejected for duration */
    POLICY_RULE_IDLE_TIMEOUT,            /* timeout: the server closes sessions idle that long */
    POLICY_RULE_COUNT
} policy_rule_kind;

/* One rule as the scenario gives it; strings owned by the config. */
typedef struct policy_rule_config {
    policy_rule_kind kind;
    policy_stage stage;        /* TARPIT, RANDOM_FAULT: where it applies */
    uint64_t limit;            /* concurrency, rate count, per-session or per-message limit; PENALTY_BOX: violations */
    bool count_idle;           /* CONCURRENCY_*: idle sessions count (default true: real receivers count sockets) */
    sim_time_t window;         /* rates: the sliding window; PENALTY_BOX: window in which violations count */
    sim_time_t delay;          /* TARPIT: delay; GREYLIST: minimum retry delay */
    sim_time_t duration;       /* PENALTY_BOX: how long the box lasts; GREYLIST: retry window; IDLE_TIMEOUT: timeout */
    uint32_t auto_allow;       /* GREYLIST: passes after which the client IP is allow-listed (0 = never) */
    double probability;        /* RANDOM_FAULT */
    bool silent;               /* MESSAGES_PER_SESSION: close without a reply (Yahoo) */
    char *reply;               /* full reply, e.g. "421 4.7.0 Too many connections, slow down"; NULL = preset text */
    bool close;                /* close after the reply; default true for 421 replies (RFC 5321 4.2.2) */
} policy_rule_config;

typedef struct policy_config {
    policy_rule_config *rules;
    size_t nrules;
    char *preset;   /* reply-text preset name ("postfix", "exim", "haraka", "gmail", "orange", ...); NULL = "postfix" */
    char *hostname; /* the receiver's host name used in texts ("mx.orange.test"); NULL = "mx.test" */
} policy_config;

/* What the receiver answers. code 0 with !close means "accept" (the caller sends its normal reply). */
typedef struct policy_verdict {
    int code;           /* 0 = accept; else 4xx/5xx */
    const char *text;   /* full reply line (code, enhanced code, text) owned by the policy; NULL when accepted */
    sim_time_t delay;   /* tarpit before replying (summed over matching rules) */
    bool close;         /* close the connection after the reply */
    bool silent;        /* close without any reply */
    int rule;           /* index of the rule that decided, -1 when accepted */
} policy_verdict;

typedef struct policy policy;
typedef struct policy_session policy_session;

/*
 * Compiles a config. Returns NULL and fills err (if non-NULL) for an invalid config (e.g. a reply
 * without a valid code, an unknown preset) - the scenario loader validates first, so this is a second
 * line of defence for testsmtpd's runtime policy changes. rng is borrowed (random faults); may be NULL
 * when the policy has no RANDOM_FAULT rule.
 */
policy *policy_create(const policy_config *cfg, gsl_rng *rng, char *err, size_t errlen);
void policy_free(policy *p);

/* A connection arrives from src_ip. Always returns a session (free it with policy_close). */
policy_session *policy_connect(policy *p, const char *src_ip, sim_time_t now, policy_verdict *out);
void policy_helo(policy *p, policy_session *s, sim_time_t now, policy_verdict *out);
/* MAIL FROM: starts a transaction; the session becomes busy. */
void policy_mail(policy *p, policy_session *s, sim_time_t now, const char *sender, policy_verdict *out);
void policy_rcpt(policy *p, policy_session *s, sim_time_t now, const char *rcpt, policy_verdict *out);
void policy_data(policy *p, policy_session *s, sim_time_t now, policy_verdict *out);
void policy_eod(policy *p, policy_session *s, sim_time_t now, uint64_t size, policy_verdict *out);
/* The transaction ended (accepted, rejected or RSET); the session becomes idle. */
void policy_reset(policy *p, policy_session *s, sim_time_t now);
/* The connection closed (either side). Frees s. */
void policy_close(policy *p, policy_session *s, sim_time_t now);

/* Idle timeout of IDLE_TIMEOUT, or 0 when the policy has none. */
sim_time_t policy_idle_timeout(const policy *p);
/* Forces the next n connections to get `reply` (testsmtpd control endpoint; deterministic CI). */
int policy_force(policy *p, uint64_t n, const char *reply);

/* Counters kept per policy (per receiver): by rule and by reply code. */
typedef struct policy_stats {
    uint64_t connections, connections_refused;
    uint64_t refused_by_rule[POLICY_RULE_COUNT];
    uint64_t messages_accepted, recipients_accepted;
    uint64_t replies_by_code[600]; /* index = reply code; accepted replies are counted as 250/220 etc by the caller */
    uint64_t open_sessions, open_busy, open_idle; /* now */
    uint64_t penalty_boxes;        /* times the penalty box engaged */
    /* refusals by a concurrency cap, at the moment of each: how many found idle sessions counted
     * against the cap, and the most sessions (and idle ones) open from that IP (the whole receiver's,
     * for concurrency_total) then - the evidence that cached sessions took the place */
    uint64_t cap_refused_idle, cap_refused_open_max, cap_refused_idle_max;
} policy_stats;
const policy_stats *policy_get_stats(const policy *p);
/* Forgets the maxima of policy_stats (cap_refused_*_max): the end of a warm-up. */
void policy_reset_maxima(policy *p);
/* Counts a reply the caller sent on its own (an accept: 220, 250, 354, 221) so replies_by_code is complete. */
void policy_count_reply(policy *p, int code);
/* Sessions open now from one IP: busy and idle (for tests and /stats). */
void policy_sessions_from(const policy *p, const char *src_ip, uint64_t *busy, uint64_t *idle);

const char *policy_rule_kind_name(policy_rule_kind k);  /* "concurrency_per_ip", ... (the YAML names) */
int policy_rule_kind_parse(const char *name);            /* -1 if unknown */
const char *policy_stage_name(policy_stage s);           /* "connect", "helo", "mail", "rcpt", "data", "eod" */
int policy_stage_parse(const char *name);                /* -1 if unknown */

#endif
