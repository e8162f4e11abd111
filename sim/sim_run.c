/*
 * sim_run - the main loop of a run (see sim_run.h).
 *
 * The sampler and the warm-up are calendar events of their own, so a sample at time t sees every event
 * scheduled before it at t and none after: samples land on exact multiples of sample_every, whatever
 * the model does. The drain check runs after every event (one call; the common answer is "busy") so the
 * end of a drained run is the instant the last message left, not the next sample.
 */
#include "sim/sim_run.h"

#include <stdio.h>
#include <time.h>

typedef struct run_state {
    sim_event sample_ev, warmup_ev;
    const sim_run_config *cfg;
    sim_calendar *cal;
    uint64_t internal;  /* events of the controller itself */
} run_state;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sample_fired(sim_event *ev, sim_time_t now)
{
    run_state *rs = SIM_CONTAINER_OF(ev, run_state, sample_ev);
    rs->internal++;
    rs->cfg->sample(rs->cfg->ctx, now);
    sim_calendar_schedule(rs->cal, &rs->sample_ev, now + rs->cfg->sample_every);
}

static void warmup_fired(sim_event *ev, sim_time_t now)
{
    run_state *rs = SIM_CONTAINER_OF(ev, run_state, warmup_ev);
    rs->internal++;
    rs->cfg->warmup_end(rs->cfg->ctx, now);
}

static void progress(const sim_run_config *cfg, sim_time_t now, sim_time_t limit, uint64_t events, double wall)
{
    char t[64];
    sim_time_format(t, sizeof(t), now);
    double pct = limit > 0 && limit != SIM_TIME_NEVER ? 100.0 * (double)now / (double)limit : 0;
    if (pct > 100)
        pct = 100;
    fprintf(stderr, "\r\033[K tempfail: simulated %s  %5.1f%%  %.2fM events/s  queue %llu", t, pct,
            wall > 0 ? (double)events / wall / 1e6 : 0.0, (unsigned long long)(cfg->queue ? cfg->queue(cfg->ctx) : 0));
    fflush(stderr);
}

void sim_run(sim_calendar *cal, const sim_run_config *cfg, sim_run_result *out)
{
    run_state rs = {.cfg = cfg, .cal = cal};
    sim_time_t start = sim_calendar_now(cal);
    sim_event_init(&rs.sample_ev, sample_fired);
    sim_event_init(&rs.warmup_ev, warmup_fired);
    if (cfg->sample_every > 0 && cfg->sample)
        sim_calendar_schedule(cal, &rs.sample_ev, start);
    if (cfg->warmup > 0 && cfg->warmup_end)
        sim_calendar_schedule(cal, &rs.warmup_ev, start + cfg->warmup);

    sim_time_t limit = cfg->until_drained ? cfg->drain_cap : cfg->horizon;
    sim_time_t shown_limit = cfg->until_drained && cfg->horizon > 0 ? cfg->horizon : limit;
    double t0 = wall_now(), last_shown = t0;
    uint64_t steps = 0;
    bool drained = false;
    *out = (sim_run_result){0};
    for (;;) {
        sim_time_t next = sim_calendar_peek_time(cal);
        if (next == SIM_TIME_NEVER || next > limit)
            break;
        sim_calendar_step(cal);
        steps++;
        if (cfg->until_drained && sim_calendar_now(cal) >= cfg->horizon && !cfg->busy(cfg->ctx)) {
            drained = true;
            break;
        }
        /* the guard: messages held grow memory; checked every 1024 events (a few microseconds) */
        if (cfg->max_queue && cfg->queue && (steps & 0x3FF) == 0 && cfg->queue(cfg->ctx) > cfg->max_queue) {
            out->overflow = true;
            break;
        }
        if (cfg->progress && (steps & 0xFFFF) == 0) {
            double w = wall_now();
            if (w - last_shown >= 0.25) {
                progress(cfg, sim_calendar_now(cal), shown_limit, steps - rs.internal, w - t0);
                last_shown = w;
            }
        }
    }
    sim_time_t now = sim_calendar_now(cal);
    if (!drained && !out->overflow) {
        /* A horizon run ends exactly at the horizon; a capped one at the cap. */
        sim_time_t end = limit == SIM_TIME_NEVER ? now : limit;
        if (end > now)
            sim_calendar_run_until(cal, end);
        now = sim_calendar_now(cal);
    }
    sim_calendar_cancel(cal, &rs.sample_ev);
    sim_calendar_cancel(cal, &rs.warmup_ev);
    if (cfg->progress) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    out->end = now;
    out->events = steps - rs.internal;
    out->drained = drained || (cfg->until_drained && !cfg->busy(cfg->ctx));
    out->capped = cfg->until_drained && !out->drained;
    out->wall = wall_now() - t0;
}
