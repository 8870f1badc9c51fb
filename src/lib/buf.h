/* SPDX-License-Identifier: MIT */
/*
 * buf: a growable byte buffer, always NUL-terminated after its contents.
 *
 * A small value type: the fields may be read directly, but only the
 * functions below change them. `data` is NULL until something is added;
 * buf_cstr() never returns NULL.
 *
 * A buf has no limit of its own. Code that fills one from a peer checks
 * buf.len against its own limit before adding (see http.c and upstream.c),
 * so a client or an engine can never make hermod allocate without bound.
 */
#ifndef HERMOD_BUF_H
#define HERMOD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
/* Frees the contents; the buf is left initialised and empty. */
void buf_release(struct buf *b);
/* Empties the buf but keeps its allocation. */
void buf_reset(struct buf *b);
/* Ensures room for `extra` more bytes (plus the NUL). */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
__attribute__((format(printf, 2, 3))) void buf_addf(struct buf *b, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Appends n in decimal (no printf: this is on every request's path). */
void buf_add_u64(struct buf *b, uint64_t n);
/* Appends the strings given (no printf either): buf_addstrs(b, "a", s, "c"). */
#define buf_addstrs(b, ...) buf_addstrs_((b), __VA_ARGS__, (const char *)NULL)
void buf_addstrs_(struct buf *b, ...);
/* Appends s as a JSON string literal, quotes included. */
void buf_add_json_str(struct buf *b, const char *s);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Truncates to n bytes (n <= len). */
void buf_setlen(struct buf *b, size_t n);
/* Returns the contents and leaves the buf empty; caller frees. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);
static inline const char *buf_cstr(const struct buf *b)
{
    return b->data ? b->data : "";
}

#endif
