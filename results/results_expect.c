/*
 * results_expect - metric paths, comparisons, and "did you mean" for `expect:`.
 *
 * Paths are walked on the summary tree itself, component by component, trying at each object the
 * longest run of components that is a key (so "destinations.smtp:mx.a.test.window.max" finds the
 * key "smtp:mx.a.test"), and backing off to shorter runs if the rest of the path fails below it.
 *
 * Suggestions compare the metric as written against every numeric leaf of the summary, in full
 * form and in the class/receiver shorthand, by edit distance (a swap of neighbours counting as one edit); the leaves are visited in
 * sorted key order so that a tie always names the same suggestion.
 */
#include "results/results_expect.h"
#include "sim/sim_mem.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_fmt.h"
#include "results/results_json.h"

#define MAX_COMPONENTS 32

typedef struct path {
    const char *m;
    size_t start[MAX_COMPONENTS], end[MAX_COMPONENTS];
    size_t n;
} path;

/* Splits at dots; empty components ("a..b", a trailing dot) make the path invalid. */
static int split(const char *m, path *p)
{
    p->m = m;
    p->n = 0;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (m[j] && m[j] != '.')
            j++;
        if (j == i || p->n == MAX_COMPONENTS)
            return -ENOENT;
        p->start[p->n] = i;
        p->end[p->n] = j;
        p->n++;
        if (!m[j])
            return 0;
        i = j + 1;
    }
}

static const json_t *walk(const json_t *node, const path *p, size_t i)
{
    if (i == p->n)
        return node;
    if (json_is_object(node)) {
        for (size_t j = p->n; j-- > i;) {
            const json_t *c = json_object_getn(node, p->m + p->start[i], p->end[j] - p->start[i]);
            const json_t *r = c ? walk(c, p, j + 1) : NULL;
            if (r)
                return r;
        }
        return NULL;
    }
    if (json_is_array(node)) {
        size_t idx = 0;
        for (size_t k = p->start[i]; k < p->end[i]; k++) {
            if (p->m[k] < '0' || p->m[k] > '9' || idx > SIZE_MAX / 10 - 1)
                return NULL;
            idx = idx * 10 + (size_t)(p->m[k] - '0');
        }
        const json_t *c = json_array_get(node, idx);
        return c ? walk(c, p, i + 1) : NULL;
    }
    return NULL;
}

static const json_t *lookup(const json_t *summary, const char *metric)
{
    path p;
    if (split(metric, &p) != 0)
        return NULL;
    const json_t *r = walk(summary, &p, 0);
    if (!r)
        r = walk(json_object_get(summary, "classes"), &p, 0);
    if (!r)
        r = walk(json_object_get(summary, "receivers"), &p, 0);
    return r;
}

int results_expect_resolve(const json_t *summary, const char *metric, double *value)
{
    const json_t *v = lookup(summary, metric);
    if (!v)
        return -ENOENT;
    if (json_is_null(v))
        return -ENODATA;
    if (json_is_boolean(v)) {
        *value = json_is_true(v) ? 1.0 : 0.0;
        return 0;
    }
    if (!json_is_number(v))
        return -EINVAL;
    *value = json_number_value(v);
    return 0;
}

/* --- suggestions --- */

typedef struct nearest {
    const char *metric;
    size_t mlen;
    size_t best;
    char path[512];
    char found[512];
} nearest;

/* Edit distance counting a swap of two neighbours as one edit ("latnecy"): optimal string
 * alignment, three rolling rows. */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t stack[3][128];
    size_t *pp = stack[0], *prev = stack[1], *cur = stack[2], *heap = NULL;
    if (m + 1 > 128) {
        heap = malloc(3 * (m + 1) * sizeof(size_t));
        if (!heap)
            return SIZE_MAX;
        pp = heap;
        prev = heap + m + 1;
        cur = heap + 2 * (m + 1);
    }
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[m];
    free(heap);
    return d;
}

static int keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void consider(nearest *nr, size_t plen)
{
    size_t d = distance(nr->metric, nr->mlen, nr->path, plen);
    if (d < nr->best) {
        nr->best = d;
        memcpy(nr->found, nr->path, plen + 1);
    }
}

/* Visits the numeric leaves below node; nr->path holds the path so far (plen bytes). */
static void leaves(nearest *nr, const json_t *node, size_t plen)
{
    if (json_is_number(node) || json_is_boolean(node) || json_is_null(node)) {
        if (plen > 0)
            consider(nr, plen);
        return;
    }
    if (!json_is_object(node))
        return;   /* arrays ("expect") and strings hold no metrics */
    size_t n = json_object_size(node), k = 0;
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    if (!keys)
        return;
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)node, key, child) keys[k++] = key;
    qsort(keys, k, sizeof(*keys), keycmp);
    for (size_t i = 0; i < k; i++) {
        size_t kl = strlen(keys[i]);
        size_t need = plen + (plen ? 1 : 0) + kl;
        if (need >= sizeof(nr->path))
            continue;
        size_t at = plen;
        if (plen)
            nr->path[at++] = '.';
        memcpy(nr->path + at, keys[i], kl + 1);
        leaves(nr, json_object_get(node, keys[i]), need);
        nr->path[plen] = 0;
    }
    free(keys);
}

int results_expect_suggest(const json_t *summary, const char *metric, char *buf, size_t len)
{
    nearest *nr = calloc(1, sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    nr->metric = metric;
    nr->mlen = strlen(metric);
    nr->best = SIZE_MAX;
    leaves(nr, summary, 0);
    leaves(nr, json_object_get(summary, "classes"), 0);
    leaves(nr, json_object_get(summary, "receivers"), 0);
    /* Close enough to be a typo: a couple of edits, or a quarter of the name for long ones. */
    size_t limit = nr->mlen / 4 > 2 ? nr->mlen / 4 : 2;
    int r = -ENOENT;
    if (nr->best <= limit && nr->found[0]) {
        snprintf(buf, len, "%s", nr->found);
        r = 0;
    }
    free(nr);
    return r;
}

/* --- comparison and evaluation --- */

const char *results_expect_op_name(scenario_expect_op op)
{
    switch (op) {
    case EXPECT_LT: return "<";
    case EXPECT_LE: return "<=";
    case EXPECT_GT: return ">";
    case EXPECT_GE: return ">=";
    case EXPECT_EQ: return "==";
    case EXPECT_NE: return "!=";
    }
    return "?";
}

static bool equal(double a, double b)
{
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= 1e-9 * scale;
}

bool results_expect_compare(scenario_expect_op op, double value, double bound)
{
    if (isnan(value) || isnan(bound))
        return false;
    switch (op) {
    case EXPECT_LT: return value < bound;
    case EXPECT_LE: return value <= bound;
    case EXPECT_GT: return value > bound;
    case EXPECT_GE: return value >= bound;
    case EXPECT_EQ: return equal(value, bound);
    case EXPECT_NE: return !equal(value, bound);
    }
    sim_panic("results_expect_compare", "bad operator %d", (int)op);
}

static void evaluate(const json_t *summary, const scenario_expect *e, results_expect_result *out)
{
    out->value = NAN;
    out->pass = false;
    out->error[0] = 0;
    double v;
    int r = results_expect_resolve(summary, e->metric, &v);
    if (r == 0) {
        out->value = v;
        out->pass = results_expect_compare(e->op, v, e->value);
        return;
    }
    char hint[512] = "";
    char suggestion[400];
    if (r != -ENODATA && results_expect_suggest(summary, e->metric, suggestion, sizeof(suggestion)) == 0 &&
        strcmp(suggestion, e->metric) != 0)
        snprintf(hint, sizeof(hint), " (did you mean '%s'?)", suggestion);
    const char *what = r == -ENOENT    ? "unknown metric"
                       : r == -ENODATA ? "no value in this run for metric"
                                       : "not a number: metric";
    int n = snprintf(out->error, sizeof(out->error), "expect line %d: %s '%s'%s", e->line, what, e->metric, hint);
    if (n >= (int)sizeof(out->error))   /* an absurdly long metric: show that it was cut */
        memcpy(out->error + sizeof(out->error) - 4, "...", 4);
}

int results_expect_eval(json_t *summary, const scenario_expect *items, size_t n, results_expect_result *out)
{
    json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        evaluate(summary, &items[i], &out[i]);
        if (!out[i].pass)
            failed++;
        json_t *o = json_pack("{s:s, s:o, s:b}", "assertion", items[i].text ? items[i].text : "", "value",
                              results_json_real(out[i].value), "pass", (int)out[i].pass);
        if (o && out[i].error[0])
            json_object_set_new(o, "error", json_string(out[i].error));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return -ENOMEM;
        }
    }
    if (json_object_set_new(summary, "expect", arr) != 0)
        return -ENOMEM;
    return failed;
}
