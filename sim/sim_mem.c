/*
 * sim_mem - the panic and the checked allocator (see sim_mem.h for why there is only one of each).
 */
#include "sim/sim_mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void sim_panic(const char *fn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", fn);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *sim_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        sim_panic("sim_xmalloc", "out of memory (%zu bytes)", size);
    return p;
}

void *sim_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        sim_panic("sim_xcalloc", "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *sim_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        sim_panic("sim_xrealloc", "out of memory (%zu bytes)", size);
    return q;
}

void *sim_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        sim_panic("sim_xreallocarray", "%zu x %zu bytes overflows", n, size);
    return sim_xrealloc(p, n * size);
}

char *sim_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(sim_xmalloc(n), s, n);
}

void *sim_xgrow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : (first ? first : 1);
    while (c < need) {
        if (c > SIZE_MAX / 2)
            sim_panic("sim_xgrow", "%zu elements overflow", need);
        c *= 2;
    }
    p = sim_xreallocarray(p, c, elem);
    *cap = c;
    return p;
}
