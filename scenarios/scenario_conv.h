/*
 * scenario_conv - what the loader's converters share (private to scenarios/).
 *
 * Conversion walks the YAML document (libyaml's document API, so every node keeps its line and
 * column) and fills the models' config structs. A scenario_conv carries the document, the dotted key
 * path of the value being converted ("receivers[orange].policy[1].limit"), where each node came from
 * (a line of the file, or a --set), the first error and the warnings. The first error stops the
 * conversion: every converter returns false, and the caller unwinds and frees.
 *
 * Field converters (scenario_conv_str, _uint, _duration, ...) take the mapping, the key and whether the
 * key is required; an absent optional key leaves *out untouched, so callers fill defaults first.
 */
#ifndef SCENARIO_CONV_H
#define SCENARIO_CONV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "scenarios/scenario.h"

typedef struct scenario_conv {
    yaml_document_t *doc;
    const char *file;     /* the scenario's name in messages */
    const char *dir;      /* directory that relative data-file paths start from ("" = current) */
    struct scenario_conv_origin *origin; /* per node id: where a node not of the file came from */
    size_t norigin;
    char **owned;         /* origin labels the conversion owns */
    size_t nowned;
    char path[512];       /* key path of the value being converted */
    size_t pathlen;
    scenario_error *err;
    bool failed;
    scenario *s;          /* receives the warnings */
    size_t copied;        /* nodes scenario_conv_copy made (SCENARIO_GUARD_NODES at most) */
} scenario_conv;

/* A node that is not the file's: its label ("--set KEY=VALUE", or a preset file's path) and whether
 * its line and column are the label's (a node copied from a preset file keeps its marks). */
typedef struct scenario_conv_origin {
    const char *label;
    bool marks;
} scenario_conv_origin;

/* Records node id's origin (label must outlive the conversion; scenario_conv_own makes it so).
 * false (out of memory) with the error set. */
bool scenario_conv_mark(scenario_conv *c, int id, const char *label, bool marks);
/* A copy of text the conversion frees (scenario_conv_release); NULL when out of memory. */
const char *scenario_conv_own(scenario_conv *c, const char *text);
/* Deep copy of node sid of src into c's document, every node marked with label (and src's marks
 * when marks); the new node's id, or 0 (out of memory, or nested deeper than 64). */
int scenario_conv_copy(scenario_conv *c, yaml_document_t *src, int sid, const char *label, bool marks, int depth);
/* Frees what the conversion holds beside the document (origins, owned labels). */
void scenario_conv_release(scenario_conv *c);

/* Quantity a distribution or data file describes, which decides the unit syntax of its values. */
typedef enum { SCENARIO_CONV_SECONDS, SCENARIO_CONV_BYTES, SCENARIO_CONV_COUNT } scenario_conv_unit;

/* "file:line:col" or "--set KEY=VALUE" for a node. */
/* Reads a whole file into a malloc()ed buffer of *len bytes (not NUL-terminated); NULL with
 * "PATH: cannot open: ..." in err. */
/* path opened for reading if it is a regular file of SCENARIO_GUARD_FILE_BYTES at most (a FIFO is not
 * waited on); NULL with why ("not a regular file (a character device)"). */
FILE *scenario_conv_open_regular(const char *path, char *why, size_t whylen);
char *scenario_conv_read_file(const char *path, size_t *len, scenario_error *err);
void scenario_conv_where(const scenario_conv *c, const yaml_node_t *n, char *buf, size_t len);
/* Records "where: path: message" as the error (the first one only) and returns false. */
bool scenario_conv_fail(scenario_conv *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds "where: path: message" to the scenario's warnings. Returns false only when out of memory. */
bool scenario_conv_warn(scenario_conv *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Out of memory: an error like any other, so the caller unwinds and frees. */
bool scenario_conv_nomem(scenario_conv *c);

/* Path: push returns the previous length to pop back to. Keys with dots are written in brackets. */
size_t scenario_conv_push_key(scenario_conv *c, const char *key);
size_t scenario_conv_push_index(scenario_conv *c, size_t i);
size_t scenario_conv_push_name(scenario_conv *c, const char *name);
void scenario_conv_pop(scenario_conv *c, size_t len);

yaml_node_t *scenario_conv_node(const scenario_conv *c, int id);
/* A scalar's text; NULL for collections. Plain "~", "null" and "" count as no value. */
const char *scenario_conv_text(const yaml_node_t *n);
bool scenario_conv_is_null(const yaml_node_t *n);
/* The text of a scalar node, or an error "expected WHAT, got a mapping". */
const char *scenario_conv_scalar(scenario_conv *c, yaml_node_t *n, const char *what);

/*
 * Checks that map is a mapping whose keys are scalars among valid[0..n-1] and appear once.
 * Errors: "expected a mapping", "unknown key 'x' (did you mean 'y'?)", "key 'x' appears twice".
 */
bool scenario_conv_mapping(scenario_conv *c, yaml_node_t *map, const char *what);
bool scenario_conv_keys(scenario_conv *c, yaml_node_t *map, const char *const *valid, size_t n);
/* The value for key (NULL when absent or null). */
yaml_node_t *scenario_conv_get(scenario_conv *c, yaml_node_t *map, const char *key);
/* The key node for key, for messages about the key itself. */
yaml_node_t *scenario_conv_get_key(scenario_conv *c, yaml_node_t *map, const char *key);
/* Value for a required key, or an error "missing required key 'key'" at the mapping. */
yaml_node_t *scenario_conv_need(scenario_conv *c, yaml_node_t *map, const char *key);

/* Node converters: the path already names the node. */
bool scenario_conv_node_str(scenario_conv *c, yaml_node_t *n, char **out);
bool scenario_conv_node_uint(scenario_conv *c, yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *out);
bool scenario_conv_node_number(scenario_conv *c, yaml_node_t *n, double *out);
bool scenario_conv_node_duration(scenario_conv *c, yaml_node_t *n, sim_time_t *out);
bool scenario_conv_node_size(scenario_conv *c, yaml_node_t *n, double *out);
bool scenario_conv_node_rate(scenario_conv *c, yaml_node_t *n, double *out);
bool scenario_conv_node_probability(scenario_conv *c, yaml_node_t *n, double *out);
bool scenario_conv_node_bool(scenario_conv *c, yaml_node_t *n, bool *out);
bool scenario_conv_node_bandwidth(scenario_conv *c, yaml_node_t *n, double *out);
/* One of names[0..n-1]; *out = its index. */
bool scenario_conv_node_enum(scenario_conv *c, yaml_node_t *n, const char *const *names, size_t count, int *out);
/* A domain name: letters, digits, '-' and dots, stored in lower case. */
bool scenario_conv_node_domain(scenario_conv *c, yaml_node_t *n, char **out);
/* A name used in metric paths and --set paths: letters, digits, '_' and '-'. */
bool scenario_conv_node_ident(scenario_conv *c, yaml_node_t *n, char **out);
/* A list of strings (or one string), as a NULL-terminated array. */
bool scenario_conv_node_strv(scenario_conv *c, yaml_node_t *n, char ***out, size_t *count);

/* Field converters: map[key]; absent and optional leaves *out as it was. */
bool scenario_conv_str(scenario_conv *c, yaml_node_t *map, const char *key, bool required, char **out);
bool scenario_conv_u32(scenario_conv *c, yaml_node_t *map, const char *key, bool required, uint32_t min,
                       uint32_t *out);
bool scenario_conv_u64(scenario_conv *c, yaml_node_t *map, const char *key, bool required, uint64_t min,
                       uint64_t *out);
bool scenario_conv_duration(scenario_conv *c, yaml_node_t *map, const char *key, bool required, sim_time_t *out);
bool scenario_conv_probability(scenario_conv *c, yaml_node_t *map, const char *key, bool required, double *out);
bool scenario_conv_bool(scenario_conv *c, yaml_node_t *map, const char *key, bool required, bool *out);

/*
 * The error for two durations of map out of order: lo must come before hi (strictly when strict).
 * Either may be a default the scenario never wrote, so the error points at the key the scenario set:
 * hi when it is there ("must be longer than lo (5m)", or "must not be shorter than"), else lo ("must
 * be shorter than hi (1m)", or "must not be longer than"), with the other's value. Returns false.
 */
/* A duration read from map's key (or its default) must be longer than 0: true, or the error at key. */
bool scenario_conv_positive(scenario_conv *c, yaml_node_t *map, const char *key, sim_time_t t);
bool scenario_conv_fail_order(scenario_conv *c, yaml_node_t *map, const char *lo, sim_time_t lo_value, const char *hi,
                              sim_time_t hi_value, bool strict);

/* A distribution (scenario_dist.c): a scalar constant or a {dist: ...} mapping. */
bool scenario_dist_node(scenario_conv *c, yaml_node_t *n, scenario_conv_unit unit, sim_dist *out);
bool scenario_dist_field(scenario_conv *c, yaml_node_t *map, const char *key, scenario_conv_unit unit,
                         sim_dist *out);
/* A data file of one value per line (empirical distributions, traces), relative to the scenario. */
bool scenario_dist_read_file(scenario_conv *c, yaml_node_t *n, scenario_conv_unit unit, double **values,
                             size_t *count);

/* Parts of the scenario, each in its own file. */
bool scenario_traffic_convert(scenario_conv *c, yaml_node_t *traffic, traffic_config *out);
void scenario_traffic_free(traffic_config *t);
bool scenario_mta_convert(scenario_conv *c, yaml_node_t *mta, mta_config *out);
void scenario_mta_free(mta_config *m);
bool scenario_receiver_convert_all(scenario_conv *c, yaml_node_t *list, scenario *s);
void scenario_receiver_free(receiver_config *r);
/* A receiver's `policy:` list into pc->rules (pc->preset decides the default reply texts). */
bool scenario_receiver_policy(scenario_conv *c, yaml_node_t *list, policy_config *pc);
/* Reply syntax "CODE [X.Y.Z] text": 0, or -EINVAL with the reason in why. */
int scenario_receiver_check_reply(const char *reply, char *why, size_t len);

/* --set overrides (scenario_set.c): applied to the document before conversion. */
bool scenario_set_apply(scenario_conv *c, const char *set);
/* use: presets (scenario_use.c): applied to the document before --set. */
bool scenario_use_apply(scenario_conv *c);
/* The `sweep:` block into *out (allocated). */
bool scenario_sweep_convert(scenario_conv *c, yaml_node_t *node, struct scenario_sweep **out);

/* The `fixes:` block into *out (allocated). */
bool scenario_fixes_convert(scenario_conv *c, yaml_node_t *node, struct scenario_fixes **out);

void scenario_conv_strv_free(char **v);

#endif
