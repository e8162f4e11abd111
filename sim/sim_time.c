/*
 * sim_time - formatting of simulated time for people (progress line, summaries, messages).
 */
#include "sim/sim_time.h"

#include <stdio.h>

int sim_time_format(char *buf, size_t len, sim_time_t t)
{
    if (t == SIM_TIME_NEVER)
        return snprintf(buf, len, "never");
    const char *sign = "";
    if (t < 0) {
        sign = "-";
        t = -t;
    }
    if (t < SIM_SEC) {
        if (t % SIM_MSEC == 0)
            return snprintf(buf, len, "%s%lldms", sign, (long long)(t / SIM_MSEC));
        return snprintf(buf, len, "%s%.3fms", sign, (double)t / (double)SIM_MSEC);
    }
    long long d = t / SIM_DAY, h = (t % SIM_DAY) / SIM_HOUR, m = (t % SIM_HOUR) / SIM_MIN;
    long long s = (t % SIM_MIN) / SIM_SEC, us = t % SIM_SEC;
    int n = snprintf(buf, len, "%s", sign);
    if (d)
        n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%lldd", d);
    if (h)
        n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%02lldh", h);
    if (m)
        n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%02lldm", m);
    if (s || us || (!d && !h && !m)) {
        if (us)
            n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%02lld.%03llds", s, us / 1000);
        else
            n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%02llds", s);
    }
    /* "05m" reads oddly when it leads; drop a leading zero of the first field. */
    char *p = buf + (*sign ? 1 : 0);
    if ((size_t)n < len && p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
        for (char *q = p; *q; q++)
            q[0] = q[1];
        n--;
    }
    return n;
}
