/*
 * harness_replay - a scenario replayed through a real MTA against a real testsmtpd: the loop that
 * holds the simulation to reality (`tempfail replay`, `tempfail validate`).
 *
 * What it does, in order:
 *   1. divides the scenario's Postfix timers by the speedup K (harness_speedup: whole seconds, or a
 *      refusal naming the parameter);
 *   2. starts testsmtpd with every receiver, each MX host on its own loopback address, its policies'
 *      clock running K times faster (harness_testsmtpd);
 *   3. with --mta postfix, one private Postfix instance per MTA host of the scenario (mta.hosts), each
 *      bound to its host's source address (hosts sharing a source IP share a loopback address, as
 *      behind a NAT), routed to testsmtpd's addresses (harness_postfix_run);
 *   4. injects the very messages the simulator generates for the scenario's seed - the one traffic
 *      generator, hosts served round-robin as the simulated world does - at their arrival times / K,
 *      over SMTP (harness_inject), and asks the generator for a user's re-send whenever a message is
 *      still undelivered `resend.after` after it arrived, as the simulation does;
 *   5. reads each Postfix's log as it grows (harness_replay_track), until every message is
 *      delivered, bounced or expired - or the horizon (duration, or drain_cap with until: drained),
 *      or the wall-clock limit, or a stop request;
 *   6. stops everything it started, whatever happened, and writes the run directory's files
 *      (messages.csv, timeseries.csv, summary.json) from the logs, in scenario time.
 * With --mta external, steps 3 and the Postfix log are the operator's: messages go to their MTA's
 * smtpd, and its log is read from the file they name.
 */
#ifndef HARNESS_REPLAY_H
#define HARNESS_REPLAY_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "results/results_dir.h"
#include "scenarios/scenario.h"

typedef enum { HARNESS_REPLAY_POSTFIX, HARNESS_REPLAY_EXTERNAL } harness_replay_mta;

typedef struct harness_replay_opts {
    harness_replay_mta mta;
    double speedup;                  /* K >= 1 */
    const char *testsmtpd;           /* the testsmtpd binary */
    const char *external_log;        /* EXTERNAL: the MTA's log, read from its end at start */
    const char *external_inject;     /* EXTERNAL: "ADDR:PORT" of the MTA's smtpd */
    unsigned conns;                  /* injection connections per MTA host (0: 4) */
    double max_wall;                 /* seconds of real time at most (0: no limit) */
    bool keep_work;                  /* keep the work directory (else removed) */
    bool progress;                   /* a progress line on stderr */
    bool start_at_once;              /* start the scenario's clock at once, not on one of qmgr's
                                        deferred-queue scans (up to a queue_run_delay later): for a
                                        replay in which nothing is deferred, as calibration's */
    volatile sig_atomic_t *stop;     /* set by a signal handler: stop now (may be NULL) */
} harness_replay_opts;

/* Exit-status classes of a failed replay, as the CLI maps them. */
enum { HARNESS_REPLAY_EUSAGE = 2, HARNESS_REPLAY_EIO = 3 };

/*
 * Replays s (loaded, --set applied; its mta section is speeded up here) into the run directory dir
 * (not committed: the caller commits or aborts it). On success returns 0 and *summary (a new
 * reference). On failure returns HARNESS_REPLAY_EUSAGE (the scenario or the command line: a key
 * Postfix cannot express, a speedup that distorts a timer) or HARNESS_REPLAY_EIO (Postfix missing,
 * a server that would not start or died, a receiver that never answers, an interrupted replay),
 * with err naming the cause; everything started is stopped either way.
 */
int harness_replay_run(scenario *s, const harness_replay_opts *o, results_dir *dir, json_t **summary, char *err,
                       size_t errlen);

/* The transport_maps lines that route the scenario's domains to testsmtpd at the fixed external
 * addresses (harness_testsmtpd_addr, port 2525), for an operator to paste (EXTERNAL). Returns a
 * malloc'ed text, or NULL with err when two MX hosts would share an address (harness_testsmtpd_check). */
char *harness_replay_external_transport(const scenario *s, char *err, size_t errlen);

#endif
