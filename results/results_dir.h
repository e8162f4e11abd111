/*
 * results_dir - a run directory that is never seen half-written.
 *
 * Files are written into DIR.partial-<pid>; results_dir_commit() renames it to DIR (replacing an
 * older run directory of that name), results_dir_abort() removes it. A crash leaves only the
 * .partial directory, which no reader mistakes for a complete run (DESIGN.md principle 6).
 */
#ifndef RESULTS_DIR_H
#define RESULTS_DIR_H

#include <stdio.h>

typedef struct results_dir results_dir;

/* Returns NULL and sets errno on failure (the caller reports path and strerror). */
results_dir *results_dir_create(const char *final_path);
/* Opens NAME inside the partial directory for writing ("w"); NULL and errno on failure. */
FILE *results_dir_open(results_dir *d, const char *name);
/* Path of NAME inside the partial directory (for writers that take a path). Static buffer per dir. */
const char *results_dir_path(results_dir *d, const char *name);
const char *results_dir_final(const results_dir *d);
/* Renames into place; frees d. Returns 0 or -errno (then the partial directory is left, and named). */
int results_dir_commit(results_dir *d);
/* Removes the partial directory and its files; frees d. */
void results_dir_abort(results_dir *d);

#endif
