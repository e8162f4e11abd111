/*
 * sim_time - formatting of simulated time for people (progress line, summaries, messages).
 *
 * The text is built in a local buffer and copied out with snprintf, so a short or NULL buffer gets the
 * start of the same text and the return value is always the full length, as with snprintf itself.
 * The magnitude is taken as unsigned, so INT64_MIN formats instead of overflowing.
 */
#include "sim/sim_time.h"

#include <stdio.h>

int sim_time_format(char *buf, size_t len, sim_time_t t)
{
    if (t == SIM_TIME_NEVER)
        return snprintf(buf, len, "never");
    char tmp[64];
    const char *sign = t < 0 ? "-" : "";
    uint64_t u = t < 0 ? 0 - (uint64_t)t : (uint64_t)t;
    const uint64_t usec_ms = SIM_MSEC, usec_s = SIM_SEC, usec_m = SIM_MIN, usec_h = SIM_HOUR, usec_d = SIM_DAY;
    if (u == 0)
        return snprintf(buf, len, "0s");
    if (u < usec_s) {
        if (u % usec_ms == 0)
            return snprintf(buf, len, "%s%llums", sign, (unsigned long long)(u / usec_ms));
        return snprintf(buf, len, "%s%.3fms", sign, (double)u / (double)usec_ms);
    }
    unsigned long long d = u / usec_d, h = u % usec_d / usec_h, m = u % usec_h / usec_m;
    unsigned long long s = u % usec_m / usec_s, us = u % usec_s;
    /* Each field is at most a few characters and there are five; tmp cannot overflow. */
    /* Every field from the largest non-zero one down to the smallest non-zero one is printed, zeros
     * included, so "5h00m00.463s" cannot be misread as 5 h 0.463 min. */
    int first = d ? 0 : h ? 1 : m ? 2 : 3, last = (s || us) ? 3 : m ? 2 : h ? 1 : 0;
    size_t n = (size_t)snprintf(tmp, sizeof tmp, "%s", sign);
    if (first <= 0 && last >= 0)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%llud", d);
    if (first <= 1 && last >= 1)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%02lluh", h);
    if (first <= 2 && last >= 2)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%02llum", m);
    if (last >= 3) {
        if (us)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%02llu.%03llus", s, us / 1000);
        else
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%02llus", s);
    }
    /* "05m" reads oddly when it leads; drop a leading zero of the first field. */
    char *p = tmp + (*sign ? 1 : 0);
    if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
        for (char *q = p; *q; q++)
            q[0] = q[1];
    }
    return snprintf(buf, len, "%s", tmp);
}
