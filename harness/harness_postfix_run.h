/*
 * harness_postfix_run - one private Postfix instance of a replay: its directories, its generated
 * configuration, `postfix -c DIR start`, and a stop that leaves no process behind.
 *
 * Everything lives under the instance's own directory (a world-traversable one under /tmp, since
 * Postfix's daemons run as the postfix user and must reach the queue): etc/ (main.cf, master.cf,
 * transport), queue/, data/ (owned by postfix) and maillog (maillog_file, written by postlogd).
 * smtpd listens only on the instance's injection address; the smtp client binds the scenario's
 * source address for this host (smtp_bind_address), so a NAT scenario's hosts share one address.
 *
 * The system's own Postfix and /etc/postfix are never touched. Run as root, `postfix -c DIR`
 * needs no alternate_config_directories entry in /etc/postfix/main.cf: only the set-gid programs
 * (postdrop, postqueue) check that list, for unprivileged users, and the replay uses neither: it
 * injects over SMTP.
 *
 * Stopping: `postfix -c DIR stop`, a bounded wait for the master (its pid file) to exit, then
 * SIGKILL to the master's process group (master runs setsid: its daemons are in its group).
 */
#ifndef HARNESS_POSTFIX_RUN_H
#define HARNESS_POSTFIX_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "scenarios/scenario.h"

typedef struct harness_postfix_run {
    char dir[1024];            /* the instance's directory */
    char etc[1100], queue[1100], data[1100], maillog[1100], out[1100];
    char name[16];             /* "mta1" */
    char smtpd[64];            /* "127.66.0.1:41234": where the injector connects */
    char bind[64];             /* smtp_bind_address */
    char postfix[512];         /* the postfix command */
    pid_t master;              /* after start: the master's pid (0: not running) */
} harness_postfix_run;

/*
 * Whether a Postfix instance can be started here: postfix and postconf found (PATH, /usr/sbin), the
 * postfix user exists, and we are root. 0 or -ENOENT/-EPERM with err saying what is missing and
 * what to do.
 */
int harness_postfix_run_available(char *version, size_t vlen, char *err, size_t errlen);

/*
 * Creates the instance for host (0-based) of scenario s (already speeded up) in dir (created; must
 * not exist): directories, a free port for smtpd on 127.66.0.(host + 1), the configuration routed
 * to receiver_addrs (as harness_postfix_instance wants them), smtp_bind_address bind_addr. 0, or a
 * negative errno with err ("mta.postfix.x: ..." when the scenario cannot be expressed: -EINVAL).
 */
int harness_postfix_run_setup(harness_postfix_run *p, const scenario *s, uint32_t host, const char *dir,
                              const char *bind_addr, const char *const *const *receiver_addrs, char *err,
                              size_t errlen);
/* `postfix check` and `postfix start`, then waits (bounded) until smtpd accepts connections. 0, or
 * a negative errno with err quoting Postfix's own complaint; nothing is left running then. */
int harness_postfix_run_start(harness_postfix_run *p, char *err, size_t errlen);
/* Whether the master still runs. */
bool harness_postfix_run_alive(const harness_postfix_run *p);
/* Stops the instance; safe to call twice and on one that never started. */
void harness_postfix_run_stop(harness_postfix_run *p);

/* When the instance's qmgr(8) started, on harness_proc_now_ns's clock (CLOCK_MONOTONIC, to the
 * kernel's clock tick), found among the master's children in /proc; waits up to 2 s for master to
 * start it. -1 when there is none. */
long long harness_postfix_run_qmgr_started(const harness_postfix_run *p);

#endif
