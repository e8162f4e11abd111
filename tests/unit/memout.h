/*
 * memout - the streams the tests of the run directory's writers write to: an in-memory FILE whose
 * text the test then compares, and /dev/full, where every write fails with ENOSPC, for the error
 * paths.
 *
 * Include after <cmocka.h>.
 */
#ifndef MEMOUT_H
#define MEMOUT_H

#include <stdio.h>

typedef struct memout {
    FILE *f;
    char *buf;
    size_t len;
} memout;

/* Opens m->f onto memory and returns it. */
static inline FILE *memout_open(memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
    return m->f;
}

/* Closes the stream and returns what was written to it, NUL-terminated (m->len bytes before the NUL);
 * the caller frees it. */
static inline char *memout_close(memout *m)
{
    assert_int_equal(fclose(m->f), 0);
    m->f = NULL;
    assert_non_null(m->buf);
    return m->buf;
}

/* A stream on /dev/full; skips the test on a system without one. */
static inline FILE *full_open(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    return f;
}

#endif
