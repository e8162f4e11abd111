/*
 * mta_record - names of delivery statuses and message outcomes, as Postfix logs them.
 */
#include "models/mta_record.h"

#include <stdio.h>
#include <string.h>

const char *mta_status_name(mta_status s)
{
    static const char *const names[] = {"sent", "deferred", "bounced", "expired"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *mta_outcome_name(mta_outcome o)
{
    static const char *const names[] = {"delivered", "bounced", "queued"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}

void mta_record_queue_id(uint32_t host, uint64_t msg_id, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    uint64_t x = msg_id * 0x9E3779B97F4A7C15ull + host * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    if (len < 11) {
        if (len)
            buf[0] = 0;
        return;
    }
    for (int i = 9; i >= 0; i--, x >>= 4)
        buf[i] = hex[x & 15];
    buf[10] = 0;
}

static size_t put_u64(char *out, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++)
        out[k] = d[n - 1 - k];
    return n;
}

void mta_record_rcpt(uint64_t msg_id, uint32_t i, const char *domain, char *buf, size_t len)
{
    size_t dl = strlen(domain);
    if (len < dl + 48) { /* a buffer too small for the fast path: let snprintf truncate */
        if (i == 0)
            snprintf(buf, len, "u%llu@%s", (unsigned long long)msg_id, domain);
        else
            snprintf(buf, len, "u%llu.%u@%s", (unsigned long long)msg_id, i, domain);
        return;
    }
    size_t n = 0;
    buf[n++] = 'u';
    n += put_u64(buf + n, msg_id);
    if (i > 0) {
        buf[n++] = '.';
        n += put_u64(buf + n, i);
    }
    buf[n++] = '@';
    memcpy(buf + n, domain, dl + 1);
}

