/*
 * smtpd_server - the libevent side of testsmtpd (smtpd_server.h).
 *
 * A connection is a bufferevent and an smtpd_session. Bytes are fed to the engine straight from the
 * input evbuffer's first chunk (no copy); what the engine does not consume stays there - a partial
 * line, or everything after a delayed reply or STARTTLS - and is fed again when the engine can go on.
 * Replies go into the output evbuffer; libevent writes them when the callback returns, so the replies
 * to a pipelined batch leave in one write.
 *
 * The engine calls back (write, close, starttls, body, eom, event) from inside feed/resume/timeout.
 * Nothing is freed or switched there: the callbacks set flags, and smtpd_conn_settle acts on them once
 * the engine has returned - close (after the output drained, or at once when silent), the TLS switch,
 * the timer for a delayed reply, or the idle/command timeout.
 *
 * One timer per connection serves every purpose: while a reply is delayed it fires at the due time,
 * otherwise it is the read timeout. Timeouts of the same length use libevent's common-timeout queues,
 * so re-arming one after every read is O(1) even with tens of thousands of sessions. The same timer
 * polls the two rare states that wait on the client reading: closing after the last reply, and
 * throttled (more than 256 KB of replies queued for a client that pipelines without reading: its
 * input is not read until it catches up). Either gives up after the command timeout without progress.
 *
 * A client that shuts its side after its last commands (EOF with input still unanswered, or a
 * delayed reply pending) is answered in full before the close, as a real server would.
 *
 * Time: the policies and the log get monotonic microseconds since the server started.
 */
#include "testsmtpd/smtpd_server.h"
#include "sim/sim_mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <gsl/gsl_rng.h>

#include "sim/sim_random.h"
#include "testsmtpd/smtpd_tls.h"

#define SMTPD_SERVER_READ_HIGH (64 * 1024)  /* bytes read ahead per connection before reading pauses */
#define SMTPD_SERVER_WRITE_HIGH (256 * 1024) /* replies queued for a client that does not read: stop reading */
#define SMTPD_SERVER_FEED_SLICE (16 * 1024)  /* input fed per engine call, so the write bound is checked */
#define SMTPD_SERVER_WBUF (16 * 1024)        /* replies gathered per engine call before the direct send */
#define SMTPD_SERVER_BACKLOG 4096

typedef struct smtpd_rcv smtpd_rcv;

/* One policy generation of a receiver: what the engine sees, shared by the sessions that began on it. */
typedef struct smtpd_gen {
    smtpd_receiver r;            /* r.pol is this generation's policy */
    smtpd_rcv *owner;
    const char **rule_names;     /* rule index -> kind name, for the log */
    size_t nrules;
    uint64_t refs;               /* open sessions, plus one while it is the receiver's current one */
    struct smtpd_gen *next;      /* the receiver's live generations */
} smtpd_gen;

struct smtpd_rcv {
    char *name, *hostname, *preset;
    char **domains;              /* NULL-terminated */
    bool starttls;
    gsl_rng *rng;                /* random faults, shared by the generations */
    smtpd_gen *cur, *live;
    policy_stats retired;        /* counters of generations no longer alive */
    uint64_t over_max_sessions;
};

typedef struct smtpd_listener {
    smtpd_server *srv;
    size_t rcv;
    char *mxhost;
    char addr[64];
    struct evconnlistener *l;
} smtpd_listener;

typedef struct smtpd_conn {
    smtpd_server *srv;
    smtpd_gen *gen;
    struct bufferevent *bev;
    smtpd_session *sess;
    smtpd_store_msg *msg;
    struct event timer;
    uint64_t id;
    bool closing, silent, want_tls, paused, draining, throttled;
    bool eof;                    /* the client shut its side: answer what it sent, then close */
    sim_time_t drain_until;      /* draining or throttled: give up on a client that does not read by then */
    size_t last_pending;         /* reply bytes queued at the last poll: progress moves drain_until */
    struct smtpd_conn *prev, *next;
    char peer[INET6_ADDRSTRLEN];
} smtpd_conn;

struct smtpd_server {
    struct event_base *base;
    smtpd_server_config cfg;
    struct timespec start;
    const struct timeval *idle_tv, *command_tv; /* common timeouts */
    smtpd_rcv **rcv;             /* each allocated alone: generations point at their receiver */
    size_t nrcv;
    smtpd_listener **lst;
    size_t nlst;
    smtpd_conn *conns;
    uint64_t nconns, next_id;
    smtpd_ops ops;
    /* Replies of the engine call in progress, sent straight to the socket when it returns. */
    smtpd_conn *wconn;
    size_t wlen;
    char wbuf[SMTPD_SERVER_WBUF];
};


void smtpd_server_config_defaults(smtpd_server_config *c)
{
    memset(c, 0, sizeof(*c));
    smtpd_limits_defaults(&c->limits);
    c->max_sessions = 20000;
    c->idle_timeout = 300 * SIM_SEC;
    c->command_timeout = 300 * SIM_SEC;
}

sim_time_t smtpd_server_now(const smtpd_server *srv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sim_time_t real = (sim_time_t)(ts.tv_sec - srv->start.tv_sec) * SIM_SEC + (ts.tv_nsec - srv->start.tv_nsec) / 1000;
    return srv->cfg.clock_rate == 1 ? real : (sim_time_t)((double)real * srv->cfg.clock_rate);
}

int64_t smtpd_server_clock_origin(const smtpd_server *srv)
{
    return (int64_t)srv->start.tv_sec * 1000000000 + srv->start.tv_nsec;
}

static struct timeval smtpd_server_tv(sim_time_t t)
{
    if (t < 0)
        t = 0;
    return (struct timeval){.tv_sec = (time_t)(t / SIM_SEC), .tv_usec = (suseconds_t)(t % SIM_SEC)};
}

/* A span of the policy clock as a timer of the real one. */
static struct timeval smtpd_server_policy_tv(const smtpd_server *srv, sim_time_t t)
{
    return smtpd_server_tv(srv->cfg.clock_rate == 1 ? t : (sim_time_t)((double)t / srv->cfg.clock_rate));
}

/* A real span (the server's own timeouts) on the policy clock. */
static sim_time_t smtpd_server_real_span(const smtpd_server *srv, sim_time_t t)
{
    return srv->cfg.clock_rate == 1 ? t : (sim_time_t)((double)t * srv->cfg.clock_rate);
}

/* ---- addresses ---- */

/* The client's address as the policy keys it: dotted IPv4 also for v4-mapped IPv6 peers. */
static void smtpd_server_peer(const struct sockaddr *sa, char *buf, size_t len)
{
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)len);
        else
            inet_ntop(AF_INET6, a, buf, (socklen_t)len);
    } else if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    } else {
        snprintf(buf, len, "unknown");
    }
}

/* ---- policy generations ---- */

static void smtpd_stats_add(policy_stats *to, const policy_stats *from)
{
    to->connections += from->connections;
    to->connections_refused += from->connections_refused;
    for (size_t k = 0; k < POLICY_RULE_COUNT; k++)
        to->refused_by_rule[k] += from->refused_by_rule[k];
    to->messages_accepted += from->messages_accepted;
    to->recipients_accepted += from->recipients_accepted;
    for (size_t c = 0; c < sizeof(to->replies_by_code) / sizeof(to->replies_by_code[0]); c++)
        to->replies_by_code[c] += from->replies_by_code[c];
    to->open_sessions += from->open_sessions;
    to->open_busy += from->open_busy;
    to->open_idle += from->open_idle;
    to->penalty_boxes += from->penalty_boxes;
}

static smtpd_gen *smtpd_gen_create(smtpd_server *srv, smtpd_rcv *r, const policy_config *cfg, char *err,
                                   size_t errlen)
{
    smtpd_gen *g = calloc(1, sizeof(*g));
    if (!g || (cfg->nrules && !(g->rule_names = calloc(cfg->nrules, sizeof(*g->rule_names))))) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    policy_config c = *cfg;
    c.hostname = r->hostname;
    if (!(g->r.pol = policy_create(&c, r->rng, err, errlen))) {
        free(g->rule_names);
        free(g);
        return NULL;
    }
    for (size_t k = 0; k < cfg->nrules; k++)
        g->rule_names[k] = policy_rule_kind_name(cfg->rules[k].kind);
    g->nrules = cfg->nrules;
    g->r.name = r->name;
    g->r.hostname = r->hostname;
    g->r.domains = (const char *const *)r->domains;
    g->r.tls_available = r->starttls && srv->cfg.tls != NULL;
    g->owner = r;
    g->refs = 1;
    g->next = r->live;
    r->live = g;
    return g;
}

static void smtpd_gen_unref(smtpd_gen *g)
{
    if (g->refs == 0)
        sim_panic(__func__, "reference count below zero");
    if (--g->refs > 0)
        return;
    smtpd_rcv *r = g->owner;
    smtpd_stats_add(&r->retired, policy_get_stats(g->r.pol));
    for (smtpd_gen **p = &r->live; *p; p = &(*p)->next) {
        if (*p == g) {
            *p = g->next;
            break;
        }
    }
    policy_free(g->r.pol);
    free(g->rule_names);
    free(g);
}

/* ---- connections ---- */

static void smtpd_conn_event(smtpd_conn *c, const char *type, const char *text, const char *rule, uint64_t size,
                             const char *sha)
{
    if (!c->srv->cfg.log)
        return;
    smtpd_log_event e = {.t = smtpd_server_now(c->srv), .session = c->id, .receiver = c->gen->owner->name,
                         .peer = c->peer, .event = type, .text = text, .rule = rule, .size = size, .sha256 = sha};
    smtpd_log_write(c->srv->cfg.log, &e);
}

/*
 * Sends the replies gathered during the last engine call. A bufferevent's write arms a write event and
 * writes on the next loop iteration: two epoll_ctl calls and a wake-up per reply batch. With nothing
 * queued before them, the replies go out now in one send(); only what the socket does not take is
 * handed to the bufferevent, which keeps the order.
 */
static void smtpd_conn_flush(smtpd_server *srv)
{
    smtpd_conn *c = srv->wconn;
    if (!c)
        return;
    size_t off = 0;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        ssize_t w = send(bufferevent_getfd(c->bev), srv->wbuf, srv->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            off = (size_t)w;
    }
    if (off < srv->wlen)
        bufferevent_write(c->bev, srv->wbuf + off, srv->wlen - off); /* and errors surface there */
    srv->wconn = NULL;
    srv->wlen = 0;
}

static void smtpd_conn_free(smtpd_conn *c)
{
    smtpd_server *srv = c->srv;
    if (srv->wconn == c)
        smtpd_conn_flush(srv);
    if (c->sess)
        smtpd_session_free(c->sess, smtpd_server_now(srv)); /* may log "close" through the ops */
    c->sess = NULL;
    event_del(&c->timer);
    if (c->bev)
        bufferevent_free(c->bev);
    smtpd_store_msg_free(c->msg);
    smtpd_gen_unref(c->gen);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    free(c);
}

static void smtpd_conn_setcb(smtpd_conn *c);
static void smtpd_conn_events(struct bufferevent *bev, short what, void *arg);

/* Reply bytes not yet handed to the kernel: the TLS filter's plaintext and its ciphertext below. */
static size_t smtpd_conn_pending(const smtpd_conn *c)
{
    struct bufferevent *under = bufferevent_get_underlying(c->bev);
    return evbuffer_get_length(bufferevent_get_output(c->bev)) +
           (under ? evbuffer_get_length(bufferevent_get_output(under)) : 0);
}

/* Draining a TLS session: the filter says nothing when the ciphertext below it is out, so poll. */
#define SMTPD_SERVER_DRAIN_POLL 5000

/* The output drained after the engine closed the session: now close. */
static void smtpd_conn_drained(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtpd_conn *c = arg;
    if (smtpd_conn_pending(c) == 0)
        smtpd_conn_free(c);
}

/* Acts on what the engine asked for during its last call. Returns false when c was freed. */
static bool smtpd_conn_settle(smtpd_conn *c)
{
    smtpd_server *srv = c->srv;
    smtpd_conn_flush(srv);
    if (c->eof && !c->want_tls && smtpd_session_paused_until(c->sess) == 0 &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
        c->closing = true;
    if (c->closing || smtpd_session_closed(c->sess)) {
        event_del(&c->timer);
        if (c->silent || smtpd_conn_pending(c) == 0) {
            smtpd_conn_free(c);
            return false;
        }
        if (!c->draining) {
            c->closing = c->draining = true;
            /* A client that never reads must not hold the session forever. */
            c->drain_until = smtpd_server_now(srv) + smtpd_server_real_span(srv, srv->cfg.command_timeout);
            bufferevent_disable(c->bev, EV_READ);
            bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
            bufferevent_setcb(c->bev, NULL, smtpd_conn_drained, smtpd_conn_events, c);
        }
        struct timeval tv = smtpd_server_tv(bufferevent_get_underlying(c->bev) ? SMTPD_SERVER_DRAIN_POLL
                                                                                : srv->cfg.command_timeout);
        event_add(&c->timer, &tv);
        return true;
    }
    if (c->want_tls) {
        c->want_tls = false;
        struct bufferevent *tls = smtpd_tls_start(srv->base, c->bev, srv->cfg.tls);
        if (!tls) {
            smtpd_conn_free(c);
            return false;
        }
        c->bev = tls;
        bufferevent_setwatermark(tls, EV_READ, 0, SMTPD_SERVER_READ_HIGH);
        smtpd_conn_setcb(c);
        bufferevent_enable(tls, EV_READ | EV_WRITE);
    }
    /* A client that pipelines without reading the replies: read no more until it catches up. The
     * filter of a TLS session reports no drain of the ciphertext below it, so the timer polls. */
    if (smtpd_conn_pending(c) > SMTPD_SERVER_WRITE_HIGH) {
        if (!c->throttled) {
            c->throttled = true;
            c->drain_until = smtpd_server_now(srv) + smtpd_server_real_span(srv, srv->cfg.command_timeout);
            bufferevent_disable(c->bev, EV_READ);
        }
        struct timeval tv = smtpd_server_tv(SMTPD_SERVER_DRAIN_POLL);
        event_add(&c->timer, &tv);
        return true;
    }
    if (c->throttled) {
        c->throttled = false;
        if (!c->eof)
            bufferevent_enable(c->bev, EV_READ);
    }
    sim_time_t due = smtpd_session_paused_until(c->sess);
    if (due != 0) {
        struct timeval tv = smtpd_server_policy_tv(srv, due - smtpd_server_now(srv));
        c->paused = true;
        event_add(&c->timer, &tv);
        return true;
    }
    c->paused = false;
    if (smtpd_session_in_data(c->sess)) {
        event_add(&c->timer, srv->command_tv);
    } else {
        sim_time_t pol = policy_idle_timeout(c->gen->r.pol);
        struct timeval tv = smtpd_server_policy_tv(srv, pol);
        if (pol > 0 && tv.tv_sec * SIM_SEC + tv.tv_usec < srv->cfg.idle_timeout) {
            event_add(&c->timer, &tv);
        } else {
            event_add(&c->timer, srv->idle_tv);
        }
    }
    return true;
}

/* Feeds buffered input until the engine stops or the input runs out. Returns false when c was freed. */
static bool smtpd_conn_feed(smtpd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    bool pulled = false;
    while (!c->closing && !c->want_tls && smtpd_session_paused_until(c->sess) == 0 &&
           !smtpd_session_closed(c->sess)) {
        size_t total = evbuffer_get_length(in);
        if (total == 0)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (v.iov_len > SMTPD_SERVER_FEED_SLICE && !pulled)
            v.iov_len = SMTPD_SERVER_FEED_SLICE;
        if (smtpd_conn_pending(c) > SMTPD_SERVER_WRITE_HIGH)
            break;
        size_t n = smtpd_session_feed(c->sess, v.iov_base, v.iov_len, smtpd_server_now(c->srv));
        if (n > v.iov_len)
            sim_panic(__func__, "the engine consumed more than it was given");
        evbuffer_drain(in, n);
        if (n == v.iov_len) {
            pulled = false;
            continue;
        }
        if (n > 0)
            pulled = false;
        /* The engine wants more of a line than the first chunk holds: make the buffer contiguous,
         * once; if it still wants more, wait for the client. */
        if (v.iov_len - n < total - n && !pulled) {
            evbuffer_pullup(in, -1);
            pulled = true;
            continue;
        }
        break;
    }
    return smtpd_conn_settle(c);
}

static void smtpd_conn_pump(smtpd_conn *c)
{
    smtpd_server *srv = c->srv; /* c may be gone after the feed */
    smtpd_conn_feed(c);
    if (srv->cfg.log)
        smtpd_log_flush(srv->cfg.log);
}

static void smtpd_conn_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtpd_conn *c = arg;
    if (c->paused || c->closing || c->throttled)
        return; /* kept until the delayed reply is out (up to the high-water mark) */
    smtpd_conn_pump(c);
}

static void smtpd_conn_events(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    smtpd_conn *c = arg;
    smtpd_server *srv = c->srv;
    if (what & BEV_EVENT_CONNECTED) {
        /* The TLS handshake completed (the engine logs "tls"). */
        smtpd_session_tls_started(c->sess);
        smtpd_conn_pump(c);
        return;
    }
    /* A client that sends its last commands and shuts its side (a script, `nc -N`) still gets the
     * answers, delayed ones included, as long as it reads. */
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->closing && !c->want_tls &&
        (c->paused || c->throttled || evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)) {
        c->eof = true;
        bufferevent_disable(c->bev, EV_READ);
        if (!c->paused && !c->throttled)
            smtpd_conn_pump(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        smtpd_conn_free(c);
        if (srv->cfg.log)
            smtpd_log_flush(srv->cfg.log);
    }
}

static void smtpd_conn_setcb(smtpd_conn *c) { bufferevent_setcb(c->bev, smtpd_conn_read, NULL, smtpd_conn_events, c); }

static void smtpd_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smtpd_conn *c = arg;
    smtpd_server *srv = c->srv;
    if (c->draining || c->throttled) {
        size_t pending = smtpd_conn_pending(c);
        if (pending < c->last_pending) /* the client is reading: slow is not stuck */
            c->drain_until = smtpd_server_now(srv) + smtpd_server_real_span(srv, srv->cfg.command_timeout);
        c->last_pending = pending;
    }
    if (c->draining) {
        if (smtpd_conn_pending(c) == 0 || smtpd_server_now(srv) >= c->drain_until)
            smtpd_conn_free(c); /* flushed, or the client stopped reading our last reply */
        else
            smtpd_conn_settle(c);
    } else if (c->throttled) {
        if (smtpd_server_now(srv) >= c->drain_until)
            smtpd_conn_free(c); /* it never read its replies */
        else if (smtpd_conn_settle(c) && !c->throttled)
            smtpd_conn_feed(c);
    } else if (c->paused) {
        /* Early (libevent's clock is cached per loop pass), the session stays paused and settle sets
         * the timer again for the rest. */
        c->paused = false;
        smtpd_session_resume(c->sess, smtpd_server_now(srv));
        if (smtpd_conn_settle(c) && smtpd_session_paused_until(c->sess) == 0)
            smtpd_conn_feed(c);
    } else {
        smtpd_session_timeout(c->sess, smtpd_server_now(srv));
        smtpd_conn_settle(c);
    }
    if (srv->cfg.log)
        smtpd_log_flush(srv->cfg.log);
}

/* ---- engine callbacks ---- */

static void smtpd_op_write(void *ctx, const char *data, size_t len)
{
    smtpd_conn *c = ctx;
    smtpd_server *srv = c->srv;
    if (c->silent)
        return;
    /* Through TLS, or more than the gathering buffer holds: the bufferevent, after what was gathered. */
    if (bufferevent_get_underlying(c->bev) || srv->wlen + len > sizeof(srv->wbuf) ||
        (srv->wconn && srv->wconn != c)) {
        smtpd_conn_flush(srv);
        bufferevent_write(c->bev, data, len);
        return;
    }
    srv->wconn = c;
    memcpy(srv->wbuf + srv->wlen, data, len);
    srv->wlen += len;
}

static void smtpd_op_close(void *ctx, bool silent)
{
    smtpd_conn *c = ctx;
    c->closing = true;
    c->silent = c->silent || silent;
}

static int smtpd_op_starttls(void *ctx)
{
    smtpd_conn *c = ctx;
    if (!c->srv->cfg.tls)
        return -EOPNOTSUPP;
    c->want_tls = true;
    return 0;
}

static void smtpd_op_body(void *ctx, const char *data, size_t len)
{
    smtpd_conn *c = ctx;
    if (c->msg)
        smtpd_store_write(c->msg, data, len);
}

static int smtpd_op_eom(void *ctx, const char *sender, const char *const *rcpts, size_t nrcpt, uint64_t size)
{
    (void)sender;
    (void)rcpts;
    (void)nrcpt;
    (void)size;
    smtpd_conn *c = ctx;
    if (!c->msg)
        return -ENOMEM;
    char sha[65];
    uint64_t stored = 0;
    int rc = smtpd_store_end(c->msg, sha, &stored, NULL, 0);
    if (rc == 0)
        smtpd_conn_event(c, "message", NULL, NULL, stored, sha);
    return rc;
}

static void smtpd_op_discard(void *ctx)
{
    smtpd_conn *c = ctx;
    if (c->msg)
        smtpd_store_abort(c->msg);
}

static void smtpd_op_event(void *ctx, const char *type, const char *text, int rule)
{
    smtpd_conn *c = ctx;
    if (!c->srv->cfg.log)
        return;
    const char *rname = rule >= 0 && (size_t)rule < c->gen->nrules ? c->gen->rule_names[rule] : NULL;
    smtpd_conn_event(c, type, text, rname, 0, NULL);
}

/* ---- accepting ---- */

static void smtpd_server_refuse(smtpd_server *srv, smtpd_listener *l, evutil_socket_t fd, const char *peer)
{
    smtpd_rcv *r = srv->rcv[l->rcv];
    char line[300];
    int n = snprintf(line, sizeof(line), "421 4.3.2 %s Error: too many connections\r\n", r->hostname);
    /* Best effort, non-blocking: the socket buffer of a new connection has room for one line. */
    ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    evutil_closesocket(fd);
    r->over_max_sessions++;
    policy_count_reply(r->cur->r.pol, 421);
    if (srv->cfg.log) {
        line[n - 2] = 0;
        sim_time_t now = smtpd_server_now(srv);
        uint64_t id = ++srv->next_id;
        smtpd_log_event e = {.t = now, .session = id, .receiver = r->name, .peer = peer, .event = "connect"};
        smtpd_log_write(srv->cfg.log, &e);
        e.event = "reply";
        e.text = line;
        e.rule = "max_sessions";
        smtpd_log_write(srv->cfg.log, &e);
        e.event = "close";
        e.text = e.rule = NULL;
        smtpd_log_write(srv->cfg.log, &e);
        smtpd_log_flush(srv->cfg.log);
    }
}

static void smtpd_server_accept(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa, int salen,
                                void *arg)
{
    (void)el;
    (void)salen;
    smtpd_listener *l = arg;
    smtpd_server *srv = l->srv;
    smtpd_rcv *r = srv->rcv[l->rcv];
    char peer[INET6_ADDRSTRLEN];
    smtpd_server_peer(sa, peer, sizeof(peer));
    if (srv->nconns >= srv->cfg.max_sessions) {
        smtpd_server_refuse(srv, l, fd, peer);
        return;
    }
    smtpd_conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = c ? bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    smtpd_store_msg *msg = bev ? smtpd_store_msg_create(srv->cfg.store) : NULL;
    if (!msg) {
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        free(c);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->srv = srv;
    c->bev = bev;
    c->msg = msg;
    c->gen = r->cur;
    c->gen->refs++;
    c->id = ++srv->next_id;
    memcpy(c->peer, peer, sizeof(peer));
    evtimer_assign(&c->timer, srv->base, smtpd_conn_timer, c);
    c->next = srv->conns;
    if (c->next)
        c->next->prev = c;
    srv->conns = c;
    srv->nconns++;
    smtpd_conn_setcb(c);
    bufferevent_setwatermark(bev, EV_READ, 0, SMTPD_SERVER_READ_HIGH);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    c->sess = smtpd_session_create(&c->gen->r, &srv->cfg.limits, &srv->ops, c, peer, smtpd_server_now(srv));
    if (!c->sess) {
        smtpd_conn_free(c);
        return;
    }
    smtpd_conn_settle(c);
    if (srv->cfg.log)
        smtpd_log_flush(srv->cfg.log);
}

static void smtpd_server_accept_error(struct evconnlistener *el, void *arg)
{
    (void)el;
    (void)arg;
    /* EMFILE and the like: the listener retries on the next readiness; say it once in a while. */
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        last = now;
        fprintf(stderr, "testsmtpd: accept: %s\n", strerror(errno));
    }
}

/* ---- server ---- */

smtpd_server *smtpd_server_create(struct event_base *base, const smtpd_server_config *cfg)
{
    if (!cfg->store)
        sim_panic(__func__, "no store");
    smtpd_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->base = base;
    srv->cfg = *cfg;
    if (!(srv->cfg.clock_rate > 0))
        srv->cfg.clock_rate = 1;
    clock_gettime(CLOCK_MONOTONIC, &srv->start);
    struct timeval tv = smtpd_server_tv(cfg->idle_timeout);
    srv->idle_tv = event_base_init_common_timeout(base, &tv);
    tv = smtpd_server_tv(cfg->command_timeout);
    srv->command_tv = event_base_init_common_timeout(base, &tv);
    if (!srv->idle_tv || !srv->command_tv) {
        free(srv);
        return NULL;
    }
    srv->ops = (smtpd_ops){.write = smtpd_op_write,
                           .close = smtpd_op_close,
                           .starttls = smtpd_op_starttls,
                           .body = smtpd_op_body,
                           .eom = smtpd_op_eom,
                           .event = smtpd_op_event,
                           .discard = smtpd_op_discard};
    return srv;
}

/* Frees what smtpd_server_add_receiver copied from the config, also when it stopped half-way. */
static void smtpd_rcv_free(smtpd_rcv *r)
{
    free(r->name);
    free(r->hostname);
    free(r->preset);
    for (char **d = r->domains; d && *d; d++)
        free(*d);
    free(r->domains);
    gsl_rng_free(r->rng);
    free(r);
}

void smtpd_server_free(smtpd_server *srv)
{
    if (!srv)
        return;
    for (size_t k = 0; k < srv->nlst; k++) {
        evconnlistener_free(srv->lst[k]->l);
        free(srv->lst[k]->mxhost);
        free(srv->lst[k]);
    }
    free(srv->lst);
    while (srv->conns)
        smtpd_conn_free(srv->conns);
    for (size_t i = 0; i < srv->nrcv; i++) {
        smtpd_rcv *r = srv->rcv[i];
        smtpd_gen_unref(r->cur);
        if (r->live)
            sim_panic(__func__, "a policy generation outlived its sessions");
        smtpd_rcv_free(r);
    }
    free(srv->rcv);
    if (srv->cfg.log)
        smtpd_log_flush(srv->cfg.log);
    free(srv);
}

int smtpd_server_add_receiver(smtpd_server *srv, const receiver_config *rc, uint64_t seed, char *err, size_t errlen)
{
    smtpd_rcv **nr = realloc(srv->rcv, (srv->nrcv + 1) * sizeof(*nr));
    if (nr)
        srv->rcv = nr;
    smtpd_rcv *r = nr ? calloc(1, sizeof(*r)) : NULL;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *host = rc->policy.hostname ? rc->policy.hostname : rc->nmx ? rc->mx[0].host : "mx.test";
    bool ok = (r->name = strdup(rc->name)) && (r->hostname = strdup(host)) &&
              (r->preset = strdup(rc->policy.preset ? rc->policy.preset : "postfix")) &&
              (r->domains = calloc(rc->ndomains + 1, sizeof(*r->domains)));
    for (size_t k = 0; ok && k < rc->ndomains; k++)
        ok = (r->domains[k] = strdup(rc->domains[k])) != NULL;
    char stream[300];
    snprintf(stream, sizeof(stream), "policy/%s", rc->name);
    if (ok)
        r->rng = sim_random_stream(seed, 0, stream);
    r->starttls = rc->starttls;
    if (!ok)
        snprintf(err, errlen, "out of memory");
    if (!ok || !(r->cur = smtpd_gen_create(srv, r, &rc->policy, err, errlen))) {
        smtpd_rcv_free(r);
        return -1;
    }
    srv->rcv[srv->nrcv] = r;
    return (int)srv->nrcv++;
}

size_t smtpd_server_nreceivers(const smtpd_server *srv) { return srv->nrcv; }

int smtpd_server_find_receiver(const smtpd_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->nrcv; i++)
        if (strcmp(srv->rcv[i]->name, name) == 0)
            return (int)i;
    return -1;
}

const char *smtpd_server_receiver_name(const smtpd_server *srv, size_t i) { return srv->rcv[i]->name; }
const char *smtpd_server_receiver_hostname(const smtpd_server *srv, size_t i) { return srv->rcv[i]->hostname; }
const char *smtpd_server_receiver_preset(const smtpd_server *srv, size_t i) { return srv->rcv[i]->preset; }

int smtpd_server_listen(smtpd_server *srv, size_t i, const char *mxhost, const char *addr, bool allow_remote,
                        char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (smtpd_addr_parse(addr, &ss, &len) < 0) {
        snprintf(err, errlen, "%s: expected ADDRESS:PORT like 127.0.0.2:2525 or [::1]:2525", addr);
        return -EINVAL;
    }
    if (!allow_remote && !smtpd_addr_is_loopback((struct sockaddr *)&ss)) {
        snprintf(err, errlen, "%s: not a loopback address (--allow-remote listens elsewhere)", addr);
        return -EINVAL;
    }
    evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int rc = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SMTPD_SERVER_BACKLOG) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot listen: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    smtpd_listener *l = calloc(1, sizeof(*l));
    smtpd_listener **nl = realloc(srv->lst, (srv->nlst + 1) * sizeof(*nl));
    if (nl)
        srv->lst = nl;
    if (!l || !nl || !(l->mxhost = strdup(mxhost ? mxhost : srv->rcv[i]->hostname)) ||
        !(l->l = evconnlistener_new(srv->base, smtpd_server_accept, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                    0, fd))) {
        snprintf(err, errlen, "%s: out of memory", addr);
        if (l)
            free(l->mxhost);
        free(l);
        close(fd);
        return -ENOMEM;
    }
    evconnlistener_set_error_cb(l->l, smtpd_server_accept_error);
    l->srv = srv;
    l->rcv = i;
    smtpd_addr_format((struct sockaddr *)&ss, l->addr, sizeof(l->addr));
    srv->lst[srv->nlst++] = l;
    return 0;
}

size_t smtpd_server_nlisteners(const smtpd_server *srv) { return srv->nlst; }

void smtpd_server_listener(const smtpd_server *srv, size_t k, smtpd_server_listener_info *out)
{
    const smtpd_listener *l = srv->lst[k];
    out->receiver = srv->rcv[l->rcv]->name;
    out->mxhost = l->mxhost;
    snprintf(out->addr, sizeof(out->addr), "%s", l->addr);
}

int smtpd_server_set_policy(smtpd_server *srv, size_t i, const policy_config *cfg, char *err, size_t errlen)
{
    smtpd_rcv *r = srv->rcv[i];
    smtpd_gen *g = smtpd_gen_create(srv, r, cfg, err, errlen);
    if (!g)
        return -EINVAL;
    smtpd_gen *old = r->cur;
    r->cur = g;
    smtpd_gen_unref(old); /* freed now if no session uses it */
    return 0;
}

int smtpd_server_force(smtpd_server *srv, size_t i, uint64_t n, const char *reply)
{
    return policy_force(srv->rcv[i]->cur->r.pol, n, reply);
}

void smtpd_server_stats_get(const smtpd_server *srv, size_t i, smtpd_server_stats *out)
{
    const smtpd_rcv *r = srv->rcv[i];
    memset(out, 0, sizeof(*out));
    out->p = r->retired;
    for (const smtpd_gen *g = r->live; g; g = g->next)
        smtpd_stats_add(&out->p, policy_get_stats(g->r.pol));
    out->over_max_sessions = r->over_max_sessions;
    out->p.connections += r->over_max_sessions;
    out->p.connections_refused += r->over_max_sessions;
}

uint64_t smtpd_server_sessions(const smtpd_server *srv) { return srv->nconns; }
