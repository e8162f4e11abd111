/*
 * test_traffic - the message generator: each arrival process against its definition (exact where
 * the process is deterministic, within 4 sigma where it is random, with fixed seeds so a run is
 * repeatable), the merge order, message attributes, determinism and stream independence, the
 * horizon, re-sends, traffic_rate_at and the configuration check.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expect_abort.h"
#include "models/traffic.h"

#define SEED 20240611u

static traffic_domain_weight one_domain[] = {{"a.test", 1.0}};

static traffic_class_config class_with(const char *name, traffic_arrivals arr)
{
    return (traffic_class_config){
        .name = (char *)name,
        .arrivals = arr,
        .size = {.kind = SIM_DIST_CONSTANT, .a = 1000},
        .recipients = {.kind = SIM_DIST_CONSTANT, .a = 1},
        .domains = one_domain,
        .ndomains = 1,
    };
}

static traffic_arrivals poisson(double rate) { return (traffic_arrivals){.kind = TRAFFIC_POISSON, .rate = rate}; }

static traffic_arrivals periodic(uint64_t count, sim_time_t start, sim_time_t every)
{
    return (traffic_arrivals){.kind = TRAFFIC_PERIODIC, .count = count, .start = start, .every = every};
}

/* Asserts |x - expect| <= 4 sigma, with a message naming the quantity. */
static void assert_within(const char *what, double x, double expect, double sigma)
{
    if (fabs(x - expect) > 4 * sigma)
        fail_msg("%s: %g, expected %g +- %g (4 sigma)", what, x, expect, 4 * sigma);
}

/* Drains a generator, checking the invariants every message must keep; returns the count. */
static uint64_t drain_checked(traffic *t, const traffic_config *cfg, sim_time_t horizon)
{
    traffic_msg m;
    uint64_t n = 0;
    sim_time_t last = INT64_MIN;
    while (traffic_peek(t) != SIM_TIME_NEVER) {
        sim_time_t peek = traffic_peek(t);
        assert_true(traffic_next(t, &m));
        assert_int_equal(m.arrival, peek);
        assert_true(m.arrival >= last);
        assert_true(m.arrival < horizon);
        assert_true(m.arrival >= 0);
        assert_int_equal(m.id, n + 1);
        assert_true(m.cls < cfg->nclasses);
        assert_true(m.nrcpt >= 1 && m.nrcpt <= TRAFFIC_MAX_RCPT);
        for (uint32_t k = 0; k < m.nrcpt; k++)
            assert_true(m.rcpt_domain[k] < cfg->classes[m.cls].ndomains);
        assert_int_equal(m.resend_of, 0);
        last = m.arrival;
        n++;
    }
    assert_false(traffic_next(t, &m));
    return n;
}

/* ---- Poisson ---- */

static void test_poisson_count_and_gaps(void **state)
{
    (void)state;
    static const struct {
        double rate;       /* per second */
        sim_time_t horizon;
    } cases[] = {
        {50, 2000 * SIM_SEC},     /* everyday rate, long horizon */
        {2000, 50 * SIM_SEC},
        {200000, 500 * SIM_MSEC}, /* gaps of 5 us: microsecond rounding must not bias */
        {0.01, 10000000 * SIM_SEC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_class_config c = class_with("p", poisson(cases[i].rate));
        traffic_config cfg = {&c, 1};
        traffic *t = traffic_create(&cfg, SEED, 0, cases[i].horizon);
        traffic_msg m;
        uint64_t n = 0;
        double sum = 0, sum2 = 0;
        sim_time_t prev = 0;
        while (traffic_next(t, &m)) {
            double gap = (double)(m.arrival - prev);
            if (n > 0) {
                sum += gap;
                sum2 += gap * gap;
            }
            prev = m.arrival;
            n++;
        }
        double expect = cases[i].rate * sim_time_to_sec(cases[i].horizon);
        assert_within("poisson count", (double)n, expect, sqrt(expect));
        double mean_gap = (double)SIM_SEC / cases[i].rate, ngaps = (double)(n - 1);
        double mean = sum / ngaps;
        assert_within("poisson mean gap", mean, mean_gap, mean_gap / sqrt(ngaps));
        /* Exponential: standard deviation equals the mean (coefficient of variation 1). */
        double sd = sqrt(sum2 / ngaps - mean * mean);
        assert_within("poisson gap cv", sd / mean, 1.0, 1.0 / sqrt(ngaps));
        traffic_free(t);
    }
}

static void test_poisson_rate_zero(void **state)
{
    (void)state;
    traffic_class_config c = class_with("p", poisson(0));
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg m;
    assert_int_equal(traffic_peek(t), SIM_TIME_NEVER);
    assert_false(traffic_next(t, &m));
    traffic_free(t);
}

/* ---- schedule ---- */

static void test_schedule_two_steps(void **state)
{
    (void)state;
    traffic_rate_step steps[] = {{0, 10}, {100 * SIM_SEC, 40}};
    traffic_class_config c = class_with("s", (traffic_arrivals){.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 2});
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, 200 * SIM_SEC);
    traffic_msg m;
    double first = 0, second = 0;
    while (traffic_next(t, &m))
        *(m.arrival < 100 * SIM_SEC ? &first : &second) += 1;
    assert_within("schedule step 0", first, 1000, sqrt(1000));
    assert_within("schedule step 1", second, 4000, sqrt(4000));
    traffic_free(t);
}

/* Runs one class whose schedule repeats every period: rate for the first `on` of it, nothing for the rest,
 * until horizon. Every arrival must fall in an on part; per_period[k] counts those of period k (the first
 * nper periods; per_period may be NULL). Returns the number of arrivals. */
static double run_on_off_schedule(double rate, sim_time_t on, sim_time_t period, sim_time_t horizon,
                                  double *per_period, size_t nper)
{
    traffic_rate_step steps[] = {{0, rate}, {on, 0}};
    traffic_class_config c = class_with(
        "s", (traffic_arrivals){.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 2, .period = period});
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, horizon);
    traffic_msg m;
    double n = 0;
    while (traffic_next(t, &m)) {
        if (m.arrival % period >= on)
            fail_msg("an arrival at %lld us, in the off part of its period", (long long)m.arrival);
        size_t k = (size_t)(m.arrival / period);
        if (per_period && k < nper)
            per_period[k]++;
        n++;
    }
    traffic_free(t);
    return n;
}

static void test_schedule_period(void **state)
{
    (void)state;
    /* 20/s for the first half of each minute, nothing in the second half. */
    double per_period[10] = {0};
    double total = run_on_off_schedule(20, 30 * SIM_SEC, 60 * SIM_SEC, 600 * SIM_SEC, per_period, 10);
    assert_within("schedule total", total, 6000, sqrt(6000));
    for (int k = 0; k < 10; k++)
        assert_within("schedule per period", per_period[k], 600, sqrt(600));
}

static void test_schedule_sparse_period(void **state)
{
    (void)state;
    /* One expected arrival per thousand periods: periods are skipped in bulk, not walked. */
    double n = run_on_off_schedule(0.001, 1 * SIM_SEC, 10 * SIM_SEC, 10000000 * SIM_SEC, NULL, 0);
    assert_within("sparse schedule count", n, 1000, sqrt(1000));
}

static void test_schedule_ends_with_zero_rate(void **state)
{
    (void)state;
    /* No period and a last step of rate 0: the class ends by itself, even with no horizon. */
    traffic_rate_step steps[] = {{0, 0}, {10 * SIM_SEC, 100}, {20 * SIM_SEC, 0}};
    traffic_class_config c = class_with("s", (traffic_arrivals){.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 3});
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    uint64_t n = drain_checked(t, &cfg, SIM_TIME_NEVER);
    assert_within("schedule middle step", (double)n, 1000, sqrt(1000));
    traffic_free(t);

    t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg m;
    while (traffic_next(t, &m))
        assert_true(m.arrival >= 10 * SIM_SEC && m.arrival < 20 * SIM_SEC);
    traffic_free(t);
}

/* ---- burst ---- */

static void test_burst(void **state)
{
    (void)state;
    static const struct {
        uint64_t count;
        sim_time_t start, over;
    } cases[] = {
        {100000, 10 * SIM_SEC, 60 * SIM_SEC},
        {1, 0, 1},                /* one message in a one-microsecond interval: at start */
        {1000, 5 * SIM_SEC, 100}, /* more messages than microseconds: ties, still inside */
        {50000, 0, 3 * SIM_HOUR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_arrivals a = {.kind = TRAFFIC_BURST, .count = cases[i].count, .start = cases[i].start, .over = cases[i].over};
        traffic_class_config c = class_with("b", a);
        traffic_config cfg = {&c, 1};
        traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
        traffic_msg m;
        uint64_t n = 0;
        double first_half = 0, sum = 0;
        sim_time_t prev = 0;
        while (traffic_next(t, &m)) {
            assert_true(m.arrival >= cases[i].start);
            assert_true(m.arrival < cases[i].start + cases[i].over);
            assert_true(m.arrival >= prev);
            prev = m.arrival;
            double u = (double)(m.arrival - cases[i].start) / (double)cases[i].over;
            first_half += u < 0.5;
            sum += u;
            n++;
        }
        assert_int_equal(n, cases[i].count);
        if (cases[i].count >= 10000 && cases[i].over > (sim_time_t)cases[i].count) {
            double N = (double)n;
            assert_within("burst first half", first_half, N / 2, sqrt(N / 4));
            assert_within("burst mean position", sum / N, 0.5, sqrt(1.0 / 12 / N));
        }
        traffic_free(t);
    }
}

static void test_burst_cut_by_horizon(void **state)
{
    (void)state;
    traffic_class_config c = class_with("b", (traffic_arrivals){.kind = TRAFFIC_BURST, .count = 10000, .over = 100 * SIM_SEC});
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, 25 * SIM_SEC);
    uint64_t n = drain_checked(t, &cfg, 25 * SIM_SEC);
    assert_within("burst before the horizon", (double)n, 2500, sqrt(10000 * 0.25 * 0.75));
    traffic_free(t);
}

/* ---- periodic, trace ---- */

static void expect_times(const traffic_config *cfg, sim_time_t horizon, const sim_time_t *want, size_t nwant)
{
    traffic *t = traffic_create(cfg, SEED, 0, horizon);
    traffic_msg m;
    size_t n = 0;
    while (traffic_next(t, &m)) {
        assert_true(n < nwant);
        assert_int_equal(m.arrival, want[n]);
        n++;
    }
    assert_int_equal(n, nwant);
    traffic_free(t);
}

static void test_periodic(void **state)
{
    (void)state;
    static const sim_time_t batches[] = {5 * SIM_SEC,  5 * SIM_SEC,  5 * SIM_SEC,  15 * SIM_SEC,
                                         15 * SIM_SEC, 15 * SIM_SEC, 25 * SIM_SEC, 25 * SIM_SEC,
                                         25 * SIM_SEC, 35 * SIM_SEC, 35 * SIM_SEC, 35 * SIM_SEC};
    static const sim_time_t once[] = {SIM_SEC, SIM_SEC};
    static const struct {
        traffic_arrivals a;
        sim_time_t horizon;
        const sim_time_t *want;
        size_t nwant;
    } cases[] = {
        {{.kind = TRAFFIC_PERIODIC, .count = 3, .start = 5 * SIM_SEC, .every = 10 * SIM_SEC}, 40 * SIM_SEC, batches, 12},
        /* the batch at the horizon is excluded */
        {{.kind = TRAFFIC_PERIODIC, .count = 3, .start = 5 * SIM_SEC, .every = 10 * SIM_SEC}, 35 * SIM_SEC, batches, 9},
        {{.kind = TRAFFIC_PERIODIC, .count = 2, .start = SIM_SEC, .every = 0}, SIM_TIME_NEVER, once, 2},
        {{.kind = TRAFFIC_PERIODIC, .count = 0, .start = SIM_SEC, .every = SIM_SEC}, SIM_TIME_NEVER, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_class_config c = class_with("p", cases[i].a);
        traffic_config cfg = {&c, 1};
        expect_times(&cfg, cases[i].horizon, cases[i].want, cases[i].nwant);
    }
}

static void test_trace(void **state)
{
    (void)state;
    sim_time_t times[] = {0, SIM_SEC, SIM_SEC, 7 * SIM_SEC, 100 * SIM_SEC};
    traffic_class_config c = class_with("t", (traffic_arrivals){.kind = TRAFFIC_TRACE, .times = times, .ntimes = 5});
    traffic_config cfg = {&c, 1};
    expect_times(&cfg, SIM_TIME_NEVER, times, 5);
    expect_times(&cfg, 100 * SIM_SEC, times, 4);
    expect_times(&cfg, SIM_SEC, times, 1);
}

/* ---- merge ---- */

static void test_merge_order(void **state)
{
    (void)state;
    /* "a": 2 messages every 10s; "b": 1 every 5s; both from 0. Ties go to the lower class index, so
     * swapping the two classes in the config swaps who opens each tie. */
    typedef struct {
        sim_time_t at;
        const char *cls;
    } arrival;
    static const arrival a_first[] = {{0, "a"}, {0, "a"}, {0, "b"}, {5 * SIM_SEC, "b"},
                                      {10 * SIM_SEC, "a"}, {10 * SIM_SEC, "a"}, {10 * SIM_SEC, "b"}, {15 * SIM_SEC, "b"}};
    static const arrival b_first[] = {{0, "b"}, {0, "a"}, {0, "a"}, {5 * SIM_SEC, "b"},
                                      {10 * SIM_SEC, "b"}, {10 * SIM_SEC, "a"}, {10 * SIM_SEC, "a"}, {15 * SIM_SEC, "b"}};
    for (int flip = 0; flip < 2; flip++) {
        const arrival *want = flip ? b_first : a_first;
        traffic_class_config classes[2];
        classes[flip] = class_with("a", periodic(2, 0, 10 * SIM_SEC));
        classes[1 - flip] = class_with("b", periodic(1, 0, 5 * SIM_SEC));
        traffic_config cfg = {classes, 2};
        traffic *t = traffic_create(&cfg, SEED, 0, 20 * SIM_SEC);
        traffic_msg m;
        size_t n = 0;
        while (traffic_next(t, &m)) {
            assert_true(n < 8);
            assert_int_equal(m.id, n + 1);
            assert_int_equal(m.arrival, want[n].at);
            assert_string_equal(classes[m.cls].name, want[n].cls);
            n++;
        }
        assert_int_equal(n, 8);
        traffic_free(t);
    }
}

static void test_merge_mixed_processes(void **state)
{
    (void)state;
    traffic_rate_step steps[] = {{0, 5}, {30 * SIM_SEC, 50}};
    sim_time_t times[] = {SIM_SEC, 2 * SIM_SEC, 2 * SIM_SEC, 59 * SIM_SEC};
    traffic_class_config classes[] = {
        class_with("poisson", poisson(20)),
        class_with("schedule", (traffic_arrivals){.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 2}),
        class_with("burst", (traffic_arrivals){.kind = TRAFFIC_BURST, .count = 500, .start = 10 * SIM_SEC, .over = SIM_SEC}),
        class_with("periodic", periodic(7, 0, 3 * SIM_SEC)),
        class_with("trace", (traffic_arrivals){.kind = TRAFFIC_TRACE, .times = times, .ntimes = 4}),
    };
    traffic_config cfg = {classes, 5};
    traffic *t = traffic_create(&cfg, SEED, 0, 60 * SIM_SEC);
    uint64_t n = drain_checked(t, &cfg, 60 * SIM_SEC); /* ordered, ids 1..n, within the horizon */
    assert_true(n > 500 + 7 * 20 + 4);
    traffic_free(t);
}

/* ---- message attributes ---- */

static void test_domain_proportions(void **state)
{
    (void)state;
    traffic_domain_weight doms[] = {{"a.test", 1}, {"b.test", 3}, {"c.test", 6}, {"never.test", 0}};
    static const double recipients[] = {1, 5};
    for (size_t r = 0; r < 2; r++) {
        traffic_class_config c = class_with("d", periodic(20000, 0, 0));
        c.domains = doms;
        c.ndomains = 4;
        c.recipients = sim_dist_constant(recipients[r]);
        traffic_config cfg = {&c, 1};
        traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
        traffic_msg m;
        double count[4] = {0}, total = 0;
        while (traffic_next(t, &m)) {
            assert_int_equal(m.nrcpt, (uint32_t)recipients[r]);
            for (uint32_t k = 0; k < m.nrcpt; k++) {
                count[m.rcpt_domain[k]]++;
                total++;
            }
        }
        assert_int_equal(count[3], 0);
        for (int k = 0; k < 3; k++) {
            double p = doms[k].weight / 10.0;
            assert_within("domain share", count[k], p * total, sqrt(total * p * (1 - p)));
        }
        traffic_free(t);
    }
}

static traffic_msg first_message(sim_dist size, sim_dist recipients)
{
    traffic_class_config c = class_with("x", periodic(1, 0, 0));
    c.size = size;
    c.recipients = recipients;
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg m;
    assert_true(traffic_next(t, &m));
    traffic_free(t);
    m.rcpt_domain = NULL;
    return m;
}

static void test_recipient_counts(void **state)
{
    (void)state;
    static const struct {
        double value;
        uint32_t want;
    } cases[] = {
        {0, 1}, /* a zeroed sim_dist is the documented default: one recipient */
        {1, 1}, {3.4, 3}, {3.5, 4}, {-5, 1}, {NAN, 1}, {999.6, 1000}, {1000.5, 1001}, {5000, 5000},
        {65534.4, 65534}, {65535, TRAFFIC_MAX_RCPT}, {65535.6, TRAFFIC_MAX_RCPT}, {1e30, TRAFFIC_MAX_RCPT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_msg m = first_message(sim_dist_constant(1000), sim_dist_constant(cases[i].value));
        if (m.nrcpt != cases[i].want)
            fail_msg("recipients %g: got %u, want %u", cases[i].value, m.nrcpt, cases[i].want);
    }
}

static void test_recipient_distribution(void **state)
{
    (void)state;
    /* uniform [0.5, 4.5) rounds to 1, 2, 3, 4 with a quarter each; large counts grow the scratch. */
    traffic_class_config c = class_with("r", periodic(40000, 0, 0));
    c.recipients = (sim_dist){.kind = SIM_DIST_UNIFORM, .a = 0.5, .b = 4.5};
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg m;
    double count[5] = {0};
    while (traffic_next(t, &m)) {
        assert_true(m.nrcpt >= 1 && m.nrcpt <= 4);
        count[m.nrcpt]++;
    }
    for (int k = 1; k <= 4; k++)
        assert_within("recipient count share", count[k], 10000, sqrt(40000 * 0.25 * 0.75));
    traffic_free(t);

    c.recipients = (sim_dist){.kind = SIM_DIST_UNIFORM, .a = 1, .b = 2.0 * TRAFFIC_MAX_RCPT};
    t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    uint32_t most = 0;
    for (int k = 0; k < 100 && traffic_next(t, &m); k++) {
        for (uint32_t j = 0; j < m.nrcpt; j++)
            assert_int_equal(m.rcpt_domain[j], 0);
        most = m.nrcpt > most ? m.nrcpt : most;
    }
    assert_int_equal(most, TRAFFIC_MAX_RCPT);
    traffic_free(t);
}

/* Where each process ends; with that as the horizon, a bounded one loses no arrival. */
static void test_arrivals_end(void **state)
{
    (void)state;
    sim_time_t trace[] = {500 * SIM_MSEC, 5 * SIM_SEC, 90 * SIM_SEC};
    sim_time_t trace_whole[] = {0, 2 * SIM_SEC};
    traffic_rate_step falls[] = {{0, 5}, {10 * SIM_SEC, 0}, {20 * SIM_SEC, 0}};
    traffic_rate_step rises[] = {{0, 0}, {10 * SIM_SEC, 5}};
    traffic_rate_step zero[] = {{0, 0}};
    static const sim_time_t NEVER = SIM_TIME_NEVER;
    struct {
        traffic_arrivals a;
        sim_time_t want;
    } cases[] = {
        {{.kind = TRAFFIC_BURST, .count = 50, .start = 0, .over = 20 * SIM_SEC}, 20 * SIM_SEC},
        {{.kind = TRAFFIC_BURST, .count = 50, .start = 15 * SIM_MIN, .over = 10 * SIM_MIN}, 25 * SIM_MIN},
        {{.kind = TRAFFIC_TRACE, .times = trace, .ntimes = 3}, 91 * SIM_SEC},
        {{.kind = TRAFFIC_TRACE, .times = trace_whole, .ntimes = 2}, 3 * SIM_SEC}, /* after a whole second: the next */
        {{.kind = TRAFFIC_TRACE, .times = NULL, .ntimes = 0}, 0},
        {{.kind = TRAFFIC_SCHEDULE, .steps = falls, .nsteps = 3}, 10 * SIM_SEC},
        {{.kind = TRAFFIC_SCHEDULE, .steps = falls, .nsteps = 2}, 10 * SIM_SEC},
        {{.kind = TRAFFIC_SCHEDULE, .steps = falls, .nsteps = 3, .period = SIM_MIN}, NEVER},
        {{.kind = TRAFFIC_SCHEDULE, .steps = rises, .nsteps = 2}, NEVER},
        {{.kind = TRAFFIC_SCHEDULE, .steps = zero, .nsteps = 1}, 0},
        {{.kind = TRAFFIC_PERIODIC, .count = 3, .start = 5 * SIM_SEC, .every = 0}, 5 * SIM_SEC + 1},
        {periodic(3, 0, SIM_MIN), NEVER},
        {poisson(2), NEVER},
        {poisson(0), 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_time_t end = traffic_arrivals_end(&cases[i].a);
        if (end != cases[i].want)
            fail_msg("case %zu: end %lld, want %lld", i, (long long)end, (long long)cases[i].want);
        if (end == NEVER)
            continue;
        traffic_class_config c = class_with("c", cases[i].a);
        traffic_config cfg = {&c, 1};
        traffic *all = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER), *cut = traffic_create(&cfg, SEED, 0, end);
        traffic_msg m;
        uint64_t n_all = 0, n_cut = 0;
        while (traffic_next(all, &m)) {
            assert_true(m.arrival < end);
            n_all++;
        }
        while (traffic_next(cut, &m))
            n_cut++;
        assert_int_equal(n_all, n_cut);
        traffic_free(all);
        traffic_free(cut);
    }
}

/* The most recipients a class can send: what a replay's Postfix must take in one transaction. */
static void test_max_rcpt(void **state)
{
    (void)state;
    double emp[] = {3, 7000.4, 12};
    sim_dist empirical = {0};
    double *v = malloc(sizeof(emp));
    memcpy(v, emp, sizeof(emp));
    assert_int_equal(sim_dist_empirical(&empirical, v, 3), 0);
    static const struct {
        sim_dist d;
        uint32_t want;
    } cases[] = {
        {{.kind = SIM_DIST_CONSTANT, .a = 1}, 1},
        {{.kind = SIM_DIST_CONSTANT, .a = 5000}, 5000},
        {{.kind = SIM_DIST_CONSTANT, .a = 1e9}, TRAFFIC_MAX_RCPT},
        {{.kind = SIM_DIST_UNIFORM, .a = 1, .b = 2000}, 2000},
        {{.kind = SIM_DIST_UNIFORM, .a = 0.5, .b = 4.4}, 4},
        {{.kind = SIM_DIST_EXPONENTIAL, .a = 3}, TRAFFIC_MAX_RCPT},
        {{.kind = SIM_DIST_LOGNORMAL, .a = 0, .b = 1}, TRAFFIC_MAX_RCPT},
        {{.kind = SIM_DIST_PARETO, .a = 2, .b = 1}, TRAFFIC_MAX_RCPT},
    };
    traffic_class_config c[2] = {class_with("a", periodic(1, 0, 0)), class_with("b", periodic(1, 0, 0))};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c[0].recipients = cases[i].d;
        if (traffic_class_max_rcpt(&c[0]) != cases[i].want)
            fail_msg("case %zu: %u, want %u", i, traffic_class_max_rcpt(&c[0]), cases[i].want);
    }
    c[0].recipients = empirical;
    assert_int_equal(traffic_class_max_rcpt(&c[0]), 7000);
    /* over the classes: the largest */
    c[1].recipients = sim_dist_constant(9000);
    traffic_config cfg = {c, 2};
    assert_int_equal(traffic_max_rcpt(&cfg), 9000);
    c[1].recipients = sim_dist_constant(1);
    assert_int_equal(traffic_max_rcpt(&cfg), 7000);
    sim_dist_free(&empirical);
}

static void test_size_clamping(void **state)
{
    (void)state;
    static const struct {
        double value;
        uint32_t want;
    } cases[] = {
        {0, 1}, {-3, 1}, {NAN, 1}, {0.4, 1}, {1234.4, 1234}, {1234.5, 1235},
        {4294967294.6, UINT32_MAX}, {1e12, UINT32_MAX}, {INFINITY, UINT32_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_msg m = first_message(sim_dist_constant(cases[i].value), sim_dist_constant(1));
        if (m.size != cases[i].want)
            fail_msg("size %g: got %u, want %u", cases[i].value, m.size, cases[i].want);
    }
}

/* ---- determinism and independence ---- */

static bool same_message(const traffic_msg *a, const traffic_msg *b)
{
    if (a->arrival != b->arrival || a->size != b->size || a->nrcpt != b->nrcpt)
        return false;
    return memcmp(a->rcpt_domain, b->rcpt_domain, a->nrcpt * sizeof(uint16_t)) == 0;
}

static traffic_domain_weight three_domains[] = {{"gmail.test", 0.45}, {"orange.test", 0.10}, {"other.test", 0.45}};

static traffic_class_config random_class(const char *name, double rate)
{
    traffic_class_config c = class_with(name, poisson(rate));
    c.size = (sim_dist){.kind = SIM_DIST_LOGNORMAL, .a = log(4000), .b = 1.0};
    c.recipients = (sim_dist){.kind = SIM_DIST_UNIFORM, .a = 0.5, .b = 6.5};
    c.domains = three_domains;
    c.ndomains = 3;
    return c;
}

static void test_determinism(void **state)
{
    (void)state;
    traffic_rate_step steps[] = {{0, 3}, {20 * SIM_SEC, 30}};
    traffic_class_config classes[] = {
        random_class("transactional", 20),
        random_class("newsletter", 5),
    };
    classes[1].arrivals = (traffic_arrivals){.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 2, .period = 40 * SIM_SEC};
    traffic_config cfg = {classes, 2};
    traffic *a = traffic_create(&cfg, SEED, 0, 300 * SIM_SEC);
    traffic *b = traffic_create(&cfg, SEED, 0, 300 * SIM_SEC);
    traffic *other_seed = traffic_create(&cfg, SEED + 1, 0, 300 * SIM_SEC);
    traffic *other_rep = traffic_create(&cfg, SEED, 1, 300 * SIM_SEC);
    traffic_msg ma, mb, mo, mr;
    static uint16_t keep[TRAFFIC_MAX_RCPT];
    uint64_t n = 0, differ_seed = 0, differ_rep = 0;
    for (;;) {
        bool ga = traffic_next(a, &ma), gb = traffic_next(b, &mb);
        assert_int_equal(ga, gb);
        if (!ga)
            break;
        assert_int_equal(ma.id, mb.id);
        assert_int_equal(ma.cls, mb.cls);
        assert_true(same_message(&ma, &mb));
        /* ma's domains live in a's scratch, which the calls on other generators leave alone */
        memcpy(keep, ma.rcpt_domain, ma.nrcpt * sizeof(uint16_t));
        ma.rcpt_domain = keep;
        if (traffic_next(other_seed, &mo) && !same_message(&ma, &mo))
            differ_seed++;
        if (traffic_next(other_rep, &mr) && !same_message(&ma, &mr))
            differ_rep++;
        n++;
    }
    assert_true(n > 1000);
    assert_true(differ_seed > n / 2);
    assert_true(differ_rep > n / 2);
    traffic_free(a);
    traffic_free(b);
    traffic_free(other_seed);
    traffic_free(other_rep);
}

/* Class "main" alone vs. with another class before or after it: its messages must not change. */
static void test_independence(void **state)
{
    (void)state;
    traffic_class_config solo[] = {random_class("main", 30)};
    traffic_class_config extra = random_class("campaign", 80);
    extra.arrivals = (traffic_arrivals){.kind = TRAFFIC_BURST, .count = 3000, .start = 5 * SIM_SEC, .over = 20 * SIM_SEC};
    for (int where = 0; where < 2; where++) {
        traffic_class_config both[2];
        both[where] = solo[0];
        both[1 - where] = extra;
        traffic_config cfg1 = {solo, 1}, cfg2 = {both, 2};
        traffic *t1 = traffic_create(&cfg1, SEED, 0, 60 * SIM_SEC);
        traffic *t2 = traffic_create(&cfg2, SEED, 0, 60 * SIM_SEC);
        traffic_msg m1, m2;
        uint64_t n = 0, others = 0;
        while (traffic_next(t1, &m1)) {
            for (;;) {
                assert_true(traffic_next(t2, &m2));
                if (m2.cls == (uint32_t)where)
                    break;
                others++;
            }
            assert_true(same_message(&m1, &m2));
            n++;
        }
        assert_true(n > 1000);
        assert_true(others > 0);
        traffic_free(t1);
        traffic_free(t2);
    }
}

/* ---- horizon ---- */

static void test_horizon_every_process(void **state)
{
    (void)state;
    traffic_rate_step steps[] = {{0, 100}, {SIM_SEC, 10}};
    sim_time_t times[] = {0, 500 * SIM_MSEC, SIM_SEC, 3 * SIM_SEC};
    traffic_arrivals kinds[] = {
        poisson(100),
        {.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 2, .period = 2 * SIM_SEC},
        {.kind = TRAFFIC_BURST, .count = 1000, .start = 0, .over = 4 * SIM_SEC},
        periodic(4, 0, 250 * SIM_MSEC),
        {.kind = TRAFFIC_TRACE, .times = times, .ntimes = 4},
    };
    static const sim_time_t horizons[] = {0, -5, 1, SIM_SEC, 1500 * SIM_MSEC};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        for (size_t h = 0; h < sizeof(horizons) / sizeof(horizons[0]); h++) {
            traffic_class_config c = class_with("h", kinds[k]);
            traffic_config cfg = {&c, 1};
            traffic *t = traffic_create(&cfg, SEED, 0, horizons[h]);
            uint64_t n = drain_checked(t, &cfg, horizons[h]);
            if (horizons[h] <= 0)
                assert_int_equal(n, 0);
            assert_int_equal(traffic_peek(t), SIM_TIME_NEVER);
            traffic_free(t);
        }
}

static void test_no_classes(void **state)
{
    (void)state;
    traffic_config cfg = {NULL, 0};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg m;
    assert_int_equal(traffic_peek(t), SIM_TIME_NEVER);
    assert_false(traffic_next(t, &m));
    traffic_free(t);
    traffic_free(NULL);
}

/* ---- re-sends ---- */

static traffic_class_config resend_class(double p, uint32_t max)
{
    traffic_class_config c = random_class("codes", 10);
    c.resend = (traffic_resend_config){.after = 60 * SIM_SEC, .probability = p, .max = max};
    return c;
}

static void test_resend_probability(void **state)
{
    (void)state;
    static const double probs[] = {0, 1, 0.4, 0.05};
    for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++) {
        traffic_class_config c = resend_class(probs[i], 3);
        traffic_config cfg = {&c, 1};
        traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
        traffic_msg orig, again;
        assert_true(traffic_next(t, &orig));
        double yes = 0, N = 10000;
        for (int k = 0; k < (int)N; k++)
            yes += traffic_resend(t, &orig, 0, orig.arrival + 60 * SIM_SEC, &again);
        if (probs[i] == 0 || probs[i] == 1)
            assert_int_equal((uint64_t)yes, (uint64_t)(probs[i] * N));
        else
            assert_within("resend share", yes, probs[i] * N, sqrt(N * probs[i] * (1 - probs[i])));
        traffic_free(t);
    }
}

static void test_resend_message(void **state)
{
    (void)state;
    traffic_class_config classes[] = {class_with("other", poisson(1)), resend_class(1, 2)};
    traffic_config cfg = {classes, 2};
    traffic *t = traffic_create(&cfg, SEED, 0, 3600 * SIM_SEC);
    traffic_msg orig, r1, r2, r3, next;
    do
        assert_true(traffic_next(t, &orig));
    while (orig.cls != 1);

    sim_time_t now = orig.arrival + 60 * SIM_SEC;
    assert_true(traffic_resend(t, &orig, 0, now, &r1));
    assert_int_equal(r1.id, orig.id + 1);
    assert_int_equal(r1.cls, 1);
    assert_int_equal(r1.arrival, now);
    assert_int_equal(r1.resend_of, orig.id);
    assert_int_equal(r1.resend_no, 1);
    assert_true(r1.nrcpt >= 1 && r1.nrcpt <= 7);
    for (uint32_t k = 0; k < r1.nrcpt; k++)
        assert_true(r1.rcpt_domain[k] < 3);

    /* A re-send of the re-send still points at the original. */
    assert_true(traffic_resend(t, &r1, 1, now + 60 * SIM_SEC, &r2));
    assert_int_equal(r2.id, r1.id + 1);
    assert_int_equal(r2.resend_of, orig.id);
    assert_int_equal(r2.resend_no, 2);
    /* max reached */
    assert_false(traffic_resend(t, &r2, 2, now + 120 * SIM_SEC, &r3));
    assert_false(traffic_resend(t, &orig, 7, now, &r3));
    /* after the horizon new traffic stops, but users still waiting keep asking while the queue drains */
    assert_true(traffic_resend(t, &orig, 0, 3600 * SIM_SEC, &r3));
    /* orig and the result may be the same struct */
    r3 = orig;
    assert_true(traffic_resend(t, &r3, 0, now, &r3));
    assert_int_equal(r3.resend_of, orig.id);
    /* ids stay unique and increasing across next and resend */
    assert_true(traffic_next(t, &next));
    assert_int_equal(next.id, r3.id + 1);
    assert_int_equal(next.resend_of, 0);
    traffic_free(t);
}

static void test_resend_disabled(void **state)
{
    (void)state;
    static const traffic_resend_config cases[] = {
        {.after = 0, .probability = 1, .max = 5}, /* no `after`: no re-sends */
        {.after = SIM_SEC, .probability = 1, .max = 0},
        {.after = SIM_SEC, .probability = 0, .max = 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_class_config c = random_class("c", 10);
        c.resend = cases[i];
        traffic_config cfg = {&c, 1};
        traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
        traffic_msg orig, again;
        assert_true(traffic_next(t, &orig));
        for (int k = 0; k < 100; k++)
            assert_false(traffic_resend(t, &orig, 0, orig.arrival + SIM_SEC, &again));
        traffic_free(t);
    }
}

/* Re-send queries draw from their own stream: asking them never changes the original messages. */
static void test_resend_leaves_originals_alone(void **state)
{
    (void)state;
    traffic_class_config c = resend_class(0.5, 3);
    traffic_config cfg = {&c, 1};
    traffic *quiet = traffic_create(&cfg, SEED, 0, 100 * SIM_SEC);
    traffic *asking = traffic_create(&cfg, SEED, 0, 100 * SIM_SEC);
    traffic_msg a, b, r;
    static uint16_t keep[TRAFFIC_MAX_RCPT];
    while (traffic_next(quiet, &a)) {
        memcpy(keep, a.rcpt_domain, a.nrcpt * sizeof(uint16_t));
        a.rcpt_domain = keep;
        assert_true(traffic_next(asking, &b));
        assert_true(same_message(&a, &b));
        traffic_resend(asking, &b, 0, b.arrival + 60 * SIM_SEC, &r);
    }
    assert_false(traffic_next(asking, &b));
    traffic_free(quiet);
    traffic_free(asking);
}

/* ---- rate_at ---- */

static void test_rate_at(void **state)
{
    (void)state;
    traffic_rate_step steps[] = {{0, 5}, {10 * SIM_SEC, 50}, {20 * SIM_SEC, 0}};
    sim_time_t times[] = {10 * SIM_SEC, 12 * SIM_SEC, 14 * SIM_SEC, 30 * SIM_SEC};
    traffic_arrivals sched = {.kind = TRAFFIC_SCHEDULE, .steps = steps, .nsteps = 3};
    traffic_arrivals daily = sched;
    daily.period = 30 * SIM_SEC;
    const struct {
        traffic_arrivals a;
        sim_time_t t;
        double want;
    } cases[] = {
        {poisson(20), 0, 20},
        {poisson(20), 5 * SIM_DAY, 20},
        {poisson(20), -1, 0},
        {sched, 0, 5},
        {sched, 10 * SIM_SEC - 1, 5},
        {sched, 10 * SIM_SEC, 50},
        {sched, 25 * SIM_SEC, 0},
        {sched, SIM_DAY, 0},
        {daily, 35 * SIM_SEC, 5},
        {daily, 41 * SIM_SEC, 50},
        {daily, 55 * SIM_SEC, 0},
        {{.kind = TRAFFIC_BURST, .count = 600, .start = 60 * SIM_SEC, .over = 60 * SIM_SEC}, 59 * SIM_SEC, 0},
        {{.kind = TRAFFIC_BURST, .count = 600, .start = 60 * SIM_SEC, .over = 60 * SIM_SEC}, 60 * SIM_SEC, 10},
        {{.kind = TRAFFIC_BURST, .count = 600, .start = 60 * SIM_SEC, .over = 60 * SIM_SEC}, 120 * SIM_SEC, 0},
        {periodic(100, 10 * SIM_SEC, 20 * SIM_SEC), 0, 0},
        {periodic(100, 10 * SIM_SEC, 20 * SIM_SEC), 10 * SIM_SEC, 5},
        {periodic(100, 10 * SIM_SEC, 0), 10 * SIM_SEC, 0},
        {{.kind = TRAFFIC_TRACE, .times = times, .ntimes = 4}, 5 * SIM_SEC, 0},
        {{.kind = TRAFFIC_TRACE, .times = times, .ntimes = 4}, 20 * SIM_SEC, 0.15},
        {{.kind = TRAFFIC_TRACE, .times = times, .ntimes = 1}, 10 * SIM_SEC, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_class_config c = class_with("r", cases[i].a);
        double got = traffic_rate_at(&c, cases[i].t);
        if (fabs(got - cases[i].want) > 1e-9)
            fail_msg("rate_at case %zu: got %g, want %g", i, got, cases[i].want);
    }
}

/* ---- configuration check ---- */

static void test_config_check(void **state)
{
    (void)state;
    traffic_rate_step good_steps[] = {{0, 1}, {10, 2}};
    traffic_rate_step late_start[] = {{5, 1}};
    traffic_rate_step unsorted[] = {{0, 1}, {10, 2}, {10, 3}};
    traffic_rate_step negative[] = {{0, -1}};
    sim_time_t good_times[] = {0, 5, 5, 9};
    sim_time_t bad_times[] = {0, 5, 4};
    traffic_domain_weight zero_weights[] = {{"a.test", 0}, {"b.test", 0}};
    traffic_domain_weight nan_weight[] = {{"a.test", NAN}};
    traffic_domain_weight no_name[] = {{NULL, 1}};

    enum { NAME, ARRIVALS, DOMAINS, RESEND, DUPLICATE, SIZE };
    const struct {
        int field;
        const char *name;
        traffic_arrivals a;
        traffic_domain_weight *domains;
        size_t ndomains;
        traffic_resend_config resend;
        const char *want; /* NULL: valid; else a fragment of the message */
    } cases[] = {
        {ARRIVALS, "ok", poisson(3), NULL, 0, {0}, NULL},
        {ARRIVALS, "ok", {.kind = TRAFFIC_SCHEDULE, .steps = good_steps, .nsteps = 2, .period = 20}, NULL, 0, {0}, NULL},
        {ARRIVALS, "ok", {.kind = TRAFFIC_TRACE, .times = good_times, .ntimes = 4}, NULL, 0, {0}, NULL},
        {ARRIVALS, "ok", {.kind = TRAFFIC_BURST, .count = 0, .over = 0}, NULL, 0, {0}, NULL},
        {NAME, "", poisson(1), NULL, 0, {0}, "name"},
        {NAME, NULL, poisson(1), NULL, 0, {0}, "name"},
        {DUPLICATE, "first", poisson(1), NULL, 0, {0}, "same name as classes[0]"},
        {ARRIVALS, "x", poisson(-1), NULL, 0, {0}, "arrivals.rate"},
        {ARRIVALS, "x", poisson(INFINITY), NULL, 0, {0}, "arrivals.rate"},
        {ARRIVALS, "x", {.kind = TRAFFIC_SCHEDULE, .nsteps = 0}, NULL, 0, {0}, "arrivals.steps"},
        {ARRIVALS, "x", {.kind = TRAFFIC_SCHEDULE, .steps = late_start, .nsteps = 1}, NULL, 0, {0}, "steps[0].at"},
        {ARRIVALS, "x", {.kind = TRAFFIC_SCHEDULE, .steps = unsorted, .nsteps = 3}, NULL, 0, {0}, "steps[2].at"},
        {ARRIVALS, "x", {.kind = TRAFFIC_SCHEDULE, .steps = negative, .nsteps = 1}, NULL, 0, {0}, "steps[0].rate"},
        {ARRIVALS, "x", {.kind = TRAFFIC_SCHEDULE, .steps = good_steps, .nsteps = 2, .period = 10}, NULL, 0, {0}, "period"},
        {ARRIVALS, "x", {.kind = TRAFFIC_BURST, .count = 5, .over = 0}, NULL, 0, {0}, "arrivals.over"},
        {ARRIVALS, "x", {.kind = TRAFFIC_BURST, .count = 5, .start = INT64_MAX - 2, .over = 10}, NULL, 0, {0}, "out of range"},
        {ARRIVALS, "x", {.kind = TRAFFIC_PERIODIC, .count = 1, .every = -1}, NULL, 0, {0}, "arrivals.every"},
        {ARRIVALS, "x", {.kind = TRAFFIC_TRACE, .times = bad_times, .ntimes = 3}, NULL, 0, {0}, "times[2]"},
        {ARRIVALS, "x", {.kind = (traffic_process_kind)42}, NULL, 0, {0}, "unknown"},
        {DOMAINS, "x", poisson(1), NULL, 0, {0}, "at least one"},
        {DOMAINS, "x", poisson(1), zero_weights, 2, {0}, "add up"},
        {DOMAINS, "x", poisson(1), nan_weight, 1, {0}, "domains.a.test"},
        {DOMAINS, "x", poisson(1), no_name, 1, {0}, "domains[0]"},
        {RESEND, "x", poisson(1), NULL, 0, {.after = SIM_SEC, .probability = 1.5, .max = 1}, "resend.probability"},
        {RESEND, "x", poisson(1), NULL, 0, {.after = SIM_SEC, .probability = NAN, .max = 1}, "resend.probability"},
        {RESEND, "x", poisson(1), NULL, 0, {.after = -1, .probability = 0.5, .max = 1}, "resend.after"},
        {SIZE, "x", poisson(1), NULL, 0, {0}, "size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        traffic_class_config classes[2] = {class_with("first", poisson(1)), class_with(cases[i].name, cases[i].a)};
        traffic_class_config *c = &classes[1];
        if (cases[i].field == DOMAINS) {
            c->domains = cases[i].domains;
            c->ndomains = cases[i].ndomains;
        }
        c->resend = cases[i].resend;
        if (cases[i].field == SIZE)
            c->size = (sim_dist){.kind = SIM_DIST_EMPIRICAL};
        traffic_config cfg = {classes, 2};
        char err[256] = "untouched";
        int rc = traffic_config_check(&cfg, err, sizeof(err));
        if (!cases[i].want) {
            if (rc != 0)
                fail_msg("case %zu: rejected: %s", i, err);
            continue;
        }
        if (rc != -EINVAL)
            fail_msg("case %zu: accepted, want an error about '%s'", i, cases[i].want);
        if (!strstr(err, "traffic.classes[1]") || !strstr(err, cases[i].want))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].want);
    }
}

/* Broken invariants abort, naming the function that caught them. */
static void abort_bad_config(void)
{
    traffic_class_config c = class_with("x", poisson(-1));
    traffic_config cfg = {&c, 1};
    traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
}

static void abort_unknown_class(void)
{
    traffic_class_config c = class_with("x", poisson(1));
    c.resend = (traffic_resend_config){.after = SIM_SEC, .probability = 1, .max = 1};
    traffic_config cfg = {&c, 1};
    traffic *t = traffic_create(&cfg, SEED, 0, SIM_TIME_NEVER);
    traffic_msg orig = {.id = 1, .cls = 1}, m;
    traffic_resend(t, &orig, 0, SIM_SEC, &m);
}

static void test_broken_invariants_abort(void **state)
{
    (void)state;
    expect_abort(abort_bad_config, "traffic_create");
    expect_abort(abort_unknown_class, "traffic_resend");
}

static void test_sender(void **state)
{
    (void)state;
    traffic_class_config c = class_with("s", poisson(1));
    assert_string_equal(traffic_class_sender(&c), "noreply@tempfail.test");
    c.sender = "codes@example.test";
    assert_string_equal(traffic_class_sender(&c), "codes@example.test");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_count_and_gaps),
        cmocka_unit_test(test_poisson_rate_zero),
        cmocka_unit_test(test_schedule_two_steps),
        cmocka_unit_test(test_schedule_period),
        cmocka_unit_test(test_schedule_sparse_period),
        cmocka_unit_test(test_schedule_ends_with_zero_rate),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_burst_cut_by_horizon),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_merge_mixed_processes),
        cmocka_unit_test(test_domain_proportions),
        cmocka_unit_test(test_recipient_counts),
        cmocka_unit_test(test_recipient_distribution),
        cmocka_unit_test(test_max_rcpt),
        cmocka_unit_test(test_arrivals_end),
        cmocka_unit_test(test_size_clamping),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_independence),
        cmocka_unit_test(test_horizon_every_process),
        cmocka_unit_test(test_no_classes),
        cmocka_unit_test(test_resend_probability),
        cmocka_unit_test(test_resend_message),
        cmocka_unit_test(test_resend_disabled),
        cmocka_unit_test(test_resend_leaves_originals_alone),
        cmocka_unit_test(test_rate_at),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_broken_invariants_abort),
        cmocka_unit_test(test_sender),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
