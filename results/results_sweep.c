/*
 * results_sweep - sweep.csv, points.csv and differences.csv from a sweep's summaries
 * (results_sweep.h).
 */
#include "results/results_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_csv.h"
#include "results/results_expect.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"

struct results_sweep {
    results_sweep_def def;
    results_sweep_stat *key;    /* [npoints][nfigures] */
    results_sweep_diff *diff;   /* [npoints][nfigures], row 0 unused */
    double *pass;               /* [npoints] */
};

static void flatten_into(json_t *out, const json_t *v, char *name, size_t len, size_t cap)
{
    if (json_is_object(v)) {
        const char *k;
        const json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            size_t kl = strlen(k), l = len ? len + 1 + kl : kl;
            if (l >= cap)
                continue;
            if (len)
                name[len] = '.';
            memcpy(name + (len ? len + 1 : 0), k, kl + 1);
            flatten_into(out, c, name, l, cap);
            name[len] = '\0';
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *c;
        json_array_foreach(v, i, c) {
            int l = snprintf(name + len, cap - len, "%s%zu", len ? "." : "", i);
            if (l > 0 && len + (size_t)l < cap)
                flatten_into(out, c, name, len + (size_t)l, cap);
            name[len] = '\0';
        }
    } else if (json_is_number(v)) {
        json_object_set_new(out, name, json_real(json_number_value(v)));
    } else if (json_is_boolean(v)) {
        json_object_set_new(out, name, json_real(json_is_true(v) ? 1 : 0));
    } else if (json_is_null(v)) {
        json_object_set_new(out, name, json_null());
    }
}

json_t *results_sweep_flatten(const json_t *summary)
{
    json_t *out = json_object();
    char name[1024] = "";
    flatten_into(out, summary, name, 0, sizeof(name));
    return out;
}

int results_sweep_expect_passed(const json_t *summary)
{
    const json_t *e = json_object_get(summary, "expect");
    if (!json_is_array(e) || json_array_size(e) == 0)
        return -1;
    size_t i;
    const json_t *a;
    json_array_foreach(e, i, a) if (!json_is_true(json_object_get(a, "pass"))) return 0;
    return 1;
}

/* The seed a summary was run with (a number up to 2^53 is exact in JSON). */
static double sweep_seed(const json_t *s)
{
    const json_t *v = json_object_get(s, "seed");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Pass one: the sorted union of every summary's figure names. */
static char **sweep_columns(const results_sweep_def *d, size_t *n, char *err, size_t errlen)
{
    json_t *set = json_object();
    for (size_t p = 0; p < d->npoints; p++) {
        uint32_t nr = d->nreps(d->ctx, p);
        for (uint32_t r = 0; r < nr; r++) {
            json_t *s = d->summary(d->ctx, p, r, err, errlen);
            if (!s) {
                json_decref(set);
                return NULL;
            }
            json_t *flat = results_sweep_flatten(s);
            json_object_del(flat, "seed"); /* columns of their own */
            json_object_del(flat, "replication");
            json_object_update_missing(set, flat);
            json_decref(flat);
            json_decref(s);
        }
    }
    *n = json_object_size(set);
    char **cols = sim_xcalloc(*n ? *n : 1, sizeof(*cols));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(set, k, v) cols[i++] = sim_xstrdup(k);
    qsort(cols, *n, sizeof(*cols), cmp_str);
    json_decref(set);
    return cols;
}

static void point_cells(results_csv *w, const results_sweep_def *d, size_t p, size_t *idx)
{
    results_csv_uint(w, p);
    scenario_sweep_point(d->axes, d->naxes, d->zip, p, idx);
    for (size_t a = 0; a < d->naxes; a++)
        results_csv_str(w, d->axes[a].values[idx[a]]);
}

static void headers(results_csv *sw, results_csv *pt, results_csv *df, const results_sweep_def *d, char **cols,
                    size_t ncols)
{
    results_csv *all[3] = {sw, pt, df};
    for (int f = 0; f < 3; f++) {
        results_csv_str(all[f], "point");
        for (size_t a = 0; a < d->naxes; a++)
            results_csv_str(all[f], d->axes[a].key);
    }
    results_csv_str(sw, "replication");
    results_csv_str(sw, "seed");
    results_csv_str(sw, "expect_pass");
    results_csv_str(pt, "replications");
    results_csv_str(pt, "expect_pass_fraction");
    static const char *const stat[] = {"mean", "sd", "ci95_low", "ci95_high", "min", "max"};
    char name[1100];
    for (size_t c = 0; c < ncols; c++) {
        results_csv_str(sw, cols[c]);
        for (size_t k = 0; k < 6; k++) {
            snprintf(name, sizeof(name), "%s.%s", cols[c], stat[k]);
            results_csv_str(pt, name);
        }
    }
    static const char *const dcols[] = {"figure",           "replications",      "difference",
                                        "ci95_paired",      "ci95_independent", "variance_reduction"};
    for (size_t k = 0; k < 6; k++)
        results_csv_str(df, dcols[k]);
    for (int f = 0; f < 3; f++)
        results_csv_end_row(all[f]);
}

static results_sweep_stat stat_of(const sim_tally *t)
{
    results_sweep_stat s = {.n = t->n, .mean = NAN, .sd = NAN, .ci_half = NAN, .min = NAN, .max = NAN};
    if (t->n) {
        s.mean = t->mean;
        s.min = t->min;
        s.max = t->max;
        s.sd = t->n > 1 ? sqrt(sim_tally_variance(t)) : NAN;
        s.ci_half = sim_tally_ci_halfwidth(t, 0.95);
    }
    return s;
}

/* Point p's key figure against the point before's, replication by replication (x[r], x0[r]; NAN: none). */
static results_sweep_diff diff_of(const double *x, const double *x0, size_t n)
{
    sim_tally d = {0}, a = {0}, b = {0};
    sim_tally_reset(&d);
    sim_tally_reset(&a);
    sim_tally_reset(&b);
    for (size_t r = 0; r < n; r++)
        if (!isnan(x[r]) && !isnan(x0[r])) {
            sim_tally_add(&d, x[r] - x0[r]);
            sim_tally_add(&a, x[r]);
            sim_tally_add(&b, x0[r]);
        }
    results_sweep_diff out = {.n = d.n, .mean = d.n ? d.mean : NAN, .ci_paired = NAN, .ci_independent = NAN,
                              .reduction = NAN};
    if (d.n >= 2) {
        double vind = sim_tally_variance(&a) + sim_tally_variance(&b), vd = sim_tally_variance(&d);
        out.ci_paired = sim_tally_ci_halfwidth(&d, 0.95);
        out.ci_independent = sim_student_t(0.95, 2.0 * (double)d.n - 2) * sqrt(vind / (double)d.n);
        if (vd > 0)
            out.reduction = vind / vd;
    }
    return out;
}

/* The key figures of one summary (NAN where it has none). */
static void key_values(const results_sweep_def *d, const json_t *s, double *out)
{
    for (size_t k = 0; k < d->nfigures; k++)
        if (results_expect_resolve(s, d->figures[k], &out[k]) != 0)
            out[k] = NAN;
}

results_sweep *results_sweep_write(const results_sweep_def *def, FILE *sweep_csv, FILE *points_csv,
                                   FILE *differences_csv, char *err, size_t errlen)
{
    size_t ncols = 0;
    char **cols = sweep_columns(def, &ncols, err, errlen);
    if (!cols)
        return NULL;
    results_sweep *rs = sim_xcalloc(1, sizeof(*rs));
    rs->def = *def;
    size_t nk = def->nfigures, np = def->npoints;
    rs->key = sim_xcalloc(np * (nk ? nk : 1), sizeof(*rs->key));
    rs->diff = sim_xcalloc(np * (nk ? nk : 1), sizeof(*rs->diff));
    rs->pass = sim_xcalloc(np, sizeof(*rs->pass));
    results_csv *sw = results_csv_create(sweep_csv), *pt = results_csv_create(points_csv),
                *df = results_csv_create(differences_csv);
    size_t *idx = sim_xcalloc(def->naxes ? def->naxes : 1, sizeof(*idx));
    sim_tally *tc = sim_xcalloc(ncols ? ncols : 1, sizeof(*tc)), *tk = sim_xcalloc(nk ? nk : 1, sizeof(*tk));
    double *kv = NULL, *kv0 = NULL; /* [rep][nk] of this point and of the one before */
    size_t cap = 0, cap0 = 0, n0 = 0;
    bool ok = true;
    headers(sw, pt, df, def, cols, ncols);
    for (size_t p = 0; p < np && ok; p++) {
        uint32_t nr = def->nreps(def->ctx, p);
        for (size_t c = 0; c < ncols; c++)
            sim_tally_reset(&tc[c]);
        for (size_t k = 0; k < nk; k++)
            sim_tally_reset(&tk[k]);
        if (nr > cap) {
            kv = sim_xreallocarray(kv, (size_t)nr * (nk ? nk : 1), sizeof(*kv));
            cap = nr;
        }
        size_t passed = 0, judged = 0;
        for (uint32_t r = 0; r < nr; r++) {
            json_t *s = def->summary(def->ctx, p, r, err, errlen);
            if (!s) {
                ok = false;
                break;
            }
            json_t *flat = results_sweep_flatten(s);
            int pass = results_sweep_expect_passed(s);
            point_cells(sw, def, p, idx);
            results_csv_uint(sw, r);
            results_csv_double(sw, sweep_seed(s));
            if (pass < 0)
                results_csv_empty(sw);
            else
                results_csv_uint(sw, (uint64_t)pass);
            judged += pass >= 0;
            passed += pass == 1;
            for (size_t c = 0; c < ncols; c++) {
                json_t *v = json_object_get(flat, cols[c]);
                if (json_is_number(v)) {
                    results_csv_double(sw, json_number_value(v));
                    sim_tally_add(&tc[c], json_number_value(v));
                } else {
                    results_csv_empty(sw);
                }
            }
            results_csv_end_row(sw);
            key_values(def, s, &kv[(size_t)r * nk]);
            for (size_t k = 0; k < nk; k++)
                if (!isnan(kv[(size_t)r * nk + k]))
                    sim_tally_add(&tk[k], kv[(size_t)r * nk + k]);
            json_decref(flat);
            json_decref(s);
        }
        if (!ok)
            break;
        rs->pass[p] = judged ? (double)passed / (double)judged : NAN;
        point_cells(pt, def, p, idx);
        results_csv_uint(pt, nr);
        results_csv_double(pt, rs->pass[p]);
        for (size_t c = 0; c < ncols; c++) {
            results_sweep_stat st = stat_of(&tc[c]);
            double v[6] = {st.mean, st.sd, st.mean - st.ci_half, st.mean + st.ci_half, st.min, st.max};
            for (int i = 0; i < 6; i++)
                results_csv_double(pt, v[i]);
        }
        results_csv_end_row(pt);
        for (size_t k = 0; k < nk; k++)
            rs->key[p * nk + k] = stat_of(&tk[k]);
        if (p > 0) {
            size_t n = nr < n0 ? nr : n0;
            double *x = sim_xcalloc(n + 1, sizeof(*x)), *x0 = sim_xcalloc(n + 1, sizeof(*x0));
            for (size_t k = 0; k < nk; k++) {
                for (size_t r = 0; r < n; r++) {
                    x[r] = kv[r * nk + k];
                    x0[r] = kv0[r * nk + k];
                }
                results_sweep_diff d = diff_of(x, x0, n);
                rs->diff[p * nk + k] = d;
                point_cells(df, def, p, idx);
                results_csv_str(df, def->figures[k]);
                results_csv_uint(df, d.n);
                results_csv_double(df, d.mean);
                results_csv_double(df, d.ci_paired);
                results_csv_double(df, d.ci_independent);
                results_csv_double(df, d.reduction);
                results_csv_end_row(df);
            }
            free(x);
            free(x0);
        }
        /* the next point is told apart from this one */
        double *swap = kv0;
        kv0 = kv;
        kv = swap;
        size_t c0 = cap0;
        cap0 = cap;
        cap = c0;
        n0 = nr;
    }
    int werr = results_csv_flush(sw) | results_csv_flush(pt) | results_csv_flush(df);
    if (ok && werr) {
        snprintf(err, errlen, "writing the tables: %s", strerror(errno ? errno : EIO));
        ok = false;
    }
    results_csv_free(sw);
    results_csv_free(pt);
    results_csv_free(df);
    for (size_t c = 0; c < ncols; c++)
        free(cols[c]);
    free(cols);
    free(idx);
    free(tc);
    free(tk);
    free(kv);
    free(kv0);
    if (!ok) {
        results_sweep_free(rs);
        return NULL;
    }
    return rs;
}

void results_sweep_free(results_sweep *rs)
{
    if (!rs)
        return;
    free(rs->key);
    free(rs->diff);
    free(rs->pass);
    free(rs);
}

const results_sweep_def *results_sweep_get_def(const results_sweep *rs) { return &rs->def; }

const results_sweep_stat *results_sweep_key_stat(const results_sweep *rs, size_t p, size_t k)
{
    return &rs->key[p * rs->def.nfigures + k];
}

const results_sweep_diff *results_sweep_key_diff(const results_sweep *rs, size_t p, size_t k)
{
    return &rs->diff[p * rs->def.nfigures + k];
}

double results_sweep_pass_fraction(const results_sweep *rs, size_t p) { return rs->pass[p]; }

bool results_sweep_all_passed(const results_sweep *rs, size_t p) { return rs->pass[p] == 1.0; }

double results_sweep_median_reduction(const results_sweep *rs)
{
    size_t nk = rs->def.nfigures, n = 0;
    double *v = sim_xcalloc(rs->def.npoints * (nk ? nk : 1) + 1, sizeof(*v));
    for (size_t p = 1; p < rs->def.npoints; p++)
        for (size_t k = 0; k < nk; k++)
            if (!isnan(rs->diff[p * nk + k].reduction))
                v[n++] = rs->diff[p * nk + k].reduction;
    double m = NAN;
    if (n) {
        sim_sort_doubles(v, n);
        m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    free(v);
    return m;
}
