/*
 * test_results_dir - a run directory appears whole or not at all: commit renames into place and
 * replaces an older run, abort leaves nothing, and a directory that is not a run is never replaced.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memout.h"
#include "results/results_dir.h"

typedef struct fixture {
    char base[64];
    char run[96];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    snprintf(fx->base, sizeof(fx->base), "/tmp/tempfail-dir-XXXXXX");
    if (!mkdtemp(fx->base))
        return -1;
    snprintf(fx->run, sizeof(fx->run), "%s/run", fx->base);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->base);
    int r = system(cmd);
    free(fx);
    return r == 0 ? 0 : -1;
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_file(results_dir *d, const char *name, const char *text)
{
    FILE *f = results_dir_open(d, name);
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(results_dir_fclose(f), 0);
}

static char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_dir_commit_then_replace(void **state)
{
    fixture *fx = *state;
    char path[160];
    results_dir *d = results_dir_create(fx->run);
    assert_non_null(d);
    assert_string_equal(results_dir_final(d), fx->run);
    /* Nothing under the final name while it is being written. */
    write_file(d, "manifest.json", "{\"n\": 1}\n");
    write_file(d, "summary.json", "{}\n");
    struct stat st;
    assert_int_equal(stat(fx->run, &st), -1);
    assert_int_equal(results_dir_commit(d), 0);
    snprintf(path, sizeof(path), "%s/manifest.json", fx->run);
    assert_string_equal(slurp(path), "{\"n\": 1}\n");
    assert_int_equal(entries(fx->base), 1);

    /* A second run replaces the first entirely: its stale files do not survive. */
    d = results_dir_create(fx->run);
    write_file(d, "manifest.json", "{\"n\": 2}\n");
    assert_int_equal(results_dir_commit(d), 0);
    assert_string_equal(slurp(path), "{\"n\": 2}\n");
    snprintf(path, sizeof(path), "%s/summary.json", fx->run);
    assert_null(slurp(path));
    assert_int_equal(entries(fx->run), 1);
    assert_int_equal(entries(fx->base), 1);   /* no .old or .partial left beside it */
}

static void test_dir_abort_leaves_nothing(void **state)
{
    fixture *fx = *state;
    results_dir *d = results_dir_create(fx->run);
    assert_non_null(d);
    write_file(d, "timeseries.csv", "time\n0\n");
    assert_int_equal(entries(fx->base), 1);   /* the .partial directory */
    results_dir_abort(d);
    assert_int_equal(entries(fx->base), 0);
}

static void test_dir_trailing_slash_and_path(void **state)
{
    fixture *fx = *state;
    char with_slash[128];
    snprintf(with_slash, sizeof(with_slash), "%s//", fx->run);
    results_dir *d = results_dir_create(with_slash);
    assert_string_equal(results_dir_final(d), fx->run);
    const char *p = results_dir_path(d, "maillog");
    char want[160];
    snprintf(want, sizeof(want), "%s.partial-%ld/maillog", fx->run, (long)getpid());
    assert_string_equal(p, want);
    snprintf(want, sizeof(want), "%s.partial-%ld", fx->run, (long)getpid());
    assert_string_equal(results_dir_partial(d), want);
    results_dir_abort(d);
}

/* A directory that holds something other than a run is left alone, and so is a plain file. */
static void test_dir_refuses_to_replace_foreign(void **state)
{
    fixture *fx = *state;
    char path[160];
    assert_int_equal(mkdir(fx->run, 0777), 0);
    snprintf(path, sizeof(path), "%s/thesis.tex", fx->run);
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    results_dir *d = results_dir_create(fx->run);
    write_file(d, "manifest.json", "{}\n");
    assert_int_equal(results_dir_commit(d), -EEXIST);
    assert_string_equal(slurp(path), "precious");
    results_dir_abort(d);   /* d is still valid after a failed commit */
    assert_int_equal(entries(fx->base), 1);

    unlink(path);
    rmdir(fx->run);
    f = fopen(fx->run, "w");
    fclose(f);
    d = results_dir_create(fx->run);
    assert_int_equal(results_dir_commit(d), -ENOTDIR);
    results_dir_abort(d);
    assert_int_equal(entries(fx->base), 1);
}

static void test_dir_fclose_reports_write_error(void **state)
{
    (void)state;
    assert_int_equal(results_dir_fclose(NULL), 0);
    FILE *f = full_open();
    fputs("data that cannot be written", f);
    assert_int_equal(results_dir_fclose(f), -ENOSPC);
}

/* --out a/b/run creates a and b; a file where a directory should be is an error, and nothing is left. */
static void test_dir_creates_parents(void **state)
{
    fixture *fx = *state;
    char nested[160], blocked[160], path[200];
    snprintf(nested, sizeof(nested), "%s/a/b/run", fx->base);
    results_dir *d = results_dir_create(nested);
    assert_non_null(d);
    write_file(d, "summary.json", "{}\n");
    assert_int_equal(results_dir_commit(d), 0);
    snprintf(path, sizeof(path), "%s/summary.json", nested);
    assert_string_equal(slurp(path), "{}\n");

    snprintf(path, sizeof(path), "%s/afile", fx->base);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(blocked, sizeof(blocked), "%s/afile/run", fx->base);
    errno = 0;
    assert_null(results_dir_create(blocked));
    assert_int_equal(errno, ENOTDIR);
}

/* Partial directories: one of a live process stays, one of a process that is gone goes, and so does
 * one of a process that has exited and is not yet reaped (a zombie: kill(pid, 0) still finds it);
 * names that are not partial directories stay. */
static void test_dir_clean_partials(void **state)
{
    fixture *fx = *state;
    pid_t zombie = fork();
    assert_true(zombie >= 0);
    if (zombie == 0)
        _exit(0);
    pid_t gone = fork();
    assert_true(gone >= 0);
    if (gone == 0)
        _exit(0);
    assert_int_equal(waitpid(gone, NULL, 0), gone);
    for (int i = 0; i < 200; i++) { /* until the zombie has exited */
        char path[64], buf[256] = "";
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)zombie);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            buf[n] = 0;
            fclose(f);
        }
        const char *c = strrchr(buf, ')');
        if (c && c[2] == 'Z')
            break;
        usleep(10000);
    }
    const char *names[] = {"a.partial-%d", "b.partial-%d", "c.partial-%d", "d.partial-x", "e"};
    int pids[] = {(int)getpid(), (int)gone, (int)zombie, 0, 0};
    for (int i = 0; i < 5; i++) {
        char name[64], path[200];
        snprintf(name, sizeof(name), names[i], pids[i]);
        snprintf(path, sizeof(path), "%s/%s", fx->base, name);
        assert_int_equal(mkdir(path, 0777), 0);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/f");
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
    }
    assert_int_equal(results_dir_clean_partials(fx->base), 2);
    assert_int_equal(entries(fx->base), 3);
    char path[200];
    snprintf(path, sizeof(path), "%s/a.partial-%d", fx->base, (int)getpid());
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(waitpid(zombie, NULL, 0), zombie);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dir_commit_then_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_trailing_slash_and_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_refuses_to_replace_foreign, setup, teardown),
        cmocka_unit_test(test_dir_fclose_reports_write_error),
        cmocka_unit_test_setup_teardown(test_dir_creates_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_clean_partials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
