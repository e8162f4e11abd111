/*
 * test_harness_testsmtpd - where the replay's testsmtpd listens for each MX host: the scenario's
 * address when it is a loopback one, so the replayed log names what the simulated one names; the
 * replay's own 127.64.R.M otherwise (no address, or one off the machine, where a replay must never
 * send mail); and a refusal naming both hosts when a named loopback address is the one the replay
 * gives another host. The --print-transport lines follow the same addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/harness_replay.h"
#include "harness/harness_testsmtpd.h"

#define TRAFFIC                                                                                                   \
    "name: t\n"                                                                                                   \
    "traffic:\n"                                                                                                  \
    "  classes:\n"                                                                                                \
    "    - name: m\n"                                                                                             \
    "      arrivals: {process: poisson, rate: 1/s}\n"                                                             \
    "      domains: {a.test: 1, b.test: 1, c.test: 1}\n"                                                          \
    "receivers:\n"

static scenario *load(const char *receivers)
{
    char text[2048];
    snprintf(text, sizeof(text), TRAFFIC "%s", receivers);
    scenario_error err = {{0}};
    scenario *s = scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, &err);
    if (!s)
        fail_msg("%s", err.message);
    return s;
}

static void test_listen_addresses(void **state)
{
    (void)state;
    static const struct {
        const char *receivers;
        const char *want[3][3]; /* per receiver (a, b, default), per MX host; NULL past the last */
    } cases[] = {
        /* nothing named: 127.(64 + r / 256).(r % 256).(m + 1) */
        {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test}, {host: mx2.a.test}]}\n"
         "  - {name: b, domains: [b.test]}\n",
         {{"127.64.0.1", "127.64.0.2"}, {"127.64.1.1"}, {"127.64.2.1"}}},
        /* a loopback address is used as it is, anywhere in 127.0.0.0/8 */
        {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 127.64.0.1},"
         " {host: mx2.a.test, address: 127.0.0.9}]}\n"
         "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: 127.200.3.4}]}\n",
         {{"127.64.0.1", "127.0.0.9"}, {"127.200.3.4"}, {"127.64.2.1"}}},
        /* any other address stays in the simulated log: IPv4, IPv6, even ::1 */
        {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 193.252.22.84},"
         " {host: mx2.a.test, address: '2001:db8::10'}]}\n"
         "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: '::1'}]}\n",
         {{"127.64.0.1", "127.64.0.2"}, {"127.64.1.1"}, {"127.64.2.1"}}},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        scenario *s = load(cases[k].receivers);
        char err[512] = "";
        if (harness_testsmtpd_check(s, err, sizeof(err)) != 0)
            fail_msg("case %zu: %s", k, err);
        for (size_t r = 0; r < 3; r++)
            for (size_t m = 0; m < 3 && cases[k].want[r][m]; m++) {
                char a[HARNESS_TESTSMTPD_ADDR_MAX];
                harness_testsmtpd_addr(s, r, m, a, sizeof(a));
                if (strcmp(a, cases[k].want[r][m]) != 0)
                    fail_msg("case %zu, receiver %zu, MX %zu: %s, want %s", k, r, m, a, cases[k].want[r][m]);
            }
        scenario_free(s);
    }
}

/* A named loopback address the replay gives a host that names none: refused, both named. */
static void test_clash_refused(void **state)
{
    (void)state;
    static const struct {
        const char *receivers, *err;
    } cases[] = {
        {"  - {name: a, domains: [a.test]}\n"
         "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: 127.64.0.1}]}\n",
         "receivers[b].mx[0].address: 127.64.0.1 is where the replay listens for MX host mx.a.test of receiver 'a', "
         "which names no loopback address (MX host M of receiver R gets 127.(64 + R / 256).(R % 256).(M + 1)): "
         "choose another, or give that host an address too"},
        {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 127.64.1.1}]}\n",
         "receivers[a].mx[0].address: 127.64.1.1 is where the replay listens for MX host mx.b.test of receiver "
         "'default', which names no loopback address (MX host M of receiver R gets 127.(64 + R / 256).(R % 256).(M "
         "+ 1)): choose another, or give that host an address too"},
        /* a host that names an address off the machine gets the replay's own, which may clash too */
        {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 192.0.2.1}]}\n"
         "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: 127.64.0.1}]}\n",
         "receivers[b].mx[0].address: 127.64.0.1 is where the replay listens for MX host mx1.a.test of receiver 'a', "
         "which names no loopback address (MX host M of receiver R gets 127.(64 + R / 256).(R % 256).(M + 1)): "
         "choose another, or give that host an address too"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        scenario *s = load(cases[k].receivers);
        char err[512] = "";
        assert_int_equal(harness_testsmtpd_check(s, err, sizeof(err)), -EINVAL);
        if (strcmp(err, cases[k].err) != 0)
            fail_msg("case %zu:\n got:  %s\n want: %s", k, err, cases[k].err);
        err[0] = 0;
        assert_null(harness_replay_external_transport(s, err, sizeof(err)));
        assert_string_equal(err, cases[k].err);
        scenario_free(s);
    }
}

/* The implicit receiver owns no domain: it is not served, and its address clashes with nothing. */
static void test_unserved_default_ignored(void **state)
{
    (void)state;
    scenario *s = load("  - {name: a, domains: [a.test, b.test, c.test], mx: [{host: mx1.a.test, address: 127.64.1.1}]}\n");
    char err[512] = "";
    assert_int_equal(harness_testsmtpd_check(s, err, sizeof(err)), 0);
    scenario_free(s);
}

/* --print-transport routes to the same addresses, on the fixed port. */
static void test_external_transport(void **state)
{
    (void)state;
    scenario *s = load("  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 127.64.0.1},"
                       " {host: mx2.a.test, address: 198.51.100.200}]}\n"
                       "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: 127.9.9.9}]}\n");
    char err[512] = "";
    char *t = harness_replay_external_transport(s, err, sizeof(err));
    assert_non_null(t);
    static const char *const lines[] = {
        "a.test\tsmtp:[127.64.0.1]:2525,[127.64.0.2]:2525\n",
        "b.test\tsmtp:[127.9.9.9]:2525\n",
        "c.test\tsmtp:[127.64.2.1]:2525\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        if (!strstr(t, lines[i]))
            fail_msg("no line '%s' in:\n%s", lines[i], t);
    free(t);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_clash_refused),
        cmocka_unit_test(test_unserved_default_ignored),
        cmocka_unit_test(test_external_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
