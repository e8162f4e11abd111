/*
 * scenario - a whole scenario: what the YAML file says, after the loader has checked it, converted
 * its units, applied --set overrides and filled in Postfix's defaults.
 *
 * The loader (scenario_load.c) turns YAML into the models' config structs. Every error names
 * file:line:column and the key, suggests the nearest valid key for a misspelling, and leaves nothing
 * half-built: on error the caller gets NULL and a message, and exits 2.
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/mta_params.h"
#include "models/receiver.h"
#include "models/traffic.h"
#include "sim/sim_time.h"

typedef enum { EXPECT_LT, EXPECT_LE, EXPECT_GT, EXPECT_GE, EXPECT_EQ, EXPECT_NE } scenario_expect_op;

/* One `expect:` assertion, e.g. "transactional.latency.p95 < 60s". */
typedef struct scenario_expect {
    char *text;             /* as written */
    char *metric;           /* "transactional.latency.p95" */
    scenario_expect_op op;
    double value;           /* in the metric's base unit: seconds, bytes, count */
    int line, column;       /* where it was written (for messages); 0, 0 when it came from a --set */
} scenario_expect;

typedef struct scenario {
    char *name;
    char *description;
    char *source;            /* file name, or "<built-in default>" */
    uint64_t seed;
    uint32_t replication;    /* 0 for the first; mixes into every stream */
    sim_time_t duration;     /* arrivals stop at the horizon; the run stops there unless until_drained */
    bool until_drained;      /* `until: drained`: run until the queues are empty ... */
    sim_time_t drain_cap;    /* ... but no longer than this (default 30d) */
    sim_time_t warmup;       /* statistics before this are discarded (default 0) */
    sim_time_t sample_every; /* time-series interval (default 10s) */
    traffic_config traffic;
    mta_config mta;
    receiver_config *receivers;
    size_t nreceivers;       /* a final implicit "default" receiver (accept-all) owns unclaimed domains */
    scenario_expect *expect;
    size_t nexpect;
    char *resolved_yaml;     /* the document after --set overrides, re-emitted (for the run directory) */
    int64_t start;           /* `start:` the wall-clock time simulated time 0 stands for in the maillog,
                                Unix seconds UTC (default 2026-01-01 00:00:00 = 1767225600) */
    struct scenario_sweep *sweep; /* the `sweep:` block (scenario_sweep.h), NULL when there is none; only
                                     `tempfail sweep` and `tune` read it, a run ignores it */
    struct scenario_fixes *fixes; /* the `fixes:` block (scenario_fixes.h), NULL when there is none; only
                                     `tempfail incident` reads it */
    char **warnings;         /* "file:line:col: key: ..." for what the loader accepted but ignores
                                (main.cf parameters the model does not use, ...); the CLI prints them */
    size_t nwarnings;
} scenario;

/* Error from the loader; message is "file:line:col: key: what is wrong (did you mean 'x'?)". */
/* The scenario library's directory: $TEMPFAIL_LIBRARY; else, for a program in the build directory,
 * the source tree's scenarios/, for an installed one PREFIX/share/tempfail/scenarios. `use:` finds
 * presets in its presets/ (scenario_use.c). */
const char *scenario_library_dir(void);

typedef struct scenario_error {
    char message[1024];
} scenario_error;

/*
 * Loads a scenario from a file (path) or from text (name used in messages). sets are "path=value"
 * overrides ("mta.postfix.default_destination_concurrency_limit=10", "receivers.orange.policy[0].limit=5",
 * "seed=7"), applied to the YAML tree before conversion so they are checked like the file.
 * Returns NULL on error and fills err (err may be NULL). Data files a scenario names (empirical
 * distributions, arrival traces) are relative to the scenario file's directory; for
 * scenario_load_text and the built-in default, to the current directory. docs/scenario.md is the
 * reference of keys, units and messages.
 */
scenario *scenario_load_file(const char *path, const char *const *sets, size_t nsets, scenario_error *err);
scenario *scenario_load_text(const char *text, size_t len, const char *name,
                             const char *const *sets, size_t nsets, scenario_error *err);
/* The built-in default scenario (scenarios/presets/default.yaml compiled in). */
scenario *scenario_load_default(const char *const *sets, size_t nsets, scenario_error *err);
void scenario_free(scenario *s);

/*
 * testsmtpd's needs (scenario_policy_text.c). scenario_load_receivers_file loads a whole scenario, or a
 * file holding only `receivers:` (name:, description: and seed: are allowed beside it): such a file
 * gets no traffic, no mta and no expect, and its name defaults to the file name.
 */
scenario *scenario_load_receivers_file(const char *path, scenario_error *err);
/*
 * A policy list as a scenario's `policy:` says it ("- {rule: concurrency_per_ip, limit: 3}"), from
 * text (PUT /policy). preset and hostname (may be NULL: "postfix", "mx.test") are copied into out; an
 * empty text is an empty policy. Returns 0, or -EINVAL with err "name:line:col: policy[0].limit: ..."
 * and out left empty. The result is checked by policy_create as the loader checks a scenario's.
 * Free with scenario_policy_free.
 */
int scenario_parse_policy(const char *text, size_t len, const char *name, const char *preset, const char *hostname,
                          policy_config *out, scenario_error *err);
void scenario_policy_free(policy_config *pc);

/* The receiver owning a domain (index), or the implicit default one (nreceivers - 1). */
size_t scenario_receiver_for_domain(const scenario *s, const char *domain);

/* Unit parsers, shared with testsmtpd and the CLI: return 0, -EINVAL (not the syntax), -EDOM (a
 * number in exponent notation, 1e12, which is not accepted: a number is written out) or -ERANGE (above
 * the largest the model takes: the bounds below, each far beyond any real mail system). */
#define SCENARIO_MAX_DURATION_DAYS 36500.0 /* 100 years: the calendar's int64 arithmetic stays exact */
#define SCENARIO_MAX_SIZE 17179869184.0    /* 16 GiB */
#define SCENARIO_MAX_RATE 1000000.0        /* a million a second */
#define SCENARIO_MAX_BANDWIDTH 1.25e12     /* 10 Tbit/s, in bytes a second */
int scenario_parse_duration(const char *s, sim_time_t *out);   /* "300s" "5m" "2h" "5d" "20ms" "1.5s" "0" */
int scenario_parse_size(const char *s, double *out);           /* "4KB" "1.5MB" "512" "10kB" (K = 1024, see docs) */
int scenario_parse_rate(const char *s, double *per_second);    /* "20/s" "1000/h" "5/m" "100/d" */
/* "yes" "no" "true" "false" (any case), as Postfix writes booleans. */
int scenario_parse_bool(const char *s, bool *out);
/* "0.4" or "40%", within [0, 1]. */
int scenario_parse_probability(const char *s, double *out);
/* "100Mbit/s" "1Gbps" (bits: decimal) "12.5MB/s" (bytes: K = 1024) "500000" (bytes/s) -> bytes/s. */
int scenario_parse_bandwidth(const char *s, double *bytes_per_second);
/* A figure's value as expect: lines write it: a plain number, a duration, a size, a rate or a
 * percentage, in the figure's base unit (seconds, bytes, per second, a share). */
int scenario_parse_metric_value(const char *s, double *out);

/*
 * expect: lines. scenario_expect_parse reads "METRIC OP VALUE" (VALUE a number, a duration, a size, a
 * rate or a percentage, converted to the base unit) into out, whose strings it allocates; on error it
 * returns -EINVAL and writes the reason into err. Evaluation against a run is results/' business.
 */
int scenario_expect_parse(const char *text, scenario_expect *out, char *err, size_t errlen);
void scenario_expect_clear(scenario_expect *e);
const char *scenario_expect_op_name(scenario_expect_op op);   /* "<", "<=", ... */

/*
 * The resolved scenario as JSON for the run manifest: every field, defaults filled in, times in
 * seconds, sizes in bytes, rates per second. The caller owns the reference.
 */
struct json_t; /* jansson's json_t */
struct json_t *scenario_to_json(const scenario *s);

#endif
