/*
 * results_csv - a buffered CSV writer (timeseries.csv, messages.csv).
 *
 * RFC 4180 quoting, only where needed: a cell containing a comma, a double quote, CR or LF is
 * quoted and its quotes doubled; every other cell is written as it is. Rows end with "\n" (not
 * RFC 4180's CRLF) so that awk, cut and grep read the files without surprises; every CSV reader
 * accepts both. Numbers go through results_fmt.
 *
 * Errors are sticky: after a failed write every call is a no-op and results_csv_error() (and
 * results_csv_flush) return the -errno of the first failure, so a caller may check once at the end.
 */
#ifndef RESULTS_CSV_H
#define RESULTS_CSV_H

#include <stdint.h>
#include <stdio.h>

#include "sim/sim_time.h"

typedef struct results_csv results_csv;

/* Writes to f, which stays the caller's to close. NULL if out of memory. */
results_csv *results_csv_create(FILE *f);
/* Flushes what is buffered (its error is lost: call results_csv_flush first) and frees. */
void results_csv_free(results_csv *w);

/* Cells of the current row, left to right. */
void results_csv_str(results_csv *w, const char *s);   /* NULL is an empty cell */
void results_csv_double(results_csv *w, double v);     /* NaN: empty cell */
void results_csv_int(results_csv *w, int64_t v);
void results_csv_uint(results_csv *w, uint64_t v);
void results_csv_time(results_csv *w, sim_time_t t);   /* seconds; SIM_TIME_NEVER: empty cell */
void results_csv_empty(results_csv *w);
/* Ends the row. Returns 0 or the sticky -errno. */
int results_csv_end_row(results_csv *w);
/* A whole row of names (a header). Returns like results_csv_end_row. */
int results_csv_row_strs(results_csv *w, const char *const *cells, size_t n);

/* Writes the buffer to the stream and fflush()es it. Returns 0 or -errno. */
int results_csv_flush(results_csv *w);
int results_csv_error(const results_csv *w);

#endif
