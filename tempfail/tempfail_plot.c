/*
 * tempfail_plot - `tempfail plot RUN_DIR [--format png|svg|pdf]`: draws a run's charts and its
 * report.html again, from the files of the run directory alone.
 *
 * `tempfail run` calls the same function on its run directory before putting it in place, so the
 * charts of a run and those drawn again later are the same files.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_html.h"
#include "results/results_plot.h"
#include "results/results_rundir.h"

static const char plot_usage[] =
    "Usage: tempfail plot RUN_DIR [--format png|svg|pdf] [--no-report]\n"
    "\n"
    "Draws the charts of a run directory (queue, sessions per receiver, replies, concurrency windows,\n"
    "latency CDFs, queue age, attempts, CPU/disk) from its files alone, and writes report.html again.\n"
    "\n"
    "Options:\n"
    "  -f, --format F   png (default), svg or pdf\n"
    "      --no-report  charts only\n"
    "  -h, --help       this help\n"
    "\n"
    "Exit status: 0 ok; 2 bad command line; 3 the run directory cannot be read or written.\n";

int tempfail_plot_dir(const char *dir, const char *shown, bool plots, results_plot_format fmt, bool report, char *err,
                      size_t errlen)
{
    results_rundir *r = results_rundir_load(dir, err, errlen);
    if (!r)
        return -EINVAL;
    if (shown && strcmp(shown, r->path) != 0) {
        char *p = strdup(shown);
        if (p) {
            free(r->path);
            r->path = p;
        }
    }
    results_plot_list *list = calloc(1, sizeof(*list));
    int e = list ? 0 : -ENOMEM;
    if (!list)
        snprintf(err, errlen, "out of memory");
    if (e == 0 && plots)
        e = results_plot_run(r, dir, fmt, list, err, errlen);
    if (e == 0 && report)
        e = results_html_write(dir, "report.html", r, NULL, NULL, NULL, 0, list, err, errlen);
    free(list);
    results_rundir_free(r);
    return e;
}

int tempfail_plot_main(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"no-report", no_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    results_plot_format fmt = RESULTS_PLOT_PNG;
    bool report = true;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (results_plot_format_parse(optarg, &fmt) != 0) {
                fprintf(stderr, "tempfail plot: --format: expected png, svg or pdf, got '%s'\n", optarg);
                return TEMPFAIL_USAGE;
            }
            break;
        case 'R':
            report = false;
            break;
        case 'h':
            fputs(plot_usage, stdout);
            return TEMPFAIL_OK;
        default:
            fputs("Try 'tempfail plot --help'.\n", stderr);
            return TEMPFAIL_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs("tempfail plot: expected one run directory\nTry 'tempfail plot --help'.\n", stderr);
        return TEMPFAIL_USAGE;
    }
    char err[1024];
    if (tempfail_plot_dir(argv[optind], NULL, true, fmt, report, err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail plot: %s\n", err);
        return TEMPFAIL_IO;
    }
    return TEMPFAIL_OK;
}
