/*
 * tempfail_sweep_merge - `tempfail sweep merge SHARD_DIR... --out DIR`: the shards of one sweep
 * (`tempfail sweep --shard I/N`, one per Slurm task) joined into one sweep directory, the same as
 * the sweep run on one machine: the same runs, and the same sweep.csv, points.csv and
 * differences.csv to the byte.
 *
 * Every shard must be complete, of the same definition (the shard aside), and every slice 0..N-1
 * must be there once. The run directories are hard-linked into DIR/runs (copied when DIR is on
 * another file system), so the shards stay as they were and the merge costs no space.
 */
#include "tempfail/tempfail_sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim_mem.h"
#include "tempfail/tempfail.h"

static const char merge_usage[] =
    "Usage: tempfail sweep merge SHARD_DIR... --out DIR [options]\n"
    "\n"
    "Joins the shards of a sweep (each written by `tempfail sweep ... --shard I/N`) into the sweep\n"
    "directory DIR, the same as the sweep run whole: the runs (hard links, or copies across file\n"
    "systems), sweep.csv, points.csv, differences.csv, the charts and report.html. Every shard must be\n"
    "complete and of the same sweep, and every slice 0..N-1 there once.\n"
    "\n"
    "Options:\n"
    "  -o, --out DIR         the sweep directory to write (new, empty, or holding only shards/ and slurm/)\n"
    "      --no-plots        no charts\n"
    "      --plot-format F   png (default), svg or pdf\n"
    "  -q, --quiet           no table on stdout\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 merged; 2 the shards do not make one complete sweep (which and why); 3 I/O error.\n";

/* Copies (or links) the regular files of directory src into new directory dst. 0 or -errno. */
static int merge_copy_dir(const char *src, const char *dst)
{
    if (mkdir(dst, 0777) != 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    int err = 0;
    struct dirent *e;
    char a[PATH_MAX], b[PATH_MAX];
    while (!err && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(a, sizeof(a), "%s/%s", src, e->d_name) >= (int)sizeof(a) ||
            snprintf(b, sizeof(b), "%s/%s", dst, e->d_name) >= (int)sizeof(b)) {
            err = -ENAMETOOLONG;
            break;
        }
        struct stat st;
        if (lstat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        unlink(b);
        if (link(a, b) == 0)
            continue;
        int in = open(a, O_RDONLY), out = in < 0 ? -1 : open(b, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (in < 0 || out < 0) {
            err = -errno;
        } else {
            char buf[65536];
            ssize_t n;
            while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n) {
                    err = -EIO;
                    break;
                }
            if (n < 0)
                err = -errno;
        }
        if (in >= 0)
            close(in);
        if (out >= 0 && close(out) != 0 && !err)
            err = -errno;
    }
    closedir(d);
    return err;
}

/* DIR may be written: absent, empty, or holding only what --slurm puts beside the merge. */
static bool merge_dir_ok(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "shards") &&
            strcmp(e->d_name, "slurm") && strcmp(e->d_name, ".lock"))
            ok = false;
    closedir(d);
    return ok;
}

static bool run_complete(const char *dir, size_t p, uint32_t r)
{
    char path[PATH_MAX];
    tempfail_sweep_run_dir(path, sizeof(path) - 16, dir, p, r);
    strcat(path, "/summary.json");
    struct stat st;
    return stat(path, &st) == 0;
}

int tempfail_sweep_merge_main(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'}, {"no-plots", no_argument, NULL, 'N'},
                                         {"plot-format", required_argument, NULL, 'F'},
                                         {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool plots = true, quiet = false;
    results_plot_format fmt = RESULTS_PLOT_PNG;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'N': plots = false; break;
        case 'F':
            if (results_plot_format_parse(optarg, &fmt) != 0)
                return tempfail_usage_error("sweep merge", "--plot-format: expected png, svg or pdf, got '%s'", optarg);
            break;
        case 'q': quiet = true; break;
        case 'h': fputs(merge_usage, stdout); return TEMPFAIL_OK;
        default: fputs("Try 'tempfail sweep merge --help'.\n", stderr); return TEMPFAIL_USAGE;
        }
    }
    if (!out)
        return tempfail_usage_error("sweep merge", "%s", "where to? (--out DIR)");
    size_t n = (size_t)(argc - optind);
    if (n == 0)
        return tempfail_usage_error("sweep merge", "%s", "which shards? (SHARD_DIR...)");
    tempfail_sweep_def *defs = sim_xcalloc(n, sizeof(*defs));
    const char **by_index = NULL;
    uint32_t *nreps = NULL;
    int status = TEMPFAIL_USAGE;
    char err[1024], diff[256];
    for (size_t i = 0; i < n; i++) {
        const char *dir = argv[optind + i];
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sweep.json", dir);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        if (!j) {
            fprintf(stderr, "tempfail sweep merge: %s: %s\n", path, je.text);
            goto out;
        }
        bool complete = json_is_true(json_object_get(j, "complete"));
        int rc = tempfail_sweep_def_from_json(json_object_get(j, "definition"), &defs[i], err, sizeof(err));
        json_decref(j);
        if (rc < 0) {
            fprintf(stderr, "tempfail sweep merge: %s: %s\n", path, err);
            goto out;
        }
        if (!complete) {
            fprintf(stderr, "tempfail sweep merge: %s: the shard is not complete (run it again with --resume)\n", dir);
            goto out;
        }
        if (i && !tempfail_sweep_def_same(&defs[0], &defs[i], diff, sizeof(diff))) {
            fprintf(stderr, "tempfail sweep merge: %s and %s are shards of different sweeps (their %s differs)\n",
                    argv[optind], dir, diff);
            goto out;
        }
        if (i && defs[i].shard_count != defs[0].shard_count) {
            fprintf(stderr, "tempfail sweep merge: %s is a shard of %u, %s of %u\n", dir, defs[i].shard_count,
                    argv[optind], defs[0].shard_count);
            goto out;
        }
    }
    uint32_t count = defs[0].shard_count;
    by_index = sim_xcalloc(count, sizeof(*by_index));
    for (size_t i = 0; i < n; i++) {
        uint32_t k = defs[i].shard_index;
        if (by_index[k]) {
            fprintf(stderr, "tempfail sweep merge: %s and %s are both shard %u/%u\n", by_index[k], argv[optind + i], k,
                    count);
            goto out;
        }
        by_index[k] = argv[optind + i];
    }
    for (uint32_t k = 0; k < count; k++)
        if (!by_index[k]) {
            fprintf(stderr, "tempfail sweep merge: shard %u/%u is missing (%zu of %u given)\n", k, count, n, count);
            goto out;
        }
    if (!merge_dir_ok(out)) {
        fprintf(stderr, "tempfail sweep merge: %s exists and holds more than shards; choose another --out\n", out);
        goto out;
    }
    tempfail_sweep_def *d = &defs[0];
    d->shard_index = 0;
    d->shard_count = 1;
    status = TEMPFAIL_IO;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/runs", out);
    if ((mkdir(out, 0777) != 0 && errno != EEXIST) || (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "tempfail sweep merge: cannot create %s: %s\n", path, strerror(errno));
        goto out;
    }
    nreps = sim_xcalloc(d->npoints, sizeof(*nreps));
    for (size_t p = 0; p < d->npoints; p++) {
        const char *src = by_index[p % count];
        while (nreps[p] < SCENARIO_SWEEP_MAX_REPLICATIONS && run_complete(src, p, nreps[p])) {
            char a[PATH_MAX], b[PATH_MAX];
            tempfail_sweep_run_dir(a, sizeof(a), src, p, nreps[p]);
            tempfail_sweep_run_dir(b, sizeof(b), out, p, nreps[p]);
            int e = merge_copy_dir(a, b);
            if (e) {
                fprintf(stderr, "tempfail sweep merge: cannot copy %s to %s: %s\n", a, b, strerror(-e));
                goto out;
            }
            nreps[p]++;
        }
        if (nreps[p] < d->sw.replications) {
            fprintf(stderr, "tempfail sweep merge: %s has %u of point %zu's %u replications\n", src, nreps[p], p,
                    d->sw.replications);
            status = TEMPFAIL_USAGE;
            goto out;
        }
    }
    status = tempfail_sweep_finish(d, out, nreps, plots, fmt, quiet, NULL);
out:
    for (size_t i = 0; i < n; i++)
        tempfail_sweep_def_clear(&defs[i]);
    free(defs);
    free(by_index);
    free(nreps);
    return status;
}
