/*
 * test_results_expect - `expect:` against a summary: every operator, the class and receiver
 * shorthands, keys with dots and digits, unknown metrics with a suggestion, and the "expect" array
 * written back into the summary.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_expect.h"
#include "results/results_json.h"

static const char fixture[] =
    "{\"scenario\": \"t\", \"seed\": 42,"
    " \"simulated\": {\"duration\": 7200, \"drained\": true},"
    " \"messages\": {\"arrived\": 100, \"delivered\": 97, \"bounced\": 1, \"queued\": 2},"
    " \"latency\": {\"p95\": 30.5},"
    " \"classes\": {\"transactional\": {\"delivered\": 90, \"latency\": {\"p50\": 1.5, \"p95\": 12.5, \"p99\": 40}},"
    "               \"bulk\": {\"delivered\": 7, \"latency\": {\"p95\": null}}},"
    " \"receivers\": {\"orange\": {\"replies\": {\"250\": 97, \"421\": 14}, \"sessions\": {\"peak\": 3, \"cap\": 3}},"
    "                 \"transactional\": {\"replies\": {\"421\": 999}}},"
    " \"destinations\": {\"smtp:mx.orange.test\": {\"dead_episodes\": 2, \"window\": {\"max\": 5}}},"
    " \"expect\": [{\"assertion\": \"stale\"}]}";

static int setup(void **state)
{
    json_error_t e;
    *state = json_loads(fixture, 0, &e);
    if (!*state)
        fprintf(stderr, "fixture: %s at %d\n", e.text, e.position);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    json_decref(*state);
    return 0;
}

static const struct {
    const char *metric;
    int rc;
    double value;
} paths[] = {
    {"messages.delivered", 0, 97},
    {"classes.transactional.latency.p95", 0, 12.5},
    {"transactional.latency.p95", 0, 12.5},         /* class shorthand */
    {"orange.replies.421", 0, 14},                 /* receiver shorthand, numeric key */
    {"receivers.orange.sessions.peak", 0, 3},
    {"receivers.transactional.replies.421", 0, 999}, /* the long form reaches the receiver */
    {"destinations.smtp:mx.orange.test.window.max", 0, 5}, /* key with dots */
    {"simulated.drained", 0, 1},                   /* booleans are 1/0 */
    {"bulk.latency.p95", -ENODATA, NAN},
    {"transactional.latency", -EINVAL, NAN},
    {"scenario", -EINVAL, NAN},
    {"transactional.latncy.p95", -ENOENT, NAN},
    {"messages..delivered", -ENOENT, NAN},
    {"messages.delivered.", -ENOENT, NAN},
    {"", -ENOENT, NAN},
};

static void test_expect_resolve_table(void **state)
{
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        double v = -1;
        int rc = results_expect_resolve(*state, paths[i].metric, &v);
        if (rc != paths[i].rc)
            fail_msg("%s: rc %d, want %d", paths[i].metric, rc, paths[i].rc);
        if (rc == 0 && v != paths[i].value)
            fail_msg("%s: %g, want %g", paths[i].metric, v, paths[i].value);
    }
}

static const struct {
    scenario_expect_op op;
    double value, bound;
    bool pass;
} ops[] = {
    {EXPECT_LT, 1, 2, true},   {EXPECT_LT, 2, 2, false},  {EXPECT_LE, 2, 2, true},  {EXPECT_LE, 3, 2, false},
    {EXPECT_GT, 3, 2, true},   {EXPECT_GT, 2, 2, false},  {EXPECT_GE, 2, 2, true},  {EXPECT_GE, 1, 2, false},
    {EXPECT_EQ, 0, 0, true},   {EXPECT_EQ, 1, 0, false},  {EXPECT_NE, 1, 0, true},  {EXPECT_NE, 0, 0, false},
    {EXPECT_EQ, 0.1 + 0.2, 0.3, true},   /* a different summation order still equals */
    {EXPECT_NE, 0.1 + 0.2, 0.3, false},
    {EXPECT_EQ, 1000.001, 1000, false},
    {EXPECT_LT, NAN, 1, false},          {EXPECT_NE, NAN, 1, false},
};

static void test_expect_operators(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (results_expect_compare(ops[i].op, ops[i].value, ops[i].bound) != ops[i].pass)
            fail_msg("case %zu: %g %s %g", i, ops[i].value, results_expect_op_name(ops[i].op), ops[i].bound);
    assert_string_equal(results_expect_op_name(EXPECT_LE), "<=");
    assert_string_equal(results_expect_op_name(EXPECT_NE), "!=");
}

static void test_expect_suggestion(void **state)
{
    char b[256];
    assert_int_equal(results_expect_suggest(*state, "transactional.latncy.p95", b, sizeof(b)), 0);
    assert_string_equal(b, "transactional.latency.p95");
    /* Two swapped pairs are two edits, within reach of a short name (plain Levenshtein says 4). */
    assert_int_equal(results_expect_suggest(*state, "esde", b, sizeof(b)), 0);
    assert_string_equal(b, "seed");
    assert_int_equal(results_expect_suggest(*state, "classes.transactional.latency.pp95", b, sizeof(b)), 0);
    assert_string_equal(b, "classes.transactional.latency.p95");
    assert_int_equal(results_expect_suggest(*state, "orange.replies.412", b, sizeof(b)), 0);
    assert_string_equal(b, "orange.replies.421");
    assert_int_equal(results_expect_suggest(*state, "completely.different.thing", b, sizeof(b)), -ENOENT);
}

#define E(txt, m, o, v, l) {.text = (char *)(txt), .metric = (char *)(m), .op = (o), .value = (v), .line = (l)}

static void test_expect_eval_writes_summary(void **state)
{
    json_t *s = *state;
    scenario_expect items[] = {
        E("transactional.latency.p95 < 60s", "transactional.latency.p95", EXPECT_LT, 60, 40),
        E("receivers.orange.replies.421 == 0", "receivers.orange.replies.421", EXPECT_EQ, 0, 41),
        E("transactional.latncy.p95 < 60s", "transactional.latncy.p95", EXPECT_LT, 60, 42),
        E("bulk.latency.p95 < 1h", "bulk.latency.p95", EXPECT_LT, 3600, 43),
        E("messages.queued <= 2", "messages.queued", EXPECT_LE, 2, 44),
    };
    results_expect_result out[5];
    assert_int_equal(results_expect_eval(s, items, 5, out), 3);
    assert_true(out[0].pass);
    assert_true(out[0].value == 12.5);
    assert_string_equal(out[0].error, "");
    assert_false(out[1].pass);
    assert_true(out[1].value == 14);
    assert_false(out[2].pass);
    assert_true(isnan(out[2].value));
    assert_string_equal(out[2].error, "expect line 42: unknown metric 'transactional.latncy.p95' (did you mean "
                                      "'transactional.latency.p95'?)");
    assert_false(out[3].pass);
    assert_string_equal(out[3].error, "expect line 43: no value in this run for metric 'bulk.latency.p95'");
    assert_true(out[4].pass);

    char *txt = results_json_dumps(json_object_get(s, "expect"));
    assert_string_equal(txt, "[\n"
                             "  {\n"
                             "    \"assertion\": \"transactional.latency.p95 < 60s\",\n"
                             "    \"pass\": true,\n"
                             "    \"value\": 12.5\n"
                             "  },\n"
                             "  {\n"
                             "    \"assertion\": \"receivers.orange.replies.421 == 0\",\n"
                             "    \"pass\": false,\n"
                             "    \"value\": 14\n"
                             "  },\n"
                             "  {\n"
                             "    \"assertion\": \"transactional.latncy.p95 < 60s\",\n"
                             "    \"error\": \"expect line 42: unknown metric 'transactional.latncy.p95' (did you "
                             "mean 'transactional.latency.p95'?)\",\n"
                             "    \"pass\": false,\n"
                             "    \"value\": null\n"
                             "  },\n"
                             "  {\n"
                             "    \"assertion\": \"bulk.latency.p95 < 1h\",\n"
                             "    \"error\": \"expect line 43: no value in this run for metric 'bulk.latency.p95'\",\n"
                             "    \"pass\": false,\n"
                             "    \"value\": null\n"
                             "  },\n"
                             "  {\n"
                             "    \"assertion\": \"messages.queued <= 2\",\n"
                             "    \"pass\": true,\n"
                             "    \"value\": 2\n"
                             "  }\n"
                             "]\n");
    free(txt);
}

static void test_expect_unknown_without_suggestion(void **state)
{
    scenario_expect items[] = {E("zzz.qqq > 1", "zzz.qqq", EXPECT_GT, 1, 7)};
    results_expect_result out[1];
    assert_int_equal(results_expect_eval(*state, items, 1, out), 1);
    assert_string_equal(out[0].error, "expect line 7: unknown metric 'zzz.qqq'");
}

static void test_expect_empty(void **state)
{
    assert_int_equal(results_expect_eval(*state, NULL, 0, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(*state, "expect")), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expect_resolve_table, setup, teardown),
        cmocka_unit_test(test_expect_operators),
        cmocka_unit_test_setup_teardown(test_expect_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_eval_writes_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_unknown_without_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
