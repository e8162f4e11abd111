/*
 * harness_proc - start, run and stop the replay's processes, every wait bounded (harness_proc.h).
 *
 * The exec failure is carried back through a close-on-exec pipe: the child writes its errno there
 * when execvp fails, so the caller learns "No such file or directory" at start, not as a mysterious
 * exit status 127 later.
 */
#define _GNU_SOURCE /* pipe2 */
#include "harness/harness_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long harness_proc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void harness_proc_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void harness_proc_describe(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "wait status %d", status);
}

bool harness_proc_find(const char *prog, char *buf, size_t len)
{
    if (strchr(prog, '/')) {
        snprintf(buf, len, "%s", prog);
        return access(buf, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/bin:/sbin:/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (!*d)
            continue;
        if ((size_t)snprintf(buf, len, "%s/%s", d, prog) >= len)
            continue;
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return true;
    }
    return false;
}

/* In the child: never returns. */
static _Noreturn void harness_proc_child(char *const argv[], const char *log_path, int errfd, pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before the line above */
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
        int e = errno;
        ssize_t w = write(errfd, &e, sizeof(e));
        (void)w;
        _exit(127);
    }
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(errfd, &e, sizeof(e));
    (void)w;
    _exit(127);
}

int harness_proc_start(harness_proc *p, const char *name, char *const argv[], const char *log_path, char *err,
                       size_t errlen)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: pipe: %s", name, strerror(e));
        return -e;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        snprintf(err, errlen, "%s: fork: %s", name, strerror(e));
        return -e;
    }
    if (pid == 0)
        harness_proc_child(argv, log_path, pfd[1], parent);
    close(pfd[1]);
    setpgid(pid, pid); /* also here: no race with a stop right after the start */
    int child_errno = 0;
    ssize_t n;
    while ((n = read(pfd[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    p->pid = pid;
    if (n == (ssize_t)sizeof(child_errno)) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->pid = 0;
        p->status = st;
        snprintf(err, errlen, "%s: cannot run %s: %s", name, argv[0], strerror(child_errno));
        return -child_errno;
    }
    return 0;
}

bool harness_proc_alive(harness_proc *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (r == p->pid)
        p->status = st;
    p->pid = 0;
    return false;
}

/* Waits up to ms for p to exit; true when it did (reaped). */
static bool harness_proc_wait(harness_proc *p, int ms)
{
    long long until = harness_proc_now_ns() + (long long)ms * 1000000LL;
    for (;;) {
        if (!harness_proc_alive(p))
            return true;
        if (harness_proc_now_ns() >= until)
            return false;
        harness_proc_sleep_ms(10);
    }
}

int harness_proc_stop(harness_proc *p, int wait_ms)
{
    if (!harness_proc_alive(p))
        return p->pid == 0 ? p->status : 0;
    kill(-p->pid, SIGTERM);
    kill(p->pid, SIGTERM);
    if (!harness_proc_wait(p, wait_ms)) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        int st;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->status = st;
        p->pid = 0;
    }
    return p->status;
}

int harness_proc_run(char *const argv[], const char *log_path, int timeout_ms, char *err, size_t errlen)
{
    harness_proc p;
    int rc = harness_proc_start(&p, argv[0], argv, log_path, err, errlen);
    if (rc < 0)
        return rc;
    if (!harness_proc_wait(&p, timeout_ms)) {
        harness_proc_stop(&p, 1000);
        snprintf(err, errlen, "%s: still running after %d s: stopped", argv[0], timeout_ms / 1000);
        return -ETIMEDOUT;
    }
    if (WIFEXITED(p.status))
        return WEXITSTATUS(p.status);
    harness_proc_describe(p.status, err, errlen);
    return -EINTR;
}
