/*
 * test_results_manifest - manifest.json names the versions, the run and the expect outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gsl/gsl_version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "memout.h"
#include "results/results_json.h"
#include "results/results_manifest.h"

static void test_manifest_contents(void **state)
{
    (void)state;
    json_t *resolved = json_pack("{s:s, s:i}", "name", "t", "seed", 42);
    results_manifest_info m = {
        .scenario_name = "t",
        .scenario_source = "examples/t.yaml",
        .scenario = resolved,
        .seed = 42,
        .replication = 3,
        .wall_time = 0.5,
        .events = 1000000,
        .peak_rss = 10485760,
        .expect_total = 2,
        .expect_failed = 1,
    };
    json_t *j = results_manifest_build(&m);
    assert_non_null(j);
    json_t *v = json_object_get(j, "versions");
    assert_string_equal(json_string_value(json_object_get(v, "tempfail")), TEMPFAIL_VERSION);
    assert_string_equal(json_string_value(json_object_get(v, "gsl")), gsl_version);
    assert_string_equal(json_string_value(json_object_get(v, "libyaml")), yaml_get_version_string());
    assert_string_equal(json_string_value(json_object_get(v, "jansson")), JANSSON_VERSION);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "replication")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "events")), 1000000);
    assert_true(json_number_value(json_object_get(j, "events_per_second")) == 2000000.0);
    assert_int_equal(json_integer_value(json_object_get(j, "peak_rss")), 10485760);
    json_t *sc = json_object_get(j, "scenario");
    assert_string_equal(json_string_value(json_object_get(sc, "source")), "examples/t.yaml");
    assert_true(json_equal(json_object_get(sc, "resolved"), resolved));
    json_t *e = json_object_get(j, "expect");
    assert_string_equal(json_string_value(json_object_get(e, "status")), "fail");
    assert_int_equal(json_integer_value(json_object_get(e, "failed")), 1);
    json_decref(j);
    json_decref(resolved);
}

static void test_manifest_optional_parts(void **state)
{
    (void)state;
    results_manifest_info m = {.seed = UINT64_MAX, .scenario_source = "<built-in default>"};
    json_t *j = results_manifest_build(&m);
    assert_null(json_object_get(j, "peak_rss"));
    assert_true(json_is_null(json_object_get(j, "events_per_second")));
    assert_null(json_object_get(json_object_get(j, "scenario"), "resolved"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "expect"), "status")), "none");
    /* A seed beyond jansson's signed integers stays exact. */
    assert_string_equal(json_string_value(json_object_get(j, "seed")), "18446744073709551615");
    json_decref(j);
}

static void test_manifest_write_is_sorted_json(void **state)
{
    (void)state;
    results_manifest_info m = {.scenario_name = "t", .scenario_source = "t.yaml", .seed = 7, .wall_time = 2,
                               .events = 5, .expect_total = 1};
    memout out;
    assert_int_equal(results_manifest_write(memout_open(&out), &m), 0);
    char *buf = memout_close(&out);
    json_error_t err;
    json_t *back = json_loads(buf, 0, &err);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(json_object_get(back, "expect"), "status")), "pass");
    /* Sorted keys: "events" < "events_per_second" < "expect" < "replication" < "scenario" < "seed". */
    const char *order[] = {"\"events\"", "\"events_per_second\"", "\"expect\"", "\"replication\"",
                           "\"scenario\"", "\"seed\"", "\"versions\"", "\"wall_time\""};
    for (size_t i = 1; i < sizeof(order) / sizeof(order[0]); i++)
        assert_true(strstr(buf, order[i - 1]) < strstr(buf, order[i]));
    assert_non_null(strstr(buf, "\"events_per_second\": 2.5,\n"));
    json_decref(back);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_contents),
        cmocka_unit_test(test_manifest_optional_parts),
        cmocka_unit_test(test_manifest_write_is_sorted_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
