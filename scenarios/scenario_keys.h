/*
 * scenario_keys - "did you mean" for misspelt keys and names: the nearest valid word by edit distance
 * (Levenshtein), or the list of valid words when nothing is close. Shared by the loader and the CLI.
 */
#ifndef SCENARIO_KEYS_H
#define SCENARIO_KEYS_H

#include <stddef.h>

/* Edit distance (insertions, deletions, substitutions) between a and b; strings longer than 255
 * bytes compare as far apart. */
size_t scenario_keys_distance(const char *a, const char *b);

/* The valid word nearest to word when it is close enough to be a misspelling: distance <= 2, or
 * <= a third of word's length. Ties go to the earlier word. NULL when none is close. */
const char *scenario_keys_nearest(const char *word, const char *const *valid, size_t n);

/*
 * Appends the hint for an unknown word to buf (of size len, already holding a string):
 * " (did you mean 'arrivals'?)", or " (valid keys: a, b, c)" with noun "keys", or nothing when n == 0.
 * Truncates with "..." rather than overflowing.
 */
void scenario_keys_hint(char *buf, size_t len, const char *word, const char *const *valid, size_t n,
                        const char *noun);

#endif
