/*
 * tempfail_rundir - how every command that writes a run directory ends it: the `expect:`
 * assertions evaluated into the summary, summary.json, manifest.json and scenario.yaml written,
 * the charts and report.html drawn from the files (as `tempfail plot` would), then the directory
 * renamed into place or, if anything failed, removed; the report on stdout, the failed assertions on
 * stderr. `tempfail run` and `tempfail replay` share it, so a simulated run and a replay end alike.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_expect.h"
#include "results/results_json.h"
#include "results/results_manifest.h"
#include "results/results_report.h"

int tempfail_rundir_finish(results_dir *dir, const scenario *s, json_t *summary, const tempfail_rundir_end *e,
                           int werr)
{
    results_expect_result *er = calloc(s->nexpect ? s->nexpect : 1, sizeof(*er));
    if (!er) {
        results_dir_abort(dir);
        return TEMPFAIL_IO;
    }
    results_expect_eval(summary, s->expect, s->nexpect, er);
    size_t failed = 0;
    for (size_t i = 0; i < s->nexpect; i++)
        failed += !er[i].pass;
    json_t *resolved = scenario_to_json(s);
    results_manifest_info mi = {.scenario_name = s->name, .scenario_source = s->source, .scenario = resolved,
                                .seed = s->seed, .replication = s->replication, .wall_time = e->wall_time,
                                .events = e->events, .peak_rss = e->peak_rss, .expect_total = s->nexpect,
                                .expect_failed = failed};
    FILE *f = results_dir_open(dir, "summary.json");
    werr |= f ? results_json_write(f, summary) : -errno;
    werr |= f ? results_dir_fclose(f) : 0;
    f = results_dir_open(dir, "manifest.json");
    werr |= f ? results_manifest_write(f, &mi) : -errno;
    werr |= f ? results_dir_fclose(f) : 0;
    f = e->summary_only ? NULL : results_dir_open(dir, "scenario.yaml");
    if (e->summary_only) {
    } else if (f) {
        fputs(s->resolved_yaml ? s->resolved_yaml : "", f);
        werr |= results_dir_fclose(f);
    } else {
        werr |= -errno;
    }
    json_decref(resolved);

    /* Charts and report.html are drawn from the files just written, exactly as `tempfail plot`
     * draws them later, inside the partial directory so they are renamed into place with it. */
    char perr[1024] = "";
    if (!werr && !e->summary_only &&
        tempfail_plot_dir(results_dir_partial(dir), e->out_dir, e->plots, e->fmt, true, perr, sizeof(perr)) != 0) {
        fprintf(stderr, "%s: drawing the charts failed: %s (--no-plots skips them)\n", e->cmd, perr);
        werr = -EIO;
    }
    int status = TEMPFAIL_OK, rc;
    if (werr) {
        fprintf(stderr, "%s: writing the run directory %s failed; nothing was kept\n", e->cmd, e->out_dir);
        results_dir_abort(dir);
        status = TEMPFAIL_IO;
    } else if ((rc = results_dir_commit(dir)) != 0) {
        fprintf(stderr, "%s: cannot put the run directory in place at %s: %s\n", e->cmd, e->out_dir, strerror(-rc));
        results_dir_abort(dir);
        status = TEMPFAIL_IO;
    } else {
        if (!e->quiet) {
            results_report_opts ro = {.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
            results_report_print(stdout, summary, &ro);
            printf("run directory: %s\n", e->out_dir);
        }
        for (size_t i = 0; i < s->nexpect && !e->quiet_expect; i++)
            if (!er[i].pass)
                fprintf(stderr, "tempfail: %s:%d: expect failed: %s%s%s\n", s->source, s->expect[i].line,
                        s->expect[i].text, er[i].error[0] ? ": " : "", er[i].error);
        if (failed)
            status = TEMPFAIL_EXPECT_FAILED;
    }
    free(er);
    return status;
}
