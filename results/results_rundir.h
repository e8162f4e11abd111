/*
 * results_rundir - a run directory read back from disk: summary.json, manifest.json, scenario.yaml,
 * timeseries.csv and the columns of messages.csv that the charts need.
 *
 * Charts, the HTML report and `tempfail compare` read only what a run left on disk, never the
 * simulator's state: so `tempfail run` and `tempfail plot RUN_DIR` draw the same pictures, and a
 * real replay (which writes the same files) is drawn by the same code.
 *
 * messages.csv can hold millions of rows; it is read in one pass into histograms (latency per
 * class, attempts), so memory stays small whatever the run's size.
 */
#ifndef RESULTS_RUNDIR_H
#define RESULTS_RUNDIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Latencies are kept as a log-binned histogram per class: 100 bins per decade from 1us to 1e8 s
 * (2.3% wide, finer than a chart's pixel), exact minimum and maximum aside. Memory does not grow
 * with the number of messages, so a run of ten million messages is read in one pass.
 */
#define RESULTS_RUNDIR_LAT_MIN_LOG10 (-6)
#define RESULTS_RUNDIR_LAT_PER_DECADE 100
#define RESULTS_RUNDIR_LAT_BINS (14 * RESULTS_RUNDIR_LAT_PER_DECADE)
/* Attempts are counted exactly up to this many; more go in one last bin. */
#define RESULTS_RUNDIR_MAX_ATTEMPTS 100

typedef struct results_rundir_class {
    char *name;
    uint64_t messages;    /* rows of this class */
    uint64_t delivered;   /* of which delivered with a latency */
    double lat_min, lat_max;
    uint64_t lat_bins[RESULTS_RUNDIR_LAT_BINS];   /* bin i: latencies in [edge(i), edge(i + 1)) */
} results_rundir_class;

typedef struct results_rundir {
    char *path;
    json_t *summary;        /* summary.json */
    json_t *manifest;       /* manifest.json; NULL when the directory has none */
    char *scenario_yaml;    /* scenario.yaml as written; "" when absent */

    /* timeseries.csv: nrow samples of ncol columns (time excluded), row-major, NaN for empty cells */
    size_t ncol, nrow;
    char **col;             /* column names */
    double *time;           /* seconds */
    double *v;              /* v[row * ncol + c] */

    /* messages.csv, summarised */
    uint64_t nmsg;
    size_t nclass;
    results_rundir_class *classes;   /* in order of first appearance */
    uint64_t attempts[RESULTS_RUNDIR_MAX_ATTEMPTS + 2];   /* messages by attempts; [MAX + 1]: more */
    uint32_t attempts_max;
} results_rundir;

/*
 * Reads the run directory at path. NULL on failure with err saying what and where
 * ("runs/x/timeseries.csv line 12: 3 cells, the header has 30"), or the strerror of an I/O error.
 */
results_rundir *results_rundir_load(const char *path, char *err, size_t errlen);
void results_rundir_free(results_rundir *r);

/*
 * A CSV file of the run directory dir (messages.csv, scheduler.csv), row by row, for the rules that
 * need each row (explain): row gets the cells of the named columns, in the order of names (valid
 * during the call only). 0, or -1 with err naming the file and line (a missing column, a row with
 * the wrong number of cells).
 */
int results_rundir_each_row(const char *dir, const char *file, const char *const *names, size_t n,
                            void (*row)(void *ctx, const char *const *cells), void *ctx, char *err, size_t errlen);

/* Index of a timeseries column by name, or -1. */
int results_rundir_column(const results_rundir *r, const char *name);
/* The value at row of column c (-1: NaN), so that a missing column reads as "no value". */
double results_rundir_value(const results_rundir *r, size_t row, int c);
/* A class by name, or NULL. */
const results_rundir_class *results_rundir_class_find(const results_rundir *r, const char *name);
/* The lower edge of latency bin i, in seconds (i may be RESULTS_RUNDIR_LAT_BINS: the top edge). */
double results_rundir_lat_edge(size_t i);
/* The q-quantile (0 < q <= 1) of a class's delivered latencies, to the bin's resolution (the upper
 * edge of the bin holding it, within [lat_min, lat_max]); NaN when nothing was delivered. */
double results_rundir_lat_quantile(const results_rundir_class *c, double q);

/* The scenario's description (scenario.resolved.description in the manifest), or "". */
const char *results_rundir_description(const results_rundir *r);
/* The scenario's name (summary "scenario"), or the directory's base name. */
const char *results_rundir_name(const results_rundir *r);

#endif
