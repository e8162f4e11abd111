/*
 * test_scenario_guard - the nesting bound scanned before libyaml: depths counted as the parser
 * would nest (flow and block collections, "- " entries), quotes, comments and block scalars skipped
 * where YAML skips them and not elsewhere (a quote inside a plain scalar is text), the position of
 * the first level past the bound; the loader's message, fast even for 80,000 levels; alias bombs
 * through --set and a refused /dev/zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenarios/scenario_guard.h"

/* The deepest level of text: the smallest max the guard accepts it with. */
static size_t depth_of(const char *text)
{
    for (size_t max = 1; max <= SCENARIO_GUARD_DEPTH; max++)
        if (scenario_guard_depth(text, strlen(text), max, NULL, NULL))
            return max;
    return SCENARIO_GUARD_DEPTH + 1;
}

static void test_depths(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t depth;
    } cases[] = {
        {"a: 1\n", 1},
        {"a:\n  b: 1\n", 2},
        {"a:\n  b:\n    c: [1, 2]\n", 4},
        {"a: [[[1]]]\n", 4},
        {"a: {b: [c, {d: 1}]}\n", 4},
        {"- - - x\n", 4},                      /* one more than libyaml's 3: never fewer */
        {"a:\n  - b: 1\n    c: 2\n", 3},
        {"a: \"[[[[[\"\n", 1},                 /* a double-quoted scalar */
        {"a: '[[[['\n", 1},                    /* single-quoted */
        {"a: 'it''s [[[[ '\n", 1},             /* '' inside it */
        {"a: \"x\\\" [[[[\"\n", 1},            /* \" inside a double-quoted one */
        {"a: b # [[[[\n", 1},                  /* a comment */
        {"a: b#[[\n", 3},                      /* not a comment: '#' after a letter; counted (more, never less) */
        {"a: don't [[x]]\n", 3},               /* a quote in a plain scalar is text: the brackets count */
        {"a: |\n  [[[[\n  {{{{\nb: 1\n", 1},  /* a block scalar's content */
        {"a: >-\n  [[[[\nb: [[1]]\n", 3},     /* ... and what follows it */
        {"a: [1,\n  [2,\n    [3]]]\n", 4},   /* flow over lines: indentation does not matter */
        {"a: 'x\n  [[[[ y'\n", 1},            /* a quoted scalar over lines */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t d = depth_of(cases[i].text);
        if (d != cases[i].depth)
            fail_msg("case %zu '%s': depth %zu, want %zu", i, cases[i].text, d, cases[i].depth);
    }
}

/* Where the first level past the bound is, 1-based. */
static void test_position(void **state)
{
    (void)state;
    size_t line = 0, col = 0;
    assert_false(scenario_guard_depth("a: 1\nb: [[[x]]]\n", 16, 3, &line, &col));
    assert_int_equal(line, 2);
    assert_int_equal(col, 6); /* the third '[' makes four levels with b's mapping */
    assert_false(scenario_guard_depth("a:\n  b:\n    c: 1\n", 17, 2, &line, &col));
    assert_int_equal(line, 3);
}

/* 80,000 levels in 160 KB: refused by the scan, with the message, before the parser (which took 22 s). */
static void test_deep_file(void **state)
{
    (void)state;
    size_t n = 80000;
    char *t = malloc(2 * n + 16);
    assert_non_null(t);
    size_t len = (size_t)sprintf(t, "name: x\nd: ");
    memset(t + len, '[', n);
    memset(t + len + n, ']', n);
    len += 2 * n;
    t[len++] = '\n';
    scenario_error err;
    assert_null(scenario_load_text(t, len, "deep.yaml", NULL, 0, &err));
    assert_string_equal(err.message, "deep.yaml:2:67: nested deeper than 64 levels (lists and mappings inside each "
                                     "other; a scenario needs about 8)");
    free(t);
}

/* --set: a value nested too deep, and the billion laughs (a few hundred bytes of nested aliases). */
static void test_set_values(void **state)
{
    (void)state;
    char deep[300] = "traffic=";
    size_t l = strlen(deep);
    memset(deep + l, '[', 100);
    memset(deep + l + 100, ']', 100);
    deep[l + 200] = 0;
    const char *sets[] = {deep};
    scenario_error err;
    assert_null(scenario_load_default(sets, 1, &err));
    assert_non_null(strstr(err.message, "the value is nested deeper than 64 levels"));

    const char *bomb = "description=[&a [x,x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a],"
                       " &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c],"
                       " &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e],"
                       " &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f], [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]]";
    const char *bsets[] = {bomb};
    assert_null(scenario_load_default(bsets, 1, &err));
    assert_non_null(strstr(err.message, "expands to more than 100000 values through its aliases"));
    assert_non_null(strstr(err.message, "--set description="));
}

/* Files that are not regular files are refused at once, naming what they are. */
static void test_not_regular(void **state)
{
    (void)state;
    scenario_error err;
    assert_null(scenario_load_file("/dev/zero", NULL, 0, &err));
    assert_string_equal(err.message, "/dev/zero: not a regular file (a character device)");
    assert_null(scenario_load_file("/tmp", NULL, 0, &err));
    assert_string_equal(err.message, "/tmp: not a regular file (a directory)");
    static const char data[] = "name: x\n"
                               "traffic:\n  classes:\n"
                               "    - { name: a, arrivals: { process: poisson, rate: 1/s }, domains: { x.test: 1 },\n"
                               "        size: { dist: empirical, file: /dev/zero } }\n";
    assert_null(scenario_load_text(data, sizeof(data) - 1, "t.yaml", NULL, 0, &err));
    assert_non_null(strstr(err.message, "'/dev/zero': not a regular file (a character device)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depths),     cmocka_unit_test(test_position),   cmocka_unit_test(test_deep_file),
        cmocka_unit_test(test_set_values), cmocka_unit_test(test_not_regular),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
