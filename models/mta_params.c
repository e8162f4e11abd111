/*
 * mta_params - Postfix's defaults (global/mail_params.h, postfix-model.md section 1) and the
 * concurrency feedback forms of qmgr_feedback.c.
 */
#include "models/mta_params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mta_transport_params_defaults(mta_transport_params *p)
{
    memset(p, 0, sizeof(*p));
    p->maxproc = 100;
    p->initial_destination_concurrency = 5;
    p->destination_concurrency_limit = 20;
    p->positive_feedback = (mta_feedback){MTA_FEEDBACK_CONSTANT, 1.0};
    p->negative_feedback = (mta_feedback){MTA_FEEDBACK_CONSTANT, 1.0};
    p->failed_cohort_limit = 1;
    p->destination_recipient_limit = 50;
    p->connection_cache_on_demand = true;
    p->connection_cache_time_limit = 2 * SIM_SEC;
    p->connection_reuse_time_limit = 300 * SIM_SEC;
    p->mx_address_limit = 5;
    p->mx_session_limit = 2;
    p->connect_timeout = 30 * SIM_SEC;
    p->helo_timeout = 300 * SIM_SEC;
    p->mail_timeout = 300 * SIM_SEC;
    p->rcpt_timeout = 300 * SIM_SEC;
    p->data_init_timeout = 120 * SIM_SEC;
    p->data_xfer_timeout = 180 * SIM_SEC;
    p->data_done_timeout = 600 * SIM_SEC;
    p->rset_timeout = 20 * SIM_SEC;
    p->quit_timeout = 300 * SIM_SEC;
    p->tls = true;
}

/* qmgr_transport_create: "if (transport->rate_delay > 0) transport->dest_concurrency_limit = 1", and
 * the initial window never exceeds the limit (nor falls below one delivery). */
uint32_t mta_transport_concurrency_limit(const mta_transport_params *p)
{
    return p->destination_rate_delay > 0 ? 1 : p->destination_concurrency_limit;
}

uint32_t mta_transport_initial_concurrency(const mta_transport_params *p)
{
    uint32_t init = p->initial_destination_concurrency, limit = mta_transport_concurrency_limit(p);
    if (limit > 0 && init > limit)
        init = limit;
    return init < 1 ? 1 : init;
}

void mta_transport_params_resolve(mta_transport_params *p)
{
    uint32_t init = mta_transport_initial_concurrency(p);
    p->destination_concurrency_limit = mta_transport_concurrency_limit(p);
    if (p->initial_destination_concurrency > init) /* the loader's floor of 1 is its own check */
        p->initial_destination_concurrency = init;
}

void mta_config_defaults(mta_config *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = MTA_KIND_POSTFIX;
    c->hosts = 1;
    c->queue_run_delay = 300 * SIM_SEC;
    c->minimal_backoff_time = 300 * SIM_SEC;
    c->maximal_backoff_time = 4000 * SIM_SEC;
    c->maximal_queue_lifetime = 5 * SIM_DAY;
    c->bounce_queue_lifetime = 5 * SIM_DAY;
    c->qmgr_message_active_limit = 20000;
    c->qmgr_message_recipient_limit = 20000;
    c->max_use = 100;
    c->max_idle = 100 * SIM_SEC;
    c->apppool = (mta_apppool_config){.workers = 10, .retry_delay = 60 * SIM_SEC, .jitter = 0, .max_attempts = 0,
                                      .reuse = false};
    c->latency.dns_mx = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.tls_round_trips = 2;
    c->latency.tls_cpu = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_per_delivery = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_per_message = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_process_start = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.disk_fsync = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.disk_writes_per_message = 1;
    c->latency.disk_writes_per_delivery = 1;
}

int mta_feedback_parse(const char *s, mta_feedback *out)
{
    char *end;
    errno = 0;
    double num = strtod(s, &end);
    if (end == s || errno || !isfinite(num) || num < 0)
        return -EINVAL;
    while (*end == ' ')
        end++;
    if (*end == 0) {
        if (num > 1)
            return -EINVAL;
        *out = (mta_feedback){MTA_FEEDBACK_CONSTANT, num};
        return 0;
    }
    if (*end++ != '/')
        return -EINVAL;
    while (*end == ' ')
        end++;
    if (strcmp(end, "concurrency") == 0) {
        *out = (mta_feedback){MTA_FEEDBACK_CONCURRENCY, num};
        return 0;
    }
    if (strcmp(end, "sqrt_concurrency") == 0) {
        *out = (mta_feedback){MTA_FEEDBACK_SQRT_CONCURRENCY, num};
        return 0;
    }
    char *end2;
    double den = strtod(end, &end2);
    if (end2 == end || *end2 != 0 || !(den > 0) || num / den > 1)
        return -EINVAL;
    *out = (mta_feedback){MTA_FEEDBACK_CONSTANT, num / den};
    return 0;
}

double mta_feedback_value(const mta_feedback *f, uint32_t window)
{
    double w = window > 0 ? (double)window : 1.0;
    double v;
    switch (f->kind) {
    case MTA_FEEDBACK_CONCURRENCY:
        v = f->value / w;
        break;
    case MTA_FEEDBACK_SQRT_CONCURRENCY:
        v = f->value / sqrt(w);
        break;
    default:
        v = f->value;
    }
    /* qmgr_feedback.c clamps the result to [0, 1]. */
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

int mta_feedback_format(const mta_feedback *f, char *buf, size_t len)
{
    switch (f->kind) {
    case MTA_FEEDBACK_CONCURRENCY:
        return snprintf(buf, len, "%g/concurrency", f->value);
    case MTA_FEEDBACK_SQRT_CONCURRENCY:
        return snprintf(buf, len, "%g/sqrt_concurrency", f->value);
    default:
        return snprintf(buf, len, "%g", f->value);
    }
}
