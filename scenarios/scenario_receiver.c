/*
 * scenario_receiver - the `receivers:` section: who owns which domains, their MX hosts, the network
 * path to them, their service capacity and their policy rules, into receiver_config.
 *
 * The same block configures testsmtpd, so everything the policy engine would reject at runtime is
 * rejected here first, with a line number: rule names, stages, reply texts (code 400-599, an enhanced
 * status code of the same class), preset names. A rule's parameters are named as operators say them
 * ("limit: 1000/h" for a rate, "violations" and "within" for a penalty box) and mapped onto the
 * engine's generic fields here, in one place.
 *
 * Every domain of the traffic mix needs a receiver; those no receiver claims go to an implicit last
 * one, "default", which accepts everything, so a scenario only describes the receivers it is about.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_rng.h>

#include "models/policy_preset.h"
#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_keys.h"

int scenario_receiver_check_reply(const char *reply, char *why, size_t len)
{
    static const char example[] = "expected a reply like \"421 4.7.0 Too many connections\"";
    const unsigned char *r = (const unsigned char *)reply;
    if (!(isdigit(r[0]) && isdigit(r[1]) && isdigit(r[2])) || (r[3] != 0 && r[3] != ' ')) {
        snprintf(why, len, "%s, got '%s'", example, reply);
        return -EINVAL;
    }
    int code = (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0');
    if (code < 400 || code > 599) {
        snprintf(why, len, "reply code %d is not a 4xx or 5xx code", code);
        return -EINVAL;
    }
    for (const unsigned char *p = r; *p; p++) {
        if (*p < ' ' || *p >= 0x7f) {
            snprintf(why, len, "a reply is one line of printable US-ASCII (RFC 5321 2.4)");
            return -EINVAL;
        }
    }
    if (strlen(reply) > 510) {
        snprintf(why, len, "a reply line is at most 510 characters (RFC 5321 4.5.3.1.5)");
        return -EINVAL;
    }
    if (r[3] == 0)
        return 0;
    /* An enhanced status code (RFC 3463) "C.S.D" must have the reply code's class. */
    const unsigned char *e = r + 4;
    size_t a = 0, b = 0, c = 0;
    const unsigned char *p = e;
    while (isdigit(*p))
        p++, a++;
    if (a == 1 && *p == '.') {
        p++;
        while (isdigit(*p))
            p++, b++;
        if (b >= 1 && b <= 3 && *p == '.') {
            p++;
            while (isdigit(*p))
                p++, c++;
            if (c >= 1 && c <= 3 && (*p == 0 || *p == ' ')) {
                if (e[0] != r[0]) {
                    snprintf(why, len,
                             "enhanced status code %.*s does not match reply code %d (it must start with %c.)",
                             (int)(p - e), (const char *)e, code, r[0]);
                    return -EINVAL;
                }
            }
        }
    }
    return 0;
}

static int scenario_receiver_reply_code(const char *reply)
{
    if (!reply || !isdigit((unsigned char)reply[0]) || !isdigit((unsigned char)reply[1]) ||
        !isdigit((unsigned char)reply[2]))
        return 0;
    return (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
}

/* A rate limit written "1000/h" or "100/10m": count and window. */
static int scenario_receiver_rate_limit(const char *t, uint64_t *limit, sim_time_t *window)
{
    const char *slash = strchr(t, '/');
    if (!slash || slash == t)
        return -EINVAL;
    char num[32];
    size_t nl = (size_t)(slash - t);
    if (nl >= sizeof(num))
        return -EINVAL;
    memcpy(num, t, nl);
    num[nl] = 0;
    if (strspn(num, "0123456789") != nl)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(num, &end, 10);
    if (errno || *end)
        return -EINVAL;
    char per[64];
    const char *d = slash + 1;
    if (isalpha((unsigned char)*d)) {
        if (strcmp(d, "min") != 0 && strlen(d) > 3)
            return -EINVAL;
        snprintf(per, sizeof(per), "1%s", d);
        d = per;
    }
    if (scenario_parse_duration(d, window) < 0 || *window <= 0)
        return -EINVAL;
    *limit = v;
    return 0;
}

/* The policy engine keeps one timestamp per counted event in a rate window: bound the memory. */
#define SCENARIO_RECEIVER_RATE_MAX 10000000

static const char *const scenario_receiver_rule_keys[POLICY_RULE_COUNT][5] = {
    [POLICY_RULE_CONCURRENCY_PER_IP] = {"limit", "count_idle"},
    [POLICY_RULE_CONCURRENCY_TOTAL] = {"limit", "count_idle"},
    [POLICY_RULE_CONNECTION_RATE_PER_IP] = {"limit", "window"},
    [POLICY_RULE_MESSAGE_RATE_PER_IP] = {"limit", "window"},
    [POLICY_RULE_RECIPIENT_RATE_PER_IP] = {"limit", "window"},
    [POLICY_RULE_MESSAGES_PER_SESSION] = {"limit", "silent"},
    [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = {"limit"},
    [POLICY_RULE_GREYLIST] = {"delay", "retry_window", "auto_allow"},
    [POLICY_RULE_TARPIT] = {"stage", "delay"},
    [POLICY_RULE_RANDOM_FAULT] = {"stage", "probability"},
    [POLICY_RULE_PENALTY_BOX] = {"violations", "within", "duration"},
    [POLICY_RULE_IDLE_TIMEOUT] = {"timeout"},
};

/* Where each rule acts, for the rules whose stage is not configurable. */
static const policy_stage scenario_receiver_rule_stage[POLICY_RULE_COUNT] = {
    [POLICY_RULE_CONCURRENCY_PER_IP] = POLICY_STAGE_CONNECT,  [POLICY_RULE_CONCURRENCY_TOTAL] = POLICY_STAGE_CONNECT,
    [POLICY_RULE_CONNECTION_RATE_PER_IP] = POLICY_STAGE_CONNECT, [POLICY_RULE_MESSAGE_RATE_PER_IP] = POLICY_STAGE_MAIL,
    [POLICY_RULE_RECIPIENT_RATE_PER_IP] = POLICY_STAGE_RCPT,  [POLICY_RULE_MESSAGES_PER_SESSION] = POLICY_STAGE_MAIL,
    [POLICY_RULE_RECIPIENTS_PER_MESSAGE] = POLICY_STAGE_RCPT, [POLICY_RULE_GREYLIST] = POLICY_STAGE_RCPT,
    [POLICY_RULE_TARPIT] = POLICY_STAGE_CONNECT,              [POLICY_RULE_RANDOM_FAULT] = POLICY_STAGE_CONNECT,
    [POLICY_RULE_PENALTY_BOX] = POLICY_STAGE_CONNECT,         [POLICY_RULE_IDLE_TIMEOUT] = POLICY_STAGE_CONNECT,
};

static bool scenario_receiver_stage(scenario_conv *c, yaml_node_t *map, policy_rule_config *r)
{
    yaml_node_t *v = scenario_conv_need(c, map, "stage");
    if (!v)
        return false;
    size_t old = scenario_conv_push_key(c, "stage");
    const char *t = scenario_conv_scalar(c, v, "a stage");
    if (!t)
        return false;
    int st = policy_stage_parse(t);
    if (st < 0) {
        const char *names[POLICY_STAGE_COUNT];
        for (int i = 0; i < POLICY_STAGE_COUNT; i++)
            names[i] = policy_stage_name((policy_stage)i);
        char msg[512];
        snprintf(msg, sizeof(msg), "unknown stage '%s'", t);
        scenario_keys_hint(msg, sizeof(msg), t, names, POLICY_STAGE_COUNT, "stages");
        return scenario_conv_fail(c, v, "%s", msg);
    }
    r->stage = (policy_stage)st;
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_receiver_rate_rule(scenario_conv *c, yaml_node_t *map, policy_rule_config *r)
{
    yaml_node_t *lim = scenario_conv_need(c, map, "limit");
    if (!lim)
        return false;
    size_t old = scenario_conv_push_key(c, "limit");
    const char *t = scenario_conv_scalar(c, lim, "a limit like 1000/h");
    if (!t)
        return false;
    static const char example[] = "expected a limit like 1000/h, 100/10m, 5/min (or a count with window:)";
    if (!*t || strspn(t, "0123456789") != strlen(t)) {
        if (scenario_receiver_rate_limit(t, &r->limit, &r->window) < 0)
            return scenario_conv_fail(c, lim, "%s, got '%s'", example, t);
        if (r->limit < 1 || r->limit > SCENARIO_RECEIVER_RATE_MAX)
            return scenario_conv_fail(c, lim, "the count must be from 1 to %d, got '%s'", SCENARIO_RECEIVER_RATE_MAX,
                                      t);
        scenario_conv_pop(c, old);
        yaml_node_t *wk = scenario_conv_get_key(c, map, "window");
        if (wk) {
            scenario_conv_push_key(c, "window");
            return scenario_conv_fail(c, wk, "the window is already given by limit '%s'", t);
        }
        return true;
    }
    if (!scenario_conv_node_uint(c, lim, 1, SCENARIO_RECEIVER_RATE_MAX, &r->limit))
        return false;
    scenario_conv_pop(c, old);
    if (!scenario_conv_get(c, map, "window"))
        return scenario_conv_fail(c, map, "missing required key 'window' (or write the limit as a rate like 1000/h)");
    return scenario_conv_duration(c, map, "window", true, &r->window) &&
           scenario_conv_positive(c, map, "window", r->window);
}

static bool scenario_receiver_max(scenario_conv *c, yaml_node_t *map, const char *key, uint64_t v, uint64_t max)
{
    if (v <= max)
        return true;
    scenario_conv_push_key(c, key);
    return scenario_conv_fail(c, scenario_conv_get(c, map, key), "must be at most %llu", (unsigned long long)max);
}

static bool scenario_receiver_rule(scenario_conv *c, yaml_node_t *map, const policy_config *pc, policy_rule_config *r)
{
    if (!scenario_conv_mapping(c, map, "a rule like {rule: concurrency_per_ip, limit: 3}"))
        return false;
    yaml_node_t *kn = scenario_conv_need(c, map, "rule");
    if (!kn)
        return false;
    size_t old = scenario_conv_push_key(c, "rule");
    const char *name = scenario_conv_scalar(c, kn, "a rule name");
    if (!name)
        return false;
    int kind = policy_rule_kind_parse(name);
    if (kind < 0) {
        const char *names[POLICY_RULE_COUNT];
        for (int i = 0; i < POLICY_RULE_COUNT; i++)
            names[i] = policy_rule_kind_name((policy_rule_kind)i);
        char msg[900];
        snprintf(msg, sizeof(msg), "unknown rule '%s'", name);
        scenario_keys_hint(msg, sizeof(msg), name, names, POLICY_RULE_COUNT, "rules");
        return scenario_conv_fail(c, kn, "%s", msg);
    }
    scenario_conv_pop(c, old);

    const char *keys[8] = {"rule", "reply", "close"};
    size_t nkeys = 3;
    for (size_t i = 0; i < 5 && scenario_receiver_rule_keys[kind][i]; i++)
        keys[nkeys++] = scenario_receiver_rule_keys[kind][i];
    if (!scenario_conv_keys(c, map, keys, nkeys))
        return false;

    *r = (policy_rule_config){.kind = (policy_rule_kind)kind, .stage = scenario_receiver_rule_stage[kind],
                              .count_idle = true};
    switch ((policy_rule_kind)kind) {
    case POLICY_RULE_CONCURRENCY_PER_IP:
    case POLICY_RULE_CONCURRENCY_TOTAL:
        if (!scenario_conv_u64(c, map, "limit", true, 0, &r->limit) ||
            !scenario_conv_bool(c, map, "count_idle", false, &r->count_idle))
            return false;
        break;
    case POLICY_RULE_CONNECTION_RATE_PER_IP:
    case POLICY_RULE_MESSAGE_RATE_PER_IP:
    case POLICY_RULE_RECIPIENT_RATE_PER_IP:
        if (!scenario_receiver_rate_rule(c, map, r))
            return false;
        break;
    case POLICY_RULE_MESSAGES_PER_SESSION:
        if (!scenario_conv_u64(c, map, "limit", true, 1, &r->limit) ||
            !scenario_conv_bool(c, map, "silent", false, &r->silent))
            return false;
        break;
    case POLICY_RULE_RECIPIENTS_PER_MESSAGE:
        if (!scenario_conv_u64(c, map, "limit", true, 1, &r->limit))
            return false;
        break;
    case POLICY_RULE_GREYLIST:
        /* postgrey's defaults */
        r->delay = 300 * SIM_SEC;
        r->duration = 2 * SIM_DAY;
        r->auto_allow = 5;
        if (!scenario_conv_duration(c, map, "delay", false, &r->delay) ||
            !scenario_conv_duration(c, map, "retry_window", false, &r->duration) ||
            !scenario_conv_u32(c, map, "auto_allow", false, 0, &r->auto_allow) ||
            !scenario_conv_positive(c, map, "retry_window", r->duration))
            return false;
        if (r->duration <= r->delay) /* either may be postgrey's default */
            return scenario_conv_fail_order(c, map, "delay", r->delay, "retry_window", r->duration, true);
        break;
    case POLICY_RULE_TARPIT:
        if (!scenario_receiver_stage(c, map, r) || !scenario_conv_duration(c, map, "delay", true, &r->delay))
            return false;
        break;
    case POLICY_RULE_RANDOM_FAULT:
        if (!scenario_receiver_stage(c, map, r) ||
            !scenario_conv_probability(c, map, "probability", true, &r->probability))
            return false;
        break;
    case POLICY_RULE_PENALTY_BOX:
        if (!scenario_conv_u64(c, map, "violations", true, 1, &r->limit) ||
            !scenario_receiver_max(c, map, "violations", r->limit, SCENARIO_RECEIVER_RATE_MAX) ||
            !scenario_conv_duration(c, map, "within", true, &r->window) ||
            !scenario_conv_duration(c, map, "duration", true, &r->duration) ||
            !scenario_conv_positive(c, map, "within", r->window) ||
            !scenario_conv_positive(c, map, "duration", r->duration))
            return false;
        break;
    case POLICY_RULE_IDLE_TIMEOUT:
        if (!scenario_conv_duration(c, map, "timeout", true, &r->duration) ||
            !scenario_conv_positive(c, map, "timeout", r->duration))
            return false;
        break;
    default:
        break;
    }

    yaml_node_t *rp = scenario_conv_get(c, map, "reply");
    if (kind == POLICY_RULE_TARPIT || kind == POLICY_RULE_IDLE_TIMEOUT) {
        /* These only delay or time out; the engine has no reply of theirs to send. */
        static const char *const keys2[] = {"reply", "close"};
        for (size_t i = 0; i < 2; i++) {
            yaml_node_t *k = scenario_conv_get_key(c, map, keys2[i]);
            if (k) {
                scenario_conv_push_key(c, keys2[i]);
                return scenario_conv_fail(c, k, "a %s rule sends no reply of its own", name);
            }
        }
        return true;
    }
    if (rp) {
        old = scenario_conv_push_key(c, "reply");
        if (!scenario_conv_node_str(c, rp, &r->reply))
            return false;
        char why[256];
        if (scenario_receiver_check_reply(r->reply, why, sizeof(why)) < 0)
            return scenario_conv_fail(c, rp, "%s", why);
        scenario_conv_pop(c, old);
    }
    /* RFC 5321 4.2.2: a 421 closes the channel. Without a reply the preset's text decides (and
     * Postfix's when the preset has none for this rule, as the engine does). */
    const char *text = r->reply;
    if (!text) {
        const policy_preset *pr = policy_preset_find(pc->preset ? pc->preset : "postfix");
        text = pr ? pr->texts[kind] : NULL;
        if (!text && (pr = policy_preset_find("postfix")))
            text = pr->texts[kind];
    }
    bool is421 = scenario_receiver_reply_code(text) == 421;
    r->close = is421 || r->silent;
    if (!scenario_conv_bool(c, map, "close", false, &r->close))
        return false;
    if (is421 && !r->close) {
        r->close = true;
        yaml_node_t *k = scenario_conv_get_key(c, map, "close");
        scenario_conv_push_key(c, "close");
        if (!scenario_conv_warn(c, k,
                                "a 421 reply always closes the connection (RFC 5321 4.2.2); 'close: no' is ignored"))
            return false;
        scenario_conv_pop(c, old);
    }
    return true;
}

bool scenario_receiver_policy(scenario_conv *c, yaml_node_t *list, policy_config *pc)
{
    size_t old = scenario_conv_push_key(c, "policy");
    if (list->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, list, "expected a list of rules like - {rule: concurrency_per_ip, limit: 3}");
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n && !(pc->rules = calloc(n, sizeof(*pc->rules))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        size_t o2 = scenario_conv_push_index(c, i);
        pc->nrules = i + 1;
        if (!scenario_receiver_rule(c, scenario_conv_node(c, list->data.sequence.items.start[i]), pc, &pc->rules[i]))
            return false;
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_receiver_listen(scenario_conv *c, yaml_node_t *v, receiver_mx_config *mx)
{
    size_t n;
    size_t old = scenario_conv_push_key(c, "listen");
    if (!scenario_conv_node_strv(c, v, &mx->listen, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *a = mx->listen[i];
        const char *colon = strrchr(a, ':');
        char host[64];
        bool ok = colon && colon > a;
        if (ok) {
            size_t hl = (size_t)(colon - a);
            const char *h = a;
            if (a[0] == '[' && colon[-1] == ']') {
                h++;
                hl -= 2;
            }
            unsigned char buf[16];
            ok = hl < sizeof(host);
            if (ok) {
                memcpy(host, h, hl);
                host[hl] = 0;
                ok = inet_pton(AF_INET, host, buf) == 1 || (a[0] == '[' && inet_pton(AF_INET6, host, buf) == 1);
            }
            char *end;
            long port = ok ? strtol(colon + 1, &end, 10) : 0;
            ok = ok && colon[1] && *end == 0 && port >= 0 && port <= 65535; /* 0: an ephemeral port (tests) */
        }
        if (!ok) {
            if (v->type == YAML_SEQUENCE_NODE) {
                scenario_conv_push_index(c, i);
                v = scenario_conv_node(c, v->data.sequence.items.start[i]);
            }
            return scenario_conv_fail(c, v, "expected ADDRESS:PORT like 127.0.0.2:2525 or [::1]:2525, got '%s'", a);
        }
    }
    scenario_conv_pop(c, old);
    return true;
}

/*
 * An MX host's IP address, as a real MTA's log shows it: IPv4 or IPv6, stored as inet_ntop writes it
 * (2001:DB8:0::10 becomes 2001:db8::10), so that equal addresses compare equal. An address no server
 * can have (unspecified, broadcast, multicast) is refused.
 */
static bool scenario_receiver_address(scenario_conv *c, yaml_node_t *v, char **out)
{
    size_t old = scenario_conv_push_key(c, "address");
    const char *t = scenario_conv_scalar(c, v, "an IP address");
    if (!t)
        return false;
    unsigned char bin[16];
    char canon[INET6_ADDRSTRLEN];
    const char *why = NULL;
    if (inet_pton(AF_INET, t, bin) == 1) {
        if (memcmp(bin, "\0\0\0\0", 4) == 0)
            why = "the unspecified address";
        else if (memcmp(bin, "\xff\xff\xff\xff", 4) == 0)
            why = "the broadcast address";
        else if ((bin[0] & 0xf0) == 0xe0)
            why = "a multicast address";
        inet_ntop(AF_INET, bin, canon, sizeof(canon));
    } else if (inet_pton(AF_INET6, t, bin) == 1) {
        static const unsigned char zero[16];
        if (memcmp(bin, zero, 16) == 0)
            why = "the unspecified address";
        else if (bin[0] == 0xff)
            why = "a multicast address";
        inet_ntop(AF_INET6, bin, canon, sizeof(canon));
    } else {
        size_t l = strlen(t);
        if (l > 2 && t[0] == '[' && t[l - 1] == ']')
            return scenario_conv_fail(c, v, "write the address without brackets: '%.*s'", (int)(l - 2), t + 1);
        return scenario_conv_fail(c, v, "expected an IP address like 192.0.2.10 or 2001:db8::10, got '%s'", t);
    }
    if (why)
        return scenario_conv_fail(c, v, "%s is %s: no MX host has it", t, why);
    if (!(*out = strdup(canon)))
        return scenario_conv_nomem(c);
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_receiver_mx(scenario_conv *c, yaml_node_t *list, receiver_config *r)
{
    static const char *const keys[] = {"host", "preference", "state", "listen", "address"};
    static const char *const states[] = {[RECEIVER_MX_UP] = "up", [RECEIVER_MX_REFUSE] = "refuse",
                                         [RECEIVER_MX_TIMEOUT] = "timeout"};
    size_t old = scenario_conv_push_key(c, "mx");
    if (list->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, list,
                                  "expected a list of MX hosts like - {host: mx1.orange.test, preference: 10}");
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0)
        return scenario_conv_fail(c, list, "needs at least one MX host");
    if (n > RECEIVER_MX_MAX) /* each MX host gets an address of its own (receiver.c) */
        return scenario_conv_fail(c, list, "at most %d MX hosts per receiver (%zu given)", RECEIVER_MX_MAX, n);
    if (!(r->mx = calloc(n, sizeof(*r->mx))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *m = scenario_conv_node(c, list->data.sequence.items.start[i]);
        receiver_mx_config *mx = &r->mx[i];
        size_t o2 = scenario_conv_push_index(c, i);
        r->nmx = i + 1;
        mx->preference = 10;
        if (!scenario_conv_keys(c, m, keys, 5))
            return false;
        yaml_node_t *v = scenario_conv_need(c, m, "host");
        if (!v)
            return false;
        size_t o3 = scenario_conv_push_key(c, "host");
        if (!scenario_conv_node_domain(c, v, &mx->host))
            return false;
        scenario_conv_pop(c, o3);
        if (!scenario_conv_u32(c, m, "preference", false, 0, &mx->preference))
            return false;
        if ((v = scenario_conv_get(c, m, "state"))) {
            int st;
            o3 = scenario_conv_push_key(c, "state");
            if (!scenario_conv_node_enum(c, v, states, 3, &st))
                return false;
            mx->state = (receiver_mx_state)st;
            scenario_conv_pop(c, o3);
        }
        if ((v = scenario_conv_get(c, m, "listen")) && !scenario_receiver_listen(c, v, mx))
            return false;
        if ((v = scenario_conv_get(c, m, "address")) && !scenario_receiver_address(c, v, &mx->address))
            return false;
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    return true;
}

/* Defaults shared by declared receivers and the implicit one. */
static void scenario_receiver_defaults(receiver_config *r)
{
    r->rtt = sim_dist_constant(0.030);
    r->bandwidth = 12.5e6;
    r->latency = sim_dist_constant(0);
    r->connect_latency = sim_dist_constant(0);
    r->service = sim_dist_constant(0);
    r->starttls = true;
}

/* One MX "mx.<first domain>" (or "mx.default.test"), the hostname and the preset, when not given. */
static bool scenario_receiver_finish(scenario_conv *c, receiver_config *r)
{
    if (r->nmx == 0) {
        char host[300];
        snprintf(host, sizeof(host), "mx.%s", r->ndomains ? r->domains[0] : "default.test");
        if (!(r->mx = calloc(1, sizeof(*r->mx))) || !(r->mx[0].host = strdup(host)))
            return scenario_conv_nomem(c);
        r->nmx = 1;
        r->mx[0].preference = 10;
    }
    if (!r->policy.hostname && !(r->policy.hostname = strdup(r->mx[0].host)))
        return scenario_conv_nomem(c);
    if (!r->policy.preset && !(r->policy.preset = strdup("postfix")))
        return scenario_conv_nomem(c);
    return true;
}

static bool scenario_receiver_domains(scenario_conv *c, yaml_node_t *v, receiver_config *r, const scenario *s)
{
    size_t old = scenario_conv_push_key(c, "domains");
    if (v->type != YAML_SEQUENCE_NODE && v->type != YAML_SCALAR_NODE)
        return scenario_conv_fail(c, v, "expected a list of domains like [orange.test, wanadoo.test]");
    size_t n = v->type == YAML_SEQUENCE_NODE ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 1;
    if (n == 0)
        return scenario_conv_fail(c, v, "needs at least one domain");
    if (!(r->domains = calloc(n, sizeof(*r->domains))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *d = v->type == YAML_SEQUENCE_NODE ? scenario_conv_node(c, v->data.sequence.items.start[i]) : v;
        size_t o2 = v->type == YAML_SEQUENCE_NODE ? scenario_conv_push_index(c, i) : c->pathlen;
        r->ndomains = i + 1;
        if (!scenario_conv_node_domain(c, d, &r->domains[i]))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->domains[j], r->domains[i]) == 0)
                return scenario_conv_fail(c, d, "domain '%s' is listed twice", r->domains[i]);
        /* A domain has one set of MX records, so one receiver. */
        for (size_t k = 0; k < s->nreceivers; k++)
            for (size_t j = 0; j < s->receivers[k].ndomains; j++)
                if (strcmp(s->receivers[k].domains[j], r->domains[i]) == 0)
                    return scenario_conv_fail(c, d, "domain '%s' is already owned by receiver '%s'", r->domains[i],
                                              s->receivers[k].name);
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_receiver_convert(scenario_conv *c, yaml_node_t *map, receiver_config *r, const scenario *s)
{
    static const char *const keys[] = {"name",     "description", "domains",  "mx",     "network",
                                       "latency",  "connect_latency", "service", "capacity", "starttls",
                                       "preset",   "hostname",    "policy"};
    yaml_node_t *v;
    size_t old;
    scenario_receiver_defaults(r);
    if (!scenario_conv_keys(c, map, keys, sizeof(keys) / sizeof(keys[0])) ||
        !scenario_conv_str(c, map, "description", false, &r->description))
        return false;
    if (!(v = scenario_conv_need(c, map, "domains")) || !scenario_receiver_domains(c, v, r, s))
        return false;
    if ((v = scenario_conv_get(c, map, "mx")) && !scenario_receiver_mx(c, v, r))
        return false;
    if ((v = scenario_conv_get(c, map, "network"))) {
        static const char *const nkeys[] = {"rtt", "bandwidth"};
        old = scenario_conv_push_key(c, "network");
        if (!scenario_conv_keys(c, v, nkeys, 2) || !scenario_dist_field(c, v, "rtt", SCENARIO_CONV_SECONDS, &r->rtt))
            return false;
        yaml_node_t *bw = scenario_conv_get(c, v, "bandwidth");
        if (bw) {
            size_t o2 = scenario_conv_push_key(c, "bandwidth");
            if (!scenario_conv_node_bandwidth(c, bw, &r->bandwidth))
                return false;
            scenario_conv_pop(c, o2);
        }
        scenario_conv_pop(c, old);
    }
    if (!scenario_dist_field(c, map, "latency", SCENARIO_CONV_SECONDS, &r->latency) ||
        !scenario_dist_field(c, map, "connect_latency", SCENARIO_CONV_SECONDS, &r->connect_latency) ||
        !scenario_dist_field(c, map, "service", SCENARIO_CONV_SECONDS, &r->service) ||
        !scenario_conv_u32(c, map, "capacity", false, 0, &r->capacity) ||
        !scenario_conv_bool(c, map, "starttls", false, &r->starttls))
        return false;
    if ((v = scenario_conv_get(c, map, "preset"))) {
        old = scenario_conv_push_key(c, "preset");
        if (!scenario_conv_node_str(c, v, &r->policy.preset))
            return false;
        if (!policy_preset_find(r->policy.preset)) {
            size_t n = 0;
            const policy_preset *list = policy_preset_list(&n);
            const char **names = calloc(n + 1, sizeof(*names));
            if (!names)
                return scenario_conv_nomem(c);
            for (size_t i = 0; i < n; i++)
                names[i] = list[i].name;
            char msg[900];
            snprintf(msg, sizeof(msg), "unknown preset '%s'", r->policy.preset);
            scenario_keys_hint(msg, sizeof(msg), r->policy.preset, names, n, "presets");
            free(names);
            return scenario_conv_fail(c, v, "%s", msg);
        }
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, map, "hostname"))) {
        old = scenario_conv_push_key(c, "hostname");
        if (!scenario_conv_node_domain(c, v, &r->policy.hostname))
            return false;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, map, "policy")) && !scenario_receiver_policy(c, v, &r->policy))
        return false;
    if (!scenario_receiver_finish(c, r))
        return false;
    /* The engine checks its config again when it is built (for testsmtpd's runtime changes); build it
     * once here so that the loader never accepts what the engine would refuse. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        return scenario_conv_nomem(c);
    char why[512];
    policy *p = policy_create(&r->policy, rng, why, sizeof(why));
    gsl_rng_free(rng);
    if (!p)
        return scenario_conv_fail(c, v ? v : map, "%s", why);
    policy_free(p);
    return true;
}

/* One MX host's address in the logs, for the uniqueness check below. */
typedef struct scenario_receiver_addr {
    const char *addr; /* the scenario's, or made (in made) */
    char made[40];
    uint32_t r, m;    /* receiver and MX host index */
} scenario_receiver_addr;

static int scenario_receiver_addr_cmp(const void *a, const void *b)
{
    const scenario_receiver_addr *x = a, *y = b;
    int d = strcmp(x->addr, y->addr);
    if (d)
        return d;
    return x->r != y->r ? (x->r < y->r ? -1 : 1) : (x->m > y->m) - (x->m < y->m);
}

static bool scenario_receiver_addr_named(const scenario *s, const scenario_receiver_addr *a)
{
    return s->receivers[a->r].mx[a->m].address != NULL;
}

/*
 * No two MX hosts of a run may show the same address in the logs: two servers behind one address
 * would make a log, and the replay that listens there, ambiguous. The made-up addresses of MX hosts
 * that name none are unique by construction (receiver_mx_default_address), so a clash involves at
 * least one address the scenario names; the error points at it (the later one when both are named)
 * and names the other host. The implicit default receiver counts only when it owns a domain.
 */
static bool scenario_receiver_unique_addresses(scenario_conv *c, yaml_node_t *list, const scenario *s)
{
    size_t n = 0, named = 0;
    for (size_t i = 0; i < s->nreceivers; i++)
        for (size_t j = 0; j < s->receivers[i].nmx; j++)
            named += s->receivers[i].mx[j].address != NULL;
    if (named == 0)
        return true;
    for (size_t i = 0; i < s->nreceivers; i++)
        if (i + 1 < s->nreceivers || s->receivers[i].ndomains > 0)
            n += s->receivers[i].nmx;
    scenario_receiver_addr *v = calloc(n, sizeof(*v));
    if (!v)
        return scenario_conv_nomem(c);
    n = 0;
    for (size_t i = 0; i < s->nreceivers; i++) {
        if (i + 1 == s->nreceivers && s->receivers[i].ndomains == 0)
            continue;
        for (size_t j = 0; j < s->receivers[i].nmx; j++) {
            scenario_receiver_addr *a = &v[n++];
            a->r = (uint32_t)i;
            a->m = (uint32_t)j;
            a->addr = s->receivers[i].mx[j].address;
            if (!a->addr) {
                receiver_mx_default_address(a->r, j, a->made, sizeof(a->made));
                a->addr = a->made;
            }
        }
    }
    qsort(v, n, sizeof(*v), scenario_receiver_addr_cmp);
    /* Of all clashes, the one whose named address comes first in the file. */
    const scenario_receiver_addr *at = NULL, *other = NULL;
    for (size_t k = 1; k < n; k++) {
        if (strcmp(v[k - 1].addr, v[k].addr) != 0 || (k >= 2 && strcmp(v[k - 2].addr, v[k].addr) == 0))
            continue;
        /* v[k - 1], v[k]: the first two of a group, in file order. */
        const scenario_receiver_addr *x = &v[k], *y = &v[k - 1];
        if (!scenario_receiver_addr_named(s, x)) {
            x = &v[k - 1];
            y = &v[k];
        }
        if (!at || x->r < at->r || (x->r == at->r && x->m < at->m)) {
            at = x;
            other = y;
        }
    }
    bool ok = true;
    if (at) {
        const receiver_config *rx = &s->receivers[at->r], *ry = &s->receivers[other->r];
        yaml_node_t *mx = scenario_conv_get(c, scenario_conv_node(c, list->data.sequence.items.start[at->r]), "mx");
        yaml_node_t *item = scenario_conv_node(c, mx->data.sequence.items.start[at->m]);
        char whose[400];
        if (other->r + 1 == s->nreceivers)
            snprintf(whose, sizeof(whose), "MX host %s of the implicit receiver 'default'", ry->mx[other->m].host);
        else
            snprintf(whose, sizeof(whose), "MX host %s of receiver '%s'", ry->mx[other->m].host, ry->name);
        scenario_conv_push_key(c, "receivers");
        scenario_conv_push_name(c, rx->name);
        scenario_conv_push_key(c, "mx");
        scenario_conv_push_index(c, at->m);
        scenario_conv_push_key(c, "address");
        if (scenario_receiver_addr_named(s, other))
            ok = scenario_conv_fail(c, scenario_conv_get(c, item, "address"),
                                    "%s is already the address of %s: two MX hosts cannot share one", at->addr, whose);
        else
            ok = scenario_conv_fail(c, scenario_conv_get(c, item, "address"),
                                    "%s is the address the logs give %s, which names none: choose another%s", at->addr,
                                    whose, other->r + 1 == s->nreceivers ? "" : ", or give that one an address too");
    }
    free(v);
    return ok;
}

bool scenario_receiver_convert_all(scenario_conv *c, yaml_node_t *list, scenario *s)
{
    size_t n = 0;
    size_t old = scenario_conv_push_key(c, "receivers");
    if (list) {
        if (list->type != YAML_SEQUENCE_NODE)
            return scenario_conv_fail(c, list,
                                      "expected a list of receivers like - {name: orange, domains: [orange.test]}");
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n + 1 > RECEIVER_MAX)
            return scenario_conv_fail(c, list, "at most %d receivers (%zu given, and the implicit 'default')",
                                      RECEIVER_MAX - 1, n);
    }
    /* one more: the implicit default receiver */
    if (!(s->receivers = calloc(n + 1, sizeof(*s->receivers))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *map = scenario_conv_node(c, list->data.sequence.items.start[i]);
        receiver_config *r = &s->receivers[i];
        size_t o2 = scenario_conv_push_index(c, i);
        if (!scenario_conv_mapping(c, map, "a receiver like {name: orange, domains: [orange.test]}"))
            return false;
        yaml_node_t *nv = scenario_conv_need(c, map, "name");
        if (!nv)
            return false;
        size_t o3 = scenario_conv_push_key(c, "name");
        if (!scenario_conv_node_ident(c, nv, &r->name)) {
            s->nreceivers = i + 1;
            return false;
        }
        if (strcmp(r->name, "default") == 0) {
            s->nreceivers = i + 1;
            return scenario_conv_fail(c, nv,
                                      "the name 'default' is reserved for the implicit receiver of unclaimed domains");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->receivers[j].name, r->name) == 0) {
                s->nreceivers = i + 1;
                return scenario_conv_fail(c, nv, "receiver '%s' is defined twice", r->name);
            }
        }
        scenario_conv_pop(c, o3);
        /* From here on, messages name the receiver rather than its index. */
        scenario_conv_pop(c, o2);
        o2 = scenario_conv_push_name(c, r->name);
        bool ok = scenario_receiver_convert(c, map, r, s);
        s->nreceivers = i + 1;
        if (!ok)
            return false;
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);

    /* The implicit default receiver: every traffic domain no receiver owns. */
    receiver_config *d = &s->receivers[n];
    s->nreceivers = n + 1;
    scenario_receiver_defaults(d);
    if (!(d->name = strdup("default")) ||
        !(d->description = strdup("implicit: accepts all mail for unclaimed domains")))
        return scenario_conv_nomem(c);
    size_t cap = 0;
    for (size_t k = 0; k < s->traffic.nclasses; k++)
        cap += s->traffic.classes[k].ndomains;
    if (cap && !(d->domains = calloc(cap, sizeof(*d->domains))))
        return scenario_conv_nomem(c);
    for (size_t k = 0; k < s->traffic.nclasses; k++) {
        for (size_t j = 0; j < s->traffic.classes[k].ndomains; j++) {
            const char *dom = s->traffic.classes[k].domains[j].domain;
            if (scenario_receiver_for_domain(s, dom) != n)
                continue;
            bool seen = false;
            for (size_t i = 0; i < d->ndomains && !seen; i++)
                seen = strcmp(d->domains[i], dom) == 0;
            if (!seen && !(d->domains[d->ndomains++] = strdup(dom)))
                return scenario_conv_nomem(c);
        }
    }
    return scenario_receiver_finish(c, d) && scenario_receiver_unique_addresses(c, list, s);
}

void scenario_receiver_free(receiver_config *r)
{
    free(r->name);
    free(r->description);
    for (size_t i = 0; i < r->ndomains; i++)
        free(r->domains[i]);
    free(r->domains);
    for (size_t i = 0; i < r->nmx; i++) {
        free(r->mx[i].host);
        free(r->mx[i].address);
        scenario_conv_strv_free(r->mx[i].listen);
    }
    free(r->mx);
    sim_dist_free(&r->rtt);
    sim_dist_free(&r->latency);
    sim_dist_free(&r->connect_latency);
    sim_dist_free(&r->service);
    for (size_t i = 0; i < r->policy.nrules; i++)
        free(r->policy.rules[i].reply);
    free(r->policy.rules);
    free(r->policy.preset);
    free(r->policy.hostname);
    memset(r, 0, sizeof(*r));
}

size_t scenario_receiver_for_domain(const scenario *s, const char *domain)
{
    if (s->nreceivers == 0)
        return 0;
    for (size_t k = 0; k + 1 < s->nreceivers; k++)
        for (size_t j = 0; j < s->receivers[k].ndomains; j++)
            if (strcasecmp(s->receivers[k].domains[j], domain) == 0)
                return k;
    return s->nreceivers - 1;
}
