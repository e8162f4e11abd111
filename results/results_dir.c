/*
 * results_dir - write a run directory under a temporary name, then rename it into place.
 *
 * rename(2) is atomic but cannot replace a non-empty directory, so an older run of the same name is
 * first moved aside (DIR.old-<pid>), the new one renamed in, and only then the old one removed. If
 * the second rename fails the old run is put back: at every instant DIR is either the old run or
 * the new one, never a mixture.
 */
#include "results/results_dir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
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

int results_dir_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return errno == ENOENT ? 0 : -errno;
    int err = 0;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(p, sizeof(p), "%s/%s", path, e->d_name) >= (int)sizeof(p)) {
            if (!err)
                err = -ENAMETOOLONG;
            continue;
        }
        struct stat st;
        int r = 0;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            r = results_dir_remove_tree(p);
        else if (unlink(p) != 0)
            r = -errno;
        if (r && !err)
            err = r;
    }
    closedir(dir);
    if (rmdir(path) != 0 && !err)
        err = -errno;
    return err;
}

/*
 * Whether an existing directory may be replaced: it holds a previous run's manifest or summary, or
 * nothing at all. Anything else is someone's directory that a typo named as the output.
 */
static bool is_replaceable(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    bool empty = true, run = false;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        empty = false;
        if (strcmp(e->d_name, "manifest.json") == 0 || strcmp(e->d_name, "summary.json") == 0)
            run = true;
    }
    closedir(dir);
    return empty || run;
}

/* mkdir -p of the directory that will hold path (its parent); 0 or -1 with errno. */
static int make_parents(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = 0;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

results_dir *results_dir_create(const char *final_path)
{
    results_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    size_t n = strlen(final_path);
    while (n > 1 && final_path[n - 1] == '/')
        n--;
    /* Room for ".partial-<pid>" and ".old-<pid>" after the name, and a file name inside it. */
    if (n == 0 || n >= sizeof(d->final) - 64) {
        free(d);
        errno = n == 0 ? EINVAL : ENAMETOOLONG;
        return NULL;
    }
    memcpy(d->final, final_path, n);
    d->final[n] = 0;
    if (snprintf(d->partial, sizeof(d->partial), "%s.partial-%ld", d->final, (long)getpid()) >=
        (int)sizeof(d->partial)) {
        free(d);
        errno = ENAMETOOLONG;
        return NULL;
    }
    /* A leftover of a crashed run that had our pid: ours to reuse; and those of runs killed beside
     * it (a kill -9 leaves hundreds of MB), whose process is gone. */
    results_dir_remove_tree(d->partial);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", d->final);
    char *slash = strrchr(parent, '/');
    if (slash)
        *(slash == parent ? slash + 1 : slash) = 0;
    results_dir_clean_partials(slash ? parent : ".");
    if (make_parents(d->partial) != 0 || mkdir(d->partial, 0777) != 0) {
        int e = errno;
        free(d);
        errno = e;
        return NULL;
    }
    return d;
}

const char *results_dir_path(results_dir *d, const char *name)
{
    if (snprintf(d->scratch, sizeof(d->scratch), "%s/%s", d->partial, name) >= (int)sizeof(d->scratch)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return d->scratch;
}

FILE *results_dir_open(results_dir *d, const char *name)
{
    const char *p = results_dir_path(d, name);
    return p ? fopen(p, "w") : NULL;
}

const char *results_dir_final(const results_dir *d) { return d->final; }

const char *results_dir_partial(const results_dir *d) { return d->partial; }

int results_dir_commit(results_dir *d)
{
    char old[PATH_MAX + 32];
    snprintf(old, sizeof(old), "%s.old-%ld", d->final, (long)getpid());
    struct stat st;
    bool had_old = false;
    if (stat(d->final, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return -ENOTDIR;
        if (!is_replaceable(d->final))
            return -EEXIST;
        had_old = true;
    } else if (errno != ENOENT) {
        return -errno;
    }
    if (had_old && rename(d->final, old) != 0)
        return -errno;
    if (rename(d->partial, d->final) != 0) {
        int e = errno;
        if (had_old)
            rename(old, d->final);
        return -e;
    }
    /* The new run is in place; failing to delete the old copy loses nothing. */
    if (had_old)
        results_dir_remove_tree(old);
    free(d);
    return 0;
}

void results_dir_abort(results_dir *d)
{
    results_dir_remove_tree(d->partial);
    free(d);
}

int results_dir_fclose(FILE *f)
{
    if (!f)
        return 0;
    errno = 0;
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? -errno : -EIO;
    if (fclose(f) != 0 && !err)
        err = errno ? -errno : -EIO;
    return err;
}

int results_dir_write_file(const char *dir, const char *name, int (*write)(FILE *f, void *ctx), void *ctx,
                           char *err, size_t errlen)
{
    char final[PATH_MAX], tmp[PATH_MAX + 32];
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%ld", dir, name, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -e;
    }
    int e = write(f, ctx);
    int c = results_dir_fclose(f);
    if (e == 0)
        e = c;
    if (e == 0 && rename(tmp, final) != 0)
        e = -errno;
    if (e) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", final, strerror(-e));
    }
    return e;
}

/* Whether process pid is gone: no such process, or one that has exited and waits to be reaped (a
 * zombie, which kill(pid, 0) still finds). */
static bool results_dir_pid_gone(long pid)
{
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold anything */
    return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

int results_dir_clean_partials(const char *parent)
{
    DIR *dir = opendir(parent);
    if (!dir)
        return errno == ENOENT ? 0 : -errno;
    int n = 0;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(dir)) != NULL) {
        const char *m = strstr(e->d_name, ".partial-");
        if (!m)
            continue;
        char *end;
        long pid = strtol(m + 9, &end, 10);
        if (end == m + 9 || *end || pid <= 0 || !results_dir_pid_gone(pid))
            continue;
        if (snprintf(p, sizeof(p), "%s/%s", parent, e->d_name) < (int)sizeof(p) && results_dir_remove_tree(p) == 0)
            n++;
    }
    closedir(dir);
    return n;
}
