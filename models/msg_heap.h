/*
 * msg_heap - messages waiting for a time: Postfix's deferred queue (by retry time) and the application
 * pool's retry list. A binary min-heap of (time, id, message) kept inline, so comparing two entries
 * never touches the messages themselves; ties on time go to the lower id (arrival order), which keeps
 * runs deterministic.
 */
#ifndef MSG_HEAP_H
#define MSG_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

typedef struct msg_heap_entry {
    sim_time_t at;
    uint64_t id;
    void *msg;
} msg_heap_entry;

typedef struct msg_heap {
    msg_heap_entry *e;
    size_t n, cap;
} msg_heap;

void msg_heap_push(msg_heap *h, sim_time_t at, uint64_t id, void *msg);
/* The earliest message; the heap must not be empty. */
void *msg_heap_pop(msg_heap *h);
static inline sim_time_t msg_heap_top_time(const msg_heap *h) { return h->n ? h->e[0].at : SIM_TIME_NEVER; }
void msg_heap_free(msg_heap *h);

#endif
