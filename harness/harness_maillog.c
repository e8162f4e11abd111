/*
 * harness_maillog - the Postfix log line parser (the formats are in harness_maillog.h).
 *
 * The parser works on a length-bounded span with a cursor and never writes to the line, so a
 * caller can hand it a buffer straight from the reader; everything it keeps is copied into the
 * record's fixed arrays, truncated rather than grown: a log is untrusted input and a record must
 * stay the same size whatever a line holds.
 *
 * It is deliberately strict about the shape of a delivery report (to=<, a status, a parenthesised
 * text) and lenient about the fields between, which vary across Postfix versions (delays= and dsn=
 * since 2.3, conn_use= since 2.11, tls= since 3.10) and configurations.
 */
#include "harness/harness_maillog.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
} span;

static bool at_end(const span *s) { return s->p >= s->end; }

static bool eat(span *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Reads up to `digits` digits (at least one) into *v; false past INT_MAX (a pid field of ten 9s). */
static bool num(span *s, int digits, int *v)
{
    int n = 0;
    long long x = 0;
    while (n < digits && !at_end(s) && isdigit((unsigned char)*s->p)) {
        x = x * 10 + (*s->p++ - '0');
        n++;
    }
    if (x > INT_MAX)
        return false;
    *v = (int)x;
    return n > 0;
}

static void copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* A token up to the next space. */
static bool word(span *s, char *dst, size_t cap)
{
    const char *b = s->p;
    while (!at_end(s) && *s->p != ' ')
        s->p++;
    if (s->p == b)
        return false;
    copy(dst, cap, b, (size_t)(s->p - b));
    return true;
}

int64_t harness_maillog_days(int year, int month, int day)
{
    /* Howard Hinnant's days_from_civil. */
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool clock_part(span *s, int *h, int *mi, int *sec, int32_t *usec)
{
    if (!num(s, 2, h) || !eat(s, ":") || !num(s, 2, mi) || !eat(s, ":") || !num(s, 2, sec))
        return false;
    *usec = 0;
    if (eat(s, ".") || eat(s, ",")) {
        int n = 0;
        int32_t u = 0;
        while (!at_end(s) && isdigit((unsigned char)*s->p)) {
            if (n < 6)
                u = u * 10 + (*s->p - '0');
            n++;
            s->p++;
        }
        if (n == 0)
            return false;
        for (; n < 6; n++)
            u *= 10;
        *usec = u;
    }
    return *h < 24 && *mi < 60 && *sec <= 60;
}

/* "2026-12-01T11:38:27[.123456](Z|+00:00|+0000)" */
static bool iso_stamp(span *s, int64_t *when, int32_t *usec)
{
    int y, mo, d, h, mi, sec;
    if (!num(s, 4, &y) || !eat(s, "-") || !num(s, 2, &mo) || !eat(s, "-") || !num(s, 2, &d) ||
        !(eat(s, "T") || eat(s, " ")) || !clock_part(s, &h, &mi, &sec, usec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    int64_t off = 0;
    if (eat(s, "Z")) {
    } else if (!at_end(s) && (*s->p == '+' || *s->p == '-')) {
        int sign = *s->p++ == '-' ? -1 : 1, oh, om = 0;
        if (!num(s, 2, &oh))
            return false;
        eat(s, ":");
        num(s, 2, &om);
        off = sign * (oh * 3600 + om * 60);
    }
    *when = harness_maillog_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return true;
}

/* "Dec  1 11:38:27", "Dec 01 11:38:27" (maillog_file), optionally with a fraction. */
static bool syslog_stamp(span *s, int year, int64_t *when, int32_t *usec)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (s->end - s->p < 4)
        return false;
    int mo = 0;
    for (int i = 0; i < 12; i++)
        if (memcmp(s->p, months + 3 * i, 3) == 0)
            mo = i + 1;
    if (!mo || s->p[3] != ' ')
        return false;
    s->p += 4;
    eat(s, " ");
    int d, h, mi, sec;
    if (!num(s, 2, &d) || d < 1 || d > 31 || !eat(s, " ") || !clock_part(s, &h, &mi, &sec, usec))
        return false;
    *when = harness_maillog_days(year, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

/* "postfix/smtp[31998]: " into tag (the pid is not kept). */
static bool tag_part(span *s, char *tag, size_t cap)
{
    const char *b = s->p;
    while (!at_end(s) && *s->p != '[' && *s->p != ' ' && *s->p != ':')
        s->p++;
    const char *slash = memchr(b, '/', (size_t)(s->p - b));
    if (!slash || slash == b || slash + 1 == s->p)
        return false;
    copy(tag, cap, b, (size_t)(s->p - b));
    if (eat(s, "[")) {
        int pid;
        if (!num(s, 10, &pid) || !eat(s, "]"))
            return false;
    }
    return eat(s, ": ");
}

static bool queue_id(span *s, char *dst, size_t cap)
{
    const char *b = s->p;
    while (!at_end(s) && isalnum((unsigned char)*s->p))
        s->p++;
    if (s->p == b || !eat(s, ": "))
        return false;
    copy(dst, cap, b, (size_t)(s->p - 2 - b));
    return true;
}

/* "<addr>" into dst: up to the last '>' before the next ", " or the end. */
static bool angle(span *s, char *dst, size_t cap)
{
    if (!eat(s, "<"))
        return false;
    const char *b = s->p, *gt = NULL;
    for (const char *q = b; q < s->end; q++)
        if (*q == '>') {
            gt = q;
            if (q + 1 == s->end || q[1] == ',' || q[1] == ' ')
                break;
        }
    if (!gt)
        return false;
    copy(dst, cap, b, (size_t)(gt - b));
    s->p = gt + 1;
    return true;
}

/* A field value: up to the next ", " (or the end). */
static span value(span *s)
{
    span v = {s->p, s->p};
    while (v.end < s->end && !(v.end[0] == ',' && v.end + 1 < s->end && v.end[1] == ' '))
        v.end++;
    s->p = v.end;
    return v;
}

/* A Postfix duration: digits with an optional fraction, nothing else. */
static bool duration(span *s, double *out)
{
    const char *b = s->p;
    double v = 0, scale = 1;
    while (!at_end(s) && isdigit((unsigned char)*s->p))
        v = v * 10 + (*s->p++ - '0');
    if (s->p == b)
        return false;
    if (eat(s, "."))
        while (!at_end(s) && isdigit((unsigned char)*s->p))
            v += (*s->p++ - '0') * (scale /= 10);
    *out = v;
    return true;
}

static const char *status_names[HARNESS_MAILLOG_NSTATUS] = {"sent", "deferred", "bounced", "expired"};

const char *harness_maillog_status_name(harness_maillog_status st)
{
    return st < HARNESS_MAILLOG_NSTATUS ? status_names[st] : "?";
}

static const char *find(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return s + i;
    return NULL;
}

/* The stage of the conversation "(in reply to X command)" names, as the simulator's keys say it. */
static const char *stage_key(const char *in, size_t len, int code)
{
    static const struct {
        const char *cmd, *k421, *k4xx, *k5xx;
    } stages[] = {
        {"(in reply to end of DATA command)", "421 data", "4xx data", "5xx data"},
        {"(in reply to DATA command)", "421 data", "4xx data", "5xx data"},
        {"(in reply to RCPT TO command)", "421 rcpt", "4xx rcpt", "5xx rcpt"},
        {"(in reply to MAIL FROM command)", "421 mail", "4xx mail", "5xx mail"},
        {"(in reply to EHLO command)", "421 ehlo", "4xx ehlo", "5xx ehlo"},
        {"(in reply to HELO command)", "421 ehlo", "4xx ehlo", "5xx ehlo"},
        {"(in reply to RSET command)", "421 rset", "4xx rset", "5xx rset"},
        {"(in reply to STARTTLS command)", "421 starttls", "4xx starttls", "5xx starttls"},
    };
    for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
        if (find(in, len, stages[i].cmd))
            return code == 421 ? stages[i].k421 : code >= 500 ? stages[i].k5xx : stages[i].k4xx;
    return code == 421 ? "421 other" : code >= 500 ? "5xx other" : "4xx other";
}

static int reply_code(const char *p, const char *end)
{
    if (end - p < 3 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]))
        return 0;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

const char *harness_maillog_reason(harness_maillog_status st, const char *t, size_t len)
{
    const char *end = t + len, *m;
    if (st == HARNESS_MAILLOG_SENT)
        return "delivered";
    if (st == HARNESS_MAILLOG_EXPIRED_RCPT)
        return "expired";
    /* First: a suspended destination's text quotes the failure that suspended it. */
    if (len >= 32 && memcmp(t, "delivery temporarily suspended: ", 32) == 0)
        return "suspended";
    if ((m = find(t, len, " refused to talk to me: "))) {
        int code = reply_code(m + 24, end);
        return code == 421 ? "421 greeting" : code >= 500 ? "5xx greeting" : "4xx greeting";
    }
    if (len > 5 && memcmp(t, "host ", 5) == 0 && (m = find(t, len, " said: ")))
        return stage_key(m, (size_t)(end - m), reply_code(m + 7, end));
    if (len > 11 && memcmp(t, "connect to ", 11) == 0) {
        if (find(t, len, ": Connection refused"))
            return "connect refused";
        if (find(t, len, ": Connection timed out"))
            return "connect timeout";
        return "connect failed";
    }
    if (len > 21 && memcmp(t, "lost connection with ", 21) == 0)
        return "lost connection";
    if (len > 18 && memcmp(t, "conversation with ", 18) == 0 && find(t, len, " timed out while "))
        return "timeout";
    if (find(t, len, "Host or domain name not found") || find(t, len, "Name service error"))
        return "dns tempfail";
    return st == HARNESS_MAILLOG_BOUNCED ? "bounced other" : "other";
}

/* The part after "QUEUEID: to=": fields, then the status and its text. */
static bool delivery(span *s, harness_maillog_rec *r)
{
    if (!angle(s, r->rcpt, sizeof(r->rcpt)))
        return false;
    bool have_delay = false;
    r->conn_use = 1;
    for (;;) {
        if (!eat(s, ", "))
            return false;
        if (eat(s, "orig_to=")) {
            if (!angle(s, r->orig_to, sizeof(r->orig_to)))
                return false;
        } else if (eat(s, "relay=")) {
            span v = value(s);
            copy(r->relay, sizeof(r->relay), v.p, (size_t)(v.end - v.p));
        } else if (eat(s, "conn_use=")) {
            int n;
            if (!num(s, 9, &n) || n < 1)
                return false;
            r->conn_use = (uint32_t)n;
        } else if (eat(s, "delay=")) {
            if (!duration(s, &r->delay))
                return false;
            have_delay = true;
        } else if (eat(s, "delays=")) {
            for (int i = 0; i < 4; i++)
                if ((i && !eat(s, "/")) || !duration(s, &r->delays[i]))
                    return false;
            r->has_delays = true;
        } else if (eat(s, "dsn=")) {
            span v = value(s);
            copy(r->dsn, sizeof(r->dsn), v.p, (size_t)(v.end - v.p));
        } else if (eat(s, "status=")) {
            break;
        } else {
            value(s); /* a field of another version: tls=, ... */
        }
    }
    int st = -1;
    for (int i = 0; i < HARNESS_MAILLOG_NSTATUS; i++) {
        span t = *s;
        if (eat(&t, status_names[i]) && eat(&t, " (")) {
            st = i;
            *s = t;
            break;
        }
    }
    if (st < 0 || !have_delay || !r->relay[0] || s->end <= s->p || s->end[-1] != ')')
        return false;
    r->status = (harness_maillog_status)st;
    r->reply = s->p;
    r->reply_len = (size_t)(s->end - 1 - s->p);
    r->reason = harness_maillog_reason(r->status, r->reply, r->reply_len);
    return true;
}

/* qmgr's "from=<S>, size=N, nrcpt=M (queue active)" or "from=<S>, status=expired, returned to sender". */
static harness_maillog_kind qmgr_from(span *s, harness_maillog_rec *r)
{
    if (!angle(s, r->from, sizeof(r->from)))
        return HARNESS_MAILLOG_SKIP;
    if (eat(s, ", status=expired, returned to sender"))
        return HARNESS_MAILLOG_EXPIRED;
    int n;
    if (!eat(s, ", size="))
        return HARNESS_MAILLOG_SKIP;
    const char *b = s->p;
    while (!at_end(s) && isdigit((unsigned char)*s->p) && s->p - b < 19)
        r->size = r->size * 10 + (uint64_t)(*s->p++ - '0');
    if (s->p == b || !eat(s, ", nrcpt=") || !num(s, 9, &n))
        return HARNESS_MAILLOG_SKIP;
    r->nrcpt = (uint32_t)n;
    return HARNESS_MAILLOG_QUEUED;
}

/* "NAME: limit L window W success S failure F fail_cohorts C" (qmgr_queue.c, QMGR_LOG_WINDOW). */
static bool feedback(span *s, harness_maillog_rec *r)
{
    const char *name = s->p, *end = find(s->p, (size_t)(s->end - s->p), ": limit ");
    if (!end)
        return false;
    copy(r->relay, sizeof(r->relay), name, (size_t)(end - name));
    s->p = end;
    char *e;
    char buf[64];
    const char *keys[] = {": limit ", " window ", " success ", " failure ", " fail_cohorts "};
    double v[5];
    for (size_t k = 0; k < 5; k++) {
        if (!eat(s, keys[k]))
            return false;
        size_t n = 0;
        while (!at_end(s) && *s->p != ' ' && n + 1 < sizeof(buf))
            buf[n++] = *s->p++;
        buf[n] = 0;
        v[k] = strtod(buf, &e);
        if (n == 0 || *e)
            return false;
    }
    if (!at_end(s) || v[1] < 0 || v[0] < 0)
        return false;
    r->limit = (int32_t)v[0];
    r->window = (int32_t)v[1];
    r->success = v[2];
    r->failure = v[3];
    r->fail_cohorts = v[4];
    return true;
}

harness_maillog_kind harness_maillog_parse(const char *line, size_t len, int year, harness_maillog_rec *r)
{
    memset(r, 0, sizeof(*r));
    span s = {line, line + len};
    bool stamped = r->has_year = iso_stamp(&s, &r->when, &r->usec);
    if (!stamped) {
        s.p = line;
        stamped = syslog_stamp(&s, year, &r->when, &r->usec);
    }
    bool shaped = stamped && eat(&s, " ") && word(&s, r->host, sizeof(r->host)) && eat(&s, " ") &&
                  tag_part(&s, r->tag, sizeof(r->tag));
    bool positive = shaped && eat(&s, "qmgr_queue_unthrottle: queue ");
    if (positive || (shaped && eat(&s, "qmgr_queue_throttle: queue "))) {
        r->positive = positive;
        if (feedback(&s, r))
            return r->kind = HARNESS_MAILLOG_FEEDBACK;
        memset(r, 0, sizeof(*r)); /* msg_verbose's shorter form, or a later version's: not ours */
        return r->kind = HARNESS_MAILLOG_SKIP;
    }
    if (!shaped || !queue_id(&s, r->queue_id, sizeof(r->queue_id))) {
        /* A delivery report whose prefix we cannot read is a Postfix line gone wrong. */
        bool claims = find(line, len, ": to=<") && find(line, len, ", status=");
        memset(r, 0, sizeof(*r));
        return r->kind = claims ? HARNESS_MAILLOG_MALFORMED : HARNESS_MAILLOG_SKIP;
    }
    if (eat(&s, "to="))
        r->kind = delivery(&s, r) ? HARNESS_MAILLOG_DELIVERY : HARNESS_MAILLOG_MALFORMED;
    else if (eat(&s, "from="))
        r->kind = qmgr_from(&s, r);
    else if (eat(&s, "removed") && at_end(&s))
        r->kind = HARNESS_MAILLOG_REMOVED;
    else
        r->kind = HARNESS_MAILLOG_SKIP;
    return r->kind;
}
