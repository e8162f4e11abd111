/*
 * fuzz_smtpd_data - the DATA scanner on any content, cut anywhere. The first two bytes choose the
 * line and size limits, the third a chunk length; the rest is what a client sends after the 354.
 * Scanned whole and scanned in chunks, the scanner must end at the same place (right after the first
 * CR LF . CR LF whose line began with CR LF), refuse the same messages and, for those it accepts,
 * emit the same bytes;
 * what it emits is never more than it consumed, never holds the terminator, and while the message
 * is accepted its size is what it emitted.
 */
#include <string.h>

#include "fuzz.h"
#include "testsmtpd/smtpd_data.h"

typedef struct sink {
    char *p;
    size_t n, cap;
} sink;

static void emit(void *ctx, const char *p, size_t n)
{
    sink *s = ctx;
    if (s->n + n > s->cap) {
        size_t cap = (s->n + n) * 2;
        char *np = realloc(s->p, cap);
        fuzz_check(np != NULL, "out of memory");
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
}

/* Scans in chunks of step bytes (0: all at once); returns the bytes consumed up to the end. */
static size_t scan(const uint8_t *in, size_t len, size_t step, size_t max_line, uint64_t max_size, sink *out,
                   smtpd_data *d, bool *end)
{
    smtpd_data_start(d, max_line, max_size);
    size_t pos = 0;
    *end = false;
    while (pos < len && !*end) {
        size_t n = step ? (len - pos < step ? len - pos : step) : len - pos;
        size_t used = smtpd_data_scan(d, (const char *)in + pos, n, emit, out, end);
        fuzz_check(used <= n, "consumed %zu of %zu", used, n);
        fuzz_check(used == n || *end, "stopped at %zu of %zu without an end", used, n);
        pos += used;
    }
    return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t max_line = data[0] ? (size_t)data[0] * 8 : 0;
    uint64_t max_size = data[1] ? (uint64_t)data[1] * 64 : 0;
    size_t step = data[2] % 17 + 1;
    const uint8_t *in = data + 3;
    size_t len = size - 3;
    sink whole = {0}, cut = {0};
    smtpd_data dw, dc;
    bool ew, ec;
    size_t uw = scan(in, len, 0, max_line, max_size, &whole, &dw, &ew);
    size_t uc = scan(in, len, step, max_line, max_size, &cut, &dc, &ec);
    fuzz_check(uw == uc && ew == ec, "whole: %zu %d, cut by %zu: %zu %d", uw, ew, step, uc, ec);
    /* a refused message's content is dropped, and the scanner may learn it is refused (a line too
     * long) only after passing some on: what it emitted is compared for accepted ones */
    fuzz_check(smtpd_data_refused(&dw) ||
                   (whole.n == cut.n && (whole.n == 0 || memcmp(whole.p, cut.p, whole.n) == 0)),
               "emitted %zu bytes whole, %zu cut by %zu", whole.n, cut.n, step);
    fuzz_check(smtpd_data_refused(&dw) == smtpd_data_refused(&dc) && dw.size == dc.size,
               "refused %d/%d, size %llu/%llu", smtpd_data_refused(&dw), smtpd_data_refused(&dc),
               (unsigned long long)dw.size, (unsigned long long)dc.size);
    fuzz_check(whole.n <= uw, "emitted %zu of %zu consumed", whole.n, uw);
    if (ew) {
        fuzz_check(uw >= 3 && memcmp(in + uw - 3, ".\r\n", 3) == 0, "ended without the terminator");
        fuzz_check(!smtpd_data_refused(&dw) ? whole.n == dw.size : 1, "size %llu, emitted %zu",
                   (unsigned long long)dw.size, whole.n);
    }
    free(whole.p);
    free(cut.p);
    return 0;
}
