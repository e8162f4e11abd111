/*
 * harness_inject - the replay's traffic injector (harness_inject.h): messages submitted over SMTP
 * into the smtpd of the MTAs a replay runs.
 *
 * Why it is shaped like this. The replay must put a scenario's messages into Postfix at their
 * arrival times, and a validation run's arrival rate can be thousands a second: the injector must
 * never be what limits Postfix, and must not distort the arrival times it is given. So one thread
 * drives every session with poll(), each connection a small state machine, and the costs per message
 * are a few appends to buffers that are reused (no allocation per message once they have grown):
 *
 *   closed -> connecting -> greeting (220) -> EHLO (250; HELO if EHLO is not known) -> ready
 *   ready: [RSET] MAIL, RCPT..., DATA -> 354 -> content and "." -> 250 -> ready ... -> QUIT
 *
 * Connections open only when a message waits for their target and nothing else can take it, and are
 * kept: the next MAIL goes on the same session, as Postfix's own smtp client does with its connection
 * cache. With PIPELINING (RFC 2920; Postfix's smtpd offers it) MAIL, every RCPT and DATA go out in
 * one write and their replies are read in order; the next message's envelope goes out right behind
 * the final dot of the one before, so the end-of-DATA reply and the next envelope's replies come back
 * together: one round trip per message. Without PIPELINING, commands go one at a time. A connection
 * holds at most two transactions: one whose end of DATA is awaited, one whose envelope follows it.
 *
 * What a failure means. A 4xx/5xx to MAIL, to DATA or at the end of DATA ends that message with
 * ok false and the reply; a message of several recipients goes on with those accepted and fails
 * only if all were rejected (reply: the first rejection). The session goes on, with RSET when a
 * transaction was left open. A 421, or the connection lost, ends the messages in flight on it
 * ("lost connection after DATA") and the next message opens a new connection. A greeting or EHLO
 * refused (a 421 at connect, say) ends the first message waiting for that target, so a receiver that
 * refuses every session still lets the replay end. Refused connections and timeouts are fatal: run()
 * returns the error ("127.0.0.1:10025: connect: Connection refused"), since a replay whose MTA does
 * not answer measures nothing.
 *
 * Everything is bounded: a reply line may be 2048 bytes (RFC 5321 says 512; the text kept is 511), a
 * reply 100 lines; every reply, and every stalled write, has the timeout; the content of a message
 * is generated as the socket drains, at most 64 KB ahead, so a large message costs no more memory
 * than a small one.
 */
#include "harness/harness_inject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim_mem.h"

#define INJ_DEFAULT_CONNS 4
#define INJ_DEFAULT_HELO "tempfail-inject.test"
#define INJ_DEFAULT_TIMEOUT (30 * (int64_t)1000000000)
#define INJ_LINE_MAX 2048          /* longest reply line accepted */
#define INJ_IN_SIZE 4096           /* a connection's input buffer: whole lines are consumed at once */
#define INJ_AHEAD (64 * 1024)      /* content generated ahead of the socket */
#define INJ_ADDR_MAX 998           /* an address that fits a command line */
#define INJ_LINE_BYTES 80          /* a filler line: 78 characters and CRLF */
#define INJ_QUIT_WAIT (1000000000) /* free(): how long QUIT replies are waited for */

/* A message waiting in its target's queue; its strings (sender, then each recipient, each ending
 * in NUL) are in the queue's arena from off, len bytes. */
typedef struct inj_qmsg {
    uint64_t id;
    uint32_t size, nrcpt;
    size_t off, len;
} inj_qmsg;

typedef struct inj_queue {
    inj_qmsg *v;
    size_t head, n, cap; /* v[head..n) wait */
    harness_inject_buf arena;
} inj_queue;

typedef struct inj_target {
    char name[64];
    struct sockaddr_in sa;
    inj_queue q;
} inj_target;

/* One transaction on a connection. */
typedef struct inj_txn {
    uint64_t id;
    uint32_t size, nrcpt;
    harness_inject_buf strs;  /* sender, recipients, NUL-terminated, as in the queue */
    size_t next_rcpt;         /* lock-step: offset in strs of the next RCPT to write */
    uint32_t env_sent;        /* envelope commands written: MAIL, RCPTs, DATA (nrcpt + 2) */
    uint32_t env_got;         /* their replies read */
    bool rset_first;          /* an RSET's reply comes before MAIL's */
    bool mail_ok;
    uint32_t accepted;        /* RCPTs accepted */
    bool eod_wait;            /* the final dot is written; its reply is awaited */
    bool empty;               /* 354 with no recipient accepted: only the dot was sent */
    bool have_fail;           /* fail holds MAIL's rejection or the first RCPT's */
    char fail[512];
    int64_t t_start;
} inj_txn;

typedef enum inj_state {
    INJ_CLOSED,
    INJ_CONNECTING,
    INJ_GREETING,
    INJ_EHLO,
    INJ_HELO,
    INJ_READY,
    INJ_QUIT,
} inj_state;

typedef struct inj_conn {
    uint32_t target;
    int fd;
    inj_state state;
    bool pipelining;
    bool need_rset;           /* the last transaction was left open at the server */
    harness_inject_buf out;
    size_t out_off;           /* out.data[out_off..len) is still to write */
    uint64_t body_left;       /* filler bytes of txn[0]'s content still to generate */
    bool body_active;         /* txn[0]'s content is being generated; its dot not yet */
    char in[INJ_IN_SIZE];
    size_t inlen;
    harness_inject_reply rep;
    inj_txn txn[2];           /* txn[0] the oldest; replies go to it first */
    unsigned ntxn;
    int64_t deadline;         /* when waiting for the server: the time it must have answered by */
} inj_conn;

struct harness_inject {
    inj_target *targets;
    size_t ntargets;
    inj_conn *conns; /* conns_per_target per target, target by target */
    size_t nconns;
    unsigned per_target;
    char helo[256];
    int64_t timeout;
    harness_inject_done_fn done;
    void *ctx;
    struct pollfd *pfd;
    size_t *pfd_conn;
    size_t pending;
    harness_inject_stats st;
    int fatal;      /* a negative errno once a fatal error happened in this run */
    char err[512];
};

/* ---- buffers ---- */

static void buf_reserve(harness_inject_buf *b, size_t more)
{
    b->data = sim_xgrow(b->data, &b->cap, b->len + more + 1, 1, 256);
}

static void buf_add(harness_inject_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_str(harness_inject_buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_printf(harness_inject_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(harness_inject_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        sim_panic(__func__, "vsnprintf failed");
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void harness_inject_buf_free(harness_inject_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int64_t harness_inject_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "30s", "1.5s": a timeout for a message. */
static const char *dur_text(int64_t ns, char *buf, size_t cap)
{
    if (ns % 1000000000 == 0)
        snprintf(buf, cap, "%" PRId64 "s", ns / 1000000000);
    else
        snprintf(buf, cap, "%gs", (double)ns / 1e9);
    return buf;
}

/* ---- the message ---- */

/* 78 printable characters; filler lines are prefixes of it, so none starts with '.'. */
static const char inj_filler[] = "tempfail-filler-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXY";

static void message_headers(harness_inject_buf *b, uint64_t id, const char *sender, const char *rcpt0)
{
    buf_printf(b,
               "From: <%s>\r\nTo: <%s>\r\nSubject: tempfail message %" PRIu64 "\r\n"
               "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
               "Message-ID: <%" PRIu64 ".tempfail@tempfail-inject.test>\r\n"
               "X-Tempfail-Id: %" PRIu64 "\r\n\r\n",
               sender, rcpt0, id, id, id);
}

/*
 * Appends filler lines for *left more bytes, stopping once about `most` were appended. Lines are 80
 * bytes (78 characters, CRLF), the last one shorter; a line is never made of a lone byte, so the
 * content is exactly the size asked for, but for a remainder of 1, which becomes an empty line.
 */
static void message_filler(harness_inject_buf *b, uint64_t *left, size_t most)
{
    size_t added = 0;
    while (*left > 0 && added < most) {
        size_t n;
        if (*left <= INJ_LINE_BYTES)
            n = *left >= 2 ? (size_t)*left : 2;
        else
            n = *left - INJ_LINE_BYTES == 1 ? INJ_LINE_BYTES - 1 : INJ_LINE_BYTES;
        buf_reserve(b, n);
        memcpy(b->data + b->len, inj_filler, n - 2);
        memcpy(b->data + b->len + n - 2, "\r\n", 2);
        b->len += n;
        added += n;
        *left = *left > n ? *left - n : 0;
    }
}

int harness_inject_message(harness_inject_buf *b, const harness_inject_msg *m)
{
    size_t start = b->len;
    message_headers(b, m->id, m->sender ? m->sender : "", m->nrcpt > 0 && m->rcpt ? m->rcpt[0] : "");
    size_t hdr = b->len - start;
    uint64_t left = m->size > hdr ? m->size - hdr : 0;
    message_filler(b, &left, SIZE_MAX);
    buf_str(b, ".\r\n");
    return 0;
}

/* ---- replies ---- */

void harness_inject_reply_reset(harness_inject_reply *r)
{
    r->code = 0;
    r->lines = 0;
    r->pipelining = false;
    r->len = 0;
    r->text[0] = '\0';
}

int harness_inject_reply_line(harness_inject_reply *r, const char *line, size_t len)
{
    if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
        line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return -EPROTO;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r->lines > 0 && code != r->code)
        return -EPROTO;
    if (r->lines >= HARNESS_INJECT_REPLY_MAX_LINES)
        return -EPROTO;
    r->code = code;
    r->lines++;
    if (len >= 14 && strncasecmp(line + 4, "PIPELINING", 10) == 0 && (len == 14 || line[14] == ' '))
        r->pipelining = true;
    if (r->len > 0 && r->len + 1 < sizeof(r->text))
        r->text[r->len++] = ' ';
    for (size_t i = 0; i < len && r->len + 1 < sizeof(r->text); i++) {
        unsigned char c = (unsigned char)line[i];
        r->text[r->len++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    r->text[r->len] = '\0';
    return len > 3 && line[3] == '-' ? 0 : 1;
}

bool harness_inject_queue_id(const char *reply, char *qid, size_t cap)
{
    static const char mark[] = "queued as ";
    const char *p = strstr(reply, mark);
    size_t n = 0;
    if (p && cap > 0) {
        p += sizeof(mark) - 1;
        while (n + 1 < cap && ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'A' && p[n] <= 'Z') ||
                               (p[n] >= 'a' && p[n] <= 'z'))) {
            qid[n] = p[n];
            n++;
        }
    }
    if (cap > 0)
        qid[n] = '\0';
    return n > 0;
}

/* ---- queues ---- */

static size_t queue_len(const inj_queue *q)
{
    return q->n - q->head;
}

/* Drops the taken head of the arrays once it is most of them, so a long replay's queue stays its
 * backlog's size. */
static void queue_compact(inj_queue *q)
{
    if (q->head == q->n) {
        q->head = q->n = 0;
        q->arena.len = 0;
        return;
    }
    if (q->head < 1024 || q->head * 2 < q->n)
        return;
    size_t base = q->v[q->head].off;
    memmove(q->arena.data, q->arena.data + base, q->arena.len - base);
    q->arena.len -= base;
    size_t k = q->n - q->head;
    memmove(q->v, q->v + q->head, k * sizeof(q->v[0]));
    for (size_t i = 0; i < k; i++)
        q->v[i].off -= base;
    q->head = 0;
    q->n = k;
}

static bool addr_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return n <= INJ_ADDR_MAX;
}

int harness_inject_submit(harness_inject *inj, const harness_inject_msg *m)
{
    if (m->target >= inj->ntargets || m->nrcpt == 0 || !m->rcpt || !addr_ok(m->sender))
        return -EINVAL;
    for (uint32_t i = 0; i < m->nrcpt; i++)
        if (!addr_ok(m->rcpt[i]) || !m->rcpt[i][0])
            return -EINVAL;
    inj_queue *q = &inj->targets[m->target].q;
    q->v = sim_xgrow(q->v, &q->cap, q->n + 1, sizeof(q->v[0]), 64);
    inj_qmsg *e = &q->v[q->n++];
    e->id = m->id;
    e->size = m->size;
    e->nrcpt = m->nrcpt;
    e->off = q->arena.len;
    buf_add(&q->arena, m->sender, strlen(m->sender) + 1);
    for (uint32_t i = 0; i < m->nrcpt; i++)
        buf_add(&q->arena, m->rcpt[i], strlen(m->rcpt[i]) + 1);
    e->len = q->arena.len - e->off;
    inj->pending++;
    inj->st.submitted++;
    return 0;
}

size_t harness_inject_pending(const harness_inject *inj)
{
    return inj->pending;
}

void harness_inject_get_stats(const harness_inject *inj, harness_inject_stats *st)
{
    *st = inj->st;
}

/* ---- create, free ---- */

static bool parse_target(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= 64)
        return false;
    char host[64];
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port <= 0 || port > 65535)
        return false;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

harness_inject *harness_inject_create(const harness_inject_opts *o, char *err, size_t errlen)
{
    if (!o->targets || o->ntargets == 0) {
        snprintf(err, errlen, "no target to inject into");
        return NULL;
    }
    if (o->conns > 1000) {
        snprintf(err, errlen, "%u connections per target: at most 1000", o->conns);
        return NULL;
    }
    if (o->timeout < 0) {
        snprintf(err, errlen, "a negative timeout");
        return NULL;
    }
    const char *helo = o->helo && *o->helo ? o->helo : INJ_DEFAULT_HELO;
    if (!addr_ok(helo) || strlen(helo) >= 256 || strchr(helo, ' ')) {
        snprintf(err, errlen, "'%s': not a name for EHLO", helo);
        return NULL;
    }
    for (size_t i = 0; i < o->ntargets; i++) {
        struct sockaddr_in sa;
        if (!o->targets[i] || !parse_target(o->targets[i], &sa)) {
            snprintf(err, errlen, "target '%s': expected an IPv4 address and a port, like 127.0.0.1:10025",
                     o->targets[i] ? o->targets[i] : "(null)");
            return NULL;
        }
    }
    harness_inject *inj = sim_xcalloc(1, sizeof(*inj));
    inj->ntargets = o->ntargets;
    inj->targets = sim_xcalloc(o->ntargets, sizeof(inj->targets[0]));
    for (size_t i = 0; i < o->ntargets; i++) {
        snprintf(inj->targets[i].name, sizeof(inj->targets[i].name), "%s", o->targets[i]);
        parse_target(o->targets[i], &inj->targets[i].sa);
    }
    inj->per_target = o->conns ? o->conns : INJ_DEFAULT_CONNS;
    inj->nconns = inj->ntargets * inj->per_target;
    inj->conns = sim_xcalloc(inj->nconns, sizeof(inj->conns[0]));
    for (size_t i = 0; i < inj->nconns; i++) {
        inj->conns[i].fd = -1;
        inj->conns[i].target = (uint32_t)(i / inj->per_target);
    }
    inj->pfd = sim_xcalloc(inj->nconns, sizeof(inj->pfd[0]));
    inj->pfd_conn = sim_xcalloc(inj->nconns, sizeof(inj->pfd_conn[0]));
    snprintf(inj->helo, sizeof(inj->helo), "%s", helo);
    inj->timeout = o->timeout ? o->timeout : INJ_DEFAULT_TIMEOUT;
    inj->done = o->done;
    inj->ctx = o->ctx;
    return inj;
}

static void conn_close(inj_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = INJ_CLOSED;
    c->out.len = c->out_off = 0;
    c->inlen = 0;
    c->body_left = 0;
    c->body_active = false;
    c->need_rset = false;
    c->pipelining = false;
    c->ntxn = 0;
}

void harness_inject_free(harness_inject *inj)
{
    if (!inj)
        return;
    /* QUIT on every session that is between transactions, and wait (briefly) for the 221s. */
    size_t waiting = 0;
    for (size_t i = 0; i < inj->nconns; i++) {
        inj_conn *c = &inj->conns[i];
        if (c->fd >= 0 && c->state == INJ_READY && c->ntxn == 0 && c->out_off == c->out.len) {
            if (send(c->fd, "QUIT\r\n", 6, MSG_NOSIGNAL) == 6) {
                c->state = INJ_QUIT;
                waiting++;
                continue;
            }
        }
        conn_close(c);
    }
    int64_t end = harness_inject_now() + INJ_QUIT_WAIT;
    while (waiting > 0) {
        int64_t left = end - harness_inject_now();
        if (left <= 0)
            break;
        size_t n = 0;
        for (size_t i = 0; i < inj->nconns; i++) {
            if (inj->conns[i].fd >= 0) {
                inj->pfd[n] = (struct pollfd){.fd = inj->conns[i].fd, .events = POLLIN};
                inj->pfd_conn[n++] = i;
            }
        }
        int r = poll(inj->pfd, n, (int)(left / 1000000) + 1);
        if (r < 0 && errno != EINTR)
            break;
        for (size_t k = 0; r > 0 && k < n; k++) {
            if (!inj->pfd[k].revents)
                continue;
            inj_conn *c = &inj->conns[inj->pfd_conn[k]];
            char tmp[1024];
            ssize_t got = recv(c->fd, tmp, sizeof(tmp), 0);
            /* The 221 (or any reply, or the close) ends the session. */
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) || (got > 0 && memchr(tmp, '\n', (size_t)got))) {
                conn_close(c);
                waiting--;
            }
        }
    }
    for (size_t i = 0; i < inj->nconns; i++) {
        inj_conn *c = &inj->conns[i];
        conn_close(c);
        harness_inject_buf_free(&c->out);
        for (size_t k = 0; k < 2; k++)
            harness_inject_buf_free(&c->txn[k].strs);
    }
    for (size_t i = 0; i < inj->ntargets; i++) {
        free(inj->targets[i].q.v);
        harness_inject_buf_free(&inj->targets[i].q.arena);
    }
    free(inj->targets);
    free(inj->conns);
    free(inj->pfd);
    free(inj->pfd_conn);
    free(inj);
}

/* ---- connections ---- */

static const char *tname(const harness_inject *inj, const inj_conn *c)
{
    return inj->targets[c->target].name;
}

static void set_fatal(harness_inject *inj, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_fatal(harness_inject *inj, int e, const char *fmt, ...)
{
    if (inj->fatal)
        return;
    inj->fatal = e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inj->err, sizeof(inj->err), fmt, ap);
    va_end(ap);
}

static bool conn_setting_up(const inj_conn *c)
{
    return c->state == INJ_CONNECTING || c->state == INJ_GREETING || c->state == INJ_EHLO || c->state == INJ_HELO;
}

/* Whether the connection waits for the server (and so has a deadline). */
static bool conn_waiting(const inj_conn *c)
{
    return c->fd >= 0 && (c->state != INJ_READY || c->ntxn > 0 || c->out_off < c->out.len);
}

static void conn_progress(harness_inject *inj, inj_conn *c)
{
    c->deadline = harness_inject_now() + inj->timeout;
}

/* Ends txn[0] with the given outcome and calls done. */
static void txn_finish(harness_inject *inj, inj_conn *c, bool ok, const char *reply)
{
    inj_txn *t = &c->txn[0];
    harness_inject_result r;
    memset(&r, 0, sizeof(r));
    r.id = t->id;
    r.target = c->target;
    r.ok = ok;
    r.rcpt_accepted = t->accepted;
    snprintf(r.reply, sizeof(r.reply), "%s", reply);
    if (ok)
        harness_inject_queue_id(reply, r.queue_id, sizeof(r.queue_id));
    r.t_start = t->t_start;
    r.t_done = harness_inject_now();
    /* Pop it first: the callback may submit, and the connection must already be consistent. */
    if (c->ntxn == 2) {
        harness_inject_buf keep = c->txn[0].strs;
        c->txn[0] = c->txn[1];
        c->txn[1].strs = keep;
    }
    c->ntxn--;
    inj->pending--;
    if (ok)
        inj->st.ok++;
    else
        inj->st.failed++;
    if (inj->done)
        inj->done(inj->ctx, &r);
}

/* What txn[i] waits for, for "lost connection after ..." and "no reply to ...". */
static const char *txn_stage(const inj_txn *t)
{
    if (t->rset_first)
        return "RSET";
    if (t->env_got < t->env_sent) {
        if (t->env_got == 0)
            return "MAIL FROM";
        return t->env_got <= t->nrcpt ? "RCPT TO" : "DATA";
    }
    return t->eod_wait ? "end of DATA" : "DATA";
}

/* Ends every transaction in flight with reply (or "PREFIX <stage>SUFFIX" when reply is NULL). */
static void conn_fail_all(harness_inject *inj, inj_conn *c, const char *reply, const char *prefix, const char *suffix)
{
    if (c->ntxn > 0)
        inj->st.lost++;
    while (c->ntxn > 0) {
        char text[512];
        if (reply)
            snprintf(text, sizeof(text), "%s", reply);
        else
            snprintf(text, sizeof(text), "%s%s%s", prefix, txn_stage(&c->txn[0]), suffix);
        txn_finish(inj, c, false, text);
    }
}

/* Ends the first message waiting for c's target: the session meant for it was refused. */
static void fail_queue_head(harness_inject *inj, inj_conn *c, const char *reply)
{
    inj_queue *q = &inj->targets[c->target].q;
    if (queue_len(q) == 0)
        return;
    inj_qmsg e = q->v[q->head++];
    queue_compact(q);
    harness_inject_result r;
    memset(&r, 0, sizeof(r));
    r.id = e.id;
    r.target = c->target;
    snprintf(r.reply, sizeof(r.reply), "%s", reply);
    r.t_done = harness_inject_now();
    inj->pending--;
    inj->st.failed++;
    if (inj->done)
        inj->done(inj->ctx, &r);
}

/* The connection is gone (EOF, reset, a protocol error): its messages are done, it will reconnect. */
static void conn_lost(harness_inject *inj, inj_conn *c, const char *why)
{
    char text[512];
    if (conn_setting_up(c)) {
        snprintf(text, sizeof(text), "%s %s", why,
                 c->state == INJ_GREETING || c->state == INJ_CONNECTING ? "before the greeting"
                 : c->state == INJ_EHLO                                ? "after EHLO"
                                                                        : "after HELO");
        conn_close(c);
        fail_queue_head(inj, c, text);
        return;
    }
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s after ", why);
    conn_fail_all(inj, c, NULL, prefix, "");
    conn_close(c);
}

static void conn_open(harness_inject *inj, inj_conn *c)
{
    const inj_target *t = &inj->targets[c->target];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_fatal(inj, -errno, "%s: socket: %s", t->name, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->inlen = 0;
    c->out.len = c->out_off = 0;
    c->ntxn = 0;
    c->need_rset = false;
    c->pipelining = false;
    harness_inject_reply_reset(&c->rep);
    inj->st.connects++;
    conn_progress(inj, c);
    if (connect(fd, (const struct sockaddr *)&t->sa, sizeof(t->sa)) == 0) {
        c->state = INJ_GREETING;
    } else if (errno == EINPROGRESS) {
        c->state = INJ_CONNECTING;
    } else {
        int e = errno;
        conn_close(c);
        set_fatal(inj, -e, "%s: connect: %s", t->name, strerror(e));
    }
}

/* Appends an envelope for the next message of c's target: [RSET,] MAIL, and with PIPELINING every
 * RCPT and DATA. The caller flushes. */
static void conn_start(harness_inject *inj, inj_conn *c)
{
    inj_queue *q = &inj->targets[c->target].q;
    inj_qmsg e = q->v[q->head++];
    inj_txn *t = &c->txn[c->ntxn++];
    t->id = e.id;
    t->size = e.size;
    t->nrcpt = e.nrcpt;
    t->strs.len = 0;
    buf_add(&t->strs, q->arena.data + e.off, e.len);
    queue_compact(q);
    t->env_sent = t->env_got = 0;
    t->mail_ok = false;
    t->accepted = 0;
    t->eod_wait = t->empty = t->have_fail = false;
    t->fail[0] = '\0';
    t->t_start = 0;
    t->rset_first = c->need_rset;
    c->need_rset = false;
    const char *sender = t->strs.data;
    t->next_rcpt = strlen(sender) + 1;
    if (c->ntxn == 1)
        conn_progress(inj, c); /* an idle session starts waiting */
    if (t->rset_first) {
        buf_str(&c->out, "RSET\r\n");
        if (!c->pipelining)
            return; /* MAIL goes after RSET's reply */
    }
    buf_printf(&c->out, "MAIL FROM:<%s>\r\n", sender);
    t->t_start = harness_inject_now();
    t->env_sent = 1;
    if (!c->pipelining)
        return;
    for (uint32_t i = 0; i < t->nrcpt; i++) {
        const char *r = t->strs.data + t->next_rcpt;
        buf_printf(&c->out, "RCPT TO:<%s>\r\n", r);
        t->next_rcpt += strlen(r) + 1;
    }
    buf_str(&c->out, "DATA\r\n");
    t->env_sent = t->nrcpt + 2;
}

/* Messages of c's target not yet taken by a connection, beyond those the connections being set up
 * will take. */
static size_t target_spare(harness_inject *inj, uint32_t target)
{
    size_t n = queue_len(&inj->targets[target].q);
    size_t setup = 0;
    for (size_t i = 0; i < inj->per_target; i++)
        setup += conn_setting_up(&inj->conns[target * inj->per_target + i]);
    return n > setup ? n - setup : 0;
}

/* Generates txn[0]'s content as the socket takes it; after its dot, the next envelope may follow. */
static void conn_fill(harness_inject *inj, inj_conn *c)
{
    while (c->body_active && c->out.len - c->out_off < INJ_AHEAD) {
        message_filler(&c->out, &c->body_left, INJ_AHEAD);
        if (c->body_left > 0)
            continue;
        buf_str(&c->out, ".\r\n");
        c->body_active = false;
        c->txn[0].eod_wait = true;
        if (c->pipelining && c->ntxn == 1 && target_spare(inj, c->target) > 0)
            conn_start(inj, c);
    }
}

static void conn_read(harness_inject *inj, inj_conn *c);

/* Writes what can be written now. */
static void conn_flush(harness_inject *inj, inj_conn *c)
{
    for (;;) {
        conn_fill(inj, c);
        if (c->out_off == c->out.len)
            break;
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            inj->st.bytes_written += (uint64_t)n;
            conn_progress(inj, c);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* The server went away; what it said before (a 421, say) is still to be read. */
        c->out.len = c->out_off = 0;
        c->body_active = false;
        conn_read(inj, c);
        if (c->fd >= 0)
            conn_lost(inj, c, "lost connection");
        return;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
    } else if (c->out_off >= c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
}

/* The reply to txn[0]'s next command. */
static void txn_reply(harness_inject *inj, inj_conn *c)
{
    inj_txn *t = &c->txn[0];
    const harness_inject_reply *rep = &c->rep;
    bool good = rep->code / 100 == 2;
    if (t->rset_first) {
        t->rset_first = false;
        if (!c->pipelining) {
            buf_printf(&c->out, "MAIL FROM:<%s>\r\n", t->strs.data);
            t->t_start = harness_inject_now();
            t->env_sent = 1;
        }
        return;
    }
    if (t->env_got < t->env_sent) {
        uint32_t idx = t->env_got++;
        if (idx == 0) {
            t->mail_ok = good;
            if (!good) {
                t->have_fail = true;
                snprintf(t->fail, sizeof(t->fail), "%s", rep->text);
                if (!c->pipelining)
                    txn_finish(inj, c, false, rep->text);
                return;
            }
        } else if (idx <= t->nrcpt) {
            if (good)
                t->accepted++;
            else if (!t->have_fail) {
                t->have_fail = true;
                snprintf(t->fail, sizeof(t->fail), "%s", rep->text);
            }
        } else {
            if (rep->code == 354) {
                if (t->accepted == 0 || !t->mail_ok) {
                    t->empty = true; /* a server that should have refused DATA: send no content */
                    buf_str(&c->out, ".\r\n");
                    t->eod_wait = true;
                    return;
                }
                /* The content is size bytes in all: the filler is what the headers leave. */
                size_t before = c->out.len;
                message_headers(&c->out, t->id, t->strs.data, t->strs.data + strlen(t->strs.data) + 1);
                size_t hdr = c->out.len - before;
                c->body_left = t->size > hdr ? t->size - hdr : 0;
                c->body_active = true;
                return;
            }
            bool mail_or_rcpt = (!t->mail_ok || t->accepted == 0) && t->have_fail;
            c->need_rset = t->mail_ok;
            char text[512];
            snprintf(text, sizeof(text), "%s", mail_or_rcpt ? t->fail : rep->text);
            txn_finish(inj, c, false, text);
            return;
        }
        if (!c->pipelining) {
            if (t->env_got <= t->nrcpt) {
                const char *r = t->strs.data + t->next_rcpt;
                buf_printf(&c->out, "RCPT TO:<%s>\r\n", r);
                t->next_rcpt += strlen(r) + 1;
                t->env_sent++;
            } else if (t->accepted > 0) {
                buf_str(&c->out, "DATA\r\n");
                t->env_sent++;
            } else {
                c->need_rset = true;
                char text[512];
                snprintf(text, sizeof(text), "%s", t->fail);
                txn_finish(inj, c, false, text);
            }
        }
        return;
    }
    if (t->eod_wait) {
        char text[512];
        if (t->empty) {
            snprintf(text, sizeof(text), "%s", t->fail);
            txn_finish(inj, c, false, text);
        } else {
            txn_finish(inj, c, good, rep->text);
        }
        return;
    }
    /* A reply nothing was asked for: the server is out of step. */
    conn_lost(inj, c, "unexpected reply");
}

/* A whole reply has been read into c->rep. */
static void conn_reply(harness_inject *inj, inj_conn *c)
{
    const harness_inject_reply *rep = &c->rep;
    if (rep->code == 421) {
        /* The server is closing the session (RFC 5321 3.8): whatever was in flight is done. */
        inj_state was = c->state;
        conn_fail_all(inj, c, rep->text, NULL, NULL);
        if (was != INJ_READY && was != INJ_QUIT)
            fail_queue_head(inj, c, rep->text);
        conn_close(c);
        return;
    }
    switch (c->state) {
    case INJ_GREETING:
        if (rep->code == 220) {
            buf_printf(&c->out, "EHLO %s\r\n", inj->helo);
            c->state = INJ_EHLO;
        } else {
            char text[512];
            snprintf(text, sizeof(text), "%s", rep->text);
            conn_close(c);
            fail_queue_head(inj, c, text);
        }
        return;
    case INJ_EHLO:
    case INJ_HELO:
        if (rep->code == 250) {
            c->pipelining = c->state == INJ_EHLO && rep->pipelining;
            c->state = INJ_READY;
        } else if (c->state == INJ_EHLO && (rep->code == 500 || rep->code == 502)) {
            buf_printf(&c->out, "HELO %s\r\n", inj->helo);
            c->state = INJ_HELO;
        } else {
            char text[512];
            snprintf(text, sizeof(text), "%s", rep->text);
            if (send(c->fd, "QUIT\r\n", 6, MSG_NOSIGNAL) < 0) {
                /* closing anyway */
            }
            conn_close(c);
            fail_queue_head(inj, c, text);
        }
        return;
    case INJ_QUIT:
        conn_close(c);
        return;
    case INJ_READY:
        if (c->ntxn > 0)
            txn_reply(inj, c);
        return; /* between transactions, a reply nobody asked for is ignored */
    case INJ_CLOSED:
    case INJ_CONNECTING:
        return;
    }
}

/* Reads what the server sent and acts on each complete reply. */
static void conn_read(harness_inject *inj, inj_conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (c->state == INJ_QUIT || (c->state == INJ_READY && c->ntxn == 0 && c->out_off == c->out.len))
                conn_close(c); /* an idle session the server ended (its timeout, say) */
            else
                conn_lost(inj, c, "lost connection");
            return;
        }
        c->inlen += (size_t)n;
        conn_progress(inj, c);
        size_t pos = 0;
        while (c->fd >= 0) {
            char *nl = memchr(c->in + pos, '\n', c->inlen - pos);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (c->in + pos));
            size_t next = pos + len + 1;
            if (len > 0 && c->in[pos + len - 1] == '\r')
                len--;
            if (len > INJ_LINE_MAX) {
                conn_lost(inj, c, "reply line too long");
                return;
            }
            int r = harness_inject_reply_line(&c->rep, c->in + pos, len);
            pos = next;
            if (r < 0) {
                conn_lost(inj, c, "malformed reply");
                return;
            }
            if (r == 1) {
                conn_reply(inj, c);
                harness_inject_reply_reset(&c->rep);
            }
        }
        if (c->fd < 0)
            return;
        memmove(c->in, c->in + pos, c->inlen - pos);
        c->inlen -= pos;
        if (c->inlen > INJ_LINE_MAX) {
            conn_lost(inj, c, "reply line too long");
            return;
        }
        if (c->state == INJ_READY && c->ntxn == 0 && queue_len(&inj->targets[c->target].q) > 0)
            conn_start(inj, c);
    }
}

/* The connection's deadline passed: a fatal error, after its messages are done. */
static void conn_timeout(harness_inject *inj, inj_conn *c)
{
    char d[32], what[64];
    dur_text(inj->timeout, d, sizeof(d));
    const char *tn = tname(inj, c);
    switch (c->state) {
    case INJ_CONNECTING:
        set_fatal(inj, -ETIMEDOUT, "%s: connect: no answer in %s", tn, d);
        break;
    case INJ_GREETING:
        set_fatal(inj, -ETIMEDOUT, "%s: no greeting in %s", tn, d);
        break;
    case INJ_EHLO:
    case INJ_HELO:
        set_fatal(inj, -ETIMEDOUT, "%s: no reply to %s in %s", tn, c->state == INJ_EHLO ? "EHLO" : "HELO", d);
        break;
    default:
        if (c->ntxn > 0 && c->out_off == c->out.len && !c->body_active)
            snprintf(what, sizeof(what), "no reply to %s", txn_stage(&c->txn[0]));
        else
            snprintf(what, sizeof(what), "could not write to the server");
        set_fatal(inj, -ETIMEDOUT, "%s: %s in %s", tn, what, d);
        char text[128];
        snprintf(text, sizeof(text), "%s in %s", what, d);
        conn_fail_all(inj, c, text, NULL, NULL);
        break;
    }
    conn_close(c);
}

/* Gives each waiting message a connection: idle sessions first, then new connections, then the
 * envelope behind a busy session's final dot. */
static void dispatch(harness_inject *inj)
{
    for (uint32_t t = 0; t < inj->ntargets && !inj->fatal; t++) {
        inj_queue *q = &inj->targets[t].q;
        inj_conn *cs = &inj->conns[(size_t)t * inj->per_target];
        for (size_t i = 0; i < inj->per_target && queue_len(q) > 0; i++) {
            inj_conn *c = &cs[i];
            if (c->fd >= 0 && c->state == INJ_READY && c->ntxn == 0) {
                conn_start(inj, c);
                conn_flush(inj, c);
            }
        }
        for (size_t i = 0; i < inj->per_target && target_spare(inj, t) > 0 && !inj->fatal; i++) {
            inj_conn *c = &cs[i];
            if (c->fd < 0)
                conn_open(inj, c);
        }
        for (size_t i = 0; i < inj->per_target && target_spare(inj, t) > 0; i++) {
            inj_conn *c = &cs[i];
            if (c->fd >= 0 && c->state == INJ_READY && c->pipelining && c->ntxn == 1 && c->txn[0].eod_wait) {
                conn_start(inj, c);
                conn_flush(inj, c);
            }
        }
    }
}

/* A connect that finished (or failed). */
static void conn_connected(harness_inject *inj, inj_conn *c)
{
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e) {
        const char *tn = tname(inj, c);
        conn_close(c);
        set_fatal(inj, -e, "%s: connect: %s", tn, strerror(e));
        return;
    }
    c->state = INJ_GREETING;
    conn_progress(inj, c);
}

int harness_inject_run(harness_inject *inj, int64_t until, char *err, size_t errlen)
{
    inj->fatal = 0;
    inj->err[0] = '\0';
    for (;;) {
        dispatch(inj);
        if (inj->fatal)
            break;
        int64_t now = harness_inject_now();
        if (until >= 0 ? now >= until : inj->pending == 0)
            break;
        int64_t wake = until >= 0 ? until : INT64_MAX;
        size_t n = 0;
        for (size_t i = 0; i < inj->nconns; i++) {
            inj_conn *c = &inj->conns[i];
            if (c->fd < 0)
                continue;
            short ev = POLLIN;
            if (c->state == INJ_CONNECTING)
                ev = POLLOUT;
            else if (c->out_off < c->out.len || c->body_active)
                ev |= POLLOUT;
            inj->pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            inj->pfd_conn[n++] = i;
            if (conn_waiting(c) && c->deadline < wake)
                wake = c->deadline;
        }
        if (n == 0 && until < 0) {
            /* Pending messages with no connection to carry them: cannot happen, dispatch opens one. */
            set_fatal(inj, -EDEADLK, "%zu messages pending and no connection to send them", inj->pending);
            break;
        }
        int ms = 0;
        if (wake > now) {
            int64_t d = (wake - now + 999999) / 1000000;
            ms = d > 60000 ? 60000 : (int)d;
        }
        int r = poll(inj->pfd, n, ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            set_fatal(inj, -errno, "poll: %s", strerror(errno));
            break;
        }
        for (size_t k = 0; r > 0 && k < n && !inj->fatal; k++) {
            short rev = inj->pfd[k].revents;
            if (!rev)
                continue;
            inj_conn *c = &inj->conns[inj->pfd_conn[k]];
            if (c->fd != inj->pfd[k].fd)
                continue;
            if (c->state == INJ_CONNECTING) {
                conn_connected(inj, c);
                continue;
            }
            if (rev & (POLLIN | POLLHUP | POLLERR))
                conn_read(inj, c);
            if (c->fd >= 0)
                conn_flush(inj, c);
        }
        if (inj->fatal)
            break;
        now = harness_inject_now();
        for (size_t i = 0; i < inj->nconns && !inj->fatal; i++) {
            inj_conn *c = &inj->conns[i];
            if (conn_waiting(c) && now >= c->deadline)
                conn_timeout(inj, c);
        }
        if (inj->fatal)
            break;
    }
    if (inj->fatal) {
        if (err && errlen)
            snprintf(err, errlen, "%s", inj->err);
        return inj->fatal;
    }
    return 0;
}
