/*
 * harness_text - a growing text buffer: the generated main.cf, master.cf, transport map and the
 * imported YAML are each built here line by line, then handed over as one string.
 */
#include "harness/harness_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_mem.h"

void harness_text_append(harness_text *t, const char *s, size_t n)
{
    t->s = sim_xgrow(t->s, &t->cap, t->len + n + 1, 1, 256);
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void harness_text_printf(harness_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        sim_panic(__func__, "bad format '%s'", fmt);
    t->s = sim_xgrow(t->s, &t->cap, t->len + (size_t)n + 1, 1, 256);
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *harness_text_take(harness_text *t)
{
    char *s = t->s ? t->s : sim_xstrdup("");
    memset(t, 0, sizeof(*t));
    return s;
}

void harness_text_clear(harness_text *t)
{
    free(t->s);
    memset(t, 0, sizeof(*t));
}

int harness_text_write_file(const char *path, const char *text)
{
    size_t n = strlen(path) + 5;
    char *tmp = sim_xmalloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int e = 0;
    if (!f) {
        e = -errno;
    } else {
        size_t len = strlen(text);
        if (fwrite(text, 1, len, f) != len)
            e = -errno;
        if (fclose(f) != 0 && !e)
            e = -errno;
        if (!e && rename(tmp, path) != 0)
            e = -errno;
        if (e)
            remove(tmp);
    }
    free(tmp);
    return e;
}
