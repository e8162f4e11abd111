/*
 * results_plot_run - the charts of one run, each answering one question an operator asks:
 *
 *   queue        is mail piling up, and in which queue (incoming, active, deferred)?
 *   sessions-R   how many sessions did we hold open at receiver R, busy or idle in the connection
 *                cache, against the cap it enforces? (idle cached sessions count against caps that
 *                count idle connections: the usual cause of 421 storms.) None for a receiver the
 *                MTA never connected to.
 *   replies      what did receivers answer, interval by interval: deliveries above, 421 / other
 *                4xx / 5xx below, on their own scale so that a few refusals are not flattened
 *   window       the scheduler's concurrency window per destination: the sawtooth of Postfix's
 *                +1 per delivery / -1 per failure, and the bands where the destination was dead
 *   latency      (results_plot_msgs.c) the CDF of arrival-to-delivery time per class
 *   oldest       the age of the oldest message still queued: how late the next delivery may be
 *   attempts     (results_plot_msgs.c) how many delivery attempts messages took
 *   resources    CPU and disk utilisation, when the scenario models them
 *
 * The charts of this file are time series, from timeseries.csv (and the caps in summary.json).
 */
#include "results/results_plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_fmt.h"
#include "sim/sim_time.h"

typedef struct ctx {
    const results_rundir *r;
    const char *outdir;
    results_plot_format fmt;
    results_plot_list *list;
    char *err;
    size_t errlen;
    double *x, *y, *y2;   /* nrow each: time in `unit`, scratch */
    double unit, xmax;
    const char *unit_name;
    char xlabel[64];
} ctx;

static double col_max(const ctx *c, int col)
{
    double m = 0;
    for (size_t i = 0; i < c->r->nrow; i++) {
        double v = results_rundir_value(c->r, i, col);
        if (isfinite(v) && v > m)
            m = v;
    }
    return m;
}

/* y[i] = column value / div, NaN kept (a gap) */
static void col_series(const ctx *c, int col, double div, double *y)
{
    for (size_t i = 0; i < c->r->nrow; i++)
        y[i] = results_rundir_value(c->r, i, col) / div;
}

static int begin(ctx *c, results_plot *p, const char *base, const char *title, const char *caption)
{
    return results_plot_begin(p, c->outdir, base, c->fmt, c->list, title, caption, c->err, c->errlen);
}

/* One line of a line chart: column col divided by div, in palette colour `colour`, named in the legend. */
typedef struct series {
    int col;
    double div;
    const char *name;
    size_t colour;
} series;

/* A chart of lines over time, one per series (at most 8), on a value axis from 0 to ymax. */
static int chart_lines(ctx *c, const char *base, const char *title, const char *caption, const char *ylabel,
                       double ymax, const series *s, size_t n)
{
    results_plot p;
    int e = begin(c, &p, base, title, caption);
    if (e)
        return e;
    results_plot_panel(0.12, 0.90);
    results_plot_axes(0, c->xmax, 0, ymax, false, false, c->xlabel, ylabel, title);
    results_plot_key keys[8];
    n = n < 8 ? n : 8;
    for (size_t k = 0; k < n; k++) {
        col_series(c, s[k].col, s[k].div, c->y);
        results_plot_line(c->r->nrow, c->x, c->y, results_plot_color(s[k].colour), 1, 2);
        keys[k] = (results_plot_key){s[k].name, results_plot_color(s[k].colour), RESULTS_PLOT_KEY_LINE, 1};
    }
    results_plot_legend(keys, n);
    return results_plot_end(&p, c->err, c->errlen);
}

static int chart_queue(ctx *c)
{
    static const char *const cols[] = {"queue.incoming", "queue.active", "queue.deferred"};
    static const char *const names[] = {"incoming", "active", "deferred"};
    static const size_t colour[] = {5, 0, 1};
    series s[3];
    double m = 0;
    for (int k = 0; k < 3; k++) {
        s[k] = (series){results_rundir_column(c->r, cols[k]), 1, names[k], colour[k]};
        double v = col_max(c, s[k].col);
        m = v > m ? v : m;
    }
    return chart_lines(c, "queue", "Queue over time",
                       "Messages in the MTA's incoming, active and deferred queues at each sample. A deferred "
                       "queue that climbs between queue runs is a retry storm building up.",
                       "messages", results_plot_nice_max(m), s, 3);
}

/* Fills the area between lo[] and hi[] (n points over x) as one polygon. */
static void fill_between(size_t n, const double *x, const double *lo, const double *hi, int color)
{
    if (n < 2)
        return;
    double *px = malloc(2 * n * sizeof(double)), *py = malloc(2 * n * sizeof(double));
    if (px && py) {
        for (size_t i = 0; i < n; i++) {
            px[i] = x[i];
            py[i] = hi[i];
            px[2 * n - 1 - i] = x[i];
            py[2 * n - 1 - i] = lo[i];
        }
        plcol0(color);
        plfill((PLINT)(2 * n), px, py);
    }
    free(px);
    free(py);
}

static int chart_sessions(ctx *c, const char *rcv, const json_t *rsum)
{
    char col[512];
    snprintf(col, sizeof(col), "%s.sessions.busy", rcv);
    int cb = results_rundir_column(c->r, col);
    snprintf(col, sizeof(col), "%s.sessions.idle", rcv);
    int ci = results_rundir_column(c->r, col);
    if (cb < 0 && ci < 0)
        return 0;
    size_t n = c->r->nrow;
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double b = results_rundir_value(c->r, i, cb), d = results_rundir_value(c->r, i, ci);
        c->y[i] = isfinite(b) ? b : 0;
        c->y2[i] = c->y[i] + (isfinite(d) ? d : 0);
        m = c->y2[i] > m ? c->y2[i] : m;
    }
    /* a receiver the MTA never connected to (the implicit default, often) has nothing to show */
    if (m == 0 && results_plot_num(rsum, "connections", NULL, NULL) == 0)
        return 0;
    double cap = results_plot_num(rsum, "sessions", "cap", NULL);
    if (isfinite(cap) && cap > m)
        m = cap;
    char base[300], title[300], caption[400];
    char safe[256];
    results_plot_safe_name(safe, sizeof(safe), rcv);
    snprintf(base, sizeof(base), "sessions-%s", safe);
    snprintf(title, sizeof(title), "Open sessions at %s", rcv);
    if (isfinite(cap))
        snprintf(caption, sizeof(caption),
                 "Sessions the MTA held open at receiver %s: busy (a transaction in progress) and idle in "
                 "the connection cache, stacked, against the receiver's cap of %g concurrent connections.",
                 rcv, cap);
    else
        snprintf(caption, sizeof(caption),
                 "Sessions the MTA held open at receiver %s: busy and idle in the connection cache, stacked "
                 "(the receiver enforces no concurrency cap).", rcv);
    results_plot p;
    int e = begin(c, &p, base, title, caption);
    if (e)
        return e;
    results_plot_panel(0.12, 0.90);
    results_plot_axes(0, c->xmax, 0, results_plot_nice_max(m + 0.5), false, false, c->xlabel, "open sessions", title);
    double *zero = calloc(n ? n : 1, sizeof(double));
    if (zero) {
        fill_between(n, c->x, zero, c->y, results_plot_color(0));
        fill_between(n, c->x, c->y, c->y2, results_plot_color(5));
    }
    /* the outlines too: a session open for one sample is thinner than a pixel as an area */
    results_plot_line(n, c->x, c->y2, results_plot_color(5), 1, 1);
    results_plot_line(n, c->x, c->y, results_plot_color(0), 1, 1);
    free(zero);
    results_plot_key keys[3] = {{"busy", results_plot_color(0), RESULTS_PLOT_KEY_BOX, 1},
                                {"idle (cached)", results_plot_color(5), RESULTS_PLOT_KEY_BOX, 1}};
    size_t nk = 2;
    char captext[64];
    if (isfinite(cap)) {
        double cx[2] = {0, c->xmax}, cy[2] = {cap, cap};
        results_plot_line(2, cx, cy, RESULTS_PLOT_RED, 2, 2.5);
        snprintf(captext, sizeof(captext), "cap (%g)", cap);
        keys[nk++] = (results_plot_key){captext, RESULTS_PLOT_RED, RESULTS_PLOT_KEY_LINE, 2};
    }
    results_plot_legend(keys, nk);
    return results_plot_end(&p, c->err, c->errlen);
}

/* Sum over receivers of column "<R>.<suffix>" into y. */
static void sum_receivers(ctx *c, const json_t *rcvs, const char *suffix, double *y)
{
    size_t n = c->r->nrow;
    for (size_t i = 0; i < n; i++)
        y[i] = 0;
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)rcvs, name, v)
    {
        char col[512];
        snprintf(col, sizeof(col), "%s.%s", name, suffix);
        int ci = results_rundir_column(c->r, col);
        for (size_t i = 0; ci >= 0 && i < n; i++) {
            double d = results_rundir_value(c->r, i, ci);
            if (isfinite(d))
                y[i] += d;
        }
    }
}

static int chart_replies(ctx *c)
{
    const json_t *rcvs = json_object_get(c->r->summary, "receivers");
    size_t n = c->r->nrow;
    char interval[64] = "interval";
    if (n >= 2) {
        char d[48];
        sim_time_format(d, sizeof(d), sim_time_from_sec(c->r->time[1] - c->r->time[0]));
        snprintf(interval, sizeof(interval), "%s", d);
    }
    results_plot p;
    int e = begin(c, &p, "replies", "Replies per interval",
                  "Above: recipients delivered in each sampling interval. Below: receivers' refusals in the "
                  "same intervals: 421 (too many connections, service closing), other 4xx, and 5xx.");
    if (e)
        return e;
    char ylab[128];
    int cd = results_rundir_column(c->r, "delivered");
    col_series(c, cd, 1, c->y);
    snprintf(ylab, sizeof(ylab), "delivered / %s", interval);
    results_plot_panel(0.58, 0.90);
    plcol0(RESULTS_PLOT_BLACK);
    results_plot_axes(0, c->xmax, 0, results_plot_nice_max(col_max(c, cd)), false, false, "", ylab,
                      "Replies per interval");
    results_plot_line(n, c->x, c->y, results_plot_color(2), 1, 1.5);
    results_plot_key k1 = {"delivered", results_plot_color(2), RESULTS_PLOT_KEY_LINE, 1};
    results_plot_legend(&k1, 1);

    static const char *const suffix[] = {"replies.421", "replies.4xx", "replies.5xx"};
    static const char *const names[] = {"421", "other 4xx", "5xx"};
    static const size_t colour[] = {1, 3, 4};
    double *ys[3];
    double m = 0;
    bool ok = true;
    for (int k = 0; k < 3; k++) {
        ys[k] = malloc((n ? n : 1) * sizeof(double));
        ok = ok && ys[k];
        if (ys[k]) {
            sum_receivers(c, rcvs, suffix[k], ys[k]);
            for (size_t i = 0; i < n; i++)
                m = ys[k][i] > m ? ys[k][i] : m;
        }
    }
    snprintf(ylab, sizeof(ylab), "replies / %s", interval);
    results_plot_panel(0.12, 0.48);
    results_plot_axes(0, c->xmax, 0, results_plot_nice_max(m), false, false, c->xlabel, ylab, "");
    results_plot_key keys[3];
    for (int k = 0; k < 3; k++) {
        if (ys[k])
            results_plot_line(n, c->x, ys[k], results_plot_color(colour[k]), 1, 1.5);
        keys[k] = (results_plot_key){names[k], results_plot_color(colour[k]), RESULTS_PLOT_KEY_LINE, 1};
        free(ys[k]);
    }
    results_plot_legend(keys, 3);
    e = results_plot_end(&p, c->err, c->errlen);
    return e ? e : ok ? 0 : -ENOMEM;
}

static int chart_window(ctx *c)
{
    size_t n = c->r->nrow;
    int cols[24];
    size_t nd = 0;
    for (size_t i = 0; i < c->r->ncol && nd < 24; i++)
        if (strncmp(c->r->col[i], "window.", 7) == 0)
            cols[nd++] = (int)i;
    if (nd == 0)
        return 0;
    double m = 0;
    for (size_t k = 0; k < nd; k++) {
        double v = col_max(c, cols[k]);
        m = v > m ? v : m;
    }
    results_plot p;
    int e = begin(c, &p, "window", "Concurrency window per destination",
                  "The scheduler's concurrency window for each destination: it grows by one per delivery "
                  "and shrinks by one per failed session (Postfix's sawtooth). Shaded bands: the destination "
                  "was declared dead (window 0) and its mail deferred without a connection.");
    if (e)
        return e;
    double ymax = results_plot_nice_max(m);
    results_plot_panel(0.12, 0.90);
    results_plot_axes(0, c->xmax, 0, ymax, false, false, c->xlabel, "window (concurrent sessions)",
                      "Concurrency window per destination");
    results_plot_key keys[48];
    char texts[48][200];
    size_t nk = 0;
    /* dead bands first, under the lines */
    bool dead_any[24] = {false};
    for (size_t k = 0; k < nd; k++) {
        int fc = results_plot_fill_color(k, 0.18);
        for (size_t i = 0; i < n; i++) {
            double v = results_rundir_value(c->r, i, cols[k]);
            if (!(v == 0))
                continue;
            size_t j = i;
            while (j + 1 < n && results_rundir_value(c->r, j + 1, cols[k]) == 0)
                j++;
            double x0 = c->x[i], x1 = j + 1 < n ? c->x[j + 1] : c->x[j];
            if (x1 <= x0)
                x1 = x0 + c->xmax / 500;
            double bx[4] = {x0, x1, x1, x0}, by[4] = {0, 0, ymax, ymax};
            plcol0(fc);
            plfill(4, bx, by);
            dead_any[k] = true;
            i = j;
        }
    }
    for (size_t k = 0; k < nd; k++) {
        col_series(c, cols[k], 1, c->y);
        int style = (k / 8) % 2 ? 2 : 1; /* past eight destinations the colours repeat, dashed */
        results_plot_line(n, c->x, c->y, results_plot_color(k), style, 1.8);
        snprintf(texts[nk], sizeof(texts[nk]), "%s", c->r->col[cols[k]] + 7);
        keys[nk] = (results_plot_key){texts[nk], results_plot_color(k), RESULTS_PLOT_KEY_LINE, style};
        nk++;
        if (dead_any[k]) {
            snprintf(texts[nk], sizeof(texts[nk]), "dead (window 0)");
            keys[nk] = (results_plot_key){texts[nk], results_plot_fill_color(k, 0.18), RESULTS_PLOT_KEY_BOX, 1};
            nk++;
        }
    }
    results_plot_legend(keys, nk);
    return results_plot_end(&p, c->err, c->errlen);
}

static int chart_oldest(ctx *c)
{
    int co = results_rundir_column(c->r, "queue.oldest");
    if (co < 0)
        return 0;
    const char *un;
    double u = results_plot_time_unit(col_max(c, co), 2, &un);
    char ylab[64];
    snprintf(ylab, sizeof(ylab), "age of the oldest message (%s)", un);
    series s = {co, u, "oldest message", 1};
    return chart_lines(c, "oldest", "Oldest queued message",
                       "Age of the oldest message still in the MTA at each sample: how late the next delivery can "
                       "be. It grows by the backoff time at each deferral and falls when a backlog drains.",
                       ylab, results_plot_nice_max(col_max(c, co) / u), &s, 1);
}

static int chart_resources(ctx *c)
{
    int cc = results_rundir_column(c->r, "cpu.utilisation"), cd = results_rundir_column(c->r, "disk.utilisation");
    bool any[2] = {false, false};
    for (size_t i = 0; i < c->r->nrow; i++) {
        any[0] = any[0] || isfinite(results_rundir_value(c->r, i, cc));
        any[1] = any[1] || isfinite(results_rundir_value(c->r, i, cd));
    }
    if (!any[0] && !any[1])
        return 0;
    series s[2];
    size_t n = 0;
    if (any[0])
        s[n++] = (series){cc, 0.01, "CPU", 0};
    if (any[1])
        s[n++] = (series){cd, 0.01, "disk", 3};
    return chart_lines(c, "resources", "CPU and disk utilisation",
                       "Share of the modelled CPU cores and disks that was busy over each sampling interval "
                       "(averaged over hosts). Near 100% the MTA itself is the bottleneck, not the receivers.",
                       "utilisation (%)", 105, s, n);
}

int results_plot_run(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                     char *err, size_t errlen)
{
    list->n = 0;
    ctx c = {.r = r, .outdir = outdir, .fmt = fmt, .list = list, .err = err, .errlen = errlen};
    size_t n = r->nrow ? r->nrow : 1;
    c.x = malloc(n * sizeof(double));
    c.y = malloc(n * sizeof(double));
    c.y2 = malloc(n * sizeof(double));
    int e = 0;
    if (!c.x || !c.y || !c.y2) {
        snprintf(err, errlen, "out of memory");
        e = -ENOMEM;
        goto out;
    }
    double span = r->nrow ? r->time[r->nrow - 1] : 1;
    c.unit = results_plot_time_unit(span, 3, &c.unit_name);
    c.xmax = span / c.unit;
    snprintf(c.xlabel, sizeof(c.xlabel), "simulated time (%s)", c.unit_name);
    for (size_t i = 0; i < r->nrow; i++)
        c.x[i] = r->time[i] / c.unit;

    if ((e = chart_queue(&c)))
        goto out;
    const char *name;
    const json_t *rs;
    json_object_foreach(json_object_get(r->summary, "receivers"), name, rs)
    {
        if ((e = chart_sessions(&c, name, rs)))
            goto out;
    }
    if ((e = chart_replies(&c)) || (e = chart_window(&c)) ||
        (e = results_plot_latency(r, outdir, fmt, list, err, errlen)) || (e = chart_oldest(&c)) ||
        (e = results_plot_attempts(r, outdir, fmt, list, err, errlen)) || (e = chart_resources(&c)))
        goto out;
out:
    free(c.x);
    free(c.y);
    free(c.y2);
    return e;
}
