/*
 * harness_postfix_read - the three Postfix files read into harness_postfix_read (the header gives
 * the syntax). Reading stops at the first line it cannot read; whatever it can read but will not
 * import is a warning, so nothing is dropped silently.
 */
#include "harness/harness_postfix_read.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_mem.h"

/* A logical line, or a "#tempfail:" directive (text after the colon). */
typedef struct read_line {
    char *text;
    int line;
    bool directive;
} read_line;

bool harness_postfix_read_fail(harness_postfix_read *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, m->errlen, fmt, ap);
    va_end(ap);
    return false;
}

void harness_postfix_read_warn(harness_postfix_read *m, const char *fmt, ...)
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

static char *read_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "{ x }" -> "x" (Postfix 3's way to keep blanks in one value). */
static char *read_unbrace(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        s[n - 1] = '\0';
        return read_trim(s + 1);
    }
    return s;
}

static void read_lines_free(read_line *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
}

/* Splits in into logical lines and directives. */
static bool read_split(harness_postfix_read *m, const harness_postfix_input *in, read_line **out, size_t *nout)
{
    read_line *v = NULL;
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
        char *t = read_trim(raw);
        if (strncmp(raw, "#tempfail:", 10) == 0) {
            v = sim_xgrow(v, &cap, n + 1, sizeof(*v), 16);
            v[n++] = (read_line){sim_xstrdup(read_trim(raw + 10)), lineno, true};
            open = false;
        } else if (*t == '\0' || *t == '#') {
            /* skipped; does not end a logical line */
        } else if (raw[0] == ' ' || raw[0] == '\t') {
            if (!open) {
                free(raw);
                read_lines_free(v, n);
                return harness_postfix_read_fail(
                    m, "%s:%d: a continuation line (it starts with whitespace) with nothing to continue", in->name,
                    lineno);
            }
            size_t a = strlen(v[n - 1].text), b = strlen(t);
            v[n - 1].text = sim_xrealloc(v[n - 1].text, a + b + 2);
            v[n - 1].text[a] = ' ';
            memcpy(v[n - 1].text + a + 1, t, b + 1);
        } else {
            v = sim_xgrow(v, &cap, n + 1, sizeof(*v), 16);
            v[n++] = (read_line){sim_xstrdup(t), lineno, false};
            open = true;
        }
        free(raw);
    }
    *out = v;
    *nout = n;
    return true;
}

harness_postfix_read_transport *harness_postfix_read_transport_find(harness_postfix_read *m, const char *name)
{
    for (size_t i = 0; i < m->nt; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return &m->t[i];
    return NULL;
}

harness_postfix_read_transport *harness_postfix_read_transport_add(harness_postfix_read *m, const char *name, int line)
{
    harness_postfix_read_transport *t = harness_postfix_read_transport_find(m, name);
    if (t)
        return t;
    m->t = sim_xreallocarray(m->t, m->nt + 1, sizeof(*m->t));
    t = &m->t[m->nt++];
    memset(t, 0, sizeof(*t));
    t->name = sim_xstrdup(name);
    t->line = line;
    return t;
}

const scenario_mta_tparam *harness_postfix_read_tparam(const char *name, bool by_global)
{
    size_t n;
    const scenario_mta_tparam *tp = scenario_mta_tparams_table(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(by_global ? tp[i].global : tp[i].name, name) == 0)
            return &tp[i];
    return NULL;
}

/* "<transport>_<param>" for a qmgr parameter: the parameter, and the prefix length in *pl. */
const scenario_mta_tparam *harness_postfix_read_prefixed(const char *name, size_t *pl)
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

bool harness_postfix_read_no_reference(harness_postfix_read *m, const char *file, int line, const char *name,
                                       const char *value)
{
    const char *d = strchr(value, '$');
    if (!d)
        return true;
    return harness_postfix_read_fail(
        m,
        "%s:%d: %s: parameter references like '%s' are not supported by the scenario loader; write the "
        "value itself",
        file, line, name, d);
}

/* One master.cf service line. */
static bool read_master_line(harness_postfix_read *m, const char *file, const read_line *l)
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
        harness_postfix_read_fail(
            m, "%s:%d: expected 'service type private unpriv chroot wakeup maxproc command [args]', got '%.60s'", file,
            l->line, l->text);
        goto done;
    }
    static const char *const types[] = {"inet", "unix", "unix-dgram", "fifo", "pass"};
    bool known = false;
    for (size_t i = 0; i < 5; i++)
        known |= strcmp(f[1], types[i]) == 0;
    if (!known) {
        harness_postfix_read_fail(m, "%s:%d: %s: unknown service type '%s' (inet, unix, unix-dgram, fifo or pass)",
                                  file, l->line, f[0], f[1]);
        goto done;
    }
    if (strcmp(f[6], "-") != 0 && (strspn(f[6], "0123456789") != strlen(f[6]) || f[6][0] == '\0')) {
        harness_postfix_read_fail(m, "%s:%d: %s: maxproc must be a number or '-', got '%s'", file, l->line, f[0], f[6]);
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
            harness_postfix_read_warn(m, "%s:%d: %s: an lmtp transport is not modelled; not imported", file, l->line,
                                      f[0]);
        ok = true;
        goto done;
    }
    if (harness_postfix_read_transport_find(m, f[0])) {
        harness_postfix_read_fail(m, "%s:%d: %s: service defined twice", file, l->line, f[0]);
        goto done;
    }
    harness_postfix_read_transport *t = harness_postfix_read_transport_add(m, f[0], l->line);
    t->maxproc = strcmp(f[6], "-") == 0 ? NULL : sim_xstrdup(f[6]);
    /* Arguments: -o name=value, -o { name = value }, -o name={ a, b }. */
    char *args = rest ? sim_xstrdup(rest) : NULL, *p = args;
    while (p && *(p = p + strspn(p, " \t"))) {
        size_t w = strcspn(p, " \t");
        if (!(w == 2 && strncmp(p, "-o", 2) == 0)) {
            harness_postfix_read_warn(m, "%s:%d: %s: argument '%.*s' not used by the model", file, l->line, t->name,
                                      (int)w, p);
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
                harness_postfix_read_fail(m, "%s:%d: %s: '-o %.30s' has a '{' without its '}'", file, l->line, t->name,
                                          p);
                free(args);
                goto done;
            }
            w = (size_t)(close - p) + 1;
        }
        if (w == 0) {
            harness_postfix_read_fail(m, "%s:%d: %s: -o without name=value", file, l->line, t->name);
            free(args);
            goto done;
        }
        char *opt = sim_xmalloc(w + 1);
        memcpy(opt, p, w);
        opt[w] = '\0';
        p += w;
        char *o = read_unbrace(read_trim(opt)), *eq = strchr(o, '=');
        if (!eq) {
            harness_postfix_read_fail(m, "%s:%d: %s: expected '-o name=value', got '-o %.40s'", file, l->line, t->name,
                                      o);
            free(opt);
            free(args);
            goto done;
        }
        *eq = '\0';
        t->opts = sim_xreallocarray(t->opts, t->nopts + 1, sizeof(*t->opts));
        t->opts[t->nopts++] = (harness_postfix_read_kv){sim_xstrdup(read_trim(o)),
                                                        sim_xstrdup(read_unbrace(read_trim(eq + 1))), file, l->line};
        free(opt);
    }
    free(args);
    ok = true;
done:
    free(copy);
    return ok;
}

bool harness_postfix_read_master(harness_postfix_read *m, const harness_postfix_input *in)
{
    read_line *v;
    size_t n;
    if (!read_split(m, in, &v, &n))
        return false;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        if (!v[i].directive)
            ok = read_master_line(m, in->name, &v[i]);
    read_lines_free(v, n);
    return ok;
}

static bool read_is_domain(const char *s)
{
    if (!*s || *s == '.' || *s == '-')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
            return false;
    return true;
}

/* Delivery agents of a stock master.cf that are not smtp(8): routing to them is not modelled. */
static bool read_other_agent(const char *t)
{
    static const char *const agents[] = {"error", "retry", "discard", "local", "virtual", "lmtp", "pipe"};
    for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
        if (strcmp(t, agents[i]) == 0)
            return true;
    return false;
}

static bool read_map_entry(harness_postfix_read *m, const char *file, const read_line *l, bool have_master)
{
    char *copy = sim_xstrdup(l->text);
    bool ok = false;
    size_t kl = strcspn(copy, " \t");
    char *key = copy, *value = copy[kl] ? read_trim(copy + kl + 1) : copy + kl;
    key[kl] = '\0';
    if (!*value) {
        harness_postfix_read_fail(m, "%s:%d: %s: expected 'domain transport:nexthop'", file, l->line, key);
        goto done;
    }
    if (strcmp(key, "*") == 0) {
        if (!m->generated)
            harness_postfix_read_warn(
                m,
                "%s:%d: *: a catch-all entry is not modelled (mta.transports.smtp takes every domain no entry "
                "names); not imported",
                file, l->line);
        ok = true;
        goto done;
    }
    if (key[0] == '.' || strchr(key, '@')) {
        harness_postfix_read_warn(
            m, "%s:%d: %s: %s entries are not modelled (a transport lists whole domains); not imported", file, l->line,
            key, key[0] == '.' ? "subdomain" : "address");
        ok = true;
        goto done;
    }
    if (!read_is_domain(key)) {
        harness_postfix_read_fail(m, "%s:%d: '%s': not a domain", file, l->line, key);
        goto done;
    }
    char *colon = strchr(value, ':'), *nexthop = colon ? read_trim(colon + 1) : value + strlen(value);
    if (colon)
        *colon = '\0';
    const char *tname = *value ? read_trim(value) : "smtp";
    harness_postfix_read_transport *t = harness_postfix_read_transport_find(m, tname);
    if (!t && read_other_agent(tname)) {
        harness_postfix_read_warn(m, "%s:%d: %s: the %s delivery agent is not modelled; not imported", file, l->line,
                                  key, tname);
        ok = true;
        goto done;
    }
    if (!t && have_master && strcmp(tname, "smtp") != 0) {
        harness_postfix_read_fail(m, "%s:%d: %s: transport '%s' is not an smtp service of master.cf", file, l->line,
                                  key, tname);
        goto done;
    }
    for (size_t i = 0; i < m->nt; i++)
        for (size_t j = 0; j < m->t[i].ndomains; j++)
            if (strcasecmp(m->t[i].domains[j], key) == 0) {
                harness_postfix_read_fail(m, "%s:%d: %s: listed twice (line %d)", file, l->line, key,
                                          m->t[i].domain_lines[j]);
                goto done;
            }
    if (!t)
        t = harness_postfix_read_transport_add(m, tname, 0);
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

bool harness_postfix_read_map(harness_postfix_read *m, const harness_postfix_input *in, bool have_master)
{
    read_line *v;
    size_t n;
    if (!read_split(m, in, &v, &n))
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
            ok = read_map_entry(m, in->name, &v[i], have_master);
    }
    /* The scenario's own nexthops, in a generated map. */
    for (size_t i = 0; i < n && ok && m->generated; i++) {
        if (!v[i].directive || strncmp(v[i].text, "nexthop ", 8) != 0)
            continue;
        char *name = v[i].text + 8, *sp = strchr(name, ' ');
        harness_postfix_read_transport *t = sp ? (*sp = '\0', harness_postfix_read_transport_find(m, name)) : NULL;
        if (!t) {
            ok = harness_postfix_read_fail(
                m, "%s:%d: #tempfail: nexthop: expected a transport of the map and a nexthop", in->name, v[i].line);
            break;
        }
        free(t->nexthop);
        t->nexthop = sim_xstrdup(read_trim(sp + 1));
        t->nexthop_line = v[i].line;
    }
    read_lines_free(v, n);
    if (!ok || m->generated)
        return ok;
    for (size_t i = 0; i < m->nt; i++) {
        harness_postfix_read_transport *t = &m->t[i];
        if (t->mixed) {
            harness_postfix_read_warn(
                m,
                "%s:%d: %s: its domains have different nexthops; the model gives each domain its own queue, "
                "nexthops not imported",
                in->name, t->nexthop_line, t->name);
        } else if (t->nexthop && strpbrk(t->nexthop, ", \t")) {
            harness_postfix_read_warn(
                m, "%s:%d: %s: a nexthop list ('%s') is not modelled: receivers' MX hosts are; not imported", in->name,
                t->nexthop_line, t->name, t->nexthop);
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

bool harness_postfix_read_main(harness_postfix_read *m, const harness_postfix_input *in)
{
    read_line *v;
    size_t n;
    if (!read_split(m, in, &v, &n))
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
            ok = harness_postfix_read_fail(m, "%s:%d: expected 'name = value', got '%.60s'", in->name, v[i].line, t);
            break;
        }
        t[nl] = '\0';
        char *value = read_unbrace(read_trim(eq + 1));
        size_t j;
        for (j = 0; j < m->nparams && strcmp(m->params[j].name, t) != 0; j++)
            ;
        if (j < m->nparams) {
            harness_postfix_read_warn(m, "%s:%d: %s: overrides line %d", in->name, v[i].line, t, m->params[j].line);
            free(m->params[j].name);
            free(m->params[j].value);
            memmove(&m->params[j], &m->params[j + 1], (m->nparams - j - 1) * sizeof(*m->params));
            m->nparams--;
        }
        m->params = sim_xreallocarray(m->params, m->nparams + 1, sizeof(*m->params));
        m->params[m->nparams++] = (harness_postfix_read_kv){sim_xstrdup(t), sim_xstrdup(value), in->name, v[i].line};
    }
    read_lines_free(v, n);
    return ok;
}

/* Where each YAML line came from, to place the loader's complaints. */
void harness_postfix_read_free(harness_postfix_read *m)
{
    for (size_t i = 0; i < m->nt; i++) {
        harness_postfix_read_transport *t = &m->t[i];
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
        for (size_t j = 0; j < t->nsenders; j++)
            free(t->senders[j]);
        free(t->senders);
    }
    free(m->t);
    for (size_t i = 0; i < m->nparams; i++) {
        free(m->params[i].name);
        free(m->params[i].value);
    }
    free(m->params);
    harness_text_clear(&m->warn);
}
