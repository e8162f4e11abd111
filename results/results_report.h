/*
 * results_report - the human summary printed at the end of a run, from summary.json.
 *
 * What an operator asks first, in this order: did the mail go out (delivered, bounced, queued,
 * deferrals); why was it deferred (deferrals by reason); who throttled us (421s, refusals and peak
 * sessions against the cap, per receiver); how late was it (latency percentiles per class, the
 * oldest message); which destinations were declared dead, and for how long; and did the scenario's
 * `expect:` hold (PASS/FAIL per assertion). Durations read "1h02m03s" (sim_time_format), counts
 * are plain numbers; a figure the summary lacks prints as "-".
 *
 * Tables are aligned on the longest cell of each column; the first column is left-aligned, the
 * rest right-aligned. ANSI colour (bold headings, green PASS, red FAIL and over-cap sessions) only
 * when the caller says the output is a terminal, so files and pipes get plain text.
 */
#ifndef RESULTS_REPORT_H
#define RESULTS_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct results_report_opts {
    bool color;   /* ANSI colour: set when isatty(fileno(out)) and NO_COLOR is unset */
} results_report_opts;

/* Prints the summary. opts may be NULL (no colour). Returns 0 or -errno of the stream. */
int results_report_print(FILE *out, const json_t *summary, const results_report_opts *opts);

#endif
