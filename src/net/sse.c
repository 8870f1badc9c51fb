/* SPDX-License-Identifier: MIT */
/* sse.c: see sse.h. */
#include "net/sse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

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

/* ---- the model name in answers ------------------------------------------------- */

void sse_rename_init(struct sse_rename *s, const char *name)
{
    struct buf b = BUF_INIT;
    buf_add_json_str(&b, name);
    memset(s, 0, sizeof(*s));
    s->value = buf_detach(&b, NULL);
    s->prev = '{';
    /* held is allocated when a key is first cut by a read boundary: most
     * answers never need it. */
}

void sse_rename_release(struct sse_rename *s)
{
    free(s->value);
    free(s->held);
    memset(s, 0, sizeof(*s));
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum match { M_NO, M_PARTIAL, M_YES };

/*
 * At p (a '"' that follows '{' or ','): is this `"model" : "value"`?
 * On M_YES, *vstart and *vend delimit the old value, quotes included.
 */
static enum match match_key(const char *p, const char *end, const char **vstart,
                            const char **vend)
{
    static const char key[] = "\"model\"";
    size_t n = (size_t)(end - p);
    size_t k = sizeof(key) - 1;
    if (n < k)
        return memcmp(p, key, n) ? M_NO : M_PARTIAL;
    if (memcmp(p, key, k))
        return M_NO;
    const char *q = p + k;
    while (q < end && is_ws(*q))
        q++;
    if (q == end)
        return M_PARTIAL;
    if (*q++ != ':')
        return M_NO;
    while (q < end && is_ws(*q))
        q++;
    if (q == end)
        return M_PARTIAL;
    if (*q != '"')
        return M_NO;
    *vstart = q++;
    for (; q < end; q++) {
        if (*q == '\\') {
            if (++q == end)
                return M_PARTIAL;
        } else if (*q == '"') {
            /* Longer than can be held when cut by a read boundary: not
             * renamed whole either, so that the answer's bytes never
             * depend on where the reads fell (fuzz_sse found this). */
            if ((size_t)(q + 1 - p) > SSE_RENAME_HOLD)
                return M_NO;
            *vend = q + 1;
            return M_YES;
        }
    }
    return M_PARTIAL;
}

/* Passes on [p, end), rewriting; returns where it stopped (the start of a
 * possible key cut by the end), which is end when nothing is left over. */
static const char *rename_run(struct sse_rename *s, const char *p, const char *end,
                              struct buf *out)
{
    /* From quote to quote (memchr): what matters is the last character
     * that is not white space before each quote. */
    const char *from = p;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *b = q ? q : end;
        while (b > p && is_ws(b[-1]))
            b--;
        if (b > p)
            s->prev = b[-1];
        if (!q)
            break;
        if (s->prev == '{' || s->prev == ',') {
            const char *vs = NULL, *ve = NULL;
            enum match m = match_key(q, end, &vs, &ve);
            if (m == M_PARTIAL) {
                buf_add(out, from, (size_t)(q - from));
                return q;
            }
            if (m == M_YES) {
                buf_add(out, from, (size_t)(vs - from));
                buf_addstr(out, s->value);
                s->prev = '"';
                p = from = ve;
                continue;
            }
        }
        s->prev = '"';
        p = q + 1;
    }
    buf_add(out, from, (size_t)(end - from));
    return end;
}

void sse_rename_feed(struct sse_rename *s, const char *p, size_t n, struct buf *out)
{
    if (s->nheld) {
        /* Finish the held key with as few new bytes as it needs: only the
         * held bytes and the first bytes of p are copied, never all of p. */
        size_t take = SSE_RENAME_HOLD - s->nheld;
        if (take > n)
            take = n;
        memcpy(s->held + s->nheld, p, take);
        size_t total = s->nheld + take;
        /* The key was cut, so what came before it set prev to '{' or ','. */
        const char *vs = NULL, *ve = NULL;
        enum match m = match_key(s->held, s->held + total, &vs, &ve);
        if (m == M_PARTIAL && total < SSE_RENAME_HOLD) {
            s->nheld = total; /* all of p is held */
            return;
        }
        size_t used; /* bytes of held+p consumed */
        if (m == M_YES) {
            buf_add(out, s->held, (size_t)(vs - s->held));
            buf_addstr(out, s->value);
            s->prev = '"';
            used = (size_t)(ve - s->held);
        } else {
            /* Not a key, or too long to hold: the quote goes on as it is. */
            buf_addch(out, '"');
            s->prev = '"';
            used = 1;
        }
        size_t held = s->nheld;
        s->nheld = 0;
        if (used < held) {
            /* Rescan the rest of what was held, then p. */
            char *rest = xmemdup(s->held + used, held - used);
            sse_rename_feed(s, rest, held - used, out);
            free(rest);
            sse_rename_feed(s, p, n, out);
            return;
        }
        p += used - held;
        n -= used - held;
    }
    const char *end = p + n;
    const char *stop = rename_run(s, p, end, out);
    if (stop < end) {
        s->nheld = (size_t)(end - stop);
        if (s->nheld > SSE_RENAME_HOLD) {
            /* Cannot be: a partial match is found only near the end, but a
             * long value can be; pass the quote on and go on. */
            s->nheld = 0;
            buf_addch(out, '"');
            s->prev = '"';
            sse_rename_feed(s, stop + 1, (size_t)(end - stop - 1), out);
            return;
        }
        if (!s->held)
            s->held = xmalloc(SSE_RENAME_HOLD);
        memcpy(s->held, stop, s->nheld);
    }
}

void sse_rename_flush(struct sse_rename *s, struct buf *out)
{
    if (s->nheld)
        buf_add(out, s->held, s->nheld);
    s->nheld = 0;
}
