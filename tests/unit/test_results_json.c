/*
 * test_results_json - the JSON printer: sorted keys, 2-space indent, reals in the results_fmt
 * format, escapes, and the same bytes every time.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memout.h"
#include "results/results_json.h"

static void test_json_layout(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:f, s:{s:[i,f,b,n]}, s:{}, s:[], s:s, s:f, s:f}", "seed", 42, "end", 7431.5,
                          "b", "list", 1, 0.1 + 0.2, 1, "empty", "none", "name", "a\"b\\c\n\x01", "big", 1e20,
                          "tiny", 1e-7);
    assert_non_null(v);
    char *s = results_json_dumps(v);
    assert_string_equal(s, "{\n"
                           "  \"b\": {\n"
                           "    \"list\": [\n"
                           "      1,\n"
                           "      0.3,\n"
                           "      true,\n"
                           "      null\n"
                           "    ]\n"
                           "  },\n"
                           "  \"big\": 100000000000000000000,\n"
                           "  \"empty\": {},\n"
                           "  \"end\": 7431.5,\n"
                           "  \"name\": \"a\\\"b\\\\c\\n\\u0001\",\n"
                           "  \"none\": [],\n"
                           "  \"seed\": 42,\n"
                           "  \"tiny\": 0\n"
                           "}\n");
    free(s);
    json_decref(v);
}

static void test_json_real_nan_is_null(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:o, s:o, s:o}", "a", results_json_real(NAN), "b", results_json_real(INFINITY), "c",
                          results_json_real(7200.0));
    char *s = results_json_dumps(v);
    assert_string_equal(s, "{\n  \"a\": null,\n  \"b\": null,\n  \"c\": 7200\n}\n");
    free(s);
    json_decref(v);
}

/* Insertion order must not matter: two trees with the same content print the same bytes. */
static void test_json_deterministic(void **state)
{
    (void)state;
    json_t *a = json_object(), *b = json_object();
    const char *keys[] = {"zeta", "alpha", "421", "mid", "Alpha", "220"};
    size_t n = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(a, keys[i], json_real((double)i / 3.0));
        json_object_set_new(b, keys[n - 1 - i], json_real((double)(n - 1 - i) / 3.0));
    }
    char *sa = results_json_dumps(a), *sb = results_json_dumps(b), *sa2 = results_json_dumps(a);
    assert_string_equal(sa, sb);
    assert_string_equal(sa, sa2);
    /* Bytewise order: digits, then upper case, then lower case. */
    assert_true(strstr(sa, "\"220\"") < strstr(sa, "\"421\""));
    assert_true(strstr(sa, "\"421\"") < strstr(sa, "\"Alpha\""));
    assert_true(strstr(sa, "\"Alpha\"") < strstr(sa, "\"alpha\""));
    free(sa);
    free(sb);
    free(sa2);
    json_decref(a);
    json_decref(b);
}

static void test_json_write_file_twice_equal(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:{s:f, s:f}, s:i}", "latency", "p95", 12.5, "p99", 59.999999, "n", 3);
    memout m[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(results_json_write(memout_open(&m[i]), v), 0);
        memout_close(&m[i]);
    }
    assert_int_equal(m[0].len, m[1].len);
    assert_memory_equal(m[0].buf, m[1].buf, m[0].len);
    assert_non_null(strstr(m[0].buf, "\"p99\": 59.999999"));
    free(m[0].buf);
    free(m[1].buf);
    json_decref(v);
}

static void test_json_write_error_is_reported(void **state)
{
    (void)state;
    FILE *f = full_open();
    setvbuf(f, NULL, _IONBF, 0);
    json_t *v = json_pack("{s:i}", "a", 1);
    int r = results_json_write(f, v);
    assert_int_equal(r, -ENOSPC);
    fclose(f);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_layout),
        cmocka_unit_test(test_json_real_nan_is_null),
        cmocka_unit_test(test_json_deterministic),
        cmocka_unit_test(test_json_write_file_twice_equal),
        cmocka_unit_test(test_json_write_error_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
