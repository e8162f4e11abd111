/*
 * results_plot_compare - overlays of two runs: A solid, B dashed, one colour per series, so that
 * "what changed" is read by comparing a line with its dashed twin.
 *
 *   queue        messages in the MTA (all queues together), A and B
 *   sessions-R   open sessions (busy + idle) at each receiver of either run, with the caps
 *   latency      the CDF of delivery latency per class, log time axis
 *
 * The time axis spans the longer of the two runs, so a run that drained later is visibly longer.
 */
#include "results/results_plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cctx {
    const results_rundir *run[2];
    const char *outdir;
    results_plot_format fmt;
    results_plot_list *list;
    char *err;
    size_t errlen;
    double unit, xmax;
    char xlabel[64];
    double *x[2], *y;
} cctx;

static const char *const run_name[2] = {"A", "B"};

/* y[i] = sum of the named columns at row i (missing cells count 0) */
static double sum_cols(const results_rundir *r, const char *const *cols, size_t ncols, double *y)
{
    int ci[8];
    for (size_t k = 0; k < ncols && k < 8; k++)
        ci[k] = results_rundir_column(r, cols[k]);
    double m = 0;
    for (size_t i = 0; i < r->nrow; i++) {
        double s = 0;
        for (size_t k = 0; k < ncols && k < 8; k++) {
            double v = results_rundir_value(r, i, ci[k]);
            s += isfinite(v) ? v : 0;
        }
        y[i] = s;
        m = s > m ? s : m;
    }
    return m;
}

/* The largest sum of cols at a row of either run. */
static double overlay_max(cctx *c, const char *const *cols, size_t ncols)
{
    double m = 0;
    for (int k = 0; k < 2; k++) {
        double v = sum_cols(c->run[k], cols, ncols, c->y);
        m = v > m ? v : m;
    }
    return m;
}

/* The sum of cols over time as two lines, run A solid and run B dashed, and their legend entries
 * "A <what>", "B <what>" in keys[0..1] (texts[0..1] holds their text). */
static void overlay_lines(cctx *c, const char *const *cols, size_t ncols, double width, const char *what,
                          results_plot_key *keys, char (*texts)[64])
{
    for (int k = 0; k < 2; k++) {
        const results_rundir *r = c->run[k];
        sum_cols(r, cols, ncols, c->y);
        results_plot_line(r->nrow, c->x[k], c->y, results_plot_color(k ? 3 : 0), k + 1, width);
        snprintf(texts[k], sizeof(texts[k]), "%s %s", run_name[k], what);
        keys[k] = (results_plot_key){texts[k], results_plot_color(k ? 3 : 0), RESULTS_PLOT_KEY_LINE, k + 1};
    }
}

static int chart_queue(cctx *c)
{
    static const char *const all[] = {"queue.incoming", "queue.active", "queue.deferred"};
    double m = overlay_max(c, all, 3);
    results_plot p;
    int e = results_plot_begin(&p, c->outdir, "queue", c->fmt, c->list, "Queue, A and B",
                               "Messages in the MTA (incoming, active and deferred queues together); run A solid, "
                               "run B dashed.",
                               c->err, c->errlen);
    if (e)
        return e;
    results_plot_panel(0.12, 0.90);
    results_plot_axes(0, c->xmax, 0, results_plot_nice_max(m), false, false, c->xlabel, "messages in queue",
                      "Queue, A and B");
    results_plot_key keys[2];
    char texts[2][64];
    overlay_lines(c, all, 3, 2, "in queue", keys, texts);
    results_plot_legend(keys, 2);
    return results_plot_end(&p, c->err, c->errlen);
}

static int chart_sessions(cctx *c, const char *rcv)
{
    char busy[512], idle[512];
    snprintf(busy, sizeof(busy), "%s.sessions.busy", rcv);
    snprintf(idle, sizeof(idle), "%s.sessions.idle", rcv);
    const char *cols[2] = {busy, idle};
    double m = overlay_max(c, cols, 2), cap[2];
    for (int k = 0; k < 2; k++) {
        cap[k] = results_plot_num(json_object_get(c->run[k]->summary, "receivers"), rcv, "sessions", "cap");
        if (isfinite(cap[k]) && cap[k] > m)
            m = cap[k];
    }
    if (m == 0 && !isfinite(cap[0]) && !isfinite(cap[1]))
        return 0; /* neither run connected to it: nothing to compare */
    char safe[256], base[300], title[300];
    results_plot_safe_name(safe, sizeof(safe), rcv);
    snprintf(base, sizeof(base), "sessions-%s", safe);
    snprintf(title, sizeof(title), "Open sessions at %s, A and B", rcv);
    results_plot p;
    int e = results_plot_begin(&p, c->outdir, base, c->fmt, c->list, title,
                               "Sessions open at the receiver (busy and idle cached together); run A solid, run B "
                               "dashed; the receiver's cap in red.",
                               c->err, c->errlen);
    if (e)
        return e;
    results_plot_panel(0.12, 0.90);
    results_plot_axes(0, c->xmax, 0, results_plot_nice_max(m + 0.5), false, false, c->xlabel, "open sessions", title);
    results_plot_key keys[4];
    char texts[4][64];
    overlay_lines(c, cols, 2, 1.6, "sessions", keys, texts);
    size_t nk = 2;
    for (int k = 0; k < 2; k++) {
        if (!isfinite(cap[k]) || (k == 1 && cap[1] == cap[0]))
            continue;
        double cx[2] = {0, c->xmax}, cy[2] = {cap[k], cap[k]};
        results_plot_line(2, cx, cy, RESULTS_PLOT_RED, k + 1, 2.5);
        if (!(k == 0 && cap[1] == cap[0]))
            snprintf(texts[nk], sizeof(texts[0]), "%s cap (%g)", run_name[k], cap[k]);
        else
            snprintf(texts[nk], sizeof(texts[0]), "cap (%g)", cap[k]);
        keys[nk] = (results_plot_key){texts[nk], RESULTS_PLOT_RED, RESULTS_PLOT_KEY_LINE, k + 1};
        nk++;
    }
    results_plot_legend(keys, nk);
    return results_plot_end(&p, c->err, c->errlen);
}

static int chart_latency(cctx *c)
{
    /* classes of A, then those only B has */
    enum { MAXC = 8 };
    const char *names[MAXC];
    size_t ncl = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < c->run[k]->nclass && ncl < MAXC; i++) {
            bool seen = false;
            for (size_t j = 0; j < ncl && !seen; j++)
                seen = strcmp(names[j], c->run[k]->classes[i].name) == 0;
            if (!seen)
                names[ncl++] = c->run[k]->classes[i].name;
        }
    const results_rundir_class *cl[2][MAXC];
    double lo[2 * MAXC], hi[2 * MAXC];
    size_t used = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < ncl; i++) {
            cl[k][i] = results_rundir_class_find(c->run[k], names[i]);
            if (cl[k][i] && cl[k][i]->delivered) {
                lo[used] = cl[k][i]->lat_min;
                hi[used++] = cl[k][i]->lat_max;
            }
        }
    if (used == 0)
        return 0;
    results_plot p;
    int e = results_plot_begin(&p, c->outdir, "latency", c->fmt, c->list, "Delivery latency per class, A and B",
                               "Cumulative distribution of arrival-to-delivery time per class on a log time axis; "
                               "run A solid, run B dashed. A curve further right is slower.",
                               c->err, c->errlen);
    if (e)
        return e;
    double xmin, xmax;
    results_plot_latency_range(lo, hi, used, &xmin, &xmax);
    results_plot_latency_axes(xmin, xmax, "Delivery latency per class, A and B");
    results_plot_key keys[2 * MAXC];
    char texts[2 * MAXC][160];
    size_t nk = 0;
    for (size_t i = 0; i < ncl; i++)
        for (int k = 0; k < 2; k++) {
            if (!cl[k][i] || !cl[k][i]->delivered)
                continue;
            results_plot_cdf(cl[k][i], results_plot_color(i), k + 1);
            snprintf(texts[nk], sizeof(texts[0]), "%s %s", run_name[k], names[i]);
            keys[nk] = (results_plot_key){texts[nk], results_plot_color(i), RESULTS_PLOT_KEY_LINE, k + 1};
            nk++;
        }
    results_plot_legend(keys, nk);
    plslabelfunc(NULL, NULL);
    return results_plot_end(&p, c->err, c->errlen);
}

int results_plot_compare(const results_rundir *a, const results_rundir *b, const char *outdir,
                         results_plot_format fmt, results_plot_list *list, char *err, size_t errlen)
{
    list->n = 0;
    cctx c = {.run = {a, b}, .outdir = outdir, .fmt = fmt, .list = list, .err = err, .errlen = errlen};
    size_t n = a->nrow > b->nrow ? a->nrow : b->nrow;
    c.x[0] = malloc((a->nrow ? a->nrow : 1) * sizeof(double));
    c.x[1] = malloc((b->nrow ? b->nrow : 1) * sizeof(double));
    c.y = malloc((n ? n : 1) * sizeof(double));
    int e = 0;
    if (!c.x[0] || !c.x[1] || !c.y) {
        snprintf(err, errlen, "out of memory");
        e = -ENOMEM;
        goto out;
    }
    double span = 1;
    for (int k = 0; k < 2; k++)
        if (c.run[k]->nrow && c.run[k]->time[c.run[k]->nrow - 1] > span)
            span = c.run[k]->time[c.run[k]->nrow - 1];
    const char *un;
    c.unit = results_plot_time_unit(span, 3, &un);
    c.xmax = span / c.unit;
    snprintf(c.xlabel, sizeof(c.xlabel), "simulated time (%s)", un);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < c.run[k]->nrow; i++)
            c.x[k][i] = c.run[k]->time[i] / c.unit;
    if ((e = chart_queue(&c)))
        goto out;
    /* receivers of A, then those only B has */
    const char *name;
    const json_t *v;
    json_object_foreach(json_object_get(a->summary, "receivers"), name, v)
    {
        if ((e = chart_sessions(&c, name)))
            goto out;
    }
    json_object_foreach(json_object_get(b->summary, "receivers"), name, v)
    {
        if (json_object_get(json_object_get(a->summary, "receivers"), name))
            continue;
        if ((e = chart_sessions(&c, name)))
            goto out;
    }
    e = chart_latency(&c);
out:
    free(c.x[0]);
    free(c.x[1]);
    free(c.y);
    return e;
}
