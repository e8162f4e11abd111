/*
 * test_results_fmt - the one number format of the run directory: integers bare, up to 6 decimals,
 * no exponent, no "-0", no binary-fraction noise, no locale; times in seconds trimmed.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <string.h>

#include "results/results_fmt.h"

static const struct {
    double v;
    const char *want;
} doubles[] = {
    {0.0, "0"},
    {-0.0, "0"},
    {1.0, "1"},
    {-3.0, "-3"},
    {7200.0, "7200"},
    {123456789.0, "123456789"},
    {0.1 + 0.2, "0.3"},
    {12.5, "12.5"},
    {-12.5, "-12.5"},
    {1e-7, "0"},
    {-1e-7, "0"},
    {4e-7, "0"},
    {5e-7, "0.000001"},
    {0.000123456, "0.000123"},
    {2.0 / 3.0, "0.666667"},
    {0.9999996, "1"},
    {-0.9999996, "-1"},
    {1e20, "100000000000000000000"},
    {1234567.1234567, "1234567.123457"},
    {9007199254740993.0, "9007199254740992"},
    {NAN, ""},
    {INFINITY, ""},
    {-INFINITY, ""},
};

static void test_fmt_double_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
        char b[RESULTS_FMT_MAX];
        int n = results_fmt_double(b, sizeof(b), doubles[i].v);
        assert_string_equal(b, doubles[i].want);
        assert_int_equal(n, (int)strlen(doubles[i].want));
    }
}

static void test_fmt_double_truncates_like_snprintf(void **state)
{
    (void)state;
    char b[4];
    int n = results_fmt_double(b, sizeof(b), 123456.5);
    assert_int_equal(n, 8);
    assert_string_equal(b, "123");
}

/* A locale with a decimal comma must not leak into the files. */
static void test_fmt_double_ignores_locale(void **state)
{
    (void)state;
    const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8"};
    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++)
        if (setlocale(LC_NUMERIC, locs[i]))
            break;
    char b[RESULTS_FMT_MAX];
    results_fmt_double(b, sizeof(b), 1234.25);
    setlocale(LC_NUMERIC, "C");
    assert_string_equal(b, "1234.25");
}

static const struct {
    sim_time_t t;
    const char *want;
} times[] = {
    {0, "0"},
    {300 * SIM_SEC, "300"},
    {250 * SIM_MSEC, "0.25"},
    {1, "0.000001"},
    {SIM_SEC + 1, "1.000001"},
    {-SIM_SEC - 1, "-1.000001"},
    {7431 * SIM_SEC + 500 * SIM_MSEC, "7431.5"},
    {SIM_TIME_NEVER, ""},
    {INT64_MIN, "-9223372036854.775808"},
};

static void test_fmt_time_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char b[32];
        results_fmt_time(b, sizeof(b), times[i].t);
        assert_string_equal(b, times[i].want);
    }
}

/* Numbers for people (the sweep's table, tune's text): significant digits, never exponents. */
static void test_fmt_sig_table(void **state)
{
    (void)state;
    static const struct {
        double v;
        int digits;
        const char *want;
    } cases[] = {
        {2280.099374, 4, "2280"}, {28967.714145, 3, "28968"}, {0.256658, 4, "0.2567"}, {59.743342, 4, "59.74"},
        {0.016302, 3, "0.0163"}, {1e-9, 4, "0"},          {0, 4, "0"},          {-12.345, 3, "-12.3"},
        {100, 4, "100"},          {0.5, 1, "0.5"},         {1234567.8, 2, "1234568"},
    };
    char b[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        results_fmt_sig(b, sizeof(b), cases[i].v, cases[i].digits);
        assert_string_equal(b, cases[i].want);
    }
    results_fmt_sig(b, sizeof(b), NAN, 4);
    assert_string_equal(b, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_double_table),
        cmocka_unit_test(test_fmt_double_truncates_like_snprintf),
        cmocka_unit_test(test_fmt_double_ignores_locale),
        cmocka_unit_test(test_fmt_time_table),
        cmocka_unit_test(test_fmt_sig_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
