/*
 * sim_pool - a free-list pool of fixed-size objects (see sim_pool.h).
 */
#include "sim/sim_pool.h"

#include <stdlib.h>

#include "sim/sim_mem.h"

void sim_pool_init(sim_pool *p, size_t size) { *p = (sim_pool){.size = size}; }

void *sim_pool_get(sim_pool *p, bool *fresh)
{
    if (p->nfree) {
        if (fresh)
            *fresh = false;
        return p->free[--p->nfree];
    }
    p->all = sim_xgrow(p->all, &p->allcap, p->nall + 1, sizeof(*p->all), 64);
    /* The free stack can hold every object, so sim_pool_put never allocates. */
    p->free = sim_xgrow(p->free, &p->freecap, p->nall + 1, sizeof(*p->free), 64);
    if (fresh)
        *fresh = true;
    return p->all[p->nall++] = sim_xcalloc(1, p->size);
}

void sim_pool_put(sim_pool *p, void *obj)
{
    if (p->nfree >= p->nall)
        sim_panic("sim_pool_put", "more objects returned than handed out");
    p->free[p->nfree++] = obj;
}

void sim_pool_destroy(sim_pool *p, void (*fini)(void *obj))
{
    for (size_t i = 0; i < p->nall; i++) {
        if (fini)
            fini(p->all[i]);
        free(p->all[i]);
    }
    free(p->all);
    free(p->free);
    *p = (sim_pool){.size = p->size};
}
