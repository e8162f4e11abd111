/*
 * harness_calibrate - the costs of a real host and a real receiver, measured from a replay that was
 * never throttled (or from an operator's Postfix log, as far as a log can say), as the scenario
 * lines `mta: cpu: {per_delivery, per_message, process_start, cores}` and a receiver's
 * `connect_latency:` and `latency:` (`tempfail calibrate`, docs/calibrate.md).
 *
 * What is measured, and from what:
 *   - per delivery: the CPU of smtp(8), qmgr(8) and scache(8) over the replay (cpu.json, sampled
 *     from /proc by harness_cpu) divided by the delivery requests Postfix logged, less the start-up
 *     of the smtp(8) processes it spawned (counted apart, as the model does); its spread is that of
 *     the smtp(8) processes' own CPU per delivery.
 *   - per message: smtpd(8), cleanup(8) and trivial-rewrite(8) divided by the messages qmgr logged
 *     ("from=<...>, nrcpt=").
 *   - process start: from two replays of the same mail, one with Postfix's defaults and one with
 *     max_use = 1 (a new smtp(8) for every delivery): the difference of the instances' total CPU
 *     divided by the difference of the smtp(8) processes they ran (distinct pids in the log). The
 *     totals are exact however short-lived the processes (the master's reaped children). From one
 *     replay alone, the intercept of the smtp(8) processes' CPU against their deliveries (a least
 *     squares line, when the processes made different numbers of deliveries).
 *   - the receiver: from testsmtpd's event log, each session's "connect" to its first "reply" (the
 *     server's decision before the greeting: connect_latency) and each "command" (or "message", the
 *     end of data) to the reply that answers it, in order, as pipelining sends them (latency). The
 *     log's clock is scenario time: divided by the replay's speedup, real seconds.
 *   - from a log alone: Postfix's delays=a/b/c/d (c: connection set-up, greeting and EHLO included;
 *     d: transmission), deliveries per smtp(8) process, conn_use. No CPU and no server-side time:
 *     c and d bound connect_latency and latency from above, and that is all a log can say.
 *
 * Every figure is in real seconds. A replay that saw a 4xx reply or a deferral is refused: retries
 * and refused sessions would be counted as the cost of the deliveries that did go through.
 *
 * Usage: create, feed one phase's inputs (harness_calibrate_read_rundir, or the *_line and _cpu calls
 * for inputs already in memory), then harness_calibrate_estimate with the default phase and the
 * optional max_use = 1 phase.
 */
#ifndef HARNESS_CALIBRATE_H
#define HARNESS_CALIBRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct harness_calibrate harness_calibrate;

harness_calibrate *harness_calibrate_create(void);
void harness_calibrate_free(harness_calibrate *c);

/* The replay's speedup K (the event log's times are K times real ones). Default 1. */
void harness_calibrate_speedup(harness_calibrate *c, double k);

/* One line of a Postfix log (without its newline); year for a syslog stamp. Lines that are no
 * delivery, queue or cleanup record are skipped. 0, or -EINVAL with err for a malformed one. */
int harness_calibrate_maillog_line(harness_calibrate *c, const char *line, size_t len, int year, char *err,
                                   size_t errlen);
/* One line of testsmtpd's event log. 0, or -EINVAL with err ("line N: why"). */
int harness_calibrate_event_line(harness_calibrate *c, const char *line, size_t len, char *err, size_t errlen);
/* A replay's cpu.json (harness_replay: every instance, since the start of injection). 0 or -EINVAL. */
int harness_calibrate_cpu(harness_calibrate *c, const json_t *cpu, char *err, size_t errlen);

/* A file of Postfix's log (plain text). 0, or a negative errno with err naming the file (and line). */
int harness_calibrate_read_maillog(harness_calibrate *c, const char *path, char *err, size_t errlen);
/*
 * A replay's run directory: summary.json (must have its "replay" object: the speedup), maillog,
 * testsmtpd.events.jsonl and cpu.json (a replay through --mta external has none: no CPU figures).
 * 0; -ENOENT for a missing directory or file, -EINVAL for one that is not a replay's, each with err
 * naming the path.
 */
int harness_calibrate_read_rundir(harness_calibrate *c, const char *dir, char *err, size_t errlen);

/* One measured figure, in seconds. */
typedef struct harness_calibrate_fig {
    bool measured;
    double value;     /* CPU: the mean; latencies: the median */
    double lo, hi;    /* spread: p10 and p90 (per-process ratios for CPU); lo == hi == value: none */
    double p99;       /* latencies: the 99th percentile */
    uint64_t n;       /* samples (events, deliveries, messages) the figure rests on */
    uint64_t spread_n; /* what the spread is taken over (processes for CPU; n for latencies) */
    char how[400];    /* how it was measured, or why it could not be */
} harness_calibrate_fig;

typedef struct harness_calibrate_result {
    harness_calibrate_fig per_delivery, per_message, process_start, connect_latency, latency;
    uint32_t cores;                  /* nproc where the replay ran (cpu.json), else here */
    uint64_t messages, deliveries, smtp_processes, connections, reused;
    bool has_delays;
    double delays_p50[4], delays_p90[4]; /* Postfix's delays=a/b/c/d of the sent deliveries */
    char receiver[64];               /* the receiver the event log names ("" without one) */
    bool log_only;                   /* no CPU, no event log: what a log alone says */
} harness_calibrate_result;

/*
 * The estimates from phase (Postfix's defaults) and spawn (the same mail with max_use = 1; NULL
 * without). 0; or -EAGAIN when a phase was throttled (a 4xx reply or a deferral), -ENODATA when it
 * holds no delivery, each with err saying what and where (label names the phase's source).
 */
int harness_calibrate_estimate(const harness_calibrate *phase, const char *label, const harness_calibrate *spawn,
                               const char *spawn_label, harness_calibrate_result *out, char *err, size_t errlen);

/* The scenario lines to paste, each figure with how it was measured and its spread, as comments.
 * source names what was measured (a run directory, a log). */
void harness_calibrate_print(FILE *f, const harness_calibrate_result *r, const char *source);

#endif
