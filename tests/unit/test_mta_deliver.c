/*
 * Tests of models/mta_deliver.c, the delivery agents of a Postfix host as master(8) keeps them: an
 * entry is busy from the moment the queue manager hands it to a ready agent, after a new process's
 * start-up (one at a time), before any connection; idle processes take the next request, each up to max_use deliveries and
 * max_idle seconds idle; the host's own CPU per delivery and per arriving message queues on its
 * cores, so a small host delivers more slowly, and an idle one starts more slowly. Each drives one host (mta_fixture.h).
 */
#include <math.h>

#include "tests/unit/mta_fixture.h"

static const char *const to_a[] = {"a.test", NULL};

#define RCV "receivers:\n  - { name: a, domains: [a.test], starttls: no }\n"

/*
 * Spawning costs 1 s of CPU (cores unlimited). qmgr asks for two agents (the window of 2 has room for
 * two entries) and hands an entry over only when a process is ready: for that second nothing is busy
 * and no connection is open. Master starts one process at a time, so at 1 s one entry is busy and
 * the second request waits for the next start-up; but the first process is free again long before
 * that start-up ends, and serves the other two requests itself. The second process, ready at 2 s,
 * finds nothing to do.
 */
static void test_busy_from_ready_agent_after_process_start(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  cpu: { process_start: 1s }\n  postfix: { initial_destination_concurrency: 2 }\n" RCV);
    for (int i = 0; i < 3; i++)
        fx_submit(&f, to_a);
    mta_dest *d = fx_dest(&f, "smtp:a.test");
    fx_run_until(&f, 999 * SIM_MSEC);
    assert_int_equal(d->w.busy, 0);
    assert_int_equal(d->todo, 3);
    assert_int_equal(d->tr->pending, 2);
    assert_int_equal(mta_host_sessions(f.h, NULL), 0);
    assert_int_equal(f.natt, 0);
    assert_int_equal(mta_deliver_spawned(f.h), 1);
    fx_run_until(&f, 1 * SIM_SEC);
    assert_int_equal(d->w.busy, 1);
    assert_int_equal(d->todo, 2);
    assert_int_equal(d->tr->pending, 1);
    fx_run_until(&f, 3 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 3);
    assert_int_equal(mta_deliver_spawned(f.h), 2);
    for (size_t i = 0; i < 3; i++) {
        assert_true(f.att[i].when > 1 * SIM_SEC && f.att[i].when < 1500 * SIM_MSEC);
        assert_int_equal(f.att[i].pid, f.att[0].pid);
    }
    fx_free(&f);
}

#define RCV_SLOW                                                                                                \
    "receivers:\n  - { name: a, domains: [a.test], starttls: no,\n"                                            \
    "      policy: [ { rule: tarpit, stage: rcpt, delay: 10s } ] }\n"

/*
 * qmgr keeps at most two agent requests pending per transport (QMGR_TRANSPORT_MAX_PEND), and master
 * starts one process at a time (master_avail_listen): five entries with room for five, a start-up of
 * 1 s (cores unlimited), sessions of 10 s, so no process comes free. A process is ready every second,
 * each takes an entry, and qmgr asks for the next agent: two requests pending until the last entry is
 * asked for. Each process delivers its entry ten seconds after it started; without the one-at-a-time
 * start all five would be busy at 1 s, without the limit five requests would be pending at first.
 */
static void test_one_process_start_at_a_time_two_pending(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  cpu: { process_start: 1s }\n" RCV_SLOW);
    for (int i = 0; i < 5; i++)
        fx_submit(&f, to_a);
    mta_dest *d = fx_dest(&f, "smtp:a.test");
    static const uint32_t pending[] = {2, 2, 2, 2, 1, 0};
    for (uint32_t k = 0; k <= 5; k++) {
        fx_run_until(&f, k * SIM_SEC + 500 * SIM_MSEC);
        if (d->w.busy != k || d->tr->pending != pending[k])
            fail_msg("at %u.5 s: %u busy, %u pending; want %u and %u", k, d->w.busy, d->tr->pending, k, pending[k]);
    }
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 5);
    assert_int_equal(mta_deliver_spawned(f.h), 5);
    for (size_t i = 0; i < 5; i++) {
        double t = sim_time_to_sec(f.att[i].when);
        if (!(t >= (double)i + 11.0 && t < (double)i + 11.5))
            fail_msg("delivery %zu at %.3f s, want %zu s after its process started", i, t, i + 10);
    }
    fx_free(&f);
}

/*
 * One delivery at a time (concurrency limit 1), so one process serves them in turn. Table: max_use,
 * max_idle, when each of four messages is submitted, and which process (by order of appearance)
 * delivers each.
 */
static void test_processes_reused_up_to_max_use_and_max_idle(void **state)
{
    (void)state;
    static const struct {
        const char *postfix;
        double at[4];   /* seconds */
        int proc[4];    /* 0 = the first process seen, 1 = the second, ... */
        uint64_t spawned;
    } cases[] = {
        {"max_use: 2", {0, 0, 0, 0}, {0, 0, 1, 1}, 2},              /* exits after its second delivery */
        {"max_use: 1", {0, 0, 0, 0}, {0, 1, 2, 3}, 4},
        {"max_use: 0", {0, 0, 0, 0}, {0, 0, 0, 0}, 1},              /* 0: no limit */
        {"max_use: 100, max_idle: 10s", {0, 5, 30, 35}, {0, 0, 1, 1}, 2}, /* idle 25 s > 10 s: exited */
        {"max_use: 100, max_idle: 0", {0, 5, 300, 900}, {0, 0, 0, 0}, 1},  /* 0: never idles out */
        {"max_use: 100", {0, 5, 90, 300}, {0, 0, 0, 1}, 2},                /* Postfix's 100 s */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "mta:\n  postfix: { default_destination_concurrency_limit: 1, %s }\n" RCV,
                 cases[k].postfix);
        fx f;
        fx_init(&f, yaml);
        for (int i = 0; i < 4; i++) {
            fx_run_until(&f, (sim_time_t)(cases[k].at[i] * SIM_SEC));
            fx_submit(&f, to_a);
        }
        fx_run_until(&f, 1000 * SIM_SEC);
        assert_int_equal(f.natt, 4);
        uint32_t seen[4];
        int nseen = 0;
        for (int i = 0; i < 4; i++) {
            int p = -1;
            for (int j = 0; j < nseen; j++)
                if (seen[j] == f.att[i].pid)
                    p = j;
            if (p < 0) {
                seen[nseen] = f.att[i].pid;
                p = nseen++;
            }
            if (p != cases[k].proc[i])
                fail_msg("case %zu (%s): delivery %d by process %d, want %d", k, cases[k].postfix, i, p,
                         cases[k].proc[i]);
        }
        assert_int_equal(mta_deliver_spawned(f.h), cases[k].spawned);
        fx_free(&f);
    }
}

/* The message a message's last delivery ended, in seconds. */
static double done_at(const fx *f, size_t i) { return sim_time_to_sec(f->msg[i].done); }

/*
 * Each delivery request costs 1 s of the host's CPU after its session, before qmgr hears of it. Four
 * at once on one core finish one after another; on four cores, together. Then the same on arrival:
 * four messages arriving at once, each needing 1 s of smtpd + cleanup, reach the queue a second apart
 * on one core; the agents qmgr asks for must run to announce themselves, and the cores serve their
 * requests in order, so they wait for the cleanup work already queued: the deliveries go together,
 * once the last message is in (at 4 s on one core, at 2 s on two).
 */
static void test_host_cpu_contention_slows_deliveries(void **state)
{
    (void)state;
    static const struct {
        const char *cpu;
        double first_min;              /* the first done, seconds */
        double spread_min, spread_max; /* last done - first done, seconds */
    } cases[] = {
        {"{ cores: 1, per_delivery: 1s }", 1.0, 2.99, 3.1},
        {"{ cores: 4, per_delivery: 1s }", 1.0, 0, 0.01},
        {"{ cores: 0, per_delivery: 1s }", 1.0, 0, 0.01}, /* unlimited: a delay, no queue */
        {"{ cores: 1, per_message: 1s }", 4.0, 0, 0.01},
        {"{ cores: 2, per_message: 1s }", 2.0, 0, 0.01},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "mta:\n  cpu: %s\n" RCV, cases[k].cpu);
        fx f;
        fx_init(&f, yaml);
        for (int i = 0; i < 4; i++)
            fx_submit(&f, to_a);
        fx_run_until(&f, 60 * SIM_SEC);
        assert_int_equal(f.nmsg, 4);
        double first = done_at(&f, 0), last = first;
        for (size_t i = 1; i < 4; i++) {
            double t = done_at(&f, i);
            first = t < first ? t : first;
            last = t > last ? t : last;
        }
        if (!(first >= cases[k].first_min))
            fail_msg("case %zu (%s): the first delivery done at %.3f s, want at least %.1f", k, cases[k].cpu, first,
                     cases[k].first_min);
        if (!(last - first >= cases[k].spread_min && last - first <= cases[k].spread_max))
            fail_msg("case %zu (%s): deliveries spread over %.3f s, want %.2f-%.2f", k, cases[k].cpu, last - first,
                     cases[k].spread_min, cases[k].spread_max);
        fx_free(&f);
    }
}

/*
 * An idle machine is slower to start work (cpu.wakeup after cpu.wakeup_after of quiet on every core):
 * one message at 60 s, after a minute of quiet, and one at 63 s, 3 s after the first was done. Table:
 * the wake-up settings, and how much later than without them each message's delivery is done.
 */
static void test_idle_host_wakes_up_slower(void **state)
{
    (void)state;
    static const struct {
        const char *cpu;
        double late[2]; /* seconds, within 10 ms */
    } cases[] = {
        {"{ cores: 2 }", {0, 0}},                                /* no wake-up by default */
        {"{ cores: 2, wakeup: 1s, wakeup_after: 10s }", {1, 0}}, /* the second comes 3 s after: awake */
        {"{ cores: 2, wakeup: 1s, wakeup_after: 2s }", {1, 1}},  /* 3 s is quiet enough to sleep again */
        {"{ cores: 0, wakeup: 1s, wakeup_after: 10s }", {1, 0}}, /* unlimited cores wake up the same */
    };
    double base[2] = {0, 0}; /* the sessions' own time, from the first case */
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "mta:\n  cpu: %s\n" RCV, cases[k].cpu);
        fx f;
        fx_init(&f, yaml);
        static const double at[2] = {60, 63};
        for (size_t i = 0; i < 2; i++) {
            fx_run_until(&f, (sim_time_t)(at[i] * SIM_SEC));
            fx_submit(&f, to_a);
        }
        fx_run_until(&f, 120 * SIM_SEC);
        assert_int_equal(f.nmsg, 2);
        for (size_t i = 0; i < 2; i++) {
            if (k == 0)
                base[i] = done_at(&f, i) - at[i];
            double late = done_at(&f, i) - at[i] - base[i];
            if (fabs(late - cases[k].late[i]) > 0.01)
                fail_msg("case %zu (%s): message %zu done %.3f s later than without a wake-up, want %.1f", k, cases[k].cpu, i,
                         late, cases[k].late[i]);
        }
        fx_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_from_ready_agent_after_process_start),
        cmocka_unit_test(test_one_process_start_at_a_time_two_pending),
        cmocka_unit_test(test_processes_reused_up_to_max_use_and_max_idle),
        cmocka_unit_test(test_host_cpu_contention_slows_deliveries),
        cmocka_unit_test(test_idle_host_wakes_up_slower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
