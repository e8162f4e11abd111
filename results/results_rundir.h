/*
 * results_rundir - a run directory read back from disk: summary.json, manifest.json, scenario.yaml,
 * timeseries.csv and the columns of messages.csv that the charts need.
 *
 * Charts, the HTML report and `tempfail compare` read only what a run left on disk, never the
 * simulator's state: so `tempfail run` and `tempfail plot RUN_DIR` draw the same pictures, and a
 * real replay (which writes the same files) is drawn by the same code.
 *
 * messages.csv can hold millions of rows; only four small fields per message are kept (class,
 * outcome, attempts, latency), in flat arrays.
 */
#ifndef RESULTS_RUNDIR_H
#define RESULTS_RUNDIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What became of a message (messages.csv `outcome`). */
enum { RESULTS_MSG_DELIVERED, RESULTS_MSG_BOUNCED, RESULTS_MSG_QUEUED };

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

    /* messages.csv */
    size_t nmsg;
    size_t nclass;
    char **classes;         /* class names in order of first appearance */
    uint16_t *msg_class;    /* index into classes */
    uint8_t *msg_outcome;   /* RESULTS_MSG_* */
    uint32_t *msg_attempts;
    double *msg_latency;    /* seconds; NaN while queued */
} results_rundir;

/*
 * Reads the run directory at path. NULL on failure with err saying what and where
 * ("runs/x/timeseries.csv line 12: 3 cells, the header has 30"), or the strerror of an I/O error.
 */
results_rundir *results_rundir_load(const char *path, char *err, size_t errlen);
void results_rundir_free(results_rundir *r);

/* Index of a timeseries column by name, or -1. */
int results_rundir_column(const results_rundir *r, const char *name);
/* The value at row of column c (-1: NaN), so that a missing column reads as "no value". */
double results_rundir_value(const results_rundir *r, size_t row, int c);
/* Index of a class by name, or -1. */
int results_rundir_class(const results_rundir *r, const char *name);

/* The scenario's description (scenario.resolved.description in the manifest), or "". */
const char *results_rundir_description(const results_rundir *r);
/* The scenario's name (summary "scenario"), or the directory's base name. */
const char *results_rundir_name(const results_rundir *r);

#endif
