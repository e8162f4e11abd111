/*
 * test_harness_replay_track - a replay's messages followed through Postfix 3.7 maillog_file lines:
 * rows of messages.csv, counts and states, a delivery logged before its injection is reported,
 * duplicate queue ids, the time series on a hand-made case, the speedup, testsmtpd's event log
 * as receivers' figures, and the summary's keys against a simulated run's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness_replay_track.h"
#include "memout.h"
#include "models/world.h"
#include "results/results_json.h"
#include "results/results_messages.h"
#include "sim/sim_calendar.h"
#include "sim/sim_run.h"
#include "tempfail/tempfail.h"

#define SCENARIO                                                                                               \
    "name: replay-test\n"                                                                                      \
    "seed: 7\n"                                                                                                \
    "duration: 30s\n"                                                                                          \
    "sample_every: 10s\n"                                                                                      \
    "traffic:\n"                                                                                               \
    "  classes:\n"                                                                                             \
    "    - { name: c, arrivals: { process: poisson, rate: 1/s }, size: 1KB,\n"                                   \
    "        domains: { orange.test: 0.5, gmail.test: 0.5 } }\n"                                                 \
    "receivers:\n"                                                                                             \
    "  - { name: orange, domains: [orange.test],\n"                                                            \
    "      policy: [ { rule: concurrency_per_ip, limit: 3 } ] }\n"                                               \
    "  - { name: gmail, domains: [gmail.test] }\n"

static scenario *load(void)
{
    scenario_error e;
    scenario *s = scenario_load_text(SCENARIO, strlen(SCENARIO), "test", NULL, 0, &e);
    if (!s)
        fail_msg("load: %s", e.message);
    return s;
}

static void line(harness_replay_track *t, uint32_t host, const char *text)
{
    char err[256] = "";
    if (harness_replay_track_line(t, host, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("line %s: %s", text, err);
}

static harness_replay_msg msg(uint64_t id, const char *qid, const char *domain, double arrival)
{
    return (harness_replay_msg){.id = id, .queue_id = qid, .domain = domain, .nrcpt = 1, .size = 1000,
                                .arrival = sim_time_from_sec(arrival)};
}

/* Writes the run directory's files into memory; returns the summary, fills the two texts. An event
 * log is in real seconds at the tracker's speedup (events_scale). */
static double events_scale = 1;
static json_t *write_all(harness_replay_track *t, const char *events, sim_time_t end, char **msgs, char **ts)
{
    memout mm, mt;
    json_t *summary = NULL;
    char err[256] = "";
    int rc = harness_replay_track_write(t, memout_open(&mm), memout_open(&mt), events, 0, events_scale, end, &summary, err,
                                        sizeof(err));
    *msgs = memout_close(&mm);
    *ts = memout_close(&mt);
    if (rc != 0)
        fail_msg("write: %d %s", rc, err);
    assert_non_null(summary);
    return summary;
}

static double num(const json_t *root, const char *a, const char *b)
{
    const json_t *v = json_object_get(json_object_get(root, a), b);
    if (!json_is_number(v))
        fail_msg("%s.%s is not a number", a, b);
    return json_number_value(v);
}

#define PF "Dec 01 13:"

static void test_lines_to_rows(void **state)
{
    (void)state;
    scenario *s = load();
    harness_replay_track *t = harness_replay_track_create(s, 1, 1);
    harness_replay_msg m1 = msg(1, "3F2A1B00C4", "orange.test", 10);
    harness_replay_msg m3 = msg(3, "5C3D4E5F60", "orange.test", 30);
    harness_replay_msg m4 = msg(4, "6D4E5F6071", "gmail.test", 40);
    assert_int_equal(harness_replay_track_injected(t, &m1), 0);
    /* m1: a 421 greeting, then sent on its second pass */
    line(t, 0, PF "00:10 mta1 postfix/qmgr[31400]: 3F2A1B00C4: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:10 mta1 postfix/smtp[31401]: 3F2A1B00C4: to=<u1@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, delay=0.5, delays=0.01/0/0.49/0, dsn=4.7.0, status=deferred (host 127.0.0.2[127.0.0.2] refused to talk to me: 421 4.7.0 Too many connections)");
    /* m2's delivery is logged before the injector reports it */
    line(t, 0, PF "00:21 mta1 postfix/qmgr[31400]: 4A1B2C3D4E: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:21 mta1 postfix/smtp[31402]: 4A1B2C3D4E: to=<u2@gmail.test>, relay=127.0.0.4[127.0.0.4]:2525, delay=1.2, delays=0.01/0/1.1/0.09, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)");
    line(t, 0, PF "00:21 mta1 postfix/qmgr[31400]: 4A1B2C3D4E: removed");
    harness_replay_counts c;
    harness_replay_track_counts(t, &c);
    assert_int_equal(c.unclaimed, 3);
    assert_int_equal(c.delivered, 0);
    harness_replay_msg m2 = msg(2, "4A1B2C3D4E", "gmail.test", 20);
    assert_int_equal(harness_replay_track_injected(t, &m2), 0);
    assert_int_equal(harness_replay_track_injected(t, &m2), -EEXIST);
    assert_int_equal(harness_replay_track_state(t, 2), HARNESS_REPLAY_DELIVERED);
    assert_int_equal(harness_replay_track_injected(t, &m3), 0);
    assert_int_equal(harness_replay_track_injected(t, &m4), 0);
    line(t, 0, PF "00:30 mta1 postfix/qmgr[31400]: 5C3D4E5F60: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:30 mta1 postfix/retry[31403]: 5C3D4E5F60: to=<u3@orange.test>, relay=none, delay=0.1, delays=0.05/0.05/0/0, dsn=4.7.0, status=deferred (delivery temporarily suspended: host 127.0.0.2[127.0.0.2] refused to talk to me: 421 4.7.0 Too many connections)");
    line(t, 0, PF "00:42 mta1 postfix/smtp[31404]: 6D4E5F6071: to=<u4@gmail.test>, relay=127.0.0.4[127.0.0.4]:2525, delay=2, delays=0.01/0/1.5/0.49, dsn=5.1.1, status=bounced (host 127.0.0.4[127.0.0.4] said: 550 5.1.1 No such user (in reply to RCPT TO command))");
    line(t, 0, PF "05:10 mta1 postfix/qmgr[31400]: 3F2A1B00C4: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "05:10 mta1 postfix/smtp[31405]: 3F2A1B00C4: to=<u1@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, delay=300.2, delays=300.1/0/0.05/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as DEF)");
    line(t, 0, PF "05:10 mta1 postfix/qmgr[31400]: 3F2A1B00C4: removed");
    line(t, 0, PF "05:11 mta1 postfix/smtpd[31406]: connect from localhost[127.0.0.1]");
    line(t, 0, PF "05:12 mta1 postfix/smtp[31407]: 9999999999: to=<bounce@tempfail.test>, relay=none, delay=1, delays=1/0/0/0, dsn=5.4.4, status=bounced (Host or domain name not found)");
    char err[256] = "";
    const char *bad = PF "05:13 mta1 postfix/smtp[31408]: 3F2A1B00C4: to=<u1@orange.test>, relay=x, delay=zz";
    assert_int_equal(harness_replay_track_line(t, 0, bad, strlen(bad), err, sizeof(err)), -EINVAL);
    if (strncmp(err, "mta1 maillog line 14: ", 22) != 0)
        fail_msg("err: %s", err);
    harness_replay_msg m5 = msg(5, NULL, "orange.test", 50);
    harness_replay_track_inject_failed(t, &m5, "452 4.3.1 Insufficient system storage");

    harness_replay_track_counts(t, &c);
    assert_int_equal(c.injected, 4);
    assert_int_equal(c.delivered, 2);
    assert_int_equal(c.bounced, 1);
    assert_int_equal(c.expired, 0);
    assert_int_equal(c.outstanding, 1);
    assert_int_equal(c.deferrals, 2);
    assert_int_equal(c.suspended, 1);
    assert_int_equal(c.r421, 1);
    assert_int_equal(c.inject_failed, 1);
    assert_int_equal(c.unclaimed, 1);
    assert_int_equal(harness_replay_track_state(t, 1), HARNESS_REPLAY_DELIVERED);
    assert_int_equal(harness_replay_track_state(t, 3), HARNESS_REPLAY_QUEUED);
    assert_int_equal(harness_replay_track_state(t, 4), HARNESS_REPLAY_BOUNCED);
    assert_int_equal(harness_replay_track_state(t, 5), HARNESS_REPLAY_BOUNCED);
    assert_int_equal(harness_replay_track_state(t, 99), HARNESS_REPLAY_QUEUED);
    assert_false(harness_replay_track_settled(t));

    char *msgs, *ts;
    json_t *sum = write_all(t, NULL, sim_time_from_sec(320), &msgs, &ts);
    assert_string_equal(msgs, "id,queue_id,host,class,domain,nrcpt,size,arrival,done,outcome,attempts,latency,resend_of,resend_no\n"
                              "2,4A1B2C3D4E,mta1,c,gmail.test,1,1000,20,21.2,delivered,1,1.2,0,0\n"
                              "4,6D4E5F6071,mta1,c,gmail.test,1,1000,40,42,bounced,1,2,0,0\n"
                              "1,3F2A1B00C4,mta1,c,orange.test,1,1000,10,310.2,delivered,2,300.2,0,0\n"
                              "3,5C3D4E5F60,mta1,c,orange.test,1,1000,30,,queued,1,,0,0\n");
    assert_int_equal(num(sum, "messages", "arrived"), 4);
    assert_int_equal(num(sum, "messages", "delivered"), 2);
    assert_int_equal(num(sum, "messages", "bounced"), 1);
    assert_int_equal(num(sum, "messages", "queued"), 1);
    assert_int_equal(num(sum, "messages", "attempts"), 5);
    assert_int_equal(num(sum, "messages", "deferrals"), 2);
    assert_int_equal(num(sum, "messages", "first_attempt_deferred"), 3);
    assert_true(fabs(num(sum, "messages", "first_attempt_deferral_rate") - 0.75) < 1e-9);
    assert_true(json_is_null(json_object_get(json_object_get(sum, "queue"), "drained_at")));
    assert_int_equal(num(sum, "queue", "at_end"), 1);
    assert_int_equal(num(sum, "replay", "inject_failed"), 1);
    assert_int_equal(num(sum, "replay", "unclaimed_lines"), 1);
    json_t *reasons = json_object_get(sum, "deferrals");
    assert_int_equal(json_integer_value(json_object_get(reasons, "421 greeting")), 1);
    assert_int_equal(json_integer_value(json_object_get(reasons, "suspended")), 1);
    json_t *orange = json_object_get(json_object_get(sum, "destinations"), "smtp:orange.test");
    assert_non_null(orange);
    assert_string_equal(json_string_value(json_object_get(orange, "receiver")), "orange");
    assert_int_equal(json_integer_value(json_object_get(orange, "deliveries")), 1);
    assert_int_equal(json_integer_value(json_object_get(orange, "dead_episodes")), 1);
    assert_true(json_is_null(json_object_get(orange, "dead_time")));
    assert_true(fabs(num(sum, "latency", "max") - 300.2) < 300.2 * 0.01);
    json_decref(sum);
    free(msgs);
    free(ts);
    harness_replay_track_free(t);
    scenario_free(s);
}

/* The first n comma-separated fields of each line of text after the header, one line each. */
static char *fields(const char *text, int n)
{
    char *out = calloc(1, strlen(text) + 1), *o = out;
    const char *p = strchr(text, '\n') + 1;
    while (*p) {
        int k = 0;
        while (*p && *p != '\n') {
            if (*p == ',' && ++k == n) {
                while (*p && *p != '\n')
                    p++;
                break;
            }
            *o++ = *p++;
        }
        *o++ = '\n';
        if (*p)
            p++;
    }
    return out;
}

/* m1 arrives at 5, active at 8, deferred at 9, active again at 26, sent at 27; m2 arrives at 12,
 * active at 22, sent at 22.5. */
/* A message of thousands of recipients: delivered when the last one is final, whatever order the
 * log gives them in, and a recipient logged again (a deferral, then its delivery) counts once. */
static void test_many_recipients(void **state)
{
    (void)state;
    static const struct {
        uint32_t nrcpt, defer_every; /* every defer_every-th recipient is deferred on the first pass */
    } cases[] = {{5000, 0}, {5000, 7}, {TRAFFIC_MAX_RCPT, 3}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        scenario *s = load();
        harness_replay_track *t = harness_replay_track_create(s, 1, 1);
        harness_replay_msg m = msg(1, "3F2A1B00C4", "orange.test", 1);
        uint32_t n = cases[k].nrcpt, d = cases[k].defer_every;
        m.nrcpt = n;
        assert_int_equal(harness_replay_track_injected(t, &m), 0);
        char text[512];
        snprintf(text, sizeof(text),
                 PF "00:01 mta1 postfix/qmgr[31400]: 3F2A1B00C4: from=<noreply@tempfail.test>, size=1234, nrcpt=%u "
                    "(queue active)",
                 n);
        line(t, 0, text);
        /* the first pass, last recipient first */
        for (uint32_t i = n; i-- > 0;) {
            bool defer = d && i % d == 0;
            snprintf(text, sizeof(text),
                     PF "00:02 mta1 postfix/smtp[31401]: 3F2A1B00C4: to=<u1.%u@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, "
                        "delay=1, delays=0.01/0/0.5/0.49, dsn=%s, status=%s",
                     i, defer ? "4.2.0" : "2.0.0",
                     defer ? "deferred (host 127.0.0.2[127.0.0.2] said: 450 4.2.0 try later (in reply to RCPT TO command))"
                           : "sent (250 2.0.0 Ok: queued as ABC)");
            line(t, 0, text);
        }
        if (d) {
            assert_int_equal(harness_replay_track_state(t, 1), HARNESS_REPLAY_QUEUED);
            line(t, 0, PF "00:10 mta1 postfix/qmgr[31400]: 3F2A1B00C4: from=<noreply@tempfail.test>, size=1234, "
                          "nrcpt=1 (queue active)");
            for (uint32_t i = 0; i < n; i += d) {
                snprintf(text, sizeof(text),
                         PF "00:11 mta1 postfix/smtp[31402]: 3F2A1B00C4: to=<u1.%u@orange.test>, "
                            "relay=127.0.0.2[127.0.0.2]:2525, delay=10, delays=9/0/0.5/0.5, dsn=2.0.0, status=sent "
                            "(250 2.0.0 Ok: queued as ABD)",
                         i);
                /* not final until the last of them */
                assert_int_equal(harness_replay_track_state(t, 1), HARNESS_REPLAY_QUEUED);
                line(t, 0, text);
            }
        }
        assert_int_equal(harness_replay_track_state(t, 1), HARNESS_REPLAY_DELIVERED);
        harness_replay_counts c;
        harness_replay_track_counts(t, &c);
        assert_int_equal(c.delivered, 1);
        assert_int_equal(c.outstanding, 0);
        assert_int_equal(c.deferrals, d ? (n + d - 1) / d : 0);
        harness_replay_track_free(t);
        scenario_free(s);
    }
}

static void test_timeseries(void **state)
{
    (void)state;
    scenario *s = load();
    harness_replay_track *t = harness_replay_track_create(s, 1, 1);
    harness_replay_msg m1 = msg(1, "AAAA000001", "orange.test", 5), m2 = msg(2, "AAAA000002", "gmail.test", 12);
    assert_int_equal(harness_replay_track_injected(t, &m1), 0);
    assert_int_equal(harness_replay_track_injected(t, &m2), 0);
    line(t, 0, PF "00:08 mta1 postfix/qmgr[1]: AAAA000001: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:09 mta1 postfix/smtp[2]: AAAA000001: to=<u1@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, delay=4, delays=3/0/1/0, dsn=4.7.0, status=deferred (host 127.0.0.2[127.0.0.2] said: 421 4.7.0 Too many connections (in reply to RCPT TO command))");
    line(t, 0, PF "00:22 mta1 postfix/qmgr[1]: AAAA000002: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:22 mta1 postfix/smtp[3]: AAAA000002: to=<u2@gmail.test>, relay=127.0.0.4[127.0.0.4]:2525, delay=10.5, delays=10/0/0.25/0.25, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as B)");
    line(t, 0, PF "00:22 mta1 postfix/qmgr[1]: AAAA000002: removed");
    line(t, 0, PF "00:26 mta1 postfix/qmgr[1]: AAAA000001: from=<noreply@tempfail.test>, size=1234, nrcpt=1 (queue active)");
    line(t, 0, PF "00:27 mta1 postfix/smtp[2]: AAAA000001: to=<u1@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, delay=22, delays=21/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C)");
    line(t, 0, PF "00:27 mta1 postfix/qmgr[1]: AAAA000001: removed");
    assert_true(harness_replay_track_settled(t));
    char *msgs, *ts;
    json_t *sum = write_all(t, NULL, sim_time_from_sec(40), &msgs, &ts);
    char *head = fields(ts, 8);
    assert_string_equal(head, "0,0,0,0,0,0,0,0\n"
                              "10,0,0,1,5,0,0,1\n"
                              "20,1,0,1,15,0,0,0\n"
                              "30,0,0,0,0,2,0,0\n"
                              "40,0,0,0,0,0,0,0\n");
    assert_true(strncmp(ts, "time,queue.incoming,queue.active,queue.deferred,queue.oldest,delivered,bounced,deferred,"
                            "orange.sessions.busy,", 100) == 0);
    assert_non_null(strstr(ts, ",window.smtp:orange.test,window.smtp:gmail.test,cpu.utilisation,disk.utilisation\n"));
    json_t *peak = json_object_get(json_object_get(sum, "queue"), "peak");
    assert_int_equal(json_integer_value(json_object_get(peak, "incoming")), 1);
    assert_int_equal(json_integer_value(json_object_get(peak, "active")), 1);
    assert_int_equal(json_integer_value(json_object_get(peak, "deferred")), 1);
    assert_int_equal(json_integer_value(json_object_get(peak, "total")), 2);
    assert_true(fabs(num(sum, "queue", "oldest") - 15) < 1e-9);
    assert_true(fabs(num(sum, "queue", "drained_at") - 27) < 1e-9);
    /* in the system: m1 5..27 (22 s), m2 12..22.5 (10.5 s), over 40 s */
    json_t *mean = json_object_get(json_object_get(sum, "queue"), "mean");
    assert_true(fabs(json_number_value(json_object_get(mean, "total")) - 32.5 / 40) < 1e-9);
    assert_true(json_is_true(json_object_get(json_object_get(sum, "simulated"), "drained")));
    free(head);
    json_decref(sum);
    free(msgs);
    free(ts);
    harness_replay_track_free(t);
    scenario_free(s);
}

/* At speedup 4 the log's delays are a quarter of the scenario's. */
static void test_speedup(void **state)
{
    (void)state;
    scenario *s = load();
    harness_replay_track *t = harness_replay_track_create(s, 1, 4);
    harness_replay_msg m = msg(1, "BBBB000001", "gmail.test", 10);
    assert_int_equal(harness_replay_track_injected(t, &m), 0);
    line(t, 0, PF "00:04 mta1 postfix/smtp[3]: BBBB000001: to=<u1@gmail.test>, relay=127.0.0.4[127.0.0.4]:2525, delay=1.5, delays=0.25/0/1/0.25, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as B)");
    char *msgs, *ts;
    json_t *sum = write_all(t, NULL, sim_time_from_sec(20), &msgs, &ts);
    assert_non_null(strstr(msgs, "\n1,BBBB000001,mta1,c,gmail.test,1,1000,10,16,delivered,1,6,0,0\n"));
    char *head = fields(ts, 8);
    /* incoming 10..11 (a = 0.25 s real), active 11..16 */
    assert_string_equal(head, "0,0,0,0,0,0,0,0\n"
                              "10,1,0,0,0,0,0,0\n"
                              "20,0,0,0,0,1,0,0\n");
    assert_true(fabs(num(sum, "replay", "speedup") - 4) < 1e-12);
    free(head);
    json_decref(sum);
    free(msgs);
    free(ts);
    harness_replay_track_free(t);
    scenario_free(s);
}

/* testsmtpd's event log at speedup 2: the receivers' columns and figures in scenario time. */
static void test_events(void **state)
{
    (void)state;
    scenario *s = load();
    harness_replay_track *t = harness_replay_track_create(s, 1, 2);
    char path[] = "/tmp/test_replay_track_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"t\": 1.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"connect\", \"text\": \"127.0.0.1\"}\n"
          "{\"t\": 1.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"busy\"}\n"
          "{\"t\": 1.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"reply\", \"text\": \"220 mx1 ESMTP\"}\n"
          "{\"t\": 1.1, \"session\": 1, \"receiver\": \"orange\", \"event\": \"command\", \"text\": \"MAIL FROM:<a@b>\"}\n"
          "{\"t\": 1.1, \"session\": 1, \"receiver\": \"orange\", \"event\": \"reply\", \"text\": \"250 2.1.0 Ok\"}\n"
          "{\"t\": 1.2, \"session\": 1, \"receiver\": \"orange\", \"event\": \"command\", \"text\": \"RCPT TO:<u@orange.test>\"}\n"
          "{\"t\": 1.2, \"session\": 1, \"receiver\": \"orange\", \"event\": \"reply\", \"text\": \"250 2.1.5 Ok\"}\n"
          "{\"t\": 1.3, \"session\": 1, \"receiver\": \"orange\", \"event\": \"command\", \"text\": \"DATA\"}\n"
          "{\"t\": 1.3, \"session\": 1, \"receiver\": \"orange\", \"event\": \"reply\", \"text\": \"354 go ahead\"}\n"
          "{\"t\": 2.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"message\", \"size\": 10, \"sha256\": \"x\"}\n"
          "{\"t\": 2.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"reply\", \"text\": \"250 2.0.0 Ok\"}\n"
          "{\"t\": 2.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"idle\"}\n"
          "{\"t\": 3.0, \"session\": 2, \"receiver\": \"orange\", \"event\": \"connect\", \"text\": \"127.0.0.1\"}\n"
          "{\"t\": 3.0, \"session\": 2, \"receiver\": \"orange\", \"event\": \"busy\"}\n"
          "{\"t\": 3.0, \"session\": 2, \"receiver\": \"orange\", \"event\": \"reply\", \"rule\": \"concurrency_per_ip\", \"text\": \"421 4.7.0 Too many connections\"}\n"
          "{\"t\": 3.0, \"session\": 2, \"receiver\": \"orange\", \"event\": \"close\"}\n"
          "{\"t\": 6.0, \"session\": 1, \"receiver\": \"orange\", \"event\": \"close\"}\n",
          f);
    fclose(f);
    char *msgs, *ts;
    events_scale = 2; /* a log counting real seconds, at speedup 2 */
    json_t *sum = write_all(t, path, sim_time_from_sec(20), &msgs, &ts);
    events_scale = 1;
    unlink(path);
    /* orange's columns follow the MTA's 7: busy, idle, 2xx, 421, 4xx, 5xx; at 10 s (real 5 s) */
    char *head = fields(ts, 14);
    assert_string_equal(head, "0,0,0,0,0,0,0,0,0,0,0,0,0,0\n"
                              "10,0,0,0,0,0,0,0,0,1,4,1,0,0\n"
                              "20,0,0,0,0,0,0,0,0,0,0,0,0,0\n");
    json_t *o = json_object_get(json_object_get(sum, "receivers"), "orange");
    assert_int_equal(json_integer_value(json_object_get(o, "connections")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "refused")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "messages")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "recipients")), 1);
    json_t *rep = json_object_get(o, "replies");
    assert_int_equal(json_integer_value(json_object_get(rep, "220")), 1);
    assert_int_equal(json_integer_value(json_object_get(rep, "250")), 3);
    assert_int_equal(json_integer_value(json_object_get(rep, "354")), 1);
    assert_int_equal(json_integer_value(json_object_get(rep, "421")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "refused_by_rule"), "concurrency_per_ip")), 1);
    json_t *ss = json_object_get(o, "sessions");
    assert_int_equal(json_integer_value(json_object_get(ss, "peak")), 2);
    assert_int_equal(json_integer_value(json_object_get(ss, "peak_busy")), 1);
    assert_int_equal(json_integer_value(json_object_get(ss, "peak_idle")), 1);
    assert_int_equal(json_integer_value(json_object_get(ss, "cap")), 3);
    /* session 1 open 2..12 s, over 20 s */
    assert_true(fabs(json_number_value(json_object_get(ss, "mean")) - 0.5) < 1e-9);
    free(head);
    json_decref(sum);
    free(msgs);
    free(ts);
    harness_replay_track_free(t);
    scenario_free(s);
}

/* ---- the summary's keys against a simulated run's ---- */

static bool busy(void *ctx) { return world_busy(ctx); }

static json_t *simulated_summary(const scenario *s)
{
    sim_calendar *cal = sim_calendar_create(1024);
    results_messages_tally tally = {.warmup = s->warmup};
    world_config wc = {.traffic = &s->traffic, .mta = &s->mta, .receivers = s->receivers,
                       .nreceivers = s->nreceivers, .seed = s->seed, .replication = s->replication,
                       .horizon = s->duration};
    char werr[256];
    world *w = world_create(&wc, cal, werr, sizeof(werr));
    if (!w)
        fail_msg("world: %s", werr);
    sim_run_config rc = {.horizon = s->duration, .ctx = w, .busy = busy};
    sim_run_result rr;
    sim_run(cal, &rc, &rr);
    world_finish(w, rr.end);
    json_t *sum = tempfail_summary_build(s, w, &rr, &tally);
    sim_calendar_free(cal);
    world_free(w);
    return sum;
}

static void same_keys(const json_t *a, const json_t *b, const char *what, const char *skip)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        if (skip && strcmp(k, skip) == 0)
            continue;
        if (!json_object_get(b, k))
            fail_msg("%s: %s only in the first", what, k);
    }
    json_object_foreach((json_t *)b, k, v)
    {
        if (skip && strcmp(k, skip) == 0)
            continue;
        if (!json_object_get(a, k))
            fail_msg("%s: %s only in the second", what, k);
    }
}

static void test_summary_keys(void **state)
{
    (void)state;
    scenario *s = load();
    json_t *sim = simulated_summary(s);
    harness_replay_track *t = harness_replay_track_create(s, 1, 1);
    harness_replay_msg m = msg(1, "CCCC000001", "orange.test", 1);
    assert_int_equal(harness_replay_track_injected(t, &m), 0);
    line(t, 0, PF "00:01 mta1 postfix/smtp[3]: CCCC000001: to=<u1@orange.test>, relay=127.0.0.2[127.0.0.2]:2525, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as B)");
    char *msgs, *ts;
    json_t *rep = write_all(t, NULL, sim_time_from_sec(30), &msgs, &ts);
    assert_non_null(json_object_get(rep, "replay"));
    same_keys(sim, rep, "top level", "replay");
    static const char *const objs[] = {"simulated", "messages", "latency", "queue", "resources"};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
        same_keys(json_object_get(sim, objs[i]), json_object_get(rep, objs[i]), objs[i], NULL);
    same_keys(json_object_get(json_object_get(sim, "classes"), "c"), json_object_get(json_object_get(rep, "classes"), "c"),
              "classes.c", NULL);
    same_keys(json_object_get(sim, "receivers"), json_object_get(rep, "receivers"), "receivers", NULL);
    const char *r;
    json_t *v;
    json_object_foreach(json_object_get(sim, "receivers"), r, v)
    {
        json_t *rv = json_object_get(json_object_get(rep, "receivers"), r);
        same_keys(v, rv, r, NULL);
        same_keys(json_object_get(v, "sessions"), json_object_get(rv, "sessions"), "sessions", NULL);
        same_keys(json_object_get(v, "wait"), json_object_get(rv, "wait"), "wait", NULL);
    }
    /* the replay's destinations are a subset of the model's, under the same names and keys */
    json_object_foreach(json_object_get(rep, "destinations"), r, v)
    {
        json_t *sv = json_object_get(json_object_get(sim, "destinations"), r);
        if (!sv)
            fail_msg("destination %s not in the simulated run", r);
        same_keys(sv, v, r, NULL);
    }
    /* the charts and report.html are drawn from a replay's files as from a simulated run's */
    char dir[] = "/tmp/test_replay_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *const names[] = {"messages.csv", "timeseries.csv", "summary.json"};
    const char *texts[] = {msgs, ts, NULL};
    for (int i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        if (texts[i])
            fputs(texts[i], f);
        else
            assert_int_equal(results_json_write(f, rep), 0);
        fclose(f);
    }
    char perr[512] = "";
    int prc = tempfail_plot_dir(dir, dir, true, RESULTS_PLOT_PNG, true, perr, sizeof(perr));
    if (prc != 0)
        fail_msg("plot: %s", perr);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "test -s %s/queue.png && test -s %s/report.html && rm -r %s", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    json_decref(sim);
    json_decref(rep);
    free(msgs);
    free(ts);
    harness_replay_track_free(t);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_to_rows), cmocka_unit_test(test_many_recipients), cmocka_unit_test(test_timeseries), cmocka_unit_test(test_speedup),
        cmocka_unit_test(test_events),        cmocka_unit_test(test_summary_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
