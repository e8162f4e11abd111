/*
 * smtpd_http - testsmtpd's control and metrics endpoint (evhttp, loopback by default).
 *
 *   GET  /metrics                      Prometheus text, per receiver
 *   GET  /stats                        the same figures as JSON
 *   POST /force?receiver=R&n=N         body: a reply line; the next N connections to R get it
 *   PUT  /policy?receiver=R            body: a YAML policy list; R's policy for new connections
 *
 * Errors are 400 with a one-line message (the loader's file:line:col message for a bad policy), 404
 * for an unknown path, 405 for a wrong method.
 *
 * The figures of a receiver add up every policy generation it had (smtpd_server), so a counter never
 * goes backwards across a policy change, as Prometheus expects of a counter.
 */
#ifndef SMTPD_HTTP_H
#define SMTPD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "testsmtpd/smtpd_server.h"

struct evbuffer;
struct event_base;

typedef struct smtpd_http smtpd_http;

/* Listens on addr ("127.0.0.1:8025", port 0 = any). bound gets the address as bound. NULL and a message
 * on error (*rc: -EINVAL for a bad or non-loopback address, else the bind errno). */
smtpd_http *smtpd_http_create(struct event_base *base, smtpd_server *srv, const char *addr, bool allow_remote,
                              char *bound, size_t boundlen, int *rc, char *err, size_t errlen);
void smtpd_http_free(smtpd_http *h);

/* One receiver's figures, for the formatters. */
typedef struct smtpd_http_receiver {
    const char *name;
    smtpd_server_stats st;
} smtpd_http_receiver;

/* The /metrics text for receivers r[0..n-1]. Returns 0 or -ENOMEM. */
int smtpd_http_metrics(struct evbuffer *out, const smtpd_http_receiver *r, size_t n);
/* The /stats document (compact JSON, one line), malloc'd; NULL when out of memory. */
char *smtpd_http_stats(const smtpd_http_receiver *r, size_t n);

#endif
