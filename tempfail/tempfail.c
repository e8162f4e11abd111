/*
 * tempfail - the command line entry point: dispatches to the subcommands.
 */
#include "tempfail/tempfail.h"

#include <stdio.h>
#include <string.h>

#include <gsl/gsl_version.h>
#include <yaml.h>

static const char usage[] =
    "Usage: tempfail COMMAND [options]\n"
    "\n"
    "Rehearse SMTP throttling before it hits production: simulate what an outbound MTA (Postfix's\n"
    "scheduler, connection cache and backoff, by default) does when receivers answer\n"
    "\"421 4.7.0 Too many connections\".\n"
    "\n"
    "Commands:\n"
    "  run [SCENARIO.yaml]   simulate a scenario (the built-in default without one) and write a run\n"
    "                        directory with charts and report.html; `tempfail run --help`\n"
    "  plot RUN_DIR          draw a run directory's charts and report.html again (--format svg|pdf)\n"
    "  compare RUN_A RUN_B   key figures side by side, overlay charts, --fail-if thresholds for CI\n"
    "  maillog FILE...       read Postfix logs (syslog, journald, maillog_file, .gz): deferrals by\n"
    "                        reason, destination and relay, latency, conn_use, queue left, busiest\n"
    "                        minutes; `tempfail maillog --help`\n"
    "  replay SCENARIO --mta postfix|external\n"
    "                        the scenario through a real Postfix (private instances) or your own MTA\n"
    "                        against testsmtpd, written as a run directory; `tempfail replay --help`\n"
    "  validate SCENARIO     simulation (several seeds) against replays: agreement on 421s, deferrals,\n"
    "                        drain time, latency; exit 1 outside tolerance; `tempfail validate --help`\n"
    "  calibrate --replay | RUN_DIR | --maillog FILE\n"
    "                        measure the host's CPU per delivery, per message and per smtp(8) start,\n"
    "                        and the receiver's connect and per-reply latency, as scenario lines to\n"
    "                        paste (a real replay with no throttling, or a log); `tempfail calibrate --help`\n"
    "  sweep [SCENARIO] --vary KEY=VALUES...\n"
    "                        many runs: every combination of the varied values, R replications each,\n"
    "                        means and 95% confidence intervals; --jobs, --resume, --shard, --slurm;\n"
    "                        `tempfail sweep --help`\n"
    "  tune [SCENARIO] --vary KEY=VALUES...\n"
    "                        a sweep that recommends a configuration: the best point whose expect:\n"
    "                        passes, its margin, and the main.cf / master.cf lines; `tempfail tune --help`\n"
    "  import MAIN_CF [MASTER_CF [TRANSPORT]]\n"
    "                        a Postfix configuration as a scenario's mta: section; --generate the\n"
    "                        other way; `tempfail import --help`\n"
    "  list                  the scenario library, a line each; its names work wherever a scenario\n"
    "                        file does (`tempfail run examples/greylist`)\n"
    "  show [NAME]           a scenario as the loader resolved it (--set applied)\n"
    "  explain RUN_DIR       what happened in a run and why, in plain words, with the figures and the\n"
    "                        library incident it resembles; `tempfail explain --help`\n"
    "  incident NAME         an incident's before and after over 5 seeds: does the fix hold by the\n"
    "                        margin its fixes: block states? `tempfail incident --help`\n"
    "  help                  this help\n"
    "  version               version and library versions\n"
    "\n"
    "Examples:\n"
    "  tempfail run                                   the default retry storm, into runs/default-retry-storm\n"
    "  tempfail run scenarios/examples/dedicated-transport.yaml --out runs/fix\n"
    "  tempfail run examples/greylist                 a library scenario by name (tempfail list)\n"
    "  tempfail run my.yaml --set mta.postfix.smtp_connection_cache_on_demand=no --seed 7\n"
    "  tempfail compare runs/default-retry-storm runs/fix --fail-if 'transactional.latency.p95 +10%'\n"
    "  tempfail maillog /var/log/mail.log /var/log/mail.log.1.gz --top 5\n"
    "  sudo tempfail replay scenarios/replay/cap3-idle.yaml --mta postfix --speedup 2\n"
    "  sudo tempfail validate scenarios/replay/cap3-idle.yaml --speedup 2 --seeds 10\n"
    "  sudo tempfail calibrate --replay --out runs/cal\n"
    "\n"
    "Scenario reference: docs/scenario.md. Results: docs/results.md.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return TEMPFAIL_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return tempfail_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return tempfail_plot_main(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0)
        return tempfail_compare_main(argc - 1, argv + 1);
    if (strcmp(cmd, "maillog") == 0)
        return tempfail_maillog_main(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return tempfail_replay_main(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return tempfail_validate_main(argc - 1, argv + 1);
    if (strcmp(cmd, "calibrate") == 0)
        return tempfail_calibrate_main(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return tempfail_sweep_main(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0)
        return tempfail_tune_main(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return tempfail_list_main(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return tempfail_show_main(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0)
        return tempfail_explain_main(argc - 1, argv + 1);
    if (strcmp(cmd, "incident") == 0)
        return tempfail_incident_main(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return tempfail_import_main(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return TEMPFAIL_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tempfail %s (GSL %s, libyaml %s, jansson %s)\n", TEMPFAIL_VERSION, gsl_version,
               yaml_get_version_string(), JANSSON_VERSION);
        return TEMPFAIL_OK;
    }
    fprintf(stderr, "tempfail: unknown command '%s'\n\n%s", cmd, usage);
    return TEMPFAIL_USAGE;
}
