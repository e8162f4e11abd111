/*
 * bench_smtpd_load - the load client of testsmtpd's memory and latency benchmarks (bench_smtpd.sh).
 *
 * smtp-source measures throughput well but holds few connections and reports no latency, so this
 * client does the other two measurements, single-threaded on epoll so the client itself is not what
 * limits them:
 *
 *   idle     opens N connections, reads each greeting and answers EHLO, then holds them all idle
 *            for HOLD seconds (the benchmark reads the server's resident memory meanwhile): the
 *            cost of a cached connection, which real receivers count against senders.
 *   latency  opens N connections that each run mail transactions (MAIL, RCPT, DATA, body) paced at
 *            one command per INTERVAL per session, random phase, for DURATION; every reply's latency
 *            (command sent -> last reply line read) goes into a histogram; prints p50, p99, p99.9.
 *
 * Connections come from source addresses 127.0.0.B, B = FIRST, FIRST+1, ..., PER connections each,
 * so a per-IP cap and the kernel's ephemeral ports both stay out of the way. Prints "ready" on its own
 * line once every connection is established (idle mode), and its figures as key=value lines.
 *
 * Usage: bench_smtpd_load idle|latency -a ADDR:PORT [-n CONNS] [-p PER_SOURCE] [-f FIRST_OCTET]
 *                         [-t HOLD_OR_DURATION_S] [-i INTERVAL_MS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    int step;          /* next command of the transaction cycle; -1 = waiting for the greeting */
    bool waiting;      /* a command is out, its reply not yet complete */
    int64_t sent_ns;   /* when the outstanding command was sent */
    int64_t next_ns;   /* latency mode: when to send the next command */
    char buf[1024];
    size_t len;
} conn;

/* Latency histogram: 1 us buckets up to 100 ms, then one overflow bucket. */
#define HIST_BUCKETS 100001
static uint64_t hist[HIST_BUCKETS + 1];
static uint64_t nsamples;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_smtpd_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double percentile(double p)
{
    uint64_t want = (uint64_t)(p * (double)nsamples);
    uint64_t seen = 0;
    for (size_t i = 0; i <= HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > want)
            return (double)i / 1000.0; /* ms */
    }
    return (double)HIST_BUCKETS / 1000.0;
}

static const char *const cycle[] = {"EHLO load.test\r\n", "MAIL FROM:<load@client.test>\r\n",
                                    "RCPT TO:<user@example.test>\r\n", "DATA\r\n",
                                    "Subject: bench\r\n\r\nhello\r\n.\r\n", "RSET\r\n"};
#define CYCLE_LEN (sizeof(cycle) / sizeof(cycle[0]))

static void send_cmd(conn *c, const char *cmd)
{
    size_t n = strlen(cmd);
    /* Timed from before the send: on loopback the server may answer before send() returns. */
    c->sent_ns = now_ns();
    ssize_t w = send(c->fd, cmd, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n) {
        fprintf(stderr, "bench_smtpd_load: short send (%zd of %zu)\n", w, n);
        exit(1);
    }
    c->waiting = true;
}

/* Reads what arrived; returns true when a complete reply (last line "DDD ") was consumed. */
static bool read_reply(conn *c, int *code)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
        if (r == 0) {
            fprintf(stderr, "bench_smtpd_load: the server closed a connection\n");
            exit(1);
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            die("recv");
        }
        c->len += (size_t)r;
    }
    bool done = false;
    char *start = c->buf;
    char *nl;
    while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf))) != NULL) {
        if (nl - start >= 4 && start[3] == ' ') {
            *code = (int)strtol(start, NULL, 10);
            done = true;
        }
        start = nl + 1;
    }
    size_t rest = c->len - (size_t)(start - c->buf);
    memmove(c->buf, start, rest);
    c->len = rest;
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_smtpd_load idle|latency -a ADDR:PORT [-n N] [-p PER] [-f FIRST] [-t S] [-i MS]\n");
        return 2;
    }
    bool idle = strcmp(argv[1], "idle") == 0;
    if (!idle && strcmp(argv[1], "latency") != 0) {
        fprintf(stderr, "bench_smtpd_load: mode is idle or latency\n");
        return 2;
    }
    const char *addr = "127.0.0.1:2525";
    long n = 1000, per = 200, first = 10, secs = 10, interval_ms = 100;
    for (int i = 2; i + 1 < argc; i += 2) {
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (strcmp(argv[i], "-a") == 0)
            addr = argv[i + 1];
        else if (*end != '\0' || v <= 0)
            return fprintf(stderr, "bench_smtpd_load: %s needs a positive number\n", argv[i]), 2;
        else if (strcmp(argv[i], "-n") == 0)
            n = v;
        else if (strcmp(argv[i], "-p") == 0)
            per = v;
        else if (strcmp(argv[i], "-f") == 0)
            first = v;
        else if (strcmp(argv[i], "-t") == 0)
            secs = v;
        else if (strcmp(argv[i], "-i") == 0)
            interval_ms = v;
        else
            return fprintf(stderr, "bench_smtpd_load: unknown option %s\n", argv[i]), 2;
    }
    if (first + (n + per - 1) / per > 254)
        return fprintf(stderr, "bench_smtpd_load: not enough 127.0.0.x sources for %ld connections\n", n), 2;
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return fprintf(stderr, "bench_smtpd_load: bad address %s\n", addr), 2;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10))};
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
        return fprintf(stderr, "bench_smtpd_load: bad address %s\n", addr), 2;

    struct rlimit rl = {.rlim_cur = (rlim_t)n + 64, .rlim_max = (rlim_t)n + 64};
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_cur < rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit(RLIMIT_NOFILE)");

    conn *conns = calloc((size_t)n, sizeof(*conns));
    int ep = epoll_create1(0);
    if (!conns || ep < 0)
        die("setup");
    srand(42);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0)
            die("socket");
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(first + i / per))};
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
            die("bind");
        if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
            die("connect");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->step = -1;
        c->waiting = true;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl");
    }

    /* Greetings, then EHLO on each: every session set up. */
    long ready = 0;
    struct epoll_event evs[512];
    int64_t setup_deadline = now_ns() + 120 * 1000000000LL;
    while (ready < n) {
        if (now_ns() > setup_deadline) {
            fprintf(stderr, "bench_smtpd_load: only %ld of %ld sessions set up in 120 s\n", ready, n);
            return 1;
        }
        int k = epoll_wait(ep, evs, 512, 1000);
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            int code;
            if (!read_reply(c, &code))
                continue;
            if (c->step == -1) {
                if (code != 220) {
                    fprintf(stderr, "bench_smtpd_load: greeting %d (a policy refused the connection?)\n", code);
                    return 1;
                }
                c->step = 0;
                send_cmd(c, cycle[0]);
            } else {
                c->waiting = false;
                c->step = 1;
                ready++;
                c->next_ns = now_ns() + (int64_t)(rand() % interval_ms) * 1000000;
            }
        }
    }
    double setup_s = (double)(now_ns() - t0) / 1e9;
    printf("connections=%ld setup_s=%.3f\n", n, setup_s);
    if (idle) {
        printf("ready\n");
        fflush(stdout);
        sleep((unsigned)secs);
        for (long i = 0; i < n; i++)
            close(conns[i].fd);
        return 0;
    }

    int64_t end = now_ns() + secs * 1000000000LL;
    int64_t interval = interval_ms * 1000000;
    uint64_t errors = 0;
    while (now_ns() < end) {
        int64_t t = now_ns();
        /* Due sessions send their next command (a linear scan: n is small against the work per reply). */
        int64_t soonest = t + interval;
        for (long i = 0; i < n; i++) {
            conn *c = &conns[i];
            if (c->waiting)
                continue;
            if (c->next_ns <= t)
                send_cmd(c, cycle[c->step]);
            else if (c->next_ns < soonest)
                soonest = c->next_ns;
        }
        int wait_ms = (int)((soonest - now_ns()) / 1000000);
        int k = epoll_wait(ep, evs, 512, wait_ms < 0 ? 0 : wait_ms);
        int64_t got = now_ns();
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            int code;
            if (!c->waiting || !read_reply(c, &code))
                continue;
            int64_t us = (got - c->sent_ns) / 1000;
            hist[us < HIST_BUCKETS ? us : HIST_BUCKETS]++;
            nsamples++;
            static const int expect[CYCLE_LEN] = {250, 250, 250, 354, 250, 250};
            if (code != expect[c->step])
                errors++;
            c->waiting = false;
            c->step = c->step + 1 < (int)CYCLE_LEN ? c->step + 1 : 1;
            c->next_ns = c->sent_ns + interval;
        }
    }
    printf("replies=%" PRIu64 " replies_per_s=%.0f unexpected=%" PRIu64 "\n", nsamples,
           (double)nsamples / (double)secs, errors);
    printf("latency_ms p50=%.3f p99=%.3f p99.9=%.3f\n", percentile(0.50), percentile(0.99), percentile(0.999));
    for (long i = 0; i < n; i++)
        close(conns[i].fd);
    free(conns);
    return errors ? 1 : 0;
}
