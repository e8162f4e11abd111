/*
 * Tests of models/mta_deliver.c, the delivery agents of a Postfix host as master(8) keeps them: an
 * entry is busy from the moment the queue manager hands it over, through a new process's start-up,
 * before any connection; idle processes take the next request, each up to max_use deliveries and
 * max_idle seconds idle; the host's own CPU per delivery and per arriving message queues on its
 * cores, so a small host delivers more slowly. Each drives one host (mta_fixture.h).
 */
#include "tests/unit/mta_fixture.h"

static const char *const to_a[] = {"a.test", NULL};

#define RCV "receivers:\n  - { name: a, domains: [a.test], starttls: no }\n"

/*
 * Spawning costs 1 s of CPU (cores unlimited): the window of 2 is full from the hand-over, the third
 * message waits in todo, and no connection is open for that second. The third request then takes one
 * of the two processes, idle again, without a start-up.
 */
static void test_busy_from_assignment_through_process_start(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  cpu: { process_start: 1s }\n  postfix: { initial_destination_concurrency: 2 }\n" RCV);
    for (int i = 0; i < 3; i++)
        fx_submit(&f, to_a);
    mta_dest *d = fx_dest(&f, "smtp:a.test");
    assert_int_equal(d->w.busy, 2);
    assert_int_equal(d->todo, 1);
    fx_run_until(&f, 999 * SIM_MSEC);
    assert_int_equal(d->w.busy, 2);
    assert_int_equal(mta_host_sessions(f.h, NULL), 0);
    assert_int_equal(f.natt, 0);
    fx_run_until(&f, 2 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 3);
    assert_int_equal(mta_deliver_spawned(f.h), 2);
    assert_true(f.att[0].when > 1 * SIM_SEC && f.att[1].when > 1 * SIM_SEC);
    /* the third: handed over when the first finished, on its process, no second of start-up */
    assert_true(f.att[2].pid == f.att[0].pid || f.att[2].pid == f.att[1].pid);
    assert_true(f.att[2].when < f.att[0].when + 500 * SIM_MSEC);
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
 * Each delivery request costs 1 s of the host's CPU before its session. Four at once on one core run
 * one after another; on four cores, together. Then the same on arrival: three messages arriving at
 * once, each needing 1 s of smtpd + cleanup on one core, reach the queue a second apart.
 */
static void test_host_cpu_contention_slows_deliveries(void **state)
{
    (void)state;
    static const struct {
        const char *cpu;
        double spread_min, spread_max; /* last done - first done, seconds */
    } cases[] = {
        {"{ cores: 1, per_delivery: 1s }", 2.99, 3.1},
        {"{ cores: 4, per_delivery: 1s }", 0, 0.01},
        {"{ cores: 0, per_delivery: 1s }", 0, 0.01}, /* unlimited: a delay, no queue */
        {"{ cores: 1, per_message: 1s }", 2.99, 3.1},
        {"{ cores: 2, per_message: 1s }", 0.99, 1.1},
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
        assert_true(first >= 1.0); /* every one waited for its second of CPU */
        if (!(last - first >= cases[k].spread_min && last - first <= cases[k].spread_max))
            fail_msg("case %zu (%s): deliveries spread over %.3f s, want %.2f-%.2f", k, cases[k].cpu, last - first,
                     cases[k].spread_min, cases[k].spread_max);
        fx_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_from_assignment_through_process_start),
        cmocka_unit_test(test_processes_reused_up_to_max_use_and_max_idle),
        cmocka_unit_test(test_host_cpu_contention_slows_deliveries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
