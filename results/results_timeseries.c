/*
 * results_timeseries - dynamic columns over results_csv.
 *
 * The column names and the row being built are allocated when columns are added (start-up); a
 * sample then only stores doubles and formats them, so sampling costs no allocation however long
 * the run.
 */
#include "results/results_timeseries.h"
#include "sim/sim_mem.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_csv.h"

struct results_timeseries {
    results_csv *csv;
    char **names;
    double *row;
    size_t n, cap;
    bool started;   /* header written: the columns are fixed */
};

results_timeseries *results_timeseries_create(FILE *f)
{
    results_timeseries *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    ts->csv = results_csv_create(f);
    if (!ts->csv) {
        free(ts);
        return NULL;
    }
    return ts;
}

void results_timeseries_free(results_timeseries *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++)
        free(ts->names[i]);
    free(ts->names);
    free(ts->row);
    results_csv_free(ts->csv);
    free(ts);
}

int results_timeseries_column(const results_timeseries *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->names[i], name) == 0)
            return (int)i;
    return -1;
}

int results_timeseries_add_column(results_timeseries *ts, const char *name)
{
    if (ts->started) {
        sim_panic("results_timeseries_add_column", "column '%s' added after the first row", name);
    }
    if (strcmp(name, "time") == 0 || results_timeseries_column(ts, name) >= 0)
        return -EEXIST;
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 16;
        char **names = realloc(ts->names, cap * sizeof(*names));
        if (!names)
            return -ENOMEM;
        ts->names = names;
        double *row = realloc(ts->row, cap * sizeof(*row));
        if (!row)
            return -ENOMEM;
        ts->row = row;
        ts->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    ts->names[ts->n] = copy;
    ts->row[ts->n] = NAN;
    return (int)ts->n++;
}

size_t results_timeseries_ncolumns(const results_timeseries *ts) { return ts->n; }

int results_reply_class(int code)
{
    if (code >= 200 && code < 300)
        return RESULTS_REPLY_2XX;
    if (code == 421)
        return RESULTS_REPLY_421;
    if (code >= 400 && code < 500)
        return RESULTS_REPLY_4XX;
    if (code >= 500 && code < 600)
        return RESULTS_REPLY_5XX;
    return -1;
}

int results_timeseries_add_receiver(results_timeseries *ts, const char *name)
{
    static const char *const parts[RESULTS_RECEIVER_NCOLS] = {"sessions.busy", "sessions.idle", "replies.2xx",
                                                              "replies.421",   "replies.4xx",   "replies.5xx"};
    int first = (int)ts->n;
    for (size_t k = 0; k < RESULTS_RECEIVER_NCOLS; k++) {
        char col[256];
        snprintf(col, sizeof(col), "%s.%s", name, parts[k]);
        int rc = results_timeseries_add_column(ts, col);
        if (rc < 0)
            return rc;
    }
    return first;
}

static void header(results_timeseries *ts)
{
    if (ts->started)
        return;
    ts->started = true;
    results_csv_str(ts->csv, "time");
    for (size_t i = 0; i < ts->n; i++)
        results_csv_str(ts->csv, ts->names[i]);
    results_csv_end_row(ts->csv);
}

void results_timeseries_set(results_timeseries *ts, size_t col, double v)
{
    if (col >= ts->n) {
        sim_panic("results_timeseries_set", "column %zu of %zu", col, ts->n);
    }
    ts->row[col] = v;
}

int results_timeseries_row(results_timeseries *ts, sim_time_t t)
{
    header(ts);
    results_csv_time(ts->csv, t);
    for (size_t i = 0; i < ts->n; i++) {
        results_csv_double(ts->csv, ts->row[i]);
        ts->row[i] = NAN;
    }
    return results_csv_end_row(ts->csv);
}

int results_timeseries_row_values(results_timeseries *ts, sim_time_t t, const double *v, size_t n)
{
    if (n != ts->n) {
        sim_panic("results_timeseries_row_values", "%zu values for %zu columns", n, ts->n);
    }
    header(ts);
    results_csv_time(ts->csv, t);
    for (size_t i = 0; i < n; i++)
        results_csv_double(ts->csv, v[i]);
    return results_csv_end_row(ts->csv);
}

int results_timeseries_finish(results_timeseries *ts)
{
    header(ts);
    return results_csv_flush(ts->csv);
}
