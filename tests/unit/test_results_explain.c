/*
 * test_results_explain - the rules of tempfail explain over small hand-made runs: each rule fires
 * on the evidence docs/explain.md gives it and not just below its threshold (table-driven: a
 * scenario, a summary, messages.csv rows, and the rule:incident pairs expected in order); a replay
 * (no cap_refusals, no window) is read by its reuse; refusals no rule explains are named; a run
 * whose scenario cannot be loaded is noted; an unreadable messages.csv is an error.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "results/results_explain.h"

/* A receiver x (x.test) with a cap of 3 that counts idle sessions; one class "a". RCV and MTA are
 * spliced in: the receiver's policy and the mta: section. */
#define SCENARIO(MTA, POLICY)                                                                                          \
    "name: t\nduration: 10m\n"                                                                                         \
    "traffic:\n  classes:\n"                                                                                           \
    "    - { name: a, arrivals: { process: poisson, rate: 1/s }, domains: { x.test: 1 } }\n"                           \
    "    - { name: b, arrivals: { process: periodic, count: 100, every: 5m }, domains: { x.test: 1 } }\n" MTA          \
    "receivers:\n  - name: x\n    domains: [x.test]\n    policy: " POLICY "\n"
#define CAP3 "[ { rule: concurrency_per_ip, limit: 3, count_idle: true } ]"
#define NOMTA ""

/* summary.json with ' for " (none of these texts has an apostrophe) */
#define RCV(BODY) "{'receivers': {'x': {" BODY "}}"
#define DEST(BODY) ", 'destinations': {'smtp:x.test': {'receiver': 'x', " BODY "}}"

typedef struct explain_case {
    const char *what;
    const char *scenario;  /* NULL: scenario.yaml does not load */
    const char *summary;   /* without its closing brace */
    const char *messages;  /* messages.csv rows after the header, or NULL for none */
    const char *want;      /* "rule:incident rule:incident", in order; "" none */
    const char *text;      /* in the first finding's text, or in the note when want is "" */
    const char *scheduler; /* scheduler.csv rows after the header (a replay's), or NULL for no file */
} explain_case;

/* head-of-line: 5 of a, slow, behind 100 of b arriving at 0 and delivered over 10 minutes */
static char hol_rows[16384];

static const explain_case cases[] = {
    {"idle-cap: idle sessions open at 10% of the refusals", SCENARIO(NOMTA, CAP3),
     RCV("'refused_by_rule': {'concurrency_per_ip': 100}, 'cap_refusals': {'with_idle': 10, 'open_max': 4, "
         "'idle_max': 1}"),
     NULL, "idle-cap:strict-cap-idle", "10 of them (10%) while idle cached sessions were open, up to 4", NULL},
    {"idle-cap: at 4% they are not the cause", SCENARIO(NOMTA, CAP3),
     RCV("'refused_by_rule': {'concurrency_per_ip': 100}, 'cap_refusals': {'with_idle': 4, 'open_max': 4, "
         "'idle_max': 1}"),
     NULL, "", "No rule matched these refusals: x refused 100 by concurrency_per_ip", NULL},
    {"idle-cap: a cap that does not count idle sessions",
     SCENARIO(NOMTA, "[ { rule: concurrency_per_ip, limit: 3, count_idle: false } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 100}, 'cap_refusals': {'with_idle': 50, 'open_max': 4, "
         "'idle_max': 1}"),
     NULL, "", "No rule matched", NULL},
    {"idle-cap, a replay: 26 accepted sessions carried 120 messages", SCENARIO(NOMTA, CAP3),
     RCV("'refused_by_rule': {'concurrency_per_ip': 58}, 'connections': 84, 'refused': 58, 'messages': 120"), NULL,
     "idle-cap:strict-cap-idle", "Postfix cached its sessions (26 accepted sessions carried 120 messages)", NULL},
    {"idle-cap, a replay without reuse (TLS): one message a session", SCENARIO(NOMTA, CAP3),
     RCV("'refused_by_rule': {'concurrency_per_ip': 58}, 'connections': 178, 'refused': 58, 'messages': 120"), NULL, "",
     "x refused 58 by concurrency_per_ip", NULL},
    {"window-over-cap: a window of 9 against a cap of 3", SCENARIO(NOMTA, "[ { rule: concurrency_per_ip, limit: 3 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 40}") DEST("'window': {'max': 9}"), NULL,
     "window-over-cap:login-codes",
     "Postfix's concurrency window for smtp:x.test reached 9 deliveries at once (initial concurrency 5, limit 20)",
     NULL},
    {"window-over-cap, a replay: qmgr's window of 4 to the receiver's address",
     SCENARIO(NOMTA,
              "[ { rule: concurrency_per_ip, limit: 3 } ]\n    mx: [ { host: mx.x.test, address: 127.64.0.1 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 40}") DEST("'window': null"), NULL, "window-over-cap:login-codes",
     "Postfix's concurrency window for smtp:x.test reached 4 deliveries at once",
     "0,mta1,[127.64.0.1]:40473,failure,,3,,,0,1,0.2\n2,mta1,[127.64.0.1]:40473,success,3,4,,,0,0,0\n"
     "3,mta1,[127.64.0.9]:40473,success,8,9,,,0,0,0\n"},
    {"window-over-cap, a replay: a window of 3, or of 9 to another address",
     SCENARIO(NOMTA,
              "[ { rule: concurrency_per_ip, limit: 3 } ]\n    mx: [ { host: mx.x.test, address: 127.64.0.1 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 40}") DEST("'window': null"), NULL, "", "No rule matched",
     "0,mta1,[127.64.0.1]:40473,failure,,3,,,0,1,0.2\n3,mta1,[127.64.0.9]:40473,success,8,9,,,0,0,0\n"},
    {"window-over-cap: a window at the cap", SCENARIO(NOMTA, "[ { rule: concurrency_per_ip, limit: 3 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 40}") DEST("'window': {'max': 3}"), NULL, "", "No rule matched",
     NULL},
    {"over-cap: 5 sessions, Postfix at 3",
     SCENARIO("mta:\n  postfix: { default_destination_concurrency_limit: 3 }\n", CAP3),
     RCV("'sessions': {'peak': 5, 'peak_idle': 2}") DEST("'window': {'max': 3}"), NULL, "over-cap:upgrade-hidden-limit",
     "x saw up to 5 sessions from one address against its cap of 3", NULL},
    {"over-cap: Postfix allowed 20, the window rule's business", SCENARIO(NOMTA, CAP3),
     RCV("'sessions': {'peak': 5, 'peak_idle': 2}") DEST("'window': {'max': 3}"), NULL, "", "Nothing", NULL},
    {"shared-ip: two hosts, one address",
     SCENARIO("mta:\n  hosts: 2\n  source_ips: [192.0.2.7]\n", "[ { rule: concurrency_per_ip, limit: 4 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 7}, 'sessions': {'peak': 6}"), NULL, "shared-ip:nat-shared-ip",
     "2 MTA hosts leave from 1 address (192.0.2.7)", NULL},
    {"shared-ip: two hosts, two addresses",
     SCENARIO("mta:\n  hosts: 2\n  source_ips: [192.0.2.7, 192.0.2.8]\n", "[ { rule: concurrency_per_ip, limit: 4 } ]"),
     RCV("'refused_by_rule': {'concurrency_per_ip': 7}, 'sessions': {'peak': 6}"), NULL, "", "No rule matched", NULL},
    {"penalty-retry: boxed, and retries every 30 s",
     SCENARIO("mta:\n  postfix: { queue_run_delay: 30s, minimal_backoff_time: 30s }\n",
              "[ { rule: penalty_box, violations: 20, within: 10m, duration: 5m } ]"),
     RCV("'penalty_boxes': 3, 'refused_by_rule': {'penalty_box': 90}"), NULL, "penalty-retry:retry-tuning",
     "x blocked this host 3 times (20 refusals within 10m put it in the box for 5m; 90 connections", NULL},
    {"penalty-retry: boxed, with Postfix's 300 s",
     SCENARIO(NOMTA, "[ { rule: penalty_box, violations: 20, within: 10m, duration: 5m } ]"),
     RCV("'penalty_boxes': 3, 'refused_by_rule': {'penalty_box': 90}"), NULL, "", "x refused 90 by penalty_box", NULL},
    {"greylist-wait: a 5 min delay, scans every 5 min", SCENARIO(NOMTA, "[ { rule: greylist, delay: 5m } ]"),
     RCV("'refused_by_rule': {'greylist': 8}"), NULL, "greylist-wait:greylisting", "x greylisted 8 deliveries", NULL},
    {"greylist-wait: scans every minute",
     SCENARIO("mta:\n  postfix: { queue_run_delay: 60s }\n", "[ { rule: greylist, delay: 5m } ]"),
     RCV("'refused_by_rule': {'greylist': 8}"), NULL, "", "x refused 8 by greylist", NULL},
    {"dead-destination: twice, 10 min", SCENARIO(NOMTA, "[]"),
     RCV("'replies': {'421': 0}") DEST("'dead_episodes': 2, 'dead_time': 600"), NULL,
     "dead-destination:strict-cap-idle", "smtp:x.test was declared dead 2 times, 10m in all", NULL},
    {"dead-destination: a replay, no dead time", SCENARIO(NOMTA, "[]"),
     RCV("'replies': {'421': 0}") DEST("'dead_episodes': 1, 'dead_time': null"), NULL,
     "dead-destination:strict-cap-idle", "smtp:x.test was declared dead 1 time: a cohort", NULL},
    {"resend-loop: 2% asked again", SCENARIO(NOMTA, "[]"),
     RCV("'replies': {'421': 0}") ", 'classes': {'a': {'resent': 20, 'arrived': 1020}}", NULL,
     "resend-loop:login-codes", "20 times a user of a waited too long and asked for another message, adding 2.0%",
     NULL},
    {"resend-loop: 0.5% is noise", SCENARIO(NOMTA, "[]"),
     RCV("'replies': {'421': 0}") ", 'classes': {'a': {'resent': 5, 'arrived': 1005}}", NULL, "", "Nothing", NULL},
    {"slow-dns: a second a lookup, nothing cached",
     SCENARIO("mta:\n  dns: { mx_lookup: { dist: exponential, mean: 1s }, ttl: 0 }\n", "[]"),
     RCV("'replies': {'421': 0}") ", 'classes': {'a': {'latency': {'p95': 20}}}", NULL, "slow-dns:slow-dns",
     "a lookup took 1000 ms on average", NULL},
    {"slow-dns: cached for an hour",
     SCENARIO("mta:\n  dns: { mx_lookup: { dist: exponential, mean: 1s }, ttl: 1h }\n", "[]"),
     RCV("'replies': {'421': 0}") ", 'classes': {'a': {'latency': {'p95': 20}}}", NULL, "", "Nothing", NULL},
    {"disk-stalls: 100 ms fsyncs and a rate limit",
     SCENARIO("mta:\n  disk: { fsync: { dist: exponential, mean: 100ms } }\n",
              "[ { rule: connection_rate_per_ip, limit: 12, window: 10s } ]"),
     RCV("'refused_by_rule': {'connection_rate_per_ip': 30}"), NULL, "disk-stalls:disk-bursts",
     "The queue disk's fsync took 100 ms on average", NULL},
    {"head-of-line: a behind 100 of b (periodic)", SCENARIO(NOMTA, "[]"), RCV("'replies': {'421': 0}"), hol_rows,
     "head-of-line:batch-job", "a mail waited behind up to 100 b messages in the one queue they shared, smtp:x.test",
     NULL},
    {"no scenario.yaml: the configuration's rules skipped", NULL, RCV("'refused_by_rule': {'concurrency_per_ip': 9}"),
     NULL, "", "the rules that read the configuration were skipped", NULL},
};

static char dir[] = "/tmp/test_results_explain.XXXXXX";

static void write_file(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *dq(const char *s) /* ' to " */
{
    char *t = strdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

static void test_rules(void **state) {
    (void)state;
    /* b: 100 messages at 0, delivered at 6 s each after the other; a: 5 arriving at 1 s, done at 600 s,
     * and 95 more, fast, later (a's p95 is one of the slow ones, its median fast) */
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(hol_rows + len, sizeof(hol_rows) - len, "b,x.test,mta1,0,%d\n", 6 * (i + 1));
    for (int i = 0; i < 8; i++)
        len += (size_t)snprintf(hol_rows + len, sizeof(hol_rows) - len, "a,x.test,mta1,1,600\n");
    for (int i = 0; i < 42; i++)
        len += (size_t)snprintf(hol_rows + len, sizeof(hol_rows) - len, "a,x.test,mta1,%d,%d.5\n", 700 + i, 700 + i);
    assert_true(len < sizeof(hol_rows) - 1);

    assert_non_null(mkdtemp(dir));
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const explain_case *k = &cases[c];
        print_message("%s\n", k->what);
        char hdr[20000];
        snprintf(hdr, sizeof(hdr), "class,domain,host,arrival,done\n%s", k->messages ? k->messages : "");
        write_file("messages.csv", hdr);
        char sched[4096];
        snprintf(sched, sizeof(sched),
                 "time,host,destination,cause,old_window,new_window,busy,todo,success,failure,"
                 "fail_cohorts\n%s",
                 k->scheduler ? k->scheduler : "");
        write_file("scheduler.csv", sched);
        if (!k->scheduler) {
            char sp[256];
            snprintf(sp, sizeof(sp), "%s/scheduler.csv", dir);
            unlink(sp);
        }
        char *js = dq(k->summary);
        char full[4096];
        snprintf(full, sizeof(full), "%s}", js);
        free(js);
        json_error_t jerr;
        results_rundir rd = {.summary = json_loads(full, 0, &jerr)};
        if (!rd.summary)
            fail_msg("%s: summary: %s at %d", k->what, jerr.text, jerr.position);
        scenario_error serr;
        scenario *s =
            k->scenario ? scenario_load_text(k->scenario, strlen(k->scenario), "t.yaml", NULL, 0, &serr) : NULL;
        if (k->scenario && !s)
            fail_msg("%s: scenario: %s", k->what, serr.message);
        results_explain *e = calloc(1, sizeof(*e));
        char err[512] = "";
        assert_int_equal(results_explain_run(dir, &rd, s, e, err, sizeof(err)), 0);
        char got[1024] = "";
        size_t gl = 0;
        for (size_t i = 0; i < e->n; i++)
            gl += (size_t)snprintf(got + gl, sizeof(got) - gl, "%s%s:%s", i ? " " : "", e->f[i].rule, e->f[i].incident);
        if (strcmp(got, k->want) != 0)
            fail_msg("%s: findings '%s', want '%s' (%s)", k->what, got, k->want, e->n ? e->f[0].text : e->note);
        const char *where = e->n ? e->f[0].text : e->note;
        if (!k->scenario) /* the command writes that note; the rules say nothing of the configuration */
            where = e->note;
        if (k->text && strcmp(k->text, "Nothing") == 0) {
            if (e->note[0])
                fail_msg("%s: a note where nothing was refused: %s", k->what, e->note);
        } else if (k->text && !strstr(where, k->text))
            fail_msg("%s: '%s' not in '%s'", k->what, k->text, where);
        free(e);
        scenario_free(s);
        json_decref(rd.summary);
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/messages.csv", dir);
    unlink(path);
    rmdir(dir);
}

/* A messages.csv that cannot be read is an error naming the file, not a run without findings. */
static void test_bad_messages(void **state) {
    (void)state;
    char d[] = "/tmp/test_results_explain.XXXXXX";
    assert_non_null(mkdtemp(d));
    char path[256];
    snprintf(path, sizeof(path), "%s/messages.csv", d);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("class,arrival\na,1\n", f); /* no domain, host or done column */
    fclose(f);
    static const char y[] = SCENARIO(NOMTA, CAP3);
    scenario_error serr;
    scenario *s = scenario_load_text(y, strlen(y), "t.yaml", NULL, 0, &serr);
    assert_non_null(s);
    results_rundir rd = {.summary = json_loads("{\"receivers\": {}}", 0, NULL)};
    results_explain *e = calloc(1, sizeof(*e));
    char err[512] = "";
    assert_int_equal(results_explain_run(d, &rd, s, e, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "messages.csv"));
    free(e);
    scenario_free(s);
    json_decref(rd.summary);
    unlink(path);
    rmdir(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rules), cmocka_unit_test(test_bad_messages)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
