/*
 * test_results_sweep_report - a sweep's charts and report.html, from sweeps built in memory: the
 * summaries come from a callback (no runs), results_sweep_write turns them into the statistics, and
 * results_sweep_report draws into a fresh directory.
 *
 * The cases: a grid of a numeric key and a categorical one (line charts for both keys and a heat map
 * per figure), one key (no heat map), a zip (one line along the points, no heat map), and --no-plots
 * (report.html, no chart). Every chart must be a PNG of the chart size with colour in it (decoded with
 * libpng); the page must hold every point's row, the keys' values, the charts' <img> tags, and the
 * title escaped. A figure no summary has gets no chart and "-" cells.
 */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "results/results_sweep.h"
#include "results/results_sweep_report.h"

static char *values_a[] = {"1", "2", "3"};
static char *values_b[] = {"yes", "no"};
static char *values_c[] = {"[orange.test]", "[yellow.test]", "[red.test]"};

/* The title carries markup, so the page must escape it. */
static const char title[] = "crn <b>&amp; \"limits\"";
static const char title_escaped[] = "crn &lt;b&gt;&amp;amp; &quot;limits&quot;";

static const char *const figures[] = {"latency.p95", "receivers.orange.replies.421", "absent<figure>"};
enum { NFIG = 3, NREPS = 3 };

typedef struct fake {
    const scenario_sweep_axis *axes;
    size_t naxes;
    bool zip;
} fake;

static uint32_t fake_nreps(void *ctx, size_t p)
{
    (void)ctx;
    (void)p;
    return NREPS;
}

/* Replication r shifts every point alike (common random numbers), a little more at later points so
 * the paired differences still vary; the third point of every three fails expect: in replication 1. */
static json_t *fake_summary(void *ctx, size_t p, uint32_t r, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const fake *f = ctx;
    size_t idx[4] = {0};
    scenario_sweep_point(f->axes, f->naxes, f->zip, p, idx);
    double a = (double)idx[0] + 1, b = f->naxes > 1 ? (double)idx[1] : 0;
    double lat = 0.5 * a + 0.3 * b + 0.2 * r * (1 + 0.05 * (double)p);
    double n421 = 10 * a + 4 * b + r + 0.5 * (double)(p % 2) * r;
    int pass = p % 3 != 2 || r != 1;
    return json_pack("{s:f, s:i, s:{s:f}, s:{s:{s:{s:f}}}, s:[{s:s, s:b, s:f}]}", "seed", 1.0 + r, "replication",
                     (int)r, "latency", "p95", lat, "receivers", "orange", "replies", "421", n421, "expect",
                     "assertion", "x", "pass", pass, "value", 1.0);
}

typedef struct sweep_case {
    const char *name;
    scenario_sweep_axis axes[2];
    size_t naxes;
    bool zip, plots;
    const char *run_link;
    const char *charts[8];  /* chart files that must be drawn (NULL-terminated) */
    const char *absent[8];  /* files that must not be */
    const char *html[12];   /* texts report.html must contain */
} sweep_case;

static const sweep_case cases[] = {
    {"grid of a number and a category",
     {{"a", values_a, 3}, {"b", values_b, 2}},
     2,
     false,
     true,
     "runs/p%06zu-r%04u/report.html",
     {"sweep-latency.p95-a.png", "sweep-latency.p95-b.png", "sweep-receivers.orange.replies.421-a.png",
      "sweep-receivers.orange.replies.421-b.png", "heatmap-latency.p95.png",
      "heatmap-receivers.orange.replies.421.png"},
     {"sweep-absent_figure-a.png", "heatmap-absent_figure.png"},
     {"<td><a href=\"runs/p000005-r0000/report.html\">5</a></td><td>3</td><td>no</td><td>3</td>",
      "<code>b</code>: yes, no", "<code>a</code>: 1, 2, 3", "<img src=\"sweep-latency.p95-b.png\"",
      "<img src=\"heatmap-latency.p95.png\"", "<th>latency.p95 (s)</th>", "<th>absent&lt;figure&gt;</th>",
      "class=\"pass\">PASS 100%", "class=\"fail\">FAIL 67%", "less variable than independent runs",
      "href=\"points.csv\"", "href=\"sweep.csv\""}},
    {"one key",
     {{"a", values_a, 3}},
     1,
     false,
     true,
     NULL,
     {"sweep-latency.p95-a.png", "sweep-receivers.orange.replies.421-a.png"},
     {"heatmap-latency.p95.png"},
     {"<tr><td>2</td><td>3</td><td>3</td>", "<img src=\"sweep-latency.p95-a.png\""}},
    {"zip of a number and a list",
     {{"a", values_a, 3}, {"route", values_c, 3}},
     2,
     true,
     true,
     NULL,
     {"sweep-latency.p95-a.png", "sweep-latency.p95-route.png", "sweep-receivers.orange.replies.421-a.png",
      "sweep-receivers.orange.replies.421-route.png"},
     {"heatmap-latency.p95.png"},
     {"<td>1</td><td>2</td><td>[yellow.test]</td>", "Zipped", "<img src=\"sweep-latency.p95-route.png\""}},
    {"no plots",
     {{"a", values_a, 3}, {"b", values_b, 2}},
     2,
     false,
     false,
     NULL,
     {NULL},
     {"sweep-latency.p95-a.png", "heatmap-latency.p95.png"},
     {"--no-plots", "<td>5</td><td>3</td><td>no</td>"}},
};

static char *read_all(const char *path)
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
    if (b)
        b[n] = 0;
    return b;
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

/* Chromatic pixels: data in the palette's or the colour map's colours, not the black and grey frame. */
static size_t coloured_pixels(const unsigned char *px, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = px + 3 * i;
        int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
        int mn = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
        c += mx - mn > 40;
    }
    return c;
}

static void assert_chart(const char *dir, const char *file)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    uint32_t w, h;
    unsigned char *px = decode(path, &w, &h);
    if (!px)
        fail_msg("%s: missing or not a PNG", path);
    assert_int_equal(w, RESULTS_PLOT_WIDTH);
    assert_int_equal(h, RESULTS_PLOT_HEIGHT);
    /* white background: the top-left corner */
    assert_int_equal(px[0], 255);
    assert_int_equal(px[1], 255);
    assert_int_equal(px[2], 255);
    size_t c = coloured_pixels(px, (size_t)w * h);
    if (c < 300)
        fail_msg("%s looks blank: %zu coloured pixels", path, c);
    free(px);
}

static bool exists(const char *dir, const char *file)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

/* How many files in dir (hidden ones too) end in suffix, or contain it when anywhere. */
static int count_files(const char *dir, const char *suffix, bool anywhere)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    size_t sl = strlen(suffix);
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        n += anywhere ? strstr(e->d_name, suffix) != NULL : l >= sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* The sweep of case c, its tables into temporary files. */
static results_sweep *build(const sweep_case *c, fake *f)
{
    *f = (fake){c->axes, c->naxes, c->zip};
    char err[256] = "";
    size_t np = scenario_sweep_npoints(c->axes, c->naxes, c->zip, err, sizeof(err));
    assert_true(np > 0);
    results_sweep_def def = {.axes = c->axes, .naxes = c->naxes, .zip = c->zip, .npoints = np,
                             .figures = figures, .nfigures = NFIG, .nreps = fake_nreps,
                             .summary = fake_summary, .ctx = f};
    FILE *t[3] = {tmpfile(), tmpfile(), tmpfile()};
    assert_true(t[0] && t[1] && t[2]);
    results_sweep *rs = results_sweep_write(&def, t[0], t[1], t[2], err, sizeof(err));
    if (!rs)
        fail_msg("%s: results_sweep_write: %s", c->name, err);
    for (int i = 0; i < 3; i++)
        fclose(t[i]);
    return rs;
}

static void run_case(const sweep_case *c)
{
    char dir[] = "/tmp/test_results_sweep_report.XXXXXX";
    assert_non_null(mkdtemp(dir));
    fake f;
    results_sweep *rs = build(c, &f);
    results_sweep_report_opts o = {.dir = dir, .plots = c->plots, .fmt = RESULTS_PLOT_PNG, .title = title,
                                   .scenario = "scenarios/<crn>.yaml", .run_link = c->run_link};
    char err[512] = "";
    int e = results_sweep_report(rs, &o, err, sizeof(err));
    if (e)
        fail_msg("%s: results_sweep_report: %d %s", c->name, e, err);
    results_sweep_free(rs);

    for (size_t i = 0; c->charts[i]; i++)
        assert_chart(dir, c->charts[i]);
    for (size_t i = 0; c->absent[i]; i++)
        if (exists(dir, c->absent[i]))
            fail_msg("%s: %s should not be drawn", c->name, c->absent[i]);
    size_t ncharts = 0;
    while (c->charts[ncharts])
        ncharts++;
    assert_int_equal(count_files(dir, ".png", false), (int)ncharts);
    assert_int_equal(count_files(dir, ".tmp-", true), 0);

    char path[600];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    char *html = read_all(path);
    if (!html)
        fail_msg("%s: no report.html", c->name);
    for (size_t i = 0; i < sizeof(c->html) / sizeof(c->html[0]) && c->html[i]; i++)
        if (!strstr(html, c->html[i]))
            fail_msg("%s: report.html lacks %s", c->name, c->html[i]);
    assert_non_null(strstr(html, title_escaped));
    assert_non_null(strstr(html, "scenarios/&lt;crn&gt;.yaml"));
    assert_null(strstr(html, "<b>&amp;"));
    if (!c->plots)
        assert_null(strstr(html, "<figure>"));
    assert_null(strstr(html, "<script"));
    /* every point has a row; the absent figure's cells are "-" */
    size_t rows = 0;
    for (const char *s = html; (s = strstr(s, "<tr><td>")); s++)
        rows++;
    size_t np = scenario_sweep_npoints(c->axes, c->naxes, c->zip, err, sizeof(err));
    assert_int_equal(rows, np);
    assert_non_null(strstr(html, "<td>-</td></tr>"));
    free(html);

    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* A directory that cannot be written: -errno, the file named. */
static void test_unwritable_dir(void **state)
{
    (void)state;
    fake f;
    results_sweep *rs = build(&cases[0], &f);
    results_sweep_report_opts o = {.dir = "/nonexistent/sweep", .plots = false, .title = "t", .scenario = "s"};
    char err[512] = "";
    assert_int_equal(results_sweep_report(rs, &o, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/sweep/"));
    results_sweep_free(rs);
}

/* More points than the page shows: the rest are counted, pointing at points.csv. */
static void test_long_table_is_cut(void **state)
{
    (void)state;
    enum { N = 600 };
    static char *many[N];
    static char text[N][8];
    for (size_t i = 0; i < N; i++) {
        snprintf(text[i], sizeof(text[i]), "%zu", i);
        many[i] = text[i];
    }
    sweep_case c = {.name = "600 points", .axes = {{"a", many, N}}, .naxes = 1};
    char dir[] = "/tmp/test_results_sweep_report.XXXXXX";
    assert_non_null(mkdtemp(dir));
    fake f;
    results_sweep *rs = build(&c, &f);
    results_sweep_report_opts o = {.dir = dir, .plots = true, .fmt = RESULTS_PLOT_PNG, .title = "t", .scenario = "s"};
    char err[512] = "";
    assert_int_equal(results_sweep_report(rs, &o, err, sizeof(err)), 0);
    results_sweep_free(rs);
    assert_chart(dir, "sweep-latency.p95-a.png");
    char path[600];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    char *html = read_all(path);
    assert_non_null(html);
    assert_non_null(strstr(html, "100 more points in <a href=\"points.csv\">points.csv</a>"));
    assert_non_null(strstr(html, "<tr><td>499</td>"));
    assert_null(strstr(html, "<tr><td>500</td>"));
    assert_non_null(strstr(html, ", ... (600 values)"));
    free(html);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_unwritable_dir),
        cmocka_unit_test(test_long_table_is_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
