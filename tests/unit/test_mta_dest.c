/*
 * Tests of models/mta_dest.c, the scheduler side of a Postfix host: a destination dying after a
 * cohort of failed deliveries, deferring its mail without a connection while dead and coming back
 * after minimal_backoff_time; the round robin over a transport's destinations within maxproc; a
 * destination rate delay forcing one delivery at a time; on-demand connection caching after
 * back-to-back deliveries; one queue per (transport, nexthop). Each drives one host (mta_fixture.h).
 */
#include "tests/unit/mta_fixture.h"

/* Every connection gets a 421 at the greeting: the site fails (negative feedback). */
static const char refusing[] =
    "receivers:\n  - { name: a, domains: [a.test, b.test],\n"
    "      policy: [ { rule: random_fault, stage: connect, probability: 1, reply: \"421 4.7.0 go away\" } ] }\n";

static const char *const to_a[] = {"a.test", NULL};

/* Three messages to a.test at once, each refused: the destination is dead ten seconds later. */
static mta_dest *kill_a(fx *f)
{
    fx_init(f, refusing);
    for (int i = 0; i < 3; i++)
        fx_submit(f, to_a);
    fx_settle(f);
    mta_dest *d = fx_dest(f, "smtp:a.test");
    assert_int_equal(d->w.window, 5);
    assert_int_equal(d->w.busy, 3);
    fx_run_until(f, 10 * SIM_SEC);
    assert_true(mta_queue_dead(&d->w));
    return d;
}

static void test_cohort_of_failures_makes_destination_dead(void **state)
{
    (void)state;
    fx f;
    mta_dest *d = kill_a(&f);
    /* 5 -> 3 -> 2 -> dead: the third failure completes a cohort (1/5 + 1/3 + 1/2 >= 1). */
    assert_int_equal(d->st.dead_episodes, 1);
    assert_int_equal(d->st.window_min, 0);
    assert_int_equal(fx_count(&f, "smtp", NULL), 3);
    fx_free(&f);
}

static void test_dead_destination_defers_without_connecting(void **state)
{
    (void)state;
    fx f;
    kill_a(&f);
    size_t smtp = fx_count(&f, "smtp", NULL);
    uint64_t opened = mta_host_sessions(f.h, NULL);
    fx_submit(&f, to_a);
    /* Deferred at activation by the retry service, naming why the destination died. */
    assert_int_equal(fx_count(&f, "smtp", NULL), smtp);
    assert_int_equal(fx_count(&f, "retry", "suspended"), 1);
    fx_attempt *a = &f.att[f.natt - 1];
    assert_int_equal(a->status, MTA_STATUS_DEFERRED);
    assert_string_equal(a->dsn, "4.4.1");
    assert_non_null(strstr(a->reply, "delivery temporarily suspended: "));
    assert_non_null(strstr(a->reply, "421 4.7.0 go away"));
    assert_int_equal(mta_host_sessions(f.h, NULL), opened);
    /* Another domain of the same receiver is another destination, alive. */
    static const char *const tob[] = {"b.test", NULL};
    fx_submit(&f, tob);
    fx_settle(&f);
    assert_int_equal(fx_dest(&f, "smtp:b.test")->w.busy, 1);
    fx_free(&f);
}

static void test_dead_destination_lives_again_after_minimal_backoff_time(void **state)
{
    (void)state;
    fx f;
    mta_dest *d = kill_a(&f);
    sim_time_t died = d->dead_since;
    fx_run_until(&f, died + 300 * SIM_SEC - 1);
    assert_true(mta_queue_dead(&d->w));
    fx_run_until(&f, died + 300 * SIM_SEC);
    /* Nothing waits and nothing is busy: Postfix starts a fresh queue at the initial concurrency. */
    assert_int_equal(d->w.window, 5);
    assert_true(d->st.dead_time >= 299.9 && d->st.dead_time <= 300.1);
    fx_free(&f);
}

static void test_destinations_of_a_transport_take_turns_within_maxproc(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  transports:\n    one: { domains: [a.test, b.test], maxproc: 1 }\n"
                "receivers:\n  - { name: a, domains: [a.test, b.test] }\n");
    static const char *const toa[] = {"a.test", NULL}, *const tob[] = {"b.test", NULL};
    fx_submit(&f, toa);
    fx_settle(&f); /* the agent is ready before the next messages arrive */
    fx_submit(&f, toa);
    fx_submit(&f, tob);
    fx_submit(&f, toa);
    fx_settle(&f);
    assert_int_equal(fx_dest(&f, "one:a.test")->w.busy, 1); /* maxproc 1: one agent for the transport */
    assert_int_equal(fx_dest(&f, "one:b.test")->w.busy, 0);
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(f.natt, 4);
    /* qmgr_transport_select: the first queue of the list with room goes, and is rotated to the end; a
     * new queue joins at the end. [a] -> a; b joins: [a b] -> a, [b a] -> b, [a b] -> a. */
    static const char *const order[] = {"one:a.test", "one:a.test", "one:b.test", "one:a.test"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(f.att[i].destination, order[i]);
    for (size_t i = 1; i < 4; i++)
        assert_true(f.att[i].when > f.att[i - 1].when);
    fx_free(&f);
}

static void test_destination_rate_delay_means_one_delivery_at_a_time(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { default_destination_rate_delay: 2s, default_destination_concurrency_limit: 10 }\n"
                "receivers:\n  - { name: a, domains: [a.test] }\n");
    static const char *const to[] = {"a.test", NULL};
    for (int i = 0; i < 3; i++)
        fx_submit(&f, to);
    fx_settle(&f);
    mta_dest *d = fx_dest(&f, "smtp:a.test");
    assert_int_equal(d->p.destination_concurrency_limit, 1);
    assert_int_equal(d->w.window, 1);
    assert_int_equal(d->w.busy, 1);
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 3);
    for (size_t i = 1; i < 3; i++)
        assert_true(f.att[i].when - f.att[i - 1].when >= 2 * SIM_SEC);
    fx_free(&f);
}

/*
 * On-demand caching follows a backlog: with one delivery at a time (limit 1) and three messages
 * queued, the first completion leaves work queued, the second is selected back to back with it and
 * its session is cached, the third reuses that session. A message that arrives after the queue
 * emptied finds a new queue (qmgr_queue_done), not back to back: a fresh connection.
 */
static void test_back_to_back_deliveries_turn_on_connection_caching(void **state)
{
    (void)state;
    fx f;
    /* No STARTTLS: Postfix does not cache a TLS session (below). */
    fx_init(&f, "mta:\n  postfix: { default_destination_concurrency_limit: 1 }\n"
                "receivers:\n  - { name: a, domains: [a.test], starttls: no }\n");
    static const char *const to[] = {"a.test", NULL};
    mta_dest *d = NULL;
    for (int i = 0; i < 3; i++)
        fx_submit(&f, to);
    d = fx_dest(&f, "smtp:a.test");
    assert_false(d->conn_store); /* the first selection: nothing done yet */
    fx_run_until(&f, 5 * SIM_SEC);
    assert_int_equal(f.natt, 3);
    assert_int_equal(f.att[0].conn_use, 1);
    assert_int_equal(f.att[1].conn_use, 1); /* back to back: cached after use */
    assert_int_equal(f.att[2].conn_use, 2); /* reused */
    fx_run_until(&f, 60 * SIM_SEC);         /* the queue empties, the cache expires */
    fx_submit(&f, to);
    assert_false(d->conn_store);            /* a new queue */
    fx_submit(&f, to);
    fx_run_until(&f, 65 * SIM_SEC);
    assert_int_equal(f.natt, 5);
    assert_int_equal(f.att[3].conn_use, 1);
    fx_free(&f);
}

/*
 * A session that did STARTTLS is cached only with smtp_tls_connection_reuse = yes (smtp_proto.c:
 * without tlsproxy, smtp(8) cannot hand a TLS session to another process). Three back-to-back
 * deliveries: the third reuses the second's session, or connects anew.
 */
#define L1 "mta:\n  postfix: { default_destination_concurrency_limit: 1"
static void test_tls_sessions_cached_only_with_tls_connection_reuse(void **state)
{
    (void)state;
    static const struct {
        const char *mta;
        const char *starttls;
        uint32_t third_conn_use;
    } cases[] = {
        {L1 "}\n", "yes", 1},                                        /* Postfix's default: not cached */
        {L1 ", smtp_tls_connection_reuse: yes }\n", "yes", 2},       /* through tlsproxy */
        {L1 ", smtp_tls_security_level: none }\n", "yes", 2},        /* no TLS at all */
        {L1 "}\n", "no", 2},                                         /* the receiver offers none */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%sreceivers:\n  - { name: a, domains: [a.test], starttls: %s }\n", cases[k].mta,
                 cases[k].starttls);
        fx f;
        fx_init(&f, yaml);
        static const char *const to[] = {"a.test", NULL};
        for (int i = 0; i < 3; i++) /* one at a time (limit 1): back to back */
            fx_submit(&f, to);
        fx_run_until(&f, 5 * SIM_SEC);
        assert_int_equal(f.natt, 3);
        if (f.att[2].conn_use != cases[k].third_conn_use)
            fail_msg("case %zu (%s): the third delivery's conn_use is %u, want %u", k, yaml, f.att[2].conn_use,
                     cases[k].third_conn_use);
        fx_free(&f);
    }
}

/*
 * The scheduler trace: every feedback event with the window before and after and the entries busy
 * (the reporting one included) and waiting. Two deliveries refused at the greeting (a 4xx to every
 * connection, cohort limit 10 so the queue stays alive): the window goes 5 -> 3 -> 2, Postfix's
 * quirk of a first failure on a fresh queue taking two steps, then one. Then the queue is empty:
 * deleted and made anew at the initial window (qmgr_queue_done), not left at the 2 the failures
 * made.
 */
static void test_scheduler_trace(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { default_destination_concurrency_failed_cohort_limit: 10 }\n"
                "receivers:\n  - { name: a, domains: [a.test], starttls: no,\n"
                "      policy: [ { rule: random_fault, stage: connect, probability: 1 } ] }\n");
    static const char *const to[] = {"a.test", NULL};
    fx_submit(&f, to);
    fx_submit(&f, to);
    fx_run_until(&f, 10 * SIM_SEC);
    assert_int_equal(f.natt, 2);
    assert_int_equal(f.nwin, 3);
    assert_string_equal(f.win[0].cause, "failure");
    assert_int_equal(f.win[0].old_window, 5);
    assert_int_equal(f.win[0].new_window, 3);
    assert_int_equal(f.win[0].busy, 2);
    assert_int_equal(f.win[0].todo, 0);
    assert_string_equal(f.win[1].cause, "failure");
    assert_int_equal(f.win[1].old_window, 3);
    assert_int_equal(f.win[1].new_window, 2);
    assert_int_equal(f.win[1].busy, 1);
    assert_true(f.win[0].when <= f.win[1].when);
    assert_string_equal(f.win[2].cause, "new queue");
    assert_int_equal(f.win[2].old_window, 2);
    assert_int_equal(f.win[2].new_window, 5);
    assert_int_equal(fx_dest(&f, "smtp:a.test")->w.window, 5);
    fx_free(&f);
}

static void test_caching_stays_off_without_on_demand(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { smtp_connection_cache_on_demand: no }\n"
                "receivers:\n  - { name: a, domains: [a.test] }\n");
    static const char *const to[] = {"a.test", NULL};
    for (int i = 0; i < 3; i++) {
        fx_submit(&f, to);
        fx_run_until(&f, (sim_time_t)(i + 1) * 400 * SIM_MSEC);
    }
    for (size_t i = 0; i < f.natt; i++)
        assert_int_equal(f.att[i].conn_use, 1);
    fx_free(&f);
}

static void test_one_queue_per_transport_and_nexthop(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  transports:\n    relay: { domains: [a.test, b.test], nexthop: \"[relay.test]\" }\n"
                "receivers:\n  - { name: a, domains: [a.test, b.test, c.test, d.test] }\n");
    /* a.test and b.test share the relay's queue; c.test and d.test have one each on smtp. */
    assert_int_equal(mta_host_ndests(f.h), 3);
    mta_dest *relay = fx_dest(&f, "relay:[relay.test]");
    assert_ptr_equal(f.h->dest_of[fx_domain(&f, "a.test")], relay);
    assert_ptr_equal(f.h->dest_of[fx_domain(&f, "b.test")], relay);
    assert_ptr_not_equal(f.h->dest_of[fx_domain(&f, "c.test")], f.h->dest_of[fx_domain(&f, "d.test")]);
    /* Found again, not made twice, whatever the number of destinations. */
    assert_ptr_equal(mta_dest_find_or_create(f.h, relay->tr, "[relay.test]", relay->rcv), relay);
    for (int i = 0; i < 500; i++) {
        char nh[32];
        snprintf(nh, sizeof(nh), "n%d.test", i);
        mta_dest *d = mta_dest_find_or_create(f.h, &f.h->tr[0], nh, relay->rcv);
        assert_ptr_equal(mta_dest_find_or_create(f.h, &f.h->tr[0], nh, relay->rcv), d);
    }
    assert_int_equal(mta_host_ndests(f.h), 503);
    assert_ptr_equal(mta_dest_find_or_create(f.h, relay->tr, "[relay.test]", relay->rcv), relay);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cohort_of_failures_makes_destination_dead),
        cmocka_unit_test(test_dead_destination_defers_without_connecting),
        cmocka_unit_test(test_dead_destination_lives_again_after_minimal_backoff_time),
        cmocka_unit_test(test_destinations_of_a_transport_take_turns_within_maxproc),
        cmocka_unit_test(test_destination_rate_delay_means_one_delivery_at_a_time),
        cmocka_unit_test(test_back_to_back_deliveries_turn_on_connection_caching),
        cmocka_unit_test(test_tls_sessions_cached_only_with_tls_connection_reuse),
        cmocka_unit_test(test_scheduler_trace),
        cmocka_unit_test(test_caching_stays_off_without_on_demand),
        cmocka_unit_test(test_one_queue_per_transport_and_nexthop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
