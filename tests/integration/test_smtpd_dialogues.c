/*
 * The SMTP dialogue files (tests/dialogues/NAME.dlg) against a live testsmtpd over real TCP.
 *
 * The same files drive the engine in-process (its unit test); here they go through the whole server:
 * listeners, libevent buffering, pipelined bytes split by the kernel as it likes, STARTTLS with a real
 * OpenSSL handshake, closes seen as EOF. One server serves every file (tests/dialogues/receivers.yaml,
 * each receiver on 127.0.0.1 at an ephemeral port, found through the ready file); each file is its
 * own cmocka test, named after the file, and a failure names file:line. The server is stopped in the
 * group teardown, which cmocka runs whatever the tests did.
 *
 * File format (shared with the in-process runner):
 *   # comment                 %receiver NAME     (default "test"; before the first exchange)
 *   C: LINE                   the line plus CRLF
 *   C> BYTES                  raw bytes with \r \n \0 \t \\ \xHH escapes, nothing appended
 *   C* N LINE                 the line plus CRLF, N times
 *   S: PREFIX                 the next reply line starts with PREFIX
 *   S~ REGEX                  the next reply line matches the POSIX extended REGEX
 *   %starttls                 nothing more in plaintext; TLS handshake
 *   %close                    the server closes the connection now
 *   %sleep DURATION           wait (e.g. 1500ms, 2s)
 *   %quiet DURATION           wait; the server must send nothing meanwhile
 *   %message SIZE [SHA256]    the message last accepted (here: the event log's last "message" event)
 * At the end of a file every reply must have been read (tests/dialogues/README.md).
 */
#include <glob.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/integration/smtpd_live.h"

#define DLG_DIR TEMPFAIL_SOURCE_DIR "/tests/dialogues"

static smtpd_live_server server;

/* Decodes the escapes of a C> line into out; returns the length, or -1 (bad escape) with *bad set. */
static ssize_t dlg_unescape(const char *in, char *out, size_t cap, const char **bad)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (n + 1 >= cap)
            return -1;
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        *bad = p;
        switch (*++p) {
        case 'r': out[n++] = '\r'; break;
        case 'n': out[n++] = '\n'; break;
        case '0': out[n++] = '\0'; break;
        case 't': out[n++] = '\t'; break;
        case '\\': out[n++] = '\\'; break;
        case 'x': {
            char hex[3] = {p[1], p[1] ? p[2] : '\0', '\0'};
            char *end;
            long v = strtol(hex, &end, 16);
            if (hex[0] == '\0' || hex[1] == '\0' || *end != '\0')
                return -1;
            out[n++] = (char)v;
            p += 2;
            break;
        }
        default:
            return -1;
        }
    }
    return (ssize_t)n;
}

/* "1500ms", "2s", "250us", "1.5" (seconds) -> milliseconds; -1 if malformed. */
static int dlg_duration_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double scale = 1000;
    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "us") == 0)
        scale = 0.001;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        scale = 1000;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else
        return -1;
    return (int)(v * scale + 0.5);
}

/* One dialogue run; false with why ("file:line: ...") on the first mismatch. */
typedef struct dlg_run {
    const char *file; /* name for messages */
    unsigned line;
    char receiver[64];
    smtpd_live_conn conn;
    bool open;
    int messages_seen; /* "message" events in the log when last looked */
    char *why;
    size_t whylen;
} dlg_run;

static bool dlg_fail(dlg_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool dlg_fail(dlg_run *r, const char *fmt, ...)
{
    int k = snprintf(r->why, r->whylen, "%s:%u: ", r->file, r->line);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < r->whylen)
        vsnprintf(r->why + k, r->whylen - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

/* Connects on first use, to the receiver named by %receiver. */
static bool dlg_ensure_open(dlg_run *r)
{
    if (r->open)
        return true;
    const smtpd_live_listener *l = smtpd_live_find(&server, r->receiver);
    if (!l)
        return dlg_fail(r, "receiver '%s' has no listener (see receivers.yaml)", r->receiver);
    int e = smtpd_live_connect(&r->conn, NULL, l->addr, l->port);
    if (e < 0)
        return dlg_fail(r, "connect %s:%d: %s", l->addr, l->port, strerror(-e));
    r->open = true;
    return true;
}

static const char *dlg_errstr(ssize_t e)
{
    return e == -EPIPE ? "the server closed the connection" : e == -ETIMEDOUT ? "no reply in time" : strerror((int)-e);
}

/* Message events in the event log so far, and the last one's line. */
static int dlg_log_messages(char *last, size_t cap)
{
    FILE *f = fopen(server.log, "r");
    if (!f)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "\"event\": \"message\"")) {
            n++;
            snprintf(last, cap, "%s", line);
        }
    }
    fclose(f);
    return n;
}

/*
 * %message SIZE [SHA256]: the server logs each accepted message; the log is flushed after each
 * batch of input the server handled, so the event may land just after the 250 did: wait (bounded)
 * for a new one.
 */
static bool dlg_message(dlg_run *r, const char *arg)
{
    char *end;
    unsigned long long size = strtoull(arg, &end, 10);
    if (end == arg || (*end != ' ' && *end != '\0'))
        return dlg_fail(r, "expected '%%message SIZE [SHA256]'");
    const char *hash = *end == ' ' ? end + 1 : NULL;
    char last[8192] = "";
    int n = 0;
    int64_t deadline = smtpd_live_now_ms() + 3000;
    while ((n = dlg_log_messages(last, sizeof(last))) <= r->messages_seen && smtpd_live_now_ms() < deadline)
        smtpd_live_sleep_ms(10);
    if (n <= r->messages_seen)
        return dlg_fail(r, "no new message event in the event log");
    r->messages_seen = n;
    const char *p = strstr(last, "\"size\": ");
    if (!p || strtoull(p + 8, NULL, 10) != size)
        return dlg_fail(r, "message size: expected %llu, the log says: %s", size, last);
    if (hash) {
        char want[80];
        snprintf(want, sizeof(want), "\"sha256\": \"%s\"", hash);
        if (!strstr(last, want))
            return dlg_fail(r, "message sha256: expected %s, the log says: %s", hash, last);
    }
    return true;
}

static bool dlg_step(dlg_run *r, const char *l)
{
    char line[2048];
    ssize_t n;
    if (l[0] == '%') {
        if (strncmp(l, "%receiver ", 10) == 0) {
            if (r->open)
                return dlg_fail(r, "%%receiver after the exchange began");
            snprintf(r->receiver, sizeof(r->receiver), "%s", l + 10);
            return true;
        }
        if (strncmp(l, "%sleep ", 7) == 0) {
            int ms = dlg_duration_ms(l + 7);
            if (ms < 0)
                return dlg_fail(r, "bad duration '%s'", l + 7);
            smtpd_live_sleep_ms(ms);
            return true;
        }
        if (!dlg_ensure_open(r))
            return false;
        if (strncmp(l, "%quiet ", 7) == 0) {
            int ms = dlg_duration_ms(l + 7);
            if (ms < 0)
                return dlg_fail(r, "bad duration '%s'", l + 7);
            if (r->conn.len > 0)
                return dlg_fail(r, "the server sent '%.*s' where it must be quiet", (int)r->conn.len, r->conn.buf);
            ssize_t got = smtpd_live_fill(&r->conn, smtpd_live_now_ms() + ms);
            if (got != -ETIMEDOUT)
                return dlg_fail(r, "the server %s where it must be quiet for %d ms",
                                got > 0 ? "sent a reply" : "closed the connection", ms);
            return true;
        }
        if (strncmp(l, "%message ", 9) == 0)
            return dlg_message(r, l + 9);
        if (strcmp(l, "%starttls") == 0) {
            if (r->conn.len > 0)
                return dlg_fail(r, "the server sent more in plaintext after its 220: '%.*s'", (int)r->conn.len,
                                r->conn.buf);
            int e = smtpd_live_starttls(&r->conn);
            if (e < 0) {
                unsigned long ssl = ERR_get_error();
                char es[256] = "";
                if (ssl)
                    ERR_error_string_n(ssl, es, sizeof(es));
                return dlg_fail(r, "TLS handshake failed: %s %s", dlg_errstr(e), es);
            }
            return true;
        }
        if (strcmp(l, "%close") == 0) {
            if (r->conn.len > 0)
                return dlg_fail(r, "expected the close, the server sent '%.*s'", (int)r->conn.len, r->conn.buf);
            if (!smtpd_live_expect_eof(&r->conn, SMTPD_LIVE_REPLY_MS))
                return dlg_fail(r, "expected the close, the server %s",
                                r->conn.len ? "sent more" : "kept the connection open");
            return true;
        }
        return dlg_fail(r, "unknown directive '%s'", l);
    }
    if (strlen(l) < 2 || (l[0] != 'C' && l[0] != 'S'))
        return dlg_fail(r, "expected C:, C>, S:, S~, %% or #, got '%s'", l);
    if (!dlg_ensure_open(r))
        return false;
    /* "C:" alone sends an empty line; otherwise one space follows the marker. */
    const char *arg = l[2] == ' ' ? l + 3 : l + 2;
    if (l[2] != ' ' && l[2] != '\0')
        return dlg_fail(r, "expected a space after '%.2s'", l);
    if (strncmp(l, "C:", 2) == 0) {
        int e = smtpd_live_send_line(&r->conn, arg);
        return e < 0 ? dlg_fail(r, "send: %s", dlg_errstr(e)) : true;
    }
    if (strncmp(l, "C*", 2) == 0) {
        char *end;
        long times = strtol(arg, &end, 10);
        if (end == arg || *end != ' ' || times <= 0)
            return dlg_fail(r, "expected 'C* COUNT LINE'");
        /* Batches of lines per send: 10 MB in one piece would be a needless buffer. */
        size_t ll = strlen(end + 1);
        char *chunk = malloc(64 * (ll + 2));
        if (!chunk)
            return dlg_fail(r, "out of memory");
        for (int i = 0; i < 64; i++) {
            memcpy(chunk + (size_t)i * (ll + 2), end + 1, ll);
            memcpy(chunk + (size_t)i * (ll + 2) + ll, "\r\n", 2);
        }
        int e = 0;
        for (long done = 0; done < times && e == 0; done += 64) {
            long k = times - done < 64 ? times - done : 64;
            e = smtpd_live_send(&r->conn, chunk, (size_t)k * (ll + 2));
        }
        free(chunk);
        return e < 0 ? dlg_fail(r, "send: %s", dlg_errstr(e)) : true;
    }
    if (strncmp(l, "C>", 2) == 0) {
        char raw[4096];
        const char *bad = arg;
        n = dlg_unescape(arg, raw, sizeof(raw), &bad);
        if (n < 0)
            return dlg_fail(r, "bad escape at '%.8s'", bad);
        int e = smtpd_live_send(&r->conn, raw, (size_t)n);
        return e < 0 ? dlg_fail(r, "send: %s", dlg_errstr(e)) : true;
    }
    if (strncmp(l, "S:", 2) == 0 || strncmp(l, "S~", 2) == 0) {
        n = smtpd_live_read_line(&r->conn, line, sizeof(line), SMTPD_LIVE_REPLY_MS);
        if (n < 0)
            return dlg_fail(r, "expected '%s': %s", l, dlg_errstr(n));
        if (l[1] == ':') {
            if (strncmp(line, arg, strlen(arg)) != 0)
                return dlg_fail(r, "expected a line starting '%s', got '%s'", arg, line);
            return true;
        }
        regex_t re;
        int rc = regcomp(&re, arg, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char es[128];
            regerror(rc, &re, es, sizeof(es));
            return dlg_fail(r, "bad regex '%s': %s", arg, es);
        }
        rc = regexec(&re, line, 0, NULL, 0);
        regfree(&re);
        return rc == 0 ? true : dlg_fail(r, "expected a line matching /%s/, got '%s'", arg, line);
    }
    return dlg_fail(r, "unknown marker '%.2s'", l);
}

/* Runs one file; false with why on the first failure. */
static bool dlg_run_file(const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return false;
    }
    const char *slash = strrchr(path, '/');
    dlg_run r = {.file = slash ? slash + 1 : path, .why = why, .whylen = whylen};
    char last[8192];
    r.messages_seen = dlg_log_messages(last, sizeof(last));
    snprintf(r.receiver, sizeof(r.receiver), "test");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&buf, &cap, f)) >= 0) {
        r.line++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        if (len == 0 || buf[0] == '#')
            continue;
        ok = dlg_step(&r, buf);
    }
    free(buf);
    fclose(f);
    if (ok && !r.open) {
        snprintf(why, whylen, "%s: no exchange", r.file);
        ok = false;
    }
    /* Every reply must have been read: nothing left, nothing arriving just after. */
    if (ok && r.open && r.conn.fd >= 0) {
        ssize_t got = r.conn.len > 0 ? 1 : smtpd_live_fill(&r.conn, smtpd_live_now_ms() + 50);
        if (got > 0) {
            snprintf(why, whylen, "%s:%u: unread reply at the end: '%.*s'", r.file, r.line, (int)r.conn.len,
                     r.conn.buf);
            ok = false;
        }
    }
    if (r.open)
        smtpd_live_close(&r.conn);
    return ok;
}

static void test_dialogue(void **state)
{
    const char *path = *state;
    char why[4096];
    if (!dlg_run_file(path, why, sizeof(why)))
        fail_msg("%s", why);
}

/* The runner itself: a dialogue that must fail does, naming its line (a runner that passes
 * everything would make every file above pass). */
static void test_runner_catches_mismatch(void **state)
{
    (void)state;
    char path[300];
    assert_int_equal(smtpd_live_write_file(&server, "bad.dlg",
                                           "# a wrong greeting\n"
                                           "S: 554 \n",
                                           path, sizeof(path)),
                     0);
    char why[4096];
    assert_false(dlg_run_file(path, why, sizeof(why)));
    assert_non_null(strstr(why, "bad.dlg:2:"));
    assert_int_equal(smtpd_live_write_file(&server, "bad2.dlg", "S~ ^220 \nC: QUIT\nS: 221\nS: 250\n", path,
                                           sizeof(path)),
                     0);
    assert_false(dlg_run_file(path, why, sizeof(why)));
    assert_non_null(strstr(why, "bad2.dlg:4:"));
    assert_int_equal(smtpd_live_write_file(&server, "good.dlg", "S~ ^220 \nC: QUIT\nS: 221 \n%close\n", path,
                                           sizeof(path)),
                     0);
    if (!dlg_run_file(path, why, sizeof(why)))
        fail_msg("%s", why);
}

static void test_unescape(void **state)
{
    (void)state;
    char out[64];
    const char *bad = NULL;
    ssize_t n = dlg_unescape("A\\r\\n\\0\\t\\\\\\x41\\x7f", out, sizeof(out), &bad);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "A\r\n\0\t\\A\x7f", 8);
    assert_int_equal(dlg_unescape("\\q", out, sizeof(out), &bad), -1);
    assert_int_equal(dlg_unescape("\\x4", out, sizeof(out), &bad), -1);
    assert_int_equal(dlg_duration_ms("1500ms"), 1500);
    assert_int_equal(dlg_duration_ms("2s"), 2000);
    assert_int_equal(dlg_duration_ms("1.5"), 1500);
    assert_int_equal(dlg_duration_ms("x"), -1);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (smtpd_live_mkdir(&server) < 0) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    const char *args[] = {"--scenario", DLG_DIR "/receivers.yaml", NULL};
    char err[512];
    if (!smtpd_live_start(&server, args, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = smtpd_live_stop(&server);
    smtpd_live_rmdir(&server);
    if (rc != 0) {
        fprintf(stderr, "testsmtpd did not stop cleanly on SIGTERM (exit %d)\n", rc);
        return -1;
    }
    return 0;
}

int main(void)
{
    glob_t g;
    int rc = glob(DLG_DIR "/*.dlg", 0, NULL, &g);
    if (rc != 0 || g.gl_pathc == 0) {
        fprintf(stderr, "no dialogue files in %s\n", DLG_DIR);
        return 1;
    }
    size_t n = g.gl_pathc + 2;
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    if (!tests)
        return 1;
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_unescape);
    tests[1] = (struct CMUnitTest)cmocka_unit_test(test_runner_catches_mismatch);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *slash = strrchr(g.gl_pathv[i], '/');
        tests[i + 2] = (struct CMUnitTest){.name = slash ? slash + 1 : g.gl_pathv[i],
                                           .test_func = test_dialogue,
                                           .initial_state = g.gl_pathv[i]};
    }
    rc = _cmocka_run_group_tests("smtpd_dialogues", tests, n, group_setup, group_teardown);
    free(tests);
    globfree(&g);
    return rc;
}
