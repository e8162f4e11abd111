/*
 * sim_time - simulated time.
 *
 * Time is an integer count of microseconds since the start of the run. Integers, not doubles, so that
 * two events scheduled "at the same time" really compare equal and a run is reproducible bit for bit
 * on any machine. int64_t microseconds cover 292,000 years, far beyond maximal_queue_lifetime.
 */
#ifndef SIM_TIME_H
#define SIM_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t sim_time_t;

#define SIM_USEC ((sim_time_t)1)
#define SIM_MSEC ((sim_time_t)1000)
#define SIM_SEC ((sim_time_t)1000000)
#define SIM_MIN (60 * SIM_SEC)
#define SIM_HOUR (60 * SIM_MIN)
#define SIM_DAY (24 * SIM_HOUR)
#define SIM_TIME_NEVER INT64_MAX

static inline double sim_time_to_sec(sim_time_t t) { return (double)t / (double)SIM_SEC; }

/* Rounds to the nearest microsecond; negative and non-finite inputs are the caller's bug. */
static inline sim_time_t sim_time_from_sec(double s) { return (sim_time_t)(s * (double)SIM_SEC + 0.5); }

/*
 * Formats t for people: "1d02h03m04s", "5m", "300ms", "0s". Returns the length written (like
 * snprintf). Used by the progress line, the human summary and error messages.
 */
int sim_time_format(char *buf, size_t len, sim_time_t t);

#endif
