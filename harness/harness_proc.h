/*
 * harness_proc - the processes a replay starts: run a command to completion, or start a server and
 * stop it again, every wait bounded.
 *
 * A replay must never leave a process behind, whatever fails (an error, Ctrl-C, a crash of the
 * caller): a started process runs in its own process group, gets SIGTERM when its parent dies
 * (PR_SET_PDEATHSIG), and harness_proc_stop sends SIGTERM to the group, waits, and then SIGKILL.
 * Output goes to a log file the caller names, so an error can point at it.
 */
#ifndef HARNESS_PROC_H
#define HARNESS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct harness_proc {
    pid_t pid;          /* 0: not running */
    int status;         /* wait status once reaped */
    char name[64];      /* for messages: "testsmtpd" */
} harness_proc;

/*
 * Starts argv (argv[0] a path, or a name looked up in PATH) with stdin from /dev/null and stdout and
 * stderr appended to log_path (NULL: /dev/null). 0, or -errno with err saying what ("testsmtpd:
 * /usr/bin/x: No such file or directory"): a failed exec is reported here, not later.
 */
int harness_proc_start(harness_proc *p, const char *name, char *const argv[], const char *log_path, char *err,
                       size_t errlen);
/* Whether it still runs (reaps it when it has exited; p->status then says how). */
bool harness_proc_alive(harness_proc *p);
/* SIGTERM to its group, up to wait_ms for it to exit, then SIGKILL. Returns its wait status (0 when
 * it was not running). */
int harness_proc_stop(harness_proc *p, int wait_ms);

/*
 * Runs argv to completion, at most timeout_ms (then it is killed): returns its exit status (0..255),
 * or -ETIMEDOUT, -EINTR for a signal that ended it, or -errno when it could not start (err says).
 * Its output is appended to log_path (NULL: /dev/null).
 */
int harness_proc_run(char *const argv[], const char *log_path, int timeout_ms, char *err, size_t errlen);

/* "exit status 1", "killed by signal 9": a wait status for messages. */
void harness_proc_describe(int status, char *buf, size_t len);

/* A program in PATH or in the given directories (/usr/sbin for Postfix's, which a user's PATH often
 * lacks): its path into buf and true, or false. */
bool harness_proc_find(const char *prog, char *buf, size_t len);

/* CLOCK_MONOTONIC in nanoseconds. */
long long harness_proc_now_ns(void);
/* Sleeps ms milliseconds (EINTR resumed). */
void harness_proc_sleep_ms(int ms);

#endif
