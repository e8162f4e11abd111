/*
 * Receiver policies on real sockets: testsmtpd enforcing models/policy against real TCP clients.
 *
 * The policy engine has its own unit tests against simulated time; these check what only a live
 * server can get wrong: that the peer address is the source identity (a client bound to 127.0.0.2 is
 * another sender), that idle connections count because the server keeps their sessions open, that
 * a refused connection really gets the configured 421 and then EOF, that rate windows and the penalty
 * box run on the monotonic clock, that the HTTP control endpoint (force, policy replacement) and
 * SIGHUP change what new connections get, and that /metrics and /stats count what the test did.
 *
 * Each test starts its own server on an ephemeral port with a scenario it writes (receiver "r",
 * domain example.test) and stops it in its teardown, whatever happened. Time windows are short
 * (1-2 s) and every wait is bounded, so the whole file runs in well under 30 s.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/integration/smtpd_live.h"

#define RCPT "user@example.test"

typedef struct fixture {
    smtpd_live_server srv;
    char scenario[300];
    const smtpd_live_listener *smtp;
    smtpd_live_conn conns[16];
    size_t nconns;
} fixture;

/* The receivers-only scenario file with policy (YAML list items, indented for `policy:`). */
static void write_scenario(fixture *f, const char *policy)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "receivers:\n"
             "  - name: r\n"
             "    domains: [example.test]\n"
             "    mx: [ { host: mx.test, listen: [\"127.0.0.1:0\"] } ]\n"
             "%s%s",
             policy && *policy ? "    policy:\n" : "", policy ? policy : "");
    assert_int_equal(smtpd_live_write_file(&f->srv, "scenario.yaml", text, f->scenario, sizeof(f->scenario)), 0);
}

static void start(fixture *f, const char *policy)
{
    write_scenario(f, policy);
    const char *args[] = {"--scenario", f->scenario, "--http", "127.0.0.1:0", "--no-tls", NULL};
    char err[512];
    if (!smtpd_live_start(&f->srv, args, err, sizeof(err)))
        fail_msg("%s", err);
    f->smtp = smtpd_live_find(&f->srv, "r");
    assert_non_null(f->smtp);
    assert_true(f->srv.http_port > 0);
}

/* A new connection from src, kept by the fixture (closed in teardown). */
static smtpd_live_conn *conn_new(fixture *f, const char *src)
{
    assert_true(f->nconns < sizeof(f->conns) / sizeof(f->conns[0]));
    smtpd_live_conn *c = &f->conns[f->nconns];
    int e = smtpd_live_connect(c, src, f->smtp->addr, f->smtp->port);
    if (e < 0)
        fail_msg("connect from %s: %s", src, strerror(-e));
    f->nconns++;
    return c;
}

/* A connection from src that must be greeted with 220. */
static smtpd_live_conn *accepted(fixture *f, const char *src)
{
    smtpd_live_conn *c = conn_new(f, src);
    char text[1024];
    int code = smtpd_live_read_reply(c, text, sizeof(text));
    if (code != 220)
        fail_msg("connection from %s: expected the 220 greeting, got %d '%s'", src, code, text);
    return c;
}

/* A connection from src, greeted, that completed one transaction and is now idle. */
static smtpd_live_conn *idle_session(fixture *f, const char *src)
{
    smtpd_live_conn *c = accepted(f, src);
    char text[1024];
    if (smtpd_live_transaction(c, RCPT, text, sizeof(text)) != 0)
        fail_msg("transaction from %s: unexpected reply '%s'", src, text);
    return c;
}

/* A connection from src that gets exactly `reply` instead of the greeting, then EOF. */
static void refused(fixture *f, const char *src, const char *reply)
{
    smtpd_live_conn *c = conn_new(f, src);
    char text[1024];
    int code = smtpd_live_read_reply(c, text, sizeof(text));
    if (code < 0 || strcmp(text, reply) != 0)
        fail_msg("connection from %s: expected '%s', got %d '%s'", src, reply, code, text);
    if (!smtpd_live_expect_eof(c, 5000))
        fail_msg("connection from %s: not closed after '%s'", src, reply);
    smtpd_live_close(c);
}

/* QUIT, 221, and the server's close: the session is over on both sides. */
static void quit(smtpd_live_conn *c)
{
    char text[1024];
    assert_int_equal(smtpd_live_cmd(c, "QUIT", text, sizeof(text)), 221);
    assert_true(smtpd_live_expect_eof(c, 5000));
    smtpd_live_close(c);
}

static double metric(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double metric(fixture *f, const char *fmt, ...)
{
    static char body[1 << 17];
    char sample[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sample, sizeof(sample), fmt, ap);
    va_end(ap);
    assert_int_equal(smtpd_live_http(&f->srv, "GET", "/metrics", NULL, body, sizeof(body)), 200);
    double v = smtpd_live_metric(body, sample);
    if (v < 0)
        fail_msg("/metrics has no sample %s:\n%s", sample, body);
    return v;
}

/* /stats as JSON: the object of receiver r. The caller json_decref()s root. */
static json_t *stats(fixture *f, json_t **root)
{
    static char body[1 << 17];
    assert_int_equal(smtpd_live_http(&f->srv, "GET", "/stats", NULL, body, sizeof(body)), 200);
    json_error_t err;
    *root = json_loads(body, 0, &err);
    if (!*root)
        fail_msg("/stats is not JSON (%s): %s", err.text, body);
    json_t *r = json_object_get(json_object_get(*root, "receivers"), "r");
    if (!json_is_object(r))
        fail_msg("/stats has no receivers.r: %s", body);
    return r;
}

static json_int_t jint(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (!json_is_integer(v))
        fail_msg("/stats: %s%s%s is not an integer", a, b ? "." : "", b ? b : "");
    return json_integer_value(v);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || smtpd_live_mkdir(&f->srv) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < f->nconns; i++)
        smtpd_live_close(&f->conns[i]);
    int rc = smtpd_live_stop(&f->srv);
    smtpd_live_rmdir(&f->srv);
    free(f);
    if (rc > 0) {
        fprintf(stderr, "testsmtpd did not stop cleanly on SIGTERM (exit %d)\n", rc);
        return -1;
    }
    return 0;
}

/*
 * Orange's rule: 3 per IP, idle (cached) connections counted. Three sessions that delivered a
 * message and stay open fill the cap; the 4th from the same IP gets the configured 421 and EOF;
 * another IP is not affected; closing one lets the next in. Then the counters must say exactly that.
 */
static void test_cap_per_ip_counts_idle(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: concurrency_per_ip, limit: 3, count_idle: true,\n"
             "          reply: \"421 4.7.0 Too many connections, slow down\" }\n");
    smtpd_live_conn *a = idle_session(f, "127.0.0.1");
    idle_session(f, "127.0.0.1");
    idle_session(f, "127.0.0.1");
    refused(f, "127.0.0.1", "421 4.7.0 Too many connections, slow down");
    accepted(f, "127.0.0.2");
    quit(a);
    accepted(f, "127.0.0.1");

    /* 6 connections: 3 delivered and idle (one then quit), 1 refused, 2 greeted and busy. */
    assert_int_equal(metric(f, "testsmtpd_connections_total{receiver=\"r\"}"), 6);
    assert_int_equal(metric(f, "testsmtpd_connections_refused_total{receiver=\"r\",rule=\"concurrency_per_ip\"}"), 1);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 3);
    assert_int_equal(metric(f, "testsmtpd_recipients_accepted_total{receiver=\"r\"}"), 3);
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"421\"}"), 1);
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"221\"}"), 1);
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"220\"}"), 5);
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"354\"}"), 3);
    assert_int_equal(metric(f, "testsmtpd_sessions_open{receiver=\"r\",state=\"idle\"}"), 2);
    assert_int_equal(metric(f, "testsmtpd_sessions_open{receiver=\"r\",state=\"busy\"}"), 2);

    json_t *root;
    json_t *r = stats(f, &root);
    assert_int_equal(jint(r, "connections", NULL), 6);
    assert_int_equal(jint(r, "refused", NULL), 1);
    assert_int_equal(jint(r, "refused_by_rule", "concurrency_per_ip"), 1);
    assert_int_equal(jint(r, "sessions", "busy"), 2);
    assert_int_equal(jint(r, "sessions", "idle"), 2);
    assert_int_equal(jint(r, "messages", NULL), 3);
    assert_int_equal(jint(r, "recipients", NULL), 3);
    assert_int_equal(jint(r, "replies", "421"), 1);
    assert_int_equal(jint(r, "replies", "220"), 5);
    json_decref(root);

    /* The event log names the rule that refused (read after a clean stop: it is complete then). */
    assert_int_equal(smtpd_live_stop(&f->srv), 0);
    const char *refusal[] = {"\"reply\"", "421 4.7.0 Too many connections", "concurrency_per_ip", NULL};
    assert_int_equal(smtpd_live_count_events(&f->srv, refusal), 1);
    const char *connects[] = {"\"connect\"", "\"receiver\"", NULL};
    assert_int_equal(smtpd_live_count_events(&f->srv, connects), 6);
    const char *messages[] = {"\"message\"", "\"sha256\"", NULL};
    assert_int_equal(smtpd_live_count_events(&f->srv, messages), 3);
}

/*
 * count_idle: false counts only sessions with a transaction (or its set-up) in progress: five open
 * sessions, three of them idle, against a limit of 2.
 */
static void test_cap_without_idle(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: concurrency_per_ip, limit: 2, count_idle: false, reply: \"421 4.7.0 busy\" }\n");
    idle_session(f, "127.0.0.1");
    idle_session(f, "127.0.0.1");
    idle_session(f, "127.0.0.1");
    accepted(f, "127.0.0.1"); /* busy: greeted, no transaction yet */
    accepted(f, "127.0.0.1");
    refused(f, "127.0.0.1", "421 4.7.0 busy");
    assert_int_equal(metric(f, "testsmtpd_sessions_open{receiver=\"r\",state=\"idle\"}"), 3);
    assert_int_equal(metric(f, "testsmtpd_sessions_open{receiver=\"r\",state=\"busy\"}"), 2);
}

/* A sliding window of 3 connections per 2 s: the 4th is refused, and let in once the window passed. */
static void test_connection_rate_window(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: connection_rate_per_ip, limit: 3/2s, reply: \"421 4.7.0 rate\" }\n");
    for (int i = 0; i < 3; i++)
        quit(accepted(f, "127.0.0.1"));
    int64_t t4 = smtpd_live_now_ms();
    refused(f, "127.0.0.1", "421 4.7.0 rate");
    quit(accepted(f, "127.0.0.2")); /* per IP */
    int64_t left = t4 + 2200 - smtpd_live_now_ms();
    if (left > 0)
        smtpd_live_sleep_ms((int)left);
    quit(accepted(f, "127.0.0.1"));
    assert_int_equal(metric(f, "testsmtpd_connections_refused_total{receiver=\"r\",rule=\"connection_rate_per_ip\"}"),
                     1);
}

/* postgrey with a 1 s delay: the first RCPT and an early retry get 4xx, a retry after the delay 250. */
static void test_greylist_passes_after_delay(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: greylist, delay: 1s, retry_window: 1h, auto_allow: 0 }\n");
    smtpd_live_conn *c = accepted(f, "127.0.0.1");
    char text[1024];
    assert_int_equal(smtpd_live_cmd(c, "EHLO client.test", text, sizeof(text)), 250);
    assert_int_equal(smtpd_live_cmd(c, "MAIL FROM:<sender@client.test>", text, sizeof(text)), 250);
    int64_t first = smtpd_live_now_ms();
    int code = smtpd_live_cmd(c, "RCPT TO:<" RCPT ">", text, sizeof(text));
    if (code / 100 != 4)
        fail_msg("first sight: expected a 4xx, got '%s'", text);
    assert_int_equal(smtpd_live_cmd(c, "RSET", text, sizeof(text)), 250);
    assert_int_equal(smtpd_live_cmd(c, "MAIL FROM:<sender@client.test>", text, sizeof(text)), 250);
    code = smtpd_live_cmd(c, "RCPT TO:<" RCPT ">", text, sizeof(text));
    if (code / 100 != 4)
        fail_msg("early retry: expected a 4xx, got '%s'", text);
    quit(c);

    int64_t left = first + 1200 - smtpd_live_now_ms();
    if (left > 0)
        smtpd_live_sleep_ms((int)left);
    c = accepted(f, "127.0.0.1");
    char bad[1024];
    if (smtpd_live_transaction(c, RCPT, bad, sizeof(bad)) != 0)
        fail_msg("retry after the delay: unexpected '%s'", bad);
    /* Another recipient is a new triplet. */
    assert_int_equal(smtpd_live_cmd(c, "MAIL FROM:<sender@client.test>", text, sizeof(text)), 250);
    code = smtpd_live_cmd(c, "RCPT TO:<other@example.test>", text, sizeof(text));
    if (code / 100 != 4)
        fail_msg("new triplet: expected a 4xx, got '%s'", text);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 1);
}

/*
 * A replay's server: --clock-rate 10 runs the policy's clock ten times faster (a 10 s greylist delay
 * passes in 1 s), and --only-listen with NAME/MXHOST= serves the second MX host alone, not the
 * scenario's own listen address; the ready file names that MX host and the clock.
 */
static void test_clock_rate_and_mx_listen(void **state)
{
    fixture *f = *state;
    const char *text_yaml = "receivers:\n"
                            "  - name: r\n"
                            "    domains: [example.test]\n"
                            "    mx: [ { host: mx.test, listen: [\"127.0.0.1:0\"] }, { host: mx2.test } ]\n"
                            "    policy:\n"
                            "      - { rule: greylist, delay: 10s, retry_window: 1h, auto_allow: 0 }\n";
    assert_int_equal(smtpd_live_write_file(&f->srv, "scenario.yaml", text_yaml, f->scenario, sizeof(f->scenario)), 0);
    const char *args[] = {"--scenario", f->scenario, "--http", "127.0.0.1:0", "--no-tls", "--clock-rate", "10",
                          "--only-listen", "--listen", "r/mx2.test=127.0.0.1:0", NULL};
    char err[512];
    if (!smtpd_live_start(&f->srv, args, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(f->srv.nsmtp, 1);
    assert_string_equal(f->srv.smtp[0].mxhost, "mx2.test");
    assert_true(f->srv.clock_rate == 10);
    assert_true(f->srv.clock_origin > 0);
    f->smtp = &f->srv.smtp[0];

    smtpd_live_conn *c = accepted(f, "127.0.0.1");
    char text[1024];
    assert_int_equal(smtpd_live_cmd(c, "EHLO client.test", text, sizeof(text)), 250);
    assert_int_equal(smtpd_live_cmd(c, "MAIL FROM:<sender@client.test>", text, sizeof(text)), 250);
    int64_t first = smtpd_live_now_ms();
    int code = smtpd_live_cmd(c, "RCPT TO:<" RCPT ">", text, sizeof(text));
    if (code / 100 != 4)
        fail_msg("first sight: expected a 4xx, got '%s'", text);
    quit(c);
    /* 1.2 s of real time are 12 s of the policy's: past the 10 s delay. */
    int64_t left = first + 1200 - smtpd_live_now_ms();
    if (left > 0)
        smtpd_live_sleep_ms((int)left);
    c = accepted(f, "127.0.0.1");
    char bad[1024];
    if (smtpd_live_transaction(c, RCPT, bad, sizeof(bad)) != 0)
        fail_msg("retry 12 s later on the policy's clock: unexpected '%s'", bad);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 1);
}

/*
 * Two violations of a 1-per-IP cap within 10 s put the client in the box for 2 s: every connection
 * from it is refused, even with the cap free, until the box expires; other IPs are not boxed.
 */
static void test_penalty_box_engages_and_expires(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: concurrency_per_ip, limit: 1, reply: \"421 4.7.0 one at a time\" }\n"
             "      - { rule: penalty_box, violations: 2, within: 10s, duration: 2s,\n"
             "          reply: \"421 4.7.2 penalty box\" }\n");
    smtpd_live_conn *a = accepted(f, "127.0.0.1");
    refused(f, "127.0.0.1", "421 4.7.0 one at a time");
    int64_t engaged = smtpd_live_now_ms();
    refused(f, "127.0.0.1", "421 4.7.0 one at a time");
    quit(a);
    refused(f, "127.0.0.1", "421 4.7.2 penalty box");
    quit(accepted(f, "127.0.0.2"));
    int64_t left = engaged + 2300 - smtpd_live_now_ms();
    if (left > 0)
        smtpd_live_sleep_ms((int)left);
    quit(accepted(f, "127.0.0.1"));
    assert_int_equal(metric(f, "testsmtpd_connections_refused_total{receiver=\"r\",rule=\"concurrency_per_ip\"}"), 2);
    assert_int_equal(metric(f, "testsmtpd_connections_refused_total{receiver=\"r\",rule=\"penalty_box\"}"), 1);
    json_t *root;
    json_t *r = stats(f, &root);
    assert_int_equal(jint(r, "refused_by_rule", "penalty_box"), 1);
    assert_int_equal(jint(r, "refused", NULL), 3);
    assert_int_equal(jint(r, "connections", NULL), 6);
    json_decref(root);
}

/* POST /force: the next N connections get the reply, then the receiver is back to normal. */
static void test_force_next_connections(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    char body[4096];
    assert_int_equal(smtpd_live_http(&f->srv, "POST", "/force?receiver=r&n=2", "421 4.7.0 Try again later", body,
                                     sizeof(body)),
                     200);
    refused(f, "127.0.0.1", "421 4.7.0 Try again later");
    refused(f, "127.0.0.2", "421 4.7.0 Try again later");
    quit(accepted(f, "127.0.0.1"));
    /* Refused requests: an unknown receiver, a reply that is no reply. */
    assert_int_equal(smtpd_live_http(&f->srv, "POST", "/force?receiver=nosuch&n=1", "421 4.7.0 x", body,
                                     sizeof(body)),
                     400);
    assert_int_equal(smtpd_live_http(&f->srv, "POST", "/force?receiver=r&n=1", "hello", body, sizeof(body)), 400);
    quit(accepted(f, "127.0.0.1"));
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"421\"}"), 2);
}

/*
 * PUT /policy replaces the policy for new connections; sessions open before keep theirs (and are not
 * counted by the new one). A policy the loader refuses gets 400 and changes nothing.
 */
static void test_put_policy(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    smtpd_live_conn *a = accepted(f, "127.0.0.1");
    accepted(f, "127.0.0.1");
    char body[4096];
    int st = smtpd_live_http(&f->srv, "PUT", "/policy?receiver=r",
                             "- { rule: concurrency_per_ip, limit: 1, reply: \"421 4.7.0 one at a time\" }\n", body,
                             sizeof(body));
    if (st != 200)
        fail_msg("PUT /policy: %d %s", st, body);
    accepted(f, "127.0.0.1");
    refused(f, "127.0.0.1", "421 4.7.0 one at a time");
    char text[1024];
    assert_int_equal(smtpd_live_cmd(a, "NOOP", text, sizeof(text)), 250); /* the old session lives on */

    st = smtpd_live_http(&f->srv, "PUT", "/policy?receiver=r", "- { rule: no_such_rule, limit: 1 }\n", body,
                         sizeof(body));
    assert_int_equal(st, 400);
    assert_true(strlen(body) > 0); /* the loader's message */
    refused(f, "127.0.0.1", "421 4.7.0 one at a time");
    assert_int_equal(smtpd_live_http(&f->srv, "PUT", "/policy?receiver=nosuch", "[]\n", body, sizeof(body)), 400);
}

/* SIGHUP reloads the scenario's policies: new connections get the new one. */
static void test_sighup_reloads(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    quit(accepted(f, "127.0.0.1"));
    write_scenario(f, "      - { rule: concurrency_per_ip, limit: 1, reply: \"421 4.7.0 reloaded\" }\n");
    assert_int_equal(kill(f->srv.pid, SIGHUP), 0);
    /* The reload is asynchronous: try (bounded) until a second concurrent connection is refused. */
    int64_t deadline = smtpd_live_now_ms() + 5000;
    char text[1024];
    for (;;) {
        smtpd_live_conn *x = accepted(f, "127.0.0.1");
        smtpd_live_conn *y = conn_new(f, "127.0.0.1");
        int code = smtpd_live_read_reply(y, text, sizeof(text));
        quit(x);
        if (code == 421) {
            assert_string_equal(text, "421 4.7.0 reloaded");
            assert_true(smtpd_live_expect_eof(y, 5000));
            smtpd_live_close(y);
            break;
        }
        assert_int_equal(code, 220);
        quit(y);
        if (smtpd_live_now_ms() > deadline)
            fail_msg("the new policy was not in force 5 s after SIGHUP");
        f->nconns = 0; /* both closed: reuse the slots */
        smtpd_live_sleep_ms(50);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cap_per_ip_counts_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_without_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_rate_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greylist_passes_after_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_rate_and_mx_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_penalty_box_engages_and_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_next_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reloads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
