/*
 * harness_cpu - the CPU a private Postfix instance spends, by program, sampled from /proc during a
 * replay: what `tempfail calibrate` divides by the deliveries and messages the log counts.
 *
 * Postfix's daemons are all children of its master (master(8) forks and execs each service), so the
 * instance's processes are the master and the processes whose parent it is. Each sample reads, for
 * every such process, /proc/PID/stat (its name, its parent, its start time) and /proc/PID/schedstat
 * (nanoseconds on a CPU; utime + stime in clock ticks where schedstat is absent), and keeps what each
 * process (pid and start time: pids are reused) spent since the baseline: the whole of it for a
 * process born after the baseline, start-up included.
 *
 * A process that exits between two samples takes its last interval with it; the kernel adds what it
 * spent to its parent's cutime + cstime when the master reaps it. So two figures: by program, what
 * the samples saw (exact for a process still alive at the last sample); in total, the master's own
 * time, its reaped children's (cutime + cstime, whole ticks of the sum) and its live children's,
 * which is exact however short the processes lived. What the samples missed is the difference
 * ("unattributed"); with smtp(8) processes reused (max_use 100) it is small, with max_use = 1 most
 * processes live between two samples and only the total is worth reading.
 *
 * Linux only; the harness runs as root (Postfix's master is root's process).
 */
#ifndef HARNESS_CPU_H
#define HARNESS_CPU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What /proc/PID/stat says about a process (the fields the sampler reads). */
typedef struct harness_cpu_stat {
    pid_t pid, ppid;
    char comm[32];
    uint64_t utime, stime, cutime, cstime; /* clock ticks */
    uint64_t starttime;                    /* clock ticks after boot */
} harness_cpu_stat;

/* Parses one /proc/PID/stat line (len bytes). 0, or -1 for a line that is not one. The name is in
 * parentheses and may hold blanks and parentheses: the fields start after the last ')'. */
int harness_cpu_parse_stat(const char *line, size_t len, harness_cpu_stat *st);

typedef struct harness_cpu harness_cpu;

/* A sampler of the instance whose master is master (its name, "mta1", labels the JSON). */
harness_cpu *harness_cpu_create(pid_t master, const char *name);
void harness_cpu_free(harness_cpu *c);

/* One sample of the master and its children. 0, or -1 when the master is gone. */
int harness_cpu_sample(harness_cpu *c);
/* Samples, and makes what was spent so far the zero every figure is counted from. */
int harness_cpu_baseline(harness_cpu *c);

/* One program's share since the baseline. */
typedef struct harness_cpu_prog {
    char name[32];
    double seconds;
    uint32_t processes; /* distinct processes seen */
} harness_cpu_prog;

/* The instance's figures since the baseline, as of the last sample. */
typedef struct harness_cpu_totals {
    double total;          /* master + reaped children + live children */
    double master;         /* the master's own */
    double reaped;         /* cutime + cstime of the master: its children that exited */
    double unattributed;   /* total - master - the programs' sum (what the samples missed) */
    uint64_t samples;
} harness_cpu_totals;

void harness_cpu_totals_get(const harness_cpu *c, harness_cpu_totals *t);
/* The programs, busiest first; *n set. Valid until the next sample. */
const harness_cpu_prog *harness_cpu_progs(harness_cpu *c, size_t *n);

/*
 * The figures as JSON, for the run directory's cpu.json: {"name", "master_pid", "total", "master",
 * "reaped", "unattributed", "samples", "programs": {NAME: {"seconds", "processes"}}, "processes":
 * [{"pid", "name", "seconds", "alive"}]} (seconds since the baseline; "alive": at the last sample).
 */
json_t *harness_cpu_json(harness_cpu *c);

#endif
