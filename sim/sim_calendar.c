/*
 * sim_calendar - the event calendar: an implicit 4-ary min-heap of (time, sequence) keys.
 *
 * Why this structure. A simulation run spends most of its time popping the next event and pushing the
 * one it causes, so the calendar is the hottest code in tempfail. A textbook binary heap of event
 * pointers pays a pointer chase per comparison and one unpredictable branch per level over log2(n)
 * levels. Here instead:
 *
 * - The keys live inline in their own array, one 16-byte unsigned 128-bit integer per entry (time in
 *   the high half with its sign bit flipped so signed order becomes unsigned order, sequence in the low
 *   half). Comparing two keys is one 128-bit compare (cmp/sbb), with no branch on time ties.
 * - The heap is 4-ary: half as many levels as a binary heap. The array is offset so that the four
 *   children of every node share one 64-byte cache line, and the minimum of the four is found with
 *   branch-free selects, so a level costs one cache line and no mispredicted branch.
 * - Slots past the last entry hold a sentinel key (all ones) that no real key reaches (sequence numbers
 *   never get to UINT64_MAX), so the sift loops never test how many children a node has.
 * - Removing the minimum walks the hole down to a leaf along the smallest children without comparing
 *   against the element that will fill it (Floyd's trick), then sifts that element (the old last leaf,
 *   almost always large) up the usual one or two levels.
 * - The event pointers sit in a parallel array moved in step with the keys; each event's slot is
 *   updated as it moves, which is what makes cancel O(log n).
 * - The fired event's entry is removed lazily: when its callback schedules a successor (the common
 *   case), the successor takes over the root entry in a single sift (see sim_calendar_step).
 *
 * Nothing here allocates per event: the arrays double when full and are never shrunk.
 * tests/bench/bench_hold.c measures this against a bare binary heap; docs/bench-kernel.md has figures.
 */
#include "sim/sim_calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 cal_key;

#define CAL_SENTINEL (~(cal_key)0)
#define CAL_SIGN ((uint64_t)1 << 63)
/* Entries allocated past the capacity, all sentinels, so the last node's four children are always
 * readable and prefetching the grandchildren of a node near the end stays inside the allocation. */
#define CAL_PAD 16
/* keys = base + CAL_SKEW puts keys[1], keys[5], keys[9]... (each first child) on a cache line. */
#define CAL_SKEW 3
#define CAL_LINE 64

struct sim_calendar {
    cal_key *keys;     /* keys[0] is the minimum; keys[i] for i >= n is CAL_SENTINEL */
    sim_event **evs;   /* evs[i] is the event whose key is keys[i] */
    void *keys_mem;    /* the aligned allocation keys points into */
    size_t n;          /* entries in use: the pending events, plus the fired one's while root_stale */
    size_t cap;        /* entries before growth is needed */
    uint64_t next_seq; /* assigned at each schedule: FIFO among equal times */
    sim_time_t now;
    bool root_stale;   /* keys[0] belongs to the event being fired and is to be replaced (see step) */
};

static inline cal_key cal_make_key(sim_time_t t, uint64_t seq)
{
    return ((cal_key)((uint64_t)t ^ CAL_SIGN) << 64) | seq;
}

static inline sim_time_t cal_key_time(cal_key k)
{
    return (sim_time_t)((uint64_t)(k >> 64) ^ CAL_SIGN);
}

static void cal_fail(const char *fn, const char *what)
{
    fprintf(stderr, "%s: %s\n", fn, what);
    abort();
}

/* Allocates arrays for cap entries, copies the n current ones and fills the rest with sentinels. */
static void cal_grow(sim_calendar *cal, size_t cap)
{
    if (cap > (size_t)SIM_EVENT_IDLE - CAL_PAD)
        cal_fail("sim_calendar_grow", "too many pending events");
    size_t bytes = (cap + CAL_PAD + CAL_SKEW) * sizeof(cal_key);
    bytes = (bytes + CAL_LINE - 1) / CAL_LINE * CAL_LINE;
    void *mem = aligned_alloc(CAL_LINE, bytes);
    sim_event **evs = malloc((cap + CAL_PAD) * sizeof *evs);
    if (!mem || !evs)
        cal_fail("sim_calendar_grow", "out of memory");
    cal_key *keys = (cal_key *)mem + CAL_SKEW;
    if (cal->n) {
        memcpy(keys, cal->keys, cal->n * sizeof *keys);
        memcpy(evs, cal->evs, cal->n * sizeof *evs);
    }
    for (size_t i = cal->n; i < cap + CAL_PAD; i++) {
        keys[i] = CAL_SENTINEL;
        evs[i] = NULL;
    }
    free(cal->keys_mem);
    free(cal->evs);
    cal->keys_mem = mem;
    cal->keys = keys;
    cal->evs = evs;
    cal->cap = cap;
}

void sim_event_init(sim_event *ev, sim_event_fn fn)
{
    ev->fn = fn;
    ev->time = SIM_TIME_NEVER;
    ev->slot = SIM_EVENT_IDLE;
}

sim_calendar *sim_calendar_create(size_t initial_capacity)
{
    sim_calendar *cal = calloc(1, sizeof *cal);
    if (!cal)
        cal_fail("sim_calendar_create", "out of memory");
    cal_grow(cal, initial_capacity < 16 ? 16 : initial_capacity);
    return cal;
}

void sim_calendar_free(sim_calendar *cal)
{
    if (!cal)
        return;
    /* Events belong to their owners; leave them idle so an owner may reuse them elsewhere. */
    for (size_t i = cal->root_stale; i < cal->n; i++)
        cal->evs[i]->slot = SIM_EVENT_IDLE;
    free(cal->keys_mem);
    free(cal->evs);
    free(cal);
}

/* Moves the hole at h up while key is smaller than the parent, then fills it with (key, ev). */
static inline void cal_sift_up(sim_calendar *cal, size_t h, cal_key key, sim_event *ev)
{
    cal_key *keys = cal->keys;
    sim_event **evs = cal->evs;
    while (h > 0) {
        size_t p = (h - 1) >> 2;
        if (!(key < keys[p]))
            break;
        keys[h] = keys[p];
        evs[h] = evs[p];
        evs[h]->slot = (uint32_t)h;
        h = p;
    }
    keys[h] = key;
    evs[h] = ev;
    ev->slot = (uint32_t)h;
}

/* Index of the smallest of the four children starting at c (sentinels stand in for missing ones). */
static inline size_t cal_min_child(const cal_key *keys, size_t c)
{
    const cal_key *k = keys + c;
    size_t a = k[1] < k[0];
    size_t b = 2 + (k[3] < k[2]);
    /* Which child wins is a coin toss, so any branch here mispredicts half the time. Masks instead of
     * "?:", and the empty asm hides a and b from the optimiser, which would otherwise split the code
     * into one path per value of b, with a branch to choose between them. */
    __asm__("" : "+r"(a), "+r"(b));
    size_t take_b = -(size_t)(k[b] < k[a]);
    return c + (a ^ ((a ^ b) & take_b));
}

/* Moves the hole at h down while a child is smaller than key, then fills it with (key, ev). */
static inline void cal_sift_down(sim_calendar *cal, size_t h, cal_key key, sim_event *ev)
{
    cal_key *keys = cal->keys;
    sim_event **evs = cal->evs;
    size_t n = cal->n;
    for (;;) {
        size_t c = 4 * h + 1;
        if (c >= n)
            break;
        size_t m = cal_min_child(keys, c);
        if (!(keys[m] < key))
            break;
        keys[h] = keys[m];
        evs[h] = evs[m];
        evs[h]->slot = (uint32_t)h;
        h = m;
    }
    keys[h] = key;
    evs[h] = ev;
    ev->slot = (uint32_t)h;
}

/* Fills the root hole with (key, ev): walks the hole down to a leaf along the smallest children without
 * comparing against key (Floyd), then sifts key up from there. key is usually large (a leaf, or an event
 * scheduled into the future), so the second half rarely climbs more than a level or two. */
static inline void cal_refill_root(sim_calendar *cal, cal_key key, sim_event *ev)
{
    cal_key *keys = cal->keys;
    sim_event **evs = cal->evs;
    size_t n = cal->n, h = 0;
    for (;;) {
        size_t c = 4 * h + 1;
        if (c >= n)
            break;
        /* The next line down is one of these four; fetching all of them overlaps its latency with
         * the comparisons at this level. */
        size_t g = 4 * c + 1;
        if (g < n) {
            __builtin_prefetch(&keys[g]);
            __builtin_prefetch(&keys[g + 4]);
            __builtin_prefetch(&keys[g + 8]);
            __builtin_prefetch(&keys[g + 12]);
        }
        size_t m = cal_min_child(keys, c);
        keys[h] = keys[m];
        evs[h] = evs[m];
        evs[h]->slot = (uint32_t)h;
        h = m;
    }
    cal_sift_up(cal, h, key, ev);
}

/* Removes the entry at slot i, refilling the hole with the last entry. */
static inline void cal_remove_at(sim_calendar *cal, size_t i)
{
    size_t last = --cal->n;
    cal_key key = cal->keys[last];
    sim_event *ev = cal->evs[last];
    cal->keys[last] = CAL_SENTINEL;
    cal->evs[last] = NULL;
    if (i == last)
        return;
    if (i == 0)
        cal_refill_root(cal, key, ev);
    else if (key < cal->keys[(i - 1) >> 2])
        cal_sift_up(cal, i, key, ev);
    else
        cal_sift_down(cal, i, key, ev);
}

/* Completes the removal of the fired event's entry that step left in place. */
static inline void cal_settle(sim_calendar *cal)
{
    if (cal->root_stale) {
        cal->root_stale = false;
        cal_remove_at(cal, 0);
    }
}

static void cal_check_slot(const sim_calendar *cal, const sim_event *ev, const char *fn)
{
    if (ev->slot >= cal->n || cal->evs[ev->slot] != ev)
        cal_fail(fn, "event is pending in another calendar or was corrupted");
}

void sim_calendar_schedule(sim_calendar *cal, sim_event *ev, sim_time_t at)
{
    if (at < cal->now) {
        fprintf(stderr, "sim_calendar_schedule: time %lld is before now %lld\n", (long long)at,
                (long long)cal->now);
        abort();
    }
    cal_key key = cal_make_key(at, cal->next_seq++);
    ev->time = at;
    if (!sim_event_pending(ev)) {
        if (cal->root_stale) {
            /* The usual case inside a callback: the new event takes over the fired one's entry. */
            cal->root_stale = false;
            cal_refill_root(cal, key, ev);
            return;
        }
        if (cal->n == cal->cap)
            cal_grow(cal, cal->cap * 2);
        cal_sift_up(cal, cal->n++, key, ev);
        return;
    }
    /* Rescheduling: the new key may belong above or below the old position. */
    cal_check_slot(cal, ev, "sim_calendar_schedule");
    size_t i = ev->slot;
    if (i > 0 && key < cal->keys[(i - 1) >> 2])
        cal_sift_up(cal, i, key, ev);
    else
        cal_sift_down(cal, i, key, ev);
}

void sim_calendar_cancel(sim_calendar *cal, sim_event *ev)
{
    if (!sim_event_pending(ev))
        return;
    cal_check_slot(cal, ev, "sim_calendar_cancel");
    cal_remove_at(cal, ev->slot);
    ev->slot = SIM_EVENT_IDLE;
}

sim_time_t sim_calendar_now(const sim_calendar *cal)
{
    return cal->now;
}

size_t sim_calendar_size(const sim_calendar *cal)
{
    return cal->n - cal->root_stale;
}

sim_time_t sim_calendar_peek_time(const sim_calendar *cal)
{
    if (cal->root_stale) {
        /* The next event is the smallest child of the fired one (a sentinel when there is none). */
        cal_key k = cal->keys[cal_min_child(cal->keys, 1)];
        return k == CAL_SENTINEL ? SIM_TIME_NEVER : cal_key_time(k);
    }
    return cal->n ? cal_key_time(cal->keys[0]) : SIM_TIME_NEVER;
}

/*
 * The entry of the event being fired stays at the root while its fn runs (the event itself is already
 * idle). Most events schedule a successor, or themselves again, before touching anything else; that
 * schedule then replaces the root entry in one sift instead of a removal followed by an insertion,
 * which is most of the calendar's work in a steady-state run. Meanwhile the stale entry is a valid heap
 * entry whose key is below every other (anything scheduled since has time >= now and a later sequence),
 * so cancelling and rescheduling other events work around it untouched; only size and peek_time must
 * look past it, and a nested step completes the removal first (cal_settle).
 */
bool sim_calendar_step(sim_calendar *cal)
{
    cal_settle(cal); /* a step from inside a callback */
    if (cal->n == 0)
        return false;
    sim_event *ev = cal->evs[0];
    sim_time_t t = cal_key_time(cal->keys[0]);
    ev->slot = SIM_EVENT_IDLE;
    cal->now = t;
    cal->root_stale = true;
    ev->fn(ev, t);
    cal_settle(cal);
    return true;
}

uint64_t sim_calendar_run_until(sim_calendar *cal, sim_time_t until)
{
    if (until < cal->now) {
        fprintf(stderr, "sim_calendar_run_until: time %lld is before now %lld\n", (long long)until,
                (long long)cal->now);
        abort();
    }
    uint64_t ran = 0;
    while (sim_calendar_size(cal) && sim_calendar_peek_time(cal) <= until) {
        sim_calendar_step(cal);
        ran++;
    }
    /* Running "until never" drains the calendar; now stays at the last event rather than at the end
     * of time, so statistics taken at now still mean something. */
    if (until != SIM_TIME_NEVER)
        cal->now = until;
    return ran;
}
