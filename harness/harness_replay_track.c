/*
 * harness_replay_track - following a replay's messages live through the injector's reports and the
 * Postfix instances' log lines (harness_replay_track.h); the run directory is harness_replay_out.c.
 *
 * Every (host, queue id) gets one entry, created by whichever comes first: the injection or a log
 * line. An entry made by a line is unclaimed and only keeps its records; the injection claims it
 * and replays them through the same code a live line goes through, so the order in which the two
 * sources arrive never changes the result.
 *
 * The live state counts what the model counts. A message's attempts are its passes through the
 * active queue that produced a record (a qmgr "(queue active)" line opens a pass; without such
 * lines every record is a pass), so a single-recipient message has one attempt per record, as in
 * the simulator. A recipient is final at its sent, bounced or expired record; the message is
 * delivered when all nrcpt are final and none bounced, bounced when one bounced, expired at qmgr's
 * expiry line. qmgr's "removed" also settles it (a recipient whose record was missed cannot keep a
 * message queued forever).
 */
#include "harness/harness_replay_track_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_hash.h"
#include "sim/sim_mem.h"

/* A leap year, so a "Feb 29" stamp parses; only differences between stamps are ever used. */
#define HARNESS_REPLAY_YEAR 2024

harness_replay_track *harness_replay_track_create(const scenario *s, uint32_t nhosts, double speedup)
{
    if (s == NULL || nhosts == 0 || !(speedup > 0))
        sim_panic(__func__, "a scenario, nhosts >= 1 and speedup > 0 are required");
    harness_replay_track *t = sim_xcalloc(1, sizeof(*t));
    t->s = s;
    t->nhosts = nhosts;
    t->speedup = speedup;
    t->nqslot = 1024;
    t->qslot = sim_xcalloc(t->nqslot, sizeof(*t->qslot));
    t->nislot = 1024;
    t->islot = sim_xcalloc(t->nislot, sizeof(*t->islot));
    t->lineno = sim_xcalloc(nhosts, sizeof(*t->lineno));
    t->year = sim_xcalloc(nhosts, sizeof(*t->year));
    t->last_stamp = sim_xcalloc(nhosts, sizeof(*t->last_stamp));
    for (uint32_t h = 0; h < nhosts; h++)
        t->year[h] = HARNESS_REPLAY_YEAR;
    return t;
}

void harness_replay_track_free(harness_replay_track *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        harness_replay_entry *e = &t->e[i];
        for (size_t k = 0; k < e->nrec; k++)
            free(e->rec[k].rcpt);
        free(e->rec);
        for (uint32_t k = 0; k < e->fcap; k++)
            free(e->final[k]);
        free(e->final);
        free((char *)e->m.domain);
        free((char *)e->m.queue_id);
    }
    free(t->e);
    free(t->qslot);
    free(t->qmgr_start);
    free(t->islot);
    free(t->lineno);
    free(t->year);
    free(t->last_stamp);
    free(t);
}

/* ---- the two tables ---- */

static uint64_t harness_replay_qhash(uint32_t host, const char *qid)
{
    return sim_hash_str(sim_hash_byte(sim_hash_byte(SIM_HASH_INIT, (unsigned char)host), (unsigned char)(host >> 8)),
                        qid);
}

static size_t *harness_replay_qfind(harness_replay_track *t, uint32_t host, const char *qid)
{
    size_t mask = t->nqslot - 1;
    for (size_t i = (size_t)harness_replay_qhash(host, qid) & mask;; i = (i + 1) & mask) {
        size_t v = t->qslot[i];
        if (v == 0 || (t->e[v - 1].m.host == host && strcmp(t->e[v - 1].m.queue_id, qid) == 0))
            return &t->qslot[i];
    }
}

static void harness_replay_qgrow(harness_replay_track *t)
{
    if ((t->n + 1) * 2 <= t->nqslot)
        return;
    free(t->qslot);
    t->nqslot *= 2;
    t->qslot = sim_xcalloc(t->nqslot, sizeof(*t->qslot));
    for (size_t i = 0; i < t->n; i++)
        *harness_replay_qfind(t, t->e[i].m.host, t->e[i].m.queue_id) = i + 1;
}

static struct harness_replay_idslot *harness_replay_ifind(struct harness_replay_idslot *slot, size_t nslot, uint64_t id)
{
    size_t mask = nslot - 1;
    for (size_t i = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & mask;; i = (i + 1) & mask)
        if (slot[i].v == 0 || slot[i].id == id)
            return &slot[i];
}

static void harness_replay_iput(harness_replay_track *t, uint64_t id, size_t v)
{
    if ((t->nids + 1) * 2 > t->nislot) {
        size_t nn = t->nislot * 2;
        struct harness_replay_idslot *ns = sim_xcalloc(nn, sizeof(*ns));
        for (size_t i = 0; i < t->nislot; i++)
            if (t->islot[i].v != 0)
                *harness_replay_ifind(ns, nn, t->islot[i].id) = t->islot[i];
        free(t->islot);
        t->islot = ns;
        t->nislot = nn;
    }
    struct harness_replay_idslot *s = harness_replay_ifind(t->islot, t->nislot, id);
    if (s->v == 0)
        t->nids++;
    s->id = id;
    s->v = v;
}

/* The entry of (host, qid), made (unclaimed) when new. */
static harness_replay_entry *harness_replay_entry_get(harness_replay_track *t, uint32_t host, const char *qid)
{
    size_t *slot = harness_replay_qfind(t, host, qid);
    if (*slot)
        return &t->e[*slot - 1];
    harness_replay_qgrow(t);
    slot = harness_replay_qfind(t, host, qid);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->e = sim_xreallocarray(t->e, t->cap, sizeof(*t->e));
    }
    harness_replay_entry *e = &t->e[t->n];
    *e = (harness_replay_entry){.m = {.host = host, .queue_id = sim_xstrdup(qid)}};
    *slot = ++t->n;
    return e;
}

/* ---- the live state ---- */

/* Where rcpt is in the set of final recipients, or the empty slot it would take. */
static char **harness_replay_final_slot(char **set, uint32_t cap, const char *rcpt)
{
    size_t k = sim_hash_str(SIM_HASH_INIT, rcpt) & (cap - 1);
    while (set[k] && strcmp(set[k], rcpt) != 0)
        k = (k + 1) & (cap - 1);
    return &set[k];
}

/* Adds rcpt to the entry's final recipients; false when it was there already. */
static bool harness_replay_final_add(harness_replay_entry *e, const char *rcpt)
{
    if (e->fcap && *harness_replay_final_slot(e->final, e->fcap, rcpt))
        return false;
    if (2 * (e->nfinal + 1) > e->fcap) {
        uint32_t cap = e->fcap ? 2 * e->fcap : 8;
        char **set = sim_xcalloc(cap, sizeof(*set));
        for (uint32_t i = 0; i < e->fcap; i++)
            if (e->final[i])
                *harness_replay_final_slot(set, cap, e->final[i]) = e->final[i];
        free(e->final);
        e->final = set;
        e->fcap = cap;
    }
    *harness_replay_final_slot(e->final, e->fcap, rcpt) = sim_xstrdup(rcpt);
    e->nfinal++;
    return true;
}

static void harness_replay_settle(harness_replay_track *t, harness_replay_entry *e)
{
    if (e->state != HARNESS_REPLAY_QUEUED)
        return;
    if (e->expired) {
        e->state = HARNESS_REPLAY_BOUNCED;
        t->c.expired++;
    } else if (e->any_bounced) {
        e->state = HARNESS_REPLAY_BOUNCED;
        t->c.bounced++;
    } else {
        e->state = HARNESS_REPLAY_DELIVERED;
        t->c.delivered++;
    }
    t->c.outstanding--;
}

/* One record of a claimed entry changes its state and the counts. */
static void harness_replay_apply(harness_replay_track *t, harness_replay_entry *e, const harness_replay_rec *r)
{
    switch (r->kind) {
    case HARNESS_MAILLOG_QUEUED:
        e->seen_active = true;
        e->pass_has_record = false;
        return;
    case HARNESS_MAILLOG_EXPIRED:
        e->expired = true;
        harness_replay_settle(t, e);
        return;
    case HARNESS_MAILLOG_REMOVED:
        e->removed = true;
        harness_replay_settle(t, e);
        return;
    case HARNESS_MAILLOG_DELIVERY:
        break;
    default:
        return;
    }
    if (!e->seen_active || !e->pass_has_record)
        e->attempts++;
    e->pass_has_record = true;
    if (r->status == HARNESS_MAILLOG_DEFERRED) {
        t->c.deferrals++;
        if (strcmp(r->reason, "suspended") == 0)
            t->c.suspended++;
        if (strncmp(r->reason, "421", 3) == 0)
            t->c.r421++;
        return;
    }
    if (r->status != HARNESS_MAILLOG_SENT)
        e->any_bounced = true;
    if (r->status == HARNESS_MAILLOG_EXPIRED_RCPT)
        e->expired = true;
    harness_replay_final_add(e, r->rcpt);
    if (e->nfinal >= e->m.nrcpt)
        harness_replay_settle(t, e);
}

int harness_replay_track_injected(harness_replay_track *t, const harness_replay_msg *m)
{
    if (m->host >= t->nhosts || m->queue_id == NULL || m->queue_id[0] == '\0')
        return -EINVAL;
    harness_replay_entry *e = harness_replay_entry_get(t, m->host, m->queue_id);
    if (e->claimed)
        return -EEXIST;
    const char *qid = e->m.queue_id;
    e->m = *m;
    e->m.queue_id = qid;
    e->m.domain = sim_xstrdup(m->domain ? m->domain : "");
    if (e->m.nrcpt == 0)
        e->m.nrcpt = 1;
    e->claimed = true;
    e->state = HARNESS_REPLAY_QUEUED;
    t->c.injected++;
    t->c.outstanding++;
    t->unclaimed_lines -= e->nrec;
    harness_replay_iput(t, m->id, (size_t)(e - t->e) + 1);
    for (size_t k = 0; k < e->nrec; k++)
        harness_replay_apply(t, e, &e->rec[k]);
    return 0;
}

void harness_replay_track_set_clock_phase(harness_replay_track *t, double seconds) { t->clock_phase = seconds; }

void harness_replay_track_set_qmgr_start(harness_replay_track *t, const double *seconds, uint32_t n)
{
    if (!t->qmgr_start)
        t->qmgr_start = sim_xcalloc(t->nhosts, sizeof(*t->qmgr_start));
    for (uint32_t h = 0; h < t->nhosts; h++)
        t->qmgr_start[h] = h < n ? seconds[h] : NAN;
}

void harness_replay_track_inject_failed(harness_replay_track *t, const harness_replay_msg *m, const char *reply)
{
    (void)reply; /* the injector reports the texts; the summary counts them */
    t->c.inject_failed++;
    harness_replay_iput(t, m->id, HARNESS_REPLAY_FAILED);
}

int harness_replay_track_line(harness_replay_track *t, uint32_t host, const char *line, size_t len, char *err,
                              size_t errlen)
{
    if (host >= t->nhosts) {
        snprintf(err, errlen, "mta%u maillog: no such host (%u hosts)", host + 1, t->nhosts);
        return -EINVAL;
    }
    uint64_t no = ++t->lineno[host];
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    harness_maillog_rec r;
    harness_maillog_kind k = harness_maillog_parse(line, len, t->year[host], &r);
    if (k == HARNESS_MAILLOG_MALFORMED) {
        snprintf(err, errlen, "mta%u maillog line %llu: a delivery report that does not parse: %.*s", host + 1,
                 (unsigned long long)no, (int)(len > 120 ? 120 : len), line);
        return -EINVAL;
    }
    if (k == HARNESS_MAILLOG_SKIP)
        return 0;
    /* a syslog stamp has no year: one that goes back by half a year has crossed New Year */
    if (!r.has_year && t->last_stamp[host] != 0 && r.when < t->last_stamp[host] - 183 * 86400) {
        t->year[host]++;
        harness_maillog_parse(line, len, t->year[host], &r);
    }
    t->last_stamp[host] = r.when;
    harness_replay_entry *e = harness_replay_entry_get(t, host, r.queue_id);
    if (e->nrec == e->caprec) {
        e->caprec = e->caprec ? e->caprec * 2 : 4;
        e->rec = sim_xreallocarray(e->rec, e->caprec, sizeof(*e->rec));
    }
    harness_replay_rec *kr = &e->rec[e->nrec++];
    *kr = (harness_replay_rec){.kind = k, .status = r.status, .has_delays = r.has_delays,
                               .stamp = r.when * 1000000 + r.usec, .delay = r.delay, .reason = r.reason};
    memcpy(kr->delays, r.delays, sizeof(kr->delays));
    if (k == HARNESS_MAILLOG_DELIVERY)
        kr->rcpt = sim_xstrdup(r.rcpt);
    if (e->claimed)
        harness_replay_apply(t, e, kr);
    else
        t->unclaimed_lines++;
    return 0;
}

harness_replay_state harness_replay_track_state(const harness_replay_track *t, uint64_t msg_id)
{
    const struct harness_replay_idslot *s = harness_replay_ifind(t->islot, t->nislot, msg_id);
    if (s->v == 0)
        return HARNESS_REPLAY_QUEUED;
    if (s->v == HARNESS_REPLAY_FAILED)
        return HARNESS_REPLAY_BOUNCED;
    return t->e[s->v - 1].state;
}

void harness_replay_track_counts(const harness_replay_track *t, harness_replay_counts *c)
{
    *c = t->c;
    c->unclaimed = t->unclaimed_lines;
}

bool harness_replay_track_settled(const harness_replay_track *t) { return t->c.outstanding == 0; }
