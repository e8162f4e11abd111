/*
 * scenario_sweep - a sweep's axes from `--vary KEY=VALUES`, and its points (scenario_sweep.h).
 *
 * A range is read by the kind of its start: an integer ("1..8", "1..9/2"), a number ("0.1..0.5/0.1"),
 * a duration ("60s..10m/60s") or a rate ("10/s..50/s/10/s"); its end and step must be of the same
 * kind (a rate's end and step are told apart at the '/' that leaves two rates). The k-th value is
 * start + k x step, not a running sum, so no rounding creeps in, and the end is included when it
 * falls on a step (within a millionth of one).
 *
 * The `sweep:` block is read with the loader's converters, so its errors name file:line:column and
 * the key like every other; each of vary:'s values is read as --vary reads it.
 */
#include "scenarios/scenario_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario.h"
#include "scenarios/scenario_conv.h"
#include "sim/sim_mem.h"

static int sweep_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sweep_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* s[0..n) without blanks at either end, as a new string. */
static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *t = sim_xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

/* The offset of the first sep (a one- or two-character token) outside brackets, braces and
 * quotes, or -1. */
static long top_level(const char *s, const char *sep)
{
    int depth = 0;
    char quote = 0;
    size_t l = strlen(sep);
    for (const char *p = s; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        } else if (depth == 0 && strncmp(p, sep, l) == 0) {
            return (long)(p - s);
        }
    }
    return -1;
}

typedef enum { K_INT, K_NUMBER, K_DURATION, K_RATE } sweep_kind;

static bool parse_int(const char *s, double *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *v = (double)x;
    return fabs(*v) < 9e15;
}

static bool parse_number(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x))
        return false;
    *v = x;
    return true;
}

static bool parse_kind(sweep_kind k, const char *s, double *v)
{
    switch (k) {
    case K_INT:
        return parse_int(s, v);
    case K_NUMBER:
        return parse_number(s, v);
    case K_DURATION: {
        sim_time_t t;
        if (scenario_parse_duration(s, &t) != 0)
            return false;
        *v = sim_time_to_sec(t);
        return true;
    }
    case K_RATE:
        return scenario_parse_rate(s, v) == 0;
    }
    return false;
}

static const char *kind_name(sweep_kind k)
{
    static const char *const names[] = {"integers", "numbers", "durations", "rates"};
    return names[k];
}

/* "END/STEP" of kind k: the split at the first '/' that leaves two values of that kind. */
static bool split_end_step(sweep_kind k, const char *right, double *end, double *step)
{
    for (const char *p = strchr(right, '/'); p; p = strchr(p + 1, '/')) {
        char *e = trimmed(right, (size_t)(p - right)), *s = trimmed(p + 1, strlen(p + 1));
        bool ok = parse_kind(k, e, end) && parse_kind(k, s, step);
        free(e);
        free(s);
        if (ok)
            return true;
    }
    return false;
}

static void add_value(scenario_sweep_axis *a, size_t *cap, char *v)
{
    a->values = sim_xgrow(a->values, cap, a->nvalues + 1, sizeof(*a->values), 8);
    a->values[a->nvalues++] = v;
}

static char *format_value(sweep_kind k, double v)
{
    char buf[64];
    switch (k) {
    case K_INT:
        snprintf(buf, sizeof(buf), "%.0f", v);
        break;
    case K_NUMBER:
        snprintf(buf, sizeof(buf), "%.12g", v);
        break;
    case K_DURATION:
        snprintf(buf, sizeof(buf), "%.12gs", v);
        break;
    case K_RATE:
        snprintf(buf, sizeof(buf), "%.12g/s", v);
        break;
    }
    return sim_xstrdup(buf);
}

/* Item `item` (the n-th) is a range at offset dots: its values appended to a. */
static int expand_range(scenario_sweep_axis *a, size_t *cap, const char *arg, size_t n, const char *item, long dots,
                        char *err, size_t errlen)
{
    char *left = trimmed(item, (size_t)dots), *right = trimmed(item + dots + 2, strlen(item + dots + 2));
    int rc = -1;
    double start = 0, end = 0, step = 1;
    sweep_kind k = K_INT;
    if (!left[0] || !right[0]) {
        sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): a range needs a start and an end (1..8, 60s..600s/60s)",
                   arg, n, item);
        goto out;
    }
    static const sweep_kind kinds[] = {K_INT, K_NUMBER, K_DURATION, K_RATE};
    size_t ki;
    for (ki = 0; ki < sizeof(kinds) / sizeof(kinds[0]); ki++)
        if (parse_kind(kinds[ki], left, &start))
            break;
    if (ki == sizeof(kinds) / sizeof(kinds[0])) {
        sweep_fail(err, errlen,
                   "--vary %s: item %zu ('%s'): '%s' is not an integer, a number, a duration (60s) or a rate "
                   "(10/s)",
                   arg, n, item, left);
        goto out;
    }
    k = kinds[ki];
    if (k == K_INT && parse_int(right, &end)) {
        step = 1;
    } else if (!split_end_step(k, right, &end, &step)) {
        if (k != K_INT && parse_kind(k, right, &end))
            sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): a range of %s needs a step: %s..%s/STEP", arg, n,
                       item, kind_name(k), left, right);
        else
            sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): '%s' is not an end%s of %s, as the start is", arg,
                       n, item, right, k == K_INT ? " (and /step)" : "/step", kind_name(k));
        goto out;
    }
    if (!(step > 0)) {
        sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): the step must be more than 0", arg, n, item);
        goto out;
    }
    if (end < start) {
        sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): the range is empty (its end is before its start)", arg,
                   n, item);
        goto out;
    }
    double count = floor((end - start) / step + 1e-6) + 1;
    if (count > SCENARIO_SWEEP_MAX_VALUES || a->nvalues + (size_t)count > SCENARIO_SWEEP_MAX_VALUES) {
        sweep_fail(err, errlen, "--vary %s: item %zu ('%s'): %.0f values, more than the %d an axis may have", arg, n,
                   item, count, SCENARIO_SWEEP_MAX_VALUES);
        goto out;
    }
    for (size_t i = 0; i < (size_t)count; i++)
        add_value(a, cap, format_value(k, start + (double)i * step));
    rc = 0;
out:
    free(left);
    free(right);
    return rc;
}

int scenario_sweep_axis_parse(const char *arg, scenario_sweep_axis *out, char *err, size_t errlen)
{
    *out = (scenario_sweep_axis){0};
    const char *eq = strchr(arg, '=');
    if (!eq)
        return sweep_fail(err, errlen, "--vary %s: expected KEY=VALUES (a --set key, then a list or a range)", arg);
    out->key = trimmed(arg, (size_t)(eq - arg));
    if (!out->key[0] || strpbrk(out->key, " \t")) {
        sweep_fail(err, errlen, "--vary %s: '%s' is not a --set key", arg, out->key);
        goto fail;
    }
    const char *v = eq + 1;
    size_t cap = 0, n = 1;
    for (;;) {
        long comma = top_level(v, ",");
        size_t len = comma < 0 ? strlen(v) : (size_t)comma;
        char *item = trimmed(v, len);
        if (!item[0]) {
            free(item);
            sweep_fail(err, errlen, "--vary %s: item %zu is empty", arg, n);
            goto fail;
        }
        long dots = top_level(item, "..");
        int rc = 0;
        if (dots >= 0)
            rc = expand_range(out, &cap, arg, n, item, dots, err, errlen);
        else if (out->nvalues >= SCENARIO_SWEEP_MAX_VALUES)
            rc = sweep_fail(err, errlen, "--vary %s: more than the %d values an axis may have", arg,
                            SCENARIO_SWEEP_MAX_VALUES);
        else
            add_value(out, &cap, sim_xstrdup(item));
        free(item);
        if (rc)
            goto fail;
        if (comma < 0)
            break;
        v += comma + 1;
        n++;
    }
    return 0;
fail:
    scenario_sweep_axis_free(out);
    return -1;
}

void scenario_sweep_axis_free(scenario_sweep_axis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nvalues; i++)
        free(a->values[i]);
    free(a->values);
    free(a->key);
    *a = (scenario_sweep_axis){0};
}

size_t scenario_sweep_npoints(const scenario_sweep_axis *axes, size_t naxes, bool zip, char *err, size_t errlen)
{
    if (naxes == 0) {
        sweep_fail(err, errlen, "a sweep needs at least one --vary");
        return 0;
    }
    for (size_t i = 0; i < naxes; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(axes[i].key, axes[j].key) == 0) {
                sweep_fail(err, errlen, "--vary %s is given twice", axes[i].key);
                return 0;
            }
    size_t n = zip ? axes[0].nvalues : 1;
    for (size_t i = 0; i < naxes; i++) {
        if (zip) {
            if (axes[i].nvalues != n) {
                sweep_fail(err, errlen, "--zip pairs the i-th values of every --vary, but %s has %zu values and %s %zu",
                           axes[0].key, n, axes[i].key, axes[i].nvalues);
                return 0;
            }
        } else if (axes[i].nvalues > SCENARIO_SWEEP_MAX_POINTS / n) {
            sweep_fail(err, errlen, "the grid has more than %d points; vary fewer keys or fewer values, or --zip them",
                       SCENARIO_SWEEP_MAX_POINTS);
            return 0;
        } else {
            n *= axes[i].nvalues;
        }
    }
    return n;
}

void scenario_sweep_point(const scenario_sweep_axis *axes, size_t naxes, bool zip, size_t p, size_t *idx)
{
    for (size_t i = naxes; i-- > 0;) {
        if (zip) {
            idx[i] = p;
        } else {
            idx[i] = p % axes[i].nvalues;
            p /= axes[i].nvalues;
        }
    }
}

void scenario_sweep_add_axis(scenario_sweep *s, scenario_sweep_axis *a)
{
    s->axes = sim_xrealloc(s->axes, (s->naxes + 1) * sizeof(*s->axes));
    s->axes[s->naxes++] = *a;
    *a = (scenario_sweep_axis){0};
}

int scenario_sweep_until_parse(const char *arg, scenario_sweep *s, char *err, size_t errlen)
{
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg)
        return sweep_fail(err, errlen, "--until-ci %s: expected METRIC=WIDTH, like transactional.latency.p95=5s", arg);
    char *metric = trimmed(arg, (size_t)(eq - arg));
    double w;
    if (scenario_parse_metric_value(eq + 1, &w) < 0 || !(w > 0)) {
        free(metric);
        return sweep_fail(err, errlen,
                          "--until-ci %s: expected a positive width in the figure's unit (5s, 0.01, 2%%), got '%s'", arg,
                          eq + 1);
    }
    free(s->until_metric);
    s->until_metric = metric;
    s->until_width = w;
    return 0;
}

void scenario_sweep_clear(scenario_sweep *s)
{
    for (size_t i = 0; i < s->naxes; i++)
        scenario_sweep_axis_free(&s->axes[i]);
    free(s->axes);
    free(s->until_metric);
    free(s->minimize);
    *s = (scenario_sweep){0};
}

/* One vary: entry, KEY: VALUES (a string as --vary takes it) or KEY: [item, ...] (each item so). */
static bool sweep_convert_axis(scenario_conv *c, const char *key, yaml_node_t *v, scenario_sweep *s)
{
    char err[512];
    scenario_sweep_axis a = {0};
    if (v->type == YAML_SEQUENCE_NODE) {
        a.key = sim_xstrdup(key);
        size_t cap = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = scenario_conv_node(c, *it);
            size_t old = scenario_conv_push_index(c, (size_t)(it - v->data.sequence.items.start));
            const char *text = scenario_conv_scalar(c, item, "a value or a range");
            if (!text) {
                scenario_sweep_axis_free(&a);
                return false;
            }
            char *arg = sim_xmalloc(strlen(key) + strlen(text) + 2);
            sprintf(arg, "%s=%s", key, text);
            scenario_sweep_axis one;
            int rc = scenario_sweep_axis_parse(arg, &one, err, sizeof(err));
            free(arg);
            if (rc < 0 || a.nvalues + one.nvalues > SCENARIO_SWEEP_MAX_VALUES) {
                if (rc == 0)
                    scenario_sweep_axis_free(&one);
                scenario_sweep_axis_free(&a);
                return rc < 0 ? scenario_conv_fail(c, item, "%s", err)
                              : scenario_conv_fail(c, item, "more than the %d values an axis may have",
                                                   SCENARIO_SWEEP_MAX_VALUES);
            }
            for (size_t i = 0; i < one.nvalues; i++) {
                add_value(&a, &cap, one.values[i]);
                one.values[i] = NULL;
            }
            one.nvalues = 0;
            scenario_sweep_axis_free(&one);
            scenario_conv_pop(c, old);
        }
        if (a.nvalues == 0) {
            scenario_sweep_axis_free(&a);
            return scenario_conv_fail(c, v, "expected at least one value");
        }
    } else {
        const char *text = scenario_conv_scalar(c, v, "a list of values or a range (1..8, 60s..600s/60s, [yes, no])");
        if (!text)
            return false;
        char *arg = sim_xmalloc(strlen(key) + strlen(text) + 2);
        sprintf(arg, "%s=%s", key, text);
        int rc = scenario_sweep_axis_parse(arg, &a, err, sizeof(err));
        free(arg);
        if (rc < 0)
            return scenario_conv_fail(c, v, "%s", err);
    }
    scenario_sweep_add_axis(s, &a);
    return true;
}

static bool sweep_convert_until(scenario_conv *c, yaml_node_t *u, scenario_sweep *s)
{
    static const char *const keys[] = {"metric", "width", "max"};
    if (!scenario_conv_mapping(c, u, "a mapping like { metric: transactional.latency.p95, width: 5s, max: 50 }") ||
        !scenario_conv_keys(c, u, keys, 3) || !scenario_conv_str(c, u, "metric", true, &s->until_metric) ||
        !scenario_conv_u32(c, u, "max", false, 1, &s->until_max))
        return false;
    yaml_node_t *w = scenario_conv_need(c, u, "width");
    if (!w)
        return false;
    size_t old = scenario_conv_push_key(c, "width");
    const char *text = scenario_conv_scalar(c, w, "a width");
    if (!text)
        return false;
    if (scenario_parse_metric_value(text, &s->until_width) < 0 || !(s->until_width > 0))
        return scenario_conv_fail(c, w, "expected a positive width in the figure's unit (5s, 0.01, 2%%), got '%s'",
                                  text);
    scenario_conv_pop(c, old);
    return true;
}

bool scenario_sweep_convert(scenario_conv *c, yaml_node_t *node, scenario_sweep **out)
{
    static const char *const keys[] = {"vary", "zip", "replications", "until_ci", "minimize"};
    scenario_sweep *s = sim_xcalloc(1, sizeof(*s));
    *out = s;
    if (!scenario_conv_mapping(c, node, "a mapping (vary:, zip:, replications:, until_ci:, minimize:)") ||
        !scenario_conv_keys(c, node, keys, sizeof(keys) / sizeof(keys[0])))
        return false;
    yaml_node_t *vary = scenario_conv_need(c, node, "vary");
    if (!vary)
        return false;
    size_t old = scenario_conv_push_key(c, "vary");
    if (!scenario_conv_mapping(c, vary, "a mapping of --set keys to values, like { mta.postfix.queue_run_delay: 60s..300s/60s }"))
        return false;
    for (yaml_node_pair_t *pr = vary->data.mapping.pairs.start; pr < vary->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = scenario_conv_node(c, pr->key);
        const char *key = scenario_conv_scalar(c, k, "a --set key");
        if (!key)
            return false;
        size_t o2 = scenario_conv_push_key(c, key);
        if (!sweep_convert_axis(c, key, scenario_conv_node(c, pr->value), s))
            return false;
        scenario_conv_pop(c, o2);
    }
    if (s->naxes == 0)
        return scenario_conv_fail(c, vary, "expected at least one key to vary");
    scenario_conv_pop(c, old);
    yaml_node_t *u;
    if (!scenario_conv_bool(c, node, "zip", false, &s->zip) ||
        !scenario_conv_u32(c, node, "replications", false, 1, &s->replications) ||
        !scenario_conv_str(c, node, "minimize", false, &s->minimize))
        return false;
    if (s->replications > SCENARIO_SWEEP_MAX_REPLICATIONS) {
        scenario_conv_push_key(c, "replications");
        return scenario_conv_fail(c, scenario_conv_get(c, node, "replications"), "at most %d replications",
                                  SCENARIO_SWEEP_MAX_REPLICATIONS);
    }
    if ((u = scenario_conv_get(c, node, "until_ci"))) {
        old = scenario_conv_push_key(c, "until_ci");
        if (!sweep_convert_until(c, u, s))
            return false;
        scenario_conv_pop(c, old);
    }
    char err[512];
    if (scenario_sweep_npoints(s->axes, s->naxes, s->zip, err, sizeof(err)) == 0)
        return scenario_conv_fail(c, node, "%s", err);
    return true;
}
