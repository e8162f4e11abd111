/*
 * results_dir - a run directory that is never seen half-written.
 *
 * Files are written into DIR.partial-<pid>; results_dir_commit() renames it to DIR (replacing an
 * older run directory of that name), results_dir_abort() removes it. A crash leaves only the
 * .partial directory, which no reader mistakes for a complete run (DESIGN.md principle 6).
 *
 * An existing DIR is replaced only when it looks like a run directory (it holds manifest.json or
 * summary.json, or is empty): "-o ~" by mistake must fail, not wipe a home directory.
 */
#ifndef RESULTS_DIR_H
#define RESULTS_DIR_H

#include <stdio.h>

typedef struct results_dir results_dir;

/* Creates missing parent directories too. Returns NULL and sets errno on failure (the caller reports
 * path and strerror). */
results_dir *results_dir_create(const char *final_path);
/* Opens NAME inside the partial directory for writing ("w"); NULL and errno on failure. */
FILE *results_dir_open(results_dir *d, const char *name);
/* Path of NAME inside the partial directory (for writers that take a path). Static buffer per dir;
 * NULL and errno ENAMETOOLONG if it does not fit. */
const char *results_dir_path(results_dir *d, const char *name);
const char *results_dir_final(const results_dir *d);
/* The temporary directory being written (for messages). */
const char *results_dir_partial(const results_dir *d);
/*
 * Renames into place; frees d. Returns 0 or -errno: then d is still valid and the partial directory
 * is left in place, so the caller can name it (results_dir_partial) and then call results_dir_abort.
 * -ENOTDIR: DIR exists and is not a directory; -EEXIST: DIR is a directory that is not a run
 * directory. Neither is touched.
 */
int results_dir_commit(results_dir *d);
/* Removes the partial directory and its files; frees d. */
void results_dir_abort(results_dir *d);

/* Removes a directory and what is in it. Returns 0 or the first -errno met (and goes on). */
int results_dir_remove_tree(const char *path);
/* Removes the partial directories in parent ("NAME.partial-PID") whose process is gone: what a
 * killed run left. Returns how many, or -errno when parent cannot be read. */
int results_dir_clean_partials(const char *parent);

/*
 * Closes a file of the run directory and says whether everything written to it reached the
 * kernel: 0, or -errno of the first failure (a full disk shows up here, at the latest). f may be
 * NULL (returns 0). The caller aborts the run directory on failure.
 */
int results_dir_fclose(FILE *f);

/*
 * Writes dir/name whole or not at all: write(f, ctx) fills dir/.name.tmp-PID, which is renamed into
 * place when it and the close succeed and removed otherwise. 0, or -errno (write's own negative
 * return included) with "PATH: reason" in err.
 */
int results_dir_write_file(const char *dir, const char *name, int (*write)(FILE *f, void *ctx), void *ctx,
                           char *err, size_t errlen);

#endif
