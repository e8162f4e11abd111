/*
 * harness_postfix_import - a real Postfix configuration (main.cf, master.cf, a transport map; or
 * `postconf -n` and `postconf -M` output, which have the same syntax) read back into the `mta:`
 * section of a scenario, as YAML (`tempfail import`).
 *
 * What is imported:
 *   - main.cf parameters the loader knows (scenarios/scenario_mta.h is the list), as mta.postfix
 *     keys with their values as written; relayhost becomes mta.transports.smtp.nexthop;
 *   - every master.cf service of type unix whose command is smtp, as a transport with its maxproc
 *     and its -o overrides of smtp(8) parameters (the stock `relay` only when a map entry uses it);
 *   - transport map entries "domain transport:nexthop" as the transports' domains, and a nexthop
 *     when all the entries of a transport share one.
 * Everything else is listed in the warnings, one line each, "main.cf:12: myhostname: not used by
 * the model": parameters the model has no use for, qmgr parameters given as -o (qmgr reads main.cf
 * only, so they have no effect there), subdomain and address keys, per-domain nexthops; and the
 * loader's warnings about values it takes, at the file:line they came from ("main.cf:7:
 * default_destination_concurrency_positive_feedback: ignoring malformed or unreasonable feedback:
 * 1/sqrt_concurrency (Postfix uses 1)", as Postfix 3.7 itself warns).
 *
 * The files tempfail generates (harness_postfix_conf.h) carry "#tempfail:" comments: their instance
 * block is skipped without warnings, their map's nexthops are the replay's server addresses (not
 * the scenario's: those are in "#tempfail: nexthop" lines), and the entries after "#tempfail:
 * unlisted" only route the replay. So importing generated files gives back the scenario's section.
 *
 * Errors (the caller exits 2): a line that is not "name = value", a master.cf line without its
 * eight fields, a $name reference in a value the model would read (the loader refuses them), a map
 * entry for a transport master.cf does not have, a value the loader refuses (its message, placed at
 * the file:line it came from).
 */
#ifndef HARNESS_POSTFIX_IMPORT_H
#define HARNESS_POSTFIX_IMPORT_H

#include <stddef.h>

/* One input file: its text and the name messages give it ("main.cf", a path, "-"). */
typedef struct harness_postfix_input {
    const char *text;
    size_t len;
    const char *name;
} harness_postfix_input;

/*
 * Imports main_cf (required), master_cf and transport (each may be NULL). Returns 0 with *yaml the
 * "mta:" document and *warnings the warning lines (possibly ""), both the caller's to free; or
 * -EINVAL with err "master.cf:7: expected ... " and nothing allocated.
 */
int harness_postfix_import(const harness_postfix_input *main_cf, const harness_postfix_input *master_cf,
                           const harness_postfix_input *transport, char **yaml, char **warnings, char *err,
                           size_t errlen);

#endif
