/*
 * sim_pool - objects of one size recycled through a free list, so that the hot path of a run
 * allocates nothing once the pool has grown to the run's peak (DESIGN.md principle 7).
 *
 * The pool owns every object it ever handed out: sim_pool_destroy frees them all, in use or not,
 * after calling `fini` on each (for what an object owns itself, such as a buffer it keeps across
 * reuses). A recycled object comes back as it was put, so such buffers survive; a fresh one is
 * zeroed. Objects are reused last in, first out.
 */
#ifndef SIM_POOL_H
#define SIM_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sim_pool {
    size_t size;
    void **all;    /* every object ever allocated */
    size_t nall, allcap;
    void **free;   /* the recycled ones, a stack */
    size_t nfree, freecap;
} sim_pool;

void sim_pool_init(sim_pool *p, size_t size);
/* An object; *fresh (when not NULL) tells whether it is new (zeroed) or recycled. */
void *sim_pool_get(sim_pool *p, bool *fresh);
void sim_pool_put(sim_pool *p, void *obj);
/* Frees every object, calling fini (when not NULL) on each first. */
void sim_pool_destroy(sim_pool *p, void (*fini)(void *obj));

#endif
