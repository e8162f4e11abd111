/*
 * sim_stat - tallies, time-weighted averages and the quantile sketch.
 *
 * The tally uses Welford's update, because the textbook sum-of-squares formula loses every digit of the
 * variance when the mean is large next to the spread (latencies of 3600 s +- 1 ms).
 *
 * The time-weighted average keeps the integral of a piecewise-constant value up to its last change;
 * the mean at any later `now` adds the current value's stretch, so it can be read at every sample
 * point without a set.
 *
 * The quantile sketch is DDSketch's idea with a fixed accuracy a = 0.005: bucket i holds the values in
 * (g^(i-1), g^i], g = (1 + a)/(1 - a), and reports them as 2 g^i / (g + 1), which is within a relative
 * a of everything in the bucket. Values below 1e-9 go to a zero bucket (a latency of a nanosecond is
 * zero for every purpose here). The buckets form one array over the range of indices seen so far and
 * grow when a value falls outside it, so memory follows the spread of the data: latencies from 1 ms to
 * 1000 s need about 1400 buckets, 11 KB. Because every value lands in a bucket determined by the value
 * alone, a sketch is deterministic and the merge of two sketches is exactly the sketch of the union.
 *
 * Quantiles are lower quantiles: get(p) estimates the ceil(p n)-th smallest observation (the minimum
 * for p = 0). The first and last ranks are answered with the exact minimum and maximum, and other
 * estimates are clamped to them, which only brings an estimate closer to the truth.
 */
#include <gsl/gsl_cdf.h>
#include "sim/sim_stat.h"
#include "sim/sim_mem.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


/* Widens [*min, *max] to take in [lo, hi]; when empty, the bounds are not values yet and are replaced. */
static void sim_stat_widen(double *min, double *max, double lo, double hi, bool empty)
{
    if (empty) {
        *min = lo;
        *max = hi;
        return;
    }
    if (lo < *min)
        *min = lo;
    if (hi > *max)
        *max = hi;
}

/* ---- tally ---- */

void sim_tally_reset(sim_tally *t)
{
    *t = (sim_tally){.min = NAN, .max = NAN};
}

void sim_tally_add(sim_tally *t, double x)
{
    t->n++;
    double delta = x - t->mean;
    t->mean += delta / (double)t->n;
    t->m2 += delta * (x - t->mean);
    t->sum += x;
    /* Decided by the count, not by comparing with the initial min/max, so a zeroed struct works too. */
    sim_stat_widen(&t->min, &t->max, x, x, t->n == 1);
}

double sim_tally_variance(const sim_tally *t)
{
    return t->n < 2 ? 0 : t->m2 / (double)(t->n - 1);
}

double sim_student_t(double level, double df)
{
    if (!(df >= 1) || !(level > 0 && level < 1))
        return NAN;
    return gsl_cdf_tdist_Pinv(0.5 + level / 2, df);
}

double sim_tally_ci_halfwidth(const sim_tally *t, double level)
{
    if (t->n < 2)
        return NAN;
    return sim_student_t(level, (double)(t->n - 1)) * sqrt(sim_tally_variance(t) / (double)t->n);
}

/* ---- time-weighted average ---- */

void sim_tavg_init(sim_tavg *a, sim_time_t now, double value)
{
    *a = (sim_tavg){.start = now, .last_time = now, .value = value, .area = 0, .max = value};
}

void sim_tavg_set(sim_tavg *a, sim_time_t now, double value)
{
    if (now < a->last_time)
        sim_panic("sim_tavg_set", "time went backwards");
    a->area += a->value * sim_time_to_sec(now - a->last_time);
    a->last_time = now;
    a->value = value;
    if (value > a->max)
        a->max = value;
}

double sim_tavg_mean(const sim_tavg *a, sim_time_t now)
{
    if (now < a->last_time)
        sim_panic("sim_tavg_mean", "time went backwards");
    if (now == a->start)
        return a->value; /* an empty interval: the value it would average to */
    double area = a->area + a->value * sim_time_to_sec(now - a->last_time);
    return area / sim_time_to_sec(now - a->start);
}

void sim_tavg_reset(sim_tavg *a, sim_time_t now)
{
    sim_tavg_init(a, now, a->value);
}

/* ---- quantile sketch ---- */

#define QS_ACCURACY 0.005
#define QS_ZERO 1e-9
#define QS_INITIAL 128

struct sim_quantile {
    uint64_t *counts;   /* counts[i - lo] is the count of bucket i */
    int32_t lo;         /* bucket index of counts[0] */
    int32_t cap;        /* buckets allocated */
    int32_t min_i, max_i; /* smallest and largest non-empty bucket (when any is) */
    uint64_t zero;      /* observations below QS_ZERO */
    uint64_t n;
    double sum, min, max;
    double gamma, log_gamma;
};

sim_quantile *sim_quantile_create(void)
{
    sim_quantile *q = sim_xcalloc(1, sizeof *q);
    q->gamma = (1 + QS_ACCURACY) / (1 - QS_ACCURACY);
    q->log_gamma = log(q->gamma);
    sim_quantile_reset(q);
    return q;
}

void sim_quantile_free(sim_quantile *q)
{
    if (!q)
        return;
    free(q->counts);
    free(q);
}

void sim_quantile_reset(sim_quantile *q)
{
    if (q->counts)
        memset(q->counts, 0, (size_t)q->cap * sizeof *q->counts);
    q->min_i = INT32_MAX;
    q->max_i = INT32_MIN;
    q->zero = q->n = 0;
    q->sum = 0;
    q->min = q->max = NAN;
}

static inline int32_t qs_index(const sim_quantile *q, double x)
{
    return (int32_t)ceil(log(x) / q->log_gamma);
}

/* The value reported for bucket i, before clamping to [min, max]. */
static inline double qs_value(const sim_quantile *q, int32_t i)
{
    return 2 * exp((double)i * q->log_gamma) / (q->gamma + 1);
}

static inline double qs_clamp(const sim_quantile *q, double v)
{
    return v < q->min ? q->min : v > q->max ? q->max : v;
}

/* Makes buckets [from, to] addressable, at least doubling the array when it must grow. */
static void qs_cover(sim_quantile *q, int32_t from, int32_t to)
{
    if (q->counts && from >= q->lo && to < q->lo + q->cap)
        return;
    int64_t lo = q->counts ? (from < q->lo ? from : q->lo) : from;
    int64_t hi = q->counts ? (to >= q->lo + q->cap ? to : q->lo + q->cap - 1) : to;
    int64_t cap = hi - lo + 1;
    int64_t want = q->cap * 2 > QS_INITIAL ? q->cap * 2 : QS_INITIAL;
    if (cap < want) {
        /* Spread the slack toward the side that grew, so a drifting range grows geometrically. */
        int64_t slack = want - cap;
        if (!q->counts)
            lo -= slack / 2;
        else if (from < q->lo)
            lo -= slack;
        cap = want;
    }
    uint64_t *counts = sim_xcalloc((size_t)cap, sizeof *counts);
    if (q->counts)
        memcpy(counts + (q->lo - lo), q->counts, (size_t)q->cap * sizeof *counts);
    free(q->counts);
    q->counts = counts;
    q->lo = (int32_t)lo;
    q->cap = (int32_t)cap;
}

void sim_quantile_add(sim_quantile *q, double x)
{
    if (!(x >= 0) || isinf(x)) {
        sim_panic("sim_quantile_add", "%g is not a finite value >= 0", x);
    }
    sim_stat_widen(&q->min, &q->max, x, x, q->n == 0);
    q->n++;
    q->sum += x;
    if (x < QS_ZERO) {
        q->zero++;
        return;
    }
    int32_t i = qs_index(q, x);
    qs_cover(q, i, i);
    q->counts[i - q->lo]++;
    if (i < q->min_i)
        q->min_i = i;
    if (i > q->max_i)
        q->max_i = i;
}

uint64_t sim_quantile_count(const sim_quantile *q)
{
    return q->n;
}

double sim_quantile_min(const sim_quantile *q)
{
    return q->min;
}

double sim_quantile_max(const sim_quantile *q)
{
    return q->max;
}

double sim_quantile_mean(const sim_quantile *q)
{
    return q->n ? q->sum / (double)q->n : NAN;
}

/* The 1-based rank of the lower p-quantile: ceil(p n), at least 1. The product is nudged down by a
 * few ulps first, so 0.07 * 100 = 7.000000000000001 still means the 7th, not the 8th. */
static uint64_t qs_rank(double p, uint64_t n)
{
    double r = p * (double)n;
    double k = ceil(r - r * 4e-16);
    if (k < 1)
        return 1;
    if (k > (double)n)
        return n;
    return (uint64_t)k;
}

double sim_quantile_get(const sim_quantile *q, double p)
{
    if (q->n == 0 || isnan(p))
        return NAN;
    uint64_t k = qs_rank(p < 0 ? 0 : p > 1 ? 1 : p, q->n);
    if (k == 1)
        return q->min;
    if (k == q->n)
        return q->max;
    uint64_t cum = q->zero;
    if (cum >= k)
        return q->min; /* in the zero bucket: the exact minimum is within 1e-9 of the answer */
    for (int32_t i = q->min_i; i <= q->max_i; i++) {
        cum += q->counts[i - q->lo];
        if (cum >= k)
            return qs_clamp(q, qs_value(q, i));
    }
    return q->max; /* not reached: the counts add up to n */
}

double sim_quantile_cdf(const sim_quantile *q, double x)
{
    /* Counts the observations whose reported value is <= x, so that cdf(get(p)) >= p always holds and
     * a CDF plot and a quantile table drawn from one sketch agree (get reports the exact min and max
     * for the first and last ranks, hence the bounds below). */
    if (q->n == 0 || !(x >= q->min))
        return 0;
    if (x >= q->max)
        return 1;
    uint64_t cum = q->zero;
    for (int32_t i = q->min_i; i <= q->max_i; i++) {
        if (qs_clamp(q, qs_value(q, i)) > x)
            break;
        cum += q->counts[i - q->lo];
    }
    /* What is known exactly overrides the buckets: min <= x < max. */
    if (cum < 1)
        cum = 1;
    if (cum > q->n - 1)
        cum = q->n - 1;
    return (double)cum / (double)q->n;
}

void sim_quantile_merge(sim_quantile *dst, const sim_quantile *src)
{
    if (src->n == 0)
        return;
    if (src->max_i >= src->min_i) {
        int32_t from = src->min_i, to = src->max_i;
        qs_cover(dst, from, to);
        for (int32_t i = from; i <= to; i++)
            dst->counts[i - dst->lo] += src->counts[i - src->lo];
        if (from < dst->min_i)
            dst->min_i = from;
        if (to > dst->max_i)
            dst->max_i = to;
    }
    sim_stat_widen(&dst->min, &dst->max, src->min, src->max, dst->n == 0);
    dst->zero += src->zero;
    dst->n += src->n;
    dst->sum += src->sum;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sim_sort_doubles(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_double);
}

size_t sim_sorted_count_le(const double *v, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
