/*
 * Tests of results/results_validate.c: the figures read from summaries as both worlds write them,
 * the replays' mean, min and max beside the simulation's, tolerances relative or in percentage
 * points, a zero that must stay zero, and a figure missing from a side failing its check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "results/results_validate.h"

/* A summary with the figures the validation reads. */
static json_t *summary(double n421, double first, double suspended, double drain)
{
    json_error_t e;
    json_t *s = json_pack_ex(&e, 0, "{s:{s:{s:{s:f}, s:{s:f}}}, s:{s:f}, s:{s:f}, s:{s:f}, s:{s:f, s:f}}",
                             "receivers", "capped", "replies", "421", n421, "sessions", "peak", 3.0, "messages",
                             "first_attempt_deferral_rate", first, "deferrals", "suspended", suspended, "queue",
                             "drained_at", drain, "latency", "p50", 10.0, "p95", 60.0);
    if (!s)
        fail_msg("json_pack: %s", e.text);
    return s;
}

static const results_validate_fig *fig(const results_validate *v, const char *key)
{
    for (size_t i = 0; i < RESULTS_VALIDATE_NFIG; i++)
        if (strcmp(v->fig[i].key, key) == 0)
            return &v->fig[i];
    fail_msg("no figure %s", key);
    return NULL;
}

static void test_tolerance_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        double tolerance;
        bool absolute;
    } cases[] = {
        {"421s=15%", 0, 0.15, false},       {"drain=0.2", 0, 0.2, false},     {"first_attempt=5pp", 0, 0.05, true},
        {"suspended=50%", 0, 0.5, false},   {"421s=-5%", -1, 0, false},       {"421s=5p", -1, 0, false},
        {"421s=", -1, 0, false},            {"nope=5%", -1, 0, false},        {"421s", -1, 0, false},
        {"first_attempt=5ppx", -1, 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        results_validate v;
        results_validate_init(&v);
        char err[256] = "";
        int rc = results_validate_tolerance(&v, cases[i].text, err, sizeof(err));
        if ((rc == 0) != (cases[i].rc == 0))
            fail_msg("%s: rc %d (%s)", cases[i].text, rc, err);
        if (rc != 0) {
            assert_non_null(strstr(err, "--tolerance "));
            continue;
        }
        const char *eq = strchr(cases[i].text, '=');
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - cases[i].text), cases[i].text);
        assert_true(fabs(fig(&v, key)->tolerance - cases[i].tolerance) < 1e-12);
        assert_int_equal(fig(&v, key)->absolute, cases[i].absolute);
    }
}

/*
 * Three replays vary; the table shows their mean, min and max. Relative tolerances on the mean; the
 * first-attempt rate in percentage points; dead-destination deferrals the simulation never shows
 * while the replays do fail, whatever the tolerance.
 */
static void test_figures_and_checks(void **state)
{
    (void)state;
    json_t *sim[2] = {summary(50, 0.30, 0, 100), summary(60, 0.34, 0, 120)};
    json_t *real[3] = {summary(50, 0.40, 4, 100), summary(58, 0.36, 8, 110), summary(62, 0.38, 6, 120)};
    results_validate v;
    results_validate_init(&v);
    char err[256];
    assert_int_equal(results_validate_tolerance(&v, "421s=15%", err, sizeof(err)), 0);
    assert_int_equal(results_validate_tolerance(&v, "first_attempt=5pp", err, sizeof(err)), 0);
    assert_int_equal(results_validate_tolerance(&v, "suspended=50%", err, sizeof(err)), 0);
    results_validate_compute(&v, (const json_t *const *)sim, 2, (const json_t *const *)real, 3);
    const results_validate_fig *f = fig(&v, "421s");
    assert_true(f->sim_mean == 55 && f->real_mean == 170.0 / 3 && f->real_min == 50 && f->real_max == 62);
    assert_true(f->pass); /* +3% */
    f = fig(&v, "first_attempt");
    assert_true(fabs(f->real_mean - 0.38) < 1e-12);
    assert_true(f->pass == false); /* 0.38 - 0.32 = 6pp > 5pp, though only +19% */
    f = fig(&v, "suspended");
    assert_true(f->sim_mean == 0 && f->real_min == 4 && f->real_max == 8);
    assert_false(f->pass);
    f = fig(&v, "drain");
    assert_true(f->pass); /* 110 vs 110 */
    assert_int_equal(v.failed, 2);

    /* the printed table: the replays' range, the difference in points */
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");
    results_validate_print(out, &v, 2, 3);
    fclose(out);
    assert_non_null(strstr(buf, "(min-max)"));
    assert_non_null(strstr(buf, "50.0-62.0"));
    assert_non_null(strstr(buf, "+6.0pp"));
    assert_non_null(strstr(buf, "±5pp"));
    assert_non_null(strstr(buf, "2 figures outside their tolerance"));
    json_t *j = results_validate_json(&v);
    assert_true(json_real_value(json_object_get(json_object_get(j, "suspended"), "replay_max")) == 8);
    assert_true(json_is_true(json_object_get(json_object_get(j, "first_attempt"), "tolerance_absolute")));
    json_decref(j);

    /* a figure a side lacks cannot pass its check */
    json_object_del(json_object_get(real[0], "queue"), "drained_at");
    json_object_del(json_object_get(real[1], "queue"), "drained_at");
    json_object_del(json_object_get(real[2], "queue"), "drained_at");
    results_validate_compute(&v, (const json_t *const *)sim, 2, (const json_t *const *)real, 3);
    assert_false(fig(&v, "drain")->pass);
    for (int i = 0; i < 2; i++)
        json_decref(sim[i]);
    for (int i = 0; i < 3; i++)
        json_decref(real[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tolerance_forms),
        cmocka_unit_test(test_figures_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
