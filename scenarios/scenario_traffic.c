/*
 * scenario_traffic - the `traffic:` section: message classes, their arrival processes, sizes,
 * recipient counts, recipient-domain mixes and the users' re-send loop, into traffic_config.
 *
 * The loader does what the generator should not have to: schedules are checked to start at 0 and
 * increase, trace files are read and sorted, weights are checked positive, so traffic_create() can
 * trust its config and both worlds (simulation and replay) see the same messages.
 */
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario_conv.h"

static int scenario_traffic_cmp_time(const void *a, const void *b)
{
    sim_time_t x = *(const sim_time_t *)a, y = *(const sim_time_t *)b;
    return x < y ? -1 : x > y;
}

static bool scenario_traffic_positive_rate(scenario_conv *c, yaml_node_t *map, const char *key, bool allow_zero,
                                           double *out)
{
    yaml_node_t *v = scenario_conv_need(c, map, key);
    if (!v)
        return false;
    size_t old = scenario_conv_push_key(c, key);
    if (!scenario_conv_node_rate(c, v, out))
        return false;
    if (!allow_zero && !(*out > 0))
        return scenario_conv_fail(c, v, "must be greater than 0, got '%s'", scenario_conv_text(v));
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_traffic_schedule(scenario_conv *c, yaml_node_t *map, traffic_arrivals *a)
{
    yaml_node_t *steps = scenario_conv_need(c, map, "steps");
    if (!steps)
        return false;
    size_t old = scenario_conv_push_key(c, "steps");
    if (steps->type != YAML_SEQUENCE_NODE || steps->data.sequence.items.top == steps->data.sequence.items.start)
        return scenario_conv_fail(c, steps, "expected a list of {at: DURATION, rate: RATE}, at least one");
    size_t n = (size_t)(steps->data.sequence.items.top - steps->data.sequence.items.start);
    if (!(a->steps = calloc(n, sizeof(*a->steps))))
        return scenario_conv_nomem(c);
    static const char *const keys[] = {"at", "rate"};
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *st = scenario_conv_node(c, steps->data.sequence.items.start[i]);
        size_t o2 = scenario_conv_push_index(c, i);
        traffic_rate_step *s = &a->steps[i];
        if (!scenario_conv_keys(c, st, keys, 2) || !scenario_conv_duration(c, st, "at", true, &s->at) ||
            !scenario_traffic_positive_rate(c, st, "rate", true, &s->rate))
            return false;
        a->nsteps = i + 1;
        if (i == 0 && s->at != 0)
            return scenario_conv_fail(c, st, "the first step must be at 0");
        if (i > 0 && s->at <= a->steps[i - 1].at)
            return scenario_conv_fail(c, st, "steps must be in increasing order of 'at'");
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    if (!scenario_conv_duration(c, map, "period", false, &a->period))
        return false;
    if (a->period > 0 && a->period <= a->steps[n - 1].at) {
        scenario_conv_push_key(c, "period");
        return scenario_conv_fail(c, scenario_conv_get(c, map, "period"), "must be longer than the last step's 'at'");
    }
    return true;
}

static bool scenario_traffic_trace(scenario_conv *c, yaml_node_t *map, traffic_arrivals *a)
{
    yaml_node_t *f = scenario_conv_need(c, map, "file");
    if (!f)
        return false;
    size_t old = scenario_conv_push_key(c, "file");
    double *values;
    size_t n;
    if (!scenario_dist_read_file(c, f, SCENARIO_CONV_SECONDS, &values, &n))
        return false;
    scenario_conv_pop(c, old);
    a->times = malloc(n * sizeof(*a->times));
    if (!a->times) {
        free(values);
        return scenario_conv_nomem(c);
    }
    for (size_t i = 0; i < n; i++)
        a->times[i] = sim_time_from_sec(values[i]);
    free(values);
    a->ntimes = n;
    /* Traces cut from logs are often out of order (several hosts, several files). */
    qsort(a->times, n, sizeof(*a->times), scenario_traffic_cmp_time);
    return true;
}

static bool scenario_traffic_arrivals(scenario_conv *c, yaml_node_t *map, traffic_arrivals *a)
{
    if (!scenario_conv_mapping(c, map, "a mapping like {process: poisson, rate: 20/s}"))
        return false;
    yaml_node_t *pn = scenario_conv_need(c, map, "process");
    if (!pn)
        return false;
    int kind;
    size_t old = scenario_conv_push_key(c, "process");
    if (!scenario_conv_node_enum(c, pn, traffic_process_names, TRAFFIC_PROCESS_COUNT, &kind))
        return false;
    scenario_conv_pop(c, old);
    a->kind = (traffic_process_kind)kind;
    switch (a->kind) {
    case TRAFFIC_POISSON: {
        static const char *const keys[] = {"process", "rate"};
        return scenario_conv_keys(c, map, keys, 2) && scenario_traffic_positive_rate(c, map, "rate", false, &a->rate);
    }
    case TRAFFIC_SCHEDULE: {
        static const char *const keys[] = {"process", "steps", "period"};
        return scenario_conv_keys(c, map, keys, 3) && scenario_traffic_schedule(c, map, a);
    }
    case TRAFFIC_BURST: {
        static const char *const keys[] = {"process", "count", "start", "over"};
        if (!scenario_conv_keys(c, map, keys, 4) || !scenario_conv_u64(c, map, "count", true, 1, &a->count) ||
            !scenario_conv_duration(c, map, "start", false, &a->start) ||
            !scenario_conv_duration(c, map, "over", true, &a->over))
            return false;
        return scenario_conv_positive(c, map, "over", a->over);
    }
    case TRAFFIC_PERIODIC: {
        static const char *const keys[] = {"process", "count", "every", "start"};
        if (!scenario_conv_keys(c, map, keys, 4) || !scenario_conv_u64(c, map, "count", true, 1, &a->count) ||
            !scenario_conv_duration(c, map, "every", true, &a->every) ||
            !scenario_conv_duration(c, map, "start", false, &a->start))
            return false;
        return scenario_conv_positive(c, map, "every", a->every);
    }
    case TRAFFIC_TRACE: {
        static const char *const keys[] = {"process", "file"};
        return scenario_conv_keys(c, map, keys, 2) && scenario_traffic_trace(c, map, a);
    }
    }
    return false;
}

static bool scenario_traffic_domains(scenario_conv *c, yaml_node_t *map, traffic_class_config *k)
{
    if (!scenario_conv_mapping(c, map, "a mapping of domain: weight, like {gmail.test: 0.7, orange.test: 0.3}"))
        return false;
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0)
        return scenario_conv_fail(c, map, "needs at least one domain");
    if (!(k->domains = calloc(n, sizeof(*k->domains))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
        yaml_node_t *kn = scenario_conv_node(c, p->key), *vn = scenario_conv_node(c, p->value);
        traffic_domain_weight *d = &k->domains[i];
        k->ndomains = i + 1;
        if (!scenario_conv_node_domain(c, kn, &d->domain))
            return false;
        size_t old = scenario_conv_push_key(c, d->domain);
        for (size_t j = 0; j < i; j++)
            if (strcmp(k->domains[j].domain, d->domain) == 0)
                return scenario_conv_fail(c, kn, "domain '%s' appears twice", d->domain);
        if (!scenario_conv_node_number(c, vn, &d->weight))
            return false;
        if (!(d->weight > 0))
            return scenario_conv_fail(c, vn, "a weight must be greater than 0, got '%s'", scenario_conv_text(vn));
        scenario_conv_pop(c, old);
    }
    return true;
}

static bool scenario_traffic_sender(scenario_conv *c, yaml_node_t *map, char **sender)
{
    yaml_node_t *v = scenario_conv_get(c, map, "sender");
    if (!v)
        return true;
    size_t old = scenario_conv_push_key(c, "sender");
    if (!scenario_conv_node_str(c, v, sender))
        return false;
    /* "" is the null sender (bounces, with bounce_queue_lifetime); otherwise local@domain. */
    const char *at = strchr(*sender, '@');
    if (**sender && (!at || at == *sender || !at[1] || strpbrk(*sender, " <>\t")))
        return scenario_conv_fail(
            c, v, "expected an address like noreply@example.test (or \"\" for the null sender), got '%s'", *sender);
    scenario_conv_pop(c, old);
    return true;
}

static bool scenario_traffic_class(scenario_conv *c, yaml_node_t *map, traffic_class_config *k)
{
    static const char *const keys[] = {"name", "arrivals", "size", "recipients", "domains", "resend", "sender"};
    k->size = sim_dist_constant(4096);
    k->recipients = sim_dist_constant(1);
    if (!(k->sender = strdup(TRAFFIC_DEFAULT_SENDER)))
        return scenario_conv_nomem(c);
    if (!scenario_conv_keys(c, map, keys, sizeof(keys) / sizeof(keys[0])))
        return false;
    yaml_node_t *v = scenario_conv_need(c, map, "name");
    if (!v)
        return false;
    size_t old = scenario_conv_push_key(c, "name");
    if (!scenario_conv_node_ident(c, v, &k->name))
        return false;
    scenario_conv_pop(c, old);

    if (!(v = scenario_conv_need(c, map, "arrivals")))
        return false;
    old = scenario_conv_push_key(c, "arrivals");
    if (!scenario_traffic_arrivals(c, v, &k->arrivals))
        return false;
    scenario_conv_pop(c, old);

    if (!scenario_dist_field(c, map, "size", SCENARIO_CONV_BYTES, &k->size))
        return false;
    if (k->size.kind == SIM_DIST_CONSTANT && !(k->size.a >= 1 && k->size.a <= 4294967295.0)) {
        scenario_conv_push_key(c, "size");
        return scenario_conv_fail(c, scenario_conv_get(c, map, "size"), "must be from 1 byte to 4GB");
    }
    if (!scenario_dist_field(c, map, "recipients", SCENARIO_CONV_COUNT, &k->recipients))
        return false;
    if (k->recipients.kind == SIM_DIST_CONSTANT && !(k->recipients.a >= 1 && k->recipients.a <= TRAFFIC_MAX_RCPT &&
                                                     k->recipients.a == (double)(long)k->recipients.a)) {
        scenario_conv_push_key(c, "recipients");
        return scenario_conv_fail(c, scenario_conv_get(c, map, "recipients"),
                                  "must be a whole number from 1 to %d", TRAFFIC_MAX_RCPT);
    }

    if (!(v = scenario_conv_need(c, map, "domains")))
        return false;
    old = scenario_conv_push_key(c, "domains");
    if (!scenario_traffic_domains(c, v, k))
        return false;
    scenario_conv_pop(c, old);

    if ((v = scenario_conv_get(c, map, "resend"))) {
        static const char *const rkeys[] = {"after", "probability", "max"};
        old = scenario_conv_push_key(c, "resend");
        k->resend.probability = 1;
        k->resend.max = 1;
        if (!scenario_conv_keys(c, v, rkeys, 3) || !scenario_conv_duration(c, v, "after", true, &k->resend.after) ||
            !scenario_conv_probability(c, v, "probability", false, &k->resend.probability) ||
            !scenario_conv_u32(c, v, "max", false, 0, &k->resend.max))
            return false;
        if (!scenario_conv_positive(c, v, "after", k->resend.after))
            return false;
        scenario_conv_pop(c, old);
    }
    return scenario_traffic_sender(c, map, &k->sender);
}

bool scenario_traffic_convert(scenario_conv *c, yaml_node_t *traffic, traffic_config *out)
{
    static const char *const keys[] = {"classes"};
    if (!scenario_conv_keys(c, traffic, keys, 1))
        return false;
    yaml_node_t *list = scenario_conv_need(c, traffic, "classes");
    if (!list)
        return false;
    size_t old = scenario_conv_push_key(c, "classes");
    if (list->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, list, "expected a list of classes");
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0)
        return scenario_conv_fail(c, list, "needs at least one class");
    if (!(out->classes = calloc(n, sizeof(*out->classes))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = scenario_conv_node(c, list->data.sequence.items.start[i]);
        size_t o2 = scenario_conv_push_index(c, i);
        out->nclasses = i + 1;
        if (!scenario_traffic_class(c, item, &out->classes[i]))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out->classes[j].name, out->classes[i].name) == 0) {
                scenario_conv_push_key(c, "name");
                return scenario_conv_fail(c, scenario_conv_get(c, item, "name"), "class '%s' is defined twice",
                                          out->classes[i].name);
            }
        }
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    return true;
}

void scenario_traffic_free(traffic_config *t)
{
    for (size_t i = 0; i < t->nclasses; i++) {
        traffic_class_config *k = &t->classes[i];
        free(k->name);
        free(k->arrivals.steps);
        free(k->arrivals.times);
        sim_dist_free(&k->size);
        sim_dist_free(&k->recipients);
        for (size_t j = 0; j < k->ndomains; j++)
            free(k->domains[j].domain);
        free(k->domains);
        free(k->sender);
    }
    free(t->classes);
    t->classes = NULL;
    t->nclasses = 0;
}
