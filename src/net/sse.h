/* SPDX-License-Identifier: MIT */
/*
 * sse: a watcher over a server-sent-events byte stream.
 *
 * hermod relays an engine's stream byte for byte, without re-framing it;
 * this scanner only looks at the bytes on their way through, to learn
 * whether the stream ended properly ("data: [DONE]") and how many events
 * it carried. It keeps a few bytes of state, whatever the line lengths,
 * so a hostile engine cannot make it allocate.
 */
#ifndef HERMOD_SSE_H
#define HERMOD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sse_scan {
    char head[16];     /* the first bytes of the current line */
    unsigned headlen;
    bool saw_done;     /* a "data: [DONE]" line was seen */
    bool saw_error;    /* a data line carrying {"error": ...} was seen */
    uint64_t events;   /* data lines seen */
};

void sse_scan_init(struct sse_scan *s);
void sse_scan_feed(struct sse_scan *s, const char *p, size_t n);

#endif
