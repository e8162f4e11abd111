/*
 * Tests of harness/harness_smtpd_events.c: a hand-written testsmtpd event log gives exact samples
 * (busy/idle transitions, a 421 at connect that closes, RSET, a session still open at the end,
 * several receivers); malformed logs are refused naming the line; the session table survives many
 * sessions closing in any order; the columns are named as a simulated run names them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "harness/harness_smtpd_events.h"
#include "memout.h"

#define MAX_SAMPLES 16

/* What the sample callback saw. */
typedef struct seen {
    size_t n;
    sim_time_t t[MAX_SAMPLES];
    harness_smtpd_counts c[MAX_SAMPLES][2];
} seen;

static void on_sample(void *ctx, sim_time_t t, const harness_smtpd_counts *c, size_t n)
{
    seen *s = ctx;
    assert_true(s->n < MAX_SAMPLES);
    assert_int_equal(n, 2);
    s->t[s->n] = t;
    memcpy(s->c[s->n], c, n * sizeof(*c));
    s->n++;
}

static const char *const receivers[] = {"orange", "other"};

#define L(t, id, r, rest) "{\"t\": " #t ", \"session\": " #id ", \"receiver\": \"" r "\", \"peer\": \"127.0.0.1\", " rest "}\n"

static const char LOG[] =
    /* orange, session 1: a transaction; idle after it */
    L(1.000000, 1, "orange", "\"event\": \"connect\", \"text\": \"127.0.0.1\"")
    L(1.000000, 1, "orange", "\"event\": \"busy\"")
    L(1.000100, 1, "orange", "\"event\": \"reply\", \"text\": \"220 mx ESMTP testsmtpd\"")
    L(2.000000, 1, "orange", "\"event\": \"command\", \"text\": \"EHLO c\"")
    L(2.000100, 1, "orange", "\"event\": \"reply\", \"text\": \"250-mx\\u000a250 PIPELINING\"")
    L(3.000000, 1, "orange", "\"event\": \"reply\", \"text\": \"250 2.1.0 Ok\"")
    L(4.000000, 1, "orange", "\"event\": \"reply\", \"text\": \"250 2.1.5 Ok\"")
    L(4.100000, 1, "orange", "\"event\": \"reply\", \"text\": \"354 End data with <CR><LF>.<CR><LF>\"")
    L(5.000000, 1, "orange", "\"event\": \"message\", \"size\": 61, \"sha256\": \"00\"")
    L(5.000100, 1, "orange", "\"event\": \"reply\", \"text\": \"250 2.0.0 Ok: queued as 1\"")
    L(5.000200, 1, "orange", "\"event\": \"idle\"")
    /* orange, session 2: a 421 at connect that closes */
    L(6.000000, 2, "orange", "\"event\": \"connect\", \"text\": \"127.0.0.1\"")
    L(6.000000, 2, "orange", "\"event\": \"busy\"")
    L(6.000100, 2, "orange", "\"event\": \"reply\", \"rule\": \"concurrency_per_ip\", \"text\": \"421 4.7.0 Too many\"")
    L(6.000200, 2, "orange", "\"event\": \"close\", \"rule\": \"concurrency_per_ip\"")
    /* orange, session 5: refused by the server before its policy saw it (never open) */
    L(7.000000, 5, "orange", "\"event\": \"connect\"")
    L(7.000000, 5, "orange", "\"event\": \"reply\", \"rule\": \"max_sessions\", \"text\": \"421 4.3.2 mx Error\"")
    L(7.000000, 5, "orange", "\"event\": \"close\"")
    /* other, session 3: connects at a sample instant, which belongs to that sample */
    L(10.000000, 3, "other", "\"event\": \"connect\", \"text\": \"127.0.0.1\"")
    L(10.000000, 3, "other", "\"event\": \"busy\"")
    L(10.000000, 3, "other", "\"event\": \"reply\", \"text\": \"220 mx ESMTP testsmtpd\"")
    /* session 1 again: MAIL makes it busy, RSET idle */
    L(12.000000, 1, "orange", "\"event\": \"command\", \"text\": \"MAIL FROM:<a@b>\"")
    L(12.000000, 1, "orange", "\"event\": \"busy\"")
    L(12.000100, 1, "orange", "\"event\": \"reply\", \"text\": \"250 2.1.0 Ok\"")
    L(13.000000, 1, "orange", "\"event\": \"idle\"")
    L(13.000100, 1, "orange", "\"event\": \"reply\", \"text\": \"250 2.0.0 Ok\"")
    /* session 3: a refused MAIL; still busy from its connect, idle after the refusal */
    L(15.000000, 3, "other", "\"event\": \"reply\", \"rule\": \"x\", \"text\": \"550 5.7.1 no\"")
    L(15.000100, 3, "other", "\"event\": \"idle\"")
    /* session 1 quits */
    L(21.000000, 1, "orange", "\"event\": \"reply\", \"text\": \"221 2.0.0 Bye\"")
    L(21.000100, 1, "orange", "\"event\": \"close\"")
    /* orange, session 4: still open at the end, with a 4xx that is not a 421 */
    L(25.000000, 4, "orange", "\"event\": \"connect\", \"text\": \"127.0.0.1\"")
    L(25.000000, 4, "orange", "\"event\": \"busy\"")
    L(25.000100, 4, "orange", "\"event\": \"reply\", \"text\": \"220 mx ESMTP testsmtpd\"")
    L(26.000000, 4, "orange", "\"event\": \"reply\", \"text\": \"452 4.5.3 Too many recipients\"")
    L(27.000000, 4, "orange", "\"event\": \"tls\"");

static void assert_counts(const harness_smtpd_counts *c, uint64_t busy, uint64_t idle, uint64_t r2, uint64_t r421,
                          uint64_t r4, uint64_t r5)
{
    assert_int_equal(c->busy, busy);
    assert_int_equal(c->idle, idle);
    assert_int_equal(c->replies[RESULTS_REPLY_2XX], r2);
    assert_int_equal(c->replies[RESULTS_REPLY_421], r421);
    assert_int_equal(c->replies[RESULTS_REPLY_4XX], r4);
    assert_int_equal(c->replies[RESULTS_REPLY_5XX], r5);
}

static void test_samples(void **state)
{
    (void)state;
    seen s = {0};
    harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 10 * SIM_SEC, on_sample, &s);
    FILE *f = fmemopen((void *)LOG, sizeof(LOG) - 1, "r");
    assert_non_null(f);
    char err[256] = "";
    assert_int_equal(harness_smtpd_events_read(ev, f, err, sizeof(err)), 0);
    fclose(f);
    assert_int_equal(s.n, 3); /* 0, 10 and 20: the log's last line is at 27 */
    harness_smtpd_events_finish(ev, 30 * SIM_SEC);
    harness_smtpd_events_free(ev);

    assert_int_equal(s.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.t[i], (sim_time_t)i * 10 * SIM_SEC);
    /*                          busy idle 2xx 421 4xx 5xx */
    assert_counts(&s.c[0][0], 0, 0, 0, 0, 0, 0);
    assert_counts(&s.c[0][1], 0, 0, 0, 0, 0, 0);
    /* 10: session 1 idle, 2 closed by its 421, 5 never open; the 354 is in no class */
    assert_counts(&s.c[1][0], 0, 1, 5, 2, 0, 0);
    assert_counts(&s.c[1][1], 1, 0, 1, 0, 0, 0);
    /* 20: session 1 busy and idle again within the interval; session 3 idle after its 550 */
    assert_counts(&s.c[2][0], 0, 1, 2, 0, 0, 0);
    assert_counts(&s.c[2][1], 0, 1, 0, 0, 0, 1);
    /* 30: session 1 closed, 4 open and busy */
    assert_counts(&s.c[3][0], 1, 0, 2, 0, 1, 0);
    assert_counts(&s.c[3][1], 0, 1, 0, 0, 0, 0);
}

/* A refusal counts once for its rule: a 421 and the close after it are one refusal, a silent close
 * (no reply) is one too. */
static void test_rule_totals(void **state)
{
    (void)state;
    static const char log[] =
        L(1.0, 1, "orange", "\"event\": \"connect\"") L(1.0, 1, "orange", "\"event\": \"busy\"")
        L(1.1, 1, "orange", "\"event\": \"reply\", \"rule\": \"concurrency_per_ip\", \"text\": \"421 4.7.0 no\"")
        L(1.2, 1, "orange", "\"event\": \"close\", \"rule\": \"concurrency_per_ip\"")
        L(2.0, 2, "orange", "\"event\": \"connect\"") L(2.0, 2, "orange", "\"event\": \"busy\"")
        L(2.5, 2, "orange", "\"event\": \"close\", \"text\": \"silent\", \"rule\": \"messages_per_session\"");
    seen s = {0};
    harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 10 * SIM_SEC, on_sample, &s);
    FILE *f = fmemopen((void *)log, sizeof(log) - 1, "r");
    assert_non_null(f);
    char err[256] = "";
    assert_int_equal(harness_smtpd_events_read(ev, f, err, sizeof(err)), 0);
    fclose(f);
    harness_smtpd_events_finish(ev, 10 * SIM_SEC);
    const harness_smtpd_totals *t = harness_smtpd_events_totals(ev, 0);
    assert_int_equal(t->refused, 2);
    assert_int_equal(t->nrules, 2);
    assert_string_equal(t->rules[0].name, "concurrency_per_ip");
    assert_int_equal(t->rules[0].n, 1);
    assert_string_equal(t->rules[1].name, "messages_per_session");
    assert_int_equal(t->rules[1].n, 1);
    harness_smtpd_events_free(ev);
}

/* A log that does not hold together is refused, naming the line. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *log;
        const char *err;
    } cases[] = {
        {L(1, 1, "orange", "\"event\": \"connect\"") "{\"t\": 2, \"session\": 1,\n", "line 2: not JSON: "},
        {"[1, 2]\n", "line 1: not a JSON object"},
        {"{\"session\": 1, \"receiver\": \"orange\", \"event\": \"busy\"}\n", "line 1: no time \"t\""},
        {"{\"t\": -1, \"session\": 1, \"receiver\": \"orange\", \"event\": \"busy\"}\n", "line 1: no time \"t\""},
        {"{\"t\": 1, \"session\": 1, \"receiver\": \"orange\"}\n", "line 1: no \"event\""},
        {"{\"t\": 1, \"session\": 1, \"event\": \"busy\"}\n", "line 1: no \"receiver\""},
        {L(1, 1, "blue", "\"event\": \"connect\""), "line 1: unknown receiver 'blue'"},
        {L(1, 0, "orange", "\"event\": \"connect\""), "line 1: no \"session\" number"},
        {L(2, 1, "orange", "\"event\": \"connect\"") L(1.5, 2, "orange", "\"event\": \"connect\""),
         "line 2: t 1.500000 is before the line above's"},
        {L(1, 1, "orange", "\"event\": \"idle\""), "line 1: session 1 idle but not busy"},
        {L(1, 1, "orange", "\"event\": \"busy\"") L(1, 1, "orange", "\"event\": \"busy\""),
         "line 2: session 1 busy twice"},
        {L(1, 1, "orange", "\"event\": \"busy\"") L(1, 1, "other", "\"event\": \"idle\""),
         "line 2: session 1 changes receiver"},
        {L(1, 1, "orange", "\"event\": \"busy\"") L(1, 1, "orange", "\"event\": \"connect\""),
         "line 2: session 1 connects again"},
        {L(1, 1, "orange", "\"event\": \"reply\", \"text\": \"hello\""), "line 1: a reply without a code"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen s = {0};
        harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 10 * SIM_SEC, on_sample, &s);
        FILE *f = fmemopen((void *)cases[i].log, strlen(cases[i].log), "r");
        assert_non_null(f);
        char err[256] = "";
        assert_int_equal(harness_smtpd_events_read(ev, f, err, sizeof(err)), -EINVAL);
        if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].err);
        fclose(f);
        harness_smtpd_events_free(ev);
    }
}

/* Lines up to the bound are read; one byte more is an error naming the line. */
static void test_long_line(void **state)
{
    (void)state;
    size_t max = HARNESS_SMTPD_EVENTS_LINE_MAX;
    char *log = malloc(2 * max + 16);
    assert_non_null(log);
    for (int extra = 0; extra < 2; extra++) {
        static const char head[] = "{\"t\": 1, \"session\": 1, \"receiver\": \"orange\", \"event\": \"command\", \"text\": \"";
        static const char first[] = L(0.5, 9, "orange", "\"event\": \"connect\"");
        memcpy(log, first, sizeof(first) - 1);
        size_t n = sizeof(first) - 1, start = n;
        memcpy(log + n, head, sizeof(head) - 1);
        n += sizeof(head) - 1;
        /* the line is max bytes with its newline, or one more */
        while (n - start < max - 3 + (size_t)extra)
            log[n++] = 'x';
        memcpy(log + n, "\"}\n", 3);
        n += 3;
        assert_int_equal(n - start, max + (size_t)extra);
        seen s = {0};
        harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 10 * SIM_SEC, on_sample, &s);
        FILE *f = fmemopen(log, n, "r");
        char err[256] = "";
        int rc = harness_smtpd_events_read(ev, f, err, sizeof(err));
        if (extra == 0)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(err, "line 2: longer than 8192 bytes");
        }
        fclose(f);
        harness_smtpd_events_free(ev);
    }
    free(log);
}

/* Many sessions open at once, closed in a shuffled order: the table keeps every one. */
static void test_many_sessions(void **state)
{
    (void)state;
    enum { N = 3000 };
    seen s = {0};
    harness_smtpd_events *ev = harness_smtpd_events_create(receivers, 2, 100 * SIM_SEC, on_sample, &s);
    char line[256], err[256];
    for (int i = 1; i <= N; i++) {
        int k = snprintf(line, sizeof(line), "{\"t\": 1, \"session\": %d, \"receiver\": \"%s\", \"event\": \"busy\"}", i,
                         receivers[i % 2]);
        assert_int_equal(harness_smtpd_events_line(ev, line, (size_t)k, err, sizeof(err)), 0);
    }
    /* every third idle; then half of them close in a stride order (7 is prime to N: no session twice) */
    for (int i = 3; i <= N; i += 3) {
        int k = snprintf(line, sizeof(line), "{\"t\": 2, \"session\": %d, \"receiver\": \"%s\", \"event\": \"idle\"}", i,
                         receivers[i % 2]);
        assert_int_equal(harness_smtpd_events_line(ev, line, (size_t)k, err, sizeof(err)), 0);
    }
    harness_smtpd_events_finish(ev, 0);
    assert_int_equal(s.n, 1);
    for (int j = 0; j < N / 2; j++) {
        int i = (j * 7) % N + 1;
        int k = snprintf(line, sizeof(line), "{\"t\": 3, \"session\": %d, \"receiver\": \"%s\", \"event\": \"close\"}", i,
                         receivers[i % 2]);
        assert_int_equal(harness_smtpd_events_line(ev, line, (size_t)k, err, sizeof(err)), 0);
    }
    harness_smtpd_events_finish(ev, 100 * SIM_SEC);
    assert_int_equal(s.n, 2);
    /* count what is left by hand */
    uint64_t want[2][2] = {{0}};
    for (int i = 1; i <= N; i++) {
        bool closed = false;
        for (int j = 0; j < N / 2 && !closed; j++)
            closed = (j * 7) % N + 1 == i;
        if (!closed)
            want[i % 2][i % 3 == 0]++;
    }
    for (int r = 0; r < 2; r++) {
        assert_int_equal(s.c[1][r].busy, want[r][0]);
        assert_int_equal(s.c[1][r].idle, want[r][1]);
    }
    /* and every session still open can still be found: closing them all empties the counts */
    for (int i = 1; i <= N; i++) {
        int k = snprintf(line, sizeof(line), "{\"t\": 4, \"session\": %d, \"receiver\": \"%s\", \"event\": \"close\"}", i,
                         receivers[i % 2]);
        assert_int_equal(harness_smtpd_events_line(ev, line, (size_t)k, err, sizeof(err)), 0);
    }
    harness_smtpd_events_finish(ev, 200 * SIM_SEC);
    assert_int_equal(s.n, 3);
    assert_counts(&s.c[2][0], 0, 0, 0, 0, 0, 0);
    assert_counts(&s.c[2][1], 0, 0, 0, 0, 0, 0);
    harness_smtpd_events_free(ev);
}

static void test_classes(void **state)
{
    (void)state;
    assert_int_equal(results_reply_class(220), RESULTS_REPLY_2XX);
    assert_int_equal(results_reply_class(299), RESULTS_REPLY_2XX);
    assert_int_equal(results_reply_class(354), -1);
    assert_int_equal(results_reply_class(421), RESULTS_REPLY_421);
    assert_int_equal(results_reply_class(450), RESULTS_REPLY_4XX);
    assert_int_equal(results_reply_class(554), RESULTS_REPLY_5XX);
    assert_int_equal(results_reply_class(199), -1);
}

/* The columns as tempfail run names them (docs/results.md), and a row from a sample. */
static void test_columns(void **state)
{
    (void)state;
    memout m;
    results_timeseries *ts = results_timeseries_create(memout_open(&m));
    assert_non_null(ts);
    assert_int_equal(results_timeseries_add_column(ts, "delivered"), 0);
    assert_int_equal(harness_smtpd_events_add_columns(ts, receivers, 2), 1);
    harness_smtpd_counts c[2] = {{.busy = 3, .idle = 1, .replies = {10, 2, 1, 0}},
                                 {.busy = 0, .idle = 0, .replies = {0, 0, 0, 4}}};
    results_timeseries_set(ts, 0, 7);
    harness_smtpd_events_set(ts, 1, c, 2);
    assert_int_equal(results_timeseries_row(ts, 10 * SIM_SEC), 0);
    assert_int_equal(results_timeseries_finish(ts), 0);
    results_timeseries_free(ts);
    char *out = memout_close(&m);
    const char *header = "time,delivered,orange.sessions.busy,orange.sessions.idle,orange.replies.2xx,"
                         "orange.replies.421,orange.replies.4xx,orange.replies.5xx,other.sessions.busy,"
                         "other.sessions.idle,other.replies.2xx,other.replies.421,other.replies.4xx,"
                         "other.replies.5xx\n";
    assert_memory_equal(out, header, strlen(header));
    assert_non_null(strstr(out + strlen(header), ",7,3,1,10,2,1,0,0,0,0,0,0,4"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),     cmocka_unit_test(test_rule_totals), cmocka_unit_test(test_errors),  cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_many_sessions), cmocka_unit_test(test_classes), cmocka_unit_test(test_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
