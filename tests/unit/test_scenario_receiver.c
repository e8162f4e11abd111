/*
 * test_scenario_receiver - the loader's `receivers:` section, where it goes beyond what
 * test_scenario_load covers: an MX host's `address` (IPv4 or IPv6, kept as inet_ntop writes it;
 * refused when no server can have it) and the rule that no two MX hosts of a run share an address,
 * whether both are named or one is the made-up address of a host that names none; the manifest's
 * resolved scenario shows every host's address, named or made up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "scenarios/scenario.h"

/* Traffic to a.test, b.test and the unclaimed c.test (the implicit default receiver's). */
#define TRAFFIC                                                                                                   \
    "name: t\n"                                                                                                   \
    "traffic:\n"                                                                                                  \
    "  classes:\n"                                                                                                \
    "    - name: m\n"                                                                                             \
    "      arrivals: {process: poisson, rate: 1/s}\n"                                                             \
    "      domains: {a.test: 1, b.test: 1, c.test: 1}\n"                                                          \
    "receivers:\n"

static scenario *load(const char *text, scenario_error *err)
{
    return scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, err);
}

/* Addresses as written, and as stored. */
static void test_address_forms(void **state)
{
    (void)state;
    static const struct {
        const char *written, *stored;
    } cases[] = {
        {"127.64.0.1", "127.64.0.1"},
        {"193.252.22.84", "193.252.22.84"},
        {"2001:db8::10", "2001:db8::10"},
        {"2001:DB8:0:0::10", "2001:db8::10"},
        {"'::1'", "::1"},
        {"\"::ffff:192.0.2.1\"", "::ffff:192.0.2.1"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char text[1024];
        snprintf(text, sizeof(text), TRAFFIC "  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: %s}]}\n",
                 cases[k].written);
        scenario_error err = {{0}};
        scenario *s = load(text, &err);
        if (!s)
            fail_msg("case %zu (%s): %s", k, cases[k].written, err.message);
        assert_string_equal(s->receivers[0].mx[0].address, cases[k].stored);
        scenario_free(s);
    }
}

static const struct {
    const char *receivers; /* after TRAFFIC */
    const char *message;
} broken[] = {
    /* not an address, or none a server can have */
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 300.1.1.1}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: expected an IP address like 192.0.2.10 or 2001:db8::10, got "
     "'300.1.1.1'"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: mx1.a.test}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: expected an IP address like 192.0.2.10 or 2001:db8::10, got "
     "'mx1.a.test'"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 127.1}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: expected an IP address like 192.0.2.10 or 2001:db8::10, got '127.1'"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: \"[2001:db8::10]\"}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: write the address without brackets: '2001:db8::10'"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: [192.0.2.1]}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: expected an IP address, got a list"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 0.0.0.0}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: 0.0.0.0 is the unspecified address: no MX host has it"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: '::'}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: :: is the unspecified address: no MX host has it"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 255.255.255.255}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: 255.255.255.255 is the broadcast address: no MX host has it"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 239.1.2.3}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: 239.1.2.3 is a multicast address: no MX host has it"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 'ff02::1'}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: ff02::1 is a multicast address: no MX host has it"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, adress: 192.0.2.1}]}\n",
     "t.yaml:8:58: receivers[a].mx[0].adress: unknown key 'adress' (did you mean 'address'?)"},
    /* two named hosts with one address: the later one is named, with the other */
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 192.0.2.1},\n"
     "                                     {host: mx2.a.test, address: 192.0.2.1}]}\n",
     "t.yaml:9:66: receivers[a].mx[1].address: 192.0.2.1 is already the address of MX host mx1.a.test of receiver "
     "'a': two MX hosts cannot share one"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: '2001:db8::10'}]}\n"
     "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: '2001:DB8::0:10'}]}\n",
     "t.yaml:9:67: receivers[b].mx[0].address: 2001:db8::10 is already the address of MX host mx1.a.test of "
     "receiver 'a': two MX hosts cannot share one"},
    /* a named address that is another host's made-up one, whichever comes first */
    {"  - {name: a, domains: [a.test]}\n"
     "  - {name: b, domains: [b.test], mx: [{host: mx1.b.test, address: 198.51.100.10}]}\n",
     "t.yaml:9:67: receivers[b].mx[0].address: 198.51.100.10 is the address the logs give MX host mx.a.test of "
     "receiver 'a', which names none: choose another, or give that one an address too"},
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 198.51.100.18}]}\n"
     "  - {name: b, domains: [b.test]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: 198.51.100.18 is the address the logs give MX host mx.b.test of "
     "receiver 'b', which names none: choose another, or give that one an address too"},
    /* ... or the implicit receiver's, which cannot be given one */
    {"  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 198.51.100.18}]}\n",
     "t.yaml:8:67: receivers[a].mx[0].address: 198.51.100.18 is the address the logs give MX host mx.b.test of the "
     "implicit receiver 'default', which names none: choose another"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        char text[2048];
        snprintf(text, sizeof(text), TRAFFIC "%s", broken[i].receivers);
        scenario_error err = {{0}};
        scenario *s = load(text, &err);
        if (s) {
            scenario_free(s);
            fail_msg("case %zu loaded; expected: %s", i, broken[i].message);
        }
        if (strcmp(err.message, broken[i].message) != 0)
            fail_msg("case %zu:\n got:  %s\n want: %s", i, err.message, broken[i].message);
    }
}

/* Addresses that do not clash: made-up ones elsewhere, the implicit receiver's when it owns no
 * domain (it is in no log then), one receiver's hosts apart. */
static void test_unique_addresses_load(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 198.51.100.11}]}\n",
        "  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: 192.0.2.1},\n"
        "                                     {host: mx2.a.test, address: 192.0.2.2}, {host: mx3.a.test}]}\n"
        "  - {name: b, domains: [b.test, c.test], mx: [{host: mx1.b.test, address: '2001:db8::1'}]}\n",
        /* every domain claimed: 'default' owns none, and its made-up address is free */
        "  - {name: a, domains: [a.test, b.test, c.test], mx: [{host: mx1.a.test, address: 198.51.100.18}]}\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char text[2048];
        snprintf(text, sizeof(text), TRAFFIC "%s", ok[i]);
        scenario_error err = {{0}};
        scenario *s = load(text, &err);
        if (!s)
            fail_msg("case %zu: %s", i, err.message);
        scenario_free(s);
    }
}

/* The manifest shows the address every host has in the logs. */
static void test_json_addresses(void **state)
{
    (void)state;
    const char *text = TRAFFIC "  - {name: a, domains: [a.test], mx: [{host: mx1.a.test, address: '2001:DB8::10'},"
                               " {host: mx2.a.test}]}\n";
    scenario_error err = {{0}};
    scenario *s = load(text, &err);
    if (!s)
        fail_msg("%s", err.message);
    json_t *j = scenario_to_json(s);
    json_t *rs = json_object_get(j, "receivers");
    static const struct {
        size_t r, m;
        const char *host, *address;
    } want[] = {
        {0, 0, "mx1.a.test", "2001:db8::10"},
        {0, 1, "mx2.a.test", "198.51.100.11"},
        {1, 0, "mx.b.test", "198.51.100.18"},
    };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        json_t *mx = json_array_get(json_object_get(json_array_get(rs, want[k].r), "mx"), want[k].m);
        assert_string_equal(json_string_value(json_object_get(mx, "host")), want[k].host);
        assert_string_equal(json_string_value(json_object_get(mx, "address")), want[k].address);
    }
    json_decref(j);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unique_addresses_load),
        cmocka_unit_test(test_json_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
