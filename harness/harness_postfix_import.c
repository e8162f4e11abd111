/*
 * harness_postfix_import - main.cf, master.cf and a transport map read into a scenario's `mta:`
 * section (harness_postfix_import.h says what goes where).
 *
 * The files are read by harness_postfix_read.c; this file decides what each part becomes.
 *
 * Values are copied as written and the loader checks them: the YAML is loaded inside a minimal
 * scenario before it is handed out, and a refusal is reported at the file:line the value came from,
 * with the loader's own words. That keeps one parser of Postfix values (the loader's) and makes
 * sure `tempfail import` never writes a section `tempfail run` would refuse.
 */
#include "harness/harness_postfix_import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness_postfix_read.h"
#include "harness/harness_text.h"
#include "scenarios/scenario.h"
#include "sim/sim_mem.h"

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
static bool imp_main_known(harness_postfix_read *m, const harness_postfix_read_kv *p)
{
    size_t ng, pl;
    const scenario_mta_global *g = scenario_mta_globals_table(&ng);
    for (size_t i = 0; i < ng; i++)
        if (strcmp(g[i].name, p->name) == 0)
            return true;
    if (harness_postfix_read_tparam(p->name, true))
        return true;
    if (harness_postfix_read_prefixed(p->name, &pl)) {
        for (size_t i = 0; i < m->nt; i++)
            if (strlen(m->t[i].name) == pl && strncmp(m->t[i].name, p->name, pl) == 0 &&
                (m->t[i].used || strcmp(m->t[i].name, "relay") != 0))
                return true;
        if (pl == 4 && strncmp(p->name, "smtp", 4) == 0)
            return true;
        harness_postfix_read_warn(m, "%s:%d: %s: transport '%.*s' is not one of the imported transports; not imported",
                                  p->file, p->line, p->name, (int)pl, p->name);
        return false;
    }
    if (strcmp(p->name, "relayhost") == 0)
        return false; /* the caller's */
    harness_postfix_read_warn(m, "%s:%d: %s: %s", p->file, p->line, p->name,
                              scenario_mta_param_ignored(p->name) ? "not used by the model"
                                                                  : "unknown to the model; not imported");
    return false;
}

/* sender_dependent_default_transport_maps = inline:{ KEY=TRANSPORT:, ... }: each key to its
 * transport's senders. Other table types name files the import is not given: a warning. */
static void imp_sender_map(harness_postfix_read *m, const harness_postfix_read_kv *p)
{
    const char *v = p->value;
    size_t n = strlen(v);
    if (strncmp(v, "inline:{", 8) != 0 || n < 9 || v[n - 1] != '}') {
        harness_postfix_read_warn(m, "%s:%d: %s: only an inline:{...} table can be imported (give the entries as "
                                  "mta.transports.NAME.senders); not imported", p->file, p->line, p->name);
        return;
    }
    char *body = sim_xstrdup(v + 8);
    body[strlen(body) - 1] = 0;
    for (char *save = NULL, *e = strtok_r(body, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ' || *e == '\t')
            e++;
        char *eq = strchr(e, '='), *end = e + strlen(e);
        while (end > e && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!*e)
            continue;
        char *colon = eq ? strchr(eq + 1, ':') : NULL;
        if (!eq || !colon || colon == eq + 1 || colon[1]) {
            harness_postfix_read_warn(m, "%s:%d: %s: '%s': only KEY=TRANSPORT: entries (no nexthop) can be imported; "
                                      "not imported", p->file, p->line, p->name, e);
            continue;
        }
        *eq = 0;
        *colon = 0;
        char *key = e, *kend = eq;
        while (kend > key && (kend[-1] == ' ' || kend[-1] == '\t'))
            *--kend = 0;
        char *tname = eq + 1;
        while (*tname == ' ' || *tname == '\t')
            tname++;
        harness_postfix_read_transport *t = harness_postfix_read_transport_add(m, tname, 0);
        t->senders = sim_xrealloc(t->senders, (t->nsenders + 1) * sizeof(*t->senders));
        t->senders[t->nsenders++] = sim_xstrdup(key);
        t->senders_line = p->line;
        t->used = true;
    }
    free(body);
}

static bool imp_emit(harness_postfix_read *m, imp_yaml *y)
{
    harness_text_printf(&y->t, "mta:\n");
    imp_yaml_line(y, NULL, 0, NULL);
    harness_postfix_read_transport *smtp = harness_postfix_read_transport_add(m, "smtp", 0);
    bool header = false;
    for (size_t i = 0; i < m->nparams; i++) {
        harness_postfix_read_kv *p = &m->params[i];
        if (strcmp(p->name, "relayhost") == 0) {
            if (!*p->value)
                continue;
            if (strpbrk(p->value, ", \t")) {
                harness_postfix_read_warn(m, "%s:%d: relayhost: a list of relay hosts is not modelled; not imported",
                                          p->file, p->line);
            } else if (smtp->nexthop) {
                harness_postfix_read_warn(m, "%s:%d: relayhost: the transport map gives smtp its nexthop; not imported",
                                          p->file, p->line);
            } else {
                smtp->nexthop = sim_xstrdup(p->value);
                smtp->nexthop_line = -p->line; /* from main.cf */
            }
            continue;
        }
        if (strcmp(p->name, "sender_dependent_default_transport_maps") == 0) {
            imp_sender_map(m, p);
            continue;
        }
        if (!imp_main_known(m, p))
            continue;
        if (!harness_postfix_read_no_reference(m, p->file, p->line, p->name, p->value))
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
            harness_postfix_read_transport tmp = m->t[i];
            memmove(&m->t[1], &m->t[0], i * sizeof(*m->t));
            m->t[0] = tmp;
            smtp = &m->t[0];
        }
    }
    header = false;
    for (size_t i = 0; i < m->nt; i++) {
        harness_postfix_read_transport *t = &m->t[i];
        if (strcmp(t->name, "relay") == 0 && !t->used) {
            harness_postfix_read_warn(m, "%s:%d: relay: a stock service no transport map entry uses; not imported",
                                      m->master_name, t->line);
            continue;
        }
        bool empty = !t->ndomains && !t->nexthop && !t->maxproc && !t->nopts && !t->nsenders;
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
        if (t->nsenders) {
            harness_text_printf(&y->t, "      senders: [");
            for (size_t j = 0; j < t->nsenders; j++) {
                harness_text_printf(&y->t, "%s", j ? ", " : "");
                imp_yaml_quoted(&y->t, t->senders[j]);
            }
            harness_text_printf(&y->t, "]\n");
            imp_yaml_line(y, m->main_name, t->senders_line, "senders");
        }
        if (t->nexthop)
            imp_yaml_kv(y, 6, "nexthop", t->nexthop, t->nexthop_line < 0 ? m->main_name : m->map_name,
                        t->nexthop_line < 0 ? -t->nexthop_line : t->nexthop_line);
        if (t->maxproc)
            imp_yaml_kv(y, 6, "maxproc", t->maxproc, m->master_name, t->line);
        for (size_t j = 0; j < t->nopts; j++) {
            harness_postfix_read_kv *o = &t->opts[j];
            const scenario_mta_tparam *tp = harness_postfix_read_tparam(o->name, false);
            size_t pl;
            if (tp && !tp->prefixed && strcmp(tp->name, "maxproc") != 0) {
                if (!harness_postfix_read_no_reference(m, o->file, o->line, o->name, o->value))
                    return false;
                imp_yaml_kv(y, 6, o->name, o->value, o->file, o->line);
            } else if (tp || harness_postfix_read_tparam(o->name, true) ||
                       harness_postfix_read_prefixed(o->name, &pl)) {
                harness_postfix_read_warn(
                    m,
                    "%s:%d: %s: -o %s: qmgr reads this parameter from main.cf only, it has no effect in "
                    "master.cf; not imported",
                    o->file, o->line, t->name, o->name);
            } else {
                harness_postfix_read_warn(m, "%s:%d: %s: -o %s: %s", o->file, o->line, t->name, o->name,
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

/* The loader's "import:LINE:COL: path: what", placed where the value came from: "file:line: name:
 * what"; false for a line the section did not take from the files. */
static bool imp_place(const imp_yaml *y, const char *text, char *buf, size_t len)
{
    size_t pre = 0;
    for (const char *c = imp_wrapper; *c; c++)
        pre += *c == '\n';
    char *end;
    long line = strncmp(text, "import:", 7) == 0 ? strtol(text + 7, &end, 10) : 0;
    const char *rest = line ? strstr(end, ": ") : NULL;
    const char *msg = rest ? strstr(rest + 2, ": ") : NULL;
    size_t yl = line > (long)pre ? (size_t)line - pre : 0;
    if (!msg || yl == 0 || yl > y->n || !y->o[yl].file)
        return false;
    snprintf(buf, len, "%s:%d: %s: %s", y->o[yl].file, y->o[yl].line, y->o[yl].name, msg + 2);
    return true;
}

/* The loader's warnings too: a feedback value Postfix ignores ("1/sqrt_concurrency") loads, as 1,
 * with Postfix's own warning, and the operator reads it at its main.cf line. */
static bool imp_check(harness_postfix_read *m, const imp_yaml *y)
{
    harness_text doc = {0};
    harness_text_printf(&doc, "%s%s", imp_wrapper, y->t.s);
    scenario_error e;
    scenario *s = scenario_load_text(doc.s, doc.len, "import", NULL, 0, &e);
    harness_text_clear(&doc);
    char placed[sizeof(e.message) + 256];
    if (s) {
        for (size_t i = 0; i < s->nwarnings; i++)
            harness_postfix_read_warn(m, "%s",
                                      imp_place(y, s->warnings[i], placed, sizeof(placed)) ? placed : s->warnings[i]);
        scenario_free(s);
        return true;
    }
    if (!imp_place(y, e.message, placed, sizeof(placed)))
        return harness_postfix_read_fail(m, "the imported section does not load: %s", e.message);
    return harness_postfix_read_fail(m, "%s", placed);
}

int harness_postfix_import(const harness_postfix_input *main_cf, const harness_postfix_input *master_cf,
                           const harness_postfix_input *transport, char **yaml, char **warnings, char *err,
                           size_t errlen)
{
    harness_postfix_read m = {.err = err,
                              .errlen = errlen,
                              .main_name = main_cf->name,
                              .master_name = master_cf ? master_cf->name : "master.cf",
                              .map_name = transport ? transport->name : "transport"};
    imp_yaml y = {0};
    bool ok = (!master_cf || harness_postfix_read_master(&m, master_cf)) &&
              (!transport || harness_postfix_read_map(&m, transport, master_cf != NULL)) &&
              harness_postfix_read_main(&m, main_cf) && imp_emit(&m, &y) && imp_check(&m, &y);
    if (ok) {
        *yaml = harness_text_take(&y.t);
        *warnings = harness_text_take(&m.warn);
    }
    harness_text_clear(&y.t);
    free(y.o);
    harness_postfix_read_free(&m);
    return ok ? 0 : -EINVAL;
}
