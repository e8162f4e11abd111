/*
 * results_plot - the frame every chart shares: a fresh PLplot stream per chart, the palette, axes,
 * legends, and writing the file under a temporary name.
 *
 * Why a stream per chart: PLplot's state (colour maps, line style, label functions, the viewport)
 * lives in the current stream; plmkstrm gives a new one with defaults, and plend1 frees it and its
 * driver, so a chart can never inherit what the previous one set. The stream that was current
 * before is made current again afterwards (an embedding program may have one of its own).
 *
 * The palette is Okabe and Ito's eight colours, which stay distinct for the common forms of colour
 * blindness and in greyscale print; black is kept for axes and text.
 */
#include "results/results_plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const unsigned char palette[8][3] = {
    {0, 114, 178},   /* blue */
    {213, 94, 0},    /* vermillion */
    {0, 158, 115},   /* bluish green */
    {230, 159, 0},   /* orange */
    {204, 121, 167}, /* reddish purple */
    {86, 180, 233},  /* sky blue */
    {120, 120, 120}, /* grey */
    {0, 0, 0},       /* black */
};

enum { PAL0 = 4, FILL0 = PAL0 + 8, NCOL0 = FILL0 + 8 };

int results_plot_format_parse(const char *s, results_plot_format *out)
{
    static const char *const names[] = {"png", "svg", "pdf"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (results_plot_format)i;
            return 0;
        }
    return -EINVAL;
}

const char *results_plot_ext(results_plot_format f)
{
    return f == RESULTS_PLOT_SVG ? "svg" : f == RESULTS_PLOT_PDF ? "pdf" : "png";
}

static const char *device(results_plot_format f)
{
    return f == RESULTS_PLOT_SVG ? "svgcairo" : f == RESULTS_PLOT_PDF ? "pdfcairo" : "pngcairo";
}

/* PLplot exits the process when plinit cannot load a driver; ask first so that a missing driver
 * package is an error message, not a dead process. */
static bool have_device(const char *name)
{
    enum { MAXDEV = 256 };
    const char *menu[MAXDEV], *devs[MAXDEV];
    const char **m = menu, **d = devs;
    int n = MAXDEV;
    plgDevs(&m, &d, &n);
    for (int i = 0; i < n; i++)
        if (devs[i] && strcmp(devs[i], name) == 0)
            return true;
    return false;
}

void results_plot_safe_name(char *buf, size_t len, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || (c == '.' && i > 0);
        buf[i] = ok ? c : '_';
    }
    if (len)
        buf[i] = 0;
}

int results_plot_begin(results_plot *p, const char *outdir, const char *base, results_plot_format fmt,
                       results_plot_list *list, const char *title, const char *caption, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!have_device(device(fmt))) {
        snprintf(err, errlen, "PLplot has no %s driver (Debian package plplot-driver-cairo)", device(fmt));
        return -ENODEV;
    }
    if (list->n == RESULTS_PLOT_MAX) {
        snprintf(err, errlen, "%s: more than %d charts", outdir, RESULTS_PLOT_MAX);
        return -ENOSPC;
    }
    const char *ext = results_plot_ext(fmt);
    int a = snprintf(p->final, sizeof(p->final), "%s/%s.%s", outdir, base, ext);
    int b = snprintf(p->tmp, sizeof(p->tmp), "%s/.%s.%s.tmp-%ld", outdir, base, ext, (long)getpid());
    results_plot_chart *c = &list->chart[list->n];
    int d = snprintf(c->file, sizeof(c->file), "%s.%s", base, ext);
    if (a < 0 || (size_t)a >= sizeof(p->final) || b < 0 || (size_t)b >= sizeof(p->tmp) || d < 0 ||
        (size_t)d >= sizeof(c->file)) {
        snprintf(err, errlen, "%s/%s.%s: file name too long", outdir, base, ext);
        return -ENAMETOOLONG;
    }
    snprintf(c->title, sizeof(c->title), "%s", title);
    snprintf(c->caption, sizeof(c->caption), "%s", caption ? caption : "");
    p->list = list;
    p->entry = c;

    PLINT cur;
    plgstrm(&cur);
    p->strm = cur;
    PLINT strm;
    plmkstrm(&strm);
    plsdev(device(fmt));
    plsfnam(p->tmp);
    plspage(0, 0, RESULTS_PLOT_WIDTH, RESULTS_PLOT_HEIGHT, 0, 0);
    plscmap0n(NCOL0);
    plscol0(0, 255, 255, 255); /* background */
    plscol0(RESULTS_PLOT_BLACK, 0, 0, 0);
    plscol0(RESULTS_PLOT_GREY, 225, 225, 225);
    plscol0(RESULTS_PLOT_RED, 200, 0, 0);
    for (int i = 0; i < 8; i++) {
        plscol0(PAL0 + i, palette[i][0], palette[i][1], palette[i][2]);
        plscol0a(FILL0 + i, palette[i][0], palette[i][1], palette[i][2], 0.3);
    }
    plinit();
    pladv(0);
    plschr(0, 0.95);
    return 0;
}

int results_plot_end(results_plot *p, char *err, size_t errlen)
{
    plend1();
    plsstrm(p->strm);
    if (access(p->tmp, F_OK) != 0 || rename(p->tmp, p->final) != 0) {
        int e = errno;
        unlink(p->tmp);
        snprintf(err, errlen, "%s: %s", p->final, strerror(e));
        return -e;
    }
    p->list->n++;
    return 0;
}

int results_plot_color(size_t i) { return PAL0 + (int)(i % 8); }

int results_plot_fill_color(size_t i, double alpha)
{
    int c = FILL0 + (int)(i % 8);
    plscol0a(c, palette[i % 8][0], palette[i % 8][1], palette[i % 8][2], alpha);
    return c;
}

void results_plot_panel(double ylo, double yhi) { plvpor(0.09, 0.68, ylo, yhi); }

void results_plot_axes(double xmin, double xmax, double ymin, double ymax, bool logx, bool logy, const char *xlabel,
                       const char *ylabel, const char *title)
{
    if (!(xmax > xmin))
        xmax = xmin + 1;
    if (!(ymax > ymin))
        ymax = ymin + 1;
    plwind(xmin, xmax, ymin, ymax);
    /* grid first, in light grey, so data and the frame are drawn over it */
    plcol0(RESULTS_PLOT_GREY);
    pllsty(1);
    plwidth(1);
    plbox(logx ? "gl" : "g", 0, 0, logy ? "gl" : "g", 0, 0);
    plcol0(RESULTS_PLOT_BLACK);
    plbox(logx ? "bcnstl" : "bcnst", 0, 0, logy ? "bcnstvl" : "bcnstv", 0, 0);
    pllab(xlabel ? xlabel : "", ylabel ? ylabel : "", title ? title : "");
}

void results_plot_legend(const results_plot_key *keys, size_t n)
{
    enum { MAXK = 32 };
    if (n > MAXK)
        n = MAXK;
    if (n == 0)
        return;
    PLINT opt[MAXK], tcol[MAXK], bcol[MAXK], bpat[MAXK], lcol[MAXK], lsty[MAXK], scol[MAXK], snum[MAXK];
    PLFLT bscale[MAXK], bwidth[MAXK], lwidth[MAXK], sscale[MAXK];
    const char *text[MAXK], *sym[MAXK];
    for (size_t i = 0; i < n; i++) {
        opt[i] = keys[i].kind == RESULTS_PLOT_KEY_BOX      ? PL_LEGEND_COLOR_BOX
                 : keys[i].kind == RESULTS_PLOT_KEY_SYMBOL ? PL_LEGEND_SYMBOL
                 : keys[i].kind == RESULTS_PLOT_KEY_NONE   ? PL_LEGEND_NONE
                                                           : PL_LEGEND_LINE;
        tcol[i] = RESULTS_PLOT_BLACK;
        text[i] = keys[i].text;
        bcol[i] = keys[i].color;
        bpat[i] = 0;
        bscale[i] = 0.8;
        bwidth[i] = 1;
        lcol[i] = keys[i].color;
        lsty[i] = keys[i].style > 0 ? keys[i].style : 1;
        lwidth[i] = 2;
        scol[i] = keys[i].color;
        sscale[i] = 1;
        snum[i] = 1;
        sym[i] = "#(728)";
    }
    PLFLT w, h;
    pllsty(1);
    plwidth(1);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_OUTSIDE | PL_POSITION_RIGHT,
             0.05, 0.0, 0.06, 0, RESULTS_PLOT_BLACK, 1, (PLINT)n, 1, (PLINT)n, opt, 0.6, 0.78, 1.8, 0.0, tcol,
             (const char *const *)text, bcol, bpat, bscale, bwidth, lcol, lsty, lwidth, scol, sscale, snum,
             (const char *const *)sym);
}

double results_plot_num(const json_t *o, const char *k1, const char *k2, const char *k3)
{
    const json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    if (k3)
        v = json_object_get(v, k3);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

double results_plot_nice_max(double m)
{
    if (!(m > 0))
        return 1;
    double p = pow(10, floor(log10(m * 1.08)));
    for (double k = 1; k <= 10; k += 0.5)
        if (k * p >= m * 1.08)
            return k * p;
    return 10 * p;
}

double results_plot_time_unit(double s, double most, const char **name)
{
    if (s <= most * 60) {
        *name = "s";
        return 1;
    }
    if (s <= most * 3600) {
        *name = "min";
        return 60;
    }
    if (s <= most * 86400) {
        *name = "h";
        return 3600;
    }
    *name = "d";
    return 86400;
}

void results_plot_line(size_t n, const double *x, const double *y, int color, int style, double width)
{
    plcol0(color);
    pllsty(style > 0 ? style : 1);
    plwidth(width);
    size_t i = 0;
    while (i < n) {
        while (i < n && !(isfinite(x[i]) && isfinite(y[i])))
            i++;
        size_t j = i;
        while (j < n && isfinite(x[j]) && isfinite(y[j]))
            j++;
        if (j - i >= 2)
            plline((PLINT)(j - i), x + i, y + i);
        else if (j - i == 1)
            plpoin(1, x + i, y + i, 1);
        i = j;
    }
    pllsty(1);
    plwidth(1);
}

void results_plot_cdf(const results_rundir_class *c, int color, int style)
{
    if (!c || c->delivered == 0)
        return;
    /* Each non-empty bin rises from its lower edge to its upper edge (clamped to the extremes); the
     * curve is flat across empty bins, as a CDF is. */
    enum { MAXP = 2 * RESULTS_RUNDIR_LAT_BINS + 2 };
    static double x[MAXP], y[MAXP]; /* 45 KB: kept off the stack */
    size_t m = 0;
    double lo = c->lat_min > 1e-6 ? c->lat_min : 1e-6;
    uint64_t cum = 0;
    for (size_t i = 0; i < RESULTS_RUNDIR_LAT_BINS; i++) {
        if (!c->lat_bins[i])
            continue;
        double a = results_rundir_lat_edge(i), b = results_rundir_lat_edge(i + 1);
        a = a < lo ? lo : a > c->lat_max ? c->lat_max : a;
        b = b < lo ? lo : b > c->lat_max ? c->lat_max : b;
        x[m] = log10(a);
        y[m++] = (double)cum / (double)c->delivered;
        cum += c->lat_bins[i];
        x[m] = log10(b);
        y[m++] = (double)cum / (double)c->delivered;
    }
    results_plot_line(m, x, y, color, style, 2);
}

void results_plot_latency_range(const double *lo, const double *hi, size_t n, double *xmin, double *xmax)
{
    double a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (lo[i] < a)
            a = lo[i];
        if (hi[i] > b)
            b = hi[i];
    }
    if (!isfinite(a) || a < 1e-6)
        a = 1e-6;
    if (!isfinite(b) || b <= a)
        b = a * 10;
    *xmin = floor(log10(a) - 0.3); /* at least a third of a decade of room left of the fastest */
    *xmax = ceil(log10(b) + 1e-9);
    if (*xmax - *xmin < 1)
        *xmax = *xmin + 1;
}

/* Labels of a log time axis: 10^k seconds read as durations ("100ms", "10s", "16m40s"). */
void results_plot_dur_label(int axis, double value, char *label, int len, void *data)
{
    (void)axis;
    (void)data;
    double s = pow(10, value);
    if (s < 1e-3 * 0.999)
        snprintf(label, (size_t)len, "%gus", s * 1e6);
    else if (s < 0.999)
        snprintf(label, (size_t)len, "%gms", s * 1e3);
    else if (s < 999)
        snprintf(label, (size_t)len, "%gs", s);
    else
        results_plot_short_dur(label, (size_t)len, s);
}

void results_plot_short_dur(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "-");
    else if (s < 1)
        snprintf(buf, len, "%.3gms", s * 1e3);
    else if (s < 60)
        snprintf(buf, len, "%.3gs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400)
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, len, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
}

void results_plot_latency_axes(double xmin, double xmax, const char *title)
{
    results_plot_panel(0.12, 0.90);
    plslabelfunc(results_plot_dur_label, NULL);
    plwind(xmin, xmax, 0, 1.02);
    plcol0(RESULTS_PLOT_GREY);
    plbox("gl", 0, 0, "g", 0.1, 0);
    plcol0(RESULTS_PLOT_BLACK);
    plbox("bcnstlo", 0, 0, "bcnstv", 0.1, 0);
    pllab("latency, arrival to delivery (log scale)", "fraction of messages delivered", title);
}
