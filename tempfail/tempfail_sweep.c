/*
 * tempfail_sweep - `tempfail sweep SCENARIO --vary KEY=VALUES ...`: many runs of one scenario, every
 * combination of the varied keys (or the i-th values together with --zip) times R replications,
 * and statistics over them (tempfail_sweep.h has the directory, docs/sweeps.md the whole story).
 *
 * This file reads the command line and the scenario's sweep: block into a definition
 * (tempfail_sweep_def, kept in sweep.json so --resume and merge can tell a sweep from another), opens
 * the sweep directory, runs the sweep through tempfail_sweep_exec and, once every run is in, has
 * tempfail_sweep_finish write the tables, the charts and report.html.
 */
#include "tempfail/tempfail_sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "sim/sim_hash.h"
#include "sim/sim_mem.h"
#include "tempfail/tempfail.h"

static const char sweep_usage[] =
    "Usage: tempfail sweep [SCENARIO.yaml] --vary KEY=VALUES [--vary ...] [options]\n"
    "       tempfail sweep merge SHARD_DIR... --out DIR\n"
    "\n"
    "Runs the scenario (the built-in default without one) for every combination of the varied keys'\n"
    "values, R replications each, and writes a sweep directory: every run, sweep.csv (one row per run,\n"
    "every figure of its summary.json), points.csv (per point: mean, standard deviation, 95% confidence\n"
    "interval by Student's t, min, max of each figure, and the share of replications whose expect:\n"
    "passed), differences.csv (each point against the one before, paired by replication), charts and\n"
    "report.html. Replication r of every point sees the same arrivals (common random numbers), so the\n"
    "differences between configurations are much more precise than their values.\n"
    "\n"
    "KEY is any --set key; VALUES a list (1,2,3,5  yes,no  \"{dist: exponential, mean: 20ms}\") or a range:\n"
    "integers 1..8 (1..9/2 for a step), numbers 0.1..0.5/0.1, durations 60s..600s/60s, rates\n"
    "10/s..50/s/10/s (both ends included). Several --vary make a grid (the last varies fastest);\n"
    "--zip pairs their i-th values instead. A scenario's `sweep:` block says the same (docs/sweeps.md).\n"
    "\n"
    "Options:\n"
    "      --vary KEY=VALUES     a key and its values (repeatable; replaces the sweep: block's vary:)\n"
    "      --zip                 point i takes the i-th value of every --vary\n"
    "  -R, --replications N      replications per point (default: the sweep: block's, else 5)\n"
    "      --until-ci FIG=WIDTH  add replications to a point until the 95% interval of figure FIG (an\n"
    "                            expect: name, like transactional.latency.p95) is narrower than WIDTH\n"
    "                            (5s, 0.01, 2%): sequential sampling, up to --max-replications\n"
    "      --max-replications N  the most replications --until-ci gives a point (default 50)\n"
    "      --figure FIG          a key figure for the charts, differences.csv and the report\n"
    "                            (repeatable; default: the expect: metrics, latency.p95, deferrals and\n"
    "                            each receiver's 421s)\n"
    "  -j, --jobs J              runs at once, each a process (default: every core); the results are\n"
    "                            the same to the byte whatever J is\n"
    "  -o, --out DIR             the sweep directory (default runs/<scenario name>-sweep)\n"
    "      --resume              complete an interrupted sweep in DIR: the runs there are kept\n"
    "      --summaries-only      keep only each run's summary.json and manifest.json (big sweeps)\n"
    "      --set KEY=VALUE       override a scenario value in every run (repeatable)\n"
    "  -s, --seed N              every run's seed (default: the scenario's)\n"
    "      --shard I/N           run only the I-th of N slices of the points (I from 0): point p is\n"
    "                            in slice p mod N; join the slices with `tempfail sweep merge`\n"
    "      --slurm               write a Slurm job array (one shard per task, a merge job after them)\n"
    "                            into DIR/slurm and submit it with sbatch\n"
    "      --slurm-opt OPT       an #SBATCH option for the array and the merge job, like\n"
    "                            --slurm-opt=--partition=batch (repeatable)\n"
    "      --slurm-shards N      array tasks (default: one per point, at most 1000)\n"
    "      --slurm-setup LINE    a shell line each job runs first, like --slurm-setup='module load\n"
    "                            gcc' (repeatable)\n"
    "      --slurm-dry-run       print the scripts and the sbatch commands instead of submitting\n"
    "      --no-plots            no charts (report.html is still written)\n"
    "      --plot-format F       png (default), svg or pdf\n"
    "  -q, --quiet               no table on stdout, no progress\n"
    "  -h, --help                this help\n"
    "\n"
    "Examples:\n"
    "  tempfail sweep --set 'mta.transports.orange.domains=[orange.test]' \\\n"
    "      --vary mta.transports.orange.destination_concurrency_limit=1..6 \\\n"
    "      --vary mta.transports.orange.smtp_connection_cache_on_demand=yes,no -R 10\n"
    "  tempfail sweep my.yaml --vary mta.postfix.minimal_backoff_time=60s..600s/60s \\\n"
    "      --until-ci transactional.latency.p95=10s --summaries-only --out runs/backoff\n"
    "  tempfail sweep my.yaml --vary ... --slurm --slurm-opt=--partition=batch --out /shared/sweep\n"
    "\n"
    "Exit status: 0 the sweep is complete; 2 bad scenario, value or command line; 3 I/O error or a run\n"
    "that failed; 130 interrupted (--resume goes on). A failed expect: is a figure, not an error.\n";

/* ---- the command line ---- */

void tempfail_sweep_cli_clear(tempfail_sweep_cli *cli)
{
    tempfail_sweep_def_clear(&cli->def);
    free(cli->slurm_opts);
    free(cli->slurm_setup);
    free(cli->minimize);
    *cli = (tempfail_sweep_cli){0};
}

static void add_str(char ***v, size_t *n, const char *s)
{
    *v = sim_xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = sim_xstrdup(s);
    (*v)[*n] = NULL;
}

static bool has_str(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static int read_hash(const char *path, uint64_t *h)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    uint64_t x = SIM_HASH_INIT;
    int c;
    while ((c = getc(f)) != EOF)
        x = sim_hash_byte(x, (unsigned char)c);
    int e = ferror(f) ? -EIO : 0;
    fclose(f);
    *h = x;
    return e;
}

/* Loads the scenario with the sweep's overrides (and extra, one more, or NULL): what every run starts from. */
static scenario *sweep_load(const tempfail_sweep_def *d, const char *extra, scenario_error *err)
{
    const char **sets = sim_xcalloc(d->nsets + 2, sizeof(*sets));
    for (size_t i = 0; i < d->nsets; i++)
        sets[i] = d->sets[i];
    size_t n = d->nsets;
    if (extra)
        sets[n++] = extra;
    scenario *s = d->scenario ? scenario_load_file(d->scenario, sets, n, err) : scenario_load_default(sets, n, err);
    free(sets);
    return s;
}

/*
 * Every value of every axis is tried once before the first run, so a typo in the last value of a
 * long grid is an error now, not an hour in. Beyond 1000 values, each axis's first and last.
 */
static int sweep_check_values(const tempfail_sweep_def *d, const char *cmd)
{
    size_t total = 0;
    for (size_t a = 0; a < d->sw.naxes; a++)
        total += d->sw.axes[a].nvalues;
    for (size_t a = 0; a < d->sw.naxes; a++) {
        const scenario_sweep_axis *ax = &d->sw.axes[a];
        for (size_t i = 0; i < ax->nvalues; i++) {
            if (total > 1000 && i != 0 && i + 1 != ax->nvalues)
                continue;
            char *set = sim_xmalloc(strlen(ax->key) + strlen(ax->values[i]) + 2);
            sprintf(set, "%s=%s", ax->key, ax->values[i]);
            scenario_error err;
            scenario *s = sweep_load(d, set, &err);
            free(set);
            if (!s) {
                fprintf(stderr, "tempfail %s: --vary %s, value '%s': %s\n", cmd, ax->key, ax->values[i], err.message);
                return TEMPFAIL_USAGE;
            }
            scenario_free(s);
        }
    }
    return 0;
}

/* The key figures: --figure, else the expect: metrics, until_ci's, minimize's, then the headline ones. */
static void sweep_figures(tempfail_sweep_def *d, const scenario *s, const char *minimize)
{
    if (d->nfigures)
        return;
    for (size_t i = 0; i < s->nexpect; i++)
        if (!has_str(d->figures, d->nfigures, s->expect[i].metric))
            add_str(&d->figures, &d->nfigures, s->expect[i].metric);
    const char *more[] = {d->sw.until_metric, minimize, "latency.p95", "messages.deferrals"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        if (more[i] && !has_str(d->figures, d->nfigures, more[i]))
            add_str(&d->figures, &d->nfigures, more[i]);
    for (size_t r = 0; r + 1 < s->nreceivers; r++) {
        char m[300];
        snprintf(m, sizeof(m), "receivers.%s.replies.421", s->receivers[r].name);
        if (!has_str(d->figures, d->nfigures, m))
            add_str(&d->figures, &d->nfigures, m);
    }
}

static int parse_count(const char *cmd, const char *opt, const char *arg, unsigned long min, unsigned long max,
                       unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
        fprintf(stderr, "tempfail %s: %s: expected a whole number from %lu to %lu, got '%s' (tempfail %s --help)\n",
                cmd, opt, min, max, arg, cmd);
        return -1;
    }
    *out = v;
    return 0;
}

int tempfail_sweep_parse(int argc, char **argv, const char *cmd, const char *usage, tempfail_sweep_cli *cli)
{
    enum {
        O_VARY = 256, O_ZIP, O_UNTIL, O_MAXREP, O_FIGURE, O_RESUME, O_SUMONLY, O_SET, O_SHARD, O_SLURM, O_SLURMOPT,
        O_SLURMDRY, O_NOPLOTS, O_PLOTFMT, O_MINIMIZE, O_SLURMSHARDS, O_SLURMSETUP
    };
    static const struct option opts[] = {
        {"vary", required_argument, NULL, O_VARY},       {"zip", no_argument, NULL, O_ZIP},
        {"replications", required_argument, NULL, 'R'},  {"until-ci", required_argument, NULL, O_UNTIL},
        {"max-replications", required_argument, NULL, O_MAXREP}, {"figure", required_argument, NULL, O_FIGURE},
        {"jobs", required_argument, NULL, 'j'},          {"out", required_argument, NULL, 'o'},
        {"resume", no_argument, NULL, O_RESUME},         {"summaries-only", no_argument, NULL, O_SUMONLY},
        {"set", required_argument, NULL, O_SET},         {"seed", required_argument, NULL, 's'},
        {"shard", required_argument, NULL, O_SHARD},     {"slurm", no_argument, NULL, O_SLURM},
        {"slurm-opt", required_argument, NULL, O_SLURMOPT}, {"slurm-dry-run", no_argument, NULL, O_SLURMDRY},
        {"slurm-shards", required_argument, NULL, O_SLURMSHARDS}, {"slurm-setup", required_argument, NULL, O_SLURMSETUP},
        {"no-plots", no_argument, NULL, O_NOPLOTS},      {"plot-format", required_argument, NULL, O_PLOTFMT},
        {"minimize", required_argument, NULL, O_MINIMIZE}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0}};
    tempfail_sweep_def *d = &cli->def;
    tempfail_sweep_opts *o = &cli->opts;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (tempfail_sweep_opts){.jobs = nproc > 0 ? (unsigned)nproc : 1, .plots = true, .fmt = RESULTS_PLOT_PNG};
    d->shard_count = 1;
    scenario_sweep cl = {0};   /* what the command line says */
    unsigned long reps = 0, maxrep = 0, v = 0;
    bool zip = false;
    char err[1024];
    int c, status = -1;
    optind = 1;
    while (status < 0 && (c = getopt_long(argc, argv, "R:j:o:s:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_VARY: {
            scenario_sweep_axis a;
            if (scenario_sweep_axis_parse(optarg, &a, err, sizeof(err)) < 0)
                status = tempfail_usage_error(cmd, "%s", err);
            else
                scenario_sweep_add_axis(&cl, &a);
            break;
        }
        case O_ZIP: zip = true; break;
        case 'R':
            if (parse_count(cmd, "--replications", optarg, 1, SCENARIO_SWEEP_MAX_REPLICATIONS, &reps) < 0)
                status = TEMPFAIL_USAGE;
            break;
        case O_MAXREP:
            if (parse_count(cmd, "--max-replications", optarg, 2, SCENARIO_SWEEP_MAX_REPLICATIONS, &maxrep) < 0)
                status = TEMPFAIL_USAGE;
            break;
        case O_UNTIL:
            if (scenario_sweep_until_parse(optarg, &cl, err, sizeof(err)) < 0)
                status = tempfail_usage_error(cmd, "%s", err);
            break;
        case O_FIGURE:
            if (!has_str(d->figures, d->nfigures, optarg))
                add_str(&d->figures, &d->nfigures, optarg);
            break;
        case 'j':
            if (parse_count(cmd, "--jobs", optarg, 1, 1024, &v) < 0)
                status = TEMPFAIL_USAGE;
            o->jobs = (unsigned)v;
            break;
        case 'o': o->out_dir = optarg; break;
        case O_RESUME: o->resume = true; break;
        case O_SUMONLY: o->summaries_only = true; break;
        case O_SET:
            if (!strchr(optarg, '='))
                status = tempfail_usage_error(cmd, "--set %s: expected KEY=VALUE", optarg);
            else
                add_str(&d->sets, &d->nsets, optarg);
            break;
        case 's': {
            char *end;
            errno = 0;
            d->seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                status = tempfail_usage_error(cmd, "--seed: expected a non-negative integer, got '%s'", optarg);
            d->seed_given = true;
            break;
        }
        case O_SHARD: {
            unsigned long i, n;
            char *end, *end2;
            i = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '/' || optarg[0] == '-' || (n = strtoul(end + 1, &end2, 10), *end2) ||
                end2 == end + 1 || n < 1 || n > 100000 || i >= n)
                status = tempfail_usage_error(cmd, "--shard: expected I/N with 0 <= I < N, like 0/4, got '%s'", optarg);
            else {
                d->shard_index = (uint32_t)i;
                d->shard_count = (uint32_t)n;
            }
            break;
        }
        case O_SLURM: cli->slurm = true; break;
        case O_SLURMDRY: cli->slurm = cli->slurm_dry_run = true; break;
        case O_SLURMOPT:
            cli->slurm_opts = sim_xrealloc(cli->slurm_opts, (cli->nslurm_opts + 1) * sizeof(char *));
            cli->slurm_opts[cli->nslurm_opts++] = optarg;
            break;
        case O_SLURMSETUP:
            if (strchr(optarg, '\n')) {
                status = tempfail_usage_error(cmd, "--slurm-setup: one shell line each (repeat the option), got '%s'",
                                              optarg);
                break;
            }
            cli->slurm_setup = sim_xrealloc(cli->slurm_setup, (cli->nslurm_setup + 1) * sizeof(char *));
            cli->slurm_setup[cli->nslurm_setup++] = optarg;
            break;
        case O_SLURMSHARDS:
            if (parse_count(cmd, "--slurm-shards", optarg, 1, 100000, &v) < 0)
                status = TEMPFAIL_USAGE;
            cli->slurm_shards = (uint32_t)v;
            break;
        case O_NOPLOTS: o->plots = false; break;
        case O_PLOTFMT:
            if (results_plot_format_parse(optarg, &o->fmt) != 0)
                status = tempfail_usage_error(cmd, "--plot-format: expected png, svg or pdf, got '%s'", optarg);
            break;
        case O_MINIMIZE:
            if (strcmp(cmd, "tune") != 0)
                status = tempfail_usage_error(cmd, "--minimize %s: that is `tempfail tune`'s", optarg);
            else {
                free(cli->minimize);
                cli->minimize = sim_xstrdup(optarg);
            }
            break;
        case 'q': o->quiet = true; break;
        case 'h':
            fputs(usage, stdout);
            status = TEMPFAIL_OK;
            break;
        default:
            fprintf(stderr, "Try 'tempfail %s --help'.\n", cmd);
            status = TEMPFAIL_USAGE;
        }
    }
    if (status < 0 && argc - optind > 1)
        status = tempfail_usage_error(cmd, "one scenario file at most (then '%s' is one too many)", argv[optind + 1]);
    if (status >= 0) {
        scenario_sweep_clear(&cl);
        return status;
    }
    if (optind < argc) {
        char abs[PATH_MAX], path[PATH_MAX], lerr[1024];
        if (tempfail_library_path(argv[optind], path, sizeof(path), lerr, sizeof(lerr)) != 0) {
            fprintf(stderr, "tempfail %s: %s\n", cmd, lerr);
            scenario_sweep_clear(&cl);
            return TEMPFAIL_USAGE;
        }
        if (!realpath(path, abs)) {
            fprintf(stderr, "tempfail %s: %s: %s\n", cmd, argv[optind], strerror(errno));
            scenario_sweep_clear(&cl);
            return TEMPFAIL_USAGE;
        }
        d->scenario = sim_xstrdup(abs);
        int e = read_hash(abs, &d->hash);
        if (e) {
            fprintf(stderr, "tempfail %s: %s: %s\n", cmd, argv[optind], strerror(-e));
            scenario_sweep_clear(&cl);
            return TEMPFAIL_USAGE;
        }
    } else {
        d->hash = sim_hash_str(SIM_HASH_INIT, "<built-in default>");
    }
    scenario_error serr;
    scenario *s = sweep_load(d, NULL, &serr);
    if (!s) {
        fprintf(stderr, "tempfail: %s\n", serr.message);
        scenario_sweep_clear(&cl);
        return TEMPFAIL_USAGE;
    }
    /* the command line over the sweep: block */
    const scenario_sweep *blk = s->sweep;
    if (cl.naxes) {
        d->sw.axes = cl.axes;
        d->sw.naxes = cl.naxes;
        cl.axes = NULL;
        cl.naxes = 0;
        d->sw.zip = zip;
    } else if (blk) {
        for (size_t a = 0; a < blk->naxes; a++) {
            scenario_sweep_axis ax = {.key = sim_xstrdup(blk->axes[a].key), .nvalues = blk->axes[a].nvalues};
            ax.values = sim_xcalloc(ax.nvalues, sizeof(*ax.values));
            for (size_t i = 0; i < ax.nvalues; i++)
                ax.values[i] = sim_xstrdup(blk->axes[a].values[i]);
            scenario_sweep_add_axis(&d->sw, &ax);
        }
        d->sw.zip = blk->zip || zip;
    }
    d->sw.replications = reps ? (uint32_t)reps
                              : blk && blk->replications ? blk->replications : TEMPFAIL_SWEEP_DEFAULT_REPLICATIONS;
    if (cl.until_metric) {
        d->sw.until_metric = cl.until_metric;
        d->sw.until_width = cl.until_width;
        cl.until_metric = NULL;
    } else if (blk && blk->until_metric) {
        d->sw.until_metric = sim_xstrdup(blk->until_metric);
        d->sw.until_width = blk->until_width;
        d->sw.until_max = blk->until_max;
    }
    if (d->sw.until_metric) {
        if (maxrep)
            d->sw.until_max = (uint32_t)maxrep;
        if (!d->sw.until_max)
            d->sw.until_max = TEMPFAIL_SWEEP_DEFAULT_MAX_REPLICATIONS;
        if (d->sw.replications < 2)
            d->sw.replications = 2; /* an interval needs two */
        if (d->sw.until_max < d->sw.replications)
            status = tempfail_usage_error(cmd, "--max-replications is below --replications (%s)", "raise it");
    } else if (maxrep) {
        status = tempfail_usage_error(cmd, "%s", "--max-replications goes with --until-ci");
    }
    if (!cli->minimize && blk && blk->minimize)
        cli->minimize = sim_xstrdup(blk->minimize);
    d->name = sim_xstrdup(s->name);
    if (!d->seed_given)
        d->seed = s->seed;
    sweep_figures(d, s, cli->minimize);
    scenario_free(s);
    scenario_sweep_clear(&cl);
    if (status >= 0)
        return status;
    if (d->sw.naxes == 0)
        return tempfail_usage_error(cmd, "%s", "what to vary? (--vary KEY=VALUES, or a sweep: block in the scenario)");
    if (!(d->npoints = scenario_sweep_npoints(d->sw.axes, d->sw.naxes, d->sw.zip, err, sizeof(err))))
        return tempfail_usage_error(cmd, "%s", err);
    if ((cli->slurm_shards || cli->nslurm_opts || cli->nslurm_setup) && !cli->slurm)
        return tempfail_usage_error(cmd, "%s", "--slurm-shards, --slurm-opt and --slurm-setup go with --slurm");
    if (cli->slurm && d->shard_count > 1)
        return tempfail_usage_error(cmd, "%s", "--slurm makes the shards itself (--slurm-shards N), not --shard");
    return sweep_check_values(d, cmd) ? TEMPFAIL_USAGE : -1;
}

/* ---- the directory ---- */

static json_t *read_json_file(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j && snprintf(err, errlen, "%s: %s", path, je.text) >= (int)errlen)
        err[errlen - 1] = '\0';
    return j;
}

/* Makes dir (and its parents) a sweep directory for d, or checks it is one for d with --resume. A
 * lock held until the process ends keeps a second sweep out. 0, or an exit status. */
static int sweep_open_dir(const tempfail_sweep_def *d, const tempfail_sweep_opts *o, const char *cmd)
{
    char path[PATH_MAX], err[PATH_MAX + 256];
    if (snprintf(path, sizeof(path), "%s/runs", o->out_dir) >= (int)sizeof(path) - 16) {
        fprintf(stderr, "tempfail %s: --out %s: the name is too long\n", cmd, o->out_dir);
        return TEMPFAIL_USAGE;
    }
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                break;
            *p = '/';
        }
    struct stat st;
    snprintf(path, sizeof(path), "%s/sweep.json", o->out_dir);
    bool has = stat(path, &st) == 0;
    if (!has && !o->resume) {
        DIR *dir = opendir(o->out_dir);
        if (dir) {
            struct dirent *e;
            bool empty = true;
            while ((e = readdir(dir)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    empty = false;
            closedir(dir);
            if (!empty) {
                fprintf(stderr, "tempfail %s: %s exists and is no sweep directory; choose another --out\n", cmd,
                        o->out_dir);
                return TEMPFAIL_USAGE;
            }
        }
    }
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tempfail %s: cannot create %s: %s\n", cmd, o->out_dir, strerror(errno));
        return TEMPFAIL_IO;
    }
    snprintf(path, sizeof(path), "%s/.lock", o->out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "tempfail %s: %s is in use by another tempfail sweep\n", cmd, o->out_dir);
        if (fd >= 0)
            close(fd);
        return TEMPFAIL_IO;
    }
    /* fd stays open (and locked) until the process ends; children inherit none of it (O_CLOEXEC
     * does not matter for fork, but flock is per open file: a child holds it only while it lives) */
    if (has) {
        if (!o->resume) {
            fprintf(stderr, "tempfail %s: %s holds a sweep already: --resume completes it, or choose another --out\n",
                    cmd, o->out_dir);
            return TEMPFAIL_USAGE;
        }
        json_t *j = read_json_file(o->out_dir, "sweep.json", err, sizeof(err));
        tempfail_sweep_def old;
        if (!j || tempfail_sweep_def_from_json(json_object_get(j, "definition"), &old, err, sizeof(err)) < 0) {
            fprintf(stderr, "tempfail %s: --resume: %s\n", cmd, err);
            json_decref(j);
            return TEMPFAIL_USAGE;
        }
        json_decref(j);
        char diff[256];
        bool same = tempfail_sweep_def_same(&old, d, diff, sizeof(diff));
        bool shard = old.shard_index == d->shard_index && old.shard_count == d->shard_count;
        tempfail_sweep_def_clear(&old);
        if (!same || !shard) {
            fprintf(stderr, "tempfail %s: --resume: %s holds another sweep (its %s differs); resume it with the same "
                    "command line, or choose another --out\n", cmd, o->out_dir, same ? "shard" : diff);
            return TEMPFAIL_USAGE;
        }
        return 0;
    }
    json_t *j = json_pack("{s:s, s:o, s:b}", "tempfail", TEMPFAIL_VERSION, "definition", tempfail_sweep_def_json(d),
                          "complete", 0);
    int e = tempfail_sweep_json_write(o->out_dir, "sweep.json", j);
    json_decref(j);
    if (e) {
        fprintf(stderr, "tempfail %s: cannot write %s/sweep.json: %s\n", cmd, o->out_dir, strerror(-e));
        return TEMPFAIL_IO;
    }
    return 0;
}

int tempfail_sweep_run(tempfail_sweep_cli *cli, results_sweep **out)
{
    tempfail_sweep_def *d = &cli->def;
    tempfail_sweep_opts *o = &cli->opts;
    char dflt[PATH_MAX];
    if (!o->out_dir) {
        snprintf(dflt, sizeof(dflt), "runs/%s-sweep", d->name);
        o->out_dir = dflt;
    }
    int status = sweep_open_dir(d, o, "sweep");
    if (status)
        return status;
    uint32_t *nreps = NULL;
    status = tempfail_sweep_exec(d, o, &nreps);
    if (!status && d->shard_count > 1) {
        /* a shard: its runs are all there; the tables come with `merge` */
        json_t *j = json_pack("{s:s, s:o, s:b}", "tempfail", TEMPFAIL_VERSION, "definition",
                              tempfail_sweep_def_json(d), "complete", 1);
        int e = tempfail_sweep_json_write(o->out_dir, "sweep.json", j);
        json_decref(j);
        if (e) {
            fprintf(stderr, "tempfail sweep: cannot write %s/sweep.json: %s\n", o->out_dir, strerror(-e));
            status = TEMPFAIL_IO;
        } else if (!o->quiet) {
            printf("shard %" PRIu32 "/%" PRIu32 " of the sweep is complete in %s; join the shards with "
                   "`tempfail sweep merge DIR... --out DIR`\n",
                   d->shard_index, d->shard_count, o->out_dir);
        }
    } else if (!status) {
        status = tempfail_sweep_finish(d, o->out_dir, nreps, o->plots, o->fmt, o->quiet, out);
    }
    free(nreps);
    return status;
}

int tempfail_sweep_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return tempfail_sweep_merge_main(argc - 1, argv + 1);
    tempfail_sweep_cli cli = {0};
    int status = tempfail_sweep_parse(argc, argv, "sweep", sweep_usage, &cli);
    if (status < 0)
        status = cli.slurm ? tempfail_sweep_slurm(&cli, argc, argv) : tempfail_sweep_run(&cli, NULL);
    tempfail_sweep_cli_clear(&cli);
    return status;
}
