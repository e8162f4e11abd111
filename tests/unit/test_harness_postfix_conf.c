/*
 * test_harness_postfix_conf - the Postfix configuration a scenario generates (exact lines, for
 * defaults, a dedicated transport, a relay nexthop and several MX hosts), the import of real-looking
 * files with their warnings, the round trip (generated files imported give back the same mta_config,
 * compared field by field), and a table of broken inputs with their exact messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness_postfix_conf.h"
#include "harness/harness_postfix_import.h"

#define HEAD                                                                                                     \
    "name: t\n"                                                                                                  \
    "duration: 1s\n"                                                                                             \
    "traffic:\n"                                                                                                 \
    "  classes:\n"                                                                                               \
    "    - { name: c, arrivals: { process: poisson, rate: 1/s }, size: 1KB,\n"                                   \
    "        domains: { orange.test: 0.4, gmail.test: 0.4, other.test: 0.2 } }\n"                                \
    "receivers:\n"                                                                                               \
    "  - { name: orange, domains: [orange.test], mx: [ { host: mx1.orange.test, preference: 10 },\n"             \
    "                                                 { host: mx2.orange.test, preference: 10 } ] }\n"           \
    "  - { name: gmail, domains: [gmail.test] }\n"

static scenario *load(const char *text)
{
    scenario_error e;
    scenario *s = scenario_load_text(text, strlen(text), "test", NULL, 0, &e);
    if (!s)
        fail_msg("load: %s", e.message);
    return s;
}

/* orange: 127.0.0.2 and .3; gmail: .4; the default receiver: .5 */
static const char *const orange_addrs[] = {"127.0.0.2:2525", "127.0.0.3:2525", NULL};
static const char *const gmail_addrs[] = {"127.0.0.4:2525", NULL};
static const char *const default_addrs[] = {"127.0.0.5:2525", NULL};
static const char *const *const addrs[] = {orange_addrs, gmail_addrs, default_addrs};

static const harness_postfix_instance instance = {.config_directory = "/pf",
                                                  .queue_directory = "/pf/queue",
                                                  .data_directory = "/pf/data",
                                                  .maillog_file = "/pf/maillog",
                                                  .smtpd_listen = "127.0.0.1:10025",
                                                  .receiver_addrs = addrs};

static void generate(const scenario *s, harness_postfix_files *f)
{
    char err[512] = "";
    assert_int_equal(s->nreceivers, 3);
    if (harness_postfix_conf_generate(s, &instance, f, err, sizeof(err)) != 0)
        fail_msg("generate: %s", err);
}

/* The part of main.cf after "#tempfail: scenario". */
static const char *scenario_block(const harness_postfix_files *f)
{
    const char *p = strstr(f->main_cf, "#tempfail: scenario\n");
    assert_non_null(p);
    return p + strlen("#tempfail: scenario\n");
}

static const char *transports_block(const harness_postfix_files *f)
{
    const char *p = strstr(f->master_cf, "# The scenario's transports (mta.transports).\n");
    assert_non_null(p);
    return p + strlen("# The scenario's transports (mta.transports).\n");
}

static const char *map_entries(const harness_postfix_files *f)
{
    const char *p = strstr(f->transport, "#tempfail: generated\n");
    assert_non_null(p);
    return p + strlen("#tempfail: generated\n");
}

/* Imports f, loads the YAML inside a scenario and compares its mta: with s's. */
static void round_trip(const scenario *s, const harness_postfix_files *f)
{
    harness_postfix_input mc = {f->main_cf, strlen(f->main_cf), "main.cf"};
    harness_postfix_input ms = {f->master_cf, strlen(f->master_cf), "master.cf"};
    harness_postfix_input tm = {f->transport, strlen(f->transport), "transport"};
    char *yaml = NULL, *warn = NULL, err[512] = "";
    if (harness_postfix_import(&mc, &ms, &tm, &yaml, &warn, err, sizeof(err)) != 0)
        fail_msg("import: %s", err);
    /* The generated files say which lines are the instance's: nothing to warn about. */
    assert_string_equal(warn, "");
    size_t n = strlen(HEAD) + strlen(yaml) + 1;
    char *doc = malloc(n);
    assert_non_null(doc);
    snprintf(doc, n, "%s%s", HEAD, yaml);
    scenario *back = load(doc);
    char diff[512] = "";
    if (!harness_postfix_conf_same(&s->mta, &back->mta, diff, sizeof(diff)))
        fail_msg("round trip: %s\n--- yaml:\n%s", diff, yaml);
    scenario_free(back);
    free(doc);
    free(yaml);
    free(warn);
}

/* Generates the scenario HEAD + mta, checks each block that is given (NULL: not checked), and the
 * round trip. */
static void expect_generated(const char *mta, const char *main_block, const char *master_block, const char *map)
{
    size_t n = strlen(HEAD) + strlen(mta) + 1;
    char *doc = malloc(n);
    assert_non_null(doc);
    snprintf(doc, n, "%s%s", HEAD, mta);
    scenario *s = load(doc);
    harness_postfix_files f;
    generate(s, &f);
    if (main_block)
        assert_string_equal(scenario_block(&f), main_block);
    if (master_block)
        assert_string_equal(transports_block(&f), master_block);
    if (map)
        assert_string_equal(map_entries(&f), map);
    round_trip(s, &f);
    harness_postfix_files_clear(&f);
    scenario_free(s);
    free(doc);
}

static void test_defaults(void **state)
{
    (void)state;
    scenario *s = load(HEAD);
    harness_postfix_files f;
    generate(s, &f);
    assert_non_null(strstr(f.main_cf, "queue_directory = /pf/queue\n"
                                      "data_directory = /pf/data\n"
                                      "maillog_file = /pf/maillog\n"
                                      "maillog_file_prefixes = /pf\n"));
    assert_non_null(strstr(f.main_cf, "mydestination =\n"));
    assert_non_null(strstr(f.main_cf, "smtp_dns_support_level = disabled\ntransport_maps = texthash:/pf/transport\n"));
    /* Postfix's defaults are the model's: only TLS, whose defaults differ, is written. */
    assert_string_equal(scenario_block(&f), "smtp_tls_security_level = may\n");
    assert_string_equal(transports_block(&f), "smtp       unix  -       -       n       -       -       smtp\n");
    assert_non_null(strstr(f.master_cf, "127.0.0.1:10025 inet  n       -       n       -       -       smtpd\n"));
    assert_string_equal(map_entries(&f), "#tempfail: unlisted (the default transport's other domains, for the replay)\n"
                                         "orange.test\tsmtp:[127.0.0.2]:2525,[127.0.0.3]:2525\n"
                                         "gmail.test\tsmtp:[127.0.0.4]:2525\n"
                                         "other.test\tsmtp:[127.0.0.5]:2525\n"
                                         "*\tsmtp:[127.0.0.5]:2525\n");
    round_trip(s, &f);
    harness_postfix_files_clear(&f);
    scenario_free(s);
}

static void test_dedicated_transport(void **state)
{
    (void)state;
    expect_generated("mta:\n"
                     "  postfix:\n"
                     "    queue_run_delay: 1s\n"
                     "    minimal_backoff_time: 2s\n"
                     "    maximal_backoff_time: 10s\n"
                     "    maximal_queue_lifetime: 2\n"
                     "    connection_cache_ttl_limit: 10s\n"
                     "    default_destination_concurrency_limit: 10\n"
                     "    default_destination_concurrency_negative_feedback: 1/8\n"
                     "    slowmx_destination_concurrency_failed_cohort_limit: 10\n"
                     "  transports:\n"
                     "    slowmx:\n"
                     "      domains: [orange.test]\n"
                     "      maxproc: 4\n"
                     "      destination_concurrency_limit: 2\n"
                     "      smtp_connection_cache_on_demand: no\n"
                     "      smtp_connection_cache_destinations: [orange.test, mx.orange.test]\n"
                     "      smtp_connection_cache_time_limit: 10s\n"
                     "      smtp_tls_security_level: none\n",
                     "queue_run_delay = 1s\n"
                     "minimal_backoff_time = 2s\n"
                     "maximal_backoff_time = 10s\n"
                     "maximal_queue_lifetime = 2d\n"
                     "bounce_queue_lifetime = 2d\n"
                     "connection_cache_ttl_limit = 10s\n"
                     "default_destination_concurrency_limit = 10\n"
                     "default_destination_concurrency_negative_feedback = 0.125\n"
                     "smtp_tls_security_level = may\n"
                     "slowmx_initial_destination_concurrency = 2\n"
                     "slowmx_destination_concurrency_limit = 2\n"
                     "slowmx_destination_concurrency_failed_cohort_limit = 10\n",
                     "smtp       unix  -       -       n       -       -       smtp\n"
                     "slowmx     unix  -       -       n       -       4       smtp\n"
                     "  -o smtp_connection_cache_on_demand=no\n"
                     "  -o smtp_connection_cache_destinations=orange.test,mx.orange.test\n"
                     "  -o smtp_connection_cache_time_limit=10s\n"
                     "  -o smtp_tls_security_level=none\n",
                     "orange.test\tslowmx:[127.0.0.2]:2525,[127.0.0.3]:2525\n"
                     "#tempfail: unlisted (the default transport's other domains, for the replay)\n"
                     "gmail.test\tsmtp:[127.0.0.4]:2525\n"
                     "other.test\tsmtp:[127.0.0.5]:2525\n"
                     "*\tsmtp:[127.0.0.5]:2525\n");
}

/* For a replay, a cache destination that is a receiver's domain becomes what smtp(8) matches: the
 * bare first address of that receiver's nexthop list; anything else stays. */
static void test_cache_destinations_as_nexthops(void **state)
{
    (void)state;
    scenario *s = load(HEAD "mta:\n"
                                 "  transports:\n"
                                 "    slowmx:\n"
                                 "      domains: [orange.test]\n"
                                 "      smtp_connection_cache_on_demand: no\n"
                                 "      smtp_connection_cache_destinations: [orange.test, mx.orange.test]\n"
                                 "  postfix:\n"
                                 "    smtp_connection_cache_destinations: [gmail.test]\n");
    harness_postfix_instance in = instance;
    in.nexthop_cache_destinations = true;
    harness_postfix_files f = {0};
    char err[512] = "";
    if (harness_postfix_conf_generate(s, &in, &f, err, sizeof(err)) != 0)
        fail_msg("generate: %s", err);
    if (!strstr(f.master_cf, "  -o smtp_connection_cache_destinations=127.0.0.2,mx.orange.test\n"))
        fail_msg("master.cf:\n%s", f.master_cf);
    if (!strstr(f.main_cf, "smtp_connection_cache_destinations = 127.0.0.4\n"))
        fail_msg("main.cf:\n%s", f.main_cf);
    harness_postfix_files_clear(&f);
    scenario_free(s);
}

/* A transport with a nexthop is one queue: every domain of it goes to the first one's receiver. */
static void test_relay_nexthop(void **state)
{
    (void)state;
    expect_generated("mta:\n"
                     "  transports:\n"
                     "    relay1:\n"
                     "      domains: [gmail.test, orange.test]\n"
                     "      nexthop: \"[relay.example]:587\"\n"
                     "      smtp_mx_session_limit: 1\n",
                     NULL,
                     "smtp       unix  -       -       n       -       -       smtp\n"
                     "relay1     unix  -       -       n       -       -       smtp\n"
                     "  -o smtp_mx_session_limit=1\n",
                     "#tempfail: nexthop relay1 [relay.example]:587\n"
                     "gmail.test\trelay1:[127.0.0.4]:2525\n"
                     "orange.test\trelay1:[127.0.0.4]:2525\n"
                     "#tempfail: unlisted (the default transport's other domains, for the replay)\n"
                     "other.test\tsmtp:[127.0.0.5]:2525\n"
                     "*\tsmtp:[127.0.0.5]:2525\n");
}

/* The default transport's nexthop (all mail through one relay), and a default process limit. */
static void test_smtp_nexthop(void **state)
{
    (void)state;
    /* A rate delay makes Postfix run one delivery at a time: the limit it runs with is written. */
    expect_generated("mta:\n"
                     "  postfix:\n"
                     "    default_process_limit: 20\n"
                     "    default_destination_rate_delay: 1s\n"
                     "  transports:\n"
                     "    smtp: { nexthop: \"[relay.example]\", maxproc: 7 }\n"
                     "    bulk: { domains: [other.test] }\n",
                     "initial_destination_concurrency = 1\n"
                     "default_destination_concurrency_limit = 1\n"
                     "default_destination_rate_delay = 1s\n"
                     "smtp_tls_security_level = may\n",
                     "smtp       unix  -       -       n       -       7       smtp\n"
                     "bulk       unix  -       -       n       -       20      smtp\n",
                     "#tempfail: nexthop smtp [relay.example]\n"
                     "other.test\tbulk:[127.0.0.5]:2525\n"
                     "#tempfail: unlisted (the default transport's other domains, for the replay)\n"
                     "orange.test\tsmtp:[127.0.0.2]:2525,[127.0.0.3]:2525\n"
                     "gmail.test\tsmtp:[127.0.0.2]:2525,[127.0.0.3]:2525\n"
                     "*\tsmtp:[127.0.0.2]:2525,[127.0.0.3]:2525\n");
}

/* What Postfix cannot say is an error naming the key. */
/* The instance's smtpd takes a whole message of the scenario in one transaction: its
 * smtpd_recipient_limit is raised past Postfix's 1000 when a class can send more, and only then;
 * import skips it with the rest of the instance's lines. */
static void test_smtpd_recipient_limit(void **state)
{
    (void)state;
    static const struct {
        const char *recipients;
        const char *want; /* the line, or NULL: none */
    } cases[] = {
        {"1", NULL},
        {"1000", NULL},
        {"1001", "smtpd_recipient_limit = 1001\n"},
        {"5000", "smtpd_recipient_limit = 5000\n"},
        {"{ dist: uniform, min: 1, max: 3000 }", "smtpd_recipient_limit = 3000\n"},
        {"{ dist: lognormal, median: 3, p99: 50 }", "smtpd_recipient_limit = 65535\n"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char doc[2048];
        snprintf(doc, sizeof(doc),
                 "name: t\ntraffic:\n  classes:\n"
                 "    - { name: c, arrivals: { process: poisson, rate: 1/s }, domains: { orange.test: 1 } }\n"
                 "    - { name: d, arrivals: { process: poisson, rate: 1/s }, recipients: %s,\n"
                 "        domains: { gmail.test: 1, other.test: 1 } }\n"
                 "receivers:\n  - { name: orange, domains: [orange.test] }\n  - { name: gmail, domains: [gmail.test] }\n",
                 cases[k].recipients);
        scenario *s = load(doc);
        harness_postfix_files f;
        generate(s, &f);
        const char *scen = scenario_block(&f);
        const char *at = strstr(f.main_cf, "smtpd_recipient_limit");
        if (cases[k].want) {
            const char *line = strstr(f.main_cf, cases[k].want);
            if (!line || line > scen)
                fail_msg("case %zu: no '%s' in the instance's lines:\n%s", k, cases[k].want, f.main_cf);
        } else if (at) {
            fail_msg("case %zu: smtpd_recipient_limit written:\n%s", k, f.main_cf);
        }
        harness_postfix_input mc = {f.main_cf, strlen(f.main_cf), "main.cf"};
        harness_postfix_input ms = {f.master_cf, strlen(f.master_cf), "master.cf"};
        harness_postfix_input tm = {f.transport, strlen(f.transport), "transport"};
        char *yaml = NULL, *warn = NULL, err[512] = "";
        if (harness_postfix_import(&mc, &ms, &tm, &yaml, &warn, err, sizeof(err)) != 0)
            fail_msg("case %zu: import: %s", k, err);
        assert_string_equal(warn, "");
        assert_null(strstr(yaml, "smtpd_recipient_limit"));
        free(yaml);
        free(warn);
        harness_postfix_files_clear(&f);
        scenario_free(s);
    }
}

static void test_generate_errors(void **state)
{
    (void)state;
    static const struct {
        const char *mta;
        const char *err;
    } cases[] = {
        {"mta:\n  postfix:\n    smtp_connect_timeout: 2.5s\n",
         "mta.postfix.smtp_connect_timeout: 2.5s: Postfix counts this parameter in whole seconds"},
        {"mta:\n  postfix:\n    default_destination_concurrency_failed_cohort_limit: 1.5\n",
         "mta.postfix.default_destination_concurrency_failed_cohort_limit: 1.5: Postfix takes a whole number here"},
        {"mta:\n  transports:\n    fast: { domains: [gmail.test], destination_rate_delay: 500ms }\n",
         "mta.transports.fast.destination_rate_delay: 0.5s: Postfix counts this parameter in whole seconds"},
        {"mta:\n  transports:\n    qmgr: { domains: [gmail.test] }\n",
         "mta.transports.qmgr: a transport cannot take the name of Postfix's own 'qmgr' service"},
        {"mta:\n  kind: apppool\n", "mta.kind: apppool: an application pool is not a Postfix configuration"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[4096];
        snprintf(doc, sizeof(doc), "%s%s", HEAD, cases[i].mta);
        scenario *s = load(doc);
        harness_postfix_files f;
        char err[512] = "";
        assert_int_equal(harness_postfix_conf_generate(s, &instance, &f, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, cases[i].err);
        assert_null(f.main_cf);
        scenario_free(s);
    }
    /* A named receiver without an address cannot be routed. */
    scenario *s = load(HEAD);
    static const char *const *const few[] = {orange_addrs, NULL, default_addrs};
    harness_postfix_instance in = instance;
    in.receiver_addrs = few;
    harness_postfix_files f;
    char err[512] = "";
    assert_int_equal(harness_postfix_conf_generate(s, &in, &f, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "receiver 'gmail' (domain gmail.test): no server address was given for it");
    scenario_free(s);
}

/* Imports the three texts (master_cf or map NULL: not given) and checks the YAML and warnings. */
static void expect_import(const char *main_name, const char *main_cf, const char *master_name, const char *master_cf,
                          const char *map, const char *yaml_want, const char *warn_want)
{
    harness_postfix_input mc = {main_cf, strlen(main_cf), main_name};
    harness_postfix_input ms = {master_cf, master_cf ? strlen(master_cf) : 0, master_name};
    harness_postfix_input tm = {map, map ? strlen(map) : 0, "transport"};
    char *yaml = NULL, *warn = NULL, err[512] = "";
    if (harness_postfix_import(&mc, master_cf ? &ms : NULL, map ? &tm : NULL, &yaml, &warn, err, sizeof(err)) != 0)
        fail_msg("import: %s", err);
    if (yaml_want[0] == '~')
        assert_non_null(strstr(yaml, yaml_want + 1));
    else
        assert_string_equal(yaml, yaml_want);
    assert_string_equal(warn, warn_want);
    free(yaml);
    free(warn);
}

/* An operator's files: what is imported, and a warning for everything that is not. */
static void test_import_operator_files(void **state)
{
    (void)state;
    static const char main_cf[] = "# main.cf\n"
                                  "myhostname = mx.example.com\n"
                                  "myorigin = $myhostname\n"
                                  "\n"
                                  "default_destination_concurrency_limit =\n"
                                  "    10\n"
                                  "  # a comment inside does not end the line\n"
                                  "smtp_connection_cache_destinations = { a.example, b.example }\n"
                                  "relayhost = [smarthost.example]:587\n"
                                  "queue_run_delay = 60s\n"
                                  "queue_run_delay = 30s\n"
                                  "slowmx_destination_concurrency_limit = 2\n"
                                  "relay_destination_concurrency_limit = 5\n"
                                  "frobnicate = yes\n";
    static const char master_cf[] = "smtp      inet  n       -       y       -       -       smtpd\n"
                                    "smtp      unix  -       -       y       -       -       smtp\n"
                                    "relay     unix  -       -       y       -       -       smtp\n"
                                    "        -o syslog_name=postfix/$service_name\n"
                                    "slowmx    unix  -       -       n       -       4       smtp\n"
                                    "  -o smtp_connection_cache_on_demand=no\n"
                                    "  -o { smtp_connect_timeout = 10s }\n"
                                    "  -o slowmx_destination_concurrency_limit=3 -v\n"
                                    "local     unix  -       n       n       -       -       local\n";
    static const char map[] = "orange.test   slowmx:[mx.orange.example]\n"
                              "wanadoo.test  slowmx:[mx.orange.example]\n"
                              ".orange.test  slowmx:\n"
                              "*             smtp:\n"
                              "local.test    local:\n";
    expect_import("main.cf", main_cf, "master.cf", master_cf, map,
                  "mta:\n"
                  "  postfix:\n"
                  "    default_destination_concurrency_limit: \"10\"   # main.cf:5\n"
                  "    smtp_connection_cache_destinations: \"a.example, b.example\"   # main.cf:8\n"
                  "    queue_run_delay: \"30s\"   # main.cf:11\n"
                  "    slowmx_destination_concurrency_limit: \"2\"   # main.cf:12\n"
                  "    smtp_tls_security_level: \"none\"   # not set in main.cf: Postfix's default\n"
                  "  transports:\n"
                  "    smtp:\n"
                  "      nexthop: \"[smarthost.example]:587\"   # main.cf:9\n"
                  "    slowmx:\n"
                  "      domains: [\"orange.test\", \"wanadoo.test\"]\n"
                  "      nexthop: \"[mx.orange.example]\"   # transport:1\n"
                  "      maxproc: \"4\"   # master.cf:5\n"
                  "      smtp_connection_cache_on_demand: \"no\"   # master.cf:5\n"
                  "      smtp_connect_timeout: \"10s\"   # master.cf:5\n",
                  "master.cf:5: slowmx: argument '-v' not used by the model\n"
                  "transport:3: .orange.test: subdomain entries are not modelled (a transport lists whole "
                  "domains); not imported\n"
                  "transport:4: *: a catch-all entry is not modelled (mta.transports.smtp takes every domain no "
                  "entry names); not imported\n"
                  "transport:5: local.test: the local delivery agent is not modelled; not imported\n"
                  "main.cf:11: queue_run_delay: overrides line 10\n"
                  "main.cf:2: myhostname: not used by the model\n"
                  "main.cf:3: myorigin: not used by the model\n"
                  "main.cf:13: relay_destination_concurrency_limit: transport 'relay' is not one of the "
                  "imported transports; not imported\n"
                  "main.cf:14: frobnicate: unknown to the model; not imported\n"
                  "master.cf:3: relay: a stock service no transport map entry uses; not imported\n"
                  "master.cf:5: slowmx: -o slowmx_destination_concurrency_limit: qmgr reads this parameter "
                  "from main.cf only, it has no effect in master.cf; not imported\n");
}

/* postconf -M writes a braced -o as "{name={ a, b }}"; a map without master.cf declares transports. */
static void test_import_postconf_forms(void **state)
{
    (void)state;
    static const char main_cf[] = "queue_run_delay = 1s\n";
    static const char master_cf[] = "fast       unix  -       -       n       -       -       smtp -o "
                                    "{smtp_connection_cache_destinations={ a.test, b.test }} -o smtp_helo_timeout=5s\n";
    static const char map[] = "a.test fast:\nb.test :\n";
    expect_import("n", main_cf, "M", master_cf, map, "mta:\n"
                  "  postfix:\n"
                  "    queue_run_delay: \"1s\"   # n:1\n"
                  "    smtp_tls_security_level: \"none\"   # not set in n: Postfix's default\n"
                  "  transports:\n"
                  "    smtp:\n"
                  "      domains: [\"b.test\"]\n"
                  "    fast:\n"
                  "      domains: [\"a.test\"]\n"
                  "      smtp_connection_cache_destinations: \"a.test, b.test\"   # M:1\n"
                  "      smtp_helo_timeout: \"5s\"   # M:1\n",
                  "");
    /* Without master.cf, the map's transports are declared. */
    expect_import("n", main_cf, NULL, NULL, map, "~    fast:\n      domains: [\"a.test\"]\n", "");
}

static void test_import_errors(void **state)
{
    (void)state;
    static const struct {
        const char *main_cf, *master_cf, *map, *err;
    } cases[] = {
        {"queue_run_delay 1s\n", NULL, NULL, "main.cf:1: expected 'name = value', got 'queue_run_delay 1s'"},
        {"= 1s\n", NULL, NULL, "main.cf:1: expected 'name = value', got '= 1s'"},
        {"  queue_run_delay = 1s\n", NULL, NULL,
         "main.cf:1: a continuation line (it starts with whitespace) with nothing to continue"},
        {"# x\ndefault_destination_concurrency_limit = $foo\n", NULL, NULL,
         "main.cf:2: default_destination_concurrency_limit: parameter references like '$foo' are not supported by "
         "the scenario loader; write the value itself"},
        {"queue_run_delay = 1x\n", NULL, NULL,
         "main.cf:1: queue_run_delay: expected a duration like 300s, 5m, 2h, 5d, got '1x'"},
        {"relayhost =\nsmtp_connection_cache_on_demand = maybe\n", NULL, NULL,
         "main.cf:2: smtp_connection_cache_on_demand: expected yes or no, got 'maybe'"},
        {"", "smtp unix - - n - smtp\n", NULL,
         "master.cf:1: expected 'service type private unpriv chroot wakeup maxproc command [args]', got 'smtp unix - "
         "- n - smtp'"},
        {"", "smtp unix - - n - x smtp\n", NULL, "master.cf:1: smtp: maxproc must be a number or '-', got 'x'"},
        {"", "smtp tcp - - n - - smtp\n", NULL,
         "master.cf:1: smtp: unknown service type 'tcp' (inet, unix, unix-dgram, fifo or pass)"},
        {"", "smtp unix - - n - - smtp\nsmtp unix - - n - - smtp\n", NULL, "master.cf:2: smtp: service defined twice"},
        {"", "x\n  x\nslowmx unix - - n - 0 smtp\n", NULL,
         "master.cf:1: expected 'service type private unpriv chroot wakeup maxproc command [args]', got 'x x'"},
        {"", "slowmx unix - - n - - smtp -o smtp_connect_timeout=$t\n", NULL,
         "master.cf:1: smtp_connect_timeout: parameter references like '$t' are not supported by the scenario "
         "loader; write the value itself"},
        {"", "slowmx unix - - n - - smtp -o {smtp_connect_timeout=1s\n", NULL,
         "master.cf:1: slowmx: '-o {smtp_connect_timeout=1s' has a '{' without its '}'"},
        {"", "slowmx unix - - n - - smtp -o smtp_connect_timeout\n", NULL,
         "master.cf:1: slowmx: expected '-o name=value', got '-o smtp_connect_timeout'"},
        {"", NULL, "orange.test\n", "transport:1: orange.test: expected 'domain transport:nexthop'"},
        {"", "smtp unix - - n - - smtp\n", "orange.test nosuch:\n",
         "transport:1: orange.test: transport 'nosuch' is not an smtp service of master.cf"},
        {"", NULL, "a.test smtp:\nA.test smtp:\n", "transport:2: A.test: listed twice (line 1)"},
        {"", NULL, "bad!domain smtp:\n", "transport:1: 'bad!domain': not a domain"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_postfix_input mc = {cases[i].main_cf, strlen(cases[i].main_cf), "main.cf"};
        harness_postfix_input ms = {cases[i].master_cf, cases[i].master_cf ? strlen(cases[i].master_cf) : 0,
                                    "master.cf"};
        harness_postfix_input tm = {cases[i].map, cases[i].map ? strlen(cases[i].map) : 0, "transport"};
        char *yaml = NULL, *warn = NULL, err[512] = "";
        int rc = harness_postfix_import(&mc, cases[i].master_cf ? &ms : NULL, cases[i].map ? &tm : NULL, &yaml, &warn,
                                        err, sizeof(err));
        if (rc != -EINVAL)
            fail_msg("case %zu: expected an error, got:\n%s", i, yaml ? yaml : "");
        assert_string_equal(err, cases[i].err);
        assert_null(yaml);
    }
}

/*
 * Feedback Postfix 3.7 ignores ("1/sqrt_concurrency", compiled out of qmgr since 2.5): the import
 * keeps the value as written and says, at its main.cf line, what Postfix logs and does (1); the
 * scenario it makes runs with 1. Generation writes only forms Postfix takes as written.
 */
static void test_feedback_postfix_ignores(void **state)
{
    (void)state;
    static const char main_cf[] = "default_destination_concurrency_positive_feedback = 1/sqrt_concurrency\n"
                                  "default_destination_concurrency_negative_feedback = 1/concurrency\n";
    static const char warn_want[] = "main.cf:1: default_destination_concurrency_positive_feedback: ignoring malformed or "
                                    "unreasonable feedback: 1/sqrt_concurrency (Postfix uses 1)\n";
    expect_import("main.cf", main_cf, NULL, NULL, NULL,
                  "~    default_destination_concurrency_positive_feedback: \"1/sqrt_concurrency\"   # main.cf:1\n"
                  "    default_destination_concurrency_negative_feedback: \"1/concurrency\"   # main.cf:2\n",
                  warn_want);

    harness_postfix_input mc = {main_cf, strlen(main_cf), "main.cf"};
    char *yaml = NULL, *warn = NULL, err[512] = "";
    assert_int_equal(harness_postfix_import(&mc, NULL, NULL, &yaml, &warn, err, sizeof(err)), 0);
    size_t n = strlen(HEAD) + strlen(yaml) + 1;
    char *doc = malloc(n);
    assert_non_null(doc);
    snprintf(doc, n, "%s%s", HEAD, yaml);
    scenario *s = load(doc);
    const mta_transport_params *p = &s->mta.transports[0].p;
    assert_true(p->positive_feedback.kind == MTA_FEEDBACK_CONSTANT && p->positive_feedback.value == 1);
    assert_true(p->negative_feedback.kind == MTA_FEEDBACK_CONCURRENCY && p->negative_feedback.value == 1);
    assert_int_equal(s->nwarnings, 1);
    assert_non_null(strstr(s->warnings[0], ": mta.postfix.default_destination_concurrency_positive_feedback: ignoring "
                                           "malformed or unreasonable feedback: 1/sqrt_concurrency (Postfix uses 1)"));

    /* ... and the replay's Postfix is given what it would run with: the default 1, so not a word. */
    harness_postfix_files f;
    generate(s, &f);
    assert_null(strstr(f.main_cf, "sqrt"));
    assert_null(strstr(f.main_cf, "default_destination_concurrency_positive_feedback"));
    assert_non_null(strstr(f.main_cf, "\ndefault_destination_concurrency_negative_feedback = 1/concurrency\n"));
    harness_postfix_files_clear(&f);

    /* A feedback value out of Postfix's range can only come from a broken caller: refused, never written. */
    s->mta.transports[0].p.positive_feedback.value = 2;
    assert_int_equal(harness_postfix_conf_generate(s, &instance, &f, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "mta.postfix.default_destination_concurrency_positive_feedback: 2: Postfix would ignore "
                             "this feedback (it takes 0 to 1)");
    assert_null(f.main_cf);
    scenario_free(s);
    free(doc);
    free(yaml);
    free(warn);

    /* Accepted forms are written in the one form Postfix reads back the same, and round-trip. */
    expect_generated("mta:\n  postfix:\n    default_destination_concurrency_positive_feedback: 0.5/2\n"
                     "    default_destination_concurrency_negative_feedback: 0.5/Concurrency\n",
                     NULL, NULL, NULL);
    s = load(HEAD "mta:\n  postfix:\n    default_destination_concurrency_positive_feedback: 0.5/2\n"
                  "    default_destination_concurrency_negative_feedback: 0.5/Concurrency\n");
    generate(s, &f);
    assert_non_null(strstr(f.main_cf, "\ndefault_destination_concurrency_positive_feedback = 0.25\n"));
    assert_non_null(strstr(f.main_cf, "\ndefault_destination_concurrency_negative_feedback = 0.5/concurrency\n"));
    harness_postfix_files_clear(&f);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_dedicated_transport),
        cmocka_unit_test(test_cache_destinations_as_nexthops),
        cmocka_unit_test(test_relay_nexthop),
        cmocka_unit_test(test_smtp_nexthop),
        cmocka_unit_test(test_smtpd_recipient_limit),
        cmocka_unit_test(test_generate_errors),
        cmocka_unit_test(test_import_operator_files),
        cmocka_unit_test(test_import_postconf_forms),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_feedback_postfix_ignores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
