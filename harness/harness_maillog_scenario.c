/*
 * harness_maillog_scenario - a starting scenario from a Postfix log (what and why: the header).
 *
 * Messages are rows of a count table keyed "host queue_id" (rows keep their index, so the
 * per-message arrays run beside them); reply texts and MX hosts are count tables keyed
 * "domain<TAB>text". Every string that reaches the YAML is double-quoted with its quotes and
 * backslashes escaped, and every comment is one line: a log is untrusted input and must not be
 * able to write a key of its own into the scenario.
 */
#include "harness/harness_maillog_scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness_maillog_stats.h"
#include "sim/sim_mem.h"

struct harness_maillog_scenario {
    harness_maillog_table msgs;    /* "host qid", first seen first */
    double *arrival;               /* UTC seconds (fractional) */
    uint64_t *size;                /* 0: unknown */
    size_t *domain;                /* row of domains */
    size_t cap;
    harness_maillog_table domains; /* messages by first recipient's domain */
    harness_maillog_table replies; /* "domain\treason\ttext": deferrals */
    harness_maillog_table mxs;     /* "domain\tmx host": relays of delivery attempts */
};

harness_maillog_scenario *harness_maillog_scenario_create(void) { return sim_xcalloc(1, sizeof(harness_maillog_scenario)); }

void harness_maillog_scenario_free(harness_maillog_scenario *sc)
{
    if (!sc)
        return;
    harness_maillog_table_free(&sc->msgs);
    harness_maillog_table_free(&sc->domains);
    harness_maillog_table_free(&sc->replies);
    harness_maillog_table_free(&sc->mxs);
    free(sc->arrival);
    free(sc->size);
    free(sc->domain);
    free(sc);
}

size_t harness_maillog_scenario_messages(const harness_maillog_scenario *sc) { return sc->msgs.n; }

/* The loader's rule for a domain (scenario_conv_node_domain): letters, digits, '-', '_' and single
 * dots, not starting with '.' or '-', not ending with '.'. A log's recipient or MX host that breaks
 * it is left out, so the scenario written always loads. */
static bool domain_ok(const char *t)
{
    size_t len = strlen(t);
    bool ok = len > 0 && len <= 253 && t[0] != '.' && t[0] != '-' && t[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char ch = (unsigned char)t[i];
        ok = isalnum(ch) || ch == '-' || ch == '_' || (ch == '.' && t[i + 1] != '.');
    }
    return ok;
}

/* The recipient's domain in lower case; "" when there is none or the loader would refuse it. */
static void lower_domain(char *buf, size_t len, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    snprintf(buf, len, "%s", at ? at + 1 : "");
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!domain_ok(buf))
        buf[0] = 0;
}

void harness_maillog_scenario_observe(void *ctx, const harness_maillog_rec *r)
{
    harness_maillog_scenario *sc = ctx;
    if (r->kind != HARNESS_MAILLOG_DELIVERY && r->kind != HARNESS_MAILLOG_QUEUED)
        return;
    char key[128], dom[256];
    snprintf(key, sizeof(key), "%s %s", r->host, r->queue_id);
    harness_maillog_count *row = harness_maillog_table_get(&sc->msgs, key);
    size_t i = (size_t)(row - sc->msgs.row);
    double at = (double)r->when + r->usec / 1e6 - (r->kind == HARNESS_MAILLOG_DELIVERY ? r->delay : 0);
    if (row->total++ == 0) {
        /* A new message: the three arrays grow together, to the table's size. */
        if (sc->msgs.n > sc->cap) {
            size_t c = sc->cap ? sc->cap * 2 : 1024;
            sc->arrival = sim_xreallocarray(sc->arrival, c, sizeof(*sc->arrival));
            sc->size = sim_xreallocarray(sc->size, c, sizeof(*sc->size));
            sc->domain = sim_xreallocarray(sc->domain, c, sizeof(*sc->domain));
            sc->cap = c;
        }
        sc->arrival[i] = at;
        sc->size[i] = 0;
        sc->domain[i] = SIZE_MAX;
    } else if (at < sc->arrival[i])
        sc->arrival[i] = at;
    if (r->kind == HARNESS_MAILLOG_QUEUED) {
        sc->size[i] = r->size;
        return;
    }
    lower_domain(dom, sizeof(dom), r->rcpt);
    if (!dom[0])
        return;
    if (sc->domain[i] == SIZE_MAX) {
        harness_maillog_count *d = harness_maillog_table_get(&sc->domains, dom);
        d->total++;
        sc->domain[i] = (size_t)(d - sc->domains.row);
    }
    char buf[600];
    if (strcmp(r->relay, "none") != 0) {
        char mx[256];
        snprintf(mx, sizeof(mx), "%.*s", (int)strcspn(r->relay, "[:"), r->relay);
        if (domain_ok(mx)) {
            snprintf(buf, sizeof(buf), "%s\t%s", dom, mx);
            harness_maillog_table_get(&sc->mxs, buf)->total++;
        }
    }
    if (r->status == HARNESS_MAILLOG_DEFERRED && strcmp(r->reason, "suspended") != 0) {
        int n = r->reply_len > 300 ? 300 : (int)r->reply_len;
        snprintf(buf, sizeof(buf), "%s\t%s\t%.*s", dom, r->reason, n, r->reply);
        harness_maillog_table_get(&sc->replies, buf)->total++;
    }
}

/* A YAML double-quoted scalar (control characters as spaces). */
static void quoted(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fputc('\\', f);
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    fputc('"', f);
}

/* A one-line comment's text: no line breaks; the key's tabs as " | ". */
static void comment_text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '\t')
            fputs(" | ", f);
        else
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void write_size(const harness_maillog_scenario *sc, FILE *f)
{
    size_t n = 0;
    uint64_t *v = sim_xmalloc((sc->msgs.n ? sc->msgs.n : 1) * sizeof(*v));
    for (size_t i = 0; i < sc->msgs.n; i++)
        if (sc->size[i])
            v[n++] = sc->size[i];
    if (n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        uint64_t med = v[(n - 1) / 2], p99 = v[(size_t)ceil(0.99 * (double)n) - 1];
        if (p99 > med)
            fprintf(f, "      size: { dist: lognormal, median: %llu, p99: %llu }   # bytes, from qmgr's size=\n",
                    (unsigned long long)med, (unsigned long long)p99);
        else
            fprintf(f, "      size: %llu   # bytes, from qmgr's size=\n", (unsigned long long)med);
    } else
        fputs("      # size: no qmgr size= lines in the log; the default applies\n", f);
    free(v);
}

/* The schedule: one step per hour of arrivals from t0; a last piece under 10 minutes joins the hour
 * before it, so a short tail does not make a wild rate. */
static void write_schedule(const harness_maillog_scenario *sc, FILE *f, double t0, double span)
{
    size_t nsteps = (size_t)(span / 3600) + 1;
    if (nsteps > 1 && span - 3600.0 * (double)(nsteps - 1) < 600)
        nsteps--;
    uint64_t *count = sim_xcalloc(nsteps, sizeof(*count));
    for (size_t i = 0; i < sc->msgs.n; i++) {
        size_t k = (size_t)((sc->arrival[i] - t0) / 3600);
        count[k < nsteps ? k : nsteps - 1]++;
    }
    fputs("      arrivals:\n        process: schedule\n        steps:\n", f);
    for (size_t k = 0; k < nsteps; k++) {
        double from = 3600.0 * (double)k, to = k + 1 == nsteps ? span : from + 3600;
        fprintf(f, "          - { at: %llus, rate: %.6g/h }\n", (unsigned long long)from,
                (double)count[k] * 3600 / (to - from));
    }
    free(count);
}

/* Rows of t whose key starts with "domain\t", in first-seen order. */
static bool for_domain(const harness_maillog_count *row, const char *dom, const char **rest)
{
    size_t n = strlen(dom);
    if (strncmp(row->key, dom, n) != 0 || row->key[n] != '\t')
        return false;
    *rest = row->key + n + 1;
    return true;
}

static void write_receivers(const harness_maillog_scenario *sc, FILE *f)
{
    harness_maillog_count *by_count = harness_maillog_table_sorted(&sc->replies);
    harness_maillog_table names = {0};
    /* Names a receiver may not take: the implicit receiver's and the class's. */
    harness_maillog_table_get(&names, "default")->total++;
    harness_maillog_table_get(&names, "observed")->total++;
    bool any = false;
    for (size_t d = 0; d < sc->domains.n; d++) {
        const char *dom = sc->domains.row[d].key, *rest;
        bool throttled = false;
        for (size_t i = 0; i < sc->replies.n && !throttled; i++)
            throttled = for_domain(&sc->replies.row[i], dom, &rest);
        if (!throttled)
            continue;
        if (!any)
            fputs("\nreceivers:   # one per destination that deferred mail; the policy is yours to write\n", f);
        any = true;
        /* A name of letters, digits, '_' and '-'; a.b.test and a_b.test would both be a_b_test,
         * so a name already given gets the domain's row number. */
        char name[300];
        size_t n = 0;
        for (const char *p = dom; *p && n + 1 < sizeof(name); p++)
            name[n++] = (char)(isalnum((unsigned char)*p) || *p == '-' ? *p : '_');
        name[n] = 0;
        harness_maillog_count *used = harness_maillog_table_get(&names, name);
        if (used->total++)
            snprintf(name + n, sizeof(name) - n, "-%zu", d);
        fprintf(f, "  - name: %s\n    domains: [", name);
        quoted(f, dom, strlen(dom));
        fputs("]\n", f);
        bool mx = false;
        for (size_t i = 0; i < sc->mxs.n; i++)
            if (for_domain(&sc->mxs.row[i], dom, &rest) && rest[0]) {
                fputs(mx ? "" : "    mx:\n", f);
                fputs("      - { host: ", f);
                quoted(f, rest, strlen(rest));
                fputs(" }\n", f);
                mx = true;
            }
        fputs("    # replies seen (deferrals | reason key | text); policy rules in docs/scenario.md:\n", f);
        /* The most frequent texts (a text that quotes the recipient is one per recipient). */
        size_t shown = 0;
        uint64_t more = 0;
        for (size_t i = 0; i < sc->replies.n; i++) {
            if (!for_domain(&by_count[i], dom, &rest))
                continue;
            if (shown++ >= 5) {
                more += by_count[i].total;
                continue;
            }
            fprintf(f, "    #   %llu | ", (unsigned long long)by_count[i].total);
            comment_text(f, rest);
            fputc('\n', f);
        }
        if (more)
            fprintf(f, "    #   %llu more, other texts\n", (unsigned long long)more);
        fputs("    # policy:\n    #   - { rule: concurrency_per_ip, limit: 3, count_idle: true, reply: \"421 ...\" }\n", f);
    }
    free(by_count);
    harness_maillog_table_free(&names);
}

int harness_maillog_scenario_write(const harness_maillog_scenario *sc, FILE *f, const char *name,
                                   const char *source)
{
    if (sc->msgs.n == 0)
        return -EINVAL;
    double t0 = sc->arrival[0], t1 = sc->arrival[0];
    for (size_t i = 1; i < sc->msgs.n; i++) {
        t0 = fmin(t0, sc->arrival[i]);
        t1 = fmax(t1, sc->arrival[i]);
    }
    t0 = floor(t0);
    double span = fmax(ceil(t1 - t0) + 1, 60);
    char start[32];
    harness_maillog_format_time(start, sizeof(start), (int64_t)t0, true);
    fputs("# A starting scenario from a Postfix log (`tempfail maillog --scenario`): traffic as observed;\n"
          "# receivers with what the log says of them. Edit before use: docs/scenario.md.\n",
          f);
    fputs("name: ", f);
    quoted(f, name, strlen(name));
    fputs("\ndescription: ", f);
    quoted(f, source, strlen(source));
    fprintf(f, "\nstart: \"%s\"\nduration: %llus\nuntil: drained\n\ntraffic:\n  classes:\n    - name: observed\n",
            start, (unsigned long long)span);
    fprintf(f, "      # %zu messages\n", sc->msgs.n);
    write_schedule(sc, f, t0, span);
    write_size(sc, f);
    fputs("      domains:\n", f);
    for (size_t d = 0; d < sc->domains.n; d++) {
        fputs("        ", f);
        quoted(f, sc->domains.row[d].key, strlen(sc->domains.row[d].key));
        fprintf(f, ": %llu\n", (unsigned long long)sc->domains.row[d].total);
    }
    write_receivers(sc, f);
    return ferror(f) ? -EIO : 0;
}
