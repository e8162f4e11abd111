/*
 * sim_calendar - the event calendar: an implicit 4-ary min-heap of (time, sequence) keys.
 *
 * Why this structure. A simulation run spends most of its time taking the next event and scheduling
 * the one it causes, so the calendar is the hottest code in tempfail. A textbook binary heap pays
 * log2(n) levels per removal, each with a branch on which child is smaller that mispredicts half the
 * time, and a heap of event pointers adds a pointer chase per comparison. Here instead:
 *
 * - The times live inline in their own array, eight bytes each, so the four children of a node are 32
 *   bytes, never straddling a cache line (the array is offset so each group of children starts on a
 *   32-byte boundary). Sequence numbers and event pointers sit in a parallel array, moved in step, and
 *   each event's slot is updated as it moves, which is what makes cancel O(log n).
 * - The heap is 4-ary: half as many levels as a binary heap. The smallest of four children is found
 *   with conditional moves, not branches, and the grandchildren's cache lines are prefetched while the
 *   comparisons run, so a level costs about one L1 hit and a few cycles.
 * - Times alone decide, except on a tie: the sequence number is consulted only when the four children
 *   hold equal times (detected in the same pass, taken out of line), so exact FIFO order among equal
 *   times costs nothing when times differ.
 * - Slots past the last entry hold a sentinel (time SIM_TIME_NEVER, sequence UINT64_MAX) that sorts
 *   after every real entry, so the loops never test how many children a node has.
 * - Removing the root walks the hole down to a leaf along the smallest children without comparing
 *   against the entry that will fill it (Floyd's trick), then sifts that entry up, which for a leaf or
 *   a newly scheduled event is rarely more than a level or two.
 * - The fired event's entry is removed lazily: when its callback schedules an event (the common case),
 *   that event takes over the root entry in a single sift (see sim_calendar_step).
 *
 * Nothing here allocates per event: the arrays double when full and are never shrunk.
 * tests/bench/bench_hold.c measures this against a bare binary heap; docs/bench-kernel.md has figures
 * for the alternatives that lost (128-bit keys, 8-ary, branchy selection, no prefetch).
 */
#include "sim/sim_calendar.h"
#include "sim/sim_mem.h"

#include <stdlib.h>
#include <string.h>

#define CAL_ARITY 4
#define CAL_LINE 64
/* times = base + CAL_SKEW puts the first child of every node (index 1 mod 4) on a 32-byte boundary. */
#define CAL_SKEW 3
/* Sentinels past the capacity: the last node's children, and the grandchildren lines prefetched. */
#define CAL_PAD 32
#define CAL_SENTINEL_SEQ UINT64_MAX

typedef struct cal_aux {
    uint64_t seq;  /* assigned at scheduling; breaks ties between equal times */
    sim_event *ev;
} cal_aux;

struct sim_calendar {
    sim_time_t *times; /* times[0] is the earliest; SIM_TIME_NEVER past the last entry */
    cal_aux *aux;      /* aux[i] belongs with times[i]; seq UINT64_MAX past the last entry */
    void *times_mem;   /* the aligned allocation times points into */
    size_t n;          /* entries in use: the pending events, plus the fired one's while root_stale */
    size_t cap;        /* entries before growth is needed */
    uint64_t next_seq;
    sim_time_t now;
    bool root_stale;   /* entry 0 belongs to the event being fired and awaits replacement (see step) */
};


/* Allocates arrays for cap entries, copies the n current ones and fills the rest with sentinels. */
static void cal_grow(sim_calendar *cal, size_t cap)
{
    if (cap > (size_t)SIM_EVENT_IDLE - CAL_PAD)
        sim_panic("sim_calendar_grow", "too many pending events");
    size_t bytes = (cap + CAL_PAD + CAL_SKEW) * sizeof(sim_time_t);
    bytes = (bytes + CAL_LINE - 1) / CAL_LINE * CAL_LINE;
    void *mem = aligned_alloc(CAL_LINE, bytes);
    if (!mem)
        sim_panic("sim_calendar_grow", "out of memory");
    cal_aux *aux = sim_xreallocarray(NULL, cap + CAL_PAD, sizeof *aux);
    sim_time_t *times = (sim_time_t *)mem + CAL_SKEW;
    if (cal->n) {
        memcpy(times, cal->times, cal->n * sizeof *times);
        memcpy(aux, cal->aux, cal->n * sizeof *aux);
    }
    for (size_t i = cal->n; i < cap + CAL_PAD; i++) {
        times[i] = SIM_TIME_NEVER;
        aux[i] = (cal_aux){CAL_SENTINEL_SEQ, NULL};
    }
    free(cal->times_mem);
    free(cal->aux);
    cal->times_mem = mem;
    cal->times = times;
    cal->aux = aux;
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
    sim_calendar *cal = sim_xcalloc(1, sizeof *cal);
    cal_grow(cal, initial_capacity < 16 ? 16 : initial_capacity);
    return cal;
}

void sim_calendar_free(sim_calendar *cal)
{
    if (!cal)
        return;
    /* Events belong to their owners; leave them idle so an owner may reuse them elsewhere. A stale
     * root's event is idle already and may even be gone. */
    for (size_t i = cal->root_stale; i < cal->n; i++)
        cal->aux[i].ev->slot = SIM_EVENT_IDLE;
    free(cal->times_mem);
    free(cal->aux);
    free(cal);
}

static inline bool cal_before(sim_time_t t1, uint64_t s1, sim_time_t t2, uint64_t s2)
{
    return t1 < t2 || (t1 == t2 && s1 < s2);
}

static inline void cal_put(sim_calendar *cal, size_t h, sim_time_t t, cal_aux a)
{
    cal->times[h] = t;
    cal->aux[h] = a;
    a.ev->slot = (uint32_t)h;
}

static inline void cal_move(sim_calendar *cal, size_t to, size_t from)
{
    cal_put(cal, to, cal->times[from], cal->aux[from]);
}

/* Moves the hole at h up while (t, seq) is before the parent, then fills it. */
static inline void cal_sift_up(sim_calendar *cal, size_t h, sim_time_t t, cal_aux a)
{
    while (h > 0) {
        size_t p = (h - 1) / CAL_ARITY;
        if (!cal_before(t, a.seq, cal->times[p], cal->aux[p].seq))
            break;
        cal_move(cal, h, p);
        h = p;
    }
    cal_put(cal, h, t, a);
}

/* The smallest child by (time, seq), for when times tie. */
static size_t cal_min_child_slow(const sim_calendar *cal, size_t c)
{
    size_t best = c;
    for (size_t j = c + 1; j < c + CAL_ARITY; j++)
        if (cal_before(cal->times[j], cal->aux[j].seq, cal->times[best], cal->aux[best].seq))
            best = j;
    return best;
}

/*
 * Index of the smallest of the four children starting at c. Which child wins is a coin toss, so a
 * branch would mispredict half the time: the selections are written so the compiler emits conditional
 * moves, and the empty asm keeps it from turning "b = 2 or 3" back into two code paths.
 * The times of the winner must be unique for the answer to be exact; any tie that could involve the
 * winner shows up as equal times in one of the three comparisons (0-1, 2-3, winner-winner), and sends
 * us to the exact version. A tie elsewhere (two sentinels, say) costs a detour, never a wrong answer.
 */
static inline size_t cal_min_child(const sim_calendar *cal, size_t c)
{
    const sim_time_t *t = cal->times + c;
    sim_time_t v0 = t[0], v1 = t[1], v2 = t[2], v3 = t[3];
    size_t a = v1 < v0, b = 2 + (v3 < v2);
    sim_time_t va = v1 < v0 ? v1 : v0, vb = v3 < v2 ? v3 : v2;
    __asm__("" : "+r"(a), "+r"(b));
    size_t m = vb < va ? b : a;
    if (__builtin_expect((v0 == v1) | (v2 == v3) | (va == vb), 0))
        return cal_min_child_slow(cal, c);
    return c + m;
}

/* Moves the hole at h down while a child is before (t, seq), then fills it. */
static inline void cal_sift_down(sim_calendar *cal, size_t h, sim_time_t t, cal_aux a)
{
    size_t n = cal->n;
    for (;;) {
        size_t c = CAL_ARITY * h + 1;
        if (c >= n)
            break;
        size_t m = cal_min_child(cal, c);
        if (!cal_before(cal->times[m], cal->aux[m].seq, t, a.seq))
            break;
        cal_move(cal, h, m);
        h = m;
    }
    cal_put(cal, h, t, a);
}

/* Fills the root hole with (t, a): walks the hole down to a leaf along the smallest children without
 * comparing against t (Floyd), then sifts t up from there. */
static void cal_refill_root(sim_calendar *cal, sim_time_t t, cal_aux a)
{
    size_t n = cal->n, h = 0;
    for (;;) {
        size_t c = CAL_ARITY * h + 1;
        if (c >= n)
            break;
        /* The next level's four children are in one of these two lines (four groups of 32 bytes);
         * fetching both overlaps their latency with the comparisons at this level. */
        size_t g = CAL_ARITY * c + 1;
        if (g < n) {
            __builtin_prefetch(&cal->times[g]);
            __builtin_prefetch(&cal->times[g + 8]);
        }
        size_t m = cal_min_child(cal, c);
        cal_move(cal, h, m);
        h = m;
    }
    cal_sift_up(cal, h, t, a);
}

/* Removes the entry at slot i, refilling the hole with the last entry. */
static void cal_remove_at(sim_calendar *cal, size_t i)
{
    size_t last = --cal->n;
    sim_time_t t = cal->times[last];
    cal_aux a = cal->aux[last];
    cal->times[last] = SIM_TIME_NEVER;
    cal->aux[last] = (cal_aux){CAL_SENTINEL_SEQ, NULL};
    if (i == last)
        return;
    size_t p = (i - 1) / CAL_ARITY;
    if (i == 0)
        cal_refill_root(cal, t, a);
    else if (cal_before(t, a.seq, cal->times[p], cal->aux[p].seq))
        cal_sift_up(cal, i, t, a);
    else
        cal_sift_down(cal, i, t, a);
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
    if (ev->slot >= cal->n || cal->aux[ev->slot].ev != ev)
        sim_panic(fn, "event is pending in another calendar or was corrupted");
}

void sim_calendar_schedule(sim_calendar *cal, sim_event *ev, sim_time_t at)
{
    if (at < cal->now) {
        sim_panic("sim_calendar_schedule", "time %lld is before now %lld", (long long)at, (long long)cal->now);
    }
    cal_aux a = {cal->next_seq++, ev};
    ev->time = at;
    if (!sim_event_pending(ev)) {
        if (cal->root_stale) {
            /* The usual case inside a callback: the new event takes over the fired one's entry. */
            cal->root_stale = false;
            cal_refill_root(cal, at, a);
            return;
        }
        if (cal->n == cal->cap)
            cal_grow(cal, cal->cap * 2);
        cal_sift_up(cal, cal->n++, at, a);
        return;
    }
    /* Rescheduling: the new key may belong above or below the old position. */
    cal_check_slot(cal, ev, "sim_calendar_schedule");
    size_t i = ev->slot, p = (i - 1) / CAL_ARITY;
    if (i > 0 && cal_before(at, a.seq, cal->times[p], cal->aux[p].seq))
        cal_sift_up(cal, i, at, a);
    else
        cal_sift_down(cal, i, at, a);
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
        /* The next event is the earliest child of the fired one (sentinels when there is none). */
        sim_time_t best = SIM_TIME_NEVER;
        for (size_t j = 1; j <= CAL_ARITY; j++)
            if (cal->times[j] < best)
                best = cal->times[j];
        return best;
    }
    return cal->n ? cal->times[0] : SIM_TIME_NEVER;
}

/*
 * The entry of the event being fired stays at the root while its fn runs (the event itself is already
 * idle). Most events schedule a successor, or themselves again, before anything else; that schedule
 * then replaces the root entry in one sift instead of a removal followed by an insertion, which is
 * most of the calendar's work in a steady-state run. Meanwhile the stale entry is a valid heap entry
 * whose key is below every other (anything scheduled since has time >= now and a later sequence), so
 * cancelling and rescheduling other events work around it untouched; only size and peek_time must
 * look past it, and a nested step completes the removal first (cal_settle).
 */
bool sim_calendar_step(sim_calendar *cal)
{
    cal_settle(cal); /* a step from inside a callback */
    if (cal->n == 0)
        return false;
    sim_event *ev = cal->aux[0].ev;
    sim_time_t t = cal->times[0];
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
        sim_panic("sim_calendar_run_until", "time %lld is before now %lld", (long long)until,
                  (long long)cal->now);
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
