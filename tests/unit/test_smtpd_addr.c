/*
 * test_smtpd_addr - listen addresses: the forms accepted (IPv4, bracketed IPv6, port 0), the mistakes
 * refused (names, missing port, unbracketed IPv6, ports out of range), the text of a parsed address,
 * and which addresses count as loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testsmtpd/smtpd_addr.h"

typedef struct addr_case {
    const char *text;
    int rc;             /* 0 or -EINVAL (-22) */
    const char *format; /* text back, when accepted */
    bool loopback;
} addr_case;

static void test_addr(void **state)
{
    (void)state;
    static const addr_case cases[] = {
        {"127.0.0.1:2525", 0, "127.0.0.1:2525", true},
        {"127.0.0.3:0", 0, "127.0.0.3:0", true},
        {"127.255.255.254:25", 0, "127.255.255.254:25", true},
        {"[::1]:2525", 0, "[::1]:2525", true},
        {"[::ffff:127.0.0.2]:25", 0, "[::ffff:127.0.0.2]:25", true},
        {"192.0.2.1:25", 0, "192.0.2.1:25", false},
        {"0.0.0.0:25", 0, "0.0.0.0:25", false},
        {"[2001:db8::1]:25", 0, "[2001:db8::1]:25", false},
        {"[::]:25", 0, "[::]:25", false},
        {"localhost:25", -22, NULL, false},
        {"127.0.0.1", -22, NULL, false},
        {"127.0.0.1:", -22, NULL, false},
        {"127.0.0.1:65536", -22, NULL, false},
        {"127.0.0.1:-1", -22, NULL, false},
        {"127.0.0.1:25x", -22, NULL, false},
        {"::1:25", -22, NULL, false},
        {"[::1:25", -22, NULL, false},
        {"[127.0.0.1]:25", -22, NULL, false},
        {":25", -22, NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        int rc = smtpd_addr_parse(cases[i].text, &ss, &len);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].text, rc, cases[i].rc);
        if (rc != 0)
            continue;
        char buf[64];
        smtpd_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        if (strcmp(buf, cases[i].format) != 0)
            fail_msg("%s: formatted as %s, want %s", cases[i].text, buf, cases[i].format);
        if (smtpd_addr_is_loopback((struct sockaddr *)&ss) != cases[i].loopback)
            fail_msg("%s: loopback %d, want %d", cases[i].text, !cases[i].loopback, cases[i].loopback);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_addr)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
