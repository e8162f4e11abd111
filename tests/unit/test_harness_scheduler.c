/*
 * test_harness_scheduler - Postfix's qmgr feedback debug lines read into scheduler.csv rows: the
 * positive and negative events, a queue made dead and revived, the window before taken from the
 * queue's previous line, several queues and hosts kept apart, the verbose form and other qmgr
 * lines skipped, times on the caller's clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/harness_scheduler.h"
#include "tests/unit/memout.h"

#define PFX "Dec 01 14:04:08 vm postfix/qmgr[2310]: "

static void test_feedback_lines_parse(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        harness_maillog_kind kind;
        bool positive;
        int32_t window;
        double fail_cohorts;
        const char *queue;
    } cases[] = {
        {PFX "qmgr_queue_unthrottle: queue capped:[127.64.0.1]:44109: limit 20 window 6 success 0 failure 0 "
             "fail_cohorts 0",
         HARNESS_MAILLOG_FEEDBACK, true, 6, 0, "capped:[127.64.0.1]:44109"},
        {PFX "qmgr_queue_throttle: queue smtp:orange.test: limit 20 window 3 success 0 failure 1 fail_cohorts 0.2",
         HARNESS_MAILLOG_FEEDBACK, false, 3, 0.2, "smtp:orange.test"},
        {PFX "qmgr_queue_throttle: queue smtp:orange.test: limit 20 window 0 success 0 failure 1 fail_cohorts "
             "1.03333",
         HARNESS_MAILLOG_FEEDBACK, false, 0, 1.03333, "smtp:orange.test"},
        /* msg_verbose's shorter line, and the feedback amount line: not rows */
        {PFX "qmgr_queue_unthrottle: queue smtp:orange.test", HARNESS_MAILLOG_SKIP, false, 0, 0, ""},
        {PFX "qmgr_queue_unthrottle: feedback 1", HARNESS_MAILLOG_SKIP, false, 0, 0, ""},
        {PFX "qmgr_queue_throttle: queue smtp:x: limit 20 window many success 0 failure 0 fail_cohorts 0",
         HARNESS_MAILLOG_SKIP, false, 0, 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_maillog_rec r;
        harness_maillog_kind k = harness_maillog_parse(cases[i].line, strlen(cases[i].line), 2026, &r);
        if (k != cases[i].kind)
            fail_msg("case %zu: kind %d, want %d: %s", i, k, cases[i].kind, cases[i].line);
        if (k != HARNESS_MAILLOG_FEEDBACK)
            continue;
        assert_int_equal(r.positive, cases[i].positive);
        assert_int_equal(r.window, cases[i].window);
        assert_int_equal(r.limit, 20);
        assert_true(r.fail_cohorts == cases[i].fail_cohorts);
        assert_string_equal(r.relay, cases[i].queue);
    }
}

/* A storm's lines, two queues on two hosts, into rows: causes, old windows, times at speedup 2. */
static void test_trace_rows(void **state)
{
    (void)state;
    static const struct {
        uint32_t host;
        const char *line;
    } lines[] = {
        {0, "Dec 01 14:04:08 vm postfix/qmgr[1]: qmgr_queue_throttle: queue smtp:a: limit 20 window 3 success 0 "
            "failure 1 fail_cohorts 0.2"},
        {0, "Dec 01 14:04:08 vm postfix/qmgr[1]: 3F2A1B00C4: removed"},
        {1, "Dec 01 14:04:09 vm postfix/qmgr[2]: qmgr_queue_unthrottle: queue smtp:a: limit 20 window 6 success 0 "
            "failure 0 fail_cohorts 0"},
        {0, "Dec 01 14:04:10 vm postfix/qmgr[1]: qmgr_queue_throttle: queue smtp:a: limit 20 window 0 success 0 "
            "failure 1 fail_cohorts 1.03333"},
        {0, "Dec 01 14:04:20 vm postfix/qmgr[1]: qmgr_queue_unthrottle: queue smtp:a: limit 20 window 5 success 0 "
            "failure 0 fail_cohorts 0"},
        {0, "Dec 01 14:04:21 vm postfix/qmgr[1]: qmgr_queue_unthrottle: queue smtp:a: limit 20 window 6 success 0 "
            "failure 0 fail_cohorts 0"},
    };
    memout m;
    results_scheduler *out = results_scheduler_create(memout_open(&m));
    harness_maillog_rec r;
    harness_maillog_parse(lines[0].line, strlen(lines[0].line), 2026, &r);
    harness_scheduler *h = harness_scheduler_create(out, (double)r.when, 2);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        harness_maillog_parse(lines[i].line, strlen(lines[i].line), 2026, &r);
        assert_int_equal(harness_scheduler_add(h, lines[i].host, &r), 0);
    }
    assert_int_equal(harness_scheduler_rows(h), 5);
    assert_int_equal(results_scheduler_finish(out), 0);
    char *text = memout_close(&m);
    assert_string_equal(text, "time,host,destination,cause,old_window,new_window,busy,todo,success,failure,fail_cohorts\n"
                              "0,mta1,smtp:a,failure,,3,,,0,1,0.2\n"
                              "2,mta2,smtp:a,success,,6,,,0,0,0\n"
                              "4,mta1,smtp:a,failure,3,0,,,0,1,1.03333\n"
                              "24,mta1,smtp:a,revived,0,5,,,0,0,0\n"
                              "26,mta1,smtp:a,success,5,6,,,0,0,0\n");
    free(text);
    harness_scheduler_free(h);
    results_scheduler_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_lines_parse),
        cmocka_unit_test(test_trace_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
