/*
 * mta_params - Postfix's defaults (global/mail_params.h, postfix-model.md section 1) and the
 * concurrency feedback values of qmgr_feedback.c.
 *
 * Feedback is parsed the way Postfix 3.7's qmgr_feedback_init parses it, with the same sscanf()
 * formats, because operators copy tuning recipes that Postfix itself reads otherwise than they look.
 * sscanf(value, "%lf %1[/] %30s%c") decides the form:
 *
 *   1 conversion:  a number (strtod's syntax, leading blanks skipped) and no '/' after it. Whatever
 *                  else follows is ignored: "0.5 ", "1x" and "1 concurrency" are 0.5, 1 and 1.
 *   3 conversions: number '/' word, blanks allowed around the '/', the word at most 30 characters
 *                  with nothing after it, not even a blank. The word is "concurrency" in any case
 *                  (name_code without NAME_CODE_FLAG_STRICT_CASE), giving number/window; or a
 *                  number alone (sscanf "%lf%c" == 1) in [1/INT_MAX, INT_MAX], under a numerator
 *                  in [0, INT_MAX], giving their quotient ("2/4" is 0.5).
 *   otherwise:     an error ("", "abc", "1/", "1/0", "1/concurrencyx", "1/8 ", "1/2/3").
 *
 * Then the result - the number, the number over "concurrency", or the quotient - must lie in [0, 1]
 * ("2", "2/concurrency" and "1/0.5" fail; "0.5/2" is 0.25). On an error Postfix logs "warning:
 * <parameter>: ignoring malformed or unreasonable feedback: <value>" and uses 1. That includes
 * "1/sqrt_concurrency": the name is in the table only #ifdef QMGR_FEEDBACK_IDX_SQRT_WIN, which qmgr.h
 * has kept under #if 0 since 2007 (HISTORY 20071207), so a Postfix 3.7 told to use inverse square
 * root feedback runs with +1/-1.
 */
#include "models/mta_params.h"
#include "sim/sim_random.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
    c->clock_tick = SIM_SEC;
    c->apppool = (mta_apppool_config){.workers = 10, .retry_delay = 60 * SIM_SEC, .jitter = 0, .max_attempts = 0,
                                      .reuse = false};
    c->latency.dns_mx = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.tls_round_trips = 2;
    c->latency.tls_cpu = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_per_delivery = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_per_message = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_process_start = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_wakeup = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.cpu_wakeup_after = 100 * SIM_MSEC;
    c->latency.disk_fsync = (sim_dist){.kind = SIM_DIST_CONSTANT};
    c->latency.disk_writes_per_message = 1;
    c->latency.disk_writes_per_delivery = 1;
}

/* qmgr_feedback.c INCLUSIVE_BOUNDS: false for NaN. */
static bool mta_feedback_within(double val, double low, double high) { return val >= low && val <= high; }

sim_time_t mta_postfix_second(const mta_config *c, sim_time_t t)
{
    sim_time_t tick = c->clock_tick, x = t - c->clock_phase;
    sim_time_t n = x >= 0 ? x / tick : -((-x + tick - 1) / tick);
    return n * tick + c->clock_phase;
}

sim_time_t mta_qmgr_start(const mta_config *c, uint32_t host, uint64_t seed, uint32_t replication)
{
    if (c->qmgr_start && host < c->nqmgr_start)
        return c->qmgr_start[host];
    sim_time_t tick = c->clock_tick > 0 ? c->clock_tick : SIM_SEC;
    uint64_t seconds = (uint64_t)(c->queue_run_delay / tick);
    if (host == 0 || seconds < 2)
        return 0;
    char stream[32];
    snprintf(stream, sizeof(stream), "host/%u/qmgr", host);
    return (sim_time_t)(sim_random_mix(seed, replication, stream) % seconds) * tick;
}

int mta_feedback_parse(const char *s, mta_feedback *out)
{
    double enum_val, denom_val;
    char denom_str[30 + 1], slash[1 + 1], junk;
    mta_feedback f = {MTA_FEEDBACK_CONSTANT, -1}; /* assume error */

    switch (sscanf(s, "%lf %1[/] %30s%c", &enum_val, slash, denom_str, &junk)) {
    case 1:
        f.value = enum_val;
        break;
    case 3:
        if (strcasecmp(denom_str, "concurrency") == 0)
            f = (mta_feedback){MTA_FEEDBACK_CONCURRENCY, enum_val};
        else if (mta_feedback_within(enum_val, 0, INT_MAX) && sscanf(denom_str, "%lf%c", &denom_val, &junk) == 1 &&
                 mta_feedback_within(denom_val, 1.0 / INT_MAX, INT_MAX))
            f.value = enum_val / denom_val;
        break;
    }
    if (!mta_feedback_within(f.value, 0, 1)) {
        *out = (mta_feedback){MTA_FEEDBACK_CONSTANT, 1};
        return -EINVAL;
    }
    *out = f;
    return 0;
}

/* Postfix clamps nothing here: the value is in [0, 1] and a ready queue's window is at least 1. */
double mta_feedback_value(const mta_feedback *f, uint32_t window)
{
    return f->kind == MTA_FEEDBACK_CONSTANT ? f->value : f->value / window;
}

int mta_feedback_format(const mta_feedback *f, char *buf, size_t len)
{
    switch (f->kind) {
    case MTA_FEEDBACK_CONCURRENCY:
        return snprintf(buf, len, "%g/concurrency", f->value);
    default:
        return snprintf(buf, len, "%g", f->value);
    }
}
