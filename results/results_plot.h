/*
 * results_plot - the charts of a run directory, drawn with PLplot's cairo driver.
 *
 * Two families of charts use this module: those of one run (results_plot_run.c: queue, sessions
 * per receiver, replies, windows, latency CDFs, queue age, attempts, resources) and the overlays of
 * two runs (results_plot_compare.c). Both read only a results_rundir, so the charts `tempfail run`
 * draws and those `tempfail plot RUN_DIR` draws again are the same.
 *
 * Every chart is one whole PLplot stream (plmkstrm, plinit, plend1): PLplot keeps global state per
 * stream, and a chart that left a colour, a window or a label function behind would change the next
 * one. It is written under a temporary name in the output directory and renamed when complete, so
 * a reader never sees half a PNG.
 *
 * The helpers below (frame, axes, legend, palette, figures read from summary.json) are what the
 * chart files share: white background, labelled axes with units, a legend outside the plot so it
 * never hides data.
 */
#ifndef RESULTS_PLOT_H
#define RESULTS_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "results/results_rundir.h"

typedef enum results_plot_format { RESULTS_PLOT_PNG, RESULTS_PLOT_SVG, RESULTS_PLOT_PDF } results_plot_format;

/* "png", "svg", "pdf" -> format: 0, or -EINVAL. */
int results_plot_format_parse(const char *s, results_plot_format *out);
/* The file extension without the dot. */
const char *results_plot_ext(results_plot_format f);

/* Size of a chart in pixels (PNG) or points (SVG, PDF). */
#define RESULTS_PLOT_WIDTH 1000
#define RESULTS_PLOT_HEIGHT 560

#define RESULTS_PLOT_MAX 64

/* A chart that was drawn: its file name (in the output directory) and what it shows. */
typedef struct results_plot_chart {
    char file[160];
    char title[200];
    char caption[400];
} results_plot_chart;

typedef struct results_plot_list {
    size_t n;
    results_plot_chart chart[RESULTS_PLOT_MAX];
} results_plot_list;

/*
 * Draws the charts of run r into outdir (which must exist) and lists them in list. Charts without
 * data are left out (resources when neither CPU nor disk is modelled). Returns 0, -errno of an I/O
 * error (err names the file), or -ENODEV when PLplot lacks the cairo driver (err says which package).
 */
int results_plot_run(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                     char *err, size_t errlen);

/*
 * Overlays of runs a (solid) and b (dashed) into outdir: queue, sessions per receiver (receivers of
 * either run), latency CDFs per class. Returns like results_plot_run.
 */
int results_plot_compare(const results_rundir *a, const results_rundir *b, const char *outdir,
                         results_plot_format fmt, results_plot_list *list, char *err, size_t errlen);

/* The charts drawn from messages.csv (results_plot_msgs.c), part of results_plot_run; 0 when there
 * is nothing to draw. Return like results_plot_run. */
int results_plot_latency(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                         char *err, size_t errlen);
int results_plot_attempts(const results_rundir *r, const char *outdir, results_plot_format fmt, results_plot_list *list,
                          char *err, size_t errlen);

/* --- shared by the chart files --- */

/* A chart being drawn. */
typedef struct results_plot {
    char final[4096];
    char tmp[4096];
    int strm;
    results_plot_list *list;
    results_plot_chart *entry;
} results_plot;

/*
 * Starts chart NAME.<ext> in outdir on a fresh PLplot stream (white background, palette loaded).
 * base must be a file name of letters, digits, '-', '_', '.' (results_plot_safe_name). Returns 0,
 * -ENAMETOOLONG, -ENOSPC (list full) or -ENODEV (no cairo driver; err says so).
 */
int results_plot_begin(results_plot *p, const char *outdir, const char *base, results_plot_format fmt,
                       results_plot_list *list, const char *title, const char *caption, char *err, size_t errlen);
/* Ends the stream and renames the file into place; 0 or -errno (err names the file). */
int results_plot_end(results_plot *p, char *err, size_t errlen);

/* The number at o[k1][k2][k3] of a summary (k2, k3 NULL for a shorter path), NaN when there is none. */
double results_plot_num(const json_t *o, const char *k1, const char *k2, const char *k3);

/* A file-name-safe copy of name: other bytes become '_'. */
void results_plot_safe_name(char *buf, size_t len, const char *name);

/* Palette: colour index of series i (cycles through 8 colour-blind-safe colours). */
int results_plot_color(size_t i);
/* Index reserved for a translucent fill of series i's colour (alpha 0..1). */
int results_plot_fill_color(size_t i, double alpha);
enum { RESULTS_PLOT_BLACK = 1, RESULTS_PLOT_GREY = 2, RESULTS_PLOT_RED = 3 };

/* A panel: viewport in normalized page coordinates (legend room is left at the right). */
void results_plot_panel(double ylo, double yhi);
/* Window and box: linear axes unless logx/logy (then bounds are log10), a light grid, labels. */
void results_plot_axes(double xmin, double xmax, double ymin, double ymax, bool logx, bool logy, const char *xlabel,
                       const char *ylabel, const char *title);

/* A legend entry. kind: line (style 1 solid, 2 dashed), box (filled), symbol, or text only. */
typedef struct results_plot_key {
    const char *text;
    int color;
    enum { RESULTS_PLOT_KEY_LINE, RESULTS_PLOT_KEY_BOX, RESULTS_PLOT_KEY_SYMBOL, RESULTS_PLOT_KEY_NONE } kind;
    int style;
} results_plot_key;
/* Draws the legend outside the current panel, at its top right. */
void results_plot_legend(const results_plot_key *keys, size_t n);

/* A round upper bound for an axis a little above m (so the top of the data is not on the frame). */
double results_plot_nice_max(double m);

/* The unit that keeps durations up to s seconds readable ("s", "min", "h", "d"), and its length in
 * seconds: seconds until s passes `most` minutes, minutes until it passes `most` hours, hours until
 * `most` days, then days. Time axes use 3 (a run of up to 3 minutes in seconds), value axes 2. */
double results_plot_time_unit(double s, double most, const char **name);

/* A polyline of n points in colour, line style (1 solid, 2 dashed) and width; NaN breaks it. */
void results_plot_line(size_t n, const double *x, const double *y, int color, int style, double width);

/* Latency charts (run and comparison): the CDF of a class's delivered latencies, on a log10 x axis. */
void results_plot_cdf(const results_rundir_class *c, int color, int style);
/* log10 bounds covering [min lo, max hi], widened to whole decades. */
void results_plot_latency_range(const double *lo, const double *hi, size_t n, double *xmin, double *xmax);
/* A duration in at most about four significant characters: "90ms", "12.5s", "35m54s", "3h37m", "2d04h". */
void results_plot_short_dur(char *buf, size_t len, double s);
/* plslabelfunc callback: a log10 seconds axis labelled as durations ("100ms", "10s"). */
void results_plot_dur_label(int axis, double value, char *label, int len, void *data);

/* The panel, log-time x axis (durations as labels) and 0-1 y axis of a latency CDF, with title. */
void results_plot_latency_axes(double xmin, double xmax, const char *title);

#endif
