/*
 * results_html - writes report.html for a run or a comparison.
 *
 * Layout choices, for a page that must read well in any browser with nothing loaded from outside:
 * one column at most 1100px wide, charts scaled to the column (max-width: 100%), wide tables in
 * their own horizontal scroller so the page itself never needs one, long unbroken words (reply
 * texts, destination names) allowed to wrap anywhere. Colours carry meaning twice (PASS/FAIL are
 * also words), so the page survives a greyscale printer.
 */
#include "results/results_html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "results/results_dir.h"
#include "results/results_fmt.h"
#include "sim/sim_time.h"

void results_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char css[] =
    "body{font-family:'DejaVu Sans',Verdana,sans-serif;color:#222;background:#fff;margin:0;line-height:1.45}\n"
    "main{max-width:1100px;margin:0 auto;padding:16px 20px 40px;box-sizing:border-box}\n"
    "h1{font-size:1.6em;margin:.4em 0 .2em;overflow-wrap:anywhere}\n"
    "h2{font-size:1.25em;margin:1.6em 0 .5em;border-bottom:2px solid #e6e6e6;padding-bottom:.2em}\n"
    "p.desc{font-size:1.05em;color:#444;max-width:60em}\n"
    "p.meta{color:#666;font-size:.9em}\n"
    ".scroll{overflow-x:auto;max-width:100%}\n"
    "table{border-collapse:collapse;margin:.3em 0 1em;font-size:.92em}\n"
    "th,td{padding:.3em .8em;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}\n"
    "th{background:#f4f6f8;font-weight:600}\n"
    "th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere}\n"
    ".pass{color:#1a7f37;font-weight:700}.fail{color:#c62828;font-weight:700}\n"
    ".better{color:#1a7f37}.worse{color:#c62828}\n"
    ".figs{display:flex;flex-wrap:wrap;gap:10px;margin:.5em 0 1em}\n"
    ".fig{border:1px solid #e3e3e3;border-radius:6px;padding:.4em .9em;min-width:8em}\n"
    ".fig b{display:block;font-size:1.35em}.fig span{color:#666;font-size:.85em}\n"
    "figure{margin:1.2em 0 2em}figure img{display:block;max-width:100%;height:auto;border:1px solid #eee}\n"
    "figcaption{color:#444;font-size:.92em;margin-top:.4em;max-width:60em}\n"
    "pre{background:#f6f8fa;border:1px solid #e3e3e3;padding:.8em;font-size:.85em;white-space:pre-wrap;"
    "overflow-wrap:anywhere;max-width:100%;box-sizing:border-box}\n"
    "a{color:#0b5cad}\n"
    "@media (max-width:900px){main{padding:10px}th,td{padding:.25em .4em;white-space:normal}"
    "table{font-size:.85em}}\n";

static const json_t *at(const json_t *o, const char *k) { return json_is_object(o) ? json_object_get(o, k) : NULL; }

static double num(const json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

const char *results_html_num(char *b, size_t len, double v)
{
    if (isfinite(v))
        results_fmt_double(b, len, v);
    else
        snprintf(b, len, "-");
    return b;
}

/* A duration of v seconds as sim_time_format writes it, or "-" when there is none. */
static const char *dur_text(char *b, size_t len, double v)
{
    if (isfinite(v) && v >= 0 && v < 1e12)
        sim_time_format(b, len, sim_time_from_sec(v));
    else
        snprintf(b, len, "-");
    return b;
}

static void td(FILE *f, const char *text)
{
    fputs("<td>", f);
    results_html_escape(f, text);
    fputs("</td>", f);
}

static void td_num(FILE *f, double v)
{
    char b[RESULTS_FMT_MAX];
    td(f, results_html_num(b, sizeof(b), v));
}

static void td_dur(FILE *f, double v)
{
    char b[64];
    td(f, dur_text(b, sizeof(b), v));
}

/* A table row up to its first cell, the name of what the row is about. */
static void tr_name(FILE *f, const char *name)
{
    fputs("<tr>", f);
    td(f, name);
}

static void fig(FILE *f, const char *label, const char *value)
{
    fputs("<div class=\"fig\"><b>", f);
    results_html_escape(f, value);
    fputs("</b><span>", f);
    results_html_escape(f, label);
    fputs("</span></div>\n", f);
}

static void fig_num(FILE *f, const char *label, double v)
{
    char b[RESULTS_FMT_MAX];
    fig(f, label, results_html_num(b, sizeof(b), v));
}

static void fig_dur(FILE *f, const char *label, double v)
{
    char b[64];
    fig(f, label, dur_text(b, sizeof(b), v));
}

void results_html_head(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    results_html_escape(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);
}

void results_html_figures(FILE *f, const results_plot_list *list)
{
    for (size_t i = 0; list && i < list->n; i++) {
        const results_plot_chart *c = &list->chart[i];
        fputs("<figure>\n<img src=\"", f);
        results_html_escape(f, c->file);
        fputs("\" alt=\"", f);
        results_html_escape(f, c->title);
        /* the size up front, so the page does not reflow as charts load; CSS scales them down */
        fprintf(f, "\" width=\"%d\" height=\"%d\">\n<figcaption><b>", RESULTS_PLOT_WIDTH, RESULTS_PLOT_HEIGHT);
        results_html_escape(f, c->title);
        fputs(".</b> ", f);
        results_html_escape(f, c->caption);
        fputs("</figcaption>\n</figure>\n", f);
    }
}

static void charts(FILE *f, const results_plot_list *list)
{
    fputs("<h2>Charts</h2>\n", f);
    if (!list || list->n == 0) {
        fputs("<p>No charts were drawn for this run (<code>--no-plots</code>); "
              "<code>tempfail plot RUN_DIR</code> draws them.</p>\n", f);
        return;
    }
    results_html_figures(f, list);
}

static void expect_section(FILE *f, const json_t *s)
{
    const json_t *ex = at(s, "expect");
    fputs("<h2>Expectations</h2>\n", f);
    if (!json_is_array(ex) || json_array_size(ex) == 0) {
        fputs("<p>The scenario states no <code>expect:</code> assertions.</p>\n", f);
        return;
    }
    size_t passed = 0, i;
    const json_t *e;
    fputs("<div class=\"scroll\"><table>\n<tr><th>assertion</th><th>value</th><th>result</th></tr>\n", f);
    json_array_foreach(ex, i, e)
    {
        bool pass = json_is_true(at(e, "pass"));
        passed += pass;
        fputs("<tr><td>", f);
        results_html_escape(f, json_string_value(at(e, "assertion")));
        if (json_is_string(at(e, "error"))) {
            fputs("<br><small>", f);
            results_html_escape(f, json_string_value(at(e, "error")));
            fputs("</small>", f);
        }
        fputs("</td>", f);
        const char *text = json_string_value(at(e, "assertion"));
        if (text && results_compare_is_duration(text))
            td_dur(f, num(at(e, "value")));
        else
            td_num(f, num(at(e, "value")));
        fprintf(f, "<td class=\"%s\">%s</td></tr>\n", pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
    }
    fprintf(f, "</table></div>\n<p>%zu of %zu passed.</p>\n", passed, json_array_size(ex));
}

static void key_figures(FILE *f, const json_t *s)
{
    const json_t *m = at(s, "messages"), *q = at(s, "queue");
    fputs("<h2>Key figures</h2>\n<div class=\"figs\">\n", f);
    fig_num(f, "messages arrived", num(at(m, "arrived")));
    fig_num(f, "delivered", num(at(m, "delivered")));
    fig_num(f, "bounced", num(at(m, "bounced")));
    fig_num(f, "still queued", num(at(m, "queued")));
    fig_num(f, "deferrals", num(at(m, "deferrals")));
    fig_dur(f, "latency p95 (all)", num(at(at(s, "latency"), "p95")));
    fig_dur(f, "oldest message", num(at(q, "oldest")));
    fig_num(f, "peak queue", num(at(at(q, "peak"), "total")));
    fig_dur(f, "simulated until", num(at(at(s, "simulated"), "end")));
    fputs("</div>\n", f);

    fputs("<h3>Latency, arrival to delivery</h3>\n<div class=\"scroll\"><table>\n"
          "<tr><th>class</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>delivered</th>"
          "<th>attempts (mean)</th></tr>\n",
          f);
    const char *name;
    const json_t *c;
    tr_name(f, "all");
    td_dur(f, num(at(at(s, "latency"), "p50")));
    td_dur(f, num(at(at(s, "latency"), "p95")));
    td_dur(f, num(at(at(s, "latency"), "p99")));
    td_dur(f, num(at(at(s, "latency"), "max")));
    td_num(f, num(at(m, "delivered")));
    td_num(f, NAN);
    fputs("</tr>\n", f);
    json_object_foreach((json_t *)at(s, "classes"), name, c)
    {
        tr_name(f, name);
        const json_t *l = at(c, "latency");
        td_dur(f, num(at(l, "p50")));
        td_dur(f, num(at(l, "p95")));
        td_dur(f, num(at(l, "p99")));
        td_dur(f, num(at(l, "max")));
        td_num(f, num(at(c, "delivered")));
        td_num(f, num(at(at(c, "attempts"), "mean")));
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);

    fputs("<h3>Receivers</h3>\n<div class=\"scroll\"><table>\n<tr><th>receiver</th><th>connections</th>"
          "<th>refused</th><th>421 replies</th><th>peak sessions</th><th>cap</th></tr>\n",
          f);
    json_object_foreach((json_t *)at(s, "receivers"), name, c)
    {
        tr_name(f, name);
        td_num(f, num(at(c, "connections")));
        td_num(f, num(at(c, "refused")));
        td_num(f, num(at(at(c, "replies"), "421")));
        double peak = num(at(at(c, "sessions"), "peak")), cap = num(at(at(c, "sessions"), "cap"));
        if (isfinite(cap) && peak > cap) {
            char b[RESULTS_FMT_MAX];
            results_fmt_double(b, sizeof(b), peak);
            fprintf(f, "<td class=\"fail\">%s (over cap)</td>", b);
        } else {
            td_num(f, peak);
        }
        td_num(f, cap);
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);

    fputs("<h3>Destinations</h3>\n<div class=\"scroll\"><table>\n<tr><th>destination</th><th>receiver</th>"
          "<th>deliveries</th><th>dead episodes</th><th>dead for</th><th>window min / mean / max</th></tr>\n",
          f);
    json_object_foreach((json_t *)at(s, "destinations"), name, c)
    {
        tr_name(f, name);
        td(f, json_string_value(at(c, "receiver")));
        td_num(f, num(at(c, "deliveries")));
        td_num(f, num(at(c, "dead_episodes")));
        td_dur(f, num(at(c, "dead_time")));
        char a[64], b[64], d[64];
        const json_t *w = at(c, "window");
        results_fmt_double(a, sizeof(a), num(at(w, "min")));
        results_fmt_double(b, sizeof(b), num(at(w, "mean")));
        results_fmt_double(d, sizeof(d), num(at(w, "max")));
        fprintf(f, "<td>%s / %s / %s</td></tr>\n", a, b, d);
    }
    fputs("</table></div>\n", f);

    const json_t *def = at(s, "deferrals");
    if (json_object_size(def)) {
        fputs("<h3>Deferrals by reason</h3>\n<div class=\"scroll\"><table>\n"
              "<tr><th>reason</th><th>count</th></tr>\n",
              f);
        json_object_foreach((json_t *)def, name, c)
        {
            tr_name(f, name);
            td_num(f, num(c));
            fputs("</tr>\n", f);
        }
        fputs("</table></div>\n", f);
    }
}

static void title_block(FILE *f, const results_rundir *r, const char *prefix)
{
    fputs("<h1>", f);
    results_html_escape(f, prefix);
    results_html_escape(f, results_rundir_name(r));
    fputs("</h1>\n", f);
    const char *d = results_rundir_description(r);
    if (*d) {
        fputs("<p class=\"desc\">", f);
        results_html_escape(f, d);
        fputs("</p>\n", f);
    }
    const json_t *s = r->summary;
    char seed[32], rep[32];
    results_fmt_double(seed, sizeof(seed), num(at(s, "seed")));
    results_fmt_double(rep, sizeof(rep), num(at(s, "replication")));
    fprintf(f, "<p class=\"meta\">seed %s, replication %s; run directory <code>", seed, rep);
    results_html_escape(f, r->path);
    fputs("</code></p>\n", f);
}

int results_html_foot(FILE *f)
{
    fputs("</main>\n</body>\n</html>\n", f);
    return fflush(f) == 0 && !ferror(f) ? 0 : -(errno ? errno : EIO);
}

int results_html_run(FILE *f, const results_rundir *r, const results_plot_list *list)
{
    char title[300];
    snprintf(title, sizeof(title), "tempfail: %s", results_rundir_name(r));
    results_html_head(f, title);
    title_block(f, r, "");
    key_figures(f, r->summary);
    expect_section(f, r->summary);
    charts(f, list);
    fputs("<h2>Scenario as run</h2>\n<pre>", f);
    results_html_escape(f, r->scenario_yaml);
    fputs("</pre>\n", f);
    return results_html_foot(f);
}

int results_html_compare(FILE *f, const results_rundir *a, const results_rundir *b, const results_compare *c,
                         const results_threshold_result *th, size_t nth, const results_plot_list *list)
{
    char title[600];
    snprintf(title, sizeof(title), "tempfail: %s vs %s", results_rundir_name(a), results_rundir_name(b));
    results_html_head(f, title);
    fputs("<h1>Comparison</h1>\n", f);
    const results_rundir *runs[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "<p class=\"desc\"><b>%s:</b> ", k ? "B" : "A");
        results_html_escape(f, results_rundir_name(runs[k]));
        fputs(" (<code>", f);
        results_html_escape(f, runs[k]->path);
        fputs("</code>)", f);
        const char *d = results_rundir_description(runs[k]);
        if (*d) {
            fputs(" - ", f);
            results_html_escape(f, d);
        }
        fputs("</p>\n", f);
    }
    if (nth) {
        fputs("<h2>Thresholds</h2>\n<div class=\"scroll\"><table>\n<tr><th>threshold</th><th>A</th><th>B</th>"
              "<th>bound</th><th>result</th></tr>\n", f);
        for (size_t i = 0; i < nth; i++) {
            char va[64], vb[64], vl[64];
            bool dur = results_compare_is_duration(th[i].metric);
            results_compare_fmt(va, sizeof(va), th[i].a, dur, false);
            results_compare_fmt(vb, sizeof(vb), th[i].b, dur, false);
            results_compare_fmt(vl, sizeof(vl), th[i].bound, dur, false);
            tr_name(f, th[i].text);
            fprintf(f, "<td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td></tr>\n", va, vb, vl,
                    th[i].crossed ? "fail" : "pass", th[i].crossed ? "CROSSED" : "holds");
        }
        fputs("</table></div>\n", f);
    }
    fputs("<h2>Key figures</h2>\n<div class=\"scroll\"><table>\n<tr><th>metric</th><th>A</th><th>B</th>"
          "<th>delta</th><th>change</th></tr>\n", f);
    for (size_t i = 0; c && i < c->n; i++) {
        const results_compare_row *r = &c->rows[i];
        char va[64], vb[64], vd[64], vr[32];
        results_compare_fmt(va, sizeof(va), r->a, r->duration, false);
        results_compare_fmt(vb, sizeof(vb), r->b, r->duration, false);
        double d = results_compare_delta(r);
        results_compare_fmt(vd, sizeof(vd), d, r->duration, true);
        results_compare_fmt_relative(vr, sizeof(vr), r);
        const char *cls = isfinite(d) && d != 0 && r->better ? ((d > 0) == (r->better > 0) ? "better" : "worse") : "";
        tr_name(f, r->metric);
        fprintf(f, "<td>%s</td><td>%s</td><td class=\"%s\">%s</td><td class=\"%s\">%s</td></tr>\n", va, vb, cls,
                vd, cls, vr);
    }
    fputs("</table></div>\n<p class=\"meta\">Green: B is better on this figure; red: B is worse.</p>\n", f);
    charts(f, list);
    for (int k = 0; k < 2; k++) {
        fprintf(f, "<h2>Scenario %s as run</h2>\n<pre>", k ? "B" : "A");
        results_html_escape(f, runs[k]->scenario_yaml);
        fputs("</pre>\n", f);
    }
    return results_html_foot(f);
}

typedef struct html_page {
    const results_rundir *a, *b;
    const results_compare *c;
    const results_threshold_result *th;
    size_t nth;
    const results_plot_list *charts;
} html_page;

static int html_page_write(FILE *f, void *ctx)
{
    const html_page *p = ctx;
    return p->b ? results_html_compare(f, p->a, p->b, p->c, p->th, p->nth, p->charts)
                : results_html_run(f, p->a, p->charts);
}

int results_html_write(const char *dir, const char *name, const results_rundir *a, const results_rundir *b,
                       const results_compare *c, const results_threshold_result *th, size_t nth,
                       const results_plot_list *charts_list, char *err, size_t errlen)
{
    html_page p = {a, b, c, th, nth, charts_list};
    return results_dir_write_file(dir, name, html_page_write, &p, err, errlen);
}
