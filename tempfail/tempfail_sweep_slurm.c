/*
 * tempfail_sweep_slurm - `tempfail sweep ... --slurm`: the sweep as a Slurm job array. Task I of N
 * runs `tempfail sweep ... --shard I/N --resume` into DIR/shards/I, and a merge job that waits for
 * every task (--dependency=afterok) joins them into DIR with `tempfail sweep merge`, so DIR ends
 * up as the sweep would on one machine. The scripts are written into DIR/slurm and submitted with
 * sbatch; --slurm-dry-run prints them and the commands instead.
 *
 * The scripts name the scenario, tempfail and DIR by absolute paths: the cluster's nodes must see
 * them at the same paths (a shared file system, docs/sweeps.md). A task started again (a node
 * failure, `scontrol requeue`) resumes its shard where it stopped.
 */
#include "tempfail/tempfail_sweep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness_proc.h"
#include "harness/harness_text.h"
#include "sim/sim_mem.h"
#include "tempfail/tempfail.h"

/* s in single quotes for the shell. */
static void sh_quote(harness_text *t, const char *s)
{
    harness_text_append(t, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            harness_text_append(t, "'\\''", 4);
        else
            harness_text_append(t, s, 1);
    }
    harness_text_append(t, "'", 1);
}

static void sh_word(harness_text *t, const char *s)
{
    harness_text_append(t, " ", 1);
    sh_quote(t, s);
}

/* --vary KEY=v1,v2,... with the values as the definition holds them (ranges expanded). */
static void vary_args(harness_text *t, const scenario_sweep_axis *a)
{
    harness_text v = {0};
    harness_text_printf(&v, "%s=", a->key);
    for (size_t i = 0; i < a->nvalues; i++)
        harness_text_printf(&v, "%s%s", i ? "," : "", a->values[i]);
    char *s = harness_text_take(&v);
    sh_word(t, "--vary");
    sh_word(t, s);
    free(s);
}

static void sbatch_header(harness_text *t, const tempfail_sweep_cli *cli, const char *job, const char *array,
                          const char *output)
{
    harness_text_printf(t, "#!/bin/bash\n");
    harness_text_printf(t, "#SBATCH --job-name=%s\n", job);
    if (array)
        harness_text_printf(t, "#SBATCH --array=%s\n", array);
    harness_text_printf(t, "#SBATCH --output=%s\n", output);
    for (size_t i = 0; i < cli->nslurm_opts; i++)
        harness_text_printf(t, "#SBATCH %s\n", cli->slurm_opts[i]);
    harness_text_printf(t, "set -euo pipefail\n");
    for (size_t i = 0; i < cli->nslurm_setup; i++)
        harness_text_printf(t, "%s\n", cli->slurm_setup[i]);
}

static char *task_script(const tempfail_sweep_cli *cli, const char *self, const char *dir, uint32_t n)
{
    const tempfail_sweep_def *d = &cli->def;
    harness_text t = {0};
    char job[128], array[64], output[PATH_MAX + 32];
    snprintf(job, sizeof(job), "tempfail-sweep-%s", d->name);
    snprintf(array, sizeof(array), "0-%u", n - 1);
    snprintf(output, sizeof(output), "%s/slurm/shard-%%a.out", dir);
    sbatch_header(&t, cli, job, array, output);
    harness_text_printf(&t, "# Task I runs shard I of %u of the sweep (points p with p mod %u = I); "
                            "--resume: a task started again goes on.\n", n, n);
    harness_text_printf(&t, "exec");
    sh_word(&t, self);
    sh_word(&t, "sweep");
    if (d->scenario)
        sh_word(&t, d->scenario);
    for (size_t i = 0; i < d->nsets; i++) {
        sh_word(&t, "--set");
        sh_word(&t, d->sets[i]);
    }
    harness_text_printf(&t, " \\\n ");
    for (size_t a = 0; a < d->sw.naxes; a++)
        vary_args(&t, &d->sw.axes[a]);
    if (d->sw.zip)
        sh_word(&t, "--zip");
    harness_text_printf(&t, " \\\n  --replications %u", d->sw.replications);
    if (d->sw.until_metric) {
        char w[64];
        snprintf(w, sizeof(w), "%.17g", d->sw.until_width);
        char *u = sim_xmalloc(strlen(d->sw.until_metric) + strlen(w) + 2);
        sprintf(u, "%s=%s", d->sw.until_metric, w);
        sh_word(&t, "--until-ci");
        sh_word(&t, u);
        free(u);
        harness_text_printf(&t, " --max-replications %u", d->sw.until_max);
    }
    for (size_t i = 0; i < d->nfigures; i++) {
        sh_word(&t, "--figure");
        sh_word(&t, d->figures[i]);
    }
    if (d->seed_given)
        harness_text_printf(&t, " --seed %llu", (unsigned long long)d->seed);
    if (cli->opts.summaries_only)
        harness_text_printf(&t, " --summaries-only");
    harness_text_printf(&t, " \\\n  --jobs \"${SLURM_CPUS_PER_TASK:-1}\" --shard \"${SLURM_ARRAY_TASK_ID}/%u\" "
                            "--resume --quiet --out",
                        n);
    sh_word(&t, dir);
    harness_text_printf(&t, "/shards/\"${SLURM_ARRAY_TASK_ID}\"\n");
    return harness_text_take(&t);
}

static char *merge_script(const tempfail_sweep_cli *cli, const char *self, const char *dir)
{
    harness_text t = {0};
    char job[128], output[PATH_MAX + 32];
    snprintf(job, sizeof(job), "tempfail-merge-%s", cli->def.name);
    snprintf(output, sizeof(output), "%s/slurm/merge.out", dir);
    sbatch_header(&t, cli, job, NULL, output);
    harness_text_printf(&t, "# After every task of the array: the shards joined into the sweep directory.\n");
    harness_text_printf(&t, "exec");
    sh_word(&t, self);
    harness_text_printf(&t, " sweep merge");
    sh_word(&t, dir);
    harness_text_printf(&t, "/shards/* --out");
    sh_word(&t, dir);
    if (!cli->opts.plots)
        harness_text_printf(&t, " --no-plots");
    else if (cli->opts.fmt != RESULTS_PLOT_PNG)
        harness_text_printf(&t, " --plot-format %s", results_plot_ext(cli->opts.fmt));
    harness_text_printf(&t, "\n");
    return harness_text_take(&t);
}

static int write_script(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    int e = fclose(f) != 0 ? -errno : 0;
    if (!e && chmod(path, 0755) != 0)
        e = -errno;
    return e;
}

/* sbatch --parsable ARGS... SCRIPT: the job id it prints into id. 0 or an exit status. */
static int submit(const char *dir, const char *dependency, const char *script, char *id, size_t len)
{
    char log[PATH_MAX], dep[128], err[512];
    snprintf(log, sizeof(log), "%s/slurm/sbatch.out", dir);
    unlink(log);
    char *argv[6];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    if (dependency) {
        snprintf(dep, sizeof(dep), "--dependency=afterok:%s", dependency);
        argv[n++] = dep;
    }
    argv[n++] = (char *)script;
    argv[n] = NULL;
    int rc = harness_proc_run(argv, log, 60000, err, sizeof(err));
    FILE *f = fopen(log, "r");
    char line[512] = "", last[512] = "";
    while (f && fgets(line, sizeof(line), f))
        if (line[0] != '\n')
            snprintf(last, sizeof(last), "%s", line);
    if (f)
        fclose(f);
    last[strcspn(last, "\n;")] = '\0'; /* "1234" or "1234;cluster" */
    if (rc != 0 || !last[0] || strspn(last, "0123456789_") != strlen(last)) {
        fprintf(stderr, "tempfail sweep: sbatch %s failed%s%s: %s (see %s)\n", script, rc < 0 ? ": " : "",
                rc < 0 ? err : "", last[0] ? last : "no job id", log);
        return TEMPFAIL_IO;
    }
    if (snprintf(id, len, "%s", last) >= (int)len) {
        fprintf(stderr, "tempfail sweep: sbatch printed a job id too long to be one: %s\n", last);
        return TEMPFAIL_IO;
    }
    return 0;
}

int tempfail_sweep_slurm(const tempfail_sweep_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const tempfail_sweep_def *d = &cli->def;
    uint32_t n = cli->slurm_shards ? cli->slurm_shards : d->npoints < 1000 ? (uint32_t)d->npoints : 1000;
    if (n > d->npoints)
        n = (uint32_t)d->npoints;
    char self[PATH_MAX], dir[PATH_MAX], want[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        fprintf(stderr, "tempfail sweep: --slurm: cannot tell where tempfail is: %s\n", strerror(errno));
        return TEMPFAIL_IO;
    }
    self[sl] = '\0';
    if (cli->opts.out_dir)
        snprintf(want, sizeof(want), "%s", cli->opts.out_dir);
    else
        snprintf(want, sizeof(want), "runs/%s-sweep", d->name);
    if (!cli->slurm_dry_run) {
        char slurm[PATH_MAX + 8];
        for (char *p = want + 1; *p; p++)
            if (*p == '/') {
                *p = '\0';
                mkdir(want, 0777);
                *p = '/';
            }
        mkdir(want, 0777);
        snprintf(slurm, sizeof(slurm), "%s/slurm", want);
        if (mkdir(slurm, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "tempfail sweep: cannot create %s: %s\n", slurm, strerror(errno));
            return TEMPFAIL_IO;
        }
    }
    if (!realpath(want, dir)) {
        if (!cli->slurm_dry_run || want[0] == '/') {
            snprintf(dir, sizeof(dir), "%s", want);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof(cwd)))
                cwd[0] = '\0';
            if (snprintf(dir, sizeof(dir), "%s/%s", cwd, want) >= (int)sizeof(dir)) {
                fprintf(stderr, "tempfail sweep: --out %s: the name is too long\n", want);
                return TEMPFAIL_USAGE;
            }
        }
    }
    char *task = task_script(cli, self, dir, n), *merge = merge_script(cli, self, dir);
    char tpath[PATH_MAX + 32], mpath[PATH_MAX + 32];
    snprintf(tpath, sizeof(tpath), "%s/slurm/sweep.sbatch", dir);
    snprintf(mpath, sizeof(mpath), "%s/slurm/merge.sbatch", dir);
    int status = TEMPFAIL_OK;
    if (cli->slurm_dry_run) {
        printf("# %s\n%s\n# %s\n%s\n", tpath, task, mpath, merge);
        printf("# submitted as:\n#   job=$(sbatch --parsable %s)\n#   sbatch --parsable "
               "--dependency=afterok:$job %s\n",
               tpath, mpath);
    } else {
        int e = write_script(tpath, task);
        if (!e)
            e = write_script(mpath, merge);
        if (e) {
            fprintf(stderr, "tempfail sweep: cannot write the scripts in %s/slurm: %s\n", dir, strerror(-e));
            status = TEMPFAIL_IO;
        }
        char job[128], mjob[128];
        if (!status)
            status = submit(dir, NULL, tpath, job, sizeof(job));
        if (!status)
            status = submit(dir, job, mpath, mjob, sizeof(mjob));
        if (!status) /* the job ids are the result: --quiet keeps them */
            printf("submitted: job array %s (%u tasks: %zu points, %u replications each%s), merge job %s after it\n",
                   job, n, d->npoints, d->sw.replications, d->sw.until_metric ? " or more" : "", mjob);
        if (!status && !cli->opts.quiet)
            printf("watch: squeue -j %s,%s; the sweep directory: %s (complete when %s/sweep.json says so)\n", job,
                   mjob, dir, dir);
    }
    free(task);
    free(merge);
    return status;
}
