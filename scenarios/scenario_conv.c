/*
 * scenario_conv - location-aware access to the YAML document for the loader's converters.
 *
 * Why a context rather than plain getters: principle 6 of DESIGN.md ("bad input gets a clear error")
 * needs every message to say where (file:line:col, or the --set that put the value there) and what
 * (the dotted key path), and to suggest the nearest key. Keeping the path and the first error in one
 * place lets each converter read like the schema it implements.
 */
#include "scenarios/scenario_conv.h"
#include "scenarios/scenario_guard.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenarios/scenario_keys.h"

void scenario_conv_where(const scenario_conv *c, const yaml_node_t *n, char *buf, size_t len)
{
    if (n) {
        ptrdiff_t id = n - c->doc->nodes.start + 1;
        if (id > 0 && (size_t)id < c->norigin && c->origin[id].label) {
            if (c->origin[id].marks)
                snprintf(buf, len, "%s:%zu:%zu", c->origin[id].label, n->start_mark.line + 1,
                         n->start_mark.column + 1);
            else
                snprintf(buf, len, "%s", c->origin[id].label);
            return;
        }
        snprintf(buf, len, "%s:%zu:%zu", c->file, n->start_mark.line + 1, n->start_mark.column + 1);
        return;
    }
    snprintf(buf, len, "%s", c->file);
}

static void scenario_conv_format(scenario_conv *c, const yaml_node_t *n, char *buf, size_t len, const char *fmt,
                                 va_list ap)
{
    char where[512];
    scenario_conv_where(c, n, where, sizeof(where));
    int w;
    if (c->pathlen)
        w = snprintf(buf, len, "%s: %s: ", where, c->path);
    else
        w = snprintf(buf, len, "%s: ", where);
    if (w >= 0 && (size_t)w < len)
        vsnprintf(buf + w, len - (size_t)w, fmt, ap);
}

bool scenario_conv_fail(scenario_conv *c, const yaml_node_t *n, const char *fmt, ...)
{
    if (c->failed)
        return false;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    scenario_conv_format(c, n, c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    return false;
}

bool scenario_conv_nomem(scenario_conv *c)
{
    if (!c->failed) {
        c->failed = true;
        snprintf(c->err->message, sizeof(c->err->message), "%s: out of memory", c->file);
    }
    return false;
}

bool scenario_conv_warn(scenario_conv *c, const yaml_node_t *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    scenario_conv_format(c, n, buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **w = realloc(c->s->warnings, (c->s->nwarnings + 1) * sizeof(*w));
    if (!w)
        return scenario_conv_nomem(c);
    c->s->warnings = w;
    if (!(w[c->s->nwarnings] = strdup(buf)))
        return scenario_conv_nomem(c);
    c->s->nwarnings++;
    return true;
}

static size_t scenario_conv_append(scenario_conv *c, const char *fmt, const char *a)
{
    size_t old = c->pathlen;
    int w = snprintf(c->path + old, sizeof(c->path) - old, fmt, a);
    if (w < 0 || (size_t)w >= sizeof(c->path) - old)
        c->path[old] = 0; /* a path this long is not worth printing whole; keep the prefix */
    else
        c->pathlen += (size_t)w;
    return old;
}

size_t scenario_conv_push_key(scenario_conv *c, const char *key)
{
    if (strchr(key, '.') || strchr(key, ' ') || !*key)
        return scenario_conv_append(c, "[%s]", key);
    return scenario_conv_append(c, c->pathlen ? ".%s" : "%s", key);
}

size_t scenario_conv_push_index(scenario_conv *c, size_t i)
{
    char num[32];
    snprintf(num, sizeof(num), "%zu", i);
    return scenario_conv_append(c, "[%s]", num);
}

size_t scenario_conv_push_name(scenario_conv *c, const char *name)
{
    return scenario_conv_append(c, "[%s]", name);
}

void scenario_conv_pop(scenario_conv *c, size_t len)
{
    c->pathlen = len;
    c->path[len] = 0;
}

yaml_node_t *scenario_conv_node(const scenario_conv *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

bool scenario_conv_is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    /* ANY is the style of scalars made by --set ("--set mta=" empties a section). */
    if (n->type != YAML_SCALAR_NODE ||
        (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && n->data.scalar.style != YAML_ANY_SCALAR_STYLE))
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

const char *scenario_conv_text(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *scenario_conv_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "nothing";
    }
}

const char *scenario_conv_scalar(scenario_conv *c, yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        scenario_conv_fail(c, n, "expected %s, got %s", what, scenario_conv_kind(n));
        return NULL;
    }
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        scenario_conv_fail(c, n, "expected %s, got text with a NUL byte", what);
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

bool scenario_conv_mapping(scenario_conv *c, yaml_node_t *map, const char *what)
{
    if (map->type != YAML_MAPPING_NODE) {
        if (map->type == YAML_SCALAR_NODE)
            return scenario_conv_fail(c, map, "expected %s, got '%s'", what, scenario_conv_text(map));
        return scenario_conv_fail(c, map, "expected %s, got %s", what, scenario_conv_kind(map));
    }
    return true;
}

bool scenario_conv_keys(scenario_conv *c, yaml_node_t *map, const char *const *valid, size_t n)
{
    if (!scenario_conv_mapping(c, map, "a mapping of keys"))
        return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_conv_node(c, p->key);
        const char *key = scenario_conv_text(k);
        if (!key)
            return scenario_conv_fail(c, k, "expected a key name, got %s", scenario_conv_kind(k));
        size_t i;
        for (i = 0; i < n && strcmp(valid[i], key) != 0; i++)
            ;
        size_t old = scenario_conv_push_key(c, key);
        if (i == n) {
            char msg[900];
            snprintf(msg, sizeof(msg), "unknown key '%s'", key);
            scenario_keys_hint(msg, sizeof(msg), key, valid, n, "keys");
            return scenario_conv_fail(c, k, "%s", msg);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = scenario_conv_node(c, q->key);
            const char *key2 = scenario_conv_text(k2);
            if (key2 && strcmp(key2, key) == 0) {
                char first[512];
                scenario_conv_where(c, k2, first, sizeof(first));
                return scenario_conv_fail(c, k, "key '%s' appears twice (first at %s)", key, first);
            }
        }
        scenario_conv_pop(c, old);
    }
    return true;
}

yaml_node_t *scenario_conv_get_key(scenario_conv *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_conv_node(c, p->key);
        const char *t = scenario_conv_text(k);
        if (t && strcmp(t, key) == 0)
            return k;
    }
    return NULL;
}

yaml_node_t *scenario_conv_get(scenario_conv *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *t = scenario_conv_text(scenario_conv_node(c, p->key));
        if (t && strcmp(t, key) == 0) {
            yaml_node_t *v = scenario_conv_node(c, p->value);
            return scenario_conv_is_null(v) ? NULL : v;
        }
    }
    return NULL;
}

yaml_node_t *scenario_conv_need(scenario_conv *c, yaml_node_t *map, const char *key)
{
    yaml_node_t *v = scenario_conv_get(c, map, key);
    if (v)
        return v;
    yaml_node_t *k = scenario_conv_get_key(c, map, key);
    if (k) {
        size_t old = scenario_conv_push_key(c, key);
        scenario_conv_fail(c, k, "missing value for required key '%s'", key);
        scenario_conv_pop(c, old);
        return NULL;
    }
    scenario_conv_fail(c, map, "missing required key '%s'", key);
    return NULL;
}

/* ---- node converters ---- */

bool scenario_conv_node_str(scenario_conv *c, yaml_node_t *n, char **out)
{
    const char *t = scenario_conv_scalar(c, n, "a string");
    if (!t)
        return false;
    char *d = strdup(t);
    if (!d)
        return scenario_conv_nomem(c);
    free(*out);
    *out = d;
    return true;
}

/* A unit parser's -EINVAL or -EDOM as a message: what was expected, and why an exponent is not. */
static bool scenario_conv_unit_fail(scenario_conv *c, yaml_node_t *n, int rc, const char *expected, const char *t)
{
    if (rc == -EDOM)
        return scenario_conv_fail(c, n, "'%s': a number in exponent notation is not accepted; write it out (%s)", t,
                                  expected);
    return scenario_conv_fail(c, n, "expected %s, got '%s'", expected, t);
}

bool scenario_conv_node_uint(scenario_conv *c, yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *t = scenario_conv_scalar(c, n, "a whole number");
    if (!t)
        return false;
    const char *p = t;
    while (*p == ' ')
        p++;
    char *end;
    errno = 0;
    unsigned long long v = *p >= '0' && *p <= '9' ? strtoull(p, &end, 10) : 0;
    if (!(*p >= '0' && *p <= '9') || errno || *end)
        return scenario_conv_fail(c, n, "expected a whole number, got '%s'", t);
    if (v < min)
        return scenario_conv_fail(c, n, "must be at least %llu, got %llu", (unsigned long long)min, v);
    if (v > max)
        return scenario_conv_fail(c, n, "must be at most %llu, got %llu", (unsigned long long)max, v);
    *out = v;
    return true;
}

bool scenario_conv_node_number(scenario_conv *c, yaml_node_t *n, double *out)
{
    const char *t = scenario_conv_scalar(c, n, "a number");
    if (!t)
        return false;
    /* A number is a size without a unit: the same strict syntax, no sign, no "inf". */
    const char *p = t;
    while (*p == ' ')
        p++;
    double v;
    char *end;
    errno = 0;
    v = strtod(p, &end);
    if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-') || end == p || *end || errno || v != v ||
        v > 1e300 || v < -1e300)
        return scenario_conv_fail(c, n, "expected a number, got '%s'", t);
    if (strpbrk(p, "eE"))
        return scenario_conv_unit_fail(c, n, -EDOM, "a number like 0.25 or 1000", t);
    *out = v;
    return true;
}

bool scenario_conv_node_duration(scenario_conv *c, yaml_node_t *n, sim_time_t *out)
{
    const char *t = scenario_conv_scalar(c, n, "a duration like 300s, 5m, 2h, 5d");
    if (!t)
        return false;
    int rc = scenario_parse_duration(t, out);
    if (rc == -ERANGE)
        return scenario_conv_fail(c, n, "'%s' is longer than the longest duration accepted, %.0fd (100 years)", t,
                                  SCENARIO_MAX_DURATION_DAYS);
    if (rc < 0)
        return scenario_conv_unit_fail(c, n, rc, "a duration like 300s, 5m, 2h, 5d", t);
    return true;
}

bool scenario_conv_node_size(scenario_conv *c, yaml_node_t *n, double *out)
{
    const char *t = scenario_conv_scalar(c, n, "a size like 512, 4KB, 1.5MB");
    if (!t)
        return false;
    int rc = scenario_parse_size(t, out);
    if (rc == -ERANGE)
        return scenario_conv_fail(c, n, "'%s' is larger than the largest size accepted, 16GB", t);
    if (rc < 0)
        return scenario_conv_unit_fail(c, n, rc, "a size like 512, 4KB, 1.5MB", t);
    return true;
}

bool scenario_conv_node_rate(scenario_conv *c, yaml_node_t *n, double *out)
{
    const char *t = scenario_conv_scalar(c, n, "a rate like 20/s, 1000/h");
    if (!t)
        return false;
    int rc = scenario_parse_rate(t, out);
    if (rc == -ERANGE)
        return scenario_conv_fail(c, n, "'%s' is above the highest rate accepted, 1000000/s", t);
    if (rc < 0)
        return scenario_conv_unit_fail(c, n, rc, "a rate like 20/s, 1000/h, 5/min", t);
    return true;
}

bool scenario_conv_node_probability(scenario_conv *c, yaml_node_t *n, double *out)
{
    const char *t = scenario_conv_scalar(c, n, "a probability");
    if (!t)
        return false;
    if (scenario_parse_probability(t, out) < 0)
        return scenario_conv_fail(c, n, "expected a probability from 0 to 1 or a percentage like 40%%, got '%s'", t);
    return true;
}

bool scenario_conv_node_bool(scenario_conv *c, yaml_node_t *n, bool *out)
{
    const char *t = scenario_conv_scalar(c, n, "yes or no");
    if (!t)
        return false;
    if (scenario_parse_bool(t, out) < 0)
        return scenario_conv_fail(c, n, "expected yes or no, got '%s'", t);
    return true;
}

bool scenario_conv_node_bandwidth(scenario_conv *c, yaml_node_t *n, double *out)
{
    const char *t = scenario_conv_scalar(c, n, "a bandwidth like 100Mbit/s");
    if (!t)
        return false;
    int rc = scenario_parse_bandwidth(t, out);
    if (rc == -ERANGE)
        return scenario_conv_fail(c, n, "'%s' is above the highest bandwidth accepted, 10000Gbit/s (10 Tbit/s)",
                                  t);
    if (rc < 0 || *out <= 0)
        return scenario_conv_unit_fail(c, n, rc < 0 ? rc : -EINVAL, "a bandwidth like 100Mbit/s, 1Gbit/s, 12.5MB/s", t);
    return true;
}

bool scenario_conv_node_enum(scenario_conv *c, yaml_node_t *n, const char *const *names, size_t count, int *out)
{
    const char *t = scenario_conv_scalar(c, n, "a name");
    if (!t)
        return false;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], t) == 0) {
            *out = (int)i;
            return true;
        }
    }
    char msg[900];
    snprintf(msg, sizeof(msg), "unknown value '%s'", t);
    scenario_keys_hint(msg, sizeof(msg), t, names, count, "values");
    return scenario_conv_fail(c, n, "%s", msg);
}

bool scenario_conv_node_domain(scenario_conv *c, yaml_node_t *n, char **out)
{
    const char *t = scenario_conv_scalar(c, n, "a domain name");
    if (!t)
        return false;
    size_t len = strlen(t);
    bool ok = len > 0 && len <= 253 && t[0] != '.' && t[0] != '-' && t[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char ch = (unsigned char)t[i];
        ok = isalnum(ch) || ch == '-' || ch == '_' || (ch == '.' && t[i + 1] != '.');
    }
    if (!ok)
        return scenario_conv_fail(c, n, "expected a domain name like orange.test, got '%s'", t);
    char *d = strdup(t);
    if (!d)
        return scenario_conv_nomem(c);
    /* Mail domains are case-insensitive; one spelling keeps ownership checks and queues simple. */
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    free(*out);
    *out = d;
    return true;
}

bool scenario_conv_node_ident(scenario_conv *c, yaml_node_t *n, char **out)
{
    const char *t = scenario_conv_scalar(c, n, "a name");
    if (!t)
        return false;
    bool ok = *t != 0 && strlen(t) <= 64;
    for (const char *p = t; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    if (!ok)
        return scenario_conv_fail(c, n, "expected a name of letters, digits, '_' and '-' (it appears in metric "
                                        "paths like NAME.latency.p95), got '%s'",
                                  t);
    return scenario_conv_node_str(c, n, out);
}

void scenario_conv_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

bool scenario_conv_node_strv(scenario_conv *c, yaml_node_t *n, char ***out, size_t *count)
{
    size_t cnt = n->type == YAML_SEQUENCE_NODE ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                                                : 1;
    if (n->type == YAML_MAPPING_NODE)
        return scenario_conv_fail(c, n, "expected a list of strings, got a mapping");
    char **v = calloc(cnt + 1, sizeof(*v));
    if (!v)
        return scenario_conv_nomem(c);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *item = n->type == YAML_SEQUENCE_NODE ? scenario_conv_node(c, n->data.sequence.items.start[i]) : n;
        size_t old = n->type == YAML_SEQUENCE_NODE ? scenario_conv_push_index(c, i) : c->pathlen;
        if (!scenario_conv_node_str(c, item, &v[i])) {
            scenario_conv_strv_free(v);
            return false;
        }
        scenario_conv_pop(c, old);
    }
    scenario_conv_strv_free(*out);
    *out = v;
    if (count)
        *count = cnt;
    return true;
}

/* ---- field converters ---- */

/* The value node for map[key] with the path pushed; NULL when absent (error set if required). */
static yaml_node_t *scenario_conv_field(scenario_conv *c, yaml_node_t *map, const char *key, bool required,
                                        size_t *old)
{
    yaml_node_t *v = required ? scenario_conv_need(c, map, key) : scenario_conv_get(c, map, key);
    if (v)
        *old = scenario_conv_push_key(c, key);
    return v;
}

#define SCENARIO_CONV_FIELD(call)                                                                                 \
    size_t old;                                                                                                   \
    yaml_node_t *v = scenario_conv_field(c, map, key, required, &old);                                            \
    if (!v)                                                                                                       \
        return !c->failed;                                                                                        \
    bool ok = (call);                                                                                             \
    if (ok)                                                                                                       \
        scenario_conv_pop(c, old);                                                                                \
    return ok

bool scenario_conv_str(scenario_conv *c, yaml_node_t *map, const char *key, bool required, char **out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_str(c, v, out));
}

bool scenario_conv_u64(scenario_conv *c, yaml_node_t *map, const char *key, bool required, uint64_t min,
                       uint64_t *out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_uint(c, v, min, UINT64_MAX, out));
}

static bool scenario_conv_node_u32(scenario_conv *c, yaml_node_t *n, uint32_t min, uint32_t *out)
{
    uint64_t v;
    if (!scenario_conv_node_uint(c, n, min, UINT32_MAX, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool scenario_conv_u32(scenario_conv *c, yaml_node_t *map, const char *key, bool required, uint32_t min,
                       uint32_t *out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_u32(c, v, min, out));
}

bool scenario_conv_duration(scenario_conv *c, yaml_node_t *map, const char *key, bool required, sim_time_t *out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_duration(c, v, out));
}

bool scenario_conv_positive(scenario_conv *c, yaml_node_t *map, const char *key, sim_time_t t)
{
    if (t > 0)
        return true;
    scenario_conv_push_key(c, key);
    return scenario_conv_fail(c, scenario_conv_get(c, map, key), "must be longer than 0");
}

bool scenario_conv_fail_order(scenario_conv *c, yaml_node_t *map, const char *lo, sim_time_t lo_value, const char *hi,
                              sim_time_t hi_value, bool strict)
{
    yaml_node_t *n = scenario_conv_get(c, map, hi);
    char t[64];
    if (n) {
        sim_time_format(t, sizeof(t), lo_value);
        scenario_conv_push_key(c, hi);
        return scenario_conv_fail(c, n, "must %s than %s (%s)", strict ? "be longer" : "not be shorter", lo, t);
    }
    sim_time_format(t, sizeof(t), hi_value);
    scenario_conv_push_key(c, lo);
    return scenario_conv_fail(c, scenario_conv_get(c, map, lo), "must %s than %s (%s)",
                              strict ? "be shorter" : "not be longer", hi, t);
}

bool scenario_conv_probability(scenario_conv *c, yaml_node_t *map, const char *key, bool required, double *out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_probability(c, v, out));
}

bool scenario_conv_bool(scenario_conv *c, yaml_node_t *map, const char *key, bool required, bool *out)
{
    SCENARIO_CONV_FIELD(scenario_conv_node_bool(c, v, out));
}

FILE *scenario_conv_open_regular(const char *path, char *why, size_t whylen)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then says what it is */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file (%s)",
                 S_ISDIR(st.st_mode)   ? "a directory"
                 : S_ISCHR(st.st_mode) ? "a character device"
                 : S_ISFIFO(st.st_mode) ? "a pipe"
                                        : "a device or socket");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > SCENARIO_GUARD_FILE_BYTES) {
        snprintf(why, whylen, "%lld bytes, more than the %u MB a file read here may have", (long long)st.st_size,
                 SCENARIO_GUARD_FILE_BYTES >> 20);
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        close(fd);
    }
    return f;
}

char *scenario_conv_read_file(const char *path, size_t *len, scenario_error *err)
{
    char why[200];
    FILE *f = scenario_conv_open_regular(path, why, sizeof(why));
    if (!f) {
        snprintf(err->message, sizeof(err->message), "%s: %s", path, why);
        return NULL;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n > SCENARIO_GUARD_FILE_BYTES) { /* grew while read */
            free(text);
            fclose(f);
            snprintf(err->message, sizeof(err->message), "%s: more than the %u MB a file read here may have", path,
                     SCENARIO_GUARD_FILE_BYTES >> 20);
            return NULL;
        }
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *p = realloc(text, cap);
            if (!p) {
                free(text);
                fclose(f);
                snprintf(err->message, sizeof(err->message), "%s: out of memory", path);
                return NULL;
            }
            text = p;
        }
        size_t got = fread(text + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr) {
        free(text);
        snprintf(err->message, sizeof(err->message), "%s: cannot read: %s", path, strerror(rerr));
        return NULL;
    }
    *len = n;
    return text;
}

bool scenario_conv_mark(scenario_conv *c, int id, const char *label, bool marks)
{
    if (id <= 0 || !label)
        return scenario_conv_nomem(c);
    if ((size_t)id >= c->norigin) {
        size_t n = (size_t)id + 64;
        scenario_conv_origin *o = realloc(c->origin, n * sizeof(*o));
        if (!o)
            return scenario_conv_nomem(c);
        memset(o + c->norigin, 0, (n - c->norigin) * sizeof(*o));
        c->origin = o;
        c->norigin = n;
    }
    c->origin[id] = (scenario_conv_origin){label, marks};
    return true;
}

const char *scenario_conv_own(scenario_conv *c, const char *text)
{
    char *t = strdup(text);
    char **o = t ? realloc(c->owned, (c->nowned + 1) * sizeof(*o)) : NULL;
    if (!o) {
        free(t);
        return NULL;
    }
    c->owned = o;
    c->owned[c->nowned++] = t;
    return t;
}

int scenario_conv_copy(scenario_conv *c, yaml_document_t *src, int sid, const char *label, bool marks, int depth)
{
    yaml_document_t *doc = c->doc;
    yaml_node_t *n = yaml_document_get_node(src, sid);
    if (!n)
        return 0;
    /* an alias is the node it names: each is copied again, so nested anchors multiply (guard.h) */
    if (depth > SCENARIO_GUARD_DEPTH || ++c->copied > SCENARIO_GUARD_NODES) {
        if (!c->failed) {
            c->failed = true;
            snprintf(c->err->message, sizeof(c->err->message),
                     depth > SCENARIO_GUARD_DEPTH ? "%.300s: nested deeper than %d levels"
                                                  : "%.300s: expands to more than %d values through its aliases (*name "
                                                    "repeats what &name marks, and nested ones multiply)",
                     label, depth > SCENARIO_GUARD_DEPTH ? SCENARIO_GUARD_DEPTH : SCENARIO_GUARD_NODES);
        }
        return 0;
    }
    yaml_mark_t start = n->start_mark, end = n->end_mark;
    int id = 0;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        id = yaml_document_add_scalar(doc, NULL, n->data.scalar.value, (int)n->data.scalar.length,
                                      n->data.scalar.style);
        break;
    case YAML_SEQUENCE_NODE: {
        id = yaml_document_add_sequence(doc, NULL, marks ? n->data.sequence.style : YAML_FLOW_SEQUENCE_STYLE);
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (size_t i = 0; id && i < cnt; i++) {
            yaml_node_t *sn = yaml_document_get_node(src, sid);
            int child = scenario_conv_copy(c, src, sn->data.sequence.items.start[i], label, marks, depth + 1);
            if (!child || !yaml_document_append_sequence_item(doc, id, child))
                return 0;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        id = yaml_document_add_mapping(doc, NULL, marks ? n->data.mapping.style : YAML_FLOW_MAPPING_STYLE);
        size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        for (size_t i = 0; id && i < cnt; i++) {
            yaml_node_t *sn = yaml_document_get_node(src, sid);
            yaml_node_pair_t pair = sn->data.mapping.pairs.start[i];
            int k = scenario_conv_copy(c, src, pair.key, label, marks, depth + 1);
            int v = k ? scenario_conv_copy(c, src, pair.value, label, marks, depth + 1) : 0;
            if (!v || !yaml_document_append_mapping_pair(doc, id, k, v))
                return 0;
        }
        break;
    }
    default:
        return 0;
    }
    if (id <= 0 || !scenario_conv_mark(c, id, label, marks))
        return 0;
    if (marks) {
        yaml_node_t *m = yaml_document_get_node(doc, id);
        m->start_mark = start;
        m->end_mark = end;
    }
    return id;
}

void scenario_conv_release(scenario_conv *c)
{
    free(c->origin);
    c->origin = NULL;
    c->norigin = 0;
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->nowned = 0;
}
