/*
 * tempfail_run - `tempfail run [SCENARIO] [options]`: load, simulate, write the run directory, print
 * the summary, and exit 1 when an `expect:` assertion fails so a CI job can guard an MTA config.
 *
 * Nothing is left half-written: the run directory is built under a temporary name and renamed only
 * when every file was written and closed without error (results_dir).
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "results/results_expect.h"
#include "results/results_json.h"
#include "results/results_maillog.h"
#include "results/results_manifest.h"
#include "results/results_messages.h"
#include "results/results_scheduler.h"
#include "results/results_report.h"
#include "results/results_timeseries.h"
#include "sim/sim_calendar.h"

static const char run_usage[] =
    "Usage: tempfail run [SCENARIO.yaml] [options]\n"
    "\n"
    "Simulates a scenario: traffic into a Postfix-like MTA (or an application pool), delivery to\n"
    "receivers that throttle it, retries, and what it all costs in latency. Without SCENARIO, runs the\n"
    "built-in default: a retry storm against a provider that allows 3 sessions per IP. SCENARIO is a\n"
    "file or the name of a library scenario (`tempfail list`: examples/greylist, dedicated-transport).\n"
    "\n"
    "Options:\n"
    "  -s, --seed N          random seed (overrides the scenario's `seed:`)\n"
    "  -r, --replication N   replication number: same scenario, independent random streams\n"
    "  -o, --out DIR         run directory to write (default: runs/<scenario name>)\n"
    "      --set KEY=VALUE   override any scenario value, e.g.\n"
    "                          --set mta.postfix.default_destination_concurrency_limit=10\n"
    "                          --set receivers.orange.policy[0].limit=5   (repeatable)\n"
    "      --maillog         also write `maillog`, Postfix-format log lines (grep/pflogsumm work on it)\n"
    "      --trace scheduler also write `scheduler.csv`: every feedback event of every destination's\n"
    "                        concurrency window (what destination_concurrency_feedback_debug logs)\n"
    "      --no-plots        no charts (report.html is still written, without them)\n"
    "      --plot-format F   chart format: png (default), svg or pdf\n"
    "      --max-queue N     the most messages the run may hold at once (default 5000000, about 750 MB):\n"
    "                        past it the run stops with exit 2 and writes nothing\n"
    "  -q, --quiet           no summary on stdout, no progress line\n"
    "      --no-progress     no progress line (it only appears on a terminal anyway)\n"
    "  -h, --help            this help\n"
    "\n"
    "The run directory holds manifest.json, summary.json, timeseries.csv, messages.csv, scenario.yaml,\n"
    "report.html and the charts (and maillog); see docs/results.md. Same scenario and seed: identical\n"
    "files but the manifest.\n"
    "\n"
    "Exit status: 0 ok; 1 an `expect:` assertion failed; 2 bad scenario or command line; 3 I/O error.\n";

/* The writers the model's records go to. */
typedef struct run_out {
    results_messages *messages;
    results_maillog *maillog;
    results_scheduler *scheduler;
    results_messages_tally tally;
} run_out;

static void out_window(void *ctx, const mta_window_record *r)
{
    run_out *o = ctx;
    results_scheduler_write(o->scheduler, r);
}

static void out_attempt(void *ctx, const mta_attempt_record *r)
{
    run_out *o = ctx;
    if (o->maillog)
        results_maillog_attempt(o->maillog, r);
}

static void out_message(void *ctx, const mta_message_record *r)
{
    run_out *o = ctx;
    if (o->messages)
        results_messages_write(o->messages, r);
    results_messages_tally_add(&o->tally, r);
}

/* Time-series sampling: cumulative counters are turned into per-interval figures here. */
typedef struct sampler {
    world *w;
    results_timeseries *ts;
    size_t nrcv;
    uint64_t last_delivered, last_bounced, last_deferred;
    uint64_t (*last_replies)[4];
    double last_cpu, last_disk;
    sim_time_t last_time;
    int col_dest0;
} sampler;

static void reply_classes(const receiver *r, uint64_t out[4])
{
    policy_stats st;
    receiver_stats(r, &st);
    out[0] = out[1] = out[2] = out[3] = 0;
    for (int c = 200; c < 600; c++) {
        int k = results_reply_class(c);
        if (k >= 0)
            out[k] += st.replies_by_code[c];
    }
}

static void sampler_columns(sampler *s)
{
    results_timeseries *ts = s->ts;
    static const char *const fixed[] = {"queue.incoming", "queue.active", "queue.deferred", "queue.oldest",
                                        "delivered",      "bounced",      "deferred"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        results_timeseries_add_column(ts, fixed[i]);
    for (size_t i = 0; i < s->nrcv; i++) {
        results_timeseries_add_receiver(ts, world_receiver(s->w, i)->cfg->name);
    }
    s->col_dest0 = (int)results_timeseries_ncolumns(ts);
    for (size_t h = 0; h < world_nhosts(s->w); h++) {
        mta_host *host = world_host(s->w, h);
        for (size_t i = 0; i < mta_host_ndests(host); i++) {
            char name[512], col[540];
            tempfail_dest_name(s->w, h, mta_host_dest(host, i), name, sizeof(name));
            snprintf(col, sizeof(col), "window.%s", name);
            results_timeseries_add_column(ts, col);
        }
    }
    results_timeseries_add_column(ts, "cpu.utilisation");
    results_timeseries_add_column(ts, "disk.utilisation");
}

static void sample(void *ctx, sim_time_t now)
{
    sampler *s = ctx;
    world *w = s->w;
    world_observe(w, now);
    if (!s->ts)
        return;
    const world_stats *st = world_get_stats(w);
    size_t col = 0;
    uint64_t in, act, def;
    world_queue_sizes(w, &in, &act, &def);
    results_timeseries_set(s->ts, col++, (double)in);
    results_timeseries_set(s->ts, col++, (double)act);
    results_timeseries_set(s->ts, col++, (double)def);
    /* the age of the oldest message still in the system: how late the next delivery may be */
    sim_time_t oldest = world_oldest(w);
    results_timeseries_set(s->ts, col++, oldest == SIM_TIME_NEVER || oldest > now ? 0 : sim_time_to_sec(now - oldest));
    results_timeseries_set(s->ts, col++, (double)(st->rcpt_delivered - s->last_delivered));
    results_timeseries_set(s->ts, col++, (double)(st->rcpt_bounced - s->last_bounced));
    results_timeseries_set(s->ts, col++, (double)(st->rcpt_deferred - s->last_deferred));
    s->last_delivered = st->rcpt_delivered;
    s->last_bounced = st->rcpt_bounced;
    s->last_deferred = st->rcpt_deferred;
    for (size_t i = 0; i < s->nrcv; i++) {
        receiver *r = world_receiver(w, i);
        const policy_stats *ps = policy_get_stats(r->pol);
        results_timeseries_set(s->ts, col++, (double)ps->open_busy);
        results_timeseries_set(s->ts, col++, (double)ps->open_idle);
        uint64_t rc[4];
        reply_classes(r, rc);
        for (int k = 0; k < 4; k++) {
            /* a warm-up reset can move the base; never report a negative interval */
            uint64_t d = rc[k] >= s->last_replies[i][k] ? rc[k] - s->last_replies[i][k] : rc[k];
            results_timeseries_set(s->ts, col++, (double)d);
            s->last_replies[i][k] = rc[k];
        }
    }
    for (size_t h = 0; h < world_nhosts(w); h++) {
        mta_host *host = world_host(w, h);
        for (size_t i = 0; i < mta_host_ndests(host); i++)
            results_timeseries_set(s->ts, col++, (double)mta_host_dest(host, i)->window);
    }
    double cpu_busy, disk_busy;
    uint32_t cores;
    bool disk;
    world_resources(w, &cpu_busy, &cores, &disk_busy, &disk);
    double dt = sim_time_to_sec(now - s->last_time);
    results_timeseries_set(s->ts, col++, cores && dt > 0 ? (cpu_busy - s->last_cpu) / (cores * dt) : NAN);
    results_timeseries_set(s->ts, col++,
                           disk && dt > 0 ? (disk_busy - s->last_disk) / ((double)world_nhosts(w) * dt) : NAN);
    s->last_cpu = cpu_busy;
    s->last_disk = disk_busy;
    s->last_time = now;
    results_timeseries_row(s->ts, now);
}

static bool run_busy(void *ctx) { return world_busy(((sampler *)ctx)->w); }
static uint64_t run_queue(void *ctx) { return world_in_system(((sampler *)ctx)->w); }

static void run_warmup(void *ctx, sim_time_t now)
{
    sampler *s = ctx;
    world_reset_stats(s->w, now);
    const world_stats *st = world_get_stats(s->w);
    s->last_delivered = st->rcpt_delivered;
    s->last_bounced = st->rcpt_bounced;
    s->last_deferred = st->rcpt_deferred;
    for (size_t i = 0; i < s->nrcv; i++)
        reply_classes(world_receiver(s->w, i), s->last_replies[i]);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int io_fail(const char *what, const char *path, int err)
{
    fprintf(stderr, "tempfail: %s %s: %s\n", what, path, strerror(err));
    return TEMPFAIL_IO;
}

int tempfail_run_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"replication", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},  {"set", required_argument, NULL, 'S'},
        {"maillog", no_argument, NULL, 'M'},    {"quiet", no_argument, NULL, 'q'},
        {"trace", required_argument, NULL, 'T'},
        {"no-progress", no_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {"no-plots", no_argument, NULL, 'N'},    {"plot-format", required_argument, NULL, 'F'},
        {"max-queue", required_argument, NULL, 'Q'}, {NULL, 0, NULL, 0}};
    const char **sets = calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0;
    const char *out_dir = NULL;
    bool seed_given = false, maillog = false, quiet = false, no_progress = false, plots = true, trace = false;
    results_plot_format plot_fmt = RESULTS_PLOT_PNG;
    uint64_t seed = 0, replication = 0, max_queue = 0;
    bool rep_given = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:r:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64(optarg, &seed) != 0) {
                fprintf(stderr, "tempfail run: --seed: expected a non-negative integer, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            seed_given = true;
            break;
        case 'r':
            if (parse_u64(optarg, &replication) != 0 || replication > UINT32_MAX) {
                fprintf(stderr, "tempfail run: --replication: expected a non-negative integer, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            rep_given = true;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 'S':
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "tempfail run: --set %s: expected KEY=VALUE\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            sets[nsets++] = optarg;
            break;
        case 'M':
            maillog = true;
            break;
        case 'Q':
            if (parse_u64(optarg, &max_queue) != 0 || max_queue == 0) {
                fprintf(stderr, "tempfail run: --max-queue: expected a positive integer, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            break;
        case 'T':
            if (strcmp(optarg, "scheduler") != 0) {
                fprintf(stderr, "tempfail run: --trace: expected scheduler, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            trace = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'P':
            no_progress = true;
            break;
        case 'N':
            plots = false;
            break;
        case 'F':
            if (results_plot_format_parse(optarg, &plot_fmt) != 0) {
                fprintf(stderr, "tempfail run: --plot-format: expected png, svg or pdf, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            break;
        case 'h':
            fputs(run_usage, stdout);
            free(sets);
            return TEMPFAIL_OK;
        default:
            fputs("Try 'tempfail run --help'.\n", stderr);
            free(sets);
            return TEMPFAIL_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "tempfail run: one scenario file at most (got '%s' and '%s')\n", argv[optind], argv[optind + 1]);
        free(sets);
        return TEMPFAIL_USAGE;
    }
    char path[PATH_MAX], lerr[1024];
    if (optind < argc && tempfail_library_path(argv[optind], path, sizeof(path), lerr, sizeof(lerr)) != 0) {
        fprintf(stderr, "tempfail run: %s\n", lerr);
        free(sets);
        return TEMPFAIL_USAGE;
    }
    scenario_error err;
    scenario *s = optind < argc ? scenario_load_file(path, sets, nsets, &err)
                                : scenario_load_default(sets, nsets, &err);
    free(sets);
    if (!s) {
        fprintf(stderr, "tempfail: %s\n", err.message);
        return TEMPFAIL_USAGE;
    }
    for (size_t i = 0; i < s->nwarnings; i++)
        fprintf(stderr, "tempfail: warning: %s\n", s->warnings[i]);
    if (seed_given)
        s->seed = seed;
    if (rep_given)
        s->replication = (uint32_t)replication;

    tempfail_run_opts ro = {.out_dir = out_dir, .maillog = maillog, .trace_scheduler = trace, .quiet = quiet,
                            .no_progress = no_progress,
                            .plots = plots, .plot_fmt = plot_fmt, .max_queue = max_queue};
    return tempfail_run_scenario(s, &ro);
}

int tempfail_run_scenario(scenario *s, const tempfail_run_opts *ro)
{
    const char *out_dir = ro->out_dir;
    bool maillog = ro->maillog, quiet = ro->quiet, no_progress = ro->no_progress, plots = ro->plots;
    results_plot_format plot_fmt = ro->plot_fmt;
    char default_out[512];
    if (!out_dir) {
        snprintf(default_out, sizeof(default_out), "runs/%s", s->name);
        out_dir = default_out;
    }
    results_dir *dir = results_dir_create(out_dir);
    if (!dir) {
        int e = errno;
        scenario_free(s);
        return io_fail("cannot create run directory", out_dir, e);
    }

    int status = TEMPFAIL_OK;
    bool full = !ro->summary_only;
    FILE *f_ts = full ? results_dir_open(dir, "timeseries.csv") : NULL;
    FILE *f_msg = full ? results_dir_open(dir, "messages.csv") : NULL;
    FILE *f_log = full && maillog ? results_dir_open(dir, "maillog") : NULL;
    FILE *f_sch = full && ro->trace_scheduler ? results_dir_open(dir, "scheduler.csv") : NULL;
    if (full && (!f_ts || !f_msg || (maillog && !f_log) || (ro->trace_scheduler && !f_sch))) {
        int e = errno;
        if (f_ts)
            fclose(f_ts);
        if (f_msg)
            fclose(f_msg);
        if (f_log)
            fclose(f_log);
        if (f_sch)
            fclose(f_sch);
        results_dir_abort(dir);
        scenario_free(s);
        return io_fail("cannot write in", out_dir, e);
    }
    run_out out = {.messages = f_msg ? results_messages_create(f_msg) : NULL, .tally = {.warmup = s->warmup}};
    results_maillog_opts lopts = results_maillog_defaults();
    if (f_log)
        out.maillog = results_maillog_create(f_log, &lopts);
    if (f_sch)
        out.scheduler = results_scheduler_create(f_sch);

    sim_calendar *cal = sim_calendar_create(4096);
    world_config wc = {.traffic = &s->traffic, .mta = &s->mta, .receivers = s->receivers,
                       .nreceivers = s->nreceivers, .seed = s->seed, .replication = s->replication,
                       .horizon = s->duration,
                       .observer = {.ctx = &out, .attempt = out_attempt, .message = out_message,
                                    .window = out.scheduler ? out_window : NULL}};
    char werr[512];
    world *w = world_create(&wc, cal, werr, sizeof(werr));
    if (!w) {
        fprintf(stderr, "tempfail: %s: %s\n", s->source, werr);
        status = TEMPFAIL_USAGE;
        goto abort_dir;
    }

    sampler smp = {.w = w, .ts = f_ts ? results_timeseries_create(f_ts) : NULL, .nrcv = world_nreceivers(w)};
    smp.last_replies = calloc(smp.nrcv ? smp.nrcv : 1, sizeof(*smp.last_replies));
    if (smp.ts)
        sampler_columns(&smp);
    sim_run_config rc = {.horizon = s->duration, .until_drained = s->until_drained, .drain_cap = s->drain_cap,
                         .warmup = s->warmup, .sample_every = s->sample_every,
                         .progress = !quiet && !no_progress && isatty(STDERR_FILENO), .ctx = &smp,
                         .busy = run_busy, .sample = sample, .warmup_end = run_warmup, .queue = run_queue,
                         .max_queue = ro->max_queue ? ro->max_queue : TEMPFAIL_MAX_QUEUE};
    sim_run_result rr;
    sim_run(cal, &rc, &rr);
    if (rr.overflow) { /* the memory guard: no results, the partial directory goes */
        char at[64];
        sim_time_format(at, sizeof(at), rr.end);
        fprintf(stderr,
                "tempfail: %s: more than %llu messages in the system at once (at %s of simulated time): the "
                "scenario sends more than this run may hold in memory. A rate or a count too high by a typo? "
                "--max-queue N raises the bound.\n",
                s->source, (unsigned long long)rc.max_queue, at);
        status = TEMPFAIL_USAGE;
        free(smp.last_replies);
        results_timeseries_free(smp.ts);
        smp.ts = NULL;
        sim_calendar_free(cal);
        cal = NULL;
        world_free(w);
        goto abort_dir;
    }
    world_finish(w, rr.end);

    json_t *summary = tempfail_summary_build(s, w, &rr, &out.tally);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int werr_io = 0;
    if (smp.ts)
        werr_io |= results_timeseries_finish(smp.ts);
    if (out.messages)
        werr_io |= results_messages_finish(out.messages);
    if (out.maillog)
        werr_io |= results_maillog_finish(out.maillog);
    if (out.scheduler)
        werr_io |= results_scheduler_finish(out.scheduler);
    werr_io |= results_dir_fclose(f_ts);
    werr_io |= results_dir_fclose(f_msg);
    if (f_log)
        werr_io |= results_dir_fclose(f_log);
    if (f_sch)
        werr_io |= results_dir_fclose(f_sch);
    f_ts = f_msg = f_log = f_sch = NULL;
    tempfail_rundir_end end = {.cmd = "tempfail", .out_dir = out_dir, .plots = plots, .quiet = quiet,
                               .summary_only = ro->summary_only, .quiet_expect = ro->quiet_expect,
                               .fmt = plot_fmt, .wall_time = rr.wall, .events = rr.events,
                               .peak_rss = (uint64_t)ru.ru_maxrss * 1024};
    status = tempfail_rundir_finish(dir, s, summary, &end, werr_io);
    dir = NULL;
    json_decref(summary);
    free(smp.last_replies);
    results_timeseries_free(smp.ts);
    sim_calendar_free(cal); /* first: it leaves the world's pending events idle */
    world_free(w);
    results_messages_free(out.messages);
    if (out.maillog)
        results_maillog_free(out.maillog);
    results_scheduler_free(out.scheduler);
    scenario_free(s);
    return status;

abort_dir:
    /* the writers first: freeing one flushes what it holds into its file, which must still be open */
    results_messages_free(out.messages);
    if (out.maillog)
        results_maillog_free(out.maillog);
    results_scheduler_free(out.scheduler);
    if (f_ts)
        fclose(f_ts);
    if (f_msg)
        fclose(f_msg);
    if (f_log)
        fclose(f_log);
    if (f_sch)
        fclose(f_sch);
    results_dir_abort(dir);
    if (cal)
        sim_calendar_free(cal);
    scenario_free(s);
    return status;
}
