/*
 * expect_abort - for the unit tests of broken invariants: a model or kernel bug aborts through
 * sim_panic, which names the function on stderr. expect_abort runs the offending code in a child
 * process, so the test program itself survives, and checks both that the child died of SIGABRT and
 * that what it wrote on stderr names the function that caught the bug.
 *
 * Include after <cmocka.h>.
 */
#ifndef EXPECT_ABORT_H
#define EXPECT_ABORT_H

#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child; expects it to abort with a message on stderr that contains want. */
static inline void expect_abort(void (*fn)(void), const char *want)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    char buf[512] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 && (k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("the child did not abort (status %d), expected %s to; stderr \"%s\"", status, want, buf);
    if (!strstr(buf, want))
        fail_msg("stderr \"%s\" does not name %s", buf, want);
}

#endif
