/*
 * apppool - how web applications often send: a pool of N workers, each taking the next message and
 * delivering it over its own connection, retrying a failed message after a fixed delay (with optional
 * jitter). No per-destination scheduler, no feedback, no dead destinations: the comparison that shows
 * what Postfix's scheduler buys (or costs) against a throttling receiver.
 */
#ifndef APPPOOL_H
#define APPPOOL_H

#include "models/mta.h"

typedef struct apppool apppool;

apppool *apppool_create(const mta_env *env, const char *src_ip);
void apppool_submit(apppool *a, const traffic_msg *m, const uint16_t *domains, uint64_t tag, sim_time_t now);
/* waiting: queued for a worker; busy: being delivered; retry: waiting out the retry delay. */
void apppool_queue_sizes(const apppool *a, uint64_t *waiting, uint64_t *busy, uint64_t *retry);
sim_time_t apppool_oldest(const apppool *a);
uint64_t apppool_sessions(const apppool *a, uint64_t *cached);
void apppool_finish(apppool *a, sim_time_t now);
void apppool_free(apppool *a);

#endif
