/*
 * tempfail_compare - `tempfail compare RUN_A RUN_B`: two runs side by side (key figures with
 * deltas on the terminal, overlay charts and a report.html in a comparison directory), and
 * --fail-if thresholds so a CI job can refuse a configuration that makes a figure worse:
 *
 *   tempfail compare runs/before runs/after --fail-if 'transactional.latency.p95 +10%'
 *
 * Thresholds are all parsed, and their metrics resolved, before anything is written: a typo in a
 * CI job is exit 2 with the nearest metric named, never a comparison that silently checked nothing.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/results_compare.h"
#include "results/results_html.h"
#include "results/results_plot.h"
#include "results/results_rundir.h"

static const char compare_usage[] =
    "Usage: tempfail compare RUN_A RUN_B [options]\n"
    "\n"
    "Compares two run directories (simulated or replayed): key figures side by side with absolute\n"
    "and relative deltas, overlay charts (queue, sessions per receiver, latency CDFs) and report.html\n"
    "in a comparison directory.\n"
    "\n"
    "Options:\n"
    "  -o, --out DIR          comparison directory (default: compare-A-vs-B, from the run names,\n"
    "                         beside run A: runs/a runs/b -> runs/compare-a-vs-b)\n"
    "      --fail-if 'METRIC CHANGE'\n"
    "                         exit 1 when B crosses the threshold (repeatable). CHANGE is\n"
    "                           +10%   B at most 10% above A      -5%   B at most 5% below A\n"
    "                           +30s   B at most 30s above A      +100  B at most 100 above A\n"
    "                         METRIC as in `expect:` (docs/results.md), e.g. transactional.latency.p95\n"
    "  -f, --format F         chart format: png (default), svg or pdf\n"
    "      --no-plots         no charts (the report still has the figures)\n"
    "  -q, --quiet            no table on stdout\n"
    "  -h, --help             this help\n"
    "\n"
    "Exit status: 0 ok; 1 a --fail-if threshold was crossed; 2 bad command line or threshold;\n"
    "3 a run directory cannot be read, or the comparison cannot be written.\n";

/*
 * Splits a run directory's path into the directory that holds it (dir, "" for the current one) and
 * its name, trailing slashes aside: "runs/a/" -> "runs", "a"; "a" -> "", "a". A path ending in "."
 * or ".." has no name of its own until it is resolved. -1 when it cannot be named (or is too long).
 */
static int split_run_path(const char *p, char *dir, size_t dirlen, char *name, size_t namelen)
{
    char resolved[PATH_MAX];
    for (int pass = 0; pass < 2; pass++) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
            n--;
        size_t s = n;
        while (s > 0 && p[s - 1] != '/')
            s--;
        size_t l = n - s;
        bool dots = l == 0 || (l == 1 && p[s] == '.') || (l == 2 && p[s] == '.' && p[s + 1] == '.');
        if (dots) {
            if (pass > 0 || !realpath(p, resolved))
                return -1;
            p = resolved;
            continue;
        }
        size_t d = s;
        while (d > 1 && p[d - 1] == '/')
            d--;
        if (l >= namelen || d >= dirlen)
            return -1;
        memcpy(name, p + s, l);
        name[l] = 0;
        memcpy(dir, p, d);
        dir[d] = 0;
        return 0;
    }
    return -1;
}

int tempfail_compare_main(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"fail-if", required_argument, NULL, 'F'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"no-plots", no_argument, NULL, 'P'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out_dir = NULL;
    results_plot_format fmt = RESULTS_PLOT_PNG;
    bool plots = true, quiet = false;
    results_threshold *th = calloc((size_t)argc + 1, sizeof(*th));
    results_threshold_result *thr = calloc((size_t)argc + 1, sizeof(*thr));
    size_t nth = 0;
    int status = TEMPFAIL_OK;
    results_rundir *a = NULL, *b = NULL;
    results_compare *cmp = NULL;
    results_plot_list *list = NULL;
    char err[1024];
    if (!th || !thr) {
        fputs("tempfail compare: out of memory\n", stderr);
        status = TEMPFAIL_IO;
        goto out;
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 'F':
            if (results_threshold_parse(optarg, &th[nth], err, sizeof(err)) != 0) {
                fprintf(stderr, "tempfail compare: --fail-if %s\n", err);
                status = TEMPFAIL_USAGE;
                goto out;
            }
            nth++;
            break;
        case 'f':
            if (results_plot_format_parse(optarg, &fmt) != 0) {
                fprintf(stderr, "tempfail compare: --format: expected png, svg or pdf, got '%s'\n", optarg);
                status = TEMPFAIL_USAGE;
                goto out;
            }
            break;
        case 'P':
            plots = false;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(compare_usage, stdout);
            goto out;
        default:
            fputs("Try 'tempfail compare --help'.\n", stderr);
            status = TEMPFAIL_USAGE;
            goto out;
        }
    }
    if (argc - optind != 2) {
        fputs("tempfail compare: expected two run directories, RUN_A and RUN_B\nTry 'tempfail compare --help'.\n",
              stderr);
        status = TEMPFAIL_USAGE;
        goto out;
    }
    const char *pa = argv[optind], *pb = argv[optind + 1];
    if (!(a = results_rundir_load(pa, err, sizeof(err))) || !(b = results_rundir_load(pb, err, sizeof(err)))) {
        fprintf(stderr, "tempfail compare: cannot read run directory: %s\n", err);
        status = TEMPFAIL_IO;
        goto out;
    }
    size_t crossed = 0;
    for (size_t i = 0; i < nth; i++) {
        if (results_threshold_check(&th[i], a->summary, b->summary, &thr[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "tempfail compare: --fail-if %s\n", err);
            status = TEMPFAIL_USAGE;
            goto out;
        }
        crossed += thr[i].crossed;
    }
    /* By default the comparison goes beside run A, never into whatever directory we were run from. */
    char default_out[PATH_MAX], da[PATH_MAX], db[PATH_MAX], na[NAME_MAX + 1], nb[NAME_MAX + 1];
    if (!out_dir) {
        if (split_run_path(pa, da, sizeof(da), na, sizeof(na)) != 0 ||
            split_run_path(pb, db, sizeof(db), nb, sizeof(nb)) != 0) {
            fputs("tempfail compare: cannot name a comparison directory from these run names; give --out DIR\n",
                  stderr);
            status = TEMPFAIL_USAGE;
            goto out;
        }
        const char *sep = !da[0] || da[strlen(da) - 1] == '/' ? "" : "/";
        int w = snprintf(default_out, sizeof(default_out), "%s%scompare-%s-vs-%s", da, sep, na, nb);
        if (w < 0 || (size_t)w >= sizeof(default_out)) {
            fputs("tempfail compare: the comparison directory's name is too long; give --out DIR\n", stderr);
            status = TEMPFAIL_USAGE;
            goto out;
        }
        out_dir = default_out;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tempfail compare: cannot create %s: %s\n", out_dir, strerror(errno));
        status = TEMPFAIL_IO;
        goto out;
    }
    cmp = results_compare_create(a->summary, b->summary);
    list = calloc(1, sizeof(*list));
    if (!cmp || !list) {
        fputs("tempfail compare: out of memory\n", stderr);
        status = TEMPFAIL_IO;
        goto out;
    }
    if (plots && results_plot_compare(a, b, out_dir, fmt, list, err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail compare: %s\n", err);
        status = TEMPFAIL_IO;
        goto out;
    }
    if (results_html_write(out_dir, "report.html", a, b, cmp, thr, nth, list, err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail compare: %s\n", err);
        status = TEMPFAIL_IO;
        goto out;
    }
    bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    if (!quiet) {
        printf("%sA%s %s (%s)\n%sB%s %s (%s)\n\n", color ? "\033[1m" : "", color ? "\033[0m" : "",
               results_rundir_name(a), pa, color ? "\033[1m" : "", color ? "\033[0m" : "", results_rundir_name(b), pb);
        results_compare_print(stdout, cmp, "A", "B", color);
        if (nth)
            printf("\n");
        for (size_t i = 0; i < nth; i++)
            printf("  %s%s%s  %s\n", color ? (thr[i].crossed ? "\033[31m" : "\033[32m") : "",
                   thr[i].crossed ? "CROSSED" : "ok     ", color ? "\033[0m" : "", thr[i].message);
        printf("\ncomparison: %s/report.html\n", out_dir);
    }
    for (size_t i = 0; i < nth; i++)
        if (thr[i].crossed)
            fprintf(stderr, "tempfail compare: threshold crossed: %s\n", thr[i].message);
    if (crossed)
        status = TEMPFAIL_EXPECT_FAILED;
out:
    results_compare_free(cmp);
    free(list);
    results_rundir_free(a);
    results_rundir_free(b);
    free(th);
    free(thr);
    return status;
}
