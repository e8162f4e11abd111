/*
 * tempfail_sweep_finish - a complete sweep directory's tables (results_sweep: sweep.csv, points.csv,
 * differences.csv, each written under a temporary name and renamed into place), its charts and
 * report.html (results_sweep_report), sweep.json marked complete, and the table on stdout.
 */
#include "tempfail/tempfail_sweep.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "results/results_fmt.h"
#include "results/results_sweep_report.h"
#include "sim/sim_mem.h"
#include "tempfail/tempfail.h"

typedef struct finish_ctx {
    const char *dir;
    const uint32_t *nreps;
} finish_ctx;

static uint32_t finish_nreps(void *ctx, size_t p) { return ((finish_ctx *)ctx)->nreps[p]; }

static json_t *finish_summary(void *ctx, size_t p, uint32_t r, char *err, size_t errlen)
{
    finish_ctx *f = ctx;
    char path[PATH_MAX];
    tempfail_sweep_run_dir(path, sizeof(path) - 16, f->dir, p, r);
    strcat(path, "/summary.json");
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        snprintf(err, errlen, "%s: %s", path, je.text);
    return j;
}

/* Opens NAME's temporary file in dir. */
static FILE *finish_open(const char *dir, const char *name, char *tmp, size_t len)
{
    snprintf(tmp, len, "%s/.%s.tmp-%ld", dir, name, (long)getpid());
    return fopen(tmp, "w");
}

static void sweep_print(const results_sweep *rs, const tempfail_sweep_def *d, FILE *out)
{
    const results_sweep_def *def = results_sweep_get_def(rs);
    size_t *idx = sim_xcalloc(d->sw.naxes, sizeof(*idx));
    fprintf(out, "%-6s", "point");
    for (size_t a = 0; a < d->sw.naxes; a++) {
        const char *k = strrchr(d->sw.axes[a].key, '.');
        fprintf(out, "  %-14s", k ? k + 1 : d->sw.axes[a].key);
    }
    fprintf(out, "  %4s  %6s", "reps", "pass");
    size_t nk = def->nfigures < 2 ? def->nfigures : 2;
    for (size_t k = 0; k < nk; k++)
        fprintf(out, "  %-26s", def->figures[k]);
    fputc('\n', out);
    size_t shown = d->npoints < 40 ? d->npoints : 40;
    for (size_t p = 0; p < shown; p++) {
        scenario_sweep_point(d->sw.axes, d->sw.naxes, d->sw.zip, p, idx);
        fprintf(out, "%-6zu", p);
        for (size_t a = 0; a < d->sw.naxes; a++)
            fprintf(out, "  %-14s", d->sw.axes[a].values[idx[a]]);
        const results_sweep_stat *s0 = nk ? results_sweep_key_stat(rs, p, 0) : NULL;
        double pass = results_sweep_pass_fraction(rs, p);
        fprintf(out, "  %4zu  ", s0 ? s0->n : (size_t)0);
        if (isnan(pass))
            fprintf(out, "%6s", "-");
        else
            fprintf(out, "%5.0f%%", 100 * pass);
        for (size_t k = 0; k < nk; k++) {
            const results_sweep_stat *st = results_sweep_key_stat(rs, p, k);
            char m[40], h[40], cell[90];
            results_fmt_sig(m, sizeof(m), st->mean, 4);
            results_fmt_sig(h, sizeof(h), st->ci_half, 3);
            snprintf(cell, sizeof(cell), "%s%s%s", isnan(st->mean) ? "-" : m, isnan(st->ci_half) ? "" : " +- ",
                     isnan(st->ci_half) ? "" : h);
            fprintf(out, "  %-26s", cell);
        }
        fputc('\n', out);
    }
    if (shown < d->npoints)
        fprintf(out, "... and %zu points more (points.csv)\n", d->npoints - shown);
    double red = results_sweep_median_reduction(rs);
    if (!isnan(red) && red < 1.5)
        fprintf(out, "common random numbers: replication r of every point sees the same arrivals, but here the "
                     "differences between points vary about as much as independent runs would make them vary "
                     "(median variance reduction %.3g, differences.csv)\n",
                red);
    else if (!isnan(red))
        fprintf(out,
                "common random numbers: replication r of every point sees the same arrivals, so the differences "
                "between points vary %.3g times less than independent runs would make them vary (median "
                "variance reduction, differences.csv)\n",
                red);
    free(idx);
}

int tempfail_sweep_finish(const tempfail_sweep_def *d, const char *dir, const uint32_t *nreps, bool plots,
                          results_plot_format fmt, bool quiet, results_sweep **out)
{
    static const char *const names[3] = {"sweep.csv", "points.csv", "differences.csv"};
    char tmp[3][PATH_MAX + 64], err[1024];
    FILE *f[3] = {0};
    finish_ctx fc = {.dir = dir, .nreps = nreps};
    results_sweep_def def = {.axes = d->sw.axes, .naxes = d->sw.naxes, .zip = d->sw.zip, .npoints = d->npoints,
                             .figures = (const char *const *)d->figures, .nfigures = d->nfigures,
                             .nreps = finish_nreps, .summary = finish_summary, .ctx = &fc};
    int status = TEMPFAIL_OK;
    for (int i = 0; i < 3; i++)
        if (!(f[i] = finish_open(dir, names[i], tmp[i], sizeof(tmp[i])))) {
            fprintf(stderr, "tempfail sweep: cannot write %s: %s\n", tmp[i], strerror(errno));
            status = TEMPFAIL_IO;
        }
    results_sweep *rs = NULL;
    if (!status && !(rs = results_sweep_write(&def, f[0], f[1], f[2], err, sizeof(err)))) {
        fprintf(stderr, "tempfail sweep: %s\n", err);
        status = TEMPFAIL_IO;
    }
    for (int i = 0; i < 3; i++)
        if (f[i] && results_dir_fclose(f[i]) != 0 && !status) {
            fprintf(stderr, "tempfail sweep: writing %s failed\n", tmp[i]);
            status = TEMPFAIL_IO;
        }
    for (int i = 0; i < 3 && !status; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rename(tmp[i], path) != 0) {
            fprintf(stderr, "tempfail sweep: cannot put %s in place: %s\n", path, strerror(errno));
            status = TEMPFAIL_IO;
        }
    }
    if (status)
        for (int i = 0; i < 3; i++)
            unlink(tmp[i]);
    if (!status) {
        results_sweep_report_opts ro = {.dir = dir, .plots = plots, .fmt = fmt, .title = d->name,
                                        .scenario = d->scenario ? d->scenario : "<built-in default>"};
        if (results_sweep_report(rs, &ro, err, sizeof(err)) != 0) {
            fprintf(stderr, "tempfail sweep: %s%s\n", err, plots ? " (--no-plots skips the charts)" : "");
            status = TEMPFAIL_IO;
        }
    }
    if (!status) {
        json_t *j = json_pack("{s:s, s:o, s:b}", "tempfail", TEMPFAIL_VERSION, "definition",
                              tempfail_sweep_def_json(d), "complete", 1);
        int e = tempfail_sweep_json_write(dir, "sweep.json", j);
        json_decref(j);
        if (e) {
            fprintf(stderr, "tempfail sweep: cannot write %s/sweep.json: %s\n", dir, strerror(-e));
            status = TEMPFAIL_IO;
        }
    }
    if (!status && !quiet) {
        sweep_print(rs, d, stdout);
        printf("sweep directory: %s (sweep.csv, points.csv, differences.csv, report.html)\n", dir);
    }
    if (out && !status)
        *out = rs;
    else
        results_sweep_free(rs);
    return status;
}
