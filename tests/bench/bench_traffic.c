/*
 * bench_traffic - how fast the generator produces messages: ten million Poisson arrivals of one
 * class with a lognormal size, one recipient and three weighted domains (the default scenario's
 * shape). The simulator pulls every message through traffic_next(), so this bounds how fast a run
 * can inject mail. Usage: bench_traffic [messages]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/traffic.h"

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t want = 10000000;
    if (argc > 1) {
        char *end;
        want = strtoull(argv[1], &end, 10);
        if (*end || want == 0) {
            fprintf(stderr, "usage: %s [messages]\n", argv[0]);
            return 2;
        }
    }
    traffic_domain_weight domains[] = {{"gmail.test", 0.45}, {"orange.test", 0.10}, {"other.test", 0.45}};
    traffic_class_config c = {
        .name = "transactional",
        .arrivals = {.kind = TRAFFIC_POISSON, .rate = 1000},
        .size = sim_dist_lognormal_median_p99(4000, 40000),
        .recipients = sim_dist_constant(1),
        .domains = domains,
        .ndomains = 3,
    };
    traffic_config cfg = {&c, 1};

    double t0 = seconds_now();
    traffic *t = traffic_create(&cfg, 42, 0, SIM_TIME_NEVER);
    traffic_msg m;
    uint64_t n = 0, bytes = 0, per_domain[3] = {0};
    while (n < want && traffic_next(t, &m)) {
        bytes += m.size;
        per_domain[m.rcpt_domain[0]]++;
        n++;
    }
    double elapsed = seconds_now() - t0;
    printf("bench_traffic: %" PRIu64 " messages in %.3f s: %.2f M messages/s (%.1f ns each)\n", n, elapsed,
           (double)n / elapsed / 1e6, elapsed / (double)n * 1e9);
    printf("  last arrival %.1f s, mean size %.0f B, domains %.3f %.3f %.3f\n", sim_time_to_sec(m.arrival),
           (double)bytes / (double)n, (double)per_domain[0] / (double)n, (double)per_domain[1] / (double)n,
           (double)per_domain[2] / (double)n);
    traffic_free(t);
    return 0;
}
