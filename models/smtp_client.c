/*
 * smtp_client - the simulated SMTP client session (see smtp_client.h for the model).
 *
 * Time line of one fresh delivery, with r the connection's round-trip time and d the server's think
 * time plus any tarpit for that reply:
 *
 *   t0            agent starts; DNS lookup unless the destination's answer is cached
 *   S1 = t+r+k    the server has the TCP connection (one r) and has spent k (connect_latency: its
 *                 master hands the connection to an smtpd process, anvil is asked): policy CONNECT,
 *                 the greeting (or a 421) leaves after d
 *   S2 = S1+d+r   EHLO reaches the server: policy HELO
 *   C  = S2+d+r/2 the client has the EHLO reply; with TLS: STARTTLS (r), the handshake's CPU on the
 *                 host's cores, its round trips, EHLO again (r)
 *   S3 = C'+r/2   the pipelined MAIL, RCPT..., DATA reach the server together: policy MAIL, RCPT, DATA
 *   S4            end of data reaches the server after the 354 (d+r) and the transfer (size/bandwidth)
 *   R             the client has the final reply: processing (receiver capacity) + d + r/2
 *
 * Every event of a request is a server-side instant except the client-side DNS answer, connect failures
 * and the final receptions. A reused connection skips straight to S3 after an RSET probe (r + d); a
 * connection the server closed meanwhile (idle timeout, per-session limit) is noticed there and replaced.
 *
 * Simplifications (docs/internals.md): one address per MX host; one round-trip time per connection;
 * outcomes reach the owner at the server's decision instant, stamped with the time the client learns
 * them (so log lines can be out of order by one round trip); QUIT's reply is not awaited
 * (smtp_skip_quit_response = yes) and the server sees the close half a round trip later.
 */
#include "models/smtp_client.h"
#include "sim/sim_mem.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_calendar.h"

enum { R_UNMARKED = 0, R_ACCEPTED = 1, R_DONE = 2 };

/* Links of an idle list. Idle lists are kept oldest first and scache hands out the session cached
 * longest ago (scache_multi.c saves with ring_prepend and finds with ring_succ); the head's prev
 * is the tail, the tail's next NULL. */
typedef struct conn_link {
    smtp_conn *next, *prev;
} conn_link;

struct smtp_conn {
    sim_event ev;            /* QUIT reaching the server, or the cache expiry */
    smtp_client *cl;
    receiver *rcv;
    policy_session *ps;
    uint32_t mx;
    sim_time_t rtt;
    sim_time_t started;
    uint32_t uses;
    bool server_closed;      /* the server dropped it (silent close, idle timeout) */
    bool tls;                /* STARTTLS was done on it */
    smtp_conn **cache;       /* the destination list it is cached in, when idle */
    conn_link d;             /* that list; also the client's list of free connections */
    conn_link a;             /* the list of idle sessions to the same server address */
};

struct smtp_client {
    sim_calendar *cal;
    char *src_ip;
    const latency_config *lat;
    latency_resource *cpu;
    gsl_rng *rng;
    smtp_conn *free_conns;
    smtp_conn ***by_addr;    /* idle sessions per server address: [receiver index][mx], a row of the
                                receiver's nmx lists made when the client first meets it */
    size_t nby_addr;
    smtp_conn **all;         /* every connection ever allocated, for the final free */
    size_t nall, all_cap;
    uint64_t open, cached;
    bool text;
};

static void request_event(sim_event *ev, sim_time_t now);
static void conn_event(sim_event *ev, sim_time_t now);

smtp_client *smtp_client_create(sim_calendar *cal, const char *src_ip, const latency_config *lat,
                                latency_resource *cpu, gsl_rng *rng)
{
    smtp_client *cl = sim_xcalloc(1, sizeof(*cl));
    cl->cal = cal;
    cl->src_ip = sim_xstrdup(src_ip);
    cl->lat = lat;
    cl->cpu = cpu;
    cl->rng = rng;
    cl->text = true;
    return cl;
}

void smtp_client_set_text(smtp_client *cl, bool text) { cl->text = text; }

uint64_t smtp_client_open(const smtp_client *cl) { return cl->open; }
uint64_t smtp_client_cached(const smtp_client *cl) { return cl->cached; }

/* ---- connections ---- */

static smtp_conn *conn_new(smtp_client *cl, receiver *rcv, uint32_t mx, sim_time_t rtt, sim_time_t started)
{
    smtp_conn *c = cl->free_conns;
    if (c)
        cl->free_conns = c->d.next;
    else {
        cl->all = sim_xgrow(cl->all, &cl->all_cap, cl->nall + 1, sizeof(*cl->all), 64);
        c = cl->all[cl->nall++] = sim_xmalloc(sizeof(*c));
    }
    *c = (smtp_conn){.cl = cl, .rcv = rcv, .mx = mx, .rtt = rtt, .started = started, .uses = 1};
    sim_event_init(&c->ev, conn_event);
    cl->open++;
    return c;
}

static void conn_release(smtp_conn *c)
{
    smtp_client *cl = c->cl;
    cl->open--;
    c->d.next = cl->free_conns;
    cl->free_conns = c;
}

static smtp_conn **addr_slot(smtp_client *cl, const receiver *rcv, uint32_t mx)
{
    size_t k = rcv->index;
    if (k >= cl->nby_addr) {
        size_t n = (k + 1) * 2;
        cl->by_addr = sim_xreallocarray(cl->by_addr, n, sizeof(*cl->by_addr));
        memset(cl->by_addr + cl->nby_addr, 0, (n - cl->nby_addr) * sizeof(*cl->by_addr));
        cl->nby_addr = n;
    }
    if (!cl->by_addr[k])
        cl->by_addr[k] = sim_xcalloc(rcv->cfg->nmx, sizeof(*cl->by_addr[k]));
    return &cl->by_addr[k][mx];
}

static conn_link *link_of(smtp_conn *c, size_t off) { return (conn_link *)((char *)c + off); }

static void idle_append(smtp_conn **head, smtp_conn *c, size_t off)
{
    conn_link *l = link_of(c, off);
    l->next = NULL;
    if (!*head) {
        l->prev = c;
        *head = c;
        return;
    }
    smtp_conn *tail = link_of(*head, off)->prev;
    link_of(tail, off)->next = c;
    l->prev = tail;
    link_of(*head, off)->prev = c;
}

static void idle_unlink(smtp_conn **head, smtp_conn *c, size_t off)
{
    conn_link *l = link_of(c, off);
    if (c == *head) {
        *head = l->next;
        if (*head)
            link_of(*head, off)->prev = l->prev;
    } else {
        link_of(l->prev, off)->next = l->next;
        if (l->next)
            link_of(l->next, off)->prev = l->prev;
        else
            link_of(*head, off)->prev = l->prev;
    }
    l->next = l->prev = NULL;
}

static void cache_unlink(smtp_conn *c)
{
    idle_unlink(c->cache, c, offsetof(smtp_conn, d));
    idle_unlink(addr_slot(c->cl, c->rcv, c->mx), c, offsetof(smtp_conn, a));
    c->cache = NULL;
    c->cl->cached--;
}

/* Closes at once on both sides (cache expiry closes without QUIT; a server close is seen at once). */
static void conn_close_now(smtp_conn *c, sim_time_t now)
{
    sim_calendar_cancel(c->cl->cal, &c->ev);
    if (c->cache)
        cache_unlink(c);
    if (c->ps)
        receiver_close(c->rcv, c->ps, now);
    conn_release(c);
}

/* QUIT: the server sees the close half a round trip later. */
static void conn_quit(smtp_conn *c, sim_time_t now)
{
    if (c->server_closed || !c->ps) {
        conn_close_now(c, now);
        return;
    }
    sim_calendar_schedule(c->cl->cal, &c->ev, now + c->rtt / 2);
}

static void conn_event(sim_event *ev, sim_time_t now)
{
    conn_close_now(SIM_CONTAINER_OF(ev, smtp_conn, ev), now);
}

/* Into the request's destination list, for the transport's connection_cache_time_limit. */
static void conn_cache(smtp_conn *c, const smtp_request *req, sim_time_t now)
{
    smtp_conn **list = req->cache;
    sim_time_t ttl = req->p->connection_cache_time_limit;
    c->cache = list;
    idle_append(list, c, offsetof(smtp_conn, d));
    idle_append(addr_slot(c->cl, c->rcv, c->mx), c, offsetof(smtp_conn, a));
    c->cl->cached++;
    /* The server may drop an idle session before the client's cache does. */
    sim_time_t expiry = now + ttl;
    if (c->rcv->idle_timeout > 0 && now + c->rcv->idle_timeout < expiry)
        expiry = now + c->rcv->idle_timeout;
    sim_calendar_schedule(c->cl->cal, &c->ev, expiry);
}

void smtp_request_store_session(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->held;
    if (!c)
        return;
    req->held = NULL;
    conn_cache(c, req, now);
}

void smtp_client_flush_cache(smtp_client *cl, smtp_conn **cache, sim_time_t now)
{
    (void)cl;
    while (*cache)
        conn_close_now(*cache, now);
}

void smtp_client_free(smtp_client *cl, sim_time_t now)
{
    (void)now;
    if (!cl)
        return;
    for (size_t i = 0; i < cl->nall; i++)
        free(cl->all[i]);
    free(cl->all);
    for (size_t i = 0; i < cl->nby_addr; i++)
        free(cl->by_addr[i]);
    free(cl->by_addr);
    free(cl->src_ip);
    free(cl);
}

/* ---- replies and log texts ---- */

static const char *mx_host(const smtp_conn *c) { return c->rcv->cfg->mx[c->mx].host; }
static const char *mx_addr(const smtp_conn *c) { return c->rcv->mx_addr[c->mx]; }

static void relay_of(const smtp_conn *c, char *buf, size_t len)
{
    if (c)
        snprintf(buf, len, "%s[%s]:25", mx_host(c), mx_addr(c));
    else
        snprintf(buf, len, "none");
}

/* The enhanced status code of a reply ("421 4.7.0 ..."), or a default by class. */
static void dsn_of(const char *reply, int code, char *buf, size_t len)
{
    const char *p = reply ? reply : "";
    while (isdigit((unsigned char)*p))
        p++;
    while (*p == ' ' || *p == '-')
        p++;
    size_t n = 0;
    while (p[n] && (isdigit((unsigned char)p[n]) || p[n] == '.'))
        n++;
    if (n >= 5 && p[1] == '.' && n < len) {
        memcpy(buf, p, n);
        buf[n] = 0;
        return;
    }
    snprintf(buf, len, "%d.0.0", code / 100);
}

/* Multi-line replies are logged on one line, as Postfix does. */
static void flatten(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < len; i++)
        out[j++] = (in[i] == '\n' || in[i] == '\r') ? ' ' : in[i];
    out[j] = 0;
}

static void report(smtp_request *req, uint32_t i, smtp_rcpt_status st, sim_time_t when, const char *dsn,
                   const char *text, const char *key)
{
    char relay[160] = "";
    if (req->cl->text)
        relay_of(req->conn, relay, sizeof(relay));
    smtp_outcome o = {.rcpt = i, .status = st, .when = when, .dsn = dsn, .reply = text, .relay = relay,
                      .conn_use = req->conn ? req->conn->uses : 0, .reason = key};
    req->rstate[i] = R_DONE;
    req->ops->outcome(req->ctx, req, &o);
}

/* A server reply to recipients: 5xx bounces them; 4xx defers them at the final server and keeps them
 * for the next MX host otherwise (smtp_trouble.c). Applies to recipients in state `which`. */
static void reject_rcpts(smtp_request *req, uint8_t which, const policy_verdict *v, sim_time_t when,
                         const char *in_reply_to, const char *key, int only)
{
    char text[1024] = "", flat[768], dsn[16];
    /* The text is needed for the log, and as the reason when recipients go on to the next MX host. */
    if (req->cl->text || (v->code < 500 && !req->final)) {
        flatten(v->text, flat, sizeof(flat));
        snprintf(text, sizeof(text), "host %s[%s] said: %s (in reply to %s command)", mx_host(req->conn),
                 mx_addr(req->conn), flat, in_reply_to);
    }
    dsn_of(v->text, v->code, dsn, sizeof(dsn));
    for (uint32_t i = 0; i < req->nrcpt; i++) {
        if (req->rstate[i] != which || (only >= 0 && (uint32_t)only != i))
            continue;
        if (v->code >= 500)
            report(req, i, SMTP_RCPT_BOUNCED, when, dsn, text, key);
        else if (req->final)
            report(req, i, SMTP_RCPT_DEFERRED, when, dsn, text, key);
        else {
            req->rstate[i] = R_UNMARKED; /* kept for the next MX host */
            snprintf(req->reason, sizeof(req->reason), "%s", text);
            req->reason_key = key;
            memcpy(req->dsn_buf, dsn, sizeof(req->dsn_buf));
            req->fail_dsn = req->dsn_buf;
            relay_of(req->conn, req->fail_relay, sizeof(req->fail_relay));
        }
    }
}

static void set_reason(smtp_request *req, const char *dsn, const char *key, const char *fmt, const char *a,
                       const char *b, const char *c)
{
    snprintf(req->reason, sizeof(req->reason), fmt, a, b, c);
    req->reason_key = key;
    req->fail_dsn = dsn;
    relay_of(req->conn, req->fail_relay, sizeof(req->fail_relay));
}

/* ---- the request's life ---- */

static void schedule(smtp_request *req, smtp_state st, sim_time_t at);

/* The server took longer than the client waits: at `at` the client gives up on the session, and the
 * recipients it had not finished are handed on (next MX host) or deferred (final) as a site failure. */
static void timed_out(smtp_request *req, sim_time_t at, const char *what)
{
    set_reason(req, "4.4.2", "timeout", "conversation with %s[%s] timed out while %s", mx_host(req->conn),
               mx_addr(req->conn), what);
    for (uint32_t i = 0; i < req->nrcpt; i++)
        if (req->rstate[i] == R_ACCEPTED)
            req->rstate[i] = R_UNMARKED;
    schedule(req, SMTP_ST_SITEFAIL, at);
}

static void finish(smtp_request *req, sim_time_t now, bool hop_failed)
{
    req->state = SMTP_ST_IDLE;
    req->ops->done(req->ctx, req, now, hop_failed, hop_failed ? req->reason : "");
}

/* No more addresses: recipients still unmarked are deferred with the last site failure. */
static void finish_leftover(smtp_request *req, sim_time_t now)
{
    bool any = false;
    if (!req->fail_relay[0])
        snprintf(req->fail_relay, sizeof(req->fail_relay), "none");
    for (uint32_t i = 0; i < req->nrcpt; i++)
        if (req->rstate[i] != R_DONE) {
            any = true;
            smtp_outcome o = {.rcpt = i, .status = SMTP_RCPT_DEFERRED, .when = now,
                              .dsn = req->fail_dsn ? req->fail_dsn : "4.4.1", .reply = req->reason,
                              .relay = req->fail_relay, .conn_use = 1,
                              .reason = req->reason_key ? req->reason_key : "connect failed"};
            req->rstate[i] = R_DONE;
            req->ops->outcome(req->ctx, req, &o);
        }
    finish(req, now, any && !req->completed_session);
}

static void schedule(smtp_request *req, smtp_state st, sim_time_t at)
{
    req->state = st;
    sim_calendar_schedule(req->cl->cal, &req->ev, at);
}

_Static_assert(RECEIVER_MX_MAX <= UINT8_MAX, "smtp_request keeps MX indices and counts in bytes");

/* Sorts the receiver's MX hosts by preference and shuffles equal ones (smtp_randomize_addresses). */
static void build_order(smtp_request *req)
{
    const receiver_config *rc = req->rcv->cfg;
    uint32_t n = (uint32_t)rc->nmx; /* at most RECEIVER_MX_MAX: receiver_create checks */
    for (uint32_t i = 0; i < n; i++)
        req->order[i] = (uint8_t)i;
    for (uint32_t i = 1; i < n; i++) /* insertion sort: a handful of hosts */
        for (uint32_t j = i; j > 0 && rc->mx[req->order[j - 1]].preference > rc->mx[req->order[j]].preference; j--) {
            uint8_t t = req->order[j];
            req->order[j] = req->order[j - 1];
            req->order[j - 1] = t;
        }
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1, pref = rc->mx[req->order[i]].preference;
        while (j < n && rc->mx[req->order[j]].preference == pref)
            j++;
        for (uint32_t k = j - 1; k > i; k--) {
            uint32_t m = i + (uint32_t)gsl_rng_uniform_int(req->cl->rng, k - i + 1);
            uint8_t t = req->order[k];
            req->order[k] = req->order[m];
            req->order[m] = t;
        }
        i = j;
    }
    req->norder = (uint8_t)n;
    req->next_addr = 0;
}

/* Takes an idle cached session: an RSET probe first (a round trip and the server's think time), then
 * the pipelined transaction. */
static void reuse(smtp_request *req, smtp_conn *c, sim_time_t now)
{
    cache_unlink(c);
    sim_calendar_cancel(req->cl->cal, &c->ev);
    c->uses++;
    req->conn = c;
    req->sess_count++;
    if (req->p->mx_session_limit > 0 && req->sess_count >= req->p->mx_session_limit)
        req->final = true;
    sim_time_t rset = c->rtt + receiver_think(c->rcv);
    req->t_setup_done = now + rset;
    schedule(req, SMTP_ST_MAIL, now + rset + c->rtt / 2);
}

static void next_addr(smtp_request *req, sim_time_t now)
{
    const mta_transport_params *p = req->p;
    bool left = false;
    for (uint32_t i = 0; i < req->nrcpt; i++)
        left |= req->rstate[i] != R_DONE;
    if (!left) {
        finish(req, now, false);
        return;
    }
    if (req->next_addr >= req->norder || req->addr_count >= p->mx_address_limit ||
        (p->mx_session_limit > 0 && req->sess_count >= p->mx_session_limit)) {
        finish_leftover(req, now);
        return;
    }
    uint32_t mx = req->order[req->next_addr++];
    req->addr_count++;
    req->final = req->next_addr >= req->norder || req->addr_count >= p->mx_address_limit;
    const receiver_mx_config *m = &req->rcv->cfg->mx[mx];
    smtp_conn *idle = req->cache_load ? *addr_slot(req->cl, req->rcv, mx) : NULL;
    if (idle) {
        /* smtp_reuse_addr: an idle session to this very server, cached for any destination. */
        reuse(req, idle, now);
        return;
    }
    sim_time_t rtt = receiver_rtt(req->rcv);
    req->conn = conn_new(req->cl, req->rcv, mx, rtt, now);
    switch (m->state) {
    case RECEIVER_MX_REFUSE:
        req->connect_refused = true;
        schedule(req, SMTP_ST_CONNFAIL, now + rtt);
        break;
    case RECEIVER_MX_TIMEOUT:
        req->connect_refused = false;
        schedule(req, SMTP_ST_CONNFAIL, now + p->connect_timeout);
        break;
    default:
        schedule(req, SMTP_ST_CONNECT, now + rtt + receiver_connect_cost(req->rcv));
    }
}

/* The MX lookup (unless the destination's answer is still cached), then the first address. */
static void lookup_and_connect(smtp_request *req, sim_time_t now)
{
    if (req->dns_expires && *req->dns_expires > now) {
        build_order(req);
        next_addr(req, now);
        return;
    }
    sim_time_t d;
    req->dns_ok = latency_dns_lookup(req->cl->lat, req->cl->rng, &d);
    schedule(req, SMTP_ST_DNS, now + d);
}

void smtp_request_start(smtp_client *cl, smtp_request *req, sim_time_t now)
{
    req->cl = cl;
    sim_event_init(&req->ev, request_event);
    req->t_start = req->t_setup_done = now;
    req->conn = NULL;
    req->held = NULL;
    req->addr_count = req->sess_count = 0;
    req->norder = req->next_addr = 0;
    req->completed_session = false;
    req->accepted = 0;
    req->reason[0] = 0;
    req->reason_key = NULL;
    req->fail_dsn = NULL;
    req->fail_relay[0] = 0;
    memset(req->rstate, R_UNMARKED, req->nrcpt);

    if (req->cache && req->cache_load && *req->cache) {
        /* smtp_reuse_nexthop: a session cached for this destination, before any DNS lookup. */
        req->final = req->rcv->cfg->nmx <= 1;
        reuse(req, *req->cache, now);
        return;
    }
    lookup_and_connect(req, now);
}

/* The server side closes (421 with close, silent close): the session cannot be reused. */
static void drop_conn(smtp_request *req, sim_time_t now)
{
    if (req->conn) {
        conn_close_now(req->conn, now);
        req->conn = NULL;
    }
}

/* A site failure: non-final servers pass the recipients on; the final one defers them. */
static void site_fail(smtp_request *req, sim_time_t now)
{
    drop_conn(req, now);
    if (!req->final) {
        next_addr(req, now);
        return;
    }
    finish_leftover(req, now);
}

/* The status of a site that refused the session: as a 4xx, since the site is retried
 * (smtp_skip_5xx_greeting = yes for the greeting; an EHLO refusal is a site failure too). */
static void site_fail_dsn(smtp_request *req, const policy_verdict *v)
{
    char dsn[16];
    dsn_of(v->text, v->code, dsn, sizeof(dsn));
    if (dsn[0] == '5')
        dsn[0] = '4';
    memcpy(req->dsn_buf, dsn, sizeof(req->dsn_buf));
    req->fail_dsn = req->dsn_buf;
}

static void on_connect(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    policy_verdict v;
    c->ps = receiver_connect(req->rcv, req->cl->src_ip, now, &v);
    sim_time_t d = receiver_think(req->rcv) + v.delay;
    if (v.silent) {
        c->server_closed = true;
        set_reason(req, "4.4.2", "lost connection", "lost connection with %s[%s] while receiving the initial server greeting%s",
                   mx_host(c), mx_addr(c), "");
        schedule(req, SMTP_ST_SITEFAIL, now + c->rtt / 2);
        return;
    }
    if (d > req->p->helo_timeout) {
        timed_out(req, now + req->p->helo_timeout, "receiving the initial server greeting");
        return;
    }
    if (v.code) {
        char flat[768];
        flatten(v.text, flat, sizeof(flat));
        set_reason(req, NULL, v.code == 421 ? "421 greeting" : v.code >= 500 ? "5xx greeting" : "4xx greeting",
                   "host %s[%s] refused to talk to me: %s", mx_host(c), mx_addr(c), flat);
        site_fail_dsn(req, &v);
        schedule(req, SMTP_ST_SITEFAIL, now + d + c->rtt / 2);
        return;
    }
    schedule(req, SMTP_ST_EHLO, now + d + c->rtt);
}

static void on_ehlo(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    policy_verdict v;
    policy_helo(req->rcv->pol, c->ps, now, &v);
    sim_time_t d = receiver_think(req->rcv) + v.delay;
    if (d > req->p->helo_timeout) {
        timed_out(req, now + req->p->helo_timeout, "performing the EHLO handshake");
        return;
    }
    if (v.code || v.silent) {
        char flat[768];
        flatten(v.text ? v.text : "", flat, sizeof(flat));
        if (v.silent)
            set_reason(req, "4.4.2", "lost connection", "lost connection with %s[%s] while performing the EHLO handshake%s",
                       mx_host(c), mx_addr(c), "");
        else {
            set_reason(req, NULL, v.code == 421 ? "421 ehlo" : "4xx ehlo", "host %s[%s] said: %s (in reply to EHLO command)",
                       mx_host(c), mx_addr(c), flat);
            site_fail_dsn(req, &v);
        }
        schedule(req, SMTP_ST_SITEFAIL, now + d + c->rtt / 2);
        return;
    }
    receiver_count_reply(req->rcv, 250);
    /* A session is established: it counts toward smtp_mx_session_limit, which can make it final. */
    req->sess_count++;
    if (req->p->mx_session_limit > 0 && req->sess_count >= req->p->mx_session_limit)
        req->final = true;
    sim_time_t t = now + d + c->rtt / 2;
    if (req->p->tls && req->cl->lat->tls && req->rcv->cfg->starttls) {
        c->tls = true;
        receiver_count_reply(req->rcv, 220);
        receiver_count_reply(req->rcv, 250);
        t += c->rtt; /* STARTTLS and its 220 */
        sim_time_t cpu = latency_draw(&req->cl->lat->tls_cpu, req->cl->rng);
        if (req->cl->cpu)
            t = latency_cpu_acquire(req->cl->cpu, req->cl->lat, req->cl->rng, t, cpu);
        else
            t += cpu;
        t += (sim_time_t)req->cl->lat->tls_round_trips * c->rtt + c->rtt; /* handshake, EHLO again */
    }
    req->t_setup_done = t;
    schedule(req, SMTP_ST_MAIL, t + c->rtt / 2);
}

/* MAIL, RCPT... and DATA arrive together (PIPELINING); the server answers each in turn. */
static void on_mail(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    receiver *r = req->rcv;
    policy_verdict v;
    receiver_mail(r, c->ps, now, req->sender, &v);
    if (v.silent) {
        /* The server dropped the session (a per-session limit, as Yahoo does). On a reused connection the
         * client notices at its RSET probe and simply connects anew; on a fresh one it lost the session. */
        c->server_closed = true;
        sim_time_t half = c->rtt / 2;
        if (c->uses > 1) {
            drop_conn(req, now);
            schedule(req, SMTP_ST_RESTART, now + half);
            return;
        }
        set_reason(req, "4.4.2", "lost connection", "lost connection with %s[%s] while sending MAIL FROM%s",
                   r->cfg->mx[c->mx].host, r->mx_addr[c->mx], "");
        drop_conn(req, now);
        schedule(req, SMTP_ST_SITEFAIL, now + half);
        return;
    }
    sim_time_t d = receiver_think(r) + v.delay;
    if (d > req->p->mail_timeout) {
        timed_out(req, now + req->p->mail_timeout, "sending MAIL FROM");
        return;
    }
    if (v.code) {
        sim_time_t when = now + d + c->rtt / 2;
        reject_rcpts(req, R_UNMARKED, &v, when, "MAIL FROM", v.code == 421 ? "421 mail" : "4xx mail", -1);
        if (v.close)
            c->server_closed = true;
        schedule(req, SMTP_ST_DONE, when);
        return;
    }
    receiver_count_reply(r, 250);
    req->accepted = 0;
    bool closed = false;
    for (uint32_t i = 0; i < req->nrcpt && !closed; i++) {
        if (req->rstate[i] != R_UNMARKED)
            continue;
        char addr[320];
        req->ops->rcpt_address(req->ctx, req, i, addr, sizeof(addr));
        policy_verdict vr;
        policy_rcpt(r->pol, c->ps, now, addr, &vr);
        d += vr.delay;
        if (vr.code || vr.silent) {
            if (vr.silent)
                vr = (policy_verdict){.code = 421, .text = "421 4.4.2 connection dropped", .close = true};
            reject_rcpts(req, R_UNMARKED, &vr, now + d + c->rtt / 2, "RCPT TO", vr.code == 421 ? "421 rcpt" : "4xx rcpt",
                         (int)i);
            if (vr.close) {
                closed = true;
                c->server_closed = true;
            }
        } else {
            receiver_count_reply(r, 250);
            req->rstate[i] = R_ACCEPTED;
            req->accepted++;
        }
    }
    if (d > req->p->rcpt_timeout) {
        timed_out(req, now + req->p->rcpt_timeout, "sending RCPT TO");
        return;
    }
    if (req->accepted == 0 || closed) {
        /* Nothing to send (or the server hung up): the transaction ends here. */
        for (uint32_t i = 0; i < req->nrcpt; i++)
            if (req->rstate[i] == R_ACCEPTED)
                req->rstate[i] = R_UNMARKED;
        schedule(req, SMTP_ST_DONE, now + d + c->rtt / 2);
        return;
    }
    policy_verdict vd;
    policy_data(r->pol, c->ps, now, &vd);
    d += vd.delay;
    if (vd.delay > req->p->data_init_timeout) {
        timed_out(req, now + req->p->data_init_timeout, "sending DATA command");
        return;
    }
    if (vd.code || vd.silent) {
        if (vd.silent)
            vd = (policy_verdict){.code = 421, .text = "421 4.4.2 connection dropped", .close = true};
        reject_rcpts(req, R_ACCEPTED, &vd, now + d + c->rtt / 2, "DATA", "4xx data", -1);
        if (vd.close)
            c->server_closed = true;
        schedule(req, SMTP_ST_DONE, now + d + c->rtt / 2);
        return;
    }
    receiver_count_reply(r, 354);
    double bw = r->cfg->bandwidth > 0 ? r->cfg->bandwidth : 12.5e6;
    sim_time_t xfer = sim_time_from_sec((double)req->size / bw);
    if (xfer > req->p->data_xfer_timeout) { /* a link too slow for the message (per write, in Postfix) */
        timed_out(req, now + d + c->rtt + req->p->data_xfer_timeout, "sending message body");
        return;
    }
    schedule(req, SMTP_ST_EOD, now + d + c->rtt + xfer);
}

static void on_eod(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    receiver *r = req->rcv;
    policy_verdict v;
    policy_eod(r->pol, c->ps, now, req->size, &v);
    sim_time_t reply_at;
    if (v.code || v.silent) {
        if (v.silent)
            v = (policy_verdict){.code = 421, .text = "421 4.4.2 connection dropped", .close = true};
        reply_at = now + receiver_think(r) + v.delay + c->rtt / 2;
        reject_rcpts(req, R_ACCEPTED, &v, reply_at, "end of DATA", v.code == 421 ? "421 data" : "4xx data", -1);
        if (v.close)
            c->server_closed = true;
        schedule(req, SMTP_ST_DONE, reply_at);
        return;
    }
    sim_time_t processed = receiver_process(r, now);
    reply_at = processed + receiver_think(r) + v.delay + c->rtt / 2;
    if (reply_at - now > req->p->data_done_timeout) {
        timed_out(req, now + req->p->data_done_timeout, "sending end of data -- message may be sent more than once");
        return;
    }
    receiver_count_reply(r, 250);
    char text[96] = "";
    /* The receiver's own queue id: its count of accepted messages, scrambled to look like one. */
    uint64_t q = ++r->queued * 0x9E3779B97F4A7C15ull;
    if (req->cl->text)
        snprintf(text, sizeof(text), "250 2.0.0 Ok: queued as %010llX",
                 (unsigned long long)((q ^ (q >> 29)) & 0xFFFFFFFFFFull));
    for (uint32_t i = 0; i < req->nrcpt; i++)
        if (req->rstate[i] == R_ACCEPTED)
            report(req, i, SMTP_RCPT_DELIVERED, reply_at, "2.0.0", text, "delivered");
    req->completed_session = true;
    schedule(req, SMTP_ST_DONE, reply_at);
}

/* The transaction is over for the client: keep the session for later or say goodbye. */
static void on_done(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    if (c->server_closed) {
        drop_conn(req, now);
    } else {
        receiver_reset(req->rcv, c->ps, now);
        const mta_transport_params *p = req->p;
        /* Postfix cannot hand a TLS session to another smtp(8) process without tlsproxy: with
         * smtp_tls_connection_reuse = no (the default) a session that did STARTTLS is not cached
         * (smtp_proto.c: DONT_CACHE_THIS_SESSION). */
        bool reusable = req->cache && req->cache_store && (!c->tls || p->tls_connection_reuse) &&
                        (p->connection_reuse_count_limit == 0 || c->uses < p->connection_reuse_count_limit) &&
                        now - c->started < p->connection_reuse_time_limit;
        if (reusable && req->store_later)
            req->held = c;
        else if (reusable)
            conn_cache(c, req, now);
        else
            conn_quit(c, now);
    }
    req->conn = NULL;
    next_addr(req, now);
}

static void on_dns(smtp_request *req, sim_time_t now)
{
    if (!req->dns_ok) {
        const char *host = req->nexthop ? req->nexthop : "?";
        set_reason(req, "4.4.3", "dns tempfail",
                   "Host or domain name not found. Name service error for name=%s type=MX: Host not found, try again%s%s",
                   host, "", "");
        finish_leftover(req, now);
        return;
    }
    if (req->dns_expires && req->cl->lat->dns_ttl > 0)
        *req->dns_expires = now + req->cl->lat->dns_ttl;
    build_order(req);
    next_addr(req, now);
}

static void on_connfail(smtp_request *req, sim_time_t now)
{
    smtp_conn *c = req->conn;
    set_reason(req, "4.4.1", req->connect_refused ? "connect refused" : "connect timeout",
               "connect to %s[%s]:25: %s", mx_host(c), mx_addr(c),
               req->connect_refused ? "Connection refused" : "Connection timed out");
    snprintf(req->fail_relay, sizeof(req->fail_relay), "none");
    conn_release(c);
    req->conn = NULL;
    next_addr(req, now);
}

static void on_restart(smtp_request *req, sim_time_t now)
{
    /* A cached session turned out dead: look up and connect as if none had been cached. */
    req->sess_count = 0;
    lookup_and_connect(req, now);
}

/* What the request does when its next event fires, by the state it waits in. */
static void (*const on_state[])(smtp_request *, sim_time_t) = {
    [SMTP_ST_DNS] = on_dns,     [SMTP_ST_CONNFAIL] = on_connfail, [SMTP_ST_CONNECT] = on_connect,
    [SMTP_ST_EHLO] = on_ehlo,   [SMTP_ST_MAIL] = on_mail,         [SMTP_ST_EOD] = on_eod,
    [SMTP_ST_DONE] = on_done,   [SMTP_ST_SITEFAIL] = site_fail,   [SMTP_ST_RESTART] = on_restart,
};

static void request_event(sim_event *ev, sim_time_t now)
{
    smtp_request *req = SIM_CONTAINER_OF(ev, smtp_request, ev);
    size_t st = (size_t)req->state;
    if (st >= sizeof(on_state) / sizeof(on_state[0]) || !on_state[st])
        sim_panic("smtp_client: request_event", "event in state %d", (int)req->state);
    on_state[st](req, now);
}
