/*
 * mta_queue - one per-destination queue of the Postfix scheduler: the concurrency window and its
 * feedback (qmgr_queue.c, qmgr_feedback.c; postfix-model.md section 2).
 *
 * A destination is (transport, nexthop). Entries (delivery requests) wait on the queue's todo list and
 * are handed to delivery agents while window > busy. Each finished entry feeds back: positive when the
 * agent reported no hop status (delivered, or recipients deferred by the server), negative when it did
 * (the site failed: connect, greeting, EHLO, lost connection at the final MX). Negative feedback shrinks
 * the window; a cohort of failures (fail_cohorts >= failed_cohort_limit) makes the destination dead
 * (window 0) for minimal_backoff_time, during which its mail is deferred without a connection.
 *
 * This file is the arithmetic only, exactly as Postfix does it, so it can be tested against the
 * trajectories in postfix-model.md; mta_dest.c owns the lists, the dead timer and the dispatching.
 */
#ifndef MTA_QUEUE_H
#define MTA_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "models/mta_params.h"

typedef struct mta_queue_window {
    int32_t window;       /* > 0 ready, 0 dead (throttled) */
    double success;       /* positive feedback accumulator */
    double failure;       /* negative feedback accumulator */
    double fail_cohorts;  /* cohorts of failures since the last success */
    uint32_t busy;        /* entries in delivery (including the one being reported) */
} mta_queue_window;

/* A new queue: window = min(initial concurrency, limit) (qmgr_transport_create clamps it). */
void mta_queue_window_init(mta_queue_window *w, const mta_transport_params *p);
/* Positive feedback (qmgr_queue_unthrottle). Revives a dead queue: window = busy > 0 ? busy : initial. */
void mta_queue_unthrottle(mta_queue_window *w, const mta_transport_params *p);
/* Negative feedback (qmgr_queue_throttle). Returns true when this made the queue dead. */
bool mta_queue_throttle(mta_queue_window *w, const mta_transport_params *p);
static inline bool mta_queue_dead(const mta_queue_window *w) { return w->window == 0; }

#endif
