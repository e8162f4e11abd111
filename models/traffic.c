/*
 * traffic - the message generator the simulator and the replay injector share (DESIGN.md principle 2).
 *
 * Streams. Every class owns three GSL generators, named after it: "arrivals/<class>" draws arrival
 * times, "messages/<class>" draws the size, the recipient count and the recipient domains of its
 * original messages (in that order, once per message), and "resend/<class>" draws both the re-send
 * decision and the attributes of the re-sent message. Nothing a class draws depends on another class,
 * so adding a class or retuning one leaves every other class's messages exactly as they were; and
 * because the re-send queries (which depend on deliveries, which differ between the simulator and a
 * real MTA) have a stream of their own, they never shift the original messages.
 *
 * Merging. Each class keeps exactly one pending arrival; traffic_next() hands out the earliest, the
 * lowest class index winning ties, then refills that class. A linear scan over the classes finds the
 * next one: scenarios have a handful of classes, for which a scan beats a heap; with hundreds a heap
 * would pay off. Ids are assigned when a message is handed out, so they follow the merged order.
 *
 * Time. Poisson and schedule arrivals run on a continuous clock (a double in microseconds) and an
 * arrival is the microsecond its instant falls in (floor). Accumulating integer gaps instead would
 * bias high rates (a gap of 0.4 us rounds to 0 every time) and drift; a double holds an instant to
 * better than 0.01 us for a year of simulated time. Everything at or after the horizon is dropped and
 * the class is then exhausted, since all processes produce non-decreasing times.
 *
 * Processes.
 * - POISSON: exponential gaps of mean 1/rate.
 * - SCHEDULE: a non-homogeneous Poisson process with a piecewise-constant rate, drawn exactly by
 *   inverting the cumulative rate: draw E ~ Exp(1) and walk forward through the steps, spending
 *   rate x length of each, until E is used up inside a step. A repeating schedule skips whole periods
 *   at once when E exceeds one period's expected count, so a quiet schedule costs no more than a busy
 *   one. A zero-rate step produces nothing; a schedule whose rate is zero from some point on (no
 *   period) or over a whole period (with one) is exhausted.
 * - BURST: the sorted order statistics of `count` uniforms on [start, start + over), generated one at
 *   a time in increasing order (Bentley and Saxe, 1980): the minimum of k uniforms on [x, 1) is
 *   1 - (1 - x) U^(1/k), and the other k - 1 are uniform above it. O(1) memory, so ten million
 *   messages cost nothing to hold; one pow() per message.
 * - PERIODIC: batches of `count` messages at start, start + every, ... (every == 0: one batch). A
 *   batch shares one time and comes out whole and in order; another class's arrival at that same
 *   time goes before or after the whole batch, by class order.
 * - TRACE: the given times, in order.
 *
 * Re-sends. traffic_resend() draws one uniform from "resend/<class>" per query that can succeed
 * (resend enabled, made < max) and re-sends when it is below the probability;
 * the new message's attributes follow from the same stream. So the k-th such query of a class gets
 * the same answer and the same message in every world; the answers of two worlds coincide message by
 * message as long as they ask about the same messages in the same order, and have the same
 * distribution always.
 *
 * Memory: O(classes) at creation (three generators and one domain table each) plus the recipient
 * scratch array, which only grows (geometrically) to the largest recipient count seen. Nothing is
 * allocated per message.
 */
#include "models/traffic.h"
#include "sim/sim_mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim/sim_random.h"

/* One class: its generators and the state of its arrival process. */
typedef struct traffic_source {
    const traffic_class_config *c;
    gsl_rng *arrivals, *messages, *resends;
    gsl_ran_discrete_t *domains;
    sim_time_t next;  /* the pending arrival; SIM_TIME_NEVER once exhausted */
    double clock;     /* POISSON: absolute; SCHEDULE: offset into the current period (microseconds) */
    double gap;       /* POISSON: mean gap in microseconds */
    sim_time_t base;  /* SCHEDULE: start of the current period */
    size_t step;      /* SCHEDULE: the step the clock is in */
    double mass;      /* SCHEDULE with a period: expected arrivals per period */
    uint64_t left;    /* BURST: arrivals still to draw; PERIODIC: still to come in the current batch */
    double rem;       /* BURST: 1 - the last order statistic */
    uint64_t batch;   /* PERIODIC: index of the current batch */
    size_t next_time; /* TRACE: index of the next time */
} traffic_source;

struct traffic {
    const traffic_config *cfg;
    traffic_source *src;
    size_t nsrc;
    size_t head;        /* source holding the earliest pending arrival; nsrc when all are exhausted */
    sim_time_t horizon;
    uint64_t next_id;
    uint16_t *rcpt;     /* recipient-domain scratch, shared by every message handed out */
    size_t rcpt_cap;
};


const char *const traffic_process_names[TRAFFIC_PROCESS_COUNT] = {
    [TRAFFIC_POISSON] = "poisson", [TRAFFIC_SCHEDULE] = "schedule", [TRAFFIC_BURST] = "burst",
    [TRAFFIC_PERIODIC] = "periodic", [TRAFFIC_TRACE] = "trace",
};

const char *traffic_class_sender(const traffic_class_config *c)
{
    return c->sender ? c->sender : TRAFFIC_DEFAULT_SENDER;
}

/* ---- configuration check ---- */

__attribute__((format(printf, 5, 6))) static int traffic_check_fail(char *err, size_t errlen, size_t i,
                                                                      const char *name, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "traffic.classes[%zu] (%s): ", i, name ? name : "unnamed");
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

#define FAIL(...) return traffic_check_fail(err, errlen, i, c->name, __VA_ARGS__)

static int traffic_check_arrivals(const traffic_class_config *c, size_t i, char *err, size_t errlen)
{
    const traffic_arrivals *a = &c->arrivals;
    sim_time_t sum;
    switch (a->kind) {
    case TRAFFIC_POISSON:
        if (!isfinite(a->rate) || a->rate < 0)
            FAIL("arrivals.rate: must be a finite rate >= 0, not %g", a->rate);
        return 0;
    case TRAFFIC_SCHEDULE:
        if (a->nsteps == 0 || !a->steps)
            FAIL("arrivals.steps: a schedule needs at least one step");
        if (a->period < 0)
            FAIL("arrivals.period: must be >= 0");
        for (size_t k = 0; k < a->nsteps; k++) {
            if (!isfinite(a->steps[k].rate) || a->steps[k].rate < 0)
                FAIL("arrivals.steps[%zu].rate: must be a finite rate >= 0, not %g", k, a->steps[k].rate);
            if (k == 0 && a->steps[0].at != 0)
                FAIL("arrivals.steps[0].at: the first step must start at 0");
            if (k > 0 && a->steps[k].at <= a->steps[k - 1].at)
                FAIL("arrivals.steps[%zu].at: not after steps[%zu].at", k, k - 1);
            if (a->period > 0 && a->steps[k].at >= a->period)
                FAIL("arrivals.steps[%zu].at: not inside the period", k);
        }
        return 0;
    case TRAFFIC_BURST:
        if (a->start < 0)
            FAIL("arrivals.start: must be >= 0");
        if (a->count > 0 && a->over <= 0)
            FAIL("arrivals.over: a burst needs an interval longer than 0");
        if (__builtin_add_overflow(a->start, a->over, &sum))
            FAIL("arrivals.over: start + over is out of range");
        return 0;
    case TRAFFIC_PERIODIC:
        if (a->start < 0)
            FAIL("arrivals.start: must be >= 0");
        if (a->every < 0)
            FAIL("arrivals.every: must be >= 0");
        return 0;
    case TRAFFIC_TRACE:
        if (a->ntimes > 0 && !a->times)
            FAIL("arrivals.times: missing");
        for (size_t k = 0; k < a->ntimes; k++) {
            if (a->times[k] < 0)
                FAIL("arrivals.times[%zu]: must be >= 0", k);
            if (k > 0 && a->times[k] < a->times[k - 1])
                FAIL("arrivals.times[%zu]: before times[%zu] (a trace must be sorted)", k, k - 1);
        }
        return 0;
    }
    FAIL("arrivals.process: unknown kind %d", (int)a->kind);
}

static int traffic_check_class(const traffic_config *cfg, size_t i, char *err, size_t errlen)
{
    const traffic_class_config *c = &cfg->classes[i];
    if (!c->name || !*c->name)
        FAIL("name: every class needs a name (it names its random streams)");
    for (size_t j = 0; j < i; j++)
        if (cfg->classes[j].name && strcmp(cfg->classes[j].name, c->name) == 0)
            FAIL("name: same name as classes[%zu] (the two would share random streams)", j);
    int rc = traffic_check_arrivals(c, i, err, errlen);
    if (rc < 0)
        return rc;
    if (c->size.kind == SIM_DIST_EMPIRICAL && (c->size.n == 0 || !c->size.values))
        FAIL("size: an empirical distribution needs values");
    if (c->recipients.kind == SIM_DIST_EMPIRICAL && (c->recipients.n == 0 || !c->recipients.values))
        FAIL("recipients: an empirical distribution needs values");
    if (c->ndomains == 0 || !c->domains)
        FAIL("domains: a class needs at least one recipient domain");
    if (c->ndomains > (size_t)UINT16_MAX + 1)
        FAIL("domains: %zu domains, at most %u", c->ndomains, (unsigned)UINT16_MAX + 1);
    double total = 0;
    for (size_t k = 0; k < c->ndomains; k++) {
        if (!c->domains[k].domain || !*c->domains[k].domain)
            FAIL("domains[%zu]: empty domain name", k);
        if (!isfinite(c->domains[k].weight) || c->domains[k].weight < 0)
            FAIL("domains.%s: weight must be finite and >= 0, not %g", c->domains[k].domain,
                 c->domains[k].weight);
        total += c->domains[k].weight;
    }
    if (!(total > 0) || !isfinite(total))
        FAIL("domains: the weights must add up to more than 0");
    if (c->resend.after < 0)
        FAIL("resend.after: must be >= 0");
    if (!(c->resend.probability >= 0 && c->resend.probability <= 1))
        FAIL("resend.probability: must be in [0, 1], not %g", c->resend.probability);
    return 0;
}

#undef FAIL

int traffic_config_check(const traffic_config *cfg, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (cfg->nclasses > 0 && !cfg->classes) {
        if (err && errlen)
            snprintf(err, errlen, "traffic.classes: missing");
        return -EINVAL;
    }
    if (cfg->nclasses > UINT32_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "traffic.classes: too many classes");
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->nclasses; i++) {
        int rc = traffic_check_class(cfg, i, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- arrival processes ---- */

/* The microsecond a continuous instant (base + off, off >= 0) falls in, or NEVER at or after the horizon. */
static sim_time_t traffic_instant(sim_time_t base, double off, sim_time_t horizon)
{
    /* Compare as doubles first: a tiny rate can put the instant beyond what int64_t holds. */
    if (!((double)base + off < (double)horizon))
        return SIM_TIME_NEVER;
    sim_time_t t;
    if (__builtin_add_overflow(base, (sim_time_t)floor(off), &t) || t >= horizon)
        return SIM_TIME_NEVER;
    return t;
}

static sim_time_t traffic_schedule_next(traffic_source *s, sim_time_t horizon)
{
    const traffic_arrivals *a = &s->c->arrivals;
    double e = sim_dist_exp1(s->arrivals); /* the cumulative rate to spend */
    for (;;) {
        double rate = a->steps[s->step].rate / (double)SIM_SEC; /* per microsecond */
        bool last = s->step + 1 == a->nsteps;
        if (last && a->period == 0) {
            if (rate <= 0)
                return SIM_TIME_NEVER;
            s->clock += e / rate;
            return traffic_instant(s->base, s->clock, horizon);
        }
        double end = last ? (double)a->period : (double)a->steps[s->step + 1].at;
        if (rate > 0) {
            double need = e / rate;
            if (s->clock + need < end) {
                s->clock += need;
                return traffic_instant(s->base, s->clock, horizon);
            }
            e -= rate * (end - s->clock);
            if (e < 0)
                e = 0;
        }
        s->clock = end;
        if (++s->step < a->nsteps)
            continue;
        /* End of a period: wrap, skipping every whole period the remaining E jumps over. */
        s->step = 0;
        s->clock = 0;
        if (s->mass <= 0 || __builtin_add_overflow(s->base, a->period, &s->base) || s->base >= horizon)
            return SIM_TIME_NEVER;
        if (e >= s->mass) {
            double k = floor(e / s->mass);
            if (k >= (double)(INT64_MAX / a->period))
                return SIM_TIME_NEVER;
            e -= k * s->mass;
            if (e < 0)
                e = 0;
            if (__builtin_add_overflow(s->base, (sim_time_t)k * a->period, &s->base) || s->base >= horizon)
                return SIM_TIME_NEVER;
        }
    }
}

static sim_time_t traffic_burst_next(traffic_source *s, sim_time_t horizon)
{
    const traffic_arrivals *a = &s->c->arrivals;
    if (s->left == 0)
        return SIM_TIME_NEVER;
    s->rem *= pow(gsl_rng_uniform_pos(s->arrivals), 1.0 / (double)s->left);
    s->left--;
    double x = (1.0 - s->rem) * (double)a->over;
    sim_time_t off = x < (double)a->over ? (sim_time_t)x : a->over - 1;
    if (off >= a->over) /* (double)over rounded up */
        off = a->over - 1;
    sim_time_t t = a->start + off;
    return t < horizon ? t : SIM_TIME_NEVER;
}

static sim_time_t traffic_periodic_next(traffic_source *s, sim_time_t horizon)
{
    const traffic_arrivals *a = &s->c->arrivals;
    if (s->left == 0) {
        if (a->every == 0 || a->count == 0)
            return SIM_TIME_NEVER;
        s->batch++;
        s->left = a->count;
    }
    s->left--;
    sim_time_t off, t;
    if (s->batch > (uint64_t)INT64_MAX || __builtin_mul_overflow((sim_time_t)s->batch, a->every, &off) ||
        __builtin_add_overflow(a->start, off, &t) || t >= horizon)
        return SIM_TIME_NEVER;
    return t;
}

/* Draws the class's next pending arrival into s->next. */
static void traffic_source_advance(traffic_source *s, sim_time_t horizon)
{
    const traffic_arrivals *a = &s->c->arrivals;
    switch (a->kind) {
    case TRAFFIC_POISSON:
        s->clock += s->gap * sim_dist_exp1(s->arrivals);
        s->next = traffic_instant(0, s->clock, horizon);
        return;
    case TRAFFIC_SCHEDULE:
        s->next = traffic_schedule_next(s, horizon);
        return;
    case TRAFFIC_BURST:
        s->next = traffic_burst_next(s, horizon);
        return;
    case TRAFFIC_PERIODIC:
        s->next = traffic_periodic_next(s, horizon);
        return;
    case TRAFFIC_TRACE:
        if (s->next_time < a->ntimes && a->times[s->next_time] < horizon)
            s->next = a->times[s->next_time++];
        else
            s->next = SIM_TIME_NEVER;
        return;
    }
    sim_panic(__func__, "unknown arrival process");
}

/* Sets up the process state and the first pending arrival. */
static void traffic_source_start(traffic_source *s, sim_time_t horizon)
{
    const traffic_arrivals *a = &s->c->arrivals;
    s->next = SIM_TIME_NEVER;
    switch (a->kind) {
    case TRAFFIC_POISSON:
        if (a->rate <= 0)
            return;
        s->gap = (double)SIM_SEC / a->rate;
        break;
    case TRAFFIC_SCHEDULE:
        if (a->period > 0)
            for (size_t k = 0; k < a->nsteps; k++) {
                sim_time_t end = k + 1 < a->nsteps ? a->steps[k + 1].at : a->period;
                s->mass += a->steps[k].rate / (double)SIM_SEC * (double)(end - a->steps[k].at);
            }
        break;
    case TRAFFIC_BURST:
        s->left = a->count;
        s->rem = 1.0;
        break;
    case TRAFFIC_PERIODIC:
        s->left = a->count;
        break;
    case TRAFFIC_TRACE:
        break;
    }
    traffic_source_advance(s, horizon);
}

static void traffic_find_head(traffic *t)
{
    size_t best = t->nsrc;
    sim_time_t when = SIM_TIME_NEVER;
    for (size_t i = 0; i < t->nsrc; i++)
        if (t->src[i].next < when) {
            when = t->src[i].next;
            best = i;
        }
    t->head = best;
}

/* ---- messages ---- */

/* Round to nearest, then clamp to [lo, hi]; NaN becomes lo. */
static double traffic_clamp_round(double x, double lo, double hi)
{
    double v = floor(x + 0.5);
    if (!(v >= lo))
        return lo;
    return v > hi ? hi : v;
}

/* Draws size, recipient count and recipient domains, in that order, from r. */
static void traffic_fill(traffic *t, const traffic_source *s, gsl_rng *r, traffic_msg *m)
{
    const traffic_class_config *c = s->c;
    m->size = (uint32_t)traffic_clamp_round(sim_dist_sample(&c->size, r), 1, (double)UINT32_MAX);
    m->nrcpt = (uint32_t)traffic_clamp_round(sim_dist_sample(&c->recipients, r), 1, TRAFFIC_MAX_RCPT);
    t->rcpt = sim_xgrow(t->rcpt, &t->rcpt_cap, m->nrcpt, sizeof(*t->rcpt), 16);
    for (uint32_t k = 0; k < m->nrcpt; k++)
        t->rcpt[k] = (uint16_t)gsl_ran_discrete(r, s->domains);
    m->rcpt_domain = t->rcpt;
}

sim_time_t traffic_arrivals_end(const traffic_arrivals *a)
{
    switch (a->kind) {
    case TRAFFIC_BURST:
        return a->start + a->over;
    case TRAFFIC_TRACE:
        return a->ntimes ? (a->times[a->ntimes - 1] / SIM_SEC + 1) * SIM_SEC : 0;
    case TRAFFIC_SCHEDULE: {
        if (a->period > 0 || a->nsteps == 0)
            return SIM_TIME_NEVER;
        size_t k = a->nsteps;
        while (k > 0 && a->steps[k - 1].rate == 0)
            k--;
        return k == a->nsteps ? SIM_TIME_NEVER : k == 0 ? 0 : a->steps[k].at;
    }
    case TRAFFIC_PERIODIC:
        return a->every == 0 ? a->start + 1 : SIM_TIME_NEVER;
    case TRAFFIC_POISSON:
        return a->rate == 0 ? 0 : SIM_TIME_NEVER;
    }
    return SIM_TIME_NEVER;
}

uint32_t traffic_class_max_rcpt(const traffic_class_config *c)
{
    const sim_dist *d = &c->recipients;
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return (uint32_t)traffic_clamp_round(d->a, 1, TRAFFIC_MAX_RCPT);
    case SIM_DIST_UNIFORM: /* [a, b): nothing rounds above b's rounding */
        return (uint32_t)traffic_clamp_round(d->b, 1, TRAFFIC_MAX_RCPT);
    case SIM_DIST_EMPIRICAL: /* sorted ascending */
        return d->n ? (uint32_t)traffic_clamp_round(d->values[d->n - 1], 1, TRAFFIC_MAX_RCPT) : 1;
    default:
        return TRAFFIC_MAX_RCPT;
    }
}

uint32_t traffic_max_rcpt(const traffic_config *cfg)
{
    uint32_t most = 1;
    for (size_t i = 0; i < cfg->nclasses; i++) {
        uint32_t n = traffic_class_max_rcpt(&cfg->classes[i]);
        most = n > most ? n : most;
    }
    return most;
}

/* ---- life cycle ---- */

traffic *traffic_create(const traffic_config *cfg, uint64_t seed, uint32_t replication, sim_time_t horizon)
{
    char err[512];
    if (traffic_config_check(cfg, err, sizeof(err)) < 0)
        sim_panic(__func__, "%s", err);
    traffic *t = sim_xcalloc(1, sizeof(*t));
    t->cfg = cfg;
    t->nsrc = cfg->nclasses;
    t->horizon = horizon;
    t->next_id = 1;
    t->src = sim_xcalloc(t->nsrc, sizeof(*t->src));

    size_t longest = 0, most = 0;
    for (size_t i = 0; i < t->nsrc; i++) {
        size_t n = strlen(cfg->classes[i].name);
        longest = n > longest ? n : longest;
        most = cfg->classes[i].ndomains > most ? cfg->classes[i].ndomains : most;
    }
    size_t namelen = longest + sizeof("arrivals/");
    char *name = sim_xmalloc(namelen);
    double *weights = sim_xreallocarray(NULL, most ? most : 1, sizeof(*weights));

    for (size_t i = 0; i < t->nsrc; i++) {
        traffic_source *s = &t->src[i];
        s->c = &cfg->classes[i];
        snprintf(name, namelen, "arrivals/%s", s->c->name);
        s->arrivals = sim_random_stream(seed, replication, name);
        snprintf(name, namelen, "messages/%s", s->c->name);
        s->messages = sim_random_stream(seed, replication, name);
        snprintf(name, namelen, "resend/%s", s->c->name);
        s->resends = sim_random_stream(seed, replication, name);
        for (size_t k = 0; k < s->c->ndomains; k++)
            weights[k] = s->c->domains[k].weight;
        s->domains = gsl_ran_discrete_preproc(s->c->ndomains, weights);
        if (!s->domains)
            sim_panic(__func__, "cannot build the domain table");
        traffic_source_start(s, horizon);
    }
    free(name);
    free(weights);
    traffic_find_head(t);
    return t;
}

void traffic_free(traffic *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsrc; i++) {
        traffic_source *s = &t->src[i];
        if (s->arrivals)
            gsl_rng_free(s->arrivals);
        if (s->messages)
            gsl_rng_free(s->messages);
        if (s->resends)
            gsl_rng_free(s->resends);
        if (s->domains)
            gsl_ran_discrete_free(s->domains);
    }
    free(t->src);
    free(t->rcpt);
    free(t);
}

/* ---- generation ---- */

sim_time_t traffic_peek(const traffic *t)
{
    return t->head < t->nsrc ? t->src[t->head].next : SIM_TIME_NEVER;
}

bool traffic_next(traffic *t, traffic_msg *m)
{
    if (t->head >= t->nsrc)
        return false;
    traffic_source *s = &t->src[t->head];
    m->id = t->next_id++;
    m->cls = (uint32_t)t->head;
    m->arrival = s->next;
    m->resend_of = 0;
    m->resend_no = 0;
    traffic_fill(t, s, s->messages, m);
    traffic_source_advance(s, t->horizon);
    traffic_find_head(t);
    return true;
}

bool traffic_resend(traffic *t, const traffic_msg *orig, uint32_t made, sim_time_t now, traffic_msg *m)
{
    if (orig->cls >= t->nsrc)
        sim_panic(__func__, "message of an unknown class");
    traffic_source *s = &t->src[orig->cls];
    const traffic_resend_config *rs = &s->c->resend;
    if (rs->after <= 0 || made >= rs->max)
        return false;
    if (!(gsl_rng_uniform(s->resends) < rs->probability))
        return false;
    /* Fill after the decision so that orig may alias m. */
    uint64_t root = orig->resend_of ? orig->resend_of : orig->id;
    uint32_t cls = orig->cls;
    m->id = t->next_id++;
    m->cls = cls;
    m->arrival = now;
    m->resend_of = root;
    m->resend_no = made + 1;
    traffic_fill(t, s, s->resends, m);
    return true;
}

/* ---- rates ---- */

double traffic_rate_at(const traffic_class_config *c, sim_time_t t)
{
    const traffic_arrivals *a = &c->arrivals;
    if (t < 0)
        return 0;
    switch (a->kind) {
    case TRAFFIC_POISSON:
        return a->rate;
    case TRAFFIC_SCHEDULE: {
        if (a->nsteps == 0)
            return 0;
        sim_time_t off = a->period > 0 ? t % a->period : t;
        size_t lo = 0, hi = a->nsteps; /* the last step with at <= off is in [lo, hi) */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (a->steps[mid].at <= off)
                lo = mid;
            else
                hi = mid;
        }
        return a->steps[lo].rate;
    }
    case TRAFFIC_BURST:
        if (a->count == 0 || a->over <= 0 || t < a->start || t - a->start >= a->over)
            return 0;
        return (double)a->count / sim_time_to_sec(a->over);
    case TRAFFIC_PERIODIC:
        if (a->every <= 0 || t < a->start)
            return 0;
        return (double)a->count / sim_time_to_sec(a->every);
    case TRAFFIC_TRACE: {
        if (a->ntimes < 2)
            return 0;
        sim_time_t first = a->times[0], last = a->times[a->ntimes - 1];
        if (last <= first || t < first || t > last)
            return 0;
        return (double)(a->ntimes - 1) / sim_time_to_sec(last - first);
    }
    }
    return 0;
}
