/*
 * test_harness_calibrate - the estimates from fixed inputs: a log, an event log and a cpu.json
 * written here, whose every figure is known. CPU per delivery and per message is the programs' CPU
 * over the log's counts (less the smtp processes' start-up); the start-up is the difference of the
 * two runs' totals per extra process, or the intercept of one run's processes; the receiver's times
 * are the event log's, pipelined commands matched to their replies in order and divided by the
 * speedup; a throttled run, one without deliveries and a malformed line are refused, naming where.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/harness_calibrate.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9 * (1 + fabs(b)))

/* The log of n messages, one recipient each, delivered by smtp processes 100 + (i % nproc). */
static void feed_log(harness_calibrate *c, int n, int nproc, bool defer_one)
{
    char line[512], err[256];
    for (int i = 0; i < n; i++) {
        const char *fmt[] = {
            "Dec 01 16:40:12 mta1 postfix/smtpd[50]: Q%04d: client=localhost[127.0.0.1]",
            "Dec 01 16:40:12 mta1 postfix/cleanup[60]: Q%04d: message-id=<%d.tempfail@tempfail-inject.test>",
            ("Dec 01 16:40:12 mta1 postfix/qmgr[70]: Q%04d: from=<noreply@tempfail.test>, size=4282, nrcpt=1 (queue "
             "active)"),
        };
        for (int k = 0; k < 3; k++) {
            snprintf(line, sizeof(line), fmt[k], i, i);
            assert_int_equal(harness_calibrate_maillog_line(c, line, strlen(line), 2026, err, sizeof(err)), 0);
        }
        snprintf(line, sizeof(line),
                 "Dec 01 16:40:12 mta1 postfix/smtp[%d]: Q%04d: to=<u%d@calibrate.test>, relay=127.64.0.1[127.64.0.1]:"
                 "2525, %sdelay=0.08, delays=0.01/0.06/0.%d/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
                 100 + i % nproc, i, i, i % 2 ? "conn_use=2, " : "", i % 10);
        assert_int_equal(harness_calibrate_maillog_line(c, line, strlen(line), 2026, err, sizeof(err)), 0);
    }
    if (defer_one) {
        snprintf(line, sizeof(line),
                 "Dec 01 16:40:13 mta1 postfix/smtp[100]: Q0000: to=<u0@calibrate.test>, relay=127.64.0.1[127.64.0.1]:"
                 "2525, delay=1, delays=0/0/1/0, dsn=4.7.0, status=deferred (host said: 421 4.7.0 slow down)");
        assert_int_equal(harness_calibrate_maillog_line(c, line, strlen(line), 2026, err, sizeof(err)), 0);
    }
}

/* cpu.json of one instance: smtp processes 100.. each start + per * its deliveries. */
static json_t *cpu_json(int nproc, const int *deliveries, double start, double per, double total)
{
    json_t *procs = json_array();
    double smtp = 0;
    for (int i = 0; i < nproc; i++) {
        double s = start + per * deliveries[i];
        smtp += s;
        json_array_append_new(procs, json_pack("{s:i, s:s, s:f, s:b}", "pid", 100 + i, "name", "smtp", "seconds", s,
                                               "alive", 1));
    }
    return json_pack("{s:i, s:[{s:s, s:f, s:f, s:f, s:f, s:{s:{s:f}, s:{s:f}, s:{s:f}, s:{s:f}, s:{s:f}, s:{s:f}}, "
                     "s:o}]}",
                     "nproc", 2, "instances", "name", "mta1", "total", total, "master", 0.01, "reaped", 0.0,
                     "unattributed", 0.0, "programs", "smtp", "seconds", smtp, "qmgr", "seconds", 0.05, "scache",
                     "seconds", 0.01, "smtpd", "seconds", 0.1, "cleanup", "seconds", 0.08, "trivial-rewrite",
                     "seconds", 0.02, "processes", procs);
}

static void feed_cpu(harness_calibrate *c, json_t *j)
{
    char err[256];
    assert_int_equal(harness_calibrate_cpu(c, j, err, sizeof(err)), 0);
    json_decref(j);
}

static void test_cpu_one_run(void **state)
{
    (void)state;
    /* 100 messages, 4 processes making 25 each: their deliveries do not differ, no intercept. */
    harness_calibrate *c = harness_calibrate_create();
    feed_log(c, 100, 4, false);
    int d4[] = {25, 25, 25, 25};
    feed_cpu(c, cpu_json(4, d4, 0, 0.001, 0.5));
    harness_calibrate_result r;
    char err[512];
    assert_int_equal(harness_calibrate_estimate(c, "run", NULL, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.messages, 100);
    assert_int_equal(r.deliveries, 100);
    assert_int_equal(r.smtp_processes, 4);
    assert_int_equal(r.reused, 50);
    assert_int_equal(r.cores, 2);
    assert_true(r.per_delivery.measured);
    NEAR(r.per_delivery.value, (0.1 + 0.05 + 0.01) / 100); /* smtp 4 x 25 x 1ms, qmgr, scache */
    NEAR(r.per_delivery.lo, 0.001 + 0.06 / 100);
    assert_true(r.per_message.measured);
    NEAR(r.per_message.value, (0.1 + 0.08 + 0.02) / 100);
    assert_false(r.process_start.measured);
    assert_non_null(strstr(r.process_start.how, "not measured"));
    assert_true(r.has_delays);
    NEAR(r.delays_p50[1], 0.06);
    assert_false(r.connect_latency.measured); /* no event log fed */
    harness_calibrate_free(c);

    /* Processes of 10, 20, 30, 40 deliveries at 5ms start-up + 1ms each: the intercept is the start-up,
     * taken out of per_delivery. */
    c = harness_calibrate_create();
    char line[512];
    for (int i = 0; i < 100; i++) {
        int pid = i < 10 ? 100 : i < 30 ? 101 : i < 60 ? 102 : 103;
        snprintf(line, sizeof(line),
                 "Dec 01 16:40:12 mta1 postfix/smtp[%d]: Q%04d: to=<u@calibrate.test>, relay=r[127.0.0.1]:25, "
                 "delay=0.08, delays=0.01/0.06/0/0, dsn=2.0.0, status=sent (250 Ok)", pid, i);
        assert_int_equal(harness_calibrate_maillog_line(c, line, strlen(line), 2026, err, sizeof(err)), 0);
    }
    int d[] = {10, 20, 30, 40};
    feed_cpu(c, cpu_json(4, d, 0.005, 0.001, 0.5));
    assert_int_equal(harness_calibrate_estimate(c, "run", NULL, NULL, &r, err, sizeof(err)), 0);
    assert_true(r.process_start.measured);
    NEAR(r.process_start.value, 0.005);
    assert_non_null(strstr(r.process_start.how, "intercept"));
    NEAR(r.per_delivery.value, (0.1 + 4 * 0.005 + 0.06 - 4 * 0.005) / 100);
    assert_false(r.per_message.measured); /* qmgr logged no message */
    harness_calibrate_free(c);
}

static void test_cpu_two_runs(void **state)
{
    (void)state;
    /* The same 100 messages: 4 processes, then one per delivery; 0.8 s more CPU in all. */
    harness_calibrate *a = harness_calibrate_create(), *b = harness_calibrate_create();
    feed_log(a, 100, 4, false);
    feed_log(b, 100, 100, false);
    int d4[] = {25, 25, 25, 25};
    feed_cpu(a, cpu_json(4, d4, 0, 0.001, 0.5));
    int d100[100];
    for (int i = 0; i < 100; i++)
        d100[i] = 1;
    feed_cpu(b, cpu_json(100, d100, 0, 0.001, 1.3));
    harness_calibrate_result r;
    char err[512];
    assert_int_equal(harness_calibrate_estimate(a, "a", b, "b", &r, err, sizeof(err)), 0);
    assert_true(r.process_start.measured);
    NEAR(r.process_start.value, 0.8 / 96);
    assert_int_equal(r.process_start.n, 96);
    NEAR(r.per_delivery.value, (0.16 - 4 * 0.8 / 96) / 100);

    /* The print: the lines to paste, and how each was measured. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    harness_calibrate_print(f, &r, "a");
    fclose(f);
    assert_non_null(strstr(buf, "mta:\n  cpu:\n"));
    assert_non_null(strstr(buf, "    cores: 2\n"));
    assert_non_null(strstr(buf, "    process_start: 8.33ms\n"));
    assert_non_null(strstr(buf, "max_use = 1 (1.300 s, 100 smtp processes)"));
    assert_non_null(strstr(buf, "# connect_latency: not measured"));
    free(buf);

    /* A max_use = 1 run with other mail is no comparison. */
    harness_calibrate *b2 = harness_calibrate_create();
    feed_log(b2, 90, 90, false);
    feed_cpu(b2, cpu_json(90, d100, 0, 0.001, 1.2));
    assert_int_equal(harness_calibrate_estimate(a, "a", b2, "b", &r, err, sizeof(err)), 0);
    assert_false(r.process_start.measured);
    assert_non_null(strstr(r.process_start.how, "different number of messages"));
    harness_calibrate_free(a);
    harness_calibrate_free(b);
    harness_calibrate_free(b2);
}

static void event(harness_calibrate *c, double t, int session, const char *ev, const char *text)
{
    char line[512], err[256];
    snprintf(line, sizeof(line), "{\"t\": %.6f, \"session\": %d, \"receiver\": \"sink\", \"event\": \"%s\"%s%s%s}",
             t, session, ev, text ? ", \"text\": \"" : "", text ? text : "", text ? "\"" : "");
    assert_int_equal(harness_calibrate_event_line(c, line, strlen(line), err, sizeof(err)), 0);
}

static void test_receiver(void **state)
{
    (void)state;
    harness_calibrate *c = harness_calibrate_create();
    harness_calibrate_speedup(c, 2); /* the log's clock runs twice as fast: halve every time */
    feed_log(c, 1, 1, false);
    for (int s = 1; s <= 10; s++) {
        double t0 = s * 10.0;
        event(c, t0, s, "connect", "127.65.0.1");
        event(c, t0 + 0.000001, s, "busy", NULL);
        event(c, t0 + 0.000020 * s, s, "reply", "220 mx ESMTP"); /* 10us .. 100us real */
        event(c, t0 + 1, s, "command", "EHLO a");
        event(c, t0 + 1.000010, s, "reply", "250 ok");
        /* pipelined: three commands, then three replies, each answering one in order */
        event(c, t0 + 2, s, "command", "MAIL FROM:<a@b>");
        event(c, t0 + 2.000001, s, "command", "RCPT TO:<c@d>");
        event(c, t0 + 2.000002, s, "command", "DATA");
        event(c, t0 + 2.000010, s, "reply", "250 ok");
        event(c, t0 + 2.000011, s, "reply", "250 ok");
        event(c, t0 + 2.000012, s, "reply", "354 go");
        event(c, t0 + 3, s, "message", NULL);
        event(c, t0 + 3.000010, s, "reply", "250 queued");
        event(c, t0 + 4, s, "close", NULL);
    }
    harness_calibrate_result r;
    char err[512];
    assert_int_equal(harness_calibrate_estimate(c, "run", NULL, NULL, &r, err, sizeof(err)), 0);
    assert_string_equal(r.receiver, "sink");
    assert_true(r.connect_latency.measured);
    assert_int_equal(r.connect_latency.n, 10);
    assert_true(fabs(r.connect_latency.value - 0.000050) < 1e-9);
    assert_true(fabs(r.connect_latency.lo - 0.000010) < 1e-9);
    assert_true(fabs(r.connect_latency.hi - 0.000090) < 1e-9);
    assert_true(r.latency.measured);
    assert_int_equal(r.latency.n, 50);
    /* every reply 10us after the command it answers in the log, the pipelined three included (matched
     * to the newest command, MAIL's reply would be 8us after DATA) */
    assert_true(fabs(r.latency.value - 0.000005) < 1e-9);
    assert_true(fabs(r.latency.lo - 0.000005) < 1e-9);
    assert_true(fabs(r.latency.hi - 0.000005) < 1e-9);
    harness_calibrate_free(c);
}

static void test_refused(void **state)
{
    (void)state;
    harness_calibrate_result r;
    char err[512];
    static const struct {
        bool defer, reply_421, deliveries;
        int rc;
        const char *says;
    } cases[] = {
        {true, false, true, -EAGAIN, "throttled: line 401 of the log is a deferral (1 in all)"},
        {false, true, true, -EAGAIN, "throttled: testsmtpd.events.jsonl line 2 replied '421 4.7.0 Too many"},
        {false, false, false, -ENODATA, "no smtp(8) delivery with status=sent"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_calibrate *c = harness_calibrate_create();
        if (cases[i].deliveries)
            feed_log(c, 100, 4, cases[i].defer);
        if (cases[i].reply_421) {
            event(c, 1, 1, "connect", "127.65.0.1");
            event(c, 1.1, 1, "reply", "421 4.7.0 Too many connections");
        }
        assert_int_equal(harness_calibrate_estimate(c, "RUN", NULL, NULL, &r, err, sizeof(err)), cases[i].rc);
        if (!strstr(err, cases[i].says) || strncmp(err, "RUN: ", 5) != 0)
            fail_msg("case %zu: '%s', want '%s'", i, err, cases[i].says);
        harness_calibrate_free(c);
    }
    /* Malformed lines name their line. */
    harness_calibrate *c = harness_calibrate_create();
    assert_int_equal(harness_calibrate_event_line(c, "{\"t\": 1}", 8, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "line 1: not an event of testsmtpd's (event, t, session)");
    assert_int_equal(harness_calibrate_event_line(c, "nope", 4, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "line 2: "));
    harness_calibrate_free(c);
}

static void test_files(void **state)
{
    (void)state;
    char err[512];
    harness_calibrate *c = harness_calibrate_create();
    assert_int_equal(harness_calibrate_read_rundir(c, "/nonexistent/run", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/run: No such file or directory"));
    assert_int_equal(harness_calibrate_read_maillog(c, "/nonexistent/mail.log", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/mail.log: No such file or directory"));
    assert_int_equal(harness_calibrate_read_maillog(c, "/tmp", err, sizeof(err)), -EISDIR);
    /* A simulated run's directory is no replay's. */
    char dir[] = "/tmp/test_harness_calibrate.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"messages\": {\"arrived\": 1}}\n", f);
    fclose(f);
    assert_int_equal(harness_calibrate_read_rundir(c, dir, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a replay's run directory"));
    /* A replay's without its event log. */
    f = fopen(path, "w");
    fputs("{\"replay\": {\"speedup\": 1}}\n", f);
    fclose(f);
    char log[256];
    snprintf(log, sizeof(log), "%s/maillog", dir);
    f = fopen(log, "w");
    fclose(f);
    assert_int_equal(harness_calibrate_read_rundir(c, dir, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "testsmtpd.events.jsonl: No such file or directory: testsmtpd's event log is missing"));
    remove(log);
    remove(path);
    rmdir(dir);
    harness_calibrate_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_one_run), cmocka_unit_test(test_cpu_two_runs), cmocka_unit_test(test_receiver),
        cmocka_unit_test(test_refused),     cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
