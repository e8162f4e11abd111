/*
 * policy_reply - the replies a policy sends: validation of configured reply texts and the expansion of
 * their %h, %i, %r, %d place holders (see policy_reply.h).
 */
#include "models/policy_reply.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool policy_isdigit(char c) { return c >= '0' && c <= '9'; }

/* Skips 1-3 digits; NULL when there are none or more. */
static const char *policy_skip_digits(const char *s)
{
    int n = 0;
    while (policy_isdigit(s[n]) && n < 4)
        n++;
    return n >= 1 && n <= 3 ? s + n : NULL;
}

/*
 * Checks a reply (see policy_reply.h). Returns its code, or 0 after writing why into why[].
 */
int policy_reply_parse(const char *r, char *why, size_t whylen)
{
    if (r == NULL || !policy_isdigit(r[0]) || !policy_isdigit(r[1]) || !policy_isdigit(r[2]) || r[0] < '2' ||
        r[0] > '5' || r[1] > '5') {
        snprintf(why, whylen, "a reply starts with a three-digit code from 200 to 559");
        return 0;
    }
    int code = (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0');
    const char *line = r;
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c > 0x7e) {
                snprintf(why, whylen, "a reply is printable US-ASCII (character 0x%02x at offset %zu)", c,
                         (size_t)(line - r) + i);
                return 0;
            }
        }
        if (strncmp(line, r, 3) != 0) {
            snprintf(why, whylen, "every line of a multi-line reply starts with the same code %.3s", r);
            return 0;
        }
        char sep = len > 3 ? line[3] : '\0';
        if (nl != NULL && sep != '-') {
            snprintf(why, whylen, "all lines but the last of a multi-line reply start with \"%.3s-\"", r);
            return 0;
        }
        if (nl == NULL && sep != ' ' && sep != '\0') {
            snprintf(why, whylen, "the code is followed by a space (\"-\" only before another line)");
            return 0;
        }
        if (len > POLICY_REPLY_LINE_MAX) {
            snprintf(why, whylen, "a reply line is at most %d characters", POLICY_REPLY_LINE_MAX);
            return 0;
        }
        /* An enhanced status code, if the text starts with something like one, must be one. */
        const char *t = line + 4;
        if (len > 4 && policy_isdigit(*t) && memchr(t, '.', strcspn(t, " \t\n")) != NULL) {
            const char *q = policy_skip_digits(t);
            if (q != NULL && *q == '.')
                q = policy_skip_digits(q + 1);
            if (q != NULL && *q == '.')
                q = policy_skip_digits(q + 1);
            if (q == NULL || (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\0') || q - t < 5 || t[1] != '.') {
                snprintf(why, whylen, "malformed enhanced status code (class.subject.detail, e.g. 4.7.0)");
                return 0;
            }
            if (t[0] != r[0] || r[0] == '3') {
                snprintf(why, whylen, "the enhanced status code's class %c does not match the reply code %d",
                         t[0], code);
                return 0;
            }
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return code;
}

/* Appends v, with characters a reply line must not carry replaced; returns the new length. */
static size_t policy_put(char *out, size_t n, const char *v, size_t vlen)
{
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (out != NULL)
            out[n] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
        n++;
    }
    return n;
}

/* Expands tmpl into out (NULL: measure only); returns the length without the NUL. */
size_t policy_reply_expand(char *out, const char *tmpl, const char *host, const char *ip, const char *rcpt)
{
    const char *addr = "", *domain = "";
    size_t alen = 0;
    if (rcpt != NULL) {
        size_t len = strlen(rcpt);
        addr = rcpt;
        if (len >= 2 && rcpt[0] == '<' && rcpt[len - 1] == '>') {
            addr++;
            len -= 2;
        }
        alen = len;
        const char *at = NULL;
        for (size_t i = 0; i < len; i++)
            if (addr[i] == '@')
                at = addr + i;
        domain = at != NULL ? at + 1 : addr + alen;
    }
    size_t dlen = (size_t)(addr + alen - domain);
    size_t n = 0;
    for (const char *s = tmpl; *s; s++) {
        if (*s == '%') {
            switch (s[1]) {
            case 'h': n = policy_put(out, n, host, strlen(host)); s++; continue;
            case 'i': n = policy_put(out, n, ip, strlen(ip)); s++; continue;
            case 'r': n = policy_put(out, n, addr, alen); s++; continue;
            case 'd': n = policy_put(out, n, domain, dlen); s++; continue;
            case '%': s++; break;
            default: break;
            }
        }
        if (out != NULL)
            out[n] = *s;
        n++;
    }
    if (out != NULL)
        out[n] = '\0';
    return n;
}
