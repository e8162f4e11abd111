/*
 * msg_heap - a min-heap of messages by time (see msg_heap.h).
 */
#include "models/msg_heap.h"
#include "sim/sim_mem.h"

#include <stdbool.h>
#include <stdlib.h>

static inline bool before(const msg_heap_entry *a, const msg_heap_entry *b)
{
    return a->at < b->at || (a->at == b->at && a->id < b->id);
}

void msg_heap_push(msg_heap *h, sim_time_t at, uint64_t id, void *msg)
{
    h->e = sim_xgrow(h->e, &h->cap, h->n + 1, sizeof(*h->e), 1024);
    msg_heap_entry x = {at, id, msg};
    size_t i = h->n++;
    while (i > 0 && before(&x, &h->e[(i - 1) / 2])) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = x;
}

void *msg_heap_pop(msg_heap *h)
{
    if (h->n == 0) {
        sim_panic("msg_heap_pop", "empty heap");
    }
    void *top = h->e[0].msg;
    msg_heap_entry last = h->e[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const msg_heap_entry *v = &last;
        if (l < n && before(&h->e[l], v))
            m = l, v = &h->e[l];
        if (l + 1 < n && before(&h->e[l + 1], v))
            m = l + 1;
        if (m == i)
            break;
        h->e[i] = h->e[m];
        i = m;
    }
    if (n > 0)
        h->e[i] = last;
    return top;
}

void msg_heap_free(msg_heap *h)
{
    free(h->e);
    *h = (msg_heap){0};
}
