/*
 * results_sweep_report - the charts and report.html of a sweep (results_sweep_report.h), drawn from
 * the key figures' statistics per point that results_sweep kept; nothing is read again from the runs.
 *
 * What a sweep is asked is how each key figure moves as one key changes, and whether that move is
 * larger than the noise between replications. So each chart is one key figure against one varied
 * key: a point per value at the mean of its replications, the 95% confidence interval of that mean
 * as a translucent band around the line, and one line per combination of the other keys' values.
 * More than the palette's eight lines are not read but guessed at, so only the first eight are
 * drawn and the caption says how many there are. A zip has no "other keys" (they move together):
 * one line along the points.
 *
 * A key's values are numbers on a numeric axis when every one of them reads as a number (a range is
 * written back as plain numbers, "60" or "0.1"); otherwise ("yes"/"no", lists, distributions) they
 * are categories, equally spaced in the sweep's order and labelled with the values themselves.
 *
 * With exactly two keys in a grid, a heat map shows a figure over the whole grid at once (a
 * sequential colour map, dark = low, the mean written in each cell while they are few enough to
 * read); the cells whose expect: passed in every replication are outlined and marked "*" (an ASCII
 * mark: the chart fonts may lack a check mark).
 *
 * Everything is bounded whatever the sweep's size: at most RESULTS_PLOT_MAX charts (figure by
 * figure; the page counts the rest), at most MAX_ROWS rows in the page's table (points.csv has them
 * all), a key's values listed up to MAX_LISTED. report.html is written through results_html's frame
 * and style sheet, so a sweep's page reads like a run's; every text is escaped.
 */
#include "results/results_sweep_report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <plplot.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_compare.h"
#include "results/results_dir.h"
#include "results/results_fmt.h"
#include "results/results_html.h"
#include "sim/sim_mem.h"

enum {
    MAX_SERIES = 8,      /* lines per chart: the palette's colours */
    MAX_ROWS = 500,      /* rows of the page's points table */
    MAX_LISTED = 40,     /* values of a key listed on the page */
    MAX_TICKS = 20,      /* labelled categories on an axis */
    MAX_SYMBOLS = 60,    /* positions of a line marked with a symbol */
    MAX_CELL_TEXT = 12,  /* a heat map writes its values while both sides have at most this many cells */
    LABEL_MAX = 16,      /* characters of a category label */
    NAME_MAX_SAFE = 60,  /* characters of a figure or key in a chart's file name */
};

/* One position of a series: x, the mean and the ends of its confidence interval (NaN: none). */
typedef struct series_pt {
    double x, y, lo, hi;
} series_pt;

typedef struct report {
    const results_sweep *rs;
    const results_sweep_def *d;
    const results_sweep_report_opts *o;
    results_plot_list list;
    size_t left_out;   /* charts not drawn: the list was full */
    size_t *idx;       /* [naxes]: a point's value on every axis */
    series_pt *pts;    /* [npoints]: one series */
    double *px, *py;   /* [2 * npoints]: a line or a band's polygon */
    char *err;
    size_t errlen;
} report;

/* The tick labels of category axes: the values of the x axis's key, and of the y axis's in a heat
 * map (NULL: that axis has numbers). */
typedef struct category_labels {
    const scenario_sweep_axis *ax[2];
} category_labels;

/* A y range being gathered (lo > hi while empty). */
typedef struct range {
    double lo, hi;
} range;

/* Appends a formatted text to buf (NUL-terminated within len), cut short when it is full. */
static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* --- the sweep's grid --- */

/* The grid point with value idx[i] on every axis: the inverse of scenario_sweep_point. */
static size_t grid_point(const results_sweep_def *d, const size_t *idx)
{
    size_t p = 0;
    for (size_t i = 0; i < d->naxes; i++)
        p = p * d->axes[i].nvalues + idx[i];
    return p;
}

/* Sets idx on every axis but a to combination c of their values (grid order, the last fastest). */
static void other_values(const results_sweep_def *d, size_t a, size_t c, size_t *idx)
{
    for (size_t i = d->naxes; i-- > 0;)
        if (i != a) {
            idx[i] = c % d->axes[i].nvalues;
            c /= d->axes[i].nvalues;
        }
}

/* How many lines a chart against axis a has: the combinations of the other axes' values. */
static size_t ncombinations(const results_sweep_def *d, size_t a)
{
    return d->zip ? 1 : d->npoints / d->axes[a].nvalues;
}

static bool axis_numeric(const scenario_sweep_axis *ax)
{
    for (size_t i = 0; i < ax->nvalues; i++) {
        char *end;
        double v = strtod(ax->values[i], &end);
        if (end == ax->values[i] || *end || !isfinite(v))
            return false;
    }
    return ax->nvalues > 0;
}

/* Where value i of ax is on its chart axis: the number it reads as, or its position. */
static double axis_x(const scenario_sweep_axis *ax, bool numeric, size_t i)
{
    return numeric ? strtod(ax->values[i], NULL) : (double)i;
}

/* A key as a legend names it: its last dotted part, unless another axis's key ends the same. */
static const char *short_key(const results_sweep_def *d, size_t a)
{
    const char *k = d->axes[a].key, *dot = strrchr(k, '.');
    if (!dot || !dot[1])
        return k;
    for (size_t i = 0; i < d->naxes; i++) {
        const char *o = strrchr(d->axes[i].key, '.');
        if (i != a && o && strcmp(o, dot) == 0)
            return k;
    }
    return dot + 1;
}

/* How many replications point p has (from the definition; the figures' counts without one). */
static size_t point_reps(const report *r, size_t p)
{
    if (r->d->nreps)
        return r->d->nreps(r->d->ctx, p);
    size_t n = 0;
    for (size_t k = 0; k < r->d->nfigures; k++)
        if (results_sweep_key_stat(r->rs, p, k)->n > n)
            n = results_sweep_key_stat(r->rs, p, k)->n;
    return n;
}

/* --- chart pieces --- */

static void range_add(range *g, double v)
{
    if (!isfinite(v))
        return;
    g->lo = v < g->lo ? v : g->lo;
    g->hi = v > g->hi ? v : g->hi;
}

/* A y axis for g: from zero when the data are not far from it, else padded around the data. */
static void range_axis(range g, double *y0, double *y1)
{
    if (!(g.lo <= g.hi)) {
        *y0 = 0;
        *y1 = 1;
    } else if (g.lo >= 0 && g.lo <= 0.5 * g.hi) {
        *y0 = 0;
        *y1 = results_plot_nice_max(g.hi);
    } else {
        double pad = g.hi > g.lo ? 0.08 * (g.hi - g.lo) : 0.1 * fabs(g.hi) + 1;
        *y0 = g.lo - pad;
        *y1 = g.hi + pad;
    }
}

/* A number in about three significant digits, for a heat map's cell. */
static void short_value(char *b, size_t len, double v, bool duration)
{
    if (duration && v >= 0) {
        results_plot_short_dur(b, len, v);
        return;
    }
    if (!isfinite(v)) {
        snprintf(b, len, "-");
        return;
    }
    if (v != 0) {
        double q = pow(10, floor(log10(fabs(v))) - 2);
        v = round(v / q) * q;
    }
    results_fmt_double(b, len, v);
}

/* A figure's name on an axis, with its unit when it is a duration. */
static void figure_label(char *b, size_t len, const char *figure)
{
    snprintf(b, len, "%s%s", figure, results_compare_is_duration(figure) ? " (s)" : "");
}

/* plslabelfunc callback: a category axis's ticks read as the key's values. */
static void category_label(PLINT axis, PLFLT value, char *label, PLINT len, PLPointer data)
{
    const category_labels *cl = data;
    const scenario_sweep_axis *ax = cl->ax[axis == PL_Y_AXIS];
    double i = round(value);
    label[0] = '\0';
    if (!ax || fabs(value - i) > 1e-6 || i < 0 || i >= (double)ax->nvalues)
        return;
    const char *v = ax->values[(size_t)i];
    if (strlen(v) > LABEL_MAX)
        snprintf(label, (size_t)len, "%.*s..", LABEL_MAX - 2, v);
    else
        snprintf(label, (size_t)len, "%s", v);
}

/* Every how many categories a tick is labelled, so that at most MAX_TICKS are. */
static double category_step(size_t n) { return n > MAX_TICKS ? (double)((n + MAX_TICKS - 1) / MAX_TICKS) : 1; }

/* Window, grid, frame and labels of a chart whose x axis (and y axis, in a heat map) may be
 * categories (cl->ax[0], cl->ax[1] non-NULL). */
static void chart_frame(double x0, double x1, double y0, double y1, const category_labels *cl, const char *xlabel,
                        const char *ylabel, const char *title)
{
    if (!cl->ax[0] && !cl->ax[1]) {
        results_plot_axes(x0, x1, y0, y1, false, false, xlabel, ylabel, title);
        return;
    }
    double xs = cl->ax[0] ? category_step(cl->ax[0]->nvalues) : 0;
    double ys = cl->ax[1] ? category_step(cl->ax[1]->nvalues) : 0;
    plwind(x0, x1, y0, y1);
    plslabelfunc(category_label, (PLPointer)cl);
    if (!cl->ax[1]) { /* a heat map's cells are its own grid */
        plcol0(RESULTS_PLOT_GREY);
        plbox("g", xs, 1, "g", 0, 0);
    }
    plcol0(RESULTS_PLOT_BLACK);
    plbox(cl->ax[0] ? "bcnto" : "bcnst", xs, cl->ax[0] ? 1 : 0, cl->ax[1] ? "bcntvo" : "bcnstv", ys,
          cl->ax[1] ? 1 : 0);
    pllab(xlabel, ylabel, title);
    plslabelfunc(NULL, NULL);
}

/* The x window of a chart against ax: its categories, or its numbers with some room either side. */
static void x_window(const scenario_sweep_axis *ax, bool numeric, double *x0, double *x1)
{
    if (!numeric) {
        *x0 = -0.5;
        *x1 = (double)ax->nvalues - 0.5;
        return;
    }
    range g = {INFINITY, -INFINITY};
    for (size_t i = 0; i < ax->nvalues; i++)
        range_add(&g, axis_x(ax, true, i));
    double pad = g.hi > g.lo ? 0.04 * (g.hi - g.lo) : 0.5;
    *x0 = g.lo - pad;
    *x1 = g.hi + pad;
}

/* --- line charts: a figure against one key --- */

static int cmp_x(const void *a, const void *b)
{
    double x = ((const series_pt *)a)->x, y = ((const series_pt *)b)->x;
    return (x > y) - (x < y);
}

static series_pt series_point(double x, const results_sweep_stat *s)
{
    double h = isfinite(s->ci_half) ? s->ci_half : NAN;
    return (series_pt){x, s->mean, s->mean - h, s->mean + h};
}

/* Line c of figure k against axis a into r->pts, in the order of x; returns its length. */
static size_t series_fill(report *r, size_t k, size_t a, size_t c, bool numeric)
{
    const results_sweep_def *d = r->d;
    const scenario_sweep_axis *ax = &d->axes[a];
    size_t n = d->zip ? d->npoints : ax->nvalues;
    if (!d->zip)
        other_values(d, a, c, r->idx);
    for (size_t i = 0; i < n; i++) {
        size_t p = i;
        if (d->zip) {
            scenario_sweep_point(d->axes, d->naxes, true, p, r->idx);
        } else {
            r->idx[a] = i;
            p = grid_point(d, r->idx);
        }
        r->pts[i] = series_point(axis_x(ax, numeric, r->idx[a]), results_sweep_key_stat(r->rs, p, k));
    }
    qsort(r->pts, n, sizeof(*r->pts), cmp_x);
    return n;
}

/* The band of a series' confidence intervals: a polygon over each run of positions that have one,
 * a bar where a run is a single position. */
static void series_band(report *r, size_t n, int color)
{
    plcol0(color);
    for (size_t i = 0; i < n;) {
        while (i < n && !isfinite(r->pts[i].lo))
            i++;
        size_t j = i;
        while (j < n && isfinite(r->pts[j].lo))
            j++;
        size_t m = j - i;
        for (size_t t = 0; t < m; t++) {
            r->px[t] = r->px[2 * m - 1 - t] = r->pts[i + t].x;
            r->py[t] = r->pts[i + t].hi;
            r->py[2 * m - 1 - t] = r->pts[i + t].lo;
        }
        if (m >= 2)
            plfill((PLINT)(2 * m), r->px, r->py);
        else if (m == 1)
            plline(2, r->px, r->py);
        i = j;
    }
}

/* A series: band, line and a symbol at every mean; returns how many means it has. */
static size_t series_draw(report *r, size_t n, size_t s)
{
    series_band(r, n, results_plot_fill_color(s, 0.2));
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        r->px[i] = r->pts[i].x;
        r->py[i] = r->pts[i].y;
        have += isfinite(r->pts[i].y);
    }
    results_plot_line(n, r->px, r->py, results_plot_color(s), 1, 2);
    if (n > MAX_SYMBOLS)
        return have; /* the line is all there is to see */
    plcol0(results_plot_color(s));
    for (size_t i = 0; i < n; i++)
        if (isfinite(r->py[i]))
            plstring(1, &r->px[i], &r->py[i], "#(728)");
    return have;
}

#define LEGEND_CHARS 22 /* what the legend shows whole */

/* Line c's legend text: the other keys' values ("limit=2, cache=yes"). */
static void series_name(const report *r, size_t a, size_t c, char *b, size_t len)
{
    b[0] = '\0';
    if (r->d->zip || r->d->naxes == 1) {
        snprintf(b, len, "mean, 95%% CI");
        return;
    }
    other_values(r->d, a, c, r->idx);
    for (size_t i = 0; i < r->d->naxes; i++)
        if (i != a) {
            /* the legend sits right of the plot in a fixed width: a long key gives way to its value */
            const char *k = short_key(r->d, i), *v = r->d->axes[i].values[r->idx[i]];
            int room = LEGEND_CHARS - 1 - (int)strlen(v), kl = (int)strlen(k);
            if (room < 6)
                room = 6;
            if (kl > room)
                cat(b, len, "%s%.*s..=%s", b[0] ? ", " : "", room - 2, k, v);
            else
                cat(b, len, "%s%s=%s", b[0] ? ", " : "", k, v);
        }
}

/* The y range of a chart's lines, their bands included; *missing counts positions without a mean. */
static range lines_range(report *r, size_t k, size_t a, size_t nlines, bool numeric, size_t *missing)
{
    range g = {INFINITY, -INFINITY};
    *missing = 0;
    for (size_t c = 0; c < nlines; c++) {
        size_t n = series_fill(r, k, a, c, numeric);
        for (size_t i = 0; i < n; i++) {
            range_add(&g, r->pts[i].y);
            range_add(&g, r->pts[i].lo);
            range_add(&g, r->pts[i].hi);
            *missing += !isfinite(r->pts[i].y);
        }
    }
    return g;
}

static void lines_caption(const report *r, size_t k, size_t a, bool numeric, size_t nlines, size_t missing,
                          char *b, size_t len)
{
    const results_sweep_def *d = r->d;
    size_t all = ncombinations(d, a);
    snprintf(b, len, "The mean of %s over each point's replications against %s, with the 95%% confidence "
             "interval of the mean as a band", d->figures[k], d->axes[a].key);
    if (d->zip)
        cat(b, len, "; the keys are zipped, so the other keys move along with it");
    else if (d->naxes > 1)
        cat(b, len, "; one line per combination of the other keys' values");
    cat(b, len, ".");
    if (nlines < all)
        cat(b, len, " Only the first %zu of the %zu combinations are drawn (points.csv has them all).", nlines, all);
    if (missing)
        cat(b, len, " Points without a value are left out.");
    if (!numeric)
        cat(b, len, " The values are not numbers: they are shown in the sweep's order.");
}

static int chart_lines(report *r, size_t k, size_t a)
{
    const results_sweep_def *d = r->d;
    const scenario_sweep_axis *ax = &d->axes[a];
    bool numeric = axis_numeric(ax);
    size_t nlines = ncombinations(d, a), missing;
    nlines = nlines < MAX_SERIES ? nlines : MAX_SERIES;
    range g = lines_range(r, k, a, nlines, numeric, &missing);
    if (!(g.lo <= g.hi))
        return 0; /* not one mean: nothing to draw */
    char fig[NAME_MAX_SAFE + 1], key[NAME_MAX_SAFE + 1], base[160], title[200], caption[400], ylabel[300];
    results_plot_safe_name(fig, sizeof(fig), d->figures[k]);
    results_plot_safe_name(key, sizeof(key), ax->key);
    snprintf(base, sizeof(base), "sweep-%s-%s", fig, key);
    snprintf(title, sizeof(title), "%s against %s", d->figures[k], ax->key);
    lines_caption(r, k, a, numeric, nlines, missing, caption, sizeof(caption));
    results_plot p;
    int e = results_plot_begin(&p, r->o->dir, base, r->o->fmt, &r->list, title, caption, r->err, r->errlen);
    if (e)
        return e;
    double x0, x1, y0, y1;
    x_window(ax, numeric, &x0, &x1);
    range_axis(g, &y0, &y1);
    figure_label(ylabel, sizeof(ylabel), d->figures[k]);
    category_labels cl = {{numeric ? NULL : ax, NULL}};
    results_plot_panel(0.12, 0.90);
    chart_frame(x0, x1, y0, y1, &cl, ax->key, ylabel, d->figures[k]);
    results_plot_key keys[MAX_SERIES];
    char texts[MAX_SERIES][80];
    for (size_t c = 0; c < nlines; c++) {
        series_draw(r, series_fill(r, k, a, c, numeric), c);
        series_name(r, a, c, texts[c], sizeof(texts[c]));
        keys[c] = (results_plot_key){texts[c], results_plot_color(c), RESULTS_PLOT_KEY_LINE, 1};
    }
    results_plot_legend(keys, nlines);
    return results_plot_end(&p, r->err, r->errlen);
}

/* --- heat maps: a figure over a grid of two keys --- */

/* A sequential colour map (viridis's ends and middle): dark blue for low values to yellow for high,
 * readable in greyscale and with the common colour blindnesses. */
static void heat_colormap(void)
{
    static const PLFLT pos[5] = {0, 0.25, 0.5, 0.75, 1};
    static const PLFLT red[5] = {68 / 255., 59 / 255., 33 / 255., 93 / 255., 253 / 255.};
    static const PLFLT green[5] = {1 / 255., 82 / 255., 144 / 255., 201 / 255., 231 / 255.};
    static const PLFLT blue[5] = {84 / 255., 139 / 255., 141 / 255., 99 / 255., 37 / 255.};
    plscmap1n(256);
    plscmap1l(1, 5, pos, red, green, blue, NULL);
}

static double heat_t(range g, double v) { return g.hi > g.lo ? (v - g.lo) / (g.hi - g.lo) : 0.5; }

static void rect(double x0, double x1, double y0, double y1, bool fill)
{
    double bx[5] = {x0, x1, x1, x0, x0}, by[5] = {y0, y0, y1, y1, y0};
    if (fill)
        plfill(4, bx, by);
    else
        plline(5, bx, by);
}

/* Cell (i, j) of a heat map: its colour (grey without a mean), its outline and "*" when its expect:
 * passed in every replication, its value when text. */
static void heat_cell(double i, double j, double mean, double t, bool passed, bool text, bool duration)
{
    if (isfinite(mean))
        plcol1(t);
    else
        plcol0(RESULTS_PLOT_GREY);
    rect(i - 0.5, i + 0.5, j - 0.5, j + 0.5, true);
    int ink = isfinite(mean) && t < 0.6 ? 0 : RESULTS_PLOT_BLACK; /* white on the dark end */
    plcol0(ink);
    if (passed) {
        plwidth(4);
        rect(i - 0.44, i + 0.44, j - 0.44, j + 0.44, false);
        plwidth(1);
        plptex(i + 0.38, j + 0.22, 1, 0, 1, "*");
    }
    if (text) {
        char b[RESULTS_FMT_MAX];
        short_value(b, sizeof(b), mean, duration);
        plptex(i, j - 0.05, 1, 0, 0.5, b);
    }
}

/* The colour bar right of the map: the colour map from lo to hi, labelled with the figure. */
static void heat_bar(range g, const char *label)
{
    double lo = g.hi > g.lo ? g.lo : g.lo - 0.5, hi = g.hi > g.lo ? g.hi : g.hi + 0.5;
    plvpor(0.74, 0.765, 0.12, 0.90);
    plwind(0, 1, lo, hi);
    enum { STEPS = 64 };
    for (int s = 0; s < STEPS; s++) {
        plcol1((s + 0.5) / STEPS);
        rect(0, 1, lo + (hi - lo) * s / STEPS, lo + (hi - lo) * (s + 1) / STEPS, true);
    }
    plcol0(RESULTS_PLOT_BLACK);
    plbox("bc", 0, 0, "bcmstv", 0, 0);
    plmtex("r", 6.5, 0.5, 0.5, label);
}

static bool any_expect(const report *r)
{
    for (size_t p = 0; p < r->d->npoints; p++)
        if (!isnan(results_sweep_pass_fraction(r->rs, p)))
            return true;
    return false;
}

static void heat_caption(const report *r, size_t k, bool text, char *b, size_t len)
{
    const results_sweep_def *d = r->d;
    snprintf(b, len, "The mean of %s at every point of the grid of %s (across) and %s (up); dark is low, "
             "bright is high.", d->figures[k], d->axes[0].key, d->axes[1].key);
    cat(b, len, text ? " Each cell is labelled with its mean." : " points.csv has the values.");
    if (any_expect(r))
        cat(b, len, " Cells outlined and marked * passed expect: in every replication.");
    cat(b, len, " Grey: no value.");
}

static int chart_heatmap(report *r, size_t k)
{
    const results_sweep_def *d = r->d;
    const scenario_sweep_axis *ax = d->axes, *ay = d->axes + 1;
    range g = {INFINITY, -INFINITY};
    for (size_t p = 0; p < d->npoints; p++)
        range_add(&g, results_sweep_key_stat(r->rs, p, k)->mean);
    if (!(g.lo <= g.hi))
        return 0;
    bool text = ax->nvalues <= MAX_CELL_TEXT && ay->nvalues <= MAX_CELL_TEXT;
    bool duration = results_compare_is_duration(d->figures[k]);
    char fig[NAME_MAX_SAFE + 1], base[160], title[300], caption[400], label[300];
    results_plot_safe_name(fig, sizeof(fig), d->figures[k]);
    snprintf(base, sizeof(base), "heatmap-%s", fig);
    snprintf(title, sizeof(title), "%s over %s and %s", d->figures[k], ax->key, ay->key);
    heat_caption(r, k, text, caption, sizeof(caption));
    results_plot p;
    int e = results_plot_begin(&p, r->o->dir, base, r->o->fmt, &r->list, title, caption, r->err, r->errlen);
    if (e)
        return e;
    heat_colormap();
    results_plot_panel(0.12, 0.90);
    plwind(-0.5, (double)ax->nvalues - 0.5, -0.5, (double)ay->nvalues - 0.5);
    plschr(0, text && ax->nvalues > 6 ? 0.75 : 0.95);
    for (size_t p = 0; p < d->npoints; p++) {
        scenario_sweep_point(d->axes, d->naxes, false, p, r->idx);
        double m = results_sweep_key_stat(r->rs, p, k)->mean;
        heat_cell((double)r->idx[0], (double)r->idx[1], m, heat_t(g, m), results_sweep_all_passed(r->rs, p), text,
                  duration);
    }
    plschr(0, 0.95);
    category_labels cl = {{ax, ay}};
    /* the y axis is shorter than the x axis: a long key is named by its last part there */
    const char *ylab = strlen(ay->key) > 36 && strrchr(ay->key, '.') ? strrchr(ay->key, '.') + 1 : ay->key;
    chart_frame(-0.5, (double)ax->nvalues - 0.5, -0.5, (double)ay->nvalues - 0.5, &cl, ax->key, ylab,
                d->figures[k]);
    figure_label(label, sizeof(label), d->figures[k]);
    heat_bar(g, label);
    return results_plot_end(&p, r->err, r->errlen);
}

/* --- all charts --- */

static bool wants_heatmap(const results_sweep_def *d) { return d->naxes == 2 && !d->zip; }

/* Chart fn(r, k, a) unless the list is full (then it is counted as left out). */
static int chart_bounded(report *r, int (*fn)(report *, size_t, size_t), size_t k, size_t a)
{
    if (r->list.n == RESULTS_PLOT_MAX) {
        r->left_out++;
        return 0;
    }
    return fn(r, k, a);
}

static int chart_heatmap_of(report *r, size_t k, size_t a)
{
    (void)a;
    return chart_heatmap(r, k);
}

static int draw_charts(report *r)
{
    int e = 0;
    for (size_t k = 0; k < r->d->nfigures && !e; k++) {
        for (size_t a = 0; a < r->d->naxes && !e; a++)
            e = chart_bounded(r, chart_lines, k, a);
        if (!e && wants_heatmap(r->d))
            e = chart_bounded(r, chart_heatmap_of, k, 0);
    }
    return e;
}

/* --- report.html --- */

/* The values of axis ax, comma-separated, up to MAX_LISTED. */
static void page_values(FILE *f, const scenario_sweep_axis *ax)
{
    size_t n = ax->nvalues < MAX_LISTED ? ax->nvalues : MAX_LISTED;
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        results_html_escape(f, ax->values[i]);
    }
    if (n < ax->nvalues)
        fprintf(f, ", ... (%zu values)", ax->nvalues);
}

static void page_intro(const report *r, FILE *f)
{
    const results_sweep_def *d = r->d;
    fputs("<h1>Sweep: ", f);
    results_html_escape(f, r->o->title);
    fputs("</h1>\n<p class=\"meta\">scenario <code>", f);
    results_html_escape(f, r->o->scenario);
    size_t lo = d->npoints ? SIZE_MAX : 0, hi = 0;
    for (size_t p = 0; p < d->npoints; p++) {
        size_t n = point_reps(r, p);
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    fprintf(f, "</code>; %zu points, ", d->npoints);
    if (lo == hi)
        fprintf(f, "%zu replications each", lo);
    else
        fprintf(f, "%zu to %zu replications per point", lo, hi);
    fputs(" (replication r of every point sees the same arrivals: common random numbers)</p>\n", f);
    fprintf(f, "<h2>Varied keys</h2>\n<p>%s</p>\n<ul>\n",
            d->zip ? "Zipped: point i takes the i-th value of every key." : "Every combination of the keys' values, "
                                                                             "the last key varying fastest.");
    for (size_t a = 0; a < d->naxes; a++) {
        fputs("<li><code>", f);
        results_html_escape(f, d->axes[a].key);
        fputs("</code>: ", f);
        page_values(f, &d->axes[a]);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void page_reduction(const report *r, FILE *f)
{
    double red = results_sweep_median_reduction(r->rs);
    if (isnan(red))
        return;
    char b[RESULTS_FMT_MAX];
    results_fmt_double(b, sizeof(b), red < 100 ? round(red * 10) / 10 : round(red));
    if (red >= 1)
        fprintf(f, "<p>Common random numbers made the differences between points %s&times; less variable than "
                "independent runs (<a href=\"differences.csv\">differences.csv</a>).</p>\n", b);
    else
        fprintf(f, "<p>Common random numbers made the differences between points more variable than independent "
                "runs would (median variance reduction %s, <a href=\"differences.csv\">differences.csv</a>).</p>\n",
                b);
}

/* "mean &plusmn; half", both rounded to the half width's second significant digit. */
static void td_mean(FILE *f, const results_sweep_stat *s)
{
    char m[RESULTS_FMT_MAX], h[RESULTS_FMT_MAX];
    if (!isfinite(s->mean)) {
        fputs("<td>-</td>", f);
        return;
    }
    double mean = s->mean, half = s->ci_half;
    if (isfinite(half) && half > 0) {
        double q = pow(10, floor(log10(half)) - 1);
        mean = round(mean / q) * q;
        half = round(half / q) * q;
    }
    results_fmt_double(m, sizeof(m), mean);
    if (isfinite(half)) {
        results_fmt_double(h, sizeof(h), half);
        fprintf(f, "<td>%s &plusmn; %s</td>", m, h);
    } else {
        fprintf(f, "<td>%s</td>", m);
    }
}

/* The share of replications that passed: PASS only when all did (a FAIL never reads 100%). */
static void td_pass(FILE *f, double share)
{
    double pct = round(100 * share);
    if (isnan(share))
        fputs("<td>-</td>", f);
    else if (share >= 1)
        fputs("<td class=\"pass\">PASS 100%</td>", f);
    else
        fprintf(f, "<td class=\"fail\">FAIL %.0f%%</td>", pct < 99 ? pct : 99);
}

/* The point's number, linked to its replication 0's report when the runs kept theirs. */
static void td_point(const report *r, FILE *f, size_t p)
{
    if (!r->o->run_link) {
        fprintf(f, "<td>%zu</td>", p);
        return;
    }
    char href[PATH_MAX];
    snprintf(href, sizeof(href), r->o->run_link, p, 0u);
    fputs("<td><a href=\"", f);
    results_html_escape(f, href);
    fprintf(f, "\">%zu</a></td>", p);
}

static void page_row(const report *r, FILE *f, size_t p)
{
    const results_sweep_def *d = r->d;
    fputs("<tr>", f);
    td_point(r, f, p);
    scenario_sweep_point(d->axes, d->naxes, d->zip, p, r->idx);
    for (size_t a = 0; a < d->naxes; a++) {
        fputs("<td>", f);
        results_html_escape(f, d->axes[a].values[r->idx[a]]);
        fputs("</td>", f);
    }
    fprintf(f, "<td>%zu</td>", point_reps(r, p));
    td_pass(f, results_sweep_pass_fraction(r->rs, p));
    for (size_t k = 0; k < d->nfigures; k++)
        td_mean(f, results_sweep_key_stat(r->rs, p, k));
    fputs("</tr>\n", f);
}

static void page_points(const report *r, FILE *f)
{
    const results_sweep_def *d = r->d;
    fputs("<h2>Points</h2>\n", f);
    page_reduction(r, f);
    fputs("<p class=\"meta\">Each key figure as the mean over the point's replications &plusmn; the half width "
          "of its 95% confidence interval; expect: as the share of replications that passed.</p>\n"
          "<div class=\"scroll\"><table>\n<tr><th>point</th>", f);
    for (size_t a = 0; a < d->naxes; a++) {
        fputs("<th>", f);
        results_html_escape(f, d->axes[a].key);
        fputs("</th>", f);
    }
    fputs("<th>replications</th><th>expect</th>", f);
    for (size_t k = 0; k < d->nfigures; k++) {
        char label[300];
        figure_label(label, sizeof(label), d->figures[k]);
        fputs("<th>", f);
        results_html_escape(f, label);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    size_t shown = d->npoints < MAX_ROWS ? d->npoints : MAX_ROWS;
    for (size_t p = 0; p < shown; p++)
        page_row(r, f, p);
    fputs("</table></div>\n", f);
    if (shown < d->npoints)
        fprintf(f, "<p class=\"meta\">%zu more points in <a href=\"points.csv\">points.csv</a>.</p>\n",
                d->npoints - shown);
}

static void page_charts(const report *r, FILE *f)
{
    fputs("<h2>Charts</h2>\n", f);
    if (!r->o->plots)
        fputs("<p>No charts were drawn for this sweep (<code>--no-plots</code>).</p>\n", f);
    else if (r->list.n == 0)
        fputs("<p>No key figure has a value to chart.</p>\n", f);
    results_html_figures(f, &r->list);
    if (r->left_out)
        fprintf(f, "<p class=\"meta\">%zu more charts were not drawn (at most %d per sweep); points.csv has every "
                "figure.</p>\n", r->left_out, RESULTS_PLOT_MAX);
}

static void page_tables(FILE *f)
{
    fputs("<h2>Tables</h2>\n<ul>\n"
          "<li><a href=\"sweep.csv\">sweep.csv</a>: one row per run (point and replication), every figure of its "
          "summary</li>\n"
          "<li><a href=\"points.csv\">points.csv</a>: one row per point, every figure's mean, standard deviation, "
          "95% confidence interval, minimum and maximum</li>\n"
          "<li><a href=\"differences.csv\">differences.csv</a>: each key figure's difference from the point "
          "before, paired by replication and as if independent</li>\n</ul>\n", f);
}

static int page_write(const report *r, FILE *f)
{
    char title[400];
    snprintf(title, sizeof(title), "tempfail sweep: %s", r->o->title ? r->o->title : "");
    results_html_head(f, title);
    page_intro(r, f);
    page_points(r, f);
    page_charts(r, f);
    page_tables(f);
    return results_html_foot(f);
}

static int page_write_cb(FILE *f, void *ctx) { return page_write(ctx, f); }

/* report.html in the sweep directory, whole or not at all. */
static int page_file(const report *r)
{
    return results_dir_write_file(r->o->dir, "report.html", page_write_cb, (void *)r, r->err, r->errlen);
}

int results_sweep_report(const results_sweep *rs, const results_sweep_report_opts *o, char *err, size_t errlen)
{
    report *r = sim_xcalloc(1, sizeof(*r));
    r->rs = rs;
    r->d = results_sweep_get_def(rs);
    r->o = o;
    r->err = err;
    r->errlen = errlen;
    size_t np = r->d->npoints ? r->d->npoints : 1;
    r->idx = sim_xcalloc(r->d->naxes ? r->d->naxes : 1, sizeof(*r->idx));
    r->pts = sim_xcalloc(np, sizeof(*r->pts));
    r->px = sim_xcalloc(2 * np, sizeof(*r->px));
    r->py = sim_xcalloc(2 * np, sizeof(*r->py));
    int e = o->plots ? draw_charts(r) : 0;
    if (!e)
        e = page_file(r);
    free(r->idx);
    free(r->pts);
    free(r->px);
    free(r->py);
    free(r);
    return e;
}
