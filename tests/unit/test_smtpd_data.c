/*
 * test_smtpd_data - the DATA scanner: dot-unstuffing, the end of data, bare LF, size and line limits.
 *
 * Each case is wire bytes in and content out, with where the scan must stop and what it must flag;
 * every case runs with the input fed whole and cut into pieces of 1, 2, 3 and 7 bytes, since a read
 * may end anywhere (between CR and LF, after the dot of the final line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "testsmtpd/smtpd_data.h"

typedef struct data_case {
    const char *name;
    const char *in;
    size_t inlen;        /* 0: strlen(in) */
    const char *content; /* expected content passed on (NULL: none expected, message refused) */
    size_t used;         /* bytes consumed: through the end of data, or all when there is none */
    bool end;
    bool bare_lf, too_big, long_line;
    uint64_t size;       /* counted content size */
    size_t max_line;
    uint64_t max_size;
} data_case;

#define S(x) x, sizeof(x) - 1

static const data_case cases[] = {
    {"empty message", S(".\r\n"), "", 3, true, .size = 0},
    {"one line", S("hello\r\n.\r\n"), "hello\r\n", 10, true, .size = 7},
    {"stuffed dots", S("..\r\n..x\r\n...\r\nend.\r\n.\r\n"), ".\r\n.x\r\n..\r\nend.\r\n", 23, true, .size = 17},
    {"a dot line without its dot stuffed", S(".x\r\n.\r\n"), "x\r\n", 7, true, .size = 3},
    {"bytes after the end are left", S("a\r\n.\r\nQUIT\r\n"), "a\r\n", 6, true, .size = 3},
    {"no end yet", S("a\r\nb\r\n"), "a\r\nb\r\n", 6, false, .size = 6},
    {"a dot and CR that are no end", S(".\rx\r\n.\r\n"), "\rx\r\n", 8, true, .size = 4},
    {"a dot at the end of the input", S("a\r\n."), "a\r\n", 4, false, .size = 3},
    {"dot in the middle of a line", S("a.b\r\n.\r\n"), "a.b\r\n", 8, true, .size = 5},
    {"NUL and 8-bit content", "x\0\xe9\r\n.\r\n", 8, "x\0\xe9\r\n", 8, true, .size = 5},
    {"bare LF refuses", S("one\ntwo\r\n.\r\n"), "one", 12, true, .bare_lf = true, .size = 9},
    {"LF . LF is no end", S("a\r\n.\nb\r\n.\r\n"), "a\r\n", 11, true, .bare_lf = true, .size = 7},
    {"CR LF . LF is no end, smuggling", S("a\r\n.\nMAIL FROM:<x>\r\n.\r\n"), "a\r\n", 23, true, .bare_lf = true,
     .size = 19},
    {"bare LF then dot CR LF is no end", S("a\n.\r\nb\r\n.\r\n"), "a", 11, true, .bare_lf = true, .size = 7},
    {"line at the limit", S("abcdefgh\r\n.\r\n"), "abcdefgh\r\n", 13, true, .size = 10, .max_line = 10},
    {"line over the limit", S("abcdefghi\r\n.\r\n"), NULL, 14, true, .long_line = true, .size = 11, .max_line = 10},
    {"stuffed line counted raw", S("..bcdefgh\r\n.\r\n"), NULL, 14, true, .long_line = true, .size = 10,
     .max_line = 10},
    {"size at the limit", S("abc\r\n.\r\n"), "abc\r\n", 8, true, .size = 5, .max_size = 5},
    {"size over the limit", S("abcd\r\n.\r\n"), NULL, 9, true, .too_big = true, .size = 6, .max_size = 5},
};

typedef struct sink {
    char out[256];
    size_t len;
} sink;

static void collect(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    assert_true(n > 0);
    assert_true(k->len + n <= sizeof(k->out));
    memcpy(k->out + k->len, p, n);
    k->len += n;
}

static void run_case(const data_case *c, size_t piece)
{
    size_t len = c->inlen ? c->inlen : strlen(c->in);
    smtpd_data d;
    sink k = {.len = 0};
    smtpd_data_start(&d, c->max_line, c->max_size);
    size_t used = 0;
    bool end = false;
    while (used < len && !end) {
        size_t n = piece && piece < len - used ? piece : len - used;
        size_t u = smtpd_data_scan(&d, c->in + used, n, collect, &k, &end);
        assert_true(u == n || end);
        used += u;
    }
    if (used != c->used || end != c->end || d.bare_lf != c->bare_lf || d.too_big != c->too_big ||
        d.long_line != c->long_line || d.size != c->size)
        fail_msg("%s (pieces of %zu): used %zu end %d bare_lf %d too_big %d long_line %d size %llu", c->name, piece,
                 used, end, d.bare_lf, d.too_big, d.long_line, (unsigned long long)d.size);
    /* Whatever was passed on before a message became too big, never more than the limit. */
    if (c->too_big && k.len > c->max_size)
        fail_msg("%s (pieces of %zu): %zu bytes passed on beyond the limit", c->name, piece, k.len);
    if (c->content != NULL) {
        /* An accepted message's content is all of it (NULs included); a refused one's is what came
         * before the reason was seen. */
        size_t cl = smtpd_data_refused(&d) ? strlen(c->content) : (size_t)c->size;
        if (k.len != cl || memcmp(k.out, c->content, cl) != 0)
            fail_msg("%s (pieces of %zu): content '%.*s' (%zu bytes)", c->name, piece, (int)k.len, k.out, k.len);
    }
    assert_true(smtpd_data_refused(&d) == (c->bare_lf || c->too_big || c->long_line));
}

static void test_cases(void **state)
{
    (void)state;
    static const size_t pieces[] = {0, 1, 2, 3, 7};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++)
            run_case(&cases[i], pieces[p]);
}

/* Plain content goes out in one run per read: the scanner neither copies nor splits it. */
typedef struct counter {
    int calls;
    const char *first;
    size_t bytes;
} counter;

static void count(void *ctx, const char *p, size_t n)
{
    counter *c = ctx;
    if (c->calls++ == 0)
        c->first = p;
    c->bytes += n;
}

static void test_one_run_per_read(void **state)
{
    (void)state;
    char in[4096];
    size_t n = 0;
    while (n + 12 < sizeof(in))
        n += (size_t)snprintf(in + n, sizeof(in) - n, "line %04zu\r\n", n);
    smtpd_data d;
    counter c = {0};
    bool end;
    smtpd_data_start(&d, 1000, 0);
    assert_int_equal(smtpd_data_scan(&d, in, n, count, &c, &end), n);
    assert_false(end);
    assert_int_equal(c.calls, 1);
    assert_ptr_equal(c.first, in);
    assert_int_equal(c.bytes, n);
    assert_int_equal(d.size, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_one_run_per_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
