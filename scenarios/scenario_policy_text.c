/*
 * scenario_policy_text - the loader's entry points for testsmtpd: a file that holds only
 * `receivers:`, and a policy list given as text at run time (PUT /policy).
 *
 * testsmtpd is configured by the same `receivers:` block as the simulator, but an operator who only
 * wants a throttling server should not have to invent traffic for it. So a file without `traffic:`
 * is read here as a receivers-only file; anything else goes to the ordinary loader, whose messages
 * it then gets. Both paths reuse the loader's converters (scenario_conv.h), so a rule is checked the
 * same way, with the same file:line:column messages, wherever it is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "scenarios/scenario_guard.h"
#include "scenarios/scenario_conv.h"

static void scenario_policy_text_syntax(const yaml_parser_t *p, const char *name, scenario_error *err)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    if (p->error == YAML_MEMORY_ERROR)
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
    else
        snprintf(err->message, sizeof(err->message), "%s:%zu:%zu: %s", name, p->problem_mark.line + 1,
                 p->problem_mark.column + 1, problem);
}

/* Parses one YAML document from text. Returns false with err filled. */
static bool scenario_policy_text_parse(const char *text, size_t len, const char *name, yaml_document_t *doc,
                                       scenario_error *err)
{
    if (!scenario_guard_check(text, len, name, err))
        return false;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    bool ok = yaml_parser_load(&parser, doc);
    if (!ok)
        scenario_policy_text_syntax(&parser, name, err);
    yaml_parser_delete(&parser);
    return ok;
}


/* Is root a mapping without `traffic:` (a receivers-only file)? */
static bool scenario_policy_text_receivers_only(yaml_document_t *doc, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, "traffic") == 0)
            return false;
    }
    return true;
}

scenario *scenario_load_receivers_file(const char *path, scenario_error *err)
{
    scenario_error scratch;
    if (!err)
        err = &scratch;
    err->message[0] = 0;
    size_t len = 0;
    char *text = scenario_conv_read_file(path, &len, err);
    if (!text)
        return NULL;
    yaml_document_t doc;
    if (!scenario_policy_text_parse(text, len, path, &doc, err)) {
        free(text);
        return NULL;
    }
    free(text);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!scenario_policy_text_receivers_only(&doc, root)) {
        /* A whole scenario (or something the loader will explain): its messages, its checks. */
        yaml_document_delete(&doc);
        return scenario_load_file(path, NULL, 0, err);
    }

    static const char *const keys[] = {"name", "description", "seed", "receivers"};
    scenario *s = calloc(1, sizeof(*s));
    char *dir = strdup(path);
    scenario_conv c = {.doc = &doc, .file = path, .dir = "", .err = err, .s = s};
    bool ok = s && dir && (s->source = strdup(path));
    if (!ok) {
        snprintf(err->message, sizeof(err->message), "%s: out of memory", path);
    } else {
        char *slash = strrchr(dir, '/');
        if (slash)
            slash == dir ? (void)(dir[1] = 0) : (void)(*slash = 0);
        else
            dir[0] = 0;
        c.dir = dir;
        s->seed = 1;
        s->duration = SIM_HOUR;
        s->sample_every = 10 * SIM_SEC;
        yaml_node_t *list;
        ok = scenario_conv_keys(&c, root, keys, sizeof(keys) / sizeof(keys[0])) &&
             scenario_conv_str(&c, root, "name", false, &s->name) &&
             scenario_conv_str(&c, root, "description", false, &s->description) &&
             scenario_conv_u64(&c, root, "seed", false, 0, &s->seed) &&
             (list = scenario_conv_need(&c, root, "receivers")) && scenario_receiver_convert_all(&c, list, s);
        if (ok && !s->name) {
            const char *base = strrchr(path, '/');
            ok = (s->name = strdup(base ? base + 1 : path)) != NULL;
            if (!ok)
                snprintf(err->message, sizeof(err->message), "%s: out of memory", path);
        }
    }
    scenario_conv_release(&c);
    free(dir);
    yaml_document_delete(&doc);
    if (!ok) {
        scenario_free(s);
        return NULL;
    }
    return s;
}

void scenario_policy_free(policy_config *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->nrules; i++)
        free(pc->rules[i].reply);
    free(pc->rules);
    free(pc->preset);
    free(pc->hostname);
    memset(pc, 0, sizeof(*pc));
}

int scenario_parse_policy(const char *text, size_t len, const char *name, const char *preset, const char *hostname,
                          policy_config *out, scenario_error *err)
{
    scenario_error scratch;
    if (!err)
        err = &scratch;
    err->message[0] = 0;
    if (!name)
        name = "<policy>";
    memset(out, 0, sizeof(*out));
    if (!(out->preset = strdup(preset ? preset : "postfix")) || !(out->hostname = strdup(hostname ? hostname : "mx.test"))) {
        scenario_policy_free(out);
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
        return -ENOMEM;
    }
    yaml_document_t doc;
    if (!scenario_policy_text_parse(text, len, name, &doc, err)) {
        scenario_policy_free(out);
        return -EINVAL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    /* Warnings (a 421 with close: no) have nowhere to go at run time but are harmless: dropped. */
    scenario *scratch_s = calloc(1, sizeof(*scratch_s));
    scenario_conv c = {.doc = &doc, .file = name, .dir = "", .err = err, .s = scratch_s};
    bool ok = scratch_s != NULL;
    if (!ok)
        snprintf(err->message, sizeof(err->message), "%s: out of memory", name);
    else if (root && !scenario_conv_is_null(root))
        ok = scenario_receiver_policy(&c, root, out);
    if (ok) {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        char why[512];
        policy *p = rng ? policy_create(out, rng, why, sizeof(why)) : NULL;
        if (!p) {
            snprintf(err->message, sizeof(err->message), "%s: %s", name, rng ? why : "out of memory");
            ok = false;
        }
        policy_free(p);
        gsl_rng_free(rng);
    }
    scenario_conv_release(&c);
    scenario_free(scratch_s);
    yaml_document_delete(&doc);
    if (!ok) {
        scenario_policy_free(out);
        return -EINVAL;
    }
    return 0;
}
