/*
 * scenario_set - `--set KEY=VALUE` overrides, applied to the YAML document before conversion.
 *
 * Editing the document rather than the converted structs means an override is checked exactly like
 * the file (same types, units, suggestions), ends up in the re-emitted scenario.yaml of the run
 * directory, and needs no per-field code. Nodes a --set creates are remembered so that messages about
 * them say "--set KEY=VALUE" instead of a line of a file the value never came from.
 *
 * Paths: components separated by dots; `[N]` selects a list item by index; in a list of named items
 * (classes, receivers; policy rules by rule name) `.name` or `[name]` selects by name; `[key]` is a
 * mapping key that contains dots (`domains[orange.test]`), and an unbracketed dotted key is also
 * found when it exists. A missing final key is added; a missing intermediate key becomes a mapping
 * (the conversion then says whether the key is valid, with a suggestion). A value starting with '['
 * or '{' is YAML flow syntax and replaces the whole subtree; one starting with a quote is a quoted
 * YAML string (so "[relay.example]:25" can be given); anything else is taken as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios/scenario_guard.h"
#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_keys.h"

#define SCENARIO_SET_MAXTOK 32

typedef struct scenario_set_tok {
    char text[256];
    bool bracketed;
} scenario_set_tok;

typedef struct scenario_set_ctx {
    scenario_conv *c;
    const char *set;    /* the whole KEY=VALUE */
    const char *label;  /* "--set KEY=VALUE", the origin of the nodes it makes */
    char path[512];     /* the path walked so far, for messages */
} scenario_set_ctx;

static bool scenario_set_fail(scenario_set_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool scenario_set_fail(scenario_set_ctx *x, const char *fmt, ...)
{
    scenario_conv *c = x->c;
    if (c->failed)
        return false;
    c->failed = true;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (x->path[0])
        snprintf(c->err->message, sizeof(c->err->message), "--set %.300s: %.300s: %.400s", x->set, x->path, msg);
    else
        snprintf(c->err->message, sizeof(c->err->message), "--set %.300s: %.600s", x->set, msg);
    return false;
}

static void scenario_set_path_add(scenario_set_ctx *x, const char *text, bool bracket)
{
    size_t l = strlen(x->path);
    snprintf(x->path + l, sizeof(x->path) - l, bracket ? "[%s]" : l ? ".%s" : "%s", text);
}

/* Records that node id was made by this --set. */
static bool scenario_set_mark(scenario_set_ctx *x, int id) { return scenario_conv_mark(x->c, id, x->label, false); }

static int scenario_set_scalar(scenario_set_ctx *x, const char *text)
{
    int id = yaml_document_add_scalar(x->c->doc, NULL, (yaml_char_t *)text, (int)strlen(text),
                                      YAML_ANY_SCALAR_STYLE);
    return scenario_set_mark(x, id) ? id : 0;
}

/* The node for VALUE: YAML flow syntax for '[', '{' and quoted strings, else the text as a scalar. */
static int scenario_set_value(scenario_set_ctx *x, const char *value)
{
    if (value[0] != '[' && value[0] != '{' && value[0] != '"' && value[0] != '\'') {
        int id = scenario_set_scalar(x, value);
        if (!id)
            scenario_conv_nomem(x->c);
        return id;
    }
    size_t line, col;
    if (!scenario_guard_depth(value, strlen(value), SCENARIO_GUARD_DEPTH, &line, &col)) {
        scenario_set_fail(x, "the value is nested deeper than %d levels (at column %zu)", SCENARIO_GUARD_DEPTH, col);
        return 0;
    }
    yaml_parser_t parser;
    yaml_document_t vdoc;
    if (!yaml_parser_initialize(&parser)) {
        scenario_conv_nomem(x->c);
        return 0;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)value, strlen(value));
    if (!yaml_parser_load(&parser, &vdoc)) {
        scenario_set_fail(x, "invalid YAML value at column %zu: %s", parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return 0;
    }
    yaml_parser_delete(&parser);
    int id = yaml_document_get_root_node(&vdoc) ? scenario_conv_copy(x->c, &vdoc, 1, x->label, false, 0) : scenario_set_scalar(x, "");
    yaml_document_delete(&vdoc);
    if (!id)
        scenario_conv_nomem(x->c);
    return id;
}

static int scenario_set_tokenize(scenario_set_ctx *x, const char *path, size_t len, scenario_set_tok *toks)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        if (n == SCENARIO_SET_MAXTOK) {
            scenario_set_fail(x, "path too deep");
            return -1;
        }
        scenario_set_tok *t = &toks[n];
        size_t start, end;
        if (path[i] == '[') {
            start = ++i;
            while (i < len && path[i] != ']')
                i++;
            if (i == len) {
                scenario_set_fail(x, "missing ']' in the key path");
                return -1;
            }
            end = i++;
            t->bracketed = true;
        } else {
            start = i;
            while (i < len && path[i] != '.' && path[i] != '[')
                i++;
            end = i;
            t->bracketed = false;
        }
        if (end == start || end - start >= sizeof(t->text)) {
            scenario_set_fail(x, "empty or overlong component in the key path");
            return -1;
        }
        memcpy(t->text, path + start, end - start);
        t->text[end - start] = 0;
        n++;
        if (i < len) {
            if (path[i] == '.') {
                i++;
                if (i == len) {
                    scenario_set_fail(x, "the key path ends with '.'");
                    return -1;
                }
            } else if (path[i] != '[') {
                scenario_set_fail(x, "expected '.' or '[' after ']' in the key path");
                return -1;
            }
        }
    }
    if (n == 0)
        scenario_set_fail(x, "expected KEY=VALUE");
    return n;
}

static bool scenario_set_is_index(const char *t, size_t *idx)
{
    if (!*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 9)
        return false;
    *idx = (size_t)strtoul(t, NULL, 10);
    return true;
}

/* In a list of mappings, the item whose `name:` (or, for policy rules, `rule:`) is text; -1 if none. */
static long scenario_set_find_named(scenario_set_ctx *x, yaml_node_t *seq, const char *text)
{
    static const char *const fields[] = {"name", "rule"};
    for (size_t f = 0; f < 2; f++) {
        size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *item = scenario_conv_node(x->c, seq->data.sequence.items.start[i]);
            const char *name = scenario_conv_text(scenario_conv_get(x->c, item, fields[f]));
            if (name && strcmp(name, text) == 0)
                return (long)i;
        }
    }
    return -1;
}

static bool scenario_set_no_such_item(scenario_set_ctx *x, yaml_node_t *seq, const char *text)
{
    size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    const char **names = calloc(cnt + 1, sizeof(*names));
    size_t n = 0;
    if (!names)
        return scenario_conv_nomem(x->c);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *item = scenario_conv_node(x->c, seq->data.sequence.items.start[i]);
        const char *name = scenario_conv_text(scenario_conv_get(x->c, item, "name"));
        if (!name)
            name = scenario_conv_text(scenario_conv_get(x->c, item, "rule"));
        if (name)
            names[n++] = name;
    }
    char msg[900];
    snprintf(msg, sizeof(msg), "no item named '%s'", text);
    scenario_keys_hint(msg, sizeof(msg), text, names, n, "names");
    free(names);
    return scenario_set_fail(x, "%s", msg);
}

bool scenario_set_apply(scenario_conv *c, const char *set)
{
    scenario_set_ctx x = {.c = c, .set = set};
    char label[1100];
    snprintf(label, sizeof(label), "--set %.1000s", set);
    if (!(x.label = scenario_conv_own(c, label)))
        return scenario_conv_nomem(c);
    const char *eq = strchr(set, '=');
    if (!eq || eq == set)
        return scenario_set_fail(&x, "expected KEY=VALUE");
    scenario_set_tok toks[SCENARIO_SET_MAXTOK];
    int ntok = scenario_set_tokenize(&x, set, (size_t)(eq - set), toks);
    if (ntok < 0)
        return false;
    const char *value = eq + 1;

    int cur = 1; /* the root */
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root || root->type == YAML_SCALAR_NODE)
        return scenario_set_fail(&x, "the scenario is not a mapping of keys");
    for (int i = 0; i < ntok; i++) {
        yaml_node_t *node = scenario_conv_node(c, cur);
        scenario_set_tok *t = &toks[i];
        bool in_seq = node->type == YAML_SEQUENCE_NODE;
        size_t idx; /* the child's position in node: list index or pair index */
        if (node->type == YAML_SCALAR_NODE)
            return scenario_set_fail(&x, "'%s' is a value, not a mapping or a list; cannot select '%s' in it",
                                     scenario_conv_text(node), t->text);
        if (in_seq) {
            size_t cnt = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
            if (scenario_set_is_index(t->text, &idx)) {
                if (idx == cnt && i == ntok - 1) {
                    /* [N] one past the end appends (another expect: line, another rule) */
                    int v = scenario_set_value(&x, value);
                    if (!v)
                        return false;
                    if (!yaml_document_append_sequence_item(c->doc, cur, v))
                        return scenario_conv_nomem(c);
                    return true;
                }
                if (idx >= cnt)
                    return scenario_set_fail(&x, "index %zu is out of range (the list has %zu item%s)", idx, cnt,
                                             cnt == 1 ? "" : "s");
            } else {
                long found = scenario_set_find_named(&x, node, t->text);
                if (found < 0)
                    return scenario_set_no_such_item(&x, node, t->text);
                idx = (size_t)found;
            }
            scenario_set_path_add(&x, t->text, true);
        } else {
            /* The longest run of unbracketed components that is an existing key ("gmail.test"). */
            long pair = -1;
            int used = 1;
            char key[512] = "";
            size_t npairs = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
            for (int j = i; j < ntok && !(j > i && toks[j].bracketed); j++) {
                size_t kl = strlen(key);
                snprintf(key + kl, sizeof(key) - kl, kl ? ".%s" : "%s", toks[j].text);
                for (size_t p = 0; p < npairs; p++) {
                    const char *k = scenario_conv_text(scenario_conv_node(c, node->data.mapping.pairs.start[p].key));
                    if (k && strcmp(k, key) == 0) {
                        pair = (long)p;
                        used = j - i + 1;
                    }
                }
                if (t->bracketed)
                    break;
            }
            if (pair < 0) {
                size_t dummy;
                if (i + 1 < ntok && scenario_set_is_index(toks[i + 1].text, &dummy))
                    return scenario_set_fail(&x, "'%s' does not exist; give the whole list as the value (%s=[...])",
                                             t->text, t->text);
                /* Add the key: with the value when last, else with a mapping to walk into. */
                scenario_set_path_add(&x, t->text, t->bracketed);
                int k = scenario_set_scalar(&x, t->text);
                if (!k)
                    return false;
                int v = i == ntok - 1 ? scenario_set_value(&x, value)
                                      : yaml_document_add_mapping(c->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
                if (!v || (i < ntok - 1 && !scenario_set_mark(&x, v)))
                    return false;
                if (!yaml_document_append_mapping_pair(c->doc, cur, k, v))
                    return scenario_conv_nomem(c);
                cur = v;
                continue;
            }
            i += used - 1;
            idx = (size_t)pair;
            const char *k = scenario_conv_text(scenario_conv_node(c, node->data.mapping.pairs.start[idx].key));
            scenario_set_path_add(&x, k, t->bracketed || strchr(k, '.'));
        }
        int child = in_seq ? node->data.sequence.items.start[idx] : node->data.mapping.pairs.start[idx].value;
        int replace = 0;
        if (i == ntok - 1) {
            if (!(replace = scenario_set_value(&x, value)))
                return false;
        } else if (scenario_conv_is_null(scenario_conv_node(c, child))) {
            /* A key with no value on the way ("mta:"): give it an empty mapping to walk into. */
            replace = yaml_document_add_mapping(c->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
            if (!scenario_set_mark(&x, replace))
                return false;
        }
        if (replace) {
            /* Adding nodes may have moved the node array: fetch the parent again. */
            node = scenario_conv_node(c, cur);
            if (in_seq)
                node->data.sequence.items.start[idx] = replace;
            else
                node->data.mapping.pairs.start[idx].value = replace;
            child = replace;
        }
        cur = child;
    }
    return true;
}
