/*
 * smtpd_log - the JSON-lines event log (smtpd_log.h).
 *
 * Formatting is hand-written rather than through jansson: an event is formatted for every command and
 * reply of every session, and building a json_t tree per line would allocate on the hot path. The
 * escaping is the small part of JSON a log needs: quotes, backslashes, and everything outside
 * printable ASCII as \u00XX (bytes, not code points: a client may send any octets).
 */
#include "testsmtpd/smtpd_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMTPD_LOG_BUF (64 * 1024)
#define SMTPD_LOG_LINE 8192

struct smtpd_log {
    int fd;
    bool own_fd;
    size_t len;
    char buf[SMTPD_LOG_BUF];
};

smtpd_log *smtpd_log_create(const char *path, int *err)
{
    int fd = strcmp(path, "-") == 0 ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    smtpd_log *l = malloc(sizeof(*l));
    if (!l) {
        if (fd != STDOUT_FILENO)
            close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    l->fd = fd;
    l->own_fd = fd != STDOUT_FILENO;
    l->len = 0;
    return l;
}

void smtpd_log_free(smtpd_log *l)
{
    if (!l)
        return;
    smtpd_log_flush(l);
    if (l->own_fd)
        close(l->fd);
    free(l);
}

int smtpd_log_flush(smtpd_log *l)
{
    size_t off = 0;
    int rc = 0;
    while (off < l->len) {
        ssize_t w = write(l->fd, l->buf + off, l->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno; /* a full disk loses log lines, never mail: drop them */
            break;
        }
        off += (size_t)w;
    }
    l->len = 0;
    return rc;
}

typedef struct smtpd_log_out {
    char *p;
    size_t len, cap; /* cap keeps room for the closing "}\n" */
} smtpd_log_out;

static void smtpd_log_raw(smtpd_log_out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len)
        n = o->cap - o->len;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void smtpd_log_str(smtpd_log_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    smtpd_log_raw(o, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[6];
        size_t n;
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\', esc[1] = (char)*c, n = 2;
        } else if (*c < 0x20 || *c > 0x7e) {
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*c >> 4], esc[5] = hex[*c & 15];
            n = 6;
        } else {
            esc[0] = (char)*c, n = 1;
        }
        if (o->len + n + 1 > o->cap) /* keep room for the closing quote; cut whole escapes only */
            break;
        smtpd_log_raw(o, esc, n);
    }
    if (o->len < o->cap)
        o->p[o->len++] = '"';
}

size_t smtpd_log_format(char *buf, size_t cap, const smtpd_log_event *e)
{
    char num[96];
    smtpd_log_out o = {.p = buf, .len = 0, .cap = cap - 2};
    sim_time_t t = e->t < 0 ? 0 : e->t;
    int n = snprintf(num, sizeof(num), "{\"t\": %" PRId64 ".%06" PRId64 ", \"session\": %" PRIu64 ", \"receiver\": ",
                     t / SIM_SEC, t % SIM_SEC, e->session);
    smtpd_log_raw(&o, num, (size_t)n);
    smtpd_log_str(&o, e->receiver ? e->receiver : "");
    smtpd_log_raw(&o, ", \"peer\": ", 10);
    smtpd_log_str(&o, e->peer ? e->peer : "");
    smtpd_log_raw(&o, ", \"event\": ", 11);
    smtpd_log_str(&o, e->event);
    if (e->sha256) {
        n = snprintf(num, sizeof(num), ", \"size\": %" PRIu64 ", \"sha256\": ", e->size);
        smtpd_log_raw(&o, num, (size_t)n);
        smtpd_log_str(&o, e->sha256);
    }
    if (e->rule) {
        smtpd_log_raw(&o, ", \"rule\": ", 10);
        smtpd_log_str(&o, e->rule);
    }
    /* The text last: it is the only part that can be long, and cutting it keeps the rest. */
    if (e->text) {
        smtpd_log_raw(&o, ", \"text\": ", 10);
        smtpd_log_str(&o, e->text);
    }
    buf[o.len++] = '}';
    buf[o.len++] = '\n';
    return o.len;
}

void smtpd_log_write(smtpd_log *l, const smtpd_log_event *e)
{
    if (!l)
        return;
    if (l->len + SMTPD_LOG_LINE > sizeof(l->buf))
        smtpd_log_flush(l);
    l->len += smtpd_log_format(l->buf + l->len, SMTPD_LOG_LINE, e);
}
