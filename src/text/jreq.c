/*
 * text/jreq.c: the relay's look at a request body, with yajl's event
 * parser (see jreq.h).
 *
 * The scan follows the depth; at depth 1 (directly in the top-level
 * object) it notes which of "model", "stream" and "hermod" the key was,
 * and the kind of the value that follows. yajl_get_bytes_consumed(), asked
 * inside a callback, is the offset just past the token that callback is
 * for: after the "model" key's token and after its string value's token.
 * The value's first byte is found from the key's end (space, colon,
 * space), so its span never depends on reading escapes backwards.
 */
#include "text/jreq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"

#define DEPTH_MAX 512  /* deeper: jansson decides (its limit is 2048) */
#define NUMBER_MAX 18  /* longer numbers, and exponents: jansson decides (range) */

enum key { K_NONE, K_MODEL, K_STREAM, K_OTHER };

struct scan {
    yajl_handle h;
    const char *p;
    size_t n;
    struct jreq *q;
    unsigned depth;
    enum key key;      /* the depth-1 key whose value comes next */
    size_t key_end;    /* just past that key's token */
    bool object;       /* the top-level value is an object */
    size_t end;        /* just past it, once closed */
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A value directly in the top-level object. */
static void top_value(struct scan *s, enum jreq_kind k)
{
    if (s->depth != 1)
        return;
    if (s->key == K_MODEL) {
        free(s->q->model);
        s->q->model = NULL;
        s->q->model_kind = k;
    } else if (s->key == K_STREAM) {
        s->q->stream_kind = k;
    }
    s->key = K_NONE;
}

/* A scalar; none may stand alone at the top. */
static int scalar(struct scan *s, enum jreq_kind k)
{
    if (!s->depth)
        return 0;
    top_value(s, k);
    return 1;
}

static int on_null(void *ctx)
{
    return scalar(ctx, JREQ_NULL);
}

static int on_boolean(void *ctx, int b)
{
    return scalar(ctx, b ? JREQ_TRUE : JREQ_FALSE);
}

static int on_number(void *ctx, const char *num, size_t len)
{
    if (len > NUMBER_MAX || memchr(num, 'e', len) || memchr(num, 'E', len))
        return 0;
    return scalar(ctx, JREQ_OTHER);
}

static int on_string(void *ctx, const unsigned char *str, size_t len)
{
    struct scan *s = ctx;
    if (memchr(str, '\0', len) || !s->depth)
        return 0;
    if (s->depth != 1 || s->key != K_MODEL)
        return scalar(s, JREQ_STRING);
    size_t end = yajl_get_bytes_consumed(s->h);
    size_t at = s->key_end;
    while (at < end && is_ws(s->p[at]))
        at++;
    if (at >= end || s->p[at++] != ':')
        return 0;
    while (at < end && is_ws(s->p[at]))
        at++;
    if (end > s->n || at + 2 > end || s->p[at] != '"' || s->p[end - 1] != '"')
        return 0;
    top_value(s, JREQ_STRING);
    s->q->model = xstrndup((const char *)str, len);
    s->q->model_off = at;
    s->q->model_end = end;
    return 1;
}

static int open_(struct scan *s, bool map)
{
    if (!s->depth) {
        if (!map)
            return 0;
        s->object = true;
    } else {
        top_value(s, JREQ_OTHER);
    }
    return ++s->depth <= DEPTH_MAX;
}

static int on_start_map(void *ctx)
{
    return open_(ctx, true);
}

static int on_start_array(void *ctx)
{
    return open_(ctx, false);
}

static int on_end(void *ctx)
{
    struct scan *s = ctx;
    if (--s->depth == 0)
        s->end = yajl_get_bytes_consumed(s->h);
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct scan *s = ctx;
    if (memchr(key, '\0', len))
        return 0;
    if (s->depth != 1)
        return 1;
    s->key = K_OTHER;
    if (len == 5 && !memcmp(key, "model", 5))
        s->key = K_MODEL;
    else if (len == 6 && !memcmp(key, "stream", 6))
        s->key = K_STREAM;
    else if (len == 6 && !memcmp(key, "hermod", 6))
        s->q->has_hermod = true;
    s->key_end = yajl_get_bytes_consumed(s->h);
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* Whether any byte of w is b (the classic SWAR test). */
static inline bool has_byte(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (0x0101010101010101ull * b);
    return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) != 0;
}

/*
 * Where yajl is laxer than jansson, on the bytes themselves: yajl lets
 * overlong UTF-8 forms through, takes form feed and vertical tab for white
 * space, and writes '?' for a lone surrogate escape that jansson refuses.
 * A body with any of these (or with any surrogate escape: an escaped
 * emoji, say) goes to jansson; raw control characters cannot be in a
 * string, so jansson refuses the first two.
 */
static bool plain(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    while (s < end) {
        /* Eight plain ASCII bytes at a time: most of a request. */
        if (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (!(w & 0x8080808080808080ull) && !has_byte(w, '\f') && !has_byte(w, '\v') &&
                !has_byte(w, '\\')) {
                s += 8;
                continue;
            }
        }
        if (*s < 0x80) {
            if (*s == '\f' || *s == '\v' ||
                (*s == '\\' && end - s > 2 && s[1] == 'u' && (s[2] | 0x20) == 'd'))
                return false;
            /* An escape's second byte is never a backslash that starts one. */
            s += *s == '\\' && end - s > 1 && s[1] == '\\' ? 2 : 1;
            continue;
        }
        int32_t cp;
        s += utf8_decode(s, (size_t)(end - s), &cp);
        if (cp == UTF8_INVALID)
            return false;
    }
    return true;
}

/*
 * yajl's memory for one scan (its handle, lexer, buffer and stack: ~2.5 KB
 * for most requests) comes from the scan's own stack frame; what does not
 * fit, from the heap. Each block is preceded by its size, for realloc.
 */
#define ARENA_SIZE 4096
#define ARENA_HDR 16

struct arena {
    _Alignas(16) unsigned char mem[ARENA_SIZE];
    size_t used;
};

static bool in_arena(const struct arena *a, const void *p)
{
    return (const unsigned char *)p >= a->mem && (const unsigned char *)p < a->mem + ARENA_SIZE;
}

static void *arena_malloc(void *ctx, size_t n)
{
    struct arena *a = ctx;
    size_t need = ARENA_HDR + ((n + 15) & ~(size_t)15);
    if (n < ARENA_SIZE && a->used + need <= ARENA_SIZE) {
        unsigned char *p = a->mem + a->used;
        memcpy(p, &n, sizeof(n));
        a->used += need;
        return p + ARENA_HDR;
    }
    return xmalloc(n ? n : 1);
}

static void arena_free(void *ctx, void *p)
{
    if (p && !in_arena(ctx, p))
        free(p);
}

static void *arena_realloc(void *ctx, void *p, size_t n)
{
    if (!p)
        return arena_malloc(ctx, n);
    if (!in_arena(ctx, p))
        return xrealloc(p, n ? n : 1);
    size_t old;
    memcpy(&old, (unsigned char *)p - ARENA_HDR, sizeof(old));
    if (n <= old)
        return p;
    void *q = arena_malloc(ctx, n);
    memcpy(q, p, old);
    return q;
}

void jreq_release(struct jreq *q)
{
    free(q->model);
    memset(q, 0, sizeof(*q));
}

int jreq_scan(const char *p, size_t n, struct jreq *q)
{
    memset(q, 0, sizeof(*q));
    if (!n || !plain(p, n))
        return -1;
    struct scan s = {.p = p, .n = n, .q = q};
    struct arena a;
    a.used = 0;
    yajl_alloc_funcs af = {arena_malloc, arena_realloc, arena_free, &a};
    s.h = yajl_alloc(&callbacks, &af, &s);
    if (!s.h)
        return -1;
    bool ok = yajl_parse(s.h, (const unsigned char *)p, n) == yajl_status_ok &&
              yajl_complete_parse(s.h) == yajl_status_ok && s.object && s.end;
    yajl_free(s.h);
    /* yajl leaves an unfinished token after the object unread (`{}"`):
     * only white space may follow. */
    for (size_t i = s.end; ok && i < n; i++)
        ok = is_ws(p[i]);
    if (!ok) {
        jreq_release(q);
        return -1;
    }
    return 0;
}
