/*
 * results_manifest - manifest.json: what produced this run directory, and how long it took.
 *
 * Everything needed to reproduce or question a run: the tempfail version and the versions of the
 * libraries that shape its numbers (GSL's generators and distributions above all), the seed and
 * replication, where the scenario came from and the scenario as resolved, and the outcome of its
 * `expect:` block. It is the only file of a run that holds wall-clock figures (wall time, events
 * per second, peak RSS), so it is the one file two runs with the same seed may differ in.
 *
 *   {
 *     "events": 123456, "events_per_second": 2519510.204082, "wall_time": 0.049,
 *     "expect": { "assertions": 2, "failed": 0, "status": "pass" },
 *     "peak_rss": 10485760,                       (bytes; only when measured)
 *     "replication": 0, "seed": 42,
 *     "scenario": { "name": "...", "source": "file.yaml", "resolved": { ... } },
 *     "versions": { "gsl": "2.7.1", "jansson": "2.14", "libyaml": "0.2.5", "tempfail": "0.1.0" }
 *   }
 */
#ifndef RESULTS_MANIFEST_H
#define RESULTS_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct results_manifest_info {
    const char *scenario_name;
    const char *scenario_source;  /* file name, or "<built-in default>" */
    const json_t *scenario;       /* the resolved scenario (borrowed); NULL: omitted */
    uint64_t seed;
    uint32_t replication;
    double wall_time;             /* seconds the run took */
    uint64_t events;              /* simulation events executed */
    uint64_t peak_rss;            /* bytes; 0: not measured, omitted */
    size_t expect_total;          /* assertions in `expect:` (0: status "none") */
    size_t expect_failed;         /* of which failed or could not be evaluated */
} results_manifest_info;

/* The manifest as a tree (a new reference), NULL if out of memory. */
json_t *results_manifest_build(const results_manifest_info *m);
/* Builds and writes it (results_json format). 0 or -errno. */
int results_manifest_write(FILE *f, const results_manifest_info *m);

#endif
