/*
 * fuzz_scenario - the scenario loader on any text: a scenario file, then (after a line "--set"
 * alone) one --set KEY=VALUE per line applied to it. It must load or refuse with a message, never
 * crash, leak or take more than the guard allows (scenario_guard.h); a scenario that loads must
 * re-emit as YAML that loads again to the same scenario.yaml (the run directory's copy).
 */
#include <string.h>

#include "fuzz.h"
#include "scenarios/scenario.h"

#define FUZZ_MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 200000)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    const char *sets[FUZZ_MAX_SETS];
    size_t nsets = 0, len = size;
    char *mark = strstr(text, "\n--set\n");
    if (mark) {
        len = (size_t)(mark - text) + 1;
        char *p = mark + 7;
        while (*p && nsets < FUZZ_MAX_SETS) {
            char *nl = strchr(p, '\n');
            if (nl)
                *nl = 0;
            if (strchr(p, '='))
                sets[nsets++] = p;
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    scenario_error err;
    scenario *s = scenario_load_text(text, len, "fuzz.yaml", sets, nsets, &err);
    if (!s) {
        fuzz_check(err.message[0], "refused without a message");
    } else {
        fuzz_check(s->resolved_yaml != NULL, "no resolved YAML");
        scenario *again = scenario_load_text(s->resolved_yaml, strlen(s->resolved_yaml), "resolved.yaml", NULL, 0, &err);
        fuzz_check(again != NULL, "the resolved scenario does not load: %s\n%s", err.message, s->resolved_yaml);
        fuzz_check(strcmp(again->resolved_yaml, s->resolved_yaml) == 0, "resolved twice, two texts");
        scenario_free(again);
        scenario_free(s);
    }
    free(text);
    return 0;
}
