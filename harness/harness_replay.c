/*
 * harness_replay - the replay loop (harness_replay.h says what it does and in which order).
 *
 * One thread, real time. The loop's clock is CLOCK_MONOTONIC from t0 (the instant injection
 * starts); scenario time is real time since t0 times K. Each turn: read what the logs gained, hand
 * due arrivals and due re-sends to the injector, let the injector work until the next due instant (at
 * most HARNESS_REPLAY_TICK_MS), and check that every process it started still runs.
 *
 * Re-sends are decided as the simulated world decides them (models/world.c): a FIFO per class of the
 * messages that may cause one, deadline arrival + resend.after; at the deadline a message not
 * delivered makes traffic_resend() draw, from the class's own stream, whether the user asks again.
 */
#define _GNU_SOURCE /* memmem */
#include "harness/harness_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/harness_cpu.h"
#include "harness/harness_inject.h"
#include "harness/harness_postfix_run.h"
#include "harness/harness_proc.h"
#include "harness/harness_replay_track.h"
#include "harness/harness_scheduler.h"
#include "harness/harness_speedup.h"
#include "harness/harness_testsmtpd.h"
#include "harness/harness_text.h"
#include "models/mta_record.h"
#include "models/traffic.h"
#include "sim/sim_mem.h"

#define HARNESS_REPLAY_TICK_MS 20       /* the longest the loop sleeps in the injector */
#define HARNESS_REPLAY_CHECK_NS 500000000LL /* how often processes are checked */
#define HARNESS_REPLAY_CPU_NS 100000000LL   /* how often the instances' CPU is sampled (cpu.json) */
#define HARNESS_REPLAY_EXTERNAL_PORT 2525

/* What the loop keeps of a generated message until the injector is done with it. */
typedef struct replay_msg {
    uint64_t resend_of;
    uint32_t cls, host, nrcpt, size, resend_no;
    uint16_t dom0;   /* first recipient's domain, class-local */
    bool injected;
} replay_msg;

/* A message that may make its user ask again (world.c's tracker). */
typedef struct replay_resend {
    uint64_t id, resend_of;
    uint32_t resend_no;
    sim_time_t deadline;
} replay_resend;

typedef struct replay_fifo {
    replay_resend *v;
    size_t head, n, cap;
} replay_fifo;

/* A log read as it grows: complete lines go to the tracker, a partial one waits. */
typedef struct replay_tail {
    char path[1200];
    int fd;
    char buf[65536];
    size_t len;
    uint64_t lines;
    off_t start;   /* where this replay's part of the log begins (an external MTA's log goes on) */
} replay_tail;

typedef struct replay {
    scenario *s;
    const harness_replay_opts *o;
    double k;
    uint32_t nhosts;
    traffic *gen;
    harness_testsmtpd smtpd;
    bool smtpd_started;
    harness_postfix_run *pf;
    uint32_t npf;             /* instances set up (stopped at the end) */
    long long *qmgr_sec;      /* per instance: its qmgr's first whole second (monotonic ns), or -1 */
    harness_cpu **cpu;        /* per instance: its processes' CPU (cpu.json) */
    harness_inject *inj;
    harness_replay_track *track;
    replay_tail *tails;
    replay_fifo *fifo;        /* per class */
    replay_msg *msgs;         /* by generator id (1-based; ids are dense) */
    size_t nmsgs_cap;
    uint32_t next_host;
    long long t0;
    char work[512];
    double harness_ns;        /* time spent reading logs (the harness's own overhead) */
    FILE *f_sched;            /* scheduler.csv: qmgr's feedback events, from its debug lines */
    results_scheduler *sched_out;
    harness_scheduler *sched;
    int year;                 /* for the syslog stamps */
    char err[2048];
    int fatal;                /* an error of the loop: HARNESS_REPLAY_E* */
    uint64_t submitted;
} replay;

/*
 * When the scenario's clock starts. qmgr scans the deferred queue as it starts and every
 * queue_run_delay after (qmgr.c, qmgr_deferred_run_event), and the model's qmgr starts with the
 * scenario; a replay whose clock started at some other phase of the real qmgr's scans would retry
 * deferred mail up to a queue_run_delay earlier or later than the simulation, by the accident of how
 * long Postfix took to start. Postfix's timers count whole seconds of the wall clock (events.c: a
 * timer is due when time() reaches event_time() + delay), so while qmgr is busy its scans come at
 * whole seconds, the first second of qmgr's life plus multiples of queue_run_delay, and its mtimes
 * and their checks count the same seconds. So the clock starts on such a second (the simulation's
 * seconds then begin where the replay's do), after waiting at most one (real) queue_run_delay.
 * Further instances started a moment later; their scans may lag by a second. Returns the start, or
 * -1 when the replay was stopped while waiting.
 */
static long long replay_start_clock(replay *r)
{
    long long now = harness_proc_now_ns();
    long long d = (long long)r->s->mta.queue_run_delay * 1000; /* real: the speedup has divided it */
    /* each qmgr's first whole wall-clock second, on the monotonic clock (one conversion for all, so
     * that the seconds of two instances differ by whole seconds) */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long mono = harness_proc_now_ns();
    long long wall_off = (long long)wall.tv_sec * 1000000000LL + wall.tv_nsec - mono;
    r->qmgr_sec = sim_xcalloc(r->npf ? r->npf : 1, sizeof(*r->qmgr_sec));
    for (uint32_t h = 0; h < r->npf; h++) {
        long long tq = harness_postfix_run_qmgr_started(&r->pf[h]);
        r->qmgr_sec[h] = tq < 0 ? -1 : tq - (tq + wall_off) % 1000000000LL;
    }
    long long tq = r->npf ? r->qmgr_sec[0] : -1;
    if (r->o->start_at_once || tq < 0 || d <= 0 || tq > now)
        return now;
    long long start = tq + ((now - tq + d - 1) / d) * d;
    if (r->o->progress && start - now > 1000000000LL)
        fprintf(stderr, "tempfail replay: waiting %.1f s for qmgr's next deferred-queue scan, where the "
                        "scenario's clock starts\n", (double)(start - now) / 1e9);
    while ((now = harness_proc_now_ns()) < start) {
        if (r->o->stop && *r->o->stop)
            return -1;
        long long ms = (start - now) / 1000000;
        harness_proc_sleep_ms(ms > 50 ? 50 : ms > 0 ? (int)ms : 1);
    }
    return start;
}

/* Where each instance's deferred-queue scans fall in the cycle of queue_run_delay, in scenario seconds
 * from the start (the first instance's at 0 when the clock started on its scans): summary.json's
 * replay.qmgr_start, which the simulation it is compared with takes as its mta.qmgr_start. Instances
 * started one after the other scan a second or more apart; NAN for one whose qmgr was not found. */
static void replay_qmgr_start(const replay *r)
{
    long long d = (long long)r->s->mta.queue_run_delay * 1000;
    double *v = sim_xcalloc(r->npf ? r->npf : 1, sizeof(*v));
    for (uint32_t h = 0; h < r->npf; h++) {
        if (r->qmgr_sec[h] < 0 || d <= 0) {
            v[h] = NAN;
            continue;
        }
        long long o = (r->qmgr_sec[h] - r->t0) % d;
        if (o < 0)
            o += d;
        v[h] = (double)o / 1e9 * r->k;
    }
    harness_replay_track_set_qmgr_start(r->track, v, r->npf);
    free(v);
}

/* How far after the start Postfix's next whole second (time(), the wall clock's) falls, in scenario
 * seconds: the phase of the seconds its mtimes and scan checks count in (mta_config.clock_phase). */
static double replay_clock_phase(const replay *r)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long late = harness_proc_now_ns() - r->t0; /* the wall clock was read this long after t0 */
    long long frac = ((long long)wall.tv_nsec - late) % 1000000000LL;
    if (frac < 0)
        frac += 1000000000LL;
    return (double)((1000000000LL - frac) % 1000000000LL) / 1e9 * r->k;
}

static sim_time_t replay_scn(const replay *r, long long ns)
{
    return (sim_time_t)llround((double)(ns - r->t0) / 1000.0 * r->k);
}

static long long replay_real(const replay *r, sim_time_t t)
{
    return r->t0 + (long long)llround((double)t * 1000.0 / r->k);
}

static replay_msg *replay_msg_of(replay *r, uint64_t id)
{
    if (id >= r->nmsgs_cap) {
        size_t ncap = r->nmsgs_cap ? r->nmsgs_cap : 1024;
        while (ncap <= id)
            ncap *= 2;
        r->msgs = sim_xreallocarray(r->msgs, ncap, sizeof(*r->msgs));
        memset(r->msgs + r->nmsgs_cap, 0, (ncap - r->nmsgs_cap) * sizeof(*r->msgs));
        r->nmsgs_cap = ncap;
    }
    return &r->msgs[id];
}

/* ---- logs ---- */

static int replay_tail_read(replay *r, uint32_t host)
{
    replay_tail *t = &r->tails[host];
    if (t->fd < 0) {
        t->fd = open(t->path, O_RDONLY | O_CLOEXEC);
        if (t->fd < 0)
            return 0; /* not written yet */
    }
    long long start = harness_proc_now_ns();
    int rc = 0;
    for (;;) {
        ssize_t n = read(t->fd, t->buf + t->len, sizeof(t->buf) - 1 - t->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        t->len += (size_t)n;
        size_t off = 0;
        for (;;) {
            char *nl = memchr(t->buf + off, '\n', t->len - off);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (t->buf + off));
            t->lines++;
            char lerr[512];
            if (harness_replay_track_line(r->track, host, t->buf + off, len, lerr, sizeof(lerr)) < 0 && rc == 0) {
                snprintf(r->err, sizeof(r->err), "%s: %s", t->path, lerr);
                rc = -EINVAL;
            }
            if (r->sched && memmem(t->buf + off, len, "qmgr_queue_", 11)) {
                harness_maillog_rec rec;
                if (harness_maillog_parse(t->buf + off, len, r->year, &rec) == HARNESS_MAILLOG_FEEDBACK)
                    harness_scheduler_add(r->sched, host, &rec);
            }
            off += len + 1;
        }
        memmove(t->buf, t->buf + off, t->len - off);
        t->len -= off;
        if (t->len == sizeof(t->buf) - 1) { /* a line longer than any Postfix writes: the parser says so */
            char lerr[512];
            if (harness_replay_track_line(r->track, host, t->buf, t->len, lerr, sizeof(lerr)) < 0 && rc == 0) {
                snprintf(r->err, sizeof(r->err), "%s: %s", t->path, lerr);
                rc = -EINVAL;
            }
            t->len = 0;
        }
    }
    r->harness_ns += (double)(harness_proc_now_ns() - start);
    return rc;
}

static int replay_read_logs(replay *r)
{
    for (uint32_t h = 0; h < r->nhosts; h++)
        if (replay_tail_read(r, h) < 0)
            return -EINVAL;
    return 0;
}

/* ---- injection ---- */

static void replay_injected(void *ctx, const harness_inject_result *res)
{
    replay *r = ctx;
    replay_msg *m = replay_msg_of(r, res->id);
    const traffic_class_config *cc = &r->s->traffic.classes[m->cls];
    harness_replay_msg hm = {.id = res->id,
                             .resend_of = m->resend_of,
                             .resend_no = m->resend_no,
                             .cls = m->cls,
                             .host = m->host,
                             .nrcpt = m->nrcpt,
                             .size = m->size,
                             .domain = cc->domains[m->dom0].domain,
                             .queue_id = res->queue_id,
                             .arrival = replay_scn(r, res->t_start)};
    m->injected = true;
    if (res->ok && res->queue_id[0]) {
        if (harness_replay_track_injected(r->track, &hm) < 0 && !r->fatal) {
            snprintf(r->err, sizeof(r->err), "mta%u: queue id %s given twice", m->host + 1, res->queue_id);
            r->fatal = HARNESS_REPLAY_EIO;
        }
    } else {
        harness_replay_track_inject_failed(r->track, &hm, res->reply);
    }
}

static void replay_fifo_push(replay_fifo *f, const replay_resend *e)
{
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 256;
        replay_resend *nv = sim_xcalloc(ncap, sizeof(*nv));
        for (size_t i = 0; i < f->n; i++)
            nv[i] = f->v[(f->head + i) % f->cap];
        free(f->v);
        f->v = nv;
        f->cap = ncap;
        f->head = 0;
    }
    f->v[(f->head + f->n) % f->cap] = *e;
    f->n++;
}

/* Hands a generated message to the injector: the next host round-robin, as the world does. */
static void replay_submit(replay *r, const traffic_msg *tm, sim_time_t now)
{
    const traffic_class_config *cc = &r->s->traffic.classes[tm->cls];
    replay_msg *m = replay_msg_of(r, tm->id);
    *m = (replay_msg){.resend_of = tm->resend_of, .cls = tm->cls, .host = r->next_host, .nrcpt = tm->nrcpt,
                      .size = tm->size, .resend_no = tm->resend_no, .dom0 = tm->rcpt_domain[0]};
    r->next_host = (r->next_host + 1) % r->nhosts;
    if (cc->resend.after > 0 && tm->resend_no < cc->resend.max)
        replay_fifo_push(&r->fifo[tm->cls], &(replay_resend){.id = tm->id, .resend_of = tm->resend_of,
                                                             .resend_no = tm->resend_no,
                                                             .deadline = now + cc->resend.after});
    char **rcpt = sim_xcalloc(tm->nrcpt, sizeof(*rcpt));
    for (uint32_t i = 0; i < tm->nrcpt; i++) {
        char buf[512];
        mta_record_rcpt(tm->id, i, cc->domains[tm->rcpt_domain[i]].domain, buf, sizeof(buf));
        rcpt[i] = sim_xstrdup(buf);
    }
    harness_inject_msg im = {.id = tm->id, .target = m->host, .sender = traffic_class_sender(cc),
                             .rcpt = (const char *const *)rcpt, .nrcpt = tm->nrcpt, .size = tm->size};
    harness_inject_submit(r->inj, &im);
    for (uint32_t i = 0; i < tm->nrcpt; i++)
        free(rcpt[i]);
    free(rcpt);
    r->submitted++;
}

/* Submits what is due at scenario time now: arrivals, then re-sends (world.c's order within an
 * instant is by event, which at equal times is arrival first). */
static void replay_due(replay *r, sim_time_t now)
{
    traffic_msg tm;
    while (traffic_peek(r->gen) <= now && traffic_next(r->gen, &tm))
        replay_submit(r, &tm, tm.arrival);
    for (uint32_t c = 0; c < r->s->traffic.nclasses; c++) {
        replay_fifo *f = &r->fifo[c];
        while (f->n && f->v[f->head].deadline <= now) {
            replay_resend e = f->v[f->head];
            f->head = (f->head + 1) % f->cap;
            f->n--;
            if (harness_replay_track_state(r->track, e.id) == HARNESS_REPLAY_DELIVERED)
                continue;
            traffic_msg orig = {.id = e.id, .cls = c, .resend_of = e.resend_of, .resend_no = e.resend_no};
            if (traffic_resend(r->gen, &orig, e.resend_no, e.deadline, &tm))
                replay_submit(r, &tm, e.deadline);
        }
    }
}

/* The earliest scenario time something is due, SIM_TIME_NEVER when nothing is. */
static sim_time_t replay_next_due(const replay *r)
{
    sim_time_t t = traffic_peek(r->gen);
    for (uint32_t c = 0; c < r->s->traffic.nclasses; c++)
        if (r->fifo[c].n && r->fifo[c].v[r->fifo[c].head].deadline < t)
            t = r->fifo[c].v[r->fifo[c].head].deadline;
    return t;
}

/* Whether a re-send may still come: a queued deadline of a message not delivered. */
static bool replay_resend_pending(const replay *r)
{
    for (uint32_t c = 0; c < r->s->traffic.nclasses; c++) {
        const replay_fifo *f = &r->fifo[c];
        for (size_t i = 0; i < f->n; i++)
            if (harness_replay_track_state(r->track, f->v[(f->head + i) % f->cap].id) != HARNESS_REPLAY_DELIVERED)
                return true;
    }
    return false;
}

/* ---- processes ---- */

static int replay_fail(replay *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int replay_fail(replay *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->fatal = status;
    return status;
}

static int replay_check_processes(replay *r)
{
    if (r->smtpd_started && !harness_testsmtpd_alive(&r->smtpd)) {
        char last[512], how[64];
        harness_testsmtpd_last_words(r->smtpd.log, last, sizeof(last));
        harness_proc_describe(r->smtpd.proc.status, how, sizeof(how));
        return replay_fail(r, HARNESS_REPLAY_EIO, "testsmtpd stopped during the replay (%s): %s", how,
                           last[0] ? last : "no output");
    }
    for (uint32_t h = 0; h < r->npf; h++)
        if (!harness_postfix_run_alive(&r->pf[h]))
            return replay_fail(r, HARNESS_REPLAY_EIO, "%s: Postfix's master stopped during the replay (see %s)",
                               r->pf[h].name, r->pf[h].maillog);
    return 0;
}

static void replay_stop_all(replay *r)
{
    for (uint32_t h = 0; h < r->npf; h++)
        harness_postfix_run_stop(&r->pf[h]);
    if (r->smtpd_started) {
        harness_testsmtpd_stop(&r->smtpd);
        r->smtpd_started = false;
    }
}

/* ---- set-up ---- */

/* The loopback source address of each distinct scenario source IP: 127.65.0.1, 127.65.0.2, ... */
static void replay_bind_addr(const scenario *s, uint32_t host, char *buf, size_t len)
{
    size_t n = s->mta.nsource_ips ? s->mta.nsource_ips : 1;
    size_t k = host % n;
    snprintf(buf, len, "127.65.%zu.%zu", (k + 1) / 256, (k + 1) % 256);
}

static int replay_setup(replay *r)
{
    const scenario *s = r->s;
    char path[1024];
    snprintf(path, sizeof(path), "%s/scenario.yaml", r->work);
    int rc = harness_text_write_file(path, s->resolved_yaml ? s->resolved_yaml : "");
    if (rc < 0)
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s: %s", path, strerror(-rc));
    char err[1024];
    int port = r->o->mta == HARNESS_REPLAY_EXTERNAL ? HARNESS_REPLAY_EXTERNAL_PORT : 0;
    if ((rc = harness_testsmtpd_start(&r->smtpd, r->o->testsmtpd, path, s, r->k, port, r->work, err, sizeof(err))) < 0)
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s", err);
    r->smtpd_started = true;

    const char **targets = sim_xcalloc(r->nhosts, sizeof(*targets));
    r->tails = sim_xcalloc(r->nhosts, sizeof(*r->tails));
    if (r->o->mta == HARNESS_REPLAY_POSTFIX) {
        r->pf = sim_xcalloc(r->nhosts, sizeof(*r->pf));
        for (uint32_t h = 0; h < r->nhosts; h++) {
            char dir[1024], bind[32];
            snprintf(dir, sizeof(dir), "%s/mta%u", r->work, h + 1);
            replay_bind_addr(s, h, bind, sizeof(bind));
            rc = harness_postfix_run_setup(&r->pf[h], s, h, dir, bind, (const char *const *const *)r->smtpd.addrs, err,
                                           sizeof(err));
            r->npf = h + 1;
            if (rc < 0) {
                free(targets);
                return replay_fail(r, rc == -EINVAL ? HARNESS_REPLAY_EUSAGE : HARNESS_REPLAY_EIO, "%s", err);
            }
            if ((rc = harness_postfix_run_start(&r->pf[h], err, sizeof(err))) < 0) {
                free(targets);
                return replay_fail(r, HARNESS_REPLAY_EIO, "%s", err);
            }
            targets[h] = r->pf[h].smtpd;
            snprintf(r->tails[h].path, sizeof(r->tails[h].path), "%s", r->pf[h].maillog);
            r->tails[h].fd = -1;
        }
    } else {
        for (uint32_t h = 0; h < r->nhosts; h++) {
            targets[h] = r->o->external_inject;
            snprintf(r->tails[h].path, sizeof(r->tails[h].path), "%s", r->o->external_log);
            /* Only what the MTA logs from now on is this replay's. */
            r->tails[h].fd = open(r->o->external_log, O_RDONLY | O_CLOEXEC);
            if (r->tails[h].fd < 0) {
                int e = errno;
                free(targets);
                return replay_fail(r, HARNESS_REPLAY_EIO, "--log %s: %s", r->o->external_log, strerror(e));
            }
            r->tails[h].start = lseek(r->tails[h].fd, 0, SEEK_END);
        }
    }
    harness_inject_opts io = {.targets = targets, .ntargets = r->nhosts, .conns = r->o->conns,
                              .done = replay_injected, .ctx = r};
    r->inj = harness_inject_create(&io, err, sizeof(err));
    free(targets);
    if (!r->inj)
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s", err);
    return 0;
}

/* ---- progress ---- */

static void replay_progress(replay *r, long long now, bool last)
{
    harness_replay_counts c;
    harness_replay_track_counts(r->track, &c);
    fprintf(stderr, "\r%7.1f s real, %9.0f s scenario: %" PRIu64 " injected, %" PRIu64 " delivered, %" PRIu64
                    " deferrals, %" PRIu64 " 421s, %" PRIu64 " queued \033[K%s",
            (double)(now - r->t0) / 1e9, sim_time_to_sec(replay_scn(r, now)), c.injected, c.delivered, c.deferrals,
            c.r421, c.outstanding, last ? "\n" : "");
    fflush(stderr);
}

/* ---- CPU ---- */

static void replay_cpu_sample(replay *r)
{
    for (uint32_t h = 0; r->cpu && h < r->npf; h++)
        if (r->cpu[h])
            harness_cpu_sample(r->cpu[h]); /* a master gone is replay_check_processes' to say */
}

/* cpu.json: each instance's CPU by program from the start of injection to the end of the replay,
 * sampled before Postfix was stopped (harness_cpu.h). */
static int replay_cpu_write(replay *r, results_dir *dir)
{
    if (!r->cpu || !r->npf)
        return 0;
    json_t *o = json_object();
    json_object_set_new(o, "interval", json_real(HARNESS_REPLAY_CPU_NS / 1e9));
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    json_object_set_new(o, "nproc", json_integer(np > 0 ? np : 0));
    long hz = sysconf(_SC_CLK_TCK);
    json_object_set_new(o, "clk_tck", json_integer(hz > 0 ? hz : 0));
    json_t *in = json_array();
    for (uint32_t h = 0; h < r->npf; h++)
        if (r->cpu[h])
            json_array_append_new(in, harness_cpu_json(r->cpu[h]));
    json_object_set_new(o, "instances", in);
    FILE *f = results_dir_open(dir, "cpu.json");
    int rc = f ? json_dumpf(o, f, JSON_INDENT(2)) : -1;
    if (f)
        fputc('\n', f);
    int e = results_dir_fclose(f);
    json_decref(o);
    return rc || e || !f ? -EIO : 0;
}

/* ---- the loop ---- */

static int replay_loop(replay *r, sim_time_t *end, bool *drained)
{
    const scenario *s = r->s;
    sim_time_t horizon = s->until_drained ? s->drain_cap : s->duration;
    long long wall_end = r->o->max_wall > 0 ? r->t0 + (long long)(r->o->max_wall * 1e9) : 0;
    long long next_check = r->t0 + HARNESS_REPLAY_CHECK_NS, next_progress = r->t0;
    long long next_cpu = r->t0 + HARNESS_REPLAY_CPU_NS;
    char err[1024];
    for (;;) {
        long long now = harness_proc_now_ns();
        sim_time_t t = replay_scn(r, now);
        if (r->o->stop && *r->o->stop)
            return replay_fail(r, HARNESS_REPLAY_EIO, "interrupted after %.1f s: the replay was stopped",
                               (double)(now - r->t0) / 1e9);
        if (replay_read_logs(r) < 0)
            return replay_fail(r, HARNESS_REPLAY_EIO, "%s", r->err);
        if (r->fatal)
            return r->fatal;
        if (t >= horizon) {
            *end = horizon;
            return 0;
        }
        if (wall_end && now >= wall_end) {
            *end = t;
            return 0;
        }
        replay_due(r, t);
        if (now >= next_cpu) {
            replay_cpu_sample(r);
            next_cpu = now + HARNESS_REPLAY_CPU_NS;
        }
        if (now >= next_check) {
            if (replay_check_processes(r))
                return r->fatal;
            next_check = now + HARNESS_REPLAY_CHECK_NS;
        }
        if (r->o->progress && now >= next_progress) {
            replay_progress(r, now, false);
            next_progress = now + 1000000000LL;
        }
        bool arrivals_done = traffic_peek(r->gen) == SIM_TIME_NEVER;
        if (arrivals_done && harness_inject_pending(r->inj) == 0 && harness_replay_track_settled(r->track) &&
            !replay_resend_pending(r)) {
            *end = t;
            *drained = true;
            if (!s->until_drained)
                *end = s->duration > t ? t : s->duration;
            return 0;
        }
        sim_time_t due = replay_next_due(r);
        long long until = now + HARNESS_REPLAY_TICK_MS * 1000000LL;
        if (due != SIM_TIME_NEVER && replay_real(r, due) < until)
            until = replay_real(r, due);
        if (until < now)
            until = now;
        int rc = harness_inject_run(r->inj, until, err, sizeof(err));
        if (rc < 0)
            return replay_fail(r, HARNESS_REPLAY_EIO, "injecting into the MTA: %s", err);
        if (r->fatal)
            return r->fatal;
        if (harness_inject_pending(r->inj) == 0 && until > harness_proc_now_ns())
            harness_proc_sleep_ms((int)((until - harness_proc_now_ns()) / 1000000LL));
    }
}

/* ---- the run directory ---- */

/* Appends from's bytes from offset start on to the file to. */
static int replay_copy(const char *from, off_t start, const char *to, char *err, size_t errlen)
{
    FILE *in = fopen(from, "r");
    if (!in)
        return 0; /* nothing was logged */
    if (start > 0 && fseeko(in, start, SEEK_SET) != 0) {
        fclose(in);
        snprintf(err, errlen, "%s: cannot seek to this replay's part", from);
        return -EIO;
    }
    FILE *out = fopen(to, "a");
    if (!out) {
        int e = errno;
        fclose(in);
        snprintf(err, errlen, "%s: %s", to, strerror(e));
        return -e;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    int bad = ferror(in);
    fclose(in);
    if (fclose(out) != 0 || bad) {
        snprintf(err, errlen, "copying %s to %s failed", from, to);
        return -EIO;
    }
    return 0;
}

static int replay_write(replay *r, results_dir *dir, sim_time_t end, bool drained, double wall, json_t **summary)
{
    char err[1024];
    FILE *fm = results_dir_open(dir, "messages.csv");
    FILE *ft = results_dir_open(dir, "timeseries.csv");
    if (!fm || !ft) {
        int e = errno;
        results_dir_fclose(fm);
        results_dir_fclose(ft);
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s: %s", results_dir_partial(dir), strerror(e));
    }
    long long w0 = harness_proc_now_ns();
    /* testsmtpd's clock starts at its origin and runs clock_rate times faster than real time. */
    sim_time_t ev_offset = (sim_time_t)llround((double)(r->smtpd.clock_origin - r->t0) / 1000.0 * r->k);
    double ev_scale = r->k / (r->smtpd.clock_rate > 0 ? r->smtpd.clock_rate : 1);
    json_t *sum = NULL;
    int rc = harness_replay_track_write(r->track, fm, ft, r->smtpd.events, ev_offset, ev_scale, end, &sum, err,
                                        sizeof(err));
    int e1 = results_dir_fclose(fm), e2 = results_dir_fclose(ft);
    if (rc < 0 || e1 || e2) {
        json_decref(sum);
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s", rc < 0 ? err : "writing messages.csv or timeseries.csv failed");
    }
    /* The logs themselves. */
    const char *maillog = results_dir_path(dir, "maillog");
    for (uint32_t h = 0; maillog && h < r->nhosts; h++) {
        if (replay_copy(r->tails[h].path, r->tails[h].start, maillog, err, sizeof(err)) < 0) {
            json_decref(sum);
            return replay_fail(r, HARNESS_REPLAY_EIO, "%s", err);
        }
        maillog = results_dir_path(dir, "maillog");
    }
    const char *ev = results_dir_path(dir, "testsmtpd.events.jsonl");
    if (!ev || replay_copy(r->smtpd.events, 0, ev, err, sizeof(err)) < 0) {
        json_decref(sum);
        return replay_fail(r, HARNESS_REPLAY_EIO, "%s", ev ? err : "run directory path too long");
    }
    for (uint32_t h = 0; h < r->npf; h++) {
        const char *names[] = {"main.cf", "master.cf", "transport"};
        for (size_t i = 0; i < 3; i++) {
            char from[1300], to[64];
            snprintf(from, sizeof(from), "%s/%s", r->pf[h].etc, names[i]);
            snprintf(to, sizeof(to), "postfix-%s.%s", r->pf[h].name, names[i]);
            const char *p = results_dir_path(dir, to);
            if (!p || replay_copy(from, 0, p, err, sizeof(err)) < 0) {
                json_decref(sum);
                return replay_fail(r, HARNESS_REPLAY_EIO, "%s", p ? err : "run directory path too long");
            }
        }
    }
    json_t *sim = json_object_get(sum, "simulated");
    if (sim)
        json_object_set_new(sim, "drained", json_boolean(drained));
    json_t *rp = json_object_get(sum, "replay");
    if (!rp) {
        rp = json_object();
        json_object_set_new(sum, "replay", rp);
    }
    json_object_set_new(rp, "mta", json_string(r->o->mta == HARNESS_REPLAY_POSTFIX ? "postfix" : "external"));
    json_object_set_new(rp, "speedup", json_real(r->k));
    json_object_set_new(rp, "hosts", json_integer(r->nhosts));
    json_object_set_new(rp, "wall", json_real(wall));
    /* The harness's own work: reading the logs as they grew, then the event log and the files. */
    r->harness_ns += (double)(harness_proc_now_ns() - w0);
    json_object_set_new(rp, "harness_seconds", json_real(r->harness_ns / 1e9));
    json_object_set_new(rp, "harness_overhead", json_real(wall > 0 ? r->harness_ns / 1e9 / wall : 0));

    *summary = sum;
    return 0;
}

/*
 * The scheduler trace: qmgr's feedback lines (destination_concurrency_feedback_debug, set in the
 * replay's main.cf) as scheduler.csv. Postfix stamps them in local time, whole seconds; the stamp
 * the parser would read for this instant is the origin, and scenario time is (stamp - origin) * K.
 */
static void replay_sched_start(replay *r, results_dir *dir)
{
    if (r->o->mta != HARNESS_REPLAY_POSTFIX || !(r->f_sched = results_dir_open(dir, "scheduler.csv")))
        return;
    /* the wall clock at t0, to which qmgr's syslog stamps are relative */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long back = harness_proc_now_ns() - r->t0;
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - back;
    ts.tv_sec = (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    r->year = tm.tm_year + 1900;
    double origin = (double)harness_maillog_days(r->year, tm.tm_mon + 1, tm.tm_mday) * 86400 + tm.tm_hour * 3600 +
                    tm.tm_min * 60 + tm.tm_sec + ts.tv_nsec / 1e9;
    r->sched_out = results_scheduler_create(r->f_sched);
    r->sched = harness_scheduler_create(r->sched_out, origin, r->k);
}

static int replay_sched_finish(replay *r)
{
    if (!r->f_sched)
        return 0;
    int rc = results_scheduler_finish(r->sched_out);
    harness_scheduler_free(r->sched);
    results_scheduler_free(r->sched_out);
    int e = results_dir_fclose(r->f_sched);
    r->sched = NULL;
    r->sched_out = NULL;
    r->f_sched = NULL;
    return rc ? rc : e;
}

static void replay_rm_rf(const char *path)
{
    char *argv[] = {"rm", "-rf", "--one-file-system", (char *)path, NULL};
    char err[256];
    harness_proc_run(argv, NULL, 60000, err, sizeof(err));
}

int harness_replay_run(scenario *s, const harness_replay_opts *o, results_dir *dir, json_t **summary, char *err,
                       size_t errlen)
{
    *summary = NULL;
    replay r = {.s = s, .o = o, .k = o->speedup >= 1 ? o->speedup : 1};
    r.nhosts = s->mta.hosts ? s->mta.hosts : 1;
    if (s->mta.kind == MTA_KIND_APPPOOL) {
        snprintf(err, errlen, "mta.kind: apppool: an application pool is no Postfix; replay a scenario with a "
                              "Postfix MTA");
        return HARNESS_REPLAY_EUSAGE;
    }
    if (o->mta == HARNESS_REPLAY_EXTERNAL && (!o->external_log || !o->external_inject)) {
        snprintf(err, errlen, "--mta external needs --log FILE (the MTA's log) and --inject ADDR:PORT (its smtpd)");
        return HARNESS_REPLAY_EUSAGE;
    }
    if (o->mta == HARNESS_REPLAY_EXTERNAL && r.nhosts > 1) {
        snprintf(err, errlen, "--mta external drives one MTA, and the scenario has mta.hosts: %u (--set mta.hosts=1)",
                 r.nhosts);
        return HARNESS_REPLAY_EUSAGE;
    }
    if (harness_testsmtpd_check(s, err, errlen) < 0)
        return HARNESS_REPLAY_EUSAGE;
    char serr[512];
    if (harness_speedup_mta(&s->mta, r.k, harness_speedup_tls_everywhere(s), serr, sizeof(serr)) < 0) {
        snprintf(err, errlen, "--speedup %g: %s", r.k, serr);
        return HARNESS_REPLAY_EUSAGE;
    }
    if (o->mta == HARNESS_REPLAY_POSTFIX && harness_postfix_run_available(NULL, 0, err, errlen) < 0)
        return HARNESS_REPLAY_EIO;
    snprintf(r.work, sizeof(r.work), "/tmp/tempfail-replay.XXXXXX");
    if (!mkdtemp(r.work) || chmod(r.work, 0755) != 0) {
        snprintf(err, errlen, "cannot make a work directory under /tmp: %s", strerror(errno));
        return HARNESS_REPLAY_EIO;
    }
    r.track = harness_replay_track_create(s, r.nhosts, r.k);
    r.fifo = sim_xcalloc(s->traffic.nclasses ? s->traffic.nclasses : 1, sizeof(*r.fifo));
    int status = replay_setup(&r);
    sim_time_t end = 0;
    bool drained = false;
    double wall = 0;
    if (status == 0) {
        r.gen = traffic_create(&s->traffic, s->seed, s->replication, s->duration);
        if (r.npf) {
            r.cpu = sim_xcalloc(r.npf, sizeof(*r.cpu));
            for (uint32_t h = 0; h < r.npf; h++) {
                r.cpu[h] = harness_cpu_create(r.pf[h].master, r.pf[h].name);
                harness_cpu_baseline(r.cpu[h]);
            }
        }
        r.t0 = replay_start_clock(&r);
        if (r.t0 < 0) {
            r.t0 = harness_proc_now_ns();
            status = replay_fail(&r, HARNESS_REPLAY_EIO, "interrupted before the start: the replay was stopped");
        } else {
            replay_sched_start(&r, dir);
            harness_replay_track_set_clock_phase(r.track, replay_clock_phase(&r));
            replay_qmgr_start(&r);
            status = replay_loop(&r, &end, &drained);
        }
        replay_cpu_sample(&r);
        wall = (double)(harness_proc_now_ns() - r.t0) / 1e9;
        if (o->progress)
            replay_progress(&r, harness_proc_now_ns(), true);
    }
    /* Stop everything, then read what the logs still hold: Postfix's last lines are written by
     * postlogd, and testsmtpd flushes its event log when it stops. */
    harness_inject_free(r.inj);
    replay_stop_all(&r);
    if (status == 0 && replay_read_logs(&r) < 0)
        status = replay_fail(&r, HARNESS_REPLAY_EIO, "%s", r.err);
    if (replay_sched_finish(&r) < 0 && status == 0)
        status = replay_fail(&r, HARNESS_REPLAY_EIO, "writing scheduler.csv failed");
    if (status == 0)
        status = replay_write(&r, dir, end, drained, wall, summary);
    if (status == 0 && replay_cpu_write(&r, dir) < 0) {
        status = replay_fail(&r, HARNESS_REPLAY_EIO, "writing cpu.json failed");
        json_decref(*summary);
        *summary = NULL;
    }
    if (status != 0)
        snprintf(err, errlen, "%s", r.err);
    for (uint32_t h = 0; h < r.nhosts && r.tails; h++)
        if (r.tails[h].fd >= 0)
            close(r.tails[h].fd);
    if (o->keep_work || status != 0)
        fprintf(stderr, "tempfail: the replay's work directory (configuration, logs) is %s\n", r.work);
    else
        replay_rm_rf(r.work);
    traffic_free(r.gen);
    harness_replay_track_free(r.track);
    for (uint32_t c = 0; c < s->traffic.nclasses; c++)
        free(r.fifo[c].v);
    free(r.fifo);
    free(r.msgs);
    free(r.qmgr_sec);
    free(r.tails);
    for (uint32_t h = 0; r.cpu && h < r.npf; h++)
        harness_cpu_free(r.cpu[h]);
    free(r.cpu);
    free(r.pf);
    return status;
}

char *harness_replay_external_transport(const scenario *s, char *err, size_t errlen)
{
    if (harness_testsmtpd_check(s, err, errlen) < 0)
        return NULL;
    harness_text t = {0};
    harness_text_printf(&t, "# transport_maps entries that send the scenario's domains to the replay's testsmtpd\n");
    for (size_t i = 0; i < s->nreceivers; i++) {
        if (!harness_testsmtpd_served(s, i))
            continue;
        const receiver_config *rc = &s->receivers[i];
        for (size_t d = 0; d < rc->ndomains; d++) {
            harness_text_printf(&t, "%s\tsmtp:", rc->domains[d]);
            for (size_t m = 0; m < rc->nmx; m++) {
                char ip[HARNESS_TESTSMTPD_ADDR_MAX];
                harness_testsmtpd_addr(s, i, m, ip, sizeof(ip));
                harness_text_printf(&t, "%s[%s]:%d", m ? "," : "", ip, HARNESS_REPLAY_EXTERNAL_PORT);
            }
            harness_text_printf(&t, "\n");
        }
    }
    return harness_text_take(&t);
}
