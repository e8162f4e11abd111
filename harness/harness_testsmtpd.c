/*
 * harness_testsmtpd - start and stop the replay's testsmtpd, and read where it listens
 * (harness_testsmtpd.h).
 */
#include "harness/harness_testsmtpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_mem.h"

#define HARNESS_TESTSMTPD_START_MS 15000

void harness_testsmtpd_last_words(const char *log_path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t n = strlen(line);
        if (n > 0 && len > 0) { /* the last non-empty line, cut to fit */
            if (n >= len)
                n = len - 1;
            memcpy(buf, line, n);
            buf[n] = 0;
        }
    }
    fclose(f);
}

static void harness_testsmtpd_free_addrs(harness_testsmtpd *t)
{
    for (size_t i = 0; t->addrs && i < t->nreceivers; i++) {
        for (char **a = t->addrs[i]; a && *a; a++)
            free(*a);
        free(t->addrs[i]);
    }
    free(t->addrs);
    t->addrs = NULL;
    t->nreceivers = 0;
}

/* An IPv4 address in 127.0.0.0/8: the loopback network, which never leaves the machine. */
static bool harness_testsmtpd_loopback(const char *a)
{
    unsigned char b[4];
    return a && inet_pton(AF_INET, a, b) == 1 && b[0] == 127;
}

void harness_testsmtpd_addr(const scenario *s, size_t r, size_t m, char *buf, size_t len)
{
    const char *named = r < s->nreceivers && m < s->receivers[r].nmx ? s->receivers[r].mx[m].address : NULL;
    if (harness_testsmtpd_loopback(named))
        snprintf(buf, len, "%s", named);
    else
        snprintf(buf, len, "127.%u.%u.%u", (unsigned)(64 + r / 256) & 0xff, (unsigned)(r % 256),
                 (unsigned)(m + 1) & 0xff);
}

bool harness_testsmtpd_served(const scenario *s, size_t i)
{
    return i + 1 < s->nreceivers || s->receivers[i].ndomains > 0;
}

typedef struct harness_testsmtpd_where {
    char addr[HARNESS_TESTSMTPD_ADDR_MAX];
    size_t r, m;
} harness_testsmtpd_where;

static int harness_testsmtpd_where_cmp(const void *a, const void *b)
{
    const harness_testsmtpd_where *x = a, *y = b;
    int d = strcmp(x->addr, y->addr);
    if (d)
        return d;
    return x->r != y->r ? (x->r < y->r ? -1 : 1) : (x->m > y->m) - (x->m < y->m);
}

int harness_testsmtpd_check(const scenario *s, char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nreceivers; i++)
        if (harness_testsmtpd_served(s, i))
            n += s->receivers[i].nmx;
    harness_testsmtpd_where *v = sim_xcalloc(n ? n : 1, sizeof(*v));
    n = 0;
    for (size_t i = 0; i < s->nreceivers; i++)
        for (size_t m = 0; harness_testsmtpd_served(s, i) && m < s->receivers[i].nmx; m++) {
            harness_testsmtpd_addr(s, i, m, v[n].addr, sizeof(v[n].addr));
            v[n].r = i;
            v[n++].m = m;
        }
    qsort(v, n, sizeof(*v), harness_testsmtpd_where_cmp);
    int rc = 0;
    for (size_t k = 1; k < n && rc == 0; k++) {
        if (strcmp(v[k - 1].addr, v[k].addr) != 0)
            continue;
        /* The loader keeps the scenario's addresses unique, and the replay's own ones are: one of the
         * two is the scenario's, the other the replay's for a host that names no loopback address. */
        const harness_testsmtpd_where *named = &v[k], *own = &v[k - 1];
        if (!harness_testsmtpd_loopback(s->receivers[named->r].mx[named->m].address)) {
            named = &v[k - 1];
            own = &v[k];
        }
        const receiver_config *rn = &s->receivers[named->r], *ro = &s->receivers[own->r];
        snprintf(err, errlen,
                 "receivers[%s].mx[%zu].address: %s is where the replay listens for MX host %s of receiver '%s', "
                 "which names no loopback address (MX host M of receiver R gets 127.(64 + R / 256).(R %% 256).(M + "
                 "1)): choose another, or give that host an address too",
                 rn->name, named->m, named->addr, ro->mx[own->m].host, ro->name);
        rc = -EINVAL;
    }
    free(v);
    return rc;
}

/* Reads the ready file into t->addrs. 0, or -EINVAL with err. */
static int harness_testsmtpd_read_ready(harness_testsmtpd *t, const scenario *s, char *err, size_t errlen)
{
    FILE *f = fopen(t->ready, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", t->ready, strerror(e));
        return -e;
    }
    t->nreceivers = s->nreceivers;
    t->addrs = sim_xcalloc(s->nreceivers, sizeof(*t->addrs));
    for (size_t i = 0; i < s->nreceivers; i++)
        if (harness_testsmtpd_served(s, i))
            t->addrs[i] = sim_xcalloc(s->receivers[i].nmx + 1, sizeof(char *));
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char kind[16], a[256], b[256], c[256];
        int n = sscanf(line, "%15s %255s %255s %255s", kind, a, b, c);
        if (n == 3 && strcmp(kind, "clock") == 0) {
            t->clock_origin = strtoll(a, NULL, 10);
            t->clock_rate = strtod(b, NULL);
            continue;
        }
        if (n != 4 || strcmp(kind, "smtp") != 0)
            continue;
        size_t ri = 0;
        while (ri < s->nreceivers && strcmp(s->receivers[ri].name, a) != 0)
            ri++;
        if (ri == s->nreceivers || !t->addrs[ri]) {
            snprintf(err, errlen, "%s: a listener for receiver %s, which the replay did not ask for", t->ready, a);
            rc = -EINVAL;
            break;
        }
        const receiver_config *r = &s->receivers[ri];
        size_t m = 0;
        while (m < r->nmx && strcmp(r->mx[m].host, b) != 0)
            m++;
        if (m == r->nmx || t->addrs[ri][m]) {
            snprintf(err, errlen, "%s: an unexpected listener for %s (%s)", t->ready, a, b);
            rc = -EINVAL;
            break;
        }
        t->addrs[ri][m] = sim_xstrdup(c);
    }
    fclose(f);
    for (size_t i = 0; rc == 0 && i < s->nreceivers; i++)
        for (size_t m = 0; t->addrs[i] && m < s->receivers[i].nmx; m++)
            if (!t->addrs[i][m]) {
                snprintf(err, errlen, "%s: no listener for %s (%s)", t->ready, s->receivers[i].name,
                         s->receivers[i].mx[m].host);
                rc = -EINVAL;
            }
    if (rc == 0 && !(t->clock_rate >= 1)) {
        snprintf(err, errlen, "%s: no clock line (is testsmtpd older than this tempfail?)", t->ready);
        rc = -EINVAL;
    }
    return rc;
}

int harness_testsmtpd_start(harness_testsmtpd *t, const char *bin, const char *scenario_path, const scenario *s,
                            double clock_rate, int port, const char *dir, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->ready, sizeof(t->ready), "%s/testsmtpd.ready", dir);
    snprintf(t->events, sizeof(t->events), "%s/testsmtpd.events.jsonl", dir);
    snprintf(t->log, sizeof(t->log), "%s/testsmtpd.log", dir);
    unlink(t->ready);
    unlink(t->events);

    size_t cap = 16 + 2 * s->nreceivers * (RECEIVER_MX_MAX + 1), n = 0;
    char **argv = sim_xcalloc(cap, sizeof(*argv));
    char rate[32];
    snprintf(rate, sizeof(rate), "%.17g", clock_rate);
    const char *fixed[] = {bin, "--scenario", scenario_path, "--ready-file", t->ready, "--log", t->events,
                           "--only-listen", "--clock-rate", rate, "--user", "nobody"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        argv[n++] = sim_xstrdup(fixed[i]);
    if (geteuid() != 0)
        n -= 2; /* --user only matters (and is only allowed) as root */
    for (size_t i = 0; i < s->nreceivers; i++) {
        if (!harness_testsmtpd_served(s, i))
            continue;
        const receiver_config *r = &s->receivers[i];
        for (size_t m = 0; m < r->nmx; m++) {
            char a[512], ip[HARNESS_TESTSMTPD_ADDR_MAX];
            harness_testsmtpd_addr(s, i, m, ip, sizeof(ip));
            snprintf(a, sizeof(a), "%s/%s=%s:%d", r->name, r->mx[m].host, ip, port);
            argv[n++] = sim_xstrdup("--listen");
            argv[n++] = sim_xstrdup(a);
        }
    }
    argv[n] = NULL;
    int rc = harness_proc_start(&t->proc, "testsmtpd", argv, t->log, err, errlen);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
    if (rc < 0)
        return rc;
    long long until = harness_proc_now_ns() + HARNESS_TESTSMTPD_START_MS * 1000000LL;
    while (access(t->ready, R_OK) != 0) {
        if (!harness_proc_alive(&t->proc)) {
            char last[512], how[64];
            harness_testsmtpd_last_words(t->log, last, sizeof(last));
            harness_proc_describe(t->proc.status, how, sizeof(how));
            snprintf(err, errlen, "testsmtpd did not start (%s): %s", how, last[0] ? last : "no output");
            return -ECHILD;
        }
        if (harness_proc_now_ns() > until) {
            harness_proc_stop(&t->proc, 1000);
            snprintf(err, errlen, "testsmtpd did not listen within %d s (its output: %s)",
                     HARNESS_TESTSMTPD_START_MS / 1000, t->log);
            return -ETIMEDOUT;
        }
        harness_proc_sleep_ms(10);
    }
    rc = harness_testsmtpd_read_ready(t, s, err, errlen);
    if (rc < 0)
        harness_testsmtpd_stop(t);
    return rc;
}

bool harness_testsmtpd_alive(harness_testsmtpd *t) { return harness_proc_alive(&t->proc); }

void harness_testsmtpd_stop(harness_testsmtpd *t)
{
    harness_proc_stop(&t->proc, 5000);
    harness_testsmtpd_free_addrs(t);
}
