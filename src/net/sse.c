/* SPDX-License-Identifier: MIT */
/* sse.c: see sse.h. */
#include "net/sse.h"

#include <string.h>

#include "lib/xalloc.h"

void sse_scan_init(struct sse_scan *s)
{
    memset(s, 0, sizeof(*s));
}

static void end_line(struct sse_scan *s)
{
    unsigned n = s->headlen;
    const char *h = s->head;
    if (n && h[n - 1] == '\r')
        n--;
    if (n >= 5 && !memcmp(h, "data:", 5)) {
        const char *v = h + 5;
        unsigned vl = n - 5;
        if (vl && *v == ' ') {
            v++;
            vl--;
        }
        /* Only the first bytes are kept; [DONE] fits, and a line that was
         * longer than that was not a [DONE] line. */
        if (vl == 6 && !memcmp(v, "[DONE]", 6) && s->headlen < sizeof(s->head))
            s->saw_done = true;
        else
            s->saw_done = false;
        if (vl >= 8 && !memcmp(v, "{\"error\"", 8))
            s->saw_error = true;
        s->events++;
    }
    s->headlen = 0;
}

void sse_scan_feed(struct sse_scan *s, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t take = (size_t)(stop - p);
        size_t room = sizeof(s->head) - s->headlen;
        if (take > room)
            take = room;
        memcpy(s->head + s->headlen, p, take);
        s->headlen += (unsigned)take;
        if (s->headlen == sizeof(s->head) && (size_t)(stop - p) > take)
            s->headlen = sizeof(s->head); /* overflow: saturate */
        if (!nl)
            break;
        end_line(s);
        p = nl + 1;
    }
}
