/*
 * results_compare - key figures of two runs, their deltas, and --fail-if thresholds.
 *
 * Which figures: those the human report leads with (results_report.h), because they answer the
 * questions an operator asks of a configuration change: did more mail go out, was it refused less
 * (421s, refusals, dead destinations), was it faster (latency percentiles per class, the oldest
 * message), and what did it cost (attempts, connections, sessions). Classes, receivers and
 * destinations are those of either run, so a receiver that only B talks to still shows.
 *
 * Every value is read through results_expect_resolve, the same code `expect:` uses, so a metric
 * name that works in a scenario works in --fail-if and means the same number.
 */
#include "results/results_compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_expect.h"
#include "results/results_fmt.h"
#include "scenarios/scenario.h"
#include "sim/sim_time.h"

static double value(const json_t *s, const char *metric)
{
    double v;
    return results_expect_resolve(s, metric, &v) == 0 ? v : NAN;
}

static void add(results_compare *c, const json_t *a, const json_t *b, bool duration, int better, const char *fmt, ...)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        results_compare_row *r = realloc(c->rows, cap * sizeof(*r));
        if (!r)
            return; /* out of memory: a shorter table */
        c->rows = r;
        c->cap = cap;
    }
    results_compare_row *r = &c->rows[c->n];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->metric, sizeof(r->metric), fmt, ap);
    va_end(ap);
    r->a = value(a, r->metric);
    r->b = value(b, r->metric);
    r->duration = duration;
    r->better = better;
    /* a receiver or destination that saw nothing in either run is noise in the table */
    bool idle = r->a == 0 && r->b == 0 &&
                (strncmp(r->metric, "receivers.", 10) == 0 || strncmp(r->metric, "destinations.", 13) == 0);
    if ((isfinite(r->a) || isfinite(r->b)) && !idle)
        c->n++;
}

/* Keys of object `key` in a, then those only in b. */
static size_t union_keys(const json_t *a, const json_t *b, const char *key, const char **out, size_t max)
{
    size_t n = 0;
    const json_t *objs[2] = {json_object_get(a, key), json_object_get(b, key)};
    for (int k = 0; k < 2; k++) {
        const char *name;
        const json_t *v;
        json_object_foreach((json_t *)objs[k], name, v)
        {
            bool seen = false;
            for (size_t i = 0; i < n && !seen; i++)
                seen = strcmp(out[i], name) == 0;
            if (!seen && n < max)
                out[n++] = name;
        }
    }
    return n;
}

results_compare *results_compare_create(const json_t *a, const json_t *b)
{
    results_compare *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    enum { MAXN = 64 };
    const char *names[MAXN];
    add(c, a, b, false, 1, "messages.delivered");
    add(c, a, b, false, -1, "messages.bounced");
    add(c, a, b, false, -1, "messages.queued");
    add(c, a, b, false, -1, "messages.resent");
    add(c, a, b, false, -1, "messages.attempts");
    add(c, a, b, false, -1, "messages.deferrals");
    add(c, a, b, false, -1, "messages.first_attempt_deferred");
    add(c, a, b, false, -1, "messages.first_attempt_deferral_rate");
    static const char *const q[] = {"p50", "p95", "p99", "max"};
    for (int i = 0; i < 4; i++)
        add(c, a, b, true, -1, "latency.%s", q[i]);
    size_t n = union_keys(a, b, "classes", names, MAXN);
    for (size_t k = 0; k < n; k++) {
        for (int i = 0; i < 3; i++)
            add(c, a, b, true, -1, "%s.latency.%s", names[k], q[i]);
        add(c, a, b, false, -1, "%s.attempts.mean", names[k]);
    }
    n = union_keys(a, b, "receivers", names, MAXN);
    for (size_t k = 0; k < n; k++) {
        add(c, a, b, false, -1, "receivers.%s.replies.421", names[k]);
        add(c, a, b, false, -1, "receivers.%s.refused", names[k]);
        add(c, a, b, false, 0, "receivers.%s.connections", names[k]);
        add(c, a, b, false, 0, "receivers.%s.sessions.peak", names[k]);
    }
    n = union_keys(a, b, "destinations", names, MAXN);
    for (size_t k = 0; k < n; k++) {
        add(c, a, b, false, -1, "destinations.%s.dead_episodes", names[k]);
        add(c, a, b, true, -1, "destinations.%s.dead_time", names[k]);
    }
    add(c, a, b, false, -1, "queue.peak.total");
    add(c, a, b, true, -1, "queue.oldest");
    add(c, a, b, true, -1, "queue.drained_at");
    add(c, a, b, true, -1, "simulated.end");
    add(c, a, b, false, 0, "resources.cpu_utilisation");
    add(c, a, b, false, 0, "resources.disk_utilisation");
    return c;
}

void results_compare_free(results_compare *c)
{
    if (!c)
        return;
    free(c->rows);
    free(c);
}

double results_compare_delta(const results_compare_row *r) { return r->b - r->a; }

double results_compare_relative(const results_compare_row *r)
{
    if (!isfinite(r->a) || !isfinite(r->b) || r->a == 0)
        return NAN;
    return (r->b - r->a) / fabs(r->a);
}

void results_compare_fmt_relative(char *buf, size_t len, const results_compare_row *r)
{
    double d = results_compare_delta(r), rel = results_compare_relative(r);
    if (isfinite(rel) && fabs(rel) < 0.0005)
        snprintf(buf, len, "0%%");
    else if (isfinite(rel))
        snprintf(buf, len, "%+.1f%%", rel * 100);
    else
        snprintf(buf, len, "%s", isfinite(d) && d != 0 ? "new" : "-");
}

void results_compare_fmt(char *buf, size_t len, double v, bool duration, bool sign)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return;
    }
    const char *s = sign && v > 0 ? "+" : v < 0 ? "-" : "";
    double m = fabs(v);
    char t[RESULTS_FMT_MAX];
    if (duration && m < 1e12)
        sim_time_format(t, sizeof(t), sim_time_from_sec(m));
    else
        results_fmt_double(t, sizeof(t), m);
    if (strcmp(t, "0") == 0 || strcmp(t, "0s") == 0)
        s = "";
    snprintf(buf, len, "%s%s", s, t);
}

bool results_compare_is_duration(const char *m)
{
    return strstr(m, "latency") || strstr(m, "oldest") || strstr(m, "drained_at") || strstr(m, "dead_time") || strstr(m, "wait") ||
           strcmp(m, "simulated.end") == 0 || strcmp(m, "simulated.duration") == 0;
}

/* --- thresholds --- */

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The next word of *p, after the blanks before it; *len is its length, 0 at the end. *p moves past it. */
static const char *next_word(const char **p, size_t *len)
{
    const char *w = skip_blanks(*p), *s = w;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    *len = (size_t)(s - w);
    *p = s;
    return w;
}

static void fail(char *err, size_t len, const char *text, const char *fmt, ...)
{
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    snprintf(err, len, "'%s': %s", text, m);
}

int results_threshold_parse(const char *text, results_threshold *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    static const char forms[] = "write 'METRIC +10%', 'METRIC -5%', 'METRIC +30s' or 'METRIC +100'";
    if (strlen(text) >= sizeof(t->text)) {
        fail(err, errlen, text, "too long");
        return -EINVAL;
    }
    memcpy(t->text, text, strlen(text) + 1);
    /* METRIC, blanks, CHANGE; leading and trailing blanks ignored */
    const char *p = text;
    size_t mlen, clen;
    const char *m0 = next_word(&p, &mlen);
    const char *c0 = next_word(&p, &clen);
    p = skip_blanks(p);
    if (mlen == 0) {
        fail(err, errlen, text, "no metric: %s", forms);
        return -EINVAL;
    }
    if (clen == 0) {
        fail(err, errlen, text, "no change after the metric: %s", forms);
        return -EINVAL;
    }
    if (*p) {
        fail(err, errlen, text, "unexpected '%s' after the change: %s", p, forms);
        return -EINVAL;
    }
    if (mlen >= sizeof(t->metric)) {
        fail(err, errlen, text, "metric name too long");
        return -EINVAL;
    }
    memcpy(t->metric, m0, mlen);
    t->metric[mlen] = 0;
    char change[128];
    if (clen >= sizeof(change)) {
        fail(err, errlen, text, "change too long");
        return -EINVAL;
    }
    memcpy(change, c0, clen);
    change[clen] = 0;
    if (change[0] != '+' && change[0] != '-') {
        fail(err, errlen, text, "the change '%s' must start with + or - (+10%% allows B to be at most 10%% above A, "
             "-10%% at most 10%% below)", change);
        return -EINVAL;
    }
    t->sign = change[0] == '+' ? 1 : -1;
    const char *amount = change + 1;
    char *end;
    errno = 0;
    double v = strtod(amount, &end);
    if (end == amount || errno || !isfinite(v) || v < 0 || amount[0] == '+' || amount[0] == '-') {
        fail(err, errlen, text, "'%s' is not a sign followed by a non-negative number", change);
        return -EINVAL;
    }
    if (*end == 0) {
        t->amount = v;
    } else if (strcmp(end, "%") == 0) {
        t->amount = v / 100;
        t->relative = true;
    } else {
        sim_time_t d;
        if (scenario_parse_duration(amount, &d) != 0) {
            fail(err, errlen, text, "unknown unit '%s' in '%s' (use %%, a duration unit: us ms s m h d, or none)", end,
                 change);
            return -EINVAL;
        }
        t->amount = sim_time_to_sec(d);
    }
    return 0;
}

static int resolve(const json_t *s, const char *metric, double *v)
{
    int e = results_expect_resolve(s, metric, v);
    if (e == -ENODATA) {
        *v = NAN;
        return 0;
    }
    return e;
}

int results_threshold_check(const results_threshold *t, const json_t *a, const json_t *b, results_threshold_result *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->text, t->text, sizeof(out->text));
    memcpy(out->metric, t->metric, sizeof(out->metric));
    int ea = resolve(a, t->metric, &out->a), eb = resolve(b, t->metric, &out->b);
    if (ea == -ENOENT && eb == -ENOENT) {
        char near[256];
        if (results_expect_suggest(a, t->metric, near, sizeof(near)) == 0 ||
            results_expect_suggest(b, t->metric, near, sizeof(near)) == 0)
            fail(err, errlen, t->text, "unknown metric '%s' (did you mean '%s'?)", t->metric, near);
        else
            fail(err, errlen, t->text, "unknown metric '%s' (see summary.json; docs/results.md)", t->metric);
        return -ENOENT;
    }
    if (ea == -EINVAL || eb == -EINVAL) {
        fail(err, errlen, t->text, "'%s' is not a number in summary.json (an object or a string)", t->metric);
        return -EINVAL;
    }
    if (ea)
        out->a = NAN;
    if (eb)
        out->b = NAN;
    double allowance = t->relative ? t->amount * fabs(out->a) : t->amount;
    out->bound = out->a + t->sign * allowance;
    char va[64], vb[64], vbound[64];
    bool dur = results_compare_is_duration(t->metric);
    results_compare_fmt(va, sizeof(va), out->a, dur, false);
    results_compare_fmt(vb, sizeof(vb), out->b, dur, false);
    results_compare_fmt(vbound, sizeof(vbound), out->bound, dur, false);
    if (!isfinite(out->a) || !isfinite(out->b)) {
        out->crossed = true;
        snprintf(out->message, sizeof(out->message), "%s: no value in run %s (A %s, B %s)", t->text,
                 !isfinite(out->a) ? "A" : "B", va, vb);
        return 0;
    }
    out->crossed = t->sign > 0 ? out->b > out->bound * (1 + 1e-12) + 1e-12 : out->b < out->bound * (1 - 1e-12) - 1e-12;
    snprintf(out->message, sizeof(out->message), "%s: A %s, B %s, %s %s%s", t->text, va, vb,
             t->sign > 0 ? "at most" : "at least", vbound, out->crossed ? " - crossed" : " - holds");
    return 0;
}

/* --- the terminal table --- */

static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void results_compare_print(FILE *out, const results_compare *c, const char *name_a, const char *name_b, bool color)
{
    enum { NC = 5 };
    char(*cells)[NC][300] = calloc(c->n + 1, sizeof(*cells));
    int *tone = calloc(c->n + 1, sizeof(int));
    if (!cells || !tone) {
        free(cells);
        free(tone);
        return;
    }
    snprintf(cells[0][0], 300, "metric");
    snprintf(cells[0][1], 300, "%s", name_a);
    snprintf(cells[0][2], 300, "%s", name_b);
    snprintf(cells[0][3], 300, "delta");
    snprintf(cells[0][4], 300, "change");
    size_t w[NC] = {0};
    for (size_t i = 0; i < c->n; i++) {
        const results_compare_row *r = &c->rows[i];
        snprintf(cells[i + 1][0], 300, "%s", r->metric);
        results_compare_fmt(cells[i + 1][1], 300, r->a, r->duration, false);
        results_compare_fmt(cells[i + 1][2], 300, r->b, r->duration, false);
        double d = results_compare_delta(r);
        results_compare_fmt(cells[i + 1][3], 300, d, r->duration, true);
        results_compare_fmt_relative(cells[i + 1][4], 300, r);
        tone[i + 1] = isfinite(d) && d != 0 && r->better ? (d > 0) == (r->better > 0) ? 1 : -1 : 0;
    }
    for (size_t i = 0; i <= c->n; i++)
        for (int k = 0; k < NC; k++)
            if (width(cells[i][k]) > w[k])
                w[k] = width(cells[i][k]);
    for (size_t i = 0; i <= c->n; i++) {
        for (int k = 0; k < NC; k++) {
            const char *s = cells[i][k];
            int pad = (int)(w[k] - width(s));
            const char *on = "", *off = "";
            if (color && i == 0) {
                on = "\033[1m";
                off = "\033[0m";
            } else if (color && k >= 3 && tone[i]) {
                on = tone[i] > 0 ? "\033[32m" : "\033[31m";
                off = "\033[0m";
            }
            if (k == 0)
                fprintf(out, "  %s%s%s%*s", on, s, off, pad, "");
            else
                fprintf(out, "  %*s%s%s%s", pad, "", on, s, off);
        }
        fputc('\n', out);
    }
    free(cells);
    free(tone);
}
