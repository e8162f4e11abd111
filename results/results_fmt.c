/*
 * results_fmt - number and time formatting for the run directory.
 *
 * printf("%g") would give exponents (1e-07) and locale-dependent points, and "%.6f" gives noise
 * zeros and "-0.000000". Instead the value is split into integer and fractional parts: the integer
 * part goes through "%.0f" (exact for any double, no point, never grouped), the fraction is rounded
 * to an integer count of millionths and written digit by digit with its trailing zeros dropped.
 */
#include "results/results_fmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Appends "." and the 6-digit fraction `micro` (0 < micro < 1000000) without trailing zeros. */
static int fraction(char *out, int64_t micro)
{
    char d[8];
    int n = 0;
    d[n++] = '.';
    for (int64_t p = 100000; p > 0 && micro > 0; p /= 10) {
        d[n++] = (char)('0' + micro / p);
        micro %= p;
    }
    d[n] = 0;
    for (int i = 0; i <= n; i++)
        out[i] = d[i];
    return n;
}

int results_fmt_u64(char *buf, uint64_t v)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = d[n - 1 - i];
    buf[n] = 0;
    return n;
}

int results_fmt_double(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        return snprintf(buf, len, "%s", "");
    double ip;
    double frac = modf(v, &ip);
    bool neg = signbit(v);
    int64_t micro = llround(fabs(frac) * 1e6);
    if (micro >= 1000000) {
        micro -= 1000000;
        ip += neg ? -1.0 : 1.0;
    }
    char fr[8] = "";
    if (micro > 0)
        fraction(fr, micro);
    if (ip == 0 && micro == 0)
        neg = false;   /* no "-0" */
    return snprintf(buf, len, "%s%.0f%s", neg ? "-" : "", fabs(ip), fr);
}

int results_fmt_time(char *buf, size_t len, sim_time_t t)
{
    if (t == SIM_TIME_NEVER)
        return snprintf(buf, len, "%s", "");
    bool neg = t < 0;
    /* Magnitude as unsigned: -INT64_MIN does not fit an int64_t. */
    uint64_t m = neg ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    /* The common case, written by hand: this runs for every row of messages.csv. */
    char tmp[40];
    int n = 0;
    if (neg)
        tmp[n++] = '-';
    n += results_fmt_u64(tmp + n, m / 1000000);
    if (m % 1000000)
        n += fraction(tmp + n, (int64_t)(m % 1000000));
    if (len > 0) { /* snprintf's contract: truncate, terminate, return the full length */
        size_t k = (size_t)n < len - 1 ? (size_t)n : len - 1;
        memcpy(buf, tmp, k);
        buf[k] = 0;
    }
    return n;
}

int results_fmt_sig(char *buf, size_t len, double v, int digits)
{
    if (!isfinite(v))
        return snprintf(buf, len, "-");
    int dec = v == 0 ? 0 : digits - 1 - (int)floor(log10(fabs(v)));
    if (dec < 0)
        dec = 0;
    if (dec > 6)
        dec = 6;
    double scale = pow(10, dec);
    return results_fmt_double(buf, len, round(v * scale) / scale);
}
