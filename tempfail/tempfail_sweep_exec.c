/*
 * tempfail_sweep_exec - a sweep's runs, each in a child process, --jobs at a time.
 *
 * A child is forked from the sweep itself (no exec: the program is already loaded), loads the
 * scenario with the sweep's and the point's --set overrides, runs replication r into
 * runs/pPPPPPP-rRRRR as `tempfail run --replication r` would, and exits with run's status; it dies
 * with its parent (PR_SET_PDEATHSIG), so a killed sweep leaves no orphan writing into the directory.
 * A run whose summary.json is there is complete (its directory was renamed into place whole) and is
 * not run again: that is --resume.
 *
 * --until-ci: point p starts with `replications` runs; while the 95% interval of the figure over
 * runs 0..n-1 is not narrower than the width, and n is below the maximum, it gets more. The number a
 * point ends with is the first n that meets the rule, checked n by n in replication order, so it
 * depends on the runs alone: runs started ahead (a batch of up to --jobs at once, sized from how far
 * the interval is from the width) and not needed are removed.
 */
#include "tempfail/tempfail_sweep.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "results/results_expect.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"
#include "tempfail/tempfail.h"

typedef struct exec_point {
    uint32_t target;        /* runs 0..target-1 are wanted */
    uint32_t done;          /* runs 0..done-1 are complete (in order: the rule reads them so) */
    uint32_t running;
    bool final;
    bool *have;             /* [target cap] complete, out of order */
    double *metric;         /* [target cap] the until_ci figure of each run */
    uint32_t cap;
} exec_point;

typedef struct exec_task {
    size_t point;
    uint32_t rep;
} exec_task;

typedef struct exec_state {
    const tempfail_sweep_def *d;
    const tempfail_sweep_opts *o;
    exec_point *pt;
    exec_task *queue;       /* pending, in order ... */
    size_t nqueue, qhead, qcap;
    exec_task *front;       /* ... after these (the extra runs of --until-ci, a stack) */
    size_t nfront, fcap;
    struct { pid_t pid; exec_task t; } *child;
    size_t nchild;
    size_t runs_done, runs_total;
    int status;
} exec_state;

static volatile sig_atomic_t exec_interrupted;
static void exec_on_signal(int sig) { exec_interrupted = sig; }

static bool exec_complete(const tempfail_sweep_def *d, const char *dir, size_t p, uint32_t r)
{
    (void)d;
    char path[4200];
    tempfail_sweep_run_dir(path, sizeof(path) - 16, dir, p, r);
    strcat(path, "/summary.json");
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void exec_point_grow(exec_point *pt, uint32_t n)
{
    if (n <= pt->cap)
        return;
    pt->have = sim_xrealloc(pt->have, n * sizeof(*pt->have));
    pt->metric = sim_xrealloc(pt->metric, n * sizeof(*pt->metric));
    for (uint32_t i = pt->cap; i < n; i++) {
        pt->have[i] = false;
        pt->metric[i] = NAN;
    }
    pt->cap = n;
}

/* The until_ci figure of run (p, r); NAN when the run has none. -1 when the name is no figure at all. */
static int exec_metric(exec_state *st, size_t p, uint32_t r, double *v)
{
    char path[4200], err[256];
    tempfail_sweep_run_dir(path, sizeof(path) - 16, st->o->out_dir, p, r);
    strcat(path, "/summary.json");
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "tempfail sweep: %s: %s\n", path, je.text);
        return -2;
    }
    int rc = results_expect_resolve(j, st->d->sw.until_metric, v);
    if (rc == -ENOENT || rc == -EINVAL) {
        char hint[300] = "";
        if (results_expect_suggest(j, st->d->sw.until_metric, err, sizeof(err)) == 0)
            snprintf(hint, sizeof(hint), " (did you mean '%s'?)", err);
        fprintf(stderr, "tempfail sweep: --until-ci: %s is not a figure of the summary%s\n", st->d->sw.until_metric,
                hint);
        json_decref(j);
        return -1;
    }
    if (rc != 0)
        *v = NAN;
    json_decref(j);
    return 0;
}

static void exec_push_front(exec_state *st, size_t p, uint32_t r)
{
    st->front = sim_xgrow(st->front, &st->fcap, st->nfront + 1, sizeof(*st->front), 16);
    st->front[st->nfront++] = (exec_task){p, r};
}

static void exec_remove_run(exec_state *st, size_t p, uint32_t r)
{
    char path[4200];
    tempfail_sweep_run_dir(path, sizeof(path), st->o->out_dir, p, r);
    results_dir_remove_tree(path);
}

/*
 * Point p's runs 0..done-1 are in order: applies the until_ci rule from replication `replications`
 * on and decides whether the point is final or which runs it gets next.
 */
static int exec_decide(exec_state *st, size_t p)
{
    const tempfail_sweep_def *d = st->d;
    exec_point *pt = &st->pt[p];
    if (pt->final || pt->running || pt->done < pt->target)
        return 0;
    if (!d->sw.until_metric) {
        pt->final = true;
        return 0;
    }
    sim_tally t = {0};
    sim_tally_reset(&t);
    double half = NAN;
    for (uint32_t n = 0; n < pt->done; n++) {
        if (!isnan(pt->metric[n]))
            sim_tally_add(&t, pt->metric[n]);
        if (n + 1 < d->sw.replications)
            continue;
        half = sim_tally_ci_halfwidth(&t, 0.95);
        if ((!isnan(half) && 2 * half < d->sw.until_width) || n + 1 >= d->sw.until_max) {
            /* final at n + 1 runs: what ran ahead goes */
            for (uint32_t r = n + 1; r < pt->target; r++)
                exec_remove_run(st, p, r);
            pt->target = pt->done = n + 1;
            pt->final = true;
            return 0;
        }
    }
    uint32_t want = pt->done + 1;
    if (!isnan(half) && half > 0) {
        double need = ceil((double)pt->done * pow(2 * half / d->sw.until_width, 2));
        if (need > want)
            want = need > d->sw.until_max ? d->sw.until_max : (uint32_t)need;
    }
    uint32_t batch = st->o->jobs ? st->o->jobs : 1;
    if (want > pt->done + batch)
        want = pt->done + batch;
    if (want > d->sw.until_max)
        want = d->sw.until_max;
    exec_point_grow(pt, want);
    for (uint32_t r = want; r-- > pt->done;)
        exec_push_front(st, p, r);
    st->runs_total += want - pt->target;
    pt->target = want;
    return 0;
}

/* A run of point p completed (or was found complete). */
static int exec_completed(exec_state *st, size_t p, uint32_t r)
{
    exec_point *pt = &st->pt[p];
    pt->have[r] = true;
    if (st->d->sw.until_metric) {
        int rc = exec_metric(st, p, r, &pt->metric[r]);
        if (rc < 0)
            return TEMPFAIL_USAGE;
    }
    while (pt->done < pt->target && pt->have[pt->done])
        pt->done++;
    return exec_decide(st, p);
}

static void exec_child(const exec_state *st, exec_task t, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the sweep died between fork and prctl: no orphan runs on */
        _exit(TEMPFAIL_IO);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    const tempfail_sweep_def *d = st->d;
    size_t n = d->nsets + d->sw.naxes;
    const char **sets = sim_xcalloc(n + 1, sizeof(*sets));
    for (size_t i = 0; i < d->nsets; i++)
        sets[i] = d->sets[i];
    for (size_t a = 0; a < d->sw.naxes; a++)
        sets[d->nsets + a] = tempfail_sweep_point_set(d, t.point, a);
    scenario_error err;
    scenario *s = d->scenario ? scenario_load_file(d->scenario, sets, n, &err) : scenario_load_default(sets, n, &err);
    if (!s) {
        fprintf(stderr, "tempfail sweep: point %zu: %s\n", t.point, err.message);
        _exit(TEMPFAIL_USAGE);
    }
    if (d->seed_given)
        s->seed = d->seed;
    s->replication = t.rep;
    char dir[4200];
    tempfail_sweep_run_dir(dir, sizeof(dir), st->o->out_dir, t.point, t.rep);
    tempfail_run_opts ro = {.out_dir = dir, .quiet = true, .no_progress = true, .plots = false,
                            .summary_only = st->o->summaries_only, .quiet_expect = true, .plot_fmt = st->o->fmt};
    int rc = tempfail_run_scenario(s, &ro);
    fflush(NULL);
    _exit(rc == TEMPFAIL_EXPECT_FAILED ? TEMPFAIL_OK : rc);
}

static bool exec_next(exec_state *st, exec_task *t)
{
    if (st->nfront) {
        *t = st->front[--st->nfront];
        return true;
    }
    if (st->qhead < st->nqueue) {
        *t = st->queue[st->qhead++];
        return true;
    }
    return false;
}

static void exec_progress(const exec_state *st)
{
    if (st->o->quiet || !isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\rtempfail sweep: %zu/%zu runs", st->runs_done, st->runs_total);
}

int tempfail_sweep_exec(const tempfail_sweep_def *d, const tempfail_sweep_opts *o, uint32_t **nreps)
{
    exec_state st = {.d = d, .o = o};
    st.pt = sim_xcalloc(d->npoints, sizeof(*st.pt));
    st.child = sim_xcalloc(o->jobs ? o->jobs : 1, sizeof(*st.child));
    char runs[4200];
    snprintf(runs, sizeof(runs), "%s/runs", o->out_dir);
    results_dir_clean_partials(runs); /* what runs killed with an earlier sweep left */
    /* what is there already, and the runs still wanted, in point order */
    for (size_t p = 0; p < d->npoints; p++) {
        exec_point *pt = &st.pt[p];
        if (p % d->shard_count != d->shard_index) {
            pt->final = true;
            continue;
        }
        pt->target = d->sw.replications;
        uint32_t have = 0;
        while (have < SCENARIO_SWEEP_MAX_REPLICATIONS && exec_complete(d, o->out_dir, p, have))
            have++;
        if (have > pt->target && d->sw.until_metric)
            pt->target = have > d->sw.until_max ? d->sw.until_max : have;
        exec_point_grow(pt, pt->target);
        st.runs_total += pt->target;
        for (uint32_t r = 0; r < pt->target; r++)
            if (r >= have) {
                st.queue = sim_xgrow(st.queue, &st.qcap, st.nqueue + 1, sizeof(*st.queue), 64);
                st.queue[st.nqueue++] = (exec_task){p, r};
            }
    }
    for (size_t p = 0; p < d->npoints && !st.status; p++) {
        if (st.pt[p].final)
            continue;
        for (uint32_t r = 0; r < st.pt[p].target && !st.status; r++)
            if (exec_complete(d, o->out_dir, p, r)) {
                st.runs_done++;
                st.status = exec_completed(&st, p, r);
            }
    }
    struct sigaction sa = {.sa_handler = exec_on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    exec_interrupted = 0;
    exec_task t;
    unsigned jobs = o->jobs ? o->jobs : 1;
    for (;;) {
        while (!st.status && !exec_interrupted && st.nchild < jobs && exec_next(&st, &t)) {
            fflush(NULL);
            pid_t self = getpid(), pid = fork();
            if (pid < 0) {
                fprintf(stderr, "tempfail sweep: cannot start a run: %s\n", strerror(errno));
                st.status = TEMPFAIL_IO;
                break;
            }
            if (pid == 0)
                exec_child(&st, t, self);
            st.child[st.nchild].pid = pid;
            st.child[st.nchild].t = t;
            st.nchild++;
            st.pt[t.point].running++;
        }
        if (st.nchild == 0)
            break;
        if (exec_interrupted == SIGTERM)
            for (size_t i = 0; i < st.nchild; i++)
                kill(st.child[i].pid, SIGTERM); /* their partial directories go at the next --resume */
        int ws;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t i = 0;
        while (i < st.nchild && st.child[i].pid != pid)
            i++;
        if (i == st.nchild)
            continue;
        t = st.child[i].t;
        st.child[i] = st.child[--st.nchild];
        st.pt[t.point].running--;
        int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (code != 0) {
            if (!st.status && !exec_interrupted) {
                char *v = d->sw.naxes ? tempfail_sweep_point_set(d, t.point, 0) : NULL;
                fprintf(stderr, "tempfail sweep: the run of point %zu (%s%s), replication %u, failed (%s %d)\n",
                        t.point, v ? v : "", d->sw.naxes > 1 ? ", ..." : "", t.rep,
                        WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? code : WTERMSIG(ws));
                free(v);
            }
            if (!st.status)
                st.status = code == TEMPFAIL_USAGE ? TEMPFAIL_USAGE : TEMPFAIL_IO;
            continue;
        }
        st.runs_done++;
        exec_progress(&st);
        if (!st.status)
            st.status = exec_completed(&st, t.point, t.rep);
    }
    if (!o->quiet && isatty(STDERR_FILENO))
        fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!st.status && exec_interrupted) {
        fprintf(stderr, "tempfail sweep: interrupted: %zu of %zu runs are complete; --resume goes on\n", st.runs_done,
                st.runs_total);
        st.status = 130;
    }
    *nreps = sim_xcalloc(d->npoints, sizeof(**nreps));
    for (size_t p = 0; p < d->npoints; p++) {
        (*nreps)[p] = st.pt[p].final && p % d->shard_count == d->shard_index ? st.pt[p].target : 0;
        free(st.pt[p].have);
        free(st.pt[p].metric);
    }
    free(st.pt);
    free(st.queue);
    free(st.front);
    free(st.child);
    return st.status;
}
