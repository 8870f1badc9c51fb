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

/*
 * sse_rename: puts the client's model name into an engine's answer.
 *
 * Engines answer with their own name for the model (llama-server: the
 * file path; NIM: "nvidia/..."); a client must see the name it sent. The
 * renamer rewrites the value of every JSON object key "model" whose value
 * is a string, in a JSON body or in SSE events, as the bytes pass, without
 * parsing the JSON: a key is a "model" string preceded by '{' or ',' (white
 * space aside), which no string's inside can fake, since a quote inside a
 * string is escaped. Bytes that may be the start of such a key, cut by a
 * read boundary, are held back until the next feed or the flush; at most
 * SSE_RENAME_HOLD bytes are held, so a key and value longer than that go
 * through as they came, wherever the reads fall. Every other byte goes
 * through unchanged and in order.
 */
#define SSE_RENAME_HOLD 1024

struct buf;
struct sse_rename {
    char *value;      /* the client's name as a JSON string literal, quotes included */
    char prev;        /* the last byte passed on that was not white space */
    char *held;       /* bytes held back (at most SSE_RENAME_HOLD) */
    size_t nheld;
};

/* name is copied. Release with sse_rename_release. */
void sse_rename_init(struct sse_rename *s, const char *name);
void sse_rename_release(struct sse_rename *s);
/* Appends to out what can be passed on of what came before and p[0..n). */
void sse_rename_feed(struct sse_rename *s, const char *p, size_t n, struct buf *out);
/* Appends whatever is still held (the end of the answer). */
void sse_rename_flush(struct sse_rename *s, struct buf *out);

#endif
