/*
 * test_scenario_units - the unit syntax of scenario values (durations, sizes, rates, booleans,
 * probabilities, bandwidths), the nearest-key suggestions and the expect: line parser. Tables of
 * valid strings with the value they must give, and of invalid strings that must be refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scenarios/scenario.h"
#include "scenarios/scenario_keys.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct unit_case {
    const char *in;
    double want;
} unit_case;

/* Every string of ok parses to its value, within tol; every string of bad is refused with -EINVAL and
 * leaves the output as it was. */
static void check_parser(const char *what, int (*parse)(const char *, double *), const unit_case *ok, size_t nok,
                         const char *const *bad, size_t nbad, double tol)
{
    for (size_t i = 0; i < nok; i++) {
        double v = -1;
        int rc = parse(ok[i].in, &v);
        if (rc != 0)
            fail_msg("%s \"%s\": %d, want 0", what, ok[i].in, rc);
        if (!(fabs(v - ok[i].want) <= tol))
            fail_msg("%s \"%s\": %.17g, want %.17g", what, ok[i].in, v, ok[i].want);
    }
    for (size_t i = 0; i < nbad; i++) {
        double v = 77;
        int rc = parse(bad[i], &v);
        if (rc != -EINVAL)
            fail_msg("%s \"%s\": %d, want -EINVAL", what, bad[i], rc);
        if (v != 77)
            fail_msg("%s \"%s\": refused, but the output changed to %.17g", what, bad[i], v);
    }
}

/* scenario_parse_duration through a double, so that check_parser can drive it: what the parser leaves in
 * its output, written or not, is passed back. Microsecond counts of the table are exact in a double. */
static int parse_duration_us(const char *s, double *out)
{
    sim_time_t t = (sim_time_t)*out;
    int rc = scenario_parse_duration(s, &t);
    *out = (double)t;
    return rc;
}

static void test_duration(void **state)
{
    (void)state;
    static const unit_case ok[] = {
        {"300s", 300 * SIM_SEC},  {"5m", 5 * SIM_MIN},       {"2h", 2 * SIM_HOUR},  {"5d", 5 * SIM_DAY},
        {"1w", 7 * SIM_DAY},      {"20ms", 20 * SIM_MSEC},   {"150us", 150},        {"1.5s", 1500 * SIM_MSEC},
        {"0", 0},                 {"300", 300 * SIM_SEC},    {"0.25", 250 * SIM_MSEC}, {"5min", 5 * SIM_MIN},
        {"10sec", 10 * SIM_SEC},  {" 30 s ", 30 * SIM_SEC},  {".5s", 500 * SIM_MSEC}, {"0s", 0},
    };
    static const char *const bad[] = {"fast", "", "s", "-5s", "5M", "5 hours", "5x", "1e", "inf", "nan",
                                      "0x10", "5s5", "+5s", "5ss"};
    check_parser("duration", parse_duration_us, ok, N(ok), bad, N(bad), 0);
}

static void test_size(void **state)
{
    (void)state;
    static const unit_case ok[] = {
        {"512", 512},          {"512B", 512},        {"4KB", 4096},           {"4KiB", 4096},      {"4K", 4096},
        {"10kB", 10240},       {"1.5MB", 1572864},   {"1M", 1048576},         {"2GB", 2147483648.0},
        {"1GiB", 1073741824.0}, {"0", 0},             {"40 KB", 40960},
    };
    static const char *const bad[] = {"4XB", "", "KB", "-1KB", "4 K B", "4TB", "4KBs", "big"};
    check_parser("size", scenario_parse_size, ok, N(ok), bad, N(bad), 0);
}

static void test_rate(void **state)
{
    (void)state;
    static const unit_case ok[] = {
        {"20/s", 20},        {"1000/h", 1000.0 / 3600}, {"5/m", 5.0 / 60}, {"100/d", 100.0 / 86400},
        {"20/min", 20.0 / 60}, {"10", 10},              {"0.5/s", 0.5},   {"100/10m", 100.0 / 600},
        {"3/hour", 3.0 / 3600}, {"6/minute", 0.1},       {"1/second", 1},  {"0/s", 0},
    };
    static const char *const bad[] = {"fast", "10/fortnight", "10/", "/s", "-1/s", "10/0s", "10//s", "10/sx", "10s"};
    check_parser("rate", scenario_parse_rate, ok, N(ok), bad, N(bad), 1e-12);
}

/* Exponents are refused as such (-EDOM), values past a quantity's bound as such (-ERANGE), and
 * neither changes the output; the bounds themselves are accepted. */
static void test_bounds_exponents(void **state)
{
    (void)state;
    static const struct {
        const char *what, *in;
        int rc;
    } cases[] = {
        {"duration", "36500d", 0},       {"duration", "36501d", -ERANGE}, {"duration", "1000000d", -ERANGE},
        {"duration", "1e3s", -EDOM},     {"duration", "1E3", -EDOM},      {"size", "16GB", 0},
        {"size", "17GB", -ERANGE},       {"size", "1e3KB", -EDOM},        {"rate", "1000000/s", 0},
        {"rate", "1000001/s", -ERANGE},  {"rate", "1e12/s", -EDOM},       {"rate", "61000000/min", -ERANGE},
        {"rate", "1e3", -EDOM},          {"rate", "2.5e-1/s", -EDOM},     {"bandwidth", "10000Gbit/s", 0},
        {"bandwidth", "10001Gbit/s", -ERANGE}, {"bandwidth", "1e9", -EDOM},
    };
    for (size_t i = 0; i < N(cases); i++) {
        double v = 77;
        int rc = strcmp(cases[i].what, "duration") == 0 ? parse_duration_us(cases[i].in, &v)
                 : strcmp(cases[i].what, "size") == 0   ? scenario_parse_size(cases[i].in, &v)
                 : strcmp(cases[i].what, "bandwidth") == 0 ? scenario_parse_bandwidth(cases[i].in, &v)
                                                        : scenario_parse_rate(cases[i].in, &v);
        if (rc != cases[i].rc)
            fail_msg("%s \"%s\": %d, want %d", cases[i].what, cases[i].in, rc, cases[i].rc);
        if (rc != 0 && v != 77)
            fail_msg("%s \"%s\": refused, but the output changed to %.17g", cases[i].what, cases[i].in, v);
    }
}

static void test_bool_probability(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool want;
    } bools[] = {{"yes", true}, {"no", false}, {"true", true}, {"false", false}, {"YES", true}, {"False", false}};
    for (size_t i = 0; i < N(bools); i++) {
        bool b = !bools[i].want;
        assert_int_equal(scenario_parse_bool(bools[i].in, &b), 0);
        assert_true(b == bools[i].want);
    }
    static const char *const badb[] = {"y", "1", "0", "on", "", "yess"};
    for (size_t i = 0; i < N(badb); i++) {
        bool b;
        assert_int_equal(scenario_parse_bool(badb[i], &b), -EINVAL);
    }

    static const unit_case probs[] = {{"0", 0},    {"1", 1},   {"0.4", 0.4},      {"40%", 0.4},
                                      {"100%", 1}, {"0%", 0},  {"2.5 %", 0.025}};
    static const char *const badp[] = {"1.1", "150%", "-0.1", "x", "40%%", "0.4x", ""};
    check_parser("probability", scenario_parse_probability, probs, N(probs), badp, N(badp), 1e-12);
}

static void test_bandwidth(void **state)
{
    (void)state;
    static const unit_case ok[] = {
        {"100Mbit/s", 12.5e6}, {"1Gbit/s", 125e6},   {"10kbit/s", 1250}, {"100Mbps", 12.5e6},
        {"12.5MB/s", 12.5 * 1048576}, {"64KB/s", 65536}, {"500000", 500000}, {"8bit/s", 1},
    };
    static const char *const bad[] = {"fast", "100Mb/s", "12.5/s", "100Mbit", "MB/s", "-1MB/s", "1XB/s"};
    check_parser("bandwidth", scenario_parse_bandwidth, ok, N(ok), bad, N(bad), 1e-6);
}

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(scenario_keys_distance("arrivals", "arrivals"), 0);
    assert_int_equal(scenario_keys_distance("arivals", "arrivals"), 1);
    assert_int_equal(scenario_keys_distance("", "abc"), 3);
    assert_int_equal(scenario_keys_distance("kitten", "sitting"), 3);

    static const char *const keys[] = {"name", "arrivals", "size", "recipients", "domains", "resend", "sender"};
    static const struct {
        const char *word, *want;
    } cases[] = {
        {"arivals", "arrivals"}, {"domain", "domains"},   {"sze", "size"},     {"recipeints", "recipients"},
        {"nmae", "name"},        {"zzzzzzzz", NULL},      {"resent", "resend"}, {"arrivals", NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *got = scenario_keys_nearest(cases[i].word, keys, 7);
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
    }
    /* the length rule: a long word tolerates more edits than 2 */
    static const char *const long_keys[] = {"default_destination_concurrency_limit"};
    assert_string_equal(scenario_keys_nearest("default_destnation_concurency_lmit", long_keys, 1),
                        "default_destination_concurrency_limit");

    char buf[128] = "unknown key 'arivals'";
    scenario_keys_hint(buf, sizeof(buf), "arivals", keys, 7, "keys");
    assert_string_equal(buf, "unknown key 'arivals' (did you mean 'arrivals'?)");
    char buf2[128] = "x";
    scenario_keys_hint(buf2, sizeof(buf2), "zzzzzzzz", keys, 3, "keys");
    assert_string_equal(buf2, "x (valid keys: name, arrivals, size)");
    /* too long to list: cut, and say so */
    char small[24] = "x";
    scenario_keys_hint(small, sizeof(small), "zzzzzzzz", keys, 7, "keys");
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_string_equal(small + strlen(small) - 4, "...)");
}

static void test_expect(void **state)
{
    (void)state;
    static const struct {
        const char *in, *metric;
        scenario_expect_op op;
        double value;
    } ok[] = {
        {"transactional.latency.p95 < 60s", "transactional.latency.p95", EXPECT_LT, 60},
        {"receivers.orange.replies.421 == 0", "receivers.orange.replies.421", EXPECT_EQ, 0},
        {"messages.bounced<=10", "messages.bounced", EXPECT_LE, 10},
        {"  queue.peak.total >= 1.5e3 ", "queue.peak.total", EXPECT_GE, 1500},
        {"a.latency.max > 5m", "a.latency.max", EXPECT_GT, 300},
        {"a.size != 4KB", "a.size", EXPECT_NE, 4096},
        {"a.rate > 20/min", "a.rate", EXPECT_GT, 20.0 / 60},
        {"resources.cpu_utilisation < 80%", "resources.cpu_utilisation", EXPECT_LT, 0.8},
        {"deltas.x > -3", "deltas.x", EXPECT_GT, -3},
        {"slow-mx.window.max <= 2", "slow-mx.window.max", EXPECT_LE, 2},
    };
    for (size_t i = 0; i < N(ok); i++) {
        scenario_expect e;
        char err[256];
        assert_int_equal(scenario_expect_parse(ok[i].in, &e, err, sizeof(err)), 0);
        assert_string_equal(e.metric, ok[i].metric);
        assert_string_equal(e.text, ok[i].in);
        assert_int_equal(e.op, ok[i].op);
        assert_true(fabs(e.value - ok[i].value) < 1e-9);
        scenario_expect_clear(&e);
    }
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"a.b = 5", "unknown operator in 'a.b = 5' (use <, <=, >, >=, == or !=)"},
        {"a.b 5", "expected an operator (<, <=, >, >=, ==, !=) after 'a.b' in 'a.b 5'"},
        {"a.b <", "expected a value after '<' in 'a.b <'"},
        {"a.b < fast", "expected a number or a value with a unit (60s, 4KB, 20/s, 5%) after '<', got 'fast'"},
        {"< 5", "expected 'METRIC OP VALUE' like 'transactional.latency.p95 < 60s', got '< 5'"},
        {"a..b < 5", "expected 'METRIC OP VALUE' like 'transactional.latency.p95 < 60s', got 'a..b < 5'"},
        {"a.b. < 5", "expected 'METRIC OP VALUE' like 'transactional.latency.p95 < 60s', got 'a.b. < 5'"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        scenario_expect e = {0};
        char err[256];
        assert_int_equal(scenario_expect_parse(bad[i].in, &e, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, bad[i].msg);
        assert_null(e.text);
    }
    assert_string_equal(scenario_expect_op_name(EXPECT_GE), ">=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration), cmocka_unit_test(test_size),   cmocka_unit_test(test_rate), cmocka_unit_test(test_bounds_exponents),
        cmocka_unit_test(test_bool_probability), cmocka_unit_test(test_bandwidth), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_expect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
