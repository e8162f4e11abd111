/*
 * scenario_use - `use: NAME` (or `use: [NAME, ...]`) in any mapping of a scenario pulls in a preset:
 * the mapping of the library's presets/NAME.yaml, under what the mapping itself says. Keys the
 * mapping gives win; where both give a mapping, the two merge key by key, the same way down; a list
 * or a value given replaces the preset's whole. Of several names, a later one wins over an earlier.
 *
 *   receivers:
 *     - use: receivers/orange          # limits, MX layout and reply texts of the preset
 *       policy: [{rule: concurrency_per_ip, limit: 2}]   # ... but this cap
 *
 * Like --set, this edits the YAML document before conversion, so a preset's values are checked as the
 * file's are, appear in the run's scenario.yaml, and a message about one names the preset file's line
 * and column. Presets may use other presets; the expansion is bounded (a cycle is an error, not a
 * hang). The library is scenario_library_dir().
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenarios/scenario_guard.h"
#include "scenarios/scenario_conv.h"

#ifndef SCENARIO_LIBRARY_DIR
#define SCENARIO_LIBRARY_DIR "scenarios"
#endif
#ifndef SCENARIO_BUILD_DIR
#define SCENARIO_BUILD_DIR ""
#endif
#ifndef SCENARIO_INSTALL_LIBRARY
#define SCENARIO_INSTALL_LIBRARY "/usr/share/tempfail/scenarios"
#endif

#define USE_MAX_EXPANSIONS 256 /* presets pulled into one scenario, nested ones included */

/*
 * $TEMPFAIL_LIBRARY when set. Else where the running program is: an installed one reads the library
 * installed beside it, PREFIX/share/tempfail/scenarios for PREFIX/bin/tempfail (so the package can be
 * relocated, and an install into a directory inside the build tree is still an install); one in the
 * build directory the source tree's scenarios/ (so a change to a scenario needs no install); failing
 * both, the library the build was configured to install, then the source tree's.
 */
const char *scenario_library_dir(void)
{
    const char *e = getenv("TEMPFAIL_LIBRARY");
    if (e && *e)
        return e;
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    struct stat st;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        char prefix[PATH_MAX];
        snprintf(prefix, sizeof(prefix), "%s", exe);
        char *slash = strrchr(prefix, '/'); /* PREFIX/bin/tempfail -> PREFIX/bin */
        if (slash)
            *slash = 0;
        slash = strrchr(prefix, '/'); /* -> PREFIX */
        if (slash) {
            *slash = 0;
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof(cand), "%s/share/tempfail/scenarios", prefix);
            size_t cl = strlen(cand);
            if (cl < sizeof(dir) && stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
                memcpy(dir, cand, cl + 1);
                return dir;
            }
        }
        size_t bl = strlen(SCENARIO_BUILD_DIR);
        if (bl && strncmp(exe, SCENARIO_BUILD_DIR, bl) == 0 && exe[bl] == '/') {
            snprintf(dir, sizeof(dir), "%s", SCENARIO_LIBRARY_DIR);
            return dir;
        }
    }
    snprintf(dir, sizeof(dir), "%s",
             stat(SCENARIO_INSTALL_LIBRARY, &st) == 0 && S_ISDIR(st.st_mode) ? SCENARIO_INSTALL_LIBRARY
                                                                               : SCENARIO_LIBRARY_DIR);
    return dir;
}

typedef struct use_ctx {
    scenario_conv *c;
    int expansions;
    unsigned char *seen; /* per node id: walked already (an alias names a node walked before) */
    size_t nseen;
} use_ctx;

static bool use_name_ok(const char *n)
{
    if (!*n || n[0] == '/' || strstr(n, ".."))
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '/' || *p == '.'))
            return false;
    return true;
}

/* The pair index of key in mapping node id, or -1. */
static long use_find(scenario_conv *c, int id, const char *key)
{
    yaml_node_t *m = scenario_conv_node(c, id);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_conv_node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return p - m->data.mapping.pairs.start;
    }
    return -1;
}

/* Adds to mapping dst what src's mapping sid has and dst lacks, merging mappings both have. */
static bool use_fill(use_ctx *u, int dst, yaml_document_t *src, int sid, const char *label, int depth)
{
    scenario_conv *c = u->c;
    if (depth > 64)
        return scenario_conv_fail(c, scenario_conv_node(c, dst), "use: %s is nested too deep", label);
    yaml_node_t *s = yaml_document_get_node(src, sid);
    size_t cnt = (size_t)(s->data.mapping.pairs.top - s->data.mapping.pairs.start);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t pair = yaml_document_get_node(src, sid)->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(src, pair.key), *v = yaml_document_get_node(src, pair.value);
        if (k->type != YAML_SCALAR_NODE)
            continue; /* the conversion would refuse it in the preset's own check */
        long at = use_find(c, dst, (const char *)k->data.scalar.value);
        if (at >= 0) {
            int dv = scenario_conv_node(c, dst)->data.mapping.pairs.start[at].value;
            if (scenario_conv_node(c, dv)->type == YAML_MAPPING_NODE && v->type == YAML_MAPPING_NODE &&
                !use_fill(u, dv, src, pair.value, label, depth + 1))
                return false;
            continue;
        }
        int nk = scenario_conv_copy(c, src, pair.key, label, true, 0);
        int nv = nk ? scenario_conv_copy(c, src, pair.value, label, true, 0) : 0;
        if (!nv || !yaml_document_append_mapping_pair(c->doc, dst, nk, nv))
            return scenario_conv_nomem(c);
    }
    return true;
}

/* Pulls preset name (named by node at) into mapping id. */
static bool use_one(use_ctx *u, int id, const yaml_node_t *at, const char *name)
{
    scenario_conv *c = u->c;
    if (!use_name_ok(name))
        return scenario_conv_fail(c, at, "use: expected a preset's name like receivers/orange, got '%s'", name);
    if (++u->expansions > USE_MAX_EXPANSIONS)
        return scenario_conv_fail(c, at, "use: %s: more than %d presets pulled in (a preset that uses itself?)",
                                  name, USE_MAX_EXPANSIONS);
    char path[4096];
    snprintf(path, sizeof(path), "%s/presets/%s.yaml", scenario_library_dir(), name);
    scenario_error rerr;
    size_t len = 0;
    char *text = scenario_conv_read_file(path, &len, &rerr);
    if (!text)
        return scenario_conv_fail(c, at, "use: no preset '%s' (%s; `tempfail list` shows presets/...)", name, path);
    if (!scenario_guard_check(text, len, path, &rerr)) {
        free(text);
        return scenario_conv_fail(c, at, "use: %s", rerr.message);
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return scenario_conv_nomem(c);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    bool ok = yaml_parser_load(&parser, &doc);
    if (!ok) {
        scenario_conv_fail(c, at, "use: %s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                           parser.problem_mark.column + 1, parser.problem ? parser.problem : "cannot parse");
        yaml_parser_delete(&parser);
        free(text);
        return false;
    }
    yaml_parser_delete(&parser);
    free(text);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const char *label = scenario_conv_own(c, path);
    if (!label)
        ok = scenario_conv_nomem(c);
    else if (!root || root->type != YAML_MAPPING_NODE)
        ok = scenario_conv_fail(c, at, "use: %s: a preset is a mapping of keys", path);
    else
        ok = use_fill(u, id, &doc, 1, label, 0);
    yaml_document_delete(&doc);
    return ok;
}

/* Expands the use: key of mapping id, if it has one (the key itself is removed). */
static bool use_expand(use_ctx *u, int id)
{
    scenario_conv *c = u->c;
    long at = use_find(c, id, "use");
    if (at < 0)
        return true;
    yaml_node_t *m = scenario_conv_node(c, id);
    int vid = m->data.mapping.pairs.start[at].value;
    memmove(m->data.mapping.pairs.start + at, m->data.mapping.pairs.start + at + 1,
            (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start - at - 1) * sizeof(yaml_node_pair_t));
    m->data.mapping.pairs.top--;
    yaml_node_t *v = scenario_conv_node(c, vid);
    if (v->type == YAML_SCALAR_NODE)
        return use_one(u, id, v, (const char *)v->data.scalar.value);
    if (v->type != YAML_SEQUENCE_NODE)
        return scenario_conv_fail(c, v, "use: expected a preset's name or a list of them, got a mapping");
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    for (size_t i = cnt; i-- > 0;) { /* the last wins: it fills first */
        yaml_node_t *item = scenario_conv_node(c, scenario_conv_node(c, vid)->data.sequence.items.start[i]);
        if (item->type != YAML_SCALAR_NODE)
            return scenario_conv_fail(c, item, "use: expected a preset's name, got a %s",
                                      item->type == YAML_MAPPING_NODE ? "mapping" : "list");
        if (!use_one(u, id, item, (const char *)item->data.scalar.value))
            return false;
    }
    return true;
}

static bool use_walk(use_ctx *u, int id, int depth)
{
    scenario_conv *c = u->c;
    if (depth > 64)
        return true; /* the conversion names what is nested too deep */
    /* each node once: nested aliases make a graph whose paths multiply (a billion laughs in a file
     * took 15 s here before the conversion refused its first key) */
    if (id <= 0)
        return true;
    if ((size_t)id >= u->nseen) {
        size_t n = (size_t)(c->doc->nodes.top - c->doc->nodes.start) + 2;
        unsigned char *g = realloc(u->seen, n);
        if (!g)
            return scenario_conv_nomem(c);
        memset(g + u->nseen, 0, n - u->nseen);
        u->seen = g;
        u->nseen = n;
    }
    if (u->seen[id])
        return true;
    u->seen[id] = 1;
    yaml_node_t *n = scenario_conv_node(c, id);
    if (n->type == YAML_MAPPING_NODE) {
        /* a preset may bring a use: of its own into the mapping: expand until none is left */
        for (long at; (at = use_find(c, id, "use")) >= 0;)
            if (!use_expand(u, id))
                return false;
        size_t cnt = (size_t)(scenario_conv_node(c, id)->data.mapping.pairs.top -
                              scenario_conv_node(c, id)->data.mapping.pairs.start);
        for (size_t i = 0; i < cnt; i++)
            if (!use_walk(u, scenario_conv_node(c, id)->data.mapping.pairs.start[i].value, depth + 1))
                return false;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (size_t i = 0; i < cnt; i++)
            if (!use_walk(u, scenario_conv_node(c, id)->data.sequence.items.start[i], depth + 1))
                return false;
    }
    return true;
}

bool scenario_use_apply(scenario_conv *c)
{
    use_ctx u = {.c = c};
    bool ok = !yaml_document_get_root_node(c->doc) || use_walk(&u, 1, 0);
    free(u.seen);
    return ok;
}
