/*
 * scenario_guard - bounds on YAML text checked before libyaml sees it, and on what a document
 * expands to.
 *
 * libyaml does not bound how deeply collections nest, and loading costs it time that grows with the
 * square of the depth: a 160 KB file of 80,000 nested flow sequences took 22 s, on testsmtpd's only
 * event loop when it came as a PUT /policy body. Every text the loader parses (a scenario file, a
 * preset a `use:` pulls in, a --set value, a receivers file, a policy body) is scanned here first,
 * once and linearly, and refused at the first position nested deeper than SCENARIO_GUARD_DEPTH:
 * "file:line:col: nested deeper than 64 levels". Scenarios need about 8.
 *
 * The scan counts flow collections ([ {) outside quoted scalars and comments, and block nesting
 * from indentation and "- " entries; it may count more than libyaml (a bracket in a multi-line
 * plain scalar), never less, so nothing deeper than the bound reaches the parser.
 *
 * Aliases (*a) make a document a graph: a copy of one (a --set value or a preset put into the
 * scenario) expands each alias, and a few hundred bytes of nested anchors expand to gigabytes
 * ("billion laughs"). SCENARIO_GUARD_NODES bounds the nodes one copy makes (scenario_conv_copy).
 */
#ifndef SCENARIO_GUARD_H
#define SCENARIO_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "scenarios/scenario.h"

#define SCENARIO_GUARD_DEPTH 64
#define SCENARIO_GUARD_NODES 100000
/* The largest scenario, receivers, preset or data file read (a 50 MB scenario is a big one). */
#define SCENARIO_GUARD_FILE_BYTES (256u << 20)

/*
 * The deepest nesting of text, at most max: true when it is within max; false with *line and *col
 * (1-based) at the first character past it.
 */
bool scenario_guard_depth(const char *text, size_t len, size_t max, size_t *line, size_t *col);

/* scenario_guard_depth with SCENARIO_GUARD_DEPTH, its message in err: "NAME:LINE:COL: nested deeper
 * than 64 levels (...)". */
bool scenario_guard_check(const char *text, size_t len, const char *name, scenario_error *err);

#endif
