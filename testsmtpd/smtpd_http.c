/*
 * smtpd_http - the control and metrics endpoint (smtpd_http.h).
 *
 * The formatters are separate from the handlers and take plain figures, so the metrics text of a known
 * state is unit-tested without a server. Refusals of a connection are split by the rule that refused
 * it: the rules that act only at CONNECT (concurrency, connection rate, penalty box) are exact from the
 * policy's counters; --max-sessions is the server's own; "other" is what remains (a forced reply, a
 * random fault at connect). testsmtpd_rejections_total counts every decisive reject by rule kind,
 * whatever the stage.
 */
#include "testsmtpd/smtpd_http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "scenarios/scenario.h"

/* A policy list of 5900 rules (260 KB) is parsed and put in place in about 50 ms, on the event loop the
 * SMTP sessions share: the bound keeps that short. */
#define SMTPD_HTTP_BODY_MAX (256 * 1024)
/* The request line and headers together: a control request needs a few hundred bytes; without a
 * bound libevent buffers whatever a client sends (200 MB of headers were). */
#define SMTPD_HTTP_HEADERS_MAX (16 * 1024)

struct smtpd_http {
    struct evhttp *http;
    smtpd_server *srv;
};

/* The rules that act only at CONNECT: their reject counts are connection refusals. */
static const policy_rule_kind smtpd_http_connect_rules[] = {
    POLICY_RULE_CONCURRENCY_PER_IP, POLICY_RULE_CONCURRENCY_TOTAL, POLICY_RULE_CONNECTION_RATE_PER_IP,
    POLICY_RULE_PENALTY_BOX};
#define SMTPD_HTTP_NCONNECT (sizeof(smtpd_http_connect_rules) / sizeof(smtpd_http_connect_rules[0]))

static uint64_t smtpd_http_refused_other(const smtpd_server_stats *st)
{
    uint64_t known = st->over_max_sessions;
    for (size_t k = 0; k < SMTPD_HTTP_NCONNECT; k++)
        known += st->p.refused_by_rule[smtpd_http_connect_rules[k]];
    return st->p.connections_refused > known ? st->p.connections_refused - known : 0;
}

#define SMTPD_HTTP_CODES (sizeof(((policy_stats *)0)->replies_by_code) / sizeof(uint64_t))

int smtpd_http_metrics(struct evbuffer *out, const smtpd_http_receiver *r, size_t n)
{
    int rc = 0;
#define HDR(name, type, help) rc |= evbuffer_add_printf(out, "# HELP " name " " help "\n# TYPE " name " " type "\n") < 0
#define ONE(metric, field)                                                                                        \
    for (size_t i = 0; i < n; i++)                                                                                \
        rc |= evbuffer_add_printf(out, metric "{receiver=\"%s\"} %" PRIu64 "\n", r[i].name, (uint64_t)(field)) < 0
    HDR("testsmtpd_connections_total", "counter", "Connections accepted by a receiver's listeners.");
    ONE("testsmtpd_connections_total", r[i].st.p.connections);
    HDR("testsmtpd_connections_refused_total", "counter",
        "Connections refused at connect (instead of the greeting), by the rule that refused them.");
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < SMTPD_HTTP_NCONNECT; k++)
            rc |= evbuffer_add_printf(out, "testsmtpd_connections_refused_total{receiver=\"%s\",rule=\"%s\"} %" PRIu64 "\n",
                                      r[i].name, policy_rule_kind_name(smtpd_http_connect_rules[k]),
                                      r[i].st.p.refused_by_rule[smtpd_http_connect_rules[k]]) < 0;
        rc |= evbuffer_add_printf(out, "testsmtpd_connections_refused_total{receiver=\"%s\",rule=\"max_sessions\"} %" PRIu64 "\n",
                                  r[i].name, r[i].st.over_max_sessions) < 0;
        rc |= evbuffer_add_printf(out, "testsmtpd_connections_refused_total{receiver=\"%s\",rule=\"other\"} %" PRIu64 "\n",
                                  r[i].name, smtpd_http_refused_other(&r[i].st)) < 0;
    }
    HDR("testsmtpd_rejections_total", "counter", "Decisive rejects by policy rule kind, at any stage.");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < POLICY_RULE_COUNT; k++)
            rc |= evbuffer_add_printf(out, "testsmtpd_rejections_total{receiver=\"%s\",rule=\"%s\"} %" PRIu64 "\n",
                                      r[i].name, policy_rule_kind_name((policy_rule_kind)k),
                                      r[i].st.p.refused_by_rule[k]) < 0;
    HDR("testsmtpd_sessions_open", "gauge",
        "Sessions open now: busy in a transaction or its set-up, idle between transactions.");
    for (size_t i = 0; i < n; i++) {
        rc |= evbuffer_add_printf(out, "testsmtpd_sessions_open{receiver=\"%s\",state=\"busy\"} %" PRIu64 "\n",
                                  r[i].name, r[i].st.p.open_busy) < 0;
        rc |= evbuffer_add_printf(out, "testsmtpd_sessions_open{receiver=\"%s\",state=\"idle\"} %" PRIu64 "\n",
                                  r[i].name, r[i].st.p.open_idle) < 0;
    }
    HDR("testsmtpd_messages_accepted_total", "counter", "Messages accepted at end of data (250).");
    ONE("testsmtpd_messages_accepted_total", r[i].st.p.messages_accepted);
    HDR("testsmtpd_recipients_accepted_total", "counter", "Recipients of the accepted messages.");
    ONE("testsmtpd_recipients_accepted_total", r[i].st.p.recipients_accepted);
    HDR("testsmtpd_penalty_boxes_total", "counter", "Times a client IP was put in the penalty box.");
    ONE("testsmtpd_penalty_boxes_total", r[i].st.p.penalty_boxes);
    HDR("testsmtpd_replies_total", "counter", "Replies sent, by reply code.");
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < SMTPD_HTTP_CODES; c++)
            if (r[i].st.p.replies_by_code[c])
                rc |= evbuffer_add_printf(out, "testsmtpd_replies_total{receiver=\"%s\",code=\"%zu\"} %" PRIu64 "\n",
                                          r[i].name, c, r[i].st.p.replies_by_code[c]) < 0;
#undef HDR
#undef ONE
    return rc ? -ENOMEM : 0;
}

char *smtpd_http_stats(const smtpd_http_receiver *r, size_t n)
{
    json_t *root = json_object(), *rcvs = json_object();
    bool ok = root && rcvs && json_object_set_new(root, "receivers", rcvs) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        const smtpd_server_stats *st = &r[i].st;
        json_t *o = json_object(), *by = json_object(), *sess = json_object(), *rep = json_object();
        ok = o && by && sess && rep;
        for (int k = 0; ok && k < POLICY_RULE_COUNT; k++)
            ok = json_object_set_new(by, policy_rule_kind_name((policy_rule_kind)k),
                                     json_integer((json_int_t)st->p.refused_by_rule[k])) == 0;
        ok = ok && json_object_set_new(by, "max_sessions", json_integer((json_int_t)st->over_max_sessions)) == 0;
        ok = ok && json_object_set_new(sess, "busy", json_integer((json_int_t)st->p.open_busy)) == 0 &&
             json_object_set_new(sess, "idle", json_integer((json_int_t)st->p.open_idle)) == 0;
        for (size_t c = 0; ok && c < SMTPD_HTTP_CODES; c++) {
            if (!st->p.replies_by_code[c])
                continue;
            char code[16];
            snprintf(code, sizeof(code), "%zu", c);
            ok = json_object_set_new(rep, code, json_integer((json_int_t)st->p.replies_by_code[c])) == 0;
        }
        ok = ok && json_object_set_new(o, "connections", json_integer((json_int_t)st->p.connections)) == 0 &&
             json_object_set_new(o, "refused", json_integer((json_int_t)st->p.connections_refused)) == 0 &&
             json_object_set_new(o, "refused_by_rule", by) == 0 && (by = NULL, true) &&
             json_object_set_new(o, "sessions", sess) == 0 && (sess = NULL, true) &&
             json_object_set_new(o, "messages", json_integer((json_int_t)st->p.messages_accepted)) == 0 &&
             json_object_set_new(o, "recipients", json_integer((json_int_t)st->p.recipients_accepted)) == 0 &&
             json_object_set_new(o, "penalty_boxes", json_integer((json_int_t)st->p.penalty_boxes)) == 0 &&
             json_object_set_new(o, "replies", rep) == 0 && (rep = NULL, true) &&
             json_object_set_new(rcvs, r[i].name, o) == 0 && (o = NULL, true);
        json_decref(o);
        json_decref(by);
        json_decref(sess);
        json_decref(rep);
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (!ok && !root)
        json_decref(rcvs);
    json_decref(root);
    return text;
}

/* ---- handlers ---- */

static void smtpd_http_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                             struct evbuffer *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, reason, body);
}

static void smtpd_http_text(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", msg);
    smtpd_http_reply(req, code, reason, "text/plain; charset=utf-8", b);
    if (b)
        evbuffer_free(b);
}

static smtpd_http_receiver *smtpd_http_collect(smtpd_server *srv, size_t *n)
{
    *n = smtpd_server_nreceivers(srv);
    smtpd_http_receiver *r = calloc(*n ? *n : 1, sizeof(*r));
    for (size_t i = 0; r && i < *n; i++) {
        r[i].name = smtpd_server_receiver_name(srv, i);
        smtpd_server_stats_get(srv, i, &r[i].st);
    }
    return r;
}

/* The receiver named by ?receiver=, or -1 after answering 400. */
static int smtpd_http_receiver_arg(smtpd_http *h, struct evhttp_request *req, struct evkeyvalq *q)
{
    const char *name = evhttp_find_header(q, "receiver");
    if (!name) {
        smtpd_http_text(req, 400, "Bad Request", "missing ?receiver=NAME");
        return -1;
    }
    int i = smtpd_server_find_receiver(h->srv, name);
    if (i < 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "unknown receiver '%.200s'", name);
        smtpd_http_text(req, 400, "Bad Request", msg);
    }
    return i;
}

/* The request body as a NUL-terminated string (malloc'd). */
static char *smtpd_http_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    char *t = malloc(*len + 1);
    if (!t)
        return NULL;
    evbuffer_copyout(in, t, *len);
    t[*len] = 0;
    return t;
}

static void smtpd_http_force(smtpd_http *h, struct evhttp_request *req, struct evkeyvalq *q)
{
    int i = smtpd_http_receiver_arg(h, req, q);
    if (i < 0)
        return;
    const char *ns = evhttp_find_header(q, "n");
    uint64_t n = 1;
    if (ns) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(ns, &end, 10);
        if (errno || *end || !*ns || ns[0] == '-') {
            smtpd_http_text(req, 400, "Bad Request", "n: expected a count like 3");
            return;
        }
        n = v;
    }
    size_t len;
    char *body = smtpd_http_body(req, &len);
    if (!body) {
        smtpd_http_text(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
        body[--len] = 0;
    if (strlen(body) != len || smtpd_server_force(h->srv, (size_t)i, n, body) < 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "expected a reply line like \"421 4.7.0 Try again later\" as the body, got '%.500s'",
                 body);
        smtpd_http_text(req, 400, "Bad Request", msg);
    } else {
        smtpd_http_text(req, 200, "OK", "ok");
    }
    free(body);
}

static void smtpd_http_policy(smtpd_http *h, struct evhttp_request *req, struct evkeyvalq *q)
{
    int i = smtpd_http_receiver_arg(h, req, q);
    if (i < 0)
        return;
    size_t len;
    char *body = smtpd_http_body(req, &len);
    if (!body) {
        smtpd_http_text(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    policy_config pc;
    scenario_error err;
    char why[512];
    if (scenario_parse_policy(body, len, "PUT /policy", smtpd_server_receiver_preset(h->srv, (size_t)i),
                              smtpd_server_receiver_hostname(h->srv, (size_t)i), &pc, &err) < 0) {
        smtpd_http_text(req, 400, "Bad Request", err.message);
    } else if (smtpd_server_set_policy(h->srv, (size_t)i, &pc, why, sizeof(why)) < 0) {
        smtpd_http_text(req, 400, "Bad Request", why);
    } else {
        smtpd_http_text(req, 200, "OK", "ok");
    }
    scenario_policy_free(&pc); /* emptied by a failed parse */
    free(body);
}

static void smtpd_http_handle(struct evhttp_request *req, void *arg)
{
    smtpd_http *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq q = {0};
    TAILQ_INIT(&q);
    if (query && evhttp_parse_query_str(query, &q) < 0) {
        smtpd_http_text(req, 400, "Bad Request", "cannot parse the query string");
        return;
    }
    if (!path)
        path = "/";
    if (strcmp(path, "/metrics") == 0 || strcmp(path, "/stats") == 0) {
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
            smtpd_http_text(req, 405, "Method Not Allowed", "use GET");
        } else {
            size_t n;
            smtpd_http_receiver *r = smtpd_http_collect(h->srv, &n);
            struct evbuffer *b = evbuffer_new();
            bool metrics = path[1] == 'm';
            char *json = NULL;
            bool ok = r && b &&
                      (metrics ? smtpd_http_metrics(b, r, n) == 0
                               : ((json = smtpd_http_stats(r, n)) && evbuffer_add_printf(b, "%s\n", json) >= 0));
            if (ok)
                smtpd_http_reply(req, 200, "OK",
                                 metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json", b);
            else
                smtpd_http_text(req, 500, "Internal Server Error", "out of memory");
            free(json);
            if (b)
                evbuffer_free(b);
            free(r);
        }
    } else if (strcmp(path, "/force") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            smtpd_http_text(req, 405, "Method Not Allowed", "use POST");
        else
            smtpd_http_force(h, req, &q);
    } else if (strcmp(path, "/policy") == 0) {
        if (cmd != EVHTTP_REQ_PUT)
            smtpd_http_text(req, 405, "Method Not Allowed", "use PUT");
        else
            smtpd_http_policy(h, req, &q);
    } else {
        smtpd_http_text(req, 404, "Not Found", "endpoints: GET /metrics, GET /stats, POST /force, PUT /policy");
    }
    evhttp_clear_headers(&q);
}

smtpd_http *smtpd_http_create(struct event_base *base, smtpd_server *srv, const char *addr, bool allow_remote,
                              char *bound, size_t boundlen, int *rc, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    *rc = -EINVAL;
    if (smtpd_addr_parse(addr, &ss, &len) < 0) {
        snprintf(err, errlen, "--http %s: expected ADDRESS:PORT like 127.0.0.1:8025", addr);
        return NULL;
    }
    if (!allow_remote && !smtpd_addr_is_loopback((struct sockaddr *)&ss)) {
        snprintf(err, errlen, "--http %s: not a loopback address (--allow-remote listens elsewhere)", addr);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        *rc = -errno;
        snprintf(err, errlen, "--http %s: cannot listen: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    smtpd_addr_format((struct sockaddr *)&ss, bound, boundlen);
    smtpd_http *h = calloc(1, sizeof(*h));
    if (!h || !(h->http = evhttp_new(base)) || !evhttp_accept_socket_with_handle(h->http, fd)) {
        *rc = -ENOMEM;
        snprintf(err, errlen, "--http %s: out of memory", addr);
        if (h && h->http)
            evhttp_free(h->http);
        free(h);
        close(fd);
        return NULL;
    }
    h->srv = srv;
    evhttp_set_max_body_size(h->http, SMTPD_HTTP_BODY_MAX);
    evhttp_set_max_headers_size(h->http, SMTPD_HTTP_HEADERS_MAX);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    evhttp_set_timeout(h->http, 30);
    evhttp_set_gencb(h->http, smtpd_http_handle, h);
    *rc = 0;
    return h;
}

void smtpd_http_free(smtpd_http *h)
{
    if (!h)
        return;
    evhttp_free(h->http);
    free(h);
}
