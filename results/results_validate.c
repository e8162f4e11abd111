/*
 * results_validate - simulated runs against real replays, figure by figure (results_validate.h).
 */
#include "results/results_validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_compare.h"
#include "results/results_expect.h"
#include "results/results_json.h"

static const struct {
    const char *key, *what;
    bool duration;
    double tolerance;
} figures[RESULTS_VALIDATE_NFIG] = {
    {"421s", "421 replies", false, 0.25},
    {"first_attempt", "first-attempt deferral rate", false, 0.25},
    {"suspended", "dead-destination deferrals", false, NAN},
    {"drain", "drain time", true, 0.20},
    {"p50", "delivery latency p50", true, NAN},
    {"p95", "delivery latency p95", true, NAN},
    {"peak_sessions", "peak sessions at a receiver", false, NAN},
};

void results_validate_init(results_validate *v)
{
    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++) {
        v->fig[i].key = figures[i].key;
        v->fig[i].what = figures[i].what;
        v->fig[i].duration = figures[i].duration;
        v->fig[i].tolerance = figures[i].tolerance;
    }
}

int results_validate_tolerance(results_validate *v, const char *text, char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    size_t klen = eq ? (size_t)(eq - text) : 0;
    for (size_t i = 0; eq && i < RESULTS_VALIDATE_NFIG; i++) {
        if (strlen(v->fig[i].key) != klen || strncmp(v->fig[i].key, text, klen) != 0)
            continue;
        char *end;
        errno = 0;
        double x = strtod(eq + 1, &end);
        bool pct = *end == '%', pp = strncmp(end, "pp", 2) == 0;
        end += pct ? 1 : pp ? 2 : 0;
        if (errno || end == eq + 1 || *end || !(x >= 0) || !isfinite(x)) {
            snprintf(err, errlen, "--tolerance %s: expected a share like 25%% or 0.25, or percentage points like 5pp",
                     text);
            return -EINVAL;
        }
        v->fig[i].tolerance = pct || pp ? x / 100 : x;
        v->fig[i].absolute = pp;
        return 0;
    }
    char keys[256] = "";
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++)
        snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", i ? ", " : "", figures[i].key);
    snprintf(err, errlen, "--tolerance %s: expected FIGURE=SHARE, FIGURE one of %s", text, keys);
    return -EINVAL;
}

/* The sum (or the max) over receivers of receivers.R.<path>. */
static double over_receivers(const json_t *summary, const char *path, bool max)
{
    const json_t *rcv = json_object_get(summary, "receivers");
    const char *name;
    const json_t *r;
    double acc = NAN;
    json_object_foreach((json_t *)rcv, name, r) {
        char metric[512];
        double x;
        snprintf(metric, sizeof(metric), "receivers.%s.%s", name, path);
        if (results_expect_resolve(summary, metric, &x) != 0)
            continue;
        acc = isnan(acc) ? x : max ? fmax(acc, x) : acc + x;
    }
    return acc;
}

double results_validate_value(const json_t *summary, const char *key)
{
    double x;
    if (strcmp(key, "421s") == 0)
        return over_receivers(summary, "replies.421", false);
    if (strcmp(key, "peak_sessions") == 0)
        return over_receivers(summary, "sessions.peak", true);
    if (strcmp(key, "suspended") == 0) {
        const json_t *d = json_object_get(summary, "deferrals");
        if (!json_is_object(d))
            return NAN;
        const json_t *n = json_object_get(d, "suspended");
        return n ? json_number_value(n) : 0;
    }
    const char *metric = strcmp(key, "first_attempt") == 0 ? "messages.first_attempt_deferral_rate"
                         : strcmp(key, "drain") == 0       ? "queue.drained_at"
                         : strcmp(key, "p50") == 0         ? "latency.p50"
                         : strcmp(key, "p95") == 0         ? "latency.p95"
                                                           : NULL;
    if (!metric || results_expect_resolve(summary, metric, &x) != 0)
        return NAN;
    return x;
}

void results_validate_compute(results_validate *v, const json_t *const *sim, size_t nsim, const json_t *const *real,
                              size_t nreal)
{
    v->failed = 0;
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++) {
        results_validate_fig *f = &v->fig[i];
        double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY, rsum = 0, rmn = INFINITY, rmx = -INFINITY;
        f->nsim = f->nreal = 0;
        for (size_t k = 0; k < nsim; k++) {
            double x = results_validate_value(sim[k], f->key);
            if (isnan(x))
                continue;
            f->nsim++;
            sum += x;
            sq += x * x;
            mn = fmin(mn, x);
            mx = fmax(mx, x);
        }
        for (size_t k = 0; k < nreal; k++) {
            double x = results_validate_value(real[k], f->key);
            if (!isnan(x)) {
                f->nreal++;
                rsum += x;
                rmn = fmin(rmn, x);
                rmx = fmax(rmx, x);
            }
        }
        f->sim_mean = f->nsim ? sum / (double)f->nsim : NAN;
        f->sim_sd = f->nsim > 1 ? sqrt(fmax(0, (sq - sum * sum / (double)f->nsim) / (double)(f->nsim - 1))) : NAN;
        f->sim_min = f->nsim ? mn : NAN;
        f->sim_max = f->nsim ? mx : NAN;
        f->real_mean = f->nreal ? rsum / (double)f->nreal : NAN;
        f->real_min = f->nreal ? rmn : NAN;
        f->real_max = f->nreal ? rmx : NAN;
        f->diff = f->nsim && f->nreal && f->sim_mean != 0 ? (f->real_mean - f->sim_mean) / fabs(f->sim_mean) : NAN;
        if (isnan(f->tolerance))
            f->pass = true;
        else if (!f->nsim || !f->nreal)
            f->pass = false;
        else if (f->absolute)
            f->pass = fabs(f->real_mean - f->sim_mean) <= f->tolerance + 1e-12;
        else if (f->sim_mean == 0)
            f->pass = f->real_mean == 0;
        else
            f->pass = fabs(f->diff) <= f->tolerance + 1e-12;
        if (!f->pass)
            v->failed++;
    }
}

static void fmt(char *buf, size_t len, double x, bool duration)
{
    if (isnan(x))
        snprintf(buf, len, "-");
    else if (duration)
        results_compare_fmt(buf, len, x, true, false);
    else if (fabs(x) < 1 && x != 0)
        snprintf(buf, len, "%.3f", x);
    else
        snprintf(buf, len, "%.1f", x);
}

void results_validate_print(FILE *out, const results_validate *v, size_t nsim, size_t nreal)
{
    bool range = nreal > 1;
    fprintf(out, "%-30s %12s %10s %12s %19s %9s %10s  %s\n", "figure", "simulation", "(sd)", "replay",
            range ? "(min-max)" : "", "diff", "tolerance", "");
    fprintf(out, "%-30s %12s %10s %12s\n", "", nsim == 1 ? "1 seed" : "", "", nreal == 1 ? "" : "mean");
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++) {
        const results_validate_fig *f = &v->fig[i];
        char a[32], sd[32], b[32], lo[32], hi[32], r[72] = "", d[32], tol[32];
        fmt(a, sizeof(a), f->sim_mean, f->duration);
        fmt(sd, sizeof(sd), f->sim_sd, f->duration);
        fmt(b, sizeof(b), f->real_mean, f->duration);
        if (range && f->nreal) {
            fmt(lo, sizeof(lo), f->real_min, f->duration);
            fmt(hi, sizeof(hi), f->real_max, f->duration);
            snprintf(r, sizeof(r), "%s-%s", lo, hi);
        }
        if (f->absolute && f->nsim && f->nreal)
            snprintf(d, sizeof(d), "%+.1fpp", 100 * (f->real_mean - f->sim_mean));
        else if (isnan(f->diff))
            snprintf(d, sizeof(d), f->nsim && f->nreal && f->sim_mean == 0 ? (f->real_mean == 0 ? "0%%" : "new") : "-");
        else
            snprintf(d, sizeof(d), "%+.1f%%", 100 * f->diff);
        if (isnan(f->tolerance))
            snprintf(tol, sizeof(tol), "-");
        else
            snprintf(tol, sizeof(tol), f->absolute ? "±%.0fpp" : "±%.0f%%", 100 * f->tolerance);
        fprintf(out, "%-30s %12s %10s %12s %19s %9s %10s  %s\n", f->what, a, sd, b, r, d, tol,
                isnan(f->tolerance) ? "" : f->pass ? "ok" : "OUTSIDE");
    }
    fprintf(out, "%zu simulated run%s, %zu replay%s: %zu figure%s outside %s tolerance\n", nsim, nsim == 1 ? "" : "s",
            nreal, nreal == 1 ? "" : "s", v->failed, v->failed == 1 ? "" : "s", v->failed == 1 ? "its" : "their");
}

json_t *results_validate_json(const results_validate *v)
{
    json_t *o = json_object();
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++) {
        const results_validate_fig *f = &v->fig[i];
        json_t *x = json_object();
        json_object_set_new(x, "simulation_mean", isnan(f->sim_mean) ? json_null() : results_json_real(f->sim_mean));
        json_object_set_new(x, "simulation_sd", isnan(f->sim_sd) ? json_null() : results_json_real(f->sim_sd));
        json_object_set_new(x, "simulation_min", isnan(f->sim_min) ? json_null() : results_json_real(f->sim_min));
        json_object_set_new(x, "simulation_max", isnan(f->sim_max) ? json_null() : results_json_real(f->sim_max));
        json_object_set_new(x, "replay_mean", isnan(f->real_mean) ? json_null() : results_json_real(f->real_mean));
        json_object_set_new(x, "replay_min", isnan(f->real_min) ? json_null() : results_json_real(f->real_min));
        json_object_set_new(x, "replay_max", isnan(f->real_max) ? json_null() : results_json_real(f->real_max));
        json_object_set_new(x, "difference", isnan(f->diff) ? json_null() : results_json_real(f->diff));
        json_object_set_new(x, "tolerance", isnan(f->tolerance) ? json_null() : results_json_real(f->tolerance));
        json_object_set_new(x, "tolerance_absolute", json_boolean(f->absolute));
        json_object_set_new(x, "pass", json_boolean(f->pass));
        json_object_set_new(o, f->key, x);
    }
    json_object_set_new(o, "failed", json_integer((json_int_t)v->failed));
    return o;
}
