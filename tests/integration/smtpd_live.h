/*
 * smtpd_live - what the live-socket tests share: start a testsmtpd, talk SMTP to it over real TCP
 * (and TLS after STARTTLS), ask its HTTP endpoint, and always stop it.
 *
 * The tests run the real binary, not the library, because what they check is what an MTA sees: the
 * listeners, the ready file, the bytes on the wire, the closes. So the server runs in its own process
 * (fork/exec); it dies with the test process (PR_SET_PDEATHSIG) and smtpd_live_stop sends SIGTERM,
 * then SIGKILL after a bounded wait, so no test leaves one behind, whatever fails.
 *
 * Every wait is bounded: the ready file, each reply line, each EOF. Sockets are non-blocking and
 * waited on with poll, TLS included, so a server that stops answering fails a test instead of hanging
 * it. The functions are static (this header is included by each live test, one executable each).
 */
#ifndef SMTPD_LIVE_H
#define SMTPD_LIVE_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define SMTPD_LIVE_FN static __attribute__((unused))

#define SMTPD_LIVE_MAX_LISTENERS 32
#define SMTPD_LIVE_READY_MS 20000   /* the ready file; generous for sanitizer builds */
#define SMTPD_LIVE_REPLY_MS 10000   /* one reply line (tarpits in dialogues are shorter) */

typedef struct smtpd_live_listener {
    char receiver[128];
    char mxhost[128];
    char addr[64];
    int port;
} smtpd_live_listener;

/* One running testsmtpd and its work directory (ready file, event log, scenario). */
typedef struct smtpd_live_server {
    pid_t pid;
    char dir[256];
    char log[300];
    smtpd_live_listener smtp[SMTPD_LIVE_MAX_LISTENERS];
    size_t nsmtp;
    char http_addr[64];
    int http_port; /* 0 when not asked for */
    long long clock_origin; /* the ready file's clock line: CLOCK_MONOTONIC ns where the log starts */
    double clock_rate;      /* and how fast it runs (--clock-rate) */
    int exit_status; /* after stop: the wait status */
} smtpd_live_server;

/* A client connection; ssl is set after smtpd_live_starttls. */
typedef struct smtpd_live_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[16384];
    size_t len;
} smtpd_live_conn;

SMTPD_LIVE_FN int64_t smtpd_live_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SMTPD_LIVE_FN void smtpd_live_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A fresh temporary directory for one server; 0 or -errno. */
SMTPD_LIVE_FN int smtpd_live_mkdir(smtpd_live_server *srv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(srv->dir, sizeof(srv->dir), "%s/testsmtpd-live.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(srv->dir))
        return -errno;
    /* Started as root, testsmtpd drops to nobody after binding and must still read its scenario
     * on SIGHUP. */
    if (chmod(srv->dir, 0755) < 0)
        return -errno;
    snprintf(srv->log, sizeof(srv->log), "%s/events.log", srv->dir);
    return 0;
}

/* Writes text to a file in the server's directory; path receives its name. 0 or -errno. */
SMTPD_LIVE_FN int smtpd_live_write_file(const smtpd_live_server *srv, const char *name, const char *text,
                                        char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", srv->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* Removes the server's directory (flat: the tests write no subdirectories). TESTSMTPD_KEEP keeps it. */
SMTPD_LIVE_FN void smtpd_live_rmdir(smtpd_live_server *srv)
{
    if (!srv->dir[0] || getenv("TESTSMTPD_KEEP"))
        return;
    DIR *d = opendir(srv->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[600];
            snprintf(path, sizeof(path), "%s/%s", srv->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(srv->dir);
}

/* "ADDR:PORT" (ADDR may be [v6]) into its parts; false if malformed. */
SMTPD_LIVE_FN bool smtpd_live_split_addr(const char *s, char *addr, size_t addrlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    const char *a = s;
    size_t n = (size_t)(colon - s);
    if (*a == '[' && n >= 2 && a[n - 1] == ']') {
        a++;
        n -= 2;
    }
    if (n >= addrlen)
        return false;
    memcpy(addr, a, n);
    addr[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

/* Reads the ready file: "smtp RECEIVER MXHOST ADDR:PORT", "http ADDR:PORT" and "clock ORIGIN RATE"
 * lines. */
SMTPD_LIVE_FN bool smtpd_live_parse_ready(smtpd_live_server *srv, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool ok = true;
    srv->nsmtp = 0;
    while (fgets(line, sizeof(line), f)) {
        char kind[16], a[128], b[128], c[128];
        int n = sscanf(line, "%15s %127s %127s %127s", kind, a, b, c);
        if (n == 4 && strcmp(kind, "smtp") == 0 && srv->nsmtp < SMTPD_LIVE_MAX_LISTENERS) {
            smtpd_live_listener *l = &srv->smtp[srv->nsmtp];
            snprintf(l->receiver, sizeof(l->receiver), "%s", a);
            snprintf(l->mxhost, sizeof(l->mxhost), "%s", b);
            if (smtpd_live_split_addr(c, l->addr, sizeof(l->addr), &l->port))
                srv->nsmtp++;
            else
                ok = false;
        } else if (n == 2 && strcmp(kind, "http") == 0) {
            ok = ok && smtpd_live_split_addr(a, srv->http_addr, sizeof(srv->http_addr), &srv->http_port);
        } else if (n == 3 && strcmp(kind, "clock") == 0) {
            char *e1, *e2;
            srv->clock_origin = strtoll(a, &e1, 10);
            srv->clock_rate = strtod(b, &e2);
            ok = ok && *e1 == '\0' && *e2 == '\0' && srv->clock_rate >= 1;
        } else if (n > 0) {
            ok = false;
        }
    }
    fclose(f);
    return ok && srv->nsmtp > 0;
}

/*
 * Starts TESTSMTPD_BIN with `--ready-file DIR/ready --log DIR/events.log` and the given arguments
 * (NULL-terminated), and waits (bounded) for the ready file. On failure writes why into err and
 * returns false; the server, if it started, is stopped.
 */
SMTPD_LIVE_FN bool smtpd_live_start(smtpd_live_server *srv, const char *const *args, char *err, size_t errlen);
SMTPD_LIVE_FN int smtpd_live_stop(smtpd_live_server *srv);

SMTPD_LIVE_FN bool smtpd_live_start(smtpd_live_server *srv, const char *const *args, char *err, size_t errlen)
{
    char ready[300];
    snprintf(ready, sizeof(ready), "%s/ready", srv->dir);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = TESTSMTPD_BIN;
    argv[n++] = "--ready-file";
    argv[n++] = ready;
    argv[n++] = "--log";
    argv[n++] = srv->log;
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        /* The server must not outlive a test that crashed or was killed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    srv->pid = pid;
    int64_t deadline = smtpd_live_now_ms() + SMTPD_LIVE_READY_MS;
    while (smtpd_live_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            srv->pid = 0;
            srv->exit_status = status;
            snprintf(err, errlen, "%s exited before it was ready (status %d)", TESTSMTPD_BIN,
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            return false;
        }
        if (access(ready, R_OK) == 0) {
            if (smtpd_live_parse_ready(srv, ready))
                return true;
            snprintf(err, errlen, "%s: malformed ready file", ready);
            smtpd_live_stop(srv);
            return false;
        }
        smtpd_live_sleep_ms(20);
    }
    snprintf(err, errlen, "%s: no ready file after %d ms", TESTSMTPD_BIN, SMTPD_LIVE_READY_MS);
    smtpd_live_stop(srv);
    return false;
}

/*
 * SIGTERM, up to 5 s for a clean exit, then SIGKILL. Returns the exit code (0 = clean), 128+signal
 * when it had to be killed or died of a signal, -1 when no server was running.
 */
SMTPD_LIVE_FN int smtpd_live_stop(smtpd_live_server *srv)
{
    if (srv->pid <= 0)
        return -1;
    int status = 0;
    kill(srv->pid, SIGTERM);
    int64_t deadline = smtpd_live_now_ms() + 5000;
    pid_t r;
    while ((r = waitpid(srv->pid, &status, WNOHANG)) == 0 && smtpd_live_now_ms() < deadline)
        smtpd_live_sleep_ms(10);
    if (r == 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, &status, 0);
        status = (128 + SIGKILL) << 8; /* report it as a failure to stop */
    }
    srv->pid = 0;
    srv->exit_status = status;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

SMTPD_LIVE_FN const smtpd_live_listener *smtpd_live_find(const smtpd_live_server *srv, const char *receiver)
{
    for (size_t i = 0; i < srv->nsmtp; i++)
        if (strcmp(srv->smtp[i].receiver, receiver) == 0)
            return &srv->smtp[i];
    return NULL;
}

/* ---- client connections ---- */

SMTPD_LIVE_FN int smtpd_live_wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - smtpd_live_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/*
 * Connects to addr:port from src_ip (NULL = any): binding the source lets a test appear as another
 * sender, as 127.0.0.0/8 is all local. 0 or -errno.
 */
SMTPD_LIVE_FN int smtpd_live_connect(smtpd_live_conn *c, const char *src_ip, const char *addr, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (src_ip) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            int e = errno ? errno : EINVAL;
            close(fd);
            return -e;
        }
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

SMTPD_LIVE_FN void smtpd_live_close(smtpd_live_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->ctx) {
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Waits for what an SSL call wants; 0 to retry, negative to give up. */
SMTPD_LIVE_FN int smtpd_live_ssl_wait(smtpd_live_conn *c, int r, int64_t deadline)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return smtpd_live_wait_fd(c->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return smtpd_live_wait_fd(c->fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN:
        return -EPIPE;
    default:
        return -EIO;
    }
}

/* Sends all bytes; 0 or -errno. */
SMTPD_LIVE_FN int smtpd_live_send(smtpd_live_conn *c, const void *data, size_t len)
{
    const char *p = data;
    int64_t deadline = smtpd_live_now_ms() + SMTPD_LIVE_REPLY_MS;
    while (len > 0) {
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
            if (r > 0) {
                p += r, len -= (size_t)r;
                continue;
            }
            int w = smtpd_live_ssl_wait(c, r, deadline);
            if (w < 0)
                return w;
            continue;
        }
        ssize_t r = send(c->fd, p, len, MSG_NOSIGNAL);
        if (r > 0) {
            p += r, len -= (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = smtpd_live_wait_fd(c->fd, POLLOUT, deadline);
            if (w < 0)
                return w;
        } else if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

SMTPD_LIVE_FN int smtpd_live_send_line(smtpd_live_conn *c, const char *line)
{
    int r = smtpd_live_send(c, line, strlen(line));
    return r < 0 ? r : smtpd_live_send(c, "\r\n", 2);
}

/* Reads more into the buffer: >0 bytes, 0 at EOF, -ETIMEDOUT, -errno. */
SMTPD_LIVE_FN ssize_t smtpd_live_fill(smtpd_live_conn *c, int64_t deadline)
{
    if (c->len == sizeof(c->buf))
        return -ENOBUFS;
    for (;;) {
        if (c->ssl) {
            int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
            if (r > 0) {
                c->len += (size_t)r;
                return r;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
                return 0; /* close_notify, or a plain TCP close under TLS */
            if (e == SSL_ERROR_SSL) {
                ERR_clear_error();
                return 0; /* e.g. "unexpected eof while reading": the server closed */
            }
            int w = smtpd_live_ssl_wait(c, r, deadline);
            if (w < 0)
                return w;
            continue;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            return r;
        }
        if (r == 0)
            return 0;
        if (errno == ECONNRESET)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = smtpd_live_wait_fd(c->fd, POLLIN, deadline);
            if (w < 0)
                return w;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

/*
 * The next line without its CRLF (or bare LF) into line: its length, -EPIPE at EOF, -ETIMEDOUT after
 * timeout_ms, -errno. A line longer than cap is cut.
 */
SMTPD_LIVE_FN ssize_t smtpd_live_read_line(smtpd_live_conn *c, char *line, size_t cap, int timeout_ms)
{
    int64_t deadline = smtpd_live_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            size_t used = n + 1;
            if (n > 0 && c->buf[n - 1] == '\r')
                n--;
            size_t k = n < cap - 1 ? n : cap - 1;
            memcpy(line, c->buf, k);
            line[k] = '\0';
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return (ssize_t)k;
        }
        ssize_t r = smtpd_live_fill(c, deadline);
        if (r == 0)
            return -EPIPE;
        if (r < 0)
            return r;
    }
}

/*
 * A whole reply (multi-line joined with '\n') into text; returns its code, or a negative value as
 * smtpd_live_read_line.
 */
SMTPD_LIVE_FN int smtpd_live_read_reply(smtpd_live_conn *c, char *text, size_t cap)
{
    size_t used = 0;
    text[0] = '\0';
    for (;;) {
        char line[1024];
        ssize_t n = smtpd_live_read_line(c, line, sizeof(line), SMTPD_LIVE_REPLY_MS);
        if (n < 0)
            return (int)n;
        if (used > 0 && used + 1 < cap)
            text[used++] = '\n';
        size_t k = (size_t)n < cap - used - 1 ? (size_t)n : cap - used - 1;
        memcpy(text + used, line, k);
        used += k;
        text[used] = '\0';
        if (n < 4 || line[3] != '-')
            return n >= 3 ? (int)strtol(line, NULL, 10) : -EPROTO;
    }
}

/* Sends a command and reads its reply; the code or negative. */
SMTPD_LIVE_FN int smtpd_live_cmd(smtpd_live_conn *c, const char *line, char *text, size_t cap)
{
    int r = smtpd_live_send_line(c, line);
    return r < 0 ? r : smtpd_live_read_reply(c, text, cap);
}

/*
 * True when the server closes the connection within timeout_ms with nothing more to read. Unread
 * bytes are a failure: the caller expected the close now.
 */
SMTPD_LIVE_FN bool smtpd_live_expect_eof(smtpd_live_conn *c, int timeout_ms)
{
    if (c->len > 0)
        return false;
    int64_t deadline = smtpd_live_now_ms() + timeout_ms;
    ssize_t r = smtpd_live_fill(c, deadline);
    return r == 0;
}

/* The TLS handshake after a 220 to STARTTLS; 0 or negative. The server's certificate is not checked. */
SMTPD_LIVE_FN int smtpd_live_starttls(smtpd_live_conn *c)
{
    if (c->len > 0)
        return -EPROTO; /* the server must send nothing more in plaintext */
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return -ENOMEM;
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl)
        return -ENOMEM;
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "mx.test");
    int64_t deadline = smtpd_live_now_ms() + SMTPD_LIVE_REPLY_MS;
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int w = smtpd_live_ssl_wait(c, r, deadline);
        if (w < 0)
            return w;
    }
}

/*
 * A client that completes one transaction (EHLO, MAIL, RCPT, DATA, a short body) from src_ip;
 * returns the first reply that was not the expected one's code in bad (and -1), or 0 with the
 * connection left open and idle. The greeting must be 220.
 */
SMTPD_LIVE_FN int smtpd_live_transaction(smtpd_live_conn *c, const char *rcpt, char *bad, size_t cap)
{
    char cmd[300];
    static const struct {
        const char *cmd;
        int code;
    } steps[] = {{"EHLO client.test", 250}, {"MAIL FROM:<sender@client.test>", 250}, {NULL, 250},
                 {"DATA", 354}, {"Subject: live test\r\n\r\nhello\r\n.", 250}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i].cmd)
            snprintf(cmd, sizeof(cmd), "%s", steps[i].cmd);
        else
            snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", rcpt);
        int code = smtpd_live_cmd(c, cmd, bad, cap);
        if (code != steps[i].code)
            return -1;
    }
    return 0;
}

/* ---- HTTP (control and metrics) ---- */

/*
 * One HTTP/1.0 request to the server's endpoint; the status code (or negative), the body in body.
 */
SMTPD_LIVE_FN int smtpd_live_http(const smtpd_live_server *srv, const char *method, const char *path,
                                  const char *req_body, char *body, size_t cap)
{
    smtpd_live_conn c;
    body[0] = '\0';
    int r = smtpd_live_connect(&c, NULL, srv->http_addr, srv->http_port);
    if (r < 0)
        return r;
    char head[1024];
    size_t blen = req_body ? strlen(req_body) : 0;
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.0\r\nHost: %s:%d\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             method, path, srv->http_addr, srv->http_port, blen);
    if ((r = smtpd_live_send(&c, head, strlen(head))) < 0 || (blen && (r = smtpd_live_send(&c, req_body, blen)) < 0)) {
        smtpd_live_close(&c);
        return r;
    }
    /* Read to EOF; the response is small. */
    static char resp[1 << 17];
    size_t n = 0;
    int64_t deadline = smtpd_live_now_ms() + SMTPD_LIVE_REPLY_MS;
    for (;;) {
        ssize_t k = smtpd_live_fill(&c, deadline);
        if (k < 0 && k != -ENOBUFS) {
            smtpd_live_close(&c);
            return (int)k;
        }
        size_t take = c.len < sizeof(resp) - 1 - n ? c.len : sizeof(resp) - 1 - n;
        memcpy(resp + n, c.buf, take);
        n += take;
        c.len = 0;
        if (k == 0 || k == -ENOBUFS || n == sizeof(resp) - 1)
            break;
    }
    smtpd_live_close(&c);
    resp[n] = '\0';
    int status = 0;
    if (sscanf(resp, "HTTP/%*d.%*d %d", &status) != 1)
        return -EPROTO;
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, cap, "%s", b ? b + 4 : "");
    return status;
}

/*
 * The value of one Prometheus sample, e.g. `testsmtpd_connections_total{receiver="r"}`; -1 when the
 * text has no such line.
 */
SMTPD_LIVE_FN double smtpd_live_metric(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, sample, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* Counts the event-log lines that contain every one of the given fragments (NULL-terminated). */
SMTPD_LIVE_FN int smtpd_live_count_events(const smtpd_live_server *srv, const char *const *frags)
{
    FILE *f = fopen(srv->log, "r");
    if (!f)
        return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        bool all = true;
        for (size_t i = 0; frags[i] && all; i++)
            all = strstr(line, frags[i]) != NULL;
        n += all;
    }
    fclose(f);
    return n;
}

#endif
