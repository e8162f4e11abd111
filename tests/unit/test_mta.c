/*
 * Tests of models/mta.c, a Postfix host's queues: activation into the active queue, recipients
 * grouped into entries per destination (also for messages of thousands of recipients, up to
 * TRAFFIC_MAX_RCPT), the active-queue limit, backoff and the deferred-queue scan, and the queue
 * lifetime. Each drives one host directly (mta_fixture.h).
 */
#include <math.h>

#include "tests/unit/mta_fixture.h"
#include "sim/sim_hash.h"

/* Twelve transports, each with a domain of its own, each domain with its own receiver. */
static const char twelve[] =
    "mta:\n  transports:\n"
    "    t1: { domains: [d1.test] }\n    t2: { domains: [d2.test] }\n    t3: { domains: [d3.test] }\n"
    "    t4: { domains: [d4.test] }\n    t5: { domains: [d5.test] }\n    t6: { domains: [d6.test] }\n"
    "    t7: { domains: [d7.test] }\n    t8: { domains: [d8.test] }\n    t9: { domains: [d9.test] }\n"
    "    t10: { domains: [d10.test] }\n    t11: { domains: [d11.test] }\n    t12: { domains: [d12.test] }\n"
    "receivers:\n"
    "  - { name: r1, domains: [d1.test] }\n  - { name: r2, domains: [d2.test] }\n"
    "  - { name: r3, domains: [d3.test] }\n  - { name: r4, domains: [d4.test] }\n"
    "  - { name: r5, domains: [d5.test] }\n  - { name: r6, domains: [d6.test] }\n"
    "  - { name: r7, domains: [d7.test] }\n  - { name: r8, domains: [d8.test] }\n"
    "  - { name: r9, domains: [d9.test] }\n  - { name: r10, domains: [d10.test] }\n"
    "  - { name: r11, domains: [d11.test] }\n  - { name: r12, domains: [d12.test] }\n";

/* trivial-rewrite's choice (mta_route): transport_maps by the recipient's domain first (an entry for
 * smtp itself included), then sender_dependent_default_transport_maps (the whole address before
 * @domain, any case, <> for the null sender), then default_transport. */
static void test_route_by_domain_then_sender_then_default(void **state)
{
    (void)state;
    static const char text[] =
        "name: r\ntraffic: {classes: [{name: a, arrivals: {process: poisson, rate: 1/s}, domains: {x.test: 1}}]}\n"
        "mta:\n  transports:\n    smtp: {domains: [pinned.test]}\n    strict: {domains: [corp.test]}\n"
        "    bulk: {senders: [news@example.test, '<>', x@lists.example.test]}\n"
        "    lists: {senders: ['@lists.example.test']}\n";
    scenario_error err;
    scenario *s = scenario_load_text(text, strlen(text), "r.yaml", NULL, 0, &err);
    if (!s)
        fail_msg("%s", err.message);
    static const struct {
        const char *domain, *sender, *want;
    } cases[] = {
        {"corp.test", "news@example.test", "strict"},   {"pinned.test", "news@example.test", "smtp"},
        {"other.test", "news@example.test", "bulk"},    {"Other.test", "NEWS@Example.TEST", "bulk"},
        {"other.test", "", "bulk"},                     {"other.test", "a@lists.example.test", "lists"},
        {"other.test", "x@lists.example.test", "bulk"}, {"other.test", "a@example.test", "smtp"},
        {"corp.test", "", "strict"},                    {"other.test", "lists.example.test", "smtp"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t t = mta_route(&s->mta, mta_route_listing(&s->mta, cases[i].domain), cases[i].sender);
        if (strcmp(s->mta.transports[t].name, cases[i].want) != 0)
            fail_msg("%s from <%s>: %s, expected %s", cases[i].domain, cases[i].sender, s->mta.transports[t].name,
                     cases[i].want);
    }
    scenario_free(s);
}

/* A class whose sender has a transport of its own has its messages in that transport's queue. */
static void test_sender_transport_has_its_own_queues(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  transports:\n    bulk: {senders: [noreply@tempfail.test], destination_concurrency_limit: 1}\n"
                "receivers:\n  - { name: a, domains: [a.test] }\n");
    static const char *const to[] = {"a.test", "a.test", "a.test", NULL};
    fx_submit(&f, to);
    fx_settle(&f);
    assert_non_null(fx_dest(&f, "bulk:a.test"));
    assert_int_equal(fx_dest(&f, "bulk:a.test")->w.busy, 1); /* its limit of 1 */
    for (size_t i = 0; i < f.h->ndests; i++) /* the only class's sender has a transport: no smtp queue */
        assert_string_not_equal(f.h->dests[i]->name, "smtp:a.test");
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 3);
    for (size_t i = 0; i < f.natt; i++)
        assert_string_equal(f.att[i].destination, "bulk:a.test");
    fx_free(&f);
}

static void test_message_to_twelve_transports_is_dispatched_to_all_at_once(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, twelve);
    static const char *const to[] = {"d1.test", "d2.test", "d3.test", "d4.test",  "d5.test",  "d6.test",
                                     "d7.test", "d8.test", "d9.test", "d10.test", "d11.test", "d12.test", NULL};
    fx_submit(&f, to);
    fx_settle(&f);
    /* Activation placed all twelve recipients and woke every transport: one agent busy in each. */
    assert_int_equal(f.h->ntr, 13);
    for (size_t t = 1; t < f.h->ntr; t++)
        assert_int_equal(f.h->tr[t].busy, 1);
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 12);
    for (size_t i = 1; i < f.natt; i++)
        assert_int_equal(f.att[i].when, f.att[0].when); /* the same path to each: all at the same instant */
    assert_int_equal(f.nmsg, 1);
    assert_int_equal(f.msg[0].outcome, MTA_OUTCOME_DELIVERED);
    fx_free(&f);
}

static void test_recipients_grouped_by_destination_recipient_limit(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { default_destination_recipient_limit: 2 }\n"
                "receivers:\n  - { name: a, domains: [a.test, b.test] }\n");
    static const char *const to[] = {"a.test", "b.test", "a.test", "a.test", "b.test", "a.test", "a.test", NULL};
    fx_submit(&f, to);
    fx_settle(&f);
    /* a.test: five recipients in entries of 2, 2, 1; b.test: one entry of 2. */
    assert_int_equal(fx_dest(&f, "smtp:a.test")->w.busy, 3);
    assert_int_equal(fx_dest(&f, "smtp:b.test")->w.busy, 1);
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 7);
    uint32_t pids[8];
    size_t npids = 0;
    for (size_t i = 0; i < f.natt; i++) {
        bool seen = false;
        for (size_t k = 0; k < npids; k++)
            seen |= pids[k] == f.att[i].pid;
        if (!seen)
            pids[npids++] = f.att[i].pid;
    }
    assert_int_equal(npids, 4); /* one agent per entry */
    assert_int_equal(f.msg[0].attempts, 1);
    fx_free(&f);
}

static void test_recipients_of_many_destinations_share_one_entry_each(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "receivers:\n  - { name: e, domains: [e1.test, e2.test, e3.test, e4.test, e5.test, e6.test,\n"
                "                                e7.test, e8.test, e9.test, e10.test] }\n");
    static const char *const to[] = {"e1.test", "e2.test", "e3.test", "e4.test", "e5.test", "e6.test", "e7.test",
                                     "e8.test", "e9.test", "e10.test", "e1.test", "e2.test", "e3.test", "e4.test",
                                     "e5.test", "e6.test", "e7.test", "e8.test", "e9.test", "e10.test", NULL};
    fx_submit(&f, to);
    fx_settle(&f);
    for (int i = 1; i <= 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "smtp:e%d.test", i);
        mta_dest *d = fx_dest(&f, name);
        assert_int_equal(d->w.busy, 1); /* both of its recipients in one entry */
    }
    fx_run_until(&f, 60 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", "delivered"), 20);
    fx_free(&f);
}

/* What happened to each recipient of one big message, from its attempt records' addresses
 * ("u<id>.<i>@domain", models/mta_record.c). */
typedef struct big_tally {
    uint32_t nrcpt;
    uint32_t *delivered, *deferred;
    uint64_t other; /* records that are neither, or name no recipient of the message */
} big_tally;

static big_tally tally;

static void tally_attempt(void *ctx, const mta_attempt_record *r)
{
    (void)ctx;
    unsigned long long id;
    unsigned i = 0;
    char c;
    bool named = sscanf(r->rcpt, "u%llu.%u%c", &id, &i, &c) == 3 ? c == '@' : sscanf(r->rcpt, "u%llu%c", &id, &c) == 2 && c == '@';
    if (!named || id != 1 || i >= tally.nrcpt)
        tally.other++;
    else if (r->status == MTA_STATUS_SENT)
        tally.delivered[i]++;
    else if (r->status == MTA_STATUS_DEFERRED)
        tally.deferred[i]++;
    else
        tally.other++;
}

/*
 * One message of thousands of recipients: destination_recipient_limit splits it into entries (all
 * queued at once), every recipient is delivered exactly once - also across deferrals and retries -
 * and each entry is one SMTP transaction.
 */
static void test_message_of_thousands_of_recipients(void **state)
{
    (void)state;
    static const struct {
        uint32_t nrcpt, ndomains, limit;
        double fault;  /* share of RCPTs deferred (a 450), per attempt */
    } cases[] = {
        {5000, 1, 50, 0},
        {5000, 2, 50, 0},
        {5000, 1, 0, 0},    /* unlimited: one entry */
        {5000, 1, 50, 0.3}, /* deferred recipients come back on later passes */
        {TRAFFIC_MAX_RCPT, 3, 50, 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "mta:\n  postfix: { default_destination_recipient_limit: %u, queue_run_delay: 60s,"
                 " minimal_backoff_time: 60s, maximal_backoff_time: 120s }\n"
                 "receivers:\n  - { name: a, domains: [a.test, b.test, c.test]%s }\n",
                 cases[k].limit,
                 cases[k].fault > 0 ? ", policy: [ { rule: random_fault, stage: rcpt, probability: 0.3 } ]" : "");
        fx f;
        fx_init(&f, yaml);
        f.env.attempt = tally_attempt;
        uint32_t n = cases[k].nrcpt;
        tally = (big_tally){.nrcpt = n, .delivered = calloc(n, sizeof(uint32_t)), .deferred = calloc(n, sizeof(uint32_t))};
        uint16_t *dom = malloc(n * sizeof(*dom));
        static const char *const names[] = {"a.test", "b.test", "c.test"};
        uint32_t per[3] = {0};
        for (uint32_t i = 0; i < n; i++) {
            uint32_t d = i % cases[k].ndomains;
            dom[i] = fx_domain(&f, names[d]);
            per[d]++;
        }
        traffic_msg m = {.id = f.next_id++, .arrival = 0, .size = 4096, .nrcpt = n, .rcpt_domain = dom};
        mta_host_submit(f.h, &m, dom, m.id, 0);
        /* Activation placed them all: ceil(recipients / limit) entries per destination, busy or waiting. */
        uint32_t entries = 0;
        for (uint32_t d = 0; d < cases[k].ndomains; d++) {
            char name[32];
            snprintf(name, sizeof(name), "smtp:%s", names[d]);
            mta_dest *q = fx_dest(&f, name);
            uint32_t want = cases[k].limit ? (per[d] + cases[k].limit - 1) / cases[k].limit : 1;
            if (q->w.busy + q->todo != want)
                fail_msg("case %zu, %s: %u busy + %u waiting entries, want %u", k, name, q->w.busy, q->todo, want);
            entries += want;
        }
        fx_run_until(&f, 2 * SIM_HOUR);
        uint64_t deferred = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (tally.delivered[i] != 1)
                fail_msg("case %zu: recipient %u delivered %u times", k, i, tally.delivered[i]);
            deferred += tally.deferred[i];
        }
        assert_int_equal(tally.other, 0);
        assert_int_equal(f.nmsg, 1);
        assert_int_equal(f.msg[0].outcome, MTA_OUTCOME_DELIVERED);
        const policy_stats *st = policy_get_stats(f.rcv[0]->pol);
        assert_int_equal(st->recipients_accepted, n);
        if (cases[k].fault == 0) {
            assert_int_equal(deferred, 0);
            assert_int_equal(st->messages_accepted, entries); /* one transaction per entry */
            assert_int_equal(f.msg[0].attempts, 1);
        } else {
            assert_true(deferred > 0);
            assert_true(f.msg[0].attempts > 1);
        }
        free(dom);
        free(tally.delivered);
        free(tally.deferred);
        fx_free(&f);
    }
}

static void test_active_limit_keeps_the_rest_in_incoming(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { qmgr_message_active_limit: 2 }\n"
                "receivers:\n  - { name: a, domains: [a.test] }\n");
    static const char *const to[] = {"a.test", NULL};
    for (int i = 0; i < 5; i++)
        fx_submit(&f, to);
    uint64_t in, act, def;
    mta_host_queue_sizes(f.h, &in, &act, &def);
    assert_int_equal(act, 2);
    assert_int_equal(in, 3);
    assert_int_equal(def, 0);
    fx_run_until(&f, 60 * SIM_SEC);
    mta_host_queue_sizes(f.h, &in, &act, &def);
    assert_int_equal(in + act + def, 0);
    assert_int_equal(f.nmsg, 5);
    assert_int_equal(mta_host_oldest(f.h), SIM_TIME_NEVER);
    fx_free(&f);
}

/* A receiver that defers every recipient (the site itself is fine: positive feedback). */
static const char deferring[] =
    "receivers:\n  - { name: a, domains: [a.test],\n"
    "      policy: [ { rule: random_fault, stage: rcpt, probability: 1, reply: \"450 4.2.0 try later\" } ] }\n";

static void test_deferred_message_is_retried_by_the_scan_after_backoff(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, deferring);
    static const char *const to[] = {"a.test", NULL};
    fx_submit(&f, to);
    fx_run_until(&f, 10 * SIM_SEC);
    uint64_t in, act, def;
    mta_host_queue_sizes(f.h, &in, &act, &def);
    assert_int_equal(def, 1);
    assert_int_equal(fx_count(&f, "smtp", NULL), 1);
    assert_int_equal(f.att[0].status, MTA_STATUS_DEFERRED);
    /* minimal_backoff_time 300s; the next deferred-queue scan (every queue_run_delay = 300s) finds it due. */
    fx_run_until(&f, 299 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", NULL), 1);
    fx_run_until(&f, 302 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", NULL), 2);
    assert_true(f.att[1].when >= 300 * SIM_SEC);
    assert_int_equal(mta_host_oldest(f.h), 0);
    fx_free(&f);
}

/*
 * Postfix counts in whole seconds (time_t): a deferred file's mtime is event_time() + the backoff, and
 * a scan takes it when mtime <= time() + 1. Scans every 10 s, a 10 s backoff, a message refused at
 * `refused` s; which scan retries it:
 *   refused 1.7, Postfix's seconds: mtime 1 + 10 = 11 <= 10 + 1, the scan at 10 (exact times, 11.7,
 *     would wait for the scan at 20);
 *   refused 3.1: mtime 13 > 11, the scan at 20;
 * and with Postfix's second counted as 2 s of scenario time (a replay at speedup 2), whose seconds
 * begin at `phase` + 2n (clock_phase): from 0, mtime 2 + 10 <= 10 + 2, the scan at 10; from 1.0,
 * 3 + 10 > 9 + 2, at 20; from 1.5, 1.5 + 10 <= 9.5 + 2, at 10.
 * qmgr sleeps between its events, and a timer wakes it at the due second plus the fraction of its
 * own second at which it last woke (events.c): the scan at 10 comes at 10.7 after the refusal at 1.7;
 * one that finds nothing due, at 10.1, puts the next at 20.1 (or, where a second is 2 s from 1.0, at
 * 21.1: from 10.1, in the second that began at 9, qmgr sleeps 20 - 9 s).
 */
static void test_retry_counts_postfix_whole_seconds(void **state)
{
    (void)state;
    static const struct {
        double refused, tick, phase, retried_at, fired_at;
    } cases[] = {{1.7, 1, 0, 10, 10.7},
                 {3.1, 1, 0, 20, 20.1},
                 {3.1, 2, 0, 10, 11.1},
                 {3.1, 2, 1.0, 20, 21.1},
                 {3.1, 2, 1.5, 10, 11.6}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[1024];
        /* the 421 reaches the client one and a half round trips after it starts */
        snprintf(yaml, sizeof(yaml),
                 "mta:\n  postfix: { queue_run_delay: 10s, minimal_backoff_time: 10s, maximal_backoff_time: 10s }\n"
                 "receivers:\n  - { name: a, domains: [a.test], network: { rtt: %.6fms },\n"
                 "      policy: [ { rule: random_fault, stage: connect, probability: 1, reply: \"421 4.7.0 busy\" } ] }\n",
                 cases[k].refused / 1.5 * 1000);
        fx f;
        fx_init(&f, yaml);
        f.s->mta.clock_tick = sim_time_from_sec(cases[k].tick);
        f.s->mta.clock_phase = sim_time_from_sec(cases[k].phase);
        static const char *const to[] = {"a.test", NULL};
        fx_submit(&f, to);
        fx_run_until(&f, 25 * SIM_SEC);
        assert_true(fx_count(&f, "smtp", NULL) >= 2);
        assert_true(fabs(sim_time_to_sec(f.att[0].when) - cases[k].refused) < 0.001);
        double scan = sim_time_to_sec(f.att[1].when) - cases[k].refused; /* the scan that took it */
        if (fabs(scan - cases[k].fired_at) > 0.01)
            fail_msg("case %zu (refused %g, tick %g, phase %g): retried by the scan due at %g at %.3f, want %g", k,
                     cases[k].refused, cases[k].tick, cases[k].phase, cases[k].retried_at, scan, cases[k].fired_at);
        fx_free(&f);
    }
}

/*
 * Each host's qmgr scans at its own phase of queue_run_delay (mta.qmgr_start): with scans every 10 s
 * and a 10 s backoff, a message refused at once is retried by the first host's scan at 10 s, by the
 * second host's, whose scans fall at 7 s + 10n, at 17 s; by default the second host's phase is a
 * whole second of the cycle drawn from the seed (mta_qmgr_start).
 */
static void test_each_host_scans_at_its_own_phase(void **state)
{
    (void)state;
    static const struct {
        uint32_t host;
        const char *start;
        double retried_at; /* < 0: at mta_qmgr_start's default + 10 */
    } cases[] = {{0, "[0s, 7s]", 10}, {1, "[0s, 7s]", 17}, {1, "[3s, 0s]", 10}, {0, "random", 10}, {1, "random", -1}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml),
                 "mta:\n  hosts: 2\n  qmgr_start: %s\n"
                 "  postfix: { queue_run_delay: 10s, minimal_backoff_time: 10s, maximal_backoff_time: 10s }\n"
                 "receivers:\n  - { name: a, domains: [a.test], network: { rtt: 1ms },\n"
                 "      policy: [ { rule: random_fault, stage: connect, probability: 1, reply: \"421 4.7.0 busy\" } ] }\n",
                 cases[k].start);
        fx f;
        fx_init_host(&f, yaml, cases[k].host);
        double want = cases[k].retried_at;
        if (want < 0) {
            sim_time_t p = mta_qmgr_start(&f.s->mta, cases[k].host, f.s->seed, 0);
            assert_true(p >= 0 && p < 10 * SIM_SEC && p % SIM_SEC == 0);
            want = sim_time_to_sec(p) + 10;
        }
        static const char *const to[] = {"a.test", NULL};
        fx_submit(&f, to);
        fx_run_until(&f, 25 * SIM_SEC);
        assert_true(fx_count(&f, "smtp", NULL) >= 2);
        double scan = sim_time_to_sec(f.att[1].when); /* the scan's retry: its 421 comes 1.5 ms later */
        if (fabs(scan - want) > 0.01)
            fail_msg("case %zu (host %u, qmgr_start %s): retried at %.3f, want %g", k, cases[k].host, cases[k].start,
                     scan, want);
        fx_free(&f);
    }
}

/*
 * A scan visits the due files as Postfix's directory walk lists them (the queue id's hashed
 * subdirectory, then the names), not in arrival or retry order: eight messages deferred one after the
 * other, all due at the scan at 20 s, are retried in that order - which decides whose backoff doubles
 * when the receiver refuses again.
 */
static uint64_t walk_key(uint64_t id)
{
    char qid[16], dir[2] = {0, 0};
    mta_record_queue_id(0, id, qid, sizeof(qid));
    dir[0] = qid[0];
    return (sim_hash_str(SIM_HASH_INIT, dir) & 0xFFFF000000000000ull) | (sim_hash_str(SIM_HASH_INIT, qid) >> 16);
}

static void test_scan_visits_due_files_in_directory_order(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mta:\n  postfix: { queue_run_delay: 20s, minimal_backoff_time: 10s, maximal_backoff_time: 10s,\n"
                "    default_destination_concurrency_limit: 1 }\n"
                "receivers:\n  - { name: a, domains: [a.test],\n"
                "      policy: [ { rule: random_fault, stage: rcpt, probability: 1, reply: \"450 4.2.0 later\" } ] }\n");
    static const char *const to[] = {"a.test", NULL};
    uint64_t ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = fx_submit(&f, to);
    fx_run_until(&f, 9 * SIM_SEC);
    assert_int_equal(fx_count(&f, "smtp", NULL), 8); /* one after the other, all deferred */
    fx_run_until(&f, 39 * SIM_SEC);                 /* the scan at 20 retries all eight, one at a time */
    assert_int_equal(fx_count(&f, "smtp", NULL), 16);
    /* the expected order: by the walk's key */
    for (int i = 1; i < 8; i++)
        for (int j = i; j > 0 && walk_key(ids[j]) < walk_key(ids[j - 1]); j--) {
            uint64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    bool arrival_order = true;
    for (int i = 0; i < 8; i++) {
        unsigned long got = strtoul(f.att[8 + i].rcpt + 1, NULL, 10); /* "u<id>@a.test" */
        if (got != ids[i])
            fail_msg("retry %d is message %lu, want %llu", i, got, (unsigned long long)ids[i]);
        arrival_order &= got == (unsigned long)(i + 1);
    }
    assert_false(arrival_order);
    fx_free(&f);
}

static void test_message_past_queue_lifetime_is_returned(void **state)
{
    (void)state;
    fx f;
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "mta:\n  postfix: { maximal_queue_lifetime: 10m }\n%s", deferring);
    fx_init(&f, yaml);
    static const char *const to[] = {"a.test", NULL};
    fx_submit(&f, to);
    fx_run_until(&f, 3600 * SIM_SEC);
    /* Attempts at 0, 300s and 600s; after the third the message is older than 10 minutes. */
    assert_int_equal(fx_count(&f, "smtp", NULL), 3);
    assert_int_equal(fx_count(&f, "qmgr", "expired"), 1);
    assert_int_equal(f.nmsg, 1);
    assert_int_equal(f.msg[0].outcome, MTA_OUTCOME_BOUNCED);
    assert_int_equal(f.msg[0].attempts, 3);
    fx_free(&f);
}

static void test_finish_reports_what_is_still_queued(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, deferring);
    static const char *const to[] = {"a.test", NULL};
    fx_submit(&f, to);
    fx_submit(&f, to);
    fx_run_until(&f, 10 * SIM_SEC);
    assert_int_equal(f.nmsg, 0);
    mta_host_finish(f.h, sim_calendar_now(f.cal));
    assert_int_equal(f.nmsg, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f.msg[i].outcome, MTA_OUTCOME_QUEUED);
        assert_int_equal(f.msg[i].done, SIM_TIME_NEVER);
    }
    assert_int_equal(f.msg[0].id, 1); /* oldest first */
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_by_domain_then_sender_then_default),
        cmocka_unit_test(test_sender_transport_has_its_own_queues),
        cmocka_unit_test(test_message_to_twelve_transports_is_dispatched_to_all_at_once),
        cmocka_unit_test(test_recipients_grouped_by_destination_recipient_limit),
        cmocka_unit_test(test_recipients_of_many_destinations_share_one_entry_each),
        cmocka_unit_test(test_message_of_thousands_of_recipients),
        cmocka_unit_test(test_active_limit_keeps_the_rest_in_incoming),
        cmocka_unit_test(test_deferred_message_is_retried_by_the_scan_after_backoff),
        cmocka_unit_test(test_retry_counts_postfix_whole_seconds),
        cmocka_unit_test(test_each_host_scans_at_its_own_phase),
        cmocka_unit_test(test_scan_visits_due_files_in_directory_order),
        cmocka_unit_test(test_message_past_queue_lifetime_is_returned),
        cmocka_unit_test(test_finish_reports_what_is_still_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
