/*
 * test_results_compare - key figures of two summaries, their deltas, and --fail-if thresholds:
 * parsing (with the error each mistake gets), checking (holds, crossed, no value, unknown metric
 * with a suggestion), and the terminal table (aligned, colour only when asked).
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

#include <cmocka.h>

#include "memout.h"
#include "results/results_compare.h"

/* Two small summaries in summary.json's shape: B halves the 421s and makes login slower. */
static const char summary_a[] =
    "{\"scenario\": \"a\", \"messages\": {\"delivered\": 1000, \"bounced\": 0, \"queued\": 0, \"attempts\": 1200,"
    " \"deferrals\": 200, \"resent\": 10},"
    " \"latency\": {\"p50\": 0.1, \"p95\": 30, \"p99\": 600, \"max\": 3600},"
    " \"classes\": {\"login\": {\"latency\": {\"p50\": 0.1, \"p95\": 60, \"p99\": 900}, \"attempts\": {\"mean\": 1.2}},"
    "               \"news\": {\"latency\": {\"p50\": null, \"p95\": null, \"p99\": null},"
    "                        \"attempts\": {\"mean\": 1}}},"
    " \"receivers\": {\"orange\": {\"replies\": {\"421\": 400}, \"refused\": 400, \"connections\": 900,"
    "                 \"sessions\": {\"peak\": 7, \"cap\": 3}}},"
    " \"destinations\": {\"smtp:orange.test\": {\"dead_episodes\": 4, \"dead_time\": 1200}},"
    " \"queue\": {\"peak\": {\"total\": 500}, \"oldest\": 3600}, \"simulated\": {\"end\": 7200}}";
static const char summary_b[] =
    "{\"scenario\": \"b\", \"messages\": {\"delivered\": 1000, \"bounced\": 0, \"queued\": 0, \"attempts\": 1100,"
    " \"deferrals\": 100, \"resent\": 12},"
    " \"latency\": {\"p50\": 0.1, \"p95\": 33, \"p99\": 300, \"max\": 3000},"
    " \"classes\": {\"login\": {\"latency\": {\"p50\": 0.1, \"p95\": 66.5, \"p99\": 900},"
    "                         \"attempts\": {\"mean\": 1.1}},"
    "               \"news\": {\"latency\": {\"p50\": 0.2, \"p95\": 0.3, \"p99\": 0.4}, \"attempts\": {\"mean\": 1}}},"
    " \"receivers\": {\"orange\": {\"replies\": {\"421\": 200}, \"refused\": 200, \"connections\": 800,"
    "                 \"sessions\": {\"peak\": 5, \"cap\": 3}},"
    "               \"gmail\": {\"replies\": {\"421\": 0}, \"refused\": 0, \"connections\": 50,"
    "                 \"sessions\": {\"peak\": 2, \"cap\": null}}},"
    " \"destinations\": {\"smtp:orange.test\": {\"dead_episodes\": 2, \"dead_time\": 600}},"
    " \"queue\": {\"peak\": {\"total\": 250}, \"oldest\": 1800}, \"simulated\": {\"end\": 7200}}";

static json_t *A, *B;

static int setup(void **state)
{
    (void)state;
    json_error_t e;
    A = json_loads(summary_a, 0, &e);
    B = json_loads(summary_b, 0, &e);
    return A && B ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(A);
    json_decref(B);
    return 0;
}

static void test_threshold_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text, *metric;
        double amount;
        bool relative;
        int sign;
    } ok[] = {
        {"transactional.latency.p95 +10%", "transactional.latency.p95", 0.10, true, 1},
        {"messages.delivered -5%", "messages.delivered", 0.05, true, -1},
        {"login.latency.p99 +30s", "login.latency.p99", 30, false, 1},
        {"queue.oldest +2m", "queue.oldest", 120, false, 1},
        {"latency.p50 +250ms", "latency.p50", 0.25, false, 1},
        {"receivers.orange.replies.421 +100", "receivers.orange.replies.421", 100, false, 1},
        {"  orange.sessions.peak   +0  ", "orange.sessions.peak", 0, false, 1},
        {"messages.attempts +2.5%", "messages.attempts", 0.025, true, 1},
        {"destinations.smtp:orange.test.dead_time +1h", "destinations.smtp:orange.test.dead_time", 3600, false, 1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        results_threshold t;
        char err[600] = "";
        int rc = results_threshold_parse(ok[i].text, &t, err, sizeof(err));
        if (rc != 0)
            fail_msg("'%s': %s", ok[i].text, err);
        assert_string_equal(t.metric, ok[i].metric);
        assert_true(fabs(t.amount - ok[i].amount) < 1e-9);
        assert_int_equal(t.relative, ok[i].relative);
        assert_int_equal(t.sign, ok[i].sign);
        assert_string_equal(t.text, ok[i].text);
    }
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "no metric"},
        {"   ", "no metric"},
        {"transactional.latency.p95", "no change after the metric"},
        {"transactional.latency.p95 10%", "must start with + or -"},
        {"transactional.latency.p95 +x%", "is not a sign followed by a non-negative number"},
        {"transactional.latency.p95 +-5%", "is not a sign followed by a non-negative number"},
        {"transactional.latency.p95 +%", "is not a sign followed by a non-negative number"},
        {"transactional.latency.p95 +30q", "unknown unit 'q'"},
        {"transactional.latency.p95 +10% or so", "unexpected 'or so' after the change"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        results_threshold t;
        char err[600] = "";
        assert_int_equal(results_threshold_parse(bad[i].text, &t, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].says))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err, bad[i].says);
        /* the message quotes what was given, so a CI log shows which --fail-if it was */
        char quoted[300];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i].text);
        assert_non_null(strstr(err, quoted));
    }
}

static void test_threshold_check(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool crossed;
        double bound;
    } cases[] = {
        /* login p95: A 60, B 66.5 (+10.8%) */
        {"login.latency.p95 +10%", true, 66},
        {"login.latency.p95 +11%", false, 66.6},
        {"login.latency.p95 +6s", true, 66},
        {"login.latency.p95 +6.5s", false, 66.5}, /* at the bound exactly: holds */
        {"login.latency.p95 +0", true, 60},
        /* 421s: A 400, B 200 */
        {"receivers.orange.replies.421 +0%", false, 400},
        {"orange.replies.421 -40%", true, 240},   /* B fell more than 40% below A */
        {"orange.replies.421 -50%", false, 200},
        {"messages.delivered -1%", false, 990},
        {"destinations.smtp:orange.test.dead_time +0s", false, 1200},
        {"queue.oldest -10m", true, 3000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        results_threshold t;
        results_threshold_result r;
        char err[600] = "";
        assert_int_equal(results_threshold_parse(cases[i].text, &t, err, sizeof(err)), 0);
        if (results_threshold_check(&t, A, B, &r, err, sizeof(err)) != 0)
            fail_msg("'%s': %s", cases[i].text, err);
        if (r.crossed != cases[i].crossed || fabs(r.bound - cases[i].bound) > 1e-9)
            fail_msg("'%s': crossed %d bound %g, want %d %g (%s)", cases[i].text, r.crossed, r.bound,
                     cases[i].crossed, cases[i].bound, r.message);
        assert_non_null(strstr(r.message, cases[i].crossed ? "crossed" : "holds"));
    }
}

static void test_threshold_errors_and_missing_values(void **state)
{
    (void)state;
    results_threshold t;
    results_threshold_result r;
    char err[600] = "";
    /* a typo: the nearest metric is suggested */
    assert_int_equal(results_threshold_parse("login.latncy.p95 +10%", &t, err, sizeof(err)), 0);
    assert_int_equal(results_threshold_check(&t, A, B, &r, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "unknown metric 'login.latncy.p95'"));
    assert_non_null(strstr(err, "did you mean 'login.latency.p95'"));
    /* an object is not a number */
    assert_int_equal(results_threshold_parse("login.latency +10%", &t, err, sizeof(err)), 0);
    assert_int_equal(results_threshold_check(&t, A, B, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a number"));
    /* no value in A (news delivered nothing): a guard that cannot be checked is crossed */
    assert_int_equal(results_threshold_parse("news.latency.p95 +10%", &t, err, sizeof(err)), 0);
    assert_int_equal(results_threshold_check(&t, A, B, &r, err, sizeof(err)), 0);
    assert_true(r.crossed);
    assert_non_null(strstr(r.message, "no value in run A"));
    /* only B has the receiver: A's value is missing, also crossed */
    assert_int_equal(results_threshold_parse("receivers.gmail.connections +10", &t, err, sizeof(err)), 0);
    assert_int_equal(results_threshold_check(&t, A, B, &r, err, sizeof(err)), 0);
    assert_true(r.crossed);
}

static const results_compare_row *row(const results_compare *c, const char *metric)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->rows[i].metric, metric) == 0)
            return &c->rows[i];
    return NULL;
}

static void test_key_figures_and_deltas(void **state)
{
    (void)state;
    results_compare *c = results_compare_create(A, B);
    assert_non_null(c);
    static const struct {
        const char *metric;
        double a, b, delta, rel;
        bool duration;
    } cases[] = {
        {"messages.deferrals", 200, 100, -100, -0.5, false},
        {"messages.resent", 10, 12, 2, 0.2, false},
        {"login.latency.p95", 60, 66.5, 6.5, 0.108333333, true},
        {"receivers.orange.replies.421", 400, 200, -200, -0.5, false},
        {"destinations.smtp:orange.test.dead_time", 1200, 600, -600, -0.5, true},
        {"queue.oldest", 3600, 1800, -1800, -0.5, true},
        {"simulated.end", 7200, 7200, 0, 0, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const results_compare_row *r = row(c, cases[i].metric);
        if (!r)
            fail_msg("no row %s", cases[i].metric);
        assert_true(r->a == cases[i].a && r->b == cases[i].b);
        assert_true(fabs(results_compare_delta(r) - cases[i].delta) < 1e-9);
        assert_true(fabs(results_compare_relative(r) - cases[i].rel) < 1e-6);
        assert_int_equal(r->duration, cases[i].duration);
    }
    /* a receiver only B has is compared (A missing: no relative change); bounced 0 -> 0: none */
    const results_compare_row *g = row(c, "receivers.gmail.connections");
    assert_non_null(g);
    assert_true(isnan(g->a) && g->b == 50);
    assert_true(isnan(results_compare_relative(g)));
    assert_true(isnan(results_compare_relative(row(c, "messages.bounced"))));
    /* a class with no latency in A still shows B's */
    const results_compare_row *n = row(c, "news.latency.p95");
    assert_non_null(n);
    assert_true(isnan(n->a) && n->b == 0.3);
    results_compare_free(c);
}

static void test_table(void **state)
{
    (void)state;
    results_compare *c = results_compare_create(A, B);
    memout m;
    results_compare_print(memout_open(&m), c, "A", "B", false);
    char *buf = memout_close(&m);
    assert_null(strstr(buf, "\033["));
    /* aligned: every line as wide as the header's columns allow, metric first */
    assert_non_null(strstr(buf, "  metric"));
    const char *l = strstr(buf, "  login.latency.p95");
    assert_non_null(l);
    assert_non_null(strstr(l, "1m06.500s"));
    assert_non_null(strstr(l, "+6.500s"));
    assert_non_null(strstr(l, "+10.8%"));
    l = strstr(buf, "  receivers.orange.replies.421");
    assert_non_null(l);
    assert_non_null(strstr(l, "-200"));
    assert_non_null(strstr(l, "-50.0%"));
    /* all lines end at the same column (right-aligned last column) */
    size_t w = 0;
    for (char *p = buf; *p;) {
        char *e = strchr(p, '\n');
        size_t lw = (size_t)(e - p);
        if (w == 0)
            w = lw;
        assert_int_equal(lw, w);
        p = e + 1;
    }
    free(buf);
    results_compare_print(memout_open(&m), c, "A", "B", true);
    buf = memout_close(&m);
    assert_non_null(strstr(buf, "\033[31m+6.500s")); /* login p95 rose: worse, red */
    assert_non_null(strstr(buf, "\033[32m-200"));    /* fewer 421s: better, green */
    free(buf);
    results_compare_free(c);
}

static void test_fmt(void **state)
{
    (void)state;
    static const struct {
        double v;
        bool dur, sign;
        const char *out;
    } cases[] = {{NAN, false, false, "-"},       {12.5, false, false, "12.5"},  {12.5, false, true, "+12.5"},
                 {-3, false, true, "-3"},        {0, false, true, "0"},         {90, true, false, "1m30s"},
                 {-0.25, true, true, "-250ms"},  {0, true, true, "0s"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char b[64];
        results_compare_fmt(b, sizeof(b), cases[i].v, cases[i].dur, cases[i].sign);
        assert_string_equal(b, cases[i].out);
    }
    assert_true(results_compare_is_duration("transactional.latency.p95"));
    assert_true(results_compare_is_duration("queue.oldest"));
    assert_false(results_compare_is_duration("receivers.orange.replies.421"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_parse),
        cmocka_unit_test(test_threshold_check),
        cmocka_unit_test(test_threshold_errors_and_missing_values),
        cmocka_unit_test(test_key_figures_and_deltas),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_fmt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
