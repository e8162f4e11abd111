/*
 * sim_random - independent, reproducible random streams.
 *
 * Each stochastic source (arrivals of one class, DNS, TLS, disk, each receiver, ...) has its own GSL
 * generator, seeded from (scenario seed, replication, stream name) through a fixed mixing function.
 * Adding a new stream or drawing more from one never changes what another stream produces, so a change
 * to one part of a scenario does not reshuffle the rest (common random numbers across configurations).
 */
#ifndef SIM_RANDOM_H
#define SIM_RANDOM_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

/* The seed mixing function: 64-bit FNV-1a of the name folded with seed and replication through
 * splitmix64. Stable across versions: changing it changes every published result. */
uint64_t sim_random_mix(uint64_t seed, uint32_t replication, const char *stream);

/* A new generator for the stream; free with gsl_rng_free. Never returns NULL (aborts on ENOMEM). */
gsl_rng *sim_random_stream(uint64_t seed, uint32_t replication, const char *stream);

#endif
