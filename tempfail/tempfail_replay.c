/*
 * tempfail_replay - `tempfail replay SCENARIO --mta postfix|external ...`: the scenario's traffic
 * through a real MTA against testsmtpd, written as a run directory like a simulated run's
 * (harness/harness_replay.h does the work; docs/replay.md tells the story).
 *
 * Ctrl-C, SIGTERM and SIGHUP only set a flag: the replay loop sees it, stops every process it
 * started and the command exits 3 with no run directory, so an interrupted replay never leaves a
 * Postfix behind or a directory that looks complete.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness_proc.h"
#include "harness/harness_replay.h"
#include "results/results_dir.h"
#include "results/results_expect.h"
#include "results/results_json.h"
#include "results/results_manifest.h"
#include "results/results_report.h"

static const char replay_usage[] =
    "Usage: tempfail replay SCENARIO.yaml --mta postfix [options]\n"
    "       tempfail replay SCENARIO.yaml --mta external --inject ADDR:PORT --log FILE [options]\n"
    "       tempfail replay SCENARIO.yaml --print-transport\n"
    "\n"
    "Replays a scenario through a real MTA: testsmtpd enforces the scenario's receivers on loopback\n"
    "addresses (each MX host its own: its mx[].address when that is in 127.0.0.0/8, else 127.64.R.M),\n"
    "the very messages `tempfail run` simulates for the seed are injected over SMTP at their arrival\n"
    "times, and the MTA's own log becomes a run directory in the format of a simulated run\n"
    "(messages.csv, timeseries.csv, summary.json, charts, report.html), so `tempfail compare` holds\n"
    "the simulation against reality.\n"
    "\n"
    "  --mta postfix         one private Postfix per MTA host of the scenario (mta.hosts), each with its\n"
    "                        own configuration, queue and log under /tmp, generated from the scenario's\n"
    "                        mta: section, bound to its host's source address; needs root and the\n"
    "                        postfix package. The system's Postfix and /etc/postfix are not touched.\n"
    "  --mta external        your own MTA: route the scenario's domains to testsmtpd (the lines\n"
    "                        --print-transport prints, fixed addresses on port 2525), give its smtpd\n"
    "                        (--inject) and its log (--log, read from its end at start)\n"
    "\n"
    "Options:\n"
    "  -k, --speedup K       run K times faster than real time: arrivals, policy windows and Postfix's\n"
    "                        timers divided by K (refused when a timer, in Postfix's whole seconds,\n"
    "                        would round to 0 or move by more than 10%%; the message names it)\n"
    "  -s, --seed N          random seed (overrides the scenario's)\n"
    "  -r, --replication N   replication number\n"
    "      --set KEY=VALUE   override a scenario value (repeatable), as for `tempfail run`\n"
    "  -o, --out DIR         run directory (default: runs/<scenario name>-replay)\n"
    "      --inject ADDR:PORT  (external) where the MTA accepts mail\n"
    "      --log FILE        (external) the MTA's log file\n"
    "      --conns N         injection connections per MTA host (default 4)\n"
    "      --max-wall DUR    stop after this much real time (e.g. 10m; default: none)\n"
    "      --testsmtpd PATH  the testsmtpd to run (default: beside tempfail, then PATH)\n"
    "      --keep-work       keep the work directory (configuration, queues, logs)\n"
    "      --print-transport print the transport_maps lines for --mta external and exit\n"
    "      --no-plots        no charts (report.html is still written)\n"
    "  -q, --quiet           no summary, no progress line\n"
    "  -h, --help            this help\n"
    "\n"
    "The replay ends when every message is delivered, bounced or expired (with `until: drained`), at\n"
    "the scenario's horizon, or at --max-wall; what is still queued then is written as queued.\n"
    "\n"
    "Exit status: 0 ok; 1 an `expect:` assertion failed; 2 bad scenario or command line (a key Postfix\n"
    "cannot express, a speedup that distorts a timer); 3 Postfix or testsmtpd missing, failing to start\n"
    "or dying, an interrupted replay, an I/O error. Nothing is left running either way.\n";

static volatile sig_atomic_t replay_stop;

static void replay_on_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

int tempfail_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "tempfail %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (tempfail %s --help)\n", cmd);
    return TEMPFAIL_USAGE;
}

/* testsmtpd beside this tempfail (a build directory, or an installation's bin), else PATH. */
bool tempfail_find_testsmtpd(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/testsmtpd", self);
            if (access(buf, X_OK) == 0)
                return true;
            snprintf(buf, len, "%s/../sbin/testsmtpd", self);
            if (access(buf, X_OK) == 0)
                return true;
        }
    }
    return harness_proc_find("testsmtpd", buf, len);
}

static int replay_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int tempfail_replay_main(int argc, char **argv)
{
    enum { O_SET = 256, O_INJECT, O_LOG, O_CONNS, O_MAXWALL, O_SMTPD, O_KEEP, O_PRINT, O_NOPLOTS, O_MTA };
    static const struct option opts[] = {
        {"mta", required_argument, NULL, O_MTA},       {"speedup", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},        {"replication", required_argument, NULL, 'r'},
        {"set", required_argument, NULL, O_SET},       {"out", required_argument, NULL, 'o'},
        {"inject", required_argument, NULL, O_INJECT}, {"log", required_argument, NULL, O_LOG},
        {"conns", required_argument, NULL, O_CONNS},   {"max-wall", required_argument, NULL, O_MAXWALL},
        {"testsmtpd", required_argument, NULL, O_SMTPD}, {"keep-work", no_argument, NULL, O_KEEP},
        {"print-transport", no_argument, NULL, O_PRINT}, {"no-plots", no_argument, NULL, O_NOPLOTS},
        {"quiet", no_argument, NULL, 'q'},             {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char **sets = calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0;
    const char *out_dir = NULL, *mta = NULL, *smtpd_bin = NULL;
    harness_replay_opts ro = {.speedup = 1, .stop = &replay_stop};
    bool seed_given = false, rep_given = false, print = false, plots = true, quiet = false;
    uint64_t seed = 0, rep = 0, u;
    int c, status = TEMPFAIL_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:s:r:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_MTA: mta = optarg; break;
        case 'k': {
            char *end;
            ro.speedup = strtod(optarg, &end);
            if (end == optarg || *end || !(ro.speedup >= 1) || !isfinite(ro.speedup)) {
                status = tempfail_usage_error("replay", "--speedup: expected a number of at least 1, got '%s'", optarg);
                goto out;
            }
            break;
        }
        case 's':
            if (replay_parse_u64(optarg, &seed) != 0) {
                status = tempfail_usage_error("replay", "--seed: expected a non-negative integer, got '%s'", optarg);
                goto out;
            }
            seed_given = true;
            break;
        case 'r':
            if (replay_parse_u64(optarg, &rep) != 0 || rep > UINT32_MAX) {
                status = tempfail_usage_error("replay", "--replication: expected a non-negative integer, got '%s'", optarg);
                goto out;
            }
            rep_given = true;
            break;
        case O_SET:
            if (!strchr(optarg, '=')) {
                status = tempfail_usage_error("replay", "--set %s: expected KEY=VALUE", optarg);
                goto out;
            }
            sets[nsets++] = optarg;
            break;
        case 'o': out_dir = optarg; break;
        case O_INJECT: ro.external_inject = optarg; break;
        case O_LOG: ro.external_log = optarg; break;
        case O_CONNS:
            if (replay_parse_u64(optarg, &u) != 0 || u < 1 || u > 256) {
                status = tempfail_usage_error("replay", "--conns: expected 1 to 256, got '%s'", optarg);
                goto out;
            }
            ro.conns = (unsigned)u;
            break;
        case O_MAXWALL: {
            sim_time_t t;
            if (scenario_parse_duration(optarg, &t) < 0 || t <= 0) {
                status = tempfail_usage_error("replay", "--max-wall: expected a duration like 10m, got '%s'", optarg);
                goto out;
            }
            ro.max_wall = sim_time_to_sec(t);
            break;
        }
        case O_SMTPD: smtpd_bin = optarg; break;
        case O_KEEP: ro.keep_work = true; break;
        case O_PRINT: print = true; break;
        case O_NOPLOTS: plots = false; break;
        case 'q': quiet = true; break;
        case 'h':
            fputs(replay_usage, stdout);
            status = TEMPFAIL_OK;
            goto out;
        default:
            fputs("Try 'tempfail replay --help'.\n", stderr);
            goto out;
        }
    }
    if (argc - optind != 1) {
        status = tempfail_usage_error("replay", "%s", argc - optind ? "one scenario file, please" : "which scenario? (SCENARIO.yaml)");
        goto out;
    }
    if (!print) {
        if (!mta) {
            status = tempfail_usage_error("replay", "%s", "--mta postfix or --mta external, please");
            goto out;
        }
        if (strcmp(mta, "postfix") == 0) {
            ro.mta = HARNESS_REPLAY_POSTFIX;
            if (ro.external_inject || ro.external_log) {
                status = tempfail_usage_error("replay", "%s", "--inject and --log go with --mta external");
                goto out;
            }
        } else if (strcmp(mta, "external") == 0) {
            ro.mta = HARNESS_REPLAY_EXTERNAL;
            if (!ro.external_inject || !ro.external_log) {
                status = tempfail_usage_error("replay", "%s", "--mta external needs --inject ADDR:PORT and --log FILE");
                goto out;
            }
        } else {
            status = tempfail_usage_error("replay", "--mta: expected postfix or external, got '%s'", mta);
            goto out;
        }
    }

    char path[PATH_MAX], lerr[1024];
    if (tempfail_library_path(argv[optind], path, sizeof(path), lerr, sizeof(lerr)) != 0) {
        status = tempfail_usage_error("replay", "%s", lerr);
        goto out;
    }
    scenario_error serr;
    scenario *s = scenario_load_file(path, sets, nsets, &serr);
    if (!s) {
        fprintf(stderr, "tempfail: %s\n", serr.message);
        goto out;
    }
    for (size_t i = 0; i < s->nwarnings; i++)
        fprintf(stderr, "tempfail: warning: %s\n", s->warnings[i]);
    if (seed_given)
        s->seed = seed;
    if (rep_given)
        s->replication = (uint32_t)rep;
    if (print) {
        char terr[1024];
        char *t = harness_replay_external_transport(s, terr, sizeof(terr));
        if (t)
            fputs(t, stdout);
        else
            fprintf(stderr, "tempfail: %s\n", terr);
        status = t ? TEMPFAIL_OK : TEMPFAIL_USAGE;
        free(t);
        scenario_free(s);
        goto out;
    }
    char bin[PATH_MAX];
    if (smtpd_bin)
        snprintf(bin, sizeof(bin), "%s", smtpd_bin);
    else if (!tempfail_find_testsmtpd(bin, sizeof(bin))) {
        fprintf(stderr, "tempfail replay: testsmtpd not found (beside tempfail or in PATH); --testsmtpd PATH\n");
        scenario_free(s);
        status = TEMPFAIL_IO;
        goto out;
    }
    ro.testsmtpd = bin;
    ro.progress = !quiet && isatty(STDERR_FILENO);

    status = tempfail_replay_scenario(s, &ro, out_dir, plots, quiet, NULL);
out:
    free(sets);
    return status;
}

int tempfail_replay_scenario(scenario *s, const harness_replay_opts *ro_in, const char *out_dir, bool plots,
                             bool quiet, json_t **summary_out)
{
    harness_replay_opts ro = *ro_in;
    if (!ro.stop)
        ro.stop = &replay_stop;
    int status, rc;
    char default_out[512];
    if (!out_dir) {
        snprintf(default_out, sizeof(default_out), "runs/%s-replay", s->name);
        out_dir = default_out;
    }
    results_dir *dir = results_dir_create(out_dir);
    if (!dir) {
        fprintf(stderr, "tempfail: cannot create run directory %s: %s\n", out_dir, strerror(errno));
        scenario_free(s);
        return TEMPFAIL_IO;
    }
    struct sigaction sa = {.sa_handler = replay_on_signal}, old_int, old_term, old_hup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    signal(SIGPIPE, SIG_IGN);

    json_t *summary = NULL;
    char err[2048];
    long long t_start = harness_proc_now_ns();
    rc = harness_replay_run(s, &ro, dir, &summary, err, sizeof(err));
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (rc != 0) {
        fprintf(stderr, "tempfail replay: %s\n", err);
        fprintf(stderr, "tempfail replay: no run directory written\n");
        results_dir_abort(dir);
        scenario_free(s);
        return rc == HARNESS_REPLAY_EUSAGE ? TEMPFAIL_USAGE : TEMPFAIL_IO;
    }

    tempfail_rundir_end end = {.cmd = "tempfail replay", .out_dir = out_dir, .plots = plots, .quiet = quiet,
                               .fmt = RESULTS_PLOT_PNG,
                               .wall_time = (double)(harness_proc_now_ns() - t_start) / 1e9};
    status = tempfail_rundir_finish(dir, s, summary, &end, 0);
    if (summary_out && status != TEMPFAIL_IO)
        *summary_out = summary;
    else
        json_decref(summary);
    scenario_free(s);
    return status;
}
