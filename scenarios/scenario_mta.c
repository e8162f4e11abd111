/*
 * scenario_mta - the `mta:` section: the sending MTA in Postfix's own vocabulary.
 *
 * An operator should be able to paste `postconf -n` into `mta.postfix:` (as YAML: "name: value") and
 * get the MTA they run. So the keys are main.cf parameter names, values are read the way Postfix reads
 * them (times with a default unit, yes/no, "1/concurrency", comma or space separated lists), and the
 * per-transport forms `<transport>_destination_concurrency_limit` work for `smtp` and any transport
 * declared under `mta.transports` (transport_maps + master.cf in one place).
 *
 * Each transport's parameters are resolved the way Postfix resolves them, most specific first:
 *   transports.<t>.<param>  (a master.cf -o override)
 *   postfix.<t>_<param>     (main.cf per-transport parameter)
 *   postfix.default_<param> (main.cf global; smtp_* client parameters are global too)
 *   Postfix's default       (mta_transport_params_defaults)
 * and then adjusted as qmgr does when it creates the transport: a destination rate delay forces the
 * concurrency limit to 1, and initial_destination_concurrency is clamped to the limit.
 *
 * A pasted main.cf holds many parameters the model has no use for (myhostname, smtpd_*, alias_maps).
 * Those are accepted with a warning, so a paste works; anything else unknown is an error with the
 * nearest known name, so a typo in a parameter the model does use is never silently ignored.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_keys.h"
#include "scenarios/scenario_mta.h"

#define TP(field) offsetof(mta_transport_params, field)
static const scenario_mta_tparam scenario_mta_tparams[] = {
    {"maxproc", "default_process_limit", false, SCENARIO_MTA_UINT1, TP(maxproc)},
    {"initial_destination_concurrency", "initial_destination_concurrency", true, SCENARIO_MTA_UINT1,
     TP(initial_destination_concurrency)},
    {"destination_concurrency_limit", "default_destination_concurrency_limit", true, SCENARIO_MTA_UINT,
     TP(destination_concurrency_limit)},
    {"destination_concurrency_positive_feedback", "default_destination_concurrency_positive_feedback", true,
     SCENARIO_MTA_FEEDBACK, TP(positive_feedback)},
    {"destination_concurrency_negative_feedback", "default_destination_concurrency_negative_feedback", true,
     SCENARIO_MTA_FEEDBACK, TP(negative_feedback)},
    {"destination_concurrency_failed_cohort_limit", "default_destination_concurrency_failed_cohort_limit", true,
     SCENARIO_MTA_NUMBER, TP(failed_cohort_limit)},
    {"destination_recipient_limit", "default_destination_recipient_limit", true, SCENARIO_MTA_UINT,
     TP(destination_recipient_limit)},
    {"destination_rate_delay", "default_destination_rate_delay", true, SCENARIO_MTA_TIME, TP(destination_rate_delay)},
    {"transport_rate_delay", "default_transport_rate_delay", true, SCENARIO_MTA_TIME, TP(transport_rate_delay)},
    {"smtp_connection_cache_on_demand", "smtp_connection_cache_on_demand", false, SCENARIO_MTA_BOOL,
     TP(connection_cache_on_demand)},
    {"smtp_connection_cache_destinations", "smtp_connection_cache_destinations", false, SCENARIO_MTA_LIST,
     TP(connection_cache_destinations)},
    {"smtp_connection_cache_time_limit", "smtp_connection_cache_time_limit", false, SCENARIO_MTA_TIME,
     TP(connection_cache_time_limit)},
    {"smtp_connection_reuse_time_limit", "smtp_connection_reuse_time_limit", false, SCENARIO_MTA_TIME,
     TP(connection_reuse_time_limit)},
    {"smtp_connection_reuse_count_limit", "smtp_connection_reuse_count_limit", false, SCENARIO_MTA_UINT,
     TP(connection_reuse_count_limit)},
    {"smtp_mx_address_limit", "smtp_mx_address_limit", false, SCENARIO_MTA_UINT, TP(mx_address_limit)},
    {"smtp_mx_session_limit", "smtp_mx_session_limit", false, SCENARIO_MTA_UINT, TP(mx_session_limit)},
    {"smtp_connect_timeout", "smtp_connect_timeout", false, SCENARIO_MTA_TIME, TP(connect_timeout)},
    {"smtp_helo_timeout", "smtp_helo_timeout", false, SCENARIO_MTA_TIME, TP(helo_timeout)},
    {"smtp_mail_timeout", "smtp_mail_timeout", false, SCENARIO_MTA_TIME, TP(mail_timeout)},
    {"smtp_rcpt_timeout", "smtp_rcpt_timeout", false, SCENARIO_MTA_TIME, TP(rcpt_timeout)},
    {"smtp_data_init_timeout", "smtp_data_init_timeout", false, SCENARIO_MTA_TIME, TP(data_init_timeout)},
    {"smtp_data_xfer_timeout", "smtp_data_xfer_timeout", false, SCENARIO_MTA_TIME, TP(data_xfer_timeout)},
    {"smtp_data_done_timeout", "smtp_data_done_timeout", false, SCENARIO_MTA_TIME, TP(data_done_timeout)},
    {"smtp_rset_timeout", "smtp_rset_timeout", false, SCENARIO_MTA_TIME, TP(rset_timeout)},
    {"smtp_quit_timeout", "smtp_quit_timeout", false, SCENARIO_MTA_TIME, TP(quit_timeout)},
    {"smtp_tls_security_level", "smtp_tls_security_level", false, SCENARIO_MTA_TLS, TP(tls)},
    {"smtp_tls_connection_reuse", "smtp_tls_connection_reuse", false, SCENARIO_MTA_BOOL, TP(tls_connection_reuse)},
};
#undef TP
#define SCENARIO_MTA_NTPARAMS (sizeof(scenario_mta_tparams) / sizeof(scenario_mta_tparams[0]))

/* Parameters that exist once per MTA. connection_cache_ttl_limit is the scache server's cap on every
 * transport's smtp_connection_cache_time_limit, so it is applied at resolution, not stored. */
#define MC(field) offsetof(mta_config, field)
static const scenario_mta_global scenario_mta_globals[] = {
    {"queue_run_delay", SCENARIO_MTA_TIME, MC(queue_run_delay)},
    {"minimal_backoff_time", SCENARIO_MTA_TIME, MC(minimal_backoff_time)},
    {"maximal_backoff_time", SCENARIO_MTA_TIME, MC(maximal_backoff_time)},
    {"maximal_queue_lifetime", SCENARIO_MTA_DAYS, MC(maximal_queue_lifetime)},
    {"bounce_queue_lifetime", SCENARIO_MTA_DAYS, MC(bounce_queue_lifetime)},
    {"qmgr_message_active_limit", SCENARIO_MTA_UINT1, MC(qmgr_message_active_limit)},
    {"qmgr_message_recipient_limit", SCENARIO_MTA_UINT1, MC(qmgr_message_recipient_limit)},
    {"max_use", SCENARIO_MTA_UINT, MC(max_use)},
    {"max_idle", SCENARIO_MTA_TIME, MC(max_idle)},
    {"connection_cache_ttl_limit", SCENARIO_MTA_TIME, (size_t)-1},
};
#undef MC
#define SCENARIO_MTA_NGLOBALS (sizeof(scenario_mta_globals) / sizeof(scenario_mta_globals[0]))

/* main.cf parameters a pasted configuration commonly holds that do not affect outbound delivery as
 * modelled: accepted with a warning. */
static const char *const scenario_mta_ignored[] = {
    "myhostname", "mydomain", "myorigin", "mydestination", "mynetworks", "mynetworks_style", "inet_interfaces",
    "inet_protocols", "alias_maps", "alias_database", "compatibility_level", "biff", "append_dot_mydomain",
    "readme_directory", "html_directory", "manpage_directory", "sample_directory", "sendmail_path",
    "newaliases_path", "mailq_path", "setgid_group", "mail_owner", "command_directory", "daemon_directory",
    "data_directory", "queue_directory", "meta_directory", "shlib_directory", "recipient_delimiter",
    "mailbox_size_limit", "message_size_limit", "home_mailbox", "mailbox_command", "local_recipient_maps",
    "relay_domains", "transport_maps", "header_checks", "body_checks", "smtputf8_enable", "maillog_file",
    "debug_peer_level", "debug_peer_list", "notify_classes", "disable_vrfy_command", "delay_warning_time",
    "masquerade_domains", "canonical_maps", "sender_canonical_maps", "recipient_canonical_maps",
    "default_database_type", "unknown_local_recipient_reject_code", "non_smtpd_milters", "content_filter",
    "always_bcc", "soft_bounce", "smtp_bind_address", "smtp_bind_address6", "smtp_helo_name",
    "smtp_host_lookup", "disable_dns_lookups", "smtp_address_preference", "smtp_skip_5xx_greeting",
    "smtp_randomize_addresses", "default_transport", "relay_transport", "in_flow_delay",
};
static const char *const scenario_mta_ignored_prefixes[] = {
    "smtpd_", "smtp_tls_", "smtp_sasl_", "lmtp_", "local_", "virtual_", "milter_", "tls_", "postscreen_",
    "proxy_", "anvil_", "cleanup_", "smtp_dns_", "smtp_generic_", "address_verify_", "dnsblog_", "tlsproxy_",
};
/* master.cf services a stock Postfix has; their per-transport parameters are not an error. */
static const char *const scenario_mta_stock_services[] = {"relay", "lmtp", "local", "virtual", "error", "retry"};

/* One source of per-transport values, and which of them it sets. */
typedef struct scenario_mta_layer {
    mta_transport_params v;
    uint64_t set; /* bit i: scenario_mta_tparams[i] */
} scenario_mta_layer;

typedef struct scenario_mta_work {
    scenario_mta_layer global;
    scenario_mta_layer *prefixed; /* per transport */
    scenario_mta_layer *block;    /* per transport */
    size_t n;
    sim_time_t ttl_limit;
} scenario_mta_work;

static void scenario_mta_layer_clear(scenario_mta_layer *l)
{
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++)
        if (scenario_mta_tparams[i].type == SCENARIO_MTA_LIST)
            scenario_conv_strv_free(*(char ***)((char *)&l->v + scenario_mta_tparams[i].off));
    memset(l, 0, sizeof(*l));
}

/* Postfix writes lists separated by commas and/or blanks; YAML lists are welcome too. */
static bool scenario_mta_list(scenario_conv *c, yaml_node_t *n, char ***out)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return scenario_conv_node_strv(c, n, out, NULL);
    const char *t = scenario_conv_scalar(c, n, "a list");
    if (!t)
        return false;
    size_t cnt = 0, len = strlen(t);
    char **v = calloc(len / 2 + 2, sizeof(*v));
    if (!v)
        return scenario_conv_nomem(c);
    for (const char *p = t; *p;) {
        p += strspn(p, ", \t");
        size_t w = strcspn(p, ", \t");
        if (w == 0)
            break;
        if (memchr(p, ':', w) || memchr(p, '/', w)) {
            scenario_conv_strv_free(v);
            return scenario_conv_fail(c, n, "lookup tables like '%.*s' are not supported; list the destinations",
                                      (int)w, p);
        }
        if (!(v[cnt++] = strndup(p, w))) {
            scenario_conv_strv_free(v);
            return scenario_conv_nomem(c);
        }
        p += w;
    }
    scenario_conv_strv_free(*out);
    *out = v;
    return true;
}

/* Postfix time syntax with a default unit: "300s", "5m", "300" (seconds, or days for lifetimes). */
static bool scenario_mta_time(scenario_conv *c, yaml_node_t *n, bool days, sim_time_t *out)
{
    const char *t = scenario_conv_scalar(c, n, "a duration");
    if (!t)
        return false;
    if (days && t[0] && strspn(t, "0123456789") == strlen(t)) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.40sd", t);
        if (scenario_parse_duration(buf, out) == 0)
            return true;
    }
    return scenario_conv_node_duration(c, n, out);
}

/* Converts n by type into the field at dst. */
static bool scenario_mta_value(scenario_conv *c, yaml_node_t *n, scenario_mta_type type, void *dst)
{
    const char *t = scenario_conv_text(n);
    if (t && strchr(t, '$'))
        return scenario_conv_fail(c, n,
                                  "parameter references like '%s' are not supported; write the value itself", t);
    uint64_t u;
    switch (type) {
    case SCENARIO_MTA_UINT:
    case SCENARIO_MTA_UINT1:
        if (!scenario_conv_node_uint(c, n, type == SCENARIO_MTA_UINT1, UINT32_MAX, &u))
            return false;
        *(uint32_t *)dst = (uint32_t)u;
        return true;
    case SCENARIO_MTA_FEEDBACK:
        if (!(t = scenario_conv_scalar(c, n, "a feedback value")))
            return false;
        /* get_mail_conf_str(name, def, 1, 0): qmgr reads neither parameter when it is empty. */
        if (!*t)
            return scenario_conv_fail(c, n,
                                      "expected a feedback like 1, 1/4 or 1/concurrency, got nothing (Postfix's "
                                      "queue manager stops: fatal: bad string length 0 < 1)");
        /* A value Postfix 3.7 ignores gets its warning, and the 1 it uses (mta_params.c). */
        if (mta_feedback_parse(t, dst) < 0)
            return scenario_conv_warn(c, n, "ignoring malformed or unreasonable feedback: %s (Postfix uses 1)", t);
        return true;
    case SCENARIO_MTA_NUMBER:
        if (!scenario_conv_node_number(c, n, dst))
            return false;
        if (*(double *)dst < 0)
            return scenario_conv_fail(c, n, "must not be negative, got '%s'", t);
        return true;
    case SCENARIO_MTA_TIME:
    case SCENARIO_MTA_DAYS:
        return scenario_mta_time(c, n, type == SCENARIO_MTA_DAYS, dst);
    case SCENARIO_MTA_BOOL:
        return scenario_conv_node_bool(c, n, dst);
    case SCENARIO_MTA_LIST:
        return scenario_mta_list(c, n, dst);
    case SCENARIO_MTA_TLS: {
        static const char *const levels[] = {"none", "may", "encrypt", "dane", "dane-only", "fingerprint",
                                             "verify", "secure"};
        int level;
        if (!scenario_conv_node_enum(c, n, levels, sizeof(levels) / sizeof(levels[0]), &level))
            return false;
        *(bool *)dst = level != 0;
        return true;
    }
    }
    return false;
}

static bool scenario_mta_layer_set(scenario_conv *c, scenario_mta_layer *l, size_t i, yaml_node_t *n)
{
    if (!scenario_mta_value(c, n, scenario_mta_tparams[i].type, (char *)&l->v + scenario_mta_tparams[i].off))
        return false;
    l->set |= (uint64_t)1 << i;
    return true;
}

/* Copies the values l sets into p (lists are duplicated: p owns its own). */
static bool scenario_mta_layer_apply(scenario_conv *c, const scenario_mta_layer *l, mta_transport_params *p)
{
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++) {
        if (!(l->set & ((uint64_t)1 << i)))
            continue;
        const scenario_mta_tparam *tp = &scenario_mta_tparams[i];
        const char *src = (const char *)&l->v + tp->off;
        char *dst = (char *)p + tp->off;
        switch (tp->type) {
        case SCENARIO_MTA_UINT:
        case SCENARIO_MTA_UINT1:
            memcpy(dst, src, sizeof(uint32_t));
            break;
        case SCENARIO_MTA_FEEDBACK:
            memcpy(dst, src, sizeof(mta_feedback));
            break;
        case SCENARIO_MTA_NUMBER:
            memcpy(dst, src, sizeof(double));
            break;
        case SCENARIO_MTA_TIME:
        case SCENARIO_MTA_DAYS:
            memcpy(dst, src, sizeof(sim_time_t));
            break;
        case SCENARIO_MTA_BOOL:
        case SCENARIO_MTA_TLS:
            memcpy(dst, src, sizeof(bool));
            break;
        case SCENARIO_MTA_LIST: {
            char **from = *(char **const *)src, ***to = (char ***)dst;
            size_t n = 0;
            while (from[n])
                n++;
            char **v = calloc(n + 1, sizeof(*v));
            if (!v)
                return scenario_conv_nomem(c);
            for (size_t j = 0; j < n; j++) {
                if (!(v[j] = strdup(from[j]))) {
                    scenario_conv_strv_free(v);
                    return scenario_conv_nomem(c);
                }
            }
            scenario_conv_strv_free(*to);
            *to = v;
            break;
        }
        }
    }
    return true;
}

static bool scenario_mta_is_ignored(const char *key);

const scenario_mta_tparam *scenario_mta_tparams_table(size_t *n)
{
    *n = SCENARIO_MTA_NTPARAMS;
    return scenario_mta_tparams;
}

const scenario_mta_global *scenario_mta_globals_table(size_t *n)
{
    *n = SCENARIO_MTA_NGLOBALS;
    return scenario_mta_globals;
}

bool scenario_mta_stock_service(const char *name)
{
    for (size_t s = 0; s < sizeof(scenario_mta_stock_services) / sizeof(scenario_mta_stock_services[0]); s++)
        if (strcmp(name, scenario_mta_stock_services[s]) == 0)
            return true;
    return false;
}

bool scenario_mta_param_ignored(const char *name)
{
    return scenario_mta_is_ignored(name);
}

static bool scenario_mta_is_ignored(const char *key)
{
    for (size_t i = 0; i < sizeof(scenario_mta_ignored) / sizeof(scenario_mta_ignored[0]); i++)
        if (strcmp(key, scenario_mta_ignored[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(scenario_mta_ignored_prefixes) / sizeof(scenario_mta_ignored_prefixes[0]); i++)
        if (strncmp(key, scenario_mta_ignored_prefixes[i], strlen(scenario_mta_ignored_prefixes[i])) == 0)
            return true;
    return false;
}

/* The error for an unknown main.cf name: suggest among every name this scenario accepts. With
 * transport set (the key looked like <transport>_<param> for an undeclared transport), a close
 * parameter name wins, else the message is about the transport. */
static bool scenario_mta_unknown_param(scenario_conv *c, yaml_node_t *k, const char *key, const mta_config *m,
                                       const scenario_mta_tparam *transport)
{
    size_t cap = SCENARIO_MTA_NGLOBALS + SCENARIO_MTA_NTPARAMS * (m->ntransports + 1) +
                 sizeof(scenario_mta_ignored) / sizeof(scenario_mta_ignored[0]) + 1;
    const char **names = calloc(cap, sizeof(*names));
    char *store = NULL;
    size_t n = 0, nstore = 0;
    if (!names)
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < SCENARIO_MTA_NGLOBALS; i++)
        names[n++] = scenario_mta_globals[i].name;
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++)
        names[n++] = scenario_mta_tparams[i].global;
    names[n++] = "relayhost";
    /* <transport>_<param> for the declared transports */
    size_t need = 0;
    for (size_t t = 0; t < m->ntransports; t++)
        for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++)
            if (scenario_mta_tparams[i].prefixed)
                need += strlen(m->transports[t].name) + strlen(scenario_mta_tparams[i].name) + 2;
    if (need && !(store = malloc(need))) {
        free(names);
        return scenario_conv_nomem(c);
    }
    for (size_t t = 0; t < m->ntransports; t++) {
        for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++) {
            if (!scenario_mta_tparams[i].prefixed)
                continue;
            int w = snprintf(store + nstore, need - nstore, "%s_%s", m->transports[t].name,
                             scenario_mta_tparams[i].name);
            names[n++] = store + nstore;
            nstore += (size_t)w + 1;
        }
    }
    for (size_t i = 0; i < sizeof(scenario_mta_ignored) / sizeof(scenario_mta_ignored[0]); i++)
        names[n++] = scenario_mta_ignored[i];
    const char *near = scenario_keys_nearest(key, names, n);
    /* "fast_destination_concurrency_limit" is near "default_..." by the length rule, but names a
     * transport; only a plain typo of the prefix ("defualt_") is taken for a misspelling. */
    if (near && transport && scenario_keys_distance(key, near) > 2)
        near = NULL;
    if (!near && transport)
        scenario_conv_fail(c, k,
                           "unknown transport '%.*s': declare it under mta.transports (or set %s for every "
                           "transport)",
                           (int)(strlen(key) - strlen(transport->name) - 1), key, transport->global);
    else if (near)
        scenario_conv_fail(c, k, "unknown main.cf parameter '%s' (did you mean '%s'?)", key, near);
    else
        scenario_conv_fail(c, k, "unknown main.cf parameter '%s' (docs/scenario.md lists the ones the model uses)",
                           key);
    free(names);
    free(store);
    return false;
}

/* One key of mta.postfix. */
static bool scenario_mta_postfix_param(scenario_conv *c, yaml_node_t *k, yaml_node_t *v, mta_config *m,
                                       scenario_mta_work *w)
{
    const char *key = scenario_conv_text(k);
    if (!key)
        return scenario_conv_fail(c, k, "expected a parameter name");
    size_t old = scenario_conv_push_key(c, key);
    for (size_t i = 0; i < SCENARIO_MTA_NGLOBALS; i++) {
        if (strcmp(key, scenario_mta_globals[i].name) != 0)
            continue;
        void *dst = scenario_mta_globals[i].off == (size_t)-1 ? (void *)&w->ttl_limit
                                                              : (char *)m + scenario_mta_globals[i].off;
        if (!scenario_mta_value(c, v, scenario_mta_globals[i].type, dst))
            return false;
        scenario_conv_pop(c, old);
        return true;
    }
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++) {
        if (strcmp(key, scenario_mta_tparams[i].global) == 0) {
            if (!scenario_mta_layer_set(c, &w->global, i, v))
                return false;
            scenario_conv_pop(c, old);
            return true;
        }
    }
    /* <transport>_<param>: try every declared transport as the prefix (names may hold '_'). */
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++) {
        const scenario_mta_tparam *tp = &scenario_mta_tparams[i];
        size_t kl = strlen(key), sl = strlen(tp->name);
        if (!tp->prefixed || kl <= sl + 1 || key[kl - sl - 1] != '_' || strcmp(key + kl - sl, tp->name) != 0)
            continue;
        size_t pl = kl - sl - 1;
        for (size_t t = 0; t < m->ntransports; t++) {
            if (strlen(m->transports[t].name) == pl && strncmp(key, m->transports[t].name, pl) == 0) {
                if (!scenario_mta_layer_set(c, &w->prefixed[t], i, v))
                    return false;
                scenario_conv_pop(c, old);
                return true;
            }
        }
        for (size_t s = 0; s < sizeof(scenario_mta_stock_services) / sizeof(scenario_mta_stock_services[0]); s++) {
            if (strlen(scenario_mta_stock_services[s]) == pl && strncmp(key, scenario_mta_stock_services[s], pl) == 0) {
                bool ok = scenario_conv_warn(c, k, "transport '%.*s' is not declared under mta.transports; ignored",
                                             (int)pl, key);
                scenario_conv_pop(c, old);
                return ok;
            }
        }
        return scenario_mta_unknown_param(c, k, key, m, tp);
    }
    if (strcmp(key, "relayhost") == 0)
        return scenario_conv_fail(c, k,
                                  "relayhost is not supported: give the transport a nexthop instead "
                                  "(mta.transports.smtp.nexthop: \"[relay.example]:25\")");
    if (scenario_mta_is_ignored(key)) {
        bool ok = scenario_conv_warn(c, k, "not modelled, ignored");
        scenario_conv_pop(c, old);
        return ok;
    }
    return scenario_mta_unknown_param(c, k, key, m, NULL);
}

/* The transport block keys: routing, maxproc and every per-transport parameter (-o overrides). */
static const char **scenario_mta_block_keys(size_t *n)
{
    static const char *keys[3 + SCENARIO_MTA_NTPARAMS];
    keys[0] = "domains";
    keys[1] = "nexthop";
    keys[2] = "senders";
    size_t k = 3;
    for (size_t i = 0; i < SCENARIO_MTA_NTPARAMS; i++)
        keys[k++] = scenario_mta_tparams[i].name;
    *n = k;
    return keys;
}

static bool scenario_mta_block(scenario_conv *c, yaml_node_t *map, mta_transport_config *t, scenario_mta_layer *l)
{
    size_t nkeys;
    const char **keys = scenario_mta_block_keys(&nkeys);
    if (!scenario_conv_keys(c, map, keys, nkeys))
        return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *key = scenario_conv_text(scenario_conv_node(c, p->key));
        yaml_node_t *v = scenario_conv_node(c, p->value);
        if (scenario_conv_is_null(v))
            continue;
        size_t old = scenario_conv_push_key(c, key);
        if (strcmp(key, "domains") == 0) {
            if (v->type != YAML_SEQUENCE_NODE && v->type != YAML_SCALAR_NODE)
                return scenario_conv_fail(c, v, "expected a list of domains");
            size_t n = v->type == YAML_SEQUENCE_NODE
                           ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
                           : 1;
            if (!(t->domains = calloc(n, sizeof(*t->domains))))
                return scenario_conv_nomem(c);
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *d = v->type == YAML_SEQUENCE_NODE ? scenario_conv_node(c, v->data.sequence.items.start[i])
                                                               : v;
                size_t o2 = v->type == YAML_SEQUENCE_NODE ? scenario_conv_push_index(c, i) : c->pathlen;
                t->ndomains = i + 1;
                if (!scenario_conv_node_domain(c, d, &t->domains[i]))
                    return false;
                scenario_conv_pop(c, o2);
            }
        } else if (strcmp(key, "senders") == 0) {
            if (!scenario_conv_node_strv(c, v, &t->senders, &t->nsenders))
                return false;
            for (size_t i = 0; i < t->nsenders; i++) {
                char *a = t->senders[i];
                const char *at = strchr(a, '@');
                bool ok = strcmp(a, "<>") == 0 ||
                          (at && at[1] && !strchr(at + 1, '@') && !strpbrk(a, " \t,<>") && strlen(a) < 256);
                if (!ok) {
                    if (v->type == YAML_SEQUENCE_NODE)
                        scenario_conv_push_index(c, i);
                    return scenario_conv_fail(c, v->type == YAML_SEQUENCE_NODE ? scenario_conv_node(c, v->data.sequence.items.start[i]) : v,
                                              "expected an envelope sender like news@example.test, a whole "
                                              "domain like @example.test, or <> for the null sender, got '%s'", a);
                }
                for (char *q = a; *q; q++)
                    *q = (char)tolower((unsigned char)*q);
            }
        } else if (strcmp(key, "nexthop") == 0) {
            if (!scenario_conv_node_str(c, v, &t->nexthop))
                return false;
            if (!t->nexthop[0] || strpbrk(t->nexthop, " \t,"))
                return scenario_conv_fail(c, v, "expected a nexthop like relay.example or [10.0.0.1]:25, got '%s'",
                                          t->nexthop);
        } else {
            size_t i;
            for (i = 0; i < SCENARIO_MTA_NTPARAMS && strcmp(key, scenario_mta_tparams[i].name) != 0; i++)
                ;
            if (!scenario_mta_layer_set(c, l, i, v))
                return false;
        }
        scenario_conv_pop(c, old);
    }
    return true;
}

static bool scenario_mta_transports(scenario_conv *c, yaml_node_t *map, mta_config *m, scenario_mta_work *w)
{
    size_t n = 1;
    if (map) {
        if (!scenario_conv_mapping(c, map, "a mapping of transport name: {domains: [...], ...}"))
            return false;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
            const char *name = scenario_conv_text(scenario_conv_node(c, p->key));
            if (!name || strcmp(name, "smtp") != 0)
                n++;
        }
    }
    free(m->transports[0].name);
    free(m->transports);
    m->transports = calloc(n, sizeof(*m->transports));
    w->prefixed = calloc(n, sizeof(*w->prefixed));
    w->block = calloc(n, sizeof(*w->block));
    m->ntransports = 0;
    w->n = n;
    if (!m->transports || !w->prefixed || !w->block || !(m->transports[0].name = strdup("smtp")))
        return scenario_conv_nomem(c);
    m->ntransports = 1;
    if (!map)
        return true;
    /* Names first: mta.postfix may refer to any of them. */
    bool smtp_seen = false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_conv_node(c, p->key);
        char *name = NULL;
        if (!scenario_conv_node_ident(c, k, &name))
            return false;
        if (strcmp(name, "smtp") == 0 && !smtp_seen) {
            free(name);
            smtp_seen = true;
            continue;
        }
        for (size_t t = 0; t < m->ntransports; t++) {
            if (strcmp(m->transports[t].name, name) == 0) {
                scenario_conv_push_key(c, name);
                free(name);
                return scenario_conv_fail(c, k, "transport declared twice");
            }
        }
        m->transports[m->ntransports++].name = name;
    }
    return true;
}

static bool scenario_mta_transport_blocks(scenario_conv *c, yaml_node_t *map, mta_config *m, scenario_mta_work *w)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *name = scenario_conv_text(scenario_conv_node(c, p->key));
        yaml_node_t *v = scenario_conv_node(c, p->value);
        size_t t;
        for (t = 0; t < m->ntransports && strcmp(m->transports[t].name, name) != 0; t++)
            ;
        size_t old = scenario_conv_push_key(c, name);
        if (!scenario_conv_is_null(v) && !scenario_mta_block(c, v, &m->transports[t], &w->block[t]))
            return false;
        scenario_conv_pop(c, old);
    }
    /* A domain goes to one transport (transport_maps has one entry per key). */
    for (size_t t = 0; t < m->ntransports; t++) {
        for (size_t i = 0; i < m->transports[t].ndomains; i++) {
            const char *d = m->transports[t].domains[i];
            for (size_t u = 0; u <= t; u++) {
                for (size_t j = 0; j < (u == t ? i : m->transports[u].ndomains); j++) {
                    if (strcmp(m->transports[u].domains[j], d) != 0)
                        continue;
                    yaml_node_t *tb = scenario_conv_get(c, map, m->transports[t].name);
                    yaml_node_t *dn = scenario_conv_get(c, tb, "domains");
                    if (dn && dn->type == YAML_SEQUENCE_NODE)
                        dn = scenario_conv_node(c, dn->data.sequence.items.start[i]);
                    scenario_conv_push_key(c, m->transports[t].name);
                    scenario_conv_push_key(c, "domains");
                    if (dn && dn->type == YAML_SCALAR_NODE && scenario_conv_get(c, tb, "domains") != dn)
                        scenario_conv_push_index(c, i);
                    if (u == t)
                        return scenario_conv_fail(c, dn, "domain '%s' is listed twice", d);
                    return scenario_conv_fail(c, dn, "domain '%s' is already routed to transport '%s'", d,
                                              m->transports[u].name);
                }
            }
        }
    }
    /* A sender goes to one transport (one sender_dependent_default_transport_maps entry per key). */
    for (size_t t = 0; t < m->ntransports; t++)
        for (size_t i = 0; i < m->transports[t].nsenders; i++)
            for (size_t u = 0; u <= t; u++)
                for (size_t j = 0; j < (u == t ? i : m->transports[u].nsenders); j++) {
                    const char *a = m->transports[t].senders[i];
                    if (strcmp(m->transports[u].senders[j], a) != 0)
                        continue;
                    yaml_node_t *sn = scenario_conv_get(c, scenario_conv_get(c, map, m->transports[t].name), "senders");
                    scenario_conv_push_key(c, m->transports[t].name);
                    scenario_conv_push_key(c, "senders");
                    if (sn && sn->type == YAML_SEQUENCE_NODE) {
                        scenario_conv_push_index(c, i);
                        sn = scenario_conv_node(c, sn->data.sequence.items.start[i]);
                    }
                    if (u == t)
                        return scenario_conv_fail(c, sn, "sender '%s' is listed twice", a);
                    return scenario_conv_fail(c, sn, "sender '%s' is already routed to transport '%s'", a,
                                              m->transports[u].name);
                }
    return true;
}

static bool scenario_mta_resolve(scenario_conv *c, mta_config *m, scenario_mta_work *w)
{
    for (size_t t = 0; t < m->ntransports; t++) {
        mta_transport_params *p = &m->transports[t].p;
        mta_transport_params_defaults(p);
        if (!scenario_mta_layer_apply(c, &w->global, p) || !scenario_mta_layer_apply(c, &w->prefixed[t], p) ||
            !scenario_mta_layer_apply(c, &w->block[t], p))
            return false;
        if (!p->connection_cache_destinations && !(p->connection_cache_destinations = calloc(1, sizeof(char *))))
            return scenario_conv_nomem(c);
        /* The loaded configuration shows what Postfix would run (the model's rule, not a copy). */
        mta_transport_params_resolve(p);
        /* scache caps the time a connection may stay cached. */
        if (p->connection_cache_time_limit > w->ttl_limit)
            p->connection_cache_time_limit = w->ttl_limit;
    }
    return true;
}

static bool scenario_mta_source_ips(scenario_conv *c, yaml_node_t *v, mta_config *m)
{
    size_t old = scenario_conv_push_key(c, "source_ips");
    char **ips = NULL;
    size_t n = 0;
    if (!scenario_conv_node_strv(c, v, &ips, &n))
        return false;
    if (n == 0) {
        scenario_conv_strv_free(ips);
        return scenario_conv_fail(c, v, "needs at least one address");
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, ips[i], buf) != 1 && inet_pton(AF_INET6, ips[i], buf) != 1) {
            yaml_node_t *item =
                v->type == YAML_SEQUENCE_NODE ? scenario_conv_node(c, v->data.sequence.items.start[i]) : v;
            if (v->type == YAML_SEQUENCE_NODE)
                scenario_conv_push_index(c, i);
            scenario_conv_fail(c, item, "expected an IP address like 192.0.2.1 or 2001:db8::1, got '%s'", ips[i]);
            scenario_conv_strv_free(ips);
            return false;
        }
    }
    scenario_conv_strv_free(m->source_ips);
    m->source_ips = ips;
    m->nsource_ips = n;
    scenario_conv_pop(c, old);
    return true;
}

/* qmgr_start: one duration per host, each inside the cycle of queue_run_delay (read after it). */
static bool scenario_mta_qmgr_start(scenario_conv *c, yaml_node_t *v, mta_config *m)
{
    size_t old = scenario_conv_push_key(c, "qmgr_start");
    const char *word = v->type == YAML_SCALAR_NODE ? scenario_conv_text(v) : NULL;
    if (word && strcmp(word, "random") == 0) {
        free(m->qmgr_start);
        m->qmgr_start = NULL;
        m->nqmgr_start = 0;
        scenario_conv_pop(c, old);
        return true;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, v, "expected 'random' or a list of durations, one per host (mta.hosts: %u), "
                                  "like [0s, 7s]", m->hosts);
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n != m->hosts)
        return scenario_conv_fail(c, v, "has %zu entries for %u host%s: give one per host", n, m->hosts,
                                  m->hosts == 1 ? "" : "s");
    sim_time_t *t = calloc(n, sizeof(*t));
    if (!t)
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = scenario_conv_node(c, v->data.sequence.items.start[i]);
        size_t oi = scenario_conv_push_index(c, i);
        if (!scenario_conv_node_duration(c, item, &t[i])) {
            free(t);
            return false;
        }
        if (t[i] >= m->queue_run_delay) {
            char d[32];
            sim_time_format(d, sizeof(d), m->queue_run_delay);
            free(t);
            return scenario_conv_fail(c, item, "must be shorter than queue_run_delay (%s): the scans repeat every "
                                      "queue_run_delay", d);
        }
        scenario_conv_pop(c, oi);
    }
    free(m->qmgr_start);
    m->qmgr_start = t;
    m->nqmgr_start = n;
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_mta_latency(scenario_conv *c, yaml_node_t *mta, mta_config *m)
{
    latency_config *l = &m->latency;
    yaml_node_t *v;
    size_t old;
    if ((v = scenario_conv_get(c, mta, "dns"))) {
        static const char *const keys[] = {"mx_lookup", "tempfail", "ttl"};
        old = scenario_conv_push_key(c, "dns");
        if (!scenario_conv_keys(c, v, keys, 3) ||
            !scenario_dist_field(c, v, "mx_lookup", SCENARIO_CONV_SECONDS, &l->dns_mx) ||
            !scenario_conv_probability(c, v, "tempfail", false, &l->dns_tempfail) ||
            !scenario_conv_duration(c, v, "ttl", false, &l->dns_ttl))
            return false;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, mta, "tls"))) {
        static const char *const keys[] = {"enabled", "round_trips", "cpu"};
        old = scenario_conv_push_key(c, "tls");
        if (!scenario_conv_keys(c, v, keys, 3) || !scenario_conv_bool(c, v, "enabled", false, &l->tls) ||
            !scenario_conv_u32(c, v, "round_trips", false, 0, &l->tls_round_trips) ||
            !scenario_dist_field(c, v, "cpu", SCENARIO_CONV_SECONDS, &l->tls_cpu))
            return false;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, mta, "cpu"))) {
        static const char *const keys[] = {"cores",         "per_delivery", "per_message",
                                           "process_start", "wakeup",       "wakeup_after"};
        old = scenario_conv_push_key(c, "cpu");
        if (!scenario_conv_keys(c, v, keys, 6) || !scenario_conv_u32(c, v, "cores", false, 0, &l->cores) ||
            !scenario_dist_field(c, v, "per_delivery", SCENARIO_CONV_SECONDS, &l->cpu_per_delivery) ||
            !scenario_dist_field(c, v, "per_message", SCENARIO_CONV_SECONDS, &l->cpu_per_message) ||
            !scenario_dist_field(c, v, "process_start", SCENARIO_CONV_SECONDS, &l->cpu_process_start) ||
            !scenario_dist_field(c, v, "wakeup", SCENARIO_CONV_SECONDS, &l->cpu_wakeup) ||
            !scenario_conv_duration(c, v, "wakeup_after", false, &l->cpu_wakeup_after))
            return false;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, mta, "disk"))) {
        static const char *const keys[] = {"fsync", "writes_per_message", "writes_per_delivery"};
        old = scenario_conv_push_key(c, "disk");
        l->disk_enabled = true;
        if (!scenario_conv_keys(c, v, keys, 3) ||
            !scenario_dist_field(c, v, "fsync", SCENARIO_CONV_SECONDS, &l->disk_fsync) ||
            !scenario_conv_u32(c, v, "writes_per_message", false, 0, &l->disk_writes_per_message) ||
            !scenario_conv_u32(c, v, "writes_per_delivery", false, 0, &l->disk_writes_per_delivery))
            return false;
        scenario_conv_pop(c, old);
    }
    return true;
}

static bool scenario_mta_apppool(scenario_conv *c, yaml_node_t *v, mta_config *m)
{
    static const char *const keys[] = {"workers", "retry_delay", "jitter", "max_attempts", "reuse"};
    mta_apppool_config *a = &m->apppool;
    size_t old = scenario_conv_push_key(c, "apppool");
    if (!scenario_conv_keys(c, v, keys, 5) || !scenario_conv_u32(c, v, "workers", false, 1, &a->workers) ||
        !scenario_conv_duration(c, v, "retry_delay", false, &a->retry_delay) ||
        !scenario_conv_probability(c, v, "jitter", false, &a->jitter) ||
        !scenario_conv_u32(c, v, "max_attempts", false, 0, &a->max_attempts) ||
        !scenario_conv_bool(c, v, "reuse", false, &a->reuse))
        return false;
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_mta_checks(scenario_conv *c, yaml_node_t *postfix, mta_config *m)
{
    size_t old = scenario_conv_push_key(c, "postfix");
    if (!scenario_conv_positive(c, postfix, "queue_run_delay", m->queue_run_delay) ||
        !scenario_conv_positive(c, postfix, "minimal_backoff_time", m->minimal_backoff_time))
        return false;
    if (m->maximal_backoff_time < m->minimal_backoff_time) /* either may be Postfix's default */
        return scenario_conv_fail_order(c, postfix, "minimal_backoff_time", m->minimal_backoff_time,
                                        "maximal_backoff_time", m->maximal_backoff_time, false);
    /* Postfix never keeps bounces longer than other mail. */
    if (m->bounce_queue_lifetime > m->maximal_queue_lifetime)
        m->bounce_queue_lifetime = m->maximal_queue_lifetime;
    scenario_conv_pop(c, old);
    return true;
}

bool scenario_mta_convert(scenario_conv *c, yaml_node_t *mta, mta_config *m)
{
    static const char *const keys[] = {"kind", "hosts", "source_ips", "qmgr_start", "postfix", "transports",
                                       "apppool", "dns", "tls", "cpu", "disk"};
    static const char *const kinds[] = {[MTA_KIND_POSTFIX] = "postfix", [MTA_KIND_APPPOOL] = "apppool"};
    scenario_mta_work w = {.ttl_limit = 2 * SIM_SEC};
    bool ok = false;
    yaml_node_t *v, *postfix = NULL, *transports = NULL;

    /* Defaults first; the scenario overrides what it names. */
    mta_config_defaults(m);
    m->latency.tls = true;
    if (!(m->source_ips = calloc(2, sizeof(char *))) || !(m->source_ips[0] = strdup("192.0.2.1"))) {
        scenario_conv_nomem(c);
        goto done;
    }
    m->nsource_ips = 1;
    if (!(m->transports = calloc(1, sizeof(*m->transports))) || !(m->transports[0].name = strdup("smtp"))) {
        scenario_conv_nomem(c);
        goto done;
    }
    m->ntransports = 1;

    if (mta && !scenario_conv_keys(c, mta, keys, sizeof(keys) / sizeof(keys[0])))
        goto done;
    if ((v = scenario_conv_get(c, mta, "kind"))) {
        int k;
        size_t old = scenario_conv_push_key(c, "kind");
        if (!scenario_conv_node_enum(c, v, kinds, 2, &k))
            goto done;
        m->kind = (mta_kind)k;
        scenario_conv_pop(c, old);
    }
    if (!scenario_conv_u32(c, mta, "hosts", false, 1, &m->hosts))
        goto done;
    if ((v = scenario_conv_get(c, mta, "source_ips")) && !scenario_mta_source_ips(c, v, m))
        goto done;

    transports = scenario_conv_get(c, mta, "transports");
    {
        size_t old = scenario_conv_push_key(c, "transports");
        if (!scenario_mta_transports(c, transports, m, &w))
            goto done;
        scenario_conv_pop(c, old);
    }
    if ((postfix = scenario_conv_get(c, mta, "postfix"))) {
        size_t old = scenario_conv_push_key(c, "postfix");
        if (!scenario_conv_mapping(c, postfix, "a mapping of main.cf parameters (name: value)"))
            goto done;
        for (yaml_node_pair_t *p = postfix->data.mapping.pairs.start; p < postfix->data.mapping.pairs.top; p++) {
            yaml_node_t *k = scenario_conv_node(c, p->key), *val = scenario_conv_node(c, p->value);
            for (yaml_node_pair_t *q = postfix->data.mapping.pairs.start; q < p; q++) {
                const char *a = scenario_conv_text(scenario_conv_node(c, q->key)), *b = scenario_conv_text(k);
                if (a && b && strcmp(a, b) == 0) {
                    scenario_conv_push_key(c, b);
                    scenario_conv_fail(c, k, "parameter '%s' appears twice", b);
                    goto done;
                }
            }
            if (scenario_conv_is_null(val)) {
                /* "name =" resets a parameter to its default in postconf -n output. */
                continue;
            }
            if (!scenario_mta_postfix_param(c, k, val, m, &w))
                goto done;
        }
        scenario_conv_pop(c, old);
    }
    if (transports) {
        size_t old = scenario_conv_push_key(c, "transports");
        if (!scenario_mta_transport_blocks(c, transports, m, &w))
            goto done;
        scenario_conv_pop(c, old);
    }
    if (!scenario_mta_resolve(c, m, &w) || !scenario_mta_checks(c, postfix, m))
        goto done;
    if ((v = scenario_conv_get(c, mta, "qmgr_start")) && !scenario_mta_qmgr_start(c, v, m))
        goto done;
    if ((v = scenario_conv_get(c, mta, "apppool")) && !scenario_mta_apppool(c, v, m))
        goto done;
    if (!scenario_mta_latency(c, mta, m))
        goto done;

    /* Sections that the chosen kind does not read are most likely a mistake; say so. */
    if (m->kind == MTA_KIND_POSTFIX && (v = scenario_conv_get_key(c, mta, "apppool"))) {
        size_t old = scenario_conv_push_key(c, "apppool");
        if (!scenario_conv_warn(c, v, "ignored: mta.kind is postfix"))
            goto done;
        scenario_conv_pop(c, old);
    }
    if (m->kind == MTA_KIND_APPPOOL) {
        const char *const pk[] = {"postfix", "transports"};
        for (size_t i = 0; i < 2; i++) {
            if ((v = scenario_conv_get_key(c, mta, pk[i]))) {
                size_t old = scenario_conv_push_key(c, pk[i]);
                if (!scenario_conv_warn(c, v, "ignored: mta.kind is apppool"))
                    goto done;
                scenario_conv_pop(c, old);
            }
        }
    }
    ok = true;
done:
    scenario_mta_layer_clear(&w.global);
    for (size_t i = 0; i < w.n; i++) {
        scenario_mta_layer_clear(&w.prefixed[i]);
        scenario_mta_layer_clear(&w.block[i]);
    }
    free(w.prefixed);
    free(w.block);
    return ok;
}

void scenario_mta_free(mta_config *m)
{
    scenario_conv_strv_free(m->source_ips);
    free(m->qmgr_start);
    for (size_t t = 0; t < m->ntransports; t++) {
        mta_transport_config *tr = &m->transports[t];
        free(tr->name);
        for (size_t i = 0; i < tr->ndomains; i++)
            free(tr->domains[i]);
        free(tr->domains);
        for (size_t i = 0; i < tr->nsenders; i++)
            free(tr->senders[i]);
        free(tr->senders);
        free(tr->nexthop);
        scenario_conv_strv_free(tr->p.connection_cache_destinations);
    }
    free(m->transports);
    sim_dist_free(&m->latency.dns_mx);
    sim_dist_free(&m->latency.tls_cpu);
    sim_dist_free(&m->latency.cpu_per_delivery);
    sim_dist_free(&m->latency.cpu_per_message);
    sim_dist_free(&m->latency.cpu_process_start);
    sim_dist_free(&m->latency.cpu_wakeup);
    sim_dist_free(&m->latency.disk_fsync);
    memset(m, 0, sizeof(*m));
}
