/*
 * sim_random - seeding of independent, reproducible random streams.
 *
 * The mixing function, fixed forever because every published result depends on it:
 *
 *     h   = FNV-1a-64(stream name bytes)          offset basis 0xcbf29ce484222325, prime 0x100000001b3
 *     x   = splitmix64(seed)
 *     x   = splitmix64(x ^ replication)
 *     mix = splitmix64(x ^ h)
 *
 * where splitmix64(z) is one output of Vigna's SplitMix64 from state z (add the golden-ratio increment,
 * then the two xor-shift-multiply rounds). Each input passes through a full avalanche before the next
 * is folded in, so seeds 1 and 2, replications 0 and 1, or names "dns" and "dnt" give unrelated mixes.
 *
 * Why taus2 and what it does with the seed: gsl_rng_taus2 is fast, small (three words), passes the
 * usual batteries, and is what GSL recommends for simulation. Its seeding runs the seed through a
 * 32-bit LCG, so only the low 32 bits of a seed matter; we fold the 64-bit mix to 32 bits first. taus2
 * treats a few seeds specially (0 becomes 1, and a seed whose first LCG output is below 2 is nudged up,
 * landing on the state of another seed); those would make two streams identical, so we step away
 * from them. Two different streams can still share a 32-bit seed by chance (about one pair in four
 * billion), which is far below anything a scenario's handful of streams can notice.
 */
#include "sim/sim_hash.h"
#include "sim/sim_random.h"
#include "sim/sim_mem.h"

#include <stdlib.h>

static uint64_t random_splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sim_random_mix(uint64_t seed, uint32_t replication, const char *stream)
{
    uint64_t x = random_splitmix64(seed);
    x = random_splitmix64(x ^ replication);
    return random_splitmix64(x ^ sim_hash_str(SIM_HASH_INIT, stream ? stream : ""));
}

/* The seed handed to gsl_rng_set: 32 bits taus2 uses, away from the values it treats specially. */
static unsigned long random_taus2_seed(uint64_t mix)
{
    uint32_t s = (uint32_t)(mix ^ (mix >> 32));
    while (s == 0 || (uint32_t)(69069u * s) < 2u)
        s += 0x9e3779b9u;
    return s;
}

gsl_rng *sim_random_stream(uint64_t seed, uint32_t replication, const char *stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    if (!r)
        sim_panic("sim_random_stream", "out of memory");
    gsl_rng_set(r, random_taus2_seed(sim_random_mix(seed, replication, stream)));
    return r;
}
