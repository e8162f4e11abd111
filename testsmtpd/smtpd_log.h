/*
 * smtpd_log - testsmtpd's event log: one JSON object per line, for the harness and the results
 * writers to read back.
 *
 *   {"t": 12.345678, "session": 17, "receiver": "orange", "peer": "127.0.0.1", "event": "reply",
 *    "text": "421 4.7.0 Too many connections", "rule": "concurrency_per_ip"}
 *
 * "t" is seconds since the server started on the monotonic clock, six decimals. Events: connect,
 * command ("text": the line), reply ("text"; "rule" when a policy rule decided), tls, message ("size",
 * "sha256"), busy and idle (the session changed state as the policy counts it: busy right after
 * connect and at MAIL, idle when a transaction ends; a session is open from its "busy" to its
 * "close", and one the server refused before its policy saw it has neither), close. Texts are JSON strings: control characters and bytes above 0x7e are escaped as
 * \u00XX, so a client's bytes can never break a line or the encoding.
 *
 * Lines are collected in a buffer and written by smtpd_log_flush, which the server calls once per
 * batch of work (after each read, timer or accept), so a busy server makes one write per batch and a
 * reader sees an event no later than the reply it explains reaches the client.
 */
#ifndef SMTPD_LOG_H
#define SMTPD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

typedef struct smtpd_log smtpd_log;

/* One event; text, rule may be NULL; size and sha256 are written only for "message" (sha256 non-NULL). */
typedef struct smtpd_log_event {
    sim_time_t t;
    uint64_t session;
    const char *receiver;
    const char *peer;
    const char *event;
    const char *text;
    const char *rule;
    uint64_t size;
    const char *sha256; /* 64 hex digits */
} smtpd_log_event;

/* Opens path for appending ("-" = standard output). Returns NULL and sets *err to a negative errno. */
smtpd_log *smtpd_log_create(const char *path, int *err);
/* Flushes and closes. */
void smtpd_log_free(smtpd_log *l);
void smtpd_log_write(smtpd_log *l, const smtpd_log_event *e);
/* Writes what is buffered. Returns 0 or a negative errno (the log then keeps going). */
int smtpd_log_flush(smtpd_log *l);

/*
 * Formats one line (with its '\n') into buf. A text too long for buf is cut (its JSON stays valid).
 * Returns the length written; buf must hold at least 512 bytes.
 */
size_t smtpd_log_format(char *buf, size_t cap, const smtpd_log_event *e);

#endif
