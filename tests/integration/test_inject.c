/*
 * The replay's injector (harness/harness_inject.c) against a live testsmtpd: what it says it
 * delivered must be what the server accepted, and what the server refused must come back as the
 * server's words, with the other messages still delivered and nothing hanging.
 *
 * Each test starts its own server (receiver "r", domain example.test, no TLS) with a policy it
 * writes, injects into it over real TCP on loopback and checks the results against the server's
 * /metrics and event log. Timeouts are short, so a test that would hang fails instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness/harness_inject.h"
#include "tests/integration/smtpd_live.h"

#define MAXMSG 400

typedef struct fixture {
    smtpd_live_server srv;
    char scenario[300];
    const smtpd_live_listener *smtp;
    char target[96];
    harness_inject_result res[MAXMSG];
    unsigned seen[MAXMSG];
    size_t nres;
} fixture;

static void start(fixture *f, const char *policy)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "receivers:\n"
             "  - name: r\n"
             "    domains: [example.test]\n"
             "    mx: [ { host: mx.test, listen: [\"127.0.0.1:0\"] } ]\n"
             "%s%s",
             policy ? "    policy:\n" : "", policy ? policy : "");
    assert_int_equal(smtpd_live_write_file(&f->srv, "scenario.yaml", text, f->scenario, sizeof(f->scenario)), 0);
    const char *args[] = {"--scenario", f->scenario, "--http", "127.0.0.1:0", "--no-tls", NULL};
    char err[512];
    if (!smtpd_live_start(&f->srv, args, err, sizeof(err)))
        fail_msg("%s", err);
    f->smtp = smtpd_live_find(&f->srv, "r");
    assert_non_null(f->smtp);
    snprintf(f->target, sizeof(f->target), "%s:%d", f->smtp->addr, f->smtp->port);
}

static void on_done(void *ctx, const harness_inject_result *r)
{
    fixture *f = ctx;
    assert_true(r->id < MAXMSG);
    f->seen[r->id]++;
    f->res[r->id] = *r;
    f->nres++;
}

static harness_inject *injector(fixture *f, unsigned conns, int64_t timeout)
{
    const char *targets[] = {f->target};
    harness_inject_opts o = {.targets = targets, .ntargets = 1, .conns = conns, .timeout = timeout,
                             .done = on_done, .ctx = f};
    char err[512] = "";
    harness_inject *inj = harness_inject_create(&o, err, sizeof(err));
    if (!inj)
        fail_msg("create: %s", err);
    return inj;
}

/* Submits messages first..first+n-1, each to user<i>@example.test (and a second recipient when
 * two is set), of size bytes. */
static void submit(harness_inject *inj, uint64_t first, size_t n, uint32_t size, bool two)
{
    for (size_t i = 0; i < n; i++) {
        char a[64], b[64];
        snprintf(a, sizeof(a), "user%zu@example.test", (size_t)first + i);
        snprintf(b, sizeof(b), "other%zu@example.test", (size_t)first + i);
        const char *rcpt[] = {a, b};
        harness_inject_msg m = {.id = first + i, .target = 0, .sender = "sender@client.test", .rcpt = rcpt,
                                .nrcpt = two ? 2 : 1, .size = size};
        assert_int_equal(harness_inject_submit(inj, &m), 0);
    }
}

/* Runs until nothing is pending, at most 30 s; the run must succeed. */
static void run_all(harness_inject *inj)
{
    char err[512] = "";
    int64_t deadline = harness_inject_now() + 30 * (int64_t)1000000000;
    while (harness_inject_pending(inj) > 0) {
        if (harness_inject_now() >= deadline)
            fail_msg("%zu messages still pending after 30 s", harness_inject_pending(inj));
        int rc = harness_inject_run(inj, harness_inject_now() + 1000000000, err, sizeof(err));
        if (rc != 0)
            fail_msg("run: %d %s", rc, err);
    }
}

static double metric(fixture *f, const char *sample)
{
    static char body[1 << 17];
    assert_int_equal(smtpd_live_http(&f->srv, "GET", "/metrics", NULL, body, sizeof(body)), 200);
    double v = smtpd_live_metric(body, sample);
    if (v < 0)
        fail_msg("/metrics has no sample %s", sample);
    return v;
}

static size_t count_ok(const fixture *f, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += f->res[i].ok;
    return ok;
}

static void all_done_once(const fixture *f, size_t n)
{
    assert_int_equal(f->nres, n);
    for (size_t i = 0; i < n; i++)
        if (f->seen[i] != 1)
            fail_msg("message %zu reported %u times", i, f->seen[i]);
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
    int rc = smtpd_live_stop(&f->srv);
    smtpd_live_rmdir(&f->srv);
    free(f);
    return rc > 0 ? -1 : 0;
}

/* 300 messages over 4 connections, no policy: every one accepted, with its queue id, and the
 * server counted exactly 300 on at most 4 connections. */
static void test_inject_300(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    harness_inject *inj = injector(f, 4, 0);
    submit(inj, 0, 300, 1000, false);
    assert_int_equal(harness_inject_pending(inj), 300);
    run_all(inj);
    all_done_once(f, 300);
    for (size_t i = 0; i < 300; i++) {
        const harness_inject_result *r = &f->res[i];
        if (!r->ok)
            fail_msg("message %zu: %s", i, r->reply);
        assert_int_equal(r->rcpt_accepted, 1);
        assert_int_equal(strlen(r->queue_id), 14); /* testsmtpd's "queued as %014llX" */
        assert_true(strstr(r->reply, r->queue_id) != NULL);
        assert_true(r->t_start > 0 && r->t_done >= r->t_start);
    }
    harness_inject_stats st;
    harness_inject_get_stats(inj, &st);
    assert_int_equal(st.ok, 300);
    assert_true(st.connects >= 1 && st.connects <= 4);
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 300);
    assert_true(metric(f, "testsmtpd_connections_total{receiver=\"r\"}") <= 4);
    /* free() said QUIT on each session, and waited for the 221. */
    assert_int_equal(metric(f, "testsmtpd_replies_total{receiver=\"r\",code=\"221\"}"), st.connects);
    assert_int_equal(smtpd_live_stop(&f->srv), 0);
    const char *messages[] = {"\"message\"", "\"sha256\"", NULL};
    assert_int_equal(smtpd_live_count_events(&f->srv, messages), 300);
}

/* The next two connections get a 421 instead of the greeting: two messages are done with its text,
 * the others are delivered on new connections. */
static void test_greeting_421(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    char body[4096];
    assert_int_equal(smtpd_live_http(&f->srv, "POST", "/force?receiver=r&n=2", "421 4.7.0 Try again later", body,
                                     sizeof(body)),
                     200);
    harness_inject *inj = injector(f, 4, 0);
    submit(inj, 0, 50, 500, false);
    run_all(inj);
    all_done_once(f, 50);
    size_t refused = 0;
    for (size_t i = 0; i < 50; i++) {
        if (f->res[i].ok)
            continue;
        assert_string_equal(f->res[i].reply, "421 4.7.0 Try again later");
        assert_int_equal(f->res[i].t_start, 0);
        refused++;
    }
    assert_int_equal(refused, 2);
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 48);
}

/*
 * Greylisting: every first RCPT gets a 450. Each message is done with the greylist's reply, and
 * the session goes on with RSET (without it the next MAIL would be a "nested MAIL command"). Eight
 * messages: each costs the session one error (the pipelined DATA's 503), and testsmtpd, like
 * Postfix's smtpd_hard_error_limit, ends a session at its 10th.
 */
static void test_rcpt_4xx(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: greylist, delay: 1h, retry_window: 2h, auto_allow: 0,\n"
             "          reply: \"450 4.2.0 Greylisted, try again later\" }\n");
    harness_inject *inj = injector(f, 2, 0);
    submit(inj, 0, 8, 800, false);
    run_all(inj);
    all_done_once(f, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_false(f->res[i].ok);
        assert_string_equal(f->res[i].reply, "450 4.2.0 Greylisted, try again later");
        assert_int_equal(f->res[i].rcpt_accepted, 0);
        assert_string_equal(f->res[i].queue_id, "");
    }
    harness_inject_stats st;
    harness_inject_get_stats(inj, &st);
    if (st.connects > 2)
        fail_msg("%llu connections, %llu lost", (unsigned long long)st.connects, (unsigned long long)st.lost);
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 0);
}

/* One recipient per message: of two, the second is refused and the message goes to the first. */
static void test_some_recipients_refused(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: recipients_per_message, limit: 1, reply: \"452 4.5.3 Too many recipients\" }\n");
    harness_inject *inj = injector(f, 2, 0);
    submit(inj, 0, 30, 1200, true);
    run_all(inj);
    all_done_once(f, 30);
    for (size_t i = 0; i < 30; i++) {
        if (!f->res[i].ok)
            fail_msg("message %zu: %s", i, f->res[i].reply);
        assert_int_equal(f->res[i].rcpt_accepted, 1);
    }
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 30);
    assert_int_equal(metric(f, "testsmtpd_recipients_accepted_total{receiver=\"r\"}"), 30);
}

/* A 421 to RCPT for some messages: those are done with its text, the connection reconnects, and the
 * others are delivered; what the injector says was accepted is what the server accepted. */
static void test_rcpt_421(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: random_fault, stage: rcpt, probability: 0.2,\n"
             "          reply: \"421 4.7.0 Try again later, closing connection.\" }\n");
    harness_inject *inj = injector(f, 4, 0);
    submit(inj, 0, 200, 1000, false);
    run_all(inj);
    all_done_once(f, 200);
    size_t ok = count_ok(f, 200);
    for (size_t i = 0; i < 200; i++)
        if (!f->res[i].ok)
            assert_string_equal(f->res[i].reply, "421 4.7.0 Try again later, closing connection.");
    assert_true(ok > 0 && ok < 200);
    harness_inject_stats st;
    harness_inject_get_stats(inj, &st);
    assert_true(st.connects > 4);
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), ok);
}

/* A server that closes the session without a word at the 6th MAIL (Yahoo's way): every 6th message
 * on a connection is lost, the rest are delivered on the next connections. */
static void test_lost_connection(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: messages_per_session, limit: 5, silent: yes }\n");
    harness_inject *inj = injector(f, 1, 0);
    submit(inj, 0, 30, 1000, false);
    run_all(inj);
    all_done_once(f, 30);
    for (size_t i = 0; i < 30; i++) {
        if (i % 6 == 5) {
            assert_false(f->res[i].ok);
            assert_string_equal(f->res[i].reply, "lost connection after MAIL FROM");
        } else if (!f->res[i].ok) {
            fail_msg("message %zu: %s", i, f->res[i].reply);
        }
    }
    harness_inject_free(inj);
    assert_int_equal(metric(f, "testsmtpd_messages_accepted_total{receiver=\"r\"}"), 25);
}

/* A closed port: run() fails at once, naming the address; the message is still pending. */
static void test_connection_refused(void **state)
{
    fixture *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s); /* nothing listens there now */
    snprintf(f->target, sizeof(f->target), "127.0.0.1:%d", ntohs(sa.sin_port));
    harness_inject *inj = injector(f, 4, 2 * (int64_t)1000000000);
    submit(inj, 0, 3, 500, false);
    char err[512] = "";
    int64_t t0 = harness_inject_now();
    int rc = harness_inject_run(inj, -1, err, sizeof(err));
    assert_int_equal(rc, -ECONNREFUSED);
    char want[128];
    snprintf(want, sizeof(want), "%s: connect: Connection refused", f->target);
    assert_string_equal(err, want);
    assert_true(harness_inject_now() - t0 < 1000000000);
    assert_int_equal(harness_inject_pending(inj), 3);
    assert_int_equal(f->nres, 0);
    harness_inject_free(inj);
}

/* A server slower than the timeout: run() fails with what it waited for; the message is done. */
static void test_timeout(void **state)
{
    fixture *f = *state;
    start(f, "      - { rule: tarpit, stage: mail, delay: 5s }\n");
    harness_inject *inj = injector(f, 1, 300 * (int64_t)1000000);
    submit(inj, 0, 1, 500, false);
    char err[512] = "";
    int rc = harness_inject_run(inj, -1, err, sizeof(err));
    assert_int_equal(rc, -ETIMEDOUT);
    char want[128];
    snprintf(want, sizeof(want), "%s: no reply to MAIL FROM in 0.3s", f->target);
    assert_string_equal(err, want);
    assert_int_equal(f->nres, 1);
    assert_false(f->res[0].ok);
    assert_string_equal(f->res[0].reply, "no reply to MAIL FROM in 0.3s");
    assert_int_equal(harness_inject_pending(inj), 0);
    harness_inject_free(inj);
}

/* A silent server (it accepts, never greets): the greeting's timeout. */
static void test_no_greeting(void **state)
{
    fixture *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s, 8), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    snprintf(f->target, sizeof(f->target), "127.0.0.1:%d", ntohs(sa.sin_port));
    harness_inject *inj = injector(f, 1, 200 * (int64_t)1000000);
    submit(inj, 0, 1, 500, false);
    char err[512] = "";
    assert_int_equal(harness_inject_run(inj, -1, err, sizeof(err)), -ETIMEDOUT);
    char want[128];
    snprintf(want, sizeof(want), "%s: no greeting in 0.2s", f->target);
    assert_string_equal(err, want);
    assert_int_equal(harness_inject_pending(inj), 1);
    harness_inject_free(inj);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inject_300, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_421, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rcpt_4xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_some_recipients_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rcpt_421, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_greeting, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
