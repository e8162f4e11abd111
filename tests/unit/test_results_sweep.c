/*
 * test_results_sweep - a sweep's tables from summaries built in memory (no runs): the flattening of a
 * summary into columns, the expect: verdict, the sorted union of columns when summaries differ, the
 * statistics of points.csv against values worked by hand (mean, sd, Student's t interval), the
 * paired differences of differences.csv and their variance reduction, and tables that do not depend
 * on the order the summaries are read in. A summary that cannot be read fails the whole write.
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/results_sweep.h"

static char *values_k[] = {"1", "2", "3"};
static const scenario_sweep_axis axis_k = {.key = "mta.postfix.limit", .values = values_k, .nvalues = 3};
static const char *const figures[] = {"latency.p95"};

/* Point p, replication r: latency.p95 = 10 p + noise[r] + p * wobble[r]; arrivals the same for every
 * point (common random numbers); point 2 has a figure the others lack; expect: passes where the
 * latency is under 25. */
static const double noise[4] = {1, 2, 3, 4};
static const double wobble[4] = {0.5, -0.5, 0.25, 0};
static int fail_at = -1; /* point whose replication 1 cannot be read */

static uint32_t nreps(void *ctx, size_t p)
{
    (void)ctx;
    (void)p;
    return 4;
}

static json_t *summary(void *ctx, size_t p, uint32_t r, char *err, size_t errlen)
{
    (void)ctx;
    if ((int)p == fail_at && r == 1) {
        snprintf(err, errlen, "runs/p%06zu-r%04u/summary.json: no such file", p, r);
        return NULL;
    }
    double lat = 10.0 * (double)p + noise[r] + (double)p * wobble[r];
    json_t *s = json_pack("{s:I, s:I, s:{s:I, s:b, s:n}, s:{s:f}, s:[{s:s, s:b, s:f}]}", "seed", (json_int_t)(100 + r),
                          "replication", (json_int_t)r, "messages", "arrived", (json_int_t)(50 + r), "storm", p == 1,
                          "missing", "latency", "p95", lat, "expect", "assertion", "latency.p95 < 25s", "pass",
                          lat < 25, "value", lat);
    if (p == 2)
        json_object_set_new(s, "extra", json_pack("{s:i}", "sessions", 7));
    return s;
}

static results_sweep_def def(void)
{
    return (results_sweep_def){.axes = &axis_k, .naxes = 1, .npoints = 3, .figures = figures, .nfigures = 1,
                               .nreps = nreps, .summary = summary};
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

/* The n-th (0-based) line of text, into line. */
static void nth_line(const char *text, int n, char *line, size_t len)
{
    const char *p = text;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    size_t l = strcspn(p, "\n");
    assert_true(l < len);
    memcpy(line, p, l);
    line[l] = 0;
}

/* The index of column name in a CSV header. */
static int column(const char *header, const char *name)
{
    int i = 0;
    for (const char *p = header;; i++) {
        size_t l = strcspn(p, ",");
        if (l == strlen(name) && strncmp(p, name, l) == 0)
            return i;
        if (!p[l])
            return -1;
        p += l + 1;
    }
}

static double cell(const char *row, int col)
{
    const char *p = row;
    for (int i = 0; i < col; i++) {
        p = strchr(p, ',');
        assert_non_null(p);
        p++;
    }
    if (*p == ',' || !*p)
        return NAN;
    return strtod(p, NULL);
}

static void test_flatten_and_expect(void **state)
{
    (void)state;
    json_t *s = json_pack("{s:{s:{s:f, s:n}, s:b}, s:[i, i], s:s, s:[]}", "classes", "tx", "p95", 1.5, "p99", "ok",
                          true, "list", 1, 2, "name", "x", "expect");
    json_t *flat = results_sweep_flatten(s);
    assert_true(json_number_value(json_object_get(flat, "classes.tx.p95")) == 1.5);
    assert_true(json_is_null(json_object_get(flat, "classes.tx.p99")));
    assert_true(json_number_value(json_object_get(flat, "classes.ok")) == 1.0);
    assert_null(json_object_get(flat, "name")); /* strings are not figures */
    assert_int_equal(results_sweep_expect_passed(s), -1);
    json_decref(flat);
    json_object_set_new(s, "expect", json_pack("[{s:b}, {s:b}]", "pass", true, "pass", true));
    assert_int_equal(results_sweep_expect_passed(s), 1);
    json_array_append_new(json_object_get(s, "expect"), json_pack("{s:b}", "pass", false));
    assert_int_equal(results_sweep_expect_passed(s), 0);
    json_decref(s);
}

static void test_tables(void **state)
{
    (void)state;
    FILE *sw = tmpfile(), *pt = tmpfile(), *df = tmpfile();
    char err[256] = "";
    results_sweep_def d = def();
    results_sweep *rs = results_sweep_write(&d, sw, pt, df, err, sizeof(err));
    if (!rs)
        fail_msg("%s", err);
    char *s = slurp(sw), *p = slurp(pt), *f = slurp(df);
    char line[4096];

    /* sweep.csv: the point's value, replication, seed, verdict, then every figure, sorted; the figure
     * only point 2 has is empty elsewhere; null is empty */
    nth_line(s, 0, line, sizeof(line));
    assert_string_equal(line, "point,mta.postfix.limit,replication,seed,expect_pass,expect.0.pass,expect.0.value,"
                              "extra.sessions,latency.p95,messages.arrived,messages.missing,messages.storm");
    nth_line(s, 1, line, sizeof(line));
    assert_string_equal(line, "0,1,0,100,1,1,1,,1,50,,0");
    nth_line(s, 12, line, sizeof(line));
    assert_string_equal(line, "2,3,3,103,1,1,24,7,24,53,,0");
    nth_line(s, 6, line, sizeof(line)); /* point 1, replication 1: a storm */
    assert_string_equal(line, "1,2,1,101,1,1,11.5,,11.5,51,,1");

    /* points.csv: point 2's latency is 22, 21, 23.5, 24: mean 22.625, sd sqrt(5.6875 / 3), t(0.975, 3)
     * = 3.18245: half width 2.19093...; its expect: passes in all four replications */
    char header[4096];
    nth_line(p, 0, header, sizeof(header));
    int c_mean = column(header, "latency.p95.mean"), c_sd = column(header, "latency.p95.sd"),
        c_lo = column(header, "latency.p95.ci95_low"), c_hi = column(header, "latency.p95.ci95_high"),
        c_min = column(header, "latency.p95.min"), c_max = column(header, "latency.p95.max"),
        c_pass = column(header, "expect_pass_fraction"), c_n = column(header, "replications");
    assert_true(c_mean > 0 && c_sd > 0 && c_lo > 0 && c_hi > 0 && c_min > 0 && c_max > 0 && c_pass > 0 && c_n > 0);
    nth_line(p, 3, line, sizeof(line));
    assert_true(cell(line, c_n) == 4);
    assert_float_equal(cell(line, c_mean), 22.625, 1e-9);
    double sd = sqrt(5.6875 / 3);
    assert_float_equal(cell(line, c_sd), sd, 1e-6);
    double half = 3.182446305 * sd / 2;
    assert_float_equal(cell(line, c_lo), 22.625 - half, 1e-5);
    assert_float_equal(cell(line, c_hi), 22.625 + half, 1e-5);
    assert_true(cell(line, c_min) == 21 && cell(line, c_max) == 24);
    assert_true(cell(line, c_pass) == 1);
    const results_sweep_stat *st = results_sweep_key_stat(rs, 2, 0);
    assert_int_equal(st->n, 4);
    assert_float_equal(st->ci_half, half, 1e-5);
    assert_true(results_sweep_all_passed(rs, 2));
    /* point 1: 11.5, 11.5, 13.25, 14: all under 25 as well */
    assert_float_equal(results_sweep_pass_fraction(rs, 1), 1.0, 0);

    /* differences.csv: point 2 against point 1, paired: the wobble is all that differs, so the paired
     * interval is far narrower than the independent one */
    nth_line(f, 0, line, sizeof(line));
    assert_string_equal(line, "point,mta.postfix.limit,figure,replications,difference,ci95_paired,ci95_independent,"
                              "variance_reduction");
    nth_line(f, 2, line, sizeof(line));
    assert_true(strncmp(line, "2,3,latency.p95,4,", 18) == 0);
    const results_sweep_diff *dd = results_sweep_key_diff(rs, 2, 0);
    assert_float_equal(dd->mean, 10 + (0.5 - 0.5 + 0.25 + 0) / 4, 1e-9);
    assert_true(dd->ci_paired < dd->ci_independent / 3);
    assert_true(dd->reduction > 10);
    assert_float_equal(cell(line, 7), dd->reduction, 1e-6 * dd->reduction);
    assert_true(results_sweep_median_reduction(rs) > 10);
    results_sweep_free(rs);
    free(s);
    free(p);
    free(f);
    fclose(sw);
    fclose(pt);
    fclose(df);
}

/* A summary that cannot be read: no tables, the message names it. */
static void test_unreadable_summary(void **state)
{
    (void)state;
    FILE *sw = tmpfile(), *pt = tmpfile(), *df = tmpfile();
    char err[256] = "";
    results_sweep_def d = def();
    fail_at = 1;
    assert_null(results_sweep_write(&d, sw, pt, df, err, sizeof(err)));
    fail_at = -1;
    assert_string_equal(err, "runs/p000001-r0001/summary.json: no such file");
    fclose(sw);
    fclose(pt);
    fclose(df);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten_and_expect),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_unreadable_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
