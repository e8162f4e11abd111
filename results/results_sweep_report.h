/*
 * results_sweep_report - a complete sweep directory's charts and report.html, from the tables'
 * figures (results_sweep).
 *
 * Charts: each key figure against each varied key, the mean of every point with its 95% confidence
 * band (the other keys at each of their values as separate lines, up to the palette's eight); with
 * exactly two varied keys, a heat map of each key figure over the grid. report.html: the sweep's
 * definition, the points with their key figures (mean +- the interval's half width) and the share of
 * replications whose expect: passed, the variance reduction common random numbers gave, the charts,
 * and links to every run's own report when the runs kept it.
 */
#ifndef RESULTS_SWEEP_REPORT_H
#define RESULTS_SWEEP_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "results/results_plot.h"
#include "results/results_sweep.h"

typedef struct results_sweep_report_opts {
    const char *dir;         /* the sweep directory: charts and report.html go there */
    bool plots;              /* false: report.html without charts */
    results_plot_format fmt;
    const char *title;       /* the scenario's name */
    const char *scenario;    /* the scenario file (or "<built-in default>") */
    const char *run_link;    /* printf format of a run's report.html relative to dir, taking the point
                                and the replication ("runs/p%06zu-r%04u/report.html"); NULL: no links */
} results_sweep_report_opts;

/* Draws the charts (when plots) and writes report.html (through a temporary name). 0, or -errno with
 * err naming the file (-ENODEV: no cairo driver, err says which package). */
int results_sweep_report(const results_sweep *rs, const results_sweep_report_opts *o, char *err, size_t errlen);

#endif
