/*
 * test_results_report - the human summary of a small fixture summary, line for line, plus colour
 * only on request and graceful output for a summary that lacks most figures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memout.h"
#include "results/results_report.h"

static const char fixture[] =
    "{\n"
    "  \"scenario\": \"login-codes-launch\", \"seed\": 42, \"replication\": 0,\n"
    "  \"simulated\": { \"duration\": 7200, \"warmup\": 0, \"end\": 7431.5, \"events\": 123456, \"drained\": true },\n"
    "  \"messages\": { \"arrived\": 1000, \"resent\": 12, \"delivered\": 990, \"bounced\": 2, \"queued\": 8,\n"
    "                \"attempts\": 1130, \"deferrals\": 140 },\n"
    "  \"latency\": { \"mean\": 20.1, \"p50\": 1.25, \"p95\": 62.5, \"p99\": 3723, \"max\": 7000 },\n"
    "  \"classes\": {\n"
    "    \"transactional\": { \"arrived\": 800, \"delivered\": 795, \"bounced\": 0, \"queued\": 5,\n"
    "                       \"latency\": { \"mean\": 10, \"p50\": 0.35, \"p95\": 12.5, \"p99\": 301, \"max\": 900 } },\n"
    "    \"bulk\": { \"arrived\": 200, \"delivered\": 195, \"bounced\": 2, \"queued\": 3,\n"
    "              \"latency\": { \"mean\": 60, \"p50\": 30, \"p95\": 1800, \"p99\": 3723, \"max\": 7000 } }\n"
    "  },\n"
    "  \"receivers\": {\n"
    "    \"orange\": { \"connections\": 400, \"refused\": 120, \"replies\": { \"220\": 280, \"250\": 700, \"421\": 120 },\n"
    "                \"sessions\": { \"peak\": 3, \"cap\": 3 } },\n"
    "    \"gmail\": { \"connections\": 50, \"refused\": 0, \"replies\": { \"421\": 0 }, \"sessions\": { \"peak\": 7, \"cap\": 0 } },\n"
    "    \"strict\": { \"connections\": 9, \"refused\": 2, \"replies\": { \"421\": 2 }, \"sessions\": { \"peak\": 2, \"cap\": 1 } }\n"
    "  },\n"
    "  \"destinations\": {\n"
    "    \"smtp:orange.test\": { \"receiver\": \"orange\", \"dead_episodes\": 2, \"dead_time\": 600 },\n"
    "    \"smtp:gmail.test\": { \"receiver\": \"gmail\", \"dead_episodes\": 0, \"dead_time\": 0 }\n"
    "  },\n"
    "  \"deferrals\": { \"421 greeting\": 100, \"4xx rcpt\": 30, \"suspended\": 10, \"dns tempfail\": 0 },\n"
    "  \"queue\": { \"peak\": { \"incoming\": 3, \"active\": 40, \"deferred\": 100, \"total\": 120 },\n"
    "             \"mean\": { \"total\": 12 }, \"oldest\": 3723.25, \"at_end\": 8 },\n"
    "  \"expect\": [ { \"assertion\": \"transactional.latency.p95 < 60s\", \"value\": 12.5, \"pass\": true },\n"
    "              { \"assertion\": \"receivers.orange.replies.421 == 0\", \"value\": 120, \"pass\": false },\n"
    "              { \"assertion\": \"transactional.latncy.p95 < 60s\", \"value\": null, \"pass\": false,\n"
    "                \"error\": \"expect line 42: unknown metric 'transactional.latncy.p95' (did you mean 'transactional.latency.p95'?)\" } ]\n"
    "}\n";

static const char expected[] =
    "login-codes-launch  seed 42  replication 0\n"
    "simulated 2h, ended at 2h03m51.500s, 123456 events, drained\n"
    "\n"
    "Messages\n"
    "  arrived  re-sent  delivered  bounced  queued  attempts  deferrals\n"
    "     1000       12        990        2       8      1130        140\n"
    "\n"
    "Deferrals by reason\n"
    "  reason        count\n"
    "  421 greeting    100\n"
    "  4xx rcpt         30\n"
    "  suspended        10\n"
    "\n"
    "Receivers\n"
    "  receiver  connections  refused  421s  peak sessions  cap\n"
    "  gmail              50        0     0              7    -\n"
    "  orange            400      120   120              3    3  at cap\n"
    "  strict              9        2     2              2    1  over cap\n"
    "\n"
    "Latency (arrival to delivery)\n"
    "  class             p50        p95       p99       max  delivered\n"
    "  all            1.250s  1m02.500s  1h02m03s  1h56m40s        990\n"
    "  bulk              30s        30m  1h02m03s  1h56m40s        195\n"
    "  transactional   350ms    12.500s     5m01s       15m        795\n"
    "\n"
    "Queue\n"
    "  oldest message 1h02m03.250s, peak 120 messages (100 deferred), 8 at the end\n"
    "\n"
    "Dead destinations\n"
    "  destination       receiver  episodes  dead for\n"
    "  smtp:orange.test    orange         2       10m\n"
    "\n"
    "Expect\n"
    "  PASS  transactional.latency.p95 < 60s    value 12.500s\n"
    "  FAIL  receivers.orange.replies.421 == 0  value 120\n"
    "  FAIL  transactional.latncy.p95 < 60s     expect line 42: unknown metric 'transactional.latncy.p95' (did you mean 'transactional.latency.p95'?)\n"
    "  1 of 3 passed\n";

static char *report(const char *json, bool color)
{
    json_error_t e;
    json_t *s = json_loads(json, 0, &e);
    assert_non_null(s);
    memout m;
    results_report_opts o = {.color = color};
    assert_int_equal(results_report_print(memout_open(&m), s, &o), 0);
    json_decref(s);
    return memout_close(&m);
}

static void test_report_exact_lines(void **state)
{
    (void)state;
    char *out = report(fixture, false);
    /* Compare line by line so a failure names the line that differs. */
    const char *a = out, *b = expected;
    int line = 1;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0)
            fail_msg("line %d:\n got: %.*s\nwant: %.*s", line, (int)la, a, (int)lb, b);
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
        line++;
    }
    assert_string_equal(out, expected);
    assert_null(strchr(out, '\033'));
    free(out);
}

static void test_report_colour_on_request(void **state)
{
    (void)state;
    char *out = report(fixture, true);
    assert_non_null(strstr(out, "\033[32mPASS\033[0m  transactional.latency.p95 < 60s"));
    assert_non_null(strstr(out, "\033[31mFAIL\033[0m  receivers.orange.replies.421 == 0"));
    assert_non_null(strstr(out, "\033[31mover cap\033[0m"));
    assert_non_null(strstr(out, "\033[1mExpect\033[0m"));
    free(out);
}

static void test_report_sparse_summary(void **state)
{
    (void)state;
    char *out = report("{\"scenario\": \"empty\", \"classes\": {\"c\": {}}}", false);
    assert_string_equal(out, "empty  seed -  replication -\n"
                             "simulated -, ended at -, - events\n"
                             "\n"
                             "Messages\n"
                             "  arrived  re-sent  delivered  bounced  queued  attempts  deferrals\n"
                             "        -        -          -        -       -         -          -\n"
                             "\n"
                             "Deferrals by reason\n"
                             "  none\n"
                             "\n"
                             "Receivers\n"
                             "  none\n"
                             "\n"
                             "Latency (arrival to delivery)\n"
                             "  class  p50  p95  p99  max  delivered\n"
                             "  all      -    -    -    -          -\n"
                             "  c        -    -    -    -          -\n"
                             "\n"
                             "Queue\n"
                             "  oldest message -, peak - messages (- deferred), - at the end\n"
                             "\n"
                             "Dead destinations\n"
                             "  none\n");
    free(out);
}

static void test_report_write_error(void **state)
{
    (void)state;
    FILE *f = full_open();
    json_t *s = json_loads(fixture, 0, NULL);
    assert_int_equal(results_report_print(f, s, NULL), -ENOSPC);
    fclose(f);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_exact_lines),
        cmocka_unit_test(test_report_colour_on_request),
        cmocka_unit_test(test_report_sparse_summary),
        cmocka_unit_test(test_report_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
