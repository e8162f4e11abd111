/*
 * harness_postfix_conf - a scenario's `mta:` section as main.cf, master.cf and a transport map for
 * one private Postfix instance. harness_postfix_conf.h says where each value goes and why; this file
 * walks the loader's own table of parameters (scenarios/scenario_mta.h), so a parameter the loader
 * learns is generated (and compared) without a second list to keep in step.
 *
 * The scenario arrives resolved: each transport holds every value it runs with, wherever the YAML
 * set it. Generation therefore writes the default transport's values as main.cf's globals and, for
 * every other transport, what differs from them; Postfix's inheritance then gives each transport
 * back exactly its values, which is what harness_postfix_conf_same checks after an import.
 */
#include "harness/harness_postfix_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/harness_text.h"
#include "scenarios/scenario_mta.h"
#include "sim/sim_mem.h"

/* Postfix's own services (the generated master.cf's plumbing): a transport may not take a name. */
static const char *const conf_services[] = {"pickup",  "cleanup",  "qmgr",  "tlsmgr",  "rewrite", "bounce",
                                            "defer",   "trace",    "verify", "flush",  "proxymap",
                                            "proxywrite", "showq", "error", "retry",   "discard", "anvil",
                                            "scache",  "postlog",  "local", "virtual", "lmtp", "tlsproxy"};

static const char *const conf_plumbing =
    "pickup     unix  n       -       n       60      1       pickup\n"
    "cleanup    unix  n       -       n       -       0       cleanup\n"
    "qmgr       unix  n       -       n       300     1       qmgr\n"
    "tlsmgr     unix  -       -       n       1000?   1       tlsmgr\n"
    "rewrite    unix  -       -       n       -       -       trivial-rewrite\n"
    "bounce     unix  -       -       n       -       0       bounce\n"
    "defer      unix  -       -       n       -       0       bounce\n"
    "trace      unix  -       -       n       -       0       bounce\n"
    "verify     unix  -       -       n       -       1       verify\n"
    "flush      unix  n       -       n       1000?   0       flush\n"
    "proxymap   unix  -       -       n       -       -       proxymap\n"
    "proxywrite unix  -       -       n       -       1       proxymap\n"
    "showq      unix  n       -       n       -       -       showq\n"
    "error      unix  -       -       n       -       -       error\n"
    "retry      unix  -       -       n       -       -       error\n"
    "discard    unix  -       -       n       -       -       discard\n"
    "anvil      unix  -       -       n       -       1       anvil\n"
    "scache     unix  -       -       n       -       1       scache\n"
    "tlsproxy   unix  -       -       n       -       0       tlsproxy\n"
    "postlog    unix-dgram n  -       n       -       1       postlogd\n";

#define CONF_DEFAULT_PROCESS_LIMIT 100u /* Postfix's default_process_limit: master.cf's "-" */
#define CONF_SMTPD_RECIPIENT_LIMIT 1000u /* Postfix's smtpd_recipient_limit */

static bool conf_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool conf_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Do two values of one type agree? */
static bool conf_value_same(scenario_mta_type type, const void *a, const void *b)
{
    switch (type) {
    case SCENARIO_MTA_UINT:
    case SCENARIO_MTA_UINT1:
        return *(const uint32_t *)a == *(const uint32_t *)b;
    case SCENARIO_MTA_FEEDBACK: {
        const mta_feedback *x = a, *y = b;
        return x->kind == y->kind && x->value == y->value;
    }
    case SCENARIO_MTA_NUMBER:
        return *(const double *)a == *(const double *)b;
    case SCENARIO_MTA_TIME:
    case SCENARIO_MTA_DAYS:
        return *(const sim_time_t *)a == *(const sim_time_t *)b;
    case SCENARIO_MTA_BOOL:
    case SCENARIO_MTA_TLS:
        return *(const bool *)a == *(const bool *)b;
    case SCENARIO_MTA_LIST: {
        char *const *x = *(char **const *)a, *const *y = *(char **const *)b;
        size_t i = 0;
        for (; x && y && x[i] && y[i]; i++)
            if (strcmp(x[i], y[i]) != 0)
                return false;
        return !(x && x[i]) && !(y && y[i]);
    }
    }
    return false;
}

/*
 * Appends the value in Postfix's syntax, or fails naming key when Postfix cannot say it. Times get
 * the largest unit that divides them (Postfix's units: s m h d), so 432000s reads as 5d.
 */
static bool conf_value_format(harness_text *t, scenario_mta_type type, const void *v, const char *key, char *err,
                              size_t errlen)
{
    char buf[64];
    switch (type) {
    case SCENARIO_MTA_UINT:
    case SCENARIO_MTA_UINT1:
        harness_text_printf(t, "%" PRIu32, *(const uint32_t *)v);
        return true;
    case SCENARIO_MTA_FEEDBACK: {
        const mta_feedback *f = v;
        mta_feedback back;
        char text[sizeof(buf) + 16];
        /* The shortest form that reads back as the same number. */
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, f->value);
            if (strtod(buf, NULL) == f->value)
                break;
        }
        snprintf(text, sizeof(text), "%s%s", buf, f->kind == MTA_FEEDBACK_CONCURRENCY ? "/concurrency" : "");
        /* Never a value qmgr_feedback_init would ignore (and replace with 1) without saying so here. */
        if (mta_feedback_parse(text, &back) < 0 || back.kind != f->kind || back.value != f->value)
            return conf_fail(err, errlen, "%s: %s: Postfix would ignore this feedback (it takes 0 to 1)", key, text);
        harness_text_printf(t, "%s", text);
        return true;
    }
    case SCENARIO_MTA_NUMBER: {
        double d = *(const double *)v;
        if (d != floor(d) || d > INT32_MAX)
            return conf_fail(err, errlen, "%s: %g: Postfix takes a whole number here", key, d);
        harness_text_printf(t, "%.0f", d);
        return true;
    }
    case SCENARIO_MTA_TIME:
    case SCENARIO_MTA_DAYS: {
        sim_time_t x = *(const sim_time_t *)v;
        if (x % SIM_SEC != 0)
            return conf_fail(err, errlen, "%s: %.6gs: Postfix counts this parameter in whole seconds", key,
                             (double)x / (double)SIM_SEC);
        int64_t s = x / SIM_SEC;
        if (s != 0 && s % 86400 == 0)
            harness_text_printf(t, "%" PRId64 "d", s / 86400);
        else if (s != 0 && s % 3600 == 0)
            harness_text_printf(t, "%" PRId64 "h", s / 3600);
        else if (s != 0 && s % 60 == 0)
            harness_text_printf(t, "%" PRId64 "m", s / 60);
        else
            harness_text_printf(t, "%" PRId64 "s", s);
        return true;
    }
    case SCENARIO_MTA_BOOL:
        harness_text_printf(t, "%s", *(const bool *)v ? "yes" : "no");
        return true;
    case SCENARIO_MTA_TLS:
        harness_text_printf(t, "%s", *(const bool *)v ? "may" : "none");
        return true;
    case SCENARIO_MTA_LIST: {
        char *const *l = *(char **const *)v;
        for (size_t i = 0; l && l[i]; i++)
            harness_text_printf(t, "%s%s", i ? ", " : "", l[i]);
        return true;
    }
    }
    return false;
}

static bool conf_param(harness_text *t, const char *name, scenario_mta_type type, const void *v, const char *key,
                       char *err, size_t errlen)
{
    harness_text_printf(t, "%s = ", name);
    if (!conf_value_format(t, type, v, key, err, errlen))
        return false;
    harness_text_append(t, "\n", 1);
    return true;
}

/*
 * smtp_connection_cache_destinations as Postfix matches it: smtp(8) looks up the bare host of the
 * first nexthop of the list (smtp_connect.c, smtp_cache_policy: "the bare domain without the optional
 * [] or non-default TCP port"), which in a replay's map is the first address of the domain's
 * receiver, not the domain. Entries that are no domain of a routed receiver stay as they are.
 */
static void conf_cache_destinations(harness_text *t, const scenario *s, const harness_postfix_instance *in,
                                    char *const *l, const char *sep)
{
    for (size_t i = 0; l && l[i]; i++) {
        const char *v = l[i];
        char host[128];
        size_t r = scenario_receiver_for_domain(s, v);
        bool owned = false;
        for (size_t d = 0; r < s->nreceivers && d < s->receivers[r].ndomains && !owned; d++)
            owned = strcmp(s->receivers[r].domains[d], v) == 0;
        const char *const *addrs = owned && in->receiver_addrs ? in->receiver_addrs[r] : NULL;
        if (addrs && addrs[0]) {
            const char *colon = strrchr(addrs[0], ':');
            size_t n = colon ? (size_t)(colon - addrs[0]) : strlen(addrs[0]);
            snprintf(host, sizeof(host), "%.*s", (int)n, addrs[0]);
            if (host[0] == '[') {
                memmove(host, host + 1, strlen(host));
                host[strcspn(host, "]")] = 0;
            }
            v = host;
        }
        harness_text_printf(t, "%s%s", i ? sep : "", v);
    }
}

/* "127.0.0.2:2525" -> "[127.0.0.2]:2525" (no MX lookup; an address needs the brackets anyway). */
static void conf_nexthop_addr(harness_text *t, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (addr[0] == '[' || !colon || strchr(addr, ':') != colon)
        harness_text_printf(t, "%s%s%s", addr[0] == '[' ? "" : "[", addr, addr[0] == '[' ? "" : "]");
    else
        harness_text_printf(t, "[%.*s]%s", (int)(colon - addr), addr, colon);
}

/* One transport map entry: domain (or "*") to transport t, at receiver r's addresses. */
/* transport NULL: a null transport field (":[addr]"), which changes only the nexthop and keeps the
 * transport trivial-rewrite chose without the entry (sender_dependent_default_transport_maps, else
 * default_transport). */
static void conf_route(harness_text *t, const char *domain, const char *transport, const char *const *addrs)
{
    harness_text_printf(t, "%s\t%s:", domain, transport ? transport : "");
    for (size_t i = 0; addrs[i]; i++) {
        if (i)
            harness_text_append(t, ",", 1);
        conf_nexthop_addr(t, addrs[i]);
    }
    harness_text_append(t, "\n", 1);
}

/* Which receiver's addresses a domain of transport tr goes to. A transport with a nexthop has one
 * queue for all its domains, and the model gives that queue the receiver of the first domain it
 * routes; the map does the same, so that every domain of it shares one nexthop, hence one queue. */
typedef struct conf_routing {
    const scenario *s;
    const harness_postfix_instance *in;
    size_t *relay_rcv; /* per transport: SIZE_MAX until its first domain */
    bool by_sender;    /* some transport has senders: the unlisted domains keep the sender's transport */
    bool unlisted;     /* routing the domains no transport lists */
} conf_routing;

static bool conf_route_domain(harness_text *t, conf_routing *r, size_t tr, const char *domain, char *err,
                              size_t errlen)
{
    const mta_transport_config *tc = &r->s->mta.transports[tr];
    size_t rcv = scenario_receiver_for_domain(r->s, domain);
    if (tc->nexthop) {
        if (r->relay_rcv[tr] == SIZE_MAX)
            r->relay_rcv[tr] = rcv;
        rcv = r->relay_rcv[tr];
    }
    const char *const *addrs = r->in->receiver_addrs ? r->in->receiver_addrs[rcv] : NULL;
    if (!addrs || !addrs[0])
        return conf_fail(err, errlen, "receiver '%s' (domain %s): no server address was given for it",
                         r->s->receivers[rcv].name, domain);
    conf_route(t, domain, r->unlisted && r->by_sender ? NULL : tc->name, addrs);
    return true;
}

static bool conf_by_sender(const mta_config *m)
{
    for (size_t t = 0; t < m->ntransports; t++)
        if (m->transports[t].nsenders)
            return true;
    return false;
}

/* sender_dependent_default_transport_maps as an inline: table, so that no other file is needed. */
static void conf_sender_map(harness_text *t, const mta_config *m)
{
    if (!conf_by_sender(m))
        return;
    harness_text_printf(t, "sender_dependent_default_transport_maps = inline:{");
    bool first = true;
    for (size_t tr = 0; tr < m->ntransports; tr++)
        for (size_t i = 0; i < m->transports[tr].nsenders; i++) {
            harness_text_printf(t, "%s %s=%s:", first ? "" : ",", m->transports[tr].senders[i], m->transports[tr].name);
            first = false;
        }
    harness_text_printf(t, " }\n");
}

static bool conf_domain_listed(const mta_config *m, const char *d)
{
    for (size_t t = 0; t < m->ntransports; t++)
        for (size_t i = 0; i < m->transports[t].ndomains; i++)
            if (strcasecmp(m->transports[t].domains[i], d) == 0)
                return true;
    return false;
}

static bool conf_transport_map(const scenario *s, const harness_postfix_instance *in, harness_text *t, char *err,
                               size_t errlen)
{
    const mta_config *m = &s->mta;
    conf_routing r = {s, in, sim_xcalloc(m->ntransports, sizeof(size_t)), conf_by_sender(m), false};
    bool ok = false;
    if (r.by_sender && !in->paste)
        for (size_t i = 0; i < m->ntransports; i++)
            if (m->transports[i].nexthop && (i == 0 || m->transports[i].nsenders)) {
                free(r.relay_rcv);
                return conf_fail(err, errlen,
                                 "transport '%s' has a nexthop and mail is routed by sender: a replay cannot "
                                 "route both (give the nexthop to a transport that lists domains)",
                                 m->transports[i].name);
            }
    for (size_t i = 0; i < m->ntransports; i++)
        r.relay_rcv[i] = SIZE_MAX;
    if (in->paste) {
        harness_text_printf(t, "# transport_maps lines for scenario \"%s\" (postmap the file after adding them)\n",
                            s->name ? s->name : "");
        for (size_t tr = 0; tr < m->ntransports; tr++)
            for (size_t i = 0; i < m->transports[tr].ndomains; i++)
                harness_text_printf(t, "%s\t%s:%s\n", m->transports[tr].domains[i], m->transports[tr].name,
                                    m->transports[tr].nexthop ? m->transports[tr].nexthop : "");
        free(r.relay_rcv);
        return true;
    }
    harness_text_printf(t,
                        "# transport_maps of a private Postfix instance, generated by tempfail from scenario \"%s\"\n"
                        "# (texthash: read as it is, no postmap). Each domain goes to its receiver's server\n"
                        "# addresses in MX order; \"#tempfail:\" lines are for tempfail import, Postfix ignores them.\n"
                        "#tempfail: generated\n",
                        s->name ? s->name : "");
    for (size_t i = 0; i < m->ntransports; i++)
        if (m->transports[i].nexthop)
            harness_text_printf(t, "#tempfail: nexthop %s %s\n", m->transports[i].name, m->transports[i].nexthop);
    for (size_t tr = 0; tr < m->ntransports; tr++)
        for (size_t i = 0; i < m->transports[tr].ndomains; i++)
            if (!conf_route_domain(t, &r, tr, m->transports[tr].domains[i], err, errlen))
                goto done;
    harness_text_printf(t, "#tempfail: unlisted (the default transport's other domains, for the replay)\n");
    r.unlisted = true;
    for (size_t k = 0; k < s->nreceivers; k++)
        for (size_t i = 0; i < s->receivers[k].ndomains; i++)
            if (!conf_domain_listed(m, s->receivers[k].domains[i]) &&
                !conf_route_domain(t, &r, 0, s->receivers[k].domains[i], err, errlen))
                goto done;
    if (s->nreceivers && in->receiver_addrs && in->receiver_addrs[s->nreceivers - 1] &&
        in->receiver_addrs[s->nreceivers - 1][0]) {
        const char *const *addrs = in->receiver_addrs[s->nreceivers - 1];
        if (m->transports[0].nexthop && r.relay_rcv[0] != SIZE_MAX)
            addrs = in->receiver_addrs[r.relay_rcv[0]];
        conf_route(t, "*", r.by_sender ? NULL : m->transports[0].name, addrs);
    }
    ok = true;
done:
    free(r.relay_rcv);
    return ok;
}

static bool conf_main_cf(const scenario *s, const harness_postfix_instance *in, harness_text *t, char *err,
                         size_t errlen)
{
    const mta_config *m = &s->mta;
    if (in->paste) {
        harness_text_printf(t, "# main.cf parameters for scenario \"%s\"\n", s->name ? s->name : "");
        goto scenario;
    }
    harness_text_printf(t,
                        "# main.cf of a private Postfix instance, generated by tempfail from scenario \"%s\".\n"
                        "# The instance itself: directories, addresses, routing (not the scenario's).\n"
                        "#tempfail: instance\n"
                        "compatibility_level = 3.6\n",
                        s->name ? s->name : "");
    if (in->queue_directory)
        harness_text_printf(t, "queue_directory = %s\n", in->queue_directory);
    if (in->data_directory)
        harness_text_printf(t, "data_directory = %s\n", in->data_directory);
    if (in->maillog_file) {
        const char *slash = strrchr(in->maillog_file, '/');
        harness_text_printf(t, "maillog_file = %s\n", in->maillog_file);
        if (slash && slash != in->maillog_file)
            harness_text_printf(t, "maillog_file_prefixes = %.*s\n", (int)(slash - in->maillog_file),
                                in->maillog_file);
    }
    harness_text_printf(t,
                        "myhostname = %s\n"
                        "mydestination =\n"
                        "local_recipient_maps =\n"
                        "relay_domains =\n"
                        "alias_maps =\n"
                        "alias_database =\n"
                        "mynetworks = 127.0.0.0/8\n"
                        "inet_interfaces = %s\n"
                        "inet_protocols = %s\n"
                        "biff = no\n",
                        in->myhostname ? in->myhostname : "tempfail-mta.test",
                        in->inet_interfaces ? in->inet_interfaces : "127.0.0.1",
                        in->inet_protocols ? in->inet_protocols : "ipv4");
    /* The traffic comes in over SMTP, one transaction per message: smtpd must take as many
     * recipients as a message of the scenario can have (Postfix's smtpd_recipient_limit is 1000;
     * beyond it, 452 4.5.3 "Too many recipients"). */
    uint32_t rcpt = traffic_max_rcpt(&s->traffic);
    if (rcpt > CONF_SMTPD_RECIPIENT_LIMIT)
        harness_text_printf(t, "smtpd_recipient_limit = %" PRIu32 "\n", rcpt);
    if (in->smtp_bind_address)
        harness_text_printf(t, "smtp_bind_address = %s\n", in->smtp_bind_address);
    if (in->feedback_debug)
        harness_text_printf(t, "destination_concurrency_feedback_debug = yes\n");
    harness_text_printf(t, "smtp_dns_support_level = disabled\ntransport_maps = texthash:%s/transport\n",
                        in->config_directory ? in->config_directory : ".");
    harness_text_printf(t, "# The scenario's mta: section.\n#tempfail: scenario\n");
scenario:;
    conf_sender_map(t, m);

    /* Once-per-MTA parameters that differ from Postfix's defaults. */
    mta_config def;
    mta_config_defaults(&def);
    size_t ng, ntp;
    const scenario_mta_global *g = scenario_mta_globals_table(&ng);
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&ntp);
    char key[256];
    for (size_t i = 0; i < ng; i++) {
        if (g[i].off == (size_t)-1)
            continue;
        const char *v = (const char *)m + g[i].off;
        snprintf(key, sizeof(key), "mta.postfix.%s", g[i].name);
        if (!conf_value_same(g[i].type, v, (const char *)&def + g[i].off) &&
            !conf_param(t, g[i].name, g[i].type, v, key, err, errlen))
            return false;
    }
    /* scache caps every transport's cache time: raise the cap to the longest one. */
    sim_time_t cache = 2 * SIM_SEC;
    for (size_t tr = 0; tr < m->ntransports; tr++)
        if (m->transports[tr].p.connection_cache_time_limit > cache)
            cache = m->transports[tr].p.connection_cache_time_limit;
    if (cache != 2 * SIM_SEC &&
        !conf_param(t, "connection_cache_ttl_limit", SCENARIO_MTA_TIME, &cache,
                    "mta.postfix.smtp_connection_cache_time_limit", err, errlen))
        return false;

    /* The default transport's values are every transport's globals (maxproc is master.cf's). */
    mta_transport_params dp;
    mta_transport_params_defaults(&dp);
    mta_transport_params_resolve(&dp);
    const mta_transport_params *base = &m->transports[0].p;
    for (size_t i = 0; i < ntp; i++) {
        const char *v = (const char *)base + tp[i].off;
        if (strcmp(tp[i].name, "maxproc") == 0)
            continue;
        bool tls = tp[i].type == SCENARIO_MTA_TLS;
        static const bool off = false;
        if (tls && !m->latency.tls) /* mta.tls.enabled: no turns STARTTLS off for every transport */
            v = (const char *)&off;
        snprintf(key, sizeof(key), "mta.postfix.%s", tp[i].global);
        bool differs = tls || !conf_value_same(tp[i].type, v, (const char *)&dp + tp[i].off);
        if (differs && in->nexthop_cache_destinations && tp[i].off == offsetof(mta_transport_params, connection_cache_destinations)) {
            harness_text_printf(t, "%s = ", tp[i].global);
            conf_cache_destinations(t, s, in, *(char **const *)v, ", ");
            harness_text_append(t, "\n", 1);
        } else if (differs && !conf_param(t, tp[i].global, tp[i].type, v, key, err, errlen)) {
            return false;
        }
    }
    /* Other transports: their scheduler parameters that differ, by qmgr's main.cf names. */
    for (size_t tr = 1; tr < m->ntransports; tr++) {
        const mta_transport_config *tc = &m->transports[tr];
        for (size_t i = 0; i < ntp; i++) {
            const char *v = (const char *)&tc->p + tp[i].off;
            if (!tp[i].prefixed || conf_value_same(tp[i].type, v, (const char *)base + tp[i].off))
                continue;
            char name[256];
            snprintf(name, sizeof(name), "%s_%s", tc->name, tp[i].name);
            snprintf(key, sizeof(key), "mta.transports.%s.%s", tc->name, tp[i].name);
            if (!conf_param(t, name, tp[i].type, v, key, err, errlen))
                return false;
        }
    }
    return true;
}

static bool conf_master_cf(const scenario *s, const harness_postfix_instance *in, harness_text *t, char *err,
                           size_t errlen)
{
    const mta_config *m = &s->mta;
    size_t ntp;
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&ntp);
    harness_text_printf(t,
                        in->paste ? "# master.cf entries for scenario \"%s\"\n"
                                  : "# master.cf of a private Postfix instance, generated by tempfail from scenario "
                                    "\"%s\".\n# Nothing is chrooted: the queue directory is not a chroot jail.\n",
                        s->name ? s->name : "");
    if (in->smtpd_listen && !in->paste)
        harness_text_printf(t, "%s inet  n       -       n       -       -       smtpd\n", in->smtpd_listen);
    if (!in->paste)
        harness_text_printf(t, "%s# The scenario's transports (mta.transports).\n", conf_plumbing);
    for (size_t tr = 0; tr < m->ntransports; tr++) {
        const mta_transport_config *tc = &m->transports[tr];
        char maxproc[16] = "-";
        if (tc->p.maxproc != CONF_DEFAULT_PROCESS_LIMIT)
            snprintf(maxproc, sizeof(maxproc), "%" PRIu32, tc->p.maxproc);
        if (in->paste && tr == 0 && strcmp(maxproc, "-") == 0)
            continue; /* the stock smtp line */
        harness_text_printf(t, "%-10s unix  -       -       n       -       %-7s smtp\n", tc->name, maxproc);
        if (tr == 0)
            continue;
        /* Its smtp(8) parameters that differ from the globals: -o on its own line. */
        for (size_t i = 0; i < ntp; i++) {
            const char *v = (const char *)&tc->p + tp[i].off;
            if (tp[i].prefixed || strcmp(tp[i].name, "maxproc") == 0 ||
                (tp[i].type == SCENARIO_MTA_TLS && !m->latency.tls) ||
                conf_value_same(tp[i].type, v, (const char *)&m->transports[0].p + tp[i].off))
                continue;
            char key[256];
            snprintf(key, sizeof(key), "mta.transports.%s.%s", tc->name, tp[i].name);
            harness_text_printf(t, "  -o %s=", tp[i].name);
            if (in->nexthop_cache_destinations && tp[i].off == offsetof(mta_transport_params, connection_cache_destinations)) {
                conf_cache_destinations(t, s, in, *(char **const *)v, ",");
            } else if (tp[i].type == SCENARIO_MTA_LIST) {
                /* Commas without blanks keep a list one master.cf argument. */
                char *const *l = *(char **const *)v;
                for (size_t j = 0; l && l[j]; j++)
                    harness_text_printf(t, "%s%s", j ? "," : "", l[j]);
            } else if (!conf_value_format(t, tp[i].type, v, key, err, errlen)) {
                return false;
            }
            harness_text_append(t, "\n", 1);
        }
    }
    return true;
}

int harness_postfix_conf_generate(const scenario *s, const harness_postfix_instance *in, harness_postfix_files *out,
                                  char *err, size_t errlen)
{
    const mta_config *m = &s->mta;
    harness_text mc = {0}, ms = {0}, tm = {0};
    memset(out, 0, sizeof(*out));
    if (m->kind != MTA_KIND_POSTFIX)
        return conf_fail(err, errlen, "mta.kind: apppool: an application pool is not a Postfix configuration"),
               -EINVAL;
    for (size_t tr = 0; tr < m->ntransports; tr++)
        for (size_t i = 0; i < sizeof(conf_services) / sizeof(conf_services[0]); i++)
            if (strcmp(m->transports[tr].name, conf_services[i]) == 0)
                return conf_fail(err, errlen,
                                 "mta.transports.%s: a transport cannot take the name of Postfix's own '%s' service",
                                 conf_services[i], conf_services[i]),
                       -EINVAL;
    if (!conf_main_cf(s, in, &mc, err, errlen) || !conf_master_cf(s, in, &ms, err, errlen) ||
        !conf_transport_map(s, in, &tm, err, errlen)) {
        harness_text_clear(&mc);
        harness_text_clear(&ms);
        harness_text_clear(&tm);
        return -EINVAL;
    }
    out->main_cf = harness_text_take(&mc);
    out->master_cf = harness_text_take(&ms);
    out->transport = harness_text_take(&tm);
    return 0;
}

static int conf_write_one(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int e = harness_text_write_file(path, text);
    if (e)
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
    return e;
}

int harness_postfix_conf_write(const harness_postfix_files *f, const char *dir, char *err, size_t errlen)
{
    int e;
    if ((e = conf_write_one(dir, "main.cf", f->main_cf, err, errlen)) ||
        (e = conf_write_one(dir, "master.cf", f->master_cf, err, errlen)) ||
        (e = conf_write_one(dir, "transport", f->transport, err, errlen)))
        return e;
    return 0;
}

void harness_postfix_files_clear(harness_postfix_files *f)
{
    free(f->main_cf);
    free(f->master_cf);
    free(f->transport);
    memset(f, 0, sizeof(*f));
}

static void conf_value_show(char *buf, size_t len, scenario_mta_type type, const void *v)
{
    harness_text t = {0};
    char e[8];
    if (type == SCENARIO_MTA_NUMBER)
        harness_text_printf(&t, "%g", *(const double *)v);
    else if (type == SCENARIO_MTA_TIME || type == SCENARIO_MTA_DAYS)
        harness_text_printf(&t, "%.6gs", (double)*(const sim_time_t *)v / (double)SIM_SEC);
    else
        conf_value_format(&t, type, v, "", e, sizeof(e));
    snprintf(buf, len, "%s", t.s ? t.s : "");
    harness_text_clear(&t);
}

static bool conf_differ(char *diff, size_t len, const char *what, scenario_mta_type type, const void *a,
                        const void *b)
{
    char x[128], y[128];
    conf_value_show(x, sizeof(x), type, a);
    conf_value_show(y, sizeof(y), type, b);
    snprintf(diff, len, "%s: %s vs %s", what, x, y);
    return false;
}

bool harness_postfix_conf_same(const mta_config *a, const mta_config *b, char *diff, size_t len)
{
    size_t ng, ntp;
    const scenario_mta_global *g = scenario_mta_globals_table(&ng);
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&ntp);
    char what[256];
    if (a->kind != b->kind)
        return snprintf(diff, len, "kind differs"), false;
    for (size_t i = 0; i < ng; i++) {
        if (g[i].off == (size_t)-1)
            continue;
        const char *x = (const char *)a + g[i].off, *y = (const char *)b + g[i].off;
        snprintf(what, sizeof(what), "postfix.%s", g[i].name);
        if (!conf_value_same(g[i].type, x, y))
            return conf_differ(diff, len, what, g[i].type, x, y);
    }
    if (a->ntransports != b->ntransports)
        return snprintf(diff, len, "transports: %zu vs %zu", a->ntransports, b->ntransports), false;
    for (size_t tr = 0; tr < a->ntransports; tr++) {
        const mta_transport_config *p = &a->transports[tr], *q = &b->transports[tr];
        if (strcmp(p->name, q->name) != 0)
            return snprintf(diff, len, "transports[%zu]: %s vs %s", tr, p->name, q->name), false;
        if ((p->nexthop == NULL) != (q->nexthop == NULL) || (p->nexthop && strcmp(p->nexthop, q->nexthop) != 0))
            return snprintf(diff, len, "transports.%s.nexthop: %s vs %s", p->name, p->nexthop ? p->nexthop : "none",
                            q->nexthop ? q->nexthop : "none"),
                   false;
        if (p->ndomains != q->ndomains)
            return snprintf(diff, len, "transports.%s.domains: %zu vs %zu", p->name, p->ndomains, q->ndomains), false;
        for (size_t i = 0; i < p->ndomains; i++)
            if (strcasecmp(p->domains[i], q->domains[i]) != 0)
                return snprintf(diff, len, "transports.%s.domains[%zu]: %s vs %s", p->name, i, p->domains[i],
                                q->domains[i]),
                       false;
        if (p->nsenders != q->nsenders)
            return snprintf(diff, len, "transports.%s.senders: %zu vs %zu", p->name, p->nsenders, q->nsenders), false;
        for (size_t i = 0; i < p->nsenders; i++)
            if (strcasecmp(p->senders[i], q->senders[i]) != 0)
                return snprintf(diff, len, "transports.%s.senders[%zu]: %s vs %s", p->name, i, p->senders[i],
                                q->senders[i]),
                       false;
        for (size_t i = 0; i < ntp; i++) {
            const char *x = (const char *)&p->p + tp[i].off, *y = (const char *)&q->p + tp[i].off;
            snprintf(what, sizeof(what), "transports.%s.%s", p->name, tp[i].name);
            if (!conf_value_same(tp[i].type, x, y))
                return conf_differ(diff, len, what, tp[i].type, x, y);
        }
    }
    return true;
}
