/*
 * test_scenario_use - `use:` presets, from a library built by the test (TEMPFAIL_LIBRARY): a
 * receiver pulled in whole, its keys overridden by the scenario's (a mapping merged key by key, a
 * list replaced), several presets with the later winning, a preset that uses another, the whole
 * scenario from a preset, and broken uses with their exact messages: an unknown preset, a bad
 * name, a preset that is not a mapping, a cycle, and a bad value inside a preset, named by the
 * preset file's line and column.
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

#include <cmocka.h>

#include "scenarios/scenario.h"

static char root[64];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/presets/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/tempfail-use-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/presets", root);
    mkdir(p, 0777);
    snprintf(p, sizeof(p), "%s/presets/receivers", root);
    mkdir(p, 0777);
    put("receivers/strict.yaml", "name: strict\n"
                                 "domains: [strict.test]\n"
                                 "mx: [{host: mx.strict.test}]\n"
                                 "policy:\n"
                                 "  - {rule: concurrency_per_ip, limit: 3}\n"
                                 "  - {rule: connection_rate_per_ip, limit: 100/h}\n");
    put("receivers/strict-two.yaml", "use: receivers/strict\npolicy: [{rule: concurrency_per_ip, limit: 2}]\n");
    put("mta-slow.yaml", "postfix: {queue_run_delay: 600s, minimal_backoff_time: 600s}\n");
    put("mta-fast.yaml", "postfix: {queue_run_delay: 60s}\n");
    put("whole.yaml", "name: whole\ntraffic:\n  classes:\n"
                      "    - {name: a, arrivals: {process: burst, count: 5, over: 20s}, domains: {strict.test: 1}}\n"
                      "receivers: [{use: receivers/strict}]\n");
    put("list.yaml", "- 1\n");
    put("loop.yaml", "use: loop\nx: 1\n");
    put("bad.yaml", "name: bad\ndomains: [bad.test]\nmx: [{host: mx.bad.test}]\npolicy:\n"
                    "  - {rule: concurrency_per_ip, limit: lots}\n");
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

#define TRAFFIC                                                                                                   \
    "traffic:\n  classes:\n"                                                                                      \
    "    - {name: a, arrivals: {process: burst, count: 5, over: 20s}, domains: {strict.test: 1}}\n"

static scenario *load(const char *text, scenario_error *err)
{
    return scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, err);
}

static scenario *load_ok(const char *text)
{
    scenario_error err = {{0}};
    scenario *s = load(text, &err);
    if (!s)
        fail_msg("%s", err.message);
    return s;
}

/* The resolved document holds the text (the preset's values as they were merged). */
static void has(const scenario *s, const char *text)
{
    if (!strstr(s->resolved_yaml, text))
        fail_msg("'%s' not in:\n%s", text, s->resolved_yaml);
}

static void test_use(void **state)
{
    (void)state;
    /* whole, then a list replaced: the scenario's policy is the only one */
    scenario *s = load_ok("name: t\n" TRAFFIC "receivers:\n  - use: receivers/strict\n");
    has(s, "mx.strict.test");
    has(s, "connection_rate_per_ip");
    scenario_free(s);
    s = load_ok("name: t\n" TRAFFIC "receivers:\n  - use: receivers/strict\n"
                "    policy: [{rule: concurrency_per_ip, limit: 5}]\n");
    has(s, "limit: 5");
    assert_null(strstr(s->resolved_yaml, "connection_rate_per_ip"));
    assert_null(strstr(s->resolved_yaml, "use:"));
    scenario_free(s);
    /* a preset that uses another: its own keys win over the other's */
    s = load_ok("name: t\n" TRAFFIC "receivers:\n  - use: receivers/strict-two\n");
    has(s, "limit: 2");
    has(s, "mx.strict.test");
    assert_null(strstr(s->resolved_yaml, "limit: 3"));
    scenario_free(s);
    /* mappings merge key by key; of two presets the later wins; the scenario's own key over both */
    s = load_ok("name: t\n" TRAFFIC "receivers: [{use: receivers/strict}]\n"
                "mta:\n  use: [mta-slow, mta-fast]\n  postfix: {maximal_backoff_time: 4000s}\n");
    has(s, "queue_run_delay: 60s");
    has(s, "minimal_backoff_time: 600s");
    has(s, "maximal_backoff_time: 4000s");
    scenario_free(s);
    /* the whole scenario from a preset, its name given by the file */
    s = load_ok("use: whole\nname: mine\n");
    assert_string_equal(s->name, "mine");
    has(s, "mx.strict.test");
    scenario_free(s);
}

static void test_use_broken(void **state)
{
    (void)state;
    static const struct {
        const char *receiver, *message; /* %s: the library's root */
    } cases[] = {
        {"{use: receivers/none}", "t.yaml:6:11: use: no preset 'receivers/none' (%s/presets/receivers/none.yaml; "
                                  "`tempfail list` shows presets/...)"},
        {"{use: ../etc/passwd}", "t.yaml:6:11: use: expected a preset's name like receivers/orange, got '../etc/passwd'"},
        {"{use: {a: b}}", "t.yaml:6:11: use: expected a preset's name or a list of them, got a mapping"},
        {"{use: [[a]]}", "t.yaml:6:12: use: expected a preset's name, got a list"},
        {"{use: list}", "t.yaml:6:11: use: %s/presets/list.yaml: a preset is a mapping of keys"},
        {"{use: loop}", "%s/presets/loop.yaml:1:6: use: loop: more than 256 presets pulled in (a preset that uses itself?)"},
        {"{use: bad}", "%s/presets/bad.yaml:5:39: receivers[bad].policy[0].limit: expected a whole number, got 'lots'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], want[1024];
        snprintf(text, sizeof(text), "name: t\n" TRAFFIC "receivers:\n  - %s\n", cases[i].receiver);
        snprintf(want, sizeof(want), cases[i].message, root);
        scenario_error err = {{0}};
        scenario *s = load(text, &err);
        if (s) {
            scenario_free(s);
            fail_msg("'%s' loaded", cases[i].receiver);
        }
        if (strcmp(err.message, want) != 0)
            fail_msg("'%s': got '%s', want '%s'", cases[i].receiver, err.message, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_use_broken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
