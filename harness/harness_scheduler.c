/*
 * harness_scheduler - Postfix's qmgr feedback debug lines as scheduler.csv rows (harness_scheduler.h).
 */
#include "harness/harness_scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_mem.h"

typedef struct sched_queue {
    uint32_t host;
    char name[256];
    int32_t window;
} sched_queue;

struct harness_scheduler {
    results_scheduler *out;
    double origin;
    double scale;
    sched_queue *q; /* the queues seen, with their last window (a few per replay: a linear search) */
    size_t nq, capq;
    uint64_t rows;
};

harness_scheduler *harness_scheduler_create(results_scheduler *out, double origin, double scale)
{
    harness_scheduler *h = sim_xcalloc(1, sizeof(*h));
    h->out = out;
    h->origin = origin;
    h->scale = scale > 0 ? scale : 1;
    return h;
}

void harness_scheduler_free(harness_scheduler *h)
{
    if (!h)
        return;
    free(h->q);
    free(h);
}

static sched_queue *queue_of(harness_scheduler *h, uint32_t host, const char *name)
{
    for (size_t i = 0; i < h->nq; i++)
        if (h->q[i].host == host && strcmp(h->q[i].name, name) == 0)
            return &h->q[i];
    h->q = sim_xgrow(h->q, &h->capq, h->nq + 1, sizeof(*h->q), 8);
    sched_queue *q = &h->q[h->nq++];
    *q = (sched_queue){.host = host, .window = -1};
    snprintf(q->name, sizeof(q->name), "%s", name);
    return q;
}

int harness_scheduler_add(harness_scheduler *h, uint32_t host, const harness_maillog_rec *r)
{
    if (r->kind != HARNESS_MAILLOG_FEEDBACK)
        return 0;
    sched_queue *q = queue_of(h, host, r->relay);
    const char *cause = !r->positive ? "failure" : q->window == 0 ? "revived" : "success";
    double secs = ((double)r->when + r->usec / 1e6 - h->origin) * h->scale;
    mta_window_record w = {.when = (sim_time_t)llround(secs * SIM_SEC),
                           .host = host,
                           .destination = r->relay,
                           .cause = cause,
                           .old_window = q->window,
                           .new_window = r->window,
                           .busy = RESULTS_SCHEDULER_UNKNOWN,
                           .todo = RESULTS_SCHEDULER_UNKNOWN,
                           .success = r->success,
                           .failure = r->failure,
                           .fail_cohorts = r->fail_cohorts};
    q->window = r->window;
    h->rows++;
    return results_scheduler_write(h->out, &w);
}

uint64_t harness_scheduler_rows(const harness_scheduler *h) { return h->rows; }
