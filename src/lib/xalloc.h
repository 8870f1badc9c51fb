/* SPDX-License-Identifier: MIT */
/*
 * xalloc: allocation that cannot fail, and the BUG/ASSERT macros.
 *
 * hermod treats running out of memory as fatal: every x*alloc function aborts
 * with a message instead of returning NULL, so callers never test for it.
 * What keeps memory bounded is not this module but the byte limits on every
 * buffer that a peer (client, engine, child process) can fill.
 *
 * BUG() and ASSERT() stay on in release builds. They are for states that
 * cannot happen unless hermod itself is wrong; an ASSERT never has side
 * effects.
 */
#ifndef HERMOD_XALLOC_H
#define HERMOD_XALLOC_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* xstrndup: copies at most n bytes of s and terminates the copy. */
char *xstrndup(const char *s, size_t n);
/* xmemdup: copies n bytes of p and adds a terminating NUL. */
void *xmemdup(const void *p, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

/* Number of elements of a true array (not of a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Grows *arr (of *cap elements) so that it holds at least n elements. */
#define ALLOC_GROW(arr, n, cap)                                                \
    do {                                                                       \
        if ((n) > (cap)) {                                                     \
            size_t ag_new_ = (cap) ? (cap) * 2 : 8;                            \
            if (ag_new_ < (n))                                                 \
                ag_new_ = (n);                                                 \
            (arr) = xrealloc((arr), ag_new_ * sizeof(*(arr)));                 \
            (cap) = ag_new_;                                                   \
        }                                                                      \
    } while (0)

#define container_of(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

__attribute__((noreturn, format(printf, 3, 4))) void bug_fl(const char *file, int line,
                                                             const char *fmt, ...);
#define BUG(...) bug_fl(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            bug_fl(__FILE__, __LINE__, "assertion failed: %s", #cond);          \
    } while (0)

/* The standard headers whose functions banned.h redefines come first, so
 * their own declarations are not mangled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/banned.h"

#endif
