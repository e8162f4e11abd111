/*
 * harness_inject's pieces: the reply reader (multi-line replies, PIPELINING among EHLO's lines,
 * malformed lines), the queue id of Postfix's end-of-DATA reply, the message a replay sends
 * (headers, size, no line starting with '.', short lines), the checks of create and submit, and
 * the lock-step dialogue with a server that does not offer PIPELINING.
 *
 * That last one needs a server that testsmtpd is not (it always offers PIPELINING): a small
 * scripted one, forked, on a loopback port, that refuses a command arriving before the reply to
 * the previous one, so an injector that pipelines without leave fails here. The same server, with
 * PIPELINING, takes messages of thousands of recipients in one transaction (testsmtpd takes 1000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/harness_inject.h"

/* ---- replies ---- */

static int feed(harness_inject_reply *r, const char *line)
{
    return harness_inject_reply_line(r, line, strlen(line));
}

static void test_reply_multiline(void **state)
{
    (void)state;
    harness_inject_reply r;
    harness_inject_reply_reset(&r);
    assert_int_equal(feed(&r, "250-mx.example.test"), 0);
    assert_int_equal(feed(&r, "250-SIZE 10240000"), 0);
    assert_false(r.pipelining);
    assert_int_equal(feed(&r, "250-PIPELINING"), 0);
    assert_int_equal(feed(&r, "250 8BITMIME"), 1);
    assert_int_equal(r.code, 250);
    assert_int_equal(r.lines, 4);
    assert_true(r.pipelining);
    assert_string_equal(r.text, "250-mx.example.test 250-SIZE 10240000 250-PIPELINING 250 8BITMIME");

    harness_inject_reply_reset(&r);
    assert_int_equal(feed(&r, "250 PIPELINING"), 1); /* a last line counts too */
    assert_true(r.pipelining);
    harness_inject_reply_reset(&r);
    assert_int_equal(feed(&r, "250-XPIPELINING"), 0);
    assert_int_equal(feed(&r, "250 PIPELININGX"), 1);
    assert_false(r.pipelining);

    /* A bare code is a whole reply. */
    harness_inject_reply_reset(&r);
    assert_int_equal(feed(&r, "354"), 1);
    assert_int_equal(r.code, 354);
}

static void test_reply_malformed(void **state)
{
    (void)state;
    harness_inject_reply r;
    const char *bad[] = {"", "25", "hello", "2x0 ok", "250_ok", "650 no such class", "099 low"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        harness_inject_reply_reset(&r);
        if (feed(&r, bad[i]) != -EPROTO)
            fail_msg("'%s' taken for a reply line", bad[i]);
    }
    /* The code changes within a reply. */
    harness_inject_reply_reset(&r);
    assert_int_equal(feed(&r, "250-one"), 0);
    assert_int_equal(feed(&r, "251 two"), -EPROTO);
    /* Too many lines. */
    harness_inject_reply_reset(&r);
    for (int i = 0; i < HARNESS_INJECT_REPLY_MAX_LINES; i++)
        assert_int_equal(feed(&r, "250-again"), 0);
    assert_int_equal(feed(&r, "250 last"), -EPROTO);
}

static void test_reply_printable_and_bounded(void **state)
{
    (void)state;
    harness_inject_reply r;
    harness_inject_reply_reset(&r);
    assert_int_equal(harness_inject_reply_line(&r, "550 bad\x01\x7f\xe9 text", 15), 1);
    assert_string_equal(r.text, "550 bad??? text");
    char line[2000];
    memset(line, 'x', sizeof(line));
    memcpy(line, "451 ", 4);
    harness_inject_reply_reset(&r);
    assert_int_equal(harness_inject_reply_line(&r, line, sizeof(line)), 1);
    assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
    assert_int_equal(r.code, 451);
}

static void test_queue_id(void **state)
{
    (void)state;
    char q[32];
    assert_true(harness_inject_queue_id("250 2.0.0 Ok: queued as 3F2A1B00C4", q, sizeof(q)));
    assert_string_equal(q, "3F2A1B00C4");
    /* Postfix's long queue ids (enable_long_queue_ids = yes). */
    assert_true(harness_inject_queue_id("250 2.0.0 Ok: queued as 4ZDt0q1Lbgz9v1q", q, sizeof(q)));
    assert_string_equal(q, "4ZDt0q1Lbgz9v1q");
    /* Something after the id. */
    assert_true(harness_inject_queue_id("250 2.0.0 Ok: queued as ABC123 (via smtpd)", q, sizeof(q)));
    assert_string_equal(q, "ABC123");
    assert_false(harness_inject_queue_id("250 2.0.0 Ok", q, sizeof(q)));
    assert_string_equal(q, "");
    assert_false(harness_inject_queue_id("250 2.0.0 Ok: queued as ", q, sizeof(q)));
    assert_string_equal(q, "");
    char small[5];
    assert_true(harness_inject_queue_id("250 2.0.0 Ok: queued as 3F2A1B00C4", small, sizeof(small)));
    assert_string_equal(small, "3F2A");
}

/* ---- the message ---- */

static void check_message(const char *text, size_t len, uint64_t id, uint32_t size)
{
    char want[128];
    assert_true(len >= 5);
    assert_memory_equal(text + len - 5, "\r\n.\r\n", 5);
    size_t content = len - 3;
    /* Lines: CRLF-terminated, at most 78 characters, none starting with '.'; the headers first. */
    bool in_body = false;
    bool from = false, to = false, subject = false, date = false, msgid = false, xid = false;
    size_t hdr_bytes = 0;
    for (size_t pos = 0; pos < content;) {
        const char *nl = memchr(text + pos, '\n', content - pos);
        assert_non_null(nl);
        size_t n = (size_t)(nl - (text + pos)) + 1;
        assert_true(n >= 2 && text[pos + n - 2] == '\r');
        const char *l = text + pos;
        size_t chars = n - 2;
        assert_true(memchr(l, '\r', chars) == NULL);
        if (chars > 0 && l[0] == '.')
            fail_msg("line at %zu starts with '.'", pos);
        if (in_body) {
            assert_true(chars <= 78);
            for (size_t i = 0; i < chars; i++)
                assert_true(l[i] >= 0x20 && l[i] < 0x7f);
        } else if (chars == 0) {
            in_body = true;
            hdr_bytes = pos + n;
        } else {
            from |= strncmp(l, "From: <sender@client.test>\r", chars + 1) == 0;
            to |= strncmp(l, "To: <first@example.test>\r", chars + 1) == 0;
            subject |= strncmp(l, "Subject: ", 9) == 0;
            date |= strncmp(l, "Date: ", 6) == 0;
            snprintf(want, sizeof(want), "Message-ID: <%llu.tempfail@tempfail-inject.test>\r", (unsigned long long)id);
            msgid |= strncmp(l, want, chars + 1) == 0;
            snprintf(want, sizeof(want), "X-Tempfail-Id: %llu\r", (unsigned long long)id);
            xid |= strncmp(l, want, chars + 1) == 0;
        }
        pos += n;
    }
    assert_true(in_body);
    assert_true(from && to && subject && date && msgid && xid);
    /* The size asked for, but when the headers alone are longer, or a remainder of 1 byte. */
    if (size <= hdr_bytes)
        assert_int_equal(content, hdr_bytes);
    else if (size - hdr_bytes == 1)
        assert_int_equal(content, size + 1);
    else
        assert_int_equal(content, size);
}

static void test_message_build(void **state)
{
    (void)state;
    const char *rcpt[] = {"first@example.test", "second@example.test"};
    harness_inject_msg m = {.id = 0, .sender = "sender@client.test", .rcpt = rcpt, .nrcpt = 2};
    harness_inject_buf b = {0};
    uint32_t sizes[] = {0, 10, 200, 1000, 1024, 4096, 65536, 100000, 1u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        m.id = 1000 + i;
        m.size = sizes[i];
        b.len = 0;
        assert_int_equal(harness_inject_message(&b, &m), 0);
        check_message(b.data, b.len, m.id, m.size);
    }
    /* Every remainder a last line can have. */
    for (uint32_t s = 250; s < 500; s++) {
        m.id = 42;
        m.size = s;
        b.len = 0;
        assert_int_equal(harness_inject_message(&b, &m), 0);
        check_message(b.data, b.len, m.id, m.size);
    }
    /* Appends: a second message follows the first. */
    b.len = 0;
    m.size = 1000;
    harness_inject_message(&b, &m);
    size_t one = b.len;
    harness_inject_message(&b, &m);
    assert_int_equal(b.len, 2 * one);
    assert_memory_equal(b.data, b.data + one, one);
    harness_inject_buf_free(&b);
}

/* ---- create and submit ---- */

static void test_create_and_submit_checks(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"localhost:25", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:25", "127.0.0.1:25x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *t[] = {bad[i]};
        harness_inject_opts o = {.targets = t, .ntargets = 1};
        err[0] = '\0';
        assert_null(harness_inject_create(&o, err, sizeof(err)));
        assert_non_null(strstr(err, bad[i]));
    }
    harness_inject_opts none = {.ntargets = 0};
    assert_null(harness_inject_create(&none, err, sizeof(err)));

    const char *t[] = {"127.0.0.1:25", "127.0.0.2:2525"};
    harness_inject_opts o = {.targets = t, .ntargets = 2};
    harness_inject *inj = harness_inject_create(&o, err, sizeof(err));
    assert_non_null(inj);
    const char *rcpt[] = {"a@example.test", "b\r\nRSET@example.test"};
    harness_inject_msg m = {.id = 1, .target = 2, .sender = "s@client.test", .rcpt = rcpt, .nrcpt = 1, .size = 100};
    assert_int_equal(harness_inject_submit(inj, &m), -EINVAL); /* no such target */
    m.target = 1;
    m.nrcpt = 0;
    assert_int_equal(harness_inject_submit(inj, &m), -EINVAL);
    m.nrcpt = 2;
    assert_int_equal(harness_inject_submit(inj, &m), -EINVAL); /* CR LF in an address */
    m.nrcpt = 1;
    m.sender = NULL;
    assert_int_equal(harness_inject_submit(inj, &m), -EINVAL);
    m.sender = "";
    assert_int_equal(harness_inject_submit(inj, &m), 0); /* the null sender */
    assert_int_equal(harness_inject_pending(inj), 1);
    harness_inject_free(inj);
    harness_inject_free(NULL);
}

/* ---- lock-step, against a scripted server without PIPELINING ---- */

typedef struct line_reader {
    int fd;
    char buf[1 << 16];
    size_t len;
} line_reader;

/* The next line (with its CRLF) into line; its length, or 0 at EOF. */
static size_t rd_line(line_reader *r, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl) {
            size_t n = (size_t)(nl - r->buf) + 1;
            size_t k = n < cap - 1 ? n : cap - 1;
            memcpy(line, r->buf, k);
            line[k] = '\0';
            memmove(r->buf, r->buf + n, r->len - n);
            r->len -= n;
            return k;
        }
        if (r->len == sizeof(r->buf))
            return 0;
        ssize_t got = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
        if (got <= 0)
            return 0;
        r->len += (size_t)got;
    }
}

static void say(int fd, const char *s)
{
    size_t n = strlen(s);
    if (send(fd, s, n, MSG_NOSIGNAL) != (ssize_t)n)
        _exit(3);
}

/*
 * One session at a time. Without `pipelining`, PIPELINING is not offered and a command that arrives
 * before the reply to the one before is refused with 554 and the session closed; with it, it is
 * offered and commands may come in a stream. A recipient "bad@..." is refused with 550; the
 * end-of-DATA reply's queue id is "Q" and the content's size in bytes, then "R" and the number of
 * recipients the transaction was given.
 */
static void fake_server(int ls, bool pipelining)
{
    static line_reader r;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            _exit(0);
        r.fd = fd;
        r.len = 0;
        say(fd, "220 fake.test ESMTP\r\n");
        char line[2048], reply[256];
        bool mail = false;
        int rcpts = 0;
        for (;;) {
            size_t n = rd_line(&r, line, sizeof(line));
            if (n == 0)
                break;
            if (r.len > 0 && !pipelining) {
                say(fd, "554 5.5.0 pipelining was not offered\r\n");
                break;
            }
            if (strncasecmp(line, "EHLO ", 5) == 0) {
                say(fd, pipelining ? "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                                   : "250-fake.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n");
            } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
                say(fd, mail ? "503 5.5.1 Error: nested MAIL command\r\n" : "250 2.1.0 Ok\r\n");
                mail = true;
                rcpts = 0;
            } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
                if (strncmp(line + 8, "<bad@", 5) == 0) {
                    say(fd, "550 5.1.1 <bad@example.test>: Recipient address rejected: User unknown\r\n");
                } else {
                    rcpts++;
                    say(fd, "250 2.1.5 Ok\r\n");
                }
            } else if (strncasecmp(line, "DATA", 4) == 0) {
                if (!mail || rcpts == 0) {
                    say(fd, "554 5.5.1 Error: no valid recipients\r\n");
                    continue;
                }
                say(fd, "354 End data with <CR><LF>.<CR><LF>\r\n");
                size_t bytes = 0;
                while ((n = rd_line(&r, line, sizeof(line))) > 0 && strcmp(line, ".\r\n") != 0)
                    bytes += n;
                snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as Q%zuR%d\r\n", bytes, rcpts);
                say(fd, reply);
                mail = false;
            } else if (strncasecmp(line, "RSET", 4) == 0) {
                mail = false;
                say(fd, "250 2.0.0 Ok\r\n");
            } else if (strncasecmp(line, "QUIT", 4) == 0) {
                say(fd, "221 2.0.0 Bye\r\n");
                break;
            } else {
                say(fd, "502 5.5.2 Error: command not recognized\r\n");
            }
        }
        close(fd);
    }
}

typedef struct collected {
    harness_inject_result r[8];
    size_t n;
} collected;

static void collect(void *ctx, const harness_inject_result *r)
{
    collected *c = ctx;
    assert_true(r->id < 8);
    c->r[r->id] = *r;
    c->n++;
}

/* Forks fake_server on a loopback port; its pid, and "127.0.0.1:PORT" in target. */
static pid_t fake_start(bool pipelining, char *target, size_t len)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 8), 0);
    socklen_t slen = sizeof(sa);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &slen), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        fake_server(ls, pipelining);
        _exit(0);
    }
    close(ls);
    snprintf(target, len, "127.0.0.1:%d", ntohs(sa.sin_port));
    return pid;
}

static void test_lock_step(void **state)
{
    (void)state;
    char target[64];
    pid_t pid = fake_start(false, target, sizeof(target));
    const char *targets[] = {target};
    collected got = {0};
    harness_inject_opts o = {.targets = targets, .ntargets = 1, .conns = 1, .timeout = 5 * (int64_t)1000000000,
                             .done = collect, .ctx = &got};
    char err[256] = "";
    harness_inject *inj = harness_inject_create(&o, err, sizeof(err));
    assert_non_null(inj);
    const char *two[] = {"good@example.test", "bad@example.test"};
    const char *bad[] = {"bad@example.test"};
    const char *one[] = {"good@example.test"};
    harness_inject_msg ms[] = {
        {.id = 0, .sender = "s@client.test", .rcpt = two, .nrcpt = 2, .size = 1000},
        {.id = 1, .sender = "s@client.test", .rcpt = bad, .nrcpt = 1, .size = 1000},
        {.id = 2, .sender = "s@client.test", .rcpt = one, .nrcpt = 1, .size = 5000}, /* after an RSET */
        {.id = 3, .sender = "", .rcpt = one, .nrcpt = 1, .size = 333},
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(harness_inject_submit(inj, &ms[i]), 0);
    int rc = harness_inject_run(inj, -1, err, sizeof(err));
    if (rc != 0)
        fail_msg("run: %s", err);
    assert_int_equal(got.n, 4);
    assert_true(got.r[0].ok);
    assert_int_equal(got.r[0].rcpt_accepted, 1);
    assert_string_equal(got.r[0].queue_id, "Q1000R1");
    assert_false(got.r[1].ok);
    assert_int_equal(got.r[1].rcpt_accepted, 0);
    assert_string_equal(got.r[1].reply, "550 5.1.1 <bad@example.test>: Recipient address rejected: User unknown");
    if (!got.r[2].ok)
        fail_msg("message after a refused one: %s", got.r[2].reply);
    assert_string_equal(got.r[2].queue_id, "Q5000R1");
    assert_true(got.r[3].ok);
    assert_string_equal(got.r[3].queue_id, "Q333R1");
    harness_inject_stats st;
    harness_inject_get_stats(inj, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.ok, 3);
    assert_int_equal(st.failed, 1);
    harness_inject_free(inj);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A message of thousands of recipients goes in one transaction, pipelined or in lock-step, every
 * RCPT answered and counted (a replay's private Postfix is told to take them all). */
static void test_thousands_of_recipients(void **state)
{
    (void)state;
    static const struct {
        bool pipelining;
        uint32_t nrcpt;
    } cases[] = {{true, 5000}, {false, 5000}, {true, 65535}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char target[64];
        pid_t pid = fake_start(cases[k].pipelining, target, sizeof(target));
        const char *targets[] = {target};
        collected got = {0};
        harness_inject_opts o = {.targets = targets, .ntargets = 1, .conns = 1, .timeout = 20 * (int64_t)1000000000,
                                 .done = collect, .ctx = &got};
        char err[256] = "";
        harness_inject *inj = harness_inject_create(&o, err, sizeof(err));
        assert_non_null(inj);
        uint32_t n = cases[k].nrcpt;
        char **rcpt = calloc(n, sizeof(*rcpt));
        for (uint32_t i = 0; i < n; i++) {
            rcpt[i] = malloc(32);
            snprintf(rcpt[i], 32, "u1.%u@example.test", i);
        }
        harness_inject_msg m = {.id = 1, .sender = "s@client.test", .rcpt = (const char *const *)rcpt, .nrcpt = n,
                                .size = 2000};
        assert_int_equal(harness_inject_submit(inj, &m), 0);
        if (harness_inject_run(inj, -1, err, sizeof(err)) != 0)
            fail_msg("case %zu: run: %s", k, err);
        assert_int_equal(got.n, 1);
        if (!got.r[1].ok)
            fail_msg("case %zu: %s", k, got.r[1].reply);
        assert_int_equal(got.r[1].rcpt_accepted, n);
        char want[64];
        snprintf(want, sizeof(want), "Q2000R%u", n);
        assert_string_equal(got.r[1].queue_id, want);
        for (uint32_t i = 0; i < n; i++)
            free(rcpt[i]);
        free(rcpt);
        harness_inject_free(inj);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_multiline),
        cmocka_unit_test(test_reply_malformed),
        cmocka_unit_test(test_reply_printable_and_bounded),
        cmocka_unit_test(test_queue_id),
        cmocka_unit_test(test_message_build),
        cmocka_unit_test(test_create_and_submit_checks),
        cmocka_unit_test(test_lock_step),
        cmocka_unit_test(test_thousands_of_recipients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
