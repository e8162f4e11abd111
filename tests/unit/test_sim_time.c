/*
 * test_sim_time - sim_time_format (the forms the header promises) and the second/microsecond
 * conversions; also that it behaves like snprintf with short and NULL buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sim/sim_time.h"

static const struct format_case {
    sim_time_t t;
    const char *want;
} format_cases[] = {
    {0, "0s"},
    {1, "0.001ms"},
    {1500, "1.500ms"},
    {300 * SIM_MSEC, "300ms"},
    {999999, "999.999ms"},
    {SIM_SEC, "1s"},
    {1500 * SIM_MSEC, "1.500s"},
    {59 * SIM_SEC, "59s"},
    {5 * SIM_MIN, "5m"},
    {61 * SIM_SEC, "1m01s"},
    {10 * SIM_MIN + 30 * SIM_SEC + 250 * SIM_MSEC, "10m30.250s"},
    {SIM_HOUR, "1h"},
    {10 * SIM_HOUR, "10h"},
    {2 * SIM_HOUR + 5 * SIM_MIN, "2h05m"},
    {SIM_DAY, "1d"},
    {SIM_DAY + 5 * SIM_SEC, "1d00h00m05s"},
    {5 * SIM_HOUR + 463 * SIM_MSEC, "5h00m00.463s"},
    {SIM_DAY + 2 * SIM_HOUR + 3 * SIM_MIN + 4 * SIM_SEC, "1d02h03m04s"},
    {400 * SIM_DAY, "400d"},
    {-5 * SIM_MIN, "-5m"},
    {-300 * SIM_MSEC, "-300ms"},
    {-(SIM_HOUR + SIM_SEC), "-1h00m01s"},
    {SIM_TIME_NEVER, "never"},
    {INT64_MIN, "-106751991d04h00m54.775s"},
};

static void test_format_table(void **state)
{
    (void)state;
    char buf[64];
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        memset(buf, 'x', sizeof buf);
        int n = sim_time_format(buf, sizeof buf, c->t);
        if (strcmp(buf, c->want) != 0 || n != (int)strlen(c->want))
            fail_msg("t=%lld: \"%s\" (%d), want \"%s\" (%zu)", (long long)c->t, buf, n, c->want,
                     strlen(c->want));
    }
}

/* Like snprintf: the return value is the full length, even when the buffer is short or absent, and a
 * short buffer holds the start of the full text, terminated. */
static void test_format_short_buffers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        size_t full = strlen(c->want);
        assert_int_equal(sim_time_format(NULL, 0, c->t), full);
        for (size_t len = 1; len <= full + 1; len++) {
            char buf[64];
            memset(buf, 'x', sizeof buf);
            int n = sim_time_format(buf, len, c->t);
            if (n != (int)full || strlen(buf) != len - 1 || strncmp(buf, c->want, len - 1) != 0 ||
                buf[len] != 'x')
                fail_msg("t=%lld len=%zu: \"%s\" (%d), want a prefix of \"%s\"", (long long)c->t, len, buf, n,
                         c->want);
        }
    }
}

static void test_conversions(void **state)
{
    (void)state;
    static const struct {
        double sec;
        sim_time_t t;
    } cases[] = {
        {0, 0}, {1, SIM_SEC}, {0.0000004, 0}, {0.0000006, 1}, {1.5, 1500 * SIM_MSEC},
        {0.02, 20 * SIM_MSEC}, {86400, SIM_DAY}, {1e-6, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(sim_time_from_sec(cases[i].sec), cases[i].t);
    assert_true(sim_time_to_sec(1500 * SIM_MSEC) == 1.5);
    assert_true(sim_time_to_sec(SIM_HOUR) == 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_format_short_buffers),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
