/*
 * results_maillog - Postfix-format log lines from attempt records.
 *
 * The delay fields reproduce the rounding of Postfix's format_tv() with two significant digits and
 * delay_logging_resolution_limit = 2 (its default): below one second the resolution is 0.01s, from
 * one second 0.1s, from ten seconds one second; the value is rounded half up at that resolution
 * and printed without trailing zeros. So 0.004 is "0", 0.123 is "0.12", 1.26 is "1.3", 9.96 is
 * "10", 299.6 is "300". The arithmetic is on integer microseconds, as Postfix's is on a timeval,
 * so no binary fraction can tip a rounding.
 *
 * Timestamps are computed with gmtime_r and our own month names: no locale, no time zone.
 */
#include "results/results_maillog.h"
#include "models/traffic.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct results_maillog {
    FILE *f;
    results_maillog_opts o;
    char *sender;
    int err;
    /* The last expiry line written, so a message's recipients log it once. */
    uint32_t expired_host;
    char expired_id[64];
    char line[4096];
};

results_maillog_opts results_maillog_defaults(void)
{
    return (results_maillog_opts){
        .epoch = RESULTS_MAILLOG_EPOCH, .qmgr_pid = 1000, .sender = TRAFFIC_DEFAULT_SENDER};
}

results_maillog *results_maillog_create(FILE *f, const results_maillog_opts *opts)
{
    results_maillog *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->f = f;
    l->o = opts ? *opts : results_maillog_defaults();
    l->sender = strdup(l->o.sender ? l->o.sender : "");
    if (!l->sender) {
        free(l);
        return NULL;
    }
    l->o.sender = l->sender;
    return l;
}

void results_maillog_free(results_maillog *l)
{
    if (!l)
        return;
    free(l->sender);
    free(l);
}

int results_maillog_format_stamp(char *buf, size_t len, int64_t epoch, sim_time_t when)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* Floor division: a negative offset (before the start) still names the right second. */
    int64_t s = when / SIM_SEC - (when % SIM_SEC < 0);
    time_t t = (time_t)(epoch + s);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return snprintf(buf, len, "Jan  1 00:00:00");
    return snprintf(buf, len, "%s %2d %02d:%02d:%02d", months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec);
}

int results_maillog_format_delay(char *buf, size_t len, sim_time_t d)
{
    if (d < 0)
        d = 0;
    int64_t sec = d / SIM_SEC, usec = d % SIM_SEC;
    int64_t res = sec >= 10 ? 1000000 : sec >= 1 ? 100000 : 10000;
    usec += res / 2;
    if (usec >= 1000000) {
        sec++;
        usec -= 1000000;
    }
    char frac[8];
    int n = 0;
    if (usec >= res) {
        frac[n++] = '.';
        int64_t rem = usec;
        for (int64_t p = 100000; p > 0 && rem >= res; p /= 10) {
            frac[n++] = (char)('0' + rem / p);
            rem %= p;
        }
    }
    frac[n] = 0;
    return snprintf(buf, len, "%lld%s", (long long)sec, frac);
}

/* A delays= part: seconds as a double, to microseconds (negative and non-finite as 0). */
static void part(char *buf, size_t len, double s)
{
    sim_time_t d = isfinite(s) && s > 0 ? (sim_time_t)llround(s * 1e6) : 0;
    results_maillog_format_delay(buf, len, d);
}

static const char *nz(const char *s, const char *dflt) { return s && *s ? s : dflt; }

static int expiry_line(char *buf, size_t len, int64_t epoch, sim_time_t when, uint32_t host,
                       const char *process, uint32_t pid, const char *queue_id, const char *sender)
{
    char stamp[32];
    results_maillog_format_stamp(stamp, sizeof(stamp), epoch, when);
    return snprintf(buf, len, "%s mta%u postfix/%s[%u]: %s: from=<%s>, status=expired, returned to sender",
                    stamp, host + 1, nz(process, "qmgr"), pid, queue_id, sender ? sender : "");
}

int results_maillog_format_attempt(char *buf, size_t len, const results_maillog_opts *opts,
                                   const mta_attempt_record *r)
{
    results_maillog_opts o = opts ? *opts : results_maillog_defaults();
    if (r->status == MTA_STATUS_EXPIRED)
        return expiry_line(buf, len, o.epoch, r->when, r->host, r->process, r->pid, r->queue_id, o.sender);
    char stamp[32], conn[32] = "", delay[24], d[4][24];
    results_maillog_format_stamp(stamp, sizeof(stamp), o.epoch, r->when);
    if (r->conn_use > 1)
        snprintf(conn, sizeof(conn), ", conn_use=%u", r->conn_use);
    results_maillog_format_delay(delay, sizeof(delay), r->when - r->arrival);
    for (int i = 0; i < 4; i++)
        part(d[i], sizeof(d[i]), r->delays[i]);
    return snprintf(buf, len,
                    "%s mta%u postfix/%s[%u]: %s: to=<%s>, relay=%s%s, delay=%s, delays=%s/%s/%s/%s, "
                    "dsn=%s, status=%s (%s)",
                    stamp, r->host + 1, nz(r->process, "smtp"), r->pid, r->queue_id, r->rcpt,
                    nz(r->relay, "none"), conn, delay, d[0], d[1], d[2], d[3], nz(r->dsn, "5.0.0"),
                    mta_status_name(r->status), r->reply ? r->reply : "");
}

/* Writes one line and its newline; the first write error sticks. */
static int put_line(results_maillog *l, const char *s, size_t n)
{
    if (l->err)
        return l->err;
    errno = 0;
    if (fwrite(s, 1, n, l->f) != n || fputc('\n', l->f) == EOF || ferror(l->f))
        l->err = errno ? -errno : -EIO;
    return l->err;
}

static int fail(results_maillog *l, int err)
{
    if (!l->err)
        l->err = err;
    return l->err;
}

int results_maillog_attempt(results_maillog *l, const mta_attempt_record *r)
{
    if (r->status == MTA_STATUS_EXPIRED) {
        if (l->expired_id[0] && l->expired_host == r->host && strcmp(l->expired_id, r->queue_id) == 0)
            return l->err;
        l->expired_host = r->host;
        snprintf(l->expired_id, sizeof(l->expired_id), "%s", r->queue_id);
    }
    int n = results_maillog_format_attempt(l->line, sizeof(l->line), &l->o, r);
    if (n < 0)
        return fail(l, -EINVAL);
    if ((size_t)n < sizeof(l->line))
        return put_line(l, l->line, (size_t)n);
    /* A reply text longer than any real one: format it once more, into a buffer that fits. */
    char *big = malloc((size_t)n + 1);
    if (!big)
        return fail(l, -ENOMEM);
    results_maillog_format_attempt(big, (size_t)n + 1, &l->o, r);
    put_line(l, big, (size_t)n);
    free(big);
    return l->err;
}

/* The qmgr lines: short by construction; one that does not fit is a caller's absurd queue id. */
static int qmgr_line(results_maillog *l, int n)
{
    if (n < 0 || (size_t)n >= sizeof(l->line))
        return fail(l, -ENAMETOOLONG);
    return put_line(l, l->line, (size_t)n);
}

int results_maillog_arrival(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id,
                            const char *sender, uint64_t size, uint32_t nrcpt)
{
    char stamp[32];
    results_maillog_format_stamp(stamp, sizeof(stamp), l->o.epoch, when);
    return qmgr_line(l, snprintf(l->line, sizeof(l->line),
                                 "%s mta%u postfix/qmgr[%u]: %s: from=<%s>, size=%llu, nrcpt=%u (queue active)",
                                 stamp, host + 1, l->o.qmgr_pid, queue_id, sender ? sender : "",
                                 (unsigned long long)size, nrcpt));
}

int results_maillog_removed(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id)
{
    char stamp[32];
    results_maillog_format_stamp(stamp, sizeof(stamp), l->o.epoch, when);
    return qmgr_line(l, snprintf(l->line, sizeof(l->line), "%s mta%u postfix/qmgr[%u]: %s: removed", stamp,
                                 host + 1, l->o.qmgr_pid, queue_id));
}

int results_maillog_expired(results_maillog *l, sim_time_t when, uint32_t host, const char *queue_id,
                            const char *sender)
{
    return qmgr_line(l, expiry_line(l->line, sizeof(l->line), l->o.epoch, when, host, "qmgr", l->o.qmgr_pid,
                                    queue_id, sender));
}

int results_maillog_finish(results_maillog *l)
{
    if (!l->err) {
        errno = 0;
        if (fflush(l->f) != 0)
            l->err = errno ? -errno : -EIO;
    }
    return l->err;
}

void results_maillog_observe(void *ctx, const mta_attempt_record *r)
{
    results_maillog_attempt(ctx, r);
}
