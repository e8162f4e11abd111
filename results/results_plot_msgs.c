/*
 * results_plot_msgs - the charts of a run drawn from messages.csv (through results_rundir's
 * histograms): what each message went through, rather than the state of the MTA over time.
 *
 *   latency    the CDF of arrival-to-delivery time per class on a log time axis: a CDF shows the
 *              whole distribution, so the bulk that went out at once and the tail that waited for
 *              retries are both visible; p50/p95/p99 marked with the summary's figures, so the
 *              chart and the report agree
 *   attempts   how many delivery attempts messages took, on a log count scale (most take one; the
 *              tail is the retry storm)
 */
#include "results/results_plot.h"

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <string.h>

int results_plot_latency(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                         char *err, size_t errlen)
{
    enum { MAXC = 8 };
    double lo[MAXC], hi[MAXC];
    size_t used = 0;
    for (size_t k = 0; k < r->nclass && used < MAXC; k++)
        if (r->classes[k].delivered) {
            lo[used] = r->classes[k].lat_min;
            hi[used++] = r->classes[k].lat_max;
        }
    if (used == 0)
        return 0;
    results_plot p;
    int e = results_plot_begin(&p, outdir, "latency", fmt, list, "Delivery latency per class",
                  "Cumulative distribution of arrival-to-delivery time of delivered messages, per traffic class, "
                  "on a log time axis. Circles mark each class's p50, p95 and p99 (dashed lines); the legend "
                  "gives their values.",
                  err, errlen);
    if (e)
        return e;
    double xmin, xmax;
    results_plot_latency_range(lo, hi, used, &xmin, &xmax);
    results_plot_latency_axes(xmin, xmax, "Delivery latency per class");
    static const double qs[3] = {0.5, 0.95, 0.99};
    static const char *const qn[3] = {"p50", "p95", "p99"};
    for (int q = 0; q < 3; q++) {
        double hx[2] = {xmin, xmax}, hy[2] = {qs[q], qs[q]};
        results_plot_line(2, hx, hy, results_plot_color(6), 3, 1);
        /* named at the left end, below the line: the axis starts a decade under the fastest
         * delivery, so no curve runs there */
        plcol0(results_plot_color(6));
        plschr(0, 0.7);
        plptex(xmin + 0.01 * (xmax - xmin), qs[q] - 0.03, 1, 0, 0, qn[q]);
        plschr(0, 0.95);
    }
    results_plot_key keys[4 * MAXC];
    char texts[4 * MAXC][160];
    size_t nk = 0, shown = 0;
    for (size_t k = 0; k < r->nclass && shown < MAXC; k++) {
        const results_rundir_class *cl = &r->classes[k];
        if (!cl->delivered)
            continue;
        int col = results_plot_color(shown++);
        results_plot_cdf(cl, col, 1);
        char d[3][32];
        for (int q = 0; q < 3; q++) {
            /* the summary's figure when it has one, so chart and report agree */
            double v = results_plot_num(json_object_get(r->summary, "classes"), cl->name, "latency", qn[q]);
            if (!isfinite(v))
                v = results_rundir_lat_quantile(cl, qs[q]);
            double px = log10(v > 1e-6 ? v : 1e-6), py = qs[q];
            plcol0(col);
            plpoin(1, &px, &py, 4);
            results_plot_short_dur(d[q], sizeof(d[q]), v);
        }
        snprintf(texts[nk], sizeof(texts[nk]), "%s (%llu)", cl->name, (unsigned long long)cl->delivered);
        keys[nk] = (results_plot_key){texts[nk], col, RESULTS_PLOT_KEY_LINE, 1};
        nk++;
        for (int q = 0; q < 3; q++) {
            snprintf(texts[nk], sizeof(texts[nk]), "%s %s", qn[q], d[q]);
            keys[nk] = (results_plot_key){texts[nk], col, RESULTS_PLOT_KEY_NONE, 1};
            nk++;
        }
    }
    results_plot_legend(keys, nk);
    plslabelfunc(NULL, NULL);
    return results_plot_end(&p, err, errlen);
}

int results_plot_attempts(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                          char *err, size_t errlen)
{
    if (r->nmsg == 0)
        return 0;
    enum { MAXB = RESULTS_RUNDIR_MAX_ATTEMPTS };
    const uint64_t *bins = r->attempts; /* bins[MAXB + 1]: more than MAXB */
    uint32_t maxa = r->attempts_max;
    uint32_t last = maxa > MAXB ? MAXB + 1 : maxa, first = bins[0] ? 0 : 1;
    uint64_t top = 1;
    for (uint32_t a = 0; a <= last; a++)
        top = bins[a] > top ? bins[a] : top;
    results_plot p;
    int e = results_plot_begin(&p, outdir, "attempts", fmt, list, "Attempts per message",
                  "How many delivery attempts each message took (queued messages included), on a log count "
                  "scale: most mail goes out at the first attempt, the tail is the retry storm.",
                  err, errlen);
    if (e)
        return e;
    double ymax = ceil(log10((double)top) + 0.35);
    results_plot_panel(0.12, 0.90);
    results_plot_axes(first - 0.5, last + 0.5, -0.3, ymax, false, true, "delivery attempts", "messages (log scale)",
                      "Attempts per message");
    for (uint32_t a = 0; a <= last; a++) {
        if (!bins[a])
            continue;
        double h = log10((double)bins[a]);
        double bx[4] = {a - 0.4, a + 0.4, a + 0.4, a - 0.4}, by[4] = {-0.3, -0.3, h, h};
        plcol0(results_plot_color(0));
        plfill(4, bx, by);
        if (last <= 30) {
            char t[32];
            snprintf(t, sizeof(t), "%llu", (unsigned long long)bins[a]);
            plcol0(RESULTS_PLOT_BLACK);
            plschr(0, 0.7);
            plptex(a, h + 0.12, 1, 0, 0.5, t);
            plschr(0, 0.95);
        }
    }
    char t[64];
    snprintf(t, sizeof(t), "messages (%llu)", (unsigned long long)r->nmsg);
    results_plot_key k = {t, results_plot_color(0), RESULTS_PLOT_KEY_BOX, 1};
    results_plot_legend(&k, 1);
    return results_plot_end(&p, err, errlen);
}

