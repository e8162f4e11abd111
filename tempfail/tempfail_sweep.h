/*
 * tempfail_sweep - what `tempfail sweep`, `tempfail sweep merge` and `tempfail tune` share: a sweep's
 * definition (the scenario, its --set overrides, the axes, replications, the sequential-sampling rule,
 * the shard), the sweep directory it lives in, the runs as child processes, and the tables, charts and
 * report a complete sweep directory holds (docs/sweeps.md).
 *
 * A sweep directory:
 *   sweep.json            the definition; `--resume` and `merge` refuse a definition that differs
 *   runs/pPPPPPP-rRRRR/   each run directory (summary.json and manifest.json only with --summaries-only)
 *   sweep.csv points.csv differences.csv, charts, report.html   once every run is there
 *   slurm/                the job-array and merge scripts of --slurm
 * A run directory appears whole or not at all (results_dir), so what a killed sweep leaves is a set
 * of complete runs that --resume keeps, and no tables until the last run is in.
 */
#ifndef TEMPFAIL_SWEEP_H
#define TEMPFAIL_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "results/results_plot.h"
#include "results/results_sweep.h"
#include "scenarios/scenario_sweep.h"

#define TEMPFAIL_SWEEP_DEFAULT_REPLICATIONS 5
#define TEMPFAIL_SWEEP_DEFAULT_MAX_REPLICATIONS 50

typedef struct tempfail_sweep_def {
    char *scenario;          /* the scenario file, absolute; NULL: the built-in default */
    char *name;              /* the scenario's name */
    uint64_t hash;           /* FNV-1a of the scenario file's bytes (a changed file is a new sweep) */
    char **sets;             /* --set overrides every run gets */
    size_t nsets;
    scenario_sweep sw;       /* axes, zip, replications (filled), until_ci (until_max filled), minimize */
    size_t npoints;
    bool seed_given;
    uint64_t seed;           /* every run's seed (the scenario's unless --seed) */
    char **figures;          /* the key figures: charts, differences.csv, the report */
    size_t nfigures;
    uint32_t shard_index, shard_count;  /* points p with p % count == index; count 1: all */
} tempfail_sweep_def;

/* How to run it. */
typedef struct tempfail_sweep_opts {
    const char *out_dir;
    unsigned jobs;           /* child processes at once */
    bool resume, summaries_only, quiet, plots;
    results_plot_format fmt;
} tempfail_sweep_opts;

void tempfail_sweep_def_clear(tempfail_sweep_def *d);
/* The definition as sweep.json holds it (a new reference). */
json_t *tempfail_sweep_def_json(const tempfail_sweep_def *d);
/* The definition of a sweep.json (into *d, which the caller clears); 0, or -1 with err. */
int tempfail_sweep_def_from_json(const json_t *j, tempfail_sweep_def *d, char *err, size_t errlen);
/* Whether a and b are the same sweep, the shard aside; else false with what differs in diff. */
bool tempfail_sweep_def_same(const tempfail_sweep_def *a, const tempfail_sweep_def *b, char *diff, size_t len);

/* Writes j to DIR/NAME whole (a temporary file renamed into place); 0 or -errno. */
int tempfail_sweep_json_write(const char *dir, const char *name, const json_t *j);

/* "DIR/runs/p000003-r0002" into buf. */
void tempfail_sweep_run_dir(char *buf, size_t len, const char *dir, size_t point, uint32_t rep);
/* The --set text of point p's value on axis a ("KEY=VALUE", allocated). */
char *tempfail_sweep_point_set(const tempfail_sweep_def *d, size_t p, size_t a);

/*
 * Runs every run of d's shard that the directory does not hold yet, opts.jobs at a time, each in a
 * child process, with the until_ci rule applied point by point. nreps (d->npoints entries, allocated)
 * gets each point's replications. Returns 0, TEMPFAIL_USAGE (a run's scenario is bad), TEMPFAIL_IO, or
 * 130 when interrupted; the runs that completed stay.
 */
int tempfail_sweep_exec(const tempfail_sweep_def *d, const tempfail_sweep_opts *o, uint32_t **nreps);

/* Writes the tables, charts and report.html of a complete sweep directory; *out (may be NULL) gets
 * the tables' figures for the caller (tune). Returns an exit status. */
int tempfail_sweep_finish(const tempfail_sweep_def *d, const char *dir, const uint32_t *nreps, bool plots,
                          results_plot_format fmt, bool quiet, results_sweep **out);

/*
 * Reads `tempfail sweep` options (argv without the command word) into d and o; the axes from --vary
 * or the scenario's sweep: block. cmd names the command in messages ("sweep", "tune"); extra options
 * the caller handles itself are passed to extra (NULL: none), which returns 0, or an exit status.
 * Returns -1 when everything was read (go on), else the exit status (0 after --help).
 */
typedef struct tempfail_sweep_cli {
    tempfail_sweep_def def;
    tempfail_sweep_opts opts;
    bool slurm, slurm_dry_run;
    uint32_t slurm_shards;   /* --slurm-shards; 0: one per point, at most 1000 */
    char **slurm_opts;       /* --slurm-opt: #SBATCH lines */
    size_t nslurm_opts;
    char **slurm_setup;      /* --slurm-setup: shell lines run before tempfail in every job */
    size_t nslurm_setup;
    char *minimize;          /* tune --minimize */
} tempfail_sweep_cli;
int tempfail_sweep_parse(int argc, char **argv, const char *cmd, const char *usage, tempfail_sweep_cli *cli);
void tempfail_sweep_cli_clear(tempfail_sweep_cli *cli);

/* Runs the parsed sweep into its directory (a shard or the whole) and finishes it; an exit status. */
int tempfail_sweep_run(tempfail_sweep_cli *cli, results_sweep **out);

/* `tempfail sweep merge DIR... --out DIR` (argv from "merge"). */
int tempfail_sweep_merge_main(int argc, char **argv);
/* `--slurm`: writes the job-array and merge scripts into the sweep directory and submits them (or
 * prints them with --slurm-dry-run). An exit status. */
int tempfail_sweep_slurm(const tempfail_sweep_cli *cli, int argc, char **argv);

#endif
