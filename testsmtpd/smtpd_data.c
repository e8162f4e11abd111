/*
 * smtpd_data - the DATA scanner (smtpd_data.h).
 *
 * A four-state machine over the input: at a line start, after a dot at a line start, after ".\r" at
 * a line start, inside a line. Inside a line it jumps from LF to LF with memchr, so plain content costs
 * about a memchr per line and one emit per read; only the rare dotted lines and a CR held back after a
 * dot cut the run. The states carry across calls, so where a read ends does not matter.
 */
#include "testsmtpd/smtpd_data.h"

#include <string.h>

enum {
    SMTPD_DATA_BOL,   /* at the start of a line */
    SMTPD_DATA_DOT,   /* a '.' at the start of a line (dropped: dot-unstuffing) */
    SMTPD_DATA_DOTCR, /* ".\r" at the start of a line (the CR held back until we know it is not the end) */
    SMTPD_DATA_TEXT,  /* inside a line */
};

void smtpd_data_start(smtpd_data *d, size_t max_line, uint64_t max_size)
{
    *d = (smtpd_data){.max_size = max_size, .max_line = max_line, .state = SMTPD_DATA_BOL, .crlf = true};
}

static void smtpd_data_emit(smtpd_data *d, const char *p, size_t n, void (*emit)(void *, const char *, size_t),
                            void *ctx)
{
    if (n == 0)
        return;
    d->size += n;
    if (d->max_size > 0 && d->size > d->max_size)
        d->too_big = true;
    if (!smtpd_data_refused(d) && emit != NULL)
        emit(ctx, p, n);
}

static void smtpd_data_line_length(smtpd_data *d)
{
    if (d->max_line > 0 && d->line > d->max_line)
        d->long_line = true;
}

size_t smtpd_data_scan(smtpd_data *d, const char *p, size_t len, void (*emit)(void *ctx, const char *p, size_t n),
                       void *ctx, bool *end)
{
    size_t i = 0, run = 0; /* p[run..i) is content not yet emitted */
    *end = false;
    while (i < len) {
        switch (d->state) {
        case SMTPD_DATA_BOL:
            d->line = 0;
            if (p[i] == '.') {
                smtpd_data_emit(d, p + run, i - run, emit, ctx);
                d->line = 1;
                run = ++i;
                d->state = SMTPD_DATA_DOT;
            } else {
                d->last_cr = false;
                d->state = SMTPD_DATA_TEXT;
            }
            break;
        case SMTPD_DATA_DOT:
            if (p[i] == '\r') {
                d->line++;
                run = ++i;
                d->state = SMTPD_DATA_DOTCR;
            } else {
                d->last_cr = false;
                d->state = SMTPD_DATA_TEXT;
            }
            break;
        case SMTPD_DATA_DOTCR:
            if (p[i] == '\n' && d->crlf) {
                *end = true;
                return i + 1;
            }
            smtpd_data_emit(d, "\r", 1, emit, ctx);
            d->last_cr = true;
            d->state = SMTPD_DATA_TEXT;
            break;
        default: { /* SMTPD_DATA_TEXT */
            const char *nl = memchr(p + i, '\n', len - i);
            size_t stop = nl ? (size_t)(nl - p) : len;
            d->line += stop - i;
            if (stop > i)
                d->last_cr = p[stop - 1] == '\r';
            if (nl == NULL) {
                smtpd_data_line_length(d);
                i = len;
                break;
            }
            d->line++;
            smtpd_data_line_length(d);
            d->crlf = d->last_cr;
            if (!d->crlf && !d->bare_lf) {
                smtpd_data_emit(d, p + run, stop - run, emit, ctx); /* what came before is still good */
                run = stop;
                d->bare_lf = true;
            }
            i = stop + 1;
            d->state = SMTPD_DATA_BOL;
            break;
        }
        }
    }
    smtpd_data_emit(d, p + run, i - run, emit, ctx);
    return i;
}
