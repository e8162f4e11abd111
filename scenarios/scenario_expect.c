/*
 * scenario_expect - the `expect:` lines of a scenario: "METRIC OP VALUE" assertions that turn a run
 * into a pass/fail check for CI ("does this main.cf still meet our SLOs against Orange's limits?").
 *
 * The loader checks only the syntax: a metric is a dotted path of identifier characters and the
 * value has a known unit. Whether the metric exists is for results/ to say once the summary is
 * written, because metric names depend on the classes and receivers of the run. Values with units are
 * converted to the base units summary.json uses (seconds, bytes, per second), so
 * "transactional.latency.p95 < 1m" compares with the number 60.
 */
#include "scenarios/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const scenario_expect_ops[] = {
    [EXPECT_LT] = "<", [EXPECT_LE] = "<=", [EXPECT_GT] = ">",
    [EXPECT_GE] = ">=", [EXPECT_EQ] = "==", [EXPECT_NE] = "!=",
};

const char *scenario_expect_op_name(scenario_expect_op op)
{
    if ((unsigned)op >= sizeof(scenario_expect_ops) / sizeof(scenario_expect_ops[0]))
        return "?";
    return scenario_expect_ops[op];
}

static bool scenario_expect_metric_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == ':';
}

int scenario_parse_metric_value(const char *s, double *out)
{
    char *end;
    sim_time_t t;
    double v;
    if (*s == '-' || *s == '+' || isdigit((unsigned char)*s) || *s == '.') {
        errno = 0;
        v = strtod(s, &end);
        if (end != s && *end == 0 && errno == 0 && isfinite(v)) {
            *out = v;
            return 0;
        }
    }
    if (scenario_parse_duration(s, &t) == 0) {
        *out = sim_time_to_sec(t);
        return 0;
    }
    if (scenario_parse_size(s, &v) == 0 || scenario_parse_rate(s, &v) == 0 ||
        scenario_parse_probability(s, &v) == 0) {
        *out = v;
        return 0;
    }
    return -EINVAL;
}

int scenario_expect_parse(const char *text, scenario_expect *out, char *err, size_t errlen)
{
    static const char example[] = "like 'transactional.latency.p95 < 60s'";
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *m0 = p;
    /* metric: components of identifier characters separated by single dots */
    bool need = true;
    for (; *p; p++) {
        if (scenario_expect_metric_char((unsigned char)*p)) {
            need = false;
        } else if (*p == '.' && !need) {
            need = true;
        } else {
            break;
        }
    }
    size_t mlen = (size_t)(p - m0);
    if (mlen == 0 || need) {
        snprintf(err, errlen, "expected 'METRIC OP VALUE' %s, got '%s'", example, text);
        return -EINVAL;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    int op = -1;
    size_t oplen = 0;
    for (int i = 0; i < (int)(sizeof(scenario_expect_ops) / sizeof(scenario_expect_ops[0])); i++) {
        size_t l = strlen(scenario_expect_ops[i]);
        if (strncmp(p, scenario_expect_ops[i], l) == 0 && l > oplen) {
            op = i;
            oplen = l;
        }
    }
    if (op < 0) {
        if (*p == '=' )
            snprintf(err, errlen, "unknown operator in '%s' (use <, <=, >, >=, == or !=)", text);
        else
            snprintf(err, errlen, "expected an operator (<, <=, >, >=, ==, !=) after '%.*s' in '%s'",
                     (int)mlen, m0, text);
        return -EINVAL;
    }
    p += oplen;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t vlen = strlen(p);
    while (vlen > 0 && (p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
        vlen--;
    char vbuf[64];
    if (vlen == 0 || vlen >= sizeof(vbuf)) {
        snprintf(err, errlen, "expected a value after '%s' in '%s'", scenario_expect_ops[op], text);
        return -EINVAL;
    }
    memcpy(vbuf, p, vlen);
    vbuf[vlen] = 0;
    double value;
    if (scenario_parse_metric_value(vbuf, &value) < 0) {
        snprintf(err, errlen,
                 "expected a number or a value with a unit (60s, 4KB, 20/s, 5%%) after '%s', got '%s'",
                 scenario_expect_ops[op], vbuf);
        return -EINVAL;
    }
    char *metric = strndup(m0, mlen);
    char *copy = strdup(text);
    if (!metric || !copy) {
        free(metric);
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *out = (scenario_expect){.text = copy, .metric = metric, .op = (scenario_expect_op)op, .value = value};
    return 0;
}

void scenario_expect_clear(scenario_expect *e)
{
    free(e->text);
    free(e->metric);
    e->text = e->metric = NULL;
}
