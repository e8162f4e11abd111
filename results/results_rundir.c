/*
 * results_rundir - reads a run directory back (see the header for why the charts read files only).
 *
 * messages.csv is read row by row into histograms (results_rundir.h); nothing per message is kept.
 *
 * The CSV files are ours (results_csv wrote them), but a replay or a hand-edited file may differ,
 * so the reader is strict where a silent mistake would draw a wrong chart (a row with the wrong
 * number of cells is an error naming file and line) and lenient where nothing is lost (CRLF line
 * ends, quoted cells). A cell that is not a number reads as "no value" (NaN), like an empty one.
 */
#include "results/results_rundir.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/*
 * Splits line (modified in place) into at most max cells; RFC 4180 quotes are removed and doubled
 * quotes undone. Returns the number of cells, or -1 when there are more than max.
 */
static long split(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line;
    size_t l = strlen(line);
    while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
        line[--l] = 0;
    for (;;) {
        if (n == max)
            return -1;
        if (*p == '"') {
            char *out = p, *in = p + 1;
            cells[n++] = out;
            for (; *in; in++) {
                if (*in == '"') {
                    if (in[1] == '"') {
                        *out++ = '"';
                        in++;
                        continue;
                    }
                    in++;
                    break;
                }
                *out++ = *in;
            }
            char *next = strchr(in, ',');
            *out = 0;
            if (!next)
                return (long)n;
            p = next + 1;
        } else {
            cells[n++] = p;
            char *c = strchr(p, ',');
            if (!c)
                return (long)n;
            *c = 0;
            p = c + 1;
        }
    }
}

static double cell_num(const char *s)
{
    if (!*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len)
            *len = n;
    }
    return buf;
}

/* A CSV file being read line by line: the header, then the rows, blank rows skipped. */
typedef struct csv_in {
    const char *file;
    FILE *f;
    char *line;
    size_t cap, lineno;
} csv_in;

static int csv_open(csv_in *in, const char *file, char *err, size_t errlen)
{
    *in = (csv_in){.file = file, .f = fopen(file, "r")};
    if (!in->f) {
        fail(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    return 0;
}

/* The next line into in->line (the header as it is, then only non-blank rows); false at the end. */
static bool csv_next(csv_in *in)
{
    while (getline(&in->line, &in->cap, in->f) >= 0) {
        if (++in->lineno == 1 || !(in->line[0] == '\n' || in->line[0] == 0))
            return true;
    }
    return false;
}

/* After the last row: 0, or -1 when it was a read error that ended the file (err says so). */
static int csv_end(const csv_in *in, char *err, size_t errlen)
{
    if (ferror(in->f)) {
        fail(err, errlen, "%s: %s", in->file, strerror(errno));
        return -1;
    }
    return 0;
}

static void csv_close(csv_in *in)
{
    free(in->line);
    fclose(in->f);
}

static int load_timeseries(results_rundir *r, const char *file, char *err, size_t errlen)
{
    csv_in in;
    if (csv_open(&in, file, err, errlen) != 0)
        return -1;
    size_t rows_cap = 0;
    char **cells = NULL;
    int rc = -1;
    if (!csv_next(&in)) {
        fail(err, errlen, "%s: empty file (no header)", file);
        goto out;
    }
    size_t maxcells = 1;
    for (const char *p = in.line; *p; p++)
        maxcells += *p == ',';
    cells = malloc(maxcells * sizeof(*cells));
    long n = cells ? split(in.line, cells, maxcells) : -1;
    if (n < 1 || strcmp(cells[0], "time") != 0) {
        fail(err, errlen, "%s line 1: the first column must be 'time'", file);
        goto out;
    }
    r->ncol = (size_t)n - 1;
    r->col = calloc(r->ncol ? r->ncol : 1, sizeof(char *));
    if (!r->col)
        goto nomem;
    for (size_t i = 0; i < r->ncol; i++)
        if (!(r->col[i] = strdup(cells[i + 1])))
            goto nomem;
    while (csv_next(&in)) {
        n = split(in.line, cells, maxcells);
        if (n != (long)r->ncol + 1) {
            fail(err, errlen, "%s line %zu: %s cells, the header has %zu", file, in.lineno,
                 n < 0 ? "too many" : "too few", r->ncol + 1);
            goto out;
        }
        if (r->nrow == rows_cap) {
            size_t nc = rows_cap ? rows_cap * 2 : 256;
            double *t = realloc(r->time, nc * sizeof(double));
            if (!t)
                goto nomem;
            r->time = t;
            double *v = realloc(r->v, nc * (r->ncol ? r->ncol : 1) * sizeof(double));
            if (!v)
                goto nomem;
            r->v = v;
            rows_cap = nc;
        }
        r->time[r->nrow] = cell_num(cells[0]);
        for (size_t i = 0; i < r->ncol; i++)
            r->v[r->nrow * r->ncol + i] = cell_num(cells[i + 1]);
        r->nrow++;
    }
    rc = csv_end(&in, err, errlen);
    goto out;
nomem:
    fail(err, errlen, "%s: out of memory", file);
out:
    free(cells);
    csv_close(&in);
    return rc;
}

static results_rundir_class *class_get(results_rundir *r, const char *name)
{
    for (size_t i = r->nclass; i-- > 0;)
        if (strcmp(r->classes[i].name, name) == 0)
            return &r->classes[i];
    results_rundir_class *c = realloc(r->classes, (r->nclass + 1) * sizeof(*c));
    if (!c)
        return NULL;
    r->classes = c;
    c += r->nclass;
    memset(c, 0, sizeof(*c));
    if (!(c->name = strdup(name)))
        return NULL;
    c->lat_min = INFINITY;
    c->lat_max = -INFINITY;
    r->nclass++;
    return c;
}

double results_rundir_lat_edge(size_t i)
{
    return pow(10, RESULTS_RUNDIR_LAT_MIN_LOG10 + (double)i / RESULTS_RUNDIR_LAT_PER_DECADE);
}

static size_t lat_bin(double s)
{
    if (!(s > 1e-6))
        return 0;
    double b = (log10(s) - RESULTS_RUNDIR_LAT_MIN_LOG10) * RESULTS_RUNDIR_LAT_PER_DECADE;
    return b >= RESULTS_RUNDIR_LAT_BINS - 1 ? RESULTS_RUNDIR_LAT_BINS - 1 : (size_t)b;
}

double results_rundir_lat_quantile(const results_rundir_class *c, double q)
{
    if (!c || c->delivered == 0)
        return NAN;
    uint64_t want = (uint64_t)ceil(q * (double)c->delivered), cum = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < RESULTS_RUNDIR_LAT_BINS; i++) {
        cum += c->lat_bins[i];
        if (cum >= want) {
            double v = results_rundir_lat_edge(i + 1);
            return v < c->lat_min ? c->lat_min : v > c->lat_max ? c->lat_max : v;
        }
    }
    return c->lat_max;
}

static int load_messages(results_rundir *r, const char *file, char *err, size_t errlen)
{
    csv_in in;
    if (csv_open(&in, file, err, errlen) != 0)
        return -1;
    enum { MAXC = 64 };
    char *cells[MAXC];
    int rc = -1;
    long n;
    if (!csv_next(&in) || (n = split(in.line, cells, MAXC)) < 1) {
        fail(err, errlen, "%s: empty file (no header)", file);
        goto out;
    }
    long ncell = n;
    int c_class = -1, c_outcome = -1, c_attempts = -1, c_latency = -1;
    for (long i = 0; i < n; i++) {
        if (strcmp(cells[i], "class") == 0)
            c_class = (int)i;
        else if (strcmp(cells[i], "outcome") == 0)
            c_outcome = (int)i;
        else if (strcmp(cells[i], "attempts") == 0)
            c_attempts = (int)i;
        else if (strcmp(cells[i], "latency") == 0)
            c_latency = (int)i;
    }
    if (c_class < 0 || c_outcome < 0 || c_attempts < 0 || c_latency < 0) {
        fail(err, errlen, "%s line 1: the header lacks one of class, outcome, attempts, latency", file);
        goto out;
    }
    results_rundir_class *last = NULL;
    while (csv_next(&in)) {
        n = split(in.line, cells, MAXC);
        if (n != ncell) {
            fail(err, errlen, "%s line %zu: %ld cells, the header has %ld", file, in.lineno, n, ncell);
            goto out;
        }
        /* rows of one class often follow each other: try the last one first */
        results_rundir_class *c = last && strcmp(last->name, cells[c_class]) == 0 ? last : class_get(r, cells[c_class]);
        if (!c)
            goto nomem;
        last = c;
        c->messages++;
        r->nmsg++;
        double att = cell_num(cells[c_attempts]);
        uint32_t a = isfinite(att) && att >= 0 && att < 4e9 ? (uint32_t)att : 0;
        r->attempts[a > RESULTS_RUNDIR_MAX_ATTEMPTS ? RESULTS_RUNDIR_MAX_ATTEMPTS + 1 : a]++;
        if (a > r->attempts_max)
            r->attempts_max = a;
        double lat = cell_num(cells[c_latency]);
        if (strcmp(cells[c_outcome], "delivered") == 0 && isfinite(lat)) {
            c->delivered++;
            c->lat_bins[lat_bin(lat)]++;
            if (lat < c->lat_min)
                c->lat_min = lat;
            if (lat > c->lat_max)
                c->lat_max = lat;
        }
    }
    rc = csv_end(&in, err, errlen);
    goto out;
nomem:
    fail(err, errlen, "%s: out of memory", file);
out:
    csv_close(&in);
    return rc;
}

int results_rundir_each_row(const char *dir, const char *name, const char *const *names, size_t n,
                            void (*row)(void *ctx, const char *const *cells), void *ctx, char *err, size_t errlen)
{
    char file[4200];
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    csv_in in;
    if (csv_open(&in, file, err, errlen) != 0)
        return -1;
    enum { MAXC = 64 };
    char *cells[MAXC];
    int rc = -1, at[MAXC];
    const char *want[MAXC];
    long nc;
    if (n > MAXC || !csv_next(&in) || (nc = split(in.line, cells, MAXC)) < 1) {
        fail(err, errlen, "%s: empty file (no header)", file);
        goto out;
    }
    long ncell = nc;
    for (size_t k = 0; k < n; k++) {
        at[k] = -1;
        for (long i = 0; i < nc; i++)
            if (strcmp(cells[i], names[k]) == 0)
                at[k] = (int)i;
        if (at[k] < 0) {
            fail(err, errlen, "%s line 1: the header has no column %s", file, names[k]);
            goto out;
        }
    }
    while (csv_next(&in)) {
        nc = split(in.line, cells, MAXC);
        if (nc != ncell) {
            fail(err, errlen, "%s line %zu: %ld cells, the header has %ld", file, in.lineno, nc, ncell);
            goto out;
        }
        for (size_t k = 0; k < n; k++)
            want[k] = cells[at[k]];
        row(ctx, want);
    }
    rc = csv_end(&in, err, errlen);
out:
    csv_close(&in);
    return rc;
}

results_rundir *results_rundir_load(const char *path, char *err, size_t errlen)
{
    results_rundir *r = calloc(1, sizeof(*r));
    char file[4096];
    if (!r || !(r->path = strdup(path))) {
        free(r);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    json_error_t je;
    snprintf(file, sizeof(file), "%s/summary.json", path);
    r->summary = json_load_file(file, 0, &je);
    if (!r->summary) {
        if (access(file, R_OK) != 0)
            fail(err, errlen, "%s: %s (not a run directory?)", file, strerror(errno));
        else
            fail(err, errlen, "%s line %d: %s", file, je.line, je.text);
        goto fail;
    }
    snprintf(file, sizeof(file), "%s/manifest.json", path);
    r->manifest = json_load_file(file, 0, &je); /* optional: a replay may not write one */
    snprintf(file, sizeof(file), "%s/scenario.yaml", path);
    r->scenario_yaml = slurp(file, NULL);
    if (!r->scenario_yaml && !(r->scenario_yaml = strdup("")))
        goto fail;
    snprintf(file, sizeof(file), "%s/timeseries.csv", path);
    if (load_timeseries(r, file, err, errlen) != 0)
        goto fail;
    snprintf(file, sizeof(file), "%s/messages.csv", path);
    if (load_messages(r, file, err, errlen) != 0)
        goto fail;
    return r;
fail:
    results_rundir_free(r);
    return NULL;
}

void results_rundir_free(results_rundir *r)
{
    if (!r)
        return;
    free(r->path);
    json_decref(r->summary);
    json_decref(r->manifest);
    free(r->scenario_yaml);
    for (size_t i = 0; r->col && i < r->ncol; i++)
        free(r->col[i]);
    free(r->col);
    free(r->time);
    free(r->v);
    for (size_t i = 0; i < r->nclass; i++)
        free(r->classes[i].name);
    free(r->classes);
    free(r);
}

int results_rundir_column(const results_rundir *r, const char *name)
{
    for (size_t i = 0; i < r->ncol; i++)
        if (strcmp(r->col[i], name) == 0)
            return (int)i;
    return -1;
}

double results_rundir_value(const results_rundir *r, size_t row, int c)
{
    if (c < 0 || (size_t)c >= r->ncol || row >= r->nrow)
        return NAN;
    return r->v[row * r->ncol + (size_t)c];
}

const results_rundir_class *results_rundir_class_find(const results_rundir *r, const char *name)
{
    for (size_t i = 0; i < r->nclass; i++)
        if (strcmp(r->classes[i].name, name) == 0)
            return &r->classes[i];
    return NULL;
}

const char *results_rundir_description(const results_rundir *r)
{
    const json_t *d = json_object_get(json_object_get(json_object_get(r->manifest, "scenario"), "resolved"),
                                      "description");
    return json_is_string(d) ? json_string_value(d) : "";
}

const char *results_rundir_name(const results_rundir *r)
{
    const json_t *n = json_object_get(r->summary, "scenario");
    if (json_is_string(n))
        return json_string_value(n);
    const char *b = strrchr(r->path, '/');
    return b && b[1] ? b + 1 : r->path;
}
