/*
 * results_manifest - builds manifest.json.
 *
 * Library versions are asked of the libraries at run time where they can say (GSL's gsl_version,
 * libyaml's yaml_get_version_string), since a shared library upgraded under the binary is exactly
 * what a changed result would need explained; jansson only has its compile-time JANSSON_VERSION.
 */
#include "results/results_manifest.h"

#include <errno.h>
#include <gsl/gsl_version.h>
#include <stdint.h>
#include <yaml.h>

#include "results/results_json.h"

#ifndef TEMPFAIL_VERSION
#define TEMPFAIL_VERSION "unknown"
#endif

/* jansson integers are signed 64-bit; a seed beyond that is kept exact as a decimal string. */
static json_t *u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    return json_string(b);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

json_t *results_manifest_build(const results_manifest_info *m)
{
    json_t *versions = json_pack("{s:s, s:s, s:s, s:s}", "tempfail", TEMPFAIL_VERSION, "gsl", gsl_version,
                                 "libyaml", yaml_get_version_string(), "jansson", JANSSON_VERSION);
    json_t *scenario = json_pack("{s:s, s:s}", "name", or_empty(m->scenario_name), "source",
                                 or_empty(m->scenario_source));
    if (scenario && m->scenario)
        json_object_set(scenario, "resolved", (json_t *)m->scenario);
    const char *status = m->expect_total == 0 ? "none" : m->expect_failed ? "fail" : "pass";
    json_t *expect = json_pack("{s:I, s:I, s:s}", "assertions", (json_int_t)m->expect_total, "failed",
                               (json_int_t)m->expect_failed, "status", status);
    double eps = m->wall_time > 0 ? (double)m->events / m->wall_time : 0.0;
    json_t *root = json_pack("{s:o?, s:o?, s:o?, s:o?, s:I, s:o, s:o, s:o, s:o}", "versions", versions,
                             "scenario", scenario, "expect", expect, "seed", u64(m->seed), "replication",
                             (json_int_t)m->replication, "wall_time", results_json_real(m->wall_time),
                             "events", u64(m->events), "events_per_second",
                             m->wall_time > 0 ? results_json_real(eps) : json_null(), "peak_rss",
                             m->peak_rss ? u64(m->peak_rss) : json_null());
    if (!root || !versions || !scenario || !expect)
        goto oom;
    if (!m->peak_rss)
        json_object_del(root, "peak_rss");
    return root;
oom:
    json_decref(root);
    return NULL;
}

int results_manifest_write(FILE *f, const results_manifest_info *m)
{
    json_t *root = results_manifest_build(m);
    if (!root)
        return -ENOMEM;
    int r = results_json_write(f, root);
    json_decref(root);
    return r;
}
