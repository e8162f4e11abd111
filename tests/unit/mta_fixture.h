/*
 * mta_fixture - a Postfix host on its own, for the unit tests of models/mta*.c: the receivers and the
 * MTA configuration come from a small scenario text, but no world and no traffic generator stand
 * around the host, so a test submits exactly the messages it means, runs the calendar, and reads
 * every attempt and message record the host reported. The host's internals (mta_impl.h) are open to
 * the tests that need to see a destination's window or a transport's busy agents.
 */
#ifndef MTA_FIXTURE_H
#define MTA_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "models/mta_impl.h"
#include "scenarios/scenario.h"
#include "sim/sim_calendar.h"

#define FX_MAX 4096

typedef struct fx_attempt {
    sim_time_t when;
    char process[16], rcpt[128], relay[128], reason[64], destination[128], dsn[16], reply[512];
    uint32_t pid, conn_use;
    mta_status status;
} fx_attempt;

typedef struct fx_message {
    uint64_t id;
    sim_time_t done;
    mta_outcome outcome;
    uint32_t attempts;
} fx_message;

typedef struct fx_window {
    sim_time_t when;
    char cause[16];
    int32_t old_window, new_window;
    uint32_t busy, todo;
} fx_window;

typedef struct fx {
    scenario *s;
    sim_calendar *cal;
    receiver **rcv;
    size_t nrcv;
    char *domains[64];
    receiver *domain_rcv[64];
    size_t ndomains;
    mta_env env;
    mta_host *h;
    fx_attempt *att;
    size_t natt;
    fx_message msg[256];
    size_t nmsg;
    fx_window win[256]; /* the scheduler trace */
    size_t nwin;
    uint64_t next_id;
} fx;

static void fx_on_attempt(void *ctx, const mta_attempt_record *r)
{
    fx *f = ctx;
    assert_true(f->natt < FX_MAX);
    fx_attempt *a = &f->att[f->natt++];
    a->when = r->when;
    snprintf(a->process, sizeof(a->process), "%s", r->process);
    snprintf(a->rcpt, sizeof(a->rcpt), "%s", r->rcpt);
    snprintf(a->relay, sizeof(a->relay), "%s", r->relay);
    snprintf(a->reason, sizeof(a->reason), "%s", r->reason_key);
    snprintf(a->destination, sizeof(a->destination), "%s", r->destination);
    snprintf(a->dsn, sizeof(a->dsn), "%s", r->dsn);
    snprintf(a->reply, sizeof(a->reply), "%s", r->reply ? r->reply : "");
    a->pid = r->pid;
    a->conn_use = r->conn_use;
    a->status = r->status;
}

static void fx_on_message(void *ctx, const mta_message_record *r, uint64_t tag)
{
    (void)tag;
    fx *f = ctx;
    assert_true(f->nmsg < 256);
    f->msg[f->nmsg++] = (fx_message){.id = r->msg_id, .done = r->done, .outcome = r->outcome,
                                     .attempts = r->attempts};
}

static void fx_on_window(void *ctx, const mta_window_record *r)
{
    fx *f = ctx;
    if (f->nwin == sizeof(f->win) / sizeof(f->win[0]))
        return;
    fx_window *w = &f->win[f->nwin++];
    *w = (fx_window){.when = r->when, .old_window = r->old_window, .new_window = r->new_window, .busy = r->busy,
                     .todo = r->todo};
    snprintf(w->cause, sizeof(w->cause), "%s", r->cause);
}

/* The scenario text needs only `receivers:` and an `mta:` block; a traffic class is added. The host
 * driven is the scenario's host number `host` (0 for the first). */
static void fx_init_host(fx *f, const char *yaml, uint32_t host)
{
    memset(f, 0, sizeof(*f));
    static const char head[] = "name: fx\nduration: 1h\ntraffic:\n  classes:\n"
                               "    - { name: t, arrivals: { process: poisson, rate: 1/d }, domains: { a.test: 1 } }\n";
    size_t n = strlen(head) + strlen(yaml) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%s%s", head, yaml);
    scenario_error err;
    f->s = scenario_load_text(text, strlen(text), "fx.yaml", NULL, 0, &err);
    free(text);
    if (!f->s)
        fail_msg("%s", err.message);
    f->cal = sim_calendar_create(64);
    f->nrcv = f->s->nreceivers;
    f->rcv = calloc(f->nrcv, sizeof(*f->rcv));
    for (size_t i = 0; i < f->nrcv; i++) {
        char e[256];
        f->rcv[i] = receiver_create(&f->s->receivers[i], (uint32_t)i, f->s->seed, 0, e, sizeof(e));
        if (!f->rcv[i])
            fail_msg("%s", e);
        for (size_t k = 0; k < f->s->receivers[i].ndomains; k++) {
            assert_true(f->ndomains < 64);
            f->domain_rcv[f->ndomains] = f->rcv[i];
            f->domains[f->ndomains++] = f->s->receivers[i].domains[k];
        }
    }
    f->att = calloc(FX_MAX, sizeof(*f->att));
    f->env = (mta_env){.cal = f->cal, .cfg = &f->s->mta, .traffic = &f->s->traffic,
                       .domains = (const char *const *)f->domains, .domain_rcv = f->domain_rcv,
                       .ndomains = f->ndomains, .seed = f->s->seed, .ctx = f, .attempt = fx_on_attempt,
                       .attempt_text = true, .message_done = fx_on_message, .window = fx_on_window};
    f->h = mta_host_create(&f->env, host, "192.0.2.1");
    f->next_id = 1;
}

static void fx_init(fx *f, const char *yaml) { fx_init_host(f, yaml, 0); }

static void fx_free(fx *f)
{
    sim_calendar_free(f->cal); /* first: it marks the owners' pending events idle */
    mta_host_free(f->h);
    for (size_t i = 0; i < f->nrcv; i++)
        receiver_free(f->rcv[i]);
    free(f->rcv);
    free(f->att);
    scenario_free(f->s);
}

static uint16_t fx_domain(const fx *f, const char *name)
{
    for (size_t i = 0; i < f->ndomains; i++)
        if (strcmp(f->domains[i], name) == 0)
            return (uint16_t)i;
    fail_msg("no receiver owns %s", name);
    return 0;
}

/* Submits a message now to the recipients' domains (a NULL-terminated list); returns its id. */
static uint64_t fx_submit(fx *f, const char *const *rcpt_domains)
{
    uint16_t dom[64];
    uint32_t n = 0;
    for (; rcpt_domains[n]; n++)
        dom[n] = fx_domain(f, rcpt_domains[n]);
    traffic_msg m = {.id = f->next_id++, .cls = 0, .arrival = sim_calendar_now(f->cal), .size = 4096, .nrcpt = n,
                     .rcpt_domain = dom};
    mta_host_submit(f->h, &m, dom, m.id, sim_calendar_now(f->cal));
    return m.id;
}

static void fx_run_until(fx *f, sim_time_t t) { sim_calendar_run_until(f->cal, t); }

/* Lets what is due now happen: agents asked for now (with no process to start) become ready and
 * take their entries. */
static inline void fx_settle(fx *f) { sim_calendar_run_until(f->cal, sim_calendar_now(f->cal)); }

/* Attempts of a process ("smtp", "retry", "qmgr") and, when reason is not NULL, of that reason key. */
static size_t fx_count(const fx *f, const char *process, const char *reason)
{
    size_t n = 0;
    for (size_t i = 0; i < f->natt; i++)
        if (strcmp(f->att[i].process, process) == 0 && (!reason || strcmp(f->att[i].reason, reason) == 0))
            n++;
    return n;
}

static mta_dest *fx_dest(const fx *f, const char *name)
{
    for (size_t i = 0; i < f->h->ndests; i++)
        if (strcmp(f->h->dests[i]->name, name) == 0)
            return f->h->dests[i];
    fail_msg("no destination %s", name);
    return NULL;
}

#endif
