/*
 * test_harness_maillog_scenario - the starting scenario written from a log, line for line: arrivals
 * from delay= (no qmgr line needed) or qmgr's time, one schedule step per hour, sizes from size=,
 * the domain mix, a receiver per deferring destination with its MX hosts and reply texts, and a
 * log that cannot write YAML of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness_maillog_scenario.h"
#include "memout.h"
#include "scenarios/scenario.h"

static const char *lines[] = {
    /* arrived 10:00:00 (delay 60 at 10:01:00) */
    "2026-12-01T10:01:00Z mx1 postfix/smtp[1]: A1: to=<a@orange.test>, relay=mx1.orange.test[192.0.2.10]:25, "
    "delay=60, delays=60/0/0/0, dsn=4.7.0, status=deferred (host mx1.orange.test[192.0.2.10] refused to talk to me: "
    "421 4.7.0 Too many \"connections\")",
    "2026-12-01T10:30:00Z mx1 postfix/qmgr[2]: A2: from=<s@corp.test>, size=2000, nrcpt=1 (queue active)",
    "2026-12-01T10:30:01Z mx1 postfix/smtp[1]: A2: to=<b@gmail.test>, relay=mx.gmail.test[192.0.2.1]:25, delay=1, "
    "delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)",
    "2026-12-01T11:15:00Z mx1 postfix/qmgr[2]: A3: from=<s@corp.test>, size=4000, nrcpt=1 (queue active)",
    "2026-12-01T11:15:00Z mx1 postfix/smtp[1]: A3: to=<c@Gmail.TEST>, relay=mx.gmail.test[192.0.2.1]:25, delay=0.2, "
    "delays=0/0/0.1/0.1, dsn=2.0.0, status=sent (250 ok)",
    /* the same queue id on another host is another message */
    "2026-12-01T11:20:00Z mx2 postfix/smtp[1]: A3: to=<d@orange.test>, relay=none, delay=0.1, delays=0/0/0.1/0, "
    "dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to x[1]:25: Connection refused)",
    /* not a domain the loader takes: left out of the mix */
    "2026-12-01T11:20:00Z mx2 postfix/smtp[1]: A4: to=<e@ev\"il.test>, relay=none, delay=0.1, status=deferred (x)",
};

static harness_maillog_scenario *load(size_t n)
{
    harness_maillog_scenario *sc = harness_maillog_scenario_create();
    harness_maillog_rec r;
    for (size_t i = 0; i < n; i++) {
        harness_maillog_parse(lines[i], strlen(lines[i]), 2026, &r);
        harness_maillog_scenario_observe(sc, &r);
    }
    return sc;
}

static const char *want =
    "# A starting scenario from a Postfix log (`tempfail maillog --scenario`): traffic as observed;\n"
    "# receivers with what the log says of them. Edit before use: docs/scenario.md.\n"
    "name: \"from-maillog\"\n"
    "description: \"from a \\\"test\\\"\"\n"
    "start: \"2026-12-01 10:00:00\"\n"
    "duration: 4801s\n"
    "until: drained\n"
    "\n"
    "traffic:\n"
    "  classes:\n"
    "    - name: observed\n"
    "      # 5 messages\n"
    "      arrivals:\n"
    "        process: schedule\n"
    "        steps:\n"
    "          - { at: 0s, rate: 2/h }\n"
    "          - { at: 3600s, rate: 8.99251/h }\n" /* 3 in the last 1201 s */
    "      size: { dist: lognormal, median: 2000, p99: 4000 }   # bytes, from qmgr's size=\n"
    "      domains:\n"
    "        \"orange.test\": 2\n"
    "        \"gmail.test\": 2\n"
    "\n"
    "receivers:   # one per destination that deferred mail; the policy is yours to write\n"
    "  - name: orange_test\n"
    "    domains: [\"orange.test\"]\n"
    "    mx:\n"
    "      - { host: \"mx1.orange.test\" }\n"
    "    # replies seen (deferrals | reason key | text); policy rules in docs/scenario.md:\n"
    "    #   1 | 421 greeting | host mx1.orange.test[192.0.2.10] refused to talk to me: 421 4.7.0 Too many "
    "\"connections\"\n"
    "    # policy:\n"
    "    #   - { rule: concurrency_per_ip, limit: 3, count_idle: true, reply: \"421 ...\" }\n";

/* Writes the scenario, checks that the loader takes it, and returns its text (to free). */
static char *write_loadable(harness_maillog_scenario *sc, const char *name, const char *description)
{
    memout m;
    memout_open(&m);
    assert_int_equal(harness_maillog_scenario_write(sc, m.f, name, description), 0);
    memout_close(&m);
    scenario_error err;
    scenario *s = scenario_load_text(m.buf, m.len, "written", NULL, 0, &err);
    if (!s)
        fail_msg("%s", err.message);
    scenario_free(s);
    return m.buf;
}

static void test_write(void **state)
{
    (void)state;
    harness_maillog_scenario *sc = load(sizeof(lines) / sizeof(lines[0]));
    assert_int_equal(harness_maillog_scenario_messages(sc), 5);
    char *text = write_loadable(sc, "from-maillog", "from a \"test\"");
    assert_string_equal(text, want);
    free(text);
    harness_maillog_scenario_free(sc);
}

/* Receiver names the loader would refuse, or that two domains would share, are told apart. */
static void test_names(void **state)
{
    (void)state;
    static const char *const doms[] = {"a.b.test", "a_b.test", "default", "bad..dom", "ok.test"};
    harness_maillog_scenario *sc = harness_maillog_scenario_create();
    for (size_t i = 0; i < sizeof(doms) / sizeof(doms[0]); i++) {
        char line[512];
        snprintf(line, sizeof(line),
                 "2026-12-01T10:00:00Z mx1 postfix/smtp[1]: Q%zu: to=<u@%s>, relay=mx..%s[192.0.2.1]:25, delay=1, "
                 "status=deferred (host x said: 421 busy (in reply to RCPT TO command))",
                 i, doms[i], doms[i]);
        harness_maillog_rec r;
        assert_int_equal(harness_maillog_parse(line, strlen(line), 2026, &r), HARNESS_MAILLOG_DELIVERY);
        harness_maillog_scenario_observe(sc, &r);
    }
    char *text = write_loadable(sc, "n", "s");
    assert_non_null(strstr(text, "  - name: a_b_test\n"));
    assert_non_null(strstr(text, "  - name: a_b_test-1\n"));
    assert_non_null(strstr(text, "  - name: default-2\n"));
    assert_null(strstr(text, "bad..dom\""));
    assert_null(strstr(text, "mx:")); /* "mx..x" is no host name */
    free(text);
    harness_maillog_scenario_free(sc);
}

static void test_empty(void **state)
{
    (void)state;
    harness_maillog_scenario *sc = harness_maillog_scenario_create();
    assert_int_equal(harness_maillog_scenario_write(sc, stdout, "x", "y"), -EINVAL);
    harness_maillog_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
