/*
 * results_csv - CSV cells into a private buffer, the buffer into the FILE in large writes.
 *
 * messages.csv has a row per message: hundreds of thousands of rows of a dozen cells. Cells are
 * assembled in a 64 KiB buffer owned by the writer and handed to stdio only when it fills, so a row
 * costs a few memcpy calls and no allocation.
 */
#include "results/results_csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_fmt.h"

#define CSV_BUF 65536

struct results_csv {
    FILE *f;
    int err;          /* first error, sticky */
    bool row_open;    /* a cell has been written in this row: the next needs a comma */
    size_t n;
    char buf[CSV_BUF];
};

results_csv *results_csv_create(FILE *f)
{
    results_csv *w = malloc(sizeof(*w));
    if (!w)
        return NULL;
    w->f = f;
    w->err = 0;
    w->row_open = false;
    w->n = 0;
    return w;
}

static void drain(results_csv *w)
{
    if (w->err || w->n == 0)
        return;
    errno = 0;
    if (fwrite(w->buf, 1, w->n, w->f) != w->n || ferror(w->f))
        w->err = errno ? -errno : -EIO;
    w->n = 0;
}

static void put(results_csv *w, const char *s, size_t n)
{
    while (n > 0 && !w->err) {
        if (w->n == CSV_BUF)
            drain(w);
        size_t k = CSV_BUF - w->n < n ? CSV_BUF - w->n : n;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        n -= k;
    }
}

static void sep(results_csv *w)
{
    if (w->row_open)
        put(w, ",", 1);
    w->row_open = true;
}

void results_csv_str(results_csv *w, const char *s)
{
    sep(w);
    if (!s)
        return;
    size_t n = strlen(s);
    if (strcspn(s, ",\"\r\n") == n) {
        put(w, s, n);
        return;
    }
    put(w, "\"", 1);
    for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
        put(w, s, (size_t)(q - s) + 1);
        put(w, "\"", 1);
    }
    put(w, s, strlen(s));
    put(w, "\"", 1);
}

void results_csv_double(results_csv *w, double v)
{
    char b[RESULTS_FMT_MAX];
    int n = results_fmt_double(b, sizeof(b), v);
    sep(w);
    put(w, b, (size_t)n);
}

void results_csv_int(results_csv *w, int64_t v)
{
    char b[24];
    int n = 0;
    if (v < 0)
        b[n++] = '-';
    n += results_fmt_u64(b + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    sep(w);
    put(w, b, (size_t)n);
}

void results_csv_uint(results_csv *w, uint64_t v)
{
    char b[24];
    int n = results_fmt_u64(b, v);
    sep(w);
    put(w, b, (size_t)n);
}

void results_csv_time(results_csv *w, sim_time_t t)
{
    char b[32];
    int n = results_fmt_time(b, sizeof(b), t);
    sep(w);
    put(w, b, (size_t)n);
}

void results_csv_empty(results_csv *w) { sep(w); }

int results_csv_end_row(results_csv *w)
{
    put(w, "\n", 1);
    w->row_open = false;
    return w->err;
}

int results_csv_row_strs(results_csv *w, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        results_csv_str(w, cells[i]);
    return results_csv_end_row(w);
}

int results_csv_flush(results_csv *w)
{
    drain(w);
    if (!w->err) {
        errno = 0;
        if (fflush(w->f) != 0)
            w->err = errno ? -errno : -EIO;
    }
    return w->err;
}

int results_csv_error(const results_csv *w) { return w->err; }

void results_csv_free(results_csv *w)
{
    if (!w)
        return;
    drain(w);
    free(w);
}
