/*
 * scenario_fixes - the `fixes:` block of a scenario (scenario_fixes.h): which scenario it fixes, the
 * figure, and by how much it must be better. The loader checks the syntax; `tempfail incident` runs
 * the two and applies scenario_fixes_holds seed by seed.
 */
#include "scenarios/scenario_fixes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario.h"
#include "scenarios/scenario_conv.h"
#include "sim/sim_mem.h"

bool scenario_fixes_holds(const scenario_fixes *f, double before, double after)
{
    if (isnan(before) || isnan(after))
        return false;
    if (f->ratio) /* a factor needs a change: 0 against 0 is no improvement */
        return f->higher ? after > before && after >= before * f->by : after < before && after * f->by <= before;
    return f->higher ? after >= before + f->by : after <= before - f->by;
}

void scenario_fixes_clear(scenario_fixes *f)
{
    free(f->before);
    free(f->metric);
    memset(f, 0, sizeof(*f));
}

/* "5x" (a factor of at least 1), or a positive figure value ("60s", "100", "5%"). */
static bool fixes_margin(scenario_conv *c, yaml_node_t *n, scenario_fixes *f)
{
    const char *t = scenario_conv_scalar(c, n, "a factor like 5x or a difference like 60s");
    if (!t)
        return false;
    size_t len = strlen(t);
    if (len > 1 && (t[len - 1] == 'x' || t[len - 1] == 'X')) {
        char *end;
        double v = strtod(t, &end);
        if (end != t + len - 1 || !isfinite(v) || v < 1)
            return scenario_conv_fail(c, n, "expected a factor of at least 1 like 2x or 5x, got '%s'", t);
        f->ratio = true;
        f->by = v;
        return true;
    }
    double v;
    if (scenario_parse_metric_value(t, &v) < 0 || !(v > 0))
        return scenario_conv_fail(c, n, "expected a factor like 5x or a positive difference like 60s or 100, got '%s'",
                                  t);
    f->by = v;
    return true;
}

bool scenario_fixes_convert(scenario_conv *c, yaml_node_t *node, scenario_fixes **out)
{
    static const char *const keys[] = {"before", "metric", "lower_by", "higher_by", "seeds"};
    scenario_fixes *f = sim_xcalloc(1, sizeof(*f));
    *out = f;
    if (!scenario_conv_mapping(c, node, "a mapping (before:, metric:, lower_by: or higher_by:, seeds:)") ||
        !scenario_conv_keys(c, node, keys, sizeof(keys) / sizeof(keys[0])) ||
        !scenario_conv_str(c, node, "before", true, &f->before) ||
        !scenario_conv_str(c, node, "metric", true, &f->metric))
        return false;
    f->seeds = 5;
    if (!scenario_conv_u32(c, node, "seeds", false, 1, &f->seeds))
        return false;
    if (f->seeds > SCENARIO_FIXES_MAX_SEEDS) {
        scenario_conv_push_key(c, "seeds");
        return scenario_conv_fail(c, scenario_conv_get(c, node, "seeds"), "at most %d seeds", SCENARIO_FIXES_MAX_SEEDS);
    }
    /* the metric is an expect: metric: check its syntax the way an expect: line's is */
    char line[600], why[512];
    snprintf(line, sizeof(line), "%s == 0", f->metric);
    scenario_expect e = {0};
    bool bad = strlen(f->metric) > 500 || scenario_expect_parse(line, &e, why, sizeof(why)) < 0 ||
               strcmp(e.metric, f->metric) != 0;
    scenario_expect_clear(&e);
    if (bad) {
        scenario_conv_push_key(c, "metric");
        return scenario_conv_fail(c, scenario_conv_get(c, node, "metric"),
                                  "expected a figure of summary.json like transactional.latency.p95, got '%s'", f->metric);
    }
    yaml_node_t *lo = scenario_conv_get(c, node, "lower_by"), *hi = scenario_conv_get(c, node, "higher_by");
    if (!lo == !hi)
        return scenario_conv_fail(c, node, lo ? "give lower_by or higher_by, not both"
                                              : "missing the margin: lower_by (a figure where less is better) or "
                                                "higher_by (more is better), like lower_by: 5x");
    f->higher = hi != NULL;
    size_t old = scenario_conv_push_key(c, hi ? "higher_by" : "lower_by");
    if (!fixes_margin(c, hi ? hi : lo, f))
        return false;
    scenario_conv_pop(c, old);
    return true;
}
