/*
 * harness_maillog_scenario - a starting scenario from a Postfix log (`tempfail maillog --scenario`).
 *
 * From last week's incident log to a simulation in one command: the log says when mail arrived,
 * how big it was, where it went and who throttled it, and those are the parts of a scenario an
 * operator would otherwise type in by hand. What a log cannot say (a receiver's limits, its
 * round-trip time, the MTA's main.cf) is left to the operator, with what the log does say about it
 * written beside as comments.
 *
 * - Arrivals: a message's arrival is its first line's time minus that line's delay= (Postfix counts
 *   delay from arrival), or qmgr's "queue active" time when earlier; so a log without qmgr lines
 *   (tempfail's own, a grep for to=) still gives arrivals. They become one traffic class with a
 *   schedule: one step per hour from the first arrival, each at the rate observed in its hour.
 *   Messages are told apart per host and queue id.
 * - Size: from qmgr's size= when the log has it (a lognormal through the median and p99, or a
 *   constant when those are equal); the loader's default otherwise.
 * - Domains: each message's first recipient's domain, weighted by messages.
 * - Receivers: one per domain that deferred mail, with the MX hosts of its relays, and its reply
 *   texts (with counts and reason keys) as comments to turn into policy rules.
 *
 * The scenario runs `until: drained` from the log's first arrival (`start:`), so simulated times
 * read like the log's.
 */
#ifndef HARNESS_MAILLOG_SCENARIO_H
#define HARNESS_MAILLOG_SCENARIO_H

#include <stdio.h>

#include "harness/harness_maillog.h"

typedef struct harness_maillog_scenario harness_maillog_scenario;

harness_maillog_scenario *harness_maillog_scenario_create(void);
void harness_maillog_scenario_free(harness_maillog_scenario *sc);

/* Takes one record in (any kind); fits harness_maillog_stats's observe callback. */
void harness_maillog_scenario_observe(void *sc, const harness_maillog_rec *r);

/* Messages seen so far. */
size_t harness_maillog_scenario_messages(const harness_maillog_scenario *sc);

/* Writes the scenario as YAML, named name; source (the log files) goes in the description.
 * 0, -EINVAL when no message was seen, or the stream's -errno. */
int harness_maillog_scenario_write(const harness_maillog_scenario *sc, FILE *f, const char *name,
                                   const char *source);

#endif
