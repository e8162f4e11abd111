/*
 * results_explain - what happened in a run, and why, from the files it left: the rules of
 * `tempfail explain` (docs/explain.md lists them, each with the run that triggers it).
 *
 * Each rule looks for one mechanism the library's incidents show (an idle cached session that is
 * the receiver's fourth socket, a newsletter in front of the resets, a retry schedule that brings a
 * blocked backlog straight back...) in summary.json, timeseries.csv, messages.csv and the resolved
 * scenario.yaml, and when it is there writes a finding: the mechanism in plain words with the figures
 * that show it, and the incident of the library it resembles. The scenario is read for what was
 * configured (a receiver's cap, Postfix's limits, the retry schedule), never for its description:
 * the words come from the evidence. A replay's directory has the same files, so a real run is
 * explained by the same rules.
 */
#ifndef RESULTS_EXPLAIN_H
#define RESULTS_EXPLAIN_H

#include <stddef.h>

#include "results/results_rundir.h"
#include "scenarios/scenario.h"

#define RESULTS_EXPLAIN_MAX 64

typedef struct results_explain_finding {
    const char *rule;      /* "idle-cap", ... (docs/explain.md) */
    const char *incident;  /* the library incident it resembles: "strict-cap-idle" */
    double first;          /* when it shows first, in seconds of the run; NaN when it is not a moment */
    char text[1200];       /* the finding, with its figures */
    char evidence[600];    /* where they come from: "summary.json receivers.orange.refused_by_rule ..." */
} results_explain_finding;

typedef struct results_explain {
    results_explain_finding f[RESULTS_EXPLAIN_MAX];
    size_t n;
    char note[512];        /* what could not be read (a rule skipped), or "" */
} results_explain;

/*
 * Applies every rule to the run directory dir, read as rd; s is its scenario.yaml loaded (NULL when
 * it cannot be: the rules that need the configuration are skipped, and out->note says so). Findings
 * come in the order of the rules. 0, or -1 with err when messages.csv cannot be read.
 */
int results_explain_run(const char *dir, const results_rundir *rd, const scenario *s, results_explain *out, char *err,
                        size_t errlen);

#endif
