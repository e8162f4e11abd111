/*
 * test_harness_cpu - /proc/PID/stat lines parsed (names with blanks and parentheses, negative
 * priorities, truncated lines refused), and a real sample: this test as the "master" of a child
 * that spins, whose CPU shows under its name, and of one that exits, whose CPU the samples lose
 * to the reaped total, never to nowhere.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/harness_cpu.h"

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        const char *comm;
        int pid, ppid;
        uint64_t utime, stime, cutime, cstime, starttime;
    } cases[] = {
        {"12375 (smtp) S 12364 12364 12364 0 -1 4194560 446 0 0 0 3 1 0 0 20 0 1 0 2004078 9000 300 18446744073709551615",
         0, "smtp", 12375, 12364, 3, 1, 0, 0, 2004078},
        {"77 (trivial-rewrite) R 12 77 77 0 -1 0 0 0 0 0 10 20 30 40 -2 -20 1 0 555 1 1", 0, "trivial-rewrite", 77, 12,
         10, 20, 30, 40, 555},
        {"5 (a b) c)) S 1 1 1 0 -1 0 0 0 0 0 7 8 9 10 20 0 1 0 99 1 1", 0, "a b) c)", 5, 1, 7, 8, 9, 10, 99},
        {"5 (smtp) S 1 1 1 0 -1 0 0 0 0 0 7 8", -1, "", 0, 0, 0, 0, 0, 0, 0},
        {"(smtp) S 1", -1, "", 0, 0, 0, 0, 0, 0, 0},
        {"5 smtp S 1 1 1 0 -1 0 0 0 0 0 7 8 9 10 20 0 1 0 99", -1, "", 0, 0, 0, 0, 0, 0, 0},
        {"", -1, "", 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_cpu_stat st;
        int rc = harness_cpu_parse_stat(cases[i].line, strlen(cases[i].line), &st);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        if (rc)
            continue;
        assert_string_equal(st.comm, cases[i].comm);
        assert_int_equal(st.pid, cases[i].pid);
        assert_int_equal(st.ppid, cases[i].ppid);
        assert_int_equal(st.utime, cases[i].utime);
        assert_int_equal(st.stime, cases[i].stime);
        assert_int_equal(st.cutime, cases[i].cutime);
        assert_int_equal(st.cstime, cases[i].cstime);
        assert_int_equal(st.starttime, cases[i].starttime);
    }
}

/* Spins until this process has had `seconds` of CPU (not of wall time: the machine may be busy). */
static void spin(double seconds)
{
    struct timespec b;
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    while ((double)b.tv_sec + (double)b.tv_nsec / 1e9 < seconds);
}

/* A child named name: spins `first` seconds of CPU, says so on fd, spins on to `busy`, then waits
 * (stay) or exits. */
static pid_t child(const char *name, double first, double busy, bool stay, int fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion leaves no spinner behind */
        prctl(PR_SET_NAME, name);
        spin(first);
        if (write(fd, "x", 1) != 1)
            _exit(1);
        spin(busy);
        if (stay)
            pause();
        _exit(0);
    }
    return pid;
}

static void test_sample(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char b;
    harness_cpu *c = harness_cpu_create(getpid(), "self");
    assert_int_equal(harness_cpu_baseline(c), 0);
    pid_t stays = child("tf-stays", 0.3, 0.3, true, fds[1]);
    assert_int_equal(read(fds[0], &b, 1), 1);
    usleep(20000);
    assert_int_equal(harness_cpu_sample(c), 0); /* tf-stays done spinning */
    pid_t goes = child("tf-goes", 0.02, 0.2, false, fds[1]);
    assert_int_equal(read(fds[0], &b, 1), 1);
    assert_int_equal(harness_cpu_sample(c), 0); /* tf-goes part way */
    int st;
    waitpid(goes, &st, 0);
    assert_int_equal(harness_cpu_sample(c), 0);
    size_t n;
    const harness_cpu_prog *p = harness_cpu_progs(c, &n);
    double s_stays = -1, s_goes = -1;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(p[i].name, "tf-stays"))
            s_stays = p[i].seconds, assert_int_equal(p[i].processes, 1);
        if (!strcmp(p[i].name, "tf-goes"))
            s_goes = p[i].seconds;
    }
    harness_cpu_totals t;
    harness_cpu_totals_get(c, &t);
    /* The one that stays was sampled after its 0.3 s of CPU: all of it (and a little of starting). */
    if (!(s_stays >= 0.29 && s_stays < 0.4))
        fail_msg("tf-stays: %.3f s, want 0.3", s_stays);
    /* The one that exited was seen part way: the rest is in the reaped total, unattributed. */
    if (!(s_goes >= 0.019 && s_goes <= 0.21))
        fail_msg("tf-goes: %.3f s seen, want between 0.02 and 0.2", s_goes);
    assert_true(t.reaped >= 0.19); /* whole ticks of 10 ms */
    assert_true(t.total >= s_stays + s_goes + t.master - 1e-9);
    assert_true(fabs(t.unattributed - (t.total - t.master - s_stays - s_goes)) < 1e-9);
    json_t *j = harness_cpu_json(c);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "self");
    assert_non_null(json_object_get(json_object_get(j, "programs"), "tf-stays"));
    assert_int_equal(json_array_size(json_object_get(j, "processes")), 2);
    json_decref(j);
    kill(stays, SIGKILL);
    waitpid(stays, &st, 0);
    close(fds[0]);
    close(fds[1]);
    harness_cpu_free(c);
    /* A master gone: the sample says so. */
    c = harness_cpu_create(goes, "gone");
    assert_int_equal(harness_cpu_sample(c), -1);
    harness_cpu_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_sample)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
