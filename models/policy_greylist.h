/*
 * policy_greylist - postgrey's greylisting state for one GREYLIST rule of the policy engine.
 *
 * A triplet (client network, sender, recipient) seen for the first time is refused; a retry after
 * `delay` and within the retry window passes, and passes from then on; a client network that passed
 * `auto_allow` times is allow-listed. Entries unseen for 35 days (postgrey's max-age) are forgotten.
 * Keys are 64-bit hashes computed by the caller, so a new triplet allocates nothing but a table slot.
 */
#ifndef POLICY_GREYLIST_H
#define POLICY_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

#define POLICY_GREYLIST_MAX_AGE (35 * SIM_DAY) /* postgrey --max-age */

/* Triplets (n = 1 once passed) or clients (n = passes), keyed by a hash; key 0 marks a free slot. */
typedef struct policy_greylist_entry {
    uint64_t key;
    sim_time_t first, last;
    uint64_t n;
} policy_greylist_entry;

typedef struct policy_greylist_table {
    policy_greylist_entry *e;
    size_t cap, count;
} policy_greylist_table;

typedef struct policy_greylist {
    sim_time_t delay;        /* minimum retry delay */
    sim_time_t retry_window; /* a retry later than this after the first sight is a first sight again */
    uint32_t auto_allow;     /* passes after which a client network is allow-listed (0 = never) */
    policy_greylist_table triplets, clients;
} policy_greylist;

/* postgrey's decision for one RCPT: true = greylisted. net and triplet are non-zero hashes. */
bool policy_greylist_rejects(policy_greylist *g, uint64_t net, uint64_t triplet, sim_time_t now);
void policy_greylist_free(policy_greylist *g);

#endif
