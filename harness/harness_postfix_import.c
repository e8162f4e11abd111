/*
 * harness_postfix_import - main.cf, master.cf and a transport map read into a scenario's `mta:`
 * section (harness_postfix_import.h says what goes where).
 *
 * The files are read as Postfix reads them: a logical line starts in the first column and goes on
 * over the lines that start with whitespace; blank lines and lines whose first non-blank is '#' are
 * skipped (they do not end a logical line); "name = { value }" keeps the braces' content as the
 * value, and "-o { name = value }" likewise in master.cf (Postfix 3.0 and later).
 *
 * Values are copied as written and the loader checks them: the YAML is loaded inside a minimal
 * scenario before it is handed out, and a refusal is reported at the file:line the value came from,
 * with the loader's own words. That keeps one parser of Postfix values (the loader's) and makes
 * sure `tempfail import` never writes a section `tempfail run` would refuse.
 */
#include "harness/harness_postfix_import.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/harness_text.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_mta.h"
#include "sim/sim_mem.h"

/* A logical line, or a "#tempfail:" directive (text after the colon). */
typedef struct imp_line {
    char *text;
    int line;
    bool directive;
} imp_line;

typedef struct imp_kv {
    char *name, *value;
    const char *file;
    int line;
} imp_kv;

typedef struct imp_transport {
    char *name;
    int line;           /* master.cf line, 0 when only the map names it */
    char *maxproc;      /* NULL: "-" */
    imp_kv *opts;       /* -o overrides of smtp(8) parameters */
    size_t nopts;
    char **domains;
    int *domain_lines;
    size_t ndomains;
    char *nexthop;      /* shared by all its entries */
    int nexthop_line;
    bool mixed;         /* entries with different nexthops */
    bool used;          /* a map entry routes to it */
} imp_transport;

typedef struct imp {
    imp_transport *t;
    size_t nt;
    imp_kv *params; /* main.cf, the last of each name */
    size_t nparams;
    harness_text warn;
    char *err;
    size_t errlen;
    bool generated;     /* the map is tempfail's own */
    const char *main_name, *master_name, *map_name; /* for messages */
} imp;

static bool imp_fail(imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool imp_fail(imp *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, m->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static void imp_warn(imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void imp_warn(imp *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = sim_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    harness_text_printf(&m->warn, "%s\n", s);
    free(s);
}

static char *imp_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "{ x }" -> "x" (Postfix 3's way to keep blanks in one value). */
static char *imp_unbrace(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        s[n - 1] = '\0';
        return imp_trim(s + 1);
    }
    return s;
}

static void imp_lines_free(imp_line *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
}

/* Splits in into logical lines and directives. */
static bool imp_split(imp *m, const harness_postfix_input *in, imp_line **out, size_t *nout)
{
    imp_line *v = NULL;
    size_t n = 0, cap = 0;
    bool open = false; /* the last entry is a logical line that may continue */
    int lineno = 0;
    for (size_t pos = 0; pos < in->len;) {
        size_t end = pos;
        while (end < in->len && in->text[end] != '\n')
            end++;
        char *raw = sim_xmalloc(end - pos + 1);
        memcpy(raw, in->text + pos, end - pos);
        raw[end - pos] = '\0';
        pos = end + 1;
        lineno++;
        char *t = imp_trim(raw);
        if (strncmp(raw, "#tempfail:", 10) == 0) {
            v = sim_xgrow(v, &cap, n + 1, sizeof(*v), 16);
            v[n++] = (imp_line){sim_xstrdup(imp_trim(raw + 10)), lineno, true};
            open = false;
        } else if (*t == '\0' || *t == '#') {
            /* skipped; does not end a logical line */
        } else if (raw[0] == ' ' || raw[0] == '\t') {
            if (!open) {
                free(raw);
                imp_lines_free(v, n);
                return imp_fail(m, "%s:%d: a continuation line (it starts with whitespace) with nothing to continue",
                                in->name, lineno);
            }
            size_t a = strlen(v[n - 1].text), b = strlen(t);
            v[n - 1].text = sim_xrealloc(v[n - 1].text, a + b + 2);
            v[n - 1].text[a] = ' ';
            memcpy(v[n - 1].text + a + 1, t, b + 1);
        } else {
            v = sim_xgrow(v, &cap, n + 1, sizeof(*v), 16);
            v[n++] = (imp_line){sim_xstrdup(t), lineno, false};
            open = true;
        }
        free(raw);
    }
    *out = v;
    *nout = n;
    return true;
}

static imp_transport *imp_transport_find(imp *m, const char *name)
{
    for (size_t i = 0; i < m->nt; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return &m->t[i];
    return NULL;
}

static imp_transport *imp_transport_add(imp *m, const char *name, int line)
{
    imp_transport *t = imp_transport_find(m, name);
    if (t)
        return t;
    m->t = sim_xreallocarray(m->t, m->nt + 1, sizeof(*m->t));
    t = &m->t[m->nt++];
    memset(t, 0, sizeof(*t));
    t->name = sim_xstrdup(name);
    t->line = line;
    return t;
}

static const scenario_mta_tparam *imp_tparam(const char *name, bool by_global)
{
    size_t n;
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(by_global ? tp[i].global : tp[i].name, name) == 0)
            return &tp[i];
    return NULL;
}

/* "<transport>_<param>" for a qmgr parameter: the parameter, and the prefix length in *pl. */
static const scenario_mta_tparam *imp_prefixed(const char *name, size_t *pl)
{
    size_t n, kl = strlen(name);
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&n);
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(tp[i].name);
        if (tp[i].prefixed && kl > sl + 1 && name[kl - sl - 1] == '_' && strcmp(name + kl - sl, tp[i].name) == 0) {
            *pl = kl - sl - 1;
            return &tp[i];
        }
    }
    return NULL;
}

static bool imp_no_reference(imp *m, const char *file, int line, const char *name, const char *value)
{
    const char *d = strchr(value, '$');
    if (!d)
        return true;
    return imp_fail(m,
                    "%s:%d: %s: parameter references like '%s' are not supported by the scenario loader; write the "
                    "value itself",
                    file, line, name, d);
}

/* One master.cf service line. */
static bool imp_master_line(imp *m, const char *file, const imp_line *l)
{
    char *copy = sim_xstrdup(l->text), *save = NULL;
    char *f[8];
    size_t nf = 0;
    bool ok = false;
    for (char *tok; nf < 7 && (tok = strtok_r(nf ? NULL : copy, " \t", &save)); nf++)
        f[nf] = tok;
    if (nf == 7 && save && *(save += strspn(save, " \t")))
        f[nf++] = save;
    if (nf < 8) {
        imp_fail(m, "%s:%d: expected 'service type private unpriv chroot wakeup maxproc command [args]', got '%.60s'",
                 file, l->line, l->text);
        goto done;
    }
    static const char *const types[] = {"inet", "unix", "unix-dgram", "fifo", "pass"};
    bool known = false;
    for (size_t i = 0; i < 5; i++)
        known |= strcmp(f[1], types[i]) == 0;
    if (!known) {
        imp_fail(m, "%s:%d: %s: unknown service type '%s' (inet, unix, unix-dgram, fifo or pass)", file, l->line, f[0],
                 f[1]);
        goto done;
    }
    if (strcmp(f[6], "-") != 0 && (strspn(f[6], "0123456789") != strlen(f[6]) || f[6][0] == '\0')) {
        imp_fail(m, "%s:%d: %s: maxproc must be a number or '-', got '%s'", file, l->line, f[0], f[6]);
        goto done;
    }
    /* f[7] is the command and what follows it on the line. */
    char *cmd = f[7], *rest = NULL;
    size_t cl = strcspn(cmd, " \t");
    if (cmd[cl]) {
        cmd[cl] = '\0';
        rest = cmd + cl + 1;
    }
    if (strcmp(f[1], "unix") != 0 || strcmp(cmd, "smtp") != 0) {
        if (strcmp(cmd, "lmtp") == 0)
            imp_warn(m, "%s:%d: %s: an lmtp transport is not modelled; not imported", file, l->line, f[0]);
        ok = true;
        goto done;
    }
    if (imp_transport_find(m, f[0])) {
        imp_fail(m, "%s:%d: %s: service defined twice", file, l->line, f[0]);
        goto done;
    }
    imp_transport *t = imp_transport_add(m, f[0], l->line);
    t->maxproc = strcmp(f[6], "-") == 0 ? NULL : sim_xstrdup(f[6]);
    /* Arguments: -o name=value, -o { name = value }, -o name={ a, b }. */
    char *args = rest ? sim_xstrdup(rest) : NULL, *p = args;
    while (p && *(p = p + strspn(p, " \t"))) {
        size_t w = strcspn(p, " \t");
        if (!(w == 2 && strncmp(p, "-o", 2) == 0)) {
            imp_warn(m, "%s:%d: %s: argument '%.*s' not used by the model", file, l->line, t->name, (int)w, p);
            p += w;
            continue;
        }
        p += w;
        p += strspn(p, " \t");
        w = strcspn(p, " \t");
        if (memchr(p, '{', w)) {
            /* To the matching '}': postconf -M writes "{name={ a, b }}". */
            char *close = NULL;
            int depth = 0;
            for (char *q = p; *q && !close; q++) {
                depth += *q == '{';
                if (*q == '}' && --depth == 0)
                    close = q;
            }
            if (!close) {
                imp_fail(m, "%s:%d: %s: '-o %.30s' has a '{' without its '}'", file, l->line, t->name, p);
                free(args);
                goto done;
            }
            w = (size_t)(close - p) + 1;
        }
        if (w == 0) {
            imp_fail(m, "%s:%d: %s: -o without name=value", file, l->line, t->name);
            free(args);
            goto done;
        }
        char *opt = sim_xmalloc(w + 1);
        memcpy(opt, p, w);
        opt[w] = '\0';
        p += w;
        char *o = imp_unbrace(imp_trim(opt)), *eq = strchr(o, '=');
        if (!eq) {
            imp_fail(m, "%s:%d: %s: expected '-o name=value', got '-o %.40s'", file, l->line, t->name, o);
            free(opt);
            free(args);
            goto done;
        }
        *eq = '\0';
        t->opts = sim_xreallocarray(t->opts, t->nopts + 1, sizeof(*t->opts));
        t->opts[t->nopts++] = (imp_kv){sim_xstrdup(imp_trim(o)), sim_xstrdup(imp_unbrace(imp_trim(eq + 1))), file,
                                       l->line};
        free(opt);
    }
    free(args);
    ok = true;
done:
    free(copy);
    return ok;
}

static bool imp_master(imp *m, const harness_postfix_input *in)
{
    imp_line *v;
    size_t n;
    if (!imp_split(m, in, &v, &n))
        return false;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        if (!v[i].directive)
            ok = imp_master_line(m, in->name, &v[i]);
    imp_lines_free(v, n);
    return ok;
}

static bool imp_is_domain(const char *s)
{
    if (!*s || *s == '.' || *s == '-')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
            return false;
    return true;
}

/* Delivery agents of a stock master.cf that are not smtp(8): routing to them is not modelled. */
static bool imp_other_agent(const char *t)
{
    static const char *const agents[] = {"error", "retry", "discard", "local", "virtual", "lmtp", "pipe"};
    for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
        if (strcmp(t, agents[i]) == 0)
            return true;
    return false;
}

static bool imp_map_entry(imp *m, const char *file, const imp_line *l, bool have_master)
{
    char *copy = sim_xstrdup(l->text);
    bool ok = false;
    size_t kl = strcspn(copy, " \t");
    char *key = copy, *value = copy[kl] ? imp_trim(copy + kl + 1) : copy + kl;
    key[kl] = '\0';
    if (!*value) {
        imp_fail(m, "%s:%d: %s: expected 'domain transport:nexthop'", file, l->line, key);
        goto done;
    }
    if (strcmp(key, "*") == 0) {
        if (!m->generated)
            imp_warn(m, "%s:%d: *: a catch-all entry is not modelled (mta.transports.smtp takes every domain no entry "
                        "names); not imported",
                     file, l->line);
        ok = true;
        goto done;
    }
    if (key[0] == '.' || strchr(key, '@')) {
        imp_warn(m, "%s:%d: %s: %s entries are not modelled (a transport lists whole domains); not imported", file,
                 l->line, key, key[0] == '.' ? "subdomain" : "address");
        ok = true;
        goto done;
    }
    if (!imp_is_domain(key)) {
        imp_fail(m, "%s:%d: '%s': not a domain", file, l->line, key);
        goto done;
    }
    char *colon = strchr(value, ':'), *nexthop = colon ? imp_trim(colon + 1) : value + strlen(value);
    if (colon)
        *colon = '\0';
    const char *tname = *value ? imp_trim(value) : "smtp";
    imp_transport *t = imp_transport_find(m, tname);
    if (!t && imp_other_agent(tname)) {
        imp_warn(m, "%s:%d: %s: the %s delivery agent is not modelled; not imported", file, l->line, key, tname);
        ok = true;
        goto done;
    }
    if (!t && have_master && strcmp(tname, "smtp") != 0) {
        imp_fail(m, "%s:%d: %s: transport '%s' is not an smtp service of master.cf", file, l->line, key, tname);
        goto done;
    }
    for (size_t i = 0; i < m->nt; i++)
        for (size_t j = 0; j < m->t[i].ndomains; j++)
            if (strcasecmp(m->t[i].domains[j], key) == 0) {
                imp_fail(m, "%s:%d: %s: listed twice (line %d)", file, l->line, key, m->t[i].domain_lines[j]);
                goto done;
            }
    if (!t)
        t = imp_transport_add(m, tname, 0);
    t->used = true;
    t->domains = sim_xreallocarray(t->domains, t->ndomains + 1, sizeof(*t->domains));
    t->domain_lines = sim_xreallocarray(t->domain_lines, t->ndomains + 1, sizeof(int));
    t->domains[t->ndomains] = sim_xstrdup(key);
    t->domain_lines[t->ndomains++] = l->line;
    if (!m->generated) {
        if (t->ndomains == 1) {
            t->nexthop = sim_xstrdup(nexthop);
            t->nexthop_line = l->line;
        } else if (strcmp(t->nexthop, nexthop) != 0) {
            t->mixed = true;
        }
    }
    ok = true;
done:
    free(copy);
    return ok;
}

static bool imp_map(imp *m, const harness_postfix_input *in, bool have_master)
{
    imp_line *v;
    size_t n;
    if (!imp_split(m, in, &v, &n))
        return false;
    bool ok = true, unlisted = false;
    for (size_t i = 0; i < n && ok; i++) {
        if (v[i].directive) {
            if (strcmp(v[i].text, "generated") == 0)
                m->generated = true;
            else if (strncmp(v[i].text, "unlisted", 8) == 0)
                unlisted = true;
            continue;
        }
        if (!(m->generated && unlisted))
            ok = imp_map_entry(m, in->name, &v[i], have_master);
    }
    /* The scenario's own nexthops, in a generated map. */
    for (size_t i = 0; i < n && ok && m->generated; i++) {
        if (!v[i].directive || strncmp(v[i].text, "nexthop ", 8) != 0)
            continue;
        char *name = v[i].text + 8, *sp = strchr(name, ' ');
        imp_transport *t = sp ? (*sp = '\0', imp_transport_find(m, name)) : NULL;
        if (!t) {
            ok = imp_fail(m, "%s:%d: #tempfail: nexthop: expected a transport of the map and a nexthop", in->name,
                          v[i].line);
            break;
        }
        free(t->nexthop);
        t->nexthop = sim_xstrdup(imp_trim(sp + 1));
        t->nexthop_line = v[i].line;
    }
    imp_lines_free(v, n);
    if (!ok || m->generated)
        return ok;
    for (size_t i = 0; i < m->nt; i++) {
        imp_transport *t = &m->t[i];
        if (t->mixed) {
            imp_warn(m, "%s:%d: %s: its domains have different nexthops; the model gives each domain its own queue, "
                        "nexthops not imported",
                     in->name, t->nexthop_line, t->name);
        } else if (t->nexthop && strpbrk(t->nexthop, ", \t")) {
            imp_warn(m, "%s:%d: %s: a nexthop list ('%s') is not modelled: receivers' MX hosts are; not imported",
                     in->name, t->nexthop_line, t->name, t->nexthop);
        } else {
            continue;
        }
        free(t->nexthop);
        t->nexthop = NULL;
    }
    for (size_t i = 0; i < m->nt; i++) {
        if (m->t[i].nexthop && !m->t[i].nexthop[0]) {
            free(m->t[i].nexthop);
            m->t[i].nexthop = NULL;
        }
    }
    return ok;
}

static bool imp_main(imp *m, const harness_postfix_input *in)
{
    imp_line *v;
    size_t n;
    if (!imp_split(m, in, &v, &n))
        return false;
    bool ok = true, instance = false;
    for (size_t i = 0; i < n && ok; i++) {
        if (v[i].directive) {
            if (strcmp(v[i].text, "instance") == 0)
                instance = true;
            else if (strcmp(v[i].text, "scenario") == 0)
                instance = false;
            continue;
        }
        if (instance)
            continue;
        char *t = v[i].text;
        size_t nl = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        char *eq = t + nl + strspn(t + nl, " \t");
        if (nl == 0 || *eq != '=') {
            ok = imp_fail(m, "%s:%d: expected 'name = value', got '%.60s'", in->name, v[i].line, t);
            break;
        }
        t[nl] = '\0';
        char *value = imp_unbrace(imp_trim(eq + 1));
        size_t j;
        for (j = 0; j < m->nparams && strcmp(m->params[j].name, t) != 0; j++)
            ;
        if (j < m->nparams) {
            imp_warn(m, "%s:%d: %s: overrides line %d", in->name, v[i].line, t, m->params[j].line);
            free(m->params[j].name);
            free(m->params[j].value);
            memmove(&m->params[j], &m->params[j + 1], (m->nparams - j - 1) * sizeof(*m->params));
            m->nparams--;
        }
        m->params = sim_xreallocarray(m->params, m->nparams + 1, sizeof(*m->params));
        m->params[m->nparams++] = (imp_kv){sim_xstrdup(t), sim_xstrdup(value), in->name, v[i].line};
    }
    imp_lines_free(v, n);
    return ok;
}

/* Where each YAML line came from, to place the loader's complaints. */
typedef struct imp_origin {
    const char *file;
    int line;
    const char *name;
} imp_origin;

typedef struct imp_yaml {
    harness_text t;
    imp_origin *o; /* per YAML line, from 1 */
    size_t n, cap;
} imp_yaml;

static void imp_yaml_line(imp_yaml *y, const char *file, int line, const char *name)
{
    y->o = sim_xgrow(y->o, &y->cap, y->n + 2, sizeof(*y->o), 32);
    y->o[++y->n] = (imp_origin){file, line, name};
}

static void imp_yaml_quoted(harness_text *t, const char *s)
{
    harness_text_append(t, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            harness_text_append(t, "\\", 1);
        harness_text_append(t, s, 1);
    }
    harness_text_append(t, "\"", 1);
}

/* "    name: "value"  # file:line" */
static void imp_yaml_kv(imp_yaml *y, int indent, const char *key, const char *value, const char *file, int line)
{
    harness_text_printf(&y->t, "%*s%s:", indent, "", key);
    if (*value) {
        harness_text_append(&y->t, " ", 1);
        imp_yaml_quoted(&y->t, value);
    }
    harness_text_printf(&y->t, "   # %s:%d\n", file, line);
    imp_yaml_line(y, file, line, key);
}

/* Is this main.cf parameter one the loader reads? (*transport: a "<t>_<param>" of a transport) */
static bool imp_main_known(imp *m, const imp_kv *p)
{
    size_t ng, pl;
    const scenario_mta_global *g = scenario_mta_globals_table(&ng);
    for (size_t i = 0; i < ng; i++)
        if (strcmp(g[i].name, p->name) == 0)
            return true;
    if (imp_tparam(p->name, true))
        return true;
    if (imp_prefixed(p->name, &pl)) {
        for (size_t i = 0; i < m->nt; i++)
            if (strlen(m->t[i].name) == pl && strncmp(m->t[i].name, p->name, pl) == 0 &&
                (m->t[i].used || strcmp(m->t[i].name, "relay") != 0))
                return true;
        if (pl == 4 && strncmp(p->name, "smtp", 4) == 0)
            return true;
        imp_warn(m, "%s:%d: %s: transport '%.*s' is not one of the imported transports; not imported", p->file,
                 p->line, p->name, (int)pl, p->name);
        return false;
    }
    if (strcmp(p->name, "relayhost") == 0)
        return false; /* the caller's */
    imp_warn(m, "%s:%d: %s: %s", p->file, p->line, p->name,
             scenario_mta_param_ignored(p->name) ? "not used by the model" : "unknown to the model; not imported");
    return false;
}

static bool imp_emit(imp *m, imp_yaml *y)
{
    harness_text_printf(&y->t, "mta:\n");
    imp_yaml_line(y, NULL, 0, NULL);
    imp_transport *smtp = imp_transport_add(m, "smtp", 0);
    bool header = false;
    for (size_t i = 0; i < m->nparams; i++) {
        imp_kv *p = &m->params[i];
        if (strcmp(p->name, "relayhost") == 0) {
            if (!*p->value)
                continue;
            if (strpbrk(p->value, ", \t")) {
                imp_warn(m, "%s:%d: relayhost: a list of relay hosts is not modelled; not imported", p->file, p->line);
            } else if (smtp->nexthop) {
                imp_warn(m, "%s:%d: relayhost: the transport map gives smtp its nexthop; not imported", p->file,
                         p->line);
            } else {
                smtp->nexthop = sim_xstrdup(p->value);
                smtp->nexthop_line = -p->line; /* from main.cf */
            }
            continue;
        }
        if (!imp_main_known(m, p))
            continue;
        if (!imp_no_reference(m, p->file, p->line, p->name, p->value))
            return false;
        if (!header) {
            harness_text_printf(&y->t, "  postfix:\n");
            imp_yaml_line(y, NULL, 0, NULL);
            header = true;
        }
        imp_yaml_kv(y, 4, p->name, p->value, p->file, p->line);
    }
    /* Postfix's smtp_tls_security_level defaults to none, the model's to STARTTLS when offered. */
    bool tls = false;
    for (size_t i = 0; i < m->nparams; i++)
        tls |= strcmp(m->params[i].name, "smtp_tls_security_level") == 0;
    if (!tls) {
        if (!header)
            harness_text_printf(&y->t, "  postfix:\n");
        if (!header)
            imp_yaml_line(y, NULL, 0, NULL);
        harness_text_printf(&y->t, "    smtp_tls_security_level: \"none\"   # not set in %s: Postfix's default\n",
                            m->main_name);
        imp_yaml_line(y, m->main_name, 0, "smtp_tls_security_level");
    }
    /* smtp first: it is transports[0] whatever the files' order. */
    for (size_t i = 0; i < m->nt; i++) {
        if (&m->t[i] == smtp && i != 0) {
            imp_transport tmp = m->t[i];
            memmove(&m->t[1], &m->t[0], i * sizeof(*m->t));
            m->t[0] = tmp;
            smtp = &m->t[0];
        }
    }
    header = false;
    for (size_t i = 0; i < m->nt; i++) {
        imp_transport *t = &m->t[i];
        if (strcmp(t->name, "relay") == 0 && !t->used) {
            imp_warn(m, "%s:%d: relay: a stock service no transport map entry uses; not imported", m->master_name,
                     t->line);
            continue;
        }
        bool empty = !t->ndomains && !t->nexthop && !t->maxproc && !t->nopts;
        if (t == smtp && empty)
            continue;
        if (!header) {
            harness_text_printf(&y->t, "  transports:\n");
            imp_yaml_line(y, NULL, 0, NULL);
            header = true;
        }
        harness_text_printf(&y->t, "    %s:\n", t->name);
        imp_yaml_line(y, NULL, 0, t->name);
        if (t->ndomains) {
            harness_text_printf(&y->t, "      domains: [");
            for (size_t j = 0; j < t->ndomains; j++) {
                harness_text_printf(&y->t, "%s", j ? ", " : "");
                imp_yaml_quoted(&y->t, t->domains[j]);
            }
            harness_text_printf(&y->t, "]\n");
            imp_yaml_line(y, m->map_name, t->domain_lines[0], "domains");
        }
        if (t->nexthop)
            imp_yaml_kv(y, 6, "nexthop", t->nexthop, t->nexthop_line < 0 ? m->main_name : m->map_name,
                        t->nexthop_line < 0 ? -t->nexthop_line : t->nexthop_line);
        if (t->maxproc)
            imp_yaml_kv(y, 6, "maxproc", t->maxproc, m->master_name, t->line);
        for (size_t j = 0; j < t->nopts; j++) {
            imp_kv *o = &t->opts[j];
            const scenario_mta_tparam *tp = imp_tparam(o->name, false);
            size_t pl;
            if (tp && !tp->prefixed && strcmp(tp->name, "maxproc") != 0) {
                if (!imp_no_reference(m, o->file, o->line, o->name, o->value))
                    return false;
                imp_yaml_kv(y, 6, o->name, o->value, o->file, o->line);
            } else if (tp || imp_tparam(o->name, true) || imp_prefixed(o->name, &pl)) {
                imp_warn(m, "%s:%d: %s: -o %s: qmgr reads this parameter from main.cf only, it has no effect in "
                            "master.cf; not imported",
                         o->file, o->line, t->name, o->name);
            } else {
                imp_warn(m, "%s:%d: %s: -o %s: %s", o->file, o->line, t->name, o->name,
                         scenario_mta_param_ignored(o->name) ? "not used by the model"
                                                             : "unknown to the model; not imported");
            }
        }
    }
    return true;
}

/* Loads the section inside a minimal scenario; a refusal is placed where its value came from. */
static const char imp_wrapper[] = "name: import\n"
                                  "duration: 1s\n"
                                  "traffic:\n"
                                  "  classes:\n"
                                  "    - { name: c, arrivals: { process: poisson, rate: 1/s }, size: 1KB,"
                                  " domains: { import.test: 1 } }\n";

static bool imp_check(imp *m, const imp_yaml *y)
{
    harness_text doc = {0};
    harness_text_printf(&doc, "%s%s", imp_wrapper, y->t.s);
    scenario_error e;
    scenario *s = scenario_load_text(doc.s, doc.len, "import", NULL, 0, &e);
    harness_text_clear(&doc);
    if (s) {
        scenario_free(s);
        return true;
    }
    size_t pre = 0;
    for (const char *c = imp_wrapper; *c; c++)
        pre += *c == '\n';
    char *end;
    long line = strncmp(e.message, "import:", 7) == 0 ? strtol(e.message + 7, &end, 10) : 0;
    const char *rest = line ? strstr(end, ": ") : NULL;
    const char *msg = rest ? strstr(rest + 2, ": ") : NULL;
    size_t yl = line > (long)pre ? (size_t)line - pre : 0;
    if (!msg || yl == 0 || yl > y->n || !y->o[yl].file)
        return imp_fail(m, "the imported section does not load: %s", e.message);
    return imp_fail(m, "%s:%d: %s: %s", y->o[yl].file, y->o[yl].line, y->o[yl].name, msg + 2);
}

static void imp_free(imp *m)
{
    for (size_t i = 0; i < m->nt; i++) {
        imp_transport *t = &m->t[i];
        free(t->name);
        free(t->maxproc);
        for (size_t j = 0; j < t->nopts; j++) {
            free(t->opts[j].name);
            free(t->opts[j].value);
        }
        free(t->opts);
        for (size_t j = 0; j < t->ndomains; j++)
            free(t->domains[j]);
        free(t->domains);
        free(t->domain_lines);
        free(t->nexthop);
    }
    free(m->t);
    for (size_t i = 0; i < m->nparams; i++) {
        free(m->params[i].name);
        free(m->params[i].value);
    }
    free(m->params);
    harness_text_clear(&m->warn);
}

int harness_postfix_import(const harness_postfix_input *main_cf, const harness_postfix_input *master_cf,
                           const harness_postfix_input *transport, char **yaml, char **warnings, char *err,
                           size_t errlen)
{
    imp m = {.err = err,
             .errlen = errlen,
             .main_name = main_cf->name,
             .master_name = master_cf ? master_cf->name : "master.cf",
             .map_name = transport ? transport->name : "transport"};
    imp_yaml y = {0};
    bool ok = (!master_cf || imp_master(&m, master_cf)) && (!transport || imp_map(&m, transport, master_cf != NULL)) &&
              imp_main(&m, main_cf) && imp_emit(&m, &y) && imp_check(&m, &y);
    if (ok) {
        *yaml = harness_text_take(&y.t);
        *warnings = harness_text_take(&m.warn);
    }
    harness_text_clear(&y.t);
    free(y.o);
    imp_free(&m);
    return ok ? 0 : -EINVAL;
}
