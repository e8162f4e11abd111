/*
 * results_report - prints the human summary.
 *
 * Each section is a small table built in memory (cells are short strings) and printed once its
 * column widths are known. The report reads only summary.json's tree, never the simulator's
 * state, so it prints the same for a simulated run, a replay, or a summary loaded from disk.
 */
#include "results/results_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_fmt.h"
#include "sim/sim_time.h"

enum style { PLAIN, BOLD, GOOD, BAD };

static const char *const ansi[] = {"", "\033[1m", "\033[32m", "\033[31m"};

#define CELL 320

typedef struct table {
    size_t ncol, n, cap;   /* n cells so far; rows are ncol cells each */
    char (*cell)[CELL];
    unsigned char *style;
} table;

static void t_init(table *t, size_t ncol) { *t = (table){.ncol = ncol}; }

static void t_free(table *t)
{
    free(t->cell);
    free(t->style);
}

static void t_cell(table *t, enum style st, const char *s)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        void *c = realloc(t->cell, cap * sizeof(*t->cell));
        if (!c)
            return;   /* out of memory: the cell is dropped, the report is short, nothing breaks */
        t->cell = c;
        void *s2 = realloc(t->style, cap);
        if (!s2)
            return;
        t->style = s2;
        t->cap = cap;
    }
    const char *v = s ? s : "-";
    size_t l = 0; /* a cell shows at most CELL - 1 bytes */
    while (l < CELL - 1 && v[l])
        l++;
    memcpy(t->cell[t->n], v, l);
    t->cell[t->n][l] = 0;
    t->style[t->n] = (unsigned char)st;
    t->n++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/*
 * Prints the table: two spaces of indent and between columns; columns whose bit is set in `left`
 * are left-aligned, the others right-aligned. Lines carry no trailing blanks (they would make the
 * report's golden test depend on invisible characters).
 */
static void t_print(FILE *out, const table *t, unsigned left, bool color)
{
    enum { MAXCOL = 16 };
    size_t w[MAXCOL] = {0};
    size_t ncol = t->ncol < MAXCOL ? t->ncol : MAXCOL;
    for (size_t i = 0; i < t->n; i++) {
        size_t c = i % t->ncol;
        if (c < ncol && width(t->cell[i]) > w[c])
            w[c] = width(t->cell[i]);
    }
    char line[MAXCOL * (CELL + 16) + 8];
    size_t len = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t c = i % t->ncol;
        if (c < ncol) {
            const char *txt = t->cell[i];
            bool styled = color && t->style[i] != PLAIN && *txt;
            int pad = (int)(w[c] - width(txt));
            bool l = (left >> c) & 1;
            len += (size_t)snprintf(line + len, sizeof(line) - len, "  %*s%s%s%s%*s", l ? 0 : pad, "",
                                    styled ? ansi[t->style[i]] : "", txt, styled ? "\033[0m" : "", l ? pad : 0, "");
        }
        if (c + 1 == t->ncol || i + 1 == t->n) {
            while (len > 0 && line[len - 1] == ' ')
                len--;
            line[len] = 0;
            fprintf(out, "%s\n", line);
            len = 0;
        }
    }
}

/* --- reading the summary --- */

static const json_t *at(const json_t *o, const char *key) { return json_is_object(o) ? json_object_get(o, key) : NULL; }

static double num(const json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_boolean(v))
        return json_is_true(v);
    return NAN;
}

/* A count or other plain number, "-" when absent. */
static const char *fmt_num(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        return "-";
    results_fmt_double(buf, len, v);
    return buf;
}

/* Seconds for people: "1h02m03s", "12.500s", "350ms"; "-" when absent. */
static const char *fmt_dur(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0 || s > 1e12)
        return "-";
    sim_time_format(buf, len, sim_time_from_sec(s));
    return buf;
}

static void heading(FILE *out, const char *s, bool color)
{
    fprintf(out, "\n%s%s%s\n", color ? ansi[BOLD] : "", s, color ? "\033[0m" : "");
}

/* Sorted keys of an object (a malloc'd array; *n set). */
static int keycmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = 0;
    if (!json_is_object(o) || json_object_size(o) == 0)
        return NULL;
    const char **keys = malloc(json_object_size(o) * sizeof(*keys));
    if (!keys)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) keys[(*n)++] = k;
    qsort(keys, *n, sizeof(*keys), keycmp);
    return keys;
}

/* --- sections --- */

static void run_line(FILE *out, const json_t *s)
{
    char a[64], b[64], c[64];
    const json_t *sim = at(s, "simulated");
    const char *name = json_string_value(at(s, "scenario"));
    fprintf(out, "%s  seed %s  replication %s\n", name ? name : "(unnamed)", fmt_num(a, sizeof(a), num(at(s, "seed"))),
            fmt_num(b, sizeof(b), num(at(s, "replication"))));
    const json_t *drained = at(sim, "drained");
    fprintf(out, "simulated %s, ended at %s, %s events%s\n", fmt_dur(a, sizeof(a), num(at(sim, "duration"))),
            fmt_dur(b, sizeof(b), num(at(sim, "end"))), fmt_num(c, sizeof(c), num(at(sim, "events"))),
            json_is_true(drained) ? ", drained" : json_is_false(drained) ? ", not drained" : "");
}

static void messages(FILE *out, const json_t *s, bool color)
{
    static const char *const keys[] = {"arrived", "resent", "delivered", "bounced", "queued", "attempts", "deferrals"};
    static const char *const titles[] = {"arrived", "re-sent", "delivered", "bounced", "queued", "attempts", "deferrals"};
    const size_t n = sizeof(keys) / sizeof(keys[0]);
    const json_t *m = at(s, "messages");
    table t;
    t_init(&t, n);
    for (size_t i = 0; i < n; i++)
        t_cell(&t, BOLD, titles[i]);
    for (size_t i = 0; i < n; i++) {
        char b[RESULTS_FMT_MAX];
        double v = num(at(m, keys[i]));
        enum style st = PLAIN;
        if ((i == 3 || i == 4) && v > 0)
            st = BAD;
        t_cell(&t, st, fmt_num(b, sizeof(b), v));
    }
    heading(out, "Messages", color);
    t_print(out, &t, 0, color);   /* all numbers: all right-aligned */
    t_free(&t);
}

typedef struct reason {
    const char *name;
    double count;
} reason;

static int reason_cmp(const void *a, const void *b)
{
    const reason *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void deferrals(FILE *out, const json_t *s, bool color)
{
    const json_t *d = at(s, "deferrals");
    size_t n;
    const char **keys = sorted_keys(d, &n);
    reason *r = n ? malloc(n * sizeof(*r)) : NULL;
    size_t k = 0;
    for (size_t i = 0; r && i < n; i++) {
        double v = num(at(d, keys[i]));
        if (v > 0)
            r[k++] = (reason){keys[i], v};
    }
    heading(out, "Deferrals by reason", color);
    if (k == 0) {
        fputs("  none\n", out);
    } else {
        qsort(r, k, sizeof(*r), reason_cmp);
        table t;
        t_init(&t, 2);
        t_cell(&t, BOLD, "reason");
        t_cell(&t, BOLD, "count");
        for (size_t i = 0; i < k; i++) {
            char b[RESULTS_FMT_MAX];
            t_cell(&t, PLAIN, r[i].name);
            t_cell(&t, PLAIN, fmt_num(b, sizeof(b), r[i].count));
        }
        t_print(out, &t, 0x1, color);
        t_free(&t);
    }
    free(r);
    free(keys);
}

static void latency_row(table *t, const char *name, const json_t *lat, double delivered)
{
    static const char *const q[] = {"p50", "p95", "p99", "max"};
    char b[64];
    t_cell(t, PLAIN, name);
    for (size_t i = 0; i < 4; i++)
        t_cell(t, PLAIN, fmt_dur(b, sizeof(b), num(at(lat, q[i]))));
    t_cell(t, PLAIN, fmt_num(b, sizeof(b), delivered));
}

static void latency(FILE *out, const json_t *s, bool color)
{
    table t;
    t_init(&t, 6);
    static const char *const h[] = {"class", "p50", "p95", "p99", "max", "delivered"};
    for (size_t i = 0; i < 6; i++)
        t_cell(&t, BOLD, h[i]);
    latency_row(&t, "all", at(s, "latency"), num(at(at(s, "messages"), "delivered")));
    const json_t *classes = at(s, "classes");
    size_t n;
    const char **keys = sorted_keys(classes, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = at(classes, keys[i]);
        latency_row(&t, keys[i], at(c, "latency"), num(at(c, "delivered")));
    }
    free(keys);
    heading(out, "Latency (arrival to delivery)", color);
    t_print(out, &t, 0x1, color);
    t_free(&t);
}

static void receivers(FILE *out, const json_t *s, bool color)
{
    const json_t *rs = at(s, "receivers");
    size_t n;
    const char **keys = sorted_keys(rs, &n);
    heading(out, "Receivers", color);
    if (n == 0) {
        fputs("  none\n", out);
        return;
    }
    table t;
    t_init(&t, 7);
    static const char *const h[] = {"receiver", "connections", "refused", "421s", "peak sessions", "cap", ""};
    /* The last column is a note ("at cap"), read as text: left-aligned. */
    for (size_t i = 0; i < 7; i++)
        t_cell(&t, BOLD, h[i]);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = at(rs, keys[i]);
        const json_t *sess = at(r, "sessions");
        char b[4][RESULTS_FMT_MAX];
        double peak = num(at(sess, "peak")), cap = num(at(sess, "cap")), r421 = num(at(at(r, "replies"), "421"));
        t_cell(&t, PLAIN, keys[i]);
        t_cell(&t, PLAIN, fmt_num(b[0], sizeof(b[0]), num(at(r, "connections"))));
        t_cell(&t, PLAIN, fmt_num(b[1], sizeof(b[1]), num(at(r, "refused"))));
        t_cell(&t, r421 > 0 ? BAD : PLAIN, fmt_num(b[2], sizeof(b[2]), r421));
        t_cell(&t, PLAIN, fmt_num(b[3], sizeof(b[3]), peak));
        /* A cap of 0 (or none) means the receiver sets no concurrency limit. */
        bool capped = isfinite(cap) && cap > 0;
        t_cell(&t, PLAIN, capped ? fmt_num(b[0], sizeof(b[0]), cap) : "-");
        if (capped && peak > cap)
            t_cell(&t, BAD, "over cap");
        else if (capped && peak == cap)
            t_cell(&t, PLAIN, "at cap");
        else
            t_cell(&t, PLAIN, "");
    }
    free(keys);
    t_print(out, &t, 0x41, color);
    t_free(&t);
}

static void destinations(FILE *out, const json_t *s, bool color)
{
    const json_t *ds = at(s, "destinations");
    size_t n;
    const char **keys = sorted_keys(ds, &n);
    table t;
    t_init(&t, 4);
    static const char *const h[] = {"destination", "receiver", "episodes", "dead for"};
    for (size_t i = 0; i < 4; i++)
        t_cell(&t, BOLD, h[i]);
    size_t dead = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = at(ds, keys[i]);
        double ep = num(at(d, "dead_episodes"));
        if (!(ep > 0))
            continue;
        char b[2][RESULTS_FMT_MAX];
        const char *recv = json_string_value(at(d, "receiver"));
        t_cell(&t, PLAIN, keys[i]);
        t_cell(&t, PLAIN, recv ? recv : "-");
        t_cell(&t, BAD, fmt_num(b[0], sizeof(b[0]), ep));
        t_cell(&t, PLAIN, fmt_dur(b[1], sizeof(b[1]), num(at(d, "dead_time"))));
        dead++;
    }
    free(keys);
    heading(out, "Dead destinations", color);
    if (dead == 0)
        fputs("  none\n", out);
    else
        t_print(out, &t, 0x1, color);
    t_free(&t);
}

static void queue(FILE *out, const json_t *s, bool color)
{
    const json_t *q = at(s, "queue");
    char a[64], b[RESULTS_FMT_MAX], c[RESULTS_FMT_MAX], d[RESULTS_FMT_MAX];
    heading(out, "Queue", color);
    fprintf(out, "  oldest message %s, peak %s messages (%s deferred), %s at the end\n",
            fmt_dur(a, sizeof(a), num(at(q, "oldest"))), fmt_num(b, sizeof(b), num(at(at(q, "peak"), "total"))),
            fmt_num(c, sizeof(c), num(at(at(q, "peak"), "deferred"))), fmt_num(d, sizeof(d), num(at(q, "at_end"))));
}

static void expect(FILE *out, const json_t *s, bool color)
{
    const json_t *e = at(s, "expect");
    if (!json_is_array(e) || json_array_size(e) == 0)
        return;
    table t;
    t_init(&t, 3);
    size_t failed = 0;
    for (size_t i = 0; i < json_array_size(e); i++) {
        const json_t *x = json_array_get(e, i);
        bool pass = json_is_true(at(x, "pass"));
        const char *text = json_string_value(at(x, "assertion"));
        const char *err = json_string_value(at(x, "error"));
        char b[RESULTS_FMT_MAX];
        t_cell(&t, pass ? GOOD : BAD, pass ? "PASS" : "FAIL");
        t_cell(&t, PLAIN, text ? text : "?");
        char v[RESULTS_FMT_MAX + 8];
        /* Times read best as durations: the metrics measured in seconds are latencies and ages. */
        bool seconds = text && (strstr(text, "latency") || strstr(text, "oldest") || strstr(text, "dead_time") ||
                                strstr(text, "wait"));
        double val = num(at(x, "value"));
        snprintf(v, sizeof(v), "value %s",
                 seconds && isfinite(val) ? fmt_dur(b, sizeof(b), val) : fmt_num(b, sizeof(b), val));
        t_cell(&t, PLAIN, err ? err : v);
        failed += !pass;
    }
    heading(out, "Expect", color);
    t_print(out, &t, 0x7, color);
    fprintf(out, "  %zu of %zu passed\n", json_array_size(e) - failed, json_array_size(e));
    t_free(&t);
}

int results_report_print(FILE *out, const json_t *summary, const results_report_opts *opts)
{
    bool color = opts && opts->color;
    errno = 0;
    run_line(out, summary);
    messages(out, summary, color);
    deferrals(out, summary, color);
    receivers(out, summary, color);
    latency(out, summary, color);
    queue(out, summary, color);
    destinations(out, summary, color);
    expect(out, summary, color);
    if (fflush(out) != 0 || ferror(out))
        return errno ? -errno : -EIO;
    return 0;
}
