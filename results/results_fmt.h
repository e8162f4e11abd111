/*
 * results_fmt - the one way numbers and times are written into a run directory.
 *
 * Every file of a run (summary.json, timeseries.csv, messages.csv, the report) formats its numbers
 * through these two functions, so the same figure reads the same everywhere and a run is
 * byte-identical on every machine: no locale (the decimal point is always '.'), no exponents, no
 * "-0", no noise digits from binary fractions (0.1 + 0.2 is "0.3").
 */
#ifndef RESULTS_FMT_H
#define RESULTS_FMT_H

#include <stddef.h>

#include "sim/sim_time.h"

/* Enough for any double: 309 integer digits, sign, point, 6 decimals, NUL. */
#define RESULTS_FMT_MAX 328

/*
 * Writes v: integral values without a fraction ("7200", "123456789"), others rounded to 6 decimals
 * with trailing zeros trimmed ("12.5", "0.3", "0.000123"); values that round to zero are "0" (so
 * 1e-7 and -0.0 are "0"). NaN and infinities write "" (an empty CSV cell; JSON writes null).
 * Returns the length (like snprintf: what would have been written).
 */
int results_fmt_double(char *buf, size_t len, double v);
/* v for people to read: rounded to `digits` significant digits (never to fewer than the integer
 * part, never to more than 6 decimals), then written as results_fmt_double writes: 2280.099374 is
 * "2280" and 0.256658 "0.2567" with 4 digits. NaN and infinities write "-". Returns the length. */
int results_fmt_sig(char *buf, size_t len, double v, int digits);
/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated; returns the length. Fast path for
 * the integer cells of large CSV files. */
int results_fmt_u64(char *buf, uint64_t v);

/* Seconds with microsecond precision, trailing zeros trimmed: "300", "0.25", "-1.000001".
 * SIM_TIME_NEVER writes "". Returns the length, like snprintf. */
int results_fmt_time(char *buf, size_t len, sim_time_t t);

#endif
