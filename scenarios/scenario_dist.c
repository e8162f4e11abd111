/*
 * scenario_dist - distributions in scenario files, and the data files some of them read.
 *
 * A latency or a size is rarely a constant, but operators think of it in two numbers: "median 20ms,
 * p99 400ms". So the lognormal takes median and p99 (or mu and sigma for those who fitted one), the
 * gamma takes shape with scale or mean, and a measured sample can be given as a file. Every parameter
 * is written with the unit of the quantity (seconds or bytes; counts have none) and checked here, so
 * the models can trust a sim_dist without re-validating it.
 *
 * Data files (empirical distributions, arrival traces) hold one value per line, with or without a
 * unit; blank lines and lines starting with '#' are skipped. Their paths are relative to the scenario
 * file, so a scenario directory can be moved as a whole.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_guard.h"

static const char *scenario_dist_unit_example(scenario_conv_unit unit)
{
    switch (unit) {
    case SCENARIO_CONV_SECONDS:
        return "a duration like 20ms or a {dist: ...} mapping";
    case SCENARIO_CONV_BYTES:
        return "a size like 4KB or a {dist: ...} mapping";
    default:
        return "a number or a {dist: ...} mapping";
    }
}

/* One value of a quantity in its unit syntax (what a scalar in a dist mapping holds). */
static int scenario_dist_parse_value(const char *t, scenario_conv_unit unit, double *out)
{
    sim_time_t d;
    switch (unit) {
    case SCENARIO_CONV_SECONDS:
        if (scenario_parse_duration(t, &d) < 0)
            return -EINVAL;
        *out = sim_time_to_sec(d);
        return 0;
    case SCENARIO_CONV_BYTES:
        return scenario_parse_size(t, out);
    default: {
        char *end;
        if (!(t[0] >= '0' && t[0] <= '9') && t[0] != '.')
            return -EINVAL;
        errno = 0;
        double v = strtod(t, &end);
        if (end == t || *end || errno || !isfinite(v) || v < 0)
            return -EINVAL;
        *out = v;
        return 0;
    }
    }
}

static bool scenario_dist_value(scenario_conv *c, yaml_node_t *n, scenario_conv_unit unit, double *out)
{
    switch (unit) {
    case SCENARIO_CONV_SECONDS: {
        sim_time_t t;
        if (!scenario_conv_node_duration(c, n, &t))
            return false;
        *out = sim_time_to_sec(t);
        return true;
    }
    case SCENARIO_CONV_BYTES:
        return scenario_conv_node_size(c, n, out);
    default: {
        double v;
        if (!scenario_conv_node_number(c, n, &v))
            return false;
        if (v < 0)
            return scenario_conv_fail(c, n, "must not be negative, got '%s'", scenario_conv_text(n));
        *out = v;
        return true;
    }
    }
}

/* map[key] in the quantity's unit; *present tells whether it was there. */
static bool scenario_dist_param(scenario_conv *c, yaml_node_t *map, const char *key, scenario_conv_unit unit,
                                bool required, bool positive, double *out, bool *present)
{
    yaml_node_t *v = required ? scenario_conv_need(c, map, key) : scenario_conv_get(c, map, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return !c->failed;
    size_t old = scenario_conv_push_key(c, key);
    if (!scenario_dist_value(c, v, unit, out))
        return false;
    if (positive && !(*out > 0))
        return scenario_conv_fail(c, v, "must be greater than 0, got '%s'", scenario_conv_text(v));
    scenario_conv_pop(c, old);
    return true;
}

/* A plain number (shape parameters, mu, sigma). */
static bool scenario_dist_plain(scenario_conv *c, yaml_node_t *map, const char *key, bool required, bool positive,
                                double *out, bool *present)
{
    return scenario_dist_param(c, map, key, SCENARIO_CONV_COUNT, required, positive, out, present);
}

bool scenario_dist_read_file(scenario_conv *c, yaml_node_t *n, scenario_conv_unit unit, double **values,
                             size_t *count)
{
    const char *name = scenario_conv_scalar(c, n, "a file name");
    if (!name)
        return false;
    char path[4096];
    if (name[0] == '/' || !c->dir[0])
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    char why[200];
    FILE *f = scenario_conv_open_regular(path, why, sizeof(why));
    if (!f && strncmp(why, "cannot open: ", 13) == 0)
        return scenario_conv_fail(c, n, "cannot open '%s': %s", path, why + 13);
    if (!f)
        return scenario_conv_fail(c, n, "'%s': %s", path, why);
    double *v = NULL;
    size_t nv = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    size_t lineno = 0;
    bool ok = true;
    size_t total = 0;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if ((total += (size_t)len) > SCENARIO_GUARD_FILE_BYTES) { /* grew while read */
            ok = scenario_conv_fail(c, n, "'%s': more than the %u MB a file read here may have", path,
                                    SCENARIO_GUARD_FILE_BYTES >> 20);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0 || *p == '#')
            continue;
        double x;
        if (scenario_dist_parse_value(p, unit, &x) < 0) {
            ok = scenario_conv_fail(c, n, "%s:%zu: expected %s, got '%s'", path, lineno,
                                    unit == SCENARIO_CONV_SECONDS ? "a duration like 300s, 20ms or 1.5"
                                    : unit == SCENARIO_CONV_BYTES ? "a size like 512, 4KB, 1.5MB"
                                                                  : "a number",
                                    p);
            break;
        }
        if (nv == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            double *nvp = realloc(v, ncap * sizeof(*v));
            if (!nvp) {
                ok = scenario_conv_nomem(c);
                break;
            }
            v = nvp;
            cap = ncap;
        }
        v[nv++] = x;
    }
    if (ok && ferror(f))
        ok = scenario_conv_fail(c, n, "cannot read '%s': %s", path, strerror(errno));
    fclose(f);
    free(line);
    if (ok && nv == 0)
        ok = scenario_conv_fail(c, n, "'%s' holds no values", path);
    if (!ok) {
        free(v);
        return false;
    }
    *values = v;
    *count = nv;
    return true;
}

static const char *const scenario_dist_kinds[] = {
    [SIM_DIST_CONSTANT] = "constant",   [SIM_DIST_UNIFORM] = "uniform", [SIM_DIST_EXPONENTIAL] = "exponential",
    [SIM_DIST_LOGNORMAL] = "lognormal", [SIM_DIST_GAMMA] = "gamma",     [SIM_DIST_PARETO] = "pareto",
    [SIM_DIST_EMPIRICAL] = "empirical",
};

bool scenario_dist_node(scenario_conv *c, yaml_node_t *n, scenario_conv_unit unit, sim_dist *out)
{
    if (n->type == YAML_SCALAR_NODE) {
        double v;
        if (!scenario_dist_value(c, n, unit, &v))
            return false;
        sim_dist_free(out);
        *out = sim_dist_constant(v);
        return true;
    }
    if (n->type != YAML_MAPPING_NODE)
        return scenario_conv_fail(c, n, "expected %s, got a list", scenario_dist_unit_example(unit));
    yaml_node_t *kn = scenario_conv_need(c, n, "dist");
    if (!kn)
        return false;
    int kind;
    size_t old = scenario_conv_push_key(c, "dist");
    if (!scenario_conv_node_enum(c, kn, scenario_dist_kinds,
                                 sizeof(scenario_dist_kinds) / sizeof(scenario_dist_kinds[0]), &kind))
        return false;
    scenario_conv_pop(c, old);

    sim_dist d = {.kind = (sim_dist_kind)kind};
    bool ok = false;
    switch ((sim_dist_kind)kind) {
    case SIM_DIST_CONSTANT: {
        static const char *const keys[] = {"dist", "value"};
        ok = scenario_conv_keys(c, n, keys, 2) && scenario_dist_param(c, n, "value", unit, true, false, &d.a, NULL);
        d = sim_dist_constant(d.a);
        break;
    }
    case SIM_DIST_UNIFORM: {
        static const char *const keys[] = {"dist", "min", "max"};
        ok = scenario_conv_keys(c, n, keys, 3) && scenario_dist_param(c, n, "min", unit, true, false, &d.a, NULL) &&
             scenario_dist_param(c, n, "max", unit, true, false, &d.b, NULL);
        if (ok && !(d.a < d.b))
            ok = scenario_conv_fail(c, n, "uniform needs min < max");
        break;
    }
    case SIM_DIST_EXPONENTIAL: {
        static const char *const keys[] = {"dist", "mean"};
        ok = scenario_conv_keys(c, n, keys, 2) && scenario_dist_param(c, n, "mean", unit, true, true, &d.a, NULL);
        break;
    }
    case SIM_DIST_LOGNORMAL: {
        static const char *const keys[] = {"dist", "median", "p99", "mu", "sigma"};
        if (!scenario_conv_keys(c, n, keys, 5))
            break;
        bool has_median = scenario_conv_get(c, n, "median") != NULL, has_mu = scenario_conv_get(c, n, "mu") != NULL;
        if (has_median && has_mu) {
            ok = scenario_conv_fail(c, n, "give either median and p99, or mu and sigma");
        } else if (has_mu) {
            if (scenario_conv_get(c, n, "p99")) {
                ok = scenario_conv_fail(c, n, "give either median and p99, or mu and sigma");
                break;
            }
            /* mu is the mean of ln(x) in the base unit: any real number, so read it as a plain one. */
            yaml_node_t *mu = scenario_conv_need(c, n, "mu");
            size_t o2 = scenario_conv_push_key(c, "mu");
            ok = mu && scenario_conv_node_number(c, mu, &d.a);
            if (ok)
                scenario_conv_pop(c, o2);
            ok = ok && scenario_dist_plain(c, n, "sigma", true, true, &d.b, NULL);
        } else {
            double median = 0, p99 = 0;
            if (scenario_conv_get(c, n, "sigma")) {
                ok = scenario_conv_fail(c, n, "give either median and p99, or mu and sigma");
                break;
            }
            ok = scenario_dist_param(c, n, "median", unit, true, true, &median, NULL) &&
                 scenario_dist_param(c, n, "p99", unit, true, true, &p99, NULL);
            if (ok && !(p99 > median))
                ok = scenario_conv_fail(c, n, "lognormal needs median < p99");
            if (ok)
                d = sim_dist_lognormal_median_p99(median, p99);
        }
        break;
    }
    case SIM_DIST_GAMMA: {
        static const char *const keys[] = {"dist", "shape", "scale", "mean"};
        bool has_scale, has_mean;
        double mean = 0;
        ok = scenario_conv_keys(c, n, keys, 4) && scenario_dist_plain(c, n, "shape", true, true, &d.a, NULL) &&
             scenario_dist_param(c, n, "scale", unit, false, true, &d.b, &has_scale) &&
             scenario_dist_param(c, n, "mean", unit, false, true, &mean, &has_mean);
        if (ok && has_scale == has_mean)
            ok = scenario_conv_fail(c, n, "gamma needs shape and either scale or mean");
        if (ok && has_mean)
            d.b = mean / d.a;
        break;
    }
    case SIM_DIST_PARETO: {
        static const char *const keys[] = {"dist", "shape", "min"};
        ok = scenario_conv_keys(c, n, keys, 3) && scenario_dist_plain(c, n, "shape", true, true, &d.a, NULL) &&
             scenario_dist_param(c, n, "min", unit, true, true, &d.b, NULL);
        break;
    }
    case SIM_DIST_EMPIRICAL: {
        static const char *const keys[] = {"dist", "file"};
        if (!scenario_conv_keys(c, n, keys, 2))
            break;
        yaml_node_t *f = scenario_conv_need(c, n, "file");
        if (!f)
            break;
        double *values;
        size_t nvalues;
        size_t o2 = scenario_conv_push_key(c, "file");
        if (!scenario_dist_read_file(c, f, unit, &values, &nvalues))
            break;
        scenario_conv_pop(c, o2);
        if (sim_dist_empirical(&d, values, nvalues) < 0) {
            free(values);
            ok = scenario_conv_fail(c, f, "no values");
            break;
        }
        ok = true;
        break;
    }
    }
    if (!ok) {
        sim_dist_free(&d);
        return false;
    }
    sim_dist_free(out);
    *out = d;
    return true;
}

bool scenario_dist_field(scenario_conv *c, yaml_node_t *map, const char *key, scenario_conv_unit unit,
                         sim_dist *out)
{
    yaml_node_t *v = scenario_conv_get(c, map, key);
    if (!v)
        return true;
    size_t old = scenario_conv_push_key(c, key);
    if (!scenario_dist_node(c, v, unit, out))
        return false;
    scenario_conv_pop(c, old);
    return true;
}
