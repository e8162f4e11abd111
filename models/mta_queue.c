/*
 * mta_queue - the concurrency window arithmetic of Postfix's queue manager.
 *
 * Postfix grows the window by g(N) per success and shrinks it by f(N) per failure, where g and f are the
 * feedback values ("1", "1/4", "1/concurrency"; Postfix 3.7 has no other form, mta_params.c). Steps are
 * taken with a hysteresis of 1/2 a step: a positive step happens at the END of 1/g successes (success +
 * g/2 >= 1), a negative step at the START of 1/f failures (failure - f/2 < 0). One consequence, which
 * operators see in their logs and which the tests pin down: with f > 2/3 and failure == 0 (a new queue,
 * or right after an increase) the first failure lowers the window by 2 - the defaults go 5 -> 3 -> 2 ->
 * dead.
 *
 * Independently of the window, each failure adds 1/window to fail_cohorts (a cohort is a window's
 * worth of failed deliveries); any success resets it. When it reaches failed_cohort_limit the queue is
 * declared dead. With the default limit of 1 that takes three failures from a window of 5, and a single
 * failure at window 1 - why Postfix's documentation asks for a cohort limit of 10 with a rate delay.
 */
#include "models/mta_queue.h"

void mta_queue_window_init(mta_queue_window *w, const mta_transport_params *p)
{
    *w = (mta_queue_window){.window = (int32_t)mta_transport_initial_concurrency(p)};
}

static uint32_t initial_window(const mta_transport_params *p) { return mta_transport_initial_concurrency(p); }

void mta_queue_unthrottle(mta_queue_window *w, const mta_transport_params *p)
{
    w->fail_cohorts = 0;
    if (mta_queue_dead(w)) {
        /* A dead queue comes back at the concurrency it demonstrably sustains. */
        w->window = w->busy > 0 ? (int32_t)w->busy : (int32_t)initial_window(p);
        w->success = w->failure = 0;
        return;
    }
    uint32_t limit = mta_transport_concurrency_limit(p);
    /* Grow only while the window is in use: a margin of the initial concurrency above busy. */
    if ((limit == 0 || (uint32_t)w->window < limit) && (uint32_t)w->window < w->busy + initial_window(p)) {
        double g = mta_feedback_value(&p->positive_feedback, (uint32_t)w->window);
        w->success += g;
        while (w->success + g / 2 >= 1) {
            w->window++;
            w->success -= 1;
            w->failure = 0;
        }
        if (limit > 0 && (uint32_t)w->window > limit)
            w->window = (int32_t)limit;
    }
}

bool mta_queue_throttle(mta_queue_window *w, const mta_transport_params *p)
{
    if (mta_queue_dead(w))
        return false; /* while dead, in-flight failures give no feedback */
    w->fail_cohorts += 1.0 / w->window;
    if (p->failed_cohort_limit > 0 && w->fail_cohorts >= p->failed_cohort_limit) {
        w->window = 0;
        return true;
    }
    double f = mta_feedback_value(&p->negative_feedback, (uint32_t)w->window);
    w->failure -= f;
    while (w->failure - f / 2 < 0) {
        w->window--;
        w->success = 0;
        w->failure += 1;
    }
    if (w->window < 1)
        w->window = 1;
    return false;
}
