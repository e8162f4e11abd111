/*
 * scenario_keys - nearest-key suggestions for error messages.
 *
 * Scenario files are written by hand, and the most common mistake is a misspelt key ("arivals",
 * "minimal_backof_time"). Pointing at the intended key turns a search through the docs into a one
 * character fix. The threshold (distance <= 2, or a third of the word) suggests for typos and
 * transpositions but not for unrelated words, for which listing the valid keys helps more.
 */
#include "scenarios/scenario_keys.h"

#include <stdio.h>
#include <string.h>

#define SCENARIO_KEYS_MAXLEN 255

size_t scenario_keys_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SCENARIO_KEYS_MAXLEN || lb > SCENARIO_KEYS_MAXLEN)
        return (size_t)-1;
    /* One row of the dynamic-programming table is enough. */
    size_t row[SCENARIO_KEYS_MAXLEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *scenario_keys_nearest(const char *word, const char *const *valid, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = scenario_keys_distance(word, valid[i]);
        if (d < bestd) {
            bestd = d;
            best = valid[i];
        }
    }
    if (best && bestd > 0 && (bestd <= 2 || bestd <= strlen(word) / 3))
        return best;
    return NULL;
}

void scenario_keys_hint(char *buf, size_t len, const char *word, const char *const *valid, size_t n,
                        const char *noun)
{
    size_t used = strlen(buf);
    if (n == 0 || used + 1 >= len)
        return;
    const char *near = scenario_keys_nearest(word, valid, n);
    if (near) {
        snprintf(buf + used, len - used, " (did you mean '%s'?)", near);
        return;
    }
    int w = snprintf(buf + used, len - used, " (valid %s: ", noun);
    if (w < 0 || (size_t)w >= len - used)
        goto truncated;
    used += (size_t)w;
    for (size_t i = 0; i < n; i++) {
        w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", valid[i]);
        if (w < 0 || (size_t)w >= len - used)
            goto truncated;
        used += (size_t)w;
    }
    w = snprintf(buf + used, len - used, ")");
    if (w >= 0 && (size_t)w < len - used)
        return;
truncated:
    if (len >= 5)
        memcpy(buf + len - 5, "...)", 5);
}
