/*
 * policy - the receiver policy engine: what a receiver replies to each SMTP event (policy.h).
 *
 * Shared by the simulator (simulated time) and testsmtpd (monotonic clock), so it reads no clock,
 * prints nothing and knows no socket: `now` is an argument, and the same calls with the same rng give
 * the same verdicts. `now` must not go backwards between calls (both clocks are monotonic).
 *
 * How a stage is decided
 *   policy_force comes first: the next n CONNECTs get the forced reply and no rule sees them (it is a
 *   test hook; the session still counts as open). Then, at CONNECT only, an engaged penalty box
 *   decides whatever its position in the list: it is a verdict already reached about the client, it
 *   replaces the other checks. Then every rule that applies to the stage is evaluated, in order; the
 *   first that rejects decides the reply (code, text, close, silent, rule index). The rules after it
 *   still see the event: rate windows count the attempt (Postfix's anvil counts a request before
 *   smtpd's restrictions decide anything), random faults still draw (so a receiver's random stream
 *   does not depend on its other rules: one draw per evaluation), and tarpit delays of every matching
 *   rule add up, whoever rejects. Only GREYLIST is skipped once a rule has rejected: a policy server
 *   such as postgrey is asked only when the restrictions before it passed, and recording a triplet
 *   the client was never greylisted for would let its retry through unchecked.
 *
 * Rule kinds (the stage is fixed except for TARPIT and RANDOM_FAULT)
 *   CONCURRENCY_PER_IP / _TOTAL (CONNECT): refused when the sessions already open from that IP / in
 *     total (idle ones only with count_idle) are >= limit. A refused session is still open until
 *     policy_close, as its socket is: real receivers count sockets, so a client that hammers a full
 *     receiver keeps it full. Sessions are busy from connect until a policy_reset, idle after it, and
 *     busy again at policy_mail (a cached connection, in Postfix's terms, is idle).
 *   CONNECTION_RATE_PER_IP (CONNECT), MESSAGE_RATE_PER_IP (MAIL), RECIPIENT_RATE_PER_IP (RCPT): an
 *     exact sliding window. Refused when `limit` events from that IP already happened in
 *     (now - window, now]. Every attempt counts, refused ones included, as anvil counts requests:
 *     that is what keeps a hammering sender throttled. Each (IP, rule) keeps a ring of its last `limit`
 *     event times, allocated on the IP's first event (limit <= 10,000,000).
 *   MESSAGES_PER_SESSION (MAIL): after `limit` messages accepted at end of data in the session, the
 *     next MAIL gets the reply (default: close), or with `silent` a close without any reply (Yahoo).
 *   RECIPIENTS_PER_MESSAGE (RCPT): once `limit` recipients of the transaction were accepted, further
 *     RCPTs get 452 and the session stays open (Postfix's smtpd_recipient_limit counts accepted ones).
 *   GREYLIST (RCPT): postgrey. The triplet is (client IPv4 /24, or the whole address string for
 *     anything else; sender; recipient), addresses without <> and compared case-insensitively. First
 *     sight: 450. A retry at least `delay` and at most `duration` (the retry window, default 2 days)
 *     after first sight passes and the triplet is remembered as passed; earlier retries get 450 again
 *     without resetting first sight; later ones start over as a first sight. A passed triplet passes
 *     until unseen for 35 days (postgrey's max-age). After `auto_allow` passes from one client /24,
 *     the client is allow-listed (no triplet check, no triplet recorded) until unseen for 35 days.
 *     Triplets are stored as 64-bit hashes in an open-addressing table, so a new triplet allocates
 *     nothing; a collision (about 3e-6 over ten million triplets) would let one triplet through early.
 *   TARPIT (its stage): adds `delay` before the reply.
 *   RANDOM_FAULT (its stage): one uniform draw per evaluation from the rng given at create; rejects
 *     when the draw is below `probability`.
 *   PENALTY_BOX (CONNECT): `limit` violations from one IP within `window` engage the box for
 *     `duration`: every CONNECT from that IP is refused with its reply until then. Violations are
 *     the decisive rejects of the concurrency, rate, messages-per-session and recipients-per-message
 *     rules (not greylisting, random faults, forced replies or the box itself). Violations while the
 *     box is engaged are not counted, and counting starts afresh when it engages.
 *   IDLE_TIMEOUT: policy_idle_timeout tells the caller when to close an idle session.
 *
 * Replies are "CODE[ -]...", checked at create: a code 200-599 (second digit 0-5), an optional
 * enhanced code x.y.z whose class is the code's first digit, printable US-ASCII, lines of at most 510
 * octets. Multi-line replies separate lines with "\n", every line starts with the code, all but the
 * last with "CODE-" (as on the wire). A 421 always closes (RFC 5321 4.2.2: the server closes the
 * channel); `close` makes other codes close too. Texts may use %h (our host name), %i (client IP),
 * %r (recipient, RCPT only) and %d (its domain), %% for a percent sign; other % sequences are kept
 * as they are. Expanded values have control characters replaced by '?', so a client cannot inject
 * reply lines. The expanded text lives in a buffer the policy owns, valid until its next call.
 *
 * Memory: per-IP state and greylist entries live in open-addressing tables that are swept when they
 * would grow: an IP with no open session and nothing left in its windows, or a greylist entry past its
 * retry window or max-age, is dropped then. Sessions come from a free list. So the hot path (a MAIL,
 * a RCPT) does no lookup by IP, as the session points to its IP's state, and allocates nothing beyond
 * the first ring buffer of an (IP, rule) and the occasional table rebuild.
 */
#include "models/policy.h"
#include "sim/sim_hash.h"
#include "sim/sim_mem.h"
#include "models/policy_greylist.h"
#include "models/policy_preset.h"
#include "models/policy_reply.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_LIMIT_MAX 10000000u                 /* rate and violation rings: 80 MB per (IP, rule) at most */
#define POLICY_TIME_MAX (100000 * SIM_DAY)         /* keeps now - window and now + duration far from overflow */
#define POLICY_GREYLIST_WINDOW (2 * SIM_DAY)       /* postgrey --retry-window */
#define POLICY_DEFAULT_HOST "mx.test"
#define POLICY_SESSION_CHUNK 64

/* The last `limit` event times of one (IP, rule): a ring, oldest at head once full. */
typedef struct policy_window {
    sim_time_t until; /* PENALTY_BOX: engaged until this time (exclusive) */
    uint32_t head, count;
    sim_time_t t[];
} policy_window;

typedef struct policy_ip {
    uint64_t hash;         /* of ip, for the table */
    uint64_t net;          /* greylist client key: the IPv4 /24, else the whole string */
    uint64_t busy, idle;   /* sessions open from this IP */
    policy_window **win;   /* one per stateful rule (policy.slots), NULL until its first event */
    char *ip;
} policy_ip;

struct policy_session {
    policy_ip *ip;
    uint64_t messages; /* accepted at end of data in this session */
    uint64_t rcpts;    /* accepted in the current transaction */
    uint64_t sender;   /* hash of the MAIL FROM address (greylist triplets) */
    bool idle;
    policy_session *next_free;
};

typedef struct policy_session_chunk {
    struct policy_session_chunk *next;
    policy_session s[POLICY_SESSION_CHUNK];
} policy_session_chunk;

typedef struct policy_rule {
    policy_rule_config c; /* c.reply is the caller's; ours is `reply` */
    char *reply;          /* resolved template (NULL for TARPIT, IDLE_TIMEOUT) */
    int code;
    bool close;
    bool expand;          /* reply has a '%' */
    bool per_rcpt;        /* reply has %r or %d: expanded for each recipient */
    int slot;             /* index in policy_ip.win, -1 when the rule keeps no per-IP state */
    policy_greylist grey;  /* GREYLIST only */
} policy_rule;

struct policy {
    policy_rule *rules;
    size_t nrules;
    size_t *stage_rules[POLICY_STAGE_COUNT]; /* rule indexes evaluated at each stage, in order */
    size_t nstage[POLICY_STAGE_COUNT];
    size_t *boxes;                           /* PENALTY_BOX rule indexes */
    size_t nboxes;
    size_t *slot_rule;                       /* slot -> rule index */
    size_t nslots;
    bool greylist;                           /* some rule needs sender hashes */
    char *hostname;
    gsl_rng *rng;
    sim_time_t idle_timeout;

    uint64_t force_n;
    char *force_reply;
    int force_code;
    bool force_close, force_expand;

    policy_ip **ipt; /* open addressing, linear probing */
    size_t ipcap, ipcount;

    policy_session *free_sessions;
    policy_session_chunk *chunks;

    char *out; /* expanded reply text */
    size_t outcap;
    /* What `out` holds, when it depends on neither the recipient nor anything since: a client
     * hammering a full receiver gets the same text again and again, expanded once. */
    const char *out_tmpl;
    const policy_ip *out_ip;

    policy_stats stats;
};

static const char *const kind_names[POLICY_RULE_COUNT] = {
    [POLICY_RULE_CONCURRENCY_PER_IP] = "concurrency_per_ip",
    [POLICY_RULE_CONCURRENCY_TOTAL] = "concurrency_total",
    [POLICY_RULE_CONNECTION_RATE_PER_IP] = "connection_rate_per_ip",
    [POLICY_RULE_MESSAGE_RATE_PER_IP] = "message_rate_per_ip",
    [POLICY_RULE_RECIPIENT_RATE_PER_IP] = "recipient_rate_per_ip",
    [POLICY_RULE_MESSAGES_PER_SESSION] = "messages_per_session",
    [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = "recipients_per_message",
    [POLICY_RULE_GREYLIST] = "greylist",
    [POLICY_RULE_TARPIT] = "tarpit",
    [POLICY_RULE_RANDOM_FAULT] = "random_fault",
    [POLICY_RULE_PENALTY_BOX] = "penalty_box",
    [POLICY_RULE_IDLE_TIMEOUT] = "idle_timeout",
};

static const char *const stage_names[POLICY_STAGE_COUNT] = {
    [POLICY_STAGE_CONNECT] = "connect", [POLICY_STAGE_HELO] = "helo", [POLICY_STAGE_MAIL] = "mail",
    [POLICY_STAGE_RCPT] = "rcpt",       [POLICY_STAGE_DATA] = "data", [POLICY_STAGE_EOD] = "eod",
};

/* names[i] of a table of n names, "unknown" past its end. */
static const char *policy_name(const char *const *names, int n, int i)
{
    return (unsigned)i < (unsigned)n ? names[i] : "unknown";
}

/* The index of name in names[0..n), or -1 (also for NULL). */
static int policy_name_parse(const char *const *names, int n, const char *name)
{
    for (int i = 0; name != NULL && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *policy_rule_kind_name(policy_rule_kind k)
{
    return policy_name(kind_names, POLICY_RULE_COUNT, (int)k);
}

int policy_rule_kind_parse(const char *name)
{
    return policy_name_parse(kind_names, POLICY_RULE_COUNT, name);
}

const char *policy_stage_name(policy_stage s)
{
    return policy_name(stage_names, POLICY_STAGE_COUNT, (int)s);
}

int policy_stage_parse(const char *name)
{
    return policy_name_parse(stage_names, POLICY_STAGE_COUNT, name);
}


static void policy_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- hashing ---- */

static uint64_t policy_mix(uint64_t x)
{
    /* splitmix64's finalizer: FNV alone clusters badly in a power-of-two table. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t policy_hash_str(const char *s)
{
    return policy_mix(sim_hash_str(SIM_HASH_INIT, s));
}

/* An envelope address as postgrey keys it: without the angle brackets, case folded. */
static uint64_t policy_hash_addr(const char *a)
{
    uint64_t h = 0x84222325cbf29ce4ULL;
    if (a == NULL)
        return policy_mix(h);
    size_t len = strlen(a);
    if (len >= 2 && a[0] == '<' && a[len - 1] == '>') {
        a++;
        len -= 2;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h = sim_hash_byte(h, c);
    }
    return policy_mix(h);
}

/* The greylist client key: postgrey's --lookup-by-subnet /24 for dotted-quad IPv4, else the string. */
static uint64_t policy_net_key(const char *ip)
{
    unsigned part[4];
    const char *p = ip;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || *p != (i < 3 ? '.' : '\0'))
            return policy_hash_str(ip);
        part[i] = v;
        if (i < 3)
            p++;
    }
    return policy_mix(0x4e45540000000000ULL | (uint64_t)part[0] << 16 | part[1] << 8 | part[2]);
}

/* ---- sliding windows ---- */

static policy_window *policy_window_get(policy_ip *ip, const policy_rule *r)
{
    policy_window *w = ip->win[r->slot];
    if (w == NULL) {
        w = sim_xmalloc(sizeof(*w) + (size_t)r->c.limit * sizeof(sim_time_t));
        w->until = 0;
        w->head = w->count = 0;
        ip->win[r->slot] = w;
    }
    return w;
}

/* True when `limit` events already happened in (now - span, now]. */
static bool policy_window_full(const policy_window *w, uint64_t limit, sim_time_t now, sim_time_t span)
{
    return w->count == limit && w->t[w->head] > now - span;
}

static void policy_window_add(policy_window *w, uint64_t limit, sim_time_t now)
{
    w->t[w->head] = now;
    w->head = (uint32_t)((w->head + 1) % limit);
    if (w->count < limit)
        w->count++;
}

/* Nothing in the window can affect a later decision any more. */
static bool policy_window_stale(const policy_window *w, uint64_t limit, sim_time_t now, sim_time_t span)
{
    if (w->until > now)
        return false;
    if (w->count == 0)
        return true;
    sim_time_t latest = w->t[(w->head + limit - 1) % limit];
    return latest <= now - span;
}

/* ---- per-IP table ---- */

static bool policy_ip_dead(const policy *p, const policy_ip *ip, sim_time_t now)
{
    if (ip->busy + ip->idle > 0)
        return false;
    for (size_t k = 0; k < p->nslots; k++) {
        const policy_window *w = ip->win[k];
        const policy_rule *r = &p->rules[p->slot_rule[k]];
        if (w != NULL && !policy_window_stale(w, r->c.limit, now, r->c.window))
            return false;
    }
    return true;
}

static void policy_ip_destroy(const policy *p, policy_ip *ip)
{
    for (size_t k = 0; k < p->nslots; k++)
        free(ip->win[k]);
    free(ip);
}

static void policy_ip_place(policy_ip **t, size_t cap, policy_ip *ip)
{
    size_t i = ip->hash & (cap - 1);
    while (t[i] != NULL)
        i = (i + 1) & (cap - 1);
    t[i] = ip;
}

/* Drops dead IPs and resizes to a third full at most: amortised O(1) per insertion. */
static void policy_ip_rebuild(policy *p, sim_time_t now)
{
    size_t live = 0;
    for (size_t i = 0; i < p->ipcap; i++) {
        policy_ip *ip = p->ipt[i];
        if (ip == NULL)
            continue;
        if (policy_ip_dead(p, ip, now)) {
            policy_ip_destroy(p, ip);
            p->out_ip = NULL; /* its address may come back for another IP */
            p->ipt[i] = NULL;
        } else {
            live++;
        }
    }
    size_t cap = 16;
    while (cap < (live + 1) * 3)
        cap *= 2;
    policy_ip **t = sim_xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < p->ipcap; i++)
        if (p->ipt[i] != NULL)
            policy_ip_place(t, cap, p->ipt[i]);
    free(p->ipt);
    p->ipt = t;
    p->ipcap = cap;
    p->ipcount = live;
}

static policy_ip *policy_ip_find(const policy *p, const char *ip, uint64_t h)
{
    if (p->ipcap == 0)
        return NULL;
    for (size_t i = h & (p->ipcap - 1);; i = (i + 1) & (p->ipcap - 1)) {
        policy_ip *e = p->ipt[i];
        if (e == NULL)
            return NULL;
        if (e->hash == h && strcmp(e->ip, ip) == 0)
            return e;
    }
}

static policy_ip *policy_ip_get(policy *p, const char *ip, sim_time_t now)
{
    uint64_t h = policy_hash_str(ip);
    policy_ip *e = policy_ip_find(p, ip, h);
    if (e != NULL)
        return e;
    if ((p->ipcount + 1) * 2 > p->ipcap)
        policy_ip_rebuild(p, now);
    size_t len = strlen(ip);
    e = sim_xmalloc(sizeof(*e) + p->nslots * sizeof(policy_window *) + len + 1);
    e->hash = h;
    e->net = policy_net_key(ip);
    e->busy = e->idle = 0;
    e->win = (policy_window **)(e + 1);
    for (size_t k = 0; k < p->nslots; k++)
        e->win[k] = NULL;
    e->ip = (char *)(e->win + p->nslots);
    memcpy(e->ip, ip, len + 1);
    policy_ip_place(p->ipt, p->ipcap, e);
    p->ipcount++;
    return e;
}

/* ---- replies ---- */

static const char *policy_text(policy *p, const char *tmpl, bool expand, bool per_rcpt, const policy_session *s,
                               const char *rcpt)
{
    if (!expand)
        return tmpl;
    if (!per_rcpt)
        rcpt = NULL;
    if (rcpt == NULL && tmpl == p->out_tmpl && s->ip == p->out_ip)
        return p->out;
    size_t need = policy_reply_expand(NULL, tmpl, p->hostname, s->ip->ip, rcpt) + 1;
    p->out = sim_xgrow(p->out, &p->outcap, need, 1, 256);
    policy_reply_expand(p->out, tmpl, p->hostname, s->ip->ip, rcpt);
    p->out_tmpl = rcpt == NULL ? tmpl : NULL;
    p->out_ip = s->ip;
    return p->out;
}

/* ---- deciding ---- */

static bool policy_is_violation(policy_rule_kind k)
{
    switch (k) {
    case POLICY_RULE_CONCURRENCY_PER_IP:
    case POLICY_RULE_CONCURRENCY_TOTAL:
    case POLICY_RULE_CONNECTION_RATE_PER_IP:
    case POLICY_RULE_MESSAGE_RATE_PER_IP:
    case POLICY_RULE_RECIPIENT_RATE_PER_IP:
    case POLICY_RULE_MESSAGES_PER_SESSION:
    case POLICY_RULE_RECIPIENTS_PER_MESSAGE:
        return true;
    default:
        return false;
    }
}

static void policy_violation(policy *p, policy_ip *ip, sim_time_t now)
{
    for (size_t b = 0; b < p->nboxes; b++) {
        const policy_rule *r = &p->rules[p->boxes[b]];
        policy_window *w = policy_window_get(ip, r);
        if (w->until > now)
            continue;
        policy_window_add(w, r->c.limit, now);
        if (w->count == r->c.limit && w->t[w->head] > now - r->c.window) {
            w->until = now + r->c.duration;
            w->head = w->count = 0;
            p->stats.penalty_boxes++;
        }
    }
}

/* The rule index of an engaged penalty box for this IP, or -1. */
static int policy_box_engaged(policy *p, policy_ip *ip, sim_time_t now)
{
    for (size_t b = 0; b < p->nboxes; b++) {
        const policy_rule *r = &p->rules[p->boxes[b]];
        const policy_window *w = ip->win[r->slot];
        if (w != NULL && w->until > now)
            return (int)p->boxes[b];
    }
    return -1;
}

static void policy_verdict_accept(policy_verdict *out, sim_time_t delay)
{
    *out = (policy_verdict){.code = 0, .text = NULL, .delay = delay, .close = false, .silent = false, .rule = -1};
}

/* Fills the verdict of rule `decided` (or accept when -1) and keeps the books. */
static void policy_finish(policy *p, policy_session *s, int decided, sim_time_t delay, const char *rcpt,
                          sim_time_t now, policy_verdict *out)
{
    if (decided < 0) {
        policy_verdict_accept(out, delay);
        return;
    }
    const policy_rule *r = &p->rules[decided];
    out->delay = delay;
    out->rule = decided;
    p->stats.refused_by_rule[r->c.kind]++;
    if (r->c.silent) {
        out->code = 0;
        out->text = NULL;
        out->close = true;
        out->silent = true;
    } else {
        out->code = r->code;
        out->text = policy_text(p, r->reply, r->expand, r->per_rcpt, s, rcpt);
        out->close = r->close;
        out->silent = false;
        p->stats.replies_by_code[r->code]++;
    }
    if (policy_is_violation(r->c.kind))
        policy_violation(p, s->ip, now);
}

static void policy_evaluate(policy *p, policy_session *s, policy_stage stage, sim_time_t now, const char *rcpt,
                            int decided, policy_verdict *out)
{
    sim_time_t delay = 0;
    policy_ip *ip = s->ip;
    for (size_t k = 0; k < p->nstage[stage]; k++) {
        size_t i = p->stage_rules[stage][k];
        policy_rule *r = &p->rules[i];
        bool reject = false;
        switch (r->c.kind) {
        case POLICY_RULE_CONCURRENCY_PER_IP:
            reject = ip->busy + (r->c.count_idle ? ip->idle : 0) >= r->c.limit;
            break;
        case POLICY_RULE_CONCURRENCY_TOTAL:
            reject = p->stats.open_busy + (r->c.count_idle ? p->stats.open_idle : 0) >= r->c.limit;
            break;
        case POLICY_RULE_CONNECTION_RATE_PER_IP:
        case POLICY_RULE_MESSAGE_RATE_PER_IP:
        case POLICY_RULE_RECIPIENT_RATE_PER_IP: {
            policy_window *w = policy_window_get(ip, r);
            reject = policy_window_full(w, r->c.limit, now, r->c.window);
            policy_window_add(w, r->c.limit, now);
            break;
        }
        case POLICY_RULE_MESSAGES_PER_SESSION:
            reject = s->messages >= r->c.limit;
            break;
        case POLICY_RULE_RECIPIENTS_PER_MESSAGE:
            reject = s->rcpts >= r->c.limit;
            break;
        case POLICY_RULE_GREYLIST:
            if (decided < 0) {
                uint64_t net = s->ip->net | 1; /* never 0: 0 marks a free slot */
                uint64_t triplet = policy_mix(policy_mix(net ^ s->sender) ^ policy_hash_addr(rcpt)) | 1;
                reject = policy_greylist_rejects(&r->grey, net, triplet, now);
            }
            break;
        case POLICY_RULE_TARPIT:
            delay += r->c.delay;
            break;
        case POLICY_RULE_RANDOM_FAULT:
            reject = gsl_rng_uniform(p->rng) < r->c.probability;
            break;
        default:
            sim_panic(__func__, "rule kind evaluated at a stage it has none");
        }
        if (reject && decided < 0) {
            decided = (int)i;
            if (r->c.kind == POLICY_RULE_CONCURRENCY_PER_IP || r->c.kind == POLICY_RULE_CONCURRENCY_TOTAL) {
                bool per_ip = r->c.kind == POLICY_RULE_CONCURRENCY_PER_IP;
                uint64_t idle = per_ip ? ip->idle : p->stats.open_idle;
                uint64_t open = idle + (per_ip ? ip->busy : p->stats.open_busy);
                p->stats.cap_refused_idle += r->c.count_idle && idle > 0;
                if (open > p->stats.cap_refused_open_max)
                    p->stats.cap_refused_open_max = open;
                if (idle > p->stats.cap_refused_idle_max)
                    p->stats.cap_refused_idle_max = idle;
            }
        }
    }
    policy_finish(p, s, decided, delay, rcpt, now, out);
}

/* ---- sessions ---- */

static policy_session *policy_session_alloc(policy *p)
{
    if (p->free_sessions == NULL) {
        policy_session_chunk *c = sim_xmalloc(sizeof(*c));
        c->next = p->chunks;
        p->chunks = c;
        for (size_t i = 0; i < POLICY_SESSION_CHUNK; i++) {
            c->s[i].next_free = p->free_sessions;
            p->free_sessions = &c->s[i];
        }
    }
    policy_session *s = p->free_sessions;
    p->free_sessions = s->next_free;
    *s = (policy_session){0};
    return s;
}

static void policy_set_busy(policy *p, policy_session *s)
{
    if (!s->idle)
        return;
    s->idle = false;
    s->ip->idle--;
    s->ip->busy++;
    p->stats.open_idle--;
    p->stats.open_busy++;
}

static void policy_set_idle(policy *p, policy_session *s)
{
    if (s->idle)
        return;
    s->idle = true;
    s->ip->busy--;
    s->ip->idle++;
    p->stats.open_busy--;
    p->stats.open_idle++;
}

policy_session *policy_connect(policy *p, const char *src_ip, sim_time_t now, policy_verdict *out)
{
    policy_session *s = policy_session_alloc(p);
    s->ip = policy_ip_get(p, src_ip != NULL ? src_ip : "", now);
    p->stats.connections++;
    if (p->force_n > 0) {
        p->force_n--;
        *out = (policy_verdict){.code = p->force_code,
                                .text = policy_text(p, p->force_reply, p->force_expand, false, s, NULL),
                                .close = p->force_close,
                                .rule = -1};
        p->stats.replies_by_code[p->force_code]++;
    } else {
        policy_evaluate(p, s, POLICY_STAGE_CONNECT, now, NULL, policy_box_engaged(p, s->ip, now), out);
    }
    if (out->code != 0 || out->silent)
        p->stats.connections_refused++;
    /* Counted only now: the caps compare against the sessions open before this one. */
    s->ip->busy++;
    p->stats.open_busy++;
    p->stats.open_sessions++;
    return s;
}

void policy_helo(policy *p, policy_session *s, sim_time_t now, policy_verdict *out)
{
    policy_evaluate(p, s, POLICY_STAGE_HELO, now, NULL, -1, out);
}

void policy_mail(policy *p, policy_session *s, sim_time_t now, const char *sender, policy_verdict *out)
{
    policy_set_busy(p, s);
    s->rcpts = 0;
    if (p->greylist)
        s->sender = policy_hash_addr(sender);
    policy_evaluate(p, s, POLICY_STAGE_MAIL, now, NULL, -1, out);
}

void policy_rcpt(policy *p, policy_session *s, sim_time_t now, const char *rcpt, policy_verdict *out)
{
    policy_evaluate(p, s, POLICY_STAGE_RCPT, now, rcpt != NULL ? rcpt : "", -1, out);
    if (out->code == 0 && !out->close)
        s->rcpts++;
}

void policy_data(policy *p, policy_session *s, sim_time_t now, policy_verdict *out)
{
    policy_evaluate(p, s, POLICY_STAGE_DATA, now, NULL, -1, out);
}

void policy_eod(policy *p, policy_session *s, sim_time_t now, uint64_t size, policy_verdict *out)
{
    (void)size; /* no rule limits size yet; the caller's receiver model charges bandwidth */
    policy_evaluate(p, s, POLICY_STAGE_EOD, now, NULL, -1, out);
    if (out->code == 0 && !out->close) {
        s->messages++;
        p->stats.messages_accepted++;
        p->stats.recipients_accepted += s->rcpts;
    }
}

void policy_reset(policy *p, policy_session *s, sim_time_t now)
{
    (void)now;
    s->rcpts = 0;
    policy_set_idle(p, s);
}

void policy_close(policy *p, policy_session *s, sim_time_t now)
{
    (void)now;
    if (s == NULL)
        return;
    if (s->idle) {
        s->ip->idle--;
        p->stats.open_idle--;
    } else {
        s->ip->busy--;
        p->stats.open_busy--;
    }
    p->stats.open_sessions--;
    s->ip = NULL;
    s->next_free = p->free_sessions;
    p->free_sessions = s;
}

/* ---- create / free ---- */

static bool policy_kind_replies(policy_rule_kind k)
{
    return k != POLICY_RULE_TARPIT && k != POLICY_RULE_IDLE_TIMEOUT;
}

/* Checks one rule; on error writes why and returns false. */
static bool policy_rule_check(const policy_rule_config *c, char *why, size_t whylen)
{
    const sim_time_t *times[] = {&c->window, &c->delay, &c->duration};
    for (size_t t = 0; t < 3; t++) {
        if (*times[t] < 0 || *times[t] > POLICY_TIME_MAX) {
            snprintf(why, whylen, "%s must be between 0 and 100000 days",
                     t == 0 ? "window" : t == 1 ? "delay" : "duration");
            return false;
        }
    }
    switch (c->kind) {
    case POLICY_RULE_CONNECTION_RATE_PER_IP:
    case POLICY_RULE_MESSAGE_RATE_PER_IP:
    case POLICY_RULE_RECIPIENT_RATE_PER_IP:
    case POLICY_RULE_PENALTY_BOX:
        if (c->limit < 1 || c->limit > POLICY_LIMIT_MAX) {
            snprintf(why, whylen, "limit must be between 1 and %u", POLICY_LIMIT_MAX);
            return false;
        }
        if (c->window <= 0) {
            snprintf(why, whylen, "window must be positive");
            return false;
        }
        if (c->kind == POLICY_RULE_PENALTY_BOX && c->duration <= 0) {
            snprintf(why, whylen, "duration (how long the box lasts) must be positive");
            return false;
        }
        break;
    case POLICY_RULE_GREYLIST: {
        sim_time_t window = c->duration > 0 ? c->duration : POLICY_GREYLIST_WINDOW;
        if (c->delay > window) {
            snprintf(why, whylen, "delay is longer than the retry window (duration): nothing could pass");
            return false;
        }
        break;
    }
    case POLICY_RULE_RANDOM_FAULT:
        if (!(c->probability >= 0.0 && c->probability <= 1.0)) {
            snprintf(why, whylen, "probability must be between 0 and 1");
            return false;
        }
        break;
    case POLICY_RULE_IDLE_TIMEOUT:
        if (c->duration <= 0) {
            snprintf(why, whylen, "duration (the timeout) must be positive");
            return false;
        }
        break;
    default:
        break;
    }
    if ((c->kind == POLICY_RULE_TARPIT || c->kind == POLICY_RULE_RANDOM_FAULT) &&
        (unsigned)c->stage >= POLICY_STAGE_COUNT) {
        snprintf(why, whylen, "unknown stage %d", (int)c->stage);
        return false;
    }
    if (c->silent && c->kind != POLICY_RULE_MESSAGES_PER_SESSION) {
        snprintf(why, whylen, "silent applies to messages_per_session only");
        return false;
    }
    if (c->reply != NULL && !policy_kind_replies(c->kind)) {
        snprintf(why, whylen, "this rule sends no reply of its own");
        return false;
    }
    return true;
}

static policy_stage policy_rule_stage(const policy_rule_config *c)
{
    switch (c->kind) {
    case POLICY_RULE_CONCURRENCY_PER_IP:
    case POLICY_RULE_CONCURRENCY_TOTAL:
    case POLICY_RULE_CONNECTION_RATE_PER_IP:
    case POLICY_RULE_PENALTY_BOX:
        return POLICY_STAGE_CONNECT;
    case POLICY_RULE_MESSAGE_RATE_PER_IP:
    case POLICY_RULE_MESSAGES_PER_SESSION:
        return POLICY_STAGE_MAIL;
    case POLICY_RULE_RECIPIENT_RATE_PER_IP:
    case POLICY_RULE_RECIPIENTS_PER_MESSAGE:
    case POLICY_RULE_GREYLIST:
        return POLICY_STAGE_RCPT;
    default:
        return c->stage;
    }
}

policy *policy_create(const policy_config *cfg, gsl_rng *rng, char *err, size_t errlen)
{
    char why[160];
    if (cfg == NULL || (cfg->nrules > 0 && cfg->rules == NULL)) {
        policy_fail(err, errlen, "policy: no rules given");
        return NULL;
    }
    const char *pname = cfg->preset != NULL ? cfg->preset : "postfix";
    const policy_preset *preset = policy_preset_find(pname);
    if (preset == NULL) {
        size_t n;
        const policy_preset *all = policy_preset_list(&n);
        char names[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof(names); i++)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", all[i].name);
        policy_fail(err, errlen, "policy: unknown preset \"%s\" (known: %s)", pname, names);
        return NULL;
    }
    const char *host = cfg->hostname != NULL ? cfg->hostname : POLICY_DEFAULT_HOST;
    for (const char *h = host; *h; h++) {
        if ((unsigned char)*h <= 0x20 || (unsigned char)*h > 0x7e) {
            policy_fail(err, errlen, "policy: hostname \"%s\" has a space or a non-printable character", host);
            return NULL;
        }
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        const policy_rule_config *c = &cfg->rules[i];
        if ((unsigned)c->kind >= POLICY_RULE_COUNT) {
            policy_fail(err, errlen, "policy[%zu]: unknown rule kind %d", i, (int)c->kind);
            return NULL;
        }
        if (!policy_rule_check(c, why, sizeof(why))) {
            policy_fail(err, errlen, "policy[%zu] (%s): %s", i, kind_names[c->kind], why);
            return NULL;
        }
        if (c->reply != NULL && policy_reply_parse(c->reply, why, sizeof(why)) == 0) {
            policy_fail(err, errlen, "policy[%zu] (%s): reply \"%s\": %s", i, kind_names[c->kind], c->reply, why);
            return NULL;
        }
        if (c->kind == POLICY_RULE_RANDOM_FAULT && rng == NULL) {
            policy_fail(err, errlen, "policy[%zu] (random_fault): no random generator given", i);
            return NULL;
        }
        if (c->kind == POLICY_RULE_IDLE_TIMEOUT) {
            for (size_t j = 0; j < i; j++) {
                if (cfg->rules[j].kind == POLICY_RULE_IDLE_TIMEOUT) {
                    policy_fail(err, errlen, "policy[%zu] (idle_timeout): a second idle_timeout (first at policy[%zu])",
                                i, j);
                    return NULL;
                }
            }
        }
    }

    policy *p = sim_xcalloc(1, sizeof(*p));
    p->rng = rng;
    p->hostname = sim_xstrdup(host);
    p->nrules = cfg->nrules;
    if (cfg->nrules > 0) {
        p->rules = sim_xcalloc(cfg->nrules, sizeof(*p->rules));
        p->slot_rule = sim_xcalloc(cfg->nrules, sizeof(*p->slot_rule));
        p->boxes = sim_xcalloc(cfg->nrules, sizeof(*p->boxes));
        for (int s = 0; s < POLICY_STAGE_COUNT; s++)
            p->stage_rules[s] = sim_xcalloc(cfg->nrules, sizeof(size_t));
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        policy_rule *r = &p->rules[i];
        r->c = cfg->rules[i];
        r->c.reply = NULL;
        r->slot = -1;
        policy_rule_kind k = r->c.kind;
        if (k == POLICY_RULE_GREYLIST) {
            if (r->c.duration == 0)
                r->c.duration = POLICY_GREYLIST_WINDOW;
            r->grey = (policy_greylist){.delay = r->c.delay, .retry_window = r->c.duration,
                                        .auto_allow = r->c.auto_allow};
        }
        if (policy_kind_replies(k)) {
            const char *tmpl = cfg->rules[i].reply != NULL ? cfg->rules[i].reply : preset->texts[k];
            if (tmpl == NULL) /* a preset without a text for a kind that replies: Postfix's */
                tmpl = policy_preset_find("postfix")->texts[k];
            r->code = policy_reply_parse(tmpl, why, sizeof(why));
            if (r->code == 0)
                sim_panic(__func__, "a preset text is not a valid reply");
            r->reply = sim_xstrdup(tmpl);
            r->expand = strchr(tmpl, '%') != NULL;
            r->per_rcpt = strstr(tmpl, "%r") != NULL || strstr(tmpl, "%d") != NULL;
            r->close = r->c.close || r->code == 421 || r->c.silent;
        }
        if (k == POLICY_RULE_CONNECTION_RATE_PER_IP || k == POLICY_RULE_MESSAGE_RATE_PER_IP ||
            k == POLICY_RULE_RECIPIENT_RATE_PER_IP || k == POLICY_RULE_PENALTY_BOX) {
            r->slot = (int)p->nslots;
            p->slot_rule[p->nslots++] = i;
        }
        if (k == POLICY_RULE_PENALTY_BOX)
            p->boxes[p->nboxes++] = i;
        else if (k == POLICY_RULE_IDLE_TIMEOUT)
            p->idle_timeout = r->c.duration;
        else {
            policy_stage st = policy_rule_stage(&r->c);
            p->stage_rules[st][p->nstage[st]++] = i;
        }
        if (k == POLICY_RULE_GREYLIST)
            p->greylist = true;
    }
    return p;
}

void policy_free(policy *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->ipcap; i++)
        if (p->ipt[i] != NULL)
            policy_ip_destroy(p, p->ipt[i]);
    free(p->ipt);
    for (size_t i = 0; p->rules != NULL && i < p->nrules; i++) {
        free(p->rules[i].reply);
        policy_greylist_free(&p->rules[i].grey);
    }
    free(p->rules);
    for (int s = 0; s < POLICY_STAGE_COUNT; s++)
        free(p->stage_rules[s]);
    free(p->boxes);
    free(p->slot_rule);
    while (p->chunks != NULL) {
        policy_session_chunk *c = p->chunks;
        p->chunks = c->next;
        free(c);
    }
    free(p->force_reply);
    free(p->hostname);
    free(p->out);
    free(p);
}

/* ---- control and statistics ---- */

sim_time_t policy_idle_timeout(const policy *p) { return p->idle_timeout; }

int policy_force(policy *p, uint64_t n, const char *reply)
{
    char why[160];
    if (n == 0) {
        p->force_n = 0;
        return 0;
    }
    int code = policy_reply_parse(reply, why, sizeof(why));
    if (code == 0)
        return -EINVAL;
    char *copy = sim_xstrdup(reply);
    free(p->force_reply);
    p->force_reply = copy;
    p->out_tmpl = NULL;
    p->force_code = code;
    p->force_close = code == 421;
    p->force_expand = strchr(copy, '%') != NULL;
    p->force_n = n;
    return 0;
}

void policy_reset_maxima(policy *p)
{
    p->stats.cap_refused_open_max = p->stats.cap_refused_idle_max = 0;
}

const policy_stats *policy_get_stats(const policy *p) { return &p->stats; }

void policy_count_reply(policy *p, int code)
{
    if (code >= 0 && code < (int)(sizeof(p->stats.replies_by_code) / sizeof(p->stats.replies_by_code[0])))
        p->stats.replies_by_code[code]++;
}

void policy_sessions_from(const policy *p, const char *src_ip, uint64_t *busy, uint64_t *idle)
{
    const policy_ip *ip = src_ip != NULL ? policy_ip_find(p, src_ip, policy_hash_str(src_ip)) : NULL;
    if (busy != NULL)
        *busy = ip != NULL ? ip->busy : 0;
    if (idle != NULL)
        *idle = ip != NULL ? ip->idle : 0;
}
