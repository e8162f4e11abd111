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

#include "models/policy.h"
#include "sim/sim_dist.h"
#include "sim/sim_time.h"

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
} receiver_mx_config;

typedef struct receiver_config {
    char *name;
    char *description;
    char **domains;       /* recipient domains it owns */
    size_t ndomains;
    receiver_mx_config *mx;
    size_t nmx;           /* >= 1 (default: one MX "mx.<first domain>") */
    sim_dist rtt;         /* seconds per round trip from the sender (default constant 30ms) */
    double bandwidth;     /* bytes/s for DATA transfer (default 12.5e6 = 100 Mbit/s) */
    sim_dist latency;     /* server think time added to each reply (default constant 0) */
    sim_dist service;     /* service time of one accepted message (default constant 0) */
    uint32_t capacity;    /* parallel servers for `service`; 0 = unlimited */
    bool starttls;        /* offers STARTTLS (default true) */
    policy_config policy;
} receiver_config;

#endif
