/*
 * testsmtpd's event log read back by harness_smtpd_events, against a live server: what a replay's
 * timeseries.csv will say about the receivers must be what the test did to them, and what testsmtpd's
 * own /stats says (sessions open busy and idle, replies by code, summed into the time series'
 * classes).
 *
 * Two receivers: "r" capping at 2 sessions per IP, idle ones counted, and "q" without a policy. On r
 * a session delivers a message, sends MAIL and RSET and stays open (idle), a second is greeted and
 * stays open (busy), a third gets the 421 and is closed; on q a session delivers and quits. The log
 * is complete as soon as a reply reached the client (smtpd_log.h), so it is read while the server
 * runs, compared with /stats, and read again after a clean stop, when every session has closed.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness/harness_smtpd_events.h"
#include "tests/integration/smtpd_live.h"

#define RCPT "user@example.test"

static const char *const receivers[] = {"r", "q"};

/* The samples summed: replies over every interval, sessions of the last sample. */
typedef struct totals {
    size_t samples;
    harness_smtpd_counts last[2];
    uint64_t replies[2][HARNESS_SMTPD_NCLASS];
} totals;

static void on_sample(void *ctx, sim_time_t t, const harness_smtpd_counts *c, size_t n)
{
    (void)t;
    totals *s = ctx;
    assert_int_equal(n, 2);
    s->samples++;
    for (size_t i = 0; i < n; i++) {
        s->last[i] = c[i];
        for (int k = 0; k < HARNESS_SMTPD_NCLASS; k++)
            s->replies[i][k] += c[i].replies[k];
    }
}

/* The whole log, sampled every 100 ms up to an hour past the start: the last sample is "now". */
static void read_log(const smtpd_live_server *srv, totals *s)
{
    memset(s, 0, sizeof(*s));
    harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 100 * SIM_MSEC, on_sample, s);
    FILE *f = fopen(srv->log, "r");
    assert_non_null(f);
    char err[512] = "";
    if (harness_smtpd_events_read(ev, f, err, sizeof(err)) != 0)
        fail_msg("%s: %s", srv->log, err);
    fclose(f);
    harness_smtpd_events_finish(ev, 3600 * SIM_SEC);
    harness_smtpd_events_free(ev);
    assert_true(s->samples > 1);
}

static json_t *stats_of(json_t *root, const char *rcv)
{
    json_t *r = json_object_get(json_object_get(root, "receivers"), rcv);
    if (!json_is_object(r))
        fail_msg("/stats has no receivers.%s", rcv);
    return r;
}

/* /stats's sessions and replies of one receiver agree with the log's. */
static void agree(json_t *r, const char *name, const harness_smtpd_counts *last, const uint64_t *replies)
{
    json_t *ses = json_object_get(r, "sessions");
    assert_int_equal(json_integer_value(json_object_get(ses, "busy")), last->busy);
    assert_int_equal(json_integer_value(json_object_get(ses, "idle")), last->idle);
    uint64_t by[HARNESS_SMTPD_NCLASS] = {0};
    const char *code;
    json_t *v;
    json_object_foreach(json_object_get(r, "replies"), code, v) {
        int k = results_reply_class(atoi(code));
        if (k >= 0)
            by[k] += (uint64_t)json_integer_value(v);
    }
    for (int k = 0; k < HARNESS_SMTPD_NCLASS; k++)
        if (by[k] != replies[k])
            fail_msg("%s: replies of class %d: /stats %llu, the log %llu", name, k, (unsigned long long)by[k],
                     (unsigned long long)replies[k]);
}

static void test_log_agrees(void **state)
{
    (void)state;
    smtpd_live_server srv;
    memset(&srv, 0, sizeof(srv));
    assert_int_equal(smtpd_live_mkdir(&srv), 0);
    char scenario[300];
    assert_int_equal(smtpd_live_write_file(&srv, "scenario.yaml",
                                           "receivers:\n"
                                           "  - name: r\n"
                                           "    domains: [example.test]\n"
                                           "    mx: [ { host: mx.r.test, listen: [\"127.0.0.1:0\"] } ]\n"
                                           "    policy:\n"
                                           "      - { rule: concurrency_per_ip, limit: 2, count_idle: true,\n"
                                           "          reply: \"421 4.7.0 Too many connections\" }\n"
                                           "  - name: q\n"
                                           "    domains: [q.test]\n"
                                           "    mx: [ { host: mx.q.test, listen: [\"127.0.0.1:0\"] } ]\n",
                                           scenario, sizeof(scenario)),
                     0);
    const char *args[] = {"--scenario", scenario, "--http", "127.0.0.1:0", "--no-tls", NULL};
    char err[512];
    if (!smtpd_live_start(&srv, args, err, sizeof(err)))
        fail_msg("%s", err);
    const smtpd_live_listener *lr = smtpd_live_find(&srv, "r"), *lq = smtpd_live_find(&srv, "q");
    assert_non_null(lr);
    assert_non_null(lq);

    char text[1024];
    smtpd_live_conn a, b, c, d;
    /* r: a transaction, then MAIL and RSET: idle again, and left open */
    assert_int_equal(smtpd_live_connect(&a, "127.0.0.1", lr->addr, lr->port), 0);
    assert_int_equal(smtpd_live_read_reply(&a, text, sizeof(text)), 220);
    if (smtpd_live_transaction(&a, RCPT, text, sizeof(text)) != 0)
        fail_msg("transaction: '%s'", text);
    assert_int_equal(smtpd_live_cmd(&a, "MAIL FROM:<sender@client.test>", text, sizeof(text)), 250);
    assert_int_equal(smtpd_live_cmd(&a, "RSET", text, sizeof(text)), 250);
    /* r: greeted and left open (busy) */
    assert_int_equal(smtpd_live_connect(&b, "127.0.0.1", lr->addr, lr->port), 0);
    assert_int_equal(smtpd_live_read_reply(&b, text, sizeof(text)), 220);
    /* r: over the cap */
    assert_int_equal(smtpd_live_connect(&c, "127.0.0.1", lr->addr, lr->port), 0);
    assert_int_equal(smtpd_live_read_reply(&c, text, sizeof(text)), 421);
    assert_true(smtpd_live_expect_eof(&c, 5000));
    smtpd_live_close(&c);
    /* q: a transaction and QUIT */
    assert_int_equal(smtpd_live_connect(&d, "127.0.0.1", lq->addr, lq->port), 0);
    assert_int_equal(smtpd_live_read_reply(&d, text, sizeof(text)), 220);
    if (smtpd_live_transaction(&d, "user@q.test", text, sizeof(text)) != 0)
        fail_msg("transaction on q: '%s'", text);
    assert_int_equal(smtpd_live_cmd(&d, "QUIT", text, sizeof(text)), 221);
    assert_true(smtpd_live_expect_eof(&d, 5000));
    smtpd_live_close(&d);

    totals s;
    read_log(&srv, &s);
    /* what the test did: r one idle and one busy session; 220 x2, EHLO, MAIL, RCPT, the queued 250,
     * MAIL and RSET are 2xx (the 354 is in no class), one 421; q: 220, EHLO, MAIL, RCPT, 250, 221 */
    assert_int_equal(s.last[0].busy, 1);
    assert_int_equal(s.last[0].idle, 1);
    assert_int_equal(s.replies[0][RESULTS_REPLY_2XX], 8);
    assert_int_equal(s.replies[0][RESULTS_REPLY_421], 1);
    assert_int_equal(s.replies[0][RESULTS_REPLY_4XX], 0);
    assert_int_equal(s.replies[0][RESULTS_REPLY_5XX], 0);
    assert_int_equal(s.last[1].busy, 0);
    assert_int_equal(s.last[1].idle, 0);
    assert_int_equal(s.replies[1][RESULTS_REPLY_2XX], 6);
    assert_int_equal(s.replies[1][RESULTS_REPLY_421] + s.replies[1][RESULTS_REPLY_4XX] +
                         s.replies[1][RESULTS_REPLY_5XX],
                     0);

    /* and what testsmtpd counted */
    static char body[1 << 17];
    assert_int_equal(smtpd_live_http(&srv, "GET", "/stats", NULL, body, sizeof(body)), 200);
    json_error_t je;
    json_t *root = json_loads(body, 0, &je);
    if (root == NULL)
        fail_msg("/stats is not JSON (%s): %s", je.text, body);
    agree(stats_of(root, "r"), "r", &s.last[0], s.replies[0]);
    agree(stats_of(root, "q"), "q", &s.last[1], s.replies[1]);
    json_decref(root);

    /* a clean stop closes every session: none open at the end of the log */
    smtpd_live_close(&a);
    smtpd_live_close(&b);
    assert_int_equal(smtpd_live_stop(&srv), 0);
    read_log(&srv, &s);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.last[i].busy, 0);
        assert_int_equal(s.last[i].idle, 0);
    }
    assert_int_equal(s.replies[0][RESULTS_REPLY_421], 1);
    smtpd_live_rmdir(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_log_agrees)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
