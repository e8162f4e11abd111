/*
 * Tests of harness/harness_speedup.c: a Postfix configuration at K times real speed keeps every
 * timer Postfix counts in whole seconds within 10%, or the speedup is refused naming the parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness/harness_speedup.h"
#include "tests/unit/model_fixture.h"

/* Postfix's defaults and one "smtp" transport, optionally without connection caching. */
static void defaults(mta_config *m, mta_transport_config *smtp, bool caching)
{
    fixture_mta(m, smtp);
    smtp->p.connection_cache_on_demand = caching;
}

static void test_speedups(void **state)
{
    (void)state;
    static const struct {
        double k;
        bool caching;
        bool tls_everywhere;                         /* every receiver offers STARTTLS */
        sim_time_t queue_run_delay, connect_timeout; /* after scaling, when accepted */
        const char *error;                          /* NULL: accepted */
    } cases[] = {
        {1, true, false, 300 * SIM_SEC, 30 * SIM_SEC, NULL},
        {2, true, false, 150 * SIM_SEC, 15 * SIM_SEC, NULL},
        {7, false, false, 43 * SIM_SEC, 4 * SIM_SEC, NULL}, /* 42.86s -> 43s; 4.29s -> 4s (7% off) */
        /* The default 2s cache time limit cannot be a third of a second shorter... */
        {3, true, false, 0, 0,
         "mta.transports.smtp: smtp_connection_cache_time_limit: 2s / 3 is 666.667ms, which Postfix, counting whole "
         "seconds, runs as 1s (50% off); use a speedup of at most 1"},
        /* ... but it does not matter where nothing is cached: caching off, or every session TLS
         * (not cached without smtp_tls_connection_reuse). */
        {3, false, false, 100 * SIM_SEC, 10 * SIM_SEC, NULL},
        {3, true, true, 100 * SIM_SEC, 10 * SIM_SEC, NULL},
        {10, false, false, 30 * SIM_SEC, 3 * SIM_SEC, NULL},
        {1000, false, false, 0, 0,
         "queue_run_delay: 5m / 1000 is 300ms, which Postfix, counting whole seconds, runs as 0s; use a speedup of at "
         "most 60"},
        {0.5, true, false, 0, 0, "speedup: 0.5 is not a number of at least 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mta_config m;
        mta_transport_config smtp;
        defaults(&m, &smtp, cases[i].caching);
        if (cases[i].tls_everywhere)
            smtp.p.tls = m.latency.tls = true;
        char err[512] = "";
        int rc = harness_speedup_mta(&m, cases[i].k, cases[i].tls_everywhere, err, sizeof(err));
        if (cases[i].error) {
            assert_int_equal(rc, -1);
            if (strcmp(err, cases[i].error) != 0)
                fail_msg("case %zu:\n got:  %s\n want: %s", i, err, cases[i].error);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: %s", i, err);
        assert_int_equal(m.queue_run_delay, cases[i].queue_run_delay);
        assert_int_equal(smtp.p.connect_timeout, cases[i].connect_timeout);
    }
}

static void test_every_time_is_whole_seconds(void **state)
{
    (void)state;
    mta_config m;
    mta_transport_config smtp;
    defaults(&m, &smtp, true);
    smtp.p.destination_rate_delay = 4 * SIM_SEC;
    assert_int_equal(harness_speedup_mta(&m, 2, false, (char[256]){0}, 256), 0);
    const sim_time_t t[] = {m.queue_run_delay, m.minimal_backoff_time, m.maximal_backoff_time,
                            m.maximal_queue_lifetime, smtp.p.destination_rate_delay, smtp.p.connection_cache_time_limit,
                            smtp.p.rset_timeout, smtp.p.data_done_timeout};
    const sim_time_t want[] = {150 * SIM_SEC, 150 * SIM_SEC, 2000 * SIM_SEC, 5 * SIM_DAY / 2,
                               2 * SIM_SEC,   1 * SIM_SEC,   10 * SIM_SEC,   300 * SIM_SEC};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(t[i], want[i]);
    assert_int_equal(smtp.p.transport_rate_delay, 0); /* off stays off */
    assert_int_equal(m.max_idle, 50 * SIM_SEC);
    assert_int_equal(m.clock_tick, SIM_SEC); /* the real Postfix: its own seconds */
    mta_config ms;
    mta_transport_config smtp2;
    defaults(&ms, &smtp2, false);
    assert_int_equal(harness_speedup_mta_scenario(&ms, 3, false, (char[256]){0}, 256), 0);
    assert_int_equal(ms.clock_tick, 3 * SIM_SEC); /* in scenario time, each of its seconds is 3 s */
}

/* The machine's costs last K times as long in scenario time; the scenario's world does not change. */
static void test_costs_scale_with_the_speedup(void **state)
{
    (void)state;
    scenario s = {0};
    receiver_config r[2] = {{.rtt = sim_dist_constant(0.001), .connect_latency = sim_dist_constant(0.002),
                             .latency = {.kind = SIM_DIST_EXPONENTIAL, .a = 0.0005}, .service = sim_dist_constant(1)},
                            {.rtt = sim_dist_constant(0.03)}};
    s.receivers = r;
    s.nreceivers = 2;
    mta_transport_config smtp;
    fixture_mta(&s.mta, &smtp);
    s.mta.latency.cpu_per_delivery = sim_dist_constant(0.004);
    s.mta.latency.cpu_process_start = sim_dist_lognormal_median_p99(0.01, 0.05);
    s.mta.latency.tls_cpu = sim_dist_constant(0.003);
    s.mta.latency.cpu_wakeup = sim_dist_constant(0.0005);
    s.mta.latency.cpu_wakeup_after = 100 * SIM_MSEC;
    harness_speedup_costs(&s, 3);
    assert_true(fabs(s.mta.latency.cpu_per_delivery.a - 0.012) < 1e-12);
    assert_true(fabs(sim_dist_median(&s.mta.latency.cpu_process_start) - 0.03) < 1e-12);
    assert_true(fabs(s.mta.latency.tls_cpu.a - 0.009) < 1e-12);
    /* the wake-up and the host's quiet before it are real times too */
    assert_true(fabs(s.mta.latency.cpu_wakeup.a - 0.0015) < 1e-12);
    assert_int_equal(s.mta.latency.cpu_wakeup_after, 300 * SIM_MSEC);
    assert_true(s.mta.latency.cpu_per_message.a == 0); /* 0 stays 0 */
    assert_true(fabs(r[0].connect_latency.a - 0.006) < 1e-12);
    assert_true(fabs(r[0].latency.a - 0.0015) < 1e-12);
    assert_true(r[0].rtt.a == 0.001 && r[0].service.a == 1 && r[1].rtt.a == 0.03);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speedups),
        cmocka_unit_test(test_every_time_is_whole_seconds),
        cmocka_unit_test(test_costs_scale_with_the_speedup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
