/*
 * results_scheduler - formats mta_window_record rows of scheduler.csv (results_scheduler.h).
 */
#include "results/results_scheduler.h"

#include <stdbool.h>
#include <stdlib.h>

#include "results/results_csv.h"
#include "results/results_fmt.h"

struct results_scheduler {
    results_csv *csv;
    bool header_done;
};

static const char *const columns[] = {"time", "host",    "destination", "cause",   "old_window",  "new_window",
                                      "busy", "todo",    "success",     "failure", "fail_cohorts"};

results_scheduler *results_scheduler_create(FILE *f)
{
    results_scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (!(s->csv = results_csv_create(f))) {
        free(s);
        return NULL;
    }
    return s;
}

void results_scheduler_free(results_scheduler *s)
{
    if (!s)
        return;
    results_csv_free(s->csv);
    free(s);
}

static void header(results_scheduler *s)
{
    if (!s->header_done) {
        s->header_done = true;
        results_csv_row_strs(s->csv, columns, sizeof(columns) / sizeof(columns[0]));
    }
}

int results_scheduler_write(results_scheduler *s, const mta_window_record *r)
{
    header(s);
    results_csv *w = s->csv;
    char host[16] = "mta";
    results_fmt_u64(host + 3, (uint64_t)r->host + 1);
    results_csv_time(w, r->when);
    results_csv_str(w, host);
    results_csv_str(w, r->destination);
    results_csv_str(w, r->cause);
    if (r->old_window < 0)
        results_csv_empty(w);
    else
        results_csv_int(w, r->old_window);
    results_csv_int(w, r->new_window);
    if (r->busy == RESULTS_SCHEDULER_UNKNOWN)
        results_csv_empty(w);
    else
        results_csv_uint(w, r->busy);
    if (r->todo == RESULTS_SCHEDULER_UNKNOWN)
        results_csv_empty(w);
    else
        results_csv_uint(w, r->todo);
    results_csv_double(w, r->success);
    results_csv_double(w, r->failure);
    results_csv_double(w, r->fail_cohorts);
    return results_csv_end_row(w);
}

int results_scheduler_finish(results_scheduler *s)
{
    header(s);
    return results_csv_flush(s->csv);
}

void results_scheduler_observe(void *ctx, const mta_window_record *r) { results_scheduler_write(ctx, r); }
