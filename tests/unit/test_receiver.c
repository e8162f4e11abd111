/*
 * test_receiver - the simulated receiver's MX addresses: the scenario's where it names one; else made
 * up, one per (receiver, MX host), never shared, the historical ones kept where they were already
 * unique, and a clear error rather than an alias when they run out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/receiver.h"

#include "model_fixture.h"

#define SEED 7u

typedef struct rcfg {
    receiver_config rc;
    receiver_mx_config *mx;
    char **hosts;
} rcfg;

static void rcfg_init(rcfg *c, const char *name, size_t nmx)
{
    memset(c, 0, sizeof(*c));
    c->mx = calloc(nmx, sizeof(*c->mx));
    c->hosts = calloc(nmx, sizeof(*c->hosts));
    assert_non_null(c->mx);
    assert_non_null(c->hosts);
    for (size_t j = 0; j < nmx; j++) {
        c->hosts[j] = malloc(64);
        assert_non_null(c->hosts[j]);
        snprintf(c->hosts[j], 64, "mx%zu.%s.test", j + 1, name);
        c->mx[j] = (receiver_mx_config){.host = c->hosts[j], .preference = 10};
    }
    c->rc = fixture_receiver(name, NULL, 0, c->mx, nmx, NULL);
}

static void rcfg_free(rcfg *c)
{
    for (size_t j = 0; j < c->rc.nmx; j++)
        free(c->hosts[j]);
    free(c->hosts);
    free(c->mx);
}

static receiver *create(const rcfg *c, uint32_t index)
{
    char err[256] = "";
    receiver *r = receiver_create(&c->rc, index, SEED, 0, err, sizeof(err));
    if (!r)
        fail_msg("receiver_create #%u: %s", index, err);
    return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Many receivers with many MX hosts each: every address appears once. */
static void test_mx_addresses_unique(void **state)
{
    (void)state;
    enum { NRCV = 70, NMX = 20 };
    rcfg c;
    rcfg_init(&c, "r", NMX);
    receiver *r[NRCV];
    const char **all = calloc(NRCV * NMX, sizeof(*all));
    assert_non_null(all);
    for (uint32_t i = 0; i < NRCV; i++) {
        r[i] = create(&c, i);
        for (size_t j = 0; j < NMX; j++)
            all[i * NMX + j] = r[i]->mx_addr[j];
    }
    qsort(all, NRCV * NMX, sizeof(*all), cmp_str);
    for (size_t k = 1; k < NRCV * NMX; k++)
        if (strcmp(all[k - 1], all[k]) == 0)
            fail_msg("address %s given twice", all[k]);
    free(all);
    for (uint32_t i = 0; i < NRCV; i++)
        receiver_free(r[i]);
    rcfg_free(&c);
}

/* A receiver's first 8 MX hosts keep the addresses logs have always shown. */
static void test_mx_addresses_unchanged_where_unique(void **state)
{
    (void)state;
    static const struct {
        uint32_t index;
        size_t mx;
        const char *addr;
    } cases[] = {
        {0, 0, "198.51.100.10"}, {0, 1, "198.51.100.11"}, {0, 7, "198.51.100.17"}, {1, 0, "198.51.100.18"},
        {29, 7, "198.51.100.249"}, {30, 0, "203.0.113.10"}, {59, 7, "203.0.113.249"},
    };
    rcfg c;
    rcfg_init(&c, "r", 8);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        receiver *r = create(&c, cases[k].index);
        assert_string_equal(r->mx_addr[cases[k].mx], cases[k].addr);
        receiver_free(r);
    }
    rcfg_free(&c);
}

/* Hosts beyond the documentation ranges come from the benchmarking range 198.18.0.0/15 (RFC 2544). */
static void test_mx_addresses_beyond_in_benchmark_range(void **state)
{
    (void)state;
    rcfg c;
    rcfg_init(&c, "r", RECEIVER_MX_MAX);
    for (uint32_t index = 0; index < RECEIVER_MAX; index += RECEIVER_MAX / 8 - 1) {
        receiver *r = create(&c, index);
        for (size_t j = 8; j < RECEIVER_MX_MAX; j++)
            if (strncmp(r->mx_addr[j], "198.18.", 7) != 0 && strncmp(r->mx_addr[j], "198.19.", 7) != 0)
                fail_msg("receiver #%u MX %zu: %s", index, j, r->mx_addr[j]);
        receiver_free(r);
    }
    receiver *last = create(&c, RECEIVER_MAX - 1);
    assert_string_equal(last->mx_addr[RECEIVER_MX_MAX - 1], "198.19.255.255");
    receiver_free(last);
    rcfg_free(&c);
}

/* A named address is the one logs show; the others keep their made-up ones, which
 * receiver_mx_default_address gives for (index, host) too. */
static void test_named_mx_addresses(void **state)
{
    (void)state;
    static const struct {
        uint32_t index;
        const char *named[3]; /* per MX host; NULL: none */
        const char *want[3];
    } cases[] = {
        {0, {NULL, NULL, NULL}, {"198.51.100.10", "198.51.100.11", "198.51.100.12"}},
        {0, {"127.64.0.1", NULL, NULL}, {"127.64.0.1", "198.51.100.11", "198.51.100.12"}},
        {2, {NULL, "2001:db8::10", "192.0.2.77"}, {"198.51.100.26", "2001:db8::10", "192.0.2.77"}},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        rcfg c;
        rcfg_init(&c, "r", 3);
        for (size_t j = 0; j < 3; j++)
            c.mx[j].address = (char *)cases[k].named[j];
        receiver *r = create(&c, cases[k].index);
        for (size_t j = 0; j < 3; j++) {
            char made[40];
            receiver_mx_default_address(cases[k].index, j, made, sizeof(made));
            if (strcmp(r->mx_addr[j], cases[k].want[j]) != 0)
                fail_msg("case %zu, MX %zu: %s, want %s", k, j, r->mx_addr[j], cases[k].want[j]);
            if (!cases[k].named[j])
                assert_string_equal(made, r->mx_addr[j]);
        }
        receiver_free(r);
        rcfg_free(&c);
    }
}

/* Out of addresses: an error that says why, not an alias. */
static void test_too_many_mx_hosts_or_receivers(void **state)
{
    (void)state;
    char err[256] = "";
    rcfg c;
    rcfg_init(&c, "big", RECEIVER_MX_MAX + 1);
    assert_null(receiver_create(&c.rc, 0, SEED, 0, err, sizeof(err)));
    if (!strstr(err, "big") || !strstr(err, "MX hosts"))
        fail_msg("unexpected error: %s", err);
    rcfg_free(&c);

    err[0] = 0;
    rcfg_init(&c, "far", 1);
    assert_null(receiver_create(&c.rc, RECEIVER_MAX, SEED, 0, err, sizeof(err)));
    if (!strstr(err, "far") || !strstr(err, "receivers"))
        fail_msg("unexpected error: %s", err);
    rcfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_addresses_unique),
        cmocka_unit_test(test_mx_addresses_unchanged_where_unique),
        cmocka_unit_test(test_mx_addresses_beyond_in_benchmark_range),
        cmocka_unit_test(test_named_mx_addresses),
        cmocka_unit_test(test_too_many_mx_hosts_or_receivers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
