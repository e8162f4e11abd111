/*
 * smtpd_data - the DATA scanner: message content in, dot-unstuffed content out, without buffering.
 *
 * RFC 5321 4.5.2: a line starting with "." has it doubled on the wire; the server drops the first
 * dot. The content ends at CR LF . CR LF, and only there: a line ended by a bare LF never ends it (and
 * refuses the message at its end, RFC 5321 2.3.8), so a second message cannot be smuggled inside the
 * first. The scanner also counts the size and each line's raw length, and stops passing content on
 * once the message is refused anyway (too big, a bare LF, a line too long), so nothing it keeps grows
 * with the message.
 */
#ifndef SMTPD_DATA_H
#define SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct smtpd_data {
    uint64_t size;      /* content bytes so far (dot-unstuffed, line ends as sent) */
    uint64_t max_size;  /* beyond it content is counted, not passed on; 0 = no limit */
    size_t max_line;    /* raw bytes per line with its CR LF; 0 = no limit */
    size_t line;        /* raw bytes of the current line */
    uint8_t state;
    bool crlf;          /* the previous line ended with CR LF */
    bool last_cr;       /* the last byte of the current line so far was a CR */
    bool bare_lf, too_big, long_line; /* reasons to refuse the message at its end */
} smtpd_data;

/* After the 354: a new message. */
void smtpd_data_start(smtpd_data *d, size_t max_line, uint64_t max_size);

/*
 * Scans len bytes. Content goes to emit in runs as long as the input allows (cut only around a
 * stuffed dot), and only while the message can still be accepted. Returns the bytes consumed: all of
 * them, or up to and including the final CR LF . CR LF, when *end is set.
 */
size_t smtpd_data_scan(smtpd_data *d, const char *p, size_t len, void (*emit)(void *ctx, const char *p, size_t n),
                       void *ctx, bool *end);

/* Whether the message must be refused: bare LF, too big, or a line too long (in that order of blame). */
static inline bool smtpd_data_refused(const smtpd_data *d) { return d->bare_lf || d->too_big || d->long_line; }

#endif
