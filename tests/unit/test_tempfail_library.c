/*
 * test_tempfail_library - scenario names in a library: a file argument is itself, a whole name and
 * an unambiguous tail resolve, an ambiguous tail and an unknown name get messages that say so
 * (naming the candidates), and TEMPFAIL_LIBRARY chooses the directory. The library is a temporary
 * tree built by the test.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenarios/scenario.h"
#include "tempfail/tempfail.h"

static char root[64];

static void touch(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("name: x\n", f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/tempfail-lib-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char p[PATH_MAX];
    const char *dirs[] = {"examples", "replay", "incidents", "incidents/nat", "presets"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        if (mkdir(p, 0777) != 0)
            return -1;
    }
    touch("examples/greylist.yaml");
    touch("replay/greylist.yaml");
    touch("incidents/nat/before.yaml");
    touch("incidents/nat/after.yaml");
    touch("presets/default.yaml");
    touch("presets/notes.txt");
    setenv("TEMPFAIL_LIBRARY", root, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    unsetenv("TEMPFAIL_LIBRARY");
    return system(cmd) == 0 ? 0 : -1;
}

static void test_resolve(void **state)
{
    (void)state;
    assert_string_equal(scenario_library_dir(), root);
    static const struct {
        const char *arg, *want; /* want: a path under root ("=" + the arg itself) or an error's text */
        int rc;
    } cases[] = {
        {"examples/greylist", "examples/greylist.yaml", 0},
        {"nat/before", "incidents/nat/before.yaml", 0},
        {"incidents/nat/after", "incidents/nat/after.yaml", 0},
        {"default", "presets/default.yaml", 0},
        {"my.yaml", "=", 0},
        {"./greylist", "=", 0},
        {"/no/such/file", "=", 0},
        {"greylist", "'greylist' names 2 scenarios of the library: examples/greylist replay/greylist", -1},
        {"before", "", 0}, /* only one "before" */
        {"notes", "'notes': no such file, and no scenario of that name in the library", -1},
        {"eylist", "'eylist': no such file", -1}, /* tails are whole components */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[PATH_MAX] = "", err[512] = "", want[PATH_MAX];
        int rc = tempfail_library_path(cases[i].arg, out, sizeof(out), err, sizeof(err));
        if (rc != cases[i].rc)
            fail_msg("'%s': rc %d (%s)", cases[i].arg, rc, err);
        if (rc == 0 && strcmp(cases[i].want, "=") == 0)
            assert_string_equal(out, cases[i].arg);
        else if (rc == 0 && cases[i].want[0]) {
            snprintf(want, sizeof(want), "%s/%s", root, cases[i].want);
            assert_string_equal(out, want);
        } else if (rc != 0 && strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("'%s': got '%s', want '%s...'", cases[i].arg, err, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(test_resolve, setup, teardown)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
