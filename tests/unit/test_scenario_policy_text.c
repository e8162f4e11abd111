/*
 * test_scenario_policy_text - testsmtpd's loader entry points: a receivers-only file loads (listen
 * addresses, hostname, name from the file), a whole scenario still loads through the same call, and
 * errors keep file:line:col; a policy list from text converts with the receiver's preset, and broken
 * lists get the loader's messages and leave nothing allocated (checked under ASan).
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

#include "scenarios/scenario.h"

static char *write_temp(const char *text)
{
    char tmpl[] = "/tmp/tempfail-policy-text-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return strdup(tmpl);
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* Loads text, written to a temporary file, as testsmtpd loads its --scenario; *path names the file, which
 * the caller removes with remove_temp. */
static scenario *load_receivers_ok(const char *text, char **path)
{
    *path = write_temp(text);
    scenario_error err = {{0}};
    scenario *s = scenario_load_receivers_file(*path, &err);
    if (!s)
        fail_msg("unexpected error: %s", err.message);
    return s;
}

static void test_receivers_only(void **state)
{
    (void)state;
    char *path;
    scenario *s = load_receivers_ok("receivers:\n"
                                    "  - name: orange\n"
                                    "    domains: [orange.test]\n"
                                    "    mx:\n"
                                    "      - {host: mx1.orange.test, listen: [127.0.0.2:2525, 127.0.0.3:2525]}\n"
                                    "    policy:\n"
                                    "      - {rule: concurrency_per_ip, limit: 3}\n"
                                    "  - name: test\n"
                                    "    hostname: mx.test\n"
                                    "    domains: [example.test]\n",
                                    &path);
    assert_int_equal(s->nreceivers, 3); /* and the implicit default */
    assert_string_equal(s->receivers[0].name, "orange");
    assert_string_equal(s->receivers[0].mx[0].listen[1], "127.0.0.3:2525");
    assert_string_equal(s->receivers[0].policy.hostname, "mx1.orange.test");
    assert_int_equal(s->receivers[0].policy.nrules, 1);
    assert_string_equal(s->receivers[1].policy.hostname, "mx.test");
    assert_string_equal(s->receivers[2].name, "default");
    const char *base = strrchr(path, '/') + 1;
    assert_string_equal(s->name, base);
    scenario_free(s);
    remove_temp(path);
}

static void test_whole_scenario(void **state)
{
    (void)state;
    char *path;
    scenario *s = load_receivers_ok("name: t\n"
                                    "traffic:\n"
                                    "  classes:\n"
                                    "    - name: a\n"
                                    "      arrivals: {process: poisson, rate: 1/s}\n"
                                    "      domains: {x.test: 1}\n"
                                    "receivers:\n"
                                    "  - name: orange\n"
                                    "    domains: [x.test]\n"
                                    "    mx: [{host: mx.x.test, listen: 127.0.0.1:0}]\n",
                                    &path);
    assert_string_equal(s->name, "t");
    assert_int_equal(s->traffic.nclasses, 1);
    assert_string_equal(s->receivers[0].mx[0].listen[0], "127.0.0.1:0");
    scenario_free(s);
    remove_temp(path);
}

typedef struct bad_case {
    const char *text;
    const char *message; /* after "PATH:" */
} bad_case;

static void test_receivers_only_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"receivers:\n  - name: o\n    domains: [o.test]\n    policy:\n      - {rule: concurency_per_ip, limit: 3}\n",
         "5:16: receivers[o].policy[0].rule: unknown rule 'concurency_per_ip'"},
        {"receivers:\n  - name: o\n    domains: [o.test]\n    mx: [{host: mx.o.test, listen: 'localhost:25'}]\n",
         "4:36: receivers[o].mx[0].listen: expected ADDRESS:PORT"},
        {"nmae: x\nreceivers: []\n", "1:1: nmae: unknown key 'nmae' (did you mean 'name'?)"},
        {"name: x\n", "1:1: missing required key 'receivers'"},
        {"receivers: [\n", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_temp(cases[i].text);
        scenario_error err = {{0}};
        scenario *s = scenario_load_receivers_file(path, &err);
        if (s)
            fail_msg("case %zu: loaded", i);
        char want[1200];
        snprintf(want, sizeof(want), "%s:%s", path, cases[i].message);
        if (strncmp(err.message, want, strlen(want)) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s...", i, err.message, want);
        remove_temp(path);
    }
    scenario_error err = {{0}};
    assert_null(scenario_load_receivers_file("/nonexistent/r.yaml", &err));
    assert_non_null(strstr(err.message, "/nonexistent/r.yaml: cannot open"));
}

static void test_parse_policy(void **state)
{
    (void)state;
    static const char text[] = "- {rule: concurrency_per_ip, limit: 2, reply: \"421 4.7.0 Slow down\"}\n"
                               "- {rule: tarpit, stage: rcpt, delay: 1500ms}\n"
                               "- {rule: message_rate_per_ip, limit: 10/m}\n";
    policy_config pc;
    scenario_error err = {{0}};
    int rc = scenario_parse_policy(text, strlen(text), "PUT /policy", "gmail", "mx.orange.test", &pc, &err);
    if (rc != 0)
        fail_msg("unexpected error: %s", err.message);
    assert_int_equal(pc.nrules, 3);
    assert_int_equal(pc.rules[0].kind, POLICY_RULE_CONCURRENCY_PER_IP);
    assert_int_equal(pc.rules[0].limit, 2);
    assert_string_equal(pc.rules[0].reply, "421 4.7.0 Slow down");
    assert_true(pc.rules[0].close);
    assert_int_equal(pc.rules[1].stage, POLICY_STAGE_RCPT);
    assert_int_equal(pc.rules[1].delay, 1500 * SIM_MSEC);
    assert_int_equal(pc.rules[2].window, SIM_MIN);
    assert_string_equal(pc.preset, "gmail");
    assert_string_equal(pc.hostname, "mx.orange.test");
    scenario_policy_free(&pc);
    assert_null(pc.rules);

    /* Empty: no rules (accept everything), defaults for preset and host. */
    rc = scenario_parse_policy("", 0, NULL, NULL, NULL, &pc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(pc.nrules, 0);
    assert_string_equal(pc.preset, "postfix");
    assert_string_equal(pc.hostname, "mx.test");
    scenario_policy_free(&pc);
}

static void test_parse_policy_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"- {rule: concurrency_per_ip}\n", "PUT /policy:1:3: policy[0]: missing required key 'limit'"},
        {"- {rule: concurrency_per_ip, limit: 3, reply: \"250 ok\"}\n",
         "PUT /policy:1:47: policy[0].reply: reply code 250 is not a 4xx or 5xx code"},
        {"{rule: tarpit}\n", "PUT /policy:1:1: policy: expected a list of rules"},
        {"- [\n", "PUT /policy:"},
        {"- {rule: greylist, delay: soon}\n", "PUT /policy:1:27: policy[0].delay:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy_config pc;
        scenario_error err = {{0}};
        int rc = scenario_parse_policy(cases[i].text, strlen(cases[i].text), "PUT /policy", NULL, NULL, &pc, &err);
        if (rc == 0)
            fail_msg("case %zu: accepted", i);
        if (strncmp(err.message, cases[i].message, strlen(cases[i].message)) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s...", i, err.message, cases[i].message);
        assert_null(pc.rules);
        assert_null(pc.preset);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receivers_only),         cmocka_unit_test(test_whole_scenario),
        cmocka_unit_test(test_receivers_only_errors),  cmocka_unit_test(test_parse_policy),
        cmocka_unit_test(test_parse_policy_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
