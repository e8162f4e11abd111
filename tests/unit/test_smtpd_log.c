/*
 * test_smtpd_log - the event log's line format: field order and spacing, six-decimal times, the
 * optional fields (rule, text, size and sha256), escaping of quotes, backslashes, control characters
 * and 8-bit bytes, a cut text that stays valid JSON, and lines written through the buffer to a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testsmtpd/smtpd_log.h"

typedef struct line_case {
    smtpd_log_event e;
    const char *want;
} line_case;

static void test_format(void **state)
{
    (void)state;
    static const line_case cases[] = {
        {{.t = 12345678, .session = 17, .receiver = "orange", .peer = "127.0.0.1", .event = "connect",
          .text = "127.0.0.1"},
         "{\"t\": 12.345678, \"session\": 17, \"receiver\": \"orange\", \"peer\": \"127.0.0.1\", \"event\": \"connect\", "
         "\"text\": \"127.0.0.1\"}\n"},
        {{.t = 5, .session = 1, .receiver = "o", .peer = "::1", .event = "close"},
         "{\"t\": 0.000005, \"session\": 1, \"receiver\": \"o\", \"peer\": \"::1\", \"event\": \"close\"}\n"},
        {{.t = 2 * 1000000, .session = 3, .receiver = "o", .peer = "127.0.0.2", .event = "reply",
          .text = "421 4.7.0 Too many connections", .rule = "concurrency_per_ip"},
         "{\"t\": 2.000000, \"session\": 3, \"receiver\": \"o\", \"peer\": \"127.0.0.2\", \"event\": \"reply\", "
         "\"rule\": \"concurrency_per_ip\", \"text\": \"421 4.7.0 Too many connections\"}\n"},
        {{.t = 1, .session = 4, .receiver = "o", .peer = "p", .event = "command", .text = "MAIL FROM:<\"a\\b\"@x>\t\x01\xe9"},
         "{\"t\": 0.000001, \"session\": 4, \"receiver\": \"o\", \"peer\": \"p\", \"event\": \"command\", "
         "\"text\": \"MAIL FROM:<\\\"a\\\\b\\\"@x>\\u0009\\u0001\\u00e9\"}\n"},
        {{.t = 0, .session = 5, .receiver = "o", .peer = "p", .event = "reply", .text = "250-a\n250 b"},
         "{\"t\": 0.000000, \"session\": 5, \"receiver\": \"o\", \"peer\": \"p\", \"event\": \"reply\", "
         "\"text\": \"250-a\\u000a250 b\"}\n"},
        {{.t = 7, .session = 6, .receiver = "o", .peer = "p", .event = "message", .size = 1234,
          .sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
         "{\"t\": 0.000007, \"session\": 6, \"receiver\": \"o\", \"peer\": \"p\", \"event\": \"message\", "
         "\"size\": 1234, \"sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[2048];
        size_t n = smtpd_log_format(buf, sizeof(buf), &cases[i].e);
        buf[n] = 0;
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s", i, buf, cases[i].want);
        json_error_t jerr;
        json_t *j = json_loads(buf, 0, &jerr);
        if (!j)
            fail_msg("case %zu: not JSON: %s", i, jerr.text);
        json_decref(j);
    }
}

static void test_cut(void **state)
{
    (void)state;
    /* A long text of characters that need escaping, into a small buffer: still one valid JSON line. */
    char text[3000];
    memset(text, '\x01', sizeof(text) - 1);
    text[sizeof(text) - 1] = 0;
    smtpd_log_event e = {.t = 1, .session = 1, .receiver = "o", .peer = "p", .event = "command", .text = text};
    char buf[600];
    size_t n = smtpd_log_format(buf, sizeof(buf), &e);
    assert_true(n <= sizeof(buf));
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(buf[n - 2], '}');
    json_error_t jerr;
    json_t *j = json_loadb(buf, n, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s: %.*s", jerr.text, (int)n, buf);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "command");
    json_decref(j);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tempfail-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int err = 0;
    smtpd_log *l = smtpd_log_create(path, &err);
    assert_non_null(l);
    for (uint64_t i = 0; i < 1000; i++) {
        smtpd_log_event e = {.t = (sim_time_t)i, .session = i, .receiver = "r", .peer = "127.0.0.1", .event = "command",
                             .text = "NOOP"};
        smtpd_log_write(l, &e);
    }
    smtpd_log_free(l);
    FILE *f = fopen(path, "r");
    char line[512];
    uint64_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "session")), n);
        json_decref(j);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 1000);
    unlink(path);
    assert_null(smtpd_log_create("/proc/nonexistent/log", &err));
    assert_true(err < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
