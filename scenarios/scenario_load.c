/*
 * scenario_load - reads a scenario (YAML) into a scenario struct: parse, apply --set overrides,
 * convert the top-level keys and hand each section to its converter (scenario_traffic,
 * scenario_mta, scenario_receiver), then re-emit the document for the run directory.
 *
 * libyaml's document API (yaml_parser_load) is used rather than the event API because conversion
 * needs random access (a rule's keys depend on its `rule:`, transports must be known before the
 * main.cf parameters that name them) and because every node keeps its start mark, which is what lets
 * every message say file:line:column. The loader either returns a complete scenario or NULL with one
 * message and nothing allocated (DESIGN.md principle 6).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario_guard.h"
#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_fixes.h"
#include "scenarios/scenario_sweep.h"

/* scenarios/presets/default.yaml, compiled in by CMake (scripts/embed.cmake). */
extern const char scenario_default_text[];
extern const size_t scenario_default_text_len;

#define SCENARIO_DEFAULT_START 1767225600 /* 2026-01-01 00:00:00 UTC */

/* Names that summary.json uses at its top level: a class or receiver named so would make the
 * metric shortcut "NAME.x" of expect: lines ambiguous. */
static const char *const scenario_load_reserved[] = {
    "scenario", "seed",         "replication", "simulated", "messages",  "latency", "classes",
    "receivers", "destinations", "deferrals",  "queue",     "resources", "expect",
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t scenario_load_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "2026-01-01 00:00:00", "2026-01-01T08:30:00Z" or "2026-01-01" (UTC) -> Unix seconds. */
static int scenario_load_parse_start(const char *t, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    if (sscanf(t, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -EINVAL;
    const char *p = t + n;
    if (*p == ' ' || *p == 'T') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &s, &m) != 3 || m != 8)
            return -EINVAL;
        p += 1 + m;
        if (*p == 'Z')
            p++;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
        return -EINVAL;
    *out = scenario_load_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

static bool scenario_load_expect(scenario_conv *c, yaml_node_t *list, scenario *s)
{
    size_t old = scenario_conv_push_key(c, "expect");
    if (list->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, list, "expected a list of lines like - transactional.latency.p95 < 60s");
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n && !(s->expect = calloc(n, sizeof(*s->expect))))
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = scenario_conv_node(c, list->data.sequence.items.start[i]);
        size_t o2 = scenario_conv_push_index(c, i);
        const char *t = scenario_conv_scalar(c, item, "a line like 'transactional.latency.p95 < 60s'");
        if (!t)
            return false;
        char why[512];
        if (scenario_expect_parse(t, &s->expect[i], why, sizeof(why)) < 0)
            return scenario_conv_fail(c, item, "%s", why);
        s->nexpect = i + 1;
        char where[16];
        scenario_conv_where(c, item, where, sizeof(where));
        if (strncmp(where, "--set", 5) != 0) {
            s->expect[i].line = (int)item->start_mark.line + 1;
            s->expect[i].column = (int)item->start_mark.column + 1;
        }
        scenario_conv_pop(c, o2);
    }
    scenario_conv_pop(c, old);
    return true;
}

/* Class and receiver names are the first component of metric paths: they must not collide. */
static bool scenario_load_names(scenario_conv *c, yaml_node_t *root, scenario *s)
{
    yaml_node_t *classes = scenario_conv_get(c, scenario_conv_get(c, root, "traffic"), "classes");
    for (size_t i = 0; i < s->traffic.nclasses; i++) {
        const char *name = s->traffic.classes[i].name;
        const char *clash = NULL;
        for (size_t r = 0; r < s->nreceivers && !clash; r++)
            if (strcmp(s->receivers[r].name, name) == 0)
                clash = "a receiver has the same name";
        for (size_t k = 0; k < sizeof(scenario_load_reserved) / sizeof(scenario_load_reserved[0]) && !clash; k++)
            if (strcmp(scenario_load_reserved[k], name) == 0)
                clash = "the name is a top-level key of summary.json";
        if (clash) {
            yaml_node_t *item = scenario_conv_node(c, classes->data.sequence.items.start[i]);
            scenario_conv_push_key(c, "traffic");
            scenario_conv_push_key(c, "classes");
            scenario_conv_push_index(c, i);
            scenario_conv_push_key(c, "name");
            return scenario_conv_fail(c, scenario_conv_get(c, item, "name"),
                                      "class name '%s' would make metric paths ambiguous: %s", name, clash);
        }
    }
    yaml_node_t *receivers = scenario_conv_get(c, root, "receivers");
    for (size_t r = 0; r + 1 < s->nreceivers; r++) {
        for (size_t k = 0; k < sizeof(scenario_load_reserved) / sizeof(scenario_load_reserved[0]); k++) {
            if (strcmp(scenario_load_reserved[k], s->receivers[r].name) == 0) {
                yaml_node_t *item = scenario_conv_node(c, receivers->data.sequence.items.start[r]);
                scenario_conv_push_key(c, "receivers");
                scenario_conv_push_name(c, s->receivers[r].name);
                scenario_conv_push_key(c, "name");
                return scenario_conv_fail(c, scenario_conv_get(c, item, "name"),
                                          "receiver name '%s' would make metric paths ambiguous: the name is a "
                                          "top-level key of summary.json",
                                          s->receivers[r].name);
            }
        }
    }
    return true;
}

/*
 * The horizon, where arrivals stop. `duration` when given; else, when every class's arrivals end (a
 * burst, a trace, a schedule that falls to rate 0: traffic_arrivals_end), the end of the last of
 * them, so that a scenario need not keep `duration` in step with its bursts by hand; else 1h.
 *
 * Then what the horizon would cut off without a word: a burst that ends after it, a periodic class
 * whose first batch is not before it, a trace that lies wholly after it - messages that would never
 * arrive - are errors, at `duration` when the scenario gives it (the value to change), else at the
 * class. A trace that runs past it is only a warning: taking the first hour of a day's trace is
 * what a shorter duration is for.
 */
static bool scenario_load_duration(scenario_conv *c, yaml_node_t *root, scenario *s, bool *derived)
{
    yaml_node_t *dn = scenario_conv_get(c, root, "duration");
    const traffic_config *tc = &s->traffic;
    sim_time_t last = 0;
    size_t endless = tc->nclasses; /* the first class whose arrivals go on for ever */
    for (size_t i = 0; i < tc->nclasses; i++) {
        sim_time_t e = traffic_arrivals_end(&tc->classes[i].arrivals);
        if (e == SIM_TIME_NEVER) {
            if (endless == tc->nclasses)
                endless = i;
        } else if (e > last) {
            last = e;
        }
    }
    *derived = !dn && endless == tc->nclasses && last > 0;
    if (*derived)
        s->duration = last;
    char dur[64], by[300] = "";
    sim_time_format(dur, sizeof(dur), s->duration);
    if (!dn && endless < tc->nclasses)
        snprintf(by, sizeof(by), " (the default, as class '%s' has arrivals for ever)", tc->classes[endless].name);
    yaml_node_t *list = scenario_conv_get(c, scenario_conv_get(c, root, "traffic"), "classes");
    for (size_t i = 0; i < tc->nclasses; i++) {
        const traffic_class_config *k = &tc->classes[i];
        const traffic_arrivals *a = &k->arrivals;
        yaml_node_t *an = scenario_conv_get(c, scenario_conv_node(c, list->data.sequence.items.start[i]), "arrivals");
        static const char *const subject[TRAFFIC_PROCESS_COUNT] = {
            [TRAFFIC_BURST] = "the burst", [TRAFFIC_PERIODIC] = "the periodic arrivals", [TRAFFIC_TRACE] = "the trace"};
        char what[700] = "", fix[200] = "", t1[64], t2[64], t3[64];
        bool least = false; /* fix: "at least T", else "longer than T" */
        if (a->kind == TRAFFIC_BURST && a->start + a->over > s->duration) {
            sim_time_format(t1, sizeof(t1), a->start + a->over);
            sim_time_format(t2, sizeof(t2), a->start);
            sim_time_format(t3, sizeof(t3), a->over);
            snprintf(what, sizeof(what),
                     "ends at %s (start %s + over %s), after duration %s%s: its messages from %s on would never arrive",
                     t1, t2, t3, dur, by, dur);
            snprintf(fix, sizeof(fix), "%s", t1);
            least = true;
        } else if (a->kind == TRAFFIC_PERIODIC && a->start >= s->duration) {
            sim_time_format(t1, sizeof(t1), a->start);
            snprintf(what, sizeof(what), "start at %s, not before duration %s%s: the class would send nothing", t1,
                     dur, by);
            snprintf(fix, sizeof(fix), "%s", t1);
        } else if (a->kind == TRAFFIC_TRACE && a->ntimes > 0) {
            size_t cut = 0;
            while (cut < a->ntimes && a->times[a->ntimes - 1 - cut] >= s->duration)
                cut++;
            sim_time_format(t1, sizeof(t1), a->times[0]);
            if (cut == a->ntimes) {
                snprintf(what, sizeof(what),
                         "has its first arrival at %s, not before duration %s%s: the class would send nothing", t1,
                         dur, by);
                snprintf(fix, sizeof(fix), "%s", t1);
            } else if (cut > 0) {
                size_t o = scenario_conv_push_key(c, "traffic");
                scenario_conv_push_key(c, "classes");
                scenario_conv_push_index(c, i);
                scenario_conv_push_key(c, "arrivals");
                scenario_conv_push_key(c, "file");
                bool ok = scenario_conv_warn(c, scenario_conv_get(c, an, "file"),
                                             "%zu of the trace's %zu arrivals %s at or after duration %s%s: not "
                                             "simulated",
                                             cut, a->ntimes, cut == 1 ? "is" : "are", dur, by);
                scenario_conv_pop(c, o);
                if (!ok)
                    return false;
            }
        }
        if (!what[0])
            continue;
        if (dn) {
            static const char leave[] = ", or leave it out: it then defaults to the end of the arrivals";
            scenario_conv_push_key(c, "duration");
            return scenario_conv_fail(c, dn,
                                      "%s of class '%s' (traffic.classes[%zu].arrivals) %s; make duration %s %s%s",
                                      subject[a->kind], k->name, i, what, least ? "at least" : "longer than", fix,
                                      endless == tc->nclasses ? leave : "");
        }
        scenario_conv_push_key(c, "traffic");
        scenario_conv_push_key(c, "classes");
        scenario_conv_push_index(c, i);
        scenario_conv_push_key(c, "arrivals");
        return scenario_conv_fail(c, an, "%s of class '%s' %s; set a duration %s %s", subject[a->kind], k->name, what,
                                  least ? "of at least" : "longer than", fix);
    }
    return true;
}

/*
 * A receiver that costs nothing: every session ends the instant it starts, so no concurrency cap -
 * its policy's concurrency_per_ip, Postfix's destination_concurrency_limit - can ever be reached, and
 * a scenario written to study one silently studies nothing. The threshold is exactly zero (every
 * cost a distribution of mean 0, i.e. always 0 as no cost is negative), not "small": a calibrated
 * loopback receiver costs microseconds, and such a scenario, which `tempfail calibrate` writes, is
 * right and must not be warned about. The DATA transfer at the link's bandwidth does not count: it
 * is microseconds per message, never enough for sessions to overlap. The implicit default receiver
 * (rtt 30ms) never qualifies.
 */
static bool scenario_load_costless(const receiver_config *r)
{
    if (sim_dist_mean(&r->rtt) != 0 || sim_dist_mean(&r->latency) != 0 || sim_dist_mean(&r->connect_latency) != 0 ||
        sim_dist_mean(&r->service) != 0)
        return false;
    for (size_t i = 0; i < r->policy.nrules; i++)
        if (r->policy.rules[i].kind == POLICY_RULE_TARPIT && r->policy.rules[i].delay > 0)
            return false;
    return true;
}

static bool scenario_load_warn_costless(scenario_conv *c, yaml_node_t *list, scenario *s)
{
    if (!list || list->type != YAML_SEQUENCE_NODE)
        return true;
    for (size_t i = 0; i + 1 < s->nreceivers; i++) {
        if (!scenario_load_costless(&s->receivers[i]))
            continue;
        size_t old = scenario_conv_push_key(c, "receivers");
        scenario_conv_push_name(c, s->receivers[i].name);
        bool ok = scenario_conv_warn(c, scenario_conv_node(c, list->data.sequence.items.start[i]),
                                     "costs nothing (network.rtt, latency, connect_latency and service are 0, no "
                                     "tarpit): every session ends the instant it starts, so no concurrency cap can "
                                     "be reached; measure real costs with `tempfail calibrate` (docs/calibrate.md)");
        scenario_conv_pop(c, old);
        if (!ok)
            return false;
    }
    return true;
}

static bool scenario_load_convert(scenario_conv *c, yaml_node_t *root, scenario *s)
{
    static const char *const keys[] = {"name",         "description", "seed",    "replication", "duration",
                                       "until",        "drain_cap",   "warmup",  "sample_every", "start",
                                       "traffic",      "mta",         "receivers", "expect",       "sweep",
                                       "fixes"};
    static const char *const untils[] = {"horizon", "drained"};
    yaml_node_t *v;
    s->seed = 1;
    s->duration = SIM_HOUR;
    s->drain_cap = 30 * SIM_DAY;
    s->sample_every = 10 * SIM_SEC;
    s->start = SCENARIO_DEFAULT_START;

    if (!scenario_conv_mapping(c, root, "a mapping of keys (name:, traffic:, mta:, receivers:, ...)") ||
        !scenario_conv_keys(c, root, keys, sizeof(keys) / sizeof(keys[0])))
        return false;
    if (!(v = scenario_conv_need(c, root, "name")))
        return false;
    size_t old = scenario_conv_push_key(c, "name");
    if (!scenario_conv_node_str(c, v, &s->name))
        return false;
    if (!s->name[0] || strpbrk(s->name, "/\\\n"))
        return scenario_conv_fail(c, v, "expected a name without '/' (it names the run), got '%s'", s->name);
    scenario_conv_pop(c, old);
    if (!scenario_conv_str(c, root, "description", false, &s->description) ||
        !scenario_conv_u64(c, root, "seed", false, 0, &s->seed) ||
        !scenario_conv_u32(c, root, "replication", false, 0, &s->replication) ||
        !scenario_conv_duration(c, root, "duration", false, &s->duration) ||
        !scenario_conv_duration(c, root, "drain_cap", false, &s->drain_cap) ||
        !scenario_conv_duration(c, root, "warmup", false, &s->warmup) ||
        !scenario_conv_duration(c, root, "sample_every", false, &s->sample_every))
        return false;
    if (!scenario_conv_positive(c, root, "duration", s->duration) ||
        !scenario_conv_positive(c, root, "drain_cap", s->drain_cap) ||
        !scenario_conv_positive(c, root, "sample_every", s->sample_every))
        return false;
    if ((v = scenario_conv_get(c, root, "until"))) {
        int u;
        old = scenario_conv_push_key(c, "until");
        if (!scenario_conv_node_enum(c, v, untils, 2, &u))
            return false;
        s->until_drained = u == 1;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, root, "start"))) {
        old = scenario_conv_push_key(c, "start");
        const char *t = scenario_conv_scalar(c, v, "a date");
        if (!t)
            return false;
        if (scenario_load_parse_start(t, &s->start) < 0)
            return scenario_conv_fail(c, v, "expected a UTC date and time like 2026-01-01 00:00:00, got '%s'", t);
        scenario_conv_pop(c, old);
    }

    if (!(v = scenario_conv_need(c, root, "traffic")))
        return false;
    old = scenario_conv_push_key(c, "traffic");
    if (!scenario_traffic_convert(c, v, &s->traffic))
        return false;
    scenario_conv_pop(c, old);
    bool derived;
    if (!scenario_load_duration(c, root, s, &derived))
        return false;
    if (s->warmup >= s->duration) {
        char t[64];
        sim_time_format(t, sizeof(t), s->duration);
        scenario_conv_push_key(c, "warmup");
        return scenario_conv_fail(c, scenario_conv_get(c, root, "warmup"), "must be shorter than duration%s%s%s",
                                  derived ? " (" : "", derived ? t : "", derived ? ", the end of the arrivals)" : "");
    }

    v = scenario_conv_get(c, root, "mta");
    old = scenario_conv_push_key(c, "mta");
    if (!scenario_mta_convert(c, v, &s->mta))
        return false;
    scenario_conv_pop(c, old);

    if (!scenario_receiver_convert_all(c, scenario_conv_get(c, root, "receivers"), s) ||
        !scenario_load_names(c, root, s) || !scenario_load_warn_costless(c, scenario_conv_get(c, root, "receivers"), s))
        return false;
    if ((v = scenario_conv_get(c, root, "expect")) && !scenario_load_expect(c, v, s))
        return false;
    if ((v = scenario_conv_get(c, root, "sweep"))) {
        old = scenario_conv_push_key(c, "sweep");
        if (!scenario_sweep_convert(c, v, &s->sweep))
            return false;
        scenario_conv_pop(c, old);
    }
    if ((v = scenario_conv_get(c, root, "fixes"))) {
        old = scenario_conv_push_key(c, "fixes");
        if (!scenario_fixes_convert(c, v, &s->fixes))
            return false;
        scenario_conv_pop(c, old);
    }
    return true;
}

typedef struct scenario_load_buf {
    char *data;
    size_t len, cap;
} scenario_load_buf;

static int scenario_load_write(void *data, unsigned char *buffer, size_t size)
{
    scenario_load_buf *b = data;
    if (b->len + size + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096);
        while (cap < b->len + size + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buffer, size);
    b->len += size;
    b->data[b->len] = 0;
    return 1;
}

/* Re-emits the document (after --set) as YAML. yaml_emitter_dump consumes the document. */
static char *scenario_load_emit(yaml_document_t *doc)
{
    /* An empty plain scalar is null (a key given no value: absent), but the emitter writes it as ''
     * inside a flow mapping, an empty string that would not load again: it is written as ~. */
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
        if (n->type != YAML_SCALAR_NODE || n->data.scalar.length != 0 ||
            (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && n->data.scalar.style != YAML_ANY_SCALAR_STYLE))
            continue;
        yaml_char_t *tilde = malloc(2);
        if (!tilde) {
            yaml_document_delete(doc);
            return NULL;
        }
        memcpy(tilde, "~", 2);
        free(n->data.scalar.value); /* libyaml's own allocation (yaml_malloc is malloc) */
        n->data.scalar.value = tilde;
        n->data.scalar.length = 1;
        n->data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    }
    yaml_emitter_t em;
    scenario_load_buf b = {0};
    if (!yaml_emitter_initialize(&em)) {
        yaml_document_delete(doc);
        return NULL;
    }
    yaml_emitter_set_output(&em, scenario_load_write, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* no folding: a long reply stays on one line */
    if (!yaml_emitter_open(&em)) {
        yaml_emitter_delete(&em);
        yaml_document_delete(doc);
        free(b.data);
        return NULL;
    }
    bool ok = yaml_emitter_dump(&em, doc) && yaml_emitter_close(&em) && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    if (!ok) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/*
 * Whether the line of a "mapping values are not allowed" error has a ": " before the offending
 * colon: a plain value with a colon in it (description: Postfix: the defaults), which YAML reads as
 * a second mapping. The fix is to quote the value; libyaml's words do not say so.
 */
static bool scenario_load_unquoted_colon(const char *text, size_t len, const yaml_mark_t *m)
{
    size_t line = 0, i = 0;
    while (i < len && line < m->line)
        if (text[i++] == '\n')
            line++;
    size_t col = 0;
    for (; i + 1 < len && text[i] != '\n' && col + 1 < m->column; i++, col++)
        if (text[i] == ':' && (text[i + 1] == ' ' || text[i + 1] == '\t'))
            return true;
    return false;
}

static void scenario_load_syntax_error(const yaml_parser_t *p, const char *text, size_t len, const char *name,
                                       scenario_error *err)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    if (p->problem && strcmp(p->problem, "mapping values are not allowed in this context") == 0 &&
        scenario_load_unquoted_colon(text, len, &p->problem_mark)) {
        snprintf(err->message, sizeof(err->message),
                 "%s:%zu:%zu: a value with \": \" in it must be quoted, e.g. description: \"cap: 3 per IP\" "
                 "(YAML: mapping values are not allowed in this context)",
                 name, p->problem_mark.line + 1, p->problem_mark.column + 1);
        return;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
    } else if (p->context) {
        snprintf(err->message, sizeof(err->message), "%s:%zu:%zu: %s (%s at line %zu, column %zu)", name,
                 p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    } else {
        snprintf(err->message, sizeof(err->message), "%s:%zu:%zu: %s", name, p->problem_mark.line + 1,
                 p->problem_mark.column + 1, problem);
    }
}

static scenario *scenario_load_doc(const char *text, size_t len, const char *name, const char *dir,
                                   const char *const *sets, size_t nsets, scenario_error *err)
{
    scenario_error scratch;
    if (!err)
        err = &scratch;
    err->message[0] = 0;
    if (!scenario_guard_check(text, len, name, err))
        return NULL;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        scenario_load_syntax_error(&parser, text, len, name, err);
        yaml_parser_delete(&parser);
        return NULL;
    }
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        scenario_load_syntax_error(&parser, text, len, name, err);
        yaml_parser_delete(&parser);
        yaml_document_delete(&doc);
        return NULL;
    }
    yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second) {
        snprintf(err->message, sizeof(err->message), "%s:%zu:%zu: a scenario file holds one YAML document; "
                 "this is a second one", name, second->start_mark.line + 1, second->start_mark.column + 1);
        yaml_document_delete(&extra);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_document_delete(&extra);
    yaml_parser_delete(&parser);
    if (!yaml_document_get_root_node(&doc)) {
        snprintf(err->message, sizeof(err->message), "%s:1:1: the scenario is empty (it needs at least name: and "
                 "traffic:)", name);
        yaml_document_delete(&doc);
        return NULL;
    }

    scenario *s = calloc(1, sizeof(*s));
    scenario_conv c = {.doc = &doc, .file = name, .dir = dir, .err = err, .s = s};
    bool ok = s && (s->source = strdup(name));
    if (!ok)
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
    ok = ok && scenario_use_apply(&c);
    for (size_t i = 0; ok && i < nsets; i++)
        ok = scenario_set_apply(&c, sets[i]);
    ok = ok && scenario_load_convert(&c, yaml_document_get_root_node(&doc), s);
    scenario_conv_release(&c);
    if (ok) {
        if (!(s->resolved_yaml = scenario_load_emit(&doc))) {
            snprintf(err->message, sizeof(err->message), "%s: cannot re-emit the scenario as YAML", name);
            ok = false;
        }
    } else {
        yaml_document_delete(&doc);
    }
    if (!ok) {
        scenario_free(s);
        return NULL;
    }
    return s;
}

scenario *scenario_load_text(const char *text, size_t len, const char *name, const char *const *sets, size_t nsets,
                             scenario_error *err)
{
    return scenario_load_doc(text, len, name ? name : "<text>", "", sets, nsets, err);
}

scenario *scenario_load_default(const char *const *sets, size_t nsets, scenario_error *err)
{
    return scenario_load_doc(scenario_default_text, scenario_default_text_len, "<built-in default>", "", sets, nsets,
                             err);
}

scenario *scenario_load_file(const char *path, const char *const *sets, size_t nsets, scenario_error *err)
{
    scenario_error scratch;
    if (!err)
        err = &scratch;
    size_t len = 0;
    char *text = scenario_conv_read_file(path, &len, err);
    if (!text)
        return NULL;
    /* Data files named in the scenario are relative to its directory. */
    char *dir = strdup(path);
    if (!dir) {
        free(text);
        snprintf(err->message, sizeof(err->message), "%s: out of memory", path);
        return NULL;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(dir[1] = 0) : (void)(*slash = 0);
    else
        dir[0] = 0;
    scenario *s = scenario_load_doc(text, len, path, dir, sets, nsets, err);
    free(dir);
    free(text);
    return s;
}

void scenario_free(scenario *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->description);
    free(s->source);
    scenario_traffic_free(&s->traffic);
    scenario_mta_free(&s->mta);
    for (size_t i = 0; i < s->nreceivers; i++)
        scenario_receiver_free(&s->receivers[i]);
    free(s->receivers);
    for (size_t i = 0; i < s->nexpect; i++)
        scenario_expect_clear(&s->expect[i]);
    free(s->expect);
    free(s->resolved_yaml);
    if (s->sweep)
        scenario_sweep_clear(s->sweep);
    free(s->sweep);
    if (s->fixes)
        scenario_fixes_clear(s->fixes);
    free(s->fixes);
    for (size_t i = 0; i < s->nwarnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s);
}
