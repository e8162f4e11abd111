/*
 * test_results_csv - RFC 4180 quoting only where needed, numeric cells, buffering, errors.
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
#include "results/results_csv.h"

static const struct {
    const char *in, *out;
} cells[] = {
    {"plain", "plain"},
    {"", ""},
    {"with space", "with space"},
    {"a,b", "\"a,b\""},
    {"say \"hi\"", "\"say \"\"hi\"\"\""},
    {"\"", "\"\"\"\""},
    {"line\nbreak", "\"line\nbreak\""},
    {"cr\r", "\"cr\r\""},
    {"421 4.7.0 Too many connections, slow down", "\"421 4.7.0 Too many connections, slow down\""},
    {"smtp:orange.test", "smtp:orange.test"},
};

/* A writer onto memory; csv_text flushes it (which must succeed), frees it and returns the text. */
static results_csv *csv_open(memout *m) { return results_csv_create(memout_open(m)); }

static char *csv_text(results_csv *w, memout *m)
{
    assert_int_equal(results_csv_flush(w), 0);
    results_csv_free(w);
    return memout_close(m);
}

static void test_csv_quoting_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        memout m;
        results_csv *w = csv_open(&m);
        results_csv_str(w, cells[i].in);
        results_csv_str(w, "x");
        assert_int_equal(results_csv_end_row(w), 0);
        char *buf = csv_text(w, &m);
        char want[256];
        snprintf(want, sizeof(want), "%s,x\n", cells[i].out);
        assert_string_equal(buf, want);
        free(buf);
    }
}

static void test_csv_numeric_cells(void **state)
{
    (void)state;
    memout m;
    results_csv *w = csv_open(&m);
    const char *head[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    results_csv_row_strs(w, head, 8);
    results_csv_double(w, 0.1 + 0.2);
    results_csv_double(w, NAN);
    results_csv_int(w, -5);
    results_csv_uint(w, UINT64_MAX);
    results_csv_time(w, 1500 * SIM_MSEC);
    results_csv_time(w, SIM_TIME_NEVER);
    results_csv_empty(w);
    results_csv_str(w, NULL);
    results_csv_end_row(w);
    char *buf = csv_text(w, &m);
    assert_string_equal(buf, "a,b,c,d,e,f,g,h\n0.3,,-5,18446744073709551615,1.5,,,\n");
    free(buf);
}

/* Many rows cross the internal buffer boundary more than once and all arrive in order. */
static void test_csv_large_output_is_whole(void **state)
{
    (void)state;
    memout m;
    results_csv *w = csv_open(&m);
    for (int i = 0; i < 20000; i++) {
        results_csv_int(w, i);
        results_csv_str(w, "some,text");
        results_csv_end_row(w);
    }
    char *buf = csv_text(w, &m);
    size_t lines = 0;
    for (size_t i = 0; i < m.len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 20000);
    assert_non_null(strstr(buf, "\n19999,\"some,text\"\n"));
    assert_memory_equal(buf, "0,\"some,text\"\n1,", 16);
    free(buf);
}

static void test_csv_write_error_is_sticky(void **state)
{
    (void)state;
    FILE *f = full_open();
    results_csv *w = results_csv_create(f);
    for (int i = 0; i < 10000; i++) {
        results_csv_str(w, "0123456789");
        results_csv_end_row(w);
    }
    assert_int_equal(results_csv_flush(w), -ENOSPC);
    assert_int_equal(results_csv_error(w), -ENOSPC);
    results_csv_str(w, "more");
    assert_int_equal(results_csv_end_row(w), -ENOSPC);
    results_csv_free(w);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting_table),
        cmocka_unit_test(test_csv_numeric_cells),
        cmocka_unit_test(test_csv_large_output_is_whole),
        cmocka_unit_test(test_csv_write_error_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
