/*
 * harness_inject - the replay's traffic injector: submits generated messages over SMTP into the smtpd
 * of one or more MTAs (Postfix's, first), at the times the caller chooses.
 *
 * `tempfail replay` hands it the simulator's messages at their arrival times; the injector keeps a
 * few sessions open per target (an MTA's smtpd), sends each message on the first free one, and
 * reports for each what the smtpd answered at the end of DATA, with the queue id Postfix gave it:
 * that id is what ties the message to the lines of Postfix's log.
 *
 * One thread, non-blocking sockets and poll(): a state machine per connection. Connections open
 * when a message waits for their target, say EHLO once and are reused for every later message. When
 * the server advertises PIPELINING (Postfix's smtpd does), MAIL, every RCPT and DATA go in one write,
 * and the next message's envelope follows the previous one's final dot, so a message costs one round
 * trip; otherwise commands go in lock-step. See the top of harness_inject.c and docs/replay.md.
 */
#ifndef HARNESS_INJECT_H
#define HARNESS_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct harness_inject harness_inject;

/* One message to submit; everything is copied by harness_inject_submit. */
typedef struct harness_inject_msg {
    uint64_t id;             /* the caller's, handed back in the result */
    uint32_t target;         /* index into the targets given at create */
    const char *sender;      /* envelope sender ("" for the null sender) */
    const char *const *rcpt; /* nrcpt recipient addresses */
    uint32_t nrcpt;
    uint32_t size;           /* message size in bytes, headers included (at least the headers) */
} harness_inject_msg;

/*
 * What became of one message. ok means 250 after the end of DATA. A message with several recipients
 * is sent when at least one of them was accepted (ok then says how its DATA went); when all were
 * rejected it is not sent, ok is false and reply is the first rejection.
 */
typedef struct harness_inject_result {
    uint64_t id;
    uint32_t target;
    bool ok;
    uint32_t rcpt_accepted; /* recipients the server accepted */
    char queue_id[32];      /* from "250 2.0.0 Ok: queued as 3F2A1B00C4" (Postfix); "" if none */
    char reply[512];        /* the last reply (the failing one when !ok), printable, CR/LF stripped */
    int64_t t_start;        /* CLOCK_MONOTONIC ns when MAIL FROM was written (0: never written) */
    int64_t t_done;         /* CLOCK_MONOTONIC ns when the final reply was read */
} harness_inject_result;

/* Called once per finished message, from harness_inject_run. It may submit; it may not free. */
typedef void (*harness_inject_done_fn)(void *ctx, const harness_inject_result *r);

typedef struct harness_inject_opts {
    const char *const *targets; /* "127.0.0.1:10025" (IPv4 literal:port), ntargets of them */
    size_t ntargets;
    unsigned conns;             /* parallel connections per target (default 4 when 0) */
    const char *helo;           /* EHLO name (default "tempfail-inject.test") */
    int64_t timeout;            /* per reply, ns (default 30 s when 0) */
    harness_inject_done_fn done;
    void *ctx;
} harness_inject_opts;

/* Counters since create, for the caller's log and the benchmark. */
typedef struct harness_inject_stats {
    uint64_t submitted, ok, failed;
    uint64_t connects;       /* connections opened */
    uint64_t lost;           /* connections lost or closed by a 421 with messages in flight */
    uint64_t bytes_written;
} harness_inject_stats;

/* Checks the options (each target an IPv4 literal:port); NULL with the reason in err. Opens nothing. */
harness_inject *harness_inject_create(const harness_inject_opts *o, char *err, size_t errlen);

/* QUIT and close every connection (waiting at most a second for the replies). Messages still
 * pending are dropped without a call to done. NULL is fine. */
void harness_inject_free(harness_inject *inj);

/* Queues a message, FIFO per target; it is sent on the first free connection of its target when
 * harness_inject_run next runs. 0, or -EINVAL (a bad target, no recipient, an address with a
 * control character or longer than 998 bytes). Memory exhausted stops the program (sim_mem.h). */
int harness_inject_submit(harness_inject *inj, const harness_inject_msg *m);

/*
 * Drives I/O until the CLOCK_MONOTONIC deadline `until` (ns) or, with until < 0, until nothing is
 * pending. Calls done for every finished message. Returns 0, or a negative errno with err saying
 * what ("127.0.0.1:10025: connect: Connection refused", "127.0.0.1:10025: no reply to EHLO in 30s")
 * for a fatal problem: a target that refuses connections or stops answering. The messages in flight
 * on that connection are then done (ok false); the others stay queued, and a later run tries again.
 */
int harness_inject_run(harness_inject *inj, int64_t until, char *err, size_t errlen);

/* Messages submitted and not yet done. */
size_t harness_inject_pending(const harness_inject *inj);

void harness_inject_get_stats(const harness_inject *inj, harness_inject_stats *st);

/* CLOCK_MONOTONIC in ns. */
int64_t harness_inject_now(void);

/* ---- the pieces, exposed for their unit tests ---- */

/* A growable byte buffer. */
typedef struct harness_inject_buf {
    char *data;
    size_t len, cap;
} harness_inject_buf;

void harness_inject_buf_free(harness_inject_buf *b);

/*
 * Appends m's content as it goes after DATA: the headers (From, To: the first recipient, Subject,
 * Date, Message-ID <ID.tempfail@tempfail-inject.test>, X-Tempfail-Id: ID), a blank line, filler
 * lines of at most 78 printable characters that never start with '.', up to m->size bytes in all
 * (more when the headers alone are longer, or by one byte when a single byte is left over for the
 * last line), then ".\r\n". Returns 0.
 */
int harness_inject_message(harness_inject_buf *b, const harness_inject_msg *m);

/* An SMTP reply being read, line by line. Zero it (or harness_inject_reply_reset) before a reply. */
typedef struct harness_inject_reply {
    int code;          /* 100..599 once the first line is read */
    unsigned lines;
    bool pipelining;   /* a line of it says PIPELINING (an EHLO reply's extension) */
    size_t len;
    char text[512];    /* the lines, joined by a space, printable, truncated to fit */
} harness_inject_reply;

#define HARNESS_INJECT_REPLY_MAX_LINES 100

void harness_inject_reply_reset(harness_inject_reply *r);

/* Feeds one reply line without its CRLF: 1 when it completed the reply ("250 ..."), 0 when more
 * lines follow ("250-..."), -EPROTO for a line that is no reply line of the same reply, or one too
 * many. */
int harness_inject_reply_line(harness_inject_reply *r, const char *line, size_t len);

/* The queue id of "250 2.0.0 Ok: queued as 3F2A1B00C4" (Postfix's short and long ids) into qid;
 * false, with qid "", when the text names none. */
bool harness_inject_queue_id(const char *reply, char *qid, size_t cap);

#endif
