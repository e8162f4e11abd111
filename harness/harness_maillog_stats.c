/*
 * harness_maillog_stats - counting a Postfix log (what is counted, and why so: see the header).
 *
 * Three small hash tables of our own: the count tables (open addressing over an index array, rows in
 * first-seen order so a table can be listed without its hash), the open messages (chained, so a
 * message that is done can be unlinked and freed), and each open message's deferred recipients (open
 * addressing with backward-shift deletion: a message of thousands of recipients costs no more per
 * line than one of a few). All hash with sim_hash's FNV-1a.
 */
#include "harness/harness_maillog_stats.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sim/sim_hash.h"
#include "sim/sim_mem.h"
#include "sim/sim_stat.h"

/* ---- count tables ---- */

static void table_rehash(harness_maillog_table *t)
{
    free(t->slot);
    t->nslot = t->nslot ? t->nslot * 2 : 64;
    t->slot = sim_xcalloc(t->nslot, sizeof(*t->slot));
    for (size_t i = 0; i < t->n; i++) {
        size_t j = sim_hash_str(SIM_HASH_INIT, t->row[i].key) & (t->nslot - 1);
        while (t->slot[j])
            j = (j + 1) & (t->nslot - 1);
        t->slot[j] = i + 1;
    }
}

harness_maillog_count *harness_maillog_table_get(harness_maillog_table *t, const char *key)
{
    if (2 * (t->n + 1) > t->nslot)
        table_rehash(t);
    size_t j = sim_hash_str(SIM_HASH_INIT, key) & (t->nslot - 1);
    for (; t->slot[j]; j = (j + 1) & (t->nslot - 1))
        if (strcmp(t->row[t->slot[j] - 1].key, key) == 0)
            return &t->row[t->slot[j] - 1];
    t->row = sim_xgrow(t->row, &t->cap, t->n + 1, sizeof(*t->row), 16);
    t->row[t->n] = (harness_maillog_count){.key = sim_xstrdup(key)};
    t->slot[j] = ++t->n;
    return &t->row[t->n - 1];
}

static void table_count(harness_maillog_table *t, const char *key, harness_maillog_status st)
{
    harness_maillog_count *c = harness_maillog_table_get(t, key);
    c->n[st]++;
    c->total++;
}

void harness_maillog_table_free(harness_maillog_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->row[i].key);
    free(t->row);
    free(t->slot);
}

static int by_total(const void *a, const void *b)
{
    const harness_maillog_count *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->key, y->key);
}

harness_maillog_count *harness_maillog_table_sorted(const harness_maillog_table *t)
{
    harness_maillog_count *v = sim_xmalloc((t->n ? t->n : 1) * sizeof(*v));
    if (t->n)
        memcpy(v, t->row, t->n * sizeof(*v));
    qsort(v, t->n, sizeof(*v), by_total);
    return v;
}

/* ---- open messages ---- */

typedef struct msg {
    struct msg *next;
    char *key;       /* "host queue_id" */
    char **rcpt;     /* recipients deferred and not yet done: a set of cap slots (a power of two) */
    size_t nrcpt, cap;
    int64_t when;    /* its last deferral's time */
    double delay;    /* and delay= */
} msg;

struct harness_maillog_msgs {
    msg **bucket;
    size_t nbucket, n;
};

static msg **msg_slot(struct harness_maillog_msgs *m, const char *key)
{
    msg **p = &m->bucket[sim_hash_str(SIM_HASH_INIT, key) & (m->nbucket - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

static void msg_grow(struct harness_maillog_msgs *m)
{
    size_t old = m->nbucket;
    msg **ob = m->bucket;
    m->nbucket = old ? old * 2 : 256;
    m->bucket = sim_xcalloc(m->nbucket, sizeof(*m->bucket));
    for (size_t i = 0; i < old; i++)
        for (msg *e = ob[i], *next; e; e = next) {
            next = e->next;
            msg **p = &m->bucket[sim_hash_str(SIM_HASH_INIT, e->key) & (m->nbucket - 1)];
            e->next = *p;
            *p = e;
        }
    free(ob);
}

/* The slot holding rcpt in e's set, or the empty one it would take (e->cap > 0). */
static size_t rcpt_slot(const msg *e, const char *rcpt)
{
    size_t k = sim_hash_str(SIM_HASH_INIT, rcpt) & (e->cap - 1);
    while (e->rcpt[k] && strcmp(e->rcpt[k], rcpt) != 0)
        k = (k + 1) & (e->cap - 1);
    return k;
}

static void rcpt_add(msg *e, const char *rcpt)
{
    if (e->cap && e->rcpt[rcpt_slot(e, rcpt)])
        return;
    if (2 * (e->nrcpt + 1) > e->cap) {
        char **old = e->rcpt;
        size_t ocap = e->cap;
        e->cap = ocap ? 2 * ocap : 4;
        e->rcpt = sim_xcalloc(e->cap, sizeof(*e->rcpt));
        for (size_t i = 0; i < ocap; i++)
            if (old[i])
                e->rcpt[rcpt_slot(e, old[i])] = old[i];
        free(old);
    }
    e->rcpt[rcpt_slot(e, rcpt)] = sim_xstrdup(rcpt);
    e->nrcpt++;
}

/* Removes rcpt (if there), moving back the entries its slot held up (Knuth's algorithm R). */
static void rcpt_remove(msg *e, const char *rcpt)
{
    if (!e->cap)
        return;
    size_t mask = e->cap - 1, i = rcpt_slot(e, rcpt);
    if (!e->rcpt[i])
        return;
    free(e->rcpt[i]);
    e->rcpt[i] = NULL;
    e->nrcpt--;
    for (size_t j = (i + 1) & mask; e->rcpt[j]; j = (j + 1) & mask) {
        size_t home = sim_hash_str(SIM_HASH_INIT, e->rcpt[j]) & mask;
        /* The entry at j may move to the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        e->rcpt[i] = e->rcpt[j];
        e->rcpt[j] = NULL;
        i = j;
    }
}

static void msg_drop(struct harness_maillog_msgs *m, msg **p)
{
    msg *e = *p;
    *p = e->next;
    for (size_t i = 0; i < e->cap; i++)
        free(e->rcpt[i]);
    free(e->rcpt);
    free(e->key);
    free(e);
    m->n--;
}

static void msg_key(char *buf, size_t len, const harness_maillog_rec *r)
{
    snprintf(buf, len, "%s %s", r->host, r->queue_id);
}

/* A delivery line: a deferral opens (or updates) the recipient; anything else closes it. */
static void msg_delivery(struct harness_maillog_msgs *m, const harness_maillog_rec *r)
{
    char key[128];
    msg_key(key, sizeof(key), r);
    msg **p = msg_slot(m, key);
    if (r->status != HARNESS_MAILLOG_DEFERRED) {
        if (!*p)
            return;
        msg *e = *p;
        rcpt_remove(e, r->rcpt);
        if (e->nrcpt == 0)
            msg_drop(m, p);
        return;
    }
    if (!*p) {
        if (m->n + 1 > m->nbucket) {
            msg_grow(m);
            p = msg_slot(m, key);
        }
        *p = sim_xcalloc(1, sizeof(**p));
        (*p)->key = sim_xstrdup(key);
        m->n++;
    }
    msg *e = *p;
    e->when = r->when;
    e->delay = r->delay;
    rcpt_add(e, r->rcpt);
}

static void msg_close(struct harness_maillog_msgs *m, const harness_maillog_rec *r)
{
    char key[128];
    msg_key(key, sizeof(key), r);
    msg **p = msg_slot(m, key);
    if (*p)
        msg_drop(m, p);
}

/* ---- the statistics ---- */

harness_maillog_stats *harness_maillog_stats_create(void)
{
    harness_maillog_stats *st = sim_xcalloc(1, sizeof(*st));
    st->msgs = sim_xcalloc(1, sizeof(*st->msgs));
    msg_grow(st->msgs);
    return st;
}

void harness_maillog_stats_free(harness_maillog_stats *st)
{
    if (!st)
        return;
    struct harness_maillog_msgs *m = st->msgs;
    for (size_t i = 0; i < m->nbucket; i++)
        while (m->bucket[i])
            msg_drop(m, &m->bucket[i]);
    free(m->bucket);
    free(m);
    harness_maillog_table_free(&st->reasons);
    harness_maillog_table_free(&st->domains);
    harness_maillog_table_free(&st->relays);
    harness_maillog_table_free(&st->hosts);
    harness_maillog_table_free(&st->minutes);
    free(st->sent_delay);
    free(st->conn_use);
    free(st);
}

/* "mx1.orange.test[192.0.2.10]:25" -> "mx1.orange.test[192.0.2.10]": the port says nothing. */
static void relay_name(char *buf, size_t len, const char *relay)
{
    snprintf(buf, len, "%s", relay);
    char *rb = strrchr(buf, ']');
    if (rb && rb[1] == ':')
        rb[1] = 0;
}

/* The recipient's domain, lower case ("" for a local address). */
static void domain_of(char *buf, size_t len, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    snprintf(buf, len, "%s", at ? at + 1 : "(local)");
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

void harness_maillog_format_time(char *buf, size_t len, int64_t when, bool seconds)
{
    int64_t days = when >= 0 ? when / 86400 : -((-when + 86399) / 86400);
    int64_t sec = when - days * 86400;
    /* civil_from_days, the inverse of harness_maillog_days */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    int n = snprintf(buf, len, "%04lld-%02lld-%02lld %02lld:%02lld", (long long)y, (long long)m, (long long)d,
                     (long long)(sec / 3600), (long long)(sec / 60 % 60));
    if (seconds && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ":%02lld", (long long)(sec % 60));
}

static void seen(harness_maillog_stats *st, int64_t when)
{
    if (!st->first || when < st->first)
        st->first = when;
    if (when > st->last)
        st->last = when;
}

void harness_maillog_stats_add(harness_maillog_stats *st, const harness_maillog_rec *r)
{
    st->lines++;
    if (st->observe)
        st->observe(st->observe_ctx, r);
    char buf[300];
    switch (r->kind) {
    case HARNESS_MAILLOG_SKIP:
    case HARNESS_MAILLOG_FEEDBACK: /* the scheduler's, not a delivery's (tempfail maillog --scheduler) */
        st->skipped++;
        return;
    case HARNESS_MAILLOG_MALFORMED:
        st->malformed++;
        return;
    case HARNESS_MAILLOG_QUEUED:
        st->queued++;
        seen(st, r->when);
        return;
    case HARNESS_MAILLOG_REMOVED:
        st->removed++;
        seen(st, r->when);
        msg_close(st->msgs, r);
        return;
    case HARNESS_MAILLOG_EXPIRED:
        st->expired++;
        seen(st, r->when);
        msg_close(st->msgs, r);
        return;
    case HARNESS_MAILLOG_DELIVERY:
        break;
    }
    seen(st, r->when);
    st->attempts++;
    st->by_status[r->status]++;
    table_count(&st->reasons, r->reason, r->status);
    domain_of(buf, sizeof(buf), r->rcpt);
    table_count(&st->domains, buf, r->status);
    relay_name(buf, sizeof(buf), r->relay);
    table_count(&st->relays, buf, r->status);
    table_count(&st->hosts, r->host, r->status);
    harness_maillog_format_time(buf, sizeof(buf), r->when, false);
    table_count(&st->minutes, buf, r->status);
    if (r->status == HARNESS_MAILLOG_SENT) {
        st->sent_delay = sim_xgrow(st->sent_delay, &st->sent_cap, st->nsent + 1, sizeof(double), 1024);
        st->sent_delay[st->nsent++] = r->delay;
    }
    /* conn_use only means something for a line that went over a connection. */
    if (strcmp(r->relay, "none") != 0) {
        size_t k = r->conn_use < 100000 ? r->conn_use : 100000;
        if (k >= st->conn_use_n) {
            size_t cap = st->conn_use_n;
            st->conn_use = sim_xgrow(st->conn_use, &cap, k + 1, sizeof(*st->conn_use), 8);
            memset(st->conn_use + st->conn_use_n, 0, (k + 1 - st->conn_use_n) * sizeof(*st->conn_use));
            st->conn_use_n = k + 1;
        }
        st->conn_use[k]++;
    }
    msg_delivery(st->msgs, r);
}

void harness_maillog_stats_sort(harness_maillog_stats *st)
{
    if (st->nsent)
        sim_sort_doubles(st->sent_delay, st->nsent);
}

double harness_maillog_quantile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    double rank = q * (double)n;
    size_t k = (size_t)rank;
    if ((double)k < rank)
        k++;
    return sorted[k ? k - 1 : 0];
}

size_t harness_maillog_stats_queue(const harness_maillog_stats *st, double **ages)
{
    const struct harness_maillog_msgs *m = st->msgs;
    *ages = NULL;
    if (m->n == 0)
        return 0;
    double *v = sim_xmalloc(m->n * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < m->nbucket; i++)
        for (const msg *e = m->bucket[i]; e; e = e->next)
            v[n++] = e->delay + (double)(st->last - e->when);
    sim_sort_doubles(v, n);
    *ages = v;
    return n;
}

/* ---- files ---- */

static void note_bad(harness_maillog_stats *st, const char *path, uint64_t lineno)
{
    if (st->nbad < HARNESS_MAILLOG_BAD_KEEP)
        snprintf(st->bad[st->nbad++], sizeof(st->bad[0]), "%s:%llu", path, (unsigned long long)lineno);
}

int harness_maillog_stats_read(harness_maillog_stats *st, const char *path, int year)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -errno;
    if (S_ISDIR(sb.st_mode))
        return -EISDIR;
    if (!S_ISREG(sb.st_mode))
        return -EINVAL;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return errno ? -errno : -ENOMEM;
    gzbuffer(gz, 1 << 16);
    /* One byte more than the longest line we take, one for the newline, one for the NUL. */
    char line[HARNESS_MAILLOG_LINE_MAX + 3];
    harness_maillog_rec r;
    uint64_t lineno = 0;
    int64_t prev = 0;
    int err = 0;
    while (gzgets(gz, line, sizeof(line))) {
        size_t len = strlen(line);
        lineno++;
        bool whole = len && line[len - 1] == '\n';
        if (whole)
            line[--len] = 0;
        if (len && line[len - 1] == '\r')
            line[--len] = 0;
        if (len > HARNESS_MAILLOG_LINE_MAX) {
            /* Too long: count it, and skip the rest of it. */
            while (!whole && gzgets(gz, line, sizeof(line)))
                whole = line[strlen(line) - 1] == '\n';
            st->lines++;
            st->malformed++;
            st->too_long++;
            note_bad(st, path, lineno);
            continue;
        }
        harness_maillog_parse(line, len, year, &r);
        if (r.kind != HARNESS_MAILLOG_SKIP && r.kind != HARNESS_MAILLOG_MALFORMED && !r.has_year) {
            if (prev && r.when < prev - 183 * 86400) {
                year++;
                harness_maillog_parse(line, len, year, &r);
            }
            prev = r.when;
        }
        if (r.kind == HARNESS_MAILLOG_MALFORMED)
            note_bad(st, path, lineno);
        harness_maillog_stats_add(st, &r);
    }
    int zerr;
    gzerror(gz, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        err = zerr == Z_ERRNO && errno ? -errno : -EIO;
    /* A truncated .gz ends with Z_BUF_ERROR: the data up to there is counted, but say so. */
    if (zerr == Z_BUF_ERROR)
        err = -EIO;
    gzclose(gz);
    return err;
}
