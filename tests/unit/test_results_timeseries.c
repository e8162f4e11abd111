/*
 * test_results_timeseries - columns named at start-up, rows of doubles, NaN as an empty cell.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memout.h"
#include "results/results_timeseries.h"

/* A writer onto memory; ts_text finishes it (which must succeed), frees it and returns the text. */
static results_timeseries *ts_open(memout *m) { return results_timeseries_create(memout_open(m)); }

static char *ts_text(results_timeseries *ts, memout *m)
{
    assert_int_equal(results_timeseries_finish(ts), 0);
    results_timeseries_free(ts);
    return memout_close(m);
}

static void test_timeseries_columns_and_rows(void **state)
{
    (void)state;
    memout m;
    results_timeseries *ts = ts_open(&m);
    const char *cols[] = {"queue.incoming", "queue.active", "orange.replies.421", "window.smtp:orange.test"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(results_timeseries_add_column(ts, cols[i]), i);
    assert_int_equal(results_timeseries_add_column(ts, "queue.active"), -EEXIST);
    assert_int_equal(results_timeseries_add_column(ts, "time"), -EEXIST);
    assert_int_equal(results_timeseries_ncolumns(ts), 4);
    assert_int_equal(results_timeseries_column(ts, "orange.replies.421"), 2);
    assert_int_equal(results_timeseries_column(ts, "nope"), -1);

    results_timeseries_set(ts, 0, 3);
    results_timeseries_set(ts, 2, 0.5);
    assert_int_equal(results_timeseries_row(ts, 10 * SIM_SEC), 0);
    /* Unset values of the next row are empty again, not the previous row's. */
    results_timeseries_set(ts, 3, 5);
    assert_int_equal(results_timeseries_row(ts, 20 * SIM_SEC), 0);
    double v[4] = {1, NAN, 0.1 + 0.2, 0};
    assert_int_equal(results_timeseries_row_values(ts, 30 * SIM_SEC + 1, v, 4), 0);
    char *buf = ts_text(ts, &m);
    assert_string_equal(buf, "time,queue.incoming,queue.active,orange.replies.421,window.smtp:orange.test\n"
                             "10,3,,0.5,\n"
                             "20,,,,5\n"
                             "30.000001,1,,0.3,0\n");
    free(buf);
}

static void test_timeseries_header_without_rows(void **state)
{
    (void)state;
    memout m;
    results_timeseries *ts = ts_open(&m);
    results_timeseries_add_column(ts, "cpu.utilisation");
    char *buf = ts_text(ts, &m);
    assert_string_equal(buf, "time,cpu.utilisation\n");
    free(buf);
}

/* Growing past the initial capacity keeps every name. */
static void test_timeseries_many_columns(void **state)
{
    (void)state;
    memout m;
    results_timeseries *ts = ts_open(&m);
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        assert_int_equal(results_timeseries_add_column(ts, name), i);
    }
    results_timeseries_set(ts, 99, 7);
    results_timeseries_row(ts, 0);
    char *buf = ts_text(ts, &m);
    assert_non_null(strstr(buf, ",c98,c99\n0,"));
    assert_non_null(strstr(buf, ",,7\n"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeseries_columns_and_rows),
        cmocka_unit_test(test_timeseries_header_without_rows),
        cmocka_unit_test(test_timeseries_many_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
