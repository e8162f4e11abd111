/*
 * results_json - a small JSON printer over jansson's json_t.
 *
 * json_dumps(JSON_SORT_KEYS | JSON_REAL_PRECISION(n)) gets close, but prints reals with "%.*g":
 * 7200.0 becomes "7200.0", large values switch to exponents and the digit count depends on the
 * magnitude. Printing the tree ourselves keeps every number in the one format of results_fmt and
 * the layout identical to what Python's json.dumps(indent=2, sort_keys=True) gives for the same
 * data, which is what people diff against.
 *
 * The text is built in memory and written with one fwrite: summaries are kilobytes, and a
 * half-written file is then impossible short of a write error, which the caller sees.
 */
#include "results/results_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_fmt.h"

typedef struct text {
    char *p;
    size_t n, cap;
    bool oom;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

static void indent(text *t, int depth)
{
    static const char spaces[] = "                                ";
    for (int i = 0; i < depth; i++)
        put(t, spaces, 2);
}

static void string(text *t, const char *s, size_t n)
{
    put(t, "\"", 1);
    size_t run = 0;   /* bytes copied as they are, written in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof(u), "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            put(t, s + i - run, run);
            run = 0;
            puts_(t, esc);
        } else {
            run++;
        }
    }
    put(t, s + n - run, run);
    put(t, "\"", 1);
}

static int keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void value(text *t, const json_t *v, int depth)
{
    char num[RESULTS_FMT_MAX];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        if (n == 0) {
            puts_(t, "{}");
            return;
        }
        const char **keys = malloc(n * sizeof(*keys));
        if (!keys) {
            t->oom = true;
            return;
        }
        size_t k = 0;
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) keys[k++] = key;
        qsort(keys, k, sizeof(*keys), keycmp);
        puts_(t, "{\n");
        for (size_t i = 0; i < k; i++) {
            indent(t, depth + 1);
            string(t, keys[i], strlen(keys[i]));
            puts_(t, ": ");
            value(t, json_object_get(v, keys[i]), depth + 1);
            puts_(t, i + 1 < k ? ",\n" : "\n");
        }
        indent(t, depth);
        puts_(t, "}");
        free(keys);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            puts_(t, "[]");
            return;
        }
        puts_(t, "[\n");
        for (size_t i = 0; i < n; i++) {
            indent(t, depth + 1);
            value(t, json_array_get(v, i), depth + 1);
            puts_(t, i + 1 < n ? ",\n" : "\n");
        }
        indent(t, depth);
        puts_(t, "]");
        return;
    }
    case JSON_STRING:
        string(t, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        puts_(t, num);
        return;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d)) {
            puts_(t, "null");
            return;
        }
        results_fmt_double(num, sizeof(num), d);
        puts_(t, num);
        return;
    }
    case JSON_TRUE:
        puts_(t, "true");
        return;
    case JSON_FALSE:
        puts_(t, "false");
        return;
    case JSON_NULL:
        puts_(t, "null");
        return;
    }
}

char *results_json_dumps(const json_t *v)
{
    text t = {0};
    if (v)
        value(&t, v, 0);
    else
        puts_(&t, "null");
    put(&t, "\n", 1);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

int results_json_write(FILE *f, const json_t *v)
{
    char *s = results_json_dumps(v);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    errno = 0;
    int err = 0;
    if (fwrite(s, 1, n, f) != n || ferror(f))
        err = errno ? -errno : -EIO;
    free(s);
    return err;
}

json_t *results_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *results_json_count(uint64_t v) { return json_integer((json_int_t)v); }

json_t *results_json_latency(const sim_quantile *q)
{
    json_t *o = json_object();
    bool empty = sim_quantile_count(q) == 0;
    json_object_set_new(o, "mean", empty ? json_null() : results_json_real(sim_quantile_mean(q)));
    json_object_set_new(o, "p50", empty ? json_null() : results_json_real(sim_quantile_get(q, 0.50)));
    json_object_set_new(o, "p95", empty ? json_null() : results_json_real(sim_quantile_get(q, 0.95)));
    json_object_set_new(o, "p99", empty ? json_null() : results_json_real(sim_quantile_get(q, 0.99)));
    json_object_set_new(o, "max", empty ? json_null() : results_json_real(sim_quantile_max(q)));
    json_object_set_new(o, "count", results_json_count(sim_quantile_count(q)));
    return o;
}
