/*
 * tempfail - the command line (`tempfail run`, `plot`, `compare`, `maillog`), and the glue between a scenario, the
 * world it describes and the run directory it leaves.
 */
#ifndef TEMPFAIL_H
#define TEMPFAIL_H

#include <jansson.h>

#include "harness/harness_replay.h"
#include "models/world.h"
#include "results/results_messages.h"
#include "results/results_dir.h"
#include "results/results_plot.h"
#include "scenarios/scenario.h"
#include "sim/sim_run.h"

/* Exit statuses, documented in --help and the man page. */
enum { TEMPFAIL_OK = 0, TEMPFAIL_EXPECT_FAILED = 1, TEMPFAIL_USAGE = 2, TEMPFAIL_IO = 3 };

int tempfail_run_main(int argc, char **argv);
int tempfail_replay_main(int argc, char **argv);
int tempfail_validate_main(int argc, char **argv);
int tempfail_calibrate_main(int argc, char **argv);
int tempfail_sweep_main(int argc, char **argv);
int tempfail_tune_main(int argc, char **argv);
int tempfail_list_main(int argc, char **argv);
int tempfail_show_main(int argc, char **argv);
int tempfail_incident_main(int argc, char **argv);
int tempfail_explain_main(int argc, char **argv);

/* The scenario library (tempfail_library.c, in scenario_library_dir()): the file a command's
 * SCENARIO argument names: arg itself when it is a file (or looks like one), else the library
 * scenario of that name. 0, or -1 with a message in err (no such scenario, or a name that fits
 * several). */
int tempfail_library_path(const char *arg, char *out, size_t len, char *err, size_t errlen);
/* A library file's first comment line without its "# " ("Orange / Wanadoo: ..."), or "". */
void tempfail_library_comment(const char *path, char *b, size_t len);

/* What `tempfail run` does once the scenario is loaded, for the commands that run simulations of
 * their own (validate). */
typedef struct tempfail_run_opts {
    const char *out_dir;            /* NULL: runs/<scenario name> */
    bool maillog, trace_scheduler, quiet, no_progress, plots;
    bool summary_only;              /* only summary.json and manifest.json (a sweep's --summaries-only):
                                       no time series, no message table, no scenario.yaml, no report */
    bool quiet_expect;              /* no "expect failed" lines on stderr (a sweep's runs: a figure) */
    results_plot_format plot_fmt;
    uint64_t max_queue;             /* the memory guard (sim_run_config.max_queue); 0: TEMPFAIL_MAX_QUEUE */
} tempfail_run_opts;
/* Messages a run may hold at once by default: each costs about 150 bytes (500,000 queued: 73 MB of RSS). */
#define TEMPFAIL_MAX_QUEUE 5000000u
/* How a command that wrote a run directory's data files ends it (tempfail_rundir.c). */
typedef struct tempfail_rundir_end {
    const char *cmd;               /* message prefix: "tempfail", "tempfail replay" */
    const char *out_dir;           /* the directory's final path */
    bool plots, quiet;
    bool summary_only;             /* summary.json and manifest.json only */
    bool quiet_expect;             /* no "expect failed" lines on stderr */
    results_plot_format fmt;
    double wall_time;              /* manifest: seconds the run took */
    uint64_t events, peak_rss;     /* manifest: 0 to omit */
} tempfail_rundir_end;
/*
 * Evaluates the scenario's `expect:` into summary, writes summary.json, manifest.json and
 * scenario.yaml, draws the charts and report.html, and commits dir (or aborts it when werr, an
 * earlier write's -errno, or anything here failed); prints the report and the failed assertions.
 * dir is consumed, summary stays the caller's. Returns the command's exit status.
 */
int tempfail_rundir_finish(results_dir *dir, const scenario *s, json_t *summary, const tempfail_rundir_end *e,
                           int werr);
/* Simulates s (which it frees) into its run directory; the exit status of `tempfail run`. */
int tempfail_run_scenario(scenario *s, const tempfail_run_opts *ro);
/* What `tempfail replay` does once the scenario is loaded: replays s (which it frees) into out_dir
 * (NULL: runs/<name>-replay) and returns the command's exit status; *summary_out (when not NULL)
 * gets the summary of a replay that completed (a new reference). */
int tempfail_replay_scenario(scenario *s, const harness_replay_opts *ro, const char *out_dir, bool plots, bool quiet,
                             json_t **summary_out);
/* testsmtpd beside this tempfail (a build directory, an installation's sbin), else in PATH. */
bool tempfail_find_testsmtpd(char *buf, size_t len);
/* "tempfail CMD: <fmt with arg> (tempfail CMD --help)" on stderr; returns TEMPFAIL_USAGE. */
int tempfail_usage_error(const char *cmd, const char *fmt, const char *arg);
int tempfail_plot_main(int argc, char **argv);
int tempfail_compare_main(int argc, char **argv);
int tempfail_maillog_main(int argc, char **argv);
int tempfail_import_main(int argc, char **argv);
/*
 * Draws the charts (unless !plots) and report.html (if report) of the run directory dir from its
 * files; shown is the path the report names (dir itself when NULL: `tempfail run` draws into the
 * partial directory before it is renamed). 0, or nonzero with err saying what and where.
 */
int tempfail_plot_dir(const char *dir, const char *shown, bool plots, results_plot_format fmt, bool report, char *err,
                      size_t errlen);
/* tally: the message records' figures (results_messages_tally), fed every record of the run. */
json_t *tempfail_summary_build(const scenario *s, world *w, const sim_run_result *run,
                              const results_messages_tally *tally);
/* A destination's public name: "smtp:orange.test", or "mta2/smtp:orange.test" with several hosts. */
void tempfail_dest_name(world *w, size_t host, const mta_dest_stats *d, char *buf, size_t len);

#endif
