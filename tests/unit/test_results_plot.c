/*
 * test_results_plot - the charts of a run: every chart is drawn from a small run, is a valid PNG
 * (signature, IHDR size) or SVG of the expected size, and is not blank (decoded with libpng: data in
 * colour, not only the white background and black axes); `tempfail plot` draws the same pixels
 * again from the files alone; charts without data are left out; report.html links them.
 *
 * One run of tests/data/scenarios/plots.yaml (a small retry storm with CPU and disk modelled) is
 * shared by the tests; it takes a fraction of a second.
 */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "results/results_plot.h"
#include "results/results_rundir.h"
#include "tempfail/tempfail.h"

static char tmp[256];
static char run_dir[512];

/* Every chart plots.yaml produces: all chart families, one sessions chart per receiver the MTA talked
 * to (not the implicit default receiver: no domain of plots.yaml goes there). */
static const char *const charts[] = {"queue",  "sessions-capped", "sessions-open", "replies",  "window",
                                     "latency", "oldest",          "attempts",      "resources"};
enum { NCHARTS = sizeof(charts) / sizeof(charts[0]) };

static int run_cli(int (*main_fn)(int, char **), ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, main_fn);
    for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    return main_fn(argc, argv);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/test_results_plot.XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(run_dir, sizeof(run_dir), "%s/run", tmp);
    /* plots.yaml's expect lines fail on purpose (a retry storm): exit 1 */
    int st = run_cli(tempfail_run_main, "run", TEMPFAIL_SOURCE_DIR "/tests/data/scenarios/plots.yaml", "--out",
                     run_dir, "--quiet", (char *)NULL);
    return st == TEMPFAIL_EXPECT_FAILED ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        if (len)
            *len = (size_t)n;
    }
    return b;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes path to 8-bit RGB; NULL if libpng refuses it. */
static unsigned char *decode(const char *path, uint32_t *w, uint32_t *h)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&img);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return buf;
}

typedef struct pixel_counts {
    size_t non_white;   /* anything but the background */
    size_t colour;      /* chromatic pixels: data, not the black/grey frame */
} pixel_counts;

static pixel_counts count_pixels(const unsigned char *px, size_t n)
{
    pixel_counts c = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = px + 3 * i;
        if (p[0] != 255 || p[1] != 255 || p[2] != 255)
            c.non_white++;
        int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
        int mn = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
        if (mx - mn > 40)
            c.colour++;
    }
    return c;
}

static void test_every_chart_is_a_png_of_the_size_and_not_blank(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCHARTS; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.png", run_dir, charts[i]);
        size_t len = 0;
        unsigned char *b = (unsigned char *)read_all(path, &len);
        if (!b)
            fail_msg("%s: not written", path);
        assert_true(len > 33);
        static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        assert_memory_equal(b, sig, 8);
        assert_memory_equal(b + 12, "IHDR", 4);
        assert_int_equal(be32(b + 16), RESULTS_PLOT_WIDTH);
        assert_int_equal(be32(b + 20), RESULTS_PLOT_HEIGHT);
        free(b);

        uint32_t w, h;
        unsigned char *px = decode(path, &w, &h);
        if (!px)
            fail_msg("%s: libpng cannot decode it", path);
        assert_int_equal(w, RESULTS_PLOT_WIDTH);
        assert_int_equal(h, RESULTS_PLOT_HEIGHT);
        /* the white background is really white: the top-left corner */
        assert_int_equal(px[0], 255);
        assert_int_equal(px[1], 255);
        assert_int_equal(px[2], 255);
        pixel_counts c = count_pixels(px, (size_t)w * h);
        if (c.non_white < (size_t)w * h / 100 || c.colour < 300)
            fail_msg("%s looks blank: %zu non-white, %zu coloured pixels", path, c.non_white, c.colour);
        free(px);
    }
}

static void test_report_links_every_chart(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof(path), "%s/report.html", run_dir);
    char *html = read_all(path, NULL);
    assert_non_null(html);
    for (size_t i = 0; i < NCHARTS; i++) {
        char img[200];
        snprintf(img, sizeof(img), "<img src=\"%s.png\"", charts[i]);
        if (!strstr(html, img))
            fail_msg("report.html lacks %s", img);
    }
    /* the scenario's name and description, escaped; the expect results; no script, no network */
    assert_non_null(strstr(html, "<h1>plots</h1>"));
    assert_non_null(strstr(html, "&lt;Escaping&gt; &amp; &quot;quotes&quot;"));
    assert_null(strstr(html, "<Escaping>"));
    assert_non_null(strstr(html, "capped.replies.421 == 0"));
    assert_non_null(strstr(html, ">FAIL<"));
    assert_non_null(strstr(html, ">PASS<"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    /* the run directory it names is the final one, not the partial directory it was drawn in */
    assert_null(strstr(html, ".partial-"));
    free(html);
}

static void test_plot_draws_the_same_charts_again(void **state)
{
    (void)state;
    unsigned char *before[NCHARTS];
    size_t size[NCHARTS];
    uint32_t w, h;
    for (size_t i = 0; i < NCHARTS; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.png", run_dir, charts[i]);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        size[i] = (size_t)st.st_size;
        before[i] = decode(path, &w, &h);
        assert_non_null(before[i]);
        assert_int_equal(unlink(path), 0); /* so a chart that is not drawn again is noticed */
    }
    assert_int_equal(run_cli(tempfail_plot_main, "plot", run_dir, (char *)NULL), TEMPFAIL_OK);
    for (size_t i = 0; i < NCHARTS; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.png", run_dir, charts[i]);
        struct stat st;
        if (stat(path, &st) != 0)
            fail_msg("tempfail plot did not draw %s", path);
        assert_int_equal((size_t)st.st_size, size[i]);
        unsigned char *after = decode(path, &w, &h);
        assert_non_null(after);
        if (memcmp(before[i], after, (size_t)w * h * 3) != 0)
            fail_msg("%s: tempfail plot drew different pixels", charts[i]);
        free(after);
        free(before[i]);
    }
    /* no temporary file is left behind */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -q tmp-", run_dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_svg_on_request(void **state)
{
    (void)state;
    char dir[600], cmd[1300];
    snprintf(dir, sizeof(dir), "%s/svg", tmp);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", run_dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run_cli(tempfail_plot_main, "plot", "--format", "svg", dir, (char *)NULL), TEMPFAIL_OK);
    for (size_t i = 0; i < NCHARTS; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.svg", dir, charts[i]);
        char *s = read_all(path, NULL);
        if (!s)
            fail_msg("%s: not written", path);
        assert_int_equal(strncmp(s, "<?xml", 5), 0);
        assert_non_null(strstr(s, "<svg"));
        assert_non_null(strstr(s, "width=\"1000pt\" height=\"560pt\""));
        /* not blank: paths drawn in the palette's colours (the blue of the first series at least) */
        assert_non_null(strstr(s, "<path"));
        assert_true(strstr(s, "rgb(0%,44.705882%,69.803922%)") || strstr(s, "rgb(83.529412%,36.862745%,0%)") ||
                    strstr(s, "rgb(0%,61.960784%,45.098039%)"));
        free(s);
    }
    snprintf(cmd, sizeof(cmd), "%s/report.html", dir);
    char *html = read_all(cmd, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "<img src=\"queue.svg\""));
    free(html);
}

static void test_no_plots_and_charts_without_data(void **state)
{
    (void)state;
    char dir[600], yaml[600];
    snprintf(dir, sizeof(dir), "%s/noplots", tmp);
    assert_int_equal(run_cli(tempfail_run_main, "run", TEMPFAIL_SOURCE_DIR "/tests/data/scenarios/plots.yaml", "--out",
                             dir, "--quiet", "--no-plots", "--set", "expect=[]", (char *)NULL),
                     TEMPFAIL_OK);
    char path[700];
    snprintf(path, sizeof(path), "%s/queue.png", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/report.html", dir);
    char *html = read_all(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "--no-plots"));
    assert_null(strstr(html, "<img"));
    free(html);

    /* neither CPU nor disk modelled: no resources chart, the others are there */
    snprintf(yaml, sizeof(yaml), "%s/calm.yaml", tmp);
    FILE *f = fopen(yaml, "w");
    assert_non_null(f);
    fputs("name: calm\nduration: 2m\nsample_every: 5s\ntraffic:\n  classes:\n    - name: t\n"
          "      arrivals: { process: poisson, rate: 2/s }\n      domains: { calm.test: 1 }\n",
          f);
    fclose(f);
    snprintf(dir, sizeof(dir), "%s/calm", tmp);
    assert_int_equal(run_cli(tempfail_run_main, "run", yaml, "--out", dir, "--quiet", (char *)NULL), TEMPFAIL_OK);
    snprintf(path, sizeof(path), "%s/resources.png", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/sessions-default.png", run_dir); /* plots.yaml never uses it */
    assert_int_not_equal(access(path, F_OK), 0);
    static const char *const present[] = {"queue", "sessions-default", "replies", "window", "latency", "oldest",
                                          "attempts"};
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.png", dir, present[i]);
        if (access(path, F_OK) != 0)
            fail_msg("%s: not drawn", path);
    }
}

static void test_format_and_command_line_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        results_plot_format f;
    } cases[] = {{"png", 0, RESULTS_PLOT_PNG}, {"svg", 0, RESULTS_PLOT_SVG}, {"pdf", 0, RESULTS_PLOT_PDF},
                 {"gif", -EINVAL, 0},          {"PNG", -EINVAL, 0},          {"", -EINVAL, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        results_plot_format f = RESULTS_PLOT_PNG;
        assert_int_equal(results_plot_format_parse(cases[i].text, &f), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(f, cases[i].f);
    }
    assert_int_equal(run_cli(tempfail_plot_main, "plot", "--format", "gif", run_dir, (char *)NULL), TEMPFAIL_USAGE);
    assert_int_equal(run_cli(tempfail_plot_main, "plot", (char *)NULL), TEMPFAIL_USAGE);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/no-such-run", tmp);
    assert_int_equal(run_cli(tempfail_plot_main, "plot", missing, (char *)NULL), TEMPFAIL_IO);
}

static void test_rundir_errors_name_file_and_line(void **state)
{
    (void)state;
    char dir[600], cmd[2000], err[512];
    snprintf(dir, sizeof(dir), "%s/broken", tmp);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s' && printf '1,2,3\\n' >>'%s/timeseries.csv'", run_dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_null(results_rundir_load(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "timeseries.csv line "));
    assert_non_null(strstr(err, "cells, the header has"));

    snprintf(dir, sizeof(dir), "%s/no-such-run", tmp);
    assert_null(results_rundir_load(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "summary.json"));

    /* a good one: columns and messages as written */
    results_rundir *r = results_rundir_load(run_dir, err, sizeof(err));
    assert_non_null(r);
    assert_true(results_rundir_column(r, "queue.oldest") >= 0);
    assert_true(results_rundir_column(r, "capped.sessions.busy") >= 0);
    assert_int_equal(results_rundir_column(r, "nope"), -1);
    assert_true(r->nrow > 10);
    assert_true(r->nmsg > 1000);
    assert_int_equal(r->nclass, 2);
    const results_rundir_class *login = results_rundir_class_find(r, "login");
    assert_non_null(login);
    assert_null(results_rundir_class_find(r, "nope"));
    /* every row counted once: classes and attempts add up to the rows */
    uint64_t rows = 0, by_attempts = 0;
    for (size_t i = 0; i < r->nclass; i++)
        rows += r->classes[i].messages;
    for (size_t i = 0; i <= RESULTS_RUNDIR_MAX_ATTEMPTS + 1; i++)
        by_attempts += r->attempts[i];
    assert_int_equal(rows, r->nmsg);
    assert_int_equal(by_attempts, r->nmsg);
    /* the histogram's quantiles agree with the summary's to the two accuracies together: the
     * histogram answers a bin's upper edge (at most 10^(1/100) = 2.33% above the true value, never
     * below it), the summary's sketch is within 0.5% either way (sim_stat.c), both of the same rank
     * ceil(q n). So histogram / summary lies in [1 / 1.005, 1.0233 / 0.995]. */
    static const char *const qn[] = {"p50", "p95", "p99"};
    static const double qs[] = {0.5, 0.95, 0.99};
    for (int q = 0; q < 3; q++) {
        json_t *v = json_object_get(json_object_get(json_object_get(json_object_get(r->summary, "classes"), "login"),
                                                    "latency"), qn[q]);
        assert_true(json_is_number(v));
        double want = json_number_value(v), got = results_rundir_lat_quantile(login, qs[q]);
        if (!(got >= want / 1.005 && got <= want * pow(10, 0.01) / 0.995))
            fail_msg("login %s: histogram %g, summary %g", qn[q], got, want);
    }
    assert_string_equal(results_rundir_name(r), "plots");
    assert_non_null(strstr(results_rundir_description(r), "<Escaping>"));
    results_rundir_free(r);
}

static void test_safe_names_and_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } names[] = {{"orange", "orange"}, {"a/b c", "a_b_c"}, {".hidden", "_hidden"}, {"mx-1.test", "mx-1.test"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char b[64];
        results_plot_safe_name(b, sizeof(b), names[i].in);
        assert_string_equal(b, names[i].out);
    }
    static const struct {
        double s;
        const char *out;
    } durs[] = {{0.0903, "90.3ms"}, {12.5, "12.5s"}, {2153.9, "35m53s"}, {13030.7, "3h37m"}, {190000, "2d04h"}};
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        char b[32];
        results_plot_short_dur(b, sizeof(b), durs[i].s);
        assert_string_equal(b, durs[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_chart_is_a_png_of_the_size_and_not_blank),
        cmocka_unit_test(test_report_links_every_chart),
        cmocka_unit_test(test_plot_draws_the_same_charts_again),
        cmocka_unit_test(test_svg_on_request),
        cmocka_unit_test(test_no_plots_and_charts_without_data),
        cmocka_unit_test(test_format_and_command_line_errors),
        cmocka_unit_test(test_rundir_errors_name_file_and_line),
        cmocka_unit_test(test_safe_names_and_durations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
