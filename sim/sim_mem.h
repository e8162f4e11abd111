/*
 * sim_mem - the one panic and the one checked allocator of tempfail, used by every layer.
 *
 * Errors come in three tiers (DESIGN.md): a configuration error is reported with its location by the
 * layer that found it; an I/O error is returned as a negative errno; a broken invariant - or memory
 * exhausted where the contract leaves no error path - stops the program here, loudly, naming the
 * function. Memory exhaustion in a simulation means the run cannot be completed faithfully, so there
 * is nothing better to do than stop before a half-written result looks complete. Keeping this in the
 * kernel means models/ never prints: the only words it can say to a terminal are said here.
 */
#ifndef SIM_MEM_H
#define SIM_MEM_H

#include <stddef.h>

/* Prints "FN: message" on stderr and aborts. */
_Noreturn void sim_panic(const char *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like their libc namesakes, but never return NULL: exhaustion panics. A zero size allocates one
 * byte, so the result can always be freed and never looks like a failure. */
void *sim_xmalloc(size_t size);
void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t size);
char *sim_xstrdup(const char *s);
/* realloc for n elements of size bytes each, with the multiplication checked. */
void *sim_xreallocarray(void *p, size_t n, size_t size);

/* A growing array: returns p reallocated to hold at least `need` elements of `elem` bytes, doubling
 * *cap (from `first` when it is 0) until it does, and updates *cap. Returns p unchanged when it
 * already holds `need`. New elements are not initialised. */
void *sim_xgrow(void *p, size_t *cap, size_t need, size_t elem, size_t first);

#endif
