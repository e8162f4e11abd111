/*
 * test_sim_random - seeding of random streams: reproducible, distinct, independent, and stable.
 *
 * The pinned values were computed from the formula documented in sim_random.c by an independent
 * implementation; if one changes, every published result changes with it, so the change must be
 * deliberate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sim/sim_random.h"

enum { DRAWS = 64 };

static void draw(gsl_rng *r, unsigned long out[DRAWS])
{
    for (int i = 0; i < DRAWS; i++)
        out[i] = gsl_rng_get(r);
}

static void stream_draws(uint64_t seed, uint32_t rep, const char *name, unsigned long out[DRAWS])
{
    gsl_rng *r = sim_random_stream(seed, rep, name);
    draw(r, out);
    gsl_rng_free(r);
}

static const struct pinned {
    uint64_t seed;
    uint32_t rep;
    const char *name;
    uint64_t mix;
} pinned[] = {
    {42, 0, "arrivals", 0xf6406249caaabb89ULL},
    {0, 0, "", 0x7dc2c42b173ebf65ULL},
    {1, 3, "receiver.orange", 0x55b25f433f5b3a87ULL},
};

static void test_mix_pinned(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint64_t got = sim_random_mix(pinned[i].seed, pinned[i].rep, pinned[i].name);
        if (got != pinned[i].mix)
            fail_msg("mix(%llu, %u, \"%s\") = %#llx, pinned %#llx", (unsigned long long)pinned[i].seed,
                     pinned[i].rep, pinned[i].name, (unsigned long long)got,
                     (unsigned long long)pinned[i].mix);
    }
}

/* The first draws of one stream, pinned too: they also depend on how the mix becomes a taus2 seed. */
static void test_stream_pinned(void **state)
{
    (void)state;
    gsl_rng *r = sim_random_stream(42, 0, "arrivals");
    assert_string_equal(gsl_rng_name(r), "taus2");
    assert_int_equal(gsl_rng_get(r), 1929613335UL);
    assert_int_equal(gsl_rng_get(r), 2175047833UL);
    gsl_rng_free(r);
}

static void test_same_inputs_same_sequence(void **state)
{
    (void)state;
    unsigned long a[DRAWS], b[DRAWS];
    stream_draws(7, 2, "dns", a);
    stream_draws(7, 2, "dns", b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(sim_random_mix(7, 2, "dns"), sim_random_mix(7, 2, "dns"));
}

/* Each row differs from the base (seed 7, rep 0, "dns") in one input. */
static const struct variant {
    const char *what;
    uint64_t seed;
    uint32_t rep;
    const char *name;
} variants[] = {
    {"seed", 8, 0, "dns"},
    {"seed, high bits", 7 | (1ULL << 40), 0, "dns"},
    {"replication", 7, 1, "dns"},
    {"name, last byte", 7, 0, "dnt"},
    {"name, prefix", 7, 0, "dn"},
    {"name, empty", 7, 0, ""},
    {"name, longer", 7, 0, "dns.mx_lookup"},
};

static void test_different_inputs_differ(void **state)
{
    (void)state;
    unsigned long base[DRAWS], other[DRAWS];
    stream_draws(7, 0, "dns", base);
    uint64_t base_mix = sim_random_mix(7, 0, "dns");
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const struct variant *v = &variants[i];
        if (sim_random_mix(v->seed, v->rep, v->name) == base_mix)
            fail_msg("changing the %s does not change the mix", v->what);
        stream_draws(v->seed, v->rep, v->name, other);
        int same = 0;
        for (int k = 0; k < DRAWS; k++)
            same += base[k] == other[k];
        if (same > 1)
            fail_msg("changing the %s leaves %d of %d draws equal", v->what, same, DRAWS);
    }
}

/* Many streams of one scenario (every name x replication) must all get distinct generator seeds. */
static void test_many_streams_distinct(void **state)
{
    (void)state;
    enum { NAMES = 50, REPS = 20 };
    static unsigned long first[NAMES * REPS];
    char name[32];
    for (int n = 0; n < NAMES; n++) {
        for (int rep = 0; rep < REPS; rep++) {
            snprintf(name, sizeof name, "receiver.%d", n);
            gsl_rng *r = sim_random_stream(42, (uint32_t)rep, name);
            /* Two draws as one key: a shared first draw alone would be a 1-in-4-billion accident. */
            first[n * REPS + rep] = gsl_rng_get(r) ^ (gsl_rng_get(r) << 32);
            gsl_rng_free(r);
        }
    }
    for (int i = 0; i < NAMES * REPS; i++)
        for (int j = i + 1; j < NAMES * REPS; j++)
            if (first[i] == first[j])
                fail_msg("streams %d and %d start identically", i, j);
}

/* Drawing from one stream never changes another. */
static void test_streams_independent(void **state)
{
    (void)state;
    unsigned long alone[DRAWS], interleaved[DRAWS];
    stream_draws(3, 0, "tls", alone);
    gsl_rng *tls = sim_random_stream(3, 0, "tls");
    gsl_rng *disk = sim_random_stream(3, 0, "disk");
    for (int i = 0; i < DRAWS; i++) {
        for (int k = 0; k < i % 5; k++)
            (void)gsl_rng_get(disk);
        interleaved[i] = gsl_rng_get(tls);
    }
    assert_memory_equal(alone, interleaved, sizeof alone);
    /* And a stream created later, after others have drawn, starts where it always starts. */
    unsigned long late[DRAWS], fresh[DRAWS];
    gsl_rng *late_rng = sim_random_stream(3, 0, "late");
    draw(late_rng, late);
    stream_draws(3, 0, "late", fresh);
    assert_memory_equal(late, fresh, sizeof late);
    gsl_rng_free(late_rng);
    gsl_rng_free(tls);
    gsl_rng_free(disk);
}

/* NULL is read as the empty name rather than crashing. */
static void test_null_name(void **state)
{
    (void)state;
    assert_int_equal(sim_random_mix(5, 1, NULL), sim_random_mix(5, 1, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix_pinned),
        cmocka_unit_test(test_stream_pinned),
        cmocka_unit_test(test_same_inputs_same_sequence),
        cmocka_unit_test(test_different_inputs_differ),
        cmocka_unit_test(test_many_streams_distinct),
        cmocka_unit_test(test_streams_independent),
        cmocka_unit_test(test_null_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
