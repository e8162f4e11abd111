/*
 * bench_hold - the classic "hold" benchmark of event calendars.
 *
 * PENDING events are outstanding at all times; each step takes the earliest one and schedules it again
 * at now + Exp(mean 1 s), in integer microseconds. This is the steady state of a simulation, where
 * every event causes one more, and it is what tempfail's run time is made of.
 *
 * Two implementations run the same loop on the same draws (GSL taus2 from sim_random_stream, same
 * seed, and the kernel's ziggurat exponential sim_dist_exp1, so the same variates in the same order):
 *   (a) the tempfail calendar: each event is intrusive and its fn reschedules itself, so the figure
 *       includes dispatch through the function pointer;
 *   (b) a bare binary heap of (int64 time, uint64 seq) keys written here, hole-based, popping the
 *       minimum and pushing the successor, with no events, no slots and no dispatch.
 * Both pop the same (time, seq) sequence, so they must end at the same simulated time with the same
 * checksum of popped times; the benchmark checks that and fails otherwise. The two are run
 * alternately REPEATS times and the best rate of each is kept, which filters out other load on the
 * machine. Pinning to one core is left to the caller (taskset -c 0), as bench_hold.sh does.
 *
 * Usage: bench_hold [-n STEPS] [-p PENDING] [-s SEED] [-r REPEATS]
 */
#include "sim/sim_calendar.h"
#include "sim/sim_dist.h"
#include "sim/sim_random.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ---- the workload's draws, shared by both implementations ---- */

static inline sim_time_t hold_draw(gsl_rng *r)
{
    return sim_time_from_sec(sim_dist_exp1(r));
}

struct hold_result {
    double seconds;
    sim_time_t end;    /* simulated time after the last step */
    uint64_t checksum; /* sum of popped times, mod 2^64 */
};

static double hold_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- (a) the tempfail calendar ---- */

typedef struct hold_job {
    sim_event ev;
    struct hold_ctx *ctx;
} hold_job;

typedef struct hold_ctx {
    sim_calendar *cal;
    gsl_rng *rng;
    uint64_t checksum;
} hold_ctx;

static void hold_job_fire(sim_event *ev, sim_time_t now)
{
    hold_job *job = SIM_CONTAINER_OF(ev, hold_job, ev);
    hold_ctx *ctx = job->ctx;
    ctx->checksum += (uint64_t)now;
    sim_calendar_schedule(ctx->cal, ev, now + hold_draw(ctx->rng));
}

static struct hold_result hold_run_calendar(uint64_t steps, size_t pending, uint64_t seed)
{
    hold_ctx ctx = {.cal = sim_calendar_create(pending), .rng = sim_random_stream(seed, 0, "hold")};
    hold_job *jobs = malloc(pending * sizeof *jobs);
    if (!jobs) {
        perror("bench_hold");
        exit(1);
    }
    for (size_t i = 0; i < pending; i++) {
        sim_event_init(&jobs[i].ev, hold_job_fire);
        jobs[i].ctx = &ctx;
        sim_calendar_schedule(ctx.cal, &jobs[i].ev, hold_draw(ctx.rng));
    }
    double t0 = hold_clock();
    for (uint64_t s = 0; s < steps; s++)
        sim_calendar_step(ctx.cal);
    struct hold_result res = {.seconds = hold_clock() - t0, .end = sim_calendar_now(ctx.cal),
                              .checksum = ctx.checksum};
    sim_calendar_free(ctx.cal);
    gsl_rng_free(ctx.rng);
    free(jobs);
    return res;
}

/* ---- (b) the reference: a bare binary heap of (time, seq) keys ---- */

typedef struct ref_key {
    int64_t time;
    uint64_t seq;
} ref_key;

typedef struct ref_heap {
    ref_key *a;
    size_t n;
} ref_heap;

static inline int ref_less(ref_key x, ref_key y)
{
    return x.time < y.time || (x.time == y.time && x.seq < y.seq);
}

static inline void ref_push(ref_heap *h, ref_key k)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ref_less(k, h->a[p]))
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = k;
}

static inline ref_key ref_pop(ref_heap *h)
{
    ref_key top = h->a[0];
    ref_key last = h->a[--h->n];
    size_t n = h->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ref_less(h->a[c + 1], h->a[c]))
            c++;
        if (!ref_less(h->a[c], last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = last;
    return top;
}

static struct hold_result hold_run_reference(uint64_t steps, size_t pending, uint64_t seed)
{
    gsl_rng *rng = sim_random_stream(seed, 0, "hold");
    ref_heap h = {.a = malloc(pending * sizeof(ref_key)), .n = 0};
    if (!h.a) {
        perror("bench_hold");
        exit(1);
    }
    uint64_t seq = 0, checksum = 0;
    int64_t now = 0;
    for (size_t i = 0; i < pending; i++)
        ref_push(&h, (ref_key){hold_draw(rng), seq++});
    double t0 = hold_clock();
    for (uint64_t s = 0; s < steps; s++) {
        ref_key k = ref_pop(&h);
        now = k.time;
        checksum += (uint64_t)now;
        ref_push(&h, (ref_key){now + hold_draw(rng), seq++});
    }
    struct hold_result res = {.seconds = hold_clock() - t0, .end = now, .checksum = checksum};
    free(h.a);
    gsl_rng_free(rng);
    return res;
}

/* ---- driver ---- */

static unsigned long long hold_arg(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0) {
        fprintf(stderr, "bench_hold: %s wants a positive integer, not \"%s\"\n", opt, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    uint64_t steps = 20000000, seed = 1;
    size_t pending = 10000;
    unsigned repeats = 3;
    int c;
    while ((c = getopt(argc, argv, "n:p:s:r:h")) != -1) {
        switch (c) {
        case 'n': steps = hold_arg("-n", optarg); break;
        case 'p': pending = (size_t)hold_arg("-p", optarg); break;
        case 's': seed = hold_arg("-s", optarg); break;
        case 'r': repeats = (unsigned)hold_arg("-r", optarg); break;
        default:
            fprintf(stderr, "usage: bench_hold [-n STEPS] [-p PENDING] [-s SEED] [-r REPEATS]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    printf("hold: pending=%zu steps=%llu seed=%llu repeats=%u\n", pending, (unsigned long long)steps,
           (unsigned long long)seed, repeats);
    double best_cal = 0, best_ref = 0;
    for (unsigned r = 0; r < repeats; r++) {
        struct hold_result ref = hold_run_reference(steps, pending, seed);
        struct hold_result cal = hold_run_calendar(steps, pending, seed);
        if (ref.end != cal.end || ref.checksum != cal.checksum) {
            fprintf(stderr, "bench_hold: calendar and reference disagree (end %lld vs %lld)\n",
                    (long long)cal.end, (long long)ref.end);
            return 1;
        }
        double rr = (double)steps / ref.seconds, rc = (double)steps / cal.seconds;
        printf("  run %u: reference %.0f steps/s, calendar %.0f steps/s\n", r + 1, rr, rc);
        if (rr > best_ref)
            best_ref = rr;
        if (rc > best_cal)
            best_cal = rc;
    }
    printf("reference binary heap: %.0f steps/s\n", best_ref);
    printf("tempfail calendar: %.0f steps/s\n", best_cal);
    printf("ratio calendar/reference: %.3f\n", best_cal / best_ref);
    return 0;
}
