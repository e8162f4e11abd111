/*
 * tempfail_tune - `tempfail tune SCENARIO --vary ...`: a sweep whose answer is a configuration.
 *
 * Among the points whose expect: passes in every replication, or whose 95% interval lies inside
 * every bound, the one with the lowest mean of the figure to minimise (--minimize; default the first
 * latency of expect:, else its first metric) wins; ties go to the earlier point. tune prints the
 * winner with its interval and its tightest margin to a bound, the runner-up and how far behind it
 * is (paired by replication, so the difference is precise), the lines to paste into main.cf,
 * master.cf and the transport map (harness_postfix_conf's paste mode, the same generator the replay
 * runs Postfix with), and a paragraph that says from the runs' figures why the winner wins.
 *
 * A grid of more than 64 points is searched coarse first: every axis with many values is thinned to
 * a few evenly spaced ones, that sweep runs, and then a second sweep covers every value between the
 * best coarse point's neighbours on each axis. Both are complete sweep directories (DIR/coarse and
 * DIR/fine); the recommendation comes from the second.
 */
#include "tempfail/tempfail_sweep.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/harness_postfix_conf.h"
#include "harness/harness_text.h"
#include "results/results_expect.h"
#include "results/results_fmt.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"
#include "tempfail/tempfail.h"

#define TUNE_COARSE_POINTS 64

static const char tune_usage[] =
    "Usage: tempfail tune [SCENARIO.yaml] --vary KEY=VALUES [--vary ...] [--minimize FIG] [options]\n"
    "\n"
    "A sweep (`tempfail sweep --help`: the same options) that recommends a configuration: among the\n"
    "points whose expect: passes in every replication (or whose 95% interval lies inside every\n"
    "bound), the one with the lowest mean of FIG. Prints the winner with its confidence interval and\n"
    "margin, the runner-up, the main.cf, master.cf and transport_maps lines to paste (also written to\n"
    "DIR/main.cf, DIR/master.cf and DIR/transport), and why the winner wins, in plain words.\n"
    "A grid of more than 64 points is searched coarse first (DIR/coarse), then finely around the best\n"
    "point (DIR/fine).\n"
    "\n"
    "Options beyond sweep's:\n"
    "      --minimize FIG        the figure to minimise (an expect: name; default: the first latency\n"
    "                            in expect:, else its first metric; or the sweep: block's minimize:)\n"
    "\n"
    "Example:\n"
    "  tempfail tune --set 'expect=[receivers.orange.replies.421 == 0, transactional.latency.p95 < 60s]' \\\n"
    "      --set 'mta.transports.orange.domains=[orange.test]' \\\n"
    "      --vary mta.transports.orange.destination_concurrency_limit=1..6 \\\n"
    "      --vary mta.transports.orange.smtp_connection_cache_on_demand=yes,no -R 5\n"
    "\n"
    "Exit status: 0 a recommendation; 1 no point meets expect: (the closest is shown); 2 bad scenario,\n"
    "value or command line; 3 I/O error or a run that failed.\n";

typedef struct tune_bound {
    size_t fig;              /* the key figure it bounds */
    scenario_expect_op op;
    double bound;
    const char *text;
} tune_bound;

/* The expect: lines as bounds on key figures (the sweep's figures start with them). */
static size_t tune_bounds(const scenario *s, const tempfail_sweep_def *d, tune_bound *b)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nexpect; i++)
        for (size_t k = 0; k < d->nfigures; k++)
            if (strcmp(d->figures[k], s->expect[i].metric) == 0) {
                b[n++] = (tune_bound){k, s->expect[i].op, s->expect[i].value, s->expect[i].text};
                break;
            }
    return n;
}

/* How far the point's interval is inside bound b (positive: inside, in the figure's unit); the
 * margin the mean has is mean's distance. == and != have no interval test: NAN. */
static double tune_inside(const results_sweep_stat *st, const tune_bound *b, bool use_ci)
{
    double h = use_ci ? (isnan(st->ci_half) ? INFINITY : st->ci_half) : 0;
    switch (b->op) {
    case EXPECT_LT:
    case EXPECT_LE: return b->bound - (st->mean + h);
    case EXPECT_GT:
    case EXPECT_GE: return (st->mean - h) - b->bound;
    default: return NAN;
    }
}

static bool tune_feasible(const results_sweep *rs, size_t p, const tune_bound *b, size_t nb)
{
    if (results_sweep_all_passed(rs, p))
        return true;
    if (nb == 0)
        return isnan(results_sweep_pass_fraction(rs, p));
    for (size_t i = 0; i < nb; i++) {
        double in = tune_inside(results_sweep_key_stat(rs, p, b[i].fig), &b[i], true);
        if (!(in > 0 || (in == 0 && (b[i].op == EXPECT_LE || b[i].op == EXPECT_GE))))
            return false;
    }
    return true;
}

/* The best and second-best feasible points by the minimised figure; SIZE_MAX for none. */
static void tune_rank(const results_sweep *rs, size_t fig, const tune_bound *b, size_t nb, size_t *best,
                      size_t *second)
{
    const results_sweep_def *d = results_sweep_get_def(rs);
    *best = *second = SIZE_MAX;
    for (size_t p = 0; p < d->npoints; p++) {
        double m = results_sweep_key_stat(rs, p, fig)->mean;
        if (isnan(m) || !tune_feasible(rs, p, b, nb))
            continue;
        if (*best == SIZE_MAX || m < results_sweep_key_stat(rs, *best, fig)->mean) {
            *second = *best;
            *best = p;
        } else if (*second == SIZE_MAX || m < results_sweep_key_stat(rs, *second, fig)->mean) {
            *second = p;
        }
    }
}

/* The point closest to feasible: the most replications passing, then the lowest figure. */
static size_t tune_closest(const results_sweep *rs, size_t fig)
{
    const results_sweep_def *d = results_sweep_get_def(rs);
    size_t best = 0;
    for (size_t p = 1; p < d->npoints; p++) {
        double a = results_sweep_pass_fraction(rs, p), b = results_sweep_pass_fraction(rs, best);
        double ma = results_sweep_key_stat(rs, p, fig)->mean, mb = results_sweep_key_stat(rs, best, fig)->mean;
        if (a > b || (a == b && ma < mb))
            best = p;
    }
    return best;
}

static void tune_point_text(harness_text *t, const tempfail_sweep_def *d, size_t p)
{
    size_t *idx = sim_xcalloc(d->sw.naxes, sizeof(*idx));
    scenario_sweep_point(d->sw.axes, d->sw.naxes, d->sw.zip, p, idx);
    for (size_t a = 0; a < d->sw.naxes; a++)
        harness_text_printf(t, "%s%s=%s", a ? ", " : "", d->sw.axes[a].key, d->sw.axes[a].values[idx[a]]);
    free(idx);
}

static const char *tune_num(char *b, size_t len, double v)
{
    results_fmt_sig(b, len, v, 4);
    return b;
}

/* "12.3 +- 0.4" */
static void tune_stat_text(harness_text *t, const results_sweep_stat *st)
{
    char m[40], h[40];
    harness_text_printf(t, "%s", tune_num(m, sizeof(m), st->mean));
    if (!isnan(st->ci_half))
        harness_text_printf(t, " +- %s", tune_num(h, sizeof(h), st->ci_half));
}

/* The key figure index of name, or SIZE_MAX. */
static size_t tune_fig(const tempfail_sweep_def *d, const char *name)
{
    for (size_t k = 0; k < d->nfigures; k++)
        if (strcmp(d->figures[k], name) == 0)
            return k;
    return SIZE_MAX;
}

/* Point q is p with axis a at another value (and every other axis the same). */
static bool tune_neighbour(const tempfail_sweep_def *d, size_t p, size_t q, size_t a, size_t *ip, size_t *iq)
{
    if (d->sw.zip)
        return false;
    scenario_sweep_point(d->sw.axes, d->sw.naxes, false, p, ip);
    scenario_sweep_point(d->sw.axes, d->sw.naxes, false, q, iq);
    for (size_t i = 0; i < d->sw.naxes; i++)
        if ((i == a) == (ip[i] == iq[i]))
            return false;
    return true;
}

/* The mean difference of figure fig between points q and p over the replications both have, and its
 * 95% half width: paired by replication, as common random numbers allow. NAN when there are none. */
static void tune_paired(const char *dir, size_t p, size_t q, const char *fig, double *mean, double *half)
{
    sim_tally d = {0};
    sim_tally_reset(&d);
    for (uint32_t r = 0; r < SCENARIO_SWEEP_MAX_REPLICATIONS; r++) {
        double v[2];
        size_t pts[2] = {p, q};
        int ok = 0;
        for (int i = 0; i < 2; i++) {
            char path[PATH_MAX];
            tempfail_sweep_run_dir(path, sizeof(path) - 16, dir, pts[i], r);
            strcat(path, "/summary.json");
            json_t *j = json_load_file(path, 0, NULL);
            ok += j && results_expect_resolve(j, fig, &v[i]) == 0;
            json_decref(j);
        }
        if (ok < 2)
            break;
        sim_tally_add(&d, v[1] - v[0]);
    }
    *mean = d.n ? d.mean : NAN;
    *half = sim_tally_ci_halfwidth(&d, 0.95);
}

/* Mean refusals a run of point p draws, per receiver and rule (from its runs' summaries: the
 * refused_by_rule tables, which name only the rules that refused). A new object
 * {"orange": {"concurrency_per_ip": 12.5}}. */
static json_t *tune_refusals(const char *dir, size_t p, size_t n)
{
    json_t *sum = json_object();
    for (size_t r = 0; r < n; r++) {
        char path[PATH_MAX];
        tempfail_sweep_run_dir(path, sizeof(path) - 16, dir, p, (uint32_t)r);
        strcat(path, "/summary.json");
        json_t *j = json_load_file(path, 0, NULL);
        const char *rname, *rule;
        json_t *rv, *v;
        json_object_foreach(json_object_get(j, "receivers"), rname, rv) {
            json_object_foreach(json_object_get(rv, "refused_by_rule"), rule, v) {
                json_t *o = json_object_get(sum, rname);
                if (!o)
                    json_object_set_new(sum, rname, o = json_object());
                double before = json_number_value(json_object_get(o, rule));
                json_object_set_new(o, rule, json_real(before + json_number_value(v) / (double)n));
            }
        }
        json_decref(j);
    }
    return sum;
}

/* The receiver and rule whose refusals grew most from a to b, and by how much (0: none grew). */
static double tune_growth(const json_t *a, const json_t *b, const char **rcv, const char **rule, double *before)
{
    double best = 0;
    const char *rn, *un;
    json_t *rv, *v;
    json_object_foreach((json_t *)b, rn, rv) {
        json_object_foreach(rv, un, v) {
            double was = json_number_value(json_object_get(json_object_get(a, rn), un));
            if (json_number_value(v) - was > best + 0.5) {
                best = json_number_value(v) - was;
                *rcv = rn;
                *rule = un;
                *before = was;
            }
        }
    }
    return best;
}

/* What rule `rule` of receiver rcv means, for the paragraph. */
static void tune_rule_text(harness_text *t, const scenario *s, const char *rcv, const char *rule)
{
    for (size_t r = 0; r + 1 < s->nreceivers; r++) {
        if (strcmp(s->receivers[r].name, rcv) != 0)
            continue;
        for (size_t i = 0; i < s->receivers[r].policy.nrules; i++) {
            const policy_rule_config *rc = &s->receivers[r].policy.rules[i];
            if (strcmp(policy_rule_kind_name(rc->kind), rule) != 0)
                continue;
            if (rc->kind == POLICY_RULE_CONCURRENCY_PER_IP || rc->kind == POLICY_RULE_CONCURRENCY_TOTAL) {
                harness_text_printf(t, ": it opens more sessions than %s's cap of %llu%s", rcv,
                                    (unsigned long long)rc->limit,
                                    rc->count_idle ? ", and idle cached sessions count against that cap" : "");
                return;
            }
            if (rc->kind == POLICY_RULE_CONNECTION_RATE_PER_IP) {
                char w[64];
                sim_time_format(w, sizeof(w), rc->window);
                harness_text_printf(t, ": it opens more new connections than %s's %llu per %s, a session that is not "
                                       "reused costs a connection per message",
                                    rcv, (unsigned long long)rc->limit, w);
                return;
            }
        }
    }
    harness_text_printf(t, " (%s's %s rule)", rcv, rule);
}

/* The values of axis a at points q[0..n), "4, 5 and 6". */
static void tune_values_text(harness_text *t, const tempfail_sweep_def *d, size_t a, const size_t *q, size_t n)
{
    size_t *idx = sim_xcalloc(d->sw.naxes, sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        scenario_sweep_point(d->sw.axes, d->sw.naxes, false, q[i], idx);
        harness_text_printf(t, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", d->sw.axes[a].values[idx[a]]);
    }
    free(idx);
}

/*
 * Why the winner wins, from the runs: along each axis, the other values (the other keys as the
 * winner has them) that draw more refusals (which receiver's which rule, and what it means), those
 * that are slower without more refusals (too little concurrency, not too much), those as good.
 */
static void tune_explain(harness_text *t, const results_sweep *rs, const tempfail_sweep_def *d, const scenario *s,
                         const char *dir, size_t w, size_t fig)
{
    size_t *ip = sim_xcalloc(d->sw.naxes, sizeof(*ip)), *iq = sim_xcalloc(d->sw.naxes, sizeof(*iq));
    size_t *group = sim_xcalloc(d->npoints, sizeof(*group));
    const results_sweep_stat *ws = results_sweep_key_stat(rs, w, fig);
    json_t *wref = tune_refusals(dir, w, ws->n);
    char a1[40], a2[40];
    harness_text_printf(t, "Why:");
    bool said = false;
    for (size_t a = 0; a < d->sw.naxes && !d->sw.zip; a++) {
        scenario_sweep_point(d->sw.axes, d->sw.naxes, false, w, ip);
        const char *key = strrchr(d->sw.axes[a].key, '.') ? strrchr(d->sw.axes[a].key, '.') + 1 : d->sw.axes[a].key;
        const char *wv = d->sw.axes[a].values[ip[a]];
        /* kinds: 0 more refusals (by the same receiver and rule as the first such), 1 slower, 2 fails
         * expect: otherwise, 3 as good */
        for (int kind = 0; kind < 4; kind++) {
            size_t n = 0;
            const char *grcv = NULL, *grule = NULL;
            double lo = INFINITY, hi = 0, base = 0;
            for (size_t q = 0; q < d->npoints; q++) {
                if (q == w || !tune_neighbour(d, w, q, a, ip, iq))
                    continue;
                const results_sweep_stat *qs = results_sweep_key_stat(rs, q, fig);
                json_t *qref = tune_refusals(dir, q, qs->n);
                const char *rcv = NULL, *rule = NULL;
                double was = 0, grew = tune_growth(wref, qref, &rcv, &rule, &was);
                double pass = results_sweep_pass_fraction(rs, q);
                int k = grew > 0 ? 0 : qs->mean > ws->mean ? 1 : !isnan(pass) && pass < 1 ? 2 : 3;
                if (k == kind && (kind != 0 || !grcv || (strcmp(grcv, rcv) == 0 && strcmp(grule, rule) == 0))) {
                    if (kind == 0 && !grcv) {
                        grcv = sim_xstrdup(rcv);
                        grule = sim_xstrdup(rule);
                        base = was;
                    }
                    double v = kind == 0 ? grew + was : qs->mean;
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                    group[n++] = q;
                }
                json_decref(qref);
            }
            if (!n)
                continue;
            harness_text_printf(t, " %s ", key);
            tune_values_text(t, d, a, group, n);
            harness_text_printf(t, " instead of %s", wv);
            if (kind == 0) {
                harness_text_printf(t, " %s %s%s%s refusals a run by %s (%s here)", n > 1 ? "draw" : "draws",
                                    tune_num(a1, sizeof(a1), round(lo)), n > 1 ? " to " : "",
                                    n > 1 ? tune_num(a2, sizeof(a2), round(hi)) : "", grcv,
                                    tune_num(a2 + 20, sizeof(a2) - 20, round(base)));
                tune_rule_text(t, s, grcv, grule);
                harness_text_printf(t, "; each refusal defers the mail to a later retry.");
                free((char *)grcv);
                free((char *)grule);
            } else if (kind == 1) {
                harness_text_printf(t, " %s slower (%s %s%s%s against %s) without more refusals: too little "
                                       "concurrency or reuse, not too much.",
                                    n > 1 ? "are" : "is", d->figures[fig], tune_num(a1, sizeof(a1), lo),
                                    n > 1 ? " to " : "", n > 1 ? tune_num(a2, sizeof(a2), hi) : "",
                                    tune_num(a2 + 20, sizeof(a2) - 20, ws->mean));
            } else if (kind == 2) {
                harness_text_printf(t, " %s as fast (%s %s%s%s) but fail%s expect: in some replications.",
                                    n > 1 ? "are" : "is", d->figures[fig], tune_num(a1, sizeof(a1), lo),
                                    n > 1 ? " to " : "", n > 1 ? tune_num(a2, sizeof(a2), hi) : "", n > 1 ? "" : "s");
            } else {
                harness_text_printf(t, " %s as well (%s %s%s%s): a tie, which the earlier point wins.",
                                    n > 1 ? "do" : "does",
                                    d->figures[fig], tune_num(a1, sizeof(a1), lo), n > 1 ? " to " : "",
                                    n > 1 ? tune_num(a2, sizeof(a2), hi) : "");
            }
            said = true;
        }
    }
    if (!said)
        harness_text_printf(t, " it is the only point that meets every bound.");
    harness_text_printf(t, "\n");
    json_decref(wref);
    free(group);
    free(ip);
    free(iq);
}

/* The paste-ready main.cf, master.cf and transport of point p, printed and written into dir. */
static int tune_lines(const tempfail_sweep_def *d, size_t p, const char *dir, harness_text *t)
{
    const char **sets = sim_xcalloc(d->nsets + d->sw.naxes + 1, sizeof(*sets));
    char **own = sim_xcalloc(d->sw.naxes + 1, sizeof(*own));
    size_t n = 0;
    for (size_t i = 0; i < d->nsets; i++)
        sets[n++] = d->sets[i];
    for (size_t a = 0; a < d->sw.naxes; a++)
        sets[n++] = own[a] = tempfail_sweep_point_set(d, p, a);
    scenario_error serr;
    scenario *s = d->scenario ? scenario_load_file(d->scenario, sets, n, &serr) : scenario_load_default(sets, n, &serr);
    int status = TEMPFAIL_OK;
    char err[1024];
    harness_postfix_files f = {0};
    harness_postfix_instance in = {.paste = true};
    if (!s) {
        fprintf(stderr, "tempfail tune: %s\n", serr.message);
        status = TEMPFAIL_USAGE;
    } else if (harness_postfix_conf_generate(s, &in, &f, err, sizeof(err)) != 0) {
        harness_text_printf(t, "The winner is no Postfix configuration to paste: %s\n", err);
    } else {
        harness_text_printf(t, "\nmain.cf:\n%s\nmaster.cf:\n%s\ntransport_maps:\n%s", f.main_cf, f.master_cf,
                            f.transport);
        if (harness_postfix_conf_write(&f, dir, err, sizeof(err)) != 0) {
            fprintf(stderr, "tempfail tune: %s\n", err);
            status = TEMPFAIL_IO;
        } else {
            harness_text_printf(t, "(also in %s/main.cf, master.cf and transport; `tempfail import` reads them)\n",
                                dir);
        }
    }
    harness_postfix_files_clear(&f);
    scenario_free(s);
    for (size_t a = 0; a < d->sw.naxes; a++)
        free(own[a]);
    free(own);
    free(sets);
    return status;
}

/* A copy of d's axes thinned to at most about TUNE_COARSE_POINTS points (each axis's first and last
 * value kept), or around point p of the coarse def c: every value between its neighbours. */
static void tune_thin(const tempfail_sweep_def *d, tempfail_sweep_def *c)
{
    size_t per = 2;
    for (;;) {
        size_t n = 1;
        for (size_t a = 0; a < d->sw.naxes; a++)
            n *= d->sw.axes[a].nvalues < per + 1 ? d->sw.axes[a].nvalues : per + 1;
        if (n > TUNE_COARSE_POINTS || per > 64)
            break;
        per++;
    }
    for (size_t a = 0; a < d->sw.naxes; a++) {
        const scenario_sweep_axis *src = &d->sw.axes[a];
        scenario_sweep_axis ax = {.key = sim_xstrdup(src->key)};
        size_t keep = src->nvalues <= per ? src->nvalues : per;
        ax.values = sim_xcalloc(keep, sizeof(*ax.values));
        for (size_t i = 0; i < keep; i++) {
            size_t j = keep == 1 ? 0 : (size_t)llround((double)i * (double)(src->nvalues - 1) / (double)(keep - 1));
            ax.values[ax.nvalues++] = sim_xstrdup(src->values[j]);
        }
        scenario_sweep_add_axis(&c->sw, &ax);
    }
}

static size_t tune_index_of(const scenario_sweep_axis *a, const char *v)
{
    for (size_t i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i], v) == 0)
            return i;
    return 0;
}

static void tune_refine(const tempfail_sweep_def *d, const tempfail_sweep_def *c, size_t best, tempfail_sweep_def *f)
{
    size_t *idx = sim_xcalloc(c->sw.naxes, sizeof(*idx));
    scenario_sweep_point(c->sw.axes, c->sw.naxes, false, best, idx);
    for (size_t a = 0; a < d->sw.naxes; a++) {
        const scenario_sweep_axis *full = &d->sw.axes[a], *coarse = &c->sw.axes[a];
        size_t lo = idx[a] ? tune_index_of(full, coarse->values[idx[a] - 1]) : 0;
        size_t hi = idx[a] + 1 < coarse->nvalues ? tune_index_of(full, coarse->values[idx[a] + 1]) : full->nvalues - 1;
        scenario_sweep_axis ax = {.key = sim_xstrdup(full->key)};
        size_t n = hi - lo + 1, step = n > 9 ? (n + 8) / 9 : 1;
        ax.values = sim_xcalloc(n, sizeof(*ax.values));
        for (size_t i = lo; i <= hi; i += step)
            ax.values[ax.nvalues++] = sim_xstrdup(full->values[i]);
        if (strcmp(ax.values[ax.nvalues - 1], full->values[hi]) != 0)
            ax.values[ax.nvalues++] = sim_xstrdup(full->values[hi]);
        scenario_sweep_add_axis(&f->sw, &ax);
    }
    free(idx);
}

/* A copy of d with other axes (taken from ax, which is emptied) and its own directory. */
static void tune_stage(tempfail_sweep_cli *cli, const tempfail_sweep_cli *base, tempfail_sweep_def *axes_from,
                       char *dir, size_t len, const char *sub)
{
    const tempfail_sweep_def *d = &base->def;
    *cli = (tempfail_sweep_cli){.opts = base->opts};
    tempfail_sweep_def *n = &cli->def;
    n->scenario = d->scenario ? sim_xstrdup(d->scenario) : NULL;
    n->name = sim_xstrdup(d->name);
    n->hash = d->hash;
    n->sets = sim_xcalloc(d->nsets + 1, sizeof(char *));
    for (size_t i = 0; i < d->nsets; i++)
        n->sets[n->nsets++] = sim_xstrdup(d->sets[i]);
    n->figures = sim_xcalloc(d->nfigures + 1, sizeof(char *));
    for (size_t i = 0; i < d->nfigures; i++)
        n->figures[n->nfigures++] = sim_xstrdup(d->figures[i]);
    n->sw = axes_from->sw;
    axes_from->sw = (scenario_sweep){0};
    n->sw.replications = d->sw.replications;
    n->sw.until_metric = d->sw.until_metric ? sim_xstrdup(d->sw.until_metric) : NULL;
    n->sw.until_width = d->sw.until_width;
    n->sw.until_max = d->sw.until_max;
    n->seed_given = d->seed_given;
    n->seed = d->seed;
    n->shard_count = 1;
    char why[256];
    n->npoints = scenario_sweep_npoints(n->sw.axes, n->sw.naxes, false, why, sizeof(why));
    snprintf(dir, len, "%s/%s", base->opts.out_dir, sub);
    cli->opts.out_dir = dir;
}

/* Whether some run of the sweep has figure fig; when none has, the message names it and the nearest
 * figure the first run has (a typo in --minimize is found after the first stage, not after tuning). */
static bool tune_figure_found(const results_sweep *rs, const char *dir, size_t fig, const char *name)
{
    const results_sweep_def *def = results_sweep_get_def(rs);
    for (size_t p = 0; p < def->npoints; p++)
        if (results_sweep_key_stat(rs, p, fig)->n > 0)
            return true;
    char path[PATH_MAX], near[256] = "";
    tempfail_sweep_run_dir(path, sizeof(path) - 16, dir, 0, 0);
    strcat(path, "/summary.json");
    json_t *j = json_load_file(path, 0, NULL);
    bool suggest = j && results_expect_suggest(j, name, near, sizeof(near)) == 0;
    json_decref(j);
    char msg[512];
    snprintf(msg, sizeof(msg), "--minimize %s: no run of the sweep has this figure%s%s%s", name,
             suggest ? " (did you mean '" : " (an expect: name, like transactional.latency.p95)", suggest ? near : "",
             suggest ? "'?)" : "");
    tempfail_usage_error("tune", "%s", msg);
    return false;
}

int tempfail_tune_main(int argc, char **argv)
{
    tempfail_sweep_cli cli = {0}, coarse = {0}, fine = {0};
    int status = tempfail_sweep_parse(argc, argv, "tune", tune_usage, &cli);
    results_sweep *rs = NULL;
    scenario *s = NULL;
    harness_text t = {0};
    char dflt[PATH_MAX], cdir[PATH_MAX + 16], fdir[PATH_MAX + 16];
    if (status >= 0)
        goto out;
    tempfail_sweep_def *d = &cli.def;
    scenario_error serr;
    s = d->scenario ? scenario_load_file(d->scenario, (const char *const *)d->sets, d->nsets, &serr)
                    : scenario_load_default((const char *const *)d->sets, d->nsets, &serr);
    if (!s) {
        fprintf(stderr, "tempfail: %s\n", serr.message);
        status = TEMPFAIL_USAGE;
        goto out;
    }
    const char *minimize = cli.minimize;
    for (size_t i = 0; i < s->nexpect && !minimize; i++)
        if (strstr(s->expect[i].metric, "latency"))
            minimize = s->expect[i].metric;
    if (!minimize && s->nexpect)
        minimize = s->expect[0].metric;
    if (!minimize) {
        status = tempfail_usage_error("tune", "%s", "what is best? (--minimize FIG, or expect: lines in the scenario)");
        goto out;
    }
    size_t fig = tune_fig(d, minimize);
    if (fig == SIZE_MAX) {
        status = tempfail_usage_error("tune", "--minimize %s: not among the key figures (--figure it too)", minimize);
        goto out;
    }
    if (!cli.opts.out_dir) {
        snprintf(dflt, sizeof(dflt), "runs/%s-tune", d->name);
        cli.opts.out_dir = dflt;
    }
    tune_bound *b = sim_xcalloc(s->nexpect + 1, sizeof(*b));
    size_t nb = tune_bounds(s, d, b);
    tempfail_sweep_cli *final = &cli;
    if (d->npoints > TUNE_COARSE_POINTS && !d->sw.zip) {
        tempfail_sweep_def thin = {0};
        tune_thin(d, &thin);
        tune_stage(&coarse, &cli, &thin, cdir, sizeof(cdir), "coarse");
        mkdir(cli.opts.out_dir, 0777);
        if (!cli.opts.quiet)
            printf("coarse: %zu of the grid's %zu points\n", coarse.def.npoints, d->npoints);
        status = tempfail_sweep_run(&coarse, &rs);
        if (status)
            goto out_b;
        if (!tune_figure_found(rs, coarse.opts.out_dir, fig, minimize)) {
            status = TEMPFAIL_USAGE;
            goto out_b;
        }
        size_t best, second;
        tune_rank(rs, fig, b, nb, &best, &second);
        if (best == SIZE_MAX)
            best = tune_closest(rs, fig);
        tempfail_sweep_def around = {0};
        tune_refine(d, &coarse.def, best, &around);
        results_sweep_free(rs);
        rs = NULL;
        tune_stage(&fine, &cli, &around, fdir, sizeof(fdir), "fine");
        if (!cli.opts.quiet)
            printf("fine: %zu points around coarse point %zu\n", fine.def.npoints, best);
        final = &fine;
    }
    status = tempfail_sweep_run(final, &rs);
    if (status)
        goto out_b;
    if (!tune_figure_found(rs, final->opts.out_dir, fig, minimize)) {
        status = TEMPFAIL_USAGE;
        goto out_b;
    }
    const tempfail_sweep_def *fd = &final->def;
    size_t best, second;
    tune_rank(rs, fig, b, nb, &best, &second);
    bool found = best != SIZE_MAX;
    if (!found)
        best = tune_closest(rs, fig);
    const results_sweep_stat *ws = results_sweep_key_stat(rs, best, fig);
    harness_text_printf(&t, "\n%s: point %zu: ", found ? "Recommended" : "No point meets expect:; the closest is",
                        best);
    tune_point_text(&t, fd, best);
    harness_text_printf(&t, "\n  %s = ", minimize);
    tune_stat_text(&t, ws);
    harness_text_printf(&t, " (mean +- 95%% interval, %zu replications)\n", ws->n);
    double pass = results_sweep_pass_fraction(rs, best);
    if (!isnan(pass))
        harness_text_printf(&t, "  expect: passes in %.0f%% of the replications\n", 100 * pass);
    for (size_t i = 0; i < nb; i++) {
        const results_sweep_stat *st = results_sweep_key_stat(rs, best, b[i].fig);
        double m = tune_inside(st, &b[i], false);
        char a1[40], a2[40];
        harness_text_printf(&t, "  %s: ", b[i].text);
        tune_stat_text(&t, st);
        if (!isnan(m))
            harness_text_printf(&t, ", margin %s (%s%% of the bound)", tune_num(a1, sizeof(a1), m),
                                b[i].bound != 0 ? tune_num(a2, sizeof(a2), round(1000 * m / fabs(b[i].bound)) / 10)
                                                : "-");
        harness_text_printf(&t, "\n");
    }
    if (second != SIZE_MAX) {
        harness_text_printf(&t, "Runner-up: point %zu: ", second);
        tune_point_text(&t, fd, second);
        harness_text_printf(&t, "\n  %s = ", minimize);
        tune_stat_text(&t, results_sweep_key_stat(rs, second, fig));
        double dm, dh;
        tune_paired(final->opts.out_dir, best, second, minimize, &dm, &dh);
        char a1[40], a2[40];
        if (!isnan(dm))
            harness_text_printf(&t, "; %s more than the winner, +- %s (paired by replication)",
                                tune_num(a1, sizeof(a1), dm), tune_num(a2, sizeof(a2), dh));
        harness_text_printf(&t, "\n");
    }
    tune_explain(&t, rs, fd, s, final->opts.out_dir, best, fig);
    int ls = tune_lines(fd, best, cli.opts.out_dir, &t);
    if (!cli.opts.quiet)
        fputs(t.s ? t.s : "", stdout);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/recommendation.txt", cli.opts.out_dir);
    if (harness_text_write_file(path, t.s ? t.s : "") != 0 && !ls)
        ls = TEMPFAIL_IO;
    status = ls ? ls : found ? TEMPFAIL_OK : TEMPFAIL_EXPECT_FAILED;
out_b:
    free(b);
out:
    harness_text_clear(&t);
    results_sweep_free(rs);
    scenario_free(s);
    tempfail_sweep_cli_clear(&coarse);
    tempfail_sweep_cli_clear(&fine);
    tempfail_sweep_cli_clear(&cli);
    return status;
}
