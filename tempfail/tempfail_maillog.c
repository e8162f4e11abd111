/*
 * tempfail_maillog - `tempfail maillog FILE...`: a real Postfix log (or a run's maillog) read
 * back into the figures an operator otherwise digs out with grep and awk during an incident:
 * deferrals by reason, destination and relay, delivery latency, connection reuse, the queue that
 * is left and the busiest minutes.
 *
 * Reasons carry the simulator's keys ("421 greeting", "4xx rcpt", "suspended", ...), so the table
 * of a production log reads like the `deferrals` of a simulated run's summary.json, and the two
 * can be held side by side. The parsing and counting live in harness/; this file is options and
 * output.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <unistd.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/harness_text.h"
#include "harness/harness_maillog_scenario.h"
#include "harness/harness_scheduler.h"
#include "harness/harness_maillog_stats.h"
#include "results/results_json.h"

static const char maillog_usage[] =
    "Usage: tempfail maillog FILE... [options]\n"
    "\n"
    "Reads Postfix logs and prints what is usually dug out of them by hand: deliveries and deferrals\n"
    "by reason, by destination (recipient domain) and by relay; delivery latency (delay= of sent\n"
    "recipients: p50/p95/p99/max); how often cached connections were reused (conn_use=); what is still\n"
    "deferred at the end of the log and how old it is; the busiest minutes.\n"
    "\n"
    "FILE is a syslog or journal file (classic \"Dec  1 11:38:27 host postfix/smtp[123]: ...\" stamps,\n"
    "RFC 3339 ones, `journalctl -o short` or `-o short-iso`), Postfix's own maillog_file, or a run's\n"
    "maillog (`tempfail run --maillog`); rotated files may be gzip-compressed (.gz). Give them oldest\n"
    "first. Any syslog_name (postfix, postfix-out, ...) and several hosts in one file are fine.\n"
    "Reasons are the simulator's keys: 421 greeting (\"refused to talk to me: 421 ...\"), 421 rcpt or\n"
    "4xx rcpt (\"said: ... (in reply to RCPT TO command)\"; likewise ehlo, mail, data), connect\n"
    "refused, connect timeout, lost connection, timeout, dns tempfail, suspended (\"delivery\n"
    "temporarily suspended\"), delivered.\n"
    "\n"
    "Options:\n"
    "      --json           the same figures as JSON on stdout (keys sorted)\n"
    "  -n, --top N          rows per table and busiest minutes shown (default 10; 0: all)\n"
    "      --year Y         the year of syslog stamps, which have none (default: this year)\n"
    "      --scenario OUT   also write a starting scenario (YAML) from the log: one traffic class\n"
    "                       with the hourly arrival rates seen, qmgr's sizes, the domain mix, and\n"
    "                       a receiver per destination that deferred mail, its MX hosts and reply\n"
    "                       texts (as comments: the policy is yours); `tempfail run OUT` runs it\n"
    "      --scheduler OUT  also write the scheduler trace (CSV, the columns of a run's scheduler.csv)\n"
    "                       from qmgr's destination_concurrency_feedback_debug lines: every feedback\n"
    "                       event, the window it left; time in seconds since the log's first line\n"
    "  -h, --help           this help\n"
    "\n"
    "Lines that are not Postfix delivery reports are skipped; lines that look like one but do not\n"
    "parse are counted as malformed and the first few named as FILE:LINE on stderr.\n"
    "\n"
    "Examples:\n"
    "  tempfail maillog /var/log/mail.log /var/log/mail.log.1 --top 5\n"
    "  journalctl -u postfix -o short-iso --since today >today.log && tempfail maillog today.log\n"
    "  tempfail maillog runs/default-retry-storm/maillog --json | jq .deferred_by_reason\n"
    "  tempfail maillog /var/log/mail.log --scenario incident.yaml && tempfail run incident.yaml\n"
    "\n"
    "Exit status: 0 ok; 2 bad command line; 3 a file is missing, not a regular file, or unreadable.\n";


static json_t *table_json(const harness_maillog_table *t, size_t top)
{
    harness_maillog_count *v = harness_maillog_table_sorted(t);
    json_t *o = json_object();
    for (size_t i = 0; i < t->n && (!top || i < top); i++) {
        json_t *row = json_object();
        for (int s = 0; s < HARNESS_MAILLOG_NSTATUS; s++)
            json_object_set_new(row, harness_maillog_status_name((harness_maillog_status)s), results_json_count(v[i].n[s]));
        json_object_set_new(row, "total", results_json_count(v[i].total));
        json_object_set_new(o, v[i].key, row);
    }
    free(v);
    return o;
}

/* Rows of a table whose count for status st is nonzero, as key: n. */
static json_t *by_status_json(const harness_maillog_table *t, harness_maillog_status st)
{
    json_t *o = json_object();
    for (size_t i = 0; i < t->n; i++)
        if (t->row[i].n[st])
            json_object_set_new(o, t->row[i].key, results_json_count(t->row[i].n[st]));
    return o;
}

static json_t *quantiles_json(const double *v, size_t n)
{
    json_t *o = json_object();
    json_object_set_new(o, "count", results_json_count(n));
    json_object_set_new(o, "p50", n ? results_json_real(harness_maillog_quantile(v, n, 0.50)) : json_null());
    json_object_set_new(o, "p95", n ? results_json_real(harness_maillog_quantile(v, n, 0.95)) : json_null());
    json_object_set_new(o, "p99", n ? results_json_real(harness_maillog_quantile(v, n, 0.99)) : json_null());
    json_object_set_new(o, "max", n ? results_json_real(v[n - 1]) : json_null());
    return o;
}

static json_t *stats_json(const harness_maillog_stats *st, size_t top)
{
    json_t *root = json_object();
    json_t *lines = json_object();
    json_object_set_new(lines, "read", results_json_count(st->lines));
    json_object_set_new(lines, "skipped", results_json_count(st->skipped));
    json_object_set_new(lines, "malformed", results_json_count(st->malformed));
    json_object_set_new(lines, "too_long", results_json_count(st->too_long));
    json_object_set_new(root, "lines", lines);
    json_t *att = json_object();
    json_object_set_new(att, "total", results_json_count(st->attempts));
    for (int s = 0; s < HARNESS_MAILLOG_NSTATUS; s++)
        json_object_set_new(att, harness_maillog_status_name((harness_maillog_status)s), results_json_count(st->by_status[s]));
    json_object_set_new(root, "attempts", att);
    json_t *q = json_object();
    json_object_set_new(q, "queued", results_json_count(st->queued));
    json_object_set_new(q, "removed", results_json_count(st->removed));
    json_object_set_new(q, "expired", results_json_count(st->expired));
    json_object_set_new(root, "qmgr", q);
    json_object_set_new(root, "deferred_by_reason", by_status_json(&st->reasons, HARNESS_MAILLOG_DEFERRED));
    json_object_set_new(root, "bounced_by_reason", by_status_json(&st->reasons, HARNESS_MAILLOG_BOUNCED));
    json_object_set_new(root, "reasons", table_json(&st->reasons, 0));
    json_object_set_new(root, "destinations", table_json(&st->domains, top));
    json_object_set_new(root, "relays", table_json(&st->relays, top));
    json_object_set_new(root, "hosts", table_json(&st->hosts, 0));
    json_object_set_new(root, "latency", quantiles_json(st->sent_delay, st->nsent));
    json_t *cu = json_object();
    for (size_t k = 1; k < st->conn_use_n; k++)
        if (st->conn_use[k]) {
            char key[24];
            snprintf(key, sizeof(key), "%zu", k);
            json_object_set_new(cu, key, results_json_count(st->conn_use[k]));
        }
    json_object_set_new(root, "conn_use", cu);
    double *ages;
    size_t n = harness_maillog_stats_queue(st, &ages);
    json_object_set_new(root, "queue_left", quantiles_json(ages, n));
    free(ages);
    harness_maillog_count *m = harness_maillog_table_sorted(&st->minutes);
    json_t *busy = json_array();
    for (size_t i = 0; i < st->minutes.n && (!top || i < top); i++) {
        json_t *row = json_object();
        json_object_set_new(row, "minute", json_string(m[i].key));
        json_object_set_new(row, "attempts", results_json_count(m[i].total));
        json_object_set_new(row, "deferred", results_json_count(m[i].n[HARNESS_MAILLOG_DEFERRED]));
        json_array_append_new(busy, row);
    }
    free(m);
    json_object_set_new(root, "busiest_minutes", busy);
    return root;
}

static void print_table(const char *title, const harness_maillog_table *t, size_t top)
{
    harness_maillog_count *v = harness_maillog_table_sorted(t);
    printf("\n%s\n  %-40s %9s %9s %9s %9s\n", title, "", "sent", "deferred", "bounced", "expired");
    for (size_t i = 0; i < t->n && (!top || i < top); i++)
        printf("  %-40s %9llu %9llu %9llu %9llu\n", v[i].key, (unsigned long long)v[i].n[0],
               (unsigned long long)v[i].n[1], (unsigned long long)v[i].n[2], (unsigned long long)v[i].n[3]);
    if (top && t->n > top)
        printf("  (%zu more; --top 0 shows all)\n", t->n - top);
    free(v);
}

static void print_quantiles(const char *title, const double *v, size_t n)
{
    if (!n) {
        printf("%-22s none\n", title);
        return;
    }
    printf("%-22s %zu: p50 %gs  p95 %gs  p99 %gs  max %gs\n", title, n, harness_maillog_quantile(v, n, 0.5),
           harness_maillog_quantile(v, n, 0.95), harness_maillog_quantile(v, n, 0.99), v[n - 1]);
}

static void print_stats(const harness_maillog_stats *st, size_t top)
{
    printf("lines %llu (skipped %llu, malformed %llu)\n", (unsigned long long)st->lines,
           (unsigned long long)st->skipped, (unsigned long long)st->malformed);
    printf("attempts %llu: sent %llu, deferred %llu, bounced %llu, expired %llu\n",
           (unsigned long long)st->attempts, (unsigned long long)st->by_status[0],
           (unsigned long long)st->by_status[1], (unsigned long long)st->by_status[2],
           (unsigned long long)st->by_status[3]);
    if (st->queued || st->removed || st->expired)
        printf("qmgr: %llu queued, %llu removed, %llu expired and returned\n", (unsigned long long)st->queued,
               (unsigned long long)st->removed, (unsigned long long)st->expired);
    print_quantiles("latency (sent)", st->sent_delay, st->nsent);
    double *ages;
    size_t n = harness_maillog_stats_queue(st, &ages);
    print_quantiles("still deferred, age", ages, n);
    free(ages);
    print_table("By reason", &st->reasons, 0);
    print_table("By destination", &st->domains, top);
    print_table("By relay", &st->relays, top);
    if (st->hosts.n > 1)
        print_table("By host", &st->hosts, 0);
    /* Buckets growing roughly tenfold a decade: a long-lived cache has hundreds of uses. */
    static const size_t upto[] = {1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, SIZE_MAX};
    printf("\nconn_use (attempts over the k-th use of a connection; --json has every k)\n");
    for (size_t b = 0, lo = 1; lo < st->conn_use_n; lo = upto[b++] + 1) {
        uint64_t n = 0;
        for (size_t k = lo; k <= upto[b] && k < st->conn_use_n; k++)
            n += st->conn_use[k];
        char range[48];
        if (upto[b] == lo)
            snprintf(range, sizeof(range), "%zu", lo);
        else if (upto[b] == SIZE_MAX)
            snprintf(range, sizeof(range), "%zu+", lo);
        else
            snprintf(range, sizeof(range), "%zu-%zu", lo, upto[b]);
        printf("  %-10s %9llu\n", range, (unsigned long long)n);
    }
    harness_maillog_count *m = harness_maillog_table_sorted(&st->minutes);
    printf("\nBusiest minutes (UTC)   attempts  deferred\n");
    for (size_t i = 0; i < st->minutes.n && (!top || i < top); i++)
        printf("  %-20s %9llu %9llu\n", m[i].key, (unsigned long long)m[i].total,
               (unsigned long long)m[i].n[HARNESS_MAILLOG_DEFERRED]);
    free(m);
}

static int parse_count(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* What the log's records go to beside the statistics: --scenario and --scheduler. */
typedef struct maillog_observers {
    harness_maillog_scenario *sc;
    FILE *sched_file;
    results_scheduler *sched_out;
    harness_scheduler *sched; /* made at the first stamped line: its stamp is time 0 */
} maillog_observers;

static void maillog_observe(void *ctx, const harness_maillog_rec *r)
{
    maillog_observers *o = ctx;
    if (o->sc)
        harness_maillog_scenario_observe(o->sc, r);
    if (!o->sched_out || r->kind == HARNESS_MAILLOG_SKIP || r->kind == HARNESS_MAILLOG_MALFORMED)
        return;
    if (!o->sched)
        o->sched = harness_scheduler_create(o->sched_out, (double)r->when + r->usec / 1e6, 1);
    harness_scheduler_add(o->sched, 0, r);
}

/*
 * Writes the scenario to path through a temporary name, after loading it back: a scenario that
 * `tempfail run` would refuse is this program's bug, and is never left looking done.
 */
static int write_scenario(const harness_maillog_scenario *sc, const char *path, char **files, int nfiles)
{
    if (harness_maillog_scenario_messages(sc) == 0) {
        fprintf(stderr, "tempfail maillog: --scenario: no messages in the log, nothing to write\n");
        return TEMPFAIL_IO;
    }
    char source[1024] = "from the Postfix log";
    size_t n = strlen(source);
    for (int i = 0; i < nfiles && n + 2 < sizeof(source); i++)
        n += (size_t)snprintf(source + n, sizeof(source) - n, "%s %s", i ? "," : "", files[i]);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "tempfail maillog: --scenario: %s\n", strerror(errno));
        return TEMPFAIL_IO;
    }
    int err = harness_maillog_scenario_write(sc, f, "from-maillog", source);
    if (fclose(f) != 0 && !err)
        err = -errno;
    int status = TEMPFAIL_OK;
    scenario_error serr;
    scenario *s = err ? NULL : scenario_load_text(text, len, path, NULL, 0, &serr);
    if (err) {
        fprintf(stderr, "tempfail maillog: --scenario: %s: %s\n", path, strerror(-err));
        status = TEMPFAIL_IO;
    } else if (!s) {
        fprintf(stderr, "tempfail maillog: --scenario: the scenario written does not load (a bug): %s\n",
                serr.message);
        status = TEMPFAIL_IO;
    } else if ((err = harness_text_write_file(path, text)) < 0) {
        fprintf(stderr, "tempfail maillog: --scenario: %s: %s\n", path, strerror(-err));
        status = TEMPFAIL_IO;
    }
    scenario_free(s);
    free(text);
    return status;
}

int tempfail_maillog_main(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'J'},
                                         {"top", required_argument, NULL, 'n'},
                                         {"year", required_argument, NULL, 'Y'},
                                         {"scenario", required_argument, NULL, 'S'},
                                         {"scheduler", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool json = false;
    long top = 10, year = 0;
    const char *scenario_out = NULL, *sched_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'J':
            json = true;
            break;
        case 'n':
            if (parse_count(optarg, INT_MAX, &top) != 0) {
                fprintf(stderr, "tempfail maillog: --top: expected a count (0 for all), got '%s'\n", optarg);
                return TEMPFAIL_USAGE;
            }
            break;
        case 'Y':
            if (parse_count(optarg, 9999, &year) != 0 || year < 1970) {
                fprintf(stderr, "tempfail maillog: --year: expected a year from 1970, got '%s'\n", optarg);
                return TEMPFAIL_USAGE;
            }
            break;
        case 'S':
            scenario_out = optarg;
            break;
        case 'C':
            sched_path = optarg;
            break;
        case 'h':
            fputs(maillog_usage, stdout);
            return TEMPFAIL_OK;
        default:
            fputs("Try 'tempfail maillog --help'.\n", stderr);
            return TEMPFAIL_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("tempfail maillog: expected at least one log FILE\nTry 'tempfail maillog --help'.\n", stderr);
        return TEMPFAIL_USAGE;
    }
    if (!year) {
        time_t now = time(NULL);
        struct tm tm;
        year = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 1970;
    }
    harness_maillog_stats *st = harness_maillog_stats_create();
    maillog_observers obs = {0};
    if (scenario_out)
        obs.sc = harness_maillog_scenario_create();
    char sched_tmp[4096] = "";
    int status = TEMPFAIL_OK;
    if (sched_path) {
        snprintf(sched_tmp, sizeof(sched_tmp), "%s.tmp.%ld", sched_path, (long)getpid());
        if (!(obs.sched_file = fopen(sched_tmp, "w")) || !(obs.sched_out = results_scheduler_create(obs.sched_file))) {
            fprintf(stderr, "tempfail maillog: --scheduler %s: %s\n", sched_path, strerror(errno));
            status = TEMPFAIL_IO;
            goto out;
        }
    }
    st->observe = maillog_observe;
    st->observe_ctx = &obs;
    for (int i = optind; i < argc; i++) {
        int err = harness_maillog_stats_read(st, argv[i], (int)year);
        if (err) {
            fprintf(stderr, "tempfail maillog: %s: %s\n", argv[i],
                    err == -EINVAL ? "not a regular file" : err == -EIO ? "read error (a truncated or corrupt .gz?)"
                                                                      : strerror(-err));
            status = TEMPFAIL_IO;
            goto out;
        }
    }
    if (st->malformed) {
        fprintf(stderr, "tempfail maillog: %llu malformed line%s (looks like Postfix, does not parse):\n",
                (unsigned long long)st->malformed, st->malformed == 1 ? "" : "s");
        for (size_t i = 0; i < st->nbad; i++)
            fprintf(stderr, "  %s\n", st->bad[i]);
    }
    harness_maillog_stats_sort(st);
    if (json) {
        json_t *root = stats_json(st, (size_t)top);
        int err = results_json_write(stdout, root);
        json_decref(root);
        if (err) {
            fprintf(stderr, "tempfail maillog: writing JSON: %s\n", strerror(-err));
            status = TEMPFAIL_IO;
        }
    } else {
        print_stats(st, (size_t)top);
        if (fflush(stdout) != 0)
            status = TEMPFAIL_IO;
    }
    if (obs.sc && status == TEMPFAIL_OK)
        status = write_scenario(obs.sc, scenario_out, argv + optind, argc - optind);
    if (obs.sched_file && status == TEMPFAIL_OK) {
        int e = results_scheduler_finish(obs.sched_out);
        results_scheduler_free(obs.sched_out);
        obs.sched_out = NULL;
        if (fclose(obs.sched_file) != 0 && !e)
            e = -errno;
        obs.sched_file = NULL;
        if (!e && rename(sched_tmp, sched_path) != 0)
            e = -errno;
        if (e) {
            fprintf(stderr, "tempfail maillog: --scheduler %s: %s\n", sched_path, strerror(-e));
            status = TEMPFAIL_IO;
        } else if (!harness_scheduler_rows(obs.sched)) {
            fprintf(stderr, "tempfail maillog: --scheduler %s: no feedback line in the log (set "
                            "destination_concurrency_feedback_debug = yes in main.cf)\n", sched_path);
        }
    }
out:
    harness_scheduler_free(obs.sched);
    results_scheduler_free(obs.sched_out);
    if (obs.sched_file) {
        fclose(obs.sched_file);
        unlink(sched_tmp);
    }
    harness_maillog_scenario_free(obs.sc);
    harness_maillog_stats_free(st);
    return status;
}
