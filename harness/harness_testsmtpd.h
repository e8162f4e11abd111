/*
 * harness_testsmtpd - the replay's receivers: one testsmtpd serving every receiver of the scenario,
 * each MX host on its own loopback address, the policies' clock running as fast as the replay.
 *
 * MX host m of receiver r listens on the address the scenario names for it (mx[m].address) when that
 * is a loopback one (127.0.0.0/8), so that the replay's log shows the address the simulated log
 * shows; otherwise - no address, or one elsewhere, where a replay must never send mail - on
 * 127.64.0.0/10 (127.(64 + r / 256).(r % 256).(m + 1)). Either way, port 0
 * (or the caller's, for an operator's MTA that needs addresses known in advance): the kernel picks
 * a free port, and the ready file says which, so two replays (or a replay and a test)
 * never fight over a port, and testsmtpd's per-IP counting sees each Postfix's own source address.
 * The implicit "default" receiver (the domains no receiver claims) is served too, when the traffic has
 * such domains. `--clock-rate K` makes the policies' windows and delays K times shorter, and the event
 * log's times are scenario time from the ready file's clock origin.
 */
#ifndef HARNESS_TESTSMTPD_H
#define HARNESS_TESTSMTPD_H

#include <stddef.h>

#include "harness/harness_proc.h"
#include "scenarios/scenario.h"

#define HARNESS_TESTSMTPD_ADDR_MAX 64

typedef struct harness_testsmtpd {
    harness_proc proc;
    char ready[4096], events[4096], log[4096];
    /* Per receiver of the scenario, a NULL-terminated list of "ADDR:PORT" in MX order (NULL for a
     * receiver not served), as harness_postfix_instance.receiver_addrs wants them. */
    size_t nreceivers;
    char ***addrs;
    long long clock_origin;  /* CLOCK_MONOTONIC ns where the event log's clock starts */
    double clock_rate;
} harness_testsmtpd;

/*
 * Starts testsmtpd (bin) on the scenario file scenario_path (the loaded s, already resolved: the file
 * must describe the same receivers), with its ready file, event log and output in dir, and waits
 * (bounded) until it listens. 0, or a negative errno with err saying why (the output's last line
 * when testsmtpd refused to start: "testsmtpd: 127.64.0.1:0: bind: Address already in use").
 */
int harness_testsmtpd_start(harness_testsmtpd *t, const char *bin, const char *scenario_path, const scenario *s,
                            double clock_rate, int port, const char *dir, char *err, size_t errlen);
/* The address MX host m of receiver r of s listens on: "127.64.0.1" (no port). */
void harness_testsmtpd_addr(const scenario *s, size_t r, size_t m, char *buf, size_t len);
/* Whether every MX host the replay serves gets an address of its own: a loopback address the
 * scenario names may be the one the replay gives another host that names none. 0, or -EINVAL with
 * err naming both ("receivers[b].mx[0].address: 127.64.0.1 is where the replay listens for MX host
 * mx.a.test of receiver 'a', ..."). */
int harness_testsmtpd_check(const scenario *s, char *err, size_t errlen);
/* Whether the replay serves receiver i: every named one, and the implicit default when it owns a
 * domain of the traffic. */
bool harness_testsmtpd_served(const scenario *s, size_t i);
/* Whether it still runs. */
bool harness_testsmtpd_alive(harness_testsmtpd *t);
/* Stops it (SIGTERM: it flushes its event log) and frees the addresses. Safe to call twice. */
void harness_testsmtpd_stop(harness_testsmtpd *t);

/* The last line testsmtpd printed (for error messages), "" when none. */
void harness_testsmtpd_last_words(const char *log_path, char *buf, size_t len);

#endif
