/*
 * bench_inject - how fast the replay's injector (harness/harness_inject.c) puts messages into an
 * MTA's smtpd: MESSAGES messages of SIZE bytes, one recipient each, over CONNS connections, all
 * submitted at once and sent as fast as the server takes them.
 *
 * Prints the rate, and the injector's own CPU time per message (the injector must never be what
 * limits a replay). Exits 1 if any message was not accepted, 2 on a bad command line, 3 when the
 * server does not answer. tests/bench/bench_inject.sh runs it against a private Postfix, side by
 * side with Postfix's own smtp-source.
 *
 * Usage: bench_inject ADDR:PORT MESSAGES CONNS SIZE
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness/harness_inject.h"

typedef struct bench {
    uint64_t ok, failed;
    char first_failure[512];
} bench;

static void on_done(void *ctx, const harness_inject_result *r)
{
    bench *b = ctx;
    if (r->ok) {
        b->ok++;
    } else {
        if (b->failed++ == 0)
            snprintf(b->first_failure, sizeof(b->first_failure), "%s", r->reply);
    }
}

static long arg(const char *s, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "bench_inject: %s: expected %ld..%ld, got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_inject ADDR:PORT MESSAGES CONNS SIZE\n");
        return 2;
    }
    long n = arg(argv[2], "MESSAGES", 1, 100000000);
    long conns = arg(argv[3], "CONNS", 1, 1000);
    long size = arg(argv[4], "SIZE", 0, 100000000);
    bench b = {0};
    const char *targets[] = {argv[1]};
    harness_inject_opts o = {.targets = targets, .ntargets = 1, .conns = (unsigned)conns, .done = on_done, .ctx = &b};
    char err[512];
    harness_inject *inj = harness_inject_create(&o, err, sizeof(err));
    if (!inj) {
        fprintf(stderr, "bench_inject: %s\n", err);
        return 2;
    }
    const char *rcpt[] = {"user@example.test"};
    double cpu0 = cpu_seconds();
    int64_t t0 = harness_inject_now();
    for (long i = 0; i < n; i++) {
        harness_inject_msg m = {.id = (uint64_t)i, .sender = "bench@client.test", .rcpt = rcpt, .nrcpt = 1,
                                .size = (uint32_t)size};
        if (harness_inject_submit(inj, &m) != 0) {
            fprintf(stderr, "bench_inject: submit failed\n");
            return 2;
        }
    }
    int rc = harness_inject_run(inj, -1, err, sizeof(err));
    int64_t t1 = harness_inject_now();
    double cpu = cpu_seconds() - cpu0;
    harness_inject_stats st;
    harness_inject_get_stats(inj, &st);
    harness_inject_free(inj);
    if (rc != 0) {
        fprintf(stderr, "bench_inject: %s\n", err);
        return 3;
    }
    double secs = (double)(t1 - t0) / 1e9;
    printf("bench_inject: %ld messages of %ld bytes over %ld connections in %.3f s: %.0f msg/s, "
           "%.1f us CPU/msg, %llu connections opened, %llu failed\n",
           n, size, conns, secs, (double)n / secs, cpu * 1e6 / (double)n, (unsigned long long)st.connects,
           (unsigned long long)b.failed);
    if (b.failed > 0) {
        fprintf(stderr, "bench_inject: %llu of %ld messages not accepted; the first: %s\n",
                (unsigned long long)b.failed, n, b.first_failure);
        return 1;
    }
    return 0;
}
