/*
 * harness_replay_track_impl - the tracker's state, shared by its two files: harness_replay_track.c
 * follows the messages live (injections, log lines, states), harness_replay_out.c turns what it
 * kept into the run directory's files at the end. Nothing else includes this.
 */
#ifndef HARNESS_REPLAY_TRACK_IMPL_H
#define HARNESS_REPLAY_TRACK_IMPL_H

#include "harness/harness_maillog.h"
#include "harness/harness_replay_track.h"

/* One maillog record of interest kept for a message, in the order of its host's log. */
typedef struct harness_replay_rec {
    harness_maillog_kind kind;
    harness_maillog_status status;  /* deliveries */
    bool has_delays;
    int64_t stamp;                  /* the syslog stamp, microseconds (a host's clock, not scenario time) */
    double delay, delays[4];        /* real seconds, as logged */
    const char *reason;             /* harness_maillog's reason key (a static string) */
    char *rcpt;                     /* deliveries: the recipient (owned) */
} harness_replay_rec;

/* A message: injected (claimed), or only lines so far under a queue id nobody claimed. */
typedef struct harness_replay_entry {
    harness_replay_msg m;           /* domain and queue_id owned */
    bool claimed;
    harness_replay_rec *rec;
    size_t nrec, caprec;
    /* live state, from the records applied so far (claimed entries) */
    char **final;                   /* recipients with a final record: a set, fcap slots (a power of
                                       two, open addressing), so that a message of thousands of
                                       recipients costs no more per line than one of a few */
    uint32_t nfinal, fcap;
    uint32_t attempts;              /* passes through the active queue with a record */
    bool seen_active, pass_has_record;
    bool any_bounced, expired, removed;
    harness_replay_state state;
} harness_replay_entry;

struct harness_replay_track {
    const scenario *s;
    uint32_t nhosts;
    double speedup;
    double clock_phase;             /* scenario seconds from the start to Postfix's next whole second */
    double *qmgr_start;             /* per host: where its deferred-queue scans fell; NULL unknown */
    harness_replay_entry *e;        /* every entry, in first-seen order */
    size_t n, cap;
    size_t *qslot, nqslot;          /* (host, queue id) -> entry index + 1 (open addressing) */
    struct harness_replay_idslot {
        uint64_t id;
        size_t v;                   /* entry index + 1; 0 empty; HARNESS_REPLAY_FAILED a failed injection */
    } *islot;
    size_t nislot, nids;
    uint64_t *lineno;               /* per host */
    int *year;                      /* per host: the year of its syslog stamps */
    int64_t *last_stamp;            /* per host, seconds */
    harness_replay_counts c;
    uint64_t unclaimed_lines;       /* records kept under queue ids not (yet) injected */
};

#define HARNESS_REPLAY_FAILED ((size_t)-1)

#endif
