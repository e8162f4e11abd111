/*
 * sim_hash - FNV-1a, 64 bits: the one string hash of tempfail. It names random streams
 * (sim_random_mix), keys the policy engine's per-client tables and the host's destination and domain
 * tables. It is not a cryptographic hash and nothing here needs one; it is fast, simple and fixed, so
 * that a stream's seed never changes from one version to the next.
 */
#ifndef SIM_HASH_H
#define SIM_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SIM_HASH_INIT 0xcbf29ce484222325ULL

static inline uint64_t sim_hash_byte(uint64_t h, unsigned char c) { return (h ^ c) * 0x100000001b3ULL; }

/* Continues hash h over the bytes of the string s. */
static inline uint64_t sim_hash_str(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = sim_hash_byte(h, *p);
    return h;
}

#endif
