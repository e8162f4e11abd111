/*
 * results_dir - write a run directory under a temporary name, then rename it into place.
 */
#include "results/results_dir.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct results_dir {
    char final[PATH_MAX];
    char partial[PATH_MAX];
    char scratch[PATH_MAX];
};

/* Removes a directory and the plain files in it (run directories have no subdirectories). */
static int remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(dir);
    return rmdir(path) == 0 ? 0 : -errno;
}

results_dir *results_dir_create(const char *final_path)
{
    results_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    size_t n = strlen(final_path);
    while (n > 1 && final_path[n - 1] == '/')
        n--;
    if (n >= sizeof(d->final) - 32) {
        free(d);
        errno = ENAMETOOLONG;
        return NULL;
    }
    memcpy(d->final, final_path, n);
    d->final[n] = 0;
    snprintf(d->partial, sizeof(d->partial), "%s.partial-%ld", d->final, (long)getpid());
    remove_tree(d->partial);
    if (mkdir(d->partial, 0777) != 0) {
        int e = errno;
        free(d);
        errno = e;
        return NULL;
    }
    return d;
}

const char *results_dir_path(results_dir *d, const char *name)
{
    snprintf(d->scratch, sizeof(d->scratch), "%s/%s", d->partial, name);
    return d->scratch;
}

FILE *results_dir_open(results_dir *d, const char *name)
{
    return fopen(results_dir_path(d, name), "w");
}

const char *results_dir_final(const results_dir *d) { return d->final; }

int results_dir_commit(results_dir *d)
{
    /* rename(2) cannot replace a non-empty directory: move the old run aside first. */
    char old[PATH_MAX + 16];
    snprintf(old, sizeof(old), "%s.old-%ld", d->final, (long)getpid());
    struct stat st;
    bool had_old = stat(d->final, &st) == 0;
    if (had_old && rename(d->final, old) != 0)
        return -errno;
    if (rename(d->partial, d->final) != 0) {
        int e = errno;
        if (had_old)
            rename(old, d->final);
        return -e;
    }
    if (had_old)
        remove_tree(old);
    free(d);
    return 0;
}

void results_dir_abort(results_dir *d)
{
    remove_tree(d->partial);
    free(d);
}
