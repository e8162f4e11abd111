/*
 * tempfail_calibrate - `tempfail calibrate`: the host's and the receiver's real costs, as scenario
 * lines to paste (harness/harness_calibrate.h measures; docs/calibrate.md tells why it matters).
 *
 * A simulated world whose costs are 0 never reaches a concurrency cap: sessions end as they begin.
 * The numbers that make it real - CPU per delivery and per message, an smtp(8) process's start-up,
 * the receiver's time to its greeting and per reply - are measured here, three ways:
 *   --replay       two replays of a built-in scenario (an accept-all receiver, a burst of messages,
 *                  no policy) through real Postfix: one with its defaults, one with max_use = 1 so
 *                  that every delivery spawns its smtp(8) - the difference is the start-up;
 *   RUNDIR         a replay's run directory already written (or an --out of --replay);
 *   --maillog FILE an operator's Postfix log: the client's view only, and what it cannot say.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness_calibrate.h"
#include "harness/harness_proc.h"
#include "harness/harness_replay.h"

#define CALIBRATE_MESSAGES 300u
#define CALIBRATE_DEFAULT_DIR "default"
#define CALIBRATE_SPAWN_DIR "max_use-1"

static const char calibrate_usage[] =
    "Usage: sudo tempfail calibrate --replay [--messages N] [--speedup K] [--out DIR]\n"
    "       tempfail calibrate RUNDIR [--spawn RUNDIR]\n"
    "       tempfail calibrate --maillog FILE\n"
    "\n"
    "Measures what a delivery really costs, and prints the scenario lines to paste: the host's CPU\n"
    "per delivery request (smtp, qmgr, scache), per arriving message (smtpd, cleanup,\n"
    "trivial-rewrite) and per smtp(8) process started, its cores (mta: cpu: {...}), and the\n"
    "receiver's time to its first decision and per reply (a receiver's connect_latency: and\n"
    "latency:), each with how it was measured and its spread. A scenario without them costs nothing:\n"
    "every session ends as it starts, and no concurrency cap is ever reached.\n"
    "\n"
    "  --replay           run the calibration itself (root, Postfix installed): a built-in scenario,\n"
    "                     N messages at once to an accept-all testsmtpd receiver, no policy, replayed\n"
    "                     twice through a private Postfix: with its defaults, then with max_use = 1\n"
    "                     (a new smtp(8) for every delivery; the difference is the start-up). The\n"
    "                     host's CPU is sampled from /proc for the instance's processes (cpu.json).\n"
    "  RUNDIR             estimate from a replay's run directory (`tempfail replay --mta postfix`),\n"
    "                     or from the DIR a --replay wrote (both of its runs)\n"
    "  --spawn RUNDIR     with RUNDIR: the same mail replayed with --set mta.postfix.max_use=1\n"
    "  --maillog FILE     an operator's Postfix log (plain or .gz): the client's figures only -\n"
    "                     delays=a/b/c/d, deliveries per smtp(8) process, conn_use; a log has no CPU\n"
    "                     times and no server-side times, and the output says so\n"
    "\n"
    "Options:\n"
    "  -n, --messages N   messages per calibration replay (default 300)\n"
    "  -k, --speedup K    replay K times faster (default 1: the costs are what they are in real time)\n"
    "  -o, --out DIR      where the two runs and calibration.yaml go (default runs/calibrate)\n"
    "      --testsmtpd PATH  the testsmtpd to run (default: beside tempfail, then PATH)\n"
    "      --keep-work    keep the replays' work directories\n"
    "  -h, --help         this help\n"
    "\n"
    "A run that saw any 4xx reply or deferral is refused (its retries would be counted as the cost of\n"
    "the deliveries): calibrate against a receiver with no policy. Figures are real seconds on this\n"
    "host; on a loopback receiver they are microseconds, which is right.\n"
    "\n"
    "Examples:\n"
    "  sudo tempfail calibrate --replay --out runs/cal\n"
    "  tempfail calibrate runs/cal\n"
    "  tempfail calibrate runs/my-replay\n"
    "  tempfail calibrate --maillog /var/log/mail.log\n"
    "\n"
    "Exit status: 0 ok; 2 bad command line or input (not a replay's run directory, a throttled run, no\n"
    "deliveries, a malformed log); 3 a missing or unreadable file, a replay that failed.\n"
    "docs/calibrate.md says what is measured and why.\n";

static const char calibrate_scenario[] =
    "# tempfail calibrate --replay: what every delivery costs, and nothing else.\n"
    "name: calibrate\n"
    "description: \"Calibration: a burst to an accept-all receiver, no policy.\"\n"
    "seed: 1\n"
    "duration: 10s\n"
    "until: drained\n"
    "sample_every: 1s\n"
    "traffic:\n"
    "  classes:\n"
    "    - name: mail\n"
    "      arrivals: { process: burst, count: %u, over: 5s }\n"
    "      size: 4KB\n"
    "      domains: { calibrate.test: 1 }\n"
    "receivers:\n"
    "  - name: sink\n"
    "    domains: [calibrate.test]\n"
    "    starttls: no\n";


static int calibrate_status(int rc)
{
    return rc == -ENOENT || rc == -EACCES || rc == -EIO || rc == -EISDIR || rc == -EPERM ? TEMPFAIL_IO
                                                                                         : TEMPFAIL_USAGE;
}

static bool calibrate_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool calibrate_exists(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Estimates from a run directory (and the max_use = 1 one), prints, and writes out_file when set. */
static int calibrate_dirs(const char *dir, const char *spawn_dir, const char *out_file)
{
    char err[2048];
    harness_calibrate *a = harness_calibrate_create(), *b = NULL;
    int rc = harness_calibrate_read_rundir(a, dir, err, sizeof(err));
    if (rc == 0 && spawn_dir) {
        b = harness_calibrate_create();
        rc = harness_calibrate_read_rundir(b, spawn_dir, err, sizeof(err));
    }
    harness_calibrate_result res;
    if (rc == 0)
        rc = harness_calibrate_estimate(a, dir, b, spawn_dir, &res, err, sizeof(err));
    int status = TEMPFAIL_OK;
    if (rc < 0) {
        fprintf(stderr, "tempfail calibrate: %s\n", err);
        status = calibrate_status(rc);
    } else {
        char source[PATH_MAX * 2 + 32];
        if (spawn_dir)
            snprintf(source, sizeof(source), "%s (max_use = 1: %s)", dir, spawn_dir);
        else
            snprintf(source, sizeof(source), "%s", dir);
        harness_calibrate_print(stdout, &res, source);
        if (out_file) {
            FILE *f = fopen(out_file, "w");
            if (f)
                harness_calibrate_print(f, &res, source);
            if (!f || fclose(f) != 0) {
                fprintf(stderr, "tempfail calibrate: %s: %s\n", out_file, strerror(errno));
                status = TEMPFAIL_IO;
            }
        }
    }
    harness_calibrate_free(a);
    harness_calibrate_free(b);
    return status;
}

static int calibrate_maillog(const char *path)
{
    char err[2048];
    harness_calibrate *c = harness_calibrate_create();
    harness_calibrate_result res;
    int rc = harness_calibrate_read_maillog(c, path, err, sizeof(err));
    if (rc == 0)
        rc = harness_calibrate_estimate(c, path, NULL, NULL, &res, err, sizeof(err));
    int status = TEMPFAIL_OK;
    if (rc < 0) {
        fprintf(stderr, "tempfail calibrate: %s\n", err);
        status = calibrate_status(rc);
    } else {
        harness_calibrate_print(stdout, &res, path);
        fputs("# From a log alone: no CPU figure (per_delivery, per_message, process_start need the host's\n"
              "# processes sampled: `sudo tempfail calibrate --replay` on the same kind of host) and no\n"
              "# server-side time (connect_latency, latency: the receiver's own log, or testsmtpd's).\n",
              stdout);
    }
    harness_calibrate_free(c);
    return status;
}

/* mkdir -p */
static int calibrate_mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return -1;
        *q = '/';
    }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int calibrate_replay(unsigned messages, const harness_replay_opts *ro, const char *out)
{
    if (calibrate_mkdirs(out) != 0) {
        fprintf(stderr, "tempfail calibrate: cannot create %s: %s\n", out, strerror(errno));
        return TEMPFAIL_IO;
    }
    char text[2048];
    snprintf(text, sizeof(text), calibrate_scenario, messages);
    static const char *const phase_sets[2][1] = {{NULL}, {"mta.postfix.max_use=1"}};
    static const char *const phase_dirs[2] = {CALIBRATE_DEFAULT_DIR, CALIBRATE_SPAWN_DIR};
    static const char *const phase_what[2] = {"Postfix's defaults", "max_use = 1"};
    char dirs[2][PATH_MAX + 32];
    for (int p = 0; p < 2; p++) {
        scenario_error serr;
        scenario *s = scenario_load_text(text, strlen(text), "calibrate.yaml", phase_sets[p], p ? 1 : 0, &serr);
        if (!s) {
            fprintf(stderr, "tempfail calibrate: the built-in scenario: %s\n", serr.message);
            return TEMPFAIL_USAGE;
        }
        snprintf(dirs[p], sizeof(dirs[p]), "%s/%s", out, phase_dirs[p]);
        fprintf(stderr, "tempfail calibrate: replay %d of 2 (%s): %u messages into %s\n", p + 1, phase_what[p],
                messages, dirs[p]);
        int st = tempfail_replay_scenario(s, ro, dirs[p], false, true, NULL);
        if (st != TEMPFAIL_OK) {
            fprintf(stderr, "tempfail calibrate: the calibration replay failed (%s)\n", phase_what[p]);
            return st == TEMPFAIL_EXPECT_FAILED ? TEMPFAIL_IO : st;
        }
    }
    char file[PATH_MAX + 32];
    snprintf(file, sizeof(file), "%s/calibration.yaml", out);
    int st = calibrate_dirs(dirs[0], dirs[1], file);
    if (st == TEMPFAIL_OK)
        fprintf(stderr, "tempfail calibrate: written to %s\n", file);
    return st;
}

int tempfail_calibrate_main(int argc, char **argv)
{
    enum { O_SMTPD = 256, O_KEEP, O_SPAWN, O_MAILLOG, O_REPLAY };
    static const struct option opts[] = {
        {"replay", no_argument, NULL, O_REPLAY},        {"messages", required_argument, NULL, 'n'},
        {"speedup", required_argument, NULL, 'k'},      {"out", required_argument, NULL, 'o'},
        {"spawn", required_argument, NULL, O_SPAWN},    {"maillog", required_argument, NULL, O_MAILLOG},
        {"testsmtpd", required_argument, NULL, O_SMTPD}, {"keep-work", no_argument, NULL, O_KEEP},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0}};
    harness_replay_opts ro = {.mta = HARNESS_REPLAY_POSTFIX, .speedup = 1, .start_at_once = true};
    const char *out = NULL, *spawn = NULL, *maillog = NULL, *smtpd_bin = NULL;
    bool replay = false, n_given = false;
    unsigned long messages = CALIBRATE_MESSAGES;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:k:o:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case O_REPLAY: replay = true; break;
        case 'n':
            errno = 0;
            messages = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || messages < 10 || messages > 100000)
                return tempfail_usage_error("calibrate", "--messages: expected 10 to 100000, got '%s'", optarg);
            n_given = true;
            break;
        case 'k':
            ro.speedup = strtod(optarg, &end);
            if (end == optarg || *end || !(ro.speedup >= 1) || !isfinite(ro.speedup))
                return tempfail_usage_error("calibrate", "--speedup: expected a number of at least 1, got '%s'", optarg);
            break;
        case 'o': out = optarg; break;
        case O_SPAWN: spawn = optarg; break;
        case O_MAILLOG: maillog = optarg; break;
        case O_SMTPD: smtpd_bin = optarg; break;
        case O_KEEP: ro.keep_work = true; break;
        case 'h': fputs(calibrate_usage, stdout); return TEMPFAIL_OK;
        default: fputs("Try 'tempfail calibrate --help'.\n", stderr); return TEMPFAIL_USAGE;
        }
    }
    int rest = argc - optind;
    int modes = replay + (maillog != NULL) + (rest > 0);
    if (modes == 0)
        return tempfail_usage_error("calibrate", "%s", "what to measure? --replay, a RUNDIR or --maillog FILE");
    if (modes > 1 || rest > 1)
        return tempfail_usage_error("calibrate", "%s", "one of --replay, a RUNDIR or --maillog FILE, please");
    if (!replay && (n_given || out || smtpd_bin || ro.keep_work || ro.speedup != 1))
        return tempfail_usage_error("calibrate", "%s", "--messages, --speedup, --out, --testsmtpd and --keep-work go with --replay");
    if (spawn && !rest)
        return tempfail_usage_error("calibrate", "%s", "--spawn RUNDIR goes with a RUNDIR");
    if (maillog)
        return calibrate_maillog(maillog);
    if (rest) {
        const char *dir = argv[optind];
        /* The DIR of a --replay: both of its runs. */
        char a[PATH_MAX + 32], b[PATH_MAX + 32];
        if (!spawn && calibrate_is_dir(dir) && !calibrate_exists(dir, "summary.json")) {
            snprintf(a, sizeof(a), "%s/" CALIBRATE_DEFAULT_DIR, dir);
            snprintf(b, sizeof(b), "%s/" CALIBRATE_SPAWN_DIR, dir);
            if (calibrate_exists(a, "summary.json"))
                return calibrate_dirs(a, calibrate_exists(b, "summary.json") ? b : NULL, NULL);
        }
        return calibrate_dirs(dir, spawn, NULL);
    }
    char bin[PATH_MAX];
    if (smtpd_bin)
        snprintf(bin, sizeof(bin), "%s", smtpd_bin);
    else if (!tempfail_find_testsmtpd(bin, sizeof(bin))) {
        fprintf(stderr, "tempfail calibrate: testsmtpd not found (beside tempfail or in PATH); --testsmtpd PATH\n");
        return TEMPFAIL_IO;
    }
    ro.testsmtpd = bin;
    return calibrate_replay((unsigned)messages, &ro, out ? out : "runs/calibrate");
}
