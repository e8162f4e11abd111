/*
 * smtpd_session - testsmtpd's SMTP protocol engine for one connection, without sockets or clocks.
 *
 * The server (smtpd_server.c, libevent) feeds it the bytes a client sent and the monotonic time; the
 * engine parses command lines and DATA, asks the shared policy engine (models/policy) what this
 * receiver answers, and hands back replies through its ops. Keeping the protocol free of I/O means the
 * same dialogue files test it in-process and against a live server, and a tarpit or a 421 here is the
 * very decision the simulator makes.
 *
 * Flow control: a reply may carry a delay (a tarpit). The engine then stops consuming input: feed()
 * returns the bytes it used, and the server calls smtpd_session_resume() when the delay has passed,
 * then feeds the rest. So pipelined commands are answered in order and each after its own delay, as a
 * tarpitting server that sleeps before reading on would do.
 *
 * Protocol (RFC 5321): greeting (or the policy's CONNECT reject), EHLO/HELO, MAIL, RCPT, DATA with
 * dot-unstuffing, RSET, NOOP, QUIT, VRFY (252), HELP; EHLO advertises PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES and STARTTLS (when TLS is available and not yet active). Line and message size
 * limits, bad sequence, unknown commands, NUL bytes and bare LF get the RFC replies; too many errors get
 * 421 and a close. Relaying is refused: recipients outside the receiver's domains get 554 5.7.1.
 */
#ifndef SMTPD_SESSION_H
#define SMTPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/policy.h"
#include "sim/sim_time.h"

typedef struct smtpd_limits {
    size_t max_line;          /* bytes per command line including CRLF; default 1000 (RFC 5321 4.5.3.1.4) */
    size_t max_text_line;     /* bytes per DATA line including CRLF; default 1000; longer -> 500 at end of data */
    uint64_t max_message;     /* message size limit (EHLO SIZE); default 10485760 */
    uint32_t max_recipients;  /* per transaction; default 1000 (452 4.5.3 beyond) */
    uint32_t max_errors;      /* protocol errors before "421 4.7.0 ... too many errors" and close; default 10 */
} smtpd_limits;

void smtpd_limits_defaults(smtpd_limits *l);

/* What the engine knows about the receiver this connection reached. */
typedef struct smtpd_receiver {
    const char *name;         /* scenario receiver name */
    const char *hostname;     /* greeting and texts ("mx1.orange.test") */
    const char *const *domains; /* recipient domains it accepts (NULL-terminated); NULL = any (no relay check) */
    policy *pol;              /* the receiver's policy (shared by its sessions) */
    bool tls_available;       /* the server has a certificate: STARTTLS is offered */
} smtpd_receiver;

typedef struct smtpd_session smtpd_session;

typedef struct smtpd_ops {
    /* Reply bytes to send (complete lines, CRLF-terminated). */
    void (*write)(void *ctx, const char *data, size_t len);
    /* The session is over: flush what was written, then close (or close at once when silent). Called
     * from inside feed/resume/timeout/create: free the session later, not from this callback. */
    void (*close)(void *ctx, bool silent);
    /* Start TLS now (after the 220 already written is flushed). Returns 0, or negative on failure
     * (the engine then answers nothing more and closes). */
    int (*starttls)(void *ctx);
    /* Message content as it arrives (dot-unstuffed, CRLF line ends), then end of message. eom returns
     * 0 when stored (fsynced when a maildir is used), negative errno otherwise (451 4.3.0). */
    void (*body)(void *ctx, const char *data, size_t len);
    int (*eom)(void *ctx, const char *sender, const char *const *rcpts, size_t nrcpt, uint64_t size);
    /* One event for the JSON-lines log: type ("connect", "command", "reply", "close", ...), and the
     * text (command line or reply), rule index (-1 none). May be NULL.
     * The engine sends: "connect" (text: the peer address) at create, "command" (the line without
     * CRLF; none for message content), "reply" (when it goes out, a delayed one after its delay; the
     * lines joined by "\n", without CRLF; rule: the policy rule that decided, -1 otherwise), "tls"
     * (text NULL) at tls_started, "busy" and "idle" (text NULL) when the session changes state as the
     * policy counts it (busy right after "connect" and at MAIL, idle when a transaction ends), "close" (text "silent" for a close without a reply, else NULL; rule:
     * the policy rule that closed it) once, when the engine closes or, if the client did, at free. "message" (size, hash) is the server's,
     * from body/eom. */
    void (*event)(void *ctx, const char *type, const char *text, int rule);
    /* The message whose content body() received since the last 354 is refused (policy, bare LF, too
     * big, long line) or abandoned (session closed in DATA): drop it. eom is not called for it. May be
     * NULL. Every 354 is followed by exactly one eom or one discard (the latter possibly from free). */
    void (*discard)(void *ctx);
} smtpd_ops;

/* Where queue ids start: the process's start time in microseconds since the epoch, so that ids stay
 * unique across restarts ("queued as" 14 hex digits: base + the n-th message). 0 until set. */
void smtpd_session_id_base(uint64_t usec);

/*
 * A connection arrived from peer_ip. Asks the policy (CONNECT) and writes the greeting or the reject
 * (possibly after a delay: check smtpd_session_paused_until). *rcv is copied, so the server may point
 * its receiver at a new policy (a reload) while this session keeps the one it started with; the
 * strings, domains and that policy must outlive the session. *lim is copied; zero fields mean the
 * defaults. Returns NULL only when out of memory.
 */
smtpd_session *smtpd_session_create(const smtpd_receiver *rcv, const smtpd_limits *lim, const smtpd_ops *ops,
                                     void *ctx, const char *peer_ip, sim_time_t now);
/* Tells the policy the connection closed and frees the session. */
void smtpd_session_free(smtpd_session *s, sim_time_t now);

/*
 * Feeds received bytes; returns how many it consumed. It stops early when a reply is delayed (see
 * paused_until) or when the session closed. The server keeps unconsumed bytes and feeds them again
 * later. Once STARTTLS was accepted, every plaintext byte fed until smtpd_session_tls_started is
 * consumed and thrown away: commands pipelined after STARTTLS must not run inside the TLS session
 * (the STARTTLS command injection of CVE-2011-0411).
 */
size_t smtpd_session_feed(smtpd_session *s, const char *data, size_t len, sim_time_t now);
/* Non-zero while a delayed reply is pending: the time it is due. */
sim_time_t smtpd_session_paused_until(const smtpd_session *s);
/* The delay has passed: writes the delayed reply (and closes if it closes). Before its due time it
 * does nothing (smtpd_session_paused_until still says when). */
void smtpd_session_resume(smtpd_session *s, sim_time_t now);
/* TLS is now active (after a successful handshake): a new EHLO is required (RFC 3207). */
void smtpd_session_tls_started(smtpd_session *s);
/* The server's idle or command timeout fired: "421 4.4.2 <host> Error: timeout exceeded" and close. */
void smtpd_session_timeout(smtpd_session *s, sim_time_t now);
bool smtpd_session_closed(const smtpd_session *s);
/* In a transaction, or set up and waiting for its first (for the server's idle bookkeeping). */
bool smtpd_session_in_data(const smtpd_session *s);

#endif
