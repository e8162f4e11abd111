/*
 * testsmtpd - a real SMTP server that enforces a scenario's receiver policies (docs/testsmtpd.8).
 *
 * This file is the command: options, the scenario, the pieces (store, log, TLS, server, HTTP) put
 * together in the order that keeps failures cheap - everything that reads files or binds happens
 * before privileges are dropped and before the ready file says the server is up - then the loop,
 * with SIGHUP reloading the policies and SIGTERM/SIGINT stopping cleanly.
 *
 * Exit status: 0 after a clean stop, 2 for a bad command line or scenario, 3 for bind and I/O errors.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "scenarios/scenario.h"
#include "testsmtpd/smtpd_http.h"
#include "testsmtpd/smtpd_log.h"
#include "testsmtpd/smtpd_server.h"
#include "testsmtpd/smtpd_session.h"
#include "testsmtpd/smtpd_store.h"
#include "testsmtpd/smtpd_tls.h"

#define EXIT_USAGE 2
#define EXIT_IO 3

static const char usage[] =
    "usage: testsmtpd --scenario FILE [--receiver NAME]... [options]\n"
    "\n"
    "A real SMTP server that enforces the receiver policies of a scenario (or of a file holding only\n"
    "receivers:). Serves every receiver with a listen address unless --receiver names some.\n"
    "\n"
    "  --scenario FILE            scenario or receivers file (required)\n"
    "  --receiver NAME            serve this receiver (repeatable)\n"
    "  --listen NAME=ADDR:PORT    add a listen address for receiver NAME (repeatable; port 0 = any);\n"
    "                             NAME/MXHOST=ADDR:PORT listens for that MX host of the receiver\n"
    "  --only-listen              listen on the --listen addresses only, not the scenario's mx[].listen\n"
    "  --clock-rate K             the policies' clock runs K times faster than real time (a replay at\n"
    "                             --speedup K): their windows and delays shrink by K, the event log's\n"
    "                             \"t\" is scenario time; the server's own timeouts stay real\n"
    "  --http ADDR:PORT           control and metrics endpoint (off by default)\n"
    "  --log FILE                 JSON-lines event log ('-' = standard output)\n"
    "  --maildir DIR              keep accepted messages in a Maildir, fsynced before the 250\n"
    "  --tls-cert FILE --tls-key FILE   STARTTLS certificate (default: self-signed, made at start)\n"
    "  --no-tls                   do not offer STARTTLS\n"
    "  --ready-file FILE          after binding, write the listen addresses (temp file + rename)\n"
    "  --user USER                when started as root, drop to USER after binding (default nobody)\n"
    "  --max-sessions N           open connections at most (default 20000)\n"
    "  --idle-timeout DUR         between transactions (default 300s)\n"
    "  --command-timeout DUR      waiting for a command inside a transaction (default 300s)\n"
    "  --max-line N               bytes per line with CRLF (default 1000)\n"
    "  --max-message SIZE         message size limit (default 10MB)\n"
    "  --max-errors N             protocol errors before 421 and close (default 10)\n"
    "  --allow-remote             allow non-loopback listen addresses\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGHUP reloads the policies, SIGTERM and SIGINT stop. See testsmtpd(8).\n";

typedef struct testsmtpd_listen {
    char *name;      /* receiver */
    const char *mx;  /* MX host it stands for (NULL: the receiver's first) */
    const char *addr;
} testsmtpd_listen;

typedef struct testsmtpd {
    const char *scenario_path;
    const char **receivers;
    size_t nreceivers;
    testsmtpd_listen *extra;  /* --listen */
    size_t nextra;
    const char *http, *log, *maildir, *cert, *key, *ready, *user;
    bool no_tls, allow_remote, only_listen;
    smtpd_server_config cfg;

    scenario *sc;
    struct event_base *base;
    smtpd_server *srv;
    smtpd_http *h;
    int *served;              /* scenario receiver index per server receiver */
} testsmtpd;

static _Noreturn void testsmtpd_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void testsmtpd_die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("testsmtpd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static uint64_t testsmtpd_count(const char *opt, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || !*v || v[0] == '-' || n < min || n > max)
        testsmtpd_die(EXIT_USAGE, "%s: expected a whole number from %llu to %llu, got '%s'", opt,
                      (unsigned long long)min, (unsigned long long)max, v);
    return n;
}

static sim_time_t testsmtpd_duration(const char *opt, const char *v)
{
    sim_time_t t;
    if (scenario_parse_duration(v, &t) < 0 || t <= 0)
        testsmtpd_die(EXIT_USAGE, "%s: expected a duration like 300s or 5m, got '%s'", opt, v);
    return t;
}

static void testsmtpd_options(testsmtpd *t, int argc, char **argv)
{
    enum { O_SCENARIO = 256, O_RECEIVER, O_LISTEN, O_HTTP, O_LOG, O_MAILDIR, O_CERT, O_KEY, O_NOTLS, O_READY,
           O_USER, O_MAXSESS, O_IDLE, O_CMD, O_MAXLINE, O_MAXMSG, O_MAXERR, O_REMOTE, O_HELP, O_VERSION,
           O_ONLY_LISTEN, O_CLOCK_RATE };
    static const struct option opts[] = {
        {"scenario", required_argument, NULL, O_SCENARIO}, {"receiver", required_argument, NULL, O_RECEIVER},
        {"listen", required_argument, NULL, O_LISTEN},     {"http", required_argument, NULL, O_HTTP},
        {"log", required_argument, NULL, O_LOG},           {"maildir", required_argument, NULL, O_MAILDIR},
        {"tls-cert", required_argument, NULL, O_CERT},     {"tls-key", required_argument, NULL, O_KEY},
        {"no-tls", no_argument, NULL, O_NOTLS},            {"ready-file", required_argument, NULL, O_READY},
        {"user", required_argument, NULL, O_USER},         {"max-sessions", required_argument, NULL, O_MAXSESS},
        {"idle-timeout", required_argument, NULL, O_IDLE}, {"command-timeout", required_argument, NULL, O_CMD},
        {"max-line", required_argument, NULL, O_MAXLINE},  {"max-message", required_argument, NULL, O_MAXMSG},
        {"max-errors", required_argument, NULL, O_MAXERR}, {"allow-remote", no_argument, NULL, O_REMOTE},
        {"help", no_argument, NULL, O_HELP},               {"version", no_argument, NULL, O_VERSION},
        {"only-listen", no_argument, NULL, O_ONLY_LISTEN}, {"clock-rate", required_argument, NULL, O_CLOCK_RATE},
        {NULL, 0, NULL, 0}};
    smtpd_server_config_defaults(&t->cfg);
    t->user = "nobody";
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SCENARIO: t->scenario_path = optarg; break;
        case O_RECEIVER: {
            const char **r = realloc(t->receivers, (t->nreceivers + 1) * sizeof(*r));
            if (!r)
                testsmtpd_die(EXIT_IO, "out of memory");
            t->receivers = r;
            t->receivers[t->nreceivers++] = optarg;
            break;
        }
        case O_LISTEN: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                testsmtpd_die(EXIT_USAGE, "--listen: expected NAME=ADDR:PORT like orange=127.0.0.2:2525, got '%s'",
                              optarg);
            testsmtpd_listen *l = realloc(t->extra, (t->nextra + 1) * sizeof(*l));
            if (!l)
                testsmtpd_die(EXIT_IO, "out of memory");
            t->extra = l;
            *eq = 0;
            char *slash = strchr(optarg, '/');
            if (slash) {
                *slash = 0;
                if (slash == optarg || !slash[1])
                    testsmtpd_die(EXIT_USAGE, "--listen: expected NAME/MXHOST=ADDR:PORT, got '%s/%s'", optarg,
                                  slash + 1);
            }
            t->extra[t->nextra++] = (testsmtpd_listen){.name = optarg, .mx = slash ? slash + 1 : NULL, .addr = eq + 1};
            break;
        }
        case O_HTTP: t->http = optarg; break;
        case O_LOG: t->log = optarg; break;
        case O_MAILDIR: t->maildir = optarg; break;
        case O_CERT: t->cert = optarg; break;
        case O_KEY: t->key = optarg; break;
        case O_NOTLS: t->no_tls = true; break;
        case O_READY: t->ready = optarg; break;
        case O_USER: t->user = optarg; break;
        case O_MAXSESS: t->cfg.max_sessions = (uint32_t)testsmtpd_count("--max-sessions", optarg, 1, 10000000); break;
        case O_IDLE: t->cfg.idle_timeout = testsmtpd_duration("--idle-timeout", optarg); break;
        case O_CMD: t->cfg.command_timeout = testsmtpd_duration("--command-timeout", optarg); break;
        case O_MAXLINE:
            t->cfg.limits.max_line = t->cfg.limits.max_text_line =
                (size_t)testsmtpd_count("--max-line", optarg, 100, 1000000);
            break;
        case O_MAXMSG: {
            double v;
            if (scenario_parse_size(optarg, &v) < 0 || v < 1 || v > 1e12)
                testsmtpd_die(EXIT_USAGE, "--max-message: expected a size like 10MB, got '%s'", optarg);
            t->cfg.limits.max_message = (uint64_t)v;
            break;
        }
        case O_MAXERR: t->cfg.limits.max_errors = (uint32_t)testsmtpd_count("--max-errors", optarg, 1, 1000000); break;
        case O_REMOTE: t->allow_remote = true; break;
        case O_ONLY_LISTEN: t->only_listen = true; break;
        case O_CLOCK_RATE: {
            char *end;
            errno = 0;
            double k = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(k >= 1) || k > 1000)
                testsmtpd_die(EXIT_USAGE, "--clock-rate: expected a number from 1 to 1000, got '%s'", optarg);
            t->cfg.clock_rate = k;
            break;
        }
        case O_HELP: fputs(usage, stdout); exit(0);
        case O_VERSION: printf("testsmtpd %s\n", TEMPFAIL_VERSION); exit(0);
        default:
            if (optopt)
                testsmtpd_die(EXIT_USAGE, "option %s needs a value (testsmtpd --help)", argv[optind - 1]);
            testsmtpd_die(EXIT_USAGE, "unknown option '%s' (testsmtpd --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        testsmtpd_die(EXIT_USAGE, "unexpected argument '%s' (testsmtpd --help)", argv[optind]);
    if (!t->scenario_path)
        testsmtpd_die(EXIT_USAGE, "--scenario FILE is required (testsmtpd --help)");
    if (!t->cert != !t->key)
        testsmtpd_die(EXIT_USAGE, "--tls-cert and --tls-key go together");
    if (t->no_tls && t->cert)
        testsmtpd_die(EXIT_USAGE, "--no-tls and --tls-cert contradict each other");
}

/* The last receiver is the implicit "default" (unclaimed domains): served only when named, as a
 * replay does for the domains no receiver claims. */
static int testsmtpd_find(const scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nreceivers; i++)
        if (strcmp(s->receivers[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool testsmtpd_has_listen(const testsmtpd *t, size_t ri)
{
    const receiver_config *r = &t->sc->receivers[ri];
    for (size_t m = 0; m < r->nmx && !t->only_listen; m++)
        if (r->mx[m].listen && r->mx[m].listen[0])
            return true;
    for (size_t k = 0; k < t->nextra; k++)
        if (strcmp(t->extra[k].name, r->name) == 0)
            return true;
    return false;
}

/* Which scenario receivers to serve, in scenario order. */
static size_t testsmtpd_select(testsmtpd *t)
{
    const scenario *s = t->sc;
    bool *want = calloc(s->nreceivers, sizeof(*want));
    if (!want || !(t->served = calloc(s->nreceivers, sizeof(*t->served))))
        testsmtpd_die(EXIT_IO, "out of memory");
    for (size_t k = 0; k < t->nreceivers; k++) {
        int i = testsmtpd_find(s, t->receivers[k]);
        if (i < 0)
            testsmtpd_die(EXIT_USAGE, "--receiver %s: no such receiver in %s", t->receivers[k], t->scenario_path);
        want[i] = true;
    }
    for (size_t k = 0; k < t->nextra; k++) {
        int i = testsmtpd_find(s, t->extra[k].name);
        if (i < 0)
            testsmtpd_die(EXIT_USAGE, "--listen %s=%s: no such receiver in %s", t->extra[k].name, t->extra[k].addr,
                          t->scenario_path);
        if (t->nreceivers && !want[i])
            testsmtpd_die(EXIT_USAGE, "--listen %s=%s: receiver %s is not among the --receiver ones", t->extra[k].name,
                          t->extra[k].addr, t->extra[k].name);
    }
    size_t n = 0;
    for (size_t i = 0; i < s->nreceivers; i++) {
        bool named = want[i];
        for (size_t k = 0; k < t->nextra && !named; k++)
            named = strcmp(t->extra[k].name, s->receivers[i].name) == 0;
        if (i + 1 == s->nreceivers && !named)
            continue; /* the implicit default */
        bool serve = t->nreceivers ? want[i] : testsmtpd_has_listen(t, i);
        if (!serve)
            continue;
        if (!testsmtpd_has_listen(t, i))
            testsmtpd_die(EXIT_USAGE, "receiver %s has no listen address (mx: [{host: ..., listen: 127.0.0.2:2525}] "
                          "or --listen %s=ADDR:PORT)", s->receivers[i].name, s->receivers[i].name);
        t->served[n++] = (int)i;
    }
    free(want);
    if (n == 0)
        testsmtpd_die(EXIT_USAGE, "%s: no receiver has a listen address (mx[].listen, or --listen NAME=ADDR:PORT)",
                      t->scenario_path);
    return n;
}

static void testsmtpd_listen_one(testsmtpd *t, size_t i, const char *mx, const char *addr)
{
    char err[512];
    int rc = smtpd_server_listen(t->srv, i, mx, addr, t->allow_remote, err, sizeof(err));
    if (rc < 0)
        testsmtpd_die(rc == -EINVAL ? EXIT_USAGE : EXIT_IO, "%s: %s", smtpd_server_receiver_name(t->srv, i), err);
}

static void testsmtpd_write_ready(const testsmtpd *t, const char *http_addr)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", t->ready, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        testsmtpd_die(EXIT_IO, "%s: cannot write: %s", tmp, strerror(errno));
    for (size_t k = 0; k < smtpd_server_nlisteners(t->srv); k++) {
        smtpd_server_listener_info li;
        smtpd_server_listener(t->srv, k, &li);
        fprintf(f, "smtp %s %s %s\n", li.receiver, li.mxhost, li.addr);
    }
    if (http_addr)
        fprintf(f, "http %s\n", http_addr);
    /* The event log's clock: where it starts (CLOCK_MONOTONIC ns) and how fast it runs. */
    fprintf(f, "clock %lld %.17g\n", (long long)smtpd_server_clock_origin(t->srv),
            t->cfg.clock_rate > 0 ? t->cfg.clock_rate : 1.0);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, t->ready) != 0) {
        int e = errno;
        unlink(tmp);
        testsmtpd_die(EXIT_IO, "%s: cannot write: %s", t->ready, strerror(e));
    }
}

/* As root: the user to become, looked up before anything is bound. */
static bool testsmtpd_lookup_user(const testsmtpd *t, uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0)
        return false;
    struct passwd *pw = getpwnam(t->user);
    if (!pw)
        testsmtpd_die(EXIT_USAGE, "--user %s: no such user", t->user);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return true;
}

static void testsmtpd_drop_privileges(const testsmtpd *t, smtpd_store *store, uid_t uid, gid_t gid)
{
    int rc = smtpd_store_chown(store, uid, gid);
    if (rc < 0)
        testsmtpd_die(EXIT_IO, "%s: cannot give the Maildir to %s: %s", t->maildir, t->user, strerror(-rc));
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        testsmtpd_die(EXIT_IO, "cannot drop privileges to %s: %s", t->user, strerror(errno));
    if (uid != 0 && setuid(0) == 0)
        testsmtpd_die(EXIT_IO, "privileges could be regained after dropping them to %s", t->user);
}

/* Raises the descriptor limit to its hard maximum: every session is a descriptor. */
static void testsmtpd_raise_nofile(uint32_t max_sessions)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)max_sessions + 64;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Set while dropping privileges: a failure exits, and the ready file must not claim a server. */
static const char *testsmtpd_ready_path;
static void testsmtpd_unready(void)
{
    if (testsmtpd_ready_path)
        unlink(testsmtpd_ready_path);
}

static void testsmtpd_reload(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    testsmtpd *t = arg;
    scenario_error err;
    scenario *s = scenario_load_receivers_file(t->scenario_path, &err);
    if (!s) {
        fprintf(stderr, "testsmtpd: SIGHUP: policies kept: %s\n", err.message);
        return;
    }
    size_t n = smtpd_server_nreceivers(t->srv), changed = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = smtpd_server_receiver_name(t->srv, i);
        int k = testsmtpd_find(s, name);
        if (k < 0) {
            fprintf(stderr, "testsmtpd: SIGHUP: receiver %s is gone from %s; its policy is kept\n", name,
                    t->scenario_path);
            continue;
        }
        char why[512];
        if (smtpd_server_set_policy(t->srv, i, &s->receivers[k].policy, why, sizeof(why)) < 0)
            fprintf(stderr, "testsmtpd: SIGHUP: %s: policy kept: %s\n", name, why);
        else
            changed++;
    }
    fprintf(stderr, "testsmtpd: SIGHUP: %zu of %zu receivers' policies reloaded from %s\n", changed, n,
            t->scenario_path);
    scenario_free(s);
}

static void testsmtpd_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    testsmtpd t = {0};
    testsmtpd_options(&t, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    smtpd_session_id_base((uint64_t)start.tv_sec * 1000000u + (uint64_t)start.tv_nsec / 1000u);

    scenario_error serr;
    if (!(t.sc = scenario_load_receivers_file(t.scenario_path, &serr)))
        testsmtpd_die(EXIT_USAGE, "%s", serr.message);
    for (size_t w = 0; w < t.sc->nwarnings; w++)
        fprintf(stderr, "testsmtpd: warning: %s\n", t.sc->warnings[w]);
    size_t nserved = testsmtpd_select(&t);
    uid_t uid = 0;
    gid_t gid = 0;
    bool drop = testsmtpd_lookup_user(&t, &uid, &gid);

    char err[1024];
    smtpd_store *store = smtpd_store_create(t.maildir, err, sizeof(err));
    if (!store)
        testsmtpd_die(EXIT_IO, "--maildir: %s", err);
    if (smtpd_store_cleaned(store))
        fprintf(stderr, "testsmtpd: removed %llu unfinished deliveries from %s/tmp (left by a process that was "
                        "killed)\n",
                (unsigned long long)smtpd_store_cleaned(store), t.maildir);
    t.cfg.store = store;
    if (t.log) {
        int rc;
        if (!(t.cfg.log = smtpd_log_create(t.log, &rc)))
            testsmtpd_die(EXIT_IO, "--log %s: %s", t.log, strerror(-rc));
    }
    if (!t.no_tls) {
        const receiver_config *first = &t.sc->receivers[t.served[0]];
        if (!(t.cfg.tls = smtpd_tls_create(t.cert, t.key, first->policy.hostname, err, sizeof(err))))
            testsmtpd_die(EXIT_IO, "TLS: %s", err);
    }

    /* Precise timers: libevent's default clock on Linux is CLOCK_MONOTONIC_COARSE (a jiffy, 4 ms), too
     * coarse for a tarpit of milliseconds measured against a real client. */
    struct event_config *ecfg = event_config_new();
    if (ecfg)
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    t.base = ecfg ? event_base_new_with_config(ecfg) : NULL;
    if (ecfg)
        event_config_free(ecfg);
    if (!t.base || !(t.srv = smtpd_server_create(t.base, &t.cfg)))
        testsmtpd_die(EXIT_IO, "cannot start the event loop");
    for (size_t k = 0; k < nserved; k++) {
        const receiver_config *rc = &t.sc->receivers[t.served[k]];
        if (smtpd_server_add_receiver(t.srv, rc, t.sc->seed, err, sizeof(err)) < 0)
            testsmtpd_die(EXIT_USAGE, "receiver %s: %s", rc->name, err);
        for (size_t m = 0; m < rc->nmx && !t.only_listen; m++)
            for (char **a = rc->mx[m].listen; a && *a; a++)
                testsmtpd_listen_one(&t, k, rc->mx[m].host, *a);
        for (size_t e = 0; e < t.nextra; e++) {
            if (strcmp(t.extra[e].name, rc->name) != 0)
                continue;
            const char *mx = rc->mx[0].host;
            if (t.extra[e].mx) {
                size_t m = 0;
                while (m < rc->nmx && strcmp(rc->mx[m].host, t.extra[e].mx) != 0)
                    m++;
                if (m == rc->nmx)
                    testsmtpd_die(EXIT_USAGE, "--listen %s/%s=%s: receiver %s has no MX host %s", rc->name,
                                  t.extra[e].mx, t.extra[e].addr, rc->name, t.extra[e].mx);
                mx = rc->mx[m].host;
            }
            testsmtpd_listen_one(&t, k, mx, t.extra[e].addr);
        }
    }
    char http_addr[64] = "";
    if (t.http) {
        int rc;
        if (!(t.h = smtpd_http_create(t.base, t.srv, t.http, t.allow_remote, http_addr, sizeof(http_addr), &rc, err,
                                      sizeof(err))))
            testsmtpd_die(rc == -EINVAL ? EXIT_USAGE : EXIT_IO, "%s", err);
    }
    testsmtpd_raise_nofile(t.cfg.max_sessions);

    struct event *hup = evsignal_new(t.base, SIGHUP, testsmtpd_reload, &t);
    struct event *term = evsignal_new(t.base, SIGTERM, testsmtpd_stop, t.base);
    struct event *intr = evsignal_new(t.base, SIGINT, testsmtpd_stop, t.base);
    if (!hup || !term || !intr || evsignal_add(hup, NULL) || evsignal_add(term, NULL) || evsignal_add(intr, NULL))
        testsmtpd_die(EXIT_IO, "cannot install signal handlers");
    /* The ready file is written while we may still write where the caller asked (as root, a
     * directory nobody cannot write to); a failed drop then takes it back. */
    if (t.ready)
        testsmtpd_write_ready(&t, t.http ? http_addr : NULL);
    if (drop) {
        if (t.ready)
            atexit(testsmtpd_unready);
        testsmtpd_ready_path = t.ready;
        testsmtpd_drop_privileges(&t, store, uid, gid);
        testsmtpd_ready_path = NULL;
    }
    for (size_t k = 0; k < smtpd_server_nlisteners(t.srv); k++) {
        smtpd_server_listener_info li;
        smtpd_server_listener(t.srv, k, &li);
        fprintf(stderr, "testsmtpd: %s (%s) listening on %s\n", li.receiver, li.mxhost, li.addr);
    }
    if (t.http)
        fprintf(stderr, "testsmtpd: http on %s\n", http_addr);

    int rc = event_base_dispatch(t.base);

    event_free(hup);
    event_free(term);
    event_free(intr);
    smtpd_http_free(t.h);
    smtpd_server_free(t.srv);
    event_base_free(t.base);
    smtpd_log_free(t.cfg.log);
    smtpd_tls_free(t.cfg.tls);
    smtpd_store_free(store);
    scenario_free(t.sc);
    free(t.served);
    free(t.receivers);
    free(t.extra);
    return rc < 0 ? EXIT_IO : 0;
}
