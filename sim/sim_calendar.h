/*
 * sim_calendar - the event calendar of the discrete-event kernel.
 *
 * Events are intrusive (as libuv's timers): the owner embeds a sim_event in its own struct, and the
 * callback recovers the owner with SIM_CONTAINER_OF. Scheduling therefore never allocates: the calendar
 * stores (time, sequence, pointer) triples in one array that grows geometrically and is never shrunk.
 *
 * Order: by time, then by the sequence number assigned at scheduling, so events with equal time run in
 * the order they were scheduled (DESIGN.md principle 5). Rescheduling a pending event cancels it first
 * and gives it a new sequence number.
 */
#ifndef SIM_CALENDAR_H
#define SIM_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_time.h"

#define SIM_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

typedef struct sim_event sim_event;
typedef void (*sim_event_fn)(sim_event *ev, sim_time_t now);

/* Embed in the owner; initialise with sim_event_init before first use. */
struct sim_event {
    sim_event_fn fn;   /* called when the event fires; it may reschedule this or any other event */
    sim_time_t time;   /* when it fires; valid while pending */
    uint32_t slot;     /* position in the calendar's array; SIM_EVENT_IDLE when not pending */
};
#define SIM_EVENT_IDLE UINT32_MAX

typedef struct sim_calendar sim_calendar;

void sim_event_init(sim_event *ev, sim_event_fn fn);
static inline bool sim_event_pending(const sim_event *ev) { return ev->slot != SIM_EVENT_IDLE; }

sim_calendar *sim_calendar_create(size_t initial_capacity);
void sim_calendar_free(sim_calendar *cal);

/* Schedules ev at `at` (>= now; earlier is a broken invariant and aborts). Reschedules if pending. */
void sim_calendar_schedule(sim_calendar *cal, sim_event *ev, sim_time_t at);
/* Removes a pending event; a no-op for an idle one. */
void sim_calendar_cancel(sim_calendar *cal, sim_event *ev);

sim_time_t sim_calendar_now(const sim_calendar *cal);
size_t sim_calendar_size(const sim_calendar *cal);
/* Time of the next event, or SIM_TIME_NEVER when empty. */
sim_time_t sim_calendar_peek_time(const sim_calendar *cal);

/*
 * Removes the next event, advances now to its time and calls its fn. Returns false when empty.
 * Running one event at a time lets the run controller check the horizon and sample between events.
 * The event is idle (not pending) while its fn runs.
 */
bool sim_calendar_step(sim_calendar *cal);
/* Runs events while the next one is at or before `until`; then sets now = until. Returns events run.
 * `until` before now aborts; until == SIM_TIME_NEVER runs the calendar dry and leaves now at the time
 * of the last event run. */
uint64_t sim_calendar_run_until(sim_calendar *cal, sim_time_t until);

#endif
