/*
 * tempfail_import - `tempfail import MAIN_CF [MASTER_CF [TRANSPORT]]`: an operator's Postfix
 * configuration (or `postconf -n` / `postconf -M` output) as the `mta:` section of a scenario, so
 * the simulation starts from the MTA they run. What the model does not use is listed on stderr,
 * never dropped silently.
 *
 * `tempfail import --generate SCENARIO DIR` goes the other way: the main.cf, master.cf and
 * transport map a private Postfix instance would run for the scenario (what `tempfail replay`
 * generates), written into DIR for an operator to read or to check with `postconf -c DIR -n`.
 * Importing those files gives back the scenario's section.
 */
#include "tempfail/tempfail.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/harness_postfix_conf.h"
#include "harness/harness_postfix_import.h"
#include "harness/harness_text.h"
#include "sim/sim_mem.h"

static const char import_usage[] =
    "Usage: tempfail import MAIN_CF [MASTER_CF [TRANSPORT]] [--out FILE]\n"
    "       tempfail import --generate SCENARIO.yaml DIR [--port N] [--set KEY=VALUE]...\n"
    "\n"
    "Reads a Postfix configuration and writes the `mta:` section of a scenario (YAML) on stdout, so a\n"
    "simulation starts from the MTA you run. MAIN_CF may be main.cf or `postconf -n` output, MASTER_CF\n"
    "master.cf or `postconf -M` output, TRANSPORT a transport_maps source file (\"domain transport:nexthop\");\n"
    "'-' reads MAIN_CF from stdin.\n"
    "\n"
    "  main.cf     the parameters the model knows (docs/scenario.md, mta.postfix) -> mta.postfix;\n"
    "              relayhost -> mta.transports.smtp.nexthop\n"
    "  master.cf   each `unix ... smtp` service -> a transport with its maxproc and -o overrides\n"
    "  transport   each domain -> its transport's domains:, and a nexthop its entries share\n"
    "Everything else is listed on stderr, one warning a line (\"main.cf:12: myhostname: not used by\n"
    "the model\"); a qmgr parameter given as -o is one of them (qmgr reads main.cf only).\n"
    "\n"
    "With --generate, writes DIR/main.cf, DIR/master.cf and DIR/transport: the private Postfix instance\n"
    "`tempfail replay` runs for SCENARIO, each receiver's MX hosts at their `listen:` addresses or at\n"
    "127.0.0.2, 127.0.0.3, ... port N (default 2525). `postconf -c DIR -n` reads them; importing them\n"
    "gives back the scenario's mta: section.\n"
    "\n"
    "Options:\n"
    "  -o, --out FILE        write the YAML to FILE (through a temporary name) instead of stdout\n"
    "  -g, --generate        generate instead of import (arguments SCENARIO.yaml DIR)\n"
    "      --port N          testsmtpd's port for MX hosts without `listen:` (--generate; default 2525)\n"
    "      --set KEY=VALUE   override a scenario value (--generate; repeatable, as in `tempfail run`)\n"
    "  -h, --help            this help\n"
    "\n"
    "Examples:\n"
    "  postconf -n | tempfail import - > mta.yaml\n"
    "  tempfail import /etc/postfix/main.cf /etc/postfix/master.cf /etc/postfix/transport\n"
    "  tempfail import --generate scenarios/examples/dedicated-transport.yaml /tmp/pf\n"
    "\n"
    "Reference: docs/replay.md (Postfix configuration: generation and import).\n"
    "\n"
    "Exit status: 0 ok; 2 bad command line, configuration or scenario (file:line and the reason);\n"
    "3 I/O error.\n";

/* The whole of path ("-": stdin) into *out. 0 or -errno. */
static int import_read(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return -errno;
    harness_text t = {0};
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        harness_text_append(&t, buf, n);
    int e = ferror(f) ? -EIO : 0;
    if (f != stdin)
        fclose(f);
    *len = t.len;
    *out = harness_text_take(&t);
    if (e) {
        free(*out);
        *out = NULL;
    }
    return e;
}

static int import_write(const char *path, const char *text)
{
    if (!path) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? 0 : -errno;
    }
    return harness_text_write_file(path, text);
}

static int import_files(char **files, int nfiles, const char *out)
{
    harness_postfix_input in[3];
    char *text[3] = {NULL, NULL, NULL};
    int rc = TEMPFAIL_OK;
    for (int i = 0; i < nfiles; i++) {
        int e = import_read(files[i], &text[i], &in[i].len);
        if (e) {
            fprintf(stderr, "tempfail import: %s: %s\n", files[i], strerror(-e));
            rc = TEMPFAIL_IO;
            goto done;
        }
        in[i].text = text[i];
        in[i].name = strcmp(files[i], "-") == 0 ? "stdin" : files[i];
    }
    char *yaml = NULL, *warnings = NULL, err[1024];
    if (harness_postfix_import(&in[0], nfiles > 1 ? &in[1] : NULL, nfiles > 2 ? &in[2] : NULL, &yaml, &warnings, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "tempfail import: %s\n", err);
        rc = TEMPFAIL_USAGE;
        goto done;
    }
    for (char *w = warnings, *nl; *w; w = nl + 1) {
        nl = strchr(w, '\n');
        fprintf(stderr, "tempfail import: warning: %.*s\n", (int)(nl - w), w);
    }
    int e = import_write(out, yaml);
    if (e) {
        fprintf(stderr, "tempfail import: %s: %s\n", out ? out : "stdout", strerror(-e));
        rc = TEMPFAIL_IO;
    }
    free(yaml);
    free(warnings);
done:
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return rc;
}

/* Does an MX host of s listen on address ip (any port)? */
static bool import_listened(const scenario *s, const char *ip)
{
    size_t n = strlen(ip);
    for (size_t r = 0; r < s->nreceivers; r++)
        for (size_t k = 0; k < s->receivers[r].nmx; k++)
            for (char **l = s->receivers[r].mx[k].listen; l && *l; l++)
                if (strncmp(*l, ip, n) == 0 && (*l)[n] == ':')
                    return true;
    return false;
}

/* Each receiver's server addresses in MX order: its `listen:` ones, else the next loopback address. */
static char ***import_addresses(const scenario *s, unsigned port)
{
    char ***addrs = sim_xcalloc(s->nreceivers, sizeof(*addrs));
    unsigned next = 2;
    for (size_t r = 0; r < s->nreceivers; r++) {
        const receiver_config *rc = &s->receivers[r];
        size_t n = 0, cap = 0;
        char **v = NULL;
        /* Lower preference first; the order of equal ones is the file's (the nexthop list is tried in order). */
        for (uint32_t pref = 0, done = 0; done < rc->nmx; pref++) {
            for (size_t k = 0; k < rc->nmx; k++) {
                const receiver_mx_config *mx = &rc->mx[k];
                if (mx->preference != pref)
                    continue;
                done++;
                for (size_t j = 0; mx->listen && mx->listen[j]; j++) {
                    v = sim_xgrow(v, &cap, n + 2, sizeof(*v), 4);
                    v[n++] = sim_xstrdup(mx->listen[j]);
                }
                if (!mx->listen || !mx->listen[0]) {
                    char a[64];
                    /* The next loopback address no MX host listens on already. */
                    for (bool taken = true; taken;) {
                        snprintf(a, sizeof(a), "127.0.0.%u", (next++ - 2) % 253 + 2);
                        taken = import_listened(s, a);
                    }
                    snprintf(a + strlen(a), sizeof(a) - strlen(a), ":%u", port);
                    v = sim_xgrow(v, &cap, n + 2, sizeof(*v), 4);
                    v[n++] = sim_xstrdup(a);
                }
            }
            if (pref == UINT32_MAX)
                break;
        }
        if (v)
            v[n] = NULL;
        addrs[r] = v;
    }
    return addrs;
}

static int import_generate(const char *path, const char *dir, const char *const *sets, size_t nsets, unsigned port)
{
    scenario_error serr;
    scenario *s = scenario_load_file(path, sets, nsets, &serr);
    if (!s) {
        fprintf(stderr, "tempfail import: %s\n", serr.message);
        return TEMPFAIL_USAGE;
    }
    for (size_t i = 0; i < s->nwarnings; i++)
        fprintf(stderr, "tempfail import: warning: %s\n", s->warnings[i]);
    char ***addrs = import_addresses(s, port);
    char abs[4096], queue[4200], data[4200], log[4200], err[1024];
    int rc = TEMPFAIL_OK;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "tempfail import: %s: %s\n", dir, strerror(errno));
        rc = TEMPFAIL_IO;
        goto done;
    }
    if (!realpath(dir, abs)) {
        fprintf(stderr, "tempfail import: %s: %s\n", dir, strerror(errno));
        rc = TEMPFAIL_IO;
        goto done;
    }
    snprintf(queue, sizeof(queue), "%s/queue", abs);
    snprintf(data, sizeof(data), "%s/data", abs);
    snprintf(log, sizeof(log), "%s/maillog", abs);
    harness_postfix_instance in = {.config_directory = abs,
                                   .queue_directory = queue,
                                   .data_directory = data,
                                   .maillog_file = log,
                                   .smtpd_listen = "127.0.0.1:10025",
                                   .receiver_addrs = (const char *const *const *)addrs};
    harness_postfix_files f;
    if (harness_postfix_conf_generate(s, &in, &f, err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail import: %s: %s\n", path, err);
        rc = TEMPFAIL_USAGE;
        goto done;
    }
    if (harness_postfix_conf_write(&f, abs, err, sizeof(err)) != 0) {
        fprintf(stderr, "tempfail import: %s\n", err);
        rc = TEMPFAIL_IO;
    } else {
        printf("%s/main.cf\n%s/master.cf\n%s/transport\n", abs, abs, abs);
    }
    harness_postfix_files_clear(&f);
done:
    for (size_t r = 0; r < s->nreceivers; r++) {
        for (size_t j = 0; addrs[r] && addrs[r][j]; j++)
            free(addrs[r][j]);
        free(addrs[r]);
    }
    free(addrs);
    scenario_free(s);
    return rc;
}

int tempfail_import_main(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"generate", no_argument, NULL, 'g'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"set", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool generate = false;
    unsigned port = 2525;
    const char **sets = NULL;
    size_t nsets = 0, cap = 0;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:gh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'g':
            generate = true;
            break;
        case 'p': {
            char *end;
            unsigned long p = strtoul(optarg, &end, 10);
            if (*end || p == 0 || p > 65535) {
                fprintf(stderr, "tempfail import: --port: expected a port from 1 to 65535, got '%s'\n", optarg);
                free(sets);
                return TEMPFAIL_USAGE;
            }
            port = (unsigned)p;
            break;
        }
        case 'S':
            sets = sim_xgrow(sets, &cap, nsets + 1, sizeof(*sets), 4);
            sets[nsets++] = optarg;
            break;
        case 'h':
            fputs(import_usage, stdout);
            free(sets);
            return TEMPFAIL_OK;
        default:
            fputs("Try 'tempfail import --help'.\n", stderr);
            free(sets);
            return TEMPFAIL_USAGE;
        }
    }
    int nargs = argc - optind;
    if (generate) {
        if (nargs != 2 || out) {
            fputs("tempfail import: --generate takes SCENARIO.yaml and DIR (and no --out)\n"
                  "Try 'tempfail import --help'.\n",
                  stderr);
            free(sets);
            return TEMPFAIL_USAGE;
        }
        rc = import_generate(argv[optind], argv[optind + 1], sets, nsets, port);
    } else if (nargs < 1 || nargs > 3 || nsets) {
        fputs(nsets ? "tempfail import: --set goes with --generate\nTry 'tempfail import --help'.\n"
                    : "tempfail import: expected MAIN_CF [MASTER_CF [TRANSPORT]]\nTry 'tempfail import --help'.\n",
              stderr);
        rc = TEMPFAIL_USAGE;
    } else {
        rc = import_files(argv + optind, nargs, out);
    }
    free(sets);
    return rc;
}
