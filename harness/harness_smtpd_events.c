/*
 * harness_smtpd_events - testsmtpd's event log as the receivers' time-series columns
 * (harness_smtpd_events.h).
 *
 * One pass, line by line: each line is a JSON object (jansson); its t first takes the samples that
 * fell due before it, then the event changes the counts. So a sample is the state after every event
 * at or before its instant, as the simulator's sampler sees every event scheduled before it at the
 * same time.
 *
 * Sessions open are kept in an open-addressing table (linear probing, deletion by backward shift,
 * so no tombstones pile up over a long replay) keyed by session id, holding the receiver and the
 * state; the per-receiver busy/idle figures are counters moved by the events, so a sample costs
 * nothing per session.
 */
#include "harness/harness_smtpd_events.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_mem.h"

/* Where a session's transaction is, for the totals: which reply answers what. */
enum { HARNESS_SMTPD_STAGE_NONE, HARNESS_SMTPD_STAGE_RCPT, HARNESS_SMTPD_STAGE_EOD };

typedef struct harness_smtpd_slot {
    uint64_t id;    /* 0 = empty (testsmtpd numbers sessions from 1) */
    uint32_t rcv;
    uint32_t rcpts; /* recipients accepted in the transaction */
    bool busy;
    bool replied;   /* a reply went out (the first one tells a refused connection) */
    uint8_t stage;
} harness_smtpd_slot;

struct harness_smtpd_events {
    char **names;
    size_t n;
    harness_smtpd_counts *cur; /* busy/idle now, replies since the last sample */
    sim_time_t every, next;    /* next: the next sample instant */
    sim_time_t last_t;
    harness_smtpd_sample_fn fn;
    void *ctx;
    uint64_t lineno;
    harness_smtpd_slot *slot;
    size_t nslot, nopen; /* nslot: a power of two */
    sim_time_t offset;   /* the clock: offset + t * scale */
    double scale;
    harness_smtpd_totals *tot;
};

harness_smtpd_events *harness_smtpd_events_create(const char *const *names, size_t n, sim_time_t every,
                                                  harness_smtpd_sample_fn fn, void *ctx)
{
    if (every <= 0 || fn == NULL || (n > 0 && names == NULL))
        sim_panic(__func__, "every > 0 and a sample function are required");
    harness_smtpd_events *ev = sim_xcalloc(1, sizeof(*ev));
    ev->names = sim_xcalloc(n ? n : 1, sizeof(*ev->names));
    for (size_t i = 0; i < n; i++)
        ev->names[i] = sim_xstrdup(names[i]);
    ev->n = n;
    ev->cur = sim_xcalloc(n ? n : 1, sizeof(*ev->cur));
    ev->tot = sim_xcalloc(n ? n : 1, sizeof(*ev->tot));
    for (size_t i = 0; i < n; i++)
        sim_tavg_init(&ev->tot[i].sessions, 0, 0);
    ev->scale = 1;
    ev->every = every;
    ev->fn = fn;
    ev->ctx = ctx;
    ev->nslot = 64;
    ev->slot = sim_xcalloc(ev->nslot, sizeof(*ev->slot));
    return ev;
}

void harness_smtpd_events_free(harness_smtpd_events *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->n; i++)
        free(ev->names[i]);
    free(ev->names);
    free(ev->cur);
    for (size_t i = 0; i < ev->n; i++)
        free(ev->tot[i].rules);
    free(ev->tot);
    free(ev->slot);
    free(ev);
}

/* ---- sessions open ---- */

static size_t harness_smtpd_hash(uint64_t id, size_t nslot)
{
    id *= 0x9e3779b97f4a7c15ull; /* Fibonacci hashing: ids are consecutive */
    return (size_t)(id >> 32) & (nslot - 1);
}

static harness_smtpd_slot *harness_smtpd_find(harness_smtpd_events *ev, uint64_t id)
{
    for (size_t i = harness_smtpd_hash(id, ev->nslot);; i = (i + 1) & (ev->nslot - 1)) {
        if (ev->slot[i].id == id)
            return &ev->slot[i];
        if (ev->slot[i].id == 0)
            return NULL;
    }
}

static void harness_smtpd_put(harness_smtpd_slot *slot, size_t nslot, harness_smtpd_slot s)
{
    size_t i = harness_smtpd_hash(s.id, nslot);
    while (slot[i].id != 0)
        i = (i + 1) & (nslot - 1);
    slot[i] = s;
}

static void harness_smtpd_insert(harness_smtpd_events *ev, harness_smtpd_slot s)
{
    if ((ev->nopen + 1) * 2 > ev->nslot) { /* at most half full */
        size_t nn = ev->nslot * 2;
        harness_smtpd_slot *ns = sim_xcalloc(nn, sizeof(*ns));
        for (size_t i = 0; i < ev->nslot; i++)
            if (ev->slot[i].id != 0)
                harness_smtpd_put(ns, nn, ev->slot[i]);
        free(ev->slot);
        ev->slot = ns;
        ev->nslot = nn;
    }
    harness_smtpd_put(ev->slot, ev->nslot, s);
    ev->nopen++;
}

/* Backward-shift deletion: the entries after the hole that may move into it do. */
static void harness_smtpd_remove(harness_smtpd_events *ev, harness_smtpd_slot *s)
{
    size_t mask = ev->nslot - 1, hole = (size_t)(s - ev->slot);
    for (size_t i = (hole + 1) & mask; ev->slot[i].id != 0; i = (i + 1) & mask) {
        size_t home = harness_smtpd_hash(ev->slot[i].id, ev->nslot);
        /* the entry at i may fill the hole when its home is not cyclically in (hole, i] */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ev->slot[hole] = ev->slot[i];
            hole = i;
        }
    }
    ev->slot[hole].id = 0;
    ev->nopen--;
}

/* ---- lines ---- */

static int harness_smtpd_fail(harness_smtpd_events *ev, char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int harness_smtpd_fail(harness_smtpd_events *ev, char *err, size_t cap, const char *fmt, ...)
{
    if (err != NULL && cap > 0) {
        int k = snprintf(err, cap, "line %llu: ", (unsigned long long)ev->lineno);
        if (k >= 0 && (size_t)k < cap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, cap - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* Takes every sample due at or before t. */
static void harness_smtpd_sample_until(harness_smtpd_events *ev, sim_time_t t)
{
    while (ev->next <= t) {
        ev->fn(ev->ctx, ev->next, ev->cur, ev->n);
        for (size_t i = 0; i < ev->n; i++)
            memset(ev->cur[i].replies, 0, sizeof(ev->cur[i].replies));
        ev->next += ev->every;
    }
}

static int harness_smtpd_receiver(const harness_smtpd_events *ev, const char *name)
{
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->names[i], name) == 0)
            return (int)i;
    return -1;
}

void harness_smtpd_events_clock(harness_smtpd_events *ev, sim_time_t offset, double scale)
{
    if (!(scale > 0) || ev->lineno > 0)
        sim_panic(__func__, "scale > 0, before the first line");
    ev->offset = offset;
    ev->scale = scale;
    ev->last_t = offset; /* the earliest a line can map to */
}

const harness_smtpd_totals *harness_smtpd_events_totals(const harness_smtpd_events *ev, size_t i)
{
    if (i >= ev->n)
        sim_panic(__func__, "no receiver %zu", i);
    return &ev->tot[i];
}

static void harness_smtpd_rule(harness_smtpd_totals *tot, const char *rule)
{
    for (size_t i = 0; i < tot->nrules; i++)
        if (strcmp(tot->rules[i].name, rule) == 0) {
            tot->rules[i].n++;
            return;
        }
    tot->rules = sim_xreallocarray(tot->rules, tot->nrules + 1, sizeof(*tot->rules));
    harness_smtpd_rule_count *rc = &tot->rules[tot->nrules++];
    snprintf(rc->name, sizeof(rc->name), "%s", rule);
    rc->n = 1;
}

/* After busy/idle moved: the peaks and the time average of receiver r's sessions. */
static void harness_smtpd_sessions(harness_smtpd_events *ev, uint32_t r, sim_time_t t)
{
    harness_smtpd_totals *tot = &ev->tot[r];
    const harness_smtpd_counts *c = &ev->cur[r];
    if (c->busy + c->idle > tot->peak)
        tot->peak = c->busy + c->idle;
    if (c->busy > tot->peak_busy)
        tot->peak_busy = c->busy;
    if (c->idle > tot->peak_idle)
        tot->peak_idle = c->idle;
    sim_tavg_set(&tot->sessions, t > tot->sessions.last_time ? t : tot->sessions.last_time, (double)(c->busy + c->idle));
}

/* What a reply of code means for the totals, given the session's state (s NULL: a session the
 * policy never saw, refused by --max-sessions). */
static void harness_smtpd_reply_totals(harness_smtpd_totals *tot, harness_smtpd_slot *s, int code, const char *rule)
{
    if (code >= 200 && code < 600)
        tot->replies_by_code[code]++;
    if (rule != NULL)
        harness_smtpd_rule(tot, rule);
    if (s == NULL) {
        if (code >= 400)
            tot->refused++;
        return;
    }
    if (!s->replied && code >= 400)
        tot->refused++;
    s->replied = true;
    bool ok = code >= 200 && code < 300;
    if (s->stage == HARNESS_SMTPD_STAGE_RCPT && ok)
        s->rcpts++;
    else if (s->stage == HARNESS_SMTPD_STAGE_EOD) {
        if (ok) {
            tot->messages++;
            tot->recipients += s->rcpts;
        }
        s->stage = HARNESS_SMTPD_STAGE_NONE;
        s->rcpts = 0;
    }
}

/* A command line moves the session's transaction on. */
static void harness_smtpd_command(harness_smtpd_slot *s, const char *text)
{
    if (s == NULL || text == NULL)
        return;
    if (strncasecmp(text, "MAIL", 4) == 0 || strncasecmp(text, "RSET", 4) == 0) {
        s->rcpts = 0;
        s->stage = HARNESS_SMTPD_STAGE_NONE;
    } else if (strncasecmp(text, "RCPT", 4) == 0)
        s->stage = HARNESS_SMTPD_STAGE_RCPT;
    else
        s->stage = HARNESS_SMTPD_STAGE_NONE;
}

/* The event of one parsed line; t is already checked and the samples before it taken. */
static int harness_smtpd_apply(harness_smtpd_events *ev, json_t *o, const char *event, uint32_t r, sim_time_t t,
                               char *err, size_t cap)
{
    json_t *js = json_object_get(o, "session");
    if (!json_is_integer(js) || json_integer_value(js) <= 0)
        return harness_smtpd_fail(ev, err, cap, "no \"session\" number");
    uint64_t id = (uint64_t)json_integer_value(js);
    harness_smtpd_slot *s = harness_smtpd_find(ev, id);
    if (s != NULL && s->rcv != r)
        return harness_smtpd_fail(ev, err, cap, "session %llu changes receiver", (unsigned long long)id);
    harness_smtpd_counts *c = &ev->cur[r];
    if (strcmp(event, "reply") == 0) {
        const char *text = json_string_value(json_object_get(o, "text"));
        if (text == NULL || strlen(text) < 3 || text[0] < '1' || text[0] > '5' || text[1] < '0' || text[1] > '9' ||
            text[2] < '0' || text[2] > '9')
            return harness_smtpd_fail(ev, err, cap, "a reply without a code");
        int code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
        int k = results_reply_class(code);
        if (k >= 0)
            c->replies[k]++;
        harness_smtpd_reply_totals(&ev->tot[r], s, code, json_string_value(json_object_get(o, "rule")));
    } else if (strcmp(event, "command") == 0) {
        harness_smtpd_command(s, json_string_value(json_object_get(o, "text")));
    } else if (strcmp(event, "message") == 0) {
        if (s != NULL)
            s->stage = HARNESS_SMTPD_STAGE_EOD;
    } else if (strcmp(event, "connect") == 0) {
        if (s != NULL)
            return harness_smtpd_fail(ev, err, cap, "session %llu connects again", (unsigned long long)id);
        ev->tot[r].connections++;
    } else if (strcmp(event, "busy") == 0) {
        if (s != NULL && s->busy)
            return harness_smtpd_fail(ev, err, cap, "session %llu busy twice", (unsigned long long)id);
        if (s == NULL)
            harness_smtpd_insert(ev, (harness_smtpd_slot){.id = id, .rcv = r, .busy = true});
        else {
            s->busy = true;
            c->idle--;
        }
        c->busy++;
        harness_smtpd_sessions(ev, r, t);
    } else if (strcmp(event, "idle") == 0) {
        if (s == NULL || !s->busy)
            return harness_smtpd_fail(ev, err, cap, "session %llu idle but not busy", (unsigned long long)id);
        s->busy = false; /* the transaction's last reply may still come (a tarpit at the end of DATA) */
        c->busy--;
        c->idle++;
        harness_smtpd_sessions(ev, r, t);
    } else if (strcmp(event, "close") == 0) {
        const char *text = json_string_value(json_object_get(o, "text"));
        const char *rule = json_string_value(json_object_get(o, "rule"));
        bool silent = text != NULL && strcmp(text, "silent") == 0;
        if (rule != NULL && silent) /* a refusal with a reply was counted at its reply */
            harness_smtpd_rule(&ev->tot[r], rule);
        if ((s == NULL || !s->replied) && silent)
            ev->tot[r].refused++;
        if (s != NULL) {
            if (s->busy)
                c->busy--;
            else
                c->idle--;
            harness_smtpd_remove(ev, s);
            harness_smtpd_sessions(ev, r, t);
        }
    }
    /* command, tls, message, and events of later versions: nothing to count */
    return 0;
}

int harness_smtpd_events_line(harness_smtpd_events *ev, const char *line, size_t len, char *err, size_t cap)
{
    ev->lineno++;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len + 1 > HARNESS_SMTPD_EVENTS_LINE_MAX)
        return harness_smtpd_fail(ev, err, cap, "longer than %d bytes", HARNESS_SMTPD_EVENTS_LINE_MAX);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL)
        return harness_smtpd_fail(ev, err, cap, "not JSON: %s", je.text);
    int rc = 0;
    json_t *jt = json_object_get(o, "t");
    const char *event = json_string_value(json_object_get(o, "event"));
    const char *rname = json_string_value(json_object_get(o, "receiver"));
    if (!json_is_object(o))
        rc = harness_smtpd_fail(ev, err, cap, "not a JSON object");
    else if (!json_is_number(jt) || !isfinite(json_number_value(jt)) || json_number_value(jt) < 0 ||
             json_number_value(jt) > 1e12)
        rc = harness_smtpd_fail(ev, err, cap, "no time \"t\"");
    else if (event == NULL)
        rc = harness_smtpd_fail(ev, err, cap, "no \"event\"");
    else if (rname == NULL)
        rc = harness_smtpd_fail(ev, err, cap, "no \"receiver\"");
    if (rc == 0) {
        sim_time_t t = ev->offset + (sim_time_t)llround(json_number_value(jt) * ev->scale * 1e6);
        int r = harness_smtpd_receiver(ev, rname);
        if (t < ev->last_t)
            rc = harness_smtpd_fail(ev, err, cap, "t %.6f is before the line above's", json_number_value(jt));
        else if (r < 0)
            rc = harness_smtpd_fail(ev, err, cap, "unknown receiver '%s'", rname);
        else {
            ev->last_t = t;
            /* samples strictly before t: an event at a sample instant belongs to that sample */
            harness_smtpd_sample_until(ev, t - 1);
            rc = harness_smtpd_apply(ev, o, event, (uint32_t)r, t, err, cap);
        }
    }
    json_decref(o);
    return rc;
}

int harness_smtpd_events_read(harness_smtpd_events *ev, FILE *f, char *err, size_t cap)
{
    /* room for a line one byte too long and its newline, so that one is told apart */
    char buf[HARNESS_SMTPD_EVENTS_LINE_MAX + 2];
    while (fgets(buf, sizeof(buf), f) != NULL) {
        size_t len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
            ev->lineno++;
            return harness_smtpd_fail(ev, err, cap, "longer than %d bytes", HARNESS_SMTPD_EVENTS_LINE_MAX);
        }
        int rc = harness_smtpd_events_line(ev, buf, len, err, cap);
        if (rc < 0)
            return rc;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        if (err != NULL && cap > 0)
            snprintf(err, cap, "after line %llu: %s", (unsigned long long)ev->lineno, strerror(e));
        return -e;
    }
    return 0;
}

void harness_smtpd_events_finish(harness_smtpd_events *ev, sim_time_t end)
{
    harness_smtpd_sample_until(ev, end);
}

/* ---- timeseries.csv ---- */

int harness_smtpd_events_add_columns(results_timeseries *ts, const char *const *names, size_t n)
{
    int first = (int)results_timeseries_ncolumns(ts);
    for (size_t i = 0; i < n; i++) {
        int rc = results_timeseries_add_receiver(ts, names[i]);
        if (rc < 0)
            return rc;
    }
    return first;
}

void harness_smtpd_events_set(results_timeseries *ts, size_t col0, const harness_smtpd_counts *c, size_t n)
{
    size_t col = col0;
    for (size_t i = 0; i < n; i++) {
        results_timeseries_set(ts, col++, (double)c[i].busy);
        results_timeseries_set(ts, col++, (double)c[i].idle);
        for (int k = 0; k < HARNESS_SMTPD_NCLASS; k++)
            results_timeseries_set(ts, col++, (double)c[i].replies[k]);
    }
}
