/*
 * harness_cpu - CPU by program of a Postfix instance's process tree, from /proc (harness_cpu.h).
 *
 * Memory: one record per process ever seen (a replay's instance runs hundreds at most, thousands
 * with max_use = 1); a sample walks /proc once (opendir), reading the stat file of each process to
 * find the master's children - there is no children list to read on every kernel.
 */
#include "harness/harness_cpu.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_mem.h"

typedef struct harness_cpu_proc {
    pid_t pid;
    uint64_t starttime;
    char comm[32];
    double base, last; /* seconds on a CPU: at the baseline (0 when born after it), at the last sample */
    uint64_t gen;      /* the sample that last saw it */
} harness_cpu_proc;

struct harness_cpu {
    pid_t master;
    char name[32];
    double tick;       /* seconds per clock tick */
    harness_cpu_proc *procs;
    size_t nprocs, cap;
    uint64_t gen, samples;
    bool have_base;
    double master_now, reaped_now, live_now;
    double master_base, reaped_base, live_base;
    harness_cpu_prog *progs;
    size_t nprogs, progs_cap;
};

int harness_cpu_parse_stat(const char *line, size_t len, harness_cpu_stat *st)
{
    memset(st, 0, sizeof(*st));
    char buf[1024];
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = 0;
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open)
        return -1;
    char *end;
    long pid = strtol(buf, &end, 10);
    if (end == buf || pid <= 0)
        return -1;
    st->pid = (pid_t)pid;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(st->comm))
        n = sizeof(st->comm) - 1;
    memcpy(st->comm, open + 1, n);
    st->comm[n] = 0;
    /* After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... starttime(22). */
    char *p = close + 1;
    unsigned long long f[23] = {0};
    int field = 3;
    while (*p && field <= 22) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (field == 3) {
            p++; /* the state letter */
        } else {
            errno = 0;
            if (*p == '-') { /* priority and nice may be negative: not read, stepped over */
                strtoll(p, &end, 10);
            } else {
                f[field] = strtoull(p, &end, 10);
            }
            if (end == p || errno)
                return -1;
            p = end;
        }
        field++;
    }
    if (field <= 22)
        return -1;
    st->ppid = (pid_t)f[4];
    st->utime = f[14];
    st->stime = f[15];
    st->cutime = f[16];
    st->cstime = f[17];
    st->starttime = f[22];
    return 0;
}

harness_cpu *harness_cpu_create(pid_t master, const char *name)
{
    harness_cpu *c = sim_xcalloc(1, sizeof(*c));
    c->master = master;
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
    long hz = sysconf(_SC_CLK_TCK);
    c->tick = 1.0 / (double)(hz > 0 ? hz : 100);
    return c;
}

void harness_cpu_free(harness_cpu *c)
{
    if (!c)
        return;
    free(c->procs);
    free(c->progs);
    free(c);
}

static ssize_t harness_cpu_read(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

/* Seconds on a CPU of a live process: schedstat's nanoseconds, else utime + stime. */
static double harness_cpu_self(const harness_cpu *c, const harness_cpu_stat *st)
{
    char path[64], buf[128];
    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)st->pid);
    if (harness_cpu_read(path, buf, sizeof(buf)) > 0) {
        char *end;
        unsigned long long ns = strtoull(buf, &end, 10);
        if (end != buf && ns > 0)
            return (double)ns / 1e9;
    }
    return (double)(st->utime + st->stime) * c->tick;
}

static harness_cpu_proc *harness_cpu_find(harness_cpu *c, const harness_cpu_stat *st)
{
    for (size_t i = c->nprocs; i-- > 0;)
        if (c->procs[i].pid == st->pid && c->procs[i].starttime == st->starttime)
            return &c->procs[i];
    if (c->nprocs == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->procs = sim_xreallocarray(c->procs, c->cap, sizeof(*c->procs));
    }
    harness_cpu_proc *p = &c->procs[c->nprocs++];
    *p = (harness_cpu_proc){.pid = st->pid, .starttime = st->starttime};
    snprintf(p->comm, sizeof(p->comm), "%s", st->comm);
    return p;
}

int harness_cpu_sample(harness_cpu *c)
{
    char path[300], buf[1024];
    harness_cpu_stat st;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)c->master);
    ssize_t n = harness_cpu_read(path, buf, sizeof(buf));
    if (n <= 0 || harness_cpu_parse_stat(buf, (size_t)n, &st) < 0)
        return -1;
    c->gen++;
    c->samples++;
    c->master_now = harness_cpu_self(c, &st);
    c->reaped_now = (double)(st.cutime + st.cstime) * c->tick;
    c->live_now = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        n = harness_cpu_read(path, buf, sizeof(buf));
        if (n <= 0 || harness_cpu_parse_stat(buf, (size_t)n, &st) < 0 || st.ppid != c->master)
            continue;
        double self = harness_cpu_self(c, &st);
        harness_cpu_proc *p = harness_cpu_find(c, &st);
        bool fresh = p->gen == 0;
        /* A process already running at the baseline counts from its value then (set there). */
        if (fresh && !c->have_base)
            p->base = self;
        if (self >= p->last)
            p->last = self;
        p->gen = c->gen;
        c->live_now += self;
    }
    closedir(d);
    return 0;
}

int harness_cpu_baseline(harness_cpu *c)
{
    c->have_base = false;
    int rc = harness_cpu_sample(c);
    for (size_t i = 0; i < c->nprocs; i++)
        c->procs[i].base = c->procs[i].last;
    c->master_base = c->master_now;
    c->reaped_base = c->reaped_now;
    c->live_base = c->live_now;
    c->have_base = true;
    return rc;
}

static int harness_cpu_prog_cmp(const void *a, const void *b)
{
    const harness_cpu_prog *x = a, *y = b;
    if (x->seconds != y->seconds)
        return x->seconds < y->seconds ? 1 : -1;
    return strcmp(x->name, y->name);
}

const harness_cpu_prog *harness_cpu_progs(harness_cpu *c, size_t *n)
{
    c->nprogs = 0;
    for (size_t i = 0; i < c->nprocs; i++) {
        const harness_cpu_proc *p = &c->procs[i];
        size_t k = 0;
        while (k < c->nprogs && strcmp(c->progs[k].name, p->comm) != 0)
            k++;
        if (k == c->nprogs) {
            if (c->nprogs == c->progs_cap) {
                c->progs_cap = c->progs_cap ? c->progs_cap * 2 : 16;
                c->progs = sim_xreallocarray(c->progs, c->progs_cap, sizeof(*c->progs));
            }
            c->progs[c->nprogs] = (harness_cpu_prog){0};
            snprintf(c->progs[c->nprogs].name, sizeof(c->progs[0].name), "%s", p->comm);
            c->nprogs++;
        }
        c->progs[k].seconds += p->last - p->base;
        c->progs[k].processes++;
    }
    qsort(c->progs, c->nprogs, sizeof(*c->progs), harness_cpu_prog_cmp);
    *n = c->nprogs;
    return c->progs;
}

void harness_cpu_totals_get(const harness_cpu *c, harness_cpu_totals *t)
{
    memset(t, 0, sizeof(*t));
    t->samples = c->samples;
    t->master = c->master_now - c->master_base;
    t->reaped = c->reaped_now - c->reaped_base;
    t->total = t->master + t->reaped + c->live_now - c->live_base;
    double progs = 0;
    for (size_t i = 0; i < c->nprocs; i++)
        progs += c->procs[i].last - c->procs[i].base;
    t->unattributed = t->total - t->master - progs;
}

json_t *harness_cpu_json(harness_cpu *c)
{
    harness_cpu_totals t;
    harness_cpu_totals_get(c, &t);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "master_pid", json_integer(c->master));
    json_object_set_new(o, "total", json_real(t.total));
    json_object_set_new(o, "master", json_real(t.master));
    json_object_set_new(o, "reaped", json_real(t.reaped));
    json_object_set_new(o, "unattributed", json_real(t.unattributed));
    json_object_set_new(o, "samples", json_integer((json_int_t)t.samples));
    size_t n;
    const harness_cpu_prog *pr = harness_cpu_progs(c, &n);
    json_t *progs = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "seconds", json_real(pr[i].seconds));
        json_object_set_new(p, "processes", json_integer(pr[i].processes));
        json_object_set_new(progs, pr[i].name, p);
    }
    json_object_set_new(o, "programs", progs);
    json_t *procs = json_array();
    for (size_t i = 0; i < c->nprocs; i++) {
        const harness_cpu_proc *p = &c->procs[i];
        json_t *j = json_object();
        json_object_set_new(j, "pid", json_integer(p->pid));
        json_object_set_new(j, "name", json_string(p->comm));
        json_object_set_new(j, "seconds", json_real(p->last - p->base));
        json_object_set_new(j, "alive", json_boolean(p->gen == c->gen));
        json_array_append_new(procs, j);
    }
    json_object_set_new(o, "processes", procs);
    return o;
}
