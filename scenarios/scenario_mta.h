/*
 * scenario_mta - the loader's tables of main.cf parameters, for the tools that translate a real
 * Postfix configuration to and from a scenario's `mta:` section (harness/: tempfail import and the
 * replay's generated main.cf). The loader is the one authority on which parameters the model knows,
 * their types and where each lands in mta_config; these accessors let other layers read its tables
 * rather than keep a second list that would drift.
 */
#ifndef SCENARIO_MTA_H
#define SCENARIO_MTA_H

#include <stdbool.h>
#include <stddef.h>

#include "models/mta_params.h"

typedef enum {
    SCENARIO_MTA_UINT,     /* uint32_t, 0 allowed */
    SCENARIO_MTA_UINT1,    /* uint32_t, at least 1 */
    SCENARIO_MTA_FEEDBACK, /* mta_feedback */
    SCENARIO_MTA_NUMBER,   /* double >= 0 */
    SCENARIO_MTA_TIME,     /* sim_time_t, bare number = seconds */
    SCENARIO_MTA_DAYS,     /* sim_time_t, bare number = days (Postfix's unit for queue lifetimes) */
    SCENARIO_MTA_BOOL,
    SCENARIO_MTA_LIST,     /* char ** NULL-terminated */
    SCENARIO_MTA_TLS,      /* bool from smtp_tls_security_level */
} scenario_mta_type;

/* A per-transport parameter: its name in a transport block (and after "<transport>_"), and the
 * main.cf name that sets it for every transport. prefixed parameters are qmgr's (read from main.cf
 * only, as "<transport>_<name>"); the others are the smtp(8) client's (a master.cf -o reaches them),
 * and maxproc, which is master.cf's own column. */
typedef struct scenario_mta_tparam {
    const char *name;
    const char *global;
    bool prefixed;
    scenario_mta_type type;
    size_t off; /* in mta_transport_params */
} scenario_mta_tparam;

/* A parameter that exists once per MTA; off is in mta_config, or (size_t)-1 for
 * connection_cache_ttl_limit, which the loader applies as a cap and does not store. */
typedef struct scenario_mta_global {
    const char *name;
    scenario_mta_type type;
    size_t off;
} scenario_mta_global;

const scenario_mta_tparam *scenario_mta_tparams_table(size_t *n);
const scenario_mta_global *scenario_mta_globals_table(size_t *n);
/* Accepted by the loader with a warning ("not modelled, ignored"): myhostname, smtpd_*, ... */
bool scenario_mta_param_ignored(const char *name);
/* relay, lmtp, local, ...: services a stock master.cf has, whose per-transport forms are not errors. */
bool scenario_mta_stock_service(const char *name);

#endif
