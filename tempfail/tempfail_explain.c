/*
 * tempfail_explain - `tempfail explain RUN_DIR`: what happened in a run and why, in plain words, from
 * the files the run left (results_explain.c has the rules, docs/explain.md describes them). Each
 * finding names the incident of the library it resembles, with that incident's title and the fix its
 * after.yaml shows, so the reader goes from "what" to "what to change".
 */
#include "tempfail/tempfail.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_explain.h"
#include "results/results_rundir.h"
#include "sim/sim_mem.h"

static const char usage[] =
    "Usage: tempfail explain RUN_DIR [--json]\n"
    "\n"
    "Tells what happened in a run and why, from the files it left (summary.json, timeseries.csv,\n"
    "messages.csv and its scenario.yaml as configured, never its description): a cap that counts\n"
    "idle cached sessions, a destination declared dead, users asking again, a newsletter in front of\n"
    "the resets, a retry schedule that brings a blocked backlog straight back, hosts behind one\n"
    "address, slow DNS, a stalling disk, greylisting. Each finding gives its figures, where they come\n"
    "from, and the incident of the library it resembles with the fix that incident shows\n"
    "(`tempfail incident NAME` runs it). RUN_DIR is a simulated run or a replay. The rules, and a run\n"
    "that triggers each, are in docs/explain.md.\n"
    "\n"
    "Options:\n"
    "  --json      the findings as JSON on stdout: {run, findings: [{rule, incident, title, fix,\n"
    "              first, text, evidence}], note}\n"
    "  -h, --help  this help\n"
    "\n"
    "Exit status: 0 (with or without findings); 2 a bad command line; 3 a run directory that cannot\n"
    "be read.\n"
    "\n"
    "Example:\n"
    "  tempfail run incidents/strict-cap-idle/before --out runs/sci && tempfail explain runs/sci\n";

/* The incident's title (before.yaml's first comment line, up to its colon) and its fix (after.yaml's
 * description), from the library; "" when the library does not have it. */
static void incident_text(const char *name, char *title, size_t tlen, char *fix, size_t flen)
{
    char path[PATH_MAX];
    title[0] = fix[0] = 0;
    snprintf(path, sizeof(path), "%s/incidents/%s/before.yaml", scenario_library_dir(), name);
    tempfail_library_comment(path, title, tlen);
    title[strcspn(title, ":")] = 0;
    snprintf(path, sizeof(path), "%s/incidents/%s/after.yaml", scenario_library_dir(), name);
    scenario_error err;
    scenario *s = scenario_load_file(path, NULL, 0, &err);
    if (s && s->description) {
        snprintf(fix, flen, "%s", s->description);
        size_t n = strlen(fix);
        while (n && (fix[n - 1] == '\n' || fix[n - 1] == ' '))
            fix[--n] = 0;
        for (char *p = fix; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    scenario_free(s);
}

/* Prints text wrapped at 100 columns, each line indented by ind. */
static void wrap(const char *text, int ind, int first_ind)
{
    const char *p = text;
    int col = first_ind;
    bool start = true;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (!w)
            break;
        if (!start && col + 1 + (int)w > 100) {
            printf("\n%*s", ind, "");
            col = ind;
            start = true;
        }
        if (!start) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)w, p);
        col += (int)w;
        p += w;
        start = false;
    }
    putchar('\n');
}

int tempfail_explain_main(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return TEMPFAIL_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return tempfail_usage_error("explain", "unknown option '%s'", argv[i]);
        } else if (dir) {
            return tempfail_usage_error("explain", "one run directory at most (then '%s' is one too many)", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return tempfail_usage_error("explain", "expected a run directory%s", "");
    char err[1024];
    results_rundir *rd = results_rundir_load(dir, err, sizeof(err));
    if (!rd) {
        fprintf(stderr, "tempfail explain: %s\n", err);
        return TEMPFAIL_IO;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/scenario.yaml", dir);
    scenario_error serr;
    scenario *s = scenario_load_file(path, NULL, 0, &serr);
    results_explain *e = sim_xcalloc(1, sizeof(*e));
    int rc = results_explain_run(dir, rd, s, e, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "tempfail explain: %s\n", err);
        free(e);
        scenario_free(s);
        results_rundir_free(rd);
        return TEMPFAIL_IO;
    }
    if (!s)
        snprintf(e->note, sizeof(e->note), "%.200s: the rules that read the configuration were skipped",
                 serr.message);
    json_t *out = json ? json_object() : NULL, *arr = json ? json_array() : NULL;
    if (!json)
        printf("%s: %zu finding%s (the rules: docs/explain.md)\n", dir, e->n, e->n == 1 ? "" : "s");
    for (size_t i = 0; i < e->n; i++) {
        const results_explain_finding *f = &e->f[i];
        char title[400], fix[1200];
        incident_text(f->incident, title, sizeof(title), fix, sizeof(fix));
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "rule", json_string(f->rule));
            json_object_set_new(o, "incident", json_string(f->incident));
            json_object_set_new(o, "title", json_string(title));
            json_object_set_new(o, "fix", json_string(fix));
            json_object_set_new(o, "first", isnan(f->first) ? json_null() : json_real(f->first));
            json_object_set_new(o, "text", json_string(f->text));
            json_object_set_new(o, "evidence", json_string(f->evidence));
            json_array_append_new(arr, o);
            continue;
        }
        printf("\n%zu. [%s] ", i + 1, f->rule);
        wrap(f->text, 3, 6 + (int)strlen(f->rule));
        printf("   Evidence: ");
        wrap(f->evidence, 3, 13);
        char like[2000];
        snprintf(like, sizeof(like), "Like incidents/%s%s%s%s.%s%s (tempfail incident %s)", f->incident,
                 title[0] ? " (" : "", title, title[0] ? ")" : "", fix[0] ? " Its fix: " : "", fix, f->incident);
        printf("   ");
        wrap(like, 3, 3);
    }
    if (json) {
        json_object_set_new(out, "run", json_string(dir));
        json_object_set_new(out, "findings", arr);
        json_object_set_new(out, "note", e->note[0] ? json_string(e->note) : json_null());
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text)
            puts(text);
        free(text);
        json_decref(out);
    } else {
        if (!e->n && !e->note[0])
            printf("Nothing the rules look for: no refusal at a cap, no dead destination, no re-sends, no queue "
                   "shared with a mass of other mail, no short retry against a block, no slow DNS or disk.\n");
        if (e->note[0])
            printf("\nNote: %s\n", e->note);
    }
    free(e);
    scenario_free(s);
    results_rundir_free(rd);
    return TEMPFAIL_OK;
}
