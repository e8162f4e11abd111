/*
 * harness_text - a growing text buffer with printf, for the configuration files and YAML the
 * harness writes. Memory comes from sim_mem's checked allocator, so a caller never sees NULL.
 */
#ifndef HARNESS_TEXT_H
#define HARNESS_TEXT_H

#include <stddef.h>

typedef struct harness_text {
    char *s;    /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} harness_text;

void harness_text_printf(harness_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void harness_text_append(harness_text *t, const char *s, size_t n);
/* Hands the string over (never NULL: "" for an empty buffer) and empties t. */
char *harness_text_take(harness_text *t);
void harness_text_clear(harness_text *t);
/* Writes text to path through "path.tmp" and a rename, so a reader never sees half a file.
 * 0 or -errno (the temporary file removed). */
int harness_text_write_file(const char *path, const char *text);

#endif
