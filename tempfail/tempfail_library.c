/*
 * tempfail_library - the scenario library by name: `tempfail list` (every scenario of the library,
 * a line each), `tempfail show NAME` (the scenario as the loader resolved it), and the names every
 * command that takes a scenario file also takes (`tempfail run examples/greylist`).
 *
 * The library is a directory of YAML files (scenarios/ in the source tree: examples/, presets/,
 * replay/, incidents/...); a scenario's name is its path there without ".yaml", and the shortest
 * unambiguous tail of it works too ("greylist" when only one file is called so). An argument that
 * names an existing file is that file, whatever the library holds. The directory is
 * scenario_library_dir(): $TEMPFAIL_LIBRARY when set, else the source tree's scenarios/ for a program
 * in the build directory, the installed PREFIX/share/tempfail/scenarios for an installed one.
 */
#include "tempfail/tempfail.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scenarios/scenario.h"
#include "sim/sim_mem.h"


typedef struct lib_list {
    char **names; /* "examples/greylist" */
    size_t n, cap;
} lib_list;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.yaml under root/rel, as names relative to root; bounded depth. */
static void lib_walk(const char *root, const char *rel, int depth, lib_list *l)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d || depth > 4) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX], full[PATH_MAX * 2];
        if (snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= (int)sizeof(sub))
            continue;
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        size_t len = strlen(sub);
        if (S_ISDIR(st.st_mode)) {
            lib_walk(root, sub, depth + 1, l);
        } else if (S_ISREG(st.st_mode) && len > 5 && strcmp(sub + len - 5, ".yaml") == 0) {
            if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 32;
                l->names = sim_xreallocarray(l->names, l->cap, sizeof(*l->names));
            }
            sub[len - 5] = '\0';
            l->names[l->n++] = sim_xstrdup(sub);
        }
    }
    closedir(d);
}

static lib_list lib_scan(void)
{
    lib_list l = {0};
    lib_walk(scenario_library_dir(), "", 0, &l);
    if (l.n)
        qsort(l.names, l.n, sizeof(*l.names), cmp_str);
    return l;
}

static void lib_free(lib_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* Whether name is path's tail at a component boundary ("greylist" of "examples/greylist"). */
static bool lib_tail(const char *path, const char *name)
{
    size_t lp = strlen(path), ln = strlen(name);
    return ln <= lp && strcmp(path + lp - ln, name) == 0 && (ln == lp || path[lp - ln - 1] == '/');
}

int tempfail_library_path(const char *arg, char *out, size_t len, char *err, size_t errlen)
{
    struct stat st;
    if (stat(arg, &st) == 0 || strchr(arg, '/') == arg || strncmp(arg, "./", 2) == 0 ||
        (strlen(arg) > 5 && strcmp(arg + strlen(arg) - 5, ".yaml") == 0)) {
        snprintf(out, len, "%s", arg); /* a file (the loader says what is wrong with it) */
        return 0;
    }
    lib_list l = lib_scan();
    size_t hits = 0, hit = 0;
    for (size_t i = 0; i < l.n; i++)
        if (lib_tail(l.names[i], arg)) {
            if (strcmp(l.names[i], arg) == 0) { /* the whole name wins over tails */
                hits = 1;
                hit = i;
                break;
            }
            hits++;
            hit = i;
        }
    int rc = 0;
    if (hits == 1) {
        snprintf(out, len, "%s/%s.yaml", scenario_library_dir(), l.names[hit]);
    } else if (hits == 0) {
        snprintf(err, errlen, "'%s': no such file, and no scenario of that name in the library (%s; `tempfail list`)",
                 arg, scenario_library_dir());
        rc = -1;
    } else {
        int n = snprintf(err, errlen, "'%s' names %zu scenarios of the library:", arg, hits);
        for (size_t i = 0; i < l.n && n > 0 && (size_t)n < errlen; i++)
            if (lib_tail(l.names[i], arg))
                n += snprintf(err + n, errlen - (size_t)n, " %s", l.names[i]);
        rc = -1;
    }
    lib_free(&l);
    return rc;
}

void tempfail_library_comment(const char *path, char *b, size_t len)
{
    b[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    if (f && fgets(line, sizeof(line), f) && line[0] == '#') {
        const char *t = line + 1 + (line[1] == ' ');
        snprintf(b, len, "%.*s", (int)strcspn(t, "\n"), t);
    }
    if (f)
        fclose(f);
}

/* The first line of a scenario's description; for a preset (a part of a scenario, under presets/,
 * that `use:` pulls in) its first comment line; or what keeps it from loading. */
static void lib_summary(const char *name, const char *path, char *b, size_t len)
{
    scenario_error err;
    scenario *s = scenario_load_file(path, NULL, 0, &err);
    if (!s) {
        char c[400];
        tempfail_library_comment(path, c, sizeof(c));
        if (strncmp(name, "presets/", 8) == 0)
            snprintf(b, len, "(preset for use:) %s", c);
        else
            snprintf(b, len, "(does not load as a scenario: `tempfail show` says why)");
        return;
    }
    const char *d = s->description ? s->description : "";
    size_t n = strcspn(d, "\n"), cut = n;
    if (n > 100) /* a line of the list: cut at a word, and say so */
        for (cut = 100; cut > 60 && d[cut] != ' '; cut--)
            ;
    snprintf(b, len, "%.*s%s", (int)cut, d, cut < n ? " ..." : "");
    scenario_free(s);
}

static const char list_usage[] =
    "Usage: tempfail list\n"
    "\n"
    "The scenario library, a line each: its name (what run, show, sweep and replay take instead of a\n"
    "file) and the first line of its description. Presets (presets/..., parts of a scenario that\n"
    "`use: NAME` pulls in) show their first comment line. An incident (incidents/NAME, a before.yaml\n"
    "and an after.yaml) is one line with its title; `tempfail incident NAME` runs both, and\n"
    "incidents/NAME/before and .../after are the two scenarios. The library is $TEMPFAIL_LIBRARY, or\n"
    "PREFIX/share/tempfail/scenarios for an installed PREFIX/bin/tempfail (the scenarios/ directory of\n"
    "the source tree for a tempfail run from its build directory).\n";

int tempfail_list_main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(list_usage, stdout);
        return TEMPFAIL_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "tempfail list: no arguments or options but --help (got '%s')\n", argv[1]);
        return TEMPFAIL_USAGE;
    }
    lib_list l = lib_scan();
    if (l.n == 0) {
        fprintf(stderr, "tempfail list: no scenarios in %s (set TEMPFAIL_LIBRARY to the library's directory)\n",
                scenario_library_dir());
        return TEMPFAIL_IO;
    }
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++)
        if (strlen(l.names[i]) > w)
            w = strlen(l.names[i]);
    for (size_t i = 0; i < l.n; i++) {
        char path[PATH_MAX], sum[512];
        /* an incident (NAME/after and NAME/before, sorted so) is one line: NAME, and the story's
         * title, the first comment line of its before.yaml */
        size_t pl = strlen(l.names[i]) >= 6 ? strlen(l.names[i]) - 6 : 0;
        if (pl && strcmp(l.names[i] + pl, "/after") == 0 && i + 1 < l.n &&
            strncmp(l.names[i + 1], l.names[i], pl) == 0 && strcmp(l.names[i + 1] + pl, "/before") == 0) {
            char c[400];
            snprintf(path, sizeof(path), "%s/%.*s/before.yaml", scenario_library_dir(), (int)pl, l.names[i]);
            tempfail_library_comment(path, c, sizeof(c));
            c[strcspn(c, ":")] = '\0'; /* the title: "Disk contention makes delivery bursty" */
            printf("%-*.*s  (incident: before, after) %s\n", (int)w, (int)pl, l.names[i], c);
            i++;
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s.yaml", scenario_library_dir(), l.names[i]);
        lib_summary(l.names[i], path, sum, sizeof(sum));
        printf("%-*s  %s\n", (int)w, l.names[i], sum);
    }
    lib_free(&l);
    return TEMPFAIL_OK;
}

static const char show_usage[] =
    "Usage: tempfail show [NAME | SCENARIO.yaml] [--set KEY=VALUE]...\n"
    "\n"
    "Prints a scenario as the loader resolved it (the built-in default without one): its --set\n"
    "overrides applied, exactly what a run of it writes as scenario.yaml. NAME is a library scenario\n"
    "(`tempfail list`).\n";

int tempfail_show_main(int argc, char **argv)
{
    const char **sets = sim_xcalloc((size_t)argc + 1, sizeof(*sets));
    size_t nsets = 0;
    const char *arg = NULL;
    int status = TEMPFAIL_OK;
    for (int i = 1; i < argc && !status; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(show_usage, stdout);
            free(sets);
            return TEMPFAIL_OK;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            sets[nsets++] = argv[i] + 6;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "tempfail show: unknown option '%s' (tempfail show --help)\n", argv[i]);
            status = TEMPFAIL_USAGE;
        } else if (arg) {
            fprintf(stderr, "tempfail show: one scenario at most (then '%s' is one too many)\n", argv[i]);
            status = TEMPFAIL_USAGE;
        } else {
            arg = argv[i];
        }
    }
    char path[PATH_MAX], err[1024];
    if (!status && arg && tempfail_library_path(arg, path, sizeof(path), err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail show: %s\n", err);
        status = TEMPFAIL_USAGE;
    }
    if (!status) {
        scenario_error serr;
        scenario *s = arg ? scenario_load_file(path, sets, nsets, &serr) : scenario_load_default(sets, nsets, &serr);
        if (!s) {
            fprintf(stderr, "tempfail: %s\n", serr.message);
            status = TEMPFAIL_USAGE;
        } else {
            fputs(s->resolved_yaml, stdout);
            scenario_free(s);
        }
    }
    free(sets);
    return status;
}
