/*
 * harness_calibrate - costs measured from a replay or a log (harness_calibrate.h says what and how).
 *
 * Samples are kept whole and sorted for their quantiles: a calibration replay is a few hundred
 * messages, an operator's log a few hundred thousand lines at most, and exact percentiles of the
 * small sets are what an operator can check by hand. Processes are keyed by pid: a pid the kernel
 * hands out twice in one replay sums the two processes' deliveries and CPU alike.
 */
#define _GNU_SOURCE /* memmem */
#include "harness/harness_calibrate.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "harness/harness_maillog.h"
#include "sim/sim_mem.h"

typedef struct cal_vec {
    double *v;
    size_t n, cap;
} cal_vec;

/* A process's count (deliveries, messages) from the log and its CPU from cpu.json. */
typedef struct cal_proc {
    long pid;
    char prog[16];
    uint64_t count;
    double cpu;
    bool has_cpu;
} cal_proc;

typedef struct cal_session {
    double connect;      /* real seconds; < 0: no connect seen */
    bool replied;
    double pending[64];  /* commands not answered yet, oldest first (pipelining) */
    size_t head, n;
} cal_session;

struct harness_calibrate {
    double k;
    /* the log */
    uint64_t lines, messages, deliveries, reused, deferred, maillog_4xx_line;
    char first_deferral[300];
    char **qids;         /* open-addressing sets: messages, (pid, queue id) delivery requests */
    size_t nq, qcap;
    char **reqs;
    size_t nr, rcap;
    cal_proc *procs;
    size_t nprocs, pcap;
    cal_vec delays[4];
    /* the event log */
    uint64_t ev_lines, ev_4xx, ev_4xx_line;
    char first_4xx[300];
    char receiver[64];
    cal_session *sess;
    size_t nsess;
    cal_vec connect, think;
    bool have_events;
    /* cpu.json */
    bool have_cpu;
    double cpu_total, cpu_delivery, cpu_message, cpu_smtp;
    uint32_t nproc;
    double unattributed;
};

static void cal_vec_add(cal_vec *v, double x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->v = sim_xreallocarray(v->v, v->cap, sizeof(double));
    }
    v->v[v->n++] = x;
}

static int cal_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of v (sorted in place): the nearest rank. */
static double cal_vec_q(cal_vec *v, double p)
{
    if (!v->n)
        return 0;
    qsort(v->v, v->n, sizeof(double), cal_dbl_cmp);
    size_t i = (size_t)ceil(p * (double)v->n);
    return v->v[i ? i - 1 : 0];
}

static uint64_t cal_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds key to the set; true when it was not there. */
static bool cal_set_add(char ***tab, size_t *n, size_t *cap, const char *key)
{
    if (2 * (*n + 1) > *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        char **nt = sim_xcalloc(ncap, sizeof(char *));
        for (size_t i = 0; i < *cap; i++) {
            if (!(*tab)[i])
                continue;
            size_t j = cal_hash((*tab)[i]) & (ncap - 1);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = (*tab)[i];
        }
        free(*tab);
        *tab = nt;
        *cap = ncap;
    }
    size_t j = cal_hash(key) & (*cap - 1);
    while ((*tab)[j]) {
        if (strcmp((*tab)[j], key) == 0)
            return false;
        j = (j + 1) & (*cap - 1);
    }
    (*tab)[j] = sim_xstrdup(key);
    (*n)++;
    return true;
}

static void cal_set_free(char **tab, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        free(tab[i]);
    free(tab);
}

harness_calibrate *harness_calibrate_create(void)
{
    harness_calibrate *c = sim_xcalloc(1, sizeof(*c));
    c->k = 1;
    return c;
}

void harness_calibrate_free(harness_calibrate *c)
{
    if (!c)
        return;
    cal_set_free(c->qids, c->qcap);
    cal_set_free(c->reqs, c->rcap);
    free(c->procs);
    for (int i = 0; i < 4; i++)
        free(c->delays[i].v);
    free(c->sess);
    free(c->connect.v);
    free(c->think.v);
    free(c);
}

void harness_calibrate_speedup(harness_calibrate *c, double k) { c->k = k >= 1 ? k : 1; }

static cal_proc *cal_proc_of(harness_calibrate *c, const char *prog, long pid)
{
    for (size_t i = 0; i < c->nprocs; i++)
        if (c->procs[i].pid == pid && strcmp(c->procs[i].prog, prog) == 0)
            return &c->procs[i];
    if (c->nprocs == c->pcap) {
        c->pcap = c->pcap ? c->pcap * 2 : 64;
        c->procs = sim_xreallocarray(c->procs, c->pcap, sizeof(*c->procs));
    }
    cal_proc *p = &c->procs[c->nprocs++];
    *p = (cal_proc){.pid = pid};
    snprintf(p->prog, sizeof(p->prog), "%s", prog);
    return p;
}

/* The pid of "NAME/PROG[PID]:" in the line, for prog ("smtp", "cleanup"); 0 when absent. */
static long cal_pid(const char *line, size_t len, const char *prog)
{
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), "/%s[", prog);
    const char *p = memmem(line, len, pat, (size_t)pl);
    if (!p)
        return 0;
    p += pl;
    long pid = 0;
    while (p < line + len && *p >= '0' && *p <= '9')
        pid = pid * 10 + (*p++ - '0');
    return p < line + len && *p == ']' ? pid : 0;
}

int harness_calibrate_maillog_line(harness_calibrate *c, const char *line, size_t len, int year, char *err,
                                   size_t errlen)
{
    c->lines++;
    harness_maillog_rec rec;
    harness_maillog_kind kind = harness_maillog_parse(line, len, year, &rec);
    if (kind == HARNESS_MAILLOG_MALFORMED) {
        snprintf(err, errlen, "line %" PRIu64 ": a delivery record that does not parse", c->lines);
        return -EINVAL;
    }
    if (kind == HARNESS_MAILLOG_QUEUED) {
        if (cal_set_add(&c->qids, &c->nq, &c->qcap, rec.queue_id))
            c->messages++;
        return 0;
    }
    if (kind == HARNESS_MAILLOG_SKIP) {
        /* cleanup and smtpd name the message they handled: each process's count */
        const char *progs[] = {"cleanup", "smtpd"};
        const char *marks[] = {": message-id=", ": client="};
        for (int i = 0; i < 2; i++) {
            long pid;
            if (memmem(line, len, marks[i], strlen(marks[i])) && (pid = cal_pid(line, len, progs[i])) > 0)
                cal_proc_of(c, progs[i], pid)->count++;
        }
        return 0;
    }
    if (kind != HARNESS_MAILLOG_DELIVERY)
        return 0;
    if (rec.status == HARNESS_MAILLOG_DEFERRED) {
        if (!c->deferred++) {
            c->maillog_4xx_line = c->lines;
            snprintf(c->first_deferral, sizeof(c->first_deferral), "%.*s", (int)(len > 200 ? 200 : len), line);
        }
        return 0;
    }
    long pid = cal_pid(line, len, "smtp");
    if (rec.status != HARNESS_MAILLOG_SENT || pid <= 0)
        return 0; /* bounces, local deliveries: not smtp(8)'s */
    char key[128];
    snprintf(key, sizeof(key), "%ld %s", pid, rec.queue_id);
    if (!cal_set_add(&c->reqs, &c->nr, &c->rcap, key))
        return 0; /* another recipient of the same delivery request */
    c->deliveries++;
    if (rec.conn_use > 1)
        c->reused++;
    cal_proc_of(c, "smtp", pid)->count++;
    if (rec.has_delays)
        for (int i = 0; i < 4; i++)
            cal_vec_add(&c->delays[i], rec.delays[i]);
    return 0;
}

int harness_calibrate_event_line(harness_calibrate *c, const char *line, size_t len, char *err, size_t errlen)
{
    c->ev_lines++;
    c->have_events = true;
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    const char *ev = o ? json_string_value(json_object_get(o, "event")) : NULL;
    json_t *jt = o ? json_object_get(o, "t") : NULL, *js = o ? json_object_get(o, "session") : NULL;
    if (!ev || !json_is_number(jt) || !json_is_integer(js) || json_integer_value(js) < 0) {
        snprintf(err, errlen, "line %" PRIu64 ": %s", c->ev_lines,
                 o ? "not an event of testsmtpd's (event, t, session)" : je.text);
        json_decref(o);
        return -EINVAL;
    }
    double t = json_number_value(jt) / c->k;
    size_t id = (size_t)json_integer_value(js);
    const char *rcv = json_string_value(json_object_get(o, "receiver"));
    if (rcv && !c->receiver[0])
        snprintf(c->receiver, sizeof(c->receiver), "%s", rcv);
    if (id >= c->nsess) {
        size_t n = c->nsess ? c->nsess : 64;
        while (n <= id)
            n *= 2;
        c->sess = sim_xreallocarray(c->sess, n, sizeof(*c->sess));
        for (size_t i = c->nsess; i < n; i++)
            c->sess[i] = (cal_session){.connect = -1};
        c->nsess = n;
    }
    cal_session *s = &c->sess[id];
    if (strcmp(ev, "connect") == 0) {
        *s = (cal_session){.connect = t};
    } else if (strcmp(ev, "command") == 0 || strcmp(ev, "message") == 0) {
        if (s->n < sizeof(s->pending) / sizeof(s->pending[0]))
            s->pending[(s->head + s->n++) % 64] = t;
    } else if (strcmp(ev, "reply") == 0) {
        const char *text = json_string_value(json_object_get(o, "text"));
        if (text && text[0] == '4' && !c->ev_4xx++) {
            c->ev_4xx_line = c->ev_lines;
            snprintf(c->first_4xx, sizeof(c->first_4xx), "%.200s", text);
        }
        if (!s->replied) {
            s->replied = true;
            if (s->connect >= 0 && t >= s->connect)
                cal_vec_add(&c->connect, t - s->connect);
        } else if (s->n) {
            double cmd = s->pending[s->head];
            s->head = (s->head + 1) % 64;
            s->n--;
            if (t >= cmd)
                cal_vec_add(&c->think, t - cmd);
        }
    }
    json_decref(o);
    return 0;
}

int harness_calibrate_cpu(harness_calibrate *c, const json_t *cpu, char *err, size_t errlen)
{
    json_t *in = json_object_get(cpu, "instances");
    if (!json_is_array(in)) {
        snprintf(err, errlen, "no \"instances\" list");
        return -EINVAL;
    }
    c->have_cpu = true;
    json_int_t np = json_integer_value(json_object_get(cpu, "nproc"));
    c->nproc = np > 0 ? (uint32_t)np : 0;
    static const char *const per_delivery[] = {"smtp", "qmgr", "scache"};
    static const char *const per_message[] = {"smtpd", "cleanup", "trivial-rewrite"};
    size_t i;
    json_t *inst;
    json_array_foreach(in, i, inst) {
        c->cpu_total += json_number_value(json_object_get(inst, "total"));
        c->unattributed += json_number_value(json_object_get(inst, "unattributed"));
        json_t *progs = json_object_get(inst, "programs");
        for (int k = 0; k < 3; k++) {
            double d = json_number_value(json_object_get(json_object_get(progs, per_delivery[k]), "seconds"));
            c->cpu_delivery += d;
            if (k == 0)
                c->cpu_smtp += d;
            c->cpu_message += json_number_value(json_object_get(json_object_get(progs, per_message[k]), "seconds"));
        }
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(inst, "processes"), j, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            if (!name || (strcmp(name, "smtp") && strcmp(name, "cleanup") && strcmp(name, "smtpd")))
                continue;
            cal_proc *cp = cal_proc_of(c, name, (long)json_integer_value(json_object_get(p, "pid")));
            cp->cpu += json_number_value(json_object_get(p, "seconds"));
            cp->has_cpu = true;
        }
    }
    return 0;
}

/* Reads path line by line (plain or gzip), handing each line to fn. */
static int cal_read_lines(harness_calibrate *c, const char *path, bool events, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int e = errno ? errno : ENOMEM;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *line = sim_xmalloc(HARNESS_MAILLOG_LINE_MAX + 2);
    int year = 0, rc = 0;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    year = tm.tm_year + 1900;
    while (gzgets(f, line, HARNESS_MAILLOG_LINE_MAX + 2)) {
        size_t len = strcspn(line, "\n");
        char lerr[256];
        rc = events ? harness_calibrate_event_line(c, line, len, lerr, sizeof(lerr))
                    : harness_calibrate_maillog_line(c, line, len, year, lerr, sizeof(lerr));
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", path, lerr);
            break;
        }
    }
    int gerr;
    const char *gmsg = gzerror(f, &gerr);
    if (rc == 0 && gerr != Z_OK && gerr != Z_STREAM_END) {
        snprintf(err, errlen, "%s: %s", path, gerr == Z_ERRNO ? strerror(errno) : gmsg);
        rc = -EIO;
    }
    gzclose(f);
    free(line);
    return rc;
}

int harness_calibrate_read_maillog(harness_calibrate *c, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: a directory, not a log (a replay's run directory goes without --maillog)", path);
        return -EISDIR;
    }
    if (access(path, R_OK) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return cal_read_lines(c, path, false, err, errlen);
}

int harness_calibrate_read_rundir(harness_calibrate *c, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", dir, stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return -ENOENT;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    json_error_t je;
    json_t *sum = json_load_file(path, 0, &je);
    if (!sum) {
        snprintf(err, errlen, "%s: no summary.json (%s): not a run directory", dir, je.text);
        return -EINVAL;
    }
    json_t *rp = json_object_get(sum, "replay");
    if (!json_is_object(rp)) {
        snprintf(err, errlen, "%s: not a replay's run directory (summary.json has no \"replay\"): a simulated run "
                              "measures nothing real; calibrate from `tempfail replay` or --replay", dir);
        json_decref(sum);
        return -EINVAL;
    }
    double k = json_number_value(json_object_get(rp, "speedup"));
    harness_calibrate_speedup(c, k);
    json_decref(sum);
    snprintf(path, sizeof(path), "%s/maillog", dir);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: %s: the replay's Postfix log is missing", path, strerror(errno));
        return -ENOENT;
    }
    int rc = cal_read_lines(c, path, false, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/testsmtpd.events.jsonl", dir);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: %s: testsmtpd's event log is missing", path, strerror(errno));
        return -ENOENT;
    }
    if ((rc = cal_read_lines(c, path, true, err, errlen)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/cpu.json", dir);
    if (access(path, F_OK) != 0)
        return 0; /* --mta external, or an older replay: no CPU figures, said in the result */
    json_t *cpu = json_load_file(path, 0, &je);
    if (!cpu) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return -EINVAL;
    }
    char cerr[256];
    rc = harness_calibrate_cpu(c, cpu, cerr, sizeof(cerr));
    json_decref(cpu);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, cerr);
    return rc;
}

/* ---- estimates ---- */

static int cal_throttled(const harness_calibrate *c, const char *label, char *err, size_t errlen)
{
    if (c->ev_4xx) {
        snprintf(err, errlen, "%s: throttled: testsmtpd.events.jsonl line %" PRIu64 " replied '%s' (%" PRIu64
                              " 4xx replies in all); a calibration needs a replay with no policy and no 4xx, or "
                              "the retries are counted as the cost of the deliveries",
                 label, c->ev_4xx_line, c->first_4xx, c->ev_4xx);
        return -EAGAIN;
    }
    if (c->deferred) {
        snprintf(err, errlen, "%s: throttled: line %" PRIu64 " of the log is a deferral (%" PRIu64
                              " in all): '%s'; a calibration needs a log with none",
                 label, c->maillog_4xx_line, c->deferred, c->first_deferral);
        return -EAGAIN;
    }
    if (!c->deliveries) {
        snprintf(err, errlen, "%s: no smtp(8) delivery with status=sent in the log: nothing to measure", label);
        return -ENODATA;
    }
    return 0;
}

static uint64_t cal_processes(const harness_calibrate *c, const char *prog)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->nprocs; i++)
        n += strcmp(c->procs[i].prog, prog) == 0 && c->procs[i].count > 0;
    return n;
}

/* Least squares of the smtp(8) processes' CPU on their deliveries: intercept a (start-up), slope b.
 * Needs 3 processes and deliveries that differ. */
static bool cal_fit(const harness_calibrate *c, double *a, double *b, uint64_t *n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    *n = 0;
    for (size_t i = 0; i < c->nprocs; i++) {
        const cal_proc *p = &c->procs[i];
        if (strcmp(p->prog, "smtp") || !p->has_cpu || !p->count)
            continue;
        double x = (double)p->count;
        sx += x, sy += p->cpu, sxx += x * x, sxy += x * p->cpu;
        (*n)++;
    }
    double nn = (double)*n, den = nn * sxx - sx * sx;
    if (*n < 3 || den <= 1e-9 * nn * sxx)
        return false;
    *b = (nn * sxy - sx * sy) / den;
    *a = (sy - *b * sx) / nn;
    return true;
}

static void cal_latency_fig(cal_vec *v, harness_calibrate_fig *f, const char *what)
{
    if (!v->n) {
        snprintf(f->how, sizeof(f->how), "not measured: the event log has no %s", what);
        return;
    }
    f->measured = true;
    f->n = v->n;
    f->value = cal_vec_q(v, 0.5);
    f->lo = cal_vec_q(v, 0.1);
    f->hi = cal_vec_q(v, 0.9);
    f->p99 = cal_vec_q(v, 0.99);
    f->spread_n = v->n;
}

int harness_calibrate_estimate(const harness_calibrate *phase, const char *label, const harness_calibrate *spawn,
                               const char *spawn_label, harness_calibrate_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = cal_throttled(phase, label, err, errlen);
    if (rc == 0 && spawn)
        rc = cal_throttled(spawn, spawn_label ? spawn_label : "max_use = 1", err, errlen);
    if (rc < 0)
        return rc;
    /* The quantiles sort the samples: work on a copy's vectors, the phase stays const. */
    harness_calibrate *c = (harness_calibrate *)phase;
    out->messages = c->messages;
    out->deliveries = c->deliveries;
    out->reused = c->reused;
    out->connections = c->deliveries - c->reused;
    out->smtp_processes = cal_processes(c, "smtp");
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    out->cores = c->nproc ? c->nproc : np > 0 ? (uint32_t)np : 1;
    snprintf(out->receiver, sizeof(out->receiver), "%s", c->receiver);
    if (c->delays[0].n) {
        out->has_delays = true;
        for (int i = 0; i < 4; i++) {
            out->delays_p50[i] = cal_vec_q(&c->delays[i], 0.5);
            out->delays_p90[i] = cal_vec_q(&c->delays[i], 0.9);
        }
    }
    out->log_only = !c->have_cpu && !c->have_events;
    double D = (double)c->deliveries, M = (double)c->messages;

    /* process start */
    harness_calibrate_fig *ps = &out->process_start;
    double fa = 0, fb = 0;
    uint64_t fn = 0;
    bool fit = c->have_cpu && cal_fit(c, &fa, &fb, &fn);
    if (spawn && c->have_cpu && spawn->have_cpu) {
        uint64_t p0 = out->smtp_processes, p1 = cal_processes(spawn, "smtp");
        if (p1 > p0 && spawn->deliveries == c->deliveries) {
            ps->measured = true;
            ps->value = (spawn->cpu_total - c->cpu_total) / (double)(p1 - p0);
            ps->n = p1 - p0;
            ps->lo = ps->hi = ps->value;
            ps->spread_n = fit ? 2 : 1;
            if (fit)
                ps->lo = fmin(ps->value, fa), ps->hi = fmax(ps->value, fa);
            snprintf(ps->how, sizeof(ps->how),
                     "the instance's whole CPU with max_use = 1 (%.3f s, %" PRIu64 " smtp processes) less with the "
                     "defaults (%.3f s, %" PRIu64 "), per extra process; spread: this and the intercept of the "
                     "default run's per-process CPU against deliveries%s",
                     spawn->cpu_total, p1, c->cpu_total, p0, fit ? "" : " (no intercept: fewer than 3 processes, or all made as many deliveries)");
        } else {
            snprintf(ps->how, sizeof(ps->how),
                     "not measured: the max_use = 1 run %s", p1 <= p0 ? "ran no more smtp processes than the default "
                     "one" : "delivered a different number of messages");
        }
    }
    if (!ps->measured && fit && fa > 0) {
        ps->measured = true;
        ps->value = ps->lo = ps->hi = fa;
        ps->n = fn;
        snprintf(ps->how, sizeof(ps->how),
                 "the intercept of the smtp processes' CPU against their deliveries (least squares over %" PRIu64
                 " processes; the master's fork is not in it): run `tempfail calibrate --replay` for the "
                 "max_use = 1 comparison", fn);
    } else if (!ps->measured && !ps->how[0]) {
        snprintf(ps->how, sizeof(ps->how), "not measured: %s",
                 !c->have_cpu ? "no CPU figures (cpu.json: a replay through --mta postfix writes it)"
                              : "every smtp process made about as many deliveries, and no max_use = 1 run to compare");
    }
    double start = ps->measured && ps->value > 0 ? ps->value : 0;

    /* per delivery */
    harness_calibrate_fig *pd = &out->per_delivery;
    if (c->have_cpu) {
        double spawned = start * (double)out->smtp_processes;
        pd->measured = true;
        pd->value = fmax(0, c->cpu_delivery - spawned) / D;
        pd->n = c->deliveries;
        double other = (c->cpu_delivery - c->cpu_smtp) / D;
        cal_vec r = {0};
        for (size_t i = 0; i < c->nprocs; i++) {
            const cal_proc *p = &c->procs[i];
            if (!strcmp(p->prog, "smtp") && p->has_cpu && p->count >= 3)
                cal_vec_add(&r, fmax(0, p->cpu - start) / (double)p->count + other);
        }
        pd->spread_n = r.n;
        pd->lo = r.n >= 3 ? cal_vec_q(&r, 0.1) : pd->value;
        pd->hi = r.n >= 3 ? cal_vec_q(&r, 0.9) : pd->value;
        snprintf(pd->how, sizeof(pd->how),
                 "CPU of smtp %.3f s + qmgr/scache %.3f s over %" PRIu64 " delivery requests%s; spread: p10-p90 "
                 "over the smtp processes with 3 or more deliveries",
                 c->cpu_smtp, c->cpu_delivery - c->cpu_smtp, c->deliveries,
                 spawned > 0 ? ", less the start-up of the smtp processes" : "");
        free(r.v);
    } else {
        snprintf(pd->how, sizeof(pd->how), "not measured: %s", c->have_events ? "no cpu.json in the run directory "
                 "(a replay through --mta external; only --mta postfix samples the host's CPU)"
                 : "a log holds no CPU times; a replay samples them from /proc (`tempfail calibrate --replay`)");
    }

    /* per message */
    harness_calibrate_fig *pm = &out->per_message;
    if (c->have_cpu && M > 0) {
        pm->measured = true;
        pm->value = c->cpu_message / M;
        pm->n = c->messages;
        pm->lo = pm->hi = pm->value;
        snprintf(pm->how, sizeof(pm->how),
                 "CPU of smtpd, cleanup and trivial-rewrite %.3f s over %" PRIu64 " messages (their processes live "
                 "long: no spread to give); %.3f s of the instances' CPU the samples could not attribute",
                 c->cpu_message, c->messages, c->unattributed > 0 ? c->unattributed : 0.0);
    } else {
        snprintf(pm->how, sizeof(pm->how), "not measured: %s",
                 !c->have_cpu ? "no CPU figures (see per_delivery)" : "qmgr logged no message");
    }

    /* the receiver */
    if (c->have_events) {
        cal_latency_fig(&c->connect, &out->connect_latency, "session with a reply");
        if (out->connect_latency.measured)
            snprintf(out->connect_latency.how, sizeof(out->connect_latency.how),
                     "testsmtpd's event log: connect to the first reply, %" PRIu64 " sessions (server side, real "
                     "seconds)", out->connect_latency.n);
        cal_latency_fig(&c->think, &out->latency, "command answered");
        if (out->latency.measured)
            snprintf(out->latency.how, sizeof(out->latency.how),
                     "testsmtpd's event log: each command (end of data included) to the reply answering it, in "
                     "order, %" PRIu64 " replies (server side, real seconds)", out->latency.n);
    } else {
        const char *why = "not measured: a client's log has no server-side times";
        snprintf(out->connect_latency.how, sizeof(out->connect_latency.how),
                 "%s; Postfix's delays c (connection set-up, greeting and EHLO) bounds it from above", why);
        snprintf(out->latency.how, sizeof(out->latency.how),
                 "%s; Postfix's delays d (the transmission, several replies) bounds it from above", why);
    }
    return 0;
}

/* A duration as a scenario writes it: "850us", "1.25ms", "2.5s". */
static void cal_dur(double s, char *buf, size_t len)
{
    if (s < 1e-3)
        snprintf(buf, len, "%.0fus", s * 1e6);
    else if (s < 1)
        snprintf(buf, len, "%.3gms", s * 1e3);
    else
        snprintf(buf, len, "%.3gs", s);
}

static void cal_print_fig(FILE *f, const char *indent, const char *key, const harness_calibrate_fig *g, bool dist)
{
    char v[32], lo[32], hi[32], p99[32];
    if (!g->measured) {
        fprintf(f, "%s# %s: %s\n", indent, key, g->how);
        return;
    }
    cal_dur(g->value, v, sizeof(v));
    cal_dur(g->lo, lo, sizeof(lo));
    cal_dur(g->hi, hi, sizeof(hi));
    cal_dur(g->p99, p99, sizeof(p99));
    fprintf(f, "%s# %s\n", indent, g->how);
    if (g->lo != g->value || g->hi != g->value)
        fprintf(f, "%s# spread: %s to %s (over %" PRIu64 ")\n", indent, lo, hi, g->spread_n);
    if (dist && g->p99 > g->value * 1.0001 && g->value > 0)
        fprintf(f, "%s%s: { dist: lognormal, median: %s, p99: %s }\n", indent, key, v, p99);
    else
        fprintf(f, "%s%s: %s\n", indent, key, v);
}

void harness_calibrate_print(FILE *f, const harness_calibrate_result *r, const char *source)
{
    fprintf(f, "# tempfail calibrate: %s\n", source);
    fprintf(f, "# %" PRIu64 " messages, %" PRIu64 " delivery requests by %" PRIu64 " smtp(8) processes (%.1f each), "
               "%" PRIu64 " on a reused connection",
            r->messages, r->deliveries, r->smtp_processes,
            r->smtp_processes ? (double)r->deliveries / (double)r->smtp_processes : 0.0, r->reused);
    if (!r->log_only)
        fprintf(f, "; %u cores", r->cores);
    fputc('\n', f);
    if (r->has_delays)
        fprintf(f, "# Postfix's delays=a/b/c/d, median %.3g/%.3g/%.3g/%.3g s, p90 %.3g/%.3g/%.3g/%.3g s (it logs "
                   "two significant digits: a time under 10ms is often 0)\n",
                r->delays_p50[0], r->delays_p50[1], r->delays_p50[2], r->delays_p50[3], r->delays_p90[0],
                r->delays_p90[1], r->delays_p90[2], r->delays_p90[3]);
    fprintf(f, "# Real seconds, on this host and this receiver. Paste into the scenario:\n");
    fprintf(f, "mta:\n  cpu:\n");
    if (r->log_only)
        fprintf(f, "    # cores: the log's host's nproc (a log does not say)\n");
    else
        fprintf(f, "    # nproc where it ran\n    cores: %u\n", r->cores);
    cal_print_fig(f, "    ", "per_delivery", &r->per_delivery, false);
    cal_print_fig(f, "    ", "per_message", &r->per_message, false);
    cal_print_fig(f, "    ", "process_start", &r->process_start, false);
    fprintf(f, "receivers:\n  - name: %s   # your receiver's entry: add these two keys\n",
            r->receiver[0] ? r->receiver : "RECEIVER");
    cal_print_fig(f, "    ", "connect_latency", &r->connect_latency, true);
    cal_print_fig(f, "    ", "latency", &r->latency, true);
}
