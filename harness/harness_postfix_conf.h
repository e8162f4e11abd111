/*
 * harness_postfix_conf - main.cf, master.cf and a transport map for one private Postfix instance,
 * generated from a scenario's `mta:` section, so that a real Postfix runs the MTA the simulation
 * models (the replay's half of `tempfail replay`; `tempfail import --generate` shows the files).
 *
 * The scenario's values are written with Postfix's own names, in the place Postfix reads them:
 *   - once-per-MTA parameters (queue_run_delay, minimal_backoff_time, ...) in main.cf;
 *   - the default transport's (smtp) parameters as main.cf's globals (default_destination_*,
 *     smtp_*), so every other transport inherits them as Postfix's do;
 *   - another transport's scheduler parameters as main.cf's "<transport>_<param>": qmgr reads them
 *     from main.cf only, a master.cf -o would not reach it;
 *   - its smtp(8) client parameters as master.cf "-o name=value" on its own service line, and its
 *     maxproc in master.cf's column.
 * Only values that differ from Postfix's defaults (or from what the transport inherits) are
 * written, except smtp_tls_security_level: the model's default is STARTTLS when offered, Postfix's
 * is none, so it is always written.
 *
 * The instance's smtpd takes the injected traffic: its smtpd_recipient_limit is raised from Postfix's
 * 1000 to the most recipients a message of the scenario can have (traffic_max_rcpt), when more.
 *
 * Routing: smtp_dns_support_level = disabled, and a texthash: transport map (no postmap needed)
 * sends each domain to its receiver's server addresses, given by the caller in MX order, as a
 * nexthop list ("smtp:[127.0.0.2]:2525,[127.0.0.3]:2525": Postfix 3.5 and later try the list in
 * order, smtp_connect.c). Domains that no receiver claims go through "*" to the implicit default
 * receiver's addresses, when the caller gives them. The file's "#tempfail:" comments let
 * `tempfail import` tell the scenario's routing from the replay's plumbing; Postfix ignores them.
 *
 * What Postfix cannot express is an error naming the parameter: times that are not whole seconds
 * (Postfix counts its timers in seconds), a fractional failed cohort limit (an integer in Postfix),
 * an application pool (mta.kind: apppool), a transport named like one of Postfix's own services.
 * The environment the model adds (dns:, tls: round trips and CPU, disk:) is no Postfix parameter
 * and is not written.
 */
#ifndef HARNESS_POSTFIX_CONF_H
#define HARNESS_POSTFIX_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "scenarios/scenario.h"

/* The instance's own plumbing, given by the caller (the replay owns the directories). */
typedef struct harness_postfix_instance {
    const char *config_directory;  /* where the files will be: transport_maps = texthash:DIR/transport */
    const char *queue_directory;
    const char *data_directory;
    const char *maillog_file;      /* NULL: syslog; its directory becomes maillog_file_prefixes */
    const char *myhostname;        /* NULL: "tempfail-mta.test" */
    const char *inet_interfaces;   /* NULL: "127.0.0.1" */
    const char *inet_protocols;    /* NULL: "ipv4" */
    const char *smtpd_listen;      /* "127.0.0.1:10025": master.cf inet service for injection; NULL: none */
    const char *smtp_bind_address; /* NULL: not set */
    /* Per receiver of the scenario (s->nreceivers entries, the implicit default one last), a
     * NULL-terminated list of "127.0.0.2:2525" in MX order. A named receiver must have one; the
     * default receiver's may be NULL (then no "*" entry: unclaimed domains are not routed). */
    const char *const *const *receiver_addrs;
    /* Write smtp_connection_cache_destinations as Postfix matches it against this map: the bare
     * first address of each domain's receiver (smtp_connect.c), not the domain. A replay needs it
     * for the cache to apply; `tempfail import` cannot give the domains back from it. */
    bool nexthop_cache_destinations;
    /* destination_concurrency_feedback_debug = yes: qmgr logs every feedback event (the replay's
     * scheduler trace, harness_scheduler.h). */
    bool feedback_debug;
    /* An operator's fragments instead of an instance (`tempfail tune`): main.cf holds only the
     * scenario's parameters, master.cf only its transports' service entries (smtp's when its maxproc
     * differs), the transport map each listed domain's "domain transport:" (with the transport's
     * nexthop when it has one): the lines to paste into a running Postfix's own files. The other
     * fields are not read. */
    bool paste;
} harness_postfix_instance;

typedef struct harness_postfix_files {
    char *main_cf;
    char *master_cf;
    char *transport;
} harness_postfix_files;

/*
 * Generates the three files for scenario s. Returns 0, or -EINVAL with err naming the scenario key
 * Postfix cannot express ("mta.postfix.smtp_connect_timeout: 2.5s: Postfix counts this parameter in
 * whole seconds").
 */
int harness_postfix_conf_generate(const scenario *s, const harness_postfix_instance *in, harness_postfix_files *out,
                                  char *err, size_t errlen);
/* Writes main.cf, master.cf and transport into dir (each through a temporary name). 0 or -errno. */
int harness_postfix_conf_write(const harness_postfix_files *f, const char *dir, char *err, size_t errlen);
void harness_postfix_files_clear(harness_postfix_files *f);

/*
 * Compares what Postfix would run: the globals and every transport (name, domains, nexthop, every
 * parameter of the loader's table). Returns true when a and b agree; else false with diff naming
 * the first difference ("transports.slowmx.maxproc: 4 vs 100").
 */
bool harness_postfix_conf_same(const mta_config *a, const mta_config *b, char *diff, size_t len);

#endif
