/*
 * tempfail_sweep_def - a sweep's definition (scenario, its hash, --set, axes, replications, the
 * until_ci rule, figures, shard): kept in DIR/sweep.json so that --resume and `tempfail sweep merge`
 * can tell one sweep from another, and the names every run of it gets (runs/pPPPPPP-rRRRR, the
 * point's --set overrides).
 */
#include "tempfail/tempfail_sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "results/results_json.h"
#include "sim/sim_mem.h"
#include "tempfail/tempfail.h"

void tempfail_sweep_def_clear(tempfail_sweep_def *d)
{
    free(d->scenario);
    free(d->name);
    for (size_t i = 0; i < d->nsets; i++)
        free(d->sets[i]);
    free(d->sets);
    scenario_sweep_clear(&d->sw);
    for (size_t i = 0; i < d->nfigures; i++)
        free(d->figures[i]);
    free(d->figures);
    *d = (tempfail_sweep_def){0};
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *tempfail_sweep_def_json(const tempfail_sweep_def *d)
{
    char hash[24];
    snprintf(hash, sizeof(hash), "%016" PRIx64, d->hash);
    json_t *axes = json_array();
    for (size_t a = 0; a < d->sw.naxes; a++)
        json_array_append_new(axes, json_pack("{s:s, s:o}", "key", d->sw.axes[a].key, "values",
                                              strv_json(d->sw.axes[a].values, d->sw.axes[a].nvalues)));
    json_t *until = json_null();
    if (d->sw.until_metric)
        until = json_pack("{s:s, s:f, s:i}", "metric", d->sw.until_metric, "width", d->sw.until_width, "max",
                          (json_int_t)d->sw.until_max);
    json_t *j = json_pack("{s:o, s:s, s:s, s:o, s:o, s:b, s:i, s:o, s:o, s:o, s:I, s:{s:i, s:i}}", "scenario",
                          d->scenario ? json_string(d->scenario) : json_null(), "name", d->name, "scenario_fnv1a",
                          hash, "sets", strv_json(d->sets, d->nsets), "axes", axes, "zip", d->sw.zip,
                          "replications", (json_int_t)d->sw.replications, "until_ci", until, "seed",
                          d->seed_given ? json_integer((json_int_t)d->seed) : json_null(), "figures",
                          strv_json(d->figures, d->nfigures), "points", (json_int_t)d->npoints, "shard", "index",
                          (json_int_t)d->shard_index, "count", (json_int_t)d->shard_count);
    return j;
}

static bool strv_from_json(const json_t *a, char ***out, size_t *n)
{
    if (!json_is_array(a))
        return false;
    *n = json_array_size(a);
    *out = sim_xcalloc(*n + 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s)
            return false;
        (*out)[i] = sim_xstrdup(s);
    }
    return true;
}

int tempfail_sweep_def_from_json(const json_t *j, tempfail_sweep_def *d, char *err, size_t errlen)
{
    *d = (tempfail_sweep_def){0};
    const json_t *sc = json_object_get(j, "scenario"), *axes = json_object_get(j, "axes"),
                 *until = json_object_get(j, "until_ci"), *seed = json_object_get(j, "seed"),
                 *shard = json_object_get(j, "shard");
    const char *name = json_string_value(json_object_get(j, "name")),
               *hash = json_string_value(json_object_get(j, "scenario_fnv1a"));
    if (!(json_is_string(sc) || json_is_null(sc)) || !name || !hash || !json_is_array(axes) ||
        !strv_from_json(json_object_get(j, "sets"), &d->sets, &d->nsets) ||
        !strv_from_json(json_object_get(j, "figures"), &d->figures, &d->nfigures) ||
        !json_is_integer(json_object_get(j, "replications")) || !json_is_integer(json_object_get(j, "points")) ||
        !json_is_object(shard))
        goto bad;
    d->scenario = json_is_string(sc) ? sim_xstrdup(json_string_value(sc)) : NULL;
    d->name = sim_xstrdup(name);
    d->hash = strtoull(hash, NULL, 16);
    d->sw.zip = json_is_true(json_object_get(j, "zip"));
    d->sw.replications = (uint32_t)json_integer_value(json_object_get(j, "replications"));
    d->npoints = (size_t)json_integer_value(json_object_get(j, "points"));
    for (size_t a = 0; a < json_array_size(axes); a++) {
        const json_t *ax = json_array_get(axes, a);
        const char *key = json_string_value(json_object_get(ax, "key"));
        scenario_sweep_axis axis = {0};
        if (!key || !strv_from_json(json_object_get(ax, "values"), &axis.values, &axis.nvalues)) {
            scenario_sweep_axis_free(&axis);
            goto bad;
        }
        axis.key = sim_xstrdup(key);
        scenario_sweep_add_axis(&d->sw, &axis);
    }
    if (json_is_object(until)) {
        const char *m = json_string_value(json_object_get(until, "metric"));
        if (!m)
            goto bad;
        d->sw.until_metric = sim_xstrdup(m);
        d->sw.until_width = json_number_value(json_object_get(until, "width"));
        d->sw.until_max = (uint32_t)json_integer_value(json_object_get(until, "max"));
    }
    if (json_is_integer(seed)) {
        d->seed_given = true;
        d->seed = (uint64_t)json_integer_value(seed);
    }
    d->shard_index = (uint32_t)json_integer_value(json_object_get(shard, "index"));
    d->shard_count = (uint32_t)json_integer_value(json_object_get(shard, "count"));
    char why[256];
    if (d->shard_count < 1 || d->shard_index >= d->shard_count ||
        scenario_sweep_npoints(d->sw.axes, d->sw.naxes, d->sw.zip, why, sizeof(why)) != d->npoints)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "not a sweep definition tempfail %s reads", TEMPFAIL_VERSION);
    tempfail_sweep_def_clear(d);
    return -1;
}

bool tempfail_sweep_def_same(const tempfail_sweep_def *a, const tempfail_sweep_def *b, char *diff, size_t len)
{
    json_t *ja = tempfail_sweep_def_json(a), *jb = tempfail_sweep_def_json(b);
    json_object_del(ja, "shard");
    json_object_del(jb, "shard");
    bool same = json_equal(ja, jb);
    if (!same) {
        const char *k;
        json_t *v;
        snprintf(diff, len, "?");
        json_object_foreach(ja, k, v) if (!json_equal(v, json_object_get(jb, k)))
        {
            snprintf(diff, len, "%s", strcmp(k, "scenario_fnv1a") == 0 ? "the scenario file's contents" : k);
            break;
        }
    }
    json_decref(ja);
    json_decref(jb);
    return same;
}

void tempfail_sweep_run_dir(char *buf, size_t len, const char *dir, size_t point, uint32_t rep)
{
    snprintf(buf, len, "%s/runs/p%06zu-r%04" PRIu32, dir, point, rep);
}

char *tempfail_sweep_point_set(const tempfail_sweep_def *d, size_t p, size_t a)
{
    size_t *idx = sim_xcalloc(d->sw.naxes, sizeof(*idx));
    scenario_sweep_point(d->sw.axes, d->sw.naxes, d->sw.zip, p, idx);
    const scenario_sweep_axis *ax = &d->sw.axes[a];
    char *s = sim_xmalloc(strlen(ax->key) + strlen(ax->values[idx[a]]) + 2);
    sprintf(s, "%s=%s", ax->key, ax->values[idx[a]]);
    free(idx);
    return s;
}

static int json_write_cb(FILE *f, void *ctx) { return results_json_write(f, ctx); }

int tempfail_sweep_json_write(const char *dir, const char *name, const json_t *j)
{
    char err[PATH_MAX + 256];
    return results_dir_write_file(dir, name, json_write_cb, (void *)j, err, sizeof(err));
}
