/*
 * tempfail_validate - `tempfail validate SCENARIO`: the simulation (several seeds) against real
 * replays of the same scenario through Postfix, and whether they agree within the tolerances.
 *
 * The simulated runs use exactly the timers the replayed Postfix runs: each is rounded to the whole
 * seconds of the speedup (harness_speedup_mta_scenario), so a difference in the table is a
 * difference of the model, not of the configuration. The machine's costs (host CPU, the receiver's
 * connect and reply latency) do not speed up, so they last K times as long in scenario time
 * (harness_speedup_costs). The replay of seed S injects the very messages
 * the simulation of seed S generated, so the first pair is also shown side by side by `compare`.
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

#include "harness/harness_speedup.h"
#include "results/results_compare.h"
#include "results/results_dir.h"
#include "results/results_json.h"
#include "results/results_validate.h"
#include "sim/sim_mem.h"

static const char validate_usage[] =
    "Usage: tempfail validate SCENARIO.yaml [options]\n"
    "\n"
    "Holds the simulation to reality: simulates the scenario with several seeds, replays it through a\n"
    "real Postfix against testsmtpd (`tempfail replay --mta postfix`, which needs root), and prints how\n"
    "far apart they are on the figures of a retry storm: 421 replies, first-attempt deferral rate,\n"
    "dead-destination (\"delivery temporarily suspended\") deferrals, drain time, delivery latency p50\n"
    "and p95, peak sessions at a receiver. Exit 1 when a figure with a tolerance falls outside it.\n"
    "\n"
    "Options:\n"
    "  -k, --speedup K       replay K times faster (see tempfail replay --help); the simulation runs\n"
    "                        the same rounded Postfix timers\n"
    "  -n, --seeds N         simulated runs, seeds S..S+N-1 (default 5; S the scenario's seed)\n"
    "      --replays R       replays, seeds S..S+R-1 (default 1)\n"
    "  -t, --tolerance F=X%  tolerance of figure F (repeatable): 421s, first_attempt, suspended, drain,\n"
    "                        p50, p95, peak_sessions; relative to the simulation (X% or a share), or\n"
    "                        in percentage points (first_attempt=5pp); defaults 421s=25%,\n"
    "                        first_attempt=25%, drain=20%\n"
    "      --set KEY=VALUE   override a scenario value (repeatable)\n"
    "  -o, --out DIR         where the runs go (default runs/<scenario name>-validate): sim-S/,\n"
    "                        replay-S/ and validation.json\n"
    "      --testsmtpd PATH  the testsmtpd to run\n"
    "      --max-wall DUR    stop a replay after this much real time\n"
    "      --reuse-replays   do not replay: compare with the replays an earlier run left in --out\n"
    "                        (replay-S/, at the same --speedup), to iterate on the model quickly\n"
    "  -q, --quiet           only the agreement table\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 every figure within tolerance; 1 one outside; 2 bad scenario or command line;\n"
    "3 the replay could not run (see tempfail replay).\n";


static scenario *validate_load(const char *path, const char *const *sets, size_t nsets, uint64_t seed)
{
    scenario_error err;
    scenario *s = scenario_load_file(path, sets, nsets, &err);
    if (!s) {
        fprintf(stderr, "tempfail: %s\n", err.message);
        return NULL;
    }
    s->seed = seed;
    return s;
}

static json_t *validate_summary(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fprintf(stderr, "tempfail validate: %s: %s\n", path, je.text);
    return j;
}

/*
 * The simulation compared with a replay counts Postfix's seconds where the replay's fell
 * (replay.clock_phase) and scans each host's deferred queue where that host's qmgr did
 * (replay.qmgr_start, when it names every host): the accidents of when the real instances started.
 */
static void validate_replay_clock(scenario *s, const json_t *rp)
{
    double phase = json_number_value(json_object_get(rp, "clock_phase"));
    if (phase > 0)
        s->mta.clock_phase = sim_time_from_sec(phase) % s->mta.clock_tick;
    const json_t *q = json_object_get(rp, "qmgr_start");
    if (!json_is_array(q) || json_array_size(q) != s->mta.hosts || s->mta.queue_run_delay <= 0)
        return;
    for (size_t h = 0; h < json_array_size(q); h++)
        if (!json_is_number(json_array_get(q, h)) || json_number_value(json_array_get(q, h)) < 0)
            return;
    sim_time_t *v = sim_xcalloc(s->mta.hosts, sizeof(*v));
    for (size_t h = 0; h < s->mta.hosts; h++)
        v[h] = sim_time_from_sec(json_number_value(json_array_get(q, h))) % s->mta.queue_run_delay;
    free(s->mta.qmgr_start);
    s->mta.qmgr_start = v;
    s->mta.nqmgr_start = s->mta.hosts;
}

int tempfail_validate_main(int argc, char **argv)
{
    enum { O_SET = 256, O_REPLAYS, O_SMTPD, O_MAXWALL, O_REUSE };
    static const struct option opts[] = {
        {"speedup", required_argument, NULL, 'k'}, {"seeds", required_argument, NULL, 'n'},
        {"replays", required_argument, NULL, O_REPLAYS}, {"tolerance", required_argument, NULL, 't'},
        {"set", required_argument, NULL, O_SET}, {"out", required_argument, NULL, 'o'},
        {"testsmtpd", required_argument, NULL, O_SMTPD}, {"max-wall", required_argument, NULL, O_MAXWALL},
        {"reuse-replays", no_argument, NULL, O_REUSE}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char **sets = calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0;
    double k = 1, max_wall = 0;
    unsigned long nseeds = 5, nreplays = 1;
    const char *out = NULL, *smtpd_bin = NULL;
    bool quiet = false, reuse = false;
    results_validate v;
    results_validate_init(&v);
    char err[1024];
    int c, status = TEMPFAIL_USAGE;
    json_t **sim = NULL, **real = NULL;
    size_t nsim = 0, nreal = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:n:t:o:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'k':
            k = strtod(optarg, &end);
            if (end == optarg || *end || !(k >= 1) || !isfinite(k)) {
                status = tempfail_usage_error("validate", "--speedup: expected a number of at least 1, got '%s'", optarg);
                goto out;
            }
            break;
        case 'n':
        case O_REPLAYS: {
            unsigned long n = strtoul(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-' || n < 1 || n > 1000) {
                status = tempfail_usage_error("validate", "expected a count from 1 to 1000, got '%s'", optarg);
                goto out;
            }
            if (c == 'n')
                nseeds = n;
            else
                nreplays = n;
            break;
        }
        case 't':
            if (results_validate_tolerance(&v, optarg, err, sizeof(err)) < 0) {
                status = tempfail_usage_error("validate", "%s", err);
                goto out;
            }
            break;
        case O_SET:
            if (!strchr(optarg, '=')) {
                status = tempfail_usage_error("validate", "--set %s: expected KEY=VALUE", optarg);
                goto out;
            }
            sets[nsets++] = optarg;
            break;
        case 'o': out = optarg; break;
        case O_SMTPD: smtpd_bin = optarg; break;
        case O_REUSE: reuse = true; break;
        case O_MAXWALL: {
            sim_time_t t;
            if (scenario_parse_duration(optarg, &t) < 0 || t <= 0) {
                status = tempfail_usage_error("validate", "--max-wall: expected a duration like 10m, got '%s'", optarg);
                goto out;
            }
            max_wall = sim_time_to_sec(t);
            break;
        }
        case 'q': quiet = true; break;
        case 'h':
            fputs(validate_usage, stdout);
            status = TEMPFAIL_OK;
            goto out;
        default:
            fputs("Try 'tempfail validate --help'.\n", stderr);
            goto out;
        }
    }
    if (argc - optind != 1) {
        status = tempfail_usage_error("validate", "%s", "which scenario? (one SCENARIO.yaml)");
        goto out;
    }
    char path[PATH_MAX], lerr[1024];
    if (tempfail_library_path(argv[optind], path, sizeof(path), lerr, sizeof(lerr)) != 0) {
        status = tempfail_usage_error("validate", "%s", lerr);
        goto out;
    }
    scenario *s0 = validate_load(path, sets, nsets, 0);
    if (!s0)
        goto out;
    uint64_t base = 0;
    {
        scenario_error e;
        scenario *orig = scenario_load_file(path, sets, nsets, &e);
        base = orig ? orig->seed : 0;
        scenario_free(orig);
    }
    char default_out[512], dir[PATH_MAX - 64];
    if (!out) {
        snprintf(default_out, sizeof(default_out), "runs/%s-validate", s0->name);
        out = default_out;
    }
    scenario_free(s0);
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "tempfail validate: cannot create %s: %s\n", out, strerror(errno));
        status = TEMPFAIL_IO;
        goto out;
    }
    char bin[PATH_MAX] = "";
    if (smtpd_bin)
        snprintf(bin, sizeof(bin), "%s", smtpd_bin);
    else if (!reuse && !tempfail_find_testsmtpd(bin, sizeof(bin))) {
        fprintf(stderr, "tempfail validate: testsmtpd not found (beside tempfail or in PATH); --testsmtpd PATH\n");
        status = TEMPFAIL_IO;
        goto out;
    }
    sim = calloc(nseeds, sizeof(*sim));
    real = calloc(nreplays, sizeof(*real));

    /* The replays. */
    for (unsigned long i = 0; i < nreplays; i++) {
        scenario *s = validate_load(path, sets, nsets, base + i);
        if (!s)
            goto out;
        snprintf(dir, sizeof(dir), "%s/replay-%llu", out, (unsigned long long)(base + i));
        if (reuse) {
            json_t *old = validate_summary(dir);
            if (!old) {
                fprintf(stderr, "tempfail validate: --reuse-replays: no replay to reuse in %s\n", dir);
                status = TEMPFAIL_IO;
                scenario_free(s);
                goto out;
            }
            double ok = json_number_value(json_object_get(json_object_get(old, "replay"), "speedup"));
            if (fabs(ok - k) > 1e-9) {
                fprintf(stderr, "tempfail validate: --reuse-replays: %s was replayed at --speedup %g, not %g\n", dir,
                        ok, k);
                json_decref(old);
                status = TEMPFAIL_USAGE;
                scenario_free(s);
                goto out;
            }
            if (!quiet)
                fprintf(stderr, "tempfail validate: reusing the replay in %s\n", dir);
            real[nreal++] = old;
            scenario_free(s);
            continue;
        }
        harness_replay_opts ro = {.mta = HARNESS_REPLAY_POSTFIX, .speedup = k, .testsmtpd = bin,
                                  .max_wall = max_wall, .progress = !quiet && isatty(STDERR_FILENO)};
        json_t *sum = NULL;
        int rc = tempfail_replay_scenario(s, &ro, dir, false, true, &sum);
        if (rc != TEMPFAIL_OK && rc != TEMPFAIL_EXPECT_FAILED) {
            status = rc;
            goto out;
        }
        real[nreal++] = sum;
    }

    /* The simulation, with the replay's rounded timers and the phase of its clock's seconds: seed
     * base + i takes replay i's (round robin over the replays). */
    for (unsigned long i = 0; i < nseeds; i++) {
        scenario *s = validate_load(path, sets, nsets, base + i);
        if (!s)
            goto out;
        char serr[512];
        if (harness_speedup_mta_scenario(&s->mta, k, harness_speedup_tls_everywhere(s), serr, sizeof(serr)) < 0) {
            fprintf(stderr, "tempfail validate: --speedup %g: %s\n", k, serr);
            scenario_free(s);
            goto out;
        }
        harness_speedup_costs(s, k);
        validate_replay_clock(s, json_object_get(real[i % nreal], "replay"));
        snprintf(dir, sizeof(dir), "%s/sim-%llu", out, (unsigned long long)(base + i));
        tempfail_run_opts ro = {.out_dir = dir, .maillog = true, .trace_scheduler = true, .quiet = true,
                                .no_progress = true, .plots = false};
        int rc = tempfail_run_scenario(s, &ro);
        if (rc != TEMPFAIL_OK && rc != TEMPFAIL_EXPECT_FAILED) {
            status = rc;
            goto out;
        }
        if (!(sim[nsim] = validate_summary(dir))) {
            status = TEMPFAIL_IO;
            goto out;
        }
        nsim++;
    }
    if (!quiet) {
        results_compare *cmp = results_compare_create(sim[0], real[0]);
        if (cmp) {
            char a[64], b[64];
            snprintf(a, sizeof(a), "sim-%llu", (unsigned long long)base);
            snprintf(b, sizeof(b), "replay-%llu", (unsigned long long)base);
            results_compare_print(stdout, cmp, a, b, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
            results_compare_free(cmp);
            putchar('\n');
        }
    }
    results_validate_compute(&v, (const json_t *const *)sim, nsim, (const json_t *const *)real, nreal);
    results_validate_print(stdout, &v, nsim, nreal);
    json_t *j = results_validate_json(&v);
    json_object_set_new(j, "speedup", json_real(k));
    json_object_set_new(j, "seeds", json_integer((json_int_t)nsim));
    json_object_set_new(j, "replays", json_integer((json_int_t)nreal));
    snprintf(dir, sizeof(dir), "%s/validation.json", out);
    FILE *f = fopen(dir, "w");
    int werr = f ? results_json_write(f, j) : -errno;
    if (f && fclose(f) != 0)
        werr = -errno;
    json_decref(j);
    if (werr) {
        fprintf(stderr, "tempfail validate: cannot write %s: %s\n", dir, strerror(-werr));
        status = TEMPFAIL_IO;
        goto out;
    }
    status = v.failed ? TEMPFAIL_EXPECT_FAILED : TEMPFAIL_OK;
out:
    for (size_t i = 0; i < nsim; i++)
        json_decref(sim[i]);
    for (size_t i = 0; i < nreal; i++)
        json_decref(real[i]);
    free(sim);
    free(real);
    free(sets);
    return status;
}
