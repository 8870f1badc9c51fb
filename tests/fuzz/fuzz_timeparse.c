/*
 * libFuzzer harness for time words in searches (text/timeparse.c): the
 * input is a search text ("restaurant ninne", "last week's bills") and a
 * --since/--until value, at a fixed "now" and time zone.
 *
 *   make build/fuzz/fuzz_timeparse && build/fuzz/fuzz_timeparse tests/fuzz/timeparse
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "text/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    const int64_t now = 1795000000000; /* 2026-11-18 */
    struct buf rest = BUF_INIT, err = BUF_INIT;
    int64_t since, until, pt;
    int tz;
    timeparse_extract(s, now, 330, &rest, &since, &until);
    if (rest.len > size)
        __builtin_trap(); /* the rest is the text with words cut out */
    timeparse_point(s, now, 330, size & 1, &pt, &err);
    timeparse_tz_parse(s, &tz);
    buf_release(&rest);
    buf_release(&err);
    free(s);
    return 0;
}
