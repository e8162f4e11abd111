/*
 * tempfail_incident - `tempfail incident NAME`: an incident of the library (or any directory with a
 * before.yaml and an after.yaml) run over several seeds, and the check that the fix works.
 *
 * after.yaml's `fixes:` block (scenario_fixes.h) names the broken scenario, the figure the story is
 * about and the margin. For seeds 1..N both are run (summary.json only, each in a child process,
 * --jobs at a time, as a sweep runs its points) and, seed for seed, three things must hold: the
 * before's expect: (it shows the problem), the after's expect: (the problem is gone) and the margin.
 * The table says which did not; incident.csv keeps it for other tools. Exit 0 when all held, 1 when
 * one did not, 2 for a bad command line or scenario, 3 when a run could not be written.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/results_expect.h"
#include "results/results_fmt.h"
#include "scenarios/scenario_fixes.h"
#include "sim/sim_mem.h"

static const char usage[] =
    "Usage: tempfail incident NAME | DIR | AFTER.yaml [options]\n"
    "\n"
    "Runs an incident's broken configuration (before.yaml) and its fix (after.yaml) over seeds 1..N\n"
    "and checks, seed for seed, that the before's expect: holds (it shows the problem), that the\n"
    "after's does (the problem is gone), and that the after beats the before on the figure its\n"
    "`fixes:` block names, by the margin it states (docs/scenario.md, fixes):\n"
    "\n"
    "  fixes: { before: before.yaml, metric: transactional.latency.p95, lower_by: 5x }\n"
    "\n"
    "NAME is an incident of the library (`tempfail list`: incidents/NAME/after), DIR a directory\n"
    "holding after.yaml. The runs (summary.json each) go to OUT/before-sN and OUT/after-sN, and the\n"
    "table to OUT/incident.csv.\n"
    "\n"
    "Options:\n"
    "  --seeds N        seeds 1..N (default: the fixes: block's seeds, 5)\n"
    "  -j, --jobs J     runs at once (default: every core)\n"
    "  -o, --out DIR    where the runs go (default runs/incident-NAME)\n"
    "  --set KEY=VALUE  applied to both scenarios (before the seed)\n"
    "  -q, --quiet      only the verdict line\n"
    "  -h, --help       this help\n"
    "\n"
    "Exit status: 0 the fix held in every seed; 1 it did not (a line says which seed and what);\n"
    "2 a bad command line or scenario; 3 a run failed or its directory could not be written.\n"
    "\n"
    "Examples:\n"
    "  tempfail incident strict-cap-idle\n"
    "  tempfail incident scenarios/incidents/login-codes --seeds 10 --jobs 4\n";

typedef struct inc_run {
    const char *path;  /* the scenario */
    uint32_t seed;
    char dir[PATH_MAX + 32];
    int status;        /* the child's exit status; -1 while not run */
    double value;
} inc_run;

static void inc_child(const inc_run *r, const char *const *sets, size_t nsets, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(TEMPFAIL_IO);
    const char **all = sim_xcalloc(nsets + 2, sizeof(*all));
    for (size_t i = 0; i < nsets; i++)
        all[i] = sets[i];
    char seed[40];
    snprintf(seed, sizeof(seed), "seed=%u", r->seed);
    all[nsets] = seed;
    scenario_error err;
    scenario *s = scenario_load_file(r->path, all, nsets + 1, &err);
    if (!s) {
        fprintf(stderr, "tempfail incident: %s\n", err.message);
        _exit(TEMPFAIL_USAGE);
    }
    tempfail_run_opts ro = {.out_dir = r->dir, .quiet = true, .no_progress = true, .summary_only = true,
                            .quiet_expect = true};
    int rc = tempfail_run_scenario(s, &ro);
    fflush(NULL);
    _exit(rc);
}

/* Runs every run, jobs at a time; 0, or the first failed child's status beyond "expect failed". */
static int inc_exec(inc_run *runs, size_t n, unsigned jobs, const char *const *sets, size_t nsets)
{
    pid_t *pid = sim_xcalloc(jobs, sizeof(*pid));
    size_t *which = sim_xcalloc(jobs, sizeof(*which));
    size_t next = 0, active = 0;
    int status = 0;
    pid_t self = getpid();
    while (next < n || active) {
        while (next < n && active < jobs && !status) {
            fflush(NULL);
            pid_t p = fork();
            if (p < 0) {
                fprintf(stderr, "tempfail incident: fork: %s\n", strerror(errno));
                status = TEMPFAIL_IO;
                break;
            }
            if (p == 0)
                inc_child(&runs[next], sets, nsets, self);
            size_t k = 0;
            while (pid[k])
                k++;
            pid[k] = p;
            which[k] = next++;
            active++;
        }
        if (!active)
            break;
        int ws;
        pid_t p = wait(&ws);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (unsigned k = 0; k < jobs; k++)
            if (pid[k] == p) {
                inc_run *r = &runs[which[k]];
                r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
                if (r->status > TEMPFAIL_EXPECT_FAILED && !status)
                    status = r->status == TEMPFAIL_USAGE ? TEMPFAIL_USAGE : TEMPFAIL_IO;
                pid[k] = 0;
                active--;
            }
    }
    free(pid);
    free(which);
    return status;
}

/* The metric of a finished run; -1 with a message when it has none. */
static int inc_value(inc_run *r, const char *metric)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/summary.json", r->dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "tempfail incident: %s: %s\n", path, je.text);
        return -1;
    }
    int rc = results_expect_resolve(j, metric, &r->value);
    if (rc == -ENODATA) {
        r->value = NAN;
        rc = 0;
    } else if (rc < 0) {
        char near[300], hint[340] = "";
        if (results_expect_suggest(j, metric, near, sizeof(near)) == 0)
            snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
        fprintf(stderr, "tempfail incident: fixes.metric: %s is not a figure of %s%s\n", metric, path, hint);
    }
    json_decref(j);
    return rc < 0 ? -1 : 0;
}

/* The after.yaml an argument names: a directory's, a file, or the library's incidents/NAME/after. */
static int inc_resolve(const char *arg, char *out, size_t len)
{
    struct stat st;
    char err[1024];
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(out, len, "%s/after.yaml", arg) >= len || stat(out, &st) != 0) {
            fprintf(stderr, "tempfail incident: %s: no after.yaml in this directory\n", arg);
            return -1;
        }
        return 0;
    }
    if (tempfail_library_path(arg, out, len, err, sizeof(err)) == 0)
        return 0;
    char name[PATH_MAX];
    snprintf(name, sizeof(name), "incidents/%s/after", arg);
    if (!strstr(arg, "..") && tempfail_library_path(name, out, len, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, "tempfail incident: '%s' is no incident: not a directory with after.yaml, a scenario file or a "
                    "library incident (tempfail list)\n", arg);
    return -1;
}

/* mkdir -p: the directory and its missing parents. */
static int inc_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void inc_dirname(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(out, len, ".");
}

static void inc_fmt(char *b, size_t len, double v)
{
    if (isnan(v))
        snprintf(b, len, "-");
    else
        results_fmt_sig(b, len, v, 4);
}

typedef struct inc_table {
    const inc_run *runs;
    uint32_t seeds;
    const scenario_fixes *f;
} inc_table;

static int inc_write_csv(FILE *fp, void *ctx)
{
    const inc_table *t = ctx;
    fprintf(fp, "seed,before,after,margin_holds,before_expect,after_expect\n");
    for (uint32_t i = 0; i < t->seeds; i++) {
        const inc_run *b = &t->runs[2 * i], *a = &t->runs[2 * i + 1];
        char vb[64], va[64];
        inc_fmt(vb, sizeof(vb), b->value);
        inc_fmt(va, sizeof(va), a->value);
        fprintf(fp, "%u,%s,%s,%s,%s,%s\n", b->seed, isnan(b->value) ? "" : vb, isnan(a->value) ? "" : va,
                scenario_fixes_holds(t->f, b->value, a->value) ? "yes" : "no", b->status == 0 ? "pass" : "fail",
                a->status == 0 ? "pass" : "fail");
    }
    return ferror(fp) ? -EIO : 0;
}

int tempfail_incident_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seeds", required_argument, NULL, 'S'}, {"jobs", required_argument, NULL, 'j'},
        {"out", required_argument, NULL, 'o'},   {"set", required_argument, NULL, 'x'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char **sets = sim_xcalloc((size_t)argc + 1, sizeof(*sets));
    size_t nsets = 0;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned jobs = nproc > 0 ? (unsigned)nproc : 1;
    unsigned long seeds = 0;
    const char *out = NULL;
    bool quiet = false;
    int c, status = 0;
    optind = 1;
    while (!status && (c = getopt_long(argc, argv, "j:o:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'S':
        case 'j': {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            unsigned long max = c == 'S' ? SCENARIO_FIXES_MAX_SEEDS : 1024;
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > max) {
                fprintf(stderr, "tempfail incident: %s: expected a whole number from 1 to %lu, got '%s' (tempfail "
                                "incident --help)\n", c == 'S' ? "--seeds" : "--jobs", max, optarg);
                status = TEMPFAIL_USAGE;
            } else if (c == 'S')
                seeds = v;
            else
                jobs = (unsigned)v;
            break;
        }
        case 'o': out = optarg; break;
        case 'x':
            if (!strchr(optarg, '='))
                status = tempfail_usage_error("incident", "--set %s: expected KEY=VALUE", optarg);
            else
                sets[nsets++] = optarg;
            break;
        case 'q': quiet = true; break;
        case 'h': fputs(usage, stdout); free(sets); return TEMPFAIL_OK;
        default: status = TEMPFAIL_USAGE; break;
        }
    }
    if (!status && optind >= argc)
        status = tempfail_usage_error("incident", "expected an incident: a library name (tempfail list), a directory or an after.yaml%s", "");
    else if (!status && optind != argc - 1)
        status = tempfail_usage_error("incident", "one incident at most (then '%s' is one too many)", argv[optind + 1]);
    char after[PATH_MAX], before[PATH_MAX], dir[PATH_MAX], err[1024];
    if (!status && inc_resolve(argv[optind], after, sizeof(after)) < 0)
        status = TEMPFAIL_USAGE;
    scenario *sa = NULL, *sb = NULL;
    scenario_error serr;
    if (!status && !(sa = scenario_load_file(after, sets, nsets, &serr))) {
        fprintf(stderr, "tempfail incident: %s\n", serr.message);
        status = TEMPFAIL_USAGE;
    }
    if (!status && !sa->fixes) {
        fprintf(stderr, "tempfail incident: %s has no fixes: block, so it names no scenario it fixes (docs/scenario.md, "
                        "fixes)\n", after);
        status = TEMPFAIL_USAGE;
    }
    if (!status) {
        char real[PATH_MAX];
        inc_dirname(realpath(after, real) ? real : after, dir, sizeof(dir));
        struct stat st;
        const char *b = sa->fixes->before;
        if (b[0] == '/')
            snprintf(before, sizeof(before), "%s", b);
        else if ((size_t)snprintf(before, sizeof(before), "%s/%s", dir, b) >= sizeof(before) || stat(before, &st) != 0) {
            if (tempfail_library_path(b, before, sizeof(before), err, sizeof(err)) != 0) {
                fprintf(stderr, "tempfail incident: %s: fixes.before: %s is neither a file beside it nor a library "
                                "scenario\n", after, b);
                status = TEMPFAIL_USAGE;
            }
        }
    }
    if (!status && !(sb = scenario_load_file(before, sets, nsets, &serr))) {
        fprintf(stderr, "tempfail incident: %s\n", serr.message);
        status = TEMPFAIL_USAGE;
    }
    if (status) {
        scenario_free(sa);
        free(sets);
        return status;
    }
    scenario_fixes f = *sa->fixes;
    f.before = NULL;
    f.metric = sim_xstrdup(sa->fixes->metric);
    if (!seeds)
        seeds = sa->fixes->seeds;
    const char *slash = strrchr(dir, '/');
    char name[256], outbuf[PATH_MAX];
    snprintf(name, sizeof(name), "%.200s", slash ? slash + 1 : dir);
    if (!strcmp(name, ".") || !name[0])
        snprintf(name, sizeof(name), "%.200s", sa->name);
    if (!out) {
        snprintf(outbuf, sizeof(outbuf), "runs/incident-%s", name);
        out = outbuf;
    }
    scenario_free(sa);
    scenario_free(sb);
    int mrc = inc_mkdirs(out);
    if (mrc < 0) {
        fprintf(stderr, "tempfail incident: %s: %s\n", out, strerror(-mrc));
        free(sets);
        free(f.metric);
        return TEMPFAIL_IO;
    }
    size_t n = 2 * (size_t)seeds;
    inc_run *runs = sim_xcalloc(n, sizeof(*runs));
    for (size_t i = 0; i < n; i++) {
        runs[i].path = i % 2 ? after : before;
        runs[i].seed = (uint32_t)(i / 2 + 1);
        runs[i].status = -1;
        runs[i].value = NAN;
        snprintf(runs[i].dir, sizeof(runs[i].dir), "%s/%s-s%u", out, i % 2 ? "after" : "before", runs[i].seed);
    }
    status = inc_exec(runs, n, jobs, sets, nsets);
    for (size_t i = 0; i < n && !status; i++)
        if (inc_value(&runs[i], f.metric) < 0)
            status = TEMPFAIL_USAGE;
    if (!status) {
        char margin[64];
        inc_fmt(margin, sizeof(margin), f.by);
        if (!quiet) {
            printf("incident %s: %s must be %s by %s%s than before's, seed for seed (seeds 1..%lu)\n", name, f.metric,
                   f.higher ? "higher" : "lower", margin, f.ratio ? "x" : "", seeds);
            printf("%5s  %12s  %12s  %8s  %-6s  %-13s  %-12s\n", "seed", "before", "after", f.ratio ? "factor" : "diff",
                   "margin", "before expect", "after expect");
        }
        uint32_t bad = 0;
        for (uint32_t i = 0; i < seeds; i++) {
            const inc_run *b = &runs[2 * i], *a = &runs[2 * i + 1];
            bool holds = scenario_fixes_holds(&f, b->value, a->value);
            double got = f.ratio ? (f.higher ? a->value / b->value : b->value / a->value)
                                 : (f.higher ? a->value - b->value : b->value - a->value);
            char vb[64], va[64], vg[64];
            inc_fmt(vb, sizeof(vb), b->value);
            inc_fmt(va, sizeof(va), a->value);
            if (f.ratio && got > 1e6)
                snprintf(vg, sizeof(vg), "inf");
            else
                inc_fmt(vg, sizeof(vg), got);
            if (!quiet)
                printf("%5u  %12s  %12s  %8s  %-6s  %-13s  %-12s\n", b->seed, vb, va, vg, holds ? "holds" : "FAILS",
                       b->status == 0 ? "pass" : "FAIL", a->status == 0 ? "pass" : "FAIL");
            if (!holds || b->status != 0 || a->status != 0)
                bad++;
        }
        inc_table t = {runs, (uint32_t)seeds, &f};
        if (results_dir_write_file(out, "incident.csv", inc_write_csv, &t, err, sizeof(err)) < 0) {
            fprintf(stderr, "tempfail incident: %s\n", err);
            status = TEMPFAIL_IO;
        } else if (bad) {
            printf("incident %s: the fix did not hold in %u of %lu seeds (runs in %s; a failed expect: is in its "
                   "summary.json)\n", name, bad, seeds, out);
            status = TEMPFAIL_EXPECT_FAILED;
        } else {
            printf("incident %s: the fix holds in all %lu seeds (runs in %s)\n", name, seeds, out);
        }
    }
    free(runs);
    free(sets);
    free(f.metric);
    return status;
}
