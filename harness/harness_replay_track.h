/*
 * harness_replay_track - a replay's messages, followed through the real Postfix's logs, and the run
 * directory they make.
 *
 * The injector tells this module which message each Postfix instance accepted (host, Postfix's
 * queue id, the generator's id, its arrival in scenario time) and which it could not inject; the
 * log tailer hands it every line of every instance's maillog_file. From the two it keeps each
 * message's records and its live state (queued, delivered, bounced), which the re-send loop and the
 * progress line ask for, and at the end it writes messages.csv and timeseries.csv and builds
 * summary.json, named as a simulated run names them (docs/results.md), so `tempfail compare` puts a
 * replay beside its simulation.
 *
 * Postfix may log a delivery before the injector has read the 250 that carried the queue id, so a
 * line about a queue id nobody claimed yet is kept under (host, queue id) and applied when the
 * injection is reported; lines never claimed (Postfix's own bounce notices, mail that was not the
 * replay's) are counted and left out.
 *
 * Times. The replay runs `speedup` (K) times faster than the scenario; every time given to and
 * written by this module is scenario time. A delivery record is at arrival + delay * K: Postfix's
 * delay= counts from its own arrival, with decimals, while the syslog stamp has whole seconds
 * only. Its delays=a/b/c/d are scaled by K; a is the time from arrival to the pass through the
 * active queue that made the record, so it also tells when that pass began. Lines without a
 * delay (qmgr's "(queue active)" and expiry lines) are placed by their stamp, through each host's
 * clock offset, estimated from the delivery records (docs/replay.md, "From the logs to the run
 * directory").
 */
#ifndef HARNESS_REPLAY_TRACK_H
#define HARNESS_REPLAY_TRACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenarios/scenario.h"
#include "sim/sim_time.h"

typedef struct harness_replay_msg {
    uint64_t id, resend_of;      /* the generator's message id; 0 or the original's id */
    uint32_t resend_no, cls, host, nrcpt, size;
    const char *domain;          /* first recipient's domain (copied) */
    const char *queue_id;        /* Postfix's queue id from the 250 reply (copied) */
    sim_time_t arrival;          /* scenario time (us) when Postfix received it */
} harness_replay_msg;

typedef struct harness_replay_counts {   /* for the progress line */
    uint64_t injected, delivered, bounced, expired, outstanding;  /* messages */
    uint64_t deferrals, suspended, r421;  /* deferral records, of which "suspended", of which a 421 reason */
    uint64_t inject_failed;               /* messages Postfix did not accept */
    uint64_t unclaimed;                   /* lines kept for queue ids not injected (yet) */
} harness_replay_counts;

typedef enum { HARNESS_REPLAY_QUEUED, HARNESS_REPLAY_DELIVERED, HARNESS_REPLAY_BOUNCED } harness_replay_state;

typedef struct harness_replay_track harness_replay_track;

/* s: the scenario replayed (kept, not copied: it outlives the tracker); nhosts >= 1; speedup > 0. */
harness_replay_track *harness_replay_track_create(const scenario *s, uint32_t nhosts, double speedup);
/* Where Postfix's whole seconds (time()) fall: the first this many scenario seconds after the start;
 * summary.json's replay.clock_phase, which the simulation it is compared with takes as its own. */
void harness_replay_track_set_clock_phase(harness_replay_track *t, double seconds);
/* Where each host's deferred-queue scans fell (n = nhosts, scenario seconds, NAN unknown): summary.json's
 * replay.qmgr_start, the simulation's mta.qmgr_start. */
void harness_replay_track_set_qmgr_start(harness_replay_track *t, const double *seconds, uint32_t n);
void harness_replay_track_free(harness_replay_track *t);

/* A message Postfix accepted. 0; -EEXIST when (host, queue_id) is already known; -EINVAL for a
 * host out of range or no queue id. The lines kept for its queue id are applied now. */
int harness_replay_track_injected(harness_replay_track *t, const harness_replay_msg *m);

/*
 * A message whose injection failed (Postfix did not accept it, reply says why, may be NULL). It is
 * counted (summary replay.inject_failed) and not written to messages.csv: the MTA never had it, so
 * it has no queue id, no attempt and no outcome there. Its state is HARNESS_REPLAY_BOUNCED (the
 * user did not get it; the re-send loop may ask again).
 */
void harness_replay_track_inject_failed(harness_replay_track *t, const harness_replay_msg *m, const char *reply);

/*
 * One line of host's maillog (len bytes, with or without its newline). Lines of no interest are
 * skipped; lines about a queue id not injected yet are kept. 0, or -EINVAL with
 * "mta1 maillog line N: ..." in err for a malformed delivery report or a host out of range.
 */
int harness_replay_track_line(harness_replay_track *t, uint32_t host, const char *line, size_t len, char *err,
                              size_t errlen);

/* The message of generator id msg_id: queued (also when unknown), delivered or bounced (expired
 * included; a failed injection too). */
harness_replay_state harness_replay_track_state(const harness_replay_track *t, uint64_t msg_id);
void harness_replay_track_counts(const harness_replay_track *t, harness_replay_counts *c);
/* True when every injected message is delivered, bounced or expired. */
bool harness_replay_track_settled(const harness_replay_track *t);

/*
 * Writes messages.csv and timeseries.csv (the caller opens and closes both) and builds summary.json's
 * object into *summary (the caller owns it). The receivers' columns and figures come from
 * testsmtpd's event log at events_path (NULL: none, the columns are 0); the log's t is at scenario
 * time events_offset + t * events_scale: events_offset is the scenario time at which testsmtpd's
 * clock starts (negative when it started before the replay's 0), and events_scale is the speedup
 * when the log counts real seconds, 1 when testsmtpd's clock already runs K times faster
 * (--clock-rate K, as a replay starts it). end
 * is the scenario time the replay stopped. Samples every sample_every of the scenario from 0 to end.
 * 0, or -EINVAL (the event log is bad: err names its line), or the -errno of a read or write.
 */
int harness_replay_track_write(harness_replay_track *t, FILE *messages_csv, FILE *timeseries_csv,
                               const char *events_path, sim_time_t events_offset, double events_scale, sim_time_t end,
                               json_t **summary,
                               char *err, size_t errlen);

#endif
