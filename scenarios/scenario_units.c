/*
 * scenario_units - the unit syntax of scenario values: durations, sizes, rates, probabilities,
 * booleans and bandwidths, each converted to the base unit the models use (microseconds of simulated
 * time, bytes, per-second rates).
 *
 * The syntax follows what operators already write. Durations are Postfix's: a bare number is seconds
 * (queue_run_delay = 300), units are lower case (s m h d w, plus ms and us for network latencies),
 * which keeps "5m" (five minutes) apart from "5M" (five mebibytes). Sizes use binary multiples
 * (K = KB = KiB = 1024) because Postfix's message_size_limit and the mail logs count bytes that way;
 * bandwidths in bits use the decimal multiples of networking (100Mbit/s = 12.5e6 bytes/s).
 *
 * Every parser takes the whole string or nothing: trailing junk is an error, never silently dropped.
 */
#include "scenarios/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A non-negative finite number at the start of s; *end gets what follows (after blanks). */
static int scenario_units_number(const char *s, double *out, const char **end)
{
    while (*s == ' ' || *s == '\t')
        s++;
    /* strtod also reads "inf", "nan", hex and a sign; a scenario value is plain decimal. */
    if (!(isdigit((unsigned char)s[0]) || (s[0] == '.' && isdigit((unsigned char)s[1]))))
        return -EINVAL;
    for (const char *p = s; *p && (isdigit((unsigned char)*p) || *p == '.'); p++)
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
            return -EINVAL;
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || errno == ERANGE || !isfinite(v) || v < 0)
        return -EINVAL;
    for (const char *p = s; p < e; p++)
        if (*p == 'e' || *p == 'E')
            return -EDOM; /* 1e12: docs/scenario.md says numbers are written out */
    while (*e == ' ' || *e == '\t')
        e++;
    *out = v;
    *end = e;
    return 0;
}

static bool scenario_units_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == 0;
}

/* A unit's name and what one of it is in the base unit. */
typedef struct scenario_units_unit {
    const char *name;
    double base;
} scenario_units_unit;

/* The length of the unit u, the text after a number, without its trailing blanks. */
static size_t scenario_units_len(const char *u)
{
    size_t n = strlen(u);
    while (n > 0 && (u[n - 1] == ' ' || u[n - 1] == '\t'))
        n--;
    return n;
}

/* The unit of units[0..count) named u[0..n), case folded or not; NULL for an unknown unit. */
static const scenario_units_unit *scenario_units_find(const scenario_units_unit *units, size_t count, const char *u,
                                                      size_t n, bool fold_case)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(units[i].name) == n &&
            (fold_case ? strncasecmp(units[i].name, u, n) : memcmp(units[i].name, u, n)) == 0)
            return &units[i];
    return NULL;
}

/* A number and one of units after it: the number times what the unit is worth. */
static int scenario_units_scaled(const char *s, const scenario_units_unit *units, size_t count, bool fold_case,
                                 double *out)
{
    double v;
    const char *u;
    int rc = s ? scenario_units_number(s, &v, &u) : -EINVAL;
    if (rc < 0)
        return rc;
    const scenario_units_unit *unit = scenario_units_find(units, count, u, scenario_units_len(u), fold_case);
    if (!unit)
        return -EINVAL;
    *out = v * unit->base;
    return 0;
}

int scenario_parse_duration(const char *s, sim_time_t *out)
{
    /* A bare number is seconds. Case matters: "m" is minutes, "M" is not a time. */
    static const scenario_units_unit units[] = {
        {"", SIM_SEC},   {"us", SIM_USEC}, {"ms", SIM_MSEC}, {"s", SIM_SEC}, {"sec", SIM_SEC},
        {"m", SIM_MIN},  {"min", SIM_MIN}, {"h", SIM_HOUR},  {"d", SIM_DAY}, {"w", 7 * SIM_DAY},
    };
    double us;
    int rc = scenario_units_scaled(s, units, sizeof(units) / sizeof(units[0]), false, &us);
    if (rc < 0)
        return rc;
    /* Beyond ~100 years the int64 arithmetic of the calendar could overflow when offsets are added. */
    if (us > SCENARIO_MAX_DURATION_DAYS * (double)SIM_DAY)
        return -ERANGE;
    *out = (sim_time_t)(us + 0.5);
    return 0;
}

int scenario_parse_size(const char *s, double *out)
{
    static const scenario_units_unit units[] = {
        {"", 1},   {"b", 1},           {"k", 1024.0},      {"kb", 1024.0},      {"kib", 1024.0},
        {"m", 1048576.0},              {"mb", 1048576.0},  {"mib", 1048576.0},  {"g", 1073741824.0},
        {"gb", 1073741824.0},          {"gib", 1073741824.0},
    };
    double v;
    int rc = scenario_units_scaled(s, units, sizeof(units) / sizeof(units[0]), true, &v);
    if (rc < 0)
        return rc;
    if (v > SCENARIO_MAX_SIZE)
        return -ERANGE;
    *out = v;
    return 0;
}

/* The denominator of a rate: "s", "h", "min", or a duration "10m"; in seconds. */
static int scenario_units_per(const char *d, double *seconds)
{
    while (*d == ' ' || *d == '\t')
        d++;
    static const scenario_units_unit words[] = {{"second", 1}, {"minute", 60}, {"hour", 3600}, {"day", 86400}};
    const scenario_units_unit *word = scenario_units_find(words, sizeof(words) / sizeof(words[0]), d, strlen(d), false);
    if (word) {
        *seconds = word->base;
        return 0;
    }
    char buf[64];
    sim_time_t t;
    if (isalpha((unsigned char)d[0])) {
        /* "/h" means "per one hour". */
        if (strlen(d) + 2 > sizeof(buf))
            return -EINVAL;
        buf[0] = '1';
        memcpy(buf + 1, d, strlen(d) + 1);
        d = buf;
    } else if (!isdigit((unsigned char)d[0]) && d[0] != '.') {
        return -EINVAL;
    }
    if (scenario_parse_duration(d, &t) < 0 || t <= 0)
        return -EINVAL;
    *seconds = sim_time_to_sec(t);
    return 0;
}

int scenario_parse_rate(const char *s, double *per_second)
{
    double v;
    const char *rest;
    int rc = s ? scenario_units_number(s, &v, &rest) : -EINVAL;
    if (rc < 0)
        return rc;
    double sec = 1;
    if (*rest != 0 && (*rest != '/' || scenario_units_per(rest + 1, &sec) < 0))
        return -EINVAL;
    if (v / sec > SCENARIO_MAX_RATE)
        return -ERANGE;
    *per_second = v / sec;
    return 0;
}

int scenario_parse_bool(const char *s, bool *out)
{
    if (!s)
        return -EINVAL;
    if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0) {
        *out = false;
        return 0;
    }
    return -EINVAL;
}

int scenario_parse_probability(const char *s, double *out)
{
    double v;
    const char *rest;
    if (!s || scenario_units_number(s, &v, &rest) < 0)
        return -EINVAL;
    if (*rest == '%') {
        if (!scenario_units_blank(rest + 1))
            return -EINVAL;
        v /= 100.0;
    } else if (*rest) {
        return -EINVAL;
    }
    if (v > 1)
        return -EINVAL;
    *out = v;
    return 0;
}

static int scenario_units_bandwidth(const char *s, double *bytes_per_second)
{
    static const scenario_units_unit bits[] = {
        {"bit/s", 1 / 8.0},     {"bps", 1 / 8.0},      {"kbit/s", 1e3 / 8},  {"kbps", 1e3 / 8},
        {"mbit/s", 1e6 / 8},    {"mbps", 1e6 / 8},     {"gbit/s", 1e9 / 8},  {"gbps", 1e9 / 8},
    };
    double v;
    const char *u;
    int rc = s ? scenario_units_number(s, &v, &u) : -EINVAL;
    if (rc < 0)
        return rc;
    if (*u == 0) {
        *bytes_per_second = v;
        return 0;
    }
    size_t n = scenario_units_len(u);
    const scenario_units_unit *bit = scenario_units_find(bits, sizeof(bits) / sizeof(bits[0]), u, n, true);
    if (bit) {
        *bytes_per_second = v * bit->base;
        return 0;
    }
    /* Bytes: a size followed by "/s". A lower-case "b" ("Mb/s") is read as bits by some and bytes by
     * others; demand "MB/s" or "Mbit/s". */
    if (n < 3 || u[n - 2] != '/' || u[n - 1] != 's' || n - 2 > 8 || u[n - 3] != 'B')
        return -EINVAL;
    char unit[16];
    int len = snprintf(unit, sizeof(unit), "1%.*s", (int)(n - 2), u);
    if (len < 0 || (size_t)len >= sizeof(unit))
        return -EINVAL;
    double mult;
    if (scenario_parse_size(unit, &mult) < 0)
        return -EINVAL;
    *bytes_per_second = v * mult;
    return 0;
}

int scenario_parse_bandwidth(const char *s, double *bytes_per_second)
{
    double v;
    int rc = scenario_units_bandwidth(s, &v);
    if (rc < 0)
        return rc;
    if (v > SCENARIO_MAX_BANDWIDTH)
        return -ERANGE;
    *bytes_per_second = v;
    return 0;
}
