/*
 * policy_greylist - postgrey's greylisting: open-addressed hash tables of triplets and clients,
 * rebuilt without the expired entries when they fill up (see policy_greylist.h).
 */
#include "models/policy_greylist.h"
#include "sim/sim_mem.h"

#include <stdlib.h>

static bool entry_live(const policy_greylist *g, const policy_greylist_table *t, const policy_greylist_entry *e,
                 sim_time_t now)
{
    if (t == &g->clients || e->n > 0)
        return now - e->last <= POLICY_GREYLIST_MAX_AGE;
    return now - e->first <= g->retry_window;
}

static policy_greylist_entry *find(const policy_greylist_table *t, uint64_t key)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->e[i].key == 0)
            return NULL;
        if (t->e[i].key == key)
            return &t->e[i];
    }
}

static void rebuild(const policy_greylist *g, policy_greylist_table *t, sim_time_t now)
{
    size_t live = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key != 0 && entry_live(g, t, &t->e[i], now))
            live++;
    size_t cap = 64;
    while (cap < (live + 1) * 3)
        cap *= 2;
    policy_greylist_entry *e = sim_xcalloc(cap, sizeof(*e));
    for (size_t i = 0; i < t->cap; i++) {
        if (t->e[i].key == 0 || !entry_live(g, t, &t->e[i], now))
            continue;
        size_t j = t->e[i].key & (cap - 1);
        while (e[j].key != 0)
            j = (j + 1) & (cap - 1);
        e[j] = t->e[i];
    }
    free(t->e);
    t->e = e;
    t->cap = cap;
    t->count = live;
}

/* A new entry for key (not in the table), zeroed. */
static policy_greylist_entry *insert(const policy_greylist *g, policy_greylist_table *t, uint64_t key, sim_time_t now)
{
    if ((t->count + 1) * 2 > t->cap)
        rebuild(g, t, now);
    size_t i = key & (t->cap - 1);
    while (t->e[i].key != 0)
        i = (i + 1) & (t->cap - 1);
    t->e[i] = (policy_greylist_entry){.key = key};
    t->count++;
    return &t->e[i];
}

bool policy_greylist_rejects(policy_greylist *g, uint64_t net, uint64_t key, sim_time_t now)
{
    policy_greylist_entry *c = NULL;
    if (g->auto_allow > 0) {
        c = find(&g->clients, net);
        if (c != NULL && now - c->last > POLICY_GREYLIST_MAX_AGE)
            c->n = 0;
        if (c != NULL && c->n >= g->auto_allow) {
            c->last = now;
            return false;
        }
    }
    policy_greylist_entry *e = find(&g->triplets, key);
    bool pass = false;
    if (e == NULL) {
        e = insert(g, &g->triplets, key, now);
        e->first = now;
    } else if (e->n > 0) {
        pass = now - e->last <= POLICY_GREYLIST_MAX_AGE;
        if (!pass) {
            e->n = 0;
            e->first = now;
        }
    } else if (now - e->first > g->retry_window) {
        e->first = now; /* the retry window closed: a first sight again */
    } else if (now - e->first >= g->delay) {
        e->n = 1;
        pass = true;
    }
    e->last = now;
    if (pass && g->auto_allow > 0) {
        if (c == NULL)
            c = insert(g, &g->clients, net, now);
        c->n++;
        c->last = now;
    }
    return !pass;
}

void policy_greylist_free(policy_greylist *g)
{
    free(g->triplets.e);
    free(g->clients.e);
    g->triplets = g->clients = (policy_greylist_table){0};
}
