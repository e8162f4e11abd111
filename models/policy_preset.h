/*
 * policy_preset - named reply-text presets: the exact texts real receivers send when they throttle,
 * one per rule kind (reference/receiver-policies.md). A rule without its own `reply` answers with its
 * receiver's preset text; policy.c expands the escapes when it builds the policy.
 */
#ifndef POLICY_PRESET_H
#define POLICY_PRESET_H

#include <stddef.h>

#include "models/policy.h"

/*
 * One preset. Every kind but TARPIT (which never replies) has a text, so callers need no fallback:
 * a kind the receiver publishes no text for carries Postfix's. Texts keep the providers' wording with
 * the placeholders as escapes: "%h" host name, "%i" client IP, "%r" recipient and "%d" its domain
 * (RCPT), "%%" a percent sign; multi-line replies separate lines with "\n", the code on each line.
 */
typedef struct policy_preset {
    const char *name;                     /* "postfix", "exim", "gmail", "orange", ... */
    const char *description;              /* one line, for listings */
    const char *texts[POLICY_RULE_COUNT]; /* default reply per rule kind; NULL for TARPIT */
} policy_preset;

/* The preset called name (case-sensitive), or NULL (also for a NULL name). */
const policy_preset *policy_preset_find(const char *name);
/* Every preset, "postfix" first; *count (when count is not NULL) gets their number. */
const policy_preset *policy_preset_list(size_t *count);

#endif
