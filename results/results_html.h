/*
 * results_html - report.html: a run (or a comparison of two runs) as one static page.
 *
 * The page is what someone opens from a file manager or a CI artefact store: no network, no
 * JavaScript, the CSS inline, the charts as relative <img> links to the files beside it. It reads
 * only the run directory (results_rundir), like the charts.
 *
 * A run's page: the scenario's name and description, the key figures (messages, latency per
 * class, receivers, dead destinations, the queue), the `expect:` results as pass/fail, the charts
 * with their captions, and the scenario as it was run. Every text from a file is HTML-escaped.
 *
 * The page's frame (head with the one style sheet, foot), its charts block and its number format
 * are exposed for the other pages written in the same style (a sweep's, results_sweep_report).
 */
#ifndef RESULTS_HTML_H
#define RESULTS_HTML_H

#include <stdio.h>

#include "results/results_compare.h"
#include "results/results_plot.h"
#include "results/results_rundir.h"

/* Writes s with &, <, >, " and ' escaped. */
void results_html_escape(FILE *f, const char *s);

/* A number as results_fmt writes it, or "-" when there is none (NaN, infinite); returns b. */
const char *results_html_num(char *b, size_t len, double v);

/* The page up to its content: doctype, <head> with title (escaped) and the style sheet, <main>. */
void results_html_head(FILE *f, const char *title);
/* Closes what results_html_head opened and flushes f: 0, or -errno of f. */
int results_html_foot(FILE *f);

/* Every chart of list as a <figure>: the image (sized RESULTS_PLOT_WIDTH x HEIGHT) and its caption. */
void results_html_figures(FILE *f, const results_plot_list *list);

/* A run's report. charts may be NULL or empty (drawn with --no-plots). Returns 0 or -errno of f. */
int results_html_run(FILE *f, const results_rundir *r, const results_plot_list *charts);

/*
 * A comparison's report: both scenarios, the key figures side by side with deltas, the thresholds'
 * outcomes (th[0..nth)), the overlay charts. Returns 0 or -errno of f.
 */
int results_html_compare(FILE *f, const results_rundir *a, const results_rundir *b, const results_compare *c,
                         const results_threshold_result *th, size_t nth, const results_plot_list *charts);

/* Writes NAME in dir under a temporary name, renamed into place when complete: the report of a run
 * (b NULL) or of a comparison. 0 or -errno (err names the file). */
int results_html_write(const char *dir, const char *name, const results_rundir *a, const results_rundir *b,
                       const results_compare *c, const results_threshold_result *th, size_t nth,
                       const results_plot_list *charts, char *err, size_t errlen);

#endif
